//! The gate's own answers, in the distribution spec's error format
//! (`{"errors":[{"code","message","detail"}]}`), so that `skopeo`, `podman`
//! and `docker` print the message to the person pushing. A verdict is
//! never a 401 (clients would re-authenticate in a loop) nor a 5xx (they
//! would retry); only a push that could not be judged is a 503.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

fn error(status: StatusCode, code: &str, message: &str, detail: serde_json::Value) -> Response {
    let body = serde_json::json!({ "errors": [{ "code": code, "message": message, "detail": detail }] });
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body.to_string()).into_response()
}

/// `403 DENIED`: the policy refuses the image (or the push is refused
/// whatever the policy says); `detail` carries the verdict and report.
pub fn denied(message: &str, detail: serde_json::Value) -> Response {
    error(StatusCode::FORBIDDEN, "DENIED", message, detail)
}

/// `503 UNAVAILABLE`: the push could not be judged; nothing was tagged.
pub fn unavailable(message: &str) -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", message, serde_json::Value::Null)
}

/// `400`/`413 MANIFEST_INVALID`: the pushed document is not one.
pub fn manifest_invalid(status: StatusCode, message: &str) -> Response {
    error(status, "MANIFEST_INVALID", message, serde_json::Value::Null)
}

/// `Warning: 299 - "…"` (the distribution spec's warnings, RFC 7234 form):
/// what audit mode says instead of refusing.
pub fn warning(text: &str) -> Option<HeaderValue> {
    let clean: String = text.chars().map(|c| if c == '"' || c == '\\' || c.is_control() { '\'' } else { c }).collect();
    HeaderValue::from_str(&format!("299 - \"portcullis: {clean}\"")).ok()
}
