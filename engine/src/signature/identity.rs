//! Who signed: the identity constraints of keyless signatures.
//!
//! A Fulcio certificate names the signer in its SAN (an e-mail, a URI such
//! as a GitHub workflow `https://github.com/ORG/REPO/.github/workflows/X.yml@refs/heads/main`,
//! or a Sigstore other-name) and the OIDC issuer that vouched for it in an
//! extension (`1.3.6.1.4.1.57264.1.8`, DER UTF8String; older certificates
//! `…1.1`, raw). Constraints are exact strings or regular expressions, the
//! way cosign's `--certificate-identity[-regexp]` and
//! `--certificate-oidc-issuer[-regexp]` work (regexes must match the whole
//! value).

use const_oid::ObjectIdentifier;
use der::Decode;
use sigstore::bundle::verify::policy::{PolicyError, PolicyResult, VerificationPolicy};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

const ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
const ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const OTHERNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");

/// An exact value or a whole-value regular expression.
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    Regex(regex::Regex),
}

impl Matcher {
    pub fn regex(pattern: &str) -> Result<Matcher, String> {
        regex::Regex::new(&format!("^(?:{pattern})$")).map(Matcher::Regex).map_err(|e| format!("`{pattern}`: {e}"))
    }

    /// A regular expression found anywhere in the value, as Go's
    /// `regexp.MatchString` finds it (gh's `--cert-identity-regex`); anchor
    /// it with `^`/`$` to say more.
    pub fn search(pattern: &str) -> Result<Matcher, String> {
        regex::Regex::new(&format!("^(?s:.*?)(?:{pattern})(?s:.*)$"))
            .map(Matcher::Regex)
            .map_err(|e| format!("`{pattern}`: {e}"))
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
        }
    }

    fn describe(&self) -> String {
        match self {
            Matcher::Exact(s) => s.clone(),
            Matcher::Regex(r) => format!("/{}/", r.as_str().trim_start_matches("^(?:").trim_end_matches(")$")),
        }
    }
}

/// SAN and issuer constraints on a signing certificate.
#[derive(Debug, Clone)]
pub struct Identity {
    pub san: Matcher,
    pub issuer: Matcher,
}

/// The SAN values of a certificate.
pub fn sans(cert: &x509_cert::Certificate) -> Vec<String> {
    let Ok(Some((_, san))) = cert.tbs_certificate().get_extension::<SubjectAltName>() else { return Vec::new() };
    san.0
        .iter()
        .filter_map(|name| match name {
            GeneralName::Rfc822Name(n) => Some(n.as_str().to_string()),
            GeneralName::UniformResourceIdentifier(n) => Some(n.as_str().to_string()),
            GeneralName::OtherName(n) if n.type_id == OTHERNAME => {
                std::str::from_utf8(n.value.value()).ok().map(str::to_owned)
            }
            _ => None,
        })
        .collect()
}

/// The OIDC issuer a certificate names.
pub fn issuer(cert: &x509_cert::Certificate) -> Option<String> {
    let exts = cert.tbs_certificate().extensions()?;
    if let Some(e) = exts.iter().find(|e| e.extn_id == ISSUER_V2) {
        return der::asn1::Utf8StringRef::from_der(e.extn_value.as_bytes()).ok().map(|s| s.as_str().to_string());
    }
    exts.iter()
        .find(|e| e.extn_id == ISSUER_V1)
        .and_then(|e| std::str::from_utf8(e.extn_value.as_bytes()).ok().map(str::to_owned))
}

/// A Fulcio extension as text: the v2 OID (DER UTF8String) or, for older
/// certificates, its deprecated v1 OID (raw bytes). When both are present
/// they must agree; `Err` names the disagreement.
pub fn extension(cert: &x509_cert::Certificate, v2: &str, v1: Option<&str>) -> Result<Option<String>, String> {
    let new = match find_extension(cert, v2) {
        Some(bytes) => Some(
            der::asn1::Utf8StringRef::from_der(bytes)
                .map(|s| s.as_str().to_string())
                .map_err(|e| format!("extension {v2}: {e}"))?,
        ),
        None => None,
    };
    let old = v1.and_then(|oid| raw_extension(cert, oid));
    match (new, old) {
        (Some(n), Some(o)) if n != o => {
            Err(format!("extensions {v2} (`{n}`) and {} (`{o}`) disagree", v1.unwrap_or("")))
        }
        (Some(n), _) => Ok(Some(n)),
        (None, o) => Ok(o),
    }
}

fn find_extension<'c>(cert: &'c x509_cert::Certificate, oid: &str) -> Option<&'c [u8]> {
    let oid = ObjectIdentifier::new(oid).ok()?;
    cert.tbs_certificate().extensions()?.iter().find(|e| e.extn_id == oid).map(|e| e.extn_value.as_bytes())
}

/// A deprecated (v1) Fulcio extension: the raw bytes as text.
pub fn raw_extension(cert: &x509_cert::Certificate, oid: &str) -> Option<String> {
    find_extension(cert, oid).and_then(|b| std::str::from_utf8(b).ok().map(str::to_owned))
}

/// The GitHub workflow claims a Fulcio certificate may carry, each read
/// from its v2 extension or its deprecated v1 one (which must agree).
#[derive(Debug, Clone, Default)]
pub struct GithubClaims {
    /// `ORG/REPO` the run was for.
    pub source_repository: Option<String>,
    pub source_ref: Option<String>,
    pub source_digest: Option<String>,
    pub trigger: Option<String>,
    /// `github-hosted` or `self-hosted`.
    pub runner_environment: Option<String>,
}

impl GithubClaims {
    pub fn from_certificate(cert: &x509_cert::Certificate) -> Result<GithubClaims, String> {
        let repo_uri = extension(cert, "1.3.6.1.4.1.57264.1.12", None)?;
        let repo_old = raw_extension(cert, "1.3.6.1.4.1.57264.1.5");
        let source_repository = match (repo_uri, repo_old) {
            (Some(uri), Some(old)) if uri != format!("https://github.com/{old}") => {
                return Err(format!("source repository extensions disagree: `{uri}` and `{old}`"));
            }
            (Some(uri), _) => Some(uri.trim_start_matches("https://github.com/").to_string()),
            (None, old) => old,
        };
        Ok(GithubClaims {
            source_repository,
            source_ref: extension(cert, "1.3.6.1.4.1.57264.1.14", Some("1.3.6.1.4.1.57264.1.6"))?,
            source_digest: extension(cert, "1.3.6.1.4.1.57264.1.13", Some("1.3.6.1.4.1.57264.1.3"))?,
            trigger: extension(cert, "1.3.6.1.4.1.57264.1.20", Some("1.3.6.1.4.1.57264.1.2"))?,
            runner_environment: extension(cert, "1.3.6.1.4.1.57264.1.11", None)?,
        })
    }
}

/// What a GitHub Actions certificate says about the workflow run.
#[derive(Debug, Clone, Default)]
pub struct Workflow {
    /// `ORG/REPO` the run was for.
    pub source_repository: String,
    pub claims: GithubClaims,
    /// The workflow that signed (SAN): `https://github.com/ORG/REPO/PATH@REF`.
    pub signer_workflow: String,
}

impl Workflow {
    pub fn from_certificate(cert: &x509_cert::Certificate) -> Result<Workflow, String> {
        let claims = GithubClaims::from_certificate(cert)?;
        Ok(Workflow {
            source_repository: claims.source_repository.clone().ok_or("the certificate names no source repository")?,
            claims,
            signer_workflow: sans(cert)
                .into_iter()
                .find(|s| s.starts_with("https://"))
                .ok_or("the certificate names no workflow URI")?,
        })
    }
}

impl VerificationPolicy for Identity {
    fn verify(&self, cert: &x509_cert::Certificate) -> PolicyResult {
        let issuer = issuer(cert).ok_or(PolicyError::ExtensionNotFound)?;
        if !self.issuer.matches(&issuer) {
            return Err(PolicyError::ExtensionCheckFailed {
                extension: "OIDC issuer".into(),
                expected: self.issuer.describe(),
                actual: issuer,
            });
        }
        let names = sans(cert);
        if !names.iter().any(|n| self.san.matches(n)) {
            return Err(PolicyError::ExtensionCheckFailed {
                extension: "SubjectAltName".into(),
                expected: self.san.describe(),
                actual: names.join(", "),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_match_whole_values() {
        let m = Matcher::regex(r"https://github\.com/acme/.*").unwrap();
        assert!(m.matches("https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1"));
        assert!(!m.matches("xhttps://github.com/acme/app"));
        assert!(Matcher::regex("(").is_err());
        assert!(Matcher::Exact("a".into()).matches("a"));
    }
}
