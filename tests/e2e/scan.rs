//! The layer scanner on real fixtures (go-containerregistry whiteouts, dive's
//! efficiency figures, dockle's setuid and credential images) and on hostile
//! layers built here: path traversal, escaping symlinks, a gzip bomb, bad
//! compression, digest mismatches, duplicate entries, absurdly deep paths.

use crate::support;

use portcullis::evidence::{Evidence, ImageEvidence};
use portcullis::scan::FileKind;
use std::io::Write;
use std::path::Path;
use support::{corpus, portcullis};

fn images(path: &Path) -> Vec<ImageEvidence> {
    support::open(path)
        .evidence
        .into_iter()
        .map(|e| match e {
            Evidence::Image(i) => *i,
            Evidence::Unreadable { reason, subject } => panic!("{}: {reason}", subject.reference),
            Evidence::Index(_) | Evidence::Artifact(_) => panic!("unexpected index or artifact"),
        })
        .collect()
}

fn gcr(rel: &str) -> std::path::PathBuf {
    corpus("go-containerregistry/pkg/v1").join(rel)
}

#[test]
fn whiteouts_and_overwrites_give_the_right_merged_view() {
    let img = &images(&gcr("mutate/testdata/whiteout_image.tar"))[0];
    let scan = img.scan.as_ref().unwrap();
    assert!(scan.files.get("/foo.txt").is_none(), "whited-out file is gone");
    assert!(scan.files.get("/bar.txt").is_some());

    let img = &images(&gcr("mutate/testdata/whiteout_dir.tar"))[0];
    let scan = img.scan.as_ref().unwrap();
    // Layer 2 whites out `a`, layer 3 re-creates `a/` with `a/baz`.
    assert!(scan.files.get("/a/foo").is_none(), "the whited-out directory's old content is gone");
    assert!(scan.files.get("/a/baz").is_some() && scan.files.get("/b/bar").is_some());

    let img = &images(&gcr("mutate/testdata/overwritten_file.tar"))[0];
    let scan = img.scan.as_ref().unwrap();
    // Layer 1 replaces the file foo.txt ("foo") with a symlink to bar.txt, so
    // reading foo.txt no longer gives "foo"; the last layer is empty.
    let foo = scan.files.get("/foo.txt").expect("foo.txt");
    assert_eq!((foo.kind, foo.layer, foo.link_target.as_deref()), (FileKind::Symlink, 1, Some("bar.txt")));
    assert_eq!(scan.files.get("/bar.txt").unwrap().size, 4);
}

#[test]
fn dive_figures_match_dive() {
    let dive = corpus("dive/.data");
    let img = &images(&dive.join("test-docker-image.tar"))[0];
    let eff = &img.scan.as_ref().unwrap().efficiency;
    println!(
        "dive test-docker-image: size {} user {} wasted {} efficiency {}",
        eff.total_bytes, eff.user_bytes, eff.wasted_bytes, eff.score
    );
    println!("{:?}", eff.inefficient);
    assert_eq!(eff.total_bytes, 1_220_598, "sizeBytes");
    assert_eq!(eff.user_bytes, 66_237, "userSizeBytes");
    assert_eq!(eff.wasted_bytes, 32_025, "wastedBytes");
    assert!((eff.score - 0.9844212134184309).abs() < 1e-12, "efficiency {}", eff.score);
    let expected = [
        ("/root/example/somefile1.txt", 2, 12810),
        ("/root/saved.txt", 2, 12810),
        ("/root/example/somefile3.txt", 2, 6405),
    ];
    let got: Vec<(&str, u32, u64)> =
        eff.inefficient.iter().filter(|p| p.2 > 0).map(|(p, c, s)| (p.as_str(), *c, *s)).collect();
    assert_eq!(got, expected);
}

#[test]
fn every_dive_archive_is_read_and_plain_rootfs_tars_are_not_images() {
    let dive = corpus("dive/.data");
    for name in [
        "test-kaniko-image.tar",
        "test-oci-uncompressed-image.tar",
        "test-oci-gzip-image.tar",
        "test-oci-zstd-image.tar",
        "test-oci-estargz-image.tar",
    ] {
        let imgs = images(&dive.join(name));
        let scan = imgs[0].scan.as_ref().unwrap();
        assert!(!scan.files.is_empty(), "{name}: no files");
        if name.starts_with("test-oci") {
            assert!(scan.files.get("/README.md").is_some(), "{name}");
        }
    }
    for name in ["test-uncompressed-image.tar", "test-gzip-image.tar", "test-zstd-image.tar", "test-estargz-image.tar"]
    {
        let run = portcullis(["audit".to_string(), dive.join(name).display().to_string()]);
        assert_eq!(run.code, 2, "{name}");
        assert!(run.stderr.contains("not an image"), "{name}: {}", run.stderr);
    }
}

#[test]
fn dockle_setuid_and_credentials_fixtures() {
    let dockle = corpus("dockle");
    let img = &images(&dockle.join("pkg/deckoder/extractor/docker/testdata/symbolic.tar"))[0];
    let scan = img.scan.as_ref().unwrap();
    // dockle's SetSuidNormal: one layer sets the setuid bit, a later one clears it.
    let f = scan.files.get("/app/once-suid.txt").expect("app/once-suid.txt");
    assert_eq!(f.mode & 0o6000, 0, "normal mode in the merged view");
    let layer_of = |diff: &str| {
        img.layers.iter().position(|l| l.diff_id.as_ref().map(|d| d.as_str()) == Some(diff)).unwrap() as u32
    };
    let suid_layer = layer_of("sha256:434ba219e3907e89fe29f9b7de597fdf2305c615356f6a760e880570486fb4bb");
    let normal_layer = layer_of("sha256:98d172aa39eb52759aa79fda88452c3d78528ea21b170332cf45759c902c519a");
    let hit = scan.special_modes.iter().find(|m| m.path == "/app/once-suid.txt").expect("setuid recorded");
    assert_eq!((hit.layer, hit.effective), (suid_layer, false), "{:?}", scan.special_modes);
    assert!(!scan.special_modes.iter().any(|m| m.path == "/app/once-suid.txt" && m.layer == normal_layer));

    let img = &images(&dockle.join("pkg/scanner/testdata/scratch.tar"))[0];
    let secrets = &img.scan.as_ref().unwrap().secrets;
    assert!(secrets.iter().any(|s| s.path == "/credentials.json" && s.kind == "credentials"), "{secrets:?}");
}

// ---------------------------------------------------------------- hostile layers

fn sha256(b: &[u8]) -> String {
    portcullis::digest::Digest::sha256(b).to_string()
}

/// Writes an OCI layout with one layer blob; `diff_id` is the digest of the
/// uncompressed tar.
fn layout(dir: &Path, blob: &[u8], media_type: &str, diff_id: &str) -> std::path::PathBuf {
    let root = dir.join("layout");
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    let put = |bytes: &[u8]| {
        let d = sha256(bytes);
        std::fs::write(root.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
        d
    };
    let layer = put(blob);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"User":"1000","Entrypoint":["/x"]}},"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#
    );
    let config_digest = put(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"{media_type}","digest":"{layer}","size":{}}}]}}"#,
        config.len(),
        blob.len()
    );
    let m = put(manifest.as_bytes());
    std::fs::write(
        root.join("index.json"),
        format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{m}","size":{}}}]}}"#, manifest.len()),
    )
    .unwrap();
    std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    root
}

/// One raw tar entry: name, type, link name, content.
type RawTarEntry<'a> = (&'a [u8], tar::EntryType, &'a [u8], &'a [u8]);

/// A tar with raw entry names (bypassing the tar crate's own path checks).
fn raw_tar(entries: &[RawTarEntry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, ty, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*ty);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name);
        if !link.is_empty() {
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        }
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Audits a layout, expects a deny from `portcullis/evidence`, returns its message.
fn denied(root: &Path) -> String {
    let run = portcullis(["audit".to_string(), "-f".into(), "json".into(), root.display().to_string()]);
    support::evidence_message(&run)
}

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const TAR_GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

#[test]
fn traversal_absolute_and_escaping_symlinks_are_denied() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (raw_tar(&[(b"../evil", tar::EntryType::Regular, b"", b"x")]), "escapes the image root"),
        (raw_tar(&[(b"/etc/evil", tar::EntryType::Regular, b"", b"x")]), "absolute path"),
        (
            raw_tar(&[(b"usr/lib/x", tar::EntryType::Symlink, b"../../../../etc/shadow", b"")]),
            "points outside the image root",
        ),
        (raw_tar(&[(b"etc/x", tar::EntryType::Link, b"../../host", b"")]), "hard link"),
        (
            raw_tar(&[(b"a", tar::EntryType::Regular, b"", b"1"), (b"a", tar::EntryType::Regular, b"", b"2")]),
            "appears twice",
        ),
    ];
    for (tar, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let root = layout(dir.path(), &tar, TAR, &sha256(&tar));
        let msg = denied(&root);
        assert!(msg.contains(want), "wanted `{want}` in: {msg}");
        assert!(msg.contains("layer 0"), "names the layer: {msg}");
    }
}

#[test]
fn ten_thousand_deep_path_is_denied() {
    let mut b = tar::Builder::new(Vec::new());
    let deep = "a/".repeat(10_000) + "f";
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    b.append_data(&mut h, &deep, &b"x"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = layout(dir.path(), &tar, TAR, &sha256(&tar));
    let msg = denied(&root);
    assert!(msg.contains("limit max-path"), "{msg}");
}

/// Peak resident memory of a child process, sampled from /proc while it runs.
fn audit_peak_rss(root: &Path) -> (support::Run, u64) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["audit", "-f", "json"])
        .arg(root)
        .env("PORTCULLIS_CACHE_DIR", support::cache_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_path)
            && let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let run = support::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (run, peak_kb)
}

#[test]
fn gzip_bomb_is_stopped_with_bounded_memory() {
    // A 1 GiB file of zeros: about 1 MiB gzipped (≈1000:1).
    let mut h = tar::Header::new_gnu();
    let size: u64 = 1 << 30;
    h.set_size(size);
    h.set_mode(0o644);
    h.set_path("zeros").unwrap();
    h.set_cksum();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(h.as_bytes()).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..(size >> 20) {
        enc.write_all(&chunk).unwrap();
    }
    let blob = enc.finish().unwrap();
    assert!(blob.len() < 2 << 20, "bomb is {} bytes", blob.len());
    let dir = tempfile::tempdir().unwrap();
    let root =
        layout(dir.path(), &blob, TAR_GZ, "sha256:0000000000000000000000000000000000000000000000000000000000000000");
    let (run, peak_kb) = audit_peak_rss(&root);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let r = run.json();
    let msg = r["subjects"][0]["findings"][0]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("decompression bomb"), "{msg}");
    println!("gzip bomb: stopped ({msg}); peak RSS {peak_kb} kB");
    assert!(peak_kb < 200 * 1024, "peak RSS {peak_kb} kB");
}

#[test]
fn truncated_gzip_and_digest_mismatches_are_denied() {
    let tar = raw_tar(&[(b"hello", tar::EntryType::Regular, b"", &[7u8; 100_000])]);
    let gz = gzip(&tar);
    let dir = tempfile::tempdir().unwrap();
    let root = layout(dir.path(), &gz[..gz.len() / 2], TAR_GZ, &sha256(&tar));
    let msg = denied(&root);
    assert!(msg.contains("corrupt or truncated"), "{msg}");

    // Right blob digest, wrong diffID.
    let dir = tempfile::tempdir().unwrap();
    let root = layout(dir.path(), &gz, TAR_GZ, &sha256(b"something else"));
    let msg = denied(&root);
    assert!(msg.contains("does not match its diffID"), "{msg}");

    // Blob altered after the manifest was written (same size).
    let dir = tempfile::tempdir().unwrap();
    let root = layout(dir.path(), &tar, TAR, &sha256(&tar));
    let blob_path = root.join("blobs/sha256").join(&sha256(&tar)[7..]);
    let mut altered = tar.clone();
    altered[600] ^= 1;
    std::fs::write(&blob_path, altered).unwrap();
    let msg = denied(&root);
    assert!(msg.contains("does not match its diffID"), "an uncompressed layer's digest is its diffID: {msg}");
}

#[test]
fn files_deleted_by_a_later_layer_still_count_as_shipped_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let l0 =
        raw_tar(&[(b"root/.ssh/id_rsa", tar::EntryType::Regular, b"", b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n")]);
    let l1 = raw_tar(&[(b"root/.ssh/.wh.id_rsa", tar::EntryType::Regular, b"", b"")]);
    // Two-layer layout.
    let root = dir.path().join("layout");
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    let put = |bytes: &[u8]| {
        let d = sha256(bytes);
        std::fs::write(root.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
        d
    };
    let (d0, d1) = (put(&l0), put(&l1));
    let config =
        format!(r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{d0}","{d1}"]}}}}"#);
    let c = put(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{c}","size":{}}},"layers":[{{"mediaType":"{TAR}","digest":"{d0}","size":{}}},{{"mediaType":"{TAR}","digest":"{d1}","size":{}}}]}}"#,
        config.len(),
        l0.len(),
        l1.len()
    );
    let m = put(manifest.as_bytes());
    std::fs::write(root.join("index.json"), format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{m}","size":{}}}]}}"#, manifest.len())).unwrap();
    std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let img = &images(&root)[0];
    let scan = img.scan.as_ref().unwrap();
    assert!(scan.files.get("/root/.ssh/id_rsa").is_none());
    let s = scan.secrets.iter().find(|s| s.path == "/root/.ssh/id_rsa").expect("secret found");
    assert_eq!((s.layer, s.deleted, s.kind.as_str()), (0, true, "private-key"));
    assert_eq!(scan.efficiency.inefficient.len(), 1, "{:?}", scan.efficiency);
}

#[test]
fn dockle_credential_image_fails_the_secrets_rule() {
    // dockle expects CIS-DI-0010 AvoidCredential at credentials.json; ours is GO-FS-007.
    let tar = corpus("dockle/pkg/scanner/testdata/scratch.tar");
    let run = portcullis(["audit".to_string(), "-f".into(), "json".into(), tar.display().to_string()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let r = run.json();
    let f = r["subjects"][0]["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "GO-FS-007").unwrap().clone();
    assert_eq!(f["outcome"], "fail");
    assert_eq!(f["location"]["path"], "/credentials.json");
    // USER is set in that image, so (as in dockle) the root rule passes.
    let user =
        r["subjects"][0]["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "GO-CFG-001").unwrap().clone();
    assert_eq!(user["outcome"], "pass", "{user}");
}
