//! CycloneDX documents through the `cyclonedx-bom` crate, adapted.
//!
//! `cyclonedx-bom` 0.8.1 reads spec versions 1.3, 1.4 and 1.5 only. Newer
//! and older documents are *lowered* to the nearest version it reads before
//! they are handed over: 1.2 is read as 1.3 (1.3 only added fields), 1.6 and
//! 1.7 as 1.5. For JSON the document is first projected onto the fields the
//! model reads (so nothing whose shape changed after 1.5 reaches the crate);
//! for XML the elements 1.5 lacks are removed or rewritten with libxml2 (see
//! `xml::lower_cyclonedx`). Every lowering is recorded in [`Sbom::notes`]. Whether the document is valid for its *declared* version
//! is decided separately, by the official schema (see `validate`).

use super::model::{self, Component, Dependency, Hash, Sbom, Tool};
use super::{Format, SbomError};
use cyclonedx_bom::models::bom::{Bom, SpecVersion};
use cyclonedx_bom::models::component::Component as CdxComponent;
use cyclonedx_bom::models::license::{LicenseChoice, LicenseIdentifier};

mod json;
pub(super) use json::from_json_bytes;

/// The version `cyclonedx-bom` is asked to read a document of `declared` version as.
fn reader_version(declared: &str) -> Option<&'static str> {
    match declared {
        "1.2" | "1.3" => Some("1.3"),
        "1.4" => Some("1.4"),
        "1.5" | "1.6" | "1.7" => Some("1.5"),
        _ => None,
    }
}

/// Parses CycloneDX XML into the normalised model.
pub(super) fn from_xml(bytes: &[u8], declared: &str) -> Result<Sbom, SbomError> {
    let read_as = reader_version(declared)
        .ok_or_else(|| SbomError::Unsupported { what: format!("CycloneDX XML {declared}"), supported: "1.2 to 1.7" })?;
    let mut notes = Vec::new();
    let lowered;
    let input: &[u8] = if read_as != declared {
        notes.push(format!(
            "CycloneDX {declared} read as {read_as} by cyclonedx-bom 0.8.1; elements {read_as} lacks are skipped"
        ));
        // 1.2 → 1.3 only added elements; 1.6/1.7 need elements rewritten.
        let (text, changed) = if declared == "1.2" {
            let text =
                std::str::from_utf8(bytes).map_err(|e| SbomError::Parse { message: format!("not UTF-8: {e}") })?;
            (std::borrow::Cow::Borrowed(text), 0)
        } else {
            let (text, changed) = super::xml::lower_cyclonedx(bytes)?;
            (std::borrow::Cow::Owned(text), changed)
        };
        if changed > 0 {
            notes
                .push(format!("{changed} element(s) newer than {read_as} removed or rewritten to the {read_as} shape"));
        }
        lowered = lower_namespace(&text, declared, read_as);
        lowered.as_bytes()
    } else {
        bytes
    };
    let version = match read_as {
        "1.3" => SpecVersion::V1_3,
        "1.4" => SpecVersion::V1_4,
        _ => SpecVersion::V1_5,
    };
    let bom =
        Bom::parse_from_xml_with_version(input, version).map_err(|e| SbomError::Parse { message: e.to_string() })?;
    Ok(normalise(bom, Format::CyclonedxXml, declared.to_string(), notes))
}

/// Moves an XML document into the namespace of the version it is read as.
fn lower_namespace(text: &str, declared: &str, read_as: &str) -> String {
    text.replace(
        &format!("http://cyclonedx.org/schema/bom/{declared}"),
        &format!("http://cyclonedx.org/schema/bom/{read_as}"),
    )
}

fn normalise(bom: Bom, format: Format, spec_version: String, notes: Vec<String>) -> Sbom {
    let mut sbom = Sbom {
        format: Some(format),
        spec_version,
        id: bom.serial_number.as_ref().map(|s| s.to_string()),
        notes,
        ..Default::default()
    };
    if let Some(meta) = &bom.metadata {
        sbom.created = meta.timestamp.as_ref().map(|t| t.to_string());
        match &meta.tools {
            Some(cyclonedx_bom::models::tool::Tools::List(tools)) => sbom.tools.extend(tools.iter().filter_map(|t| {
                Some(Tool {
                    vendor: t.vendor.as_ref().map(|s| s.to_string()),
                    name: t.name.as_ref()?.to_string(),
                    version: t.version.as_ref().map(|s| s.to_string()),
                })
            })),
            Some(cyclonedx_bom::models::tool::Tools::Object { components, services }) => {
                for c in components.iter().flat_map(|c| &c.0) {
                    sbom.tools.push(Tool {
                        vendor: c.author.as_ref().or(c.publisher.as_ref()).map(|s| s.to_string()),
                        name: c.name.to_string(),
                        version: c.version.as_ref().map(|s| s.to_string()),
                    });
                }
                for s in services.iter().flat_map(|s| &s.0) {
                    sbom.tools.push(Tool {
                        vendor: s.provider.as_ref().and_then(|p| p.name.as_ref()).map(|s| s.to_string()),
                        name: s.name.to_string(),
                        version: s.version.as_ref().map(|s| s.to_string()),
                    });
                }
            }
            None => {}
        }
        if let Some(c) = &meta.component {
            sbom.subjects.push(component(c, "metadata.component"));
        }
    }
    // Components nest (a container holding libraries) under
    // `metadata.component` as under any component; the model is flat: the
    // described component is a subject, everything it or the document
    // lists, at any depth, a component.
    let described = bom.metadata.as_ref().and_then(|m| m.component.as_ref());
    let mut top: Vec<(&CdxComponent, String)> = Vec::new();
    for (i, c) in described.and_then(|c| c.components.as_ref()).map_or(&[][..], |c| &c.0[..]).iter().enumerate() {
        top.push((c, format!("metadata.component.components[{i}]")));
    }
    for (i, c) in bom.components.as_ref().map_or(&[][..], |c| &c.0[..]).iter().enumerate() {
        top.push((c, format!("components[{i}]")));
    }
    let mut stack: Vec<(&CdxComponent, String)> = top.into_iter().rev().collect();
    while let Some((c, at)) = stack.pop() {
        sbom.components.push(component(c, &at));
        for (i, child) in c.components.as_ref().map_or(&[][..], |c| &c.0[..]).iter().enumerate().rev() {
            stack.push((child, format!("{at}.components[{i}]")));
        }
    }
    sbom.dependencies = bom
        .dependencies
        .iter()
        .flat_map(|d| &d.0)
        .map(|d| Dependency { reference: d.dependency_ref.clone(), depends_on: d.dependencies.clone() })
        .collect();
    sbom
}

fn component(c: &CdxComponent, at: &str) -> Component {
    let mut licenses = Vec::new();
    for choice in c.licenses.iter().flat_map(|l| &l.0) {
        match choice {
            LicenseChoice::Expression(e) => licenses.push(e.to_string()),
            LicenseChoice::License(l) => licenses.push(match &l.license_identifier {
                LicenseIdentifier::SpdxId(id) => id.to_string(),
                LicenseIdentifier::Name(name) => model::license_ref(name.as_ref()),
            }),
        }
    }
    let name = match &c.group {
        Some(g) if !g.to_string().is_empty() => format!("{g}/{}", c.name),
        _ => c.name.to_string(),
    };
    Component {
        reference: c.bom_ref.clone().unwrap_or_else(|| at.to_string()),
        kind: c.component_type.to_string(),
        name,
        version: c.version.as_ref().map(|v| v.to_string()),
        purl: c.purl.as_ref().map(|p| p.to_string()),
        cpes: c.cpe.iter().map(|c| c.to_string()).collect(),
        license: model::and_all(&licenses),
        hashes: c
            .hashes
            .iter()
            .flat_map(|h| &h.0)
            .map(|h| Hash { algorithm: model::hash_algorithm(&h.alg.to_string()), value: h.content.0.clone() })
            .collect(),
        supplier: c.supplier.as_ref().and_then(|s| s.name.as_ref()).map(|n| n.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Components nested under `metadata.component` and under other
    /// components are all in the model, in document order; the described
    /// component itself is the subject.
    #[test]
    fn nested_components_at_every_level() {
        for version in ["1.5", "1.6"] {
            let doc = serde_json::json!({
                "bomFormat": "CycloneDX", "specVersion": version, "version": 1,
                "metadata": {"component": {"type": "container", "name": "image", "components": [
                    {"type": "library", "name": "under-subject", "components": [{"type": "library", "name": "deeper"}]},
                ]}},
                "components": [{"type": "library", "name": "top", "components": [{"type": "library", "name": "child"}]}],
            });
            let sbom = from_json_bytes(doc.to_string().as_bytes(), version).unwrap();
            assert_eq!(sbom.subjects.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["image"]);
            let names: Vec<&str> = sbom.components.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(names, ["under-subject", "deeper", "top", "child"], "{version}");
            assert_eq!(sbom.components[1].reference, "metadata.component.components[0].components[0]");
        }
    }
}
