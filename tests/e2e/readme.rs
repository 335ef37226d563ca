//! The README's quick start, run verbatim: every command of its `sh` blocks,
//! with the built `portcullis` first on the PATH, from the repository root.
//! A command that judges must reach a verdict (admit or deny, not a usage
//! error); `serve` must become ready on the address it names.

use crate::support::workspace;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The commands of the `sh` blocks between `## Quick start` and the next
/// section, continuation lines joined, comments dropped.
fn quick_start() -> Vec<String> {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let start = readme.find("\n## Quick start").expect("the README has a Quick start section");
    let rest = &readme[start + 1..];
    let section = &rest[..rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3)];
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in section.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block && line.trim() == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let line = match line.find(" #") {
            Some(i) => &line[..i],
            None => line,
        };
        match line.trim_end().strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(line.trim_end());
                if !pending.trim().is_empty() {
                    commands.push(pending.split_whitespace().collect::<Vec<_>>().join(" "));
                }
                pending.clear();
            }
        }
    }
    commands
}

fn shell(command: &str) -> Command {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_portcullis")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut c = Command::new("bash");
    c.args(["-c", command]).current_dir(workspace()).env("PATH", path);
    c
}

#[test]
fn the_quick_start_runs_verbatim() {
    let commands = quick_start();
    assert!(commands.len() >= 3, "the quick start lost its commands: {commands:?}");
    for command in &commands {
        assert!(command.starts_with("portcullis "), "a quick-start command that is not portcullis: {command}");
        if command.starts_with("portcullis serve") {
            let listen =
                command.split_whitespace().skip_while(|w| *w != "--listen").nth(1).expect("serve --listen ADDR");
            let mut child =
                shell(&format!("exec {command}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            let started = Instant::now();
            let ready = loop {
                let answer = std::net::TcpStream::connect(listen).ok().and_then(|mut s| {
                    use std::io::{Read, Write};
                    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
                    write!(s, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
                    let mut out = String::new();
                    s.read_to_string(&mut out).ok()?;
                    Some(out)
                });
                if answer.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 200")) {
                    break true;
                }
                if started.elapsed() > Duration::from_secs(120) || child.try_wait().unwrap().is_some() {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(200));
            };
            let _ = child.kill();
            let _ = child.wait();
            assert!(ready, "`{command}` never became ready on {listen}");
            continue;
        }
        let out = shell(command).output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let code = out.status.code().unwrap_or(-1);
        assert!(code == 0 || code == 1, "`{command}` exited {code}:\n{stderr}");
        assert!(stdout.contains("verdict: "), "`{command}` reached no verdict:\n{stdout}\n{stderr}");
    }
}
