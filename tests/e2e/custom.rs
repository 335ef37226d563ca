//! Custom rules (`[[rules.custom]]`): CEL expressions in the policy. The
//! examples' pass/fail tests are in `policies/tests/examples` (run by
//! `suite::`); here, what surrounds them: mistakes reported at their line and
//! column when the policy loads, the sandbox stopping expressions that never
//! end or never stop allocating, and failing closed at run time.

use crate::support::{image, outcome_of, portcullis, portcullis_with_env};
use serde_json::Value;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn policy(rules: &str) -> String {
    format!("[policy]\nname = \"custom\"\nversion = \"1\"\n\n{rules}")
}

/// (findings of the one subject, exit code) of an audit of `img`.
fn audit(policies: &[&str], img: &str) -> (Value, i32) {
    let mut args = vec!["audit".to_string(), "-f".into(), "json".into(), image(img).display().to_string()];
    for p in policies {
        args.extend(["--policy".to_string(), p.to_string()]);
    }
    let run = portcullis(&args);
    assert!(run.code == 0 || run.code == 1, "{}\n{}", run.stdout, run.stderr);
    (run.json()["subjects"][0].clone(), run.code)
}

fn finding<'a>(subject: &'a Value, rule: &str) -> &'a Value {
    subject["findings"].as_array().unwrap().iter().find(|f| f["rule"] == rule).unwrap_or_else(|| panic!("{rule}"))
}

#[test]
fn syntax_and_type_errors_are_at_their_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    // Line 8: a syntax error at the end of a one-line basic string; line
    // 15: a type error inside a multi-line literal string; line 20: a
    // misspelt field after escapes (each escape counts once in the value).
    let text = policy(
        r#"[[rules.custom]]
id = "C-SYNTAX"
title = "syntax"
expression = "labels['team'] == 'x' &&"

[[rules.custom]]
id = "C-TYPE"
title = "types"
expression = '''
'team' in labels &&
  config.user > 3'''

[[rules.custom]]
id = "C-FIELD"
title = "field"
expression = "labels[\"t\u00e9am\"] == \"x\" || config.usr == \"root\""
"#,
    );
    let path = write(&dir, "p.toml", &text);
    let run = portcullis(["policy", "check", &path]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let err = &run.stderr;
    // Line 8 of the file: `expression = "labels['team'] == 'x' &&"`; the
    // input ends at column 39, before the closing quote.
    assert!(err.contains("expression of custom rule C-SYNTAX: syntax error"), "{err}");
    assert!(err.contains(&format!("({path}:8:39)")), "{err}");
    // Line 15: `  config.user > 3'''`: the `>` is column 15.
    assert!(err.contains("expression of custom rule C-TYPE: cannot order string and int"), "{err}");
    assert!(err.contains(&format!("({path}:15:15)")), "{err}");
    // Line 20: the `.usr` after `labels["t\u00e9am"] == "x" || config`.
    let line = text.lines().nth(19).unwrap();
    let column = line.find(".usr").unwrap() + 1;
    assert!(err.contains("`config` has no field `usr`"), "{err}");
    assert!(err.contains(&format!("({path}:20:{column})")), "{err}");
    assert!(err.contains("did you mean `user`?"), "{err}");
    assert!(err.contains("3 problems in the policy"), "{err}");
}

#[test]
fn a_rule_that_loops_or_allocates_without_bound_is_stopped_by_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let ten = "[0,1,2,3,4,5,6,7,8,9]";
    let nested = |op: &str, depth: usize, inner: &str| {
        let mut e = inner.to_string();
        for v in 0..depth {
            e = format!("{ten}.{op}(v{v}, {e})");
        }
        e
    };
    // 10^9 iterations; then 10^7 strings of 50 bytes, under a memory cap
    // the loop never reaches (so each limit is seen on its own).
    let text = policy(&format!(
        r#"[plugins.cel]
memory-mb = 16

[[rules.custom]]
id = "C-LOOP"
title = "loops"
expression = "{}"

[[rules.custom]]
id = "C-ALLOC"
title = "allocates"
expression = "{}.size() > 0"

[[rules.custom]]
id = "C-FINE"
title = "a rule beside them"
expression = "'org.opencontainers.image.title' in labels"
"#,
        nested("all", 9, "true"),
        nested("map", 7, &format!("'{}'", "x".repeat(50))),
    ));
    let path = write(&dir, "p.toml", &text);
    let (subject, code) = audit(&[&path], "oci/go-static-good");
    assert_eq!(code, 1, "an error finding of an enforced rule denies");
    let looping = finding(&subject, "C-LOOP");
    assert_eq!(looping["outcome"], "error", "{looping}");
    // Fuel, or the deadline first on a loaded machine: either stops it.
    let m = looping["message"].as_str().unwrap();
    assert!(m.contains("ran out of fuel") || m.contains("exceeded its time limit"), "{looping}");
    let alloc = finding(&subject, "C-ALLOC");
    assert_eq!(alloc["outcome"], "error", "{alloc}");
    let m = alloc["message"].as_str().unwrap();
    assert!(
        m.contains("memory limit of 16 MiB") || m.contains("ran out of fuel") || m.contains("time limit"),
        "{alloc}"
    );
    // Each custom rule runs in a call of its own.
    assert_eq!(outcome_of(&subject, "C-FINE").as_deref(), Some("pass"), "{subject}");
}

#[test]
fn an_expression_that_fails_at_run_time_is_an_error_that_denies() {
    let dir = tempfile::tempdir().unwrap();
    // The failure policy `ignore` does not admit it: the subject caused it.
    let text = format!(
        "[policy]\nname = \"custom\"\nversion = \"1\"\nfailure-policy = \"ignore\"\n\n{}",
        r#"[[rules.custom]]
id = "C-MISSING"
title = "stat of a file that is not there"
expression = "files.stat('/etc/shadow').mode <= 416"

[[rules.custom]]
id = "C-OPTIONAL"
title = "an optional field read without has()"
expression = "config.stop_signal == 'SIGTERM'"

[[rules.custom]]
id = "C-VERSION"
title = "a version that is not one"
expression = "compareVersions(labels['org.opencontainers.image.title'], '1.0.0') > 0"
"#
    );
    let path = write(&dir, "p.toml", &text);
    let (subject, code) = audit(&[&path], "oci/go-static-good");
    assert_eq!(code, 1);
    for (rule, says) in [
        ("C-MISSING", "no file at /etc/shadow"),
        ("C-OPTIONAL", "stop_signal"),
        ("C-VERSION", "not both semantic versions"),
    ] {
        let f = finding(&subject, rule);
        assert_eq!(f["outcome"], "error", "{f}");
        assert_eq!(f["effect"], "deny", "{f}");
        assert!(f["message"].as_str().unwrap().contains(says), "{rule}: {f}");
    }
}

#[test]
fn evidence_that_was_not_collected_makes_the_rule_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    // Evidence missing for a reason outside the subject: the failure policy
    // decides (here `ignore`: a warning), unlike an error the subject caused.
    let text = format!(
        "[policy]\nname = \"custom\"\nversion = \"1\"\nfailure-policy = \"ignore\"\n\n{}",
        r#"[[rules.custom]]
id = "C-VULNS"
title = "no critical vulnerability with a fix"
expression = "vulnerabilities.all(v, !has(v.score) || v.score < 9.0 || !has(v.fixed))"
"#
    );
    let path = write(&dir, "p.toml", &text);
    // No database, given or at the default place (HOME is empty).
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let img = image("oci/go-static-good");
    let run = portcullis_with_env(
        ["audit", "-f", "json", img.to_str().unwrap(), "--policy", &path],
        [("HOME", home.as_os_str()), ("XDG_CACHE_HOME", home.as_os_str())],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let subject = run.json()["subjects"][0].clone();
    let f = finding(&subject, "C-VULNS");
    assert_eq!(f["outcome"], "error", "{f}");
    assert!(f["message"].as_str().unwrap().contains("no vulnerability data"), "{f}");
    assert_eq!(f["effect"], "warn", "failure-policy ignore: {f}");
}

#[test]
fn custom_rules_combine_with_other_policy_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        &dir,
        "a.toml",
        &policy(
            r#"[[rules.custom]]
id = "ACME-001"
title = "team label"
enforcement = "warn"
expression = "'team' in labels"
message = "'no team label on ' + subject.reference"
"#,
        ),
    );
    // The other file tightens the plugin's budget: the implicit declaration
    // of the first file gives way to it.
    let b = write(
        &dir,
        "b.toml",
        "[policy]\nname = \"b\"\nversion = \"1\"\ninclude = [\"builtin:go-container-baseline\"]\n\n[plugins.cel]\nfuel = 50_000_000\n",
    );
    let (subject, code) = audit(&[&a, &b], "oci/go-static-good");
    assert_eq!(code, 0, "a warning admits: {subject}");
    let f = finding(&subject, "ACME-001");
    assert_eq!((f["outcome"].as_str(), f["effect"].as_str()), (Some("fail"), Some("warn")), "{f}");
    assert!(f["message"].as_str().unwrap().starts_with("no team label on oci:"), "{f}");
    assert_eq!(outcome_of(&subject, "GO-CFG-001").as_deref(), Some("pass"));

    // The same id twice, an id of a builtin rule, and settings for a custom
    // rule in a [rules.ID] table: each refused, naming both places.
    let c = write(
        &dir,
        "c.toml",
        &policy(
            r#"[plugins.image-config]

[[rules.custom]]
id = "ACME-001"
title = "again"
expression = "true"

[[rules.custom]]
id = "GO-CFG-001"
title = "a builtin's id"
expression = "true"

[rules.ACME-001]
enabled = false
"#,
        ),
    );
    let run = portcullis(["policy", "check", &a, &c]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let err = &run.stderr;
    assert!(err.contains("custom rule ACME-001 is defined in two policy files"), "{err}");
    assert!(err.contains("first defined here"), "{err}");
    assert!(err.contains(&format!("{a}:")) && err.contains(&format!("{c}:")), "{err}");
    assert!(err.contains("custom rule GO-CFG-001 has the id of a rule of plugin `image-config`"), "{err}");
    assert!(err.contains("ACME-001 is a custom rule; set it in its [[rules.custom]] entry"), "{err}");
}

#[test]
fn a_variable_of_another_target_is_refused_at_load() {
    // (The examples' workload rules are judged in policies/tests/examples.)
    // A variable of another target is refused at load, with a note saying
    // which targets have it.
    let dir = tempfile::tempdir().unwrap();
    let text = policy(
        r#"[[rules.custom]]
id = "C-NS"
title = "namespace"
expression = "workload.namespace != 'default'"
"#,
    );
    let path = write(&dir, "p.toml", &text);
    let run = portcullis(["policy", "check", &path]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("undeclared variable `workload`"), "{}", run.stderr);
    assert!(run.stderr.contains("rules on workload subjects; this rule judges image subjects"), "{}", run.stderr);
    let fixed = write(
        &dir,
        "q.toml",
        &text.replace("title = \"namespace\"", "title = \"namespace\"\ntargets = [\"workload\"]"),
    );
    let run = portcullis(["policy", "check", &fixed]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// A CEL condition that holds when the value at `path` has the type `ty`
/// of the schema, all the way down: every required field present, every
/// optional one absent or of its type, no field the schema does not name.
fn conforms(path: &str, ty: &portcullis_cel::Ty, depth: usize) -> String {
    use portcullis_cel::Ty;
    let v = format!("x{depth}");
    match ty {
        Ty::String => format!("type({path}) == string"),
        Ty::Int => format!("type({path}) == int"),
        Ty::Double => format!("type({path}) == double"),
        Ty::Bool => format!("type({path}) == bool"),
        Ty::List(t) => format!("type({path}) == list && {path}.all({v}, {})", conforms(&v, t, depth + 1)),
        Ty::Map(_, t) => format!(
            "type({path}) == map && {path}.all({v}, type({v}) == string && {})",
            conforms(&format!("{path}[{v}]"), t, depth + 1)
        ),
        Ty::Object(o) => {
            let names: Vec<String> = o.fields.iter().map(|f| format!("'{}'", f.name)).collect();
            let mut parts =
                vec![format!("type({path}) == map"), format!("{path}.all({v}, {v} in [{}])", names.join(", "))];
            for f in &o.fields {
                let inner = conforms(&format!("{path}.{}", f.name), &f.ty, depth + 1);
                parts.push(match f.optional {
                    true => format!("(!has({path}.{}) || ({inner}))", f.name),
                    false => format!("({inner})"),
                });
            }
            parts.join(" && ")
        }
        other => panic!("the schema has a {other} field: add it to conforms()"),
    }
}

/// Every variable the checker accepts is built by the plugin with exactly
/// the schema's shape, on subjects where it is not empty: a Debian image
/// with its SBOM, an index, a keyless-signed artifact and two workloads.
#[test]
fn the_plugin_builds_every_variable_as_the_schema_types_it() {
    use portcullis_cel::{Target, schema};
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::new();
    let mut ids: Vec<(Target, String)> = Vec::new();
    for target in Target::ALL {
        for var in schema::variables(target) {
            // `files` has functions, not fields; vulnerabilities need a database (vulns::).
            if matches!(var.name, "files" | "vulnerabilities") {
                continue;
            }
            let id = format!("S-{}-{}", target.name(), var.name).to_uppercase();
            rules.push_str(&format!(
                "[[rules.custom]]\nid = \"{id}\"\ntitle = \"{}\"\ntargets = [\"{}\"]\nexpression = '''{}'''\n\n",
                var.name,
                target.name(),
                conforms(var.name, &var.ty, 0)
            ));
            ids.push((target, id));
        }
    }
    // Non-empty where it matters: the variables have elements to check.
    rules.push_str(
        "[[rules.custom]]\nid = \"S-NONEMPTY\"\ntitle = \"non-empty\"\nexpression = \"packages.size() > 50 && binaries.size() > 0 && sbom.components.size() > 0 && config.history.size() > 0\"\n",
    );
    let policy_path = write(&dir, "schema.toml", &policy(&rules));
    let shared = crate::support::shared();
    let review = crate::support::workspace().join("policies/tests/baseline/reviews");
    let expect = |target: Target| -> String {
        ids.iter().filter(|(t, _)| *t == target).map(|(_, id)| format!("{id} = \"pass\"\n")).collect()
    };
    let suite = format!(
        r#"schema = "portcullis.test/v1"

[context]
now = 2026-12-01
policy = "schema.toml"
trusted-root = "production"

[fixtures.debian]
image = "{images}/oci/go-dynamic-root"
sboms = ["{images}/sbom/go-dynamic-root.cdx.json"]

[fixtures.good]
image = "{images}/oci/go-static-good"

[fixtures.index]
image = "{images}/oci/go-static-multiarch"

[fixtures.artifact]
artifact = "{corpus}/sigstore-conformance/test/assets/a.txt"
bundles = ["{corpus}/sigstore-conformance/test/assets/bundle-verify/happy-path-v0.3/bundle.sigstore.json"]

[fixtures.hardened]
review = "{review}/hardened-pod.yaml"
images = {{ "registry.example/acme/hello@sha256:41bc5237460d4d49a3706b46344661cb28222f211bcbf0d8896cf3c828b23955" = "good" }}

[fixtures.careless]
review = "{review}/careless-deployment.yaml"
images = {{ "registry.example/acme/legacy:v1" = "debian" }}

[[case]]
name = "image"
fixture = "debian"
[case.expect]
S-NONEMPTY = "pass"
{image}
[[case]]
name = "index"
fixture = "index"
[case.expect]
{index}
[[case]]
name = "artifact"
fixture = "artifact"
[case.expect]
{artifact}
[[case]]
name = "hardened"
fixture = "hardened"
[case.expect]
{workload}
[[case]]
name = "careless"
fixture = "careless"
[case.expect]
{workload}"#,
        images = shared.join("images").display(),
        corpus = shared.join("corpus").display(),
        review = review.display(),
        image = expect(Target::Image),
        index = expect(Target::Index),
        artifact = expect(Target::Artifact),
        workload = expect(Target::Workload),
    );
    write(&dir, "portcullis-test.toml", &suite);
    assert!(std::path::Path::new(&policy_path).exists());
    let run = portcullis(["test", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("5 passed"), "{}", run.stdout);
}

/// Of a policy of several files, each finding names the file its rule
/// comes from (JSON `policy_file`, and the human report); a one-file policy
/// names none.
#[test]
fn findings_name_the_policy_file_their_rule_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    let team = write(
        &dir,
        "team.toml",
        &policy("[[rules.custom]]\nid = \"TEAM-001\"\ntitle = \"team label\"\nexpression = \"'team' in labels\"\n"),
    );
    let (subject, _) = audit(&[&team, "builtin:go-container-baseline"], "oci/go-static-good");
    assert_eq!(finding(&subject, "TEAM-001")["policy_file"], team.as_str(), "{subject}");
    assert_eq!(finding(&subject, "GO-CFG-001")["policy_file"], "builtin:go-container-baseline");
    let (alone, _) = audit(&[&team], "oci/go-static-good");
    assert!(finding(&alone, "TEAM-001").get("policy_file").is_none(), "{alone}");
    let img = image("oci/go-static-good");
    let human =
        portcullis(["audit", img.to_str().unwrap(), "--policy", &team, "--policy", "builtin:go-container-baseline"]);
    assert!(
        human.stdout.contains(&format!(
            "TEAM-001 [medium] team label: the expression is false: 'team' in labels\n         from {team}"
        )),
        "{}",
        human.stdout
    );
}
