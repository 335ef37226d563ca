//! Sigstore bundle verification, offline, against a trusted root.
//!
//! The order of checks, each failing closed with its reason:
//! 1. the media type names a bundle version we know (v0.1, v0.2, v0.3, in
//!    both spellings) — an unknown version is refused, never guessed;
//! 2. every transparency-log entry passes [`super::tlog`] (SET, inclusion
//!    proof, checkpoint), with an inclusion proof required from v0.2 on;
//! 3. the signing time: Rekor v1's integrated time when its SET verified,
//!    and every RFC 3161 timestamp ([`super::timestamp`]) — all must verify,
//!    and at least one time must be established;
//! 4. every log entry records this bundle's signature by this signer
//!    ([`super::entry`]: `hashedrekord` 0.0.1/0.0.2, `dsse`, `intoto`);
//! 5. managed keys: the signature verifies with the given key. Keyless: the
//!    certificate was valid at every signing time, then the `sigstore`
//!    crate's verifier checks the chain to a Fulcio CA of the trusted root,
//!    the SCT, the identity and issuer, and the signature (DSSE: the
//!    envelope and the statement's subject).
//!
//! How the crate is extended: it reads only Rekor v1 entries of kinds
//! `hashedrekord` 0.0.1 and `dsse` 0.0.1 and takes `integratedTime` as the
//! signing time. For other entries (Rekor v2, `intoto` 0.0.2), once steps
//! 2–4 have proven the entry and the time here, the crate is handed the same
//! entry restated in the form it reads, with the verified time.

use super::entry::{Content, Logged, Signer};
use super::keys::{self, EcKey};
use super::tlog::{TlogEntry, TlogError};
use super::trust::TrustRoot;
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The artifact a bundle is checked against, by its digest. Message
/// signatures bind SHA-256; DSSE statements may name SHA-512 subjects only
/// (npm provenance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact {
    Sha256([u8; 32]),
    Sha512([u8; 64]),
}

impl From<[u8; 32]> for Artifact {
    fn from(d: [u8; 32]) -> Artifact {
        Artifact::Sha256(d)
    }
}

impl From<[u8; 64]> for Artifact {
    fn from(d: [u8; 64]) -> Artifact {
        Artifact::Sha512(d)
    }
}

impl Artifact {
    /// The SHA-256 a message signature binds, or why there is none.
    fn sha256(self) -> Result<[u8; 32], BundleError> {
        match self {
            Artifact::Sha256(d) => Ok(d),
            Artifact::Sha512(_) => Err(BundleError::Verification(
                "a message signature binds the artifact's SHA-256; only its SHA-512 was given".into(),
            )),
        }
    }

    fn for_crate(self) -> sigstore::bundle::verify::ArtifactDigest {
        match self {
            Artifact::Sha256(d) => d.into(),
            Artifact::Sha512(d) => d.into(),
        }
    }
}

/// The most RFC 3161 timestamps a bundle may carry.
const MAX_TIMESTAMPS: usize = 32;

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
    #[error("rfc3161Timestamps[{index}]: {source}")]
    Timestamp { index: usize, source: super::timestamp::TimestampError },
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

/// The signed content of a bundle, decoded.
enum Signed {
    Message { signature: Vec<u8> },
    Envelope { payload_type: String, payload: Vec<u8>, signature: Vec<u8> },
}

impl Signed {
    fn read(doc: &Value) -> Result<Signed, BundleError> {
        let field = |p: &str| -> Result<Vec<u8>, BundleError> {
            let s = doc
                .pointer(p)
                .and_then(Value::as_str)
                .ok_or_else(|| BundleError::Malformed(format!("{p} is missing")))?;
            B64.decode(s).map_err(|e| BundleError::Malformed(format!("{p} is not base64: {e}")))
        };
        if doc.get("messageSignature").is_some() {
            return Ok(Signed::Message { signature: field("/messageSignature/signature")? });
        }
        if doc.get("dsseEnvelope").is_some() {
            let n = doc.pointer("/dsseEnvelope/signatures").and_then(Value::as_array).map_or(0, Vec::len);
            if n != 1 {
                return Err(BundleError::Verification(format!(
                    "the DSSE envelope has {n} signatures (exactly one expected)"
                )));
            }
            return Ok(Signed::Envelope {
                payload_type: doc
                    .pointer("/dsseEnvelope/payloadType")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                payload: field("/dsseEnvelope/payload")?,
                signature: field("/dsseEnvelope/signatures/0/sig")?,
            });
        }
        Err(BundleError::Malformed("neither messageSignature nor dsseEnvelope".into()))
    }

    fn signature(&self) -> &[u8] {
        match self {
            Signed::Message { signature } | Signed::Envelope { signature, .. } => signature,
        }
    }

    fn content<'a>(&'a self, artifact: Artifact, raw: Option<&'a [u8]>) -> Result<Content<'a>, BundleError> {
        Ok(match self {
            Signed::Message { signature } => Content::Message { digest: artifact.sha256()?, signature },
            Signed::Envelope { payload_type, payload, signature } => {
                Content::Envelope { payload_type, payload, signature, raw }
            }
        })
    }
}

/// What a verified bundle establishes, for checks that build on it (SLSA
/// provenance, workflow identities).
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signing certificate (DER), for keyless bundles.
    pub certificate: Option<Vec<u8>>,
    /// The DSSE envelope's payload type and payload, when it holds one.
    pub envelope: Option<(String, Vec<u8>)>,
    /// Every verified signing time (unix seconds).
    pub times: Vec<i64>,
}

/// Verifies a bundle over an artifact given by its SHA-256 digest.
pub fn verify(
    bundle: &[u8],
    artifact: impl Into<Artifact>,
    expect: &Expectation,
    root: &TrustRoot,
) -> Result<Verified, BundleError> {
    verify_with_envelope(bundle, artifact, expect, root, None)
}

/// [`verify`], knowing the DSSE envelope's bytes as they were logged (a
/// cosign attestation layer): `intoto` 0.0.1 entries bind those bytes.
pub fn verify_with_envelope(
    bundle: &[u8],
    artifact: impl Into<Artifact>,
    expect: &Expectation,
    root: &TrustRoot,
    envelope: Option<&[u8]>,
) -> Result<Verified, BundleError> {
    let artifact = artifact.into();
    crate::nesting::json(bundle, crate::nesting::DOCUMENT).map_err(|e| BundleError::NotJson(e.to_string()))?;
    let doc: Value = serde_json::from_slice(bundle).map_err(|e| BundleError::NotJson(e.to_string()))?;
    let media_type = doc.get("mediaType").and_then(Value::as_str).unwrap_or_default();
    let (_, minor) = version(media_type).ok_or_else(|| BundleError::UnknownVersion(media_type.to_string()))?;
    // Absent entries are "no entry"; present but unreadable ones say why.
    let entries: Vec<TlogEntry> = match doc.pointer("/verificationMaterial/tlogEntries") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| BundleError::Malformed(format!("verificationMaterial.tlogEntries: {e}")))?,
    };
    let vm = &doc["verificationMaterial"];
    let has_signer = vm.pointer("/certificate/rawBytes").is_some()
        || vm.pointer("/x509CertificateChain/certificates/0").is_some()
        || vm.get("publicKey").is_some();
    if !has_signer {
        return Err(BundleError::Malformed(
            "verificationMaterial holds no signing certificate (or an empty chain) and no public key".into(),
        ));
    }
    if entries.is_empty() {
        return Err(BundleError::NoTlogEntry);
    }
    let mut times = Vec::new();
    for (index, e) in entries.iter().enumerate() {
        let verified = e.verify(root, minor >= 2).map_err(|source| BundleError::Tlog { index, source })?;
        times.extend(verified.integrated_time);
    }
    let signed = Signed::read(&doc)?;
    if matches!(signed, Signed::Message { .. }) {
        check_message_digest(&doc, artifact.sha256()?)?;
    }
    let stamps = doc
        .pointer("/verificationMaterial/timestampVerificationData/rfc3161Timestamps")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    // As sigstore-python: a bounded number of timestamps, none repeated.
    if stamps.len() > MAX_TIMESTAMPS {
        return Err(BundleError::Malformed(format!(
            "{} RFC 3161 timestamps: too many timestamps (at most {MAX_TIMESTAMPS})",
            stamps.len()
        )));
    }
    for (i, stamp) in stamps.iter().enumerate() {
        if stamps[..i].iter().any(|s| s["signedTimestamp"] == stamp["signedTimestamp"]) {
            return Err(BundleError::Malformed(format!("rfc3161Timestamps[{i}] is a duplicate timestamp")));
        }
    }
    for (index, stamp) in stamps.iter().enumerate() {
        let der = stamp["signedTimestamp"].as_str().and_then(|s| B64.decode(s).ok()).ok_or_else(|| {
            BundleError::Malformed(format!("rfc3161Timestamps[{index}].signedTimestamp is not base64"))
        })?;
        let t = super::timestamp::verify(&der, signed.signature(), root)
            .map_err(|source| BundleError::Timestamp { index, source })?;
        times.push(t.time);
    }
    if times.is_empty() {
        return Err(BundleError::Verification(
            "no verified signing time: no log entry carries a signed entry timestamp and the bundle has no RFC 3161 timestamp".into(),
        ));
    }
    let has_key = doc["verificationMaterial"].get("publicKey").is_some();
    let signer = match expect {
        Expectation::Key(pem) => {
            if !has_key {
                return Err(BundleError::Verification(
                    "a key was given, but the bundle is signed with a certificate, not a managed key".into(),
                ));
            }
            Signer::Key(EcKey::from_pem(pem).map_err(BundleError::Unsupported)?.sec1())
        }
        Expectation::Identity(_) => {
            if has_key {
                return Err(BundleError::Verification(
                    "the bundle is signed with a key, but a certificate identity was expected".into(),
                ));
            }
            Signer::Certificate(leaf_certificate(&doc)?)
        }
    };
    let content = signed.content(artifact, envelope)?;
    for (index, e) in entries.iter().enumerate() {
        Logged::read(&e.canonicalized_body)
            .and_then(|logged| logged.binds(&content, &signer))
            .map_err(|m| BundleError::Verification(format!("tlogEntries[{index}]: {m}")))?;
    }
    let certificate = match expect {
        Expectation::Key(pem) => {
            verify_with_key(&signed, artifact, pem)?;
            None
        }
        Expectation::Identity(policy) => {
            let Signer::Certificate(leaf) = signer else { unreachable!("identity expectations have a certificate") };
            check_validity(&leaf, &times)?;
            verify_keyless(doc, minor, &entries, &signed, &leaf, times[0], artifact, policy, root)?;
            Some(leaf)
        }
    };
    let envelope = match signed {
        Signed::Envelope { payload_type, payload, .. } => Some((payload_type, payload)),
        Signed::Message { .. } => None,
    };
    Ok(Verified { certificate, envelope, times })
}

/// The message digest is an unauthenticated hint, but one that disagrees
/// with the artifact means the bundle is not about this artifact.
fn check_message_digest(doc: &Value, digest: [u8; 32]) -> Result<(), BundleError> {
    let Some(md) = doc.pointer("/messageSignature/messageDigest") else { return Ok(()) };
    let algorithm = md.get("algorithm").and_then(Value::as_str).unwrap_or_default();
    let value = md.get("digest").and_then(Value::as_str).unwrap_or_default();
    let decoded =
        B64.decode(value).map_err(|e| BundleError::Malformed(format!("messageSignature.messageDigest.digest: {e}")))?;
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
    Ok(())
}

/// The signing certificate (DER): `certificate` (v0.3) or the first of
/// `x509CertificateChain`.
fn leaf_certificate(doc: &Value) -> Result<Vec<u8>, BundleError> {
    let vm = &doc["verificationMaterial"];
    let raw = vm
        .pointer("/certificate/rawBytes")
        .or_else(|| vm.pointer("/x509CertificateChain/certificates/0/rawBytes"))
        .and_then(Value::as_str)
        .ok_or_else(|| BundleError::Verification("the bundle holds no signing certificate".into()))?;
    B64.decode(raw).map_err(|e| BundleError::Malformed(format!("signing certificate is not base64: {e}")))
}

/// The signing certificate's key, when it is ECDSA.
fn leaf_key(leaf: &[u8]) -> Result<EcKey, String> {
    use der::{Decode as _, Encode as _};
    let cert = x509_cert::Certificate::from_der(leaf).map_err(|e| e.to_string())?;
    EcKey::from_spki_der(&cert.tbs_certificate().subject_public_key_info().to_der().map_err(|e| e.to_string())?)
}

/// The certificate must have been valid at every verified signing time.
fn check_validity(leaf: &[u8], times: &[i64]) -> Result<(), BundleError> {
    use der::Decode as _;
    let cert = x509_cert::Certificate::from_der(leaf)
        .map_err(|e| BundleError::Malformed(format!("signing certificate: {e}")))?;
    let (nb, na) = super::keys::validity(&cert);
    let show = |t: i64| jiff::Timestamp::from_second(t).map(|t| t.to_string()).unwrap_or_else(|_| t.to_string());
    for &t in times {
        if t < nb || t > na {
            return Err(BundleError::Verification(format!(
                "the signing certificate was not valid at the signing time {} (valid {} to {})",
                show(t),
                show(nb),
                show(na)
            )));
        }
    }
    Ok(())
}

/// Keyless: the crate's chain, SCT, identity and signature checks.
#[allow(clippy::too_many_arguments)]
fn verify_keyless(
    mut doc: Value,
    minor: u32,
    entries: &[TlogEntry],
    signed: &Signed,
    leaf: &[u8],
    time: i64,
    artifact: Artifact,
    policy: &super::identity::Identity,
    root: &TrustRoot,
) -> Result<(), BundleError> {
    // The crate knows v0.3 only by its new spelling; the version is checked above.
    doc["mediaType"] = Value::String(if minor >= 3 {
        format!("application/vnd.dev.sigstore.bundle.v0.{minor}+json")
    } else {
        format!("application/vnd.dev.sigstore.bundle+json;version=0.{minor}")
    });
    // The chain is built from the trusted root's CAs, never from what the
    // bundle carries: certificates after the leaf are hints, ignored (as
    // sigstore-go does; older npm and sigstore-js bundles ship the whole
    // chain, root included, which the crate would refuse outright).
    if let Some(chain) =
        doc.pointer_mut("/verificationMaterial/x509CertificateChain/certificates").and_then(Value::as_array_mut)
    {
        chain.truncate(1);
    }
    let mut parsed: sigstore::bundle::Bundle =
        serde_json::from_value(doc).map_err(|e| BundleError::Malformed(e.to_string()))?;
    let e = &entries[0];
    // DSSE entries are always restated: the crate recomputes `envelopeHash`
    // from its own serialisation of the envelope, which need not be the
    // bytes the signer submitted (cosign's are not); the entry's binding to
    // signature, signer and payload was proven above.
    let readable = match (e.kind_version.kind.as_str(), e.kind_version.version.as_str(), signed) {
        ("hashedrekord", "0.0.1", Signed::Message { .. }) => e.integrated_time.unwrap_or(0) != 0,
        _ => false,
    };
    if !readable {
        let body = restate(&parsed, signed, leaf, artifact)?;
        if let Some(entry) = parsed.verification_material.as_mut().and_then(|m| m.tlog_entries.first_mut()) {
            entry.canonicalized_body = body;
            entry.integrated_time = time;
        }
    }
    let verifier = root.crate_verifier().map_err(BundleError::Malformed)?;
    let mut result = verifier.verify_digest_with(artifact.for_crate(), parsed, policy, true);
    if let Err(sigstore::bundle::verify::VerificationError::Certificate(
        sigstore::bundle::verify::CertificateErrorKind::Sct(refused),
    )) = &result
    {
        // The crate checks the chain to a Fulcio CA of the root before the
        // SCT (sigstore 0.15, `verify_digest_with`; guarded by the test
        // `sct_fallback_runs_only_after_the_crates_chain_check`), so the
        // chain passed. The SCT is then checked as sigstore-go checks it
        // ([`super::sct`]), and what the crate would check after it — the
        // identity and the signature — is checked here; the entry's binding
        // and the validity at the logged time were checked above.
        super::sct::verify(leaf, root)
            .map_err(|e| BundleError::Verification(format!("certificate SCT: {e} (the sigstore crate: {refused})")))?;
        result = after_sct(signed, leaf, artifact, policy);
    }
    if let Err(sigstore::bundle::verify::VerificationError::Signature(
        sigstore::bundle::verify::SignatureErrorKind::VerificationFailed(_),
    )) = &result
        && let Signed::Message { signature } = signed
        && let Ok(key @ EcKey::P384(_)) = leaf_key(leaf)
    {
        // The crate verifies P-384 keys over SHA-384 only; sigstore-python
        // signed with P-384 keys over the SHA-256 message digest (2023
        // bundles). The crate checks the chain, the SCT and the identity
        // before the signature (sigstore 0.15, `verify_digest_with`), so a
        // failure at the signature step means those passed; the signature
        // is then checked here over the digest, and what the crate would
        // check after it — the entry's binding and the validity at the
        // logged time — was checked above. The order is guarded by the
        // test `p384_signature_check_runs_after_chain_and_identity`.
        return key
            .verify_prehash(&artifact.sha256()?, signature)
            .map_err(|e| BundleError::Verification(format!("signature verification failed (P-384 key): {e}")));
    }
    result.map_err(|e| {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        BundleError::Verification(msg)
    })
}

/// What the crate checks after the SCT, for bundles whose SCT it could not
/// read: the identity policy, the signature (message: over the digest; DSSE:
/// over the envelope's PAE), and for DSSE that a statement subject is the
/// artifact — with the crate's own key and policy types, as it would.
fn after_sct(
    signed: &Signed,
    leaf: &[u8],
    artifact: Artifact,
    policy: &super::identity::Identity,
) -> sigstore::bundle::verify::VerificationResult {
    use der::Decode as _;
    use sigstore::bundle::verify::{SignatureErrorKind, VerificationError, VerificationPolicy as _};
    let cert = x509_cert::Certificate::from_der(leaf)
        .map_err(|e| VerificationError::Signature(SignatureErrorKind::AlgoUnsupported(e.into())))?;
    policy.verify(&cert)?;
    let key = sigstore::crypto::CosignVerificationKey::try_from(cert.tbs_certificate().subject_public_key_info())
        .map_err(SignatureErrorKind::AlgoUnsupported)?;
    let raw = sigstore::crypto::Signature::Raw;
    match signed {
        Signed::Message { signature } => {
            let digest = artifact
                .sha256()
                .map_err(|_| SignatureErrorKind::DigestAlgorithmUnsupported(artifact.for_crate().algorithm()))?;
            // A message signature is over the artifact's SHA-256 digest
            // (P-384 keys too: sigstore-python's, see above).
            let ec = leaf_key(leaf).map_err(|e| {
                SignatureErrorKind::AlgoUnsupported(sigstore::errors::SigstoreError::UnexpectedError(e))
            })?;
            ec.verify_prehash(&digest, signature).map_err(|e| {
                SignatureErrorKind::VerificationFailed(sigstore::errors::SigstoreError::UnexpectedError(e))
            })?;
        }
        Signed::Envelope { payload_type, payload, signature } => {
            key.verify_signature(raw(signature), &super::entry::pae(payload_type, payload))
                .map_err(SignatureErrorKind::VerificationFailed)?;
            let (algorithm, want) = match artifact {
                Artifact::Sha256(d) => ("sha256", hex::encode(d)),
                Artifact::Sha512(d) => ("sha512", hex::encode(d)),
            };
            let statement: Value = serde_json::from_slice(payload).unwrap_or_default();
            let names_artifact = statement["subject"].as_array().is_some_and(|subjects| {
                subjects.iter().any(|s| s["digest"][algorithm].as_str().is_some_and(|h| h.eq_ignore_ascii_case(&want)))
            });
            if !names_artifact {
                return Err(SignatureErrorKind::SubjectDigestMismatch.into());
            }
        }
    }
    Ok(())
}

/// The log entry the crate reads (`hashedrekord` 0.0.1 or `dsse` 0.0.1)
/// that records what the bundle's own entry was proven to record.
fn restate(
    parsed: &sigstore::bundle::Bundle,
    signed: &Signed,
    leaf: &[u8],
    artifact: Artifact,
) -> Result<Vec<u8>, BundleError> {
    use sigstore::rekor::models::hashedrekord as hr;
    let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, leaf)
        .map_err(|e| BundleError::Malformed(format!("signing certificate: {e}")))?;
    let body = match signed {
        Signed::Message { signature } => serde_json::to_vec(&sigstore::rekor::models::Hashedrekord::new(
            "hashedrekord".into(),
            "0.0.1".into(),
            hr::Spec::new(
                hr::Signature::new(B64.encode(signature), hr::PublicKey::new(B64.encode(&pem))),
                hr::Data::new(hr::Hash::new(hr::AlgorithmKind::sha256, hex::encode(artifact.sha256()?))),
            ),
        )),
        Signed::Envelope { payload, signature, .. } => {
            use sigstore_protobuf_specs::dev::sigstore::bundle::v1::bundle::Content;
            let Some(Content::DsseEnvelope(envelope)) = &parsed.content else {
                return Err(BundleError::Malformed("dsseEnvelope did not parse".into()));
            };
            let envelope_json = serde_json::to_vec(envelope).map_err(|e| BundleError::Malformed(e.to_string()))?;
            serde_json::to_vec(&serde_json::json!({
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {
                    "envelopeHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&envelope_json))},
                    "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(payload))},
                    "signatures": [{"signature": B64.encode(signature), "verifier": B64.encode(&pem)}],
                }
            }))
        }
    };
    body.map_err(|e| BundleError::Malformed(e.to_string()))
}

/// Managed keys: the signature over the artifact digest (message) or the
/// envelope's PAE (DSSE) verifies with the given key.
fn verify_with_key(signed: &Signed, artifact: Artifact, pem: &[u8]) -> Result<(), BundleError> {
    let key = EcKey::from_pem(pem).map_err(BundleError::Unsupported)?;
    let r = match signed {
        Signed::Message { signature } => key.verify_prehash(&artifact.sha256()?, signature),
        Signed::Envelope { payload_type, payload, signature } => {
            let alg = match key {
                EcKey::P256(_) => keys::ECDSA_SHA256,
                EcKey::P384(_) => keys::ECDSA_SHA384,
            };
            key.verify(&alg, &super::entry::pae(payload_type, payload), signature)
        }
    };
    r.map_err(|e| BundleError::Verification(format!("with the given key: {e}")))
}
