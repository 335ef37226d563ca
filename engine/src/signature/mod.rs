//! Sigstore verification, offline, against a pinned trust root.
//!
//! The `sigstore` crate checks certificate chains, SCTs and signatures, but
//! its bundle verifier does not check Rekor's signed entry timestamps,
//! inclusion proofs or checkpoints, and trusts `integratedTime` as given.
//! Those checks, and what the crate does not cover, live here:
//! - [`trust`]: the trusted root (`trusted_root.json`): Sigstore public-good
//!   production embedded, or any file; keys with their validity windows.
//! - [`rootdoc`]: the trusted-root document, read strictly as Sigstore's
//!   message definition has it (every refusal names the field).
//! - [`tuf`]: importing a newer trusted root from a copy of Sigstore's TUF
//!   repository, verified from a pinned TUF root.
//! - [`bundle`]: Sigstore bundles (v0.1–v0.3) for a digest, keyless or keyed.
//! - [`tlog`]: a transparency-log entry of a bundle — the signed entry
//!   timestamp (SET) against the log's key, the RFC 6962 inclusion proof
//!   against the checkpoint's root hash, and the checkpoint's signature
//!   (signed note) — each failure naming the check and the value.
//! - [`entry`]: what a log entry's body says was signed (hashedrekord,
//!   DSSE, intoto), checked against the bundle's content.
//! - [`timestamp`]: RFC 3161 timestamps from timestamp authorities.
//! - [`cosign`]: cosign signatures attached to images (simple signing,
//!   Rekor SETs, certificates), keyed, keyless or by a private CA.
//! - [`material`]: the signatures and attestations attached to a subject,
//!   as discovered, before verification.
//! - [`identity`]: certificate identities (SAN, issuer, GitHub workflow
//!   claims) and the matchers policies write.
//! - [`keys`]: public keys as cosign makes them (ECDSA P-256/P-384, RSA,
//!   Ed25519) and their signatures over messages or digests.
//! - [`pki`]: bring-your-own PKI: a certificate chain up to configured roots.
//! - [`sct`]: signed certificate timestamps in Fulcio certificates, decoded
//!   and verified as sigstore-go does (the crate's check refuses some valid
//!   certificates).

pub mod bundle;
pub mod cosign;
pub mod entry;
pub mod identity;
pub mod keys;
pub mod material;
pub mod pki;
pub mod rootdoc;
pub mod sct;
pub mod timestamp;
pub mod tlog;
pub mod trust;
pub mod tuf;
