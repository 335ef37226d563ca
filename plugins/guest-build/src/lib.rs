//! Compiles guest plugin crates to WebAssembly components from a build script.
//!
//! Why this exists: builtin plugins are embedded in the `portcullis` binary and
//! the hostile test plugins are loaded by the end-to-end tests, so both must be
//! built by an ordinary `cargo build`/`cargo test` with no extra step — the way
//! wasmtime builds its own guest test programs. A build script cannot depend on
//! a crate for another target, so it runs a nested `cargo build
//! --target wasm32-wasip2` into a target directory of its own (next to the
//! outer one, shared by every build script that calls this).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every guest is compiled for.
pub const GUEST_TARGET: &str = "wasm32-wasip2";
/// The cargo profile guests are compiled with (see the workspace Cargo.toml).
pub const GUEST_PROFILE: &str = "guest";

/// Builds `packages` (workspace package names) as components and returns the
/// path of each `.wasm`, in the same order. Also tells cargo to re-run the
/// calling build script when any of `watch` (paths relative to the workspace
/// root) changes.
///
/// Panics with an actionable message on failure: a build script has no other
/// way to report one.
pub fn build_guests(packages: &[&str], watch: &[&str]) -> Vec<PathBuf> {
    let root = workspace_root();
    for w in watch {
        println!("cargo:rerun-if-changed={}", root.join(w).display());
    }
    println!("cargo:rerun-if-env-changed=PORTCULLIS_GUEST_CARGO_FLAGS");
    let target_dir = guest_target_dir().join(checkout_key(&root));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&root)
        .arg("build")
        .arg("--quiet")
        .arg("--target")
        .arg(GUEST_TARGET)
        .arg("--profile")
        .arg(GUEST_PROFILE)
        .arg("--target-dir")
        .arg(&target_dir);
    for p in packages {
        cmd.arg("-p").arg(p);
    }
    if let Ok(extra) = std::env::var("PORTCULLIS_GUEST_CARGO_FLAGS") {
        cmd.args(extra.split_whitespace());
    }
    // Flags meant for the host build must not leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("could not run `{cargo}` to build the guest plugins: {e}"));
    if !status.success() {
        panic!(
            "building guest plugins {packages:?} for {GUEST_TARGET} failed ({status}).\n\
             If the target is missing, install it with `rustup target add {GUEST_TARGET}` \
             (rust-toolchain.toml lists it, so rustup normally does this by itself)."
        );
    }
    packages
        .iter()
        .map(|p| {
            let file = target_dir.join(GUEST_TARGET).join(GUEST_PROFILE).join(format!("{}.wasm", p.replace('-', "_")));
            assert!(file.is_file(), "guest build produced no {}", file.display());
            file
        })
        .collect()
}

/// The workspace root: the nearest ancestor of the calling crate whose
/// Cargo.toml declares `[workspace]`.
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run from a build script"));
    let mut dir: &Path = &manifest;
    loop {
        let toml = dir.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&toml)
            && text.lines().any(|l| l.trim() == "[workspace]")
        {
            return dir.to_path_buf();
        }
        dir = dir.parent().expect("no workspace root above the build script's crate");
    }
}

/// A short name for the checkout: two checkouts sharing one outer target
/// directory (worktrees, CI clones beside a developer's) must not overwrite
/// each other's components, whose file names carry no hash of their sources.
fn checkout_key(root: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    root.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// `<outer target dir>/guests`, found from OUT_DIR
/// (`<target>/[<triple>/]<profile>/build/<pkg>-<hash>/out`).
fn guest_target_dir() -> PathBuf {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("run from a build script"));
    let build = out
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .expect("OUT_DIR is not under a `build` directory");
    // build -> profile -> (triple ->)? target
    let mut target = build.parent().and_then(Path::parent).expect("unexpected OUT_DIR layout");
    if target.join("CACHEDIR.TAG").exists() || target.parent().is_none() {
        return target.join("guests");
    }
    // cross builds have a <triple> level in between
    if let Some(up) = target.parent()
        && up.join("CACHEDIR.TAG").exists()
    {
        target = up;
    }
    target.join("guests")
}
