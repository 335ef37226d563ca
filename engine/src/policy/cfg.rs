//! The policy file format (TOML), as deserialised. Unknown keys are errors;
//! spans are kept wherever a later check may need to point back at the file.
//!
//! ```toml
//! [policy]
//! name = "go-container-baseline"
//! version = "1.0.0"
//! enforcement = "enforce"      # enforce | warn | audit: the strongest a rule may get by default
//! failure-policy = "deny"      # deny | ignore: what a rule undecided for a reason outside the subject does
//! include = ["builtin:supply-chain", "team.toml"]   # applied with this file
//!
//! [plugins.image-config]       # a builtin plugin, by name
//! [plugins.acme]               # an external plugin, pinned
//! path = "acme.wasm"
//! sha256 = "<64 hex>"
//! fuel = 500_000_000
//! timeout-ms = 1000
//! memory-mb = 64
//!
//! [rules.GO-CFG-001]
//! enforcement = "enforce"
//! severity = "high"
//! params = { allow_named_user = false }
//!
//! [[rules.custom]]             # an inline rule: a CEL expression over the evidence
//! id = "ACME-001"
//! title = "Images name their owning team"
//! expression = "'team' in labels"
//! message = "'no team label on ' + subject.reference"
//! severity = "medium"
//! targets = ["image"]          # image | index | artifact | workload
//!
//! [[waivers]]
//! rule = "GO-CFG-002"
//! repository = "registry.acme.corp/legacy/*"
//! reason = "health endpoint arrives in v2"
//! owner = "team-legacy@acme.corp"
//! expires = 2027-03-31
//!
//! [gate]                       # `portcullis gate`: the repositories this policy judges
//! repositories = ["registry.acme.corp/payments/**"]
//!
//! [[waivers]]                  # workload rules are scoped by namespace / kind / name
//! rule = "K8S-002"
//! namespace = "legacy-*"
//! kind = "Deployment"
//! name = "batch-*"
//! reason = "runs as root until the v2 image"
//! owner = "team-legacy@acme.corp"
//! ```

use crate::model::{Enforcement, FailurePolicy, Severity};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyFile {
    pub policy: PolicySection,
    #[serde(default)]
    pub plugins: BTreeMap<Spanned<String>, PluginCfg>,
    #[serde(default)]
    pub rules: RulesCfg,
    #[serde(default)]
    pub waivers: Vec<WaiverCfg>,
    /// `None` when the file has no `[admission]` table (of several policy
    /// files, at most one may set it).
    #[serde(default)]
    pub admission: Option<crate::admission::AdmissionCfg>,
    /// `None` when the file has no `[gate]` table (at most one file may set it).
    #[serde(default)]
    pub gate: Option<crate::gate::cfg::GateCfg>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicySection {
    pub name: Spanned<String>,
    pub version: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "default_enforcement")]
    pub enforcement: Enforcement,
    #[serde(default)]
    pub failure_policy: FailurePolicy,
    /// Other policy files applied with this one: paths relative to this
    /// file, or `builtin:NAME` for an embedded pack.
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
}

fn default_enforcement() -> Enforcement {
    Enforcement::Enforce
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PluginCfg {
    /// External plugin: path to a `.wasm` component, relative to the policy file.
    #[serde(default)]
    pub path: Option<Spanned<String>>,
    /// Required with `path`: the component's sha256 (hex).
    #[serde(default)]
    pub sha256: Option<Spanned<String>>,
    #[serde(default)]
    pub fuel: Option<Spanned<u64>>,
    #[serde(default)]
    pub timeout_ms: Option<Spanned<u64>>,
    #[serde(default)]
    pub memory_mb: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RuleCfg {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub enforcement: Option<Enforcement>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub params: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
}

/// The `[rules]` table: `[rules.ID]` settings of plugin rules, and the
/// `[[rules.custom]]` array of inline rules (`custom` is not a rule id).
#[derive(Debug, Default)]
pub struct RulesCfg {
    pub by_id: BTreeMap<Spanned<String>, RuleCfg>,
    pub custom: Vec<CustomRuleCfg>,
}

impl<'de> Deserialize<'de> for RulesCfg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RulesCfg;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table of rule settings, and `[[rules.custom]]` entries")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RulesCfg, A::Error> {
                let mut out = RulesCfg::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    if key.get_ref() == "custom" {
                        out.custom = map.next_value()?;
                    } else {
                        let value = map.next_value()?;
                        out.by_id.insert(key, value);
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Visit)
    }
}

/// A custom rule (`[[rules.custom]]`): its own metadata, and CEL
/// expressions the `cel` plugin evaluates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CustomRuleCfg {
    pub id: Spanned<String>,
    pub title: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub remediation: Option<String>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub enforcement: Option<Enforcement>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The kinds of subject it judges (default: images).
    #[serde(default)]
    pub targets: Option<Spanned<Vec<Spanned<String>>>>,
    /// A CEL expression that is true when the subject passes.
    pub expression: Spanned<String>,
    /// A CEL expression giving the message of a failure (a string).
    #[serde(default)]
    pub message: Option<Spanned<String>>,
    /// A CEL expression that is false when the rule does not apply.
    #[serde(default)]
    pub when: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WaiverCfg {
    pub rule: Spanned<String>,
    #[serde(default)]
    pub repository: Option<Spanned<String>>,
    #[serde(default)]
    pub digest: Option<Spanned<String>>,
    /// Workload rules: a namespace glob (the namespace the API server authorised).
    #[serde(default)]
    pub namespace: Option<Spanned<String>>,
    /// Workload rules: the workload kind (`Deployment`, `Pod`, ...).
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
    /// Workload rules: a glob on the workload's name.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    pub reason: Spanned<String>,
    pub owner: Spanned<String>,
    #[serde(default)]
    pub expires: Option<Spanned<toml::value::Datetime>>,
}
