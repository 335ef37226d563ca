//! On admit, the verdict goes into the registry with the image: a SLSA
//! Verification Summary Attestation of the pushed manifest (the report's
//! statement for it, [`crate::report::vsa`]), DSSE-signed with the gate's
//! key and attached as an OCI referrer — an artifact manifest whose
//! `subject` is the image — plus, where the upstream has no referrers API,
//! an entry in the referrers tag schema index (`sha256-<hex>`). A webhook
//! trusting the key ([`crate::serve::summary`]) then admits the image
//! without pulling it.
//!
//! Written with the pusher's credentials (who may push the image may attach
//! to it); a failure is logged and counted, and never undoes the push.

use super::{GateState, proxy};
use crate::digest::Digest;
use crate::oci::media_type;
use crate::report::{Report, vsa};
use crate::serve::summary::ARTIFACT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use serde_json::json;

const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

/// Attaches the signed summary of `digest` (pushed as `media_type`,
/// `size` bytes) in repository `name`; returns the referrer's digest.
pub async fn attach(
    state: &GateState,
    key_pem: &str,
    client_headers: &HeaderMap,
    name: &str,
    subject: (&Digest, &str, usize),
    report: &Report,
) -> Result<Digest, String> {
    let (digest, subject_type, size) = subject;
    let now = jiff::Timestamp::now();
    let statement = vsa::statements(report, &now)
        .into_iter()
        .find(|st| st["subject"][0]["digest"][digest.algorithm()].as_str() == Some(digest.encoded()))
        .ok_or_else(|| format!("the report has no subject {digest}"))?;
    let envelope = serde_json::to_vec(&vsa::sign(&statement, key_pem)?).map_err(|e| e.to_string())?;
    let mut headers = HeaderMap::new();
    if let Some(a) = client_headers.get(header::AUTHORIZATION) {
        headers.insert(header::AUTHORIZATION, a.clone());
    }
    put_blob(state, &headers, name, b"{}").await?;
    put_blob(state, &headers, name, &envelope).await?;
    let referrer = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_CONFIG, "digest": Digest::sha256(b"{}"), "size": 2},
        "layers": [{
            "mediaType": crate::attestation::DSSE_ENVELOPE,
            "digest": Digest::sha256(&envelope),
            "size": envelope.len(),
            "annotations": {"in-toto.io/predicate-type": vsa::PREDICATE_TYPE},
        }],
        "subject": {"mediaType": subject_type, "digest": digest, "size": size},
        "annotations": {"org.opencontainers.image.created": now.to_string()},
    }))
    .map_err(|e| e.to_string())?;
    let referrer_digest = Digest::sha256(&referrer);
    let stored = put_manifest(state, &headers, name, referrer_digest.as_str(), &referrer).await?;
    if !stored.contains_key("oci-subject") {
        // No referrers API upstream: list it under the tag schema, as
        // clients do (read, add, write back).
        let tag = format!("{}-{}", digest.algorithm(), digest.encoded());
        let mut index = current_index(state, &headers, name, &tag).await?;
        let entry = json!({
            "mediaType": media_type::OCI_MANIFEST,
            "digest": referrer_digest,
            "size": referrer.len(),
            "artifactType": ARTIFACT_TYPE,
        });
        if let Some(list) = index["manifests"].as_array_mut() {
            list.push(entry);
        }
        let bytes = serde_json::to_vec(&index).map_err(|e| e.to_string())?;
        put_manifest(state, &headers, name, &tag, &bytes).await?;
    }
    Ok(referrer_digest)
}

fn uri(s: String) -> Result<Uri, String> {
    s.parse().map_err(|e| format!("{s}: {e}"))
}

/// A monolithic upload (POST, then PUT with the digest), unless the blob
/// is already there.
async fn put_blob(state: &GateState, headers: &HeaderMap, name: &str, bytes: &[u8]) -> Result<(), String> {
    let digest = Digest::sha256(bytes);
    let there = proxy::upstream_request(
        state,
        &Method::HEAD,
        &uri(format!("/v2/{name}/blobs/{digest}"))?,
        headers,
        reqwest::Body::from(""),
    )
    .await?;
    if there.status().is_success() {
        return Ok(());
    }
    let started = proxy::upstream_request(
        state,
        &Method::POST,
        &uri(format!("/v2/{name}/blobs/uploads/"))?,
        headers,
        reqwest::Body::from(""),
    )
    .await?;
    if started.status().as_u16() != 202 {
        return Err(format!("starting an upload to {name}: the registry answered {}", started.status()));
    }
    let location = started
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("starting an upload to {name}: no Location"))?;
    let mut url = state.options.upstream.join(location).map_err(|e| format!("upload Location {location}: {e}"))?;
    url.query_pairs_mut().append_pair("digest", digest.as_str());
    let mut request = state.http.put(url).body(bytes.to_vec()).header(header::CONTENT_TYPE, "application/octet-stream");
    if let Some(a) = headers.get(header::AUTHORIZATION) {
        request = request.header(header::AUTHORIZATION, a.clone());
    }
    let done = request.send().await.map_err(|e| e.to_string())?;
    if done.status().as_u16() != 201 {
        return Err(format!("uploading {digest} to {name}: the registry answered {}", done.status()));
    }
    Ok(())
}

async fn put_manifest(
    state: &GateState,
    headers: &HeaderMap,
    name: &str,
    reference: &str,
    bytes: &[u8],
) -> Result<HeaderMap, String> {
    let mut headers = headers.clone();
    let mt = crate::oci::sniff_media_type(bytes).unwrap_or_else(|| media_type::OCI_MANIFEST.to_string());
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(&mt).map_err(|e| e.to_string())?);
    let r = proxy::upstream_request(
        state,
        &Method::PUT,
        &uri(format!("/v2/{name}/manifests/{reference}"))?,
        &headers,
        reqwest::Body::from(bytes.to_vec()),
    )
    .await?;
    if !r.status().is_success() {
        return Err(format!("storing {name}:{reference}: the registry answered {}", r.status()));
    }
    Ok(r.headers().clone())
}

/// The referrers index under `tag`, or a new empty one.
async fn current_index(
    state: &GateState,
    headers: &HeaderMap,
    name: &str,
    tag: &str,
) -> Result<serde_json::Value, String> {
    let mut ask = headers.clone();
    ask.insert(header::ACCEPT, HeaderValue::from_static(media_type::OCI_INDEX));
    let r = proxy::upstream_request(
        state,
        &Method::GET,
        &uri(format!("/v2/{name}/manifests/{tag}"))?,
        &ask,
        reqwest::Body::from(""),
    )
    .await?;
    let empty = json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": []});
    if r.status().as_u16() == 404 {
        return Ok(empty);
    }
    if !r.status().is_success() {
        return Err(format!("reading {name}:{tag}: the registry answered {}", r.status()));
    }
    let bytes = r.bytes().await.map_err(|e| e.to_string())?;
    // What is there must be an index we can read; otherwise it is kept and
    // the summary is left unlisted.
    crate::oci::parse_index(&bytes).map_err(|e| format!("{name}:{tag} is not a referrers index: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}
