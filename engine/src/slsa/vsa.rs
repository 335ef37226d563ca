//! Verifying a SLSA Verification Summary Attestation someone else issued
//! (the consuming side of `audit --vsa`): a DSSE envelope signed by a known
//! key, holding an in-toto statement with predicate
//! `https://slsa.dev/verification_summary/v1`, whose claims match what the
//! caller expects — as slsa-verifier's `verify-vsa` decides.

use super::{Failure, SlsaError, fail};
use base64::Engine as _;
use serde_json::Value;

/// What the VSA must say.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// The signing key's id, as the envelope's signature `keyid` names it.
    pub key_id: String,
    /// `ALG:VALUE` digests each subject must cover (all must be present).
    pub subject_digests: Vec<String>,
    pub resource_uri: Option<String>,
    pub verifier_id: Option<String>,
    /// Levels the VSA must attest (`SLSA_BUILD_LEVEL_2` is met by level 3).
    pub verified_levels: Vec<String>,
}

fn slsa_level(l: &str) -> Option<(&str, u32)> {
    let (track, n) = l.rsplit_once("_LEVEL_")?;
    Some((track, n.parse().ok()?))
}

/// Verifies one VSA envelope (JSON) with a PEM public key.
pub fn verify(envelope: &[u8], public_key_pem: &[u8], expect: &Expectations) -> Result<Value, SlsaError> {
    let env: Value =
        serde_json::from_slice(envelope).or_else(|e| fail(Failure::Format, format!("VSA envelope: {e}")))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64
        .decode(env["payload"].as_str().unwrap_or_default())
        .or_else(|e| fail(Failure::Format, format!("VSA payload: {e}")))?;
    let payload_type = env["payloadType"].as_str().unwrap_or_default();
    let pae = crate::signature::entry::pae(payload_type, &payload);
    let key = sigstore::crypto::CosignVerificationKey::try_from_pem(public_key_pem)
        .or_else(|e| fail(Failure::Signature, format!("unusable public key: {e}")))?;
    let signatures = env["signatures"].as_array().map(Vec::as_slice).unwrap_or_default();
    let verified = !expect.key_id.is_empty()
        && signatures.iter().filter(|s| s["keyid"].as_str() == Some(expect.key_id.as_str())).any(|s| {
            b64.decode(s["sig"].as_str().unwrap_or_default()).is_ok_and(|sig| {
                // ECDSA signatures come DER-encoded or as fixed-size r||s (P-256: 64 bytes).
                let der = match p256::ecdsa::Signature::from_slice(&sig) {
                    Ok(fixed) if sig.len() == 64 => fixed.to_der().as_bytes().to_vec(),
                    _ => sig,
                };
                key.verify_signature(sigstore::crypto::Signature::Raw(&der), &pae).is_ok()
            })
        });
    if !verified {
        return fail(
            Failure::Signature,
            format!("no signature with key id `{}` verifies with the given key", expect.key_id),
        );
    }
    let st: Value =
        serde_json::from_slice(&payload).or_else(|e| fail(Failure::Format, format!("VSA statement: {e}")))?;
    crate::attestation::validate::statement(&st).or_else(|e| fail(Failure::Format, format!("VSA statement: {e}")))?;
    if st["predicateType"] != crate::report::vsa::PREDICATE_TYPE {
        return fail(Failure::Format, format!("predicate type {} is not a VSA", st["predicateType"]));
    }
    let p = &st["predicate"];
    if p["verificationResult"] != "PASSED" {
        return fail(Failure::Format, format!("verification result is {}", p["verificationResult"]));
    }
    for want in &expect.subject_digests {
        let Some((alg, value)) = want.split_once(':') else {
            return fail(Failure::Format, format!("`{want}` is not ALG:VALUE"));
        };
        let covered = st["subject"].as_array().into_iter().flatten().any(|s| s["digest"][alg].as_str() == Some(value));
        if !covered {
            return fail(Failure::Hash, format!("no subject has digest {want}"));
        }
    }
    if let Some(uri) = &expect.resource_uri
        && p["resourceUri"].as_str() != Some(uri.as_str())
    {
        return fail(Failure::Source, format!("resource {} is not {uri}", p["resourceUri"]));
    }
    if let Some(id) = &expect.verifier_id
        && p["verifier"]["id"].as_str() != Some(id.as_str())
    {
        return fail(Failure::BuilderMismatch, format!("verifier {} is not {id}", p["verifier"]["id"]));
    }
    let levels: Vec<&str> = p["verifiedLevels"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    for want in &expect.verified_levels {
        let met = levels.iter().any(|l| {
            *l == want
                || matches!((slsa_level(l), slsa_level(want)), (Some((t1, n1)), Some((t2, n2))) if t1 == t2 && n1 >= n2)
        });
        if !met {
            return fail(Failure::Format, format!("level {want} is not among {}", levels.join(", ")));
        }
    }
    Ok(st)
}
