//! SLSA provenance: the in-toto statements builders sign, normalised to one
//! model whatever their predicate version (v0.2 or v1.0), and verified the
//! way the builders' own verifiers do ([`gha`]: slsa-github-generator, as
//! slsa-verifier decides; [`github`]: GitHub artifact attestations, as
//! `gh attestation verify` decides).
//!
//! Normalised fields: builder id, build type, subjects and their digests,
//! the source (the first material / resolved dependency, `git+https://…@ref`
//! and its digest), the trigger (the workflow that started the build),
//! external parameters, resolved dependencies, and the GitHub run
//! environment (v0.2 `invocation.environment`, lower-case keys; v1
//! `internalParameters`, upper-case keys) from which refs, branches and
//! workflow inputs are read.

pub mod forgeable;
pub mod gha;
pub mod github;
pub mod npm;
pub mod semver;
pub mod vsa;

use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const V02: &str = "https://slsa.dev/provenance/v0.2";
pub const V1: &str = "https://slsa.dev/provenance/v1";

/// Why provenance is refused, by the check that refused it. Each kind has
/// the name slsa-verifier gives the same failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The signature, certificate or log entry does not verify.
    Signature,
    /// The signing workflow is not a trusted builder.
    UntrustedBuilder,
    /// The provenance's builder is not the expected one.
    BuilderMismatch,
    /// The builder id is malformed or outside the trusted repository.
    InvalidBuilderId,
    /// A ref is not of the kind required (a tag, a branch, `vX.Y.Z`).
    InvalidRef,
    /// The artifact's digest is not a subject.
    Hash,
    Source,
    Branch,
    Tag,
    VersionedTag,
    WorkflowInputs,
    /// The statement or predicate is not what it must be.
    Format,
    /// The builder is not one this verifier can judge.
    NotSupported,
    PackageName,
    PackageVersion,
    /// Provenance written by an untrusted builder says something its
    /// signing certificate contradicts (or cannot confirm).
    CertificateMismatch,
    /// Provenance claims what nothing can vouch for (build times,
    /// completeness, extra parameters).
    NonVerifiableClaim,
    /// Deciding needs an online Rekor search (a bare DSSE envelope without
    /// a log proof): not decided offline, and never admitted.
    OnlineOnly,
}

impl Failure {
    pub const ALL: [Failure; 18] = [
        Failure::Signature,
        Failure::UntrustedBuilder,
        Failure::BuilderMismatch,
        Failure::InvalidBuilderId,
        Failure::InvalidRef,
        Failure::Hash,
        Failure::Source,
        Failure::Branch,
        Failure::Tag,
        Failure::VersionedTag,
        Failure::WorkflowInputs,
        Failure::Format,
        Failure::NotSupported,
        Failure::PackageName,
        Failure::PackageVersion,
        Failure::OnlineOnly,
        Failure::CertificateMismatch,
        Failure::NonVerifiableClaim,
    ];

    /// The failure slsa-verifier reports under `name` (e.g. `ErrorMismatchSource`).
    pub fn from_slsa_verifier_name(name: &str) -> Option<Failure> {
        Failure::ALL.into_iter().find(|f| f.slsa_verifier_names().contains(&name))
    }

    /// slsa-verifier's error names for this failure.
    pub fn slsa_verifier_names(self) -> &'static [&'static str] {
        match self {
            Failure::Signature => &["ErrorNoValidSignature", "ErrorInvalidSignature"],
            Failure::UntrustedBuilder => &["ErrorUntrustedReusableWorkflow"],
            Failure::BuilderMismatch => &["ErrorMismatchBuilderID"],
            Failure::InvalidBuilderId => &["ErrorInvalidBuilderID"],
            Failure::InvalidRef => &["ErrorInvalidRef"],
            Failure::Hash => &["ErrorMismatchHash"],
            Failure::Source => &["ErrorMismatchSource"],
            Failure::Branch => &["ErrorMismatchBranch"],
            Failure::Tag => &["ErrorMismatchTag"],
            Failure::VersionedTag => &["ErrorMismatchVersionedTag", "ErrorInvalidSemver"],
            Failure::WorkflowInputs => &["ErrorMismatchWorkflowInputs"],
            Failure::Format => &["ErrorInvalidDssePayload", "ErrorInvalidFormat", "ErrorMalformedURI"],
            Failure::OnlineOnly => &["ErrorRekorSearch"],
            Failure::NotSupported => &["ErrorNotSupported"],
            Failure::PackageName => &["ErrorMismatchPackageName"],
            Failure::PackageVersion => &["ErrorMismatchPackageVersion"],
            Failure::CertificateMismatch => &["ErrorMismatchCertificate"],
            Failure::NonVerifiableClaim => &["ErrorNonVerifiableClaim"],
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SlsaError {
    pub kind: Failure,
    pub message: String,
}

/// The statement a Sigstore bundle's DSSE envelope carries, as bytes (read
/// before verification only to choose which subject to bind).
pub(crate) fn bundle_payload(bundle: &Value) -> Result<Vec<u8>, SlsaError> {
    use base64::Engine as _;
    bundle
        .pointer("/dsseEnvelope/payload")
        .and_then(Value::as_str)
        .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
        .map_or_else(|| fail(Failure::Format, "the bundle holds no DSSE envelope"), Ok)
}

pub(crate) fn fail<T>(kind: Failure, message: impl Into<String>) -> Result<T, SlsaError> {
    Err(SlsaError { kind, message: message.into() })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub name: String,
    /// Algorithm → lower-case hex.
    pub digest: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub uri: String,
    pub digest: BTreeMap<String, String>,
}

/// A provenance statement, normalised.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub predicate_type: String,
    pub builder_id: String,
    pub build_type: String,
    pub subjects: Vec<Subject>,
    /// The workflow that started the build, `git+https://github.com/O/R@REF`.
    pub trigger_uri: Option<String>,
    /// The first material (v0.2) or resolved dependency (v1).
    pub source: Option<Dependency>,
    pub external_parameters: Value,
    pub resolved_dependencies: Vec<Dependency>,
    /// The GitHub run environment and whether its keys are upper-case.
    github: Option<(Map<String, Value>, bool)>,
}

fn digests(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_ascii_lowercase()))).collect())
        .unwrap_or_default()
}

fn dependency(v: &Value) -> Dependency {
    Dependency { uri: v["uri"].as_str().unwrap_or_default().to_string(), digest: digests(&v["digest"]) }
}

impl Provenance {
    /// Reads an in-toto statement (v0.1 or v1) holding SLSA provenance.
    pub fn from_statement(payload: &[u8]) -> Result<Provenance, SlsaError> {
        let st: Value = serde_json::from_slice(payload)
            .or_else(|e| fail(Failure::Format, format!("the statement is not JSON: {e}")))?;
        crate::attestation::validate::statement(&st)
            .or_else(|e| fail(Failure::Format, format!("in-toto statement: {e}")))?;
        if st["predicateType"].as_str().is_some_and(|t| t.starts_with(V1)) {
            crate::attestation::validate::provenance_v1(&st["predicate"])
                .or_else(|e| fail(Failure::Format, format!("SLSA provenance v1: {e}")))?;
        }
        let predicate_type = st["predicateType"].as_str().unwrap_or_default().to_string();
        let subjects: Vec<Subject> = st["subject"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| Subject {
                        name: s["name"].as_str().unwrap_or_default().to_string(),
                        digest: digests(&s["digest"]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        if subjects.is_empty() {
            return fail(Failure::Format, "the statement has no subject");
        }
        let p = &st["predicate"];
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let prov = if predicate_type == V02 {
            let materials: Vec<Dependency> =
                p["materials"].as_array().map(|a| a.iter().map(dependency).collect()).unwrap_or_default();
            Provenance {
                builder_id: text(&p["builder"]["id"]).unwrap_or_default(),
                build_type: text(&p["buildType"]).unwrap_or_default(),
                subjects,
                trigger_uri: text(&p["invocation"]["configSource"]["uri"]),
                source: materials.first().cloned(),
                external_parameters: p["invocation"]["parameters"].clone(),
                resolved_dependencies: materials,
                github: p["invocation"]["environment"].as_object().map(|m| (m.clone(), false)),
                predicate_type,
            }
        } else if predicate_type == V1 || predicate_type.starts_with("https://slsa.dev/provenance/v1") {
            let bd = &p["buildDefinition"];
            let deps: Vec<Dependency> =
                bd["resolvedDependencies"].as_array().map(|a| a.iter().map(dependency).collect()).unwrap_or_default();
            let internal = bd["internalParameters"].as_object().cloned();
            // GitHub builders name the calling workflow `ORG/REPO/PATH@REF`.
            let trigger_uri =
                internal.as_ref().and_then(|m| m.get("GITHUB_WORKFLOW_REF")).and_then(Value::as_str).and_then(|r| {
                    let (repo_path, git_ref) = r.split_once('@')?;
                    let mut parts = repo_path.splitn(3, '/');
                    Some(format!("git+https://github.com/{}/{}@{git_ref}", parts.next()?, parts.next()?))
                });
            Provenance {
                builder_id: text(&p["runDetails"]["builder"]["id"]).unwrap_or_default(),
                build_type: text(&bd["buildType"]).unwrap_or_default(),
                subjects,
                trigger_uri,
                source: deps.first().cloned(),
                external_parameters: bd["externalParameters"].clone(),
                resolved_dependencies: deps,
                github: internal.map(|m| (m, true)),
                predicate_type,
            }
        } else {
            return fail(
                Failure::Format,
                format!("predicate type `{predicate_type}` is not SLSA provenance v0.2 or v1"),
            );
        };
        if prov.builder_id.is_empty() {
            return fail(Failure::Format, "the provenance names no builder id");
        }
        Ok(prov)
    }

    /// Whether a subject carries this SHA-256 digest.
    pub fn has_subject(&self, sha256_hex: &str) -> bool {
        self.subjects.iter().any(|s| s.digest.get("sha256").is_some_and(|d| d == sha256_hex))
    }

    fn env(&self, key: &str) -> Result<&Value, SlsaError> {
        let Some((env, upper)) = &self.github else {
            return fail(Failure::Format, "the provenance has no GitHub run environment");
        };
        let key = if *upper { key.to_ascii_uppercase() } else { key.to_string() };
        env.get(&key).map_or_else(|| fail(Failure::Format, format!("the run environment has no `{key}`")), Ok)
    }

    fn env_str(&self, key: &str) -> Result<String, SlsaError> {
        match self.env(key)? {
            Value::String(s) => Ok(s.clone()),
            _ => fail(Failure::Format, format!("`{key}` in the run environment is not a string")),
        }
    }

    fn event_payload(&self) -> Result<&Map<String, Value>, SlsaError> {
        self.env("github_event_payload")?
            .as_object()
            .map_or_else(|| fail(Failure::Format, "the event payload is not an object"), Ok)
    }

    /// The git ref the build ran on when it was a tag (`refs/tags/…`);
    /// empty for a branch build.
    pub fn tag_ref(&self) -> Result<String, SlsaError> {
        match self.env_str("github_ref_type")?.as_str() {
            "branch" => Ok(String::new()),
            "tag" => self.env_str("github_ref"),
            other => fail(Failure::Format, format!("unknown ref type `{other}`")),
        }
    }

    /// The branch ref the build belongs to: the ref of a branch build; for a
    /// tag, the branch it was cut from when the event says (base ref, push
    /// payload `base_ref`, release `target_commitish`), else empty.
    pub fn branch_ref(&self) -> Result<String, SlsaError> {
        match self.env_str("github_ref_type")?.as_str() {
            "branch" => self.env_str("github_ref"),
            "tag" => {
                let base = self.env_str("github_base_ref")?;
                if !base.is_empty() {
                    return Ok(base);
                }
                match self.env_str("github_event_name")?.as_str() {
                    "push" => Ok(self
                        .event_payload()?
                        .get("base_ref")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()),
                    "release" => {
                        let target = self.event_payload()?.get("release").and_then(|r| r.get("target_commitish"));
                        match target.and_then(Value::as_str) {
                            Some(b) => Ok(format!("refs/heads/{b}")),
                            None => fail(Failure::Format, "the release payload has no target_commitish"),
                        }
                    }
                    _ => Ok(String::new()),
                }
            }
            other => fail(Failure::Format, format!("unknown ref type `{other}`")),
        }
    }

    /// The git ref the run was for (`refs/heads/…`, `refs/tags/…`), when
    /// the provenance records the GitHub run environment.
    pub fn run_ref(&self) -> Option<String> {
        self.env_str("github_ref").ok()
    }

    /// The inputs of a `workflow_dispatch` run.
    pub fn workflow_inputs(&self) -> Result<&Map<String, Value>, SlsaError> {
        let event = self.env_str("github_event_name")?;
        if event != "workflow_dispatch" {
            return fail(
                Failure::WorkflowInputs,
                format!("inputs exist only for workflow_dispatch runs, this was `{event}`"),
            );
        }
        self.event_payload()?
            .get("inputs")
            .and_then(Value::as_object)
            .map_or_else(|| fail(Failure::Format, "the event payload has no inputs"), Ok)
    }
}
