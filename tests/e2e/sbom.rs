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
