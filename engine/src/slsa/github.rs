//! GitHub artifact attestations (actions/attest-build-provenance and
//! actions/attest), verified offline and decided as `gh attestation
//! verify` decides: Sigstore bundles (v0.2 or later) whose DSSE statement
//! names the artifact's digest, signed by a GitHub Actions workflow of the
//! expected owner or repository, checked against the public-good trusted
//! root.
//!
//! The decision, in gh's order:
//! 1. bundles older than v0.2 are refused (`unsupported bundle version`);
//!    with a predicate type given, only bundles of that type are judged;
//! 2. the signing certificate's issuer picks the trusted root: `sigstore.dev`
//!    is the public-good root (embedded, or `--trusted-root`); GitHub's own
//!    instance (`GitHub, Inc.`, private repositories) needs its root and
//!    timestamp-only bundles, which are not supported offline yet;
//! 3. the bundle verifies ([`crate::signature::bundle`]: log entry, SCT,
//!    chain, signature, subject) with the SAN matching the signer rule — a
//!    signer workflow, a signer repository, an identity or regex, or by
//!    default the owner's or repository's URL prefix (case-insensitive);
//! 4. the certificate's claims: `SourceRepositoryOwnerURI` is the owner,
//!    `SourceRepositoryURI` the repository when one is given (both
//!    case-insensitive), the OIDC issuer the expected one, and with
//!    `deny_self_hosted_runners` the runner `github-hosted`.
//!
//! Every bundle of the file must pass; the messages are gh's.

use crate::signature::bundle::{self, Artifact, Expectation};
use crate::signature::identity::{self, Identity, Matcher};
use crate::signature::trust::TrustRoot;
use der::Decode as _;

/// The issuer GitHub Actions tokens come from (github.com).
pub const ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

const OWNER_URI: &str = "1.3.6.1.4.1.57264.1.16";
const REPOSITORY_URI: &str = "1.3.6.1.4.1.57264.1.12";
const RUNNER: &str = "1.3.6.1.4.1.57264.1.11";

/// Who must have signed, beyond the owner and repository.
#[derive(Debug, Clone)]
pub enum Signer {
    /// The owner's (or repository's) URL prefix: gh's default.
    Default,
    /// `--cert-identity`: the SAN, exactly.
    Identity(String),
    /// `--cert-identity-regex`: found anywhere in the SAN (Go's `MatchString`).
    IdentityRegex(String),
    /// `--signer-repo OWNER/REPO`: a workflow of that repository.
    Repository(String),
    /// `--signer-workflow [HOST/]OWNER/REPO/PATH`: that workflow.
    Workflow(String),
}

#[derive(Debug, Clone)]
pub struct Expectations {
    pub owner: String,
    /// `OWNER/REPO`.
    pub repository: Option<String>,
    pub signer: Signer,
    pub issuer: String,
    /// `github.com` or a GHE.com tenant (`acme.ghe.com`).
    pub hostname: String,
    pub deny_self_hosted_runners: bool,
    pub predicate_type: Option<String>,
}

impl Expectations {
    /// From `--owner` or `--repo` (exactly one), as gh reads them.
    pub fn new(owner: Option<&str>, repository: Option<&str>, hostname: &str) -> Result<Expectations, String> {
        if hostname != "github.com" && !hostname.ends_with(".ghe.com") {
            return Err(format!("--hostname {hostname}: only github.com and *.ghe.com are supported"));
        }
        let (owner, repository) = match (owner, repository) {
            (Some(_), Some(_)) => return Err("give --owner or --repo, not both".into()),
            (None, None) => return Err("give --owner OWNER or --repo OWNER/REPO".into()),
            (Some(o), None) => (o.to_string(), None),
            (None, Some(r)) => match r.split_once('/') {
                Some((o, name)) if !o.is_empty() && !name.is_empty() && !name.contains('/') => {
                    (o.to_string(), Some(r.to_string()))
                }
                _ => return Err(format!("invalid value provided for repo: {r}")),
            },
        };
        let issuer = match hostname.strip_suffix(".ghe.com") {
            Some(tenant) => format!("https://token.actions.{tenant}.ghe.com"),
            None => ACTIONS_ISSUER.to_string(),
        };
        Ok(Expectations {
            owner,
            repository,
            signer: Signer::Default,
            issuer,
            hostname: hostname.to_string(),
            deny_self_hosted_runners: false,
            predicate_type: None,
        })
    }

    /// The SAN constraint the signer rule makes.
    pub fn san(&self) -> Result<Matcher, String> {
        let host = regex::escape(&self.hostname);
        match &self.signer {
            Signer::Default => {
                let path = self.repository.as_deref().unwrap_or(&self.owner);
                Matcher::search(&format!("(?i)^https://{host}/{}/", regex::escape(path)))
            }
            Signer::Identity(san) => Ok(Matcher::Exact(san.clone())),
            Signer::IdentityRegex(r) => Matcher::search(r),
            Signer::Repository(r) => Matcher::search(&format!("(?i)^https://{host}/{}/", regex::escape(r))),
            Signer::Workflow(w) => {
                let first = w.split('/').next().unwrap_or_default();
                let whole = if first.contains('.') { w.clone() } else { format!("{}/{w}", self.hostname) };
                Matcher::search(&format!("^https://{}", regex::escape(&whole)))
            }
        }
    }
}

/// One verified attestation.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attested {
    pub predicate_type: String,
    /// The workflow that signed (SAN).
    pub signer: String,
    pub source_repository_uri: Option<String>,
    pub source_repository_owner_uri: Option<String>,
    pub issuer: String,
    pub runner_environment: Option<String>,
    /// Verified signing times (unix seconds).
    pub times: Vec<i64>,
}

/// The bundles of a file: one in a `.json`, one a line in a `.jsonl`.
pub fn load(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
    let text = match ext {
        "json" => std::fs::read(path)
            .map_err(|e| format!("bundle could not be loaded from JSON file at {}: {e}", path.display()))?,
        "jsonl" => std::fs::read(path)
            .map_err(|e| format!("bundles could not be loaded from JSON lines file at {}: {e}", path.display()))?,
        _ => return Err(format!("{}: bundle file extension not supported, must be json or jsonl", path.display())),
    };
    if ext == "json" {
        return Ok(vec![text]);
    }
    let lines: Vec<Vec<u8>> =
        text.split(|b| *b == b'\n').filter(|l| !l.trim_ascii().is_empty()).map(<[u8]>::to_vec).collect();
    if lines.is_empty() {
        return Err(format!("{}: provided bundle file is empty", path.display()));
    }
    Ok(lines)
}

/// Verifies every bundle; `Err` is the first refusal, in gh's words.
pub fn verify(
    bundles: &[Vec<u8>],
    artifact: Artifact,
    expect: &Expectations,
    public_good: &TrustRoot,
) -> Result<Vec<Attested>, String> {
    let identity = Identity { san: expect.san()?, issuer: Matcher::regex(".*")? };
    let mut out = Vec::new();
    for (i, raw) in bundles.iter().enumerate() {
        let at = |m: String| if bundles.len() > 1 { format!("bundle {}: {m}", i + 1) } else { m };
        let doc: serde_json::Value = serde_json::from_slice(raw).map_err(|e| at(format!("bundle is not JSON: {e}")))?;
        let media_type = doc["mediaType"].as_str().unwrap_or_default();
        match bundle::version(media_type) {
            Some((0, minor)) if minor >= 2 => {}
            _ => return Err(at(format!("unsupported bundle version: {media_type}"))),
        }
        if doc.get("dsseEnvelope").is_none() && doc.get("messageSignature").is_none() {
            return Err(at("validation error: missing bundle content".into()));
        }
        // Read for the predicate type only: what the statement says is
        // bound by the verification below (its subject, its signature).
        let statement = doc["dsseEnvelope"]["payload"]
            .as_str()
            .and_then(|p| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.decode(p).ok()
            })
            .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
            .unwrap_or_default();
        let predicate_type = statement["predicateType"].as_str().unwrap_or_default().to_string();
        if expect.predicate_type.as_ref().is_some_and(|want| *want != predicate_type) {
            continue;
        }
        let leaf = leaf(&doc).map_err(&at)?;
        let org = issuer_organization(&leaf).unwrap_or_default();
        match org.as_str() {
            "sigstore.dev" => {}
            "GitHub, Inc." => {
                return Err(at(
                    "signed by GitHub's own Sigstore instance (private repositories): its trusted root and timestamp-only bundles are not supported offline yet".into(),
                ));
            }
            other => return Err(at(format!("failed to find recognized issuer from bundle content: `{other}`"))),
        }
        let verified = bundle::verify(raw, artifact, &Expectation::Identity(identity.clone()), public_good)
            .map_err(|e| at(format!("verifying with issuer \"{org}\": {e}")))?;
        out.push(claims(&leaf, expect, predicate_type, verified.times).map_err(&at)?);
    }
    if out.is_empty() {
        return Err(match &expect.predicate_type {
            Some(t) => format!("no attestation has predicate type {t}"),
            None => "no attestations were verified".into(),
        });
    }
    Ok(out)
}

fn leaf(doc: &serde_json::Value) -> Result<x509_cert::Certificate, String> {
    use base64::Engine as _;
    let vm = doc.get("verificationMaterial").ok_or("validation error: missing verification material")?;
    let raw = vm["certificate"]["rawBytes"]
        .as_str()
        .or_else(|| vm["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str())
        .ok_or("validation error: the verification material holds no signing certificate")?;
    let der = base64::engine::general_purpose::STANDARD.decode(raw).map_err(|e| format!("signing certificate: {e}"))?;
    x509_cert::Certificate::from_der(&der).map_err(|e| format!("signing certificate: {e}"))
}

/// The `O=` of the certificate's issuer.
fn issuer_organization(cert: &x509_cert::Certificate) -> Option<String> {
    use x509_cert::ext::pkix::name::DirectoryString;
    match cert.tbs_certificate().issuer().organization().ok()?? {
        DirectoryString::Utf8String(s) => Some(s),
        DirectoryString::PrintableString(s) => Some(s.to_string()),
        _ => None,
    }
}

/// Step 4: the certificate's claims against the expectations.
fn claims(
    cert: &x509_cert::Certificate,
    expect: &Expectations,
    predicate_type: String,
    times: Vec<i64>,
) -> Result<Attested, String> {
    let owner_uri = identity::extension(cert, OWNER_URI, None)?;
    let repo_uri = identity::extension(cert, REPOSITORY_URI, None)?;
    let issuer = identity::issuer(cert).unwrap_or_default();
    let runner = identity::extension(cert, RUNNER, None)?;
    let want_owner = format!("https://{}/{}", expect.hostname, expect.owner);
    if !owner_uri.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(&want_owner)) {
        return Err(format!(
            "expected SourceRepositoryOwnerURI to be {want_owner}, got {}",
            owner_uri.as_deref().unwrap_or("nothing")
        ));
    }
    if let Some(repo) = &expect.repository {
        let want = format!("https://{}/{repo}", expect.hostname);
        if !repo_uri.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(&want)) {
            return Err(format!(
                "expected SourceRepositoryURI to be {want}, got {}",
                repo_uri.as_deref().unwrap_or("nothing")
            ));
        }
    }
    if issuer != expect.issuer {
        let hint = if issuer.starts_with(&format!("{}/", expect.issuer)) {
            " -- if you have a custom OIDC issuer policy for your enterprise, use the --cert-oidc-issuer flag with your expected issuer"
        } else {
            ""
        };
        return Err(format!("expected Issuer to be {}, got {issuer}{hint}", expect.issuer));
    }
    if expect.deny_self_hosted_runners && runner.as_deref() != Some("github-hosted") {
        return Err(format!(
            "expected RunnerEnvironment to be github-hosted, got {}",
            runner.as_deref().unwrap_or("nothing")
        ));
    }
    Ok(Attested {
        predicate_type,
        signer: identity::sans(cert).into_iter().next().unwrap_or_default(),
        source_repository_uri: repo_uri,
        source_repository_owner_uri: owner_uri,
        issuer,
        runner_environment: runner,
        times,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(owner: Option<&str>, repo: Option<&str>, host: &str) -> Result<Expectations, String> {
        Expectations::new(owner, repo, host)
    }

    #[test]
    fn flags_are_read_as_gh_reads_them() {
        assert!(expect(None, None, "github.com").is_err());
        assert!(expect(Some("a"), Some("a/b"), "github.com").is_err());
        assert_eq!(
            expect(None, Some("sigstoresigstore-js"), "github.com").unwrap_err(),
            "invalid value provided for repo: sigstoresigstore-js"
        );
        assert!(expect(Some("a"), None, "foo.bar.com").unwrap_err().contains("only github.com and *.ghe.com"));
        let e = expect(None, Some("sigstore/sigstore-js"), "github.com").unwrap();
        assert_eq!(e.owner, "sigstore");
        assert_eq!(e.issuer, ACTIONS_ISSUER);
        assert_eq!(expect(Some("o"), None, "foo.ghe.com").unwrap().issuer, "https://token.actions.foo.ghe.com");
    }

    #[test]
    fn signer_rules_make_gh_s_san_patterns() {
        let san = "https://github.com/Sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";
        let mut e = expect(Some("sigstore"), None, "github.com").unwrap();
        assert!(e.san().unwrap().matches(san), "owner prefix, any case");
        assert!(!e.san().unwrap().matches("https://github.com/sigstorex/y/.github/workflows/a.yml@refs/heads/main"));
        e.signer = Signer::Workflow("github/artifact-attestations-workflows/.github/workflows/attest.yml".into());
        let reusable = "https://github.com/github/artifact-attestations-workflows/.github/workflows/attest.yml@09b4";
        assert!(e.san().unwrap().matches(reusable));
        e.signer =
            Signer::Workflow("github.com/github/artifact-attestations-workflows/.github/workflows/attest.yml".into());
        assert!(e.san().unwrap().matches(reusable));
        e.signer = Signer::Workflow("foo/bar/.github/workflows/attest.yml".into());
        assert!(!e.san().unwrap().matches(reusable));
        e.signer = Signer::IdentityRegex("^https://github.com/github/artifact-attestations-workflows/".into());
        assert!(e.san().unwrap().matches(reusable), "a regex is searched for, as Go's MatchString does");
        e.signer = Signer::Repository("github/artifact-attestations-workflows".into());
        assert!(e.san().unwrap().matches(reusable));
    }
}
