//! Fixtures made ready for a run: derived ones written into the run's
//! temporary directory, each opened once (its layers scanned once) and
//! shared by every case that uses it.

use super::{Source, Suite};
use crate::source::{self, Input};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// A fixture made ready: the opened input (images, artifacts), or the
/// layout path a derived fixture was written to.
pub(super) struct Ready {
    /// Where the image is (the origin's path, or the derived layout).
    pub path: Option<PathBuf>,
    pub input: Option<Input>,
}

/// The shared state of one suite's run.
pub(super) struct Bench<'s> {
    pub suite: &'s Suite,
    pub tmp: &'s Path,
    pub fixtures: HashMap<&'s str, OnceLock<Result<Arc<Ready>, String>>>,
}

impl<'s> Bench<'s> {
    /// Makes (derives) and opens a fixture, once.
    pub fn ready(&self, name: &str) -> Result<Arc<Ready>, String> {
        let cell = self.fixtures.get(name).ok_or_else(|| format!("no fixture named `{name}`"))?;
        cell.get_or_init(|| self.make(name).map(Arc::new)).clone()
    }

    /// The image path of a fixture (derived fixtures are written first).
    pub fn image_path(&self, name: &str) -> Result<PathBuf, String> {
        self.ready(name)?.path.clone().ok_or_else(|| format!("fixture `{name}` is not an image"))
    }

    /// SBOM files offered with a fixture: its own, else its origin's,
    /// unless the derivation strips them.
    fn sboms(&self, name: &str) -> Vec<PathBuf> {
        let Some(f) = self.suite.fixtures.get(name) else { return Vec::new() };
        if !f.sboms.is_empty() {
            return f.sboms.clone();
        }
        match &f.source {
            Source::Derived { derivation, .. } if derivation.strip_sbom => Vec::new(),
            Source::Derived { from, .. } => self.sboms(from),
            _ => Vec::new(),
        }
    }

    pub fn open_image(&self, name: &str, path: &Path, repository: Option<String>) -> Result<Input, String> {
        let f = &self.suite.fixtures[name];
        let opts = source::OpenOptions {
            images: f.select.iter().cloned().collect(),
            repository: repository.or_else(|| self.repository(name)),
            ..Default::default()
        };
        let mut input = source::open(path, &opts).map_err(|e| format!("fixture `{name}`: {e}"))?;
        let sboms = self.sboms(name);
        if !sboms.is_empty() {
            input.supply_sboms(&crate::sbom::Attached::from_files(&sboms, crate::sbom::DEFAULT_MAX_BYTES));
        }
        Ok(input)
    }

    fn repository(&self, name: &str) -> Option<String> {
        let f = self.suite.fixtures.get(name)?;
        f.repository.clone().or_else(|| match &f.source {
            Source::Derived { from, .. } => self.repository(from),
            _ => None,
        })
    }

    fn make(&self, name: &str) -> Result<Ready, String> {
        let f = &self.suite.fixtures[name];
        match &f.source {
            Source::Image(p) => Ok(Ready { path: Some(p.clone()), input: Some(self.open_image(name, p, None)?) }),
            Source::Artifact { spec, sidecars } => {
                let input = source::artifact::open(spec, sidecars).map_err(|e| format!("fixture `{name}`: {e}"))?;
                Ok(Ready { path: None, input: Some(input) })
            }
            Source::Review { .. } => Ok(Ready { path: None, input: None }),
            Source::Derived { from, derivation } => {
                let origin = self.image_path(from)?;
                let into = self.tmp.join("fixtures").join(name);
                super::derive::derive(&origin, &into, derivation).map_err(|e| format!("fixture `{name}`: {e}"))?;
                if derivation.strip_sbom && self.sboms(from).is_empty() && same_tree(&origin, &into) {
                    return Err(format!("fixture `{name}`: strip-sbom changes nothing: `{from}` has no SBOM"));
                }
                if same_tree(&origin, &into) {
                    return Err(format!("fixture `{name}` is identical to `{from}`: a derived fixture must differ"));
                }
                let input = self.open_image(name, &into, None)?;
                Ok(Ready { path: Some(into), input: Some(input) })
            }
        }
    }
}

/// Whether two layouts hold the same index and blobs.
fn same_tree(a: &Path, b: &Path) -> bool {
    fn listing(root: &Path) -> Option<BTreeMap<PathBuf, Vec<u8>>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).ok()? {
                let p = e.ok()?.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(root).ok()?.to_path_buf();
                    let bytes = std::fs::read(&p).ok()?;
                    out.insert(rel, crate::digest::Digest::sha256(&bytes).to_string().into_bytes());
                }
            }
        }
        Some(out)
    }
    listing(a).is_some_and(|x| listing(b).is_some_and(|y| x == y))
}
