//! OSV records (<https://ossf.github.io/osv-schema/>), read strictly enough
//! that a record cannot be half-understood.
//!
//! Why a model of our own rather than the JSON: the database stores each
//! record once, compactly, in the shape the matcher needs (events in order,
//! Go import paths and symbols, severity vectors); and every way a record
//! can be malformed — a missing `id`, an event with two keys, a version its
//! ecosystem cannot order, nesting deeper than any real record — is found
//! here, once, at import, and reported with the file and the JSON pointer,
//! instead of surfacing as a silent non-match when an image is judged.

use portcullis_versions::Scheme;
use serde::{Deserialize, Serialize};

/// Larger records are refused (the largest Go record is 13 KB, the largest
/// Debian one under 1 MB).
pub const MAX_RECORD_BYTES: usize = 8 << 20;
/// Events of one range, versions of one `affected` entry, entries of one
/// record: far above real records (a few hundred), low enough that a
/// hostile record cannot make matching quadratic in megabytes.
pub const MAX_ITEMS: usize = 20_000;

/// One stored vulnerability record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    /// RFC 3339; the zero time `0001-01-01T00:00:00Z` as golang/vulndb's
    /// repository writes it.
    pub modified: String,
    pub published: Option<String>,
    pub withdrawn: Option<String>,
    /// Record-level severities.
    pub severity: Vec<SeverityVector>,
    /// A severity word the source database gives (`database_specific.
    /// severity`, GitHub's `HIGH`...), used only when there is no vector.
    pub severity_text: Option<String>,
    pub affected: Vec<Affected>,
    /// `FIX` and `ADVISORY` reference URLs, for the finding's remediation.
    pub references: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeverityVector {
    /// `CVSS_V3`, `CVSS_V4`, `CVSS_V2`, `Ubuntu`...
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// `Go`, `Debian:12`, `Alpine:v3.19`, `PyPI`...
    pub ecosystem: String,
    /// Module path, source package name, distribution name...
    pub name: String,
    pub purl: Option<String>,
    pub ranges: Vec<Range>,
    /// Versions listed one by one (affected whatever the ranges say).
    pub versions: Vec<String>,
    /// Go: the packages (and functions) that must be in a binary.
    pub imports: Vec<Import>,
    pub severity: Vec<SeverityVector>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub kind: RangeKind,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangeKind {
    Semver,
    Ecosystem,
    /// Commit ranges: not comparable with package versions, never matched.
    Git,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

impl Event {
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Import {
    pub path: String,
    pub symbols: Vec<String>,
    pub goos: Vec<String>,
    pub goarch: Vec<String>,
}

/// What is wrong with a record, and where in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Malformed {
    /// JSON pointer (`/affected/0/ranges/1/events/2`); empty for the whole.
    pub pointer: String,
    pub message: String,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "at {}: {}", self.pointer, self.message)
        }
    }
}

fn bad(pointer: impl Into<String>, message: impl Into<String>) -> Malformed {
    Malformed { pointer: pointer.into(), message: message.into() }
}

#[derive(Deserialize)]
struct RawRecord {
    id: String,
    modified: String,
    #[serde(default)]
    aliases: Vec<String>,
    summary: Option<String>,
    published: Option<String>,
    withdrawn: Option<String>,
    #[serde(default)]
    severity: Vec<RawSeverity>,
    #[serde(default)]
    affected: Vec<RawAffected>,
    #[serde(default)]
    references: Vec<RawReference>,
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct RawReference {
    #[serde(rename = "type")]
    kind: String,
    url: String,
}

#[derive(Deserialize)]
struct RawAffected {
    package: Option<RawPackage>,
    #[serde(default)]
    ranges: Vec<RawRange>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    severity: Vec<RawSeverity>,
    ecosystem_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawPackage {
    ecosystem: String,
    name: String,
    purl: Option<String>,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<RawEvent>,
}

#[derive(Deserialize)]
struct RawEvent {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

#[derive(Deserialize)]
struct RawImport {
    path: String,
    #[serde(default)]
    symbols: Vec<String>,
    #[serde(default)]
    goos: Vec<String>,
    #[serde(default)]
    goarch: Vec<String>,
}

/// `affected[0].ranges[1]` (serde_path_to_error) → `/affected/0/ranges/1`.
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => out.push_str(&format!("/{}", key.replace('~', "~0").replace('/', "~1"))),
            Segment::Enum { variant } => out.push_str(&format!("/{variant}")),
            Segment::Unknown => out.push_str("/?"),
        }
    }
    out
}

/// Whether `v` is a version of `scheme` (semver for `SEMVER` ranges).
fn orderable(scheme: Scheme, v: &str) -> bool {
    match scheme {
        Scheme::Semver => semver::Version::parse(v.trim_start_matches('v')).is_ok(),
        other => other.compare(v, v).is_some(),
    }
}

/// Parses and checks one record.
pub fn parse(bytes: &[u8]) -> Result<Record, Malformed> {
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(bad(
            "",
            format!("{} bytes: larger than the {MAX_RECORD_BYTES}-byte limit for one record", bytes.len()),
        ));
    }
    crate::nesting::json(bytes, crate::nesting::DOCUMENT).map_err(|e| bad("", e.to_string()))?;
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let raw: RawRecord = serde_path_to_error::deserialize(de).map_err(|e| {
        let p = pointer(e.path());
        bad(if p == "/?" { String::new() } else { p }, e.into_inner().to_string())
    })?;
    if raw.id.trim().is_empty() {
        return Err(bad("/id", "empty id"));
    }
    for (field, value) in [
        ("modified", Some(&raw.modified)),
        ("published", raw.published.as_ref()),
        ("withdrawn", raw.withdrawn.as_ref()),
    ] {
        if let Some(v) = value
            && v.parse::<jiff::Timestamp>().is_err()
        {
            return Err(bad(format!("/{field}"), format!("`{v}` is not an RFC 3339 time")));
        }
    }
    if raw.affected.len() > MAX_ITEMS {
        return Err(bad("/affected", format!("{} entries (at most {MAX_ITEMS})", raw.affected.len())));
    }
    let mut affected = Vec::with_capacity(raw.affected.len());
    for (i, a) in raw.affected.into_iter().enumerate() {
        let at = format!("/affected/{i}");
        let Some(pkg) = a.package else {
            // Affected entries without a package name commits only.
            continue;
        };
        let scheme = Scheme::for_osv_ecosystem(&pkg.ecosystem);
        if a.versions.len() > MAX_ITEMS {
            return Err(bad(format!("{at}/versions"), format!("{} versions (at most {MAX_ITEMS})", a.versions.len())));
        }
        let mut ranges = Vec::with_capacity(a.ranges.len());
        for (r, range) in a.ranges.into_iter().enumerate() {
            let rat = format!("{at}/ranges/{r}");
            let kind = match range.kind.as_str() {
                "SEMVER" => RangeKind::Semver,
                "ECOSYSTEM" => RangeKind::Ecosystem,
                "GIT" => RangeKind::Git,
                other => return Err(bad(format!("{rat}/type"), format!("unknown range type `{other}`"))),
            };
            if range.events.len() > MAX_ITEMS {
                return Err(bad(
                    format!("{rat}/events"),
                    format!("{} events (at most {MAX_ITEMS})", range.events.len()),
                ));
            }
            if range.events.is_empty() {
                return Err(bad(format!("{rat}/events"), "a range needs at least one event"));
            }
            let mut events = Vec::with_capacity(range.events.len());
            for (e, ev) in range.events.into_iter().enumerate() {
                let eat = format!("{rat}/events/{e}");
                let set =
                    [&ev.introduced, &ev.fixed, &ev.last_affected, &ev.limit].iter().filter(|v| v.is_some()).count();
                if set != 1 {
                    return Err(bad(
                        eat,
                        format!(
                            "an event has exactly one of introduced, fixed, last_affected, limit; this one has {set}"
                        ),
                    ));
                }
                let event = match (ev.introduced, ev.fixed, ev.last_affected, ev.limit) {
                    (Some(v), ..) => Event::Introduced(v),
                    (_, Some(v), ..) => Event::Fixed(v),
                    (_, _, Some(v), _) => Event::LastAffected(v),
                    (.., Some(v)) => Event::Limit(v),
                    _ => unreachable!("exactly one is set"),
                };
                let v = event.version();
                let special = (matches!(event, Event::Introduced(_)) && v == "0")
                    || (matches!(event, Event::Limit(_)) && v == "*");
                let check = match kind {
                    RangeKind::Semver => Some(Scheme::Semver),
                    RangeKind::Ecosystem if !matches!(scheme, Scheme::Generic) => Some(scheme),
                    _ => None,
                };
                if !special
                    && let Some(s) = check
                    && !orderable(s, v)
                {
                    return Err(bad(eat, format!("`{v}` is not a {} version", pkg.ecosystem)));
                }
                events.push(event);
            }
            ranges.push(Range { kind, events });
        }
        let imports = if pkg.ecosystem == "Go" { go_imports(a.ecosystem_specific, &at)? } else { Vec::new() };
        affected.push(Affected {
            ecosystem: pkg.ecosystem,
            name: pkg.name,
            purl: pkg.purl,
            ranges,
            versions: a.versions,
            imports,
            severity: a.severity.into_iter().map(|s| SeverityVector { kind: s.kind, score: s.score }).collect(),
        });
    }
    let severity_text =
        raw.database_specific.as_ref().and_then(|d| d.get("severity")).and_then(|s| s.as_str()).map(str::to_string);
    Ok(Record {
        id: raw.id,
        aliases: raw.aliases,
        summary: raw.summary,
        modified: raw.modified,
        published: raw.published,
        withdrawn: raw.withdrawn,
        severity: raw.severity.into_iter().map(|s| SeverityVector { kind: s.kind, score: s.score }).collect(),
        severity_text,
        affected,
        references: raw
            .references
            .into_iter()
            .filter(|r| matches!(r.kind.as_str(), "FIX" | "ADVISORY"))
            .map(|r| r.url)
            .collect(),
    })
}

/// `ecosystem_specific.imports` of a Go entry.
fn go_imports(specific: Option<serde_json::Value>, at: &str) -> Result<Vec<Import>, Malformed> {
    let Some(imports) = specific.as_ref().and_then(|s| s.get("imports")) else { return Ok(Vec::new()) };
    let raw: Vec<RawImport> = serde_path_to_error::deserialize(imports).map_err(|e| {
        bad(format!("{at}/ecosystem_specific/imports{}", pointer(e.path())), e.into_inner().to_string())
    })?;
    Ok(raw.into_iter().map(|i| Import { path: i.path, symbols: i.symbols, goos: i.goos, goarch: i.goarch }).collect())
}

/// A time of a record, unless it is the zero time (`0001-01-01T00:00:00Z`),
/// which golang/vulndb's repository writes for "not recorded here".
pub fn known_time(t: &str) -> Option<jiff::Timestamp> {
    t.parse::<jiff::Timestamp>().ok().filter(|t| t.as_second() > 0)
}

/// The record's newest known time: `modified` or `published`.
pub fn newest_time(r: &Record) -> Option<jiff::Timestamp> {
    let m = known_time(&r.modified);
    let p = r.published.as_deref().and_then(known_time);
    m.into_iter().chain(p).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_records_are_named_by_pointer() {
        let e = parse(br#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1.0.0"}]}]}]}"#).unwrap_err();
        assert_eq!(e.pointer, "/affected/0/ranges/0/events/0");
        let e = parse(br#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"not.a.version"}]}]}]}"#).unwrap_err();
        assert_eq!(e.pointer, "/affected/0/ranges/0/events/1");
        assert!(e.message.contains("not.a.version"), "{e}");
        let e = parse(br#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go"}}]}"#)
            .unwrap_err();
        assert_eq!(e.pointer, "/affected/0/package");
        let e = parse(br#"{"id":"X-1","modified":"yesterday"}"#).unwrap_err();
        assert_eq!(e.pointer, "/modified");
        let e = parse(br#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"m"},"ecosystem_specific":{"imports":[{"path":1}]}}]}"#).unwrap_err();
        assert_eq!(e.pointer, "/affected/0/ecosystem_specific/imports/0/path");
        assert!(parse(b"{\"id\":").is_err());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn a_go_record_reads_whole() {
        let r = parse(br#"{"id":"GO-2021-0113","modified":"0001-01-01T00:00:00Z","published":"2021-10-06T17:51:21Z","aliases":["CVE-2021-38561"],
            "affected":[{"package":{"name":"golang.org/x/text","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.7"}]}],
            "ecosystem_specific":{"imports":[{"path":"golang.org/x/text/language","symbols":["Parse"]}]}}]}"#).unwrap();
        assert_eq!(r.affected[0].imports[0].symbols, vec!["Parse"]);
        assert_eq!(r.affected[0].ranges[0].events, vec![Event::Introduced("0".into()), Event::Fixed("0.3.7".into())]);
        assert_eq!(newest_time(&r).unwrap().to_string(), "2021-10-06T17:51:21Z");
    }
}
