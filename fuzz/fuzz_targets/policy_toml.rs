//! Policy TOML: every mistake becomes a diagnostic at a position, never a
//! panic (the recovering reader re-reads with faulty entries taken out).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| portcullis::fuzzing::policy_toml(data));
