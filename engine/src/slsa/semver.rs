//! Go-style semantic versions (`v1`, `v1.2`, `v1.2.3-rc.1+build`), the
//! form slsa-github-generator's tags and slsa-verifier's
//! `--source-versioned-tag` use: a `v` prefix, shorthand `vMAJOR[.MINOR]`
//! allowed, pre-release and build only on full versions.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version<'a> {
    /// The numeric components as written (1 to 3 of them).
    pub parts: Vec<&'a str>,
    pub prerelease: Option<&'a str>,
    pub build: Option<&'a str>,
}

fn numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

fn idents(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

pub fn parse(v: &str) -> Option<Version<'_>> {
    let rest = v.strip_prefix('v')?;
    let (rest, build) = match rest.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (rest, None),
    };
    let (core, prerelease) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || !parts.iter().all(|p| numeric(p)) {
        return None;
    }
    if (prerelease.is_some() || build.is_some()) && parts.len() != 3 {
        return None;
    }
    if prerelease.is_some_and(|p| !idents(p)) || build.is_some_and(|b| !idents(b)) {
        return None;
    }
    Some(Version { parts, prerelease, build })
}

impl Version<'_> {
    /// The component at `i` (0 = major), `0` when shorthand left it out.
    pub fn component(&self, i: usize) -> &str {
        self.parts.get(i).copied().unwrap_or("0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_semver_shapes() {
        assert_eq!(parse("v14").unwrap().component(1), "0");
        assert_eq!(parse("v13.0.30").unwrap().parts, vec!["13", "0", "30"]);
        assert!(parse("v1.2.3-rc.1+b").is_some());
        assert!(parse("v1.2-rc").is_none());
        assert!(parse("1.2.3").is_none());
        assert!(parse("v01").is_none());
        assert!(parse("v1.2.3.4").is_none());
    }
}
