//! `POST /validate` and `POST /mutate`: one AdmissionReview in, one out.
//!
//! Both judge the workload the same way (the workload rules, then every
//! image by the image policy, all within the policy's deadline); `/mutate`
//! also answers a JSONPatch pinning each tag to the digest that was judged,
//! so the validating call that follows hits the cache and the pod runs
//! exactly what was judged.

use super::{AppState, Loaded};
use crate::admission::{self, Workload};
use crate::model::{Enforcement, FailurePolicy, Outcome};
use crate::report::{Effect, Verdict};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

/// Longest warning handed to the API server (it shows them to users).
const MAX_WARNING: usize = 256;

pub(super) async fn validate(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    handle(state, body, false).await
}

pub(super) async fn mutate(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    handle(state, body, true).await
}

async fn handle(state: Arc<AppState>, body: Bytes, mutating: bool) -> Response {
    let start = Instant::now();
    let endpoint = if mutating { "mutate" } else { "validate" };
    let (response, verdict) = match serde_json::from_slice::<Value>(&body) {
        Err(e) => (bad_request(format!("body is not JSON: {e}")), "error"),
        Ok(review) => match request_of(&review) {
            Err(e) => (bad_request(e), "error"),
            Ok(request) => {
                let decision = decide(&state, request, mutating).await;
                let verdict = if decision.allowed { "allowed" } else { "denied" };
                (respond(request, decision), verdict)
            }
        },
    };
    state.metrics.requests.with_label_values(&[endpoint, verdict]).inc();
    state.metrics.request_seconds.with_label_values(&[endpoint, verdict]).observe(start.elapsed().as_secs_f64());
    response
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json")], json!({ "error": message }).to_string())
        .into_response()
}

/// The `request` of an AdmissionReview v1 (or a bare request, as kwctl's
/// `--request-path` files are).
fn request_of(review: &Value) -> Result<&Value, String> {
    if let Some(kind) = review.get("kind").and_then(Value::as_str) {
        if kind != "AdmissionReview" {
            return Err(format!("kind is `{kind}`, expected AdmissionReview"));
        }
        match review.get("apiVersion").and_then(Value::as_str) {
            Some("admission.k8s.io/v1") => {}
            other => return Err(format!("apiVersion {other:?} is not supported; send admission.k8s.io/v1")),
        }
    }
    let request = review.get("request").unwrap_or(review);
    if request.get("uid").and_then(Value::as_str).is_none() {
        return Err("request.uid is missing: not an AdmissionReview".into());
    }
    Ok(request)
}

/// What the webhook answers.
#[derive(Debug, Default)]
pub(super) struct Decision {
    allowed: bool,
    reasons: Vec<String>,
    warnings: Vec<String>,
    patch: Vec<Value>,
}

fn effect_of(enforcement: Enforcement) -> Effect {
    match enforcement {
        Enforcement::Enforce => Effect::Deny,
        Enforcement::Warn => Effect::Warn,
        Enforcement::Audit => Effect::None,
    }
}

async fn decide(state: &Arc<AppState>, request: &Value, mutating: bool) -> Decision {
    let mut d = Decision::default();
    if !state.is_ready() {
        d.reasons.push("portcullis is still loading its policies and plugins; retry".into());
        return d;
    }
    let loaded: Arc<Loaded> = state.policies()[0].clone();
    let policy = loaded.engine.policy();
    let settings = &policy.admission;
    let deadline = tokio::time::Instant::now() + settings.deadline;
    let workload = match Workload::from_request(request) {
        Ok(Some(w)) => w,
        Ok(None) => {
            d.allowed = true;
            return d;
        }
        Err(e) => {
            d.reasons.push(e);
            return d;
        }
    };
    if let Some(ns) = &workload.namespace
        && settings.exempt_namespaces.iter().any(|e| e == ns)
    {
        d.allowed = true;
        return d;
    }
    let plan = loaded.engine.plan();
    let setting = |id: &str| plan.rules.iter().find(|r| r.info.id == id && r.enabled);

    // Workload rules.
    for id in [admission::K8S_DIGEST, admission::K8S_SECURITY_CONTEXT, admission::K8S_SECCOMP, admission::K8S_PROBES] {
        let Some(s) = setting(id) else { continue };
        let f = match id {
            admission::K8S_DIGEST => workload.k8s_digest(settings.mutate),
            admission::K8S_SECURITY_CONTEXT => workload.k8s_security_context(),
            admission::K8S_SECCOMP => workload.k8s_seccomp(&s.params),
            _ => workload.k8s_probes(&s.params),
        };
        if f.outcome == Outcome::Fail {
            match effect_of(s.enforcement) {
                Effect::Deny => d.reasons.push(format!("{}: {}", f.rule, f.message)),
                Effect::Warn => d.warnings.push(format!("{}: {}", f.rule, f.message)),
                _ => {}
            }
        }
    }

    // Images: each distinct reference judged once, all within the deadline.
    let uses = workload.images();
    let mut images: Vec<String> = uses.iter().map(|u| u.image.clone()).collect();
    images.sort();
    images.dedup();
    let judge_images = setting(admission::K8S_IMAGES);
    let results = futures_util::future::join_all(images.iter().map(|image| {
        let state = state.clone();
        let loaded = loaded.clone();
        async move {
            if image.is_empty() {
                return Err("a container has no image".to_string());
            }
            match tokio::time::timeout_at(deadline, state.judge(&loaded, image)).await {
                Ok(Ok((j, _))) => Ok(j),
                Ok(Err(f)) => Err(f.message),
                Err(_) => Err(format!("not judged within the {} ms deadline", settings.deadline.as_millis())),
            }
        }
    }))
    .await;

    let mut pinned = Vec::new();
    for (image, result) in images.iter().zip(results) {
        match result {
            Ok(judged) => {
                pinned.push((image.clone(), judged.digest.to_string()));
                let Some(rule) = judge_images else { continue };
                let report = &judged.report;
                let denying: Vec<String> = report
                    .subjects
                    .iter()
                    .flat_map(|s| &s.findings)
                    .filter(|f| f.effect == Effect::Deny)
                    .map(|f| f.rule.clone())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                for s in &report.subjects {
                    for f in s.findings.iter().filter(|f| f.effect == Effect::Warn) {
                        let platform = s.platform.as_deref().map(|p| format!(" [{p}]")).unwrap_or_default();
                        d.warnings.push(format!("{image}{platform}: {}: {}", f.rule, f.message));
                    }
                }
                if report.verdict == Verdict::Deny {
                    let line = format!(
                        "{}: image {image} ({}) is denied by {}",
                        rule.info.id,
                        judged.digest,
                        denying.join(", ")
                    );
                    match effect_of(rule.enforcement) {
                        Effect::Deny => d.reasons.push(line),
                        Effect::Warn => d.warnings.push(line),
                        _ => {}
                    }
                }
            }
            Err(why) => {
                // The failure policy first: warnings are cut to a few hundred characters.
                let line =
                    |fp: &str| format!("{} ({fp}): image {image} could not be judged: {why}", admission::K8S_IMAGES);
                match (judge_images.map(|r| r.enforcement), policy.failure_policy) {
                    (None, _) | (Some(Enforcement::Audit), _) => {}
                    (Some(Enforcement::Enforce), FailurePolicy::Deny) => d.reasons.push(line("failure-policy deny")),
                    _ => d.warnings.push(line("failure-policy ignore: admitted")),
                }
            }
        }
    }

    if mutating && settings.mutate {
        for u in &uses {
            if u.image.contains('@') {
                continue;
            }
            if let Some((_, digest)) = pinned.iter().find(|(i, _)| i == &u.image) {
                d.patch.push(json!({"op": "replace", "path": u.pointer, "value": format!("{}@{digest}", u.image)}));
            }
        }
    }
    d.allowed = d.reasons.is_empty();
    d
}

fn respond(request: &Value, d: Decision) -> Response {
    let mut response = json!({
        "uid": request.get("uid").cloned().unwrap_or(Value::Null),
        "allowed": d.allowed,
    });
    if !d.allowed {
        response["status"] = json!({
            "code": 403,
            "reason": "Forbidden",
            "message": format!("portcullis denied this request: {}", d.reasons.join("; ")),
        });
    }
    if !d.warnings.is_empty() {
        let warnings: Vec<String> = d
            .warnings
            .into_iter()
            .map(|w| if w.len() > MAX_WARNING { format!("{}…", truncate(&w, MAX_WARNING)) } else { w })
            .collect();
        response["warnings"] = json!(warnings);
    }
    if d.allowed && !d.patch.is_empty() {
        use base64::Engine as _;
        let patch = serde_json::to_vec(&Value::Array(d.patch)).expect("patch serialises");
        response["patchType"] = json!("JSONPatch");
        response["patch"] = json!(base64::engine::general_purpose::STANDARD.encode(patch));
    }
    let review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], review.to_string()).into_response()
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
