//! `docker save` archives (and their extracted directories): `manifest.json`
//! lists each image's config file, tags and layer tars. There is no manifest
//! digest, so the subject digest is the image ID — the config's sha256 — as
//! `docker images --digests` shows for local images.

use super::{
    Input, InputError, InputFormat, OpenOptions,
    reference::{self, Reference},
};
use crate::blob::Container;
use crate::digest::Digest;
use crate::evidence::{Evidence, ImageEvidence, Layer, Subject, SubjectKind};
use crate::oci::{self, media_type};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

pub(super) fn read(path: &Path, c: &dyn Container, opts: &OpenOptions) -> Result<Input, InputError> {
    let err = |m: String| InputError::new(path, m);
    let bytes = c
        .read("manifest.json", oci::MAX_MANIFEST_BYTES)
        .map_err(|e| err(e.to_string()))?
        .ok_or_else(|| err("no manifest.json: not a `docker save` archive".into()))?;
    crate::nesting::json(&bytes, crate::nesting::DOCUMENT).map_err(|e| err(format!("manifest.json: {e}")))?;
    // `docker load` reads it with Go's encoding/json: no key it would read
    // differently (case variants, duplicates).
    oci::dialect::check(&bytes, &oci::dialect::DOCKER_ARCHIVE)
        .map_err(|(at, m)| err(format!("manifest.json: {at}: {m}")))?;
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    let entries: Option<Vec<Entry>> = serde_path_to_error::deserialize(de)
        .map_err(|e| err(format!("manifest.json: {} at `{}`", e.inner(), e.path())))?;
    let entries = entries.ok_or_else(|| err("manifest.json is `null`: expected a list of images".into()))?;
    if entries.is_empty() {
        return Err(err("manifest.json lists no images".into()));
    }

    let tags_of =
        |e: &Entry| -> Vec<Reference> { e.repo_tags.iter().flatten().filter_map(|t| reference::parse(t)).collect() };
    let selected: Vec<(&Entry, Option<Reference>)> = if opts.images.is_empty() {
        entries.iter().map(|e| (e, tags_of(e).into_iter().next())).collect()
    } else {
        let mut chosen = Vec::new();
        for sel in &opts.images {
            let want = reference::parse(sel).ok_or_else(|| err(format!("`{sel}` is not an image reference")))?;
            for e in &entries {
                if let Some(tag) = tags_of(e).into_iter().find(|t| reference::selects(&want, t)) {
                    chosen.push((e, Some(tag)));
                }
            }
        }
        if chosen.is_empty() {
            let all: Vec<String> = entries.iter().flat_map(|e| e.repo_tags.iter().flatten().cloned()).collect();
            return Err(err(format!(
                "no image tagged {} in manifest.json; it has: {}",
                opts.images.join(", "),
                if all.is_empty() { "(no tags)".to_string() } else { all.join(", ") }
            )));
        }
        chosen
    };

    let evidence = selected.into_iter().map(|(e, tag)| image(path, c, e, tag, opts)).collect();
    Ok(Input { path: path.to_path_buf(), format: InputFormat::DockerArchive, evidence, notes: Vec::new() })
}

/// The digest a `docker save` file name claims for its content, if any
/// (`<hex>.json`, `blobs/sha256/<hex>`).
fn claimed_digest(name: &str) -> Option<Digest> {
    let base = name.rsplit('/').next()?;
    let hex = [".json", ".tar.gz", ".tar.zst", ".tar"].iter().find_map(|s| base.strip_suffix(s)).unwrap_or(base);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Digest::parse(&format!("sha256:{}", hex.to_ascii_lowercase())).ok()
    } else {
        None
    }
}

fn image(path: &Path, c: &dyn Container, e: &Entry, tag: Option<Reference>, opts: &OpenOptions) -> Evidence {
    let reference = match &tag {
        Some(t) => format!("docker-archive:{}:{t}", path.display()),
        None => format!("docker-archive:{}:{}", path.display(), e.config),
    };
    let mut subject = Subject {
        kind: SubjectKind::Image,
        reference,
        repository: tag.as_ref().map(reference::repository).or_else(|| opts.repository.clone()),
        digest: claimed_digest(&e.config).unwrap_or_else(|| Digest::sha256(b"")),
        media_type: media_type::DOCKER_CONFIG.to_string(),
        platform: None,
        parent_index: None,
    };
    let bytes = match c.read(&e.config, oci::MAX_CONFIG_BYTES) {
        Ok(Some(b)) => b,
        Ok(None) => {
            return Evidence::Unreadable {
                reason: format!("config {} listed in manifest.json is missing", e.config),
                subject,
            };
        }
        Err(err) => {
            return Evidence::Unreadable { reason: format!("config {}: {err}", e.config), subject };
        }
    };
    let image_id = Digest::sha256(&bytes);
    if let Some(claimed) = claimed_digest(&e.config)
        && let Err(err) = claimed.verify(&bytes)
    {
        return Evidence::Unreadable { reason: format!("config {}: {err}", e.config), subject };
    }
    subject.digest = image_id.clone();
    let config = match oci::parse_config(&bytes) {
        Ok(c) => c,
        Err(err) => {
            return Evidence::Unreadable { reason: format!("config {}: {err}", e.config), subject };
        }
    };
    if config.rootfs.diff_ids.len() != e.layers.len() {
        return Evidence::Unreadable {
            reason: format!(
                "manifest.json lists {} layers but config {} has {} diff_ids",
                e.layers.len(),
                e.config,
                config.rootfs.diff_ids.len()
            ),
            subject,
        };
    }
    let mut layers = Vec::new();
    for (name, diff) in e.layers.iter().zip(&config.rootfs.diff_ids) {
        let Some(size) = c.size(name) else {
            return Evidence::Unreadable {
                reason: format!("layer {name} listed in manifest.json is missing"),
                subject,
            };
        };
        layers.push(Layer {
            digest: claimed_digest(name).unwrap_or_else(|| diff.clone()),
            media_type: media_type::DOCKER_LAYER.to_string(),
            size,
            diff_id: Some(diff.clone()),
        });
    }
    subject.platform = Some(config.platform());
    let image = Box::new(ImageEvidence {
        subject,
        manifest_annotations: Default::default(),
        config_digest: image_id,
        config,
        layers,
        scan: None,
        sboms: Default::default(),
        signatures: Default::default(),
    });
    super::scan_layers(c, image, e.layers.clone(), opts)
}
