//! The `portcullis` command line: a thin shell over the library. This file
//! holds the global flags and the list of commands and hands each to its
//! module, which translates arguments into library calls and results into
//! output and an exit status.

mod audit;
mod common;
mod completions;
mod db;
mod gate;
mod man;
mod plugin;
mod policy;
mod rules;
mod sbom;
mod serve;
mod test;
mod trust_root;
mod verify;
mod vulns;

use clap::{CommandFactory, Parser, Subcommand};
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
    /// Offline vulnerability database (`portcullis db import`) for the
    /// vulnerability rules and `vulns` (default: the one `db import` writes,
    /// when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    vuln_db: Option<std::path::PathBuf>,
    /// OpenVEX or CycloneDX VEX document: its statements set aside the
    /// vulnerabilities they name for the images or packages they name; repeatable.
    #[arg(long = "vex", global = true, value_name = "FILE")]
    vex: Vec<std::path::PathBuf>,
}

// Each command's help text is the doc comment of its `Args` struct.
#[derive(Subcommand)]
enum Command {
    Audit(audit::Args),
    Serve(serve::Args),
    Gate(gate::Args),
    Policy(policy::Args),
    Plugin(plugin::Args),
    Explain(rules::ExplainArgs),
    Rules(rules::RulesArgs),
    VerifyBundle(verify::BundleArgs),
    VerifyProvenance(verify::ProvenanceArgs),
    VerifyNpmPackage(verify::NpmPackageArgs),
    VerifyVsa(verify::VsaArgs),
    VerifyGithubAttestation(verify::GithubAttestationArgs),
    TrustRoot(trust_root::Args),
    Sbom(sbom::Args),
    Db(db::Args),
    Vulns(vulns::Args),
    Test(test::Args),
    Completions(completions::Args),
    Man(man::Args),
}

fn main() -> ExitCode {
    restore_sigpipe();
    // Parsers of untrusted input recurse within proven bounds on a known
    // stack (portcullis::nesting); rayon's threads get that stack too.
    let _ = rayon::ThreadPoolBuilder::new().stack_size(portcullis::nesting::THREAD_STACK).build_global();
    let cli = Cli::parse();
    // Written from the parser's own definitions; nothing to load.
    match cli.command {
        Command::Completions(args) => return completions::run(args, Cli::command()),
        Command::Man(args) => return man::run(args, Cli::command()),
        _ => {}
    }
    // `db import` writes the database; everything else may read it.
    let vuln_db = match &cli.command {
        Command::Db(_) => None,
        _ => match common::vuln_db(cli.vuln_db.as_deref()) {
            Ok(db) => db,
            Err(code) => return code,
        },
    };
    let vex = match common::vex(&cli.vex) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let global = common::Global { no_cache: cli.no_cache, vuln_db, vex };
    match cli.command {
        Command::Audit(args) => audit::run(args, &global),
        Command::Serve(args) => serve::run(args, &global),
        Command::Gate(args) => gate::run(args, &global),
        Command::Policy(args) => policy::run(args, &global),
        Command::Plugin(args) => plugin::run(args, &global),
        Command::Explain(args) => rules::run_explain(args, &global),
        Command::Rules(args) => rules::run_rules(args, &global),
        Command::VerifyBundle(args) => verify::run_bundle(args, &global),
        Command::VerifyProvenance(args) => verify::run_provenance(args, &global),
        Command::VerifyNpmPackage(args) => verify::run_npm_package(args, &global),
        Command::VerifyVsa(args) => verify::run_vsa(args, &global),
        Command::VerifyGithubAttestation(args) => verify::run_github_attestation(args, &global),
        Command::TrustRoot(args) => trust_root::run(args, &global),
        Command::Sbom(args) => sbom::run(args, &global),
        Command::Db(args) => db::run(args, cli.vuln_db.as_deref()),
        Command::Vulns(args) => vulns::run(args, &global),
        Command::Test(args) => test::run(args, &global),
        Command::Completions(_) | Command::Man(_) => unreachable!("answered before anything is loaded"),
    }
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
