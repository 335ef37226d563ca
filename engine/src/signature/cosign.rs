//! cosign signatures of container images (the "simple signing" format):
//! a payload naming the image's manifest digest, signed by a key, optionally
//! logged in Rekor (the `dev.sigstore.cosign/bundle` annotation carries the
//! signed entry timestamp). Found as layers of a `sha256-<hex>.sig` image or
//! as containers/image `dir:` signatures.
//!
//! A signature counts only when all hold: the payload is a cosign container
//! image signature for *this* manifest digest, the signature verifies with
//! one of the given keys (or with the key of a certificate a configured
//! private CA issued: bring-your-own PKI, [`super::pki`]), and — when a
//! Rekor key is required — the SET verifies and its entry is about this
//! signature and payload.

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Layer annotations cosign writes: the signature, the Fulcio certificate,
/// the Rekor entry (SET).
pub const SIGNATURE: &str = "dev.cosignproject.cosign/signature";
const BUNDLE: &str = "dev.sigstore.cosign/bundle";

/// One signature: its payload, media type and annotations.
#[derive(Debug, Clone)]
pub struct CosignSignature {
    pub media_type: String,
    pub payload: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

impl CosignSignature {
    /// A containers/image `dir:` signature file: `\0sigstore-json\n` + JSON.
    pub fn from_sigstore_json(bytes: &[u8]) -> Result<CosignSignature, String> {
        let json = bytes.strip_prefix(b"\x00sigstore-json\n").ok_or("not a sigstore-json signature")?;
        let v: Value = serde_json::from_slice(json).map_err(|e| format!("sigstore-json signature: {e}"))?;
        let payload = base64::engine::general_purpose::STANDARD
            .decode(v["payload"].as_str().unwrap_or_default())
            .map_err(|e| format!("payload is not base64: {e}"))?;
        let annotations = serde_json::from_value(v["annotations"].clone()).unwrap_or_default();
        Ok(CosignSignature { media_type: v["mimeType"].as_str().unwrap_or_default().to_string(), payload, annotations })
    }
}

pub const CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
pub const DSSE: &str = "application/vnd.dsse.envelope.v1+json";

/// A keyless cosign signature or attestation layer restated as the Sigstore
/// bundle (v0.1) it amounts to: the Fulcio certificate annotation, the Rekor
/// entry with its SET (the bundle annotation), and what was signed — a
/// message signature over the simple-signing payload, or the DSSE envelope
/// the layer is. The bundle is then verified like any other.
pub fn keyless_bundle(sig: &CosignSignature) -> Result<Vec<u8>, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let cert = sig.annotations.get(CERTIFICATE).ok_or("no certificate annotation: not a keyless signature")?;
    let (_, leaf) = super::entry::pem_blocks(cert.as_bytes())
        .map_err(|e| format!("certificate annotation: {e}"))?
        .into_iter()
        .find(|(label, _)| label == "CERTIFICATE")
        .ok_or("the certificate annotation holds no certificate")?;
    let rekor = sig.annotations.get(BUNDLE).ok_or("no Rekor bundle annotation: the signature was not logged")?;
    let rekor: Value = serde_json::from_str(rekor).map_err(|e| format!("bundle annotation: {e}"))?;
    let p = &rekor["Payload"];
    let body = p["body"].as_str().ok_or("bundle annotation: no Payload.body")?;
    let decoded: Value = b64
        .decode(body)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("bundle annotation: Payload.body is not base64 JSON")?;
    let log_id =
        hex::decode(p["logID"].as_str().unwrap_or_default()).map_err(|e| format!("bundle annotation logID: {e}"))?;
    let entry = serde_json::json!({
        "logIndex": p["logIndex"].as_i64().ok_or("bundle annotation: no logIndex")?.to_string(),
        "logId": {"keyId": b64.encode(log_id)},
        "kindVersion": {"kind": decoded["kind"], "version": decoded["apiVersion"]},
        "integratedTime": p["integratedTime"].as_i64().ok_or("bundle annotation: no integratedTime")?.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": rekor["SignedEntryTimestamp"]},
        "canonicalizedBody": body,
    });
    let mut bundle = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": [{"rawBytes": b64.encode(leaf)}]},
            "tlogEntries": [entry],
        },
    });
    if sig.media_type == DSSE {
        let envelope: Value = serde_json::from_slice(&sig.payload).map_err(|e| format!("DSSE envelope: {e}"))?;
        bundle["dsseEnvelope"] = envelope;
    } else {
        bundle["messageSignature"] = serde_json::json!({
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64.encode(Sha256::digest(&sig.payload))},
            "signature": sig.annotations.get(SIGNATURE).ok_or("no signature annotation")?,
        });
    }
    serde_json::to_vec(&bundle).map_err(|e| e.to_string())
}

/// What to require of a signature.
pub struct Requirements {
    /// PEM public keys; any one may have signed.
    pub keys: Vec<Vec<u8>>,
    /// PEM Rekor keys; when not empty, a valid SET from one of them is required.
    pub rekor_keys: Vec<Vec<u8>>,
    /// A private CA whose certificates may sign (BYO-PKI: the signing
    /// certificate and its chain are in the signature's annotations).
    pub pki: Option<super::pki::Pki>,
}

/// The signature verifies with one of the keys, or with a certificate the
/// private CA issued.
fn signed_by(sig: &CosignSignature, raw: &[u8], req: &Requirements) -> Result<(), String> {
    let mut why = Vec::new();
    for pem in &req.keys {
        match super::keys::verify_message(pem, &sig.payload, raw) {
            Ok(()) => return Ok(()),
            Err(e) => why.push(e),
        }
    }
    let pki = req.pki.as_ref().map(|pki| pki_signed(sig, raw, pki));
    match (req.keys.len(), pki) {
        (_, Some(Ok(()))) => Ok(()),
        (0, Some(Err(e))) => Err(format!("the signature does not verify through the private CA: {e}")),
        (0, None) => Err("no key or CA to verify the signature with".into()),
        (n, pki) => Err(format!(
            "the signature verifies with none of the {n} given key(s): {}{}",
            why.join("; "),
            pki.map(|r| format!("; private CA: {}", r.err().unwrap_or_default())).unwrap_or_default()
        )),
    }
}

/// BYO-PKI: the certificate annotation chains to the private CA (with the
/// chain annotation's intermediates), names the expected signer, and its
/// key made the signature.
fn pki_signed(sig: &CosignSignature, raw: &[u8], pki: &super::pki::Pki) -> Result<(), String> {
    use der::Encode as _;
    let cert = sig.annotations.get(CERTIFICATE).ok_or("the signature carries no certificate")?;
    let leaf = super::pki::certificates(cert.as_bytes(), "certificate annotation")?
        .into_iter()
        .next()
        .ok_or("the certificate annotation holds no certificate")?;
    let carried = match sig.annotations.get(super::pki::CHAIN) {
        Some(chain) => super::pki::certificates(chain.as_bytes(), "chain annotation")?,
        None => Vec::new(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    pki.verify(&leaf, &carried, now)?;
    let spki = leaf.tbs_certificate().subject_public_key_info().to_der().map_err(|e| e.to_string())?;
    super::keys::verify_message_spki(&spki, &sig.payload, raw)
        .map_err(|e| format!("the certificate's key did not make the signature: {e}"))
}

/// Verifies one signature for the image with `manifest_digest` (`sha256:…`).
pub fn verify(sig: &CosignSignature, manifest_digest: &str, req: &Requirements) -> Result<(), String> {
    if sig.media_type != SIMPLE_SIGNING {
        return Err(format!("`{}` is not a cosign simple-signing signature", sig.media_type));
    }
    let payload: Value = serde_json::from_slice(&sig.payload).map_err(|e| format!("payload: {e}"))?;
    let kind = payload.pointer("/critical/type").and_then(Value::as_str).unwrap_or_default();
    if kind != "cosign container image signature" {
        return Err(format!("payload type `{kind}` is not a cosign container image signature"));
    }
    let signed = payload.pointer("/critical/image/docker-manifest-digest").and_then(Value::as_str).unwrap_or_default();
    if signed != manifest_digest {
        return Err(format!("the signature is for {signed}, not for this image ({manifest_digest})"));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw = sig.annotations.get(SIGNATURE).ok_or("no signature annotation")?;
    // cosign writes the base64 on one line; other signers wrap it.
    let raw: String = raw.split_ascii_whitespace().collect();
    let raw = b64.decode(raw).map_err(|e| format!("signature is not base64: {e}"))?;
    signed_by(sig, &raw, req)?;
    if req.rekor_keys.is_empty() {
        return Ok(());
    }
    let bundle =
        sig.annotations.get(BUNDLE).ok_or("a Rekor entry is required, but the signature has no bundle (SET)")?;
    let bundle: Value = serde_json::from_str(bundle).map_err(|e| format!("bundle annotation: {e}"))?;
    let set = b64
        .decode(bundle["SignedEntryTimestamp"].as_str().unwrap_or_default())
        .map_err(|e| format!("SignedEntryTimestamp: {e}"))?;
    let p = &bundle["Payload"];
    let (body, time, log_id, index) = (
        p["body"].as_str().unwrap_or_default(),
        p["integratedTime"].as_i64().ok_or("bundle without integratedTime")?,
        p["logID"].as_str().unwrap_or_default(),
        p["logIndex"].as_i64().ok_or("bundle without logIndex")?,
    );
    let msg = super::tlog::set_message(body, time, log_id, index);
    let by_rekor = req.rekor_keys.iter().any(|pem| super::keys::verify_message(pem, msg.as_bytes(), &set).is_ok());
    if !by_rekor {
        return Err("the signed entry timestamp verifies with none of the Rekor keys".into());
    }
    // The logged entry must be this signature over this payload.
    let super::entry::Logged::Hashed { digest, signature, .. } =
        super::entry::Logged::read(body).map_err(|e| format!("Rekor entry: {e}"))?
    else {
        return Err("the Rekor entry is not a hashedrekord entry".into());
    };
    if signature != raw {
        return Err("signature in Rekor SET does not match the signature".into());
    }
    if digest[..] != Sha256::digest(&sig.payload)[..] {
        return Err("the Rekor entry is for another payload".into());
    }
    Ok(())
}
