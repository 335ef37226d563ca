//! Audits of the shared Go images (`../shared/images`) with the embedded
//! default policy: exit codes, and every rule's outcome against
//! `expected.json` (the machine-readable form of FIXTURES.md).

use crate::support;

use support::{image, outcome_of, portcullis};

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(image("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected.json parses")
}

/// Every rule the loaded policy reports on, compared with expected.json. The
/// fixture gives one outcome per rule for the whole artifact, so outcomes are
/// folded over its subjects (an index and its platform images): any fail is a
/// fail, else any pass is a pass, else n/a.
fn check_outcomes(name: &str, path: &std::path::Path) -> usize {
    check_outcomes_with(name, path, &[], "outcome")
}

/// As [`check_outcomes`], with extra `audit` arguments, comparing against
/// `field` of expected.json (`outcome`, or `with_sbom_supplied`).
fn check_outcomes_with(name: &str, path: &std::path::Path, extra: &[String], field: &str) -> usize {
    let run = portcullis(
        ["audit", "--format", "json"]
            .iter()
            .map(|s| s.to_string())
            .chain(extra.iter().cloned())
            .chain([path.display().to_string()]),
    );
    assert!(run.code == 0 || run.code == 1, "{name}: exit {} stderr {}", run.code, run.stderr);
    let report = run.json();
    let expected = expected();
    let want = &expected[name];
    let subjects = report["subjects"].as_array().unwrap();
    let rules: std::collections::BTreeSet<String> = subjects
        .iter()
        .flat_map(|s| s["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap().to_string()))
        .collect();
    let mut compared = 0;
    for rule in &rules {
        let Some(exp) = want[rule.as_str()][field].as_str() else { continue };
        let outcomes: Vec<String> = subjects.iter().filter_map(|s| outcome_of(s, rule)).collect();
        let got = if outcomes.iter().any(|o| o == "fail" || o == "error") {
            outcomes.iter().find(|o| *o == "error").cloned().unwrap_or_else(|| "fail".into())
        } else if outcomes.iter().any(|o| o == "pass") {
            "pass".to_string()
        } else {
            "n/a".to_string()
        };
        let messages: Vec<String> = subjects
            .iter()
            .flat_map(|s| {
                s["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|f| f["rule"] == rule.as_str())
                    .map(|f| f["message"].to_string())
            })
            .collect();
        assert_eq!(
            got,
            exp,
            "{name} {rule}: got {got}, FIXTURES.md says {exp} ({})\nour messages: {messages:?}",
            want[rule.as_str()]["reason"]
        );
        compared += 1;
    }
    compared
}

#[test]
fn go_static_good_is_admitted_from_layout_and_docker_archive() {
    for p in ["oci/go-static-good", "docker-archive/go-static-good.tar"] {
        let run = portcullis(["audit".to_string(), image(p).display().to_string()]);
        assert_eq!(run.code, 0, "{p}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains("verdict: ADMIT"), "{}", run.stdout);
    }
}

#[test]
fn go_dynamic_root_is_denied_for_running_as_root() {
    let run = portcullis(["audit", "--format", "json", image("oci/go-dynamic-root").to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "deny");
    let subject = &report["subjects"][0];
    let f =
        subject["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "GO-CFG-001").expect("GO-CFG-001 finding");
    assert_eq!(f["outcome"], "fail");
    assert_eq!(f["effect"], "deny");
    assert_eq!(f["enforcement"], "enforce");
}

#[test]
fn every_rule_matches_fixtures_on_every_shared_image() {
    let mut compared = 0;
    for (name, path) in [
        ("go-static-good", "oci/go-static-good"),
        ("go-static-good", "docker-archive/go-static-good.tar"),
        ("go-static-multiarch", "oci/go-static-multiarch"),
        ("go-dynamic-root", "oci/go-dynamic-root"),
        ("go-dynamic-root", "docker-archive/go-dynamic-root.tar"),
        ("go-legacy-debug", "oci/go-legacy-debug"),
        ("go-legacy-debug", "docker-archive/go-legacy-debug.tar"),
    ] {
        compared += check_outcomes(name, &image(path));
    }
    // 30 GO-* rules x 7 audits
    assert_eq!(compared, 210, "rule outcomes compared");
}

#[test]
fn multiarch_index_reports_each_platform_on_its_own() {
    let run = portcullis(["audit", "--format", "json", image("oci/go-static-multiarch").to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let subjects = report["subjects"].as_array().unwrap();
    let platforms: Vec<&str> = subjects.iter().filter_map(|s| s["platform"].as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
    let index = subjects.iter().find(|s| s["kind"] == "index").expect("index subject");
    assert_eq!(index["platform"], serde_json::Value::Null);
    assert_eq!(index["digest"], "sha256:c481d890ad34cdf3bd3480ab5519f1fbf0f335955b6584609d3ca112a625424b");
    for s in subjects.iter().filter(|s| s["kind"] == "image") {
        assert_eq!(s["parent_index"], index["digest"]);
        assert_eq!(s["verdict"], "admit");
    }
    let digests: Vec<&str> =
        subjects.iter().filter(|s| s["kind"] == "image").map(|s| s["digest"].as_str().unwrap()).collect();
    assert_eq!(
        digests,
        [
            "sha256:41bc5237460d4d49a3706b46344661cb28222f211bcbf0d8896cf3c828b23955",
            "sha256:e46248be8ca9c48a8dca292d823238ce5790fec15ad2c1be0b11be617777caed"
        ]
    );
}

#[test]
fn docker_archive_subject_is_the_image_id() {
    let run = portcullis(["audit", "--format", "json", image("docker-archive/go-legacy-debug.tar").to_str().unwrap()]);
    let report = run.json();
    let s = &report["subjects"][0];
    assert_eq!(s["digest"], "sha256:03e01b11f4b034d3f884df93ecf9e0e5501207d6005c5a3bc9278ff0f9f6748b");
    assert_eq!(s["repository"], "docker.io/library/go-legacy-debug");
    assert_eq!(s["platform"], "linux/amd64");
}

/// The supply-chain pack on every shared image: alone (no SBOM: SC-SBOM-001
/// fails, the rest n/a; no signature or provenance: SC-SIG-001 and
/// SC-SLSA-001 fail, SC-SIG-004 fails for the multi-arch index's platforms,
/// the rest n/a), then with its syft SBOM supplied, in CycloneDX and in SPDX
/// (SC-SBOM-001 and 002 pass), as FIXTURES.md says.
#[test]
fn sbom_rules_match_fixtures_with_and_without_sboms() {
    let pack = support::workspace().join("policies/supply-chain.toml").display().to_string();
    let sboms = |name: &str, ext: &str| -> Vec<String> {
        let files: Vec<String> = if name == "go-static-multiarch" {
            vec![format!("{name}.linux-amd64.{ext}.json"), format!("{name}.linux-arm64.{ext}.json")]
        } else {
            vec![format!("{name}.{ext}.json")]
        };
        files.iter().flat_map(|f| ["--sbom".to_string(), image(&format!("sbom/{f}")).display().to_string()]).collect()
    };
    let mut compared = 0;
    for name in ["go-static-good", "go-static-multiarch", "go-dynamic-root", "go-legacy-debug"] {
        let path = image(&format!("oci/{name}"));
        compared += check_outcomes_with(name, &path, &["--policy".into(), pack.clone()], "outcome");
        for ext in ["cdx", "spdx"] {
            let mut args = vec!["--policy".to_string(), pack.clone()];
            args.extend(sboms(name, ext));
            compared += check_outcomes_with(name, &path, &args, "with_sbom_supplied");
        }
    }
    // 12 rules alone (4 SBOM, 4 SIG, 4 SLSA) + 2 rules (SBOM 001, 002) x 2 formats, on 4 images.
    assert_eq!(compared, 12 * 4 + 4 * 2 * 2);
}
