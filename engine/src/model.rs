//! The domain vocabulary shared by policy, plugin host, verdict and report:
//! severities, enforcement modes, outcomes, rule metadata and findings.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The 0.0–10.0 score code-scanning dashboards rank by (SARIF
    /// `security-severity`; GitHub's bands: 9.0+ critical, 7.0+ high,
    /// 4.0+ medium, above 0 low).
    pub fn score(self) -> f64 {
        match self {
            Severity::Info => 0.0,
            Severity::Low => 3.0,
            Severity::Medium => 5.5,
            Severity::High => 8.0,
            Severity::Critical => 9.5,
        }
    }
}

/// What a failing rule does to the verdict. Ordered from weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    Audit,
    Warn,
    Enforce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
    Error,
}

/// What the engine does when a rule cannot decide (plugin crash, timeout,
/// unreadable evidence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Fail closed: an error on an enforced rule denies (the default).
    #[default]
    Deny,
    /// Report the error as a warning and decide on the other rules.
    Ignore,
}

macro_rules! display_as_serde {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let v = serde_json::to_value(self).map_err(|_| std::fmt::Error)?;
                f.write_str(v.as_str().unwrap_or("?"))
            }
        }
    )*};
}
display_as_serde!(Severity, Enforcement, Outcome, FailurePolicy);

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    Boolean(bool),
    Integer(i64),
    Float(f64),
    Text(String),
    TextList(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParamType {
    Boolean,
    Integer,
    Float,
    Text,
    TextList,
}

impl ParamType {
    pub fn describe(self) -> &'static str {
        match self {
            ParamType::Boolean => "a boolean",
            ParamType::Integer => "an integer",
            ParamType::Float => "a number",
            ParamType::Text => "a string",
            ParamType::TextList => "an array of strings",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ParamSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ParamType,
    pub description: String,
    pub default: ParamValue,
}

/// A rule as its plugin describes it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub description: String,
    pub remediation: String,
    pub default_severity: Severity,
    pub default_enforcement: Enforcement,
    pub params: Vec<ParamSpec>,
    /// The plugin that implements it.
    pub plugin: String,
    /// The kinds of subject it judges; the engine asks it about no other.
    pub targets: Vec<crate::evidence::SubjectKind>,
}

impl RuleInfo {
    /// Whether the rule judges this kind of subject.
    pub fn judges(&self, kind: crate::evidence::SubjectKind) -> bool {
        self.targets.contains(&kind)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
}

/// A plugin's finding before the policy is applied.
#[derive(Debug, Clone)]
pub struct RawFinding {
    pub rule: String,
    pub outcome: Outcome,
    /// An `error` for a reason outside the subject (the contract's
    /// `unavailable`: registry down, deadline), which the failure policy
    /// decides; every other error is the subject's doing and denies.
    pub outside: bool,
    pub message: String,
    pub location: Option<Location>,
    pub severity: Option<Severity>,
    pub remediation: Option<String>,
}
