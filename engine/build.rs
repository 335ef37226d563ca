//! Compiles the builtin policy plugins (`plugins/*`) to WebAssembly components
//! so `src/plugin/builtin.rs` can embed them with `include_bytes!`.

fn main() {
    let builtins = [("image-config", "portcullis-plugin-image-config")];
    let packages: Vec<&str> = builtins.iter().map(|(_, p)| *p).collect();
    let wasm = portcullis_guest_build::build_guests(&packages, &["wit", "plugins/sdk", "plugins/image-config", "Cargo.toml"]);
    for ((name, _), path) in builtins.iter().zip(wasm) {
        let var = format!("PORTCULLIS_BUILTIN_{}", name.to_uppercase().replace('-', "_"));
        println!("cargo:rustc-env={var}={}", path.display());
    }
}
