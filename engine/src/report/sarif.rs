//! SARIF 2.1.0 rendering, for code-scanning dashboards (GitHub, GitLab,
//! Azure DevOps). One run; every rule of the policy is a `reportingDescriptor`
//! with its documentation; every failing or undecidable finding is a result
//! (waived failures carry a suppression with the waiver's justification).
//! Subjects are logical locations (`image@digest`), files inside an image are
//! physical locations relative to the `IMAGE_ROOT` base.

use super::{Effect, Report};
use crate::model::{Enforcement, Outcome};
use serde_sarif::sarif::{
    ArtifactLocation, Location, LogicalLocation, Message, MultiformatMessageString, PhysicalLocation, PropertyBag,
    ReportingConfiguration, ReportingDescriptor, Result as SarifResult, ResultKind, ResultLevel, Run, Sarif,
    Suppression, Tool, ToolComponent,
};
use std::collections::BTreeMap;

fn props(pairs: &[(&str, serde_json::Value)]) -> PropertyBag {
    let map: BTreeMap<String, serde_json::Value> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    PropertyBag::builder().additional_properties(map).build()
}

/// A file inside an image, relative to the `IMAGE_ROOT` base.
pub fn in_image(path: &str) -> PhysicalLocation {
    PhysicalLocation::builder()
        .artifact_location(
            ArtifactLocation::builder().uri(path.trim_start_matches('/').to_string()).uri_base_id("IMAGE_ROOT").build(),
        )
        .build()
}

fn default_level(e: Enforcement) -> &'static str {
    match e {
        Enforcement::Enforce => "error",
        Enforcement::Warn => "warning",
        Enforcement::Audit => "note",
    }
}

pub fn render(r: &Report) -> String {
    // A rule's severity as this policy configures it: what its findings
    // carry (the highest, should a plugin raise one), else its default.
    let severity = |rule: &crate::model::RuleInfo| {
        r.subjects
            .iter()
            .flat_map(|s| &s.findings)
            .filter(|f| f.rule == rule.id)
            .map(|f| f.severity)
            .max()
            .unwrap_or(rule.default_severity)
    };
    let rules: Vec<ReportingDescriptor> = r
        .rules
        .iter()
        .map(|rule| {
            ReportingDescriptor::builder()
                .id(rule.id.clone())
                .name(rule.title.clone())
                .short_description(MultiformatMessageString::builder().text(rule.title.clone()).build())
                .full_description(MultiformatMessageString::builder().text(rule.description.clone()).build())
                .help(MultiformatMessageString::builder().text(rule.remediation.clone()).build())
                .default_configuration(
                    ReportingConfiguration::builder()
                        .level(serde_json::Value::from(default_level(rule.default_enforcement)))
                        .build(),
                )
                .help_uri(super::rules_doc::help_uri(&rule.id))
                .properties(props(&[
                    ("plugin", rule.plugin.clone().into()),
                    ("severity", severity(rule).to_string().into()),
                    // What GitHub code scanning ranks alerts by.
                    ("security-severity", format!("{:.1}", severity(rule).score()).into()),
                    ("tags", serde_json::json!(["container", "policy", "security"])),
                ]))
                .build()
        })
        .collect();

    let mut results = Vec::new();
    for s in &r.subjects {
        for f in &s.findings {
            if !matches!(f.outcome, Outcome::Fail | Outcome::Error) {
                continue;
            }
            let level = match f.effect {
                Effect::Deny => ResultLevel::Error,
                Effect::Warn => ResultLevel::Warning,
                Effect::Waived | Effect::None => ResultLevel::Note,
            };
            let kind = if f.outcome == Outcome::Error { ResultKind::Open } else { ResultKind::Fail };
            let logical = LogicalLocation::builder()
                .fully_qualified_name(format!("{}@{}", s.reference, s.digest))
                .name(s.platform.clone().unwrap_or_else(|| format!("{:?}", s.kind).to_lowercase()))
                .kind(if s.kind == crate::evidence::SubjectKind::Artifact { "resource" } else { "image" })
                .build();
            let mut location = Location::builder().logical_locations(vec![logical]).build();
            if let Some(path) = f.location.as_ref().and_then(|l| l.path.as_ref()) {
                location.physical_location = Some(in_image(path));
            }
            let fingerprint = crate::digest::Digest::sha256(
                format!("{}\0{}\0{}\0{:?}", f.rule, s.digest, f.message, f.location).as_bytes(),
            );
            let mut result = SarifResult::builder()
                .rule_id(f.rule.clone())
                .level(level)
                .kind(kind)
                .message(Message::builder().text(f.message.clone()).build())
                .locations(vec![location])
                .partial_fingerprints(BTreeMap::from([(
                    "portcullis/v1".to_string(),
                    fingerprint.encoded().to_string(),
                )]))
                .properties(props(&[
                    ("subject", s.digest.clone().into()),
                    ("platform", s.platform.clone().into()),
                    ("severity", f.severity.to_string().into()),
                    ("enforcement", f.enforcement.to_string().into()),
                    ("effect", serde_json::to_value(f.effect).unwrap_or_default()),
                    ("pointer", f.location.as_ref().and_then(|l| l.pointer.clone()).into()),
                ]))
                .build();
            if let Some(i) = r.rules.iter().position(|x| x.id == f.rule) {
                result.rule_index = Some(i as i64);
            }
            if let Some(w) = &f.waiver {
                result.suppressions = Some(vec![
                    Suppression::builder()
                        .kind(serde_json::Value::from("external"))
                        .justification(format!("{} (owner {}, policy line {})", w.reason, w.owner, w.line))
                        .build(),
                ]);
            }
            results.push(result);
        }
    }

    let driver = ToolComponent::builder()
        .name("portcullis")
        .version(r.tool.version)
        .semantic_version(r.tool.version)
        .information_uri(env!("CARGO_PKG_REPOSITORY"))
        .rules(rules)
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .properties(props(&[
            ("verdict", serde_json::to_value(r.verdict).unwrap_or_default()),
            ("policy", serde_json::to_value(&r.policy).unwrap_or_default()),
        ]))
        .build();
    let sarif = Sarif::builder()
        .version(serde_json::Value::from("2.1.0"))
        .schema("https://json.schemastore.org/sarif-2.1.0.json")
        .runs(vec![run])
        .build();
    serde_json::to_string_pretty(&sarif).expect("SARIF serialises")
}
