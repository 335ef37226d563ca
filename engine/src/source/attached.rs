//! What is attached to images inside a layout — SBOMs, signatures and
//! attestations — found, read and offered as evidence to the image they are
//! attached to.
//!
//! Four attachment conventions are understood:
//! - OCI 1.1 referrers: an artifact manifest whose `subject` is the image
//!   (`oras attach`, `cosign attach --registry-referrers-mode oci-1-1`);
//! - cosign's tag scheme: `sha256-<hex>.sig` (`cosign sign`),
//!   `sha256-<hex>.sbom` (`cosign attach sbom`) and `sha256-<hex>.att`
//!   (`cosign attest`, DSSE envelopes per layer);
//! - `cosign save` layouts: the image and its `sigs`/`atts` side by side in
//!   `index.json`, told apart by `kind: dev.cosignproject.cosign/*`;
//! - Docker buildx attestation manifests inside an index
//!   (`vnd.docker.reference.type: attestation-manifest`, bare in-toto
//!   statements per layer, `--sbom=true`).
//!
//! SBOM layers are SBOM documents themselves, or in-toto statements (bare,
//! in a DSSE envelope or in a Sigstore bundle) whose predicate is an SBOM;
//! the statement's subject digests bind the SBOM to the image, together
//! with what the document inside describes (see `sbom::binding`; the SBOM
//! rules do not check signatures). Signature and attestation layers are kept
//! as found ([`Material`]) for the `signatures` plugin to have verified.

use super::read_blob;
use crate::attestation;
use crate::blob::Container;
use crate::digest::Digest;
use crate::evidence::Evidence;
use crate::oci::{self, Descriptor, media_type};
use crate::sbom::{self, Attached, Document, Problem};
use crate::signature::material::{Material, is_material_media_type};
use std::sync::Arc;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const DOCKER_REFERENCE_TYPE: &str = "vnd.docker.reference.type";
const DOCKER_REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";

/// An attachment manifest (read once: parsed, or why it could not be) and
/// the digest of what it is attached to.
struct Candidate {
    descriptor: Descriptor,
    manifest: Result<oci::Manifest, String>,
    target: String,
    kind: &'static str,
}

fn read_manifest(c: &dyn Container, d: &Descriptor) -> Result<oci::Manifest, String> {
    read_blob(c, &d.digest, Some(d.size), oci::MAX_MANIFEST_BYTES, "manifest")
        .and_then(|b| oci::parse_manifest(&b).map_err(|e| format!("manifest {}: {e}", d.digest)))
}

const COSIGN_KIND: &str = "kind";

/// Whether a top-level layout entry is an attachment (cosign signature,
/// attestation or SBOM, by tag or as `cosign save` writes them) rather
/// than an image to evaluate.
pub(super) fn is_attachment(d: &Descriptor) -> bool {
    d.annotation(REF_NAME).is_some_and(|n| cosign_tag_target(n).is_some())
        || d.annotation(COSIGN_KIND).is_some_and(|k| {
            matches!(
                k,
                "dev.cosignproject.cosign/atts" | "dev.cosignproject.cosign/sigs" | "dev.cosignproject.cosign/sboms"
            )
        })
}

/// `sha256-<hex>.sbom` / `.att` / `.sig` → `sha256:<hex>`.
fn cosign_tag_target(name: &str) -> Option<String> {
    let stem =
        name.strip_suffix(".sbom").or_else(|| name.strip_suffix(".att")).or_else(|| name.strip_suffix(".sig"))?;
    let (alg, hex) = stem.split_once('-')?;
    (alg == "sha256" && hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("sha256:{hex}"))
}

fn candidates(c: &dyn Container, top: &[Descriptor]) -> Vec<Candidate> {
    let mut out = Vec::new();
    // `cosign save` writes the image and its signatures/attestations side
    // by side in index.json, told apart by a `kind` annotation.
    let saved_image = top.iter().find(|d| {
        matches!(
            d.annotation(COSIGN_KIND),
            Some("dev.cosignproject.cosign/image" | "dev.cosignproject.cosign/imageIndex")
        )
    });
    for d in top {
        if let (
            Some(image),
            Some("dev.cosignproject.cosign/atts" | "dev.cosignproject.cosign/sigs" | "dev.cosignproject.cosign/sboms"),
        ) = (saved_image, d.annotation(COSIGN_KIND))
        {
            let manifest = read_manifest(c, d);
            out.push(Candidate {
                descriptor: d.clone(),
                manifest,
                target: image.digest.to_string(),
                kind: "cosign-save",
            });
        }
    }
    let mut stack: Vec<(Descriptor, usize)> = top.iter().map(|d| (d.clone(), 0)).collect();
    while let Some((d, depth)) = stack.pop() {
        if media_type::is_index(&d.media_type) {
            if depth < 4
                && let Ok(index) = read_blob(c, &d.digest, Some(d.size), oci::MAX_MANIFEST_BYTES, "index")
                    .and_then(|b| oci::parse_index(&b).map_err(|e| e.to_string()))
            {
                stack.extend(index.manifests.into_iter().map(|m| (m, depth + 1)));
            }
            continue;
        }
        if let Some(target) = d.annotation(REF_NAME).and_then(cosign_tag_target) {
            let manifest = read_manifest(c, &d);
            out.push(Candidate { descriptor: d, manifest, target, kind: "cosign-tag" });
            continue;
        }
        if d.annotation(DOCKER_REFERENCE_TYPE) == Some("attestation-manifest")
            && let Some(target) = d.annotation(DOCKER_REFERENCE_DIGEST).map(str::to_owned)
        {
            let manifest = read_manifest(c, &d);
            out.push(Candidate { descriptor: d, manifest, target, kind: "buildx-attestation" });
            continue;
        }
        // A referrer says so in its own manifest: read manifests that are not images.
        if media_type::is_manifest(&d.media_type)
            && let Ok(m) = read_manifest(c, &d)
            && let Some(target) = m.subject.as_ref().map(|s| s.digest.to_string())
        {
            out.push(Candidate { descriptor: d, manifest: Ok(m), target, kind: "referrer" });
        }
    }
    out
}

/// Reads the SBOMs of one attachment manifest.
fn read_attachment(c: &dyn Container, cand: &Candidate) -> (Vec<Document>, Vec<Problem>) {
    let origin = format!("{}:{}", cand.kind, cand.descriptor.digest);
    let mut docs = Vec::new();
    let mut problems = Vec::new();
    let manifest = match &cand.manifest {
        Ok(m) => m,
        Err(message) => return (docs, vec![Problem { origin, message: message.clone() }]),
    };
    let artifact_is_sbom = manifest.artifact_type.as_deref().is_some_and(sbom::is_sbom_media_type)
        || sbom::is_sbom_media_type(&manifest.config.media_type);
    for layer in &manifest.layers {
        let mt = layer.media_type.as_str();
        let is_sbom = sbom::is_sbom_media_type(mt) || (artifact_is_sbom && manifest.layers.len() == 1);
        if !is_sbom && !attestation::is_attestation_media_type(mt) {
            continue;
        }
        let origin = format!("{origin}/{}", layer.digest);
        let bytes = match read_blob(c, &layer.digest, Some(layer.size), sbom::DEFAULT_MAX_BYTES, "attachment") {
            Ok(b) => b,
            Err(message) => {
                problems.push(Problem { origin, message });
                continue;
            }
        };
        if is_sbom {
            match sbom::parse(&bytes) {
                Ok(s) => docs.push(Document::new(origin, s, None)),
                Err(e) => problems.push(Problem { origin, message: e.to_string() }),
            }
            continue;
        }
        let statement = match attestation::statement(mt, &bytes) {
            Ok(s) => s,
            Err(message) => {
                problems.push(Problem { origin, message });
                continue;
            }
        };
        if !sbom::is_sbom_predicate(&statement.predicate_type) {
            continue; // provenance, vulnerability scans...: not SBOMs
        }
        let parsed = serde_json::to_vec(&statement.predicate)
            .map_err(|e| sbom::SbomError::Parse { message: e.to_string() })
            .and_then(|b| sbom::parse(&b));
        match parsed {
            Ok(s) => docs.push(Document {
                // The material read from the same layer has this origin
                // (`read_materials`): its signature covers the document.
                attested_by: Some(origin.clone()),
                ..Document::new(
                    format!("{origin} ({}, signature not checked)", statement.predicate_type),
                    s,
                    Some(statement.subject_digests()),
                )
            }),
            Err(e) => {
                problems.push(Problem { origin, message: format!("{} predicate: {e}", statement.predicate_type) })
            }
        }
    }
    (docs, problems)
}

/// The signature and attestation layers of one attachment manifest.
fn read_materials(c: &dyn Container, cand: &Candidate, target: &Digest, notes: &mut Vec<String>) -> Vec<Material> {
    let Ok(manifest) = &cand.manifest else { return Vec::new() };
    let mut out = Vec::new();
    for layer in manifest.layers.iter().filter(|l| is_material_media_type(&l.media_type)) {
        let origin = format!("{}:{}/{}", cand.kind, cand.descriptor.digest, layer.digest);
        match read_blob(c, &layer.digest, Some(layer.size), MAX_MATERIAL_BYTES, "signature") {
            Ok(content) => out.push(Material {
                origin,
                target: target.clone(),
                media_type: layer.media_type.clone(),
                content,
                annotations: layer.annotations.clone().unwrap_or_default(),
            }),
            Err(e) => notes.push(format!("{origin}: {e}")),
        }
    }
    out
}

/// Largest signature or attestation layer read.
const MAX_MATERIAL_BYTES: u64 = 16 << 20;

/// Finds the SBOMs, signatures and attestations attached to images of a
/// layout and offers each to the image (or every image of the index) it is
/// attached to.
pub(super) fn discover(c: &dyn Container, top: &[Descriptor], evidence: &mut [Evidence], notes: &mut Vec<String>) {
    for cand in candidates(c, top) {
        let Ok(target) = Digest::parse(&cand.target) else {
            notes
                .push(format!("{} {}: attached to `{}`, not a digest", cand.kind, cand.descriptor.digest, cand.target));
            continue;
        };
        let materials = read_materials(c, &cand, &target, notes);
        if !materials.is_empty() {
            for e in evidence.iter_mut() {
                if let Evidence::Image(i) = e
                    && (i.subject.digest == target || i.subject.parent_index.as_ref() == Some(&target))
                {
                    Arc::make_mut(&mut i.signatures).extend(materials.iter().cloned());
                }
            }
        }
        let (docs, problems) = read_attachment(c, &cand);
        if docs.is_empty() && problems.is_empty() {
            continue;
        }
        let found = Attached { documents: docs.into_iter().map(Arc::new).collect(), problems };
        let mut attached = false;
        for e in evidence.iter_mut() {
            if let Evidence::Image(i) = e
                && (i.subject.digest == target || i.subject.parent_index.as_ref() == Some(&target))
            {
                let identity = super::sbom_identity(i);
                Arc::make_mut(&mut i.sboms).offer(&found, &identity);
                attached = true;
            }
        }
        if !attached {
            notes.push(format!(
                "{} {} is attached to {target}, which is not an image of this input",
                cand.kind, cand.descriptor.digest
            ));
        }
    }
}
