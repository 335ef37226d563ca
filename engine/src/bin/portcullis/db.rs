//! `portcullis db`: builds and describes the offline vulnerability database.

use crate::common::fail;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Build or describe the offline vulnerability database (OSV records).
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Import OSV records — folders of OSV JSON (the Go vulnerability
    /// database layout included) and the zip files osv.dev exports per
    /// ecosystem — into a new database, replacing the old one atomically.
    Import {
        /// Folders, `.json` records or `.zip` archives of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Where to write the database (default: --vuln-db, else the user cache).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Refuse the whole import at the first malformed record (default:
        /// report it and skip it).
        #[arg(long)]
        strict: bool,
    },
    /// Print the database's digest, record counts per ecosystem and newest record time.
    Info {
        #[arg(long, short, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Human,
    Json,
}

fn target(given: Option<&Path>) -> Result<PathBuf, ExitCode> {
    given
        .map(Path::to_path_buf)
        .or_else(portcullis::vuln::db::default_path)
        .ok_or_else(|| fail("no cache directory is known here: name the database with -o / --vuln-db"))
}

fn print_info(info: &portcullis::vuln::db::Info, path: &Path) {
    println!("database  {}", path.display());
    println!("digest    {}", info.digest);
    println!("records   {}", info.records);
    for (eco, n) in &info.ecosystems {
        println!("  {eco:<12} {n}");
    }
    println!("newest    {}", info.newest.as_deref().unwrap_or("-"));
    println!("imported  {}", info.imported);
}

pub fn run(args: Args, vuln_db: Option<&Path>) -> ExitCode {
    match args.command {
        Command::Import { paths, output, strict } => {
            let out = match target(output.as_deref().or(vuln_db)) {
                Ok(p) => p,
                Err(code) => return code,
            };
            let started = std::time::Instant::now();
            match portcullis::vuln::db::import(&paths, &out, strict) {
                Ok(done) => {
                    for r in &done.rejected {
                        eprintln!("warning: skipped {r}");
                    }
                    print_info(&done.info, &out);
                    let rejected = match done.rejected.len() {
                        0 => String::new(),
                        1 => ", 1 malformed record skipped".to_string(),
                        n => format!(", {n} malformed records skipped"),
                    };
                    eprintln!(
                        "imported {} in {:.2} s{rejected}",
                        portcullis::report::human::count(done.info.records as usize, "record", "records"),
                        started.elapsed().as_secs_f64()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Command::Info { format } => {
            let path = match target(vuln_db) {
                Ok(p) => p,
                Err(code) => return code,
            };
            match portcullis::vuln::VulnDb::open(&path) {
                Ok(db) => {
                    match format {
                        Format::Human => print_info(&db.info, &path),
                        Format::Json => println!("{}", serde_json::to_string_pretty(&db.info).unwrap_or_default()),
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}
