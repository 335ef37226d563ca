//! `portcullis audit docker://…` against a real registry (Debian's
//! `docker-registry`, distribution 2.8) filled with `skopeo`: the report of
//! a pulled image equals the report of the same image read from its local
//! layout — every platform of an index, every finding — by tag and by
//! digest; signatures attached by cosign's tag scheme are found and
//! verified; blobs are cached by content; registry failures are errors,
//! never verdicts.

use crate::support;

use serde_json::{Value, json};
use support::registry::TestRegistry;

const IMAGES: [&str; 4] = ["go-static-good", "go-static-multiarch", "go-dynamic-root", "go-legacy-debug"];

/// Verdicts and findings of each subject, by digest, without what names
/// the input (reference, repository, input path).
fn judged(report: &Value) -> Vec<(String, String, Vec<Value>)> {
    let mut v: Vec<(String, String, Vec<Value>)> = report["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let findings = s["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| json!([f["rule"], f["outcome"], f["effect"], f["message"]]))
                .collect();
            (s["digest"].as_str().unwrap().to_string(), s["verdict"].as_str().unwrap().to_string(), findings)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn audit_json(args: &[&str]) -> (i32, Value) {
    let run = support::portcullis(args);
    assert!(run.code == 0 || run.code == 1, "exit {}: {}", run.code, run.stderr);
    (run.code, run.json())
}

#[test]
fn pulled_images_are_judged_like_their_layouts() {
    let registry = TestRegistry::start();
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap();
    for name in IMAGES {
        registry.push(&support::image(&format!("oci/{name}")), "v1", &format!("go/{name}:v1"));
    }
    for name in IMAGES {
        let layout = support::image(&format!("oci/{name}"));
        let (local_code, local) = audit_json(&["audit", "--format", "json", layout.to_str().unwrap()]);
        let url = registry.url(&format!("go/{name}:v1"));
        let (code, remote) = audit_json(&["audit", "--format", "json", "--registry-cache", cache_arg, &url]);
        assert_eq!(code, local_code, "{name}: exit code");
        assert_eq!(remote["verdict"], local["verdict"], "{name}");
        assert_eq!(judged(&remote), judged(&local), "{name}: findings differ between registry and layout");
        assert_eq!(remote["input"]["format"], "registry");
        assert_eq!(remote["input"]["path"], url.as_str());
        let top = &remote["subjects"][0];
        assert_eq!(top["repository"], format!("{}/go/{name}", registry.addr));
        assert_eq!(top["reference"], url.as_str(), "{name}: subjects are named by the reference");
        if name == "go-static-multiarch" {
            assert_eq!(remote["subjects"].as_array().unwrap().len(), 3, "the index and both platforms");
        }

        // By digest: the same judgement, named by digest.
        let digest = top["digest"].as_str().unwrap();
        let by_digest = format!("docker://{}/go/{name}@{digest}", registry.addr);
        let (_, pinned) = audit_json(&["audit", "--format", "json", "--registry-cache", cache_arg, &by_digest]);
        assert_eq!(judged(&pinned), judged(&local), "{name} by digest");
        assert_eq!(pinned["subjects"][0]["reference"], by_digest.as_str());
    }
}

#[test]
fn signatures_by_tag_scheme_are_pulled_and_verified() {
    let registry = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("signed");
    support::copy_dir(&support::image("oci/go-static-good"), &layout);
    let digest = support::cosign::index_of(&layout)["manifests"][0]["digest"].as_str().unwrap().to_string();
    let (sk, pem) = support::cosign::key_pair(7);
    support::cosign::sign(&layout, &digest, &sk, json!({"build.env": "prod"}));
    let sig_tag = format!("{}.sig", digest.replace(':', "-"));
    registry.push(&layout, "v1", "app:v1");
    registry.push(&layout, &sig_tag, &format!("app:{sig_tag}"));
    registry.push(&support::image("oci/go-static-good"), "v1", "unsigned:v1");

    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[policy]\nname = \"sig\"\nversion = \"1\"\n\n[plugins.signatures]\n\n[rules.SC-SIG-001]\nparams = {{ keys = ['''{pem}'''] }}\n[rules.SC-SIG-003]\nparams = {{ required = [\"build.env=prod\"] }}\n[rules.SC-SLSA-001]\nenabled = false\n"
        ),
    )
    .unwrap();
    let cache = dir.path().join("cache");
    let audit = |image: &str| {
        let run = support::portcullis([
            "audit",
            "--format",
            "json",
            "--registry-cache",
            cache.to_str().unwrap(),
            "-p",
            policy.to_str().unwrap(),
            &registry.url(image),
        ]);
        (run.code, run.json())
    };
    let (code, report) = audit("app:v1");
    let outcome = |r: &Value, rule: &str| support::outcome_of(&r["subjects"][0], rule).unwrap();
    assert_eq!(outcome(&report, "SC-SIG-001"), "pass", "{report:#}");
    assert_eq!(outcome(&report, "SC-SIG-003"), "pass");
    let denying: Vec<&Value> =
        report["subjects"][0]["findings"].as_array().unwrap().iter().filter(|f| f["effect"] == "deny").collect();
    assert_eq!(code, 0, "{denying:#?}");
    let (code, report) = audit("unsigned:v1");
    assert_eq!(outcome(&report, "SC-SIG-001"), "fail");
    assert_eq!(code, 1);
}

/// A registry client whose blob cache is `cache`.
fn client(cache: &tempfile::TempDir) -> portcullis::registry::Registry {
    portcullis::registry::Registry::new(portcullis::registry::RegistryOptions {
        cache_dir: cache.path().to_path_buf(),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn blobs_are_cached_by_content() {
    let registry = TestRegistry::start();
    registry.push(&support::image("oci/go-static-good"), "v1", "app:v1");
    registry.push(&support::image("oci/go-static-good"), "v1", "copy:v2");
    let cache = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reg = client(&cache);
    let first =
        rt.block_on(reg.pull(&portcullis::registry::parse_reference(&registry.url("app:v1")).unwrap(), false)).unwrap();
    assert!(first.fetched >= 3, "manifest, config and layers fetched: {}", first.fetched);
    let again = rt
        .block_on(reg.pull(&portcullis::registry::parse_reference(&registry.url("copy:v2")).unwrap(), false))
        .unwrap();
    assert_eq!(again.digest, first.digest);
    assert_eq!(again.fetched, 1, "only the manifest (by tag) is fetched again; blobs come from the cache");
    // A blob altered in the cache is caught by the layout reader's digest check.
    let blobs = cache.path().join("blobs/sha256");
    let layer = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&layer).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 0xff;
    std::fs::write(&layer, bytes).unwrap();
    let input = portcullis::source::open_pulled(&again, &Default::default()).unwrap();
    let report = support::default_engine().audit(&input);
    assert_eq!(report.verdict, portcullis::Verdict::Deny);
    assert!(
        report.subjects[0].findings.iter().any(|f| f.rule == "portcullis/evidence"),
        "a tampered cached blob is unreadable evidence"
    );
}

#[test]
fn layers_already_scanned_are_not_scanned_again() {
    let registry = TestRegistry::start();
    registry.push(&support::image("oci/go-dynamic-root"), "v1", "app:v1");
    let cache = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reg = client(&cache);
    let reference = portcullis::registry::parse_reference(&registry.url("app:v1")).unwrap();
    let pulled = rt.block_on(reg.pull(&reference, false)).unwrap();
    let engine = support::default_engine();
    let judge = || {
        let t = std::time::Instant::now();
        let input = portcullis::source::open_pulled(&pulled, &Default::default()).unwrap();
        let read = t.elapsed();
        let mut report = serde_json::to_value(engine.audit(&input)).unwrap();
        report.as_object_mut().unwrap().remove("timings");
        (report, read)
    };
    let (cold, cold_read) = judge();
    let (entries, _) = pulled.layer_cache.as_ref().expect("a layer cache").stats();
    assert_eq!(entries, 3, "one entry per layer of go-dynamic-root");
    let (warm, warm_read) = judge();
    assert_eq!(cold, warm, "evidence from the cache judges exactly as a scan");
    println!("reading go-dynamic-root: {cold_read:?} scanned, {warm_read:?} from the layer cache");
    assert!(warm_read < cold_read, "the second read comes from the cache");
}

#[test]
fn registry_failures_are_errors_not_verdicts() {
    let mut registry = TestRegistry::start();
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap();
    let run = support::portcullis(["audit", "--registry-cache", cache_arg, &registry.url("missing:v1")]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not found in the registry"), "{}", run.stderr);
    registry.stop();
    let run = support::portcullis(["audit", "--registry-cache", cache_arg, &registry.url("missing:v1")]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("registry unreachable"), "{}", run.stderr);
    let run = support::portcullis(["audit", "docker://Not A Reference"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is not an image reference"), "{}", run.stderr);
}

/// Progress of a registry audit tells the truth: the download reports the
/// bytes of the blobs it fetches against their descriptors' sizes, then the
/// scan starts a stage of its own (its bytes and rate counted afresh), and
/// a second pull, with every blob cached, reports nothing to download.
#[test]
fn progress_reports_the_download_then_the_scan() {
    use std::sync::Mutex;
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, u64, u64)>>);
    impl portcullis::scan::Progress for Recorder {
        fn add_total(&self, bytes: u64) {
            if let Some(last) = self.0.lock().unwrap().last_mut() {
                last.1 += bytes;
            }
        }
        fn advance(&self, bytes: u64) {
            if let Some(last) = self.0.lock().unwrap().last_mut() {
                last.2 += bytes;
            }
        }
        fn stage(&self, name: &'static str) {
            self.0.lock().unwrap().push((name.to_string(), 0, 0));
        }
    }
    let registry = TestRegistry::start();
    registry.push(&support::image("oci/go-static-good"), "v1", "app:v1");
    let cache = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reg = client(&cache);
    let reference = portcullis::registry::parse_reference(&registry.url("app:v1")).unwrap();
    let pull = || {
        let recorder = std::sync::Arc::new(Recorder::default());
        let sink = portcullis::scan::ProgressSink(recorder.clone());
        let pulled = rt.block_on(reg.pull_reporting(&reference, false, Some(sink.clone()))).unwrap();
        let opts = portcullis::source::OpenOptions { progress: Some(sink), ..Default::default() };
        let input = portcullis::source::open_pulled(&pulled, &opts).unwrap();
        let stages = recorder.0.lock().unwrap().clone();
        (pulled, input, stages)
    };
    let (pulled, input, stages) = pull();
    let names: Vec<&str> = stages.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(names, ["downloading", "scanning"], "{stages:?}");
    let (_, total, done) = stages[0];
    assert!(total > 3_000_000, "the layer's bytes are announced before they arrive: {total}");
    assert_eq!(done, total, "every announced byte arrived");
    // Blobs are reported; the few kilobytes of manifests are not.
    assert!(
        done <= pulled.fetched_bytes && pulled.fetched_bytes - done < 64 << 10,
        "{done} of {}",
        pulled.fetched_bytes
    );
    let (_, scan_total, scanned) = stages[1];
    // The layers are the blobs less the config: the scan counts its own
    // bytes, from zero, not on top of the download's.
    assert!(scan_total > 0 && scan_total < total, "{stages:?}");
    assert_eq!(scanned, scan_total, "{stages:?}");
    assert!(!input.evidence.is_empty());
    // Cached: nothing to download, so the download stage announces nothing.
    let (_, _, again) = pull();
    assert_eq!(again[0], ("downloading".to_string(), 0, 0), "{again:?}");
}
