//! `POST /validate` and `POST /mutate`: one AdmissionReview in, one out.
//!
//! Both judge the workload the same way, by every policy bound to its
//! namespace: every image by the policy, all within the policy's deadline,
//! then the workload by the library
//! ([`Admission::decide`]: the workload rules, waivers, failure policy);
//! this file only translates requests and answers. `/mutate`
//! also answers a JSONPatch pinning each tag to the digest that was judged,
//! so the validating call that follows hits the cache and the pod runs
//! exactly what was judged.

use super::{AppState, Loaded};
use crate::admission::{Admission, ImageOutcome, Workload, review};
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
    let (response, verdict) = match review::read(&body) {
        Err(e) => (bad_request(e), "error"),
        Ok(review) => match review::request_of(&review) {
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

/// What the webhook answers.
#[derive(Debug, Default)]
pub(super) struct Decision {
    allowed: bool,
    reasons: Vec<String>,
    warnings: Vec<String>,
    patch: Vec<Value>,
}

/// Reads the workload and judges it by every loaded policy bound to its
/// namespace (`[admission] namespaces`; a policy naming none is bound to
/// all): allowed only when each allows it, with each policy's reasons and
/// warnings named by the policy. A namespace no policy is bound to is
/// denied: nothing was judged, so nothing is admitted.
async fn decide(state: &Arc<AppState>, request: &Value, mutating: bool) -> Decision {
    let mut d = Decision::default();
    if !state.is_ready() {
        d.reasons.push("portcullis is still loading its policies and plugins; retry".into());
        return d;
    }
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
    let loaded = state.policies();
    let bound: Vec<Arc<Loaded>> =
        loaded.iter().filter(|l| l.engine.policy().admission.binds(workload.namespace.as_deref())).cloned().collect();
    if bound.is_empty() {
        let names: Vec<&str> = loaded.iter().map(|l| l.engine.policy().name.as_str()).collect();
        d.reasons.push(format!(
            "no loaded policy is bound to namespace `{}` (loaded: {}); load one without `[admission] namespaces`, which applies everywhere, or exempt the namespace",
            workload.namespace.as_deref().unwrap_or(""),
            names.join(", ")
        ));
        return d;
    }
    let named = bound.len() > 1;
    let decisions =
        futures_util::future::join_all(bound.iter().map(|l| decide_by(state, l, &workload, mutating))).await;
    d.allowed = true;
    for (l, one) in bound.iter().zip(decisions) {
        let prefix = if named { format!("policy {}: ", l.engine.policy().name) } else { String::new() };
        d.allowed &= one.allowed;
        d.reasons.extend(one.reasons.into_iter().map(|r| format!("{prefix}{r}")));
        d.warnings.extend(one.warnings.into_iter().map(|w| format!("{prefix}{w}")));
        // Every policy pins a tag to the digest it resolved; the first
        // policy that mutates says which.
        if d.patch.is_empty() {
            d.patch = one.patch;
        }
    }
    d
}

/// The decision of one policy: each distinct image judged (cached, within
/// the policy's deadline), then the workload by the library.
async fn decide_by(state: &Arc<AppState>, loaded: &Arc<Loaded>, workload: &Workload, mutating: bool) -> Decision {
    let mut d = Decision::default();
    let settings = &loaded.engine.policy().admission;
    let deadline = tokio::time::Instant::now() + settings.deadline;
    if settings.exempts(workload) {
        d.allowed = true;
        return d;
    }

    // Images: each distinct reference judged once, all within the deadline.
    let uses = workload.images();
    let mut images: Vec<String> = uses.iter().map(|u| u.image.clone()).collect();
    images.sort();
    images.dedup();
    let results = futures_util::future::join_all(images.iter().map(|image| {
        let state = state.clone();
        let loaded = loaded.clone();
        async move {
            // Err((why, caused by the image itself)).
            if image.is_empty() {
                return Err(("a container has no image".to_string(), true));
            }
            match tokio::time::timeout_at(deadline, state.judge(&loaded, image)).await {
                Ok(Ok((j, _))) => Ok(j),
                Ok(Err(f)) => Err((f.message, f.subject_caused)),
                Err(_) => Err((format!("not judged within the {} ms deadline", settings.deadline.as_millis()), false)),
            }
        }
    }))
    .await;
    let outcomes: Vec<(&str, ImageOutcome<'_>)> = images
        .iter()
        .zip(&results)
        .map(|(image, r)| {
            let outcome = match r {
                Ok(j) => ImageOutcome::Judged { digest: &j.digest, report: &j.report },
                Err((why, true)) => ImageOutcome::Refused(why),
                Err((why, false)) => ImageOutcome::Undecided(why),
            };
            (image.as_str(), outcome)
        })
        .collect();
    let admission = Admission::decide(&loaded.engine, workload, &outcomes);
    d.allowed = admission.allowed;
    d.reasons = admission.reasons;
    d.warnings = admission.warnings;

    if mutating && settings.mutate {
        for u in &uses {
            if u.image.contains('@') {
                continue;
            }
            if let Some((_, Ok(judged))) = images.iter().zip(&results).find(|(i, _)| **i == u.image) {
                d.patch.push(
                    json!({"op": "replace", "path": u.pointer, "value": format!("{}@{}", u.image, judged.digest)}),
                );
            }
        }
    }
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
