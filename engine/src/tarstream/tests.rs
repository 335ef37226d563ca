//! The decisions of `archive/tar` that the `tar` crate makes differently,
//! one by one. (The end-to-end differential tests compare whole images
//! against the real Go reader.)

use super::*;

/// A header block: fields given as raw bytes, checksum computed.
fn block(name: &[u8], typeflag: u8, size: u64, magic: &[u8], patch: &[(usize, &[u8])]) -> Vec<u8> {
    let mut b = vec![0u8; BLOCK];
    b[..name.len()].copy_from_slice(name);
    b[100..108].copy_from_slice(b"0000644\0");
    b[108..116].copy_from_slice(b"0000000\0");
    b[116..124].copy_from_slice(b"0000000\0");
    b[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    b[136..148].copy_from_slice(b"00000000000\0");
    b[156] = typeflag;
    b[257..257 + magic.len()].copy_from_slice(magic);
    for (at, bytes) in patch {
        b[*at..*at + bytes.len()].copy_from_slice(bytes);
    }
    b[148..156].copy_from_slice(b"        ");
    let sum: u32 = b.iter().map(|&c| u32::from(c)).sum();
    b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    b
}

fn data(bytes: &[u8]) -> Vec<u8> {
    let mut d = bytes.to_vec();
    d.resize(bytes.len().div_ceil(BLOCK) * BLOCK, 0);
    d
}

const USTAR: &[u8] = b"ustar\x0000";
const GNU: &[u8] = b"ustar  \0";

fn read_all(parts: &[Vec<u8>]) -> Result<Vec<(Entry, Vec<u8>)>, Error> {
    let mut tar: Vec<u8> = parts.concat();
    tar.extend([0u8; 1024]);
    let mut r = Reader::new(tar.as_slice());
    let mut out = Vec::new();
    while let Some(e) = r.next_entry()? {
        let mut content = Vec::new();
        r.content().read_to_end(&mut content)?;
        out.push((e, content));
    }
    Ok(out)
}

fn names(parts: &[Vec<u8>]) -> Vec<String> {
    read_all(parts).unwrap().iter().map(|(e, _)| String::from_utf8_lossy(&e.name).into_owned()).collect()
}

#[test]
fn gnu_long_name_applies_even_in_a_v7_header() {
    let long = b"etc/sudoers.d/zz\0";
    let parts =
        [block(b"././@LongLink", b'L', long.len() as u64, b"", &[]), data(long), block(b"x", b'0', 0, b"", &[])];
    assert_eq!(names(&parts), ["etc/sudoers.d/zz"]);
}

#[test]
fn pax_path_applies_even_in_a_v7_header() {
    let rec = b"19 path=etc/shadow\n";
    let parts = [block(b"pax", b'x', rec.len() as u64, b"", &[]), data(rec), block(b"decoy", b'0', 0, b"", &[])];
    assert_eq!(names(&parts), ["etc/shadow"]);
}

#[test]
fn base256_mode_keeps_the_setuid_bit() {
    let mode: &[u8] = &[0x80, 0, 0, 0, 0, 0, 0x09, 0xed];
    let parts = [block(b"usr/bin/su", b'0', 0, USTAR, &[(100, mode)])];
    assert_eq!(read_all(&parts).unwrap()[0].0.mode, 0o4755);
}

#[test]
fn octal_with_leading_nul_is_read_as_go_reads_it() {
    let parts = [block(b"usr/bin/su", b'0', 0, USTAR, &[(100, b"\x004755\0\0\0")])];
    assert_eq!(read_all(&parts).unwrap()[0].0.mode, 0o4755);
}

#[test]
fn a_symlink_has_no_content_whatever_its_size_says() {
    // The bytes a naive reader would skip as the symlink's data are the next header.
    let hidden = block(b"etc/passwd", b'0', 4, USTAR, &[]);
    let link = block(b"link", b'2', (hidden.len() + BLOCK) as u64, USTAR, &[(157, b"target")]);
    let parts = [link, hidden, data(b"root")];
    let read = read_all(&parts).unwrap();
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].0.size, 0);
    assert_eq!(read[1].0.name, b"etc/passwd");
    assert_eq!(read[1].1, b"root");
}

#[test]
fn prefixes_by_format() {
    let ustar = block(b"passwd", b'0', 0, USTAR, &[(345, b"etc")]);
    let star = block(b"passwd", b'0', 0, USTAR, &[(345, b"etc"), (508, b"tar\0")]);
    let gnu = block(b"passwd", b'0', 0, GNU, &[(345, b"0\0")]);
    assert_eq!(names(&[ustar]), ["etc/passwd"]);
    assert_eq!(names(&[star]), ["etc/passwd"]);
    assert_eq!(names(&[gnu]), ["passwd"], "GNU headers have no prefix");
}

#[test]
fn old_regular_type_with_a_slash_is_a_directory() {
    let read = read_all(&[block(b"etc/", 0, 0, b"", &[])]).unwrap();
    assert_eq!(read[0].0.kind, Kind::Directory);
}

#[test]
fn sparse_and_unknown_types_are_refused() {
    let rec = b"22 GNU.sparse.major=1\n";
    let pax_sparse = [block(b"pax", b'x', rec.len() as u64, USTAR, &[]), data(rec), block(b"f", b'0', 0, USTAR, &[])];
    assert!(matches!(read_all(&pax_sparse), Err(Error::Ambiguous { .. })));
    assert!(matches!(read_all(&[block(b"f", b'S', 0, GNU, &[])]), Err(Error::Ambiguous { .. })));
    assert!(matches!(read_all(&[block(b"f", b'V', 0, GNU, &[])]), Err(Error::Ambiguous { .. })));
}

#[test]
fn global_headers_are_refused() {
    let rec = b"19 path=etc/shadow\n";
    let parts = [block(b"g", b'g', rec.len() as u64, USTAR, &[]), data(rec), block(b"f", b'0', 0, USTAR, &[])];
    assert!(matches!(read_all(&parts), Err(Error::Ambiguous { .. })));
}

#[test]
fn structure_errors_go_refuses() {
    let mut bad_sum = block(b"f", b'0', 0, USTAR, &[]);
    bad_sum[0] = b'g';
    assert!(matches!(read_all(&[bad_sum]), Err(Error::Header { .. })));
    let zero_then_header = [vec![0u8; BLOCK], block(b"f", b'0', 0, USTAR, &[])];
    let mut tar = zero_then_header.concat();
    tar.extend([0u8; 1024]);
    assert!(Reader::new(tar.as_slice()).next_entry().is_err());
    let negative_uid: &[u8] = &[0xff; 8];
    assert!(matches!(read_all(&[block(b"f", b'0', 0, USTAR, &[(108, negative_uid)])]), Err(Error::Ambiguous { .. })));
}

#[test]
fn no_end_marker_is_a_clean_end() {
    let tar = block(b"f", b'0', 0, USTAR, &[]);
    let mut r = Reader::new(tar.as_slice());
    assert!(r.next_entry().unwrap().is_some());
    assert!(r.next_entry().unwrap().is_none());
}
