//! What registries answer: manifests, indexes, configs and descriptors,
//! read as the runtimes read them (Go's case-insensitive keys refused).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| portcullis::fuzzing::oci_documents(data));
