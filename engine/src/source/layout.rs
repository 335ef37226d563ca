//! OCI image layouts (a directory, or the same inside a tar: `oci-archive`).
//!
//! `index.json` lists the top-level images and indexes; each is followed down
//! to its platform manifests and configs, every blob verified on read.

use super::{Input, InputError, InputFormat, OpenOptions, read_blob, reference};
use crate::blob::Container;
use crate::digest::Digest;
use crate::evidence::{Evidence, ImageEvidence, IndexEvidence, Layer, Subject, SubjectKind};
use crate::oci::{self, Descriptor, media_type};
use std::path::Path;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";
const MAX_DEPTH: usize = 4;

pub(super) fn read(
    path: &Path,
    c: &dyn Container,
    format: InputFormat,
    opts: &OpenOptions,
) -> Result<Input, InputError> {
    let err = |m: String| InputError::new(path, m);
    let header = c
        .read("oci-layout", 64 << 10)
        .map_err(|e| err(e.to_string()))?
        .ok_or_else(|| err("no `oci-layout` file: not an OCI image layout".into()))?;
    oci::parse_layout_header(&header).map_err(|e| err(format!("oci-layout: {e}")))?;
    let index_bytes = c
        .read("index.json", oci::MAX_MANIFEST_BYTES)
        .map_err(|e| err(e.to_string()))?
        .ok_or_else(|| err("OCI layout without `index.json`".into()))?;
    let index = oci::parse_index(&index_bytes).map_err(|e| err(format!("index.json: {e}")))?;
    if index.manifests.is_empty() {
        return Err(err("index.json lists no images".into()));
    }

    let selected: Vec<&Descriptor> = if opts.images.is_empty() {
        index.manifests.iter().filter(|d| !super::attached::is_attachment(d)).collect()
    } else {
        let chosen: Vec<&Descriptor> =
            index.manifests.iter().filter(|d| opts.images.iter().any(|sel| entry_matches(d, sel))).collect();
        if chosen.is_empty() {
            let names: Vec<String> = index.manifests.iter().filter_map(entry_name).collect();
            return Err(err(format!(
                "no image named {} in index.json; it has: {}",
                opts.images.join(", "),
                if names.is_empty() { "(no named images)".to_string() } else { names.join(", ") }
            )));
        }
        chosen
    };

    let mut reader = LayoutReader { c, opts, evidence: Vec::new(), notes: Vec::new() };
    for d in selected {
        let name = entry_name(d);
        let reference = match &name {
            Some(n) => format!("{format}:{}:{n}", path.display()),
            None => format!("{format}:{}@{}", path.display(), d.digest),
        };
        let repository = d
            .annotation(CONTAINERD_NAME)
            .and_then(reference::parse)
            .map(|r| reference::repository(&r))
            .or_else(|| opts.repository.clone());
        reader.entry(d, &reference, repository.as_deref(), None, 0);
    }
    if reader.evidence.is_empty() {
        return Err(err(format!("no container image in this layout ({})", reader.notes.join("; "))));
    }
    super::attached::discover(c, &index.manifests, &mut reader.evidence, &mut reader.notes);
    Ok(Input { path: path.to_path_buf(), format, evidence: reader.evidence, notes: reader.notes })
}

fn entry_name(d: &Descriptor) -> Option<String> {
    d.annotation(CONTAINERD_NAME).or_else(|| d.annotation(REF_NAME)).map(str::to_string)
}

fn entry_matches(d: &Descriptor, selector: &str) -> bool {
    if d.annotation(REF_NAME) == Some(selector) || d.digest.as_str() == selector {
        return true;
    }
    match (d.annotation(CONTAINERD_NAME).and_then(reference::parse), reference::parse(selector)) {
        (Some(have), Some(want)) => reference::selects(&want, &have),
        _ => false,
    }
}

struct LayoutReader<'a> {
    c: &'a dyn Container,
    opts: &'a OpenOptions,
    evidence: Vec<Evidence>,
    notes: Vec<String>,
}

impl LayoutReader<'_> {
    fn entry(
        &mut self,
        d: &Descriptor,
        reference: &str,
        repository: Option<&str>,
        parent: Option<&Digest>,
        depth: usize,
    ) {
        let subject = |kind| Subject {
            kind,
            reference: reference.to_string(),
            repository: repository.map(str::to_string),
            digest: d.digest.clone(),
            media_type: d.media_type.clone(),
            platform: d.platform.clone(),
            parent_index: parent.cloned(),
        };
        if media_type::is_index(&d.media_type) {
            if depth >= MAX_DEPTH {
                self.evidence.push(Evidence::Unreadable {
                    subject: subject(SubjectKind::Index),
                    reason: format!("index {} is nested more than {MAX_DEPTH} levels deep", d.digest),
                });
                return;
            }
            self.index(d, subject(SubjectKind::Index), reference, repository, depth);
        } else if media_type::is_manifest(&d.media_type) {
            if let Some(ev) = self.image(d, subject(SubjectKind::Image)) {
                self.evidence.push(ev);
            }
        } else if d.media_type == media_type::DOCKER_MANIFEST_V1
            || d.media_type == media_type::DOCKER_MANIFEST_V1_SIGNED
        {
            self.evidence.push(Evidence::Unreadable {
                subject: subject(SubjectKind::Image),
                reason: format!("{} is a Docker schema 1 manifest, which is deprecated and not supported", d.digest),
            });
        } else {
            self.notes.push(format!("skipped {} ({}): not an image or index", d.digest, d.media_type));
        }
    }

    fn index(&mut self, d: &Descriptor, subject: Subject, reference: &str, repository: Option<&str>, depth: usize) {
        let parsed = read_blob(self.c, &d.digest, Some(d.size), oci::MAX_MANIFEST_BYTES, "index")
            .and_then(|b| oci::parse_index(&b).map_err(|e| format!("index {}: {e}", d.digest)));
        let index = match parsed {
            Ok(i) => i,
            Err(reason) => {
                self.evidence.push(Evidence::Unreadable { subject, reason });
                return;
            }
        };
        let digest = subject.digest.clone();
        self.evidence.push(Evidence::Index(IndexEvidence {
            subject,
            annotations: index.annotations.clone().unwrap_or_default(),
            manifests: index.manifests.clone(),
        }));
        for child in &index.manifests {
            if child.annotation("vnd.docker.reference.type").is_some()
                || child.platform.as_ref().is_some_and(|p| p.os == "unknown" && p.architecture == "unknown")
            {
                self.notes.push(format!(
                    "skipped {} in index {digest}: attestation or artifact manifest, not a platform image",
                    child.digest
                ));
                continue;
            }
            self.entry(child, reference, repository, Some(&digest), depth + 1);
        }
    }

    fn image(&mut self, d: &Descriptor, mut subject: Subject) -> Option<Evidence> {
        let unreadable = |subject: Subject, reason: String| Some(Evidence::Unreadable { subject, reason });
        let manifest = match read_blob(self.c, &d.digest, Some(d.size), oci::MAX_MANIFEST_BYTES, "manifest")
            .and_then(|b| oci::parse_manifest(&b).map_err(|e| format!("manifest {}: {e}", d.digest)))
        {
            Ok(m) => m,
            Err(reason) => return unreadable(subject, reason),
        };
        if !media_type::is_image_config(&manifest.config.media_type) {
            self.notes.push(format!(
                "skipped {}: an artifact (config media type {}), not a container image",
                d.digest, manifest.config.media_type
            ));
            return None;
        }
        let cfg = &manifest.config;
        let config = match read_blob(self.c, &cfg.digest, Some(cfg.size), oci::MAX_CONFIG_BYTES, "config")
            .and_then(|b| oci::parse_config(&b).map_err(|e| format!("config {}: {e}", cfg.digest)))
        {
            Ok(c) => c,
            Err(reason) => return unreadable(subject, reason),
        };
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return unreadable(
                subject,
                format!(
                    "manifest {} lists {} layers but its config has {} diff_ids",
                    d.digest,
                    manifest.layers.len(),
                    config.rootfs.diff_ids.len()
                ),
            );
        }
        if subject.platform.is_none() {
            subject.platform = Some(config.platform());
        }
        let layers = manifest
            .layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .map(|(l, diff)| Layer {
                digest: l.digest.clone(),
                media_type: l.media_type.clone(),
                size: l.size,
                diff_id: Some(diff.clone()),
            })
            .collect();
        let names =
            manifest.layers.iter().map(|l| format!("blobs/{}/{}", l.digest.algorithm(), l.digest.encoded())).collect();
        let image = Box::new(ImageEvidence {
            subject,
            manifest_annotations: manifest.annotations.clone().unwrap_or_default(),
            config_digest: cfg.digest.clone(),
            config,
            layers,
            scan: None,
            sboms: Default::default(),
            signatures: Default::default(),
        });
        Some(super::scan_layers(self.c, image, names, self.opts))
    }
}
