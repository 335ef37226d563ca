//! How deep an untrusted document nests, measured before any recursive
//! parser sees it.
//!
//! Why this exists: the parsers the engine relies on descend recursively —
//! serde's derived deserialisers, `xml-rs` under `cyclonedx-bom`, the `nom`
//! grammar `spdx-rs` reads licence expressions with, libxml2's schema
//! validator — one stack frame or more per level. A document nested deeper
//! than the thread's stack allows does not fail, it aborts the process (a
//! stack overflow is not a panic; `catch_unwind` cannot stop it), and with it
//! every admission in flight. So every reader of untrusted JSON, XML or SPDX
//! tag-value first runs the matching scan here — iterative, linear, no
//! allocation — and a document deeper than [`Limits`] allow is an input error
//! of that subject, naming the byte where the limit was crossed.
//!
//! The limits are far above what real documents use (the deepest JSON in
//! the shared corpus nests 14 levels, a CronJob's AdmissionReview about 14,
//! licence expressions 2 or 3 parentheses) and well below what overflows the smallest
//! stack a parser runs on (2 MiB, the default of tokio's and rayon's
//! threads): `tests/e2e/nesting.rs` parses documents at every depth up to
//! 100,000 with every parser on a thread of that size.

use std::fmt;

/// The smallest stack every reader is proven to survive any input on
/// (`tests/e2e/nesting.rs` runs them on threads of this size). Threads the
/// engine's front doors start for parsing get [`THREAD_STACK`].
pub const PROVEN_STACK: usize = 2 << 20;

/// The stack the CLI and the server give their worker threads (tokio's and
/// rayon's): four times [`PROVEN_STACK`], so no environment setting
/// (`RUST_MIN_STACK`) or larger frame in another build can bring a parser
/// near the edge.
pub const THREAD_STACK: usize = 4 * PROVEN_STACK;

/// How deep documents may nest.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Arrays and objects (JSON), elements (XML).
    pub depth: usize,
    /// Parentheses inside one string (JSON), one text node (XML) or one
    /// line (tag-value): licence expressions are parsed recursively.
    pub parentheses: Option<usize>,
}

/// Structured documents: manifests, configs, statements, bundles, reviews.
/// Below serde_json's own limit of 128, so the error is ours and says where.
pub const DOCUMENT: Limits = Limits { depth: 100, parentheses: None };

/// SBOMs: nesting bounded lower, and licence expressions bounded too.
/// `cyclonedx-bom` spends about 40 KiB of stack per nested component in a
/// debug build (two levels: the component and its `components` array), so
/// 2 MiB overflowed at 48 components (depth 98); 32 levels is a third of
/// that, and twice the deepest SBOM in the shared corpus (14).
pub const SBOM: Limits = Limits { depth: 32, parentheses: Some(32) };

/// A document nested deeper than its reader accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooDeep {
    /// What nests: `arrays and objects`, `elements`, `parentheses`.
    pub what: &'static str,
    pub limit: usize,
    /// Byte offset of the opening that crossed the limit.
    pub offset: usize,
}

impl fmt::Display for TooDeep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "nested more than {} levels deep ({} at byte {}); documents this deep are refused, not parsed",
            self.limit, self.what, self.offset
        )
    }
}

impl std::error::Error for TooDeep {}

/// Checks a JSON document (valid or not: the parser judges validity, this
/// only bounds what it would descend into).
pub fn json(bytes: &[u8], limits: Limits) -> Result<(), TooDeep> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut parens = 0usize;
    for (offset, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else {
                match b {
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    b'(' => {
                        parens += 1;
                        check_parens(parens, limits, offset)?;
                    }
                    b')' => parens = parens.saturating_sub(1),
                    _ => {}
                }
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                parens = 0;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > limits.depth {
                    return Err(TooDeep { what: "arrays and objects", limit: limits.depth, offset });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Checks an XML document: element nesting, and parentheses within one
/// text node.
///
/// The scan must never see less nesting than a parser would, for any
/// input, well-formed or not (a campaign found a declaration whose `?>` was
/// damaged: skipping to a `?>` that never came hid 1,000 nested elements
/// that libxml2 and xml-rs then read). So it errs on the side of counting:
/// comments, declarations and processing instructions end at their first
/// `>` (or before a `<`); a CDATA section at its `]]>`, or — unterminated — not at all; a
/// start tag at its `>`, quotes respected, but at a `<` inside quotes too
/// (no parser lets a `<` into an attribute value).
pub fn xml(bytes: &[u8], limits: Limits) -> Result<(), TooDeep> {
    let mut depth = 0usize;
    let mut parens = 0usize;
    let mut i = 0;
    let count_parens = |text: &[u8], at: usize, parens: &mut usize| -> Result<(), TooDeep> {
        for (k, &c) in text.iter().enumerate() {
            match c {
                b'(' => {
                    *parens += 1;
                    check_parens(*parens, limits, at + k)?;
                }
                b')' => *parens = parens.saturating_sub(1),
                _ => {}
            }
        }
        Ok(())
    };
    while i < bytes.len() {
        if bytes[i] != b'<' {
            let end = memchr::memchr(b'<', &bytes[i..]).map_or(bytes.len(), |p| i + p);
            count_parens(&bytes[i..end], i, &mut parens)?;
            i = end;
            continue;
        }
        parens = 0;
        let rest = &bytes[i..];
        // Past the first `>`; a `<` before it ends the construct instead
        // (and is scanned next), so no tag can hide inside a damaged one.
        let past_first_gt = || match memchr::memchr2(b'>', b'<', &rest[1..]) {
            Some(p) if rest[1 + p] == b'>' => i + 1 + p + 1,
            Some(p) => i + 1 + p,
            None => bytes.len(),
        };
        if rest.starts_with(b"<![CDATA[") {
            // CDATA is text: its parentheses count like any other.
            match memchr::memmem::find(&rest[9..], b"]]>") {
                Some(p) => {
                    count_parens(&rest[9..9 + p], i + 9, &mut parens)?;
                    i += 9 + p + 3;
                }
                None => i += 9,
            }
        } else if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            i = past_first_gt();
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = past_first_gt();
        } else {
            // A start tag: to its `>` (quotes respected), or to a `<`.
            let mut quote = None;
            let mut j = i + 1;
            while j < bytes.len() {
                let c = bytes[j];
                match quote {
                    _ if c == b'<' => break,
                    Some(q) if c == q => quote = None,
                    Some(_) => {}
                    None if c == b'"' || c == b'\'' => quote = Some(c),
                    None if c == b'>' => break,
                    None => {}
                }
                j += 1;
            }
            let closed = j < bytes.len() && bytes[j] == b'>';
            let self_closing = closed && bytes[j - 1] == b'/' && j > i + 1;
            if !self_closing {
                depth += 1;
                if depth > limits.depth {
                    return Err(TooDeep { what: "elements", limit: limits.depth, offset: i });
                }
            }
            i = if closed { j + 1 } else { j };
        }
    }
    Ok(())
}

/// Checks line-oriented text (SPDX tag-value): parentheses within a line.
pub fn lines(text: &str, limits: Limits) -> Result<(), TooDeep> {
    let mut parens = 0usize;
    for (offset, b) in text.bytes().enumerate() {
        match b {
            b'\n' => parens = 0,
            b'(' => {
                parens += 1;
                check_parens(parens, limits, offset)?;
            }
            b')' => parens = parens.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn check_parens(parens: usize, limits: Limits, offset: usize) -> Result<(), TooDeep> {
    match limits.parentheses {
        Some(limit) if parens > limit => Err(TooDeep { what: "parentheses", limit, offset }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, n: usize) -> String {
        format!("{}{}", open.repeat(n), close.repeat(n))
    }

    #[test]
    fn json_depth_counts_structure_not_strings() {
        assert!(json(nested("[", "]", 100).as_bytes(), DOCUMENT).is_ok());
        let e = json(nested("[", "]", 101).as_bytes(), DOCUMENT).unwrap_err();
        assert_eq!((e.what, e.offset), ("arrays and objects", 100));
        // Brackets inside strings (and escaped quotes) are text.
        let text = format!(r#"{{"a": "{}\"{}"}}"#, "[".repeat(500), "{".repeat(500));
        assert!(json(text.as_bytes(), DOCUMENT).is_ok());
        // Unclosed openers count as well: the parser would descend first.
        assert!(json("{\"a\":".repeat(101).as_bytes(), DOCUMENT).is_err());
    }

    #[test]
    fn parentheses_are_bounded_per_string_only_where_asked() {
        let expr = format!(r#"{{"licenseConcluded": "{}MIT{}"}}"#, "(".repeat(33), ")".repeat(33));
        assert!(json(expr.as_bytes(), DOCUMENT).is_ok());
        assert_eq!(json(expr.as_bytes(), SBOM).unwrap_err().what, "parentheses");
        // Each string starts at zero.
        let many = format!(r#"["{0}", "{0}"]"#, "(".repeat(30));
        assert!(json(many.as_bytes(), SBOM).is_ok());
        assert!(lines(&format!("A: {}\nB: {}", "(".repeat(32), "(".repeat(32)), SBOM).is_ok());
        assert!(lines(&"(".repeat(33), SBOM).is_err());
    }

    #[test]
    fn xml_depth_skips_what_is_not_an_element() {
        let doc = format!("<?xml version=\"1.0\"?><!-- a > b --><r a=\"x>y\" b='/'>{}</r>", nested("<c>", "</c>", 99));
        assert!(xml(doc.as_bytes(), DOCUMENT).is_ok());
        let deep = format!("<r>{}</r>", nested("<c x=\"1\">", "</c>", 100));
        assert_eq!(xml(deep.as_bytes(), DOCUMENT).unwrap_err().what, "elements");
        // Self-closing elements do not nest.
        assert!(xml(format!("<r>{}</r>", "<c/>".repeat(1000)).as_bytes(), DOCUMENT).is_ok());
        let cdata = format!("<r><![CDATA[{}]]></r>", "(".repeat(40));
        assert!(xml(cdata.as_bytes(), SBOM).is_err());
        let doctype = "<!DOCTYPE r [<!ENTITY e \"<a>\">]><r/>";
        assert!(xml(doctype.as_bytes(), DOCUMENT).is_ok());
    }

    #[test]
    fn damaged_xml_is_never_counted_shallower_than_a_parser_reads_it() {
        let deep = nested("<c>", "</c>", 101);
        // Found by the campaign: a declaration whose `?>` lost its `?`.
        for head in
            ["<?xml version=\"1.0\"[>", "<?xml version=\"1.0\"", "<!-- never closed", "<![CDATA[", "<a b=\"unclosed>"]
        {
            let doc = format!("{head}{deep}");
            assert!(xml(doc.as_bytes(), DOCUMENT).is_err(), "{head} hid the nesting");
        }
    }
}
