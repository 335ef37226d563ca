//! Signed certificate timestamps (RFC 6962 §3.2–3.3) embedded in a Fulcio
//! signing certificate, decoded and verified as sigstore-go does: every SCT
//! of the list is tried, SCTs from logs the trusted root does not name are
//! skipped, and at least one must verify under a CT log key of the root
//! that was valid at the SCT's time. Each SCT's extensions are carried into
//! the signed data verbatim, whatever they hold (Static CT logs put a leaf
//! index there).
//!
//! Why not only the `sigstore` crate's check: it accepts exactly one SCT,
//! and it cannot hash the issuer's key when the issuer is the trust anchor
//! itself and that key is longer than 127 bytes (an RSA root, as
//! sigstore-conformance's `bundle-with-sct-with-extensions` has): such
//! valid certificates were refused. [`super::bundle`] falls back here when
//! the crate refuses at its SCT step, having passed its chain check.

use super::keys;
use super::trust::TrustRoot;
use der::{Decode as _, Encode as _, Tagged as _};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;

/// The X.509 extension holding the SCT list.
const SCT_LIST: const_oid::ObjectIdentifier = const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");

/// SCTs a certificate may carry before the list is refused unread.
const MAX_SCTS: usize = 16;

/// One SCT as RFC 6962 §3.2 lays it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    pub version: u8,
    pub log_id: [u8; 32],
    /// Milliseconds since the epoch.
    pub timestamp: u64,
    pub extensions: Vec<u8>,
    pub hash_algorithm: u8,
    pub signature_algorithm: u8,
    pub signature: Vec<u8>,
}

/// Reads big-endian TLS fields, refusing anything short.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!("{what}: {n} bytes expected, {} left", self.0.len()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn uint(&mut self, n: usize, what: &str) -> Result<u64, String> {
        Ok(self.take(n, what)?.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// A `<len>`-prefixed vector with an `n`-byte length.
    fn vector(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let len = self.uint(n, what)? as usize;
        self.take(len, what)
    }
}

/// The SCTs of a `SignedCertificateTimestampList` (the TLS bytes inside
/// the extension's OCTET STRING).
pub fn parse_list(tls: &[u8]) -> Result<Vec<Sct>, String> {
    let mut outer = Reader(tls);
    let list = outer.vector(2, "SCT list")?;
    if !outer.0.is_empty() {
        return Err(format!("SCT list: {} bytes after the list", outer.0.len()));
    }
    let mut items = Reader(list);
    let mut scts = Vec::new();
    while !items.0.is_empty() {
        if scts.len() == MAX_SCTS {
            return Err(format!("SCT list: more than {MAX_SCTS} SCTs"));
        }
        let what = format!("SCT {}", scts.len());
        let mut r = Reader(items.vector(2, &what)?);
        let sct = Sct {
            version: r.uint(1, &what)? as u8,
            log_id: r.take(32, &what)?.try_into().expect("32 bytes taken"),
            timestamp: r.uint(8, &what)?,
            extensions: r.vector(2, &what)?.to_vec(),
            hash_algorithm: r.uint(1, &what)? as u8,
            signature_algorithm: r.uint(1, &what)? as u8,
            signature: r.vector(2, &what)?.to_vec(),
        };
        if !r.0.is_empty() {
            return Err(format!("{what}: {} bytes after the signature", r.0.len()));
        }
        scts.push(sct);
    }
    Ok(scts)
}

/// The certificate's SCTs; `Err` when it has none or they do not decode.
pub fn embedded(cert: &Certificate) -> Result<Vec<Sct>, String> {
    let ext = cert
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .find(|e| e.extn_id == SCT_LIST)
        .ok_or("the signing certificate carries no SCT (no certificate-transparency extension)")?;
    let inner = der::asn1::OctetString::from_der(ext.extn_value.as_bytes())
        .map_err(|e| format!("the SCT extension is not an OCTET STRING: {e}"))?;
    parse_list(inner.as_bytes())
}

/// The precertificate's TBS: the certificate's, without the SCT list.
/// Worked on the DER as it was signed, field by field: a decoded
/// certificate does not re-encode byte for byte (x509-cert writes dates
/// before 2050 as UTCTime even where the certificate has GeneralizedTime).
fn precert_tbs(leaf_der: &[u8]) -> Result<Vec<u8>, String> {
    let extensions_tag = der::Tag::ContextSpecific { constructed: true, number: der::TagNumber(3) };
    let wrong = |e: der::Error| format!("the signing certificate's DER: {e}");
    let certificate = Vec::<der::Any>::from_der(leaf_der).map_err(wrong)?;
    let tbs = certificate.first().ok_or("the signing certificate is an empty SEQUENCE")?;
    let mut fields: Vec<der::Any> = tbs.decode_as().map_err(wrong)?;
    if let Some(field) = fields.iter_mut().find(|f| f.tag() == extensions_tag) {
        let mut kept = Vec::new();
        for ext in Vec::<der::Any>::from_der(field.value()).map_err(wrong)? {
            if ext.decode_as::<x509_cert::ext::Extension>().map_err(wrong)?.extn_id != SCT_LIST {
                kept.push(ext);
            }
        }
        *field = der::Any::new(extensions_tag, kept.to_der().map_err(wrong)?).map_err(wrong)?;
    }
    fields.to_der().map_err(wrong)
}

/// What the log signed for an SCT over a precertificate (RFC 6962 §3.2
/// `digitally-signed struct`, `precert_entry`).
fn signed_data(sct: &Sct, issuer_key_hash: &[u8; 32], tbs: &[u8]) -> Result<Vec<u8>, String> {
    if tbs.len() >= 1 << 24 || sct.extensions.len() >= 1 << 16 {
        return Err("certificate too large for an SCT".into());
    }
    let mut out = Vec::with_capacity(tbs.len() + sct.extensions.len() + 48);
    out.push(0); // v1
    out.push(0); // certificate_timestamp
    out.extend_from_slice(&sct.timestamp.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // precert_entry
    out.extend_from_slice(issuer_key_hash);
    out.extend_from_slice(&(tbs.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(tbs);
    out.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
    out.extend_from_slice(&sct.extensions);
    Ok(out)
}

/// The certificate authority of the root that issued `leaf` (its
/// signature verifies with the CA's key).
fn issuer_of<'r>(leaf: &Certificate, cas: &'r [Certificate]) -> Option<&'r Certificate> {
    cas.iter().find(|c| {
        c.tbs_certificate().subject() == leaf.tbs_certificate().issuer() && keys::verify_issued_by(leaf, c).is_ok()
    })
}

/// Verifies that at least one SCT of `leaf` was signed by a CT log of the
/// root, valid at the SCT's time. `Err` says why each SCT failed.
pub fn verify(leaf_der: &[u8], root: &TrustRoot) -> Result<(), String> {
    let leaf = Certificate::from_der(leaf_der).map_err(|e| format!("signing certificate: {e}"))?;
    let cas: Vec<Certificate> = root
        .certificate_authorities
        .iter()
        .flat_map(|a| &a.chain)
        .filter_map(|der| Certificate::from_der(der).ok())
        .collect();
    let issuer =
        issuer_of(&leaf, &cas).ok_or("no certificate authority of the trusted root issued the signing certificate")?;
    let spki = issuer.tbs_certificate().subject_public_key_info().to_der().map_err(|e| e.to_string())?;
    let issuer_key_hash: [u8; 32] = Sha256::digest(&spki).into();
    let tbs = precert_tbs(leaf_der)?;
    let mut why = Vec::new();
    for (i, sct) in embedded(&leaf)?.iter().enumerate() {
        match verify_one(sct, &issuer_key_hash, &tbs, root) {
            Ok(()) => return Ok(()),
            Err(e) => why.push(format!("SCT {i}: {e}")),
        }
    }
    Err(format!("no SCT verifies with a CT log of the trusted root ({})", why.join("; ")))
}

fn verify_one(sct: &Sct, issuer_key_hash: &[u8; 32], tbs: &[u8], root: &TrustRoot) -> Result<(), String> {
    if sct.version != 0 {
        return Err(format!("version {} (only v1 is known)", sct.version));
    }
    let log = root
        .ctlogs
        .iter()
        .find(|l| l.log_id == sct.log_id)
        .ok_or_else(|| format!("log {} is not in the trusted root", hex::encode(sct.log_id)))?;
    let seconds = (sct.timestamp / 1000) as i64;
    if !log.valid_at(seconds) {
        return Err(format!("log {} was not trusted at the SCT's time ({seconds})", log.base_url));
    }
    if sct.hash_algorithm != 4 {
        return Err(format!("hash algorithm {} (SHA-256 = 4 expected)", sct.hash_algorithm));
    }
    let msg = signed_data(sct, issuer_key_hash, tbs)?;
    match sct.signature_algorithm {
        3 => keys::EcKey::from_spki_der(&log.der)?.verify(&keys::ECDSA_SHA256, &msg, &sct.signature),
        1 => keys::verify_rsa(&log.der, &keys::RSA_SHA256, &msg, &sct.signature),
        other => Err(format!("signature algorithm {other} (ECDSA = 3 or RSA = 1 expected)")),
    }
    .map_err(|e| format!("log {}: {e}", log.base_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(version: u8, log: u8, ext: &[u8], sig: &[u8]) -> Vec<u8> {
        let mut s = vec![version];
        s.extend([log; 32]);
        s.extend(1_700_000_000_000u64.to_be_bytes());
        s.extend((ext.len() as u16).to_be_bytes());
        s.extend(ext);
        s.extend([4, 3]);
        s.extend((sig.len() as u16).to_be_bytes());
        s.extend(sig);
        let mut out = (s.len() as u16).to_be_bytes().to_vec();
        out.extend(s);
        out
    }

    fn list(items: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = items.concat();
        let mut out = (body.len() as u16).to_be_bytes().to_vec();
        out.extend(body);
        out
    }

    #[test]
    fn lists_of_several_scts_with_extensions_decode() {
        let static_ct_leaf_index = [0u8, 0, 5, 0, 0, 0, 0, 0x70];
        let scts = parse_list(&list(&[item(0, 1, &static_ct_leaf_index, b"sig1"), item(0, 2, &[], b"sig2")])).unwrap();
        assert_eq!(scts.len(), 2);
        assert_eq!(scts[0].extensions, static_ct_leaf_index);
        assert_eq!(scts[0].log_id, [1; 32]);
        assert_eq!(scts[0].timestamp, 1_700_000_000_000);
        assert_eq!(scts[1].signature, b"sig2");
    }

    #[test]
    fn truncated_or_padded_lists_are_refused_by_name() {
        let good = list(&[item(0, 1, &[1, 2], b"sig")]);
        for cut in 1..good.len() {
            assert!(parse_list(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut padded = good.clone();
        padded.push(0);
        assert!(parse_list(&padded).unwrap_err().contains("after the list"));
        let mut inner = item(0, 1, &[], b"sig");
        inner.push(9);
        let n = (inner.len() - 2) as u16;
        inner[..2].copy_from_slice(&n.to_be_bytes());
        assert!(parse_list(&list(&[inner])).unwrap_err().contains("after the signature"));
        let many: Vec<Vec<u8>> = (0..=MAX_SCTS as u8).map(|i| item(0, i, &[], b"s")).collect();
        assert!(parse_list(&list(&many)).unwrap_err().contains("more than"));
    }

    #[test]
    fn the_signed_data_carries_the_extensions_and_the_precert() {
        let sct = parse_list(&list(&[item(0, 1, &[7, 7, 7], b"sig")])).unwrap().remove(0);
        let data = signed_data(&sct, &[9; 32], b"TBS").unwrap();
        let mut want = vec![0, 0];
        want.extend(1_700_000_000_000u64.to_be_bytes());
        want.extend([0, 1]);
        want.extend([9; 32]);
        want.extend([0, 0, 3]);
        want.extend(b"TBS");
        want.extend([0, 3, 7, 7, 7]);
        assert_eq!(data, want);
    }
}
