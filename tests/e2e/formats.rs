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
    assert_eq!(doc["runs"][0]["tool"]["driver"]["rules"][idx]["id"], "GO-CFG-001");
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
