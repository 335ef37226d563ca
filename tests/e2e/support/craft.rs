//! Crafted images: a shared fixture with one thing edited, the way an
//! attacker derives a bypass — an extra layer written header by header (any
//! tar dialect: V7, ustar, star, GNU, PAX records, long names, base-256
//! numbers, declared sizes that lie), or a config rewritten as raw JSON text
//! (duplicate keys, case variants). Every derived layout is a valid OCI
//! layout again: digests, sizes and diffIDs are recomputed, so the only
//! difference is the edit itself.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub const BLOCK: usize = 512;

/// The header dialect of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    V7,
    Ustar,
    Star,
    Gnu,
}

/// One header block, field by field. Numbers are written in octal unless a
/// raw field is given.
#[derive(Debug, Clone)]
pub struct Header {
    pub name: Vec<u8>,
    pub typeflag: u8,
    pub mode: u64,
    pub uid: u64,
    pub gid: u64,
    pub linkname: Vec<u8>,
    pub dialect: Dialect,
    pub prefix: Vec<u8>,
    /// The size field; the content length when `None`.
    pub declared_size: Option<u64>,
    /// Raw bytes written over the block at an offset, after the fields.
    pub patches: Vec<(usize, Vec<u8>)>,
}

impl Header {
    pub fn new(name: &str, typeflag: u8) -> Self {
        Header {
            name: name.as_bytes().to_vec(),
            typeflag,
            mode: if typeflag == b'5' { 0o755 } else { 0o644 },
            uid: 0,
            gid: 0,
            linkname: Vec::new(),
            dialect: Dialect::Ustar,
            prefix: Vec::new(),
            declared_size: None,
            patches: Vec::new(),
        }
    }
    pub fn file(name: &str) -> Self {
        Self::new(name, b'0')
    }
    pub fn dir(name: &str) -> Self {
        Self::new(name, b'5')
    }
    pub fn symlink(name: &str, target: &str) -> Self {
        let mut h = Self::new(name, b'2');
        h.linkname = target.as_bytes().to_vec();
        h.mode = 0o777;
        h
    }
    pub fn hardlink(name: &str, target: &str) -> Self {
        let mut h = Self::new(name, b'1');
        h.linkname = target.as_bytes().to_vec();
        h
    }
    pub fn mode(mut self, mode: u64) -> Self {
        self.mode = mode;
        self
    }
    pub fn owner(mut self, uid: u64, gid: u64) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }
    pub fn dialect(mut self, d: Dialect) -> Self {
        self.dialect = d;
        self
    }
    pub fn prefix(mut self, p: &str) -> Self {
        self.prefix = p.as_bytes().to_vec();
        self
    }
    pub fn declared_size(mut self, n: u64) -> Self {
        self.declared_size = Some(n);
        self
    }
    pub fn patch(mut self, at: usize, bytes: &[u8]) -> Self {
        self.patches.push((at, bytes.to_vec()));
        self
    }

    fn block(&self, content_len: u64) -> [u8; BLOCK] {
        let mut b = [0u8; BLOCK];
        let put = |b: &mut [u8; BLOCK], at: usize, bytes: &[u8], width: usize| {
            let n = bytes.len().min(width);
            b[at..at + n].copy_from_slice(&bytes[..n]);
        };
        let octal = |v: u64, width: usize| format!("{v:0w$o}\0", w = width - 1).into_bytes();
        put(&mut b, 0, &self.name, 100);
        put(&mut b, 100, &octal(self.mode, 8), 8);
        put(&mut b, 108, &octal(self.uid, 8), 8);
        put(&mut b, 116, &octal(self.gid, 8), 8);
        put(&mut b, 124, &octal(self.declared_size.unwrap_or(content_len), 12), 12);
        put(&mut b, 136, &octal(1_700_000_000, 12), 12);
        b[156] = self.typeflag;
        put(&mut b, 157, &self.linkname, 100);
        match self.dialect {
            Dialect::V7 => {}
            Dialect::Ustar | Dialect::Star => {
                put(&mut b, 257, b"ustar\x0000", 8);
                put(&mut b, 345, &self.prefix, if self.dialect == Dialect::Star { 131 } else { 155 });
                if self.dialect == Dialect::Star {
                    put(&mut b, 508, b"tar\0", 4);
                }
            }
            Dialect::Gnu => put(&mut b, 257, b"ustar  \0", 8),
        }
        for (at, bytes) in &self.patches {
            b[*at..*at + bytes.len()].copy_from_slice(bytes);
        }
        b[148..156].copy_from_slice(b"        ");
        let sum: u32 = b.iter().map(|&c| u32::from(c)).sum();
        b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        b
    }
}

/// A tar stream written block by block.
#[derive(Default)]
pub struct RawTar {
    bytes: Vec<u8>,
}

impl RawTar {
    pub fn new() -> Self {
        Self::default()
    }
    /// A header and its content (padded to a block).
    pub fn entry(mut self, h: Header, content: &[u8]) -> Self {
        self.bytes.extend_from_slice(&h.block(content.len() as u64));
        self.bytes.extend_from_slice(content);
        self.bytes.resize(self.bytes.len().div_ceil(BLOCK) * BLOCK, 0);
        self
    }
    pub fn file(self, name: &str, content: &[u8]) -> Self {
        self.entry(Header::file(name), content)
    }
    pub fn dir(self, name: &str) -> Self {
        self.entry(Header::dir(name), b"")
    }
    /// A PAX extended header (`x`) with these records, in the dialect given.
    pub fn pax(self, records: &[(&str, &str)], dialect: Dialect) -> Self {
        self.pax_as(b'x', records, dialect)
    }
    /// A PAX header of type `x` (next entry) or `g` (global).
    pub fn pax_as(self, typeflag: u8, records: &[(&str, &str)], dialect: Dialect) -> Self {
        let mut body = Vec::new();
        for (k, v) in records {
            let rest = format!(" {k}={v}\n");
            let mut n = rest.len() + 1;
            while n.to_string().len() + rest.len() != n {
                n += 1;
            }
            body.extend_from_slice(format!("{n}{rest}").as_bytes());
        }
        self.entry(Header::new("PaxHeaders/x", typeflag).dialect(dialect), &body)
    }
    /// A GNU long name (`L`) or long link (`K`) record, in the dialect given.
    pub fn gnu_long(self, typeflag: u8, name: &str, dialect: Dialect) -> Self {
        let mut body = name.as_bytes().to_vec();
        body.push(0);
        self.entry(Header::new("././@LongLink", typeflag).dialect(dialect), &body)
    }
    /// Raw bytes appended as they are (a block written by hand).
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.bytes.extend_from_slice(bytes);
        self
    }
    /// The stream with its end-of-archive blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&[0u8; 2 * BLOCK]);
        self.bytes
    }
}

fn sha256(bytes: &[u8]) -> String {
    portcullis::digest::Digest::sha256(bytes).to_string()
}

/// One image of a fixture layout, taken apart so a test can edit it.
pub struct Derived {
    pub manifest: Value,
    pub config: Value,
    /// The config as raw text, when a test writes it by hand.
    pub raw_config: Option<String>,
    /// Edits of the serialised config and manifest text (duplicate keys,
    /// case variants: what a JSON value cannot hold).
    pub config_text: Option<fn(String) -> String>,
    pub manifest_text: Option<fn(String) -> String>,
    /// When set, the index lists the image once per platform given.
    pub index_platforms: Option<Vec<Value>>,
    /// Extra blobs (layers) by digest.
    blobs: Vec<(String, Vec<u8>)>,
    fixture: PathBuf,
}

impl Derived {
    /// The first image of an OCI layout of `../shared/images/oci`.
    pub fn of(fixture: &str) -> Self {
        let fixture = super::image(&format!("oci/{fixture}"));
        let index: Value = serde_json::from_slice(&std::fs::read(fixture.join("index.json")).unwrap()).unwrap();
        let blob = |d: &str| std::fs::read(fixture.join("blobs/sha256").join(&d[7..])).unwrap();
        let manifest: Value = serde_json::from_slice(&blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
        let config: Value = serde_json::from_slice(&blob(manifest["config"]["digest"].as_str().unwrap())).unwrap();
        Derived {
            manifest,
            config,
            raw_config: None,
            config_text: None,
            manifest_text: None,
            index_platforms: None,
            blobs: Vec::new(),
            fixture,
        }
    }

    /// Appends an uncompressed layer.
    pub fn push_layer(&mut self, tar: Vec<u8>) -> &mut Self {
        let d = sha256(&tar);
        self.manifest["layers"].as_array_mut().unwrap().push(json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": d, "size": tar.len(),
        }));
        self.config["rootfs"]["diff_ids"].as_array_mut().unwrap().push(json!(d));
        if !self.config["history"].is_array() {
            self.config["history"] = json!([]);
        }
        self.config["history"].as_array_mut().unwrap().push(json!({"created_by": "crafted by the test"}));
        self.blobs.push((d, tar));
        self
    }

    /// Appends an uncompressed layer named by a SHA-512 digest, of its
    /// bytes or (`honest: false`) of other bytes.
    pub fn push_layer_sha512(&mut self, tar: Vec<u8>, honest: bool) -> &mut Self {
        use sha2::Digest as _;
        let named = if honest { tar.clone() } else { [tar.as_slice(), b"x"].concat() };
        let d = format!("sha512:{}", hex::encode(sha2::Sha512::digest(&named)));
        self.manifest["layers"].as_array_mut().unwrap().push(json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": tar.len(),
        }));
        self.config["rootfs"]["diff_ids"].as_array_mut().unwrap().push(json!(sha256(&tar)));
        if !self.config["history"].is_array() {
            self.config["history"] = json!([]);
        }
        self.config["history"].as_array_mut().unwrap().push(json!({"created_by": "crafted by the test"}));
        self.blobs.push((d, tar));
        self
    }

    /// The runtime config object (`config` of the image config).
    pub fn runtime(&mut self) -> &mut serde_json::Map<String, Value> {
        self.config["config"].as_object_mut().unwrap()
    }

    /// Writes the layout to `dir` (fixture blobs linked, not copied) and
    /// returns it.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        for e in std::fs::read_dir(self.fixture.join("blobs/sha256")).unwrap() {
            let e = e.unwrap();
            let to = blobs.join(e.file_name());
            if !to.exists() {
                std::fs::hard_link(e.path(), &to).or_else(|_| std::fs::copy(e.path(), &to).map(drop)).unwrap();
            }
        }
        let put = |bytes: &[u8]| {
            let d = sha256(bytes);
            std::fs::write(blobs.join(&d[7..]), bytes).unwrap();
            (d, bytes.len())
        };
        for (d, b) in &self.blobs {
            let (alg, hex) = d.split_once(':').unwrap();
            std::fs::create_dir_all(dir.join("blobs").join(alg)).unwrap();
            std::fs::write(dir.join("blobs").join(alg).join(hex), b).unwrap();
        }
        let mut config = self.raw_config.clone().unwrap_or_else(|| serde_json::to_string(&self.config).unwrap());
        if let Some(edit) = self.config_text {
            config = edit(config);
        }
        let (cd, cn) = put(config.as_bytes());
        let mut manifest = self.manifest.clone();
        manifest["config"]["digest"] = json!(cd);
        manifest["config"]["size"] = json!(cn);
        let mut manifest = serde_json::to_string(&manifest).unwrap();
        if let Some(edit) = self.manifest_text {
            manifest = edit(manifest);
        }
        let (md, mn) = put(manifest.as_bytes());
        let entry = json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
            "annotations": {"org.opencontainers.image.ref.name": "v1"},
        });
        let manifests: Vec<Value> = match &self.index_platforms {
            None => vec![entry],
            Some(ps) => {
                // An image index blob listing the image once per platform,
                // named by the layout's index.json.
                let children: Vec<Value> = ps
                    .iter()
                    .map(|p| {
                        let mut e = entry.clone();
                        e["platform"] = p.clone();
                        e.as_object_mut().unwrap().remove("annotations");
                        e
                    })
                    .collect();
                let inner = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": children});
                let (id, n) = put(serde_json::to_string(&inner).unwrap().as_bytes());
                vec![json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": id, "size": n,
                    "annotations": {"org.opencontainers.image.ref.name": "v1"}})]
            }
        };
        let index =
            json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
        std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        dir.to_path_buf()
    }
}
