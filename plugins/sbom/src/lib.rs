//! Builtin plugin `sbom`: the SBOM rules SC-SBOM-001..004.
//!
//! - SC-SBOM-001: an SBOM is supplied or attached and describes this image
//!   (its manifest digest, or its config digest / image ID).
//! - SC-SBOM-002: the SBOM agrees with the image — every Go module in the
//!   image's binaries and every dpkg/apk package the layer scanner found is
//!   in it, and it lists no Go module or OS package the image lacks.
//! - SC-SBOM-003: licences against allow/deny lists, with SPDX expression
//!   semantics (`MIT OR GPL-3.0-only` is acceptable when either is) and
//!   deprecated ids read as their replacements (`GPL-2.0` is `GPL-2.0-only`).
//! - SC-SBOM-004: components against a deny list of purls with version
//!   ranges, ordered the way each ecosystem orders versions.
//!
//! The SBOM arrives normalised (CycloneDX and SPDX alike) through the
//! `sboms` interface; the image's own inventory through `image-scan`.

pub mod licence;
mod params;
pub mod versions;

use portcullis_sdk::sboms::{self, Document};
use portcullis_sdk::{
    Enforcement, Finding, Image, ParamProblem, ParamValue, Params, Plugin, PluginMeta, RuleConfig, RuleMeta, Severity,
    Target, image_scan,
};
use std::collections::BTreeSet;
use versions::{Range, Scheme};

pub struct SbomPlugin;

const PRESENT: &str = "SC-SBOM-001";
const CONSISTENT: &str = "SC-SBOM-002";
const LICENCES: &str = "SC-SBOM-003";
const DENIED: &str = "SC-SBOM-004";

impl Plugin for SbomPlugin {
    fn metadata() -> PluginMeta {
        PluginMeta { name: "sbom".into(), version: env!("CARGO_PKG_VERSION").into(), rules: rules() }
    }

    fn check(rules: Vec<RuleConfig>) -> Vec<ParamProblem> {
        params::check(&rules)
    }

    fn evaluate(target: Target, rules: Vec<RuleConfig>) -> Vec<Finding> {
        let image = match &target {
            Target::Image(image) => image,
            Target::Artifact(_) => return portcullis_sdk::skip_all(&rules, portcullis_sdk::NOT_AN_IMAGE),
            Target::Workload(_) => return portcullis_sdk::skip_all(&rules, portcullis_sdk::NOT_JUDGED),
            Target::Index(_) => {
                return rules
                    .iter()
                    .map(|r| Finding::skip(&r.id, "SBOMs describe platform images; each is judged on its own"))
                    .collect();
            }
        };
        let documents = sboms::documents();
        let describing: Vec<&Document> = documents.iter().filter(|d| describes(d, image)).collect();
        rules
            .iter()
            .map(|r| match r.id.as_str() {
                PRESENT => present(r, image, &documents, &describing),
                CONSISTENT => consistent(r, &describing),
                LICENCES => licences(r, &describing),
                DENIED => denied(r, &describing),
                other => Finding::error(other, "not a rule of this plugin"),
            })
            .collect()
    }
}

#[cfg(target_arch = "wasm32")]
portcullis_sdk::export_plugin!(SbomPlugin);

pub fn rules() -> Vec<RuleMeta> {
    vec![
        RuleMeta::new(
            PRESENT,
            "An SBOM describes this image",
            Severity::Medium,
            Enforcement::Enforce,
            "An SBOM (CycloneDX or SPDX) is supplied with --sbom or attached to the image (OCI referrer, cosign attestation), and it describes this image's digest.",
            "Generate one for the pushed digest (`syft IMAGE@sha256:... -o cyclonedx-json`) and attach it (`cosign attest --type cyclonedx` or `oras attach`), or pass it with --sbom.",
        ),
        RuleMeta::new(
            CONSISTENT,
            "The SBOM agrees with the image",
            Severity::Medium,
            Enforcement::Warn,
            "Every Go module in the image's binaries (build info) and every dpkg/apk package the scanner found is in the SBOM, and the SBOM lists no Go module or OS package the image lacks.",
            "Regenerate the SBOM from the final image, not from the source tree or an intermediate stage.",
        )
        .param("check_extra", ParamValue::Boolean(true), "Also fail on SBOM components the image does not contain."),
        RuleMeta::new(
            LICENCES,
            "Component licences are allowed",
            Severity::Medium,
            Enforcement::Enforce,
            "Each component's licence expression can be satisfied with allowed licences and without denied ones (SPDX expression semantics: `A OR B` needs one of them).",
            "Replace the component, or obtain a licence exception and waive the finding.",
        )
        .param("allow", ParamValue::TextList(Vec::new()), "SPDX licence identifiers allowed (empty: no allow list).")
        .param("deny", ParamValue::TextList(Vec::new()), "SPDX licence identifiers denied (empty: no deny list).")
        .param("require_license", ParamValue::Boolean(false), "Fail on components without a licence."),
        RuleMeta::new(
            DENIED,
            "No denied component versions",
            Severity::High,
            Enforcement::Enforce,
            "No component matches the deny list: `PURL@RANGE` entries such as `pkg:golang/golang.org/x/net@<0.23.0` or `pkg:deb/debian/openssl@>=3.0.0, <3.0.14`, compared with the ecosystem's own version order (Debian, PEP 440, semver).",
            "Upgrade the component out of the denied range and rebuild.",
        )
        .param("deny", ParamValue::TextList(Vec::new()), "Denied components: `pkg:TYPE/NAMESPACE/NAME[@RANGE]`."),
    ]
}

/// The digests this image is known by: manifest digest (or image ID) and config digest.
fn image_digests(image: &Image) -> Vec<&str> {
    let mut d = vec![image.subject.digest.as_str(), image.config_digest.as_str()];
    if let Some(i) = &image.subject.parent_index {
        d.push(i.as_str());
    }
    d
}

fn describes(doc: &Document, image: &Image) -> bool {
    let ours = image_digests(image);
    doc.describes.iter().any(|d| ours.contains(&d.as_str()))
}

fn label(doc: &Document) -> String {
    format!("{} {} ({})", doc.format, doc.spec_version, doc.origin)
}

fn present(rule: &RuleConfig, image: &Image, all: &[Document], describing: &[&Document]) -> Finding {
    let id = rule.id.as_str();
    if let Some(doc) = describing.first() {
        let via = if doc.describes.contains(&image.subject.digest) {
            "this digest"
        } else if doc.describes.contains(&image.config_digest) {
            "this image's config digest"
        } else {
            "the index this image belongs to"
        };
        return Finding::pass(id, format!("{} describes {via}, {} components", label(doc), doc.components.len()));
    }
    let mut why: Vec<String> = Vec::new();
    for d in all {
        let what = if d.describes.is_empty() { "no image digest".to_string() } else { d.describes.join(", ") };
        why.push(format!("{} describes {what}", label(d)));
    }
    for p in sboms::problems() {
        why.push(format!("{} could not be read: {}", p.origin, p.message));
    }
    // `docker save` archives have no manifest: the subject is the image ID.
    let hint = if image.subject.digest == image.config_digest && !all.is_empty() {
        " (this input has no manifest digest — a `docker save` archive is known by its image ID; audit the OCI layout or the registry image the SBOM was made from)"
    } else {
        ""
    };
    if why.is_empty() {
        Finding::fail(id, format!("no SBOM supplied or attached for {}", image.subject.digest))
    } else {
        Finding::fail(id, format!("no SBOM describes {}: {}{hint}", image.subject.digest, why.join("; ")))
    }
}

/// A package identity compared across the image and the SBOM.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    kind: &'static str,
    name: String,
    version: String,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}@{}", self.kind, self.name, self.version)
    }
}

/// The version of a module built as `(devel)`: matches any version.
const ANY: &str = "*";

impl Key {
    fn matches(&self, other: &Key) -> bool {
        self.kind == other.kind
            && self.name == other.name
            && (self.version == other.version || self.version == ANY || other.version == ANY)
    }
}

/// Versions without a Debian/apk epoch (`1:2.3` → `2.3`): SBOM tools differ in
/// whether they write it.
fn without_epoch(v: &str) -> String {
    match v.split_once(':') {
        Some((e, rest)) if e.chars().all(|c| c.is_ascii_digit()) => rest.to_string(),
        _ => v.to_string(),
    }
}

/// Go module versions: `go1.22.3` and `v1.22.3` are the toolchain's `1.22.3`.
fn go_version(v: &str) -> String {
    v.trim_start_matches("go").trim_start_matches('v').to_string()
}

fn sbom_key(c: &sboms::Component) -> Option<Key> {
    let purl: packageurl::PackageUrl = c.purl.as_deref()?.parse().ok()?;
    let version = purl.version().map(str::to_owned).or_else(|| c.version.clone()).unwrap_or_default();
    let (kind, name, version) = match purl.ty() {
        "golang" => {
            let name = match purl.namespace() {
                Some(ns) => format!("{ns}/{}", purl.name()),
                None => purl.name().to_string(),
            };
            ("go", name, go_version(&version))
        }
        "deb" => ("deb", purl.name().to_string(), without_epoch(&version)),
        "apk" => ("apk", purl.name().to_string(), without_epoch(&version)),
        _ => return None,
    };
    Some(Key { kind, name, version })
}

/// What the image contains, from the scanner: Go modules of every Go binary
/// (main module, dependencies, the standard library) and OS packages.
fn image_inventory() -> Result<BTreeSet<Key>, String> {
    let mut out = BTreeSet::new();
    for b in image_scan::go_binaries()? {
        let Some(go) = &b.go else { continue };
        out.insert(Key { kind: "go", name: "stdlib".into(), version: go_version(&go.go_version) });
        for m in go.main.iter().chain(&go.deps) {
            // `(devel)`: built from a work tree without a version. SBOM tools
            // either leave it so or derive a pseudo-version from `vcs.revision`;
            // the module path must be there, any version will do.
            let version =
                if m.version.is_empty() || m.version == "(devel)" { ANY.to_string() } else { go_version(&m.version) };
            out.insert(Key { kind: "go", name: m.path.clone(), version });
        }
    }
    for p in image_scan::packages()? {
        let kind = match p.source.as_str() {
            s if s.contains("apk") => "apk",
            _ => "deb",
        };
        out.insert(Key { kind, name: p.name.clone(), version: without_epoch(&p.version) });
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

fn consistent(rule: &RuleConfig, describing: &[&Document]) -> Finding {
    let id = rule.id.as_str();
    let Some(doc) = describing.first() else {
        return Finding::skip(id, "needs an SBOM describing this image (see SC-SBOM-001)");
    };
    let image = match image_inventory() {
        Ok(i) => i,
        Err(why) => return Finding::skip(id, format!("the image's contents are unknown: {why}")),
    };
    // Components of every describing document count (an image may have one per tool).
    let sbom: BTreeSet<Key> = describing.iter().flat_map(|d| &d.components).filter_map(sbom_key).collect();
    // Keys are sorted by (kind, name, version): candidates for a match are
    // the keys of the same kind and name, found by a range query.
    let find = |set: &BTreeSet<Key>, k: &Key| {
        let from = Key { kind: k.kind, name: k.name.clone(), version: String::new() };
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
    if missing.is_empty() && extra.is_empty() {
        return Finding::pass(
            id,
            format!("{go} Go module(s) and {os} OS package(s) of the image are all in {}", label(doc)),
        );
    }
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("{} in the image but not in the SBOM: {}", missing.len(), list(&missing, 10)));
    }
    if !extra.is_empty() {
        parts.push(format!("{} in the SBOM but not in the image: {}", extra.len(), list(&extra, 10)));
    }
    Finding::fail(id, format!("{} disagrees with the image: {}", label(doc), parts.join("; ")))
}

fn licences(rule: &RuleConfig, describing: &[&Document]) -> Finding {
    let id = rule.id.as_str();
    let p = Params::of(rule);
    // Both lists and documents are read by meaning (deprecated ids as their replacements).
    let read = |key: &str| p.text_list(key).iter().map(|e| licence::list_entry(e)).collect::<Vec<String>>();
    let (allow, deny) = (read("allow"), read("deny"));
    let require = p.boolean("require_license", false);
    if allow.is_empty() && deny.is_empty() && !require {
        return Finding::skip(id, "no licence allow or deny list configured");
    }
    let Some(doc) = describing.first() else {
        return Finding::skip(id, "needs an SBOM describing this image (see SC-SBOM-001)");
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    for c in describing.iter().flat_map(|d| &d.components) {
        let who = format!("{}@{}", c.name, c.version.as_deref().unwrap_or("?"));
        let Some(text) = c.license.as_deref() else {
            if require {
                problems.push(format!("{who} has no licence"));
            }
            continue;
        };
        checked += 1;
        let expr = match spdx::Expression::parse_mode(text, spdx::ParseMode::LAX) {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("{who}: `{text}` is not an SPDX expression ({})", e.reason));
                continue;
            }
        };
        if !deny.is_empty() && !expr.evaluate(|r| !licence::matches(r, &deny)) {
            problems.push(format!("{who}: `{text}` requires a denied licence"));
        } else if !allow.is_empty() && !expr.evaluate(|r| licence::matches(r, &allow)) {
            problems.push(format!("{who}: `{text}` cannot be satisfied with allowed licences"));
        }
    }
    if problems.is_empty() {
        Finding::pass(id, format!("{checked} licensed component(s) of {} acceptable", label(doc)))
    } else {
        let n = problems.len();
        problems.truncate(10);
        Finding::fail(id, format!("{n} component(s) with unacceptable licences: {}", problems.join("; ")))
    }
}

/// One deny-list entry: a purl without version, and a range.
struct Denied {
    ty: String,
    namespace: Option<String>,
    name: String,
    range: Range,
    text: String,
}

fn parse_denied(entry: &str) -> Result<Denied, String> {
    // The range follows the last `@` that is after the name.
    let (purl, range) = match entry.rfind('@') {
        Some(at) if at > entry.rfind('/').unwrap_or(0) => (&entry[..at], &entry[at + 1..]),
        _ => (entry, ""),
    };
    let p: packageurl::PackageUrl = purl.parse().map_err(|e| format!("`{entry}`: not a purl: {e}"))?;
    let range = Range::parse(range).map_err(|e| format!("`{entry}`: {e}"))?;
    Ok(Denied {
        ty: p.ty().to_string(),
        namespace: p.namespace().map(str::to_owned),
        name: p.name().to_string(),
        range,
        text: entry.to_string(),
    })
}

fn denied(rule: &RuleConfig, describing: &[&Document]) -> Finding {
    let id = rule.id.as_str();
    let entries = Params::of(rule).text_list("deny");
    if entries.is_empty() {
        return Finding::skip(id, "no component deny list configured");
    }
    let deny: Vec<Denied> = match entries.iter().map(|e| parse_denied(e)).collect() {
        Ok(d) => d,
        Err(e) => return Finding::error(id, format!("bad deny-list entry {e}")),
    };
    let Some(doc) = describing.first() else {
        return Finding::skip(id, "needs an SBOM describing this image (see SC-SBOM-001)");
    };
    let mut hits = Vec::new();
    let mut undecided = Vec::new();
    for c in describing.iter().flat_map(|d| &d.components) {
        let Some(purl) = c.purl.as_deref().and_then(|p| p.parse::<packageurl::PackageUrl>().ok()) else { continue };
        for d in &deny {
            let same = purl.ty() == d.ty
                && purl.name() == d.name
                && (d.namespace.is_none() || purl.namespace().map(str::to_owned) == d.namespace);
            if !same {
                continue;
            }
            let version = purl.version().map(str::to_owned).or_else(|| c.version.clone()).unwrap_or_default();
            match d.range.contains(Scheme::for_purl_type(&d.ty), &version) {
                Some(true) => hits.push(format!("{} {version} matches `{}`", c.name, d.text)),
                Some(false) => {}
                None => undecided.push(format!("{} {version} (against `{}`)", c.name, d.text)),
            }
        }
    }
    if !hits.is_empty() {
        return Finding::fail(id, format!("denied components: {}", hits.join("; ")));
    }
    if !undecided.is_empty() {
        return Finding::error(id, format!("versions that cannot be compared: {}", undecided.join("; ")));
    }
    Finding::pass(id, format!("no component of {} is on the deny list ({} entries)", label(doc), deny.len()))
}
