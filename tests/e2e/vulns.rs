//! Known vulnerabilities, offline: importing the Go vulnerability database,
//! matching Go binaries against govulncheck's own answers (module, package
//! and symbol level, stripped binaries included), Debian packages and SBOM
//! components, the SC-VULN rules, and hostile databases.

use crate::support::{self, built};
use portcullis::vuln::matcher::{self, Found, Matches, Platform};
use portcullis::vuln::{Reach, VulnDb};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

fn go_vulndb() -> PathBuf {
    support::corpus("go-vulndb/data/osv")
}

/// The Go vulnerability database, imported once for the whole process.
pub fn go_db() -> Arc<VulnDb> {
    static DB: OnceLock<(tempfile::TempDir, Arc<VulnDb>)> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("go.redb");
        let done = portcullis::vuln::db::import(&[go_vulndb()], &out, true).unwrap_or_else(|e| panic!("{e}"));
        assert!(done.rejected.is_empty());
        (dir, Arc::new(VulnDb::open(&out).unwrap()))
    })
    .1
    .clone()
}

/// A record published now, so a database holding it is fresh (SC-VULN-003).
fn fresh_record(dir: &Path) {
    let now = jiff::Timestamp::now().to_string();
    let record = format!(
        r#"{{"id":"PORTCULLIS-TEST-FRESH","modified":"{now}","published":"{now}","summary":"keeps the test database fresh","affected":[{{"package":{{"ecosystem":"Go","name":"example.invalid/nothing"}},"ranges":[{{"type":"SEMVER","events":[{{"introduced":"0"}}]}}]}}]}}"#
    );
    std::fs::write(dir.join("PORTCULLIS-TEST-FRESH.json"), record).unwrap();
}

/// Small records we wrote for the other ecosystems (Debian, Alpine, PyPI,
/// npm), plus a record published today.
fn fixtures(dir: &Path) {
    let write = |name: &str, v: Value| std::fs::write(dir.join(name), serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    write(
        "DSA-TEST-GLIBC.json",
        serde_json::json!({
            "id": "DSA-TEST-GLIBC", "modified": "2026-11-01T00:00:00Z", "published": "2026-10-01T00:00:00Z",
            "aliases": ["CVE-2099-0001"], "summary": "glibc test advisory",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "glibc"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.36-9+deb12u10"}]}]}]
        }),
    );
    write(
        "DSA-TEST-BASH.json",
        serde_json::json!({
            "id": "DSA-TEST-BASH", "modified": "2026-11-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "bash"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.0-1"}]}]}]
        }),
    );
    write(
        "DSA-TEST-OTHER-RELEASE.json",
        serde_json::json!({
            "id": "DSA-TEST-OTHER-RELEASE", "modified": "2026-11-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "Debian:11", "name": "glibc"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]
        }),
    );
    write(
        "PYSEC-TEST-REQUESTS.json",
        serde_json::json!({
            "id": "PYSEC-TEST-REQUESTS", "modified": "2026-11-01T00:00:00Z", "published": "2026-01-01T00:00:00Z",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.31.0"}]}]}]
        }),
    );
    write(
        "GHSA-TEST-LODASH.json",
        serde_json::json!({
            "id": "GHSA-TEST-LODASH", "modified": "2026-11-01T00:00:00Z",
            "database_specific": {"severity": "CRITICAL"},
            "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]}]
        }),
    );
    fresh_record(dir);
}

/// go-vulndb plus the fixtures above, fresh: what a user's database looks like.
pub fn full_db() -> (PathBuf, Arc<VulnDb>) {
    static DB: OnceLock<(tempfile::TempDir, PathBuf, Arc<VulnDb>)> = OnceLock::new();
    let (_, path, db) = DB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let extra = dir.path().join("fixtures");
        std::fs::create_dir(&extra).unwrap();
        fixtures(&extra);
        let out = dir.path().join("all.redb");
        portcullis::vuln::db::import(&[go_vulndb(), extra], &out, true).unwrap_or_else(|e| panic!("{e}"));
        let db = Arc::new(VulnDb::open(&out).unwrap());
        (dir, out, db)
    });
    (path.clone(), db.clone())
}

#[test]
fn the_whole_go_database_imports_and_counts_agree_with_its_files() {
    let files = std::fs::read_dir(go_vulndb())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
        .count();
    let db = go_db();
    assert_eq!(db.info.records as usize, files, "{:?}", db.info);
    assert_eq!(db.info.ecosystems, BTreeMap::from([("Go".to_string(), files as u64)]));
    // golang/vulndb's repository writes the zero time as `modified` (and as
    // `published` of newer entries): the newest time is the newest real one.
    let newest_published = std::fs::read_dir(go_vulndb())
        .unwrap()
        .filter_map(|e| {
            let v: Value = serde_json::from_slice(&std::fs::read(e.unwrap().path()).ok()?).ok()?;
            v["published"].as_str().filter(|p| !p.starts_with("0001")).map(str::to_string)
        })
        .max()
        .unwrap();
    assert_eq!(db.info.newest.as_deref(), Some(newest_published.as_str()));
    // The digest does not depend on the order files are read in: the same
    // records in a zip give the same digest.
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("Go.zip");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let mut names: Vec<PathBuf> = std::fs::read_dir(go_vulndb()).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        names.reverse();
        for p in names {
            zip.start_file(p.file_name().unwrap().to_str().unwrap(), zip::write::SimpleFileOptions::default()).unwrap();
            std::io::Write::write_all(&mut zip, &std::fs::read(&p).unwrap()).unwrap();
        }
        zip.finish().unwrap();
    }
    let again = portcullis::vuln::db::import(&[zip_path], &dir.path().join("z.redb"), true).unwrap();
    assert_eq!(again.info.digest, db.info.digest);
    assert_eq!(again.info.records, db.info.records);
    // `db info` prints the same.
    let out = dir.path().join("cli.redb");
    let run = support::portcullis(["db", "import", go_vulndb().to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = support::portcullis(["--vuln-db", out.to_str().unwrap(), "db", "info", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let info = run.json();
    assert_eq!(info["digest"], db.info.digest);
    assert_eq!(info["ecosystems"]["Go"], files as u64);
}

#[test]
fn malformed_records_are_named_by_file_and_pointer_and_strict_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("osv");
    std::fs::create_dir(&src).unwrap();
    let good = std::fs::read(go_vulndb().join("GO-2021-0113.json")).unwrap();
    std::fs::write(src.join("GO-2021-0113.json"), &good).unwrap();
    std::fs::write(src.join("TRUNCATED.json"), &good[..good.len() / 2]).unwrap();
    std::fs::write(
        src.join("BAD-VERSION.json"),
        br#"{"id":"BAD-VERSION","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"one.two"}]}]}]}"#,
    )
    .unwrap();
    let deep = format!(
        "{{\"id\":\"DEEP\",\"modified\":\"2024-01-01T00:00:00Z\",\"x\":{}{}}}",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    std::fs::write(src.join("DEEP.json"), deep).unwrap();
    let events: Vec<Value> = (0..30_000).map(|i| serde_json::json!({"introduced": format!("1.0.{i}")})).collect();
    let huge = serde_json::json!({"id":"HUGE","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"SEMVER","events":events}]}]});
    std::fs::write(src.join("HUGE.json"), serde_json::to_vec(&huge).unwrap()).unwrap();

    let out = dir.path().join("db.redb");
    let run = support::portcullis(["db", "import", src.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for (file, what) in [
        ("TRUNCATED.json", "EOF"),
        ("BAD-VERSION.json", "/affected/0/ranges/0/events/1"),
        ("DEEP.json", "nest"),
        ("HUGE.json", "/affected/0/ranges/0/events"),
    ] {
        let line = run
            .stderr
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file} not named:\n{}", run.stderr));
        assert!(line.contains(what), "{file}: expected `{what}` in: {line}");
    }
    assert!(run.stderr.contains("4 malformed records skipped"), "{}", run.stderr);
    assert!(run.stdout.contains("records   1"), "{}", run.stdout);

    let strict = dir.path().join("strict.redb");
    let run = support::portcullis(["db", "import", "--strict", src.to_str().unwrap(), "-o", strict.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(".json"), "{}", run.stderr);
    assert!(!strict.exists(), "a refused import leaves no database behind");
}

#[test]
fn a_hundred_thousand_records_import() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("osv");
    std::fs::create_dir(&src).unwrap();
    for i in 0..100_000 {
        let r = format!(
            r#"{{"id":"GEN-{i}","modified":"2024-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"npm","name":"pkg-{}"}},"ranges":[{{"type":"SEMVER","events":[{{"introduced":"0"}},{{"fixed":"1.{}.0"}}]}}]}}]}}"#,
            i % 5000,
            i % 97
        );
        std::fs::write(src.join(format!("GEN-{i}.json")), r).unwrap();
    }
    let out = dir.path().join("db.redb");
    let done = portcullis::vuln::db::import(&[src], &out, true).unwrap();
    assert_eq!(done.info.records, 100_000);
    let db = VulnDb::open(&out).unwrap();
    assert_eq!(db.records_for("npm", "pkg-42").unwrap().len(), 20);
}

/// What govulncheck v1.6.0 reported, per binary.
fn expected() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(support::corpus("govulncheck-expected/expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ids(v: &Value) -> BTreeSet<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

fn levels(m: &Matches) -> [BTreeSet<String>; 3] {
    let set = |f: &dyn Fn(Reach) -> bool| m.matches.iter().filter(|x| f(x.reach)).map(|x| x.id.clone()).collect();
    [set(&|_| true), set(&|r| matches!(r, Reach::Reachable | Reach::Present)), set(&|r| r == Reach::Reachable)]
}

/// Every binary govulncheck judged: our three sets, by its name.
fn ours(db: &VulnDb) -> BTreeMap<String, (Matches, bool)> {
    let mut out = BTreeMap::new();
    let root = support::corpus("govulncheck-expected/bin");
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let elf = portcullis::scan::elf::analyse(&std::fs::read(&path).unwrap());
        let mut m = Matches::default();
        let found = Found { origin: "binary".into(), path: None, layer: None };
        matcher::go_binary(db, &elf, &found, &Platform { os: "linux".into(), arch: "amd64".into() }, &mut m);
        let name = format!("custom__{}", path.file_name().unwrap().to_str().unwrap());
        out.insert(name, (m, elf.has_symtab));
    }
    for image in ["go-dynamic-root", "go-legacy-debug", "go-static-good", "go-static-multiarch"] {
        let input = support::open(&support::image(&format!("oci/{image}")));
        for e in &input.evidence {
            let portcullis::evidence::Evidence::Image(i) = e else { continue };
            let scan = i.scan.as_ref().unwrap();
            let p = i.subject.platform.as_ref().unwrap();
            let platform = match &p.variant {
                Some(v) => format!("{}-{}-{v}", p.os, p.architecture),
                None => format!("{}-{}", p.os, p.architecture),
            };
            for b in scan.binaries.iter().filter(|b| b.elf.is_go) {
                let mut m = Matches::default();
                let found = Found { origin: "binary".into(), path: Some(b.path.clone()), layer: Some(b.layer) };
                let plat = Platform { os: p.os.clone(), arch: p.architecture.clone() };
                matcher::go_binary(db, &b.elf, &found, &plat, &mut m);
                let name = format!("{image}__{platform}__{}", b.path.trim_start_matches('/').replace('/', "_"));
                out.insert(name, (m, b.elf.has_symtab));
            }
        }
    }
    out
}

#[test]
fn go_binaries_match_what_govulncheck_reports_at_every_level() {
    let db = go_db();
    let expected = expected();
    let ours = ours(&db);
    let mut checked = 0;
    for (name, want) in &expected {
        let (m, _) = ours.get(name).unwrap_or_else(|| panic!("{name}: not found by the scan (have {:?})", ours.keys()));
        assert!(m.problems.is_empty(), "{name}: {:?}", m.problems);
        let [module, package, symbol] = levels(m);
        assert_eq!(module, ids(&want["module_level_ids"]), "{name}: module level");
        // govulncheck cannot read symbols of a stripped binary and reports
        // every known symbol; we read the function table that survives
        // stripping, so the right answer is the unstripped twin's.
        let twin = name.strip_suffix("-stripped").map(|t| &expected[t]);
        let reference = match (want["has_symtab"].as_bool().unwrap(), twin) {
            (false, Some(t)) => t,
            _ => want,
        };
        assert_eq!(package, ids(&reference["package_level_ids"]), "{name}: package level");
        assert_eq!(symbol, ids(&reference["symbol_level_ids"]), "{name}: symbol level");
        // The functions named are those govulncheck found.
        if let Some(symbols) = reference["symbols"].as_object() {
            for x in m.matches.iter().filter(|x| x.reach == Reach::Reachable) {
                let theirs: BTreeSet<String> =
                    symbols[&x.id].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
                let found: BTreeSet<String> = x.symbols.iter().cloned().collect();
                // We find what govulncheck found; it leaves unexported
                // functions out of the names it prints (they still count).
                let exported = |s: &String| s.rsplit('.').next().is_some_and(|b| b.starts_with(char::is_uppercase));
                let ours_exported: BTreeSet<String> = found.iter().filter(|s| exported(s)).cloned().collect();
                let theirs_exported: BTreeSet<String> = theirs.iter().filter(|s| exported(s)).cloned().collect();
                assert_eq!(ours_exported, theirs_exported, "{name} {}: {found:?} vs {theirs:?}", x.id);
            }
        }
        checked += 1;
    }
    assert_eq!(checked, expected.len());
    assert!(checked >= 11);
}

#[test]
fn stripped_binaries_keep_their_function_tables() {
    let root = support::corpus("govulncheck-expected/bin");
    for name in ["go119-fmt", "textcalls", "textnocall"] {
        let full = portcullis::scan::elf::analyse(&std::fs::read(root.join(name)).unwrap());
        let stripped = portcullis::scan::elf::analyse(&std::fs::read(root.join(format!("{name}-stripped"))).unwrap());
        assert!(full.has_symtab && !stripped.has_symtab, "{name}");
        let (a, b) = (full.go_symbols.unwrap(), stripped.go_symbols.unwrap());
        assert!(a.symbols.len() > 1000, "{name}: {} functions", a.symbols.len());
        assert_eq!(a.symbols, b.symbols, "{name}: the same functions with and without a symbol table");
        assert!(a.inlined && b.inlined, "{name}: inline trees read");
    }
}

#[test]
fn debian_packages_match_by_source_package_and_release() {
    let dir = tempfile::tempdir().unwrap();
    let layout = built::debian_layout(
        dir.path(),
        "deb",
        &[built::deb("libc6", "2.36-9+deb12u4", Some("glibc")), built::deb("bash", "5.2.15-2+b2", None)],
        &["linux/amd64"],
    );
    let (_, db) = full_db();
    let input = support::open(&layout.root);
    let portcullis::evidence::Evidence::Image(i) = &input.evidence[0] else { panic!() };
    let m = matcher::image(&db, i.scan.as_deref(), None, &Platform::default());
    let found: Vec<(&str, &str, &str, Option<&str>)> = m
        .matches
        .iter()
        .map(|x| (x.id.as_str(), x.package.as_str(), x.installed.as_str(), x.fixed.as_deref()))
        .collect();
    // glibc is the source of libc6, in range on Debian 12; bash is fixed;
    // the Debian 11 record is another release.
    assert_eq!(found, vec![("DSA-TEST-GLIBC", "glibc", "2.36-9+deb12u4", Some("2.36-9+deb12u10"))]);
    assert_eq!(m.matches[0].score.as_ref().unwrap().score, 9.8);
}

#[test]
fn sbom_components_match_by_purl_with_their_ecosystem_order() {
    let dir = tempfile::tempdir().unwrap();
    let sbom = dir.path().join("app.cdx.json");
    std::fs::write(
        &sbom,
        serde_json::to_vec(&serde_json::json!({
            "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
            "components": [
                {"type": "library", "name": "requests", "version": "2.4.0", "purl": "pkg:pypi/requests@2.4.0"},
                {"type": "library", "name": "requests-new", "version": "2.31.0", "purl": "pkg:pypi/requests@2.31.0"},
                {"type": "library", "name": "lodash", "version": "4.17.20", "purl": "pkg:npm/lodash@4.17.20"}
            ]
        }))
        .unwrap(),
    )
    .unwrap();
    let (path, _) = full_db();
    let run =
        support::portcullis(["--vuln-db", path.to_str().unwrap(), "vulns", sbom.to_str().unwrap(), "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let subjects = run.json();
    let found: Vec<(String, String)> = subjects[0]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap().to_string(), m["installed"].as_str().unwrap().to_string()))
        .collect();
    // 2.4.0 < 2.31.0 by PEP 440 (not as text); 2.31.0 is fixed.
    assert_eq!(
        found,
        vec![("GHSA-TEST-LODASH".to_string(), "4.17.20".to_string()), ("PYSEC-TEST-REQUESTS".into(), "2.4.0".into())]
    );
}

fn vuln_policy(dir: &Path) -> PathBuf {
    let p = dir.join("vulns.toml");
    std::fs::write(
        &p,
        "[policy]\nname = \"vulns\"\nversion = \"1\"\nenforcement = \"enforce\"\nfailure-policy = \"deny\"\n\n[plugins.vulnerabilities]\n\n[rules.SC-VULN-001]\n[rules.SC-VULN-002]\n[rules.SC-VULN-003]\n",
    )
    .unwrap();
    p
}

#[test]
fn sc_vuln_001_denies_the_old_go_and_admits_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let policy = vuln_policy(dir.path());
    let (db, _) = full_db();
    let audit = |image: &str| {
        support::portcullis([
            "--vuln-db",
            db.to_str().unwrap(),
            "audit",
            support::image(&format!("oci/{image}")).to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--format",
            "json",
        ])
    };
    let legacy = audit("go-legacy-debug");
    assert_eq!(legacy.code, 1, "{}{}", legacy.stdout, legacy.stderr);
    let report = legacy.json();
    let subject = &report["subjects"][0];
    assert_eq!(support::outcome_of(subject, "SC-VULN-001").as_deref(), Some("fail"));
    assert_eq!(support::outcome_of(subject, "SC-VULN-003").as_deref(), Some("pass"));
    let failing: Vec<&Value> =
        subject["findings"].as_array().unwrap().iter().filter(|f| f["rule"] == "SC-VULN-001").collect();
    let expected = expected();
    assert_eq!(
        failing.len(),
        expected["go-legacy-debug__linux-amd64__app_hello"]["symbol_level_ids"].as_array().unwrap().len()
    );
    let one = failing.iter().find(|f| f["message"].as_str().unwrap().contains("GO-2023-1878")).unwrap();
    let msg = one["message"].as_str().unwrap();
    assert!(
        msg.contains("stdlib go1.19.8") && msg.contains("fixed in go1.") && msg.contains("net/http.Client.Do"),
        "{msg}"
    );
    assert_eq!(one["location"]["path"], "/app/hello");
    assert!(one["remediation"].as_str().unwrap().contains("Rebuild with Go"), "{one}");

    let good = audit("go-static-good");
    assert_eq!(good.code, 0, "{}{}", good.stdout, good.stderr);
    assert_eq!(support::outcome_of(&good.json()["subjects"][0], "SC-VULN-001").as_deref(), Some("pass"));

    // Counting every Go vulnerability, not only reachable ones, finds more.
    let all = dir.path().join("all.toml");
    std::fs::write(
        &all,
        std::fs::read_to_string(&policy)
            .unwrap()
            .replace("[rules.SC-VULN-001]", "[rules.SC-VULN-001]\nparams = { reachable_only = false }"),
    )
    .unwrap();
    let run = support::portcullis([
        "--vuln-db",
        db.to_str().unwrap(),
        "audit",
        support::image("oci/go-legacy-debug").to_str().unwrap(),
        "--policy",
        all.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let n =
        run.json()["subjects"][0]["findings"].as_array().unwrap().iter().filter(|f| f["rule"] == "SC-VULN-001").count();
    assert_eq!(n, expected["go-legacy-debug__linux-amd64__app_hello"]["module_level_ids"].as_array().unwrap().len());
}

#[test]
fn without_a_database_or_with_a_stale_one_the_rules_deny() {
    let dir = tempfile::tempdir().unwrap();
    let policy = vuln_policy(dir.path());
    let image = support::image("oci/go-static-good");
    // No database at all (and none at the default place: HOME is empty).
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let run = support::portcullis_with_env(
        ["audit", image.to_str().unwrap(), "--policy", policy.to_str().unwrap(), "--format", "json"],
        [("HOME", home.as_os_str()), ("XDG_CACHE_HOME", home.as_os_str())],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    let f = report["subjects"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "SC-VULN-001")
        .unwrap()
        .clone();
    // Unavailable: a reason outside the image, so the failure policy (deny) decides.
    assert_eq!((f["outcome"].as_str(), f["effect"].as_str()), (Some("error"), Some("deny")), "{f}");
    assert!(f["message"].as_str().unwrap().contains("db import"), "{f}");
    // The Go database alone is months old: SC-VULN-003 denies.
    let stale = dir.path().join("stale.redb");
    portcullis::vuln::db::import(&[go_vulndb()], &stale, true).unwrap();
    let run = support::portcullis([
        "--vuln-db",
        stale.to_str().unwrap(),
        "audit",
        image.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(support::outcome_of(&run.json()["subjects"][0], "SC-VULN-003").as_deref(), Some("fail"));
}

#[test]
fn the_database_is_part_of_the_engine_fingerprint() {
    let (_, full) = full_db();
    let policy = portcullis::Policy::from_file(&support::workspace().join("policies/supply-chain.toml")).unwrap();
    let make = |db: Option<Arc<VulnDb>>| {
        let options =
            portcullis::EngineOptions { cache_dir: Some(support::cache_dir()), vuln_db: db, ..Default::default() };
        portcullis::Engine::new(policy.clone(), options).unwrap().fingerprint().to_string()
    };
    let (a, b, c) = (make(None), make(Some(go_db())), make(Some(full)));
    assert!(a != b && b != c && a != c);
}

#[test]
fn vulns_lists_a_go_binary_like_govulncheck() {
    let bin = support::corpus("govulncheck-expected/bin/textcalls-stripped");
    let db = dir_db();
    let run =
        support::portcullis(["--vuln-db", db.to_str().unwrap(), "vulns", bin.to_str().unwrap(), "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    let reach: Vec<(String, String)> = v[0]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap().to_string(), m["reach"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(reach, vec![("GO-2021-0113".to_string(), "reachable".to_string())]);
    let run = support::portcullis(["--vuln-db", db.to_str().unwrap(), "vulns", bin.to_str().unwrap(), "--all"]);
    assert!(run.stdout.contains("GO-2022-1059") && run.stdout.contains("present"), "{}", run.stdout);
    // SARIF for code scanning: one rule per vulnerability, with its advisory.
    let run =
        support::portcullis(["--vuln-db", db.to_str().unwrap(), "vulns", bin.to_str().unwrap(), "--format", "sarif"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sarif = run.json();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "GO-2021-0113");
    assert_eq!(results[0]["properties"]["reach"], "reachable");
    let rule = &sarif["runs"][0]["tool"]["driver"]["rules"][0];
    assert!(rule["helpUri"].as_str().unwrap().starts_with("https://"), "{rule}");
}

/// The full database's path.
fn dir_db() -> PathBuf {
    full_db().0
}

#[test]
fn vex_sets_aside_exactly_the_named_vulnerability_for_the_named_image() {
    let dir = tempfile::tempdir().unwrap();
    let policy = vuln_policy(dir.path());
    let (db, _) = full_db();
    let image = support::image("oci/go-legacy-debug");
    let audit = |extra: &[&str]| {
        let mut args = vec!["--vuln-db", db.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend(["audit", image.to_str().unwrap(), "--policy", policy.to_str().unwrap(), "--format", "json"]);
        support::portcullis(args).json()
    };
    let failing_ids = |report: &Value| -> BTreeSet<String> {
        report["subjects"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "SC-VULN-001" && f["outcome"] == "fail")
            .map(|f| f["message"].as_str().unwrap().split(' ').next().unwrap().to_string())
            .collect()
    };
    let before = audit(&[]);
    let digest = before["subjects"][0]["digest"].as_str().unwrap().to_string();
    let all = failing_ids(&before);
    assert!(all.contains("GO-2023-1878") && all.contains("GO-2023-2102"), "{all:?}");
    let write = |name: &str, product: &str| {
        let p = dir.path().join(name);
        let doc = serde_json::json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "statements": [{
                // Named by an alias: GO-2023-1878 is CVE-2023-29406.
                "vulnerability": {"name": "CVE-2023-29406"},
                "products": [{"@id": product}],
                "status": "not_affected",
                "justification": "vulnerable_code_cannot_be_controlled_by_adversary"
            }]
        });
        std::fs::write(&p, serde_json::to_vec(&doc).unwrap()).unwrap();
        p
    };
    let this = write("this.json", &format!("pkg:oci/go-legacy-debug@{}", digest.replace(':', "%3A")));
    let after = audit(&["--vex", this.to_str().unwrap()]);
    let left = failing_ids(&after);
    let removed: Vec<&String> = all.difference(&left).collect();
    assert_eq!(removed, vec!["GO-2023-1878"], "exactly the named vulnerability is set aside");
    let listed = after["subjects"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "SC-VULN-001" && f["message"].as_str().unwrap().starts_with("set aside by VEX"))
        .expect("the statement used is listed");
    assert!(
        listed["message"].as_str().unwrap().contains("vulnerable_code_cannot_be_controlled_by_adversary"),
        "{listed}"
    );
    // A document about another image changes nothing.
    let other =
        write("other.json", "pkg:oci/other@sha256%3A0000000000000000000000000000000000000000000000000000000000000000");
    assert_eq!(failing_ids(&audit(&["--vex", other.to_str().unwrap()])), all);
}

/// An OpenVEX statement about the image `subject` (in-toto subject) that
/// sets GO-2023-1878 aside for the product `product`.
fn vex_statement(subject: &str, product: &str) -> Value {
    serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "go-legacy-debug", "digest": {"sha256": subject.trim_start_matches("sha256:")}}],
        "predicateType": "https://openvex.dev/ns/v0.2.0",
        "predicate": {
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://example.test/vex/1",
            "author": "release team",
            "timestamp": "2026-11-01T00:00:00Z",
            "version": 1,
            "statements": [{
                "vulnerability": {"name": "GO-2023-1878"},
                "products": [{"@id": product}],
                "status": "not_affected",
                "justification": "inline_mitigations_already_exist"
            }]
        }
    })
}

#[test]
fn attached_vex_counts_only_when_a_trusted_signer_attested_it_for_this_image() {
    use crate::support::cosign::{attest, key_pair};
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = full_db();
    let (trusted_sk, trusted_pem) = key_pair(7);
    let (other_sk, _) = key_pair(8);
    let digest =
        support::portcullis(["audit", support::image("oci/go-legacy-debug").to_str().unwrap(), "--format", "json"])
            .json()["subjects"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string();
    let product = format!("pkg:oci/go-legacy-debug@{}", digest.replace(':', "%3A"));
    let policy = |name: &str, keys: &[&str]| {
        let p = dir.path().join(name);
        let keys: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
        std::fs::write(
            &p,
            format!(
                "[policy]\nname = \"vulns\"\nversion = \"1\"\nenforcement = \"enforce\"\nfailure-policy = \"deny\"\n\n[plugins.vulnerabilities]\n\n[rules.SC-VULN-001.params]\nvex_keys = [{}]\n",
                keys.join(", ")
            ),
        )
        .unwrap();
        p
    };
    let trusting = policy("trusting.toml", &[&trusted_pem]);
    let untrusting = policy("untrusting.toml", &[]);
    // One layout per attachment: the image and one VEX attestation.
    let layout = |name: &str, statement: &Value, sk: &p256::ecdsa::SigningKey| {
        let l = dir.path().join(name);
        support::copy_dir(&support::image("oci/go-legacy-debug"), &l);
        attest(&l, &digest, statement, sk);
        l
    };
    let run = |image: &Path, policy: &Path| {
        let report = support::portcullis([
            "--vuln-db",
            db.to_str().unwrap(),
            "audit",
            image.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--format",
            "json",
        ])
        .json();
        let findings = report["subjects"][0]["findings"].as_array().unwrap().clone();
        let failing: BTreeSet<String> = findings
            .iter()
            .filter(|f| f["rule"] == "SC-VULN-001" && f["outcome"] == "fail")
            .map(|f| f["message"].as_str().unwrap().split(' ').next().unwrap().to_string())
            .collect();
        let used = findings
            .iter()
            .filter_map(|f| f["message"].as_str())
            .find(|m| m.starts_with("set aside by VEX"))
            .map(str::to_string);
        (failing, used)
    };
    let signed = layout("signed", &vex_statement(&digest, &product), &trusted_sk);
    let (all, none_used) = run(&signed, &untrusting);
    assert!(all.contains("GO-2023-1878"), "{all:?}");
    assert_eq!(none_used, None, "without a trusted VEX signer attached VEX is ignored");

    let (left, used) = run(&signed, &trusting);
    let removed: Vec<&String> = all.difference(&left).collect();
    assert_eq!(removed, vec!["GO-2023-1878"], "the trusted attestation sets aside exactly what it names");
    let used = used.expect("the statement used is listed");
    assert!(used.contains("attestation:") && used.contains("inline_mitigations_already_exist"), "{used}");

    // The same document signed by a key the policy does not trust.
    let forged = layout("forged", &vex_statement(&digest, &product), &other_sk);
    assert_eq!(run(&forged, &trusting).0, all, "an untrusted signer silences nothing");
    // Signed by the trusted key, but its in-toto subject is another image:
    // moved next to this one, it must not apply.
    let elsewhere = format!("sha256:{}", "ab".repeat(32));
    let moved = layout("moved", &vex_statement(&elsewhere, &product), &trusted_sk);
    assert_eq!(run(&moved, &trusting).0, all, "a VEX attested for another image does not apply");
}

/// Builds a one-file Go program with the local (Debian) Go, stripped or not.
fn build_go(dir: &Path, name: &str, source: &str, stripped: bool) -> PathBuf {
    let src = dir.join(format!("{name}.go"));
    std::fs::write(&src, source).unwrap();
    let out = dir.join(if stripped { format!("{name}-stripped") } else { name.to_string() });
    let mut cmd = std::process::Command::new("go");
    cmd.arg("build").arg("-trimpath").arg("-o").arg(&out);
    if stripped {
        cmd.arg("-ldflags=-s -w");
    }
    let status = cmd
        .arg(&src)
        .current_dir(dir)
        .env("GOCACHE", support::cache_dir().join("gocache"))
        .env("GOPATH", support::cache_dir().join("gopath"))
        .env("GO111MODULE", "off")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .env("GOOS", "linux")
        .env("GOARCH", "amd64")
        .status()
        .expect("`go` is needed: install Debian's golang-go (.ci/run does)");
    assert!(status.success(), "building {name}");
    out
}

#[test]
fn binaries_built_here_are_reachable_only_when_they_call_the_vulnerable_function() {
    let dir = tempfile::tempdir().unwrap();
    // GO-2025-4009: encoding/pem.Decode, fixed long after the Go of Debian 12.
    let calls = "package main\n\nimport (\n\t\"encoding/pem\"\n\t\"os\"\n)\n\nfunc main() {\n\tb, _ := pem.Decode([]byte(os.Args[0]))\n\tif b != nil {\n\t\tos.Exit(3)\n\t}\n}\n";
    let none = "package main\n\nimport \"os\"\n\nfunc main() {\n\tos.Stdout.Write([]byte(\"hello\\n\"))\n}\n";
    let db = go_db();
    let record = db.record("GO-2025-4009").unwrap().expect("GO-2025-4009 in the database");
    let listed = &record.affected[0].imports;
    assert!(listed.iter().any(|i| i.path == "encoding/pem" && i.symbols.contains(&"Decode".to_string())), "{listed:?}");
    for stripped in [false, true] {
        for (name, source, expect) in [("calls", calls, true), ("none", none, false)] {
            let bin = build_go(dir.path(), name, source, stripped);
            let elf = portcullis::scan::elf::analyse(&std::fs::read(&bin).unwrap());
            assert_eq!(elf.has_symtab, !stripped);
            let mut m = Matches::default();
            let found = Found { origin: "binary".into(), path: None, layer: None };
            matcher::go_binary(&db, &elf, &found, &Platform { os: "linux".into(), arch: "amd64".into() }, &mut m);
            assert!(m.problems.is_empty(), "{:?}", m.problems);
            let hit =
                m.matches.iter().find(|x| x.id == "GO-2025-4009").expect("the module (stdlib) is affected either way");
            assert_eq!(hit.reach == Reach::Reachable, expect, "{name} stripped={stripped}: {:?}", hit.reach);
            if expect {
                // The record lists Decode and the unexported getLine it calls.
                assert!(hit.symbols.contains(&"encoding/pem.Decode".to_string()), "{:?}", hit.symbols);
            } else {
                assert_eq!(hit.reach, Reach::Module, "{name}: encoding/pem is not linked at all");
            }
            // Every symbol we call reachable is one the record lists.
            for x in m.matches.iter().filter(|x| x.reach == Reach::Reachable) {
                let r = db.record(&x.id).unwrap().unwrap();
                for s in &x.symbols {
                    assert!(
                        r.affected.iter().flat_map(|a| &a.imports).any(|i| s
                            .strip_prefix(&format!("{}.", i.path))
                            .is_some_and(|sym| i.symbols.is_empty() || i.symbols.iter().any(|l| l == sym))),
                        "{}: {s} is not listed",
                        x.id
                    );
                }
            }
        }
    }
}
