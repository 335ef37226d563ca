//! PAX extended-header records (`%d %s=%s\n`), parsed and validated exactly
//! as Go's `archive/tar` does (`parsePAX`, `parsePAXRecord`,
//! `validPAXRecord`): a bad length, a missing newline or `=`, or a NUL where
//! Go forbids one makes the whole header unreadable, as it does for the
//! runtimes.

use std::collections::BTreeMap;

/// Why the records are not ones Go would read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecords(pub String);

/// A record's key and value, and the rest of the input after it.
type Record<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// One record; the rest of the input after it.
fn record(s: &[u8]) -> Result<Record<'_>, BadRecords> {
    let bad = |why: &str| BadRecords(format!("malformed PAX record: {why}"));
    let space = s.iter().position(|&c| c == b' ').ok_or_else(|| bad("no length"))?;
    let n_str = std::str::from_utf8(&s[..space]).map_err(|_| bad("the length is not a number"))?;
    // Go's ParseInt(…, 10, 0): an optional sign, decimal digits.
    let n: i64 = n_str.parse().map_err(|_| bad("the length is not a number"))?;
    if n < 5 || n > s.len() as i64 {
        return Err(bad("the length is out of range"));
    }
    let n = n as usize - (space + 1);
    if n == 0 {
        return Err(bad("the length is out of range"));
    }
    let rest = &s[space + 1..];
    let (rec, nl, rem) = (&rest[..n - 1], &rest[n - 1..n], &rest[n..]);
    if nl != b"\n" {
        return Err(bad("the record does not end in a newline"));
    }
    let eq = rec.iter().position(|&c| c == b'=').ok_or_else(|| bad("no `=`"))?;
    let (k, v) = (&rec[..eq], &rec[eq + 1..]);
    let valid = !k.is_empty()
        && match k {
            b"path" | b"linkpath" | b"uname" | b"gname" => !v.contains(&0),
            _ => !k.contains(&0),
        };
    if !valid {
        return Err(bad("an empty key, or a NUL where none is allowed"));
    }
    Ok((k, v, rem))
}

/// The records of one extended header, later keys replacing earlier ones.
/// GNU sparse 0.0 offset/numbytes pairs are gathered into `GNU.sparse.map`
/// as Go does (the caller refuses sparse files anyway).
pub fn parse(mut s: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, BadRecords> {
    let mut out = BTreeMap::new();
    let mut sparse: Vec<Vec<u8>> = Vec::new();
    while !s.is_empty() {
        let (k, v, rest) = record(s)?;
        s = rest;
        match k {
            b"GNU.sparse.offset" | b"GNU.sparse.numbytes" => {
                let expect_offset = sparse.len().is_multiple_of(2);
                if (expect_offset != (k == b"GNU.sparse.offset")) || v.contains(&b',') {
                    return Err(BadRecords("malformed PAX record: GNU sparse map out of order".into()));
                }
                sparse.push(v.to_vec());
            }
            _ => {
                out.insert(k.to_vec(), v.to_vec());
            }
        }
    }
    if !sparse.is_empty() {
        out.insert(b"GNU.sparse.map".to_vec(), sparse.join(&b","[..]));
    }
    Ok(out)
}

/// Go's `strconv.ParseInt(v, 10, 64)` for the numeric records.
pub fn decimal(v: &[u8]) -> Option<i64> {
    std::str::from_utf8(v).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_as_go_reads_them() {
        let r = parse(b"30 mtime=1350244992.023960108\n19 path=etc/shadow\n").unwrap();
        assert_eq!(r.get(&b"path"[..]).map(Vec::as_slice), Some(&b"etc/shadow"[..]));
        assert!(parse(b"20 path=etc/shadow\n").is_err(), "length one too long");
        assert!(parse(b"18 path=etc/shadow\n").is_err(), "length one short");
        assert!(parse(b"19 path=etc/shadow").is_err(), "truncated");
        assert!(parse(b"9 =empty\n").is_err(), "empty key");
        assert!(parse(b"17 path=a\0b/shad\n").is_err(), "NUL in a path");
        let later = parse(b"12 path=one\n12 path=two\n").unwrap();
        assert_eq!(later.get(&b"path"[..]).map(Vec::as_slice), Some(&b"two"[..]));
    }
}
