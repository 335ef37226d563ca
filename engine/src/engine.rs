//! The engine: a policy with its plugins loaded, ready to judge inputs.
//!
//! `Engine::new` does all the expensive work once (compile or load cached
//! components, pre-instantiate them, resolve the policy against their rule
//! metadata); `Engine::audit` is then cheap and can be called concurrently —
//! the same semantics an admission controller embedding the library gets.

use crate::admission::{ImageOutcome, Workload};
use crate::evidence::{Evidence, Subject, SubjectKind};
use crate::model::{Enforcement, FailurePolicy, Outcome, RawFinding, Severity};
use crate::plugin::{LoadError, LoadedPlugin, PluginHost, PluginInfo, Queries, bindings};
use crate::policy::{Policy, PolicyError, RulePlan, Scope};
use crate::report::{Effect, Finding, Report, SubjectReport, Verdict, WaiverUse};
use crate::source::Input;
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

/// Rule id of the host's own finding for evidence that could not be trusted.
pub const EVIDENCE_RULE: &str = "portcullis/evidence";

/// Rule id of the host's own finding for a policy that cannot judge an
/// admission request.
pub const ADMISSION_RULE: &str = "portcullis/admission";

/// Every kind of subject, in the order `rule_configs` keeps them
/// ([`kind_slot`] gives each one's place).
const KINDS: [SubjectKind; 4] = [SubjectKind::Image, SubjectKind::Index, SubjectKind::Artifact, SubjectKind::Workload];

/// A kind's place in [`KINDS`]; exhaustive, so a new kind cannot silently
/// borrow another kind's rules.
fn kind_slot(kind: SubjectKind) -> usize {
    match kind {
        SubjectKind::Image => 0,
        SubjectKind::Index => 1,
        SubjectKind::Artifact => 2,
        SubjectKind::Workload => 3,
    }
}

/// A rule and its parameters as the contract sends them.
fn rule_config(r: &crate::policy::RuleSetting) -> bindings::wit::RuleConfig {
    bindings::wit::RuleConfig {
        id: r.info.id.clone(),
        params: r.params.iter().map(|(k, v)| (k.clone(), bindings::param_to_wit(v))).collect(),
    }
}

/// Asks each plugin to check the parameter values of its enabled rules and
/// refuses the policy, pointing at each value in the user's TOML, when any
/// is unusable: a rule given a bad entry would otherwise be enforced with a
/// hole in it, or fail on every subject.
fn check_params(
    policy: &Policy,
    host: &PluginHost,
    plugins: &[LoadedPlugin],
    plan: &RulePlan,
) -> Result<(), EngineError> {
    let mut diags = Vec::new();
    for p in plugins {
        let rules: Vec<bindings::wit::RuleConfig> = plan
            .rules
            .iter()
            .filter(|r| r.enabled && r.info.plugin == p.info.name && !policy.has_broken_custom_rule(&r.info.id))
            .map(rule_config)
            .collect();
        if rules.is_empty() {
            continue;
        }
        for problem in host.check(p, &rules)? {
            let entry = problem.index.map(|i| format!(" entry {i}")).unwrap_or_default();
            diags.push(policy.param_diagnostic(
                format!("parameter `{}`{entry} of {}: {}", problem.param, problem.rule, problem.message),
                &problem.rule,
                &problem.param,
                problem.index.map(|i| i as usize),
            ));
        }
    }
    if diags.is_empty() { Ok(()) } else { Err(EngineError::Policy(policy.error(diags))) }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Plugin(#[from] LoadError),
    #[error("cannot start the WebAssembly runtime: {0}")]
    Runtime(String),
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// "Today", for waiver expiry (defaults to the local date).
    pub today: Option<jiff::civil::Date>,
    /// The trusted root keyless signatures are verified against (default:
    /// the embedded Sigstore public-good production root).
    pub trust_root: Option<crate::signature::trust::TrustRoot>,
    /// The offline vulnerability database (`db import`) the
    /// `vulnerabilities` interface matches against; `None`: its queries
    /// answer "no database", and vulnerability rules fail closed.
    pub vuln_db: Option<Arc<crate::vuln::VulnDb>>,
    /// VEX statements (`--vex`): each applies only to the image or package
    /// it names ([`crate::vuln::vex`]).
    pub vex: Arc<Vec<crate::vuln::vex::Statement>>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            cache_dir: crate::plugin::cache::default_dir(),
            today: None,
            trust_root: None,
            vuln_db: None,
            vex: Arc::default(),
        }
    }
}

pub struct Engine {
    policy: Policy,
    plan: RulePlan,
    host: PluginHost,
    plugins: Vec<LoadedPlugin>,
    /// The enabled rules of each plugin (same order as `plugins`) for each
    /// kind of subject (order of [`KINDS`]), with their parameters, as sent
    /// on every call: fixed by the policy, built once.
    rule_configs: Vec<[Vec<bindings::wit::RuleConfig>; 4]>,
    /// "Today" as the options fixed it; `None`: the local date at each
    /// evaluation (a server runs for months; its waivers must expire).
    today: Option<jiff::civil::Date>,
    /// The root given in the options; the default is parsed only when a
    /// subject carries signatures to verify.
    trust_root: Option<crate::signature::trust::TrustRoot>,
    trust: std::sync::OnceLock<Arc<crate::signature::trust::TrustRoot>>,
    vuln_db: Option<Arc<crate::vuln::VulnDb>>,
    vex: Arc<Vec<crate::vuln::vex::Statement>>,
    /// The metadata of the rules that judge images, indexes and artifacts,
    /// which every report carries (for SARIF): built once, shared.
    report_rules: Arc<[crate::model::RuleInfo]>,
    /// What a verdict of this engine depends on besides the subject.
    fingerprint: String,
}

impl Engine {
    /// Reads policy files (with their includes, applied together) and loads
    /// the engine. When the files have problems, the checks that need the
    /// plugins (rule ids, parameters) still run on what could be read, so
    /// one run reports every problem.
    pub fn load(paths: &[std::path::PathBuf], options: EngineOptions) -> Result<Engine, EngineError> {
        match Policy::load(paths) {
            Ok(policy) => Engine::new(policy, options),
            Err(mut e) => {
                if let Some(partial) = e.take_partial()
                    && let Err(EngineError::Policy(more)) = Engine::new(partial, options)
                {
                    e = crate::policy::PolicyError::merge(vec![e, more]);
                }
                Err(EngineError::Policy(e))
            }
        }
    }

    /// Loads the policy's plugins and resolves its rule settings.
    pub fn new(policy: Policy, options: EngineOptions) -> Result<Engine, EngineError> {
        let max_memory = policy.plugins.iter().map(|p| p.limits.memory_bytes).max().unwrap_or(64 << 20);
        let host =
            PluginHost::new(options.cache_dir, max_memory).map_err(|e| EngineError::Runtime(format!("{e:#}")))?;
        let loaded: Vec<Result<LoadedPlugin, LoadError>> =
            policy.plugins.par_iter().map(|spec| host.load(spec)).collect();
        let plugins = loaded.into_iter().collect::<Result<Vec<_>, _>>()?;
        let mut all_rules: Vec<crate::model::RuleInfo> = Vec::new();
        for p in &plugins {
            for r in &p.rules {
                if let Some(prev) = all_rules.iter().find(|x| x.id == r.id) {
                    let spec = policy.plugins.iter().find(|s| s.name == p.info.name);
                    return Err(EngineError::Policy(policy.error(vec![
                        crate::policy::Diagnostic::new(
                            format!("rule {} is provided by both `{}` and `{}`", r.id, prev.plugin, p.info.name),
                            spec.map(|s| s.span.clone()),
                        )
                        .in_file(spec.map_or(0, |s| s.files[0])),
                    ])));
                }
            }
            all_rules.extend(p.rules.iter().cloned());
        }
        let plan = policy.resolve(&all_rules, options.today.unwrap_or_else(|| jiff::Zoned::now().date()))?;
        let rule_configs = plugins
            .iter()
            .map(|p| {
                KINDS.map(|kind| {
                    plan.rules
                        .iter()
                        .filter(|r| r.enabled && r.info.plugin == p.info.name && r.info.judges(kind))
                        .map(rule_config)
                        .collect()
                })
            })
            .collect();
        check_params(&policy, &host, &plugins, &plan)?;
        let fingerprint = {
            use sha2::{Digest as _, Sha256};
            let root = options.trust_root.as_ref().map_or(crate::signature::trust::PRODUCTION, |t| t.json.as_str());
            let mut h = Sha256::new();
            h.update(policy.digest.as_str());
            h.update(b"\ntrust-root:");
            h.update(Sha256::digest(root));
            for p in &plugins {
                h.update(format!("\nplugin:{}={}", p.info.name, p.info.sha256));
            }
            // The data a vulnerability verdict is made from.
            if let Some(db) = &options.vuln_db {
                h.update(format!("\nvuln-db:{}", db.info.digest));
            }
            for statement in options.vex.iter() {
                h.update(b"\nvex:");
                h.update(serde_json::to_vec(statement).unwrap_or_default());
            }
            format!("sha256:{}", hex::encode(h.finalize()))
        };
        // Workload rules judge admission requests, not images.
        let report_rules = plan
            .rules
            .iter()
            .filter(|r| r.info.targets.iter().any(|k| *k != SubjectKind::Workload))
            .map(|r| r.info.clone())
            .collect();
        Ok(Engine {
            report_rules,
            fingerprint,
            policy,
            plan,
            host,
            plugins,
            rule_configs,
            today: options.today,
            trust_root: options.trust_root,
            trust: std::sync::OnceLock::new(),
            vuln_db: options.vuln_db,
            vex: options.vex,
        })
    }

    /// A digest of everything a verdict depends on besides the subject: the
    /// policy text, the trusted root, the plugins' code. Two engines with the
    /// same fingerprint judge a subject alike (up to waiver expiry dates), so
    /// a verdict may be reused under (subject digest, fingerprint).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn plan(&self) -> &RulePlan {
        &self.plan
    }

    pub fn plugins(&self) -> impl Iterator<Item = &PluginInfo> {
        self.plugins.iter().map(|p| &p.info)
    }

    /// Judges every subject of an opened input.
    pub fn audit(&self, input: &Input) -> Report {
        // Subjects are judged in parallel, but a single subject stays on the
        // calling thread: handing it to the pool costs a thread wake-up.
        let subjects: Vec<SubjectReport> = if input.evidence.len() > 1 {
            input.evidence.par_iter().map(|e| self.judge(e)).collect()
        } else {
            input.evidence.iter().map(|e| self.judge(e)).collect()
        };
        let mut waivers_used: Vec<WaiverUse> = Vec::new();
        for s in &subjects {
            for f in &s.findings {
                if let Some(w) = &f.waiver {
                    let entry = WaiverUse { subject: s.digest.clone(), rule: f.rule.clone(), waiver: w.clone() };
                    waivers_used.push(entry);
                }
            }
        }
        let verdict = if subjects.iter().any(|s| s.verdict == Verdict::Deny) { Verdict::Deny } else { Verdict::Admit };
        Report::new(
            &self.policy,
            input,
            verdict,
            subjects,
            waivers_used,
            self.plan.warnings.clone(),
            self.report_rules.clone(),
        )
    }

    /// The trusted root signatures are verified against, parsed on first use.
    fn trust_root(&self) -> Arc<crate::signature::trust::TrustRoot> {
        self.trust
            .get_or_init(|| {
                Arc::new(self.trust_root.clone().unwrap_or_else(crate::signature::trust::TrustRoot::production))
            })
            .clone()
    }

    /// Runs every enabled rule over one subject and applies the policy.
    fn judge(&self, evidence: &Evidence) -> SubjectReport {
        let subject = evidence.subject();
        let raw: Vec<RawFinding> = match bindings::target(evidence) {
            None => Vec::new(),
            Some(target) => {
                let signed = |s: &Arc<Vec<crate::signature::material::Material>>| {
                    (!s.is_empty()).then(|| (s.clone(), self.trust_root()))
                };
                let queries = match evidence {
                    Evidence::Image(i) => {
                        let (signatures, trust) = signed(&i.signatures).unzip();
                        let sboms = (!i.sboms.is_empty()).then(|| i.sboms.clone());
                        let vulns = self.vuln_db.as_ref().map(|db| {
                            let platform = crate::vuln::matcher::Platform {
                                os: i.config.os.clone(),
                                arch: i.config.architecture.clone(),
                            };
                            Arc::new(crate::plugin::vulns::VulnQuery {
                                db: db.clone(),
                                today: self.today(),
                                scan: i.scan.clone(),
                                sboms: sboms.clone(),
                                platform,
                                vex: self.vex.clone(),
                                digest: i.subject.digest.to_string(),
                                index: i.subject.parent_index.as_ref().map(|d| d.to_string()),
                                matches: Default::default(),
                            })
                        });
                        Queries { scan: i.scan.clone(), sboms, signatures, trust, vulns }
                    }
                    Evidence::Artifact(a) => {
                        let (signatures, trust) = signed(&a.signatures).unzip();
                        Queries { signatures, trust, ..Queries::default() }
                    }
                    _ => Queries::default(),
                };
                self.evaluate(subject.kind, &target, &queries)
            }
        };
        let scope = Scope::of_subject(subject);
        let mut findings: Vec<Finding> = raw.into_iter().map(|f| self.apply(f, &scope)).collect();
        if let Evidence::Unreadable { reason, .. } = evidence {
            findings.insert(
                0,
                Finding {
                    rule: EVIDENCE_RULE.to_string(),
                    title: "Evidence is readable and verified".to_string(),
                    outcome: Outcome::Error,
                    severity: Severity::Critical,
                    enforcement: Enforcement::Enforce,
                    effect: Effect::Deny,
                    message: reason.clone(),
                    location: None,
                    remediation: Some(
                        "Re-export or re-pull the image; a digest mismatch means the content was altered.".into(),
                    ),
                    waiver: None,
                    policy_file: None,
                },
            );
        }
        SubjectReport::new(subject, findings)
    }

    /// Runs every plugin that has enabled rules for this kind of subject.
    fn evaluate(&self, kind: SubjectKind, target: &bindings::wit::Target, queries: &Queries) -> Vec<RawFinding> {
        let slot = kind_slot(kind);
        self.plugins
            .iter()
            .zip(&self.rule_configs)
            .filter(|(_, rules)| !rules[slot].is_empty())
            .flat_map(|(p, rules)| {
                // Each custom rule runs in a call of its own: one expression
                // that exhausts the sandbox's budget is an error finding for
                // itself alone, not for every custom rule of the policy.
                if p.info.name == crate::policy::CUSTOM_RULES_PLUGIN && p.info.builtin {
                    rules[slot]
                        .iter()
                        .flat_map(|r| self.host.evaluate(p, target, std::slice::from_ref(r), queries))
                        .collect::<Vec<_>>()
                } else {
                    self.host.evaluate(p, target, &rules[slot], queries)
                }
            })
            .collect()
    }

    /// Judges a workload of an admission request by the rules that judge
    /// workloads, given what the image policy concluded about each of its
    /// image references. Admission's answer is made from this report
    /// ([`crate::admission::Admission::decide`]).
    pub fn judge_workload(&self, workload: &Workload, images: &[(&str, ImageOutcome<'_>)]) -> SubjectReport {
        let subject = Subject {
            kind: SubjectKind::Workload,
            reference: workload.reference(),
            repository: None,
            digest: workload.digest.clone(),
            media_type: bindings::WORKLOAD_MEDIA_TYPE.to_string(),
            platform: None,
            parent_index: None,
        };
        let slot = kind_slot(SubjectKind::Workload);
        if self.rule_configs.iter().all(|rules| rules[slot].is_empty()) {
            // Nothing would judge the workload or its images: admitting it
            // would wave through every image the policy denies.
            let finding = Finding {
                rule: ADMISSION_RULE.to_string(),
                title: "The policy judges workloads".to_string(),
                // A requirement on the policy that fails, whatever the
                // failure policy says about undecidable rules.
                outcome: Outcome::Fail,
                severity: Severity::Critical,
                enforcement: Enforcement::Enforce,
                effect: Effect::Deny,
                message: "no enabled rule of this policy judges workloads, so neither the workload nor its images would be judged".to_string(),
                location: None,
                remediation: Some("Load the workload rules with `[plugins.kubernetes]` in the policy (and keep K8S-005 enabled).".into()),
                waiver: None,
                policy_file: None,
            };
            return SubjectReport::new(&subject, vec![finding]);
        }
        let target = bindings::workload(&subject, workload, images, self.policy.admission.mutate);
        let raw = self.evaluate(SubjectKind::Workload, &target, &Queries::default());
        let scope = Scope::of_workload(workload);
        let findings: Vec<Finding> = raw.into_iter().map(|f| self.apply(f, &scope)).collect();
        SubjectReport::new(&subject, findings)
    }

    fn today(&self) -> jiff::civil::Date {
        self.today.unwrap_or_else(|| jiff::Zoned::now().date())
    }

    /// How long a verdict of this engine stays what it is, as far as time
    /// goes: until the next waiver expiry (the end of its `expires` day, in
    /// local time), and with a vulnerability database, the end of today. `None`: no waiver will expire. A cache of verdicts must
    /// not keep one longer.
    pub fn verdicts_valid_for(&self) -> Option<std::time::Duration> {
        let today = self.today();
        let waiver = self.policy.waivers.iter().filter_map(|w| w.expires_on()).filter(|d| *d >= today).min();
        // Vulnerability verdicts age by the day: a fix's grace period ends,
        // the database grows stale.
        let daily = self.vuln_db.as_ref().map(|_| today);
        let next = waiver.into_iter().chain(daily).min()?;
        let end = next.tomorrow().ok()?.to_zoned(jiff::tz::TimeZone::system()).ok()?;
        let left = end.timestamp().as_duration().checked_sub(jiff::Timestamp::now().as_duration())?;
        Some(std::time::Duration::try_from(left).unwrap_or_default())
    }

    fn apply(&self, mut raw: RawFinding, scope: &Scope<'_>) -> Finding {
        let setting = self.plan.rules.iter().find(|r| r.info.id == raw.rule);
        let (title, enforcement, severity, remediation, failure_policy) = match setting {
            Some(s) => (s.info.title.clone(), s.enforcement, s.severity, s.info.remediation.clone(), s.failure_policy),
            None => (raw.rule.clone(), Enforcement::Enforce, Severity::High, String::new(), FailurePolicy::Deny),
        };
        let policy_file = setting.and_then(|s| s.file.clone());
        let mut waiver = None;
        let effect = match raw.outcome {
            Outcome::Pass | Outcome::Skip => Effect::None,
            Outcome::Fail => {
                let today = self.today();
                waiver =
                    self.policy.waivers.iter().find(|w| !w.is_expired(today) && w.covers(&raw.rule, scope)).cloned();
                if waiver.is_some() {
                    Effect::Waived
                } else {
                    match enforcement {
                        Enforcement::Enforce => Effect::Deny,
                        Enforcement::Warn => Effect::Warn,
                        Enforcement::Audit => Effect::None,
                    }
                }
            }
            // Errors are never waived: a waiver accepts a known failure, not
            // an unknown state. Only an error from outside the subject
            // follows the failure policy: one the subject caused (malformed
            // evidence, a plugin limit its evidence exhausted) must not be
            // able to turn itself into an admit.
            Outcome::Error => match (enforcement, failure_policy, raw.outside) {
                (Enforcement::Audit, _, _) => Effect::None,
                (Enforcement::Warn, _, _) => Effect::Warn,
                (Enforcement::Enforce, FailurePolicy::Deny, _) => Effect::Deny,
                (Enforcement::Enforce, FailurePolicy::Ignore, true) => Effect::Warn,
                (Enforcement::Enforce, FailurePolicy::Ignore, false) => {
                    raw.message.push_str(" (caused by the subject itself, so failure-policy ignore does not admit it)");
                    Effect::Deny
                }
            },
        };
        Finding {
            rule: raw.rule,
            title,
            outcome: raw.outcome,
            severity: raw.severity.unwrap_or(severity),
            enforcement,
            effect,
            message: raw.message,
            location: raw.location,
            remediation: Some(raw.remediation.unwrap_or(remediation)).filter(|r| !r.is_empty()),
            waiver,
            policy_file,
        }
    }
}
