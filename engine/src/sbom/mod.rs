//! SBOMs (issue #5, first part): recognising which SBOM format and version a
//! document is, without trusting its file name. Parsing into a normalised
//! model, validation and the SC-SBOM rules build on this.

mod identify;

pub use identify::{Format, Identified, identify};
