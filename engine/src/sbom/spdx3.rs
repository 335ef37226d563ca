//! SPDX 3.0 JSON-LD, read directly: no required crate reads SPDX 3 (`spdx-rs`
//! stops at 2.3), and the serialisation is a flat `@graph` of typed elements,
//! so the model is built from the JSON tree.
//!
//! Packages (`software_Package`) become components; what the
//! `SpdxDocument` is about — its `rootElement`s, followed through a root
//! that is an SBOM element to that one's roots — and the targets of
//! `describes` relationships become subjects; `dependsOn`/`contains` relationships become the graph; licences
//! come from `hasConcludedLicense`/`hasDeclaredLicense` relationships.

use super::model::{self, Component, Dependency, Hash, Sbom, Tool};
use super::{Format, SbomError};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

fn id_of(e: &Value) -> Option<&str> {
    e.get("spdxId").or_else(|| e.get("@id")).and_then(Value::as_str)
}

fn kind_of(e: &Value) -> &str {
    e.get("type").or_else(|| e.get("@type")).and_then(Value::as_str).unwrap_or_default()
}

fn str_at<'a>(e: &'a Value, key: &str) -> Option<&'a str> {
    e.get(key).and_then(Value::as_str)
}

fn targets(e: &Value) -> Vec<String> {
    match e.get("to") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// The elements of the document's `@graph`, checked for the basic shape.
pub(super) fn graph(doc: &Value) -> Result<&Vec<Value>, SbomError> {
    match doc.get("@graph") {
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(SbomError::Invalid { pointer: "/@graph".into(), message: "must be an array".into() }),
        None => Err(SbomError::Invalid { pointer: "/@graph".into(), message: "missing".into() }),
    }
}

/// Element collections: a document's or an SBOM's `rootElement` says what it is about.
fn is_collection(kind: &str) -> bool {
    matches!(kind, "SpdxDocument" | "software_Sbom" | "Bom" | "Bundle")
}

/// What a collection describes: its `rootElement`s, and through a root that
/// is itself a collection (an SpdxDocument's root is usually its
/// `software_Sbom`, whose root is the package the SBOM is of), that one's
/// roots in turn. Each collection is followed once.
fn root_elements(collection: &Value, by_id: &HashMap<&str, &Value>) -> Vec<String> {
    let direct = |e: &Value| -> Vec<String> {
        match e.get("rootElement") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        }
    };
    let mut out = Vec::new();
    let mut seen: Vec<String> = id_of(collection).map(str::to_owned).into_iter().collect();
    let mut todo = direct(collection);
    while let Some(id) = todo.pop() {
        if seen.contains(&id) {
            continue;
        }
        seen.push(id.clone());
        if let Some(e) = by_id.get(id.as_str()).filter(|e| is_collection(kind_of(e))) {
            todo.extend(direct(e));
        }
        out.push(id);
    }
    out
}

/// `software_Package` and the profiles' subclasses of it (`ai_AIPackage`,
/// `dataset_DatasetPackage`).
pub(crate) fn is_package(kind: &str) -> bool {
    matches!(kind, "software_Package" | "ai_AIPackage" | "dataset_DatasetPackage")
}

pub(super) fn from_json(doc: Value, version: &str) -> Result<Sbom, SbomError> {
    let elements = graph(&doc)?;
    let by_id: HashMap<&str, &Value> = elements.iter().filter_map(|e| Some((id_of(e)?, e))).collect();
    let mut sbom = Sbom { format: Some(Format::SpdxJson), spec_version: version.to_string(), ..Default::default() };
    let mut roots: Vec<String> = Vec::new();
    let mut licences: HashMap<String, Vec<String>> = HashMap::new();
    let mut graph_edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in elements {
        match kind_of(e) {
            "SpdxDocument" => {
                sbom.id = id_of(e).map(str::to_owned);
                sbom.name = str_at(e, "name").map(str::to_owned);
                roots.extend(root_elements(e, &by_id));
            }
            "CreationInfo" => {
                sbom.created = str_at(e, "created").map(str::to_owned);
            }
            "Tool" => {
                sbom.tools.push(Tool { vendor: None, name: str_at(e, "name").unwrap_or("").into(), version: None })
            }
            "Relationship" => {
                let (Some(from), kind) = (str_at(e, "from"), str_at(e, "relationshipType").unwrap_or("")) else {
                    continue;
                };
                match kind {
                    "describes" => roots.extend(targets(e)),
                    "dependsOn" | "contains" => graph_edges.entry(from.to_string()).or_default().extend(targets(e)),
                    "hasConcludedLicense" | "hasDeclaredLicense" => {
                        for t in targets(e) {
                            let expr = by_id.get(t.as_str()).and_then(|l| {
                                str_at(l, "simplelicensing_licenseExpression")
                                    .or_else(|| str_at(l, "expandedlicensing_licenseId"))
                                    .or_else(|| str_at(l, "name"))
                            });
                            if let Some(x) = expr {
                                licences.entry(format!("{kind}:{from}")).or_default().push(x.to_string());
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    for e in elements.iter().filter(|e| is_package(kind_of(e))) {
        let Some(id) = id_of(e) else { continue };
        let concluded = licences.get(&format!("hasConcludedLicense:{id}"));
        let declared = licences.get(&format!("hasDeclaredLicense:{id}"));
        let license = concluded.or(declared).and_then(|l| {
            let l: Vec<String> = l.iter().filter(|x| *x != "NOASSERTION" && *x != "NONE").cloned().collect();
            model::and_all(&l)
        });
        let mut cpes = Vec::new();
        for x in e.get("externalIdentifier").and_then(Value::as_array).into_iter().flatten() {
            if matches!(str_at(x, "externalIdentifierType"), Some("cpe23" | "cpe22"))
                && let Some(v) = str_at(x, "identifier")
            {
                cpes.push(v.to_string());
            }
        }
        let hashes = e
            .get("verifiedUsing")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|h| {
                Some(Hash {
                    algorithm: model::hash_algorithm(str_at(h, "algorithm")?),
                    value: str_at(h, "hashValue")?.to_string(),
                })
            })
            .collect();
        let c = Component {
            reference: id.to_string(),
            kind: str_at(e, "software_primaryPurpose").unwrap_or("library").to_ascii_lowercase(),
            name: str_at(e, "name").unwrap_or_default().to_string(),
            version: str_at(e, "software_packageVersion").map(str::to_owned),
            purl: str_at(e, "software_packageUrl").map(str::to_owned),
            cpes,
            license,
            hashes,
            supplier: str_at(e, "suppliedBy")
                .and_then(|s| by_id.get(s))
                .and_then(|a| str_at(a, "name"))
                .map(str::to_owned),
        };
        if roots.iter().any(|r| r == id) {
            sbom.subjects.push(c);
        } else {
            sbom.components.push(c);
        }
    }
    sbom.dependencies =
        graph_edges.into_iter().map(|(reference, depends_on)| Dependency { reference, depends_on }).collect();
    sbom.notes.push("SPDX 3 JSON-LD read from its @graph (no required crate reads SPDX 3)".into());
    Ok(sbom)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document's root is its SBOM element; the SBOM's root is the
    /// package it is of, which is the subject. A cycle of roots ends.
    #[test]
    fn roots_are_followed_through_sbom_elements() {
        let doc = serde_json::json!({"@graph": [
            {"type": "SpdxDocument", "spdxId": "urn:doc", "rootElement": ["urn:sbom"]},
            {"type": "software_Sbom", "spdxId": "urn:sbom", "rootElement": "urn:image"},
            {"type": "software_Sbom", "spdxId": "urn:loop", "rootElement": ["urn:loop", "urn:doc"]},
            {"type": "software_Package", "spdxId": "urn:image", "name": "image"},
            {"type": "software_Package", "spdxId": "urn:lib", "name": "lib"},
        ]});
        let sbom = from_json(doc, "3.0.1").unwrap();
        assert_eq!(sbom.subjects.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["image"]);
        assert_eq!(sbom.components.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["lib"]);
        let elements = graph(&serde_json::json!({"@graph": [
            {"type": "software_Sbom", "spdxId": "urn:loop", "rootElement": ["urn:loop"]},
        ]}))
        .unwrap()
        .clone();
        let by_id: HashMap<&str, &Value> = elements.iter().filter_map(|e| Some((id_of(e)?, e))).collect();
        assert!(root_elements(&elements[0], &by_id).is_empty());
    }
}
