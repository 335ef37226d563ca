//! Image references named inside archives and layouts (`RepoTags`,
//! `io.containerd.image.name`, `--image` selectors), read as the registry
//! client reads references — one type, oci-client's, with Docker's
//! normalisation — so that `app`, `docker.io/library/app:latest` and a
//! pulled `docker://app` name the same thing everywhere.

pub use oci_client::Reference;

/// A reference, or `None` for text that is not one.
pub fn parse(s: &str) -> Option<Reference> {
    let s = s.trim();
    if s.is_empty() || s.contains(char::is_whitespace) {
        return None;
    }
    s.parse().ok()
}

/// `host/repo`, as waivers and reports name repositories.
pub fn repository(r: &Reference) -> String {
    crate::registry::repository_of(r)
}

/// Whether `want` (what the user asked for) selects `have`: the same
/// repository, and the same tag and digest where `want` names them.
pub fn selects(want: &Reference, have: &Reference) -> bool {
    repository(want) == repository(have)
        && (want.tag().is_none() || want.tag() == have.tag())
        && (want.digest().is_none() || want.digest() == have.digest())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_docker() {
        let r = |s| parse(s).unwrap().to_string();
        assert_eq!(r("test_image_1"), "docker.io/library/test_image_1:latest");
        assert_eq!(r("index.docker.io/library/test_image_1:latest"), "docker.io/library/test_image_1:latest");
        assert_eq!(r("acme/app:v1"), "docker.io/acme/app:v1");
        assert_eq!(r("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(repository(&parse("Registry.ACME.corp/team/app:1").unwrap()), "registry.acme.corp/team/app");
        assert_eq!(repository(&parse("app").unwrap()), "docker.io/library/app");
        let pinned = format!("ghcr.io/acme/app@sha256:{}", "a".repeat(64));
        assert_eq!(r(&pinned), pinned);
        assert!(parse("").is_none());
        assert!(parse("a b").is_none());
        assert!(selects(&parse("app").unwrap(), &parse("docker.io/library/app:latest").unwrap()));
        assert!(!selects(&parse("app:v2").unwrap(), &parse("app:v1").unwrap()));
    }
}
