//! VEX: statements that a vulnerability does not affect (or was fixed in)
//! a product, from OpenVEX and CycloneDX VEX documents.
//!
//! Why so narrow a match: a VEX statement removes a finding, so one that
//! could apply to the wrong image would be a way to silence a scanner. A
//! statement is applied only when it names the vulnerability (its ID or an
//! alias) and either this image — its digest, as `sha256:…` or the version
//! of a `pkg:oci` purl — optionally narrowed to subcomponents, or the
//! vulnerable package itself by purl (`pkg:golang/golang.org/x/text`, with
//! or without a version; a version must be the installed one). Everything
//! else in the document is ignored, and every statement applied is listed.

use super::matcher::Match;

/// One usable statement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Statement {
    /// `CVE-…`, `GO-…`, `GHSA-…`.
    pub vulnerability: String,
    /// Image digests (`sha256:…`) and package purls the statement names.
    pub products: Vec<String>,
    /// Package purls inside the products it is narrowed to.
    pub subcomponents: Vec<String>,
    /// `not_affected`, `fixed`, `affected`, `under_investigation`.
    pub status: String,
    pub justification: Option<String>,
    /// `file:PATH`.
    pub document: String,
}

/// What a statement says of one match.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub status: String,
    pub justification: Option<String>,
    pub document: String,
}

impl Applied {
    /// `not_affected` and `fixed` set the vulnerability aside; `affected`
    /// and `under_investigation` leave it counted.
    pub fn sets_aside(&self) -> bool {
        matches!(self.status.as_str(), "not_affected" | "fixed")
    }
}

/// Reads an OpenVEX or CycloneDX VEX document.
pub fn parse(bytes: &[u8], document: &str) -> Result<Vec<Statement>, String> {
    crate::nesting::json(bytes, crate::nesting::DOCUMENT).map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("statements").is_some() {
        openvex(&v, document)
    } else if v.get("bomFormat").and_then(|f| f.as_str()) == Some("CycloneDX") {
        cyclonedx(&v, document)
    } else {
        Err("neither an OpenVEX document (`statements`) nor a CycloneDX VEX (`bomFormat`, `vulnerabilities`)".into())
    }
}

fn text(v: &serde_json::Value) -> Option<String> {
    v.as_str().map(str::to_string).or_else(|| v.get("@id").and_then(|i| i.as_str()).map(str::to_string))
}

fn openvex(v: &serde_json::Value, document: &str) -> Result<Vec<Statement>, String> {
    let list = v["statements"].as_array().ok_or("`statements` is not a list")?;
    let mut out = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let at = |what: &str| format!("/statements/{i}: {what}");
        let vuln = &s["vulnerability"];
        let vulnerability = vuln.get("name").and_then(|n| n.as_str()).map(str::to_string).or_else(|| text(vuln));
        let vulnerability = vulnerability.ok_or_else(|| at("no vulnerability name"))?;
        let status = s["status"].as_str().ok_or_else(|| at("no status"))?.to_string();
        if !matches!(status.as_str(), "not_affected" | "affected" | "fixed" | "under_investigation") {
            return Err(at(&format!("unknown status `{status}`")));
        }
        let mut products = Vec::new();
        let mut subcomponents = Vec::new();
        for p in s["products"].as_array().into_iter().flatten() {
            products.extend(text(p));
            for sub in p["subcomponents"].as_array().into_iter().flatten() {
                subcomponents.extend(text(sub));
            }
        }
        out.push(Statement {
            vulnerability,
            products,
            subcomponents,
            status,
            justification: s["justification"].as_str().map(str::to_string),
            document: document.to_string(),
        });
    }
    Ok(out)
}

fn cyclonedx(v: &serde_json::Value, document: &str) -> Result<Vec<Statement>, String> {
    // bom-refs of the document's components → their purls.
    let mut refs = std::collections::HashMap::new();
    let mut stack: Vec<&serde_json::Value> = v["components"].as_array().into_iter().flatten().collect();
    stack.extend(v["metadata"].get("component"));
    while let Some(c) = stack.pop() {
        if let (Some(r), Some(p)) = (c["bom-ref"].as_str(), c["purl"].as_str()) {
            refs.insert(r.to_string(), p.to_string());
        }
        stack.extend(c["components"].as_array().into_iter().flatten());
    }
    let mut out = Vec::new();
    for (i, x) in v["vulnerabilities"].as_array().into_iter().flatten().enumerate() {
        let id = x["id"].as_str().ok_or_else(|| format!("/vulnerabilities/{i}: no id"))?.to_string();
        let Some(state) = x["analysis"]["state"].as_str() else { continue };
        let status = match state {
            "not_affected" | "false_positive" => "not_affected",
            "resolved" | "resolved_with_pedigree" => "fixed",
            "exploitable" => "affected",
            "in_triage" => "under_investigation",
            other => return Err(format!("/vulnerabilities/{i}/analysis/state: unknown state `{other}`")),
        };
        let products = x["affects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["ref"].as_str())
            .map(|r| refs.get(r).cloned().unwrap_or_else(|| r.to_string()))
            .collect();
        out.push(Statement {
            vulnerability: id,
            products,
            subcomponents: Vec::new(),
            status: status.to_string(),
            justification: x["analysis"]["justification"].as_str().map(str::to_string),
            document: document.to_string(),
        });
    }
    Ok(out)
}

/// in-toto predicate types that carry a VEX document: OpenVEX
/// (`cosign attest --type openvex`, any version of the namespace) and
/// CycloneDX (`https://cyclonedx.org/vex`, or a BOM with `vulnerabilities`).
fn is_vex_predicate(predicate_type: &str) -> bool {
    predicate_type.starts_with("https://openvex.dev/ns")
        || predicate_type == "https://cyclonedx.org/vex"
        || predicate_type.starts_with("https://cyclonedx.org/bom")
}

/// The statements of a VEX document carried by a verified attestation, when
/// the attestation is one: `Ok(None)` when its predicate is not VEX or its
/// in-toto subjects name neither `digest` nor `index` (the statement is about
/// another image, so nothing in it may apply here); an error when the
/// predicate says VEX but cannot be read as such.
pub fn from_attestation(
    statement: &[u8],
    digest: &str,
    index: Option<&str>,
    document: &str,
) -> Result<Option<Vec<Statement>>, String> {
    let st = crate::attestation::statement(crate::attestation::IN_TOTO, statement)?;
    if !is_vex_predicate(&st.predicate_type) {
        return Ok(None);
    }
    let names = st.subject_digests();
    if !names.iter().any(|d| d == digest || Some(d.as_str()) == index) {
        return Ok(None);
    }
    let bytes = serde_json::to_vec(&st.predicate).map_err(|e| format!("{document}: {e}"))?;
    parse(&bytes, document).map(Some).map_err(|e| format!("{document}: {} predicate: {e}", st.predicate_type))
}

/// The image digest a product names: `sha256:…`, or the version of a
/// `pkg:oci/…@sha256%3A…` purl.
fn product_digest(p: &str) -> Option<String> {
    if p.starts_with("sha256:") {
        return Some(p.to_string());
    }
    let purl: packageurl::PackageUrl<'_> = p.parse().ok()?;
    (purl.ty() == "oci").then(|| purl.version().map(|v| v.replace("%3A", ":").replace("%3a", ":")))?
}

/// Whether a package purl names the match's package (and version, if it
/// gives one).
fn names_package(p: &str, m: &Match) -> bool {
    let Ok(purl) = p.parse::<packageurl::PackageUrl<'_>>() else { return false };
    if super::matcher::package_name(&purl) != m.package {
        return false;
    }
    match purl.version() {
        None => true,
        Some(v) => {
            let (a, b) = (
                v.trim_start_matches("go").trim_start_matches('v'),
                m.installed.trim_start_matches("go").trim_start_matches('v'),
            );
            a == b
        }
    }
}

/// The statement that applies to a match in the image `digest`, if any
/// (the last one listed wins, as documents are read in order).
pub fn applies(statements: &[Statement], m: &Match, digest: &str) -> Option<Applied> {
    statements
        .iter()
        .filter(|s| s.vulnerability == m.id || m.aliases.contains(&s.vulnerability))
        .rfind(|s| {
            let image = s.products.iter().any(|p| product_digest(p).as_deref() == Some(digest));
            let narrowed = s.subcomponents.is_empty() || s.subcomponents.iter().any(|p| names_package(p, m));
            (image && narrowed) || s.products.iter().any(|p| names_package(p, m))
        })
        .map(|s| Applied {
            status: s.status.clone(),
            justification: s.justification.clone(),
            document: s.document.clone(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vuln::matcher::{Found, Reach};

    fn m(id: &str, aliases: &[&str], package: &str, installed: &str) -> Match {
        Match {
            id: id.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            summary: None,
            ecosystem: "Go".into(),
            package: package.into(),
            installed: installed.into(),
            fixed: None,
            published: None,
            score: None,
            severity_text: None,
            reach: Reach::Reachable,
            symbols: Vec::new(),
            found: Found { origin: "binary:/app".into(), path: None, layer: None },
            references: Vec::new(),
        }
    }

    const IMAGE: &str = "sha256:2e55a99aecdba81c24ac904357893a7ce599f513206fe2509f404d89257fba7e";

    #[test]
    fn openvex_applies_only_to_the_named_vulnerability_and_product() {
        let doc = format!(
            r#"{{"@context":"https://openvex.dev/ns/v0.2.0","statements":[
              {{"vulnerability":{{"name":"CVE-2021-38561"}},"products":[{{"@id":"pkg:oci/app@{}"}}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"}},
              {{"vulnerability":{{"name":"GO-2022-1059"}},"products":[{{"@id":"pkg:golang/golang.org/x/text@v0.3.5"}}],"status":"fixed"}},
              {{"vulnerability":{{"name":"GO-2026-5970"}},"products":[{{"@id":"pkg:oci/other@sha256:0000"}}],"status":"not_affected"}}
            ]}}"#,
            IMAGE.replace(':', "%3A")
        );
        let s = parse(doc.as_bytes(), "file:vex.json").unwrap();
        let text = m("GO-2021-0113", &["CVE-2021-38561"], "golang.org/x/text", "v0.3.5");
        let a = applies(&s, &text, IMAGE).unwrap();
        assert_eq!(
            (a.status.as_str(), a.justification.as_deref()),
            ("not_affected", Some("vulnerable_code_not_in_execute_path"))
        );
        // Another image: the statement names this one only.
        assert!(applies(&s, &text, "sha256:ffff").is_none());
        // By package purl, whatever the image; a different version is not named.
        assert_eq!(
            applies(&s, &m("GO-2022-1059", &[], "golang.org/x/text", "v0.3.5"), "sha256:ffff").unwrap().status,
            "fixed"
        );
        assert!(applies(&s, &m("GO-2022-1059", &[], "golang.org/x/text", "v0.3.6"), "sha256:ffff").is_none());
        // A statement for another product does not apply.
        assert!(applies(&s, &m("GO-2026-5970", &[], "golang.org/x/text", "v0.3.5"), IMAGE).is_none());
        // Another vulnerability is untouched.
        assert!(applies(&s, &m("GO-2099-0001", &[], "golang.org/x/text", "v0.3.5"), IMAGE).is_none());
    }

    #[test]
    fn cyclonedx_vex_maps_states_and_refs() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,
            "components":[{"bom-ref":"text","name":"text","purl":"pkg:golang/golang.org/x/text@v0.3.5"}],
            "vulnerabilities":[{"id":"GO-2021-0113","analysis":{"state":"not_affected","justification":"code_not_reachable"},"affects":[{"ref":"text"}]}]}"#;
        let s = parse(doc, "file:cdx.json").unwrap();
        assert_eq!(
            applies(&s, &m("GO-2021-0113", &[], "golang.org/x/text", "v0.3.5"), IMAGE).unwrap().status,
            "not_affected"
        );
        assert!(parse(br#"{"statements":[{"vulnerability":{"name":"X"},"status":"maybe"}]}"#, "f").is_err());
        assert!(parse(b"{}", "f").is_err());
    }
}
