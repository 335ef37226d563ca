//! Rules that name things must recognise the thing: each test derives an
//! image from `go-static-good` (which the default policy admits) by editing
//! one thing the way a bypass would — a shell under another name, a key
//! past the first 64 KiB of a file, a `.git` without its directory entry, a
//! proxy URL in upper case, a Go binary without section headers, a CA bundle
//! that is a dangling symlink — and checks that the rule meant to catch it
//! now denies the image, with a message that says what it found.

use crate::support;

use portcullis::Verdict;
use portcullis::model::Outcome;
use portcullis::report::Effect;
use serde_json::json;
use std::io::Read;
use support::craft::{Derived, Header, RawTar};

/// The bytes of `path` in the layers of a shared fixture (the last layer
/// that has it), for copying real programs into crafted images.
fn fixture_file(fixture: &str, path: &str) -> Vec<u8> {
    let dir = support::image(&format!("oci/{fixture}"));
    let blob = |d: &str| std::fs::read(dir.join("blobs/sha256").join(&d[7..])).unwrap();
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    let mut found = None;
    for layer in manifest["layers"].as_array().unwrap() {
        let bytes = blob(layer["digest"].as_str().unwrap());
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().trim_start_matches("./").to_string();
            if name == path && entry.header().entry_type().is_file() {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).unwrap();
                found = Some(data);
            }
        }
    }
    found.unwrap_or_else(|| panic!("{fixture} has no regular file {path}"))
}

fn dash() -> Vec<u8> {
    fixture_file("go-dynamic-root", "usr/bin/dash")
}

/// Audits the derived image with the default policy.
fn audit(d: &Derived) -> portcullis::report::Report {
    let dir = tempfile::tempdir().unwrap();
    let layout = d.write(dir.path());
    support::default_engine().audit(&support::open(&layout))
}

/// The message of `rule`'s failing finding; the image must be denied by it.
fn denied_by(d: &Derived, rule: &str) -> String {
    let report = audit(d);
    let subject = &report.subjects[0];
    let failing: Vec<_> = subject.findings.iter().filter(|f| f.rule == rule && f.outcome == Outcome::Fail).collect();
    assert_eq!(report.verdict, Verdict::Deny, "{rule}: the crafted image is admitted: {}", report.to_json());
    assert!(
        failing.iter().any(|f| f.effect == Effect::Deny),
        "{rule} does not deny the crafted image: {:#?}",
        subject.findings.iter().filter(|f| f.rule == rule).collect::<Vec<_>>()
    );
    failing.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("\n")
}

/// The fixture every test edits is admitted, and each rule exercised here
/// passes on it: what the tests below see is the edit, nothing else.
#[test]
fn the_unedited_fixture_is_admitted() {
    let report = audit(&Derived::of("go-static-good"));
    assert_eq!(report.verdict, Verdict::Admit, "{}", report.to_json());
    for rule in ["GO-FS-001", "GO-FS-005", "GO-FS-007", "GO-CFG-003", "GO-CFG-004", "GO-CFG-005", "GO-BIN-002"] {
        let f = report.subjects[0].findings.iter().find(|f| f.rule == rule).unwrap();
        assert_eq!(f.outcome, Outcome::Pass, "{rule}: {}", f.message);
    }
}

// --- shells -------------------------------------------------------------

#[test]
fn a_shell_under_another_name_is_a_shell() {
    let mut d = Derived::of("go-static-good");
    d.push_layer(RawTar::new().entry(Header::file("usr/local/bin/helper").mode(0o755), &dash()).finish());
    let msg = denied_by(&d, "GO-FS-001");
    assert!(msg.contains("/usr/local/bin/helper"), "{msg}");
}

#[test]
fn a_shell_on_the_images_path_is_a_shell() {
    let mut d = Derived::of("go-static-good");
    d.push_layer(RawTar::new().entry(Header::file("opt/tools/bash").mode(0o755), b"#!/hello\n").finish());
    let env = d.runtime().get_mut("Env").unwrap().as_array_mut().unwrap();
    env[0] = json!("PATH=/opt/tools:/usr/local/bin:/usr/bin:/bin");
    let msg = denied_by(&d, "GO-FS-001");
    assert!(msg.contains("/opt/tools/bash"), "{msg}");
}

#[test]
fn shell_form_with_clustered_flags_is_shell_form() {
    let mut d = Derived::of("go-static-good");
    d.push_layer(RawTar::new().entry(Header::file("opt/x/sh").mode(0o755), &dash()).finish());
    d.runtime().insert("Entrypoint".into(), json!(["/opt/x/sh", "-ec", "exec /hello -addr :8080"]));
    d.runtime().insert("Cmd".into(), json!(null));
    let msg = denied_by(&d, "GO-CFG-003");
    assert!(msg.contains("shell"), "{msg}");
}

#[test]
fn an_entrypoint_symlinked_to_a_renamed_shell_is_a_shell() {
    let mut d = Derived::of("go-static-good");
    d.push_layer(
        RawTar::new()
            .entry(Header::file("opt/x/run").mode(0o755), &dash())
            .entry(Header::symlink("app", "opt/x/run"), b"")
            .finish(),
    );
    d.runtime().insert("Entrypoint".into(), json!(["/app", "-c", "exec /hello"]));
    d.runtime().insert("Cmd".into(), json!(null));
    let msg = denied_by(&d, "GO-CFG-003");
    assert!(msg.contains("/opt/x/run"), "the message names the shell the link resolves to: {msg}");
}

#[test]
fn a_script_entrypoint_needs_its_interpreter() {
    let mut d = Derived::of("go-static-good");
    d.push_layer(RawTar::new().entry(Header::file("start").mode(0o755), b"#!/bin/sh\nexec /hello\n").finish());
    d.runtime().insert("Entrypoint".into(), json!(["/start"]));
    d.runtime().insert("Cmd".into(), json!(null));
    let msg = denied_by(&d, "GO-CFG-003");
    assert!(msg.contains("#!/bin/sh") && msg.contains("does not exist"), "{msg}");
}

#[test]
fn a_script_entrypoint_run_by_a_shell_is_shell_form() {
    let mut d = Derived::of("go-static-good");
    d.push_layer(
        RawTar::new()
            .entry(Header::file("opt/x/run").mode(0o755), &dash())
            .entry(Header::file("start").mode(0o755), b"#! /opt/x/run -e\nexec /hello\n")
            .finish(),
    );
    d.runtime().insert("Entrypoint".into(), json!(["/start"]));
    d.runtime().insert("Cmd".into(), json!(null));
    let msg = denied_by(&d, "GO-CFG-003");
    assert!(msg.contains("/opt/x/run") && msg.contains("shell"), "{msg}");
}

// --- secrets ------------------------------------------------------------

/// A PEM private key as it appears in a key file (the body is filler: only
/// its armour is recognised).
fn pem(label: &str) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n".repeat(8).trim_end()
    )
}

#[test]
fn a_key_past_the_first_64_kib_is_found() {
    // The armour straddles byte 65536, where the old sniffing stopped.
    let mut text = "# settings\n".repeat(65536 / 11).into_bytes();
    text.resize(65536 - 12, b'#');
    text.push(b'\n');
    text.extend_from_slice(pem("RSA PRIVATE KEY").as_bytes());
    let mut d = Derived::of("go-static-good");
    d.push_layer(RawTar::new().file("etc/hello/settings.conf", &text).finish());
    let msg = denied_by(&d, "GO-FS-007");
    assert!(msg.contains("/etc/hello/settings.conf") && msg.contains("private key"), "{msg}");
    assert!(!msg.contains("MIIE"), "the key itself is never echoed: {msg}");
}

#[test]
fn a_plain_key_beside_an_encrypted_one_is_found() {
    let text = format!("{}{}", pem("ENCRYPTED PRIVATE KEY"), pem("EC PRIVATE KEY"));
    let mut d = Derived::of("go-static-good");
    d.push_layer(RawTar::new().file("etc/hello/keys.pem", text.as_bytes()).finish());
    let msg = denied_by(&d, "GO-FS-007");
    assert!(msg.contains("/etc/hello/keys.pem"), "{msg}");
}

#[test]
fn git_metadata_without_its_directory_entry_is_found() {
    for path in ["app/.git/config", ".git/HEAD"] {
        let mut d = Derived::of("go-static-good");
        d.push_layer(RawTar::new().file(path, b"[core]\n\trepositoryformatversion = 0\n").finish());
        let msg = denied_by(&d, "GO-FS-007");
        let dir = format!("/{}", path.rsplit_once('/').unwrap().0);
        assert!(msg.contains(&dir) && msg.contains("git"), "{path}: {msg}");
    }
}

#[test]
fn npm_auth_with_spaces_is_found() {
    let mut d = Derived::of("go-static-good");
    d.push_layer(
        RawTar::new()
            .file("home/nonroot/.npmrc", b"registry=https://registry.npmjs.org/\n_auth = dXNlcjpzM2NyM3Q=\n")
            .finish(),
    );
    let msg = denied_by(&d, "GO-FS-007");
    assert!(msg.contains("/home/nonroot/.npmrc") && !msg.contains("dXNlcjpzM2NyM3Q"), "{msg}");
}

#[test]
fn a_docker_identity_token_is_found() {
    let mut d = Derived::of("go-static-good");
    let config = br#"{"auths": {"registry.example": {"identitytoken": "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0.c2ln"}}}"#;
    d.push_layer(RawTar::new().file("home/nonroot/.docker/config.json", config).finish());
    let msg = denied_by(&d, "GO-FS-007");
    assert!(msg.contains("/home/nonroot/.docker/config.json") && !msg.contains("eyJhbGci"), "{msg}");
}

// --- environment --------------------------------------------------------

fn with_env(extra: &str) -> Derived {
    let mut d = Derived::of("go-static-good");
    let env = d.runtime().get_mut("Env").unwrap().as_array_mut().unwrap();
    env.push(json!(extra));
    d
}

#[test]
fn go_module_settings_in_any_spelling_are_insecure() {
    for (env, said) in [
        ("GOPROXY=HTTP://proxy.example.invalid,direct", "plaintext"),
        ("GOPROXY=https://proxy.golang.org|Http://mirror.example.invalid", "plaintext"),
        ("GOFLAGS=-mod=readonly --insecure", "-insecure"),
        ("GOPRIVATE=*", "checksum"),
        ("GOPRIVATE=github.com", "checksum"),
    ] {
        let msg = denied_by(&with_env(env), "GO-CFG-005");
        assert!(msg.contains(said), "{env}: {msg}");
    }
}

#[test]
fn secrets_in_the_environment_by_name_or_by_shape() {
    let token = format!("ghp_{}", "A1b2C3d4E5".repeat(4).get(..36).unwrap());
    for env in [
        "SIGNING_KEY=9f8e7d6c5b4a".to_string(),
        "SECRET=hunter2hunter2".to_string(),
        format!("RELEASE_NOTES={token}"),
        "UPSTREAM=glpat-Abcdefghij0123456789".to_string(),
        "WEBHOOK=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx".to_string(),
        "SESSION=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ".to_string(),
    ] {
        let msg = denied_by(&with_env(&env), "GO-CFG-004");
        let (name, value) = env.split_once('=').unwrap();
        assert!(msg.contains(name), "{env}: {msg}");
        assert!(!msg.contains(value), "the value is never echoed: {msg}");
    }
}

// --- Go binaries --------------------------------------------------------

/// `hello` with what `is_go` used to rely on removed: the build-info magic
/// wiped (the runtime does not read it) and then either the section header
/// table dropped (as `sstrip` does) or the Go sections renamed.
fn disguised_hello(drop_sections: bool) -> Vec<u8> {
    let mut elf = fixture_file("go-static-good", "hello");
    let wipe = |elf: &mut Vec<u8>, needle: &[u8], with: &[u8]| {
        let mut n = 0;
        while let Some(at) = elf.windows(needle.len()).position(|w| w == needle) {
            elf[at..at + with.len()].copy_from_slice(with);
            n += 1;
        }
        assert!(n > 0, "{} not in hello", String::from_utf8_lossy(needle));
    };
    wipe(&mut elf, b"\xff Go buildinf:", &[0; 14]);
    if drop_sections {
        // ELF64: e_shoff at 0x28, e_shnum at 0x3c, e_shstrndx at 0x3e.
        elf[0x28..0x30].fill(0);
        elf[0x3c..0x40].fill(0);
    } else {
        wipe(&mut elf, b".gopclntab\0", b".rodata.x\0\0");
        wipe(&mut elf, b".go.buildinfo\0", b".data.rel.x\0\0\0");
        wipe(&mut elf, b".note.go.buildid\0", b".note.x\0\0\0\0\0\0\0\0\0\0");
    }
    elf
}

#[test]
fn a_go_binary_without_go_section_names_is_still_go() {
    for drop_sections in [true, false] {
        let mut d = Derived::of("go-static-good");
        d.push_layer(
            RawTar::new()
                .entry(Header::file("usr/local/bin/helper").mode(0o755), &disguised_hello(drop_sections))
                .finish(),
        );
        let msg = denied_by(&d, "GO-BIN-002");
        assert!(msg.contains("/usr/local/bin/helper") && msg.contains("no Go build information"), "{msg}");
    }
}

// --- CA bundle ----------------------------------------------------------

#[test]
fn a_dangling_ca_bundle_symlink_is_no_ca_bundle() {
    let mut d = Derived::of("go-static-good");
    d.push_layer(
        RawTar::new()
            .entry(Header::symlink("etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/gone.pem"), b"")
            .finish(),
    );
    let msg = denied_by(&d, "GO-FS-005");
    assert!(msg.contains("no CA bundle"), "{msg}");
    assert!(msg.contains("/etc/ssl/certs/ca-certificates.crt"), "the dangling link is named: {msg}");
}

// --- world-writable paths (GO-FS-008) -------------------------------------

/// Debian's sticky, world-writable `/var/tmp` and `/run/lock` are as safe as
/// `/tmp`: allowed. Without the sticky bit, a world-writable directory
/// fails, and so does a world-writable file, sticky or not; and
/// `sticky_directories = false` makes the sticky directory fail again.
#[test]
fn sticky_world_writable_directories_are_like_tmp() {
    let mut sticky = Derived::of("go-static-good");
    sticky.push_layer(
        RawTar::new()
            .entry(Header::dir("var/").mode(0o755), b"")
            .entry(Header::dir("var/tmp/").mode(0o1777), b"")
            .entry(Header::dir("run/").mode(0o755), b"")
            .entry(Header::dir("run/lock/").mode(0o1777), b"")
            .finish(),
    );
    let report = audit(&sticky);
    let f = report.subjects[0].findings.iter().find(|f| f.rule == "GO-FS-008").unwrap();
    assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    assert!(f.message.contains("sticky directories (/run/lock, /var/tmp)"), "{}", f.message);
    assert_eq!(report.verdict, Verdict::Admit, "{}", report.to_json());

    let mut open_dir = Derived::of("go-static-good");
    open_dir.push_layer(RawTar::new().entry(Header::dir("shared/").mode(0o777), b"").finish());
    assert!(denied_by(&open_dir, "GO-FS-008").contains("world-writable: /shared (777)"));

    let mut open_file = Derived::of("go-static-good");
    open_file.push_layer(RawTar::new().entry(Header::file("notes").mode(0o1666), b"x").finish());
    assert!(denied_by(&open_file, "GO-FS-008").contains("/notes"));

    let dir = tempfile::tempdir().unwrap();
    let layout = sticky.write(dir.path());
    let policy = portcullis::Policy::parse(
        "strict.toml",
        "[policy]\nname = \"s\"\nversion = \"1\"\n[plugins.go-filesystem]\n[rules.GO-FS-008]\nparams = { sticky_directories = false }\n",
        None,
    )
    .unwrap();
    let report = support::engine_with(policy).audit(&support::open(&layout));
    let f = report.subjects[0].findings.iter().find(|f| f.rule == "GO-FS-008").unwrap();
    assert_eq!(f.outcome, Outcome::Fail, "{}", f.message);
    assert!(f.message.contains("/var/tmp (41777)") || f.message.contains("/var/tmp (1777)"), "{}", f.message);
}
