//! RFC 3161 signed timestamps: proof from a timestamp authority (TSA) that
//! a signature existed at a time. Rekor v2 entries carry no integrated time,
//! so a bundle's signing time comes from these; the `sigstore` crate ignores
//! them, so they are verified here.
//!
//! A timestamp is believed when, for some TSA of the trusted root:
//! - the token is a granted `TimeStampResp` (or a bare token) holding CMS
//!   SignedData over a `TSTInfo`, with one signer;
//! - the signed attributes bind the `TSTInfo` (content type and message
//!   digest), and the signature over them verifies with the TSA's leaf key;
//! - the signer is that leaf (by issuer and serial, or key identifier), and
//!   an embedded copy of it, if any, is byte-identical;
//! - the TSA's chain verifies up to its root, every certificate valid at the
//!   timestamp's time, and the leaf may sign timestamps (EKU);
//! - the trusted root believes the TSA at that time (closed interval);
//! - the message imprint is the hash of the bundle's signature.

use super::keys::{self, EcKey};
use super::trust::{Authority, TrustRoot};
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use der::{Decode as _, Encode as _, Tagged as _};
use x509_cert::Certificate;

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const EKU_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

#[derive(Debug, thiserror::Error)]
pub enum TimestampError {
    #[error("timestamp is malformed: {0}")]
    Malformed(String),
    #[error("timestamp response status is {0}, not granted")]
    NotGranted(String),
    #[error("timestamp is over {found}, not over the bundle's signature ({expected})")]
    ImprintMismatch { found: String, expected: String },
    #[error("timestamp signed attributes: {0}")]
    Attributes(String),
    #[error("no timestamp authority of the trusted root vouches for this timestamp ({0})")]
    Untrusted(String),
}

/// What a verified timestamp says.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Unix seconds (fractions dropped).
    pub time: i64,
    pub authority: String,
}

/// The fields of a `TSTInfo` that matter here.
struct TstInfo {
    imprint_alg: ObjectIdentifier,
    imprint: Vec<u8>,
    gen_time: i64,
}

fn malformed(e: impl std::fmt::Display) -> TimestampError {
    TimestampError::Malformed(e.to_string())
}

/// `GeneralizedTime` as RFC 3161 writes it: `YYYYMMDDHHMMSS[.f*]Z` (DER's
/// own type refuses fractions, which TSAs use).
fn generalized_time(bytes: &[u8]) -> Result<i64, TimestampError> {
    let s = std::str::from_utf8(bytes).map_err(malformed)?;
    let s = s.strip_suffix('Z').ok_or_else(|| malformed(format!("genTime `{s}` is not UTC")))?;
    let whole = s.split('.').next().unwrap_or_default();
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(format!("genTime `{s}Z` is not YYYYMMDDHHMMSS")));
    }
    let n = |r: std::ops::Range<usize>| whole[r].parse::<i16>().unwrap_or(-1);
    let dt = jiff::civil::DateTime::new(
        n(0..4),
        n(4..6) as i8,
        n(6..8) as i8,
        n(8..10) as i8,
        n(10..12) as i8,
        n(12..14) as i8,
        0,
    )
    .map_err(|e| malformed(format!("genTime `{s}Z`: {e}")))?;
    Ok(dt.to_zoned(jiff::tz::TimeZone::UTC).map_err(malformed)?.timestamp().as_second())
}

fn tst_info(der_bytes: &[u8]) -> Result<TstInfo, TimestampError> {
    let items: Vec<der::Any> = Vec::from_der(der_bytes).map_err(|e| malformed(format!("TSTInfo: {e}")))?;
    if items.len() < 5 {
        return Err(malformed("TSTInfo has fewer than 5 fields"));
    }
    let imprint: Vec<der::Any> = items[2].decode_as().map_err(|e| malformed(format!("messageImprint: {e}")))?;
    let [alg, hashed] = &imprint[..] else { return Err(malformed("messageImprint is not (algorithm, hash)")) };
    let alg: x509_cert::spki::AlgorithmIdentifierOwned =
        alg.decode_as().map_err(|e| malformed(format!("messageImprint.hashAlgorithm: {e}")))?;
    let hashed: der::asn1::OctetString =
        hashed.decode_as().map_err(|e| malformed(format!("messageImprint.hashedMessage: {e}")))?;
    if items[4].tag() != der::Tag::GeneralizedTime {
        return Err(malformed("TSTInfo.genTime is not a GeneralizedTime"));
    }
    Ok(TstInfo {
        imprint_alg: alg.oid,
        imprint: hashed.into_bytes().into(),
        gen_time: generalized_time(items[4].value())?,
    })
}

/// The `ContentInfo` of a `TimeStampResp` (checking its status) or of a
/// bare token.
fn token(der_bytes: &[u8]) -> Result<ContentInfo, TimestampError> {
    let items: Vec<der::Any> = Vec::from_der(der_bytes).map_err(|e| malformed(format!("not DER: {e}")))?;
    match items.first().map(|i| i.tag()) {
        Some(der::Tag::Sequence) => {
            let status: Vec<der::Any> = items[0].decode_as().map_err(|e| malformed(format!("PKIStatusInfo: {e}")))?;
            let code = status
                .first()
                .and_then(|s| s.decode_as::<u8>().ok())
                .ok_or_else(|| malformed("PKIStatusInfo.status is not an integer"))?;
            // granted (0) or grantedWithMods (1)
            if code > 1 {
                return Err(TimestampError::NotGranted(code.to_string()));
            }
            let t = items.get(1).ok_or_else(|| malformed("the response holds no timeStampToken"))?;
            t.decode_as().map_err(|e| malformed(format!("timeStampToken: {e}")))
        }
        Some(der::Tag::ObjectIdentifier) => ContentInfo::from_der(der_bytes).map_err(malformed),
        _ => Err(malformed("neither a TimeStampResp nor a ContentInfo")),
    }
}

/// Verifies one timestamp (DER) over `signature` against the root's TSAs.
pub fn verify(der_bytes: &[u8], signature: &[u8], root: &TrustRoot) -> Result<Verified, TimestampError> {
    let ci = token(der_bytes)?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(malformed(format!("content type {} is not SignedData", ci.content_type)));
    }
    let sd: SignedData = ci.content.decode_as().map_err(|e| malformed(format!("SignedData: {e}")))?;
    if sd.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err(malformed(format!("content {} is not a TSTInfo", sd.encap_content_info.econtent_type)));
    }
    let econtent = sd.encap_content_info.econtent.as_ref().ok_or_else(|| malformed("no TSTInfo content"))?;
    let econtent: der::asn1::OctetString = econtent.decode_as().map_err(|e| malformed(format!("eContent: {e}")))?;
    let info = tst_info(econtent.as_bytes())?;
    let expected = keys::digest(&info.imprint_alg, signature).map_err(TimestampError::Malformed)?;
    if expected != info.imprint {
        return Err(TimestampError::ImprintMismatch {
            found: hex::encode(&info.imprint),
            expected: hex::encode(expected),
        });
    }
    let signers: Vec<&SignerInfo> = sd.signer_infos.0.iter().collect();
    let [signer] = signers[..] else {
        return Err(malformed(format!("{} signers (one expected)", signers.len())));
    };
    check_attributes(signer, econtent.as_bytes())?;
    let embedded: Vec<Vec<u8>> = sd
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            cms::cert::CertificateChoices::Certificate(c) => c.to_der().ok(),
            _ => None,
        })
        .collect();
    let mut why = Vec::new();
    for tsa in &root.timestamp_authorities {
        match by_authority(tsa, signer, &embedded, info.gen_time) {
            Ok(()) => return Ok(Verified { time: info.gen_time, authority: tsa.uri.clone() }),
            Err(e) => why.push(format!("{}: {e}", if tsa.uri.is_empty() { "TSA" } else { &tsa.uri })),
        }
    }
    if why.is_empty() {
        why.push("the trusted root lists no timestamp authority".into());
    }
    Err(TimestampError::Untrusted(why.join("; ")))
}

/// The signed attributes name the TSTInfo and carry its digest.
fn check_attributes(signer: &SignerInfo, econtent: &[u8]) -> Result<(), TimestampError> {
    let attrs = signer.signed_attrs.as_ref().ok_or_else(|| TimestampError::Attributes("none".into()))?;
    let value =
        |oid: ObjectIdentifier| attrs.iter().find(|a| a.oid == oid).and_then(|a| a.values.iter().next().cloned());
    let ct = value(ID_CONTENT_TYPE).ok_or_else(|| TimestampError::Attributes("no content-type".into()))?;
    if ct.decode_as::<ObjectIdentifier>().ok() != Some(ID_CT_TST_INFO) {
        return Err(TimestampError::Attributes("content-type is not TSTInfo".into()));
    }
    let md = value(ID_MESSAGE_DIGEST).ok_or_else(|| TimestampError::Attributes("no message-digest".into()))?;
    let md: der::asn1::OctetString =
        md.decode_as().map_err(|e| TimestampError::Attributes(format!("message-digest: {e}")))?;
    let actual = keys::digest(&signer.digest_alg.oid, econtent).map_err(TimestampError::Attributes)?;
    if md.as_bytes() != actual {
        return Err(TimestampError::Attributes("message-digest does not match the TSTInfo".into()));
    }
    Ok(())
}

fn cert_time_ok(c: &Certificate, t: i64) -> bool {
    let (nb, na) = keys::validity(c);
    nb <= t && t <= na
}

fn by_authority(tsa: &Authority, signer: &SignerInfo, embedded: &[Vec<u8>], t: i64) -> Result<(), String> {
    if !tsa.valid_at(t) {
        return Err(format!(
            "not trusted at {}",
            jiff::Timestamp::from_second(t).map(|t| t.to_string()).unwrap_or_default()
        ));
    }
    let chain = tsa
        .chain
        .iter()
        .map(|d| Certificate::from_der(d).map_err(|e| format!("certificate: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = &chain[0];
    let names_leaf = match &signer.sid {
        SignerIdentifier::IssuerAndSerialNumber(i) => {
            i.issuer == *leaf.tbs_certificate().issuer() && i.serial_number == *leaf.tbs_certificate().serial_number()
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => leaf
            .tbs_certificate()
            .get_extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>()
            .ok()
            .flatten()
            .is_some_and(|(_, k)| k == *ski),
    };
    if !names_leaf {
        return Err("the signer is not this authority's certificate".into());
    }
    // An embedded certificate with the signer's issuer and serial must be the leaf itself.
    for d in embedded {
        if let Ok(c) = Certificate::from_der(d) {
            let same_id = c.tbs_certificate().issuer() == leaf.tbs_certificate().issuer()
                && c.tbs_certificate().serial_number() == leaf.tbs_certificate().serial_number();
            if same_id && *d != tsa.chain[0] {
                return Err("the embedded signer certificate differs from the trusted one".into());
            }
        }
    }
    let attrs = signer.signed_attrs.as_ref().ok_or("no signed attributes")?.to_der().map_err(|e| e.to_string())?;
    let spki = leaf.tbs_certificate().subject_public_key_info().to_der().map_err(|e| e.to_string())?;
    let key = EcKey::from_spki_der(&spki)?;
    // Some TSAs name the key algorithm instead of the signature algorithm.
    let alg = match signer.signature_algorithm.oid {
        o if o == ObjectIdentifier::new_unwrap("1.2.840.10045.2.1") => match signer.digest_alg.oid {
            keys::SHA384 => keys::ECDSA_SHA384,
            keys::SHA512 => keys::ECDSA_SHA512,
            _ => keys::ECDSA_SHA256,
        },
        o => o,
    };
    key.verify(&alg, &attrs, signer.signature.as_bytes()).map_err(|e| format!("timestamp signature: {e}"))?;
    for (i, c) in chain.iter().enumerate() {
        if !cert_time_ok(c, t) {
            return Err(format!("certificate {i} of its chain was not valid at the timestamp's time"));
        }
    }
    tsa.chain_signatures
        .get_or_init(|| {
            chain.iter().enumerate().try_for_each(|(i, c)| {
                let issuer = chain.get(i + 1).unwrap_or(c);
                keys::verify_issued_by(c, issuer).map_err(|e| format!("certificate {i} of its chain: {e}"))
            })
        })
        .clone()?;
    let eku =
        leaf.tbs_certificate().get_extension::<x509_cert::ext::pkix::ExtendedKeyUsage>().map_err(|e| e.to_string())?;
    if !eku.is_some_and(|(_, e)| e.0.contains(&EKU_TIME_STAMPING)) {
        return Err("its leaf certificate may not sign timestamps (no timeStamping EKU)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalized_times_with_and_without_fractions() {
        assert_eq!(generalized_time(b"20250612120226Z").unwrap(), 1749729746);
        assert_eq!(generalized_time(b"20250612120226.123Z").unwrap(), 1749729746);
        assert!(generalized_time(b"20250612120226").is_err());
        assert!(generalized_time(b"2025061212022Z").is_err());
        assert!(generalized_time(b"20251312120226Z").is_err());
    }
}
