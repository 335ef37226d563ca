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
//!
//! Epochs (`1:2.3`, Debian and RPM) count only when both versions carry
//! one: SBOM tools and advisories differ in whether they write the epoch,
//! so `1:4.13` is below a bound of `4.14`, while `2:6.2` is above `1:9.0`.

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
        let (a, b) = match self {
            Scheme::Debian | Scheme::Generic => align_epochs(a, b),
            Scheme::Pep440 | Scheme::Semver => (a, b),
        };
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
            Scheme::Generic => match (epoch(a), epoch(b)) {
                ((Some(x), a), (Some(y), b)) => Some(number_order(x, y).then_with(|| generic(a, b))),
                _ => Some(generic(a, b)),
            },
        }
    }
}

/// A version's epoch and the rest: `1:2.3` → (`1`, `2.3`); none without one.
pub fn epoch(v: &str) -> (Option<&str>, &str) {
    match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (Some(e), rest),
        _ => (None, v),
    }
}

/// Both versions with their epochs, or both without when one lacks it.
pub fn align_epochs<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    match (epoch(a), epoch(b)) {
        ((Some(_), _), (Some(_), _)) | ((None, _), (None, _)) => (a, b),
        ((_, a), (_, b)) => (a, b),
    }
}

/// Whether two versions are the same package version, the epoch counting
/// only when both carry one.
pub fn same_version(a: &str, b: &str) -> bool {
    let (a, b) = align_epochs(a, b);
    a == b
}

/// Digit strings in numeric order, however long.
fn number_order(x: &str, y: &str) -> Ordering {
    let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
    x.len().cmp(&y.len()).then_with(|| x.cmp(y))
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
            ((true, x), (true, y)) => number_order(x, y),
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
        assert_eq!(d.compare("1:1.0", "0:2.0"), Some(Ordering::Greater));
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
    fn epochs_count_only_when_both_carry_one() {
        let d = Scheme::Debian;
        assert_eq!(d.compare("1:4.13+dfsg1-1", "4.14"), Some(Ordering::Less));
        assert_eq!(d.compare("4.13", "1:4.12"), Some(Ordering::Greater));
        assert_eq!(d.compare("2:6.2.1", "1:9.0"), Some(Ordering::Greater));
        assert_eq!(Scheme::Generic.compare("1:7.50.3-1.fc25", "7.60"), Some(Ordering::Less));
        assert_eq!(Scheme::Generic.compare("10:1.0", "9:2.0"), Some(Ordering::Greater));
        assert!(same_version("1:2.3-1", "2.3-1") && same_version("2.3-1", "2.3-1"));
        assert!(!same_version("1:2.3-1", "2:2.3-1"));
        assert_eq!(epoch("1.0:beta"), (None, "1.0:beta"));
        // PEP 440 writes epochs as `N!`, compared by its own rules.
        assert_eq!(Scheme::Pep440.compare("1!1.0", "2.0"), Some(Ordering::Greater));
    }

    #[test]
    fn ranges_parse_and_reject() {
        assert!(Range::parse("*").unwrap().contains(Scheme::Generic, "anything").unwrap());
        assert!(Range::parse(">=").is_err());
        assert_eq!(Range::parse("<1.0").unwrap().contains(Scheme::Debian, "not a version!"), None);
    }
}
