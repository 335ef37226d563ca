//! SLSA provenance, checked against slsa-verifier's own regression cases
//! (`../shared/corpus/slsa-verifier/expected_cases.jsonl`: every case of
//! its `main_regression_test.go` expanded the way the Go loops expand them).
//!
//! A run agrees when the verdict is the same and, for a failure, the
//! failure kind is the one slsa-verifier names. Runs whose provenance is a
//! bare DSSE envelope need an online Rekor search upstream; they are N/A
//! by rule — and the rule is tested: each such run must be refused with
//! `OnlineOnly`, never admitted, never counted as agreement.

use crate::support;

use portcullis::signature::material::Material;
use portcullis::signature::trust::TrustRoot;
use portcullis::slsa::{Failure, SlsaError, gha};
use serde_json::{Value, json};
use sha2::Digest as _;
use std::collections::BTreeMap;

/// The artifact's digest: hashed when present, as recorded when omitted for
/// size; `None` when upstream's own snapshot lacks it.
fn artifact_digest(root: &std::path::Path, a: &Value) -> Option<[u8; 32]> {
    if a["present"].as_bool() == Some(true) {
        Some(sha2::Sha256::digest(std::fs::read(root.join(a["path"].as_str().unwrap())).unwrap()).into())
    } else {
        Some(hex::decode(a["sha256"].as_str()?).unwrap().try_into().unwrap())
    }
}

/// Whether a result is the case's expectation: the verdict and, for a
/// failure, the error kind slsa-verifier names (`check` adds what a pass
/// must show).
fn agrees<T>(result: &Result<T, SlsaError>, case: &Value, check: impl Fn(&T) -> bool) -> bool {
    match (result, case["expected"] == "pass") {
        (Ok(v), true) => check(v),
        (Err(e), false) => e.kind.slsa_verifier_names().contains(&case["expected_error"].as_str().unwrap_or("")),
        _ => false,
    }
}

/// The builder id a passing case says verification reports, if it says.
fn out_builder(case: &Value, v: &gha::Verified) -> bool {
    case["expected_out_builder_id"].as_str().is_none_or(|b| v.builder_id == b)
}

/// The signatures and attestations discovered in a layout, as `audit`
/// finds them.
fn attached_materials(layout: &std::path::Path) -> Vec<Material> {
    let opts = portcullis::source::OpenOptions { skip_layers: true, ..Default::default() };
    let input = portcullis::source::open(layout, &opts).unwrap();
    let mut out: Vec<Material> = Vec::new();
    for e in &input.evidence {
        if let portcullis::evidence::Evidence::Image(i) = e {
            for m in i.signatures.iter() {
                if !out.iter().any(|o| o.origin == m.origin) {
                    out.push(m.clone());
                }
            }
        }
    }
    assert!(!out.is_empty(), "no attestation found in {}", layout.display());
    out
}

#[test]
fn slsa_verifier_artifact_cases() {
    let root = support::corpus("slsa-verifier");
    let trust = TrustRoot::production();
    let text = std::fs::read_to_string(root.join("expected_cases.jsonl")).unwrap();
    let (mut agreed, mut applicable, mut not_applicable, mut absent, mut image_runs, mut vsa_runs, mut npm_runs) =
        (0, 0, 0, 0, 0, 0, 0);
    let mut gcb_not_applicable = 0;
    // npm's registry keys, embedded from Sigstore's TUF repository.
    let npm_keys = portcullis::slsa::npm::RegistryKey::embedded();
    let mut layouts: BTreeMap<std::path::PathBuf, Vec<Material>> = BTreeMap::new();
    let mut not_yet: BTreeMap<String, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let test = case["test"].as_str().unwrap();
        let s = |k: &str| case[k].as_str().map(str::to_owned);
        if test == "Test_runVerifyVSA" {
            let list = |k: &str| -> Vec<String> {
                case[k].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
            };
            let expect = portcullis::slsa::vsa::Expectations {
                key_id: s("public_key_id").unwrap_or_default(),
                subject_digests: list("subject_digests"),
                resource_uri: s("resource_uri"),
                verifier_id: s("verifier_id"),
                verified_levels: list("verified_levels"),
            };
            let att = std::fs::read(root.join(case["attestation"]["path"].as_str().unwrap())).unwrap();
            let key = std::fs::read(root.join(case["public_key"]["path"].as_str().unwrap())).unwrap();
            let line = att.split(|b| *b == b'\n').next().unwrap();
            let result = portcullis::slsa::vsa::verify(line, &key, &expect);
            applicable += 1;
            vsa_runs += 1;
            if agrees(&result, &case, |_| true) {
                agreed += 1;
            } else {
                wrong.push(format!(
                    "vsa {}: expected {} {}, got {result:?}",
                    case["name"], case["expected"], case["expected_error"]
                ));
            }
            continue;
        }
        if test == "Test_runVerifyGCBArtifactImage" {
            // N/A by rule: Google Cloud Build signs provenance with its own
            // regional keys (no Sigstore bundle, no log proof), which are not
            // in ../shared; some runs also pull images from Docker Hub. Such
            // provenance must be refused, never admitted.
            gcb_not_applicable += 1;
            if let Some(path) = case["provenance"]["path"].as_str().filter(|_| case["provenance"]["present"] == true) {
                let bytes = std::fs::read(root.join(path)).unwrap();
                let r = gha::verify(&bytes, [0; 32], &gha::Expectations::default(), &trust);
                if r.is_ok() {
                    wrong.push(format!("gcb {}: Cloud Build provenance was admitted", case["name"]));
                }
            }
            continue;
        }
        if test == "Test_runVerifyNpmPackage" {
            let expect = portcullis::slsa::npm::Expectations {
                source_uri: s("source_uri").unwrap(),
                builder_id: s("builder_id"),
                package_name: s("package_name"),
                package_version: s("package_version"),
                testing: true,
            };
            let att = std::fs::read(root.join(case["attestations"]["path"].as_str().unwrap())).unwrap();
            let tgz = std::fs::read(root.join(case["artifacts"][0]["path"].as_str().unwrap())).unwrap();
            let sha512: [u8; 64] = sha2::Sha512::digest(&tgz).into();
            let result = portcullis::slsa::npm::verify(&att, sha512, &expect, &trust, &npm_keys);
            applicable += 1;
            npm_runs += 1;
            if agrees(&result, &case, |_| true) {
                agreed += 1;
            } else {
                wrong.push(format!(
                    "npm {} ({}): expected {} {}, got {result:?}",
                    case["name"], case["attestations"]["path"], case["expected"], case["expected_error"]
                ));
            }
            continue;
        }
        if test != "Test_runVerifyGHAArtifactPath" && test != "Test_runVerifyGHAArtifactImage" {
            *not_yet.entry(test.to_string()).or_default() += 1;
            continue;
        }
        let expect = gha::Expectations {
            source_uri: s("source_uri").unwrap(),
            builder_id: s("builder_id"),
            branch: s("source_branch"),
            tag: s("source_tag"),
            versioned_tag: s("source_versioned_tag"),
            workflow_inputs: case["build_workflow_inputs"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect())
                .unwrap_or_default(),
            // The regression test runs in slsa-verifier's testing mode.
            testing: true,
        };
        if test == "Test_runVerifyGHAArtifactImage" {
            // A `cosign save` layout: the image and its attestations.
            let layout = root.join(case["image_oci_layout"]["path"].as_str().unwrap());
            let image = portcullis::digest::Digest::parse(case["image_digest"].as_str().unwrap()).unwrap();
            let materials = layouts.entry(layout.clone()).or_insert_with(|| attached_materials(&layout)).clone();
            let result = gha::verify_image(&materials, &image, &expect, &trust);
            applicable += 1;
            image_runs += 1;
            if agrees(&result, &case, |v| out_builder(&case, v)) {
                agreed += 1;
            } else {
                wrong.push(format!(
                    "image {} [{}] {}: expected {} {}, got {:?}",
                    case["name"],
                    case["builder_dir"],
                    case["builder_id"],
                    case["expected"],
                    case["expected_error"],
                    result.as_ref().map(|v| v.builder_id.clone()).map_err(|e| (e.kind, e.message.clone()))
                ));
            }
            continue;
        }
        let bytes = std::fs::read(root.join(case["provenance"]["path"].as_str().unwrap())).unwrap();
        let bare = case["provenance_format"].as_str().unwrap_or_default().starts_with("bare-dsse");
        let Some(digests) =
            case["artifacts"].as_array().unwrap().iter().map(|a| artifact_digest(&root, a)).collect::<Option<Vec<_>>>()
        else {
            absent += 1;
            continue;
        };
        let results: Vec<_> = digests.iter().map(|d| gha::verify(&bytes, *d, &expect, &trust)).collect();
        let label = format!("{} [{}] {}", case["name"], case["builder_dir"], case["builder_id"]);
        if bare {
            // N/A by rule: refused as online-only, whatever upstream expects.
            not_applicable += 1;
            if !results.iter().all(|r| matches!(r, Err(e) if e.kind == Failure::OnlineOnly)) {
                wrong.push(format!("{label}: a bare envelope was not refused as online-only: {results:?}"));
            }
            continue;
        }
        applicable += 1;
        // Every artifact must pass; the first failure decides otherwise.
        let decisive = results.iter().find(|r| r.is_err()).or(results.last()).expect("at least one artifact");
        let first_err = decisive.as_ref().err();
        if agrees(decisive, &case, |_| results.iter().all(|r| r.as_ref().is_ok_and(|v| out_builder(&case, v)))) {
            agreed += 1;
        } else {
            wrong.push(format!(
                "{label}: expected {} {}, got {:?}",
                case["expected"],
                case["expected_error"],
                first_err.map(|e| (e.kind, e.message.clone()))
            ));
        }
    }
    println!(
        "slsa-verifier verify-artifact, verify-image, verify-npm-package, verify-vsa: {agreed} agreed / {applicable} applicable ({image_runs} image runs on cosign layouts, {npm_runs} npm runs, {vsa_runs} VSA runs); {not_applicable} N/A (bare DSSE: online Rekor search); {gcb_not_applicable} N/A (Google Cloud Build: its signing keys are not in ../shared); {absent} not runnable (artifact absent upstream)"
    );
    for (test, n) in &not_yet {
        println!("  not run yet: {test} ({n} runs)");
    }
    let shown: Vec<_> = wrong.iter().take(25).cloned().collect();
    assert!(wrong.is_empty(), "{} disagree:\n{}", wrong.len(), shown.join("\n"));
    assert!(applicable > 1000, "the corpus changed: {applicable} applicable runs");
}

/// The CLI: exit 0 with the builder named, exit 1 with the failed check
/// named the way slsa-verifier names it, never an admit for a bare envelope;
/// production mode (no testing flag) refuses a builder at a branch.
#[test]
fn verify_provenance_cli() {
    let t = support::corpus("slsa-verifier").join("cli/slsa-verifier/testdata");
    let go = t.join("gha_go/v2.1.0");
    let run = |prov: &std::path::Path, artifact: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "verify-provenance".to_string(),
            "--provenance".into(),
            prov.display().to_string(),
            "--source-uri".into(),
            "github.com/slsa-framework/example-package".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(artifact.display().to_string());
        support::portcullis(&args)
    };
    let prov = go.join("binary-linux-amd64-push-v14.2.intoto.jsonl");
    let art = go.join("binary-linux-amd64-push-v14.2");
    let ok = run(&prov, &art, &["--source-versioned-tag", "v14"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains("builder_go_slsa3.yml@refs/tags/v2.1.0"), "{}", ok.stdout);
    let tag = run(&prov, &art, &["--source-tag", "v14.1"]);
    assert_eq!(tag.code, 1);
    assert!(tag.stderr.contains("ErrorMismatchTag") && tag.stderr.contains("`v14.2`"), "{}", tag.stderr);
    // Any file that is not a subject (the provenance itself will do).
    let other = run(&prov, &prov, &[]);
    assert!(other.code == 1 && other.stderr.contains("ErrorMismatchHash"), "{}", other.stderr);
    let bare = run(&t.join("workflow-inputs.intoto.jsonl"), &t.join("workflow-inputs"), &[]);
    assert!(bare.code == 1 && bare.stderr.contains("online"), "{}", bare.stderr);
    // The delegator v1.9.0 run was signed at refs/heads/main: accepted only in testing mode.
    let d = t.join("gha_delegator/v1.9.0");
    let main = run(
        &d.join("binary-linux-amd64-workflow_dispatch.build.slsa"),
        &d.join("binary-linux-amd64-workflow_dispatch"),
        &[],
    );
    assert!(main.code == 1 && main.stderr.contains("ErrorInvalidRef"), "{}", main.stderr);
}

/// in-toto-attestation's Go test vectors (statements, resource descriptors,
/// SLSA provenance v1 predicates): valid ones pass, invalid ones fail with
/// the error the reference implementation names.
#[test]
fn in_toto_attestation_vectors() {
    use portcullis::attestation::validate;
    let root = support::corpus("in-toto-attestation");
    let cases: Vec<Value> = serde_json::from_slice(&std::fs::read(root.join("expected.json")).unwrap()).unwrap();
    let (mut agreed, mut total) = (0, 0);
    let mut wrong = Vec::new();
    for c in cases.iter().filter(|c| c["file"].as_str().unwrap().contains("go-test-vectors")) {
        let v: Value = serde_json::from_slice(&std::fs::read(root.join(c["file"].as_str().unwrap())).unwrap()).unwrap();
        let result = match c["kind"].as_str().unwrap() {
            "provenance-v1-predicate" => validate::provenance_v1(&v),
            "resource-descriptor" => validate::resource_descriptor(&v),
            "statement-v1" => validate::statement(&v),
            other => panic!("unknown vector kind {other}"),
        };
        let got = result.as_ref().map_or_else(|e| e.name, |_| "valid");
        total += 1;
        if got == c["expected"].as_str().unwrap() {
            agreed += 1;
        } else {
            wrong.push(format!("{} ({}): expected {}, got {result:?}", c["case"], c["kind"], c["expected"]));
        }
    }
    println!("in-toto-attestation vectors: {agreed}/{total} agree");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(total, 26);
}

/// `portcullis verify-npm-package`, the CLI, on every npm run of
/// slsa-verifier's table, with the embedded registry keys (not in
/// slsa-verifier's testing mode): verdict and error kind agree.
#[test]
fn verify_npm_package_cli() {
    let root = support::corpus("slsa-verifier");
    let text = std::fs::read_to_string(root.join("expected_cases.jsonl")).unwrap();
    let (mut agreed, mut runs) = (0, 0);
    let mut wrong = Vec::new();
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        if case["test"] != "Test_runVerifyNpmPackage" {
            continue;
        }
        let mut args = vec![
            "verify-npm-package".to_string(),
            "--attestations-path".into(),
            root.join(case["attestations"]["path"].as_str().unwrap()).display().to_string(),
            "--source-uri".into(),
            case["source_uri"].as_str().unwrap().into(),
        ];
        for (flag, key) in [
            ("--builder-id", "builder_id"),
            ("--package-name", "package_name"),
            ("--package-version", "package_version"),
        ] {
            if let Some(v) = case[key].as_str() {
                args.extend([flag.to_string(), v.to_string()]);
            }
        }
        let tarball = root.join(case["artifacts"][0]["path"].as_str().unwrap());
        // Every other run gives the tarball by its digest.
        if runs % 2 == 0 {
            args.push(tarball.display().to_string());
        } else {
            args.push(format!("sha512:{}", hex::encode(sha2::Sha512::digest(std::fs::read(&tarball).unwrap()))));
        }
        runs += 1;
        let run = support::portcullis(&args);
        // `verification failed (ErrorName): why` → the failure it names.
        let printed = run
            .stderr
            .split_once("verification failed (")
            .and_then(|(_, r)| r.split_once(')'))
            .and_then(|(name, _)| Failure::from_slsa_verifier_name(name));
        let expected = case["expected_error"].as_str().and_then(Failure::from_slsa_verifier_name);
        let ok = if case["expected"] == "pass" {
            run.code == 0 && run.stdout.contains("Verified npm package")
        } else {
            run.code == 1 && printed.is_some() && printed == expected
        };
        if ok {
            agreed += 1;
        } else {
            wrong.push(format!("{} ({}): exit {}: {}", case["name"], case["expected"], run.code, run.stderr.trim()));
        }
    }
    println!("verify-npm-package CLI: {agreed}/{runs} agree");
    assert!(wrong.is_empty(), "{} disagree:\n{}", wrong.len(), wrong.join("\n"));
    assert_eq!(runs, 54);
    // The registry keys may be given as a file; one without attestation keys is refused.
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    std::fs::write(&keys, r#"{"keys":[{"keyId":"x","keyUsage":"npm:signatures","publicKey":{"rawBytes":""}}]}"#)
        .unwrap();
    let gundam = root.join("cli/slsa-verifier/testdata/npm/gha/gundam-visor-cli-v1-tag.tgz");
    let run = support::portcullis([
        "verify-npm-package",
        "--attestations-path",
        &format!("{}.json", gundam.display()),
        "--source-uri",
        "github.com/ramonpetgrave64/gundam-visor",
        "--builder-id",
        "https://github.com/actions/runner/github-hosted",
        "--npm-registry-keys",
        keys.to_str().unwrap(),
        gundam.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no key with keyUsage npm:attestations"), "{}", run.stderr);
}

/// The statement and the signing certificate's run claims of an npm
/// package's provenance attestation (slsa-verifier's npm test data).
fn npm_provenance(file: &str) -> (Value, portcullis::slsa::forgeable::RunClaims) {
    use base64::Engine as _;
    let path = support::corpus("slsa-verifier/cli/slsa-verifier/testdata/npm/gha").join(file);
    let set: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let att = set["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["predicateType"].as_str().unwrap().starts_with("https://slsa.dev/provenance/"))
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let statement =
        serde_json::from_slice(&b64.decode(att["bundle"]["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap())
            .unwrap();
    let vm = &att["bundle"]["verificationMaterial"];
    let raw = vm
        .pointer("/certificate/rawBytes")
        .or_else(|| vm.pointer("/x509CertificateChain/certificates/0/rawBytes"))
        .and_then(Value::as_str)
        .unwrap();
    let cert = <x509_cert::Certificate as der::Decode>::from_der(&b64.decode(raw).unwrap()).unwrap();
    (statement, portcullis::slsa::forgeable::RunClaims::from_certificate(&cert).unwrap())
}

/// npm CLI provenance is written by the workflow itself: each claim must
/// agree with the certificate's record of the run, and unverifiable claims
/// are refused (slsa-verifier's provenance_forgeable.go). The real v0.2
/// and v1 provenances pass; each edited claim fails with the error kind
/// slsa-verifier gives it.
#[test]
fn npm_cli_provenance_must_agree_with_its_certificate() {
    use portcullis::slsa::forgeable::check;
    let kind = |r: Result<(), SlsaError>| r.map_err(|e| (e.kind, e.message));
    let (v02, run) = npm_provenance("supreme-googles-cli-v02-tag.tgz.json");
    assert_eq!(run.run.as_deref(), Some("4994975790/attempts/1"));
    assert_eq!(run.build_config_path.as_deref(), Some(".github/workflows/npm-publish.yml"));
    assert_eq!(kind(check(&v02, &run)), Ok(()));
    let edits: &[(&str, Value, Failure)] = &[
        ("/predicate/invocation/environment/GITHUB_REF", json!("refs/heads/evil"), Failure::CertificateMismatch),
        ("/predicate/invocation/environment/GITHUB_REPOSITORY", json!("evil/repo"), Failure::CertificateMismatch),
        ("/predicate/invocation/environment/GITHUB_SHA", json!("0".repeat(40)), Failure::CertificateMismatch),
        (
            "/predicate/invocation/environment/GITHUB_WORKFLOW_REF",
            json!("a/b/.github/workflows/x.yml@refs/heads/main"),
            Failure::CertificateMismatch,
        ),
        ("/predicate/invocation/environment/GITHUB_RUN_ID", json!("1"), Failure::CertificateMismatch),
        ("/predicate/invocation/environment/GITHUB_ACTOR", json!("mallory"), Failure::CertificateMismatch),
        ("/predicate/metadata/buildInvocationId", json!("1-1"), Failure::CertificateMismatch),
        ("/predicate/metadata/buildInvocationId", json!("4994975790-2"), Failure::CertificateMismatch),
        ("/predicate/metadata/buildStartedOn", json!("2023-05-18T00:00:00Z"), Failure::NonVerifiableClaim),
        ("/predicate/metadata/reproducible", json!(true), Failure::NonVerifiableClaim),
        ("/predicate/metadata/completeness/materials", json!(true), Failure::NonVerifiableClaim),
        ("/predicate/invocation/parameters", json!({"release": "1"}), Failure::NonVerifiableClaim),
        ("/predicate/buildConfig", json!({"steps": []}), Failure::NonVerifiableClaim),
        (
            "/predicate/invocation/configSource/entryPoint",
            json!(".github/workflows/other.yml"),
            Failure::CertificateMismatch,
        ),
        (
            "/predicate/materials/1",
            json!({"uri": "git+https://github.com/evil/repo@main"}),
            Failure::NonVerifiableClaim,
        ),
        ("/subject/0/digest", json!({"sha256": "00"}), Failure::NonVerifiableClaim),
    ];
    let (v1, run1) = npm_provenance("gundam-visor-cli-v1-tag.tgz.json");
    assert_eq!(kind(check(&v1, &run1)), Ok(()));
    let edits_v1: &[(&str, Value, Failure)] = &[
        (
            "/predicate/buildDefinition/internalParameters/github/event_name",
            json!("push"),
            Failure::CertificateMismatch,
        ),
        (
            "/predicate/buildDefinition/internalParameters/github/repository_id",
            json!("1"),
            Failure::CertificateMismatch,
        ),
        ("/predicate/buildDefinition/internalParameters/github/actor", json!("mallory"), Failure::CertificateMismatch),
        (
            "/predicate/runDetails/metadata/invocationId",
            json!("https://github.com/ramonpetgrave64/gundam-visor/actions/runs/1/attempts/1"),
            Failure::CertificateMismatch,
        ),
        ("/predicate/runDetails/metadata/startedOn", json!("2024-06-04T00:00:00Z"), Failure::NonVerifiableClaim),
        (
            "/predicate/buildDefinition/externalParameters/workflow/path",
            json!(".github/workflows/other.yml"),
            Failure::CertificateMismatch,
        ),
        (
            "/predicate/buildDefinition/resolvedDependencies/1",
            json!({"uri": "git+https://github.com/evil/repo@main"}),
            Failure::NonVerifiableClaim,
        ),
    ];
    for (statement, run, edits) in [(&v02, &run, edits), (&v1, &run1, edits_v1)] {
        for (pointer, value, want) in edits {
            let mut st = statement.clone();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            match st.pointer_mut(parent).unwrap() {
                Value::Object(m) => {
                    m.insert(key.to_string(), value.clone());
                }
                Value::Array(a) => a.push(value.clone()),
                other => panic!("{parent} is {other}"),
            }
            let got = kind(check(&st, run));
            assert!(matches!(&got, Err((k, _)) if k == want), "{pointer} = {value}: {got:?}");
        }
    }
}

/// Provenance written and signed here (SLSA v1 in a DSSE envelope, a fixed
/// test key), judged by the builtin `signatures` plugin through `audit`:
/// builder claims, source refs, secrets in build parameters.
mod made_here {
    use crate::support;
    use serde_json::{Value, json};
    use std::path::{Path, PathBuf};
    use support::cosign::{attest, index_of, key_pair, provenance_v1};

    const GENERATOR: &str =
        "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml";
    const CLOUD_BUILD: &str = "https://cloudbuild.googleapis.com/GoogleHostedWorker";

    /// A copy of a shared image with provenance signed by a fixed test key;
    /// returns the layout and the key's PEM.
    fn signed_image(dir: &Path, name: &str, builder: &str, source_ref: &str, external: Value) -> (PathBuf, String) {
        let layout = dir.join(name);
        support::copy_dir(&support::image("oci/go-static-good"), &layout);
        let digest = index_of(&layout)["manifests"][0]["digest"].as_str().unwrap().to_string();
        let (sk, pem) = key_pair(11);
        attest(&layout, &digest, &provenance_v1(&digest, builder, source_ref, external), &sk);
        (layout, pem)
    }

    /// `audit --format json` of `target` with the SLSA rules `rules` (TOML
    /// tables) and `extra` arguments: (rule → (outcome, message)), exit code.
    fn audit(dir: &Path, target: &[&str], rules: &str, extra: &[&str]) -> (Vec<(String, String, String)>, i32) {
        let policy = dir.join("policy.toml");
        std::fs::write(
            &policy,
            format!("[policy]\nname = \"made-here\"\nversion = \"1\"\n\n[plugins.signatures]\n\n[rules.SC-SIG-001]\nenabled = false\n{rules}\n"),
        )
        .unwrap();
        let mut args = vec!["audit", "--format", "json", "--skip-layers", "--policy", policy.to_str().unwrap()];
        args.extend(extra);
        args.extend(target);
        let run = support::portcullis(&args);
        assert!(run.code == 0 || run.code == 1, "exit {}: {}", run.code, run.stderr);
        let report = run.json();
        let findings = report["subjects"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
                (text("rule"), text("outcome"), text("message"))
            })
            .collect();
        (findings, run.code)
    }

    fn outcome<'a>(findings: &'a [(String, String, String)], rule: &str) -> (&'a str, &'a str) {
        let f = findings.iter().find(|f| f.0 == rule).unwrap_or_else(|| panic!("no {rule} in {findings:?}"));
        (&f.1, &f.2)
    }

    fn builder_rules(pem: &str, builders: &str, extra: &str) -> String {
        format!(
            "[rules.SC-SLSA-001]\nparams = {{ keys = ['''{pem}'''] }}\n[rules.SC-SLSA-002]\nparams = {{ builders = [{builders}], min_level = 3{extra} }}\n"
        )
    }

    /// A provenance naming slsa-github-generator, signed with a key the
    /// policy trusts for provenance: it verifies (SC-SLSA-001), but the
    /// generator signs keylessly as its own workflow, so the claim earns no
    /// level (SC-SLSA-002 fails, the VSA says level 1, not 3) — whatever
    /// the policy binds the key to. A builder that does sign with a key
    /// (Cloud Build) counts only with the key the policy binds to it.
    #[test]
    fn a_key_signed_builder_claim_counts_only_for_the_builder_holding_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let (layout, pem) = signed_image(
            dir.path(),
            "generator",
            &format!("{GENERATOR}@refs/tags/v2.1.0"),
            "refs/tags/v1.0.0",
            json!({}),
        );
        let target = [layout.to_str().unwrap()];
        let vsa = dir.path().join("vsa.jsonl");
        for bind in ["", &format!(", builder_keys = ['{GENERATOR}*=1']")] {
            let rules = builder_rules(&pem, &format!("'{GENERATOR}'"), bind);
            let (f, code) = audit(dir.path(), &target, &rules, &["--vsa", vsa.to_str().unwrap()]);
            assert_eq!(code, 1);
            let (o, m) = outcome(&f, "SC-SLSA-001");
            assert!(o == "pass" && m.contains("key #1"), "{m}");
            let (o, m) = outcome(&f, "SC-SLSA-002");
            assert_eq!(o, "fail", "{bind}: {m}");
            assert!(m.contains("the builder claim is not backed by the builder's signing identity"), "{m}");
            assert!(m.contains("signed with key #1") && m.contains("signs keylessly"), "{m}");
            let st: Value =
                serde_json::from_str(std::fs::read_to_string(&vsa).unwrap().lines().next().unwrap()).unwrap();
            assert_eq!(st["predicate"]["verifiedLevels"], json!(["SLSA_BUILD_LEVEL_1"]));
        }

        let (layout, pem) = signed_image(dir.path(), "gcb", CLOUD_BUILD, "refs/tags/v1.0.0", json!({}));
        let target = [layout.to_str().unwrap()];
        let (_, other) = key_pair(12);
        for (keys, bind, want) in [
            (pem.clone(), String::new(), "fail"),
            (pem.clone(), format!(", builder_keys = ['{CLOUD_BUILD}=1']"), "pass"),
            // The key that verified is #2; the policy binds #1 to Cloud Build.
            (format!("{other}''', '''{pem}"), format!(", builder_keys = ['{CLOUD_BUILD}=1']"), "fail"),
        ] {
            let (f, _) = audit(dir.path(), &target, &builder_rules(&keys, &format!("'{CLOUD_BUILD}'"), &bind), &[]);
            let (o, m) = outcome(&f, "SC-SLSA-002");
            assert_eq!(o, want, "{bind}: {m}");
            if want == "pass" {
                assert!(m.ends_with("(SLSA build level 3)"), "{m}");
            } else {
                assert!(m.contains("`builder_keys` does not bind"), "{m}");
            }
        }
        // A malformed binding refuses the policy when it loads, naming the
        // entry: it can never turn into a pass.
        let policy = dir.path().join("bad-binding.toml");
        let rules = builder_rules(&pem, &format!("'{CLOUD_BUILD}'"), ", builder_keys = ['cloud-build']");
        std::fs::write(
            &policy,
            format!("[policy]\nname = \"made-here\"\nversion = \"1\"\n\n[plugins.signatures]\n\n{rules}\n"),
        )
        .unwrap();
        let run = support::portcullis(["audit", "--skip-layers", "--policy", policy.to_str().unwrap(), target[0]]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("entry 0 of SC-SLSA-002: `builder_keys` entry `cloud-build`"), "{}", run.stderr);
    }

    /// Workflow builders count only at release tags `refs/tags/vX.Y.Z`:
    /// provenance made here naming the generator at a branch, a commit or
    /// a pre-release is refused with the reason; and slsa-verifier's
    /// delegator runs (signed keylessly by the delegator at
    /// `refs/heads/main` for v1.9.0, at `refs/tags/v1.10.0` for v1.10.0)
    /// are refused and admitted accordingly.
    #[test]
    fn workflow_builders_count_only_at_release_tags() {
        let dir = tempfile::tempdir().unwrap();
        for (name, r, said) in [
            ("branch", "refs/heads/main", "`refs/heads/main` is a branch"),
            ("commit", "5c3b2ebd6d2f1a9e1b7c4d3f2a1b0c9d8e7f6a5b", "is a commit"),
            ("pre-release", "refs/tags/v2.1.0-rc.1", "tag `v2.1.0-rc.1` is not a release tag vX.Y.Z"),
        ] {
            let (layout, pem) =
                signed_image(dir.path(), name, &format!("{GENERATOR}@{r}"), "refs/tags/v1.0.0", json!({}));
            let (f, _) = audit(dir.path(), &[layout.to_str().unwrap()], &builder_rules(&pem, "'*'", ""), &[]);
            let (o, m) = outcome(&f, "SC-SLSA-002");
            assert_eq!(o, "fail", "{name}");
            assert!(m.contains("trusted builders count only at release tags") && m.contains(said), "{name}: {m}");
        }

        let trw = "https://github.com/slsa-framework/example-trw/.github/workflows/builder_high-perms_slsa3.yml";
        let rules = format!(
            "[rules.SC-SLSA-001]\n[rules.SC-SLSA-002]\nparams = {{ builders = ['{trw}'], levels = ['{trw}=3'] }}\n"
        );
        let runs = support::corpus("slsa-verifier/cli/slsa-verifier/testdata/gha_delegator");
        for (version, want) in [("v1.9.0", "fail"), ("v1.10.0", "pass")] {
            let d = runs.join(version);
            let prov = d.join("binary-linux-amd64-workflow_dispatch.build.slsa");
            let art = d.join("binary-linux-amd64-workflow_dispatch");
            let (f, _) = audit(dir.path(), &[art.to_str().unwrap()], &rules, &["--provenance", prov.to_str().unwrap()]);
            assert_eq!(outcome(&f, "SC-SLSA-001").0, "pass", "{version}: {f:?}");
            let (o, m) = outcome(&f, "SC-SLSA-002");
            assert_eq!(o, want, "{version}: {m}");
            if want == "fail" {
                assert!(m.contains("delegator_generic_slsa3.yml@refs/heads/main") && m.contains("a branch"), "{m}");
            }
        }
    }

    /// A signed SLSA statement the engine cannot read as provenance (no
    /// builder) is a failure naming the predicate, not "no provenance", and
    /// the rules that need provenance skip rather than pass.
    #[test]
    fn unreadable_provenance_is_said() {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("unreadable");
        support::copy_dir(&support::image("oci/go-static-good"), &layout);
        let digest = index_of(&layout)["manifests"][0]["digest"].as_str().unwrap().to_string();
        let (sk, pem) = key_pair(11);
        let mut statement = provenance_v1(&digest, CLOUD_BUILD, "refs/tags/v1.0.0", json!({}));
        statement["predicate"]["runDetails"]["builder"] = json!({});
        attest(&layout, &digest, &statement, &sk);
        let rules = format!(
            "[rules.SC-SLSA-001]\nparams = {{ keys = ['''{pem}'''] }}\n[rules.SC-SLSA-002]\nparams = {{ builders = ['*'] }}\n[rules.SC-SLSA-004]\n"
        );
        let (f, code) = audit(dir.path(), &[layout.to_str().unwrap()], &rules, &[]);
        assert_eq!(code, 1);
        let (o, m) = outcome(&f, "SC-SLSA-001");
        assert_eq!(o, "fail");
        assert!(m.contains("https://slsa.dev/provenance/v1 predicate is not readable SLSA provenance"), "{m}");
        assert_eq!(outcome(&f, "SC-SLSA-002").0, "skip");
        assert_eq!(outcome(&f, "SC-SLSA-004").0, "skip");
    }

    /// SC-SLSA-003 compares the source ref exactly: `refs/heads/Main` is
    /// another branch than `refs/heads/main`.
    #[test]
    fn source_refs_are_compared_with_their_case() {
        let dir = tempfile::tempdir().unwrap();
        let (layout, pem) = signed_image(dir.path(), "main", CLOUD_BUILD, "refs/heads/Main", json!({}));
        for (refs, want) in [
            ("'refs/heads/main'", "fail"),
            ("'refs/heads/MAIN', 'refs/heads/main*'", "fail"),
            ("'refs/heads/Main'", "pass"),
            ("'refs/heads/M*'", "pass"),
        ] {
            let rules = format!(
                "[rules.SC-SLSA-001]\nparams = {{ keys = ['''{pem}'''] }}\n[rules.SC-SLSA-003]\nparams = {{ repositories = ['github.com/acme/*'], refs = [{refs}] }}\n"
            );
            let (f, _) = audit(dir.path(), &[layout.to_str().unwrap()], &rules, &[]);
            let (o, m) = outcome(&f, "SC-SLSA-003");
            assert_eq!(o, want, "{refs}: {m}");
            if want == "fail" {
                assert!(m.contains("ref `refs/heads/Main` of github.com/acme/app is not among"), "{m}");
            }
        }
    }

    /// SC-SLSA-004 finds secrets in the encodings build parameters use, each
    /// named by its parameter and never repeated in the report; values
    /// builds commonly pass are not flagged.
    #[test]
    fn secrets_in_the_encodings_build_parameters_use() {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let dir = tempfile::tempdir().unwrap();
        // Made-up credentials: shaped like real ones, valid nowhere.
        let token = format!("ghs_{}", "Zq3x".repeat(9));
        let docker = format!(r#"{{"auths":{{"registry.acme.test":{{"auth":"{}"}}}}}}"#, b64("ci:pa55-w0rd-made-up"));
        let leaking = json!({
            "inputs": {
                "mirror": format!("https://x-access-token:{token}@github.com/acme/app.git"),
                "source": "https://ci-bot:made-up-pa55@git.acme.test/acme/app.git",
                "curl-flags": "-sSf -H 'Authorization: Bearer mAdE.uP.t0ken-for-tests'",
                "fetch": "--header=Basic Y2ktYm90Om1hZGUtdXAtcGE1NQ==",
                "registry-config": b64(&docker),
                "query": "region=eu&api%5Fkey=madeup0123456789",
                "env": "%41WS_SECRET_ACCESS_KEY=MadeUpSecretAccessKey0123456789",
                "api%5Fkey": "madeup-api-key-value",
                "%70assword": "made-up-pa55",
            }
        });
        let (layout, pem) = signed_image(dir.path(), "leaks", CLOUD_BUILD, "refs/tags/v1.0.0", leaking);
        let rules = format!("[rules.SC-SLSA-001]\nparams = {{ keys = ['''{pem}'''] }}\n[rules.SC-SLSA-004]\n");
        let (f, _) = audit(dir.path(), &[layout.to_str().unwrap()], &rules, &[]);
        let (o, m) = outcome(&f, "SC-SLSA-004");
        assert_eq!(o, "fail", "{m}");
        for (pointer, said) in [
            ("/inputs/mirror", "GitHub app token"),
            ("/inputs/source", "userinfo of a URL for git.acme.test"),
            ("/inputs/curl-flags", "Authorization header value (Bearer)"),
            ("/inputs/fetch", "Basic credentials"),
            ("/inputs/registry-config", "docker config with credentials for registry.acme.test (base64)"),
            ("/inputs/query", "sets `api_key` (URL-encoded name)"),
            ("/inputs/env", "sets `AWS_SECRET_ACCESS_KEY` (URL-encoded name)"),
            ("/inputs/api%5Fkey", "named like a secret (URL-encoded name)"),
            ("/inputs/%70assword", "named like a secret (URL-encoded name)"),
        ] {
            let part = m.split("; ").find(|p| p.starts_with(&format!("{pointer} "))).unwrap_or_default();
            assert!(part.contains(said), "{pointer}: wanted `{said}` in {m}");
        }
        for secret in [token.as_str(), "made-up-pa55", "mAdE.uP", "madeup0123456789", "MadeUpSecret", "madeup-api"] {
            assert!(!m.contains(secret), "the report repeats a secret: {m}");
        }

        let benign = json!({
            "inputs": {
                "repository": "https://github.com/acme/app",
                "clone": "ssh://git@github.com/acme/app.git",
                "masked-url": "https://x-access-token:***@github.com/acme/app",
                "token": "***",
                "headers": "Authorization: Bearer ${TOKEN}",
                "notes": "Bearer authentication, Basic fallback",
                "build-args": "VERSION=1.2.3 GITHUB_TOKEN=***",
                "token-url": "https://auth.acme.test/oauth/token",
                "base64-subjects": b64("8af0ade1c5ac76e12c178b43f40acc1762dbc137e167710ae240cf529d5550aa  app\n"),
                "ratio": "100%25",
            }
        });
        let (layout, pem) = signed_image(dir.path(), "benign", CLOUD_BUILD, "refs/tags/v1.0.0", benign);
        let rules = format!("[rules.SC-SLSA-001]\nparams = {{ keys = ['''{pem}'''] }}\n[rules.SC-SLSA-004]\n");
        let (f, _) = audit(dir.path(), &[layout.to_str().unwrap()], &rules, &[]);
        let (o, m) = outcome(&f, "SC-SLSA-004");
        assert_eq!((o, m), ("pass", "10 external parameter(s), none a secret"));
    }
}
