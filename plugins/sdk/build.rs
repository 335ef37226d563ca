//! Rebuilds the SDK when the contract changes: `wit_bindgen::generate!`
//! reads `wit/` at compile time, but cargo only watches files inside this
//! package, so an edited contract would otherwise leave stale bindings in
//! every guest.

fn main() {
    println!("cargo:rerun-if-changed=../../wit");
}
