//! Untrusted input never panics: real fixtures with random bytes flipped,
//! truncated or spliced are pushed through the ELF analyser, the layer
//! scanner and the input readers. Each must return a result or an error.

use crate::support;

use std::path::Path;

/// xorshift64*: deterministic, so a failure reproduces (also drives the
/// parser campaigns).
pub(crate) struct Rng(pub(crate) u64);
impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn mutate(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    match rng.below(4) {
        0 => {
            for _ in 0..=rng.below(16) {
                let i = rng.below(d.len());
                d[i] = rng.next() as u8;
            }
        }
        1 => d.truncate(rng.below(d.len())),
        2 => {
            // Overwrite a header-sized window near the start, where structure lives.
            let i = rng.below(d.len().min(4096));
            for b in d.iter_mut().skip(i).take(64) {
                *b = rng.next() as u8;
            }
        }
        _ => {
            let (a, b) = (rng.below(d.len()), rng.below(d.len()));
            let (lo, hi) = (a.min(b), a.max(b));
            d.drain(lo..hi.min(lo + 256));
        }
    }
    d
}

fn go_binary_bytes() -> Vec<u8> {
    // The uncompressed docker-archive layer of go-legacy-debug holds /app/hello.
    let tar = support::image("docker-archive/go-legacy-debug.tar");
    let mut outer = tar::Archive::new(std::fs::File::open(tar).unwrap());
    for e in outer.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy().ends_with(".tar") || e.header().size().unwrap() > 1 << 20 {
            let mut layer = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut layer).unwrap();
            let mut inner = tar::Archive::new(layer.as_slice());
            for f in inner.entries().unwrap() {
                let mut f = f.unwrap();
                if f.path().unwrap().ends_with("hello") {
                    let mut bin = Vec::new();
                    std::io::Read::read_to_end(&mut f, &mut bin).unwrap();
                    return bin;
                }
            }
        }
    }
    panic!("no /app/hello in the fixture")
}

#[test]
fn mutated_elf_files_never_panic() {
    let bin = go_binary_bytes();
    let clean = portcullis::scan::elf::analyse(&bin);
    assert_eq!(clean.go.as_ref().map(|g| g.go_version.as_str()), Some("go1.19.8"));
    let mut rng = Rng(0x5eed_0001);
    for _ in 0..300 {
        let m = mutate(&mut rng, &bin);
        let _ = portcullis::scan::elf::analyse(&m);
    }
}

#[test]
fn mutated_layers_and_documents_never_panic() {
    let src = support::image("oci/go-static-good");
    let mut rng = Rng(0x5eed_0002);
    let blobs: Vec<std::path::PathBuf> =
        std::fs::read_dir(src.join("blobs/sha256")).unwrap().map(|e| e.unwrap().path()).collect();
    for round in 0..40 {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("l");
        support::copy_dir(&src, &layout);
        // Mutate one blob (a manifest, the config, or a layer) or index.json.
        let target = if round % 5 == 0 {
            layout.join("index.json")
        } else {
            layout.join("blobs/sha256").join(blobs[rng.below(blobs.len())].file_name().unwrap())
        };
        let data = std::fs::read(&target).unwrap();
        std::fs::write(&target, mutate(&mut rng, &data)).unwrap();
        // Either an input error or evidence (possibly unreadable): never a panic.
        if let Ok(input) = portcullis::source::open(&layout, &Default::default()) {
            assert!(!input.evidence.is_empty());
        }
    }
}

#[test]
fn mutated_docker_archives_never_panic() {
    let src = std::fs::read(support::image("docker-archive/go-static-good.tar")).unwrap();
    let mut rng = Rng(0x5eed_0003);
    let dir = tempfile::tempdir().unwrap();
    for i in 0..40 {
        let p = dir.path().join(format!("m{i}.tar"));
        std::fs::write(&p, mutate(&mut rng, &src)).unwrap();
        let _ = portcullis::source::open(Path::new(&p), &Default::default());
    }
}
