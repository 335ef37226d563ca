//! The merged filesystem as plugins see it: one entry per path ([`FileEntry`])
//! and the queries on it ([`FileIndex`]). Defined by the scanner, which
//! produces them; the evidence of an image carries them (through
//! [`ImageScan`](super::ImageScan)) and the plugin host serves them.

/// Filesystem entry kinds, as the WIT `filesystem` interface names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FileKind {
    Regular,
    Directory,
    Symlink,
    Hardlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Other,
}

#[derive(Debug, Clone)]
pub struct FileEntry {
    pub path: String,
    pub kind: FileKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub link_target: Option<String>,
    pub layer: u32,
    /// SHA-256 of a regular file's content, when the scan hashed contents.
    pub content: Option<[u8; 32]>,
}

/// The merged filesystem of an image, as plugins query it. Implemented by the
/// layer scanner; absent when the layers were not scanned.
pub trait FileIndex: Send + Sync + std::fmt::Debug {
    fn stat(&self, path: &str) -> Option<FileEntry>;
    fn glob(&self, pattern: &str, limit: usize) -> Vec<FileEntry>;
}
