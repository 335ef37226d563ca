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
    crate::nesting::json(bytes, crate::nesting::DOCUMENT).map_err(|e| format!("{media_type}: {e}"))?;
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
    crate::nesting::json(&statement_bytes, crate::nesting::DOCUMENT).map_err(|e| format!("in-toto statement: {e}"))?;
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

/// The in-toto attestation framework's validity rules (Statement v1,
/// ResourceDescriptor, SLSA Provenance v1 predicate), as its reference
/// implementation checks them; each failure is named as the reference
/// implementation names it (`ErrSubjectRequired`...).
pub mod validate {
    use serde_json::Value;

    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    #[error("{name}: {detail}")]
    pub struct Invalid {
        /// The reference implementation's error name.
        pub name: &'static str,
        pub detail: String,
    }

    fn invalid<T>(name: &'static str, detail: impl Into<String>) -> Result<T, Invalid> {
        Err(Invalid { name, detail: detail.into() })
    }

    fn text(v: &Value, key: &str) -> Option<String> {
        v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
    }

    /// Hex lengths of the digest algorithms in-toto knows; others are free.
    fn digest_lengths(alg: &str) -> Option<&'static [usize]> {
        Some(match alg {
            "sha224" | "sha512_224" | "sha3_224" => &[56],
            "sha256" | "sha512_256" | "sha3_256" | "dirHash" => &[64],
            "sha384" | "sha3_384" => &[96],
            "sha512" | "sha3_512" => &[128],
            "sha1" => &[40],
            "md5" => &[32],
            "gitCommit" | "gitTree" | "gitBlob" | "gitTag" => &[40, 64],
            _ => return None,
        })
    }

    /// A ResourceDescriptor: a name, URI or digest; known digests hex of the
    /// right length.
    pub fn resource_descriptor(rd: &Value) -> Result<(), Invalid> {
        let digest = rd.get("digest").and_then(Value::as_object);
        if text(rd, "name").is_none() && text(rd, "uri").is_none() && digest.is_none_or(|d| d.is_empty()) {
            return invalid("ErrRDRequiredField", "a resource descriptor needs a name, uri or digest");
        }
        for (alg, value) in digest.into_iter().flatten() {
            let Some(lengths) = digest_lengths(alg) else { continue };
            let value = value.as_str().unwrap_or_default();
            if hex::decode(value).is_err() {
                return invalid("ErrInvalidDigestEncoding", format!("{alg} digest `{value}` is not hex"));
            }
            if !lengths.contains(&value.len()) {
                return invalid(
                    "ErrIncorrectDigestLength",
                    format!("{alg} digest `{value}` has {} hex digits", value.len()),
                );
            }
        }
        Ok(())
    }

    /// An in-toto Statement (v1, or v0.1 read as v1).
    pub fn statement(st: &Value) -> Result<(), Invalid> {
        let kind = text(st, "_type").unwrap_or_default();
        if kind != "https://in-toto.io/Statement/v1" && kind != "https://in-toto.io/Statement/v0.1" {
            return invalid("ErrInvalidStatementType", format!("`{kind}` is not an in-toto statement type"));
        }
        let subjects = st.get("subject").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        if subjects.is_empty() {
            return invalid("ErrSubjectRequired", "the statement has no subject");
        }
        for (i, s) in subjects.iter().enumerate() {
            resource_descriptor(s).map_err(|e| Invalid { detail: format!("subject[{i}]: {}", e.detail), ..e })?;
            if s.get("digest").and_then(Value::as_object).is_none_or(|d| d.is_empty()) {
                return invalid("ErrDigestRequired", format!("subject[{i}] has no digest"));
            }
        }
        if text(st, "predicateType").is_none() {
            return invalid("ErrPredicateTypeRequired", "the statement has no predicateType");
        }
        if st.get("predicate").is_none_or(Value::is_null) {
            return invalid("ErrPredicateRequired", "the statement has no predicate");
        }
        Ok(())
    }

    /// A SLSA Provenance v1 predicate.
    pub fn provenance_v1(p: &Value) -> Result<(), Invalid> {
        // As protobuf reads JSON, an empty message is an absent one.
        let present = |v: &&Value| v.as_object().is_some_and(|m| !m.is_empty());
        let bd = p.get("buildDefinition").filter(present);
        let Some(bd) = bd else { return invalid("ErrBuildDefinitionRequired", "no buildDefinition") };
        if text(bd, "buildType").is_none() {
            return invalid("ErrBuildTypeRequired", "buildDefinition has no buildType");
        }
        if bd.get("externalParameters").is_none_or(Value::is_null) {
            return invalid("ErrExternalParamsRequired", "buildDefinition has no externalParameters");
        }
        let rds = |v: &Value, key: &str| -> Result<(), Invalid> {
            for (i, rd) in v.get(key).and_then(Value::as_array).into_iter().flatten().enumerate() {
                resource_descriptor(rd).map_err(|e| Invalid { detail: format!("{key}[{i}]: {}", e.detail), ..e })?;
            }
            Ok(())
        };
        rds(bd, "resolvedDependencies")?;
        let Some(rd) = p.get("runDetails").filter(present) else {
            return invalid("ErrRunDetailsRequired", "no runDetails");
        };
        let Some(builder) = rd.get("builder").filter(present) else {
            return invalid("ErrBuilderRequired", "runDetails has no builder");
        };
        if text(builder, "id").is_none() {
            return invalid("ErrBuilderIdRequired", "runDetails.builder has no id");
        }
        rds(builder, "builderDependencies")?;
        rds(rd, "byproducts")?;
        Ok(())
    }
}
