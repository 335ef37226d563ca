//! Release artifacts: a file (or only its digest, `sha256:HEX`) judged by
//! what is given beside it — Sigstore bundles, SLSA provenance (a bundle,
//! or DSSE envelopes one per line as slsa-github-generator writes
//! `*.intoto.jsonl`), a cosign blob signature with its certificate.
//!
//! Each sidecar becomes signature material attached to the artifact's
//! digest; the `signatures` plugin verifies and judges it like material
//! attached to an image.

use super::{Input, InputError, InputFormat};
use crate::digest::Digest;
use crate::evidence::{ArtifactEvidence, Evidence, Subject, SubjectKind};
use crate::signature::material::{BLOB_SIGNATURE, CERTIFICATE, Material, SIGNATURE};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Files given beside a release artifact.
#[derive(Debug, Clone, Default)]
pub struct Sidecars {
    /// Sigstore bundles (`cosign sign-blob --bundle`, `*.sigstore.json`).
    pub bundles: Vec<PathBuf>,
    /// SLSA provenance: a bundle, or DSSE envelopes (one JSON per line).
    pub provenance: Vec<PathBuf>,
    /// A cosign blob signature (base64 or raw) ...
    pub signature: Option<PathBuf>,
    /// ... and its signing certificate (PEM), for keyless signatures.
    pub certificate: Option<PathBuf>,
}

impl Sidecars {
    pub fn is_empty(&self) -> bool {
        self.bundles.is_empty() && self.provenance.is_empty() && self.signature.is_none()
    }
}

/// Largest sidecar read.
const MAX_SIDECAR_BYTES: u64 = 16 << 20;

fn read(path: &Path) -> Result<Vec<u8>, InputError> {
    let meta = std::fs::metadata(path).map_err(|e| InputError::new(path, format!("cannot read: {e}")))?;
    if meta.len() > MAX_SIDECAR_BYTES {
        return Err(InputError::new(path, format!("is {} bytes, over the {MAX_SIDECAR_BYTES}-byte limit", meta.len())));
    }
    std::fs::read(path).map_err(|e| InputError::new(path, format!("cannot read: {e}")))
}

const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// A bundle or DSSE envelope, told apart by its fields.
fn json_material(path: &Path, origin: String, bytes: Vec<u8>, target: &Digest) -> Result<Material, InputError> {
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| InputError::new(path, format!("is not JSON: {e}")))?;
    let media_type = if v
        .get("mediaType")
        .and_then(|m| m.as_str())
        .is_some_and(|m| m.starts_with("application/vnd.dev.sigstore.bundle"))
    {
        BUNDLE_MEDIA_TYPE
    } else if v.get("payloadType").is_some() && v.get("signatures").is_some() {
        crate::signature::cosign::DSSE
    } else {
        return Err(InputError::new(path, "is neither a Sigstore bundle nor a DSSE envelope"));
    };
    Ok(Material {
        origin,
        target: target.clone(),
        media_type: media_type.into(),
        content: bytes,
        annotations: Default::default(),
    })
}

/// Opens a release artifact (`FILE` or `sha256:HEX`) with its sidecars.
pub fn open(spec: &str, sidecars: &Sidecars) -> Result<Input, InputError> {
    let spec_path = Path::new(spec);
    let digest = match spec.strip_prefix("sha256:") {
        Some(_) => Digest::parse(spec).map_err(|e| InputError::new(spec_path, e))?,
        None => {
            let d =
                Digest::sha256_file(spec_path).map_err(|e| InputError::new(spec_path, format!("cannot read: {e}")))?;
            Digest::parse(&format!("sha256:{}", hex::encode(d))).expect("a sha256 digest")
        }
    };
    let mut materials = Vec::new();
    for path in &sidecars.bundles {
        materials.push(json_material(path, format!("bundle:{}", path.display()), read(path)?, &digest)?);
    }
    for path in &sidecars.provenance {
        let bytes = read(path)?;
        // slsa-github-generator writes `.intoto.jsonl`: one envelope per line.
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.len() > 1 && lines.iter().all(|l| l.trim_start().starts_with('{')) {
            for (i, line) in lines.iter().enumerate() {
                let origin = format!("provenance:{}#{}", path.display(), i + 1);
                materials.push(json_material(path, origin, line.as_bytes().to_vec(), &digest)?);
            }
        } else {
            materials.push(json_material(path, format!("provenance:{}", path.display()), bytes, &digest)?);
        }
    }
    if let Some(path) = &sidecars.signature {
        let raw = read(path)?;
        // cosign writes the signature base64-encoded; accept raw DER too.
        let text = String::from_utf8_lossy(&raw).trim().to_string();
        let b64 = if base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &text).is_ok() {
            text
        } else {
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &raw)
        };
        let mut annotations = std::collections::BTreeMap::from([(SIGNATURE.to_string(), b64)]);
        if let Some(cert) = &sidecars.certificate {
            let pem = read(cert)?;
            annotations.insert(CERTIFICATE.to_string(), String::from_utf8_lossy(&pem).into_owned());
        }
        materials.push(Material {
            origin: format!("signature:{}", path.display()),
            target: digest.clone(),
            media_type: BLOB_SIGNATURE.into(),
            content: Vec::new(),
            annotations,
        });
    } else if sidecars.certificate.is_some() {
        return Err(InputError::new(spec_path, "--certificate needs --signature"));
    }
    let subject = Subject {
        kind: SubjectKind::Artifact,
        reference: spec.to_string(),
        repository: None,
        digest,
        media_type: "application/octet-stream".into(),
        platform: None,
        parent_index: None,
    };
    Ok(Input {
        path: spec_path.to_path_buf(),
        format: InputFormat::Artifact,
        evidence: vec![Evidence::Artifact(ArtifactEvidence { subject, signatures: Arc::new(materials) })],
        notes: Vec::new(),
    })
}
