//! SPDX 3.0 JSON-LD, read directly: no required crate reads SPDX 3 (`spdx-rs`
//! stops at 2.3), and the serialisation is a flat `@graph` of typed elements,
//! so the model is built from the JSON tree.
//!
//! Packages (`software_Package`) become components; the `SpdxDocument`'s
//! `rootElement`s and the targets of `describes` relationships become
//! subjects; `dependsOn`/`contains` relationships become the graph; licences
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
                match e.get("rootElement") {
                    Some(Value::String(s)) => roots.push(s.clone()),
                    Some(Value::Array(a)) => roots.extend(a.iter().filter_map(|v| v.as_str().map(str::to_owned))),
                    _ => {}
                }
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
