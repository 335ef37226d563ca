//! SC-SBOM-002: the SBOM agrees with the image.
//!
//! Both sides become package identities — Go modules (with the standard
//! library as `stdlib`) and dpkg/apk packages — compared by meaning: purls
//! normalised (see `identity`), the binary package name and, when both sides
//! name one, the source package name; versions equal but for an epoch only
//! one side writes.

use crate::identity::Purl;
use crate::versions;
use portcullis_sdk::sboms::{self, Document};
use portcullis_sdk::{Finding, Params, RuleConfig, image_scan};
use std::collections::BTreeSet;

/// A package identity compared across the image and the SBOM.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    kind: &'static str,
    name: String,
    version: String,
    /// The source package, when this side says (an image package with no
    /// `Source:` field is its own source).
    source: Option<String>,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}@{}", self.kind, self.name, self.version)?;
        match &self.source {
            Some(s) if *s != self.name => write!(f, " (source {s})"),
            _ => Ok(()),
        }
    }
}

/// The version of a module built as `(devel)`: matches any version.
const ANY: &str = "*";

impl Key {
    fn matches(&self, other: &Key) -> bool {
        self.kind == other.kind
            && self.name == other.name
            && (self.version == ANY || other.version == ANY || versions::same_version(&self.version, &other.version))
            && match (&self.source, &other.source) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// Go module versions: `go1.22.3` and `v1.22.3` are the toolchain's `1.22.3`.
fn go_version(v: &str) -> String {
    v.trim_start_matches("go").trim_start_matches('v').to_string()
}

/// The key of an SBOM component: `None` for what is not a Go module or an
/// OS package (or has no purl), an error for a purl that is not one.
fn sbom_key(c: &sboms::Component) -> Result<Option<Key>, String> {
    let Some(text) = c.purl.as_deref() else { return Ok(None) };
    let purl = Purl::parse(text).map_err(|e| format!("{} (`{text}`: {e})", c.name))?;
    let version = purl.version.clone().or_else(|| c.version.clone()).unwrap_or_default();
    let source = purl.source_name().map(str::to_owned);
    Ok(match purl.ty.as_str() {
        "golang" => {
            let name = match &purl.namespace {
                Some(ns) => format!("{ns}/{}", purl.name),
                None => purl.name.clone(),
            };
            Some(Key { kind: "go", name, version: go_version(&version), source: None })
        }
        "deb" => Some(Key { kind: "deb", name: purl.name, version, source }),
        "apk" => Some(Key { kind: "apk", name: purl.name, version, source }),
        _ => None,
    })
}

/// What the image contains, from the scanner: Go modules of every Go binary
/// (main module, dependencies, the standard library) and OS packages.
fn image_inventory() -> Result<BTreeSet<Key>, String> {
    let mut out = BTreeSet::new();
    for b in image_scan::go_binaries()? {
        let Some(go) = &b.go else { continue };
        out.insert(Key { kind: "go", name: "stdlib".into(), version: go_version(&go.go_version), source: None });
        for m in go.main.iter().chain(&go.deps) {
            // `(devel)`: built from a work tree without a version. SBOM tools
            // either leave it so or derive a pseudo-version from `vcs.revision`;
            // the module path must be there, any version will do.
            let version =
                if m.version.is_empty() || m.version == "(devel)" { ANY.to_string() } else { go_version(&m.version) };
            // Module paths compare case-insensitively, as golang purls do.
            out.insert(Key { kind: "go", name: m.path.to_lowercase(), version, source: None });
        }
    }
    for p in image_scan::packages()? {
        let kind = match p.source.as_str() {
            s if s.contains("apk") => "apk",
            _ => "deb",
        };
        // The scanner's purl carries the source package (`upstream`) when
        // the database names one; a package without is its own source.
        let purl = Purl::parse(&p.purl).ok();
        let name = purl.as_ref().map_or_else(|| p.name.to_lowercase(), |u| u.name.clone());
        let source = purl.as_ref().and_then(|u| u.source_name()).unwrap_or(&name).to_string();
        out.insert(Key { kind, version: p.version.clone(), source: Some(source), name });
    }
    Ok(out)
}

fn list(keys: &[&Key], max: usize) -> String {
    let mut s: Vec<String> = keys.iter().take(max).map(|k| k.to_string()).collect();
    if keys.len() > max {
        s.push(format!("and {} more", keys.len() - max));
    }
    s.join(", ")
}

pub fn consistent(rule: &RuleConfig, describing: &[&Document]) -> Finding {
    let id = rule.id.as_str();
    let Some(doc) = describing.first() else {
        return Finding::skip(id, "needs an SBOM describing this image (see SC-SBOM-001)");
    };
    let image = match image_inventory() {
        Ok(i) => i,
        Err(why) => return Finding::skip(id, format!("the image's contents are unknown: {why}")),
    };
    // Components of every describing document count (an image may have one per tool).
    let mut sbom = BTreeSet::new();
    let mut unreadable = Vec::new();
    for c in describing.iter().flat_map(|d| &d.components) {
        match sbom_key(c) {
            Ok(Some(k)) => {
                sbom.insert(k);
            }
            Ok(None) => {}
            Err(e) => unreadable.push(e),
        }
    }
    // Keys are sorted by (kind, name, ...): candidates for a match are the
    // keys of the same kind and name, found by a range query.
    let find = |set: &BTreeSet<Key>, k: &Key| {
        let from = Key { kind: k.kind, name: k.name.clone(), version: String::new(), source: None };
        set.range(from..).take_while(|c| c.kind == k.kind && c.name == k.name).any(|c| c.matches(k))
    };
    let missing: Vec<&Key> = image.iter().filter(|k| !find(&sbom, k)).collect();
    let extra: Vec<&Key> = if Params::of(rule).boolean("check_extra", true) {
        sbom.iter().filter(|k| !find(&image, k)).collect()
    } else {
        Vec::new()
    };
    let go = image.iter().filter(|k| k.kind == "go" && k.name != "stdlib").count();
    let os = image.iter().filter(|k| k.kind != "go").count();
    if missing.is_empty() && extra.is_empty() && unreadable.is_empty() {
        return Finding::pass(
            id,
            format!("{go} Go module(s) and {os} OS package(s) of the image are all in {}", crate::label(doc)),
        );
    }
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("{} in the image but not in the SBOM: {}", missing.len(), list(&missing, 10)));
    }
    if !extra.is_empty() {
        parts.push(format!("{} in the SBOM but not in the image: {}", extra.len(), list(&extra, 10)));
    }
    if !unreadable.is_empty() {
        let n = unreadable.len();
        unreadable.truncate(10);
        parts.push(format!("{n} component(s) whose purl is not a package URL: {}", unreadable.join(", ")));
    }
    Finding::fail(id, format!("{} disagrees with the image: {}", crate::label(doc), parts.join("; ")))
}
