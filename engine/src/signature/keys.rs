//! Public keys and the signatures they verify, in one place: managed keys
//! given as PEM, log and CA keys from the trusted root (DER
//! SubjectPublicKeyInfo), and the keys of certificates.
//!
//! ECDSA P-256 and P-384 are verified here over a digest chosen by the
//! signature algorithm (`ecdsa-with-SHA256/384/512`), which the `sigstore`
//! crate's `CosignVerificationKey` cannot do (it ties the hash to the
//! curve); RSA and Ed25519 keys go through that type.

use const_oid::ObjectIdentifier;
use sha2::Digest as _;

pub const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
pub const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
pub const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
pub const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// The digest of `data` under a hash algorithm named by its OID.
pub fn digest(alg: &ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, String> {
    Ok(match *alg {
        SHA256 => sha2::Sha256::digest(data).to_vec(),
        SHA384 => sha2::Sha384::digest(data).to_vec(),
        SHA512 => sha2::Sha512::digest(data).to_vec(),
        _ => return Err(format!("hash algorithm {alg} is not supported (SHA-256/384/512 are)")),
    })
}

/// An ECDSA public key (P-256 or P-384).
#[derive(Debug, Clone)]
pub enum EcKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl EcKey {
    /// From a PEM `PUBLIC KEY`, whatever its line length (npm's registry
    /// keys come on one long line, which strict RFC 7468 readers refuse).
    pub fn from_pem(pem: &[u8]) -> Result<EcKey, String> {
        let unusable =
            || "the public key is not an ECDSA P-256 or P-384 PEM key (other managed keys are not supported yet)";
        let der = public_key_der(pem).map_err(|_| unusable().to_string())?;
        EcKey::from_spki_der(&der).map_err(|_| unusable().to_string())
    }

    /// From a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<EcKey, String> {
        use p256::pkcs8::DecodePublicKey as _;
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(EcKey::P256(k));
        }
        if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(EcKey::P384(k));
        }
        Err("the public key is not ECDSA P-256 or P-384 (others are not supported here)".into())
    }

    /// The uncompressed SEC1 point, to compare keys however they were written.
    pub fn sec1(&self) -> Vec<u8> {
        match self {
            EcKey::P256(k) => k.to_sec1_point(false).as_bytes().to_vec(),
            EcKey::P384(k) => k.to_sec1_point(false).as_bytes().to_vec(),
        }
    }

    /// Verifies a DER ECDSA signature over a digest.
    pub fn verify_prehash(&self, digest: &[u8], der: &[u8]) -> Result<(), String> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let r = match self {
            EcKey::P256(k) => p256::ecdsa::DerSignature::try_from(der)
                .map_err(|e| format!("signature is not DER ECDSA: {e}"))
                .and_then(|sig| k.verify_prehash(digest, &sig).map_err(|e| e.to_string())),
            EcKey::P384(k) => p384::ecdsa::DerSignature::try_from(der)
                .map_err(|e| format!("signature is not DER ECDSA: {e}"))
                .and_then(|sig| k.verify_prehash(digest, &sig).map_err(|e| e.to_string())),
        };
        r.map_err(|e| format!("signature does not verify: {e}"))
    }

    /// Verifies a DER ECDSA signature over `msg` made with the X.509
    /// signature algorithm `alg` (`ecdsa-with-SHA256/384/512`).
    pub fn verify(&self, alg: &ObjectIdentifier, msg: &[u8], der: &[u8]) -> Result<(), String> {
        let hash = match *alg {
            ECDSA_SHA256 => SHA256,
            ECDSA_SHA384 => SHA384,
            ECDSA_SHA512 => SHA512,
            _ => return Err(format!("signature algorithm {alg} is not supported (ECDSA with SHA-256/384/512 is)")),
        };
        self.verify_prehash(&digest(&hash, msg)?, der)
    }
}

/// Verifies a signature over `msg` made with a managed key given as PEM,
/// the way cosign signs with one (`cosign sign --key`, `attest --key`):
///
/// * ECDSA over SHA-256 whatever the curve — cosign loads keys with
///   SHA-256 by default, so an imported P-384 key signs SHA-256 digests —
///   or over the curve's own hash (P-384 keys made with
///   `--signing-algorithm ecdsa-sha2-384-nistp384`); DER signatures;
/// * RSA PKCS#1 v1.5 with SHA-256;
/// * Ed25519 over the message itself.
///
/// The `sigstore` crate's `CosignVerificationKey` ties the hash to the
/// curve (P-384 with SHA-384 only) and so refuses cosign's default; it is
/// used here for RSA, Ed25519 and P-521.
pub fn verify_message(pem: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String> {
    verify_message_spki(&public_key_der(pem)?, msg, sig)
}

/// The DER SubjectPublicKeyInfo of a PEM `PUBLIC KEY`, whatever its line
/// length.
fn public_key_der(pem: &[u8]) -> Result<Vec<u8>, String> {
    let blocks = super::entry::pem_blocks(pem).map_err(|e| format!("unusable public key: {e}"))?;
    blocks
        .into_iter()
        .find(|(l, _)| l == "PUBLIC KEY")
        .map(|(_, der)| der)
        .ok_or_else(|| "unusable public key: no `PUBLIC KEY` PEM block (PEM ECDSA, RSA or Ed25519 expected)".into())
}

/// [`verify_message`] with the key as a DER SubjectPublicKeyInfo (a
/// certificate's key).
pub fn verify_message_spki(spki: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String> {
    if let Ok(key) = EcKey::from_spki_der(spki) {
        let hashes: &[ObjectIdentifier] = match key {
            EcKey::P256(_) => &[SHA256],
            EcKey::P384(_) => &[SHA256, SHA384],
        };
        let mut last = String::new();
        for hash in hashes {
            match key.verify_prehash(&digest(hash, msg)?, sig) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        return Err(last);
    }
    let key = sigstore::crypto::CosignVerificationKey::try_from_der(spki)
        .map_err(|e| format!("unusable public key (ECDSA, RSA or Ed25519 expected): {e}"))?;
    key.verify_signature(sigstore::crypto::Signature::Raw(sig), msg)
        .map_err(|_| "signature does not verify with the key".to_string())
}

/// Verifies a signature over an artifact known only by its SHA-256 (a
/// release artifact given as `sha256:HEX`, or a file already hashed while
/// streaming), as `cosign sign-blob --key` makes them: ECDSA P-256/P-384
/// and RSA PKCS#1 v1.5 sign a SHA-256 digest, so the digest suffices.
/// Ed25519 signs the whole artifact, which a digest cannot stand in for.
pub fn verify_sha256(pem: &[u8], sha256: &[u8; 32], sig: &[u8]) -> Result<(), String> {
    let der = public_key_der(pem)?;
    if let Ok(key) = EcKey::from_spki_der(&der) {
        return key.verify_prehash(sha256, sig);
    }
    use rsa::pkcs8::DecodePublicKey as _;
    if let Ok(key) = rsa::RsaPublicKey::from_public_key_der(&der) {
        use rsa::signature::hazmat::PrehashVerifier as _;
        let key = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key);
        let sig = rsa::pkcs1v15::Signature::try_from(sig).map_err(|e| format!("not an RSA signature: {e}"))?;
        return key
            .verify_prehash(sha256, &sig)
            .map_err(|_| "signature does not verify with the RSA key (PKCS#1 v1.5, SHA-256)".to_string());
    }
    match sigstore::crypto::CosignVerificationKey::try_from_der(&der) {
        Ok(sigstore::crypto::CosignVerificationKey::ED25519(_)) => Err(
            "Ed25519 blob signatures are not supported: Ed25519 signs the whole artifact, and release artifacts are verified by their SHA-256 (ECDSA and RSA keys sign that digest)".into(),
        ),
        Ok(_) => Err("this key type cannot verify from a SHA-256 digest (ECDSA P-256/P-384 and RSA can)".into()),
        Err(e) => Err(format!("unusable public key (PEM ECDSA, RSA or Ed25519 expected): {e}")),
    }
}

/// A certificate's validity window, `(not before, not after)` in Unix seconds.
pub fn validity(cert: &x509_cert::Certificate) -> (i64, i64) {
    let v = cert.tbs_certificate().validity();
    (v.not_before.to_unix_duration().as_secs() as i64, v.not_after.to_unix_duration().as_secs() as i64)
}

pub const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
pub const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
pub const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");

/// Verifies an RSA PKCS#1 v1.5 signature over `msg` with the hash the X.509
/// algorithm `alg` names (`sha256/384/512WithRSAEncryption`).
pub(crate) fn verify_rsa(spki: &[u8], alg: &ObjectIdentifier, msg: &[u8], sig: &[u8]) -> Result<(), String> {
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::signature::Verifier as _;
    let key = rsa::RsaPublicKey::from_public_key_der(spki).map_err(|e| format!("not an RSA key: {e}"))?;
    let sig = rsa::pkcs1v15::Signature::try_from(sig).map_err(|e| format!("not an RSA signature: {e}"))?;
    let ok = match *alg {
        RSA_SHA256 => rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key).verify(msg, &sig).is_ok(),
        RSA_SHA384 => rsa::pkcs1v15::VerifyingKey::<sha2::Sha384>::new(key).verify(msg, &sig).is_ok(),
        RSA_SHA512 => rsa::pkcs1v15::VerifyingKey::<sha2::Sha512>::new(key).verify(msg, &sig).is_ok(),
        _ => return Err(format!("signature algorithm {alg} is not supported")),
    };
    if ok { Ok(()) } else { Err("signature does not verify (RSA PKCS#1 v1.5)".into()) }
}

/// Verifies `cert`'s signature with `issuer`'s key: ECDSA with
/// SHA-256/384/512 (Fulcio, most private CAs) or RSA PKCS#1 v1.5 with
/// SHA-256/384/512 (private CAs, e.g. BYO-PKI cosign).
pub fn verify_issued_by(cert: &x509_cert::Certificate, issuer: &x509_cert::Certificate) -> Result<(), String> {
    use der::Encode as _;
    let spki = issuer.tbs_certificate().subject_public_key_info().to_der().map_err(|e| e.to_string())?;
    let tbs = cert.tbs_certificate().to_der().map_err(|e| e.to_string())?;
    let sig = cert.signature().as_bytes().ok_or("certificate signature has unused bits")?;
    let alg = cert.signature_algorithm().oid;
    if [RSA_SHA256, RSA_SHA384, RSA_SHA512].contains(&alg) {
        return verify_rsa(&spki, &alg, &tbs, sig);
    }
    EcKey::from_spki_der(&spki)?.verify(&alg, &tbs, sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_keys_with_any_line_length() {
        let one_line = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1Olb3zMAFFxXKHiIkQO5cJ3Yhl5i6UPp+IhuteBJbuHcA5UogKo0EWtlWwW6KSaKoTNEYL7JlCQiVnkhBktUgg==\n-----END PUBLIC KEY-----\n";
        assert!(matches!(EcKey::from_pem(one_line.as_bytes()), Ok(EcKey::P256(_))));
        assert!(EcKey::from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err());
    }
}
