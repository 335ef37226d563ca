//! Matches what an image contains against the database: the modules and
//! standard library of every Go binary (with reachability from its function
//! table), the dpkg and apk packages of the merged filesystem, and every
//! SBOM component with a package URL.
//!
//! Go follows govulncheck's binary mode: an entry matters to a binary when
//! its module (path and version, `stdlib` for the Go version) is in range
//! and, when the entry lists `imports`, one of them fits the binary's
//! GOOS/GOARCH. It is then *reachable* when one of the listed symbols (all
//! of a package's, when none is listed) is a function of the binary,
//! *present* when only a listed package is, and *module* otherwise.

use super::db::VulnDb;
use super::osv::{Affected, Record};
use super::ranges::{self, Verdict};
use super::severity::{self, Score};
use crate::scan::ImageScan;
use crate::scan::elf::ElfInfo;
use crate::scan::gosym::GoSymbols;

/// How much of a vulnerable Go module a binary really contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reach {
    /// A vulnerable function is in the binary (or, lacking a readable
    /// function table, assumed to be: fail closed).
    Reachable,
    /// A vulnerable package is linked in, none of its vulnerable functions.
    Present,
    /// Only the module is a dependency; none of its vulnerable packages is
    /// in the binary.
    Module,
    /// Not a Go binary: a package or SBOM component, matched by version.
    Package,
}

/// Where the vulnerable package was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Found {
    /// `binary:/app/hello`, `dpkg`, `apk`, `sbom:file:img.cdx.json`.
    pub origin: String,
    /// A path in the image, when there is one.
    pub path: Option<String>,
    pub layer: Option<u32>,
}

/// One vulnerability of one package of the subject.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Match {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    /// `Go`, `Debian:12`, `PyPI`...
    pub ecosystem: String,
    /// Module, package or component name (`stdlib` for Go's standard library).
    pub package: String,
    pub installed: String,
    pub fixed: Option<String>,
    pub published: Option<String>,
    pub score: Option<Score>,
    /// A severity word from the source, when no vector scores it.
    pub severity_text: Option<String>,
    pub reach: Reach,
    /// The vulnerable functions found in the binary (`pkg.Recv.Func`).
    pub symbols: Vec<String>,
    pub found: Found,
    /// `FIX` and `ADVISORY` URLs.
    pub references: Vec<String>,
}

/// Something that kept the matcher from deciding for part of the image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub found: Found,
    pub message: String,
}

/// What the matcher concluded about one subject.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Matches {
    pub matches: Vec<Match>,
    pub problems: Vec<Problem>,
    /// How many packages, modules and components were looked up.
    pub looked_up: usize,
}

/// The platform a binary runs on, for the entries' `goos`/`goarch`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
}

fn matches_platform(list: &[String], value: &str) -> bool {
    list.is_empty() || list.iter().any(|v| v == value)
}

/// What matching found for one entry: the fix, and how much of it is there.
struct Hit {
    fixed: Option<String>,
    reach: Reach,
    symbols: Vec<String>,
}

impl Matches {
    fn push(&mut self, record: &Record, affected: &Affected, installed: &str, hit: Hit, found: &Found) {
        let Hit { fixed, reach, symbols } = hit;
        let m = Match {
            id: record.id.clone(),
            aliases: record.aliases.clone(),
            summary: record.summary.clone(),
            ecosystem: affected.ecosystem.clone(),
            package: affected.name.clone(),
            installed: installed.to_string(),
            fixed,
            published: record.published.clone(),
            score: severity::best(record, affected),
            severity_text: record.severity_text.clone(),
            reach,
            symbols,
            found: found.clone(),
            references: record.references.clone(),
        };
        if !self.matches.iter().any(|x| x.id == m.id && x.package == m.package && x.found == m.found) {
            self.matches.push(m);
        }
    }

    fn problem(&mut self, found: &Found, message: String) {
        self.problems.push(Problem { found: found.clone(), message });
    }
}

/// Matches one Go binary: its modules and the standard library of its Go
/// version.
pub fn go_binary(db: &VulnDb, elf: &ElfInfo, found: &Found, platform: &Platform, out: &mut Matches) {
    let Some(build) = &elf.go else {
        out.problem(found, "a Go binary without readable build information: its modules cannot be matched".into());
        return;
    };
    let goos = build.setting("GOOS").unwrap_or(&platform.os).to_string();
    let goarch = build.setting("GOARCH").unwrap_or(&platform.arch).to_string();
    let mut modules: Vec<(String, String, String)> = Vec::new();
    match ranges::go_semver(&build.go_version) {
        Some(v) => modules.push(("stdlib".into(), v, build.go_version.clone())),
        None => out.problem(
            found,
            format!(
                "Go version `{}` is not a release: standard-library vulnerabilities cannot be matched",
                build.go_version
            ),
        ),
    }
    for m in build.main.iter().chain(&build.deps) {
        if m.version == "(devel)" || m.version.is_empty() {
            continue;
        }
        modules.push((m.path.clone(), m.version.trim_start_matches('v').to_string(), m.version.clone()));
    }
    for (module, version, shown) in modules {
        out.looked_up += 1;
        let records = match db.records_for("Go", &module) {
            Ok(r) => r,
            Err(e) => return out.problem(found, e),
        };
        for record in records.iter().filter(|r| r.withdrawn.is_none()) {
            let mut best: Option<(&Affected, Hit)> = None;
            for a in record.affected.iter().filter(|a| a.ecosystem == "Go" && a.name == module) {
                let fixed = match ranges::evaluate(a, &version) {
                    Verdict::Affected { fixed } => fixed,
                    Verdict::NotAffected => continue,
                    Verdict::Unorderable => {
                        out.problem(
                            found,
                            format!("{module}@{shown} is not a semantic version: {} cannot be decided", record.id),
                        );
                        continue;
                    }
                };
                let imports: Vec<_> = a
                    .imports
                    .iter()
                    .filter(|i| matches_platform(&i.goos, &goos) && matches_platform(&i.goarch, &goarch))
                    .collect();
                if !a.imports.is_empty() && imports.is_empty() {
                    continue;
                }
                let (reach, symbols) = reach(elf.go_symbols.as_ref(), &imports);
                let fixed = fixed.map(|f| if module == "stdlib" { format!("go{f}") } else { format!("v{f}") });
                if best.as_ref().is_none_or(|(_, hit)| reach < hit.reach) {
                    best = Some((a, Hit { fixed, reach, symbols }));
                }
            }
            if let Some((a, hit)) = best {
                out.push(record, a, &shown, hit, found);
            }
        }
    }
}

/// Reachability of an entry's imports in a binary's function table.
fn reach(symbols: Option<&GoSymbols>, imports: &[&super::osv::Import]) -> (Reach, Vec<String>) {
    let Some(table) = symbols else {
        // No readable function table: assume the worst.
        return (Reach::Reachable, Vec::new());
    };
    if imports.is_empty() {
        // No package information: govulncheck reports such entries at
        // module level only.
        return (Reach::Module, Vec::new());
    }
    let mut found = Vec::new();
    let mut present = false;
    for i in imports {
        if !table.has_package(&i.path) {
            continue;
        }
        present = true;
        if i.symbols.is_empty() {
            found.extend(table.exported_of(&i.path).map(|s| format!("{}.{s}", i.path)));
        } else {
            found.extend(i.symbols.iter().filter(|s| table.has_symbol(&i.path, s)).map(|s| format!("{}.{s}", i.path)));
        }
    }
    found.sort();
    found.dedup();
    match (present, found.is_empty()) {
        (_, false) => (Reach::Reachable, found),
        // Without inline trees an inlined call to a vulnerable function
        // cannot be ruled out: fail closed.
        (true, true) if !table.inlined => (Reach::Reachable, found),
        (true, true) => (Reach::Present, found),
        (false, _) => (Reach::Module, found),
    }
}

/// The OSV ecosystem of an image's distribution packages: `Debian:12`,
/// `Alpine:v3.19`, `Ubuntu:22.04`; `None` when the release is unknown.
pub fn distro_ecosystem(os_id: Option<&str>, version_id: Option<&str>) -> Option<String> {
    let v = version_id?;
    match os_id? {
        "debian" => Some(format!("Debian:{}", v.split('.').next().unwrap_or(v))),
        "ubuntu" => Some(format!("Ubuntu:{v}")),
        "alpine" => {
            let mut parts = v.split('.');
            Some(format!("Alpine:v{}.{}", parts.next()?, parts.next()?))
        }
        _ => None,
    }
}

/// Matches a name and version in one ecosystem (distribution packages, SBOM
/// components).
pub fn package(db: &VulnDb, ecosystem: &str, name: &str, version: &str, found: &Found, out: &mut Matches) {
    out.looked_up += 1;
    let records = match db.records_for(ecosystem, name) {
        Ok(r) => r,
        Err(e) => return out.problem(found, e),
    };
    for record in records.iter().filter(|r| r.withdrawn.is_none()) {
        for a in record.affected.iter().filter(|a| a.ecosystem == ecosystem && a.name == name) {
            match ranges::evaluate(a, version) {
                Verdict::Affected { fixed } => {
                    out.push(record, a, version, Hit { fixed, reach: Reach::Package, symbols: Vec::new() }, found);
                    break;
                }
                Verdict::NotAffected => {}
                Verdict::Unorderable => {
                    out.problem(
                        found,
                        format!(
                            "{name} {version} cannot be ordered as a {ecosystem} version: {} cannot be decided",
                            record.id
                        ),
                    );
                    break;
                }
            }
        }
    }
}

/// A package URL's name as OSV records write it: Maven `group:artifact`,
/// Go, npm and Packagist `namespace/name`, the bare name otherwise (for
/// deb and apk the namespace is the distribution).
pub fn package_name(p: &packageurl::PackageUrl<'_>) -> String {
    match p.namespace() {
        Some(ns) if p.ty() == "maven" => format!("{ns}:{}", p.name()),
        Some(ns) if matches!(p.ty(), "golang" | "npm" | "composer") => format!("{ns}/{}", p.name()),
        _ => p.name().to_string(),
    }
}

/// The OSV ecosystem and package name of a package URL.
pub fn purl_ecosystem(purl: &str) -> Option<(String, String, String)> {
    let p: packageurl::PackageUrl<'_> = purl.parse().ok()?;
    let version = p.version()?.to_string();
    let name = package_name(&p);
    let ecosystem = match p.ty() {
        "golang" => "Go".to_string(),
        "npm" => "npm".into(),
        "pypi" => "PyPI".into(),
        "maven" => "Maven".into(),
        "cargo" => "crates.io".into(),
        "gem" => "RubyGems".into(),
        "nuget" => "NuGet".into(),
        "composer" => "Packagist".into(),
        "hex" => "Hex".into(),
        "pub" => "Pub".into(),
        "deb" | "apk" => {
            // `distro=debian-12` / `distro=alpine-3.19.1`.
            let distro =
                p.qualifiers().iter().find(|(k, _)| AsRef::<str>::as_ref(k) == "distro").map(|(_, v)| v.to_string())?;
            let (id, v) = distro.split_once('-')?;
            let eco = distro_ecosystem(Some(id), Some(v))?;
            // Debian records name source packages.
            let src =
                p.qualifiers().iter().find(|(k, _)| AsRef::<str>::as_ref(k) == "upstream").map(|(_, v)| v.to_string());
            let name =
                src.map(|s| s.split('@').next().unwrap_or(&s).to_string()).unwrap_or_else(|| p.name().to_string());
            return Some((eco, name, version));
        }
        _ => return None,
    };
    let version = if ecosystem == "Go" { version.trim_start_matches('v').to_string() } else { version };
    Some((ecosystem, name, version))
}

/// Everything the image contains.
pub fn image(
    db: &VulnDb,
    scan: Option<&ImageScan>,
    sboms: Option<&crate::sbom::Attached>,
    platform: &Platform,
) -> Matches {
    let mut out = Matches::default();
    if let Some(scan) = scan {
        for b in scan.binaries.iter().filter(|b| b.elf.is_go) {
            let found =
                Found { origin: format!("binary:{}", b.path), path: Some(b.path.clone()), layer: Some(b.layer) };
            go_binary(db, &b.elf, &found, platform, &mut out);
        }
        let eco = distro_ecosystem(scan.os_id.as_deref(), scan.os_version.as_deref());
        for p in &scan.packages {
            let found = Found { origin: p.source.to_string(), path: None, layer: None };
            let Some(eco) = &eco else {
                out.problem(
                    &found,
                    format!(
                        "{} {}: the distribution release is unknown (no VERSION_ID in /etc/os-release), so its packages cannot be matched",
                        p.name, p.version
                    ),
                );
                break;
            };
            // Debian and Ubuntu records name source packages; Alpine
            // records name origin packages.
            package(db, eco, &p.source_name, &p.source_version, &found, &mut out);
        }
    }
    if let Some(sboms) = sboms {
        for d in &sboms.documents {
            let found = Found { origin: format!("sbom:{}", d.origin), path: None, layer: None };
            for c in &d.sbom.components {
                let Some(purl) = &c.purl else { continue };
                // Go modules of binaries the scan read are matched with
                // reachability above; the SBOM's copy adds nothing.
                if scan.is_some() && purl.starts_with("pkg:golang/") {
                    continue;
                }
                if let Some((eco, name, version)) = purl_ecosystem(purl) {
                    package(db, &eco, &name, &version, &found, &mut out);
                }
            }
        }
    }
    out.matches.sort_by(|a, b| (&a.found.origin, &a.package, &a.id).cmp(&(&b.found.origin, &b.package, &b.id)));
    out
}
