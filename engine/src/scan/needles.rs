//! Several fixed strings found in one pass over a file's bytes.
//!
//! Every ELF file of every layer without a Go build-info section is
//! searched for the build-info magic and for the strings that make it a
//! shell (fifteen strings); shared libraries of tens of megabytes are among
//! those files. Fifteen `memmem` passes over the ELF files of a 634 MB
//! Debian image took 140 ms; one `aho-corasick` leftmost search, which runs
//! its SIMD prefilter (Teddy), takes 66 ms. Its overlapping search has no
//! prefilter (it walked the automaton byte by byte, slower than the passes
//! it replaced), so overlaps are found by restarting one byte after each
//! match instead. A set whose strings are made of bytes common in binaries
//! (Go's pclntab magics: fifteen times slower) or one searched in files that
//! are mostly text (the secrets' markers: twice slower) stays on `memmem`.

use aho_corasick::{AhoCorasick, Input, MatchKind};

pub struct Needles(AhoCorasick);

impl Needles {
    /// `patterns` must be fixed strings of which none is a prefix of
    /// another (two matches then never start at one position, so restarting
    /// one byte on finds every occurrence). Built from constants: a failure
    /// is a bug, and a panic in the scanner is an evidence error for the
    /// subject, never an admit.
    pub fn new(patterns: &[&[u8]]) -> Needles {
        for (i, a) in patterns.iter().enumerate() {
            for b in &patterns[i + 1..] {
                assert!(!a.starts_with(b) && !b.starts_with(a), "needles must not prefix one another");
            }
        }
        Needles(
            AhoCorasick::builder().match_kind(MatchKind::LeftmostFirst).build(patterns).expect("fixed needles build"),
        )
    }

    /// Calls `f(pattern, start, end)` for every occurrence of every pattern
    /// in `hay`, overlapping ones included, in order of position, until `f`
    /// returns `true`.
    pub fn each(&self, hay: &[u8], mut f: impl FnMut(usize, usize, usize) -> bool) {
        let mut at = 0;
        while at < hay.len() {
            let Some(m) = self.0.find(Input::new(hay).span(at..hay.len())) else { return };
            if f(m.pattern().as_usize(), m.start(), m.end()) {
                return;
            }
            at = m.start() + 1;
        }
    }

    /// Where each pattern first occurs in `hay` (indexed by pattern).
    pub fn first_of_each(&self, hay: &[u8]) -> Vec<Option<usize>> {
        let mut first = vec![None; self.0.patterns_len()];
        let mut missing = first.len();
        self.each(hay, |p, start, _| {
            if first[p].is_none() {
                first[p] = Some(start);
                missing -= 1;
            }
            missing == 0
        });
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Overlapping occurrences are each found, as separate searches would.
    #[test]
    fn overlapping_occurrences_are_found() {
        let n = Needles::new(&[b"KSH_VERSION", b"MIRBSD KSH", b"ab", b"ba"]);
        assert_eq!(n.first_of_each(b"MIRBSD KSH_VERSION"), [Some(7), Some(0), None, None]);
        let mut starts = Vec::new();
        n.each(b"ababa", |p, s, _| {
            starts.push((p, s));
            false
        });
        assert_eq!(starts, [(2, 0), (3, 1), (2, 2), (3, 3)]);
        assert_eq!(n.first_of_each(b""), [None; 4]);
        assert_eq!(n.first_of_each(b"ba ab ab"), [None, None, Some(3), Some(0)]);
    }
}
