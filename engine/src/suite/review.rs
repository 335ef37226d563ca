//! AdmissionReview cases: the request judged as `serve` judges it — the
//! workload read by the library, exemptions and the registry allow-list
//! applied, each distinct image judged, [`Admission::decide`] — with every
//! image resolved to the fixture the test maps it to instead of a registry.

use super::fixture::Bench;
use super::run::{Observed, Outcome, RuleSeen, denying_rules, fold};
use crate::Engine;
use crate::admission::{Admission, ImageOutcome, Workload};
use crate::report::{Report, Verdict};
use std::collections::BTreeMap;
use std::path::Path;

/// An image of the review: its digest and report, or why it was refused.
type ImageJudgement = Result<(crate::digest::Digest, Report), String>;

/// An AdmissionReview judged as `serve` judges it, each image resolved to
/// its fixture instead of a registry.
pub(super) fn observe_review(
    bench: &Bench<'_>,
    engine: &Engine,
    path: &Path,
    images: &[(String, String)],
) -> Result<Observed, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let review = read_review(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let request = crate::admission::review::request_of(&review).map_err(|e| format!("{}: {e}", path.display()))?;
    let allowed = |rules| Observed { verdict: Verdict::Admit, denied_by: Vec::new(), rules };
    let workload = match Workload::from_request(request) {
        Ok(Some(w)) => w,
        Ok(None) => return Ok(allowed(BTreeMap::new())),
        Err(e) => {
            return Ok(Observed {
                verdict: Verdict::Deny,
                denied_by: vec!["portcullis/admission".into()],
                rules: BTreeMap::new(),
            }
            .with_reason(e));
        }
    };
    let settings = &engine.policy().admission;
    if settings.exempts(&workload) {
        return Ok(allowed(BTreeMap::new()));
    }
    let mut refs: Vec<String> = workload.images().into_iter().map(|u| u.image).collect();
    refs.sort();
    refs.dedup();
    // Each image: refused as the server would refuse it (no image, not a
    // reference, outside the registry allow-list), or judged from its fixture.
    let mut judged: Vec<(String, ImageJudgement)> = Vec::new();
    for r in &refs {
        let outcome = if r.is_empty() {
            Err("a container has no image".to_string())
        } else {
            match crate::registry::parse_reference(r) {
                Err(e) => Err(e.to_string()),
                Ok(parsed) => {
                    let repository = crate::registry::repository_of(&parsed);
                    match settings.allows_registry(&repository) {
                        Err(e) => Err(e),
                        Ok(()) => Ok(judge_image(bench, engine, images, r, &parsed, repository)?),
                    }
                }
            }
        };
        judged.push((r.clone(), outcome));
    }
    let outcomes: Vec<(&str, ImageOutcome<'_>)> = judged
        .iter()
        .map(|(r, j)| {
            let o = match j {
                Ok((digest, report)) => ImageOutcome::Judged { digest, report },
                Err(why) => ImageOutcome::Refused(why),
            };
            (r.as_str(), o)
        })
        .collect();
    let admission = Admission::decide(engine, &workload, &outcomes);
    let mut rules = BTreeMap::new();
    fold(&mut rules, admission.report.findings.iter());
    for (_, report) in judged.iter().filter_map(|(_, j)| j.as_ref().ok()) {
        fold(&mut rules, report.subjects.iter().flat_map(|s| s.findings.iter()));
    }
    Ok(Observed {
        verdict: if admission.allowed { Verdict::Admit } else { Verdict::Deny },
        denied_by: denying_rules(admission.report.findings.iter()),
        rules,
    })
}

/// Judges one image of a review from the fixture it is mapped to; a missing
/// mapping, or a fixture that is not the image a pinned digest names, is a
/// harness error (the test is wrong, not the policy).
fn judge_image(
    bench: &Bench<'_>,
    engine: &Engine,
    images: &[(String, String)],
    r: &str,
    parsed: &oci_client::Reference,
    repository: String,
) -> Result<(crate::digest::Digest, Report), String> {
    let Some((_, name)) = images.iter().find(|(k, _)| k == r) else {
        return Err(format!(
            "the review's image `{r}` has no fixture: map it in the fixture's `images` (tests never reach a registry)"
        ));
    };
    let path = bench.image_path(name)?;
    let input = bench.open_image(name, &path, Some(repository))?;
    let report = engine.audit(&input);
    let top = report
        .subjects
        .iter()
        .find(|s| s.parent_index.is_none())
        .ok_or_else(|| format!("fixture `{name}` has no image"))?;
    let digest = crate::digest::Digest::parse(&top.digest)?;
    if let Some(pinned) = parsed.digest()
        && pinned != digest.as_str()
    {
        return Err(format!("the review's image `{r}` names {pinned}, but fixture `{name}` is {digest}"));
    }
    Ok((digest, report))
}

impl Observed {
    fn with_reason(mut self, why: String) -> Observed {
        self.rules.insert("portcullis/admission".into(), RuleSeen { outcome: Outcome::Fail, messages: vec![why] });
        self
    }
}

/// An AdmissionReview as JSON or YAML (bounded like the server's body).
fn read_review(bytes: &[u8]) -> Result<serde_json::Value, String> {
    if let Ok(v) = crate::admission::review::read(bytes) {
        return Ok(v);
    }
    if bytes.len() > 4 << 20 {
        return Err("larger than 4 MiB".into());
    }
    let yaml: serde_json::Value =
        serde_yaml_ng::from_slice(bytes).map_err(|e| format!("neither JSON nor YAML: {e}"))?;
    let json = serde_json::to_vec(&yaml).map_err(|e| e.to_string())?;
    crate::admission::review::read(&json)
}
