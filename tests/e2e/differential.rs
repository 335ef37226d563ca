//! Differential tests against the readers the runtimes use: every image is
//! read by Portcullis and by the real thing — a Go program
//! (`tests/differential/goreader`, standard library only, built here with
//! Debian's `golang-go`) that reads each layer with `archive/tar` and the
//! config with `encoding/json`, and Debian's `umoci unpack --rootless`, which
//! extracts the image. Per layer, the entries (names, types, modes, owners,
//! sizes, link targets, content hashes) must be the ones Go reads; the
//! merged view must be the tree umoci extracts; the decoded config must be
//! the one Go decodes. Or Portcullis must refuse the image as unreadable —
//! the one way it may differ, because a deny is never a bypass.
//!
//! Inputs: every fixture of `../shared/images`, the image archives of the
//! dive, dockle and go-containerregistry corpora, and the crafted images of
//! `fidelity` (one or more per class of false admit in issue #13).

use crate::support::{self, cache_dir, workspace};
use portcullis::blob::{Container, DirContainer, TarContainer};
use portcullis::evidence::Evidence;
use portcullis::scan::{FileKind, RawEntry, ScanLimits};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The Go reader, built once per test process.
fn goreader() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = workspace().join("tests/differential/goreader");
        let out = cache_dir().join("goreader");
        let status = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(&src)
            .env("GOCACHE", cache_dir().join("gocache"))
            .env("GOPATH", cache_dir().join("gopath"))
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .status()
            .expect("`go` is needed for the differential tests: install Debian's golang-go (.ci/run does)");
        assert!(status.success(), "building {} failed", src.display());
        out
    })
}

/// One path of a filesystem view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    kind: &'static str,
    mode: u32,
    size: u64,
    link: Option<String>,
    sha256: Option<String>,
}

fn kind_name(k: FileKind) -> &'static str {
    match k {
        FileKind::Regular => "regular",
        FileKind::Directory => "directory",
        FileKind::Symlink => "symlink",
        FileKind::Hardlink => "hardlink",
        FileKind::CharDevice => "char",
        FileKind::BlockDevice => "block",
        FileKind::Fifo => "fifo",
        FileKind::Other => "other",
    }
}

/// Names as the runtime cleans them (`./a//b/` → `a/b`).
fn clean(name: &str) -> String {
    name.split('/').filter(|p| !p.is_empty() && *p != ".").collect::<Vec<_>>().join("/")
}

/// How to reach one image of an input, for each reader.
struct Target {
    /// Go reader arguments: the input and a manifest digest or archive index.
    go_args: (PathBuf, String),
    /// The container and the layer names in it, for listing layers.
    layers: Vec<String>,
    /// An OCI layout holding just this image as `:v1`, for umoci.
    umoci_layout: Option<PathBuf>,
}

/// Lays out one image of an OCI layout (its blobs linked) under `dir`.
fn single_image_layout(from: &Path, manifest: &Value, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let blobs = dir.join("blobs");
    if !blobs.exists() {
        std::os::unix::fs::symlink(std::fs::canonicalize(from.join("blobs")).unwrap(), &blobs).unwrap();
    }
    let mut m = manifest.clone();
    m["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "v1"});
    m.as_object_mut().unwrap().remove("platform");
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [m]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    dir.to_path_buf()
}

fn json_blob(c: &dyn Container, digest: &str) -> Option<Value> {
    let bytes = c.read(&format!("blobs/{}", digest.replacen(':', "/", 1)), 64 << 20).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Every image manifest of an OCI layout, through nested indexes.
fn layout_manifests(c: &dyn Container, index: &Value, out: &mut Vec<Value>) {
    for d in index["manifests"].as_array().into_iter().flatten() {
        let mt = d["mediaType"].as_str().unwrap_or("");
        if mt.contains("index") || mt.contains("manifest.list") {
            if let Some(inner) = json_blob(c, d["digest"].as_str().unwrap_or("")) {
                layout_manifests(c, &inner, out);
            }
        } else if mt.contains("manifest") {
            out.push(d.clone());
        }
    }
}

/// The targets of an input, keyed by the subject digest Portcullis reports.
fn targets(input: &Path, work: &Path) -> BTreeMap<String, Target> {
    let mut out = BTreeMap::new();
    if input.is_dir() {
        let c = DirContainer::new(input);
        let Some(index) = c.read("index.json", 16 << 20).ok().flatten() else { return out };
        let Ok(index) = serde_json::from_slice::<Value>(&index) else { return out };
        let mut manifests = Vec::new();
        layout_manifests(&c, &index, &mut manifests);
        for (i, d) in manifests.iter().enumerate() {
            let digest = d["digest"].as_str().unwrap_or("").to_string();
            let Some(m) = json_blob(&c, &digest) else { continue };
            let layers = m["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| format!("blobs/{}", l["digest"].as_str().unwrap_or("").replacen(':', "/", 1)))
                .collect();
            let umoci = single_image_layout(input, d, &work.join(format!("layout-{i}")));
            out.insert(digest.clone(), Target { go_args: (input.into(), digest), layers, umoci_layout: Some(umoci) });
        }
        return out;
    }
    let Ok(c) = TarContainer::open(input) else { return out };
    if c.exists("oci-layout") && !c.exists("manifest.json") {
        // An OCI archive: its images laid out as directories, blobs copied
        // byte for byte, for the Go reader and umoci alike.
        let dir = work.join("unpacked");
        let Some(index) = c.read("index.json", 16 << 20).ok().flatten() else { return out };
        let Ok(index) = serde_json::from_slice::<Value>(&index) else { return out };
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        for name in c.names().filter(|n| n.starts_with("blobs/")).map(String::from).collect::<Vec<_>>() {
            let bytes = c.read(&name, 1 << 30).unwrap().unwrap();
            std::fs::create_dir_all(dir.join(&name).parent().unwrap()).unwrap();
            std::fs::write(dir.join(&name), bytes).unwrap();
        }
        std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        return targets(&dir, &work.join("layouts"));
    }
    let Some(manifest) = c.read("manifest.json", 16 << 20).ok().flatten() else { return out };
    let Ok(Value::Array(entries)) = serde_json::from_slice::<Value>(&manifest) else { return out };
    for (i, e) in entries.iter().enumerate() {
        let Some(config) = e["Config"].as_str().and_then(|n| c.read(n, 64 << 20).ok().flatten()) else { continue };
        let id = portcullis::digest::Digest::sha256(&config).to_string();
        let layers =
            e["Layers"].as_array().into_iter().flatten().filter_map(|l| l.as_str().map(String::from)).collect();
        // umoci reads OCI layouts only: skopeo converts the archive.
        let layout = work.join(format!("converted-{i}"));
        let ok = Command::new("skopeo")
            .args(["copy", "--quiet", "--insecure-policy"])
            .arg(format!("docker-archive:{}:@{i}", input.display()))
            .arg(format!("oci:{}:v1", layout.display()))
            .output()
            .is_ok_and(|o| o.status.success());
        out.insert(id, Target { go_args: (input.into(), i.to_string()), layers, umoci_layout: ok.then_some(layout) });
    }
    out
}

/// The tree umoci extracts, or why it could not.
fn umoci_view(layout: &Path, work: &Path) -> Result<BTreeMap<String, Node>, String> {
    // `raw unpack`: the root filesystem only (no runtime config, whose
    // checks — an unknown user — are not a reading of the layers).
    let root = work.join("rootfs");
    let _ = std::fs::remove_dir_all(&root);
    let out = Command::new("umoci")
        .args(["raw", "unpack", "--rootless", "--image"])
        .arg(format!("{}:v1", layout.display()))
        .arg(&root)
        .output()
        .expect("`umoci` is needed for the differential tests: install Debian's umoci (.ci/run does)");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        // umoci 0.4 unpacks OCI media types only: Docker v2 manifests in an
        // OCI layout are converted by skopeo (layers copied as they are).
        let converted = work.join("as-oci");
        if err.contains("not correct mediatype") && !layout.starts_with(&converted) {
            let _ = std::fs::remove_dir_all(&converted);
            let ok = Command::new("skopeo")
                .args(["copy", "--quiet", "--insecure-policy", "--format", "oci"])
                .arg(format!("oci:{}:v1", layout.display()))
                .arg(format!("oci:{}:v1", converted.display()))
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return umoci_view(&converted, work);
            }
        }
        return Err(err);
    }
    let mut view = BTreeMap::new();
    let mut todo = vec![root.clone()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            use std::os::unix::fs::{FileTypeExt, PermissionsExt};
            let ft = meta.file_type();
            let rel = format!("/{}", p.strip_prefix(&root).unwrap().to_string_lossy());
            let (kind, size, link, sha256) = if ft.is_symlink() {
                ("symlink", 0, Some(std::fs::read_link(&p).unwrap().to_string_lossy().into_owned()), None)
            } else if ft.is_dir() {
                todo.push(p.clone());
                ("directory", 0, None, None)
            } else if ft.is_file() {
                let bytes = std::fs::read(&p).unwrap();
                let sha = portcullis::digest::Digest::sha256(&bytes).to_string()[7..].to_string();
                ("regular", meta.len(), None, Some(sha))
            } else if ft.is_char_device() {
                ("char", 0, None, None)
            } else if ft.is_block_device() {
                ("block", 0, None, None)
            } else {
                ("fifo", 0, None, None)
            };
            let mode = if kind == "symlink" { 0 } else { meta.permissions().mode() & 0o7777 };
            view.insert(rel, Node { kind, mode, size, link, sha256 });
        }
    }
    Ok(view)
}

fn hex(d: &Option<[u8; 32]>) -> Option<String> {
    d.map(|d| d.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares one layer's entries as Portcullis and Go read them.
fn compare_layer(i: usize, ours: &[RawEntry], go: &Value, problems: &mut Vec<String>) {
    let mut theirs: BTreeMap<String, &Value> = BTreeMap::new();
    for e in go["entries"].as_array().into_iter().flatten() {
        let name = clean(e["name"].as_str().unwrap_or(""));
        if !name.is_empty() {
            theirs.insert(name, e);
        }
    }
    let ours_by: BTreeMap<&str, &RawEntry> = ours.iter().map(|e| (e.path.as_str(), e)).collect();
    for (name, g) in &theirs {
        let Some(e) = ours_by.get(name.as_str()) else {
            problems.push(format!("layer {i}: `{name}` is read by Go, not by Portcullis"));
            continue;
        };
        let go_kind = g["type"].as_str().unwrap_or("");
        let (kind, link) = match &e.hard_link_to {
            Some(t) => ("hardlink", Some(t.clone())),
            None => (kind_name(e.kind), e.link_target.clone()),
        };
        let go_link = g["linkname"].as_str().map(|l| if go_kind == "hardlink" { clean(l) } else { l.to_string() });
        let mut differ = |what: &str, a: String, b: String| {
            if a != b {
                problems.push(format!("layer {i}: `{name}` {what}: Portcullis {a}, Go {b}"));
            }
        };
        differ("type", kind.into(), go_kind.into());
        differ("link", format!("{link:?}"), format!("{go_link:?}"));
        if kind != "hardlink" {
            differ("mode", format!("{:o}", e.mode), format!("{:o}", g["mode"].as_u64().unwrap_or(0)));
            differ("uid:gid", format!("{}:{}", e.uid, e.gid), format!("{}:{}", g["uid"], g["gid"]));
            differ("size", e.stored_bytes().to_string(), g["size"].to_string());
            differ("content", format!("{:?}", hex(&e.content)), format!("{:?}", g["sha256"].as_str()));
        }
    }
    for name in ours_by.keys().filter(|n| !theirs.contains_key(**n)) {
        problems.push(format!("layer {i}: `{name}` is read by Portcullis, not by Go"));
    }
}

/// Compares the decoded runtime configs.
fn compare_config(ours: &portcullis::oci::ImageConfig, go: &Value, problems: &mut Vec<String>) {
    let rc = ours.config.clone().unwrap_or_default();
    let g = &go["config"];
    let keys = |m: Option<Vec<String>>| m.unwrap_or_default();
    let go_keys = |v: &Value| -> Vec<String> { v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default() };
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
    };
    let pairs: [(&str, String, String); 10] = [
        ("architecture", ours.architecture.clone(), go["architecture"].as_str().unwrap_or("").into()),
        ("os", ours.os.clone(), go["os"].as_str().unwrap_or("").into()),
        ("User", rc.user.clone().unwrap_or_default(), g["User"].as_str().unwrap_or("").into()),
        ("WorkingDir", rc.working_dir.clone().unwrap_or_default(), g["WorkingDir"].as_str().unwrap_or("").into()),
        (
            "Env",
            format!("{:?}", rc.env.clone().unwrap_or_default()),
            format!("{:?}", strings(&g["Env"]).unwrap_or_default()),
        ),
        (
            "Entrypoint",
            format!("{:?}", rc.entrypoint.clone().filter(|v| !v.is_empty())),
            format!("{:?}", strings(&g["Entrypoint"])),
        ),
        ("Cmd", format!("{:?}", rc.cmd.clone().filter(|v| !v.is_empty())), format!("{:?}", strings(&g["Cmd"]))),
        (
            "Labels",
            format!("{:?}", rc.labels.clone().unwrap_or_default()),
            format!(
                "{:?}",
                g["Labels"]
                    .as_object()
                    .map(|o| o
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect::<BTreeMap<String, String>>())
                    .unwrap_or_default()
            ),
        ),
        (
            "ExposedPorts",
            format!("{:?}", keys(rc.exposed_ports.clone().map(|m| m.into_keys().collect()))),
            format!("{:?}", go_keys(&g["ExposedPorts"])),
        ),
        (
            "Healthcheck.Test",
            format!("{:?}", rc.healthcheck.as_ref().and_then(|h| h.test.clone()).filter(|t| !t.is_empty())),
            format!("{:?}", strings(&g["Healthcheck"]["Test"])),
        ),
    ];
    for (what, a, b) in pairs {
        if a != b {
            problems.push(format!("config {what}: Portcullis {a}, Go {b}"));
        }
    }
}

/// Compares the merged view with umoci's extraction.
fn compare_tree(ours: &portcullis::scan::fs::MergedFs, theirs: &BTreeMap<String, Node>, problems: &mut Vec<String>) {
    let mut ours_by = BTreeMap::new();
    for f in ours.iter() {
        let (size, sha) = if f.kind == FileKind::Regular { (f.size, hex(&f.content)) } else { (0, None) };
        let mode = if f.kind == FileKind::Symlink { 0 } else { f.mode };
        let node = Node { kind: kind_name(f.kind), mode, size, link: f.link_target.clone(), sha256: sha };
        ours_by.insert(f.path.clone(), node);
    }
    for (path, t) in theirs {
        match ours_by.get(path) {
            None => {
                problems.push(format!("merged: `{path}` ({}) is extracted by umoci, not in Portcullis's view", t.kind))
            }
            // Rootless umoci cannot create device nodes: it leaves an empty file.
            Some(o) if matches!(o.kind, "char" | "block") && t.kind == "regular" && t.size == 0 => {}
            Some(o) if o != t => problems.push(format!("merged: `{path}`: Portcullis {o:?}, umoci {t:?}")),
            Some(_) => {}
        }
    }
    for path in ours_by.keys().filter(|p| !theirs.contains_key(*p)) {
        problems.push(format!("merged: `{path}` is in Portcullis's view, not extracted by umoci"));
    }
}

/// What became of one input.
#[derive(Debug)]
pub struct Outcome {
    /// Images Portcullis read and compared.
    pub compared: usize,
    /// Images Portcullis refused (with the reason): never a disagreement.
    pub refused: Vec<String>,
    /// Where Portcullis and the real readers disagree.
    pub disagreements: Vec<String>,
}

/// Reads `input` with Portcullis and with the real readers and lists every
/// disagreement.
pub fn differ(input: &Path) -> Outcome {
    let work = tempfile::tempdir().unwrap();
    let limits = ScanLimits { hash_contents: true, ..Default::default() };
    let opts = portcullis::source::OpenOptions { limits: limits.clone(), ..Default::default() };
    let mut outcome = Outcome { compared: 0, refused: Vec::new(), disagreements: Vec::new() };
    let opened = match portcullis::source::open(input, &opts) {
        Ok(i) => i,
        Err(e) => {
            outcome.refused.push(format!("input: {e}"));
            return outcome;
        }
    };
    let targets = targets(input, work.path());
    for ev in &opened.evidence {
        let (digest, image) = match ev {
            Evidence::Image(i) => (i.subject.digest.to_string(), i),
            Evidence::Unreadable { subject, reason } => {
                outcome.refused.push(format!("{}: {reason}", subject.digest));
                continue;
            }
            _ => continue,
        };
        let Some(t) = targets.get(&digest) else {
            outcome
                .disagreements
                .push(format!("{digest}: Portcullis judges an image the Go reader was not pointed at"));
            continue;
        };
        let label = format!("{} {digest}", input.display());
        let mut problems = Vec::new();
        let go = Command::new(goreader()).arg(&t.go_args.0).arg(&t.go_args.1).output().unwrap();
        if !go.status.success() {
            problems.push(format!("the Go reader fails: {}", String::from_utf8_lossy(&go.stderr).trim()));
        } else {
            let go: Value = serde_json::from_slice(&go.stdout).unwrap();
            match go["config"].is_object() {
                true => compare_config(&image.config, &go["config"], &mut problems),
                false => problems.push(format!("Go cannot decode the config: {}", go["config_error"])),
            }
            let container: Box<dyn Container> = if t.go_args.0.is_dir() {
                Box::new(DirContainer::new(&t.go_args.0))
            } else {
                Box::new(TarContainer::open(&t.go_args.0).unwrap())
            };
            let go_layers = go["layers"].as_array().cloned().unwrap_or_default();
            if go_layers.len() != t.layers.len() {
                problems.push(format!("Go lists {} layers, the manifest {}", go_layers.len(), t.layers.len()));
            }
            for (i, (name, g)) in t.layers.iter().zip(&go_layers).enumerate() {
                let (reader, _) = container.open(name).unwrap().unwrap();
                let ours = portcullis::scan::list_layer(reader, &limits);
                match (ours, g["error"].as_str()) {
                    (Ok(ours), None) => compare_layer(i, &ours, g, &mut problems),
                    (Err(e), Some(go_err)) => outcome.refused.push(format!("{label} layer {i}: {e} (Go: {go_err})")),
                    (Ok(_), Some(go_err)) => {
                        problems.push(format!("layer {i}: Go cannot read it ({go_err}), Portcullis can"))
                    }
                    (Err(e), None) => {
                        problems.push(format!("layer {i}: Portcullis cannot read it ({e}) but judged the image"))
                    }
                }
            }
        }
        match &t.umoci_layout {
            Some(layout) => match umoci_view(layout, work.path()) {
                Ok(tree) => compare_tree(&image.scan.as_ref().expect("layers scanned").files, &tree, &mut problems),
                // umoci 0.4 refuses Docker media types behind OCI descriptors
                // (go-containerregistry's layout test data): not a reading of
                // the layers, which the Go reader compared above.
                Err(e) if e.contains("MediaTypeImageManifest") || e.contains("not correct mediatype") => {
                    println!("tree not compared: {label}: umoci refuses the media types ({e})");
                }
                Err(e) => problems.push(format!("umoci cannot extract it ({e}), Portcullis judged it")),
            },
            None => problems.push("skopeo could not convert the archive for umoci".into()),
        }
        outcome.compared += 1;
        outcome.disagreements.extend(problems.into_iter().map(|p| format!("{label}: {p}")));
    }
    outcome
}

fn assert_agree(inputs: &[PathBuf]) {
    let mut all = Vec::new();
    let mut compared = 0;
    for input in inputs {
        let o = differ(input);
        compared += o.compared;
        for r in &o.refused {
            println!("refused: {} — {r}", input.display());
        }
        all.extend(o.disagreements);
    }
    println!("{compared} images compared");
    assert!(all.is_empty(), "{} disagreements:\n{}", all.len(), all.join("\n"));
}

#[test]
fn shared_fixtures_read_as_go_and_umoci_read_them() {
    let mut inputs = Vec::new();
    for dir in ["oci", "docker-archive"] {
        let mut found: Vec<PathBuf> =
            std::fs::read_dir(support::image(dir)).unwrap().map(|e| e.unwrap().path()).collect();
        found.sort();
        inputs.extend(found);
    }
    assert!(inputs.len() >= 7, "expected the shared OCI layouts and docker archives");
    assert_agree(&inputs);
}

/// Every image archive and OCI layout of the dive, dockle and
/// go-containerregistry corpora (inputs that are not images are refused by
/// Portcullis, which `differ` counts as refused).
fn corpus_inputs() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.join("index.json").is_file() && p.join("oci-layout").is_file() {
                    out.push(p.clone());
                }
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "tar")
                // zstd layers: neither Go's standard library nor umoci 0.4 reads them.
                && !p.to_string_lossy().contains("zstd")
            {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for c in ["dive", "dockle", "go-containerregistry"] {
        walk(&support::corpus(c), &mut out);
    }
    out.sort();
    out
}

#[test]
fn corpus_images_read_as_go_and_umoci_read_them() {
    let inputs = corpus_inputs();
    assert!(inputs.len() >= 25, "{} corpus inputs", inputs.len());
    assert_agree(&inputs);
}

#[test]
fn crafted_images_read_as_go_and_umoci_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let cases = crate::fidelity::cases(dir.path());
    let mut all = Vec::new();
    let (mut compared, mut refused) = (0, 0);
    for c in &cases {
        let o = differ(&c.image);
        compared += o.compared;
        refused += o.refused.len();
        all.extend(o.disagreements.into_iter().map(|d| format!("{} (class {}): {d}", c.name, c.class)));
    }
    println!("{} crafted images: {compared} compared with Go and umoci, {refused} refused by Portcullis", cases.len());
    assert!(compared >= 30, "too few crafted images were read to compare");
    assert!(all.is_empty(), "{} disagreements:\n{}", all.len(), all.join("\n"));
}
