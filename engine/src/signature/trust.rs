//! The trusted root: which transparency logs, certificate authorities, CT
//! logs and timestamp authorities are believed, and when. Read from a
//! `trusted_root.json` (`application/vnd.dev.sigstore.trustedroot+json`);
//! the Sigstore public-good production root is embedded (copied from
//! sigstore/root-signing `targets/trusted_root.json`), so nothing is fetched
//! at evaluation time.

use std::sync::{Arc, OnceLock};

/// The embedded Sigstore public-good production trusted root.
pub const PRODUCTION: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/trust/trusted_root.production.json"));

/// The embedded Sigstore staging trusted root (`sigstage.dev`).
pub const STAGING: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/trust/trusted_root.staging.json"));

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
    /// The certificate authorities (Fulcio) signing certificates chain to.
    pub certificate_authorities: Vec<Authority>,
    pub timestamp_authorities: Vec<Authority>,
    verifier: CrateVerifier,
    /// The document, for the parts the `sigstore` crate reads itself.
    pub json: String,
}

impl TrustRoot {
    /// Parses a trusted root, strictly as the Sigstore message defines it
    /// ([`super::rootdoc`]): anything missing, unknown or unusable is an
    /// error naming the field, and verification never proceeds on a root
    /// read in part or with defaults.
    pub fn parse(json: &str) -> Result<TrustRoot, String> {
        let doc = super::rootdoc::read(json).map_err(|e| format!("trusted root: {e}"))?;
        let checked = doc.check().map_err(|e| format!("trusted root: {e}"))?;
        if checked.tlogs.is_empty() {
            return Err("trusted root lists no transparency log (tlogs)".into());
        }
        let keys = |logs: Vec<super::rootdoc::CheckedLog>| {
            logs.into_iter()
                .map(|l| LogKey {
                    base_url: l.log.base_url.clone(),
                    log_id: l.log_id,
                    der: l.der,
                    key_details: l.log.public_key.key_details.clone(),
                    valid_from: l.window.0,
                    valid_until: l.window.1,
                })
                .collect::<Vec<_>>()
        };
        let authorities = |list: Vec<super::rootdoc::CheckedAuthority>| {
            list.into_iter()
                .map(|a| Authority {
                    uri: a.authority.uri.clone(),
                    chain: a.chain,
                    valid_from: a.window.0,
                    valid_until: a.window.1,
                    chain_signatures: Default::default(),
                })
                .collect::<Vec<_>>()
        };
        let certificate_authorities = authorities(checked.certificate_authorities);
        let timestamp_authorities = authorities(checked.timestamp_authorities);
        Ok(TrustRoot {
            tlogs: keys(checked.tlogs),
            ctlogs: keys(checked.ctlogs),
            certificate_authorities,
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
