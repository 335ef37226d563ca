//! Installed-package databases: Debian's dpkg `status` file (and the
//! `status.d/` directory distroless images use), and Alpine's apk `installed`
//! database, turned into a package list with package URLs for SBOM checks
//! (naming the source package as syft does, so SBOMs can be compared).

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: Option<String>,
    /// `dpkg` or `apk`.
    pub source: &'static str,
    pub purl: String,
    /// The source package it was built from and that source's version
    /// (Debian `Source:`, Alpine origin `o:`); the binary package's own name
    /// and version when it names none. Debian and Alpine advisories name
    /// source packages.
    pub source_name: String,
    pub source_version: String,
}

fn paragraphs(text: &str) -> impl Iterator<Item = Vec<(&str, &str)>> {
    text.split("\n\n").map(|p| {
        p.lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with('\t'))
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect::<Vec<_>>()
    })
}

fn field<'a>(p: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' | b'+' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect::<Vec<_>>()
        .join("")
        .replace('+', "%2B")
}

/// The source package a binary was built from, as syft writes it in the
/// `upstream` qualifier: the name when it differs from the binary's, with
/// `@version` when the versions differ (a binNMU); `None` when the package is
/// its own source.
fn upstream(name: &str, version: &str, source: Option<&str>) -> Option<String> {
    // dpkg: `Source: openssl` or `Source: glibc (2.36-9+deb12u4)`.
    let source = source?.trim();
    let (src, src_version) = match source.split_once('(') {
        Some((n, v)) => (n.trim(), Some(v.trim_end_matches(')').trim())),
        None => (source, None),
    };
    match src_version.filter(|v| !v.is_empty() && *v != version) {
        Some(v) if !src.is_empty() => Some(format!("{src}@{v}")),
        _ if !src.is_empty() && src != name => Some(src.to_string()),
        _ => None,
    }
}

/// A package with its purl (`pkg:<purl_type>/<distro>/<name>@<version>?arch=&upstream=`).
fn package(
    source: &'static str,
    purl_type: &str,
    distro: &str,
    name: &str,
    version: &str,
    arch: Option<&str>,
    built_from: Option<&str>,
) -> Package {
    let mut qualifiers = Vec::new();
    if let Some(a) = arch {
        qualifiers.push(format!("arch={}", encode(a)));
    }
    if let Some(u) = upstream(name, version, built_from) {
        qualifiers.push(format!("upstream={}", encode(&u)));
    }
    let query = if qualifiers.is_empty() { String::new() } else { format!("?{}", qualifiers.join("&")) };
    let purl = format!("pkg:{purl_type}/{distro}/{}@{}{query}", encode(name), encode(version));
    let (source_name, source_version) = match built_from.map(str::trim).filter(|s| !s.is_empty()) {
        Some(src) => match src.split_once('(') {
            Some((n, v)) => (n.trim().to_string(), v.trim_end_matches(')').trim().to_string()),
            None => (src.to_string(), version.to_string()),
        },
        None => (name.to_string(), version.to_string()),
    };
    Package {
        name: name.into(),
        version: version.into(),
        arch: arch.map(str::to_string),
        source,
        purl,
        source_name,
        source_version,
    }
}

/// dpkg `status` (or one `status.d/` file): installed packages only.
pub fn parse_dpkg(text: &str, distro: &str) -> Vec<Package> {
    paragraphs(text)
        .filter_map(|p| {
            let name = field(&p, "Package")?;
            let version = field(&p, "Version")?;
            // status.d files have no Status field; status files mark removals.
            if let Some(status) = field(&p, "Status")
                && !status.ends_with(" installed")
            {
                return None;
            }
            let (arch, built_from) = (field(&p, "Architecture"), field(&p, "Source"));
            Some(package("dpkg", "deb", distro, name, version, arch, built_from))
        })
        .collect()
}

/// apk `lib/apk/db/installed`: paragraphs of `P:` name, `V:` version, `A:` arch,
/// `o:` origin (the source package).
pub fn parse_apk(text: &str, distro: &str) -> Vec<Package> {
    paragraphs(text)
        .filter_map(|p| {
            let name = field(&p, "P")?;
            let version = field(&p, "V")?;
            Some(package("apk", "apk", distro, name, version, field(&p, "A"), field(&p, "o")))
        })
        .collect()
}

/// `ID=` of an os-release file.
pub fn os_id(text: &str) -> Option<String> {
    os_release(text, "ID")
}

/// A field of os-release (`ID`, `VERSION_ID`), unquoted.
pub fn os_release(text: &str, key: &str) -> Option<String> {
    let prefix = format!("{key}=");
    text.lines().find_map(|l| l.strip_prefix(prefix.as_str())).map(|v| v.trim().trim_matches(['"', '\'']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_and_apk() {
        let status = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u4\nDescription: x\n more\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n";
        let p = parse_dpkg(status, "debian");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].purl, "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64");
        // The source package, as syft writes it: a name, and a version when it differs.
        let status = "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\n\
                      Package: libcap2\nArchitecture: amd64\nVersion: 1:2.66-4+b1\nSource: libcap2 (1:2.66-4)\n\n\
                      Package: bash\nVersion: 5.2.15-2+b2\nSource: bash (5.2.15-2+b2)\n";
        let purls: Vec<String> = parse_dpkg(status, "debian").into_iter().map(|p| p.purl).collect();
        assert_eq!(
            purls,
            [
                "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=openssl",
                "pkg:deb/debian/libcap2@1%3A2.66-4%2Bb1?arch=amd64&upstream=libcap2%401%3A2.66-4",
                "pkg:deb/debian/bash@5.2.15-2%2Bb2",
            ]
        );
        let apk = "C:Q1x\nP:musl\nV:1.1.22-r3\nA:x86_64\no:musl\n\nP:libcrypto3\nV:3.1.4-r1\nA:x86_64\no:openssl\n";
        let a = parse_apk(apk, "alpine");
        assert_eq!(a.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["musl", "libcrypto3"]);
        assert_eq!(a[0].purl, "pkg:apk/alpine/musl@1.1.22-r3?arch=x86_64");
        assert_eq!(a[1].purl, "pkg:apk/alpine/libcrypto3@3.1.4-r1?arch=x86_64&upstream=openssl");
        assert_eq!(os_id("NAME=\"Debian\"\nID=debian\n").as_deref(), Some("debian"));
    }
}
