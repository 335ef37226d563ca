//! The end-to-end tests, as one integration-test binary (the layout of
//! wasmtime's `tests/all`): each area is a module here, so the engine and its
//! dependencies are linked into one test executable instead of one per area,
//! and every area's tests share one process and run in parallel threads.
//! Nothing here may change process-wide state (environment variables, the
//! current directory): set such things on the child processes tests start.
//!
//! A new area is a file `tests/e2e/<area>.rs` declared with a `mod` line
//! below; `layout` fails when a file here is left undeclared.

mod support;

mod combine;
mod custom;
mod differential;
mod fidelity;
mod formats;
mod fuzzed;
mod gate;
mod gh_attestation;
mod hostile;
mod images;
mod inputs;
mod layout;
mod mutations;
mod nesting;
mod parsers;
mod policy;
mod provenance;
mod readme;
mod recognise;
mod registry;
mod sandbox;
mod sbom;
mod scan;
mod sct;
mod serve;
mod signatures;
mod signed_sbom;
mod suite;
mod supply_chain;
mod vulns;
