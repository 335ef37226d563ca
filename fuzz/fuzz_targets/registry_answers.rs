//! What registries answer besides documents: token-service answers and
//! error bodies, read by oci-client's types as it reads them and turned
//! into the engine's pull errors.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| portcullis::fuzzing::registry_answers(data));
