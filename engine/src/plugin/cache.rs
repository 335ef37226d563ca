//! On-disk cache of compiled components, keyed by (wasm sha256, engine
//! settings), so a cold start deserialises machine code instead of running
//! cranelift. Entries are written atomically (temp file + rename).
//!
//! Trust: deserialising a cached artifact executes native code from it, so
//! the cache directory must be writable only by the user running Portcullis
//! (the default is the per-user cache directory). An entry that fails to load
//! is recompiled and replaced.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheStatus {
    /// Loaded from the on-disk cache.
    Hit,
    /// Compiled and stored in the cache.
    Miss,
    /// Compiled; no cache in use.
    Off,
}

/// The default cache directory: `$PORTCULLIS_CACHE_DIR`, else the user's cache
/// directory (`~/.cache/portcullis/components`).
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("PORTCULLIS_CACHE_DIR") {
        return Some(PathBuf::from(d).join("components"));
    }
    dirs::cache_dir().map(|d| d.join("portcullis").join("components"))
}

fn key(engine: &Engine, wasm_sha256: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    env!("CARGO_PKG_VERSION").hash(&mut h);
    format!("{wasm_sha256}-{:016x}.cwasm", h.finish())
}

/// Loads `wasm` as a component, through the cache in `dir` when given.
pub fn load(
    engine: &Engine,
    wasm: &[u8],
    wasm_sha256: &str,
    dir: Option<&Path>,
) -> wasmtime::Result<(Component, CacheStatus)> {
    let Some(dir) = dir else {
        return Ok((Component::new(engine, wasm)?, CacheStatus::Off));
    };
    let path = dir.join(key(engine, wasm_sha256));
    if path.is_file() {
        // SAFETY: the file was produced by `Component::serialize` for an
        // engine with the same compatibility hash (it is in the key), in a
        // directory only this user writes (see the module docs).
        if let Ok(c) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok((c, CacheStatus::Hit));
        }
    }
    let component = Component::new(engine, wasm)?;
    let stored = (|| -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let bytes = component.serialize().map_err(std::io::Error::other)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, &bytes)?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    })();
    Ok((component, if stored.is_ok() { CacheStatus::Miss } else { CacheStatus::Off }))
}
