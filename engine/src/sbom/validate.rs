//! SBOM validation, the way the reference validators do it.
//!
//! - CycloneDX JSON: the official JSON schema of the declared version
//!   (draft-07, formats checked; 1.2 and 1.3 with their `-strict` variants,
//!   as the specification's own test suite does), `$ref`s to `spdx`, `jsf`
//!   and `cryptography-defs` resolved from the embedded copies.
//! - CycloneDX XML: the official XSD through libxml2 (see `xml`).
//! - SPDX 2.2/2.3 JSON: the official JSON schema of the declared version,
//!   plus what SPDX's Java tools check beyond it: licence identifiers exist
//!   in the SPDX licence list (deprecated ones are warnings) and relationships
//!   point at elements that exist.
//! - SPDX tag-value: the required document and package tags, licence
//!   expressions, with line numbers.
//! - SPDX 3 JSON-LD: its structure (`@context`, a `@graph` of typed
//!   elements with identifiers, one `SpdxDocument`); no schema is embedded.
//!
//! The schemas are the official files, copied into `engine/schemas/` with
//! their licences; nothing is fetched.

use super::{Format, Identified, SbomError, identify, json_value, spdx, spdx3, xml};
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub severity: Severity,
    /// JSON pointer (`/components/3/hashes/0/content`) or `line N[:C]`.
    pub location: String,
    pub message: String,
}

/// The outcome of validating one document.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    #[serde(flatten)]
    pub identified: Identified,
    /// What the document was checked against.
    pub checked_against: String,
    pub violations: Vec<Violation>,
}

impl Validation {
    pub fn is_valid(&self) -> bool {
        !self.violations.iter().any(|v| v.severity == Severity::Error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(|v| v.severity == Severity::Error)
    }
}

fn error(location: impl Into<String>, message: impl Into<String>) -> Violation {
    Violation { severity: Severity::Error, location: location.into(), message: message.into() }
}

fn warning(location: impl Into<String>, message: impl Into<String>) -> Violation {
    Violation { severity: Severity::Warning, location: location.into(), message: message.into() }
}

macro_rules! schema {
    ($file:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/", $file))
    };
}

/// Official CycloneDX JSON schema for a spec version, and its name.
fn cyclonedx_schema(version: &str) -> Option<(&'static str, &'static str)> {
    Some(match version {
        "1.2" => ("bom-1.2-strict.schema.json", schema!("cyclonedx/bom-1.2-strict.schema.json")),
        "1.3" => ("bom-1.3-strict.schema.json", schema!("cyclonedx/bom-1.3-strict.schema.json")),
        "1.4" => ("bom-1.4.schema.json", schema!("cyclonedx/bom-1.4.schema.json")),
        "1.5" => ("bom-1.5.schema.json", schema!("cyclonedx/bom-1.5.schema.json")),
        "1.6" => ("bom-1.6.schema.json", schema!("cyclonedx/bom-1.6.schema.json")),
        "1.7" => ("bom-1.7.schema.json", schema!("cyclonedx/bom-1.7.schema.json")),
        _ => return None,
    })
}

fn spdx_schema(version: &str) -> Option<(&'static str, &'static str)> {
    Some(match version {
        "2.2" => ("spdx-schema.json (SPDX 2.2)", schema!("spdx/spdx-schema-2.2.json")),
        "2.3" => ("spdx-schema.json (SPDX 2.3)", schema!("spdx/spdx-schema-2.3.json")),
        _ => return None,
    })
}

/// Serves the schemas CycloneDX's schemas refer to; refuses anything else.
struct Embedded;

impl jsonschema::Retrieve for Embedded {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri.path().as_str().rsplit('/').next().unwrap_or_default();
        let text = match name {
            "spdx.schema.json" => schema!("cyclonedx/spdx.schema.json"),
            "jsf-0.82.schema.json" => schema!("cyclonedx/jsf-0.82.schema.json"),
            "cryptography-defs.schema.json" => schema!("cyclonedx/cryptography-defs.schema.json"),
            _ => return Err(format!("{uri} is not an embedded schema; nothing is fetched").into()),
        };
        Ok(serde_json::from_str(text)?)
    }
}

type Validators = Mutex<HashMap<&'static str, Arc<jsonschema::Validator>>>;
static VALIDATORS: LazyLock<Validators> = LazyLock::new(Default::default);

/// The compiled validator for an embedded schema, built once per process.
fn validator(name: &'static str, text: &'static str) -> Result<Arc<jsonschema::Validator>, SbomError> {
    if let Some(v) = VALIDATORS.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
        return Ok(v.clone());
    }
    let internal = |m: String| SbomError::Parse { message: format!("embedded schema {name}: {m}") };
    let schema: Value = serde_json::from_str(text).map_err(|e| internal(e.to_string()))?;
    let v = jsonschema::options()
        .should_validate_formats(true)
        .with_retriever(Embedded)
        .build(&schema)
        .map_err(|e| internal(e.to_string()))?;
    let v = Arc::new(v);
    VALIDATORS.lock().unwrap_or_else(|p| p.into_inner()).insert(name, v.clone());
    Ok(v)
}

fn schema_violations(validator: &jsonschema::Validator, doc: &Value) -> Vec<Violation> {
    validator
        .iter_errors(doc)
        .map(|e| {
            let pointer = e.instance_path().to_string();
            error(if pointer.is_empty() { "/".to_string() } else { pointer }, e.to_string())
        })
        .collect()
}

/// Validates an SBOM document. `Err` means it could not be read at all
/// (not an SBOM, unsupported version, not well-formed): the caller reports
/// that as unreadable, distinct from invalid.
pub fn validate(bytes: &[u8]) -> Result<Validation, SbomError> {
    super::bounded(bytes)?;
    let identified = identify(bytes).ok_or_else(|| super::unrecognised(bytes))?;
    let version = identified.version.clone();
    let (checked_against, violations) = match identified.format {
        Format::CyclonedxJson => {
            let (name, text) = cyclonedx_schema(&version).ok_or_else(|| SbomError::Unsupported {
                what: format!("CycloneDX JSON {version}"),
                supported: "CycloneDX JSON 1.2 to 1.7",
            })?;
            let doc = json_value(bytes)?;
            (name.to_string(), schema_violations(&*validator(name, text)?, &doc))
        }
        Format::CyclonedxXml => xml::validate_cyclonedx(bytes, &version)?,
        Format::SpdxJson if version.starts_with("3.") => {
            let doc = json_value(bytes)?;
            ("SPDX 3 JSON-LD structure".to_string(), spdx3_structure(&doc))
        }
        Format::SpdxJson => {
            // A 2.x version that does not exist (`SPDX-2.2.1`) is a violation,
            // checked against the schema of its major.minor.
            let mut v = Vec::new();
            let known = spdx_schema(&version);
            let Some((name, text)) = known.or_else(|| spdx_schema(version.get(..3).unwrap_or_default())) else {
                return Err(SbomError::Unsupported {
                    what: format!("SPDX {version}"),
                    supported: "SPDX 2.2 and 2.3 (JSON, tag-value), SPDX 3 JSON-LD",
                });
            };
            if known.is_none() {
                v.push(error(
                    "/spdxVersion",
                    format!("`SPDX-{version}` is not an SPDX version (SPDX-2.2 or SPDX-2.3)"),
                ));
            }
            let doc = json_value(bytes)?;
            v.extend(schema_violations(&*validator(name, text)?, &doc));
            v.extend(spdx_json_semantics(&doc));
            (format!("{name} and the SPDX licence list"), v)
        }
        Format::SpdxTagValue => {
            if spdx_schema(&version).is_none() {
                return Err(SbomError::Unsupported {
                    what: format!("SPDX {version} tag-value"),
                    supported: "SPDX 2.2 and 2.3 tag-value",
                });
            }
            let text = std::str::from_utf8(bytes)
                .map_err(|e| SbomError::Parse { message: format!("tag-value document is not UTF-8: {e}") })?;
            ("SPDX tag-value rules and the SPDX licence list".to_string(), tag_value(text))
        }
        Format::SyftJson => {
            return Err(SbomError::Unsupported {
                what: "syft's own JSON format".into(),
                supported: "CycloneDX or SPDX; `syft convert` turns syft JSON into either",
            });
        }
    };
    Ok(Validation { identified, checked_against, violations })
}

/// Checks one licence expression against the SPDX licence list.
fn licence(expr: &str, location: &str, out: &mut Vec<Violation>) {
    let expr = expr.trim();
    if expr.is_empty() || expr == "NOASSERTION" || expr == "NONE" {
        return;
    }
    // Deprecated identifiers parse (they are warnings, as SPDX's tools say).
    let mode = ::spdx::ParseMode { allow_deprecated: true, ..::spdx::ParseMode::STRICT };
    let parsed = match ::spdx::Expression::parse_mode(expr, mode) {
        Ok(p) => p,
        Err(e) => {
            out.push(error(location, format!("`{expr}` is not a valid SPDX licence expression: {}", e.reason)));
            return;
        }
    };
    for req in parsed.requirements() {
        if let ::spdx::LicenseItem::Spdx { id, .. } = &req.req.license
            && id.is_deprecated()
        {
            out.push(warning(
                location,
                format!("licence identifier `{}` is deprecated in the SPDX licence list", id.name),
            ));
        }
        if let Some(::spdx::AdditionItem::Spdx(ex)) = &req.req.addition
            && ex.is_deprecated()
        {
            out.push(warning(location, format!("exception identifier `{}` is deprecated", ex.name)));
        }
    }
}

/// What SPDX's tools check beyond the JSON schema.
fn spdx_json_semantics(doc: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut ids: HashSet<&str> = HashSet::new();
    if let Some(id) = doc.get("SPDXID").and_then(Value::as_str) {
        ids.insert(id);
    }
    for (section, single, multi) in [
        ("packages", &["licenseConcluded", "licenseDeclared"][..], &["licenseInfoFromFiles"][..]),
        ("files", &["licenseConcluded"][..], &["licenseInfoInFiles"][..]),
        ("snippets", &["licenseConcluded"][..], &["licenseInfoInSnippets"][..]),
    ] {
        for (i, item) in doc.get(section).and_then(Value::as_array).into_iter().flatten().enumerate() {
            if let Some(id) = item.get("SPDXID").and_then(Value::as_str) {
                ids.insert(id);
            }
            for key in single {
                if let Some(e) = item.get(*key).and_then(Value::as_str) {
                    licence(e, &format!("/{section}/{i}/{key}"), &mut out);
                }
            }
            for key in multi {
                for (j, e) in item.get(*key).and_then(Value::as_array).into_iter().flatten().enumerate() {
                    if let Some(e) = e.as_str() {
                        licence(e, &format!("/{section}/{i}/{key}/{j}"), &mut out);
                    }
                }
            }
        }
    }
    for (i, r) in doc.get("relationships").and_then(Value::as_array).into_iter().flatten().enumerate() {
        for key in ["spdxElementId", "relatedSpdxElement"] {
            if let Some(id) = r.get(key).and_then(Value::as_str)
                && !id.starts_with("DocumentRef-")
                && id != "NONE"
                && id != "NOASSERTION"
                && !ids.contains(id)
            {
                out.push(error(
                    format!("/relationships/{i}/{key}"),
                    format!("`{id}` is not an element of this document"),
                ));
            }
        }
    }
    for (i, id) in doc.get("documentDescribes").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if let Some(id) = id.as_str()
            && !ids.contains(id)
        {
            out.push(error(format!("/documentDescribes/{i}"), format!("`{id}` is not an element of this document")));
        }
    }
    out
}

/// Tag-value: required tags, licence expressions, and that `spdx-rs` reads it.
fn tag_value(text: &str) -> Vec<Violation> {
    let mut out = Vec::new();
    let required_doc =
        ["SPDXVersion", "DataLicense", "SPDXID", "DocumentName", "DocumentNamespace", "Creator", "Created"];
    let mut seen_doc: HashSet<&str> = HashSet::new();
    let mut package: Option<(usize, HashSet<&str>)> = None;
    let check_package = |p: &Option<(usize, HashSet<&str>)>, out: &mut Vec<Violation>| {
        if let Some((line, tags)) = p {
            for t in ["SPDXID", "PackageDownloadLocation"] {
                if !tags.contains(t) {
                    out.push(error(format!("line {line}"), format!("package has no {t}")));
                }
            }
        }
    };
    let (lines, unclosed) = spdx::tag_lines(text);
    for l in lines {
        let (n, tag, value) = match l {
            spdx::TagLine::Tag { line, tag, value } => (line, tag, value),
            spdx::TagLine::Malformed { line, text } => {
                out.push(error(format!("line {line}"), format!("`{text}` is not a `Tag: value` line")));
                continue;
            }
        };
        match tag {
            "PackageName" => {
                check_package(&package, &mut out);
                package = Some((n, HashSet::new()));
            }
            "FileName" | "SnippetSPDXID" | "LicenseID" | "Relationship" | "Annotator" => {
                check_package(&package, &mut out);
                package = None;
            }
            _ => {}
        }
        match &mut package {
            Some((_, tags)) => {
                tags.insert(tag);
            }
            None => {
                seen_doc.insert(tag);
            }
        }
        if matches!(
            tag,
            "PackageLicenseConcluded"
                | "PackageLicenseDeclared"
                | "PackageLicenseInfoFromFiles"
                | "LicenseConcluded"
                | "LicenseInfoInFile"
                | "SnippetLicenseConcluded"
                | "LicenseInfoInSnippet"
        ) {
            licence(value, &format!("line {n}"), &mut out);
        }
        if tag == "DataLicense" && value != "CC0-1.0" {
            out.push(error(format!("line {n}"), format!("DataLicense must be CC0-1.0, not `{value}`")));
        }
    }
    check_package(&package, &mut out);
    for t in required_doc {
        if !seen_doc.contains(t) {
            out.push(error("line 1", format!("the document has no {t}")));
        }
    }
    if unclosed {
        out.push(error("end of file", "a <text> value is never closed with </text>"));
    }
    if !out.iter().any(|v| v.severity == Severity::Error)
        && let Err(e) = spdx::from_tag_value(text)
    {
        out.push(error("document", format!("not readable as SPDX tag-value: {e}")));
    }
    out
}

/// SPDX 3 JSON-LD structure: context, graph, typed identified elements.
fn spdx3_structure(doc: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    let context = doc.get("@context").map(Value::to_string).unwrap_or_default();
    if !context.contains("spdx.org/rdf/3.") {
        out.push(error(
            "/@context",
            "must name the SPDX 3 JSON-LD context (https://spdx.org/rdf/3.0.x/spdx-context.jsonld)",
        ));
    }
    let elements = match spdx3::graph(doc) {
        Ok(e) => e,
        Err(SbomError::Invalid { pointer, message }) => {
            out.push(error(pointer, message));
            return out;
        }
        Err(e) => {
            out.push(error("/@graph", e.to_string()));
            return out;
        }
    };
    let mut documents = 0;
    for (i, e) in elements.iter().enumerate() {
        let Some(obj) = e.as_object() else {
            out.push(error(format!("/@graph/{i}"), "must be an object"));
            continue;
        };
        let kind = obj.get("type").or_else(|| obj.get("@type")).and_then(Value::as_str);
        match kind {
            None => out.push(error(format!("/@graph/{i}"), "has no `type`")),
            Some("SpdxDocument") => documents += 1,
            Some(_) => {}
        }
        if obj.get("spdxId").or_else(|| obj.get("@id")).and_then(Value::as_str).is_none() {
            out.push(error(format!("/@graph/{i}"), "has no `spdxId` or `@id`"));
        }
    }
    if documents == 0 && !elements.is_empty() {
        out.push(warning("/@graph", "no SpdxDocument element"));
    }
    out
}
