//! The image filesystem: layers applied in order, honouring OCI whiteouts
//! (`.wh.<name>` deletes a path of a lower layer, `.wh..wh..opq` empties a
//! directory of lower-layer content), with implicit parent directories. Also
//! computes layer efficiency exactly as dive does, so figures can be compared.

use super::RawEntry;
use super::{FileEntry, FileKind};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

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
    pub fn build(layers: &[&[RawEntry]]) -> Result<(MergedFs, Efficiency), String> {
        let mut fs = MergedFs::default();
        let mut stats: HashMap<String, PathStats> = HashMap::new();
        let mut eff = Efficiency::default();
        for (index, entries) in layers.iter().enumerate() {
            let layer_bytes: u64 = entries.iter().map(RawEntry::stored_bytes).sum();
            eff.total_bytes += layer_bytes;
            if index > 0 {
                eff.user_bytes += layer_bytes;
            }
            fs.account(entries, &mut stats);
            fs.apply(index as u32, entries).map_err(|e| format!("layer {index}: {e}"))?;
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
        Ok((fs, eff))
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
                (format!("/{}", e.path), e.stored_bytes())
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

    /// Where the runtime puts the parent directory `dir` (root-relative) of
    /// an entry of `layer`: symlinks this layer wrote are followed (inside
    /// the root, as containerd's `fs.RootPath` does); missing directories
    /// are created (mode 0755, owned by root) and recorded in `written`.
    ///
    /// Refused, because the runtimes disagree: a path through a symlink or a
    /// non-directory of a *lower* layer. containerd's overlayfs snapshotter
    /// and Docker's overlay2 unpack each layer into its own directory, where
    /// the lower symlink does not exist, so the entry lands under a new
    /// directory that hides the symlink; umoci and the native snapshotter
    /// write through the symlink into its target.
    fn resolve_parent(&mut self, layer: u32, dir: &str, written: &mut BTreeSet<String>) -> Result<String, String> {
        let mut todo: VecDeque<String> = dir.split('/').filter(|p| !p.is_empty()).map(str::to_string).collect();
        let mut resolved = String::new();
        let mut hops = 0;
        let mut created = Vec::new();
        while let Some(part) = todo.pop_front() {
            if part == "." {
                continue;
            }
            if part == ".." {
                resolved = parent_of(&resolved).to_string();
                continue;
            }
            let candidate = format!("{resolved}/{part}");
            match self.map.get(&candidate) {
                Some(e) if e.kind == FileKind::Directory => resolved = candidate,
                Some(e) if e.kind == FileKind::Symlink && e.layer == layer => {
                    hops += 1;
                    if hops > 40 {
                        return Err(format!("`{dir}`: more than 40 symlinks on the way"));
                    }
                    let target = e.link_target.clone().unwrap_or_default();
                    if target.starts_with('/') {
                        resolved.clear();
                    }
                    for p in target.split('/').filter(|p| !p.is_empty()).rev() {
                        todo.push_front(p.to_string());
                    }
                }
                Some(e) => {
                    let what = if e.kind == FileKind::Symlink { "a symlink" } else { "not a directory" };
                    return Err(format!(
                        "an entry under `{dir}` goes through `{candidate}`, which is {what} from layer {}: \
                         overlay-based runtimes would hide it under a new directory, others write through it or fail",
                        e.layer
                    ));
                }
                None => {
                    self.map.insert(
                        candidate.clone(),
                        FileEntry {
                            path: candidate.clone(),
                            kind: FileKind::Directory,
                            mode: 0o755,
                            uid: 0,
                            gid: 0,
                            size: 0,
                            link_target: None,
                            layer,
                            content: None,
                        },
                    );
                    created.push(candidate.clone());
                    resolved = candidate;
                }
            }
        }
        written.extend(created);
        Ok(resolved)
    }

    /// Applies one layer's entries in stream order, as containerd's applier
    /// does: whiteouts where they stand, each path resolved through the
    /// symlinks before it. Cases the runtimes unpack differently are refused
    /// (see [`MergedFs::resolve_parent`]), as are a whiteout of a path this
    /// layer already wrote (overlayfs fails, the naive applier deletes it) and
    /// an opaque marker after entries of its directory.
    fn apply(&mut self, layer: u32, entries: &[RawEntry]) -> Result<(), String> {
        let mut written: BTreeSet<String> = BTreeSet::new();
        for e in entries {
            let (dir, base) = e.path.rsplit_once('/').unwrap_or(("", e.path.as_str()));
            let parent = self.resolve_parent(layer, dir, &mut written)?;
            if base == OPAQUE {
                let prefix = format!("{parent}/");
                if let Some(p) = written.range(prefix.clone()..).next().filter(|p| p.starts_with(&prefix)) {
                    return Err(format!(
                        "opaque whiteout `{}` comes after `{p}` of the same layer: runtimes disagree on what it removes",
                        e.path
                    ));
                }
                self.remove_children(&parent);
                continue;
            }
            if let Some(name) = base.strip_prefix(WHITEOUT) {
                let target = format!("{parent}/{name}");
                let prefix = format!("{target}/");
                if written.contains(&target)
                    || written.range(prefix.clone()..).next().is_some_and(|p| p.starts_with(&prefix))
                {
                    return Err(format!(
                        "whiteout `{}` deletes `{target}`, which the same layer wrote: overlayfs refuses it, other unpackers delete it",
                        e.path
                    ));
                }
                self.remove_tree(&target);
                continue;
            }
            let path = format!("{parent}/{base}");
            if !written.insert(path.clone()) {
                return Err(format!("`{}` lands on `{path}`, which the same layer already wrote", e.path));
            }
            match self.map.get(&path) {
                Some(old) if old.kind == FileKind::Directory && e.kind == FileKind::Directory => {}
                Some(_) => self.remove_tree(&path),
                None => {}
            }
            self.map.insert(
                path.clone(),
                FileEntry {
                    path,
                    kind: e.kind,
                    mode: e.mode,
                    uid: e.uid,
                    gid: e.gid,
                    size: e.size,
                    link_target: e.link_target.clone(),
                    layer,
                    content: e.content,
                },
            );
        }
        Ok(())
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
        RawEntry {
            path: path.into(),
            kind: FileKind::Regular,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            link_target: None,
            hard_link_to: None,
            content: None,
        }
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
            hard_link_to: None,
            content: None,
        }
    }

    #[test]
    fn whiteouts_and_opaque_dirs() {
        let l0 = vec![d("a"), f("a/foo", 10), f("a/bar", 5), d("b"), f("b/x", 1), f("keep", 2)];
        let l1 = vec![f("a/.wh.foo", 0), d("b"), f("b/.wh..wh..opq", 0), f("b/y", 3)];
        let (fs, eff) = MergedFs::build(&[&l0, &l1]).unwrap();
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
        let l1 = vec![d("x"), f("x/y", 2)];
        let l2 = vec![f("x", 3)];
        let (fs, _) = MergedFs::build(&[&l0, &l1]).unwrap();
        assert_eq!(fs.get("/x").unwrap().kind, FileKind::Directory);
        let (fs, _) = MergedFs::build(&[&l0, &l1, &l2]).unwrap();
        assert_eq!(fs.get("/x").unwrap().kind, FileKind::Regular);
        assert!(fs.get("/x/y").is_none());
    }

    fn link(path: &str, target: &str) -> RawEntry {
        RawEntry {
            path: path.into(),
            kind: FileKind::Symlink,
            mode: 0o777,
            uid: 0,
            gid: 0,
            size: 0,
            link_target: Some(target.into()),
            hard_link_to: None,
            content: None,
        }
    }

    #[test]
    fn entries_land_where_the_runtime_puts_them() {
        // Within one layer every unpacker writes through the symlink.
        let l0 = vec![d("usr"), d("usr/lib"), link("lib", "usr/lib"), f("lib/x", 1)];
        let (fs, _) = MergedFs::build(&[&l0]).unwrap();
        assert_eq!(fs.get("/usr/lib/x").unwrap().size, 1);
        assert_eq!(fs.get("/lib").unwrap().kind, FileKind::Symlink);
        // Absolute targets stay inside the root.
        let l0 = vec![d("etc"), link("conf", "/etc"), f("conf/sudoers", 2)];
        let (fs, _) = MergedFs::build(&[&l0]).unwrap();
        assert_eq!(fs.get("/etc/sudoers").unwrap().size, 2);
    }

    #[test]
    fn what_runtimes_unpack_differently_is_refused() {
        let base = vec![d("usr"), d("usr/lib"), link("lib", "usr/lib"), f("file", 1)];
        let err = |upper: Vec<RawEntry>| MergedFs::build(&[&base, &upper]).unwrap_err();
        assert!(err(vec![f("lib/x", 1)]).contains("which is a symlink from layer 0"));
        assert!(err(vec![f("file/x", 1)]).contains("not a directory"));
        assert!(err(vec![f("usr/y", 1), f("usr/.wh.y", 0)]).contains("which the same layer wrote"));
        assert!(err(vec![f("usr/lib/z", 1), f("usr/lib/.wh..wh..opq", 0)]).contains("comes after"));
        let l0 = vec![d("a"), link("b", "a"), f("a/x", 1), f("b/x", 1)];
        assert!(MergedFs::build(&[&l0]).unwrap_err().contains("already wrote"));
        // Whiteout first, then the new file: both kinds of unpacker agree.
        let (fs, _) = MergedFs::build(&[&base, &[f("usr/.wh.lib", 0), d("usr/lib"), f("usr/lib/n", 3)]]).unwrap();
        assert_eq!(fs.get("/usr/lib/n").unwrap().size, 3);
        // Replacing the symlink itself is unambiguous.
        let (fs, _) = MergedFs::build(&[&base, &[d("lib"), f("lib/x", 4)]]).unwrap();
        assert_eq!(fs.get("/lib").unwrap().kind, FileKind::Directory);
        assert_eq!(fs.get("/lib/x").unwrap().size, 4);
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
            hard_link_to: None,
            content: None,
        };
        let sh = RawEntry {
            path: "usr/bin/sh".into(),
            kind: FileKind::Symlink,
            mode: 0o777,
            uid: 0,
            gid: 0,
            size: 0,
            link_target: Some("dash".into()),
            hard_link_to: None,
            content: None,
        };
        let l0 = vec![usr, d("usr/bin"), f("usr/bin/dash", 5), sh, bin];
        let (fs, _) = MergedFs::build(&[&l0]).unwrap();
        assert_eq!(fs.get("/bin/dash").unwrap().path, "/usr/bin/dash");
        assert_eq!(fs.get("/bin/sh").unwrap().kind, FileKind::Symlink, "the last component is not followed");
        assert_eq!(fs.get("/bin").unwrap().kind, FileKind::Symlink);
        assert!(fs.get("/bin/nope").is_none());
    }

    #[test]
    fn glob_queries() {
        let l0 = vec![f("usr/bin/go", 1), f("usr/local/go/bin/go", 1), f("etc/passwd", 1)];
        let (fs, _) = MergedFs::build(&[&l0]).unwrap();
        let names = |p: &str| fs.glob(p, 100).into_iter().map(|e| e.path).collect::<Vec<_>>();
        assert_eq!(names("/usr/bin/*"), ["/usr/bin/go"]);
        assert_eq!(names("**/go"), ["/usr/bin/go", "/usr/local/go", "/usr/local/go/bin/go"]);
        assert_eq!(names("/usr/*/go"), ["/usr/bin/go", "/usr/local/go"]);
        assert_eq!(names("/usr/*/bin/go"), Vec::<String>::new(), "`*` stays within one segment");
    }
}
