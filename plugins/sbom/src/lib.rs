//! Builtin plugin `sbom`: the SBOM rules SC-SBOM-001..004.
//!
//! - SC-SBOM-001: an SBOM is supplied or attached and describes this image
//!   (its manifest digest, or its config digest / image ID).
//! - SC-SBOM-002: the SBOM agrees with the image — every Go module in the
//!   image's binaries and every dpkg/apk package the layer scanner found is
//!   in it, and it lists no Go module or OS package the image lacks;
//!   packages are matched by identity (see `identity`).
//! - SC-SBOM-003: licences against allow/deny lists, with SPDX expression
//!   semantics (`MIT OR GPL-3.0-only` is acceptable when either is) and
//!   deprecated ids read as their replacements (`GPL-2.0` is `GPL-2.0-only`).
//! - SC-SBOM-004: components against a deny list of purls with version
//!   ranges, ordered the way each ecosystem orders versions; an entry names
//!   a binary or a source package.
//!
//! The SBOM arrives normalised (CycloneDX and SPDX alike) through the
//! `sboms` interface; the image's own inventory through `image-scan`. With
//! trusted signers configured on SC-SBOM-001, only SBOMs their attestations
//! cover count, for every rule (see `trusted`).

mod consistent;
mod denied;
pub mod identity;
pub mod licence;
mod params;
mod trusted;
pub use portcullis_versions as versions;

use portcullis_sdk::sboms::{self, Document};
use portcullis_sdk::{
    Enforcement, Finding, Image, ParamProblem, ParamValue, Params, Plugin, PluginMeta, RuleConfig, RuleMeta, Severity,
    Target,
};

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
        let trust = match trusted::Trust::of(rules.iter().find(|r| r.id == PRESENT)) {
            Ok(t) => t,
            Err(e) => return rules.iter().map(|r| Finding::error(&r.id, e.clone())).collect(),
        };
        // Which describing documents count, and why the others do not.
        let mut describing: Vec<&Document> = Vec::new();
        let mut signed_by: Vec<String> = Vec::new();
        let mut untrusted: Vec<String> = Vec::new();
        for (i, d) in documents.iter().enumerate().filter(|(_, d)| describes(d, image)) {
            match trust.as_ref().map(|t| t.standing(i, d)) {
                None => describing.push(d),
                Some(trusted::Standing::Supplied) => {
                    describing.push(d);
                    signed_by.push("supplied with --sbom".into());
                }
                Some(trusted::Standing::Signed(who)) => {
                    describing.push(d);
                    signed_by.push(format!("signed by {who}"));
                }
                Some(trusted::Standing::Untrusted(why)) => untrusted.push(format!("{}: {why}", label(d))),
            }
        }
        rules
            .iter()
            .map(|r| match r.id.as_str() {
                PRESENT if trust.is_some() && describing.is_empty() && !untrusted.is_empty() => Finding::fail(
                    PRESENT,
                    format!(
                        "no SBOM from a trusted signer describes {}: {}",
                        image.subject.digest,
                        untrusted.join("; ")
                    ),
                ),
                PRESENT => {
                    let mut f = present(r, image, &documents, &describing);
                    if let Some(who) = signed_by.first() {
                        f.message = format!("{}, {who}", f.message);
                    }
                    f
                }
                CONSISTENT => consistent::consistent(r, &describing),
                LICENCES => licences(r, &describing),
                DENIED => denied::denied(r, &describing),
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
            "An SBOM (CycloneDX or SPDX) is supplied with --sbom or attached to the image (OCI referrer, cosign attestation), and it describes this image's digest. With trusted signers set (`keys`, or `identity` with `issuer`), an attached SBOM counts only when an attestation one of them signed carries it, for SC-SBOM-002..004 as well; the finding names the signer.",
            "Generate one for the pushed digest (`syft IMAGE@sha256:... -o cyclonedx-json`) and attach it (`cosign attest --type cyclonedx` or `oras attach`), or pass it with --sbom.",
        )
        .param(
            "keys",
            ParamValue::TextList(Vec::new()),
            "PEM public keys: attached SBOMs count only when an attestation these keys signed carries them (and for SC-SBOM-002..004 too).",
        )
        .param(
            "identity",
            ParamValue::Text(String::new()),
            "Keyless signers whose SBOM attestations count: a SAN matching this regular expression whole (with `issuer`).",
        )
        .param("issuer", ParamValue::Text(String::new()), "The OIDC issuer of trusted keyless SBOM signers, exactly.")
        .param(
            "require_signed",
            ParamValue::Boolean(false),
            "Only SBOMs in attestations of a trusted signer count (implied by `keys` or `identity`); `--sbom` files always count.",
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

pub(crate) fn label(doc: &Document) -> String {
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
