//! Reading a policy file so that one run names every mistake in it. TOML
//! syntax errors are all collected by the parser's recovering mode; for
//! structure (unknown keys, values of the wrong type or outside an
//! enumeration) serde stops at the first problem, so the entry it points at
//! is taken out of the document and the rest read again, until the file
//! reads or nothing more can be taken out. Every problem found on the way is
//! a diagnostic, with "did you mean" when the intended name is close.

use super::cfg::PolicyFile;
use super::diags::Diagnostic;
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// At most this many structural mistakes are collected from one file.
const MAX_ROUNDS: usize = 32;

/// The file as read, with whatever had to be taken out of it to read it, or
/// `None` when it could not be read at all; and every problem found.
pub fn read(text: &str) -> (Option<PolicyFile>, Vec<Diagnostic>) {
    let (mut doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        let diags = syntax.iter().map(|e| Diagnostic::new(e.message().trim().to_string(), e.span())).collect();
        return (None, diags);
    }
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut removed: Option<String> = None;
    for _ in 0..MAX_ROUNDS {
        let error = match PolicyFile::deserialize(toml::de::Deserializer::from(doc.clone())) {
            Ok(file) => return (Some(file), diags),
            Err(e) => e,
        };
        let message = error.message().trim().to_string();
        // Taking out an entry whose own content was wrong makes a required
        // one missing: the first diagnostic already said what is wrong there.
        if removed.as_ref().is_some_and(|k| message == format!("missing field `{k}`")) {
            return (None, diags);
        }
        diags.push(describe(&message, error.span()));
        let Some(span) = error.span() else { return (None, diags) };
        if message.starts_with("missing field") {
            return (None, diags);
        }
        match take_out(doc.get_mut(), &span) {
            Some(key) => removed = Some(key),
            None => return (None, diags),
        }
    }
    (None, diags)
}

/// A serde message as a diagnostic, with a suggestion when the message
/// lists what was expected (`unknown field `enforcment`, expected one of
/// `enabled`, `enforcement`, ...`).
fn describe(message: &str, span: Option<Range<usize>>) -> Diagnostic {
    let d = Diagnostic::new(message, span);
    let unknown = ["unknown field `", "unknown variant `"].iter().find_map(|p| message.strip_prefix(p));
    let Some(rest) = unknown else { return d };
    let Some((given, expected)) = rest.split_once('`') else { return d };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match did_you_mean(given, candidates.iter().copied()) {
        Some(best) => d.with_note(format!("did you mean `{best}`?")),
        None => d,
    }
}

/// The candidate closest to `given`, if it is close enough to be what was meant.
pub fn did_you_mean<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let given_lower = given.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&given_lower, &c.to_ascii_lowercase()), c))
        .filter(|(distance, c)| *distance <= (c.chars().count().max(given.chars().count()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// Removes the innermost entry (key and value) whose key or value holds
/// `span.start`, looking into tables and arrays of tables; returns its key.
fn take_out<'i>(table: &mut DeTable<'i>, span: &Range<usize>) -> Option<String> {
    let at = span.start;
    let holds = |r: Range<usize>| r.start <= at && at < r.end.max(r.start + 1);
    // A table's own span is its header only, not its entries: look
    // everywhere, innermost first.
    let mut target: Option<String> = None;
    for (key, value) in table.iter_mut() {
        let here = holds(key.span()) || holds(value.span());
        if let Some(inner) = take_out_in(value.get_mut(), span) {
            return Some(inner);
        }
        if here && target.is_none() {
            target = Some(key.get_ref().to_string());
        }
    }
    let key = target?;
    let entries = std::mem::take(table);
    *table = entries.into_iter().filter(|(k, _)| &**k.get_ref() != key.as_str()).collect();
    Some(key)
}

fn take_out_in<'i>(value: &mut DeValue<'i>, span: &Range<usize>) -> Option<String> {
    match value {
        DeValue::Table(t) => take_out(t, span),
        DeValue::Array(items) => {
            let at = span.start;
            for item in items.iter_mut() {
                if let Some(inner) = take_out_in(item.get_mut(), span) {
                    return Some(inner);
                }
            }
            let i = items.iter().position(|i: &Spanned<DeValue<'_>>| {
                let r = i.span();
                r.start <= at && at < r.end.max(r.start + 1)
            })?;
            // A whole table of an array (a `[[waivers]]` entry) goes when
            // the problem is the table itself.
            if !matches!(items[i].get_ref(), DeValue::Table(_)) {
                return None;
            }
            let kept = std::mem::replace(items, toml::de::DeArray::new());
            for (_, v) in kept.into_iter().enumerate().filter(|(j, _)| *j != i) {
                items.push(v);
            }
            Some(format!("[{i}]"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_structural_mistake_is_named_in_one_read() {
        let text = r#"
[policy]
name = "p"
version = "1"
enforcment = "enforce"

[plugins.image-config]

[rules.GO-CFG-001]
severity = "hgh"
enabeld = true

[[waivers]]
rule = "GO-CFG-002"
repository = "x/*"
reason = "r"
owner = "o"
expires = 12
"#;
        let (file, diags) = read(text);
        let messages: Vec<String> =
            diags.iter().map(|d| format!("{} {}", d.message, d.note.clone().unwrap_or_default())).collect();
        assert_eq!(diags.len(), 4, "{messages:#?}");
        assert!(messages[0].contains("enforcment") && messages[0].contains("did you mean `enforcement`?"));
        assert!(messages.iter().any(|m| m.contains("hgh") && m.contains("did you mean `high`?")), "{messages:#?}");
        assert!(messages.iter().any(|m| m.contains("enabeld") && m.contains("`enabled`")), "{messages:#?}");
        assert!(messages.iter().any(|m| m.contains("expires") || m.contains("datetime")), "{messages:#?}");
        let file = file.expect("the rest of the file reads");
        assert_eq!(file.policy.name.get_ref(), "p");
        for d in &diags {
            assert!(d.span.is_some(), "{d:?}");
        }
    }

    #[test]
    fn syntax_errors_are_all_reported_and_stop_the_read() {
        let (file, diags) = read("[policy\nname = \"p\"\nversion = = 1\n");
        assert!(file.is_none());
        assert!(!diags.is_empty());
    }

    #[test]
    fn a_wrong_required_value_is_reported_once() {
        let (file, diags) = read("[policy]\nname = 3\nversion = \"1\"\n[plugins.image-config]\n");
        assert!(file.is_none());
        assert_eq!(diags.len(), 1, "{diags:?}");
    }

    #[test]
    fn suggestions_only_for_close_names() {
        assert_eq!(did_you_mean("enforcment", ["enabled", "enforcement"]), Some("enforcement"));
        assert_eq!(did_you_mean("colour", ["enabled", "enforcement"]), None);
        assert_eq!(did_you_mean("GO-CFG-01", ["GO-CFG-001", "GO-FS-001"]), Some("GO-CFG-001"));
    }
}
