//! One workload from an AdmissionReview, read into typed evidence: where its
//! pod spec is, every container with its image, security context and probes.
//! The workload rules (builtin plugin `kubernetes`) judge this evidence; this
//! file only reads the request, as the API server and the kubelet read it.

use crate::digest::Digest;
use serde_json::Value;

/// Pod-spec pointer of each workload kind (JSON Pointer, RFC 6901).
fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Pod" => "/spec",
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" | "ReplicationController" => {
            "/spec/template/spec"
        }
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        "PodTemplate" => "/template/spec",
        // Kubernetes 1.16–1.21 sent `pods/ephemeralcontainers` updates as
        // kind EphemeralContainers, the list at the object's top level.
        "EphemeralContainers" => "",
        _ => return None,
    })
}

/// Which list of the pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerList {
    Init,
    Regular,
    Ephemeral,
}

impl ContainerList {
    /// The pod spec's field name.
    pub fn field(self) -> &'static str {
        match self {
            ContainerList::Init => "initContainers",
            ContainerList::Regular => "containers",
            ContainerList::Ephemeral => "ephemeralContainers",
        }
    }
}

const LISTS: [ContainerList; 3] = [ContainerList::Init, ContainerList::Regular, ContainerList::Ephemeral];

/// Security settings as written; `None` where a field is unset or not of
/// its type (a string `"true"` is not `true` to the kubelet either).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecurityContext {
    pub run_as_non_root: Option<bool>,
    pub run_as_user: Option<i64>,
    pub read_only_root_filesystem: Option<bool>,
    pub allow_privilege_escalation: Option<bool>,
    pub privileged: Option<bool>,
    pub seccomp_profile: Option<String>,
    pub windows_host_process: Option<bool>,
}

impl SecurityContext {
    fn read(v: Option<&Value>) -> Option<SecurityContext> {
        let v = v.filter(|v| v.is_object())?;
        let flag = |p: &str| v.pointer(p).and_then(Value::as_bool);
        Some(SecurityContext {
            run_as_non_root: flag("/runAsNonRoot"),
            run_as_user: v.get("runAsUser").and_then(Value::as_i64),
            read_only_root_filesystem: flag("/readOnlyRootFilesystem"),
            allow_privilege_escalation: flag("/allowPrivilegeEscalation"),
            privileged: flag("/privileged"),
            seccomp_profile: v.pointer("/seccompProfile/type").and_then(Value::as_str).map(str::to_string),
            windows_host_process: flag("/windowsOptions/hostProcess"),
        })
    }
}

/// One container of the pod spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub list: ContainerList,
    pub name: String,
    /// The image reference as written (empty when missing).
    pub image: String,
    pub security_context: Option<SecurityContext>,
    /// Probes declared as objects: `liveness`, `readiness`, `startup`.
    pub probes: Vec<String>,
    /// JSON Pointer of the container in the request's object.
    pub pointer: String,
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

#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: String,
    /// The namespace the API server authorised (`request.namespace`), else
    /// the object's own.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub operation: String,
    /// sha256 of the object as sent: the workload subject's digest.
    pub digest: Digest,
    pub pod_security_context: Option<SecurityContext>,
    pub containers: Vec<Container>,
}

impl Workload {
    /// The workload in an AdmissionReview `request` (`object`), or `None`
    /// for kinds without a pod spec. A kind that should have one but does
    /// not is an error.
    pub fn from_request(request: &Value) -> Result<Option<Workload>, String> {
        let kind = request
            .pointer("/kind/kind")
            .and_then(Value::as_str)
            .ok_or("request.kind.kind is missing: not an AdmissionReview request")?;
        let operation = match request.get("operation") {
            None => "CREATE",
            Some(Value::String(op)) => op.as_str(),
            Some(_) => return Err("request.operation is not a string".into()),
        };
        // Deleting an object, or connecting to a running pod (exec, attach,
        // port-forward), starts no container: nothing to judge.
        if matches!(operation, "DELETE" | "CONNECT") {
            return Ok(None);
        }
        let Some(pointer) = pod_spec_pointer(kind) else {
            return Ok(None);
        };
        let object = request
            .get("object")
            .filter(|o| o.is_object())
            .ok_or_else(|| format!("request.object is missing for {operation} of {kind}"))?;
        let spec = object
            .pointer(pointer)
            .filter(|s| s.is_object())
            .ok_or_else(|| format!("{kind} without a pod spec at {pointer}"))?;
        let meta = |k: &str| {
            request
                .get(k)
                .or_else(|| object.pointer(&format!("/metadata/{k}")))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let mut containers = Vec::new();
        for list in LISTS {
            for (i, c) in spec.get(list.field()).and_then(Value::as_array).into_iter().flatten().enumerate() {
                let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
                containers.push(Container {
                    list,
                    name: text("name").unwrap_or_else(|| "?".into()),
                    image: text("image").unwrap_or_default(),
                    security_context: SecurityContext::read(c.get("securityContext")),
                    probes: ["liveness", "readiness", "startup"]
                        .into_iter()
                        .filter(|p| c.get(format!("{p}Probe")).is_some_and(Value::is_object))
                        .map(str::to_string)
                        .collect(),
                    pointer: format!("{pointer}/{}/{i}", list.field()),
                });
            }
        }
        Ok(Some(Workload {
            kind: kind.to_string(),
            namespace: meta("namespace"),
            name: meta("name"),
            operation: operation.to_string(),
            digest: Digest::sha256(object.to_string().as_bytes()),
            pod_security_context: SecurityContext::read(spec.get("securityContext")),
            containers,
        }))
    }

    /// `Deployment ns/name`, as reports name the workload.
    pub fn reference(&self) -> String {
        let ns = self.namespace.as_deref().unwrap_or("-");
        format!("{} {ns}/{}", self.kind, self.name.as_deref().unwrap_or("?"))
    }

    /// Every container's image, init and ephemeral containers included.
    pub fn images(&self) -> Vec<ImageUse> {
        self.containers
            .iter()
            .map(|c| ImageUse {
                list: c.list.field(),
                container: c.name.clone(),
                image: c.image.clone(),
                pointer: format!("{}/image", c.pointer),
            })
            .collect()
    }
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
                "securityContext": {"readOnlyRootFilesystem": "true", "runAsUser": 0},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                "readinessProbe": true}]
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
    fn fields_are_read_with_their_types() {
        let w = Workload::from_request(&request("Pod", json!({"spec": pod_spec()}))).unwrap().unwrap();
        let pod = w.pod_security_context.as_ref().unwrap();
        assert_eq!(pod.run_as_non_root, Some(true));
        assert_eq!(pod.seccomp_profile.as_deref(), Some("RuntimeDefault"));
        let app = &w.containers[1];
        assert_eq!(app.list, ContainerList::Regular);
        let sc = app.security_context.as_ref().unwrap();
        // A string is not a boolean to the kubelet.
        assert_eq!(sc.read_only_root_filesystem, None);
        assert_eq!(sc.run_as_user, Some(0));
        // `readinessProbe: true` is no probe.
        assert_eq!(app.probes, vec!["liveness".to_string()]);
    }

    #[test]
    fn every_kind_that_starts_containers_is_read() {
        let containers = json!([{"name": "debug", "image": "r.example/debug:1"}]);
        // UPDATE of pods/ephemeralcontainers: the Pod, with the new list.
        let mut pod = request("Pod", json!({"spec": {"containers": [], "ephemeralContainers": containers.clone()}}));
        pod["operation"] = json!("UPDATE");
        pod["subresource"] = json!("ephemeralcontainers");
        // The kind older API servers send for the same subresource.
        let legacy = request("EphemeralContainers", json!({"ephemeralContainers": containers}));
        let template = request("PodTemplate", json!({"template": {"spec": pod_spec()}}));
        for (r, n) in [(pod, 1), (legacy, 1), (template, 2)] {
            let w = Workload::from_request(&r).unwrap().unwrap_or_else(|| panic!("not judged: {r}"));
            assert_eq!(w.containers.len(), n, "{r}");
        }
    }

    #[test]
    fn operations_that_start_no_container_are_not_judged() {
        for op in ["DELETE", "CONNECT"] {
            let mut r = request("Pod", Value::Null);
            r["operation"] = json!(op);
            assert!(Workload::from_request(&r).unwrap().is_none(), "{op}");
        }
        let mut r = request("Pod", json!({"spec": pod_spec()}));
        r["operation"] = json!(["DELETE"]);
        assert!(Workload::from_request(&r).is_err());
    }

    #[test]
    fn the_namespace_is_the_one_the_api_server_authorised() {
        let mut r = request("Pod", json!({"metadata": {"namespace": "prod"}, "spec": pod_spec()}));
        r["namespace"] = json!("dev");
        let w = Workload::from_request(&r).unwrap().unwrap();
        assert_eq!(w.namespace.as_deref(), Some("dev"));
    }
}
