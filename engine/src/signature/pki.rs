//! Bring-your-own PKI for cosign signatures: a signing certificate issued
//! by the user's own CA (`cosign sign --certificate C --certificate-chain
//! CHAIN --key K`), with no Fulcio and no transparency log. containers/image
//! and cosign (`--ca-roots`, `--ca-intermediates`) accept such signatures
//! when the certificate chains to a configured root and names the expected
//! email and/or hostname.
//!
//! The chain is built here: leaf → intermediates (the configured ones, and
//! those the signature carries in `dev.sigstore.cosign/chain`, untrusted
//! until they chain up) → a configured root. Only configured roots are
//! anchors: a self-signed certificate the signature carries is never
//! trusted by itself. Each link is a verified signature (ECDSA or RSA), each
//! issuer a CA (basicConstraints `cA`, keyCertSign when key usage is
//! stated), and every certificate valid at the time of verification: with no
//! log entry or timestamp there is no other time to trust, so a BYO-PKI
//! signature stops verifying when its certificate expires, as in cosign.

use super::keys;
use der::Decode as _;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName};

/// The chain annotation cosign writes beside the certificate.
pub const CHAIN: &str = "dev.sigstore.cosign/chain";

const EKU_CODE_SIGNING: const_oid::ObjectIdentifier = const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
const EKU_ANY: const_oid::ObjectIdentifier = const_oid::ObjectIdentifier::new_unwrap("2.5.29.37.0");

/// Longest chain followed (leaf to root).
const MAX_DEPTH: usize = 8;

/// A private PKI: its roots and intermediates, and whom a signing
/// certificate must name.
#[derive(Debug, Clone)]
pub struct Pki {
    roots: Vec<Certificate>,
    intermediates: Vec<Certificate>,
    /// An rfc822Name SAN the certificate must carry (exact).
    pub email: Option<String>,
    /// A dNSName SAN the certificate must carry (case-insensitive; a
    /// `*.example.com` SAN covers one label).
    pub hostname: Option<String>,
}

/// Every `CERTIFICATE` block of a PEM text.
pub fn certificates(pem: &[u8], what: &str) -> Result<Vec<Certificate>, String> {
    let blocks = super::entry::pem_blocks(pem).map_err(|e| format!("{what}: {e}"))?;
    blocks
        .into_iter()
        .filter(|(label, _)| label == "CERTIFICATE")
        .enumerate()
        .map(|(i, (_, der))| Certificate::from_der(&der).map_err(|e| format!("{what}: certificate {}: {e}", i + 1)))
        .collect()
}

fn name(c: &Certificate) -> String {
    c.tbs_certificate().subject().to_string()
}

fn valid_at(c: &Certificate, now: i64) -> Result<(), String> {
    let (nb, na) = keys::validity(c);
    let v = c.tbs_certificate().validity();
    if now < nb {
        return Err(format!("certificate `{}` is not valid before {}", name(c), v.not_before));
    }
    if now > na {
        return Err(format!("certificate `{}` expired at {}", name(c), v.not_after));
    }
    Ok(())
}

/// `c` may issue certificates: basicConstraints cA, and keyCertSign when
/// its key usage is stated.
fn is_ca(c: &Certificate) -> Result<(), String> {
    let bc = c.tbs_certificate().get_extension::<BasicConstraints>().map_err(|e| e.to_string())?;
    if !bc.is_some_and(|(_, b)| b.ca) {
        return Err(format!("certificate `{}` is not a CA (basicConstraints)", name(c)));
    }
    let ku = c.tbs_certificate().get_extension::<KeyUsage>().map_err(|e| e.to_string())?;
    if ku.is_some_and(|(_, k)| !k.0.contains(KeyUsages::KeyCertSign)) {
        return Err(format!("certificate `{}` may not sign certificates (key usage)", name(c)));
    }
    Ok(())
}

impl Pki {
    /// From PEM roots (at least one) and optional PEM intermediates.
    pub fn new(
        roots_pem: &[u8],
        intermediates_pem: Option<&[u8]>,
        email: Option<String>,
        hostname: Option<String>,
    ) -> Result<Pki, String> {
        let roots = certificates(roots_pem, "CA roots")?;
        if roots.is_empty() {
            return Err("CA roots: no certificate".into());
        }
        let intermediates = match intermediates_pem {
            Some(pem) => certificates(pem, "CA intermediates")?,
            None => Vec::new(),
        };
        if email.is_none() && hostname.is_none() {
            return Err(
                "a PKI signer needs an expected email or hostname (any certificate the CA issued would do otherwise)"
                    .into(),
            );
        }
        Ok(Pki { roots, intermediates, email, hostname })
    }

    /// Verifies that `leaf` chains to a root through the configured
    /// intermediates and `carried` (the signature's own chain), every
    /// certificate valid at `now` (Unix seconds), and that it names the
    /// expected email/hostname and may sign code.
    pub fn verify(&self, leaf: &Certificate, carried: &[Certificate], now: i64) -> Result<(), String> {
        valid_at(leaf, now)?;
        let eku = leaf.tbs_certificate().get_extension::<ExtendedKeyUsage>().map_err(|e| e.to_string())?;
        if let Some((_, eku)) = eku
            && !eku.0.iter().any(|o| *o == EKU_CODE_SIGNING || *o == EKU_ANY)
        {
            return Err("the signing certificate may not sign code (its extended key usage lacks codeSigning)".into());
        }
        self.identity(leaf)?;
        let pool: Vec<&Certificate> = self.intermediates.iter().chain(carried).collect();
        let mut current = leaf;
        for _ in 0..MAX_DEPTH {
            let issuer = current.tbs_certificate().issuer();
            if let Some(root) = self
                .roots
                .iter()
                .find(|r| r.tbs_certificate().subject() == issuer && keys::verify_issued_by(current, r).is_ok())
            {
                valid_at(root, now)?;
                return is_ca(root);
            }
            let next = pool.iter().find(|c| {
                c.tbs_certificate().subject() == issuer && *c != &current && keys::verify_issued_by(current, c).is_ok()
            });
            let Some(next) = next else {
                return Err(format!(
                    "no path from the signing certificate to a configured CA root: nothing verifies `{}`, issuer of `{}`",
                    issuer,
                    name(current)
                ));
            };
            is_ca(next)?;
            valid_at(next, now)?;
            current = next;
        }
        Err(format!("no path to a configured CA root within {MAX_DEPTH} certificates"))
    }

    fn identity(&self, leaf: &Certificate) -> Result<(), String> {
        let san = leaf.tbs_certificate().get_extension::<SubjectAltName>().map_err(|e| e.to_string())?;
        let names: Vec<&GeneralName> = san.as_ref().map(|(_, s)| s.0.iter().collect()).unwrap_or_default();
        if let Some(email) = &self.email {
            let emails: Vec<&str> = names
                .iter()
                .filter_map(|n| if let GeneralName::Rfc822Name(e) = n { Some(e.as_str()) } else { None })
                .collect();
            if !emails.contains(&email.as_str()) {
                return Err(format!("the signing certificate names email {emails:?}, not {email}"));
            }
        }
        if let Some(host) = &self.hostname {
            let hosts: Vec<&str> = names
                .iter()
                .filter_map(|n| if let GeneralName::DnsName(h) = n { Some(h.as_str()) } else { None })
                .collect();
            if !hosts.iter().any(|h| host_matches(h, host)) {
                return Err(format!("the signing certificate names hosts {hosts:?}, not {host}"));
            }
        }
        Ok(())
    }
}

/// A dNSName SAN covers `host`: equal ignoring case, or `*.rest` covering
/// exactly one label before `rest`.
fn host_matches(san: &str, host: &str) -> bool {
    let (san, host) = (san.to_ascii_lowercase(), host.to_ascii_lowercase());
    match san.strip_prefix("*.") {
        Some(rest) => host.split_once('.').is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
        None => san == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_hosts_cover_one_label() {
        assert!(host_matches("myhost.example.com", "MyHost.Example.com"));
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(!host_matches("*.example.com", "a.b.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("other.example.com", "myhost.example.com"));
    }
}
