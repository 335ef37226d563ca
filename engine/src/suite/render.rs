//! A test run as people and CI systems read it: human text with a diff per
//! mismatch (rule, expected, got, message), JSON, and JUnit XML (the
//! `testsuites`/`testsuite`/`testcase` shape Jenkins, GitLab and GitHub
//! reporters read: one suite per test file, one test case per case).

use super::run::{Coverage, Run, Status};
use std::fmt::Write as _;

/// Human text. `coverage`: also list each tested policy's rules.
pub fn human(run: &Run, coverage: bool) -> String {
    let mut out = String::new();
    for w in &run.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    for r in &run.results {
        match &r.status {
            Status::Passed => {
                let _ = writeln!(out, "ok      {}::{} ({:.2}s)", r.file, r.name, r.seconds);
            }
            Status::Mismatch(ms) => {
                let _ = writeln!(out, "FAILED  {}::{} (line {})", r.file, r.name, r.line);
                for m in ms {
                    let _ = writeln!(out, "        {}: expected {}, got {}", m.what, m.expected, m.got);
                    if !m.message.is_empty() {
                        let _ = writeln!(out, "          {}", m.message);
                    }
                }
            }
            Status::Error(e) => {
                let _ = writeln!(out, "ERROR   {}::{} (line {}): {e}", r.file, r.name, r.line);
            }
        }
    }
    if coverage {
        for c in &run.coverage {
            out.push_str(&coverage_text(c));
        }
    }
    let failed = run.results.iter().filter(|r| matches!(r.status, Status::Mismatch(_))).count();
    let passed = run.results.iter().filter(|r| matches!(r.status, Status::Passed)).count();
    let errors = crate::report::human::count(run.errors(), "error", "errors");
    let _ = writeln!(out, "\n{passed} passed, {failed} failed, {errors}");
    out
}

fn coverage_text(c: &Coverage) -> String {
    let mut out = format!("\ncoverage of {}:\n", c.policy);
    for r in &c.rules {
        let mark = |b: bool| if b { "yes" } else { "NO " };
        let _ = writeln!(out, "  {:<14} pass {}  fail {}", r.rule, mark(r.pass), mark(r.fail));
    }
    let gaps = c.gaps().count();
    let _ = writeln!(out, "  {} of {} rules seen both passing and failing", c.rules.len() - gaps, c.rules.len());
    out
}

pub fn json(run: &Run) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "schema": "portcullis.test-report/v1",
        "passed": run.passed(),
        "results": run.results,
        "coverage": run.coverage,
        "warnings": run.warnings,
    }))
    .unwrap_or_default()
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML.
pub fn junit(run: &Run) -> String {
    let mut files: Vec<&str> = run.results.iter().map(|r| r.file.as_str()).collect();
    files.dedup();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures = run.results.iter().filter(|r| matches!(r.status, Status::Mismatch(_))).count();
    let total: f64 = run.results.iter().map(|r| r.seconds).sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"portcullis test\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\" time=\"{total:.3}\">",
        run.results.len(),
        run.errors()
    );
    for (id, file) in files.iter().enumerate() {
        let cases: Vec<_> = run.results.iter().filter(|r| r.file == *file).collect();
        let f = cases.iter().filter(|r| matches!(r.status, Status::Mismatch(_))).count();
        let e = cases.iter().filter(|r| matches!(r.status, Status::Error(_))).count();
        let t: f64 = cases.iter().map(|r| r.seconds).sum();
        let _ = writeln!(
            out,
            "  <testsuite id=\"{id}\" name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"{e}\" skipped=\"0\" time=\"{t:.3}\">",
            xml(file),
            cases.len()
        );
        for r in cases {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
                xml(&r.name),
                xml(&r.policy),
                r.seconds
            );
            match &r.status {
                Status::Passed => out.push_str("/>\n"),
                Status::Mismatch(ms) => {
                    let first = ms.first().map(|m| format!("{}: expected {}, got {}", m.what, m.expected, m.got));
                    let body: Vec<String> = ms
                        .iter()
                        .map(|m| format!("{}: expected {}, got {}: {}", m.what, m.expected, m.got, m.message))
                        .collect();
                    let _ = write!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"mismatch\">{}</failure>\n    </testcase>\n",
                        xml(&first.unwrap_or_default()),
                        xml(&body.join("\n"))
                    );
                }
                Status::Error(e) => {
                    let _ = write!(
                        out,
                        ">\n      <error message=\"{}\" type=\"harness\">{}</error>\n    </testcase>\n",
                        xml(e),
                        xml(e)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
