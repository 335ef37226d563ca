//! `portcullis serve` as a real process against a real registry (Debian's
//! `docker-registry`, filled with `skopeo`): AdmissionReview v1 for Pods
//! and every pod-template kind (Kubewarden's requests, images swapped for
//! the local registry's), the workload rules, the image policy, mutation to
//! digests, failure when the registry is gone (deny within the budget), the
//! verdict cache (hits, single-flight, invalidation by a policy edit),
//! `/metrics` checked by `promtool`, `/v1/evaluate` equal to the CLI, TLS.

use crate::support;

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::registry::{TestRegistry, free_port, http_get};

/// A `portcullis serve` process (killed on drop); `suite.rs` starts one too.
pub(crate) struct Server {
    child: Child,
    addr: String,
    _cache: tempfile::TempDir,
}

impl Server {
    /// A server that may reach the tests' loopback registries.
    pub(crate) fn start(policy: &Path, extra: &[&str]) -> Server {
        Server::start_with(policy, &[&["--allow-private-registries"], extra].concat())
    }

    /// A server as deployed by default: no private addresses.
    pub(crate) fn start_strict(policy: &Path, extra: &[&str]) -> Server {
        Server::start_with(policy, extra)
    }

    fn start_with(policy: &Path, extra: &[&str]) -> Server {
        let cache = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["serve", "--policy", policy.to_str().unwrap(), "--listen", &addr])
            .args(["--registry-cache", cache.path().to_str().unwrap()])
            .args(extra)
            .env("PORTCULLIS_CACHE_DIR", support::cache_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting portcullis serve");
        let server = Server { child, addr, _cache: cache };
        if !extra.contains(&"--tls-cert") {
            server.wait_ready();
        }
        server
    }

    fn wait_ready(&self) {
        let start = Instant::now();
        while http_get(&self.addr, "/readyz").map(|r| r.0) != Some(200) {
            assert!(start.elapsed() < Duration::from_secs(120), "portcullis serve never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Vec<(String, String)>, Value) {
        post(&self.addr, path, body)
    }

    fn metric(&self, name: &str) -> f64 {
        let (_, text) = http_get(&self.addr, "/metrics").unwrap();
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter(|l| l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub(crate) fn review(&self, path: &str, request: Value) -> Value {
        let (status, _, body) = self.post(path, &review(request));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(body["kind"], "AdmissionReview");
        body["response"].clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn post(addr: &str, path: &str, body: &Value) -> (u16, Vec<(String, String)>, Value) {
    request(addr, "POST", path, "", body)
}

/// One HTTP/1.1 request with `headers` (`Name: value\r\n` lines) added.
fn request(addr: &str, method: &str, path: &str, headers: &str, body: &Value) -> (u16, Vec<(String, String)>, Value) {
    let body = if body.is_null() { String::new() } else { body.to_string() };
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    // /metrics answers text: kept as a JSON string.
    let json = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()));
    (status, headers, json)
}

fn review(request: Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
}

fn kubewarden(file: &str) -> Value {
    let p = support::corpus("kubewarden/verify-image-signatures/test_data").join(file);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn pod_spec_pointer(kind: &str) -> &'static str {
    match kind {
        "Pod" => "/object/spec",
        "CronJob" => "/object/spec/jobTemplate/spec/template/spec",
        _ => "/object/spec/template/spec",
    }
}

/// A Kubewarden request with every image replaced by `image`; `harden`
/// adds what K8S-002..004 ask for.
fn request_with(file: &str, image: &str, harden: bool) -> Value {
    let mut r = kubewarden(file);
    let kind = r["kind"]["kind"].as_str().unwrap().to_string();
    let spec = r.pointer_mut(pod_spec_pointer(&kind)).unwrap();
    if harden {
        spec["securityContext"] = json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}});
    }
    for list in ["initContainers", "containers"] {
        for c in spec[list].as_array_mut().into_iter().flatten() {
            c["image"] = json!(image);
            if harden {
                c["securityContext"] = json!({"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false});
                if list == "containers" {
                    c["livenessProbe"] = json!({"httpGet": {"path": "/healthz", "port": 8080}});
                    c["readinessProbe"] = json!({"httpGet": {"path": "/readyz", "port": 8080}});
                }
            }
        }
    }
    r
}

fn patch_of(response: &Value) -> Option<Value> {
    let b64 = response["patch"].as_str()?;
    assert_eq!(response["patchType"], "JSONPatch");
    use base64::Engine as _;
    Some(serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap())
}

/// The default pack, copied so a test may edit it.
fn policy_copy(dir: &Path, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(support::workspace().join("policies/go-container-baseline.toml")).unwrap();
    let p = dir.join("policy.toml");
    std::fs::write(&p, format!("{text}\n{extra}")).unwrap();
    p
}

/// The default pack with `failure-policy = "ignore"`: for refusals that
/// must hold whatever the failure policy says.
fn lenient_policy_copy(dir: &Path) -> PathBuf {
    let policy = policy_copy(dir, "");
    let text = std::fs::read_to_string(&policy).unwrap();
    assert!(text.contains("failure-policy = \"deny\""), "the pack sets its failure policy");
    std::fs::write(&policy, text.replace("failure-policy = \"deny\"", "failure-policy = \"ignore\"")).unwrap();
    policy
}

fn digest_of(layout: &str) -> String {
    let index: Value =
        serde_json::from_slice(&std::fs::read(support::image(layout).join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_string()
}

const KINDS: [&str; 8] =
    ["pod", "deployment", "statefulset", "replicaset", "replicationcontroller", "daemonset", "job", "cronjob"];

#[test]
fn admission_of_every_workload_kind() {
    let registry = TestRegistry::start();
    for name in ["go-static-good", "go-dynamic-root"] {
        registry.push(&support::image(&format!("oci/{name}")), "v1", &format!("go/{name}:v1"));
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&policy_copy(dir.path(), ""), &[]);
    let good = format!("{}/go/go-static-good:v1", registry.addr);
    let bad = format!("{}/go/go-dynamic-root:v1", registry.addr);
    let good_digest = digest_of("oci/go-static-good");

    for kind in KINDS {
        let file = format!("{kind}_creation_signed.json");
        let uid = kubewarden(&file)["uid"].clone();
        // A hardened workload of a good image: allowed, pinned by /mutate.
        let r = server.review("/validate", request_with(&file, &good, true));
        assert_eq!(r["uid"], uid);
        assert_eq!(r["allowed"], true, "{kind}: {r}");
        assert!(r.get("patch").is_none(), "/validate does not patch");
        let warnings = r["warnings"].as_array().cloned().unwrap_or_default();
        assert!(
            warnings.iter().any(|w| w.as_str().unwrap().contains("GO-IDX-001")),
            "{kind}: warn-mode findings are warnings: {warnings:?}"
        );
        let m = server.review("/mutate", request_with(&file, &good, true));
        assert_eq!(m["allowed"], true);
        let patch = patch_of(&m).unwrap_or_else(|| panic!("{kind}: no patch: {m}"));
        let expected_pointer = match kind {
            "pod" => "/spec/containers/0/image".to_string(),
            "cronjob" => "/spec/jobTemplate/spec/template/spec/containers/0/image".to_string(),
            _ => "/spec/template/spec/containers/0/image".to_string(),
        };
        assert_eq!(
            patch,
            json!([{"op": "replace", "path": expected_pointer, "value": format!("{good}@{good_digest}")}]),
            "{kind}"
        );

        // A denied image: named, with the rules that deny it.
        let r = server.review("/validate", request_with(&file, &bad, true));
        assert_eq!(r["allowed"], false, "{kind}");
        assert_eq!(r["status"]["code"], 403);
        let msg = r["status"]["message"].as_str().unwrap();
        assert!(msg.contains(&format!("K8S-005: image {bad}")) && msg.contains("GO-BIN-001"), "{kind}: {msg}");

        // The request as Kubewarden sends it (no security context): K8S-002/003.
        let r = server.review("/validate", request_with(&file, &good, false));
        assert_eq!(r["allowed"], false);
        let msg = r["status"]["message"].as_str().unwrap();
        assert!(msg.contains("K8S-002: containers[test-verify-image-signatures] lacks runAsNonRoot: true"), "{msg}");
        assert!(msg.contains("K8S-003"), "{msg}");
        assert!(!msg.contains("K8S-005"), "the image itself is admitted: {msg}");
    }

    // Init containers are judged too; a digest-pinned image is not patched.
    let mut r = request_with("pod_creation_with_init_container.json", &good, true);
    r["object"]["spec"]["initContainers"][0]["image"] = json!(bad);
    let resp = server.review("/validate", r);
    assert_eq!(resp["allowed"], false);
    assert!(resp["status"]["message"].as_str().unwrap().contains(&bad));
    let pinned = format!("{good}@{good_digest}");
    let resp = server.review("/mutate", request_with("pod_creation_with_digest.json", &pinned, true));
    assert_eq!(resp["allowed"], true, "{resp}");
    assert!(patch_of(&resp).is_none(), "an image already pinned is not patched: {resp}");

    // dryRun requests are answered the same way.
    let mut r = request_with("pod_creation_signed.json", &bad, true);
    r["dryRun"] = json!(true);
    assert_eq!(server.review("/validate", r)["allowed"], false);

    // Not a workload: allowed, untouched. Garbage: 400 with the reason.
    let cm = json!({"uid": "x", "kind": {"group": "", "version": "v1", "kind": "ConfigMap"}, "object": {"data": {}}});
    assert_eq!(server.review("/validate", cm)["allowed"], true);
    let (status, _, body) = server.post(
        "/validate",
        &json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "x"}}),
    );
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("admission.k8s.io/v1"), "{body}");
}

#[test]
fn registry_gone_means_deny_within_the_budget() {
    let mut registry = TestRegistry::start();
    registry.push(&support::image("oci/go-static-good"), "v1", "app:v1");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&policy_copy(dir.path(), ""), &[]);
    let image = format!("{}/app:v1", registry.addr);
    registry.stop();
    let start = Instant::now();
    let r = server.review("/validate", request_with("pod_creation_signed.json", &image, true));
    let took = start.elapsed();
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(msg.contains("could not be judged") && msg.contains("failure-policy deny"), "{msg}");
    assert!(took < Duration::from_secs(3), "answered in {took:?}, over the webhook's 3 s");

    // Kubewarden's policy-server reviews: Pods of docker.io images this
    // machine cannot reach — the AdmissionReview shape, and a deny in time.
    for (file, k8s_002) in
        [("pod_with_privileged_containers.json", true), ("pod_without_privileged_containers.json", true)]
    {
        let p = support::corpus("kubewarden/policy-server/tests/data").join(file);
        let review: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        let start = Instant::now();
        let (status, _, body) = server.post("/validate", &review);
        assert_eq!(status, 200);
        assert!(start.elapsed() < Duration::from_secs(3), "{file}: {:?}", start.elapsed());
        assert_eq!(body["kind"], "AdmissionReview");
        assert_eq!(body["response"]["uid"], review["request"]["uid"]);
        assert_eq!(body["response"]["allowed"], false, "{file}");
        let msg = body["response"]["status"]["message"].as_str().unwrap();
        assert_eq!(msg.contains("K8S-002"), k8s_002, "{msg}");
    }
    if std::env::var_os("PORTCULLIS_DEBUG").is_some() {
        eprintln!("{}", http_get(&server.addr, "/metrics").unwrap().1);
    }

    // failure-policy = "ignore": admitted, with a warning saying why.
    let lenient = policy_copy(dir.path(), "").with_file_name("lenient.toml");
    let text = std::fs::read_to_string(dir.path().join("policy.toml")).unwrap();
    std::fs::write(&lenient, text.replace("failure-policy = \"deny\"", "failure-policy = \"ignore\"")).unwrap();
    let server = Server::start(&lenient, &[]);
    let r = server.review("/validate", request_with("pod_creation_signed.json", &image, true));
    assert_eq!(r["allowed"], true, "{r}");
    assert!(r["warnings"].to_string().contains("failure-policy ignore"), "{r}");
}

#[test]
fn verdict_cache_single_flight_and_invalidation() {
    let registry = TestRegistry::start();
    for name in ["go-static-good", "go-legacy-debug"] {
        registry.push(&support::image(&format!("oci/{name}")), "v1", &format!("go/{name}:v1"));
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_copy(dir.path(), "");
    let server = Server::start(&policy, &[]);
    let good = format!("{}/go/go-static-good:v1", registry.addr);

    // /v1/evaluate gives the report the CLI gives.
    let (status, headers, report) = server.post("/v1/evaluate", &json!({"image": good}));
    assert_eq!(status, 200, "{report}");
    assert!(headers.contains(&("x-portcullis-cache".into(), "miss".into())), "{headers:?}");
    let cli = support::portcullis(["audit", "--format", "json", &format!("docker://{good}")]).json();
    let strip = |r: &Value| -> Value {
        json!(
            r["subjects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| json!([s["digest"], s["verdict"], s["findings"]]))
                .collect::<Vec<_>>()
        )
    };
    assert_eq!(strip(&report), strip(&cli));
    assert_eq!(report["verdict"], cli["verdict"]);

    // The second request for the digest is a cache hit, visible in /metrics.
    let hits = server.metric("portcullis_verdict_cache_hits_total");
    let (_, headers, _) = server.post("/v1/evaluate", &json!({"image": good}));
    assert!(headers.contains(&("x-portcullis-cache".into(), "hit".into())), "{headers:?}");
    assert_eq!(server.metric("portcullis_verdict_cache_hits_total"), hits + 1.0);

    // 50 concurrent requests for a new image: exactly one evaluation.
    let evaluations = server.metric("portcullis_evaluations_total");
    let legacy = format!("{}/go/go-legacy-debug:v1", registry.addr);
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let (addr, legacy) = (server.addr.clone(), legacy.clone());
            std::thread::spawn(move || post(&addr, "/v1/evaluate", &json!({"image": legacy})))
        })
        .collect();
    for t in threads {
        let (status, _, body) = t.join().unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["verdict"], "deny");
    }
    assert_eq!(server.metric("portcullis_evaluations_total"), evaluations + 1.0, "50 requests, one evaluation");

    // Editing the policy invalidates: the next request evaluates again.
    let reloads = server.metric("portcullis_policy_reloads_total");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, format!("{text}\n# edited\n")).unwrap();
    let start = Instant::now();
    while server.metric("portcullis_policy_reloads_total") < reloads + 1.0 {
        assert!(start.elapsed() < Duration::from_secs(60), "the edited policy was not reloaded");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, headers, report) = server.post("/v1/evaluate", &json!({"image": good}));
    assert!(headers.contains(&("x-portcullis-cache".into(), "miss".into())), "{headers:?}");
    assert_eq!(report["policy"]["digest"].as_str().unwrap().len(), "sha256:".len() + 64);
    assert_ne!(report["policy"]["digest"], cli["policy"]["digest"], "the report names the edited policy");

    // Unknown policy names and bad bodies are client errors.
    let (status, _, body) = server.post("/v1/evaluate", &json!({"image": good, "policy": "nope"}));
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("go-container-baseline"), "{body}");
    let (status, _, _) = server.post("/v1/evaluate", &json!({"img": good}));
    assert_eq!(status, 400);

    // /metrics is valid Prometheus text.
    let (_, text) = http_get(&server.addr, "/metrics").unwrap();
    for name in [
        "portcullis_requests_total",
        "portcullis_request_duration_seconds_bucket",
        "portcullis_registry_fetch_seconds_bucket",
        "portcullis_evaluation_seconds_bucket",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; .ci/run installs it)");
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tls_and_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=portcullis",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let server = Server::start(
        &policy_copy(dir.path(), ""),
        &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
    );
    let curl = |path: &str| {
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&cert)
            .arg(format!("https://{}{path}", server.addr))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let start = Instant::now();
    while curl("/readyz") != "200" {
        assert!(start.elapsed() < Duration::from_secs(120), "not ready over TLS");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(curl("/healthz"), "200");
    // Plain HTTP to the TLS port is refused.
    assert_ne!(http_get(&server.addr, "/healthz").map(|r| r.0), Some(200));
}

#[test]
fn a_policy_that_does_not_parse_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, "[policy]\nname = \"x\"\nversion = \"1\"\n[admission]\nmutate = \"yes\"\n").unwrap();
    let run = support::portcullis(["serve", "--policy", p.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("mutate"), "{}", run.stderr);
}

/// deploy/kubernetes: the Deployment passes the workload rules it enforces,
/// its policy parses, and the webhooks reach the server the way it listens.
#[test]
fn deployment_manifests_pass_their_own_rules() {
    use serde::Deserialize as _;
    let mut docs: Vec<Value> = Vec::new();
    for file in ["portcullis.yaml", "webhooks.yaml"] {
        let text = std::fs::read_to_string(support::workspace().join("deploy/kubernetes").join(file)).unwrap();
        for d in serde_yaml_ng::Deserializer::from_str(&text) {
            docs.push(Value::deserialize(d).unwrap_or_else(|e| panic!("{file}: {e}")));
        }
    }
    let of_kind = |k: &str| docs.iter().find(|d| d["kind"] == k).unwrap_or_else(|| panic!("no {k}")).clone();

    let policy_text = of_kind("ConfigMap")["data"]["policy.toml"].as_str().unwrap().to_string();
    let policy = portcullis::Policy::parse("deploy/kubernetes/portcullis.yaml#policy.toml", &policy_text, None)
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    assert!(policy.admission.exempt_namespaces.contains(&"portcullis-system".to_string()));
    let engine = support::engine_with(policy);

    let deployment = of_kind("Deployment");
    let admission = support::assert_passes_workload_rules(&engine, &deployment);
    // No image was judged here: K8S-005 cannot decide, and fails closed.
    assert!(!admission.allowed);
    assert!(
        admission.reasons.iter().any(|r| r.starts_with("K8S-005 (failure-policy deny)")),
        "{:?}",
        admission.reasons
    );

    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    assert!(container["args"].as_array().unwrap().iter().any(|a| a == &json!(format!("--listen=0.0.0.0:{port}"))));
    let service = of_kind("Service");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], container["ports"][0]["name"]);
    let deadline_ms = engine.policy().admission.deadline.as_millis() as u64;
    for (kind, path) in [("MutatingWebhookConfiguration", "/mutate"), ("ValidatingWebhookConfiguration", "/validate")] {
        let hook = &of_kind(kind)["webhooks"][0];
        assert_eq!(hook["clientConfig"]["service"]["path"], path);
        assert_eq!(hook["clientConfig"]["service"]["name"], service["metadata"]["name"]);
        assert_eq!(hook["clientConfig"]["service"]["namespace"], service["metadata"]["namespace"]);
        assert_eq!(hook["clientConfig"]["service"]["port"], service["spec"]["ports"][0]["port"]);
        assert_eq!(hook["admissionReviewVersions"], json!(["v1"]));
        assert_eq!(hook["sideEffects"], "None");
        assert_eq!(hook["failurePolicy"], "Fail");
        assert!(
            hook["timeoutSeconds"].as_u64().unwrap() * 1000 > deadline_ms,
            "the deadline must be below the timeout"
        );
        let resources: Vec<&str> = hook["rules"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["resources"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()))
            .collect();
        for r in [
            "pods",
            "deployments",
            "replicasets",
            "statefulsets",
            "daemonsets",
            "jobs",
            "cronjobs",
            "replicationcontrollers",
        ] {
            assert!(resources.contains(&r), "{kind} does not send {r}");
        }
    }
}

/// A waiver for a workload rule, scoped to one namespace: K8S-002 is waived
/// there and nowhere else — through the library and through `/validate`.
#[test]
fn a_workload_waiver_applies_only_in_its_namespace() {
    use portcullis::admission::{Admission, ImageOutcome, Workload};
    let waiver = "[[waivers]]\nrule = \"K8S-002\"\nnamespace = \"legacy\"\nkind = \"Pod\"\nreason = \"runs as root until v2\"\nowner = \"team-legacy@acme.corp\"\n";
    let dir = tempfile::tempdir().unwrap();
    let policy_file = policy_copy(dir.path(), waiver);
    let root_pod = |image: &str, namespace: &str| {
        let mut r = request_with("pod_creation_signed.json", image, true);
        r["object"]["spec"]["securityContext"]["runAsNonRoot"] = json!(false);
        r["namespace"] = json!(namespace);
        r["object"]["metadata"]["namespace"] = json!(namespace);
        r
    };

    // The library: the image judged from its layout, the workload decided.
    let policy = portcullis::Policy::from_file(&policy_file).unwrap();
    let engine = support::engine_with(policy);
    let image = "registry.example/go/go-static-good:v1";
    let report = engine.audit(&support::open(&support::image("oci/go-static-good")));
    let digest = portcullis::digest::Digest::parse(&digest_of("oci/go-static-good")).unwrap();
    let images = [(image, ImageOutcome::Judged { digest: &digest, report: &report })];
    for (namespace, allowed) in [("legacy", true), ("prod", false), ("legacy-2", false)] {
        let w = Workload::from_request(&root_pod(image, namespace)).unwrap().unwrap();
        let a = Admission::decide(&engine, &w, &images);
        assert_eq!(a.allowed, allowed, "{namespace}: {:?}", a.reasons);
        let f = a.report.findings.iter().find(|f| f.rule == "K8S-002").unwrap();
        assert_eq!(f.outcome, portcullis::model::Outcome::Fail);
        assert_eq!(f.waiver.is_some(), allowed, "{namespace}");
        if !allowed {
            assert!(
                a.reasons.iter().any(|r| r.starts_with("K8S-002: ") && r.contains("runAsNonRoot")),
                "{:?}",
                a.reasons
            );
        }
    }

    // The server, on a real registry.
    let registry = TestRegistry::start();
    registry.push(&support::image("oci/go-static-good"), "v1", "go/go-static-good:v1");
    let server = Server::start(&policy_file, &[]);
    let image = format!("{}/go/go-static-good:v1", registry.addr);
    let r = server.review("/validate", root_pod(&image, "legacy"));
    assert_eq!(r["allowed"], true, "{r}");
    let r = server.review("/validate", root_pod(&image, "prod"));
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(msg.contains("K8S-002: containers[") && msg.contains("runAsNonRoot"), "{msg}");
}

/// A policy that loads no workload rules cannot judge an admission request:
/// the answer is a deny naming the fix, never an admit of unjudged images.
#[test]
fn a_policy_without_workload_rules_denies_admission() {
    use portcullis::admission::{Admission, Workload};
    let text =
        "[policy]\nname = \"images-only\"\nversion = \"1\"\nfailure-policy = \"ignore\"\n\n[plugins.image-config]\n";
    let engine = support::engine_with(portcullis::Policy::parse("images-only.toml", text, None).unwrap());
    let w =
        Workload::from_request(&request_with("pod_creation_signed.json", "r.example/app:v1", true)).unwrap().unwrap();
    let a = Admission::decide(&engine, &w, &[]);
    assert!(!a.allowed, "{:?}", a.report.findings);
    assert_eq!(a.report.findings.len(), 1);
    assert_eq!(a.report.findings[0].rule, portcullis::ADMISSION_RULE);
    assert!(
        a.reasons[0].starts_with("portcullis/admission: no enabled rule of this policy judges workloads"),
        "{:?}",
        a.reasons
    );
}

/// A review of an image whose attached SBOM (`cosign attach sbom`'s
/// `sha256-<hex>.sbom` tag, in a real registry) is nested 100,000 levels
/// deep: denied naming the SBOM rule and the depth, and the server stays
/// up and answers the next review.
#[test]
fn an_sbom_nested_100000_deep_is_denied_and_the_server_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("img");
    support::copy_dir(&support::image("oci/go-static-good"), &layout);
    let digest = digest_of("oci/go-static-good");
    let deep = format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{}{{"type":"library","name":"leaf"}}{}]}}"#,
        r#"{"type":"library","name":"c","components":["#.repeat(100_000),
        "]}".repeat(100_000)
    );
    // And as XML, which no JSON recursion limit protects.
    let deep_xml = format!(
        r#"<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"><components>{}<component type="library"><name>leaf</name></component>{}</components></bom>"#,
        r#"<component type="library"><name>c</name><components>"#.repeat(100_000),
        "</components></component>".repeat(100_000)
    );
    let (sbom, sbom_size) = support::cosign::add_blob(&layout, deep.as_bytes());
    let (xml, xml_size) = support::cosign::add_blob(&layout, deep_xml.as_bytes());
    let layers = json!([
        {"mediaType": "application/vnd.cyclonedx+json", "digest": sbom, "size": sbom_size},
        {"mediaType": "application/vnd.cyclonedx+xml", "digest": xml, "size": xml_size}
    ]);
    let tag = support::cosign::cosign_tag(&digest, "sbom");
    let entry = support::cosign::tagged_manifest(&layout, &tag, layers);
    support::cosign::add_to_index(&layout, vec![entry]);
    let registry = TestRegistry::start();
    registry.push(&layout, "v1", "app:v1");
    registry.push(&layout, &tag, &format!("app:{tag}"));
    registry.push(&support::image("oci/go-static-good"), "v1", "plain:v1");

    let policy = policy_copy(dir.path(), "[plugins.sbom]\n[rules.SC-SBOM-001]\n");
    let mut server = Server::start(&policy, &[]);
    let r = server
        .review("/validate", request_with("pod_creation_signed.json", &format!("{}/app:v1", registry.addr), true));
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(msg.contains("is denied by SC-SBOM-001"), "{msg}");
    // Why, in the image's report: the SBOM was refused for its depth.
    let (status, _, report) = server.post("/v1/evaluate", &json!({"image": format!("{}/app:v1", registry.addr)}));
    assert_eq!(status, 200, "{report}");
    let sbom_001 =
        report["subjects"][0]["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "SC-SBOM-001").cloned();
    let why = sbom_001.as_ref().and_then(|f| f["message"].as_str()).unwrap_or_default();
    assert!(why.contains("nested more than 32 levels deep"), "{report}");
    assert!(server.child.try_wait().unwrap().is_none(), "portcullis serve died");
    // The next review is answered, on its own merits (no SBOM at all).
    let r = server
        .review("/validate", request_with("pod_creation_signed.json", &format!("{}/plain:v1", registry.addr), true));
    let msg = r["status"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("SC-SBOM-001") && !msg.contains("levels deep"), "{r}");
    assert_eq!(http_get(&server.addr, "/healthz").map(|r| r.0), Some(200));
}

/// A waiver for one repository does not travel with the digest: the same
/// image pushed to `a/app` (waived) and `b/app` (not) is judged per
/// repository through `/v1/evaluate` and `/validate`, whichever is asked
/// first — the verdict cache keys on the repository and tag as well.
#[test]
fn a_waiver_for_one_repository_does_not_leak_to_another_through_the_cache() {
    let registry = TestRegistry::start();
    let root = support::image("oci/go-dynamic-root");
    registry.push(&root, "v1", "a/app:v1");
    registry.push(&root, "v1", "b/app:v1");
    let dir = tempfile::tempdir().unwrap();
    // Only GO-CFG-001 (runs as root: this image fails it) and K8S-005 (the
    // workload's images are admitted) decide; the rest only report. The
    // deadline is generous: this test is about cache keys, and a debug build
    // pulls and scans the 442-ELF image cold while other tests run.
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[policy]\nname = \"per-repo\"\nversion = \"1\"\nenforcement = \"audit\"\n\n[admission]\ndeadline-ms = 20000\n\n[plugins.image-config]\n[plugins.kubernetes]\n\n[rules.GO-CFG-001]\nenforcement = \"enforce\"\n[rules.K8S-005]\nenforcement = \"enforce\"\n\n[[waivers]]\nrule = \"GO-CFG-001\"\nrepository = \"{}/a/*\"\nreason = \"legacy root image, repository a only\"\nowner = \"o\"\n",
            registry.addr
        ),
    )
    .unwrap();
    let a = format!("{}/a/app:v1", registry.addr);
    let b = format!("{}/b/app:v1", registry.addr);
    let verdict = |server: &Server, image: &str| {
        let (status, _, report) = server.post("/v1/evaluate", &json!({"image": image}));
        assert_eq!(status, 200, "{report}");
        report["verdict"].as_str().unwrap().to_string()
    };
    let allowed = |server: &Server, image: &str| {
        server.review("/validate", request_with("pod_creation_signed.json", image, true))["allowed"].clone()
    };
    for order in [[&a, &b], [&b, &a]] {
        let server = Server::start(&policy, &[]);
        for image in order {
            let want = if *image == a { "admit" } else { "deny" };
            assert_eq!(verdict(&server, image), want, "{image} (asked in the order {order:?})");
            assert_eq!(allowed(&server, image), json!(want == "admit"), "{image} (order {order:?})");
        }
        // Both answers came from the cache the second time round.
        for image in order {
            let want = if *image == a { "admit" } else { "deny" };
            assert_eq!(verdict(&server, image), want, "{image}, cached");
        }
    }
}

/// `[admission] registries`: an image from anywhere else is refused, and
/// its registry never hears of it — a listener standing in for it counts
/// no connection — while images of a listed registry are judged as usual.
#[test]
fn images_outside_the_allowed_registries_are_refused_without_a_connection() {
    use std::sync::atomic::Ordering;
    let (outside, connections) = counting_listener();
    let registry = TestRegistry::start();
    registry.push(&support::image("oci/go-static-good"), "v1", "app:v1");
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_copy(dir.path(), "");
    let text = std::fs::read_to_string(&policy).unwrap();
    let allow = format!("[admission]\nregistries = [\"{}\", \"ghcr.io/acme/**\"]\n", registry.addr);
    assert!(text.contains("[admission]\n"), "the pack has an [admission] table");
    let text = text.replace("[admission]\n", &allow);
    std::fs::write(&policy, text).unwrap();
    let server = Server::start(&policy, &[]);

    let r = server.review("/validate", request_with("pod_creation_signed.json", &format!("{outside}/app:v1"), true));
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(msg.contains("K8S-005") && msg.contains("is not in the policy's allowed registries"), "{msg}");
    assert!(msg.contains(&registry.addr) && msg.contains("ghcr.io/acme/**"), "{msg}");
    let (status, _, body) = server.post("/v1/evaluate", &json!({"image": format!("{outside}/app:v1")}));
    assert_eq!(status, 403, "{body}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(connections.load(Ordering::SeqCst), 0, "the server connected to a registry outside its allow-list");

    // A listed registry's image is judged on its own merits.
    let r = server
        .review("/validate", request_with("pod_creation_signed.json", &format!("{}/app:v1", registry.addr), true));
    let msg = r["status"]["message"].as_str().unwrap_or_default();
    assert!(!msg.contains("allowed registries"), "{r}");

    // A bad entry is refused when the policy loads.
    let bad = dir.path().join("bad.toml");
    let pack = std::fs::read_to_string(support::workspace().join("policies/go-container-baseline.toml")).unwrap();
    std::fs::write(&bad, pack.replace("[admission]\n", "[admission]\nregistries = [\"https://ghcr.io\"]\n")).unwrap();
    let run = support::portcullis(["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("admission.registries: `https://ghcr.io` is not a registry host"), "{}", run.stderr);
}

/// `--api-token-file`: `/v1/evaluate` and `/metrics` answer 401 without the
/// bearer token and as usual with it; the webhook routes need none.
#[test]
fn the_api_routes_require_the_token_when_one_is_set() {
    let registry = TestRegistry::start();
    registry.push(&support::image("oci/go-static-good"), "v1", "app:v1");
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let server = Server::start(&policy_copy(dir.path(), ""), &["--api-token-file", token.to_str().unwrap()]);
    let ask = json!({"image": format!("{}/app:v1", registry.addr)});
    for (method, path, body) in [("POST", "/v1/evaluate", &ask), ("GET", "/metrics", &Value::Null)] {
        let (status, headers, _) = request(&server.addr, method, path, "", body);
        assert_eq!(status, 401, "{path} without a token");
        assert!(headers.contains(&("www-authenticate".into(), "Bearer".into())), "{headers:?}");
        let (status, _, _) = request(&server.addr, method, path, "Authorization: Bearer wrong\r\n", body);
        assert_eq!(status, 401, "{path} with a wrong token");
        let (status, _, answer) = request(&server.addr, method, path, "Authorization: Bearer s3cret-token\r\n", body);
        assert_eq!(status, 200, "{path}: {answer}");
    }
    // The API server's routes are not the API's.
    let r = server
        .review("/validate", request_with("pod_creation_signed.json", &format!("{}/app:v1", registry.addr), true));
    assert!(r["allowed"].is_boolean(), "{r}");
    // An empty token file is refused at start.
    std::fs::write(&token, "\n").unwrap();
    let run = support::portcullis([
        "serve",
        "--policy",
        dir.path().join("policy.toml").to_str().unwrap(),
        "--api-token-file",
        token.to_str().unwrap(),
    ]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("the API token file is empty"), "{}", run.stderr);
}

/// Slow clients: 200 connections that send half a request and hold it do
/// not keep `/validate` from answering within the webhook's 3 s.
#[test]
fn two_hundred_slow_clients_do_not_stop_validate() {
    let registry = TestRegistry::start();
    registry.push(&support::image("oci/go-static-good"), "v1", "app:v1");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&policy_copy(dir.path(), ""), &[]);
    let held: Vec<std::net::TcpStream> = (0..200)
        .map(|i| {
            let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
            let head = if i % 2 == 0 {
                // Headers never finished.
                "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: applic".to_string()
            } else {
                // A body announced and never sent.
                "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"req".to_string()
            };
            s.write_all(head.as_bytes()).unwrap();
            s
        })
        .collect();
    let start = Instant::now();
    let r = server
        .review("/validate", request_with("pod_creation_signed.json", &format!("{}/app:v1", registry.addr), true));
    assert!(r["allowed"].is_boolean(), "{r}");
    assert!(start.elapsed() < Duration::from_secs(3), "answered in {:?} with 200 slow clients", start.elapsed());
    drop(held);
}

/// `--read-timeout`: a client that does not finish its headers in time has
/// its connection closed; one that does not finish its body gets `408` and
/// the connection closed; a prompt client is answered as usual.
#[test]
fn slow_clients_are_cut_off_after_the_read_timeout() {
    use std::io::Read as _;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&policy_copy(dir.path(), ""), &["--read-timeout", "1"]);
    let send = |head: &str| {
        let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        s
    };
    let start = Instant::now();
    let mut headers = send("POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: applic");
    let mut body = send("POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"req");
    // Headers never finished: closed without an answer (EOF, or a reset).
    let mut got = Vec::new();
    let _ = headers.read_to_end(&mut got);
    let headers_cut = start.elapsed();
    assert!(
        got.is_empty() || String::from_utf8_lossy(&got).starts_with("HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    // A body never finished: 408, then closed.
    let mut answer = String::new();
    let _ = body.read_to_string(&mut answer);
    let body_cut = start.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request body not received within 1 s"), "{answer}");
    for (what, took) in [("headers", headers_cut), ("body", body_cut)] {
        assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(8), "{what} cut after {took:?}");
    }
    // A prompt client: answered.
    let (code, _, _) = server.post("/validate", &json!({"kind": "AdmissionReview"}));
    assert_eq!(code, 400, "a prompt (if malformed) request is answered");
}

/// SIGTERM during 50 `/validate` requests in flight: `/readyz` answers 503
/// at once while the listener still accepts, every request is answered,
/// and the server exits 0 saying so.
#[test]
fn sigterm_drains_requests_in_flight_and_exits_0() {
    let registry = TestRegistry::start();
    registry.push(&support::image("oci/go-static-good"), "v1", "app:v1");
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--policy", policy_copy(dir.path(), "").to_str().unwrap(), "--listen", &addr])
        .args(["--registry-cache", cache.path().to_str().unwrap(), "--shutdown-grace", "10"])
        .arg("--allow-private-registries")
        .env("PORTCULLIS_CACHE_DIR", support::cache_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting portcullis serve");
    let start = Instant::now();
    while http_get(&addr, "/readyz").map(|r| r.0) != Some(200) {
        assert!(start.elapsed() < Duration::from_secs(120), "never ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let body = review(request_with("pod_creation_signed.json", &format!("{}/app:v1", registry.addr), true));
    let in_flight: Vec<_> = (0..50)
        .map(|_| {
            let (addr, body) = (addr.clone(), body.clone());
            std::thread::spawn(move || post(&addr, "/validate", &body))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    // Within the drain delay (2 s): not ready, still listening.
    let t = Instant::now();
    let mut readyz = http_get(&addr, "/readyz").map(|r| r.0);
    while readyz == Some(200) && t.elapsed() < Duration::from_millis(1500) {
        std::thread::sleep(Duration::from_millis(50));
        readyz = http_get(&addr, "/readyz").map(|r| r.0);
    }
    eprintln!("readyz {readyz:?} after {:?}", t.elapsed());
    assert_eq!(readyz, Some(503), "/readyz while draining");
    for t in in_flight {
        let (status, _, answer) = t.join().unwrap();
        assert_eq!(status, 200, "{answer}");
        assert!(answer["response"]["allowed"].is_boolean(), "{answer}");
    }
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(stderr.contains("portcullis serve: stopping") && stderr.contains("portcullis serve: stopped"), "{stderr}");
    assert!(start.elapsed() < Duration::from_secs(60));
}

/// Several policies, each bound to namespaces (`[admission] namespaces`):
/// a request is judged by every policy bound to its namespace (the one the
/// API server authorised), and denied when any denies, the denying policy
/// named; a namespace no policy is bound to is denied, since nothing judged it.
#[test]
fn namespace_bound_policies_apply_only_where_bound() {
    let registry = TestRegistry::start();
    registry.push(&support::image("oci/go-dynamic-root"), "v1", "app:v1");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, namespaces: &str, root: &str| {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            format!(
                "[policy]\nname = \"{name}\"\nversion = \"1\"\nenforcement = \"audit\"\n\n[admission]\ndeadline-ms = 20000\nnamespaces = [{namespaces}]\n\n[plugins.image-config]\n[plugins.kubernetes]\n\n[rules.GO-CFG-001]\nenforcement = \"{root}\"\n[rules.K8S-005]\nenforcement = \"enforce\"\n"
            ),
        )
        .unwrap();
        p
    };
    let strict = write("strict", "\"prod-*\"", "enforce");
    let relaxed = write("relaxed", "\"dev-*\", \"prod-*\"", "audit");
    let server = Server::start(&strict, &["--policy", relaxed.to_str().unwrap()]);
    let image = format!("{}/app:v1", registry.addr);
    let ask = |namespace: &str| {
        let mut r = request_with("pod_creation_signed.json", &image, true);
        r["namespace"] = json!(namespace);
        server.review("/validate", r)
    };
    // dev-a: only `relaxed` is bound, and it admits the root image.
    let r = ask("dev-a");
    assert_eq!(r["allowed"], true, "{r}");
    // prod-a: both are bound; `strict` denies (GO-CFG-001 through K8S-005) and is named.
    let r = ask("prod-a");
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(msg.contains("policy strict: K8S-005"), "{msg}");
    assert!(!msg.contains("policy relaxed:"), "relaxed admits: {msg}");
    // elsewhere: nothing is bound, nothing judged, nothing admitted.
    let r = ask("team-x");
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(msg.contains("no loaded policy is bound to namespace `team-x`"), "{msg}");
    // The object's own metadata.namespace does not choose the policy.
    let mut r = request_with("pod_creation_signed.json", &image, true);
    r["namespace"] = json!("dev-a");
    r["object"]["metadata"]["namespace"] = json!("prod-a");
    assert_eq!(server.review("/validate", r)["allowed"], true);
}

/// A policy is reloaded when any file it is made of changes: editing only
/// the file it includes changes the verdict, as editing the policy does.
#[test]
fn an_edit_to_an_included_file_is_reloaded() {
    let registry = TestRegistry::start();
    registry.push(&support::image("oci/go-dynamic-root"), "v1", "app:v1");
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().join("top.toml");
    let included = dir.path().join("root.toml");
    std::fs::write(&top, "[policy]\nname = \"top\"\nversion = \"1\"\ninclude = [\"root.toml\"]\n").unwrap();
    // Every other image-config rule only reports: GO-CFG-001 alone decides.
    let root = |enforcement: &str| {
        format!(
            "[policy]\nname = \"root\"\nversion = \"1\"\nenforcement = \"audit\"\n\n[plugins.image-config]\n\n[rules.GO-CFG-001]\nenforcement = \"{enforcement}\"\n"
        )
    };
    std::fs::write(&included, root("enforce")).unwrap();
    let server = Server::start(&top, &[]);
    let image = format!("{}/app:v1", registry.addr);
    let verdict = || {
        let (status, _, report) = server.post("/v1/evaluate", &json!({"image": image}));
        assert_eq!(status, 200, "{report}");
        report["verdict"].as_str().unwrap().to_string()
    };
    assert_eq!(verdict(), "deny", "GO-CFG-001 denies the root image");
    let reloads = server.metric("portcullis_policy_reloads_total");
    std::fs::write(&included, root("audit")).unwrap();
    let start = Instant::now();
    while server.metric("portcullis_policy_reloads_total") < reloads + 1.0 {
        assert!(start.elapsed() < Duration::from_secs(60), "the edit to the included file was not reloaded");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(verdict(), "admit", "the included file's new setting applies");
}

/// A listener on loopback that counts the connections it receives.
fn counting_listener() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let connections = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (addr, connections)
}

/// Without `--allow-private-registries`, an image on a loopback registry
/// (no allow-list in the policy) is refused without a connection, through
/// `/v1/evaluate` and `/validate`, even under `failure-policy = "ignore"`:
/// where a reference points is the image's doing, not an outage.
#[test]
fn loopback_registries_are_not_connected_to_unless_private_registries_are_allowed() {
    use std::sync::atomic::Ordering;
    let (addr, connections) = counting_listener();
    let dir = tempfile::tempdir().unwrap();
    let policy = lenient_policy_copy(dir.path());
    let server = Server::start_strict(&policy, &[]);

    for image in [format!("{addr}/app:v1"), format!("localhost:{}/app:v1", addr.rsplit(':').next().unwrap())] {
        let (status, _, body) = server.post("/v1/evaluate", &json!({ "image": image }));
        assert_eq!(status, 403, "{image}: {body}");
        let msg = body["error"].as_str().unwrap();
        assert!(msg.contains("is loopback") && msg.contains("--allow-private-registries"), "{msg}");
        let r = server.review("/validate", request_with("pod_creation_signed.json", &image, true));
        assert_eq!(r["allowed"], false, "{image} admitted: {r}");
        assert!(r["status"]["message"].as_str().unwrap().contains("is loopback"), "{r}");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(connections.load(Ordering::SeqCst), 0, "the server connected to a loopback registry");
    assert!(server.metric("portcullis_registry_errors_total{kind=\"refused\"}") >= 2.0);
}

/// A registry the server may reach (here on loopback, with private
/// registries allowed) that redirects a blob to the cloud metadata address:
/// the redirect is not followed there, and the refusal names the address.
#[test]
fn a_redirect_to_the_metadata_address_is_refused() {
    use std::sync::atomic::Ordering;
    let (standin, redirects) = redirecting_registry("http://169.254.169.254/latest/meta-data/iam/");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&policy_copy(dir.path(), ""), &[]);
    let (status, _, body) = server.post("/v1/evaluate", &json!({ "image": format!("{standin}/app:v1") }));
    assert_eq!(status, 403, "{body}");
    let msg = body["error"].as_str().unwrap();
    assert!(msg.contains("169.254.169.254") && msg.contains("link-local"), "{msg}");
    assert!(redirects.load(Ordering::SeqCst) >= 1, "the stand-in never sent its redirect");
}

/// A stand-in registry: an image `app:v1` whose config blob answers with a
/// redirect to `to`. Counts the redirects sent.
fn redirecting_registry(to: &'static str) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use sha2::Digest as _;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(config)));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": format!("sha256:{}", "0".repeat(64)),
            "size": 32
        }]
    })
    .to_string();
    let manifest_digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(manifest.as_bytes())));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let redirects = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = redirects.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).map(|n| n == 1).unwrap_or(false) {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let mut words = head.split_whitespace();
            let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let (status, headers, body) = if path == "/v2/" {
                ("200 OK", String::new(), "{}".to_string())
            } else if path == "/v2/app/manifests/v1" || path == format!("/v2/app/manifests/{manifest_digest}") {
                (
                    "200 OK",
                    format!(
                        "Content-Type: application/vnd.oci.image.manifest.v1+json\r\nDocker-Content-Digest: {manifest_digest}\r\n"
                    ),
                    manifest.clone(),
                )
            } else if path.starts_with("/v2/app/blobs/") {
                counted.fetch_add(1, Ordering::SeqCst);
                ("307 Temporary Redirect", format!("Location: {to}\r\n"), String::new())
            } else {
                (
                    "404 Not Found",
                    "Content-Type: application/json\r\n".to_string(),
                    r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}"#.to_string(),
                )
            };
            let body = if method == "HEAD" { String::new() } else { body };
            let length = if method == "HEAD" && status.starts_with("200") { manifest.len() } else { body.len() };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\n{headers}Content-Length: {length}\r\nConnection: close\r\n\r\n{body}"
            );
        }
    });
    (addr, redirects)
}

/// `--max-evaluations 1 --max-queued 0`: while one evaluation is held up
/// by a registry that never answers, a second image is answered at once
/// with "server busy" (the failure policy's answer), not queued for ever.
#[test]
fn evaluations_beyond_the_queue_get_the_failure_answer_at_once() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stall = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&policy_copy(dir.path(), ""), &["--max-evaluations", "1", "--max-queued", "0"]);
    // By digest: no tag lookup comes before the evaluation slot.
    let image = |repo: &str, c: char| format!("{stall}/{repo}@sha256:{}", c.to_string().repeat(64));
    let addr = server.addr.clone();
    let first = image("a", 'a');
    let held = std::thread::spawn(move || post(&addr, "/v1/evaluate", &json!({ "image": first })));
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    let (status, _, body) = server.post("/v1/evaluate", &json!({ "image": image("b", 'b') }));
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("server busy"), "{body}");
    assert!(start.elapsed() < Duration::from_secs(1), "the busy answer took {:?}", start.elapsed());
    let r = server.review("/validate", request_with("pod_creation_signed.json", &image("c", 'c'), true));
    assert_eq!(r["allowed"], false, "{r}");
    assert!(r["status"]["message"].as_str().unwrap().contains("server busy"), "{r}");
    assert!(server.metric("portcullis_evaluations_refused_busy_total") >= 2.0);
    let (status, _, _) = held.join().unwrap();
    assert_eq!(status, 504, "the held evaluation should run into its deadline");
}

/// `--max-pull-bytes`: an image larger than one pull may download is
/// refused before its layers are fetched, whatever the failure policy.
#[test]
fn an_image_over_the_pull_budget_is_refused() {
    let registry = TestRegistry::start();
    registry.push(&support::image("oci/go-static-good"), "v1", "app:v1");
    let dir = tempfile::tempdir().unwrap();
    let policy = lenient_policy_copy(dir.path());
    let server = Server::start(&policy, &["--max-pull-bytes", "4096"]);
    let image = format!("{}/app:v1", registry.addr);
    let (status, _, body) = server.post("/v1/evaluate", &json!({ "image": image }));
    assert_eq!(status, 413, "{body}");
    assert!(body["error"].as_str().unwrap().contains("over the 4096 one pull may download"), "{body}");
    let r = server.review("/validate", request_with("pod_creation_signed.json", &image, true));
    assert_eq!(r["allowed"], false, "{r}");
    // The same image within a budget is judged.
    let roomy = Server::start(&policy, &[]);
    let (status, _, body) = roomy.post("/v1/evaluate", &json!({ "image": image }));
    assert_eq!(status, 200, "{body}");
}

/// `--client-ca`: the webhook routes answer only clients with a
/// certificate the CA signed; the API routes take that certificate or the
/// token; the probes stay open; a certificate from elsewhere fails the
/// handshake.
#[test]
fn client_certificates_guard_the_webhook_routes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(d).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"];
    let self_signed = |name: &str, subj: &str, ext: &str| {
        let (k, c) = (format!("{name}.key"), format!("{name}.crt"));
        openssl(&[&["req", "-x509"], &ec[..], &["-subj", subj, "-addext", ext, "-keyout", &k, "-out", &c]].concat());
    };
    self_signed("server", "/CN=portcullis", "subjectAltName=IP:127.0.0.1");
    self_signed("ca", "/CN=cluster client CA", "basicConstraints=critical,CA:TRUE");
    self_signed("rogue", "/CN=kube-apiserver", "extendedKeyUsage=clientAuth");
    openssl(
        &[&["req", "-new"], &ec[..5], &["-subj", "/CN=kube-apiserver", "-keyout", "client.key", "-out", "client.csr"]]
            .concat(),
    );
    std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "client.ext",
        "-out",
        "client.crt",
    ]);
    std::fs::write(d.join("token"), "s3cret\n").unwrap();
    let review_body = d.join("review.json");
    std::fs::write(
        &review_body,
        review(request_with("pod_creation_signed.json", "127.0.0.1:1/app:v1", true)).to_string(),
    )
    .unwrap();
    let server = Server::start(
        &policy_copy(d, ""),
        &[
            "--tls-cert",
            d.join("server.crt").to_str().unwrap(),
            "--tls-key",
            d.join("server.key").to_str().unwrap(),
            "--client-ca",
            d.join("ca.crt").to_str().unwrap(),
            "--api-token-file",
            d.join("token").to_str().unwrap(),
        ],
    );
    let curl = |path: &str, who: Option<&str>, extra: &[&str]| {
        let mut c = Command::new("curl");
        c.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"]).arg(d.join("server.crt"));
        if let Some(who) = who {
            c.arg("--cert").arg(d.join(format!("{who}.crt"))).arg("--key").arg(d.join(format!("{who}.key")));
        }
        c.args(extra).arg(format!("https://{}{path}", server.addr));
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    };
    let start = Instant::now();
    while curl("/readyz", None, &[]) != "200" {
        assert!(start.elapsed() < Duration::from_secs(120), "not ready over TLS");
        std::thread::sleep(Duration::from_millis(100));
    }
    let post = ["-H", "Content-Type: application/json", "--data-binary"];
    let data = format!("@{}", review_body.display());
    let post: Vec<&str> = post.iter().copied().chain([data.as_str()]).collect();
    assert_eq!(curl("/healthz", None, &[]), "200");
    assert_eq!(curl("/validate", None, &post), "403", "a webhook route answered a client without a certificate");
    assert_eq!(curl("/validate", Some("client"), &post), "200");
    assert_eq!(curl("/metrics", None, &[]), "401");
    assert_eq!(curl("/metrics", None, &["-H", "Authorization: Bearer s3cret"]), "200");
    assert_eq!(curl("/metrics", Some("client"), &[]), "200");
    // Not signed by the CA: the handshake itself fails.
    assert_eq!(curl("/healthz", Some("rogue"), &[]), "000");

    // Without TLS, --client-ca is refused at start.
    let run = support::portcullis([
        "serve",
        "--policy",
        d.join("policy.toml").to_str().unwrap(),
        "--client-ca",
        d.join("ca.crt").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--tls-cert"), "{}", run.stderr);
}
