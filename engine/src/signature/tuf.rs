//! Moving to a newer trusted root, verified through TUF, separately from
//! evaluation (`portcullis trust-root import`). Evaluation never fetches:
//! it uses the embedded root or a `--trusted-root` file, and this is how
//! such a file is obtained with the same assurance a TUF client gives.
//!
//! Sigstore distributes `trusted_root.json` as a target of its TUF
//! repository (sigstore/root-signing). Given a copy of that repository (a
//! checkout, or a mirror on removable media: `metadata/` and `targets/`),
//! this module, starting from a pinned TUF root (embedded, or given):
//! 1. checks the pinned root is signed by a threshold of its own root keys;
//! 2. walks root rotations `N+1.root.json`, `N+2.root.json`, … each signed
//!    by a threshold of the previous root's keys and of its own, versions
//!    consecutive; a `root.json` newer than the chain reaches is refused;
//! 3. refuses an expired final root (a freeze attack), unless told to
//!    accept expired metadata (an offline mirror older than the root's
//!    lifetime), which is then said on every import;
//! 4. checks `targets.json` is signed by a threshold of the targets keys
//!    of that root and not expired;
//! 5. checks the target file's length and SHA-256 (and SHA-512 when
//!    listed) against the targets metadata, and that it parses as a
//!    trusted root.
//!
//! Not done: `snapshot.json`/`timestamp.json` (they prove freshness
//! against a live repository, which an offline copy cannot), delegated
//! targets. The signatures and canonical JSON are tough's (`tough::schema`),
//! the TUF library the `sigstore` crate itself uses.

use super::trust::TrustRoot;
use sha2::Digest as _;
use std::path::Path;
use tough::schema::{Role, Root, Signed, Targets};

/// Sigstore's production TUF root (sigstore/root-signing `metadata/root.json`),
/// the anchor for imports when no other is given.
pub const PRODUCTION_ROOT: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/trust/tuf-root.production.json"));

/// Longest root rotation chain followed.
const MAX_ROTATIONS: u64 = 1024;

/// What an import established.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The target's bytes (the new `trusted_root.json`).
    pub bytes: Vec<u8>,
    pub root_version: u64,
    pub root_expires: String,
    pub targets_version: u64,
    pub targets_expires: String,
    /// Metadata accepted although expired (only with `allow_expired`).
    pub expired: Vec<String>,
    pub trust_root: TrustRoot,
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<Signed<T>, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("{what}: not TUF metadata: {e}"))
}

/// Verifies a trusted root target of the TUF repository copy at `repo`
/// (`metadata/`, `targets/`), from the pinned TUF root `pinned`, at time
/// `now`.
pub fn import(
    repo: &Path,
    target: &str,
    pinned: &[u8],
    allow_expired: bool,
    now: jiff::Timestamp,
) -> Result<Imported, String> {
    let metadata = repo.join("metadata");
    if !metadata.is_dir() {
        return Err(format!("{}: not a TUF repository copy (no metadata/ directory)", repo.display()));
    }
    let mut root: Signed<Root> = parse(pinned, "pinned TUF root")?;
    root.signed.verify_role(&root).map_err(|e| {
        format!("pinned TUF root (version {}): not signed by its own root keys: {e}", root.signed.version)
    })?;

    // Root rotations, each vouched for by the previous root and by itself.
    for _ in 0..MAX_ROTATIONS {
        let next = root.signed.version.get() + 1;
        let path = metadata.join(format!("{next}.root.json"));
        if !path.exists() {
            break;
        }
        let new: Signed<Root> = parse(&read(&path)?, &path.display().to_string())?;
        if new.signed.version.get() != next {
            return Err(format!("{}: holds root version {}, not {next}", path.display(), new.signed.version));
        }
        root.signed
            .verify_role(&new)
            .map_err(|e| format!("{}: not signed by the keys of root version {}: {e}", path.display(), next - 1))?;
        new.signed
            .verify_role(&new)
            .map_err(|e| format!("{}: not signed by its own root keys: {e}", path.display()))?;
        root = new;
    }
    let latest = metadata.join("root.json");
    if latest.exists() {
        let named: Signed<Root> = parse(&read(&latest)?, &latest.display().to_string())?;
        if named.signed.version > root.signed.version {
            return Err(format!(
                "{} is root version {}, but the rotations from the pinned root stop at version {} (missing {}.root.json)",
                latest.display(),
                named.signed.version,
                root.signed.version,
                root.signed.version.get() + 1
            ));
        }
    }
    let mut expired = Vec::new();
    let mut fresh = |what: String, expires: jiff::Timestamp| -> Result<(), String> {
        if expires >= now {
            return Ok(());
        }
        let text = format!("{what} expired at {expires}");
        if allow_expired {
            expired.push(text);
            Ok(())
        } else {
            Err(format!(
                "{text}: get newer metadata (a newer {}.root.json / targets.json), or accept expired metadata explicitly (--allow-expired-metadata)",
                root.signed.version.get() + 1
            ))
        }
    };
    fresh(format!("TUF root version {}", root.signed.version), root.signed.expires())?;

    let targets_path = metadata.join("targets.json");
    let targets: Signed<Targets> = parse(&read(&targets_path)?, "targets.json")?;
    root.signed.verify_role(&targets).map_err(|e| format!("targets.json (version {}): {e}", targets.signed.version))?;
    fresh(format!("targets.json version {}", targets.signed.version), targets.signed.expires())?;

    let name = tough::TargetName::new(target).map_err(|e| format!("target `{target}`: {e}"))?;
    let listed = targets
        .signed
        .targets
        .get(&name)
        .ok_or_else(|| format!("targets.json (version {}) lists no target `{target}`", targets.signed.version))?;
    let file = repo.join("targets").join(target);
    let bytes = read(&file)?;
    if bytes.len() as u64 != listed.length {
        return Err(format!(
            "{}: {} bytes, but targets.json says {} (not the file the repository signed)",
            file.display(),
            bytes.len(),
            listed.length
        ));
    }
    let sha256: &[u8] = listed.hashes.sha256.as_ref();
    if sha2::Sha256::digest(&bytes)[..] != *sha256 {
        return Err(format!(
            "{}: its SHA-256 is not the one targets.json lists ({}): not the file the repository signed",
            file.display(),
            hex::encode(sha256)
        ));
    }
    if let Some(sha512) = listed.hashes._extra.get("sha512").and_then(|v| v.as_str())
        && hex::encode(sha2::Sha512::digest(&bytes)) != sha512.to_ascii_lowercase()
    {
        return Err(format!("{}: its SHA-512 is not the one targets.json lists", file.display()));
    }
    let trust_root = std::str::from_utf8(&bytes)
        .map_err(|e| e.to_string())
        .and_then(TrustRoot::parse)
        .map_err(|e| format!("{}: signed by the repository, but not a usable trusted root: {e}", file.display()))?;
    Ok(Imported {
        bytes,
        root_version: root.signed.version.get(),
        root_expires: root.signed.expires.to_string(),
        targets_version: targets.signed.version.get(),
        targets_expires: targets.signed.expires.to_string(),
        expired,
        trust_root,
    })
}
