//! Policies: diagnostics at file:line:column, enforcement and failure
//! semantics, waivers, and the policy/explain/rules commands.

use crate::support;

use support::{image, portcullis};

fn write(dir: &tempfile::TempDir, text: &str) -> String {
    let p = dir.path().join("policy.toml");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const HEAD: &str = "[policy]\nname = \"t\"\nversion = \"1\"\n\n[plugins.image-config]\n";

fn audit_json(policy: &str, img: &str) -> (i32, serde_json::Value) {
    let run = portcullis(["audit", "-f", "json", "--policy", policy, image(img).to_str().unwrap()]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    (run.code, run.json())
}

#[test]
fn misspelt_key_exits_2_naming_file_line_column() {
    let dir = tempfile::tempdir().unwrap();
    let file =
        write(&dir, "[policy]\nname = \"t\"\nversion = \"1\"\nenforcment = \"warn\"\n\n[plugins.image-config]\n");
    let run = portcullis(["policy", "check", &file]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains(&format!("{file}:4:1")), "{}", run.stderr);
    assert!(run.stderr.contains("enforcment"), "{}", run.stderr);
    let run = portcullis(["audit", "--policy", &file, image("oci/go-static-good").to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains(&format!("{file}:4:1")), "{}", run.stderr);
}

#[test]
fn semantic_errors_point_at_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("[rules.GO-CFG-099]\n", ":6:8", "unknown rule `GO-CFG-099`"),
        ("[rules.GO-CFG-001]\nparams = { allow_named_usr = true }\n", ":7:12", "has no parameter `allow_named_usr`"),
        ("[rules.GO-CFG-001]\nparams = { allow_named_user = \"yes\" }\n", ":7:31", "must be a boolean"),
        ("[rules.GO-CFG-001]\nenforcement = \"enforced\"\n", ":7:15", "enforced"),
        ("[rules.GO-CFG-001]\nseverity = \"extreme\"\n", ":7:12", "extreme"),
        (
            "[[waivers]]\nrule = \"GO-CFG-001\"\nreason = \"r\"\nowner = \"o\"\n",
            ":7:8",
            "must name a `repository` glob and/or a `digest`",
        ),
        (
            "[[waivers]]\nrule = \"GO-CFG-001\"\ndigest = \"sha256:1\"\nreason = \"r\"\nowner = \"o\"\n",
            ":8:10",
            "64 lower-case hex",
        ),
        (
            "[[waivers]]\nrule = \"GO-CFG-001\"\ndigest = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"soon\"\n",
            ":11:11",
            "expires",
        ),
        (
            "[[waivers]]\nrule = \"NOPE\"\nrepository = \"x/*\"\nreason = \"r\"\nowner = \"o\"\n",
            ":7:8",
            "unknown rule `NOPE`",
        ),
        (
            "[[waivers]]\nrule = \"GO-CFG-001\"\nnamespace = \"legacy\"\nreason = \"r\"\nowner = \"o\"\n",
            ":7:8",
            "this waiver can never match: GO-CFG-001 judges images",
        ),
        (
            "[plugins.kubernetes]\n[[waivers]]\nrule = \"K8S-002\"\nrepository = \"x/*\"\nreason = \"r\"\nowner = \"o\"\n",
            ":8:8",
            "this waiver can never match: K8S-002 judges workloads",
        ),
        // Values the plugins' own checks refuse, at the value or list entry.
        (
            "[plugins.sbom]\n[rules.SC-SBOM-004]\nparams = { deny = [\"pkg:npm/ok@<2\", \"left-pad\"] }\n",
            ":8:37",
            "parameter `deny` entry 1 of SC-SBOM-004: `left-pad`: not a purl",
        ),
        (
            "[plugins.sbom]\n[rules.SC-SBOM-003]\nparams = { deny = [\"GPL-2.0-only\", \"Apache 2\"] }\n",
            ":8:36",
            "`Apache 2` is not an SPDX licence identifier",
        ),
        (
            "[plugins.signatures]\n[rules.SC-SIG-002]\nparams = { identity = \"https://github.com/(acme\", issuer = \"x\" }\n",
            ":8:23",
            "parameter `identity` of SC-SIG-002: does not compile",
        ),
        (
            "[plugins.signatures]\n[rules.SC-SLSA-002]\nparams = { builders = [\"x\"], min_level = 9 }\n",
            ":8:42",
            "9 is out of range: must be from 0 to 4",
        ),
        (
            "[plugins.signatures]\n[rules.SC-SLSA-003]\nparams = { refs = [\"main\"] }\n",
            ":8:20",
            "`main` is not a git ref",
        ),
        ("[plugins.nope]\n", ":6:10", "no builtin plugin named `nope`"),
        ("[plugins.ext]\npath = \"x.wasm\"\n", ":7:8", "no `sha256` pin"),
    ];
    for (extra, at, what) in cases {
        let file = write(&dir, &format!("{HEAD}{extra}"));
        let run = portcullis(["policy", "check", &file]);
        assert_eq!(run.code, 2, "{extra}: {}", run.stdout);
        assert!(run.stderr.contains(&format!("{file}{at}")), "{extra}: wanted {at} in\n{}", run.stderr);
        assert!(run.stderr.contains(what), "{extra}: wanted `{what}` in\n{}", run.stderr);
    }
}

#[test]
fn the_default_pack_checks_clean() {
    let pack = support::workspace().join("policies/go-container-baseline.toml");
    let run = portcullis(["policy", "check", pack.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // 30 image rules and the 5 workload rules of admission (K8S-001..005).
    assert!(run.stdout.contains("35 rules enabled"), "{}", run.stdout);
    // The embedded default is the same file.
    assert_eq!(std::fs::read_to_string(&pack).unwrap(), portcullis::policy::DEFAULT_POLICY_TEXT);
}

#[test]
fn policy_wide_warn_admits_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let file =
        write(&dir, "[policy]\nname = \"t\"\nversion = \"1\"\nenforcement = \"warn\"\n\n[plugins.image-config]\n");
    let (code, r) = audit_json(&file, "oci/go-dynamic-root");
    assert_eq!(code, 0);
    assert_eq!(r["verdict"], "admit");
    let effects: Vec<&str> =
        r["subjects"][0]["findings"].as_array().unwrap().iter().map(|f| f["effect"].as_str().unwrap()).collect();
    assert!(effects.contains(&"warn") && !effects.contains(&"deny"), "{effects:?}");

    // An explicit rule setting beats the policy-wide cap.
    let file = write(
        &dir,
        "[policy]\nname = \"t\"\nversion = \"1\"\nenforcement = \"warn\"\n\n[plugins.image-config]\n[rules.GO-CFG-003]\nenforcement = \"enforce\"\n",
    );
    let (code, r) = audit_json(&file, "oci/go-dynamic-root");
    assert_eq!(code, 1);
    let denying: Vec<&str> = r["subjects"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["effect"] == "deny")
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(denying, ["GO-CFG-003"]);
}

#[test]
fn disabled_rules_do_not_run_and_audit_rules_do_not_deny() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        &format!("{HEAD}[rules.GO-CFG-001]\nenabled = false\n[rules.GO-CFG-003]\nenforcement = \"audit\"\n"),
    );
    let (code, r) = audit_json(&file, "oci/go-dynamic-root");
    assert_eq!(code, 0, "{r}");
    let findings = r["subjects"][0]["findings"].as_array().unwrap();
    assert!(findings.iter().all(|f| f["rule"] != "GO-CFG-001"));
    let f003 = findings.iter().find(|f| f["rule"] == "GO-CFG-003").unwrap();
    assert_eq!((f003["outcome"].as_str(), f003["effect"].as_str()), (Some("fail"), Some("none")));
}

#[test]
fn rule_parameters_change_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    // go-static-good's user is numeric; forbid that UID to flip the outcome.
    let file = write(
        &dir,
        &format!("{HEAD}[rules.GO-CFG-001]\nparams = {{ forbidden_users = [\"0\", \"root\", \"65532\"] }}\n"),
    );
    let (code, r) = audit_json(&file, "oci/go-static-good");
    assert_eq!(code, 1);
    let f =
        r["subjects"][0]["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "GO-CFG-001").unwrap().clone();
    assert_eq!(f["outcome"], "fail");
    assert_eq!(f["location"]["pointer"], "/config/User");
}

const LEGACY_ID: &str = "sha256:03e01b11f4b034d3f884df93ecf9e0e5501207d6005c5a3bc9278ff0f9f6748b";

#[test]
fn waivers_apply_by_digest_or_repository_and_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let by_digest = format!(
        "{HEAD}[[waivers]]\nrule = \"GO-CFG-001\"\ndigest = \"{LEGACY_ID}\"\nreason = \"legacy debug image, replaced in Q1\"\nowner = \"team-a@example.com\"\nexpires = 2999-12-31\n"
    );
    let (code, r) = audit_json(&write(&dir, &by_digest), "docker-archive/go-legacy-debug.tar");
    assert_eq!(code, 0, "{r}");
    let used = r["waivers_used"].as_array().unwrap();
    assert_eq!(used.len(), 1);
    assert_eq!(used[0]["rule"], "GO-CFG-001");
    assert_eq!(used[0]["waiver"]["owner"], "team-a@example.com");
    assert_eq!(used[0]["waiver"]["line"], 7);
    let f =
        r["subjects"][0]["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "GO-CFG-001").unwrap().clone();
    assert_eq!(f["effect"], "waived");

    let by_repo = by_digest.replace(&format!("digest = \"{LEGACY_ID}\""), "repository = \"docker.io/library/go-*\"");
    let (code, _) = audit_json(&write(&dir, &by_repo), "docker-archive/go-legacy-debug.tar");
    assert_eq!(code, 0);
    let other_repo = by_digest.replace(&format!("digest = \"{LEGACY_ID}\""), "repository = \"ghcr.io/acme/*\"");
    let (code, r) = audit_json(&write(&dir, &other_repo), "docker-archive/go-legacy-debug.tar");
    assert_eq!(code, 1);
    assert!(r["waivers_used"].as_array().unwrap().is_empty());
    // The human report says who waived what.
    let run = portcullis([
        "audit",
        "--policy",
        &write(&dir, &by_digest),
        image("docker-archive/go-legacy-debug.tar").to_str().unwrap(),
    ]);
    assert!(
        run.stdout.contains("waived: legacy debug image, replaced in Q1 (owner team-a@example.com"),
        "{}",
        run.stdout
    );
}

#[test]
fn expired_waivers_are_ignored_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{HEAD}[[waivers]]\nrule = \"GO-CFG-001\"\ndigest = \"{LEGACY_ID}\"\nreason = \"old\"\nowner = \"team-a\"\nexpires = 2020-01-31\n"
    );
    let file = write(&dir, &text);
    let (code, r) = audit_json(&file, "docker-archive/go-legacy-debug.tar");
    assert_eq!(code, 1);
    let warnings = r["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    let w = warnings[0].as_str().unwrap();
    assert!(w.contains("expired on 2020-01-31") && w.contains(&format!("{file}:7")), "{w}");
    let run = portcullis(["policy", "check", &file]);
    assert_eq!(run.code, 0);
    assert!(run.stderr.contains("expired"), "{}", run.stderr);
}

#[test]
fn explain_and_rules_document_the_rules() {
    let run = portcullis(["explain", "GO-CFG-003"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("GO-CFG-003") && run.stdout.contains("exec form") && run.stdout.contains("Remediation:"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("shells"), "parameters are listed: {}", run.stdout);
    let run = portcullis(["explain", "GO-NOPE-1"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no builtin rule `GO-NOPE-1`"), "{}", run.stderr);
    assert!(run.stderr.contains("portcullis rules --all"), "{}", run.stderr);
    let run = portcullis(["rules", "--all"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout.lines().count(), 50, "every builtin rule: {}", run.stdout);
    let run = portcullis(["rules"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout.lines().count(), 35, "{}", run.stdout);
    let row: Vec<&str> = run.stdout.lines().find(|l| l.starts_with("K8S-001")).unwrap().split_whitespace().collect();
    assert_eq!(row[..4], ["K8S-001", "warn", "medium", "on"], "{}", run.stdout);
    let row: Vec<&str> = run.stdout.lines().find(|l| l.starts_with("GO-CFG-002")).unwrap().split_whitespace().collect();
    assert_eq!(row[..4], ["GO-CFG-002", "warn", "low", "on"], "{}", run.stdout);
    let run = portcullis(["explain", "K8S-002"]);
    assert!(run.stdout.contains("plugin:      kubernetes") && run.stdout.contains("runAsNonRoot"), "{}", run.stdout);
    // Rule texts cite the practice, not documents a user cannot see.
    for id in ["K8S-001", "K8S-002", "K8S-003", "K8S-004", "K8S-005"] {
        let run = portcullis(["explain", id]);
        assert!(!run.stdout.contains("seed") && !run.stdout.contains('§'), "{}", run.stdout);
    }
}

/// Waiver globs mean what they say: `*` stays within a path segment,
/// `**` crosses `/`, the pattern covers the whole normalised repository
/// (registry host in lower case), and a pattern that matches everything is
/// loaded with a warning.
#[test]
fn waiver_globs_stay_within_segments_and_cover_whole_repositories() {
    use portcullis::policy::Scope;
    let waiver = |pattern: &str| {
        let text = format!(
            "{HEAD}[[waivers]]\nrule = \"GO-CFG-001\"\nrepository = \"{pattern}\"\nreason = \"r\"\nowner = \"o\"\n"
        );
        portcullis::Policy::parse("w.toml", &text, None).unwrap().waivers.remove(0)
    };
    let covers = |pattern: &str, reference: &str| {
        let r = portcullis::source::reference::parse(reference).unwrap();
        let repository = portcullis::source::reference::repository(&r);
        let scope = Scope { repository: Some(&repository), ..Scope::default() };
        waiver(pattern).covers("GO-CFG-001", &scope)
    };
    let cases = [
        ("*.acme.corp/app", "registry.acme.corp/app:1", true),
        ("*.acme.corp/app", "evil.example/x.acme.corp/app:1", false),
        ("registry.acme.corp/legacy/*", "registry.acme.corp/legacy/app", true),
        ("registry.acme.corp/legacy/*", "registry.acme.corp/legacy/team/app", false),
        ("registry.acme.corp/legacy/**", "registry.acme.corp/legacy/team/app", true),
        ("registry.acme.corp/app", "Registry.ACME.corp/app:2", true),
        ("registry.acme.corp/app", "registry.acme.corp/app-evil", false),
        ("docker.io/library/alpine", "alpine:3.20", true),
        ("alpine", "alpine:3.20", false),
    ];
    for (pattern, reference, want) in cases {
        assert_eq!(covers(pattern, reference), want, "{pattern} against {reference}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        &format!("{HEAD}[[waivers]]\nrule = \"GO-CFG-001\"\nrepository = \"**\"\nreason = \"r\"\nowner = \"o\"\n"),
    );
    let run = portcullis(["policy", "check", &file]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains("repository pattern that matches every repository"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
}

/// A verdict that depends on a waiver lasts no longer than the waiver.
#[test]
fn verdicts_are_valid_until_the_next_waiver_expiry() {
    let today = jiff::Zoned::now().date();
    let valid_for = |expires: &str| {
        let text = format!(
            "{HEAD}[[waivers]]\nrule = \"GO-CFG-001\"\nrepository = \"x/*\"\nreason = \"r\"\nowner = \"o\"\n{expires}"
        );
        support::engine_with(portcullis::Policy::parse("w.toml", &text, None).unwrap()).verdicts_valid_for()
    };
    assert_eq!(valid_for(""), None);
    let day = std::time::Duration::from_secs(86_400);
    let ends_today = valid_for(&format!("expires = {today}\n")).expect("bounded");
    assert!(ends_today <= day + std::time::Duration::from_secs(3600), "{ends_today:?}");
    let tomorrow = today.tomorrow().unwrap();
    let ends_tomorrow = valid_for(&format!("expires = {tomorrow}\n")).expect("bounded");
    assert!(ends_tomorrow > ends_today && ends_tomorrow <= 2 * day + std::time::Duration::from_secs(3600));
    // An expired waiver no longer bounds anything.
    assert_eq!(valid_for(&format!("expires = {}\n", today.yesterday().unwrap())), None);
}
