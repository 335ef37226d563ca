//! SC-SLSA-002: who built the image, and whether that is worth a SLSA level.
//!
//! A provenance's `builder.id` is a claim written inside the document, so
//! anyone able to sign a provenance can name any builder in it. The claim
//! counts only when the builder's own identity signed the provenance, as
//! slsa-verifier decides for slsa-github-generator:
//! - a GitHub reusable workflow (`https://github.com/O/R/.github/workflows/F@REF`)
//!   signs keylessly as itself: a GitHub Actions certificate whose SAN is
//!   exactly the builder id, or one of the generator's delegators vouching
//!   for a builder it ran (BYOB). A key signature, or another workflow's,
//!   backs nothing;
//! - GitHub's runner (`https://github.com/actions/runner…`, artifact
//!   attestations) signs through the calling workflow's GitHub Actions
//!   certificate;
//! - any other builder (Google Cloud Build, a self-hosted one) signs with a
//!   key, which the policy must bind to it (`builder_keys`): a key trusted
//!   for provenance in general does not say which builder holds it.
//!
//! GitHub workflow builders, and the delegators that vouch for them, count
//! only at a release tag `refs/tags/vX.Y.Z`: a branch or a commit can be
//! moved to code nobody reviewed as a release (slsa-verifier refuses them
//! outside its own test mode).

use super::{Checked, judged, pattern};
use portcullis_sdk::signatures::Identity;
use portcullis_sdk::{Finding, Params, RuleConfig};

pub(crate) const GENERATOR: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/";
const DELEGATORS: &[&str] = &["delegator_generic_slsa3.yml", "delegator_lowperms-generic_slsa3.yml"];
const GHA_ISSUER: &str = "https://token.actions.githubusercontent.com";
const CLOUD_BUILD: &str = "https://cloudbuild.googleapis.com/GoogleHostedWorker";
const RUNNER: &str = "https://github.com/actions/runner";

/// What kind of builder an id names, which decides who may sign for it.
#[derive(Debug, PartialEq, Eq)]
enum Kind<'a> {
    /// A GitHub reusable workflow at a ref.
    Workflow { name: &'a str, git_ref: &'a str },
    /// GitHub's hosted or self-hosted runner.
    Runner,
    /// Anything else: a builder that signs with a key.
    Keyed,
}

/// The kind of a builder id, or why the id is malformed.
fn kind(id: &str) -> Result<Kind<'_>, String> {
    if id == RUNNER || id.starts_with(&format!("{RUNNER}/")) {
        return Ok(Kind::Runner);
    }
    if !(id.starts_with("https://github.com/") && id.contains("/.github/workflows/")) {
        return Ok(Kind::Keyed);
    }
    match id.split('@').collect::<Vec<_>>()[..] {
        [name, git_ref] if !git_ref.is_empty() => Ok(Kind::Workflow { name, git_ref }),
        [_] => Err("its id names no ref (a workflow builder is `NAME@refs/tags/vX.Y.Z`)".into()),
        _ => Err("its id is not `NAME@REF` (one `@`, a ref after it)".into()),
    }
}

/// A release tag as slsa-verifier requires of builders: `refs/tags/vX.Y.Z`,
/// three numbers without leading zeros, no pre-release or build suffix.
fn release_tag(git_ref: &str) -> Result<(), String> {
    let Some(tag) = git_ref.strip_prefix("refs/tags/") else {
        let what = if git_ref.starts_with("refs/heads/") {
            "a branch"
        } else if git_ref.len() >= 7 && git_ref.bytes().all(|b| b.is_ascii_hexdigit()) {
            "a commit"
        } else {
            "not a tag"
        };
        return Err(format!("`{git_ref}` is {what}, not a release tag refs/tags/vX.Y.Z"));
    };
    let numbers: Vec<&str> = tag.strip_prefix('v').map(|v| v.split('.').collect()).unwrap_or_default();
    let number =
        |n: &&str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (*n == "0" || !n.starts_with('0'));
    if numbers.len() == 3 && numbers.iter().all(number) {
        Ok(())
    } else {
        Err(format!("tag `{tag}` is not a release tag vX.Y.Z"))
    }
}

/// The SLSA build level of a builder: the policy's `levels` first, then the
/// hosted builders known to reach level 3, else 0 (unknown). Builder names
/// are matched with their case: they are paths.
fn level(builder: &str, levels: &[String]) -> i64 {
    let name = builder.split('@').next().unwrap_or(builder);
    for entry in levels {
        if let Some((p, l)) = entry.rsplit_once('=')
            && pattern::matches(p.trim(), name)
            && let Ok(l) = l.trim().parse()
        {
            return l;
        }
    }
    if name.starts_with(GENERATOR) || name == CLOUD_BUILD {
        return 3;
    }
    0
}

/// One `builder_keys` entry: (builder pattern, key number in SC-SLSA-001's
/// `keys`, from 1). Also the check a policy's entries can be put to when it
/// loads.
pub(crate) fn key_entry(entry: &str) -> Result<(&str, usize), String> {
    match entry.rsplit_once('=').map(|(p, n)| (p.trim(), n.trim().parse::<usize>())) {
        Some((p, Ok(n))) if !p.is_empty() && n >= 1 => Ok((p, n)),
        _ => Err(format!("`builder_keys` entry `{entry}` is not BUILDER-PATTERN=N (N: a key of SC-SLSA-001, from 1)")),
    }
}

fn builder_keys(entries: &[String]) -> Result<Vec<(&str, usize)>, String> {
    entries.iter().map(|e| key_entry(e)).collect()
}

/// Why the signer of a provenance is not the identity of the builder it
/// names, or `Ok` when it is. `how` is how the provenance verified
/// (`keyless`, `key #N`); `identity` the keyless signer, if any.
fn backed(
    builder: &str,
    kind: &Kind,
    how: &str,
    identity: Option<&Identity>,
    keys: &[(&str, usize)],
) -> Result<(), String> {
    let signer = || match identity {
        Some(i) => format!("{} ({})", i.sans.join(", "), i.issuer.as_deref().unwrap_or("no issuer")),
        None => how.to_string(),
    };
    match (kind, identity) {
        (Kind::Workflow { .. } | Kind::Runner, None) => {
            Err(format!("signed with {how}; a GitHub builder signs keylessly, with its workflow's certificate"))
        }
        (Kind::Workflow { .. } | Kind::Runner, Some(i)) if i.issuer.as_deref() != Some(GHA_ISSUER) => {
            Err(format!("signed by {}, not through GitHub Actions ({GHA_ISSUER})", signer()))
        }
        (Kind::Workflow { .. }, Some(i)) => {
            if i.sans.iter().any(|s| s == builder) {
                return Ok(());
            }
            match i.sans.iter().find_map(|s| delegator(s)) {
                Some(Ok(())) => Ok(()),
                Some(Err(why)) => Err(why),
                None => Err(format!("signed by {}, not by the workflow {builder}", signer())),
            }
        }
        (Kind::Runner, Some(i)) if i.sans.iter().any(|s| s.starts_with("https://github.com/")) => Ok(()),
        (Kind::Runner, Some(_)) => Err(format!("signed by {}, which is no GitHub workflow", signer())),
        (Kind::Keyed, Some(_)) => Err(format!(
            "signed keylessly by {}; a builder outside GitHub counts only when signed by a key `builder_keys` binds to it",
            signer()
        )),
        (Kind::Keyed, None) => {
            let n = how.strip_prefix("key #").and_then(|n| n.parse::<usize>().ok());
            match n {
                Some(n) if keys.iter().any(|(p, k)| *k == n && pattern::matches(p, builder)) => Ok(()),
                _ => Err(format!("signed with {how}, which `builder_keys` does not bind to this builder")),
            }
        }
    }
}

/// A SAN that is one of the generator's delegators (which vouch for the
/// builder they ran): `Some(Ok)` at a release tag, `Some(Err)` at another
/// ref, `None` when the SAN is no delegator.
fn delegator(san: &str) -> Option<Result<(), String>> {
    let (name, git_ref) = san.split_once('@').unwrap_or((san, ""));
    let file = name.strip_prefix(GENERATOR)?;
    if !DELEGATORS.contains(&file) {
        return None;
    }
    Some(release_tag(git_ref).map_err(|why| format!("signed by the delegator {san}, whose ref {why}")))
}

/// Why provenance by `builder`, verified as `c`, does not earn its level:
/// every reason, so a policy author sees all that must change at once.
fn judge(builder: &str, c: &Checked, keys: &[(&str, usize)]) -> Result<(), String> {
    let kind = kind(builder).map_err(|e| format!("builder {builder}: {e}"))?;
    let (how, v) = c.result.as_ref().map_err(|e| e.to_string())?;
    let mut why = Vec::new();
    if let Err(e) = backed(builder, &kind, how, v.identity.as_ref(), keys) {
        why.push(format!("the builder claim is not backed by the builder's signing identity ({e})"));
    }
    if let Kind::Workflow { git_ref, .. } = kind
        && let Err(e) = release_tag(git_ref)
    {
        why.push(format!("trusted builders count only at release tags, and its ref {e}"));
    }
    if why.is_empty() { Ok(()) } else { Err(format!("builder {builder}: {}", why.join("; "))) }
}

pub(crate) fn builder(rule: &RuleConfig, found: &[Checked]) -> Finding {
    let id = rule.id.as_str();
    let p = Params::of(rule);
    let allowed = p.text_list("builders");
    if allowed.is_empty() {
        return Finding::skip(id, "not configured: set `builders`");
    }
    let (min, levels, key_entries) = (p.integer("min_level", 3), p.text_list("levels"), p.text_list("builder_keys"));
    let keys = match builder_keys(&key_entries) {
        Ok(k) => k,
        Err(e) => return Finding::error(id, e),
    };
    let provenance = judged(found);
    if provenance.is_empty() {
        return Finding::skip(id, "no verified provenance (see SC-SLSA-001)");
    }
    let mut why = Vec::new();
    for (c, prov) in provenance {
        let b = prov.builder_id.as_str();
        let name = b.split('@').next().unwrap_or(b);
        if !allowed.iter().any(|a| pattern::matches(a, b) || pattern::matches(a, name)) {
            why.push(format!("builder {b} is not allowed"));
            continue;
        }
        if let Err(e) = judge(b, c, &keys) {
            why.push(e);
            continue;
        }
        let l = level(b, &levels);
        if l < min {
            why.push(format!("builder {b} is SLSA build level {l}, below {min}"));
            continue;
        }
        return Finding::pass(id, format!("built by {b} (SLSA build level {l})"));
    }
    Finding::fail(id, why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{github, provenance};
    use portcullis_sdk::{Outcome, ParamValue};

    const CONTAINER: &str =
        "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml";

    fn tagged(name: &str, git_ref: &str) -> String {
        format!("{name}@{git_ref}")
    }

    fn rule(builders: &[&str], extra: &[(&str, ParamValue)]) -> RuleConfig {
        let mut params = vec![
            ("builders".to_string(), portcullis_sdk::text_list(builders)),
            ("min_level".to_string(), ParamValue::Integer(3)),
        ];
        params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        RuleConfig { id: "SC-SLSA-002".into(), params }
    }

    fn judged_as(rule: &RuleConfig, c: Checked) -> (Outcome, String) {
        let f = builder(rule, &[c]);
        (f.outcome, f.message)
    }

    #[test]
    fn the_generator_signing_as_itself_at_a_release_tag_is_level_3() {
        let b = tagged(CONTAINER, "refs/tags/v2.1.0");
        let (o, m) = judged_as(&rule(&[CONTAINER], &[]), provenance(&b, "keyless", Some(github(&b))));
        assert_eq!(o, Outcome::Pass, "{m}");
        assert!(m.ends_with("(SLSA build level 3)"), "{m}");
    }

    #[test]
    fn a_key_signed_generator_claim_earns_nothing() {
        let b = tagged(CONTAINER, "refs/tags/v2.1.0");
        let (o, m) = judged_as(&rule(&[CONTAINER], &[]), provenance(&b, "key #1", None));
        assert_eq!(o, Outcome::Fail);
        assert!(m.contains("not backed by the builder's signing identity") && m.contains("key #1"), "{m}");
        // Binding the key to the generator does not help: it signs keylessly.
        let keys = ("builder_keys", portcullis_sdk::text_list(&[&format!("{CONTAINER}*=1")]));
        let (o, _) = judged_as(&rule(&[CONTAINER], &[keys]), provenance(&b, "key #1", None));
        assert_eq!(o, Outcome::Fail);
    }

    #[test]
    fn another_keyless_signer_backs_no_generator_claim() {
        let b = tagged(CONTAINER, "refs/tags/v2.1.0");
        let cases = [
            github("https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0"),
            // The generator's workflow, at another ref than the claim's.
            github(&tagged(CONTAINER, "refs/tags/v2.0.0")),
            // The right SAN, certified through another issuer.
            Identity { issuer: Some("https://accounts.google.com".into()), ..github(&b) },
            Identity {
                sans: vec!["release@acme.test".into()],
                issuer: Some("https://accounts.google.com".into()),
                ..github(&b)
            },
        ];
        for who in cases {
            let shown = who.sans[0].clone();
            let (o, m) = judged_as(&rule(&[CONTAINER], &[]), provenance(&b, "keyless", Some(who)));
            assert_eq!(o, Outcome::Fail, "{shown}");
            assert!(m.contains("not backed by the builder's signing identity") && m.contains(&shown), "{m}");
        }
    }

    #[test]
    fn delegators_vouch_only_at_release_tags() {
        let byob = tagged(&format!("{GENERATOR}builder_bazel_slsa3.yml"), "refs/tags/v2.0.0");
        let allow = rule(&[&format!("{GENERATOR}*")], &[]);
        let at = |r: &str| github(&tagged(&format!("{GENERATOR}delegator_generic_slsa3.yml"), r));
        let (o, m) = judged_as(&allow, provenance(&byob, "keyless", Some(at("refs/tags/v2.0.0"))));
        assert_eq!(o, Outcome::Pass, "{m}");
        let (o, m) = judged_as(&allow, provenance(&byob, "keyless", Some(at("refs/heads/main"))));
        assert_eq!(o, Outcome::Fail);
        assert!(m.contains("delegator") && m.contains("a branch"), "{m}");
    }

    #[test]
    fn workflow_builders_count_only_at_release_tags() {
        let allow = rule(&[CONTAINER], &[]);
        for (r, said) in [
            ("refs/heads/main", "a branch"),
            ("refs/tags/v2.1", "not a release tag"),
            ("refs/tags/v2.1.0-rc.1", "not a release tag"),
            ("refs/tags/2.1.0", "not a release tag"),
            ("refs/tags/v02.1.0", "not a release tag"),
            ("5e8fd3a9c1b2d4e6f7a8b9c0d1e2f3a4b5c6d7e8", "a commit"),
        ] {
            let b = tagged(CONTAINER, r);
            let (o, m) = judged_as(&allow, provenance(&b, "keyless", Some(github(&b))));
            assert_eq!(o, Outcome::Fail, "{r}");
            assert!(m.contains("only at release tags") && m.contains(said), "{r}: {m}");
        }
        let (o, m) = judged_as(&allow, provenance(CONTAINER, "keyless", Some(github(CONTAINER))));
        assert_eq!(o, Outcome::Fail);
        assert!(m.contains("names no ref"), "{m}");
        let twice = format!("{CONTAINER}@refs/tags/v1.0.0@refs/tags/v2.0.0");
        let (o, m) = judged_as(&allow, provenance(&twice, "keyless", Some(github(&twice))));
        assert_eq!(o, Outcome::Fail);
        assert!(m.contains("is not `NAME@REF`"), "{m}");
    }

    #[test]
    fn keyed_builders_need_their_key_bound() {
        let allow = |keys: &[&str]| rule(&[CLOUD_BUILD], &[("builder_keys", portcullis_sdk::text_list(keys))]);
        let (o, m) = judged_as(&allow(&[]), provenance(CLOUD_BUILD, "key #1", None));
        assert_eq!(o, Outcome::Fail);
        assert!(m.contains("`builder_keys` does not bind"), "{m}");
        let (o, m) = judged_as(&allow(&[&format!("{CLOUD_BUILD}=1")]), provenance(CLOUD_BUILD, "key #1", None));
        assert_eq!(o, Outcome::Pass, "{m}");
        let (o, _) = judged_as(&allow(&[&format!("{CLOUD_BUILD}=2")]), provenance(CLOUD_BUILD, "key #1", None));
        assert_eq!(o, Outcome::Fail);
        let keyless = provenance(CLOUD_BUILD, "keyless", Some(github("https://github.com/acme/app/x.yml@v1")));
        let (o, m) = judged_as(&allow(&[&format!("{CLOUD_BUILD}=1")]), keyless);
        assert_eq!(o, Outcome::Fail);
        assert!(m.contains("signed keylessly"), "{m}");
        for bad in ["=1", "x=0", "x=one", "x"] {
            let f = builder(&allow(&[bad]), &[provenance(CLOUD_BUILD, "key #1", None)]);
            assert_eq!(f.outcome, Outcome::Error, "{bad}");
            assert!(f.message.contains(bad), "{}", f.message);
        }
    }

    #[test]
    fn builder_ids_match_with_their_case() {
        let b = tagged(CONTAINER, "refs/tags/v2.1.0");
        let signed = || provenance(&b, "keyless", Some(github(&b)));
        let upper = CONTAINER.replace("generator_container", "Generator_Container");
        assert_eq!(judged_as(&rule(&[&upper], &[]), signed()).0, Outcome::Fail);
        assert_eq!(judged_as(&rule(&[&tagged(CONTAINER, "refs/tags/V2.1.0")], &[]), signed()).0, Outcome::Fail);
        assert_eq!(judged_as(&rule(&[&b], &[]), signed()).0, Outcome::Pass);
    }

    #[test]
    fn levels() {
        assert_eq!(level(&tagged(CONTAINER, "refs/tags/v2.1.0"), &[]), 3);
        assert_eq!(level("https://example.com/builder", &["https://example.com/*=2".into()]), 2);
        assert_eq!(level("https://example.com/builder", &["https://EXAMPLE.com/*=2".into()]), 0);
        assert_eq!(level("https://example.com/builder", &[]), 0);
        assert_eq!(level(CLOUD_BUILD, &[]), 3);
    }

    #[test]
    fn githubs_runner_signs_through_a_workflow() {
        let runner = "https://github.com/actions/runner/github-hosted";
        let levels = ("levels", portcullis_sdk::text_list(&[&format!("{runner}=3")]));
        let allow = rule(&[runner], &[levels]);
        let wf = github("https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0");
        assert_eq!(judged_as(&allow, provenance(runner, "keyless", Some(wf))).0, Outcome::Pass);
        let (o, m) = judged_as(&allow, provenance(runner, "key #1", None));
        assert_eq!(o, Outcome::Fail);
        assert!(m.contains("signs keylessly"), "{m}");
    }
}
