//! The signature and provenance rules (builtin plugin `signatures`,
//! SC-SIG-001..004 and SC-SLSA-001..004) through `audit`, on real material:
//! - slsa-github-generator's container provenance, keyless, in the `cosign
//!   save` layouts of slsa-verifier's test data (verified offline against
//!   the embedded Sigstore root);
//! - cosign simple-signing signatures made here with a fixed P-256 key, and
//!   with P-384, RSA and Ed25519 keys `openssl` makes, over the shared
//!   images, attached by cosign's tag scheme (`sha256-<hex>.sig`).

use crate::support;

use support::cosign::{OpensslKey, PrivateCa, add_blob, attach, attach_with, index_of, key_pair, payload, sign};

use serde_json::{Value, json};
use sha2::Digest as _;
use std::path::{Path, PathBuf};

/// A policy running the supply-chain rules of the `signatures` plugin with
/// the given rule tables.
fn policy(dir: &Path, rules: &str) -> PathBuf {
    let p = dir.join("policy.toml");
    std::fs::write(
        &p,
        format!(
            "[policy]\nname = \"sig-test\"\nversion = \"1\"\nenforcement = \"enforce\"\nfailure-policy = \"deny\"\n\n[plugins.signatures]\n\n{rules}\n"
        ),
    )
    .unwrap();
    p
}

/// (rule, outcome, message) of each finding of a subject.
type Findings = Vec<(String, String, String)>;

/// `audit --format json` → the findings of each image subject, by digest.
fn audit(layout: &Path, policy: &Path, extra: &[&str]) -> Vec<(String, Findings)> {
    let mut args =
        vec!["audit".to_string(), "--format".into(), "json".into(), "--skip-layers".into(), "--policy".into()];
    args.push(policy.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(layout.display().to_string());
    let run = support::portcullis(&args);
    assert!(run.code == 0 || run.code == 1, "exit {}: {}", run.code, run.stderr);
    let report = run.json();
    report["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "image")
        .map(|s| {
            let findings = s["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (
                        f["rule"].as_str().unwrap().to_string(),
                        f["outcome"].as_str().unwrap().to_string(),
                        f["message"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            (s["digest"].as_str().unwrap().to_string(), findings)
        })
        .collect()
}

fn outcome<'a>(findings: &'a [(String, String, String)], rule: &str) -> (&'a str, &'a str) {
    let f = findings.iter().find(|f| f.0 == rule).unwrap_or_else(|| panic!("no {rule} finding in {findings:?}"));
    (f.1.as_str(), f.2.as_str())
}

const GENERATOR_CONTAINER: &str =
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml";

fn slsa_layout(version: &str) -> PathBuf {
    support::corpus("slsa-verifier")
        .join("cli/slsa-verifier/testdata/gha_generic_container")
        .join(version)
        .join("container_workflow_dispatch")
}

#[test]
fn provenance_rules_on_slsa_github_generator_images() {
    let dir = tempfile::tempdir().unwrap();
    let rules = |builders: &str, refs: &str| {
        format!(
            "[rules.SC-SLSA-001]\n[rules.SC-SLSA-002]\nparams = {{ builders = [{builders}], min_level = 3 }}\n[rules.SC-SLSA-003]\nparams = {{ repositories = [\"github.com/slsa-framework/*\"], refs = [{refs}] }}\n[rules.SC-SLSA-004]\n"
        )
    };
    // v2.1.0 (dsse 0.0.1 entry) and v1.4.0 (intoto 0.0.1 entry).
    for version in ["v2.1.0", "v1.4.0"] {
        let ok = policy(dir.path(), &rules(&format!("\"{GENERATOR_CONTAINER}\""), "\"refs/heads/main\""));
        let subjects = audit(&slsa_layout(version), &ok, &[]);
        assert_eq!(subjects.len(), 1);
        let f = &subjects[0].1;
        for rule in ["SC-SLSA-001", "SC-SLSA-002", "SC-SLSA-003", "SC-SLSA-004"] {
            assert_eq!(outcome(f, rule).0, "pass", "{version} {rule}: {f:?}");
        }
        assert!(outcome(f, "SC-SLSA-002").1.contains("level 3"), "{f:?}");
        assert!(outcome(f, "SC-SLSA-003").1.contains("github.com/slsa-framework/example-package at refs/heads/main"));
    }
    // Release tags only: the run was a workflow_dispatch on main.
    let tags = policy(dir.path(), &rules(&format!("\"{GENERATOR_CONTAINER}\""), "\"refs/tags/v*\""));
    let f = &audit(&slsa_layout("v2.1.0"), &tags, &[])[0].1;
    let (o, m) = outcome(f, "SC-SLSA-003");
    assert_eq!(o, "fail");
    assert!(m.contains("refs/heads/main"), "{m}");
    // A builder outside the allow list.
    let other = policy(dir.path(), &rules("\"https://github.com/acme/*\"", "\"refs/heads/main\""));
    let f = &audit(&slsa_layout("v2.1.0"), &other, &[])[0].1;
    assert_eq!(outcome(f, "SC-SLSA-002").0, "fail", "{f:?}");
    // Another trust root: Fulcio and Rekor are not the ones it pins (fail closed).
    let staging = support::corpus("sigstore-conformance")
        .join("test/assets/bundle-verify/rekor2-checkpoint-multiple-cosigs/trusted_root.json");
    let f = &audit(&slsa_layout("v2.1.0"), &tags, &["--trusted-root", staging.to_str().unwrap()])[0].1;
    let (o, m) = outcome(f, "SC-SLSA-001");
    assert_eq!(o, "fail");
    assert!(m.contains("keyless"), "{m}");
    assert_eq!(outcome(f, "SC-SLSA-002").0, "skip", "{f:?}");
}

/// The attestation's Rekor SET replaced by another entry's: the layout is
/// consistent (digests updated), the signature material is not.
#[test]
fn tampered_attestation_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    support::copy_dir(&slsa_layout("v2.1.0"), &layout);
    let mut index = index_of(&layout);
    let entries = index["manifests"].as_array_mut().unwrap();
    let atts = entries.iter_mut().find(|d| d["annotations"]["kind"] == "dev.cosignproject.cosign/atts").unwrap();
    let digest = atts["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(&digest)).unwrap()).unwrap();
    let ann = &mut manifest["layers"][0]["annotations"];
    let mut bundle: Value = serde_json::from_str(ann["dev.sigstore.cosign/bundle"].as_str().unwrap()).unwrap();
    bundle["Payload"]["integratedTime"] = json!(bundle["Payload"]["integratedTime"].as_i64().unwrap() + 1);
    ann["dev.sigstore.cosign/bundle"] = json!(bundle.to_string());
    let (d, size) = add_blob(&layout, &serde_json::to_vec(&manifest).unwrap());
    atts["digest"] = json!(d);
    atts["size"] = json!(size);
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    let p = policy(dir.path(), "[rules.SC-SLSA-001]\n");
    let f = &audit(&layout, &p, &[])[0].1;
    let (o, m) = outcome(f, "SC-SLSA-001");
    assert_eq!(o, "fail");
    assert!(m.contains("signed entry timestamp"), "{m}");
}

fn toml_list(items: &[&str]) -> String {
    items.iter().map(|i| format!("'''{i}'''")).collect::<Vec<_>>().join(", ")
}

#[test]
fn key_signed_images() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("good");
    support::copy_dir(&support::image("oci/go-static-good"), &layout);
    let digest = index_of(&layout)["manifests"][0]["digest"].as_str().unwrap().to_string();
    let (sk, pem) = key_pair(7);
    let (_, other_pem) = key_pair(9);
    sign(&layout, &digest, &sk, json!({"build.env": "prod", "git.commit": "5c3b2eb"}));
    let rules = |keys: &[&str], required: &[&str]| {
        format!(
            "[rules.SC-SIG-001]\nparams = {{ keyless = true, keys = [{}] }}\n[rules.SC-SIG-002]\nparams = {{ identity = '.*@acme\\.corp', issuer = 'https://accounts.google.com' }}\n[rules.SC-SIG-003]\nparams = {{ required = [{}] }}\n[rules.SC-SIG-004]\n",
            toml_list(keys),
            toml_list(required)
        )
    };
    let p = policy(dir.path(), &rules(&[&pem], &["build.env=prod", "git.commit"]));
    let f = &audit(&layout, &p, &[])[0].1;
    let (o, m) = outcome(f, "SC-SIG-001");
    assert_eq!(o, "pass", "{m}");
    assert!(m.contains("key #1") && m.contains("this digest"), "{m}");
    assert_eq!(outcome(f, "SC-SIG-003").0, "pass");
    // Key-signed: no keyless identity to match.
    let (o, m) = outcome(f, "SC-SIG-002");
    assert_eq!(o, "fail");
    assert!(m.contains("no verified keyless signature"), "{m}");
    assert_eq!(outcome(f, "SC-SIG-004").0, "skip");
    // Annotation values must match.
    let p = policy(dir.path(), &rules(&[&pem], &["build.env=staging"]));
    let subjects = audit(&layout, &p, &[]);
    let (o, m) = outcome(&subjects[0].1, "SC-SIG-003");
    assert_eq!((o, m), ("fail", "no verified signature carries build.env=staging"));
    // Another key: nothing verifies (keyless is tried too, and fails: no certificate).
    let p = policy(dir.path(), &rules(&[&other_pem], &[]));
    let f = &audit(&layout, &p, &[])[0].1;
    let (o, m) = outcome(f, "SC-SIG-001");
    assert_eq!(o, "fail");
    assert!(m.contains("key #1") && m.contains("keyless"), "{m}");
    // The unsigned original.
    let f = &audit(&support::image("oci/go-static-good"), &p, &[])[0].1;
    assert!(outcome(f, "SC-SIG-001").1.contains("no signature is attached"));
}

/// Every managed key type cosign signs with, signed by `openssl` (not by
/// the crates that verify): P-384 over SHA-256 (cosign's default for any
/// ECDSA key) and over SHA-384, RSA PKCS#1 v1.5 with SHA-256, Ed25519.
/// Image signatures verify with the right key and not with another of the
/// same type; blob signatures of release artifacts verify from the file or
/// its digest, except Ed25519 (which signs the whole file), refused by name.
#[test]
fn keyed_signatures_of_every_key_type() {
    let dir = tempfile::tempdir().unwrap();
    let sig001 = |pem: &str| {
        policy(
            dir.path(),
            &format!("[rules.SC-SIG-001]\nparams = {{ keyless = false, keys = ['''{pem}'''] }}\n{NO_SLSA}"),
        )
    };
    let release = dir.path().join("release.tar.gz");
    std::fs::write(&release, b"release bytes").unwrap();
    let release_digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(b"release bytes")));
    for (kind, hash) in [("ec-p384", "sha256"), ("ec-p384", "sha384"), ("rsa", "sha256"), ("ed25519", "")] {
        let (key, other) = (OpensslKey::generate(kind), OpensslKey::generate(kind));
        let layout = dir.path().join(format!("{kind}-{hash}"));
        support::copy_dir(&support::image("oci/go-static-good"), &layout);
        let digest = index_of(&layout)["manifests"][0]["digest"].as_str().unwrap().to_string();
        let payload = payload(&digest, json!(null));
        attach(&layout, &digest, &payload, &key.sign(&payload, hash));
        let f = &audit(&layout, &sig001(&key.public_pem()), &[])[0].1;
        let (o, m) = outcome(f, "SC-SIG-001");
        assert_eq!(o, "pass", "{kind} {hash}: {m}");
        assert!(m.contains("key #1"), "{m}");
        let f = &audit(&layout, &sig001(&other.public_pem()), &[])[0].1;
        let (o, m) = outcome(f, "SC-SIG-001");
        assert_eq!(o, "fail", "{kind} {hash} with another key: {m}");

        // The same key signing a release artifact (cosign sign-blob --key).
        let sig_file = dir.path().join(format!("release-{kind}-{hash}.sig"));
        let b64 = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            key.sign(b"release bytes", if hash == "sha384" { "sha256" } else { hash }),
        );
        std::fs::write(&sig_file, b64).unwrap();
        for subject in [release.display().to_string(), release_digest.clone()] {
            for (pem, right) in [(key.public_pem(), true), (other.public_pem(), false)] {
                let run = support::portcullis([
                    "audit",
                    "--policy",
                    sig001(&pem).to_str().unwrap(),
                    "--signature",
                    sig_file.to_str().unwrap(),
                    &subject,
                ]);
                match (kind, right) {
                    ("ed25519", _) => {
                        assert_eq!(run.code, 1, "{}", run.stdout);
                        assert!(run.stdout.contains("Ed25519 blob signatures are not supported"), "{}", run.stdout);
                    }
                    (_, true) => assert_eq!(run.code, 0, "{kind} blob, {subject}: {}{}", run.stdout, run.stderr),
                    (_, false) => {
                        assert_eq!(run.code, 1, "{kind} blob with another key, {subject}: {}", run.stdout);
                        assert!(run.stdout.contains("SC-SIG-001"), "{}", run.stdout);
                    }
                }
            }
        }
    }
}

/// Bring-your-own PKI: a cosign signature whose certificate a private CA
/// (made by `openssl`: root → intermediate → leaf) issued, with the chain in
/// the signature and no transparency log, counts for SC-SIG-001 when the
/// policy names the CA's root and the signer; another signer, another CA,
/// or a signature without its certificate does not.
#[test]
fn private_ca_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let ca = PrivateCa::generate("release@acme.test", "build.acme.test");
    let other_ca = PrivateCa::generate("release@acme.test", "build.acme.test");
    let layout = dir.path().join("pki");
    support::copy_dir(&support::image("oci/go-static-good"), &layout);
    let digest = index_of(&layout)["manifests"][0]["digest"].as_str().unwrap().to_string();
    let payload = payload(&digest, json!(null));
    let chain = format!("{}{}", ca.pem("intermediate"), ca.pem("root"));
    attach_with(
        &layout,
        &digest,
        &payload,
        &ca.sign(&payload),
        &[("dev.sigstore.cosign/certificate", &ca.pem("leaf")), ("dev.sigstore.cosign/chain", &chain)],
    );
    let rules = |root: &str, email: &str, host: &str| {
        policy(
            dir.path(),
            &format!(
                "[rules.SC-SIG-001]\nparams = {{ keyless = false, ca_roots = '''{root}''', ca_email = '{email}', ca_hostname = '{host}' }}\n{NO_SLSA}"
            ),
        )
    };
    let f = &audit(&layout, &rules(&ca.pem("root"), "release@acme.test", "build.acme.test"), &[])[0].1;
    let (o, m) = outcome(f, "SC-SIG-001");
    assert_eq!(o, "pass", "{m}");
    assert!(m.contains("private CA"), "{m}");
    let f = &audit(&layout, &rules(&ca.pem("root"), "mallory@acme.test", ""), &[])[0].1;
    let (o, m) = outcome(f, "SC-SIG-001");
    assert_eq!(o, "fail");
    assert!(m.contains("not mallory@acme.test"), "{m}");
    let f = &audit(&layout, &rules(&ca.pem("root"), "", "other.acme.test"), &[])[0].1;
    assert!(outcome(f, "SC-SIG-001").1.contains("not other.acme.test"));
    let f = &audit(&layout, &rules(&other_ca.pem("root"), "release@acme.test", ""), &[])[0].1;
    let (o, m) = outcome(f, "SC-SIG-001");
    assert_eq!(o, "fail");
    assert!(m.contains("no path from the signing certificate to a configured CA root"), "{m}");
    // No expected signer: refused, not "any certificate of the CA".
    let f = &audit(&layout, &rules(&ca.pem("root"), "", ""), &[])[0].1;
    assert!(outcome(f, "SC-SIG-001").1.contains("email or hostname"));
    // The same signature without its certificate.
    let bare = dir.path().join("bare");
    support::copy_dir(&support::image("oci/go-static-good"), &bare);
    attach(&bare, &digest, &payload, &ca.sign(&payload));
    let f = &audit(&bare, &rules(&ca.pem("root"), "release@acme.test", ""), &[])[0].1;
    assert!(outcome(f, "SC-SIG-001").1.contains("carries no certificate"));
}

#[test]
fn index_signatures_and_platform_images() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("multi");
    support::copy_dir(&support::image("oci/go-static-multiarch"), &layout);
    let index_digest = index_of(&layout)["manifests"][0]["digest"].as_str().unwrap().to_string();
    let (sk, pem) = key_pair(7);
    sign(&layout, &index_digest, &sk, json!({}));
    let rules = |accept: bool| {
        format!(
            "[rules.SC-SIG-001]\nparams = {{ keys = [{}] }}\n[rules.SC-SIG-004]\nparams = {{ accept_index_signature = {accept} }}\n",
            toml_list(&[&pem])
        )
    };
    let strict = audit(&layout, &policy(dir.path(), &rules(false)), &[]);
    assert_eq!(strict.len(), 2);
    for (digest, f) in &strict {
        let (o, m) = outcome(f, "SC-SIG-001");
        assert!(o == "pass" && m.contains("its index"), "{digest}: {m}");
        let (o, m) = outcome(f, "SC-SIG-004");
        assert_eq!(o, "fail", "{digest}");
        assert!(m.contains("only the index"), "{m}");
    }
    for (digest, f) in &audit(&layout, &policy(dir.path(), &rules(true)), &[]) {
        assert_eq!(outcome(f, "SC-SIG-004").0, "pass", "{digest}");
    }
    // Signing one platform too: that platform passes on its own.
    let amd64 = strict[0].0.clone();
    sign(&layout, &amd64, &sk, json!({}));
    for (digest, f) in &audit(&layout, &policy(dir.path(), &rules(false)), &[]) {
        let want = if *digest == amd64 { "pass" } else { "fail" };
        assert_eq!(outcome(f, "SC-SIG-004").0, want, "{digest}");
    }
}

fn conformance(case: &str) -> PathBuf {
    support::corpus("sigstore-conformance").join("test/assets/bundle-verify").join(case)
}

/// Release artifacts signed, without provenance: the SLSA rules off.
const NO_SLSA: &str = "[rules.SC-SLSA-001]\nenabled = false\n[rules.SC-SLSA-002]\nenabled = false\n[rules.SC-SLSA-003]\nenabled = false\n[rules.SC-SLSA-004]\nenabled = false\n";

const BEACON: &str = "https://github\\.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.*";

/// Release artifacts: a file (or its digest) with sidecars.
#[test]
fn release_artifacts_with_sidecars() {
    let dir = tempfile::tempdir().unwrap();
    let go = support::corpus("slsa-verifier").join("cli/slsa-verifier/testdata/gha_go/v2.1.0");
    let slsa = policy(
        dir.path(),
        "[rules.SC-SIG-001]\nenabled = false\n[rules.SC-SLSA-001]\n[rules.SC-SLSA-002]\nparams = { builders = ['https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml'] }\n[rules.SC-SLSA-003]\nparams = { repositories = ['github.com/slsa-framework/example-package'], refs = ['refs/tags/v*'] }\n",
    );
    let prov = go.join("binary-linux-amd64-push-v14.2.intoto.jsonl");
    let art = go.join("binary-linux-amd64-push-v14.2");
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(std::fs::read(&art).unwrap())));
    for subject in [art.display().to_string(), digest.clone()] {
        let run = support::portcullis([
            "audit",
            "--format",
            "json",
            "--policy",
            slsa.to_str().unwrap(),
            "--provenance",
            prov.to_str().unwrap(),
            &subject,
        ]);
        assert_eq!(run.code, 0, "{subject}: {}{}", run.stdout, run.stderr);
        let report = run.json();
        assert_eq!(report["subjects"][0]["kind"], "artifact");
        assert_eq!(report["subjects"][0]["digest"], digest.as_str());
    }
    // Another artifact: the provenance does not name it.
    let run = support::portcullis([
        "audit",
        "--format",
        "json",
        "--policy",
        slsa.to_str().unwrap(),
        "--provenance",
        prov.to_str().unwrap(),
        prov.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    let f = &run.json()["subjects"][0]["findings"];
    let slsa1 = f.as_array().unwrap().iter().find(|f| f["rule"] == "SC-SLSA-001").unwrap();
    assert!(slsa1["message"].as_str().unwrap().contains("no in-toto statement subject matches"), "{slsa1}");
    // A bare envelope: refused, offline verification is impossible.
    let t = support::corpus("slsa-verifier").join("cli/slsa-verifier/testdata");
    let run = support::portcullis([
        "audit",
        "--format",
        "json",
        "--policy",
        slsa.to_str().unwrap(),
        "--provenance",
        t.join("workflow-inputs.intoto.jsonl").to_str().unwrap(),
        t.join("workflow-inputs").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("online Rekor search"), "{}", run.stdout);
}

#[test]
fn release_artifacts_signed_with_bundles_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let a_txt = support::corpus("sigstore-conformance").join("test/assets/a.txt");
    // Keyless bundle (Sigstore public-good): signature, then identity.
    let keyless = |identity: &str| {
        policy(
            dir.path(),
            &format!(
                "[rules.SC-SIG-001]\n[rules.SC-SIG-002]\nparams = {{ identity = '{identity}', issuer = 'https://token.actions.githubusercontent.com' }}\n{NO_SLSA}"
            ),
        )
    };
    let bundle = conformance("happy-path-v0.3").join("bundle.sigstore.json");
    let run = support::portcullis([
        "audit",
        "--policy",
        keyless(BEACON).to_str().unwrap(),
        "--bundle",
        bundle.to_str().unwrap(),
        a_txt.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = support::portcullis([
        "audit",
        "--policy",
        keyless("https://github\\.com/acme/.*").to_str().unwrap(),
        "--bundle",
        bundle.to_str().unwrap(),
        a_txt.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("SC-SIG-002") && run.stdout.contains("not /https://github\\.com/acme/.*/"),
        "{}",
        run.stdout
    );
    // GitHub workflow extensions of the certificate: repository and trigger.
    let with_ext = |repos: &str| {
        policy(
            dir.path(),
            &format!(
                "[rules.SC-SIG-001]\n[rules.SC-SIG-002]\nparams = {{ identity = '{BEACON}', issuer = 'https://token.actions.githubusercontent.com', source_repositories = [{repos}], source_refs = ['refs/heads/*'] }}\n{NO_SLSA}"
            ),
        )
    };
    for (repos, code) in [("'sigstore-conformance/*'", 0), ("'acme/*'", 1)] {
        let run = support::portcullis([
            "audit",
            "--policy",
            with_ext(repos).to_str().unwrap(),
            "--bundle",
            bundle.to_str().unwrap(),
            a_txt.to_str().unwrap(),
        ]);
        assert_eq!(run.code, code, "{repos}: {}", run.stdout);
        if code == 1 {
            assert!(
                run.stdout
                    .contains("from sigstore-conformance/extremely-dangerous-public-oidc-beacon at refs/heads/main"),
                "{}",
                run.stdout
            );
        }
    }
    // Managed key bundle, with its own trusted root.
    let mk = conformance("managed-key-and-trusted-root");
    let key = std::fs::read_to_string(mk.join("key.pub")).unwrap();
    let keyed = policy(
        dir.path(),
        &format!("[rules.SC-SIG-001]\nparams = {{ keyless = false, keys = ['''{key}'''] }}\n{NO_SLSA}"),
    );
    let run = support::portcullis([
        "audit",
        "--policy",
        keyed.to_str().unwrap(),
        "--trusted-root",
        mk.join("trusted_root.json").to_str().unwrap(),
        "--bundle",
        mk.join("bundle.sigstore.json").to_str().unwrap(),
        a_txt.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // A blob signature made here with a fixed key, verified from the digest.
    let (sk, pem) = key_pair(7);
    let file = dir.path().join("release.tar.gz");
    std::fs::write(&file, b"release bytes").unwrap();
    let sig_file = dir.path().join("release.sig");
    {
        use p256::ecdsa::signature::Signer as _;
        let sig: p256::ecdsa::Signature = sk.sign(b"release bytes");
        std::fs::write(
            &sig_file,
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sig.to_der().as_bytes()),
        )
        .unwrap();
    }
    let keyed = policy(dir.path(), &format!("[rules.SC-SIG-001]\nparams = {{ keys = ['''{pem}'''] }}\n{NO_SLSA}"));
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(b"release bytes")));
    for subject in [file.display().to_string(), digest] {
        let run = support::portcullis([
            "audit",
            "--policy",
            keyed.to_str().unwrap(),
            "--signature",
            sig_file.to_str().unwrap(),
            &subject,
        ]);
        assert_eq!(run.code, 0, "{subject}: {}{}", run.stdout, run.stderr);
    }
    // Signature and certificate without the Rekor entry: keyless is refused, by name.
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n").unwrap();
    let run = support::portcullis([
        "audit",
        "--policy",
        keyless(BEACON).to_str().unwrap(),
        "--signature",
        sig_file.to_str().unwrap(),
        "--certificate",
        cert.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("cosign sign-blob --bundle"), "{}", run.stdout);
}

/// `audit --vsa`: one SLSA Verification Summary per subject, a valid in-toto
/// statement, DSSE-signed with the given key, saying what was verified.
#[test]
fn verification_summary_attestations() {
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::EncodePrivateKey as _;
    let dir = tempfile::tempdir().unwrap();
    let (sk, _) = key_pair(5);
    let key = dir.path().join("vsa.pem");
    std::fs::write(&key, sk.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap().as_bytes()).unwrap();
    let go = support::corpus("slsa-verifier").join("cli/slsa-verifier/testdata/gha_go/v2.1.0");
    let p = policy(
        dir.path(),
        "[rules.SC-SIG-001]\nenabled = false\n[rules.SC-SLSA-002]\nparams = { builders = ['https://github.com/slsa-framework/slsa-github-generator/.github/workflows/*'] }\n",
    );
    let out = dir.path().join("vsa.jsonl");
    let art = go.join("binary-linux-amd64-push-v14.2");
    let run = support::portcullis([
        "audit",
        "--policy",
        p.to_str().unwrap(),
        "--provenance",
        go.join("binary-linux-amd64-push-v14.2.intoto.jsonl").to_str().unwrap(),
        "--vsa",
        out.to_str().unwrap(),
        "--vsa-key",
        key.to_str().unwrap(),
        art.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 1);
    let env: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = base64::Engine::decode(&b64, env["payload"].as_str().unwrap()).unwrap();
    let sig = base64::Engine::decode(&b64, env["signatures"][0]["sig"].as_str().unwrap()).unwrap();
    let pae = portcullis::signature::entry::pae("application/vnd.in-toto+json", &payload);
    sk.verifying_key().verify(&pae, &p256::ecdsa::DerSignature::try_from(&sig[..]).unwrap()).expect("the VSA verifies");
    let st: Value = serde_json::from_slice(&payload).unwrap();
    portcullis::attestation::validate::statement(&st).unwrap();
    assert_eq!(st["predicateType"], "https://slsa.dev/verification_summary/v1");
    let digest = hex::encode(sha2::Sha256::digest(std::fs::read(&art).unwrap()));
    assert_eq!(st["subject"][0]["digest"]["sha256"], digest.as_str());
    assert_eq!(st["predicate"]["verificationResult"], "PASSED");
    assert_eq!(st["predicate"]["verifiedLevels"], json!(["SLSA_BUILD_LEVEL_3"]));
    assert_eq!(st["predicate"]["policy"]["uri"], "sig-test@1");
    // Round trip: `verify-vsa` accepts it with the public key and its id.
    use p256::pkcs8::EncodePublicKey as _;
    let pub_pem = dir.path().join("vsa.pub");
    std::fs::write(&pub_pem, sk.verifying_key().to_public_key_pem(p256::pkcs8::LineEnding::LF).unwrap()).unwrap();
    let key_id = env["signatures"][0]["keyid"].as_str().unwrap().to_string();
    assert!(key_id.starts_with("sha256:"), "{key_id}");
    let verify = |level: &str, id: &str| {
        support::portcullis([
            "verify-vsa",
            "--vsa",
            out.to_str().unwrap(),
            "--public-key",
            pub_pem.to_str().unwrap(),
            "--public-key-id",
            id,
            "--subject-digest",
            &format!("sha256:{digest}"),
            "--verified-level",
            level,
        ])
    };
    assert_eq!(verify("SLSA_BUILD_LEVEL_2", &key_id).code, 0);
    let too_high = verify("SLSA_BUILD_LEVEL_4", &key_id);
    assert!(too_high.code == 1 && too_high.stderr.contains("SLSA_BUILD_LEVEL_4"), "{}", too_high.stderr);
    let wrong_id = verify("SLSA_BUILD_LEVEL_2", "another-key");
    assert!(wrong_id.code == 1 && wrong_id.stderr.contains("ErrorNoValidSignature"), "{}", wrong_id.stderr);
    // Denied: the summary says FAILED (and is still written).
    let p = policy(dir.path(), "[rules.SC-SIG-001]\n");
    let run = support::portcullis([
        "audit",
        "--policy",
        p.to_str().unwrap(),
        "--provenance",
        go.join("binary-linux-amd64-push-v14.2.intoto.jsonl").to_str().unwrap(),
        "--vsa",
        out.to_str().unwrap(),
        art.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    let st: Value = serde_json::from_str(std::fs::read_to_string(&out).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(st["predicate"]["verificationResult"], "FAILED");
}
