//! Format and version identification of SBOM documents, the way syft's
//! decoders identify them: CycloneDX JSON by `bomFormat`/`specVersion` (or the
//! `$schema` URL), CycloneDX XML by its namespace, SPDX 2.x JSON by
//! `spdxVersion`, SPDX 3 JSON-LD by its `@context`, SPDX tag-value by its
//! `SPDXVersion:` line, syft JSON by its `schema` object. JSON documents are
//! probed with a streaming deserialiser that keeps only the top-level keys it
//! needs, so a 100 MB SBOM costs one pass and no tree in memory.

use serde::Deserialize;
use serde::de::IgnoredAny;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    CyclonedxJson,
    CyclonedxXml,
    SpdxJson,
    SpdxTagValue,
    SyftJson,
}

impl Format {
    /// The name syft and most tools use for the format.
    pub fn id(self) -> &'static str {
        match self {
            Format::CyclonedxJson => "cyclonedx-json",
            Format::CyclonedxXml => "cyclonedx-xml",
            Format::SpdxJson => "spdx-json",
            Format::SpdxTagValue => "spdx-tag-value",
            Format::SyftJson => "syft-json",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Identified {
    pub format: Format,
    /// Specification version (`1.6`, `2.3`, `3.0.1`), or the syft schema version.
    pub version: String,
}

#[derive(Deserialize)]
struct JsonProbe {
    #[serde(rename = "bomFormat")]
    bom_format: Option<serde_json::Value>,
    #[serde(rename = "specVersion")]
    spec_version: Option<serde_json::Value>,
    #[serde(rename = "$schema")]
    schema_url: Option<serde_json::Value>,
    #[serde(rename = "spdxVersion")]
    spdx_version: Option<serde_json::Value>,
    #[serde(rename = "@context")]
    context: Option<serde_json::Value>,
    schema: Option<SyftSchema>,
    #[serde(rename = "artifacts")]
    artifacts: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct SyftSchema {
    version: Option<String>,
    url: Option<String>,
}

static CDX_SCHEMA: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"cyclonedx\.org/schema/bom[-/](\d+\.\d+)").expect("regex"));
static SPDX3_CONTEXT: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"spdx\.org/rdf/(3\.\d+(?:\.\d+)?)").expect("regex"));

fn text(v: &Option<serde_json::Value>) -> Option<String> {
    match v.as_ref()? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn identify_json(bytes: &[u8]) -> Option<Identified> {
    let p: JsonProbe = serde_json::from_slice(bytes).ok()?;
    let schema_url = text(&p.schema_url);
    let cdx_by_schema = schema_url.as_deref().and_then(|u| CDX_SCHEMA.captures(u)).map(|c| c[1].to_string());
    if text(&p.bom_format).is_some_and(|f| f == "CycloneDX") || cdx_by_schema.is_some() {
        let version = text(&p.spec_version).or(cdx_by_schema)?;
        return Some(Identified { format: Format::CyclonedxJson, version });
    }
    if let Some(v) = text(&p.spdx_version) {
        let version = v.strip_prefix("SPDX-").unwrap_or(&v).to_string();
        return Some(Identified { format: Format::SpdxJson, version });
    }
    if let Some(ctx) = &p.context
        && let Some(c) = SPDX3_CONTEXT.captures(&ctx.to_string())
    {
        return Some(Identified { format: Format::SpdxJson, version: c[1].to_string() });
    }
    if let Some(s) = &p.schema {
        let is_syft = s.url.as_deref().is_some_and(|u| u.contains("anchore/syft")) || p.artifacts.is_some();
        if let (true, Some(v)) = (is_syft, &s.version) {
            return Some(Identified { format: Format::SyftJson, version: v.clone() });
        }
    }
    None
}

fn identify_xml(bytes: &[u8]) -> Option<Identified> {
    // The namespace is on the root element, near the start.
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(16 << 10)]);
    let root = head.find("<bom")?;
    let c = CDX_SCHEMA.captures(&head[root..])?;
    Some(Identified { format: Format::CyclonedxXml, version: c[1].to_string() })
}

fn identify_tag_value(bytes: &[u8]) -> Option<Identified> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64 << 10)]);
    head.lines().take(200).find_map(|l| {
        let v = l.trim().strip_prefix("SPDXVersion:")?.trim();
        let version = v.strip_prefix("SPDX-")?.to_string();
        Some(Identified { format: Format::SpdxTagValue, version })
    })
}

/// Identifies an SBOM document; `None` when it is none of the known formats.
pub fn identify(bytes: &[u8]) -> Option<Identified> {
    let start = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let first = start.iter().position(|b| !b.is_ascii_whitespace()).map(|i| start[i])?;
    match first {
        b'{' => identify_json(start),
        b'<' => identify_xml(start),
        _ => identify_tag_value(start),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_documents() {
        let id = |s: &str| identify(s.as_bytes()).map(|i| (i.format.id(), i.version));
        assert_eq!(id(r#"{"bomFormat":"CycloneDX","specVersion":"1.6"}"#), Some(("cyclonedx-json", "1.6".into())));
        assert_eq!(
            id(r#"{"$schema":"http://cyclonedx.org/schema/bom-1.5.schema.json","specVersion":"1.5"}"#),
            Some(("cyclonedx-json", "1.5".into()))
        );
        assert_eq!(id(r#"{"spdxVersion":"SPDX-2.3"}"#), Some(("spdx-json", "2.3".into())));
        assert_eq!(id("SPDXVersion: SPDX-2.2\nDataLicense: CC0-1.0\n"), Some(("spdx-tag-value", "2.2".into())));
        assert_eq!(
            id(r#"<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1"/>"#),
            Some(("cyclonedx-xml", "1.4".into()))
        );
        assert_eq!(id("not an sbom!"), None);
        assert_eq!(id("{not json"), None);
        assert_eq!(id(""), None);
    }
}
