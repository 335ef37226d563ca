//! Streams one layer blob exactly once: the compressed bytes are hashed as
//! they are read (the blob digest), decompressed (gzip, zstd, or none, told by
//! magic bytes rather than trusting the media type), hashed again (the diffID)
//! and walked as a tar archive. Nothing is extracted; only the entry headers,
//! the first bytes of small files and the whole of ELF files are kept.
//!
//! Every limit is checked while streaming, so a decompression bomb is stopped
//! when it crosses the limit, not after it has been inflated.

use super::{FileKind, RawEntry, ScanLimits, secrets};
use crate::digest::Digest;
use sha2::{Digest as _, Sha256, Sha512};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

/// What one layer contains (also what the layer cache keeps).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct LayerContents {
    pub entries: Vec<RawEntry>,
    /// Whole files kept for later parsing (ELF executables, package databases).
    pub kept: Vec<(String, Vec<u8>)>,
    /// ELF files, analysed as they streamed by (their bytes are not kept).
    pub binaries: Vec<(String, super::elf::ElfInfo)>,
    pub secrets: Vec<secrets::Hit>,
    /// Executable `#!` scripts and their interpreter line.
    pub scripts: Vec<(String, super::programs::Shebang)>,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
}

/// The digest algorithms the OCI spec registers; a blob named by any other
/// cannot be verified and is refused.
enum Hasher {
    Sha256(Sha256),
    Sha512(Box<Sha512>),
}

impl Hasher {
    fn for_digest(d: Option<&Digest>, what: &str) -> Result<Hasher, String> {
        match d.map(Digest::algorithm) {
            None | Some("sha256") => Ok(Hasher::Sha256(Sha256::new())),
            Some("sha512") => Ok(Hasher::Sha512(Box::default())),
            Some(other) => Err(format!("the {what} uses digest algorithm `{other}`, which cannot be verified")),
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }
    fn digest(&mut self) -> Digest {
        let (alg, hex) = match self {
            Hasher::Sha256(h) => ("sha256", hex::encode(h.finalize_reset())),
            Hasher::Sha512(h) => ("sha512", hex::encode(h.finalize_reset())),
        };
        Digest::parse(&format!("{alg}:{hex}")).expect("a digest of a registered algorithm")
    }
}

/// Reads and hashes; the hasher and counter are shared so they can be read
/// after the reader has been moved into a decoder.
struct Hashing<'p, R> {
    inner: R,
    hasher: Rc<RefCell<Hasher>>,
    count: Rc<Cell<u64>>,
    progress: Option<&'p super::ProgressSink>,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.borrow_mut().update(&buf[..n]);
        self.count.set(self.count.get() + n as u64);
        if let Some(p) = self.progress {
            p.0.advance(n as u64);
        }
        Ok(n)
    }
}

/// Stops the stream with an error when the uncompressed size crosses a limit,
/// or the compression ratio shows a bomb.
struct Limited<R> {
    inner: R,
    /// Uncompressed bytes so far, counted by the inner `Hashing`.
    count: Rc<Cell<u64>>,
    compressed: Rc<Cell<u64>>,
    limits: ScanLimits,
    image_budget: u64,
}

fn limit_error(msg: String) -> io::Error {
    io::Error::other(LimitExceeded(msg))
}

#[derive(Debug)]
struct LimitExceeded(String);
impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for LimitExceeded {}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.count.get();
        if total > self.limits.max_layer_bytes {
            return Err(limit_error(format!(
                "more than {} bytes uncompressed (limit max-layer-bytes)",
                self.limits.max_layer_bytes
            )));
        }
        if total > self.image_budget {
            return Err(limit_error(format!(
                "the image exceeds {} bytes uncompressed (limit max-image-bytes)",
                self.limits.max_image_bytes
            )));
        }
        let packed = self.compressed.get().max(1);
        if total > self.limits.ratio_floor_bytes && total / packed > self.limits.max_ratio {
            return Err(limit_error(format!(
                "decompression bomb: {total} bytes inflated from {packed} (ratio over {}:1)",
                self.limits.max_ratio
            )));
        }
        Ok(n)
    }
}

enum Decoder<R: BufRead> {
    Plain(R),
    Gzip(Box<flate2::bufread::MultiGzDecoder<R>>),
    Zstd(zstd::stream::read::Decoder<'static, R>),
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Zstd(r) => r.read(buf),
        }
    }
}

impl<R: BufRead> Decoder<R> {
    fn into_inner(self) -> R {
        match self {
            Decoder::Plain(r) => r,
            Decoder::Gzip(r) => (*r).into_inner(),
            Decoder::Zstd(r) => r.finish(),
        }
    }
}

/// Reads through, feeding what it reads to a file's content hash, if one
/// is being computed.
struct Tee<'h, R> {
    inner: R,
    hash: Option<&'h mut Sha256>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hash.as_deref_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Where the layer came from and what it must hash to.
pub struct LayerSource<'a> {
    /// The digest of the blob as stored (compressed), when known.
    pub blob_digest: Option<&'a Digest>,
    /// The config's diffID: the digest of the uncompressed tar.
    pub diff_id: Option<&'a Digest>,
    /// The descriptor's size of the blob, when known.
    pub size: Option<u64>,
}

fn clean_path(raw: &[u8], limits: &ScanLimits) -> Result<String, String> {
    let text = String::from_utf8_lossy(raw);
    if text.len() > limits.max_path_bytes {
        return Err(format!(
            "an entry path is {} bytes long, more than {} (limit max-path-bytes)",
            text.len(),
            limits.max_path_bytes
        ));
    }
    // The root itself is written as `/` by some builders (kaniko); any other
    // absolute path would be extracted outside the image by naive tools.
    if text.starts_with('/') && !text.trim_matches('/').trim_start_matches("./").is_empty() {
        return Err(format!("entry `{text}` has an absolute path"));
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("entry `{text}` escapes the image root with `..`")),
            p => parts.push(p),
        }
    }
    if parts.len() > limits.max_path_depth {
        return Err(format!(
            "an entry path is {} directories deep, more than {} (limit max-path-depth)",
            parts.len(),
            limits.max_path_depth
        ));
    }
    Ok(parts.join("/"))
}

/// Resolves a symlink target against the link's directory, as the kernel
/// would inside a chroot; `None` if a relative target climbs above the root.
fn symlink_escapes(link_path: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return false; // absolute targets are interpreted inside the image root
    }
    let mut depth: i64 = link_path.matches('/').count() as i64; // directories above the link
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// A hard link is another name for a file this layer already wrote: the
/// same inode, so the same type, mode, owner, size and content — and the
/// same evidence (an ELF analysis, a secret) under the new name, which
/// survives if a later layer whites out the first name. A link to anything
/// else is refused: containerd's overlay applier resolves link targets in
/// the layer being unpacked only, other unpackers in the whole root, and
/// Linux cannot link directories.
fn link(out: &mut LayerContents, seen: &HashMap<String, usize>, path: &str, target: &str) -> Result<RawEntry, String> {
    let Some(&i) = seen.get(target).filter(|&&i| i < out.entries.len()) else {
        return Err(format!(
            "hard link `{path}` -> `{target}`: the target is not an earlier entry of this layer (runtimes disagree on such links)"
        ));
    };
    let original = out.entries[i].clone();
    if original.kind == FileKind::Directory {
        return Err(format!("hard link `{path}` -> `{target}`: a hard link to a directory cannot be unpacked"));
    }
    if let Some(b) = out.binaries.iter().find(|(p, _)| p == target).map(|(_, b)| b.clone()) {
        out.binaries.push((path.to_string(), b));
    }
    if let Some(k) = out.kept.iter().find(|(p, _)| p == target).map(|(_, k)| k.clone()) {
        out.kept.push((path.to_string(), k));
    }
    let hits: Vec<secrets::Hit> = out
        .secrets
        .iter()
        .filter(|h| h.path == target)
        .map(|h| secrets::Hit {
            path: path.to_string(),
            kind: h.kind.clone(),
            detail: format!("{} (hard link to /{target})", h.detail),
        })
        .collect();
    out.secrets.extend(hits);
    Ok(RawEntry { path: path.to_string(), hard_link_to: Some(target.to_string()), ..original })
}

fn is_package_db(path: &str) -> bool {
    path == "etc/passwd"
        || path == "etc/group"
        || path == "var/lib/dpkg/status"
        || path.starts_with("var/lib/dpkg/status.d/")
        || path == "lib/apk/db/installed"
        || path == "etc/os-release"
        || path == "usr/lib/os-release"
}

/// Scans one layer. `image_used` is the uncompressed budget already spent
/// by other layers (checked approximately: layers run in parallel).
pub fn scan(
    reader: Box<dyn Read + Send>,
    src: &LayerSource,
    limits: &ScanLimits,
    image_used: u64,
    progress: Option<&super::ProgressSink>,
) -> Result<LayerContents, String> {
    measured(reader, src, limits, image_used, progress).map(|m| m.0)
}

/// [`scan`], also returning the blob's digest and its diffID as read.
pub fn measured(
    reader: Box<dyn Read + Send>,
    src: &LayerSource,
    limits: &ScanLimits,
    image_used: u64,
    progress: Option<&super::ProgressSink>,
) -> Result<(LayerContents, Digest, Digest), String> {
    let blob_hash = Rc::new(RefCell::new(Hasher::for_digest(src.blob_digest, "layer blob")?));
    let blob_count = Rc::new(Cell::new(0u64));
    let hashing = Hashing { inner: reader, hasher: blob_hash.clone(), count: blob_count.clone(), progress };
    let mut buffered = BufReader::with_capacity(256 << 10, hashing);
    let magic = buffered.fill_buf().map_err(|e| format!("cannot read: {e}"))?.to_vec();
    let decoder = if magic.starts_with(&[0x1f, 0x8b]) {
        Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Decoder::Zstd(zstd::stream::read::Decoder::with_buffer(buffered).map_err(|e| format!("zstd: {e}"))?)
    } else {
        Decoder::Plain(buffered)
    };
    let diff_hash = Rc::new(RefCell::new(Hasher::for_digest(src.diff_id, "diffID")?));
    let diff_count = Rc::new(Cell::new(0u64));
    let limited = Limited {
        inner: Hashing { inner: decoder, hasher: diff_hash.clone(), count: diff_count.clone(), progress: None },
        count: diff_count.clone(),
        compressed: blob_count.clone(),
        limits: limits.clone(),
        image_budget: limits.max_image_bytes.saturating_sub(image_used),
    };
    let mut archive = crate::tarstream::Reader::new(limited);
    let mut out = LayerContents::default();
    // Paths of this layer so far, and where their entry is: hard links
    // resolve against them.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let describe = |e: io::Error| -> String {
        match e.get_ref().and_then(|i| i.downcast_ref::<LimitExceeded>()) {
            Some(l) => l.0.clone(),
            None => format!("corrupt or truncated data: {e}"),
        }
    };
    let describe_tar = |e: crate::tarstream::Error| -> String {
        match e {
            crate::tarstream::Error::Io(e) => describe(e),
            other => other.to_string(),
        }
    };
    let mut sniff = vec![0u8; limits.sniff_bytes];
    while let Some(header) = archive.next_entry().map_err(describe_tar)? {
        if out.entries.len() >= limits.max_entries {
            return Err(format!("more than {} entries (limit max-entries)", limits.max_entries));
        }
        let path = clean_path(&header.name, limits)?;
        if path.is_empty() {
            continue; // the root directory itself
        }
        if seen.insert(path.clone(), out.entries.len()).is_some() {
            return Err(format!(
                "entry `{path}` appears twice in the layer (a later copy would hide the first from some tools)"
            ));
        }
        use crate::tarstream::Kind as K;
        let kind = match header.kind {
            K::Regular => FileKind::Regular,
            K::Directory => FileKind::Directory,
            K::Symlink => FileKind::Symlink,
            K::Hardlink => FileKind::Hardlink,
            K::CharDevice => FileKind::CharDevice,
            K::BlockDevice => FileKind::BlockDevice,
            K::Fifo => FileKind::Fifo,
        };
        let (mode, uid, gid) = (header.mode, header.uid, header.gid);
        let size = header.size;
        let link_target = match kind {
            FileKind::Symlink | FileKind::Hardlink => Some(String::from_utf8_lossy(&header.linkname).into_owned()),
            _ => None,
        };
        if kind == FileKind::Symlink
            && let Some(t) = &link_target
            && symlink_escapes(&path, t)
        {
            return Err(format!("symlink `{path}` -> `{t}` points outside the image root"));
        }
        if kind == FileKind::Hardlink {
            let target = clean_path(&header.linkname, limits).map_err(|e| format!("hard link `{path}`: {e}"))?;
            let entry = link(&mut out, &seen, &path, &target)?;
            secrets::record(&mut out.secrets, secrets::by_path(&path, entry.kind));
            out.entries.push(entry);
            continue;
        }
        let mut entry = archive.content();
        let mut content = (limits.hash_contents && kind == FileKind::Regular).then(Sha256::new);
        let secret = if kind == FileKind::Regular && size > 0 {
            // Sniff the first bytes; keep ELF files and package databases whole.
            let want = (size as usize).min(sniff.len());
            entry.read_exact(&mut sniff[..want]).map_err(&describe)?;
            let head = &sniff[..want];
            let elf = head.starts_with(b"\x7fELF");
            if (elf || is_package_db(&path)) && size <= limits.max_binary_bytes {
                // The header's size is untrusted until the bytes arrive: reserve at most 16 MiB up front.
                let mut whole = Vec::with_capacity((size as usize).min(16 << 20));
                whole.extend_from_slice(head);
                (&mut entry).take(size - want as u64).read_to_end(&mut whole).map_err(&describe)?;
                if let Some(h) = &mut content {
                    h.update(&whole);
                }
                if elf {
                    out.binaries.push((path.clone(), super::elf::analyse(&whole)));
                } else {
                    out.kept.push((path.clone(), whole));
                }
                secrets::by_path(&path, kind)
            } else if elf {
                let info = super::elf::ElfInfo {
                    problem: Some(format!("{size} bytes: larger than max-binary-bytes, not analysed")),
                    ..Default::default()
                };
                out.binaries.push((path.clone(), info));
                if let Some(h) = &mut content {
                    h.update(head);
                }
                secrets::by_path(&path, kind)
            } else {
                if mode & 0o111 != 0
                    && let Some(s) = super::programs::shebang(head)
                {
                    out.scripts.push((path.clone(), s));
                }
                if let Some(h) = &mut content {
                    h.update(head);
                }
                // The whole file, streamed: a secret may sit anywhere in it.
                // The content hash sees the bytes the sniffing reads.
                let mut tee = Tee { inner: &mut entry, hash: content.as_mut() };
                secrets::sniff_stream(&path, head, size, &mut tee).map_err(&describe)?
            }
        } else {
            secrets::by_path(&path, kind)
        };
        secrets::record(&mut out.secrets, secret);
        let content = match content {
            Some(mut h) => {
                io::copy(&mut entry, &mut h).map_err(&describe)?;
                Some(h.finalize().into())
            }
            None => None,
        };
        out.entries.push(RawEntry { path, kind, mode, uid, gid, size, link_target, hard_link_to: None, content });
    }
    // Read what follows the last entry (end-of-archive blocks, padding) so the
    // diffID covers the whole tar, then what follows the compressed stream.
    let limited = archive.into_inner();
    let mut hashing = limited.inner;
    io::copy(&mut hashing, &mut io::sink()).map_err(describe)?;
    let mut raw = hashing.inner.into_inner();
    io::copy(&mut raw, &mut io::sink()).map_err(|e| format!("cannot read: {e}"))?;
    drop(raw);

    let diff = diff_hash.borrow_mut().digest();
    let blob = blob_hash.borrow_mut().digest();
    if let Some(expected) = src.diff_id
        && *expected != diff
    {
        return Err(format!("uncompressed content does not match its diffID: expected {expected}, got {diff}"));
    }
    if let Some(expected) = src.blob_digest
        && *expected != blob
    {
        return Err(format!("blob does not match its digest: expected {expected}, got {blob}"));
    }
    if let Some(size) = src.size
        && size != blob_count.get()
    {
        // Size budgets and reports use the descriptor's size: it must be true.
        return Err(format!("the descriptor says {size} bytes, the blob has {}", blob_count.get()));
    }
    out.compressed_bytes = blob_count.get();
    out.uncompressed_bytes = diff_count.get();
    Ok((out, blob, diff))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_and_hostile_ones_refused() {
        let l = ScanLimits::default();
        assert_eq!(clean_path(b"./usr/bin/", &l).unwrap(), "usr/bin");
        assert!(clean_path(b"/etc/passwd", &l).is_err());
        assert!(clean_path(b"a/../../etc/passwd", &l).is_err());
        assert!(clean_path("a/".repeat(600).as_bytes(), &l).is_err());
    }

    #[test]
    fn symlink_escape() {
        assert!(!symlink_escapes("usr/lib/x", "../../lib/y"));
        assert!(symlink_escapes("usr/lib/x", "../../../etc/shadow"));
        assert!(!symlink_escapes("a", "/etc/shadow"));
        assert!(symlink_escapes("a", "../b"));
    }
}
