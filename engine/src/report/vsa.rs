//! SLSA Verification Summary Attestations: one in-toto statement per
//! subject (predicate `https://slsa.dev/verification_summary/v1`) saying
//! that this engine verified it against this policy, with what result and
//! which SLSA build level — so CI, registry and cluster can reuse one
//! verification. Optionally DSSE-signed with an ECDSA P-256 key.
//!
//! Levels: SC-SLSA-002 passing states the builder's level (its message ends
//! `(SLSA build level N)`, written by the builtin `signatures` plugin);
//! SC-SLSA-001 alone (verified provenance) is level 1; otherwise level 0.

use super::{Finding, Report, SubjectReport};
use crate::Verdict;
use crate::model::Outcome;
use base64::Engine as _;
use serde_json::{Value, json};

pub const PREDICATE_TYPE: &str = "https://slsa.dev/verification_summary/v1";
pub const VERIFIER_ID: &str = "https://github.com/portcullis-dev/portcullis";

fn passed<'a>(s: &'a SubjectReport, rule: &str) -> Option<&'a Finding> {
    s.findings.iter().find(|f| f.rule == rule && f.outcome == Outcome::Pass)
}

/// The SLSA build level the audit verified for a subject.
fn level(s: &SubjectReport) -> u32 {
    if let Some(f) = passed(s, "SC-SLSA-002") {
        let n = f.message.rsplit("(SLSA build level ").next().and_then(|r| r.trim_end_matches(')').parse().ok());
        if let Some(n) = n {
            return n;
        }
    }
    if passed(s, "SC-SLSA-001").is_some() { 1 } else { 0 }
}

/// The statements, one per subject with a digest.
pub fn statements(report: &Report, time: &jiff::Timestamp) -> Vec<Value> {
    report
        .subjects
        .iter()
        .filter_map(|s| {
            let (alg, hex) = s.digest.split_once(':')?;
            let result = if s.verdict == Verdict::Admit { "PASSED" } else { "FAILED" };
            Some(json!({
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": s.reference, "digest": {alg: hex}}],
                "predicateType": PREDICATE_TYPE,
                "predicate": {
                    "verifier": {"id": VERIFIER_ID, "version": {"portcullis": report.tool.version}},
                    "timeVerified": time.to_string(),
                    "resourceUri": s.reference,
                    "policy": {
                        "uri": format!("{}@{}", report.policy.name, report.policy.version),
                        "digest": report.policy.digest.split_once(':').map(|(a, h)| json!({a: h})).unwrap_or(json!({})),
                    },
                    "verificationResult": result,
                    "verifiedLevels": [format!("SLSA_BUILD_LEVEL_{}", level(s))],
                    "slsaVersion": "1.0",
                }
            }))
        })
        .collect()
}

/// A statement in a DSSE envelope signed with an ECDSA P-256 PKCS#8 PEM key.
pub fn sign(statement: &Value, key_pem: &str) -> Result<Value, String> {
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::DecodePrivateKey as _;
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(key_pem)
        .map_err(|e| format!("the VSA signing key is not an ECDSA P-256 PKCS#8 PEM private key: {e}"))?;
    let payload = serde_json::to_vec(statement).map_err(|e| e.to_string())?;
    let pae = crate::signature::entry::pae("application/vnd.in-toto+json", &payload);
    let sig: p256::ecdsa::Signature = key.sign(&pae);
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": b64.encode(&payload),
        "signatures": [{"keyid": key_id(key.verifying_key())?, "sig": b64.encode(sig.to_der().as_bytes())}],
    }))
}

/// A signing key's id: `sha256:` of its DER SubjectPublicKeyInfo.
pub fn key_id(key: &p256::ecdsa::VerifyingKey) -> Result<String, String> {
    use p256::pkcs8::EncodePublicKey as _;
    use sha2::Digest as _;
    let der = key.to_public_key_der().map_err(|e| e.to_string())?;
    Ok(format!("sha256:{}", hex::encode(sha2::Sha256::digest(der.as_bytes()))))
}

/// JSON Lines: one statement (or signed envelope) per subject.
pub fn render(report: &Report, key_pem: Option<&str>, time: &jiff::Timestamp) -> Result<String, String> {
    let mut out = String::new();
    for st in statements(report, time) {
        let line = match key_pem {
            Some(k) => sign(&st, k)?,
            None => st,
        };
        out.push_str(&serde_json::to_string(&line).map_err(|e| e.to_string())?);
        out.push('\n');
    }
    Ok(out)
}
