//! The `[admission]` table of a policy: how the admission server applies it.
//!
//! ```toml
//! [admission]
//! exempt-namespaces = ["kube-system"]  # never judged (answered allowed)
//! mutate = true                        # /mutate pins tags to the judged digests
//! deadline-ms = 2500                   # per request; keep below the webhook timeout (3 s)
//! registries = ["registry.acme.corp", "ghcr.io/acme/**"]  # images elsewhere are refused unseen
//! namespaces = ["prod-*"]             # this policy judges only these namespaces (default: all)
//!
//! [admission.cache]
//! capacity = 10000                     # verdicts kept (least recently used go first)
//! admit-ttl-s = 600                    # how long an admit is reused
//! deny-ttl-s = 120                     # how long a deny is reused (only denials that cannot change)
//! tag-ttl-s = 30                       # how long a tag → digest resolution is reused
//! ```
//!
//! When an image cannot be judged in time, or the registry fails, the
//! policy's `failure-policy` decides (`deny` by default). An image from a
//! registry outside `registries` is refused without a connection.

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
    /// Where images may come from: a registry host (`registry.acme.corp`,
    /// `localhost:5000`) or a repository glob (`ghcr.io/acme/**`). Empty:
    /// anywhere.
    #[serde(default)]
    pub registries: Vec<toml::Spanned<String>>,
    /// The namespaces this policy judges (globs; `*` stays within a name).
    /// Empty: every namespace. With several policies loaded by `serve`,
    /// every policy bound to a request's namespace applies.
    #[serde(default)]
    pub namespaces: Vec<toml::Spanned<String>>,
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
    /// `[admission] registries`, checked when the policy loads.
    pub registries: Vec<RegistryPattern>,
    /// `[admission] namespaces`, checked when the policy loads.
    pub namespaces: Vec<globset::Glob>,
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

/// One entry of `[admission] registries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryPattern {
    /// A registry host (port included), compared in lower case.
    Host(String),
    /// A glob over the normalised `host/repository` (`*` within a
    /// segment, `**` across them).
    Repository(globset::Glob),
}

impl RegistryPattern {
    /// Reads an entry; `Err` says what is wrong with it.
    pub fn parse(entry: &str) -> Result<RegistryPattern, String> {
        let e = entry.trim();
        if e.is_empty() || e.contains(char::is_whitespace) || e.contains("://") {
            return Err(format!(
                "`{entry}` is not a registry host or repository pattern (e.g. `registry.acme.corp`, `ghcr.io/acme/**`)"
            ));
        }
        if !e.contains('/') {
            return Ok(RegistryPattern::Host(e.to_ascii_lowercase()));
        }
        let (host, path) = e.split_once('/').unwrap_or((e, ""));
        let glob = format!("{}/{path}", host.to_ascii_lowercase());
        globset::GlobBuilder::new(&glob)
            .literal_separator(true)
            .build()
            .map(RegistryPattern::Repository)
            .map_err(|err| format!("`{entry}`: {err}"))
    }

    fn allows(&self, repository: &str) -> bool {
        match self {
            RegistryPattern::Host(h) => repository.split('/').next() == Some(h.as_str()),
            RegistryPattern::Repository(g) => g.compile_matcher().is_match(repository),
        }
    }
}

impl std::fmt::Display for RegistryPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryPattern::Host(h) => f.write_str(h),
            RegistryPattern::Repository(g) => f.write_str(g.glob()),
        }
    }
}

impl AdmissionSettings {
    /// Whether images of `repository` (normalised `host/path`, as
    /// [`crate::registry::repository_of`] writes it) may be judged at all;
    /// `Err` is the refusal, naming the allow-list. Decided before any
    /// connection is made.
    pub fn allows_registry(&self, repository: &str) -> Result<(), String> {
        if self.registries.is_empty() || self.registries.iter().any(|p| p.allows(repository)) {
            return Ok(());
        }
        let list: Vec<String> = self.registries.iter().map(ToString::to_string).collect();
        Err(format!(
            "{repository} is not in the policy's allowed registries ({}); no connection was made",
            list.join(", ")
        ))
    }

    /// Whether this policy judges workloads of `namespace` (the one the API
    /// server authorised): every namespace when the policy names none.
    pub fn binds(&self, namespace: Option<&str>) -> bool {
        self.namespaces.is_empty()
            || namespace.is_some_and(|ns| self.namespaces.iter().any(|g| g.compile_matcher().is_match(ns)))
    }

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
            // Checked with diagnostics when the policy is parsed.
            registries: self.registries.iter().filter_map(|r| RegistryPattern::parse(r.get_ref()).ok()).collect(),
            namespaces: self.namespaces.iter().filter_map(|n| namespace_glob(n.get_ref()).ok()).collect(),
            cache_capacity: self.cache.capacity.unwrap_or(10_000).max(1),
            admit_ttl: Duration::from_secs(self.cache.admit_ttl_s.unwrap_or(600)),
            deny_ttl: Duration::from_secs(self.cache.deny_ttl_s.unwrap_or(120)),
            tag_ttl: Duration::from_secs(self.cache.tag_ttl_s.unwrap_or(30)),
        }
    }
}

/// One entry of `[admission] namespaces`; `Err` says what is wrong with it.
pub fn namespace_glob(entry: &str) -> Result<globset::Glob, String> {
    if entry.trim().is_empty() || entry.contains('/') {
        return Err(format!("`{entry}` is not a namespace pattern (e.g. `prod-*`, `team-a`)"));
    }
    globset::GlobBuilder::new(entry).literal_separator(true).build().map_err(|e| format!("`{entry}`: {e}"))
}
