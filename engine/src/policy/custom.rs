//! Custom rules (`[[rules.custom]]`): rules written in the policy itself as
//! CEL expressions, judged by the builtin `cel` plugin in the same sandbox
//! as every other rule.
//!
//! Everything that can be known without a subject is checked here, when the
//! policy is read: the rule's form (id, title, targets), and each expression
//! parsed and type-checked against the evidence of its targets
//! (`portcullis_cel`). A problem inside an expression points at its exact
//! characters in the TOML file, through the string's quoting and escapes.

use super::cfg::CustomRuleCfg;
use super::diags::Diagnostic;
use crate::evidence::SubjectKind;
use crate::model::{Enforcement, ParamSpec, ParamType, ParamValue, RuleInfo, Severity};
use portcullis_cel::{Role, Target};
use std::ops::Range;

/// The builtin plugin that evaluates custom rules.
pub const PLUGIN: &str = "cel";

/// A custom rule as read.
#[derive(Debug, Clone)]
pub(crate) struct CustomRule {
    pub(crate) info: RuleInfo,
    pub(crate) enabled: bool,
    pub(crate) enforcement: Option<Enforcement>,
    pub(crate) id_span: Range<usize>,
    pub(crate) file: usize,
    /// Whether its expressions compiled and type-checked (a policy with
    /// problems is still resolved, to report every problem in one run; the
    /// plugin must not report these ones a second time).
    pub(crate) valid: bool,
}

/// Reads the custom rules of one file, adding a diagnostic for each problem.
pub(crate) fn read(cfgs: &[CustomRuleCfg], text: &str, diags: &mut Vec<Diagnostic>) -> Vec<CustomRule> {
    let env = portcullis_cel::env();
    let mut out: Vec<CustomRule> = Vec::new();
    for c in cfgs {
        let id = c.id.get_ref().trim().to_string();
        let id_span = c.id.span();
        if let Some(why) = bad_id(&id) {
            diags.push(Diagnostic::new(format!("custom rule id `{id}` {why}"), Some(id_span.clone())));
        }
        if let Some(first) = out.iter().find(|r| r.info.id == id) {
            diags.push(Diagnostic::new(format!("two custom rules are called {id}"), Some(id_span.clone())).also_at(
                0,
                first.id_span.clone(),
                "the first is here",
            ));
        }
        if c.title.get_ref().trim().is_empty() {
            diags.push(Diagnostic::new("a custom rule's `title` must not be empty", Some(c.title.span())));
        }
        let mut targets: Vec<Target> = Vec::new();
        match &c.targets {
            None => targets.push(Target::Image),
            Some(list) => {
                if list.get_ref().is_empty() {
                    diags.push(Diagnostic::new("`targets` must name at least one kind of subject", Some(list.span())));
                }
                for t in list.get_ref() {
                    match Target::parse(t.get_ref()) {
                        Some(k) if !targets.contains(&k) => targets.push(k),
                        Some(_) => {}
                        None => {
                            let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
                            let note = match super::read::did_you_mean(t.get_ref(), names.iter().copied()) {
                                Some(best) => format!("did you mean `{best}`?"),
                                None => format!("the kinds are: {}", names.join(", ")),
                            };
                            diags.push(
                                Diagnostic::new(format!("unknown target `{}`", t.get_ref()), Some(t.span()))
                                    .with_note(note),
                            );
                        }
                    }
                }
            }
        }
        let mut valid = true;
        let mut expression = |what: &str, value: &toml::Spanned<String>, role: Role| {
            // With no valid target, the syntax is still checked (types need one).
            if let Err(problems) = portcullis_cel::compile(&env, value.get_ref(), &targets, role) {
                valid = false;
                for p in problems {
                    let span = value_range(text, value.span(), p.range.clone());
                    let mut d = Diagnostic::new(format!("{what} of custom rule {id}: {}", p.message), Some(span));
                    if let Some(note) = p.note {
                        d = d.with_note(note);
                    }
                    diags.push(d);
                }
            }
        };
        expression("expression", &c.expression, Role::Condition);
        if let Some(m) = &c.message {
            expression("message", m, Role::Message);
        }
        if let Some(w) = &c.when {
            expression("when", w, Role::Condition);
        }
        let text_param = |name: &str, value: String, description: &str| ParamSpec {
            name: name.into(),
            ty: ParamType::Text,
            description: description.into(),
            default: ParamValue::Text(value),
        };
        let kinds: Vec<SubjectKind> = targets.iter().map(|t| kind(*t)).collect();
        let params = vec![
            text_param("expression", c.expression.get_ref().clone(), "CEL: true when the subject passes"),
            text_param(
                "message",
                c.message.as_ref().map(|m| m.get_ref().clone()).unwrap_or_default(),
                "CEL: the message of a failure",
            ),
            text_param(
                "when",
                c.when.as_ref().map(|m| m.get_ref().clone()).unwrap_or_default(),
                "CEL: false when the rule does not apply",
            ),
            ParamSpec {
                name: "targets".into(),
                ty: ParamType::TextList,
                description: "the kinds of subject it judges".into(),
                default: ParamValue::TextList(targets.iter().map(|t| t.name().to_string()).collect()),
            },
        ];
        let description = c.description.clone().unwrap_or_else(|| {
            format!("A custom rule of the policy: passes when `{}` is true.", c.expression.get_ref().trim())
        });
        out.push(CustomRule {
            info: RuleInfo {
                id: id.clone(),
                title: c.title.get_ref().trim().to_string(),
                description,
                remediation: c.remediation.clone().unwrap_or_default(),
                default_severity: c.severity.unwrap_or(Severity::Medium),
                default_enforcement: Enforcement::Enforce,
                params,
                plugin: PLUGIN.to_string(),
                targets: kinds,
            },
            enabled: c.enabled.unwrap_or(true),
            enforcement: c.enforcement,
            id_span,
            file: 0,
            valid,
        });
    }
    out
}

fn kind(t: Target) -> SubjectKind {
    match t {
        Target::Image => SubjectKind::Image,
        Target::Index => SubjectKind::Index,
        Target::Artifact => SubjectKind::Artifact,
        Target::Workload => SubjectKind::Workload,
    }
}

/// Why an id cannot name a custom rule, if it cannot.
fn bad_id(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        return Some("is empty");
    }
    if id.starts_with("portcullis/") {
        return Some("uses the prefix `portcullis/`, which names the engine's own findings");
    }
    if id == "custom" {
        return Some("is reserved (`[rules.custom]` is the list of custom rules)");
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
    (!id.chars().all(ok)).then_some("may hold only letters, digits, `-`, `_`, `.` and `/`")
}

/// The file range of bytes `inner` of a string value whose literal (quotes
/// included) spans `literal` of `text`.
pub(crate) fn value_range(text: &str, literal: Range<usize>, inner: Range<usize>) -> Range<usize> {
    let Some(raw) = text.get(literal.clone()) else { return literal };
    let start = literal.start + raw_offset(raw, inner.start);
    let end = literal.start + raw_offset(raw, inner.end);
    start..end.max(start + 1).min(literal.end)
}

/// The offset in a TOML string literal `raw` (its quotes included) of
/// byte `at` of the string it decodes to.
fn raw_offset(raw: &str, at: usize) -> usize {
    let (quote, basic) = if raw.starts_with("'''") {
        ("'''", false)
    } else if raw.starts_with("\"\"\"") {
        ("\"\"\"", true)
    } else if raw.starts_with('\'') {
        ("'", false)
    } else {
        ("\"", true)
    };
    let mut pos = quote.len();
    // A newline right after the opening delimiter of a multi-line string
    // is not part of the value.
    if quote.len() == 3 {
        if raw[pos..].starts_with("\r\n") {
            pos += 2;
        } else if raw[pos..].starts_with('\n') {
            pos += 1;
        }
    }
    if !basic {
        return (pos + at).min(raw.len());
    }
    let bytes = raw.as_bytes();
    let mut decoded = 0;
    while decoded < at && pos < raw.len() {
        if bytes[pos] != b'\\' {
            let len = raw[pos..].chars().next().map_or(1, char::len_utf8);
            pos += len;
            decoded += len;
            continue;
        }
        let next = bytes.get(pos + 1).copied().unwrap_or(b' ');
        match next {
            b'u' | b'U' | b'x' => {
                let digits = match next {
                    b'u' => 4,
                    b'U' => 8,
                    _ => 2,
                };
                let hex = raw.get(pos + 2..pos + 2 + digits).unwrap_or("");
                let c = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32).unwrap_or('?');
                pos += 2 + digits;
                decoded += c.len_utf8();
            }
            b' ' | b'\t' | b'\r' | b'\n' => {
                // A line-ending backslash: the newline and the whitespace
                // after it are not part of the value.
                pos += 1;
                while pos < raw.len() && matches!(bytes[pos], b' ' | b'\t' | b'\r' | b'\n') {
                    pos += 1;
                }
            }
            _ => {
                pos += 2;
                decoded += 1;
            }
        }
    }
    pos.min(raw.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_the_quoting() {
        // value: a.b == 'x'   ('.' is at byte 1 of the value)
        for raw in ["'a.b == \"x\"'", "\"a.b == 'x'\"", "'''\na.b == 'x''''", "\"\"\"\na.b == 'x'\"\"\""] {
            let at = raw_offset(raw, 1);
            assert_eq!(&raw[at..at + 1], ".", "{raw}");
        }
        // Escapes before the point count once in the value.
        let raw = r#""\"\u00e9\" + a.b""#;
        let value = "\"é\" + a.b";
        let at = raw_offset(raw, value.find('.').unwrap());
        assert_eq!(&raw[at..at + 1], ".");
        // A line-ending backslash in a multi-line basic string.
        let raw = "\"\"\"a && \\\n    b.c\"\"\"";
        let value = "a && b.c";
        let at = raw_offset(raw, value.find('.').unwrap());
        assert_eq!(&raw[at..at + 1], ".");
    }

    #[test]
    fn ids_are_checked() {
        assert!(bad_id("ACME-001").is_none());
        assert!(bad_id("acme/images.owner").is_none());
        assert!(bad_id("").is_some());
        assert!(bad_id("has space").is_some());
        assert!(bad_id("portcullis/evidence").is_some());
    }
}
