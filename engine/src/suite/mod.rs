//! Policy tests (`portcullis test`): files that say which fixtures a
//! policy must admit or deny, and which rule must pass, fail, warn, be
//! waived, skip or error on each — checked offline, in parallel, and built
//! so that they cannot pass by accident.
//!
//! Why it is strict where peers are lenient: a test file that does not
//! parse is an error, never skipped; a run with no case is an error; an
//! `error` outcome never counts as pass or fail; a derived fixture that
//! does not differ from its origin is an error; with `strict` every rule the
//! policy evaluated must be expected. Nothing here reaches a network: images
//! are files, the images of an AdmissionReview resolve to fixtures, and the
//! vulnerability database is imported from files.
//!
//! Layers: [`cfg`] (the format as written) → [`load`] (checked, paths
//! resolved, diagnostics at line and column) → [`run`] (fixtures made and
//! opened, cases judged, compared) → [`render`] (human, JSON, JUnit) and
//! [`run::coverage`]; [`update`] rewrites expectations a run found wrong.

pub mod cfg;
pub mod derive;
mod fixture;
pub mod init;
pub mod render;
mod review;
pub mod run;
pub mod update;

use crate::policy::{Diagnostic, PolicyError};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub use run::{CaseResult, Coverage, Mismatch, Observed, Outcome, RunOptions, Status};

/// The file name `portcullis test DIR` looks for.
pub const FILE_NAME: &str = "portcullis-test.toml";

/// A checked test file.
#[derive(Debug, Clone)]
pub struct Suite {
    pub file: PathBuf,
    pub text: String,
    pub now: Option<jiff::civil::Date>,
    pub policy: Option<PolicyRef>,
    pub trusted_root: Option<String>,
    /// OSV records imported into a fresh database for the run.
    pub vuln_db: Option<PathBuf>,
    pub vex: Vec<PathBuf>,
    /// Plugin name → expected `sha256:…`, with the span of the pin.
    pub plugin_pins: Vec<(String, String, Range<usize>)>,
    pub fixtures: BTreeMap<String, Fixture>,
    pub cases: Vec<Case>,
}

/// A policy as a case names it: a file, or the embedded default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyRef {
    Builtin,
    File(PathBuf),
}

impl std::fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyRef::Builtin => f.write_str(crate::policy::DEFAULT_POLICY_NAME),
            PolicyRef::File(p) => write!(f, "{}", p.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Fixture {
    pub name: String,
    pub source: Source,
    /// SBOM files offered with the image.
    pub sboms: Vec<PathBuf>,
    pub repository: Option<String>,
    pub select: Option<String>,
    pub span: Range<usize>,
}

#[derive(Debug, Clone)]
pub enum Source {
    Image(PathBuf),
    Artifact { spec: String, sidecars: crate::source::artifact::Sidecars },
    Review { path: PathBuf, images: Vec<(String, String)> },
    Derived { from: String, derivation: derive::Derivation },
}

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub fixture: String,
    pub policy: PolicyRef,
    /// Rule → parameter → value, set for this case.
    pub params: Vec<(String, Vec<(String, toml::Value)>)>,
    /// `[admission]` key → value, set for this case.
    pub admission: Vec<(String, toml::Value)>,
    pub platform: Option<String>,
    pub verdict: Option<crate::Verdict>,
    pub denied_by: Option<Vec<String>>,
    pub strict: bool,
    pub expect: Vec<Expect>,
    /// Line of the `[[case]]` in the file.
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Expect {
    pub rule: String,
    pub outcome: Outcome,
    pub message: Option<regex::Regex>,
    pub span: Range<usize>,
}

/// What went wrong before any case could run: every problem of a file,
/// at its line and column. Exit status 2.
pub type LoadError = PolicyError;

/// Finds the test files under `paths`: files as given, and
/// `portcullis-test.toml` / `*.portcullis-test.toml` in directories (recursively).
/// Finding none is an error (a test run that tests nothing must not pass).
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_file() {
            out.push(p.clone());
        } else if p.is_dir() {
            walk(p, &mut out, 0)?;
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(format!(
            "no test found in {}: test files are named `{FILE_NAME}` or `*.{FILE_NAME}`",
            shown.join(", ")
        ));
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: u32) -> Result<(), String> {
    if depth > 16 {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in entries {
        let e = e.map_err(|e| format!("{}: {e}", dir.display()))?;
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if p.is_dir() {
            walk(&p, out, depth + 1)?;
        } else if name == FILE_NAME || name.ends_with(&format!(".{FILE_NAME}")) {
            out.push(p);
        }
    }
    Ok(())
}

/// The outcome values a test may expect.
const OUTCOMES: &str = "pass, fail, warn, waived, skip, error";

fn outcome(text: &str) -> Option<Outcome> {
    Some(match text {
        "pass" => Outcome::Pass,
        "fail" => Outcome::Fail,
        "warn" => Outcome::Warn,
        "waived" => Outcome::Waived,
        "skip" => Outcome::Skip,
        "error" => Outcome::Error,
        _ => return None,
    })
}

/// Reads and checks a test file.
pub fn load(path: &Path) -> Result<Suite, LoadError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| PolicyError::new(&name, "", vec![Diagnostic::new(format!("cannot read: {e}"), None)]))?;
    parse(&name, &text, path.parent().unwrap_or(Path::new(".")))
}

/// Parses and checks a test file's text; paths resolve against `base`.
pub fn parse(name: &str, text: &str, base: &Path) -> Result<Suite, LoadError> {
    let fail = |d: Vec<Diagnostic>| PolicyError::new(name, text, d);
    let file: cfg::TestFile =
        toml::from_str(text).map_err(|e| fail(vec![Diagnostic::new(e.message().trim().to_string(), e.span())]))?;
    let mut diags = Vec::new();
    if file.schema.get_ref() != cfg::SCHEMA {
        diags.push(
            Diagnostic::new(format!("schema `{}` is not supported", file.schema.get_ref()), Some(file.schema.span()))
                .with_note(format!("this portcullis reads `{}`", cfg::SCHEMA)),
        );
    }
    let resolve = |p: &str| base.join(p);
    let exists = |p: &toml::Spanned<String>, what: &str, diags: &mut Vec<Diagnostic>| -> PathBuf {
        let path = resolve(p.get_ref());
        if !path.exists() {
            diags.push(Diagnostic::new(
                format!("{what} `{}` does not exist ({})", p.get_ref(), path.display()),
                Some(p.span()),
            ));
        }
        path
    };
    let policy_ref = |p: &toml::Spanned<String>, diags: &mut Vec<Diagnostic>| -> PolicyRef {
        if p.get_ref() == crate::policy::DEFAULT_POLICY_NAME {
            PolicyRef::Builtin
        } else {
            PolicyRef::File(exists(p, "policy", diags))
        }
    };

    let c = &file.context;
    let now = c.now.as_ref().and_then(|n| match n.get_ref().date {
        Some(d) => jiff::civil::Date::new(d.year as i16, d.month as i8, d.day as i8).ok(),
        None => {
            diags.push(Diagnostic::new("`now` needs a date (2026-12-01 or 2026-12-01T00:00:00Z)", Some(n.span())));
            None
        }
    });
    let policy = c.policy.as_ref().map(|p| policy_ref(p, &mut diags));
    let trusted_root = c.trusted_root.as_ref().map(|t| match t.get_ref().as_str() {
        "production" | "staging" => t.get_ref().clone(),
        _ => exists(t, "trusted root", &mut diags).display().to_string(),
    });
    let vuln_db = c.vuln_db.as_ref().map(|p| exists(p, "vulnerability records", &mut diags));
    let vex = c.vex.iter().map(|p| exists(p, "VEX document", &mut diags)).collect();
    let mut plugin_pins = Vec::new();
    for (n, d) in &c.plugins {
        let hex = d.get_ref().strip_prefix("sha256:").unwrap_or(d.get_ref());
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            diags.push(Diagnostic::new(format!("`{}` is not sha256:<64 hex digits>", d.get_ref()), Some(d.span())));
        }
        plugin_pins.push((n.get_ref().clone(), hex.to_ascii_lowercase(), d.span()));
    }

    let mut fixtures = BTreeMap::new();
    for (n, f) in &file.fixtures {
        let span = n.span();
        let sources = [f.image.is_some(), f.artifact.is_some(), f.review.is_some(), f.from.is_some()];
        if sources.iter().filter(|s| **s).count() != 1 {
            diags.push(Diagnostic::new(
                format!("fixture `{}` needs exactly one of `image`, `artifact`, `review`, `from`", n.get_ref()),
                Some(span.clone()),
            ));
            continue;
        }
        let derivation = derive::Derivation::of(f, &resolve).unwrap_or_else(|e| {
            diags.push(Diagnostic::new(e, Some(span.clone())));
            derive::Derivation::default()
        });
        if f.from.is_none() && !derivation.is_empty() {
            diags.push(Diagnostic::new(
                format!(
                    "fixture `{}` changes an image but has no `from`: derivations apply to another fixture",
                    n.get_ref()
                ),
                Some(span.clone()),
            ));
        }
        if let Some(dir) = &f.add_layer {
            exists(dir, "add-layer directory", &mut diags);
        }
        for k in &f.sign {
            exists(k, "signing key", &mut diags);
        }
        if f.sign.is_empty()
            && let Some((k, _)) = f.sign_annotations.iter().next()
        {
            diags.push(Diagnostic::new("`sign-annotations` without `sign`: nothing carries them", Some(k.span())));
        }
        for a in &f.attest {
            exists(&a.key, "signing key", &mut diags);
            exists(&a.predicate, "predicate", &mut diags);
        }
        let source = if let Some(p) = &f.image {
            if p.get_ref().contains("://") {
                diags.push(
                    Diagnostic::new("tests never reach a registry: an image fixture is a file", Some(p.span()))
                        .with_note("save it with `skopeo copy docker://… oci:DIR` and point `image` at DIR"),
                );
            }
            Source::Image(exists(p, "image", &mut diags))
        } else if let Some(a) = &f.artifact {
            let spec = if a.get_ref().starts_with("sha256:") {
                a.get_ref().clone()
            } else {
                exists(a, "artifact", &mut diags).display().to_string()
            };
            let list = |v: &[toml::Spanned<String>], what: &str, diags: &mut Vec<Diagnostic>| -> Vec<PathBuf> {
                v.iter().map(|p| exists(p, what, diags)).collect()
            };
            let sidecars = crate::source::artifact::Sidecars {
                bundles: list(&f.bundles, "bundle", &mut diags),
                provenance: list(&f.provenance, "provenance", &mut diags),
                signature: f.signature.as_ref().map(|p| exists(p, "signature", &mut diags)),
                certificate: f.certificate.as_ref().map(|p| exists(p, "certificate", &mut diags)),
            };
            Source::Artifact { spec, sidecars }
        } else if let Some(r) = &f.review {
            let images = f.images.iter().map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone())).collect();
            Source::Review { path: exists(r, "AdmissionReview", &mut diags), images }
        } else {
            let from = f.from.as_ref().map(|x| x.get_ref().clone()).unwrap_or_default();
            Source::Derived { from, derivation }
        };
        fixtures.insert(
            n.get_ref().clone(),
            Fixture {
                name: n.get_ref().clone(),
                source,
                sboms: f.sboms.iter().map(|p| exists(p, "SBOM", &mut diags)).collect(),
                repository: f.repository.as_ref().map(|r| r.get_ref().clone()),
                select: f.select.as_ref().map(|s| s.get_ref().clone()),
                span,
            },
        );
    }
    // References between fixtures: `from` and review images name fixtures,
    // and derivations do not loop.
    for (n, f) in &file.fixtures {
        let known = |name: &str| fixtures.contains_key(name);
        if let Some(from) = &f.from
            && !known(from.get_ref())
        {
            diags.push(Diagnostic::new(format!("no fixture named `{}`", from.get_ref()), Some(from.span())));
        }
        for (img, target) in &f.images {
            if !known(target.get_ref()) {
                diags.push(Diagnostic::new(format!("no fixture named `{}`", target.get_ref()), Some(target.span())));
            }
            if crate::registry::parse_reference(img.get_ref()).is_err() {
                diags.push(Diagnostic::new(format!("`{}` is not an image reference", img.get_ref()), Some(img.span())));
            }
        }
        let mut seen = vec![n.get_ref().as_str()];
        let mut at = f.from.as_ref().map(|x| x.get_ref().as_str());
        while let Some(next) = at {
            if seen.contains(&next) {
                diags.push(Diagnostic::new(format!("fixture `{}` derives from itself", n.get_ref()), Some(n.span())));
                break;
            }
            seen.push(next);
            at = file
                .fixtures
                .iter()
                .find(|(k, _)| k.get_ref() == next)
                .and_then(|(_, v)| v.from.as_ref())
                .map(|x| x.get_ref().as_str());
        }
    }

    let mut cases = Vec::new();
    let mut names = std::collections::HashSet::new();
    for c in &file.cases {
        let line = text[..c.name.span().start].matches('\n').count() + 1;
        if !names.insert(c.name.get_ref().clone()) {
            diags.push(Diagnostic::new(format!("a second case named `{}`", c.name.get_ref()), Some(c.name.span())));
        }
        if !fixtures.contains_key(c.fixture.get_ref()) {
            diags.push(Diagnostic::new(format!("no fixture named `{}`", c.fixture.get_ref()), Some(c.fixture.span())));
        }
        let policy = match (&c.policy, &policy) {
            (Some(p), _) => policy_ref(p, &mut diags),
            (None, Some(p)) => p.clone(),
            (None, None) => {
                diags.push(
                    Diagnostic::new(format!("case `{}` has no policy", c.name.get_ref()), Some(c.name.span()))
                        .with_note("set `policy` in [context] or in the case"),
                );
                PolicyRef::Builtin
            }
        };
        let verdict = c.verdict.as_ref().and_then(|v| match v.get_ref().as_str() {
            "admit" => Some(crate::Verdict::Admit),
            "deny" => Some(crate::Verdict::Deny),
            other => {
                diags.push(Diagnostic::new(format!("verdict `{other}` is not `admit` or `deny`"), Some(v.span())));
                None
            }
        });
        let mut expect = Vec::new();
        for (rule, e) in &c.expect {
            let (text, message) = match e.get_ref() {
                cfg::ExpectCfg::Outcome(o) => (o.clone(), None),
                cfg::ExpectCfg::Full(f) => (f.outcome.clone(), f.message.clone()),
            };
            let Some(o) = outcome(&text) else {
                diags.push(
                    Diagnostic::new(format!("`{text}` is not an outcome"), Some(e.span()))
                        .with_note(format!("one of {OUTCOMES}")),
                );
                continue;
            };
            let message = message.and_then(|m| match regex::Regex::new(&m) {
                Ok(r) => Some(r),
                Err(err) => {
                    diags.push(Diagnostic::new(format!("message is not a regular expression: {err}"), Some(e.span())));
                    None
                }
            });
            expect.push(Expect { rule: rule.get_ref().clone(), outcome: o, message, span: rule.span() });
        }
        if expect.is_empty() && verdict.is_none() && c.denied_by.is_none() {
            diags.push(Diagnostic::new(
                format!("case `{}` expects nothing: give a verdict, `denied-by` or [case.expect]", c.name.get_ref()),
                Some(c.name.span()),
            ));
        }
        cases.push(Case {
            name: c.name.get_ref().clone(),
            fixture: c.fixture.get_ref().clone(),
            policy,
            params: c
                .params
                .iter()
                .map(|(r, ps)| {
                    (r.get_ref().clone(), ps.iter().map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone())).collect())
                })
                .collect(),
            admission: c.admission.iter().map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone())).collect(),
            platform: c.platform.as_ref().map(|p| p.get_ref().clone()),
            verdict,
            denied_by: c.denied_by.as_ref().map(|d| d.get_ref().clone()),
            strict: c.strict,
            expect,
            line,
        });
    }
    if cases.is_empty() && diags.is_empty() {
        diags.push(Diagnostic::new("no [[case]]: a test file must test something", None));
    }
    if !diags.is_empty() {
        return Err(fail(diags));
    }
    Ok(Suite {
        file: PathBuf::from(name),
        text: text.to_string(),
        now,
        policy,
        trusted_root,
        vuln_db,
        vex,
        plugin_pins,
        fixtures,
        cases,
    })
}
