//! Evidence: what the engine knows about each subject, gathered from the input
//! before any plugin runs. Data flows one way: input → evidence → plugins →
//! verdict → report; nothing downstream reaches back into the input.

use crate::digest::Digest;
use crate::oci::{Descriptor, ImageConfig, Platform};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    Image,
    Index,
    /// A release artifact (a file, or its digest) with its sidecars.
    Artifact,
    /// A Kubernetes workload of an admission request (its pod spec).
    Workload,
}

/// What is being judged: one platform image, an index of them, or a
/// release artifact.
#[derive(Debug, Clone)]
pub struct Subject {
    pub kind: SubjectKind,
    /// Where it came from, as the user named it.
    pub reference: String,
    /// Repository name when known (`docker.io/library/app`).
    pub repository: Option<String>,
    /// Manifest or index digest; the image ID for `docker save` archives.
    pub digest: Digest,
    pub media_type: String,
    pub platform: Option<Platform>,
    pub parent_index: Option<Digest>,
}

#[derive(Debug, Clone)]
pub struct Layer {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub diff_id: Option<Digest>,
}

#[derive(Debug, Clone)]
pub struct ImageEvidence {
    pub subject: Subject,
    pub manifest_annotations: BTreeMap<String, String>,
    pub config_digest: Digest,
    pub config: ImageConfig,
    pub layers: Vec<Layer>,
    /// What the layer scanner found, when the layers were scanned.
    pub scan: Option<Arc<crate::scan::ImageScan>>,
    /// SBOMs attached to the image or supplied for it.
    pub sboms: Arc<crate::sbom::Attached>,
    /// Signatures and attestations attached to the image or to its index
    /// (each names its target), unverified: plugins ask the host to verify.
    pub signatures: Arc<Vec<crate::signature::material::Material>>,
}

#[derive(Debug, Clone)]
pub struct IndexEvidence {
    pub subject: Subject,
    pub annotations: BTreeMap<String, String>,
    pub manifests: Vec<Descriptor>,
}

/// A release artifact: its digest, and the signatures, bundles and
/// provenance given beside it.
#[derive(Debug, Clone)]
pub struct ArtifactEvidence {
    pub subject: Subject,
    pub signatures: Arc<Vec<crate::signature::material::Material>>,
}

/// Everything gathered about one subject.
#[derive(Debug, Clone)]
pub enum Evidence {
    Image(Box<ImageEvidence>),
    Index(IndexEvidence),
    Artifact(ArtifactEvidence),
    /// The subject exists but its evidence could not be read or trusted (a
    /// digest mismatch, a missing or malformed blob). It is denied with this
    /// reason: the engine never decides on evidence it could not verify.
    Unreadable {
        subject: Subject,
        reason: String,
    },
}

impl Evidence {
    pub fn subject(&self) -> &Subject {
        match self {
            Evidence::Image(i) => &i.subject,
            Evidence::Index(i) => &i.subject,
            Evidence::Artifact(a) => &a.subject,
            Evidence::Unreadable { subject, .. } => subject,
        }
    }
}
