//! Inputs: turns what the user points at — an OCI image layout directory, an
//! OCI archive, a `docker save` archive — into [`Evidence`] for every subject
//! in it (every platform of an index is a subject of its own).
//!
//! Two classes of failure, on purpose:
//! - the input as a whole is unusable (not an image, `manifest.json` missing or
//!   `null`, unparsable `index.json`): [`InputError`], exit code 2;
//! - one subject's evidence cannot be trusted (digest or size mismatch, missing
//!   or malformed blob): [`Evidence::Unreadable`], which the engine denies.

pub mod artifact;
mod attached;
mod docker;
mod layout;
pub mod reference;

use crate::blob::{Container, DirContainer, TarContainer};
use crate::evidence::Evidence;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct InputError {
    pub path: String,
    pub message: String,
}

impl InputError {
    pub fn new(path: &Path, message: impl Into<String>) -> Self {
        InputError { path: path.display().to_string(), message: message.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputFormat {
    OciLayout,
    OciArchive,
    DockerArchive,
    /// A release artifact with its sidecars.
    Artifact,
    /// An image pulled from a registry (`docker://`).
    Registry,
}

impl std::fmt::Display for InputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InputFormat::OciLayout => "oci",
            InputFormat::OciArchive => "oci-archive",
            InputFormat::DockerArchive => "docker-archive",
            InputFormat::Artifact => "artifact",
            InputFormat::Registry => "docker",
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Select images by name: a tag in a docker archive (`app:v1`,
    /// `docker.io/library/app:v1`) or a ref name in an OCI layout (`v1`).
    /// Empty: every image in the input.
    pub images: Vec<String>,
    /// The repository to attribute subjects to when the input does not say
    /// (OCI layouts rarely do). Used by waivers that match repositories.
    pub repository: Option<String>,
    /// Do not read layers (configuration-only evidence: faster, but every
    /// rule that needs files, binaries or packages is skipped).
    pub skip_layers: bool,
    pub limits: crate::scan::ScanLimits,
    /// Receives scanning progress.
    pub progress: Option<crate::scan::ProgressSink>,
    /// Evidence of layers already scanned, by blob digest. Set for pulled
    /// images only, whose blobs were verified as they arrived: a local
    /// layout's blob may have been altered since it was cached.
    pub layer_cache: Option<std::sync::Arc<crate::scan::cache::LayerCache>>,
}

/// An opened input and the evidence of every subject in it. Cloning is
/// cheap: the scanned file index is shared.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub format: InputFormat,
    pub evidence: Vec<Evidence>,
    /// Things skipped or worth knowing (non-image artifacts in an index...).
    pub notes: Vec<String>,
}

impl Input {
    /// Offers SBOMs (from `--sbom` files) to every image subject; each
    /// plugin decides which of them describe which image.
    pub fn supply_sboms(&mut self, sboms: &crate::sbom::Attached) {
        for e in &mut self.evidence {
            if let Evidence::Image(i) = e {
                let identity = sbom_identity(i);
                std::sync::Arc::make_mut(&mut i.sboms).offer(sboms, &identity);
            }
        }
    }
}

/// What an image is known by when SBOMs are bound to it: its digests and
/// its platform (the config's, the index entry's variant when the config
/// leaves it out).
fn sbom_identity(i: &crate::evidence::ImageEvidence) -> crate::sbom::ImageIdentity {
    let index_variant = i.subject.platform.as_ref().and_then(|p| p.variant.clone());
    crate::sbom::ImageIdentity {
        digest: i.subject.digest.to_string(),
        config_digest: i.config_digest.to_string(),
        parent_index: i.subject.parent_index.as_ref().map(|d| d.to_string()),
        os: i.config.os.clone(),
        architecture: i.config.architecture.clone(),
        variant: i.config.variant.clone().or(index_variant),
    }
}

/// Reads an image pulled from a registry ([`crate::registry`]): the same
/// layout reader as for local layouts, over the blob cache, so the report is
/// the same whichever way the image came.
pub fn open_pulled(pulled: &crate::registry::Pulled, opts: &OpenOptions) -> Result<Input, InputError> {
    // The download (if it was reported) is over: the scan counts afresh.
    if let Some(p) = &opts.progress {
        p.0.stage("scanning");
    }
    let view = crate::registry::PulledLayout::new(pulled);
    let mut opts = OpenOptions {
        images: vec![pulled.digest.to_string()],
        repository: Some(pulled.repository.clone()),
        layer_cache: pulled.layer_cache.clone(),
        ..opts.clone()
    };
    // Layers were left in the registry because their evidence under these
    // limits is cached: the scan must look them up under the same limits.
    if pulled.skipped_layers > 0 {
        opts.limits = pulled.scan_limits.clone();
    }
    // `docker:` + `//host/repo` + `:tag` or `@digest` is the reference.
    let label = format!("//{}", pulled.repository);
    let mut input = layout::read(Path::new(&label), &view, InputFormat::Registry, &opts)?;
    input.path = PathBuf::from(&pulled.reference);
    Ok(input)
}

/// Opens `path`, detecting its format.
pub fn open(path: &Path, opts: &OpenOptions) -> Result<Input, InputError> {
    let meta = std::fs::metadata(path).map_err(|e| InputError::new(path, format!("cannot read: {e}")))?;
    if meta.is_dir() {
        let c = DirContainer::new(path);
        if c.exists("oci-layout") {
            return layout::read(path, &c, InputFormat::OciLayout, opts);
        }
        if c.exists("manifest.json") {
            return docker::read(path, &c, opts);
        }
        return Err(InputError::new(
            path,
            "is a directory but not an OCI image layout (no `oci-layout` file) nor an extracted `docker save` (no `manifest.json`)",
        ));
    }
    let mut head = [0u8; 512];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| InputError::new(path, format!("cannot read: {e}")))?;
        let mut n = 0;
        while n < head.len() {
            match f.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) => return Err(InputError::new(path, format!("cannot read: {e}"))),
            }
        }
        n
    };
    if n == 512 && &head[257..262] == b"ustar" {
        let c = TarContainer::open(path).map_err(|e| InputError::new(path, e.to_string()))?;
        if c.exists("oci-layout") && c.exists("index.json") {
            return match layout::read(path, &c, InputFormat::OciArchive, opts) {
                // Docker >= 25 writes both an OCI layout and a legacy
                // manifest.json; some of its index.json files are unusable
                // (`"manifests": null`), so fall back to manifest.json.
                Err(oci_err) if c.exists("manifest.json") => docker::read(path, &c, opts).map(|mut input| {
                    input.notes.push(format!(
                        "the OCI index.json was unusable ({}); read manifest.json instead",
                        oci_err.message
                    ));
                    input
                }),
                Ok(oci) if c.exists("manifest.json") => {
                    // Only the image identities are compared: no second scan.
                    let ids_only = OpenOptions { skip_layers: true, progress: None, ..opts.clone() };
                    same_images(path, oci, docker::read(path, &c, &ids_only))
                }
                other => other,
            };
        }
        if c.exists("manifest.json") {
            return docker::read(path, &c, opts);
        }
        let looks_like_rootfs =
            c.names().any(|n| n.starts_with("etc/") || n.starts_with("bin/") || n.starts_with("usr/"));
        return Err(InputError::new(
            path,
            format!(
                "not an image: this tar archive has neither an OCI layout (`oci-layout`, `index.json`) nor a `docker save` manifest (`manifest.json`){}",
                if looks_like_rootfs { "; it looks like a root filesystem or a single layer" } else { "" }
            ),
        ));
    }
    let what = match head.get(..4) {
        Some([0x1f, 0x8b, ..]) => "a gzip file; decompress it first if it is an image archive",
        Some([0x28, 0xb5, 0x2f, 0xfd]) => "a zstd file; decompress it first if it is an image archive",
        Some([0x7f, b'E', b'L', b'F']) => "an ELF executable",
        _ => "not a tar archive",
    };
    Err(InputError::new(
        path,
        format!(
            "not an image ({what}): expected an OCI image layout directory, an OCI archive or a `docker save` archive"
        ),
    ))
}

/// The config digests of an input's images (unreadable ones by subject).
fn image_ids(input: &Input) -> std::collections::BTreeSet<String> {
    input
        .evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Image(i) => Some(i.config_digest.to_string()),
            Evidence::Unreadable { subject, .. } => Some(format!("unreadable {}", subject.digest)),
            _ => None,
        })
        .collect()
}

/// An archive with both an OCI `index.json` and a `manifest.json` (Docker
/// 25 and later write both) is judged on the OCI side only if the two name
/// the same images: `docker load` reads `manifest.json`, OCI tools the index.
fn same_images(path: &Path, oci: Input, docker: Result<Input, InputError>) -> Result<Input, InputError> {
    let docker = docker.map_err(|e| {
        InputError::new(path, format!("has an OCI index.json and a manifest.json that cannot be read ({}): refused, as docker load would read the latter", e.message))
    })?;
    let (a, b) = (image_ids(&oci), image_ids(&docker));
    if a != b {
        return Err(InputError::new(
            path,
            format!(
                "index.json names the images {} but manifest.json names {}: docker load reads one, OCI tools the other; refused",
                a.into_iter().collect::<Vec<_>>().join(", "),
                b.into_iter().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(oci)
}

/// Scans an image's layers and attaches the result, or turns the evidence
/// unreadable with the scanner's reason.
pub(crate) fn scan_layers(
    c: &dyn Container,
    mut image: Box<crate::evidence::ImageEvidence>,
    names: Vec<String>,
    opts: &OpenOptions,
) -> Evidence {
    if opts.skip_layers {
        return Evidence::Image(image);
    }
    let refs: Vec<crate::scan::LayerRef> = image
        .layers
        .iter()
        .zip(names)
        .map(|(l, name)| crate::scan::LayerRef {
            name,
            // When the only digest known is the diffID (docker archives with
            // anonymous layer names), the blob is checked after decompression.
            blob_digest: if l.diff_id.as_ref() == Some(&l.digest) { None } else { Some(l.digest.clone()) },
            diff_id: l.diff_id.clone(),
            size: Some(l.size),
        })
        .collect();
    // Whatever in the scan panics (merging, package databases), the input
    // caused it: the subject is unreadable and denied, the process lives on.
    let scanned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::scan::scan_image(c, &refs, &opts.limits, opts.progress.as_ref(), opts.layer_cache.as_deref())
    }))
    .unwrap_or_else(|panic| Err(format!("the scanner failed: {}", crate::scan::panic_message(&panic))));
    match scanned {
        Ok(scan) => {
            image.scan = Some(std::sync::Arc::new(scan));
            Evidence::Image(image)
        }
        Err(reason) => Evidence::Unreadable { subject: image.subject.clone(), reason },
    }
}

/// Reads a blob of an OCI layout (`blobs/<alg>/<encoded>`), checking its size
/// against the descriptor and its content against the digest. The error says
/// which blob and what was wrong, for the report.
pub(crate) fn read_blob(
    c: &dyn Container,
    digest: &crate::digest::Digest,
    expected_size: Option<u64>,
    max: u64,
    what: &str,
) -> Result<Vec<u8>, String> {
    if !matches!(digest.algorithm(), "sha256" | "sha512") {
        return Err(format!("{what} {digest}: digest algorithm `{}` cannot be verified", digest.algorithm()));
    }
    let name = format!("blobs/{}/{}", digest.algorithm(), digest.encoded());
    let bytes = c
        .read(&name, max)
        .map_err(|e| format!("{what} {digest}: {e}"))?
        .ok_or_else(|| format!("{what} {digest} is missing (no {name})"))?;
    if let Some(size) = expected_size
        && bytes.len() as u64 != size
    {
        return Err(format!("{what} {digest}: descriptor says {size} bytes, blob has {}", bytes.len()));
    }
    digest.verify(&bytes).map_err(|e| format!("{what} {name}: {e}"))?;
    Ok(bytes)
}
