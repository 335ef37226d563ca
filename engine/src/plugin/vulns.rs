//! Host side of the contract's `vulnerabilities` interface: the subject's
//! matches against the offline database, computed once per subject on the
//! first query (a policy without vulnerability rules never pays for them)
//! and shared by every plugin call for that subject.

use super::HostState;
use super::bindings::vulns;
use crate::vuln::VulnDb;
use crate::vuln::matcher::{self, Matches, Platform, Reach};
use std::sync::{Arc, OnceLock};

/// What a subject's vulnerability queries are answered from.
#[derive(Debug)]
pub struct VulnQuery {
    pub db: Arc<VulnDb>,
    /// "Today", for fix and database ages.
    pub today: jiff::civil::Date,
    pub scan: Option<Arc<crate::scan::ImageScan>>,
    pub sboms: Option<Arc<crate::sbom::Attached>>,
    pub platform: Platform,
    pub vex: Arc<Vec<crate::vuln::vex::Statement>>,
    /// The subject's digest, which VEX statements must name.
    pub digest: String,
    /// The digest of the index the subject belongs to: an attestation about
    /// the index speaks for each of its images.
    pub index: Option<String>,
    /// Computed on first use.
    pub matches: OnceLock<Matches>,
}

impl VulnQuery {
    /// The subject's matches (computed on first use).
    pub fn matches(&self) -> &Matches {
        self.matches
            .get_or_init(|| matcher::image(&self.db, self.scan.as_deref(), self.sboms.as_deref(), &self.platform))
    }

    fn days_since(&self, time: &str) -> Option<u32> {
        // The zero time some databases write means "unknown", not "ancient".
        let t = crate::vuln::osv::known_time(time)?;
        let date = t.to_zoned(jiff::tz::TimeZone::UTC).date();
        let days = date.until(self.today).ok()?.get_days();
        u32::try_from(days.max(0)).ok()
    }
}

/// Why there is nothing to query.
const NO_DB: &str =
    "no vulnerability database was given: build one with `portcullis db import` and pass it with --vuln-db";

impl HostState {
    fn vuln_query(&self) -> Result<&VulnQuery, String> {
        self.vulns.as_deref().ok_or_else(|| NO_DB.to_string())
    }
}

fn reach(r: Reach) -> vulns::Reach {
    match r {
        Reach::Reachable => vulns::Reach::Reachable,
        Reach::Present => vulns::Reach::Present,
        Reach::Module => vulns::Reach::Module,
        Reach::Package => vulns::Reach::Package,
    }
}

impl vulns::Host for HostState {
    fn database(&mut self) -> Result<vulns::DatabaseInfo, String> {
        let q = self.vuln_query()?;
        let info = &q.db.info;
        Ok(vulns::DatabaseInfo {
            digest: info.digest.clone(),
            records: info.records,
            newest: info.newest.clone(),
            age_days: info.newest.as_deref().and_then(|t| q.days_since(t)),
        })
    }

    fn matches(&mut self) -> Result<Vec<vulns::Vulnerability>, String> {
        let q = self.vuln_query()?;
        Ok(records(q, &q.vex))
    }

    fn matches_with_vex(&mut self, attestations: Vec<u32>) -> Result<Vec<vulns::Vulnerability>, String> {
        let q = self.vuln_query()?;
        let mut vex = q.vex.as_ref().clone();
        for i in attestations {
            let statement = self.attested.get(&i).ok_or_else(|| {
                format!("attestation #{i} was not verified in this call: verify it (and judge its signer) before trusting its VEX")
            })?;
            let origin = self.material(i)?.origin.clone();
            let document = format!("attestation:{origin}");
            if let Some(statements) =
                crate::vuln::vex::from_attestation(statement, &q.digest, q.index.as_deref(), &document)?
            {
                vex.extend(statements);
            }
        }
        Ok(records(q, &vex))
    }

    fn problems(&mut self) -> Result<Vec<vulns::Problem>, String> {
        let q = self.vuln_query()?;
        Ok(q.matches()
            .problems
            .iter()
            .map(|p| vulns::Problem { origin: p.found.origin.clone(), message: p.message.clone() })
            .collect())
    }
}

/// The subject's matches as the contract gives them, with the VEX
/// statements that apply to each.
fn records(q: &VulnQuery, vex: &[crate::vuln::vex::Statement]) -> Vec<vulns::Vulnerability> {
    q.matches()
        .matches
        .iter()
        .map(|m| vulns::Vulnerability {
            id: m.id.clone(),
            aliases: m.aliases.clone(),
            summary: m.summary.clone(),
            ecosystem: m.ecosystem.clone(),
            package: m.package.clone(),
            installed: m.installed.clone(),
            fixed: m.fixed.clone(),
            fix_age_days: m.fixed.as_ref().and(m.published.as_deref()).and_then(|p| q.days_since(p)),
            score: m.score.as_ref().map(|s| vulns::Score {
                value: s.score,
                kind: s.kind.clone(),
                vector: s.vector.clone(),
            }),
            severity_text: m.severity_text.clone(),
            reach: reach(m.reach),
            symbols: m.symbols.clone(),
            origin: m.found.origin.clone(),
            path: m.found.path.clone(),
            layer: m.found.layer,
            references: m.references.clone(),
            vex: crate::vuln::vex::applies(vex, m, &q.digest).map(|a| vulns::Vex {
                status: a.status,
                justification: a.justification,
                document: a.document,
            }),
        })
        .collect()
}
