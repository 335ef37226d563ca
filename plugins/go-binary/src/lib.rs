//! Builtin plugin `go-binary`: the Go binary rules GO-BIN-001..010, judged
//! on every Go ELF of the image (the entrypoint included) from the ELF file
//! itself and the build information the Go toolchain embeds — not from what
//! the Dockerfile claims (`-ldflags` is omitted from build info under
//! `-trimpath`, so stripping and linking are read from the ELF).

use portcullis_sdk::image_scan::{self, Binary};
use portcullis_sdk::{
    Checker, Enforcement, Finding, Image, ParamProblem, ParamValue, Params, Plugin, PluginMeta, RuleConfig, RuleMeta,
    Severity, Target, go_version_cmp, semver_cmp, text_list,
};

pub struct GoBinaryPlugin;

const STATIC: &str = "GO-BIN-001";
const CGO: &str = "GO-BIN-002";
const GO_VERSION: &str = "GO-BIN-003";
const STRIPPED: &str = "GO-BIN-004";
const TRIMPATH: &str = "GO-BIN-005";
const UPX: &str = "GO-BIN-006";
const VCS: &str = "GO-BIN-007";
const DEBUG_ENDPOINTS: &str = "GO-BIN-008";
const DENIED_DEPS: &str = "GO-BIN-009";
const PLATFORM: &str = "GO-BIN-010";

impl Plugin for GoBinaryPlugin {
    fn metadata() -> PluginMeta {
        PluginMeta { name: "go-binary".into(), version: env!("CARGO_PKG_VERSION").into(), rules: rules() }
    }

    fn check(rules: Vec<RuleConfig>) -> Vec<ParamProblem> {
        let mut c = Checker::default();
        for r in &rules {
            c.non_empty_entries(r);
            c.text(r, "min_go_version", |v| {
                go_version_cmp(v, v)
                    .map(drop)
                    .ok_or_else(|| format!("`{v}` is not a Go version such as 1.22 or 1.22.3"))
            });
            c.entries(r, "deny", deny_entry);
        }
        c.problems
    }

    fn evaluate(target: Target, rules: Vec<RuleConfig>) -> Vec<Finding> {
        let image = match target {
            Target::Image(image) => image,
            Target::Artifact(_) => return portcullis_sdk::skip_all(&rules, portcullis_sdk::NOT_AN_IMAGE),
            Target::Workload(_) => return portcullis_sdk::skip_all(&rules, portcullis_sdk::NOT_JUDGED),
            Target::Index(_) => {
                return rules.iter().map(|r| Finding::skip(&r.id, "judged on each platform image")).collect();
            }
        };
        let bins = match image_scan::go_binaries() {
            Ok(b) => b,
            Err(why) => return rules.iter().map(|r| Finding::skip(&r.id, format!("not checked: {why}"))).collect(),
        };
        if bins.is_empty() {
            return rules.iter().map(|r| Finding::skip(&r.id, "no Go binary in the image")).collect();
        }
        rules.iter().flat_map(|r| judge(r, &image, &bins)).collect()
    }
}

#[cfg(target_arch = "wasm32")]
portcullis_sdk::export_plugin!(GoBinaryPlugin);

pub fn rules() -> Vec<RuleMeta> {
    let r = RuleMeta::new;
    vec![
        r(STATIC, "Statically linked", Severity::High, Enforcement::Enforce,
          "Every Go binary is statically linked: no ELF interpreter (PT_INTERP) and no shared-library dependency (DT_NEEDED), so it runs on scratch or distroless and carries no libc CVEs.",
          "Build with CGO_ENABLED=0 (or link statically) and check with `file`/`readelf -d`."),
        r(CGO, "Built with CGO_ENABLED=0", Severity::Medium, Enforcement::Enforce,
          "The build information records CGO_ENABLED=0.", "Set CGO_ENABLED=0 in the build stage."),
        r(GO_VERSION, "Built with a supported Go version", Severity::High, Enforcement::Enforce,
          "Every Go binary was built with at least the minimum Go version (older toolchains miss security fixes in the standard library).",
          "Rebuild with a current Go toolchain (`FROM golang:<current>` in the build stage).")
            .param("min_go_version", ParamValue::Text("1.22".into()), "The oldest acceptable Go version."),
        r(STRIPPED, "Stripped", Severity::Low, Enforcement::Enforce,
          "No `.symtab` and no `.debug_*`/`.zdebug_*` sections (`-ldflags='-s -w'`): smaller, and less to learn for an attacker. Read from the ELF, since -trimpath hides -ldflags from build info.",
          "Build with `-ldflags='-s -w'`."),
        r(TRIMPATH, "Built with -trimpath", Severity::Low, Enforcement::Enforce,
          "The build information records `-trimpath=true`: no build-machine paths in the binary, and reproducible builds.",
          "Build with `go build -trimpath`."),
        r(UPX, "Not UPX-packed", Severity::Medium, Enforcement::Enforce,
          "No UPX packing (`UPX!` magic, UPX sections): packed binaries defeat scanners, eBPF tracing and memory sharing.",
          "Ship the binary unpacked; use -ldflags='-s -w' to reduce size instead."),
        r(VCS, "Build is traceable", Severity::Low, Enforcement::Warn,
          "The build information records `vcs.revision` and `vcs.modified=false`: the binary comes from a known, clean commit.",
          "Build from a clean git checkout (`-buildvcs=true`, the default), with the .git directory available in the build stage."),
        r(DEBUG_ENDPOINTS, "No debug endpoints", Severity::Medium, Enforcement::Warn,
          "Neither `net/http/pprof` nor `expvar` is linked, and no `/debug/pprof/` route is present: they expose heap, goroutines and variables to anyone who can reach the port.",
          "Remove the `net/http/pprof` and `expvar` imports from production builds (use a build tag)."),
        r(DENIED_DEPS, "No denied module dependencies", Severity::High, Enforcement::Enforce,
          "No module in the build information matches the deny list (`path` or `path@<range>`, ranges like `<1.2.3`, `>=1.0.0,<1.4.2`).",
          "Upgrade or replace the module (`go get module@fixed-version`).")
            .param("deny", text_list(&[]), "Denied modules: `module/path` (any version) or `module/path@<range>`."),
        r(PLATFORM, "GOOS/GOARCH match the image platform", Severity::High, Enforcement::Enforce,
          "Build settings GOOS/GOARCH equal the image config's os/architecture: a mismatch fails with `exec format error`.",
          "Cross-compile with GOOS/GOARCH set from the target platform (`TARGETOS`/`TARGETARCH` in BuildKit)."),
    ]
}

fn setting<'a>(b: &'a Binary, key: &str) -> Option<&'a str> {
    b.go.as_ref()?.settings.iter().find(|kv| kv.key == key).map(|kv| kv.value.as_str())
}

/// One finding per rule: fail listing the offending binaries, else pass.
fn verdict(rule: &str, bins: &[Binary], check: impl Fn(&Binary) -> Result<String, String>) -> Finding {
    let mut bad = Vec::new();
    let mut good = Vec::new();
    for b in bins {
        match check(b) {
            Ok(m) => good.push(format!("{}: {m}", b.path)),
            Err(m) => bad.push((b.path.clone(), b.layer, format!("{}: {m}", b.path))),
        }
    }
    if let Some((path, layer, _)) = bad.first() {
        let msg = bad.iter().map(|(_, _, m)| m.as_str()).collect::<Vec<_>>().join("; ");
        Finding::fail(rule, msg).at_path(path.clone(), Some(*layer))
    } else {
        Finding::pass(rule, good.join("; "))
    }
}

fn judge(rule: &RuleConfig, image: &Image, bins: &[Binary]) -> Vec<Finding> {
    let p = Params::of(rule);
    let id = rule.id.as_str();
    let f = match id {
        STATIC => verdict(id, bins, |b| {
            if b.interpreter.is_none() && b.needed.is_empty() {
                Ok("no PT_INTERP, no DT_NEEDED".into())
            } else {
                Err(format!(
                    "PT_INTERP {}, DT_NEEDED {}",
                    b.interpreter.as_deref().unwrap_or("none"),
                    if b.needed.is_empty() { "none".into() } else { b.needed.join(", ") }
                ))
            }
        }),
        CGO => verdict(id, bins, |b| match setting(b, "CGO_ENABLED") {
            Some("0") => Ok("CGO_ENABLED=0".into()),
            Some(v) => Err(format!("CGO_ENABLED={v}")),
            None if b.go.is_some() => Err("CGO_ENABLED not recorded (built with cgo enabled by default?)".into()),
            None => Err("no Go build information".into()),
        }),
        GO_VERSION => {
            let min = p.text("min_go_version", "1.22");
            verdict(id, bins, |b| {
                let v = b.go.as_ref().map(|g| g.go_version.clone()).ok_or("no Go build information")?;
                match go_version_cmp(&v, &min) {
                    Some(std::cmp::Ordering::Less) => Err(format!("{v}, older than {min}")),
                    Some(_) => Ok(v),
                    None => Err(format!("cannot compare Go version `{v}` with {min}")),
                }
            })
        }
        STRIPPED => verdict(id, bins, |b| match (b.has_symtab, b.debug_sections.len()) {
            (false, 0) => Ok("no .symtab, no .debug_*".into()),
            (true, 0) => Err(".symtab".into()),
            (s, n) => Err(format!("{}{n} .debug_* sections", if s { ".symtab, " } else { "" })),
        }),
        TRIMPATH => verdict(id, bins, |b| match setting(b, "-trimpath") {
            Some("true") => Ok("-trimpath=true".into()),
            other => Err(format!("-trimpath={}", other.unwrap_or("(absent)"))),
        }),
        UPX => verdict(id, bins, |b| if b.upx { Err("UPX-packed".into()) } else { Ok("no UPX magic/sections".into()) }),
        VCS => verdict(id, bins, |b| match (setting(b, "vcs.revision"), setting(b, "vcs.modified")) {
            (Some(rev), Some("false")) => Ok(format!("vcs.revision={rev}, vcs.modified=false")),
            (Some(_), Some(m)) => Err(format!("vcs.modified={m}: built from a dirty tree")),
            (Some(_), None) => Err("vcs.modified not recorded".into()),
            (None, _) => Err("no vcs.revision in build information".into()),
        }),
        DEBUG_ENDPOINTS => verdict(id, bins, |b| {
            let hits: Vec<&str> = b
                .links
                .iter()
                .map(String::as_str)
                .filter(|l| matches!(*l, "net/http/pprof" | "expvar" | "/debug/pprof/"))
                .collect();
            if hits.is_empty() {
                Ok("no pprof/expvar symbols or /debug/pprof/ strings".into())
            } else {
                Err(format!("{} linked", hits.join(", ")))
            }
        }),
        DENIED_DEPS => {
            let deny = p.text_list("deny");
            verdict(id, bins, |b| {
                let Some(go) = &b.go else { return Ok("no build information".into()) };
                let mods = go.deps.iter().chain(go.main.iter());
                let hits: Vec<String> = mods
                    .filter_map(|m| {
                        deny.iter()
                            .find(|d| denied(d, &m.path, &m.version))
                            .map(|d| format!("{}@{} (denied by `{d}`)", m.path, m.version))
                    })
                    .collect();
                if hits.is_empty() {
                    Ok(format!("{} dep lines; none denied", go.deps.len()))
                } else {
                    Err(hits.join(", "))
                }
            })
        }
        PLATFORM => {
            let (os, arch) = (image.config.os.clone(), image.config.architecture.clone());
            verdict(id, bins, |b| match (setting(b, "GOOS"), setting(b, "GOARCH")) {
                (Some(o), Some(a)) if o == os && a == arch => Ok(format!("GOOS/GOARCH={o}/{a}, image {os}/{arch}")),
                (Some(o), Some(a)) => Err(format!("GOOS/GOARCH={o}/{a}, but the image is {os}/{arch}")),
                _ if b.goarch == arch => Ok(format!("no GOOS/GOARCH recorded; ELF is {}", b.goarch)),
                _ => Err(format!("no GOOS/GOARCH recorded and the ELF is {}, the image {arch}", b.goarch)),
            })
        }
        other => Finding::error(other, format!("go-binary does not implement rule {other}")),
    };
    vec![f]
}

/// Whether a deny-list entry can be used: a module path, and constraints
/// each an operator and a version [`denied`] can compare.
fn deny_entry(entry: &str) -> Result<(), String> {
    let (path, range) = match entry.split_once('@') {
        Some((p, r)) => (p.trim(), Some(r)),
        None => (entry.trim(), None),
    };
    if path.is_empty() || path.contains(char::is_whitespace) {
        return Err(format!("`{entry}`: `{path}` is not a module path"));
    }
    for c in range.into_iter().flat_map(|r| r.split(',')) {
        let c = c.trim();
        let v = ["<=", ">=", "<", ">", "="].iter().find_map(|op| c.strip_prefix(op)).unwrap_or(c).trim();
        if semver_cmp(v, v).is_none() {
            return Err(format!("`{entry}`: `{c}` is not a version constraint such as <1.2.3 or >=v0.9.0"));
        }
    }
    Ok(())
}

/// `entry` is `module/path` (any version) or `module/path@<constraints>`,
/// constraints being comma-separated `<`, `<=`, `>`, `>=`, `=` versions.
fn denied(entry: &str, path: &str, version: &str) -> bool {
    let (p, range) = match entry.split_once('@') {
        Some((p, r)) => (p.trim(), Some(r.trim())),
        None => (entry.trim(), None),
    };
    if p != path {
        return false;
    }
    let Some(range) = range else { return true };
    range.split(',').all(|c| {
        let c = c.trim();
        let (op, v) = ["<=", ">=", "<", ">", "="]
            .iter()
            .find_map(|op| c.strip_prefix(op).map(|v| (*op, v.trim())))
            .unwrap_or(("=", c));
        match semver_cmp(version, v) {
            Some(o) => match op {
                "<" => o.is_lt(),
                "<=" => o.is_le(),
                ">" => o.is_gt(),
                ">=" => o.is_ge(),
                _ => o.is_eq(),
            },
            None => true, // unparsable versions are treated as matching: fail closed
        }
    })
}

#[cfg(test)]
mod tests {
    use super::denied;

    #[test]
    fn deny_list_ranges() {
        assert!(denied("golang.org/x/net", "golang.org/x/net", "v0.1.0"));
        assert!(denied("golang.org/x/net@<0.23.0", "golang.org/x/net", "v0.17.0"));
        assert!(!denied("golang.org/x/net@<0.23.0", "golang.org/x/net", "v0.23.0"));
        assert!(denied("x/y@>=1.0.0,<1.4.2", "x/y", "v1.4.1"));
        assert!(!denied("x/y@>=1.0.0,<1.4.2", "x/y", "v0.9.0"));
        assert!(!denied("x/z", "x/y", "v1.0.0"));
    }
}
