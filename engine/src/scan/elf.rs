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

use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader, SectionHeader};
use object::{Endianness, FileKind};

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GoModule {
    pub path: String,
    pub version: String,
    pub sum: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
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

#[derive(Debug, Clone, Default, serde::Serialize)]
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
    pub go: Option<GoBuildInfo>,
    /// Notable Go packages or functions linked in: `crypto/tls`, `net/http`,
    /// `net/http/pprof`, `expvar`, `time/tzdata`, `time.LoadLocation`.
    pub links: Vec<String>,
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
        // No section headers (sstrip, packers): look for the build info magic.
        if let Some(at) = memchr::memmem::find(data, BUILDINFO_MAGIC) {
            info.go = parse_buildinfo(&data[at..], data, segments, endian);
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
    }
    info
}

const BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";

fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        x |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((x, i + 1));
        }
    }
    None
}

fn varint_string(b: &[u8]) -> Option<(String, usize)> {
    let (len, n) = uvarint(b)?;
    let end = n.checked_add(usize::try_from(len).ok()?)?;
    let s = b.get(n..end)?;
    Some((String::from_utf8_lossy(s).into_owned(), end))
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
        if addr >= va && addr.checked_add(len)? <= va + fsz {
            let start = usize::try_from(off + (addr - va)).ok()?;
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
        let (v, n) = varint_string(&b[32..])?;
        let (m, _) = varint_string(&b[32 + n..])?;
        (v, m)
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
        let go_string = |header_addr: u64| -> Option<String> {
            let hdr = read_vaddr(data, segments, endian, header_addr, 2 * ptr_size as u64)?;
            let (ptr, len) = (read_ptr(&hdr)?, read_ptr(&hdr[ptr_size..])?);
            if len > 1 << 24 {
                return None;
            }
            read_vaddr(data, segments, endian, ptr, len).map(|v| String::from_utf8_lossy(&v).into_owned())
        };
        let v = go_string(read_ptr(&b[16..])?)?;
        let m = go_string(read_ptr(&b[16 + ptr_size..])?).unwrap_or_default();
        (v, m)
    };
    // modinfo is wrapped in 16-byte sentinels.
    let modinfo = if modinfo.len() >= 33 && modinfo.as_bytes()[modinfo.len() - 17] == b'\n' {
        modinfo[16..modinfo.len() - 16].to_string()
    } else {
        modinfo
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
}
