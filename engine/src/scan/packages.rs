//! Installed-package databases: Debian's dpkg `status` file (and the
//! `status.d/` directory distroless images use), and Alpine's apk `installed`
//! database, turned into a package list with package URLs for SBOM checks.

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: Option<String>,
    /// `dpkg` or `apk`.
    pub source: &'static str,
    pub purl: String,
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

/// A package with its purl (`pkg:<purl_type>/<distro>/<name>@<version>?arch=`).
fn package(
    source: &'static str,
    purl_type: &str,
    distro: &str,
    name: &str,
    version: &str,
    arch: Option<&str>,
) -> Package {
    let purl = format!(
        "pkg:{purl_type}/{distro}/{}@{}{}",
        encode(name),
        encode(version),
        arch.map(|a| format!("?arch={}", encode(a))).unwrap_or_default()
    );
    Package { name: name.into(), version: version.into(), arch: arch.map(str::to_string), source, purl }
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
            Some(package("dpkg", "deb", distro, name, version, field(&p, "Architecture")))
        })
        .collect()
}

/// apk `lib/apk/db/installed`: paragraphs of `P:` name, `V:` version, `A:` arch.
pub fn parse_apk(text: &str, distro: &str) -> Vec<Package> {
    paragraphs(text)
        .filter_map(|p| {
            let name = field(&p, "P")?;
            let version = field(&p, "V")?;
            Some(package("apk", "apk", distro, name, version, field(&p, "A")))
        })
        .collect()
}

/// `ID=` of an os-release file.
pub fn os_id(text: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix("ID=")).map(|v| v.trim().trim_matches('"').to_string())
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
        let apk = "C:Q1x\nP:musl\nV:1.1.22-r3\nA:x86_64\n\nP:busybox\nV:1.30.1-r2\nA:x86_64\n";
        let a = parse_apk(apk, "alpine");
        assert_eq!(a.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["musl", "busybox"]);
        assert_eq!(os_id("NAME=\"Debian\"\nID=debian\n").as_deref(), Some("debian"));
    }
}
