//! Secrets and VCS metadata shipped in layers: recognised by path (private
//! key file names, dotenv files, credential stores, `.git` and anything
//! under it) and by content anywhere in a file (PEM private keys, npm
//! tokens, docker registry auths and identity tokens, AWS keys), read as a
//! stream in overlapping windows so memory stays bounded and a secret cannot
//! hide past the first bytes or across a read boundary. Values are never
//! copied into findings.

use super::FileKind;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    pub path: String,
    /// `private-key`, `dotenv`, `credentials`, `cloud-credentials`,
    /// `npm-token`, `docker-auth`, `aws-access-key`, `vcs`.
    pub kind: String,
    pub detail: String,
}

fn hit(path: &str, kind: &'static str, detail: impl Into<String>) -> Option<Hit> {
    Some(Hit { path: path.to_string(), kind: kind.to_string(), detail: detail.into() })
}

/// Recognises a secret by its path alone. Anything under a `.git`
/// directory implies the directory (an archive need not list it), and is
/// reported as the directory: [`record`] keeps one hit per directory.
pub fn by_path(path: &str, kind: FileKind) -> Option<Hit> {
    let base = path.rsplit('/').next().unwrap_or(path);
    let git = |dir: &str| hit(dir, "vcs", "git metadata (history, remotes, possibly credentials)");
    if base == ".git" && matches!(kind, FileKind::Directory | FileKind::Regular) {
        return git(path);
    }
    if let Some(at) = path.match_indices(".git/").map(|(i, _)| i).find(|&i| i == 0 || path.as_bytes()[i - 1] == b'/') {
        return git(&path[..at + 4]);
    }
    if kind != FileKind::Regular {
        return None;
    }
    match base {
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" => {
            return hit(path, "private-key", "SSH private key file");
        }
        ".git-credentials" | ".netrc" | ".pgpass" | ".htpasswd" | "credentials.json" | "credential.json" => {
            return hit(path, "credentials", format!("credential store `{base}`"));
        }
        _ => {}
    }
    if base == ".env"
        || (base.starts_with(".env.")
            && !matches!(base, ".env.example" | ".env.sample" | ".env.template" | ".env.dist"))
    {
        return hit(path, "dotenv", "dotenv file (environment secrets)");
    }
    if path.ends_with(".aws/credentials")
        || path.ends_with("gcloud/application_default_credentials.json")
        || path.ends_with("gcloud/credentials.db")
    {
        return hit(path, "cloud-credentials", "cloud provider credentials");
    }
    None
}

/// Adds a hit to a layer's list, once per `.git` directory however many of
/// its files the layer holds (they are usually consecutive in the archive;
/// if not, a directory is reported more than once, never missed).
pub fn record(hits: &mut Vec<Hit>, found: Option<Hit>) {
    let Some(h) = found else { return };
    if h.kind == "vcs" && hits.iter().rev().find(|p| p.kind == "vcs").is_some_and(|p| p.path == h.path) {
        return;
    }
    hits.push(h);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// Bytes of one file carried from one window into the next: more than the
/// longest marker plus the context a check reads around it, so a secret
/// split across two reads is still seen whole in one window.
const OVERLAP: usize = 512;
/// Bytes read from the file per window after the head.
const CHUNK: usize = 64 << 10;

/// AWS access key IDs: `AKIA`/`ASIA` and 16 upper-case alphanumerics, not
/// inside a longer word. `first`/`last`: the window starts/ends the file; a
/// candidate touching an inner edge is judged in the window that holds its
/// neighbours (the overlap guarantees one does).
fn has_aws_key(w: &[u8], first: bool, last: bool) -> bool {
    for prefix in [&b"AKIA"[..], b"ASIA"] {
        for start in memchr::memmem::find_iter(w, prefix) {
            let Some(cand) = w.get(start..start + 20) else {
                continue;
            };
            if !cand[4..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
                continue;
            }
            let before_ok = if start == 0 { first } else { !w[start - 1].is_ascii_alphanumeric() };
            let after_ok = match w.get(start + 20) {
                None => last,
                Some(c) => !c.is_ascii_alphanumeric(),
            };
            if before_ok && after_ok {
                return true;
            }
        }
    }
    false
}

/// `aws_secret_access_key = <40 characters>` (any case of the name, `=` or
/// `:`, optional quotes), as in credential files, dotenv files and scripts.
fn has_aws_secret(w: &[u8]) -> bool {
    for name in [&b"aws_secret_access_key"[..], b"AWS_SECRET_ACCESS_KEY"] {
        for at in memchr::memmem::find_iter(w, name) {
            let rest = &w[at + name.len()..];
            let skip = |r: &[u8], set: &[u8]| r.iter().take_while(|c| set.contains(c)).count();
            let mut i = skip(rest, b" \t\"'");
            if !matches!(rest.get(i), Some(b'=' | b':')) {
                continue;
            }
            i += 1;
            i += skip(&rest[i..], b" \t\"'");
            let value = rest[i..].iter().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'+')).count();
            if value == 40 {
                return true;
            }
        }
    }
    false
}

/// A PEM block whose label names an unencrypted private key (`RSA PRIVATE
/// KEY`, `PRIVATE KEY`, `OPENSSH PRIVATE KEY`, `PGP PRIVATE KEY BLOCK`...).
/// Every `-----BEGIN` is judged, so an encrypted key does not hide a plain
/// one beside it.
fn has_private_key(w: &[u8]) -> bool {
    memchr::memmem::find_iter(w, b"-----BEGIN ").any(|at| {
        let label = &w[at + 11..];
        let label = &label[..label.len().min(80)];
        let Some(end) = memchr::memmem::find(label, b"-----") else { return false };
        let label = &label[..end];
        contains(label, b"PRIVATE KEY") && !label.starts_with(b"ENCRYPTED")
    })
}

/// What the content checks of one file look for, decided from its path and
/// its first bytes.
struct Checks<'a> {
    path: &'a str,
    /// No NUL in the first 8 KiB: AWS keys are only looked for in text, where
    /// a random match is not plausible.
    text: bool,
    npm: bool,
    docker: bool,
}

impl Checks<'_> {
    fn window(&self, w: &[u8], first: bool, last: bool) -> Option<Hit> {
        let path = self.path;
        if has_private_key(w) {
            return hit(path, "private-key", "PEM private key");
        }
        if self.npm && (contains(w, b"_auth") || contains(w, b"_password")) {
            return hit(path, "npm-token", "npm registry token");
        }
        if self.docker {
            // Go's encoding/json, which reads docker's config, matches keys
            // in any case.
            let lower = w.to_ascii_lowercase();
            if [&b"\"auth\""[..], b"\"identitytoken\"", b"\"registrytoken\""].iter().any(|k| contains(&lower, k)) {
                return hit(path, "docker-auth", "docker registry credentials");
            }
        }
        if self.text && has_aws_key(w, first, last) {
            return hit(path, "aws-access-key", "AWS access key ID");
        }
        if self.text && has_aws_secret(w) {
            return hit(path, "cloud-credentials", "AWS secret access key");
        }
        None
    }
}

/// Recognises a secret by path or by content anywhere in a regular file:
/// `head` is what was read of it, `rest` yields the remaining bytes (of
/// `size` in all). The rest is read in windows of 64 KiB that overlap by
/// [`OVERLAP`] bytes, so memory stays bounded whatever the file's size, and
/// a marker split across two reads is still found.
pub fn sniff_stream(path: &str, head: &[u8], size: u64, rest: &mut impl std::io::Read) -> std::io::Result<Option<Hit>> {
    if let Some(h) = by_path(path, FileKind::Regular) {
        return Ok(Some(h));
    }
    let base = path.rsplit('/').next().unwrap_or(path);
    let checks = Checks {
        path,
        text: !head[..head.len().min(8192)].contains(&0),
        npm: base == ".npmrc",
        docker: (base == "config.json" && (path.starts_with(".docker/") || path.contains("/.docker/")))
            || base == ".dockercfg",
    };
    let whole = head.len() as u64 >= size;
    if let Some(h) = checks.window(head, true, whole) {
        return Ok(Some(h));
    }
    if whole {
        return Ok(None);
    }
    let mut window = Vec::with_capacity(OVERLAP + CHUNK);
    window.extend_from_slice(&head[head.len().saturating_sub(OVERLAP)..]);
    loop {
        let carried = window.len();
        window.resize(carried + CHUNK, 0);
        let mut filled = carried;
        while filled < window.len() {
            match rest.read(&mut window[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        let last = filled < window.len();
        window.truncate(filled);
        if filled > carried
            && let Some(h) = checks.window(&window, false, last)
        {
            return Ok(Some(h));
        }
        if last {
            return Ok(None);
        }
        window.drain(..window.len() - OVERLAP.min(window.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff(path: &str, content: &[u8], _size: u64) -> Option<Hit> {
        sniff_stream(path, content, content.len() as u64, &mut std::io::empty()).unwrap()
    }

    /// Streams `content` as the layer scanner does: a head of `head` bytes,
    /// then the rest from a reader that hands out `piece` bytes at a time.
    fn streamed(path: &str, content: &[u8], head: usize, piece: usize) -> Option<Hit> {
        struct Pieces<'a>(&'a [u8], usize);
        impl std::io::Read for Pieces<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let head = head.min(content.len());
        sniff_stream(path, &content[..head], content.len() as u64, &mut Pieces(&content[head..], piece)).unwrap()
    }

    #[test]
    fn recognises_secrets() {
        assert_eq!(by_path("root/.ssh/id_rsa", FileKind::Regular).unwrap().kind, "private-key");
        assert_eq!(by_path("app/.env", FileKind::Regular).unwrap().kind, "dotenv");
        assert!(by_path("app/.env.example", FileKind::Regular).is_none());
        assert_eq!(by_path("src/.git", FileKind::Directory).unwrap().kind, "vcs");
        assert_eq!(sniff("k.pem", b"-----BEGIN RSA PRIVATE KEY-----\nMII", 40).unwrap().kind, "private-key");
        assert!(sniff("ca.pem", b"-----BEGIN CERTIFICATE-----\nMII", 40).is_none());
        assert_eq!(sniff("root/.npmrc", b"//registry.npmjs.org/:_authToken=npm_x", 40).unwrap().kind, "npm-token");
        assert_eq!(
            sniff("root/.docker/config.json", br#"{"auths":{"r":{"auth":"eA=="}}}"#, 30).unwrap().kind,
            "docker-auth"
        );
        assert_eq!(sniff("etc/app.conf", b"key=AKIAIOSFODNN7EXAMPLE\n", 30).unwrap().kind, "aws-access-key");
        assert!(sniff("etc/app.conf", b"key=AKIAIOSFODNN7EXAMPLEX\n", 30).is_none());
        assert!(sniff("bin/x", b"\x7fELF\0\0AKIAIOSFODNN7EXAMPLE", 30).is_none());
    }

    #[test]
    fn git_directories_are_implied_by_their_files() {
        for (path, dir) in [("app/.git/config", "app/.git"), (".git/HEAD", ".git"), ("a/.git/objects/ab/cd", "a/.git")]
        {
            let h = by_path(path, FileKind::Regular).unwrap();
            assert_eq!((h.kind.as_str(), h.path.as_str()), ("vcs", dir), "{path}");
        }
        assert!(by_path("app/my.git/config", FileKind::Regular).is_none());
        assert!(by_path("app/.gitignore", FileKind::Regular).is_none());
        let mut hits = Vec::new();
        for p in ["app/.git", "app/.git/HEAD", "app/.git/config", "b/.git/HEAD", "b/.git/x"] {
            record(&mut hits, by_path(p, FileKind::Regular));
        }
        let dirs: Vec<&str> = hits.iter().map(|h| h.path.as_str()).collect();
        assert_eq!(dirs, ["app/.git", "b/.git"]);
    }

    #[test]
    fn every_pem_block_is_judged() {
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(sniff("k.pem", encrypted.as_bytes(), 0).is_none());
        let both = format!("{encrypted}-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n");
        assert_eq!(sniff("k.pem", both.as_bytes(), 0).unwrap().kind, "private-key");
        let pgp = b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOY";
        assert_eq!(sniff("k.asc", pgp, 0).unwrap().kind, "private-key");
        // Go's pem.Decode skips whatever precedes the armour, binary or not.
        let after_binary = [&[0u8; 100][..], b"-----BEGIN PRIVATE KEY-----\nMC4"].concat();
        assert_eq!(sniff("k.bin", &after_binary, 0).unwrap().kind, "private-key");
    }

    #[test]
    fn npm_and_docker_credentials_in_any_spelling() {
        for npmrc in [&b"_auth = dXNlcjpwYXNz\n"[..], b"//r.example/:_authToken = x", b"//r/:_password=eA=="] {
            assert_eq!(sniff("home/u/.npmrc", npmrc, 0).unwrap().kind, "npm-token");
        }
        assert!(sniff("home/u/.npmrc", b"registry=https://r.example/\nalways-auth=true\n", 0).is_none());
        for config in [
            &br#"{"auths":{"r":{"identitytoken":"x"}}}"#[..],
            br#"{"auths":{"r":{"Auth":"eA=="}}}"#,
            br#"{"auths":{"r":{"RegistryToken":"x"}}}"#,
        ] {
            assert_eq!(sniff(".docker/config.json", config, 0).unwrap().kind, "docker-auth");
            assert_eq!(sniff("home/u/.docker/config.json", config, 0).unwrap().kind, "docker-auth");
        }
        assert!(sniff("home/u/.docker/config.json", br#"{"credsStore":"desktop"}"#, 0).is_none());
        assert!(sniff("app/config.json", br#"{"auth":"x"}"#, 0).is_none(), "not a docker config");
    }

    #[test]
    fn secrets_anywhere_in_a_stream() {
        let key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n";
        let aws = b"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n";
        let secret = b"export AWS_SECRET_ACCESS_KEY=\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"\n";
        for (marker, kind) in [(&key[..], "private-key"), (aws, "aws-access-key"), (secret, "cloud-credentials")] {
            // The marker at every offset around the head's end and the
            // first window's end, read in pieces of several sizes.
            for head in [4096usize, 65536] {
                for shift in [0usize, 1, 7, 20, 30, 60, 200, 600] {
                    for at in [head - shift.min(head), head + CHUNK - shift, head + 3 * CHUNK + shift] {
                        let mut content = b"# padding line\n".repeat(at / 15 + 1);
                        content.truncate(at);
                        content.extend_from_slice(marker);
                        content.extend_from_slice(&b"# more\n".repeat(100));
                        for piece in [1usize << 20, 4096, 333] {
                            let h = streamed("etc/app.conf", &content, head, piece);
                            assert_eq!(
                                h.as_ref().map(|h| h.kind.as_str()),
                                Some(kind),
                                "marker at {at}, head {head}, pieces {piece}"
                            );
                        }
                    }
                }
            }
        }
        // Nothing found in a long clean stream, and a key ID inside a longer
        // word is none, even across a window edge.
        let mut clean = b"x".repeat(3 * CHUNK);
        clean.extend_from_slice(b"AKIAIOSFODNN7EXAMPLEX");
        assert!(streamed("etc/app.conf", &clean, 65536, 4096).is_none());
        let mut edge = b"#".repeat(65536 + CHUNK - 20);
        edge.extend_from_slice(b"AKIAIOSFODNN7EXAMPLEZZZ");
        assert!(streamed("etc/app.conf", &edge, 65536, 1 << 20).is_none());
    }
}
