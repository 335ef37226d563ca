//! Signatures and attestations found attached to an image (cosign `.sig` /
//! `.att` tags, OCI referrers, `cosign save` layouts), kept as found and
//! verified on demand against the trusted root or a given key.
//!
//! Three shapes are understood: cosign simple-signing layers (a payload
//! naming the manifest digest, the signature in an annotation), DSSE
//! envelopes (cosign attestations: an in-toto statement whose subject is
//! the image), and Sigstore bundles (either of the two, self-contained).
//! Keyless material is verified as a Sigstore bundle: cosign's annotations
//! (certificate, Rekor SET) are restated as one ([`super::cosign::keyless_bundle`]).

use super::bundle::{self, Expectation};
use super::cosign::{self, CosignSignature, DSSE, SIMPLE_SIGNING};
use super::identity::{Identity, Matcher};
use super::trust::TrustRoot;
use crate::digest::Digest;
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// One signature or attestation layer, unverified.
#[derive(Debug, Clone)]
pub struct Material {
    /// Where it was found: `cosign-tag:sha256:…/sha256:…`.
    pub origin: String,
    /// The digest it is attached to.
    pub target: Digest,
    pub media_type: String,
    pub content: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

/// What kind of material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// cosign simple signing: a signature over the image's manifest digest.
    Signature,
    /// An in-toto statement about the image (DSSE, possibly in a bundle).
    Attestation,
}

/// What verifying material established.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signing certificate (DER), keyless only.
    pub certificate: Option<Vec<u8>>,
    /// The in-toto statement (attestations only).
    pub statement: Option<Vec<u8>>,
    /// The simple-signing payload's `optional` annotations (signatures only).
    pub annotations: BTreeMap<String, String>,
}

/// A cosign blob signature given beside a release artifact
/// (`cosign sign-blob --output-signature [--output-certificate]`): the
/// signature and certificate are in the annotations, the content is empty.
pub const BLOB_SIGNATURE: &str = "application/vnd.portcullis.blob-signature";
pub use super::cosign::{CERTIFICATE, SIGNATURE};

pub fn is_material_media_type(mt: &str) -> bool {
    mt == SIMPLE_SIGNING || mt == DSSE || mt.starts_with("application/vnd.dev.sigstore.bundle")
}

fn any_identity() -> Identity {
    Identity { san: Matcher::regex(".*").expect("valid"), issuer: Matcher::regex(".*").expect("valid") }
}

impl Material {
    pub fn kind(&self) -> Kind {
        if self.media_type == SIMPLE_SIGNING || self.media_type == BLOB_SIGNATURE {
            return Kind::Signature;
        }
        if self.media_type == DSSE {
            return Kind::Attestation;
        }
        // A bundle says which by its content.
        let v: Value = serde_json::from_slice(&self.content).unwrap_or_default();
        if v.get("dsseEnvelope").is_some() { Kind::Attestation } else { Kind::Signature }
    }

    /// The target's SHA-256, the digest signatures and statements bind.
    fn target_sha256(&self) -> Result<[u8; 32], String> {
        (self.target.algorithm() == "sha256")
            .then(|| hex::decode(self.target.encoded()).ok())
            .flatten()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| format!("{} is not a sha256 digest", self.target))
    }

    fn cosign(&self) -> CosignSignature {
        CosignSignature {
            media_type: self.media_type.clone(),
            payload: self.content.clone(),
            annotations: self.annotations.clone(),
        }
    }

    /// The simple-signing payload's claims: it signs `target`, and its
    /// optional annotations.
    fn simple_signing_claims(&self, payload: &[u8]) -> Result<BTreeMap<String, String>, String> {
        let v: Value = serde_json::from_slice(payload).map_err(|e| format!("payload: {e}"))?;
        let signed = v.pointer("/critical/image/docker-manifest-digest").and_then(Value::as_str).unwrap_or_default();
        if signed != self.target.as_str() {
            return Err(format!("the signature is for {signed}, not for {}", self.target));
        }
        Ok(v["optional"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Verifies keyless material against the trusted root: certificate chain
    /// to a Fulcio CA, SCT, Rekor entry and its proofs, signature, and the
    /// binding to the image. The identity is returned, not judged: policy
    /// decides which identities it accepts.
    pub fn verify_keyless(&self, root: &TrustRoot) -> Result<Verified, String> {
        let target = self.target_sha256()?;
        if self.media_type == BLOB_SIGNATURE {
            return Err(
                "a blob signature and certificate alone cannot be verified offline: its Rekor entry is not given (pass the Sigstore bundle: `cosign sign-blob --bundle`)"
                    .into(),
            );
        }
        if self.media_type == DSSE && !self.annotations.contains_key(CERTIFICATE) {
            return Err(
                "a bare DSSE envelope carries no transparency-log proof: verifying it needs an online Rekor search (provide a Sigstore bundle)"
                    .into(),
            );
        }
        let (bundle_bytes, digest, raw) = if self.media_type.starts_with("application/vnd.dev.sigstore.bundle") {
            (self.content.clone(), target, None)
        } else if self.media_type == DSSE {
            (cosign::keyless_bundle(&self.cosign())?, target, Some(&self.content[..]))
        } else {
            (cosign::keyless_bundle(&self.cosign())?, Sha256::digest(&self.content).into(), None)
        };
        let v = bundle::verify_with_envelope(&bundle_bytes, digest, &Expectation::Identity(any_identity()), root, raw)
            .map_err(|e| e.to_string())?;
        let mut annotations = BTreeMap::new();
        if self.media_type == SIMPLE_SIGNING {
            annotations = self.simple_signing_claims(&self.content)?;
        }
        Ok(Verified { certificate: v.certificate, statement: v.envelope.map(|(_, p)| p), annotations })
    }

    /// Verifies a cosign signature made with a certificate a private CA
    /// issued (bring-your-own PKI, no transparency log): the certificate
    /// and chain annotations, the CA's roots and intermediates, the
    /// expected signer, validity now. Attestations are not signed this way
    /// by cosign's keyless flow and are refused.
    pub fn verify_with_ca(&self, pki: &super::pki::Pki) -> Result<Verified, String> {
        if self.media_type != SIMPLE_SIGNING {
            return Err(format!("`{}` material is not a cosign signature a private CA can vouch for", self.media_type));
        }
        let req = cosign::Requirements { keys: Vec::new(), rekor_keys: Vec::new(), pki: Some(pki.clone()) };
        cosign::verify(&self.cosign(), self.target.as_str(), &req)?;
        let cert = self.annotations.get(CERTIFICATE).map(|c| super::entry::pem_blocks(c.as_bytes()));
        let certificate = cert.and_then(Result::ok).and_then(|b| b.into_iter().next()).map(|(_, der)| der);
        Ok(Verified { certificate, statement: None, annotations: self.simple_signing_claims(&self.content)? })
    }

    /// Verifies key-signed material with a PEM public key (ECDSA, RSA,
    /// Ed25519): simple signing over the payload, DSSE over its PAE, a blob
    /// signature over the artifact's digest, or a managed-key Sigstore
    /// bundle (whose log entry is checked against `root`).
    pub fn verify_with_key(&self, pem: &[u8], root: &TrustRoot) -> Result<Verified, String> {
        if self.media_type.starts_with("application/vnd.dev.sigstore.bundle") {
            let target = self.target_sha256()?;
            let v = bundle::verify(&self.content, target, &Expectation::Key(pem.to_vec()), root)
                .map_err(|e| e.to_string())?;
            return Ok(Verified {
                certificate: None,
                statement: v.envelope.map(|(_, p)| p),
                annotations: BTreeMap::new(),
            });
        }
        match self.media_type.as_str() {
            SIMPLE_SIGNING => {
                let req = cosign::Requirements { keys: vec![pem.to_vec()], rekor_keys: Vec::new(), pki: None };
                cosign::verify(&self.cosign(), self.target.as_str(), &req)?;
                Ok(Verified {
                    certificate: None,
                    statement: None,
                    annotations: self.simple_signing_claims(&self.content)?,
                })
            }
            DSSE => {
                let env: Value = serde_json::from_slice(&self.content).map_err(|e| format!("DSSE envelope: {e}"))?;
                let b64 = base64::engine::general_purpose::STANDARD;
                let payload =
                    b64.decode(env["payload"].as_str().unwrap_or_default()).map_err(|e| format!("payload: {e}"))?;
                let payload_type = env["payloadType"].as_str().unwrap_or_default();
                let pae = super::entry::pae(payload_type, &payload);
                let sigs = env["signatures"].as_array().map(Vec::as_slice).unwrap_or_default();
                let ok = sigs.iter().any(|s| {
                    b64.decode(s["sig"].as_str().unwrap_or_default())
                        .is_ok_and(|sig| super::keys::verify_message(pem, &pae, &sig).is_ok())
                });
                if !ok {
                    return Err(format!("none of the envelope's {} signature(s) verifies with the key", sigs.len()));
                }
                let st = crate::attestation::statement(DSSE, &self.content)?;
                if !st.subject_digests().iter().any(|d| d == self.target.as_str()) {
                    return Err(format!("the statement is not about {}", self.target));
                }
                Ok(Verified { certificate: None, statement: Some(payload), annotations: BTreeMap::new() })
            }
            BLOB_SIGNATURE => {
                // The artifact may be known by its digest only: ECDSA and
                // RSA signatures verify from the SHA-256.
                let b64 = base64::engine::general_purpose::STANDARD;
                let sig = self.annotations.get(SIGNATURE).map(|s| b64.decode(s.trim())).transpose();
                let sig = sig.map_err(|e| format!("signature is not base64: {e}"))?.ok_or("no signature")?;
                super::keys::verify_sha256(pem, &self.target_sha256()?, &sig)?;
                Ok(Verified { certificate: None, statement: None, annotations: BTreeMap::new() })
            }
            other => Err(format!("`{other}` material cannot be verified with a key")),
        }
    }
}
