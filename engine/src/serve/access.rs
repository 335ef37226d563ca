//! Who may use which route. The webhook routes (`/validate`, `/mutate`)
//! are the API server's: with `--client-ca` they answer only clients that
//! presented a certificate the CA signed. The API routes (`/v1/evaluate`,
//! `/metrics`) answer a request carrying the bearer token
//! (`--api-token-file`) or, with `--client-ca`, a verified client
//! certificate; with neither configured they are open. The probes
//! (`/healthz`, `/readyz`) are always open: the kubelet presents nothing.
//!
//! Decided before the body is read, so a refused client costs nothing.

use super::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

pub(super) async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let certified = request
        .extensions()
        .get::<Arc<axum_server::tls::TlsInfo>>()
        .is_some_and(|tls| !tls.peer_certificates.is_empty());
    let options = &state.options;
    match request.uri().path() {
        "/validate" | "/mutate" if options.client_ca.is_some() && !certified => super::json_error(
            StatusCode::FORBIDDEN,
            "this route answers the API server only: present a client certificate signed by the CA given to serve --client-ca",
        ),
        "/v1/evaluate" | "/metrics" if !api_allowed(&state, request.headers(), certified) => refused(&state),
        _ => next.run(request).await,
    }
}

/// No credential configured; or the right token; or a certificate the
/// client CA signed.
fn api_allowed(state: &AppState, headers: &HeaderMap, certified: bool) -> bool {
    let o = &state.options;
    match (&o.api_token, &o.client_ca) {
        (None, None) => true,
        (token, ca) => token.as_ref().is_some_and(|t| token_matches(t, headers)) || (ca.is_some() && certified),
    }
}

/// Compared through SHA-256 digests, so the time taken does not depend on
/// how much of a guess is right.
fn token_matches(token: &str, headers: &HeaderMap) -> bool {
    use sha2::{Digest as _, Sha256};
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    Sha256::digest(given.as_bytes()) == Sha256::digest(token.as_bytes())
}

fn refused(state: &AppState) -> Response {
    let o = &state.options;
    let how = match (&o.api_token, &o.client_ca) {
        (Some(_), Some(_)) => {
            "`Authorization: Bearer <token>` (serve --api-token-file) or a client certificate signed by serve --client-ca"
        }
        (Some(_), None) => "`Authorization: Bearer <token>` (serve --api-token-file)",
        _ => "a client certificate signed by the CA given to serve --client-ca",
    };
    if o.api_token.is_some() {
        let mut r = super::json_error(StatusCode::UNAUTHORIZED, format!("this route needs {how}"));
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    } else {
        super::json_error(StatusCode::FORBIDDEN, format!("this route needs {how}"))
    }
}
