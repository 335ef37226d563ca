//! Reports: the verdict and its reasons, per subject, in three renderings —
//! human (terminal), JSON (versioned, documented in `docs/report-format.md`,
//! schema in `docs/report-v1.schema.json`) and SARIF 2.1.0.

mod escape;
pub mod human;
pub mod rules_doc;
pub mod sarif;
pub mod vsa;

use crate::evidence::{Subject, SubjectKind};
use crate::model::{Enforcement, FailurePolicy, Location, Outcome, RuleInfo, Severity};
use crate::policy::{Policy, Waiver};
use crate::source::{Input, InputFormat};
use serde::Serialize;

/// Identifies the JSON report format; bumped on incompatible changes.
pub const SCHEMA: &str = "portcullis.report/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Admit,
    Deny,
}

/// What a finding did to the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Denies the subject.
    Deny,
    /// Reported as a warning.
    Warn,
    /// A failure covered by a waiver.
    Waived,
    /// No effect (pass, skip, or an audit-only rule).
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: String,
    pub title: String,
    pub outcome: Outcome,
    pub severity: Severity,
    pub enforcement: Enforcement,
    pub effect: Effect,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<Waiver>,
    /// Of a policy of several files: the file the rule comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_file: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubjectReport {
    pub kind: SubjectKind,
    pub reference: String,
    pub repository: Option<String>,
    pub digest: String,
    pub media_type: String,
    /// `os/arch[/variant]`; null for an index.
    pub platform: Option<String>,
    pub parent_index: Option<String>,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
}

impl SubjectReport {
    /// The report of one subject; its verdict is deny when any finding denies.
    pub fn new(s: &Subject, findings: Vec<Finding>) -> Self {
        let verdict = if findings.iter().any(|f| f.effect == Effect::Deny) { Verdict::Deny } else { Verdict::Admit };
        SubjectReport {
            kind: s.kind,
            reference: s.reference.clone(),
            repository: s.repository.clone(),
            digest: s.digest.to_string(),
            media_type: s.media_type.clone(),
            platform: if s.kind == SubjectKind::Index { None } else { s.platform.as_ref().map(|p| p.short()) },
            parent_index: s.parent_index.as_ref().map(|d| d.to_string()),
            verdict,
            findings,
        }
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        self.findings.iter().filter(|f| f.outcome == outcome).count()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct WaiverUse {
    pub subject: String,
    pub rule: String,
    pub waiver: Waiver,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyRef {
    pub name: String,
    pub version: String,
    pub source: String,
    pub digest: String,
    pub enforcement: Enforcement,
    pub failure_policy: FailurePolicy,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputRef {
    pub path: String,
    pub format: InputFormat,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub tool: Tool,
    pub verdict: Verdict,
    pub policy: PolicyRef,
    pub input: InputRef,
    pub subjects: Vec<SubjectReport>,
    pub waivers_used: Vec<WaiverUse>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    /// Metadata of every rule the policy runs (used by SARIF; not serialised).
    #[serde(skip)]
    pub rules: std::sync::Arc<[RuleInfo]>,
}

impl Report {
    pub fn new(
        policy: &Policy,
        input: &Input,
        verdict: Verdict,
        subjects: Vec<SubjectReport>,
        waivers_used: Vec<WaiverUse>,
        warnings: Vec<String>,
        rules: std::sync::Arc<[RuleInfo]>,
    ) -> Report {
        Report {
            schema: SCHEMA,
            tool: Tool { name: "portcullis", version: env!("CARGO_PKG_VERSION") },
            verdict,
            policy: PolicyRef {
                name: policy.name.clone(),
                version: policy.version.clone(),
                source: policy.source.clone(),
                digest: policy.digest.to_string(),
                enforcement: policy.enforcement,
                failure_policy: policy.failure_policy,
            },
            input: InputRef { path: input.path.display().to_string(), format: input.format },
            subjects,
            waivers_used,
            warnings,
            notes: input.notes.clone(),
            rules,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
    }
}
