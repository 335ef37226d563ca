//! Provenance from slsa-github-generator (GitHub Actions builders: generic,
//! Go, container, BYOB delegators), verified offline the way slsa-verifier's
//! `verify-artifact` decides — same checks, same order, same failure kinds:
//!
//! 1. the provenance is a Sigstore bundle (a bare DSSE envelope needs an
//!    online Rekor search: [`Failure::OnlineOnly`]) whose signature,
//!    certificate chain, SCT and log proofs verify against the trusted root,
//!    signed by a GitHub Actions workflow certificate;
//! 2. the signing workflow is a trusted builder (or the one asked for) at a
//!    release tag `refs/tags/vX.Y.Z`; BYOB delegators vouch for the builder
//!    named in the provenance, which must then live in the generator's
//!    repository or be the one asked for;
//! 3. the certificate's source repository is the expected source;
//! 4. the provenance's builder id matches; its trigger and source are the
//!    expected repository; the artifact's digest is a subject; branch, tag,
//!    versioned tag and workflow inputs match when asked for.

use super::{Failure, Provenance, SlsaError, fail, semver};
use crate::signature::bundle::{self, Expectation};
use crate::signature::identity::{Identity, Matcher, Workflow};
use crate::signature::material::{Kind, Material};
use crate::signature::trust::TrustRoot;
use serde_json::Value;
use std::collections::BTreeMap;

const GENERATOR: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/";
const GHA_ISSUER: &str = "https://token.actions.githubusercontent.com";
const BYOB_BUILD_TYPE: &str = "https://github.com/slsa-framework/slsa-github-generator/delegator-generic@v0";

/// The workflows trusted to sign provenance for artifacts, without being
/// asked; the delegators among them vouch for a builder (BYOB) named in the
/// provenance.
const FOR_ARTIFACTS: &[&str] = &[
    "generator_generic_slsa3.yml",
    "builder_go_slsa3.yml",
    "builder_container-based_slsa3.yml",
    "delegator_generic_slsa3.yml",
    "delegator_lowperms-generic_slsa3.yml",
];
/// The workflows trusted to sign provenance for container images.
const FOR_IMAGES: &[&str] = &["generator_container_slsa3.yml"];
const DELEGATORS: &[&str] = &["delegator_generic_slsa3.yml", "delegator_lowperms-generic_slsa3.yml"];

fn trusted_name(name: &str, set: &[&str]) -> bool {
    name.strip_prefix(GENERATOR).is_some_and(|w| set.contains(&w))
}

/// What the verifier is asked to check.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// `github.com/ORG/REPO` (a scheme is optional).
    pub source_uri: String,
    /// `NAME[@VERSION]`; `None`: any trusted builder.
    pub builder_id: Option<String>,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub versioned_tag: Option<String>,
    pub workflow_inputs: BTreeMap<String, String>,
    /// slsa-verifier's testing mode (`SLSA_VERIFIER_TESTING`), which its
    /// regression cases use: builders of the generator's own repository and
    /// of its end-to-end test repository may run at `refs/heads/main` or at
    /// pre-release tags. Never for production decisions.
    pub testing: bool,
}

const E2E_REPOSITORY: &str = "slsa-framework/example-package";
const GENERATOR_REPOSITORY: &str = "slsa-framework/slsa-github-generator";

/// What verified provenance establishes.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The builder that built, `NAME@REF` (for BYOB, the delegated builder).
    pub builder_id: String,
    pub provenance: Provenance,
}

/// A builder id split at its `@`.
struct BuilderId<'a> {
    name: &'a str,
    version: &'a str,
}

fn builder_id(id: &str, need_version: bool) -> Result<BuilderId<'_>, SlsaError> {
    let parts: Vec<&str> = id.split('@').collect();
    match parts[..] {
        [name, version] if !version.is_empty() => Ok(BuilderId { name, version }),
        [name] if !need_version => Ok(BuilderId { name, version: "" }),
        _ => fail(Failure::Format, format!("builder id `{id}` is not NAME@VERSION")),
    }
}

impl BuilderId<'_> {
    /// `expected` (`NAME[@VERSION]`) names this builder; a version, when
    /// given, matches exactly or as the tag `refs/tags/VERSION`. `full`:
    /// a missing version matches only a builder without one.
    fn matches(&self, expected: &str, full: bool, kind: Failure) -> Result<(), SlsaError> {
        let e = builder_id(expected, false)?;
        if e.name != self.name {
            return fail(kind, format!("the builder is `{}`, not `{}`", self.name, e.name));
        }
        let version_ok = (e.version.is_empty() && !full)
            || e.version == self.version
            || format!("refs/tags/{}", e.version) == self.version;
        if !version_ok {
            return fail(kind, format!("the builder's version is `{}`, not `{}`", self.version, e.version));
        }
        Ok(())
    }
}

/// `refs/TYPE/NAME` → NAME when TYPE is `kind`.
fn ref_name<'a>(kind: &str, r: &'a str) -> Result<&'a str, SlsaError> {
    let mut parts = r.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("refs"), Some(t), Some(name)) if t == kind && !name.is_empty() => Ok(name),
        _ => fail(Failure::InvalidRef, format!("`{r}` is not a refs/{kind}/ ref")),
    }
}

/// The signing builder's ref: a release tag (in testing mode, the
/// generator's own and its end-to-end test repository may also run at
/// `refs/heads/main` or at pre-release tags).
pub(crate) fn signer_ref_ok(workflow: &Workflow, r: &str, testing: bool) -> Result<(), SlsaError> {
    let test_repo = [GENERATOR_REPOSITORY, E2E_REPOSITORY].contains(&workflow.source_repository.as_str());
    if testing && test_repo && r == "refs/heads/main" {
        return Ok(());
    }
    release_tag(r, testing && test_repo)
}

/// The certificate's source repository must be the expected one
/// (`github.com/ORG/REPO`, scheme optional); returns `ORG/REPO`.
pub(crate) fn certificate_source<'a>(workflow: &Workflow, source_uri: &'a str) -> Result<&'a str, SlsaError> {
    let expected = source_uri.trim_start_matches("git+").trim_start_matches("https://");
    let expected = expected.strip_prefix("github.com/").unwrap_or(expected);
    if workflow.source_repository != expected {
        return fail(
            Failure::Source,
            format!("the certificate is for `{}`, not `{expected}`", workflow.source_repository),
        );
    }
    Ok(expected)
}

/// A builder's ref must be a release tag `refs/tags/vX.Y.Z` (in testing
/// mode a pre-release is allowed too).
fn release_tag(r: &str, testing: bool) -> Result<(), SlsaError> {
    let tag = ref_name("tags", r)?;
    match semver::parse(tag) {
        Some(v) if v.parts.len() == 3 && (testing || v.prerelease.is_none()) && v.build.is_none() => Ok(()),
        _ => fail(Failure::InvalidRef, format!("builder tag `{tag}` is not of the form vX.Y.Z")),
    }
}

fn normalise_source(s: &str) -> String {
    if s.starts_with("git+") {
        s.to_string()
    } else if s.contains("://") {
        format!("git+{s}")
    } else {
        format!("git+https://{s}")
    }
}

/// Verifies provenance (a Sigstore bundle) for an artifact by its SHA-256.
pub fn verify(
    bytes: &[u8],
    artifact: [u8; 32],
    expect: &Expectations,
    root: &TrustRoot,
) -> Result<Verified, SlsaError> {
    let doc: Value =
        serde_json::from_slice(bytes).or_else(|e| fail(Failure::Format, format!("provenance is not JSON: {e}")))?;
    if doc.get("mediaType").is_none() && doc.get("payloadType").is_some() {
        return fail(
            Failure::OnlineOnly,
            "a bare DSSE envelope carries no transparency-log proof; finding its Rekor entry needs an online search (provide a Sigstore bundle)",
        );
    }
    let artifact_hex = hex::encode(artifact);
    // The statement is read before it is verified only to choose which of
    // its subjects the signature check binds; nothing else is used unverified.
    let claimed = Provenance::from_statement(&super::bundle_payload(&doc)?)?;
    let bind = if claimed.has_subject(&artifact_hex) {
        artifact
    } else {
        let first = claimed.subjects.iter().find_map(|s| s.digest.get("sha256"));
        let first = first.and_then(|h| hex::decode(h).ok()).and_then(|d| <[u8; 32]>::try_from(d).ok());
        first.map_or_else(
            || fail(Failure::Hash, format!("no subject has a sha256 digest (the artifact's is {artifact_hex})")),
            Ok,
        )?
    };
    let verified = bundle::verify(bytes, bind, &Expectation::Identity(github_identity()), root)
        .or_else(|e| fail(Failure::Signature, e.to_string()))?;
    let (payload_type, payload) =
        verified.envelope.map_or_else(|| fail(Failure::Format, "the bundle signs no envelope"), Ok)?;
    if payload_type != "application/vnd.in-toto+json" {
        return fail(Failure::Format, format!("payload type `{payload_type}` is not an in-toto statement"));
    }
    let cert = verified.certificate.map_or_else(|| fail(Failure::Signature, "no signing certificate"), Ok)?;
    check_run(&cert, &payload, &artifact_hex, expect, FOR_ARTIFACTS)
}

/// Verifies the provenance attestations attached to an image (cosign
/// attestations: keyless DSSE envelopes) the way slsa-verifier's
/// `verify-image` does: the first attestation that passes decides; if none
/// does, the first failure is the reason.
pub fn verify_image(
    materials: &[Material],
    image: &crate::digest::Digest,
    expect: &Expectations,
    root: &TrustRoot,
) -> Result<Verified, SlsaError> {
    let mut first: Option<SlsaError> = None;
    for m in materials.iter().filter(|m| &m.target == image && m.kind() == Kind::Attestation) {
        let r =
            m.verify_keyless(root).or_else(|e| fail(Failure::Signature, format!("{}: {e}", m.origin))).and_then(|v| {
                let cert = v.certificate.map_or_else(|| fail(Failure::Signature, "no signing certificate"), Ok)?;
                let statement = v.statement.map_or_else(|| fail(Failure::Format, "no statement"), Ok)?;
                check_run(&cert, &statement, image.encoded(), expect, FOR_IMAGES)
            });
        match r {
            Ok(v) => return Ok(v),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    Err(first
        .unwrap_or(SlsaError { kind: Failure::Signature, message: format!("no attestation is attached to {image}") }))
}

/// Any GitHub Actions workflow, as Fulcio certifies them: who exactly is
/// for the builder checks to judge.
pub(crate) fn github_identity() -> Identity {
    Identity {
        san: Matcher::regex(r"https://github\.com/.+").expect("a valid pattern"),
        issuer: Matcher::Exact(GHA_ISSUER.into()),
    }
}

/// The checks after the signature: the signing workflow (certificate), the
/// certificate's source, and the provenance's claims.
fn check_run(
    cert: &[u8],
    statement: &[u8],
    artifact_hex: &str,
    expect: &Expectations,
    trusted: &[&str],
) -> Result<Verified, SlsaError> {
    let cert = <x509_cert::Certificate as der::Decode>::from_der(cert)
        .or_else(|e| fail(Failure::Signature, format!("signing certificate: {e}")))?;
    let workflow = Workflow::from_certificate(&cert).or_else(|e| fail(Failure::Format, e))?;
    let prov = Provenance::from_statement(statement)?;

    // 2. The signing workflow is a trusted builder at a release tag.
    let signer = workflow.signer_workflow.rsplit_once('@').map_or_else(
        || fail(Failure::Format, format!("workflow `{}` names no ref", workflow.signer_workflow)),
        |(name, r)| Ok(BuilderId { name, version: r }),
    )?;
    let byob = trusted_name(signer.name, DELEGATORS) && trusted_name(signer.name, trusted);
    match &expect.builder_id {
        None | Some(_) if byob => {}
        None => {
            if !trusted_name(signer.name, trusted) {
                return fail(Failure::UntrustedBuilder, format!("`{}` is not a trusted builder", signer.name));
            }
        }
        Some(expected) => signer
            .matches(expected, false, Failure::UntrustedBuilder)
            .or_else(|e| fail(Failure::UntrustedBuilder, e.message))?,
    }
    signer_ref_ok(&workflow, signer.version, expect.testing)?;

    // 3. The certificate's source repository.
    certificate_source(&workflow, &expect.source_uri)?;

    // 4. The provenance.
    let prov_builder = builder_id(&prov.builder_id, byob)?;
    let builder = if byob {
        let (_, version) = prov.builder_id.split_once('@').map_or_else(
            || fail(Failure::InvalidBuilderId, format!("builder id `{}` has no version", prov.builder_id)),
            Ok,
        )?;
        let from_e2e = prov
            .source
            .as_ref()
            .is_some_and(|d| d.uri.split('@').next() == Some(&format!("git+https://github.com/{E2E_REPOSITORY}")));
        if !(expect.testing && from_e2e && version == "refs/heads/main") {
            release_tag(version, false)?;
        }
        let expected = match &expect.builder_id {
            Some(e) => e.clone(),
            None if prov_builder.name.starts_with(GENERATOR) => prov_builder.name.to_string(),
            None => {
                return fail(
                    Failure::InvalidBuilderId,
                    format!("builder `{}` is not in the generator's repository", prov_builder.name),
                );
            }
        };
        prov_builder.matches(&expected, false, Failure::BuilderMismatch)?;
        prov.builder_id.clone()
    } else {
        let signer_id = format!("{}@{}", signer.name, signer.version);
        prov_builder.matches(&signer_id, true, Failure::BuilderMismatch)?;
        signer_id
    };
    check_common(&prov, artifact_hex, expect)?;
    Ok(Verified { builder_id: builder, provenance: prov })
}

fn check_common(prov: &Provenance, artifact_hex: &str, expect: &Expectations) -> Result<(), SlsaError> {
    let source = normalise_source(&expect.source_uri);
    if !source.starts_with("git+https://github.com/") {
        return fail(Failure::Format, format!("expected source `{source}` is not a github.com repository"));
    }
    let trigger =
        prov.trigger_uri.clone().map_or_else(|| fail(Failure::Format, "the provenance names no trigger"), Ok)?;
    let (trigger_repo, trigger_ref) = trigger.split_once('@').unwrap_or((&trigger, ""));
    if trigger_repo != source {
        return fail(Failure::Source, format!("the build was triggered from `{trigger}`, not `{source}`"));
    }
    if trigger_ref.is_empty() {
        return fail(Failure::Format, format!("trigger `{trigger}` names no ref"));
    }
    let material = prov.source.as_ref().map(|s| s.uri.clone()).unwrap_or_default();
    if material.is_empty() {
        return fail(Failure::Format, "the provenance names no source material");
    }
    let (material_repo, material_ref) = material.split_once('@').unwrap_or((&material, ""));
    if material_repo != source {
        return fail(Failure::Source, format!("the source is `{material}`, not `{source}`"));
    }
    if material_ref.is_empty() && prov.build_type != BYOB_BUILD_TYPE {
        return fail(Failure::Format, format!("source `{material}` names no ref"));
    }
    if !material_ref.is_empty() && trigger != material {
        return fail(Failure::Format, format!("trigger `{trigger}` and source `{material}` differ"));
    }
    if !prov.has_subject(artifact_hex) {
        return fail(Failure::Hash, format!("no subject has the artifact's sha256 {artifact_hex}"));
    }
    if let Some(branch) = &expect.branch {
        let r = prov.branch_ref()?;
        let actual = ref_name("heads", &r)?;
        if actual != branch {
            return fail(Failure::Branch, format!("built from branch `{actual}`, not `{branch}`"));
        }
    }
    if let Some(tag) = &expect.tag {
        let r = prov.tag_ref()?;
        let actual = ref_name("tags", &r)?;
        if actual != tag {
            return fail(Failure::Tag, format!("built from tag `{actual}`, not `{tag}`"));
        }
    }
    if let Some(wanted) = &expect.versioned_tag {
        let r = prov.tag_ref()?;
        let actual = ref_name("tags", &r)?;
        versioned_tag(actual, wanted)?;
    }
    if !expect.workflow_inputs.is_empty() {
        let inputs = prov.workflow_inputs()?;
        for (k, v) in &expect.workflow_inputs {
            let got = match inputs.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => return fail(Failure::WorkflowInputs, format!("the run had no input `{k}`")),
            };
            if &got != v {
                return fail(Failure::WorkflowInputs, format!("input `{k}` was `{got}`, not `{v}`"));
            }
        }
    }
    Ok(())
}

/// `--source-versioned-tag`: the tag's major (and minor, and patch, as far
/// as `wanted` names them) equal `wanted`'s; missing components are 0.
fn versioned_tag(actual: &str, wanted: &str) -> Result<(), SlsaError> {
    let w = semver::parse(wanted)
        .map_or_else(|| fail(Failure::VersionedTag, format!("`{wanted}` is not a semantic version")), Ok)?;
    let a = semver::parse(actual)
        .map_or_else(|| fail(Failure::VersionedTag, format!("tag `{actual}` is not a semantic version")), Ok)?;
    for (i, what) in ["major", "minor", "patch"].iter().enumerate().take(w.parts.len()) {
        if a.component(i) != w.component(i) {
            return fail(
                Failure::VersionedTag,
                format!("tag `{actual}`: {what} version is {}, not {}", a.component(i), w.component(i)),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_tags_compare_as_far_as_asked() {
        assert!(versioned_tag("v13.0.30", "v13").is_ok());
        assert!(versioned_tag("v13.0.30", "v13.0").is_ok());
        assert!(versioned_tag("v14", "v14.0").is_ok());
        assert_eq!(versioned_tag("v14.2", "v14.2.1").unwrap_err().kind, Failure::VersionedTag);
        assert_eq!(versioned_tag("v14", "v14.1").unwrap_err().kind, Failure::VersionedTag);
        assert_eq!(versioned_tag("v13.0.30", "v2").unwrap_err().kind, Failure::VersionedTag);
    }

    #[test]
    fn builder_ids_match_loosely_or_fully() {
        let b = builder_id("https://x/y.yml@refs/tags/v1.2.3", true).unwrap();
        assert!(b.matches("https://x/y.yml", false, Failure::BuilderMismatch).is_ok());
        assert!(b.matches("https://x/y.yml", true, Failure::BuilderMismatch).is_err());
        assert!(b.matches("https://x/y.yml@v1.2.3", true, Failure::BuilderMismatch).is_ok());
        assert!(b.matches("https://x/y.yml@v1.2.4", false, Failure::BuilderMismatch).is_err());
        assert!(release_tag("refs/tags/v1.2.3", false).is_ok());
        assert_eq!(release_tag("refs/heads/main", false).unwrap_err().kind, Failure::InvalidRef);
        assert_eq!(release_tag("refs/tags/v1.2", false).unwrap_err().kind, Failure::InvalidRef);
        assert_eq!(release_tag("refs/tags/v1.2.3-rc.1", false).unwrap_err().kind, Failure::InvalidRef);
        assert!(release_tag("refs/tags/v1.2.3-rc.1", true).is_ok());
    }
}
