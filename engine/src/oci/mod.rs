//! OCI (and Docker v2) document types — descriptor, manifest, index, image
//! config, layout header — parsed strictly and validated the way the OCI
//! image-spec JSON schemas do, with errors that name the offending field.
//!
//! Why our own types rather than `oci-spec`'s: admission needs the Docker
//! extensions OCI leaves out of the config (`Healthcheck`), must tolerate the
//! unknown fields the spec allows, and must reject what the schemas reject
//! (media-type and digest patterns, negative sizes, bad base64, bad URLs) with
//! a message that says which field was wrong. Tested against the image-spec's
//! own vectors (`tests/tests/oci_vectors.rs`).

pub mod dialect;

use crate::digest::Digest;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

pub mod media_type {
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYOUT_HEADER: &str = "application/vnd.oci.layout.header.v1+json";
    pub const OCI_DESCRIPTOR: &str = "application/vnd.oci.descriptor.v1+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    pub const DOCKER_MANIFEST_V1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";

    pub fn is_index(mt: &str) -> bool {
        mt == OCI_INDEX || mt == DOCKER_LIST
    }
    pub fn is_manifest(mt: &str) -> bool {
        mt == OCI_MANIFEST || mt == DOCKER_MANIFEST
    }
    pub fn is_image_config(mt: &str) -> bool {
        mt == OCI_CONFIG || mt == DOCKER_CONFIG
    }
}

/// A document that failed to parse or validate: `path` is a JSON path such as
/// `layers[0].digest` (empty for the document itself).
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct DocError {
    pub path: String,
    pub message: String,
}

impl DocError {
    fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        DocError { path: path.into(), message: message.into() }
    }
}

static MEDIA_TYPE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")
        .expect("media type regex")
});

fn check_media_type(path: &str, mt: &str) -> Result<(), DocError> {
    if MEDIA_TYPE.is_match(mt) {
        Ok(())
    } else {
        Err(DocError::at(path, format!("`{mt}` is not a valid media type (type/subtype, RFC 6838)")))
    }
}

fn check_timestamp(path: &str, ts: &str) -> Result<(), DocError> {
    ts.parse::<jiff::Timestamp>()
        .map(|_| ())
        .map_err(|e| DocError::at(path, format!("`{ts}` is not an RFC 3339 date-time: {e}")))
}

#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default, skip_serializing_if = "Option::is_none")]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
}

impl Platform {
    /// `os/arch[/variant]`, the notation of `docker --platform`.
    pub fn short(&self) -> String {
        match &self.variant {
            Some(v) if !v.is_empty() => format!("{}/{}/{v}", self.os, self.architecture),
            _ => format!("{}/{}", self.os, self.architecture),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default)]
    pub urls: Option<Vec<String>>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    fn validate(&self, path: &str) -> Result<(), DocError> {
        check_media_type(&format!("{path}mediaType"), &self.media_type)?;
        if self.size > i64::MAX as u64 {
            return Err(DocError::at(format!("{path}size"), "size exceeds the int64 range"));
        }
        if let Some(urls) = &self.urls {
            for (i, u) in urls.iter().enumerate() {
                url::Url::parse(u)
                    .map_err(|e| DocError::at(format!("{path}urls[{i}]"), format!("`{u}` is not a URL: {e}")))?;
            }
        }
        if let Some(data) = &self.data {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(data).map_err(|e| {
                DocError::at(format!("{path}data"), format!("not valid base64 (RFC 4648, padded): {e}"))
            })?;
        }
        if let Some(at) = &self.artifact_type {
            check_media_type(&format!("{path}artifactType"), at)?;
        }
        Ok(())
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default)]
    pub subject: Option<Descriptor>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub artifact_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default)]
    pub subject: Option<Descriptor>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Healthcheck {
    #[serde(rename = "Test", default)]
    pub test: Option<Vec<String>>,
    #[serde(rename = "Interval", default)]
    pub interval: Option<i64>,
    #[serde(rename = "Timeout", default)]
    pub timeout: Option<i64>,
    #[serde(rename = "StartPeriod", default)]
    pub start_period: Option<i64>,
    #[serde(rename = "Retries", default)]
    pub retries: Option<i64>,
}

/// The `config` object of an image config: OCI fields plus Docker's.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct RuntimeConfig {
    #[serde(rename = "User", default)]
    pub user: Option<String>,
    #[serde(rename = "ExposedPorts", default)]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Map<String, serde_json::Value>>>,
    #[serde(rename = "Env", default)]
    pub env: Option<Vec<String>>,
    #[serde(rename = "Entrypoint", default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Volumes", default)]
    pub volumes: Option<BTreeMap<String, serde_json::Map<String, serde_json::Value>>>,
    #[serde(rename = "WorkingDir", default)]
    pub working_dir: Option<String>,
    #[serde(rename = "Labels", default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "StopSignal", default)]
    pub stop_signal: Option<String>,
    #[serde(rename = "ArgsEscaped", default)]
    pub args_escaped: Option<bool>,
    #[serde(rename = "Healthcheck", default)]
    pub healthcheck: Option<Healthcheck>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<Digest>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct History {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub empty_layer: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    pub architecture: String,
    pub os: String,
    #[serde(rename = "os.version", default)]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default)]
    pub os_features: Option<Vec<String>>,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: Option<RuntimeConfig>,
    pub rootfs: RootFs,
    #[serde(default)]
    pub history: Option<Vec<History>>,
}

impl ImageConfig {
    /// The platform the config declares.
    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            os_version: self.os_version.clone(),
            os_features: None,
            variant: self.variant.clone(),
            features: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutHeader {
    pub image_layout_version: String,
}

/// Size limits for documents read into memory (they are JSON, never layers).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8], shape: &'static dialect::Shape) -> Result<T, DocError> {
    crate::nesting::json(bytes, crate::nesting::DOCUMENT).map_err(|e| DocError::at("", e.to_string()))?;
    dialect::check(bytes, shape).map_err(|(path, message)| DocError::at(path, message))?;
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let path = if path == "." { String::new() } else { path };
        DocError::at(path, inner.to_string())
    })
}

fn validate_annotations(_path: &str, _a: &Option<BTreeMap<String, String>>) -> Result<(), DocError> {
    // Types are enforced by serde (string → string); nothing else to check.
    Ok(())
}

pub fn parse_descriptor(bytes: &[u8]) -> Result<Descriptor, DocError> {
    let d: Descriptor = parse_json(bytes, &dialect::DESCRIPTOR)?;
    d.validate("")?;
    Ok(d)
}

pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, DocError> {
    let m: Manifest = parse_json(bytes, &dialect::MANIFEST)?;
    if m.schema_version != 2 {
        return Err(DocError::at("schemaVersion", format!("{} is not supported (must be 2)", m.schema_version)));
    }
    if let Some(mt) = &m.media_type {
        check_media_type("mediaType", mt)?;
    }
    if let Some(at) = &m.artifact_type {
        check_media_type("artifactType", at)?;
    }
    m.config.validate("config.")?;
    if m.layers.is_empty() {
        return Err(DocError::at("layers", "must list at least one layer"));
    }
    for (i, l) in m.layers.iter().enumerate() {
        l.validate(&format!("layers[{i}]."))?;
    }
    if let Some(s) = &m.subject {
        s.validate("subject.")?;
    }
    validate_annotations("annotations", &m.annotations)?;
    Ok(m)
}

pub fn parse_index(bytes: &[u8]) -> Result<Index, DocError> {
    let idx: Index = parse_json(bytes, &dialect::INDEX)?;
    if idx.schema_version != 2 {
        return Err(DocError::at("schemaVersion", format!("{} is not supported (must be 2)", idx.schema_version)));
    }
    if let Some(mt) = &idx.media_type {
        check_media_type("mediaType", mt)?;
    }
    if let Some(at) = &idx.artifact_type {
        check_media_type("artifactType", at)?;
    }
    for (i, d) in idx.manifests.iter().enumerate() {
        d.validate(&format!("manifests[{i}]."))?;
    }
    if let Some(s) = &idx.subject {
        s.validate("subject.")?;
    }
    Ok(idx)
}

pub fn parse_config(bytes: &[u8]) -> Result<ImageConfig, DocError> {
    let c: ImageConfig = parse_json(bytes, &dialect::CONFIG)?;
    if let Some(ts) = &c.created {
        check_timestamp("created", ts)?;
    }
    if c.rootfs.kind != "layers" {
        return Err(DocError::at("rootfs.type", format!("`{}` is not supported (must be `layers`)", c.rootfs.kind)));
    }
    if let Some(rc) = &c.config {
        for (i, e) in rc.env.iter().flatten().enumerate() {
            if !e.contains('=') || e.starts_with('=') {
                return Err(DocError::at(format!("config.Env[{i}]"), format!("`{e}` is not of the form NAME=value")));
            }
        }
    }
    for (i, h) in c.history.iter().flatten().enumerate() {
        if let Some(ts) = &h.created {
            check_timestamp(&format!("history[{i}].created"), ts)?;
        }
    }
    Ok(c)
}

pub fn parse_layout_header(bytes: &[u8]) -> Result<LayoutHeader, DocError> {
    let h: LayoutHeader = parse_json(bytes, &dialect::LAYOUT_HEADER)?;
    if h.image_layout_version != "1.0.0" {
        return Err(DocError::at(
            "imageLayoutVersion",
            format!("`{}` is not supported (must be 1.0.0)", h.image_layout_version),
        ));
    }
    Ok(h)
}

/// Validates a document of the given media type (one of the OCI types, the
/// descriptor type, or the layout header type).
pub fn validate_document(media_type: &str, bytes: &[u8]) -> Result<(), DocError> {
    match media_type {
        media_type::OCI_MANIFEST | media_type::DOCKER_MANIFEST => parse_manifest(bytes).map(drop),
        media_type::OCI_INDEX | media_type::DOCKER_LIST => parse_index(bytes).map(drop),
        media_type::OCI_CONFIG | media_type::DOCKER_CONFIG => parse_config(bytes).map(drop),
        media_type::OCI_DESCRIPTOR => parse_descriptor(bytes).map(drop),
        media_type::OCI_LAYOUT_HEADER => parse_layout_header(bytes).map(drop),
        other => Err(DocError::at("", format!("no validator for media type `{other}`"))),
    }
}

/// Guesses the type of a manifest-like document that carries no media type
/// (Docker and early OCI documents often omit it).
pub fn sniff_media_type(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde::de::IgnoredAny>,
        config: Option<serde::de::IgnoredAny>,
        schema_version: Option<u32>,
    }
    let p: Probe = serde_json::from_slice(bytes).ok()?;
    if let Some(mt) = p.media_type {
        return Some(mt);
    }
    match (p.manifests.is_some(), p.config.is_some(), p.schema_version) {
        (true, false, _) => Some(media_type::OCI_INDEX.into()),
        (false, true, _) => Some(media_type::OCI_MANIFEST.into()),
        (false, false, Some(1)) => Some(media_type::DOCKER_MANIFEST_V1.into()),
        _ => None,
    }
}
