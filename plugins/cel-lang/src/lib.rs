//! The language of custom rules: CEL expressions over the evidence of a
//! subject, as in Kubernetes' ValidatingAdmissionPolicy.
//!
//! Why a crate of its own: the host and the `cel` guest plugin must agree
//! on exactly what an expression may say. The host compiles and
//! type-checks every expression of a policy when it loads (so a misspelt
//! field is an error at `file:line:column`, not an error finding on every
//! subject); the plugin compiles the same text with the same environment and
//! evaluates it in the sandbox, over values built after the same schema.
//!
//! The cel crate parses and interprets but has no type checker; [`check`]
//! adds one (see its module documentation for what it accepts).

mod check;
pub mod doc;
pub mod schema;
pub mod types;

pub use schema::Target;
pub use types::Ty;

use std::ops::Range;

/// A problem in an expression, at a byte range of its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub range: Range<usize>,
    pub message: String,
    pub note: Option<String>,
}

/// The CEL environment expressions compile and run with: the standard
/// library and its macros, the strings extension; no optional syntax, no
/// timestamps. The functions of [`schema::functions`] are added to the
/// evaluation context by the plugin.
pub fn env() -> cel::Env {
    let mut env = cel::Env::stdlib().with_optional_support(false);
    // The extension only adds overloads; it cannot clash with the stdlib.
    let _ = env.add_extension(cel::extensions::strings);
    env
}

/// What an expression must evaluate to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `expression` and `when`: a bool.
    Condition,
    /// `message`: a string.
    Message,
}

impl Role {
    fn ty(self) -> Ty {
        match self {
            Role::Condition => Ty::Bool,
            Role::Message => Ty::String,
        }
    }
}

/// Parses `source` (and expands its macros), without type-checking it:
/// for an expression already checked when its policy loaded.
pub fn parse(env: &cel::Env, source: &str) -> Result<cel::Program, Vec<Problem>> {
    if source.trim().is_empty() {
        return Err(vec![Problem { range: 0..source.len(), message: "the expression is empty".into(), note: None }]);
    }
    env.compile(source).map_err(|e| parse_problems(source, &e))
}

/// Parses and type-checks `source` for rules on each of `targets`: the
/// program, or every problem found (syntax errors stop before types).
pub fn compile(env: &cel::Env, source: &str, targets: &[Target], role: Role) -> Result<cel::Program, Vec<Problem>> {
    let program = parse(env, source)?;
    let mut problems: Vec<Problem> = Vec::new();
    for &target in targets {
        let mut checker = check::Checker::new(source, program.source_info(), target);
        let ty = checker.ty(program.expression());
        if checker.problems.is_empty() && !ty.fits(&role.ty()) {
            let note = match role {
                Role::Condition => "the rule passes when the expression is true",
                Role::Message => "a message is a string: `'no owner label on ' + subject.reference`",
            };
            checker.problems.push(Problem {
                range: 0..source.len(),
                message: format!("the expression is {ty}, and must be {}", role.ty()),
                note: Some(note.into()),
            });
        }
        for p in checker.problems {
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
    }
    if problems.is_empty() { Ok(program) } else { Err(problems) }
}

fn parse_problems(source: &str, errors: &cel::ParseErrors) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    for e in &errors.errors {
        let (line, column) = (e.pos.0.max(1) as usize, e.pos.1.max(1) as usize);
        let start = line_column_offset(source, line, column);
        let end = source[start..].chars().next().map_or(start, |c| start + c.len_utf8());
        let message = e.msg.strip_prefix("Syntax error: ").unwrap_or(&e.msg).to_string();
        let problem = Problem { range: start..end, message: format!("syntax error: {message}"), note: None };
        if !out.contains(&problem) {
            out.push(problem);
        }
    }
    if out.is_empty() {
        out.push(Problem { range: 0..source.len(), message: errors.to_string(), note: None });
    }
    out
}

/// The byte offset of a 1-based line and character column (the end of the
/// text when past it).
fn line_column_offset(source: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in source.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return offset + l.char_indices().nth(column - 1).map_or(l.trim_end_matches('\n').len(), |(b, _)| b);
        }
        offset += l.len();
    }
    source.len()
}

/// The parser's offsets of a node (bytes, `stop` inclusive) as a byte
/// range of `source`, widened to whole characters.
pub(crate) fn char_range(source: &str, start: usize, end: usize) -> Range<usize> {
    let floor = |mut n: usize| {
        n = n.min(source.len());
        while !source.is_char_boundary(n) {
            n -= 1;
        }
        n
    };
    let ceil = |mut n: usize| {
        n = n.min(source.len());
        while !source.is_char_boundary(n) {
            n += 1;
        }
        n
    };
    let s = floor(start);
    s..ceil(end).max(s)
}

/// The candidate closest to `given`, if it is close enough to be what was meant.
pub fn did_you_mean<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(given, c), c))
        .filter(|(d, c)| *d <= (c.chars().count().max(given.chars().count()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The variables some programs use, each once, in name order (the plugin
/// builds only those).
pub fn variables_used(programs: &[&cel::Program]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Target::ALL.iter().flat_map(|t| schema::variables(*t)).map(|v| v.name).collect();
    names.sort_unstable();
    names.dedup();
    let refs: Vec<_> = programs.iter().map(|p| p.references()).collect();
    names.retain(|n| refs.iter().any(|r| r.has_variable(n)));
    names
}

#[cfg(test)]
mod tests;
