//! `check`: the parameter values the SBOM rules cannot use, found when the
//! policy loads — so a typo in a licence or deny list is an error at its
//! line in the policy, not a list that silently stops matching.

use crate::denied::parse_denied;
use crate::{DENIED, LICENCES, PRESENT};
use portcullis_sdk::{Checker, ParamProblem, RuleConfig};

/// A licence-list entry: an SPDX licence id (deprecated ones included: the
/// rule maps them), a `LicenseRef-`, or an exception id.
fn licence(entry: &str) -> Result<(), String> {
    let e = entry.trim();
    if spdx::license_id(e).is_some()
        || spdx::exception_id(e).is_some()
        || e.strip_prefix("LicenseRef-").is_some_and(|r| !r.is_empty())
    {
        return Ok(());
    }
    let hint = spdx::imprecise_license_id(e).map(|(l, _)| format!(" (did you mean `{}`?)", l.name)).unwrap_or_default();
    Err(format!("`{entry}` is not an SPDX licence identifier{hint}"))
}

pub fn check(rules: &[RuleConfig]) -> Vec<ParamProblem> {
    let mut c = Checker::default();
    for r in rules {
        c.non_empty_entries(r);
        match r.id.as_str() {
            LICENCES => {
                c.entries(r, "allow", licence);
                c.entries(r, "deny", licence);
            }
            DENIED => c.entries(r, "deny", |e| parse_denied(e).map(drop)),
            PRESENT => {
                if let Err(message) = crate::trusted::Trust::of(Some(r)) {
                    let param = if message.contains("require_signed") { "require_signed" } else { "identity" };
                    c.problems.push(ParamProblem { rule: r.id.clone(), param: param.into(), index: None, message });
                }
            }
            _ => {}
        }
    }
    c.problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_sdk::ParamValue;

    fn rule(id: &str, param: &str, entries: &[&str]) -> RuleConfig {
        RuleConfig {
            id: id.into(),
            params: vec![(param.into(), ParamValue::TextList(entries.iter().map(|s| s.to_string()).collect()))],
        }
    }

    #[test]
    fn bad_entries_are_named_with_their_index() {
        let problems = check(&[
            rule(LICENCES, "deny", &["GPL-3.0-only", "GPL-2.0", "LicenseRef-acme", "Apache 2"]),
            rule(DENIED, "deny", &["pkg:golang/github.com/x/y@<1.2.0", "github.com/x/y", "pkg:npm/left-pad"]),
        ]);
        let got: Vec<(&str, &str, Option<u32>)> =
            problems.iter().map(|p| (p.rule.as_str(), p.param.as_str(), p.index)).collect();
        assert_eq!(got, vec![(LICENCES, "deny", Some(3)), (DENIED, "deny", Some(1))]);
        assert!(problems[1].message.contains("not a purl"), "{}", problems[1].message);
    }
}
