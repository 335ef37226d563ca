//! SBOM format identification against syft's own fixtures
//! (`syft/format/*/testdata/identify`), and on the syft SBOMs of the shared
//! images.

use crate::support;

use portcullis::sbom::{Format, identify};

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(support::corpus("syft-format-fixtures/syft/format").join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn syft_identification_fixtures_agree() {
    let mut cases: Vec<(String, Option<(Format, &str)>)> = Vec::new();
    for v in ["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"] {
        cases.push((format!("cyclonedxjson/testdata/identify/{v}.json"), Some((Format::CyclonedxJson, v))));
    }
    // No `$schema`: the version comes from specVersion.
    cases.push(("cyclonedxjson/testdata/identify/micronaut-1.4.json".into(), Some((Format::CyclonedxJson, "1.4"))));
    cases.push(("cyclonedxjson/testdata/identify/micronaut-1.5.json".into(), Some((Format::CyclonedxJson, "1.5"))));
    for v in ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7"] {
        cases.push((format!("cyclonedxxml/testdata/identify/{v}.xml"), Some((Format::CyclonedxXml, v))));
    }
    for v in ["2.2", "2.3"] {
        cases.push((format!("spdxjson/testdata/identify/{v}.json"), Some((Format::SpdxJson, v))));
    }
    // SPDX 3 JSON-LD, recognised by its @context.
    cases.push(("spdxjson/testdata/identify/3.0.json".into(), Some((Format::SpdxJson, "3.0.1"))));
    for v in ["2.1", "2.2", "2.3"] {
        cases.push((format!("spdxtagvalue/testdata/identify/{v}.sbom"), Some((Format::SpdxTagValue, v))));
    }
    cases.push(("syftjson/testdata/identify/11.0.0.json".into(), Some((Format::SyftJson, "11.0.0"))));
    cases.push(("testdata/alpine-syft.json".into(), Some((Format::SyftJson, "1.1.0"))));
    for bad in
        ["cyclonedxjson/testdata/bad-sbom", "cyclonedxxml/testdata/bad-sbom", "spdxjson/testdata/spdx/bad/bad-sbom"]
    {
        cases.push((bad.into(), None));
    }
    // Schema-invalid SPDX documents are still identified (decoding them fails later).
    for bad in ["example7-bin", "example7-go-module", "example7-golang", "example7-third-party-modules"] {
        cases.push((format!("spdxjson/testdata/spdx/bad/{bad}.spdx.json"), Some((Format::SpdxJson, "2.2"))));
    }
    let mut agreed = 0;
    let mut wrong = Vec::new();
    for (file, want) in &cases {
        let got = identify(&fixture(file));
        let got_pair = got.as_ref().map(|g| (g.format, g.version.as_str()));
        if got_pair == *want {
            agreed += 1;
        } else {
            wrong.push(format!("{file}: expected {want:?}, got {got:?}"));
        }
    }
    println!("syft identification fixtures: {agreed}/{} agreed", cases.len());
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_shared_images_sboms_are_identified() {
    let dir = support::image("sbom");
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let got = identify(&std::fs::read(&path).unwrap()).unwrap_or_else(|| panic!("{name} not identified"));
        if name.ends_with(".cdx.json") {
            assert_eq!((got.format, got.version.as_str()), (Format::CyclonedxJson, "1.6"), "{name}");
        } else {
            assert_eq!((got.format, got.version.as_str()), (Format::SpdxJson, "2.3"), "{name}");
        }
        seen += 1;
    }
    assert_eq!(seen, 10);
}

/// One vector of the CycloneDX specification's own schema tests.
#[derive(serde::Deserialize)]
struct CdxVector {
    file: String,
    spec_version: String,
    format: String,
    expected: Option<String>,
}

/// `sbom validate` against every JSON and XML vector of CycloneDX's
/// specification repository (1.0–1.7), valid-* must validate and invalid-*
/// must not. Prints agreed/total per version and format.
#[test]
fn cyclonedx_specification_vectors_agree() {
    let root = support::corpus("cyclonedx-specification");
    let vectors: Vec<CdxVector> = serde_json::from_slice(&std::fs::read(root.join("expected.json")).unwrap()).unwrap();
    let mut tally: std::collections::BTreeMap<(String, String), (usize, usize)> = Default::default();
    let mut wrong = Vec::new();
    for v in vectors.iter().filter(|v| v.format == "json" || v.format == "xml") {
        // `skip_invalid-*` and `informal-invalid-*`: asserted by no upstream test.
        let Some(expected) = v.expected.as_deref() else { continue };
        let bytes = std::fs::read(root.join(&v.file)).unwrap();
        let got = match portcullis::sbom::validate(&bytes) {
            Ok(r) if r.is_valid() => "valid".to_string(),
            Ok(r) => {
                let first = r.errors().next().map(|e| format!("{} {}", e.location, e.message)).unwrap_or_default();
                format!("invalid ({first})")
            }
            Err(e) => format!("unreadable ({e})"),
        };
        let agreed = got.starts_with(expected) && !(expected == "valid" && got.starts_with("invalid"));
        let agreed = agreed || (expected == "invalid" && got.starts_with("unreadable"));
        let t = tally.entry((v.spec_version.clone(), v.format.clone())).or_default();
        t.1 += 1;
        if agreed {
            t.0 += 1;
        } else {
            wrong.push(format!("{}: expected {expected}, got {got}", v.file));
        }
    }
    let (mut a, mut n) = (0, 0);
    for ((version, format), (agreed, total)) in &tally {
        println!("cyclonedx-specification {version} {format}: {agreed}/{total} agreed");
        a += agreed;
        n += total;
    }
    println!("cyclonedx-specification: {a}/{n} agreed");
    assert!(wrong.is_empty(), "{} disagreements:\n{}", wrong.len(), wrong.join("\n"));
}

fn validate_file(path: &std::path::Path) -> Result<portcullis::sbom::Validation, portcullis::sbom::SbomError> {
    portcullis::sbom::validate(&std::fs::read(path).unwrap())
}

/// spdx/tools-java `VerifyTest`: the outcomes it asserts, for the
/// serialisations we read (JSON, tag-value, SPDX 3 JSON-LD). RDF/XML, XML,
/// YAML and spreadsheets are refused as unsupported, by name.
#[test]
fn spdx_tools_java_outcomes_agree() {
    let dir = support::corpus("spdx-tools-java/testResources");
    let valid = [
        "SPDXJSONExample-v2.3.spdx.json",
        "SPDXJSONExample-v2.2.spdx.json",
        "SPDXTagExample-v2.3.spdx",
        "SPDXTagExample-v2.2.spdx",
        "SPDXJSONExample-v2.3-with-exception.spdx.json",
        "SPDXJsonLDExample-v3.0.1.json",
        "double.jsonld",
    ];
    let mut agreed = 0;
    for f in valid {
        let v = validate_file(&dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(v.violations.is_empty(), "{f}: expected no messages, got {:?}", v.violations);
        agreed += 1;
    }
    // Valid, with a warning about the deprecated `LGPL-2.0`.
    let v = validate_file(&dir.join("SPDXTagExample-v2.2-warning.spdx")).unwrap();
    assert!(v.is_valid(), "{:?}", v.violations);
    assert!(v.violations[0].message.contains("deprecated"), "{:?}", v.violations);
    assert_eq!(v.violations[0].location, "line 49");
    agreed += 1;
    // BadJSON: exactly the 4 intentional errors.
    let v = validate_file(&dir.join("BadJSON.spdx.json")).unwrap();
    let locations: Vec<&str> = v.errors().map(|e| e.location.as_str()).collect();
    assert_eq!(locations, ["/creationInfo/creators", "/packages/0/filesAnalyzed", "/packages/0", "/packages/1/name"]);
    assert!(v.errors().nth(2).unwrap().message.contains("fileName"));
    agreed += 1;
    for f in ["SPDXJSONExample-wrongversion.spdx.json", "SPDXWrongVersion.spdx.json"] {
        let v = validate_file(&dir.join(f)).unwrap();
        assert!(!v.is_valid(), "{f} must be invalid");
        agreed += 1;
    }
    let mut unsupported = 0;
    for f in [
        "SPDXRdfExample-v2.3.spdx.rdf",
        "SPDXXMLExample-v2.3.spdx.xml",
        "SPDXYAMLExample-2.3.spdx.yaml",
        "SPDXSpreadsheetExample-v2.3.xls",
        "SPDXSpreadsheetExample-v2.3.xlsx",
    ] {
        let e = validate_file(&dir.join(f)).expect_err(f).to_string();
        assert!(e.contains("is not supported") && e.contains("SPDX"), "{f}: {e}");
        unsupported += 1;
    }
    println!("spdx-tools-java: {agreed}/{agreed} agreed; {unsupported} other serialisations refused by name");
}

/// spdx/spdx-examples CI: every SPDX 2.2/2.3/3.0 document is valid; each
/// also reads into the model with at least one package.
#[test]
fn spdx_examples_are_valid_and_readable() {
    let root = support::corpus("spdx-examples");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let dir = p.parent().unwrap().file_name().unwrap().to_string_lossy().to_string();
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                // Documents live in spdx2.2/, spdx2.3/, spdx3.0/; `shas` and `*.sha256` are checksum files.
                if (dir.starts_with("spdx2") || dir.starts_with("spdx3")) && !name.contains("sha") {
                    files.push(p);
                }
            }
        }
    }
    files.sort();
    let mut bad = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        match portcullis::sbom::validate(&bytes) {
            Ok(v) if v.is_valid() => {}
            Ok(v) => bad.push(format!("{}: {:?}", f.display(), v.violations)),
            Err(e) => bad.push(format!("{}: {e}", f.display())),
        }
        // Every package of the document is in the model.
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let packages = match doc.get("@graph").and_then(|g| g.as_array()) {
            Some(graph) => graph.iter().filter(|e| e["type"].as_str().is_some_and(|t| t.ends_with("Package"))).count(),
            None => doc["packages"].as_array().map_or(0, Vec::len),
        };
        match portcullis::sbom::parse(&bytes) {
            Ok(m) if doc.is_null() || m.components.len() + m.subjects.len() == packages => {}
            Ok(m) => bad.push(format!(
                "{}: {packages} packages, model has {}",
                f.display(),
                m.components.len() + m.subjects.len()
            )),
            Err(e) => bad.push(format!("{}: model: {e}", f.display())),
        }
    }
    println!("spdx-examples: {}/{} valid and readable", files.len() - bad.len(), files.len());
    assert_eq!(files.len(), 48);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Every valid CycloneDX vector of 1.3 and later reads into the model —
/// 1.6 and 1.7 through the lowering to what cyclonedx-bom reads.
#[test]
fn valid_cyclonedx_vectors_read_into_the_model() {
    let root = support::corpus("cyclonedx-specification");
    let vectors: Vec<CdxVector> = serde_json::from_slice(&std::fs::read(root.join("expected.json")).unwrap()).unwrap();
    let (mut read, mut total) = (0, 0);
    let mut bad = Vec::new();
    for v in &vectors {
        if v.expected.as_deref() != Some("valid") || !(v.format == "json" || v.format == "xml") {
            continue;
        }
        if matches!(v.spec_version.as_str(), "1.0" | "1.1" | "ext") {
            continue;
        }
        total += 1;
        match portcullis::sbom::parse(&std::fs::read(root.join(&v.file)).unwrap()) {
            Ok(_) => read += 1,
            Err(e) => bad.push(format!("{}: {e}", v.file)),
        }
    }
    println!("valid CycloneDX 1.2-1.7 vectors read into the model: {read}/{total}");
    for b in &bad {
        println!("  not read: {b}");
    }
    assert!(bad.is_empty());
}

/// Hostile SBOMs: inputs that make spdx-rs panic, deep nesting, huge files,
/// XML external entities. Each is a clear error; nothing panics.
#[test]
fn hostile_sboms_are_errors_not_panics() {
    use portcullis::sbom::{parse, validate};
    let head = "SPDXVersion: SPDX-2.2\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: x\n\
                DocumentNamespace: https://example.invalid/x\nCreator: Tool: t\nCreated: 2020-01-01T00:00:00Z\n";
    // Each of these makes spdx-rs 0.5.5's tag-value parser panic (unwrap on a licence expression).
    for tag in [
        "PackageLicenseConcluded",
        "PackageLicenseDeclared",
        "LicenseConcluded",
        "LicenseInfoInFile",
        "SnippetLicenseConcluded",
    ] {
        for value in ["(((", "MIT AND", "AND OR", ")"] {
            let doc = format!(
                "{head}PackageName: p\nSPDXID: SPDXRef-p\nPackageDownloadLocation: NONE\nFileName: f\nSPDXID: SPDXRef-f\nSnippetSPDXID: SPDXRef-s\n{tag}: {value}\n"
            );
            // Unguarded, spdx-rs panics on exactly this document.
            let unguarded = std::panic::catch_unwind(|| spdx_rs::parsers::spdx_from_tag_value(&doc));
            assert!(unguarded.is_err(), "{tag}: {value}: spdx-rs no longer panics here");
            let e = parse(doc.as_bytes()).expect_err(&doc).to_string();
            assert!(e.contains(tag) && e.starts_with("line "), "{tag}: {e}");
            let v = validate(doc.as_bytes()).unwrap();
            assert!(!v.is_valid(), "{tag}={value} must be invalid");
        }
    }
    // Truncated and garbage tag-value.
    for doc in [
        format!("{head}PackageName: p\nPackageComment: <text>never closed\n"),
        "SPDXVersion: SPDX-2.3\n\u{0}\u{1}:::\n".into(),
    ] {
        assert!(parse(doc.as_bytes()).is_err() || validate(doc.as_bytes()).is_ok_and(|v| !v.is_valid()), "{doc}");
    }
    // 100,000-deep JSON: refused before any parser descends (see nesting.rs).
    let deep = format!(
        "{{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.6\",\"components\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let e = parse(deep.as_bytes()).expect_err("deep").to_string();
    assert!(e.contains("nested more than 32 levels deep"), "{e}");
    assert!(validate(deep.as_bytes()).is_err());
    // XML external entities are never resolved (no file read, no network).
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY x SYSTEM "file:///etc/passwd">]><bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1"><components><component type="library"><name>&x;</name></component></components></bom>"#;
    if let Ok(m) = parse(xxe.as_bytes()) {
        assert!(m.components.iter().all(|c| !c.name.contains("root:")), "XXE resolved: {m:?}");
    }
    if let Ok(v) = validate(xxe.as_bytes()) {
        assert!(v.violations.iter().all(|x| !x.message.contains("root:")));
    }
    // Billion laughs.
    let mut lol = String::from(r#"<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY l0 "lol">"#);
    for i in 1..10 {
        lol += &format!("<!ENTITY l{i} \"{}\">", format!("&l{};", i - 1).repeat(10));
    }
    lol += r#"]><bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1"><components><component type="library"><name>&l9;</name></component></components></bom>"#;
    let _ = parse(lol.as_bytes());
    let _ = validate(lol.as_bytes());
}

/// A 100 MB SBOM is refused by size before it is read; the limit is adjustable.
#[test]
fn huge_sbom_is_refused_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.cdx.json");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(100 << 20).unwrap();
    let e = portcullis::sbom::read_file(&path, portcullis::sbom::DEFAULT_MAX_BYTES).unwrap_err().to_string();
    assert!(e.contains("104857600 bytes") && e.contains("size limit"), "{e}");
    let run = support::portcullis(["sbom", "validate", path.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--max-sbom-bytes"), "{}", run.stderr);
}

/// `sbom validate` exit codes and `sbom show --format json`.
#[test]
fn sbom_cli_exit_codes_and_model() {
    let spdx = support::corpus("spdx-tools-java/testResources");
    let ok = support::portcullis(["sbom", "validate", spdx.join("SPDXJSONExample-v2.3.spdx.json").to_str().unwrap()]);
    assert_eq!(ok.code, 0, "{}", ok.stdout);
    let bad = support::portcullis(["sbom", "validate", spdx.join("BadJSON.spdx.json").to_str().unwrap()]);
    assert_eq!(bad.code, 1);
    assert!(bad.stdout.contains("error at /packages/0/filesAnalyzed"), "{}", bad.stdout);
    let unreadable = support::portcullis(["sbom", "validate", "/etc/passwd"]);
    assert_eq!(unreadable.code, 2);
    assert!(unreadable.stderr.contains("not a recognised SBOM"), "{}", unreadable.stderr);
    let sbom = support::image("sbom/go-dynamic-root.cdx.json");
    let show = support::portcullis(["sbom", "show", "--format", "json", sbom.to_str().unwrap()]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let m = show.json();
    assert_eq!(m["format"], "cyclonedx-json");
    assert_eq!(m["spec_version"], "1.6");
    assert_eq!(m["subjects"][0]["version"], "sha256:68580c64ec9da5e449e2e941bdf484ae86eace6e027fe7f1acbf9b9b5f949947");
    assert_eq!(m["tools"][0]["name"], "syft");
    let comps = m["components"].as_array().unwrap();
    assert_eq!(comps.len(), 92);
    let libc = comps.iter().find(|c| c["name"] == "libc6").expect("libc6");
    assert!(libc["purl"].as_str().unwrap().starts_with("pkg:deb/debian/libc6@"), "{libc}");
}

/// The syft SBOMs of the shared images: valid, and both formats of one
/// image describe the same digest and the same packages.
#[test]
fn shared_image_sboms_parse_and_agree_across_formats() {
    for image in [
        "go-static-good",
        "go-dynamic-root",
        "go-legacy-debug",
        "go-static-multiarch.linux-amd64",
        "go-static-multiarch.linux-arm64",
    ] {
        let read = |ext: &str| std::fs::read(support::image(&format!("sbom/{image}.{ext}.json"))).unwrap();
        let (cdx, spdx) = (read("cdx"), read("spdx"));
        for bytes in [&cdx, &spdx] {
            let v = portcullis::sbom::validate(bytes).unwrap();
            assert!(v.is_valid(), "{image}: {:?}", v.violations);
        }
        let (c, s) = (portcullis::sbom::parse(&cdx).unwrap(), portcullis::sbom::parse(&spdx).unwrap());
        assert_eq!(c.subjects[0].digests(), s.subjects[0].digests(), "{image}");
        let purls = |m: &portcullis::sbom::Sbom| {
            let mut p: Vec<String> =
                m.components.iter().filter_map(|c| c.purl.clone()).filter(|p| !p.starts_with("pkg:oci")).collect();
            p.sort();
            p
        };
        assert_eq!(purls(&c), purls(&s), "{image}");
    }
}

/// Runs the supply-chain pack (with `rules` TOML appended) on a shared image
/// with the given SBOM documents supplied; returns rule → (outcome, message).
fn sbom_rules(
    image: &str,
    rules: &str,
    sboms: &[(&str, serde_json::Value)],
) -> std::collections::BTreeMap<String, (String, String)> {
    let base = std::fs::read_to_string(support::workspace().join("policies/supply-chain.toml")).unwrap();
    // Later tables win: strip the pack's rule tables that `rules` redefines.
    let mut text = String::new();
    let mut skip = false;
    for line in base.lines() {
        if line.starts_with("[rules.") {
            let id = line.split(']').next().unwrap().trim_start_matches("[rules.");
            skip = rules.contains(&format!("[rules.{id}]"));
        }
        if !skip {
            text.push_str(line);
            text.push('\n');
        }
    }
    text.push_str(rules);
    let policy = portcullis::Policy::parse("test.toml", &text, None).unwrap_or_else(|e| panic!("{}", e.render(false)));
    let engine = support::engine_with(policy);
    let mut input = support::open(&support::image(image));
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, doc) in sboms {
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_vec(doc).unwrap()).unwrap();
        paths.push(p);
    }
    input.supply_sboms(&portcullis::sbom::Attached::from_files(&paths, portcullis::sbom::DEFAULT_MAX_BYTES));
    let report = engine.audit(&input);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for f in json["subjects"][0]["findings"].as_array().unwrap() {
        out.insert(
            f["rule"].as_str().unwrap().to_string(),
            (f["outcome"].as_str().unwrap().to_string(), f["message"].as_str().unwrap().to_string()),
        );
    }
    out
}

fn shared_sbom(name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(support::image(&format!("sbom/{name}"))).unwrap()).unwrap()
}

#[test]
fn sbom_of_another_image_does_not_count() {
    let r = sbom_rules("oci/go-static-good", "", &[("other.cdx.json", shared_sbom("go-dynamic-root.cdx.json"))]);
    let (outcome, message) = &r["SC-SBOM-001"];
    assert_eq!(outcome, "fail");
    assert!(message.contains("describes sha256:68580c64ec9d"), "{message}");
    assert_eq!(r["SC-SBOM-002"].0, "skip");
}

#[test]
fn unreadable_sbom_is_named_in_the_failure() {
    let r = sbom_rules("oci/go-static-good", "", &[("broken.cdx.json", serde_json::json!({"bomFormat": "CycloneDX"}))]);
    let (outcome, message) = &r["SC-SBOM-001"];
    assert_eq!(outcome, "fail");
    assert!(message.contains("broken.cdx.json could not be read"), "{message}");
}

#[test]
fn inconsistent_sbom_lists_missing_and_extra_components() {
    let mut doc = shared_sbom("go-dynamic-root.cdx.json");
    let comps = doc["components"].as_array_mut().unwrap();
    let before = comps.len();
    comps.retain(|c| c["name"] != "libc6" && c["name"] != "bash");
    assert_eq!(comps.len(), before - 2);
    comps.push(serde_json::json!({"type": "library", "name": "curl", "version": "7.88.1-10", "purl": "pkg:deb/debian/curl@7.88.1-10?arch=amd64"}));
    let r = sbom_rules("oci/go-dynamic-root", "", &[("edited.cdx.json", doc)]);
    let (outcome, message) = &r["SC-SBOM-002"];
    assert_eq!(outcome, "fail");
    assert!(message.contains("2 in the image but not in the SBOM") && message.contains("deb libc6@"), "{message}");
    assert!(message.contains("deb bash@"), "{message}");
    assert!(message.contains("1 in the SBOM but not in the image: deb curl@7.88.1-10"), "{message}");
    // Extras can be tolerated.
    let mut doc = shared_sbom("go-dynamic-root.cdx.json");
    doc["components"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "library", "name": "curl", "version": "1", "purl": "pkg:deb/debian/curl@1"}));
    let r = sbom_rules(
        "oci/go-dynamic-root",
        "[rules.SC-SBOM-002]\nparams = { check_extra = false }\n",
        &[("x.cdx.json", doc)],
    );
    assert_eq!(r["SC-SBOM-002"].0, "pass", "{}", r["SC-SBOM-002"].1);
}

#[test]
fn licence_lists_use_spdx_expression_semantics() {
    let sbom = [("s.spdx.json", shared_sbom("go-dynamic-root.spdx.json"))];
    // Everything Debian ships under GPL-2.0-only is denied...
    let r = sbom_rules("oci/go-dynamic-root", "[rules.SC-SBOM-003]\nparams = { deny = [\"GPL-2.0-only\"] }\n", &sbom);
    let (outcome, message) = &r["SC-SBOM-003"];
    assert_eq!(outcome, "fail");
    assert!(message.contains("adduser@3.134") && message.contains("requires a denied licence"), "{message}");
    // ...but `A OR B` passes a deny list naming only A.
    let mut doc = shared_sbom("go-static-good.cdx.json");
    doc["components"][0]["licenses"] = serde_json::json!([{"expression": "GPL-3.0-only OR MIT"}]);
    let r = sbom_rules(
        "oci/go-static-good",
        "[rules.SC-SBOM-003]\nparams = { deny = [\"GPL-3.0-only\"] }\n",
        &[("s.cdx.json", doc.clone())],
    );
    assert_eq!(r["SC-SBOM-003"].0, "pass", "{}", r["SC-SBOM-003"].1);
    // An allow list of MIT alone: BSD-3-Clause (Go's stdlib) cannot be satisfied.
    let r = sbom_rules(
        "oci/go-static-good",
        "[rules.SC-SBOM-003]\nparams = { allow = [\"MIT\"] }\n",
        &[("s.cdx.json", doc.clone())],
    );
    assert_eq!(r["SC-SBOM-003"].0, "fail");
    assert!(
        r["SC-SBOM-003"].1.contains("stdlib@go1.27.3") && !r["SC-SBOM-003"].1.contains("example.com/hello"),
        "{}",
        r["SC-SBOM-003"].1
    );
    let r = sbom_rules(
        "oci/go-static-good",
        "[rules.SC-SBOM-003]\nparams = { allow = [\"MIT\", \"BSD-3-Clause\"] }\n",
        &[("s.cdx.json", doc)],
    );
    assert_eq!(r["SC-SBOM-003"].0, "pass", "{}", r["SC-SBOM-003"].1);
}

#[test]
fn component_deny_list_orders_versions_per_ecosystem() {
    let sbom = [("s.cdx.json", shared_sbom("go-dynamic-root.cdx.json"))];
    let libc = shared_sbom("go-dynamic-root.cdx.json")["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "libc6")
        .unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string();
    // Debian order: 2.36-9+deb12uN is below 2.36-10 and above 2.36-9 (text order agrees here,
    // but `~` sorts before everything, which text order gets wrong).
    let deny = |range: &str| format!("[rules.SC-SBOM-004]\nparams = {{ deny = [\"pkg:deb/debian/libc6@{range}\"] }}\n");
    let r = sbom_rules("oci/go-dynamic-root", &deny("<2.36-10"), &sbom);
    assert_eq!(r["SC-SBOM-004"].0, "fail", "{libc}: {}", r["SC-SBOM-004"].1);
    assert!(r["SC-SBOM-004"].1.contains(&format!("libc6 {libc}")), "{}", r["SC-SBOM-004"].1);
    let r = sbom_rules("oci/go-dynamic-root", &deny("<2.36~"), &sbom);
    assert_eq!(r["SC-SBOM-004"].0, "pass", "{}", r["SC-SBOM-004"].1);
    // Go modules in semver order: v1.0.0 is not below v0.23.0 although "1" > "0" textually agrees; v0.9 < v0.23 does not.
    let go = [("s.cdx.json", shared_sbom("go-static-good.cdx.json"))];
    let r = sbom_rules(
        "oci/go-static-good",
        "[rules.SC-SBOM-004]\nparams = { deny = [\"pkg:golang/example.com/hello@>=v0.9.0, <v1.10.0\"] }\n",
        &go,
    );
    assert_eq!(r["SC-SBOM-004"].0, "fail", "{}", r["SC-SBOM-004"].1);
    // A malformed entry refuses the policy when it loads (policy::semantic_errors_point_at_their_lines).
}

/// Writes a blob into an OCI layout and returns its descriptor.
fn put_blob(layout: &std::path::Path, media_type: &str, bytes: &[u8]) -> serde_json::Value {
    use sha2::Digest as _;
    let hex = hex::encode(sha2::Sha256::digest(bytes));
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).unwrap();
    serde_json::json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len()})
}

fn add_to_index(layout: &std::path::Path, entry: serde_json::Value) {
    let path = layout.join("index.json");
    let mut index: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    index["manifests"].as_array_mut().unwrap().push(entry);
    std::fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
}

/// SBOMs attached inside an OCI layout are found: an OCI 1.1 referrer
/// artifact (CycloneDX) and a cosign `.att` attestation (DSSE envelope,
/// in-toto statement, SPDX predicate). A tampered attachment is named.
#[test]
fn attached_sboms_are_discovered_in_layouts() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("img");
    support::copy_dir(&support::image("oci/go-static-good"), &layout);
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let image = index["manifests"][0].clone();
    let image_digest = image["digest"].as_str().unwrap().to_string();
    // The SBOM rules alone (the supply-chain pack also requires signatures).
    let policy = dir.path().join("sbom-only.toml");
    std::fs::write(
        &policy,
        "[policy]\nname = \"sbom-only\"\nversion = \"1\"\nenforcement = \"enforce\"\nfailure-policy = \"deny\"\n\n[plugins.sbom]\n\n[rules.SC-SBOM-002]\nenforcement = \"warn\"\n",
    )
    .unwrap();
    let audit = |layout: &std::path::Path| {
        let run = support::portcullis([
            "audit",
            "--format",
            "json",
            "--policy",
            policy.to_str().unwrap(),
            layout.to_str().unwrap(),
        ]);
        let report = run.json();
        let f = |rule: &str| {
            report["subjects"][0]["findings"].as_array().unwrap().iter().find(|f| f["rule"] == rule).unwrap().clone()
        };
        (run.code, f("SC-SBOM-001"), f("SC-SBOM-002"))
    };
    let (code, f1, _) = audit(&layout);
    assert_eq!((code, f1["outcome"].as_str()), (1, Some("fail")));

    // 1. OCI 1.1 referrer carrying the CycloneDX SBOM.
    let cdx = std::fs::read(support::image("sbom/go-static-good.cdx.json")).unwrap();
    let empty = put_blob(&layout, "application/vnd.oci.empty.v1+json", b"{}");
    let layer = put_blob(&layout, "application/vnd.cyclonedx+json", &cdx);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.cyclonedx+json",
        "config": empty,
        "layers": [layer],
        "subject": image,
    });
    let m = put_blob(&layout, "application/vnd.oci.image.manifest.v1+json", &serde_json::to_vec(&manifest).unwrap());
    add_to_index(&layout, m.clone());
    let (code, f1, f2) = audit(&layout);
    assert_eq!(code, 0, "{f1} {f2}");
    assert_eq!(f1["outcome"], "pass");
    assert!(f1["message"].as_str().unwrap().contains(&format!("referrer:{}", m["digest"].as_str().unwrap())), "{f1}");
    assert_eq!(f2["outcome"], "pass", "{f2}");

    // 2. A cosign attestation tag with an SPDX predicate instead.
    let fresh = dir.path().join("att");
    support::copy_dir(&support::image("oci/go-static-good"), &fresh);
    let spdx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(support::image("sbom/go-static-good.spdx.json")).unwrap()).unwrap();
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://spdx.dev/Document",
        "subject": [{"name": "go-static-good", "digest": {"sha256": image_digest.trim_start_matches("sha256:")}}],
        "predicate": spdx,
    });
    let envelope = serde_json::json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&statement).unwrap()),
        "signatures": [{"keyid": "", "sig": "MEUCIQ=="}],
    });
    let empty = put_blob(&fresh, "application/vnd.oci.empty.v1+json", b"{}");
    let layer = put_blob(&fresh, "application/vnd.dsse.envelope.v1+json", &serde_json::to_vec(&envelope).unwrap());
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": empty, "layers": [layer]});
    let mut m = put_blob(&fresh, "application/vnd.oci.image.manifest.v1+json", &serde_json::to_vec(&manifest).unwrap());
    m["annotations"] =
        serde_json::json!({"org.opencontainers.image.ref.name": format!("{}.att", image_digest.replace(':', "-"))});
    add_to_index(&fresh, m);
    let (code, f1, f2) = audit(&fresh);
    assert_eq!(code, 0, "{f1} {f2}");
    assert!(
        f1["message"].as_str().unwrap().contains("cosign-tag:")
            && f1["message"].as_str().unwrap().contains("spdx-json 2.3"),
        "{f1}"
    );
    assert_eq!(f2["outcome"], "pass", "{f2}");

    // 3. Tampering with the attached SBOM is caught and named.
    let hex = layer["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let blob = fresh.join("blobs/sha256").join(&hex);
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&blob, bytes).unwrap();
    let (code, f1, _) = audit(&fresh);
    assert_eq!(code, 1);
    assert!(
        f1["message"].as_str().unwrap().contains("could not be read")
            && f1["message"].as_str().unwrap().contains(&hex[..12]),
        "{f1}"
    );
}

/// A docker archive has no manifest digest: an SBOM of the registry/layout
/// image does not describe it, and the failure says why.
#[test]
fn docker_archive_with_layout_sbom_fails_closed_with_a_hint() {
    let run = support::portcullis([
        "audit",
        "--policy",
        support::workspace().join("policies/supply-chain.toml").to_str().unwrap(),
        "--sbom",
        support::image("sbom/go-static-good.cdx.json").to_str().unwrap(),
        support::image("docker-archive/go-static-good.tar").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("`docker save` archive is known by its image ID"), "{}", run.stdout);
}

/// Violations name the place and the check, like the reference validators:
/// `date-time` format, `pattern`, `enum`, with JSON pointers; XSD with lines.
#[test]
fn violations_point_at_the_offending_value() {
    let dir = support::corpus("cyclonedx-specification/tools/src/test/resources/1.6");
    let first = |f: &str| {
        let v = validate_file(&dir.join(f)).unwrap();
        let e = v.errors().next().unwrap_or_else(|| panic!("{f}: no error")).clone();
        (e.location, e.message)
    };
    let (at, msg) = first("invalid-metadata-timestamp-1.6.json");
    assert_eq!(at, "/metadata/timestamp");
    assert!(msg.contains("date-time"), "{msg}");
    let (at, msg) = first("invalid-serialnumber-1.6.json");
    assert_eq!(at, "/serialNumber");
    assert!(msg.contains("does not match"), "{msg}");
    let (at, msg) = first("invalid-component-type-1.6.json");
    assert_eq!(at, "/components/0/type");
    assert!(msg.contains("is not one of"), "{msg}");
    let (at, msg) = first("invalid-component-type-1.6.xml");
    assert!(at.starts_with("line "), "{at}");
    assert!(msg.contains("type"), "{msg}");
}

// ------------------------------------------------------------------------
// What an SBOM declares, compared by meaning. Images and SBOMs here are
// built by the tests (support::built), so each case says exactly what the
// image holds and what the document claims.

use support::built::{self, deb};

type Findings = std::collections::BTreeMap<String, (String, String)>;

/// Audits a built layout with the SBOM plugin alone (`rules` appended to the
/// policy) and `sboms` supplied as files: per image digest, rule → (outcome,
/// message).
fn judge(
    layout: &std::path::Path,
    rules: &str,
    sboms: &[(&str, serde_json::Value)],
) -> std::collections::BTreeMap<String, Findings> {
    let text = format!(
        "[policy]\nname = \"sbom-only\"\nversion = \"1\"\nenforcement = \"enforce\"\nfailure-policy = \"deny\"\n\n[plugins.sbom]\n\n{rules}"
    );
    let policy = portcullis::Policy::parse("test.toml", &text, None).unwrap_or_else(|e| panic!("{}", e.render(false)));
    let engine = support::engine_with(policy);
    let mut input = support::open(layout);
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<std::path::PathBuf> = sboms
        .iter()
        .map(|(name, doc)| {
            let p = dir.path().join(name);
            std::fs::write(&p, serde_json::to_vec(doc).unwrap()).unwrap();
            p
        })
        .collect();
    input.supply_sboms(&portcullis::sbom::Attached::from_files(&paths, portcullis::sbom::DEFAULT_MAX_BYTES));
    let json: serde_json::Value = serde_json::from_str(&engine.audit(&input).to_json()).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for s in json["subjects"].as_array().unwrap().iter().filter(|s| s["kind"] == "image") {
        let findings = s["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
                (text("rule"), (text("outcome"), text("message")))
            })
            .collect();
        out.insert(s["digest"].as_str().unwrap().to_string(), findings);
    }
    out
}

/// The findings of a single-image layout.
fn judge_one(layout: &built::Layout, rules: &str, sboms: &[(&str, serde_json::Value)]) -> Findings {
    let mut all = judge(&layout.root, rules, sboms);
    all.remove(&layout.platforms[0].manifest).expect("the image's findings")
}

fn cdx(subject: serde_json::Value, components: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"component": subject},
        "components": components,
    })
}

fn container(digest: &str) -> serde_json::Value {
    serde_json::json!({"type": "container", "bom-ref": "image", "name": "built", "version": digest})
}

/// A Debian library component as syft writes it.
fn lib(name: &str, version: &str) -> serde_json::Value {
    let v = version.replace('+', "%2B");
    serde_json::json!({
        "type": "library", "bom-ref": format!("{name}-{version}"), "name": name, "version": version,
        "purl": format!("pkg:deb/debian/{name}@{v}?arch=amd64&distro=debian-12"),
    })
}

fn deny(entries: &[&str]) -> String {
    let list: Vec<String> = entries.iter().map(|e| format!("{e:?}")).collect();
    format!("[rules.SC-SBOM-004]\nparams = {{ deny = [{}] }}\n", list.join(", "))
}

fn outcome<'a>(f: &'a Findings, rule: &str) -> (&'a str, &'a str) {
    let (o, m) = f.get(rule).unwrap_or_else(|| panic!("no {rule} finding in {f:?}"));
    (o.as_str(), m.as_str())
}

const THREE: [built::Deb<'static>; 3] =
    [deb("libfoo", "1.0-1", None), deb("libbar", "2.0-1", None), deb("libbaz", "3.0-1", None)];

/// CycloneDX nests components: under `metadata.component` (what the SBOM
/// describes) and under other components. Every level reaches the rules.
#[test]
fn cyclonedx_components_at_every_level_reach_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let image = built::debian_layout(dir.path(), "img", &THREE, &["linux/amd64"]);
    let mut subject = container(&image.platforms[0].manifest);
    subject["licenses"] = serde_json::json!([{"license": {"id": "AGPL-3.0-only"}}]);
    let mut foo = lib("libfoo", "1.0-1");
    foo["licenses"] = serde_json::json!([{"license": {"id": "GPL-3.0-only"}}]);
    subject["components"] = serde_json::json!([foo]);
    let mut bar = lib("libbar", "2.0-1");
    bar["components"] = serde_json::json!([lib("libbaz", "3.0-1")]);
    let doc = cdx(subject, serde_json::json!([bar]));
    let sbom = [("nested.cdx.json", doc)];

    let f = judge_one(&image, "", &sbom);
    assert_eq!(outcome(&f, "SC-SBOM-001").0, "pass", "{f:?}");
    assert_eq!(
        outcome(&f, "SC-SBOM-002"),
        ("pass", outcome(&f, "SC-SBOM-002").1),
        "libfoo is in the SBOM, under metadata.component"
    );

    let f = judge_one(&image, &deny(&["pkg:deb/debian/libfoo", "pkg:deb/debian/libbaz@>=3"]), &sbom);
    let (o, m) = outcome(&f, "SC-SBOM-004");
    assert_eq!(o, "fail", "{m}");
    assert!(m.contains("libfoo 1.0-1") && m.contains("libbaz 3.0-1"), "{m}");

    let f =
        judge_one(&image, "[rules.SC-SBOM-003]\nparams = { deny = [\"GPL-3.0-only\", \"AGPL-3.0-only\"] }\n", &sbom);
    let (o, m) = outcome(&f, "SC-SBOM-003");
    assert_eq!(o, "fail", "{m}");
    assert!(m.starts_with("2 component(s)") && m.contains("libfoo@1.0-1") && m.contains("built@sha256:"), "{m}");
}

fn spdx_package(id: &str, name: &str, version: &str, purl: &str, licence: &str) -> serde_json::Value {
    serde_json::json!({
        "SPDXID": id, "name": name, "versionInfo": version, "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false, "licenseConcluded": licence, "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}],
    })
}

fn spdx_doc(describes: &[&str], packages: Vec<serde_json::Value>) -> serde_json::Value {
    let relationships: Vec<serde_json::Value> = describes
        .iter()
        .map(|d| serde_json::json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": d}))
        .collect();
    serde_json::json!({
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": "built",
        "documentNamespace": "https://example.invalid/built",
        "creationInfo": {"created": "2024-01-01T00:00:00Z", "creators": ["Tool: test"]},
        "packages": packages, "relationships": relationships,
    })
}

fn spdx_image(digest: &str, purl: &str) -> serde_json::Value {
    let mut p = spdx_package("SPDXRef-image", "built", digest, purl, "NOASSERTION");
    p["checksums"] =
        serde_json::json!([{"algorithm": "SHA256", "checksumValue": digest.trim_start_matches("sha256:")}]);
    p["primaryPackagePurpose"] = "CONTAINER".into();
    p
}

/// Every package of an SPDX document reaches the rules, the ones it
/// DESCRIBES included.
#[test]
fn every_package_an_spdx_document_describes_reaches_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let image = built::debian_layout(dir.path(), "img", &THREE, &["linux/amd64"]);
    let digest = &image.platforms[0].manifest;
    let doc = spdx_doc(
        &["SPDXRef-image", "SPDXRef-foo"],
        vec![
            spdx_image(digest, &format!("pkg:oci/built@{}", digest.replace(':', "%3A"))),
            spdx_package("SPDXRef-foo", "libfoo", "1.0-1", "pkg:deb/debian/libfoo@1.0-1?arch=amd64", "GPL-3.0-only"),
            spdx_package("SPDXRef-bar", "libbar", "2.0-1", "pkg:deb/debian/libbar@2.0-1?arch=amd64", "MIT"),
            spdx_package("SPDXRef-baz", "libbaz", "3.0-1", "pkg:deb/debian/libbaz@3.0-1?arch=amd64", "MIT"),
        ],
    );
    let sbom = [("described.spdx.json", doc)];
    let f = judge_one(&image, "[rules.SC-SBOM-003]\nparams = { deny = [\"GPL-3.0-only\"] }\n", &sbom);
    assert_eq!(outcome(&f, "SC-SBOM-001").0, "pass", "{f:?}");
    assert_eq!(outcome(&f, "SC-SBOM-002").0, "pass", "{:?}", outcome(&f, "SC-SBOM-002"));
    let (o, m) = outcome(&f, "SC-SBOM-003");
    assert!(o == "fail" && m.contains("libfoo@1.0-1"), "{o}: {m}");
    let f = judge_one(&image, &deny(&["pkg:deb/debian/libfoo"]), &sbom);
    assert_eq!(outcome(&f, "SC-SBOM-004").0, "fail", "{:?}", outcome(&f, "SC-SBOM-004"));
}

/// SPDX 3 describes through its `software_Sbom` element: the document's
/// root is the SBOM, whose root is the image package.
#[test]
fn spdx3_describes_through_its_sbom_element() {
    let dir = tempfile::tempdir().unwrap();
    let image = built::debian_layout(dir.path(), "img", &THREE, &["linux/amd64"]);
    let hex = image.platforms[0].manifest.trim_start_matches("sha256:").to_string();
    let doc = serde_json::json!({
        "@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
        "@graph": [
            {"type": "CreationInfo", "@id": "_:ci", "specVersion": "3.0.1", "created": "2024-01-01T00:00:00Z", "createdBy": ["urn:tool"]},
            {"type": "SpdxDocument", "spdxId": "urn:doc", "creationInfo": "_:ci", "rootElement": ["urn:sbom"]},
            {"type": "software_Sbom", "spdxId": "urn:sbom", "creationInfo": "_:ci", "rootElement": ["urn:image"], "element": ["urn:image", "urn:foo"]},
            {"type": "software_Package", "spdxId": "urn:image", "creationInfo": "_:ci", "name": "built",
             "software_primaryPurpose": "container",
             "verifiedUsing": [{"type": "Hash", "algorithm": "sha256", "hashValue": hex}]},
            {"type": "software_Package", "spdxId": "urn:foo", "creationInfo": "_:ci", "name": "libfoo",
             "software_packageVersion": "1.0-1", "software_packageUrl": "pkg:deb/debian/libfoo@1.0-1?arch=amd64"},
        ],
    });
    let f = judge_one(&image, "", &[("sbom.spdx3.json", doc)]);
    let (o, m) = outcome(&f, "SC-SBOM-001");
    assert_eq!(o, "pass", "{m}");
}

/// A deny-list entry names a source package too: syft writes the source as
/// the `upstream` qualifier (`name` or `name@version` when the binary's
/// version differs, as for binNMUs), and `openssl` catches `libssl3`.
#[test]
fn deny_list_entries_match_source_packages() {
    let dir = tempfile::tempdir().unwrap();
    let packages =
        [deb("libssl3", "3.0.11-1~deb12u2", Some("openssl")), deb("libfoo1", "1.2-3+b1", Some("foo (1.2-3)"))];
    let image = built::debian_layout(dir.path(), "img", &packages, &["linux/amd64"]);
    let mut ssl = lib("libssl3", "3.0.11-1~deb12u2");
    ssl["purl"] = "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=openssl&distro=debian-12".into();
    let mut foo = lib("libfoo1", "1.2-3+b1");
    foo["purl"] = "pkg:deb/debian/libfoo1@1.2-3%2Bb1?arch=amd64&distro=debian-12&upstream=foo%401.2-3".into();
    let sbom = [("s.cdx.json", cdx(container(&image.platforms[0].manifest), serde_json::json!([ssl, foo])))];
    assert_eq!(outcome(&judge_one(&image, "", &sbom), "SC-SBOM-002").0, "pass");
    // SC-SBOM-002: when both sides name the source package, they must agree.
    let mut other = sbom[0].1.clone();
    other["components"][0]["purl"] = "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=libressl".into();
    let f = judge_one(&image, "", &[("o.cdx.json", other)]);
    let (o, m) = outcome(&f, "SC-SBOM-002");
    assert!(o == "fail" && m.contains("libssl3") && m.contains("libressl"), "{o}: {m}");

    let f = judge_one(&image, &deny(&["pkg:deb/debian/openssl@>=3.0.0, <3.0.14"]), &sbom);
    let (o, m) = outcome(&f, "SC-SBOM-004");
    assert_eq!(o, "fail", "{m}");
    assert!(m.contains("libssl3 3.0.11-1~deb12u2") && m.contains("openssl"), "{m}");
    // The source's own version decides: 1.2-3 is denied, the binNMU's 1.2-3+b1 would not be.
    let f = judge_one(&image, &deny(&["pkg:deb/debian/foo@<=1.2-3"]), &sbom);
    let (o, m) = outcome(&f, "SC-SBOM-004");
    assert!(o == "fail" && m.contains("libfoo1"), "{o}: {m}");
    // A binary name still matches only that binary.
    let f = judge_one(&image, &deny(&["pkg:deb/debian/openssl-provider-legacy"]), &sbom);
    assert_eq!(outcome(&f, "SC-SBOM-004").0, "pass");
}

/// Package URLs compare by meaning: the type, and for Debian the namespace
/// and name, are case-insensitive; percent-encoding and qualifier order do
/// not matter; an empty qualifier is an absent one.
#[test]
fn purls_compare_by_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let packages =
        [deb("libfoo", "1.0-1", None), deb("libstdc++6", "12.2.0-14", None), deb("libbar", "1.0+dfsg-1", None)];
    let image = built::debian_layout(dir.path(), "img", &packages, &["linux/amd64"]);
    let mut foo = lib("libfoo", "1.0-1");
    foo["purl"] = "pkg:DEB/Debian/LIBFOO@1.0-1?distro=debian-12&Arch=amd64".into();
    let mut cxx = lib("libstdc++6", "12.2.0-14");
    cxx["purl"] = "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&upstream=".into();
    let mut bar = lib("libbar", "1.0+dfsg-1");
    bar["purl"] = "pkg:deb/debian/libbar@1.0%2Bdfsg-1?distro=debian-12&arch=amd64".into();
    let sbom = [("s.cdx.json", cdx(container(&image.platforms[0].manifest), serde_json::json!([foo, cxx, bar])))];
    let f = judge_one(&image, "", &sbom);
    assert_eq!(outcome(&f, "SC-SBOM-002").0, "pass", "{:?}", outcome(&f, "SC-SBOM-002"));

    // Qualifiers in a deny-list entry must all hold, in any order.
    let f = judge_one(&image, &deny(&["pkg:deb/DEBIAN/libbar@<2?arch=amd64&distro=debian-12"]), &sbom);
    let (o, m) = outcome(&f, "SC-SBOM-004");
    assert!(o == "fail" && m.contains("libbar 1.0+dfsg-1"), "{o}: {m}");
    let f = judge_one(&image, &deny(&["pkg:deb/debian/libfoo?arch=arm64"]), &sbom);
    assert_eq!(outcome(&f, "SC-SBOM-004").0, "pass", "{:?}", outcome(&f, "SC-SBOM-004"));
    let f = judge_one(&image, &deny(&["pkg:deb/debian/libfoo?distro=debian-12&arch=amd64"]), &sbom);
    assert_eq!(outcome(&f, "SC-SBOM-004").0, "fail", "{:?}", outcome(&f, "SC-SBOM-004"));
}

/// Epochs (`1:4.13`) count only when both sides carry one: SBOM tools and
/// advisories differ in whether they write them.
#[test]
fn epochs_are_compared_only_when_both_sides_carry_one() {
    let dir = tempfile::tempdir().unwrap();
    let packages = [deb("login", "1:4.13+dfsg1-1", Some("shadow")), deb("libgmp10", "2:6.2.1+dfsg1-1.1", Some("gmp"))];
    let image = built::debian_layout(dir.path(), "img", &packages, &["linux/amd64"]);
    let digest = image.platforms[0].manifest.clone();
    let doc = |login: &str, gmp: &str| {
        let sbom = cdx(container(&digest), serde_json::json!([lib("login", login), lib("libgmp10", gmp)]));
        [("s.cdx.json", sbom)]
    };
    // Without an epoch on one side: the same package.
    let f = judge_one(&image, "", &doc("4.13+dfsg1-1", "2:6.2.1+dfsg1-1.1"));
    assert_eq!(outcome(&f, "SC-SBOM-002").0, "pass", "{:?}", outcome(&f, "SC-SBOM-002"));
    // With different epochs on both: not the same version.
    let f = judge_one(&image, "", &doc("1:4.13+dfsg1-1", "3:6.2.1+dfsg1-1.1"));
    let (o, m) = outcome(&f, "SC-SBOM-002");
    assert!(o == "fail" && m.contains("deb libgmp10@2:6.2.1+dfsg1-1.1") && !m.contains("login"), "{o}: {m}");

    // Deny ranges: a bound without an epoch is compared without the version's.
    let sbom = doc("1:4.13+dfsg1-1", "2:6.2.1+dfsg1-1.1");
    let f = judge_one(&image, &deny(&["pkg:deb/debian/login@<4.14"]), &sbom);
    let (o, m) = outcome(&f, "SC-SBOM-004");
    assert!(o == "fail" && m.contains("login 1:4.13+dfsg1-1"), "{o}: {m}");
    // Both carry one: epoch 2 is above every version of epoch 1.
    let f = judge_one(&image, &deny(&["pkg:deb/debian/libgmp10@<1:9.0"]), &sbom);
    assert_eq!(outcome(&f, "SC-SBOM-004").0, "pass", "{:?}", outcome(&f, "SC-SBOM-004"));
}

/// Licences compare by meaning: deprecated SPDX ids are the `-only` /
/// `-or-later` ids the SPDX licence list replaced them with, in documents
/// and in the policy's lists alike.
#[test]
fn deprecated_licence_ids_mean_their_replacements() {
    let dir = tempfile::tempdir().unwrap();
    let image = built::debian_layout(dir.path(), "img", &THREE, &["linux/amd64"]);
    let with = |name: &str, version: &str, licence: &str| {
        let mut c = lib(name, version);
        c["licenses"] = serde_json::json!([{"expression": licence}]);
        c
    };
    let sbom = [(
        "s.cdx.json",
        cdx(
            container(&image.platforms[0].manifest),
            serde_json::json!([
                with("libfoo", "1.0-1", "GPL-2.0"),
                with("libbar", "2.0-1", "LGPL-2.1+ AND GPL-2.0-with-classpath-exception"),
                with("libbaz", "3.0-1", "GPL-3.0"),
            ]),
        ),
    )];
    let licences = |params: &str| {
        let f = judge_one(&image, &format!("[rules.SC-SBOM-003]\nparams = {{ {params} }}\n"), &sbom);
        let (o, m) = outcome(&f, "SC-SBOM-003");
        (o.to_string(), m.to_string())
    };
    // A deny of the new id catches the old one (and the old id with an exception).
    let (o, m) = licences("deny = [\"GPL-2.0-only\"]");
    assert_eq!(o, "fail", "{m}");
    assert!(m.starts_with("2 component(s)") && m.contains("libfoo@1.0-1") && m.contains("libbar@2.0-1"), "{m}");
    // An allow list of the new ids admits the old ones.
    let (o, m) = licences("allow = [\"GPL-2.0-only\", \"LGPL-2.1-or-later\", \"GPL-3.0-only\"]");
    assert_eq!(o, "pass", "{m}");
    // A list written with an old id means the new one.
    let (o, m) = licences("deny = [\"GPL-3.0\"]");
    assert!(o == "fail" && m.contains("libbaz@3.0-1") && !m.contains("libfoo"), "{o}: {m}");
    // `-only` is not `-or-later`.
    let (o, m) = licences("allow = [\"GPL-2.0-or-later\", \"LGPL-2.1-or-later\", \"GPL-3.0-or-later\"]");
    assert!(o == "fail" && m.contains("libfoo@1.0-1") && m.contains("libbaz@3.0-1"), "{o}: {m}");
}

fn statement(subject: &str, predicate_type: &str, predicate: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "built", "digest": {"sha256": subject.trim_start_matches("sha256:")}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    })
}

const ELSEWHERE: &str = "sha256:abababababababababababababababababababababababababababababababab";

/// An SBOM inside an in-toto statement binds to this image only when the
/// statement's subject and the document inside both name it. A document
/// that names no subject has only the statement's binding, which suffices.
#[test]
fn an_attested_sbom_must_describe_this_image_inside_too() {
    let dir = tempfile::tempdir().unwrap();
    let image = built::debian_layout(dir.path(), "img", &THREE, &["linux/amd64"]);
    let (m, c) = (image.platforms[0].manifest.clone(), image.platforms[0].config.clone());
    let components = serde_json::json!([lib("libfoo", "1.0-1"), lib("libbar", "2.0-1"), lib("libbaz", "3.0-1")]);
    let named = |version: Option<&str>, purl: Option<String>| {
        let mut s = serde_json::json!({"type": "container", "bom-ref": "image", "name": "built"});
        if let Some(v) = version {
            s["version"] = v.into();
        }
        if let Some(p) = purl {
            s["purl"] = p.into();
        }
        cdx(s, components.clone())
    };
    let spdx_naming = |digest: &str| {
        let mut packages = vec![spdx_image(digest, &format!("pkg:oci/built@{digest}"))];
        for (id, n, v) in
            [("SPDXRef-foo", "libfoo", "1.0-1"), ("SPDXRef-bar", "libbar", "2.0-1"), ("SPDXRef-baz", "libbaz", "3.0-1")]
        {
            packages.push(spdx_package(id, n, v, &format!("pkg:deb/debian/{n}@{v}?arch=amd64"), "MIT"));
        }
        spdx_doc(&["SPDXRef-image"], packages)
    };
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        (
            "the statement names this image, the document another",
            statement(&m, "https://cyclonedx.org/bom", named(Some(ELSEWHERE), None)),
            "fail",
        ),
        (
            "the statement names another image, the document this one",
            statement(ELSEWHERE, "https://cyclonedx.org/bom", named(Some(&m), None)),
            "fail",
        ),
        ("the document names no subject", statement(&m, "https://cyclonedx.org/bom", named(None, None)), "pass"),
        (
            "the document names this image by its config digest",
            statement(&m, "https://cyclonedx.org/bom", named(Some(&c), None)),
            "pass",
        ),
        ("both name this image", statement(&m, "https://cyclonedx.org/bom", named(Some(&m), None)), "pass"),
        ("SPDX naming another image", statement(&m, "https://spdx.dev/Document", spdx_naming(ELSEWHERE)), "fail"),
        ("SPDX naming this image", statement(&m, "https://spdx.dev/Document", spdx_naming(&m)), "pass"),
        (
            "the document names this digest for another platform",
            statement(
                &m,
                "https://cyclonedx.org/bom",
                named(Some(&m), Some(format!("pkg:oci/built@{}?arch=arm64", m.replace(':', "%3A")))),
            ),
            "fail",
        ),
    ];
    for (i, (what, st, want)) in cases.into_iter().enumerate() {
        let root = dir.path().join(format!("case{i}"));
        support::copy_dir(&image.root, &root);
        built::attach_statement(&root, &m, &st);
        let f = judge(&root, "", &[]).remove(&m).unwrap();
        let (o, msg) = outcome(&f, "SC-SBOM-001");
        assert_eq!(o, want, "{what}: {msg}");
        if want == "fail" {
            assert!(msg.contains("attestation") || msg.contains("cosign-tag"), "{what}: {msg}");
        }
    }
}

/// A described purl's platform qualifiers (`arch`, `os`, `variant`,
/// `platform`) bind the document to that platform: an SBOM of the index's
/// arm64 image does not describe its amd64 image.
#[test]
fn platform_qualifiers_bind_a_document_to_its_platform() {
    let dir = tempfile::tempdir().unwrap();
    let layout = built::debian_layout(dir.path(), "multi", &THREE, &["linux/amd64", "linux/arm64/v8"]);
    let index = layout.index.clone().unwrap();
    let (amd, arm) = (layout.platforms[0].manifest.clone(), layout.platforms[1].manifest.clone());
    let qualified = |digest: &str, qualifiers: &str| {
        let mut s = container(digest);
        s["purl"] = format!("pkg:oci/built@{}?{qualifiers}", digest.replace(':', "%3A")).into();
        cdx(s, serde_json::json!([lib("libfoo", "1.0-1"), lib("libbar", "2.0-1"), lib("libbaz", "3.0-1")]))
    };
    let spdx_for = |qualifiers: &str| {
        spdx_doc(&["SPDXRef-image"], vec![spdx_image(&index, &format!("pkg:oci/built@{index}?{qualifiers}"))])
    };
    let cases: Vec<(&str, serde_json::Value, &str, &str)> = vec![
        ("index, arch=arm64", qualified(&index, "arch=arm64&os=linux&tag=v1"), "fail", "pass"),
        ("index, platform=linux/amd64 (SPDX)", spdx_for("platform=linux%2Famd64"), "pass", "fail"),
        ("index, arch=arm64 variant=v7", qualified(&index, "arch=arm64&variant=v7"), "fail", "fail"),
        ("index, arch=arm64 variant=v8", qualified(&index, "variant=v8&arch=arm64"), "fail", "pass"),
        ("index, no qualifiers", qualified(&index, "tag=v1"), "pass", "pass"),
        ("index, empty arch", qualified(&index, "arch="), "pass", "pass"),
        ("amd64's digest, arch=arm64", qualified(&amd, "arch=arm64"), "fail", "fail"),
        ("amd64's digest, arch=x86_64", qualified(&amd, "arch=x86_64"), "pass", "fail"),
    ];
    for (what, doc, want_amd, want_arm) in cases {
        let all = judge(&layout.root, "", &[("s.json", doc)]);
        for (digest, want, platform) in [(&amd, want_amd, "amd64"), (&arm, want_arm, "arm64")] {
            let (o, m) = outcome(&all[digest], "SC-SBOM-001");
            assert_eq!(o, want, "{what}, {platform} image: {m}");
        }
    }
    // An attestation attached to the index, for one of its platforms.
    let root = dir.path().join("attested");
    support::copy_dir(&layout.root, &root);
    built::attach_statement(
        &root,
        &index,
        &statement(&index, "https://cyclonedx.org/bom", qualified(&index, "arch=arm64")),
    );
    let all = judge(&root, "", &[]);
    let (o, m) = outcome(&all[&amd], "SC-SBOM-001");
    assert!(o == "fail" && m.contains("arm64"), "{o}: {m}");
    assert_eq!(outcome(&all[&arm], "SC-SBOM-001").0, "pass");
}
