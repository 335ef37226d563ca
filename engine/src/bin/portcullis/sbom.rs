//! `portcullis sbom validate` and `portcullis sbom show`: an SBOM checked
//! against its format's schema, or shown as the library's normalised model.

use crate::common::{Global, fail};
use clap::{Subcommand, ValueEnum};
use portcullis::sbom;
use std::path::PathBuf;
use std::process::ExitCode;

const SBOM_VALIDATE_HELP: &str = "Exit status: 0 valid, 1 invalid (violations listed), 2 unreadable or unsupported.";

/// Validate or inspect SBOMs (CycloneDX JSON/XML, SPDX JSON/tag-value).
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate an SBOM against the official schema of its format and version.
    #[command(after_help = SBOM_VALIDATE_HELP)]
    Validate {
        file: PathBuf,
        #[arg(long, short, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Largest SBOM read, in bytes.
        #[arg(long, default_value_t = portcullis::sbom::DEFAULT_MAX_BYTES)]
        max_sbom_bytes: u64,
    },
    /// Print the normalised model of an SBOM: subject, components, dependencies.
    Show {
        file: PathBuf,
        #[arg(long, short, value_enum, default_value_t = Format::Human)]
        format: Format,
        #[arg(long, default_value_t = portcullis::sbom::DEFAULT_MAX_BYTES)]
        max_sbom_bytes: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

pub fn run(args: Args, _: &Global) -> ExitCode {
    match args.command {
        Command::Validate { file, format, max_sbom_bytes } => validate(&file, format, max_sbom_bytes),
        Command::Show { file, format, max_sbom_bytes } => show(&file, format, max_sbom_bytes),
    }
}

fn validate(file: &std::path::Path, format: Format, max_sbom_bytes: u64) -> ExitCode {
    let outcome = sbom::read_file(file, max_sbom_bytes).and_then(|bytes| sbom::validate(&bytes));
    let v = match outcome {
        Ok(v) => v,
        Err(e) => return fail(format!("{}: {e}", file.display())),
    };
    match format {
        Format::Json => {
            let mut out = serde_json::to_value(&v).unwrap_or_default();
            out["valid"] = v.is_valid().into();
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        Format::Human => {
            for x in &v.violations {
                let level = match x.severity {
                    sbom::Severity::Error => "error",
                    sbom::Severity::Warning => "warning",
                };
                println!("{}: {level} at {}: {}", file.display(), x.location, x.message);
            }
            let errors = v.errors().count();
            println!(
                "{}: {} {} is {} (checked against {}{})",
                file.display(),
                v.identified.format.id(),
                v.identified.version,
                if v.is_valid() { "valid" } else { "INVALID" },
                v.checked_against,
                if errors > 0 { format!("; {errors} error(s)") } else { String::new() }
            );
        }
    }
    if v.is_valid() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn show(file: &std::path::Path, format: Format, max_sbom_bytes: u64) -> ExitCode {
    let model = match sbom::read_file(file, max_sbom_bytes).and_then(|bytes| sbom::parse(&bytes)) {
        Ok(m) => m,
        Err(e) => return fail(format!("{}: {e}", file.display())),
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&model).unwrap_or_default()),
        Format::Human => print!("{}", summary(&model)),
    }
    ExitCode::SUCCESS
}

/// The human form of `sbom show`: a header, then one line per tool, subject,
/// component and note.
fn summary(m: &sbom::Sbom) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let format = m.format.map(|f| f.id()).unwrap_or("?");
    let _ = writeln!(out, "{format} {}", m.spec_version);
    for t in &m.tools {
        let _ = writeln!(out, "tool:    {} {}", t.name, t.version.as_deref().unwrap_or(""));
    }
    for s in &m.subjects {
        let _ = writeln!(
            out,
            "subject: {} {} [{}] {}",
            s.name,
            s.version.as_deref().unwrap_or(""),
            s.kind,
            s.digests().join(" ")
        );
    }
    let _ = writeln!(out, "components: {}, dependency entries: {}", m.components.len(), m.dependencies.len());
    for c in &m.components {
        let _ = writeln!(
            out,
            "  {:<40} {:<24} {:<10} {}{}",
            c.name,
            c.version.as_deref().unwrap_or("-"),
            c.kind,
            c.purl.as_deref().unwrap_or("-"),
            c.license.as_deref().map(|l| format!("  [{l}]")).unwrap_or_default()
        );
    }
    for n in &m.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}
