//! SBOMs: recognising, reading and validating CycloneDX and SPDX documents.
//!
//! - [`identify`] says which format and version a document is, from its
//!   content.
//! - [`parse`] reads it into the normalised [`Sbom`] model with the required
//!   crates — `cyclonedx-bom` (adapted for the spec versions it lacks, see
//!   `cyclonedx`) and `spdx-rs` (guarded against its strictness and panics,
//!   see `spdx`).
//! - [`validate`] reports schema violations the way the reference validators
//!   do, against the official schemas embedded in the binary.
//!
//! Every entry point takes bytes already bounded by [`read_file`]'s size
//! limit; nothing here panics on hostile input.

pub mod binding;
mod cyclonedx;
mod identify;
mod model;
mod spdx;
mod spdx3;
mod validate;
mod xml;

pub use binding::{Binding, ImageIdentity};
pub use identify::{Format, Identified, identify};
pub use model::{Component, Dependency, Hash, Sbom, Tool};
pub use validate::{Severity, Validation, Violation, validate};

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// An SBOM offered as evidence, with where it came from.
#[derive(Debug, Clone)]
pub struct Document {
    /// `file:PATH`, `referrer:DIGEST`, `attestation:DIGEST`.
    pub origin: String,
    /// Shared by the views of the document offered to each image.
    pub sbom: Arc<Sbom>,
    /// For an SBOM inside an in-toto statement: the digests the statement
    /// binds it to (its `subject`), which the document must agree with.
    pub bound_to: Option<Vec<String>>,
    /// What it binds to for the image it was offered to (see [`binding`]);
    /// `None` until offered.
    pub binding: Option<Binding>,
    /// The origin of the attestation that carried it (the signature
    /// material of the same layer), whose signature decides whether the
    /// document is trusted; `None` for files and bare SBOM blobs.
    pub attested_by: Option<String>,
}

impl Document {
    /// A document as read, not yet offered to an image.
    pub fn new(origin: String, sbom: Sbom, bound_to: Option<Vec<String>>) -> Document {
        Document { origin, sbom: Arc::new(sbom), bound_to, binding: None, attested_by: None }
    }
}

/// Whether an in-toto predicate type carries an SBOM
/// (`https://cyclonedx.org/bom[/vX]`, `https://spdx.dev/Document[/vX]`).
pub fn is_sbom_predicate(predicate_type: &str) -> bool {
    predicate_type.starts_with("https://cyclonedx.org/bom")
        || predicate_type.starts_with("https://cyclonedx.org/schema")
        || predicate_type.starts_with("https://spdx.dev/Document")
}

/// OCI media types of SBOM blobs (referrer artifacts, `cosign attach sbom`).
pub fn is_sbom_media_type(media_type: &str) -> bool {
    let m = media_type.split(';').next().unwrap_or_default().trim();
    matches!(
        m,
        "application/vnd.cyclonedx+json"
            | "application/vnd.cyclonedx+xml"
            | "application/vnd.cyclonedx"
            | "application/spdx+json"
            | "text/spdx"
            | "text/spdx+json"
            | "text/spdx+xml"
            | "application/vnd.syft+json"
    )
}

/// An SBOM that was supplied or found but could not be read.
#[derive(Debug, Clone)]
pub struct Problem {
    pub origin: String,
    pub message: String,
}

/// The SBOMs offered for one image subject, each with what it binds to for
/// it. Plugins decide which of them describe it.
#[derive(Debug, Clone, Default)]
pub struct Attached {
    pub documents: Vec<Arc<Document>>,
    pub problems: Vec<Problem>,
}

impl Attached {
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty() && self.problems.is_empty()
    }

    /// Reads SBOM files supplied by the user. A file that cannot be read is a
    /// [`Problem`] (plugins see it, and SC-SBOM-001 fails naming it), not a
    /// reason to stop the audit.
    pub fn from_files(paths: &[std::path::PathBuf], limit: u64) -> Attached {
        let mut out = Attached::default();
        for path in paths {
            let origin = format!("file:{}", path.display());
            match read_file(path, limit).and_then(|b| parse(&b)) {
                Ok(sbom) => out.documents.push(Arc::new(Document::new(origin, sbom, None))),
                Err(e) => out.problems.push(Problem { origin, message: e.to_string() }),
            }
        }
        out
    }

    pub fn extend(&mut self, other: &Attached) {
        self.documents.extend(other.documents.iter().cloned());
        self.problems.extend(other.problems.iter().cloned());
    }

    /// Offers `other`'s documents to one image: each is added as this
    /// image's view of it, with what it binds to here (the document itself
    /// is shared, not copied).
    pub fn offer(&mut self, other: &Attached, image: &ImageIdentity) {
        for d in &other.documents {
            let binding = binding::bind(d, image);
            self.documents.push(Arc::new(Document { binding: Some(binding), ..Document::clone(d) }));
        }
        self.problems.extend(other.problems.iter().cloned());
    }
}

/// Default largest SBOM read: syft's SPDX for a 600 MB Debian image is about
/// 6 MB, so 64 MiB leaves room for very large images while bounding memory.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is {size} bytes, over the {limit}-byte SBOM size limit (raise it with --max-sbom-bytes)")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("not a recognised SBOM: expected CycloneDX (JSON or XML), SPDX 2.x (JSON or tag-value) or SPDX 3 JSON-LD")]
    NotAnSbom,
    #[error("{what} is not supported (supported: {supported})")]
    Unsupported { what: String, supported: &'static str },
    #[error("line {line}, column {column}: {message}")]
    Syntax { line: usize, column: usize, message: String },
    #[error("at {pointer}: {message}")]
    Invalid { pointer: String, message: String },
    #[error("line {line}: {message}")]
    At { line: usize, message: String },
    #[error("{message}")]
    Parse { message: String },
}

/// Reads an SBOM file, refusing it before reading when it exceeds `limit`
/// bytes (and while reading, should it grow).
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, SbomError> {
    let io = |source| SbomError::Io { path: path.display().to_string(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let too_large = |size| SbomError::TooLarge { path: path.display().to_string(), size, limit };
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Parses a JSON document, turning a syntax error into its line and column.
pub(crate) fn json_value(bytes: &[u8]) -> Result<serde_json::Value, SbomError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    serde_json::from_slice(bytes).map_err(|e| SbomError::Syntax {
        line: e.line(),
        column: e.column(),
        message: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
    })
}

/// The error for a document [`identify`] does not recognise, naming the
/// SPDX serialisations that are recognisable but not supported.
pub(crate) fn unrecognised(bytes: &[u8]) -> SbomError {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64 << 10)]);
    let unsupported = |what: &str| SbomError::Unsupported {
        what: what.to_string(),
        supported: "SPDX as JSON or tag-value, CycloneDX as JSON or XML; convert with `pyspdxtools -i IN -o OUT.spdx.json`",
    };
    if bytes.starts_with(b"\xd0\xcf\x11\xe0") || (bytes.starts_with(b"PK\x03\x04") && head.contains("xl/")) {
        unsupported("an SPDX spreadsheet (xls/xlsx)")
    } else if head.trim_start().starts_with('<') && head.contains("rdf:RDF") && head.contains("spdx.org/rdf/terms") {
        unsupported("SPDX RDF/XML")
    } else if head.trim_start().starts_with('<') && head.contains("<spdxVersion>") {
        unsupported("SPDX XML")
    } else if head
        .lines()
        .any(|l| l.trim_start().starts_with("spdxVersion:") || l.trim_start().starts_with("\"spdxVersion\":"))
        && !head.trim_start().starts_with('{')
    {
        unsupported("SPDX YAML")
    } else {
        SbomError::NotAnSbom
    }
}

/// Refuses, before any parser descends into it, a document nested deeper
/// than [`crate::nesting::SBOM`] allows (JSON structure, XML elements,
/// licence-expression parentheses), and XML with a document type
/// declaration (no SBOM format has one; its entities could expand past
/// every limit). Called first by [`parse`] and [`validate`].
pub(crate) fn bounded(bytes: &[u8]) -> Result<(), SbomError> {
    use crate::nesting;
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let first = text.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let checked = match first {
        Some(b'{' | b'[') => nesting::json(text, nesting::SBOM),
        Some(b'<') => {
            if memchr::memmem::find(text, b"<!DOCTYPE").is_some() {
                return Err(SbomError::Parse {
                    message: "XML with a document type declaration (<!DOCTYPE>) is refused: no SBOM format uses one, and its entities could expand past every limit".into(),
                });
            }
            nesting::xml(text, nesting::SBOM)
        }
        _ => nesting::lines(&String::from_utf8_lossy(text), nesting::SBOM),
    };
    checked.map_err(|e| SbomError::Parse { message: e.to_string() })
}

/// Reads an SBOM document of any supported format into the normalised model.
pub fn parse(bytes: &[u8]) -> Result<Sbom, SbomError> {
    bounded(bytes)?;
    let id = identify(bytes).ok_or_else(|| unrecognised(bytes))?;
    match id.format {
        Format::CyclonedxJson => {
            cyclonedx::from_json_bytes(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes), &id.version)
        }
        Format::CyclonedxXml => cyclonedx::from_xml(bytes, &id.version),
        Format::SpdxJson if id.version.starts_with("2.") => {
            spdx::from_json_bytes(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes))
        }
        Format::SpdxJson if id.version.starts_with("3.") => spdx3::from_json(json_value(bytes)?, &id.version),
        Format::SpdxJson => {
            Err(SbomError::Unsupported { what: format!("SPDX {}", id.version), supported: "SPDX 2.2, 2.3, 3.0" })
        }
        Format::SpdxTagValue => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| SbomError::Parse { message: format!("tag-value document is not UTF-8: {e}") })?;
            spdx::from_tag_value(text)
        }
        Format::SyftJson => Err(SbomError::Unsupported {
            what: "syft's own JSON format".into(),
            supported: "CycloneDX or SPDX; `syft convert` turns syft JSON into either",
        }),
    }
}
