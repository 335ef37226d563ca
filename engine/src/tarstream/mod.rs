//! Tar streams read as the runtimes read them.
//!
//! Why not the `tar` crate: every tool that unpacks an image — containerd,
//! moby, umoci, buildah, skopeo — reads layers with Go's `archive/tar`, and
//! the two readers disagree on crafted headers: the `tar` crate ignores GNU
//! long names and PAX records in V7 headers, reads base-256 modes as errors
//! (so a setuid bit vanished), parses octal fields differently, skips a
//! symlink's declared data where Go reads it as the next header, and shows a
//! PAX sparse file under its placeholder name. An image could then put one
//! file in front of the policy and another in front of the kernel. This
//! reader mirrors `archive/tar` (`reader.go`, Go 1.19–1.23) decision by
//! decision, so the names, types, modes, owners, sizes and contents it
//! yields are the ones the runtime unpacks.
//!
//! Where the runtimes themselves disagree, or unpack something no policy can
//! reason about, the entry is refused ([`Error::Ambiguous`]) rather than
//! guessed at: sparse files (GNU old format and PAX 0.0/0.1/1.0, which Go
//! expands and others do not), entry types containerd refuses to unpack,
//! PAX global headers (containerd skips them, umoci refuses the layer),
//! owners outside the 32-bit range.

mod block;
mod pax;

pub use block::{BLOCK, Format};

use std::io::{self, Read};

/// Extended headers and GNU long names are read whole: Go caps them at 1 MiB.
const MAX_SPECIAL: u64 = 1 << 20;

/// The entry types as the runtime applies them (after Go's `TypeRegA`
/// conversion). Everything else is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Regular,
    Hardlink,
    Symlink,
    CharDevice,
    BlockDevice,
    Directory,
    Fifo,
}

/// One entry, as `archive/tar` returns it and containerd applies it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The name as stored (prefix, PAX `path`, GNU long name applied), not
    /// cleaned: callers decide what an absolute or `..` name means.
    pub name: Vec<u8>,
    pub linkname: Vec<u8>,
    pub kind: Kind,
    /// Permission and set-id bits as Go's `FileInfo().Mode()` keeps them.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Bytes of content (0 for every header-only type, whatever the header says).
    pub size: u64,
    /// `SCHILY.xattr.*` records (containerd sets them on the file).
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    pub format: Format,
    /// Offset of the content in the stream (for archives read in place).
    pub offset: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the underlying stream failed (limits surface here too).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Go's `archive/tar` would fail here too (`ErrHeader`): the runtime
    /// cannot unpack the layer.
    #[error("tar header at byte {offset}: {message}")]
    Header { offset: u64, message: String },
    /// The readers that unpack images do not agree on this entry.
    #[error("tar entry `{name}` at byte {offset}: {message}")]
    Ambiguous { offset: u64, name: String, message: String },
}

/// Counts bytes read, so entries know their offsets.
struct Counted<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Reads entries one after the other; the content of the current entry is
/// read with [`Reader::content`], and whatever is left of it is skipped by
/// the next call to [`Reader::next_entry`].
pub struct Reader<R> {
    r: Counted<R>,
    /// Content bytes of the current entry not yet read, and its padding.
    remaining: u64,
    pad: u64,
    done: bool,
}

/// `io::ReadFull` semantics: `Ok(false)` on a clean end before any byte.
fn read_block<R: Read>(r: &mut R, buf: &mut [u8; BLOCK]) -> io::Result<bool> {
    let mut n = 0;
    while n < BLOCK {
        match r.read(&mut buf[n..]) {
            Ok(0) if n == 0 => return Ok(false),
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside a header")),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn skip<R: Read>(r: &mut R, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.take(n), &mut io::sink())?;
    if copied < n {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside an entry"));
    }
    Ok(())
}

fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// Go's `isHeaderOnlyType`: these carry no content, whatever `size` says.
fn header_only(flag: u8) -> bool {
    matches!(flag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6')
}

impl<R: Read> Reader<R> {
    pub fn new(inner: R) -> Self {
        Reader { r: Counted { inner, pos: 0 }, remaining: 0, pad: 0, done: false }
    }

    /// The underlying reader, positioned after the end-of-archive marker
    /// (or wherever reading stopped).
    pub fn into_inner(self) -> R {
        self.r.inner
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.r.pos
    }

    /// Reads the content of the current entry (at most its size).
    pub fn content(&mut self) -> Content<'_, R> {
        Content { reader: self }
    }

    fn header_error(&self, offset: u64, message: impl Into<String>) -> Error {
        Error::Header { offset, message: message.into() }
    }

    /// Reads the whole content of a meta entry (PAX header, GNU long name).
    fn special(&mut self, offset: u64, size: i64) -> Result<Vec<u8>, Error> {
        if size < 0 {
            return Err(self.header_error(offset, "negative size"));
        }
        if size as u64 > MAX_SPECIAL {
            return Err(
                self.header_error(offset, format!("an extended header of {size} bytes (Go refuses more than 1 MiB)"))
            );
        }
        let mut buf = Vec::with_capacity(size as usize);
        (&mut self.r).take(size as u64).read_to_end(&mut buf)?;
        if buf.len() as u64 != size as u64 {
            return Err(
                io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside an extended header").into()
            );
        }
        skip(&mut self.r, padding(size as u64))?;
        Ok(buf)
    }

    /// The next entry, `None` at the end of the archive.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, Error> {
        if self.done {
            return Ok(None);
        }
        skip(&mut self.r, self.remaining + self.pad)?;
        self.remaining = 0;
        self.pad = 0;
        let mut pax: Option<std::collections::BTreeMap<Vec<u8>, Vec<u8>>> = None;
        let (mut long_name, mut long_link): (Option<Vec<u8>>, Option<Vec<u8>>) = (None, None);
        let mut blk = [0u8; BLOCK];
        loop {
            let offset = self.r.pos;
            if !read_block(&mut self.r, &mut blk)? {
                // Go: EOF before a header is the end (no end-of-archive
                // blocks needed); a pending extended header is dropped.
                self.done = true;
                return Ok(None);
            }
            if blk.iter().all(|&c| c == 0) {
                if !read_block(&mut self.r, &mut blk)? || blk.iter().all(|&c| c == 0) {
                    self.done = true;
                    return Ok(None);
                }
                return Err(self.header_error(offset, "a zero block followed by a header (Go refuses the archive)"));
            }
            let raw = block::parse(&blk).map_err(|e| self.header_error(offset, e.0))?;
            match raw.typeflag {
                b'x' | b'g' => {
                    let data = self.special(offset, raw.size)?;
                    let records = pax::parse(&data).map_err(|e| self.header_error(offset, e.0))?;
                    if raw.typeflag == b'g' {
                        // Go hands it to the caller: containerd and Docker
                        // skip it, umoci refuses the layer ("unknown type").
                        return Err(Error::Ambiguous {
                            offset,
                            name: String::from_utf8_lossy(&raw.name).into_owned(),
                            message: "a PAX global header: containerd and Docker skip it, umoci refuses the layer"
                                .into(),
                        });
                    }
                    pax = Some(records);
                }
                b'L' => long_name = Some(block::c_string(&self.special(offset, raw.size)?).to_vec()),
                b'K' => long_link = Some(block::c_string(&self.special(offset, raw.size)?).to_vec()),
                _ => return self.entry(offset, raw, pax.take(), long_name.take(), long_link.take()).map(Some),
            }
        }
    }

    /// Applies PAX records, then GNU long names (Go's order), and decides
    /// what the runtime makes of the header.
    fn entry(
        &mut self,
        offset: u64,
        mut raw: block::RawHeader,
        pax: Option<std::collections::BTreeMap<Vec<u8>, Vec<u8>>>,
        long_name: Option<Vec<u8>>,
        long_link: Option<Vec<u8>>,
    ) -> Result<Entry, Error> {
        let mut xattrs = Vec::new();
        let mut sparse = raw.typeflag == b'S';
        for (k, v) in pax.iter().flatten() {
            if k.starts_with(b"GNU.sparse.") {
                sparse = true;
            }
            if v.is_empty() {
                continue; // Go keeps the header's value
            }
            let number = |what: &str| {
                pax::decimal(v)
                    .ok_or_else(|| self.header_error(offset, format!("the PAX {what} record is not a number")))
            };
            match k.as_slice() {
                b"path" => raw.name = v.clone(),
                b"linkpath" => raw.linkname = v.clone(),
                b"uid" => raw.uid = number("uid")?,
                b"gid" => raw.gid = number("gid")?,
                b"size" => raw.size = number("size")?,
                b"mtime" | b"atime" | b"ctime" => {
                    let ok = std::str::from_utf8(v).ok().is_some_and(|t| {
                        let (secs, frac) = t.split_once('.').unwrap_or((t, "0"));
                        secs.parse::<i64>().is_ok() && frac.bytes().all(|c| c.is_ascii_digit())
                    });
                    if !ok {
                        return Err(self.header_error(offset, "a PAX time record is not a decimal time"));
                    }
                }
                _ => {
                    if let Some(name) = k.strip_prefix(b"SCHILY.xattr.") {
                        xattrs.push((name.to_vec(), v.clone()));
                    }
                }
            }
        }
        if let Some(n) = long_name.filter(|n| !n.is_empty()) {
            raw.name = n;
        }
        if let Some(l) = long_link.filter(|l| !l.is_empty()) {
            raw.linkname = l;
        }
        let shown = String::from_utf8_lossy(&raw.name).into_owned();
        let ambiguous = |message: String| Error::Ambiguous { offset, name: shown.clone(), message };
        if sparse {
            return Err(ambiguous(
                "a sparse file: Go expands it under another name and size, other readers do not; refused".into(),
            ));
        }
        let kind = match raw.typeflag {
            b'0' | b'7' => Kind::Regular,
            0 if raw.name.ends_with(b"/") => Kind::Directory,
            0 => Kind::Regular,
            b'1' => Kind::Hardlink,
            b'2' => Kind::Symlink,
            b'3' => Kind::CharDevice,
            b'4' => Kind::BlockDevice,
            b'5' => Kind::Directory,
            b'6' => Kind::Fifo,
            other => {
                return Err(ambiguous(format!(
                    "entry type {} is not one the runtime unpacks (containerd refuses it)",
                    if other.is_ascii_graphic() { format!("`{}`", other as char) } else { format!("0x{other:02x}") }
                )));
            }
        };
        if raw.typeflag == b'7' {
            return Err(ambiguous("a contiguous file (type 7): containerd refuses it, other tools unpack it".into()));
        }
        if raw.size < 0 {
            return Err(self.header_error(offset, "negative size"));
        }
        for (what, id) in [("uid", raw.uid), ("gid", raw.gid)] {
            if !(0..i64::from(u32::MAX)).contains(&id) {
                return Err(ambiguous(format!(
                    "{what} {id} is outside the range of owners (-1 leaves the unpacking process as owner)"
                )));
            }
        }
        let size = if header_only(raw.typeflag) { 0 } else { raw.size as u64 };
        self.remaining = size;
        self.pad = padding(size);
        Ok(Entry {
            name: raw.name,
            linkname: raw.linkname,
            kind,
            mode: (raw.mode as u64 & 0o7777) as u32,
            uid: raw.uid as u32,
            gid: raw.gid as u32,
            size,
            xattrs,
            format: raw.format,
            offset: self.r.pos,
        })
    }
}

/// The content of the current entry.
pub struct Content<'a, R> {
    reader: &'a mut Reader<R>,
}

impl<R: Read> Read for Content<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (buf.len() as u64).min(self.reader.remaining) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.reader.r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside an entry"));
        }
        self.reader.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
