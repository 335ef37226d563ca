//! Portcullis decides whether a container image may pass — into a registry,
//! into a cluster, out of a release pipeline — by running policy plugins
//! (sandboxed WebAssembly components) over evidence extracted from the image,
//! and returns an admit/deny verdict with its reasons.
//!
//! Data flows one way: [`source`] (input) → [`evidence`] → plugins →
//! verdict ([`Engine`]) → [`report`].
//!
//! ```no_run
//! use portcullis::{Engine, EngineOptions, Policy, Verdict, source};
//!
//! // Load the embedded default policy and its builtin plugins once...
//! let engine = Engine::new(Policy::builtin_default(), EngineOptions::default())?;
//! // ...then judge as many inputs as you like, from any thread.
//! let input = source::open("image-layout/".as_ref(), &source::OpenOptions::default())?;
//! let report = engine.audit(&input);
//! if report.verdict == Verdict::Deny {
//!     for subject in &report.subjects {
//!         for f in subject.findings.iter().filter(|f| f.effect == portcullis::report::Effect::Deny) {
//!             eprintln!("{} {}: {}", subject.digest, f.rule, f.message);
//!         }
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod admission;
pub mod attestation;
pub mod blob;
pub mod digest;
mod engine;
pub mod evidence;
pub mod fuzzing;
pub mod gate;
pub mod model;
pub mod nesting;
pub mod oci;
mod plugin;
pub mod policy;
pub mod registry;
pub mod report;
pub mod sbom;
pub mod scan;
pub mod serve;
pub mod signature;
pub mod slsa;
pub mod source;
pub mod suite;
pub mod tarstream;
pub mod vuln;

pub use engine::{ADMISSION_RULE, EVIDENCE_RULE, Engine, EngineError, EngineOptions};
pub use plugin::{Inspection, LoadError, PluginInfo, inspect as inspect_plugin};
pub use policy::Policy;
pub use report::{Report, Verdict};

mod quiet;
pub(crate) use quiet::quiet_panics;
