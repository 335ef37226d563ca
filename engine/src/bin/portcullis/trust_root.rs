//! `portcullis trust-root import`: a newer trusted_root.json verified through
//! TUF from a copy of Sigstore's repository (the library checks; this writes
//! the result and says what was imported).

use crate::common::{Global, fail};
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

const TRUST_IMPORT_HELP: &str = "Exit status: 0 imported, 1 refused (the failed check on stderr), 2 usage.\n\nThe repository copy is laid out as sigstore/root-signing: metadata/root.json, N.root.json, targets.json; targets/trusted_root.json. snapshot.json and timestamp.json are not used (freshness needs the live repository).";

/// Manage the trusted root verification uses (evaluation never fetches).
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import a trusted_root.json from a copy of Sigstore's TUF repository,
    /// verified from a pinned TUF root: root rotations, targets signatures
    /// and expiry, the target's length and hashes. Use the result with
    /// `--trusted-root FILE`.
    #[command(after_help = TRUST_IMPORT_HELP)]
    Import {
        /// The TUF repository copy (a directory with metadata/ and targets/).
        #[arg(long)]
        tuf_repo: PathBuf,
        /// The pinned TUF root.json to start from (default: Sigstore's
        /// production root, embedded).
        #[arg(long)]
        tuf_root: Option<PathBuf>,
        /// The target to import.
        #[arg(long, default_value = "trusted_root.json")]
        target: String,
        /// Accept expired root/targets metadata (an offline copy older than
        /// their lifetime); what expired is printed.
        #[arg(long)]
        allow_expired_metadata: bool,
        /// Where to write the verified trusted root.
        #[arg(long, short)]
        out: PathBuf,
    },
}

pub fn run(args: Args, _: &Global) -> ExitCode {
    let Command::Import { tuf_repo, tuf_root, target, allow_expired_metadata, out } = args.command;
    let pinned = match &tuf_root {
        Some(p) => match std::fs::read(p) {
            Ok(b) => b,
            Err(e) => return fail(format!("{}: {e}", p.display())),
        },
        None => portcullis::signature::tuf::PRODUCTION_ROOT.as_bytes().to_vec(),
    };
    let imported =
        portcullis::signature::tuf::import(&tuf_repo, &target, &pinned, allow_expired_metadata, jiff::Timestamp::now());
    match imported {
        Ok(i) => {
            for e in &i.expired {
                eprintln!("warning: accepted although {e} (--allow-expired-metadata)");
            }
            if let Err(e) = std::fs::write(&out, &i.bytes) {
                return fail(format!("{}: {e}", out.display()));
            }
            eprintln!(
                "Imported {target} (sha256:{}): TUF root version {} (expires {}), targets version {} (expires {}); {} transparency log(s), {} CT log(s), {} timestamp authority(-ies) -> {}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&i.bytes)),
                i.root_version,
                i.root_expires,
                i.targets_version,
                i.targets_expires,
                i.trust_root.tlogs.len(),
                i.trust_root.ctlogs.len(),
                i.trust_root.timestamp_authorities.len(),
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("import refused: {e}");
            ExitCode::from(1)
        }
    }
}
