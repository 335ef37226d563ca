//! Wildcard patterns matched case-sensitively, for values whose case is
//! part of their meaning: git refs (`refs/heads/Main` and `refs/heads/main`
//! are two branches, and whoever can push one need not be able to push the
//! other) and builder ids (a workflow file at a ref, both case-sensitive in
//! git). The SDK's `wildcard_match` folds ASCII case, which suits
//! environment-variable names and repository names on GitHub, not these;
//! its `wildcard_match_exact` does not.

/// Whether `text` matches `pattern` exactly, where `*` matches any run of
/// bytes and `?` one byte; every other byte must be equal, case included.
pub fn matches(pattern: &str, text: &str) -> bool {
    portcullis_sdk::wildcard_match_exact(pattern, text)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn case_is_part_of_a_ref() {
        assert!(matches("refs/heads/main", "refs/heads/main"));
        assert!(!matches("refs/heads/main", "refs/heads/Main"));
        assert!(!matches("refs/heads/Main", "refs/heads/main"));
        assert!(matches("refs/tags/v*", "refs/tags/v1.2.3"));
        assert!(!matches("refs/tags/v*", "refs/tags/V1.2.3"));
        assert!(!matches("refs/tags/v*", "refs/TAGS/v1.2.3"));
        assert!(matches("refs/*/main", "refs/heads/main"));
        assert!(matches("refs/heads/?ain", "refs/heads/main"));
        assert!(!matches("refs/heads/main", "refs/heads/main2"));
        assert!(!matches("refs/heads/main", ""));
        assert!(matches("*", ""));
    }
}
