//! Secrets and VCS metadata shipped in layers: recognised by path (private
//! key file names, dotenv files, credential stores, `.git`) and by the first
//! bytes of small files (PEM private keys, npm tokens, docker registry auths,
//! AWS access key IDs). Values are never copied into findings.

use super::FileKind;

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub path: String,
    /// `private-key`, `dotenv`, `credentials`, `cloud-credentials`,
    /// `npm-token`, `docker-auth`, `aws-access-key`, `vcs`.
    pub kind: &'static str,
    pub detail: String,
}

fn hit(path: &str, kind: &'static str, detail: impl Into<String>) -> Option<Hit> {
    Some(Hit { path: path.to_string(), kind, detail: detail.into() })
}

/// Recognises a secret by its path alone.
pub fn by_path(path: &str, kind: FileKind) -> Option<Hit> {
    let base = path.rsplit('/').next().unwrap_or(path);
    if base == ".git" && matches!(kind, FileKind::Directory | FileKind::Regular) {
        return hit(path, "vcs", "git metadata (history, remotes, possibly credentials)");
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

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

fn has_aws_key(head: &[u8]) -> bool {
    let mut from = 0;
    while let Some(i) =
        memchr::memmem::find(&head[from..], b"AKIA").or_else(|| memchr::memmem::find(&head[from..], b"ASIA"))
    {
        let start = from + i;
        let cand = &head[start..(start + 20).min(head.len())];
        if cand.len() == 20 && cand[4..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            let before_ok = start == 0 || !head[start - 1].is_ascii_alphanumeric();
            let after_ok = head.get(start + 20).is_none_or(|c| !c.is_ascii_alphanumeric());
            if before_ok && after_ok {
                return true;
            }
        }
        from = start + 4;
    }
    false
}

/// Recognises a secret by path or by the first bytes of a regular file.
pub fn sniff(path: &str, head: &[u8], size: u64) -> Option<Hit> {
    if let Some(h) = by_path(path, FileKind::Regular) {
        return Some(h);
    }
    let base = path.rsplit('/').next().unwrap_or(path);
    let text = !head[..head.len().min(8192)].contains(&0);
    if !text {
        return None;
    }
    if contains(head, b"-----BEGIN ")
        && contains(head, b"PRIVATE KEY-----")
        && !contains(head, b"ENCRYPTED PRIVATE KEY")
    {
        return hit(path, "private-key", "PEM private key");
    }
    if base == ".npmrc" && (contains(head, b"_authToken") || contains(head, b"_auth=") || contains(head, b"_password"))
    {
        return hit(path, "npm-token", "npm registry token");
    }
    if base == "config.json" && path.contains(".docker/") && contains(head, b"\"auths\"") && contains(head, b"\"auth\"")
    {
        return hit(path, "docker-auth", "docker registry credentials");
    }
    if size <= (1 << 20) && has_aws_key(head) {
        return hit(path, "aws-access-key", "AWS access key ID");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
