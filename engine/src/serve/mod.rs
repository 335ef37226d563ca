//! `portcullis serve`: the engine as a network service — a Kubernetes
//! validating and mutating admission webhook and a JSON evaluation API for
//! other callers — over a registry client, with a content-addressed verdict
//! cache.
//!
//! Data flows one way: request → image references → digests (tag cache,
//! registry) → verdicts (cache, or pull + engine) → admission response.
//! Anything that keeps an image from being judged (registry error,
//! deadline, not yet ready) is decided by the policy's failure policy —
//! `deny` unless the policy says `ignore` — never admitted by accident.

mod access;
pub mod cache;
pub mod metrics;
mod review;
pub mod summary;
pub mod tls;

use crate::digest::Digest;
use crate::engine::{Engine, EngineOptions};
use crate::model::Outcome;
use crate::policy::Policy;
use crate::registry::{Registry, RegistryError, RegistryOptions};
use crate::report::{Report, Verdict};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::FutureExt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub use cache::Served;

#[derive(Clone)]
pub struct ServeOptions {
    /// Policy files; the first one is applied to admission requests, any of
    /// them (by name) to `/v1/evaluate`.
    pub policies: Vec<PathBuf>,
    pub listen: SocketAddr,
    /// PEM certificate chain and private key; both or neither.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub registry: RegistryOptions,
    pub engine_options: EngineOptions,
    /// How often policy and certificate files are checked for changes.
    pub reload_interval: Duration,
    /// On SIGTERM or SIGINT: how long in-flight requests may take to finish
    /// once the listener stops (after [`DRAIN_DELAY`]).
    pub shutdown_grace: Duration,
    /// When set, `/v1/evaluate` and `/metrics` answer only requests that
    /// carry `Authorization: Bearer <token>` (401 otherwise), or a client
    /// certificate of `client_ca` ([`access`]).
    pub api_token: Option<String>,
    /// PEM CA certificates: with TLS, `/validate` and `/mutate` answer only
    /// clients presenting a certificate one of them signed (the API
    /// server's), and such a client may use the API routes too.
    pub client_ca: Option<PathBuf>,
    /// Verification summaries (a push gate's) trusted in place of a pull
    /// and an evaluation ([`summary`]).
    pub trusted_summaries: Option<summary::TrustedSummaries>,
    /// How long a client may take to send a request's headers, and then
    /// its body: a slow client is cut off (its connection closed, or `408`
    /// for a body) instead of holding a connection and a task for ever.
    pub read_timeout: Duration,
    /// Whether registries on loopback and private addresses may be
    /// connected to (link-local, metadata and reserved addresses never
    /// are): [`crate::registry::egress`].
    pub allow_private_registries: bool,
    /// Pulls and evaluations run at once; more wait in a queue of at most
    /// `max_queued`, and beyond that a request gets the failure policy's
    /// answer at once (a flood of new images must not grow memory and
    /// latency without bound).
    pub max_evaluations: usize,
    pub max_queued: usize,
}

/// An image judged by one engine.
#[derive(Clone)]
pub struct Judged {
    pub digest: Digest,
    pub report: Arc<Report>,
    /// The report's JSON, written once for all the requests it answers
    /// (shared by reference count, never copied per response).
    json: Arc<std::sync::OnceLock<axum::body::Bytes>>,
    /// How long the verdict holds as far as time goes (the next waiver
    /// expiry); `None`: no bound besides the cache's TTLs.
    valid_for: Option<Duration>,
}

impl Judged {
    pub fn new(digest: Digest, report: Report, valid_for: Option<Duration>) -> Judged {
        Judged { digest, report: Arc::new(report), json: Arc::default(), valid_for }
    }

    /// The report as `portcullis audit --format json` prints it.
    pub fn json(&self) -> axum::body::Bytes {
        self.json.get_or_init(|| self.report.to_json().into()).clone()
    }
}

impl cache::Expiry for Judged {
    fn ttl(&self, admit: Duration, deny: Duration) -> Option<Duration> {
        let bound = |ttl: Duration| self.valid_for.map_or(ttl, |v| ttl.min(v));
        let ttl = match self.report.verdict {
            Verdict::Admit => Some(admit),
            // A denial is kept only if it cannot change on retry: no rule
            // errored (timeouts, fuel) and the evidence was read whole.
            Verdict::Deny => {
                let unsure = self
                    .report
                    .subjects
                    .iter()
                    .flat_map(|s| &s.findings)
                    .any(|f| f.outcome == Outcome::Error || f.rule == crate::engine::EVIDENCE_RULE);
                (!unsure).then_some(deny)
            }
        };
        ttl.map(bound).filter(|t| !t.is_zero())
    }
}

/// Why an image could not be judged (never cached).
#[derive(Clone, Debug)]
pub struct Failure {
    pub message: String,
    pub status: StatusCode,
    /// Whether the image itself is the cause (its content is malformed,
    /// altered or over a limit, or its reference is not one): admission
    /// then refuses it whatever the failure policy says. Otherwise the
    /// cause is outside the image (registry down or refusing access,
    /// deadline) and the failure policy decides.
    pub subject_caused: bool,
}

impl From<tokio::task::JoinError> for Failure {
    fn from(e: tokio::task::JoinError) -> Self {
        // The evaluation of this image's evidence panicked or was cancelled.
        Failure {
            message: format!("evaluation failed: {e}"),
            status: StatusCode::INTERNAL_SERVER_ERROR,
            subject_caused: true,
        }
    }
}

impl From<RegistryError> for Failure {
    fn from(e: RegistryError) -> Self {
        let status = match &e {
            RegistryError::BadReference(..) => StatusCode::BAD_REQUEST,
            RegistryError::NotFound { .. } => StatusCode::NOT_FOUND,
            RegistryError::Refused { .. } => StatusCode::FORBIDDEN,
            RegistryError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_GATEWAY,
        };
        // Where a reference points and how large its image is are the
        // image's doing: refused whatever the failure policy says (or an
        // image at a forbidden address would be admitted unjudged).
        let subject_caused = matches!(
            e,
            RegistryError::BadReference(..)
                | RegistryError::BadContent { .. }
                | RegistryError::Refused { .. }
                | RegistryError::TooLarge { .. }
        );
        Failure { message: e.to_string(), status, subject_caused }
    }
}

/// What a cached verdict is keyed by. The rule: a verdict is reused only
/// where every input it was computed from is the same —
/// - the subject: its digest;
/// - the reference parts waivers and rules can match: the repository
///   (normalised `host/path`, as waivers match it) and the tag — the same
///   digest pulled from another repository may fall under other waivers;
/// - the engine fingerprint: policy text, trusted root, plugin digests;
/// - time: an entry lives no longer than the next waiver expiry
///   ([`Judged`]'s `valid_for`, from [`Engine::verdicts_valid_for`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct VerdictKey {
    digest: Digest,
    repository: String,
    tag: Option<String>,
    fingerprint: String,
}
type Verdicts = cache::VerdictCache<VerdictKey, Judged, Failure>;

/// A policy loaded into an engine.
pub struct Loaded {
    pub engine: Arc<Engine>,
}

/// After a stop signal, how long `/readyz` answers 503 while the listener
/// still accepts connections: long enough for Kubernetes to see the pod
/// not ready and take it out of the Service before connections are refused.
pub const DRAIN_DELAY: Duration = Duration::from_secs(2);

pub struct AppState {
    policies: RwLock<Vec<Arc<Loaded>>>,
    registry: Registry,
    verdicts: RwLock<Arc<Verdicts>>,
    tags: cache::TagCache,
    pub metrics: metrics::Metrics,
    ready: AtomicBool,
    /// Set on SIGTERM/SIGINT: `/readyz` answers 503, requests are still served.
    draining: AtomicBool,
    /// Permits for pulls and evaluations ([`ServeOptions::max_evaluations`]),
    /// and how many wait for one.
    evaluations: tokio::sync::Semaphore,
    queued: std::sync::atomic::AtomicUsize,
    options: ServeOptions,
}

impl AppState {
    pub fn new(options: ServeOptions) -> Result<Arc<AppState>, String> {
        if options.policies.is_empty() {
            return Err("serve needs at least one --policy".into());
        }
        let mut registry_options = options.registry.clone();
        registry_options.egress = Some(crate::registry::egress::Egress::new(options.allow_private_registries));
        let registry = Registry::new(registry_options).map_err(|e| e.to_string())?;
        let d = crate::admission::AdmissionSettings::default();
        Ok(Arc::new(AppState {
            policies: RwLock::new(Vec::new()),
            registry,
            verdicts: RwLock::new(cache::VerdictCache::new(d.cache_capacity, d.admit_ttl, d.deny_ttl)),
            tags: cache::TagCache::new(d.cache_capacity, d.tag_ttl),
            metrics: metrics::Metrics::new(),
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            evaluations: tokio::sync::Semaphore::new(options.max_evaluations.max(1)),
            queued: std::sync::atomic::AtomicUsize::new(0),
            options,
        }))
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn policies(&self) -> Vec<Arc<Loaded>> {
        self.policies.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn verdicts(&self) -> Arc<Verdicts> {
        self.verdicts.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Loads (or reloads) every policy whose files changed. Returns whether
    /// anything changed; a policy that fails to load keeps its previous
    /// version (and the error is returned for the log).
    pub async fn load_policies(self: &Arc<Self>) -> Result<bool, String> {
        let mut current = self.policies();
        let mut changed = false;
        let mut errors = Vec::new();
        for (i, path) in self.options.policies.iter().enumerate() {
            // The policy is read with what it includes, and compared by its
            // digest (which covers every file): an edit to an included file
            // is a change too. Reading is cheap; only a change builds an
            // engine (loads plugins).
            let loaded_digest = current.get(i).map(|l| l.engine.policy().digest.clone());
            let (p, opts) = (path.clone(), self.options.engine_options.clone());
            let built = tokio::task::spawn_blocking(move || {
                let policy = Policy::from_file(&p).map_err(|e| e.to_string())?;
                if loaded_digest.as_ref() == Some(&policy.digest) {
                    return Ok(None);
                }
                Engine::new(policy, opts).map(Some).map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            match built {
                Ok(None) => {}
                Ok(Some(engine)) => {
                    let loaded = Arc::new(Loaded { engine: Arc::new(engine) });
                    if i < current.len() {
                        current[i] = loaded;
                    } else {
                        current.push(loaded);
                    }
                    changed = true;
                    self.metrics.reloads.with_label_values(&["ok"]).inc();
                }
                Err(e) => {
                    self.metrics.reloads.with_label_values(&["error"]).inc();
                    errors.push(e);
                }
            }
        }
        if changed && current.len() == self.options.policies.len() {
            let s = current[0].engine.policy().admission.clone();
            *self.verdicts.write().unwrap_or_else(|p| p.into_inner()) =
                cache::VerdictCache::new(s.cache_capacity, s.admit_ttl, s.deny_ttl);
            *self.policies.write().unwrap_or_else(|p| p.into_inner()) = current;
            self.ready.store(true, Ordering::Release);
            self.metrics.ready.set(1);
        }
        if errors.is_empty() { Ok(changed) } else { Err(errors.join("\n")) }
    }

    /// The digest a reference names: pinned, cached, or asked of the registry.
    async fn digest_of(&self, r: &oci_client::Reference, tag_ttl: Duration) -> Result<Digest, Failure> {
        if let Some(d) = r.digest() {
            return Digest::parse(d).map_err(|e| Failure {
                message: format!("{}: {e}", r.whole()),
                status: StatusCode::BAD_REQUEST,
                subject_caused: true,
            });
        }
        let key = r.whole();
        if !tag_ttl.is_zero()
            && let Some(d) = self.tags.get(&key)
        {
            return Ok(d);
        }
        let t = Instant::now();
        let d = self.registry.resolve(r).await.inspect_err(|e| self.count_registry_error(e))?;
        self.metrics.registry_seconds.with_label_values(&["resolve"]).observe(t.elapsed().as_secs_f64());
        self.tags.put(key, d.clone());
        Ok(d)
    }

    /// A permit to pull and evaluate: at once, or after waiting in a queue
    /// of bounded length. A full queue is a failure outside the image (the
    /// failure policy decides), never cached.
    async fn evaluation_permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, Failure> {
        if let Ok(p) = self.evaluations.try_acquire() {
            return Ok(p);
        }
        let waiting = self.queued.fetch_add(1, Ordering::AcqRel);
        self.metrics.queued.inc();
        /// Takes the place in the queue back however the wait ends
        /// (acquired, or the request's deadline dropped it).
        struct InQueue<'a>(&'a AppState);
        impl Drop for InQueue<'_> {
            fn drop(&mut self) {
                self.0.queued.fetch_sub(1, Ordering::AcqRel);
                self.0.metrics.queued.dec();
            }
        }
        let place = InQueue(self);
        if waiting >= self.options.max_queued {
            drop(place);
            self.metrics.busy.inc();
            return Err(Failure {
                message: format!(
                    "server busy: {} evaluations running and {waiting} waiting (serve --max-evaluations, --max-queued)",
                    self.options.max_evaluations
                ),
                status: StatusCode::SERVICE_UNAVAILABLE,
                subject_caused: false,
            });
        }
        let permit = self.evaluations.acquire().await.map_err(|_| Failure {
            message: "server stopping".into(),
            status: StatusCode::SERVICE_UNAVAILABLE,
            subject_caused: false,
        });
        drop(place);
        permit
    }

    fn count_registry_error(&self, e: &RegistryError) {
        let kind = match e {
            RegistryError::BadReference(..) => "reference",
            RegistryError::NotFound { .. } => "not_found",
            RegistryError::Denied { .. } => "denied",
            RegistryError::Unavailable { .. } => "unavailable",
            RegistryError::BadContent { .. } => "bad_content",
            RegistryError::Refused { .. } => "refused",
            RegistryError::TooLarge { .. } => "too_large",
            RegistryError::Credentials(_) => "credentials",
            RegistryError::Cache { .. } => "cache",
        };
        self.metrics.registry_errors.with_label_values(&[kind]).inc();
    }

    /// Judges one image reference with one loaded policy: digest, then the
    /// verdict cache, else pull and evaluate (once for concurrent callers).
    pub async fn judge(self: &Arc<Self>, loaded: &Arc<Loaded>, image: &str) -> Result<(Judged, Served), Failure> {
        let r = crate::registry::parse_reference(image)?;
        let settings = &loaded.engine.policy().admission;
        // The allow-list is decided before any connection (not even a tag
        // lookup) goes to the image's registry.
        settings.allows_registry(&crate::registry::repository_of(&r)).map_err(|message| Failure {
            message,
            status: StatusCode::FORBIDDEN,
            subject_caused: true,
        })?;
        let digest = self.digest_of(&r, settings.tag_ttl).await?;
        let key = VerdictKey {
            digest: digest.clone(),
            repository: crate::registry::repository_of(&r),
            tag: r.tag().map(str::to_string),
            fingerprint: loaded.engine.fingerprint().to_string(),
        };
        let (state, engine) = (self.clone(), loaded.engine.clone());
        let (repository, subject_digest) = (key.repository.clone(), digest.clone());
        let pinned = match r.tag() {
            Some(t) => oci_client::Reference::with_tag_and_digest(
                r.registry().to_string(),
                r.repository().to_string(),
                t.to_string(),
                digest.to_string(),
            ),
            None => oci_client::Reference::with_digest(
                r.registry().to_string(),
                r.repository().to_string(),
                digest.to_string(),
            ),
        };
        let (result, served) = self
            .verdicts()
            .get_or_evaluate(key, move || {
                async move {
                    let _permit = state.evaluation_permit().await?;
                    if let Some(judged) = state.summarised(&engine, &pinned, &subject_digest, &repository).await {
                        return Ok(judged);
                    }
                    let t = Instant::now();
                    let pulled = match state.registry.pull(&pinned, false).await {
                        Ok(p) => p,
                        Err(e) => {
                            state.count_registry_error(&e);
                            return Err(e.into());
                        }
                    };
                    state.metrics.registry_seconds.with_label_values(&["pull"]).observe(t.elapsed().as_secs_f64());
                    let st = state.clone();
                    let judged = judge_pulled(pulled, engine, move |stage, took| {
                        st.metrics.evaluation_seconds.with_label_values(&[stage]).observe(took.as_secs_f64())
                    })
                    .await?;
                    let verdict = match judged.report.verdict {
                        Verdict::Admit => "admit",
                        Verdict::Deny => "deny",
                    };
                    state.metrics.evaluations.with_label_values(&[verdict]).inc();
                    Ok(judged)
                }
                .boxed()
            })
            .await;
        match served {
            Served::Hit => self.metrics.cache_hits.inc(),
            Served::Evaluated => self.metrics.cache_misses.inc(),
            Served::Joined => self.metrics.cache_joins.inc(),
        }
        result.map(|j| (j, served))
    }
}

/// Reads a pulled image and judges it, on a blocking thread (both are CPU
/// work): what `serve` and `gate` do after a pull. `timed` hears how long
/// the `read` and the `judge` stages took. An image that cannot be read is
/// the image's fault.
pub(crate) async fn judge_pulled(
    pulled: crate::registry::Pulled,
    engine: Arc<Engine>,
    timed: impl Fn(&str, Duration) + Send + 'static,
) -> Result<Judged, Failure> {
    tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let input = crate::source::open_pulled(&pulled, &crate::source::OpenOptions::default())
            .map_err(|e| Failure { message: e.to_string(), status: StatusCode::BAD_GATEWAY, subject_caused: true })?;
        timed("read", t.elapsed());
        let t = Instant::now();
        let report = engine.audit(&input);
        timed("judge", t.elapsed());
        Ok(Judged::new(pulled.digest.clone(), report, engine.verdicts_valid_for()))
    })
    .await?
}

impl AppState {
    /// The verdict a trusted verification summary attached to the image
    /// gives, if one does; otherwise the image is judged as usual (a lookup
    /// that fails is no summary).
    async fn summarised(
        &self,
        engine: &Arc<Engine>,
        pinned: &oci_client::Reference,
        digest: &Digest,
        repository: &str,
    ) -> Option<Judged> {
        let trust = self.options.trusted_summaries.as_ref()?;
        let envelopes = self.registry.referrer_envelopes(pinned, summary::ARTIFACT_TYPE).await.ok()?;
        if envelopes.is_empty() {
            return None;
        }
        let reference = format!("docker://{repository}@{digest}");
        match trust.admits(&envelopes, digest, repository, &reference, engine) {
            Ok(report) => {
                self.metrics.summaries.with_label_values(&["trusted"]).inc();
                Some(Judged::new(digest.clone(), report, engine.verdicts_valid_for()))
            }
            Err(why) => {
                self.metrics.summaries.with_label_values(&["ignored"]).inc();
                eprintln!("portcullis serve: {reference}: verification summaries ignored: {}", why.join("; "));
                None
            }
        }
    }
}

/// The HTTP routes over a state (tests drive this directly).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/validate", post(review::validate))
        .route("/mutate", post(review::mutate))
        .route("/v1/evaluate", post(evaluate))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .layer(axum::middleware::from_fn_with_state(state.clone(), read_body_within))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(state.clone(), access::guard))
        .with_state(state)
}

/// The largest request body read.
const MAX_BODY: usize = 8 << 20;

/// Reads the whole request body within the read timeout before the
/// handler runs: a client that trickles its body (or stops sending it) gets
/// `408` and its connection back, instead of holding a task.
async fn read_body_within(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let limit = state.options.read_timeout;
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(limit, axum::body::to_bytes(body, MAX_BODY)).await {
        Ok(Ok(bytes)) => next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await,
        Ok(Err(_)) => (StatusCode::PAYLOAD_TOO_LARGE, format!("request body over {MAX_BODY} bytes, or broken off\n"))
            .into_response(),
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            [(header::CONNECTION, "close")],
            format!("request body not received within {} s\n", limit.as_secs_f64()),
        )
            .into_response(),
    }
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.draining.load(Ordering::Acquire) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else if state.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "loading policies and plugins\n").into_response()
    }
}

/// Waits for SIGTERM (what Kubernetes sends) or SIGINT.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render()).into_response()
}

fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": message.into() });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// `POST /v1/evaluate` `{"image": "host/repo:tag", "policy": "name"}` → the
/// report JSON `portcullis audit --format json docker://…` prints.
async fn evaluate(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let start = Instant::now();
    let (response, verdict) = evaluate_inner(&state, &body).await;
    state.metrics.requests.with_label_values(&["evaluate", verdict]).inc();
    state.metrics.request_seconds.with_label_values(&["evaluate", verdict]).observe(start.elapsed().as_secs_f64());
    response
}

async fn evaluate_inner(state: &Arc<AppState>, body: &[u8]) -> (Response, &'static str) {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Ask {
        image: String,
        #[serde(default)]
        policy: Option<String>,
    }
    let ask: Ask = match serde_json::from_slice(body) {
        Ok(a) => a,
        Err(e) => {
            return (
                json_error(StatusCode::BAD_REQUEST, format!("body: expected {{\"image\": …, \"policy\": …}}: {e}")),
                "error",
            );
        }
    };
    if !state.is_ready() {
        return (json_error(StatusCode::SERVICE_UNAVAILABLE, "policies and plugins are still loading"), "error");
    }
    let policies = state.policies();
    let loaded = match &ask.policy {
        None => policies[0].clone(),
        Some(name) => match policies.iter().find(|l| &l.engine.policy().name == name) {
            Some(l) => l.clone(),
            None => {
                let names: Vec<&str> = policies.iter().map(|l| l.engine.policy().name.as_str()).collect();
                return (
                    json_error(StatusCode::NOT_FOUND, format!("no policy `{name}`; loaded: {}", names.join(", "))),
                    "error",
                );
            }
        },
    };
    let deadline = loaded.engine.policy().admission.deadline;
    match tokio::time::timeout(deadline, state.judge(&loaded, &ask.image)).await {
        Ok(Ok((judged, served))) => {
            let verdict = match judged.report.verdict {
                Verdict::Admit => "admit",
                Verdict::Deny => "deny",
            };
            let cache = match served {
                Served::Hit => "hit",
                Served::Evaluated => "miss",
                Served::Joined => "joined",
            };
            let response = (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::HeaderName::from_static("x-portcullis-cache"), cache),
                ],
                judged.json(),
            )
                .into_response();
            (response, verdict)
        }
        Ok(Err(f)) => (json_error(f.status, f.message), "error"),
        Err(_) => (
            json_error(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "{}: not judged within {} ms (the evaluation goes on; its verdict will be cached)",
                    ask.image,
                    deadline.as_millis()
                ),
            ),
            "error",
        ),
    }
}

/// Runs the server until interrupted: binds, loads policies (ready after),
/// watches policy and certificate files.
pub async fn run(options: ServeOptions) -> Result<(), String> {
    let state = AppState::new(options.clone())?;
    let app = router(state.clone());
    let loader = state.clone();
    let interval = options.reload_interval;
    if options.client_ca.is_some() && options.tls.is_none() {
        return Err("--client-ca needs --tls-cert and --tls-key: client certificates come with TLS".into());
    }
    let client_ca = options.client_ca.clone();
    let tls_config = match &options.tls {
        Some((cert, key)) => Some(axum_server::tls_rustls::RustlsConfig::from_config(tls::server_config(
            cert,
            key,
            client_ca.as_deref(),
        )?)),
        None => None,
    };
    let watched_tls = tls_config.clone().zip(options.tls.clone());
    tokio::spawn(async move {
        if let Err(e) = loader.load_policies().await {
            eprintln!("portcullis serve: {e}");
        }
        let stamp = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let stamps = |c: &PathBuf, k: &PathBuf| (stamp(c), stamp(k), client_ca.as_ref().and_then(stamp));
        let mut tls_stamp = watched_tls.as_ref().map(|(_, (c, k))| stamps(c, k));
        loop {
            tokio::time::sleep(interval).await;
            match loader.load_policies().await {
                Ok(true) => eprintln!("portcullis serve: policies reloaded"),
                Ok(false) => {}
                Err(e) => eprintln!("portcullis serve: policy reload failed, keeping the previous version: {e}"),
            }
            if let Some((config, (cert, key))) = &watched_tls {
                let now = stamps(cert, key);
                if Some(now) != tls_stamp {
                    match tls::server_config(cert, key, client_ca.as_deref()) {
                        Ok(c) => {
                            config.reload_from_config(c);
                            eprintln!("portcullis serve: TLS certificate reloaded")
                        }
                        Err(e) => {
                            eprintln!("portcullis serve: TLS reload failed, keeping the previous certificate: {e}")
                        }
                    }
                    tls_stamp = Some(now);
                }
            }
        }
    });
    eprintln!(
        "portcullis serve: listening on {}://{} ({} polic{})",
        if tls_config.is_some() { "https" } else { "http" },
        options.listen,
        options.policies.len(),
        if options.policies.len() == 1 { "y" } else { "ies" }
    );
    let draining = state.clone();
    listen(app, options.listen, tls_config, options.shutdown_grace, options.read_timeout, "serve", move || {
        draining.draining.store(true, Ordering::Release)
    })
    .await?;
    eprintln!("portcullis serve: stopped");
    Ok(())
}

/// Serves `app` on `addr` (HTTPS with `tls`) until SIGTERM or SIGINT, then
/// shuts down cleanly: `stopping` runs at once (so `/readyz` can answer
/// 503), the listener stays open for [`DRAIN_DELAY`] (so the Service stops
/// routing here first), then no new connections and `grace` for requests
/// in flight. The signal is awaited on a thread of its own, with its own
/// small runtime: evaluations busy on the server's workers must not delay it.
pub(crate) async fn listen(
    app: Router,
    addr: SocketAddr,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    grace: Duration,
    header_timeout: Duration,
    who: &'static str,
    stopping: impl FnOnce() + Send + 'static,
) -> Result<(), String> {
    let handle = axum_server::Handle::new();
    let shutdown = handle.clone();
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the signal handler: {e}"))?;
    std::thread::Builder::new()
        .name("portcullis-signals".into())
        .spawn(move || {
            signals.block_on(async move {
                stop_signal().await;
                stopping();
                eprintln!(
                    "portcullis {who}: stopping: /readyz answers 503; new connections refused in {} s; requests in flight have {} s",
                    DRAIN_DELAY.as_secs(),
                    grace.as_secs()
                );
                tokio::time::sleep(DRAIN_DELAY).await;
                shutdown.graceful_shutdown(Some(grace));
            })
        })
        .map_err(|e| format!("cannot start the signal handler: {e}"))?;
    // A client gets `header_timeout` to send each request's headers (the
    // first, and each on a kept-alive connection); then it is cut off.
    let served = match tls {
        Some(tls) => {
            let mut server = axum_server::bind_rustls(addr, tls);
            server.http_builder().http1().header_read_timeout(header_timeout);
            server.handle(handle).serve(app.into_make_service()).await
        }
        None => {
            let mut server = axum_server::bind(addr);
            server.http_builder().http1().header_read_timeout(header_timeout);
            server.handle(handle).serve(app.into_make_service()).await
        }
    };
    served.map_err(|e| format!("{addr}: {e}"))
}
