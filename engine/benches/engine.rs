//! `cargo bench --bench engine`: the engine's own speed, printed next to the
//! targets of issue #2 (not asserted: timing belongs here, not in tests).
//!
//! - warm evaluation: `Engine::audit` of one image with the config pack
//!   (image-config only, the issue #2 target) and with the whole default pack
//!   (fresh sandboxed instance per plugin call, verdict and report included);
//! - the plugin call alone (instantiate + evaluate of the image-config plugin);
//! - cold start: `Engine::new` for the default policy with the component cache
//!   warm on disk (new wasmtime engine, deserialise, pre-instantiate, metadata);
//! - cold start with an empty cache (cranelift compiles the components).

use portcullis::{Engine, EngineOptions, Policy};
use std::time::{Duration, Instant};

fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let n = v.len();
    (v[n / 2], v[(n * 99) / 100], v[0])
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

fn line(name: &str, samples: Vec<Duration>, target: Option<Duration>) {
    let (med, p99, min) = stats(samples);
    let verdict = match target {
        Some(t) => format!(
            "target {} → {:.2}x of target ({})",
            fmt(t),
            med.as_secs_f64() / t.as_secs_f64(),
            if med <= t { "met" } else { "MISSED" }
        ),
        None => String::new(),
    };
    println!("{name:<44} median {:>10}  p99 {:>10}  min {:>10}  {verdict}", fmt(med), fmt(p99), fmt(min));
}

fn main() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/images/oci/go-static-good");
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample-image");
    let path = if shared.is_dir() { shared } else { sample };
    let cache = tempfile::tempdir().unwrap();
    let options = || EngineOptions { cache_dir: Some(cache.path().to_path_buf()), today: None, ..Default::default() };

    // Cold, empty cache (compiles every builtin component).
    let start = Instant::now();
    let engine = Engine::new(Policy::builtin_default(), options()).unwrap();
    let compile = start.elapsed();
    drop(engine);

    let cold: Vec<Duration> = (0..30)
        .map(|_| {
            let start = Instant::now();
            let e = Engine::new(Policy::builtin_default(), options()).unwrap();
            let t = start.elapsed();
            drop(e);
            t
        })
        .collect();

    let input = portcullis::source::open(&path, &Default::default()).unwrap();
    let config_pack = Policy::parse(
        "config-pack.toml",
        "[policy]\nname = \"config\"\nversion = \"1\"\n[plugins.image-config]\n",
        None,
    )
    .unwrap();
    let warm = |policy: Policy| -> Vec<Duration> {
        let engine = Engine::new(policy, options()).unwrap();
        for _ in 0..200 {
            std::hint::black_box(engine.audit(&input));
        }
        (0..3000)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(engine.audit(&input));
                start.elapsed()
            })
            .collect()
    };
    let warm_config = warm(config_pack);
    let warm_default = warm(Policy::builtin_default());
    let open: Vec<Duration> = (0..2000)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(portcullis::source::open(&path, &Default::default()).unwrap());
            start.elapsed()
        })
        .collect();

    println!("portcullis engine bench — input {}", path.display());
    println!("machine: {} cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    line("warm: config pack (1 plugin, 7 rules)", warm_config, Some(Duration::from_micros(20)));
    line("warm: default pack (4 plugins, 30 rules)", warm_default, None);
    line("cold start from on-disk cache: Engine::new", cold, Some(Duration::from_millis(20)));
    line("cold start, empty cache (cranelift compile)", vec![compile], None);
    line("open + verify + scan layers of the input", open, None);
}
