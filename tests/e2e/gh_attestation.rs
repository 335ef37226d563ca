//! `portcullis verify-github-attestation` on the GitHub CLI's own
//! attestation fixtures (`../shared/corpus/gh-attestation`), each case with
//! the outcome and message gh's tests assert (SOURCE.md's table ids), all
//! offline against the fixtures' public-good `trusted_root.json` or the
//! embedded production root.

use crate::support;

const SIGSTORE_JS: [&str; 4] = ["sigstore-js-2.1.0.tgz", "-b", "sigstore-js-2.1.0-bundle.json", "--digest-alg=sha512"];
const REUSABLE: [&str; 3] = ["reusable-workflow-artifact", "-b", "reusable-workflow-attestation.sigstore.json"];
const ATTEST_YML: &str = "https://github.com/github/artifact-attestations-workflows/.github/workflows/attest.yml@09b495c3f12c7881b3cc17209a327792065c1a1d";

#[test]
fn gh_attestation_fixtures_decide_as_gh_does() {
    let data = support::corpus("gh-attestation/pkg/cmd/attestation/test/data");
    let custom = ["custom-issuer-artifact", "-b", "custom-issuer.sigstore.json", "--owner=too-legit"];
    let hammer = "--cert-oidc-issuer=https://token.actions.githubusercontent.com/hammer-time";
    let too_legit =
        "--cert-identity=https://github.com/too-legit/attest/.github/workflows/integration.yml@refs/heads/main";
    let attest_yml = format!("--cert-identity={ATTEST_YML}");
    let cases: Vec<(&str, Vec<&str>, u8, &str)> = vec![
        ("A1", [&SIGSTORE_JS[..], &["--owner=sigstore"]].concat(), 0, "signed by https://github.com/sigstore/sigstore-js/"),
        ("A2", [&SIGSTORE_JS[..], &["--repo=sigstore/sigstore-js"]].concat(), 0, "1 attestation(s)"),
        (
            "A3",
            [&SIGSTORE_JS[..], &["--repo=sigstore/fakerepo", "--cert-identity-regex=^https://github.com/sigstore/"]].concat(),
            1,
            "expected SourceRepositoryURI to be https://github.com/sigstore/fakerepo, got https://github.com/sigstore/sigstore-js",
        ),
        (
            "A4",
            [&SIGSTORE_JS[..], &["--owner=fakeowner", "--cert-identity-regex=^https://github.com/sigstore/"]].concat(),
            1,
            "expected SourceRepositoryOwnerURI to be https://github.com/fakeowner, got https://github.com/sigstore",
        ),
        ("A4 (no identity flag)", [&SIGSTORE_JS[..], &["--owner=fakeowner"]].concat(), 1, "verifying with issuer \"sigstore.dev\""),
        ("A6", [&custom[..], &[hammer, too_legit]].concat(), 0, "1 attestation(s)"),
        ("A7", [&custom[..], &[hammer, "--cert-identity-regex=^https://github.com/too-legit/attest"]].concat(), 0, ""),
        ("A8", [&custom[..1], &custom[1..3], &["--repo=too-legit/attest", hammer, too_legit]].concat(), 0, ""),
        (
            "A6 with the default issuer",
            [&custom[..], &[too_legit]].concat(),
            1,
            "expected Issuer to be https://token.actions.githubusercontent.com, got https://token.actions.githubusercontent.com/hammer-time -- if you have a custom OIDC issuer policy",
        ),
        ("A10", [&REUSABLE[..], &["--owner=malancas", &attest_yml]].concat(), 0, ""),
        (
            "A11",
            [&REUSABLE[..], &["--owner=malancas", "--cert-identity-regex=^https://github.com/github/artifact-attestations-workflows/"]].concat(),
            0,
            "",
        ),
        ("A12", [&REUSABLE[..], &["--owner=malancas", "--signer-repo=github/artifact-attestations-workflows"]].concat(), 0, ""),
        ("A15", [&REUSABLE[..], &["--repo=malancas/attest-demo", "--signer-repo=github/artifact-attestations-workflows"]].concat(), 0, ""),
        ("A16", [&REUSABLE[..], &["--repo=malancas/attest-demo", "--signer-workflow=foo/bar/.github/workflows/attest.yml"]].concat(), 1, "SubjectAltName does not match"),
        (
            "A17",
            [&REUSABLE[..], &["--repo=malancas/attest-demo", "--signer-workflow=github.com/github/artifact-attestations-workflows/.github/workflows/attest.yml"]].concat(),
            0,
            "",
        ),
        (
            "A18",
            [&REUSABLE[..], &["--repo=malancas/attest-demo", "--signer-workflow=github/artifact-attestations-workflows/.github/workflows/attest.yml"]].concat(),
            0,
            "",
        ),
        ("reusable workflow, default signer", [&REUSABLE[..], &["--owner=malancas"]].concat(), 1, "SubjectAltName does not match"),
        (
            "A19",
            vec!["sigstore-js-2.1.0.tgz", "-b", "sigstoreBundle-invalid-signature.json", "--digest-alg=sha512", "--owner=brian", "--cert-identity-regex=."],
            1,
            "verifying with issuer \"sigstore.dev\"",
        ),
        (
            "A20/A22",
            vec!["sigstore-js-2.1.0.tgz", "-b", "sigstore-js-2.1.0_with_2_bundles.jsonl", "--digest-alg=sha512", "--owner=sigstore"],
            0,
            "2 attestation(s)",
        ),
        (
            "A21 offline",
            vec!["github_provenance_demo-0.0.12-py3-none-any.whl", "-b", "github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl", "--owner=actions"],
            1,
            "GitHub's own Sigstore instance",
        ),
        (
            "A23",
            vec!["sigstore-js-2.1.0.tgz", "-b", "sigstore-js-2.1.0-bundle-v0.1.json", "--digest-alg=sha512", "--owner=sigstore"],
            1,
            "unsupported bundle version: application/vnd.dev.sigstore.bundle+json;version=0.1",
        ),
        ("sha512-only subject, sha256", [&SIGSTORE_JS[..3], &["--owner=sigstore"]].concat(), 1, "no in-toto statement subject matches"),
        ("B5", [&SIGSTORE_JS[..], &["--owner=owner", "--cert-identity-regex=^https://github.com/sigstore/"]].concat(), 1, "expected SourceRepositoryOwnerURI to be https://github.com/owner, got https://github.com/sigstore"),
        (
            "B7",
            [&SIGSTORE_JS[..], &["--repo=sigstore/sigstore-js", "--hostname=foo.ghe.com", "--cert-identity-regex=^https://github.com/sigstore/"]].concat(),
            1,
            "expected SourceRepositoryOwnerURI to be https://foo.ghe.com/sigstore, got https://github.com/sigstore",
        ),
        ("B8 (the CLI takes the owner from --repo)", [&SIGSTORE_JS[..], &["--repo=wrong/example", "--cert-identity-regex=^https://github.com/sigstore/"]].concat(), 1, "expected SourceRepositoryOwnerURI to be https://github.com/wrong"),
        ("skipped: exact SAN", [&SIGSTORE_JS[..], &["--owner=sigstore", "--cert-identity=https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"]].concat(), 0, ""),
        ("skipped: fake SAN", [&SIGSTORE_JS[..], &["--owner=sigstore", "--cert-identity=fake san"]].concat(), 1, "SubjectAltName"),
        ("skipped: other issuer", [&SIGSTORE_JS[..], &["--owner=sigstore", "--cert-oidc-issuer=not-a-real-issuer"]].concat(), 1, "expected Issuer to be not-a-real-issuer"),
        ("self-hosted denied", [&SIGSTORE_JS[..], &["--owner=sigstore", "--deny-self-hosted-runners"]].concat(), 0, ""),
        ("predicate type", [&SIGSTORE_JS[..], &["--owner=sigstore", "--predicate-type=https://spdx.dev/Document"]].concat(), 1, "no attestation has predicate type"),
        ("C9", vec!["sigstore-js-2.1.0.tgz", "-b", "github_provenance_demo-0.0.12-py3-none-any-bundle-missing-verification-material.jsonl", "--owner=actions"], 1, "missing verification material"),
        ("C10", vec!["sigstore-js-2.1.0.tgz", "-b", "github_provenance_demo-0.0.12-py3-none-any-bundle-missing-cert.jsonl", "--owner=actions"], 1, "missing bundle content"),
        ("C6", vec!["sigstore-js-2.1.0.tgz", "-b", "sigstore-js-2.1.0.tgz", "--owner=sigstore"], 2, "bundle file extension not supported, must be json or jsonl"),
        ("C7", vec!["sigstore-js-2.1.0.tgz", "-b", "not-found-bundle.json", "--owner=sigstore"], 2, "bundle could not be loaded from JSON file"),
        ("D: no owner", [&SIGSTORE_JS[..]].concat(), 2, "give --owner OWNER or --repo OWNER/REPO"),
        ("D: bad repo", [&SIGSTORE_JS[..], &["--repo=sigstoresigstore-js"]].concat(), 2, "invalid value provided for repo: sigstoresigstore-js"),
        ("D: sha384", [&SIGSTORE_JS[..3], &["--digest-alg=sha384", "--owner=sigstore"]].concat(), 2, "sha384"),
        ("D: hostname", [&SIGSTORE_JS[..], &["--owner=sigstore", "--hostname=foo.bar.com"]].concat(), 2, "only github.com and *.ghe.com are supported"),
    ];
    for (id, args, code, message) in cases {
        for root in [None, Some("trusted_root.json")] {
            let mut all = vec!["verify-github-attestation"];
            all.extend(&args);
            if let Some(r) = root {
                all.extend(["--trusted-root", r]);
            }
            let run = support::portcullis_in(&data, &all);
            let said = format!("{}{}", run.stdout, run.stderr);
            assert_eq!(run.code, i32::from(code), "{id} ({root:?}): {said}");
            assert!(said.contains(message), "{id} ({root:?}): expected `{message}` in:\n{said}");
        }
    }
}

/// An empty `.jsonl` is an error, and blank lines are not bundles (C2, C3).
#[test]
fn json_lines_bundle_files_are_read_as_gh_reads_them() {
    let data = support::corpus("gh-attestation/pkg/cmd/attestation/test/data");
    let dir = tempfile::tempdir().unwrap();
    let two = std::fs::read_to_string(data.join("sigstore-js-2.1.0_with_2_bundles.jsonl")).unwrap();
    std::fs::write(dir.path().join("blank.jsonl"), format!("{two}\n\n")).unwrap();
    std::fs::write(dir.path().join("empty.jsonl"), "").unwrap();
    let artifact = data.join("sigstore-js-2.1.0.tgz");
    let run = |bundle: &str| {
        support::portcullis([
            "verify-github-attestation",
            artifact.to_str().unwrap(),
            "-b",
            dir.path().join(bundle).to_str().unwrap(),
            "--digest-alg=sha512",
            "--owner=sigstore",
            "--format=json",
        ])
    };
    let ok = run("blank.jsonl");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let out: serde_json::Value = serde_json::from_str(&ok.stdout).unwrap();
    assert_eq!(out.as_array().unwrap().len(), 2);
    assert_eq!(out[0]["sourceRepositoryOwnerUri"], "https://github.com/sigstore");
    assert_eq!(out[0]["runnerEnvironment"], "github-hosted");
    let empty = run("empty.jsonl");
    assert_eq!(empty.code, 2);
    assert!(empty.stderr.contains("provided bundle file is empty"), "{}", empty.stderr);
}

/// The same attestations are SLSA provenance evidence for `audit`: the
/// reusable-workflow attestation verifies for its artifact (SC-SLSA-001)
/// and its external parameters hold no secret (SC-SLSA-004); another
/// artifact is not the attestation's subject.
#[test]
fn github_attestations_are_provenance_evidence_for_the_slsa_rules() {
    let data = support::corpus("gh-attestation/pkg/cmd/attestation/test/data");
    let audit = |artifact: &str| {
        let run = support::portcullis_in(
            &data,
            &[
                "audit",
                artifact,
                "--provenance",
                "reusable-workflow-attestation.sigstore.json",
                "--policy",
                "builtin:supply-chain",
                "--format",
                "json",
            ],
        );
        run.json()["subjects"][0].clone()
    };
    let own = audit("reusable-workflow-artifact");
    assert_eq!(support::outcome_of(&own, "SC-SLSA-001").as_deref(), Some("pass"), "{own}");
    assert_eq!(support::outcome_of(&own, "SC-SLSA-004").as_deref(), Some("pass"), "{own}");
    let other = audit("custom-issuer-artifact");
    assert_eq!(support::outcome_of(&other, "SC-SLSA-001").as_deref(), Some("fail"), "{other}");
}
