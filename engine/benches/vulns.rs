//! `cargo bench --bench vulns`: the offline vulnerability database (issue
//! #16 targets: import of the Go vulnerability database ≤ 2 s; matching a
//! scanned image ≤ 5 ms on top of the scan). Prints medians of several
//! rounds, and the scan of the same image for scale.
//!
//! Inputs: PORTCULLIS_BENCH_VULNDB (OSV folders, `:`-separated; default
//! ../shared/corpus/go-vulndb/data/osv) and PORTCULLIS_BENCH_IMAGES (OCI
//! layouts, `:`-separated; default the shared go-legacy-debug and
//! go-dynamic-root images, and /tmp/bench/images/oci/debian-fat when built).

use portcullis::vuln::matcher::{self, Platform};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

fn main() {
    let sources: Vec<PathBuf> = match std::env::var("PORTCULLIS_BENCH_VULNDB") {
        Ok(v) => v.split(':').map(PathBuf::from).collect(),
        Err(_) => vec![shared().join("corpus/go-vulndb/data/osv")],
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("bench.redb");
    let mut times = Vec::new();
    let mut records = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let done = portcullis::vuln::db::import(&sources, &out, false).unwrap_or_else(|e| panic!("{e}"));
        times.push(t.elapsed());
        records = done.info.records;
    }
    let import = median(times);
    println!("import: {records} records in {:.3} s (median of 5; target ≤ 2 s)", import.as_secs_f64());
    let db = portcullis::vuln::VulnDb::open(&out).expect("open");

    let images: Vec<PathBuf> = match std::env::var("PORTCULLIS_BENCH_IMAGES") {
        Ok(v) => v.split(':').map(PathBuf::from).collect(),
        Err(_) => {
            let mut v = vec![shared().join("images/oci/go-legacy-debug"), shared().join("images/oci/go-dynamic-root")];
            let fat = PathBuf::from("/tmp/bench/images/oci/debian-fat");
            if fat.is_dir() {
                v.push(fat);
            }
            v
        }
    };
    for image in images {
        let t = Instant::now();
        let input = portcullis::source::open(&image, &Default::default()).unwrap_or_else(|e| panic!("{e}"));
        let scan_time = t.elapsed();
        for e in &input.evidence {
            let portcullis::evidence::Evidence::Image(i) = e else { continue };
            let platform = Platform { os: i.config.os.clone(), arch: i.config.architecture.clone() };
            let mut times = Vec::new();
            let mut found = 0;
            let mut looked = 0;
            for _ in 0..50 {
                let t = Instant::now();
                let m = matcher::image(&db, i.scan.as_deref(), None, &platform);
                times.push(t.elapsed());
                found = m.matches.len();
                looked = m.looked_up;
            }
            let t = median(times);
            println!(
                "match {}: {found} vulnerabilities, {looked} packages looked up in {:.3} ms (median of 50; target ≤ 5 ms); open+scan {:.0} ms",
                image.file_name().unwrap_or_default().to_string_lossy(),
                t.as_secs_f64() * 1e3,
                scan_time.as_secs_f64() * 1e3
            );
        }
    }
}
