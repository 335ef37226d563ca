//! CycloneDX XML validation against the official XSDs, with libxml2.
//!
//! No Rust crate validates XSD; libxml2 does (it is what `xmllint --schema`
//! runs), through the `libxml` crate. Two things are set up around it:
//! - an external-entity loader that serves the embedded `spdx.xsd` the
//!   CycloneDX XSDs import, and refuses every other URL — so neither the
//!   schemas nor a hostile document can reach the network or the file system
//!   (no XXE);
//! - a per-thread cache of compiled schemas (a libxml2 schema context is not
//!   shareable across threads).

use super::SbomError;
use super::validate::{Severity, Violation};
use libxml::bindings;
use libxml::parser::{Parser, ParserOptions, XmlParseFailure};
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;
use std::os::raw::c_char;
use std::sync::Once;

macro_rules! xsd {
    ($file:literal) => {
        concat!(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/cyclonedx/", $file)), "\0")
    };
}

/// The embedded XSDs by the names and URLs they are imported under,
/// NUL-terminated for libxml2.
static SCHEMAS_BY_NAME: &[(&str, &str)] = &[
    ("bom-1.0.xsd", xsd!("bom-1.0.xsd")),
    ("bom-1.1.xsd", xsd!("bom-1.1.xsd")),
    ("bom-1.2.xsd", xsd!("bom-1.2.xsd")),
    ("bom-1.3.xsd", xsd!("bom-1.3.xsd")),
    ("bom-1.4.xsd", xsd!("bom-1.4.xsd")),
    ("bom-1.5.xsd", xsd!("bom-1.5.xsd")),
    ("bom-1.6.xsd", xsd!("bom-1.6.xsd")),
    ("bom-1.7.xsd", xsd!("bom-1.7.xsd")),
    ("spdx.xsd", xsd!("spdx.xsd")),
    ("http://cyclonedx.org/schema/spdx", xsd!("spdx.xsd")),
    // Extensions the 1.x schemas admit with lax processing; known, they are checked.
    ("dependency-graph-1.0.xsd", xsd!("dependency-graph-1.0.xsd")),
    ("vulnerability-1.0.xsd", xsd!("vulnerability-1.0.xsd")),
];

const VERSIONS: [&str; 8] = ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7"];

/// A schema that imports the BOM schema of `version` and the known
/// extension schemas, so extension elements are validated as CycloneDX's
/// own test suite does.
fn wrapper(version: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:import namespace="http://cyclonedx.org/schema/bom/{version}" schemaLocation="bom-{version}.xsd"/>
  <xs:import namespace="http://cyclonedx.org/schema/ext/dependency-graph/1.0" schemaLocation="dependency-graph-1.0.xsd"/>
  <xs:import namespace="http://cyclonedx.org/schema/ext/vulnerability/1.0" schemaLocation="vulnerability-1.0.xsd"/>
</xs:schema>"#
    )
}

/// The only external resource libxml2 may load: the SPDX licence XSD.
unsafe extern "C" fn embedded_only(
    url: *const c_char,
    _id: *const c_char,
    ctxt: bindings::xmlParserCtxtPtr,
) -> bindings::xmlParserInputPtr {
    if url.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: libxml2 passes a NUL-terminated URL.
    let url = unsafe { CStr::from_ptr(url) }.to_string_lossy();
    let name = if url.starts_with("http://cyclonedx.org/schema/spdx") {
        &url[..]
    } else {
        url.rsplit('/').next().unwrap_or("")
    };
    match SCHEMAS_BY_NAME.iter().find(|(n, _)| *n == name) {
        // SAFETY: the buffer is 'static and NUL-terminated; libxml2 reads it in place.
        Some((_, text)) => unsafe { bindings::xmlNewStringInputStream(ctxt, text.as_ptr()) },
        None => std::ptr::null_mut(),
    }
}

fn install_loader() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Initialise the parser library before touching its globals.
        let _ = Parser::default();
        // SAFETY: sets a process-wide function pointer once, before any use.
        unsafe { bindings::xmlSetExternalEntityLoader(Some(embedded_only)) };
    });
}

thread_local! {
    static SCHEMAS: RefCell<HashMap<&'static str, SchemaValidationContext>> = RefCell::new(HashMap::new());
}

fn located(e: &libxml::error::StructuredError) -> Violation {
    let location = match (e.line, e.col) {
        (Some(l), Some(c)) if c > 0 => format!("line {l}:{c}"),
        (Some(l), _) => format!("line {l}"),
        _ => "document".into(),
    };
    let message = e.message.as_deref().unwrap_or("(no message)").trim().to_string();
    Violation { severity: Severity::Error, location, message }
}

/// Validates a CycloneDX XML document against the XSD of `version`.
pub(super) fn validate_cyclonedx(bytes: &[u8], version: &str) -> Result<(String, Vec<Violation>), SbomError> {
    let Some(key) = VERSIONS.iter().copied().find(|v| *v == version) else {
        return Err(SbomError::Unsupported {
            what: format!("CycloneDX XML {version}"),
            supported: "CycloneDX XML 1.0 to 1.7",
        });
    };
    install_loader();
    let options = ParserOptions { no_net: true, ..Default::default() };
    let doc = match Parser::default().parse_string_with_diagnostics(bytes, options) {
        Ok((doc, _)) => doc,
        Err(XmlParseFailure::ParseFailed(errors)) => {
            let first = errors.first().map(located);
            return Err(match first {
                Some(v) => {
                    SbomError::Parse { message: format!("not well-formed XML at {}: {}", v.location, v.message) }
                }
                None => SbomError::Parse { message: "not well-formed XML".into() },
            });
        }
        Err(e) => return Err(SbomError::Parse { message: format!("cannot parse XML: {e:?}") }),
    };
    let violations = SCHEMAS.with(|cache| -> Result<Vec<Violation>, SbomError> {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(key) {
            // libxml2 reads the buffer in place: it must outlive the compilation.
            let text = wrapper(key);
            let mut parser = SchemaParserContext::from_buffer(&text);
            let ctx = SchemaValidationContext::from_parser(&mut parser).map_err(|errors| SbomError::Parse {
                message: format!(
                    "embedded bom-{version}.xsd did not compile: {}",
                    errors.iter().map(|e| located(e).message).collect::<Vec<_>>().join("; ")
                ),
            })?;
            cache.insert(key, ctx);
        }
        let ctx = cache.get_mut(key).expect("inserted above");
        Ok(match ctx.validate_document(&doc) {
            Ok(()) => Vec::new(),
            Err(errors) => errors.iter().map(located).collect(),
        })
    })?;
    Ok((format!("bom-{version}.xsd"), violations))
}

/// Rewrites a CycloneDX 1.6/1.7 XML document into the 1.5 shape
/// `cyclonedx-bom` reads: elements 1.5 lacks and the model does not use are
/// removed and `expression-detailed` licences become plain `expression`s
/// (the namespace is the caller's to move). Returns the rewritten document
/// and how many elements were changed.
pub(super) fn lower_cyclonedx(bytes: &[u8]) -> Result<(String, usize), SbomError> {
    install_loader();
    let options = ParserOptions { no_net: true, ..Default::default() };
    let doc = Parser::default()
        .parse_string_with_options(bytes, options)
        .map_err(|e| SbomError::Parse { message: format!("not well-formed XML: {e:?}") })?;
    let Some(root) = doc.get_root_element() else {
        return Err(SbomError::Parse { message: "XML document has no root element".into() });
    };
    let mut changed = 0;
    let mut stack = vec![root];
    while let Some(mut node) = stack.pop() {
        let name = node.get_name();
        let parent = node.get_parent().map(|p| p.get_name()).unwrap_or_default();
        match (parent.as_str(), name.as_str()) {
            // Added in 1.6/1.7; the model does not use them.
            ("dependency", "provides") | ("reference", "properties") => {
                node.unlink_node();
                changed += 1;
                continue;
            }
            ("licenses", "expression-detailed") => {
                let expr = node.get_attribute("expression").unwrap_or_default();
                for mut child in node.get_child_nodes() {
                    child.unlink_node();
                }
                let _ = node.remove_property("expression");
                let _ = node.remove_property("acknowledgement");
                let _ = node.set_name("expression");
                let _ = node.set_content(&expr);
                changed += 1;
                continue;
            }
            ("licenses", "license" | "expression") if node.has_attribute("acknowledgement") => {
                let _ = node.remove_property("acknowledgement");
                changed += 1;
            }
            _ => {}
        }
        stack.extend(node.get_child_elements());
    }
    Ok((doc.to_string(), changed))
}
