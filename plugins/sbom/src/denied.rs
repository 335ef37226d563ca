//! SC-SBOM-004: components against a deny list.
//!
//! An entry is a package URL whose version is a range, and which may carry
//! qualifiers: `pkg:deb/debian/openssl@>=3.0.0, <3.0.14?distro=debian-12`.
//! A component matches when its purl means the same package (see
//! `identity`): the same type, namespace when the entry has one, every
//! qualifier of the entry, and the entry's name as its binary name — or as
//! its source package, so `openssl` catches `libssl3`, compared then with
//! the source's version when the purl gives one. Versions are ordered the
//! way the ecosystem orders them (see `versions`).

use crate::identity::Purl;
use crate::versions::{Range, Scheme};
use portcullis_sdk::sboms::Document;
use portcullis_sdk::{Finding, Params, RuleConfig};

/// One deny-list entry: a purl without version, and a range.
#[derive(Debug)]
pub(crate) struct Denied {
    purl: Purl,
    range: Range,
    text: String,
}

pub(crate) fn parse_denied(entry: &str) -> Result<Denied, String> {
    // Qualifiers and subpath follow the range, which holds neither `?` nor `#`.
    let end = entry.find(['?', '#']).unwrap_or(entry.len());
    let (head, tail) = entry.split_at(end);
    // The range follows the last `@` that is after the name.
    let (purl, range) = match head.rfind('@') {
        Some(at) if at > head.rfind('/').unwrap_or(0) => (&head[..at], &head[at + 1..]),
        _ => (head, ""),
    };
    let purl = Purl::parse(&format!("{purl}{tail}")).map_err(|e| format!("`{entry}`: not a purl: {e}"))?;
    let range = Range::parse(range).map_err(|e| format!("`{entry}`: {e}"))?;
    Ok(Denied { purl, range, text: entry.to_string() })
}

impl Denied {
    /// The version of `c` this entry judges, and how the component is named
    /// in a finding; `None` when the entry is not about this package.
    fn version_of(&self, c: &Purl, component_version: Option<&str>) -> Option<(String, String)> {
        let d = &self.purl;
        if c.ty != d.ty || (d.namespace.is_some() && c.namespace != d.namespace) || !c.has_qualifiers(&d.qualifiers) {
            return None;
        }
        let version = c.version.as_deref().or(component_version).unwrap_or_default().to_string();
        if c.name == d.name {
            return Some((version.clone(), version));
        }
        let source = c.source.as_ref().filter(|s| s.name == d.name)?;
        let judged = source.version.clone().unwrap_or_else(|| version.clone());
        let shown = match &source.version {
            Some(v) => format!("{version} (source {} {v})", source.name),
            None => format!("{version} (source {})", source.name),
        };
        Some((judged, shown))
    }
}

pub fn denied(rule: &RuleConfig, describing: &[&Document]) -> Finding {
    let id = rule.id.as_str();
    let entries = Params::of(rule).text_list("deny");
    if entries.is_empty() {
        return Finding::skip(id, "no component deny list configured");
    }
    // Bad entries are refused when the policy loads (`check`); should one
    // get here anyway, the good entries are still enforced and the bad one
    // keeps the rule from passing.
    let (deny, bad): (Vec<_>, Vec<_>) = entries.iter().map(|e| parse_denied(e)).partition(Result::is_ok);
    let deny: Vec<Denied> = deny.into_iter().flatten().collect();
    let bad: Vec<String> = bad.into_iter().filter_map(Result::err).collect();
    let Some(doc) = describing.first() else {
        return Finding::skip(id, "needs an SBOM describing this image (see SC-SBOM-001)");
    };
    let mut hits = Vec::new();
    let mut undecided = Vec::new();
    for c in describing.iter().flat_map(|d| &d.components) {
        let Some(text) = c.purl.as_deref() else { continue };
        // A component that cannot be identified cannot be cleared either.
        let purl = match Purl::parse(text) {
            Ok(p) => p,
            Err(e) => {
                undecided.push(format!("{}: `{text}` is not a package URL ({e})", c.name));
                continue;
            }
        };
        for d in &deny {
            let Some((version, shown)) = d.version_of(&purl, c.version.as_deref()) else { continue };
            match d.range.contains(Scheme::for_purl_type(&d.purl.ty), &version) {
                Some(true) => hits.push(format!("{} {shown} matches `{}`", c.name, d.text)),
                Some(false) => {}
                None => undecided.push(format!("{} {shown} (against `{}`)", c.name, d.text)),
            }
        }
    }
    if !hits.is_empty() {
        return Finding::fail(id, format!("denied components: {}", hits.join("; ")));
    }
    undecided.extend(bad.into_iter().map(|e| format!("bad deny-list entry {e}")));
    if !undecided.is_empty() {
        return Finding::error(id, format!("components that cannot be judged: {}", undecided.join("; ")));
    }
    Finding::pass(id, format!("no component of {} is on the deny list ({} entries)", crate::label(doc), deny.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_with_ranges_and_qualifiers() {
        let d = parse_denied("pkg:deb/debian/openssl@>=3.0.0, <3.0.14?Distro=debian-12&arch=amd64").unwrap();
        assert_eq!((d.purl.name.as_str(), d.purl.version.as_deref()), ("openssl", None));
        assert_eq!(d.purl.qualifiers.len(), 2);
        assert!(d.range.contains(Scheme::Debian, "3.0.11-1~deb12u2").unwrap());
        let d = parse_denied("pkg:npm/@scope/name@<1.0#sub").unwrap();
        assert_eq!((d.purl.namespace.as_deref(), d.purl.name.as_str()), (Some("@scope"), "name"));
        assert!(parse_denied("pkg:deb/debian/x@>=").is_err());
        assert!(parse_denied("not a purl").unwrap_err().contains("not a purl"));
    }

    #[test]
    fn good_entries_are_enforced_beside_a_bad_one() {
        use portcullis_sdk::ParamValue;
        use portcullis_sdk::sboms::Component;
        let component = |purl: &str| Component {
            reference: purl.into(),
            kind: "library".into(),
            name: purl.into(),
            version: None,
            purl: Some(purl.into()),
            cpes: Vec::new(),
            license: None,
            hashes: Vec::new(),
            supplier: None,
        };
        let doc = Document {
            origin: "file:x".into(),
            format: "cyclonedx-json".into(),
            spec_version: "1.6".into(),
            tools: Vec::new(),
            describes: Vec::new(),
            subject_name: None,
            components: vec![component("pkg:npm/left-pad@1.0.0"), component("pkg:npm/ok@1.0.0")],
            dependencies: Vec::new(),
        };
        let rule = |entries: &[&str]| RuleConfig {
            id: "SC-SBOM-004".into(),
            params: vec![("deny".into(), ParamValue::TextList(entries.iter().map(|s| s.to_string()).collect()))],
        };
        let f = denied(&rule(&["not a purl", "pkg:npm/left-pad@<2"]), &[&doc]);
        assert_eq!(f.outcome, portcullis_sdk::Outcome::Fail, "{}", f.message);
        let f = denied(&rule(&["not a purl", "pkg:npm/other"]), &[&doc]);
        assert_eq!(f.outcome, portcullis_sdk::Outcome::Error, "{}", f.message);
        assert!(f.message.contains("bad deny-list entry"), "{}", f.message);
    }

    #[test]
    fn binary_or_source_names_match() {
        let d = parse_denied("pkg:deb/debian/foo@<=1.2-3").unwrap();
        let c = Purl::parse("pkg:deb/debian/libfoo1@1.2-3%2Bb1?arch=amd64&upstream=foo%401.2-3").unwrap();
        let (judged, shown) = d.version_of(&c, None).unwrap();
        assert_eq!((judged.as_str(), shown.as_str()), ("1.2-3", "1.2-3+b1 (source foo 1.2-3)"));
        let other = Purl::parse("pkg:deb/debian/libbar@1.0?upstream=bar").unwrap();
        assert!(d.version_of(&other, None).is_none());
        let qualified = parse_denied("pkg:deb/debian/libfoo1?arch=arm64").unwrap();
        assert!(qualified.version_of(&c, None).is_none());
        let by_ns = parse_denied("pkg:deb/ubuntu/libfoo1").unwrap();
        assert!(by_ns.version_of(&c, None).is_none());
    }
}
