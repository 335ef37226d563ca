//! The `cel` builtin plugin: a policy's inline custom rules
//! (`[[rules.custom]]`), CEL expressions judged inside the same sandbox as
//! every other rule — the same fuel, deadline and memory cap, so an
//! expression that iterates or allocates without bound is stopped and
//! becomes an `error` finding.
//!
//! It declares no rules of its own: the host turns each custom rule into a
//! rule configuration whose id is the rule's and whose parameters are its
//! `expression`, `message`, `when` and `targets`, already type-checked when
//! the policy loaded (`portcullis_cel`). Here they are compiled again with
//! the same environment and evaluated over the subject's evidence.

// Natively (for the unit tests) nothing exports the plugin.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod values;

use cel::{Context, ExecutionError, Program, Value};
use portcullis_cel::{Role, Target};
use portcullis_sdk::*;
use std::sync::Arc;

struct Cel;

/// At most this many entries from `files.glob`.
const GLOB_LIMIT: u32 = 1000;

/// A custom rule, as the host sends it.
struct Rule {
    id: String,
    expression: String,
    message: String,
    when: String,
    targets: Vec<Target>,
}

impl Rule {
    fn of(config: &RuleConfig) -> Rule {
        let p = Params::of(config);
        Rule {
            id: config.id.clone(),
            expression: p.text("expression", ""),
            message: p.text("message", ""),
            when: p.text("when", ""),
            targets: p.text_list("targets").iter().filter_map(|t| Target::parse(t)).collect(),
        }
    }

    /// The rule's programs: (expression, message, when), or the first
    /// problem. `typed`: type-checked too (in `check`, when the policy
    /// loads; evaluation only parses what was checked then).
    fn compile(&self, env: &cel::Env, typed: bool) -> Result<(Program, Option<Program>, Option<Program>), String> {
        let targets = if self.targets.is_empty() { &[Target::Image][..] } else { &self.targets };
        let one = |source: &str, role, what: &str| {
            let compiled = match typed {
                true => portcullis_cel::compile(env, source, targets, role),
                false => portcullis_cel::parse(env, source),
            };
            compiled.map_err(|problems| {
                let p = &problems[0];
                format!("{what}: {} (at byte {})", p.message, p.range.start)
            })
        };
        let expression = one(&self.expression, Role::Condition, "expression")?;
        let message = match self.message.is_empty() {
            true => None,
            false => Some(one(&self.message, Role::Message, "message")?),
        };
        let when = match self.when.is_empty() {
            true => None,
            false => Some(one(&self.when, Role::Condition, "when")?),
        };
        Ok((expression, message, when))
    }
}

impl Plugin for Cel {
    fn metadata() -> PluginMeta {
        PluginMeta { name: "cel".into(), version: env!("CARGO_PKG_VERSION").into(), rules: Vec::new() }
    }

    fn check(rules: Vec<RuleConfig>) -> Vec<ParamProblem> {
        let env = portcullis_cel::env();
        let mut problems = Vec::new();
        for config in &rules {
            if let Err(message) = Rule::of(config).compile(&env, true) {
                let param = message.split(':').next().unwrap_or("expression").to_string();
                problems.push(ParamProblem { rule: config.id.clone(), param, index: None, message });
            }
        }
        problems
    }

    fn evaluate(target: Target_, rules: Vec<RuleConfig>) -> Vec<Finding> {
        let env = Arc::new(portcullis_cel::env());
        rules.iter().map(|config| judge(&env, &target, &Rule::of(config))).collect()
    }
}

/// The WIT target (the SDK's name; `Target` here is the schema's).
type Target_ = portcullis_sdk::Target;

fn judge(env: &Arc<cel::Env>, target: &Target_, rule: &Rule) -> Finding {
    let id = rule.id.as_str();
    let (expression, message, when) = match rule.compile(env, false) {
        Ok(p) => p,
        Err(why) => return Finding::error(id, format!("the rule does not compile: {why}")),
    };
    let mut context = Context::with_env(env.clone());
    if let Err(why) = functions(&mut context) {
        return Finding::error(id, format!("cannot set up the CEL functions: {why:?}"));
    }
    let programs: Vec<&Program> = [Some(&expression), message.as_ref(), when.as_ref()].into_iter().flatten().collect();
    for name in portcullis_cel::variables_used(&programs) {
        match values::variable(name, target) {
            Ok(v) => context.add_variable_from_value(name, v),
            Err(why) => return Finding::unavailable(id, why),
        }
    }
    if let Some(when) = &when {
        match when.execute(&context) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => return Finding::skip(id, "`when` is false: the rule does not apply"),
            Ok(other) => return Finding::error(id, format!("`when` gave {other:?}, not a bool")),
            Err(e) => return Finding::error(id, format!("evaluating `when` failed: {}", describe(&e))),
        }
    }
    match expression.execute(&context) {
        Ok(Value::Bool(true)) => Finding::pass(id, "the expression is true"),
        Ok(Value::Bool(false)) => {
            let text = match &message {
                None => format!("the expression is false: {}", rule.expression.trim()),
                Some(m) => match m.execute(&context) {
                    Ok(Value::String(s)) => s.to_string(),
                    Ok(other) => format!("the expression is false (the message gave {other:?}, not a string)"),
                    Err(e) => format!("the expression is false (the message failed: {})", describe(&e)),
                },
            };
            Finding::fail(id, text)
        }
        Ok(other) => Finding::error(id, format!("the expression gave {other:?}, not a bool")),
        Err(e) => Finding::error(id, format!("evaluating the expression failed: {}", describe(&e))),
    }
}

fn describe(e: &ExecutionError) -> String {
    e.to_string()
}

/// The functions `portcullis_cel::schema::functions` declares.
fn functions(context: &mut Context<'_, '_>) -> Result<(), cel::DeclarationError> {
    use cel::extractors::{Arguments, This};
    context.add_function(
        "exists",
        |This(_files): This<Value>, path: Arc<String>| -> Result<Value, ExecutionError> {
            match filesystem::stat(&path) {
                Ok(entry) => Ok(Value::Bool(entry.is_some())),
                Err(why) => Err(ExecutionError::function_error("files.exists", why)),
            }
        },
    )?;
    context.add_function("stat", |This(_files): This<Value>, path: Arc<String>| -> Result<Value, ExecutionError> {
        match filesystem::stat(&path) {
            Ok(Some(entry)) => Ok(values::file(&entry)),
            Ok(None) => Err(ExecutionError::function_error("files.stat", format!("no file at {path}"))),
            Err(why) => Err(ExecutionError::function_error("files.stat", why)),
        }
    })?;
    context.add_function(
        "glob",
        |This(_files): This<Value>, pattern: Arc<String>| -> Result<Value, ExecutionError> {
            match filesystem::glob(&pattern, GLOB_LIMIT) {
                Ok(entries) => Ok(Value::List(Arc::new(entries.iter().map(values::file).collect()))),
                Err(why) => Err(ExecutionError::function_error("files.glob", why)),
            }
        },
    )?;
    context.add_function("compareVersions", |Arguments(args): Arguments| -> Result<Value, ExecutionError> {
        let texts: Vec<&str> = args
            .iter()
            .map(|a| match a {
                Value::String(s) => Ok(s.as_str()),
                other => Err(ExecutionError::function_error("compareVersions", format!("{other:?} is not a string"))),
            })
            .collect::<Result<_, _>>()?;
        let (scheme, a, b) = match texts.as_slice() {
            [a, b] => ("semver", *a, *b),
            [s, a, b] => (*s, *a, *b),
            _ => return Err(ExecutionError::function_error("compareVersions", "takes 2 or 3 arguments")),
        };
        compare(scheme, a, b)
            .map(|o| Value::Int(o as i64))
            .map_err(|e| ExecutionError::function_error("compareVersions", e))
    })?;
    Ok(())
}

/// Orders two versions in a scheme of `portcullis_cel::schema::VERSION_SCHEMES`.
fn compare(scheme: &str, a: &str, b: &str) -> Result<std::cmp::Ordering, String> {
    use portcullis_versions::Scheme;
    let (scheme, a, b) = match scheme {
        // Go toolchains write `go1.22.5`; `go1.22` is `1.22.0`.
        "semver" => (Scheme::Semver, go_to_semver(a), go_to_semver(b)),
        "deb" => (Scheme::Dpkg, a.to_string(), b.to_string()),
        "apk" => (Scheme::Alpine, a.to_string(), b.to_string()),
        "pep440" => (Scheme::Pep440, a.to_string(), b.to_string()),
        "maven" => (Scheme::Maven, a.to_string(), b.to_string()),
        other => return Err(format!("unknown version scheme `{other}`")),
    };
    // The semver order falls back to a lenient one for text that is not
    // semver; a rule comparing such text is a mistake to report, not to guess.
    let strict = |v: &str| scheme != Scheme::Semver || semver_like(v);
    if !strict(&a) || !strict(&b) {
        return Err(format!("cannot compare `{a}` with `{b}`: not both semantic versions"));
    }
    scheme.compare(&a, &b).ok_or_else(|| format!("cannot compare `{a}` with `{b}`: not both versions"))
}

fn semver_like(v: &str) -> bool {
    let core = v.trim_start_matches('v');
    let core = core.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn go_to_semver(v: &str) -> String {
    let Some(rest) = v.strip_prefix("go") else { return v.to_string() };
    let (core, pre) = match rest.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut parts: Vec<&str> = core.split('.').collect();
    while parts.len() < 3 {
        parts.push("0");
    }
    // `go1.23rc1` is a pre-release of 1.23.0.
    let pre = if pre.is_empty() { String::new() } else { format!("-{pre}") };
    format!("{}{pre}", parts.join("."))
}

// Exported only in the component: the export names (`portcullis:policy/…`)
// are not symbols a native linker accepts, and native builds run the tests.
#[cfg(target_arch = "wasm32")]
export_plugin!(Cel);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_versions_order_as_semver() {
        use std::cmp::Ordering::*;
        assert_eq!(compare("semver", "go1.22.5", "go1.22.10"), Ok(Less));
        assert_eq!(compare("semver", "go1.22", "1.22.0"), Ok(Equal));
        assert_eq!(compare("semver", "go1.23rc1", "go1.23.0"), Ok(Less));
        assert_eq!(compare("semver", "v1.2.3", "1.2.3"), Ok(Equal));
        assert_eq!(compare("deb", "3.0.11-1+deb12u2", "3.0.11-1"), Ok(Greater));
        assert_eq!(compare("deb", "3.0.11-1~bpo1", "3.0.11-1"), Ok(Less));
        assert!(compare("semver", "banana", "1.0.0").is_err());
    }
}
