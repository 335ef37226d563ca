//! `portcullis test`: runs policy tests (`portcullis-test.toml`) offline
//! and reports mismatches as diffs; `--init` writes a starter test. The
//! library (`portcullis::suite`) loads, runs and compares; this file only
//! maps flags and exit statuses.

use crate::common::{Global, fail, policy_error};
use portcullis::suite::{self, PolicyRef, RunOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run policy tests: every `portcullis-test.toml` (and `*.portcullis-test.toml`)
/// under PATH (default: the current directory), offline, cases in parallel.
///
/// Exit status: 0 every expectation met, 1 a mismatch (or a coverage gap
/// with --require-coverage), 2 a test file or fixture error, or no test found.
#[derive(clap::Args)]
pub struct Args {
    /// Test files or directories to search.
    paths: Vec<PathBuf>,
    /// Run only the cases whose `FILE::NAME` matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    filter: Option<String>,
    #[arg(long, short, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Print, per rule of each tested policy, whether a case saw it pass and
    /// a case saw it fail.
    #[arg(long)]
    coverage: bool,
    /// A rule not seen both passing and failing makes the run fail (exit 1).
    #[arg(long)]
    require_coverage: bool,
    /// Rewrite the expectations that did not match (outcomes, verdicts,
    /// denying rules) to what the policy did, in place; list what needs a
    /// person (changed messages, rules no longer evaluated). Review the diff:
    /// an update records whatever the policy does, mistakes included.
    #[arg(long, conflicts_with = "init")]
    update: bool,
    /// Write a starter test for --policy and --image (to PATH, default
    /// ./portcullis-test.toml) from what the policy does today.
    #[arg(long, requires = "image")]
    init: bool,
    /// With --init: the policy (default: the embedded baseline).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// With --init: the image (OCI layout, oci-archive, docker-archive).
    #[arg(long, value_name = "PATH")]
    image: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Human,
    Json,
    Junit,
}

pub fn run(args: Args, global: &Global) -> ExitCode {
    if args.init {
        return init(&args, global);
    }
    let filter = match args.filter.as_deref().map(regex::Regex::new).transpose() {
        Ok(f) => f,
        Err(e) => return fail(format!("--filter: {e}")),
    };
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths.clone() };
    let files = match suite::discover(&paths) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    // Every file is checked before anything runs, and every broken one shown.
    let mut suites = Vec::new();
    let mut broken = false;
    for f in &files {
        match suite::load(f) {
            Ok(s) => suites.push(s),
            Err(e) => {
                let _ = policy_error(&e);
                broken = true;
            }
        }
    }
    if broken {
        return ExitCode::from(2);
    }
    let cache_dir = if global.no_cache { None } else { portcullis::EngineOptions::default().cache_dir };
    let run = suite::run::run(&suites, &RunOptions { filter, cache_dir });
    if run.results.is_empty() {
        return fail("no case matched --filter: a run that tests nothing does not pass");
    }
    let text = match args.format {
        Format::Human => suite::render::human(&run, args.coverage || args.require_coverage),
        Format::Json => suite::render::json(&run),
        Format::Junit => suite::render::junit(&run),
    };
    print!("{text}");
    if args.update {
        return update(&suites, &run);
    }
    let gaps: Vec<String> =
        run.coverage.iter().flat_map(|c| c.gaps().map(move |r| format!("{} {}", c.policy, r.rule))).collect();
    if run.errors() > 0 {
        return ExitCode::from(2);
    }
    if !run.passed() {
        return ExitCode::from(1);
    }
    if args.require_coverage && !gaps.is_empty() {
        eprintln!(
            "error: --require-coverage: {} not seen both passing and failing:",
            portcullis::report::human::count(gaps.len(), "rule", "rules")
        );
        for g in &gaps {
            eprintln!("  {g}");
        }
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// `--update`: rewrites each file's mismatched expectations; exit 0 when
/// every mismatch was rewritten, 1 when some need editing by hand, 2 on a
/// harness error (nothing is rewritten from a run that could not judge).
fn update(suites: &[suite::Suite], run: &suite::run::Run) -> ExitCode {
    if run.errors() > 0 {
        eprintln!(
            "error: --update: {} could not run; nothing rewritten",
            portcullis::report::human::count(run.errors(), "case", "cases")
        );
        return ExitCode::from(2);
    }
    let mut by_hand = 0;
    for s in suites {
        let u = suite::update::apply(s, &run.results);
        if !u.rewritten.is_empty() {
            if let Err(e) = std::fs::write(&s.file, &u.text) {
                return fail(format!("cannot write {}: {e}", s.file.display()));
            }
            eprintln!("updated {} expectation(s) in {}:", u.rewritten.len(), s.file.display());
            for r in &u.rewritten {
                eprintln!("  {r}");
            }
        }
        for h in &u.by_hand {
            eprintln!("edit by hand in {}: {h}", s.file.display());
        }
        by_hand += u.by_hand.len();
    }
    if by_hand > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn init(args: &Args, global: &Global) -> ExitCode {
    let out = match args.paths.as_slice() {
        [] => PathBuf::from(suite::FILE_NAME),
        [p] if p.is_dir() => p.join(suite::FILE_NAME),
        [p] => p.clone(),
        _ => return fail("--init writes one file: give at most one PATH"),
    };
    if out.exists() {
        return fail(format!("{} exists: --init does not overwrite a test", out.display()));
    }
    let policy = args.policy.clone().map_or(PolicyRef::Builtin, PolicyRef::File);
    let image = args.image.as_deref().expect("clap requires --image with --init");
    let options = crate::common::engine_options(global, None);
    match suite::init::starter(&policy, image, &out, options) {
        Ok(text) => match std::fs::write(&out, text) {
            Ok(()) => {
                eprintln!("wrote {}: review its expectations, then run `portcullis test`", out.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("{}: {e}", out.display())),
        },
        Err(e) => fail(e),
    }
}
