//! What several commands share, written once: the global flags, how a
//! trusted root, a policy and an engine are loaded from arguments (and how
//! their errors are shown), registry flags, artifact digest arguments, the
//! usage-error exit and the scan progress bar.

use portcullis::signature::trust::TrustRoot;
use portcullis::{Engine, EngineOptions, Policy};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags that apply to every command.
pub struct Global {
    /// `--no-cache`: do not use the on-disk cache of compiled plugins.
    pub no_cache: bool,
    /// `--vuln-db`, or the database `db import` writes by default when it
    /// exists.
    pub vuln_db: Option<std::sync::Arc<portcullis::vuln::VulnDb>>,
    /// `--vex` statements.
    pub vex: std::sync::Arc<Vec<portcullis::vuln::vex::Statement>>,
}

/// Reads `--vex` documents; an unreadable one is a usage error naming it.
pub fn vex(files: &[PathBuf]) -> Result<std::sync::Arc<Vec<portcullis::vuln::vex::Statement>>, ExitCode> {
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| fail(format!("--vex {}: {e}", f.display())))?;
        let doc = format!("file:{}", f.display());
        out.extend(
            portcullis::vuln::vex::parse(&bytes, &doc).map_err(|e| fail(format!("--vex {}: {e}", f.display())))?,
        );
    }
    Ok(std::sync::Arc::new(out))
}

/// The vulnerability database: the one named (which must open), else the
/// default one if `db import` has written it.
pub fn vuln_db(named: Option<&Path>) -> Result<Option<std::sync::Arc<portcullis::vuln::VulnDb>>, ExitCode> {
    let path = match named {
        Some(p) => p.to_path_buf(),
        None => match portcullis::vuln::db::default_path().filter(|p| p.is_file()) {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    portcullis::vuln::VulnDb::open(&path).map(|db| Some(std::sync::Arc::new(db))).map_err(fail)
}

/// Prints an error and returns exit status 2.
pub fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// Whether diagnostics on stderr may be coloured.
fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Shows a policy's diagnostics (with source excerpts) and returns exit status 2.
pub fn policy_error(e: &portcullis::policy::PolicyError) -> ExitCode {
    eprint!("{}", e.render(stderr_color()));
    ExitCode::from(2)
}

/// Reads and checks policy files (applied together, with their includes);
/// a bad one is a usage error, shown with its diagnostics.
pub fn policy(paths: &[PathBuf]) -> Result<Policy, ExitCode> {
    Policy::load(paths).map_err(|e| policy_error(&e))
}

/// Engine options from the global flags; `trust_root: None` keeps the engine's default.
pub fn engine_options(global: &Global, trust_root: Option<TrustRoot>) -> EngineOptions {
    let mut options =
        EngineOptions { trust_root, vuln_db: global.vuln_db.clone(), vex: global.vex.clone(), ..Default::default() };
    if global.no_cache {
        options.cache_dir = None;
    }
    options
}

/// An engine for policy files applied together (none: the embedded pack),
/// their plugins loaded. Every problem of the files is shown in one run.
pub fn engine(policy_files: &[PathBuf], global: &Global, trust_root: Option<TrustRoot>) -> Result<Engine, ExitCode> {
    let options = engine_options(global, trust_root);
    let engine = match policy_files {
        [] => Engine::new(Policy::builtin_default(), options),
        files => Engine::load(files, options),
    };
    engine.map_err(|e| match e {
        portcullis::EngineError::Policy(p) => policy_error(&p),
        other => fail(other),
    })
}

/// The trusted root: `production` (the default), `staging`, or a file.
pub fn trust_root(path: Option<&Path>) -> Result<TrustRoot, String> {
    match path {
        Some(p) => TrustRoot::named_or_file(&p.display().to_string()),
        None => Ok(TrustRoot::production()),
    }
}

/// The trusted root if `--trusted-root` was given (else the engine's default);
/// a bad one is a usage error.
pub fn trust_root_if_given(path: Option<&Path>) -> Result<Option<TrustRoot>, ExitCode> {
    path.map(|p| trust_root(Some(p))).transpose().map_err(fail)
}

/// How registries are reached (`docker://` images).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RegistryArgs {
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
    pub fn options(&self) -> portcullis::registry::RegistryOptions {
        let mut o = portcullis::registry::RegistryOptions::default();
        if let Some(d) = &self.registry_cache {
            o.cache_dir = d.clone();
        }
        o.auth_file = self.registry_config.clone();
        o.insecure = self.insecure_registries.clone();
        o
    }
}

/// An artifact's digest for bundle verification: `sha256:HEX`, `sha512:HEX`
/// (statements naming SHA-512 subjects only), or the file's SHA-256.
pub fn artifact_digest(artifact: &str) -> Result<portcullis::signature::bundle::Artifact, String> {
    use portcullis::signature::bundle::Artifact;
    if artifact.starts_with("sha512:") {
        return artifact_sha512(artifact).map(Artifact::Sha512);
    }
    artifact_sha256(artifact).map(Artifact::Sha256)
}

/// An artifact's SHA-512: `sha512:HEX`, or the file's.
pub fn artifact_sha512(artifact: &str) -> Result<[u8; 64], String> {
    match artifact.strip_prefix("sha512:") {
        Some(hex) => hex::decode(hex)
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| format!("`{artifact}` is not sha512:<128 hex digits>")),
        None => portcullis::digest::Digest::sha512_file(Path::new(artifact)).map_err(|e| format!("{artifact}: {e}")),
    }
}

/// An artifact's SHA-256: `sha256:HEX`, or the file's.
pub fn artifact_sha256(artifact: &str) -> Result<[u8; 32], String> {
    match artifact.strip_prefix("sha256:") {
        Some(hex) => hex::decode(hex)
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| format!("`{artifact}` is not sha256:<64 hex digits>")),
        None => portcullis::digest::Digest::sha256_file(Path::new(artifact)).map_err(|e| format!("{artifact}: {e}")),
    }
}

/// A byte-progress bar on stderr for scans that last more than a second,
/// only when stderr is a terminal.
pub struct Bar(indicatif::ProgressBar);

impl portcullis::scan::Progress for Bar {
    fn add_total(&self, bytes: u64) {
        self.0.inc_length(bytes);
    }
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
    fn stage(&self, name: &'static str) {
        // A fresh count and clock: the scan's rate is not diluted by the
        // download before it.
        self.0.reset();
        self.0.set_length(0);
        self.0.set_message(name);
    }
}

impl Bar {
    /// Stops the bar (or keeps it from ever showing) and erases it.
    pub fn finish(&self, done: &std::sync::atomic::AtomicBool) {
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        self.0.finish_and_clear();
    }
}

/// The bar and the flag that keeps it hidden once the scan ended; `None` when
/// stderr is not a terminal.
pub fn progress_bar() -> Option<(std::sync::Arc<Bar>, std::sync::Arc<std::sync::atomic::AtomicBool>)> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::hidden());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {msg} {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_message("scanning layers");
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

/// Runs a server future (`serve`, `gate`) on a multi-threaded runtime until
/// it stops. Attachments (SBOMs, statements) are parsed on these threads,
/// so they get the stack the parsers' nesting bounds are proven on.
pub fn serve_until_stopped(server: impl std::future::Future<Output = Result<(), String>>) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(portcullis::nesting::THREAD_STACK)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(server) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}
