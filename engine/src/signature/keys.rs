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
        let blocks = super::entry::pem_blocks(pem).map_err(|_| unusable().to_string())?;
        let (_, der) = blocks.into_iter().find(|(l, _)| l == "PUBLIC KEY").ok_or_else(unusable)?;
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

/// Verifies `cert`'s signature with `issuer`'s key.
pub fn verify_issued_by(cert: &x509_cert::Certificate, issuer: &x509_cert::Certificate) -> Result<(), String> {
    use der::Encode as _;
    let spki = issuer.tbs_certificate().subject_public_key_info().to_der().map_err(|e| e.to_string())?;
    let key = EcKey::from_spki_der(&spki)?;
    let tbs = cert.tbs_certificate().to_der().map_err(|e| e.to_string())?;
    let sig = cert.signature().as_bytes().ok_or("certificate signature has unused bits")?;
    key.verify(&cert.signature_algorithm().oid, &tbs, sig)
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
