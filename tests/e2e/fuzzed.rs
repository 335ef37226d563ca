//! Replays what the coverage-guided fuzz campaign (`bash bench/fuzz.sh`)
//! found: every input kept under `fuzz/regressions/<target>/` goes through
//! the same entry point the fuzzer ran (`portcullis::fuzzing`), and must be
//! refused or read, never panic. Also keeps the fuzz crate and the entry
//! points in step: one `fuzz/fuzz_targets/<name>.rs` per target, and no
//! regression folder for a target that does not exist.

use crate::support;

#[test]
fn kept_fuzz_inputs_are_refused_or_read_without_a_panic() {
    let fuzz = support::workspace().join("fuzz");
    for target in portcullis::fuzzing::TARGETS {
        let file = fuzz.join("fuzz_targets").join(format!("{target}.rs"));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            text.contains(&format!("portcullis::fuzzing::{target}(")),
            "{} runs another entry point",
            file.display()
        );
    }
    let mut replayed = 0;
    let regressions = fuzz.join("regressions");
    for dir in std::fs::read_dir(&regressions).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue; // the folder's README
        }
        let target = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(portcullis::fuzzing::TARGETS.contains(&target.as_str()), "{}: no such fuzz target", dir.display());
        for input in std::fs::read_dir(&dir).unwrap() {
            let input = input.unwrap().path();
            if input.extension().is_some_and(|e| e == "md") {
                continue;
            }
            let bytes = std::fs::read(&input).unwrap();
            let (t, name) = (target.clone(), input.display().to_string());
            // The engine's own stack for parsers (their nesting bounds assume it).
            let run = std::thread::Builder::new()
                .stack_size(portcullis::nesting::THREAD_STACK)
                .spawn(move || portcullis::fuzzing::one(&t, &bytes))
                .unwrap()
                .join();
            assert!(run.is_ok(), "{name} panics again in target {target}");
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no kept input under {}", regressions.display());
}
