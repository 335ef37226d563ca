//! SPDX 2.x documents through the `spdx-rs` crate, guarded.
//!
//! `spdx-rs` 0.5.5 has two sharp edges this module files down:
//! - its JSON model denies unknown fields (and unknown enum values), so a
//!   document carrying a field the crate does not know is refused outright.
//!   Such fields are set aside — removed from every sibling object at once —
//!   and listed in [`Sbom::notes`]; validity is the schema's business.
//! - its tag-value parser `unwrap`s licence expressions and so panics on a bad
//!   one. Every licence-bearing tag is checked with `spdx-expression` first
//!   and refused with its line number; the parse itself also runs under
//!   `catch_unwind`, so any panic left in the crate becomes an error.

use super::model::{self, Component, Dependency, Hash, Sbom, Tool};
use super::{Format, SbomError};
use serde_json::Value;
use spdx_rs::models::{PackageInformation, RelationshipType, SPDX};
use std::collections::BTreeMap;

/// Unknown fields or values set aside before giving up.
const MAX_FIXES: usize = 256;

/// Parses SPDX 2.x JSON into the normalised model: straight from the bytes
/// when `spdx-rs` takes the document as it is (the common case, and twice
/// as fast on large documents), through the repairing path otherwise.
pub(super) fn from_json_bytes(bytes: &[u8]) -> Result<Sbom, SbomError> {
    match serde_json::from_slice::<SPDX>(bytes) {
        Ok(spdx) => Ok(normalise(spdx, Format::SpdxJson, Vec::new())),
        Err(_) => from_json(super::json_value(bytes)?),
    }
}

/// Parses SPDX 2.x JSON into the normalised model, setting aside what
/// `spdx-rs` refuses.
pub(super) fn from_json(mut doc: Value) -> Result<Sbom, SbomError> {
    let mut notes = Vec::new();
    for _ in 0..MAX_FIXES {
        let err = match serde_path_to_error::deserialize::<_, SPDX>(&doc) {
            Ok(spdx) => return Ok(normalise(spdx, Format::SpdxJson, notes)),
            Err(e) => e,
        };
        let path = err.path().to_string();
        let message = err.inner().to_string();
        if !set_aside(&mut doc, &path, &message, &mut notes) {
            return Err(SbomError::Parse { message: format!("at {path}: {message}") });
        }
    }
    Err(SbomError::Parse { message: format!("more than {MAX_FIXES} unknown fields or values") })
}

/// Removes what `spdx-rs` refused, when it is an unknown field or value.
/// Returns false when the error is of another kind.
fn set_aside(doc: &mut Value, path: &str, message: &str, notes: &mut Vec<String>) -> bool {
    let segments = parse_path(path);
    if let Some(field) = backticked(message, "unknown field `") {
        // With `#[serde(flatten)]` the path may stop at the parent object.
        let parent = if segments.last().is_some_and(|s| matches!(s, Seg::Key(k) if *k == field)) {
            &segments[..segments.len() - 1]
        } else {
            &segments[..]
        };
        let removed = remove_everywhere(doc, parent, &field);
        if removed == 0 {
            return false;
        }
        notes.push(format!("unknown field `{field}` set aside at {} ({removed} place(s))", pattern(parent)));
        return true;
    }
    if let Some(value) = backticked(message, "unknown variant `") {
        // Drop the innermost array element holding the unknown value.
        let Some(i) = segments.iter().rposition(|s| matches!(s, Seg::Index(_))) else { return false };
        let Seg::Index(index) = segments[i] else { return false };
        let Some(Value::Array(items)) = lookup(doc, &segments[..i]) else { return false };
        if index >= items.len() {
            return false;
        }
        items.remove(index);
        notes.push(format!("element {} with unknown value `{value}` set aside", render(&segments[..=i])));
        return true;
    }
    false
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Parses serde_path_to_error's `a.b[3].c` (`.` alone for the root).
fn parse_path(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    if path == "." {
        return out;
    }
    for part in path.split('.') {
        let mut rest = part;
        if let Some(b) = rest.find('[') {
            if b > 0 {
                out.push(Seg::Key(rest[..b].to_string()));
            }
            rest = &rest[b..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(end) = stripped.find(']') else { break };
                if let Ok(i) = stripped[..end].parse() {
                    out.push(Seg::Index(i));
                }
                rest = &stripped[end + 1..];
            }
        } else if !rest.is_empty() && rest != "?" {
            out.push(Seg::Key(rest.to_string()));
        }
    }
    out
}

fn render(segs: &[Seg]) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                s.push('/');
                s.push_str(k)
            }
            Seg::Index(i) => s.push_str(&format!("/{i}")),
        }
    }
    if s.is_empty() { "/".into() } else { s }
}

fn pattern(segs: &[Seg]) -> String {
    let generic: Vec<Seg> =
        segs.iter().map(|s| if let Seg::Index(_) = s { Seg::Key("*".into()) } else { s.clone() }).collect();
    render(&generic)
}

fn lookup<'a>(doc: &'a mut Value, segs: &[Seg]) -> Option<&'a mut Value> {
    let mut v = doc;
    for s in segs {
        v = match s {
            Seg::Key(k) => v.get_mut(k.as_str())?,
            Seg::Index(i) => v.get_mut(*i)?,
        };
    }
    Some(v)
}

/// Removes `field` from the object at `parent` and, where `parent` runs
/// through arrays, from the same place in every element.
fn remove_everywhere(doc: &mut Value, parent: &[Seg], field: &str) -> usize {
    match parent.split_first() {
        None => match doc {
            Value::Object(m) => m.remove(field).map_or(0, |_| 1),
            _ => 0,
        },
        Some((Seg::Key(k), rest)) => doc.get_mut(k.as_str()).map_or(0, |v| remove_everywhere(v, rest, field)),
        Some((Seg::Index(_), rest)) => match doc {
            Value::Array(items) => items.iter_mut().map(|v| remove_everywhere(v, rest, field)).sum(),
            _ => 0,
        },
    }
}

fn backticked(message: &str, prefix: &str) -> Option<String> {
    let start = message.find(prefix)? + prefix.len();
    let end = message[start..].find('`')?;
    Some(message[start..start + end].to_string())
}

/// Tags whose values `spdx-rs` parses as licence expressions with `unwrap`.
const LICENCE_TAGS: &[&str] = &[
    "PackageLicenseConcluded",
    "PackageLicenseDeclared",
    "LicenseConcluded",
    "LicenseInfoInFile",
    "SnippetLicenseConcluded",
];

/// Parses SPDX tag-value into the normalised model.
pub(super) fn from_tag_value(text: &str) -> Result<Sbom, SbomError> {
    check_tag_value(text)?;
    let parsed = std::panic::catch_unwind(|| crate::quiet_panics(|| spdx_rs::parsers::spdx_from_tag_value(text)));
    match parsed {
        Ok(Ok(spdx)) => Ok(normalise(spdx, Format::SpdxTagValue, Vec::new())),
        Ok(Err(e)) => Err(SbomError::Parse { message: e.to_string() }),
        Err(_) => Err(SbomError::Parse { message: "spdx-rs could not parse this tag-value document".into() }),
    }
}

/// One line of a tag-value document.
pub(super) enum TagLine<'a> {
    /// `Tag: value`; a multi-line `<text>` value is its first line, the
    /// rest of it is skipped.
    Tag { line: usize, tag: &'a str, value: &'a str },
    /// A line that is neither blank, a `#` comment, nor `Tag: value`.
    Malformed { line: usize, text: &'a str },
}

/// The lines of a tag-value document (numbered from 1), and whether a
/// `<text>` value is left unclosed at the end. The one walker both the
/// guard below and the validator use.
pub(super) fn tag_lines(text: &str) -> (Vec<TagLine<'_>>, bool) {
    let mut out = Vec::new();
    let mut in_text = false;
    for (n, line) in text.lines().enumerate() {
        if in_text {
            in_text = !line.contains("</text>");
            continue;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((tag, value)) = trimmed.split_once(':') else {
            out.push(TagLine::Malformed { line: n + 1, text: trimmed });
            continue;
        };
        let (tag, value) = (tag.trim(), value.trim());
        in_text = value.starts_with("<text>") && !value.contains("</text>");
        out.push(TagLine::Tag { line: n + 1, tag, value });
    }
    (out, in_text)
}

/// Finds, before `spdx-rs` does, the inputs that would make it panic.
pub(super) fn check_tag_value(text: &str) -> Result<(), SbomError> {
    let (lines, unclosed) = tag_lines(text);
    for l in lines {
        if let TagLine::Tag { line, tag, value } = l
            && !value.starts_with("<text>")
            && LICENCE_TAGS.contains(&tag)
            && spdx_expression::SpdxExpression::parse(value).is_err()
        {
            return Err(SbomError::At { line, message: format!("{tag}: `{value}` is not an SPDX licence expression") });
        }
    }
    if unclosed {
        return Err(SbomError::Parse { message: "a <text> value is never closed with </text>".into() });
    }
    Ok(())
}

fn normalise(spdx: SPDX, format: Format, notes: Vec<String>) -> Sbom {
    let info = &spdx.document_creation_information;
    let version = info.spdx_version.strip_prefix("SPDX-").unwrap_or(&info.spdx_version).to_string();
    let tools = info
        .creation_info
        .creators
        .iter()
        .filter_map(|c| c.strip_prefix("Tool:"))
        .map(|t| {
            let t = t.trim();
            // `syft-1.18.1`: the version follows the last dash when it starts with a digit.
            match t.rsplit_once('-') {
                Some((name, v)) if v.starts_with(|c: char| c.is_ascii_digit()) => {
                    Tool { vendor: None, name: name.to_string(), version: Some(v.to_string()) }
                }
                _ => Tool { vendor: None, name: t.to_string(), version: None },
            }
        })
        .collect();
    let mut described: Vec<String> = info.document_describes.clone();
    for r in &spdx.relationships {
        if r.spdx_element_id == info.spdx_identifier && r.relationship_type == RelationshipType::Describes {
            described.push(r.related_spdx_element.clone());
        }
        if r.related_spdx_element == info.spdx_identifier && r.relationship_type == RelationshipType::DescribedBy {
            described.push(r.spdx_element_id.clone());
        }
    }
    let mut subjects = Vec::new();
    let mut components = Vec::new();
    for p in &spdx.package_information {
        let c = component(p);
        if described.contains(&p.package_spdx_identifier) {
            subjects.push(c);
        } else {
            components.push(c);
        }
    }
    // Dependencies: A DEPENDS_ON B and B DEPENDENCY_OF A; containment is
    // recorded the same way, so the graph says what is inside what.
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &spdx.relationships {
        let (from, to) = match r.relationship_type {
            RelationshipType::DependsOn | RelationshipType::Contains => (&r.spdx_element_id, &r.related_spdx_element),
            RelationshipType::DependencyOf | RelationshipType::ContainedBy => {
                (&r.related_spdx_element, &r.spdx_element_id)
            }
            _ => continue,
        };
        let e = graph.entry(from.clone()).or_default();
        if !e.contains(to) {
            e.push(to.clone());
        }
    }
    Sbom {
        format: Some(format),
        spec_version: version,
        id: Some(info.spdx_document_namespace.clone()),
        name: Some(info.document_name.clone()),
        created: Some(info.creation_info.created.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        tools,
        subjects,
        components,
        dependencies: graph.into_iter().map(|(reference, depends_on)| Dependency { reference, depends_on }).collect(),
        notes,
    }
}

fn component(p: &PackageInformation) -> Component {
    let mut purl = None;
    let mut cpes = Vec::new();
    for r in &p.external_reference {
        match r.reference_type.as_str() {
            "purl" if purl.is_none() => purl = Some(r.reference_locator.clone()),
            "cpe23Type" | "cpe22Type" => cpes.push(r.reference_locator.clone()),
            _ => {}
        }
    }
    let meaningful = |e: &Option<spdx_expression::SpdxExpression>| {
        e.as_ref().map(|e| e.to_string()).filter(|s| s != "NOASSERTION" && s != "NONE")
    };
    Component {
        reference: p.package_spdx_identifier.clone(),
        kind: p
            .primary_package_purpose
            .as_ref()
            .and_then(|k| serde_json::to_value(k).ok())
            .and_then(|v| v.as_str().map(|s| s.to_ascii_lowercase().replace('_', "-")))
            .unwrap_or_else(|| "library".into()),
        name: p.package_name.clone(),
        version: p.package_version.clone(),
        purl,
        cpes,
        license: meaningful(&p.concluded_license).or_else(|| meaningful(&p.declared_license)),
        hashes: p
            .package_checksum
            .iter()
            .map(|c| Hash {
                algorithm: serde_json::to_value(c.algorithm)
                    .ok()
                    .and_then(|v| v.as_str().map(model::hash_algorithm))
                    .unwrap_or_default(),
                value: c.value.clone(),
            })
            .collect(),
        supplier: p
            .package_supplier
            .as_ref()
            .filter(|s| *s != "NOASSERTION")
            .map(|s| s.split_once(':').map_or(s.as_str(), |(_, n)| n.trim()).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(parse_path("."), vec![]);
        assert_eq!(
            parse_path("packages[3].externalRefs[0]"),
            vec![Seg::Key("packages".into()), Seg::Index(3), Seg::Key("externalRefs".into()), Seg::Index(0)]
        );
        assert_eq!(pattern(&parse_path("packages[3].x")), "/packages/*/x");
    }

    #[test]
    fn bad_licence_in_tag_value_is_an_error_with_its_line() {
        let doc = "SPDXVersion: SPDX-2.2\nDataLicense: CC0-1.0\nPackageName: x\nPackageLicenseConcluded: (((\n";
        match from_tag_value(doc) {
            Err(SbomError::At { line, message }) => {
                assert_eq!(line, 4);
                assert!(message.contains("PackageLicenseConcluded"), "{message}");
            }
            other => panic!("expected a line error, got {other:?}"),
        }
    }
}
