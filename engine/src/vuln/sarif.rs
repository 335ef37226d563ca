//! SARIF 2.1.0 for `portcullis vulns`: one rule per vulnerability (its
//! summary, aliases and advisory link), one result per vulnerable package
//! found, with `security-severity` (the CVSS score GitHub code scanning
//! ranks by) and the file inside the image as a location under
//! `IMAGE_ROOT`.

use super::matcher::{Match, Matches, Reach};
use serde_sarif::sarif::{
    Location, LogicalLocation, Message, MultiformatMessageString, PropertyBag, ReportingDescriptor,
    Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
};
use std::collections::BTreeMap;

fn props(pairs: Vec<(&str, serde_json::Value)>) -> PropertyBag {
    PropertyBag::builder()
        .additional_properties(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<BTreeMap<_, _>>())
        .build()
}

fn level(m: &Match) -> ResultLevel {
    match (m.score.as_ref().map(|s| s.score), m.reach) {
        (_, Reach::Present | Reach::Module) => ResultLevel::Note,
        (Some(s), _) if s >= 7.0 => ResultLevel::Error,
        (Some(_), _) => ResultLevel::Warning,
        // Unscored: as the policy's default (`unscored = "deny"`) counts it.
        (None, _) => ResultLevel::Error,
    }
}

/// One run over every subject's matches (subject name, platform, matches).
pub fn render(subjects: &[(String, Option<String>, &Matches)]) -> String {
    let mut rules: BTreeMap<String, ReportingDescriptor> = BTreeMap::new();
    let mut results = Vec::new();
    for (subject, platform, matches) in subjects {
        for m in &matches.matches {
            rules.entry(m.id.clone()).or_insert_with(|| {
                let text = m.summary.clone().unwrap_or_else(|| m.id.clone());
                let mut d = ReportingDescriptor::builder()
                    .id(m.id.clone())
                    .short_description(MultiformatMessageString::builder().text(text).build())
                    .properties(props(vec![
                        ("aliases", serde_json::json!(m.aliases)),
                        ("security-severity", m.score.as_ref().map(|s| format!("{:.1}", s.score)).into()),
                        ("tags", serde_json::json!(["security", "vulnerability"])),
                    ]))
                    .build();
                d.help_uri = m.references.first().cloned();
                d
            });
            let logical = LogicalLocation::builder()
                .fully_qualified_name(subject.clone())
                .name(platform.clone().unwrap_or_else(|| "image".into()))
                .kind("image")
                .build();
            let mut location = Location::builder().logical_locations(vec![logical]).build();
            if let Some(path) = &m.found.path {
                location.physical_location = Some(crate::report::sarif::in_image(path));
            }
            let fixed = m.fixed.as_deref().map(|f| format!(", fixed in {f}")).unwrap_or_default();
            let text = format!("{} {} {}{fixed} ({:?}) in {}", m.id, m.package, m.installed, m.reach, m.found.origin);
            results.push(
                SarifResult::builder()
                    .rule_id(m.id.clone())
                    .level(level(m))
                    .message(Message::builder().text(text).build())
                    .locations(vec![location])
                    .properties(props(vec![
                        ("package", m.package.clone().into()),
                        ("installed", m.installed.clone().into()),
                        ("fixed", m.fixed.clone().into()),
                        ("reach", serde_json::to_value(m.reach).unwrap_or_default()),
                        ("symbols", serde_json::json!(m.symbols)),
                        ("security-severity", m.score.as_ref().map(|s| format!("{:.1}", s.score)).into()),
                    ]))
                    .build(),
            );
        }
    }
    let driver = ToolComponent::builder()
        .name("portcullis")
        .version(env!("CARGO_PKG_VERSION"))
        .information_uri("https://example.invalid/portcullis")
        .rules(rules.into_values().collect::<Vec<_>>())
        .build();
    let run = Run::builder().tool(Tool::builder().driver(driver).build()).results(results).build();
    let sarif = Sarif::builder()
        .version(serde_json::Value::from("2.1.0"))
        .schema("https://json.schemastore.org/sarif-2.1.0.json")
        .runs(vec![run])
        .build();
    serde_json::to_string_pretty(&sarif).unwrap_or_default()
}
