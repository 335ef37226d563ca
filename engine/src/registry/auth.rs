//! Registry credentials, found where the container tools keep them: a
//! docker `config.json` (`$DOCKER_CONFIG`, `~/.docker`) or a containers
//! `auth.json` (`$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers`), as an
//! inline `auth` (base64 `user:password`), `username`/`password`, an
//! `identitytoken`, or a credential helper (`credsStore`, `credHelpers`).
//! Nothing found means anonymous pulls (the registry's bearer-token dance is
//! oci-client's).

use oci_client::secrets::RegistryAuth;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// Credentials for every registry, read once.
#[derive(Debug, Default)]
pub struct Credentials {
    file: Option<PathBuf>,
    config: ConfigFile,
}

impl Credentials {
    /// Reads `path`, or the first of the usual places that exists. A file
    /// that exists but cannot be read is an error (silently pulling
    /// anonymously would hide the mistake).
    pub fn load(path: Option<&Path>) -> Result<Credentials, String> {
        let file = match path {
            Some(p) => Some(p.to_path_buf()),
            None => default_files().into_iter().find(|p| p.is_file()),
        };
        let Some(file) = file else {
            return Ok(Credentials::default());
        };
        let text = std::fs::read(&file).map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
        Credentials::parse(&text)
            .map(|c| Credentials { file: Some(file.clone()), ..c })
            .map_err(|e| format!("{}: {e}", file.display()))
    }

    /// Reads a config.json / auth.json's text.
    pub fn parse(text: &[u8]) -> Result<Credentials, String> {
        let config: ConfigFile =
            serde_json::from_slice(text).map_err(|e| format!("not a docker config.json / auth.json: {e}"))?;
        Ok(Credentials { file: None, config })
    }

    /// Whether asking for credentials may run a credential helper program.
    pub fn names_helpers(&self) -> bool {
        self.config.creds_store.is_some() || !self.config.cred_helpers.is_empty()
    }

    /// The auth to use for `registry` (`host[:port]`).
    pub fn for_registry(&self, registry: &str) -> Result<RegistryAuth, String> {
        let keys = registry_keys(registry);
        if let Some(helper) = keys.iter().find_map(|k| self.config.cred_helpers.get(k)) {
            return helper_get(helper, registry);
        }
        let entry = self.config.auths.iter().find(|(k, _)| keys.iter().any(|want| normalise(k) == *want));
        if let Some((key, e)) = entry {
            let where_ = || {
                format!("{}: auths.\"{key}\"", self.file.as_ref().map(|f| f.display().to_string()).unwrap_or_default())
            };
            if let Some(token) = &e.identitytoken {
                return Ok(RegistryAuth::Bearer(token.clone()));
            }
            if let (Some(u), Some(p)) = (&e.username, &e.password) {
                return Ok(RegistryAuth::Basic(u.clone(), p.clone()));
            }
            if let Some(auth) = &e.auth {
                use base64::Engine as _;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .map_err(|e| format!("{}.auth: not base64: {e}", where_()))?;
                let text = String::from_utf8(decoded).map_err(|_| format!("{}.auth: not UTF-8", where_()))?;
                let (u, p) = text
                    .split_once(':')
                    .ok_or_else(|| format!("{}.auth: expected base64 of `user:password`", where_()))?;
                return Ok(RegistryAuth::Basic(u.to_string(), p.to_string()));
            }
        }
        if let Some(store) = &self.config.creds_store {
            return helper_get(store, registry).or(Ok(RegistryAuth::Anonymous));
        }
        Ok(RegistryAuth::Anonymous)
    }
}

fn default_files() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE") {
        v.push(PathBuf::from(f));
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        v.push(PathBuf::from(d).join("config.json"));
    }
    if let Some(home) = dirs::home_dir() {
        v.push(home.join(".docker/config.json"));
    }
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR") {
        v.push(PathBuf::from(run).join("containers/auth.json"));
    }
    v
}

/// The keys a registry may be stored under (Docker Hub has several names).
fn registry_keys(registry: &str) -> Vec<String> {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            vec![
                "index.docker.io/v1".into(),
                "docker.io".into(),
                "index.docker.io".into(),
                "registry-1.docker.io".into(),
            ]
        }
        r => vec![r.to_string()],
    }
}

/// `https://host:port/v1/` → `host:port/v1` (how config files spell keys varies).
fn normalise(key: &str) -> String {
    let k = key.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
    k.to_string()
}

/// Asks `docker-credential-<helper>` (the credential-helper protocol: the
/// server on stdin, `{"Username", "Secret"}` on stdout).
fn helper_get(helper: &str, registry: &str) -> Result<RegistryAuth, String> {
    use std::io::Write;
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("credential helper {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| format!("credential helper {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "credential helper {program} has no credentials for {registry}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Reply {
        username: String,
        secret: String,
    }
    let r: Reply =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("credential helper {program}: bad reply: {e}"))?;
    Ok(if r.username == "<token>" { RegistryAuth::Bearer(r.secret) } else { RegistryAuth::Basic(r.username, r.secret) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(json: &str) -> Credentials {
        Credentials { file: Some("config.json".into()), config: serde_json::from_str(json).unwrap() }
    }

    fn basic(a: RegistryAuth) -> Option<(String, String)> {
        match a {
            RegistryAuth::Basic(u, p) => Some((u, p)),
            _ => None,
        }
    }

    #[test]
    fn inline_auth_and_fields() {
        let c = creds(
            r#"{"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
                          "127.0.0.1:5000": {"username": "u", "password": "p:w"},
                          "ghcr.io": {"identitytoken": "tok"}}}"#,
        );
        assert_eq!(basic(c.for_registry("docker.io").unwrap()), Some(("user".into(), "pass".into())));
        assert_eq!(basic(c.for_registry("127.0.0.1:5000").unwrap()), Some(("u".into(), "p:w".into())));
        assert!(matches!(c.for_registry("ghcr.io").unwrap(), RegistryAuth::Bearer(t) if t == "tok"));
        assert!(matches!(c.for_registry("quay.io").unwrap(), RegistryAuth::Anonymous));
    }

    #[test]
    fn malformed_auth_is_named() {
        let c = creds(r#"{"auths": {"r.example": {"auth": "bm9jb2xvbg=="}}}"#);
        let e = c.for_registry("r.example").unwrap_err();
        assert!(e.contains("auths.\"r.example\".auth") && e.contains("user:password"), "{e}");
        let c = creds(r#"{"auths": {"r.example": {"auth": "***"}}}"#);
        assert!(c.for_registry("r.example").unwrap_err().contains("not base64"));
    }

    #[test]
    fn missing_helper_is_an_error() {
        let c = creds(r#"{"credHelpers": {"r.example": "portcullis-no-such-helper"}}"#);
        let e = c.for_registry("r.example").unwrap_err();
        assert!(e.contains("docker-credential-portcullis-no-such-helper"), "{e}");
    }
}
