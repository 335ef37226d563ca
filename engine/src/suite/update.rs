//! `portcullis test --update`: rewrites the expectations a run found wrong
//! to what the policy did — outcomes, verdicts, denying rules — in place,
//! keeping the file's comments and layout (only the value on the line is
//! replaced). What cannot be rewritten without a person deciding (a message
//! regex that no longer matches, a rule the policy no longer evaluates, an
//! unlisted rule of a strict case) is left alone and listed, so an update
//! never hides a change of behaviour inside a regenerated file.

use super::Suite;
use super::run::{CaseResult, Status};
use std::ops::Range;

/// What `--update` did to one file.
#[derive(Debug, Default)]
pub struct Update {
    /// The new text (equal to the old when nothing was rewritten).
    pub text: String,
    /// `case: what expected → got` for each rewritten expectation.
    pub rewritten: Vec<String>,
    /// `case: what (why)` for each mismatch left to edit by hand.
    pub by_hand: Vec<String>,
}

/// The byte range of line `at` is on.
fn line_of(text: &str, at: usize) -> Range<usize> {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    start..end
}

/// The range of the first `"…"` value after `key` on `line`, if the line
/// sets `key` to a plain string.
fn quoted_value(text: &str, line: Range<usize>, key: &str) -> Option<Range<usize>> {
    let l = &text[line.clone()];
    let re = regex::Regex::new(&format!(r#"(?:^|[\s{{,]){}\s*=\s*"([^"]*)""#, regex::escape(key))).ok()?;
    let m = re.captures(l)?.get(1)?;
    Some(line.start + m.start()..line.start + m.end())
}

/// The byte range of a case's text: from its `[[case]]` line to the next.
fn case_region(text: &str, case_line: usize) -> Range<usize> {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 >= case_line {
            break;
        }
        offset += l.len();
    }
    let start = text[..offset].rfind("[[case]]").unwrap_or(offset);
    let end = text[offset..].find("[[case]]").map_or(text.len(), |i| offset + i);
    start..end
}

/// Rewrites the mismatched expectations of `suite` found in `results`.
pub fn apply(suite: &Suite, results: &[CaseResult]) -> Update {
    let text = &suite.text;
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut out = Update::default();
    let file = suite.file.display().to_string();
    for r in results.iter().filter(|r| r.file == file) {
        let Status::Mismatch(ms) = &r.status else { continue };
        let Some(case) = suite.cases.iter().find(|c| c.name == r.name) else { continue };
        let region = case_region(text, case.line);
        for m in ms {
            let label = format!("{}: {} {} → {}", case.name, m.what, m.expected, m.got);
            let edit = match m.what.as_str() {
                "verdict" => text[region.clone()]
                    .match_indices("verdict")
                    .map(|(i, _)| line_of(text, region.start + i))
                    .find_map(|l| quoted_value(text, l, "verdict"))
                    .map(|v| (v, m.got.clone())),
                "denied-by" => text[region.clone()].find("denied-by").and_then(|i| {
                    let l = line_of(text, region.start + i);
                    let s = &text[l.clone()];
                    let (a, b) = (s.find('[')?, s.rfind(']')?);
                    let got: Vec<String> = m
                        .got
                        .trim_matches(['[', ']'])
                        .split(", ")
                        .filter(|x| !x.is_empty())
                        .map(|x| format!("\"{x}\""))
                        .collect();
                    Some((l.start + a..l.start + b + 1, format!("[{}]", got.join(", "))))
                }),
                rule => {
                    let plain = super::outcome(&m.got).is_some() && super::outcome(&m.expected).is_some();
                    let e = case.expect.iter().find(|e| e.rule == rule);
                    match (e, plain) {
                        (Some(e), true) => {
                            let l = line_of(text, e.span.start);
                            let after_key = e.span.end..l.end;
                            // `RULE = "x"` or `RULE = { outcome = "x", … }`.
                            quoted_value(text, after_key.clone(), "outcome")
                                .or_else(|| {
                                    let s = &text[after_key.clone()];
                                    let eq = s.find('=')?;
                                    let open = s[eq..].find('"')? + eq + 1;
                                    let close = s[open..].find('"')? + open;
                                    s[eq + 1..open - 1]
                                        .trim()
                                        .is_empty()
                                        .then_some(after_key.start + open..after_key.start + close)
                                })
                                .map(|v| (v, m.got.clone()))
                        }
                        _ => None,
                    }
                }
            };
            match edit {
                Some(e) => {
                    edits.push(e);
                    out.rewritten.push(label);
                }
                None => out.by_hand.push(format!("{label} ({})", why_by_hand(&m.got, &m.expected))),
            }
        }
    }
    edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    let mut new = text.clone();
    for (range, value) in edits {
        new.replace_range(range, &value);
    }
    out.text = new;
    out
}

fn why_by_hand(got: &str, expected: &str) -> &'static str {
    if got == "absent" {
        "the rule was not evaluated: remove the expectation or fix the fixture"
    } else if expected.contains("message matching") {
        "the message changed: edit the regular expression"
    } else if expected.starts_with("(not listed") {
        "a strict case: add the rule to [case.expect]"
    } else {
        "not a value --update rewrites"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::run::Mismatch;

    fn result(file: &str, name: &str, ms: Vec<(&str, &str, &str)>) -> CaseResult {
        CaseResult {
            file: file.into(),
            name: name.into(),
            line: 0,
            policy: String::new(),
            status: Status::Mismatch(
                ms.into_iter()
                    .map(|(w, e, g)| Mismatch {
                        what: w.into(),
                        expected: e.into(),
                        got: g.into(),
                        message: String::new(),
                    })
                    .collect(),
            ),
            observed: None,
            seconds: 0.0,
        }
    }

    #[test]
    fn outcomes_verdicts_and_denying_rules_are_rewritten_in_place_and_the_rest_is_listed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("img")).unwrap();
        let text = "schema = \"portcullis.test/v1\"\n[context]\npolicy = \"builtin:go-container-baseline\"\n\
            [fixtures.a]\nimage = \"img\"\n\n[[case]]\nname = \"one\"\nfixture = \"a\"\nverdict = \"admit\" # why\n\
            [case.expect]\nGO-CFG-001 = \"pass\"   # keep me\nGO-CFG-002 = { outcome = \"warn\", message = \"x\" }\nGO-CFG-003 = \"pass\"\n\n\
            [[case]]\nname = \"two\"\nfixture = \"a\"\ndenied-by = [\"K8S-002\"]\nverdict = \"admit\"\n";
        let suite = crate::suite::parse("t.toml", text, dir.path()).unwrap();
        let results = vec![
            result(
                "t.toml",
                "one",
                vec![
                    ("verdict", "admit", "deny"),
                    ("GO-CFG-001", "pass", "fail"),
                    ("GO-CFG-002", "warn", "pass"),
                    ("GO-CFG-003", "pass with a message matching /y/", "pass"),
                ],
            ),
            result(
                "t.toml",
                "two",
                vec![("denied-by", "[K8S-002]", "[K8S-002, K8S-003]"), ("K8S-009", "pass", "absent")],
            ),
        ];
        let u = apply(&suite, &results);
        assert!(u.text.contains("verdict = \"deny\" # why\n[case.expect]"), "{}", u.text);
        assert!(u.text.contains("GO-CFG-001 = \"fail\"   # keep me"), "{}", u.text);
        assert!(u.text.contains("GO-CFG-002 = { outcome = \"pass\", message = \"x\" }"), "{}", u.text);
        assert!(u.text.contains("denied-by = [\"K8S-002\", \"K8S-003\"]\nverdict = \"admit\""), "{}", u.text);
        assert_eq!(u.rewritten.len(), 4, "{:?}", u.rewritten);
        assert_eq!(u.by_hand.len(), 2, "{:?}", u.by_hand);
        assert!(u.by_hand[0].contains("edit the regular expression") && u.by_hand[1].contains("not evaluated"));
        // The rewritten file still parses.
        crate::suite::parse("t.toml", &u.text, dir.path()).unwrap();
    }
}
