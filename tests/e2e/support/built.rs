//! Images the tests build themselves: an OCI layout holding one Debian-like
//! image per platform (behind an index when there are several), each with
//! one layer carrying `/etc/os-release` and a dpkg `status` file listing the
//! given packages. Nothing is copied from the shared fixtures, so a test
//! says exactly what the image contains.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// One installed package: binary name, version and, when it differs from the
/// binary name, the source package (`openssl`, or `glibc (2.36-9)`).
#[derive(Debug, Clone, Copy)]
pub struct Deb<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub source: Option<&'a str>,
}

pub const fn deb<'a>(name: &'a str, version: &'a str, source: Option<&'a str>) -> Deb<'a> {
    Deb { name, version, source }
}

/// One platform image of a built layout.
#[derive(Debug, Clone)]
pub struct Platform {
    /// `linux/amd64`, `linux/arm64/v8`.
    pub name: String,
    pub manifest: String,
    pub config: String,
}

#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
    pub platforms: Vec<Platform>,
    /// The index digest, when the layout holds more than one platform.
    pub index: Option<String>,
}

fn put(root: &Path, bytes: &[u8]) -> String {
    let d = portcullis::digest::Digest::sha256(bytes).to_string();
    std::fs::write(root.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
    d
}

fn layer(packages: &[Deb], arch: &str) -> Vec<u8> {
    let mut status = String::new();
    for p in packages {
        status.push_str(&format!(
            "Package: {}\nStatus: install ok installed\nArchitecture: {arch}\nVersion: {}\n",
            p.name, p.version
        ));
        if let Some(s) = p.source {
            status.push_str(&format!("Source: {s}\n"));
        }
        status.push_str("Description: built by the test\n\n");
    }
    let files: [(&str, &[u8]); 2] = [
        ("etc/os-release", b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"),
        ("var/lib/dpkg/status", status.as_bytes()),
    ];
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_path(path).unwrap();
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Writes the layout under `dir/name`: one image per platform
/// (`linux/amd64`, `linux/arm64/v8`), all with `packages` installed.
pub fn debian_layout(dir: &Path, name: &str, packages: &[Deb], platforms: &[&str]) -> Layout {
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    let mut built = Vec::new();
    let mut entries = Vec::new();
    for platform in platforms {
        let mut parts = platform.split('/');
        let (os, arch, variant) = (parts.next().unwrap(), parts.next().unwrap(), parts.next());
        let tar = layer(packages, arch);
        let layer_digest = put(&root, &tar);
        let mut config = json!({
            "architecture": arch, "os": os,
            "config": {"User": "65532", "Entrypoint": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        });
        if let Some(v) = variant {
            config["variant"] = v.into();
        }
        let config = serde_json::to_vec(&config).unwrap();
        let config_digest = put(&root, &config);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": tar.len()}],
        }))
        .unwrap();
        let manifest_digest = put(&root, &manifest);
        let mut entry = json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest.len(),
            "platform": {"os": os, "architecture": arch},
        });
        if let Some(v) = variant {
            entry["platform"]["variant"] = v.into();
        }
        entries.push(entry);
        built.push(Platform { name: platform.to_string(), manifest: manifest_digest, config: config_digest });
    }
    let (top, index) = if entries.len() == 1 {
        let mut only = entries.pop().unwrap();
        only.as_object_mut().unwrap().remove("platform");
        (only, None)
    } else {
        let bytes = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }))
        .unwrap();
        let digest = put(&root, &bytes);
        let top =
            json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": bytes.len()});
        (top, Some(digest))
    };
    let mut top = top;
    top["annotations"] = json!({"org.opencontainers.image.ref.name": "v1"});
    std::fs::write(
        root.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [top]})).unwrap(),
    )
    .unwrap();
    std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    Layout { root, platforms: built, index }
}

/// Adds a blob to a built layout; returns its descriptor.
pub fn blob(layout: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let d = put(layout, bytes);
    json!({"mediaType": media_type, "digest": d, "size": bytes.len()})
}

/// Attaches an in-toto statement (in a DSSE envelope, unsigned: the SBOM
/// rules do not check signatures) to `target` as a cosign `.att` tag.
pub fn attach_statement(layout: &Path, target: &str, statement: &Value) {
    use base64::Engine as _;
    let envelope = json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(statement).unwrap()),
        "signatures": [{"keyid": "", "sig": "MEUCIQ=="}],
    });
    let empty = blob(layout, "application/vnd.oci.empty.v1+json", b"{}");
    let layer = blob(layout, "application/vnd.dsse.envelope.v1+json", &serde_json::to_vec(&envelope).unwrap());
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": empty, "layers": [layer]});
    let mut m = blob(layout, "application/vnd.oci.image.manifest.v1+json", &serde_json::to_vec(&manifest).unwrap());
    m["annotations"] = json!({"org.opencontainers.image.ref.name": format!("{}.att", target.replace(':', "-"))});
    let path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    index["manifests"].as_array_mut().unwrap().push(m);
    std::fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
}
