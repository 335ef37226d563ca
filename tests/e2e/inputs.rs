//! Inputs: OCI document validation against the image-spec's own vectors,
//! go-containerregistry's archive fixtures, non-images, tampered blobs, and
//! the equivalence of a layout and its archive.

use crate::support;

use support::{copy_dir, corpus, image, portcullis, tar_dir};

#[test]
fn oci_image_spec_vectors_are_accepted_or_rejected_as_upstream_expects() {
    let dir = corpus("oci-image-spec");
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let mut agreed = 0;
    let mut disagreements = Vec::new();
    for case in &cases {
        let file = case["file"].as_str().unwrap();
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let result = portcullis::oci::validate_document(case["schema_media_type"].as_str().unwrap(), &bytes);
        let want_pass = case["expected"] == "pass";
        match (&result, want_pass) {
            (Ok(()), true) => agreed += 1,
            (Err(e), false) => {
                // A rejection must say what is wrong, not just "invalid".
                assert!(e.to_string().len() > 10, "{file}: unhelpful error {e:?}");
                agreed += 1;
            }
            (r, _) => {
                disagreements.push(format!("{file}: expected {}, got {r:?} ({})", case["expected"], case["comment"]))
            }
        }
    }
    println!("oci-image-spec vectors: {agreed}/{} agreed", cases.len());
    assert_eq!(cases.len(), 81);
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn rejections_name_the_field() {
    let dir = corpus("oci-image-spec/extracted/schema-tests");
    let err = |f: &str, mt: &str| {
        portcullis::oci::validate_document(mt, &std::fs::read(dir.join(f)).unwrap()).unwrap_err().to_string()
    };
    assert!(err("TestManifest-02-fail.json", "application/vnd.oci.image.manifest.v1+json").contains("layers[0].size"));
    assert!(
        err("TestImageIndex-03-fail.json", "application/vnd.oci.image.index.v1+json").contains("manifests[0].platform")
    );
    assert!(err("TestManifest-05-fail.json", "application/vnd.oci.image.manifest.v1+json").contains("layers"));
    assert!(err("TestDescriptor-15-fail.json", "application/vnd.oci.descriptor.v1+json").contains("digest"));
    assert!(err("TestConfig-09-fail.json", "application/vnd.oci.image.config.v1+json").contains("config.Env[0]"));
}

fn gcr(rel: &str) -> String {
    corpus("go-containerregistry/pkg/v1").join(rel).display().to_string()
}

#[test]
fn broken_docker_manifests_exit_2_naming_the_problem() {
    let run = portcullis(["audit".into(), gcr("tarball/testdata/null_manifest.tar")]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("manifest.json is `null`"), "{}", run.stderr);

    let run = portcullis(["audit".into(), gcr("tarball/testdata/no_manifest.tar")]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("manifest.json"), "{}", run.stderr);
    assert!(run.stderr.contains("not an image"), "{}", run.stderr);
}

#[test]
fn multi_image_archive_is_selected_by_tag_or_audited_whole() {
    let bundle = gcr("tarball/testdata/test_bundle.tar");
    let all = portcullis(["audit".into(), "-f".into(), "json".into(), bundle.clone()]).json();
    assert_eq!(all["subjects"].as_array().unwrap().len(), 2);
    for (tag, digest) in [
        ("test_image_1", "sha256:6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e"),
        ("test_image_2:latest", "sha256:930705ce23e3b6ed4c08746b6fe880089c864fbaf62482702ae3fdd66b8c7fe9"),
        (
            "index.docker.io/library/test_image_1:latest",
            "sha256:6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e",
        ),
    ] {
        let r = portcullis(["audit", "-f", "json", "--image", tag, &bundle]).json();
        let subjects = r["subjects"].as_array().unwrap();
        assert_eq!(subjects.len(), 1, "{tag}");
        assert_eq!(subjects[0]["digest"], digest, "{tag}");
    }
    let missing = portcullis(["audit", "--image", "nope:1", &bundle]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("test_image_1"), "lists what is there: {}", missing.stderr);
}

#[test]
fn linked_layer_tar_and_docker25_archives_load() {
    let r = portcullis([
        "audit",
        "-f",
        "json",
        "--image",
        "bazel/v1/tarball:test_image_3",
        &gcr("tarball/testdata/test_link.tar"),
    ])
    .json();
    let s = &r["subjects"][0];
    assert!(s["findings"].as_array().unwrap().iter().all(|f| f["rule"] != "portcullis/evidence"), "{s}");

    let input = support::open(std::path::Path::new(&gcr("tarball/testdata/test_link.tar")));
    let img = input
        .evidence
        .iter()
        .find_map(|e| match e {
            portcullis::evidence::Evidence::Image(i) if i.subject.reference.ends_with("test_image_3") => Some(i),
            _ => None,
        })
        .expect("test_image_3");
    let linked = img
        .layers
        .iter()
        .find(|l| {
            l.diff_id.as_ref().map(|d| d.as_str())
                == Some("sha256:8897395fd26dc44ad0e2a834335b33198cb41ac4d98dfddf58eced3853fa7b17")
        })
        .expect("the linked layer");
    assert!(linked.size > 0, "the symlinked layer.tar resolves to content");

    let r = portcullis(["audit", "-f", "json", &gcr("tarball/testdata/hello-world-v25.tar")]).json();
    assert_eq!(r["subjects"].as_array().unwrap().len(), 1);
    assert_eq!(r["subjects"][0]["platform"], "linux/arm64");
}

#[test]
fn oci_layout_with_nested_indexes_and_bad_selection() {
    let layout = gcr("layout/testdata/test_index");
    let r = portcullis(["audit", "-f", "json", &layout]).json();
    let digests: Vec<&str> = r["subjects"].as_array().unwrap().iter().map(|s| s["digest"].as_str().unwrap()).collect();
    assert!(
        digests.contains(&"sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5"),
        "{digests:?}"
    );
    assert!(
        digests.contains(&"sha256:eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650"),
        "{digests:?}"
    );
    let bad = portcullis(["audit", "--image", "sha256:deadbeef", &layout]);
    assert_eq!(bad.code, 2, "{}", bad.stdout);
}

#[test]
fn non_images_exit_2_with_one_line() {
    let run = portcullis(["audit", "/etc/passwd"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("/etc/passwd") && run.stderr.contains("not an image"), "{}", run.stderr);
    assert!(run.stdout.is_empty());

    let run = portcullis(["audit", "/nonexistent/image"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("/nonexistent/image"), "{}", run.stderr);

    let dir = tempfile::tempdir().unwrap();
    let run = portcullis(["audit".to_string(), dir.path().display().to_string()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not an OCI image layout"), "{}", run.stderr);

    let run = portcullis(["audit".to_string(), gcr("tarball/testdata/content.tar")]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not an image"), "{}", run.stderr);
}

const GOOD_CONFIG: &str = "111ce8247bc9c3d4b2a59777a21d09816ec27c224745a81cd61e304ddbdd80ff";
const GOOD_MANIFEST: &str = "41bc5237460d4d49a3706b46344661cb28222f211bcbf0d8896cf3c828b23955";

fn tampered(edit: impl FnOnce(&std::path::Path)) -> (tempfile::TempDir, support::Run) {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    copy_dir(&image("oci/go-static-good"), &layout);
    edit(&layout.join("blobs/sha256"));
    let run = portcullis(["audit".to_string(), "-f".into(), "json".into(), layout.display().to_string()]);
    (dir, run)
}

#[test]
fn tampered_config_blob_is_denied_naming_the_blob() {
    let (_d, run) = tampered(|blobs| {
        let p = blobs.join(GOOD_CONFIG);
        let mut b = std::fs::read(&p).unwrap();
        let i = b.iter().position(|c| *c == b'6').unwrap(); // 65532 -> 05532: same size
        b[i] = b'0';
        std::fs::write(&p, b).unwrap();
    });
    let msg = support::evidence_message(&run);
    assert!(msg.contains(GOOD_CONFIG) && msg.contains("does not match"), "{msg}");
}

#[test]
fn truncated_or_missing_blobs_are_denied() {
    let (_d, run) = tampered(|blobs| {
        let p = blobs.join(GOOD_MANIFEST);
        let b = std::fs::read(&p).unwrap();
        std::fs::write(&p, &b[..b.len() - 1]).unwrap();
    });
    let msg = support::evidence_message(&run);
    assert!(msg.contains(GOOD_MANIFEST) && msg.contains("bytes"), "{msg}");

    let (_d, run) = tampered(|blobs| std::fs::remove_file(blobs.join(GOOD_CONFIG)).unwrap());
    let msg = support::evidence_message(&run);
    assert!(msg.contains(GOOD_CONFIG) && msg.contains("missing"), "{msg}");
}

#[test]
fn oci_archive_gives_the_same_report_as_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["go-static-multiarch", "go-dynamic-root"] {
        let tar = dir.path().join(format!("{name}.tar"));
        tar_dir(&image(&format!("oci/{name}")), &tar);
        let from_dir = portcullis([
            "audit".to_string(),
            "-f".into(),
            "json".into(),
            image(&format!("oci/{name}")).display().to_string(),
        ]);
        let from_tar = portcullis(["audit".to_string(), "-f".into(), "json".into(), tar.display().to_string()]);
        assert_eq!(from_dir.code, from_tar.code);
        let (a, b) = (from_dir.json(), from_tar.json());
        assert_eq!(b["input"]["format"], "oci-archive");
        let strip = |r: &serde_json::Value| -> Vec<(String, String, usize)> {
            r["subjects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["digest"].to_string(), s["verdict"].to_string(), s["findings"].as_array().unwrap().len()))
                .collect()
        };
        assert_eq!(strip(&a), strip(&b), "{name}");
    }
}
