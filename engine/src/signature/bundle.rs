//! Sigstore bundle verification, offline, against a trusted root.
//!
//! The order of checks, each failing closed with its reason:
//! 1. the media type names a bundle version we know (v0.1, v0.2, v0.3, in
//!    both spellings) — an unknown version is refused, never guessed;
//! 2. every transparency-log entry passes [`super::tlog`] (SET, inclusion
//!    proof, checkpoint), with an inclusion proof required from v0.2 on;
//! 3. the `sigstore` crate's verifier: the certificate chains to a Fulcio CA
//!    of the trusted root, its SCT verifies against a CT log key, the
//!    identity (SAN) and OIDC issuer match, the signature is over the
//!    artifact (or its DSSE envelope binds it), the log entry is the one for
//!    this signature, and the certificate was valid at the integrated time —
//!    which step 2 has made trustworthy (the crate takes it as given).
//!
//! Not yet here (issue #4 continues): managed-key bundles, DSSE bundles
//! logged as `intoto` 0.0.2 entries (the crate's consistency check knows
//! only `dsse` entries), RFC 3161
//! timestamps (Rekor v2 entries carry no integrated time, so their
//! certificates cannot be checked for validity at signing time without
//! one), and identity regexes / GitHub workflow extensions.

use super::tlog::{TlogEntry, TlogError};
use super::trust::TrustRoot;
use serde_json::Value;

/// What the signer must be.
#[derive(Debug, Clone)]
pub enum Expectation {
    /// Keyless: certificate SAN and OIDC issuer, exact.
    Identity { identity: String, issuer: String },
    /// A managed key (PEM public key).
    Key(Vec<u8>),
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle is not JSON: {0}")]
    NotJson(String),
    #[error(
        "unknown bundle media type `{0}` (known: application/vnd.dev.sigstore.bundle+json;version=0.1/0.2/0.3, application/vnd.dev.sigstore.bundle.v0.3+json)"
    )]
    UnknownVersion(String),
    #[error("bundle has no transparency log entry")]
    NoTlogEntry,
    #[error("tlogEntries[{index}]: {source}")]
    Tlog { index: usize, source: TlogError },
    #[error("bundle: {0}")]
    Malformed(String),
    #[error("{0}")]
    Verification(String),
    #[error("not supported yet: {0}")]
    Unsupported(String),
}

/// The bundle version from its media type.
pub fn version(media_type: &str) -> Option<(u32, u32)> {
    let v = media_type.strip_prefix("application/vnd.dev.sigstore.bundle+json;version=").or_else(|| {
        media_type.strip_prefix("application/vnd.dev.sigstore.bundle.v").and_then(|r| r.strip_suffix("+json"))
    })?;
    match v {
        "0.1" => Some((0, 1)),
        "0.2" => Some((0, 2)),
        "0.3" => Some((0, 3)),
        _ => None,
    }
}

/// Verifies a bundle over an artifact given by its SHA-256 digest.
pub fn verify(bundle: &[u8], digest: [u8; 32], expect: &Expectation, root: &TrustRoot) -> Result<(), BundleError> {
    let doc: Value = serde_json::from_slice(bundle).map_err(|e| BundleError::NotJson(e.to_string()))?;
    let media_type = doc.get("mediaType").and_then(Value::as_str).unwrap_or_default();
    let (_, minor) = version(media_type).ok_or_else(|| BundleError::UnknownVersion(media_type.to_string()))?;
    let entries: Vec<TlogEntry> =
        serde_json::from_value(doc["verificationMaterial"]["tlogEntries"].clone()).unwrap_or_default();
    if entries.is_empty() {
        return Err(BundleError::NoTlogEntry);
    }
    for (index, e) in entries.iter().enumerate() {
        e.verify(root, minor >= 2).map_err(|source| BundleError::Tlog { index, source })?;
        if e.integrated_time.unwrap_or(0) == 0 {
            return Err(BundleError::Unsupported(
                "Rekor v2 entries (no integrated time): RFC 3161 timestamp verification is not implemented yet".into(),
            ));
        }
    }
    let (identity, issuer) = match expect {
        Expectation::Identity { identity, issuer } => (identity, issuer),
        Expectation::Key(_) => return Err(BundleError::Unsupported("managed-key bundles".into())),
    };
    // The message digest is an unauthenticated hint, but one that disagrees
    // with the artifact means the bundle is not about this artifact.
    if let Some(md) = doc.pointer("/messageSignature/messageDigest") {
        let algorithm = md.get("algorithm").and_then(Value::as_str).unwrap_or_default();
        let value = md.get("digest").and_then(Value::as_str).unwrap_or_default();
        let decoded = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, value)
            .map_err(|e| BundleError::Malformed(format!("messageSignature.messageDigest.digest: {e}")))?;
        if algorithm != "SHA2_256" {
            return Err(BundleError::Unsupported(format!("message digest algorithm {algorithm}")));
        }
        if decoded != digest {
            return Err(BundleError::Verification(format!(
                "messageSignature.messageDigest {} does not match the artifact's sha256 {}",
                hex::encode(&decoded),
                hex::encode(digest)
            )));
        }
    }
    if doc["verificationMaterial"].get("publicKey").is_some() {
        return Err(BundleError::Verification(
            "the bundle is signed with a key, but a certificate identity was expected".into(),
        ));
    }
    // The crate knows v0.3 only by its new spelling; the version is checked above.
    let mut doc = doc;
    doc["mediaType"] = Value::String(format!("application/vnd.dev.sigstore.bundle.v0.{minor}+json"));
    if minor < 3 {
        doc["mediaType"] = Value::String(format!("application/vnd.dev.sigstore.bundle+json;version=0.{minor}"));
    }
    let parsed: sigstore::bundle::Bundle =
        serde_json::from_value(doc).map_err(|e| BundleError::Malformed(e.to_string()))?;
    let trust = sigstore::trust::sigstore::SigstoreTrustRoot::from_trusted_root_json_unchecked(root.json.as_bytes())
        .map_err(|e| BundleError::Malformed(format!("trusted root: {e}")))?;
    let verifier = sigstore::bundle::verify::blocking::Verifier::new(Default::default(), trust)
        .map_err(|e| BundleError::Malformed(format!("trusted root: {e}")))?;
    let policy = sigstore::bundle::verify::policy::Identity::new(identity, issuer);
    verifier.verify_digest_with(sigstore::bundle::verify::ArtifactDigest::from(digest), parsed, &policy, true).map_err(
        |e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            BundleError::Verification(msg)
        },
    )
}
