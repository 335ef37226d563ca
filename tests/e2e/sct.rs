//! Signed certificate timestamps decoded and verified as sigstore-go does
//! (`portcullis::signature::sct`), on a certificate built here from the
//! shared happy-path leaf: re-issued by a CA of the test's own, carrying
//! two SCTs — one from a log the root does not know, one with a non-empty
//! extension field (as Static CT logs write) — a certificate the `sigstore`
//! crate alone refuses (it takes exactly one SCT).

use crate::support;
use base64::Engine as _;
use der::{Decode as _, Encode as _, Tagged as _};
use p256::ecdsa::signature::Signer as _;
use portcullis::signature::trust::TrustRoot;
use sha2::Digest as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const SCT_OID: &str = "1.3.6.1.4.1.11129.2.4.2";
/// A Static CT log's leaf-index extension (type 0, 5 bytes).
const LEAF_INDEX: [u8; 8] = [0, 0, 5, 0, 0, 0, 0, 0x70];

fn any(tag: der::Tag, content: &[u8]) -> der::Any {
    der::Any::new(tag, content.to_vec()).unwrap()
}

fn ecdsa_sha256() -> der::Any {
    der::Any::from_der(&[0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]).unwrap()
}

/// A certificate: `tbs` fields signed by `key`.
fn certificate(tbs: &[der::Any], key: &p256::ecdsa::SigningKey) -> Vec<u8> {
    let tbs = tbs.to_vec().to_der().unwrap();
    let sig: p256::ecdsa::Signature = key.sign(&tbs);
    let bits = der::asn1::BitString::from_bytes(sig.to_der().as_bytes()).unwrap();
    let fields = vec![der::Any::from_der(&tbs).unwrap(), ecdsa_sha256(), der::Any::encode_from(&bits).unwrap()];
    fields.to_der().unwrap()
}

fn tbs_fields(cert_der: &[u8]) -> Vec<der::Any> {
    let cert = Vec::<der::Any>::from_der(cert_der).unwrap();
    cert[0].decode_as().unwrap()
}

fn spki(key: &p256::ecdsa::SigningKey) -> Vec<u8> {
    use p256::pkcs8::EncodePublicKey as _;
    key.verifying_key().to_public_key_der().unwrap().as_bytes().to_vec()
}

/// One SCT item (RFC 6962 §3.2), signed by `log` over the precertificate.
fn sct(log: &p256::ecdsa::SigningKey, log_id: [u8; 32], ext: &[u8], issuer_hash: &[u8], precert: &[u8]) -> Vec<u8> {
    let ts: u64 = 1_767_000_000_000;
    let mut signed = vec![0, 0];
    signed.extend(ts.to_be_bytes());
    signed.extend([0, 1]);
    signed.extend(issuer_hash);
    signed.extend(&(precert.len() as u32).to_be_bytes()[1..]);
    signed.extend(precert);
    signed.extend((ext.len() as u16).to_be_bytes());
    signed.extend(ext);
    let sig: p256::ecdsa::Signature = log.sign(&signed);
    let sig = sig.to_der().as_bytes().to_vec();
    let mut item = vec![0];
    item.extend(log_id);
    item.extend(ts.to_be_bytes());
    item.extend((ext.len() as u16).to_be_bytes());
    item.extend(ext);
    item.extend([4, 3]);
    item.extend((sig.len() as u16).to_be_bytes());
    item.extend(sig);
    let mut out = (item.len() as u16).to_be_bytes().to_vec();
    out.extend(item);
    out
}

struct Built {
    leaf: Vec<u8>,
    root: String,
}

/// The CA, the leaf (with `scts` from the logs, each `(log, known, ext)`),
/// and a trusted root naming the CA and the known logs, valid from `from`.
fn build(corrupt: bool, from: &str) -> Built {
    let ca_key = p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
    let known = p256::ecdsa::SigningKey::from_bytes(&[9u8; 32].into()).unwrap();
    let unknown = p256::ecdsa::SigningKey::from_bytes(&[11u8; 32].into()).unwrap();
    // The CA: the production Fulcio root's fields, with this key (self-signed).
    let production: serde_json::Value = serde_json::from_str(portcullis::signature::trust::PRODUCTION).unwrap();
    let fulcio_root = B64
        .decode(production["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"].as_str().unwrap())
        .unwrap();
    let mut ca = tbs_fields(&fulcio_root);
    // TBS fields: version, serial, signature, issuer, validity, subject, key, extensions.
    ca[2] = ecdsa_sha256();
    ca[6] = der::Any::from_der(&spki(&ca_key)).unwrap();
    let ca_subject = ca[5].clone();
    let ca_der = certificate(&ca, &ca_key);

    // The leaf: the shared happy-path leaf, issued by this CA.
    let bundle: serde_json::Value = serde_json::from_slice(
        &std::fs::read(support::corpus(
            "sigstore-conformance/test/assets/bundle-verify/happy-path-v0.3/bundle.sigstore.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let happy = B64.decode(bundle["verificationMaterial"]["certificate"]["rawBytes"].as_str().unwrap()).unwrap();
    let mut leaf = tbs_fields(&happy);
    leaf[2] = ecdsa_sha256();
    leaf[3] = ca_subject;
    let ext_tag = der::Tag::ContextSpecific { constructed: true, number: der::TagNumber(3) };
    let at = leaf.iter().position(|f| f.tag() == ext_tag).unwrap();
    let oid: const_oid::ObjectIdentifier = SCT_OID.parse().unwrap();
    let mut exts: Vec<der::Any> = Vec::<der::Any>::from_der(leaf[at].value())
        .unwrap()
        .into_iter()
        .filter(|e| e.decode_as::<x509_cert::ext::Extension>().unwrap().extn_id != oid)
        .collect();
    leaf[at] = any(ext_tag, &exts.to_der().unwrap());
    let precert = leaf.to_vec().to_der().unwrap();
    let issuer_hash = sha2::Sha256::digest(spki(&ca_key));
    let known_id: [u8; 32] = sha2::Sha256::digest(spki(&known)).into();
    let unknown_id: [u8; 32] = sha2::Sha256::digest(spki(&unknown)).into();
    let mut second = sct(&known, known_id, &LEAF_INDEX, &issuer_hash, &precert);
    if corrupt {
        let n = second.len();
        second[n - 5] ^= 1; // inside the signature
    }
    let items = [sct(&unknown, unknown_id, &[], &issuer_hash, &precert), second].concat();
    let mut list = (items.len() as u16).to_be_bytes().to_vec();
    list.extend(items);
    let inner = der::asn1::OctetString::new(list).unwrap().to_der().unwrap();
    let ext = x509_cert::ext::Extension {
        extn_id: oid,
        critical: false,
        extn_value: der::asn1::OctetString::new(inner).unwrap(),
    };
    exts.push(der::Any::encode_from(&ext).unwrap());
    leaf[at] = any(ext_tag, &exts.to_der().unwrap());
    let leaf_der = certificate(&leaf, &ca_key);

    let mut root = production.clone();
    root["certificateAuthorities"] = serde_json::json!([{
        "subject": {"organization": "test", "commonName": "test"},
        "uri": "https://fulcio.test",
        "certChain": {"certificates": [{"rawBytes": B64.encode(&ca_der)}]},
        "validFor": {"start": "2020-01-01T00:00:00Z"}
    }]);
    root["ctlogs"] = serde_json::json!([{
        "baseUrl": "https://ct.test",
        "hashAlgorithm": "SHA2_256",
        "publicKey": {"rawBytes": B64.encode(spki(&known)), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": from}},
        "logId": {"keyId": B64.encode(known_id)}
    }]);
    Built { leaf: leaf_der, root: root.to_string() }
}

#[test]
fn several_scts_with_extensions_verify_as_sigstore_go_has_them() {
    let b = build(false, "2020-01-01T00:00:00Z");
    let root = TrustRoot::parse(&b.root).unwrap();
    portcullis::signature::sct::verify(&b.leaf, &root).expect("the known log's SCT verifies");
    let cert = x509_cert::Certificate::from_der(&b.leaf).unwrap();
    let scts = portcullis::signature::sct::embedded(&cert).unwrap();
    assert_eq!(scts.len(), 2);
    assert_eq!(scts[1].extensions, LEAF_INDEX);
}

#[test]
fn an_sct_that_does_not_verify_or_comes_too_early_is_refused_with_each_reason() {
    let b = build(true, "2020-01-01T00:00:00Z");
    let e = portcullis::signature::sct::verify(&b.leaf, &TrustRoot::parse(&b.root).unwrap()).unwrap_err();
    assert!(e.contains("SCT 0: log") && e.contains("is not in the trusted root"), "{e}");
    assert!(e.contains("SCT 1: log https://ct.test"), "{e}");
    // The log's key is trusted only from after the SCT's time.
    let b = build(false, "2027-01-01T00:00:00Z");
    let e = portcullis::signature::sct::verify(&b.leaf, &TrustRoot::parse(&b.root).unwrap()).unwrap_err();
    assert!(e.contains("was not trusted at the SCT's time"), "{e}");
    // A root without the test CA: nothing issued the certificate.
    let e = portcullis::signature::sct::verify(&b.leaf, &TrustRoot::production()).unwrap_err();
    assert!(e.contains("no certificate authority of the trusted root issued"), "{e}");
}

/// The SCT fallback in `signature::bundle` trusts that the crate checks the
/// chain before the SCT. Guarded here: the leaf built above, put into the
/// happy-path bundle, is refused by the crate at the chain step under the
/// production root (which did not issue it), and at the SCT step (two
/// SCTs) under the test root (which did).
#[test]
fn sct_fallback_runs_only_after_the_crates_chain_check() {
    use sigstore::bundle::verify::{CertificateErrorKind, VerificationError};
    let b = build(false, "2020-01-01T00:00:00Z");
    let path = support::corpus("sigstore-conformance/test/assets/bundle-verify/happy-path-v0.3/bundle.sigstore.json");
    let mut bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    bundle["verificationMaterial"]["certificate"]["rawBytes"] = B64.encode(&b.leaf).into();
    // The crate knows v0.3 by its new spelling only (as `bundle.rs` hands it over).
    bundle["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.3+json".into();
    let artifact =
        sha2::Sha256::digest(std::fs::read(support::corpus("sigstore-conformance/test/assets/a.txt")).unwrap());
    let policy = sigstore::bundle::verify::policy::Identity::new(
        "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
        "https://token.actions.githubusercontent.com",
    );
    let run = |root: &TrustRoot| {
        let parsed: sigstore::bundle::Bundle = serde_json::from_value(bundle.clone()).unwrap();
        root.crate_verifier().unwrap().verify_digest_with(
            sigstore::bundle::verify::ArtifactDigest::Sha256(artifact.into()),
            parsed,
            &policy,
            true,
        )
    };
    let production = run(&TrustRoot::production());
    assert!(
        matches!(production, Err(VerificationError::Certificate(CertificateErrorKind::VerificationFailed(_)))),
        "{production:?}"
    );
    let own = run(&TrustRoot::parse(&b.root).unwrap());
    assert!(matches!(own, Err(VerificationError::Certificate(CertificateErrorKind::Sct(_)))), "{own:?}");
}
