//! Mutation campaigns against every parser of untrusted image input — tar
//! streams (and the merge that follows), OCI JSON documents, `docker save`
//! manifests, ELF files and Go build info — with no panic allowed.
//!
//! The mutations know the formats: a tar header is edited field by field
//! (mode, size, type, magic, prefix, long-name and PAX records) and its
//! checksum recomputed, so the mutant reaches the logic behind the checksum;
//! JSON is edited key by key (case variants, duplicates, type swaps); ELF
//! and build-info mutations aim at headers, tables and the build-info blob.
//! A campaign is a random search, not a coverage-guided one.
//!
//! `short_campaigns_never_panic` runs every target briefly on each test run;
//! `campaign` (ignored) runs one target for as long as asked:
//!
//!   bash bench/parser-campaign.sh [SECONDS=600] [JOBS=2] [SEED=1]
//!
//! A panicking input is written to `$PORTCULLIS_FUZZ_CRASHES` (default a
//! temp dir) and named; it becomes a regression case below.

use crate::mutations::Rng;
use crate::support::{self, craft::*};
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Generic byte mutations: flips, interesting values, truncation, splices.
fn bytes(rng: &mut Rng, d: &mut Vec<u8>) {
    if d.is_empty() {
        d.push(rng.next() as u8);
        return;
    }
    match rng.below(6) {
        0 => {
            for _ in 0..=rng.below(8) {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
        }
        1 => {
            let i = rng.below(d.len());
            d[i] = *rng.pick(&[0, 0x7f, 0x80, 0xff, b'/', b'.', b' ', b'0', b'7', b'"', b'{', b'\\']);
        }
        2 => d.truncate(rng.below(d.len())),
        3 => {
            let (a, b) = (rng.below(d.len()), rng.below(d.len()));
            let (lo, hi) = (a.min(b), a.max(b).min(a.min(b) + 4096));
            let chunk = d[lo..hi].to_vec();
            let at = rng.below(d.len());
            d.splice(at..at, chunk);
        }
        4 => {
            let (a, b) = (rng.below(d.len()), rng.below(d.len()));
            let (lo, hi) = (a.min(b), a.max(b));
            d.drain(lo..hi.min(lo + 512));
        }
        _ => {
            let i = rng.below(d.len());
            let n = rng.below(16).min(d.len() - i);
            for b in &mut d[i..i + n] {
                *b = rng.next() as u8;
            }
        }
    }
}

/// Offsets of the blocks of `tar` whose checksum is valid: the headers.
fn header_blocks(tar: &[u8]) -> Vec<usize> {
    (0..tar.len() / BLOCK)
        .map(|i| i * BLOCK)
        .filter(|&o| {
            let b = &tar[o..o + BLOCK];
            let sum: u32 =
                b.iter().enumerate().map(|(i, &c)| if (148..156).contains(&i) { 32 } else { u32::from(c) }).sum();
            let field = String::from_utf8_lossy(&b[148..156]).trim_matches(|c| c == ' ' || c == '\0').to_string();
            sum > 256 && u32::from_str_radix(&field, 8).ok() == Some(sum)
        })
        .collect()
}

fn fix_checksum(b: &mut [u8]) {
    b[148..156].copy_from_slice(b"        ");
    let sum: u32 = b.iter().map(|&c| u32::from(c)).sum();
    b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// Tar mutations: a header field edited and the checksum made valid again.
fn tar(rng: &mut Rng, d: &mut Vec<u8>) {
    let headers = header_blocks(d);
    if headers.is_empty() || rng.below(5) == 0 {
        return bytes(rng, d);
    }
    let o = *rng.pick(&headers);
    let b = &mut d[o..o + BLOCK];
    let octal = |v: u64, w: usize| format!("{v:0w$o}\0", w = w - 1).into_bytes();
    match rng.below(9) {
        0 => b[100..108].copy_from_slice(&octal(*rng.pick(&[0o4755, 0o6777, 0o777, 0, 0o7777]), 8)),
        1 => {
            let v = *rng.pick(&[0u64, 1, 511, 512, 513, 1 << 20, u64::from(u32::MAX), 0o77777777777]);
            b[124..136].copy_from_slice(&octal(v.min(0o77777777777), 12));
        }
        2 => {
            b[156] = *rng.pick(&[0, b'0', b'1', b'2', b'3', b'5', b'6', b'7', b'g', b'x', b'L', b'K', b'S', b'V', b'D'])
        }
        3 => {
            let options: [[u8; 8]; 3] = [*b"ustar\x0000", *b"ustar  \0", [0u8; 8]];
            let v: &[u8; 8] = rng.pick(&options);
            b[257..265].copy_from_slice(v);
        }
        4 => {
            let options: [&[u8]; 5] = [b"etc", b"../..", b"/abs", b"a/b/c", b""];
            let p = *rng.pick(&options);
            b[345..500].fill(0);
            b[345..345 + p.len()].copy_from_slice(p);
        }
        5 => b[100..108].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0x0d, 0xed]),
        6 => {
            let options: [[u8; 8]; 3] = [[0xff; 8], [0x80, 0, 0, 0, 0, 0, 0, 0], *b"0000000\0"];
            let v: &[u8; 8] = rng.pick(&options);
            b[108..116].copy_from_slice(v);
        }
        7 => {
            let options: [&[u8]; 6] = [b"etc/passwd", b"./", b".wh..wh..opq", b"a/.wh.b", b"\xff\xfe", b"x/../y"];
            let n = *rng.pick(&options);
            b[..100].fill(0);
            b[..n.len()].copy_from_slice(n);
        }
        _ => {
            let i = rng.below(BLOCK);
            b[i] = rng.next() as u8;
        }
    }
    if rng.below(8) != 0 {
        fix_checksum(b);
    }
}

/// JSON mutations at the level of keys and values, then bytes.
fn json(rng: &mut Rng, d: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(d).into_owned();
    let keys: Vec<usize> = text.match_indices("\":").map(|(i, _)| i).collect();
    if keys.is_empty() || rng.below(4) == 0 {
        return bytes(rng, d);
    }
    let at = *rng.pick(&keys);
    let Some(start) = text[..at].rfind('"') else {
        return bytes(rng, d);
    };
    let key = &text[start + 1..at];
    let edited = match rng.below(6) {
        0 => format!("{}{}", text[..start + 1].to_string() + &key.to_uppercase(), &text[at..]),
        1 => format!("{}{}", text[..start + 1].to_string() + &key.replace('s', "\u{017f}"), &text[at..]),
        2 => {
            // Duplicate the key with another value.
            format!("{}\"{key}\":null,{}", &text[..start], &text[start..])
        }
        3 => format!("{}{}", &text[..at + 2], text[at + 2..].replacen(['"', '[', '{'], "1", 1)),
        4 => format!("{}{}", &text[..at + 2], text[at + 2..].replacen(|c: char| c.is_ascii_digit(), "-", 1)),
        _ => format!("{}{}", &text[..at + 2], text[at + 2..].replacen('"', "\"\\ud800", 1)),
    };
    *d = edited.into_bytes();
}

/// ELF mutations: headers, tables, or bytes near the Go build info.
fn elf(rng: &mut Rng, d: &mut Vec<u8>) {
    let magic = b"\xff Go buildinf:";
    let info = memchr_find(d, magic);
    match (rng.below(4), info) {
        (0 | 1, Some(i)) => {
            for _ in 0..=rng.below(4) {
                let j = (i + rng.below(64 << 10)).min(d.len() - 1);
                let any = rng.next() as u8;
                d[j] = *rng.pick(&[0, 0x7f, 0x80, 0xff, any]);
            }
        }
        (2, _) => {
            let j = rng.below(d.len().min(512));
            d[j] = rng.next() as u8;
        }
        _ => bytes(rng, d),
    }
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One target: its seeds, its mutator and the parser it drives.
struct Target {
    name: &'static str,
    seeds: Vec<Vec<u8>>,
    mutate: fn(&mut Rng, &mut Vec<u8>),
    run: fn(&[u8]),
}

fn run_tar(data: &[u8]) {
    let mut r = portcullis::tarstream::Reader::new(data);
    while let Ok(Some(_)) = r.next_entry() {
        let _ = std::io::copy(&mut r.content().take(1 << 20), &mut std::io::sink());
    }
    let limits = portcullis::scan::ScanLimits { hash_contents: true, ..Default::default() };
    if let Ok(entries) = portcullis::scan::list_layer(Box::new(std::io::Cursor::new(data.to_vec())), &limits) {
        let _ = portcullis::scan::fs::MergedFs::build(&[&entries, &entries]);
    }
}

fn run_oci(data: &[u8]) {
    let _ = portcullis::oci::parse_manifest(data);
    let _ = portcullis::oci::parse_index(data);
    let _ = portcullis::oci::parse_config(data);
    let _ = portcullis::oci::parse_descriptor(data);
    let _ = portcullis::oci::sniff_media_type(data);
}

/// A docker archive around the mutated manifest.json, read as an input.
fn run_docker(data: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("a.tar");
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"]}}"#;
    let tar = RawTar::new()
        .file("manifest.json", data)
        .file("config.json", config)
        .file("layer.tar", &[0u8; 1024])
        .file("repositories", br#"{"app":{"v1":"x"}}"#)
        .finish();
    std::fs::write(&archive, tar).unwrap();
    let opts = portcullis::source::OpenOptions { skip_layers: true, ..Default::default() };
    let _ = portcullis::source::open(&archive, &opts);
}

fn run_elf(data: &[u8]) {
    let _ = portcullis::scan::elf::analyse(data);
}

fn layer_of(layout: &str, index: usize) -> Vec<u8> {
    let d = Derived::of(layout);
    let digest = d.manifest["layers"][index]["digest"].as_str().unwrap().to_string();
    let blob = std::fs::read(support::image(&format!("oci/{layout}/blobs/sha256/{}", &digest[7..]))).unwrap();
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(blob.as_slice()).read_to_end(&mut tar).unwrap();
    tar
}

/// The Go ELF of a fixture layer.
fn go_binary() -> Vec<u8> {
    let tar = layer_of("go-legacy-debug", 0);
    let mut r = portcullis::tarstream::Reader::new(tar.as_slice());
    while let Some(e) = r.next_entry().unwrap() {
        if e.name.ends_with(b"app/hello") {
            let mut b = Vec::new();
            r.content().read_to_end(&mut b).unwrap();
            return b;
        }
    }
    panic!("no app/hello in go-legacy-debug")
}

fn targets() -> Vec<Target> {
    let crafted = |t: RawTar| t.finish();
    let tar_seeds = vec![
        layer_of("go-static-good", 0),
        crafted(
            RawTar::new().gnu_long(b'L', "bin/sh", Dialect::V7).entry(Header::file("x").dialect(Dialect::V7), b"#!"),
        ),
        crafted(RawTar::new().pax(&[("path", "etc/shadow"), ("uid", "0")], Dialect::Ustar).file("x", b"root")),
        crafted(
            RawTar::new()
                .dir("usr")
                .entry(Header::symlink("b", "usr"), b"")
                .file("b/x", b"1")
                .entry(Header::hardlink("c", "b/x"), b""),
        ),
        crafted(
            RawTar::new()
                .dir("d")
                .file("d/.wh..wh..opq", b"")
                .file("d/.wh.x", b"")
                .entry(Header::file("s").prefix("p").dialect(Dialect::Star), b"1"),
        ),
    ];
    let fixture = |layout: &str| {
        let d = Derived::of(layout);
        vec![serde_json::to_vec(&d.manifest).unwrap(), serde_json::to_vec(&d.config).unwrap()]
    };
    let mut oci_seeds = fixture("go-static-good");
    oci_seeds.extend(fixture("go-dynamic-root"));
    oci_seeds.push(std::fs::read(support::image("oci/go-static-multiarch/index.json")).unwrap());
    let docker_seeds = vec![br#"[{"Config":"config.json","RepoTags":["app:v1"],"Layers":["layer.tar"]}]"#.to_vec()];
    let go = go_binary();
    vec![
        Target { name: "tar", seeds: tar_seeds, mutate: tar, run: run_tar },
        Target { name: "oci-json", seeds: oci_seeds, mutate: json, run: run_oci },
        Target { name: "docker-manifest", seeds: docker_seeds, mutate: json, run: run_docker },
        Target { name: "elf", seeds: vec![go.clone()], mutate: bytes, run: run_elf },
        Target { name: "build-info", seeds: vec![go], mutate: elf, run: run_elf },
    ]
}

/// CPU seconds this thread has used (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum();
    ticks / 100.0
}

/// Runs `target` until `seconds` of CPU time or `max` executions; returns
/// (executions, CPU seconds, crashing inputs written).
fn campaign_of(target: &Target, seconds: f64, max: u64, seed: u64) -> (u64, f64, Vec<String>) {
    let mut rng = Rng(seed | 1);
    let start = cpu_seconds();
    let (mut execs, mut crashes) = (0u64, Vec::new());
    let dir =
        std::env::var_os("PORTCULLIS_FUZZ_CRASHES").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let mut pool: Vec<Vec<u8>> = target.seeds.clone();
    while execs < max && cpu_seconds() - start < seconds {
        let mut input = rng.pick(&pool).clone();
        for _ in 0..=rng.below(3) {
            (target.mutate)(&mut rng, &mut input);
        }
        let run = target.run;
        let data = input.clone();
        if catch_unwind(AssertUnwindSafe(move || run(&data))).is_err() {
            let path = dir.join(format!("crash-{}-{seed}-{execs}.bin", target.name));
            std::fs::write(&path, &input).unwrap();
            crashes.push(path.display().to_string());
        } else if pool.len() < 64 && rng.below(16) == 0 {
            pool.push(input); // keep some mutants to mutate further
        }
        execs += 1;
    }
    (execs, cpu_seconds() - start, crashes)
}

#[test]
fn short_campaigns_never_panic() {
    for t in targets() {
        let (execs, _, crashes) =
            campaign_of(&t, 30.0, if t.name.contains("elf") || t.name == "build-info" { 40 } else { 300 }, 7);
        assert!(execs > 0);
        assert!(crashes.is_empty(), "{}: inputs that panic: {crashes:?}", t.name);
    }
}

#[test]
#[ignore = "a long campaign: bash bench/parser-campaign.sh"]
fn campaign() {
    let name = std::env::var("PORTCULLIS_FUZZ_TARGET").expect("PORTCULLIS_FUZZ_TARGET");
    let seconds: f64 = std::env::var("PORTCULLIS_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60.0);
    let seed: u64 = std::env::var("PORTCULLIS_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let t = targets().into_iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no target {name}"));
    let (execs, cpu, crashes) = campaign_of(&t, seconds, u64::MAX, seed);
    println!("campaign {name}: {execs} executions in {cpu:.0} CPU s (seed {seed}), {} crashes", crashes.len());
    for c in &crashes {
        println!("  crash: {c}");
    }
    assert!(crashes.is_empty());
}
