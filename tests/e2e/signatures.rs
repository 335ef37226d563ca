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

#[derive(serde::Deserialize)]
struct ConformanceCase {
    case: String,
    expected: String,
    bundle: String,
    artifact: String,
    trusted_root: String,
    key: Option<String>,
    identity: Option<String>,
    issuer: Option<String>,
}

/// sigstore-conformance through `portcullis verify-bundle`, as its harness
/// drives a client: every case with the artifact file and with its
/// `sha256:` digest. Prints agreed/total. A FAIL case that fails counts as
/// agreement only when the failure is a verification failure (exit 1), not
/// a crash or usage error.
///
/// Issue #4 is not finished: managed-key bundles, `intoto` 0.0.2 log
/// entries and RFC 3161 timestamps (Rekor v2) are not verified yet, so the
/// PASS cases that need them fail closed. Those are listed, and the test asserts the rest agree — and that
/// no FAIL case is ever admitted.
#[test]
fn sigstore_conformance_cases() {
    let root = support::corpus("sigstore-conformance");
    let cases: Vec<ConformanceCase> =
        serde_json::from_slice(&std::fs::read(root.join("expected.json")).unwrap()).unwrap();
    let not_yet = [
        "intoto-with-custom-trust-root",
        "rekor2-checkpoint-multiple-cosigs",
        "rekor2-checkpoint-origin-not-first",
        "rekor2-checkpoint-two-sigs-from-origin",
        "rekor2-timestamp-with-expired-cert-chain",
        "rekor2-timestamp-without-embedded-cert",
    ];
    let (mut agreed, mut total) = (0, 0);
    let mut wrong = Vec::new();
    let mut pending = Vec::new();
    let mut closed_unsupported = Vec::new();
    for c in &cases {
        let artifact = root.join(&c.artifact);
        let digest = {
            use sha2::Digest as _;
            format!("sha256:{}", hex::encode(sha2::Sha256::digest(std::fs::read(&artifact).unwrap())))
        };
        for subject in [artifact.display().to_string(), digest] {
            let mut args =
                vec!["verify-bundle".to_string(), "--bundle".into(), root.join(&c.bundle).display().to_string()];
            if !c.trusted_root.contains("public-good production") {
                args.extend(["--trusted-root".into(), root.join(&c.trusted_root).display().to_string()]);
            }
            match &c.key {
                Some(k) => args.extend(["--key".into(), root.join(k).display().to_string()]),
                None => args.extend([
                    "--certificate-identity".into(),
                    c.identity.clone().unwrap(),
                    "--certificate-oidc-issuer".into(),
                    c.issuer.clone().unwrap(),
                ]),
            }
            args.push(subject.clone());
            let run = support::portcullis(&args);
            total += 1;
            let ok = match c.expected.as_str() {
                "pass" => run.code == 0,
                _ => run.code == 1,
            };
            let unsupported = run.stderr.contains("not supported yet");
            if ok && !unsupported {
                agreed += 1;
            } else if ok {
                // A FAIL case refused because the check it is about is not
                // implemented: closed, but not agreement.
                closed_unsupported.push(format!("{} ({})", c.case, run.stderr.trim()));
            } else if c.expected == "pass" && not_yet.contains(&c.case.as_str()) {
                pending.push(format!(
                    "{} ({}): {}",
                    c.case,
                    if subject.starts_with("sha256:") { "digest" } else { "file" },
                    run.stderr.trim()
                ));
            } else {
                wrong.push(format!(
                    "{} [{}] expected {}, exit {}: {}",
                    c.case,
                    subject,
                    c.expected,
                    run.code,
                    run.stderr.trim()
                ));
            }
            assert!(!(c.expected == "fail" && run.code == 0), "{} was admitted", c.case);
        }
    }
    println!(
        "sigstore-conformance: {agreed}/{total} agreed (file and digest variants); {} FAIL runs refused as unsupported; {} PASS runs not supported yet",
        closed_unsupported.len(),
        pending.len()
    );
    for p in &closed_unsupported {
        println!("  refused as unsupported (expected fail): {p}");
    }
    for p in &pending {
        println!("  not yet supported (fails closed): {p}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Identity constraints by regular expression (cosign's `-regexp` flags):
/// whole-value matches; a mismatch names the constraint and what the
/// certificate says.
#[test]
fn identity_regexes() {
    let bundle = case("happy-path-v0.3").join("bundle.sigstore.json");
    let artifact = case("a.txt");
    let run = |san: &str, issuer: &str| {
        support::portcullis([
            "verify-bundle",
            "--bundle",
            bundle.to_str().unwrap(),
            "--certificate-identity-regexp",
            san,
            "--certificate-oidc-issuer-regexp",
            issuer,
            artifact.to_str().unwrap(),
        ])
    };
    let ok = run(r"https://github\.com/sigstore-conformance/.*", r"https://token\.actions\.githubusercontent\.com");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let wrong = run(r"https://github\.com/acme/.*", r"https://token\.actions\.githubusercontent\.com");
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.stderr.contains("SubjectAltName") && wrong.stderr.contains("sigstore-conformance"),
        "{}",
        wrong.stderr
    );
    // A prefix is not a whole-value match.
    let prefix = run(r"https://github\.com", r"https://token\.actions\.githubusercontent\.com");
    assert_eq!(prefix.code, 1, "{}", prefix.stderr);
    let issuer = run(r".*", r"https://accounts\.google\.com");
    assert_eq!(issuer.code, 1);
    assert!(issuer.stderr.contains("OIDC issuer"), "{}", issuer.stderr);
    let bad = run("(", ".*");
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}
