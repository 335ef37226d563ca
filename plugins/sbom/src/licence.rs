//! Licences by meaning, for SC-SBOM-003.
//!
//! The SPDX licence list deprecated the GNU identifiers that did not say
//! whether later versions are allowed — `GPL-2.0`, `LGPL-2.1+`, `AGPL-3.0`,
//! `GFDL-1.3`, `GPL-2.0-with-classpath-exception` — for the `-only` and
//! `-or-later` ones. Older SBOMs (and tools that still write them) carry the
//! deprecated ids, so each is read as the id that replaced it: the bare id
//! as `-only`, the `+` form as `-or-later` (the `spdx` crate knows which ids
//! are deprecated GNU ones and what their replacements are called). The
//! `-with-…-exception` ids mean their licence with an exception, and the
//! lists name licences, so they count as the licence. The policy's allow and
//! deny lists are read the same way: `deny = ["GPL-2.0-only"]` catches a
//! component declaring `GPL-2.0`, and `allow = ["GPL-2.0"]` admits
//! `GPL-2.0-only`.

/// Expressions in policy lists: deprecated ids and `+` on GNU ids are
/// accepted (they are read by meaning), but not the imprecise names LAX
/// parsing maps (`apache2`): a list says exactly what it means.
const LIST_MODE: spdx::ParseMode = spdx::ParseMode {
    allow_slash_as_or_operator: false,
    allow_imprecise_license_names: false,
    allow_postfix_plus_on_gpl: true,
    allow_deprecated: true,
    allow_unknown: false,
};

/// The identifier a licence requirement means, deprecated GNU ids replaced.
pub fn meaning(req: &spdx::LicenseReq) -> String {
    match &req.license {
        spdx::LicenseItem::Spdx { id, or_later } => current(*id, *or_later).to_string(),
        spdx::LicenseItem::Other(o) => match &o.doc_ref {
            Some(doc) => format!("DocumentRef-{doc}:LicenseRef-{}", o.lic_ref),
            None => format!("LicenseRef-{}", o.lic_ref),
        },
    }
}

/// The current name of a licence id: a deprecated GNU id's `-only` or
/// `-or-later` replacement, any other id itself.
fn current(id: spdx::LicenseId, or_later: bool) -> &'static str {
    if !(id.is_deprecated() && id.is_gnu()) {
        return id.name;
    }
    let base = id.name.split_once("-with-").map_or(id.name, |(licence, _exception)| licence);
    let plus = base.ends_with('+');
    spdx::gnu_license_id(base.trim_end_matches('+'), or_later || plus).map_or(id.name, |l| l.name)
}

/// What a policy list entry means: one licence id, read like a document's;
/// anything that is not one licence is kept as written (and can only match
/// the same text).
pub fn list_entry(entry: &str) -> String {
    let Ok(expr) = spdx::Expression::parse_mode(entry.trim(), LIST_MODE) else { return entry.trim().to_string() };
    let mut reqs = expr.requirements();
    match (reqs.next(), reqs.next()) {
        (Some(one), None) => meaning(&one.req),
        _ => entry.trim().to_string(),
    }
}

/// Whether a requirement is one of `names` (list entries already read with
/// [`list_entry`]); ids compare case-insensitively, as SPDX says they do.
pub fn matches(req: &spdx::LicenseReq, names: &[String]) -> bool {
    let name = meaning(req);
    names.iter().any(|n| n.eq_ignore_ascii_case(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meanings(expression: &str) -> Vec<String> {
        let expr = spdx::Expression::parse_mode(expression, spdx::ParseMode::LAX).unwrap();
        expr.requirements().map(|r| meaning(&r.req)).collect()
    }

    #[test]
    fn deprecated_gnu_ids_mean_their_replacements() {
        assert_eq!(meanings("GPL-2.0"), ["GPL-2.0-only"]);
        assert_eq!(meanings("GPL-2.0+"), ["GPL-2.0-or-later"]);
        assert_eq!(meanings("LGPL-2.1 OR LGPL-2.1+"), ["LGPL-2.1-only", "LGPL-2.1-or-later"]);
        assert_eq!(meanings("GPL-3.0 AND LGPL-3.0+"), ["GPL-3.0-only", "LGPL-3.0-or-later"]);
        assert_eq!(
            meanings("AGPL-3.0 OR AGPL-1.0 OR GFDL-1.3 OR LGPL-2.0+"),
            ["AGPL-3.0-only", "AGPL-1.0-only", "GFDL-1.3-only", "LGPL-2.0-or-later"]
        );
        assert_eq!(
            meanings("GPL-2.0-with-classpath-exception OR GPL-3.0-with-GCC-exception"),
            ["GPL-2.0-only", "GPL-3.0-only"]
        );
        // Current ids, non-GNU ids and references are themselves.
        assert_eq!(
            meanings("GPL-2.0-only WITH Classpath-exception-2.0 OR MIT OR Apache-2.0+"),
            ["GPL-2.0-only", "MIT", "Apache-2.0"]
        );
        assert_eq!(
            meanings("LicenseRef-Acme OR DocumentRef-x:LicenseRef-y"),
            ["LicenseRef-Acme", "DocumentRef-x:LicenseRef-y"]
        );
    }

    #[test]
    fn list_entries_are_read_the_same_way() {
        assert_eq!(list_entry("GPL-2.0"), "GPL-2.0-only");
        assert_eq!(list_entry(" GPL-2.0+ "), "GPL-2.0-or-later");
        assert_eq!(list_entry("GPL-2.0-or-later"), "GPL-2.0-or-later");
        assert_eq!(list_entry("MIT"), "MIT");
        // Imprecise names are not guessed at, and an expression is not one licence.
        assert_eq!(list_entry("apache2"), "apache2");
        assert_eq!(list_entry("MIT OR ISC"), "MIT OR ISC");
        let denied = vec![list_entry("GPL-2.0-only")];
        let expr = spdx::Expression::parse_mode("GPL-2.0", spdx::ParseMode::LAX).unwrap();
        assert!(!expr.evaluate(|r| !matches(r, &denied)));
        let expr = spdx::Expression::parse_mode("gpl-2.0-ONLY", spdx::ParseMode::LAX);
        assert!(expr.is_err() || !expr.unwrap().evaluate(|r| !matches(r, &denied)));
    }
}
