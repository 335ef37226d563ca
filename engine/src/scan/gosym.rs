//! The function table of a Go binary, read from its pclntab.
//!
//! Why: a vulnerability in a Go module matters when the vulnerable function
//! is in the binary, not merely the module (govulncheck's symbol level).
//! The symbol table (`.symtab`) is gone from binaries linked with
//! `-ldflags=-s -w`, but the pclntab is not — the runtime needs it for stack
//! traces and the garbage collector — so reading it gives the same answer
//! for a stripped binary as for its unstripped twin, where govulncheck gives
//! up and reports every known symbol (golang/go#57764).
//!
//! Names are split into package and symbol as `debug/gosym` (`Sym.
//! PackageName`, `ReceiverName`, `BaseName`) and govulncheck split them:
//! `net/http.(*Client).Do` is package `net/http`, symbol `Client.Do`.
//! Functions inlined into others are listed too (their names are in the
//! inline trees, which need the `go:func.*` base address; see
//! [`inlined`]), since govulncheck counts an inlined call as present.
//!
//! Layouts: go1.2 (magic `0xfffffffb`), go1.16 (`0xfffffffa`), go1.18
//! (`0xfffffff0`) and go1.20+ (`0xfffffff1`). Everything is bounds-checked:
//! a hostile table yields an error, never a panic, and at most
//! [`MAX_FUNCS`] functions are read.

use std::collections::BTreeSet;

/// More functions than any real binary has (kubelet: ~60k).
pub const MAX_FUNCS: usize = 2_000_000;

/// Packages and `pkg.Symbol` names of a Go binary's functions.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GoSymbols {
    /// Package paths with at least one function, sorted.
    pub packages: Vec<String>,
    /// `pkg.Func` and `pkg.Recv.Method` (pointer receivers without `(*…)`),
    /// sorted: what OSV's `ecosystem_specific.imports[].symbols` name,
    /// prefixed with the package.
    pub symbols: Vec<String>,
    /// Whether inline trees were read (false: only out-of-line functions).
    pub inlined: bool,
}

impl GoSymbols {
    pub fn has_package(&self, pkg: &str) -> bool {
        self.packages.binary_search_by(|p| p.as_str().cmp(pkg)).is_ok()
    }

    /// Whether `pkg.sym` is a function of the binary.
    pub fn has_symbol(&self, pkg: &str, sym: &str) -> bool {
        let full = format!("{pkg}.{sym}");
        self.symbols.binary_search(&full).is_ok()
    }

    /// The exported functions and methods of a package (`Client.Do`,
    /// `lockRank.String`, without the package): what govulncheck takes as
    /// a package's vulnerable symbols when an OSV entry lists none.
    pub fn exported_of<'a>(&'a self, pkg: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = format!("{pkg}.");
        let start = self.symbols.partition_point(|s| s.as_str() < prefix.as_str());
        self.symbols[start..]
            .iter()
            .map_while(move |s| s.strip_prefix(prefix.as_str()))
            .filter(|s| !s.contains('/'))
            .filter(|s| s.rsplit('.').next().is_some_and(|base| base.starts_with(|c: char| c.is_uppercase())))
    }
}

/// A little- or big-endian reader over a byte slice that fails instead of
/// panicking.
#[derive(Clone, Copy)]
struct Bytes<'a> {
    data: &'a [u8],
    little: bool,
}

impl<'a> Bytes<'a> {
    fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }
    fn word(&self, at: usize, ptr: usize) -> Option<u64> {
        if ptr == 8 {
            let b: [u8; 8] = self.data.get(at..at.checked_add(8)?)?.try_into().ok()?;
            Some(if self.little { u64::from_le_bytes(b) } else { u64::from_be_bytes(b) })
        } else {
            self.u32(at).map(u64::from)
        }
    }
    fn cstr(&self, at: usize) -> Option<&'a str> {
        let rest = self.data.get(at..)?;
        let end = memchr::memchr(0, rest)?;
        std::str::from_utf8(&rest[..end]).ok()
    }
    fn from(&self, at: u64) -> Option<Bytes<'a>> {
        Some(Bytes { data: self.data.get(usize::try_from(at).ok()?..)?, little: self.little })
    }
}

/// The layout of a pclntab, from its header.
struct Table<'a> {
    /// The whole table, from its header.
    all: Bytes<'a>,
    version: Version,
    ptr: usize,
    nfunc: usize,
    /// Function names (go1.16+; the whole table for go1.2).
    funcnames: Bytes<'a>,
    /// `functab` and the `_func` records (go1.16+; the whole table for go1.2).
    pcln: Bytes<'a>,
    pctab: Bytes<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Version {
    Go12,
    Go116,
    Go118,
    Go120,
}

/// Where an inline tree's names are: the pclntab's `funcnametab`, reached
/// from `go:func.*` (go1.18+) or absolute addresses (go1.16/1.17).
pub struct Inline<'a> {
    /// Reads bytes at a virtual address (through the loadable segments).
    pub read: &'a dyn Fn(u64, usize) -> Option<&'a [u8]>,
    /// The address of `go:func.*` (`runtime.firstmoduledata.gofunc`), for
    /// go1.18+ funcdata offsets.
    pub gofunc: Option<u64>,
}

fn parse(data: &[u8], little: bool) -> Result<Table<'_>, String> {
    let all = Bytes { data, little };
    let magic = all.u32(0).ok_or("pclntab shorter than its header")?;
    let version = match magic {
        0xffff_fffb => Version::Go12,
        0xffff_fffa => Version::Go116,
        0xffff_fff0 => Version::Go118,
        0xffff_fff1 => Version::Go120,
        m => return Err(format!("unknown pclntab magic {m:#x}")),
    };
    let ptr = usize::from(*data.get(7).ok_or("pclntab shorter than its header")?);
    if !matches!(ptr, 4 | 8) || data.get(4..6) != Some(&[0, 0]) {
        return Err("malformed pclntab header".into());
    }
    let w = |i: usize| all.word(8 + i * ptr, ptr).ok_or_else(|| "pclntab header truncated".to_string());
    let nfunc = usize::try_from(w(0)?).map_err(|_| "function count out of range")?;
    if nfunc > MAX_FUNCS {
        return Err(format!("pclntab claims {nfunc} functions (more than {MAX_FUNCS})"));
    }
    let off = |i: usize| -> Result<Bytes<'_>, String> {
        all.from(w(i)?).ok_or_else(|| "pclntab offset outside the table".to_string())
    };
    let (funcnames, pctab, pcln) = match version {
        Version::Go12 => (all, all, all),
        Version::Go116 => (off(2)?, off(5)?, off(6)?),
        Version::Go118 | Version::Go120 => (off(3)?, off(6)?, off(7)?),
    };
    Ok(Table { all, version, ptr, nfunc, funcnames, pcln, pctab })
}

impl<'a> Table<'a> {
    /// Offset in `pcln` of function `i`'s `_func` record.
    fn func_offset(&self, i: usize) -> Option<usize> {
        let off = match self.version {
            // functab: {entry uintptr, funcoff uintptr}, after the header.
            Version::Go12 => self.all.word(8 + self.ptr + i * 2 * self.ptr + self.ptr, self.ptr)?,
            Version::Go116 => self.pcln.word(i * 2 * self.ptr + self.ptr, self.ptr)?,
            // functab: {entryoff u32, funcoff u32}.
            Version::Go118 | Version::Go120 => u64::from(self.pcln.u32(i * 8 + 4)?),
        };
        usize::try_from(off).ok()
    }

    /// The name of the `_func` at `f` (offset in `pcln`).
    fn func_name(&self, f: usize) -> Option<&'a str> {
        let name_field = match self.version {
            Version::Go12 | Version::Go116 => f.checked_add(self.ptr)?,
            Version::Go118 | Version::Go120 => f.checked_add(4)?,
        };
        let name_off = self.pcln.u32(name_field)? as usize;
        self.funcnames.cstr(name_off)
    }
}

/// The names of every function in the pclntab `data` (which starts at the
/// table's header), out-of-line ones first, then (with `inline`) those
/// inlined into them. Errors name what is wrong with the table.
pub fn function_names<'a>(
    data: &'a [u8],
    little: bool,
    inline: Option<&Inline<'a>>,
) -> Result<(Vec<&'a str>, bool), String> {
    let t = parse(data, little)?;
    let mut names = Vec::with_capacity(t.nfunc.min(1 << 16));
    let mut inlined = inline.is_some() && t.version >= Version::Go116;
    // Decoding steps for all inline trees together: a hostile table whose
    // functions all share one long pc-value table must not cost more than a
    // real binary's (kubelet's take a few million).
    let mut budget: u64 = 50_000_000;
    for i in 0..t.nfunc {
        let f = t.func_offset(i).ok_or_else(|| format!("function table entry {i} outside the pclntab"))?;
        let name = t.func_name(f).ok_or_else(|| format!("name of function {i} outside the pclntab"))?;
        names.push(name);
        if inlined && let Some(inline) = inline {
            match inlined_names(&t, f, inline, &mut budget) {
                Ok(more) => names.extend(more),
                Err(_) => inlined = false,
            }
        }
    }
    Ok((names, inlined))
}

/// `FUNCDATA_InlTree` and `PCDATA_InlTreeIndex` (runtime/funcdata.h).
const FUNCDATA_INLTREE: usize = 3;
const PCDATA_INLTREEINDEX: usize = 2;

/// Names of the functions inlined into the `_func` at `f`: the entries of
/// its inline tree that its `PCDATA_InlTreeIndex` table refers to.
fn inlined_names<'a>(t: &Table<'a>, f: usize, inline: &Inline<'a>, budget: &mut u64) -> Result<Vec<&'a str>, ()> {
    let p = t.pcln;
    // Field offsets of _func: npcdata, nfuncdata, and where pcdata starts.
    let (npcdata_at, nfuncdata_at, pcdata_at) = match t.version {
        Version::Go12 => return Err(()),
        // entry(ptr) name args deferreturn pcsp pcfile pcln npcdata cuOffset funcID flag _ nfuncdata
        Version::Go116 => (t.ptr + 24, t.ptr + 35, t.ptr + 36),
        Version::Go118 => (28, 39, 40),
        // go1.20 adds startLine after cuOffset.
        Version::Go120 => (28, 43, 44),
    };
    let npcdata = p.u32(f + npcdata_at).ok_or(())? as usize;
    let nfuncdata = usize::from(*p.data.get(f + nfuncdata_at).ok_or(())?);
    if npcdata <= PCDATA_INLTREEINDEX || nfuncdata <= FUNCDATA_INLTREE {
        return Ok(Vec::new());
    }
    let pcdata = p.u32(f + pcdata_at + 4 * PCDATA_INLTREEINDEX).ok_or(())?;
    if pcdata == 0 {
        return Ok(Vec::new());
    }
    let funcdata_at = f + pcdata_at + 4 * npcdata;
    let tree_addr = match t.version {
        Version::Go116 => {
            // uintptr funcdata, aligned to the pointer size.
            let at = funcdata_at.next_multiple_of(t.ptr) + FUNCDATA_INLTREE * t.ptr;
            let a = p.word(at, t.ptr).ok_or(())?;
            if a == 0 {
                return Ok(Vec::new());
            }
            a
        }
        _ => {
            let off = p.u32(funcdata_at + 4 * FUNCDATA_INLTREE).ok_or(())?;
            if off == u32::MAX {
                return Ok(Vec::new());
            }
            inline.gofunc.ok_or(())?.checked_add(u64::from(off)).ok_or(())?
        }
    };
    // The largest index the pc-value table takes is the tree's length - 1.
    let Some(max) = max_pcvalue(t.pctab, pcdata as usize, budget)? else {
        return Ok(Vec::new());
    };
    let (size, name_at) = match t.version {
        // {parent int16, funcID u8, _ u8, file int32, line int32, func int32, parentPc int32}
        Version::Go116 | Version::Go118 => (20usize, 12usize),
        // {funcID u8, _ [3]u8, nameOff int32, parentPc int32, startLine int32}
        _ => (16, 4),
    };
    let len = (max as usize).checked_add(1).ok_or(())?;
    if len > 100_000 {
        return Err(());
    }
    let tree = (inline.read)(tree_addr, len * size).ok_or(())?;
    let tree = Bytes { data: tree, little: t.all.little };
    let mut out = Vec::with_capacity(len);
    for i in 0..len {
        let v = tree.u32(i * size + name_at).ok_or(())?;
        // Every layout keeps the callee's name as an offset into funcnametab.
        let name = t.funcnames.cstr(v as usize).ok_or(())?;
        out.push(name);
    }
    Ok(out)
}

/// The largest value of the pc-value table at `off` (zig-zag varint value
/// deltas and pc deltas, ending at a zero value delta after the first),
/// `None` when the table never goes above -1. Each step spends `budget`.
fn max_pcvalue(pctab: Bytes<'_>, off: usize, budget: &mut u64) -> Result<Option<i64>, ()> {
    let d = pctab.data.get(off..).ok_or(())?;
    let mut at = 0usize;
    let mut val: i64 = -1;
    let mut max: Option<i64> = None;
    let mut first = true;
    loop {
        *budget = budget.checked_sub(1).ok_or(())?;
        let (uv, n) = uvarint(d.get(at..).ok_or(())?).ok_or(())?;
        at += n;
        if uv == 0 && !first {
            return Ok(max);
        }
        let delta = if uv & 1 != 0 { -(((uv >> 1) as i64) + 1) } else { (uv >> 1) as i64 };
        val = val.checked_add(delta).ok_or(())?;
        first = false;
        let (_pc, n) = uvarint(d.get(at..).ok_or(())?).ok_or(())?;
        at += n;
        if val >= 0 {
            max = Some(max.map_or(val, |m| m.max(val)));
        }
    }
}

/// A Go unsigned varint (`encoding/binary.Uvarint`) and the bytes it took.
pub(super) fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        x |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((x, i + 1));
        }
    }
    None
}

/// Splits a function name into (package, symbol) as govulncheck does with
/// `debug/gosym`: the receiver loses its `(*…)`, generic instantiations are
/// dropped; `None` for names outside any package (`go:buildid`, `type:.eq…`).
pub fn split(name: &str) -> Option<(String, String)> {
    let plain = without_instantiation(name);
    if plain.starts_with("go.") || plain.starts_with("type.") || plain.starts_with("go:") || plain.starts_with("type:")
    {
        return None;
    }
    let pathend = plain.rfind('/').unwrap_or(0);
    let tail = &plain[pathend..];
    let first = tail.find('.')?;
    let pkg = &plain[..pathend + first];
    let last = tail.rfind('.')?;
    let base = &tail[last + 1..];
    let sym = if first == last {
        base.to_string()
    } else {
        let recv = tail[first + 1..last].trim_matches(|c| matches!(c, '(' | '*' | ')'));
        format!("{recv}.{base}")
    };
    (!pkg.is_empty()).then(|| (pkg.to_string(), sym))
}

/// `pkg.F[go.shape.int]` → `pkg.F`; `pkg.(*T[…]).M` → `pkg.(*T).M`.
fn without_instantiation(name: &str) -> std::borrow::Cow<'_, str> {
    let Some(open) = name.find('[') else { return name.into() };
    let Some(close) = name.rfind(']') else { return name.into() };
    if close < open {
        return name.into();
    }
    format!("{}{}", &name[..open], &name[close + 1..]).into()
}

/// The [`GoSymbols`] of a list of function names.
pub fn symbols(names: &[&str], inlined: bool) -> GoSymbols {
    let mut packages = BTreeSet::new();
    let mut symbols = BTreeSet::new();
    for name in names {
        if let Some((pkg, sym)) = split(name) {
            symbols.insert(format!("{pkg}.{sym}"));
            packages.insert(pkg);
        }
    }
    GoSymbols { packages: packages.into_iter().collect(), symbols: symbols.into_iter().collect(), inlined }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_as_govulncheck_splits_them() {
        assert_eq!(split("net/http.(*Client).Do"), Some(("net/http".into(), "Client.Do".into())));
        assert_eq!(split("runtime.lockRank.String"), Some(("runtime".into(), "lockRank.String".into())));
        assert_eq!(
            split("golang.org/x/text/language.Parse"),
            Some(("golang.org/x/text/language".into(), "Parse".into()))
        );
        assert_eq!(split("main.main"), Some(("main".into(), "main".into())));
        assert_eq!(split("slices.Sort[go.shape.int]"), Some(("slices".into(), "Sort".into())));
        assert_eq!(split("go:buildid"), None);
        assert_eq!(split("type:.eq.main.T"), None);
        assert_eq!(split("nodot"), None);
    }

    #[test]
    fn hostile_tables_are_errors() {
        assert!(function_names(&[], true, None).is_err());
        assert!(function_names(&[0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8], true, None).is_err());
        let mut t = vec![0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8];
        t.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(function_names(&t, true, None).is_err());
        let mut t = vec![0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8];
        t.extend_from_slice(&3u64.to_le_bytes());
        for _ in 0..7 {
            t.extend_from_slice(&0xffff_ffffu64.to_le_bytes());
        }
        assert!(function_names(&t, true, None).is_err());
    }
}
