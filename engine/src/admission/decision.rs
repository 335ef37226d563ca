//! From the engine's judgement of a workload to the webhook's answer:
//! which findings deny (reasons), which warn (warnings, including those of
//! the admitted images), whether the request is allowed.

use super::Workload;
use crate::Engine;
use crate::digest::Digest;
use crate::model::{FailurePolicy, Outcome};
use crate::report::{Effect, Report, SubjectReport, Verdict};

/// What the image policy concluded about one image reference of a workload.
#[derive(Debug, Clone, Copy)]
pub enum ImageOutcome<'a> {
    Judged {
        digest: &'a Digest,
        report: &'a Report,
    },
    /// Not judged for a reason outside the image (registry down or refusing
    /// access, deadline): why. The failure policy decides.
    Undecided(&'a str),
    /// Not judged because of the image or its reference (malformed or
    /// altered content, over a limit, not a reference): why. Denies.
    Refused(&'a str),
}

/// What the webhook answers for one workload.
#[derive(Debug, Clone)]
pub struct Admission {
    pub allowed: bool,
    /// One line per denying finding: `RULE: message`.
    pub reasons: Vec<String>,
    /// Warn-effect findings of the workload and of its admitted images.
    pub warnings: Vec<String>,
    /// The workload's own report (K8S rules, waivers applied).
    pub report: SubjectReport,
}

impl Admission {
    /// Judges `workload` with `engine`, given what became of each of its
    /// image references (`images`: reference → outcome; references that are
    /// missing here count as not judged).
    pub fn decide(engine: &Engine, workload: &Workload, images: &[(&str, ImageOutcome<'_>)]) -> Admission {
        let report = engine.judge_workload(workload, images);
        let mut reasons = Vec::new();
        let mut warnings = Vec::new();
        for f in &report.findings {
            let line = match (f.outcome, f.effect) {
                (Outcome::Error, Effect::Deny)
                    if engine.plan().rules.iter().find(|r| r.info.id == f.rule).map(|r| r.failure_policy)
                        != Some(FailurePolicy::Ignore) =>
                {
                    format!("{} (failure-policy deny): {}", f.rule, f.message)
                }
                (Outcome::Error, Effect::Warn) => {
                    format!("{} (failure-policy ignore: admitted): {}", f.rule, f.message)
                }
                _ => format!("{}: {}", f.rule, f.message),
            };
            match f.effect {
                Effect::Deny => reasons.push(line),
                Effect::Warn => warnings.push(line),
                _ => {}
            }
        }
        // What the admitted images warn about, so users see it at deploy time.
        for (image, outcome) in images {
            let ImageOutcome::Judged { report: r, .. } = outcome else { continue };
            for s in &r.subjects {
                for f in s.findings.iter().filter(|f| f.effect == Effect::Warn) {
                    let platform = s.platform.as_deref().map(|p| format!(" [{p}]")).unwrap_or_default();
                    warnings.push(format!("{image}{platform}: {}: {}", f.rule, f.message));
                }
            }
        }
        Admission { allowed: report.verdict == Verdict::Admit, reasons, warnings, report }
    }
}
