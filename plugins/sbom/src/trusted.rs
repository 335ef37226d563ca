//! Which SBOMs count as evidence. Anyone who can push to a repository can
//! attach an SBOM, so when SC-SBOM-001 names trusted signers (`keys`, or
//! `identity` with `issuer`; or says `require_signed`), a document counts
//! only if the attestation that carried it verifies with one of the keys,
//! or keylessly with a signer whose SAN matches `identity` (whole) under
//! `issuer` — the trust settings SC-SIG-001/002 and the VEX rules use. A
//! document the user supplied (`--sbom`) is the user's own word and counts;
//! a bare SBOM blob (an OCI referrer, `cosign attach sbom`) has no signature
//! here and does not. SC-SBOM-002..004 judge the documents that count.

use portcullis_sdk::sboms::{self, Document};
use portcullis_sdk::{Params, RuleConfig, signatures};

/// The signers SC-SBOM-001 trusts, if it requires signed SBOMs.
pub struct Trust {
    keys: Vec<String>,
    keyless: Option<(regex_lite::Regex, String)>,
}

/// Why a document does or does not count.
pub enum Standing {
    /// `--sbom`: supplied by the user.
    Supplied,
    /// Attested by a trusted signer (who).
    Signed(String),
    /// Not evidence when signed SBOMs are required (why).
    Untrusted(String),
}

impl Trust {
    /// `None` when no signature is required (every SBOM counts).
    pub fn of(rule: Option<&RuleConfig>) -> Result<Option<Trust>, String> {
        let Some(rule) = rule else { return Ok(None) };
        let p = Params::of(rule);
        let keys = p.text_list("keys");
        let (identity, issuer) = (p.text("identity", ""), p.text("issuer", ""));
        let keyless = match (identity.is_empty(), issuer.is_empty()) {
            (true, true) => None,
            (false, false) => Some((
                regex_lite::Regex::new(&format!("^(?:{identity})$"))
                    .map_err(|e| format!("`identity` is not a regular expression: {e}"))?,
                issuer,
            )),
            _ => {
                return Err(
                    "`identity` and `issuer` are set together: a keyless signer is a SAN under an issuer".into()
                );
            }
        };
        let required = p.boolean("require_signed", false) || !keys.is_empty() || keyless.is_some();
        if !required {
            return Ok(None);
        }
        if keys.is_empty() && keyless.is_none() {
            return Err("`require_signed` needs trusted signers: `keys`, or `identity` with `issuer`".into());
        }
        Ok(Some(Trust { keys, keyless }))
    }

    /// The standing of document `index` (of `sboms::documents()`).
    pub fn standing(&self, index: usize, doc: &Document) -> Standing {
        if doc.origin.starts_with("file:") {
            return Standing::Supplied;
        }
        let Some(att) = u32::try_from(index).ok().and_then(sboms::attestation_of) else {
            return Standing::Untrusted("a bare SBOM, not in a signed attestation".into());
        };
        for (n, key) in self.keys.iter().enumerate() {
            if signatures::verify_key(att, key).is_ok() {
                return Standing::Signed(format!("key {} of `keys`", n + 1));
            }
        }
        let Some((identity, issuer)) = &self.keyless else {
            return Standing::Untrusted("its attestation verifies with none of `keys`".into());
        };
        match signatures::verify_keyless(att) {
            Err(e) => Standing::Untrusted(format!("its attestation does not verify: {e}")),
            Ok(v) => {
                let Some(who) = v.identity else {
                    return Standing::Untrusted("its attestation names no keyless signer".into());
                };
                let signer = format!("{} ({})", who.sans.join(", "), who.issuer.as_deref().unwrap_or("no issuer"));
                if who.issuer.as_deref() == Some(issuer.as_str()) && who.sans.iter().any(|s| identity.is_match(s)) {
                    Standing::Signed(signer)
                } else {
                    Standing::Untrusted(format!("signed by {signer}, not a trusted signer"))
                }
            }
        }
    }
}
