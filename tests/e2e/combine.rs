//! Policies applied together: `--policy A --policy B` and `include`, judged
//! on the shared images; what may not be combined silently (a rule
//! configured twice, two `[admission]` tables, an include cycle) is refused
//! naming both places; every problem of a policy is named in one run.

use crate::support::{image, portcullis, workspace};
use serde_json::Value;
use std::collections::BTreeSet;

const IMAGES: [&str; 4] =
    ["oci/go-static-good", "oci/go-dynamic-root", "oci/go-legacy-debug", "oci/go-static-multiarch"];

fn pack(name: &str) -> String {
    workspace().join("policies").join(name).display().to_string()
}

/// (subject digest, rule, outcome, effect) of every finding of a report.
fn findings(report: &Value) -> BTreeSet<(String, String, String, String)> {
    let mut out = BTreeSet::new();
    for s in report["subjects"].as_array().expect("subjects") {
        for f in s["findings"].as_array().expect("findings") {
            let field = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            out.insert((
                s["digest"].as_str().unwrap_or_default().to_string(),
                field("rule"),
                field("outcome"),
                field("effect"),
            ));
        }
    }
    out
}

/// Writes `text` to `dir/name`; its path.
fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn audit(policies: &[&str], img: &str) -> (i32, Value) {
    let mut args = vec!["audit".to_string(), "-f".into(), "json".into(), image(img).display().to_string()];
    for p in policies {
        args.push("--policy".into());
        args.push(p.to_string());
    }
    let run = portcullis(&args);
    assert!(run.code == 0 || run.code == 1, "{policies:?} {img}: {}", run.stderr);
    (run.code, run.json())
}

#[test]
fn both_packs_at_once_give_the_union_of_each_alone() {
    let (baseline, supply) = (pack("go-container-baseline.toml"), pack("supply-chain.toml"));
    for img in IMAGES {
        let (_, a) = audit(&[&baseline], img);
        let (_, b) = audit(&[&supply], img);
        let (code, both) = audit(&[&baseline, &supply], img);
        let union: BTreeSet<_> = findings(&a).union(&findings(&b)).cloned().collect();
        assert!(!findings(&a).is_empty() && !findings(&b).is_empty(), "{img}: each pack judges something");
        assert_eq!(findings(&both), union, "{img}: the combined report is not the union");
        // The verdict denies when either alone denies.
        let denied = |r: &Value| r["verdict"].as_str() == Some("deny");
        assert_eq!(code == 1, denied(&a) || denied(&b), "{img}");
        assert_eq!(denied(&both), denied(&a) || denied(&b), "{img}");
        let source = both["policy"]["source"].as_str().unwrap_or_default();
        assert!(source.contains("go-container-baseline.toml") && source.contains("supply-chain.toml"), "{source}");
    }
}

#[test]
fn an_include_is_the_same_as_naming_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().join("team.toml");
    std::fs::write(
        &top,
        "[policy]\nname = \"team\"\nversion = \"1\"\ninclude = [\"builtin:go-container-baseline\", \"builtin:supply-chain\"]\n",
    )
    .unwrap();
    let top = top.display().to_string();
    let (baseline, supply) = (pack("go-container-baseline.toml"), pack("supply-chain.toml"));
    for img in ["oci/go-static-good", "oci/go-dynamic-root"] {
        let (_, included) = audit(&[&top], img);
        let (_, named) = audit(&[&baseline, &supply], img);
        assert_eq!(findings(&included), findings(&named), "{img}");
    }
    // A file reached twice (two files including it) is applied once.
    for name in ["one.toml", "two.toml"] {
        std::fs::write(
            dir.path().join(name),
            format!("[policy]\nname = \"{name}\"\nversion = \"1\"\ninclude = [\"{baseline}\"]\n"),
        )
        .unwrap();
    }
    let (one, two) =
        (dir.path().join("one.toml").display().to_string(), dir.path().join("two.toml").display().to_string());
    let (_, diamond) = audit(&[&one, &two], "oci/go-static-good");
    let (_, alone) = audit(&[&baseline], "oci/go-static-good");
    assert_eq!(findings(&diamond), findings(&alone));
}

#[test]
fn a_rule_configured_in_two_files_names_both_places() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| write(&dir, name, text);
    let a = write(
        "a.toml",
        "[policy]\nname = \"a\"\nversion = \"1\"\n\n[plugins.image-config]\n\n[rules.GO-CFG-001]\nseverity = \"low\"\n",
    );
    let b = write(
        "b.toml",
        "[policy]\nname = \"b\"\nversion = \"1\"\n\n[plugins.image-config]\n[plugins.go-binary]\n\n\n[rules.GO-CFG-001]\nenforcement = \"warn\"\n",
    );
    let run = portcullis(["policy", "check", &a, &b]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("rule GO-CFG-001 is configured in two policy files"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("{b}:9:8")), "second place: {}", run.stderr);
    assert!(
        run.stderr.contains(&format!("{a}:7:8")) || run.stderr.contains("a.toml:7:8"),
        "first place: {}",
        run.stderr
    );
    // Apart, each is fine; one plugin declared in both is loaded once.
    assert_eq!(portcullis(["policy", "check", &a]).code, 0);
    assert_eq!(portcullis(["policy", "check", &b]).code, 0);

    let c = write("c.toml", "[policy]\nname = \"c\"\nversion = \"1\"\n\n[plugins.image-config]\nfuel = 5\n");
    let run = portcullis(["policy", "check", &a, &c]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("plugin `image-config` is declared differently"), "{}", run.stderr);

    let d = write(
        "d.toml",
        "[policy]\nname = \"d\"\nversion = \"1\"\n\n[plugins.image-config]\n\n[admission]\nmutate = false\n",
    );
    let e =
        write("e.toml", "[policy]\nname = \"e\"\nversion = \"1\"\n\n[plugins.go-binary]\n[admission]\nmutate = true\n");
    let run = portcullis(["policy", "check", &d, &e]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("two policy files have an [admission] table"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("{e}:6:1")), "{}", run.stderr);
}

#[test]
fn include_cycles_and_missing_includes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| write(&dir, name, text);
    write("x.toml", "[policy]\nname = \"x\"\nversion = \"1\"\ninclude = [\"y.toml\"]\n[plugins.image-config]\n");
    write("y.toml", "[policy]\nname = \"y\"\nversion = \"1\"\ninclude = [\"x.toml\"]\n[plugins.go-binary]\n");
    let run = portcullis(["policy", "check", &dir.path().join("x.toml").display().to_string()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("the policy includes itself"), "{}", run.stderr);
    assert!(run.stderr.contains("y.toml:4:12"), "{}", run.stderr);

    let z = write(
        "z.toml",
        "[policy]\nname = \"z\"\nversion = \"1\"\ninclude = [\"nowhere.toml\", \"builtin:nope\"]\n[plugins.image-config]\n",
    );
    let run = portcullis(["policy", "check", &z]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot read the included policy") && run.stderr.contains("nowhere.toml"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("no builtin policy pack `builtin:nope`"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("{z}:4:12")) && run.stderr.contains(&format!("{z}:4:28")), "{}", run.stderr);
}

#[test]
fn four_mistakes_are_reported_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("policy.toml");
    std::fs::write(
        &p,
        "[policy]\nname = \"t\"\nversion = \"1\"\nenforcment = \"warn\"\n\n[plugins.image-config]\n\n\
         [rules.GO-CFG-01]\n\n[rules.GO-CFG-002]\nseverity = \"hihg\"\n\n\
         [rules.GO-CFG-001]\nparams = { allow_named_usr = true }\n",
    )
    .unwrap();
    let file = p.display().to_string();
    let run = portcullis(["policy", "check", &file]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for (place, text) in [
        (":4:1", "did you mean `enforcement`?"),
        (":8:8", "did you mean `GO-CFG-001`?"),
        (":11:12", "did you mean `high`?"),
        (":14:12", "did you mean `allow_named_user`?"),
    ] {
        assert!(run.stderr.contains(&format!("{file}{place}")), "{place} missing:\n{}", run.stderr);
        assert!(run.stderr.contains(text), "{text} missing:\n{}", run.stderr);
    }
    assert!(run.stderr.contains("4 problems in the policy"), "{}", run.stderr);
}
