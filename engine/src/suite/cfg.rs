//! The test file format (`portcullis-test.toml`, schema
//! `portcullis.test/v1`), as deserialised. Unknown keys are errors and spans
//! are kept, so a typo is reported at its line and column instead of
//! turning a test into a no-op.
//!
//! ```toml
//! schema = "portcullis.test/v1"
//!
//! [context]
//! now = 2026-12-01                       # the frozen "today": waiver expiry, fix and database ages
//! policy = "../go-container-baseline.toml"
//! trusted-root = "staging"               # optional: production (default), staging, or a file
//! vuln-db = "osv"                        # optional: OSV records (folder, .json, .zip), imported at run time
//! vex = ["vex.json"]                     # optional
//! [context.plugins]                      # optional: the plugins the expectations were written against
//! go-binary = "sha256:…"
//!
//! [fixtures.good]
//! image = "../../../shared/images/oci/go-static-good"
//! sboms = ["good.cdx.json"]
//!
//! [fixtures.root]                        # derived at run time from another fixture
//! from = "good"
//! config = { User = "root" }
//! sign = ["keys/a.pem"]
//!
//! [[case]]
//! name = "the good image admits"
//! fixture = "good"
//! verdict = "admit"
//! [case.expect]
//! GO-CFG-001 = "pass"
//! GO-BIN-004 = { outcome = "fail", message = "debug" }
//!
//! [[case]]                               # parameters and admission settings for one case
//! name = "a denied module"
//! fixture = "good"
//! params = { GO-BIN-009 = { deny = ["example.com/hello"] } }
//! admission = { mutate = false }
//! verdict = "deny"
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

pub const SCHEMA: &str = "portcullis.test/v1";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TestFile {
    pub schema: Spanned<String>,
    #[serde(default)]
    pub context: ContextCfg,
    #[serde(default)]
    pub fixtures: BTreeMap<Spanned<String>, FixtureCfg>,
    #[serde(default, rename = "case")]
    pub cases: Vec<CaseCfg>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ContextCfg {
    /// A date (`2026-12-01`) or date-time; default: the real today (and a
    /// warning, since expiries then move under the test).
    #[serde(default)]
    pub now: Option<Spanned<toml::value::Datetime>>,
    /// The default policy of the cases: a file relative to the test file,
    /// or `builtin:go-container-baseline`.
    #[serde(default)]
    pub policy: Option<Spanned<String>>,
    #[serde(default)]
    pub trusted_root: Option<Spanned<String>>,
    #[serde(default)]
    pub vuln_db: Option<Spanned<String>>,
    #[serde(default)]
    pub vex: Vec<Spanned<String>>,
    /// Plugin name → `sha256:…` of the component the expectations were
    /// written against.
    #[serde(default)]
    pub plugins: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// One fixture: exactly one of `image`, `artifact`, `review`, `from`.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FixtureCfg {
    /// An OCI layout, oci-archive or docker-archive.
    #[serde(default)]
    pub image: Option<Spanned<String>>,
    /// A release artifact (a file, or `sha256:HEX`) judged with its sidecars.
    #[serde(default)]
    pub artifact: Option<Spanned<String>>,
    /// An AdmissionReview (JSON or YAML); its images resolve through `images`.
    #[serde(default)]
    pub review: Option<Spanned<String>>,
    /// Derived: the fixture this one is made from at run time.
    #[serde(default)]
    pub from: Option<Spanned<String>>,

    // Inputs offered with an image.
    #[serde(default)]
    pub sboms: Vec<Spanned<String>>,
    /// The repository the image is attributed to (waivers).
    #[serde(default)]
    pub repository: Option<Spanned<String>>,
    /// Select one image of a multi-image input (tag or ref name).
    #[serde(default, rename = "select")]
    pub select: Option<Spanned<String>>,

    // Artifact sidecars.
    #[serde(default)]
    pub bundles: Vec<Spanned<String>>,
    #[serde(default)]
    pub provenance: Vec<Spanned<String>>,
    #[serde(default)]
    pub signature: Option<Spanned<String>>,
    #[serde(default)]
    pub certificate: Option<Spanned<String>>,

    /// Review fixtures: image reference as written in the workload → fixture.
    #[serde(default)]
    pub images: BTreeMap<Spanned<String>, Spanned<String>>,

    // Derivations, applied in this order.
    /// Remove attachments: `all`, `signature`, `attestation`, `sbom`, or a media type.
    #[serde(default)]
    pub drop_attachments: Vec<Spanned<String>>,
    /// Remove the SBOMs: attached ones and the origin's `sboms`.
    #[serde(default)]
    pub strip_sbom: Option<Spanned<bool>>,
    /// Set fields of the image config's `config` (Go names: `User`, `Env`, `Labels`, `Healthcheck`, …).
    #[serde(default)]
    pub config: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    /// Remove fields of the image config's `config`.
    #[serde(default)]
    pub remove_config: Vec<Spanned<String>>,
    /// Set the image's platform (`os/arch[/variant]`), in its config and index entry.
    #[serde(default)]
    pub platform: Option<Spanned<String>>,
    /// Restrict config and platform edits to this platform of an index.
    #[serde(default)]
    pub only_platform: Option<Spanned<String>>,
    /// Add a layer holding the files of this directory (relative paths kept).
    #[serde(default)]
    pub add_layer: Option<Spanned<String>>,
    /// Flip one byte in the layer with this index (0 is the base layer), leaving its digest.
    #[serde(default)]
    pub tamper_layer: Option<Spanned<u32>>,
    /// Sign each image (cosign simple signing, `.sig` tag) with these PKCS#8 PEM private keys.
    #[serde(default)]
    pub sign: Vec<Spanned<String>>,
    /// Annotations the `sign` signatures carry in their payload's `optional`
    /// (what `cosign sign -a key=value` writes).
    #[serde(default)]
    pub sign_annotations: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Attach key-signed in-toto attestations about each image.
    #[serde(default)]
    pub attest: Vec<AttestCfg>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AttestCfg {
    /// PKCS#8 PEM private key (P-256).
    pub key: Spanned<String>,
    pub predicate_type: Spanned<String>,
    /// A JSON file: the predicate. `${DIGEST}` in it is replaced by the image digest.
    pub predicate: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CaseCfg {
    pub name: Spanned<String>,
    pub fixture: Spanned<String>,
    /// Overrides the context's policy.
    #[serde(default)]
    pub policy: Option<Spanned<String>>,
    /// Rule parameters set for this case only: `{ RULE = { param = value } }`.
    #[serde(default)]
    pub params: BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    /// Admission settings set for this case only (keys of the policy's
    /// `[admission]`, e.g. `{ mutate = false }`).
    #[serde(default)]
    pub admission: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    /// Judge only the subjects of this platform (`linux/arm64`), or `index`.
    #[serde(default)]
    pub platform: Option<Spanned<String>>,
    #[serde(default)]
    pub verdict: Option<Spanned<String>>,
    /// Review cases: the rules whose findings deny the request.
    #[serde(default)]
    pub denied_by: Option<Spanned<Vec<String>>>,
    /// Every rule with a finding must be listed in `expect`.
    #[serde(default)]
    pub strict: bool,
    #[serde(default)]
    pub expect: BTreeMap<Spanned<String>, Spanned<ExpectCfg>>,
}

/// An expected rule outcome: `"fail"`, or `{ outcome = "fail", message = "REGEX" }`.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum ExpectCfg {
    Outcome(String),
    Full(FullExpect),
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct FullExpect {
    pub outcome: String,
    /// A regular expression some finding's message of the rule must match.
    #[serde(default)]
    pub message: Option<String>,
}
