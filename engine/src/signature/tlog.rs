//! Transparency-log entries of Sigstore bundles, checked offline.
//!
//! For each entry: the log is one the trusted root names (by `logId`), the
//! signed entry timestamp (SET) is the log's signature over the entry
//! (canonical JSON of body, integrated time, log ID and index), the
//! integrated time falls within the log key's validity, the RFC 6962
//! inclusion proof leads from the entry's leaf hash to the checkpoint's root
//! hash, and the checkpoint is a signed note from that log. Failures name the
//! check and the values involved.
//!
//! The Merkle proof check is the RFC 9162 §2.1.3.2 algorithm, written here
//! because the `sigstore` crate keeps its verifier private.

use super::trust::{LogKey, TrustRoot};
use base64::Engine as _;
use serde::{Deserialize, Deserializer};
use sha2::{Digest as _, Sha256};
use sigstore::crypto::{CosignVerificationKey, Signature};

/// Protobuf-JSON int64: a string, or (leniently) a number.
fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        N(i64),
    }
    match Either::deserialize(d)? {
        Either::N(n) => Ok(n),
        Either::S(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

fn opt_int64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    int64(d).map(Some)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyId {
    pub key_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct KindVersion {
    pub kind: String,
    pub version: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionPromise {
    pub signed_entry_timestamp: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Checkpoint {
    pub envelope: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    #[serde(deserialize_with = "int64")]
    pub log_index: i64,
    pub root_hash: String,
    #[serde(deserialize_with = "int64")]
    pub tree_size: i64,
    #[serde(default)]
    pub hashes: Vec<String>,
    #[serde(default)]
    pub checkpoint: Option<Checkpoint>,
}

/// One `verificationMaterial.tlogEntries[]` item of a bundle.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlogEntry {
    #[serde(deserialize_with = "int64")]
    pub log_index: i64,
    pub log_id: KeyId,
    pub kind_version: KindVersion,
    #[serde(default, deserialize_with = "opt_int64")]
    pub integrated_time: Option<i64>,
    #[serde(default)]
    pub inclusion_promise: Option<InclusionPromise>,
    #[serde(default)]
    pub inclusion_proof: Option<InclusionProof>,
    pub canonicalized_body: String,
}

/// What a verified entry establishes.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Rekor v1's integrated time, vouched for by the SET (unix seconds).
    pub integrated_time: Option<i64>,
    pub log_url: String,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TlogError {
    #[error("transparency log entry: {0}")]
    Malformed(String),
    #[error("transparency log entry has a negative log index ({0})")]
    NegativeIndex(i64),
    #[error("transparency log {0} is not in the trusted root")]
    UnknownLog(String),
    #[error("signed entry timestamp does not verify against the key of {log}: {why}")]
    BadSet { log: String, why: String },
    #[error("integrated time {time} is outside the validity of the key of {log}")]
    KeyNotValid { log: String, time: i64 },
    #[error("inclusion proof: {0}")]
    BadProof(String),
    #[error("checkpoint: {0}")]
    BadCheckpoint(String),
    #[error("the entry has neither a signed entry timestamp nor an inclusion proof")]
    NoEvidence,
    #[error("the entry has no inclusion proof (required for bundles v0.2 and later)")]
    NoProof,
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, TlogError> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| TlogError::Malformed(format!("{what} is not base64: {e}")))
}

fn verify_with(key: &LogKey, sig: &[u8], msg: &[u8]) -> Result<(), String> {
    let k = CosignVerificationKey::try_from_der(&key.der).map_err(|e| format!("log key unusable: {e}"))?;
    k.verify_signature(Signature::Raw(sig), msg).map_err(|e| e.to_string())
}

/// What a Rekor signed entry timestamp signs: the canonical JSON (sorted
/// keys, no spaces) of the entry's body (base64), integrated time, log ID
/// (hex) and index.
pub fn set_message(body_b64: &str, integrated_time: i64, log_id_hex: &str, log_index: i64) -> String {
    format!(
        r#"{{"body":"{}","integratedTime":{integrated_time},"logID":"{log_id_hex}","logIndex":{log_index}}}"#,
        body_b64.trim()
    )
}

fn node(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// RFC 6962 leaf hash of an entry body.
pub fn leaf_hash(body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(body);
    h.finalize().into()
}

/// The root hash an inclusion proof leads to (RFC 9162 §2.1.3.2).
pub fn root_from_proof(index: u64, size: u64, leaf: [u8; 32], proof: &[[u8; 32]]) -> Result<[u8; 32], String> {
    if index >= size {
        return Err(format!("leaf index {index} is not below tree size {size}"));
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if s == 0 {
            return Err(format!("proof has {} hashes, more than the tree needs", proof.len()));
        }
        if f & 1 == 1 || f == s {
            r = node(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(format!("proof has {} hashes, fewer than the tree needs", proof.len()));
    }
    Ok(r)
}

/// A parsed signed note (checkpoint): its signed text and signature lines.
struct Note<'a> {
    text: &'a str,
    origin: &'a str,
    size: u64,
    root: Vec<u8>,
    signatures: Vec<(&'a str, Vec<u8>)>,
}

fn parse_note(envelope: &str) -> Result<Note<'_>, TlogError> {
    let bad = |m: &str| TlogError::BadCheckpoint(m.to_string());
    let split = envelope.find("\n\n").ok_or_else(|| bad("no blank line between the note and its signatures"))?;
    let text = &envelope[..split + 1];
    let mut lines = text.lines();
    let origin = lines.next().filter(|l| !l.is_empty()).ok_or_else(|| bad("no origin line"))?;
    let size = lines.next().and_then(|l| l.parse().ok()).ok_or_else(|| bad("no tree size line"))?;
    let root = lines.next().ok_or_else(|| bad("no root hash line"))?;
    let root = b64(root, "checkpoint root hash").map_err(|_| bad("root hash is not base64"))?;
    let mut signatures = Vec::new();
    for line in envelope[split + 2..].lines().filter(|l| !l.is_empty()) {
        let rest = line.strip_prefix("— ").ok_or_else(|| bad("a signature line does not start with `— `"))?;
        let (name, sig) = rest.rsplit_once(' ').ok_or_else(|| bad("a signature line has no signature"))?;
        let sig = b64(sig, "checkpoint signature").map_err(|_| bad("a signature is not base64"))?;
        if sig.len() < 5 {
            return Err(bad("a signature is too short to hold a key hint"));
        }
        signatures.push((name, sig));
    }
    if signatures.is_empty() {
        return Err(bad("the note carries no signature"));
    }
    Ok(Note { text, origin, size, root, signatures })
}

/// The 4-byte key hint a log's note signatures carry: the first bytes of
/// the log ID for ECDSA logs (Rekor v1), of SHA-256(name ‖ `\n` ‖ 0x01 ‖ key)
/// for Ed25519 logs (C2SP signed notes, Rekor v2).
fn key_hint(key: &LogKey, name: &str) -> [u8; 4] {
    if key.key_details.contains("ED25519") {
        let raw = &key.der[key.der.len().saturating_sub(32)..];
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update(b"\n\x01");
        h.update(raw);
        let d: [u8; 32] = h.finalize().into();
        [d[0], d[1], d[2], d[3]]
    } else {
        // A log ID shorter than 4 bytes (a malformed root) leaves zeros: no match, no panic.
        let mut hint = [0u8; 4];
        for (h, b) in hint.iter_mut().zip(&key.log_id) {
            *h = *b;
        }
        hint
    }
}

fn verify_checkpoint(envelope: &str, key: &LogKey, size: u64, root: &[u8]) -> Result<(), TlogError> {
    let note = parse_note(envelope)?;
    if note.size != size {
        return Err(TlogError::BadCheckpoint(format!("tree size {} differs from the proof's {size}", note.size)));
    }
    if note.root != root {
        return Err(TlogError::BadCheckpoint("root hash differs from the one the inclusion proof leads to".into()));
    }
    // The note's signature by this log: named after its origin, with its key hint.
    let mut tried = Vec::new();
    for (name, sig) in &note.signatures {
        let hint = key_hint(key, name);
        if sig[..4] != hint {
            tried.push(format!("`{name}` (key hint {})", hex::encode(&sig[..4])));
            continue;
        }
        if *name != note.origin.split(" - ").next().unwrap_or(note.origin) && !note.origin.starts_with(name) {
            tried.push(format!("`{name}` (not the note's origin `{}`)", note.origin));
            continue;
        }
        return verify_with(key, &sig[4..], note.text.as_bytes())
            .map_err(|why| TlogError::BadCheckpoint(format!("signature of `{name}` does not verify: {why}")));
    }
    Err(TlogError::BadCheckpoint(format!(
        "no signature from the log {} (key hint {}); found {}",
        key.origin_host(),
        hex::encode(key_hint(key, note.origin)),
        tried.join(", ")
    )))
}

impl TlogEntry {
    /// Checks the entry against the trusted root. `require_proof`: bundles
    /// v0.2 and later must carry an inclusion proof.
    pub fn verify(&self, root: &TrustRoot, require_proof: bool) -> Result<Verified, TlogError> {
        if self.log_index < 0 {
            return Err(TlogError::NegativeIndex(self.log_index));
        }
        let log_id = b64(&self.log_id.key_id, "logId.keyId")?;
        let key = root.tlog(&log_id).ok_or_else(|| TlogError::UnknownLog(hex::encode(&log_id)))?;
        let body = b64(&self.canonicalized_body, "canonicalizedBody")?;
        if self.inclusion_promise.is_none() && self.inclusion_proof.is_none() {
            return Err(TlogError::NoEvidence);
        }
        if let Some(promise) = &self.inclusion_promise {
            let time = self.integrated_time.ok_or_else(|| TlogError::Malformed("SET without integratedTime".into()))?;
            let set = b64(&promise.signed_entry_timestamp, "signedEntryTimestamp")?;
            // Canonical JSON (RFC 8785 for these types: sorted keys, no spaces).
            let msg = set_message(&self.canonicalized_body, time, &hex::encode(&log_id), self.log_index);
            verify_with(key, &set, msg.as_bytes())
                .map_err(|why| TlogError::BadSet { log: key.base_url.clone(), why })?;
            if !key.valid_at(time) {
                return Err(TlogError::KeyNotValid { log: key.base_url.clone(), time });
            }
        }
        match &self.inclusion_proof {
            Some(p) => {
                if p.log_index < 0 || p.tree_size <= 0 {
                    return Err(TlogError::BadProof(format!("log index {} / tree size {}", p.log_index, p.tree_size)));
                }
                let hashes: Vec<[u8; 32]> = p
                    .hashes
                    .iter()
                    .map(|h| {
                        b64(h, "proof hash")?
                            .try_into()
                            .map_err(|_| TlogError::BadProof("a proof hash is not 32 bytes".into()))
                    })
                    .collect::<Result<_, _>>()?;
                let computed = root_from_proof(p.log_index as u64, p.tree_size as u64, leaf_hash(&body), &hashes)
                    .map_err(TlogError::BadProof)?;
                let expected = b64(&p.root_hash, "rootHash")?;
                if computed[..] != expected[..] {
                    return Err(TlogError::BadProof(format!(
                        "leads to root {}, the proof names {}",
                        hex::encode(computed),
                        hex::encode(&expected)
                    )));
                }
                let checkpoint = p.checkpoint.as_ref().ok_or(TlogError::BadCheckpoint("missing".into()))?;
                verify_checkpoint(&checkpoint.envelope, key, p.tree_size as u64, &computed)?;
            }
            None if require_proof => return Err(TlogError::NoProof),
            None => {}
        }
        // Without a verified SET, `integratedTime` is only the bundle's word.
        Ok(Verified {
            integrated_time: self.inclusion_promise.as_ref().and(self.integrated_time),
            log_url: key.base_url.clone(),
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusion_proof_of_a_small_tree() {
        // Tree of 3 leaves: root = H(H(l0,l1), l2).
        let l: Vec<[u8; 32]> = (0u8..3).map(|i| leaf_hash(&[i])).collect();
        let root = node(&node(&l[0], &l[1]), &l[2]);
        assert_eq!(root_from_proof(0, 3, l[0], &[l[1], l[2]]).unwrap(), root);
        assert_eq!(root_from_proof(2, 3, l[2], &[node(&l[0], &l[1])]).unwrap(), root);
        assert_ne!(root_from_proof(1, 3, l[1], &[l[0], l[2]]).unwrap(), node(&l[2], &l[0]));
        assert!(root_from_proof(3, 3, l[0], &[]).is_err());
        assert!(root_from_proof(0, 3, l[0], &[l[1]]).unwrap_err().contains("fewer"));
    }
}
