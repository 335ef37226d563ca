//! What a manifest push is, and so whether it must be judged before it is
//! forwarded. Only a tag makes an image pullable by a name someone else will
//! use; everything else that can be pushed (a push by digest, a referrer, a
//! cosign signature under its `sha256-<hex>.sig` tag, a referrers-schema
//! index) is let through — but only when it really is what its name says: a
//! runnable image under a signature's tag is refused, never forwarded.
//!
//! "Runnable" is decided the way the runtimes decide what they can unpack:
//! an index (a runtime picks a platform from it), or a manifest with a layer
//! whose media type containerd unpacks as a filesystem layer. Cosign
//! signatures, attestations, SBOM artifacts and BuildKit attestation
//! manifests carry other layer types and are not runnable.
//!
//! An OCI artifact (an SBOM, a chart, a WebAssembly plugin pushed with
//! `oras`) under an ordinary tag is forwarded too, when it is plainly not an
//! image: no index, no image config, no filesystem layer. Admission still
//! refuses to run it (`serve` finds no container image in it).

use crate::digest::Digest;
use crate::oci::{self, media_type};

/// How a `PUT /v2/<name>/manifests/<reference>` is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// Pushed by digest with no tag: nothing can pull it by a name yet.
    ByDigest,
    /// A manifest with a `subject`, pushed by digest: a referrer.
    Referrer,
    /// A cosign attachment under `sha256-<hex>.sig|.att|.sbom`, and not a
    /// runnable image.
    Attachment { tag: String },
    /// An OCI artifact under an ordinary tag (an SBOM, a Helm chart, a
    /// WebAssembly plugin pushed with `oras`): neither an index, nor an
    /// image config, nor a filesystem layer, so no runtime can run it.
    Artifact { tags: Vec<String> },
    /// An index under the referrers tag schema `sha256-<hex>`; its entries
    /// must be checked to be non-runnable artifacts before it is forwarded.
    ReferrersIndex { tag: String, entries: Vec<Digest> },
    /// A tag: the image is judged before the tag may exist.
    Tag { tags: Vec<String> },
    /// Refused whatever the policy says, with the reason.
    Refused(String),
}

/// The parts of a manifest request path: `/v2/<name>/manifests/<reference>`.
pub fn manifest_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v2/")?;
    let (name, reference) = rest.rsplit_once("/manifests/")?;
    (!name.is_empty() && !reference.is_empty() && !reference.contains('/')).then_some((name, reference))
}

/// Classifies a manifest push: `reference` from the path, `query_tags` the
/// `?tag=` parameters (distribution spec end-7b), `body` the exact bytes.
pub fn classify(reference: &str, query_tags: &[String], body: &[u8]) -> Push {
    let by_digest = reference.contains(':');
    if by_digest && let Err(e) = Digest::parse(reference).and_then(|d| d.verify(body).map_err(|e| e.to_string())) {
        return Push::Refused(format!("manifest pushed as {reference}: {e}"));
    }
    let mut tags: Vec<String> = query_tags.to_vec();
    if !by_digest {
        tags.insert(0, reference.to_string());
    }
    let doc = match Doc::read(body) {
        Ok(doc) => doc,
        // Unreadable documents under a tag are judged (and so denied with
        // the parser's reason); by digest the registry validates them.
        Err(e) if !tags.is_empty() => return Push::Refused(format!("manifest is not readable: {e}")),
        Err(_) => return Push::ByDigest,
    };
    if tags.is_empty() {
        return if doc.subject { Push::Referrer } else { Push::ByDigest };
    }
    let mut reserved = Vec::new();
    for tag in &tags {
        match reserved_tag(tag) {
            Some(Reserved::Cosign) if doc.runnable() => {
                return Push::Refused(format!(
                    "tag {tag} is reserved for signatures, attestations and SBOMs, and this manifest is a runnable \
                     image; push images under their own tags"
                ));
            }
            Some(Reserved::Referrers) => match &doc.kind {
                Kind::Index(entries) => reserved.push(Push::ReferrersIndex {
                    tag: tag.clone(),
                    entries: entries.iter().map(|e| e.digest.clone()).collect(),
                }),
                _ => {
                    return Push::Refused(format!(
                        "tag {tag} is the referrers tag schema; only an index of referrers may be pushed under it"
                    ));
                }
            },
            Some(Reserved::Cosign) => reserved.push(Push::Attachment { tag: tag.clone() }),
            None => {}
        }
    }
    // One manifest pushed under both kinds of name is judged as an image.
    if reserved.len() == tags.len() && reserved.len() == 1 {
        return reserved.remove(0);
    }
    if reserved.is_empty() && doc.artifact() {
        return Push::Artifact { tags };
    }
    Push::Tag { tags }
}

enum Reserved {
    Cosign,
    Referrers,
}

/// `sha256-<64 hex>` (referrers schema) or that plus `.sig`/`.att`/`.sbom`.
fn reserved_tag(tag: &str) -> Option<Reserved> {
    let (alg, rest) = tag.split_once('-')?;
    if !matches!(alg, "sha256" | "sha512") {
        return None;
    }
    let (hex, suffix) = rest.split_once('.').map_or((rest, None), |(h, s)| (h, Some(s)));
    let want = if alg == "sha256" { 64 } else { 128 };
    if hex.len() != want || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match suffix {
        None => Some(Reserved::Referrers),
        Some("sig" | "att" | "sbom") => Some(Reserved::Cosign),
        Some(_) => None,
    }
}

/// A manifest or index, as far as classification needs it.
pub struct Doc {
    kind: Kind,
    subject: bool,
}

enum Kind {
    Index(Vec<oci::Descriptor>),
    Manifest { config: String, layers: Vec<String> },
}

impl Doc {
    pub fn read(body: &[u8]) -> Result<Doc, String> {
        let mt = oci::sniff_media_type(body).unwrap_or_default();
        if media_type::is_index(&mt) {
            let index = oci::parse_index(body).map_err(|e| e.to_string())?;
            Ok(Doc { subject: index.subject.is_some(), kind: Kind::Index(index.manifests) })
        } else {
            let m = oci::parse_manifest(body).map_err(|e| e.to_string())?;
            Ok(Doc {
                subject: m.subject.is_some(),
                kind: Kind::Manifest {
                    config: m.config.media_type,
                    layers: m.layers.into_iter().map(|l| l.media_type).collect(),
                },
            })
        }
    }

    /// Whether a runtime would run it.
    pub fn runnable(&self) -> bool {
        match &self.kind {
            Kind::Index(_) => true,
            Kind::Manifest { layers, .. } => layers.iter().any(|mt| is_filesystem_layer(mt)),
        }
    }

    /// Whether it is an OCI artifact no runtime would take for an image:
    /// stricter than not [`Doc::runnable`], since an image config with no
    /// layer still starts a container (its entrypoint from a volume), and
    /// cosign's signature manifests carry an image config.
    pub fn artifact(&self) -> bool {
        match &self.kind {
            Kind::Index(_) => false,
            Kind::Manifest { config, layers } => {
                !media_type::is_image_config(config.trim().to_ascii_lowercase().as_str())
                    && !layers.iter().any(|mt| is_filesystem_layer(mt))
            }
        }
    }
}

/// Media types containerd unpacks as filesystem layers (with any
/// compression suffix, distributable or not).
pub fn is_filesystem_layer(mt: &str) -> bool {
    const PREFIXES: [&str; 4] = [
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.foreign.diff.tar",
    ];
    let mt = mt.trim().to_ascii_lowercase();
    PREFIXES.iter().any(|p| {
        mt.strip_prefix(p).is_some_and(|rest| rest.is_empty() || rest.starts_with('+') || rest.starts_with('.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(layer_type: &str, subject: bool) -> Vec<u8> {
        let d = format!("sha256:{}", "a".repeat(64));
        let mut m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "config": {"mediaType": media_type::OCI_CONFIG, "digest": d, "size": 2},
            "layers": [{"mediaType": layer_type, "digest": d, "size": 2}],
        });
        if subject {
            m["subject"] = serde_json::json!({"mediaType": media_type::OCI_MANIFEST, "digest": d, "size": 2});
        }
        serde_json::to_vec(&m).unwrap()
    }

    const IMAGE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    const SIGNATURE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

    #[test]
    fn only_a_name_someone_pulls_is_judged() {
        let image = manifest(IMAGE, false);
        let digest = Digest::sha256(&image).to_string();
        assert_eq!(classify(&digest, &[], &image), Push::ByDigest);
        assert_eq!(classify("v1", &[], &image), Push::Tag { tags: vec!["v1".into()] });
        assert_eq!(classify(&digest, &["v1".into()], &image), Push::Tag { tags: vec!["v1".into()] });
        let referrer = manifest(SIGNATURE, true);
        assert_eq!(classify(&Digest::sha256(&referrer).to_string(), &[], &referrer), Push::Referrer);
        // A referrer with an image config under a tag is judged like any
        // tagged manifest.
        assert!(matches!(classify("v1", &[], &referrer), Push::Tag { .. }));
    }

    #[test]
    fn an_artifact_under_a_tag_passes_and_anything_a_runtime_would_run_does_not() {
        let artifact = |config: &str, layer: &str| {
            let d = format!("sha256:{}", "a".repeat(64));
            serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "mediaType": media_type::OCI_MANIFEST,
                "artifactType": "application/vnd.cyclonedx+json",
                "config": {"mediaType": config, "digest": d, "size": 2},
                "layers": [{"mediaType": layer, "digest": d, "size": 2}],
            }))
            .unwrap()
        };
        let sbom = artifact("application/vnd.oci.empty.v1+json", "application/vnd.cyclonedx+json");
        assert_eq!(classify("sbom", &[], &sbom), Push::Artifact { tags: vec!["sbom".into()] });
        let unknown = artifact("application/vnd.unknown.config.v1+json", "application/vnd.wasm.content.layer.v1+wasm");
        assert!(matches!(classify("v1", &[], &unknown), Push::Artifact { .. }));
        // A filesystem layer, or an image config (even with no layer it
        // runs), is an image: judged.
        let layered = artifact("application/vnd.oci.empty.v1+json", IMAGE);
        assert!(matches!(classify("v1", &[], &layered), Push::Tag { .. }));
        for config in [media_type::OCI_CONFIG, media_type::DOCKER_CONFIG, "Application/VND.oci.image.config.v1+json"] {
            let configured = artifact(config, "application/vnd.cyclonedx+json");
            assert!(matches!(classify("v1", &[], &configured), Push::Tag { .. }), "{config}");
        }
    }

    #[test]
    fn a_runnable_image_under_a_signature_tag_is_refused() {
        let sig_tag = format!("sha256-{}.sig", "b".repeat(64));
        assert_eq!(classify(&sig_tag, &[], &manifest(SIGNATURE, false)), Push::Attachment { tag: sig_tag.clone() });
        assert!(matches!(classify(&sig_tag, &[], &manifest(IMAGE, false)), Push::Refused(m) if m.contains("reserved")));
        for runnable in ["application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.oci.image.layer.v1.tar"]
        {
            assert!(matches!(classify(&sig_tag, &[], &manifest(runnable, false)), Push::Refused(_)), "{runnable}");
        }
        // Not the schema: judged as an ordinary tag.
        let near = format!("sha256-{}.sig", "b".repeat(63));
        assert!(matches!(classify(&near, &[], &manifest(SIGNATURE, false)), Push::Tag { .. }));
    }

    #[test]
    fn a_referrers_tag_holds_only_an_index() {
        let tag = format!("sha256-{}", "c".repeat(64));
        assert!(matches!(classify(&tag, &[], &manifest(IMAGE, false)), Push::Refused(_)));
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": []
        }))
        .unwrap();
        assert!(matches!(classify(&tag, &[], &index), Push::ReferrersIndex { .. }));
    }

    #[test]
    fn a_digest_that_does_not_match_the_body_is_refused() {
        let image = manifest(IMAGE, false);
        let other = format!("sha256:{}", "d".repeat(64));
        assert!(matches!(classify(&other, &[], &image), Push::Refused(_)));
    }

    #[test]
    fn paths() {
        assert_eq!(manifest_path("/v2/a/b/manifests/v1"), Some(("a/b", "v1")));
        assert_eq!(manifest_path("/v2/a/blobs/sha256:x"), None);
        assert_eq!(manifest_path("/v2//manifests/v1"), None);
    }
}
