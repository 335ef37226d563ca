//! Builtin plugin `image-config`: the image-configuration rules GO-CFG-001..007
//! of the Go container baseline (see `policies/go-container-baseline.toml`).
//!
//! It judges what an image will do when it starts — user, entrypoint, health
//! check, environment, provenance labels — from the image config alone, plus a
//! filesystem query to check that the entrypoint exists.
//!
//! Rules that name things recognise the thing, so that renaming it is no
//! bypass: a shell is a shell by its name, by the name a symlink resolves
//! to, or by its content (the scanner's `shells`), and a `#!` script is
//! judged by its interpreter; Go settings are read as Go reads them (URL
//! schemes in any case, module patterns with Go's matching, `--flag`
//! spellings); secrets in `Env` are recognised by name and by the shape of
//! well-known tokens.

use portcullis_sdk::{
    Checker, Enforcement, Finding, Image, ImageConfig, KeyValue, ParamProblem, ParamValue, Params, Plugin, PluginMeta,
    RuleConfig, RuleMeta, Severity, Target, command_line, filesystem, image_scan, locate_program, lookup, text_list,
    wildcard_match,
};

pub struct ImageConfigPlugin;

const USER: &str = "GO-CFG-001";
const HEALTH: &str = "GO-CFG-002";
const EXEC: &str = "GO-CFG-003";
const ENV_SECRETS: &str = "GO-CFG-004";
const GO_ENV: &str = "GO-CFG-005";
const BASE_PIN: &str = "GO-CFG-006";
const SOURCE_LABELS: &str = "GO-CFG-007";

impl Plugin for ImageConfigPlugin {
    fn metadata() -> PluginMeta {
        PluginMeta { name: "image-config".into(), version: env!("CARGO_PKG_VERSION").into(), rules: rules() }
    }

    fn check(rules: Vec<RuleConfig>) -> Vec<ParamProblem> {
        let mut c = Checker::default();
        for r in &rules {
            c.non_empty_entries(r);
        }
        c.problems
    }

    fn evaluate(target: Target, rules: Vec<RuleConfig>) -> Vec<Finding> {
        let image = match target {
            Target::Image(image) => image,
            Target::Artifact(_) => return portcullis_sdk::skip_all(&rules, portcullis_sdk::NOT_AN_IMAGE),
            Target::Workload(_) => return portcullis_sdk::skip_all(&rules, portcullis_sdk::NOT_JUDGED),
            Target::Index(_) => {
                return rules
                    .iter()
                    .map(|r| Finding::skip(&r.id, "applies to platform images; each platform is evaluated on its own"))
                    .collect();
            }
        };
        let mut out = Vec::new();
        for rule in &rules {
            let p = Params::of(rule);
            let findings = match rule.id.as_str() {
                USER => vec![check_user(&image.config, &p)],
                HEALTH => vec![check_health(&image, &p)],
                EXEC => vec![check_exec(&image.config, &p)],
                ENV_SECRETS => check_env_secrets(&image.config, &p),
                GO_ENV => check_go_env(&image.config),
                BASE_PIN => vec![check_base_pin(&image, &p)],
                SOURCE_LABELS => vec![check_source_labels(&image, &p)],
                other => vec![Finding::error(other, format!("image-config does not implement rule {other}"))],
            };
            out.extend(findings);
        }
        out
    }
}

// Exported only when built as a component; natively the crate is a plain
// library, so its rules can be unit-tested with `cargo test`.
#[cfg(target_arch = "wasm32")]
portcullis_sdk::export_plugin!(ImageConfigPlugin);

fn rules() -> Vec<RuleMeta> {
    vec![
        RuleMeta::new(
            USER,
            "Runs as a non-root user",
            Severity::High,
            Enforcement::Enforce,
            "The image config sets `User` to a user other than root (`0`, `root`). A numeric UID is \
             recommended: Kubernetes can only prove `runAsNonRoot` for numeric users.",
            "Add `USER 65532:65532` (or another non-zero numeric UID) to the final stage of the Dockerfile.",
        )
        .param("allow_named_user", ParamValue::Boolean(true), "Accept a user name (e.g. `nonroot`) instead of a numeric UID.")
        .param("forbidden_users", text_list(&["0", "root"]), "User names or UIDs that count as root."),
        RuleMeta::new(
            HEALTH,
            "Declares a health check",
            Severity::Low,
            Enforcement::Warn,
            "The image declares a Docker `HEALTHCHECK` (not `NONE`), or a label naming its health endpoint, \
             so that orchestrators can tell a live process from a working one.",
            "Add `HEALTHCHECK CMD [\"/app\", \"-healthcheck\"]`, or label the image with its health endpoint.",
        )
        .param(
            "health_labels",
            text_list(&["io.portcullis.health-endpoint"]),
            "Labels whose presence declares a health endpoint instead of a Docker HEALTHCHECK.",
        ),
        RuleMeta::new(
            EXEC,
            "Entrypoint in exec form, pointing at an executable",
            Severity::Medium,
            Enforcement::Enforce,
            "The process is started in exec form (JSON array), not through a shell: with `/bin/sh -c`, the shell \
             is PID 1 and SIGTERM never reaches the service. The program it names must exist in the image and be executable.",
            "Write `ENTRYPOINT [\"/app\"]` (JSON array) instead of `ENTRYPOINT /app`, and make sure the file is copied into the final stage with mode 0755.",
        )
        .param(
            "shells",
            text_list(&["sh", "bash", "ash", "dash", "zsh", "busybox"]),
            "Program names (basename) that are shells: an entrypoint naming one, or resolving to one through symlinks, \
             runs a shell as PID 1 (`sh -c`, `sh -ec`, `sh script`). Shells under other names are recognised by content.",
        ),
        RuleMeta::new(
            ENV_SECRETS,
            "No secrets in the environment",
            Severity::Critical,
            Enforcement::Enforce,
            "No `Env` entry of the image config looks like a credential: every `docker inspect` and every layer \
             pull discloses it. Names are matched against patterns; values against known key formats.",
            "Remove the variable from the image and inject it at run time (Kubernetes Secret, mounted file).",
        )
        .param(
            "secret_name_patterns",
            text_list(&[
                "*TOKEN", "*_TOKEN_*", "*SECRET*", "*PASSWORD*", "*PASSWD*", "*PASSPHRASE*", "*_KEY", "*APIKEY*",
                "*API_KEY*", "*PRIVATE_KEY*", "AWS_ACCESS_KEY_ID", "*_CREDENTIALS", "*_AUTH",
            ]),
            "Variable-name patterns (`*` and `?` wildcards, case-insensitive) that indicate a secret.",
        )
        .param(
            "allowed_names",
            text_list(&["*_FILE", "*_PATH", "*_DIR", "*PUBLIC_KEY*", "GPG_KEY"]),
            "Variable-name patterns that never count as secrets by name (they point at secrets, e.g. `DB_PASSWORD_FILE`, \
             or hold public keys); their values are still checked for token shapes.",
        ),
        RuleMeta::new(
            GO_ENV,
            "No insecure Go module settings",
            Severity::High,
            Enforcement::Enforce,
            "The image does not bake in Go settings that disable module checksum verification or allow \
             plaintext module fetches: `GOSUMDB=off`, `GONOSUMDB`/`GONOSUMCHECK`, `GOINSECURE`, \
             `GOFLAGS=-insecure` (any spelling Go's flag parser accepts), an `http://` `GOPROXY` entry (scheme in any case), \
             a `GOPRIVATE` pattern that covers public modules (it implies `GONOSUMDB`).",
            "Remove these variables from the image; configure private modules with `GOPRIVATE` at build time only.",
        ),
        RuleMeta::new(
            BASE_PIN,
            "Base image pinned by digest",
            Severity::Low,
            Enforcement::Warn,
            "The manifest annotations or config labels record the base image by digest \
             (`org.opencontainers.image.base.digest`) and name (`org.opencontainers.image.base.name`), so the \
             image can be rebuilt and scanned against the exact base it was built on.",
            "Build `FROM base@sha256:...` and set the `org.opencontainers.image.base.name`/`.base.digest` labels \
             (buildah and BuildKit can add them for you).",
        )
        .param("require_name", ParamValue::Boolean(true), "Also require `org.opencontainers.image.base.name`."),
        RuleMeta::new(
            SOURCE_LABELS,
            "Source traceability labels",
            Severity::Low,
            Enforcement::Warn,
            "The image says where its source lives and which revision it was built from, as manifest annotations \
             or config labels.",
            "Add `LABEL org.opencontainers.image.source=<repo URL> org.opencontainers.image.revision=<commit>` at build time.",
        )
        .param(
            "required",
            text_list(&["org.opencontainers.image.source", "org.opencontainers.image.revision"]),
            "Keys that must be present and non-empty.",
        ),
    ]
}

/// A label or manifest annotation (annotations win: they are what registries index).
fn label<'a>(image: &'a Image, key: &str) -> Option<(&'a str, &'static str)> {
    let found = |pairs: &'a [KeyValue], ptr: &'static str| {
        lookup(pairs, key).filter(|v| !v.trim().is_empty()).map(|v| (v, ptr))
    };
    found(&image.manifest_annotations, "/annotations").or_else(|| found(&image.config.labels, "/config/Labels"))
}

fn check_user(config: &ImageConfig, p: &Params) -> Finding {
    let forbidden = p.text_list("forbidden_users");
    let user = config.user.as_deref().unwrap_or("").trim();
    if user.is_empty() {
        return Finding::fail(USER, "User unset: the container runs as root").at_pointer("/config/User");
    }
    let name = user.split(':').next().unwrap_or("");
    if name.is_empty() || forbidden.iter().any(|f| f == name) {
        return Finding::fail(USER, format!("User '{user}' is root")).at_pointer("/config/User");
    }
    if let Some(problem) = &config.run_as.problem {
        return Finding::fail(USER, format!("User '{user}': {problem}")).at_pointer("/config/User");
    }
    if config.run_as.uid == Some(0) {
        let how = if name.bytes().all(|b| b.is_ascii_digit() || b == b'+' || b == b'-') {
            "the runtime reads the number as 0"
        } else {
            "the image's own /etc/passwd gives that name UID 0"
        };
        return Finding::fail(USER, format!("User '{user}' runs as UID 0, root: {how}")).at_pointer("/config/User");
    }
    let numeric = name.bytes().all(|b| b.is_ascii_digit());
    if numeric {
        Finding::pass(USER, format!("User '{user}' (numeric)"))
    } else if p.boolean("allow_named_user", true) {
        Finding::pass(
            USER,
            format!("User '{user}' (named; a numeric UID is recommended so runAsNonRoot can be verified)"),
        )
    } else {
        Finding::fail(USER, format!("User '{user}' is a name; a numeric UID is required")).at_pointer("/config/User")
    }
}

fn check_health(image: &Image, p: &Params) -> Finding {
    if let Some(hc) = &image.config.healthcheck {
        let kind = hc.test.first().map(String::as_str).unwrap_or("");
        if kind.eq_ignore_ascii_case("NONE") {
            return Finding::fail(HEALTH, "Healthcheck is disabled (NONE)").at_pointer("/config/Healthcheck");
        }
        if !hc.test.is_empty() {
            return Finding::pass(HEALTH, format!("Healthcheck {:?}", hc.test));
        }
    }
    for key in p.text_list("health_labels") {
        if let Some((value, _)) = label(image, &key) {
            return Finding::pass(HEALTH, format!("health endpoint label {key}={value}"));
        }
    }
    Finding::fail(HEALTH, "no Healthcheck, no health label").at_pointer("/config/Healthcheck")
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Multi-call binaries: which applet runs is told by the name they are
/// called by, or by their first argument when called by their own name.
const MULTI_CALL: &[&str] = &["busybox", "toybox"];

/// Whether a shell's arguments make it run a command string: any option
/// cluster holding `c` (`-c`, `-ec`, `-xc`, `-euc`) before the operands;
/// `--` ends the options, `-o`/`-O`/`+o`/`+O` take an argument.
fn runs_command_string(args: &[String]) -> bool {
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == "--" || a == "-" || !(a.starts_with('-') || a.starts_with('+')) {
            return false;
        }
        if !a.starts_with("--") {
            let flags = &a[1..];
            if a.starts_with('-') && flags.contains('c') {
                return true;
            }
            if flags.ends_with(['o', 'O']) {
                i += 1;
            }
        }
        i += 1;
    }
    false
}

/// The shell a command line starts by the program's name, if it names one
/// (for a multi-call binary, the applet it runs). Needs no file index.
fn shell_by_name(argv: &[String], shells: &[String]) -> Option<String> {
    let program = argv.first()?;
    let called = base_name(program);
    if MULTI_CALL.contains(&called) {
        let run = argv.get(1).map(|a| base_name(a))?;
        return shells.iter().any(|s| s == run).then(|| format!("{program} running `{run}`"));
    }
    shells.iter().any(|s| s == called).then(|| program.clone())
}

/// The shell a command line starts, if it starts one: by the program's
/// name, the name its symlinks resolve to (`entry`), or the scanner's
/// recognition of the file's content; for a multi-call binary, by the
/// applet it runs.
fn shell_of(argv: &[String], resolved: Option<&filesystem::FileEntry>, shells: &[String]) -> Option<String> {
    if let Some(what) = shell_by_name(argv, shells) {
        return Some(what);
    }
    let program = argv.first()?;
    let named = |n: &str| shells.iter().any(|s| s == n);
    let called = base_name(program);
    let entry = resolved?;
    if named(base_name(&entry.path)) && !MULTI_CALL.contains(&base_name(&entry.path)) {
        return Some(format!("{program} -> {}", entry.path));
    }
    let found = image_scan::shells().ok()?.into_iter().find(|s| s.path == entry.path)?;
    let what = if found.program == "sh" { "a POSIX shell" } else { found.program.as_str() };
    if MULTI_CALL.contains(&found.program.as_str()) {
        // Called by another name, a multi-call binary runs the applet of
        // that name.
        let run = if called.starts_with(found.program.as_str()) { argv.get(1).map(|a| base_name(a))? } else { called };
        return named(run).then(|| format!("{} ({what}, by its content) running `{run}`", entry.path));
    }
    Some(format!("{} ({what}, by its content)", entry.path))
}

fn check_exec(config: &ImageConfig, p: &Params) -> Finding {
    let (argv, pointer) = command_line(config);
    let Some(program) = argv.first() else {
        return Finding::fail(EXEC, "neither Entrypoint nor Cmd is set: nothing to run").at_pointer(pointer);
    };
    let shells = p.text_list("shells");
    let shell_fail = |what: String| {
        let form = if runs_command_string(&argv[1..]) { "shell form" } else { "a shell as entrypoint" };
        // The program named as it is needs no repeating.
        let what = if what == *program { String::new() } else { format!(" {what}") };
        Finding::fail(EXEC, format!("{form} {argv:?}: the shell{what} is PID 1 and signals do not reach the service"))
            .at_pointer(pointer)
    };
    // By name first: that needs no file index.
    if let Some(what) = shell_by_name(&argv, &shells) {
        return shell_fail(what);
    }
    let located = locate_program(program, &config.env);
    if let Ok(Some(entry)) = &located
        && let Some(what) = shell_of(&argv, Some(entry), &shells)
    {
        return shell_fail(what);
    }
    match located {
        Err(why) => Finding::pass(EXEC, format!("exec form {argv:?}; existence of {program} not checked: {why}")),
        Ok(None) => Finding::fail(EXEC, format!("exec form {argv:?}, but {program} does not exist in the image"))
            .at_pointer(pointer),
        Ok(Some(entry)) => {
            if !matches!(entry.kind, filesystem::FileKind::Regular | filesystem::FileKind::Hardlink) {
                Finding::fail(EXEC, format!("{} is not a regular file", entry.path))
                    .at_path(entry.path, Some(entry.layer))
            } else if entry.mode & 0o111 == 0 {
                Finding::fail(EXEC, format!("{} is not executable (mode {:o})", entry.path, entry.mode & 0o7777))
                    .at_path(entry.path, Some(entry.layer))
            } else if let Ok(Some(script)) = image_scan::script_at(&entry.path) {
                check_script(config, &argv, &entry, &script, &shells)
            } else {
                Finding::pass(EXEC, format!("exec form {argv:?}; {} exists, executable", entry.path))
            }
        }
    }
}

/// An entrypoint that is a `#!` script runs its interpreter: that must
/// exist, and must not be a shell (`#!/usr/bin/env sh` included).
fn check_script(
    config: &ImageConfig,
    argv: &[String],
    entry: &filesystem::FileEntry,
    script: &image_scan::Script,
    shells: &[String],
) -> Finding {
    let line = match &script.argument {
        Some(a) => format!("#!{} {a}", script.interpreter),
        None => format!("#!{}", script.interpreter),
    };
    let here = |f: Finding| f.at_path(entry.path.clone(), Some(entry.layer));
    // The kernel does not search PATH for an interpreter; a relative one is
    // taken from the working directory.
    let interpreter = if script.interpreter.starts_with('/') {
        script.interpreter.clone()
    } else {
        format!("{}/{}", config.working_dir.as_deref().unwrap_or("").trim_end_matches('/'), script.interpreter)
    };
    let Ok(Some(found)) = locate_program(&interpreter, &[]) else {
        return here(Finding::fail(
            EXEC,
            format!("{} is a `{line}` script, but {interpreter} does not exist in the image", entry.path),
        ));
    };
    // `#!/usr/bin/env prog`: env runs the first operand of the argument.
    let mut run: Vec<String> = vec![interpreter.clone()];
    run.extend(script.argument.iter().flat_map(|a| a.split_whitespace().map(str::to_string)));
    let (run, resolved) = if base_name(&found.path) == "env" || base_name(&interpreter) == "env" {
        let operand: Vec<String> = run[1..].iter().skip_while(|a| a.starts_with('-')).cloned().collect();
        let Some(prog) = operand.first() else {
            return Finding::pass(EXEC, format!("{} is a `{line}` script", entry.path));
        };
        match locate_program(prog, &config.env) {
            Ok(Some(e)) => (operand.clone(), Some(e)),
            _ => {
                return here(Finding::fail(
                    EXEC,
                    format!("{} is a `{line}` script, but {prog} is not on the image's PATH", entry.path),
                ));
            }
        }
    } else {
        (run, Some(found))
    };
    match shell_of(&run, resolved.as_ref(), shells) {
        Some(what) => here(Finding::fail(
            EXEC,
            format!(
                "{argv:?}: {} is a `{line}` script, so the shell {what} is PID 1 and signals do not reach the service",
                entry.path
            ),
        )),
        None => Finding::pass(EXEC, format!("exec form {argv:?}; {} is a `{line}` script", entry.path)),
    }
}

fn env_pairs(config: &ImageConfig) -> impl Iterator<Item = (usize, &str, &str)> {
    config.env.iter().enumerate().map(|(i, e)| {
        let (k, v) = e.split_once('=').unwrap_or((e.as_str(), ""));
        (i, k, v)
    })
}

/// Where a well-known credential format occurs in `value`, by name: AWS
/// access key IDs, GitHub, GitLab, Slack and npm tokens, JWTs, PEM private
/// keys. Each needs its prefix at a word start and enough token characters
/// after it, so ordinary text does not match.
fn token_shape(value: &str) -> Option<&'static str> {
    let b = value.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
    // The token characters following `prefix` at each word start.
    let runs = |prefix: &str, allowed: fn(u8) -> bool| -> Vec<usize> {
        value
            .match_indices(prefix)
            .filter(|(i, _)| *i == 0 || !word(b[*i - 1]))
            .map(|(i, _)| b[i + prefix.len()..].iter().take_while(|c| allowed(**c)).count())
            .collect()
    };
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    let alnum_ = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b64url = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
    let upper = |c: u8| c.is_ascii_uppercase() || c.is_ascii_digit();
    // (what, prefixes, token characters after the prefix, how many at least)
    type Shape = (&'static str, &'static [&'static str], fn(u8) -> bool, usize);
    let shapes: [Shape; 7] = [
        ("an AWS access key ID", &["AKIA", "ASIA"], upper, 16),
        ("a GitHub token", &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], alnum, 36),
        ("a GitHub token", &["github_pat_"], alnum_, 22),
        ("a GitLab token", &["glpat-", "gldt-", "glrt-"], b64url, 20),
        ("a Slack token", &["xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-"], b64url, 10),
        ("an npm token", &["npm_"], alnum, 36),
        ("a JSON web token", &["eyJ"], b64url, 10),
    ];
    for (what, prefixes, allowed, min) in shapes {
        for prefix in prefixes {
            let hit = if what == "a JSON web token" {
                // header.payload[.signature], both JSON objects (`eyJ` = `{"`).
                value.match_indices("eyJ").filter(|(i, _)| *i == 0 || !word(b[*i - 1])).any(|(i, _)| {
                    let mut parts = value[i..].split('.');
                    let (h, p) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    h.len() >= 10 && p.starts_with("eyJ") && p.len() >= 10 && h.bytes().chain(p.bytes()).all(b64url)
                })
            } else {
                runs(prefix, allowed).into_iter().any(|n| n >= min)
            };
            if hit {
                return Some(what);
            }
        }
    }
    if value.contains("-----BEGIN") && value.contains("PRIVATE KEY") && !value.contains("ENCRYPTED PRIVATE KEY") {
        return Some("a PEM private key");
    }
    None
}

fn check_env_secrets(config: &ImageConfig, p: &Params) -> Vec<Finding> {
    let patterns = p.text_list("secret_name_patterns");
    let allowed = p.text_list("allowed_names");
    let mut out = Vec::new();
    for (i, name, value) in env_pairs(config) {
        if value.is_empty() {
            continue;
        }
        // Never echo the value: the report may be public.
        let by_name = if allowed.iter().any(|a| wildcard_match(a, name)) {
            None
        } else {
            patterns.iter().find(|pat| wildcard_match(pat, name))
        };
        let message = match (by_name, token_shape(value)) {
            (Some(pat), _) => format!("Env {name} looks like a secret (matches {pat})"),
            (None, Some(what)) => format!("Env {name} holds what looks like {what}"),
            (None, None) => continue,
        };
        out.push(Finding::fail(ENV_SECRETS, message).at_pointer(format!("/config/Env/{i}")));
    }
    if out.is_empty() {
        let names: Vec<&str> = env_pairs(config).map(|(_, k, _)| k).collect();
        out.push(Finding::pass(
            ENV_SECRETS,
            format!("Env names: {}", if names.is_empty() { "(none)".into() } else { names.join(", ") }),
        ));
    }
    out
}

/// Go's `path.Match` on one prefix of a module path: `*` and `?` within an
/// element, `[...]` classes (ranges, `^` negation), `\` escapes. A malformed
/// pattern matches nothing, as in Go.
fn go_path_match(pattern: &[u8], name: &[u8]) -> bool {
    fn class(p: &[u8], c: u8) -> Option<(bool, usize)> {
        // p starts after '['; returns (matched, bytes of the class incl. ']').
        let mut i = 0;
        let negate = p.first() == Some(&b'^');
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        loop {
            let lo = match p.get(i)? {
                b']' if !first => return Some((matched != negate, i + 1)),
                b'\\' => {
                    i += 1;
                    *p.get(i)?
                }
                &x => x,
            };
            i += 1;
            first = false;
            let hi = if p.get(i) == Some(&b'-') && p.get(i + 1).is_some_and(|&x| x != b']') {
                i += 1;
                let h = if p[i] == b'\\' {
                    i += 1;
                    *p.get(i)?
                } else {
                    p[i]
                };
                i += 1;
                h
            } else {
                lo
            };
            if lo <= c && c <= hi {
                matched = true;
            }
        }
    }
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => {
            (0..=name.len()).take_while(|&k| k == 0 || name[k - 1] != b'/').any(|k| go_path_match(rest, &name[k..]))
        }
        Some((b'?', rest)) => name.first().is_some_and(|&c| c != b'/') && go_path_match(rest, &name[1..]),
        Some((b'[', rest)) => match (name.first(), class(rest, name.first().copied().unwrap_or(0))) {
            (Some(&c), Some((true, n))) if c != b'/' => go_path_match(&rest[n..], &name[1..]),
            _ => false,
        },
        Some((b'\\', rest)) => match rest.split_first() {
            Some((&c, rest)) => name.first() == Some(&c) && go_path_match(rest, &name[1..]),
            None => false,
        },
        Some((&c, rest)) => name.first() == Some(&c) && go_path_match(rest, &name[1..]),
    }
}

/// Go's `module.MatchPrefixPatterns` for one pattern: a pattern of N
/// elements matches the first N elements of a module path.
fn go_prefix_match(glob: &str, module: &str) -> bool {
    let glob = glob.strip_suffix('/').unwrap_or(glob);
    if glob.is_empty() {
        return false;
    }
    let n = glob.matches('/').count();
    let mut parts = module.splitn(n + 2, '/');
    let prefix: Vec<&str> = parts.by_ref().take(n + 1).collect();
    prefix.len() == n + 1 && go_path_match(glob.as_bytes(), prefix.join("/").as_bytes())
}

/// Public modules a `GOPRIVATE` pattern must not cover.
const PUBLIC_MODULES: &[&str] = &[
    "github.com/google/uuid",
    "golang.org/x/net",
    "google.golang.org/grpc",
    "gopkg.in/yaml.v3",
    "go.uber.org/zap",
    "k8s.io/api",
    "gitlab.com/gitlab-org/api/client-go",
    "cloud.google.com/go",
    "go.opentelemetry.io/otel",
];

/// `-insecure` in GOFLAGS as Go's flag package reads it: one or two dashes,
/// bare or `=` a true value (`1`, `t`, `T`, `true`, `TRUE`, `True`).
fn insecure_flag(goflags: &str) -> Option<&str> {
    goflags.split_whitespace().find(|f| {
        let name = f.strip_prefix("--").or_else(|| f.strip_prefix('-')).unwrap_or("");
        match name.split_once('=') {
            None => name == "insecure",
            Some((n, v)) => n == "insecure" && matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True"),
        }
    })
}

fn check_go_env(config: &ImageConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, name, value) in env_pairs(config) {
        let v = value.trim();
        let problem = match name {
            "GOSUMDB" if v.eq_ignore_ascii_case("off") => {
                Some("GOSUMDB=off disables checksum verification".to_string())
            }
            "GONOSUMDB" | "GONOSUMCHECK" if !v.is_empty() => Some(format!("{name}={v} skips checksum verification")),
            "GOINSECURE" if !v.is_empty() => {
                Some(format!("GOINSECURE={v} allows plaintext, unverified module fetches"))
            }
            "GOPRIVATE" => value.split(',').find_map(|glob| {
                PUBLIC_MODULES.iter().find(|m| go_prefix_match(glob, m)).map(|m| {
                    format!(
                        "GOPRIVATE pattern `{glob}` covers public modules ({m}...): they skip checksum verification"
                    )
                })
            }),
            "GOFLAGS" => insecure_flag(v).map(|f| format!("GOFLAGS={v} sets -insecure (`{f}`)")),
            "GOPROXY" => v
                .split([',', '|'])
                .map(str::trim)
                .find(|u| u.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://")))
                .map(|u| format!("GOPROXY entry {u} fetches modules over plaintext HTTP")),
            _ => None,
        };
        if let Some(msg) = problem {
            out.push(Finding::fail(GO_ENV, msg).at_pointer(format!("/config/Env/{i}")));
        }
    }
    if out.is_empty() {
        out.push(Finding::pass(GO_ENV, "no GOSUMDB=off/GOINSECURE/GOFLAGS=-insecure/GONOSUMDB"));
    }
    out
}

fn is_digest(s: &str) -> bool {
    match s.split_once(':') {
        Some(("sha256", hex)) => {
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        Some(("sha512", hex)) => {
            hex.len() == 128 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        _ => false,
    }
}

fn check_base_pin(image: &Image, p: &Params) -> Finding {
    const DIGEST: &str = "org.opencontainers.image.base.digest";
    const NAME: &str = "org.opencontainers.image.base.name";
    let digest = label(image, DIGEST);
    let name = label(image, NAME);
    match (digest, name) {
        (None, None) => {
            Finding::fail(BASE_PIN, "no org.opencontainers.image.base.* label/annotation").at_pointer("/config/Labels")
        }
        (None, Some(_)) => {
            Finding::fail(BASE_PIN, format!("{NAME} is set but {DIGEST} is missing: the base is not pinned"))
                .at_pointer("/config/Labels")
        }
        (Some((d, ptr)), _) if !is_digest(d) => {
            Finding::fail(BASE_PIN, format!("{DIGEST}={d} is not a sha256/sha512 digest")).at_pointer(ptr)
        }
        (Some(_), None) if p.boolean("require_name", true) => {
            Finding::fail(BASE_PIN, format!("{DIGEST} is set but {NAME} is missing")).at_pointer("/config/Labels")
        }
        (Some((d, _)), n) => {
            Finding::pass(BASE_PIN, format!("base.name={}, base.digest={d}", n.map(|(n, _)| n).unwrap_or("(unset)")))
        }
    }
}

fn check_source_labels(image: &Image, p: &Params) -> Finding {
    let required = p.text_list("required");
    let missing: Vec<&str> = required.iter().map(String::as_str).filter(|k| label(image, k).is_none()).collect();
    if missing.is_empty() {
        let found: Vec<String> = required
            .iter()
            .filter_map(|k| label(image, k).map(|(v, _)| format!("{}={v}", k.rsplit('.').next().unwrap_or(k))))
            .collect();
        Finding::pass(SOURCE_LABELS, found.join(", "))
    } else {
        Finding::fail(SOURCE_LABELS, format!("missing {}", missing.join(", "))).at_pointer("/config/Labels")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_sdk::{Healthcheck, ImageConfig, Outcome, RunAs, Subject};

    fn config() -> ImageConfig {
        ImageConfig {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
            user: None,
            run_as: RunAs { uid: Some(0), gid: Some(0), problem: None },
            env: vec!["PATH=/usr/bin:/bin".into()],
            entrypoint: None,
            cmd: None,
            working_dir: None,
            healthcheck: None,
            labels: vec![],
            exposed_ports: vec![],
            volumes: vec![],
            stop_signal: None,
            history: vec![],
        }
    }

    fn image(config: ImageConfig, annotations: &[(&str, &str)]) -> Image {
        Image {
            subject: Subject {
                reference: "test".into(),
                repository: None,
                digest: "sha256:00".into(),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                platform: None,
                parent_index: None,
            },
            manifest_annotations: annotations
                .iter()
                .map(|(k, v)| KeyValue { key: k.to_string(), value: v.to_string() })
                .collect(),
            config_digest: "sha256:01".into(),
            config,
            layers: vec![],
        }
    }

    /// The rule's parameters at their declared defaults, as the host sends them.
    fn defaults(id: &str) -> RuleConfig {
        let meta = rules().into_iter().find(|r| r.id == id).unwrap();
        RuleConfig { id: id.into(), params: meta.params.into_iter().map(|p| (p.name, p.default)).collect() }
    }

    fn outcome(f: &Finding) -> Outcome {
        f.outcome
    }

    #[test]
    fn user_rule() {
        let rc = defaults(USER);
        let p = Params::of(&rc);
        let mut c = config();
        assert_eq!(outcome(&check_user(&c, &p)), Outcome::Fail);
        // `run_as` is what the host resolved (engine/src/scan/user.rs).
        let uid = |n: u32| RunAs { uid: Some(n), gid: Some(n), problem: None };
        let unknown = RunAs { uid: None, gid: None, problem: None };
        let missing = RunAs { uid: None, gid: None, problem: Some("not in /etc/passwd".into()) };
        for (u, run_as, want) in [
            ("0", uid(0), Outcome::Fail),
            ("root:root", uid(0), Outcome::Fail),
            (":1000", uid(0), Outcome::Fail),
            ("00", uid(0), Outcome::Fail),
            ("+0", uid(0), Outcome::Fail),
            ("app", uid(0), Outcome::Fail),
            ("ghost", missing, Outcome::Fail),
            ("65532:65532", uid(65532), Outcome::Pass),
            ("nonroot", uid(65532), Outcome::Pass),
            ("nonroot", unknown, Outcome::Pass),
            ("1000:0", uid(1000), Outcome::Pass),
        ] {
            c.user = Some(u.into());
            c.run_as = run_as;
            assert_eq!(outcome(&check_user(&c, &p)), want, "{u}");
        }
        let strict =
            RuleConfig { id: USER.into(), params: vec![("allow_named_user".into(), ParamValue::Boolean(false))] };
        c.user = Some("nonroot".into());
        assert_eq!(outcome(&check_user(&c, &Params::of(&strict))), Outcome::Fail);
    }

    #[test]
    fn health_rule() {
        let rc = defaults(HEALTH);
        let p = Params::of(&rc);
        let mut c = config();
        assert_eq!(outcome(&check_health(&image(c.clone(), &[]), &p)), Outcome::Fail);
        c.healthcheck = Some(Healthcheck {
            test: vec!["NONE".into()],
            interval_ns: None,
            timeout_ns: None,
            start_period_ns: None,
            retries: None,
        });
        assert_eq!(outcome(&check_health(&image(c.clone(), &[]), &p)), Outcome::Fail);
        c.healthcheck.as_mut().unwrap().test = vec!["CMD".into(), "/app".into()];
        assert_eq!(outcome(&check_health(&image(c.clone(), &[]), &p)), Outcome::Pass);
        c.healthcheck = None;
        assert_eq!(
            outcome(&check_health(&image(c, &[("io.portcullis.health-endpoint", "/healthz")]), &p)),
            Outcome::Pass
        );
    }

    #[test]
    fn shell_form_is_refused() {
        let rc = defaults(EXEC);
        let p = Params::of(&rc);
        let mut c = config();
        assert_eq!(outcome(&check_exec(&c, &p)), Outcome::Fail, "nothing to run");
        c.cmd = Some(vec!["/bin/sh".into(), "-c".into(), "/app -x".into()]);
        assert_eq!(outcome(&check_exec(&c, &p)), Outcome::Fail);
        c.cmd = None;
        c.entrypoint = Some(vec!["/usr/bin/bash".into(), "-c".into(), "exec /app".into()]);
        assert_eq!(outcome(&check_exec(&c, &p)), Outcome::Fail);
    }

    #[test]
    fn env_secrets_never_echo_values() {
        let rc = defaults(ENV_SECRETS);
        let p = Params::of(&rc);
        let mut c = config();
        c.env = vec![
            "GITHUB_TOKEN=ghp_abcdef".into(),
            "DB_PASSWORD_FILE=/run/secrets/db".into(),
            "EMPTY_PASSWORD=".into(),
            "SOMETHING=AKIAIOSFODNN7EXAMPLE".into(),
        ];
        let out = check_env_secrets(&c, &p);
        let failing: Vec<&str> =
            out.iter().filter(|f| f.outcome == Outcome::Fail).map(|f| f.message.as_str()).collect();
        assert_eq!(failing.len(), 2, "{failing:?}");
        assert!(failing[0].contains("GITHUB_TOKEN") && failing[1].contains("AWS access key"));
        assert!(out.iter().all(|f| !f.message.contains("ghp_abcdef") && !f.message.contains("AKIAIOSFODNN7EXAMPLE")));
        assert_eq!(out[0].location.as_ref().unwrap().pointer.as_deref(), Some("/config/Env/0"));
    }

    #[test]
    fn insecure_go_settings() {
        let mut c = config();
        assert_eq!(check_go_env(&c)[0].outcome, Outcome::Pass);
        c.env = vec![
            "GOSUMDB=off".into(),
            "GOFLAGS=-mod=mod -insecure".into(),
            "GONOSUMDB=*".into(),
            "GOINSECURE=example.com".into(),
            "GOPROXY=http://proxy.local,direct".into(),
            "GOPRIVATE=example.com".into(),
        ];
        assert_eq!(check_go_env(&c).iter().filter(|f| f.outcome == Outcome::Fail).count(), 5);
        for bad in [
            "GOPROXY=HTTP://proxy.local",
            "GOPROXY=https://a.example|Http://b.example",
            "GOPROXY= http://proxy.local ,direct",
            "GOFLAGS=--insecure",
            "GOFLAGS=-mod=mod -insecure=T",
            "GOPRIVATE=*",
            "GOPRIVATE=corp.example,github.com",
            "GOPRIVATE=golang.org/x",
            "GOSUMDB=Off",
        ] {
            c.env = vec![bad.into()];
            assert_eq!(check_go_env(&c)[0].outcome, Outcome::Fail, "{bad}");
        }
        for good in [
            "GOPROXY=https://proxy.golang.org,direct",
            "GOPROXY=off",
            "GOPROXY=direct",
            "GOPROXY=proxy.example",
            "GOFLAGS=-insecure=false -mod=mod",
            "GOFLAGS=-insecurex",
            "GOFLAGS=---insecure",
            "GOPRIVATE=github.com/acme,*.corp.example",
            "gosumdb=off",
        ] {
            c.env = vec![good.into()];
            assert_eq!(check_go_env(&c)[0].outcome, Outcome::Pass, "{good}");
        }
    }

    #[test]
    fn shell_form_by_any_option_cluster() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for yes in [
            &["-c", "x"][..],
            &["-ec", "x"],
            &["-xc", "x"],
            &["-euc", "x"],
            &["-e", "-c", "x"],
            &["-o", "pipefail", "-c", "x"],
            &["+e", "-c", "x"],
            &["--norc", "-c", "x"],
        ] {
            assert!(runs_command_string(&args(yes)), "{yes:?}");
        }
        for no in [&["script.sh"][..], &["--", "-c"], &["-", "-c"], &["-o", "c"], &["-e", "run.sh", "-c"], &[]] {
            assert!(!runs_command_string(&args(no)), "{no:?}");
        }
        let rc = defaults(EXEC);
        let p = Params::of(&rc);
        let mut c = config();
        for argv in [
            &["/bin/sh", "-ec", "/app"][..],
            &["sh", "-xc", "/app"],
            &["/bin/bash", "/start.sh"],
            &["/bin/busybox", "sh", "-c", "x"],
        ] {
            c.entrypoint = Some(args(argv));
            let f = check_exec(&c, &p);
            assert_eq!(f.outcome, Outcome::Fail, "{argv:?}");
            assert!(f.message.contains("shell"), "{}", f.message);
        }
    }

    #[test]
    fn token_shapes_in_values() {
        let gh = format!("ghp_{}", "a1B2".repeat(9));
        for (v, want) in [
            (gh.as_str(), Some("a GitHub token")),
            ("Bearer github_pat_11ABCDEFG0123456789_abcdefghij", Some("a GitHub token")),
            ("glpat-ABCDEFGHIJ0123456789", Some("a GitLab token")),
            ("xoxp-1234567890-abcdef", Some("a Slack token")),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", Some("a JSON web token")),
            ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn", Some("a PEM private key")),
            ("AKIAIOSFODNN7EXAMPLE", Some("an AWS access key ID")),
            ("ghp_short", None),
            ("myghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", None),
            ("eyJhbGciOiJIUzI1NiJ9", None),
            ("https://example.com/path", None),
        ] {
            assert_eq!(token_shape(v), want, "{v}");
        }
        let rc = defaults(ENV_SECRETS);
        let p = Params::of(&rc);
        let mut c = config();
        c.env = vec![
            format!("NOTES={gh}"),
            "db_password=x".into(),
            "SIGNING_KEY=x".into(),
            "SECRET=x".into(),
            "GPG_KEY=ABCD".into(),
            "CONFIG_PATH=/etc/x".into(),
        ];
        let out = check_env_secrets(&c, &p);
        let failing: Vec<&str> =
            out.iter().filter(|f| f.outcome == Outcome::Fail).map(|f| f.message.as_str()).collect();
        assert_eq!(failing.len(), 4, "{failing:?}");
        assert!(failing.iter().all(|m| !m.contains(&gh)));
    }

    #[test]
    fn go_module_patterns_as_go_matches_them() {
        assert!(go_prefix_match("*", "github.com/google/uuid"));
        assert!(go_prefix_match("github.com", "github.com/google/uuid"));
        assert!(go_prefix_match("github.com/", "github.com/google/uuid"));
        assert!(go_prefix_match("*.com/*", "github.com/google/uuid"));
        assert!(go_prefix_match("[g]ithub.com", "github.com/google/uuid"));
        assert!(go_prefix_match("git?ub.com/goo*", "github.com/google/uuid"));
        assert!(!go_prefix_match("github.com/acme", "github.com/google/uuid"));
        assert!(!go_prefix_match("github.com/google/uuid/v2", "github.com/google/uuid"));
        assert!(go_prefix_match("*", "example"), "a one-element path matches too");
        assert!(!go_prefix_match("[", "github.com/x"), "malformed matches nothing");
        assert!(!go_prefix_match("", "github.com/x"));
    }

    #[test]
    fn base_pin_and_source_labels() {
        let rc = defaults(BASE_PIN);
        let p = Params::of(&rc);
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(outcome(&check_base_pin(&image(config(), &[]), &p)), Outcome::Fail);
        let both = [
            ("org.opencontainers.image.base.digest", digest.as_str()),
            ("org.opencontainers.image.base.name", "debian:12"),
        ];
        assert_eq!(outcome(&check_base_pin(&image(config(), &both), &p)), Outcome::Pass);
        let bad =
            [("org.opencontainers.image.base.digest", "latest"), ("org.opencontainers.image.base.name", "debian:12")];
        assert_eq!(outcome(&check_base_pin(&image(config(), &bad), &p)), Outcome::Fail);
        let mut c = config();
        c.labels = vec![KeyValue { key: "org.opencontainers.image.base.digest".into(), value: digest.clone() }];
        assert_eq!(outcome(&check_base_pin(&image(c, &[]), &p)), Outcome::Fail, "name required by default");

        let rc = defaults(SOURCE_LABELS);
        let p = Params::of(&rc);
        let src = [("org.opencontainers.image.source", "https://x"), ("org.opencontainers.image.revision", "abc")];
        assert_eq!(outcome(&check_source_labels(&image(config(), &src), &p)), Outcome::Pass);
        let only = [("org.opencontainers.image.source", "https://x"), ("org.opencontainers.image.revision", " ")];
        let f = check_source_labels(&image(config(), &only), &p);
        assert_eq!(f.outcome, Outcome::Fail);
        assert!(f.message.contains("revision"));
    }
}
