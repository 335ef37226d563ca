//! Kubernetes admission, decided by the library: reads an
//! `admission.k8s.io/v1` AdmissionReview's workload (any kind with a pod
//! spec: Pod — `pods/ephemeralcontainers` updates included —, PodTemplate,
//! Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
//! ReplicationController, and the legacy EphemeralContainers kind; DELETE
//! and CONNECT start no container and are not judged) into typed evidence,
//! and turns the engine's judgement of it into what the webhook answers —
//! allowed, the reasons, the warnings.
//!
//! The workload rules K8S-001..005 are rules of the builtin plugin
//! `kubernetes`, judged by the engine like every other rule (enforcement,
//! waivers scoped by namespace / kind / name, failure policy, report). The
//! server only reads requests, judges each image (cached by digest, within
//! the deadline) and writes responses.

mod cfg;
mod decision;
pub mod review;
mod workload;

pub use cfg::{AdmissionCfg, AdmissionSettings, RegistryPattern, namespace_glob};
pub use decision::{Admission, ImageOutcome};
pub use workload::{Container, ContainerList, ImageUse, SecurityContext, Workload};
