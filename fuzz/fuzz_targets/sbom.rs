//! Every SBOM format the engine reads (CycloneDX JSON/XML 1.2–1.7, SPDX
//! 2.x JSON and tag-value, SPDX 3.0 JSON-LD), recognised by content.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| portcullis::fuzzing::sbom(data));
