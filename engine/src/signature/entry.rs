//! What a transparency-log entry says was signed, and whether that is this
//! bundle's signature. Rekor writes four entry shapes that Sigstore bundles
//! use: `hashedrekord` 0.0.1 (Rekor v1) and 0.0.2 (Rekor v2) — a signature
//! over a digest — and `dsse` 0.0.1 / `intoto` 0.0.2 — an envelope's
//! signatures and payload hash. A Rekor v2 DSSE entry is a `hashedrekord`
//! 0.0.2 over the envelope's PAE.
//!
//! The `sigstore` crate checks the binding for `hashedrekord` 0.0.1 and
//! `dsse` 0.0.1 only; [`Logged::binds`] checks all four, and
//! [`restate_for_crate`] rewrites an entry the crate cannot read into the
//! equivalent one it can, once the binding is proven here.

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Who the log says signed: a certificate (DER) or a public key (an EC
/// key's uncompressed point, so that encodings compare; other keys DER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    Certificate(Vec<u8>),
    Key(Vec<u8>),
}

impl Signer {
    /// A key from its DER SubjectPublicKeyInfo.
    pub fn key(spki: Vec<u8>) -> Signer {
        Signer::Key(super::keys::EcKey::from_spki_der(&spki).map(|k| k.sec1()).unwrap_or(spki))
    }
}

/// The signed content of a bundle.
pub enum Content<'a> {
    /// A signature over the artifact's SHA-256 digest.
    Message { digest: [u8; 32], signature: &'a [u8] },
    /// A DSSE envelope's (first) signature over PAE(payload type, payload);
    /// `raw`: the envelope's bytes as submitted to the log, when known.
    Envelope { payload_type: &'a str, payload: &'a [u8], signature: &'a [u8], raw: Option<&'a [u8]> },
}

/// DSSE pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A log entry body, read.
#[derive(Debug)]
pub enum Logged {
    /// `hashedrekord`: a signature over a SHA-256 digest.
    Hashed { digest: Vec<u8>, signature: Vec<u8>, signer: Signer },
    /// `dsse` / `intoto` 0.0.2: signatures over an envelope with this payload hash.
    Envelope { payload_sha256: Vec<u8>, signatures: Vec<(Vec<u8>, Signer)> },
    /// `intoto` 0.0.1: the hash of the envelope's bytes (which covers its
    /// signature), its payload hash and the signer.
    EnvelopeHash { envelope_sha256: Vec<u8>, payload_sha256: Vec<u8>, signer: Signer },
}

/// The PEM blocks of a text, `(label, DER)`, leniently: bodies may be on
/// one line or wrapped at any width.
pub fn pem_blocks(pem: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "not PEM text".to_string())?;
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    while let Some(line) = lines.next() {
        let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) else { continue };
        let body: String = lines.by_ref().take_while(|l| !l.starts_with("-----END ")).collect();
        let der = B64.decode(body).map_err(|e| format!("PEM `{label}` body is not base64: {e}"))?;
        out.push((label.to_string(), der));
    }
    Ok(out)
}

/// PEM (certificate or public key) → its DER and kind. Rekor stores PEM as
/// clients sent it, sometimes with the body on one line, which strict
/// RFC 7468 readers refuse; this one joins the body lines.
fn signer_from_pem(pem: &[u8]) -> Result<Signer, String> {
    let (label, der) = pem_blocks(pem)?.into_iter().next().ok_or("verifier is not PEM (no BEGIN line)")?;
    match label.as_str() {
        "CERTIFICATE" => Ok(Signer::Certificate(der)),
        "PUBLIC KEY" => Ok(Signer::key(der)),
        other => Err(format!("verifier PEM holds a `{other}`")),
    }
}

fn b64(v: &Value, what: &str) -> Result<Vec<u8>, String> {
    let s = v.as_str().ok_or_else(|| format!("{what} is missing"))?;
    B64.decode(s.trim()).map_err(|e| format!("{what} is not base64: {e}"))
}

fn hex_sha256(v: &Value, what: &str) -> Result<Vec<u8>, String> {
    if v["algorithm"].as_str() != Some("sha256") {
        return Err(format!("{what}.algorithm is not sha256"));
    }
    hex::decode(v["value"].as_str().unwrap_or_default()).map_err(|e| format!("{what}.value: {e}"))
}

impl Logged {
    /// Reads a `canonicalizedBody` (base64 JSON) of a known kind and version.
    pub fn read(body_b64: &str) -> Result<Logged, String> {
        let body: Value = serde_json::from_slice(&b64(&Value::from(body_b64), "canonicalizedBody")?)
            .map_err(|e| format!("canonicalizedBody is not JSON: {e}"))?;
        let kind = body["kind"].as_str().unwrap_or_default();
        let version = body["apiVersion"].as_str().unwrap_or_default();
        let spec = &body["spec"];
        match (kind, version) {
            ("hashedrekord", "0.0.1") => Ok(Logged::Hashed {
                digest: hex_sha256(&spec["data"]["hash"], "spec.data.hash")?,
                signature: b64(&spec["signature"]["content"], "spec.signature.content")?,
                signer: signer_from_pem(&b64(&spec["signature"]["publicKey"]["content"], "spec.signature.publicKey")?)?,
            }),
            ("hashedrekord", "0.0.2") => {
                let h = &spec["hashedRekordV002"];
                if h["data"]["algorithm"].as_str() != Some("SHA2_256") {
                    return Err("spec.hashedRekordV002.data.algorithm is not SHA2_256".into());
                }
                let v = &h["signature"]["verifier"];
                let signer = if !v["x509Certificate"].is_null() {
                    Signer::Certificate(b64(&v["x509Certificate"]["rawBytes"], "verifier.x509Certificate.rawBytes")?)
                } else {
                    Signer::key(b64(&v["publicKey"]["rawBytes"], "verifier.publicKey.rawBytes")?)
                };
                Ok(Logged::Hashed {
                    digest: b64(&h["data"]["digest"], "spec.hashedRekordV002.data.digest")?,
                    signature: b64(&h["signature"]["content"], "spec.hashedRekordV002.signature.content")?,
                    signer,
                })
            }
            ("dsse", "0.0.1") => {
                let signatures = spec["signatures"]
                    .as_array()
                    .ok_or("spec.signatures is missing")?
                    .iter()
                    .map(|s| {
                        Ok((b64(&s["signature"], "signature")?, signer_from_pem(&b64(&s["verifier"], "verifier")?)?))
                    })
                    .collect::<Result<_, String>>()?;
                Ok(Logged::Envelope {
                    payload_sha256: hex_sha256(&spec["payloadHash"], "spec.payloadHash")?,
                    signatures,
                })
            }
            ("intoto", "0.0.1") => Ok(Logged::EnvelopeHash {
                envelope_sha256: hex_sha256(&spec["content"]["hash"], "spec.content.hash")?,
                payload_sha256: hex_sha256(&spec["content"]["payloadHash"], "spec.content.payloadHash")?,
                signer: signer_from_pem(&b64(&spec["publicKey"], "spec.publicKey")?)?,
            }),
            ("intoto", "0.0.2") => {
                let content = &spec["content"];
                // Rekor has stored a signature both as base64 of the raw
                // signature and as base64 of the envelope's base64 text; a
                // DER signature is never base64 text, so the two cannot be
                // confused.
                let twice = |v: &Value, what: &str| -> Result<Vec<u8>, String> {
                    let once = b64(v, what)?;
                    Ok(B64.decode(once.trim_ascii()).unwrap_or(once))
                };
                let signatures = content["envelope"]["signatures"]
                    .as_array()
                    .ok_or("spec.content.envelope.signatures is missing")?
                    .iter()
                    .map(|s| Ok((twice(&s["sig"], "sig")?, signer_from_pem(&b64(&s["publicKey"], "publicKey")?)?)))
                    .collect::<Result<_, String>>()?;
                Ok(Logged::Envelope {
                    payload_sha256: hex_sha256(&content["payloadHash"], "spec.content.payloadHash")?,
                    signatures,
                })
            }
            _ => Err(format!("{kind} {version} log entries are not supported")),
        }
    }

    /// Whether this entry records `content` signed by `signer`; the reason
    /// when not.
    pub fn binds(&self, content: &Content, signer: &Signer) -> Result<(), String> {
        match (self, content) {
            (Logged::Hashed { digest, signature, signer: logged }, _) => {
                let (expected, sig, what) = match content {
                    Content::Message { digest, signature } => (digest.to_vec(), *signature, "the artifact"),
                    Content::Envelope { payload_type, payload, signature, .. } => {
                        (Sha256::digest(pae(payload_type, payload)).to_vec(), *signature, "the envelope")
                    }
                };
                if *digest != expected {
                    return Err(format!(
                        "the log entry is over sha256 {}, not {what} (sha256 {})",
                        hex::encode(digest),
                        hex::encode(&expected)
                    ));
                }
                if signature != sig {
                    return Err("the logged signature is not the bundle's".into());
                }
                if logged != signer {
                    return Err("the logged signer is not the bundle's".into());
                }
                Ok(())
            }
            (Logged::Envelope { payload_sha256, signatures }, Content::Envelope { payload, signature, .. }) => {
                if *payload_sha256 != Sha256::digest(payload).to_vec() {
                    return Err("the logged payload hash is not the envelope's payload".into());
                }
                if !signatures.iter().any(|(s, who)| s == signature && who == signer) {
                    return Err("the envelope's signature and signer are not among the logged ones".into());
                }
                Ok(())
            }
            (
                Logged::EnvelopeHash { envelope_sha256, payload_sha256, signer: logged },
                Content::Envelope { payload, raw, .. },
            ) => {
                let raw = raw
                    .ok_or("an intoto 0.0.1 entry binds the envelope's exact bytes, which this bundle does not keep")?;
                if *envelope_sha256 != Sha256::digest(raw).to_vec() {
                    return Err("the logged envelope hash is not this envelope's".into());
                }
                if *payload_sha256 != Sha256::digest(payload).to_vec() {
                    return Err("the logged payload hash is not the envelope's payload".into());
                }
                if logged != signer {
                    return Err("the logged signer is not the bundle's".into());
                }
                Ok(())
            }
            (Logged::Envelope { .. } | Logged::EnvelopeHash { .. }, Content::Message { .. }) => {
                Err("the log entry records an envelope, but the bundle holds a message signature".into())
            }
        }
    }
}
