//! One 512-byte tar header block, decoded field by field the way Go's
//! `archive/tar` decodes it (`reader.go` `readHeader`, `strconv.go`): the
//! format is told by magic, version and the star trailer; numbers are octal
//! with NULs and spaces trimmed at both ends, or base-256 when the first
//! byte's high bit is set; the checksum may be the signed or the unsigned
//! sum; strings end at their first NUL. Every runtime that unpacks images
//! (containerd, moby, umoci, buildah) reads blocks through that code, so the
//! decisions here must be its decisions.

pub const BLOCK: usize = 512;

/// The header formats Go tells apart (`format.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Original Unix tar: no magic.
    V7,
    /// POSIX ustar (`ustar\0` `00`), which PAX extends.
    Ustar,
    /// Schily's star: ustar magic and a `tar\0` trailer; the prefix is
    /// shorter, access and change times follow it.
    Star,
    /// GNU tar (`ustar ` ` \0`): no prefix field; times where ustar has it.
    Gnu,
}

/// The fields of a header block, before PAX records or GNU long names apply.
#[derive(Debug, Clone)]
pub struct RawHeader {
    pub format: Format,
    pub typeflag: u8,
    pub name: Vec<u8>,
    pub linkname: Vec<u8>,
    pub mode: i64,
    pub uid: i64,
    pub gid: i64,
    pub size: i64,
}

/// Why a block is not a header Go would read (Go's `ErrHeader`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHeader(pub String);

fn field(b: &[u8; BLOCK], from: usize, to: usize) -> &[u8] {
    &b[from..to]
}

/// Bytes up to the first NUL (Go's `parseString`).
pub fn c_string(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// Go's `parseOctal`: trim NULs and spaces at both ends, then parse what is
/// left up to its first NUL as an unsigned octal number.
fn octal(b: &[u8], what: &str) -> Result<i64, BadHeader> {
    let start = b.iter().position(|&c| c != b' ' && c != 0).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| c != b' ' && c != 0).map_or(start, |i| i + 1);
    let trimmed = &b[start..end.max(start)];
    if trimmed.is_empty() {
        return Ok(0);
    }
    let digits = c_string(trimmed);
    let bad = || BadHeader(format!("the {what} field `{}` is not an octal number", String::from_utf8_lossy(trimmed)));
    // Go's ParseUint accepts neither a sign nor an empty string here.
    if digits.is_empty() || !digits.iter().all(|c| (b'0'..=b'7').contains(c)) {
        return Err(bad());
    }
    let mut x: u64 = 0;
    for &c in digits {
        x = x.checked_mul(8).and_then(|x| x.checked_add(u64::from(c - b'0'))).ok_or_else(bad)?;
    }
    // Go converts the uint64 to int64 as it is (a wrap is possible).
    Ok(x as i64)
}

/// Go's `parseNumeric`: base-256 two's complement when the first byte's high
/// bit is set, octal otherwise.
pub fn numeric(b: &[u8], what: &str) -> Result<i64, BadHeader> {
    if b.first().is_some_and(|c| c & 0x80 != 0) {
        let inv: u8 = if b[0] & 0x40 != 0 { 0xff } else { 0 };
        let mut x: u64 = 0;
        for (i, &c) in b.iter().enumerate() {
            let mut c = c ^ inv;
            if i == 0 {
                c &= 0x7f;
            }
            if x >> 56 > 0 {
                return Err(BadHeader(format!("the base-256 {what} field overflows 64 bits")));
            }
            x = x << 8 | u64::from(c);
        }
        if x >> 63 > 0 {
            return Err(BadHeader(format!("the base-256 {what} field overflows 64 bits")));
        }
        return Ok(if inv == 0xff { !(x as i64) } else { x as i64 });
    }
    octal(b, what)
}

/// The unsigned and signed sums of the block with the checksum field read
/// as spaces (Go's `computeChecksum`).
fn checksums(b: &[u8; BLOCK]) -> (i64, i64) {
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &c) in b.iter().enumerate() {
        let c = if (148..156).contains(&i) { b' ' } else { c };
        unsigned += i64::from(c);
        signed += i64::from(c as i8);
    }
    (unsigned, signed)
}

/// The format of a block, or why it is no header at all (Go's `getFormat`).
fn format_of(b: &[u8; BLOCK]) -> Result<Format, BadHeader> {
    let value = octal(field(b, 148, 156), "checksum")
        .map_err(|_| BadHeader("the checksum field is not an octal number".into()))?;
    let (unsigned, signed) = checksums(b);
    if value != unsigned && value != signed {
        return Err(BadHeader(format!("checksum mismatch: the header says {value}, its bytes sum to {unsigned}")));
    }
    let magic = field(b, 257, 263);
    let version = field(b, 263, 265);
    let trailer = field(b, 508, 512);
    Ok(if magic == b"ustar\0" && trailer == b"tar\0" {
        Format::Star
    } else if magic == b"ustar\0" {
        Format::Ustar
    } else if magic == b"ustar " && version == b" \0" {
        Format::Gnu
    } else {
        Format::V7
    })
}

/// Decodes a header block. The GNU format's pre-Go-1.8 prefix fallback is
/// reproduced too: Go reads a GNU block whose time fields do not parse as a
/// ustar block with a prefix.
pub fn parse(b: &[u8; BLOCK]) -> Result<RawHeader, BadHeader> {
    let format = format_of(b)?;
    let mut name = c_string(field(b, 0, 100)).to_vec();
    let linkname = c_string(field(b, 157, 257)).to_vec();
    let size = numeric(field(b, 124, 136), "size")?;
    let mode = numeric(field(b, 100, 108), "mode")?;
    let uid = numeric(field(b, 108, 116), "uid")?;
    let gid = numeric(field(b, 116, 124), "gid")?;
    numeric(field(b, 136, 148), "mtime")?;
    let prefix: &[u8] = match format {
        Format::V7 => &[],
        Format::Ustar => {
            numeric(field(b, 329, 337), "devmajor")?;
            numeric(field(b, 337, 345), "devminor")?;
            c_string(field(b, 345, 500))
        }
        Format::Star => {
            numeric(field(b, 329, 337), "devmajor")?;
            numeric(field(b, 337, 345), "devminor")?;
            numeric(field(b, 476, 488), "atime")?;
            numeric(field(b, 488, 500), "ctime")?;
            c_string(field(b, 345, 476))
        }
        Format::Gnu => {
            numeric(field(b, 329, 337), "devmajor")?;
            numeric(field(b, 337, 345), "devminor")?;
            let times_parse = [(345, 357), (357, 369)]
                .iter()
                .all(|&(from, to)| b[from] == 0 || numeric(field(b, from, to), "time").is_ok());
            let prefix = c_string(field(b, 345, 500));
            if !times_parse && prefix.is_ascii() { prefix } else { &[] }
        }
    };
    if !prefix.is_empty() {
        let mut joined = prefix.to_vec();
        joined.push(b'/');
        joined.extend_from_slice(&name);
        name = joined;
    }
    Ok(RawHeader { format, typeflag: b[156], name, linkname, mode, uid, gid, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_go_reads_them() {
        assert_eq!(numeric(b"0000644\0", "mode"), Ok(0o644));
        assert_eq!(numeric(b"\0\0 4755 \0", "mode"), Ok(0o4755), "NULs and spaces trimmed at both ends");
        assert_eq!(numeric(b"        ", "mode"), Ok(0));
        assert!(numeric(b"12 34\0\0\0", "mode").is_err(), "a space inside the digits");
        assert!(numeric(b"-1\0\0\0\0\0\0", "mode").is_err());
        assert_eq!(numeric(&[0x80, 0, 0, 0, 0, 0, 0x09, 0xed], "mode"), Ok(0o4755), "base-256");
        assert_eq!(numeric(&[0xff; 8], "uid"), Ok(-1), "base-256 negative");
        assert!(numeric(&[0x80, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "size").is_err(), "overflow");
    }

    #[test]
    fn strings_end_at_nul() {
        assert_eq!(c_string(b"etc/passwd\0junk"), b"etc/passwd");
        assert_eq!(c_string(b"abc"), b"abc");
    }
}
