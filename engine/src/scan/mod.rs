//! The layer scanner: gives the engine eyes inside an image.
//!
//! Every layer blob is streamed exactly once, in parallel across layers
//! (rayon), verified against its digest and diffID while it is decompressed,
//! and walked as a tar archive without extracting anything. The result is the
//! merged filesystem (a [`FileIndex`] plugins query), layer statistics and
//! dive-compatible efficiency, the ELF files kept for binary analysis, package
//! databases, and secrets found in any layer — including files a later layer
//! deleted, which still ship in the image.
//!
//! Limits ([`ScanLimits`]) are enforced while streaming; crossing one makes
//! the subject's evidence unreadable, which the engine denies with the reason.

pub mod cache;
pub mod elf;
pub mod fs;
pub mod gosym;
mod index;
mod layer;
mod needles;
pub mod packages;
pub mod programs;
pub mod secrets;
pub mod user;

pub use index::{FileEntry, FileIndex, FileKind};

use crate::blob::Container;
use crate::digest::Digest;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// Receives scanning progress (compressed bytes read), e.g. to drive a
/// progress bar. The library itself never draws anything.
pub trait Progress: Send + Sync {
    /// More bytes to read (called once per image with its layer sizes).
    fn add_total(&self, bytes: u64);
    /// Bytes read.
    fn advance(&self, bytes: u64);
    /// A new stage begins (`downloading`, `scanning`): its bytes and rate
    /// count from zero.
    fn stage(&self, _name: &'static str) {}
}

/// A shareable progress receiver (`OpenOptions::progress`).
#[derive(Clone)]
pub struct ProgressSink(pub std::sync::Arc<dyn Progress>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// One tar entry of one layer, as read.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RawEntry {
    /// Relative to the root, cleaned (`usr/bin/env`).
    pub path: String,
    pub kind: FileKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub link_target: Option<String>,
    /// A hard link: another name for this earlier entry of the layer, whose
    /// attributes it carries. Its bytes are not stored twice, so layer sizes
    /// and dive's figures count it as 0.
    pub hard_link_to: Option<String>,
    /// SHA-256 of a regular file's content, when the scan hashes contents.
    pub content: Option<[u8; 32]>,
}

impl RawEntry {
    /// Bytes this entry adds to the layer tar.
    pub fn stored_bytes(&self) -> u64 {
        if self.kind == FileKind::Regular && self.hard_link_to.is_none() { self.size } else { 0 }
    }
}

/// Resource limits of a scan. Crossing one denies the subject with a reason.
#[derive(Debug, Clone)]
pub struct ScanLimits {
    /// Uncompressed bytes of one layer.
    pub max_layer_bytes: u64,
    /// Uncompressed bytes of all layers of one image.
    pub max_image_bytes: u64,
    /// Inflation ratio (uncompressed / compressed) allowed once a layer has
    /// inflated past `ratio_floor_bytes` — stops decompression bombs early.
    pub max_ratio: u64,
    pub ratio_floor_bytes: u64,
    /// Entries in one layer, and over all layers of one image.
    pub max_entries: usize,
    pub max_image_entries: u64,
    /// Bytes of one entry path, and its depth in directories.
    pub max_path_bytes: usize,
    pub max_path_depth: usize,
    /// Bytes read from the start of each file to recognise it.
    pub sniff_bytes: usize,
    /// ELF files (and package databases) up to this size are kept whole for analysis.
    pub max_binary_bytes: u64,
    /// Also hash every regular file (SHA-256, one more pass over the layer
    /// bytes) into the merged view: for comparing it with an extraction.
    pub hash_contents: bool,
}

impl Default for ScanLimits {
    fn default() -> Self {
        ScanLimits {
            max_layer_bytes: 8 << 30,
            max_image_bytes: 32 << 30,
            max_ratio: 100,
            ratio_floor_bytes: 64 << 20,
            max_entries: 1_000_000,
            max_image_entries: 4_000_000,
            max_path_bytes: 4096,
            max_path_depth: 256,
            sniff_bytes: 64 << 10,
            max_binary_bytes: 512 << 20,
            hash_contents: false,
        }
    }
}

/// Per-layer facts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerStats {
    pub index: u32,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
    /// Sum of the regular files' sizes.
    pub file_bytes: u64,
    pub entries: u32,
    pub whiteouts: u32,
}

/// A secret found in a layer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Secret {
    pub path: String,
    pub layer: u32,
    pub kind: String,
    pub detail: String,
    /// Deleted (or replaced) by a later layer: still shipped in the image.
    pub deleted: bool,
}

/// A setuid or setgid file in some layer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SpecialMode {
    pub path: String,
    pub layer: u32,
    pub mode: u32,
    /// Still has the bit in the merged filesystem.
    pub effective: bool,
}

/// Everything the scanner learnt about one image.
#[derive(Debug)]
pub struct ImageScan {
    pub files: fs::MergedFs,
    pub layers: Vec<LayerStats>,
    pub efficiency: fs::Efficiency,
    pub secrets: Vec<Secret>,
    /// setuid/setgid regular files, in every layer.
    pub special_modes: Vec<SpecialMode>,
    /// ELF files present in the merged filesystem.
    pub binaries: Vec<Binary>,
    /// Executable `#!` scripts of the merged filesystem.
    pub scripts: Vec<Script>,
    /// Installed packages (dpkg, apk) of the merged filesystem.
    pub packages: Vec<packages::Package>,
    /// `ID` from os-release (`debian`, `alpine`...).
    pub os_id: Option<String>,
    /// `VERSION_ID` from os-release (`12`, `3.19.1`).
    pub os_version: Option<String>,
    /// World-writable files and directories of the merged view (no symlinks).
    pub world_writable: Vec<FileEntry>,
    /// Bytes of files overwritten or deleted by a later layer.
    pub superseded_bytes: u64,
    /// `/etc/passwd` and `/etc/group` of the merged view, to resolve `User`.
    pub passwd: Option<String>,
    pub group: Option<String>,
}

/// An ELF file of the merged filesystem.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Binary {
    pub path: String,
    pub layer: u32,
    pub elf: elf::ElfInfo,
}

/// An executable `#!` script of the merged filesystem.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Script {
    pub path: String,
    pub layer: u32,
    pub shebang: programs::Shebang,
}

impl ImageScan {
    /// The user `spec` (the config's `User`) runs as in this image.
    pub fn run_as(&self, spec: &str) -> user::RunAs {
        user::resolve(spec, self.passwd.as_deref(), self.group.as_deref())
    }

    /// The binary at `path`, following symlinks and hard links inside the image.
    pub fn binary(&self, path: &str) -> Option<&Binary> {
        let e = self.resolve(path)?;
        self.binaries.iter().find(|b| b.path == e.path)
    }

    /// The script at `path`, following symlinks and hard links inside the image.
    pub fn script(&self, path: &str) -> Option<&Script> {
        let e = self.resolve(path)?;
        self.scripts.iter().find(|s| s.path == e.path)
    }

    /// The entry a path leads to through symlinks and hard links (at most 16).
    fn resolve(&self, path: &str) -> Option<&FileEntry> {
        let mut path = path.to_string();
        for _ in 0..16 {
            let e = self.files.get(&path)?;
            match e.kind {
                FileKind::Symlink => {
                    let t = e.link_target.clone().unwrap_or_default();
                    path = if t.starts_with('/') {
                        t
                    } else {
                        format!("{}/{t}", e.path.rsplit_once('/').map(|(d, _)| d).unwrap_or(""))
                    };
                }
                FileKind::Hardlink => path = e.link_target.clone().unwrap_or_default(),
                _ => return Some(e),
            }
        }
        None
    }
}

impl FileIndex for ImageScan {
    fn stat(&self, path: &str) -> Option<FileEntry> {
        self.files.get(path).cloned()
    }
    fn glob(&self, pattern: &str, limit: usize) -> Vec<FileEntry> {
        self.files.glob(pattern, limit)
    }
}

/// A layer to scan: its name in the container and what it must hash to.
pub struct LayerRef {
    pub name: String,
    pub blob_digest: Option<Digest>,
    pub diff_id: Option<Digest>,
    /// The descriptor's size, checked against the bytes read.
    pub size: Option<u64>,
}

/// The entries of one layer blob (compressed or not) as the scanner reads
/// them, in stream order: for comparing with other readers, and for tools
/// that list a layer. Nothing is checked against a digest.
pub fn list_layer(reader: Box<dyn std::io::Read + Send>, limits: &ScanLimits) -> Result<Vec<RawEntry>, String> {
    let src = layer::LayerSource { blob_digest: None, diff_id: None, size: None };
    layer::scan(reader, &src, limits, 0, None).map(|c| c.entries)
}

/// A layer blob scanned as it streamed by (the push gate's speculative
/// scan), with the digests measured while reading it.
pub struct StreamedLayer {
    contents: layer::LayerContents,
    /// The blob's digest (SHA-256 of the bytes read).
    pub blob: Digest,
    /// The digest of the uncompressed tar.
    pub diff_id: Digest,
}

/// Scans a blob from a stream, knowing nothing of it beforehand; a blob
/// that is no layer (a config, an artifact) is an error.
pub fn scan_stream(reader: Box<dyn std::io::Read + Send>, limits: &ScanLimits) -> Result<StreamedLayer, String> {
    let src = layer::LayerSource { blob_digest: None, diff_id: None, size: None };
    let measured =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| layer::measured(reader, &src, limits, 0, None)))
            .unwrap_or_else(|panic| Err(format!("the scanner failed on this layer: {}", panic_message(&panic))));
    measured.map(|(contents, blob, diff_id)| StreamedLayer { contents, blob, diff_id })
}

impl StreamedLayer {
    /// Stores the evidence in `cache`, where a scan of the blob `blob`
    /// with diffID `diff_id` under `limits` will find it.
    pub fn store(&self, cache: &cache::LayerCache, limits: &ScanLimits) -> Result<(), String> {
        cache.put(&cache::LayerCache::key(&self.blob, Some(&self.diff_id), limits), &self.contents)
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "internal error".into())
}

/// Scans the layers of one image. The error names the layer and the reason.
pub fn scan_image(
    c: &dyn Container,
    layers: &[LayerRef],
    limits: &ScanLimits,
    progress: Option<&ProgressSink>,
    cache: Option<&cache::LayerCache>,
) -> Result<ImageScan, String> {
    let used = AtomicU64::new(0);
    // A blob listed several times is read once: listing it a thousand times
    // must not multiply the work (the budgets below still count every copy,
    // as the runtime unpacks every copy).
    let mut first: Vec<usize> = Vec::new();
    let mut slot: Vec<usize> = Vec::with_capacity(layers.len());
    let mut seen: std::collections::HashMap<(&str, Option<&str>), usize> = std::collections::HashMap::new();
    for (i, l) in layers.iter().enumerate() {
        let key = (l.name.as_str(), l.diff_id.as_ref().map(Digest::as_str));
        let s = *seen.entry(key).or_insert_with(|| {
            first.push(i);
            first.len() - 1
        });
        slot.push(s);
    }
    if let Some(p) = progress {
        p.0.add_total(first.iter().filter_map(|&i| c.size(&layers[i].name)).sum());
    }
    let results: Vec<Result<layer::LayerContents, String>> = first
        .par_iter()
        .map(|&i| (i, &layers[i]))
        .map(|(i, l)| {
            let what = |e: String| {
                format!(
                    "layer {i} ({}): {e}",
                    l.blob_digest
                        .as_ref()
                        .or(l.diff_id.as_ref())
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| l.name.clone())
                )
            };
            // Evidence cached under the blob's digest is what a scan of that
            // blob finds; its size is still held to the descriptor's.
            let key =
                cache.zip(l.blob_digest.as_ref()).map(|(_, d)| cache::LayerCache::key(d, l.diff_id.as_ref(), limits));
            if let (Some(cache), Some(key)) = (cache, &key)
                && let Some(hit) = cache.get::<layer::LayerContents>(key)
                && l.size.is_none_or(|s| s == hit.compressed_bytes)
            {
                if let Some(p) = progress {
                    p.0.advance(hit.compressed_bytes);
                }
                used.fetch_add(hit.uncompressed_bytes, Ordering::Relaxed);
                return Ok(hit);
            }
            let (reader, _size) = c
                .open(&l.name)
                .map_err(|e| what(e.to_string()))?
                .ok_or_else(|| what("the layer blob is missing".into()))?;
            let src =
                layer::LayerSource { blob_digest: l.blob_digest.as_ref(), diff_id: l.diff_id.as_ref(), size: l.size };
            // A panic here is our bug, but the input caused it: the layer's
            // evidence is unreadable (denied), the process lives on.
            let scanned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                layer::scan(reader, &src, limits, used.load(Ordering::Relaxed), progress)
            }))
            .unwrap_or_else(|panic| Err(format!("the scanner failed on this layer: {}", panic_message(&panic))));
            let out = scanned.map_err(what)?;
            if let (Some(cache), Some(key)) = (cache, &key) {
                let _ = cache.put(key, &out); // a cache that cannot be written is only slower
            }
            let total = used.fetch_add(out.uncompressed_bytes, Ordering::Relaxed) + out.uncompressed_bytes;
            if total > limits.max_image_bytes {
                return Err(format!(
                    "the image exceeds {} bytes uncompressed (limit max-image-bytes)",
                    limits.max_image_bytes
                ));
            }
            Ok(out)
        })
        .collect();
    let unique: Vec<layer::LayerContents> = results.into_iter().collect::<Result<_, _>>()?;
    let per_image = |what: &str, n: u64, max: u64| {
        if n > max {
            Err(format!("the image has {n} {what} over its layers, more than {max} (limit max-image-{what})"))
        } else {
            Ok(())
        }
    };
    per_image("entries", slot.iter().map(|&s| unique[s].entries.len() as u64).sum(), limits.max_image_entries)?;
    per_image("bytes", slot.iter().map(|&s| unique[s].uncompressed_bytes).sum(), limits.max_image_bytes)?;
    let contents: Vec<&layer::LayerContents> = slot.iter().map(|&s| &unique[s]).collect();
    let entry_lists: Vec<&[RawEntry]> = contents.iter().map(|c| c.entries.as_slice()).collect();
    let (files, efficiency) = fs::MergedFs::build(&entry_lists)?;
    let mut stats = Vec::new();
    let mut secrets = Vec::new();
    let mut kept: Vec<(u32, String, Vec<u8>)> = Vec::new();
    let mut binaries = Vec::new();
    let mut scripts = Vec::new();
    let mut special_modes = Vec::new();
    for (i, c) in contents.into_iter().enumerate() {
        for e in c.entries.iter().filter(|e| e.kind == FileKind::Regular && e.mode & 0o6000 != 0) {
            let path = format!("/{}", e.path);
            let effective = files.get(&path).is_some_and(|f| f.layer == i as u32 && f.mode & 0o6000 != 0);
            special_modes.push(SpecialMode { path, layer: i as u32, mode: e.mode, effective });
        }
        stats.push(LayerStats {
            index: i as u32,
            compressed_bytes: c.compressed_bytes,
            uncompressed_bytes: c.uncompressed_bytes,
            file_bytes: c.entries.iter().map(RawEntry::stored_bytes).sum(),
            entries: c.entries.len() as u32,
            whiteouts: c
                .entries
                .iter()
                .filter(|e| e.path.rsplit('/').next().is_some_and(|b| b.starts_with(".wh.")))
                .count() as u32,
        });
        for h in &c.secrets {
            let abs = format!("/{}", h.path);
            let deleted = files.get(&abs).is_none_or(|f| f.layer != i as u32);
            secrets.push(Secret {
                path: abs,
                layer: i as u32,
                kind: h.kind.clone(),
                detail: h.detail.clone(),
                deleted,
            });
        }
        let present = |path: &str| files.get(path).is_some_and(|f| f.layer == i as u32);
        for (path, bytes) in &c.kept {
            let abs = format!("/{path}");
            if present(&abs) {
                kept.push((i as u32, abs, bytes.clone()));
            }
        }
        for (path, info) in &c.binaries {
            let abs = format!("/{path}");
            if present(&abs) {
                binaries.push(Binary { path: abs, layer: i as u32, elf: info.clone() });
            }
        }
        for (path, shebang) in &c.scripts {
            let abs = format!("/{path}");
            if present(&abs) {
                scripts.push(Script { path: abs, layer: i as u32, shebang: shebang.clone() });
            }
        }
    }
    let text = |p: &str| kept.iter().find(|(_, k, _)| k == p).map(|(_, _, b)| String::from_utf8_lossy(b).into_owned());
    let os_release = text("/etc/os-release").or_else(|| text("/usr/lib/os-release"));
    let os_id = os_release.as_deref().and_then(packages::os_id);
    let os_version = os_release.as_deref().and_then(|t| packages::os_release(t, "VERSION_ID"));
    let distro = os_id.clone().unwrap_or_else(|| "debian".into());
    let mut pkgs = Vec::new();
    for (_, path, bytes) in &kept {
        let t = String::from_utf8_lossy(bytes);
        if path == "/var/lib/dpkg/status" || path.starts_with("/var/lib/dpkg/status.d/") {
            pkgs.extend(packages::parse_dpkg(&t, &distro));
        } else if path == "/lib/apk/db/installed" {
            pkgs.extend(packages::parse_apk(&t, os_id.as_deref().unwrap_or("alpine")));
        }
    }
    binaries.sort_by(|a, b| a.path.cmp(&b.path));
    let world_writable = files.iter().filter(|f| f.kind != FileKind::Symlink && f.mode & 0o002 != 0).cloned().collect();
    let superseded_bytes = efficiency
        .inefficient
        .iter()
        .map(|(path, _, bytes)| bytes.saturating_sub(files.get(path).map(|f| f.size).unwrap_or(0)))
        .sum();
    Ok(ImageScan {
        files,
        layers: stats,
        efficiency,
        secrets,
        special_modes,
        binaries,
        scripts,
        packages: pkgs,
        os_id,
        os_version,
        world_writable,
        superseded_bytes,
        passwd: text("/etc/passwd"),
        group: text("/etc/group"),
    })
}
