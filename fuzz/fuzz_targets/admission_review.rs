//! The AdmissionReview reader and the workload it names: whatever the API
//! server (or anyone reaching the webhook) sends must be read or refused.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| portcullis::fuzzing::admission_review(data));
