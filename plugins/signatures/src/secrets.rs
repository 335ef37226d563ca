//! SC-SLSA-004: secrets in a build's external parameters.
//!
//! Provenance is published with the image, so a credential passed as a
//! build parameter is a leaked credential. Parameters reach the build in the
//! encodings build tools really use, and each is looked through:
//! - as written: credential shapes (GitHub, GitLab, Slack, AWS, private
//!   keys, JSON Web Tokens) anywhere in the value, URL userinfo
//!   (`https://user:token@host/…`), `Authorization` header values and
//!   `Bearer`/`Basic` credentials, `NAME=VALUE` assignments of secret-named
//!   variables (build args, query strings, env lists), and docker config
//!   JSON with registry credentials (`{"auths":{HOST:{"auth":…}}}`);
//! - percent-decoded (`api%5Fkey=…`, `%41WS_SECRET…`), and the parameter's
//!   own name too;
//! - base64-decoded, whole or word by word (a docker config passed as
//!   `.dockerconfigjson`, a `user:password` pair).
//!
//! Messages say what was found and where, never the secret itself: the
//! report is shared with everyone who reads the verdict.

use portcullis_sdk::wildcard_match;
use regex_lite::Regex;
use std::sync::OnceLock;

/// Credential shapes: a prefix, the least number of characters after it,
/// and what it is.
const TOKEN_PREFIXES: &[(&str, usize, &str)] = &[
    ("ghp_", 20, "GitHub personal access token"),
    ("gho_", 20, "GitHub OAuth token"),
    ("ghs_", 20, "GitHub app token"),
    ("ghu_", 20, "GitHub user-to-server token"),
    ("ghr_", 20, "GitHub refresh token"),
    ("github_pat_", 20, "GitHub fine-grained token"),
    ("glpat-", 16, "GitLab token"),
    ("xoxb-", 10, "Slack bot token"),
    ("xoxp-", 10, "Slack user token"),
    ("AKIA", 16, "AWS access key id"),
    ("ASIA", 16, "AWS temporary access key id"),
];

/// Names of parameters (or variables inside one) that hold secrets.
const SECRET_NAMES: &[&str] = &[
    "*token*",
    "*password*",
    "*passwd*",
    "*secret*",
    "*apikey*",
    "*api_key*",
    "*api-key*",
    "*private*key*",
    "*credential*",
    "*authorization*",
    "*dockerconfig*",
];

/// Values that stand for a secret without being one: masked output and
/// references resolved elsewhere (`${{ secrets.X }}`, `$VAR`).
pub(crate) fn masked(v: &str) -> bool {
    let t = v.trim().trim_matches(|c| c == '"' || c == '\'');
    let lower = t.to_ascii_lowercase();
    t.is_empty()
        || t.chars().all(|c| c == '*' || c == 'x' || c == 'X')
        || ["redacted", "<redacted>", "[redacted]", "***redacted***", "true", "false", "null"].contains(&lower.as_str())
        || t.starts_with('$')
}

/// Whether a parameter (by its JSON pointer) or a variable is named like a
/// secret. The last segment that is not an array index names it.
pub(crate) fn secret_name(pointer: &str) -> bool {
    let name = pointer.rsplit('/').find(|s| !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit())).unwrap_or("");
    SECRET_NAMES.iter().any(|p| wildcard_match(p, name))
}

/// `%XX` sequences decoded (invalid ones kept as written).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JSON pointer segment as the name it was (`~1` is `/`, `~0` is `~`).
fn unescape_segment(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}

/// Text that base64 (standard or URL-safe, padded or not) decodes to, when
/// it is printable text: binary (a digest, random bytes) says nothing.
fn base64_text(s: &str) -> Option<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let t = s.trim().trim_end_matches('=');
    let base64ish = |c: char| c.is_ascii_alphanumeric() || "+/-_".contains(c);
    if t.len() < 12 || !t.chars().all(base64ish) {
        return None;
    }
    let bytes = STANDARD_NO_PAD.decode(t).or_else(|_| URL_SAFE_NO_PAD.decode(t)).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let printable = text.chars().all(|c| !c.is_control() || "\n\r\t".contains(c));
    printable.then_some(text)
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("a valid pattern"))
}

/// Credential shapes anywhere in `t`, each at the start of a word.
fn token_shapes(t: &str, found: &mut Vec<String>) {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    for (prefix, min, what) in TOKEN_PREFIXES {
        for (at, _) in t.match_indices(prefix) {
            let starts_word = t[..at].chars().next_back().is_none_or(|c| !word(c));
            let rest = t[at + prefix.len()..].chars().take_while(|c| word(*c)).count();
            if starts_word && rest >= *min {
                found.push(format!("holds a {what}"));
                break;
            }
        }
    }
    if t.contains("-----BEGIN") && t.contains("PRIVATE KEY") {
        found.push("holds a PEM private key".into());
    }
    static JWT: OnceLock<Regex> = OnceLock::new();
    if regex(&JWT, r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*").is_match(t) {
        found.push("holds a JSON Web Token".into());
    }
}

/// Passwords (or tokens) in the userinfo of URLs in `t`.
fn url_userinfo(t: &str, found: &mut Vec<String>) {
    static URL: OnceLock<Regex> = OnceLock::new();
    let re = regex(&URL, r#"(?i)\b[a-z][a-z0-9+.-]*://([^/?#\s@"'<>]+)@([^/?#\s:"'<>]+)"#);
    for c in re.captures_iter(t) {
        let (userinfo, host) = (&c[1], &c[2]);
        let secret = match userinfo.split_once(':') {
            Some((_, password)) => !masked(&percent_decode(password)),
            // A user name alone is no secret, unless it is a token.
            None => userinfo.len() >= 20 && userinfo.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        };
        if secret {
            found.push(format!("carries credentials in the userinfo of a URL for {host}"));
        }
    }
}

/// `Authorization` header values, and `Bearer`/`Basic` credentials.
fn authorization(t: &str, found: &mut Vec<String>) {
    static HEADER: OnceLock<Regex> = OnceLock::new();
    static BEARER: OnceLock<Regex> = OnceLock::new();
    static BASIC: OnceLock<Regex> = OnceLock::new();
    let header = regex(
        &HEADER,
        r#"(?i)\bauthorization["']?\s*[:=]\s*["']?(?:(bearer|basic|token|digest|negotiate|aws4-hmac-sha256)\s+)?([^\s"',;]+)"#,
    );
    for c in header.captures_iter(t) {
        let credential = &c[2];
        // A scheme with nothing after it (`Authorization: Bearer`) says no secret.
        let scheme_only =
            c.get(1).is_none() && ["bearer", "basic", "token"].contains(&credential.to_ascii_lowercase().as_str());
        if !masked(credential) && !scheme_only && credential.len() >= 4 {
            let scheme = c.get(1).map_or(String::new(), |s| format!(" ({})", s.as_str()));
            found.push(format!("carries an Authorization header value{scheme}"));
            return;
        }
    }
    // Outside a header, only what looks like a credential: prose such as
    // "Bearer authentication" is not one.
    let bearer = regex(&BEARER, r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]+=*)");
    if bearer.captures_iter(t).any(|c| c[1].len() >= 16 && c[1].chars().any(|c| c.is_ascii_digit())) {
        found.push("carries a Bearer token".into());
    }
    let basic = regex(&BASIC, r"(?i)\bbasic\s+([A-Za-z0-9+/]+=*)");
    if basic.captures_iter(t).any(|c| base64_text(&c[1]).is_some_and(|pair| pair.contains(':'))) {
        found.push("carries Basic credentials (user:password)".into());
    }
}

/// `NAME=VALUE` assignments of secret-named variables (build args, query
/// strings, env lists), names percent-decoded.
fn assignments(t: &str, found: &mut Vec<String>) {
    static ASSIGN: OnceLock<Regex> = OnceLock::new();
    let re = regex(&ASSIGN, r#"([A-Za-z0-9_.%-]+)=("[^"]*"|'[^']*'|[^\s&;,"']+)"#);
    for c in re.captures_iter(t) {
        let name = percent_decode(&c[1]);
        let value = percent_decode(&c[2]);
        // A URL is where a secret is fetched from (`TOKEN_URL=https://…`), unless it carries one.
        let url = value.contains("://");
        if secret_name(&name) && !masked(&value) && value.trim_matches(|c| c == '"' || c == '\'').len() >= 4 && !url {
            let encoded = if name != c[1] { " (URL-encoded name)" } else { "" };
            found.push(format!("sets `{name}`{encoded}"));
        }
    }
}

/// Registries a docker config JSON in `t` holds credentials for.
fn docker_config(t: &str, found: &mut Vec<String>) {
    let t = t.trim();
    if !(t.starts_with('{') && t.contains("auths")) {
        return;
    }
    let Ok(v) = serde_json::from_str::<serde_json::Value>(t) else { return };
    let Some(auths) = v.get("auths").and_then(|a| a.as_object()) else { return };
    let with_credentials: Vec<&str> = auths
        .iter()
        .filter(|(_, e)| {
            ["auth", "password", "identitytoken", "registrytoken"]
                .iter()
                .any(|k| e.get(k).and_then(|s| s.as_str()).is_some_and(|s| !masked(s)))
        })
        .map(|(host, _)| host.as_str())
        .collect();
    if !with_credentials.is_empty() {
        found.push(format!("holds a docker config with credentials for {}", with_credentials.join(", ")));
    }
}

/// Every detector on one form of the value.
fn look(t: &str, found: &mut Vec<String>) {
    token_shapes(t, found);
    url_userinfo(t, found);
    authorization(t, found);
    assignments(t, found);
    docker_config(t, found);
}

/// The most of a value looked at: a parameter is not a file.
const MAX_VALUE: usize = 64 * 1024;

/// What makes parameter `pointer` = `value` a secret, each said with the
/// encoding it was found in; empty when nothing does.
pub(crate) fn leaks(pointer: &str, value: &str) -> Vec<String> {
    let value = match value.char_indices().nth(MAX_VALUE) {
        Some((end, _)) => &value[..end],
        None => value,
    };
    let mut found = Vec::new();
    // What an encoded form adds, said with its encoding (once: a secret
    // seen as written is not repeated for each form it also shows in).
    let mut add = |form: &str, encoding: &str| {
        let mut more = Vec::new();
        look(form, &mut more);
        for m in more {
            if !found.iter().any(|f: &String| f.starts_with(&m)) {
                found.push(format!("{m}{encoding}"));
            }
        }
    };
    add(value, "");
    // Percent-encoding, once or twice over.
    let once = percent_decode(value);
    let twice = percent_decode(&once);
    for (decoded, previous) in [(&once, value), (&twice, once.as_str())] {
        if decoded != previous {
            add(decoded, " (URL-encoded)");
        }
    }
    // Base64: the whole value, or its words (`--config eyJhdXRocyI6…`).
    let whole = base64_text(value.trim());
    let words = value.split(|c: char| c.is_whitespace() || "\"'=,;:".contains(c)).filter_map(base64_text);
    for decoded in whole.into_iter().chain(words).take(16) {
        add(&decoded, " (base64)");
    }
    // Named like a secret, as written or percent-decoded, and not masked;
    // a URL there says where a secret comes from (`token_url`), unless its
    // userinfo carries one (found above).
    if found.is_empty() && !masked(value) && !value.contains("://") {
        let last = pointer.rsplit('/').next().unwrap_or(pointer);
        if secret_name(pointer) {
            found.push("is named like a secret and is not masked".into());
        } else if secret_name(&percent_decode(&unescape_segment(last))) {
            found.push("is named like a secret (URL-encoded name) and is not masked".into());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    /// A token-shaped value made here: `prefix` and filler, no real credential.
    fn fake(prefix: &str) -> String {
        format!("{prefix}{}", "a1B2c3D4e5".repeat(4))
    }

    fn flags(pointer: &str, value: &str, want: &str) {
        let got = leaks(pointer, value);
        assert!(got.iter().any(|m| m.contains(want)), "{pointer} = {value}: {got:?}, wanted `{want}`");
        assert!(got.iter().all(|m| !m.contains(value) || value.len() < 4), "a message repeats the secret: {got:?}");
    }

    fn benign(pointer: &str, value: &str) {
        assert_eq!(leaks(pointer, value), Vec::<String>::new(), "{pointer} = {value}");
    }

    #[test]
    fn names_and_shapes_as_before() {
        assert!(secret_name("/inputs/github-token"));
        assert!(secret_name("/inputs/DB_PASSWORD"));
        assert!(secret_name("/inputs/secrets/0"));
        assert!(!secret_name("/inputs/username"));
        assert!(masked("***") && masked("<REDACTED>") && masked("${{ secrets.TOKEN }}") && masked("true"));
        assert!(!masked("hunter2"));
        flags("/inputs/password", "hunter2", "named like a secret");
        flags("/inputs/x", &fake("ghp_"), "GitHub personal access token");
        flags("/inputs/x", &format!("AKIA{}", "ABCDEFGHIJ234567"), "AWS access key id");
        flags("/inputs/key", "-----BEGIN EC PRIVATE KEY-----\nMHc...\n-----END EC PRIVATE KEY-----", "PEM private key");
        benign("/inputs/password", "***");
        benign("/inputs/token", "${{ secrets.REGISTRY_TOKEN }}");
        benign("/inputs/sign", "true");
        benign("/inputs/token-url", "https://auth.acme.test/oauth/token");
    }

    #[test]
    fn credentials_in_url_userinfo() {
        flags(
            "/inputs/repo",
            "https://builder:s3cr3t-pass@git.acme.test/app.git",
            "userinfo of a URL for git.acme.test",
        );
        flags(
            "/inputs/repo",
            &format!("https://x-access-token:{}@github.com/acme/app", fake("ghs_")),
            "GitHub app token",
        );
        flags("/inputs/repo", "git clone https://oauth2:abcdef123456@gitlab.acme.test/app", "userinfo");
        flags(
            "/inputs/mirror",
            &format!("https://{}@github.com/acme/app", "0123456789abcdef0123456789abcdef01234567"),
            "userinfo",
        );
        benign("/inputs/repo", "https://github.com/acme/app");
        benign("/inputs/repo", "ssh://git@github.com/acme/app.git");
        benign("/inputs/repo", "git@github.com:acme/app.git");
        benign("/inputs/repo", "https://x-access-token:***@github.com/acme/app");
        benign("/inputs/repo", "https://user:${TOKEN}@github.com/acme/app");
    }

    #[test]
    fn authorization_values() {
        flags("/inputs/curl-args", "-H 'Authorization: Bearer abc.def.ghi123'", "Authorization header value (Bearer)");
        flags("/inputs/headers", "Authorization: Basic dXNlcjpwYXNz", "Authorization header value (Basic)");
        flags("/inputs/headers", &format!("authorization={}", fake("")), "Authorization header value");
        flags("/inputs/extra", "--header=\"bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0\"", "Bearer token");
        flags("/inputs/extra", &format!("curl -u x {}", "Basic YWxpY2U6czNjcjN0"), "Basic credentials");
        flags("/inputs/authorization", "Token abc123def456", "named like a secret");
        benign("/inputs/description", "Bearer authentication with Basic fallback");
        benign("/inputs/headers", "Authorization: ***");
        benign("/inputs/headers", "Authorization: Bearer ${TOKEN}");
    }

    #[test]
    fn docker_configs_plain_and_base64() {
        let config = format!(r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}}}}}}"#, b64("builder:s3cr3t"));
        flags("/inputs/config", &config, "docker config with credentials for ghcr.io");
        flags("/inputs/config", &b64(&config), "docker config with credentials for ghcr.io (base64)");
        flags("/inputs/args", &format!("--docker-config {}", b64(&config)), "ghcr.io (base64)");
        let token = r#"{"auths":{"registry.acme.test":{"identitytoken":"opaque-refresh-token"}}}"#;
        flags("/inputs/config", &b64(token), "registry.acme.test (base64)");
        benign("/inputs/config", r#"{"auths":{"ghcr.io":{}}}"#);
        benign("/inputs/config", &b64(r#"{"auths":{"ghcr.io":{"auth":""}}}"#));
        benign("/inputs/config", &b64(r#"{"credsStore":"desktop"}"#));
    }

    #[test]
    fn url_encoded_names_and_values() {
        flags("/inputs/query", "region=eu&api%5Fkey=0123456789abcdef", "sets `api_key` (URL-encoded");
        flags("/inputs/env", "%41WS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCY", "sets `AWS_SECRET_ACCESS_KEY`");
        flags(
            "/inputs/url",
            "https%3A%2F%2Fci%3As3cr3tpass%40git.acme.test%2Fapp",
            "userinfo of a URL for git.acme.test (URL-encoded)",
        );
        flags("/inputs/x", &fake("ghp%5F"), "GitHub personal access token (URL-encoded)");
        flags("/inputs/x", &fake("ghp%255F"), "GitHub personal access token (URL-encoded)");
        flags("/inputs/api%5Fkey", "0123456789abcdef", "named like a secret (URL-encoded name)");
        flags("/inputs/build-args", "VERSION=1.2.3 NPM_TOKEN=abcd1234efgh", "sets `NPM_TOKEN`");
        benign("/inputs/query", "region=eu&page=2&token_url=https://auth.acme.test/token");
        benign("/inputs/build-args", "VERSION=1.2.3 GITHUB_TOKEN=***");
        benign("/inputs/name", "100%25 pure");
    }

    #[test]
    fn what_build_parameters_usually_are_is_benign() {
        for (p, v) in [
            ("/workflow/ref", "refs/tags/v1.2.3"),
            ("/workflow/repository", "https://github.com/acme/app"),
            ("/workflow/path", ".github/workflows/release.yml"),
            (
                "/inputs/image",
                "ghcr.io/acme/app@sha256:8af0ade1c5ac76e12c178b43f40acc1762dbc137e167710ae240cf529d5550aa",
            ),
            ("/inputs/digest", "sha256:8af0ade1c5ac76e12c178b43f40acc1762dbc137e167710ae240cf529d5550aa"),
            (
                "/inputs/base64-subjects",
                &b64("8af0ade1c5ac76e12c178b43f40acc1762dbc137e167710ae240cf529d5550aa  app-linux-amd64\n"),
            ),
            ("/inputs/go-version", "1.22"),
            ("/inputs/compile-generator", "false"),
            ("/inputs/upload-assets", "true"),
            ("/inputs/commit", "5c3b2ebd6d2f1a9e1b7c4d3f2a1b0c9d8e7f6a5b"),
            ("/inputs/evaluated-envs", "VERSION_LDFLAGS:-X main.Version=1.0.0"),
            ("/buildArgs/BUILDKIT_INLINE_CACHE", "1"),
            ("/inputs/registry-username", "acme-bot"),
            ("/vars/KEY_ID", "release-2024"),
        ] {
            benign(p, v);
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("api%5Fkey"), "api_key");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(unescape_segment("a~1b~0c"), "a/b~c");
    }
}
