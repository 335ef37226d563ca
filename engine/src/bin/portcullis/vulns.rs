//! `portcullis vulns`: lists the known vulnerabilities of an image, an SBOM
//! or a Go binary without judging them (as `trivy image` or `govulncheck
//! -mode binary` do), each marked reachable, present, module or package.
//! `audit` reaches the same matcher through the `vulnerabilities` plugin.

use crate::common::{Global, RegistryArgs, fail};
use portcullis::vuln::matcher::{self, Found, Matches, Platform};
use std::path::PathBuf;
use std::process::ExitCode;

/// List known vulnerabilities of an image (OCI layout, archive, docker://),
/// an SBOM file or a Go binary, offline, against the vulnerability database.
#[derive(clap::Args)]
pub struct Args {
    /// Image, SBOM or Go binary.
    path: PathBuf,
    #[command(flatten)]
    registry: RegistryArgs,
    #[arg(long, short, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Also list Go vulnerabilities whose vulnerable code is not in the binary.
    #[arg(long)]
    all: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Human,
    Json,
    Sarif,
}

#[derive(serde::Serialize)]
struct Subject {
    subject: String,
    platform: Option<String>,
    /// The digest VEX statements are matched against.
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
    #[serde(flatten)]
    matches: Matches,
    /// VEX statements applied, by vulnerability ID.
    vex: Vec<Listed>,
}

#[derive(serde::Serialize)]
struct Listed {
    id: String,
    package: String,
    #[serde(flatten)]
    applied: portcullis::vuln::vex::Applied,
}

/// A tar archive (`docker save`, OCI archive) has `ustar` at offset 257.
fn is_tar(path: &std::path::Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else { return false };
    let mut magic = [0u8; 5];
    f.seek(SeekFrom::Start(257)).is_ok() && f.read_exact(&mut magic).is_ok() && &magic == b"ustar"
}

pub fn run(args: Args, global: &Global) -> ExitCode {
    let Some(db) = global.vuln_db.clone() else {
        return fail(
            "no vulnerability database: build one with `portcullis db import PATH...` (or name one with --vuln-db)",
        );
    };
    let spec = args.path.display().to_string();
    let head = std::fs::File::open(&args.path).ok().and_then(|mut f| {
        use std::io::Read;
        let mut b = [0u8; 4];
        f.read_exact(&mut b).ok().map(|_| b)
    });
    let mut subjects = Vec::new();
    if args.path.is_file() && head == Some(*b"\x7fELF") {
        let bytes = match std::fs::read(&args.path) {
            Ok(b) => b,
            Err(e) => return fail(format!("{spec}: {e}")),
        };
        let elf = portcullis::scan::elf::analyse(&bytes);
        if !elf.is_go {
            return fail(format!("{spec} is an ELF file but not a Go binary"));
        }
        let mut out = Matches::default();
        let found = Found { origin: format!("binary:{spec}"), path: Some(spec.clone()), layer: None };
        let platform =
            Platform { os: "linux".into(), arch: portcullis::scan::elf::goarch(elf.machine, elf.class64).into() };
        matcher::go_binary(&db, &elf, &found, &platform, &mut out);
        subjects.push(Subject { subject: spec.clone(), platform: None, digest: None, matches: out, vex: Vec::new() });
    } else if args.path.is_file() && !is_tar(&args.path) {
        let sboms = portcullis::sbom::Attached::from_files(
            std::slice::from_ref(&args.path),
            portcullis::sbom::DEFAULT_MAX_BYTES,
        );
        if let Some(p) = sboms.problems.first() {
            return fail(format!("{}: {}", p.origin, p.message));
        }
        let out = matcher::image(&db, None, Some(&sboms), &Platform::default());
        subjects.push(Subject { subject: spec.clone(), platform: None, digest: None, matches: out, vex: Vec::new() });
    } else {
        let input = match crate::audit::open_image(&spec, &args.path, &args.registry) {
            Ok(i) => i,
            Err(code) => return code,
        };
        for e in &input.evidence {
            let portcullis::evidence::Evidence::Image(i) = e else { continue };
            let platform = Platform { os: i.config.os.clone(), arch: i.config.architecture.clone() };
            let sboms = (!i.sboms.is_empty()).then_some(i.sboms.as_ref());
            let out = matcher::image(&db, i.scan.as_deref(), sboms, &platform);
            subjects.push(Subject {
                subject: i.subject.reference.clone(),
                platform: i.subject.platform.as_ref().map(|p| format!("{}/{}", p.os, p.architecture)),
                digest: Some(i.subject.digest.to_string()),
                matches: out,
                vex: Vec::new(),
            });
        }
    }
    // VEX: statements naming this image (or the package) set a match aside.
    for s in &mut subjects {
        let digest = s.digest.clone().unwrap_or_default();
        let mut kept = Vec::new();
        for m in std::mem::take(&mut s.matches.matches) {
            match portcullis::vuln::vex::applies(&global.vex, &m, &digest) {
                Some(a) if a.sets_aside() => {
                    s.vex.push(Listed { id: m.id.clone(), package: m.package.clone(), applied: a });
                }
                _ => kept.push(m),
            }
        }
        s.matches.matches = kept;
    }
    if !args.all {
        for s in &mut subjects {
            s.matches
                .matches
                .retain(|m| !matches!(m.reach, portcullis::vuln::Reach::Present | portcullis::vuln::Reach::Module));
        }
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&subjects).unwrap_or_default()),
        Format::Sarif => {
            let runs: Vec<(String, Option<String>, &Matches)> =
                subjects.iter().map(|s| (s.subject.clone(), s.platform.clone(), &s.matches)).collect();
            println!("{}", portcullis::vuln::sarif::render(&runs));
        }
        Format::Human => {
            for s in &subjects {
                let platform = s.platform.as_deref().map(|p| format!(" ({p})")).unwrap_or_default();
                println!(
                    "{}{platform}: {} vulnerabilities, {} packages looked up",
                    s.subject,
                    s.matches.matches.len(),
                    s.matches.looked_up
                );
                for m in &s.matches.matches {
                    let severity = match (&m.score, &m.severity_text) {
                        (Some(sc), _) => format!("{} {:.1}", portcullis::vuln::severity::band(sc.score), sc.score),
                        (None, Some(t)) => t.to_ascii_lowercase(),
                        (None, None) => "unscored".into(),
                    };
                    let reach = serde_json::to_value(m.reach)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    println!(
                        "  {:<16} {:<28} {:<14} -> {:<14} {:<12} {:<9} {}",
                        m.id,
                        m.package,
                        m.installed,
                        m.fixed.as_deref().unwrap_or("(no fix)"),
                        severity,
                        reach,
                        m.found.origin
                    );
                }
                for v in &s.vex {
                    let why = v.applied.justification.as_deref().map(|j| format!(" ({j})")).unwrap_or_default();
                    println!(
                        "  set aside: {} {}: {}{why} by {}",
                        v.id, v.package, v.applied.status, v.applied.document
                    );
                }
                for p in &s.matches.problems {
                    println!("  problem: {}: {}", p.found.origin, p.message);
                }
            }
        }
    }
    ExitCode::SUCCESS
}
