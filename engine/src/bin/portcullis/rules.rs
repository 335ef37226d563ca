//! `portcullis rules` and `portcullis explain`: what a policy runs, and one
//! rule's documentation, as the loaded plan states them.

use crate::common::{self, Global, fail};
use std::path::PathBuf;
use std::process::ExitCode;

/// List the rules a policy runs, with their settings.
#[derive(clap::Args)]
pub struct RulesArgs {
    /// Policy files applied together (default: the embedded pack).
    #[arg(long, short)]
    policy: Vec<PathBuf>,
}

/// Print a rule's documentation.
#[derive(clap::Args)]
pub struct ExplainArgs {
    /// Rule id, e.g. GO-CFG-001.
    rule: String,
    /// Policy files whose plugins provide the rule (default: every builtin rule).
    #[arg(long, short)]
    policy: Vec<PathBuf>,
}

pub fn run_rules(args: RulesArgs, global: &Global) -> ExitCode {
    let engine = match common::engine(&args.policy, global, None) {
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

pub fn run_explain(args: ExplainArgs, global: &Global) -> ExitCode {
    let engine = match common::engine(&args.policy, global, None) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let rule = &args.rule;
    let Some(r) = engine.plan().rules.iter().find(|r| r.info.id.eq_ignore_ascii_case(rule)) else {
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
