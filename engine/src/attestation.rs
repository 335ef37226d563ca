//! in-toto statements and the envelopes they travel in: DSSE envelopes,
//! Sigstore bundles carrying one, or a bare statement (Docker buildx
//! attestation manifests). This module only *reads* them; whether a
//! signature over them is valid is the signature verifier's business.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
const IN_TOTO_PAYLOAD: &str = "application/vnd.in-toto+json";

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Subject {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub digest: std::collections::BTreeMap<String, String>,
}

/// An in-toto statement (v0.1 or v1).
#[derive(Debug, Clone, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub kind: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    #[serde(default)]
    pub predicate: Value,
}

impl Statement {
    /// `sha256:<hex>` digests of the statement's subjects.
    pub fn subject_digests(&self) -> Vec<String> {
        self.subject
            .iter()
            .filter_map(|s| s.digest.get("sha256"))
            .map(|h| format!("sha256:{}", h.to_ascii_lowercase()))
            .collect()
    }
}

/// Whether a media type names something [`statement`] can read.
pub fn is_attestation_media_type(media_type: &str) -> bool {
    media_type == DSSE_ENVELOPE || media_type == IN_TOTO || is_bundle(media_type)
}

fn is_bundle(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.dev.sigstore.bundle")
}

/// Reads the statement out of a DSSE envelope, a Sigstore bundle holding
/// one, or a bare statement.
pub fn statement(media_type: &str, bytes: &[u8]) -> Result<Statement, String> {
    let statement_bytes = if media_type == IN_TOTO {
        bytes.to_vec()
    } else {
        let envelope: Envelope = if is_bundle(media_type) {
            let bundle: Value = serde_json::from_slice(bytes).map_err(|e| format!("Sigstore bundle: {e}"))?;
            let env = bundle.get("dsseEnvelope").ok_or("Sigstore bundle without a DSSE envelope")?;
            serde_json::from_value(env.clone()).map_err(|e| format!("bundle dsseEnvelope: {e}"))?
        } else {
            serde_json::from_slice(bytes).map_err(|e| format!("DSSE envelope: {e}"))?
        };
        if envelope.payload_type != IN_TOTO_PAYLOAD {
            return Err(format!("DSSE payload type `{}` is not an in-toto statement", envelope.payload_type));
        }
        base64::engine::general_purpose::STANDARD
            .decode(envelope.payload.trim())
            .map_err(|e| format!("DSSE payload is not base64: {e}"))?
    };
    let s: Statement = serde_json::from_slice(&statement_bytes).map_err(|e| format!("in-toto statement: {e}"))?;
    if !s.kind.starts_with("https://in-toto.io/Statement/v") {
        return Err(format!("`{}` is not an in-toto statement type", s.kind));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_and_bare_statement() {
        let st = r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"AB"}}],"predicateType":"p","predicate":{}}"#;
        let payload = base64::engine::general_purpose::STANDARD.encode(st);
        let env = format!(r#"{{"payloadType":"application/vnd.in-toto+json","payload":"{payload}","signatures":[]}}"#);
        let s = statement(DSSE_ENVELOPE, env.as_bytes()).unwrap();
        assert_eq!(s.subject_digests(), vec!["sha256:ab"]);
        assert_eq!(statement(IN_TOTO, st.as_bytes()).unwrap().predicate_type, "p");
        let wrong = env.replace("in-toto+json", "other");
        assert!(statement(DSSE_ENVELOPE, wrong.as_bytes()).unwrap_err().contains("not an in-toto statement"));
    }
}
