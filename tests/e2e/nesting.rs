//! No document, however deeply it nests, can abort the process.
//!
//! Every reader of untrusted input — CycloneDX JSON and XML, SPDX JSON,
//! tag-value and 3, licence expressions inside them, OCI manifests, indexes
//! and configs, in-toto statements and DSSE envelopes, Sigstore bundles,
//! AdmissionReviews — is given documents nested in every way its format
//! nests (arrays, objects, elements, nested components, parentheses), at
//! every depth up to 130 and then up to 100,000, closed and unclosed, on a
//! thread with a 2 MiB stack (the default of tokio's and rayon's threads,
//! the smallest a parser runs on). It must read the document or refuse it;
//! a stack overflow aborts instead — so each reader runs in a child process
//! of this test binary, and the parent names the readers whose child died.
//!
//! The same readers, with random shapes, depths and truncations, are the
//! campaign `bench/nesting-campaign.sh` runs for a set CPU time per reader.

use portcullis::{admission, attestation, oci, sbom, signature};
use rand::{Rng, RngExt, SeedableRng};
use std::process::Command;

/// The smallest stack the readers are proven on.
const STACK: usize = portcullis::nesting::PROVEN_STACK;

/// One reader of untrusted input, as the engine calls it.
struct Reader {
    name: &'static str,
    read: fn(&[u8]) -> Result<(), String>,
    shapes: &'static [Shape],
}

/// A way a document of the reader's format nests `depth` levels deep.
struct Shape {
    name: &'static str,
    make: fn(usize) -> Vec<u8>,
    /// Whether the document is valid at small depths (so the reader must
    /// accept it: proof the shape reaches the parser at all).
    valid: bool,
}

fn arrays(d: usize) -> String {
    format!("{}1{}", "[".repeat(d), "]".repeat(d))
}

fn objects(d: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(d), "}".repeat(d))
}

fn parens(d: usize) -> String {
    format!("{}MIT{}", "(".repeat(d), ")".repeat(d))
}

fn elements(name: &str, d: usize) -> String {
    format!("{}{}", format!("<{name}>").repeat(d), format!("</{name}>").repeat(d))
}

fn cdx_json(version: &str, components: &str, metadata: &str) -> Vec<u8> {
    format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"{version}","version":1,"metadata":{{"component":{{"type":"application","name":"app"{metadata}}}}},"components":[{components}]}}"#
    )
    .into_bytes()
}

fn cdx_nested(d: usize) -> String {
    let open = r#"{"type":"library","name":"c","components":["#;
    format!("{}{{\"type\":\"library\",\"name\":\"leaf\"}}{}", open.repeat(d), "]}".repeat(d))
}

fn cdx_xml(version: &str, components: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><bom xmlns="http://cyclonedx.org/schema/bom/{version}" version="1"><components>{components}</components></bom>"#
    )
    .into_bytes()
}

fn cdx_xml_nested(d: usize) -> String {
    let open = r#"<component type="library"><name>c</name><components>"#;
    format!(
        "{}<component type=\"library\"><name>leaf</name></component>{}",
        open.repeat(d),
        "</components></component>".repeat(d)
    )
}

fn spdx_json(licence: &str, extra: &str) -> Vec<u8> {
    format!(
        r#"{{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"d","documentNamespace":"https://example.com/d","creationInfo":{{"created":"2024-01-01T00:00:00Z","creators":["Tool: t"]}},"packages":[{{"name":"p","SPDXID":"SPDXRef-p","downloadLocation":"NOASSERTION","licenseConcluded":"{licence}"{extra}}}]}}"#
    )
    .into_bytes()
}

fn spdx_tag_value(licence: &str) -> Vec<u8> {
    format!(
        "SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: d\nDocumentNamespace: https://example.com/d\nCreator: Tool: t\nCreated: 2024-01-01T00:00:00Z\n\nPackageName: p\nSPDXID: SPDXRef-p\nPackageDownloadLocation: NOASSERTION\nPackageLicenseConcluded: {licence}\n"
    )
    .into_bytes()
}

fn spdx3(extra: &str) -> Vec<u8> {
    format!(
        r#"{{"@context":"https://spdx.org/rdf/3.0.1/spdx-context.jsonld","@graph":[{{"type":"CreationInfo","@id":"_:c","specVersion":"3.0.1","created":"2024-01-01T00:00:00Z","createdBy":["urn:t"]}},{{"type":"SpdxDocument","spdxId":"urn:d","creationInfo":"_:c","rootElement":["urn:p"]}},{{"type":"software_Package","spdxId":"urn:p","creationInfo":"_:c","name":"p"{extra}}}]}}"#
    )
    .into_bytes()
}

const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

fn manifest(extra: &str) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{DIGEST}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{DIGEST}","size":2}}]{extra}}}"#
    )
    .into_bytes()
}

fn config(extra: &str) -> Vec<u8> {
    format!(r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"config":{{"User":"1000"{extra}}}}}"#)
        .into_bytes()
}

fn statement(predicate: &str) -> Vec<u8> {
    format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"x","digest":{{"sha256":"00"}}}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{predicate}}}"#
    )
    .into_bytes()
}

fn review(env: &str) -> Vec<u8> {
    format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"u","kind":{{"group":"","version":"v1","kind":"Pod"}},"operation":"CREATE","namespace":"ns","object":{{"metadata":{{"name":"p"}},"spec":{{"containers":[{{"name":"c","image":"r.example/i:1","env":[{env}]}}]}}}}}}}}"#
    )
    .into_bytes()
}

fn sboms(b: &[u8]) -> Result<(), String> {
    let parsed = sbom::parse(b).map(drop).map_err(|e| e.to_string());
    let validated = sbom::validate(b).map(drop).map_err(|e| e.to_string());
    parsed.and(validated)
}

const READERS: &[Reader] = &[
    Reader {
        name: "cyclonedx-json",
        read: sboms,
        shapes: &[
            Shape { name: "nested components (1.5)", make: |d| cdx_json("1.5", &cdx_nested(d), ""), valid: true },
            Shape { name: "nested components (1.6)", make: |d| cdx_json("1.6", &cdx_nested(d), ""), valid: true },
            Shape {
                name: "metadata.component children",
                make: |d| cdx_json("1.5", "", &format!(",\"components\":[{}]", cdx_nested(d))),
                valid: true,
            },
            Shape {
                name: "licence expression",
                make: |d| {
                    cdx_json(
                        "1.5",
                        &format!(r#"{{"type":"library","name":"l","licenses":[{{"expression":"{}"}}]}}"#, parens(d)),
                        "",
                    )
                },
                valid: true,
            },
            Shape {
                name: "arrays in an unknown field",
                make: |d| cdx_json("1.5", "", &format!(",\"x\":{}", arrays(d))),
                valid: false,
            },
            Shape {
                name: "objects in an unknown field",
                make: |d| cdx_json("1.6", "", &format!(",\"x\":{}", objects(d))),
                valid: false,
            },
        ],
    },
    Reader {
        name: "cyclonedx-xml",
        read: sboms,
        shapes: &[
            Shape { name: "nested components (1.5)", make: |d| cdx_xml("1.5", &cdx_xml_nested(d)), valid: true },
            Shape { name: "nested components (1.6)", make: |d| cdx_xml("1.6", &cdx_xml_nested(d)), valid: true },
            // Found by the campaign: a damaged declaration must not hide
            // the elements after it.
            Shape {
                name: "damaged declaration",
                make: |d| {
                    let doc = cdx_xml("1.6", &cdx_xml_nested(d));
                    String::from_utf8(doc).unwrap().replacen("\"?>", "\"[>", 1).into_bytes()
                },
                valid: false,
            },
            Shape {
                name: "licence expression",
                make: |d| {
                    cdx_xml(
                        "1.5",
                        &format!(
                            r#"<component type="library"><name>l</name><licenses><expression>{}</expression></licenses></component>"#,
                            parens(d)
                        ),
                    )
                },
                valid: true,
            },
            Shape {
                name: "unknown elements",
                make: |d| {
                    cdx_xml(
                        "1.5",
                        &format!(r#"<component type="library"><name>l</name>{}</component>"#, elements("x", d)),
                    )
                },
                valid: false,
            },
        ],
    },
    Reader {
        name: "spdx-json",
        read: sboms,
        shapes: &[
            Shape { name: "licence expression", make: |d| spdx_json(&parens(d), ""), valid: true },
            Shape {
                name: "arrays in an unknown field",
                make: |d| spdx_json("MIT", &format!(",\"x\":{}", arrays(d))),
                valid: false,
            },
            Shape {
                name: "objects in an annotation",
                make: |d| spdx_json("MIT", &format!(",\"annotations\":{}", objects(d))),
                valid: false,
            },
        ],
    },
    Reader {
        name: "spdx-tag-value",
        read: sboms,
        shapes: &[Shape { name: "licence expression", make: |d| spdx_tag_value(&parens(d)), valid: true }],
    },
    Reader {
        name: "spdx3",
        read: sboms,
        shapes: &[
            Shape { name: "objects in an element", make: |d| spdx3(&format!(",\"x\":{}", objects(d))), valid: false },
            Shape {
                name: "licence expression",
                make: |d| spdx3(&format!(",\"simplelicensing_licenseExpression\":\"{}\"", parens(d))),
                valid: true,
            },
        ],
    },
    Reader {
        name: "oci",
        read: |b| {
            let m = oci::parse_manifest(b).map(drop);
            let i = oci::parse_index(b).map(drop);
            let c = oci::parse_config(b).map(drop);
            // Whichever document it is, some reader must accept it.
            m.or(i).or(c).map_err(|e| format!("{}: {}", e.path, e.message))
        },
        shapes: &[
            Shape {
                name: "manifest annotations",
                make: |d| manifest(&format!(",\"annotations\":{}", objects(d))),
                valid: false,
            },
            Shape {
                name: "manifest unknown field",
                make: |d| manifest(&format!(",\"x\":{}", arrays(d))),
                valid: false,
            },
            Shape {
                name: "index manifests",
                make: |d| format!(r#"{{"schemaVersion":2,"manifests":[],"x":{}}}"#, objects(d)).into_bytes(),
                valid: false,
            },
            Shape { name: "config labels", make: |d| config(&format!(",\"Labels\":{}", objects(d))), valid: false },
            Shape { name: "config unknown field", make: |d| config(&format!(",\"x\":{}", arrays(d))), valid: false },
        ],
    },
    Reader {
        name: "in-toto",
        read: |b| {
            let s = attestation::statement(attestation::IN_TOTO, b).map(drop);
            let p = portcullis::slsa::Provenance::from_statement(b).map(drop).map_err(|e| e.to_string());
            let env = attestation::statement(attestation::DSSE_ENVELOPE, b).map(drop);
            s.and(p).or(env)
        },
        shapes: &[
            Shape { name: "predicate objects", make: |d| statement(&objects(d)), valid: false },
            Shape { name: "predicate arrays", make: |d| statement(&format!(r#"{{"x":{}}}"#, arrays(d))), valid: false },
            Shape {
                name: "DSSE envelope",
                make: |d| {
                    format!(
                        r#"{{"payloadType":"application/vnd.in-toto+json","payload":"","signatures":{}}}"#,
                        arrays(d)
                    )
                    .into_bytes()
                },
                valid: false,
            },
        ],
    },
    Reader {
        name: "sigstore-bundle",
        read: |b| {
            let expect = signature::bundle::Expectation::Key(Vec::new());
            let root = signature::trust::TrustRoot::production();
            signature::bundle::verify(b, [0u8; 32], &expect, &root).map(drop).map_err(|e| e.to_string())
        },
        shapes: &[
            Shape {
                name: "verification material",
                make: |d| {
                    format!(r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{{"x":{}}}}}"#, objects(d))
                        .into_bytes()
                },
                valid: false,
            },
            Shape {
                name: "tlog entries",
                make: |d| {
                    format!(
                        r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{{"tlogEntries":{}}}}}"#,
                        arrays(d)
                    )
                    .into_bytes()
                },
                valid: false,
            },
        ],
    },
    Reader {
        name: "admission-review",
        read: |b| {
            let review = admission::review::read(b)?;
            let request = admission::review::request_of(&review)?;
            admission::Workload::from_request(request).map(drop)
        },
        shapes: &[
            Shape {
                name: "objects in a container",
                make: |d| review(&format!(r#"{{"name":"E","value":"v","x":{}}}"#, objects(d))),
                valid: true,
            },
            Shape {
                name: "arrays in a container",
                make: |d| review(&format!(r#"{{"name":"E","x":{}}}"#, arrays(d))),
                valid: true,
            },
        ],
    },
];

fn reader(name: &str) -> &'static Reader {
    READERS.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no reader {name}"))
}

/// Whether an error says the document was refused for its depth.
fn refused_for_depth(e: &str) -> bool {
    e.contains("levels deep") || e.contains("recursion limit")
}

/// Runs `f` on a thread with the engine's smallest parser stack.
fn on_small_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new().stack_size(STACK).spawn_scoped(s, f).expect("spawn").join().expect("no panic")
    })
}

const DEEP: [usize; 9] = [200, 256, 257, 1000, 2048, 4097, 10_000, 65_537, 100_000];

/// What goes wrong for one reader (empty when nothing does).
fn check(r: &Reader) -> Vec<String> {
    let mut problems = Vec::new();
    for shape in r.shapes {
        for depth in (1..=130).chain(DEEP) {
            let doc = (shape.make)(depth);
            if std::env::var_os("PORTCULLIS_NESTING_TRACE").is_some() {
                eprintln!("{} / {} / {depth}", r.name, shape.name);
            }
            let unclosed = &doc[..doc.len() / 2 + 1];
            let (whole, half) = on_small_stack(|| ((r.read)(&doc), (r.read)(unclosed)));
            match &whole {
                Err(e) if depth <= 3 && shape.valid => {
                    problems.push(format!("{} / {}: depth {depth} should be read, got: {e}", r.name, shape.name))
                }
                Err(e) if depth <= 3 && refused_for_depth(e) => {
                    problems.push(format!("{} / {}: depth {depth} refused for depth: {e}", r.name, shape.name))
                }
                Ok(()) if depth >= 1000 => {
                    problems.push(format!("{} / {}: depth {depth} was accepted", r.name, shape.name))
                }
                Err(e) if depth >= 1000 && !refused_for_depth(e) => problems.push(format!(
                    "{} / {}: depth {depth} refused, but not for its depth (a limit must stop it first): {e}",
                    r.name, shape.name
                )),
                _ => {}
            }
            if half.is_ok() && depth >= 1000 {
                problems.push(format!("{} / {}: an unclosed document {depth} deep was accepted", r.name, shape.name));
            }
        }
    }
    problems
}

/// The child: checks the reader named by `PORTCULLIS_NESTING_READER`.
#[test]
#[ignore = "run by every_reader_survives_any_depth in a child process"]
fn child_reads_every_depth() {
    let Ok(name) = std::env::var("PORTCULLIS_NESTING_READER") else { return };
    let problems = check(reader(&name));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn run_child(test: &str, envs: &[(&str, String)]) -> std::process::Output {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--ignored", "--nocapture", "--test-threads", "1"]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run the test binary")
}

fn died(out: &std::process::Output) -> Option<String> {
    if out.status.success() {
        return None;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tail: Vec<&str> = stderr.lines().chain(stdout.lines()).filter(|l| !l.trim().is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(25)..].join("\n    ");
    Some(format!(
        "{} ({})\n    {tail}",
        out.status,
        if stderr.contains("overflow") { "stack overflow" } else { "failed" }
    ))
}

#[test]
fn every_reader_survives_any_depth() {
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = READERS
            .iter()
            .map(|r| {
                s.spawn(move || {
                    let out = run_child(
                        "nesting::child_reads_every_depth",
                        &[("PORTCULLIS_NESTING_READER", r.name.to_string())],
                    );
                    died(&out).map(|why| format!("{}: {why}", r.name))
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().expect("join")).collect()
    });
    assert!(failures.is_empty(), "readers that did not survive:\n{}", failures.join("\n"));
}

/// CPU time this thread has used.
fn thread_cpu() -> std::time::Duration {
    // SAFETY: getrusage writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    let t = usage.ru_utime;
    let s = usage.ru_stime;
    std::time::Duration::from_micros((t.tv_sec + s.tv_sec) as u64 * 1_000_000 + (t.tv_usec + s.tv_usec) as u64)
}

/// A random document of the reader's: a random shape at a log-uniform
/// depth, sometimes cut short or with random bytes flipped.
fn random_document(r: &Reader, rng: &mut rand::rngs::StdRng) -> (usize, Vec<u8>) {
    let shape = &r.shapes[rng.random_range(0..r.shapes.len())];
    let depth = (2f64.powf(rng.random_range(0.0..17.6))) as usize;
    let mut doc = (shape.make)(depth.max(1));
    match rng.next_u32() % 4 {
        0 => doc.truncate(rng.random_range(0..=doc.len())),
        1 => {
            const BYTES: &[u8] = b"[]{}()<>/\"\\,:x";
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..doc.len());
                doc[i] = BYTES[rng.random_range(0..BYTES.len())];
            }
        }
        _ => {}
    }
    (depth, doc)
}

/// The campaign child: random documents for `PORTCULLIS_NESTING_SECONDS`
/// of CPU time; prints `documents max-depth cpu-seconds`.
#[test]
#[ignore = "run by bench/nesting-campaign.sh"]
fn campaign_child() {
    let Ok(name) = std::env::var("PORTCULLIS_NESTING_READER") else { return };
    let r = reader(&name);
    let budget: u64 = std::env::var("PORTCULLIS_NESTING_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = std::env::var("PORTCULLIS_NESTING_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let (count, deepest, cpu) = on_small_stack(|| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let (mut count, mut deepest) = (0u64, 0usize);
        let start = thread_cpu();
        // To reproduce a crash: the document being read is kept here.
        let dump = std::env::var_os("PORTCULLIS_NESTING_DUMP");
        while (thread_cpu() - start).as_secs() < budget {
            let (depth, doc) = random_document(r, &mut rng);
            if let Some(path) = &dump {
                std::fs::write(path, &doc).expect("write the dump");
            }
            let _ = (r.read)(&doc);
            count += 1;
            deepest = deepest.max(depth);
        }
        (count, deepest, (thread_cpu() - start).as_secs_f64())
    });
    println!("CAMPAIGN {name} {count} {deepest} {cpu:.1}");
}

/// The campaign: every reader in its own child for
/// `PORTCULLIS_NESTING_SECONDS` CPU seconds, `PORTCULLIS_NESTING_JOBS` at a
/// time; a child that dies is reported with the seed that killed it.
#[test]
#[ignore = "run by bench/nesting-campaign.sh"]
fn campaign() {
    let seconds = std::env::var("PORTCULLIS_NESTING_SECONDS").unwrap_or_else(|_| "60".into());
    let jobs: usize = std::env::var("PORTCULLIS_NESTING_JOBS").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    let seed = std::env::var("PORTCULLIS_NESTING_SEED").unwrap_or_else(|_| "1".into());
    let queue = std::sync::Mutex::new(READERS.iter());
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                while let Some(r) = { queue.lock().unwrap().next() } {
                    let out = run_child(
                        "nesting::campaign_child",
                        &[
                            ("PORTCULLIS_NESTING_READER", r.name.to_string()),
                            ("PORTCULLIS_NESTING_SECONDS", seconds.clone()),
                            ("PORTCULLIS_NESTING_SEED", seed.clone()),
                        ],
                    );
                    let stdout = String::from_utf8_lossy(&out.stdout);
                    // libtest may have printed `test … ` on the same line first.
                    let line = stdout.lines().find_map(|l| l.find("CAMPAIGN ").map(|i| &l[i..]));
                    match line {
                        Some(line) if out.status.success() => {
                            let f: Vec<&str> = line.split_whitespace().collect();
                            println!("{:<18} {:>10} documents, deepest {:>7}, {:>7} CPU s", f[1], f[2], f[3], f[4]);
                        }
                        _ => failures.lock().unwrap().push(format!(
                            "{} (seed {seed}): {}",
                            r.name,
                            died(&out).unwrap_or_default()
                        )),
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "readers that did not survive:\n{}", failures.join("\n"));
}
