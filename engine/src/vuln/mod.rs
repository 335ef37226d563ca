//! Known vulnerabilities, offline: an OSV database built by `db import`,
//! matched against what an image really contains.
//!
//! Data flows one way: `osv` reads records (strictly, at import), `db`
//! stores them, `ranges` decides whether a version is affected, `matcher`
//! turns a scanned image (Go binaries with their function tables, dpkg and
//! apk packages, SBOM components) into [`matcher::Matches`], which plugins
//! query through the contract's `vulnerabilities` interface and judge
//! (severity thresholds, reachability, grace periods, VEX).

pub mod db;
pub mod matcher;
pub mod osv;
pub mod ranges;
pub mod sarif;
pub mod severity;
pub mod vex;

pub use db::VulnDb;
pub use matcher::{Match, Matches, Reach};
