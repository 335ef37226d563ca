//! Provenance no trusted builder vouches for: the npm CLI writes its SLSA
//! provenance inside the publishing workflow, so the workflow could write
//! anything. What makes it worth something is the Fulcio certificate the
//! same run obtained: every claim the provenance makes that the certificate
//! also records must agree with it, and claims nothing can vouch for (build
//! times, completeness, reproducibility, extra parameters) are refused.
//! slsa-verifier checks npm CLI provenance the same way
//! (`provenance_forgeable.go`); failures carry its error names
//! (`ErrorMismatchCertificate`, `ErrorNonVerifiableClaim`).

use super::{Failure, SlsaError, V1, fail};
use crate::signature::identity;
use serde_json::Value;

const NPM_GHA_V1: &str = "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1";

/// What the signing certificate records about the run (Fulcio's GitHub
/// extensions), as slsa-verifier reads it: the claims every GitHub check
/// uses, and those only forgeable provenance is compared with.
#[derive(Debug, Clone, Default)]
pub struct RunClaims {
    /// Trigger, source repository (`ORG/REPO`), ref and commit.
    pub github: identity::GithubClaims,
    pub source_id: Option<String>,
    pub source_owner_id: Option<String>,
    /// The signing workflow without server: `ORG/REPO/.github/workflows/X.yml@REF`.
    pub workflow_ref: Option<String>,
    /// The signing workflow's commit (build signer digest).
    pub workflow_sha: Option<String>,
    /// The trigger workflow's path in the repository (build config URI).
    pub build_config_path: Option<String>,
    /// `RUN_ID/attempts/ATTEMPT`.
    pub run: Option<String>,
}

impl RunClaims {
    pub fn from_certificate(cert: &x509_cert::Certificate) -> Result<RunClaims, String> {
        let ext = |v2: &str| identity::extension(cert, v2, None);
        let github = identity::GithubClaims::from_certificate(cert)?;
        let repo = github.source_repository.clone();
        if let (Some(config), Some(source)) = (ext("1.3.6.1.4.1.57264.1.19")?, &github.source_digest)
            && &config != source
        {
            return Err(format!("build config digest `{config}` and source digest `{source}` disagree"));
        }
        let build_config_path = match (ext("1.3.6.1.4.1.57264.1.18")?, &repo) {
            (Some(uri), Some(repo)) => {
                let (path, _) = uri.split_once('@').ok_or_else(|| format!("build config URI `{uri}` has no ref"))?;
                let prefix = format!("https://github.com/{repo}/");
                Some(
                    path.strip_prefix(&prefix)
                        .ok_or_else(|| format!("build config URI `{uri}` is not in {repo}"))?
                        .to_string(),
                )
            }
            _ => None,
        };
        let run = match (ext("1.3.6.1.4.1.57264.1.21")?, &repo) {
            (Some(uri), Some(repo)) => {
                Some(uri.strip_prefix(&format!("https://github.com/{repo}/actions/runs/")).unwrap_or(&uri).to_string())
            }
            _ => None,
        };
        let workflow_ref =
            identity::sans(cert).into_iter().find_map(|s| s.strip_prefix("https://github.com/").map(str::to_owned));
        Ok(RunClaims {
            github,
            source_id: ext("1.3.6.1.4.1.57264.1.15")?,
            source_owner_id: ext("1.3.6.1.4.1.57264.1.17")?,
            workflow_ref,
            workflow_sha: ext("1.3.6.1.4.1.57264.1.10")?,
            build_config_path,
            run,
        })
    }

    /// (run id, attempt) of the certificate's run.
    fn run_ids(&self) -> Result<(String, String), SlsaError> {
        let Some(run) = &self.run else { return Ok((String::new(), String::new())) };
        match run.split('/').collect::<Vec<_>>()[..] {
            [id, _, attempt] => Ok((id.to_string(), attempt.to_string())),
            _ => fail(Failure::Format, format!("run invocation `{run}` is not RUN/attempts/N")),
        }
    }
}

fn mismatch<T>(what: &str, provenance: &str, certificate: Option<&str>) -> Result<T, SlsaError> {
    match certificate {
        None => fail(
            Failure::CertificateMismatch,
            format!("the certificate records no {what} to check `{provenance}` against"),
        ),
        Some(c) => fail(
            Failure::CertificateMismatch,
            format!("{what}: the provenance says `{provenance}`, the certificate `{c}`"),
        ),
    }
}

fn unverifiable<T>(what: String) -> Result<T, SlsaError> {
    fail(Failure::NonVerifiableClaim, what)
}

/// A provenance value compared with the certificate's, when the
/// provenance states it.
fn agree(params: &serde_json::Map<String, Value>, name: &str, cert: Option<&str>) -> Result<(), SlsaError> {
    let Some(v) = params.get(name) else { return Ok(()) };
    let Some(v) = v.as_str() else { return fail(Failure::Format, format!("{name} is not a string")) };
    if cert == Some(v) { Ok(()) } else { mismatch(name, v, cert) }
}

/// Checks npm CLI provenance (an in-toto statement) against the signing
/// certificate's run claims.
pub fn check(statement: &Value, run: &RunClaims) -> Result<(), SlsaError> {
    let p = &statement["predicate"];
    let v1 = statement["predicateType"].as_str().is_some_and(|t| t.starts_with(V1));
    let npm_v1 = v1 && p.pointer("/buildDefinition/buildType").and_then(Value::as_str) == Some(NPM_GHA_V1);

    // System parameters: only those the certificate can vouch for, each equal to it.
    if npm_v1 {
        let Some(github) = p.pointer("/buildDefinition/internalParameters/github").and_then(Value::as_object) else {
            return fail(Failure::Format, "internalParameters.github is missing");
        };
        for name in github.keys() {
            let cert = match name.as_str() {
                "event_name" => run.github.trigger.as_deref(),
                "repository_id" => run.source_id.as_deref(),
                "repository_owner_id" => run.source_owner_id.as_deref(),
                other => return fail(Failure::CertificateMismatch, format!("unknown `{other}` parameter")),
            };
            agree(github, name, cert)?;
        }
    } else {
        let env =
            if v1 { p.pointer("/buildDefinition/internalParameters") } else { p.pointer("/invocation/environment") };
        let Some(env) = env.and_then(Value::as_object) else {
            return fail(Failure::Format, "the provenance's system parameters are not an object");
        };
        const KNOWN: [&str; 10] = [
            "GITHUB_EVENT_NAME",
            "GITHUB_REF",
            "GITHUB_REPOSITORY",
            "GITHUB_REPOSITORY_ID",
            "GITHUB_REPOSITORY_OWNER_ID",
            "GITHUB_RUN_ATTEMPT",
            "GITHUB_RUN_ID",
            "GITHUB_SHA",
            "GITHUB_WORKFLOW_REF",
            "GITHUB_WORKFLOW_SHA",
        ];
        if let Some(other) = env.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return fail(Failure::CertificateMismatch, format!("unknown `{other}` parameter"));
        }
        agree(env, "GITHUB_EVENT_NAME", run.github.trigger.as_deref())?;
        agree(env, "GITHUB_REPOSITORY", run.github.source_repository.as_deref())?;
        agree(env, "GITHUB_REF", run.github.source_ref.as_deref())?;
        agree(env, "GITHUB_REPOSITORY_ID", run.source_id.as_deref())?;
        agree(env, "GITHUB_REPOSITORY_OWNER_ID", run.source_owner_id.as_deref())?;
        agree(env, "GITHUB_SHA", run.github.source_digest.as_deref())?;
        agree(env, "GITHUB_WORKFLOW_REF", run.workflow_ref.as_deref())?;
        agree(env, "GITHUB_WORKFLOW_SHA", run.workflow_sha.as_deref())?;
        if env.contains_key("GITHUB_RUN_ID") || env.contains_key("GITHUB_RUN_ATTEMPT") {
            if run.run.is_none() {
                return mismatch("GITHUB_RUN_*", "…", None);
            }
            let (id, attempt) = run.run_ids()?;
            agree(env, "GITHUB_RUN_ID", Some(&id))?;
            agree(env, "GITHUB_RUN_ATTEMPT", Some(&attempt))?;
        }
    }

    // v0.2 invocation parameters and build config: none may be claimed.
    if !v1 {
        for (what, v) in [("parameters", &p["invocation"]["parameters"]), ("buildConfig", &p["buildConfig"])] {
            if !v.is_null() && v.as_object().is_none_or(|m| !m.is_empty()) {
                return unverifiable(format!("{what}: {v}"));
            }
        }
    }

    // Run id and attempt; no build times.
    let (invocation, started, finished) = if v1 {
        let m = &p["runDetails"]["metadata"];
        (m["invocationId"].as_str(), &m["startedOn"], &m["finishedOn"])
    } else {
        let m = &p["metadata"];
        (m["buildInvocationId"].as_str(), &m["buildStartedOn"], &m["buildFinishedOn"])
    };
    if let Some(invocation) = invocation.filter(|i| !i.is_empty()) {
        let (id, attempt) = if npm_v1 {
            let parts: Vec<&str> = invocation.trim_start_matches("https://github.com/").split('/').collect();
            if parts.len() != 7 {
                return fail(Failure::Format, format!("invalid invocation id `{invocation}`"));
            }
            (parts[4], parts[6])
        } else {
            match invocation.split('-').collect::<Vec<_>>()[..] {
                [id, attempt] => (id, attempt),
                _ => return fail(Failure::Format, format!("invalid invocation id `{invocation}`")),
            }
        };
        let (cert_id, cert_attempt) = run.run_ids()?;
        if id != cert_id {
            return mismatch("run id", id, Some(&cert_id));
        }
        if attempt != cert_attempt {
            return mismatch("run attempt", attempt, Some(&cert_attempt));
        }
    }
    for (what, v) in [("build start time", started), ("build finish time", finished)] {
        if !v.is_null() {
            return unverifiable(format!("{what}: {v}"));
        }
    }
    if !v1 {
        let m = &p["metadata"];
        if m["reproducible"].as_bool() == Some(true) {
            return unverifiable("reproducible: true".into());
        }
        if let Some(c) = m["completeness"].as_object()
            && c.values().any(|v| v.as_bool() == Some(true))
        {
            return unverifiable(format!("completeness: {}", m["completeness"]));
        }
    }

    // One subject, known by its SHA-512 (the tarball the registry signs).
    match statement["subject"].as_array().map(Vec::as_slice) {
        Some([s]) if s["digest"]["sha512"].is_string() => {}
        Some([_]) => return unverifiable("the subject has no sha512 digest".into()),
        other => return unverifiable(format!("{} subjects (one expected)", other.map_or(0, <[Value]>::len))),
    }

    // The trigger workflow is the certificate's build config.
    let trigger = if v1 {
        p.pointer("/buildDefinition/externalParameters/workflow/path").and_then(Value::as_str)
    } else {
        Some(p.pointer("/invocation/configSource/entryPoint").and_then(Value::as_str).unwrap_or_default())
    };
    let Some(trigger) = trigger else {
        return fail(Failure::Format, "externalParameters.workflow.path is missing");
    };
    if run.build_config_path.as_deref() != Some(trigger) {
        return mismatch("trigger workflow", trigger, run.build_config_path.as_deref());
    }

    // Exactly one resolved dependency (the source).
    let deps = if v1 { &p["buildDefinition"]["resolvedDependencies"] } else { &p["materials"] };
    let n = deps.as_array().map_or(0, Vec::len);
    if n != 1 {
        return unverifiable(format!("{n} resolved dependencies (one expected)"));
    }
    Ok(())
}
