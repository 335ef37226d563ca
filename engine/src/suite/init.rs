//! `portcullis test --init`: a starter test for a policy and an image,
//! written from what the policy does to the image today. It is a starting
//! point, not a judgement: the file says so at its top, and every
//! expectation in it is one line the author can read and correct.

use super::run::{Outcome, fold};
use super::{PolicyRef, cfg};
use crate::report::Verdict;
use crate::{Engine, EngineOptions};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The text of a starter test file at `out` for `image` under `policy`,
/// with the expectations the policy gives today (`now` frozen to `today`).
pub fn starter(policy: &PolicyRef, image: &Path, out: &Path, options: EngineOptions) -> Result<String, String> {
    let base = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let relative = |p: &Path| -> Result<String, String> {
        let abs = std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let from = std::path::absolute(base).map_err(|e| format!("{}: {e}", base.display()))?;
        let rel = pathdiff::diff_paths(&abs, &from).unwrap_or(abs);
        rel.to_str().map(|s| s.replace('\\', "/")).ok_or_else(|| format!("{} is not UTF-8", p.display()))
    };
    let today = options.today.unwrap_or_else(|| jiff::Zoned::now().date());
    let parsed = match policy {
        PolicyRef::Builtin => crate::Policy::builtin_default(),
        PolicyRef::File(p) => crate::Policy::from_file(p).map_err(|e| e.render_plain())?,
    };
    let engine = Engine::new(parsed, EngineOptions { today: Some(today), ..options }).map_err(|e| e.to_string())?;
    let input = crate::source::open(image, &Default::default()).map_err(|e| format!("{}: {e}", image.display()))?;
    let report = engine.audit(&input);
    let mut rules = BTreeMap::new();
    for s in &report.subjects {
        fold(&mut rules, s.findings.iter());
    }
    let verdict = if report.subjects.iter().any(|s| s.verdict == Verdict::Deny) { "deny" } else { "admit" };
    let policy_text = match policy {
        PolicyRef::Builtin => crate::policy::DEFAULT_POLICY_NAME.to_string(),
        PolicyRef::File(p) => relative(p)?,
    };
    let name = image
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("image")
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-");
    let mut t = String::new();
    let _ = writeln!(t, "# A starter test written by `portcullis test --init`: the expectations below");
    let _ = writeln!(t, "# are what the policy does to the image today. Read each one and correct what");
    let _ = writeln!(t, "# is wrong: a test that records a mistake protects the mistake.");
    let _ = writeln!(t, "schema = {:?}\n", cfg::SCHEMA);
    let _ = writeln!(t, "[context]\nnow = {today}\npolicy = {policy_text:?}\n");
    let _ = writeln!(t, "[fixtures.{name}]\nimage = {:?}\n", relative(image)?);
    let _ = writeln!(t, "[[case]]\nname = \"{name}: {verdict}\"\nfixture = {name:?}\nverdict = {verdict:?}");
    let _ = writeln!(t, "\n[case.expect]");
    for (rule, seen) in &rules {
        match seen.outcome {
            // A finding's message is the evidence a reviewer checks; keep
            // failing rules' first one as a comment.
            Outcome::Fail | Outcome::Warn | Outcome::Waived | Outcome::Error => {
                let msg = seen.messages.first().map(|m| m.lines().next().unwrap_or("")).unwrap_or("");
                let msg: String = msg.chars().take(100).collect();
                let _ = writeln!(t, "{rule} = \"{}\"   # {msg}", seen.outcome);
            }
            Outcome::Pass | Outcome::Skip => {
                let _ = writeln!(t, "{rule} = \"{}\"", seen.outcome);
            }
        }
    }
    Ok(t)
}
