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
//! one), and GitHub workflow extension constraints.

use super::tlog::{TlogEntry, TlogError};
use super::trust::TrustRoot;
use serde_json::Value;

/// What the signer must be.
#[derive(Debug, Clone)]
pub enum Expectation {
    /// Keyless: certificate SAN and OIDC issuer, exact or by regex.
    Identity(super::identity::Identity),
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
    // Absent entries are "no entry"; present but unreadable ones say why.
    let entries: Vec<TlogEntry> = match doc.pointer("/verificationMaterial/tlogEntries") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| BundleError::Malformed(format!("verificationMaterial.tlogEntries: {e}")))?,
    };
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
    let policy = match expect {
        Expectation::Identity(identity) => identity,
        Expectation::Key(pem) => return verify_with_key(&doc, &entries, digest, pem),
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
    doc["mediaType"] = Value::String(if minor >= 3 {
        format!("application/vnd.dev.sigstore.bundle.v0.{minor}+json")
    } else {
        format!("application/vnd.dev.sigstore.bundle+json;version=0.{minor}")
    });
    let parsed: sigstore::bundle::Bundle =
        serde_json::from_value(doc).map_err(|e| BundleError::Malformed(e.to_string()))?;
    let trust = sigstore::trust::sigstore::SigstoreTrustRoot::from_trusted_root_json_unchecked(root.json.as_bytes())
        .map_err(|e| BundleError::Malformed(format!("trusted root: {e}")))?;
    let verifier = sigstore::bundle::verify::blocking::Verifier::new(Default::default(), trust)
        .map_err(|e| BundleError::Malformed(format!("trusted root: {e}")))?;
    verifier.verify_digest_with(sigstore::bundle::verify::ArtifactDigest::from(digest), parsed, policy, true).map_err(
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

/// An ECDSA public key (P-256 or P-384) from PEM.
enum EcKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl EcKey {
    fn from_pem(pem: &[u8]) -> Result<EcKey, String> {
        let text = std::str::from_utf8(pem).map_err(|_| "public key is not PEM text".to_string())?;
        if let Ok(k) = text.trim().parse::<p256::ecdsa::VerifyingKey>() {
            return Ok(EcKey::P256(k));
        }
        if let Ok(k) = text.trim().parse::<p384::ecdsa::VerifyingKey>() {
            return Ok(EcKey::P384(k));
        }
        Err("the public key is not an ECDSA P-256 or P-384 PEM key (other managed keys are not supported yet)".into())
    }

    fn sec1(&self) -> Vec<u8> {
        match self {
            EcKey::P256(k) => k.to_sec1_point(false).as_bytes().to_vec(),
            EcKey::P384(k) => k.to_sec1_point(false).as_bytes().to_vec(),
        }
    }

    /// Verifies a DER ECDSA signature over a SHA-256 digest.
    fn verify_prehash(&self, digest: &[u8], der: &[u8]) -> Result<(), String> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let r = match self {
            EcKey::P256(k) => p256::ecdsa::DerSignature::try_from(der)
                .map_err(|e| format!("signature is not DER ECDSA: {e}"))
                .and_then(|sig| k.verify_prehash(digest, &sig).map_err(|e| e.to_string())),
            EcKey::P384(k) => p384::ecdsa::DerSignature::try_from(der)
                .map_err(|e| format!("signature is not DER ECDSA: {e}"))
                .and_then(|sig| k.verify_prehash(digest, &sig).map_err(|e| e.to_string())),
        };
        r.map_err(|e| format!("signature does not verify with the given key: {e}"))
    }
}

/// Managed-key bundles: a message signature over the artifact digest by the
/// given key, logged as a `hashedrekord` entry that names the same digest,
/// signature and key.
fn verify_with_key(doc: &Value, entries: &[TlogEntry], digest: [u8; 32], pem: &[u8]) -> Result<(), BundleError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    if doc["verificationMaterial"].get("publicKey").is_none() {
        return Err(BundleError::Verification(
            "a key was given, but the bundle is signed with a certificate, not a managed key".into(),
        ));
    }
    let key = EcKey::from_pem(pem).map_err(BundleError::Unsupported)?;
    let sig_b64 = doc
        .pointer("/messageSignature/signature")
        .and_then(Value::as_str)
        .ok_or_else(|| BundleError::Unsupported("managed-key DSSE bundles".into()))?;
    let sig = b64.decode(sig_b64).map_err(|e| BundleError::Malformed(format!("messageSignature.signature: {e}")))?;
    key.verify_prehash(&digest, &sig).map_err(BundleError::Verification)?;
    // The log entry must be about this digest, signature and key.
    for (index, e) in entries.iter().enumerate() {
        let at = |m: String| BundleError::Verification(format!("tlogEntries[{index}]: {m}"));
        if (e.kind_version.kind.as_str(), e.kind_version.version.as_str()) != ("hashedrekord", "0.0.1") {
            return Err(BundleError::Unsupported(format!(
                "{} {} log entries for managed keys",
                e.kind_version.kind, e.kind_version.version
            )));
        }
        let logged = super::tlog::HashedRekord::from_body(&e.canonicalized_body)
            .ok_or_else(|| at("canonicalizedBody is not base64 JSON".into()))?;
        if logged.digest_hex != hex::encode(digest) {
            return Err(at(format!(
                "logged digest {} is not the artifact's {}",
                logged.digest_hex,
                hex::encode(digest)
            )));
        }
        if logged.signature.as_deref() != Some(&sig[..]) {
            return Err(at("logged signature differs from the bundle's".into()));
        }
        let logged_key = logged.verifier_pem.ok_or_else(|| at("no public key in the log entry".into()))?;
        let logged_key = EcKey::from_pem(&logged_key).map_err(|m| at(format!("logged key: {m}")))?;
        if logged_key.sec1() != key.sec1() {
            return Err(at("the logged public key is not the given key".into()));
        }
    }
    Ok(())
}
