//! Verified material made up by the unit tests: what the host would hand
//! the plugin after verifying a signature, without any cryptography, so
//! each rule's judgement can be tried on identities and claims no real
//! signer would produce.

use crate::Checked;
use portcullis_sdk::signatures::{Identity, Material, MaterialKind, Provenance, Verified};
use portcullis_sdk::{ParamValue, RuleConfig};

pub const GHA_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// A GitHub Actions certificate's identity: workflow `san`, run of
/// `acme/app` at `refs/tags/v1.0.0`.
pub fn github(san: &str) -> Identity {
    Identity {
        sans: vec![san.to_string()],
        issuer: Some(GHA_ISSUER.into()),
        source_repository: Some("acme/app".into()),
        source_ref: Some("refs/tags/v1.0.0".into()),
        source_digest: None,
        trigger: Some("push".into()),
    }
}

/// Provenance by `builder` from `git+https://github.com/acme/app@refs/tags/v1.0.0`.
pub fn statement(builder: &str) -> Provenance {
    Provenance {
        predicate_type: "https://slsa.dev/provenance/v1".into(),
        builder_id: builder.into(),
        build_type: String::new(),
        source_uri: Some("git+https://github.com/acme/app@refs/tags/v1.0.0".into()),
        source_digest: Vec::new(),
        trigger_uri: None,
        run_ref: None,
        external_parameters: Vec::new(),
        resolved_dependencies: Vec::new(),
    }
}

/// `prov`, verified as `how` (`keyless`, `key #1`) with `identity`.
pub fn verified(prov: Provenance, how: &str, identity: Option<Identity>) -> Checked {
    let verified = Verified {
        identity,
        annotations: Vec::new(),
        predicate_type: Some(prov.predicate_type.clone()),
        subjects: vec!["sha256:00".into()],
        provenance: Some(prov),
    };
    Checked {
        material: Material { origin: "test".into(), target: "sha256:00".into(), kind: MaterialKind::Attestation },
        result: Ok((how.into(), verified)),
    }
}

/// [`statement`] by `builder`, verified as `how` with `identity`.
pub fn provenance(builder: &str, how: &str, identity: Option<Identity>) -> Checked {
    verified(statement(builder), how, identity)
}

/// A keyless signature (no provenance) by `identity`.
pub fn signature(identity: Identity) -> Checked {
    Checked {
        material: Material { origin: "test".into(), target: "sha256:00".into(), kind: MaterialKind::Signature },
        result: Ok((
            "keyless".into(),
            Verified {
                identity: Some(identity),
                annotations: Vec::new(),
                predicate_type: None,
                subjects: Vec::new(),
                provenance: None,
            },
        )),
    }
}

/// A rule configured with `params` (text lists from string slices).
pub fn rule(id: &str, params: &[(&str, ParamValue)]) -> RuleConfig {
    RuleConfig { id: id.into(), params: params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect() }
}
