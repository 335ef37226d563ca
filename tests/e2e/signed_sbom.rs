//! SBOMs as evidence only from trusted signers (#15: anyone who can push
//! can attach a document). SC-SBOM-001 with `keys` (or `identity` and
//! `issuer`) counts an attached SBOM only when a trusted signer's
//! attestation carries it, and says who signed; an unsigned SBOM, or one
//! signed by another key, does not satisfy it — on layouts and pulled from
//! a real registry. Files given with `--sbom` are the user's own word.

use crate::support;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use support::cosign::{add_blob, add_to_index, attest, cosign_tag, key_pair, tagged_manifest};

fn digest_of(layout: &Path) -> String {
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_string()
}

fn sbom_statement(digest: &str) -> Value {
    let cdx: Value =
        serde_json::from_slice(&std::fs::read(support::image("sbom/go-static-good.cdx.json")).unwrap()).unwrap();
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "go-static-good", "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicateType": "https://cyclonedx.org/bom",
        "predicate": cdx,
    })
}

/// `cosign attach sbom`: the SBOM as a bare blob under the `.sbom` tag.
fn attach_bare(layout: &Path, digest: &str) {
    let bytes = std::fs::read(support::image("sbom/go-static-good.cdx.json")).unwrap();
    let (d, size) = add_blob(layout, &bytes);
    let layer = json!({"mediaType": "application/vnd.cyclonedx+json", "digest": d, "size": size});
    add_to_index(layout, vec![tagged_manifest(layout, &cosign_tag(digest, "sbom"), json!([layer]))]);
}

fn policy(dir: &Path, params: &str) -> PathBuf {
    let p = dir.join(format!("policy-{}.toml", params.len()));
    let text = format!(
        "[policy]\nname = \"sboms\"\nversion = \"1\"\nenforcement = \"enforce\"\nfailure-policy = \"deny\"\n\n[plugins.sbom]\n\n[rules.SC-SBOM-001]\nparams = {{ {params} }}\n\n[rules.SC-SBOM-004]\nparams = {{ deny = [\"pkg:golang/golang.org/x/text\"] }}\n"
    );
    std::fs::write(&p, text).unwrap();
    p
}

fn findings(image: &str, policy: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["audit", image, "--policy", policy.to_str().unwrap(), "--format", "json"];
    args.extend(extra);
    let run = support::portcullis(&args);
    run.json()["subjects"][0].clone()
}

fn message(subject: &Value, rule: &str) -> String {
    subject["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .map(|f| f["message"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn only_sboms_attested_by_a_trusted_signer_count() {
    let dir = tempfile::tempdir().unwrap();
    let (trusted, trusted_pem) = key_pair(31);
    let (other, _) = key_pair(32);
    let layout = |name: &str, sk: Option<&p256::ecdsa::SigningKey>, bare: bool| {
        let l = dir.path().join(name);
        support::copy_dir(&support::image("oci/go-static-good"), &l);
        let digest = digest_of(&l);
        if let Some(sk) = sk {
            attest(&l, &digest, &sbom_statement(&digest), sk);
        }
        if bare {
            attach_bare(&l, &digest);
        }
        l
    };
    let signed = layout("signed", Some(&trusted), false);
    let foreign = layout("foreign", Some(&other), false);
    let bare = layout("bare", None, true);
    let plain = layout("plain", None, false);
    let trusting = policy(dir.path(), &format!("keys = ['''{trusted_pem}''']"));
    let open = policy(dir.path(), "");
    let outcome = |s: &Value, rule: &str| support::outcome_of(s, rule).unwrap_or_default();

    let s = findings(signed.to_str().unwrap(), &trusting, &[]);
    assert_eq!(outcome(&s, "SC-SBOM-001"), "pass", "{s}");
    assert!(message(&s, "SC-SBOM-001").contains("signed by key 1 of `keys`"), "{s}");

    for (what, l, why) in [
        ("signed by another key", &foreign, "its attestation verifies with none of `keys`"),
        ("a bare SBOM", &bare, "a bare SBOM, not in a signed attestation"),
    ] {
        let s = findings(l.to_str().unwrap(), &trusting, &[]);
        assert_eq!(outcome(&s, "SC-SBOM-001"), "fail", "{what}: {s}");
        let m = message(&s, "SC-SBOM-001");
        assert!(m.contains("no SBOM from a trusted signer describes") && m.contains(why), "{what}: {m}");
        // Not evidence for the other SBOM rules either.
        assert_eq!(outcome(&s, "SC-SBOM-004"), "n/a", "{what}: {s}");
        // Without trusted signers configured, the same SBOM counts.
        let s = findings(l.to_str().unwrap(), &open, &[]);
        assert_eq!(outcome(&s, "SC-SBOM-001"), "pass", "{what}, no signers configured: {s}");
    }

    // The user's own file counts, and says so.
    let file = support::image("sbom/go-static-good.cdx.json");
    let s = findings(plain.to_str().unwrap(), &trusting, &["--sbom", file.to_str().unwrap()]);
    assert_eq!(outcome(&s, "SC-SBOM-001"), "pass", "{s}");
    assert!(message(&s, "SC-SBOM-001").contains("supplied with --sbom"), "{s}");

    // `require_signed` with nobody to trust is refused when the policy loads.
    let bad = policy(dir.path(), "require_signed = true");
    let run = support::portcullis(["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("require_signed") && run.stderr.contains("needs trusted signers"), "{}", run.stderr);

    // Pulled from a real registry: the same decisions.
    let registry = support::registry::TestRegistry::start();
    for (name, l, want) in [("signed", &signed, "pass"), ("foreign", &foreign, "fail")] {
        let digest = digest_of(l);
        let att = cosign_tag(&digest, "att");
        registry.push(l, "v1", &format!("{name}/app:v1"));
        registry.push(l, &att, &format!("{name}/app:{att}"));
        let s = findings(
            &registry.url(&format!("{name}/app:v1")),
            &trusting,
            &["--registry-cache", dir.path().join("cache").to_str().unwrap()],
        );
        assert_eq!(outcome(&s, "SC-SBOM-001"), want, "{name} from the registry: {s}");
    }
}
