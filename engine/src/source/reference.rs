//! Docker-style image references (`app:v1`, `ghcr.io/acme/app@sha256:...`),
//! normalised the way the Docker CLI does so that `app` and
//! `docker.io/library/app:latest` name the same thing.

/// A normalised `repository[:tag]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    pub fn parse(s: &str) -> Option<Reference> {
        let s = s.trim();
        if s.is_empty() || s.contains(char::is_whitespace) {
            return None;
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (s, None),
        };
        // A tag is after the last ':' that comes after the last '/'.
        let slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_string())),
            None => (rest, None),
        };
        if name.is_empty() {
            return None;
        }
        let first = name.split('/').next().unwrap_or("");
        let has_domain = name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
        let repository = if has_domain {
            name.to_string()
        } else if name.contains('/') {
            format!("docker.io/{name}")
        } else {
            format!("docker.io/library/{name}")
        };
        let repository = repository.replacen("index.docker.io/", "docker.io/", 1);
        let tag = if tag.is_none() && digest.is_none() { Some("latest".to_string()) } else { tag };
        Some(Reference { repository, tag, digest })
    }

    /// Whether `self` (what the user asked for) selects `other`.
    pub fn selects(&self, other: &Reference) -> bool {
        self.repository == other.repository
            && (self.tag.is_none() || self.tag == other.tag)
            && (self.digest.is_none() || self.digest == other.digest)
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Reference;

    #[test]
    fn normalises_like_docker() {
        let r = |s| Reference::parse(s).unwrap().to_string();
        assert_eq!(r("test_image_1"), "docker.io/library/test_image_1:latest");
        assert_eq!(r("index.docker.io/library/test_image_1:latest"), "docker.io/library/test_image_1:latest");
        assert_eq!(r("acme/app:v1"), "docker.io/acme/app:v1");
        assert_eq!(r("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(r("ghcr.io/acme/app@sha256:abc"), "ghcr.io/acme/app@sha256:abc");
        assert!(Reference::parse("").is_none());
    }
}
