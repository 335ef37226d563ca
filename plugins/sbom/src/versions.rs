//! Version ranges with each ecosystem's own ordering.
//!
//! A deny-list entry names a package by purl without version and a range of
//! versions: `pkg:golang/golang.org/x/net@<0.23.0`,
//! `pkg:deb/debian/openssl@>=3.0.0, <3.0.14 || =1.1.1n`. Comparators joined
//! by `,` must all hold; alternatives joined by `||` any one. No range (or
//! `*`) means every version.
//!
//! Ordering follows the purl type: Debian rules (epochs, `~`) for `deb`,
//! PEP 440 for `pypi`, semver for `golang`, `npm`, `cargo` and the like
//! (a leading `v` and Go's pseudo-versions are semver too), and a
//! segment-wise numeric/lexical order for everything else (`apk`, `rpm`...).

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Debian,
    Pep440,
    Semver,
    Generic,
}

impl Scheme {
    pub fn for_purl_type(ty: &str) -> Scheme {
        match ty {
            "deb" => Scheme::Debian,
            "pypi" => Scheme::Pep440,
            "golang" | "npm" | "cargo" | "nuget" | "gem" | "composer" | "hex" | "swift" | "pub" => Scheme::Semver,
            _ => Scheme::Generic,
        }
    }

    /// Compares two versions; `None` when either is not a version of this scheme.
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Scheme::Debian => {
                let a: debversion::Version = a.parse().ok()?;
                let b: debversion::Version = b.parse().ok()?;
                Some(a.cmp(&b))
            }
            Scheme::Pep440 => {
                let a: pep440_rs::Version = a.parse().ok()?;
                let b: pep440_rs::Version = b.parse().ok()?;
                Some(a.cmp(&b))
            }
            Scheme::Semver => {
                let parse = |s: &str| semver::Version::parse(s.trim_start_matches('v')).ok();
                match (parse(a), parse(b)) {
                    (Some(a), Some(b)) => Some(a.cmp_precedence(&b)),
                    _ => Some(generic(a.trim_start_matches('v'), b.trim_start_matches('v'))),
                }
            }
            Scheme::Generic => Some(generic(a, b)),
        }
    }
}

/// Segment-wise: runs of digits compare as numbers, other runs as text.
fn generic(a: &str, b: &str) -> Ordering {
    fn segments(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out.into_iter().filter(|(_, s)| !s.chars().all(|c| matches!(c, '.' | '-' | '_' | '+'))).collect()
    }
    let (sa, sb) =
        (if a.is_empty() { Vec::new() } else { segments(a) }, if b.is_empty() { Vec::new() } else { segments(b) });
    for (x, y) in sa.iter().zip(&sb) {
        let o = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    sa.len().cmp(&sb.len())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A parsed range: alternatives of conjunctions of comparators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    any: Vec<Vec<(Op, String)>>,
}

impl Range {
    pub fn parse(text: &str) -> Result<Range, String> {
        let text = text.trim();
        if text.is_empty() || text == "*" {
            return Ok(Range { any: vec![Vec::new()] });
        }
        let mut any = Vec::new();
        for alt in text.split("||") {
            let mut all = Vec::new();
            for c in alt.split(',') {
                let c = c.trim();
                let (op, v) = if let Some(v) = c.strip_prefix("<=") {
                    (Op::Le, v)
                } else if let Some(v) = c.strip_prefix(">=") {
                    (Op::Ge, v)
                } else if let Some(v) = c.strip_prefix("!=") {
                    (Op::Ne, v)
                } else if let Some(v) = c.strip_prefix('<') {
                    (Op::Lt, v)
                } else if let Some(v) = c.strip_prefix('>') {
                    (Op::Gt, v)
                } else if let Some(v) = c.strip_prefix('=') {
                    (Op::Eq, v)
                } else {
                    (Op::Eq, c)
                };
                let v = v.trim();
                if v.is_empty() {
                    return Err(format!("`{c}` has no version"));
                }
                all.push((op, v.to_string()));
            }
            any.push(all);
        }
        Ok(Range { any })
    }

    /// Whether `version` is in the range; `None` when it cannot be compared.
    pub fn contains(&self, scheme: Scheme, version: &str) -> Option<bool> {
        let mut undecided = false;
        for all in &self.any {
            let mut holds = true;
            for (op, bound) in all {
                let Some(o) = scheme.compare(version, bound) else {
                    undecided = true;
                    holds = false;
                    break;
                };
                let ok = match op {
                    Op::Lt => o == Ordering::Less,
                    Op::Le => o != Ordering::Greater,
                    Op::Gt => o == Ordering::Greater,
                    Op::Ge => o != Ordering::Less,
                    Op::Eq => o == Ordering::Equal,
                    Op::Ne => o != Ordering::Equal,
                };
                if !ok {
                    holds = false;
                    break;
                }
            }
            if holds {
                return Some(true);
            }
        }
        if undecided { None } else { Some(false) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_ordering_with_epochs_and_tilde() {
        let d = Scheme::Debian;
        assert_eq!(d.compare("1:1.0", "2.0"), Some(Ordering::Greater));
        assert_eq!(d.compare("1.0~rc1", "1.0"), Some(Ordering::Less));
        assert_eq!(d.compare("3.0.11-1~deb12u2", "3.0.14-1~deb12u1"), Some(Ordering::Less));
        let r = Range::parse(">=3.0.0, <3.0.14 || =1.1.1n").unwrap();
        assert_eq!(r.contains(d, "3.0.11-1~deb12u2"), Some(true));
        assert_eq!(r.contains(d, "3.0.14-1"), Some(false));
        assert_eq!(r.contains(d, "1.1.1n"), Some(true));
    }

    #[test]
    fn pep440_and_semver_orderings_differ_from_text() {
        assert_eq!(Scheme::Pep440.compare("1.0rc1", "1.0"), Some(Ordering::Less));
        assert_eq!(Scheme::Pep440.compare("1.0.post1", "1.0"), Some(Ordering::Greater));
        assert_eq!(Scheme::Semver.compare("v0.9.0", "v0.23.0"), Some(Ordering::Less));
        assert_eq!(Scheme::Semver.compare("v1.0.0-rc.1", "v1.0.0"), Some(Ordering::Less));
        // Text order would say "0.9.0" > "0.23.0".
        assert!(Range::parse("<0.23.0").unwrap().contains(Scheme::Semver, "v0.9.0").unwrap());
        assert_eq!(Scheme::Generic.compare("3.3.10-r0", "3.3.9-r1"), Some(Ordering::Greater));
    }

    #[test]
    fn ranges_parse_and_reject() {
        assert!(Range::parse("*").unwrap().contains(Scheme::Generic, "anything").unwrap());
        assert!(Range::parse(">=").is_err());
        assert_eq!(Range::parse("<1.0").unwrap().contains(Scheme::Debian, "not a version!"), None);
    }
}
