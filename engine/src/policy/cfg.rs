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
//! [[waivers]]
//! rule = "GO-CFG-002"
//! repository = "registry.acme.corp/legacy/*"
//! reason = "health endpoint arrives in v2"
//! owner = "team-legacy@acme.corp"
//! expires = 2027-03-31
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
    pub rules: BTreeMap<Spanned<String>, RuleCfg>,
    #[serde(default)]
    pub waivers: Vec<WaiverCfg>,
    /// `None` when the file has no `[admission]` table (of several policy
    /// files, at most one may set it).
    #[serde(default)]
    pub admission: Option<crate::admission::AdmissionCfg>,
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
