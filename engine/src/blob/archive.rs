//! A tar archive as a [`Container`], read in place: one pass indexes the
//! entry offsets, then every read seeks — nothing is extracted. Links are
//! resolved inside the archive only.

use super::{Container, ContainerError, Stream, clean_name};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Joins `target` onto the directory `base` (both archive-relative),
/// resolving `.` and `..`; `None` if the result would leave the archive root.
fn resolve_within(base: &str, target: &str) -> Option<String> {
    let mut stack: Vec<&str> =
        if target.starts_with('/') { Vec::new() } else { base.split('/').filter(|p| !p.is_empty()).collect() };
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                stack.pop()?;
            }
            p => stack.push(p),
        }
    }
    Some(stack.join("/"))
}

#[derive(Debug, Clone)]
enum TarEntry {
    File { offset: u64, size: u64 },
    Link(String),
}

/// Limits for indexing an archive's table of contents.
pub const MAX_ARCHIVE_ENTRIES: usize = 1_000_000;
pub const MAX_ARCHIVE_NAME: usize = 4096;

pub struct TarContainer {
    path: PathBuf,
    file: Mutex<File>,
    entries: HashMap<String, TarEntry>,
}

impl TarContainer {
    /// Indexes the archive's entries (one sequential pass over headers).
    pub fn open(path: &Path) -> Result<Self, ContainerError> {
        let io = |e: std::io::Error| ContainerError::Io { name: path.display().to_string(), source: e };
        let file = File::open(path).map_err(io)?;
        // Read as `docker load` and skopeo read it (Go's archive/tar).
        let mut archive = crate::tarstream::Reader::new(std::io::BufReader::new(file.try_clone().map_err(io)?));
        let mut entries = HashMap::new();
        let mut i = 0usize;
        loop {
            let entry = match archive.next_entry() {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => return Err(ContainerError::Malformed(format!("tar entry #{i} is unreadable: {e}"))),
            };
            i += 1;
            if i > MAX_ARCHIVE_ENTRIES {
                return Err(ContainerError::Malformed(format!(
                    "more than {MAX_ARCHIVE_ENTRIES} entries in the archive"
                )));
            }
            if entry.name.len() > MAX_ARCHIVE_NAME {
                return Err(ContainerError::Malformed(format!(
                    "tar entry #{i} has a name longer than {MAX_ARCHIVE_NAME} bytes"
                )));
            }
            let Some(name) = std::str::from_utf8(&entry.name).ok().and_then(clean_name) else {
                continue;
            };
            use crate::tarstream::Kind;
            let value = match entry.kind {
                Kind::Regular => TarEntry::File { offset: entry.offset, size: entry.size },
                Kind::Hardlink | Kind::Symlink => {
                    let target = String::from_utf8_lossy(&entry.linkname).to_string();
                    // Hard links name a path from the archive root; relative
                    // symlinks are relative to the link's own directory.
                    let base = if entry.kind == Kind::Symlink && !target.starts_with('/') {
                        name.rsplit_once('/').map(|(d, _)| d)
                    } else {
                        None
                    };
                    match resolve_within(base.unwrap_or(""), &target) {
                        Some(t) => TarEntry::Link(t),
                        None => continue, // points outside the archive: treated as absent
                    }
                }
                _ => continue,
            };
            // A name listed twice: `docker load` extracts the archive (the
            // later copy wins), skopeo reads the first copy: refused.
            if entries.insert(name.clone(), value).is_some() {
                return Err(ContainerError::Malformed(format!(
                    "`{name}` appears twice in the archive: docker load would read one copy, skopeo the other"
                )));
            }
        }
        Ok(TarContainer { path: path.to_path_buf(), file: Mutex::new(file), entries })
    }

    fn resolve(&self, name: &str) -> Option<(u64, u64)> {
        let mut name = clean_name(name)?;
        for _ in 0..16 {
            match self.entries.get(&name)? {
                TarEntry::File { offset, size } => return Some((*offset, *size)),
                TarEntry::Link(t) => name = t.clone(),
            }
        }
        None
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

impl Container for TarContainer {
    fn read(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>, ContainerError> {
        let Some((offset, size)) = self.resolve(name) else {
            return Ok(None);
        };
        if size > max {
            return Err(ContainerError::TooLarge { name: name.into(), size, max });
        }
        let io = |e: std::io::Error| ContainerError::Io { name: format!("{}:{name}", self.path.display()), source: e };
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut buf = vec![0u8; size as usize];
        file.read_exact(&mut buf).map_err(io)?;
        Ok(Some(buf))
    }

    fn open(&self, name: &str) -> Result<Option<Stream>, ContainerError> {
        let Some((offset, size)) = self.resolve(name) else {
            return Ok(None);
        };
        let io = |e: std::io::Error| ContainerError::Io { name: format!("{}:{name}", self.path.display()), source: e };
        let mut file = File::open(&self.path).map_err(io)?;
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        Ok(Some((Box::new(file.take(size)), size)))
    }

    fn size(&self, name: &str) -> Option<u64> {
        self.resolve(name).map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::resolve_within;

    #[test]
    fn links_resolve_inside_the_archive_only() {
        assert_eq!(resolve_within("b159", "../6e77/layer.tar").as_deref(), Some("6e77/layer.tar"));
        assert_eq!(resolve_within("a/b", "./c/../d").as_deref(), Some("a/b/d"));
        assert_eq!(resolve_within("a", "/x/y").as_deref(), Some("x/y"));
        assert_eq!(resolve_within("", "../etc/passwd"), None);
        assert_eq!(resolve_within("a", "../../etc/passwd"), None);
    }
}
