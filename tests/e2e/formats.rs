//! Output formats: the JSON report against its published schema, SARIF
//! against the OASIS SARIF 2.1.0 schema, and snapshots of the human report and
//! of policy diagnostics.

use crate::support;

use support::{image, portcullis};

fn validator(schema: &serde_json::Value) -> jsonschema::Validator {
    jsonschema::options().should_validate_formats(true).build(schema).expect("schema compiles")
}

/// The published SARIF 2.1.0 schema has one malformed `pattern` (for
/// `run.language` and `toolComponent.language`, with a stray
/// `]`), which a strict validator refuses to compile. It is replaced by the
/// pattern of the OASIS errata; Portcullis never emits `language`.
fn sarif_validator(mut schema: serde_json::Value) -> jsonschema::Validator {
    const BROKEN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    let mut patched = 0;
    for def in ["run", "toolComponent"] {
        let language = &mut schema["definitions"][def]["properties"]["language"]["pattern"];
        assert_eq!(language, BROKEN, "the schema changed; revisit this patch");
        *language = "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$".into();
        patched += 1;
    }
    assert!(!schema.to_string().contains(BROKEN) && patched == 2);
    validator(&schema)
}

fn assert_valid(v: &jsonschema::Validator, doc: &serde_json::Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
}

fn host_triple() -> String {
    let out = std::process::Command::new("rustc").arg("-vV").output().expect("rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("host triple")
        .trim()
        .to_string()
}

/// The OASIS SARIF 2.1.0 schema, as shipped in the source of the serde-sarif
/// crate (it generates its types from it).
fn sarif_schema() -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--filter-platform", host_triple().as_str()])
        .current_dir(support::workspace())
        .output()
        .expect("cargo metadata");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let manifest = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "serde-sarif")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("serde-sarif in the dependency graph");
    let path = std::path::Path::new(manifest).parent().unwrap().join("src/schema.json");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(schema["title"], "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema");
    schema
}

const IMAGES: &[&str] =
    &["oci/go-static-good", "oci/go-static-multiarch", "oci/go-dynamic-root", "docker-archive/go-legacy-debug.tar"];

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let v = sarif_validator(sarif_schema());
    let mut results = 0;
    for img in IMAGES {
        let run = portcullis(["audit", "--format", "sarif", image(img).to_str().unwrap()]);
        let doc = run.json();
        assert_valid(&v, &doc, img);
        assert_eq!(doc["version"], "2.1.0");
        let rules = doc["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 30, "GO-CFG, GO-IDX, GO-BIN and GO-FS rules");
        assert!(rules.iter().all(|r| r["help"]["text"].as_str().is_some_and(|t| !t.is_empty())));
        results += doc["runs"][0]["results"].as_array().unwrap().len();
    }
    assert!(results >= 9, "failing findings appear as results ({results})");
    // A result from the root image is an error-level failure of GO-CFG-001.
    let doc = portcullis(["audit", "--format", "sarif", image("oci/go-dynamic-root").to_str().unwrap()]).json();
    let r = doc["runs"][0]["results"].as_array().unwrap().iter().find(|r| r["ruleId"] == "GO-CFG-001").unwrap().clone();
    assert_eq!((r["level"].as_str(), r["kind"].as_str()), (Some("error"), Some("fail")));
    let idx = r["ruleIndex"].as_u64().unwrap() as usize;
    let rule = &doc["runs"][0]["tool"]["driver"]["rules"][idx];
    assert_eq!(rule["id"], "GO-CFG-001");
    // What GitHub code scanning ranks and links alerts by: a high rule is 8.0,
    // and its help is the generated page of docs/rules.
    assert_eq!(rule["properties"]["security-severity"], "8.0");
    let help = rule["helpUri"].as_str().unwrap();
    assert!(help.starts_with("https://") && help.ends_with("/docs/rules/GO-CFG-001.md"), "{help}");
    for rule in doc["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap() {
        let score: f64 = rule["properties"]["security-severity"].as_str().unwrap().parse().unwrap();
        let band = match rule["properties"]["severity"].as_str().unwrap() {
            "critical" => 9.0..=10.0,
            "high" => 7.0..=8.9,
            "medium" => 4.0..=6.9,
            "low" => 0.1..=3.9,
            _ => 0.0..=0.0,
        };
        assert!(band.contains(&score), "{}: {score}", rule["id"]);
    }
}

/// `docs/rules/` is what `portcullis rules --all --markdown` writes from the
/// plugins' metadata: a rule added, renamed or re-described without
/// regenerating the pages fails here.
#[test]
fn rule_pages_are_generated_from_the_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let run = portcullis(["rules", "--all", "--markdown", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let docs = support::workspace().join("docs/rules");
    let names = |d: &std::path::Path| {
        let mut v: Vec<String> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    };
    assert_eq!(names(dir.path()), names(&docs), "regenerate: portcullis rules --all --markdown docs/rules");
    for name in names(&docs) {
        let want = std::fs::read_to_string(dir.path().join(&name)).unwrap();
        let have = std::fs::read_to_string(docs.join(&name)).unwrap();
        assert_eq!(have, want, "docs/rules/{name} is stale: portcullis rules --all --markdown docs/rules");
    }
    // Every builtin rule is explained without a policy.
    let run = portcullis(["explain", "SC-SBOM-002"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("SC-SBOM-002") && run.stdout.contains("docs/rules/SC-SBOM-002.md"), "{}", run.stdout);
    let run = portcullis(["explain", "SC-SBOM-02"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("did you mean `SC-SBOM-002`?"), "{}", run.stderr);
    assert!(!run.stderr.contains("GO-FS-001"), "no dump of every id: {}", run.stderr);
}

#[test]
fn json_reports_validate_against_the_published_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::workspace().join("docs/report-v1.schema.json")).unwrap(),
    )
    .unwrap();
    let v = validator(&schema);
    for img in IMAGES {
        let doc = portcullis(["audit", "--format", "json", image(img).to_str().unwrap()]).json();
        assert_valid(&v, &doc, img);
    }
    // With a waiver and a warning in play.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "[policy]\nname = \"t\"\nversion = \"1\"\n[plugins.image-config]\n[[waivers]]\nrule = \"GO-CFG-001\"\nrepository = \"docker.io/library/*\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2999-01-01\n[[waivers]]\nrule = \"GO-CFG-002\"\nrepository = \"docker.io/library/*\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2001-01-01\n",
    )
    .unwrap();
    let doc = portcullis([
        "audit",
        "-f",
        "json",
        "-p",
        policy.to_str().unwrap(),
        image("docker-archive/go-legacy-debug.tar").to_str().unwrap(),
    ])
    .json();
    assert_eq!(doc["waivers_used"].as_array().unwrap().len(), 1);
    assert_eq!(doc["warnings"].as_array().unwrap().len(), 1);
    assert_valid(&v, &doc, "waived report");
    // Schema strictness: an unknown verdict is rejected (the test can fail).
    let mut broken = doc.clone();
    broken["verdict"] = "maybe".into();
    assert!(!v.is_valid(&broken));
}

/// Replaces machine-specific paths so snapshots are stable.
fn stable(text: &str) -> String {
    text.replace(&support::shared().display().to_string(), "<shared>")
}

#[test]
fn human_report_snapshot() {
    let run = portcullis(["audit", image("oci/go-dynamic-root").to_str().unwrap()]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("human_go_dynamic_root", stable(&run.stdout));
    let run = portcullis(["audit", "--verbose", image("oci/go-static-multiarch").to_str().unwrap()]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!("human_go_static_multiarch_verbose", stable(&run.stdout));
}

#[test]
fn policy_diagnostics_snapshot() {
    let text = "[policy]\nname = \"demo\"\nversion = \"1\"\n\n[plugins.image-config]\n\n[rules.GO-CFG-001]\nparams = { allow_named_user = 1, forbidden = [] }\n\n[rules.GO-CFG-042]\n";
    let policy = portcullis::Policy::parse("demo.toml", text, None).expect("form is fine");
    let engine = portcullis::Engine::new(
        policy,
        portcullis::EngineOptions { cache_dir: Some(support::cache_dir()), today: None, ..Default::default() },
    );
    let Err(portcullis::EngineError::Policy(err)) = engine else { panic!("expected policy errors") };
    insta::assert_snapshot!("policy_diagnostics", err.render(false));
}

/// `portcullis sbom show ... | head -1`: the reader goes away early; the
/// command ends by SIGPIPE like any Unix tool, without a panic message.
#[test]
fn closed_stdout_is_not_a_panic() {
    use std::io::Read;
    // 5,000 components: far more output than a pipe buffer holds.
    let dir = tempfile::tempdir().unwrap();
    let sbom = dir.path().join("big.cdx.json");
    let components: Vec<serde_json::Value> = (0..5000)
        .map(|i| serde_json::json!({"type": "library", "name": format!("component-{i}"), "version": "1.0.0"}))
        .collect();
    let doc =
        serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": components});
    std::fs::write(&sbom, serde_json::to_vec(&doc).unwrap()).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["sbom", "show", sbom.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
}

// ---------------------------------------------------------------- hostile text

/// A fake last line of a report: what a hostile name tries to print.
const FAKE: &str = "verdict: ADMIT (0 of 1 subject denied)";

/// A tar whose entries have raw names (bypassing the tar crate's path checks)
/// and the given modes.
fn hostile_tar(entries: &[(&[u8], u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, mode) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(*mode);
        h.set_size(1);
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// `oci/go-static-good` with one more (uncompressed) layer, a config `User`
/// and a ref name of the caller's choosing; digests, sizes and the diffID list
/// are rewritten so the layout is valid.
fn derived_layout(dir: &std::path::Path, layer: &[u8], user: &str, ref_name: &str) -> std::path::PathBuf {
    use serde_json::{Value, json};
    let root = dir.join("hostile");
    support::copy_dir(&image("oci/go-static-good"), &root);
    let blobs = root.join("blobs/sha256");
    let read = |d: &str| -> Value { serde_json::from_slice(&std::fs::read(blobs.join(&d[7..])).unwrap()).unwrap() };
    let put = |bytes: &[u8]| -> String {
        let d = portcullis::digest::Digest::sha256(bytes).to_string();
        std::fs::write(blobs.join(&d[7..]), bytes).unwrap();
        d
    };
    let mut index: Value = serde_json::from_slice(&std::fs::read(root.join("index.json")).unwrap()).unwrap();
    let mut manifest = read(index["manifests"][0]["digest"].as_str().unwrap());
    let mut config = read(manifest["config"]["digest"].as_str().unwrap());
    let layer_digest = put(layer);
    config["config"]["User"] = user.into();
    config["rootfs"]["diff_ids"].as_array_mut().unwrap().push(layer_digest.clone().into());
    let config = serde_json::to_vec(&config).unwrap();
    manifest["config"]["digest"] = put(&config).into();
    manifest["config"]["size"] = config.len().into();
    manifest["layers"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()
    }));
    let manifest = serde_json::to_vec(&manifest).unwrap();
    index["manifests"][0]["digest"] = put(&manifest).into();
    index["manifests"][0]["size"] = manifest.len().into();
    index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = ref_name.into();
    std::fs::write(root.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    root
}

/// A report cannot be forged by what it reports: file names, the config's
/// `User` and the ref name carry newlines, carriage returns, ANSI and OSC
/// sequences, C1 and bidi controls and a fake verdict line; the terminal
/// report shows them escaped, the JSON report exactly.
#[test]
fn hostile_text_is_escaped_in_the_human_report() {
    let setuid = format!("app/x\r\x1b[2K\n{FAKE}\n");
    let writable = "app/\u{202e}fdp.exe\u{9b}2K\x1b]8;;http://e\x07";
    let layer = hostile_tar(&[(setuid.as_bytes(), 0o4755), (writable.as_bytes(), 0o777)]);
    let user = format!("0:0\n\n{FAKE}\r\x1b[1A\x1b[2K");
    let ref_name = format!("v1\n{FAKE}");
    let dir = tempfile::tempdir().unwrap();
    let root = derived_layout(dir.path(), &layer, &user, &ref_name);

    let json = portcullis(["audit", "-f", "json", root.to_str().unwrap()]);
    let doc = json.json();
    let findings = doc["subjects"][0]["findings"].as_array().unwrap();
    let message = |rule: &str| findings.iter().find(|f| f["rule"] == rule).unwrap()["message"].as_str().unwrap();
    assert!(message("GO-FS-008").contains(&format!("/{setuid}")), "JSON stays exact: {}", message("GO-FS-008"));
    assert!(message("GO-CFG-001").contains(&user), "{}", message("GO-CFG-001"));

    let run = portcullis(["audit", root.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    for bad in ['\x1b', '\r', '\u{9b}', '\u{202e}', '\x07'] {
        assert!(!run.stdout.contains(bad), "raw {bad:?} in the report:\n{}", run.stdout);
    }
    assert!(!run.stdout.lines().any(|l| l.starts_with(FAKE)), "a forged verdict line:\n{}", run.stdout);
    assert_eq!(run.stdout.lines().filter(|l| l.starts_with("verdict:")).count(), 1);
    assert!(run.stdout.contains("\\x1b[2K\\nverdict: ADMIT"), "{}", run.stdout);
    let text = stable(&run.stdout).replace(&root.display().to_string(), "<layout>");
    insta::assert_snapshot!("human_hostile_text", text);
}

/// Completions and man pages come from the parser's definitions: every
/// command is in them.
#[test]
fn completions_and_man_pages_cover_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let run = portcullis(["completions", shell]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        for command in ["audit", "serve", "gate", "explain", "vulns", "test"] {
            assert!(run.stdout.contains(command), "{shell} completion lacks {command}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let run = portcullis(["man", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let top = std::fs::read_to_string(dir.path().join("portcullis.1")).unwrap();
    assert!(top.starts_with(".ie") || top.contains(".TH portcullis"), "{}", &top[..top.len().min(200)]);
    let audit = std::fs::read_to_string(dir.path().join("portcullis-audit.1")).unwrap();
    assert!(audit.contains("\\-\\-policy"), "the audit page documents --policy");
    assert_eq!(portcullis(["completions", "tcsh"]).code, 2, "an unknown shell is a usage error");
}
