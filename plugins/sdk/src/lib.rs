//! The Rust SDK for Portcullis policy plugins.
//!
//! It generates the guest bindings of the `portcullis:policy` contract (see
//! `wit/policy.wit`) once, so every plugin crate shares them, and adds the
//! small helpers every plugin needs: reading typed parameters, building
//! findings, and looking up labels. A plugin implements [`Plugin`] and calls
//! [`export_plugin!`].
//!
//! ```ignore
//! struct MyPlugin;
//! impl portcullis_sdk::Plugin for MyPlugin { /* metadata, evaluate */ }
//! portcullis_sdk::export_plugin!(MyPlugin);
//! ```

wit_bindgen::generate!({
    path: "../../wit",
    world: "policy-plugin",
    pub_export_macro: true,
    export_macro_name: "export_plugin",
    default_bindings_module: "portcullis_sdk",
});

pub mod arena;

/// Every plugin built with the SDK allocates from a bump arena: see [`arena`].
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: arena::Arena<{ arena::ARENA_BYTES }> = arena::Arena::new();

pub use exports::portcullis::policy::plugin::Guest as Plugin;
pub use portcullis::policy::filesystem;
pub use portcullis::policy::image_scan;
pub use portcullis::policy::sboms;
pub use portcullis::policy::signatures;
pub use portcullis::policy::types::*;
pub use portcullis::policy::vulnerabilities;

/// Checks the parameter values of the configured rules beyond their types,
/// for a plugin's `check`: each problem names the rule, the parameter and
/// (for lists) the entry, and the host points at it in the policy file.
///
/// ```ignore
/// fn check(rules: Vec<RuleConfig>) -> Vec<ParamProblem> {
///     let mut c = Checker::default();
///     for r in &rules {
///         c.entries(r, "deny", |e| parse_entry(e).map(drop));
///         c.float_in(r, "min_efficiency", 0.0..=1.0);
///     }
///     c.problems
/// }
/// ```
#[derive(Default)]
pub struct Checker {
    pub problems: Vec<ParamProblem>,
}

impl Checker {
    fn push(&mut self, rule: &RuleConfig, param: &str, index: Option<u32>, message: String) {
        // One problem per value: the first check that refuses it says why.
        if self.problems.iter().any(|p| p.rule == rule.id && p.param == param && p.index == index) {
            return;
        }
        self.problems.push(ParamProblem { rule: rule.id.clone(), param: param.into(), index, message });
    }

    /// No entry of any `text-list` parameter may be empty or blank (an
    /// empty entry is a typo, and often matches everything or nothing).
    pub fn non_empty_entries(&mut self, rule: &RuleConfig) {
        for (param, value) in &rule.params {
            if let ParamValue::TextList(list) = value {
                for (i, e) in list.iter().enumerate() {
                    if e.trim().is_empty() {
                        self.push(rule, param, Some(i as u32), "an empty entry".into());
                    }
                }
            }
        }
    }

    /// Every entry of a `text-list` parameter must pass `valid`.
    pub fn entries(&mut self, rule: &RuleConfig, param: &str, valid: impl Fn(&str) -> Result<(), String>) {
        for (i, entry) in Params::of(rule).text_list(param).iter().enumerate() {
            if let Err(why) = valid(entry) {
                self.push(rule, param, Some(i as u32), why);
            }
        }
    }

    /// A `text` parameter must pass `valid` (an empty value means "unset"
    /// for most rules and is not checked).
    pub fn text(&mut self, rule: &RuleConfig, param: &str, valid: impl Fn(&str) -> Result<(), String>) {
        let value = Params::of(rule).text(param, "");
        if !value.is_empty()
            && let Err(why) = valid(&value)
        {
            self.push(rule, param, None, why);
        }
    }

    /// An `integer` parameter must lie in `range`.
    pub fn integer_in(&mut self, rule: &RuleConfig, param: &str, range: std::ops::RangeInclusive<i64>) {
        if let Some(ParamValue::Integer(v)) = Params::of(rule).get(param)
            && !range.contains(v)
        {
            let message = format!("{v} is out of range: must be from {} to {}", range.start(), range.end());
            self.push(rule, param, None, message);
        }
    }

    /// A `float` parameter must lie in `range` (and be a number).
    pub fn float_in(&mut self, rule: &RuleConfig, param: &str, range: std::ops::RangeInclusive<f64>) {
        let v = Params::of(rule).float(param, *range.start());
        if !range.contains(&v) {
            let message = format!("{v} is out of range: must be from {} to {}", range.start(), range.end());
            self.push(rule, param, None, message);
        }
    }
}

/// Typed access to the parameters of one configured rule.
pub struct Params<'a>(&'a [(String, ParamValue)]);

impl<'a> Params<'a> {
    pub fn of(rule: &'a RuleConfig) -> Self {
        Params(&rule.params)
    }

    fn get(&self, name: &str) -> Option<&'a ParamValue> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn boolean(&self, name: &str, default: bool) -> bool {
        match self.get(name) {
            Some(ParamValue::Boolean(b)) => *b,
            _ => default,
        }
    }

    pub fn integer(&self, name: &str, default: i64) -> i64 {
        match self.get(name) {
            Some(ParamValue::Integer(i)) => *i,
            _ => default,
        }
    }

    pub fn float(&self, name: &str, default: f64) -> f64 {
        match self.get(name) {
            Some(ParamValue::Float(f)) => *f,
            Some(ParamValue::Integer(i)) => *i as f64,
            _ => default,
        }
    }

    pub fn text(&self, name: &str, default: &str) -> String {
        match self.get(name) {
            Some(ParamValue::Text(s)) => s.clone(),
            _ => default.to_string(),
        }
    }

    pub fn text_list(&self, name: &str) -> Vec<String> {
        match self.get(name) {
            Some(ParamValue::TextList(l)) => l.clone(),
            _ => Vec::new(),
        }
    }
}

impl Finding {
    fn new(rule: &str, outcome: Outcome, message: impl Into<String>) -> Self {
        Finding {
            rule: rule.to_string(),
            outcome,
            message: message.into(),
            location: None,
            severity: None,
            remediation: None,
        }
    }
    pub fn pass(rule: &str, message: impl Into<String>) -> Self {
        Self::new(rule, Outcome::Pass, message)
    }
    pub fn fail(rule: &str, message: impl Into<String>) -> Self {
        Self::new(rule, Outcome::Fail, message)
    }
    pub fn skip(rule: &str, message: impl Into<String>) -> Self {
        Self::new(rule, Outcome::Skip, message)
    }
    /// Could not decide because of the subject (malformed evidence): an
    /// enforced rule denies, whatever the failure policy says.
    pub fn error(rule: &str, message: impl Into<String>) -> Self {
        Self::new(rule, Outcome::Error, message)
    }
    /// Could not decide for a reason outside the subject (an image the
    /// registry could not serve, a deadline): the failure policy decides.
    pub fn unavailable(rule: &str, message: impl Into<String>) -> Self {
        Self::new(rule, Outcome::Unavailable, message)
    }
    /// Points the finding at a JSON pointer into the evidence.
    pub fn at_pointer(mut self, pointer: impl Into<String>) -> Self {
        let loc = self.location.get_or_insert(Location { path: None, layer: None, pointer: None });
        loc.pointer = Some(pointer.into());
        self
    }
    /// Points the finding at a file (and the layer it came from).
    pub fn at_path(mut self, path: impl Into<String>, layer: Option<u32>) -> Self {
        let loc = self.location.get_or_insert(Location { path: None, layer: None, pointer: None });
        loc.path = Some(path.into());
        loc.layer = layer;
        self
    }
}

impl RuleMeta {
    /// A rule with no parameters.
    pub fn new(
        id: &str,
        title: &str,
        severity: Severity,
        enforcement: Enforcement,
        description: &str,
        remediation: &str,
    ) -> Self {
        RuleMeta {
            id: id.into(),
            title: title.into(),
            description: description.into(),
            remediation: remediation.into(),
            default_severity: severity,
            default_enforcement: enforcement,
            params: Vec::new(),
            targets: vec![TargetKind::Image, TargetKind::Index, TargetKind::Artifact],
        }
    }

    /// The targets the rule judges (default: images, indexes and release
    /// artifacts); the host sends the rule no other subject.
    pub fn judges(mut self, targets: &[TargetKind]) -> Self {
        self.targets = targets.to_vec();
        self
    }

    pub fn param(mut self, name: &str, default: ParamValue, description: &str) -> Self {
        let ty = match &default {
            ParamValue::Boolean(_) => ParamType::Boolean,
            ParamValue::Integer(_) => ParamType::Integer,
            ParamValue::Float(_) => ParamType::Float,
            ParamValue::Text(_) => ParamType::Text,
            ParamValue::TextList(_) => ParamType::TextList,
        };
        self.params.push(ParamSpec { name: name.into(), type_: ty, description: description.into(), default });
        self
    }
}

/// The same skip finding for every configured rule: the subject is not one
/// the plugin's rules are about.
/// Why a rule's queries could not all be answered.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryError {
    /// The evidence was not collected (layers not scanned): the rule is
    /// skipped, saying why.
    Unavailable(String),
    /// More entries matched than the rule may look at: it cannot decide,
    /// and must not pass on what it saw (an `error` finding, which denies).
    Limit(String),
}

impl From<String> for QueryError {
    fn from(why: String) -> Self {
        QueryError::Unavailable(why)
    }
}

impl QueryError {
    /// The finding a rule gives when its queries failed.
    pub fn finding(self, rule: &str) -> Finding {
        match self {
            QueryError::Unavailable(why) => Finding::skip(rule, format!("not checked: {why}")),
            QueryError::Limit(why) => Finding::error(rule, why),
        }
    }
}

/// The host answers at most this many entries per query.
pub const HOST_QUERY_LIMIT: u32 = 100_000;

/// Every entry matching `pattern`, or [`QueryError::Limit`] when more than
/// `limit` match: a rule that filters what it gets must see all of it, or
/// say that it could not (at most `HOST_QUERY_LIMIT - 1`).
pub fn glob_all(pattern: &str, limit: u32) -> Result<Vec<filesystem::FileEntry>, QueryError> {
    let limit = limit.min(HOST_QUERY_LIMIT - 1);
    let found = filesystem::glob(pattern, limit + 1)?;
    if found.len() > limit as usize {
        return Err(QueryError::Limit(format!(
            "more than {limit} paths match `{pattern}`: not all of them could be checked"
        )));
    }
    Ok(found)
}

pub fn skip_all(rules: &[RuleConfig], why: &str) -> Vec<Finding> {
    rules.iter().map(|r| Finding::skip(&r.id, why)).collect()
}

/// Why a rule skips a target it does not judge (the host sends a rule only
/// the targets its metadata names, so this is a guard, not a path).
pub const NOT_JUDGED: &str = "this rule does not judge this kind of subject";

/// Why image rules skip a release artifact.
pub const NOT_AN_IMAGE: &str = "a container image rule; this subject is a release artifact";

/// Convenience for `ParamValue::TextList` from string literals.
pub fn text_list(items: &[&str]) -> ParamValue {
    ParamValue::TextList(items.iter().map(|s| s.to_string()).collect())
}

/// Looks a key up in a label or annotation list.
pub fn lookup<'a>(pairs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    pairs.iter().find(|kv| kv.key == key).map(|kv| kv.value.as_str())
}

/// Case-insensitive (ASCII) wildcard match where `*` matches any run of
/// bytes and `?` one byte. Used for environment-variable name patterns, which
/// have no path structure for a glob library to exploit. Linear in practice
/// (one backtrack point), and allocation-free: rules call it in loops.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    wildcard(pattern, text, |a, b| a.eq_ignore_ascii_case(&b))
}

/// [`wildcard_match`], case-sensitively: for values whose case is part of
/// their meaning (git refs, workflow paths).
pub fn wildcard_match_exact(pattern: &str, text: &str) -> bool {
    wildcard(pattern, text, |a, b| a == b)
}

fn wildcard(pattern: &str, text: &str, same: impl Fn(u8, u8) -> bool) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0usize, 0usize);
    // One backtrack point (the last `*`) is enough for `*`/`?` globs.
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || same(p[pi], t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*_TOKEN", "GITHUB_TOKEN"));
        assert!(wildcard_match("*_token", "GITHUB_TOKEN"));
        assert!(!wildcard_match("*_TOKEN", "TOKENIZER"));
        assert!(wildcard_match("*SECRET*", "MY_SECRET_KEY"));
        assert!(wildcard_match("AWS_?ECRET*", "AWS_SECRET_ACCESS_KEY"));
        assert!(!wildcard_match("PATH", "PATHS"));
        assert!(wildcard_match("*", ""));
    }
}

/// Compares Go versions (`go1.22`, `go1.21.5`, `1.22rc1`): numeric components
/// in order; a pre-release sorts before its release. `None` if unparsable.
pub fn go_version_cmp(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    fn parse(v: &str) -> Option<(Vec<u64>, bool)> {
        let v = v.trim().trim_start_matches("go");
        let v = v.split([' ', '+', '-']).next()?;
        let (nums, pre) = match v.find(|c: char| c.is_ascii_alphabetic()) {
            Some(i) => (&v[..i], true),
            None => (v, false),
        };
        let parts: Option<Vec<u64>> = nums.split('.').filter(|p| !p.is_empty()).map(|p| p.parse().ok()).collect();
        let mut parts = parts?;
        if parts.is_empty() {
            return None;
        }
        parts.resize(3, 0);
        Some((parts, pre))
    }
    let (a, ap) = parse(a)?;
    let (b, bp) = parse(b)?;
    Some(a.cmp(&b).then(bp.cmp(&ap)))
}

/// Semantic-version comparison for Go module versions (`v1.2.3`,
/// `v0.0.0-2023...-abcdef`): numeric major.minor.patch, then pre-release
/// (a pre-release sorts first). `None` if unparsable.
pub fn semver_cmp(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    fn parse(v: &str) -> Option<([u64; 3], Option<&str>)> {
        let v = v.trim().trim_start_matches('v');
        let v = v.split('+').next()?;
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (v, None),
        };
        let mut n = [0u64; 3];
        for (i, p) in core.split('.').enumerate() {
            *n.get_mut(i)? = p.parse().ok()?;
        }
        Some((n, pre))
    }
    let (an, ap) = parse(a)?;
    let (bn, bp) = parse(b)?;
    Some(an.cmp(&bn).then(match (ap, bp) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => x.cmp(y),
    }))
}

#[cfg(test)]
mod version_tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn go_versions() {
        assert_eq!(go_version_cmp("go1.27.3", "1.22"), Some(Greater));
        assert_eq!(go_version_cmp("go1.19.8", "1.22"), Some(Less));
        assert_eq!(go_version_cmp("go1.22", "1.22.0"), Some(Equal));
        assert_eq!(go_version_cmp("go1.22rc1", "1.22"), Some(Less));
        assert_eq!(go_version_cmp("devel", "1.22"), None);
        assert_eq!(semver_cmp("v1.2.3", "v1.10.0"), Some(Less));
        assert_eq!(semver_cmp("v1.2.3-rc1", "v1.2.3"), Some(Less));
        assert_eq!(semver_cmp("v0.0.0-20230101-abcdef", "v0.1.0"), Some(Less));
    }
}

/// The command line a container runs: Entrypoint followed by Cmd, or Cmd
/// alone; with the JSON pointer of the config field that names the program.
pub fn command_line(config: &ImageConfig) -> (Vec<String>, &'static str) {
    match (&config.entrypoint, &config.cmd) {
        (Some(ep), cmd) if !ep.is_empty() => {
            let mut all = ep.clone();
            all.extend(cmd.iter().flatten().cloned());
            (all, "/config/Entrypoint")
        }
        (_, Some(cmd)) => (cmd.clone(), "/config/Cmd"),
        _ => (Vec::new(), "/config/Entrypoint"),
    }
}

/// Finds the file the runtime would execute for `program`: an absolute path
/// as is, a relative one from the root, a bare name through the image's
/// `PATH`; symlinks followed inside the image (at most 16 hops). Returns the
/// final entry, or `None` if no candidate exists; `Err` when the image's
/// files were not scanned.
pub fn locate_program(program: &str, env: &[String]) -> Result<Option<filesystem::FileEntry>, String> {
    let candidates: Vec<String> = if program.starts_with('/') {
        vec![program.to_string()]
    } else if program.contains('/') {
        vec![format!("/{}", program.trim_start_matches("./"))]
    } else {
        let path = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        path.split(':')
            .filter(|d| d.starts_with('/'))
            .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
            .collect()
    };
    for candidate in candidates {
        if let Resolved::Entry(e) = resolve(&candidate)?
            && e.kind != filesystem::FileKind::Directory
        {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

/// Where a path leads in the image, symlinks followed as the kernel follows
/// them inside the root (at most 16 hops).
#[derive(Debug, Clone)]
pub enum Resolved {
    /// The entry at the end: never a symlink.
    Entry(filesystem::FileEntry),
    /// Nothing there; `via` is the last symlink followed, if any (a
    /// dangling link), with the path it pointed to.
    Missing { path: String, via: Option<filesystem::FileEntry> },
    /// More than 16 links in a row (a loop, or a chain the kernel refuses).
    TooManyLinks,
}

/// Follows `path` through symlinks inside the image; `Err` when the image's
/// files were not scanned.
pub fn resolve(path: &str) -> Result<Resolved, String> {
    let mut path = path.to_string();
    let mut via = None;
    for _ in 0..=16 {
        match filesystem::stat(&path)? {
            None => return Ok(Resolved::Missing { path, via }),
            Some(e) if e.kind == filesystem::FileKind::Symlink => {
                let target = e.link_target.clone().unwrap_or_default();
                path = if target.starts_with('/') {
                    target
                } else {
                    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                    format!("{dir}/{target}")
                };
                via = Some(e);
            }
            Some(e) => return Ok(Resolved::Entry(e)),
        }
    }
    Ok(Resolved::TooManyLinks)
}
