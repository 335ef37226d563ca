//! `portcullis rules` and `portcullis explain`: what a policy runs, and one
//! rule's documentation, as the loaded plan states them.

use crate::common::{self, Global, fail};
use std::path::PathBuf;
use std::process::ExitCode;

/// List the rules a policy runs, with their settings.
#[derive(clap::Args)]
pub struct RulesArgs {
    /// Policy files applied together (default: the embedded pack).
    #[arg(long, short, conflicts_with = "all")]
    policy: Vec<PathBuf>,
    /// Every rule of every builtin plugin, at its defaults.
    #[arg(long)]
    all: bool,
    /// Write one Markdown page per rule (and an index, README.md) into DIR
    /// instead of listing them: the pages of docs/rules.
    #[arg(long, value_name = "DIR")]
    markdown: Option<PathBuf>,
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
    let engine = if args.all { all_builtins(global) } else { common::engine(&args.policy, global, None) };
    let engine = match engine {
        Ok(e) => e,
        Err(code) => return code,
    };
    if let Some(dir) = &args.markdown {
        return write_pages(&engine, dir);
    }
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
    // Without --policy, every builtin rule is known (at its defaults).
    let engine = if args.policy.is_empty() { all_builtins(global) } else { common::engine(&args.policy, global, None) };
    let engine = match engine {
        Ok(e) => e,
        Err(code) => return code,
    };
    let rule = &args.rule;
    let Some(r) = engine.plan().rules.iter().find(|r| r.info.id.eq_ignore_ascii_case(rule)) else {
        let ids: Vec<&str> = engine.plan().rules.iter().map(|r| r.info.id.as_str()).collect();
        let hint = match portcullis::policy::did_you_mean(rule, ids.iter().copied()) {
            Some(best) => format!("did you mean `{best}`? "),
            None => String::new(),
        };
        let whose = if args.policy.is_empty() { "no builtin rule" } else { "no rule in this policy is" };
        return fail(format!("{whose} `{rule}`; {hint}`portcullis rules --all` lists every rule"));
    };
    let i = &r.info;
    println!("{} — {}\n", i.id, i.title);
    println!("plugin:      {}", i.plugin);
    println!("severity:    {} (default {})", r.severity, i.default_severity);
    println!("enforcement: {} (default {})", r.enforcement, i.default_enforcement);
    println!("enabled:     {}\n", r.enabled);
    println!("{}\n", i.description);
    println!("Remediation: {}", i.remediation);
    println!("Documentation: {}", portcullis::report::rules_doc::help_uri(&i.id));
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

/// An engine running every builtin plugin's rules at their defaults.
fn all_builtins(global: &Global) -> Result<portcullis::Engine, ExitCode> {
    portcullis::Engine::new(portcullis::Policy::all_builtins(), common::engine_options(global, None)).map_err(fail)
}

/// `rules --markdown DIR`: one page per rule and the index.
fn write_pages(engine: &portcullis::Engine, dir: &std::path::Path) -> ExitCode {
    use portcullis::report::rules_doc;
    let infos: Vec<portcullis::model::RuleInfo> = engine.plan().rules.iter().map(|r| r.info.clone()).collect();
    let written = std::fs::create_dir_all(dir).and_then(|()| {
        for r in &infos {
            std::fs::write(dir.join(format!("{}.md", r.id)), rules_doc::page(r))?;
        }
        std::fs::write(dir.join("README.md"), rules_doc::index(&infos))
    });
    match written {
        Ok(()) => {
            eprintln!(
                "wrote {} and README.md to {}",
                portcullis::report::human::count(infos.len(), "rule page", "rule pages"),
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("cannot write rule pages to {}: {e}", dir.display())),
    }
}
