//! What this gate has admitted, for `--admitted-only`: a manifest pushed by
//! digest is pullable by digest on any registry, so a gate that only judged
//! tags would let `image@sha256:…` of a denied image run. With the record,
//! a `GET` of a runnable manifest by digest is answered only for digests
//! admitted under a tag (an index, and every manifest it lists).
//!
//! Kept on disk (redb, next to the blob cache), so a restart does not turn
//! admitted images unpullable; each gate keeps its own record (replicas
//! behind one Service each need the pushes they judged — run one gate per
//! upstream, or give replicas one volume and one writer).

use crate::digest::Digest;
use redb::{ReadableDatabase, TableDefinition};
use std::path::Path;

/// Digest → when it was admitted (seconds since the epoch).
const ADMITTED: TableDefinition<&str, u64> = TableDefinition::new("admitted");

pub struct Admitted {
    db: redb::Database,
}

impl Admitted {
    pub fn open(path: &Path) -> Result<Admitted, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let db = redb::Database::create(path)
            .map_err(|e| format!("admitted-digest record {}: {e} (is another gate using it?)", path.display()))?;
        Ok(Admitted { db })
    }

    /// Records digests as admitted, in one transaction.
    pub fn record(&self, digests: &[Digest]) -> Result<(), String> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let err = |e: &dyn std::fmt::Display| format!("admitted-digest record: {e}");
        let tx = self.db.begin_write().map_err(|e| err(&e))?;
        {
            let mut table = tx.open_table(ADMITTED).map_err(|e| err(&e))?;
            for d in digests {
                table.insert(d.as_str(), now).map_err(|e| err(&e))?;
            }
        }
        tx.commit().map_err(|e| err(&e))
    }

    /// Whether `digest` was admitted; a record that cannot be read says no.
    pub fn contains(&self, digest: &Digest) -> bool {
        let Ok(tx) = self.db.begin_read() else { return false };
        let Ok(table) = tx.open_table(ADMITTED) else { return false };
        table.get(digest.as_str()).ok().flatten().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_digests_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gate.redb");
        let (a, b) = (Digest::sha256(b"a"), Digest::sha256(b"b"));
        {
            let record = Admitted::open(&path).unwrap();
            assert!(!record.contains(&a), "an empty record admits nothing");
            record.record(std::slice::from_ref(&a)).unwrap();
        }
        let record = Admitted::open(&path).unwrap();
        assert!(record.contains(&a));
        assert!(!record.contains(&b));
    }
}
