//! The hardware limit for `bench/scan.sh`: decompress every layer of an image
//! in parallel on all cores with the same decompressor the scanner uses
//! (flate2 + zlib-rs, zstd), discarding the output. No hashing, no tar
//! parsing: nothing a real scan could skip.
//!
//!     cargo run --release --example inflate_layers -- IMAGE

use rayon::prelude::*;
use std::io::{BufRead, BufReader, Read};

fn main() {
    let path = std::env::args().nth(1).expect("usage: inflate_layers IMAGE");
    let opts = portcullis::source::OpenOptions { skip_layers: true, ..Default::default() };
    let input = portcullis::source::open(path.as_ref(), &opts).expect("open");
    let dir = std::path::Path::new(&path);
    let layers: Vec<String> = input
        .evidence
        .iter()
        .filter_map(|e| match e {
            portcullis::evidence::Evidence::Image(i) => Some(i),
            _ => None,
        })
        .flat_map(|i| i.layers.iter().map(|l| format!("blobs/{}/{}", l.digest.algorithm(), l.digest.encoded())))
        .collect();
    let total: u64 = layers
        .par_iter()
        .map(|name| {
            let mut r = BufReader::with_capacity(256 << 10, std::fs::File::open(dir.join(name)).expect("layer blob"));
            let magic = r.fill_buf().expect("read").to_vec();
            let mut sink = std::io::sink();
            if magic.starts_with(&[0x1f, 0x8b]) {
                std::io::copy(&mut flate2::bufread::MultiGzDecoder::new(r), &mut sink).expect("gunzip")
            } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
                std::io::copy(&mut zstd::stream::read::Decoder::with_buffer(r).expect("zstd"), &mut sink)
                    .expect("unzstd")
            } else {
                let mut buf = vec![0u8; 1 << 20];
                let mut n = 0u64;
                loop {
                    let k = r.read(&mut buf).expect("read");
                    if k == 0 {
                        break n;
                    }
                    n += k as u64;
                }
            }
        })
        .sum();
    println!("{} layers, {total} bytes inflated", layers.len());
}
