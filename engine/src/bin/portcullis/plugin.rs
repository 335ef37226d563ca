//! `portcullis plugin inspect`: what a plugin component is, without a
//! policy — the contract it was built for, what it imports, its rules.

use crate::common::{self, Global, fail};
use clap::Subcommand;
use std::process::ExitCode;

/// Work with plugin components.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a component's digest, size, contract version, imports and
    /// rules, and why this host would refuse it, if it would. Exit 0 when
    /// it loads, 2 when it does not.
    Inspect {
        /// A `.wasm` component, or `builtin:NAME`.
        plugin: String,
        /// `human` or `json`.
        #[arg(long, short, default_value = "human")]
        format: String,
    },
}

pub fn run(args: Args, global: &Global) -> ExitCode {
    let Command::Inspect { plugin, format } = args.command;
    let cache = common::engine_options(global, None).cache_dir;
    let seen = match portcullis::inspect_plugin(&plugin, cache) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&seen).expect("serialisable")),
        "human" => {
            println!("{plugin}");
            println!("  sha256    {}", seen.sha256);
            println!("  size      {} bytes", seen.size);
            if let (Some(n), Some(v)) = (&seen.name, &seen.version) {
                println!("  plugin    {n} {v}");
            }
            let contract = seen.contract.as_deref().map(|v| format!("portcullis:policy@{v}"));
            println!("  contract  {}", contract.as_deref().unwrap_or("not one this host speaks"));
            println!("  imports   {}", seen.imports.join("\n            "));
            println!("  exports   {}", seen.exports.join("\n            "));
            for r in &seen.rules {
                let params: Vec<String> =
                    r.params.iter().map(|p| format!("{} ({})", p.name, p.ty.describe())).collect();
                let params = if params.is_empty() { String::new() } else { format!("; params: {}", params.join(", ")) };
                println!("  rule      {} [{}] {}{params}", r.id, r.default_severity, r.title);
            }
        }
        other => return fail(format!("--format {other}: expected human or json")),
    }
    match &seen.problem {
        Some(why) => {
            eprintln!("error: this host would not load it: {why}");
            ExitCode::from(2)
        }
        None => ExitCode::SUCCESS,
    }
}
