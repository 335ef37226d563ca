//! Helpers shared by the end-to-end tests: where the shared corpus and images
//! are, running the `portcullis` binary, and building engines.
#![allow(dead_code)]

pub mod built;
pub mod cosign;
pub mod craft;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `../shared` next to the repository (CI puts it there), or
/// `$PORTCULLIS_SHARED`.
pub fn shared() -> PathBuf {
    if let Some(p) = std::env::var_os("PORTCULLIS_SHARED") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let shared = root.parent().expect("parent of the workspace").join("shared");
    assert!(
        shared.join("images").is_dir(),
        "the shared test data is missing: expected {} (or set PORTCULLIS_SHARED)",
        shared.display()
    );
    shared
}

pub fn image(rel: &str) -> PathBuf {
    shared().join("images").join(rel)
}

pub fn corpus(rel: &str) -> PathBuf {
    shared().join("corpus").join(rel)
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// A private component cache shared by every test of this process, so tests
/// never share state with the user's cache (entries are written atomically,
/// so tests running in parallel may fill it).
pub fn cache_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir")).path().to_path_buf()
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }
}

/// Runs the `portcullis` binary with `args`.
pub fn portcullis<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    portcullis_with_env(args, std::iter::empty::<(&str, &str)>())
}

/// Runs the `portcullis` binary with `args` and extra environment variables
/// `env` (set on the child only: the tests of every area share this process,
/// so none may change its environment).
pub fn portcullis_with_env<I, S, E, K, V>(args: I, env: E) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
    E: IntoIterator<Item = (K, V)>,
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    c.args(args).envs(env);
    run(c)
}

/// Runs a prepared `portcullis` command with the tests' cache and no colour.
fn run(mut c: Command) -> Run {
    let out: Output =
        c.env("PORTCULLIS_CACHE_DIR", cache_dir()).env("NO_COLOR", "1").output().expect("running portcullis");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs the `portcullis` binary with `args` in the directory `dir` (for
/// fixtures that name their files relative to where they sit).
pub fn portcullis_in(dir: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    c.args(args).current_dir(dir);
    run(c)
}

pub fn engine_with(policy: portcullis::Policy) -> portcullis::Engine {
    let options = portcullis::EngineOptions { cache_dir: Some(cache_dir()), today: None, ..Default::default() };
    portcullis::Engine::new(policy, options).expect("engine")
}

pub fn default_engine() -> portcullis::Engine {
    engine_with(portcullis::Policy::builtin_default())
}

pub fn open(path: &Path) -> portcullis::source::Input {
    portcullis::source::open(path, &Default::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// The outcome ("pass"/"fail"/"n/a"/"error") of `rule` for one subject of a
/// JSON report, folding several findings of one rule (any fail → fail) and
/// `skip` → `n/a` as FIXTURES.md writes it.
pub fn outcome_of(subject: &serde_json::Value, rule: &str) -> Option<String> {
    let outcomes: Vec<&str> = subject["findings"]
        .as_array()?
        .iter()
        .filter(|f| f["rule"] == rule)
        .filter_map(|f| f["outcome"].as_str())
        .collect();
    if outcomes.is_empty() {
        return None;
    }
    Some(
        if outcomes.contains(&"error") {
            "error"
        } else if outcomes.contains(&"fail") {
            "fail"
        } else if outcomes.iter().all(|o| *o == "skip") {
            "n/a"
        } else {
            "pass"
        }
        .to_string(),
    )
}

/// Copies a directory tree (used to tamper with a copy of a fixture).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
            let mut perm = std::fs::metadata(&dest).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&dest, perm).unwrap();
        }
    }
}

/// Packs a directory into an (uncompressed) tar archive, as `oci-archive` does.
pub fn tar_dir(dir: &Path, tar_path: &Path) {
    let f = std::fs::File::create(tar_path).unwrap();
    let mut b = tar::Builder::new(f);
    b.append_dir_all(".", dir).unwrap();
    b.finish().unwrap();
}

/// The message of the `portcullis/evidence` finding of the first subject of a
/// denied JSON report (unreadable or untrusted evidence).
pub fn evidence_message(run: &Run) -> String {
    assert_eq!(run.code, 1, "a broken subject is denied: {}\n{}", run.stdout, run.stderr);
    let r = run.json();
    let f = r["subjects"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "portcullis/evidence")
        .expect("an evidence finding")
        .clone();
    assert_eq!(f["effect"], "deny");
    f["message"].as_str().unwrap().to_string()
}

/// Judges a Deployment object by `engine`'s workload rules as admission
/// would (no image judged), asserts K8S-002..004 pass, and returns the
/// admission decision for further checks.
pub fn assert_passes_workload_rules(
    engine: &portcullis::Engine,
    deployment: &serde_json::Value,
) -> portcullis::admission::Admission {
    use portcullis::admission::{Admission, Workload};
    let request = serde_json::json!({"uid": "d", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"}, "object": deployment});
    let w = Workload::from_request(&request).unwrap().unwrap();
    let admission = Admission::decide(engine, &w, &[]);
    for rule in ["K8S-002", "K8S-003", "K8S-004"] {
        let f = admission.report.findings.iter().find(|f| f.rule == rule).unwrap_or_else(|| panic!("no {rule}"));
        assert_eq!(f.outcome, portcullis::model::Outcome::Pass, "{rule}: {}", f.message);
    }
    admission
}
