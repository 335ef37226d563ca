//! npm packages published with provenance: the registry's attestation set
//! (SLSA provenance signed keylessly by the publishing workflow, and the
//! npm publish attestation signed by the registry's key), verified offline
//! the way slsa-verifier's `verify-npm-package` decides.
//!
//! Provenance from the npm CLI (no trusted builder) must also agree, claim by
//! claim, with the certificate's record of the run ([`super::forgeable`]).

use super::{Failure, Provenance, SlsaError, fail};
use crate::signature::bundle::{self, Expectation};
use crate::signature::identity::Workflow;
use crate::signature::trust::TrustRoot;
use serde_json::Value;

const PUBLISH_PREFIX: &str = "https://github.com/npm/attestation/tree/main/specs/publish/";
const RUNNER: &str = "https://github.com/actions/runner";
const RUNNER_HOSTED: &str = "https://github.com/actions/runner/github-hosted";
const RUNNER_SELF: &str = "https://github.com/actions/runner/self-hosted";
const LOWPERMS_DELEGATOR: &str =
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/delegator_lowperms-generic_slsa3.yml";
const BYOB_BUILD_TYPE: &str = "https://github.com/slsa-framework/slsa-github-generator/delegator-generic@v0";
const NPM_CLI_V1: &str = "https://github.com/npm/cli/gha@v1";
const NPM_CLI_V2: &str = "https://github.com/npm/cli/gha/v2";
const NPM_GHA_V1: &str = "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1";

/// What the verifier is asked to check.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    pub source_uri: String,
    /// `https://github.com/actions/runner[/github-hosted|/self-hosted]`, or
    /// the OSSF delegator (`…/delegator_lowperms-generic_slsa3.yml[@REF]`).
    pub builder_id: Option<String>,
    pub package_name: Option<String>,
    pub package_version: Option<String>,
    /// Testing mode as slsa-verifier's regression tests run.
    pub testing: bool,
}

/// The registry's key for publish attestations, by the id bundles name it.
#[derive(Debug, Clone)]
pub struct RegistryKey {
    pub key_id: String,
    pub pem: Vec<u8>,
}

/// The npm registry's keys as Sigstore's TUF repository publishes them
/// (target `registry.npmjs.org/keys.json`, the file slsa-verifier and the
/// npm CLI read), embedded: nothing is fetched at verification time.
pub const EMBEDDED_KEYS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/trust/npm-registry-keys.json"));

impl RegistryKey {
    /// The keys of a `keys.json` that sign publish attestations
    /// (`keyUsage` `npm:attestations`), as PEM. As slsa-verifier, a key is
    /// found by id and usage; its `validFor` window is not applied (the
    /// registry's first key signed attestations until 2025 and remains the
    /// only key for those packages).
    pub fn from_keys_json(bytes: &[u8]) -> Result<Vec<RegistryKey>, String> {
        use base64::Engine as _;
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("npm registry keys: {e}"))?;
        let keys = doc["keys"].as_array().ok_or("npm registry keys: no `keys` list")?;
        let mut out = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            if k["keyUsage"] != "npm:attestations" {
                continue;
            }
            let id = k["keyId"].as_str().ok_or_else(|| format!("npm registry keys: keys[{i}] has no keyId"))?;
            let raw = k.pointer("/publicKey/rawBytes").and_then(Value::as_str).unwrap_or_default();
            let der = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_err(|e| format!("npm registry keys: keys[{i}].publicKey.rawBytes: {e}"))?;
            crate::signature::keys::EcKey::from_spki_der(&der)
                .map_err(|e| format!("npm registry keys: keys[{i}] ({id}): {e}"))?;
            let pem = der::pem::encode_string("PUBLIC KEY", der::pem::LineEnding::LF, &der)
                .map_err(|e| format!("npm registry keys: keys[{i}] ({id}): {e}"))?;
            out.push(RegistryKey { key_id: id.to_string(), pem: pem.into_bytes() });
        }
        if out.is_empty() {
            return Err("npm registry keys: no key with keyUsage npm:attestations".into());
        }
        Ok(out)
    }

    /// The embedded registry keys.
    pub fn embedded() -> Vec<RegistryKey> {
        RegistryKey::from_keys_json(EMBEDDED_KEYS.as_bytes()).expect("the embedded npm registry keys are valid")
    }
}

fn bundle_statement(bundle: &Value) -> Result<Value, SlsaError> {
    serde_json::from_slice(&super::bundle_payload(bundle)?)
        .or_else(|e| fail(Failure::Format, format!("statement: {e}")))
}

fn sha512_subject(st: &Value) -> Option<[u8; 64]> {
    st["subject"]
        .as_array()?
        .iter()
        .find_map(|s| hex::decode(s["digest"]["sha512"].as_str()?).ok().and_then(|d| <[u8; 64]>::try_from(d).ok()))
}

/// `@scope/name@1.0.0` → (`@scope/name`, `1.0.0`).
fn name_and_version(s: &str) -> Result<(String, String), SlsaError> {
    let (scoped, rest) = match s.strip_prefix('@') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let parts: Vec<&str> = rest.split('@').collect();
    if parts.len() > 2 {
        return fail(Failure::Format, format!("`{s}` is not a package name"));
    }
    let name = if scoped { format!("@{}", parts[0]) } else { parts[0].to_string() };
    Ok((name, parts.get(1).map(|v| v.to_string()).unwrap_or_default()))
}

/// The provenance's single `pkg:npm/…` subject.
fn provenance_package(prov: &Provenance) -> Result<(String, String), SlsaError> {
    let [subject] = &prov.subjects[..] else {
        return fail(Failure::Format, format!("{} provenance subjects (one expected)", prov.subjects.len()));
    };
    let Some(encoded) = subject.name.strip_prefix("pkg:npm/") else {
        return fail(Failure::Format, format!("subject `{}` is not an npm package", subject.name));
    };
    let decoded = percent_decode(encoded).map_or_else(|| fail(Failure::Format, "subject name is badly encoded"), Ok)?;
    name_and_version(&decoded)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The builder id → provenance shapes slsa-verifier reads.
fn provenance_shape_known(builder: &str, prov: &Provenance) -> Result<(), SlsaError> {
    let v1 = prov.predicate_type.starts_with(super::V1);
    let known: &[&str] = match (builder, v1) {
        (RUNNER | RUNNER_HOSTED, false) => &[NPM_CLI_V1, NPM_CLI_V2],
        (RUNNER_HOSTED, true) => &[NPM_GHA_V1],
        (LOWPERMS_DELEGATOR, _) => &[BYOB_BUILD_TYPE],
        _ => {
            return fail(
                Failure::InvalidBuilderId,
                format!("no {} provenance is known for builder {builder}", prov.predicate_type),
            );
        }
    };
    if !known.contains(&prov.build_type.as_str()) {
        return fail(Failure::Format, format!("build type {} is not one builder {builder} writes", prov.build_type));
    }
    Ok(())
}

/// Verifies an npm attestation set for a tarball (by its SHA-512).
pub fn verify(
    attestations: &[u8],
    tarball_sha512: [u8; 64],
    expect: &Expectations,
    root: &TrustRoot,
    registry_keys: &[RegistryKey],
) -> Result<String, SlsaError> {
    let set: Value =
        serde_json::from_slice(attestations).or_else(|e| fail(Failure::Format, format!("attestations: {e}")))?;
    let list = set["attestations"].as_array().map(Vec::as_slice).unwrap_or_default();
    if list.len() < 2 {
        return fail(Failure::Format, format!("{} attestations (a provenance and a publish one expected)", list.len()));
    }
    let find = |f: &dyn Fn(&str) -> bool| list.iter().find(|a| a["predicateType"].as_str().is_some_and(f));
    let prov_att = find(&|t| t == super::V02 || t == super::V1);
    let pub_att = find(&|t| t.starts_with(PUBLISH_PREFIX));
    let (Some(prov_att), Some(pub_att)) = (prov_att, pub_att) else {
        return fail(Failure::Format, "the set lacks a provenance or a publish attestation");
    };

    // 1. The provenance's signature (keyless, a GitHub workflow).
    let prov_bundle = serde_json::to_vec(&prov_att["bundle"]).unwrap_or_default();
    let claimed = bundle_statement(&prov_att["bundle"])?;
    let bind = sha512_subject(&claimed).unwrap_or(tarball_sha512);
    let verified = bundle::verify(&prov_bundle, bind, &Expectation::Identity(super::gha::github_identity()), root)
        .or_else(|e| fail(Failure::Signature, format!("provenance: {e}")))?;
    let cert = verified.certificate.map_or_else(|| fail(Failure::Signature, "no signing certificate"), Ok)?;
    let cert = <x509_cert::Certificate as der::Decode>::from_der(&cert)
        .or_else(|e| fail(Failure::Signature, format!("signing certificate: {e}")))?;
    let workflow = Workflow::from_certificate(&cert).or_else(|e| fail(Failure::Format, e))?;
    let hosted = workflow.claims.runner_environment.clone();
    let statement = verified.envelope.map(|(_, p)| p).unwrap_or_default();

    // 2. The builder: the OSSF delegator (trusted) or the npm CLI on a runner.
    let signer = workflow.signer_workflow.rsplit_once('@').map_or(workflow.signer_workflow.as_str(), |(n, _)| n);
    let trusted = signer == LOWPERMS_DELEGATOR;
    if trusted {
        let r = workflow.signer_workflow.rsplit_once('@').map(|(_, r)| r).unwrap_or_default();
        super::gha::signer_ref_ok(&workflow, r, expect.testing)?;
    }
    let expected_repo = super::gha::certificate_source(&workflow, &expect.source_uri)?;
    let Some(expected_builder) = &expect.builder_id else {
        return fail(Failure::InvalidBuilderId, "npm packages need an expected builder id");
    };
    let builder = if trusted {
        if hosted.as_deref().is_some_and(|h| h != "github-hosted") {
            return fail(Failure::BuilderMismatch, "the delegator ran on a self-hosted runner");
        }
        LOWPERMS_DELEGATOR.to_string()
    } else {
        let Some(hosted) = hosted.as_deref() else {
            return fail(Failure::NotSupported, "the certificate does not say whether the runner was GitHub-hosted");
        };
        match expected_builder.as_str() {
            RUNNER | RUNNER_HOSTED if hosted != "github-hosted" => {
                return fail(Failure::BuilderMismatch, "the workflow ran on a self-hosted runner");
            }
            RUNNER_SELF if hosted != "self-hosted" => {
                return fail(Failure::BuilderMismatch, "the workflow ran on a GitHub-hosted runner");
            }
            RUNNER | RUNNER_HOSTED | RUNNER_SELF => expected_builder.clone(),
            other => {
                return fail(
                    Failure::NotSupported,
                    format!("builder {other} (expected {RUNNER_HOSTED} or {RUNNER_SELF})"),
                );
            }
        }
    };
    let builder_name = builder.split('@').next().unwrap_or(&builder).to_string();
    let prov = Provenance::from_statement(&statement)?;
    provenance_shape_known(&builder_name, &prov)?;
    if !trusted {
        // The npm CLI wrote this provenance inside the workflow: every claim
        // must agree with what the certificate records about the run.
        let run = super::forgeable::RunClaims::from_certificate(&cert).or_else(|e| fail(Failure::Format, e))?;
        let st: Value =
            serde_json::from_slice(&statement).or_else(|e| fail(Failure::Format, format!("statement: {e}")))?;
        super::forgeable::check(&st, &run)?;
    }
    // The provenance's builder, loosely (`…/runner` and `…/runner/github-hosted` name the same).
    let loose = |want: &str| {
        let (name, version) = want.split_once('@').unwrap_or((want, ""));
        let (pname, pversion) = prov.builder_id.split_once('@').unwrap_or((&prov.builder_id, ""));
        pname == name && (version.is_empty() || version == pversion || format!("refs/tags/{version}") == pversion)
    };
    let alternative = match expected_builder.strip_suffix("/github-hosted") {
        Some(short) => short.to_string(),
        None => format!("{expected_builder}/github-hosted"),
    };
    if !loose(expected_builder) && !loose(&alternative) {
        return fail(
            Failure::BuilderMismatch,
            format!("the provenance's builder is {}, not {expected_builder}", prov.builder_id),
        );
    }
    // Source: the trigger and the first dependency name the expected repository.
    let source = format!("git+https://github.com/{expected_repo}");
    let trigger = if prov.predicate_type.starts_with(super::V1) {
        let w = &prov.external_parameters["workflow"];
        match (w["repository"].as_str(), w["ref"].as_str()) {
            (Some(repo), Some(r)) => format!("git+{repo}@{r}"),
            _ => return fail(Failure::Format, "externalParameters.workflow names no repository and ref"),
        }
    } else {
        prov.trigger_uri.clone().unwrap_or_default()
    };
    if trigger.split('@').next() != Some(source.as_str()) {
        return fail(Failure::Source, format!("the build was triggered from `{trigger}`, not `{source}`"));
    }
    let material = prov.source.as_ref().map(|d| d.uri.clone()).unwrap_or_default();
    if material.split('@').next() != Some(source.as_str()) {
        return fail(Failure::Source, format!("the source is `{material}`, not `{source}`"));
    }
    let tarball_hex = hex::encode(tarball_sha512);
    if !prov.subjects.iter().any(|s| s.digest.get("sha512") == Some(&tarball_hex)) {
        return fail(Failure::Hash, format!("no provenance subject has the tarball's sha512 {tarball_hex}"));
    }

    // 3. The publish attestation: the registry's key, the same tarball.
    let pub_bundle = serde_json::to_vec(&pub_att["bundle"]).unwrap_or_default();
    let hint =
        pub_att["bundle"].pointer("/verificationMaterial/publicKey/hint").and_then(Value::as_str).unwrap_or_default();
    let key = registry_keys
        .iter()
        .find(|k| k.key_id == hint)
        .map_or_else(|| fail(Failure::Signature, format!("no registry key `{hint}` is pinned")), Ok)?;
    bundle::verify(&pub_bundle, tarball_sha512, &Expectation::Key(key.pem.clone()), root)
        .or_else(|e| fail(Failure::Signature, format!("publish attestation: {e}")))?;
    let publish = bundle_statement(&pub_att["bundle"])?;
    crate::attestation::validate::statement(&publish)
        .or_else(|e| fail(Failure::Format, format!("publish statement: {e}")))?;

    // 4. Package name and version, in the provenance and the publish attestation.
    let (prov_name, prov_version) = provenance_package(&prov)?;
    let pub_name = publish["predicate"]["name"].as_str().unwrap_or_default().to_string();
    let pub_version = publish["predicate"]["version"].as_str().unwrap_or_default().to_string();
    if let Some(name) = &expect.package_name {
        for got in [&prov_name, &pub_name] {
            if got != name {
                return fail(Failure::PackageName, format!("the package is {got}, not {name}"));
            }
        }
    }
    if let Some(version) = &expect.package_version {
        for got in [&prov_version, &pub_version] {
            if got != version {
                return fail(Failure::PackageVersion, format!("the version is {got}, not {version}"));
            }
        }
    }
    Ok(builder)
}
