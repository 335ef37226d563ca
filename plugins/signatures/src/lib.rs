//! Builtin plugin `signatures`: who signed the image and how it was built.
//!
//! - SC-SIG-001: a cosign signature over this image (or the index it
//!   belongs to) verifies — keyless against the pinned trusted root, with
//!   one of the configured keys, or through a configured private CA.
//! - SC-SIG-002: a verified keyless signature's signer matches the identity
//!   pattern and its OIDC issuer is the expected one.
//! - SC-SIG-003: a verified signature carries the required annotations.
//! - SC-SIG-004: a platform image of an index is signed itself, unless the
//!   policy accepts the index's signature for it.
//! - SC-SLSA-001: a SLSA provenance attestation (v0.2 or v1) verifies and
//!   names this image (or its index) as a subject.
//! - SC-SLSA-002: the provenance's builder is on the allow list, at the
//!   required SLSA build level, and its own identity signed it (GitHub
//!   workflow builders at a release tag) — see `builder.rs`.
//! - SC-SLSA-003: the source repository and ref (compared exactly) match
//!   the expected ones.
//! - SC-SLSA-004: the build's external parameters carry no secrets, in any
//!   of the encodings builds use — see `secrets.rs`.
//!
//! The host does the cryptography (`signatures` interface); this plugin
//! judges what verified material says.

mod builder;
mod params;
mod pattern;
mod secrets;
#[cfg(test)]
mod testing;

use portcullis_sdk::signatures::{self, Material, MaterialKind, Provenance, Verified};
use portcullis_sdk::{
    Enforcement, Finding, ParamProblem, ParamValue, Params, Plugin, PluginMeta, RuleConfig, RuleMeta, Severity,
    Subject, Target, lookup, wildcard_match,
};

pub struct SignaturesPlugin;

const SIGNED: &str = "SC-SIG-001";
const IDENTITY: &str = "SC-SIG-002";
const ANNOTATIONS: &str = "SC-SIG-003";
const PLATFORMS: &str = "SC-SIG-004";
const PROVENANCE: &str = "SC-SLSA-001";
const BUILDER: &str = "SC-SLSA-002";
const SOURCE: &str = "SC-SLSA-003";
const PARAMETERS: &str = "SC-SLSA-004";

impl Plugin for SignaturesPlugin {
    fn metadata() -> PluginMeta {
        PluginMeta { name: "signatures".into(), version: env!("CARGO_PKG_VERSION").into(), rules: rules() }
    }

    fn check(rules: Vec<RuleConfig>) -> Vec<ParamProblem> {
        params::check(&rules)
    }

    fn evaluate(target: Target, rules: Vec<RuleConfig>) -> Vec<Finding> {
        let subject = match &target {
            Target::Image(image) => &image.subject,
            Target::Artifact(artifact) => &artifact.subject,
            Target::Workload(_) => return portcullis_sdk::skip_all(&rules, portcullis_sdk::NOT_JUDGED),
            Target::Index(_) => {
                return rules
                    .iter()
                    .map(|r| {
                        Finding::skip(
                            &r.id,
                            "judged per platform image (SC-SIG-004 decides whether an index signature stands for them)",
                        )
                    })
                    .collect();
            }
        };
        let cfg = |id: &str| rules.iter().find(|r| r.id == id);
        let attached = signatures::list();
        let signatures = Checked::signatures(&attached, subject, cfg(SIGNED));
        let provenance = Checked::provenance(&attached, subject, cfg(PROVENANCE));
        rules
            .iter()
            .map(|r| match r.id.as_str() {
                SIGNED => signed(r, subject, &signatures),
                IDENTITY => identity(r, &signatures),
                ANNOTATIONS if matches!(target, Target::Artifact(_)) => {
                    Finding::skip(&r.id, "a release artifact's signatures carry no annotations")
                }
                ANNOTATIONS => annotations(r, &signatures),
                PLATFORMS => platforms(r, subject, &signatures),
                PROVENANCE => provenance_found(r, subject, &provenance),
                BUILDER => builder::builder(r, &provenance),
                SOURCE => source(r, &provenance),
                PARAMETERS => parameters(r, &provenance),
                other => Finding::error(other, "not a rule of this plugin"),
            })
            .collect()
    }
}

#[cfg(target_arch = "wasm32")]
portcullis_sdk::export_plugin!(SignaturesPlugin);

pub fn rules() -> Vec<RuleMeta> {
    vec![
        RuleMeta::new(
            SIGNED,
            "The image is signed",
            Severity::High,
            Enforcement::Enforce,
            "A cosign signature over this image's digest (or the digest of the index it belongs to) verifies: keyless against the pinned trusted root (Fulcio chain, SCT, Rekor entry with its proofs), or with one of the configured public keys.",
            "Sign the pushed digest: `cosign sign IMAGE@sha256:...` (keyless in CI) or `cosign sign --key cosign.key IMAGE@sha256:...`.",
        )
        .param("keys", ParamValue::TextList(Vec::new()), "PEM public keys whose signatures count (ECDSA, RSA, Ed25519).")
        .param("keyless", ParamValue::Boolean(true), "Count keyless (Fulcio) signatures verified against the trusted root.")
        .param(
            "ca_roots",
            ParamValue::Text(String::new()),
            "PEM root certificates of a private CA (bring-your-own PKI: `cosign sign --certificate --certificate-chain`, no transparency log); its signers count. Needs `ca_email` or `ca_hostname`.",
        )
        .param("ca_intermediates", ParamValue::Text(String::new()), "PEM intermediates of the private CA, besides those a signature carries.")
        .param("ca_email", ParamValue::Text(String::new()), "The e-mail SAN a private CA's signing certificate must carry.")
        .param("ca_hostname", ParamValue::Text(String::new()), "The DNS SAN a private CA's signing certificate must carry."),
        RuleMeta::new(
            IDENTITY,
            "The signer is the expected identity",
            Severity::High,
            Enforcement::Enforce,
            "A verified keyless signature's certificate names a signer matching `identity` (a regular expression over the whole SAN: e-mail or workflow URI) and the OIDC issuer `issuer`.",
            "Sign from the expected CI workflow or account, or correct the identity pattern.",
        )
        .param("identity", ParamValue::Text(String::new()), "Regular expression a SAN must match whole, e.g. `.*@acme\\.corp` or `https://github\\.com/acme/.*`.")
        .param("issuer", ParamValue::Text(String::new()), "The OIDC issuer, exactly, e.g. `https://token.actions.githubusercontent.com`.")
        .param("source_repositories", ParamValue::TextList(Vec::new()), "GitHub workflow certificates: the run's repository (`ORG/REPO`, wildcards); empty: any.")
        .param("source_refs", ParamValue::TextList(Vec::new()), "GitHub workflow certificates: the run's ref (`refs/tags/v*`, wildcards, case-sensitive); empty: any.")
        .param("triggers", ParamValue::TextList(Vec::new()), "GitHub workflow certificates: the triggering event (`push`, `release`...); empty: any."),
        RuleMeta::new(
            ANNOTATIONS,
            "The signature carries the required annotations",
            Severity::Medium,
            Enforcement::Enforce,
            "A verified signature's payload has each required annotation (`key` present, or `key=value`).",
            "Sign with the annotations: `cosign sign -a build.env=prod -a git.commit=$SHA ...`.",
        )
        .param("required", ParamValue::TextList(Vec::new()), "Annotations: `key` or `key=value`."),
        RuleMeta::new(
            PLATFORMS,
            "Each platform image is signed",
            Severity::Medium,
            Enforcement::Enforce,
            "A platform image of a multi-arch index has a verified signature over its own digest; with `accept_index_signature`, a verified signature over the index stands for its platforms.",
            "Sign every platform digest (`cosign sign --recursive IMAGE@sha256:<index>`), or accept index signatures in the policy.",
        )
        .param("accept_index_signature", ParamValue::Boolean(false), "Let a signature over the index stand for its platform images."),
        RuleMeta::new(
            PROVENANCE,
            "SLSA provenance verifies and names this image",
            Severity::High,
            Enforcement::Enforce,
            "A SLSA provenance attestation (v0.2 or v1.0, in-toto, DSSE) attached to the image or its index verifies keylessly against the trusted root (or with a configured key), and one of its subjects is this image's digest or its index's.",
            "Generate provenance in the build (slsa-github-generator `generator_container_slsa3.yml`, `docker buildx --provenance`, Cloud Build) and attach it (`cosign attest --type slsaprovenance`).",
        )
        .param("keys", ParamValue::TextList(Vec::new()), "PEM public keys whose attestations count, besides keyless ones."),
        RuleMeta::new(
            BUILDER,
            "A trusted builder at the required level built the image",
            Severity::High,
            Enforcement::Enforce,
            "The provenance's builder id is on the allow list (`NAME`, `NAME@REF`, `*` wildcards, case-sensitive), the builder's own identity signed the provenance (a GitHub workflow builder keylessly as itself, or through one of slsa-github-generator's delegators; GitHub's runner through a workflow certificate; any other builder with a key `builder_keys` binds to it), a GitHub workflow builder is at a release tag `refs/tags/vX.Y.Z`, and its SLSA build level is at least `min_level` (slsa-github-generator workflows and Google Cloud Build are level 3; others take the level `levels` gives them).",
            "Build with an allowed builder at a release tag and keep the provenance it signed, or extend the allow list (and `builder_keys`) after review.",
        )
        .param("builders", ParamValue::TextList(Vec::new()), "Allowed builder ids: `NAME`, `NAME@REF`, wildcards (case-sensitive).")
        .param("min_level", ParamValue::Integer(3), "Minimum SLSA build level.")
        .param("levels", ParamValue::TextList(Vec::new()), "Levels of other builders: `BUILDER-PATTERN=LEVEL`.")
        .param(
            "builder_keys",
            ParamValue::TextList(Vec::new()),
            "Keys of builders that sign with a key (Google Cloud Build, self-hosted builders): `BUILDER-PATTERN=N`, N the position of the key in SC-SLSA-001's `keys` (from 1).",
        ),
        RuleMeta::new(
            SOURCE,
            "Built from the expected source",
            Severity::High,
            Enforcement::Enforce,
            "The provenance's source repository matches one of `repositories` (`github.com/acme/*`) and its ref one of `refs` (`refs/tags/v*`: release tags only), refs compared with their case as git compares them.",
            "Build releases from the expected repository and a release tag.",
        )
        .param("repositories", ParamValue::TextList(Vec::new()), "Allowed repositories: `github.com/ORG/REPO`, wildcards.")
        .param("refs", ParamValue::TextList(Vec::new()), "Allowed refs: `refs/tags/*`, `refs/heads/main`... (case-sensitive)."),
        RuleMeta::new(
            PARAMETERS,
            "Build parameters carry no secrets",
            Severity::High,
            Enforcement::Enforce,
            "No external parameter of the provenance is a secret: parameters named like a secret (`*token*`, `*password*`, `*secret*`, `*api_key*`, `*authorization*`) must be masked, and no value may hold a credential (GitHub, GitLab, AWS, Slack tokens, private keys, JSON Web Tokens), in URL userinfo (`https://user:token@host`), as an `Authorization`/`Bearer`/`Basic` value, as a secret-named `NAME=VALUE`, or as a docker config with registry credentials — as written, percent-decoded or base64-decoded.",
            "Pass secrets as secrets (masked, never as workflow inputs), rotate the exposed credential, and rebuild.",
        ),
    ]
}

/// One piece of material, checked.
struct Checked {
    material: Material,
    /// How it verified (`keyless`, `key #1`), or why it did not.
    result: Result<(String, Verified), String>,
}

fn keys(rule: Option<&RuleConfig>) -> Vec<String> {
    rule.map(|r| Params::of(r).text_list("keys")).unwrap_or_default()
}

/// The private CA a rule configures, if any.
fn private_ca(rule: Option<&RuleConfig>) -> Option<signatures::PrivateCa> {
    let p = Params::of(rule?);
    let roots = p.text("ca_roots", "");
    if roots.trim().is_empty() {
        return None;
    }
    let some = |name: &str| Some(p.text(name, "")).filter(|v| !v.trim().is_empty());
    Some(signatures::PrivateCa {
        roots_pem: roots,
        intermediates_pem: some("ca_intermediates"),
        email: some("ca_email"),
        hostname: some("ca_hostname"),
    })
}

/// Verifies material of one kind attached to this image or its index:
/// keyless first (when allowed), then with each key, then through the
/// private CA.
fn check(
    attached: &[Material],
    subject: &Subject,
    kind: MaterialKind,
    keyless: bool,
    keys: &[String],
    ca: Option<&signatures::PrivateCa>,
) -> Vec<Checked> {
    let ours = |t: &str| t == subject.digest || subject.parent_index.as_deref() == Some(t);
    attached
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == kind && ours(&m.target))
        .map(|(i, material)| {
            let material = material.clone();
            let mut why = Vec::new();
            if keyless {
                match signatures::verify_keyless(i as u32) {
                    Ok(v) => return Checked { material, result: Ok(("keyless".into(), v)) },
                    Err(e) => why.push(format!("keyless: {e}")),
                }
            }
            for (k, pem) in keys.iter().enumerate() {
                match signatures::verify_key(i as u32, pem) {
                    Ok(v) => return Checked { material, result: Ok((format!("key #{}", k + 1), v)) },
                    Err(e) => why.push(format!("key #{}: {e}", k + 1)),
                }
            }
            if let Some(ca) = ca {
                match signatures::verify_private_ca(i as u32, ca) {
                    Ok(v) => return Checked { material, result: Ok(("private CA".into(), v)) },
                    Err(e) => why.push(format!("private CA: {e}")),
                }
            }
            if why.is_empty() {
                why.push("no way to verify it (keyless off, no keys, no private CA)".into());
            }
            Checked { material, result: Err(why.join("; ")) }
        })
        .collect()
}

impl Checked {
    fn signatures(attached: &[Material], subject: &Subject, rule: Option<&RuleConfig>) -> Vec<Checked> {
        let keyless = rule.is_none_or(|r| Params::of(r).boolean("keyless", true));
        check(attached, subject, MaterialKind::Signature, keyless, &keys(rule), private_ca(rule).as_ref())
    }

    fn provenance(attached: &[Material], subject: &Subject, rule: Option<&RuleConfig>) -> Vec<Checked> {
        check(attached, subject, MaterialKind::Attestation, true, &keys(rule), None)
            .into_iter()
            .filter_map(Checked::into_provenance)
            .collect()
    }

    /// Provenance among verified attestations: other predicates are left
    /// out; unverified attestations are kept (they may be provenance); a
    /// SLSA provenance predicate the host could not read is kept as a
    /// failure that says so, not dropped as if it were absent.
    fn into_provenance(mut self) -> Option<Checked> {
        let Ok((_, v)) = &self.result else { return Some(self) };
        if v.provenance.is_some() {
            return Some(self);
        }
        let t = v.predicate_type.clone().filter(|t| t.starts_with("https://slsa.dev/provenance/"))?;
        self.result = Err(format!(
            "it verifies, but its {t} predicate is not readable SLSA provenance (v0.2 or v1: a builder id, subjects, the fields the v1 schema requires)"
        ));
        Some(self)
    }

    fn verified(&self) -> Option<&Verified> {
        self.result.as_ref().ok().map(|(_, v)| v)
    }
}

fn signed(rule: &RuleConfig, subject: &Subject, found: &[Checked]) -> Finding {
    let id = rule.id.as_str();
    if let Some(c) = found.iter().find(|c| c.result.is_ok()) {
        let (how, _) = c.result.as_ref().expect("checked");
        let over = if c.material.target == subject.digest { "this digest" } else { "its index" };
        return Finding::pass(id, format!("signature over {over} verifies ({how}): {}", c.material.origin));
    }
    if found.is_empty() {
        let index = if subject.parent_index.is_some() { " or its index" } else { "" };
        return Finding::fail(id, format!("no signature is attached to {}{index}", subject.digest));
    }
    let why: Vec<String> =
        found.iter().map(|c| format!("{}: {}", c.material.origin, c.result.as_ref().err().map_or("", |e| e))).collect();
    Finding::fail(id, format!("no attached signature verifies: {}", why.join("; ")))
}

fn identity(rule: &RuleConfig, found: &[Checked]) -> Finding {
    let id = rule.id.as_str();
    let p = Params::of(rule);
    let (pattern, issuer) = (p.text("identity", ""), p.text("issuer", ""));
    if pattern.is_empty() || issuer.is_empty() {
        return Finding::skip(id, "not configured: set `identity` and `issuer`");
    }
    let re = match regex_lite::Regex::new(&format!("^(?:{pattern})$")) {
        Ok(re) => re,
        Err(e) => return Finding::error(id, format!("`identity` is not a regular expression: {e}")),
    };
    // GitHub workflow extensions, when the policy constrains them.
    let (repos, refs, triggers) =
        (p.text_list("source_repositories"), p.text_list("source_refs"), p.text_list("triggers"));
    // Repositories and events are matched as the SDK matches names (GitHub
    // folds the case of repository names); refs with their case, as git
    // compares them.
    type Matcher = fn(&str, &str) -> bool;
    let ext_ok = |value: &Option<String>, patterns: &[String], matches: Matcher| {
        patterns.is_empty() || value.as_deref().is_some_and(|v| patterns.iter().any(|p| matches(p, v)))
    };
    let mut seen = Vec::new();
    for c in found {
        let Some(who) = c.verified().and_then(|v| v.identity.as_ref()) else { continue };
        let issuer_ok = who.issuer.as_deref() == Some(issuer.as_str());
        if let Some(san) = who.sans.iter().find(|s| re.is_match(s))
            && issuer_ok
        {
            if !ext_ok(&who.source_repository, &repos, wildcard_match)
                || !ext_ok(&who.source_ref, &refs, pattern::matches)
                || !ext_ok(&who.trigger, &triggers, wildcard_match)
            {
                seen.push(format!(
                    "{san} from {} at {} on {}, outside the allowed repositories/refs/triggers",
                    who.source_repository.as_deref().unwrap_or("no repository"),
                    who.source_ref.as_deref().unwrap_or("no ref"),
                    who.trigger.as_deref().unwrap_or("no trigger")
                ));
                continue;
            }
            return Finding::pass(id, format!("signed by {san} ({issuer})"));
        }
        seen.push(format!("{} ({})", who.sans.join(", "), who.issuer.as_deref().unwrap_or("no issuer")));
    }
    if seen.is_empty() {
        return Finding::fail(id, "no verified keyless signature");
    }
    Finding::fail(id, format!("signed by {}, not /{pattern}/ from {issuer}", seen.join("; ")))
}

fn annotations(rule: &RuleConfig, found: &[Checked]) -> Finding {
    let id = rule.id.as_str();
    let required = Params::of(rule).text_list("required");
    if required.is_empty() {
        return Finding::skip(id, "not configured: set `required`");
    }
    let mut best: Option<Vec<&str>> = None;
    for v in found.iter().filter_map(Checked::verified) {
        let missing: Vec<&str> = required
            .iter()
            .map(String::as_str)
            .filter(|r| match r.split_once('=') {
                Some((k, want)) => lookup(&v.annotations, k) != Some(want),
                None => lookup(&v.annotations, r).is_none(),
            })
            .collect();
        if missing.is_empty() {
            return Finding::pass(id, format!("a verified signature carries {}", required.join(", ")));
        }
        if best.as_ref().is_none_or(|b| missing.len() < b.len()) {
            best = Some(missing);
        }
    }
    match best {
        Some(missing) => Finding::fail(id, format!("no verified signature carries {}", missing.join(", "))),
        None => Finding::fail(id, "no verified signature"),
    }
}

fn platforms(rule: &RuleConfig, subject: &Subject, found: &[Checked]) -> Finding {
    let id = rule.id.as_str();
    let Some(index) = &subject.parent_index else {
        return Finding::skip(id, "not part of an index");
    };
    let verified_over = |d: &str| found.iter().any(|c| c.result.is_ok() && c.material.target == d);
    if verified_over(&subject.digest) {
        return Finding::pass(id, "this platform image is signed itself");
    }
    if verified_over(index) {
        if Params::of(rule).boolean("accept_index_signature", false) {
            return Finding::pass(id, format!("the index {index} is signed, and the policy accepts index signatures"));
        }
        return Finding::fail(id, format!("only the index {index} is signed, not this platform image"));
    }
    Finding::fail(id, "neither this platform image nor its index has a verified signature")
}

/// Verified provenance naming this image (or its index) as a subject.
fn naming<'a>(subject: &Subject, found: &'a [Checked]) -> Vec<(&'a Checked, &'a Provenance)> {
    found
        .iter()
        .filter_map(|c| {
            let v = c.verified()?;
            let names =
                v.subjects.iter().any(|s| *s == subject.digest || subject.parent_index.as_deref() == Some(s.as_str()));
            names.then_some((c, v.provenance.as_ref()?))
        })
        .collect()
}

fn provenance_found(rule: &RuleConfig, subject: &Subject, found: &[Checked]) -> Finding {
    let id = rule.id.as_str();
    if let Some((c, p)) = naming(subject, found).first() {
        let (how, _) = c.result.as_ref().expect("verified");
        return Finding::pass(
            id,
            format!("{} provenance by {} verifies ({how}): {}", p.predicate_type, p.builder_id, c.material.origin),
        );
    }
    if found.is_empty() {
        let index = if subject.parent_index.is_some() { " or its index" } else { "" };
        return Finding::fail(id, format!("no provenance attestation is attached to {}{index}", subject.digest));
    }
    let why: Vec<String> = found
        .iter()
        .map(|c| match &c.result {
            Err(e) => format!("{}: {e}", c.material.origin),
            Ok((_, v)) => format!("{}: names {}, not this image", c.material.origin, v.subjects.join(", ")),
        })
        .collect();
    Finding::fail(id, format!("no provenance verifies for this image: {}", why.join("; ")))
}

/// The verified provenance the SLSA rules judge, or the skip that says why
/// there is none (SC-SLSA-001 fails for it).
fn judged(found: &[Checked]) -> Vec<(&Checked, &Provenance)> {
    found.iter().filter_map(|c| Some((c, c.verified()?.provenance.as_ref()?))).collect()
}

/// `git+https://github.com/o/r@refs/x` → (`github.com/o/r`, `refs/x`).
fn split_source(uri: &str) -> (String, Option<String>) {
    let u = uri.trim_start_matches("git+").trim_start_matches("https://").trim_start_matches("http://");
    match u.split_once('@') {
        Some((repo, r)) => (repo.trim_end_matches(".git").to_string(), Some(r.to_string())),
        None => (u.trim_end_matches(".git").to_string(), None),
    }
}

fn source(rule: &RuleConfig, found: &[Checked]) -> Finding {
    let id = rule.id.as_str();
    let p = Params::of(rule);
    let (repos, refs) = (p.text_list("repositories"), p.text_list("refs"));
    if repos.is_empty() && refs.is_empty() {
        return Finding::skip(id, "not configured: set `repositories` and/or `refs`");
    }
    let provenance = judged(found);
    if provenance.is_empty() {
        return Finding::skip(id, "no verified provenance (see SC-SLSA-001)");
    }
    let mut why = Vec::new();
    for (_, prov) in provenance {
        let Some(uri) = prov.source_uri.as_deref().or(prov.trigger_uri.as_deref()) else {
            why.push(format!("provenance by {} names no source", prov.builder_id));
            continue;
        };
        let (repo, from_uri) = split_source(uri);
        let r = prov.run_ref.clone().or(from_uri).unwrap_or_default();
        // GitHub folds the case of repository names; git refs keep theirs
        // (`refs/heads/Main` is another branch than `refs/heads/main`).
        if !repos.is_empty() && !repos.iter().any(|p| wildcard_match(p, &repo)) {
            why.push(format!("source {repo} is not among {}", repos.join(", ")));
            continue;
        }
        if !refs.is_empty() && r.is_empty() {
            why.push(format!("provenance by {} names no ref for {repo} (source `{uri}`)", prov.builder_id));
            continue;
        }
        if !refs.is_empty() && !refs.iter().any(|p| pattern::matches(p, &r)) {
            why.push(format!(
                "ref `{r}` of {repo} is not among {} (refs are compared with their case)",
                refs.join(", ")
            ));
            continue;
        }
        let at = if r.is_empty() { String::new() } else { format!(" at {r}") };
        return Finding::pass(id, format!("built from {repo}{at}"));
    }
    Finding::fail(id, why.join("; "))
}

fn parameters(rule: &RuleConfig, found: &[Checked]) -> Finding {
    let id = rule.id.as_str();
    let provenance = judged(found);
    if provenance.is_empty() {
        return Finding::skip(id, "no verified provenance (see SC-SLSA-001)");
    }
    let mut leaks = Vec::new();
    for (_, prov) in &provenance {
        for kv in &prov.external_parameters {
            let found = secrets::leaks(&kv.key, &kv.value);
            if !found.is_empty() {
                leaks.push(format!("{} {}", kv.key, found.join(", ")));
            }
        }
    }
    if leaks.is_empty() {
        let n: usize = provenance.iter().map(|(_, p)| p.external_parameters.len()).sum();
        return Finding::pass(id, format!("{n} external parameter(s), none a secret"));
    }
    Finding::fail(id, leaks.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use portcullis_sdk::{Outcome, text_list};

    /// SC-SLSA-003 on provenance whose run was for `run_ref`.
    fn source_with(run_ref: &str, refs: &[&str]) -> Finding {
        let mut prov = testing::statement("https://ci.acme.test/builder");
        prov.run_ref = Some(run_ref.into());
        let found = [testing::verified(prov, "key #1", None)];
        source(&testing::rule(SOURCE, &[("refs", text_list(refs))]), &found)
    }

    #[test]
    fn source_refs_are_compared_with_their_case() {
        assert_eq!(source_with("refs/heads/main", &["refs/heads/main"]).outcome, Outcome::Pass);
        let f = source_with("refs/heads/Main", &["refs/heads/main"]);
        assert_eq!(f.outcome, Outcome::Fail);
        assert!(f.message.contains("`refs/heads/Main`"), "{}", f.message);
        assert_eq!(source_with("refs/heads/main", &["refs/heads/Main"]).outcome, Outcome::Fail);
        assert_eq!(source_with("refs/TAGS/v1.0.0", &["refs/tags/v*"]).outcome, Outcome::Fail);
        assert_eq!(source_with("refs/tags/V1.0.0", &["refs/tags/v*"]).outcome, Outcome::Fail);
        assert_eq!(source_with("refs/tags/v1.0.0", &["refs/tags/v*"]).outcome, Outcome::Pass);
        // No ref anywhere: said, not compared as an empty one.
        let mut prov = testing::statement("https://ci.acme.test/builder");
        prov.source_uri = Some("git+https://github.com/acme/app".into());
        let found = [testing::verified(prov, "key #1", None)];
        let f = source(&testing::rule(SOURCE, &[("refs", text_list(&["*"]))]), &found);
        assert_eq!(f.outcome, Outcome::Fail);
        assert!(f.message.contains("names no ref for github.com/acme/app"), "{}", f.message);
        // Repository names are GitHub's, whose case does not matter.
        let found = [testing::provenance("b", "key #1", None)];
        let f = source(&testing::rule(SOURCE, &[("repositories", text_list(&["github.com/ACME/app"]))]), &found);
        assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    }

    #[test]
    fn certificate_refs_are_compared_with_their_case() {
        let run = |source_ref: &str, refs: &[&str]| {
            let mut who = testing::github("https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main");
            who.source_ref = Some(source_ref.into());
            let params = [
                ("identity", ParamValue::Text("https://github\\.com/acme/.*".into())),
                ("issuer", ParamValue::Text(testing::GHA_ISSUER.into())),
                ("source_refs", text_list(refs)),
                ("source_repositories", text_list(&["ACME/*"])),
            ];
            identity(&testing::rule(IDENTITY, &params), &[testing::signature(who)])
        };
        assert_eq!(run("refs/heads/main", &["refs/heads/main"]).outcome, Outcome::Pass);
        let f = run("refs/heads/Main", &["refs/heads/main"]);
        assert_eq!(f.outcome, Outcome::Fail);
        assert!(f.message.contains("at refs/heads/Main"), "{}", f.message);
        assert_eq!(run("refs/heads/main", &["refs/heads/Main"]).outcome, Outcome::Fail);
        assert_eq!(run("refs/tags/V1", &["refs/tags/v*"]).outcome, Outcome::Fail);
        assert_eq!(run("refs/tags/v1", &["refs/tags/v*"]).outcome, Outcome::Pass);
    }

    #[test]
    fn unreadable_provenance_is_a_failure_not_an_absence() {
        let unreadable = |predicate: &str| {
            let mut c = testing::provenance("b", "key #1", None);
            if let Ok((_, v)) = &mut c.result {
                v.provenance = None;
                v.predicate_type = Some(predicate.into());
            }
            c
        };
        let c = unreadable("https://slsa.dev/provenance/v1").into_provenance().expect("kept");
        assert!(c.result.as_ref().is_err_and(|e| e.contains("not readable SLSA provenance")), "{:?}", c.result.err());
        assert!(unreadable("https://spdx.dev/Document").into_provenance().is_none());
        assert!(testing::provenance("b", "key #1", None).into_provenance().is_some_and(|c| c.result.is_ok()));
    }

    #[test]
    fn sources_split_into_repository_and_ref() {
        assert_eq!(
            split_source("git+https://github.com/acme/app@refs/tags/v1"),
            ("github.com/acme/app".into(), Some("refs/tags/v1".into()))
        );
    }
}
