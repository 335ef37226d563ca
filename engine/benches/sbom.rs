//! `cargo bench --bench sbom`: SBOM parsing, validation and the SBOM rules on
//! the SBOMs syft writes for the large `debian-fat` image (issue #5 target:
//! parse + evaluate ≤ 100 ms per document). `bench/sbom.sh` runs this next to
//! pyspdxtools and cyclonedx-python-lib on the same files.
//!
//! Inputs: PORTCULLIS_BENCH_IMAGE (an OCI layout, default
//! /tmp/bench/images/oci/debian-fat) and PORTCULLIS_BENCH_SBOMS (a directory
//! of `*.spdx.json`, `*.cdx.json`, `*.cdx.xml`, default /tmp/sbombench).

use portcullis::sbom::{self, Attached};
use portcullis::{Engine, EngineOptions, Policy};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counts heap bytes in use and their peak, to report the memory a parse
/// takes as a multiple of the document's size (issue #13: a small one).
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let p = unsafe { std::alloc::System.alloc(layout) };
        if !p.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(p, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The peak heap growth while `f` runs, in bytes.
fn peak_of<T>(f: impl FnOnce() -> T) -> usize {
    let base = IN_USE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    drop(out);
    peak
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn time<T>(rounds: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..rounds)
            .map(|_| {
                let s = Instant::now();
                std::hint::black_box(f());
                s.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let image =
        PathBuf::from(std::env::var("PORTCULLIS_BENCH_IMAGE").unwrap_or("/tmp/bench/images/oci/debian-fat".into()));
    let dir = PathBuf::from(std::env::var("PORTCULLIS_BENCH_SBOMS").unwrap_or("/tmp/sbombench".into()));
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.retain(|f| f.extension().is_some_and(|e| e == "json" || e == "xml"));
    files.sort();
    if files.is_empty() || !image.is_dir() {
        eprintln!("no SBOMs in {} or no image at {}: run bench/sbom.sh", dir.display(), image.display());
        return;
    }
    let policy =
        Policy::from_file(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/supply-chain.toml")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        policy,
        EngineOptions { cache_dir: Some(cache.path().to_path_buf()), today: None, ..Default::default() },
    )
    .unwrap();
    // The layer scan is the audit's business, not the SBOM's: scan once.
    let input = portcullis::source::open(&image, &Default::default()).unwrap();
    println!(
        "{:<28} {:>9} {:>10} {:>11} {:>10} {:>16} {:>10}",
        "file", "size", "parse", "parse heap", "validate", "parse+evaluate", "target"
    );
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let rounds = 15;
        let parse = time(rounds, || sbom::parse(&bytes).unwrap());
        let heap = peak_of(|| sbom::parse(&bytes).unwrap()) as f64 / bytes.len() as f64;
        let validate = time(rounds, || sbom::validate(&bytes).unwrap());
        let evaluate = time(rounds, || {
            let mut input = input.clone();
            input.supply_sboms(&Attached::from_files(std::slice::from_ref(f), sbom::DEFAULT_MAX_BYTES));
            engine.audit(&input)
        });
        let report = {
            let mut i = input.clone();
            i.supply_sboms(&Attached::from_files(std::slice::from_ref(f), sbom::DEFAULT_MAX_BYTES));
            engine.audit(&i)
        };
        let outcomes: Vec<String> =
            report.subjects[0].findings.iter().map(|x| format!("{}={}", x.rule, x.outcome)).collect();
        println!(
            "{:<28} {:>7.1}MB {:>10} {:>10.1}x {:>10} {:>16} {:>10}  {}",
            f.file_name().unwrap().to_string_lossy(),
            bytes.len() as f64 / 1e6,
            ms(parse),
            heap,
            ms(validate),
            ms(evaluate),
            if evaluate <= Duration::from_millis(100) { "≤100 ms met" } else { "MISSED" },
            outcomes.join(" ")
        );
    }
}
