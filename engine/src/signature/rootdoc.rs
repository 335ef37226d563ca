//! The trusted-root document read as the Sigstore `TrustedRoot` message
//! defines it (protobuf-specs `sigstore_trustroot.proto`, JSON form), and
//! nothing looser: a trusted root decides what counts as signed, so a field
//! that is missing, mistyped or unknown refuses the whole root, naming the
//! field (`tlogs[0].publicKey.validFor: missing field `start``), instead of
//! being read as a default — an absent `start` must not become "valid
//! since forever".
//!
//! What is refused, each where the definition (and sigstore-go, which
//! reads it with `protojson`) refuses it or the field cannot be used:
//! - unknown and duplicate fields, at any depth (`protojson` refuses them;
//!   the snake_case proto names are accepted as `protojson` accepts them);
//! - a media type other than the two spellings of version 0.1;
//! - a log without a SHA2_256 `hashAlgorithm`, a `publicKey` with `rawBytes`
//!   and a `keyDetails` this host verifies, or a `logId.keyId`; a key that
//!   does not decode as its `keyDetails` says; two logs of one list with
//!   the same log ID;
//! - a certificate authority without a certificate, or with one that is
//!   not DER X.509;
//! - a validity window without `start`, with a time that is not RFC 3339,
//!   or ending before it starts.
//!
//! What the definition leaves optional stays optional: a key's `validFor`
//! (the proto marks it `optional`: absent means no bound) and an
//! authority's, `baseUrl`, `uri`, `subject`, `operator`, `checkpointKeyId`.

use base64::Engine as _;
use serde::Deserialize;

/// The two spellings of the one version this host reads.
const MEDIA_TYPES: [&str; 2] =
    ["application/vnd.dev.sigstore.trustedroot+json;version=0.1", "application/vnd.dev.sigstore.trustedroot.v0.1+json"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Doc {
    #[serde(alias = "media_type")]
    pub media_type: String,
    #[serde(default)]
    pub tlogs: Vec<Log>,
    #[serde(default, alias = "certificate_authorities")]
    pub certificate_authorities: Vec<Authority>,
    #[serde(default)]
    pub ctlogs: Vec<Log>,
    #[serde(default, alias = "timestamp_authorities")]
    pub timestamp_authorities: Vec<Authority>,
}

/// A `TransparencyLogInstance` (Rekor in `tlogs`, CT in `ctlogs`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Log {
    #[serde(default, alias = "base_url")]
    pub base_url: String,
    #[serde(alias = "hash_algorithm")]
    pub hash_algorithm: String,
    #[serde(alias = "public_key")]
    pub public_key: Key,
    #[serde(alias = "log_id")]
    pub log_id: LogId,
    #[serde(default, alias = "checkpoint_key_id")]
    pub checkpoint_key_id: Option<LogId>,
    #[serde(default)]
    pub operator: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Key {
    #[serde(alias = "raw_bytes")]
    pub raw_bytes: String,
    #[serde(alias = "key_details")]
    pub key_details: String,
    #[serde(default, alias = "valid_for")]
    pub valid_for: Option<Window>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogId {
    #[serde(alias = "key_id")]
    pub key_id: String,
}

/// A `TimeRange`: `start` required, `end` optional (closed interval).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub start: String,
    #[serde(default)]
    pub end: Option<String>,
}

/// A `CertificateAuthority` (Fulcio in `certificateAuthorities`, RFC 3161
/// in `timestampAuthorities`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authority {
    #[serde(default)]
    pub subject: Option<Name>,
    #[serde(default)]
    pub uri: String,
    #[serde(alias = "cert_chain")]
    pub cert_chain: Chain,
    #[serde(default, alias = "valid_for")]
    pub valid_for: Option<Window>,
    #[serde(default)]
    pub operator: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Name {
    #[serde(default)]
    pub organization: String,
    #[serde(default, alias = "common_name")]
    pub common_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    #[serde(default)]
    pub certificates: Vec<Cert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cert {
    #[serde(alias = "raw_bytes")]
    pub raw_bytes: String,
}

/// A log's key and ID, decoded and checked.
pub struct CheckedLog<'a> {
    pub log: &'a Log,
    pub der: Vec<u8>,
    pub log_id: Vec<u8>,
    pub window: (Option<i64>, Option<i64>),
}

/// An authority's chain, decoded and checked.
pub struct CheckedAuthority<'a> {
    pub authority: &'a Authority,
    pub chain: Vec<Vec<u8>>,
    pub window: (Option<i64>, Option<i64>),
}

/// The document, every field checked.
pub struct Checked<'a> {
    pub tlogs: Vec<CheckedLog<'a>>,
    pub ctlogs: Vec<CheckedLog<'a>>,
    pub certificate_authorities: Vec<CheckedAuthority<'a>>,
    pub timestamp_authorities: Vec<CheckedAuthority<'a>>,
}

/// Reads the document; the error names the field (a JSON path) and why.
pub fn read(json: &str) -> Result<Doc, String> {
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." { inner.to_string() } else { format!("{path}: {inner}") }
    })
}

impl Doc {
    /// Every check of the module doc, in document order.
    pub fn check(&self) -> Result<Checked<'_>, String> {
        if !MEDIA_TYPES.contains(&self.media_type.as_str()) {
            return Err(format!(
                "mediaType: `{}` is not a Sigstore trusted root this host reads (`{}`)",
                self.media_type, MEDIA_TYPES[0]
            ));
        }
        Ok(Checked {
            tlogs: logs(&self.tlogs, "tlogs")?,
            certificate_authorities: authorities(&self.certificate_authorities, "certificateAuthorities")?,
            ctlogs: logs(&self.ctlogs, "ctlogs")?,
            timestamp_authorities: authorities(&self.timestamp_authorities, "timestampAuthorities")?,
        })
    }
}

fn b64(s: &str, at: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| format!("{at}: not base64: {e}"))
}

fn logs<'a>(list: &'a [Log], what: &str) -> Result<Vec<CheckedLog<'a>>, String> {
    let mut out: Vec<CheckedLog> = Vec::with_capacity(list.len());
    for (i, log) in list.iter().enumerate() {
        let at = format!("{what}[{i}]");
        if log.hash_algorithm != "SHA2_256" {
            return Err(format!(
                "{at}.hashAlgorithm: `{}` is not supported (Sigstore's logs use SHA2_256)",
                log.hash_algorithm
            ));
        }
        let der = b64(&log.public_key.raw_bytes, &format!("{at}.publicKey.rawBytes"))?;
        key_is(&der, &log.public_key.key_details).map_err(|e| format!("{at}.publicKey: {e}"))?;
        let log_id = b64(&log.log_id.key_id, &format!("{at}.logId.keyId"))?;
        if log_id.is_empty() {
            return Err(format!("{at}.logId.keyId: empty"));
        }
        if let Some(j) = out.iter().position(|o| o.log_id == log_id) {
            return Err(format!("{at}.logId.keyId: the same log ID as {what}[{j}]"));
        }
        if let Some(c) = &log.checkpoint_key_id {
            b64(&c.key_id, &format!("{at}.checkpointKeyId.keyId"))?;
        }
        let window = window(log.public_key.valid_for.as_ref(), &format!("{at}.publicKey.validFor"))?;
        out.push(CheckedLog { log, der, log_id, window });
    }
    Ok(out)
}

fn authorities<'a>(list: &'a [Authority], what: &str) -> Result<Vec<CheckedAuthority<'a>>, String> {
    use der::Decode as _;
    let mut out = Vec::with_capacity(list.len());
    for (i, authority) in list.iter().enumerate() {
        let at = format!("{what}[{i}]");
        if authority.cert_chain.certificates.is_empty() {
            return Err(format!("{at}.certChain.certificates: empty (an authority needs its certificates)"));
        }
        let mut chain = Vec::new();
        for (j, c) in authority.cert_chain.certificates.iter().enumerate() {
            let cat = format!("{at}.certChain.certificates[{j}].rawBytes");
            let der = b64(&c.raw_bytes, &cat)?;
            x509_cert::Certificate::from_der(&der).map_err(|e| format!("{cat}: not a DER X.509 certificate: {e}"))?;
            chain.push(der);
        }
        let window = window(authority.valid_for.as_ref(), &format!("{at}.validFor"))?;
        out.push(CheckedAuthority { authority, chain, window });
    }
    Ok(out)
}

/// A validity window as unix seconds; `None` bounds where the definition
/// lets them be absent (the whole window, or its end).
fn window(w: Option<&Window>, at: &str) -> Result<(Option<i64>, Option<i64>), String> {
    let Some(w) = w else { return Ok((None, None)) };
    let time = |s: &str, field: &str| {
        s.parse::<jiff::Timestamp>()
            .map(|t| t.as_second())
            .map_err(|e| format!("{at}.{field}: `{s}` is not an RFC 3339 time: {e}"))
    };
    let start = time(&w.start, "start")?;
    let end = w.end.as_deref().map(|e| time(e, "end")).transpose()?;
    if let Some(end) = end
        && end < start
    {
        return Err(format!("{at}: ends ({}) before it starts ({})", w.end.as_deref().unwrap_or(""), w.start));
    }
    Ok((Some(start), end))
}

/// Whether `der` is a key of the kind `details` names, in the encoding it
/// names (PKIX SubjectPublicKeyInfo, or a bare PKCS#1 RSA key).
fn key_is(der: &[u8], details: &str) -> Result<(), String> {
    use p256::pkcs8::DecodePublicKey as _;
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    let ok = match details {
        "PKIX_ECDSA_P256_SHA_256" => p256::ecdsa::VerifyingKey::from_public_key_der(der).is_ok(),
        "PKIX_ECDSA_P384_SHA_384" => p384::ecdsa::VerifyingKey::from_public_key_der(der).is_ok(),
        "PKIX_ED25519" => {
            use der::Decode as _;
            const ED25519: const_oid::ObjectIdentifier = const_oid::ObjectIdentifier::new_unwrap("1.3.101.112");
            x509_cert::spki::SubjectPublicKeyInfoOwned::from_der(der)
                .is_ok_and(|k| k.algorithm.oid == ED25519 && k.subject_public_key.raw_bytes().len() == 32)
        }
        "PKIX_RSA_PKCS1V5"
        | "PKIX_RSA_PSS"
        | "PKIX_RSA_PKCS1V15_2048_SHA256"
        | "PKIX_RSA_PKCS1V15_3072_SHA256"
        | "PKIX_RSA_PKCS1V15_4096_SHA256"
        | "PKIX_RSA_PSS_2048_SHA256"
        | "PKIX_RSA_PSS_3072_SHA256"
        | "PKIX_RSA_PSS_4096_SHA256" => {
            // rsa's own pkcs8 (another version than p256's).
            <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(der).is_ok()
        }
        "PKCS1_RSA_PKCS1V5" | "PKCS1_RSA_PSS" => rsa::RsaPublicKey::from_pkcs1_der(der).is_ok(),
        other => {
            return Err(format!(
                "keyDetails: `{other}` is not a key type this host verifies logs with \
                 (ECDSA P-256/P-384, Ed25519, RSA)"
            ));
        }
    };
    if ok { Ok(()) } else { Err(format!("rawBytes: not a {details} key")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn production() -> Value {
        serde_json::from_str(super::super::trust::PRODUCTION).unwrap()
    }

    fn refusal(doc: &Value) -> String {
        match read(&doc.to_string()).and_then(|d| d.check().map(|_| ())) {
            Ok(()) => "accepted".into(),
            Err(e) => e,
        }
    }

    /// Every required field, removed in turn from the embedded production
    /// root (each kind of entry, at its first place), refuses the root
    /// naming the field and its place.
    #[test]
    fn each_required_field_removed_refuses_the_root_by_name() {
        assert_eq!(refusal(&production()), "accepted");
        let cases: &[(&str, &str, &str)] = &[
            ("", "mediaType", "missing field `mediaType`"),
            ("/tlogs/0", "hashAlgorithm", "tlogs[0]: missing field `hashAlgorithm`"),
            ("/tlogs/0", "publicKey", "tlogs[0]: missing field `publicKey`"),
            ("/tlogs/0", "logId", "tlogs[0]: missing field `logId`"),
            ("/tlogs/0/publicKey", "rawBytes", "tlogs[0].publicKey: missing field `rawBytes`"),
            ("/tlogs/0/publicKey", "keyDetails", "tlogs[0].publicKey: missing field `keyDetails`"),
            ("/tlogs/0/publicKey/validFor", "start", "tlogs[0].publicKey.validFor: missing field `start`"),
            ("/tlogs/0/logId", "keyId", "tlogs[0].logId: missing field `keyId`"),
            ("/ctlogs/1", "hashAlgorithm", "ctlogs[1]: missing field `hashAlgorithm`"),
            ("/ctlogs/1/publicKey", "rawBytes", "ctlogs[1].publicKey: missing field `rawBytes`"),
            ("/ctlogs/1/publicKey/validFor", "start", "ctlogs[1].publicKey.validFor: missing field `start`"),
            ("/ctlogs/1/logId", "keyId", "ctlogs[1].logId: missing field `keyId`"),
            ("/certificateAuthorities/0", "certChain", "certificateAuthorities[0]: missing field `certChain`"),
            (
                "/certificateAuthorities/0/certChain",
                "certificates",
                "certificateAuthorities[0].certChain.certificates: empty",
            ),
            (
                "/certificateAuthorities/0/certChain/certificates/0",
                "rawBytes",
                "certificateAuthorities[0].certChain.certificates[0]: missing field `rawBytes`",
            ),
            (
                "/certificateAuthorities/1/validFor",
                "start",
                "certificateAuthorities[1].validFor: missing field `start`",
            ),
            ("/timestampAuthorities/0", "certChain", "timestampAuthorities[0]: missing field `certChain`"),
            ("/timestampAuthorities/0/validFor", "start", "timestampAuthorities[0].validFor: missing field `start`"),
        ];
        for (at, field, why) in cases {
            let mut doc = production();
            let parent = doc.pointer_mut(at).unwrap_or_else(|| panic!("{at} in the production root"));
            assert!(parent.as_object_mut().unwrap().remove(*field).is_some(), "{at}/{field} is in the production root");
            let e = refusal(&doc);
            assert!(e.starts_with(why), "{at}/{field}: {e}");
        }
    }

    /// Wrong values: each refused naming the field.
    #[test]
    fn unusable_values_refuse_the_root_by_name() {
        let key_of = |at: &str| production().pointer(at).unwrap().clone();
        let p256_key = key_of("/tlogs/0/publicKey/rawBytes");
        let cases: Vec<(&str, Value, &str)> = vec![
            ("/mediaType", json!("application/vnd.dev.sigstore.trustedroot.v0.9+json"), "mediaType: `application/"),
            ("/tlogs/0/hashAlgorithm", json!("SHA2_384"), "tlogs[0].hashAlgorithm: `SHA2_384` is not supported"),
            ("/tlogs/0/publicKey/rawBytes", json!("not base64!"), "tlogs[0].publicKey.rawBytes: not base64"),
            (
                "/tlogs/0/publicKey/keyDetails",
                json!("PKIX_ED25519"),
                "tlogs[0].publicKey: rawBytes: not a PKIX_ED25519 key",
            ),
            (
                "/tlogs/0/publicKey/keyDetails",
                json!("LMS_SHA256"),
                "tlogs[0].publicKey: keyDetails: `LMS_SHA256` is not",
            ),
            (
                "/tlogs/0/publicKey/rawBytes",
                json!("AAAA"),
                "tlogs[0].publicKey: rawBytes: not a PKIX_ECDSA_P256_SHA_256 key",
            ),
            (
                "/tlogs/0/publicKey/validFor/start",
                json!("yesterday"),
                "tlogs[0].publicKey.validFor.start: `yesterday` is not an RFC 3339",
            ),
            ("/tlogs/0/publicKey/validFor/end", json!("2020-01-01T00:00:00Z"), "tlogs[0].publicKey.validFor: ends"),
            ("/tlogs/0/publicKey/validFor/start", Value::Null, "tlogs[0].publicKey.validFor.start: invalid type: null"),
            ("/tlogs/1/logId", key_of("/tlogs/0/logId"), "tlogs[1].logId.keyId: the same log ID as tlogs[0]"),
            ("/tlogs/0/logId/keyId", json!(""), "tlogs[0].logId.keyId: empty"),
            ("/ctlogs/0/publicKey/rawBytes", p256_key.clone(), "accepted"),
            (
                "/certificateAuthorities/0/certChain/certificates/0/rawBytes",
                p256_key,
                "certificateAuthorities[0].certChain.certificates[0].rawBytes: not a DER X.509",
            ),
            (
                "/timestampAuthorities/0/certChain/certificates",
                json!([]),
                "timestampAuthorities[0].certChain.certificates: empty",
            ),
            ("/tlogs/0/publicKey/extra", json!(1), "tlogs[0].publicKey.extra: unknown field `extra`"),
            (
                "/tlogs/0/publicKey/validFor/begin",
                json!("2021-01-01T00:00:00Z"),
                "tlogs[0].publicKey.validFor.begin: unknown field `begin`",
            ),
            (
                "/certificateAuthorities/0/expires",
                json!(false),
                "certificateAuthorities[0].expires: unknown field `expires`",
            ),
            ("/publicKeys", json!([]), "publicKeys: unknown field `publicKeys`"),
        ];
        for (at, value, why) in cases {
            let mut doc = production();
            let (parent, field) = at.rsplit_once('/').unwrap();
            doc.pointer_mut(parent).unwrap().as_object_mut().unwrap().insert(field.into(), value);
            let e = refusal(&doc);
            assert!(e.starts_with(why), "{at}: {e}");
        }
        let dup = super::super::trust::PRODUCTION.replacen("\"mediaType\"", "\"tlogs\": [], \"mediaType\"", 1);
        assert!(read(&dup).unwrap_err().starts_with("duplicate field `tlogs`"), "{:?}", read(&dup).map(|_| ()));
    }

    /// What the definition leaves optional stays optional; the proto field
    /// names are read as `protojson` reads them.
    #[test]
    fn optional_fields_and_proto_names_are_read() {
        let mut doc = production();
        doc.pointer_mut("/tlogs/0/publicKey").unwrap().as_object_mut().unwrap().remove("validFor");
        doc.pointer_mut("/certificateAuthorities/0").unwrap().as_object_mut().unwrap().remove("validFor");
        doc.pointer_mut("/tlogs/0").unwrap().as_object_mut().unwrap().remove("baseUrl");
        doc.pointer_mut("/tlogs/0").unwrap().as_object_mut().unwrap().insert("operator".into(), json!("sigstore.dev"));
        assert_eq!(refusal(&doc), "accepted");
        let snake = super::super::trust::PRODUCTION
            .replace("\"mediaType\"", "\"media_type\"")
            .replace("\"validFor\"", "\"valid_for\"");
        assert_eq!(refusal(&serde_json::from_str(&snake).unwrap()), "accepted");
        let d = read(&snake).unwrap();
        let c = d.check().unwrap();
        assert_eq!(c.tlogs[0].window, (Some(1610452407), None));
    }
}
