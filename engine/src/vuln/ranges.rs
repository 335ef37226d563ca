//! Whether a version lies in an OSV `affected` entry, by the OSV spec's
//! evaluation: events sorted in the ecosystem's order (`introduced: "0"`
//! first), `introduced` opens, `fixed` closes at the version,
//! `last_affected` closes after it, `limit` caps the range; a `versions`
//! list adds versions one by one; an entry with neither is every version.
//!
//! Why it is written out rather than a plain "introduced ≤ v < fixed":
//! records carry several pairs per range, unordered events, `last_affected`
//! (Debian, GitHub) and `limit` (Git-derived ranges), and a version must be
//! ordered by its own ecosystem (`1:2.0` above `3.0` for dpkg, `1.0rc1`
//! below `1.0` for PEP 440), never as text.

use super::osv::{Affected, Event, RangeKind};
use portcullis_versions::Scheme;
use std::cmp::Ordering;

/// What the entry says of one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    NotAffected,
    /// Affected; the first fixed version above it, when a range gives one.
    Affected {
        fixed: Option<String>,
    },
    /// The version cannot be ordered in this ecosystem.
    Unorderable,
}

/// `go1.21.8` → `1.21.8`, `go1.21` → `1.21.0`, `go1.21rc2` →
/// `1.21.0-rc.2` (as x/vuln's `GoTagToSemver`); `None` for `devel` builds
/// and anything else.
pub fn go_semver(tag: &str) -> Option<String> {
    let tag = tag.split_whitespace().next()?;
    if tag == "go1" {
        return Some("1.0.0".into());
    }
    let rest = tag.strip_prefix("go")?;
    let split = rest.find(|c: char| c.is_ascii_alphabetic() || c == '-').unwrap_or(rest.len());
    let (nums, pre) = rest.split_at(split);
    let parts: Vec<&str> = nums.split('.').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    if nums == "1.0" {
        return None;
    }
    let mut v = parts.join(".");
    if parts.len() == 2 {
        v.push_str(".0");
    }
    if !pre.is_empty() {
        let pre = pre.trim_start_matches('-');
        let split = pre.find(|c: char| c.is_ascii_digit())?;
        let (word, n) = pre.split_at(split);
        if !matches!(word, "beta" | "rc" | "pre") || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        v.push_str(&format!("-{word}.{n}"));
    }
    Some(v)
}

fn compare(scheme: Scheme, a: &str, b: &str) -> Option<Ordering> {
    match scheme {
        Scheme::Semver => {
            let p = |s: &str| semver::Version::parse(s.trim_start_matches('v')).ok();
            Some(p(a)?.cmp_precedence(&p(b)?))
        }
        s => s.compare(a, b),
    }
}

/// Evaluates `version` against an entry of `ecosystem`'s ordering.
pub fn evaluate(affected: &Affected, version: &str) -> Verdict {
    let scheme = Scheme::for_osv_ecosystem(&affected.ecosystem);
    let orderable = |s: Scheme| compare(s, version, version).is_some();
    if affected.versions.iter().any(|v| v == version || compare(scheme, v, version) == Some(Ordering::Equal)) {
        return Verdict::Affected { fixed: None };
    }
    let comparable: Vec<_> = affected.ranges.iter().filter(|r| r.kind != RangeKind::Git).collect();
    if comparable.is_empty() {
        // Neither comparable ranges nor versions: every version (OSV;
        // govulncheck reads Go entries without ranges the same way).
        return if affected.versions.is_empty() && affected.ranges.is_empty() {
            Verdict::Affected { fixed: None }
        } else {
            Verdict::NotAffected
        };
    }
    for range in comparable {
        let s = if range.kind == RangeKind::Semver { Scheme::Semver } else { scheme };
        if !orderable(s) {
            return Verdict::Unorderable;
        }
        let is_zero = |e: &Event| matches!(e, Event::Introduced(v) if v == "0");
        let mut events: Vec<&Event> = range.events.iter().collect();
        // Import checked every bound, so an unorderable pair only arises
        // between schemes; it sorts as equal and keeps the record's order.
        events.sort_by(|a, b| match (is_zero(a), is_zero(b)) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => compare(s, a.version(), b.version()).unwrap_or(Ordering::Equal),
        });
        let at_least = |bound: &str| compare(s, version, bound).is_some_and(|o| o != Ordering::Less);
        let mut vulnerable = false;
        let mut capped = false;
        for e in &events {
            match e {
                Event::Introduced(v) => {
                    if v == "0" || at_least(v) {
                        vulnerable = true;
                    }
                }
                Event::Fixed(v) => {
                    if at_least(v) {
                        vulnerable = false;
                    }
                }
                Event::LastAffected(v) => {
                    if compare(s, version, v) == Some(Ordering::Greater) {
                        vulnerable = false;
                    }
                }
                Event::Limit(v) => {
                    if v != "*" && at_least(v) {
                        capped = true;
                    }
                }
            }
        }
        if vulnerable && !capped {
            let fixed = events
                .iter()
                .filter_map(|e| match e {
                    Event::Fixed(v) if compare(s, v, version) == Some(Ordering::Greater) => Some(v.clone()),
                    _ => None,
                })
                .next();
            return Verdict::Affected { fixed };
        }
    }
    Verdict::NotAffected
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vuln::osv::Range;

    fn entry(ecosystem: &str, kind: RangeKind, events: &[(&str, &str)], versions: &[&str]) -> Affected {
        Affected {
            ecosystem: ecosystem.into(),
            name: "p".into(),
            purl: None,
            ranges: vec![Range {
                kind,
                events: events
                    .iter()
                    .map(|(k, v)| match *k {
                        "introduced" => Event::Introduced(v.to_string()),
                        "fixed" => Event::Fixed(v.to_string()),
                        "last_affected" => Event::LastAffected(v.to_string()),
                        _ => Event::Limit(v.to_string()),
                    })
                    .collect(),
            }],
            versions: versions.iter().map(|v| v.to_string()).collect(),
            imports: Vec::new(),
            severity: Vec::new(),
        }
    }

    fn hit(fixed: Option<&str>) -> Verdict {
        Verdict::Affected { fixed: fixed.map(str::to_string) }
    }

    /// (ecosystem, range kind, events, versions list, version, expected)
    type Case<'a> = (&'a str, RangeKind, &'a [(&'a str, &'a str)], &'a [&'a str], &'a str, Verdict);

    #[test]
    fn range_tables_per_ecosystem() {
        use RangeKind::*;
        let two_pairs: &[(&str, &str)] =
            &[("fixed", "1.5.0"), ("introduced", "2.0.0"), ("introduced", "0"), ("fixed", "2.5.0")];
        let cases: &[Case] = &[
            // Go: unordered events, two intervals, pre-releases, v prefix.
            ("Go", Semver, two_pairs, &[], "v1.4.9", hit(Some("1.5.0"))),
            ("Go", Semver, two_pairs, &[], "v1.5.0", Verdict::NotAffected),
            ("Go", Semver, two_pairs, &[], "1.7.0", Verdict::NotAffected),
            ("Go", Semver, two_pairs, &[], "2.0.0-rc.1", Verdict::NotAffected),
            ("Go", Semver, two_pairs, &[], "2.4.0", hit(Some("2.5.0"))),
            ("Go", Semver, &[("introduced", "0"), ("fixed", "0.3.7")], &[], "v0.3.5", hit(Some("0.3.7"))),
            ("Go", Semver, &[("introduced", "0"), ("fixed", "0.3.7")], &[], "v0.3.7", Verdict::NotAffected),
            ("Go", Semver, &[("introduced", "0"), ("fixed", "1.0.0")], &[], "1.0.0-rc.1", hit(Some("1.0.0"))),
            ("Go", Semver, &[("introduced", "0"), ("fixed", "1.0.0")], &[], "(devel)", Verdict::Unorderable),
            // last_affected is inclusive.
            ("Go", Semver, &[("introduced", "1.0.0"), ("last_affected", "1.2.0")], &[], "1.2.0", hit(None)),
            ("Go", Semver, &[("introduced", "1.0.0"), ("last_affected", "1.2.0")], &[], "1.2.1", Verdict::NotAffected),
            // limit caps the range.
            ("npm", Semver, &[("introduced", "0"), ("limit", "2.0.0")], &[], "1.9.9", hit(None)),
            ("npm", Semver, &[("introduced", "0"), ("limit", "2.0.0")], &[], "2.0.0", Verdict::NotAffected),
            // Debian: epochs, ~, and source versions.
            (
                "Debian:12",
                Ecosystem,
                &[("introduced", "0"), ("fixed", "3.0.14-1~deb12u1")],
                &[],
                "3.0.11-1~deb12u2",
                hit(Some("3.0.14-1~deb12u1")),
            ),
            (
                "Debian:12",
                Ecosystem,
                &[("introduced", "0"), ("fixed", "3.0.14-1~deb12u1")],
                &[],
                "3.0.14-1",
                Verdict::NotAffected,
            ),
            (
                "Debian:12",
                Ecosystem,
                &[("introduced", "0"), ("fixed", "1:2.66-4")],
                &[],
                "2.70-1",
                hit(Some("1:2.66-4")),
            ),
            (
                "Debian:12",
                Ecosystem,
                &[("introduced", "0"), ("fixed", "1:2.66-4")],
                &[],
                "1:2.66-4",
                Verdict::NotAffected,
            ),
            (
                "Debian:12",
                Ecosystem,
                &[("introduced", "1.0~rc1"), ("fixed", "1.0-2")],
                &[],
                "1.0~beta",
                Verdict::NotAffected,
            ),
            // Alpine: suffixes and -rN.
            (
                "Alpine:v3.19",
                Ecosystem,
                &[("introduced", "0"), ("fixed", "3.1.4-r1")],
                &[],
                "3.1.4-r0",
                hit(Some("3.1.4-r1")),
            ),
            (
                "Alpine:v3.19",
                Ecosystem,
                &[("introduced", "0"), ("fixed", "3.1.4-r1")],
                &[],
                "3.1.4_p1-r0",
                Verdict::NotAffected,
            ),
            (
                "Alpine:v3.19",
                Ecosystem,
                &[("introduced", "0"), ("fixed", "1.36.1-r16")],
                &[],
                "1.36.1-r5",
                hit(Some("1.36.1-r16")),
            ),
            // PyPI: PEP 440, not text.
            ("PyPI", Ecosystem, &[("introduced", "0"), ("fixed", "2.31.0")], &[], "2.4.0", hit(Some("2.31.0"))),
            ("PyPI", Ecosystem, &[("introduced", "0"), ("fixed", "2.0")], &[], "2.0rc1", hit(Some("2.0"))),
            ("PyPI", Ecosystem, &[("introduced", "0"), ("fixed", "2.0")], &[], "2.0.post1", Verdict::NotAffected),
            // Maven qualifiers.
            (
                "Maven",
                Ecosystem,
                &[("introduced", "2.0-beta9"), ("fixed", "2.15.0")],
                &[],
                "2.14.1",
                hit(Some("2.15.0")),
            ),
            (
                "Maven",
                Ecosystem,
                &[("introduced", "2.0-beta9"), ("fixed", "2.15.0")],
                &[],
                "2.0-alpha1",
                Verdict::NotAffected,
            ),
            (
                "Maven",
                Ecosystem,
                &[("introduced", "2.0-beta9"), ("fixed", "2.15.0")],
                &[],
                "2.15.0",
                Verdict::NotAffected,
            ),
            // A versions list counts alone.
            ("PyPI", Ecosystem, &[("introduced", "5.0")], &["1.2.3"], "1.2.3", hit(None)),
            // GIT ranges never match package versions.
            ("PyPI", Git, &[("introduced", "0")], &[], "1.0", Verdict::NotAffected),
        ];
        for (i, (eco, kind, events, versions, v, want)) in cases.iter().enumerate() {
            let got = evaluate(&entry(eco, *kind, events, versions), v);
            assert_eq!(&got, want, "case {i}: {eco} {v} in {events:?}");
        }
    }

    #[test]
    fn go_release_tags_become_semver() {
        assert_eq!(go_semver("go1.21.8").as_deref(), Some("1.21.8"));
        assert_eq!(go_semver("go1.21").as_deref(), Some("1.21.0"));
        assert_eq!(go_semver("go1.21rc2").as_deref(), Some("1.21.0-rc.2"));
        assert_eq!(go_semver("go1.19beta1").as_deref(), Some("1.19.0-beta.1"));
        assert_eq!(go_semver("go1.22.1 X:boringcrypto").as_deref(), Some("1.22.1"));
        assert_eq!(go_semver("devel go1.23-abcdef"), None);
        assert_eq!(go_semver("go1.0"), None);
    }
}
