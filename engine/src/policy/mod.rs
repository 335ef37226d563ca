//! Policies: which plugins run, how each rule is configured and enforced, and
//! which findings are waived. A policy is parsed on its own first (syntax,
//! structure, values), then resolved against the metadata of the plugins it
//! loads (rule ids, parameter names and types) — both steps report problems
//! at the exact line and column of the file.

pub mod cfg;
mod custom;
pub mod diags;
mod load;
mod read;

pub use custom::PLUGIN as CUSTOM_RULES_PLUGIN;
pub use diags::{Diagnostic, PolicyError};
pub use read::did_you_mean;

use crate::digest::Digest;
use crate::evidence::SubjectKind;
use crate::model::{Enforcement, FailurePolicy, ParamType, ParamValue, RuleInfo, Severity};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default policy pack, embedded so that `portcullis audit IMAGE` works
/// with no configuration.
pub const DEFAULT_POLICY_NAME: &str = "builtin:go-container-baseline";
pub const DEFAULT_POLICY_TEXT: &str = include_str!("../../../policies/go-container-baseline.toml");

/// Sandbox budget of one plugin call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// WebAssembly fuel (roughly, instructions) per call.
    pub fuel: u64,
    /// Wall-clock deadline per call.
    pub timeout: Duration,
    /// Linear-memory cap per instance.
    pub memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { fuel: 2_000_000_000, timeout: Duration::from_millis(500), memory_bytes: 64 << 20 }
    }
}

#[derive(Debug, Clone)]
pub enum PluginSource {
    Builtin,
    External { path: PathBuf, sha256: String, span: Range<usize> },
}

#[derive(Debug, Clone)]
pub struct PluginSpec {
    pub name: String,
    pub span: Range<usize>,
    pub source: PluginSource,
    pub limits: Limits,
    /// The policy files that declare it (the first one's `span`).
    pub files: Vec<usize>,
    /// Loaded because the policy has custom rules, not declared: a
    /// declaration elsewhere (with its limits) takes its place.
    pub implicit: bool,
}

/// A waiver as written, checked for form.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Waiver {
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub reason: String,
    pub owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The policy file it is in, and the line of its `rule`.
    #[serde(rename = "file")]
    pub file_name: String,
    pub line: usize,
    #[serde(skip)]
    repo_glob: Option<globset::GlobMatcher>,
    #[serde(skip)]
    namespace_glob: Option<globset::GlobMatcher>,
    #[serde(skip)]
    name_glob: Option<globset::GlobMatcher>,
    #[serde(skip)]
    expires_on: Option<jiff::civil::Date>,
    #[serde(skip)]
    rule_span: Range<usize>,
    #[serde(skip)]
    file: usize,
}

impl Waiver {
    pub fn is_expired(&self, today: jiff::civil::Date) -> bool {
        self.expires_on.is_some_and(|d| today > d)
    }

    /// The last day the waiver applies, if it expires.
    pub fn expires_on(&self) -> Option<jiff::civil::Date> {
        self.expires_on
    }

    /// Whether the waiver covers `rule` on a subject in this scope: every
    /// field the waiver names must match (a field the subject lacks does not).
    pub fn covers(&self, rule: &str, scope: &Scope<'_>) -> bool {
        fn glob(g: &Option<globset::GlobMatcher>, value: Option<&str>) -> bool {
            match (g, value) {
                (None, _) => true,
                (Some(g), Some(v)) => g.is_match(v),
                (Some(_), None) => false,
            }
        }
        let digest_ok = match &self.digest {
            None => true,
            Some(d) => scope.digests.contains(&d.as_str()),
        };
        let kind_ok = match &self.kind {
            None => true,
            Some(k) => scope.kind == Some(k.as_str()),
        };
        self.rule == rule
            && glob(&self.repo_glob, scope.repository)
            && digest_ok
            && glob(&self.namespace_glob, scope.namespace)
            && kind_ok
            && glob(&self.name_glob, scope.name)
    }

    /// Whether the waiver is scoped by workload fields (namespace, kind, name).
    fn scopes_workloads(&self) -> bool {
        self.namespace.is_some() || self.kind.is_some() || self.name.is_some()
    }

    /// Whether the waiver is scoped by image fields (repository, digest).
    fn scopes_images(&self) -> bool {
        self.repository.is_some() || self.digest.is_some()
    }
}

/// What a waiver can match a subject by.
#[derive(Debug, Clone, Default)]
pub struct Scope<'a> {
    pub repository: Option<&'a str>,
    /// The subject's digest, and its index's for a platform image.
    pub digests: Vec<&'a str>,
    pub namespace: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub name: Option<&'a str>,
}

impl<'a> Scope<'a> {
    pub fn of_subject(s: &'a crate::evidence::Subject) -> Scope<'a> {
        Scope {
            repository: s.repository.as_deref(),
            digests: [Some(s.digest.as_str()), s.parent_index.as_ref().map(|d| d.as_str())]
                .into_iter()
                .flatten()
                .collect(),
            ..Scope::default()
        }
    }

    pub fn of_workload(w: &'a crate::admission::Workload) -> Scope<'a> {
        Scope {
            namespace: w.namespace.as_deref(),
            kind: Some(w.kind.as_str()),
            name: w.name.as_deref(),
            ..Scope::default()
        }
    }
}

/// A parsed, form-checked policy: one file, or several applied together
/// (`--policy A --policy B`, `include`).
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    /// The strongest enforcement any of its files allows (for the report;
    /// each rule is capped by the file that configures or loads it).
    pub enforcement: Enforcement,
    /// `deny` when any of its files says so (for the report; each rule
    /// follows the file that configures or loads it).
    pub failure_policy: FailurePolicy,
    /// sha256 of the policy text (of each file's digest, for several):
    /// part of every verdict's identity.
    pub digest: Digest,
    /// Where it was read from (paths, or `builtin:...`), comma-separated.
    pub source: String,
    pub plugins: Vec<PluginSpec>,
    pub waivers: Vec<Waiver>,
    /// How the admission server applies this policy (`[admission]`).
    pub admission: crate::admission::AdmissionSettings,
    /// Which repositories the push gate judges by it (`[gate]`).
    pub gate: crate::gate::cfg::GateSettings,
    files: Vec<PolicyText>,
    rules: Vec<RuleEntry>,
    /// `[[rules.custom]]` of every file.
    custom: Vec<custom::CustomRule>,
}

/// One file of a policy.
#[derive(Debug, Clone)]
pub(crate) struct PolicyText {
    pub(crate) source: String,
    pub(crate) text: String,
    pub(crate) enforcement: Enforcement,
    pub(crate) failure_policy: FailurePolicy,
    /// Where its `[admission]` table starts, if it has one.
    pub(crate) admission_at: Option<Range<usize>>,
    /// Where its `[gate]` table starts, if it has one.
    pub(crate) gate_at: Option<Range<usize>>,
    /// Its `include` entries: (what, where), resolved by [`load`].
    pub(crate) includes: Vec<(String, Range<usize>)>,
}

/// A `[rules.ID]` table and the file it is in.
#[derive(Debug, Clone)]
pub(crate) struct RuleEntry {
    pub(crate) id: String,
    pub(crate) span: Range<usize>,
    pub(crate) cfg: cfg::RuleCfg,
    pub(crate) file: usize,
}

/// One rule as the engine will run it.
#[derive(Debug, Clone)]
pub struct RuleSetting {
    pub info: RuleInfo,
    pub enabled: bool,
    pub enforcement: Enforcement,
    pub severity: Severity,
    pub params: Vec<(String, ParamValue)>,
    /// What an enforced rule undecided for a reason outside the subject
    /// does: the failure policy of its file.
    pub failure_policy: FailurePolicy,
    /// Of a policy of several files: the file the rule comes from (that
    /// defines or configures it, else the first that loads its plugin), so
    /// a report can say which policy each finding came from.
    pub file: Option<String>,
}

/// A policy resolved against the plugins' rule metadata.
#[derive(Debug, Clone)]
pub struct RulePlan {
    pub rules: Vec<RuleSetting>,
    /// Non-fatal problems (expired waivers...), with `file:line`.
    pub warnings: Vec<String>,
}

fn span_of<T>(s: &toml::Spanned<T>) -> Range<usize> {
    s.span()
}

impl Policy {
    /// The embedded default pack.
    pub fn builtin_default() -> Policy {
        Policy::parse(DEFAULT_POLICY_NAME, DEFAULT_POLICY_TEXT, None).expect("the embedded default policy is valid")
    }

    /// Every builtin plugin with every rule at its defaults: what `explain`
    /// and `rules --all` describe, and where rule documentation comes from.
    pub fn all_builtins() -> Policy {
        let plugins: String = crate::plugin::builtin::names().iter().map(|n| format!("[plugins.{n}]\n")).collect();
        let text = format!("[policy]\nname = \"builtin:all\"\nversion = \"1\"\n\n{plugins}");
        Policy::parse("builtin:all", &text, None).expect("every builtin plugin loads")
    }

    /// One policy file and what it includes.
    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        load::load(&[path.to_path_buf()])
    }

    /// Several policy files (or `builtin:NAME` packs) applied together, with
    /// what they include: rules merged (a rule configured twice is an error
    /// naming both places), waivers from every file.
    pub fn load(paths: &[PathBuf]) -> Result<Policy, PolicyError> {
        load::load(paths)
    }

    /// Parses and form-checks one policy file (its `include`s are not
    /// followed: [`Policy::load`] does that). `base_dir` resolves relative
    /// plugin paths. On error, every problem found is reported, and the
    /// error carries what could be read so that later checks can add theirs.
    pub fn parse(source: &str, text: &str, base_dir: Option<&Path>) -> Result<Policy, PolicyError> {
        let (file, mut diags) = read::read(text);
        let Some(file) = file else {
            return Err(PolicyError::new(source, text, diags));
        };

        let p = &file.policy;
        if p.name.get_ref().trim().is_empty() {
            diags.push(Diagnostic::new("policy.name must not be empty", Some(span_of(&p.name))));
        }
        if p.version.get_ref().trim().is_empty() {
            diags.push(Diagnostic::new("policy.version must not be empty", Some(span_of(&p.version))));
        }
        let custom = custom::read(&file.rules.custom, text, &mut diags);
        if file.plugins.is_empty() && file.policy.include.is_empty() && custom.is_empty() {
            diags.push(Diagnostic::new("the policy loads no plugins, so it has no rules", None).with_note(format!(
                "add a [plugins.NAME] table; builtin plugins: {}",
                crate::plugin::builtin::names().join(", ")
            )));
        }

        let mut plugins = Vec::new();
        for (name, pc) in &file.plugins {
            let span = span_of(name);
            let name = name.get_ref().clone();
            let mut limits = Limits::default();
            if let Some(f) = &pc.fuel {
                if *f.get_ref() == 0 {
                    diags.push(Diagnostic::new("fuel must be greater than 0", Some(span_of(f))));
                }
                limits.fuel = *f.get_ref();
            }
            if let Some(t) = &pc.timeout_ms {
                if !(1..=60_000).contains(t.get_ref()) {
                    diags.push(Diagnostic::new("timeout-ms must be between 1 and 60000", Some(span_of(t))));
                }
                limits.timeout = Duration::from_millis(*t.get_ref());
            }
            if let Some(m) = &pc.memory_mb {
                if !(1..=4096).contains(m.get_ref()) {
                    diags.push(Diagnostic::new("memory-mb must be between 1 and 4096", Some(span_of(m))));
                }
                limits.memory_bytes = m.get_ref() << 20;
            }
            let source = match (&pc.path, &pc.sha256) {
                (None, None) => {
                    let builtins = crate::plugin::builtin::names();
                    if !builtins.contains(&name.as_str()) {
                        let mut d = Diagnostic::new(format!("no builtin plugin named `{name}`"), Some(span.clone()));
                        d = match read::did_you_mean(&name, builtins.iter().copied()) {
                            Some(best) => d.with_note(format!(
                                "did you mean `{best}`? (an external plugin needs `path` and `sha256`)"
                            )),
                            None => d.with_note(format!(
                                "builtin plugins: {}; an external plugin needs `path` and `sha256`",
                                builtins.join(", ")
                            )),
                        };
                        diags.push(d);
                    }
                    PluginSource::Builtin
                }
                (None, Some(sha)) => {
                    diags.push(Diagnostic::new(
                        "`sha256` pins an external plugin, but `path` is missing",
                        Some(span_of(sha)),
                    ));
                    PluginSource::Builtin
                }
                (Some(path), None) => {
                    diags.push(
                        Diagnostic::new(format!("external plugin `{name}` has no `sha256` pin"), Some(span_of(path)))
                            .with_note("add sha256 = \"<hex>\" (run `sha256sum` on the .wasm file)"),
                    );
                    PluginSource::Builtin
                }
                (Some(path), Some(sha)) => {
                    let hex = sha.get_ref().trim().to_ascii_lowercase();
                    let hex = hex.strip_prefix("sha256:").unwrap_or(&hex).to_string();
                    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        diags.push(Diagnostic::new("sha256 must be 64 hexadecimal characters", Some(span_of(sha))));
                    }
                    let rel = PathBuf::from(path.get_ref());
                    let full = match base_dir {
                        Some(b) if rel.is_relative() => b.join(rel),
                        _ => rel,
                    };
                    PluginSource::External { path: full, sha256: hex, span: span_of(path) }
                }
            };
            plugins.push(PluginSpec { name, span, source, limits, files: vec![0], implicit: false });
        }

        if !custom.is_empty() && !plugins.iter().any(|p| p.name == custom::PLUGIN) {
            let span = custom[0].id_span.clone();
            plugins.push(PluginSpec {
                name: custom::PLUGIN.to_string(),
                span,
                source: PluginSource::Builtin,
                limits: Limits::default(),
                files: vec![0],
                implicit: true,
            });
        }

        let has_admission = file.admission.is_some();
        let admission = file.admission.unwrap_or_default();
        for r in &admission.registries {
            if let Err(e) = crate::admission::RegistryPattern::parse(r.get_ref()) {
                diags.push(Diagnostic::new(format!("admission.registries: {e}"), Some(span_of(r))));
            }
        }
        for n in &admission.namespaces {
            if let Err(e) = crate::admission::namespace_glob(n.get_ref()) {
                diags.push(Diagnostic::new(format!("admission.namespaces: {e}"), Some(span_of(n))));
            }
        }

        let has_gate = file.gate.is_some();
        let mut gate = crate::gate::cfg::GateSettings::default();
        for r in file.gate.iter().flat_map(|g| &g.repositories) {
            match crate::gate::cfg::repository_glob(r.get_ref()) {
                Ok(m) => gate.repositories.push((r.get_ref().clone(), m)),
                Err(e) => diags.push(Diagnostic::new(format!("gate.repositories: {e}"), Some(span_of(r)))),
            }
        }

        let mut waivers = Vec::new();
        for w in &file.waivers {
            let rule_span = span_of(&w.rule);
            let line = text[..rule_span.start].matches('\n').count() + 1;
            if [&w.repository, &w.digest, &w.namespace, &w.kind, &w.name].iter().all(|f| f.is_none()) {
                diags.push(
                    Diagnostic::new(
                        "a waiver must name a `repository` glob and/or a `digest` (image rules), or a `namespace`, `kind` and/or `name` (workload rules)",
                        Some(rule_span.clone()),
                    )
                    .with_note("to turn a rule off everywhere, set `enabled = false` in its [rules.ID] table"),
                );
            }
            let mut glob = |field: &str, value: &Option<toml::Spanned<String>>| match value {
                // `*` stays within one path segment (`**` crosses `/`), and
                // a pattern matches the whole value: `*.acme.corp/app` is
                // not `evil.example/x.acme.corp/app`.
                Some(r) => match globset::GlobBuilder::new(r.get_ref()).literal_separator(true).build() {
                    Ok(g) => Some(g.compile_matcher()),
                    Err(e) => {
                        diags.push(Diagnostic::new(format!("invalid {field} glob: {e}"), Some(span_of(r))));
                        None
                    }
                },
                None => None,
            };
            let repo_glob = glob("repository", &w.repository);
            let namespace_glob = glob("namespace", &w.namespace);
            let name_glob = glob("name", &w.name);
            if let Some(d) = &w.digest
                && let Err(e) = Digest::parse(d.get_ref())
            {
                diags.push(Diagnostic::new(e, Some(span_of(d))));
            }
            for (field, value) in [("reason", &w.reason), ("owner", &w.owner)] {
                if value.get_ref().trim().is_empty() {
                    diags.push(Diagnostic::new(format!("waiver `{field}` must not be empty"), Some(span_of(value))));
                }
            }
            let expires_on = match &w.expires {
                Some(e) => match (e.get_ref().date, e.get_ref().time) {
                    (Some(d), None) => jiff::civil::Date::new(d.year as i16, d.month as i8, d.day as i8).ok(),
                    _ => {
                        diags.push(Diagnostic::new("`expires` must be a date such as 2027-03-31", Some(span_of(e))));
                        None
                    }
                },
                None => None,
            };
            waivers.push(Waiver {
                rule: w.rule.get_ref().clone(),
                repository: w.repository.as_ref().map(|r| r.get_ref().clone()),
                digest: w.digest.as_ref().map(|d| d.get_ref().clone()),
                namespace: w.namespace.as_ref().map(|d| d.get_ref().clone()),
                kind: w.kind.as_ref().map(|d| d.get_ref().clone()),
                name: w.name.as_ref().map(|d| d.get_ref().clone()),
                reason: w.reason.get_ref().clone(),
                owner: w.owner.get_ref().clone(),
                expires: expires_on.map(|d| d.to_string()),
                file_name: source.to_string(),
                line,
                repo_glob,
                namespace_glob,
                name_glob,
                expires_on,
                rule_span,
                file: 0,
            });
        }

        let admission_at = has_admission.then(|| table_at(text, "admission").unwrap_or(0..0));
        let gate_at = has_gate.then(|| table_at(text, "gate").unwrap_or(0..0));
        let rules = file
            .rules
            .by_id
            .into_iter()
            .map(|(k, v)| RuleEntry { id: k.get_ref().clone(), span: span_of(&k), cfg: v, file: 0 })
            .collect();
        let policy = Policy {
            name: file.policy.name.into_inner(),
            version: file.policy.version.into_inner(),
            description: file.policy.description,
            enforcement: file.policy.enforcement,
            failure_policy: file.policy.failure_policy,
            digest: Digest::sha256(text.as_bytes()),
            source: source.to_string(),
            plugins,
            waivers,
            admission: admission.settings(),
            gate,
            files: vec![PolicyText {
                source: source.to_string(),
                text: text.to_string(),
                enforcement: file.policy.enforcement,
                failure_policy: file.policy.failure_policy,
                admission_at,
                gate_at,
                includes: file.policy.include.iter().map(|i| (i.get_ref().clone(), span_of(i))).collect(),
            }],
            rules,
            custom,
        };
        if diags.is_empty() { Ok(policy) } else { Err(PolicyError::new(source, text, diags).with_partial(policy)) }
    }

    /// Whether `rule` is a custom rule whose expressions have problems
    /// (already reported where they are).
    pub(crate) fn has_broken_custom_rule(&self, rule: &str) -> bool {
        self.custom.iter().any(|c| c.info.id == rule && !c.valid)
    }

    /// A policy error pointing into this policy's files.
    pub(crate) fn error(&self, diags: Vec<Diagnostic>) -> PolicyError {
        PolicyError::in_files(self.sources(), diags)
    }

    /// The policy's files, as diagnostics name them.
    pub(crate) fn sources(&self) -> Vec<diags::Source> {
        self.files.iter().map(|f| diags::Source { name: f.source.clone(), text: f.text.clone() }).collect()
    }

    /// A diagnostic about a rule's parameter, pointing at the value (the
    /// list entry `index` when given and found), or at the rule's table for
    /// a parameter left at its default, or nowhere when the policy does not
    /// mention the rule.
    pub fn param_diagnostic(
        &self,
        message: impl Into<String>,
        rule: &str,
        param: &str,
        index: Option<usize>,
    ) -> Diagnostic {
        match self.param_span(rule, param, index) {
            Some((file, span)) => Diagnostic::new(message, Some(span)).in_file(file),
            None => Diagnostic::new(message, None),
        }
    }

    fn param_span(&self, rule: &str, param: &str, index: Option<usize>) -> Option<(usize, Range<usize>)> {
        let entry = self.rules.iter().find(|r| r.id == rule)?;
        let Some((_, value)) = entry.cfg.params.iter().find(|(k, _)| k.get_ref() == param) else {
            return Some((entry.file, entry.span.clone()));
        };
        let whole = span_of(value);
        let Some(index) = index else { return Some((entry.file, whole)) };
        // toml keeps no spans inside a value: re-read the array's text with
        // spanned items, and shift their spans back into the file.
        #[derive(serde::Deserialize)]
        struct Items {
            v: Vec<toml::Spanned<toml::Value>>,
        }
        const PREFIX: &str = "v = ";
        let text = format!("{PREFIX}{}", self.files.get(entry.file)?.text.get(whole.clone())?);
        let items: Items = toml::from_str(&text).ok()?;
        let item = items.v.get(index).map(|i| i.span());
        Some((
            entry.file,
            item.map_or(whole.clone(), |r| {
                (r.start - PREFIX.len() + whole.start)..(r.end - PREFIX.len() + whole.start)
            }),
        ))
    }

    /// The file that defines (`[[rules.custom]]`) or configures
    /// (`[rules.ID]`) a rule, if one does.
    fn configured_in(&self, id: &str) -> Option<usize> {
        let custom = self.custom.iter().find(|c| c.info.id == id).map(|c| c.file);
        custom.or_else(|| self.rules.iter().find(|r| r.id == id).map(|r| r.file))
    }

    /// Of a policy of several files, the name of the file a rule comes
    /// from: the one that defines or configures it, else the first that
    /// loads its plugin.
    fn rule_file(&self, info: &RuleInfo) -> Option<String> {
        if self.files.len() < 2 {
            return None;
        }
        let index = self
            .configured_in(&info.id)
            .or_else(|| self.plugins.iter().find(|p| p.name == info.plugin).and_then(|p| p.files.first().copied()))?;
        self.files.get(index).map(|f| f.source.clone())
    }

    /// The enforcement cap and failure policy of a rule: those of the file
    /// that defines or configures it, else the strongest of the files that
    /// load its plugin.
    fn file_settings(&self, info: &RuleInfo) -> (Enforcement, FailurePolicy) {
        if let Some(f) = self.configured_in(&info.id).and_then(|i| self.files.get(i)) {
            return (f.enforcement, f.failure_policy);
        }
        let files: Vec<&PolicyText> = self
            .plugins
            .iter()
            .filter(|p| p.name == info.plugin)
            .flat_map(|p| p.files.iter().filter_map(|i| self.files.get(*i)))
            .collect();
        let enforcement = files.iter().map(|f| f.enforcement).max().unwrap_or(self.enforcement);
        let failure = match files.is_empty() {
            true => self.failure_policy,
            false if files.iter().any(|f| f.failure_policy == FailurePolicy::Deny) => FailurePolicy::Deny,
            false => FailurePolicy::Ignore,
        };
        (enforcement, failure)
    }

    /// Resolves rule settings against the rules the loaded plugins declare.
    pub fn resolve(&self, available: &[RuleInfo], today: jiff::civil::Date) -> Result<RulePlan, PolicyError> {
        let mut diags = Vec::new();
        // Custom rules join the plugins' rules, under ids of their own.
        let mut available: Vec<RuleInfo> = available.to_vec();
        for c in &self.custom {
            match available.iter().find(|r| r.id == c.info.id) {
                Some(other) => diags.push(
                    Diagnostic::new(
                        format!("custom rule {} has the id of a rule of plugin `{}`", c.info.id, other.plugin),
                        Some(c.id_span.clone()),
                    )
                    .in_file(c.file)
                    .with_note("give it an id of its own, such as one with your organisation's prefix"),
                ),
                None => available.push(c.info.clone()),
            }
            if let Some(entry) = self.rules.iter().find(|r| r.id == c.info.id) {
                diags.push(
                    Diagnostic::new(
                        format!("{} is a custom rule; set it in its [[rules.custom]] entry", c.info.id),
                        Some(entry.span.clone()),
                    )
                    .in_file(entry.file)
                    .also_at(c.file, c.id_span.clone(), "defined here"),
                );
            }
        }
        let available = available.as_slice();
        let known: Vec<&str> = available.iter().map(|r| r.id.as_str()).collect();
        let suggest = |id: &str| match read::did_you_mean(id, known.iter().copied()) {
            Some(best) => format!("did you mean `{best}`? (`portcullis rules` lists every rule)"),
            None => format!("the loaded plugins provide: {}", known.join(", ")),
        };
        for r in &self.rules {
            if !known.contains(&r.id.as_str()) {
                diags.push(
                    Diagnostic::new(format!("unknown rule `{}`", r.id), Some(r.span.clone()))
                        .in_file(r.file)
                        .with_note(suggest(&r.id)),
                );
            }
        }
        for w in &self.waivers {
            let at = |d: Diagnostic| d.in_file(w.file);
            let Some(info) = available.iter().find(|r| r.id == w.rule) else {
                diags.push(at(Diagnostic::new(
                    format!("waiver for unknown rule `{}`", w.rule),
                    Some(w.rule_span.clone()),
                )
                .with_note(suggest(&w.rule))));
                continue;
            };
            // A waiver that can never match anything is a mistake, not a no-op.
            let workloads = info.judges(SubjectKind::Workload);
            let others = info.targets.iter().any(|k| *k != SubjectKind::Workload);
            if w.scopes_workloads() && !workloads {
                diags.push(at(Diagnostic::new(
                    format!(
                        "this waiver can never match: {} judges images, which have no namespace, kind or name",
                        w.rule
                    ),
                    Some(w.rule_span.clone()),
                )
                .with_note("scope image rules by `repository` and/or `digest`")));
            } else if w.scopes_images() && !others {
                diags.push(at(Diagnostic::new(
                    format!(
                        "this waiver can never match: {} judges workloads, which have no repository or digest",
                        w.rule
                    ),
                    Some(w.rule_span.clone()),
                )
                .with_note("scope workload rules by `namespace`, `kind` and/or `name`")));
            }
        }
        let mut rules = Vec::new();
        for info in available {
            let entry = self.rules.iter().find(|r| r.id == info.id);
            let cfg = entry.map(|r| &r.cfg);
            let mut params: Vec<(String, ParamValue)> =
                info.params.iter().map(|p| (p.name.clone(), p.default.clone())).collect();
            if let (Some(entry), Some(cfg)) = (entry, cfg) {
                for (key, value) in &cfg.params {
                    let Some(spec) = info.params.iter().find(|p| &p.name == key.get_ref()) else {
                        let takes: Vec<&str> = info.params.iter().map(|p| p.name.as_str()).collect();
                        let note = match read::did_you_mean(key.get_ref(), takes.iter().copied()) {
                            _ if takes.is_empty() => "this rule takes no parameters".to_string(),
                            Some(best) => format!("did you mean `{best}`? it takes: {}", takes.join(", ")),
                            None => format!("it takes: {}", takes.join(", ")),
                        };
                        diags.push(
                            Diagnostic::new(
                                format!("rule {} has no parameter `{}`", info.id, key.get_ref()),
                                Some(span_of(key)),
                            )
                            .in_file(entry.file)
                            .with_note(note),
                        );
                        continue;
                    };
                    match convert_param(spec.ty, value.get_ref()) {
                        Some(v) => {
                            if let Some(slot) = params.iter_mut().find(|(n, _)| n == &spec.name) {
                                slot.1 = v;
                            }
                        }
                        None => diags.push(
                            Diagnostic::new(
                                format!("parameter `{}` of {} must be {}", spec.name, info.id, spec.ty.describe()),
                                Some(span_of(value)),
                            )
                            .in_file(entry.file),
                        ),
                    }
                }
            }
            let (cap, failure_policy) = self.file_settings(info);
            let default_enforcement = info.default_enforcement.min(cap);
            // A custom rule's settings are in its own entry (its severity is
            // its default; a [rules.ID] table for it was refused above).
            let custom = self.custom.iter().find(|c| c.info.id == info.id);
            rules.push(RuleSetting {
                info: info.clone(),
                enabled: custom.map(|c| c.enabled).or(cfg.and_then(|c| c.enabled)).unwrap_or(true),
                enforcement: custom
                    .and_then(|c| c.enforcement)
                    .or(cfg.and_then(|c| c.enforcement))
                    .unwrap_or(default_enforcement),
                severity: cfg.and_then(|c| c.severity).unwrap_or(info.default_severity),
                params,
                failure_policy,
                file: self.rule_file(info),
            });
        }
        if !diags.is_empty() {
            return Err(self.error(diags));
        }
        let mut warnings: Vec<String> = self
            .waivers
            .iter()
            .filter(|w| w.is_expired(today))
            .map(|w| {
                format!(
                    "{}:{}: waiver for {} expired on {} and is ignored (owner {})",
                    w.file_name,
                    w.line,
                    w.rule,
                    w.expires.as_deref().unwrap_or("?"),
                    w.owner
                )
            })
            .collect();
        // A pattern that matches whatever it is given waives the rule
        // everywhere: legal, but rarely what was meant.
        for w in &self.waivers {
            let probes: [(&str, &Option<globset::GlobMatcher>, &[&str]); 3] = [
                ("repository", &w.repo_glob, &["docker.io/library/x", "evil.example/a/b/c", "x"]),
                ("namespace", &w.namespace_glob, &["default", "kube-system", "x"]),
                ("name", &w.name_glob, &["app", "a-b-c", "x"]),
            ];
            for (field, glob, values) in probes {
                if glob.as_ref().is_some_and(|g| values.iter().all(|v| g.is_match(v))) {
                    warnings.push(format!(
                        "{}:{}: the waiver for {} has a {field} pattern that matches every {field}",
                        w.file_name, w.line, w.rule
                    ));
                }
            }
        }
        Ok(RulePlan { rules, warnings })
    }
}

fn convert_param(ty: ParamType, v: &toml::Value) -> Option<ParamValue> {
    Some(match (ty, v) {
        (ParamType::Boolean, toml::Value::Boolean(b)) => ParamValue::Boolean(*b),
        (ParamType::Integer, toml::Value::Integer(i)) => ParamValue::Integer(*i),
        (ParamType::Float, toml::Value::Float(f)) => ParamValue::Float(*f),
        (ParamType::Float, toml::Value::Integer(i)) => ParamValue::Float(*i as f64),
        (ParamType::Text, toml::Value::String(s)) => ParamValue::Text(s.clone()),
        (ParamType::TextList, toml::Value::Array(items)) => {
            ParamValue::TextList(items.iter().map(|i| i.as_str().map(str::to_string)).collect::<Option<Vec<_>>>()?)
        }
        _ => return None,
    })
}

/// Where a top-level `[name]` table header starts in `text`.
fn table_at(text: &str, name: &str) -> Option<Range<usize>> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix('[')
            && let Some(inner) = rest.split(']').next()
            && inner.trim() == name
        {
            let start = offset + (line.len() - t.len());
            return Some(start..start + t.trim_end().len());
        }
        offset += line.len();
    }
    None
}
