//! Package identity, for SC-SBOM-002 and SC-SBOM-004: two package URLs name
//! the same package when they mean the same, not when they are the same text.
//!
//! - Normalisation as the purl specification defines it: the type is
//!   case-insensitive, and so are the namespace and the name of the types
//!   whose definitions say so (`deb`, `apk`, `golang`, ...); every component
//!   is percent-decoded; qualifier keys are case-insensitive, their order
//!   does not matter, and an empty value is an absent qualifier. The
//!   `packageurl` crate parses and decodes; its case folding is incomplete
//!   (an all-capitals name is left as it is, `apk` is not folded), so the
//!   folding is done here, from the type definitions.
//! - Source packages: a binary package built from a source package of
//!   another name (or version) names it in the `upstream` qualifier, as syft
//!   writes it — `upstream=openssl`, `upstream=foo@1.2-3` when the binary's
//!   version differs (Debian binNMUs), `upstream=curl-7.50.3-1.fc25.src.rpm`
//!   for RPMs.
//! - Epochs: an RPM's `epoch` qualifier is its version's epoch (`1:7.50.3`).

use std::collections::BTreeMap;

/// Types whose namespace is case-insensitive.
const FOLDED_NAMESPACE: &[&str] = &["alpm", "apk", "bitbucket", "composer", "deb", "github", "golang", "rpm"];
/// Types whose name is case-insensitive.
const FOLDED_NAME: &[&str] =
    &["alpm", "apk", "bitbucket", "composer", "deb", "github", "golang", "hex", "npm", "oci", "pypi"];

/// The source package a binary package was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    /// Only when it differs from the binary package's version.
    pub version: Option<String>,
}

/// A package URL, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    pub ty: String,
    pub namespace: Option<String>,
    pub name: String,
    /// With the epoch of an `epoch` qualifier.
    pub version: Option<String>,
    pub qualifiers: BTreeMap<String, String>,
    pub source: Option<Source>,
}

impl Purl {
    /// Parses and normalises a package URL; the error says why it is not one.
    pub fn parse(text: &str) -> Result<Purl, String> {
        // The scheme is case-insensitive too; `packageurl` wants it lower case.
        let text = text.trim();
        let lowered;
        let text = match text.get(..4) {
            Some(s) if s.eq_ignore_ascii_case("pkg:") && s != "pkg:" => {
                lowered = format!("pkg:{}", &text[4..]);
                lowered.as_str()
            }
            _ => text,
        };
        // An `@` right after a `/` starts a segment (an npm scope), it does
        // not end the name; the spec wants it encoded, and `packageurl`
        // would take it for the version separator otherwise.
        let encoded;
        let text = if text.contains("/@") {
            encoded = text.replace("/@", "/%40");
            encoded.as_str()
        } else {
            text
        };
        let p: packageurl::PackageUrl = text.parse().map_err(|e: packageurl::Error| e.to_string())?;
        let ty = p.ty().to_ascii_lowercase();
        let fold =
            |s: &str, types: &[&str]| if types.contains(&ty.as_str()) { s.to_lowercase() } else { s.to_string() };
        let namespace = p.namespace().map(|n| fold(n, FOLDED_NAMESPACE)).filter(|n| !n.is_empty());
        let mut name = fold(p.name(), FOLDED_NAME);
        if ty == "pypi" {
            name = name.replace('_', "-");
        }
        let qualifiers: BTreeMap<String, String> = p
            .qualifiers()
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        let mut version = p.version().filter(|v| !v.is_empty()).map(str::to_owned);
        if let (Some(v), Some(e)) = (&version, qualifiers.get("epoch"))
            && crate::versions::epoch(v).0.is_none()
        {
            version = Some(format!("{e}:{v}"));
        }
        let source = qualifiers.get("upstream").map(|u| upstream(&ty, u, version.as_deref()));
        Ok(Purl { ty, namespace, name, version, qualifiers, source })
    }

    /// Whether every qualifier of `want` is here with the same value (keys
    /// were folded when parsing; values compare as written).
    pub fn has_qualifiers(&self, want: &BTreeMap<String, String>) -> bool {
        want.iter().all(|(k, v)| self.qualifiers.get(k) == Some(v))
    }

    /// The source package's name: the `upstream` one, or none said.
    pub fn source_name(&self) -> Option<&str> {
        self.source.as_ref().map(|s| s.name.as_str())
    }
}

/// Reads an `upstream` qualifier: `name[@version]`, or an RPM's source RPM
/// file name `name-version-release.src.rpm`.
fn upstream(ty: &str, text: &str, binary_version: Option<&str>) -> Source {
    let fold = |s: &str| if FOLDED_NAME.contains(&ty) { s.to_lowercase() } else { s.to_string() };
    if ty == "rpm"
        && let Some(stem) = text.strip_suffix(".src.rpm").or_else(|| text.strip_suffix(".nosrc.rpm"))
    {
        let mut parts = stem.rsplitn(3, '-');
        if let (Some(release), Some(version), Some(name)) = (parts.next(), parts.next(), parts.next()) {
            let v = format!("{version}-{release}");
            let differs = binary_version.is_none_or(|b| crate::versions::epoch(b).1 != v);
            return Source { name: fold(name), version: differs.then_some(v) };
        }
    }
    match text.split_once('@') {
        Some((name, version)) if !version.is_empty() && Some(version) != binary_version => {
            Source { name: fold(name), version: Some(version.to_string()) }
        }
        Some((name, _)) => Source { name: fold(name), version: None },
        None => Source { name: fold(text), version: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Purl {
        Purl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn normalised_as_the_specification_says() {
        let a = p("pkg:DEB/Debian/LIBFOO@1.0%2Bdfsg-1?Distro=debian-12&arch=amd64&upstream=");
        let b = p("PKG:deb/debian/libfoo@1.0+dfsg-1?arch=amd64&distro=debian-12");
        assert_eq!(a, b);
        assert_eq!((a.ty.as_str(), a.namespace.as_deref(), a.name.as_str()), ("deb", Some("debian"), "libfoo"));
        assert_eq!(a.version.as_deref(), Some("1.0+dfsg-1"));
        assert_eq!(p("pkg:apk/Alpine/MUSL@1.2.4-r2").namespace.as_deref(), Some("alpine"));
        assert_eq!(p("pkg:apk/Alpine/MUSL@1.2.4-r2").name, "musl");
        assert_eq!(p("pkg:golang/github.com/Azure/Go-Autorest@v1.0.0").name, "go-autorest");
        assert_eq!(p("pkg:golang/github.com/Azure/Go-Autorest@v1.0.0").namespace.as_deref(), Some("github.com/azure"));
        assert_eq!(p("pkg:pypi/Django_Rest@3.0").name, "django-rest");
        assert_eq!(p("pkg:deb/debian/libstdc%2B%2B6@12.2.0-14").name, "libstdc++6");
        assert_eq!(p("pkg:npm/@Scope/Name@1.0"), p("pkg:npm/%40Scope/name@1.0"));
        assert_eq!(p("pkg:npm/@Scope/Name@1.0").namespace.as_deref(), Some("@Scope"));
        // Case-sensitive types keep their case.
        assert_eq!(p("pkg:maven/org.Example/Lib@1").name, "Lib");
        assert_eq!(p("pkg:rpm/Fedora/NetworkManager@1.0").namespace.as_deref(), Some("fedora"));
        assert_eq!(p("pkg:rpm/Fedora/NetworkManager@1.0").name, "NetworkManager");
        assert!(Purl::parse("not a purl").is_err());
        assert!(Purl::parse("pkg:deb").is_err());
    }

    #[test]
    fn qualifiers_by_meaning() {
        let c = p("pkg:deb/debian/libbar@1?distro=debian-12&arch=amd64");
        let want = |s: &str| p(s).qualifiers;
        assert!(c.has_qualifiers(&want("pkg:deb/debian/x?ARCH=amd64&distro=debian-12")));
        assert!(c.has_qualifiers(&want("pkg:deb/debian/x")));
        assert!(!c.has_qualifiers(&want("pkg:deb/debian/x?arch=arm64")));
    }

    #[test]
    fn source_packages_and_epochs() {
        let ssl = p("pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=openssl&distro=debian-12");
        assert_eq!(ssl.source, Some(Source { name: "openssl".into(), version: None }));
        let nmu = p("pkg:deb/debian/libcap2@1:2.66-4%2Bb1?upstream=libcap2%401:2.66-4");
        assert_eq!(nmu.source, Some(Source { name: "libcap2".into(), version: Some("1:2.66-4".into()) }));
        let same = p("pkg:deb/debian/x@1.0?upstream=src%401.0");
        assert_eq!(same.source, Some(Source { name: "src".into(), version: None }));
        let rpm = p("pkg:rpm/fedora/curl-minimal@7.50.3-1.fc25?arch=i386&epoch=1&upstream=curl-7.50.3-1.fc25.src.rpm");
        assert_eq!(rpm.version.as_deref(), Some("1:7.50.3-1.fc25"));
        assert_eq!(rpm.source, Some(Source { name: "curl".into(), version: None }));
        assert_eq!(p("pkg:rpm/fedora/x@2:1.0?epoch=1").version.as_deref(), Some("2:1.0"));
        assert_eq!(p("pkg:deb/debian/x").source_name(), None);
    }
}
