//! Which contract a component was built for, and whether this host speaks
//! it: read from the names of its imports and exports before anything is
//! linked or instantiated.
//!
//! Why not leave it to the linker: its refusals name a missing function of
//! a mismatched instance, not the cause. A component built for another
//! version of `portcullis:policy` is refused with both versions named; one
//! importing an interface the contract does not grant (a network socket
//! API of its own, another package) is refused with that import named.

/// The contract this host speaks (`wit/policy.wit`).
pub const PACKAGE: &str = "portcullis:policy";
pub const VERSION: (u64, u64, u64) = (0, 4, 4);

/// The interfaces of the contract a plugin may import.
const GRANTED: [&str; 6] = ["types", "filesystem", "image-scan", "sboms", "signatures", "vulnerabilities"];

pub fn version_text() -> String {
    format!("{}.{}.{}", VERSION.0, VERSION.1, VERSION.2)
}

/// `ns:pkg/iface@1.2.3` → (`ns:pkg`, `iface`, `1.2.3`).
fn split(name: &str) -> Option<(&str, &str, Option<&str>)> {
    let (package, rest) = name.split_once('/')?;
    let (iface, version) = match rest.split_once('@') {
        Some((i, v)) => (i, Some(v)),
        None => (rest, None),
    };
    Some((package, iface, version))
}

fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// Whether a component built for `v` links against this host: the same
/// minor of 0.x (the same major otherwise), and not newer than the host.
fn compatible(v: &str) -> bool {
    let Some((major, minor, patch)) = parse_version(v) else { return false };
    let (hm, hn, hp) = VERSION;
    match major {
        0 => hm == 0 && minor == hn && patch <= hp,
        _ => major == hm && (minor, patch) <= (hn, hp),
    }
}

/// Checks the names of a component's imports and exports against the
/// contract: the `portcullis:policy` version its `plugin` export is built
/// for, or a reason naming the version or the import at fault.
pub fn check(imports: &[String], exports: &[String]) -> Result<String, String> {
    let host = version_text();
    // An unversioned export is no version this host speaks.
    let plugin_export = exports
        .iter()
        .filter_map(|e| split(e))
        .find(|(p, i, _)| *p == PACKAGE && *i == "plugin")
        .map(|(_, _, v)| v.unwrap_or("").to_string());
    let Some(version) = plugin_export else {
        return Err(format!(
            "it exports no `{PACKAGE}/plugin` interface, so it is not a Portcullis plugin (its exports: {})",
            if exports.is_empty() { "none".to_string() } else { exports.join(", ") }
        ));
    };
    if !compatible(&version) {
        return Err(format!(
            "it was built for {PACKAGE}@{version}; this host speaks {PACKAGE}@{host} (plugins built for {}.{}.0 to {host} load): rebuild it against wit/policy.wit of this release",
            VERSION.0, VERSION.1
        ));
    }
    for import in imports {
        match split(import) {
            Some((PACKAGE, iface, v)) => {
                if !GRANTED.contains(&iface) {
                    return Err(format!("it imports `{import}`, which {PACKAGE}@{host} does not define"));
                }
                if let Some(v) = v
                    && !compatible(v)
                {
                    return Err(format!(
                        "it imports `{import}`, built for {PACKAGE}@{v}; this host speaks {PACKAGE}@{host}"
                    ));
                }
            }
            // WASI preview 2: the sandbox provides it (with no network,
            // files or environment); the linker checks the details.
            Some((package, _, _)) if package.starts_with("wasi:") => {}
            _ => {
                return Err(format!(
                    "it imports `{import}`, which the contract does not grant (a plugin may import {PACKAGE}/{{{}}} and WASI preview 2)",
                    GRANTED.join(",")
                ));
            }
        }
    }
    Ok(version)
}

/// The names of a compiled component's imports and exports.
pub fn names(component: &wasmtime::component::Component, runtime: &wasmtime::Engine) -> (Vec<String>, Vec<String>) {
    let ty = component.component_type();
    let imports = ty.imports(runtime).map(|(n, _)| n.to_string()).collect();
    let exports = ty.exports(runtime).map(|(n, _)| n.to_string()).collect();
    (imports, exports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_version_is_the_wit_packages() {
        let wit = include_str!("../../../wit/policy.wit");
        assert!(wit.contains(&format!("package {PACKAGE}@{};", version_text())), "wit/policy.wit changed version");
    }

    #[test]
    fn versions_and_imports() {
        let ok = check(
            &s(&["portcullis:policy/filesystem@0.4.0", "wasi:io/streams@0.2.6"]),
            &s(&["portcullis:policy/plugin@0.4.1"]),
        );
        assert_eq!(ok.unwrap(), "0.4.1");
        let newer = check(&[], &s(&["portcullis:policy/plugin@0.4.9"])).unwrap_err();
        assert!(
            newer.contains("built for portcullis:policy@0.4.9; this host speaks portcullis:policy@0.4.4"),
            "{newer}"
        );
        let other = check(&[], &s(&["portcullis:policy/plugin@0.3.0"])).unwrap_err();
        assert!(other.contains("@0.3.0"), "{other}");
        let extra = check(&s(&["acme:net/sockets@1.0.0"]), &s(&["portcullis:policy/plugin@0.4.3"])).unwrap_err();
        assert!(extra.contains("imports `acme:net/sockets@1.0.0`, which the contract does not grant"), "{extra}");
        let undefined =
            check(&s(&["portcullis:policy/network@0.4.3"]), &s(&["portcullis:policy/plugin@0.4.3"])).unwrap_err();
        assert!(undefined.contains("does not define"), "{undefined}");
        let none = check(&[], &s(&["wasi:cli/run@0.2.0"])).unwrap_err();
        assert!(none.contains("not a Portcullis plugin"), "{none}");
    }
}
