//! Verdicts that travel with the image: a signed SLSA Verification Summary
//! Attestation (VSA) the push gate attached when it admitted the image
//! lets the webhook admit it without pulling or scanning it — how many
//! webhook replicas and many clusters share one verdict through the
//! registry itself.
//!
//! A summary is trusted only when every input of the verdict it records is
//! the webhook's own: signed by the configured key (DSSE, ECDSA P-256),
//! issued by this engine's verifier id, `PASSED`, for this digest, under
//! this policy's digest (so the same rules, plugins' configuration and
//! waivers), for this repository (waivers match repositories), recent
//! (`max_age`), and with no waiver of the policy having expired since it
//! was issued. Anything else — unsigned, another key, another policy,
//! another repository, stale, malformed — is ignored, never trusted, and
//! the image is judged as usual.

use crate::digest::Digest;
use crate::engine::Engine;
use crate::evidence::SubjectKind;
use crate::report::{Report, SubjectReport, Verdict, vsa};
use crate::source::{Input, InputFormat};
use std::time::Duration;

/// The artifact type the gate attaches summaries under (an in-toto
/// statement in a DSSE envelope).
pub const ARTIFACT_TYPE: &str = "application/vnd.in-toto+json";

#[derive(Clone)]
pub struct TrustedSummaries {
    key_pem: String,
    key_id: String,
    /// Summaries older than this are ignored.
    pub max_age: Duration,
}

impl TrustedSummaries {
    /// Trusts summaries signed by the ECDSA P-256 public key `key_pem`.
    pub fn new(key_pem: &str, max_age: Duration) -> Result<TrustedSummaries, String> {
        use p256::pkcs8::DecodePublicKey as _;
        let key = p256::ecdsa::VerifyingKey::from_public_key_pem(key_pem)
            .map_err(|e| format!("the summary key is not an ECDSA P-256 public key in PEM: {e}"))?;
        Ok(TrustedSummaries { key_pem: key_pem.to_string(), key_id: vsa::key_id(&key)?, max_age })
    }

    /// The report to use for `digest` from `repository` when one of
    /// `envelopes` admits it under `engine`'s policy now; otherwise why
    /// each was ignored.
    pub fn admits(
        &self,
        envelopes: &[Vec<u8>],
        digest: &Digest,
        repository: &str,
        reference: &str,
        engine: &Engine,
    ) -> Result<Report, Vec<String>> {
        let mut ignored = Vec::new();
        for envelope in envelopes {
            match self.check(envelope, digest, repository, engine) {
                Ok(time) => return Ok(report(engine, digest, repository, reference, &time)),
                Err(why) => ignored.push(why),
            }
        }
        Err(ignored)
    }

    /// When the summary was issued, if it admits the image now.
    fn check(&self, envelope: &[u8], digest: &Digest, repository: &str, engine: &Engine) -> Result<String, String> {
        let expect = crate::slsa::vsa::Expectations {
            key_id: self.key_id.clone(),
            subject_digests: vec![digest.to_string()],
            verifier_id: Some(vsa::VERIFIER_ID.to_string()),
            ..Default::default()
        };
        let st = crate::slsa::vsa::verify(envelope, self.key_pem.as_bytes(), &expect).map_err(|e| e.to_string())?;
        let p = &st["predicate"];
        let policy = &engine.policy().digest;
        if p["policy"]["digest"][policy.algorithm()].as_str() != Some(policy.encoded()) {
            return Err(format!("issued under policy {}, not this policy ({policy})", p["policy"]["digest"]));
        }
        let resource = p["resourceUri"].as_str().unwrap_or_default();
        let rest = resource.strip_prefix("docker://").and_then(|r| r.strip_prefix(repository));
        if !rest.is_some_and(|r| r.is_empty() || r.starts_with([':', '@'])) {
            return Err(format!("issued for {resource}, not for repository {repository}"));
        }
        let issued: jiff::Timestamp = p["timeVerified"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .map_err(|e| format!("timeVerified {}: {e}", p["timeVerified"]))?;
        let now = jiff::Timestamp::now();
        let age = now.as_duration().checked_sub(issued.as_duration()).unwrap_or_default();
        let age = Duration::try_from(age).unwrap_or(Duration::MAX);
        if issued > now + jiff::SignedDuration::from_mins(5) || age > self.max_age {
            return Err(format!("issued at {issued}: older than {} s, or in the future", self.max_age.as_secs()));
        }
        let tz = jiff::tz::TimeZone::system();
        let (issued_day, today) = (issued.to_zoned(tz.clone()).date(), now.to_zoned(tz).date());
        if let Some(w) =
            engine.policy().waivers.iter().find(|w| w.expires_on().is_some_and(|d| d >= issued_day && d < today))
        {
            return Err(format!(
                "issued at {issued}, while the waiver of {} (line {}) applied; it has expired since",
                w.rule, w.line
            ));
        }
        Ok(issued.to_string())
    }
}

/// An admit that rests on the summary, saying so.
fn report(engine: &Engine, digest: &Digest, repository: &str, reference: &str, issued: &str) -> Report {
    let input = Input {
        path: reference.into(),
        format: InputFormat::Registry,
        evidence: Vec::new(),
        notes: vec![format!(
            "admitted by a verification summary signed by the trusted key, issued at {issued} under this policy; \
             not pulled or judged here"
        )],
    };
    let subject = SubjectReport {
        kind: SubjectKind::Image,
        reference: reference.to_string(),
        repository: Some(repository.to_string()),
        digest: digest.to_string(),
        media_type: String::new(),
        platform: None,
        parent_index: None,
        verdict: Verdict::Admit,
        findings: Vec::new(),
    };
    Report::new(engine.policy(), &input, Verdict::Admit, vec![subject], Vec::new(), Vec::new(), Default::default())
}
