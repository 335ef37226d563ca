//! The terminal rendering: grouped by subject (platform), then by finding,
//! most severe effect first. Colour only when writing to a terminal and
//! `NO_COLOR` is unset.
//!
//! Every string that comes from the policy or the subject goes through
//! [`text`] (see `escape.rs`) before it is written, so what a report shows
//! cannot forge or hide a line of it; the colour codes are added around the
//! escaped text.

use super::escape::{FIELD_MAX, visible};
use super::{Effect, Report, Verdict};
use crate::model::Outcome;
use std::borrow::Cow;
use std::fmt::Write;

pub struct Style {
    pub color: bool,
    /// Also list passing and skipped rules.
    pub verbose: bool,
}

fn paint(on: bool, code: &str, s: &str) -> String {
    if on { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
}

/// Untrusted text as it may be shown: escaped and capped.
fn text(s: &str) -> Cow<'_, str> {
    visible(s, FIELD_MAX)
}

/// The algorithm and the first 12 hex digits of a digest (the whole string if
/// it is shorter, or would be cut inside a character).
fn short(d: &str) -> &str {
    let cut = d.find(':').map(|i| i + 13).unwrap_or(12).min(d.len());
    d.get(..cut).unwrap_or(d)
}

pub fn render(r: &Report, style: &Style) -> String {
    let c = style.color;
    let mut out = String::new();
    let _ = writeln!(out, "policy {} {} ({})", text(&r.policy.name), text(&r.policy.version), text(&r.policy.source));
    for w in &r.warnings {
        let _ = writeln!(out, "{} {}", paint(c, "33", "warning:"), text(w));
    }
    for s in &r.subjects {
        let mark = match s.verdict {
            Verdict::Admit => paint(c, "1;32", "ADMIT"),
            Verdict::Deny => paint(c, "1;31", "DENY "),
        };
        let what = match &s.platform {
            Some(p) => text(p).into_owned(),
            None => format!("{:?}", s.kind).to_lowercase(),
        };
        let _ = writeln!(out, "\n{mark} {what}  {}  {}", text(short(&s.digest)), text(&s.reference));
        let mut shown: Vec<&super::Finding> = s
            .findings
            .iter()
            .filter(|f| style.verbose || f.effect != Effect::None || f.outcome == Outcome::Error)
            .collect();
        shown.sort_by_key(|f| (effect_rank(f.effect), std::cmp::Reverse(f.severity)));
        for f in shown {
            let tag = match (f.effect, f.outcome) {
                (Effect::Deny, _) => paint(c, "31", "deny  "),
                (Effect::Warn, _) => paint(c, "33", "warn  "),
                (Effect::Waived, _) => paint(c, "36", "waived"),
                (Effect::None, Outcome::Pass) => paint(c, "32", "pass  "),
                (Effect::None, Outcome::Fail) => "audit ".to_string(),
                (Effect::None, Outcome::Error) => "error ".to_string(),
                (Effect::None, Outcome::Skip) => "skip  ".to_string(),
            };
            let _ =
                writeln!(out, "  {tag} {} [{}] {}: {}", text(&f.rule), f.severity, text(&f.title), text(&f.message));
            if let Some(loc) = &f.location {
                let mut at = Vec::new();
                if let Some(p) = &loc.path {
                    at.push(text(p).into_owned());
                }
                if let Some(l) = loc.layer {
                    at.push(format!("layer {l}"));
                }
                if let Some(p) = &loc.pointer {
                    at.push(format!("config {}", text(p)));
                }
                let _ = writeln!(out, "         at {}", at.join(", "));
            }
            // Of several policy files, which one the rule comes from.
            if let Some(file) = &f.policy_file {
                let _ = writeln!(out, "         from {}", text(file));
            }
            if let Some(w) = &f.waiver {
                let _ = writeln!(
                    out,
                    "         waived: {} (owner {}, policy line {})",
                    text(&w.reason),
                    text(&w.owner),
                    w.line
                );
            } else if matches!(f.effect, Effect::Deny | Effect::Warn)
                && let Some(fix) = &f.remediation
            {
                let _ = writeln!(out, "         fix: {}", text(fix));
            }
        }
        let _ = writeln!(out, "  {}", summary(s));
    }
    for n in &r.notes {
        let _ = writeln!(out, "{} {}", paint(c, "2", "note:"), text(n));
    }
    let denied = r.subjects.iter().filter(|s| s.verdict == Verdict::Deny).count();
    let verdict = match r.verdict {
        Verdict::Admit => paint(c, "1;32", "ADMIT"),
        Verdict::Deny => paint(c, "1;31", "DENY"),
    };
    let _ =
        writeln!(out, "\nverdict: {verdict} ({denied} of {} denied)", count(r.subjects.len(), "subject", "subjects"));
    out
}

/// `28 passed, 0 denied, 2 warnings, 10 skipped`: what decided the verdict
/// first (denials, then warnings), then what did not; an admitted image's
/// failures read as the warnings or audit notes they are, and an error
/// counts where its effect puts it, its number said after.
fn summary(s: &crate::report::SubjectReport) -> String {
    let effect = |e: Effect| s.findings.iter().filter(|f| f.effect == e && f.outcome != Outcome::Pass).count();
    let audited = s
        .findings
        .iter()
        .filter(|f| f.effect == Effect::None && matches!(f.outcome, Outcome::Fail | Outcome::Error))
        .count();
    let mut parts = vec![
        count(s.count(Outcome::Pass), "passed", "passed"),
        count(effect(Effect::Deny), "denied", "denied"),
        count(effect(Effect::Warn), "warning", "warnings"),
    ];
    for (n, one, many) in [
        (effect(Effect::Waived), "waived", "waived"),
        (audited, "audit-only failure", "audit-only failures"),
        (s.count(Outcome::Skip), "skipped", "skipped"),
    ] {
        if n > 0 {
            parts.push(count(n, one, many));
        }
    }
    let errors = s.count(Outcome::Error);
    let mut line = parts.join(", ");
    if errors > 0 {
        line.push_str(&format!(" ({}: rules that could not decide)", count(errors, "error", "errors")));
    }
    line
}

/// `1 warning`, `2 warnings`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn effect_rank(e: Effect) -> u8 {
    match e {
        Effect::Deny => 0,
        Effect::Warn => 1,
        Effect::Waived => 2,
        Effect::None => 3,
    }
}
