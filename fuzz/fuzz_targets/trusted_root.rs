//! The trusted root, read strictly: refused naming the field, or read.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| portcullis::fuzzing::trusted_root(data));
