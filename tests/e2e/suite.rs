//! `portcullis test` on the project's own packs and on broken test files:
//! the packs reach full pass/fail coverage; every expectation they hold is
//! flipped, one at a time, and each flip must be caught and named (so none
//! is vacuous); harness mistakes exit 2; JUnit output validates against the
//! JUnit schema CI systems read; and an AdmissionReview case answers what a
//! real `portcullis serve`, pulling from a real registry, answers.

use crate::support;

use portcullis::suite::{self, Outcome, RunOptions};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;
use support::registry::TestRegistry;

fn packs() -> PathBuf {
    support::workspace().join("policies/tests")
}

/// The whole `policies/tests` suite: every case passes, every rule of both
/// packs is seen passing and failing, and the derived fixtures the packs
/// rely on do what they are for. Prints the suite's wall time.
#[test]
fn our_packs_pass_with_full_coverage() {
    let start = Instant::now();
    let run = support::portcullis(["test", packs().to_str().unwrap(), "--require-coverage", "--format", "json"]);
    let wall = start.elapsed();
    println!("bench: portcullis test policies/tests (debug build): {:.2} s wall", wall.as_secs_f64());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    let results = report["results"].as_array().unwrap();
    assert!(results.len() >= 25, "{} cases", results.len());
    assert!(results.iter().all(|r| r["status"]["status"] == "passed"), "{report}");
    let coverage = report["coverage"].as_array().unwrap();
    let policies: BTreeSet<String> = coverage
        .iter()
        .map(|c| Path::new(c["policy"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        policies,
        BTreeSet::from(["go-container-baseline.toml", "supply-chain.toml", "custom-rules.toml"].map(String::from))
    );
    for c in coverage {
        let rules = c["rules"].as_array().unwrap();
        // The custom-rule examples are 13; each pack has more.
        assert!(rules.len() >= 13, "{c}");
        for r in rules {
            assert!(r["pass"] == true && r["fail"] == true, "coverage gap: {r}");
        }
    }

    // The derived fixtures the issue names, checked on what was observed.
    let observed = |name: &str, rule: &str| -> (String, String) {
        let r = results
            .iter()
            .find(|r| r["name"].as_str().unwrap().contains(name))
            .unwrap_or_else(|| panic!("no case named like `{name}`"));
        let o = &r["observed"];
        (
            o["verdict"].as_str().unwrap().to_string(),
            o["rules"][rule]["outcome"].as_str().unwrap_or("absent").to_string(),
        )
    };
    assert_eq!(observed("dropping the signatures", "SC-SIG-001"), ("deny".into(), "fail".into()));
    assert_eq!(observed("signed image with its SBOM", "SC-SIG-001"), ("admit".into(), "pass".into()));
    assert_eq!(observed("no USER means root", "GO-CFG-001"), ("deny".into(), "fail".into()));
    assert_eq!(observed("the good image admits", "GO-CFG-001"), ("admit".into(), "pass".into()));
    assert_eq!(observed("a layer that is not the blob", "portcullis/evidence"), ("deny".into(), "error".into()));
}

/// What each outcome is flipped to: a value the rule did not produce.
fn flipped(o: Outcome) -> Outcome {
    match o {
        Outcome::Pass => Outcome::Fail,
        Outcome::Fail | Outcome::Warn | Outcome::Skip | Outcome::Error => Outcome::Pass,
        Outcome::Waived => Outcome::Fail,
    }
}

/// Every expectation of every case of `policies/tests`, flipped one at a
/// time against what the case really observed, yields a mismatch naming
/// exactly that rule (or the verdict, or the denying rules).
#[test]
fn flipping_any_single_expectation_of_our_packs_is_caught_and_named() {
    let files = suite::discover(&[packs()]).unwrap();
    let suites: Vec<_> =
        files.iter().map(|f| suite::load(f).unwrap_or_else(|e| panic!("{}", e.render_plain()))).collect();
    let run = suite::run::run(&suites, &RunOptions { cache_dir: Some(support::cache_dir()), ..Default::default() });
    assert!(run.passed(), "{}", suite::render::human(&run, false));
    let by_case: BTreeMap<(String, String), &suite::Observed> = run
        .results
        .iter()
        .map(|r| ((r.file.clone(), r.name.clone()), r.observed.as_ref().expect("a passed case has observations")))
        .collect();

    let mut flips = 0;
    for s in &suites {
        for case in &s.cases {
            let seen = by_case[&(s.file.display().to_string(), case.name.clone())];
            assert!(suite::run::check(case, seen).is_empty(), "{}: passes as written", case.name);
            for i in 0..case.expect.len() {
                let mut c = case.clone();
                c.expect[i].outcome = flipped(c.expect[i].outcome);
                let m = suite::run::check(&c, seen);
                let rule = &case.expect[i].rule;
                assert!(
                    m.len() == 1 && &m[0].what == rule && m[0].expected == c.expect[i].outcome.to_string(),
                    "{}: flipping {rule} to {} gave {m:?}",
                    case.name,
                    c.expect[i].outcome
                );
                flips += 1;
            }
            if let Some(v) = case.verdict {
                let mut c = case.clone();
                c.verdict = Some(if v == portcullis::Verdict::Admit {
                    portcullis::Verdict::Deny
                } else {
                    portcullis::Verdict::Admit
                });
                let m = suite::run::check(&c, seen);
                assert!(m.iter().any(|m| m.what == "verdict"), "{}: flipping the verdict gave {m:?}", case.name);
                flips += 1;
            }
            if let Some(denied) = &case.denied_by {
                let mut c = case.clone();
                let mut other = denied.clone();
                match other.pop() {
                    Some(_) => {}
                    None => other.push("K8S-002".into()),
                }
                c.denied_by = Some(other);
                let m = suite::run::check(&c, seen);
                assert!(m.iter().any(|m| m.what == "denied-by"), "{}: changing denied-by gave {m:?}", case.name);
                flips += 1;
            }
        }
    }
    assert!(flips >= 150, "only {flips} expectations flipped");
    println!("{flips} single-expectation flips, each caught and named");

    // And through the CLI: one flipped line in a copy of the baseline file
    // (beside it, so its relative paths hold; the name is not one the
    // directory walk picks up) exits 1 and names the rule.
    let original = packs().join("baseline/portcullis-test.toml");
    let text = std::fs::read_to_string(&original).unwrap();
    let needle = "GO-CFG-005 = { outcome = \"fail\", message = \"GOSUMDB\" }";
    assert!(text.contains(needle));
    let copy = Flip(packs().join(format!("baseline/.flip-{}.toml", std::process::id())));
    std::fs::write(&copy.0, text.replace(needle, "GO-CFG-005 = \"pass\"")).unwrap();
    let run = support::portcullis(["test", copy.0.to_str().unwrap(), "--filter", "GOSUMDB"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("GO-CFG-005: expected pass, got fail"), "{}", run.stdout);
    assert!(run.stdout.contains("1 failed"), "{}", run.stdout);
}

/// Removes the flipped copy, whatever happens.
struct Flip(PathBuf);
impl Drop for Flip {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn test_file(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("portcullis-test.toml");
    std::fs::write(&path, format!("schema = \"portcullis.test/v1\"\n{body}")).unwrap();
    path
}

/// Mistakes in a test are harness errors (exit 2) at their line and column,
/// never a silent pass; a folder without tests is an error too.
#[test]
fn a_misspelt_key_a_missing_fixture_and_an_empty_folder_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = support::image("oci/go-static-good");
    let image = format!("[fixtures.good]\nimage = '{}'\n", good.display());
    let cases: [(&str, String, &str); 5] = [
        (
            "misspelt",
            format!("[context]\npolicy = \"builtin:go-container-baseline\"\n{image}\n[[case]]\nname = \"x\"\nfixtrue = \"good\"\nverdict = \"admit\"\n"),
            "unknown field `fixtrue`",
        ),
        (
            "missing-fixture",
            "[context]\npolicy = \"builtin:go-container-baseline\"\n[fixtures.gone]\nimage = \"no/such/layout\"\n[[case]]\nname = \"x\"\nfixture = \"gone\"\nverdict = \"admit\"\n".into(),
            "image `no/such/layout` does not exist",
        ),
        (
            "unknown-fixture",
            format!("[context]\npolicy = \"builtin:go-container-baseline\"\n{image}\n[[case]]\nname = \"x\"\nfixture = \"goood\"\nverdict = \"admit\"\n"),
            "no fixture named `goood`",
        ),
        (
            "bad-outcome",
            format!("[context]\npolicy = \"builtin:go-container-baseline\"\n{image}\n[[case]]\nname = \"x\"\nfixture = \"good\"\n[case.expect]\nGO-CFG-001 = \"passes\"\n"),
            "`passes` is not an outcome",
        ),
        (
            "expects-nothing",
            format!("[context]\npolicy = \"builtin:go-container-baseline\"\n{image}\n[[case]]\nname = \"x\"\nfixture = \"good\"\n"),
            "expects nothing",
        ),
    ];
    for (name, body, said) in cases {
        let sub = dir.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        let file = test_file(&sub, &body);
        let run = support::portcullis(["test", sub.to_str().unwrap()]);
        assert_eq!(run.code, 2, "{name}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(said), "{name}: {}", run.stderr);
        // Pointed at: `FILE:LINE:COL`.
        let at = regex::Regex::new(&format!(r"{}:\d+:\d+", regex::escape(&file.display().to_string()))).unwrap();
        assert!(at.is_match(&run.stderr), "{name}: no file:line:column in {}", run.stderr);
    }
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.toml"), "schema = \"portcullis.test/v1\"\n").unwrap();
    let run = support::portcullis(["test", empty.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("no test found"), "{}", run.stderr);
    // A filter that matches no case is no test either.
    let run = support::portcullis(["test", packs().to_str().unwrap(), "--filter", "no case is called this"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
}

/// `--format junit` validates against the JUnit schema (the Jenkins/Ant
/// shape GitLab, GitHub and Jenkins reporters read), passing and failing.
#[test]
fn junit_output_validates_against_the_junit_schema() {
    use libxml::parser::Parser;
    use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
    // From memory: the engine's XML reader installs a process-wide entity
    // loader that refuses files (hostile SBOMs must not read the disk).
    let xsd = std::fs::read_to_string(support::workspace().join("tests/e2e/support/junit.xsd")).unwrap();
    let mut schema_parser = SchemaParserContext::from_buffer(&xsd);
    let mut validator = SchemaValidationContext::from_parser(&mut schema_parser).expect("the JUnit schema parses");

    let baseline = packs().join("baseline");
    let run = support::portcullis(["test", baseline.to_str().unwrap(), "--format", "junit"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = Parser::default().parse_string(&run.stdout).expect("well-formed XML");
    if let Err(errors) = validator.validate_document(&doc) {
        panic!("{:?}\n{}", errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>(), run.stdout);
    }
    assert!(run.stdout.contains("<testsuites name=\"portcullis test\""), "{}", run.stdout);

    // A failing run: the mismatch is a <failure> naming the rule.
    let dir = tempfile::tempdir().unwrap();
    let good = support::image("oci/go-static-good");
    test_file(
        dir.path(),
        &format!(
            "[context]\nnow = 2026-12-01\npolicy = \"builtin:go-container-baseline\"\n[fixtures.good]\nimage = '{}'\n[[case]]\nname = \"claims <root> & fails\"\nfixture = \"good\"\n[case.expect]\nGO-CFG-001 = \"fail\"\n",
            good.display()
        ),
    );
    let run = support::portcullis(["test", dir.path().to_str().unwrap(), "--format", "junit"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc = Parser::default().parse_string(&run.stdout).expect("well-formed XML");
    if let Err(errors) = validator.validate_document(&doc) {
        panic!("{:?}\n{}", errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>(), run.stdout);
    }
    assert!(run.stdout.contains("<failure message=\"GO-CFG-001: expected fail, got pass\""), "{}", run.stdout);
    assert!(run.stdout.contains("claims &lt;root&gt; &amp; fails"), "{}", run.stdout);
}

/// The rules a webhook answer denies with: the `RULE:` (or `RULE
/// (failure-policy deny):`) that starts each reason.
fn denying_rules(message: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(
        r"(?:: |; )((?:K8S|GO-[A-Z]+|SC-[A-Z]+)-\d{3}|portcullis/[a-z-]+)(?: \(failure-policy [a-z]+\))?: ",
    )
    .unwrap();
    re.captures_iter(message).map(|c| c[1].to_string()).collect()
}

fn pod(image: &str, hardened: bool) -> Value {
    let mut container = json!({"name": "app", "image": image});
    let mut spec = json!({"containers": []});
    if hardened {
        container["securityContext"] = json!({"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false});
        container["livenessProbe"] = json!({"httpGet": {"path": "/healthz", "port": 8080}});
        container["readinessProbe"] = json!({"httpGet": {"path": "/healthz", "port": 8080}});
        spec["securityContext"] = json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}});
    }
    spec["containers"] = json!([container]);
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "0b6f5b1e-0000-4000-8000-00000000000a",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "shop",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:shop:deployer"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": "shop"}, "spec": spec}
        }
    })
}

/// The same AdmissionReviews judged offline by `portcullis test` (images
/// resolved to fixtures) and online by `portcullis serve` (images pulled
/// from a real registry holding the same images): same allowed, same
/// denying rules.
#[test]
fn an_admission_review_case_answers_what_serve_answers() {
    let registry = TestRegistry::start();
    registry.push(&support::image("oci/go-static-good"), "v1", "acme/hello:v1");
    registry.push(&support::image("oci/go-legacy-debug"), "v1", "acme/legacy:v1");
    let policy = support::workspace().join("policies/go-container-baseline.toml");
    let server = crate::serve::Server::start(&policy, &[]);

    let good = format!("{}/acme/hello:v1", registry.addr);
    let legacy = format!("{}/acme/legacy:v1", registry.addr);
    let reviews = [
        ("hardened-good", pod(&good, true), "good"),
        ("bare-good", pod(&good, false), "good"),
        ("hardened-legacy", pod(&legacy, true), "legacy"),
        ("bare-legacy", pod(&legacy, false), "legacy"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut body = format!(
        "[context]\nnow = 2026-12-01\npolicy = '{}'\n[fixtures.good]\nimage = '{}'\n[fixtures.legacy]\nimage = '{}'\n",
        policy.display(),
        support::image("oci/go-static-good").display(),
        support::image("oci/go-legacy-debug").display()
    );
    let mut answers = BTreeMap::new();
    for (name, review, fixture) in &reviews {
        let file = dir.path().join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(review).unwrap()).unwrap();
        let image = review["request"]["object"]["spec"]["containers"][0]["image"].as_str().unwrap();
        body.push_str(&format!(
            "[fixtures.{name}]\nreview = '{}'\nimages = {{ '{image}' = '{fixture}' }}\n",
            file.display()
        ));
        let response = server.review("/validate", review["request"].clone());
        let allowed = response["allowed"].as_bool().unwrap();
        let rules = denying_rules(response["status"]["message"].as_str().unwrap_or_default());
        assert_eq!(allowed, rules.is_empty(), "{name}: {response}");
        answers.insert(name.to_string(), (allowed, rules));
    }
    // The cases expect what serve answered; the run must meet every one.
    for (name, (allowed, rules)) in &answers {
        let list: Vec<String> = rules.iter().map(|r| format!("\"{r}\"")).collect();
        body.push_str(&format!(
            "[[case]]\nname = \"{name}\"\nfixture = \"{name}\"\nverdict = \"{}\"\ndenied-by = [{}]\n",
            if *allowed { "admit" } else { "deny" },
            list.join(", ")
        ));
    }
    // Both outcomes occur, so the comparison is not of four admits.
    assert!(answers.values().any(|a| a.0) && answers.values().any(|a| !a.0), "{answers:?}");
    assert!(
        answers["bare-good"].1.contains("K8S-002") && answers["hardened-legacy"].1.contains("K8S-005"),
        "{answers:?}"
    );
    test_file(dir.path(), &body);
    // Offline: the registry is gone before the test runs.
    drop(server);
    let mut registry = registry;
    registry.stop();
    let run = support::portcullis(["test", dir.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(run.code, 0, "offline answers differ from serve's:\n{}{}", run.stdout, run.stderr);
    let report = run.json();
    for r in report["results"].as_array().unwrap() {
        assert_eq!(r["status"]["status"], "passed", "{r}");
        let got: BTreeSet<String> =
            r["observed"]["denied_by"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        assert_eq!(got, answers[r["name"].as_str().unwrap()].1, "{r}");
    }
}

/// `--update` rewrites a wrong outcome and verdict in place, keeping the
/// comments; the rewritten file then passes. A changed message is left for
/// a person, and the run says so (exit 1).
#[test]
fn update_rewrites_wrong_expectations_in_place_and_lists_what_needs_a_person() {
    let dir = tempfile::tempdir().unwrap();
    let good = support::image("oci/go-static-good");
    let file = test_file(
        dir.path(),
        &format!(
            "[context]\nnow = 2026-12-01\npolicy = \"builtin:go-container-baseline\"\n[fixtures.good]\nimage = '{}'\n[fixtures.root]\nfrom = \"good\"\nremove-config = [\"User\"]\n\n[[case]]\nname = \"root\"\nfixture = \"root\"\nverdict = \"admit\"   # wrong\n[case.expect]\nGO-CFG-001 = \"pass\"   # wrong too\nGO-CFG-003 = \"pass\"\n",
            good.display()
        ),
    );
    let run = support::portcullis(["test", dir.path().to_str().unwrap(), "--update"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("updated 2 expectation(s)"), "{}", run.stderr);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("verdict = \"deny\"   # wrong\n"), "{text}");
    assert!(text.contains("GO-CFG-001 = \"fail\"   # wrong too\nGO-CFG-003 = \"pass\"\n"), "{text}");
    let run = support::portcullis(["test", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    std::fs::write(
        &file,
        text.replace("GO-CFG-003 = \"pass\"", "GO-CFG-003 = { outcome = \"pass\", message = \"^shell form\" }"),
    )
    .unwrap();
    let run = support::portcullis(["test", dir.path().to_str().unwrap(), "--update"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("edit by hand") && run.stderr.contains("edit the regular expression"),
        "{}",
        run.stderr
    );
}
