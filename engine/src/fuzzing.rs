//! Entry points for the coverage-guided fuzz targets (`fuzz/`, run by
//! `bench/fuzz.sh`), one per parser family of untrusted input. They live
//! here, not in the fuzz crate, so that `cargo test` replays every kept
//! crash input through exactly the code the fuzzer ran
//! (`tests/e2e/fuzzed.rs`, inputs in `fuzz/regressions/<target>/`).
//!
//! Each entry point reads its input the way the engine does and drops the
//! result: an input may be refused, never panic or hang.

use std::sync::LazyLock;

/// The targets, by the names of `fuzz/fuzz_targets/*.rs`.
pub const TARGETS: [&str; 9] = [
    "admission_review",
    "policy_toml",
    "trusted_root",
    "sigstore_bundle",
    "attestation",
    "sbom",
    "oci_documents",
    "registry_credentials",
    "registry_answers",
];

/// Runs target `name` on one input. Unknown names panic: a typo in a
/// regression folder must not pass silently.
pub fn one(name: &str, data: &[u8]) {
    match name {
        "admission_review" => admission_review(data),
        "policy_toml" => policy_toml(data),
        "trusted_root" => trusted_root(data),
        "sigstore_bundle" => sigstore_bundle(data),
        "attestation" => attestation(data),
        "sbom" => sbom(data),
        "oci_documents" => oci_documents(data),
        "registry_credentials" => registry_credentials(data),
        "registry_answers" => registry_answers(data),
        other => panic!("no fuzz target `{other}` (known: {})", TARGETS.join(", ")),
    }
}

/// An AdmissionReview and the workload it names.
pub fn admission_review(data: &[u8]) {
    if let Ok(review) = crate::admission::review::read(data)
        && let Ok(request) = crate::admission::review::request_of(&review)
        && let Ok(Some(w)) = crate::admission::Workload::from_request(request)
    {
        let _ = w.images();
        let _ = w.reference();
    }
}

/// A policy file (no includes: nothing is read from disk).
pub fn policy_toml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::Policy::parse("fuzz.toml", text, None);
    }
}

/// A trusted root, read strictly.
pub fn trusted_root(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::signature::trust::TrustRoot::parse(text);
    }
}

static ROOT: LazyLock<crate::signature::trust::TrustRoot> =
    LazyLock::new(crate::signature::trust::TrustRoot::production);

/// A Sigstore bundle, verified against the production root for any signer.
pub fn sigstore_bundle(data: &[u8]) {
    use crate::signature::identity::{Identity, Matcher};
    let anyone = crate::signature::bundle::Expectation::Identity(Identity {
        san: Matcher::regex(".*").expect("valid"),
        issuer: Matcher::regex(".*").expect("valid"),
    });
    let _ = crate::signature::bundle::verify(data, [0u8; 32], &anyone, &ROOT);
}

const ATTESTATION_TYPES: [&str; 4] = [
    "application/vnd.dsse.envelope.v1+json",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.in-toto+json",
    "application/vnd.dev.cosign.simplesigning.v1+json",
];

/// An in-toto statement as attached to images; the first byte picks the
/// layer media type.
pub fn attestation(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    if let Ok(st) = crate::attestation::statement(ATTESTATION_TYPES[pick as usize % ATTESTATION_TYPES.len()], rest) {
        let _ = st.subject_digests();
    }
}

/// Any SBOM format, recognised by content.
pub fn sbom(data: &[u8]) {
    let _ = crate::sbom::identify(data);
    let _ = crate::sbom::parse(data);
}

/// Registry answers: manifests, indexes, configs, descriptors.
pub fn oci_documents(data: &[u8]) {
    let _ = crate::oci::sniff_media_type(data);
    let _ = crate::oci::parse_manifest(data);
    let _ = crate::oci::parse_index(data);
    let _ = crate::oci::parse_config(data);
    let _ = crate::oci::parse_descriptor(data);
}

/// A docker `config.json` / containers `auth.json` (the credential helpers
/// it names are not run: a fuzzer must not start programs).
pub fn registry_credentials(data: &[u8]) {
    if let Ok(c) = crate::registry::auth::Credentials::parse(data)
        && !c.names_helpers()
    {
        let _ = c.for_registry("registry.example:5000");
        let _ = c.for_registry("docker.io");
    }
}

/// What a registry says besides its documents: a token service's answer
/// (first byte even) or an error body with a 4xx status (first byte odd;
/// the second picks the status). Both are read by oci-client's own types,
/// exactly as it reads them (`RegistryToken`, `OciEnvelope`); the error is
/// then classified and rendered by the engine as a pull failure would be.
pub fn registry_answers(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    if pick % 2 == 0 {
        if let Ok(token) = serde_json::from_slice::<oci_client::token_cache::RegistryToken>(rest) {
            let _ = token.bearer_token();
        }
        return;
    }
    let Some((&status, body)) = rest.split_first() else { return };
    let _ = crate::registry::answer_error(400 + u16::from(status % 100), body).to_string();
}
