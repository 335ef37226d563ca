//! One workload from an AdmissionReview: where its pod spec is, its
//! containers and images, and the workload rules K8S-001..004 over it.

use crate::model::{Outcome, ParamValue};
use serde_json::Value;

/// Pod-spec pointer of each workload kind (JSON Pointer, RFC 6901).
fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Pod" => "/spec",
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" | "ReplicationController" => {
            "/spec/template/spec"
        }
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => return None,
    })
}

/// A container's image, where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageUse {
    /// `containers`, `initContainers` or `ephemeralContainers`.
    pub list: &'static str,
    pub container: String,
    pub image: String,
    /// JSON Pointer of the `image` field in the object (for patches).
    pub pointer: String,
}

/// One rule's outcome on the workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadFinding {
    pub rule: &'static str,
    pub outcome: Outcome,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pointer: &'static str,
    spec: Value,
}

const LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

impl Workload {
    /// The workload in an AdmissionReview `request` (`object`), or `None`
    /// for kinds without a pod spec. A kind that should have one but does
    /// not is an error.
    pub fn from_request(request: &Value) -> Result<Option<Workload>, String> {
        let kind = request
            .pointer("/kind/kind")
            .and_then(Value::as_str)
            .ok_or("request.kind.kind is missing: not an AdmissionReview request")?;
        let Some(pointer) = pod_spec_pointer(kind) else {
            return Ok(None);
        };
        let object = request.get("object").filter(|o| o.is_object()).ok_or_else(|| {
            format!("request.object is missing for {kind} (DELETE requests carry none; do not send them)")
        })?;
        let spec = object
            .pointer(pointer)
            .filter(|s| s.is_object())
            .ok_or_else(|| format!("{kind} without a pod spec at {pointer}"))?
            .clone();
        let meta = |k: &str| {
            object
                .pointer(&format!("/metadata/{k}"))
                .or_else(|| request.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Ok(Some(Workload { kind: kind.to_string(), namespace: meta("namespace"), name: meta("name"), pointer, spec }))
    }

    /// Every container's image, init and ephemeral containers included.
    pub fn images(&self) -> Vec<ImageUse> {
        let mut v = Vec::new();
        for list in LISTS {
            for (i, c) in self.spec.get(list).and_then(Value::as_array).into_iter().flatten().enumerate() {
                v.push(ImageUse {
                    list,
                    container: c.get("name").and_then(Value::as_str).unwrap_or("?").to_string(),
                    image: c.get("image").and_then(Value::as_str).unwrap_or_default().to_string(),
                    pointer: format!("{}/{list}/{i}/image", self.pointer),
                });
            }
        }
        v
    }

    fn containers(&self, lists: &[&'static str]) -> impl Iterator<Item = (&'static str, String, &Value)> {
        lists.iter().flat_map(move |list| {
            self.spec
                .get(*list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(move |c| (*list, c.get("name").and_then(Value::as_str).unwrap_or("?").to_string(), c))
        })
    }

    /// K8S-001: images by digest. With `mutate`, tags will be pinned by the
    /// mutating webhook, so a tag alone passes.
    pub fn k8s_digest(&self, mutate: bool) -> WorkloadFinding {
        let tagged: Vec<String> = self
            .images()
            .into_iter()
            .filter(|u| !u.image.contains("@sha256:"))
            .map(|u| format!("{} ({})", u.image, u.container))
            .collect();
        let (outcome, message) = if tagged.is_empty() {
            (Outcome::Pass, "every image is referenced by digest".to_string())
        } else if mutate {
            (Outcome::Pass, format!("pinned to digests by the mutating webhook: {}", tagged.join(", ")))
        } else {
            (Outcome::Fail, format!("not referenced by digest: {}", tagged.join(", ")))
        };
        WorkloadFinding { rule: super::K8S_DIGEST, outcome, message }
    }

    /// K8S-002: non-root, read-only root filesystem, no privilege escalation.
    pub fn k8s_security_context(&self) -> WorkloadFinding {
        let pod_non_root = self.spec.pointer("/securityContext/runAsNonRoot") == Some(&Value::Bool(true));
        let mut problems = Vec::new();
        for (list, name, c) in self.containers(&LISTS) {
            let sc = c.get("securityContext");
            let field = |k: &str| sc.and_then(|s| s.get(k));
            let mut missing = Vec::new();
            let non_root = match field("runAsNonRoot") {
                Some(Value::Bool(b)) => *b,
                _ => pod_non_root,
            };
            if !non_root {
                missing.push("runAsNonRoot: true");
            }
            if field("readOnlyRootFilesystem") != Some(&Value::Bool(true)) {
                missing.push("readOnlyRootFilesystem: true");
            }
            if field("allowPrivilegeEscalation") != Some(&Value::Bool(false)) {
                missing.push("allowPrivilegeEscalation: false");
            }
            if field("privileged") == Some(&Value::Bool(true)) {
                missing.push("not privileged");
            }
            if !missing.is_empty() {
                problems.push(format!("{list}[{name}] lacks {}", missing.join(", ")));
            }
        }
        finding(super::K8S_SECURITY_CONTEXT, problems, "every container is non-root, read-only, unescalated")
    }

    /// K8S-003: seccomp profile of the pod, or of every container.
    pub fn k8s_seccomp(&self, params: &[(String, ParamValue)]) -> WorkloadFinding {
        let allowed = text_list(params, "allowed_profiles");
        let pod = self.spec.pointer("/securityContext/seccompProfile/type").and_then(Value::as_str);
        let mut problems = Vec::new();
        for (list, name, c) in self.containers(&LISTS) {
            let own = c.pointer("/securityContext/seccompProfile/type").and_then(Value::as_str);
            match own.or(pod) {
                Some(t) if allowed.iter().any(|a| a == t) => {}
                Some(t) => problems.push(format!("{list}[{name}] has seccomp profile {t}")),
                None => problems.push(format!("{list}[{name}] has no seccomp profile")),
            }
        }
        if !problems.is_empty() {
            problems.push(format!("allowed: {}", allowed.join(", ")));
        }
        finding(super::K8S_SECCOMP, problems, "seccomp profile set")
    }

    /// K8S-004: probes on every regular container.
    pub fn k8s_probes(&self, params: &[(String, ParamValue)]) -> WorkloadFinding {
        let wanted = text_list(params, "probes");
        let mut problems = Vec::new();
        for (_, name, c) in self.containers(&["containers"]) {
            let missing: Vec<&str> = wanted
                .iter()
                .filter(|p| c.get(format!("{p}Probe")).is_none_or(|v| !v.is_object()))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                problems.push(format!("containers[{name}] has no {} probe", missing.join("/")));
            }
        }
        finding(super::K8S_PROBES, problems, "probes configured")
    }
}

fn finding(rule: &'static str, problems: Vec<String>, ok: &str) -> WorkloadFinding {
    if problems.is_empty() {
        WorkloadFinding { rule, outcome: Outcome::Pass, message: ok.to_string() }
    } else {
        WorkloadFinding { rule, outcome: Outcome::Fail, message: problems.join("; ") }
    }
}

fn text_list(params: &[(String, ParamValue)], name: &str) -> Vec<String> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| match v {
            ParamValue::TextList(l) => Some(l.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(kind: &str, object: Value) -> Value {
        json!({"uid": "u", "kind": {"group": "", "version": "v1", "kind": kind}, "object": object})
    }

    fn pod_spec() -> Value {
        json!({
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": [{"name": "init", "image": "r.example/init:1",
                "securityContext": {"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false}}],
            "containers": [{"name": "app", "image": "r.example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "securityContext": {"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}}}]
        })
    }

    #[test]
    fn every_template_kind_is_found() {
        let spec = pod_spec();
        let cases = [
            ("Pod", json!({"metadata": {"namespace": "ns"}, "spec": spec.clone()}), "/spec"),
            ("Deployment", json!({"spec": {"template": {"spec": spec.clone()}}}), "/spec/template/spec"),
            ("StatefulSet", json!({"spec": {"template": {"spec": spec.clone()}}}), "/spec/template/spec"),
            (
                "CronJob",
                json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": spec.clone()}}}}}),
                "/spec/jobTemplate/spec/template/spec",
            ),
        ];
        for (kind, object, pointer) in cases {
            let w = Workload::from_request(&request(kind, object)).unwrap().unwrap();
            let images = w.images();
            assert_eq!(images.len(), 2, "{kind}");
            assert_eq!(images[0].pointer, format!("{pointer}/initContainers/0/image"));
            assert_eq!(images[1].container, "app");
        }
        assert!(Workload::from_request(&request("ConfigMap", json!({"data": {}}))).unwrap().is_none());
        let e = Workload::from_request(&request("Deployment", json!({"spec": {}}))).unwrap_err();
        assert!(e.contains("/spec/template/spec"), "{e}");
    }

    #[test]
    fn rules_pass_on_a_hardened_pod_and_name_what_is_missing() {
        let params = vec![
            ("allowed_profiles".to_string(), ParamValue::TextList(vec!["RuntimeDefault".into(), "Localhost".into()])),
            ("probes".to_string(), ParamValue::TextList(vec!["liveness".into(), "readiness".into()])),
        ];
        let w = Workload::from_request(&request("Pod", json!({"spec": pod_spec()}))).unwrap().unwrap();
        assert_eq!(w.k8s_security_context().outcome, Outcome::Pass);
        assert_eq!(w.k8s_seccomp(&params).outcome, Outcome::Pass);
        assert_eq!(w.k8s_probes(&params).outcome, Outcome::Pass);
        let d = w.k8s_digest(false);
        assert_eq!(d.outcome, Outcome::Fail);
        assert!(d.message.contains("r.example/init:1 (init)"), "{}", d.message);
        assert_eq!(w.k8s_digest(true).outcome, Outcome::Pass);

        let mut spec = pod_spec();
        spec["securityContext"] = json!({});
        spec["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = json!(true);
        spec["containers"][0].as_object_mut().unwrap().remove("readinessProbe");
        let w = Workload::from_request(&request("Pod", json!({"spec": spec}))).unwrap().unwrap();
        let sc = w.k8s_security_context();
        assert_eq!(sc.outcome, Outcome::Fail);
        assert!(
            sc.message.contains("containers[app] lacks runAsNonRoot: true, allowPrivilegeEscalation: false"),
            "{}",
            sc.message
        );
        assert!(w.k8s_seccomp(&params).message.contains("containers[app] has no seccomp profile"));
        assert_eq!(w.k8s_probes(&params).message, "containers[app] has no readiness probe");
    }
}
