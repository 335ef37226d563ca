//! ELF executables and Go binaries, from the inside.
//!
//! For every ELF file: class and machine, static or dynamic (`PT_INTERP`,
//! `DT_NEEDED`), stripped (`.symtab`, `.debug_*`, `.zdebug_*`), PIE, UPX
//! packing. For Go binaries, the build information the Go toolchain embeds in
//! `.go.buildinfo` (Go version, main module, dependencies, build settings such
//! as `CGO_ENABLED`, `-trimpath`, `GOOS`/`GOARCH`, `vcs.*`) — the same data
//! `go version -m` prints, decoded here without running anything — and which
//! notable packages are linked, found by their names in the function table
//! (which survives `-ldflags=-s -w`).
//!
//! A Go binary is recognised by what the runtime itself needs, not only by
//! section names a tool can rename or strip: the build-info magic and the
//! pclntab header (which the runtime checks at start-up) are looked for in
//! the loadable segments, and the Go build-ID note in the note segments.

use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader, SectionHeader};
use object::{Endianness, FileKind};

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct GoModule {
    pub path: String,
    pub version: String,
    pub sum: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct GoBuildInfo {
    pub go_version: String,
    /// The main package path (`path` line).
    pub path: String,
    pub main: Option<GoModule>,
    pub deps: Vec<GoModule>,
    /// `build` lines: (`CGO_ENABLED`, `0`), (`-trimpath`, `true`)...
    pub settings: Vec<(String, String)>,
}

impl GoBuildInfo {
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ElfInfo {
    pub class64: bool,
    /// `e_machine`.
    pub machine: u16,
    /// `x86-64`, `aarch64`, ...
    pub machine_name: String,
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
    pub has_dynamic: bool,
    pub pie: bool,
    pub has_symtab: bool,
    pub debug_sections: Vec<String>,
    pub upx: bool,
    pub section_names: Vec<String>,
    /// A Go binary (build info, `.gopclntab` or a Go build ID note).
    pub is_go: bool,
    /// Not Go, but a shell or a multi-call binary carrying one, recognised
    /// by its content ([`super::programs::shell_in`]): `bash`, `busybox`, ...
    pub shell: Option<String>,
    pub go: Option<GoBuildInfo>,
    /// Notable Go packages or functions linked in: `crypto/tls`, `net/http`,
    /// `net/http/pprof`, `expvar`, `time/tzdata`, `time.LoadLocation`.
    pub links: Vec<String>,
    /// The functions of a Go binary, from its pclntab (stripped or not).
    #[serde(default)]
    pub go_symbols: Option<super::gosym::GoSymbols>,
    /// Why the analysis is incomplete, if it is.
    pub problem: Option<String>,
}

impl ElfInfo {
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed.is_empty()
    }
    pub fn stripped(&self) -> bool {
        !self.has_symtab && self.debug_sections.is_empty()
    }
}

pub fn machine_name(m: u16) -> &'static str {
    match m {
        elf::EM_X86_64 => "x86-64",
        elf::EM_386 => "x86",
        elf::EM_AARCH64 => "aarch64",
        elf::EM_ARM => "arm",
        elf::EM_RISCV => "riscv",
        elf::EM_PPC64 => "ppc64",
        elf::EM_S390 => "s390x",
        elf::EM_MIPS => "mips",
        elf::EM_LOONGARCH => "loong64",
        _ => "other",
    }
}

/// The OCI/Go architecture name an `e_machine` runs as.
pub fn goarch(m: u16, class64: bool) -> &'static str {
    match (m, class64) {
        (elf::EM_X86_64, _) => "amd64",
        (elf::EM_386, _) => "386",
        (elf::EM_AARCH64, _) => "arm64",
        (elf::EM_ARM, _) => "arm",
        (elf::EM_RISCV, true) => "riscv64",
        (elf::EM_PPC64, _) => "ppc64le",
        (elf::EM_S390, _) => "s390x",
        (elf::EM_MIPS, true) => "mips64le",
        (elf::EM_MIPS, false) => "mipsle",
        (elf::EM_LOONGARCH, _) => "loong64",
        _ => "unknown",
    }
}

/// Analyses an ELF file held in memory. Never panics on malformed input: what
/// cannot be parsed is reported in `problem`.
pub fn analyse(data: &[u8]) -> ElfInfo {
    match FileKind::parse(data) {
        Ok(FileKind::Elf64) => analyse_as::<elf::FileHeader64<Endianness>>(data, true),
        Ok(FileKind::Elf32) => analyse_as::<elf::FileHeader32<Endianness>>(data, false),
        _ => ElfInfo { problem: Some("not a parsable ELF file".into()), ..Default::default() },
    }
}

fn analyse_as<H: FileHeader<Endian = Endianness>>(data: &[u8], class64: bool) -> ElfInfo {
    let mut info = ElfInfo { class64, ..Default::default() };
    let Ok(header) = H::parse(data) else {
        info.problem = Some("malformed ELF header".into());
        return info;
    };
    let Ok(endian) = header.endian() else {
        info.problem = Some("unknown ELF byte order".into());
        return info;
    };
    info.machine = header.e_machine(endian);
    info.machine_name = machine_name(info.machine).into();
    let et = header.e_type(endian);
    let mut flags_1 = 0u64;
    let segments = header.program_headers(endian, data).unwrap_or(&[]);
    for ph in segments {
        match ph.p_type(endian) {
            elf::PT_INTERP => {
                if let Ok(bytes) = ph.data(endian, data) {
                    let s = bytes.split(|b| *b == 0).next().unwrap_or(&[]);
                    info.interpreter = Some(String::from_utf8_lossy(s).into_owned());
                }
            }
            elf::PT_DYNAMIC => info.has_dynamic = true,
            _ => {}
        }
    }
    match header.sections(endian, data) {
        Ok(sections) => {
            for s in sections.iter() {
                if let Ok(name) = sections.section_name(endian, s) {
                    let name = String::from_utf8_lossy(name).into_owned();
                    if name == ".symtab" {
                        info.has_symtab = true;
                    }
                    if name.starts_with(".debug_") || name.starts_with(".zdebug_") {
                        info.debug_sections.push(name.clone());
                    }
                    if name.starts_with("UPX") {
                        info.upx = true;
                    }
                    if name == ".gopclntab" || name == ".note.go.buildid" || name == ".go.buildinfo" {
                        info.is_go = true;
                    }
                    info.section_names.push(name);
                }
            }
            if let Ok(Some((dyns, link))) = sections.dynamic(endian, data) {
                let strings = sections.strings(endian, data, link).ok();
                for d in dyns {
                    let tag: i64 = d.d_tag(endian).into();
                    let val: u64 = d.d_val(endian).into();
                    if tag == elf::DT_NEEDED {
                        if let Some(name) = strings.and_then(|s| s.get(val as u32).ok()) {
                            info.needed.push(String::from_utf8_lossy(name).into_owned());
                        }
                    } else if tag == elf::DT_FLAGS_1 {
                        flags_1 = val;
                    }
                }
            }
            if let Some(s) = sections.section_by_name(endian, b".go.buildinfo").map(|(_, s)| s)
                && let Ok(bytes) = s.data(endian, data)
            {
                info.go = parse_buildinfo(bytes, data, segments, endian);
            }
        }
        Err(_) => info.problem = Some("unreadable section headers".into()),
    }
    if info.go.is_none() {
        // No build-info section (sstrip, packers, or not Go): look for the
        // magic, and in the same pass (one of the two costliest over an
        // image's bytes) for the strings that make a program a shell.
        let found = content_needles().first_of_each(data);
        if let Some(at) = found[BUILDINFO_NEEDLE] {
            info.go = parse_buildinfo(&data[at..], data, segments, endian);
        }
        info.is_go |= info.go.is_some();
        if !info.is_go {
            info.is_go = has_go_note(data, segments, endian) || has_pclntab(data, segments, endian);
        }
        if !info.is_go {
            info.shell = super::programs::shell_by(|i| found[i].is_some()).map(String::from);
        }
    }
    info.is_go |= info.go.is_some();
    info.pie = et == elf::ET_DYN && (info.interpreter.is_some() || flags_1 & u64::from(elf::DF_1_PIE) != 0);
    let head = &data[..data.len().min(4096)];
    info.upx |= memchr::memmem::find(head, b"UPX!").is_some();
    if info.is_go {
        // Function names live, NUL-terminated, in the pclntab, stripped or not.
        let probes: [(&str, &[u8]); 7] = [
            ("crypto/tls", b"crypto/tls."),
            ("net/http", b"net/http.(*Server)"),
            ("net/http/pprof", b"net/http/pprof."),
            ("/debug/pprof/", b"/debug/pprof/"),
            ("expvar", b"\0expvar."),
            ("time/tzdata", b"time/tzdata."),
            ("time.LoadLocation", b"\0time.LoadLocation\0"),
        ];
        for (name, needle) in probes {
            if memchr::memmem::find(data, needle).is_some() {
                info.links.push(name.to_string());
            }
        }
        match go_symbols(header, data, segments, endian, class64) {
            Ok(symbols) => info.go_symbols = Some(symbols),
            Err(e) => {
                let e = format!("function table: {e}");
                info.problem = Some(match info.problem.take() {
                    Some(p) => format!("{p}; {e}"),
                    None => e,
                });
            }
        }
    }
    info
}

/// The functions of a Go binary: the pclntab found by its section or, in a
/// binary without section headers, by its header in a loadable segment.
fn go_symbols<H: FileHeader<Endian = Endianness>>(
    header: &H,
    data: &[u8],
    segments: &[H::ProgramHeader],
    endian: Endianness,
    class64: bool,
) -> Result<super::gosym::GoSymbols, String> {
    let little = endian == Endianness::Little;
    let sections = header.sections(endian, data).ok();
    let from_section = sections.as_ref().and_then(|s| {
        let (_, sec) = s.section_by_name(endian, b".gopclntab")?;
        Some((sec.data(endian, data).ok()?, sec.sh_addr(endian).into()))
    });
    let (table, addr) = match from_section {
        Some(found) => found,
        None => find_pclntab(data, segments, endian).ok_or("no pclntab found")?,
    };
    let read = |addr: u64, len: usize| -> Option<&[u8]> { vaddr_slice(data, segments, endian, addr, len as u64) };
    let ptr = if class64 { 8 } else { 4 };
    let gofunc = sections
        .as_ref()
        .and_then(|s| symbol_value(s, endian, data, &[b"go:func.*", b"go.func.*"]))
        .or_else(|| gofunc_from_moduledata(data, segments, endian, addr, ptr));
    let inline = super::gosym::Inline { read: &read, gofunc };
    let (names, inlined) = super::gosym::function_names(table, little, Some(&inline))?;
    Ok(super::gosym::symbols(&names, inlined))
}

/// The value of the first symbol of `.symtab` with one of `names`.
fn symbol_value<S: SectionHeader<Endian = Endianness>>(
    sections: &object::read::elf::SectionTable<'_, impl FileHeader<Endian = Endianness, SectionHeader = S>>,
    endian: Endianness,
    data: &[u8],
    names: &[&[u8]],
) -> Option<u64> {
    use object::read::elf::Sym;
    let symbols = sections.symbols(endian, data, elf::SHT_SYMTAB).ok()?;
    symbols.iter().find_map(|sym| {
        let name = symbols.symbol_name(endian, sym).ok()?;
        names.contains(&name).then(|| sym.st_value(endian).into())
    })
}

/// `runtime.firstmoduledata.gofunc` in a binary without a symbol table:
/// moduledata starts with a pointer to the pclntab, and `gofunc` follows
/// `rodata`, at word 43 (go1.27, the newest layout checked), 40 (go1.20–1.25, which added
/// `covctrs`) or 38 (go1.18/1.19). The word must be an address of a
/// loadable segment at or after `rodata` (the word before it); lengths and
/// capacities that sit at those places in other layouts are not. A wrong
/// guess can only make inline trees unreadable, which is then reported.
fn gofunc_from_moduledata<P: ProgramHeader<Endian = Endianness>>(
    data: &[u8],
    segments: &[P],
    endian: Endianness,
    pclntab: u64,
    ptr: usize,
) -> Option<u64> {
    let little = endian == Endianness::Little;
    let needle: Vec<u8> = match (ptr, little) {
        (8, true) => pclntab.to_le_bytes().to_vec(),
        (8, false) => pclntab.to_be_bytes().to_vec(),
        (_, true) => (pclntab as u32).to_le_bytes().to_vec(),
        (_, false) => (pclntab as u32).to_be_bytes().to_vec(),
    };
    let word = |b: &[u8], i: usize| -> Option<u64> {
        let w = b.get(i * ptr..(i + 1) * ptr)?;
        Some(match (ptr, little) {
            (8, true) => u64::from_le_bytes(w.try_into().ok()?),
            (8, false) => u64::from_be_bytes(w.try_into().ok()?),
            (_, true) => u64::from(u32::from_le_bytes(w.try_into().ok()?)),
            (_, false) => u64::from(u32::from_be_bytes(w.try_into().ok()?)),
        })
    };
    for range in load_ranges(data, segments, endian, elf::PT_LOAD) {
        let seg = &data[range];
        for at in memchr::memmem::find_iter(seg, &needle).filter(|at| at % ptr == 0) {
            let md = &seg[at..];
            for gofunc_at in [43usize, 40, 38] {
                let (Some(rodata), Some(gofunc)) = (word(md, gofunc_at - 1), word(md, gofunc_at)) else {
                    continue;
                };
                let mapped = |a: u64| vaddr_slice(data, segments, endian, a, 1).is_some();
                if rodata <= gofunc && mapped(rodata) && mapped(gofunc) {
                    return Some(gofunc);
                }
            }
        }
    }
    None
}

/// The pclntab found by its header in a loadable segment, and its address.
fn find_pclntab<'a, P: ProgramHeader<Endian = Endianness>>(
    data: &'a [u8],
    segments: &[P],
    endian: Endianness,
) -> Option<(&'a [u8], u64)> {
    let little = endian == Endianness::Little;
    for ph in segments.iter().filter(|ph| ph.p_type(endian) == elf::PT_LOAD) {
        let Ok(seg) = ph.data(endian, data) else { continue };
        if let Some(at) = pclntab_header_in(seg, little) {
            return Some((&seg[at..], ph.p_vaddr(endian).into() + at as u64));
        }
    }
    None
}

/// The go1.20+, go1.18, go1.16 and go1.2 pclntab magics.
const PCLNTAB_MAGICS: [u32; 4] = [0xffff_fff1, 0xffff_fff0, 0xffff_fffa, 0xffff_fffb];

/// Where the first plausible pclntab header in `seg` starts. This runs over
/// the loadable bytes of every ELF file that shows no other sign of Go —
/// most of an image's bytes — so little-endian files are searched once for
/// the three `0xff` bytes and two zeros the four magics share, and only the
/// byte before is told apart (one pass for four: half the time).
fn pclntab_header_in(seg: &[u8], little: bool) -> Option<usize> {
    if little {
        return memchr::memmem::find_iter(seg, b"\xff\xff\xff\0\0").find_map(|at| {
            let start = at.checked_sub(1)?;
            let magic = PCLNTAB_MAGICS.into_iter().find(|m| m.to_le_bytes()[0] == seg[start])?;
            pclntab_header_ok(&seg[start..], magic, little).then_some(start)
        });
    }
    // Big-endian files (s390x, some MIPS and PowerPC) are rare: one search per magic.
    PCLNTAB_MAGICS.into_iter().find_map(|magic| {
        let b = magic.to_be_bytes();
        let needle = [b[0], b[1], b[2], b[3], 0, 0];
        memchr::memmem::find_iter(seg, &needle).find(|at| pclntab_header_ok(&seg[*at..], magic, little))
    })
}

/// `len` bytes at virtual address `addr`, borrowed from a PT_LOAD segment.
fn vaddr_slice<'a, P: ProgramHeader<Endian = Endianness>>(
    data: &'a [u8],
    segments: &[P],
    endian: Endianness,
    addr: u64,
    len: u64,
) -> Option<&'a [u8]> {
    for ph in segments {
        if ph.p_type(endian) != elf::PT_LOAD {
            continue;
        }
        let (va, fsz, off): (u64, u64, u64) =
            (ph.p_vaddr(endian).into(), ph.p_filesz(endian).into(), ph.p_offset(endian).into());
        if addr >= va && addr.checked_add(len)? <= va.checked_add(fsz)? {
            let start = usize::try_from(off.checked_add(addr - va)?).ok()?;
            return data.get(start..start.checked_add(usize::try_from(len).ok()?)?);
        }
    }
    None
}

const BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";

/// The strings of [`super::programs::SHELL_NEEDLES`], then the build-info
/// magic, at [`BUILDINFO_NEEDLE`].
fn content_needles() -> &'static super::needles::Needles {
    static NEEDLES: std::sync::LazyLock<super::needles::Needles> = std::sync::LazyLock::new(|| {
        let mut all = super::programs::SHELL_NEEDLES.to_vec();
        all.push(BUILDINFO_MAGIC);
        super::needles::Needles::new(&all)
    });
    &NEEDLES
}

const BUILDINFO_NEEDLE: usize = super::programs::SHELL_NEEDLES.len();

/// The file range of each PT_LOAD segment that lies inside `data`.
fn load_ranges<P: ProgramHeader<Endian = Endianness>>(
    data: &[u8],
    segments: &[P],
    endian: Endianness,
    kind: u32,
) -> Vec<std::ops::Range<usize>> {
    segments
        .iter()
        .filter(|ph| ph.p_type(endian) == kind)
        .filter_map(|ph| {
            let start = usize::try_from(ph.p_offset(endian).into()).ok()?;
            let end = start.checked_add(usize::try_from(ph.p_filesz(endian).into()).ok()?)?;
            (end <= data.len()).then_some(start..end)
        })
        .collect()
}

/// The Go build-ID note (`Go\0\0`, type 4) in a PT_NOTE segment.
fn has_go_note<P: ProgramHeader<Endian = Endianness>>(data: &[u8], segments: &[P], endian: Endianness) -> bool {
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        let bytes: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if endian == Endianness::Little { u32::from_le_bytes(bytes) } else { u32::from_be_bytes(bytes) })
    };
    for range in load_ranges(data, segments, endian, elf::PT_NOTE) {
        let notes = &data[range];
        let mut at = 0usize;
        // Each note: namesz, descsz, type, then name and desc padded to 4.
        while let (Some(namesz), Some(descsz), Some(kind)) =
            (u32_at(notes, at), u32_at(notes, at + 4), u32_at(notes, at + 8))
        {
            let name_at = at + 12;
            let pad = |n: u32| (n as usize).div_ceil(4) * 4;
            if kind == 4 && namesz == 4 && notes.get(name_at..name_at + 4) == Some(b"Go\0\0") {
                return true;
            }
            match name_at.checked_add(pad(namesz)).and_then(|n| n.checked_add(pad(descsz))) {
                Some(next) if next > at => at = next,
                _ => break,
            }
        }
    }
    false
}

/// A pclntab header in a loadable segment: the magic of go1.20+ (0xfffffff1),
/// go1.18 (0xfffffff0), go1.16 (0xfffffffa) or go1.2 (0xfffffffb), two zero
/// bytes, an instruction quantum of 1, 2 or 4 and a pointer size of 4 or 8
/// (what `debug/gosym` checks), and then a plausible function count and, for
/// go1.16+, table offsets in order and inside the segment.
fn has_pclntab<P: ProgramHeader<Endian = Endianness>>(data: &[u8], segments: &[P], endian: Endianness) -> bool {
    let mut ranges = load_ranges(data, segments, endian, elf::PT_LOAD);
    if segments.is_empty() {
        ranges.push(0..data.len());
    }
    let little = endian == Endianness::Little;
    ranges.into_iter().any(|range| pclntab_header_in(&data[range], little).is_some())
}

fn pclntab_header_ok(t: &[u8], magic: u32, little: bool) -> bool {
    let (Some(&quantum), Some(&ptr)) = (t.get(6), t.get(7)) else { return false };
    if !matches!(quantum, 1 | 2 | 4) || !matches!(ptr, 4 | 8) {
        return false;
    }
    let ptr = usize::from(ptr);
    let word = |i: usize| -> Option<u64> {
        let at = 8usize.checked_add(i.checked_mul(ptr)?)?;
        let b = t.get(at..at + ptr)?;
        Some(match (ptr, little) {
            (8, true) => u64::from_le_bytes(b.try_into().ok()?),
            (8, false) => u64::from_be_bytes(b.try_into().ok()?),
            (_, true) => u64::from(u32::from_le_bytes(b.try_into().ok()?)),
            (_, false) => u64::from(u32::from_be_bytes(b.try_into().ok()?)),
        })
    };
    let Some(nfunc) = word(0) else { return false };
    if nfunc == 0 || nfunc > 10_000_000 {
        return false;
    }
    // go1.16+: nfunc, nfiles, [textStart (go1.18+),] then five offsets.
    let first = match magic {
        0xffff_fff1 | 0xffff_fff0 => 3,
        0xffff_fffa => 2,
        _ => return memchr::memmem::find(t, b"runtime.main\0").is_some(),
    };
    let offsets: Option<Vec<u64>> = (first..first + 5).map(word).collect();
    let Some(offsets) = offsets else { return false };
    let header = (8 + (first + 5) * ptr) as u64;
    offsets[0] == header && offsets.windows(2).all(|w| w[0] <= w[1]) && offsets[4] < t.len() as u64
}

use super::gosym::uvarint;

/// A varint-prefixed byte string and the bytes it took; `None` when the
/// length runs past the data, however large the varint.
fn varint_bytes(b: &[u8]) -> Option<(&[u8], usize)> {
    let (len, n) = uvarint(b)?;
    let end = n.checked_add(usize::try_from(len).ok()?)?;
    Some((b.get(n..end)?, end))
}

/// Reads `len` bytes at virtual address `addr` through the PT_LOAD segments.
fn read_vaddr<P: ProgramHeader<Endian = Endianness>>(
    data: &[u8],
    segments: &[P],
    endian: Endianness,
    addr: u64,
    len: u64,
) -> Option<Vec<u8>> {
    for ph in segments {
        if ph.p_type(endian) != elf::PT_LOAD {
            continue;
        }
        let (va, fsz, off) = (ph.p_vaddr(endian).into(), ph.p_filesz(endian).into(), ph.p_offset(endian).into());
        if addr >= va && addr.checked_add(len)? <= va.checked_add(fsz)? {
            let start = usize::try_from(off.checked_add(addr - va)?).ok()?;
            return data.get(start..start.checked_add(usize::try_from(len).ok()?)?).map(<[u8]>::to_vec);
        }
    }
    None
}

/// Decodes `.go.buildinfo`: Go 1.18+ stores the strings inline (flag bit 2);
/// older toolchains store pointers to Go string headers.
fn parse_buildinfo<P: ProgramHeader<Endian = Endianness>>(
    b: &[u8],
    data: &[u8],
    segments: &[P],
    endian: Endianness,
) -> Option<GoBuildInfo> {
    if b.len() < 32 || !b.starts_with(BUILDINFO_MAGIC) {
        return None;
    }
    let ptr_size = b[14] as usize;
    let flags = b[15];
    let (version, modinfo) = if flags & 2 != 0 {
        let (v, n) = varint_bytes(&b[32..])?;
        let (m, _) = varint_bytes(b.get(32 + n..)?)?;
        (v.to_vec(), m.to_vec())
    } else {
        if ptr_size != 4 && ptr_size != 8 {
            return None;
        }
        let big = flags & 1 != 0;
        let read_ptr = |bytes: &[u8]| -> Option<u64> {
            Some(match (ptr_size, big) {
                (8, false) => u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?),
                (8, true) => u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?),
                (_, false) => u64::from(u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?)),
                (_, true) => u64::from(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?)),
            })
        };
        let go_string = |header_addr: u64| -> Option<Vec<u8>> {
            let hdr = read_vaddr(data, segments, endian, header_addr, 2 * ptr_size as u64)?;
            let (ptr, len) = (read_ptr(&hdr)?, read_ptr(&hdr[ptr_size..])?);
            if len > 1 << 24 {
                return None;
            }
            read_vaddr(data, segments, endian, ptr, len)
        };
        let v = go_string(read_ptr(&b[16..])?)?;
        let m = go_string(read_ptr(&b[16 + ptr_size..])?).unwrap_or_default();
        (v, m)
    };
    // modinfo is wrapped in 16-byte sentinels, which are not text: cut them
    // off as bytes (the lossy decoding above may have widened them).
    let version = String::from_utf8_lossy(&version).into_owned();
    let modinfo = if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        String::from_utf8_lossy(&modinfo[16..modinfo.len() - 16]).into_owned()
    } else {
        String::from_utf8_lossy(&modinfo).into_owned()
    };
    let mut bi = GoBuildInfo { go_version: version, ..Default::default() };
    let module = |f: &[&str]| GoModule {
        path: f.get(1).unwrap_or(&"").to_string(),
        version: f.get(2).unwrap_or(&"").to_string(),
        sum: f.get(3).filter(|s| !s.is_empty()).map(|s| s.to_string()),
    };
    for line in modinfo.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f[0] {
            "path" => bi.path = f.get(1).unwrap_or(&"").to_string(),
            "mod" => bi.main = Some(module(&f)),
            "dep" => bi.deps.push(module(&f)),
            "=>" => {
                if let Some(last) = bi.deps.last_mut() {
                    *last = module(&f);
                }
            }
            "build" => {
                if let Some((k, v)) = f.get(1).and_then(|kv| kv.split_once('=')) {
                    bi.settings.push((k.to_string(), v.to_string()));
                }
            }
            _ => {}
        }
    }
    Some(bi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_never_panics() {
        for data in
            [&b""[..], b"\x7fELF", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\xff\xff\xff\xff\xff\xff\xff\xff"]
        {
            let _ = analyse(data);
        }
        let mut bad = vec![0u8; 200];
        bad[..4].copy_from_slice(b"\x7fELF");
        bad[4] = 2;
        bad[5] = 1;
        let _ = analyse(&bad);
        let mut bi = BUILDINFO_MAGIC.to_vec();
        bi.extend_from_slice(&[8, 2]);
        bi.resize(32, 0);
        bi.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(parse_buildinfo::<elf::ProgramHeader64<Endianness>>(&bi, &[], &[], Endianness::Little).is_none());
    }

    fn inline_buildinfo(version: &[u8], modinfo: &[u8]) -> Vec<u8> {
        let mut bi = BUILDINFO_MAGIC.to_vec();
        bi.extend_from_slice(&[8, 2]);
        bi.resize(32, 0);
        for s in [version, modinfo] {
            let mut n = s.len();
            while n >= 0x80 {
                bi.push((n as u8) | 0x80);
                n >>= 7;
            }
            bi.push(n as u8);
            bi.extend_from_slice(s);
        }
        bi
    }

    #[test]
    fn build_info_bytes_that_are_not_text_never_panic() {
        let parse = |b: &[u8]| parse_buildinfo::<elf::ProgramHeader64<Endianness>>(b, &[], &[], Endianness::Little);
        // A multi-byte character across the 16-byte sentinel's end.
        let modinfo = [&b"aaaaaaaaaaaaaaa\xc3"[..], b"\xa9path\tex\nbuild\tCGO_ENABLED=0\n", &[b'b'; 16]].concat();
        let bi = parse(&inline_buildinfo(b"go1.22.\xff", &modinfo)).unwrap();
        assert_eq!(bi.setting("CGO_ENABLED"), Some("0"));
        assert!(bi.go_version.starts_with("go1.22."));
        // Lengths that run past the data, up to the largest varint.
        for len in [&[0x80u8, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01][..], &[0xff; 10], &[0x7f]] {
            let mut b = inline_buildinfo(b"go1.22", b"");
            b.truncate(b.len() - 1);
            b.extend_from_slice(len);
            assert!(parse(&b).is_none());
        }
        for cut in 0..40 {
            let b = inline_buildinfo(b"go1.22", &modinfo);
            let _ = parse(&b[..cut.min(b.len())]);
        }
    }

    #[test]
    fn pclntab_headers_are_checked_before_they_count() {
        let header = |magic: u32, words: &[u64]| {
            let mut t = magic.to_le_bytes().to_vec();
            t.extend_from_slice(&[0, 0, 1, 8]);
            for w in words {
                t.extend_from_slice(&w.to_le_bytes());
            }
            t.resize(4096, 0);
            t
        };
        let none: &[elf::ProgramHeader64<Endianness>] = &[];
        let go120 = header(0xffff_fff1, &[6656, 729, 0, 72, 300, 400, 500, 1000]);
        assert!(has_pclntab(&go120, none, Endianness::Little));
        let go116 = header(0xffff_fffa, &[10, 3, 64, 100, 200, 300, 400]);
        assert!(has_pclntab(&go116, none, Endianness::Little));
        for bad in [
            header(0xffff_fff1, &[0, 729, 0, 72, 300, 400, 500, 1000]),
            header(0xffff_fff1, &[6656, 729, 0, 72, 500, 400, 500, 1000]),
            header(0xffff_fff1, &[6656, 729, 0, 72, 300, 400, 500, 100_000]),
            header(0xffff_fff1, &[6656, 729, 0, 80, 300, 400, 500, 1000]),
            header(0xffff_fff2, &[6656, 729, 0, 72, 300, 400, 500, 1000]),
            header(0xffff_fffb, &[10]),
        ] {
            assert!(!has_pclntab(&bad, none, Endianness::Little));
        }
        let mut go12 = header(0xffff_fffb, &[10]);
        go12.extend_from_slice(b"runtime.main\0");
        assert!(has_pclntab(&go12, none, Endianness::Little));
        let mut short = go120.clone();
        short.truncate(20);
        assert!(!has_pclntab(&short, none, Endianness::Little));
        // A header that fails its checks does not hide a good one after it,
        // of another magic (little-endian files are searched once for all).
        let mut decoy = header(0xffff_fff1, &[0, 729, 0, 72, 300, 400, 500, 1000]);
        decoy.truncate(64);
        decoy.extend_from_slice(&go116);
        assert_eq!(pclntab_header_in(&decoy, true), Some(64));
        // Big-endian.
        let mut be = 0xffff_fff1u32.to_be_bytes().to_vec();
        be.extend_from_slice(&[0, 0, 1, 8]);
        for w in [6656u64, 729, 0, 72, 300, 400, 500, 1000] {
            be.extend_from_slice(&w.to_be_bytes());
        }
        be.resize(4096, 0);
        assert!(has_pclntab(&be, none, Endianness::Big));
        assert!(!has_pclntab(&go120, none, Endianness::Big));
    }
}
