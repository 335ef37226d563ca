//! Kubernetes admission: reads an `admission.k8s.io/v1` AdmissionReview,
//! finds the pod spec in any workload kind (Pod, Deployment, ReplicaSet,
//! StatefulSet, DaemonSet, Job, CronJob, ReplicationController), judges it
//! by the workload rules K8S-001..004 of the default pack, lists the images
//! the image policy must admit (K8S-005, decided by the server with the
//! engine), and writes the AdmissionReview response — `allowed`, a
//! `status.message` naming denied images and rule ids, `warnings`, and the
//! JSONPatch that pins tags to the digests that were judged.
//!
//! The workload rules live in the host, not in a plugin: they read the pod
//! spec, which is not image evidence. They are declared like plugin rules
//! ([`rules`]) so policies configure them the same way (`[rules.K8S-002]`).

mod cfg;
pub mod workload;

pub use cfg::{AdmissionCfg, AdmissionSettings};
pub use workload::{ImageUse, Workload};

use crate::model::{Enforcement, ParamSpec, ParamType, ParamValue, RuleInfo, Severity};

/// The name under which the workload rules appear in rule listings.
pub const PROVIDER: &str = "admission";

pub const K8S_DIGEST: &str = "K8S-001";
pub const K8S_SECURITY_CONTEXT: &str = "K8S-002";
pub const K8S_SECCOMP: &str = "K8S-003";
pub const K8S_PROBES: &str = "K8S-004";
pub const K8S_IMAGES: &str = "K8S-005";

/// The workload rules, as the policy resolver sees them.
pub fn rules() -> Vec<RuleInfo> {
    let rule = |id: &str, title: &str, description: &str, remediation: &str, sev, enf, params| RuleInfo {
        id: id.into(),
        title: title.into(),
        description: description.into(),
        remediation: remediation.into(),
        default_severity: sev,
        default_enforcement: enf,
        params,
        plugin: PROVIDER.into(),
    };
    vec![
        rule(
            K8S_DIGEST,
            "Images referenced by digest",
            "Every container image is referenced by digest (`repo@sha256:…`), or pinned by the mutating webhook, so the image that runs is the image that was judged (seed 003 §5).",
            "Reference images as `repo:tag@sha256:…`, or enable `[admission] mutate = true` and the mutating webhook.",
            Severity::Medium,
            Enforcement::Warn,
            vec![],
        ),
        rule(
            K8S_SECURITY_CONTEXT,
            "Containers run as non-root, read-only, without privilege escalation",
            "Every container (init and ephemeral too) has `runAsNonRoot: true` (its own or the pod's), `readOnlyRootFilesystem: true` and `allowPrivilegeEscalation: false` (seed 002 §3.3).",
            "Set `securityContext: {runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}` on each container.",
            Severity::High,
            Enforcement::Enforce,
            vec![],
        ),
        rule(
            K8S_SECCOMP,
            "Seccomp profile RuntimeDefault or Localhost",
            "The pod's `securityContext.seccompProfile.type` (or every container's) is one of the allowed profiles (seed 002 §3.3).",
            "Set `spec.securityContext.seccompProfile.type: RuntimeDefault`.",
            Severity::High,
            Enforcement::Enforce,
            vec![ParamSpec {
                name: "allowed_profiles".into(),
                ty: ParamType::TextList,
                description: "seccomp profile types accepted".into(),
                default: ParamValue::TextList(vec!["RuntimeDefault".into(), "Localhost".into()]),
            }],
        ),
        rule(
            K8S_PROBES,
            "Liveness and readiness probes configured",
            "Every regular container declares the probes listed in `probes` (the seeds' `/healthz` and `/readyz`; seed 001 §4.4, 004 §1).",
            "Add `livenessProbe` (e.g. GET /healthz) and `readinessProbe` (e.g. GET /readyz) to each container.",
            Severity::Low,
            Enforcement::Warn,
            vec![ParamSpec {
                name: "probes".into(),
                ty: ParamType::TextList,
                description: "probes each container must declare: liveness, readiness, startup".into(),
                default: ParamValue::TextList(vec!["liveness".into(), "readiness".into()]),
            }],
        ),
        rule(
            K8S_IMAGES,
            "Every image admitted by the image policy",
            "Every container image is judged by the image rules of this policy (cached by digest); one denied image denies the workload. When an image cannot be judged (registry down, deadline), the policy's failure policy decides.",
            "Fix the image's findings (see `portcullis audit docker://IMAGE`), or waive them in the policy.",
            Severity::Critical,
            Enforcement::Enforce,
            vec![],
        ),
    ]
}
