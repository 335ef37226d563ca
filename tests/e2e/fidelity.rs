//! Crafted images of every class of false admit in issue #13: each is a
//! shared fixture (`go-static-good`, which passes the rules in question)
//! with one thing edited the way an attacker would — a layer in another tar
//! dialect, a path through a symlink, a hard link, a config key in another
//! case, a `User` spelled differently, a descriptor that lies. Each must be
//! denied, naming the rule that catches what the runtime will really run
//! (or `portcullis/evidence` where the readers that unpack images disagree),
//! and `differential` checks each against Go's `archive/tar`,
//! `encoding/json` and umoci.

use crate::support::craft::{Derived, Dialect, Header, RawTar};
use portcullis::report::Effect;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// What the default policy must make of a crafted image.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// Denied by this rule.
    Deny(&'static str),
    /// This rule passes (the runtime does not see what a naive reader sees).
    Pass(&'static str),
    /// The input as a whole is refused (exit 2).
    Refused,
}

pub struct Case {
    pub name: &'static str,
    pub class: u8,
    pub expect: Expect,
    pub image: PathBuf,
}

const SHELL: Expect = Expect::Deny("GO-FS-001");
const SECRET: Expect = Expect::Deny("GO-FS-007");
const MODES: Expect = Expect::Deny("GO-FS-008");
const USER: Expect = Expect::Deny("GO-CFG-001");
const AMBIGUOUS: Expect = Expect::Deny("portcullis/evidence");

const SCRIPT: &[u8] = b"#!/hello\n";

/// `go-static-good` with these layers on top.
fn layered(layers: Vec<RawTar>) -> Derived {
    let mut d = Derived::of("go-static-good");
    for l in layers {
        d.push_layer(l.finish());
    }
    d
}

fn one(layer: RawTar) -> Derived {
    layered(vec![layer])
}

/// The bytes of entries, without end-of-archive blocks (to hide inside
/// another entry's declared data).
fn hidden(t: RawTar) -> Vec<u8> {
    let mut b = t.finish();
    b.truncate(b.len() - 1024);
    b
}

fn with_text(edit: fn(String) -> String) -> Derived {
    let mut d = Derived::of("go-static-good");
    d.config_text = Some(edit);
    d
}

fn base256(v: u64) -> Vec<u8> {
    let mut f = vec![0u8; 8];
    f[0] = 0x80;
    f[4..8].copy_from_slice(&(v as u32).to_be_bytes());
    f
}

fn global_header(path: &str) -> RawTar {
    RawTar::new().pax_as(b'g', &[("path", path)], Dialect::Ustar)
}

/// Every crafted image, written under `dir`.
pub fn cases(dir: &Path) -> Vec<Case> {
    use Dialect::{Gnu, Star, Ustar, V7};
    let passwd_as = |line: &'static str, user: &'static str| {
        let mut d = one(RawTar::new().dir("etc").file("etc/passwd", line.as_bytes()));
        d.runtime().insert("User".into(), json!(user));
        d
    };
    let user = |u: &'static str| {
        let mut d = Derived::of("go-static-good");
        d.runtime().insert("User".into(), json!(u));
        d
    };
    let platforms = |ps: Value| {
        let mut d = Derived::of("go-static-good");
        d.index_platforms = Some(ps.as_array().unwrap().clone());
        d
    };
    let list: Vec<(&'static str, u8, Expect, Derived)> = vec![
        // ---- 1. tar dialects
        (
            "v7-gnu-long-name-shell",
            1,
            SHELL,
            one(RawTar::new()
                .gnu_long(b'L', "bin/sh", V7)
                .entry(Header::file("decoy").dialect(V7).mode(0o755), SCRIPT)),
        ),
        (
            "v7-gnu-long-name-dotenv",
            1,
            SECRET,
            one(RawTar::new().gnu_long(b'L', "app/.env", V7).entry(Header::file("decoy").dialect(V7), b"TOKEN=1\n")),
        ),
        (
            "gnu-long-name-shell",
            1,
            SHELL,
            one(RawTar::new()
                .gnu_long(b'L', "usr/bin/bash", Gnu)
                .entry(Header::file("decoy").dialect(Gnu).mode(0o755), SCRIPT)),
        ),
        (
            "v7-pax-path-shell",
            1,
            SHELL,
            one(RawTar::new()
                .pax(&[("path", "bin/sh")], V7)
                .entry(Header::file("decoy").dialect(V7).mode(0o755), SCRIPT)),
        ),
        (
            "v7-pax-path-dotenv",
            1,
            SECRET,
            one(RawTar::new().pax(&[("path", "srv/.env")], V7).entry(Header::file("decoy").dialect(V7), b"A=1\n")),
        ),
        (
            "ustar-pax-path-credentials",
            1,
            SECRET,
            one(RawTar::new().pax(&[("path", "root/.aws/credentials")], Ustar).file("decoy", b"[default]\n")),
        ),
        (
            "gnu-long-name-beats-pax-path",
            1,
            SHELL,
            one(RawTar::new()
                .pax(&[("path", "harmless")], V7)
                .gnu_long(b'L', "bin/sh", V7)
                .entry(Header::file("decoy").dialect(V7).mode(0o755), SCRIPT)),
        ),
        (
            "second-pax-header-wins",
            1,
            MODES,
            one(RawTar::new()
                .pax(&[("path", "x")], Ustar)
                .pax(&[("path", "usr/bin/tool")], Ustar)
                .entry(Header::file("decoy").mode(0o4755), SCRIPT)),
        ),
        (
            "pax-global-header",
            1,
            AMBIGUOUS,
            one(global_header("elsewhere").entry(Header::file("usr/bin/tool").mode(0o4755), SCRIPT)),
        ),
        (
            "base256-mode-setuid",
            1,
            MODES,
            one(RawTar::new().entry(Header::file("usr/local/bin/tool").patch(100, &base256(0o4755)), SCRIPT)),
        ),
        (
            "base256-mode-setuid-v7",
            1,
            MODES,
            one(RawTar::new()
                .entry(Header::file("usr/local/bin/tool").dialect(V7).patch(100, &base256(0o6755)), SCRIPT)),
        ),
        (
            "base256-mode-world-writable-dir",
            1,
            MODES,
            one(RawTar::new().entry(Header::dir("srv/drop").patch(100, &base256(0o777)), b"")),
        ),
        (
            "octal-mode-after-nul-setuid",
            1,
            MODES,
            one(RawTar::new().entry(Header::file("usr/local/bin/tool").patch(100, b"\x004755\0\0\0"), SCRIPT)),
        ),
        (
            "octal-mode-nul-space-setuid",
            1,
            MODES,
            one(RawTar::new().entry(Header::file("usr/local/bin/tool").patch(100, b"\0 4755\0\0"), SCRIPT)),
        ),
        ("symlink-data-hides-a-shell", 1, SHELL, {
            let inner = hidden(RawTar::new().entry(Header::file("bin/sh").mode(0o755), SCRIPT));
            one(RawTar::new().entry(Header::symlink("link", "hello").declared_size(inner.len() as u64), &inner))
        }),
        ("directory-data-hides-a-dotenv", 1, SECRET, {
            let inner = hidden(RawTar::new().file("app/.env", b"PASSWORD=x\n"));
            one(RawTar::new().entry(Header::dir("app").declared_size(inner.len() as u64), &inner))
        }),
        ("fifo-data-hides-a-setuid-file", 1, MODES, {
            let inner = hidden(RawTar::new().entry(Header::file("usr/bin/tool").mode(0o4755), SCRIPT));
            one(RawTar::new().entry(Header::new("run/fifo", b'6').declared_size(inner.len() as u64), &inner))
        }),
        ("char-device-data-hides-a-shell", 1, SHELL, {
            let inner = hidden(RawTar::new().entry(Header::file("usr/bin/sh").mode(0o755), SCRIPT));
            one(RawTar::new().entry(Header::new("dev/null2", b'3').declared_size(inner.len() as u64), &inner))
        }),
        ("hard-link-data-hides-a-shell", 1, SHELL, {
            let inner = hidden(RawTar::new().entry(Header::file("bin/dash").mode(0o755), SCRIPT));
            one(RawTar::new()
                .file("a", b"x")
                .entry(Header::hardlink("b", "a").declared_size(inner.len() as u64), &inner))
        }),
        (
            "star-prefix-shell",
            1,
            SHELL,
            one(RawTar::new().entry(Header::file("sh").dialect(Star).prefix("bin").mode(0o755), SCRIPT)),
        ),
        ("ustar-prefix-dotenv", 1, SECRET, one(RawTar::new().entry(Header::file(".env").prefix("srv/app"), b"K=v\n"))),
        (
            "old-regular-type-with-slash-is-a-dir",
            1,
            SHELL,
            one(RawTar::new()
                .entry(Header::new("usr/local/bin/", 0).dialect(V7), b"")
                .entry(Header::file("usr/local/bin/sh").mode(0o755), SCRIPT)),
        ),
        (
            "pax-sparse-file",
            1,
            AMBIGUOUS,
            one(RawTar::new()
                .pax(
                    &[
                        ("GNU.sparse.major", "1"),
                        ("GNU.sparse.minor", "0"),
                        ("GNU.sparse.name", "bin/sh"),
                        ("GNU.sparse.realsize", "9"),
                    ],
                    Ustar,
                )
                .file("GNUSparseFile.0/sh", b"1\n0\n9\n")),
        ),
        (
            "pax-sparse-0.1-map",
            1,
            AMBIGUOUS,
            one(RawTar::new()
                .pax(&[("GNU.sparse.map", "0,9"), ("GNU.sparse.size", "9")], Ustar)
                .file("usr/bin/sh", SCRIPT)),
        ),
        ("gnu-sparse-type", 1, AMBIGUOUS, one(RawTar::new().entry(Header::new("bin/sh", b'S').dialect(Gnu), SCRIPT))),
        (
            "gnu-volume-header-type",
            1,
            AMBIGUOUS,
            one(RawTar::new().entry(Header::new("vol", b'V').dialect(Gnu), b"").file("bin/sh", SCRIPT)),
        ),
        ("contiguous-file-type", 1, AMBIGUOUS, one(RawTar::new().entry(Header::new("usr/bin/sh", b'7'), SCRIPT))),
        (
            "negative-uid",
            1,
            AMBIGUOUS,
            one(RawTar::new().entry(Header::file("usr/bin/tool").mode(0o4755).patch(108, &[0xff; 8]), SCRIPT)),
        ),
        // ---- 2. extraction semantics
        (
            "write-through-own-symlink",
            2,
            SHELL,
            one(RawTar::new()
                .dir("usr")
                .dir("usr/bin")
                .entry(Header::symlink("b", "usr/bin"), b"")
                .entry(Header::file("b/sh").mode(0o755), SCRIPT)),
        ),
        (
            "write-through-own-absolute-symlink",
            2,
            SHELL,
            one(RawTar::new()
                .dir("usr")
                .dir("usr/sbin")
                .entry(Header::symlink("x", "/usr/sbin"), b"")
                .entry(Header::file("x/sh").mode(0o755), SCRIPT)),
        ),
        (
            "write-through-own-dotdot-symlink",
            2,
            SHELL,
            one(RawTar::new()
                .dir("opt")
                .dir("usr")
                .dir("usr/bin")
                .entry(Header::symlink("opt/b", "../usr/bin"), b"")
                .entry(Header::file("opt/b/bash").mode(0o755), SCRIPT)),
        ),
        (
            "write-through-lower-symlink",
            2,
            AMBIGUOUS,
            layered(vec![
                RawTar::new().dir("usr").dir("usr/bin").entry(Header::symlink("b", "usr/bin"), b""),
                RawTar::new().entry(Header::file("b/sh").mode(0o755), SCRIPT),
            ]),
        ),
        (
            "write-through-lower-file",
            2,
            AMBIGUOUS,
            layered(vec![
                RawTar::new().file("blob", b"x"),
                RawTar::new().entry(Header::file("blob/sh").mode(0o755), SCRIPT),
            ]),
        ),
        (
            "hard-link-keeps-setuid-after-whiteout",
            2,
            MODES,
            layered(vec![
                RawTar::new()
                    .entry(Header::file("usr/bin/tool").mode(0o4755), SCRIPT)
                    .entry(Header::hardlink("usr/local/bin/t2", "usr/bin/tool").mode(0o644), b""),
                RawTar::new().file("usr/bin/.wh.tool", b""),
            ]),
        ),
        (
            "hard-link-named-like-a-secret",
            2,
            SECRET,
            one(RawTar::new().file("app/env.txt", b"X=1\n").entry(Header::hardlink("app/.env", "app/env.txt"), b"")),
        ),
        (
            "hard-link-named-like-a-shell",
            2,
            SHELL,
            one(RawTar::new()
                .entry(Header::file("opt/tool").mode(0o755), SCRIPT)
                .entry(Header::hardlink("bin/sh", "opt/tool"), b"")),
        ),
        (
            "hard-link-mode-comes-from-the-file",
            2,
            Expect::Pass("GO-FS-008"),
            one(RawTar::new()
                .file("usr/bin/plain", SCRIPT)
                .entry(Header::hardlink("usr/bin/sudo", "usr/bin/plain").mode(0o4755), b"")),
        ),
        (
            "hard-link-to-a-lower-layer",
            2,
            AMBIGUOUS,
            layered(vec![RawTar::new().file("a", SCRIPT), RawTar::new().entry(Header::hardlink("bin/sh", "a"), b"")]),
        ),
        (
            "hard-link-before-its-target",
            2,
            AMBIGUOUS,
            one(RawTar::new().entry(Header::hardlink("bin/sh", "z"), b"").file("z", SCRIPT)),
        ),
        (
            "whiteout-of-own-file",
            2,
            AMBIGUOUS,
            one(RawTar::new().dir("usr").file("usr/x", b"1").file("usr/.wh.x", b"")),
        ),
        (
            "opaque-after-own-entries",
            2,
            AMBIGUOUS,
            one(RawTar::new().dir("srv").file("srv/a", b"1").file("srv/.wh..wh..opq", b"")),
        ),
        (
            "symlink-replaced-by-directory",
            2,
            SECRET,
            layered(vec![
                RawTar::new().entry(Header::symlink("data", "tmp"), b""),
                RawTar::new().dir("data").file("data/.env", b"K=1\n"),
            ]),
        ),
        // ---- 3. JSON dialects
        (
            "user-after-User",
            3,
            AMBIGUOUS,
            with_text(|t| t.replace("\"User\":\"65532:65532\"", "\"User\":\"65532:65532\",\"user\":\"0\"")),
        ),
        (
            "lowercase-user-only",
            3,
            AMBIGUOUS,
            with_text(|t| t.replace("\"User\":\"65532:65532\"", "\"user\":\"65532\"")),
        ),
        (
            "long-s-user",
            3,
            AMBIGUOUS,
            with_text(|t| t.replace("\"User\":\"65532:65532\"", "\"User\":\"65532:65532\",\"U\u{017f}er\":\"0\"")),
        ),
        ("Config-beside-config", 3, AMBIGUOUS, with_text(|t| t.replacen('{', "{\"Config\":{\"User\":\"0\"},", 1))),
        (
            "duplicate-Entrypoint",
            3,
            AMBIGUOUS,
            with_text(|t| {
                t.replace(
                    "\"Entrypoint\":[\"/hello\"]",
                    "\"Entrypoint\":[\"/hello\"],\"Entrypoint\":[\"/bin/sh\",\"-c\",\"x\"]",
                )
            }),
        ),
        ("env-beside-Env", 3, AMBIGUOUS, with_text(|t| t.replace("\"Env\":[", "\"env\":[\"GOSUMDB=off\"],\"Env\":["))),
        (
            "kelvin-sign-working-dir",
            3,
            AMBIGUOUS,
            with_text(|t| t.replace("\"WorkingDir\":", "\"Wor\u{212a}ingDir\":\"/\",\"WorkingDir\":")),
        ),
        (
            "duplicate-label",
            3,
            AMBIGUOUS,
            with_text(|t| t.replace("\"Labels\":{", "\"Labels\":{\"org.opencontainers.image.source\":\"x\",")),
        ),
        ("manifest-Layers-beside-layers", 3, AMBIGUOUS, {
            let mut d = Derived::of("go-static-good");
            d.manifest_text = Some(|t| t.replacen('{', "{\"Layers\":[],", 1));
            d
        }),
        ("manifest-descriptor-Digest", 3, AMBIGUOUS, {
            let mut d = Derived::of("go-static-good");
            d.manifest_text = Some(|t| t.replacen("\"digest\":", "\"Digest\":\"sha256:0\",\"digest\":", 1));
            d
        }),
        // ---- 4. User and platform as the runtime parses them
        ("user-00", 4, USER, user("00")),
        ("user-plus-0", 4, USER, user("+0")),
        ("user-minus-0", 4, USER, user("-0")),
        ("user-0000-with-group", 4, USER, user("0000:65532")),
        ("user-name-mapped-to-uid-0", 4, USER, passwd_as("app:x:0:0::/:/sbin/nologin\n", "app")),
        ("user-name-with-bad-uid-field", 4, USER, passwd_as("svc:x:zero:0::/:/sbin/nologin\n", "svc")),
        ("user-name-not-in-passwd", 4, USER, passwd_as("other:x:1000:1000::/:/sbin/nologin\n", "ghost")),
        (
            "platform-amd64-twice-as-v1",
            4,
            Expect::Deny("GO-IDX-002"),
            platforms(
                json!([{"os": "linux", "architecture": "amd64"}, {"os": "linux", "architecture": "amd64", "variant": "v1"}]),
            ),
        ),
        (
            "platform-amd64-twice-as-x86_64",
            4,
            Expect::Deny("GO-IDX-002"),
            platforms(json!([{"os": "linux", "architecture": "amd64"}, {"os": "linux", "architecture": "x86_64"}])),
        ),
        // ---- 5. descriptors
        ("layer-size-understated", 5, AMBIGUOUS, {
            let mut d = one(RawTar::new().file("srv/.env", b"K=1\n"));
            let n = d.manifest["layers"][2]["size"].as_u64().unwrap();
            d.manifest["layers"][2]["size"] = json!(n - 512);
            d
        }),
        ("layer-sha512-digest-wrong", 5, AMBIGUOUS, {
            let mut d = Derived::of("go-static-good");
            d.push_layer_sha512(RawTar::new().file("srv/x", b"1").finish(), false);
            d
        }),
        // ---- 7. limits never hide evidence
        ("source-file-past-a-query-limit", 7, Expect::Deny("GO-FS-003"), {
            // 50,001 Go files the rule filters out (module cache), sorted
            // before the one it must find.
            let mut t = RawTar::new();
            for i in 0..50_001 {
                t = t.file(&format!("go/pkg/mod/m/f{i}.go"), b"");
            }
            one(t.file("srv/main.go", b"package main\n"))
        }),
    ];
    let mut out = Vec::new();
    for (i, (name, class, expect, derived)) in list.into_iter().enumerate() {
        let image = derived.write(&dir.join(format!("{i:02}-{name}")));
        out.push(Case { name, class, expect, image });
    }
    // A docker archive whose manifest.json names another image than its index.json.
    let two = dir.join("two-names");
    let mut evil = Derived::of("go-static-good");
    evil.runtime().insert("User".into(), json!("0"));
    let layout = evil.write(&two.join("layout"));
    let good = Derived::of("go-static-good");
    let config = serde_json::to_vec(&good.config).unwrap();
    let cd = portcullis::digest::Digest::sha256(&config).to_string();
    std::fs::write(layout.join("blobs/sha256").join(&cd[7..]), &config).unwrap();
    let layers: Vec<String> = good.manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| format!("blobs/sha256/{}", &l["digest"].as_str().unwrap()[7..]))
        .collect();
    let manifest = json!([{"Config": format!("blobs/sha256/{}", &cd[7..]), "RepoTags": ["app:v1"], "Layers": layers}]);
    std::fs::write(layout.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
    let archive = two.join("image.tar");
    crate::support::tar_dir(&layout, &archive);
    out.push(Case { name: "index-and-manifest-name-other-images", class: 5, expect: Expect::Refused, image: archive });
    out
}

#[test]
fn image_budgets_count_every_listed_copy_of_a_layer() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Derived::of("go-static-good");
    let mut t = RawTar::new();
    for i in 0..10 {
        t = t.file(&format!("srv/f{i}"), b"x");
    }
    let layer = t.finish();
    for _ in 0..3 {
        d.push_layer(layer.clone());
    }
    let image = d.write(dir.path());
    let opts = |max: u64| portcullis::source::OpenOptions {
        limits: portcullis::scan::ScanLimits { max_image_entries: max, ..Default::default() },
        ..Default::default()
    };
    let entries = |max| match &portcullis::source::open(&image, &opts(max)).unwrap().evidence[0] {
        portcullis::evidence::Evidence::Unreadable { reason, .. } => Err(reason.clone()),
        _ => Ok(()),
    };
    assert!(entries(10_000).is_ok());
    // The three copies hold 3 × 11 entries (a directory and ten files) on top of the fixture's.
    let err = entries(33).unwrap_err();
    assert!(err.contains("limit max-image-entries"), "{err}");
}

#[test]
fn crafted_images_are_judged_as_the_runtime_runs_them() {
    let dir = tempfile::tempdir().unwrap();
    let cases = cases(dir.path());
    assert!(cases.len() >= 60, "{} crafted images", cases.len());
    let engine = crate::support::default_engine();
    let mut wrong = Vec::new();
    for c in &cases {
        let opened = portcullis::source::open(&c.image, &Default::default());
        let verdict = match (&c.expect, opened) {
            (Expect::Refused, Err(e)) => format!("refused: {e}"),
            (Expect::Refused, Ok(_)) => {
                wrong.push(format!("{} (class {}): read, expected the input to be refused", c.name, c.class));
                continue;
            }
            (_, Err(e)) => {
                wrong.push(format!("{} (class {}): input refused ({e}), expected {:?}", c.name, c.class, c.expect));
                continue;
            }
            (expect, Ok(input)) => {
                let report = engine.audit(&input);
                let findings: Vec<_> = report.subjects.iter().flat_map(|s| &s.findings).collect();
                let (rule, want_deny) = match expect {
                    Expect::Deny(r) => (*r, true),
                    Expect::Pass(r) => (*r, false),
                    Expect::Refused => unreachable!(),
                };
                let denied = findings.iter().find(|f| f.rule == rule && f.effect == Effect::Deny);
                match (want_deny, denied) {
                    (true, Some(f)) => format!("{rule}: {}", f.message),
                    (false, None) if findings.iter().any(|f| f.rule == rule) => format!("{rule} passes"),
                    _ => {
                        let seen: Vec<String> = findings
                            .iter()
                            .filter(|f| f.effect == Effect::Deny)
                            .map(|f| format!("{} ({})", f.rule, f.message))
                            .collect();
                        wrong.push(format!("{} (class {}): expected {expect:?}; denied by {seen:?}", c.name, c.class));
                        continue;
                    }
                }
            }
        };
        println!("{:<44} class {}  {}", c.name, c.class, verdict.chars().take(160).collect::<String>());
    }
    assert!(wrong.is_empty(), "{} crafted images judged wrongly:\n{}", wrong.len(), wrong.join("\n"));
}
