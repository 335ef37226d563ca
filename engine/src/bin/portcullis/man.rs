//! `portcullis man`: the manual pages, written from the same definitions as
//! the parser — `portcullis.1` and one page per command
//! (`portcullis-audit.1`, ...).

use crate::common::fail;
use std::path::PathBuf;
use std::process::ExitCode;

/// Write the man pages (portcullis.1 and portcullis-COMMAND.1) into DIR, or
/// print portcullis.1 without one.
#[derive(clap::Args)]
pub struct Args {
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn run(args: Args, cli: clap::Command) -> ExitCode {
    let Some(dir) = args.dir else {
        return match clap_mangen::Man::new(cli).render(&mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(format!("cannot write the man page: {e}")),
        };
    };
    let written = std::fs::create_dir_all(&dir).and_then(|()| clap_mangen::generate_to(cli, &dir));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("cannot write man pages to {}: {e}", dir.display())),
    }
}
