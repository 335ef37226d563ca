//! Sigstore bundles (v0.1–v0.3, Rekor v1/v2 entries, checkpoints,
//! timestamps, DSSE) verified against the production root: every input is
//! verified or refused with a reason.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| portcullis::fuzzing::sigstore_bundle(data));
