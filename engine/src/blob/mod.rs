//! A read-only bag of named files ([`Container`]): a directory on disk
//! ([`DirContainer`]), a tar archive read in place ([`TarContainer`]), or a
//! registry's blob cache. Image formats (OCI layout, docker save) are read
//! through this, so each format is implemented once for both directories and
//! archives.
//!
//! The lowest layer of the input stage: the layer scanner streams blobs
//! through it, the registry client serves its cache through it and the input
//! readers open it, so it depends on none of them (`.ci/layers.py` checks
//! the order of the input stage's modules).

mod archive;
mod dir;

pub use archive::TarContainer;
pub use dir::DirContainer;

use std::io::Read;
use std::path::{Component, Path};

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("{name}: {source}")]
    Io { name: String, source: std::io::Error },
    #[error("{name} is {size} bytes, more than the {max} bytes allowed for it")]
    TooLarge { name: String, size: u64, max: u64 },
    #[error("{0}")]
    Malformed(String),
}

/// A file opened for streaming, with its size.
pub type Stream = (Box<dyn Read + Send>, u64);

pub trait Container: Send + Sync {
    /// Reads a whole file, at most `max` bytes; `Ok(None)` when absent.
    fn read(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>, ContainerError>;
    /// Opens a file for streaming (layers are never read whole), with its
    /// size; `Ok(None)` when absent. Each call has its own file handle, so
    /// several layers can be streamed in parallel.
    fn open(&self, name: &str) -> Result<Option<Stream>, ContainerError>;
    fn size(&self, name: &str) -> Option<u64>;
    fn exists(&self, name: &str) -> bool {
        self.size(name).is_some()
    }
}

/// Normalises an archive-relative name: no leading `./` or `/`, no `..`.
fn clean_name(name: &str) -> Option<String> {
    let mut parts = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?.to_string()),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}
