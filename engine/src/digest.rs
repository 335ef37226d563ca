//! Content digests (`algorithm:encoded`) as the OCI image spec defines them.
//!
//! Parsing follows the descriptor grammar; hashing and verification are only
//! possible for the registered algorithms `sha256` and `sha512`. Every blob the
//! engine reads goes through [`Digest::verify`].

use sha2::{Digest as _, Sha256, Sha512};
use std::fmt;
use std::sync::LazyLock;

static GRAMMAR: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$").expect("digest regex"));

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Digest(String);

impl Digest {
    /// Parses a digest, checking the general grammar and, for the registered
    /// algorithms, the encoded length and alphabet.
    pub fn parse(s: &str) -> Result<Digest, String> {
        if !GRAMMAR.is_match(s) {
            return Err(format!("`{s}` is not a digest (expected `algorithm:encoded`, e.g. `sha256:<64 hex>`)"));
        }
        let (alg, enc) = s.split_once(':').expect("grammar guarantees a colon");
        let want = match alg {
            "sha256" => Some(64),
            "sha512" => Some(128),
            _ => None,
        };
        if let Some(len) = want
            && (enc.len() != len || !enc.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        {
            return Err(format!("`{s}`: a {alg} digest is {len} lower-case hex characters"));
        }
        Ok(Digest(s.to_string()))
    }

    pub fn sha256(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }

    /// The SHA-256 of a file, streamed (release artifacts can be large).
    pub fn sha256_file(path: &std::path::Path) -> std::io::Result<[u8; 32]> {
        let mut hasher = Sha256::default();
        std::io::copy(&mut std::io::BufReader::new(std::fs::File::open(path)?), &mut hasher)?;
        Ok(hasher.finalize().into())
    }

    /// The SHA-512 of a file, streamed (npm tarballs are known by it).
    pub fn sha512_file(path: &std::path::Path) -> std::io::Result<[u8; 64]> {
        let mut hasher = Sha512::default();
        std::io::copy(&mut std::io::BufReader::new(std::fs::File::open(path)?), &mut hasher)?;
        Ok(hasher.finalize().into())
    }

    pub fn algorithm(&self) -> &str {
        self.0.split_once(':').map(|(a, _)| a).unwrap_or("")
    }

    pub fn encoded(&self) -> &str {
        self.0.split_once(':').map(|(_, e)| e).unwrap_or("")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Hashes `bytes` with this digest's algorithm and compares.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), DigestError> {
        let actual = match self.algorithm() {
            "sha256" => format!("sha256:{}", hex::encode(Sha256::digest(bytes))),
            "sha512" => format!("sha512:{}", hex::encode(Sha512::digest(bytes))),
            other => return Err(DigestError::Unsupported(other.to_string())),
        };
        if actual == self.0 { Ok(()) } else { Err(DigestError::Mismatch { expected: self.clone(), actual }) }
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum DigestError {
    #[error("digest algorithm `{0}` is not supported (only sha256 and sha512 can be verified)")]
    Unsupported(String),
    #[error("content does not match its digest: expected {expected}, got {actual}")]
    Mismatch { expected: Digest, actual: String },
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        assert!(Digest::parse("sha256:c86f7763873b6c0aae22d963bab59b4f5debbed6685761b5951584f6efb0633b").is_ok());
        assert!(Digest::parse("sha256:C86F7763873b6c0aae22d963bab59b4f5debbed6685761b5951584f6efb0633b").is_err());
        assert!(Digest::parse("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564").is_ok());
        assert!(Digest::parse("sha256+foo+-b:abc").is_err());
        assert!(Digest::parse("sha256:").is_err());
        assert!(Digest::parse(":abc").is_err());
        assert!(Digest::parse("sha256:abc").is_err());
    }

    #[test]
    fn verify() {
        let d = Digest::sha256(b"hello");
        assert!(d.verify(b"hello").is_ok());
        assert!(matches!(d.verify(b"hellO"), Err(DigestError::Mismatch { .. })));
        let odd = Digest::parse("md5+x:abc").unwrap();
        assert!(matches!(odd.verify(b""), Err(DigestError::Unsupported(_))));
    }
}
