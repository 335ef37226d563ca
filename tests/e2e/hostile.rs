//! Hostile subjects against the whole engine: evidence made to exhaust a
//! plugin's limits is denied even under `failure-policy = "ignore"` (the
//! subject caused the failure, so the failure policy does not excuse it),
//! and `portcullis serve` answers — and keeps answering — a review of an
//! image whose attached SBOM is nested 100,000 levels deep.

use crate::support;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// A policy with `failure-policy = "ignore"`, one plugin with `limits`,
/// and `rules`.
fn lenient(dir: &Path, plugin: &str, limits: &str, rules: &str) -> PathBuf {
    let p = dir.join(format!("{plugin}-lenient.toml"));
    let text = format!(
        "[policy]\nname = \"lenient\"\nversion = \"1\"\nenforcement = \"enforce\"\nfailure-policy = \"ignore\"\n\n[plugins.{plugin}]\n{limits}\n\n{rules}\n"
    );
    std::fs::write(&p, text).unwrap();
    p
}

/// `audit --format json`: the exit code and `(outcome, effect, message)` of
/// `rule` on the first image subject.
fn audit(layout: &Path, policy: &Path, extra: &[&str], rule: &str) -> (i32, String, String, String) {
    let mut args = vec!["audit", "-f", "json", "--skip-layers", "--policy", policy.to_str().unwrap()];
    args.extend(extra);
    args.push(layout.to_str().unwrap());
    let run = support::portcullis(&args);
    assert!(run.code == 0 || run.code == 1, "exit {}: {}", run.code, run.stderr);
    let report = run.json();
    let subject = report["subjects"].as_array().unwrap().iter().find(|s| s["kind"] == "image").expect("an image");
    let f = subject["findings"].as_array().unwrap().iter().find(|f| f["rule"] == rule).expect("the rule's finding");
    let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
    (run.code, text("outcome"), text("effect"), text("message"))
}

fn image_digest(layout: &Path) -> String {
    support::cosign::index_of(layout)["manifests"][0]["digest"].as_str().unwrap().to_string()
}

/// Adds `n` cosign signatures of `payload_bytes` each (none verifies) to
/// the image `digest`, in one index update.
fn add_bogus_signatures(layout: &Path, digest: &str, n: usize, payload_bytes: usize) {
    use support::cosign::{add_blob, cosign_tag, payload, tagged_manifest};
    let entries = (0..n)
        .map(|i| {
            let (payload_digest, payload_size) =
                add_blob(layout, &payload(digest, json!({"n": i, "pad": "x".repeat(payload_bytes)})));
            let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("not a signature {i}"));
            let layer = json!({"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": payload_digest,
                "size": payload_size, "annotations": {"dev.cosignproject.cosign/signature": b64}});
            tagged_manifest(layout, &cosign_tag(digest, "sig"), json!([layer]))
        })
        .collect();
    support::cosign::add_to_index(layout, entries);
}

#[test]
fn exhausting_the_signatures_plugin_denies_under_failure_policy_ignore() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("img");
    support::copy_dir(&support::image("oci/go-static-good"), &layout);
    let digest = image_digest(&layout);
    // An unsigned image: one signature that does not verify...
    let garbage = |i: usize| format!("not a signature {i}").into_bytes();
    support::cosign::attach(&layout, &digest, &support::cosign::payload(&digest, json!({"n": 0})), &garbage(0));
    let policy = lenient(dir.path(), "signatures", "fuel = 3_000_000", "[rules.SC-SIG-001]\n");
    let (code, outcome, effect, message) = audit(&layout, &policy, &[], "SC-SIG-001");
    assert_eq!((code, outcome.as_str(), effect.as_str()), (1, "fail", "deny"), "{message}");
    // ...then thousands more, so checking them exhausts the plugin's fuel.
    add_bogus_signatures(&layout, &digest, 2999, 0);
    let (code, outcome, effect, message) = audit(&layout, &policy, &[], "SC-SIG-001");
    assert_eq!((outcome.as_str(), effect.as_str()), ("error", "deny"), "{message}");
    assert!(message.contains("fuel") && message.contains("caused by the subject"), "{message}");
    assert_eq!(code, 1, "an unsigned image admitted under failure-policy ignore");
}

#[test]
fn exhausting_the_sbom_plugin_denies_under_failure_policy_ignore() {
    let dir = tempfile::tempdir().unwrap();
    let layout = support::image("oci/go-static-good");
    let mut sbom: Value =
        serde_json::from_slice(&std::fs::read(support::image("sbom/go-static-good.cdx.json")).unwrap()).unwrap();
    let write = |sbom: &Value| {
        let p = dir.path().join("sbom.cdx.json");
        std::fs::write(&p, serde_json::to_vec(sbom).unwrap()).unwrap();
        p
    };
    let rules = "[rules.SC-SBOM-001]\n[rules.SC-SBOM-004]\nparams = { deny = [\"pkg:npm/left-pad@<2\"] }\n";
    let policy = lenient(dir.path(), "sbom", "fuel = 50_000_000", rules);
    let small = write(&sbom);
    let (code, outcome, effect, message) = audit(&layout, &policy, &["--sbom", small.to_str().unwrap()], "SC-SBOM-004");
    assert_eq!((code, outcome.as_str(), effect.as_str()), (0, "pass", "none"), "{message}");
    // The same SBOM with 40,000 more components: the deny list is checked
    // against each, and the plugin runs out of fuel.
    let more: Vec<Value> = (0..40_000)
        .map(|i| json!({"type": "library", "name": format!("c{i}"), "version": "1.0.0", "purl": format!("pkg:npm/c{i}@1.0.0")}))
        .collect();
    sbom["components"].as_array_mut().unwrap().extend(more);
    let big = write(&sbom);
    let (code, outcome, effect, message) = audit(&layout, &policy, &["--sbom", big.to_str().unwrap()], "SC-SBOM-004");
    assert_eq!((outcome.as_str(), effect.as_str()), ("error", "deny"), "{message}");
    assert!(message.contains("caused by the subject"), "{message}");
    assert_eq!(code, 1, "an SBOM that exhausted its plugin was admitted under failure-policy ignore");
}
