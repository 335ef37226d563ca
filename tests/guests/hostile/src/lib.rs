//! A deliberately hostile policy plugin, used by the end-to-end tests to show
//! that the host contains every kind of misbehaviour: each rule is one attack.
//! A rule that manages its attack *passes* with what it obtained, so a broken
//! sandbox shows up as an admitted subject — the tests check for error + deny.
//! Only meaningful as a component: natively the crate is empty.
#![cfg(target_arch = "wasm32")]

use portcullis_sdk::{Enforcement, Finding, ParamProblem, Plugin, PluginMeta, RuleConfig, RuleMeta, Severity, Target};
use std::hint::black_box;
use std::io::Write;

struct Hostile;

const RULES: &[(&str, &str)] = &[
    ("HOSTILE-OK", "behaves: passes"),
    ("HOSTILE-LOOP", "spins forever"),
    ("HOSTILE-MEMORY", "allocates without bound"),
    ("HOSTILE-TRAP", "executes unreachable"),
    ("HOSTILE-PANIC", "panics"),
    ("HOSTILE-FLOOD", "returns a million findings"),
    ("HOSTILE-STDOUT", "writes to stdout forever"),
    ("HOSTILE-FILE", "reads /etc/passwd"),
    ("HOSTILE-SOCKET", "connects to a TCP port on localhost"),
    ("HOSTILE-ENV", "reads the environment"),
    ("HOSTILE-RECURSION", "recurses until the stack overflows"),
    ("HOSTILE-REMEMBER", "keeps what it saw in memory for the next subject"),
];

/// What HOSTILE-REMEMBER carries from call to call, were instances reused:
/// how many calls this memory has seen, and the subject of the last one.
static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
static LAST_SUBJECT: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

impl Plugin for Hostile {
    fn metadata() -> PluginMeta {
        PluginMeta {
            name: "hostile".into(),
            version: "0.0.1".into(),
            rules: RULES
                .iter()
                .map(|(id, what)| {
                    let meta =
                        RuleMeta::new(id, what, Severity::High, Enforcement::Enforce, what, "do not load this plugin");
                    if *id == "HOSTILE-SOCKET" {
                        meta.param("port", portcullis_sdk::ParamValue::Integer(9), "port to connect to")
                    } else {
                        meta
                    }
                })
                .collect(),
        }
    }

    fn check(_rules: Vec<RuleConfig>) -> Vec<ParamProblem> {
        Vec::new()
    }

    fn evaluate(target: Target, rules: Vec<RuleConfig>) -> Vec<Finding> {
        let mut out = Vec::new();
        for rule in &rules {
            let id = rule.id.as_str();
            match id {
                "HOSTILE-OK" => out.push(Finding::pass(id, "fine")),
                "HOSTILE-LOOP" => {
                    let mut x: u64 = 0;
                    loop {
                        x = black_box(x.wrapping_add(1));
                    }
                }
                "HOSTILE-MEMORY" => {
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        let mut chunk = vec![0u8; 16 << 20];
                        chunk[0] = 1;
                        hoard.push(black_box(chunk));
                    }
                }
                "HOSTILE-TRAP" => core::arch::wasm32::unreachable(),
                "HOSTILE-PANIC" => panic!("hostile plugin panics on purpose"),
                "HOSTILE-FLOOD" => {
                    for i in 0..1_000_000u32 {
                        out.push(Finding::fail(id, format!("flood {i}")));
                    }
                }
                "HOSTILE-STDOUT" => {
                    let line = [b'x'; 4096];
                    let mut stdout = std::io::stdout();
                    loop {
                        let _ = stdout.write_all(&line);
                    }
                }
                "HOSTILE-FILE" => {
                    let text = std::fs::read_to_string("/etc/passwd").expect("reading /etc/passwd");
                    out.push(Finding::pass(id, format!("read /etc/passwd: {text}")));
                }
                "HOSTILE-SOCKET" => {
                    let port = portcullis_sdk::Params::of(rule).integer("port", 9) as u16;
                    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connecting");
                    out.push(Finding::pass(id, format!("connected: {stream:?}")));
                }
                "HOSTILE-ENV" => {
                    let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                    if vars.is_empty() {
                        out.push(Finding::error(id, "environment is empty"));
                    } else {
                        out.push(Finding::pass(id, format!("leaked environment: {}", vars.join(","))));
                    }
                }
                "HOSTILE-RECURSION" => {
                    fn deep(n: u64) -> u64 {
                        let buf = black_box([n; 64]);
                        if n == u64::MAX { buf[0] } else { deep(n + 1) + buf[1] }
                    }
                    out.push(Finding::pass(id, format!("{}", deep(0))));
                }
                "HOSTILE-REMEMBER" => {
                    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    let digest = match &target {
                        Target::Image(i) => i.subject.digest.clone(),
                        Target::Index(i) => i.subject.digest.clone(),
                        Target::Artifact(a) => a.subject.digest.clone(),
                        Target::Workload(w) => w.subject.digest.clone(),
                    };
                    let mut last = LAST_SUBJECT.lock().unwrap_or_else(|e| e.into_inner());
                    let before = std::mem::replace(&mut *last, digest);
                    // Remembering anything is the attack succeeding.
                    if call > 1 || !before.is_empty() {
                        out.push(Finding::pass(id, format!("call {call}; the previous subject was {before}")));
                    } else {
                        out.push(Finding::fail(id, format!("call {call}; nothing remembered")));
                    }
                }
                other => out.push(Finding::error(other, "unknown rule")),
            }
        }
        out
    }
}

portcullis_sdk::export_plugin!(Hostile);
