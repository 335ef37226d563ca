//! The normalised SBOM model: what every policy needs from an SBOM, whatever
//! format it came in. CycloneDX and SPDX documents are parsed by their own
//! crates (`cyclonedx-bom`, `spdx-rs`) and mapped onto these types, so rules
//! and the `sbom show` command see one shape.

use super::Format;
use serde::Serialize;

/// One SBOM document, normalised.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Sbom {
    pub format: Option<Format>,
    /// Specification version as declared (`1.6`, `2.3`).
    pub spec_version: String,
    /// CycloneDX `serialNumber` or SPDX `documentNamespace`.
    pub id: Option<String>,
    /// SPDX document name; CycloneDX has none.
    pub name: Option<String>,
    pub created: Option<String>,
    /// Tools that produced the document.
    pub tools: Vec<Tool>,
    /// What the document says it describes: CycloneDX `metadata.component`,
    /// SPDX `documentDescribes` / `DESCRIBES` relationships.
    pub subjects: Vec<Component>,
    pub components: Vec<Component>,
    pub dependencies: Vec<Dependency>,
    /// How the document was read when the parser crate could not take it
    /// as it is (a newer spec version lowered, unknown fields set aside).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Tool {
    pub vendor: Option<String>,
    pub name: String,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Component {
    /// `bom-ref` or SPDX identifier; unique within the document.
    pub reference: String,
    /// CycloneDX `type` (`library`, `container`, ...) or SPDX primary package purpose, lower case.
    pub kind: String,
    pub name: String,
    pub version: Option<String>,
    pub purl: Option<String>,
    pub cpes: Vec<String>,
    /// Licence as one SPDX expression (several CycloneDX licences are ANDed;
    /// names that are not SPDX identifiers become `LicenseRef-` references).
    pub license: Option<String>,
    pub hashes: Vec<Hash>,
    pub supplier: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Hash {
    /// Algorithm in lower case without punctuation: `sha256`, `sha1`, `md5`, `sha512`.
    pub algorithm: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Dependency {
    pub reference: String,
    pub depends_on: Vec<String>,
}

impl Component {
    /// Image digests (`sha256:<hex>`) this component names: a digest version
    /// (syft writes the manifest digest there), an `@sha256:` purl version,
    /// or a SHA-256 hash.
    pub fn digests(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut push = |d: String| {
            if !out.contains(&d) {
                out.push(d);
            }
        };
        if let Some(v) = &self.version
            && let Some(d) = as_digest(v)
        {
            push(d);
        }
        if let Some(p) = &self.purl
            && let Some(at) = p.rfind('@')
        {
            let v = &p[at + 1..];
            let v = v.split(['?', '#']).next().unwrap_or(v);
            let v = v.replace("%3A", ":").replace("%3a", ":");
            if let Some(d) = as_digest(&v) {
                push(d);
            }
        }
        for h in &self.hashes {
            if h.algorithm == "sha256" && is_hex64(&h.value) {
                push(format!("sha256:{}", h.value.to_ascii_lowercase()));
            }
        }
        out
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn as_digest(v: &str) -> Option<String> {
    let hex = v.strip_prefix("sha256:")?;
    is_hex64(hex).then(|| format!("sha256:{}", hex.to_ascii_lowercase()))
}

/// Normalises a hash algorithm name: `SHA-256`, `SHA256`, `sha256` → `sha256`.
pub(crate) fn hash_algorithm(name: &str) -> String {
    name.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase()
}

/// Turns a free-text licence name into an SPDX `LicenseRef-` identifier.
pub(crate) fn license_ref(name: &str) -> String {
    let idstring: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect();
    format!("LicenseRef-{idstring}")
}

/// Joins licence expressions with AND, parenthesising compound ones.
pub(crate) fn and_all(parts: &[String]) -> Option<String> {
    match parts {
        [] => None,
        [one] => Some(one.clone()),
        many => Some(
            many.iter()
                .map(|p| if p.contains(' ') { format!("({p})") } else { p.clone() })
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_from_version_purl_and_hash() {
        let hex = "41bc5237460d4d49a3706b46344661cb28222f211bcbf0d8896cf3c828b23955";
        let c = Component {
            version: Some(format!("sha256:{hex}")),
            purl: Some(format!("pkg:oci/x@sha256%3A{hex}?arch=amd64")),
            hashes: vec![Hash { algorithm: "sha256".into(), value: hex.to_uppercase() }],
            ..Default::default()
        };
        assert_eq!(c.digests(), vec![format!("sha256:{hex}")]);
        let c = Component { version: Some("1.0".into()), ..Default::default() };
        assert!(c.digests().is_empty());
    }

    #[test]
    fn licence_helpers() {
        assert_eq!(hash_algorithm("SHA-256"), "sha256");
        assert_eq!(license_ref("My Licence 1.0"), "LicenseRef-My-Licence-1.0");
        assert_eq!(and_all(&["MIT".into(), "A OR B".into()]).as_deref(), Some("MIT AND (A OR B)"));
        assert_eq!(and_all(&[]), None);
    }
}
