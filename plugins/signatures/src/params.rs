//! `check`: the parameter values the signature and provenance rules cannot
//! use, found when the policy loads — an identity regex that does not
//! compile would otherwise fail every subject at evaluation, and a level
//! out of range would make SC-SLSA-002 pass or fail everything.

use crate::{ANNOTATIONS, BUILDER, IDENTITY, PROVENANCE, SIGNED, SOURCE};
use portcullis_sdk::{Checker, ParamProblem, RuleConfig};

/// The highest SLSA build level.
const MAX_LEVEL: i64 = 4;

fn public_key(pem: &str) -> Result<(), String> {
    if pem.contains("-----BEGIN PUBLIC KEY-----") && pem.contains("-----END PUBLIC KEY-----") {
        Ok(())
    } else {
        Err("not a PEM public key (`-----BEGIN PUBLIC KEY-----` … `-----END PUBLIC KEY-----`)".into())
    }
}

fn git_ref(r: &str) -> Result<(), String> {
    if r.starts_with("refs/") || r == "*" {
        Ok(())
    } else {
        Err(format!("`{r}` is not a git ref: write it whole, e.g. `refs/heads/{r}` or `refs/tags/{r}`"))
    }
}

fn level_entry(entry: &str) -> Result<(), String> {
    match entry.rsplit_once('=') {
        Some((pattern, l)) if !pattern.trim().is_empty() => match l.trim().parse::<i64>() {
            Ok(l) if (0..=MAX_LEVEL).contains(&l) => Ok(()),
            _ => Err(format!("`{entry}`: the level must be a number from 0 to {MAX_LEVEL}")),
        },
        _ => Err(format!("`{entry}` is not `BUILDER-PATTERN=LEVEL`")),
    }
}

pub fn check(rules: &[RuleConfig]) -> Vec<ParamProblem> {
    let mut c = Checker::default();
    for r in rules {
        c.non_empty_entries(r);
        match r.id.as_str() {
            SIGNED | PROVENANCE => c.entries(r, "keys", public_key),
            IDENTITY => {
                c.text(r, "identity", |re| {
                    regex_lite::Regex::new(&format!("^(?:{re})$"))
                        .map(drop)
                        .map_err(|e| format!("does not compile: {e}"))
                });
                c.entries(r, "source_refs", git_ref);
            }
            ANNOTATIONS => c.entries(r, "required", |a| {
                if a.split('=').next().is_some_and(|k| !k.trim().is_empty()) {
                    Ok(())
                } else {
                    Err(format!("`{a}` has no annotation key"))
                }
            }),
            BUILDER => {
                c.integer_in(r, "min_level", 0..=MAX_LEVEL);
                c.entries(r, "levels", level_entry);
                c.entries(r, "builder_keys", |e| crate::builder::key_entry(e).map(drop));
            }
            SOURCE => c.entries(r, "refs", git_ref),
            _ => {}
        }
    }
    c.problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_sdk::ParamValue;

    #[test]
    fn regexes_levels_keys_and_refs_are_checked() {
        let list = |v: &[&str]| ParamValue::TextList(v.iter().map(|s| s.to_string()).collect());
        let rules = vec![
            RuleConfig {
                id: IDENTITY.into(),
                params: vec![("identity".into(), ParamValue::Text("https://github.com/(acme".into()))],
            },
            RuleConfig {
                id: BUILDER.into(),
                params: vec![
                    ("min_level".into(), ParamValue::Integer(7)),
                    ("levels".into(), list(&["https://ci.acme/*=3", "x=high"])),
                ],
            },
            RuleConfig { id: SIGNED.into(), params: vec![("keys".into(), list(&["ssh-ed25519 AAAA"]))] },
            RuleConfig { id: SOURCE.into(), params: vec![("refs".into(), list(&["refs/tags/v*", "main"]))] },
            RuleConfig { id: BUILDER.into(), params: vec![("builder_keys".into(), list(&["https://ci.acme/*=0"]))] },
        ];
        let got: Vec<(String, String, Option<u32>)> =
            check(&rules).into_iter().map(|p| (p.rule, p.param, p.index)).collect();
        let want = [
            (IDENTITY, "identity", None),
            (BUILDER, "min_level", None),
            (BUILDER, "levels", Some(1)),
            (SIGNED, "keys", Some(0)),
            (SOURCE, "refs", Some(1)),
            (BUILDER, "builder_keys", Some(0)),
        ];
        assert_eq!(got, want.map(|(r, p, i)| (r.to_string(), p.to_string(), i)));
    }
}
