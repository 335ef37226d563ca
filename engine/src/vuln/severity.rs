//! Severity of a record, from its CVSS vectors (the `cvss` crate computes
//! v3.0/v3.1 base scores and v4.0 scores), or from a word the source gives.
//!
//! Why computed here and not read from a score field: OSV gives vectors,
//! not numbers, and a vector scored by hand invites the rounding mistakes
//! CVSS is known for; the RustSec crate implements the specification's
//! formulas and is what cargo-audit uses.

use super::osv::{Affected, Record, SeverityVector};
use std::str::FromStr;

/// A computed score and the vector it came from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Score {
    pub score: f64,
    /// `CVSS_V3`, `CVSS_V4`.
    pub kind: String,
    pub vector: String,
}

/// The score of one vector, when it is a CVSS v3 or v4 vector.
pub fn score(v: &SeverityVector) -> Option<Score> {
    let value = match cvss::Cvss::from_str(v.score.trim()).ok()? {
        cvss::Cvss::CvssV30(vector) | cvss::Cvss::CvssV31(vector) => vector.base_score().value(),
        cvss::Cvss::CvssV40(vector) => vector.score().value(),
        _ => return None,
    };
    Some(Score { score: value, kind: v.kind.clone(), vector: v.score.clone() })
}

/// The highest score of the entry's vectors, else of the record's: v4 and
/// v3 both count, and the worse one is the record's severity.
pub fn best(record: &Record, affected: &Affected) -> Option<Score> {
    let pick = |list: &[SeverityVector]| list.iter().filter_map(score).max_by(|a, b| a.score.total_cmp(&b.score));
    pick(&affected.severity).or_else(|| pick(&record.severity))
}

/// The qualitative band of a CVSS score (the specification's table).
pub fn band(score: f64) -> &'static str {
    match score {
        s if s >= 9.0 => "critical",
        s if s >= 7.0 => "high",
        s if s >= 4.0 => "medium",
        s if s > 0.0 => "low",
        _ => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_scored_by_the_specification() {
        let v3 =
            SeverityVector { kind: "CVSS_V3".into(), score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into() };
        assert_eq!(score(&v3).unwrap().score, 9.8);
        let v3 =
            SeverityVector { kind: "CVSS_V3".into(), score: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H".into() };
        assert_eq!(score(&v3).unwrap().score, 5.9);
        let v4 = SeverityVector {
            kind: "CVSS_V4".into(),
            score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N".into(),
        };
        assert_eq!(score(&v4).unwrap().score, 9.3);
        assert!(score(&SeverityVector { kind: "CVSS_V3".into(), score: "garbage".into() }).is_none());
        assert_eq!(band(9.8), "critical");
        assert_eq!(band(7.5), "high");
        assert_eq!(band(5.9), "medium");
    }
}
