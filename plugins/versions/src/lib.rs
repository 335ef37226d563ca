//! Version ordering per ecosystem, and version ranges.
//!
//! Shared by the `sbom` plugin (deny-list ranges, below) and the host's
//! vulnerability matcher (OSV ranges), so a version is ordered the same way
//! wherever it is judged.
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
//! apk-tools order for `apk`, Maven's for `maven`, and a segment-wise
//! numeric/lexical order for everything else (`rpm`...).
//!
//! Epochs (`1:2.3`, Debian and RPM) count only when both versions carry
//! one: SBOM tools and advisories differ in whether they write the epoch,
//! so `1:4.13` is below a bound of `4.14`, while `2:6.2` is above `1:9.0`.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Debian order, an epoch counting only when both versions carry one
    /// (SBOM tools and hand-written ranges differ in writing it).
    Debian,
    /// dpkg's own order: a missing epoch is 0 (OSV Debian and Ubuntu records,
    /// dpkg status files).
    Dpkg,
    /// apk-tools' order (Alpine): `1.2.3_rc1 < 1.2.3 < 1.2.3_p1`, `-rN`.
    Alpine,
    Pep440,
    /// Semantic versioning, a leading `v` allowed (Go modules, npm, cargo).
    Semver,
    /// Maven's `ComparableVersion` order for the common shapes:
    /// `1.0-alpha1 < 1.0-beta < 1.0-rc1 < 1.0-SNAPSHOT < 1.0 = 1.0.0 < 1.0-sp1`.
    Maven,
    Generic,
}

impl Scheme {
    pub fn for_purl_type(ty: &str) -> Scheme {
        match ty {
            "deb" => Scheme::Debian,
            "apk" => Scheme::Alpine,
            "maven" => Scheme::Maven,
            "pypi" => Scheme::Pep440,
            "golang" | "npm" | "cargo" | "nuget" | "gem" | "composer" | "hex" | "swift" | "pub" => Scheme::Semver,
            _ => Scheme::Generic,
        }
    }

    /// The ordering of an OSV ecosystem (`Go`, `Debian:12`, `Alpine:v3.19`,
    /// `PyPI`, `npm`, `crates.io`, `Maven`...); the release suffix after `:`
    /// does not change it.
    pub fn for_osv_ecosystem(ecosystem: &str) -> Scheme {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        match base {
            "Debian" | "Ubuntu" => Scheme::Dpkg,
            "Alpine" | "Wolfi" | "Chainguard" => Scheme::Alpine,
            "PyPI" => Scheme::Pep440,
            "Go" | "npm" | "crates.io" | "NuGet" | "Hex" | "Pub" | "SwiftURL" | "Packagist" | "RubyGems" => {
                Scheme::Semver
            }
            "Maven" => Scheme::Maven,
            _ => Scheme::Generic,
        }
    }

    /// Compares two versions; `None` when either is not a version of this scheme.
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        let (a, b) = match self {
            Scheme::Debian | Scheme::Generic => align_epochs(a, b),
            _ => (a, b),
        };
        match self {
            Scheme::Alpine => Some(alpine(a, b)),
            Scheme::Maven => Some(maven(a, b)),
            Scheme::Debian | Scheme::Dpkg => {
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

/// apk-tools order: digits, an optional letter, `_suffix[N]` (`alpha`,
/// `beta`, `pre`, `rc` before the release; `cvs`, `svn`, `git`, `hg`, `p`
/// after it), then `-rN`.
fn alpine(a: &str, b: &str) -> Ordering {
    #[derive(PartialEq, Eq, PartialOrd, Ord, Debug)]
    enum Tok {
        Pre(u8, u128),
        Release,
        Post(u8, u128),
    }
    fn parse(v: &str) -> (Vec<u128>, Option<char>, Vec<Tok>, u128) {
        let (v, rev) = match v.rsplit_once("-r") {
            Some((v, r)) if r.bytes().all(|b| b.is_ascii_digit()) && !r.is_empty() => {
                (v, r.parse().unwrap_or(u128::MAX))
            }
            _ => (v, 0),
        };
        let mut parts = v.split('_');
        let head = parts.next().unwrap_or("");
        let (nums, letter) = match head.chars().last() {
            Some(c) if c.is_ascii_alphabetic() => (&head[..head.len() - 1], Some(c)),
            _ => (head, None),
        };
        let nums = nums.split('.').map(|n| n.parse().unwrap_or(0)).collect();
        let mut toks: Vec<Tok> = parts
            .map(|p| {
                let split = p.find(|c: char| c.is_ascii_digit()).unwrap_or(p.len());
                let n = p[split..].parse().unwrap_or(0);
                match &p[..split] {
                    "alpha" => Tok::Pre(0, n),
                    "beta" => Tok::Pre(1, n),
                    "pre" => Tok::Pre(2, n),
                    "rc" => Tok::Pre(3, n),
                    "cvs" => Tok::Post(0, n),
                    "svn" => Tok::Post(1, n),
                    "git" => Tok::Post(2, n),
                    "hg" => Tok::Post(3, n),
                    _ => Tok::Post(4, n),
                }
            })
            .collect();
        toks.push(Tok::Release);
        (nums, letter, toks, rev)
    }
    let (na, la, ta, ra) = parse(a);
    let (nb, lb, tb, rb) = parse(b);
    // Numbers compare part by part; a missing part is below any present one.
    for i in 0..na.len().max(nb.len()) {
        match (na.get(i), nb.get(i)) {
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            (Some(_), None) => return Ordering::Greater,
            (None, Some(_)) => return Ordering::Less,
            _ => {}
        }
    }
    la.cmp(&lb).then_with(|| ta.cmp(&tb)).then(ra.cmp(&rb))
}

/// Maven order for the usual shapes: numeric parts, then a qualifier
/// (`alpha`/`a` < `beta`/`b` < `milestone`/`m` < `rc`/`cr` < `snapshot` <
/// release (`""`, `ga`, `final`, `release`) < `sp` < anything else, by text).
fn maven(a: &str, b: &str) -> Ordering {
    fn items(v: &str) -> Vec<(u8, u128, String)> {
        let mut out = Vec::new();
        for part in v.to_ascii_lowercase().split(['.', '-']) {
            let split = part.find(|c: char| c.is_ascii_digit()).unwrap_or(part.len());
            let (q, n) = (&part[..split], &part[split..]);
            if q.is_empty() {
                out.push((5, n.parse().unwrap_or(0), String::new()));
                continue;
            }
            let rank = match q {
                "alpha" | "a" => 0,
                "beta" | "b" => 1,
                "milestone" | "m" => 2,
                "rc" | "cr" => 3,
                "snapshot" => 4,
                "ga" | "final" | "release" => 5,
                "sp" => 6,
                _ => 7,
            };
            out.push((rank, 0, if rank == 7 { q.to_string() } else { String::new() }));
            if !n.is_empty() {
                out.push((5, n.parse().unwrap_or(0), String::new()));
            }
        }
        // Trailing zeros and release markers do not count: 1.0 = 1 = 1.0.0-ga.
        while out.last().is_some_and(|(r, n, _)| *r == 5 && *n == 0) {
            out.pop();
        }
        out
    }
    let (x, y) = (items(a), items(b));
    for i in 0..x.len().max(y.len()) {
        let release = (5u8, 0u128, String::new());
        let (p, q) = (x.get(i).unwrap_or(&release), y.get(i).unwrap_or(&release));
        let o = p.cmp(q);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
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
    fn dpkg_alpine_and_maven_orders() {
        assert_eq!(Scheme::Dpkg.compare("1:1.0", "2.0"), Some(Ordering::Greater));
        assert_eq!(Scheme::Dpkg.compare("2.36-9+deb12u4", "2.36-9+deb12u10"), Some(Ordering::Less));
        let a = Scheme::Alpine;
        assert_eq!(a.compare("1.2.3_rc1", "1.2.3"), Some(Ordering::Less));
        assert_eq!(a.compare("1.2.3", "1.2.3_p1"), Some(Ordering::Less));
        assert_eq!(a.compare("1.2.3-r1", "1.2.3-r10"), Some(Ordering::Less));
        assert_eq!(a.compare("3.3.10-r0", "3.3.9-r1"), Some(Ordering::Greater));
        assert_eq!(a.compare("1.1.1t-r2", "1.1.1u-r0"), Some(Ordering::Less));
        assert_eq!(a.compare("1.36.1-r5", "1.36.1"), Some(Ordering::Greater));
        let m = Scheme::Maven;
        assert_eq!(m.compare("1.0-alpha1", "1.0-beta"), Some(Ordering::Less));
        assert_eq!(m.compare("1.0-rc1", "1.0"), Some(Ordering::Less));
        assert_eq!(m.compare("1.0-SNAPSHOT", "1.0"), Some(Ordering::Less));
        assert_eq!(m.compare("1.0", "1.0.0"), Some(Ordering::Equal));
        assert_eq!(m.compare("1.0", "1.0-sp1"), Some(Ordering::Less));
        assert_eq!(m.compare("2.17.0", "2.9.1"), Some(Ordering::Greater));
        assert_eq!(Scheme::for_osv_ecosystem("Debian:12"), Scheme::Dpkg);
        assert_eq!(Scheme::for_osv_ecosystem("Alpine:v3.19"), Scheme::Alpine);
        assert_eq!(Scheme::for_osv_ecosystem("Go"), Scheme::Semver);
    }

    #[test]
    fn ranges_parse_and_reject() {
        assert!(Range::parse("*").unwrap().contains(Scheme::Generic, "anything").unwrap());
        assert!(Range::parse(">=").is_err());
        assert_eq!(Range::parse("<1.0").unwrap().contains(Scheme::Debian, "not a version!"), None);
    }
}
