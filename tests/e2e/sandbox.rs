//! The sandbox: hostile plugins loaded as external plugins. Each attack must
//! end as an `error` finding and a deny, quickly, and leave the host able to
//! evaluate the next subject in the same process.

use crate::support;

use portcullis::{Policy, Verdict};
use std::path::Path;
use std::time::{Duration, Instant};

const HOSTILE: &str = env!("PORTCULLIS_TEST_HOSTILE_WASM");

const RULES: &[&str] = &[
    "HOSTILE-OK",
    "HOSTILE-LOOP",
    "HOSTILE-MEMORY",
    "HOSTILE-TRAP",
    "HOSTILE-PANIC",
    "HOSTILE-FLOOD",
    "HOSTILE-STDOUT",
    "HOSTILE-FILE",
    "HOSTILE-SOCKET",
    "HOSTILE-ENV",
    "HOSTILE-RECURSION",
    "HOSTILE-REMEMBER",
];

fn sha256_hex(path: &str) -> String {
    let bytes = std::fs::read(path).unwrap();
    portcullis::digest::Digest::sha256(&bytes).encoded().to_string()
}

/// A policy running the image-config plugin and only `attack` of the hostile one.
fn policy_text(attack: &str, extra_plugin_settings: &str, extra_rules: &str) -> String {
    let mut text = format!(
        "[policy]\nname = \"hostile-{attack}\"\nversion = \"1\"\n\n[plugins.image-config]\n\n[plugins.hostile]\npath = \"{HOSTILE}\"\nsha256 = \"{}\"\n{extra_plugin_settings}\n",
        sha256_hex(HOSTILE)
    );
    for r in RULES {
        if *r != attack {
            text.push_str(&format!("[rules.{r}]\nenabled = false\n"));
        }
    }
    text.push_str(extra_rules);
    text
}

fn engine_for(attack: &str, extra_rules: &str) -> portcullis::Engine {
    let policy = Policy::parse("hostile.toml", &policy_text(attack, "", extra_rules), None)
        .unwrap_or_else(|e| panic!("{}", e.render_plain()));
    support::engine_with(policy)
}

fn good_image() -> portcullis::source::Input {
    support::open(&support::image("oci/go-static-good"))
}

/// Runs one attack and checks the containment; returns the error message.
fn contained(attack: &str, extra_rules: &str) -> String {
    let engine = engine_for(attack, extra_rules);
    let input = good_image();
    for round in 0..2 {
        let start = Instant::now();
        let report = engine.audit(&input);
        let elapsed = start.elapsed();
        assert!(elapsed < Duration::from_secs(1), "{attack}: took {elapsed:?}");
        assert_eq!(report.verdict, Verdict::Deny, "{attack} round {round}: {}", report.to_json());
        let f = report.subjects[0].findings.iter().find(|f| f.rule == attack).expect("a finding for the attack");
        assert_eq!(f.outcome, portcullis::model::Outcome::Error, "{attack}: {f:?}");
        assert_eq!(f.effect, portcullis::report::Effect::Deny);
        // The well-behaved plugin next to it still ran and passed.
        let ok = report.subjects[0].findings.iter().filter(|f| f.rule.starts_with("GO-CFG")).count();
        assert_eq!(ok, 7, "{attack}: the image-config plugin's findings are all there");
    }
    // The next audit in the same process, with another engine, succeeds.
    let report = support::default_engine().audit(&input);
    assert_eq!(report.verdict, Verdict::Admit);

    engine.audit(&input).subjects[0].findings.iter().find(|f| f.rule == attack).unwrap().message.clone()
}

#[test]
fn infinite_loop_is_stopped() {
    let msg = contained("HOSTILE-LOOP", "");
    assert!(msg.contains("time limit") || msg.contains("fuel"), "{msg}");
}

#[test]
fn infinite_loop_with_plenty_of_fuel_hits_the_deadline() {
    let text = policy_text("HOSTILE-LOOP", "fuel = 1_000_000_000_000\ntimeout-ms = 100", "");
    let engine = support::engine_with(Policy::parse("hostile.toml", &text, None).unwrap());
    let start = Instant::now();
    let report = engine.audit(&good_image());
    assert!(start.elapsed() < Duration::from_secs(1));
    let f = report.subjects[0].findings.iter().find(|f| f.rule == "HOSTILE-LOOP").unwrap();
    assert!(f.message.contains("time limit of 100 ms"), "{}", f.message);
}

#[test]
fn memory_bomb_is_capped() {
    let msg = contained("HOSTILE-MEMORY", "");
    assert!(msg.contains("memory limit of 64 MiB"), "{msg}");
}

#[test]
fn trap_and_panic_are_errors() {
    let msg = contained("HOSTILE-TRAP", "");
    assert!(msg.contains("unreachable"), "{msg}");
    let msg = contained("HOSTILE-PANIC", "");
    assert!(msg.contains("unreachable") || msg.contains("panic"), "{msg}");
}

#[test]
fn stack_overflow_is_an_error() {
    let msg = contained("HOSTILE-RECURSION", "");
    assert!(msg.contains("stack") || msg.contains("memory") || msg.contains("fuel") || msg.contains("time"), "{msg}");
}

#[test]
fn output_floods_are_refused() {
    let msg = contained("HOSTILE-FLOOD", "");
    assert!(msg.contains("more than the limit") || msg.contains("memory limit"), "{msg}");
    let msg = contained("HOSTILE-STDOUT", "");
    assert!(msg.contains("time limit") || msg.contains("fuel"), "{msg}");
}

#[test]
fn host_files_are_out_of_reach() {
    let msg = contained("HOSTILE-FILE", "");
    assert!(!msg.contains("root:"), "leaked /etc/passwd: {msg}");
}

#[test]
fn network_is_out_of_reach() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let msg = contained("HOSTILE-SOCKET", &format!("[rules.HOSTILE-SOCKET]\nparams = {{ port = {port} }}\n"));
    assert!(!msg.contains("connected"), "{msg}");
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the plugin reached the host's socket: {other:?}"),
    }
}

#[test]
fn environment_is_empty() {
    // In this process: the host's environment is not empty (cargo and the
    // shell set plenty), yet the plugin sees none of it.
    assert!(std::env::vars_os().next().is_some(), "the test needs a non-empty host environment");
    let msg = contained("HOSTILE-ENV", "");
    assert!(msg.contains("environment is empty"), "{msg}");
    // And a secret in the environment of a `portcullis` process stays there.
    // It is set on the child only: every area's tests share this process, and
    // setting a variable here would race with the threads reading it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, policy_text("HOSTILE-ENV", "", "")).unwrap();
    let run = support::portcullis_with_env(
        [
            "audit".to_string(),
            "-f".into(),
            "json".into(),
            "--policy".into(),
            file.display().to_string(),
            support::image("oci/go-static-good").display().to_string(),
        ],
        [("PORTCULLIS_SECRET_FOR_TEST", "hunter2")],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let r = run.json();
    let f =
        r["subjects"][0]["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "HOSTILE-ENV").unwrap().clone();
    assert_eq!(f["outcome"], "error", "{f}");
    assert_eq!(f["message"], "environment is empty", "{f}");
}

/// Every call runs in a fresh instance: a plugin that keeps a count of its
/// calls, and the last subject it saw, in its memory sees 1 and nothing,
/// every time — for the platforms of one index judged in parallel, for
/// audits one after another, and on reused (kept-resident) instance slots.
#[test]
fn nothing_carries_over_from_one_call_to_the_next() {
    let engine = engine_for("HOSTILE-REMEMBER", "");
    let inputs = [good_image(), support::open(&support::image("oci/go-static-multiarch"))];
    let mut calls = 0;
    for round in 0..50 {
        for input in &inputs {
            let report = engine.audit(input);
            for s in &report.subjects {
                for f in s.findings.iter().filter(|f| f.rule == "HOSTILE-REMEMBER") {
                    assert_eq!(
                        f.outcome,
                        portcullis::model::Outcome::Fail,
                        "round {round}, {}: {}",
                        s.digest,
                        f.message
                    );
                    assert_eq!(f.message, "call 1; nothing remembered");
                    calls += 1;
                }
            }
        }
    }
    assert!(calls > 100, "the rule ran on every subject ({calls} calls)");
}

#[test]
fn a_well_behaved_external_plugin_admits() {
    let engine = engine_for("HOSTILE-OK", "");
    let report = engine.audit(&good_image());
    assert_eq!(report.verdict, Verdict::Admit, "{}", report.to_json());
}

#[test]
fn sha256_pin_mismatch_refuses_to_load() {
    let dir = tempfile::tempdir().unwrap();
    let text = policy_text("HOSTILE-OK", "", "").replace(&sha256_hex(HOSTILE), &"0".repeat(64));
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, text).unwrap();
    let run = support::portcullis([
        "audit".to_string(),
        "--policy".into(),
        file.display().to_string(),
        support::image("oci/go-static-good").display().to_string(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("sha256 mismatch") && run.stderr.contains("refusing to load"), "{}", run.stderr);
}

#[test]
fn non_components_are_rejected_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [("garbage.wasm", b"not wasm at all".to_vec()), ("core.wasm", b"\0asm\x01\0\0\0".to_vec())] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let sha = portcullis::digest::Digest::sha256(&bytes).encoded().to_string();
        let text = format!(
            "[policy]\nname = \"x\"\nversion = \"1\"\n[plugins.bad]\npath = \"{}\"\nsha256 = \"{sha}\"\n",
            path.display()
        );
        let policy = Policy::parse("bad.toml", &text, None).unwrap();
        let err = portcullis::Engine::new(
            policy,
            portcullis::EngineOptions { cache_dir: None, today: None, ..Default::default() },
        )
        .err()
        .expect("load fails");
        let msg = err.to_string();
        assert!(msg.contains("plugin `bad`"), "{name}: {msg}");
    }
}

#[test]
fn hostile_audit_from_the_cli_denies_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, policy_text("HOSTILE-TRAP", "", "")).unwrap();
    let run = support::portcullis([
        "audit".to_string(),
        "-f".into(),
        "json".into(),
        "--policy".into(),
        file.display().to_string(),
        support::image("oci/go-static-good").display().to_string(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let r = run.json();
    let f =
        r["subjects"][0]["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "HOSTILE-TRAP").unwrap().clone();
    assert_eq!(f["outcome"], "error");
    assert!(Path::new(HOSTILE).is_file());
}

/// A copy of the hostile guest with `from` replaced by `to` (of the same
/// length, so the component stays valid): how a component built for another
/// contract, or importing an interface of its own, looks to the host.
fn renamed(dir: &std::path::Path, file: &str, from: &str, to: &str) -> (std::path::PathBuf, String) {
    assert_eq!(from.len(), to.len());
    let bytes = std::fs::read(HOSTILE).unwrap();
    let needle = from.as_bytes();
    assert!(bytes.windows(needle.len()).any(|w| w == needle), "{from} is not in the guest");
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(needle) {
            out.extend_from_slice(to.as_bytes());
            i += needle.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let path = dir.join(file);
    std::fs::write(&path, &out).unwrap();
    let sha = portcullis::digest::Digest::sha256(&out).encoded().to_string();
    (path, sha)
}

/// The contract is checked by name before anything is linked: a component
/// built for another `portcullis:policy` version is refused naming both
/// versions, one importing an interface the contract does not grant is
/// refused naming it, and one built for an older compatible version loads.
/// `plugin inspect` says the same without a policy.
#[test]
fn components_built_for_another_contract_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "newer.wasm",
            "portcullis:policy/plugin@0.4.4",
            "portcullis:policy/plugin@0.9.3",
            Some("it was built for portcullis:policy@0.9.3; this host speaks portcullis:policy@0.4.4"),
        ),
        (
            "extra.wasm",
            "portcullis:policy/types@0.4.4",
            "portcullis:xolicy/types@0.4.4",
            Some("it imports `portcullis:xolicy/types@0.4.4`, which the contract does not grant"),
        ),
        ("older.wasm", "@0.4.4", "@0.4.1", None),
    ];
    for (file, from, to, refusal) in cases {
        let (path, sha) = renamed(dir.path(), file, from, to);
        let policy = dir.path().join(format!("{file}.toml"));
        std::fs::write(
            &policy,
            format!(
                "[policy]\nname = \"p\"\nversion = \"1\"\n\n[plugins.ext]\npath = \"{file}\"\nsha256 = \"{sha}\"\n"
            ),
        )
        .unwrap();
        let check = support::portcullis(["policy", "check", policy.to_str().unwrap()]);
        let inspect = support::portcullis(["plugin", "inspect", path.to_str().unwrap(), "--format", "json"]);
        let seen = inspect.json();
        match refusal {
            Some(why) => {
                assert_eq!(check.code, 2, "{file}: {}", check.stderr);
                assert!(
                    check.stderr.contains(&format!("plugin `ext` cannot be loaded: {why}")),
                    "{file}: {}",
                    check.stderr
                );
                assert_eq!(inspect.code, 2, "{file}");
                assert!(seen["problem"].as_str().unwrap().contains(why), "{file}: {seen}");
                assert!(seen["rules"].as_array().unwrap().is_empty());
            }
            None => {
                assert_eq!(check.code, 0, "{file}: {}", check.stderr);
                assert_eq!(inspect.code, 0, "{file}: {}", inspect.stderr);
                assert_eq!(seen["contract"], "0.4.1", "{seen}");
                assert!(!seen["rules"].as_array().unwrap().is_empty(), "{seen}");
            }
        }
    }
}

#[test]
fn inspect_describes_a_builtin_plugin() {
    let run = support::portcullis(["plugin", "inspect", "builtin:image-config", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = run.json();
    assert_eq!(seen["name"], "image-config");
    assert_eq!(seen["contract"], "0.4.4");
    assert!(seen["problem"].is_null());
    assert_eq!(seen["sha256"].as_str().unwrap().len(), 64);
    let imports: Vec<&str> = seen["imports"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    assert!(imports.contains(&"portcullis:policy/filesystem@0.4.4"), "{imports:?}");
    assert!(imports.iter().all(|i| i.starts_with("portcullis:policy/") || i.starts_with("wasi:")), "{imports:?}");
    let rules: Vec<&str> = seen["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(rules.contains(&"GO-CFG-001"), "{rules:?}");
    let human = support::portcullis(["plugin", "inspect", "builtin:image-config"]);
    assert!(
        human.stdout.contains("contract  portcullis:policy@0.4.4") && human.stdout.contains("GO-CFG-001"),
        "{}",
        human.stdout
    );
    let missing = support::portcullis(["plugin", "inspect", "builtin:nope"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("no builtin plugin named `nope` (there are: image-config"), "{}", missing.stderr);
}
