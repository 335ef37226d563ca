//! The layer-evidence cache: what scanning one layer blob found, kept on
//! disk by content, so a layer already scanned — the base layers every image
//! of a registry shares, a layer pushed again under another tag — is never
//! read, inflated and walked again, by `audit`, `serve` or the push gate.
//!
//! The key is everything that can change what a scan of the blob yields:
//! its digest and diffID (the content), the scanner's format (the crate
//! version and [`FORMAT`], bumped with any change to what a scan records),
//! and the scan limits that shape the result. A hit is exactly what the scan
//! would return now. Only successful scans are stored: a blob that failed a
//! limit or its digest is judged afresh every time.
//!
//! Why redb, not a directory of files: lookups are indexed, every write is an
//! atomic, crash-safe transaction, and the size bound is kept in the same
//! transaction as the insert (oldest entries evicted first). Values are
//! postcard-encoded (compact serde). A database another process holds open
//! is not waited for: that process simply scans without the cache.

use super::ScanLimits;
use crate::digest::Digest;
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::Path;

/// Bump when what a layer scan records changes shape or meaning.
pub const FORMAT: u32 = 2;

const ENTRIES: TableDefinition<&[u8], (u64, &[u8])> = TableDefinition::new("entries");
const ORDER: TableDefinition<u64, &[u8]> = TableDefinition::new("order");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub struct LayerCache {
    db: redb::Database,
    max_bytes: u64,
}

impl std::fmt::Debug for LayerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerCache").field("max_bytes", &self.max_bytes).finish()
    }
}

impl LayerCache {
    /// Opens (or creates) the cache at `path`, holding at most `max_bytes`
    /// of encoded evidence.
    pub fn open(path: &Path, max_bytes: u64) -> Result<LayerCache, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let db = redb::Database::create(path).map_err(|e| format!("layer cache {}: {e}", path.display()))?;
        Ok(LayerCache { db, max_bytes })
    }

    /// The key of a layer's evidence.
    pub fn key(blob: &Digest, diff_id: Option<&Digest>, limits: &ScanLimits) -> Vec<u8> {
        let shape = format!(
            "portcullis {} format {FORMAT} | {blob} | {} | layer {} entries {} path {}/{} sniff {} binary {} hash {}",
            env!("CARGO_PKG_VERSION"),
            diff_id.map(Digest::as_str).unwrap_or("-"),
            limits.max_layer_bytes,
            limits.max_entries,
            limits.max_path_bytes,
            limits.max_path_depth,
            limits.sniff_bytes,
            limits.max_binary_bytes,
            limits.hash_contents,
        );
        crate::digest::Digest::sha256(shape.as_bytes()).to_string().into_bytes()
    }

    /// The evidence stored under `key`; any failure to read is a miss.
    pub fn get<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Option<T> {
        let tx = self.db.begin_read().ok()?;
        let table = tx.open_table(ENTRIES).ok()?;
        let value = table.get(key).ok()??;
        postcard::from_bytes(value.value().1).ok()
    }

    /// Whether evidence is stored under `key` (without decoding it).
    pub fn contains(&self, key: &[u8]) -> bool {
        let Ok(tx) = self.db.begin_read() else { return false };
        let Ok(table) = tx.open_table(ENTRIES) else { return false };
        table.get(key).ok().flatten().is_some()
    }

    /// Stores `value` under `key`, evicting the oldest entries beyond the
    /// size bound.
    pub fn put<T: serde::Serialize>(&self, key: &[u8], value: &T) -> Result<(), String> {
        let bytes = postcard::to_allocvec(value).map_err(|e| e.to_string())?;
        if bytes.len() as u64 > self.max_bytes {
            return Ok(()); // larger than the whole cache: not kept
        }
        let err = |e: &dyn std::fmt::Display| format!("layer cache: {e}");
        let tx = self.db.begin_write().map_err(|e| err(&e))?;
        {
            let mut entries = tx.open_table(ENTRIES).map_err(|e| err(&e))?;
            let mut order = tx.open_table(ORDER).map_err(|e| err(&e))?;
            let mut meta = tx.open_table(META).map_err(|e| err(&e))?;
            let mut total = meta.get("bytes").map_err(|e| err(&e))?.map(|v| v.value()).unwrap_or(0);
            let seq = meta.get("seq").map_err(|e| err(&e))?.map(|v| v.value()).unwrap_or(0) + 1;
            let old = entries.insert(key, (seq, bytes.as_slice())).map_err(|e| err(&e))?.map(|v| {
                let (s, b) = v.value();
                (s, b.len() as u64)
            });
            if let Some((old_seq, old_len)) = old {
                order.remove(old_seq).map_err(|e| err(&e))?;
                total -= old_len.min(total);
            }
            order.insert(seq, key).map_err(|e| err(&e))?;
            total += bytes.len() as u64;
            while total > self.max_bytes {
                let Some((s, k)) =
                    order.pop_first().map_err(|e| err(&e))?.map(|(s, k)| (s.value(), k.value().to_vec()))
                else {
                    break;
                };
                let _ = s;
                if let Some(v) = entries.remove(k.as_slice()).map_err(|e| err(&e))? {
                    total -= (v.value().1.len() as u64).min(total);
                }
            }
            meta.insert("bytes", total).map_err(|e| err(&e))?;
            meta.insert("seq", seq).map_err(|e| err(&e))?;
        }
        tx.commit().map_err(|e| err(&e))
    }

    /// Entries and encoded bytes held.
    pub fn stats(&self) -> (u64, u64) {
        let read = || -> Option<(u64, u64)> {
            let tx = self.db.begin_read().ok()?;
            let entries = tx.open_table(ENTRIES).ok()?.len().ok()?;
            let bytes = tx.open_table(META).ok()?.get("bytes").ok()??.value();
            Some((entries, bytes))
        };
        read().unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_by_key_and_evicts_oldest_beyond_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::open(&dir.path().join("layers.redb"), 3000).unwrap();
        let limits = ScanLimits::default();
        let d = |n: u8| Digest::sha256(&[n]);
        let key = |n: u8| LayerCache::key(&d(n), None, &limits);
        assert_ne!(key(1), LayerCache::key(&d(1), None, &ScanLimits { sniff_bytes: 1, ..limits.clone() }));
        assert_ne!(key(1), LayerCache::key(&d(1), Some(&d(2)), &limits));
        for n in 0..4u8 {
            cache.put(&key(n), &vec![n; 1000]).unwrap();
        }
        assert_eq!(cache.get::<Vec<u8>>(&key(0)), None, "the oldest was evicted");
        assert_eq!(cache.get::<Vec<u8>>(&key(3)), Some(vec![3; 1000]));
        let (entries, bytes) = cache.stats();
        assert!(entries <= 3 && bytes <= 3000, "{entries} entries, {bytes} bytes");
        assert_eq!(cache.get::<Vec<u8>>(b"no such key"), None);
    }
}
