//! The `[admission]` table of a policy: how the admission server applies it.
//!
//! ```toml
//! [admission]
//! exempt-namespaces = ["kube-system"]  # never judged (answered allowed)
//! mutate = true                        # /mutate pins tags to the judged digests
//! deadline-ms = 2500                   # per request; keep below the webhook timeout (3 s)
//!
//! [admission.cache]
//! capacity = 10000                     # verdicts kept (least recently used go first)
//! admit-ttl-s = 600                    # how long an admit is reused
//! deny-ttl-s = 120                     # how long a deny is reused (only denials that cannot change)
//! tag-ttl-s = 30                       # how long a tag → digest resolution is reused
//! ```
//!
//! When an image cannot be judged in time, or the registry fails, the
//! policy's `failure-policy` decides (`deny` by default).

use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AdmissionCfg {
    #[serde(default)]
    pub exempt_namespaces: Vec<String>,
    #[serde(default)]
    pub mutate: Option<bool>,
    #[serde(default)]
    pub deadline_ms: Option<u64>,
    #[serde(default)]
    pub cache: CacheCfg,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CacheCfg {
    #[serde(default)]
    pub capacity: Option<usize>,
    #[serde(default)]
    pub admit_ttl_s: Option<u64>,
    #[serde(default)]
    pub deny_ttl_s: Option<u64>,
    #[serde(default)]
    pub tag_ttl_s: Option<u64>,
}

/// The settings with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionSettings {
    pub exempt_namespaces: Vec<String>,
    pub mutate: bool,
    pub deadline: Duration,
    pub cache_capacity: usize,
    pub admit_ttl: Duration,
    pub deny_ttl: Duration,
    pub tag_ttl: Duration,
}

impl Default for AdmissionSettings {
    fn default() -> Self {
        AdmissionCfg::default().settings()
    }
}

impl AdmissionSettings {
    /// Whether the workload's namespace is exempt (answered allowed, unjudged).
    pub fn exempts(&self, w: &super::Workload) -> bool {
        w.namespace.as_ref().is_some_and(|ns| self.exempt_namespaces.iter().any(|e| e == ns))
    }
}

impl AdmissionCfg {
    pub fn settings(&self) -> AdmissionSettings {
        AdmissionSettings {
            exempt_namespaces: self.exempt_namespaces.clone(),
            mutate: self.mutate.unwrap_or(true),
            deadline: Duration::from_millis(self.deadline_ms.unwrap_or(2500)),
            cache_capacity: self.cache.capacity.unwrap_or(10_000).max(1),
            admit_ttl: Duration::from_secs(self.cache.admit_ttl_s.unwrap_or(600)),
            deny_ttl: Duration::from_secs(self.cache.deny_ttl_s.unwrap_or(120)),
            tag_ttl: Duration::from_secs(self.cache.tag_ttl_s.unwrap_or(30)),
        }
    }
}
