//! Signature verification (issue #4), first part: the transparency-log
//! checks the `sigstore` crate leaves out — signed entry timestamps,
//! inclusion proofs, checkpoints — on the sigstore-conformance bundles.

mod support;

use portcullis::signature::tlog::{TlogEntry, TlogError};
use portcullis::signature::trust::TrustRoot;

fn case(name: &str) -> std::path::PathBuf {
    support::corpus("sigstore-conformance/test/assets/bundle-verify").join(name)
}

/// The trusted root a case uses: its own, or production.
fn root_of(name: &str) -> TrustRoot {
    match std::fs::read_to_string(case(name).join("trusted_root.json")) {
        Ok(text) => TrustRoot::parse(&text).unwrap(),
        Err(_) => TrustRoot::production(),
    }
}

fn entries(name: &str) -> (serde_json::Value, Vec<TlogEntry>) {
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case(name).join("bundle.sigstore.json")).unwrap()).unwrap();
    let entries = serde_json::from_value(bundle["verificationMaterial"]["tlogEntries"].clone()).unwrap();
    (bundle, entries)
}

fn verify(name: &str) -> Result<(), TlogError> {
    let (bundle, entries) = entries(name);
    let v01 = bundle["mediaType"].as_str().unwrap().contains("0.1");
    let root = root_of(name);
    for e in &entries {
        e.verify(&root, !v01)?;
    }
    Ok(())
}

#[test]
fn happy_paths_pass_every_log_check() {
    for name in ["happy-path-v0.1", "happy-path-v0.3"] {
        verify(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn log_level_tampering_is_caught_and_named() {
    match verify("inclusion-proof-corrupted-hash_fail") {
        Err(TlogError::BadProof(why)) => assert!(why.contains("leads to root"), "{why}"),
        other => panic!("expected a bad inclusion proof, got {other:?}"),
    }
    match verify("checkpoint-bad-keyhint_fail") {
        Err(TlogError::BadCheckpoint(why)) => assert!(why.contains("key hint"), "{why}"),
        other => panic!("expected a bad checkpoint, got {other:?}"),
    }
    assert!(matches!(verify("bundle-negative-log-index_fail"), Err(TlogError::NegativeIndex(_))));
}

/// A SET over a different body does not verify: flipping the entry's log
/// index (which the SET covers) is caught.
#[test]
fn signed_entry_timestamp_covers_the_entry() {
    let (_, mut tampered) = entries("happy-path-v0.3");
    let root = TrustRoot::production();
    tampered[0].inclusion_proof = None;
    tampered[0].verify(&root, false).expect("SET alone verifies");
    tampered[0].log_index += 1;
    match tampered[0].verify(&root, false) {
        Err(TlogError::BadSet { log, .. }) => assert_eq!(log, "https://rekor.sigstore.dev"),
        other => panic!("expected a bad SET, got {other:?}"),
    }
    // And a log the trusted root does not name is refused.
    let (_, mut unknown) = entries("happy-path-v0.3");
    unknown[0].log_id.key_id = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    assert!(matches!(unknown[0].verify(&root, true), Err(TlogError::UnknownLog(_))));
}

/// Rekor v2 (Ed25519 signed-note checkpoints, no SET): the log-level
/// outcomes of the conformance cases that are about the log.
#[test]
fn rekor_v2_checkpoints() {
    for name in [
        "rekor2-checkpoint-multiple-cosigs",
        "rekor2-checkpoint-origin-not-first",
        "rekor2-checkpoint-two-sigs-from-origin",
    ] {
        verify(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(matches!(verify("rekor2-checkpoint-missing-log-signature_fail"), Err(TlogError::BadCheckpoint(_))));
    assert!(matches!(verify("rekor2-checkpoint-missing-root-hash_fail"), Err(TlogError::BadCheckpoint(_))));
    assert!(matches!(verify("rekor2-no-inclusion-proof_fail"), Err(TlogError::NoEvidence)));
}
