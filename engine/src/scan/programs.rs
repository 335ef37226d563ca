//! What an executable is, by its content rather than its name: shells and
//! the multi-call binaries that carry one (a copy of `dash` named `helper` is
//! still a shell), and `#!` scripts with the interpreter the kernel runs them
//! with. Rules that forbid shells or shell-form entrypoints judge these, so
//! renaming or moving a program does not hide it.

/// A shell recognised by strings every build of it carries, or `None`.
#[cfg(test)]
pub fn shell_in(data: &[u8]) -> Option<&'static str> {
    let found = super::needles::Needles::new(SHELL_NEEDLES).first_of_each(data);
    shell_by(|i| found[i].is_some())
}

/// The shell that the strings [`SHELL_NEEDLES`]`[i]` for which `has(i)`
/// holds make of a file: multi-call binaries first (BusyBox's ash shares
/// dash's messages), then the shells that name themselves, then any other
/// POSIX shell by the messages of its builtins (dash, posh, yash: reported
/// as `sh`). The search is the caller's: the ELF analysis looks for these
/// in the same pass as Go's build-info magic.
pub fn shell_by(has: impl Fn(usize) -> bool) -> Option<&'static str> {
    let has = |needle: &[u8]| SHELL_NEEDLES.iter().position(|n| *n == needle).is_some_and(&has);
    if has(b"BusyBox v") && has(b"multi-call binary") {
        return Some("busybox");
    }
    if has(b"toybox") && has(b"[--long | --help | --version") {
        return Some("toybox");
    }
    SHELL_SIGNATURES.iter().find(|(_, needles)| needles.iter().all(|n| has(n))).map(|(name, _)| *name)
}

const SHELL_SIGNATURES: &[(&str, &[&[u8]])] = &[
    ("bash", &[b"BASH_VERSION", b"GNU bash, version"]),
    ("zsh", &[b"ZSH_VERSION", b"zsh"]),
    ("mksh", &[b"KSH_VERSION", b"MIRBSD KSH"]),
    ("ksh", &[b"KSH_VERSION", b".sh.version"]),
    ("sh", &[b" is a shell keyword", b"OPTIND"]),
    ("sh", &[b"is a special shell builtin", b"OPTIND"]),
];

/// Every string [`shell_by`] looks for (the multi-call markers, then each
/// signature's).
pub const SHELL_NEEDLES: &[&[u8]] = &[
    b"BusyBox v",
    b"multi-call binary",
    b"toybox",
    b"[--long | --help | --version",
    b"BASH_VERSION",
    b"GNU bash, version",
    b"ZSH_VERSION",
    b"zsh",
    b"KSH_VERSION",
    b"MIRBSD KSH",
    b".sh.version",
    b" is a shell keyword",
    b"OPTIND",
    b"is a special shell builtin",
];

/// The `#!` line of a script, as Linux reads it: the interpreter path, then
/// everything after the following blanks up to the end of the line (trimmed)
/// as one optional argument. Only the first 255 bytes count, as in the kernel
/// (`BINPRM_BUF_SIZE`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shebang {
    pub interpreter: String,
    pub argument: Option<String>,
}

pub fn shebang(head: &[u8]) -> Option<Shebang> {
    let line = head.strip_prefix(b"#!")?;
    let line = &line[..line.len().min(253)];
    let line = line.split(|&b| b == b'\n').next().unwrap_or(line);
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !blank(b))?;
    let rest = &line[start..];
    let end = rest.iter().position(blank).unwrap_or(rest.len());
    let interpreter = String::from_utf8_lossy(&rest[..end]).into_owned();
    let arg = String::from_utf8_lossy(&rest[end..]).trim_matches([' ', '\t', '\r', '\0']).to_string();
    Some(Shebang { interpreter, argument: (!arg.is_empty()).then_some(arg) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines_as_the_kernel_reads_them() {
        let s = |t: &[u8]| shebang(t).map(|s| (s.interpreter, s.argument));
        assert_eq!(s(b"#!/bin/sh\necho"), Some(("/bin/sh".into(), None)));
        assert_eq!(s(b"#! /usr/bin/env  bash -e \nx"), Some(("/usr/bin/env".into(), Some("bash -e".into()))));
        assert_eq!(s(b"#!\t/bin/dash\t-x"), Some(("/bin/dash".into(), Some("-x".into()))));
        assert_eq!(s(b"#!\n"), None);
        assert_eq!(s(b"# !/bin/sh"), None);
        assert_eq!(s(b"\x7fELF"), None);
        // Only the kernel's buffer counts; no panic on bytes that are not UTF-8.
        let long = [b"#!/".as_slice(), &[0xe2; 400]].concat();
        assert!(shebang(&long).unwrap().interpreter.contains('\u{fffd}'));
    }

    #[test]
    fn shells_by_their_strings() {
        assert_eq!(shell_in(b"..GNU bash, version %s..BASH_VERSION.."), Some("bash"));
        assert_eq!(shell_in(b"BusyBox v1.36.1 multi-call binary.. is a shell keyword OPTIND"), Some("busybox"));
        assert_eq!(shell_in(b"%s: is a shell keyword\0OPTIND\0"), Some("sh"));
        assert_eq!(shell_in(b"OPTIND alone is no shell"), None);
        // Needles that overlap in the file are each found.
        assert_eq!(shell_in(b"MIRBSD KSH_VERSION"), Some("mksh"));
        assert_eq!(shell_in(b""), None);
    }
}
