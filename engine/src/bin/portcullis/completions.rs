//! `portcullis completions SHELL`: the shell's completion script, written
//! from the same definitions as the parser, so it cannot fall behind.

use std::process::ExitCode;

/// Print a completion script (bash, zsh, fish, elvish, powershell), e.g.
/// `portcullis completions bash > /etc/bash_completion.d/portcullis`.
#[derive(clap::Args)]
pub struct Args {
    shell: clap_complete::Shell,
}

pub fn run(args: Args, mut cli: clap::Command) -> ExitCode {
    clap_complete::generate(args.shell, &mut cli, "portcullis", &mut std::io::stdout());
    ExitCode::SUCCESS
}
