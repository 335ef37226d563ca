//! The `portcullis` command line: a thin shell over the library.

use clap::{Parser, Subcommand, ValueEnum};
use portcullis::report::{human, sarif};
use portcullis::{Engine, EngineOptions, Policy, Verdict, source};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

const EXIT_HELP: &str = "Exit status: 0 admitted, 1 denied, 2 usage, input or policy error.";

#[derive(Parser)]
#[command(name = "portcullis", version, about = "Decide whether a container image may pass.", after_help = EXIT_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Do not use the on-disk cache of compiled plugins.
    #[arg(long, global = true)]
    no_cache: bool,
}

/// How registries are reached (`docker://` images).
#[derive(clap::Args, Debug, Clone, Default)]
struct RegistryArgs {
    /// docker config.json / containers auth.json with registry credentials
    /// (default: $REGISTRY_AUTH_FILE, $DOCKER_CONFIG, ~/.docker/config.json).
    #[arg(long, value_name = "FILE")]
    registry_config: Option<PathBuf>,
    /// Speak plain HTTP to this registry (HOST[:PORT]); loopback registries always are. Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    insecure_registries: Vec<String>,
    /// Blob cache directory (default: ~/.cache/portcullis/registry).
    #[arg(long, value_name = "DIR")]
    registry_cache: Option<PathBuf>,
}

impl RegistryArgs {
    fn options(&self) -> portcullis::registry::RegistryOptions {
        let mut o = portcullis::registry::RegistryOptions::default();
        if let Some(d) = &self.registry_cache {
            o.cache_dir = d.clone();
        }
        o.auth_file = self.registry_config.clone();
        o.insecure = self.insecure_registries.clone();
        o
    }
}

/// Pulls a `docker://` image into the blob cache and opens it.
fn open_remote(
    spec: &str,
    args: &RegistryArgs,
    opts: &source::OpenOptions,
) -> Result<source::Input, source::InputError> {
    let err = |m: String| source::InputError { path: spec.to_string(), message: m };
    let reference = portcullis::registry::parse_reference(spec).map_err(|e| err(e.to_string()))?;
    let registry = portcullis::registry::Registry::new(args.options()).map_err(|e| err(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| err(format!("cannot start the network runtime: {e}")))?;
    let pulled = runtime.block_on(registry.pull(&reference, opts.skip_layers)).map_err(|e| err(e.to_string()))?;
    source::open_pulled(&pulled, opts)
}

#[derive(Subcommand)]
enum Command {
    /// Audit an image: an OCI layout directory, an OCI archive, a `docker save` tar,
    /// or `docker://HOST/REPO:TAG` (or `@sha256:…`) in a registry.
    #[command(after_help = EXIT_HELP)]
    Audit {
        /// The image to audit.
        path: PathBuf,
        #[command(flatten)]
        registry: RegistryArgs,
        /// Policy file (default: the embedded go-container-baseline pack).
        #[arg(long, short)]
        policy: Option<PathBuf>,
        #[arg(long, short, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Select an image by tag (docker archive) or ref name (OCI layout); repeatable. Default: all.
        #[arg(long = "image", value_name = "NAME:TAG")]
        images: Vec<String>,
        /// Repository to attribute the image to, for waivers, when the input does not say.
        #[arg(long)]
        repository: Option<String>,
        /// Write the report to a file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Also list passing and skipped rules (human format).
        #[arg(long, short)]
        verbose: bool,
        /// Read only manifests and configs, not layers (rules that need the
        /// image's files are skipped).
        #[arg(long)]
        skip_layers: bool,
        /// An SBOM (CycloneDX JSON/XML, SPDX JSON/tag-value) for the image; repeatable
        /// (one per platform of a multi-arch image). Offered to every image;
        /// the SBOM rules use those that describe it.
        #[arg(long = "sbom", value_name = "FILE")]
        sboms: Vec<PathBuf>,
        /// Largest SBOM read, in bytes.
        #[arg(long, default_value_t = portcullis::sbom::DEFAULT_MAX_BYTES)]
        max_sbom_bytes: u64,
        /// trusted_root.json that keyless signatures and attestations are
        /// verified against, or `staging` / `production` (embedded; default: production).
        #[arg(long)]
        trusted_root: Option<PathBuf>,
        /// Release artifacts (IMAGE is then a file, or `sha256:HEX`): a Sigstore
        /// bundle for it (`cosign sign-blob --bundle`); repeatable.
        #[arg(long = "bundle", value_name = "FILE")]
        bundles: Vec<PathBuf>,
        /// Release artifacts: SLSA provenance for it (a bundle, or DSSE envelopes); repeatable.
        #[arg(long = "provenance", value_name = "FILE")]
        provenance: Vec<PathBuf>,
        /// Release artifacts: a cosign blob signature (`--output-signature`).
        #[arg(long, value_name = "FILE")]
        signature: Option<PathBuf>,
        /// Release artifacts: the signature's certificate (`--output-certificate`).
        #[arg(long, value_name = "FILE", requires = "signature")]
        certificate: Option<PathBuf>,
        /// Also write a SLSA Verification Summary Attestation per subject
        /// (JSON Lines of in-toto statements) to this file.
        #[arg(long, value_name = "FILE")]
        vsa: Option<PathBuf>,
        /// Sign the VSAs (DSSE) with this ECDSA P-256 PKCS#8 PEM private key.
        #[arg(long, value_name = "FILE", requires = "vsa")]
        vsa_key: Option<PathBuf>,
    },
    /// Serve admission webhooks (`/validate`, `/mutate`) and a JSON API
    /// (`/v1/evaluate`), with `/healthz`, `/readyz` and `/metrics`.
    Serve {
        /// Policy file; repeatable. The first one judges admission requests;
        /// `/v1/evaluate` picks any by name. Reloaded when the file changes.
        #[arg(long, short, required = true)]
        policy: Vec<PathBuf>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: std::net::SocketAddr,
        /// PEM certificate chain (HTTPS); reloaded when it changes.
        #[arg(long, requires = "tls_key", value_name = "FILE")]
        tls_cert: Option<PathBuf>,
        /// PEM private key of --tls-cert.
        #[arg(long, requires = "tls_cert", value_name = "FILE")]
        tls_key: Option<PathBuf>,
        /// trusted_root.json for keyless signatures, or `staging` / `production`.
        #[arg(long)]
        trusted_root: Option<PathBuf>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Work with policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Print a rule's documentation.
    Explain {
        /// Rule id, e.g. GO-CFG-001.
        rule: String,
        /// Policy whose plugins provide the rule (default: the embedded pack).
        #[arg(long, short)]
        policy: Option<PathBuf>,
    },
    /// List the rules a policy runs, with their settings.
    Rules {
        #[arg(long, short)]
        policy: Option<PathBuf>,
    },
    /// Verify a Sigstore bundle offline against a trusted root (the
    /// sigstore-conformance client shape). Exit 0 verified, 1 not (reason on stderr), 2 usage.
    VerifyBundle {
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
    },
    /// Verify SLSA provenance from slsa-github-generator offline, deciding as
    /// slsa-verifier's `verify-artifact` does. Exit 0 verified, 1 not (the
    /// failed check on stderr), 2 usage.
    VerifyProvenance {
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
    },
    /// Verify an npm package published with provenance, offline, deciding as
    /// slsa-verifier's `verify-npm-package` does: the provenance's keyless
    /// signature (a GitHub workflow), the registry's publish attestation
    /// (its key embedded from Sigstore's TUF repository), both bound to the
    /// tarball's SHA-512, builder, source, name and version. Exit 0
    /// verified, 1 not (the failed check on stderr), 2 usage.
    VerifyNpmPackage {
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
    },
    /// Verify a SLSA Verification Summary Attestation (a DSSE envelope, or
    /// the first line of a JSON Lines file) with the issuer's public key, as
    /// slsa-verifier's `verify-vsa` does. Exit 0 verified, 1 not, 2 usage.
    VerifyVsa {
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
    },
    /// Manage the trusted root verification uses (evaluation never fetches).
    TrustRoot {
        #[command(subcommand)]
        command: TrustRootCommand,
    },
    /// Validate or inspect SBOMs (CycloneDX JSON/XML, SPDX JSON/tag-value).
    Sbom {
        #[command(subcommand)]
        command: SbomCommand,
    },
}

const SBOM_VALIDATE_HELP: &str = "Exit status: 0 valid, 1 invalid (violations listed), 2 unreadable or unsupported.";

const TRUST_IMPORT_HELP: &str = "Exit status: 0 imported, 1 refused (the failed check on stderr), 2 usage.\n\nThe repository copy is laid out as sigstore/root-signing: metadata/root.json, N.root.json, targets.json; targets/trusted_root.json. snapshot.json and timestamp.json are not used (freshness needs the live repository).";

#[derive(Subcommand)]
enum TrustRootCommand {
    /// Import a trusted_root.json from a copy of Sigstore's TUF repository,
    /// verified from a pinned TUF root: root rotations, targets signatures
    /// and expiry, the target's length and hashes. Use the result with
    /// `--trusted-root FILE`.
    #[command(after_help = TRUST_IMPORT_HELP)]
    Import {
        /// The TUF repository copy (a directory with metadata/ and targets/).
        #[arg(long)]
        tuf_repo: PathBuf,
        /// The pinned TUF root.json to start from (default: Sigstore's
        /// production root, embedded).
        #[arg(long)]
        tuf_root: Option<PathBuf>,
        /// The target to import.
        #[arg(long, default_value = "trusted_root.json")]
        target: String,
        /// Accept expired root/targets metadata (an offline copy older than
        /// their lifetime); what expired is printed.
        #[arg(long)]
        allow_expired_metadata: bool,
        /// Where to write the verified trusted root.
        #[arg(long, short)]
        out: PathBuf,
    },
}

fn trust_root_command(command: TrustRootCommand) -> ExitCode {
    let TrustRootCommand::Import { tuf_repo, tuf_root, target, allow_expired_metadata, out } = command;
    let pinned = match &tuf_root {
        Some(p) => match std::fs::read(p) {
            Ok(b) => b,
            Err(e) => return fail(format!("{}: {e}", p.display())),
        },
        None => portcullis::signature::tuf::PRODUCTION_ROOT.as_bytes().to_vec(),
    };
    let imported =
        portcullis::signature::tuf::import(&tuf_repo, &target, &pinned, allow_expired_metadata, jiff::Timestamp::now());
    match imported {
        Ok(i) => {
            for e in &i.expired {
                eprintln!("warning: accepted although {e} (--allow-expired-metadata)");
            }
            if let Err(e) = std::fs::write(&out, &i.bytes) {
                return fail(format!("{}: {e}", out.display()));
            }
            eprintln!(
                "Imported {target} (sha256:{}): TUF root version {} (expires {}), targets version {} (expires {}); {} transparency log(s), {} CT log(s), {} timestamp authority(-ies) -> {}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&i.bytes)),
                i.root_version,
                i.root_expires,
                i.targets_version,
                i.targets_expires,
                i.trust_root.tlogs.len(),
                i.trust_root.ctlogs.len(),
                i.trust_root.timestamp_authorities.len(),
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("import refused: {e}");
            ExitCode::from(1)
        }
    }
}

#[derive(Subcommand)]
enum SbomCommand {
    /// Validate an SBOM against the official schema of its format and version.
    #[command(after_help = SBOM_VALIDATE_HELP)]
    Validate {
        file: PathBuf,
        #[arg(long, short, value_enum, default_value_t = SbomFormat::Human)]
        format: SbomFormat,
        /// Largest SBOM read, in bytes.
        #[arg(long, default_value_t = portcullis::sbom::DEFAULT_MAX_BYTES)]
        max_sbom_bytes: u64,
    },
    /// Print the normalised model of an SBOM: subject, components, dependencies.
    Show {
        file: PathBuf,
        #[arg(long, short, value_enum, default_value_t = SbomFormat::Human)]
        format: SbomFormat,
        #[arg(long, default_value_t = portcullis::sbom::DEFAULT_MAX_BYTES)]
        max_sbom_bytes: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SbomFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy file (and load its plugins) without evaluating anything.
    Check { file: PathBuf },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
    Sarif,
}

/// A byte-progress bar on stderr for scans that last more than a second,
/// only when stderr is a terminal.
struct Bar(indicatif::ProgressBar);

impl portcullis::scan::Progress for Bar {
    fn add_total(&self, bytes: u64) {
        self.0.inc_length(bytes);
    }
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}

fn progress_bar() -> Option<(std::sync::Arc<Bar>, std::sync::Arc<std::sync::atomic::AtomicBool>)> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::hidden());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} scanning layers {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (b, d) = (bar.clone(), done.clone());
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(1));
        if !d.load(std::sync::atomic::Ordering::Relaxed) {
            b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            b.enable_steady_tick(std::time::Duration::from_millis(120));
        }
    });
    Some((std::sync::Arc::new(Bar(bar)), done))
}

fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Prints an error and returns exit status 2.
fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn engine(policy: Option<&PathBuf>, no_cache: bool) -> Result<Engine, ExitCode> {
    engine_with(policy, no_cache, None)
}

fn engine_with(
    policy: Option<&PathBuf>,
    no_cache: bool,
    trust_root: Option<portcullis::signature::trust::TrustRoot>,
) -> Result<Engine, ExitCode> {
    let policy = match policy {
        Some(p) => Policy::from_file(p).map_err(|e| {
            eprint!("{}", e.render(stderr_color()));
            ExitCode::from(2)
        })?,
        None => Policy::builtin_default(),
    };
    let mut options = EngineOptions { trust_root, ..Default::default() };
    if no_cache {
        options.cache_dir = None;
    }
    Engine::new(policy, options).map_err(|e| match e {
        portcullis::EngineError::Policy(p) => {
            eprint!("{}", p.render(stderr_color()));
            ExitCode::from(2)
        }
        other => fail(other),
    })
}

fn sbom_command(command: SbomCommand) -> ExitCode {
    use portcullis::sbom;
    match command {
        SbomCommand::Validate { file, format, max_sbom_bytes } => {
            let outcome = sbom::read_file(&file, max_sbom_bytes).and_then(|bytes| sbom::validate(&bytes));
            let v = match outcome {
                Ok(v) => v,
                Err(e) => return fail(format!("{}: {e}", file.display())),
            };
            match format {
                SbomFormat::Json => {
                    let mut out = serde_json::to_value(&v).unwrap_or_default();
                    out["valid"] = v.is_valid().into();
                    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
                }
                SbomFormat::Human => {
                    for x in &v.violations {
                        let level = match x.severity {
                            sbom::Severity::Error => "error",
                            sbom::Severity::Warning => "warning",
                        };
                        println!("{}: {level} at {}: {}", file.display(), x.location, x.message);
                    }
                    let errors = v.errors().count();
                    println!(
                        "{}: {} {} is {} (checked against {}{})",
                        file.display(),
                        v.identified.format.id(),
                        v.identified.version,
                        if v.is_valid() { "valid" } else { "INVALID" },
                        v.checked_against,
                        if errors > 0 { format!("; {errors} error(s)") } else { String::new() }
                    );
                }
            }
            if v.is_valid() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        SbomCommand::Show { file, format, max_sbom_bytes } => {
            let model = match sbom::read_file(&file, max_sbom_bytes).and_then(|bytes| sbom::parse(&bytes)) {
                Ok(m) => m,
                Err(e) => return fail(format!("{}: {e}", file.display())),
            };
            match format {
                SbomFormat::Json => println!("{}", serde_json::to_string_pretty(&model).unwrap_or_default()),
                SbomFormat::Human => print!("{}", sbom_summary(&model)),
            }
            ExitCode::SUCCESS
        }
    }
}

fn sbom_summary(m: &portcullis::sbom::Sbom) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let format = m.format.map(|f| f.id()).unwrap_or("?");
    let _ = writeln!(out, "{format} {}", m.spec_version);
    for t in &m.tools {
        let _ = writeln!(out, "tool:    {} {}", t.name, t.version.as_deref().unwrap_or(""));
    }
    for s in &m.subjects {
        let _ = writeln!(
            out,
            "subject: {} {} [{}] {}",
            s.name,
            s.version.as_deref().unwrap_or(""),
            s.kind,
            s.digests().join(" ")
        );
    }
    let _ = writeln!(out, "components: {}, dependency entries: {}", m.components.len(), m.dependencies.len());
    for c in &m.components {
        let _ = writeln!(
            out,
            "  {:<40} {:<24} {:<10} {}{}",
            c.name,
            c.version.as_deref().unwrap_or("-"),
            c.kind,
            c.purl.as_deref().unwrap_or("-"),
            c.license.as_deref().map(|l| format!("  [{l}]")).unwrap_or_default()
        );
    }
    for n in &m.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

/// `portcullis ... | head` must end quietly when the reader goes away, as
/// Unix tools do, instead of panicking on a failed write to stdout.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: resetting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// An exact or regex matcher from a pair of flags.
fn matcher(
    exact: Option<String>,
    regexp: Option<String>,
) -> Result<Option<portcullis::signature::identity::Matcher>, String> {
    use portcullis::signature::identity::Matcher;
    match (exact, regexp) {
        (Some(e), _) => Ok(Some(Matcher::Exact(e))),
        (None, Some(r)) => Matcher::regex(&r).map(Some),
        (None, None) => Ok(None),
    }
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

/// The trusted root: `production` (the default), `staging`, or a file.
fn trust_root(path: &Option<PathBuf>) -> Result<portcullis::signature::trust::TrustRoot, String> {
    use portcullis::signature::trust::TrustRoot;
    match path {
        Some(p) => TrustRoot::named_or_file(&p.display().to_string()),
        None => Ok(TrustRoot::production()),
    }
}

/// An artifact's digest for bundle verification: `sha256:HEX`, `sha512:HEX`
/// (statements naming SHA-512 subjects only), or the file's SHA-256.
fn artifact_digest(artifact: &str) -> Result<portcullis::signature::bundle::Artifact, String> {
    use portcullis::signature::bundle::Artifact;
    if artifact.starts_with("sha512:") {
        return artifact_sha512(artifact).map(Artifact::Sha512);
    }
    artifact_sha256(artifact).map(Artifact::Sha256)
}

/// An artifact's SHA-512: `sha512:HEX`, or the file's.
fn artifact_sha512(artifact: &str) -> Result<[u8; 64], String> {
    match artifact.strip_prefix("sha512:") {
        Some(hex) => hex::decode(hex)
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| format!("`{artifact}` is not sha512:<128 hex digits>")),
        None => portcullis::digest::Digest::sha512_file(std::path::Path::new(artifact))
            .map_err(|e| format!("{artifact}: {e}")),
    }
}

/// An artifact's SHA-256: `sha256:HEX`, or the file's.
fn artifact_sha256(artifact: &str) -> Result<[u8; 32], String> {
    match artifact.strip_prefix("sha256:") {
        Some(hex) => hex::decode(hex)
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| format!("`{artifact}` is not sha256:<64 hex digits>")),
        None => portcullis::digest::Digest::sha256_file(std::path::Path::new(artifact))
            .map_err(|e| format!("{artifact}: {e}")),
    }
}

struct ProvenanceArgs {
    provenance: PathBuf,
    expect: portcullis::slsa::gha::Expectations,
    trusted_root: Option<PathBuf>,
    print_provenance: bool,
    artifact: String,
}

fn verify_provenance(a: ProvenanceArgs) -> ExitCode {
    let (root, digest) = match (trust_root(&a.trusted_root), artifact_sha256(&a.artifact)) {
        (Ok(r), Ok(d)) => (r, d),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    let bytes = match std::fs::read(&a.provenance) {
        Ok(b) => b,
        Err(e) => return fail(format!("{}: {e}", a.provenance.display())),
    };
    match portcullis::slsa::gha::verify(&bytes, digest, &a.expect, &root) {
        Ok(v) => {
            eprintln!("Verified build using builder {} from {}", v.builder_id, a.expect.source_uri);
            if a.print_provenance {
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
        Err(e) => {
            eprintln!("verification failed ({}): {e}", e.kind.slsa_verifier_names()[0]);
            ExitCode::from(1)
        }
    }
}

struct NpmArgs {
    attestations_path: PathBuf,
    expect: portcullis::slsa::npm::Expectations,
    npm_registry_keys: Option<PathBuf>,
    trusted_root: Option<PathBuf>,
    tarball: String,
}

fn verify_npm_package(a: NpmArgs) -> ExitCode {
    use portcullis::slsa::npm;
    let root = match trust_root(&a.trusted_root) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let keys = match &a.npm_registry_keys {
        None => Ok(npm::RegistryKey::embedded()),
        Some(p) => std::fs::read(p)
            .map_err(|e| e.to_string())
            .and_then(|b| npm::RegistryKey::from_keys_json(&b))
            .map_err(|e| format!("{}: {e}", p.display())),
    };
    let sha512 = artifact_sha512(&a.tarball);
    let attestations =
        std::fs::read(&a.attestations_path).map_err(|e| format!("{}: {e}", a.attestations_path.display()));
    let (keys, sha512, attestations) = match (keys, sha512, attestations) {
        (Ok(k), Ok(d), Ok(t)) => (k, d, t),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return fail(e),
    };
    match npm::verify(&attestations, sha512, &a.expect, &root, &keys) {
        Ok(builder) => {
            eprintln!("Verified npm package built by {builder} from {}", a.expect.source_uri);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("verification failed ({}): {e}", e.kind.slsa_verifier_names()[0]);
            ExitCode::from(1)
        }
    }
}

fn verify_bundle(
    bundle: PathBuf,
    key: Option<PathBuf>,
    identity: Option<portcullis::signature::identity::Identity>,
    trusted_root: Option<PathBuf>,
    artifact: String,
) -> ExitCode {
    use portcullis::signature::bundle as b;
    let root = match trust_root(&trusted_root) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let expect = match (key, identity) {
        (Some(k), _) => match std::fs::read(&k) {
            Ok(pem) => b::Expectation::Key(pem),
            Err(e) => return fail(format!("{}: {e}", k.display())),
        },
        (None, Some(identity)) => b::Expectation::Identity(identity),
        (None, None) => {
            return fail("give --key, or --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]");
        }
    };
    let digest = match artifact_digest(&artifact) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let bytes = match std::fs::read(&bundle) {
        Ok(b) => b,
        Err(e) => return fail(format!("{}: {e}", bundle.display())),
    };
    match b::verify(&bytes, digest, &expect, &root) {
        Ok(_) => {
            eprintln!("OK: {}", bundle.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("verification failed: {e}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    match cli.command {
        Command::VerifyBundle {
            bundle,
            key,
            certificate_identity,
            certificate_identity_regexp,
            certificate_oidc_issuer,
            certificate_oidc_issuer_regexp,
            trusted_root,
            artifact,
        } => {
            let san = matcher(certificate_identity, certificate_identity_regexp);
            let issuer = matcher(certificate_oidc_issuer, certificate_oidc_issuer_regexp);
            let identity = match (san, issuer) {
                (Ok(Some(san)), Ok(Some(issuer))) => Some(portcullis::signature::identity::Identity { san, issuer }),
                (Ok(None), Ok(None)) => None,
                (Err(e), _) | (_, Err(e)) => return fail(format!("bad regular expression {e}")),
                _ => return fail("an identity needs both a SAN and an OIDC issuer constraint"),
            };
            verify_bundle(bundle, key, identity, trusted_root, artifact)
        }
        Command::VerifyProvenance {
            provenance,
            source_uri,
            builder_id,
            source_branch,
            source_tag,
            source_versioned_tag,
            build_workflow_inputs,
            trusted_root,
            print_provenance,
            artifact,
        } => verify_provenance(ProvenanceArgs {
            provenance,
            expect: portcullis::slsa::gha::Expectations {
                source_uri,
                builder_id,
                branch: source_branch,
                tag: source_tag,
                versioned_tag: source_versioned_tag,
                workflow_inputs: build_workflow_inputs.into_iter().collect(),
                testing: false,
            },
            trusted_root,
            print_provenance,
            artifact,
        }),
        Command::VerifyNpmPackage {
            attestations_path,
            source_uri,
            builder_id,
            package_name,
            package_version,
            npm_registry_keys,
            trusted_root,
            tarball,
        } => verify_npm_package(NpmArgs {
            attestations_path,
            expect: portcullis::slsa::npm::Expectations {
                source_uri,
                builder_id,
                package_name,
                package_version,
                testing: false,
            },
            npm_registry_keys,
            trusted_root,
            tarball,
        }),
        Command::VerifyVsa {
            vsa,
            public_key,
            public_key_id,
            subject_digests,
            resource_uri,
            verifier_id,
            verified_levels,
        } => {
            let (text, key) = match (std::fs::read(&vsa), std::fs::read(&public_key)) {
                (Ok(t), Ok(k)) => (t, k),
                (Err(e), _) => return fail(format!("{}: {e}", vsa.display())),
                (_, Err(e)) => return fail(format!("{}: {e}", public_key.display())),
            };
            let line = text.split(|b| *b == b'\n').find(|l| !l.trim_ascii().is_empty()).unwrap_or_default();
            let expect = portcullis::slsa::vsa::Expectations {
                key_id: public_key_id,
                subject_digests,
                resource_uri,
                verifier_id,
                verified_levels,
            };
            match portcullis::slsa::vsa::verify(line, &key, &expect) {
                Ok(st) => {
                    eprintln!(
                        "Verified VSA for {} by {}",
                        st["predicate"]["resourceUri"], st["predicate"]["verifier"]["id"]
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("verification failed ({}): {e}", e.kind.slsa_verifier_names()[0]);
                    ExitCode::from(1)
                }
            }
        }
        Command::Sbom { command } => sbom_command(command),
        Command::TrustRoot { command } => trust_root_command(command),
        Command::Serve { policy, listen, tls_cert, tls_key, trusted_root, registry } => {
            // A policy that does not parse is a usage error, reported before listening.
            for p in &policy {
                if let Err(e) = Policy::from_file(p) {
                    eprint!("{}", e.render(stderr_color()));
                    return ExitCode::from(2);
                }
            }
            let trust_root = match &trusted_root {
                Some(_) => match trust_root(&trusted_root) {
                    Ok(r) => Some(r),
                    Err(e) => return fail(e),
                },
                None => None,
            };
            let mut engine = EngineOptions { trust_root, ..EngineOptions::default() };
            if cli.no_cache {
                engine.cache_dir = None;
            }
            let options = portcullis::serve::ServeOptions {
                policies: policy,
                listen,
                tls: tls_cert.zip(tls_key),
                registry: registry.options(),
                engine,
                reload_interval: std::time::Duration::from_secs(2),
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => return fail(format!("cannot start the runtime: {e}")),
            };
            match runtime.block_on(portcullis::serve::run(options)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        }
        Command::Audit {
            path,
            registry,
            policy,
            format,
            images,
            repository,
            output,
            verbose,
            skip_layers,
            sboms,
            max_sbom_bytes,
            trusted_root,
            bundles,
            provenance,
            signature,
            certificate,
            vsa,
            vsa_key,
        } => {
            // Read before the input: a bad root is a usage error, found fast.
            let trust_root = match &trusted_root {
                Some(_) => match trust_root(&trusted_root) {
                    Ok(r) => Some(r),
                    Err(e) => return fail(e),
                },
                None => None,
            };
            let sidecars = source::artifact::Sidecars { bundles, provenance, signature, certificate };
            let spec = path.display().to_string();
            let artifact = !sidecars.is_empty() || spec.starts_with("sha256:");
            let bar = if artifact { None } else { progress_bar() };
            let progress = bar.as_ref().map(|(b, _)| portcullis::scan::ProgressSink(b.clone()));
            let opened = if artifact {
                source::artifact::open(&spec, &sidecars)
            } else if spec.starts_with("docker://") {
                let opts = source::OpenOptions { images, repository, skip_layers, progress, ..Default::default() };
                if !opts.images.is_empty() || opts.repository.is_some() {
                    return fail(
                        "--image and --repository do not apply to docker:// images (the reference names both)",
                    );
                }
                open_remote(&spec, &registry, &opts)
            } else {
                source::open(
                    &path,
                    &source::OpenOptions { images, repository, skip_layers, progress, ..Default::default() },
                )
            };
            if let Some((b, done)) = &bar {
                done.store(true, std::sync::atomic::Ordering::Relaxed);
                b.0.finish_and_clear();
            }
            let mut input = match opened {
                Ok(i) => i,
                Err(e) => return fail(e),
            };
            if !sboms.is_empty() {
                input.supply_sboms(&portcullis::sbom::Attached::from_files(&sboms, max_sbom_bytes));
            }
            let engine = match engine_with(policy.as_ref(), cli.no_cache, trust_root) {
                Ok(e) => e,
                Err(code) => return code,
            };
            let report = engine.audit(&input);
            if let Some(file) = &vsa {
                let key = match vsa_key.as_ref().map(std::fs::read_to_string).transpose() {
                    Ok(k) => k,
                    Err(e) => return fail(format!("--vsa-key: {e}")),
                };
                let written = portcullis::report::vsa::render(&report, key.as_deref(), &jiff::Timestamp::now())
                    .and_then(|text| {
                        std::fs::write(file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))
                    });
                if let Err(e) = written {
                    return fail(e);
                }
            }
            let to_tty = output.is_none() && std::io::stdout().is_terminal();
            let text = match format {
                Format::Human => human::render(
                    &report,
                    &human::Style { color: to_tty && std::env::var_os("NO_COLOR").is_none(), verbose },
                ),
                Format::Json => report.to_json() + "\n",
                Format::Sarif => sarif::render(&report) + "\n",
            };
            match output {
                Some(file) => {
                    if let Err(e) = std::fs::write(&file, text) {
                        return fail(format!("cannot write {}: {e}", file.display()));
                    }
                }
                None => print!("{text}"),
            }
            match report.verdict {
                Verdict::Admit => ExitCode::SUCCESS,
                Verdict::Deny => ExitCode::from(1),
            }
        }
        Command::Policy { command: PolicyCommand::Check { file } } => match engine(Some(&file), cli.no_cache) {
            Ok(engine) => {
                let p = engine.policy();
                let enabled = engine.plan().rules.iter().filter(|r| r.enabled).count();
                println!(
                    "{}: policy {} {} is valid: {} plugins, {} rules enabled, {} waivers",
                    file.display(),
                    p.name,
                    p.version,
                    p.plugins.len(),
                    enabled,
                    p.waivers.len()
                );
                for w in &engine.plan().warnings {
                    eprintln!("warning: {w}");
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Explain { rule, policy } => {
            let engine = match engine(policy.as_ref(), cli.no_cache) {
                Ok(e) => e,
                Err(code) => return code,
            };
            let Some(r) = engine.plan().rules.iter().find(|r| r.info.id.eq_ignore_ascii_case(&rule)) else {
                let ids: Vec<&str> = engine.plan().rules.iter().map(|r| r.info.id.as_str()).collect();
                return fail(format!("no rule `{rule}` in this policy; it has: {}", ids.join(", ")));
            };
            let i = &r.info;
            println!("{} — {}\n", i.id, i.title);
            println!("plugin:      {}", i.plugin);
            println!("severity:    {} (default {})", r.severity, i.default_severity);
            println!("enforcement: {} (default {})", r.enforcement, i.default_enforcement);
            println!("enabled:     {}\n", r.enabled);
            println!("{}\n", i.description);
            println!("Remediation: {}", i.remediation);
            if !i.params.is_empty() {
                println!("\nParameters:");
                for p in &i.params {
                    let current = r.params.iter().find(|(n, _)| n == &p.name).map(|(_, v)| v);
                    println!(
                        "  {} ({}) = {}\n      {}",
                        p.name,
                        p.ty.describe(),
                        serde_json::to_string(&current.unwrap_or(&p.default)).unwrap_or_default(),
                        p.description
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Command::Rules { policy } => {
            let engine = match engine(policy.as_ref(), cli.no_cache) {
                Ok(e) => e,
                Err(code) => return code,
            };
            for r in &engine.plan().rules {
                println!(
                    "{:<12} {:<8} {:<8} {:<3} {}",
                    r.info.id,
                    r.enforcement.to_string(),
                    r.severity.to_string(),
                    if r.enabled { "on" } else { "off" },
                    r.info.title
                );
            }
            ExitCode::SUCCESS
        }
    }
}
