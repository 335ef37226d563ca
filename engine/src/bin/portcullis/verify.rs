//! The offline verifiers shaped as other tools' clients: `verify-bundle`
//! (sigstore-conformance), `verify-provenance`, `verify-npm-package` and
//! `verify-vsa` (slsa-verifier), `verify-github-attestation` (gh). Each reads its flags into the library's
//! expectations and prints its verdict: exit 0 verified, 1 not, 2 usage.

use crate::common::{self, Global, fail};
use portcullis::signature::identity::{Identity, Matcher};
use std::path::PathBuf;
use std::process::ExitCode;

/// Verify a Sigstore bundle offline against a trusted root (the
/// sigstore-conformance client shape). Exit 0 verified, 1 not (reason on stderr), 2 usage.
#[derive(clap::Args)]
pub struct BundleArgs {
    #[arg(long)]
    bundle: PathBuf,
    /// PEM public key of a managed key.
    #[arg(long, conflicts_with_all = ["certificate_identity", "certificate_identity_regexp"])]
    key: Option<PathBuf>,
    /// Expected certificate SAN (exact).
    #[arg(long, conflicts_with = "certificate_identity_regexp")]
    certificate_identity: Option<String>,
    /// Expected certificate SAN, as a regular expression matching the whole SAN.
    #[arg(long)]
    certificate_identity_regexp: Option<String>,
    /// Expected OIDC issuer (exact).
    #[arg(long, conflicts_with = "certificate_oidc_issuer_regexp")]
    certificate_oidc_issuer: Option<String>,
    /// Expected OIDC issuer, as a regular expression matching the whole issuer.
    #[arg(long)]
    certificate_oidc_issuer_regexp: Option<String>,
    /// trusted_root.json, or `staging` / `production` (embedded; default: production).
    #[arg(long)]
    trusted_root: Option<PathBuf>,
    /// The artifact, or `sha256:HEX` of it (`sha512:HEX` for statements with SHA-512 subjects only).
    artifact: String,
}

/// Verify SLSA provenance from slsa-github-generator offline, deciding as
/// slsa-verifier's `verify-artifact` does. Exit 0 verified, 1 not (the
/// failed check on stderr), 2 usage.
#[derive(clap::Args)]
pub struct ProvenanceArgs {
    /// The provenance: a Sigstore bundle holding a DSSE in-toto statement.
    #[arg(long)]
    provenance: PathBuf,
    /// Expected source repository, e.g. github.com/acme/app.
    #[arg(long)]
    source_uri: String,
    /// Expected builder, NAME[@VERSION] (default: any trusted builder).
    #[arg(long)]
    builder_id: Option<String>,
    #[arg(long)]
    source_branch: Option<String>,
    #[arg(long)]
    source_tag: Option<String>,
    /// A semantic version the tag must match as far as given (v1, v1.2, v1.2.3).
    #[arg(long)]
    source_versioned_tag: Option<String>,
    /// KEY=VALUE inputs the workflow_dispatch run must have had.
    #[arg(long = "build-workflow-input", value_parser = key_value)]
    build_workflow_inputs: Vec<(String, String)>,
    /// trusted_root.json, or `staging` / `production` (embedded; default: production).
    #[arg(long)]
    trusted_root: Option<PathBuf>,
    /// Print the normalised provenance as JSON on success.
    #[arg(long)]
    print_provenance: bool,
    /// The artifact, or `sha256:HEX` of it.
    artifact: String,
}

/// Verify an npm package published with provenance, offline, deciding as
/// slsa-verifier's `verify-npm-package` does: the provenance's keyless
/// signature (a GitHub workflow), the registry's publish attestation
/// (its key embedded from Sigstore's TUF repository), both bound to the
/// tarball's SHA-512, builder, source, name and version. Exit 0
/// verified, 1 not (the failed check on stderr), 2 usage.
#[derive(clap::Args)]
pub struct NpmPackageArgs {
    /// The registry's attestation set for the version
    /// (`https://registry.npmjs.org/-/npm/v1/attestations/NAME@VERSION`).
    #[arg(long)]
    attestations_path: PathBuf,
    /// Expected source repository, e.g. github.com/acme/app.
    #[arg(long)]
    source_uri: String,
    /// Expected builder: https://github.com/actions/runner[/github-hosted|/self-hosted]
    /// (the npm CLI in a workflow) or slsa-github-generator's Node.js builder.
    #[arg(long)]
    builder_id: Option<String>,
    #[arg(long)]
    package_name: Option<String>,
    #[arg(long)]
    package_version: Option<String>,
    /// The registry's `keys.json` (default: embedded, from sigstore/root-signing).
    #[arg(long)]
    npm_registry_keys: Option<PathBuf>,
    /// trusted_root.json, or `staging` / `production` (embedded; default: production).
    #[arg(long)]
    trusted_root: Option<PathBuf>,
    /// The package tarball (`npm pack`), or `sha512:HEX` of it.
    tarball: String,
}

/// Verify GitHub artifact attestations (actions/attest-build-provenance)
/// offline, deciding as `gh attestation verify` does: every bundle of the
/// file verifies against the public-good trusted root, names the artifact,
/// and was signed by a workflow of the owner or repository. Exit 0
/// verified, 1 not (gh's reason on stderr), 2 usage.
#[derive(clap::Args)]
pub struct GithubAttestationArgs {
    /// A `.json` bundle, or a `.jsonl` file of bundles (one a line).
    #[arg(long, short)]
    bundle: PathBuf,
    /// The GitHub organisation or user the repository belongs to.
    #[arg(long, short, conflicts_with = "repo")]
    owner: Option<String>,
    /// OWNER/REPO the attestation must come from.
    #[arg(long, short = 'R')]
    repo: Option<String>,
    /// The SAN, exactly.
    #[arg(long, conflicts_with_all = ["cert_identity_regex", "signer_repo", "signer_workflow"])]
    cert_identity: Option<String>,
    /// A regular expression found in the SAN (anchor it with `^`).
    #[arg(long, conflicts_with_all = ["signer_repo", "signer_workflow"])]
    cert_identity_regex: Option<String>,
    /// OWNER/REPO whose workflow signed (a reusable workflow's repository).
    #[arg(long, conflicts_with = "signer_workflow")]
    signer_repo: Option<String>,
    /// [HOST/]OWNER/REPO/PATH of the workflow that signed.
    #[arg(long)]
    signer_workflow: Option<String>,
    /// The OIDC issuer (default: GitHub Actions', or the tenant's on *.ghe.com).
    #[arg(long)]
    cert_oidc_issuer: Option<String>,
    /// `sha256` or `sha512`.
    #[arg(long, default_value = "sha256", value_parser = ["sha256", "sha512"])]
    digest_alg: String,
    /// `github.com` or a GHE.com tenant host.
    #[arg(long, default_value = "github.com")]
    hostname: String,
    /// Judge only attestations of this predicate type.
    #[arg(long)]
    predicate_type: Option<String>,
    /// Refuse attestations made on self-hosted runners.
    #[arg(long)]
    deny_self_hosted_runners: bool,
    /// The public-good trusted_root.json (default: embedded, production).
    #[arg(long)]
    trusted_root: Option<PathBuf>,
    /// `text` or `json` (an array, one entry per attestation).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
    /// The artifact, or `sha256:HEX` / `sha512:HEX` of it.
    artifact: String,
}

/// Verify a SLSA Verification Summary Attestation (a DSSE envelope, or
/// the first line of a JSON Lines file) with the issuer's public key, as
/// slsa-verifier's `verify-vsa` does. Exit 0 verified, 1 not, 2 usage.
#[derive(clap::Args)]
pub struct VsaArgs {
    #[arg(long)]
    vsa: PathBuf,
    /// The issuer's PEM public key.
    #[arg(long)]
    public_key: PathBuf,
    /// The key id the envelope's signature must name (`audit --vsa-key`
    /// writes `sha256:` of the public key's DER).
    #[arg(long)]
    public_key_id: String,
    /// `ALG:VALUE` digests the subjects must cover; repeatable.
    #[arg(long = "subject-digest")]
    subject_digests: Vec<String>,
    #[arg(long)]
    resource_uri: Option<String>,
    #[arg(long)]
    verifier_id: Option<String>,
    /// Levels the VSA must attest (`SLSA_BUILD_LEVEL_2` is met by level 3); repeatable.
    #[arg(long = "verified-level")]
    verified_levels: Vec<String>,
}

pub fn run_bundle(args: BundleArgs, _: &Global) -> ExitCode {
    use portcullis::signature::bundle as b;
    let san = matcher(args.certificate_identity, args.certificate_identity_regexp);
    let issuer = matcher(args.certificate_oidc_issuer, args.certificate_oidc_issuer_regexp);
    let identity = match (san, issuer) {
        (Ok(Some(san)), Ok(Some(issuer))) => Some(Identity { san, issuer }),
        (Ok(None), Ok(None)) => None,
        (Err(e), _) | (_, Err(e)) => return fail(format!("bad regular expression {e}")),
        _ => return fail("an identity needs both a SAN and an OIDC issuer constraint"),
    };
    let root = match common::trust_root(args.trusted_root.as_deref()) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let expect = match (args.key, identity) {
        (Some(k), _) => match std::fs::read(&k) {
            Ok(pem) => b::Expectation::Key(pem),
            Err(e) => return fail(format!("{}: {e}", k.display())),
        },
        (None, Some(identity)) => b::Expectation::Identity(identity),
        (None, None) => {
            return fail("give --key, or --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]");
        }
    };
    let digest = match common::artifact_digest(&args.artifact) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let bytes = match std::fs::read(&args.bundle) {
        Ok(b) => b,
        Err(e) => return fail(format!("{}: {e}", args.bundle.display())),
    };
    match b::verify(&bytes, digest, &expect, &root) {
        Ok(_) => {
            println!("OK: {}", args.bundle.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("verification failed: {e}");
            ExitCode::from(1)
        }
    }
}

pub fn run_provenance(args: ProvenanceArgs, _: &Global) -> ExitCode {
    let expect = portcullis::slsa::gha::Expectations {
        source_uri: args.source_uri,
        builder_id: args.builder_id,
        branch: args.source_branch,
        tag: args.source_tag,
        versioned_tag: args.source_versioned_tag,
        workflow_inputs: args.build_workflow_inputs.into_iter().collect(),
        testing: false,
    };
    let (root, digest) =
        match (common::trust_root(args.trusted_root.as_deref()), common::artifact_sha256(&args.artifact)) {
            (Ok(r), Ok(d)) => (r, d),
            (Err(e), _) | (_, Err(e)) => return fail(e),
        };
    let bytes = match std::fs::read(&args.provenance) {
        Ok(b) => b,
        Err(e) => return fail(format!("{}: {e}", args.provenance.display())),
    };
    match portcullis::slsa::gha::verify(&bytes, digest, &expect, &root) {
        Ok(v) => {
            println!("Verified build using builder {} from {}", v.builder_id, expect.source_uri);
            if args.print_provenance {
                let p = &v.provenance;
                let out = serde_json::json!({
                    "predicateType": p.predicate_type,
                    "builderId": p.builder_id,
                    "buildType": p.build_type,
                    "trigger": p.trigger_uri,
                    "source": p.source.as_ref().map(|d| serde_json::json!({"uri": d.uri, "digest": d.digest})),
                    "subjects": p.subjects.iter().map(|s| serde_json::json!({"name": s.name, "digest": s.digest})).collect::<Vec<_>>(),
                    "externalParameters": p.external_parameters,
                    "resolvedDependencies": p.resolved_dependencies.iter().map(|d| serde_json::json!({"uri": d.uri, "digest": d.digest})).collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            }
            ExitCode::SUCCESS
        }
        Err(e) => not_verified(e.kind.slsa_verifier_names()[0], e),
    }
}

pub fn run_npm_package(args: NpmPackageArgs, _: &Global) -> ExitCode {
    use portcullis::slsa::npm;
    let expect = npm::Expectations {
        source_uri: args.source_uri,
        builder_id: args.builder_id,
        package_name: args.package_name,
        package_version: args.package_version,
        testing: false,
    };
    let root = match common::trust_root(args.trusted_root.as_deref()) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let keys = match &args.npm_registry_keys {
        None => Ok(npm::RegistryKey::embedded()),
        Some(p) => std::fs::read(p)
            .map_err(|e| e.to_string())
            .and_then(|b| npm::RegistryKey::from_keys_json(&b))
            .map_err(|e| format!("{}: {e}", p.display())),
    };
    let sha512 = common::artifact_sha512(&args.tarball);
    let attestations =
        std::fs::read(&args.attestations_path).map_err(|e| format!("{}: {e}", args.attestations_path.display()));
    let (keys, sha512, attestations) = match (keys, sha512, attestations) {
        (Ok(k), Ok(d), Ok(t)) => (k, d, t),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return fail(e),
    };
    match npm::verify(&attestations, sha512, &expect, &root, &keys) {
        Ok(builder) => {
            println!("Verified npm package built by {builder} from {}", expect.source_uri);
            ExitCode::SUCCESS
        }
        Err(e) => not_verified(e.kind.slsa_verifier_names()[0], e),
    }
}

pub fn run_github_attestation(args: GithubAttestationArgs, _: &Global) -> ExitCode {
    use portcullis::slsa::github::{self, Signer};
    let mut expect = match github::Expectations::new(args.owner.as_deref(), args.repo.as_deref(), &args.hostname) {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    expect.signer = match (args.cert_identity, args.cert_identity_regex, args.signer_repo, args.signer_workflow) {
        (Some(i), ..) => Signer::Identity(i),
        (_, Some(r), ..) => Signer::IdentityRegex(r),
        (_, _, Some(r), _) => Signer::Repository(r),
        (.., Some(w)) => Signer::Workflow(w),
        _ => Signer::Default,
    };
    if let Err(e) = expect.san() {
        return fail(format!("bad regular expression {e}"));
    }
    if let Some(issuer) = args.cert_oidc_issuer {
        expect.issuer = issuer;
    }
    expect.deny_self_hosted_runners = args.deny_self_hosted_runners;
    expect.predicate_type = args.predicate_type;
    let artifact = match (args.digest_alg.as_str(), args.artifact.as_str()) {
        ("sha512", a) => common::artifact_sha512(a).map(portcullis::signature::bundle::Artifact::Sha512),
        (_, a) if a.starts_with("sha512:") => Err(format!("`{a}` is a SHA-512 digest; add --digest-alg sha512")),
        (_, a) => common::artifact_sha256(a).map(portcullis::signature::bundle::Artifact::Sha256),
    };
    let (root, artifact, bundles) =
        match (common::trust_root(args.trusted_root.as_deref()), artifact, github::load(&args.bundle)) {
            (Ok(r), Ok(a), Ok(b)) => (r, a, b),
            (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return fail(e),
        };
    match github::verify(&bundles, artifact, &expect, &root) {
        Ok(attested) => {
            if args.format == "json" {
                println!("{}", serde_json::to_string_pretty(&attested).unwrap_or_default());
            } else {
                println!("Verification succeeded: {} attestation(s) in {}", attested.len(), args.bundle.display());
                for a in &attested {
                    println!(
                        "- {} signed by {} for {}",
                        a.predicate_type,
                        a.signer,
                        a.source_repository_uri.as_deref().unwrap_or("?")
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("verification failed: {e}");
            ExitCode::from(1)
        }
    }
}

pub fn run_vsa(args: VsaArgs, _: &Global) -> ExitCode {
    let (text, key) = match (std::fs::read(&args.vsa), std::fs::read(&args.public_key)) {
        (Ok(t), Ok(k)) => (t, k),
        (Err(e), _) => return fail(format!("{}: {e}", args.vsa.display())),
        (_, Err(e)) => return fail(format!("{}: {e}", args.public_key.display())),
    };
    let line = text.split(|b| *b == b'\n').find(|l| !l.trim_ascii().is_empty()).unwrap_or_default();
    let expect = portcullis::slsa::vsa::Expectations {
        key_id: args.public_key_id,
        subject_digests: args.subject_digests,
        resource_uri: args.resource_uri,
        verifier_id: args.verifier_id,
        verified_levels: args.verified_levels,
    };
    match portcullis::slsa::vsa::verify(line, &key, &expect) {
        Ok(st) => {
            println!("Verified VSA for {} by {}", st["predicate"]["resourceUri"], st["predicate"]["verifier"]["id"]);
            ExitCode::SUCCESS
        }
        Err(e) => not_verified(e.kind.slsa_verifier_names()[0], e),
    }
}

/// A refusal in slsa-verifier's words (`check` is its name for the failed
/// check): the reason on stderr, exit status 1.
fn not_verified(check: &str, reason: impl std::fmt::Display) -> ExitCode {
    eprintln!("verification failed ({check}): {reason}");
    ExitCode::from(1)
}

/// An exact or regex matcher from a pair of flags.
fn matcher(exact: Option<String>, regexp: Option<String>) -> Result<Option<Matcher>, String> {
    match (exact, regexp) {
        (Some(e), _) => Ok(Some(Matcher::Exact(e))),
        (None, Some(r)) => Matcher::regex(&r).map(Some),
        (None, None) => Ok(None),
    }
}

/// A `--build-workflow-input` value: KEY=VALUE.
fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}
