//! Builtin plugin `vulnerabilities`: SC-VULN-001..003. The host matches the
//! image against the offline database (`--vuln-db`) and answers the
//! contract's `vulnerabilities` queries; this plugin applies the policy:
//! which severities deny, whether a Go vulnerability counts only when its
//! vulnerable function is in the binary, how long a known fix may wait, and
//! how old the data may be. Without a database every rule is `unavailable`
//! (the failure policy decides: deny unless it says `ignore`), never a pass.

use portcullis_sdk::signatures;
use portcullis_sdk::vulnerabilities::{self as vulns, Reach, Vulnerability};
use portcullis_sdk::{
    Checker, Enforcement, Finding, ParamProblem, ParamValue, Params, Plugin, PluginMeta, RuleConfig, RuleMeta,
    Severity, Target, TargetKind,
};

pub struct VulnerabilitiesPlugin;

const SEVERE: &str = "SC-VULN-001";
const GRACE: &str = "SC-VULN-002";
const FRESH: &str = "SC-VULN-003";

/// Findings per rule; beyond this one finding says how many more.
const MAX_LISTED: usize = 100;

const BANDS: [&str; 5] = ["none", "low", "medium", "high", "critical"];

impl Plugin for VulnerabilitiesPlugin {
    fn metadata() -> PluginMeta {
        PluginMeta { name: "vulnerabilities".into(), version: env!("CARGO_PKG_VERSION").into(), rules: rules() }
    }

    fn check(rules: Vec<RuleConfig>) -> Vec<ParamProblem> {
        let mut c = Checker::default();
        for r in &rules {
            c.text(r, "max_severity", |v| {
                if BANDS[1..].contains(&v) {
                    Ok(())
                } else {
                    Err(format!("`{v}` is not one of low, medium, high, critical"))
                }
            });
            c.text(r, "unscored", |v| {
                if matches!(v, "deny" | "warn" | "ignore") {
                    Ok(())
                } else {
                    Err(format!("`{v}` is not one of deny, warn, ignore"))
                }
            });
            c.text(r, "vex_identity", |v| {
                regex_lite::Regex::new(v).map(|_| ()).map_err(|e| format!("not a regular expression: {e}"))
            });
            let p = Params::of(r);
            if p.text("vex_identity", "").is_empty() != p.text("vex_issuer", "").is_empty() {
                c.problems.push(ParamProblem {
                    rule: r.id.clone(),
                    param: "vex_identity".into(),
                    index: None,
                    message:
                        "`vex_identity` and `vex_issuer` are set together: a keyless signer is a SAN under an issuer"
                            .into(),
                });
            }
            c.integer_in(r, "grace_days", 0..=36_500);
            c.integer_in(r, "max_age_days", 0..=36_500);
        }
        c.problems
    }

    fn evaluate(target: Target, rules: Vec<RuleConfig>) -> Vec<Finding> {
        if !matches!(target, Target::Image(_)) {
            return portcullis_sdk::skip_all(&rules, portcullis_sdk::NOT_JUDGED);
        }
        let mut out = Vec::new();
        for r in &rules {
            match r.id.as_str() {
                SEVERE => out.extend(severe(r)),
                GRACE => out.extend(grace(r)),
                FRESH => out.push(fresh(r)),
                other => out.push(Finding::error(other, "unknown rule")),
            }
        }
        out
    }
}

#[cfg(target_arch = "wasm32")]
portcullis_sdk::export_plugin!(VulnerabilitiesPlugin);

pub fn rules() -> Vec<RuleMeta> {
    vec![
        RuleMeta::new(
            SEVERE,
            "No known vulnerability at or above the severity threshold",
            Severity::High,
            Enforcement::Enforce,
            "No package of the image — Go modules and standard library of each Go binary, dpkg and apk packages, SBOM components — has a known vulnerability scored at or above `max_severity` (CVSS v3/v4 base score from the record's vector; the source's own severity word when there is no vector). A Go vulnerability counts only when one of its vulnerable functions is in the binary's function table, read even from stripped binaries, unless `reachable_only = false`. Records without a score follow `unscored`: `deny` counts them, `warn` lists them without counting, `ignore` drops them. A VEX statement `not_affected` or `fixed` for the image removes a vulnerability: from `--vex` documents, or from attached VEX attestations signed by a trusted signer (`vex_keys`, or `vex_identity` with `vex_issuer`); other attached VEX is ignored.",
            "Upgrade the package to the fixed version named in the finding (for Go: `go get module@version` and rebuild; for the standard library, rebuild with that Go release), or record why it does not apply in a VEX document.",
        )
        .judges(&[TargetKind::Image])
        .param("max_severity", ParamValue::Text("high".into()), "Lowest severity that denies: low, medium, high or critical.")
        .param("unscored", ParamValue::Text("deny".into()), "Records without a score: deny (count), warn (list only), ignore.")
        .param("reachable_only", ParamValue::Boolean(true), "Go: count only vulnerabilities whose vulnerable functions are in the binary.")
        .param("vex_keys", ParamValue::TextList(Vec::new()), "PEM public keys whose attached VEX attestations (`cosign attest --type openvex`) count.")
        .param("vex_identity", ParamValue::Text(String::new()), "Keyless VEX attestations count when a SAN of the signer matches this regular expression whole (with `vex_issuer`).")
        .param("vex_issuer", ParamValue::Text(String::new()), "The OIDC issuer of trusted keyless VEX signers, exactly."),
        RuleMeta::new(
            GRACE,
            "No vulnerability left unfixed past the grace period",
            Severity::Medium,
            Enforcement::Warn,
            "No known vulnerability of the image, whatever its severity, has had a fixed version available for longer than `grace_days` (counted from the record's publication). Go vulnerabilities count as in SC-VULN-001.",
            "Upgrade to the fixed version; a fix that has waited longer than the grace period is overdue.",
        )
        .judges(&[TargetKind::Image])
        .param("grace_days", ParamValue::Integer(30), "Days a published fix may wait.")
        .param("reachable_only", ParamValue::Boolean(true), "Go: count only vulnerabilities whose vulnerable functions are in the binary.")
        .param("vex_keys", ParamValue::TextList(Vec::new()), "PEM public keys whose attached VEX attestations (`cosign attest --type openvex`) count.")
        .param("vex_identity", ParamValue::Text(String::new()), "Keyless VEX attestations count when a SAN of the signer matches this regular expression whole (with `vex_issuer`).")
        .param("vex_issuer", ParamValue::Text(String::new()), "The OIDC issuer of trusted keyless VEX signers, exactly."),
        RuleMeta::new(
            FRESH,
            "The vulnerability database is recent",
            Severity::High,
            Enforcement::Enforce,
            "The offline vulnerability database the image was judged with holds a record modified or published within `max_age_days` of today: stale data would admit images with vulnerabilities published since, so it fails closed.",
            "Re-import the database (`portcullis db import PATH... -o DB`) from a fresh export of the OSV data.",
        )
        .judges(&[TargetKind::Image])
        .param("max_age_days", ParamValue::Integer(7), "How old the newest record may be, in days."),
    ]
}

fn rank(band: &str) -> usize {
    BANDS.iter().position(|b| *b == band).unwrap_or(0)
}

/// The severity band of a vulnerability: from its CVSS score, else from
/// the source's word (`MODERATE` is medium); `None` when unscored.
fn band(v: &Vulnerability) -> Option<&'static str> {
    if let Some(s) = &v.score {
        return Some(match s.value {
            x if x >= 9.0 => "critical",
            x if x >= 7.0 => "high",
            x if x >= 4.0 => "medium",
            x if x > 0.0 => "low",
            _ => "none",
        });
    }
    match v.severity_text.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("critical") => Some("critical"),
        Some("high" | "important") => Some("high"),
        Some("moderate" | "medium") => Some("medium"),
        Some("low" | "negligible" | "unimportant") => Some("low"),
        _ => None,
    }
}

fn suppressed_by_vex(v: &Vulnerability) -> bool {
    v.vex.as_ref().is_some_and(|x| matches!(x.status.as_str(), "not_affected" | "fixed"))
}

fn reach_word(r: Reach) -> &'static str {
    match r {
        Reach::Reachable => "reachable",
        Reach::Present => "present, not called",
        Reach::Module => "module only",
        Reach::Package => "installed",
    }
}

fn counts(v: &Vulnerability, reachable_only: bool) -> bool {
    !suppressed_by_vex(v) && (!reachable_only || matches!(v.reach, Reach::Reachable | Reach::Package))
}

fn ids(v: &Vulnerability) -> String {
    if v.aliases.is_empty() { v.id.clone() } else { format!("{} ({})", v.id, v.aliases.join(", ")) }
}

fn describe(v: &Vulnerability, severity: &str) -> String {
    let fixed = v.fixed.as_deref().map(|f| format!(", fixed in {f}")).unwrap_or_else(|| ", no fixed version".into());
    let symbols = if v.symbols.is_empty() {
        String::new()
    } else {
        let shown: Vec<&str> = v.symbols.iter().take(5).map(String::as_str).collect();
        let more = if v.symbols.len() > 5 { format!(" and {} more", v.symbols.len() - 5) } else { String::new() };
        format!("; vulnerable code in the binary: {}{more}", shown.join(", "))
    };
    let summary = v.summary.as_deref().map(|s| format!(": {s}")).unwrap_or_default();
    format!(
        "{} {} {}{fixed} [{severity}, {}] in {}{summary}{symbols}",
        ids(v),
        v.package,
        v.installed,
        reach_word(v.reach),
        v.origin
    )
}

fn remediation(v: &Vulnerability) -> String {
    match (&v.fixed, v.package.as_str(), v.ecosystem.as_str()) {
        (Some(f), "stdlib", "Go") => format!("Rebuild with Go {} or later.", f.trim_start_matches("go")),
        (Some(f), m, "Go") => format!("`go get {m}@{f}`, then rebuild."),
        (Some(f), p, _) => format!("Upgrade {p} to {f} or later."),
        (None, p, _) => {
            format!("No fix is published for {p}: remove it, or record in a VEX document why it does not apply.")
        }
    }
}

fn finding(rule: &str, v: &Vulnerability, severity: &str) -> Finding {
    let mut f = Finding::fail(rule, describe(v, severity));
    if let Some(p) = &v.path {
        f = f.at_path(p.clone(), v.layer);
    }
    f.severity = Some(match severity {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" => Severity::Medium,
        "low" => Severity::Low,
        _ => Severity::High,
    });
    f.remediation = Some(remediation(v));
    f
}

/// The attached attestations whose VEX a rule trusts: those that verify with
/// one of `vex_keys`, or keylessly with a signer whose SAN matches
/// `vex_identity` (whole) under the OIDC issuer `vex_issuer`. Without either
/// setting no attached VEX counts: whoever can push to the registry can
/// attach a document, and only a trusted signer may silence a finding.
fn trusted_vex(rule: &RuleConfig) -> Result<Vec<u32>, String> {
    let p = Params::of(rule);
    let keys = p.text_list("vex_keys");
    let (pattern, issuer) = (p.text("vex_identity", ""), p.text("vex_issuer", ""));
    let keyless = !pattern.is_empty() && !issuer.is_empty();
    if keys.is_empty() && !keyless {
        return Ok(Vec::new());
    }
    let re = if keyless {
        Some(
            regex_lite::Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| format!("`vex_identity` is not a regular expression: {e}"))?,
        )
    } else {
        None
    };
    let signer_matches = |v: &signatures::Verified| {
        v.identity.as_ref().is_some_and(|i| {
            i.issuer.as_deref() == Some(issuer.as_str())
                && i.sans.iter().any(|s| re.as_ref().is_some_and(|r| r.is_match(s)))
        })
    };
    let mut trusted = Vec::new();
    for (i, m) in signatures::list().iter().enumerate() {
        if m.kind != signatures::MaterialKind::Attestation {
            continue;
        }
        let i = i as u32;
        let by_key = keys.iter().any(|k| signatures::verify_key(i, k).is_ok());
        let by_signer = keyless && signatures::verify_keyless(i).is_ok_and(|v| signer_matches(&v));
        if by_key || by_signer {
            trusted.push(i);
        }
    }
    Ok(trusted)
}

/// The matches (with the VEX of trusted attestations applied) and problems,
/// or the findings that say why not.
fn query(rule: &RuleConfig) -> Result<Vec<Vulnerability>, Vec<Finding>> {
    let id = rule.id.as_str();
    let attested = trusted_vex(rule).map_err(|e| vec![Finding::error(id, e)])?;
    let matches = if attested.is_empty() { vulns::matches() } else { vulns::matches_with_vex(&attested) };
    let matches = matches.map_err(|e| vec![Finding::unavailable(id, e)])?;
    let rule = id;
    let problems = vulns::problems().map_err(|e| vec![Finding::unavailable(rule, e)])?;
    if !problems.is_empty() {
        // Part of the image could not be matched: it must not pass as clean.
        return Err(problems.iter().map(|p| Finding::error(rule, format!("{}: {}", p.origin, p.message))).collect());
    }
    Ok(matches)
}

fn capped(rule: &str, mut findings: Vec<Finding>) -> Vec<Finding> {
    if findings.len() > MAX_LISTED {
        let more = findings.len() - MAX_LISTED;
        findings.truncate(MAX_LISTED);
        findings.push(Finding::fail(
            rule,
            format!("and {more} more vulnerabilities (run `portcullis vulns` for the full list)"),
        ));
    }
    findings
}

fn severe(rule: &RuleConfig) -> Vec<Finding> {
    let id = rule.id.as_str();
    let p = Params::of(rule);
    let threshold = rank(&p.text("max_severity", "high"));
    let unscored = p.text("unscored", "deny");
    let reachable_only = p.boolean("reachable_only", true);
    let matches = match query(rule) {
        Ok(m) => m,
        Err(f) => return f,
    };
    let mut failing = Vec::new();
    let (mut below, mut unreached, mut vexed, mut listed) = (0, 0, Vec::new(), Vec::new());
    for v in &matches {
        if suppressed_by_vex(v) {
            if let Some(x) = &v.vex {
                let why = x.justification.as_deref().map(|j| format!(": {j}")).unwrap_or_default();
                vexed.push(format!("{} in {} {} ({}{why}, {})", ids(v), v.package, v.installed, x.status, x.document));
            }
            continue;
        }
        if !counts(v, reachable_only) {
            unreached += 1;
            continue;
        }
        match band(v) {
            Some(b) if rank(b) >= threshold => failing.push(finding(id, v, b)),
            Some(_) => below += 1,
            None => match unscored.as_str() {
                "deny" => failing.push(finding(id, v, "unscored")),
                "warn" => listed.push(ids(v)),
                _ => {}
            },
        }
    }
    // Every VEX statement used is listed, whatever the outcome.
    let vex_note = (!vexed.is_empty()).then(|| Finding::pass(id, format!("set aside by VEX: {}", vexed.join("; "))));
    if failing.is_empty() {
        let mut msg = format!(
            "no vulnerability at or above {} among {} matched ({below} below it, {unreached} in Go code the binaries do not contain, {} set aside by VEX)",
            BANDS[threshold],
            matches.len(),
            vexed.len()
        );
        if !listed.is_empty() {
            msg.push_str(&format!("; unscored, not counted: {}", listed.join(", ")));
        }
        return std::iter::once(Finding::pass(id, msg)).chain(vex_note).collect();
    }
    capped(id, failing).into_iter().chain(vex_note).collect()
}

fn grace(rule: &RuleConfig) -> Vec<Finding> {
    let id = rule.id.as_str();
    let p = Params::of(rule);
    let days = p.integer("grace_days", 30).max(0) as u32;
    let reachable_only = p.boolean("reachable_only", true);
    let matches = match query(rule) {
        Ok(m) => m,
        Err(f) => return f,
    };
    let overdue: Vec<Finding> = matches
        .iter()
        .filter(|v| counts(v, reachable_only))
        .filter_map(|v| {
            let age = v.fix_age_days?;
            (age > days).then(|| {
                let mut f = finding(id, v, band(v).unwrap_or("unscored"));
                f.message = format!("{} — a fix has been published for {age} days (grace period {days})", f.message);
                f.severity = None;
                f
            })
        })
        .collect();
    if overdue.is_empty() {
        // A record without a publication date cannot be judged here; say
        // so, rather than let the pass read as "every fix is recent".
        let undated = matches
            .iter()
            .filter(|v| counts(v, reachable_only) && v.fixed.is_some() && v.fix_age_days.is_none())
            .count();
        let note = match undated {
            0 => String::new(),
            n => format!(
                " ({n} fixed vulnerabilit{} without a publication date not judged)",
                if n == 1 { "y" } else { "ies" }
            ),
        };
        return vec![Finding::pass(id, format!("no fix has waited more than {days} days{note}"))];
    }
    capped(id, overdue)
}

fn fresh(rule: &RuleConfig) -> Finding {
    let id = rule.id.as_str();
    let max = Params::of(rule).integer("max_age_days", 7).max(0) as u32;
    let db = match vulns::database() {
        Ok(db) => db,
        Err(e) => return Finding::unavailable(id, e),
    };
    match (db.age_days, db.newest.as_deref()) {
        (Some(age), Some(newest)) if age <= max => Finding::pass(
            id,
            format!("database {} ({} records) is {age} days old (newest record {newest})", db.digest, db.records),
        ),
        (Some(age), Some(newest)) => Finding::fail(
            id,
            format!(
                "database {} is {age} days old (newest record {newest}; at most {max} allowed): vulnerabilities published since would be missed",
                db.digest
            ),
        ),
        _ => Finding::fail(id, format!("database {} has no dated record, so its age is unknown", db.digest)),
    }
}
