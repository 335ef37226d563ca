//! Writes the sample image the README audits: a tiny OCI image layout with
//! one layer holding `/app/hello` (a 129-byte static x86-64 ELF that exits 0)
//! and a config that follows the baseline, except that it records no base
//! image (it is built from scratch), so GO-CFG-006 warns.
//!
//! The output is byte-for-byte deterministic; `examples/sample-image` in the
//! repository is this program's output, and a test checks that it still is.
//!
//!     cargo run --example sample_image -- examples/sample-image

use sha2::{Digest, Sha256};
use std::path::Path;

/// A minimal ELF64 executable: header, one PT_LOAD, `exit(0)`.
fn tiny_elf() -> Vec<u8> {
    let base: u64 = 0x400000;
    let code: &[u8] = &[0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05]; // mov eax,60; xor edi,edi; syscall
    let entry = base + 64 + 56;
    let total = (64 + 56 + code.len()) as u64;
    let mut e = Vec::new();
    e.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    e.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&entry.to_le_bytes());
    e.extend_from_slice(&64u64.to_le_bytes()); // phoff
    e.extend_from_slice(&0u64.to_le_bytes()); // shoff
    e.extend_from_slice(&0u32.to_le_bytes());
    e.extend_from_slice(&64u16.to_le_bytes());
    e.extend_from_slice(&56u16.to_le_bytes());
    e.extend_from_slice(&1u16.to_le_bytes());
    e.extend_from_slice(&64u16.to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    e.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    e.extend_from_slice(&5u32.to_le_bytes()); // R+X
    e.extend_from_slice(&0u64.to_le_bytes());
    e.extend_from_slice(&base.to_le_bytes());
    e.extend_from_slice(&base.to_le_bytes());
    e.extend_from_slice(&total.to_le_bytes());
    e.extend_from_slice(&total.to_le_bytes());
    e.extend_from_slice(&0x1000u64.to_le_bytes());
    e.extend_from_slice(code);
    e
}

fn layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_ustar();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_mtime(1_700_000_000);
    dir.set_size(0);
    b.append_data(&mut dir, "app/", std::io::empty()).unwrap();
    let elf = tiny_elf();
    let mut f = tar::Header::new_ustar();
    f.set_mode(0o755);
    f.set_mtime(1_700_000_000);
    f.set_size(elf.len() as u64);
    b.append_data(&mut f, "app/hello", elf.as_slice()).unwrap();
    b.into_inner().unwrap()
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn write_blob(dir: &Path, bytes: &[u8]) -> String {
    let d = digest(bytes);
    std::fs::write(dir.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
    d
}

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "examples/sample-image".into());
    let out = Path::new(&out);
    if out.exists() {
        std::fs::remove_dir_all(out).unwrap();
    }
    std::fs::create_dir_all(out.join("blobs/sha256")).unwrap();
    let layer = layer();
    let layer_digest = write_blob(out, &layer);
    let config = serde_json::json!({
        "created": "2023-11-14T22:13:20Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": "65532:65532",
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Entrypoint": ["/app/hello"],
            "Healthcheck": { "Test": ["CMD", "/app/hello"], "Interval": 30000000000u64 },
            "Labels": {
                "org.opencontainers.image.source": "https://example.invalid/portcullis",
                "org.opencontainers.image.revision": "0000000000000000000000000000000000000000",
                "org.opencontainers.image.title": "portcullis sample"
            }
        },
        "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
        "history": [{ "created": "2023-11-14T22:13:20Z", "created_by": "COPY hello /app/hello" }]
    });
    let config = serde_json::to_vec(&config).unwrap();
    let config_digest = write_blob(out, &config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len() }]
    }))
    .unwrap();
    let manifest_digest = write_blob(out, &manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": { "org.opencontainers.image.ref.name": "v1" }
        }]
    });
    std::fs::write(out.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(out.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    println!("{manifest_digest}");
}
