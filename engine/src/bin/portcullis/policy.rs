//! `portcullis policy check`: loads a policy file and its plugins and says
//! what it holds, without evaluating anything.

use crate::common::{self, Global};
use clap::Subcommand;
use portcullis::report::human::count;
use std::path::PathBuf;
use std::process::ExitCode;

/// Work with policy files.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate policy files applied together (and load their plugins)
    /// without evaluating anything; every problem is reported.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(args: Args, global: &Global) -> ExitCode {
    let Command::Check { files } = args.command;
    let engine = match common::engine(&files, global, None) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let p = engine.policy();
    let enabled = engine.plan().rules.iter().filter(|r| r.enabled).count();
    println!(
        "{}: policy {} {} is valid: {}, {} enabled, {}",
        p.source,
        p.name,
        p.version,
        count(p.plugins.len(), "plugin", "plugins"),
        count(enabled, "rule", "rules"),
        count(p.waivers.len(), "waiver", "waivers")
    );
    for w in &engine.plan().warnings {
        eprintln!("warning: {w}");
    }
    ExitCode::SUCCESS
}
