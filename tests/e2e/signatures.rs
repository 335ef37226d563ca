//! Signature verification (issue #4), first part: the transparency-log
//! checks the `sigstore` crate leaves out — signed entry timestamps,
//! inclusion proofs, checkpoints — on the sigstore-conformance bundles.

use crate::support;

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
/// Every case must agree, for both variants, and each FAIL case must fail
/// for the reason it was built for (the check named in `REASONS`), not for
/// an incidental one.
#[test]
fn sigstore_conformance_cases() {
    let root = support::corpus("sigstore-conformance");
    let cases: Vec<ConformanceCase> =
        serde_json::from_slice(&std::fs::read(root.join("expected.json")).unwrap()).unwrap();
    // What each FAIL case is about, as the refusal must say it.
    const REASONS: &[(&str, &str)] = &[
        ("bundle-negative-log-index_fail", "negative log index"),
        ("checkpoint-bad-keyhint_fail", "key hint"),
        ("dsse-invalid-sig_fail", "signature"),
        ("dsse-mismatch-sig_fail", "signature"),
        ("inclusion-proof-corrupted-hash_fail", "inclusion proof"),
        ("integrated-time-in-future_fail", "not valid at the signing time"),
        ("intoto-log-entry-mismatch_fail", "not among the logged ones"),
        ("intoto-set-outside-signing-cert-validity_fail", "not valid at the signing time"),
        ("invalid-ct-key_fail", "SCT"),
        ("managed-key-no-key_fail", "signed with a key"),
        ("message-digest-mismatch_fail", "messageDigest"),
        ("rekor2-checkpoint-missing-log-signature_fail", "checkpoint"),
        ("rekor2-checkpoint-missing-root-hash_fail", "root hash"),
        ("rekor2-dsse-invalid-sig_fail", "logged signature"),
        ("rekor2-dsse-mismatch-sig_fail", "logged signature"),
        ("rekor2-no-inclusion-proof_fail", "inclusion proof"),
        ("rekor2-timestamp-outside-trust-root-tsa-validity_fail", "not trusted at"),
        ("rekor2-timestamp-payload-mismatch_fail", "not over the bundle's signature"),
        ("rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail", "no timestamp authority"),
        ("signature-mismatch_fail", "signature"),
        ("wrong-hashedrekord-artifact_fail", "not the artifact"),
        ("wrong-hashedrekord-entry_fail", "not the artifact"),
    ];
    let (mut agreed, mut total) = (0, 0);
    let mut wrong = Vec::new();
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
            let reason = REASONS.iter().find(|(name, _)| *name == c.case).map(|(_, r)| *r);
            let for_its_reason = reason.is_none_or(|r| run.stderr.contains(r));
            if ok && for_its_reason && !run.stderr.contains("not supported") {
                agreed += 1;
            } else {
                wrong.push(format!(
                    "{} [{}] expected {}{}, exit {}: {}",
                    c.case,
                    subject,
                    c.expected,
                    reason.map(|r| format!(" ({r})")).unwrap_or_default(),
                    run.code,
                    run.stderr.trim()
                ));
            }
            assert!(!(c.expected == "fail" && run.code == 0), "{} was admitted", c.case);
        }
    }
    println!("sigstore-conformance: {agreed}/{total} agreed (file and digest variants, FAIL cases for their reason)");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(total, 70);
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
    // The success is said on stdout, where scripts read results.
    assert!(ok.stdout.starts_with("OK: ") && !ok.stderr.contains("OK: "), "{} / {}", ok.stdout, ok.stderr);
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

mod cosign_simple_signing {
    //! containers/image's cosign fixtures (signature/policy_eval_sigstore_test.go outcomes).
    use super::support;

    /// The keyless fixture (Fulcio certificate + Rekor SET, production
    /// Sigstore): verified offline as the bundle it amounts to, signer
    /// mitr@redhat.com via GitHub OAuth (ACCEPT upstream); the same
    /// signature presented for another image is refused.
    #[test]
    fn keyless_fulcio_rekor_fixture() {
        use portcullis::signature::material::Material;
        let d = fixtures("dir-img-cosign-fulcio-rekor-valid");
        let manifest = std::fs::read(d.join("manifest.json")).unwrap();
        let sig = CosignSignature::from_sigstore_json(&std::fs::read(d.join("signature-1")).unwrap()).unwrap();
        let material = |target: &str| Material {
            origin: "dir:signature-1".into(),
            target: portcullis::digest::Digest::parse(target).unwrap(),
            media_type: sig.media_type.clone(),
            content: sig.payload.clone(),
            annotations: sig.annotations.clone(),
        };
        let root = portcullis::signature::trust::TrustRoot::production();
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&manifest)));
        let v = material(&digest).verify_keyless(&root).expect("the keyless fixture verifies");
        let cert = <x509_cert::Certificate as der::Decode>::from_der(&v.certificate.unwrap()).unwrap();
        assert_eq!(portcullis::signature::identity::sans(&cert), ["mitr@redhat.com"]);
        assert_eq!(portcullis::signature::identity::issuer(&cert).as_deref(), Some("https://github.com/login/oauth"));
        let other = material(&format!("sha256:{}", "ab".repeat(32))).verify_keyless(&root).unwrap_err();
        assert!(other.contains("the signature is for"), "{other}");
    }
    use portcullis::signature::cosign::{CosignSignature, Requirements, verify};
    use sha2::Digest as _;

    fn fixtures(rel: &str) -> std::path::PathBuf {
        support::corpus("containers-image/signature/fixtures").join(rel)
    }

    fn pem(name: &str) -> Vec<u8> {
        std::fs::read(fixtures(name)).unwrap()
    }

    /// ACCEPT when any signature of the image verifies (containers/image semantics).
    fn accepted(dir: &str, keys: &[&str], rekor: &[&str]) -> Result<(), String> {
        let req = Requirements {
            keys: keys.iter().map(|k| pem(k)).collect(),
            rekor_keys: rekor.iter().map(|k| pem(k)).collect(),
            pki: None,
        };
        accepted_by(dir, &req, |_| {})
    }

    /// [`accepted`] with any requirements, each signature first passed
    /// through `edit` (to remove an annotation, as upstream's tests do).
    fn accepted_by(dir: &str, req: &Requirements, edit: impl Fn(&mut CosignSignature)) -> Result<(), String> {
        let d = fixtures(dir);
        let manifest = std::fs::read(d.join("manifest.json")).map_err(|e| format!("no manifest: {e}"))?;
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&manifest)));
        let mut why = Vec::new();
        for i in 1.. {
            let Ok(bytes) = std::fs::read(d.join(format!("signature-{i}"))) else { break };
            let sig = CosignSignature::from_sigstore_json(&bytes).map(|mut s| {
                edit(&mut s);
                s
            });
            match sig.and_then(|s| verify(&s, &digest, req)) {
                Ok(()) => return Ok(()),
                Err(e) => why.push(e),
            }
        }
        Err(if why.is_empty() { "no signatures".into() } else { why.join("; ") })
    }

    #[test]
    fn key_signed_images() {
        assert_eq!(accepted("dir-img-cosign-valid", &["cosign.pub"], &[]), Ok(()));
        assert_eq!(accepted("dir-img-cosign-valid", &["cosign2.pub", "cosign.pub"], &[]), Ok(()));
        assert!(
            accepted("dir-img-cosign-valid", &["cosign2.pub"], &[]).unwrap_err().contains("none of the 1 given key")
        );
        assert_eq!(accepted("dir-img-cosign-valid-2", &["cosign.pub"], &[]), Ok(()));
        assert_eq!(accepted("dir-img-cosign-mixed", &["cosign.pub"], &[]), Ok(()));
        assert!(
            accepted("dir-img-cosign-modified-manifest", &["cosign.pub"], &[])
                .unwrap_err()
                .contains("not for this image")
        );
        assert!(
            accepted("dir-img-cosign-other-attachment", &["cosign.pub"], &[])
                .unwrap_err()
                .contains("not a cosign simple-signing")
        );
        assert!(accepted("dir-img-unsigned", &["cosign.pub"], &[]).is_err());
        assert!(accepted("dir-img-valid", &["cosign.pub"], &[]).is_err(), "GPG signatures are not cosign signatures");
        assert!(accepted("dir-img-cosign-no-manifest", &["cosign.pub"], &[]).unwrap_err().contains("no manifest"));
    }

    /// BYO-PKI (containers/image `pki` requirement): a certificate from a
    /// private RSA CA, its chain in the signature, no Rekor.
    #[test]
    fn private_ca_signed_images() {
        use portcullis::signature::pki::Pki;
        let pki = |intermediates: bool, email: Option<&str>, host: Option<&str>| Requirements {
            keys: Vec::new(),
            rekor_keys: Vec::new(),
            pki: Some(
                Pki::new(
                    &pem("pki_root_crts.pem"),
                    intermediates.then(|| pem("pki_intermediate_crts.pem")).as_deref(),
                    email.map(str::to_owned),
                    host.map(str::to_owned),
                )
                .unwrap(),
            ),
        };
        let (email, host) = (Some("qiwan@redhat.com"), Some("myhost.example.com"));
        let dir = "dir-img-cosign-pki-valid";
        assert_eq!(accepted_by(dir, &pki(true, email, host), |_| {}), Ok(()));
        assert_eq!(accepted_by(dir, &pki(true, email, None), |_| {}), Ok(()));
        assert_eq!(accepted_by(dir, &pki(true, None, host), |_| {}), Ok(()));
        // The chain the signature carries suffices with the root alone.
        assert_eq!(accepted_by(dir, &pki(false, email, host), |_| {}), Ok(()));
        let no_chain = |s: &mut CosignSignature| {
            s.annotations.remove("dev.sigstore.cosign/chain");
        };
        assert_eq!(accepted_by(dir, &pki(true, email, host), no_chain), Ok(()));
        let e = accepted_by(dir, &pki(false, email, host), no_chain).unwrap_err();
        assert!(e.contains("no path from the signing certificate to a configured CA root"), "{e}");
        let e = accepted_by(dir, &pki(true, email, host), |s| {
            s.annotations.remove("dev.sigstore.cosign/certificate");
        })
        .unwrap_err();
        assert!(e.contains("carries no certificate"), "{e}");
        let e = accepted_by(dir, &pki(true, Some("someone@example.com"), host), |_| {}).unwrap_err();
        assert!(e.contains("not someone@example.com"), "{e}");
        let e = accepted_by(dir, &pki(true, email, Some("other.example.com")), |_| {}).unwrap_err();
        assert!(e.contains("not other.example.com"), "{e}");
        // Another CA: the Fulcio root does not vouch for this certificate,
        // though the signature carries its own chain up to its (self-signed)
        // root: only configured roots anchor a path.
        let fulcio = Requirements {
            keys: Vec::new(),
            rekor_keys: Vec::new(),
            pki: Some(Pki::new(&pem("fulcio_v1.crt.pem"), None, email.map(str::to_owned), None).unwrap()),
        };
        assert!(accepted_by(dir, &fulcio, |_| {}).unwrap_err().contains("no path"));
        // A key-signed image has no certificate for the CA to vouch for.
        assert!(
            accepted_by("dir-img-cosign-valid", &pki(true, email, host), |_| {})
                .unwrap_err()
                .contains("no certificate")
        );
        // A PKI without an expected signer is refused when configured.
        assert!(Pki::new(&pem("pki_root_crts.pem"), None, None, None).unwrap_err().contains("email or hostname"));
    }

    #[test]
    fn key_signed_with_rekor_set() {
        assert_eq!(accepted("dir-img-cosign-key-rekor-valid", &["cosign2.pub"], &["rekor.pub"]), Ok(()));
        assert_eq!(
            accepted("dir-img-cosign-key-rekor-valid", &["cosign2.pub", "cosign.pub"], &["cosign.pub", "rekor.pub"]),
            Ok(())
        );
        // Rekor key is not Rekor's.
        assert!(
            accepted("dir-img-cosign-key-rekor-valid", &["cosign2.pub"], &["cosign.pub"])
                .unwrap_err()
                .contains("none of the Rekor keys")
        );
        // A key-only signature when Rekor is required.
        assert!(accepted("dir-img-cosign-valid", &["cosign.pub"], &["rekor.pub"]).unwrap_err().contains("no bundle"));
        // The SET of the key-rekor image grafted onto the key-only signature.
        let d = fixtures("dir-img-cosign-key-rekor-valid");
        let with_set: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("signature-1")).unwrap()[15..]).unwrap();
        let valid = std::fs::read(fixtures("dir-img-cosign-valid/signature-1")).unwrap();
        let mut sig = CosignSignature::from_sigstore_json(&valid).unwrap();
        sig.annotations.insert(
            "dev.sigstore.cosign/bundle".into(),
            with_set["annotations"]["dev.sigstore.cosign/bundle"].as_str().unwrap().into(),
        );
        let manifest = std::fs::read(fixtures("dir-img-cosign-valid/manifest.json")).unwrap();
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&manifest)));
        let req = Requirements { keys: vec![pem("cosign.pub")], rekor_keys: vec![pem("rekor.pub")], pki: None };
        assert!(verify(&sig, &digest, &req).unwrap_err().contains("signature in Rekor SET does not match"));
        // A modified SET.
        let mut tampered = CosignSignature::from_sigstore_json(&std::fs::read(d.join("signature-1")).unwrap()).unwrap();
        let b = tampered.annotations.get_mut("dev.sigstore.cosign/bundle").unwrap();
        *b = b.replacen("\"integratedTime\":1", "\"integratedTime\":2", 1);
        let manifest = std::fs::read(d.join("manifest.json")).unwrap();
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&manifest)));
        let req = Requirements { keys: vec![pem("cosign2.pub")], rekor_keys: vec![pem("rekor.pub")], pki: None };
        assert!(verify(&tampered, &digest, &req).is_err());
    }
}

/// One bundle case of a client library's own tests.
struct ClientCase {
    corpus: &'static str,
    bundle: &'static str,
    /// The artifact file, or empty: bind the statement's first subject (DSSE).
    artifact: &'static str,
    /// `production`, `staging`, or a file of the corpus.
    root: &'static str,
    /// `key:FILE`, or `SAN-REGEX|ISSUER`.
    signer: &'static str,
    pass: bool,
    /// For failures: what the refusal must name.
    reason: &'static str,
}

const ANY: &str = ".*|.*";

/// The sha512 of the sigstore@2.0.0 npm tarball (sigstore-go's test).
const SIGSTORE_JS_SHA512: &str = "sha512:46d4e2f74c4877316640000a6fdf8a8b59f1e0847667973e9859f774dd31b8f1e0937813b777fb66a2ac67d50540fe34640966eee9fc2ccca387082b4c85cd3c";

/// Bundles from the Sigstore clients' test suites (sigstore-python,
/// sigstore-js, sigstore-go, sigstore-rs, cosign), with the outcome their
/// tests assert (SOURCE.md of each corpus folder). Not in the table: cases
/// whose upstream assertion depends on a client-specific knob (thresholds,
/// injected TSA roots, online lookups), and sigstore-js's DSSE bundles,
/// whose payload (`hello, world!`) is not an in-toto statement and so binds
/// no artifact for `verify-bundle` to check.
#[rustfmt::skip]
const CLIENT_CASES: &[ClientCase] = &[
    // sigstore-python (staging unless noted)
    // P-384 signing key over the SHA-256 digest (the crate alone refuses it;
    // see `p384_signature_check_runs_after_chain_and_identity`).
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/bundle.txt.sigstore", artifact: "test/assets/bundle.txt", root: "production", signer: "a@tny\\.town|https://github.com/login/oauth", pass: false, reason: "is not in the trusted root" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/bundle.txt.sigstore", artifact: "test/assets/bundle.txt", root: "staging", signer: "a@tny\\.town|https://github.com/login/oauth", pass: true, reason: "" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/bundle.txt.sigstore", artifact: "test/assets/bundle.txt", root: "staging", signer: "bad@ident\\.example\\.com|https://github.com/login/oauth", pass: false, reason: "SubjectAltName" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/bundle.txt.sigstore", artifact: "test/assets/bundle_v3.txt", root: "staging", signer: "a@tny\\.town|https://github.com/login/oauth", pass: false, reason: "does not match the artifact" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/bundle_v3.txt.sigstore", artifact: "test/assets/bundle_v3.txt", root: "staging", signer: "william@yossarian\\.net|https://github.com/login/oauth", pass: true, reason: "" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/bundle_v3_alt.txt.sigstore", artifact: "test/assets/bundle_v3_alt.txt", root: "staging", signer: "william@yossarian\\.net|https://github.com/login/oauth", pass: true, reason: "" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/bundle_v3.txt.sigstore", artifact: "test/assets/bundle_v3.txt", root: "staging", signer: "bad@ident\\.example\\.com|https://github.com/login/oauth", pass: false, reason: "SubjectAltName" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/staging-rekor-v2.txt.sigstore.json", artifact: "test/assets/staging-rekor-v2.txt", root: "staging", signer: "jku@goto\\.fi|https://github.com/login/oauth", pass: true, reason: "" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/a.dsse.staging-rekor-v2.txt.sigstore.json", artifact: "", root: "staging", signer: "https://github\\.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.*|https://token.actions.githubusercontent.com", pass: true, reason: "" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/bundle_cve_2022_36056.txt.sigstore", artifact: "test/assets/bundle_cve_2022_36056.txt", root: "staging", signer: ANY, pass: false, reason: "tlogEntries[0]" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/bundle_invalid_version.txt.sigstore", artifact: "test/assets/bundle_invalid_version.txt", root: "staging", signer: ANY, pass: false, reason: "unknown bundle media type" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/bundle_no_cert_v1.txt.sigstore", artifact: "test/assets/bundle_no_cert_v1.txt", root: "production", signer: ANY, pass: false, reason: "certificate" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/bundle_no_log_entry.txt.sigstore", artifact: "test/assets/bundle_no_log_entry.txt", root: "staging", signer: ANY, pass: false, reason: "no transparency log entry" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/bundle_no_checkpoint.txt.sigstore", artifact: "test/assets/bundle_no_checkpoint.txt", root: "staging", signer: ANY, pass: false, reason: "checkpoint" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/bundle_v3_no_signed_time.txt.sigstore.json", artifact: "test/assets/bundle_v3_no_signed_time.txt", root: "production", signer: ANY, pass: false, reason: "no verified signing time" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/bundle_v3_github.whl.sigstore", artifact: "test/assets/bundle_v3_github.whl", root: "production", signer: "https://github\\.com/trailofbits/rfc8785\\.py/\\.github/workflows/release\\.yml@refs/tags/v0\\.1\\.2|https://token.actions.githubusercontent.com", pass: true, reason: "" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/tsa/bundle.many_timestamp.sigstore", artifact: "test/assets/tsa/bundle.txt", root: "staging", signer: ANY, pass: false, reason: "timestamps" },
    ClientCase { corpus: "sigstore-python", bundle: "test/assets/tsa/bundle.duplicate.sigstore", artifact: "test/assets/tsa/bundle.txt", root: "staging", signer: ANY, pass: false, reason: "duplicate" },
    // sigstore-js client tests (their trusted root, GitHub OAuth signers)
    // A v0.1 bundle whose chain includes the root: the chain is ignored
    // beyond the leaf (as sigstore-go and sigstore-js do).
    ClientCase { corpus: "sigstore-js", bundle: "extracted/client_bundles_valid.v1__messageSignature__withSigningCert.sigstore.json", artifact: "extracted/artifact.txt", root: "extracted/client_trusted_root.json", signer: ".*|https://github.com/login/oauth", pass: true, reason: "" },
    ClientCase { corpus: "sigstore-js", bundle: "extracted/client_bundles_valid.v2__messageSignature__withSigningCert.sigstore.json", artifact: "extracted/artifact.txt", root: "extracted/client_trusted_root.json", signer: ".*|https://github.com/login/oauth", pass: true, reason: "" },
    ClientCase { corpus: "sigstore-js", bundle: "extracted/client_bundles_valid.v3__messageSignature__withSigningCert.sigstore.json", artifact: "extracted/artifact.txt", root: "extracted/client_trusted_root.json", signer: ".*|https://github.com/login/oauth", pass: true, reason: "" },
    ClientCase { corpus: "sigstore-js", bundle: "extracted/client_bundles_invalid.v1__messageSignature__invalidExpiredCert.sigstore.json", artifact: "extracted/artifact.txt", root: "extracted/client_trusted_root.json", signer: ".*|https://github.com/login/oauth", pass: false, reason: "not valid at the signing time" },
    // sigstore-go: npm provenance of sigstore@2.0.0 (SHA-512 subject, intoto 0.0.2 entry)
    ClientCase { corpus: "sigstore-go", bundle: "pkg/testing/data/bundles/sigstore.js@2.0.0-provenance.sigstore.json", artifact: SIGSTORE_JS_SHA512, root: "pkg/testing/data/trusted-roots/public-good.json", signer: "https://github.com/sigstore/sigstore-js/.*|https://token.actions.githubusercontent.com", pass: true, reason: "" },
    ClientCase { corpus: "sigstore-go", bundle: "pkg/testing/data/bundles/sigstore.js@2.0.0-provenance.sigstore.json", artifact: SIGSTORE_JS_SHA512, root: "pkg/testing/data/trusted-roots/public-good.json", signer: "BadSANValue|https://token.actions.githubusercontent.com", pass: false, reason: "SubjectAltName" },
    ClientCase { corpus: "sigstore-go", bundle: "pkg/testing/data/bundles/sigstore.js@2.0.0-provenance.sigstore.json", artifact: "sha512:00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000", root: "pkg/testing/data/trusted-roots/public-good.json", signer: ANY, pass: false, reason: "subject" },
    ClientCase { corpus: "sigstore-go", bundle: "pkg/testing/data/bundles/dsse-2sigs.sigstore.json", artifact: "", root: "pkg/testing/data/trusted-roots/public-good.json", signer: ANY, pass: false, reason: "2 signatures" },
    // sigstore-rs: cosign v3 bundle of a kubewarden image (TSA + dsse 0.0.1)
    ClientCase { corpus: "sigstore-rs", bundle: "tests/data/bundle_v03.json", artifact: "", root: "production", signer: "https://github\\.com/kubewarden/.*|https://token.actions.githubusercontent.com", pass: true, reason: "" },
    // cosign: an OCI attestation bundle, its own trusted root snapshot
    ClientCase { corpus: "cosign", bundle: "pkg/cosign/testdata/oci-attestation.sigstore.json", artifact: "", root: "pkg/cosign/testdata/trusted_root_pgi.json", signer: ANY, pass: true, reason: "" },
];

/// The first sha256 subject of a DSSE bundle's statement.
fn first_subject(bundle: &std::path::Path) -> String {
    let b: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    let payload = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        b["dsseEnvelope"]["payload"].as_str().expect("a DSSE bundle"),
    )
    .unwrap();
    let st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    // Subjects with other digests only (sha512): a digest nothing matches.
    let zero = "0".repeat(64);
    format!("sha256:{}", st["subject"][0]["digest"]["sha256"].as_str().unwrap_or(&zero))
}

#[test]
fn sigstore_client_corpora() {
    let mut agreed = 0;
    let mut wrong = Vec::new();
    for c in CLIENT_CASES {
        let dir = support::corpus(c.corpus);
        let bundle = dir.join(c.bundle);
        let subject = if c.artifact.is_empty() {
            first_subject(&bundle)
        } else if c.artifact.starts_with("sha512:") {
            c.artifact.to_string()
        } else {
            dir.join(c.artifact).display().to_string()
        };
        let root = match c.root {
            "production" | "staging" => c.root.to_string(),
            file => dir.join(file).display().to_string(),
        };
        let mut args = vec!["verify-bundle".to_string(), "--bundle".into(), bundle.display().to_string()];
        args.extend(["--trusted-root".into(), root]);
        match c.signer.strip_prefix("key:") {
            Some(k) => args.extend(["--key".into(), dir.join(k).display().to_string()]),
            None => {
                let (san, issuer) = c.signer.split_once('|').unwrap();
                args.extend([
                    "--certificate-identity-regexp".into(),
                    san.into(),
                    "--certificate-oidc-issuer-regexp".into(),
                    issuer.into(),
                ]);
            }
        }
        args.push(subject);
        let run = support::portcullis(&args);
        let ok = if c.pass { run.code == 0 } else { run.code == 1 && run.stderr.contains(c.reason) };
        if ok {
            agreed += 1;
        } else {
            wrong.push(format!(
                "{} {}: expected {}, exit {}: {}",
                c.corpus,
                c.bundle,
                if c.pass { "pass" } else { c.reason },
                run.code,
                run.stderr.trim()
            ));
        }
        assert!(c.pass || run.code != 0, "{} was admitted", c.bundle);
    }
    println!("sigstore client corpora: {agreed}/{} agree", CLIENT_CASES.len());
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// npm publish attestations (slsa-verifier's npm test data): DSSE bundles
/// signed with the npm registry's key (sigstore-go ships it as
/// `examples/publish_key.pub`, one long PEM line), over the tarball's
/// SHA-512. The `-invalidsigpub` variant is refused.
#[test]
fn npm_publish_attestations_with_the_registry_key() {
    use portcullis::signature::bundle::{Expectation, verify};
    use sha2::Digest as _;
    let npm = support::corpus("slsa-verifier").join("cli/slsa-verifier/testdata/npm/gha");
    let key = std::fs::read(support::corpus("sigstore-go").join("examples/publish_key.pub")).unwrap();
    let root = TrustRoot::production();
    for (name, ok) in [("gundam-visor-cli-v1-tag", true), ("gundam-visor-cli-v1-tag-invalidsigpub", false)] {
        let set: serde_json::Value =
            serde_json::from_slice(&std::fs::read(npm.join(format!("{name}.tgz.json"))).unwrap()).unwrap();
        let publish = set["attestations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["predicateType"].as_str().unwrap().starts_with("https://github.com/npm/attestation/"))
            .unwrap();
        let bundle = serde_json::to_vec(&publish["bundle"]).unwrap();
        let sha512: [u8; 64] = sha2::Sha512::digest(std::fs::read(npm.join(format!("{name}.tgz"))).unwrap()).into();
        let r = verify(&bundle, sha512, &Expectation::Key(key.clone()), &root);
        assert_eq!(r.is_ok(), ok, "{name}: {r:?}");
    }
}

/// Fail closed on the trust root: a missing, unparsable or empty
/// `--trusted-root` stops `verify-bundle` and `audit` with exit 2 and the
/// reason, before anything is verified (never an admit, never a silent
/// fallback to the embedded root).
#[test]
fn unusable_trusted_roots_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"mediaType\": ").unwrap();
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#).unwrap();
    let missing = dir.path().join("missing.json");
    // The embedded production root with one required field removed: read
    // as "valid since forever" before, refused by name now.
    let unbounded = dir.path().join("unbounded.json");
    let mut root: serde_json::Value = serde_json::from_slice(
        &std::fs::read(support::workspace().join("engine/trust/trusted_root.production.json")).unwrap(),
    )
    .unwrap();
    root.pointer_mut("/tlogs/0/publicKey/validFor").unwrap().as_object_mut().unwrap().remove("start").unwrap();
    std::fs::write(&unbounded, root.to_string()).unwrap();
    let bundle = case("happy-path-v0.3").join("bundle.sigstore.json");
    let a_txt = support::corpus("sigstore-conformance").join("test/assets/a.txt");
    let layout = support::corpus(
        "slsa-verifier/cli/slsa-verifier/testdata/gha_generic_container/v2.1.0/container_workflow_dispatch",
    );
    let supply_chain = support::workspace().join("policies/supply-chain.toml");
    for (root, why) in [
        (&missing, "No such file"),
        (&bad, "trusted root: mediaType: EOF while parsing"),
        (&empty, "lists no transparency log"),
        (&unbounded, "trusted root: tlogs[0].publicKey.validFor: missing field `start`"),
    ] {
        let root = root.to_str().unwrap();
        let run = support::portcullis([
            "verify-bundle",
            "--bundle",
            bundle.to_str().unwrap(),
            "--certificate-identity-regexp",
            ".*",
            "--certificate-oidc-issuer-regexp",
            ".*",
            "--trusted-root",
            root,
            a_txt.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 2, "verify-bundle with {root}: {}", run.stderr);
        assert!(run.stderr.contains(root) && run.stderr.contains(why), "{}", run.stderr);
        let run = support::portcullis([
            "audit",
            "--skip-layers",
            "--policy",
            supply_chain.to_str().unwrap(),
            "--trusted-root",
            root,
            layout.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 2, "audit with {root}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(root) && run.stderr.contains(why), "{}", run.stderr);
        assert!(!run.stdout.contains("ADMIT"), "{}", run.stdout);
    }
}

/// `trust-root import`: sigstore/root-signing's metadata (root v15, 3 of 5
/// root keys; targets v14, 3 of 5 targets keys) verified from the embedded
/// pinned TUF root. The corpus's root expired on 2026-11-20, so the import
/// is refused by default and accepted only with --allow-expired-metadata
/// (said); the imported file is the one the repository signed and verifies
/// bundles. Tampering with the target, the targets metadata or its
/// signatures, a forged root rotation, or a pinned root not signed by its
/// own keys is refused, naming the check.
#[test]
fn trust_root_import_through_tuf() {
    let repo = support::corpus("sigstore-root-signing");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("trusted_root.json");
    let import = |repo: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "trust-root".to_string(),
            "import".into(),
            "--tuf-repo".into(),
            repo.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        support::portcullis(&args)
    };
    let run = import(std::path::Path::new("/nonexistent"), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("not a TUF repository copy"), "{}", run.stderr);
    let run = import(&repo, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("TUF root version 15 expired at 2026-11-20T13:58:18Z"), "{}", run.stderr);
    assert!(!out.exists());

    let run = import(&repo, &["--allow-expired-metadata"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("warning: accepted although TUF root version 15 expired"), "{}", run.stderr);
    assert!(run.stderr.contains("targets version 14"), "{}", run.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(repo.join("targets/trusted_root.json")).unwrap());
    let a_txt = support::corpus("sigstore-conformance").join("test/assets/a.txt");
    let run = support::portcullis([
        "verify-bundle",
        "--bundle",
        case("happy-path-v0.3").join("bundle.sigstore.json").to_str().unwrap(),
        "--certificate-identity-regexp",
        ".*",
        "--certificate-oidc-issuer-regexp",
        ".*",
        "--trusted-root",
        out.to_str().unwrap(),
        a_txt.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    // A copy to tamper with.
    let tampered = |name: &str, edit: &dyn Fn(&std::path::Path)| {
        let copy = dir.path().join(name);
        support::copy_dir(&repo, &copy);
        edit(&copy);
        let _ = std::fs::remove_file(&out);
        let run = import(&copy, &["--allow-expired-metadata"]);
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        assert!(!out.exists(), "{name}: nothing is written");
        run.stderr
    };
    let e = tampered("target", &|r| {
        let p = r.join("targets/trusted_root.json");
        let text =
            std::fs::read_to_string(&p).unwrap().replacen("https://rekor.sigstore.dev", "https://rekor.example.dev", 1);
        std::fs::write(p, text).unwrap();
    });
    assert!(e.contains("not the file the repository signed"), "{e}");
    let e = tampered("targets-meta", &|r| {
        let p = r.join("metadata/targets.json");
        let text = std::fs::read_to_string(&p).unwrap().replacen("6494e21e", "00000000", 1);
        std::fs::write(p, text).unwrap();
    });
    assert!(e.contains("targets.json (version 14)") && e.contains("threshold"), "{e}");
    let e = tampered("targets-sigs", &|r| {
        let p = r.join("metadata/targets.json");
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        v["signatures"].as_array_mut().unwrap().truncate(2);
        std::fs::write(p, serde_json::to_vec(&v).unwrap()).unwrap();
    });
    assert!(e.contains("threshold"), "{e}");
    let e = tampered("rotation", &|r| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(r.join("metadata/root.json")).unwrap()).unwrap();
        v["signed"]["version"] = serde_json::json!(16);
        v["signed"]["expires"] = serde_json::json!("2036-01-01T00:00:00Z");
        std::fs::write(r.join("metadata/16.root.json"), serde_json::to_vec(&v).unwrap()).unwrap();
    });
    assert!(e.contains("16.root.json: not signed by the keys of root version 15"), "{e}");
    let e = tampered("newer-root", &|r| {
        let p = r.join("metadata/root.json");
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        v["signed"]["version"] = serde_json::json!(17);
        std::fs::write(p, serde_json::to_vec(&v).unwrap()).unwrap();
    });
    assert!(e.contains("root version 17, but the rotations from the pinned root stop at version 15"), "{e}");
    // A pinned root that its own keys did not sign.
    let mut pinned: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.join("metadata/root.json")).unwrap()).unwrap();
    pinned["signed"]["expires"] = serde_json::json!("2099-01-01T00:00:00Z");
    let pinned_path = dir.path().join("pinned-root.json");
    std::fs::write(&pinned_path, serde_json::to_vec(&pinned).unwrap()).unwrap();
    let run = import(&repo, &["--tuf-root", pinned_path.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("pinned TUF root (version 15): not signed by its own root keys"), "{}", run.stderr);
}

/// The P-384 bundle's signature is checked by us only after the sigstore
/// crate failed at its signature step, which it reaches only once chain,
/// SCT and identity passed. Guard: with the staging root's logs but the
/// production root's CAs (the log checks pass, the chain cannot), and with
/// another identity, the bundle must still fail — both would pass if a
/// crate update checked the signature before the chain or the identity.
#[test]
fn p384_signature_check_runs_after_chain_and_identity() {
    let assets = support::corpus("sigstore-python").join("test/assets");
    let staging: serde_json::Value = serde_json::from_str(portcullis::signature::trust::STAGING).unwrap();
    let production: serde_json::Value = serde_json::from_str(portcullis::signature::trust::PRODUCTION).unwrap();
    let mut hybrid = staging.clone();
    hybrid["certificateAuthorities"] = production["certificateAuthorities"].clone();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("hybrid.json");
    std::fs::write(&root, serde_json::to_vec(&hybrid).unwrap()).unwrap();
    let verify = |root: &str, identity: &str| {
        support::portcullis([
            "verify-bundle",
            "--bundle",
            assets.join("bundle.txt.sigstore").to_str().unwrap(),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            "https://github.com/login/oauth",
            "--trusted-root",
            root,
            assets.join("bundle.txt").to_str().unwrap(),
        ])
    };
    assert_eq!(verify("staging", "a@tny.town").code, 0);
    let run = verify(root.to_str().unwrap(), "a@tny.town");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("certificate verification failed"), "{}", run.stderr);
    let run = verify("staging", "someone@else.example");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("SubjectAltName does not match"), "{}", run.stderr);
}

/// SC-SIG-002 compares the certificate's source ref exactly, as git does
/// (refs are case-sensitive): the conformance beacon's run at
/// `refs/heads/main` passes `refs/heads/main` and `refs/heads/m*`, not
/// `refs/heads/Main` or `refs/heads/MAIN`.
#[test]
fn certificate_source_refs_are_compared_with_their_case() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = case("happy-path-v0.3").join("bundle.sigstore.json");
    let a_txt = case("a.txt");
    for (refs, code) in [
        ("'refs/heads/main'", 0),
        ("'refs/heads/m*'", 0),
        ("'refs/heads/Main'", 1),
        ("'refs/heads/MAIN', 'refs/heads/M*'", 1),
    ] {
        let policy = dir.path().join("policy.toml");
        std::fs::write(
            &policy,
            format!(
                "[policy]\nname = \"refs\"\nversion = \"1\"\n\n[plugins.signatures]\n\n[rules.SC-SIG-001]\n[rules.SC-SIG-002]\nparams = {{ identity = 'https://github\\.com/sigstore-conformance/.*', issuer = 'https://token.actions.githubusercontent.com', source_refs = [{refs}] }}\n[rules.SC-SLSA-001]\nenabled = false\n[rules.SC-SLSA-002]\nenabled = false\n[rules.SC-SLSA-003]\nenabled = false\n[rules.SC-SLSA-004]\nenabled = false\n"
            ),
        )
        .unwrap();
        let run = support::portcullis([
            "audit",
            "--policy",
            policy.to_str().unwrap(),
            "--bundle",
            bundle.to_str().unwrap(),
            a_txt.to_str().unwrap(),
        ]);
        assert_eq!(run.code, code, "{refs}: {}{}", run.stdout, run.stderr);
        if code == 1 {
            assert!(run.stdout.contains("SC-SIG-002") && run.stdout.contains("at refs/heads/main"), "{}", run.stdout);
        }
    }
}
