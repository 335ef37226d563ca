//! Registry credentials: docker config.json / containers auth.json, as a
//! file the user points at.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| portcullis::fuzzing::registry_credentials(data));
