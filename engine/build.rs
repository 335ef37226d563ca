//! Compiles the guest plugins to WebAssembly components:
//! - the builtin policy plugins (`plugins/*`), which `src/plugin/builtin.rs`
//!   embeds with `include_bytes!`;
//! - the hostile test plugin (`tests/guests/hostile`), whose path the sandbox
//!   tests read from `PORTCULLIS_TEST_HOSTILE_WASM` (it is not embedded).
//!
//! One nested cargo invocation builds them all.

fn main() {
    let guests = [
        ("PORTCULLIS_BUILTIN_IMAGE_CONFIG", "portcullis-plugin-image-config"),
        ("PORTCULLIS_BUILTIN_GO_BINARY", "portcullis-plugin-go-binary"),
        ("PORTCULLIS_BUILTIN_GO_FILESYSTEM", "portcullis-plugin-go-filesystem"),
        ("PORTCULLIS_BUILTIN_GO_INDEX", "portcullis-plugin-go-index"),
        ("PORTCULLIS_BUILTIN_SBOM", "portcullis-plugin-sbom"),
        ("PORTCULLIS_BUILTIN_SIGNATURES", "portcullis-plugin-signatures"),
        ("PORTCULLIS_BUILTIN_KUBERNETES", "portcullis-plugin-kubernetes"),
        ("PORTCULLIS_BUILTIN_VULNERABILITIES", "portcullis-plugin-vulnerabilities"),
        ("PORTCULLIS_BUILTIN_CEL", "portcullis-plugin-cel"),
        ("PORTCULLIS_TEST_HOSTILE_WASM", "portcullis-guest-hostile"),
    ];
    let packages: Vec<&str> = guests.iter().map(|(_, p)| *p).collect();
    let wasm = portcullis_guest_build::build_guests(
        &packages,
        &[
            "wit",
            "plugins/sdk",
            "plugins/image-config",
            "plugins/go-binary",
            "plugins/go-filesystem",
            "plugins/go-index",
            "plugins/sbom",
            "plugins/signatures",
            "plugins/kubernetes",
            "plugins/vulnerabilities",
            "plugins/versions",
            "plugins/cel-lang",
            "plugins/cel",
            "tests/guests",
            "Cargo.toml",
        ],
    );
    for ((var, _), path) in guests.iter().zip(wasm) {
        println!("cargo:rustc-env={var}={}", path.display());
    }
}
