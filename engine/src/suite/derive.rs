//! Derived fixtures: an OCI layout copied from another fixture and changed
//! at run time — attachments dropped, config fields set or removed, the
//! platform swapped, a layer added or tampered with, signatures and
//! attestations made with test keys — so a test suite needs no committed
//! blobs for every variant of an image.
//!
//! Every edit goes through the manifest chain as a registry would see it: a
//! new config is a new blob, its manifest is rewritten and re-hashed, and so
//! is every index above it (signatures over the old digest are then stale,
//! as they would be). Each operation must change something: one that leaves
//! the layout as it was is an error, so a derived fixture cannot silently be
//! its origin.

use super::cfg::{AttestCfg, FixtureCfg};
use crate::digest::Digest;
use crate::oci::media_type as mt;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const DOCKER_REFERENCE_TYPE: &str = "vnd.docker.reference.type";

/// The operations of one derived fixture, with paths already resolved.
#[derive(Debug, Clone, Default)]
pub struct Derivation {
    pub drop_attachments: Vec<String>,
    pub strip_sbom: bool,
    pub config_set: Vec<(String, Value)>,
    pub config_remove: Vec<String>,
    pub platform: Option<String>,
    pub only_platform: Option<String>,
    pub add_layer: Option<PathBuf>,
    pub tamper_layer: Option<u32>,
    pub sign: Vec<PathBuf>,
    pub sign_annotations: Vec<(String, String)>,
    pub attest: Vec<Attest>,
}

#[derive(Debug, Clone)]
pub struct Attest {
    pub key: PathBuf,
    pub predicate_type: String,
    pub predicate: PathBuf,
}

impl Derivation {
    /// The derivation a fixture table asks for; `resolve` turns a path as
    /// written into one relative to the test file.
    pub fn of(f: &FixtureCfg, resolve: &dyn Fn(&str) -> PathBuf) -> Result<Derivation, String> {
        let mut config_set = Vec::new();
        for (k, v) in &f.config {
            let json = serde_json::to_value(v.get_ref()).map_err(|e| format!("config.{}: {e}", k.get_ref()))?;
            config_set.push((k.get_ref().clone(), json));
        }
        Ok(Derivation {
            drop_attachments: f.drop_attachments.iter().map(|d| d.get_ref().clone()).collect(),
            strip_sbom: f.strip_sbom.as_ref().is_some_and(|s| *s.get_ref()),
            config_set,
            config_remove: f.remove_config.iter().map(|r| r.get_ref().clone()).collect(),
            platform: f.platform.as_ref().map(|p| p.get_ref().clone()),
            only_platform: f.only_platform.as_ref().map(|p| p.get_ref().clone()),
            add_layer: f.add_layer.as_ref().map(|p| resolve(p.get_ref())),
            tamper_layer: f.tamper_layer.as_ref().map(|t| *t.get_ref()),
            sign: f.sign.iter().map(|k| resolve(k.get_ref())).collect(),
            sign_annotations: f
                .sign_annotations
                .iter()
                .map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone()))
                .collect(),
            attest: f
                .attest
                .iter()
                .map(|a: &AttestCfg| Attest {
                    key: resolve(a.key.get_ref()),
                    predicate_type: a.predicate_type.get_ref().clone(),
                    predicate: resolve(a.predicate.get_ref()),
                })
                .collect(),
        })
    }

    /// Whether any operation is asked for.
    pub fn is_empty(&self) -> bool {
        self.drop_attachments.is_empty()
            && !self.strip_sbom
            && self.config_set.is_empty()
            && self.config_remove.is_empty()
            && self.platform.is_none()
            && self.add_layer.is_none()
            && self.tamper_layer.is_none()
            && self.sign.is_empty()
            && self.attest.is_empty()
    }
}

/// An OCI layout being rewritten.
struct Layout {
    dir: PathBuf,
}

fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf, String> {
    let (alg, hex) = digest.split_once(':').ok_or_else(|| format!("`{digest}` is not a digest"))?;
    if alg != "sha256" || hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{digest}` is not a sha256 digest"));
    }
    Ok(dir.join("blobs").join(alg).join(hex))
}

impl Layout {
    fn read(&self, digest: &str) -> Result<Vec<u8>, String> {
        let p = blob_path(&self.dir, digest)?;
        std::fs::read(&p).map_err(|e| format!("blob {digest}: {e}"))
    }

    fn json(&self, digest: &str) -> Result<Value, String> {
        let bytes = self.read(digest)?;
        crate::nesting::json(&bytes, crate::nesting::DOCUMENT).map_err(|e| format!("blob {digest}: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("blob {digest} is not JSON: {e}"))
    }

    /// Writes a blob; returns its digest and size.
    fn write(&self, bytes: &[u8]) -> Result<(String, u64), String> {
        let digest = Digest::sha256(bytes).to_string();
        let p = blob_path(&self.dir, &digest)?;
        std::fs::write(&p, bytes).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        Ok((digest, bytes.len() as u64))
    }

    fn write_json(&self, v: &Value) -> Result<(String, u64), String> {
        self.write(&serde_json::to_vec(v).map_err(|e| e.to_string())?)
    }

    fn index(&self) -> Result<Value, String> {
        let p = self.dir.join("index.json");
        let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", p.display()))
    }

    fn write_index(&self, v: &Value) -> Result<(), String> {
        let p = self.dir.join("index.json");
        std::fs::write(&p, serde_json::to_vec(v).map_err(|e| e.to_string())?)
            .map_err(|e| format!("cannot write {}: {e}", p.display()))
    }
}

fn annotation<'a>(d: &'a Value, key: &str) -> Option<&'a str> {
    d["annotations"][key].as_str()
}

fn is_index(media_type: &str) -> bool {
    media_type == mt::OCI_INDEX || media_type == mt::DOCKER_LIST
}

/// What kind of attachment a top-level entry is, if it is one:
/// `signature`, `attestation` or `sbom`, with the media types it carries.
fn attachment(l: &Layout, d: &Value) -> Option<(&'static str, Vec<String>)> {
    let by_suffix = annotation(d, REF_NAME).and_then(|n| {
        let stem = n.strip_prefix("sha256-")?;
        let (hex, kind) = stem.split_once('.')?;
        (hex.len() == 64).then_some(())?;
        match kind {
            "sig" => Some("signature"),
            "att" => Some("attestation"),
            "sbom" => Some("sbom"),
            _ => None,
        }
    });
    let by_cosign_kind = annotation(d, "kind").and_then(|k| match k {
        "dev.cosignproject.cosign/sigs" => Some("signature"),
        "dev.cosignproject.cosign/atts" => Some("attestation"),
        "dev.cosignproject.cosign/sboms" => Some("sbom"),
        _ => None,
    });
    let manifest = d["digest"].as_str().and_then(|dg| l.json(dg).ok());
    let media: Vec<String> = manifest
        .iter()
        .flat_map(|m| {
            m["artifactType"].as_str().map(str::to_string).into_iter().chain(
                m["layers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x["mediaType"].as_str().map(str::to_string)),
            )
        })
        .collect();
    if let Some(k) = by_suffix.or(by_cosign_kind) {
        return Some((k, media));
    }
    // An OCI 1.1 referrer: a manifest with a subject.
    let m = manifest?;
    m.get("subject")?;
    let kind = if media.iter().any(|t| t.contains("simplesigning")) {
        "signature"
    } else if media.iter().any(|t| t.contains("spdx") || t.contains("cyclonedx") || t.contains("syft")) {
        "sbom"
    } else {
        "attestation"
    };
    Some((kind, media))
}

fn matches_kind(wanted: &[String], kind: &str, media: &[String]) -> bool {
    wanted.iter().any(|w| w == "all" || w == kind || media.iter().any(|m| m == w))
}

/// Drops the attachments of the kinds wanted (also buildx attestation
/// manifests inside indexes, for `attestation`, `sbom` and `all`).
fn drop_attachments(l: &Layout, wanted: &[String]) -> Result<bool, String> {
    let mut index = l.index()?;
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let before = entries.len();
    let mut kept = Vec::new();
    for e in entries {
        match attachment(l, &e) {
            Some((kind, media)) if matches_kind(wanted, kind, &media) => {}
            _ => kept.push(e),
        }
    }
    let mut changed = kept.len() != before;
    // buildx: attestation manifests listed inside an image index.
    let buildx = wanted.iter().any(|w| matches!(w.as_str(), "all" | "attestation" | "sbom"));
    if buildx {
        for e in &mut kept {
            if !is_index(e["mediaType"].as_str().unwrap_or("")) {
                continue;
            }
            let digest = e["digest"].as_str().unwrap_or("").to_string();
            let mut nested = l.json(&digest)?;
            let list = nested["manifests"].as_array().cloned().unwrap_or_default();
            let n = list.len();
            let left: Vec<Value> = list
                .into_iter()
                .filter(|m| annotation(m, DOCKER_REFERENCE_TYPE) != Some("attestation-manifest"))
                .collect();
            if left.len() != n {
                nested["manifests"] = Value::Array(left);
                let (d, size) = l.write_json(&nested)?;
                e["digest"] = json!(d);
                e["size"] = json!(size);
                changed = true;
            }
        }
    }
    index["manifests"] = Value::Array(kept);
    l.write_index(&index)?;
    Ok(changed)
}

/// `os/arch[/variant]` of a descriptor's platform or a config.
fn platform_of(v: &Value) -> Option<String> {
    let (os, arch) = (v["os"].as_str()?, v["architecture"].as_str()?);
    Some(match v["variant"].as_str() {
        Some(var) => format!("{os}/{arch}/{var}"),
        None => format!("{os}/{arch}"),
    })
}

/// Whether `have` is the platform `want` names (`linux/arm64` matches
/// `linux/arm64/v8`).
fn same_platform(want: &str, have: &str) -> bool {
    have == want || have.starts_with(&format!("{want}/"))
}

/// One image as the editor hands it over: its index descriptor, manifest and config.
struct ImageDocs<'a> {
    descriptor: &'a mut Value,
    manifest: &'a mut Value,
    config: &'a mut Value,
}

type Edit<'e> = dyn FnMut(&Layout, ImageDocs<'_>) -> Result<bool, String> + 'e;

/// Applies `edit` to every image (not attachment) of the layout, or those of
/// `only` platform, rewriting blobs and indexes above any image it changed.
fn edit_images(l: &Layout, only: Option<&str>, edit: &mut Edit<'_>) -> Result<bool, String> {
    let mut index = l.index()?;
    let mut entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let mut changed = false;
    for e in &mut entries {
        if attachment(l, e).is_some() {
            continue;
        }
        changed |= edit_entry(l, e, only, edit, 0)?;
    }
    if changed {
        index["manifests"] = Value::Array(entries);
        l.write_index(&index)?;
    }
    Ok(changed)
}

fn edit_entry(l: &Layout, e: &mut Value, only: Option<&str>, edit: &mut Edit<'_>, depth: u32) -> Result<bool, String> {
    if depth > 4 {
        return Err("indexes nested more than 4 deep".into());
    }
    let media = e["mediaType"].as_str().unwrap_or("").to_string();
    let digest = e["digest"].as_str().ok_or("an index entry has no digest")?.to_string();
    if is_index(&media) {
        let mut nested = l.json(&digest)?;
        let mut list = nested["manifests"].as_array().cloned().unwrap_or_default();
        let mut changed = false;
        for m in &mut list {
            if annotation(m, DOCKER_REFERENCE_TYPE).is_some() {
                continue;
            }
            changed |= edit_entry(l, m, only, edit, depth + 1)?;
        }
        if changed {
            nested["manifests"] = Value::Array(list);
            let (d, size) = l.write_json(&nested)?;
            e["digest"] = json!(d);
            e["size"] = json!(size);
        }
        return Ok(changed);
    }
    let mut manifest = l.json(&digest)?;
    let config_digest = manifest["config"]["digest"].as_str().ok_or("a manifest has no config")?.to_string();
    let mut config = l.json(&config_digest)?;
    if let Some(want) = only {
        let have = platform_of(&e["platform"]).or_else(|| platform_of(&config)).unwrap_or_default();
        if !same_platform(want, &have) {
            return Ok(false);
        }
    }
    let before = (manifest.clone(), config.clone());
    let changed = edit(l, ImageDocs { descriptor: e, manifest: &mut manifest, config: &mut config })?;
    if !changed && before == (manifest.clone(), config.clone()) {
        return Ok(false);
    }
    if config != before.1 {
        let (d, size) = l.write_json(&config)?;
        manifest["config"]["digest"] = json!(d);
        manifest["config"]["size"] = json!(size);
    }
    let (d, size) = l.write_json(&manifest)?;
    e["digest"] = json!(d);
    e["size"] = json!(size);
    Ok(true)
}

fn set_config(l: &Layout, only: Option<&str>, set: &[(String, Value)], remove: &[String]) -> Result<(), String> {
    for (k, v) in set {
        let changed = edit_images(l, only, &mut |_, docs| {
            let c = docs.config.as_object_mut().ok_or("the config is not an object")?;
            let section = c.entry("config").or_insert_with(|| json!({}));
            let section = section.as_object_mut().ok_or("config.config is not an object")?;
            let old = section.insert(k.clone(), v.clone());
            Ok(old.as_ref() != Some(v))
        })?;
        if !changed {
            return Err(format!("config.{k} = {v} changes nothing: the origin already has it"));
        }
    }
    for k in remove {
        let changed = edit_images(l, only, &mut |_, docs| {
            Ok(docs.config["config"].as_object_mut().and_then(|c| c.remove(k.as_str())).is_some())
        })?;
        if !changed {
            return Err(format!("remove-config `{k}` changes nothing: the origin's config has no `{k}`"));
        }
    }
    Ok(())
}

fn set_platform(l: &Layout, only: Option<&str>, platform: &str) -> Result<(), String> {
    let parts: Vec<&str> = platform.split('/').collect();
    let (os, arch, variant) = match parts.as_slice() {
        [os, arch] => (*os, *arch, None),
        [os, arch, v] => (*os, *arch, Some(*v)),
        _ => return Err(format!("platform `{platform}` is not OS/ARCH[/VARIANT]")),
    };
    let changed = edit_images(l, only, &mut |_, docs| {
        let before = (docs.config.clone(), docs.descriptor.clone());
        let set = |v: &mut Value| {
            if let Some(o) = v.as_object_mut() {
                o.insert("os".into(), json!(os));
                o.insert("architecture".into(), json!(arch));
                match variant {
                    Some(var) => o.insert("variant".into(), json!(var)),
                    None => o.remove("variant"),
                };
            }
        };
        set(docs.config);
        if docs.descriptor.get("platform").is_some() {
            set(&mut docs.descriptor["platform"]);
        }
        Ok(before != (docs.config.clone(), docs.descriptor.clone()))
    })?;
    if !changed {
        return Err(format!("platform `{platform}` changes nothing: the image already is {platform}"));
    }
    Ok(())
}

/// A layer holding the files under `dir` (names relative to it), as an
/// uncompressed tar; files keep mode 0644 (0755 when executable), owned by root.
fn layer_of(dir: &Path) -> Result<Vec<u8>, String> {
    let mut b = tar::Builder::new(Vec::new());
    b.mode(tar::HeaderMode::Deterministic);
    b.follow_symlinks(false);
    b.append_dir_all(".", dir).map_err(|e| format!("add-layer {}: {e}", dir.display()))?;
    b.into_inner().map_err(|e| format!("add-layer {}: {e}", dir.display()))
}

fn add_layer(l: &Layout, only: Option<&str>, dir: &Path) -> Result<(), String> {
    if !dir.is_dir() {
        return Err(format!("add-layer {}: not a directory", dir.display()));
    }
    let tar = layer_of(dir)?;
    let (digest, size) = l.write(&tar)?;
    edit_images(l, only, &mut |_, docs| {
        docs.manifest["layers"]
            .as_array_mut()
            .ok_or("the manifest has no layers list")?
            .push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size}));
        docs.config["rootfs"]["diff_ids"]
            .as_array_mut()
            .ok_or("the config has no rootfs.diff_ids")?
            .push(json!(digest));
        if let Some(h) = docs.config["history"].as_array_mut() {
            h.push(json!({"created_by": format!("portcullis test: add-layer {}", dir.display())}));
        }
        Ok(true)
    })?;
    Ok(())
}

/// Flips one byte in the middle of layer `n` of every (selected) image; the
/// manifest still names the old digest, so a reader must notice.
fn tamper_layer(l: &Layout, only: Option<&str>, n: u32) -> Result<(), String> {
    let mut targets = Vec::new();
    edit_images(l, only, &mut |_, docs| {
        let layer = docs.manifest["layers"]
            .get(n as usize)
            .ok_or_else(|| format!("tamper-layer {n}: the image has no layer {n}"))?;
        targets.push(layer["digest"].as_str().unwrap_or("").to_string());
        Ok(false)
    })?;
    if targets.is_empty() {
        return Err(format!("tamper-layer {n}: no image to tamper with"));
    }
    targets.sort();
    targets.dedup();
    for d in targets {
        let p = blob_path(&l.dir, &d)?;
        let mut bytes = std::fs::read(&p).map_err(|e| format!("layer {d}: {e}"))?;
        if bytes.is_empty() {
            return Err(format!("tamper-layer {n}: layer {d} is empty"));
        }
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(&p, bytes).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    }
    Ok(())
}

/// Digests of the images (and indexes) of the layout, attachments excluded.
fn subjects(l: &Layout) -> Result<Vec<String>, String> {
    let index = l.index()?;
    let mut out = Vec::new();
    let mut stack: Vec<(Value, u32)> = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| attachment(l, e).is_none())
        .map(|e| (e.clone(), 0))
        .collect();
    while let Some((e, depth)) = stack.pop() {
        let d = e["digest"].as_str().unwrap_or("").to_string();
        if is_index(e["mediaType"].as_str().unwrap_or("")) && depth < 4 {
            let nested = l.json(&d)?;
            for m in nested["manifests"].as_array().into_iter().flatten() {
                if annotation(m, DOCKER_REFERENCE_TYPE).is_none() {
                    stack.push((m.clone(), depth + 1));
                }
            }
        }
        out.push(d);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn read_key(path: &Path) -> Result<p256::ecdsa::SigningKey, String> {
    use p256::pkcs8::DecodePrivateKey as _;
    let pem = std::fs::read_to_string(path).map_err(|e| format!("key {}: {e}", path.display()))?;
    p256::ecdsa::SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| format!("key {}: not an ECDSA P-256 PKCS#8 PEM private key: {e}", path.display()))
}

fn cosign_tag(digest: &str, suffix: &str) -> String {
    format!("{}.{suffix}", digest.replace(':', "-"))
}

/// Attaches one layer by cosign's tag scheme, replacing an earlier
/// attachment of that tag (a re-signed image carries the new signature only).
fn attach_by_tag(l: &Layout, tag: &str, layer: Value) -> Result<(), String> {
    let config = l.write(b"{}")?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": mt::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0, "size": config.1},
        "layers": [layer],
    });
    let (d, size) = l.write_json(&manifest)?;
    let mut index = l.index()?;
    let list = index["manifests"].as_array_mut().ok_or("index.json has no manifests list")?;
    list.retain(|e| annotation(e, REF_NAME) != Some(tag));
    list.push(json!({"mediaType": mt::OCI_MANIFEST, "digest": d, "size": size, "annotations": {REF_NAME: tag}}));
    l.write_index(&index)
}

fn sign(l: &Layout, key: &Path, annotations: &[(String, String)]) -> Result<(), String> {
    use base64::Engine as _;
    use p256::ecdsa::signature::Signer as _;
    let sk = read_key(key)?;
    let optional = if annotations.is_empty() {
        Value::Null
    } else {
        Value::Object(annotations.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
    };
    for digest in subjects(l)? {
        let payload = serde_json::to_vec(&json!({
            "critical": {
                "identity": {"docker-reference": "portcullis.test/fixture"},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature"
            },
            "optional": optional
        }))
        .map_err(|e| e.to_string())?;
        let sig: p256::ecdsa::Signature = sk.sign(&payload);
        let (d, size) = l.write(&payload)?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes());
        let layer = json!({
            "mediaType": crate::signature::cosign::SIMPLE_SIGNING,
            "digest": d, "size": size,
            "annotations": {crate::signature::cosign::SIGNATURE: b64}
        });
        attach_by_tag(l, &cosign_tag(&digest, "sig"), layer)?;
    }
    Ok(())
}

fn attest(l: &Layout, a: &Attest) -> Result<(), String> {
    let pem = std::fs::read_to_string(&a.key).map_err(|e| format!("key {}: {e}", a.key.display()))?;
    let text =
        std::fs::read_to_string(&a.predicate).map_err(|e| format!("predicate {}: {e}", a.predicate.display()))?;
    for digest in subjects(l)? {
        let predicate: Value = serde_json::from_str(&text.replace("${DIGEST}", &digest))
            .map_err(|e| format!("predicate {}: not JSON: {e}", a.predicate.display()))?;
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "portcullis.test/fixture", "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
            "predicateType": a.predicate_type,
            "predicate": predicate,
        });
        let envelope =
            crate::report::vsa::sign(&statement, &pem).map_err(|e| format!("key {}: {e}", a.key.display()))?;
        let (d, size) = l.write_json(&envelope)?;
        let layer = json!({
            "mediaType": crate::signature::cosign::DSSE,
            "digest": d, "size": size,
            "annotations": {"predicateType": a.predicate_type}
        });
        attach_by_tag(l, &cosign_tag(&digest, "att"), layer)?;
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", from.display()))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| format!("{}: {e}", src.display()))?;
        if kind.is_dir() {
            copy_dir(&src, &dst)?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst).map_err(|e| format!("{}: {e}", src.display()))?;
        }
    }
    Ok(())
}

/// Makes the derived layout `into` from the OCI layout `origin`.
pub fn derive(origin: &Path, into: &Path, d: &Derivation) -> Result<(), String> {
    if !origin.join("oci-layout").is_file() {
        return Err(format!(
            "{} is not an OCI layout directory: derived fixtures start from one (convert an archive with `skopeo copy`)",
            origin.display()
        ));
    }
    copy_dir(origin, into)?;
    let l = Layout { dir: into.to_path_buf() };
    let only = d.only_platform.as_deref();
    let mut drop = d.drop_attachments.clone();
    if d.strip_sbom {
        drop.push("sbom".into());
    }
    if !drop.is_empty() && !drop_attachments(&l, &drop)? && !d.strip_sbom {
        return Err(format!("drop-attachments {drop:?} changes nothing: the origin has no such attachment"));
    }
    set_config(&l, only, &d.config_set, &d.config_remove)?;
    if let Some(p) = &d.platform {
        set_platform(&l, only, p)?;
    }
    if let Some(dir) = &d.add_layer {
        add_layer(&l, only, dir)?;
    }
    if let Some(n) = d.tamper_layer {
        tamper_layer(&l, only, n)?;
    }
    for key in &d.sign {
        sign(&l, key, &d.sign_annotations)?;
    }
    for a in &d.attest {
        attest(&l, a)?;
    }
    Ok(())
}
