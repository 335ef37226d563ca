//! cosign simple-signing signatures made in tests with a fixed P-256 key,
//! attached to a layout by cosign's tag scheme (`sha256-<hex>.sig`).

use serde_json::{Value, json};
use sha2::Digest as _;
use std::path::Path;

/// Writes a blob into a layout; returns its descriptor fields.
pub fn add_blob(layout: &Path, bytes: &[u8]) -> (String, usize) {
    let hex = hex::encode(sha2::Sha256::digest(bytes));
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).unwrap();
    (format!("sha256:{hex}"), bytes.len())
}

pub fn index_of(layout: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap()
}

/// A fixed P-256 key (deterministic RFC 6979 signatures: reproducible tests).
pub fn key_pair(seed: u8) -> (p256::ecdsa::SigningKey, String) {
    use p256::pkcs8::EncodePublicKey as _;
    let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
    let pem = sk.verifying_key().to_public_key_pem(p256::pkcs8::LineEnding::LF).unwrap();
    (sk, pem)
}

/// Signs `digest` cosign-style and attaches the signature by tag.
pub fn sign(layout: &Path, digest: &str, sk: &p256::ecdsa::SigningKey, optional: Value) {
    use p256::ecdsa::signature::Signer as _;
    let payload = serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": "example.test/app"},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": optional
    }))
    .unwrap();
    let sig: p256::ecdsa::Signature = sk.sign(&payload);
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sig.to_der().as_bytes());
    let (payload_digest, payload_size) = add_blob(layout, &payload);
    let (config_digest, config_size) = add_blob(layout, b"{}");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": payload_digest,
            "size": payload_size,
            "annotations": {"dev.cosignproject.cosign/signature": b64}
        }]
    });
    let (md, ms) = add_blob(layout, &serde_json::to_vec(&manifest).unwrap());
    let mut index = index_of(layout);
    index["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": md,
        "size": ms,
        "annotations": {"org.opencontainers.image.ref.name": format!("{}.sig", digest.replace(':', "-"))}
    }));
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

