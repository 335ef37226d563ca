//! The `[gate]` table of a policy: which repositories the push gate judges
//! by it.
//!
//! ```toml
//! [gate]
//! repositories = ["registry.acme.corp/payments/**"]   # default: every repository
//! ```
//!
//! With several policies loaded (`gate --policy A --policy B`), a push is
//! judged by every policy bound to its repository and tagged only when each
//! admits it; a repository no policy is bound to is refused. Patterns are
//! globs on the repository's full name (`HOST/PATH`, under the gate's
//! `--name`), as waivers match: `*` stays within a segment, `**` crosses.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GateCfg {
    #[serde(default)]
    pub repositories: Vec<Spanned<String>>,
}

/// The settings, checked when the policy loads.
#[derive(Debug, Clone, Default)]
pub struct GateSettings {
    /// Empty: every repository.
    pub repositories: Vec<(String, globset::GlobMatcher)>,
}

/// A repository glob, as the gate and waivers match them.
pub fn repository_glob(pattern: &str) -> Result<globset::GlobMatcher, String> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("invalid repository glob `{pattern}`: {e}"))
}

impl GateSettings {
    /// Whether the gate judges pushes to `repository` (`HOST/PATH`) by this policy.
    pub fn binds(&self, repository: &str) -> bool {
        self.repositories.is_empty() || self.repositories.iter().any(|(_, g)| g.is_match(repository))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_to_the_repositories_it_names() {
        let s = GateSettings {
            repositories: vec![("r.example/payments/**".into(), repository_glob("r.example/payments/**").unwrap())],
        };
        assert!(s.binds("r.example/payments/api"));
        assert!(s.binds("r.example/payments/team/api"));
        assert!(!s.binds("r.example/shop/api"));
        assert!(!s.binds("evil.example/r.example/payments/api"));
        assert!(GateSettings::default().binds("anything/at/all"));
    }
}
