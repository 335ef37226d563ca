//! `cargo bench --bench signatures`: Sigstore bundles verified per second,
//! offline, on every core (issue #4 target: ≥ 2,000/s on 2 cores), for
//! three shapes: a Rekor v1 `hashedrekord` bundle (public-good root), a
//! Rekor v2 bundle with an RFC 3161 timestamp, and SLSA provenance (DSSE,
//! `dsse` entry). `bench/signatures.sh` prints this next to the reference
//! Python client (`sigstore verify identity --offline`) on the same bundle.
//!
//! Inputs come from `../shared/corpus` (or `$PORTCULLIS_SHARED/corpus`).

use portcullis::signature::bundle::{Expectation, verify};
use portcullis::signature::identity::{Identity, Matcher};
use portcullis::signature::trust::TrustRoot;
use rayon::prelude::*;
use sha2::Digest as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn corpus() -> PathBuf {
    std::env::var_os("PORTCULLIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
        .join("corpus")
}

struct Case {
    name: &'static str,
    bundle: Vec<u8>,
    digest: [u8; 32],
    root: TrustRoot,
    expect: Expectation,
}

fn identity(san: &str, issuer: &str) -> Expectation {
    Expectation::Identity(Identity { san: Matcher::regex(san).unwrap(), issuer: Matcher::Exact(issuer.into()) })
}

fn main() {
    let c = corpus();
    let conf = c.join("sigstore-conformance/test/assets");
    let a_txt = std::fs::read(conf.join("a.txt")).unwrap();
    let beacon = "https://github\\.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.*";
    let gha = "https://token.actions.githubusercontent.com";
    let go = c.join("slsa-verifier/cli/slsa-verifier/testdata/gha_go/v2.1.0");
    let cases = vec![
        Case {
            name: "Rekor v1 hashedrekord (happy-path-v0.3)",
            bundle: std::fs::read(conf.join("bundle-verify/happy-path-v0.3/bundle.sigstore.json")).unwrap(),
            digest: sha2::Sha256::digest(&a_txt).into(),
            root: TrustRoot::production(),
            expect: identity(beacon, gha),
        },
        Case {
            name: "Rekor v2 + RFC 3161 (rekor2-checkpoint-multiple-cosigs)",
            bundle: std::fs::read(conf.join("bundle-verify/rekor2-checkpoint-multiple-cosigs/bundle.sigstore.json"))
                .unwrap(),
            digest: sha2::Sha256::digest(&a_txt).into(),
            root: TrustRoot::parse(
                &std::fs::read_to_string(
                    conf.join("bundle-verify/rekor2-checkpoint-multiple-cosigs/trusted_root.json"),
                )
                .unwrap(),
            )
            .unwrap(),
            expect: identity(beacon, gha),
        },
        Case {
            name: "SLSA provenance, DSSE (gha_go v2.1.0)",
            bundle: std::fs::read(go.join("binary-linux-amd64-push-v14.2.intoto.jsonl")).unwrap(),
            digest: sha2::Sha256::digest(std::fs::read(go.join("binary-linux-amd64-push-v14.2")).unwrap()).into(),
            root: TrustRoot::production(),
            expect: identity("https://github\\.com/slsa-framework/.*", gha),
        },
    ];
    let threads = rayon::current_num_threads();
    println!("bundles verified offline ({threads} threads, release)");
    for case in &cases {
        verify(&case.bundle, case.digest, &case.expect, &case.root).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        // Latency: one thread.
        let n = 200;
        let start = Instant::now();
        for _ in 0..n {
            verify(&case.bundle, case.digest, &case.expect, &case.root).unwrap();
        }
        let one = start.elapsed() / n;
        // Throughput: every core, for about two seconds.
        let batch = 2000usize;
        let start = Instant::now();
        let mut done = 0usize;
        while start.elapsed() < Duration::from_secs(2) {
            (0..batch).into_par_iter().for_each(|_| {
                verify(&case.bundle, case.digest, &case.expect, &case.root).unwrap();
            });
            done += batch;
        }
        let rate = done as f64 / start.elapsed().as_secs_f64();
        println!(
            "  {:<55} {:>8.0} bundles/s   {:>7.1} µs/bundle on one thread",
            case.name,
            rate,
            one.as_secs_f64() * 1e6
        );
    }
}
