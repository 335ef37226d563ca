//! A directory on disk as a [`Container`]: names are cleaned first, so none
//! reaches outside the root.

use super::{Container, ContainerError, Stream, clean_name};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

pub struct DirContainer {
    root: PathBuf,
}

impl DirContainer {
    pub fn new(root: &Path) -> Self {
        DirContainer { root: root.to_path_buf() }
    }
    fn path(&self, name: &str) -> Option<PathBuf> {
        clean_name(name).map(|n| self.root.join(n))
    }
}

impl Container for DirContainer {
    fn read(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>, ContainerError> {
        let Some(path) = self.path(name) else {
            return Ok(None);
        };
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ContainerError::Io { name: name.into(), source: e });
            }
        };
        let meta = file.metadata().map_err(|e| ContainerError::Io { name: name.into(), source: e })?;
        if !meta.is_file() {
            return Ok(None);
        }
        if meta.len() > max {
            return Err(ContainerError::TooLarge { name: name.into(), size: meta.len(), max });
        }
        let mut buf = Vec::with_capacity(meta.len() as usize);
        file.take(max + 1).read_to_end(&mut buf).map_err(|e| ContainerError::Io { name: name.into(), source: e })?;
        if buf.len() as u64 > max {
            return Err(ContainerError::TooLarge { name: name.into(), size: buf.len() as u64, max });
        }
        Ok(Some(buf))
    }

    fn open(&self, name: &str) -> Result<Option<Stream>, ContainerError> {
        let Some(path) = self.path(name) else {
            return Ok(None);
        };
        match File::open(&path) {
            Ok(f) => {
                let meta = f.metadata().map_err(|e| ContainerError::Io { name: name.into(), source: e })?;
                if !meta.is_file() {
                    return Ok(None);
                }
                Ok(Some((Box::new(f), meta.len())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ContainerError::Io { name: name.into(), source: e }),
        }
    }

    fn size(&self, name: &str) -> Option<u64> {
        let meta = std::fs::metadata(self.path(name)?).ok()?;
        meta.is_file().then_some(meta.len())
    }
}
