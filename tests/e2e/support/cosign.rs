//! cosign simple-signing signatures made in tests — with a fixed P-256 key
//! (in process, deterministic) or with keys `openssl` generates (P-384, RSA,
//! Ed25519: an independent signer) — attached to a layout by cosign's tag
//! scheme (`sha256-<hex>.sig`); and key-signed in-toto attestations (SLSA
//! provenance written here) attached as `sha256-<hex>.att`.

use serde_json::{Value, json};
use sha2::Digest as _;
use std::path::Path;

/// Writes a blob into a layout; returns its descriptor fields.
pub fn add_blob(layout: &Path, bytes: &[u8]) -> (String, usize) {
    let hex = hex::encode(sha2::Sha256::digest(bytes));
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).unwrap();
    (format!("sha256:{hex}"), bytes.len())
}

pub fn index_of(layout: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap()
}

/// A fixed P-256 key (deterministic RFC 6979 signatures: reproducible tests).
pub fn key_pair(seed: u8) -> (p256::ecdsa::SigningKey, String) {
    use p256::pkcs8::EncodePublicKey as _;
    let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
    let pem = sk.verifying_key().to_public_key_pem(p256::pkcs8::LineEnding::LF).unwrap();
    (sk, pem)
}

/// The simple-signing payload cosign signs for an image.
pub fn payload(digest: &str, optional: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": "example.test/app"},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": optional
    }))
    .unwrap()
}

/// Signs `digest` cosign-style and attaches the signature by tag.
pub fn sign(layout: &Path, digest: &str, sk: &p256::ecdsa::SigningKey, optional: Value) {
    use p256::ecdsa::signature::Signer as _;
    let payload = payload(digest, optional);
    let sig: p256::ecdsa::Signature = sk.sign(&payload);
    attach(layout, digest, &payload, sig.to_der().as_bytes());
}

/// Attaches a signature over `payload` to the image `digest` by cosign's tag.
pub fn attach(layout: &Path, digest: &str, payload: &[u8], signature: &[u8]) {
    attach_with(layout, digest, payload, signature, &[]);
}

/// [`attach`] with more layer annotations (a certificate and its chain).
pub fn attach_with(layout: &Path, digest: &str, payload: &[u8], signature: &[u8], more: &[(&str, &str)]) {
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, signature);
    let mut annotations = json!({"dev.cosignproject.cosign/signature": b64});
    for (k, v) in more {
        annotations[*k] = json!(v);
    }
    let (payload_digest, payload_size) = add_blob(layout, payload);
    let layer = json!({
        "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
        "digest": payload_digest,
        "size": payload_size,
        "annotations": annotations
    });
    let entry = tagged_manifest(layout, &cosign_tag(digest, "sig"), json!([layer]));
    add_to_index(layout, vec![entry]);
}

/// cosign's tag for an attachment of `digest`: `sha256-<hex>.<kind>`.
pub fn cosign_tag(digest: &str, kind: &str) -> String {
    format!("{}.{kind}", digest.replace(':', "-"))
}

/// Writes an OCI manifest of `layers` (with an empty config) into the
/// layout and returns its index entry, named `tag`.
pub fn tagged_manifest(layout: &Path, tag: &str, layers: Value) -> Value {
    let (config_digest, config_size) = add_blob(layout, b"{}");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": layers
    });
    let (md, ms) = add_blob(layout, &serde_json::to_vec(&manifest).unwrap());
    json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": md,
        "size": ms,
        "annotations": {"org.opencontainers.image.ref.name": tag}
    })
}

/// Appends index entries to the layout's `index.json`, in one write.
pub fn add_to_index(layout: &Path, entries: Vec<Value>) {
    let mut index = index_of(layout);
    index["manifests"].as_array_mut().unwrap().extend(entries);
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// Signs an in-toto statement about an image as a DSSE envelope with `sk`
/// and attaches it by cosign's tag (`sha256-<hex>.att`), as
/// `cosign attest --key` does.
pub fn attest(layout: &Path, digest: &str, statement: &Value, sk: &p256::ecdsa::SigningKey) {
    use p256::ecdsa::signature::Signer as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = serde_json::to_vec(statement).unwrap();
    let payload_type = "application/vnd.in-toto+json";
    let sig: p256::ecdsa::Signature = sk.sign(&portcullis::signature::entry::pae(payload_type, &payload));
    let envelope = json!({
        "payloadType": payload_type,
        "payload": base64::Engine::encode(&b64, &payload),
        "signatures": [{"keyid": "", "sig": base64::Engine::encode(&b64, sig.to_der().as_bytes())}],
    });
    let (layer_digest, layer_size) = add_blob(layout, &serde_json::to_vec(&envelope).unwrap());
    let layer = json!({
        "mediaType": "application/vnd.dsse.envelope.v1+json",
        "digest": layer_digest,
        "size": layer_size,
        "annotations": {"predicateType": statement["predicateType"]}
    });
    let entry = tagged_manifest(layout, &cosign_tag(digest, "att"), json!([layer]));
    add_to_index(layout, vec![entry]);
}

/// SLSA provenance v1 about the image `digest`: built by `builder` from
/// `git+https://github.com/acme/app@SOURCE_REF`, with `external` parameters.
pub fn provenance_v1(digest: &str, builder: &str, source_ref: &str, external: Value) -> Value {
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "example.test/app", "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://example.test/build/v1",
                "externalParameters": external,
                "resolvedDependencies": [{
                    "uri": format!("git+https://github.com/acme/app@{source_ref}"),
                    "digest": {"gitCommit": "5c3b2ebd6d2f1a9e1b7c4d3f2a1b0c9d8e7f6a5b"}
                }]
            },
            "runDetails": {"builder": {"id": builder}, "metadata": {"invocationId": "run-1"}}
        }
    })
}

/// A key pair `openssl` generates, and signs with.
pub struct OpensslKey {
    dir: tempfile::TempDir,
    /// `ec-p384`, `rsa` or `ed25519`.
    pub kind: &'static str,
}

fn openssl(args: &[&str]) {
    let out =
        std::process::Command::new("openssl").args(args).output().expect("openssl runs (apt-get install openssl)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl OpensslKey {
    pub fn generate(kind: &'static str) -> OpensslKey {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let key = key.to_str().unwrap();
        match kind {
            "ec-p384" => openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", key]),
            "rsa" => openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key]),
            "ed25519" => openssl(&["genpkey", "-algorithm", "ed25519", "-out", key]),
            other => panic!("unknown key kind {other}"),
        }
        let public = dir.path().join("key.pub");
        openssl(&["pkey", "-in", key, "-pubout", "-out", public.to_str().unwrap()]);
        OpensslKey { dir, kind }
    }

    pub fn public_pem(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("key.pub")).unwrap()
    }

    /// Signs `msg`: ECDSA/RSA over the digest `hash` (`sha256`, `sha384`),
    /// Ed25519 over the message itself (`hash` ignored).
    pub fn sign(&self, msg: &[u8], hash: &str) -> Vec<u8> {
        let (input, output) = (self.dir.path().join("msg"), self.dir.path().join("sig"));
        std::fs::write(&input, msg).unwrap();
        let key = self.dir.path().join("key.pem");
        let (key, input, output) = (key.to_str().unwrap(), input.to_str().unwrap(), output.to_str().unwrap());
        if self.kind == "ed25519" {
            openssl(&["pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", input, "-out", output]);
        } else {
            openssl(&["dgst", &format!("-{hash}"), "-sign", key, "-out", output, input]);
        }
        std::fs::read(self.dir.path().join("sig")).unwrap()
    }
}

/// A private CA `openssl` makes (root → intermediate → leaf, ECDSA P-256),
/// the leaf for `email` and `host`, as a BYO-PKI cosign user would have.
pub struct PrivateCa {
    dir: tempfile::TempDir,
}

impl PrivateCa {
    pub fn generate(email: &str, host: &str) -> PrivateCa {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name).display().to_string();
        let ext = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).unwrap();
            p(name)
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
        openssl(
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-keyout",
                    &p("root.key"),
                    "-out",
                    &p("root.pem"),
                    "-days",
                    "3650",
                    "-subj",
                    "/CN=Portcullis Test Root CA",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            ]
            .concat(),
        );
        let issue = |name: &str, subject: &str, issuer: &str, extensions: &str| {
            openssl(
                &[
                    &["req"][..],
                    &ec,
                    &["-keyout", &p(&format!("{name}.key")), "-out", &p(&format!("{name}.csr")), "-subj", subject],
                ]
                .concat(),
            );
            let extfile = ext(&format!("{name}.ext"), extensions);
            openssl(&[
                "x509",
                "-req",
                "-in",
                &p(&format!("{name}.csr")),
                "-CA",
                &p(&format!("{issuer}.pem")),
                "-CAkey",
                &p(&format!("{issuer}.key")),
                "-CAcreateserial",
                "-out",
                &p(&format!("{name}.pem")),
                "-days",
                "3650",
                "-extfile",
                &extfile,
            ]);
        };
        issue(
            "intermediate",
            "/CN=Portcullis Test Intermediate CA",
            "root",
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n",
        );
        issue(
            "leaf",
            "/CN=Signer",
            "intermediate",
            &format!(
                "subjectAltName=email:{email},DNS:{host}\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n"
            ),
        );
        PrivateCa { dir }
    }

    pub fn pem(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{name}.pem"))).unwrap()
    }

    /// Signs `msg` with the leaf's key (ECDSA over SHA-256, DER).
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let (input, output) = (self.dir.path().join("msg"), self.dir.path().join("sig"));
        std::fs::write(&input, msg).unwrap();
        let key = self.dir.path().join("leaf.key");
        openssl(&[
            "dgst",
            "-sha256",
            "-sign",
            key.to_str().unwrap(),
            "-out",
            output.to_str().unwrap(),
            input.to_str().unwrap(),
        ]);
        std::fs::read(output).unwrap()
    }
}
