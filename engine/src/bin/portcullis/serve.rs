//! `portcullis serve`: checks the policies, then hands the flags to the
//! library's admission-webhook and API server and runs it until it stops.

use crate::common::{self, Global, RegistryArgs, fail};
use std::path::PathBuf;
use std::process::ExitCode;

/// Serve admission webhooks (`/validate`, `/mutate`) and a JSON API
/// (`/v1/evaluate`), with `/healthz`, `/readyz` and `/metrics`.
#[derive(clap::Args)]
pub struct Args {
    /// Policy file; repeatable. Each judges the admission requests of the
    /// namespaces its `[admission] namespaces` names (all, when it names
    /// none); `/v1/evaluate` picks any by name (default: the first).
    /// Reloaded when the file changes.
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
    /// File holding a token that `/v1/evaluate` and `/metrics` require as
    /// `Authorization: Bearer <token>` (the webhook routes do not).
    #[arg(long, value_name = "FILE")]
    api_token_file: Option<PathBuf>,
    /// PEM CA certificate(s): `/validate` and `/mutate` then answer only
    /// clients presenting a certificate it signed (the API server's, as its
    /// admission configuration sets), and such clients may use
    /// `/v1/evaluate` and `/metrics` without the token. Needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// ECDSA P-256 public key (PEM) of a push gate (`gate --vsa-key`): an
    /// image carrying a verification summary it signed, under this
    /// policy's digest, for the image's repository, is admitted without
    /// being pulled or judged here.
    #[arg(long, value_name = "FILE")]
    trust_vsa_key: Option<PathBuf>,
    /// Summaries older than this many seconds are ignored.
    #[arg(long, value_name = "SECONDS", default_value_t = 86400, requires = "trust_vsa_key")]
    vsa_max_age: u64,
    /// On SIGTERM/SIGINT, seconds that requests in flight may take to finish
    /// (after /readyz has answered 503 for a short drain delay).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    shutdown_grace: u64,
    /// Seconds a client may take to send a request's headers, and then
    /// its body; slower clients are cut off (408 for a body).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    read_timeout: f64,
    /// Let the registry client connect to loopback and private addresses
    /// (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7): for registries
    /// inside the cluster. Link-local, cloud-metadata, multicast and
    /// reserved addresses are never connected to.
    #[arg(long)]
    allow_private_registries: bool,
    /// Pulls and evaluations run at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    max_evaluations: usize,
    /// Evaluations that may wait for one of those; beyond, a request gets
    /// the failure policy's answer at once.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_queued: usize,
    /// Most bytes one image's pull may download (manifests, config, layers,
    /// attachments); a larger image is refused (whatever the failure policy).
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 30)]
    max_pull_bytes: u64,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn run(args: Args, global: &Global) -> ExitCode {
    // A policy that does not parse is a usage error, reported before listening.
    for p in &args.policy {
        if let Err(code) = common::policy(std::slice::from_ref(p)) {
            return code;
        }
    }
    let trust_root = match common::trust_root_if_given(args.trusted_root.as_deref()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let api_token = match &args.api_token_file {
        None => None,
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
            Ok(_) => return fail(format!("{}: the API token file is empty", path.display())),
            Err(e) => return fail(format!("cannot read the API token file {}: {e}", path.display())),
        },
    };
    let trusted_summaries = match &args.trust_vsa_key {
        None => None,
        Some(path) => match std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|pem| {
            portcullis::serve::summary::TrustedSummaries::new(&pem, std::time::Duration::from_secs(args.vsa_max_age))
        }) {
            Ok(t) => Some(t),
            Err(e) => return fail(format!("--trust-vsa-key {}: {e}", path.display())),
        },
    };
    let options = portcullis::serve::ServeOptions {
        trusted_summaries,
        api_token,
        client_ca: args.client_ca,
        shutdown_grace: std::time::Duration::from_secs(args.shutdown_grace),
        read_timeout: match std::time::Duration::try_from_secs_f64(args.read_timeout) {
            Ok(d) if !d.is_zero() => d,
            _ => return fail(format!("--read-timeout {}: expected a positive number of seconds", args.read_timeout)),
        },
        registry: portcullis::registry::RegistryOptions {
            max_pull_bytes: Some(args.max_pull_bytes),
            ..args.registry.options()
        },
        allow_private_registries: args.allow_private_registries,
        max_evaluations: args.max_evaluations,
        max_queued: args.max_queued,
        policies: args.policy,
        listen: args.listen,
        tls: args.tls_cert.zip(args.tls_key),
        engine_options: common::engine_options(global, trust_root),
        reload_interval: std::time::Duration::from_secs(2),
    };
    common::serve_until_stopped(portcullis::serve::run(options))
}
