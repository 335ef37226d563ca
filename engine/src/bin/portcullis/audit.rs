//! `portcullis audit`: opens an image or release artifact, judges it with a
//! policy and writes the report (and VSAs); the exit status is the verdict.

use crate::common::{self, Global, RegistryArgs, fail};
use clap::ValueEnum;
use portcullis::report::{human, sarif};
use portcullis::{Verdict, source};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Audit an image: an OCI layout directory, an OCI archive, a `docker save` tar,
/// or `docker://HOST/REPO:TAG` (or `@sha256:…`) in a registry.
#[derive(clap::Args)]
#[command(after_help = crate::EXIT_HELP)]
pub struct Args {
    /// The image to audit.
    path: PathBuf,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Policy file, or `builtin:NAME`; repeatable: the policies are applied
    /// together (default: the embedded builtin:go-container-baseline pack).
    #[arg(long, short)]
    policy: Vec<PathBuf>,
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
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
    Sarif,
}

pub fn run(args: Args, global: &Global) -> ExitCode {
    // Read before the input: a bad root is a usage error, found fast.
    let trust_root = match common::trust_root_if_given(args.trusted_root.as_deref()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let mut input = match open(&args) {
        Ok(i) => i,
        Err(code) => return code,
    };
    if !args.sboms.is_empty() {
        input.supply_sboms(&portcullis::sbom::Attached::from_files(&args.sboms, args.max_sbom_bytes));
    }
    let engine = match common::engine(&args.policy, global, trust_root) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let report = engine.audit(&input);
    if let Some(file) = &args.vsa {
        let key = match args.vsa_key.as_ref().map(std::fs::read_to_string).transpose() {
            Ok(k) => k,
            Err(e) => return fail(format!("--vsa-key: {e}")),
        };
        let written = portcullis::report::vsa::render(&report, key.as_deref(), &jiff::Timestamp::now())
            .and_then(|text| std::fs::write(file, text).map_err(|e| format!("cannot write {}: {e}", file.display())));
        if let Err(e) = written {
            return fail(e);
        }
    }
    let to_tty = args.output.is_none() && std::io::stdout().is_terminal();
    let text = match args.format {
        Format::Human => human::render(
            &report,
            &human::Style { color: to_tty && std::env::var_os("NO_COLOR").is_none(), verbose: args.verbose },
        ),
        Format::Json => report.to_json() + "\n",
        Format::Sarif => sarif::render(&report) + "\n",
    };
    match &args.output {
        Some(file) => {
            if let Err(e) = std::fs::write(file, text) {
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

/// Opens the input named by PATH: a release artifact (when sidecars are given
/// or it is `sha256:HEX`), a `docker://` image, or a local image, with the
/// progress bar shown while an image is scanned.
fn open(args: &Args) -> Result<source::Input, ExitCode> {
    let sidecars = source::artifact::Sidecars {
        bundles: args.bundles.clone(),
        provenance: args.provenance.clone(),
        signature: args.signature.clone(),
        certificate: args.certificate.clone(),
    };
    let spec = args.path.display().to_string();
    let artifact = !sidecars.is_empty() || spec.starts_with("sha256:");
    let bar = if artifact { None } else { common::progress_bar() };
    let progress = bar.as_ref().map(|(b, _)| portcullis::scan::ProgressSink(b.clone()));
    let opts = source::OpenOptions {
        images: args.images.clone(),
        repository: args.repository.clone(),
        skip_layers: args.skip_layers,
        progress,
        ..Default::default()
    };
    let opened = if artifact {
        source::artifact::open(&spec, &sidecars)
    } else if spec.starts_with("docker://") {
        if !opts.images.is_empty() || opts.repository.is_some() {
            return Err(fail("--image and --repository do not apply to docker:// images (the reference names both)"));
        }
        open_remote(&spec, &args.registry, &opts)
    } else {
        source::open(&args.path, &opts)
    };
    if let Some((b, done)) = &bar {
        b.finish(done);
    }
    opened.map_err(fail)
}

/// Opens a local or `docker://` image with the progress bar (for commands
/// that read an image without the audit's other inputs).
pub fn open_image(spec: &str, path: &std::path::Path, registry: &RegistryArgs) -> Result<source::Input, ExitCode> {
    let bar = common::progress_bar();
    let progress = bar.as_ref().map(|(b, _)| portcullis::scan::ProgressSink(b.clone()));
    let opts = source::OpenOptions { progress, ..Default::default() };
    let opened =
        if spec.starts_with("docker://") { open_remote(spec, registry, &opts) } else { source::open(path, &opts) };
    if let Some((b, done)) = &bar {
        b.finish(done);
    }
    opened.map_err(fail)
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
        .thread_stack_size(portcullis::nesting::THREAD_STACK)
        .enable_all()
        .build()
        .map_err(|e| err(format!("cannot start the network runtime: {e}")))?;
    let pulled = runtime
        .block_on(registry.pull_reporting(&reference, opts.skip_layers, opts.progress.clone()))
        .map_err(|e| err(e.to_string()))?;
    source::open_pulled(&pulled, opts)
}
