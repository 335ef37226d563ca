//! The layout of this test binary: every `tests/e2e/<area>.rs` (and every
//! `tests/e2e/<area>/mod.rs`) must be declared as a module in `main.rs`.
//! Cargo compiles only what `main.rs` declares, so an undeclared file's tests
//! would silently never run.

use std::collections::BTreeSet;
use std::path::Path;

/// The names declared by `mod NAME;` lines of `main.rs`.
fn declared_modules(main_rs: &str) -> BTreeSet<String> {
    main_rs
        .lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod ")))
        .filter_map(|rest| rest.strip_suffix(';'))
        .map(|name| name.trim().to_string())
        .collect()
}

/// The module names the files and folders of `dir` would have.
fn module_files(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
        if path.is_dir() {
            if path.join("mod.rs").is_file() {
                found.push((name.clone(), format!("{name}/mod.rs")));
            }
        } else if let Some(stem) = name.strip_suffix(".rs")
            && stem != "main"
        {
            found.push((stem.to_string(), name.clone()));
        }
    }
    found.sort();
    found
}

#[test]
fn every_test_file_is_a_module_of_main() {
    let dir = crate::support::workspace().join("tests/e2e");
    let main_rs = std::fs::read_to_string(dir.join("main.rs")).expect("reading tests/e2e/main.rs");
    let declared = declared_modules(&main_rs);
    let missing: Vec<String> = module_files(&dir)
        .into_iter()
        .filter(|(module, _)| !declared.contains(module))
        .map(|(module, file)| format!("tests/e2e/{file} (add `mod {module};` to tests/e2e/main.rs)"))
        .collect();
    assert!(
        missing.is_empty(),
        "test files that are not part of the e2e test binary, so never run: {}",
        missing.join(", ")
    );
}
