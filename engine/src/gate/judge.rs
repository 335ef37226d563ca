//! A manifest push, decided: forwarded as it came when it names nothing
//! pullable, otherwise stored upstream by digest, judged from there, and
//! tagged only when admitted.
//!
//! Why by digest first: the engine judges what the upstream will serve —
//! the manifest, config, layers and attachments as stored, read back
//! through the registry client like any other pull — and a manifest
//! stored by digest is what a push by digest makes anyway (nothing can
//! pull it by a name). The tag PUT that follows carries the client's exact
//! bytes, so the tag names the digest that was judged.

use super::classify::{self, Push};
use super::{GateState, Mode, proxy, reply};
use crate::digest::Digest;
use crate::model::Outcome;
use crate::report::{Effect, Report, Verdict};
use crate::serve::{Failure, Judged, Served, cache};
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use futures_util::FutureExt;
use oci_client::secrets::RegistryAuth;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a cached verdict is keyed by — the rule of `serve`'s cache: every
/// input of the verdict. The image's digest; the repository and tag
/// waivers can match (under the gate's registry name); the engine
/// fingerprint (policy, trusted root, plugins). Time bounds the entry as
/// [`Judged`] says (the next waiver expiry). Credentials are not part of
/// it: whoever may push to a repository may read it, and the verdict
/// depends on what the repository holds, not on who asks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    digest: Digest,
    repository: String,
    tag: String,
    fingerprint: String,
}

pub type Verdicts = Arc<cache::VerdictCache<Key, Judged, Failure>>;

pub fn new_cache() -> Verdicts {
    cache::VerdictCache::new(4096, Duration::from_secs(600), Duration::from_secs(60))
}

/// One push at a time per manifest (repository, digest), from its store by
/// digest to its tag. Registries write a manifest non-atomically
/// (distribution's filesystem driver answers 500 to a read racing a
/// rewrite of the same manifest), so concurrent pushes of one image must
/// not store it while another is reading it back to be judged. The later
/// pushes then find the verdict cached.
#[derive(Default)]
pub struct PushLocks(std::sync::Mutex<std::collections::HashMap<(String, Digest), ManifestLock>>);

type ManifestLock = Arc<tokio::sync::Mutex<()>>;

impl PushLocks {
    async fn hold(&self, name: &str, digest: &Digest) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            // Locks nobody holds or waits for are dropped as others come.
            map.retain(|_, m| Arc::strong_count(m) > 1);
            map.entry((name.to_string(), digest.clone())).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// Rules that fail when an attachment is missing (signature, provenance,
/// SBOM), for which a denial explains the push-by-digest pipeline.
const ATTACHMENT_RULES: [&str; 3] = ["SC-SIG-001", "SC-SLSA-001", "SC-SBOM-001"];

/// Referrers listed under a referrers-schema tag, checked at most.
const MAX_REFERRERS: usize = 256;

pub async fn manifest_push(state: &Arc<GateState>, request: Request, name: &str, reference: &str) -> Response {
    let (parts, body) = request.into_parts();
    let limit = crate::oci::MAX_MANIFEST_BYTES as usize;
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return reply::manifest_invalid(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("manifest for {name}:{reference}: over {limit} bytes, or the upload broke off"),
            );
        }
    };
    let query_tags = tags_of(&parts.uri);
    let push = classify::classify(reference, &query_tags, &body);
    let forward = |class: &'static str| {
        state.metrics.pushes.with_label_values(&[class, "forwarded"]).inc();
        proxy::send(state, &parts.method, &parts.uri, &parts.headers, body.clone().into())
    };
    match push {
        Push::ByDigest => forward("digest").await,
        Push::Referrer => forward("referrer").await,
        Push::Attachment { .. } => forward("attachment").await,
        Push::Artifact { .. } => forward("artifact").await,
        Push::Refused(why) => {
            state.metrics.pushes.with_label_values(&["refused", "deny"]).inc();
            reply::denied(
                &format!("portcullis refused {}/{name}:{reference}: {why}", state.name),
                serde_json::Value::Null,
            )
        }
        Push::ReferrersIndex { tag, entries } => match only_referrers(state, &parts.headers, name, &entries).await {
            Ok(()) => forward("referrers-index").await,
            Err(why) => {
                state.metrics.pushes.with_label_values(&["referrers-index", "deny"]).inc();
                reply::denied(
                    &format!("portcullis refused {}/{name}:{tag}: {why}", state.name),
                    serde_json::Value::Null,
                )
            }
        },
        Push::Tag { tags } => tag_push(state, parts, body, name, &tags).await,
    }
}

/// The `?tag=` parameters of a manifest PUT.
fn tags_of(uri: &Uri) -> Vec<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// A tag push: store by digest, judge each tag, then tag or refuse.
async fn tag_push(
    state: &Arc<GateState>,
    parts: axum::http::request::Parts,
    body: Bytes,
    name: &str,
    tags: &[String],
) -> Response {
    let started = Instant::now();
    let digest = Digest::sha256(&body);
    // Every policy bound to the repository judges the push; with none,
    // nothing would judge it, so nothing is tagged.
    let repository = format!("{}/{name}", state.name);
    let engines = state.bound(&repository);
    if engines.is_empty() {
        state.metrics.pushes.with_label_values(&["tag", "deny"]).inc();
        let loaded: Vec<&str> = state.engines.iter().map(|e| e.policy().name.as_str()).collect();
        return reply::denied(
            &format!(
                "portcullis refused {repository}:{}: no loaded policy is bound to repository {repository} (loaded: {}); \
                 bind one with `[gate] repositories`, or load one without a [gate] table, which judges every repository",
                tags.join(","),
                loaded.join(", ")
            ),
            serde_json::json!({ "verdict": "deny", "denied": [] }),
        );
    }
    let _one_at_a_time = state.push_locks.hold(name, &digest).await;
    let by_digest: Uri = match format!("/v2/{name}/manifests/{digest}").parse() {
        Ok(u) => u,
        Err(e) => return reply::manifest_invalid(StatusCode::BAD_REQUEST, &format!("repository name {name}: {e}")),
    };
    let stored =
        match proxy::upstream_request(state, &parts.method, &by_digest, &parts.headers, body.clone().into()).await {
            Ok(r) => r,
            Err(e) => {
                state.metrics.upstream_errors.inc();
                state.metrics.pushes.with_label_values(&["tag", "unavailable"]).inc();
                return reply::unavailable(&format!(
                    "{name}:{}: not judged, so not tagged: the registry behind the gate did not answer: {e}",
                    tags.join(",")
                ));
            }
        };
    if !stored.status().is_success() {
        // Authentication challenges, unknown blobs, invalid manifests: the
        // upstream's own answer, unchanged.
        let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string);
        return proxy::back(state, stored, host.as_deref());
    }
    let auth = pusher_auth(&parts.headers);
    let mut warnings = Vec::new();
    let mut admitted: Vec<Digest> = Vec::new();
    let mut report: Option<Arc<crate::report::Report>> = None;
    let named = engines.len() > 1;
    for tag in tags {
        let verdicts = futures_util::future::join_all(engines.iter().map(|engine| {
            tokio::time::timeout(state.options.deadline, judge(state, engine, auth.clone(), name, tag, &digest))
        }))
        .await;
        state.metrics.evaluation_seconds.observe(started.elapsed().as_secs_f64());
        // One push is counted once, whatever the number of policies.
        let warned = warnings.len();
        for (engine, judged) in engines.iter().zip(verdicts) {
            // With several policies, each message names the one that spoke.
            let subject = match named {
                true => format!("{}/{name}:{tag}@{digest} by policy {}", state.name, engine.policy().name),
                false => format!("{}/{name}:{tag}@{digest}", state.name),
            };
            match judged {
                Err(_) => {
                    state.metrics.pushes.with_label_values(&["tag", "unavailable"]).inc();
                    return reply::unavailable(&format!(
                        "{subject}: not judged within {} s, so not tagged; push again (the evaluation goes on and its \
                     verdict will be cached)",
                        state.options.deadline.as_secs()
                    ));
                }
                Ok(Err(f)) if !f.subject_caused => {
                    state.metrics.pushes.with_label_values(&["tag", "unavailable"]).inc();
                    return reply::unavailable(&format!("{subject}: not judged, so not tagged: {}", f.message));
                }
                Ok(Err(f)) => {
                    // The image could not be read: that is the image's fault.
                    let message = format!("portcullis denied {subject}: its evidence is unreadable: {}", f.message);
                    if state.options.mode == Mode::Enforce {
                        state.metrics.pushes.with_label_values(&["tag", "deny"]).inc();
                        return reply::denied(&message, serde_json::json!({ "verdict": "deny", "denied": [] }));
                    }
                    warnings.push(message);
                }
                Ok(Ok(judged)) if judged.report.verdict == Verdict::Deny => {
                    let message = denial_message(&subject, &judged.report);
                    if state.options.mode == Mode::Enforce {
                        state.metrics.pushes.with_label_values(&["tag", "deny"]).inc();
                        return reply::denied(&message, detail(&judged));
                    }
                    warnings.push(message);
                }
                Ok(Ok(judged)) => {
                    // The index and every image of it become pullable by digest.
                    admitted.extend(judged.report.subjects.iter().filter_map(|s| Digest::parse(&s.digest).ok()));
                    report.get_or_insert_with(|| judged.report.clone());
                }
            }
        }
        let outcome = if warnings.len() > warned { "deny" } else { "admit" };
        state.metrics.pushes.with_label_values(&["tag", outcome]).inc();
    }
    admitted.sort();
    admitted.dedup();
    let body_copy = body.clone();
    let mut response = proxy::send(state, &parts.method, &parts.uri, &parts.headers, body.into()).await;
    if let Some(record) = &state.admitted
        && warnings.is_empty()
        && response.status().is_success()
        && let Err(e) = record.record(&admitted)
    {
        // The tag exists; pulls by digest stay refused until a re-push.
        eprintln!("portcullis gate: {e}");
    }
    if let (Some(key), Some(report)) = (&state.options.vsa_key, &report)
        && warnings.is_empty()
        && response.status().is_success()
    {
        let mt =
            crate::oci::sniff_media_type(&body_copy).unwrap_or_else(|| crate::oci::media_type::OCI_MANIFEST.into());
        let attached = tokio::time::timeout(
            Duration::from_secs(30),
            super::summary::attach(state, key, &parts.headers, name, (&digest, &mt, body_copy.len()), report),
        )
        .await
        .unwrap_or_else(|_| Err("timed out".into()));
        match attached {
            Ok(_) => state.metrics.summaries.with_label_values(&["attached"]).inc(),
            Err(e) => {
                state.metrics.summaries.with_label_values(&["failed"]).inc();
                eprintln!("portcullis gate: {name}@{digest}: the verification summary was not attached: {e}");
            }
        }
    }
    for w in warnings {
        if let Some(v) = reply::warning(&w) {
            response.headers_mut().append(header::WARNING, v);
        }
    }
    response
}

/// The credentials the push came with, for reading its evidence: HTTP
/// Basic as user and password (the client library then trades them for a
/// token where the upstream wants one), a bearer token as it is. None:
/// the gate's configured credentials, if any.
fn pusher_auth(headers: &HeaderMap) -> Option<RegistryAuth> {
    use base64::Engine as _;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
        let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
        Some(RegistryAuth::Basic(user.to_string(), password.to_string()))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(RegistryAuth::Bearer(rest.trim().to_string()))
    } else {
        None
    }
}

/// The verdict on `name@digest` under `tag`: from the cache, or pulled
/// from the upstream and judged (once for concurrent pushes).
async fn judge(
    state: &Arc<GateState>,
    engine: &Arc<crate::engine::Engine>,
    auth: Option<RegistryAuth>,
    name: &str,
    tag: &str,
    digest: &Digest,
) -> Result<Judged, Failure> {
    let repository = format!("{}/{name}", state.name);
    let key = Key {
        digest: digest.clone(),
        repository: repository.clone(),
        tag: tag.to_string(),
        fingerprint: engine.fingerprint().to_string(),
    };
    let at = oci_client::Reference::with_tag_and_digest(
        state.upstream_host.clone(),
        name.to_string(),
        tag.to_string(),
        digest.to_string(),
    );
    let (st, tag, engine) = (state.clone(), tag.to_string(), engine.clone());
    let (result, served) = state
        .verdicts
        .get_or_evaluate(key, move || {
            async move {
                let mut pulled = match auth {
                    Some(a) => st.registry.pull_as(a, &at, false).await?,
                    None => st.registry.pull(&at, false).await?,
                };
                st.metrics.layers_from_cache.inc_by(pulled.skipped_layers as u64);
                // Judged under the name pullers use, not the upstream's.
                pulled.reference = format!("docker://{repository}:{tag}");
                pulled.repository = repository;
                crate::serve::judge_pulled(pulled, engine, |_, _| {}).await
            }
            .boxed()
        })
        .await;
    if served == Served::Hit {
        state.metrics.cache_hits.inc();
    }
    result
}

/// `portcullis denied host/repo:tag@digest: linux/amd64: GO-BIN-001 (…); …`
fn denial_message(subject: &str, report: &Report) -> String {
    let mut reasons = Vec::new();
    for s in &report.subjects {
        let platform = s.platform.as_deref().map(|p| format!("{p}: ")).unwrap_or_default();
        for f in s.findings.iter().filter(|f| f.effect == Effect::Deny) {
            let what = if f.outcome == Outcome::Error { "could not be checked" } else { "failed" };
            reasons.push(format!("{platform}{} {what} ({})", f.rule, f.message));
        }
    }
    if reasons.is_empty() {
        reasons.push("the policy denies it".to_string());
    }
    let mut message = format!("portcullis denied {subject}: {}", reasons.join("; "));
    // Attachments pushed after the tag come too late: say how to push.
    let missing_attachment =
        report.subjects.iter().flat_map(|s| &s.findings).any(|f| {
            f.effect == Effect::Deny && ATTACHMENT_RULES.contains(&f.rule.as_str()) && f.outcome == Outcome::Fail
        });
    if missing_attachment {
        message.push_str(
            ". Signatures, attestations and SBOMs are judged as they are when the tag arrives: push by digest, \
             attach them, then push the tag",
        );
    }
    message
}

/// The error's `detail`: the verdict, the denying rules, the report.
fn detail(judged: &Judged) -> serde_json::Value {
    let denied: Vec<serde_json::Value> = judged
        .report
        .subjects
        .iter()
        .flat_map(|s| {
            s.findings.iter().filter(|f| f.effect == Effect::Deny).map(move |f| {
                serde_json::json!({ "rule": f.rule, "platform": s.platform, "subject": s.digest, "message": f.message })
            })
        })
        .collect();
    let report: serde_json::Value = serde_json::from_slice(&judged.json()).unwrap_or(serde_json::Value::Null);
    serde_json::json!({ "verdict": "deny", "denied": denied, "report": report })
}

/// Whether every entry of a referrers-schema index is a referrer that no
/// runtime would run: each is read back from the upstream (as the pusher)
/// and must be a manifest without filesystem layers.
async fn only_referrers(
    state: &Arc<GateState>,
    headers: &HeaderMap,
    name: &str,
    entries: &[Digest],
) -> Result<(), String> {
    if entries.len() > MAX_REFERRERS {
        return Err(format!("{} entries; at most {MAX_REFERRERS} are checked", entries.len()));
    }
    for digest in entries {
        let uri: Uri = format!("/v2/{name}/manifests/{digest}").parse().map_err(|e| format!("{e}"))?;
        let mut ask = HeaderMap::new();
        if let Some(a) = headers.get(header::AUTHORIZATION) {
            ask.insert(header::AUTHORIZATION, a.clone());
        }
        ask.insert(
            header::ACCEPT,
            axum::http::HeaderValue::from_static(
                "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, \
                 application/vnd.docker.distribution.manifest.v2+json, \
                 application/vnd.docker.distribution.manifest.list.v2+json",
            ),
        );
        let r = proxy::upstream_request(state, &axum::http::Method::GET, &uri, &ask, reqwest::Body::from(""))
            .await
            .map_err(|err| format!("entry {}: the registry did not answer: {err}", digest))?;
        if !r.status().is_success() {
            return Err(format!("entry {}: the registry answered {}", digest, r.status()));
        }
        let bytes = r.bytes().await.map_err(|err| format!("entry {}: {err}", digest))?;
        if bytes.len() as u64 > crate::oci::MAX_MANIFEST_BYTES {
            return Err(format!("entry {}: over the manifest size limit", digest));
        }
        digest.verify(&bytes).map_err(|err| format!("entry {}: {err}", digest))?;
        let doc = classify::Doc::read(&bytes).map_err(|err| format!("entry {}: {err}", digest))?;
        if doc.runnable() {
            return Err(format!(
                "entry {} is a runnable image, not a referrer; the referrers tag schema may list only artifacts",
                digest
            ));
        }
    }
    Ok(())
}

/// `GET /v2/<name>/manifests/<digest>` under `--admitted-only`: a runnable
/// manifest is served only if this gate admitted it (or an index listing
/// it); attachments and artifacts are served as they are. `HEAD` is not
/// checked (signers resolve digests with it; it serves no content).
pub async fn manifest_pull(state: &Arc<GateState>, request: Request, name: &str, digest: &Digest) -> Response {
    let Some(record) = &state.admitted else { return proxy::forward(state, request).await };
    if record.contains(digest) {
        return proxy::forward(state, request).await;
    }
    let (parts, _) = request.into_parts();
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string);
    let upstream = match proxy::upstream_request(
        state,
        &parts.method,
        &parts.uri,
        &parts.headers,
        reqwest::Body::from(""),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return reply::unavailable(&format!("the registry behind the gate did not answer: {e}")),
    };
    if !upstream.status().is_success() {
        return proxy::back(state, upstream, host.as_deref());
    }
    let (status, headers) = proxy::head_of(state, &upstream, host.as_deref());
    let bytes = match upstream.bytes().await {
        Ok(b) if b.len() as u64 <= crate::oci::MAX_MANIFEST_BYTES => b,
        Ok(_) => {
            return reply::denied(&format!("{name}@{digest}: over the manifest size limit"), serde_json::Value::Null);
        }
        Err(e) => return reply::unavailable(&format!("{name}@{digest}: the registry broke off: {e}")),
    };
    let runnable = digest.verify(&bytes).is_err() || classify::Doc::read(&bytes).is_ok_and(|d| d.runnable());
    let mut response = Response::new(axum::body::Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    if runnable {
        let message = format!(
            "portcullis refused {}/{name}@{digest}: this gate has not admitted it (it was pushed by digest and never \
             admitted under a tag); push a tag for it through the gate",
            state.name
        );
        if state.options.mode == Mode::Enforce {
            return reply::denied(&message, serde_json::Value::Null);
        }
        if let Some(v) = reply::warning(&message) {
            response.headers_mut().append(header::WARNING, v);
        }
    }
    response
}
