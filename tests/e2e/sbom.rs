//! SBOM format identification against syft's own fixtures
//! (`syft/format/*/testdata/identify`), and on the syft SBOMs of the shared
//! images.

mod support;

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
    let vectors: Vec<CdxVector> =
        serde_json::from_slice(&std::fs::read(root.join("expected.json")).unwrap()).unwrap();
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
