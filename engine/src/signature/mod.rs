//! Sigstore verification, offline, against a pinned trust root (issue #4,
//! first part).
//!
//! The `sigstore` crate checks certificate chains, SCTs and signatures, but
//! its bundle verifier does not check Rekor's signed entry timestamps,
//! inclusion proofs or checkpoints, and trusts `integratedTime` as given.
//! Those checks live here:
//! - [`trust`]: the trusted root (`trusted_root.json`): Sigstore public-good
//!   production embedded, or any file; keys with their validity windows.
//! - [`tlog`]: a transparency-log entry of a bundle — the signed entry
//!   timestamp (SET) against the log's key, the RFC 6962 inclusion proof
//!   against the checkpoint's root hash, and the checkpoint's signature
//!   (signed note) — each failure naming the check and the value.

pub mod bundle;
pub mod cosign;
pub mod entry;
pub mod identity;
pub mod keys;
pub mod material;
pub mod pki;
pub mod timestamp;
pub mod tlog;
pub mod trust;
pub mod tuf;
