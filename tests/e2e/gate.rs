//! `portcullis gate` as a real process between real clients (`skopeo`,
//! `curl`) and a real registry (Debian's `docker-registry`): a tag push is
//! judged before the tag exists — admitted images land byte-identical,
//! denied ones never get their tag and the client prints the rules; pushes
//! that name nothing pullable pass, impostors under signature and
//! referrers tags do not; the pusher's own credentials are used; an
//! upstream that is down refuses the push; multi-arch indexes are judged
//! per platform; audit mode warns instead; podman pushes are judged like
//! skopeo's, and PyPI's `oras` pushes artifacts.

use crate::support;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::registry::{TestRegistry, free_port, http_get};

struct Gate {
    child: Child,
    addr: String,
    _cache: tempfile::TempDir,
}

impl Gate {
    fn start(upstream: &TestRegistry, policy: &Path, extra: &[&str]) -> Gate {
        let cache = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["gate", "--upstream", &format!("http://{}", upstream.addr), "--listen", &addr])
            .args(["--policy", policy.to_str().unwrap()])
            .args(if extra.contains(&"--registry-cache") {
                vec![]
            } else {
                vec!["--registry-cache", cache.path().to_str().unwrap()]
            })
            // The gate has no credentials of its own: an empty auth file.
            .args(["--registry-config", empty_auth_file().to_str().unwrap()])
            .args(extra)
            .env("PORTCULLIS_CACHE_DIR", support::cache_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting portcullis gate");
        let gate = Gate { child, addr, _cache: cache };
        let start = Instant::now();
        while http_get(&gate.addr, "/readyz").map(|r| r.0) != Some(200) {
            assert!(start.elapsed() < Duration::from_secs(120), "portcullis gate never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        gate
    }

    fn metric(&self, name: &str, labels: &str) -> f64 {
        let (_, text) = http_get(&self.addr, "/metrics").unwrap();
        text.lines()
            .filter(|l| l.starts_with(name) && l.contains(labels))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn empty_auth_file() -> PathBuf {
    static FILE: std::sync::OnceLock<tempfile::NamedTempFile> = std::sync::OnceLock::new();
    let f = FILE.get_or_init(|| {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), r#"{"auths":{}}"#).unwrap();
        f
    });
    f.path().to_path_buf()
}

fn policy() -> PathBuf {
    policy_path()
}

fn policy_path() -> PathBuf {
    support::workspace().join("policies/go-container-baseline.toml")
}

/// `skopeo copy` of a layout's `v1` to `docker://ADDR/REPO:TAG`.
fn skopeo_push(layout: &Path, dest: &str, creds: Option<&str>) -> Output {
    let mut c = Command::new("skopeo");
    c.args(["copy", "--insecure-policy", "--preserve-digests", "--dest-tls-verify=false", "--all", "-q"]);
    if let Some(creds) = creds {
        c.args(["--dest-creds", creds]);
    }
    c.arg(format!("oci:{}:v1", layout.display()));
    c.arg(format!("docker://{dest}"));
    c.output().expect("running skopeo")
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, String::from_utf8_lossy(&self.body)))
    }
}

/// One request with `curl` (headers, status and body kept apart).
fn curl(method: &str, url: &str, headers: &[&str], body: Option<&[u8]>, creds: Option<&str>) -> Answer {
    let dir = tempfile::tempdir().unwrap();
    let (head, out) = (dir.path().join("head"), dir.path().join("body"));
    let mut c = Command::new("curl");
    c.args(["-s", "-S", "-X", method, "-D"]).arg(&head).arg("-o").arg(&out).args(["-H", "Expect:"]);
    if method == "HEAD" {
        c.arg("-I");
    }
    for h in headers {
        c.args(["-H", h]);
    }
    if let Some(b) = body {
        let file = dir.path().join("upload");
        std::fs::write(&file, b).unwrap();
        c.arg("--data-binary").arg(format!("@{}", file.display()));
    }
    if let Some(u) = creds {
        c.args(["-u", u]);
    }
    let run = c.arg(url).output().expect("running curl");
    assert!(run.status.success(), "curl {method} {url}: {}", String::from_utf8_lossy(&run.stderr));
    let head = std::fs::read_to_string(head).unwrap();
    // The last header block (after any 1xx).
    let block = head.trim_end().rsplit("\r\n\r\n").next().unwrap_or_default().to_string();
    let mut lines = block.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    Answer { status, headers, body: std::fs::read(out).unwrap_or_default() }
}

/// A shared OCI layout.
fn shared(name: &str) -> PathBuf {
    support::image(&format!("oci/{name}"))
}

/// A layout's blob.
fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
}

fn top_digest(layout: &Path) -> String {
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_string()
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)))
}

/// Uploads a blob through `addr` as the distribution spec's POST then PUT.
fn upload(addr: &str, repo: &str, bytes: &[u8], creds: Option<&str>) {
    let digest = sha256(bytes);
    let start = curl("POST", &format!("http://{addr}/v2/{repo}/blobs/uploads/"), &[], None, creds);
    assert_eq!(start.status, 202, "{}", String::from_utf8_lossy(&start.body));
    let location = start.header("Location").expect("an upload Location").to_string();
    assert!(!location.contains("://") || location.contains(addr), "Location points at the gate: {location}");
    let url = if location.starts_with('/') { format!("http://{addr}{location}") } else { location };
    let sep = if url.contains('?') { '&' } else { '?' };
    let done = curl(
        "PUT",
        &format!("{url}{sep}digest={digest}"),
        &["Content-Type: application/octet-stream"],
        Some(bytes),
        creds,
    );
    assert_eq!(done.status, 201, "{}", String::from_utf8_lossy(&done.body));
}

/// Pushes a manifest's config and layers (not the manifest).
fn upload_blobs_of(addr: &str, repo: &str, layout: &Path, manifest: &[u8]) {
    let m: Value = serde_json::from_slice(manifest).unwrap();
    upload(addr, repo, &blob(layout, m["config"]["digest"].as_str().unwrap()), None);
    for l in m["layers"].as_array().unwrap() {
        upload(addr, repo, &blob(layout, l["digest"].as_str().unwrap()), None);
    }
}

fn put_manifest(addr: &str, repo: &str, reference: &str, bytes: &[u8]) -> Answer {
    let mt = serde_json::from_slice::<Value>(bytes).unwrap()["mediaType"].as_str().unwrap().to_string();
    curl(
        "PUT",
        &format!("http://{addr}/v2/{repo}/manifests/{reference}"),
        &[&format!("Content-Type: {mt}")],
        Some(bytes),
        None,
    )
}

/// The digest the upstream serves for `repo:tag`, asked directly.
fn upstream_digest(upstream: &TestRegistry, repo: &str, tag: &str, creds: Option<&str>) -> Option<String> {
    let a = curl(
        "HEAD",
        &format!("http://{}/v2/{repo}/manifests/{tag}", upstream.addr),
        &["Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"],
        None,
        creds,
    );
    assert!(a.status == 200 || a.status == 404, "HEAD {repo}:{tag} upstream: {}", a.status);
    (a.status == 200).then(|| a.header("Docker-Content-Digest").unwrap().to_string())
}

#[test]
fn a_tag_push_is_judged_before_the_tag_exists() {
    let upstream = TestRegistry::start();
    let gate = Gate::start(&upstream, &policy(), &[]);

    // Admitted: the upstream holds it under its tag, byte-identical.
    let out = skopeo_push(&shared("go-static-good"), &format!("{}/go/good:v1", gate.addr), None);
    assert!(out.status.success(), "skopeo: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(upstream_digest(&upstream, "go/good", "v1", None), Some(top_digest(&shared("go-static-good"))));

    // Denied: the client says why; the tag does not exist upstream.
    let out = skopeo_push(&shared("go-dynamic-root"), &format!("{}/go/bad:v1", gate.addr), None);
    assert!(!out.status.success(), "a denied push must fail");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("GO-BIN-001") && said.contains("denied"), "skopeo prints the rules: {said}");
    assert_eq!(upstream_digest(&upstream, "go/bad", "v1", None), None, "no tag for a denied image");

    // The gate's answer is the spec's error JSON.
    let manifest = blob(&shared("go-dynamic-root"), &top_digest(&shared("go-dynamic-root")));
    let a = put_manifest(&gate.addr, "go/bad", "v2", &manifest);
    assert_eq!(a.status, 403);
    let e = &a.json()["errors"][0];
    assert_eq!(e["code"], "DENIED");
    assert!(e["message"].as_str().unwrap().contains("go/bad:v2"), "{e}");
    let rules: Vec<&str> =
        e["detail"]["denied"].as_array().unwrap().iter().map(|d| d["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"GO-BIN-001") && rules.contains(&"GO-BIN-002"), "{rules:?}");
    assert_eq!(e["detail"]["report"]["verdict"], "deny");
    assert_eq!(gate.metric("portcullis_gate_manifest_pushes_total", r#"class="tag",outcome="deny""#), 2.0);
    assert_eq!(gate.metric("portcullis_gate_manifest_pushes_total", r#"class="tag",outcome="admit""#), 1.0);
    // Every layer was scanned while it was uploaded, and the verdicts'
    // pulls downloaded none of them (the verdicts above came from that
    // evidence: GO-BIN-001 and the rest found in go-dynamic-root's layers).
    let layers = |name: &str| {
        let m: Value = serde_json::from_slice(&blob(&shared(name), &top_digest(&shared(name)))).unwrap();
        m["layers"].as_array().unwrap().len() as f64
    };
    let pushed_layers = layers("go-static-good") + layers("go-dynamic-root");
    assert_eq!(gate.metric("portcullis_gate_speculative_scans_total", ""), pushed_layers);
    assert_eq!(
        gate.metric("portcullis_gate_layers_from_cache_total", ""),
        pushed_layers * 2.0 - layers("go-static-good")
    );

    // Pulls pass through: the admitted image reads back whole via the gate.
    let dir = tempfile::tempdir().unwrap();
    let pulled = Command::new("skopeo")
        .args(["copy", "--insecure-policy", "--src-tls-verify=false", "-q"])
        .arg(format!("docker://{}/go/good:v1", gate.addr))
        .arg(format!("oci:{}:v1", dir.path().display()))
        .output()
        .unwrap();
    assert!(pulled.status.success(), "{}", String::from_utf8_lossy(&pulled.stderr));
}

#[test]
fn pushes_that_name_nothing_pullable_pass_and_impostors_do_not() {
    let upstream = TestRegistry::start();
    let gate = Gate::start(&upstream, &policy(), &[]);
    let (layout, repo) = (shared("go-dynamic-root"), "go/staged");
    let digest = top_digest(&layout);
    let manifest = blob(&layout, &digest);
    upload_blobs_of(&gate.addr, repo, &layout, &manifest);

    // By digest: forwarded; pullable by digest only.
    let a = put_manifest(&gate.addr, repo, &digest, &manifest);
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.header("Docker-Content-Digest"), Some(digest.as_str()));
    assert_eq!(upstream_digest(&upstream, repo, &digest, None), Some(digest.clone()));

    // The spec's `?tag=` form is a tag push, judged.
    let a = put_manifest(&gate.addr, repo, &format!("{digest}?tag=latest"), &manifest);
    assert_eq!(a.status, 403, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(upstream_digest(&upstream, repo, "latest", None), None);

    // A runnable image under a cosign signature tag: refused outright.
    let sig_tag = format!("sha256-{}.sig", "1".repeat(64));
    let a = put_manifest(&gate.addr, repo, &sig_tag, &manifest);
    assert_eq!(a.status, 403);
    assert!(a.json()["errors"][0]["message"].as_str().unwrap().contains("reserved"), "{}", a.json());
    assert_eq!(upstream_digest(&upstream, repo, &sig_tag, None), None);

    // A fake referrers index (its entry is a runnable image): refused.
    let fake = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": manifest.len(),
                       "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}],
    }))
    .unwrap();
    let referrers_tag = format!("sha256-{}", "2".repeat(64));
    let a = put_manifest(&gate.addr, repo, &referrers_tag, &fake);
    assert_eq!(a.status, 403);
    assert!(a.json()["errors"][0]["message"].as_str().unwrap().contains("runnable"), "{}", a.json());
    assert_eq!(upstream_digest(&upstream, repo, &referrers_tag, None), None);

    // A real signature manifest under its tag: forwarded.
    let payload = br#"{"critical":{}}"#;
    upload(&gate.addr, repo, payload, None);
    upload(&gate.addr, repo, b"{}", None);
    let signature = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(b"{}"), "size": 2},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": sha256(payload),
                    "size": payload.len()}],
    }))
    .unwrap();
    let sig_tag = format!("sha256-{}.sig", digest.strip_prefix("sha256:").unwrap());
    let a = put_manifest(&gate.addr, repo, &sig_tag, &signature);
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(upstream_digest(&upstream, repo, &sig_tag, None), Some(sha256(&signature)));
}

#[test]
fn one_bad_platform_denies_the_index_and_names_it() {
    let upstream = TestRegistry::start();
    let gate = Gate::start(&upstream, &policy(), &[]);
    let repo = "go/multi";
    // The good image as linux/amd64 and the bad one as linux/arm64.
    let mut children = Vec::new();
    for (layout, arch) in [("go-static-good", "amd64"), ("go-dynamic-root", "arm64")] {
        let layout = shared(layout);
        let d = top_digest(&layout);
        let m = blob(&layout, &d);
        upload_blobs_of(&gate.addr, repo, &layout, &m);
        assert_eq!(put_manifest(&gate.addr, repo, &d, &m).status, 201);
        children.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": m.len(),
                             "platform": {"os": "linux", "architecture": arch}}));
    }
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": children,
    }))
    .unwrap();
    let a = put_manifest(&gate.addr, repo, "v1", &index);
    assert_eq!(a.status, 403, "{}", String::from_utf8_lossy(&a.body));
    let message = a.json()["errors"][0]["message"].as_str().unwrap().to_string();
    assert!(message.contains("linux/arm64") && message.contains("GO-BIN-001"), "{message}");
    assert!(!message.contains("linux/amd64: GO-BIN-001"), "{message}");
    assert_eq!(upstream_digest(&upstream, repo, "v1", None), None);

    // A whole good index (skopeo pushes the children by digest first).
    let out = skopeo_push(&shared("go-static-multiarch"), &format!("{}/go/multiarch:v1", gate.addr), None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        upstream_digest(&upstream, "go/multiarch", "v1", None),
        Some(top_digest(&shared("go-static-multiarch")))
    );
}

#[test]
fn the_pushers_credentials_are_the_only_ones() {
    let upstream = TestRegistry::start_with_auth("pusher", "s3cret");
    let creds = upstream.credentials.clone().unwrap();
    let gate = Gate::start(&upstream, &policy(), &[]);

    // No credentials: the upstream's challenge, through the gate.
    let a = curl("GET", &format!("http://{}/v2/", gate.addr), &[], None, None);
    assert_eq!(a.status, 401);
    assert!(a.header("WWW-Authenticate").is_some_and(|v| v.starts_with("Basic")), "{:?}", a.headers);
    let out = skopeo_push(&shared("go-static-good"), &format!("{}/go/good:v1", gate.addr), None);
    assert!(!out.status.success(), "a push without credentials is refused by the upstream");

    // The pusher's credentials: admitted, and denied by the verdict (so the
    // gate read the evidence with them: it has none of its own).
    let out = skopeo_push(&shared("go-static-good"), &format!("{}/go/good:v1", gate.addr), Some(&creds));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(upstream_digest(&upstream, "go/good", "v1", Some(&creds)), Some(top_digest(&shared("go-static-good"))));
    let out = skopeo_push(&shared("go-dynamic-root"), &format!("{}/go/bad:v1", gate.addr), Some(&creds));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GO-BIN-001"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(upstream_digest(&upstream, "go/bad", "v1", Some(&creds)), None);
}

#[test]
fn an_upstream_that_is_down_refuses_the_push() {
    let mut upstream = TestRegistry::start();
    let gate = Gate::start(&upstream, &policy(), &[]);
    let manifest = blob(&shared("go-static-good"), &top_digest(&shared("go-static-good")));
    upstream.stop();
    let a = put_manifest(&gate.addr, "go/good", "v1", &manifest);
    assert_eq!(a.status, 503);
    let e = &a.json()["errors"][0];
    assert_eq!(e["code"], "UNAVAILABLE");
    assert!(e["message"].as_str().unwrap().contains("not judged, so not tagged"), "{e}");
    upstream.resume();
    assert_eq!(upstream_digest(&upstream, "go/good", "v1", None), None);
}

#[test]
fn audit_mode_forwards_with_a_warning() {
    let upstream = TestRegistry::start();
    let gate = Gate::start(&upstream, &policy(), &["--mode", "audit"]);
    let (layout, repo) = (shared("go-dynamic-root"), "go/audited");
    let digest = top_digest(&layout);
    let manifest = blob(&layout, &digest);
    upload_blobs_of(&gate.addr, repo, &layout, &manifest);
    let a = put_manifest(&gate.addr, repo, "v1", &manifest);
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let warning = a.header("Warning").expect("a Warning header");
    assert!(
        warning.starts_with("299 - \"portcullis: portcullis denied") && warning.contains("GO-BIN-001"),
        "{warning}"
    );
    assert_eq!(upstream_digest(&upstream, repo, "v1", None), Some(digest));
}

#[test]
fn concurrent_pushes_get_their_own_verdicts() {
    let upstream = TestRegistry::start();
    let gate = Gate::start(&upstream, &policy(), &[]);
    let good = blob(&shared("go-static-good"), &top_digest(&shared("go-static-good")));
    let bad = blob(&shared("go-dynamic-root"), &top_digest(&shared("go-dynamic-root")));
    upload_blobs_of(&gate.addr, "go/many", &shared("go-static-good"), &good);
    upload_blobs_of(&gate.addr, "go/many", &shared("go-dynamic-root"), &bad);
    // Ten pushes of one tag and ten of distinct tags, good and bad mixed.
    let addr = gate.addr.clone();
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let (addr, good, bad) = (addr.clone(), good.clone(), bad.clone());
            std::thread::spawn(move || {
                let (tag, bytes, want) = match i {
                    0..10 => ("same".to_string(), good, 201),
                    _ if i % 2 == 0 => (format!("good-{i}"), good, 201),
                    _ => (format!("bad-{i}"), bad, 403),
                };
                let a = put_manifest(&addr, "go/many", &tag, &bytes);
                assert_eq!(a.status, want, "push {i} ({tag}): {}", String::from_utf8_lossy(&a.body));
                (tag, want)
            })
        })
        .collect();
    // Checked once every push is done (the upstream itself answers 500 to
    // a read racing a rewrite of the same manifest).
    let pushed: Vec<(String, u16)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for (tag, want) in pushed {
        let there = upstream_digest(&upstream, "go/many", &tag, None);
        assert_eq!(there.is_some(), want == 201, "{tag}");
    }
}

/// The recommended pipeline: push by digest, sign and attest (by cosign's
/// tag scheme), attach the SBOM as a referrer (with the referrers tag
/// schema, as clients do for a registry without the referrers API), then
/// push the tag: the gate finds everything and admits under the supply
/// chain pack. The same image pushed by tag alone is denied, and told why.
#[test]
fn push_by_digest_sign_then_tag_is_admitted() {
    use support::cosign::{add_blob, attest, index_of, key_pair, provenance_v1, sign};
    const CLOUD_BUILD: &str = "https://cloudbuild.googleapis.com/GoogleHostedWorker";
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("app");
    support::copy_dir(&shared("go-static-good"), &layout);
    let digest = top_digest(&layout);
    let (sk, pem) = key_pair(21);
    sign(&layout, &digest, &sk, json!({}));
    attest(&layout, &digest, &provenance_v1(&digest, CLOUD_BUILD, "refs/tags/v1.0.0", json!({})), &sk);
    let image = blob(&layout, &digest);

    // The pack, configured for the key and the builder.
    let text = std::fs::read_to_string(support::workspace().join("policies/supply-chain.toml")).unwrap();
    let replaced = text
        .replace(
            "params = { keyless = true, keys = [] }",
            &format!("params = {{ keyless = false, keys = ['''{pem}'''] }}"),
        )
        .replace(
            "[rules.SC-SLSA-001]                # SLSA provenance verifies and names this image",
            &format!("[rules.SC-SLSA-001]\nparams = {{ keys = ['''{pem}'''] }}"),
        )
        .replace(
            "params = { builders = [], min_level = 3 }",
            &format!("params = {{ builders = ['{CLOUD_BUILD}'], builder_keys = ['{CLOUD_BUILD}=1'], min_level = 3 }}"),
        );
    assert_eq!(replaced.matches(&pem).count(), 2, "the pack's lines this test configures have changed");
    let policy = dir.path().join("supply-chain.toml");
    std::fs::write(&policy, replaced).unwrap();

    let upstream = TestRegistry::start();
    // The pack judges known vulnerabilities too, against a fresh database.
    let vuln_db = crate::vulns::full_db().0;
    let gate = Gate::start(&upstream, &policy, &["--vuln-db", vuln_db.to_str().unwrap()]);
    let repo = "acme/app";

    // 1. The image by digest.
    upload_blobs_of(&gate.addr, repo, &layout, &image);
    assert_eq!(put_manifest(&gate.addr, repo, &digest, &image).status, 201);
    // 2. Its signature and attestation under cosign's tags.
    for entry in index_of(&layout)["manifests"].as_array().unwrap().iter().skip(1) {
        let tag = entry["annotations"]["org.opencontainers.image.ref.name"].as_str().unwrap();
        let m = blob(&layout, entry["digest"].as_str().unwrap());
        upload_blobs_of(&gate.addr, repo, &layout, &m);
        let a = put_manifest(&gate.addr, repo, tag, &m);
        assert_eq!(a.status, 201, "{tag}: {}", String::from_utf8_lossy(&a.body));
    }
    // 3. The SBOM as a referrer, and the referrers index under its tag.
    let sbom = std::fs::read(support::image("sbom/go-static-good.cdx.json")).unwrap();
    let (sbom_digest, sbom_size) = add_blob(&layout, &sbom);
    let (empty_digest, _) = add_blob(&layout, b"{}");
    let referrer = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.cyclonedx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest, "size": 2},
        "layers": [{"mediaType": "application/vnd.cyclonedx+json", "digest": sbom_digest, "size": sbom_size}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": image.len()},
    }))
    .unwrap();
    upload(&gate.addr, repo, &sbom, None);
    upload(&gate.addr, repo, b"{}", None);
    let referrer_digest = sha256(&referrer);
    let a = put_manifest(&gate.addr, repo, &referrer_digest, &referrer);
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let referrers = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": referrer_digest,
                       "size": referrer.len(), "artifactType": "application/vnd.cyclonedx+json"}],
    }))
    .unwrap();
    let a = put_manifest(&gate.addr, repo, &digest.replace(':', "-"), &referrers);
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));

    // 4. The tag: judged with all of it, admitted.
    let a = put_manifest(&gate.addr, repo, "v1", &image);
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(upstream_digest(&upstream, repo, "v1", None), Some(digest.clone()));

    // The same image by tag alone, unsigned: denied, with the way out.
    let out = skopeo_push(&shared("go-static-good"), &format!("{}/acme/unsigned:v1", gate.addr), None);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("SC-SIG-001") && said.contains("push by digest"), "{said}");
    assert_eq!(upstream_digest(&upstream, "acme/unsigned", "v1", None), None);
}

/// `--admitted-only`: an image pushed by digest and never tagged cannot be
/// pulled by digest through the gate (HEAD still answers, attachments stay
/// readable); once its tag is admitted it can, also after a restart.
#[test]
fn admitted_only_serves_runnable_manifests_by_digest_once_admitted() {
    let upstream = TestRegistry::start();
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap().to_string();
    let gate = Gate::start(&upstream, &policy(), &["--admitted-only", "--registry-cache", &cache_arg]);
    let layout = shared("go-static-good");
    let digest = top_digest(&layout);
    let manifest = blob(&layout, &digest);
    let repo = "go/pinned";
    upload_blobs_of(&gate.addr, repo, &layout, &manifest);
    assert_eq!(put_manifest(&gate.addr, repo, &digest, &manifest).status, 201);

    let url = format!("http://{}/v2/{repo}/manifests/{digest}", gate.addr);
    let accept = "Accept: application/vnd.oci.image.manifest.v1+json";
    let a = curl("GET", &url, &[accept], None, None);
    assert_eq!(a.status, 403, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["errors"][0]["code"], "DENIED");
    assert!(a.json()["errors"][0]["message"].as_str().unwrap().contains("not admitted"), "{}", a.json());
    assert_eq!(curl("HEAD", &url, &[accept], None, None).status, 200, "HEAD stays open");

    // An attachment by digest stays readable.
    upload(&gate.addr, repo, b"{}", None);
    upload(&gate.addr, repo, b"sig", None);
    let sig = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(b"{}"), "size": 2},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": sha256(b"sig"), "size": 3}],
    }))
    .unwrap();
    assert_eq!(put_manifest(&gate.addr, repo, &sha256(&sig), &sig).status, 201);
    let sig_url = format!("http://{}/v2/{repo}/manifests/{}", gate.addr, sha256(&sig));
    let a = curl("GET", &sig_url, &[accept], None, None);
    assert_eq!((a.status, a.body), (200, sig));

    // Tagged through the gate: admitted, then pullable by digest.
    assert_eq!(put_manifest(&gate.addr, repo, "v1", &manifest).status, 201);
    let a = curl("GET", &url, &[accept], None, None);
    assert_eq!((a.status, &a.body), (200, &manifest));
    drop(gate);
    let gate = Gate::start(&upstream, &policy(), &["--admitted-only", "--registry-cache", &cache_arg]);
    let url = format!("http://{}/v2/{repo}/manifests/{digest}", gate.addr);
    assert_eq!(curl("GET", &url, &[accept], None, None).status, 200, "the record outlives the process");

    // A denied image pushed by digest stays unpullable by digest.
    let bad_layout = shared("go-dynamic-root");
    let bad_digest = top_digest(&bad_layout);
    let bad = blob(&bad_layout, &bad_digest);
    upload_blobs_of(&gate.addr, repo, &bad_layout, &bad);
    assert_eq!(put_manifest(&gate.addr, repo, &bad_digest, &bad).status, 201);
    assert_eq!(put_manifest(&gate.addr, repo, "bad", &bad).status, 403);
    let url = format!("http://{}/v2/{repo}/manifests/{bad_digest}", gate.addr);
    assert_eq!(curl("GET", &url, &[accept], None, None).status, 403);
}

/// `portcullis serve` as a process, for the summary tests.
struct Serve {
    child: Child,
    addr: String,
    _cache: tempfile::TempDir,
}

impl Serve {
    fn start(policy: &Path, extra: &[&str]) -> Serve {
        let cache = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["serve", "--policy", policy.to_str().unwrap(), "--listen", &addr])
            .args(["--registry-cache", cache.path().to_str().unwrap(), "--allow-private-registries"])
            .args(extra)
            .env("PORTCULLIS_CACHE_DIR", support::cache_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting portcullis serve");
        let serve = Serve { child, addr, _cache: cache };
        let start = Instant::now();
        while http_get(&serve.addr, "/readyz").map(|r| r.0) != Some(200) {
            assert!(start.elapsed() < Duration::from_secs(120), "portcullis serve never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        serve
    }

    fn evaluate(&self, image: &str) -> Value {
        let body = serde_json::to_vec(&json!({ "image": image })).unwrap();
        let a = curl(
            "POST",
            &format!("http://{}/v1/evaluate", self.addr),
            &["Content-Type: application/json"],
            Some(&body),
            None,
        );
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        a.json()
    }

    fn metric(&self, name: &str) -> f64 {
        let (_, text) = http_get(&self.addr, "/metrics").unwrap();
        text.lines().filter(|l| l.starts_with(name)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A P-256 key pair made by `openssl` (private PKCS#8, public SPKI).
fn p256_keys(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (private, public) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.pub.pem")));
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().expect("running openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", private.to_str().unwrap()]);
    run(&["pkey", "-in", private.to_str().unwrap(), "-pubout", "-out", public.to_str().unwrap()]);
    (private, public)
}

/// Verdicts travel with the image: the gate attaches a signed summary on
/// admit; a webhook trusting the gate's key admits the image without
/// pulling or judging it; another key, another policy, or the same image
/// in a repository the summary was not issued for, is judged as usual.
#[test]
fn the_webhook_trusts_the_gates_signed_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = p256_keys(dir.path(), "gate");
    let (_, other_public) = p256_keys(dir.path(), "other");
    let policy = dir.path().join("policy.toml");
    std::fs::copy(policy_path(), &policy).unwrap();
    let upstream = TestRegistry::start();
    let gate = Gate::start(&upstream, &policy, &["--vsa-key", key.to_str().unwrap()]);
    let out = skopeo_push(&shared("go-static-good"), &format!("{}/go/good:v1", gate.addr), None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(gate.metric("portcullis_gate_verification_summaries_total", r#"result="attached""#), 1.0);
    // The upstream has no referrers API: the summary is listed under the
    // referrers tag schema.
    let digest = top_digest(&shared("go-static-good"));
    let listed = curl(
        "GET",
        &format!("http://{}/v2/go/good/manifests/{}", upstream.addr, digest.replace(':', "-")),
        &["Accept: application/vnd.oci.image.index.v1+json"],
        None,
        None,
    );
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["manifests"][0]["artifactType"], "application/vnd.in-toto+json");

    let image = format!("{}/go/good:v1", upstream.addr);
    let trusting = Serve::start(&policy, &["--trust-vsa-key", public.to_str().unwrap()]);
    let report = trusting.evaluate(&image);
    assert_eq!(report["verdict"], "admit");
    assert!(report["notes"].to_string().contains("verification summary"), "{report}");
    assert_eq!(trusting.metric("portcullis_evaluations_total"), 0.0, "admitted without an evaluation");
    assert_eq!(trusting.metric("portcullis_verification_summaries_total{result=\"trusted\"}"), 1.0);

    // Another key: the summary is ignored, the image judged as usual.
    let other = Serve::start(&policy, &["--trust-vsa-key", other_public.to_str().unwrap()]);
    let report = other.evaluate(&image);
    assert_eq!(report["verdict"], "admit");
    assert!(report["subjects"][0]["findings"].as_array().is_some_and(|f| !f.is_empty()), "judged: {report}");
    assert_eq!(other.metric("portcullis_evaluations_total"), 1.0);

    // Another policy (one comment more: another digest): ignored too.
    let edited = dir.path().join("edited.toml");
    std::fs::write(&edited, format!("{}\n# edited\n", std::fs::read_to_string(&policy).unwrap())).unwrap();
    let other_policy = Serve::start(&edited, &["--trust-vsa-key", public.to_str().unwrap()]);
    other_policy.evaluate(&image);
    assert_eq!(other_policy.metric("portcullis_evaluations_total"), 1.0);
    assert_eq!(other_policy.metric("portcullis_verification_summaries_total{result=\"ignored\"}"), 1.0);

    // The same digest in another repository (copied past the gate, with its
    // summary listed there too): the summary names go/good, so it is ignored.
    let copy = Command::new("skopeo")
        .args(["copy", "--insecure-policy", "--src-tls-verify=false", "--dest-tls-verify=false", "-q"])
        .arg(format!("docker://{}/go/good:v1", upstream.addr))
        .arg(format!("docker://{}/other/app:v1", upstream.addr))
        .output()
        .unwrap();
    assert!(copy.status.success(), "{}", String::from_utf8_lossy(&copy.stderr));
    let index = listed.json();
    for entry in index["manifests"].as_array().unwrap() {
        copy_manifest(&upstream.addr, "go/good", "other/app", entry["digest"].as_str().unwrap());
    }
    copy_manifest(&upstream.addr, "go/good", "other/app", &digest.replace(':', "-"));
    let before = trusting.metric("portcullis_evaluations_total");
    trusting.evaluate(&format!("{}/other/app:v1", upstream.addr));
    assert_eq!(trusting.metric("portcullis_evaluations_total"), before + 1.0);
}

/// Copies a manifest between repositories of one registry, its blobs by
/// cross-repository mount (what a client copying an image does).
fn copy_manifest(addr: &str, from: &str, to: &str, reference: &str) {
    let accept = "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";
    let got = curl("GET", &format!("http://{addr}/v2/{from}/manifests/{reference}"), &[accept], None, None);
    assert_eq!(got.status, 200);
    let m = got.json();
    let blobs = m["layers"].as_array().into_iter().flatten().chain(std::iter::once(&m["config"]));
    for b in blobs.filter_map(|b| b["digest"].as_str()) {
        let mounted =
            curl("POST", &format!("http://{addr}/v2/{to}/blobs/uploads/?mount={b}&from={from}"), &[], None, None);
        assert_eq!(mounted.status, 201, "mount {b}");
    }
    let put = put_manifest(addr, to, reference, &got.body);
    assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
}

/// Several policies, each bound to repositories by its `[gate]` table: a
/// push is judged by every policy bound to its repository, the refusal
/// names the policy that denied, and a repository no policy is bound to is
/// refused unjudged.
#[test]
fn policies_apply_to_the_repositories_they_are_bound_to() {
    let upstream = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let strict = dir.path().join("strict.toml");
    std::fs::write(
        &strict,
        r#"[policy]
name = "strict"
version = "1"

[gate]
repositories = ["registry.test/team-a/**"]

[[rules.custom]]
id = "TEAM-001"
title = "Images name their team"
expression = "'team' in labels"
message = "'no team label'"
"#,
    )
    .unwrap();
    let name = ["--name", "registry.test"];
    let both = Gate::start(&upstream, &strict, &[&["--policy", policy().to_str().unwrap()][..], &name[..]].concat());

    // team-a: both policies judge; the baseline admits, the strict one denies.
    let out = skopeo_push(&shared("go-static-good"), &format!("{}/team-a/app:v1", both.addr), None);
    assert!(!out.status.success(), "denied by the policy bound to team-a");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("by policy strict") && said.contains("TEAM-001"), "{said}");
    assert_eq!(upstream_digest(&upstream, "team-a/app", "v1", None), None);
    // team-b: only the baseline is bound, and admits.
    let out = skopeo_push(&shared("go-static-good"), &format!("{}/team-b/app:v1", both.addr), None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(upstream_digest(&upstream, "team-b/app", "v1", None), Some(top_digest(&shared("go-static-good"))));
    drop(both);

    // Only the strict policy: team-b is bound to nothing and refused.
    let only = Gate::start(&upstream, &strict, &name);
    let manifest = blob(&shared("go-static-good"), &top_digest(&shared("go-static-good")));
    let a = put_manifest(&only.addr, "team-b/app", "v2", &manifest);
    assert_eq!(a.status, 403);
    let e = &a.json()["errors"][0];
    assert_eq!(e["code"], "DENIED");
    assert!(
        e["message"].as_str().unwrap().contains("no loaded policy is bound to repository registry.test/team-b/app"),
        "{e}"
    );
    assert_eq!(upstream_digest(&upstream, "team-b/app", "v2", None), None);
}

/// deploy/kubernetes/gate.yaml: the registry is reachable only through the
/// gate (loopback bind in the gate's pod, the NetworkPolicy opening the
/// gate's port alone), the gate's policy loads, the Service and probes
/// reach the gate where it listens, and the pod passes the workload rules.
#[test]
fn the_gate_deployment_keeps_the_registry_behind_the_gate() {
    use serde::Deserialize as _;
    let text = std::fs::read_to_string(support::workspace().join("deploy/kubernetes/gate.yaml")).unwrap();
    let docs: Vec<Value> =
        serde_yaml_ng::Deserializer::from_str(&text).map(|d| Value::deserialize(d).unwrap()).collect();
    let of_kind = |k: &str| docs.iter().find(|d| d["kind"] == k).unwrap_or_else(|| panic!("no {k}")).clone();

    let deployment = of_kind("Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = |name: &str| {
        pod["containers"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("{name}"))
    };
    let (gate, registry) = (container("gate"), container("registry"));
    let args: Vec<&str> = gate["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    let arg = |flag: &str| {
        args.iter().find_map(|a| a.strip_prefix(&format!("--{flag}="))).unwrap_or_else(|| panic!("--{flag}"))
    };
    assert_eq!(args[0], "gate");
    // The upstream is the registry container, on loopback only.
    let upstream = arg("upstream");
    let env = |c: &Value, k: &str| {
        c["env"].as_array().unwrap().iter().find(|e| e["name"] == k).map(|e| e["value"].as_str().unwrap().to_string())
    };
    let bind = env(registry, "REGISTRY_HTTP_ADDR").expect("the registry's bind address");
    assert!(bind.starts_with("127.0.0.1:"), "{bind}");
    assert_eq!(upstream, format!("http://{bind}"));
    assert!(registry.get("ports").is_none(), "the registry exposes no port");
    // The gate listens where its port, probes, Service and NetworkPolicy say.
    let port = gate["ports"][0]["containerPort"].as_u64().unwrap();
    assert_eq!(arg("listen"), format!("0.0.0.0:{port}"));
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(gate[probe]["httpGet"]["port"], gate["ports"][0]["name"], "{probe}");
    }
    assert_eq!(gate["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(of_kind("Service")["spec"]["ports"][0]["targetPort"], gate["ports"][0]["name"]);
    let netpol = of_kind("NetworkPolicy");
    let ingress = netpol["spec"]["ingress"].as_array().unwrap();
    let open: Vec<u64> = ingress
        .iter()
        .flat_map(|i| i["ports"].as_array().unwrap().iter().map(|p| p["port"].as_u64().unwrap()))
        .collect();
    assert_eq!(open, vec![port], "only the gate's port is open");
    assert_eq!(netpol["spec"]["podSelector"]["matchLabels"], deployment["spec"]["selector"]["matchLabels"]);
    // Draining finishes before the kubelet kills the pod.
    let grace: u64 = arg("shutdown-grace").parse().unwrap();
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() > grace + 2);

    // The policy it mounts loads, with its plugins.
    let policy_text = of_kind("ConfigMap")["data"]["policy.toml"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let policy_file = dir.path().join("policy.toml");
    std::fs::write(&policy_file, &policy_text).unwrap();
    let policy = portcullis::Policy::from_file(&policy_file).unwrap_or_else(|e| panic!("{}", e.render(false)));
    assert!(policy.gate.binds("registry.portcullis-registry.svc/any/repo"));

    // The pod passes the workload rules the webhook enforces.
    support::assert_passes_workload_rules(&support::default_engine(), &deployment);
}

/// The Python interpreter of the venv `.ci/run` fills with PyPI's `oras`
/// client (override with `PORTCULLIS_ORAS_PYTHON`).
fn oras_python() -> PathBuf {
    let python = std::env::var_os("PORTCULLIS_ORAS_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/portcullis/venv/bin/python")
    });
    let ok = Command::new(&python).args(["-c", "import oras.client"]).output().is_ok_and(|o| o.status.success());
    assert!(ok, "{} cannot import PyPI's `oras` client (.ci/run installs it)", python.display());
    python
}

/// PyPI's `oras` client through the gate: an SBOM attached to an admitted
/// image as a referrer under a tag, and a plain artifact, are forwarded (no
/// runtime can run them); an "artifact" whose layer is a filesystem layer is
/// an image, judged and refused.
#[test]
fn oras_artifacts_pass_and_images_disguised_as_artifacts_do_not() {
    let python = oras_python();
    let upstream = TestRegistry::start();
    let gate = Gate::start(&upstream, &policy(), &[]);
    let good = shared("go-static-good");
    let out = skopeo_push(&good, &format!("{}/go/good:v1", gate.addr), None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let digest = top_digest(&good);
    let size = blob(&good, &digest).len();

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sbom.cdx.json"), r#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1}"#)
        .unwrap();
    std::fs::write(dir.path().join("rootfs.tar"), b"not really a tar, but typed as a filesystem layer").unwrap();
    // Each push: (target, file:media-type, subject digest or ""); the
    // status of its manifest PUT is printed (oras-py turns a 403 into an
    // authentication error).
    let script = r#"
import json, sys, types, requests, oras.client, oras.oci, oras.decorator
# oras-py retries a refused request five times with growing sleeps (about
# two minutes); the refusal is final, so do not wait for it.
oras.decorator.time = types.SimpleNamespace(sleep=lambda s: None)
statuses = {}
real = requests.Session.request
def request(self, method, url, **kw):
    r = real(self, method, url, **kw)
    if method == "PUT" and "/manifests/" in url:
        statuses[url.rsplit("/v2/", 1)[1]] = r.status_code
    return r
requests.Session.request = request
host, digest, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = oras.client.OrasClient(hostname=host, insecure=True)
for target, file, subject in [
    ("go/good:sbom", "sbom.cdx.json:application/vnd.cyclonedx+json", digest),
    ("acme/artifacts:v1", "sbom.cdx.json:application/vnd.cyclonedx+json", ""),
    ("acme/disguised:v1", "rootfs.tar:application/vnd.oci.image.layer.v1.tar", ""),
]:
    s = oras.oci.Subject(mediaType="application/vnd.oci.image.manifest.v1+json", digest=subject, size=size) if subject else None
    try:
        client.push(target=f"{host}/{target}", files=[file], subject=s)
    except Exception as e:
        pass
print(json.dumps(statuses))
"#;
    let out = Command::new(&python)
        .args(["-c", script, &gate.addr, &digest, &size.to_string()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let statuses: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{out:?}"));
    assert_eq!(statuses["go/good/manifests/sbom"], 201, "{statuses}");
    assert_eq!(statuses["acme/artifacts/manifests/v1"], 201, "{statuses}");
    assert_eq!(statuses["acme/disguised/manifests/v1"], 403, "{statuses}");

    // Upstream, directly: the referrer names the image; the disguised image has no tag.
    let answer = curl(
        "GET",
        &format!("http://{}/v2/go/good/manifests/sbom", upstream.addr),
        &["Accept: application/vnd.oci.image.manifest.v1+json"],
        None,
        None,
    );
    assert_eq!(answer.status, 200);
    let referrer = answer.json();
    assert_eq!(referrer["subject"]["digest"], digest.as_str(), "{referrer}");
    assert!(upstream_digest(&upstream, "acme/artifacts", "v1", None).is_some());
    assert_eq!(upstream_digest(&upstream, "acme/disguised", "v1", None), None);
    assert_eq!(gate.metric("portcullis_gate_manifest_pushes_total", r#"class="artifact",outcome="forwarded""#), 2.0);
}

/// `podman push` through the gate (from its own storage, so the layers are
/// recompressed and the digests are podman's): the good image lands under
/// its tag, the bad one is refused and podman prints the denying rules.
#[test]
fn podman_pushes_are_judged_before_the_tag_exists() {
    support::registry::need("podman");
    let upstream = TestRegistry::start();
    let gate = Gate::start(&upstream, &policy(), &[]);
    let store = tempfile::tempdir().unwrap();
    let podman = |args: &[&str]| {
        Command::new("podman")
            .args(["--root", store.path().join("root").to_str().unwrap()])
            .args(["--runroot", store.path().join("run").to_str().unwrap()])
            .args(["--storage-driver", "vfs"])
            .args(args)
            .output()
            .expect("running podman")
    };
    for (fixture, repo) in [("go-static-good", "podman/good"), ("go-dynamic-root", "podman/bad")] {
        let out = podman(&["pull", "-q", &format!("oci:{}:v1", shared(fixture).display())]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let out = podman(&["push", "--tls-verify=false", &id, &format!("docker://{}/{repo}:v1", gate.addr)]);
        let said = String::from_utf8_lossy(&out.stderr);
        match fixture {
            "go-static-good" => {
                assert!(out.status.success(), "{said}");
                assert!(upstream_digest(&upstream, repo, "v1", None).is_some());
            }
            _ => {
                assert!(!out.status.success(), "a denied push must fail");
                assert!(said.contains("GO-BIN-001") && said.contains("denied"), "podman prints the rules: {said}");
                assert_eq!(upstream_digest(&upstream, repo, "v1", None), None);
            }
        }
    }
}
