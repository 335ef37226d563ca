//! Passing a request to the upstream registry and its answer back, both
//! bodies streamed chunk by chunk (a 600 MB layer upload never sits in the
//! gate's memory). Headers go through unchanged — `Authorization` to the
//! upstream, `WWW-Authenticate`, `Docker-Upload-UUID`, `Range`,
//! `Docker-Content-Digest`, `OCI-Subject` back — except the hop-by-hop ones,
//! which belong to each connection, and `Location`, which is rewritten
//! from the upstream's address to the gate's when the upstream answers
//! with an absolute URL (distribution does, for uploads).

use super::GateState;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures_util::TryStreamExt;
use std::sync::Arc;
use std::time::Instant;

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Forwards a request as it came; answers what the upstream answers.
pub async fn forward(state: &Arc<GateState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let counter = state.metrics.bytes_in.clone();
    let stream = body.into_data_stream().inspect_ok(move |chunk| {
        counter.inc_by(chunk.len() as u64);
    });
    let body = reqwest::Body::wrap_stream(stream);
    send(state, &parts.method, &parts.uri, &parts.headers, body).await
}

/// Sends one request upstream: `path_and_query` from `uri`, the client's
/// headers (less hop-by-hop and `Host`), `body`.
pub async fn send(
    state: &Arc<GateState>,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: reqwest::Body,
) -> Response {
    let client_host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string);
    let t = Instant::now();
    let upstream = match upstream_request(state, method, uri, headers, body).await {
        Ok(r) => r,
        Err(e) => {
            state.metrics.upstream_errors.inc();
            return super::reply::unavailable(&format!("the registry behind the gate did not answer: {e}"));
        }
    };
    state.metrics.upstream_seconds.observe(t.elapsed().as_secs_f64());
    back(state, upstream, client_host.as_deref())
}

/// The upstream's answer to one request.
pub async fn upstream_request(
    state: &GateState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: reqwest::Body,
) -> Result<reqwest::Response, String> {
    let mut url = state.options.upstream.clone();
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let (path, query) = path.split_once('?').map_or((path, None), |(p, q)| (p, Some(q)));
    url.set_path(path);
    url.set_query(query);
    let mut out = reqwest::header::HeaderMap::new();
    for (k, v) in headers {
        if k != header::HOST && !is_hop_by_hop(k, headers) {
            out.append(k.clone(), v.clone());
        }
    }
    state.http.request(method.clone(), url).headers(out).body(body).send().await.map_err(|e| {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg = format!("{msg}: {s}");
            source = s.source();
        }
        msg
    })
}

/// Turns the upstream's answer into the gate's, streaming its body.
pub fn back(state: &GateState, upstream: reqwest::Response, client_host: Option<&str>) -> Response {
    let (status, headers) = head_of(state, &upstream, client_host);
    let counter = state.metrics.bytes_out.clone();
    let stream = upstream.bytes_stream().inspect_ok(move |chunk| {
        counter.inc_by(chunk.len() as u64);
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The status and headers the client gets for an upstream answer.
pub fn head_of(state: &GateState, upstream: &reqwest::Response, client_host: Option<&str>) -> (StatusCode, HeaderMap) {
    let status = StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = HeaderMap::new();
    for (k, v) in upstream.headers() {
        if is_hop_by_hop(k, upstream.headers()) {
            continue;
        }
        if k == header::LOCATION
            && let Some(rewritten) = rewrite_location(state, v, client_host)
        {
            headers.append(k.clone(), rewritten);
            continue;
        }
        headers.append(k.clone(), v.clone());
    }
    (status, headers)
}

fn is_hop_by_hop(name: &HeaderName, headers: &HeaderMap) -> bool {
    if HOP_BY_HOP.contains(&name.as_str()) {
        return true;
    }
    // Headers the `Connection` header names are hop-by-hop too.
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(name.as_str())))
}

/// An absolute `Location` at the upstream, moved to the gate's address as
/// the client named it; relative ones and other hosts are left as they are.
fn rewrite_location(state: &GateState, v: &HeaderValue, client_host: Option<&str>) -> Option<HeaderValue> {
    let location = url::Url::parse(v.to_str().ok()?).ok()?;
    let upstream = &state.options.upstream;
    if location.host_str() != upstream.host_str()
        || location.port_or_known_default() != upstream.port_or_known_default()
    {
        return None;
    }
    let scheme = if state.options.tls.is_some() { "https" } else { "http" };
    let host = client_host.map_or_else(|| state.options.listen.to_string(), str::to_string);
    let mut moved = format!("{scheme}://{host}{}", location.path());
    if let Some(q) = location.query() {
        moved.push('?');
        moved.push_str(q);
    }
    HeaderValue::from_str(&moved).ok()
}
