//! Running a suite: fixtures are made (derived ones in a temporary
//! directory) and opened once, one engine is loaded per policy and set of
//! case parameters, cases are judged in parallel, and what was observed is
//! compared with what was expected ([`check`], a pure function, so the
//! comparison itself can be tested against every expectation flipped).

use super::fixture::Bench;
use super::{Case, PolicyRef, Source, Suite};
use crate::evidence::SubjectKind;
use crate::model::Outcome as RuleOutcome;
use crate::report::{Effect, Report, Verdict};
use crate::{Engine, EngineOptions, Policy};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// A rule's outcome as tests see it: the engine's outcome, with a failure
/// told apart by what it did (denied, warned, was waived). `error` is its
/// own value: it never counts as a pass or a fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Skip,
    Pass,
    Waived,
    Warn,
    Fail,
    Error,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Skip => "skip",
            Outcome::Pass => "pass",
            Outcome::Waived => "waived",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
        })
    }
}

impl Outcome {
    fn of(f: &crate::report::Finding) -> Outcome {
        match (f.outcome, f.effect) {
            (RuleOutcome::Error, _) => Outcome::Error,
            (RuleOutcome::Skip, _) => Outcome::Skip,
            (RuleOutcome::Pass, _) => Outcome::Pass,
            (RuleOutcome::Fail, Effect::Waived) => Outcome::Waived,
            (RuleOutcome::Fail, Effect::Warn) => Outcome::Warn,
            (RuleOutcome::Fail, Effect::Deny | Effect::None) => Outcome::Fail,
        }
    }
}

/// What one rule did in a case: the strongest outcome over its findings
/// (error > fail > warn > waived > pass > skip) and their messages.
#[derive(Debug, Clone, Serialize)]
pub struct RuleSeen {
    pub outcome: Outcome,
    pub messages: Vec<String>,
}

/// What a case's evaluation produced.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    pub verdict: Verdict,
    /// Review cases: the rules whose findings denied the request.
    pub denied_by: Vec<String>,
    pub rules: BTreeMap<String, RuleSeen>,
}

/// One expectation not met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The rule, `verdict`, `denied-by` or `plugin NAME`.
    pub what: String,
    pub expected: String,
    pub got: String,
    /// The first message of the rule's findings (or the denying rules).
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase", tag = "status", content = "detail")]
pub enum Status {
    Passed,
    Mismatch(Vec<Mismatch>),
    /// The case could not be judged (fixture, policy): a harness error.
    Error(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub file: String,
    pub name: String,
    pub line: usize,
    pub policy: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,
    pub seconds: f64,
}

/// Per rule of a tested policy: whether some case saw it pass, and some
/// case saw it fail (or warn).
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub policy: String,
    pub rules: Vec<RuleCoverage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleCoverage {
    pub rule: String,
    pub pass: bool,
    pub fail: bool,
}

impl Coverage {
    pub fn gaps(&self) -> impl Iterator<Item = &RuleCoverage> {
        self.rules.iter().filter(|r| !r.pass || !r.fail)
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only cases whose `FILE::NAME` matches.
    pub filter: Option<regex::Regex>,
    /// Compiled-plugin cache (as [`EngineOptions::cache_dir`]).
    pub cache_dir: Option<PathBuf>,
}

/// Everything a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub results: Vec<CaseResult>,
    pub coverage: Vec<Coverage>,
    pub warnings: Vec<String>,
}

impl Run {
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| matches!(r.status, Status::Passed))
    }
    pub fn errors(&self) -> usize {
        self.results.iter().filter(|r| matches!(r.status, Status::Error(_))).count()
    }
}

/// Compares what a case expected with what was observed.
pub fn check(case: &Case, seen: &Observed) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let denying = || {
        seen.rules
            .iter()
            .filter(|(_, r)| r.outcome == Outcome::Fail)
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(v) = case.verdict
        && v != seen.verdict
    {
        out.push(Mismatch {
            what: "verdict".into(),
            expected: verdict_word(v).into(),
            got: verdict_word(seen.verdict).into(),
            message: format!("failing rules: {}", denying()),
        });
    }
    if let Some(want) = &case.denied_by {
        let want: BTreeSet<&str> = want.iter().map(String::as_str).collect();
        let got: BTreeSet<&str> = seen.denied_by.iter().map(String::as_str).collect();
        if want != got {
            let join = |s: &BTreeSet<&str>| s.iter().copied().collect::<Vec<_>>().join(", ");
            out.push(Mismatch {
                what: "denied-by".into(),
                expected: format!("[{}]", join(&want)),
                got: format!("[{}]", join(&got)),
                message: String::new(),
            });
        }
    }
    for e in &case.expect {
        let Some(r) = seen.rules.get(&e.rule) else {
            out.push(Mismatch {
                what: e.rule.clone(),
                expected: e.outcome.to_string(),
                got: "absent".into(),
                message: "the policy did not evaluate this rule for this fixture".into(),
            });
            continue;
        };
        let first = r.messages.first().cloned().unwrap_or_default();
        if r.outcome != e.outcome {
            out.push(Mismatch {
                what: e.rule.clone(),
                expected: e.outcome.to_string(),
                got: r.outcome.to_string(),
                message: first,
            });
        } else if let Some(re) = &e.message
            && !r.messages.iter().any(|m| re.is_match(m))
        {
            out.push(Mismatch {
                what: e.rule.clone(),
                expected: format!("{} with a message matching /{}/", e.outcome, re.as_str()),
                got: r.outcome.to_string(),
                message: first,
            });
        }
    }
    if case.strict {
        for (rule, r) in &seen.rules {
            if !case.expect.iter().any(|e| &e.rule == rule) {
                out.push(Mismatch {
                    what: rule.clone(),
                    expected: "(not listed: the case is strict)".into(),
                    got: r.outcome.to_string(),
                    message: r.messages.first().cloned().unwrap_or_default(),
                });
            }
        }
    }
    out
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Admit => "admit",
        Verdict::Deny => "deny",
    }
}

/// Folds findings into per-rule outcomes.
pub(super) fn fold<'a>(
    rules: &mut BTreeMap<String, RuleSeen>,
    findings: impl Iterator<Item = &'a crate::report::Finding>,
) {
    for f in findings {
        let o = Outcome::of(f);
        let seen = rules.entry(f.rule.clone()).or_insert(RuleSeen { outcome: o, messages: Vec::new() });
        seen.outcome = seen.outcome.max(o);
        seen.messages.push(f.message.clone());
    }
}

/// Whether a subject is the one a case's `platform` selects.
fn selected(s: &crate::report::SubjectReport, platform: Option<&str>) -> bool {
    match platform {
        None => true,
        Some("index") => s.kind == SubjectKind::Index,
        Some(p) => s.platform.as_deref().is_some_and(|have| have == p || have.starts_with(&format!("{p}/"))),
    }
}

fn observe_report(report: &Report, platform: Option<&str>) -> Result<Observed, String> {
    let subjects: Vec<_> = report.subjects.iter().filter(|s| selected(s, platform)).collect();
    if subjects.is_empty() {
        return Err(format!("no subject of the fixture is {}", platform.unwrap_or("there")));
    }
    let mut rules = BTreeMap::new();
    for s in &subjects {
        fold(&mut rules, s.findings.iter());
    }
    let verdict = if subjects.iter().any(|s| s.verdict == Verdict::Deny) { Verdict::Deny } else { Verdict::Admit };
    let denied_by = denying_rules(subjects.iter().flat_map(|s| s.findings.iter()));
    Ok(Observed { verdict, denied_by, rules })
}

pub(super) fn denying_rules<'a>(findings: impl Iterator<Item = &'a crate::report::Finding>) -> Vec<String> {
    let mut out: Vec<String> = findings.filter(|f| f.effect == Effect::Deny).map(|f| f.rule.clone()).collect();
    out.sort();
    out.dedup();
    out
}

/// An engine key: the policy and the case's parameters.
type EngineKey = (PolicyRef, String);

fn params_key(case: &Case) -> String {
    format!("{:?} {:?}", case.params, case.admission)
}

/// The policy text with a case's parameters and admission settings written into it.
fn policy_for(case: &Case) -> Result<Policy, String> {
    let (policy, params, admission) = (&case.policy, &case.params, &case.admission);
    let (source, text, base) = match policy {
        PolicyRef::Builtin => {
            (crate::policy::DEFAULT_POLICY_NAME.to_string(), crate::policy::DEFAULT_POLICY_TEXT.to_string(), None)
        }
        PolicyRef::File(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p).map_err(|e| format!("policy {}: {e}", p.display()))?,
            p.parent().map(Path::to_path_buf),
        ),
    };
    if params.is_empty() && admission.is_empty() {
        return Policy::parse(&source, &text, base.as_deref()).map_err(|e| e.render_plain());
    }
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| format!("policy {source}: {e}"))?;
    let rules = table.entry("rules").or_insert_with(|| toml::Value::Table(Default::default()));
    for (rule, ps) in params {
        let t = rules.as_table_mut().ok_or("`rules` is not a table")?;
        let entry = t.entry(rule.clone()).or_insert_with(|| toml::Value::Table(Default::default()));
        let p = entry
            .as_table_mut()
            .ok_or_else(|| format!("rules.{rule} is not a table"))?
            .entry("params")
            .or_insert_with(|| toml::Value::Table(Default::default()));
        let p = p.as_table_mut().ok_or_else(|| format!("rules.{rule}.params is not a table"))?;
        for (k, v) in ps {
            p.insert(k.clone(), v.clone());
        }
    }
    if !admission.is_empty() {
        let a = table.entry("admission").or_insert_with(|| toml::Value::Table(Default::default()));
        let a = a.as_table_mut().ok_or("`admission` is not a table")?;
        for (k, v) in admission {
            a.insert(k.clone(), v.clone());
        }
    }
    let text = toml::to_string(&table).map_err(|e| e.to_string())?;
    let label = format!("{source} (with the case's params and admission settings)");
    Policy::parse(&label, &text, base.as_deref()).map_err(|e| e.render_plain())
}

/// Runs the cases of one suite.
fn run_suite(
    suite: &Suite,
    opts: &RunOptions,
    warnings: &mut Vec<String>,
) -> (Vec<CaseResult>, Vec<(PolicyRef, Arc<Engine>)>) {
    let file = suite.file.display().to_string();
    let cases: Vec<&Case> = suite
        .cases
        .iter()
        .filter(|c| opts.filter.as_ref().is_none_or(|f| f.is_match(&format!("{file}::{}", c.name))))
        .collect();
    let error_all = |why: String| -> Vec<CaseResult> {
        cases
            .iter()
            .map(|c| CaseResult {
                file: file.clone(),
                name: c.name.clone(),
                line: c.line,
                policy: c.policy.to_string(),
                status: Status::Error(why.clone()),
                observed: None,
                seconds: 0.0,
            })
            .collect()
    };
    if cases.is_empty() {
        return (Vec::new(), Vec::new());
    }
    if suite.now.is_none() {
        warnings.push(format!("{file}: no `now` in [context]: waivers and ages are judged on the real date"));
    }
    let tmp = match tempfile::Builder::new().prefix("portcullis-test-").tempdir() {
        Ok(t) => t,
        Err(e) => return (error_all(format!("cannot create a temporary directory: {e}")), Vec::new()),
    };
    let options = match context(suite, tmp.path(), opts) {
        Ok(o) => o,
        Err(e) => return (error_all(e), Vec::new()),
    };
    // One engine per (policy, case parameters), loaded in parallel.
    let mut keys: Vec<EngineKey> = cases.iter().map(|c| (c.policy.clone(), params_key(c))).collect();
    keys.sort();
    keys.dedup();
    let engines: HashMap<EngineKey, Result<Arc<Engine>, String>> = keys
        .par_iter()
        .map(|k| {
            let case = cases.iter().find(|c| (c.policy.clone(), params_key(c)) == *k).expect("a key comes from a case");
            let engine =
                policy_for(case).and_then(|p| Engine::new(p, options.clone()).map_err(|e| e.to_string())).map(Arc::new);
            (k.clone(), engine)
        })
        .collect();
    let bench = Bench {
        suite,
        tmp: tmp.path(),
        fixtures: suite.fixtures.keys().map(|k| (k.as_str(), OnceLock::new())).collect(),
    };
    let results: Vec<CaseResult> = cases
        .par_iter()
        .map(|c| {
            let t = std::time::Instant::now();
            let engine = &engines[&(c.policy.clone(), params_key(c))];
            let status = match engine {
                Err(e) => Status::Error(format!("policy {}: {e}", c.policy)),
                Ok(engine) => match observe(&bench, engine, c) {
                    Err(e) => Status::Error(e),
                    Ok(seen) => {
                        let mut m = pins(suite, engine);
                        m.extend(check(c, &seen));
                        let status = if m.is_empty() { Status::Passed } else { Status::Mismatch(m) };
                        return CaseResult {
                            file: file.clone(),
                            name: c.name.clone(),
                            line: c.line,
                            policy: c.policy.to_string(),
                            status,
                            observed: Some(seen),
                            seconds: t.elapsed().as_secs_f64(),
                        };
                    }
                },
            };
            CaseResult {
                file: file.clone(),
                name: c.name.clone(),
                line: c.line,
                policy: c.policy.to_string(),
                status,
                observed: None,
                seconds: t.elapsed().as_secs_f64(),
            }
        })
        .collect();
    // The engines of the policies as written (no case parameters) for coverage.
    let mut base = Vec::new();
    for ((policy, _), engine) in &engines {
        if let Ok(e) = engine
            && !base.iter().any(|(p, _): &(PolicyRef, Arc<Engine>)| p == policy)
        {
            base.push((policy.clone(), e.clone()));
        }
    }
    (results, base)
}

/// Plugins whose digest differs from the suite's pins.
fn pins(suite: &Suite, engine: &Engine) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for (name, want, _) in &suite.plugin_pins {
        match engine.plugins().find(|p| &p.name == name) {
            Some(p) if p.sha256.trim_start_matches("sha256:") == want => {}
            Some(p) => out.push(Mismatch {
                what: format!("plugin {name}"),
                expected: format!("sha256:{want}"),
                got: format!("sha256:{}", p.sha256.trim_start_matches("sha256:")),
                message: "the expectations were written against another build of this plugin".into(),
            }),
            None => out.push(Mismatch {
                what: format!("plugin {name}"),
                expected: format!("sha256:{want}"),
                got: "not loaded".into(),
                message: "the policy does not load this plugin".into(),
            }),
        }
    }
    out
}

/// Engine options from the suite's context: the frozen clock, the trusted
/// root, the vulnerability database (imported into `tmp`), VEX.
fn context(suite: &Suite, tmp: &Path, opts: &RunOptions) -> Result<EngineOptions, String> {
    let trust_root = suite
        .trusted_root
        .as_deref()
        .map(crate::signature::trust::TrustRoot::named_or_file)
        .transpose()
        .map_err(|e| format!("trusted root: {e}"))?;
    let vuln_db = match &suite.vuln_db {
        None => None,
        Some(p) if p.extension().is_some_and(|e| e == "redb") => {
            Some(Arc::new(crate::vuln::VulnDb::open(p).map_err(|e| e.to_string())?))
        }
        Some(p) => {
            let out = tmp.join("vulndb.redb");
            crate::vuln::db::import(std::slice::from_ref(p), &out, true).map_err(|e| format!("vuln-db: {e}"))?;
            Some(Arc::new(crate::vuln::VulnDb::open(&out).map_err(|e| e.to_string())?))
        }
    };
    let mut vex = Vec::new();
    for f in &suite.vex {
        let bytes = std::fs::read(f).map_err(|e| format!("vex {}: {e}", f.display()))?;
        vex.extend(
            crate::vuln::vex::parse(&bytes, &format!("file:{}", f.display()))
                .map_err(|e| format!("vex {}: {e}", f.display()))?,
        );
    }
    Ok(EngineOptions { cache_dir: opts.cache_dir.clone(), today: suite.now, trust_root, vuln_db, vex: Arc::new(vex) })
}

fn observe(bench: &Bench<'_>, engine: &Engine, case: &Case) -> Result<Observed, String> {
    let fixture = &bench.suite.fixtures[&case.fixture];
    if let Source::Review { path, images } = &fixture.source {
        return super::review::observe_review(bench, engine, path, images);
    }
    let ready = bench.ready(&case.fixture)?;
    let input = ready.input.as_ref().ok_or_else(|| format!("fixture `{}` cannot be opened", case.fixture))?;
    observe_report(&engine.audit(input), case.platform.as_deref())
}

/// Runs suites (all their cases in parallel) and computes coverage.
pub fn run(suites: &[super::Suite], opts: &RunOptions) -> Run {
    let mut warnings = Vec::new();
    let mut results = Vec::new();
    let mut engines: Vec<(PolicyRef, Arc<Engine>)> = Vec::new();
    for s in suites {
        let (r, e) = run_suite(s, opts, &mut warnings);
        results.extend(r);
        for (p, engine) in e {
            if !engines.iter().any(|(q, _)| *q == p) {
                engines.push((p, engine));
            }
        }
    }
    engines.sort_by(|a, b| a.0.cmp(&b.0));
    let coverage = engines.iter().map(|(p, e)| coverage(p, e, &results)).collect();
    Run { results, coverage, warnings }
}

/// Coverage of one policy's enabled rules over the results of cases run with it.
fn coverage(policy: &PolicyRef, engine: &Engine, results: &[CaseResult]) -> Coverage {
    let name = policy.to_string();
    let mut rules: Vec<RuleCoverage> = engine
        .plan()
        .rules
        .iter()
        .filter(|r| r.enabled)
        .map(|r| RuleCoverage { rule: r.info.id.clone(), pass: false, fail: false })
        .collect();
    for r in results.iter().filter(|r| r.policy == name) {
        let Some(seen) = &r.observed else { continue };
        for c in &mut rules {
            match seen.rules.get(&c.rule).map(|s| s.outcome) {
                Some(Outcome::Pass) => c.pass = true,
                Some(Outcome::Fail | Outcome::Warn) => c.fail = true,
                _ => {}
            }
        }
    }
    Coverage { policy: name, rules }
}
