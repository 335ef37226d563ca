//! The image filesystem: layers applied in order, honouring OCI whiteouts
//! (`.wh.<name>` deletes a path of a lower layer, `.wh..wh..opq` empties a
//! directory of lower-layer content), with implicit parent directories. Also
//! computes layer efficiency exactly as dive does, so figures can be compared.

use super::RawEntry;
use super::{FileEntry, FileKind};
use std::collections::{BTreeMap, HashMap};

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// Files added and then overwritten or deleted by later layers (dive's
/// "inefficiencies").
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Efficiency {
    /// minimum bytes per path / bytes discovered across layers (1.0 = no waste).
    pub score: f64,
    /// Bytes of every path that appears in more than one layer.
    pub wasted_bytes: u64,
    /// Bytes of all files in all layers.
    pub total_bytes: u64,
    /// Bytes of all layers but the first (dive's "user" size).
    pub user_bytes: u64,
    /// Paths seen in several layers: (path, times seen, cumulative bytes).
    pub inefficient: Vec<(String, u32, u64)>,
}

/// The merged filesystem, keyed by absolute path (`/etc/passwd`).
#[derive(Debug, Default)]
pub struct MergedFs {
    map: BTreeMap<String, FileEntry>,
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

#[derive(Default)]
struct PathStats {
    cumulative: u64,
    min: Option<u64>,
    count: u32,
}

impl MergedFs {
    /// Applies `layers` (each a list of tar entries, paths relative to the
    /// root) in order, and returns the merged view with dive's efficiency.
    pub fn build(layers: &[&[RawEntry]]) -> (MergedFs, Efficiency) {
        let mut fs = MergedFs::default();
        let mut stats: HashMap<String, PathStats> = HashMap::new();
        let mut eff = Efficiency::default();
        for (index, entries) in layers.iter().enumerate() {
            let layer_bytes: u64 = entries.iter().filter(|e| e.kind == FileKind::Regular).map(|e| e.size).sum();
            eff.total_bytes += layer_bytes;
            if index > 0 {
                eff.user_bytes += layer_bytes;
            }
            fs.account(entries, &mut stats);
            fs.apply(index as u32, entries);
        }
        let (mut min_sum, mut cum_sum) = (0u64, 0u64);
        for (path, s) in &stats {
            min_sum += s.min.unwrap_or(0);
            cum_sum += s.cumulative;
            if s.count >= 2 {
                eff.wasted_bytes += s.cumulative;
                eff.inefficient.push((path.clone(), s.count, s.cumulative));
            }
        }
        eff.score = if cum_sum == 0 { 1.0 } else { min_sum as f64 / cum_sum as f64 };
        eff.inefficient.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        (fs, eff)
    }

    /// dive's per-layer accounting: every leaf of the layer's tree (a file, a
    /// link, an empty directory, or a whiteout sized by what it deletes).
    fn account(&self, entries: &[RawEntry], stats: &mut HashMap<String, PathStats>) {
        let mut has_child: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for e in entries {
            let mut p = e.path.as_str();
            while let Some((parent, _)) = p.rsplit_once('/') {
                if !has_child.insert(parent) {
                    break;
                }
                p = parent;
            }
        }
        for e in entries {
            let base = e.path.rsplit('/').next().unwrap_or(&e.path);
            if base == OPAQUE {
                continue;
            }
            if has_child.contains(e.path.as_str()) {
                continue; // not a leaf
            }
            let (path, size) = if let Some(name) = base.strip_prefix(WHITEOUT) {
                let parent = parent_of(&e.path);
                let target = if parent.is_empty() { format!("/{name}") } else { format!("/{parent}/{name}") };
                // As dive does: a whiteout of a directory weighs what it
                // deletes; a whiteout of a file weighs nothing (the file's
                // bytes were already counted when it was added).
                let size = match self.map.get(&target) {
                    Some(e) if e.kind == FileKind::Directory => self.subtree_bytes(&target),
                    _ => 0,
                };
                (target, size)
            } else {
                (format!("/{}", e.path), e.size)
            };
            let s = stats.entry(path).or_default();
            s.cumulative += size;
            s.min = Some(s.min.map_or(size, |m| m.min(size)));
            s.count += 1;
        }
    }

    fn subtree_bytes(&self, path: &str) -> u64 {
        let own = self.map.get(path).map(|e| e.size).unwrap_or(0);
        let prefix = format!("{path}/");
        own + self
            .map
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, e)| e.size)
            .sum::<u64>()
    }

    fn remove_tree(&mut self, path: &str) {
        self.map.remove(path);
        self.remove_children(path);
    }

    fn remove_children(&mut self, dir: &str) {
        let prefix = format!("{dir}/");
        let doomed: Vec<String> = self
            .map
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.map.remove(&k);
        }
    }

    fn apply(&mut self, layer: u32, entries: &[RawEntry]) {
        // Whiteouts apply to lower layers only, so they go first.
        for e in entries {
            let base = e.path.rsplit('/').next().unwrap_or(&e.path);
            let parent = parent_of(&e.path);
            let abs_parent = if parent.is_empty() { String::new() } else { format!("/{parent}") };
            if base == OPAQUE {
                self.remove_children(&abs_parent);
            } else if let Some(name) = base.strip_prefix(WHITEOUT) {
                self.remove_tree(&format!("{abs_parent}/{name}"));
            }
        }
        for e in entries {
            let base = e.path.rsplit('/').next().unwrap_or(&e.path);
            if base.starts_with(WHITEOUT) {
                continue;
            }
            let path = format!("/{}", e.path);
            // Implicit parent directories (tars may omit them).
            let mut p = parent_of(&e.path);
            while !p.is_empty() {
                let abs = format!("/{p}");
                match self.map.get(&abs) {
                    Some(d) if d.kind == FileKind::Directory => break,
                    Some(_) => self.remove_tree(&abs), // a file replaced by a directory
                    None => {}
                }
                self.map.insert(
                    abs.clone(),
                    FileEntry {
                        path: abs,
                        kind: FileKind::Directory,
                        mode: 0o755,
                        uid: 0,
                        gid: 0,
                        size: 0,
                        link_target: None,
                        layer,
                    },
                );
                p = parent_of(p);
            }
            if e.kind != FileKind::Directory && self.map.get(&path).is_some_and(|old| old.kind == FileKind::Directory) {
                self.remove_children(&path);
            }
            let mut size = e.size;
            let mut link_target = e.link_target.clone();
            if e.kind == FileKind::Hardlink {
                // A hard link shares its target's content; names are root-relative.
                let t =
                    link_target.as_deref().unwrap_or("").trim_start_matches("./").trim_start_matches('/').to_string();
                size = self.map.get(&format!("/{t}")).map(|x| x.size).unwrap_or(0);
                link_target = Some(format!("/{t}"));
            }
            self.map.insert(
                path.clone(),
                FileEntry { path, kind: e.kind, mode: e.mode, uid: e.uid, gid: e.gid, size, link_target, layer },
            );
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FileEntry> {
        self.map.values()
    }

    fn normalise(path: &str) -> String {
        let mut parts: Vec<&str> = Vec::new();
        for p in path.split('/') {
            match p {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        format!("/{}", parts.join("/"))
    }

    /// The entry at `path` with `lstat` semantics: symlinks among the
    /// directories on the way are followed (inside the image root; at most 40
    /// of them), the last component is not.
    pub fn get(&self, path: &str) -> Option<&FileEntry> {
        let path = Self::normalise(path);
        if let Some(e) = self.map.get(&path) {
            return Some(e);
        }
        let mut parts: std::collections::VecDeque<String> =
            path.split('/').filter(|p| !p.is_empty()).map(str::to_string).collect();
        let mut resolved = String::new();
        let mut hops = 0;
        while let Some(part) = parts.pop_front() {
            let candidate = format!("{resolved}/{part}");
            if parts.is_empty() {
                return self.map.get(&Self::normalise(&candidate));
            }
            match self.map.get(&candidate) {
                Some(e) if e.kind == FileKind::Symlink => {
                    hops += 1;
                    if hops > 40 {
                        return None;
                    }
                    let target = e.link_target.as_deref().unwrap_or("");
                    let base = if target.starts_with('/') { String::new() } else { resolved.clone() };
                    let joined = Self::normalise(&format!("{base}/{target}"));
                    for p in joined.split('/').filter(|p| !p.is_empty()).rev() {
                        parts.push_front(p.to_string());
                    }
                    resolved.clear();
                }
                Some(e) if e.kind == FileKind::Directory => resolved = candidate,
                _ => return None,
            }
        }
        None
    }

    /// Paths matching a glob (`*` within a segment, `**` across), in order.
    pub fn glob(&self, pattern: &str, limit: usize) -> Vec<FileEntry> {
        let pattern = if pattern.starts_with('/') { pattern.to_string() } else { format!("/{pattern}") };
        let Ok(glob) = globset::GlobBuilder::new(&pattern).literal_separator(true).build() else {
            return Vec::new();
        };
        let matcher = glob.compile_matcher();
        // Only the part of the tree under the pattern's literal prefix.
        let literal_end = pattern.find(['*', '?', '[', '{']).unwrap_or(pattern.len());
        let prefix = &pattern[..literal_end];
        let start = prefix.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        self.map
            .range(start.to_string()..)
            .take_while(|(k, _)| k.starts_with(start))
            .filter(|(k, _)| matcher.is_match(k.as_str()))
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, size: u64) -> RawEntry {
        RawEntry { path: path.into(), kind: FileKind::Regular, mode: 0o644, uid: 0, gid: 0, size, link_target: None }
    }
    fn d(path: &str) -> RawEntry {
        RawEntry {
            path: path.into(),
            kind: FileKind::Directory,
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 0,
            link_target: None,
        }
    }

    #[test]
    fn whiteouts_and_opaque_dirs() {
        let l0 = vec![d("a"), f("a/foo", 10), f("a/bar", 5), d("b"), f("b/x", 1), f("keep", 2)];
        let l1 = vec![f("a/.wh.foo", 0), d("b"), f("b/.wh..wh..opq", 0), f("b/y", 3)];
        let (fs, eff) = MergedFs::build(&[&l0, &l1]);
        assert!(fs.get("/a/foo").is_none());
        assert!(fs.get("/a/bar").is_some());
        assert!(fs.get("/b/x").is_none(), "opaque directory hides lower content");
        assert_eq!(fs.get("b/y").unwrap().layer, 1);
        assert!(fs.get("/a/.wh.foo").is_none());
        // a/foo appears twice (added, then whited out, which weighs 0 as in dive)
        assert_eq!(eff.wasted_bytes, 10);
        assert_eq!(eff.total_bytes, 21);
    }

    #[test]
    fn file_replaced_by_directory_and_back() {
        let l0 = vec![f("x", 1)];
        let l1 = vec![f("x/y", 2)];
        let l2 = vec![f("x", 3)];
        let (fs, _) = MergedFs::build(&[&l0, &l1]);
        assert_eq!(fs.get("/x").unwrap().kind, FileKind::Directory);
        let (fs, _) = MergedFs::build(&[&l0, &l1, &l2]);
        assert_eq!(fs.get("/x").unwrap().kind, FileKind::Regular);
        assert!(fs.get("/x/y").is_none());
    }

    #[test]
    fn lookups_follow_symlinked_directories() {
        let mut usr = d("usr");
        usr.mode = 0o755;
        let bin = RawEntry {
            path: "bin".into(),
            kind: FileKind::Symlink,
            mode: 0o777,
            uid: 0,
            gid: 0,
            size: 0,
            link_target: Some("usr/bin".into()),
        };
        let sh = RawEntry {
            path: "usr/bin/sh".into(),
            kind: FileKind::Symlink,
            mode: 0o777,
            uid: 0,
            gid: 0,
            size: 0,
            link_target: Some("dash".into()),
        };
        let l0 = vec![usr, d("usr/bin"), f("usr/bin/dash", 5), sh, bin];
        let (fs, _) = MergedFs::build(&[&l0]);
        assert_eq!(fs.get("/bin/dash").unwrap().path, "/usr/bin/dash");
        assert_eq!(fs.get("/bin/sh").unwrap().kind, FileKind::Symlink, "the last component is not followed");
        assert_eq!(fs.get("/bin").unwrap().kind, FileKind::Symlink);
        assert!(fs.get("/bin/nope").is_none());
    }

    #[test]
    fn glob_queries() {
        let l0 = vec![f("usr/bin/go", 1), f("usr/local/go/bin/go", 1), f("etc/passwd", 1)];
        let (fs, _) = MergedFs::build(&[&l0]);
        let names = |p: &str| fs.glob(p, 100).into_iter().map(|e| e.path).collect::<Vec<_>>();
        assert_eq!(names("/usr/bin/*"), ["/usr/bin/go"]);
        assert_eq!(names("**/go"), ["/usr/bin/go", "/usr/local/go", "/usr/local/go/bin/go"]);
        assert_eq!(names("/usr/*/go"), ["/usr/bin/go", "/usr/local/go"]);
        assert_eq!(names("/usr/*/bin/go"), Vec::<String>::new(), "`*` stays within one segment");
    }
}
