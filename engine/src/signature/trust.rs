//! The trusted root: which transparency logs, certificate authorities, CT
//! logs and timestamp authorities are believed, and when. Read from a
//! `trusted_root.json` (`application/vnd.dev.sigstore.trustedroot+json`);
//! the Sigstore public-good production root is embedded (copied from
//! sigstore/root-signing `targets/trusted_root.json`), so nothing is fetched
//! at evaluation time.

use base64::Engine as _;
use serde::Deserialize;
use std::sync::{Arc, OnceLock};

/// The embedded Sigstore public-good production trusted root.
pub const PRODUCTION: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/trust/trusted_root.production.json"));

/// The embedded Sigstore staging trusted root (`sigstage.dev`).
pub const STAGING: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/trust/trusted_root.staging.json"));

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValidFor {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicKey {
    #[serde(default)]
    raw_bytes: Option<String>,
    #[serde(default)]
    key_details: Option<String>,
    #[serde(default)]
    valid_for: Option<ValidFor>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogId {
    key_id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Log {
    #[serde(default)]
    base_url: Option<String>,
    public_key: PublicKey,
    log_id: LogId,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CertChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAuthority {
    #[serde(default)]
    uri: Option<String>,
    cert_chain: CertChain,
    #[serde(default)]
    valid_for: Option<ValidFor>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<Log>,
    #[serde(default)]
    ctlogs: Vec<Log>,
    #[serde(default)]
    timestamp_authorities: Vec<RawAuthority>,
}

/// A certificate authority (here: an RFC 3161 timestamp authority): its
/// chain, leaf first, and when the root believes it.
#[derive(Debug, Clone)]
pub struct Authority {
    pub uri: String,
    /// DER certificates, leaf first, root last.
    pub chain: Vec<Vec<u8>>,
    /// Unix seconds.
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    /// Whether each certificate of the chain is signed by the next: checked
    /// once (the signatures do not depend on the timestamp being verified).
    pub chain_signatures: Arc<OnceLock<Result<(), String>>>,
}

impl Authority {
    /// Whether the root believes the authority at `t` (a closed interval).
    pub fn valid_at(&self, t: i64) -> bool {
        within(t, self.valid_from, self.valid_until)
    }
}

/// Whether `t` lies in a trusted root's `validFor` window: a closed
/// interval, open-ended where a bound is absent.
fn within(t: i64, from: Option<i64>, until: Option<i64>) -> bool {
    from.is_none_or(|s| t >= s) && until.is_none_or(|e| t <= e)
}

/// A log's public key, when it was valid, and the identifiers it goes by.
#[derive(Debug, Clone)]
pub struct LogKey {
    pub base_url: String,
    /// SHA-256 of the DER public key: Rekor's `logID`.
    pub log_id: Vec<u8>,
    /// DER SubjectPublicKeyInfo.
    pub der: Vec<u8>,
    pub key_details: String,
    /// Unix seconds.
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
}

impl LogKey {
    /// Whether the key was valid at `t` (unix seconds).
    pub fn valid_at(&self, t: i64) -> bool {
        within(t, self.valid_from, self.valid_until)
    }

    /// The host name a signed note's signature line names (`rekor.sigstore.dev`).
    pub fn origin_host(&self) -> &str {
        self.base_url.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/')
    }
}

/// The `sigstore` crate's verifier for this root, built once (parsing the
/// root and its certificate pool dominates a verification otherwise).
#[derive(Clone, Default)]
pub struct CrateVerifier(Arc<OnceLock<Result<sigstore::bundle::verify::blocking::Verifier, String>>>);

impl std::fmt::Debug for CrateVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CrateVerifier")
    }
}

#[derive(Debug, Clone)]
pub struct TrustRoot {
    pub tlogs: Vec<LogKey>,
    pub ctlogs: Vec<LogKey>,
    pub timestamp_authorities: Vec<Authority>,
    verifier: CrateVerifier,
    /// The document, for the parts the `sigstore` crate reads itself.
    pub json: String,
}

fn unix(t: &Option<String>, what: &str) -> Result<Option<i64>, String> {
    match t {
        None => Ok(None),
        Some(s) => s
            .parse::<jiff::Timestamp>()
            .map(|t| Some(t.as_second()))
            .map_err(|e| format!("{what}: `{s}` is not an RFC 3339 time: {e}")),
    }
}

fn log_keys(logs: &[Log], what: &str) -> Result<Vec<LogKey>, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    logs.iter()
        .enumerate()
        .map(|(i, l)| {
            let at = format!("{what}[{i}]");
            let der = b64
                .decode(l.public_key.raw_bytes.as_deref().ok_or(format!("{at}: no publicKey.rawBytes"))?)
                .map_err(|e| format!("{at}.publicKey.rawBytes: {e}"))?;
            let log_id = b64.decode(&l.log_id.key_id).map_err(|e| format!("{at}.logId.keyId: {e}"))?;
            let valid = l.public_key.valid_for.clone();
            Ok(LogKey {
                base_url: l.base_url.clone().unwrap_or_default(),
                log_id,
                der,
                key_details: l.public_key.key_details.clone().unwrap_or_default(),
                valid_from: unix(&valid.as_ref().and_then(|v| v.start.clone()), &format!("{at}.validFor.start"))?,
                valid_until: unix(&valid.as_ref().and_then(|v| v.end.clone()), &format!("{at}.validFor.end"))?,
            })
        })
        .collect()
}

impl TrustRoot {
    /// Parses a trusted root. Anything unreadable is an error naming the
    /// field: verification never proceeds on a partial root.
    pub fn parse(json: &str) -> Result<TrustRoot, String> {
        let raw: Raw = serde_json::from_str(json).map_err(|e| format!("trusted root: {e}"))?;
        if !raw.media_type.starts_with("application/vnd.dev.sigstore.trustedroot") {
            return Err(format!("trusted root: media type `{}` is not a Sigstore trusted root", raw.media_type));
        }
        let tlogs = log_keys(&raw.tlogs, "tlogs")?;
        if tlogs.is_empty() {
            return Err("trusted root lists no transparency log".into());
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut timestamp_authorities = Vec::new();
        for (i, a) in raw.timestamp_authorities.iter().enumerate() {
            let at = format!("timestampAuthorities[{i}]");
            let chain = a
                .cert_chain
                .certificates
                .iter()
                .enumerate()
                .map(|(j, c)| b64.decode(&c.raw_bytes).map_err(|e| format!("{at}.certChain.certificates[{j}]: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            if chain.is_empty() {
                return Err(format!("{at}: empty certChain"));
            }
            timestamp_authorities.push(Authority {
                uri: a.uri.clone().unwrap_or_default(),
                chain,
                valid_from: unix(&a.valid_for.as_ref().and_then(|v| v.start.clone()), &format!("{at}.validFor.start"))?,
                valid_until: unix(&a.valid_for.as_ref().and_then(|v| v.end.clone()), &format!("{at}.validFor.end"))?,
                chain_signatures: Default::default(),
            });
        }
        Ok(TrustRoot {
            tlogs,
            ctlogs: log_keys(&raw.ctlogs, "ctlogs")?,
            timestamp_authorities,
            json: json.to_string(),
            verifier: CrateVerifier::default(),
        })
    }

    pub fn production() -> TrustRoot {
        TrustRoot::parse(PRODUCTION).expect("the embedded production trusted root parses (tested)")
    }

    pub fn staging() -> TrustRoot {
        TrustRoot::parse(STAGING).expect("the embedded staging trusted root parses (tested)")
    }

    /// `production`, `staging`, or a `trusted_root.json` file.
    pub fn named_or_file(spec: &str) -> Result<TrustRoot, String> {
        match spec {
            "production" => Ok(TrustRoot::production()),
            "staging" => Ok(TrustRoot::staging()),
            path => std::fs::read_to_string(path)
                .map_err(|e| format!("{path}: {e}"))
                .and_then(|t| TrustRoot::parse(&t).map_err(|e| format!("{path}: {e}"))),
        }
    }

    /// The `sigstore` crate's verifier for this root.
    pub fn crate_verifier(&self) -> Result<&sigstore::bundle::verify::blocking::Verifier, String> {
        self.verifier
            .0
            .get_or_init(|| {
                let trust = sigstore::trust::sigstore::SigstoreTrustRoot::from_trusted_root_json_unchecked(
                    self.json.as_bytes(),
                )
                .map_err(|e| format!("trusted root: {e}"))?;
                sigstore::bundle::verify::blocking::Verifier::new(Default::default(), trust)
                    .map_err(|e| format!("trusted root: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The transparency log with this log ID.
    pub fn tlog(&self, log_id: &[u8]) -> Option<&LogKey> {
        self.tlogs.iter().find(|k| k.log_id == log_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_root_has_rekor_with_validity() {
        let root = TrustRoot::production();
        assert_eq!(root.tlogs.len(), 2);
        let rekor = &root.tlogs[0];
        assert_eq!(rekor.origin_host(), "rekor.sigstore.dev");
        assert!(TrustRoot::staging().tlogs.iter().any(|t| t.origin_host().contains("sigstage.dev")));
        assert_eq!(rekor.valid_from, Some(1610452407)); // 2021-01-12T11:53:27Z
        assert!(!rekor.valid_at(1610452406));
        assert!(TrustRoot::parse("{}").is_err());
        assert!(
            TrustRoot::parse(r#"{"mediaType":"x","tlogs":[]}"#).unwrap_err().contains("not a Sigstore trusted root")
        );
    }
}
