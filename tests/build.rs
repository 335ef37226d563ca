//! Builds the hostile guest plugin the sandbox tests load as an external plugin.

fn main() {
    let wasm = portcullis_guest_build::build_guests(
        &["portcullis-guest-hostile"],
        &["wit", "plugins/sdk", "tests/guests/hostile", "Cargo.toml"],
    );
    println!("cargo:rustc-env=PORTCULLIS_HOSTILE_WASM={}", wasm[0].display());
}
