//! The offline vulnerability database: OSV records in one redb file.
//!
//! Why redb: the matcher looks up a few hundred (ecosystem, package) keys
//! per image and needs only their records, so the store must answer point
//! lookups without loading the whole data set (a JSON file of the Go
//! database alone is 18 MB, all ecosystems of osv.dev several GB); redb is
//! an embedded, transactional, pure-Rust B-tree store (no C library, no
//! server), already used for the layer and admitted-push caches, and a
//! database built by `db import` is replaced atomically (written beside,
//! then renamed), so a running server never sees half an import.
//!
//! Tables: `records` (id → postcard [`Record`]), `packages` (`ecosystem\0
//! name` → ids), `meta` (schema, digest, newest time, counts). The digest
//! is a SHA-256 over every record in id order, so the same data gives the
//! same digest whatever order the files were read in; it is part of the
//! engine fingerprint, so cached verdicts change when the data does.

use super::osv::{self, Record};
use rayon::prelude::*;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");
const PACKAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("packages");
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

/// Bumped with any change to what is stored.
pub const SCHEMA: &str = "portcullis-osv-1";

/// Files are parsed this many at a time, so memory stays bounded by a batch
/// whatever the number of records.
const BATCH: usize = 2048;

/// One record that could not be imported.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// `DIR/GO-2021-0113.json`, or `all.zip!GHSA-….json`.
    pub file: String,
    pub problem: osv::Malformed,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.problem)
    }
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub info: Info,
    pub rejected: Vec<Rejected>,
    /// Files skipped as not being records (the Go database's `index/`).
    pub skipped: usize,
}

/// What `db info` prints.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Info {
    pub schema: String,
    pub digest: String,
    pub records: u64,
    /// Records per ecosystem (the part before `:`), a record counted once
    /// per ecosystem it names.
    pub ecosystems: BTreeMap<String, u64>,
    /// The newest `modified` time (a record's `published` when its
    /// `modified` is the zero time, as golang/vulndb's repository writes).
    pub newest: Option<String>,
    pub imported: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Rejected(Rejected),
    #[error("{path} is not a Portcullis vulnerability database ({message}); build one with `portcullis db import`")]
    NotADatabase { path: String, message: String },
    #[error(
        "{path} was built by another version (schema {found}, this build reads {SCHEMA}); rebuild it with `portcullis db import`"
    )]
    Schema { path: String, found: String },
    #[error("vulnerability database {path}: {message}")]
    Store { path: String, message: String },
}

fn io(path: &Path, e: impl std::fmt::Display) -> DbError {
    DbError::Io { path: path.display().to_string(), message: e.to_string() }
}

/// A source file: a name for messages and its bytes (read lazily).
enum Source {
    File(PathBuf),
    Zip { archive: PathBuf, entry: String },
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Zip { archive, entry } => format!("{}!{entry}", archive.display()),
        }
    }
}

/// The Go vulnerability database's index files (`index/db.json`,
/// `modules.json`, `vulns.json`) are not records.
fn is_index(path: &Path) -> bool {
    path.parent().and_then(Path::file_name).is_some_and(|d| d == "index")
        && path.file_name().is_some_and(|f| matches!(f.to_str(), Some("db.json" | "modules.json" | "vulns.json")))
}

/// Every record file under `paths`: folders (recursively), `.json` files
/// and `.zip` archives of them.
fn sources(paths: &[PathBuf], skipped: &mut usize) -> Result<Vec<Source>, DbError> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).map_err(|e| io(&p, e))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> =
                std::fs::read_dir(&p).map_err(|e| io(&p, e))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            stack.extend(entries.into_iter().rev());
        } else if p.extension().is_some_and(|e| e == "zip") {
            let file = std::fs::File::open(&p).map_err(|e| io(&p, e))?;
            let zip = zip::ZipArchive::new(file).map_err(|e| io(&p, format!("not a readable zip archive: {e}")))?;
            for name in zip.file_names().flatten() {
                if name.ends_with(".json") {
                    out.push(Source::Zip { archive: p.clone(), entry: name.to_string() });
                }
            }
        } else if p.extension().is_some_and(|e| e == "json") {
            if is_index(&p) {
                *skipped += 1;
            } else {
                out.push(Source::File(p));
            }
        } else if paths.contains(&p) {
            return Err(io(&p, "neither a folder, a .json record nor a .zip of records"));
        } else {
            *skipped += 1;
        }
    }
    Ok(out)
}

/// Reads one source, at most [`osv::MAX_RECORD_BYTES`] + 1 bytes of it.
fn read(source: &Source, zips: &mut BTreeMap<PathBuf, zip::ZipArchive<std::fs::File>>) -> Result<Vec<u8>, String> {
    let limit = osv::MAX_RECORD_BYTES as u64 + 1;
    let mut buf = Vec::new();
    match source {
        Source::File(p) => {
            std::fs::File::open(p).and_then(|f| f.take(limit).read_to_end(&mut buf)).map_err(|e| e.to_string())?;
        }
        Source::Zip { archive, entry } => {
            if !zips.contains_key(archive) {
                let f = std::fs::File::open(archive).map_err(|e| e.to_string())?;
                zips.insert(archive.clone(), zip::ZipArchive::new(f).map_err(|e| e.to_string())?);
            }
            let zip = zips.get_mut(archive).ok_or("archive vanished")?;
            let file = zip.by_name(entry).map_err(|e| e.to_string())?;
            file.take(limit).read_to_end(&mut buf).map_err(|e| e.to_string())?;
        }
    }
    Ok(buf)
}

/// Imports every record under `paths` into a new database at `out`,
/// replacing it atomically. With `strict`, the first malformed record
/// fails the import; otherwise malformed records are reported and skipped.
pub fn import(paths: &[PathBuf], out: &Path, strict: bool) -> Result<Imported, DbError> {
    let mut skipped = 0;
    let sources = sources(paths, &mut skipped)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    let tmp = out.with_extension(format!("importing-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let store = |e: &dyn std::fmt::Display| DbError::Store { path: out.display().to_string(), message: e.to_string() };
    let db = redb::Database::create(&tmp).map_err(|e| store(&e))?;
    let mut rejected = Vec::new();
    let mut packages: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut ecosystems: BTreeMap<String, u64> = BTreeMap::new();
    let mut newest: Option<jiff::Timestamp> = None;
    let mut ids = std::collections::HashSet::new();
    let txn = db.begin_write().map_err(|e| store(&e))?;
    // With `strict`, the first rejection ends the import (and its file).
    let mut refused: Option<Rejected> = None;
    {
        let mut records = txn.open_table(RECORDS).map_err(|e| store(&e))?;
        'batches: for batch in sources.chunks(BATCH) {
            let parsed: Vec<(String, Result<Record, osv::Malformed>)> = batch
                .par_iter()
                .map_init(BTreeMap::new, |zips, s| {
                    let r = read(s, zips)
                        .map_err(|e| osv::Malformed { pointer: String::new(), message: format!("cannot read: {e}") })
                        .and_then(|b| osv::parse(&b));
                    (s.name(), r)
                })
                .collect();
            for (file, r) in parsed {
                let twice = |r: &Record| osv::Malformed {
                    pointer: "/id".into(),
                    message: format!("{} is imported twice", r.id),
                };
                let record = match r {
                    Ok(r) if !ids.contains(&r.id) => r,
                    Ok(r) => {
                        rejected.push(Rejected { file, problem: twice(&r) });
                        continue;
                    }
                    Err(problem) => {
                        rejected.push(Rejected { file, problem });
                        continue;
                    }
                };
                ids.insert(record.id.clone());
                let mut seen = std::collections::BTreeSet::new();
                for a in &record.affected {
                    let key = format!("{}\0{}", a.ecosystem, a.name);
                    let list = packages.entry(key).or_default();
                    if list.last() != Some(&record.id) {
                        list.push(record.id.clone());
                    }
                    seen.insert(a.ecosystem.split(':').next().unwrap_or("").to_string());
                }
                for e in seen {
                    *ecosystems.entry(e).or_default() += 1;
                }
                newest = newest.max(osv::newest_time(&record));
                let bytes = postcard::to_stdvec(&record).map_err(|e| store(&e))?;
                records.insert(record.id.as_str(), bytes.as_slice()).map_err(|e| store(&e))?;
            }
            if strict && !rejected.is_empty() {
                refused = rejected.drain(..).next();
                break 'batches;
            }
        }
        if refused.is_some() {
            drop(records);
        } else {
            let mut table = txn.open_table(PACKAGES).map_err(|e| store(&e))?;
            for (key, ids) in &packages {
                let bytes = postcard::to_stdvec(ids).map_err(|e| store(&e))?;
                table.insert(key.as_str(), bytes.as_slice()).map_err(|e| store(&e))?;
            }
            // The digest: every record in id order.
            let digest = {
                use sha2::{Digest as _, Sha256};
                let mut h = Sha256::new();
                h.update(SCHEMA);
                for row in records.iter().map_err(|e| store(&e))? {
                    let (k, v) = row.map_err(|e| store(&e))?;
                    h.update(k.value().as_bytes());
                    h.update([0]);
                    h.update(Sha256::digest(v.value()));
                }
                format!("sha256:{}", hex::encode(h.finalize()))
            };
            let mut meta = txn.open_table(META).map_err(|e| store(&e))?;
            let count = ids.len().to_string();
            let newest = newest.map(|t| t.to_string()).unwrap_or_default();
            let counts = serde_json::to_string(&ecosystems).map_err(|e| store(&e))?;
            let now = jiff::Timestamp::now().to_string();
            for (k, v) in [
                ("schema", SCHEMA),
                ("digest", digest.as_str()),
                ("records", count.as_str()),
                ("newest", newest.as_str()),
                ("ecosystems", counts.as_str()),
                ("imported", now.as_str()),
            ] {
                meta.insert(k, v).map_err(|e| store(&e))?;
            }
        }
    }
    if let Some(rej) = refused {
        drop(txn);
        drop(db);
        let _ = std::fs::remove_file(&tmp);
        return Err(DbError::Rejected(rej));
    }
    txn.commit().map_err(|e| store(&e))?;
    drop(db);
    std::fs::rename(&tmp, out).map_err(|e| io(out, e))?;
    let db = VulnDb::open(out)?;
    Ok(Imported { info: db.info.clone(), rejected, skipped })
}

/// An open database.
pub struct VulnDb {
    /// Read-only: many processes (a server, `vulns`, CI jobs) may read one
    /// database at once; `import` writes a new file and renames it.
    db: redb::ReadOnlyDatabase,
    pub path: PathBuf,
    pub info: Info,
}

impl std::fmt::Debug for VulnDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VulnDb").field("path", &self.path).field("digest", &self.info.digest).finish()
    }
}

impl VulnDb {
    /// Opens a database `db import` built.
    pub fn open(path: &Path) -> Result<VulnDb, DbError> {
        if !path.is_file() {
            return Err(io(path, "no such database; build one with `portcullis db import PATH... -o FILE`"));
        }
        let not = |e: &dyn std::fmt::Display| DbError::NotADatabase {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let db = redb::ReadOnlyDatabase::open(path).map_err(|e| not(&e))?;
        let info = {
            let txn = db.begin_read().map_err(|e| not(&e))?;
            let meta = txn.open_table(META).map_err(|e| not(&e))?;
            let get = |k: &str| -> Result<String, DbError> {
                Ok(meta.get(k).map_err(|e| not(&e))?.map(|v| v.value().to_string()).unwrap_or_default())
            };
            let schema = get("schema")?;
            if schema != SCHEMA {
                return Err(DbError::Schema { path: path.display().to_string(), found: schema });
            }
            Info {
                schema,
                digest: get("digest")?,
                records: get("records")?.parse().unwrap_or(0),
                ecosystems: serde_json::from_str(&get("ecosystems")?).unwrap_or_default(),
                newest: Some(get("newest")?).filter(|s| !s.is_empty()),
                imported: get("imported")?,
            }
        };
        Ok(VulnDb { db, path: path.to_path_buf(), info })
    }

    /// The records naming `name` in `ecosystem` (exact, with its release:
    /// `Debian:12`). A read failure is an error, never an empty answer: a
    /// database that cannot be read must not look like a clean image.
    pub fn records_for(&self, ecosystem: &str, name: &str) -> Result<Vec<Record>, String> {
        let e = |e: &dyn std::fmt::Display| format!("vulnerability database {}: {e}", self.path.display());
        let txn = self.db.begin_read().map_err(|x| e(&x))?;
        let packages = txn.open_table(PACKAGES).map_err(|x| e(&x))?;
        let key = format!("{ecosystem}\0{name}");
        let Some(ids) = packages.get(key.as_str()).map_err(|x| e(&x))? else { return Ok(Vec::new()) };
        let ids: Vec<String> = postcard::from_bytes(ids.value()).map_err(|x| e(&x))?;
        let records = txn.open_table(RECORDS).map_err(|x| e(&x))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(bytes) = records.get(id.as_str()).map_err(|x| e(&x))? else {
                return Err(e(&format!("{id} is indexed but missing")));
            };
            out.push(postcard::from_bytes(bytes.value()).map_err(|x| e(&x))?);
        }
        Ok(out)
    }

    /// One record by id.
    pub fn record(&self, id: &str) -> Result<Option<Record>, String> {
        let e = |e: &dyn std::fmt::Display| format!("vulnerability database {}: {e}", self.path.display());
        let txn = self.db.begin_read().map_err(|x| e(&x))?;
        let records = txn.open_table(RECORDS).map_err(|x| e(&x))?;
        match records.get(id).map_err(|x| e(&x))? {
            Some(b) => postcard::from_bytes(b.value()).map(Some).map_err(|x| e(&x)),
            None => Ok(None),
        }
    }
}

/// Where `db import` writes and everything reads by default.
pub fn default_path() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("portcullis").join("vulndb.redb"))
}
