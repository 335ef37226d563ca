//! In-toto statements in DSSE envelopes, Sigstore bundles or bare, as
//! attached to images.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| portcullis::fuzzing::attestation(data));
