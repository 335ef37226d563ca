//! Builtin plugin `go-filesystem`: the base-image and filesystem rules
//! GO-FS-001..010 — no shell, no package manager, no toolchain or caches left
//! over, CA certificates and time-zone data when the binary needs them, no
//! secrets in any layer, no setuid or world-writable files, a size budget and
//! layer efficiency — judged on the merged filesystem and the scanner's
//! findings.
//!
//! A rule that names a thing recognises the thing: a shell is found by name
//! in the usual bin directories and on the image's `PATH`, and by content
//! anywhere (the scanner's `shells`: a renamed dash, a busybox); a CA bundle
//! is a non-empty regular file at the end of its symlinks, not a link to
//! nowhere.

use portcullis_sdk::filesystem::{self, FileEntry, FileKind};
use portcullis_sdk::image_scan;
use portcullis_sdk::{
    Checker, Enforcement, Finding, Image, ParamProblem, ParamValue, Params, Plugin, PluginMeta, QueryError, Resolved,
    RuleConfig, RuleMeta, Severity, Target, glob_all, resolve, text_list,
};

pub struct GoFilesystemPlugin;

const SHELL: &str = "GO-FS-001";
const PKG_MANAGER: &str = "GO-FS-002";
const TOOLCHAIN: &str = "GO-FS-003";
const CACHES: &str = "GO-FS-004";
const CA_CERTS: &str = "GO-FS-005";
const TZDATA: &str = "GO-FS-006";
const SECRETS: &str = "GO-FS-007";
const MODES: &str = "GO-FS-008";
const SIZE: &str = "GO-FS-009";
const EFFICIENCY: &str = "GO-FS-010";

const BIN_DIRS: &[&str] = &["/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"];

impl Plugin for GoFilesystemPlugin {
    fn metadata() -> PluginMeta {
        PluginMeta { name: "go-filesystem".into(), version: env!("CARGO_PKG_VERSION").into(), rules: rules() }
    }

    fn check(rules: Vec<RuleConfig>) -> Vec<ParamProblem> {
        let mut c = Checker::default();
        for r in &rules {
            c.non_empty_entries(r);
            for list in ["paths", "dirs", "bundles", "writable_allowed"] {
                c.entries(r, list, |p| {
                    if p.starts_with('/') { Ok(()) } else { Err(format!("`{p}` is not an absolute path")) }
                });
            }
            for list in ["shells", "programs"] {
                c.entries(r, list, |p| {
                    if p.contains('/') { Err(format!("`{p}` is a path; give a program name")) } else { Ok(()) }
                });
            }
            c.float_in(r, "max_compressed_mb", 0.0..=1e6);
            c.float_in(r, "max_wasted_mb", 0.0..=1e6);
            c.float_in(r, "min_efficiency", 0.0..=1.0);
        }
        c.problems
    }

    fn evaluate(target: Target, rules: Vec<RuleConfig>) -> Vec<Finding> {
        let image = match target {
            Target::Image(image) => image,
            Target::Artifact(_) => return portcullis_sdk::skip_all(&rules, portcullis_sdk::NOT_AN_IMAGE),
            Target::Workload(_) => return portcullis_sdk::skip_all(&rules, portcullis_sdk::NOT_JUDGED),
            Target::Index(_) => {
                return rules.iter().map(|r| Finding::skip(&r.id, "judged on each platform image")).collect();
            }
        };
        rules.iter().map(|r| judge(r, &image).unwrap_or_else(|e| e.finding(&r.id))).collect()
    }
}

#[cfg(target_arch = "wasm32")]
portcullis_sdk::export_plugin!(GoFilesystemPlugin);

pub fn rules() -> Vec<RuleMeta> {
    let r = RuleMeta::new;
    vec![
        r(SHELL, "No shell", Severity::Medium, Enforcement::Enforce,
          "The final image has no shell: without one, an attacker who gets code execution cannot pivot with `sh -c`, and shell-form commands cannot sneak in.",
          "Use a scratch or distroless base for the final stage.")
            .param("shells", text_list(&["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox", "toybox"]), "Program names looked for in the usual bin directories and on the image's PATH; shells under other names are recognised by content wherever they are."),
        r(PKG_MANAGER, "No package manager", Severity::Medium, Enforcement::Enforce,
          "The final image has no package manager (apt, dpkg, apk, yum, dnf, rpm, microdnf) to install tools after a compromise.",
          "Install what you need in a build stage and copy only the results into a minimal final stage.")
            .param("programs", text_list(&["apt", "apt-get", "dpkg", "apk", "yum", "dnf", "rpm", "microdnf"]), "Program names looked for in the usual bin directories."),
        r(TOOLCHAIN, "No build toolchain left over", Severity::Medium, Enforcement::Enforce,
          "No Go toolchain (`/usr/local/go`, `go`), C toolchain (`gcc`, `cc`, `make`), `node_modules/.bin` or Go source files outside GOROOT: use multi-stage builds.",
          "Build in one stage, `COPY --from=build` only the binary into the final stage.")
            .param("programs", text_list(&["go", "gcc", "cc", "make", "g++", "clang"]), "Toolchain programs looked for in the usual bin directories.")
            .param("paths", text_list(&["/usr/local/go", "/usr/lib/go", "/root/go", "/go/pkg"]), "Toolchain directories."),
        r(CACHES, "No package-manager caches", Severity::Low, Enforcement::Enforce,
          "No files left in `/var/lib/apt/lists`, `/var/cache/apt` or `/var/cache/apk`: they bloat the image and date it.",
          "Clean in the same RUN: `apt-get install ... && rm -rf /var/lib/apt/lists/*`, or `apk add --no-cache`.")
            .param("dirs", text_list(&["/var/lib/apt/lists", "/var/cache/apt", "/var/cache/apk"]), "Cache directories that must be empty."),
        r(CA_CERTS, "CA certificates when the binary does TLS", Severity::High, Enforcement::Enforce,
          "A Go binary that links `crypto/tls` or `net/http` needs a CA bundle in the image (or `SSL_CERT_FILE` pointing at one), or every HTTPS call fails.",
          "COPY /etc/ssl/certs/ca-certificates.crt from the build stage, or use a base that ships it.")
            .param("bundles", text_list(&["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem", "/etc/ssl/certs/ca-bundle.crt"]), "Where Go looks for CA bundles."),
        r(TZDATA, "Time-zone data when needed", Severity::Info, Enforcement::Audit,
          "If a Go binary calls `time.LoadLocation`, time-zone data is available: `/usr/share/zoneinfo`, or `time/tzdata` embedded (`-tags timetzdata`).",
          "Build with `-tags timetzdata` or import `time/tzdata`, or copy /usr/share/zoneinfo."),
        r(SECRETS, "No secrets or VCS metadata in any layer", Severity::Critical, Enforcement::Enforce,
          "No `.git/`, `.env`, private keys, `.npmrc` tokens, docker `config.json` auths or cloud credentials in any layer — including files a later layer deleted, which still ship in the image.",
          "Use `.dockerignore`, BuildKit secret mounts (`RUN --mount=type=secret`), and never COPY credentials; rotate any secret that was shipped."),
        r(MODES, "No setuid/setgid or world-writable files", Severity::High, Enforcement::Enforce,
          "No setuid/setgid files, and no world-writable files or directories outside the allowed paths. A world-writable directory with the sticky bit (mode 1777, like /tmp: only a file's owner may remove it) is as safe as /tmp and allowed unless `sticky_directories = false`; world-writable files and non-sticky directories always fail.",
          "`RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +` in the final stage, `chmod o-w` on world-writable paths (or `chmod +t` on a shared directory), or use a minimal base.")
            .param("writable_allowed", text_list(&["/tmp"]), "Paths that may be world-writable.")
            .param("sticky_directories", ParamValue::Boolean(true), "Allow world-writable directories that have the sticky bit (Debian's /var/tmp and /run/lock)."),
        r(SIZE, "Image size within budget", Severity::Low, Enforcement::Enforce,
          "The compressed size of the image's layers is within the budget (MB = 10^6 bytes).",
          "Use a minimal base, multi-stage builds and a stripped static binary.")
            .param("max_compressed_mb", ParamValue::Float(20.0), "Budget for the sum of compressed layer sizes, in MB."),
        r(EFFICIENCY, "Layer efficiency", Severity::Low, Enforcement::Enforce,
          "Bytes added by one layer and overwritten or deleted by a later one stay under budget, and dive's efficiency score stays above the minimum.",
          "Combine steps that create and delete files into one RUN; clean up in the layer that made the mess.")
            .param("min_efficiency", ParamValue::Float(0.95), "Minimum efficiency score (as dive computes it).")
            .param("max_wasted_mb", ParamValue::Float(5.0), "Maximum bytes superseded by later layers, in MB."),
    ]
}

/// Every `name` found in the usual bin directories (symlinks count: they run).
fn find_programs(names: &[String]) -> Result<Vec<FileEntry>, String> {
    find_programs_in(names, &BIN_DIRS.iter().map(|d| d.to_string()).collect::<Vec<_>>())
}

/// The usual bin directories and those of the image's `PATH`.
fn search_dirs(image: &Image) -> Vec<String> {
    let mut dirs: Vec<String> = BIN_DIRS.iter().map(|d| d.to_string()).collect();
    let path = image.config.env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or("");
    for d in path.split(':').filter(|d| d.starts_with('/')) {
        let d = d.trim_end_matches('/');
        if !d.is_empty() && !dirs.iter().any(|x| x == d) {
            dirs.push(d.to_string());
        }
    }
    dirs
}

fn find_programs_in(names: &[String], dirs: &[String]) -> Result<Vec<FileEntry>, String> {
    let mut out = Vec::new();
    for dir in dirs {
        for name in names {
            if let Some(e) = filesystem::stat(&format!("{dir}/{name}"))?
                && e.kind != FileKind::Directory
            {
                out.push(e);
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

fn one(e: &FileEntry) -> String {
    match (&e.kind, &e.link_target) {
        (FileKind::Symlink, Some(t)) => format!("{} -> {t}", e.path),
        _ => e.path.clone(),
    }
}

/// The first eight items, and how many more there are.
fn list(items: &[String]) -> String {
    let more = if items.len() > 8 { format!(" (+{} more)", items.len() - 8) } else { String::new() };
    format!("{}{more}", items[..items.len().min(8)].join(", "))
}

fn describe(entries: &[FileEntry]) -> String {
    list(&entries.iter().map(one).collect::<Vec<_>>())
}

fn fail_at(rule: &str, msg: String, first: Option<&FileEntry>) -> Finding {
    let f = Finding::fail(rule, msg);
    match first {
        Some(e) => f.at_path(e.path.clone(), Some(e.layer)),
        None => f,
    }
}

fn judge(rule: &RuleConfig, image: &Image) -> Result<Finding, QueryError> {
    let p = Params::of(rule);
    let id = rule.id.as_str();
    Ok(match id {
        SHELL => {
            let mut found = find_programs_in(&p.text_list("shells"), &search_dirs(image))?;
            let mut shown: Vec<String> = found.iter().map(one).collect();
            for shell in image_scan::shells()? {
                if !found.iter().any(|e| e.path == shell.path)
                    && let Some(e) = filesystem::stat(&shell.path)?
                {
                    let what = if shell.program == "sh" { "a POSIX shell" } else { shell.program.as_str() };
                    shown.push(format!("{} ({what}, recognised by its content)", e.path));
                    found.push(e);
                }
            }
            if found.is_empty() {
                Finding::pass(id, "no shell")
            } else {
                fail_at(id, format!("shell: {}", list(&shown)), found.first())
            }
        }
        PKG_MANAGER => {
            let found = find_programs(&p.text_list("programs"))?;
            if found.is_empty() {
                Finding::pass(id, "no package manager")
            } else {
                fail_at(id, format!("package manager: {}", describe(&found)), found.first())
            }
        }
        TOOLCHAIN => {
            let mut found = find_programs(&p.text_list("programs"))?;
            for dir in p.text_list("paths") {
                if let Some(e) = filesystem::stat(&dir)? {
                    found.push(e);
                }
            }
            found.extend(filesystem::glob("**/node_modules/.bin", 5)?);
            let goroots = ["/usr/local/go/", "/usr/lib/go", "/usr/share/go"];
            let sources: Vec<FileEntry> = glob_all("**/*.go", 50_000)?
                .into_iter()
                .filter(|e| {
                    e.kind == FileKind::Regular
                        && !goroots.iter().any(|g| e.path.starts_with(g))
                        && !e.path.contains("/go/pkg/mod/")
                })
                .take(5)
                .collect();
            found.extend(sources);
            if found.is_empty() {
                Finding::pass(id, "no toolchain, no source files")
            } else {
                fail_at(id, format!("left over: {}", describe(&found)), found.first())
            }
        }
        CACHES => {
            let mut found = Vec::new();
            for dir in p.text_list("dirs") {
                found.extend(
                    glob_all(&format!("{}/**", dir.trim_end_matches('/')), 50_000)?
                        .into_iter()
                        .filter(|e| e.kind == FileKind::Regular && !e.path.ends_with("/lock")),
                );
            }
            if found.is_empty() {
                Finding::pass(id, "no package-manager cache files")
            } else {
                fail_at(
                    id,
                    format!("{} cache files, e.g. {}", found.len(), describe(&found[..found.len().min(2)])),
                    found.first(),
                )
            }
        }
        CA_CERTS => {
            let bins = image_scan::go_binaries()?;
            let tls: Vec<&str> = bins
                .iter()
                .filter(|b| b.links.iter().any(|l| l == "crypto/tls" || l == "net/http"))
                .map(|b| b.path.as_str())
                .collect();
            if tls.is_empty() {
                return Ok(Finding::skip(id, "no Go binary links crypto/tls or net/http"));
            }
            let mut candidates = p.text_list("bundles");
            if let Some(v) = image.config.env.iter().find_map(|e| e.strip_prefix("SSL_CERT_FILE=")) {
                candidates.retain(|c| c != v);
                candidates.insert(0, v.to_string());
            }
            // A bundle is a non-empty regular file at the end of its
            // symlinks; say why each present candidate is not one.
            let mut bundle = None;
            let mut rejected = Vec::new();
            for c in &candidates {
                match resolve(c)? {
                    Resolved::Entry(e) if matches!(e.kind, FileKind::Regular | FileKind::Hardlink) && e.size > 0 => {
                        bundle = Some(if e.path == *c { c.clone() } else { format!("{c} -> {}", e.path) });
                        break;
                    }
                    Resolved::Entry(e) => rejected.push(format!(
                        "{c}{} is {}",
                        if e.path == *c { String::new() } else { format!(" -> {}", e.path) },
                        if matches!(e.kind, FileKind::Regular | FileKind::Hardlink) {
                            "empty".to_string()
                        } else {
                            format!("a {:?}", e.kind).to_lowercase()
                        }
                    )),
                    Resolved::Missing { via: None, .. } => {}
                    Resolved::Missing { path, via: Some(_) } => {
                        rejected.push(format!("{c} is a symlink to {path}, which does not exist"))
                    }
                    Resolved::TooManyLinks => rejected.push(format!("{c} is a symlink loop")),
                }
            }
            match bundle {
                Some(b) => Finding::pass(id, format!("{} links net/http/crypto/tls; CA bundle {b}", tls.join(", "))),
                None => {
                    let why = if rejected.is_empty() { String::new() } else { format!(" ({})", rejected.join("; ")) };
                    Finding::fail(id, format!("{} links net/http/crypto/tls; no CA bundle{why}", tls.join(", ")))
                        .at_path(tls[0], None)
                }
            }
        }
        TZDATA => {
            let zoneinfo = filesystem::glob("/usr/share/zoneinfo/**", 2000)?
                .into_iter()
                .filter(|e| e.kind == FileKind::Regular)
                .count();
            if zoneinfo > 0 {
                return Ok(Finding::pass(id, format!("/usr/share/zoneinfo ({zoneinfo} files)")));
            }
            let bins = image_scan::go_binaries()?;
            if let Some(b) = bins.iter().find(|b| b.links.iter().any(|l| l == "time/tzdata")) {
                return Ok(Finding::pass(id, format!("time/tzdata embedded in {}", b.path)));
            }
            match bins.iter().find(|b| b.links.iter().any(|l| l == "time.LoadLocation")) {
                Some(b) => Finding::fail(
                    id,
                    format!("{} calls time.LoadLocation, but there is no zoneinfo and no embedded tzdata", b.path),
                )
                .at_path(b.path.clone(), Some(b.layer)),
                None => Finding::skip(id, "no zoneinfo, no embedded tzdata, and no Go binary calls time.LoadLocation"),
            }
        }
        SECRETS => {
            let secrets = image_scan::secrets()?;
            match secrets.first() {
                None => Finding::pass(id, "no .git/.env/keys/credentials by path or content in any layer"),
                Some(first) => {
                    let list: Vec<String> = secrets
                        .iter()
                        .take(8)
                        .map(|s| {
                            format!(
                                "{} ({}, layer {}{})",
                                s.path,
                                s.detail,
                                s.layer,
                                if s.deleted { ", deleted later but still shipped" } else { "" }
                            )
                        })
                        .collect();
                    Finding::fail(id, format!("{} secret(s): {}", secrets.len(), list.join("; ")))
                        .at_path(first.path.clone(), Some(first.layer))
                }
            }
        }
        MODES => {
            let allowed = p.text_list("writable_allowed");
            let special: Vec<_> = image_scan::special_modes()?.into_iter().filter(|m| m.effective).collect();
            let sticky_ok = p.boolean("sticky_directories", true);
            let (sticky, writable): (Vec<_>, Vec<_>) = image_scan::world_writable()?
                .into_iter()
                .filter(|w| !allowed.iter().any(|a| w.path == *a || w.path.starts_with(&format!("{a}/"))))
                .partition(|w| sticky_ok && w.directory && w.mode & 0o1000 != 0);
            if special.is_empty() && writable.is_empty() {
                let also = match sticky.len() {
                    0 => String::new(),
                    n => {
                        let names: Vec<&str> = sticky.iter().take(4).map(|w| w.path.as_str()).collect();
                        let more = if n > 4 { format!(" (+{})", n - 4) } else { String::new() };
                        format!(" and sticky directories ({}{more})", names.join(", "))
                    }
                };
                Finding::pass(id, format!("no setuid/setgid; only {}{also} world-writable", allowed.join(", ")))
            } else {
                let mut parts = Vec::new();
                if !special.is_empty() {
                    let s: Vec<String> = special.iter().take(4).map(|m| format!("{} ({:o})", m.path, m.mode)).collect();
                    parts.push(format!(
                        "setuid/setgid: {}{}",
                        s.join(", "),
                        if special.len() > 4 { format!(" (+{})", special.len() - 4) } else { String::new() }
                    ));
                }
                if !writable.is_empty() {
                    let w: Vec<String> =
                        writable.iter().take(4).map(|m| format!("{} ({:o})", m.path, m.mode)).collect();
                    parts.push(format!("world-writable: {}", w.join(", ")));
                }
                let (path, layer) = special
                    .first()
                    .map(|m| (m.path.clone(), m.layer))
                    .or_else(|| writable.first().map(|m| (m.path.clone(), m.layer)))
                    .unwrap_or_default();
                Finding::fail(id, parts.join("; ")).at_path(path, Some(layer))
            }
        }
        SIZE => {
            let budget = p.float("max_compressed_mb", 20.0);
            let bytes: u64 = image.layers.iter().map(|l| l.size).sum();
            let mb = bytes as f64 / 1e6;
            let msg = format!("{bytes} B compressed ({mb:.2} MB) vs {budget} MB");
            if mb <= budget { Finding::pass(id, msg) } else { Finding::fail(id, msg) }
        }
        EFFICIENCY => {
            let s = image_scan::summary()?;
            let e = s.efficiency;
            let (min_eff, max_mb) = (p.float("min_efficiency", 0.95), p.float("max_wasted_mb", 5.0));
            let added: u64 = s.layers.iter().map(|l| l.file_bytes).sum();
            let msg = format!(
                "wasted {} B of {added} B added, efficiency {:.4} (dive: {} B in paths seen in several layers)",
                e.superseded_bytes, e.score, e.dive_wasted_bytes
            );
            if e.score >= min_eff && (e.superseded_bytes as f64) / 1e6 <= max_mb {
                Finding::pass(id, msg)
            } else {
                let worst = e
                    .top
                    .first()
                    .map(|t| format!("; largest: {} ×{} ({} B)", t.path, t.count, t.bytes))
                    .unwrap_or_default();
                Finding::fail(id, format!("{msg}{worst}"))
            }
        }
        other => Finding::error(other, format!("go-filesystem does not implement rule {other}")),
    })
}
