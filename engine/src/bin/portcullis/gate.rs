//! `portcullis gate`: checks the policy, then hands the flags to the
//! library's push gate and runs it until it stops.

use crate::common::{self, Global, RegistryArgs, fail};
use std::path::PathBuf;
use std::process::ExitCode;

/// Stand in front of an OCI registry and refuse pushes the policy denies
/// before their tag exists. Everything else passes through, streaming.
#[derive(clap::Args)]
pub struct Args {
    /// The registry behind the gate: http://HOST:PORT or https://HOST.
    /// Make it reachable only through the gate (see the README).
    #[arg(long, value_name = "URL")]
    upstream: url::Url,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5443")]
    listen: std::net::SocketAddr,
    /// Policy file that judges tag pushes (with what it includes).
    /// Repeatable: each policy judges the repositories its `[gate]` table
    /// binds it to (every repository, without one), and a push is tagged
    /// only when every policy bound to its repository admits it.
    #[arg(long, short, required = true)]
    policy: Vec<PathBuf>,
    /// `enforce` refuses denied pushes (403 DENIED); `audit` forwards them
    /// with `Warning: 299` headers saying what would have been denied.
    #[arg(long, value_enum, default_value_t = ModeArg::Enforce)]
    mode: ModeArg,
    /// Registry name images are judged under — what waivers and reports
    /// name, the name pullers use (default: the upstream's HOST:PORT).
    #[arg(long, value_name = "HOST")]
    name: Option<String>,
    /// Seconds a tag push may wait for its verdict before it is refused
    /// (503, nothing tagged).
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    deadline: u64,
    /// Refuse `GET` of a runnable manifest by digest unless this gate
    /// admitted it under a tag (or an index listing it). `HEAD` and
    /// attachments stay open. Off by default: pulls by digest of images
    /// pushed before the gate, or through another gate, are then refused.
    #[arg(long)]
    admitted_only: bool,
    /// ECDSA P-256 PKCS#8 private key (PEM): each admitted image gets a
    /// verification summary (SLSA VSA) signed with it, attached as an OCI
    /// referrer, which `serve --trust-vsa-key` accepts in place of a pull.
    #[arg(long, value_name = "FILE")]
    vsa_key: Option<PathBuf>,
    /// PEM certificate chain (HTTPS).
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// trusted_root.json for keyless signatures, or `staging` / `production`.
    #[arg(long)]
    trusted_root: Option<PathBuf>,
    /// On SIGTERM/SIGINT, seconds that requests in flight may take to finish.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    shutdown_grace: u64,
    /// Seconds a client may take to send a request's headers; slower
    /// clients are cut off.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    header_timeout: u64,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Enforce,
    Audit,
}

pub fn run(args: Args, global: &Global) -> ExitCode {
    for p in &args.policy {
        if let Err(code) = common::policy(std::slice::from_ref(p)) {
            return code;
        }
    }
    let trust_root = match common::trust_root_if_given(args.trusted_root.as_deref()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let vsa_key = match &args.vsa_key {
        None => None,
        Some(path) => match std::fs::read_to_string(path) {
            Ok(pem) => Some(pem),
            Err(e) => return fail(format!("cannot read the VSA key {}: {e}", path.display())),
        },
    };
    let options = portcullis::gate::GateOptions {
        vsa_key,
        upstream: args.upstream,
        listen: args.listen,
        policies: args.policy,
        tls: args.tls_cert.zip(args.tls_key),
        mode: match args.mode {
            ModeArg::Enforce => portcullis::gate::Mode::Enforce,
            ModeArg::Audit => portcullis::gate::Mode::Audit,
        },
        name: args.name,
        registry: args.registry.options(),
        engine_options: common::engine_options(global, trust_root),
        deadline: std::time::Duration::from_secs(args.deadline),
        admitted_only: args.admitted_only,
        shutdown_grace: std::time::Duration::from_secs(args.shutdown_grace),
        header_timeout: match args.header_timeout {
            0 => return fail("--header-timeout 0: expected a positive number of seconds"),
            n => std::time::Duration::from_secs(n),
        },
    };
    common::serve_until_stopped(portcullis::gate::run(options))
}
