//! Reading an `admission.k8s.io/v1` AdmissionReview body as sent to the
//! webhook: bounded before it is parsed (the body is the caller's to make,
//! and the object inside it is whatever the user applied), then checked to
//! be a review, so the server only translates.

use serde_json::Value;

/// Parses a review body. Nesting deeper than [`crate::nesting::DOCUMENT`]
/// is refused before the parser descends into it.
pub fn read(body: &[u8]) -> Result<Value, String> {
    crate::nesting::json(body, crate::nesting::DOCUMENT).map_err(|e| format!("body: {e}"))?;
    serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))
}

/// The `request` of an AdmissionReview v1 (or a bare request, as kwctl's
/// `--request-path` files are).
pub fn request_of(review: &Value) -> Result<&Value, String> {
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
