//! `portcullis gate`: the engine in front of an OCI registry, refusing a
//! push before its tag exists.
//!
//! A reverse proxy for the distribution API. Every request is passed to the
//! upstream registry as it came, streaming (blobs are never held in memory),
//! except a manifest push under a tag: that manifest is first stored by
//! digest (which makes nothing pullable by a name), the image it names is
//! judged from the upstream with the pusher's own credentials by the same
//! engine as `audit` and `serve`, and only an admitted image gets its tag.
//! A denied push gets the distribution spec's `DENIED` error naming each
//! denying rule; a push that cannot be judged (upstream down, deadline) is
//! refused with `UNAVAILABLE`, never forwarded unjudged.
//!
//! Data flows one way: request → [`classify`] → upstream (by digest) →
//! [`judge`] → upstream (tag) or refusal ([`reply`]).

mod admitted;
pub mod cfg;
pub mod classify;
mod judge;
mod metrics;
mod proxy;
mod reply;
mod speculate;
mod summary;

use crate::engine::{Engine, EngineOptions};
use crate::policy::Policy;
use crate::registry::{Registry, RegistryOptions};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What the gate does with a push it would deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refuse it (`403 DENIED`).
    Enforce,
    /// Forward it, with `Warning: 299` headers saying what would be denied.
    Audit,
}

#[derive(Clone)]
pub struct GateOptions {
    /// The registry behind the gate: `http://host:port` or `https://…`.
    pub upstream: url::Url,
    pub listen: SocketAddr,
    /// Each a policy (with its includes) applied to the repositories its
    /// `[gate]` table binds it to (all, without one).
    pub policies: Vec<PathBuf>,
    /// PEM certificate chain and private key; both or neither.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub mode: Mode,
    /// The registry name images are judged under (what waivers and
    /// `[admission] registries` match, what reports name): the name pullers
    /// use. Default: the upstream's `host:port`.
    pub name: Option<String>,
    /// Evidence is read with these settings (blob and layer caches,
    /// timeouts); credentials in its auth file are used only for pushes
    /// that carry none of their own.
    pub registry: RegistryOptions,
    pub engine_options: EngineOptions,
    /// The longest a tag push may wait for its verdict.
    pub deadline: Duration,
    /// Refuse `GET` of a runnable manifest by digest unless this gate
    /// admitted it ([`admitted`]).
    pub admitted_only: bool,
    /// ECDSA P-256 PKCS#8 private key (PEM) that signs the verification
    /// summary attached to each admitted image ([`summary`]).
    pub vsa_key: Option<String>,
    pub shutdown_grace: Duration,
    /// How long a client may take to send a request's headers (bodies are
    /// blob uploads, which may be slow: the upstream bounds those).
    pub header_timeout: Duration,
}

pub struct GateState {
    options: GateOptions,
    /// One per `--policy`, in order.
    engines: Vec<Arc<Engine>>,
    registry: Registry,
    /// `host:port` of the upstream, as image references name it.
    upstream_host: String,
    /// The registry name of judged images.
    name: String,
    http: reqwest::Client,
    metrics: metrics::Metrics,
    verdicts: judge::Verdicts,
    push_locks: judge::PushLocks,
    /// With `--admitted-only`: the digests admitted.
    admitted: Option<admitted::Admitted>,
    /// Layers scanned as they are uploaded (none without a layer cache).
    speculation: Option<speculate::Speculation>,
    draining: AtomicBool,
}

impl GateState {
    pub fn new(options: GateOptions) -> Result<Arc<GateState>, String> {
        if options.policies.is_empty() {
            return Err("the gate needs at least one --policy".into());
        }
        let mut engines = Vec::new();
        for path in &options.policies {
            let policy = Policy::from_file(path).map_err(|e| e.to_string())?;
            engines.push(Arc::new(Engine::new(policy, options.engine_options.clone()).map_err(|e| e.to_string())?));
        }
        let host = options.upstream.host_str().ok_or_else(|| format!("--upstream {}: no host", options.upstream))?;
        if !matches!(options.upstream.scheme(), "http" | "https") {
            return Err(format!("--upstream {}: expected an http:// or https:// URL", options.upstream));
        }
        let upstream_host = match options.upstream.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let mut registry_options = options.registry.clone();
        if options.upstream.scheme() == "http" {
            registry_options.insecure.push(upstream_host.clone());
        }
        let admitted = match options.admitted_only {
            true => Some(admitted::Admitted::open(&registry_options.cache_dir.join("gate-admitted.redb"))?),
            false => None,
        };
        let registry = Registry::new(registry_options).map_err(|e| e.to_string())?;
        let http = reqwest::Client::builder()
            // Redirects (blob GETs to storage) go back to the client as
            // they came; the gate follows nothing itself.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(options.registry.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("portcullis-gate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let name = options.name.clone().unwrap_or_else(|| upstream_host.clone());
        let speculation =
            registry.layer_cache().map(|c| speculate::Speculation::new(c.clone(), registry.scan_limits().clone()));
        Ok(Arc::new(GateState {
            engines,
            registry,
            upstream_host,
            name,
            http,
            metrics: metrics::Metrics::new(),
            verdicts: judge::new_cache(),
            push_locks: judge::PushLocks::default(),
            admitted,
            speculation,
            draining: AtomicBool::new(false),
            options,
        }))
    }

    /// The engines whose policy judges pushes to `repository` (`HOST/PATH`).
    pub(crate) fn bound(&self, repository: &str) -> Vec<Arc<Engine>> {
        self.engines.iter().filter(|e| e.policy().gate.binds(repository)).cloned().collect()
    }
}

/// The gate's routes over a state: its own three, and the registry's.
pub fn router(state: Arc<GateState>) -> Router {
    Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .route("/readyz", axum::routing::get(readyz))
        .route("/metrics", axum::routing::get(metrics_text))
        .fallback(registry_request)
        .with_state(state)
}

async fn readyz(State(state): State<Arc<GateState>>) -> Response {
    if state.draining.load(Ordering::Acquire) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}

async fn metrics_text(State(state): State<Arc<GateState>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render()).into_response()
}

/// Every distribution API request: manifest pushes are decided here, the
/// rest streams through.
async fn registry_request(State(state): State<Arc<GateState>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    if request.method() == Method::PUT
        && let Some((name, reference)) = classify::manifest_path(&path)
    {
        let (name, reference) = (name.to_string(), reference.to_string());
        return judge::manifest_push(&state, request, &name, &reference).await;
    }
    if request.method() == Method::GET
        && state.admitted.is_some()
        && let Some((name, reference)) = classify::manifest_path(&path)
        && let Ok(digest) = crate::digest::Digest::parse(reference)
    {
        let name = name.to_string();
        return judge::manifest_pull(&state, request, &name, &digest).await;
    }
    if let Some(speculation) = &state.speculation
        && let Some(response) = upload(&state, speculation, request.method(), &path, request.uri().query())
    {
        return response(request).await;
    }
    proxy::forward(&state, request).await
}

type Handler<'a> = Box<dyn FnOnce(Request) -> futures_util::future::BoxFuture<'a, Response> + Send + 'a>;

/// Blob uploads, teed into the speculative scanner: chunks (`PATCH`), the
/// completing `PUT ?digest=`, a monolithic `POST ?digest=`; a `DELETE`
/// cancels. `None`: not an upload request.
fn upload<'a>(
    state: &'a Arc<GateState>,
    speculation: &'a speculate::Speculation,
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Option<Handler<'a>> {
    use futures_util::FutureExt;
    let digest = speculate::digest_param(query);
    let session = match (method, speculate::session_of(path)) {
        (&Method::PATCH, Some(s)) | (&Method::PUT, Some(s)) => s.to_string(),
        (&Method::DELETE, Some(s)) => {
            speculation.abandon(s);
            return None;
        }
        (&Method::POST, None) if path.ends_with("/blobs/uploads/") && digest.is_some() => {
            format!("{path}#{}", rand::random::<u64>())
        }
        _ => return None,
    };
    Some(Box::new(move |request: Request| {
        async move {
            let (parts, body) = request.into_parts();
            let feed = speculation.feed(&session);
            let counter = state.metrics.bytes_in.clone();
            let stream = futures_util::TryStreamExt::inspect_ok(body.into_data_stream(), move |chunk| {
                counter.inc_by(chunk.len() as u64)
            });
            let teed = speculate::tee(stream, feed);
            let response =
                proxy::send(state, &parts.method, &parts.uri, &parts.headers, reqwest::Body::wrap_stream(teed)).await;
            match (response.status(), &digest) {
                (StatusCode::CREATED, Some(d)) => {
                    if speculation.finish(&session, d).await {
                        state.metrics.speculative_scans.inc();
                    }
                }
                (s, _) if s.is_success() => {}
                _ => speculation.abandon(&session),
            }
            response
        }
        .boxed()
    }))
}

/// Runs the gate until SIGTERM or SIGINT.
pub async fn run(options: GateOptions) -> Result<(), String> {
    let state = GateState::new(options.clone())?;
    let app = router(state.clone());
    let tls = match &options.tls {
        Some((cert, key)) => Some(
            axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| format!("TLS certificate {} / key {}: {e}", cert.display(), key.display()))?,
        ),
        None => None,
    };
    eprintln!(
        "portcullis gate: listening on {}://{} in front of {} ({} mode, images judged as {})",
        if tls.is_some() { "https" } else { "http" },
        options.listen,
        options.upstream,
        match options.mode {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
        },
        state.name,
    );
    let draining = state.clone();
    crate::serve::listen(app, options.listen, tls, options.shutdown_grace, options.header_timeout, "gate", move || {
        draining.draining.store(true, Ordering::Release)
    })
    .await?;
    eprintln!("portcullis gate: stopped");
    Ok(())
}
