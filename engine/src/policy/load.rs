//! Policies of several files: the files given (`--policy A --policy B`) and
//! what each includes (`include = [...]` in `[policy]`), read once each, in
//! order (what a file includes comes before it), and combined into one
//! [`Policy`]. Combining is strict where a silent choice would surprise: a
//! rule configured in two files, a plugin declared two different ways, or
//! two `[admission]` (or `[gate]`) tables are errors naming both places. Everything else
//! adds up: plugins, rules, waivers.

use super::diags::{Diagnostic, PolicyError};
use super::{DEFAULT_POLICY_NAME, DEFAULT_POLICY_TEXT, PluginSource, Policy, PolicyText};
use crate::digest::Digest;
use crate::model::FailurePolicy;
use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The embedded packs, by the name a policy or `--policy` gives them.
pub const BUILTIN_PACKS: &[(&str, &str)] = &[
    (DEFAULT_POLICY_NAME, DEFAULT_POLICY_TEXT),
    ("builtin:supply-chain", include_str!("../../../policies/supply-chain.toml")),
];

/// Reads the policy files and combines them; see the module doc.
pub fn load(paths: &[PathBuf]) -> Result<Policy, PolicyError> {
    let mut loader = Loader::default();
    for p in paths {
        loader.visit(&p.display().to_string(), None, None);
    }
    loader.finish()
}

/// Where an include entry is: the including file's name and text, and the span.
struct Site<'a> {
    source: &'a str,
    text: &'a str,
    span: Range<usize>,
}

impl Site<'_> {
    fn error(&self, message: String) -> PolicyError {
        PolicyError::new(self.source, self.text, vec![Diagnostic::new(message, Some(self.span.clone()))])
    }
}

#[derive(Default)]
struct Loader {
    parts: Vec<Policy>,
    errors: Vec<PolicyError>,
    /// Files already read (canonical paths, builtin names): a file included
    /// twice is applied once.
    seen: HashSet<String>,
    /// The chain of includes being followed, to name a cycle.
    stack: Vec<String>,
}

impl Loader {
    /// Reads `what` (a path, relative to `base`, or `builtin:NAME`) and,
    /// first, what it includes.
    fn visit(&mut self, what: &str, base: Option<&Path>, site: Option<Site<'_>>) {
        let (key, name, text, dir) = if what.starts_with("builtin:") {
            match BUILTIN_PACKS.iter().find(|(n, _)| *n == what) {
                Some((n, t)) => (n.to_string(), n.to_string(), t.to_string(), None),
                None => {
                    let names: Vec<&str> = BUILTIN_PACKS.iter().map(|(n, _)| *n).collect();
                    let message = format!("no builtin policy pack `{what}` (there are: {})", names.join(", "));
                    self.errors.push(match site {
                        Some(s) => s.error(message),
                        None => PolicyError::new(what, "", vec![Diagnostic::new(message, None)]),
                    });
                    return;
                }
            }
        } else {
            let path = match base {
                Some(b) if Path::new(what).is_relative() => b.join(what),
                _ => PathBuf::from(what),
            };
            let name = path.display().to_string();
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    self.errors.push(match site {
                        Some(s) => s.error(format!("cannot read the included policy {name}: {e}")),
                        None => {
                            PolicyError::new(&name, "", vec![Diagnostic::new(format!("cannot read policy: {e}"), None)])
                        }
                    });
                    return;
                }
            };
            let key = std::fs::canonicalize(&path).map_or(name.clone(), |p| p.display().to_string());
            (key, name, text, path.parent().map(Path::to_path_buf))
        };
        if let Some(at) = self.stack.iter().position(|k| *k == key) {
            let chain: Vec<&str> = self.stack[at..].iter().map(String::as_str).chain([key.as_str()]).collect();
            if let Some(s) = site {
                self.errors.push(s.error(format!("the policy includes itself: {}", chain.join(" → "))));
            }
            return;
        }
        if !self.seen.insert(key.clone()) {
            return;
        }
        let policy = match Policy::parse(&name, &text, dir.as_deref()) {
            Ok(p) => p,
            Err(mut e) => {
                let partial = e.take_partial();
                self.errors.push(e);
                match partial {
                    Some(p) => p,
                    None => return,
                }
            }
        };
        self.stack.push(key);
        for (include, span) in policy.files[0].includes.clone() {
            let site = Site { source: &name, text: &text, span };
            self.visit(&include, dir.as_deref(), Some(site));
        }
        self.stack.pop();
        self.parts.push(policy);
    }

    fn finish(self) -> Result<Policy, PolicyError> {
        let mut errors = self.errors;
        if self.parts.is_empty() {
            return Err(PolicyError::merge(errors));
        }
        let combined = match combine(self.parts) {
            Ok(p) => p,
            Err(mut e) => {
                let partial = e.take_partial();
                errors.push(e);
                let merged = PolicyError::merge(errors);
                return Err(match partial {
                    Some(p) => merged.with_partial(p),
                    None => merged,
                });
            }
        };
        if errors.is_empty() { Ok(combined) } else { Err(PolicyError::merge(errors).with_partial(combined)) }
    }
}

/// Where a file's table of one kind starts, if it has one.
type TableAt = fn(&PolicyText) -> &Option<Range<usize>>;

/// Combines parsed policy files into one; see the module doc.
pub(crate) fn combine(mut parts: Vec<Policy>) -> Result<Policy, PolicyError> {
    if parts.len() == 1 {
        return Ok(parts.remove(0));
    }
    let mut parts = parts.into_iter();
    let mut acc = parts.next().expect("more than one part");
    let mut diags = Vec::new();
    for p in parts {
        let shift = acc.files.len();
        for mut r in p.rules {
            r.file += shift;
            match acc.rules.iter().find(|e| e.id == r.id) {
                Some(first) => diags.push(
                    Diagnostic::new(format!("rule {} is configured in two policy files", r.id), Some(r.span.clone()))
                        .in_file(r.file)
                        .also_at(first.file, first.span.clone(), "first configured here")
                        .with_note("configure each rule in one file; the policies are applied together"),
                ),
                None => acc.rules.push(r),
            }
        }
        for mut c in p.custom {
            c.file += shift;
            match acc.custom.iter().find(|e| e.info.id == c.info.id) {
                Some(first) => diags.push(
                    Diagnostic::new(
                        format!("custom rule {} is defined in two policy files", c.info.id),
                        Some(c.id_span.clone()),
                    )
                    .in_file(c.file)
                    .also_at(first.file, first.id_span.clone(), "first defined here")
                    .with_note("define each rule in one file; the policies are applied together"),
                ),
                None => acc.custom.push(c),
            }
        }
        for mut spec in p.plugins {
            spec.files.iter_mut().for_each(|f| *f += shift);
            match acc.plugins.iter_mut().find(|e| e.name == spec.name) {
                // The `cel` plugin a file's custom rules load gives way to
                // a declaration (with its limits) in another file.
                Some(first) if spec.implicit => first.files.extend(spec.files),
                Some(first) if first.implicit => {
                    spec.files.extend(first.files.iter().copied());
                    *first = spec;
                }
                Some(first) if same_plugin(first, &spec) => first.files.extend(spec.files),
                Some(first) => diags.push(
                    Diagnostic::new(
                        format!("plugin `{}` is declared differently in two policy files", spec.name),
                        Some(spec.span.clone()),
                    )
                    .in_file(spec.files[0])
                    .also_at(first.files[0], first.span.clone(), "first declared here")
                    .with_note("declare it the same way (path, sha256 and limits) in both, or in one"),
                ),
                None => acc.plugins.push(spec),
            }
        }
        for mut w in p.waivers {
            w.file += shift;
            acc.waivers.push(w);
        }
        // Tables only one file may have: each is refused a second time,
        // naming both; the one file's settings are taken.
        let tables: [(TableAt, &str, &str); 2] = [
            (|f| &f.admission_at, "an [admission] table", "the admission server's settings belong in one file"),
            (|f| &f.gate_at, "a [gate] table", "which repositories a policy judges belongs in one file"),
        ];
        for (at_of, what, note) in tables {
            let first = acc.files.iter().position(|f| at_of(f).is_some());
            for (i, f) in p.files.iter().enumerate() {
                let (Some(at), Some(first)) = (at_of(f), first) else { continue };
                diags.push(
                    Diagnostic::new(format!("two policy files have {what}"), Some(at.clone()))
                        .in_file(shift + i)
                        .also_at(first, at_of(&acc.files[first]).clone().unwrap_or_default(), "the first is here")
                        .with_note(note),
                );
            }
        }
        if !acc.files.iter().any(|f| f.admission_at.is_some()) && p.files.iter().any(|f| f.admission_at.is_some()) {
            acc.admission = p.admission;
        }
        if !acc.files.iter().any(|f| f.gate_at.is_some()) && p.files.iter().any(|f| f.gate_at.is_some()) {
            acc.gate = p.gate;
        }
        acc.files.extend(p.files);
        acc.name = format!("{} + {}", acc.name, p.name);
        acc.version = format!("{} + {}", acc.version, p.version);
        acc.description = acc.description.or(p.description);
        acc.enforcement = acc.enforcement.max(p.enforcement);
        if p.failure_policy == FailurePolicy::Deny {
            acc.failure_policy = FailurePolicy::Deny;
        }
    }
    acc.source = acc.files.iter().map(|f| f.source.as_str()).collect::<Vec<_>>().join(", ");
    acc.digest = {
        let listing: String =
            acc.files.iter().map(|f| format!("{}\0{}\n", f.source, Digest::sha256(f.text.as_bytes()))).collect();
        Digest::sha256(listing.as_bytes())
    };
    if diags.is_empty() { Ok(acc) } else { Err(acc.error(diags).with_partial(acc)) }
}

/// Whether two declarations of a plugin load the same thing the same way.
fn same_plugin(a: &super::PluginSpec, b: &super::PluginSpec) -> bool {
    let source = match (&a.source, &b.source) {
        (PluginSource::Builtin, PluginSource::Builtin) => true,
        (PluginSource::External { sha256: x, .. }, PluginSource::External { sha256: y, .. }) => x == y,
        _ => false,
    };
    source && a.limits == b.limits
}
