//! Builtin plugin `kubernetes`: the workload rules K8S-001..005, judged on
//! the pod spec of an admission request as the kubelet will run it.
//!
//! The workload arrives typed (`workload` target): every container of every
//! list with its security context, probes and — because admission judges
//! the images first — what the image policy concluded about its image. So
//! these rules are configured, waived, enforced and reported exactly like
//! the image rules: the host only gathers the evidence.

use portcullis_sdk::{
    Checker, Container, ContainerList, Enforcement, Finding, ImageJudgement, ParamProblem, Params, Plugin, PluginMeta,
    RuleConfig, RuleMeta, SecurityContext, Severity, Target, TargetKind, Workload, text_list,
};

pub struct KubernetesPlugin;

const DIGEST: &str = "K8S-001";
const SECURITY_CONTEXT: &str = "K8S-002";
const SECCOMP: &str = "K8S-003";
const PROBES: &str = "K8S-004";
const IMAGES: &str = "K8S-005";

impl Plugin for KubernetesPlugin {
    fn metadata() -> PluginMeta {
        PluginMeta { name: "kubernetes".into(), version: env!("CARGO_PKG_VERSION").into(), rules: rules() }
    }

    fn check(rules: Vec<RuleConfig>) -> Vec<ParamProblem> {
        let one_of = |known: &'static [&'static str]| {
            move |v: &str| {
                if known.contains(&v) { Ok(()) } else { Err(format!("`{v}` is not one of {}", known.join(", "))) }
            }
        };
        let mut c = Checker::default();
        for r in &rules {
            c.non_empty_entries(r);
            c.entries(r, "allowed_profiles", one_of(&["RuntimeDefault", "Localhost", "Unconfined"]));
            c.entries(r, "probes", one_of(&["liveness", "readiness", "startup"]));
        }
        c.problems
    }

    fn evaluate(target: Target, rules: Vec<RuleConfig>) -> Vec<Finding> {
        let Target::Workload(w) = target else {
            return portcullis_sdk::skip_all(&rules, portcullis_sdk::NOT_JUDGED);
        };
        rules.iter().flat_map(|r| judge(r, &w)).collect()
    }
}

#[cfg(target_arch = "wasm32")]
portcullis_sdk::export_plugin!(KubernetesPlugin);

pub fn rules() -> Vec<RuleMeta> {
    let workload = [TargetKind::Workload];
    vec![
        RuleMeta::new(
            DIGEST,
            "Images referenced by digest",
            Severity::Medium,
            Enforcement::Warn,
            "Every container image is referenced by digest (`repo@sha256:…`), or pinned by the mutating webhook, so the image that runs is the image that was judged: a tag can be moved between the admission and the pull.",
            "Reference images as `repo:tag@sha256:…`, or enable `[admission] mutate = true` and the mutating webhook.",
        )
        .judges(&workload),
        RuleMeta::new(
            SECURITY_CONTEXT,
            "Containers run as non-root, read-only, without privilege escalation",
            Severity::High,
            Enforcement::Enforce,
            "Every container (init and ephemeral too) runs as a non-root user (`runAsNonRoot: true`, its own or the pod's, and no `runAsUser: 0`), with `readOnlyRootFilesystem: true` and `allowPrivilegeEscalation: false`, and is not privileged (nor a Windows `hostProcess` container, which is privileged on its node).",
            "Set `securityContext: {runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}` on each container.",
        )
        .judges(&workload),
        RuleMeta::new(
            SECCOMP,
            "Seccomp profile RuntimeDefault or Localhost",
            Severity::High,
            Enforcement::Enforce,
            "Every container runs under an allowed seccomp profile, set on the pod (`securityContext.seccompProfile.type`) or on the container: without one, the container may make any system call.",
            "Set `spec.securityContext.seccompProfile.type: RuntimeDefault`.",
        )
        .param("allowed_profiles", text_list(&["RuntimeDefault", "Localhost"]), "seccomp profile types accepted")
        .judges(&workload),
        RuleMeta::new(
            PROBES,
            "Liveness and readiness probes configured",
            Severity::Low,
            Enforcement::Warn,
            "Every regular container declares the probes listed in `probes` (a service answers `/healthz` and `/readyz`), so a hung process is restarted and traffic reaches only ready ones.",
            "Add `livenessProbe` (e.g. GET /healthz) and `readinessProbe` (e.g. GET /readyz) to each container.",
        )
        .param("probes", text_list(&["liveness", "readiness"]), "probes each container must declare: liveness, readiness, startup")
        .judges(&workload),
        RuleMeta::new(
            IMAGES,
            "Every image admitted by the image policy",
            Severity::Critical,
            Enforcement::Enforce,
            "Every container image is judged by the image rules of this policy (cached by digest); one denied image denies the workload. When an image cannot be judged (registry down, deadline), the policy's failure policy decides.",
            "Fix the image's findings (see `portcullis audit docker://IMAGE`), or waive them in the policy.",
        )
        .judges(&workload),
    ]
}

fn judge(rule: &RuleConfig, w: &Workload) -> Vec<Finding> {
    let params = Params::of(rule);
    match rule.id.as_str() {
        DIGEST => vec![digest(w)],
        SECURITY_CONTEXT => vec![security_context(w)],
        SECCOMP => vec![seccomp(w, &params.text_list("allowed_profiles"))],
        PROBES => vec![probes(w, &params.text_list("probes"))],
        IMAGES => images(w),
        other => vec![Finding::error(other, "not a rule of this plugin")],
    }
}

fn list_name(l: ContainerList) -> &'static str {
    match l {
        ContainerList::Init => "initContainers",
        ContainerList::Regular => "containers",
        ContainerList::Ephemeral => "ephemeralContainers",
    }
}

fn label(c: &Container) -> String {
    format!("{}[{}]", list_name(c.list), c.name)
}

fn outcome(rule: &str, problems: Vec<String>, ok: &str) -> Finding {
    if problems.is_empty() { Finding::pass(rule, ok) } else { Finding::fail(rule, problems.join("; ")) }
}

/// K8S-001. With the mutating webhook, tags will be pinned, so a tag passes.
fn digest(w: &Workload) -> Finding {
    let tagged: Vec<String> = w
        .containers
        .iter()
        .filter(|c| !c.image.contains("@sha256:"))
        .map(|c| format!("{} ({})", c.image, c.name))
        .collect();
    if tagged.is_empty() {
        Finding::pass(DIGEST, "every image is referenced by digest")
    } else if w.pinned_by_admission {
        Finding::pass(DIGEST, format!("pinned to digests by the mutating webhook: {}", tagged.join(", ")))
    } else {
        Finding::fail(DIGEST, format!("not referenced by digest: {}", tagged.join(", ")))
    }
}

/// A container field, else the pod's (the kubelet's precedence).
fn effective<T: Copy>(
    c: &Container,
    pod: Option<&SecurityContext>,
    f: impl Fn(&SecurityContext) -> Option<T>,
) -> Option<T> {
    c.security_context.as_ref().and_then(&f).or_else(|| pod.and_then(&f))
}

/// K8S-002.
fn security_context(w: &Workload) -> Finding {
    let pod = w.pod_security_context.as_ref();
    let mut problems = Vec::new();
    for c in &w.containers {
        let own = |f: fn(&SecurityContext) -> Option<bool>| c.security_context.as_ref().and_then(f);
        let mut missing = Vec::new();
        if effective(c, pod, |s| s.run_as_non_root) != Some(true) {
            missing.push("runAsNonRoot: true");
        }
        if effective(c, pod, |s| s.run_as_user) == Some(0) {
            // The kubelet refuses to start it only when runAsNonRoot is true;
            // either way, user 0 is root.
            missing.push("a non-root runAsUser (runAsUser: 0 is root)");
        }
        if own(|s| s.read_only_root_filesystem) != Some(true) {
            missing.push("readOnlyRootFilesystem: true");
        }
        if own(|s| s.allow_privilege_escalation) != Some(false) {
            missing.push("allowPrivilegeEscalation: false");
        }
        if own(|s| s.privileged) == Some(true) {
            missing.push("not privileged");
        }
        if effective(c, pod, |s| s.windows_host_process) == Some(true) {
            missing.push("not a Windows hostProcess container (privileged on its node)");
        }
        if !missing.is_empty() {
            problems.push(format!("{} lacks {}", label(c), missing.join(", ")));
        }
    }
    outcome(SECURITY_CONTEXT, problems, "every container is non-root, read-only, unescalated")
}

/// K8S-003.
fn seccomp(w: &Workload, allowed: &[String]) -> Finding {
    let pod = w.pod_security_context.as_ref().and_then(|s| s.seccomp_profile.as_deref());
    let mut problems = Vec::new();
    for c in &w.containers {
        let own = c.security_context.as_ref().and_then(|s| s.seccomp_profile.as_deref());
        match own.or(pod) {
            Some(t) if allowed.iter().any(|a| a == t) => {}
            Some(t) => problems.push(format!("{} has seccomp profile {t}", label(c))),
            None => problems.push(format!("{} has no seccomp profile", label(c))),
        }
    }
    if !problems.is_empty() {
        problems.push(format!("allowed: {}", allowed.join(", ")));
    }
    outcome(SECCOMP, problems, "seccomp profile set")
}

/// K8S-004: regular containers only (init and ephemeral ones are not probed).
fn probes(w: &Workload, wanted: &[String]) -> Finding {
    let mut problems = Vec::new();
    for c in w.containers.iter().filter(|c| c.list == ContainerList::Regular) {
        let missing: Vec<&str> = wanted.iter().filter(|p| !c.probes.contains(p)).map(String::as_str).collect();
        if !missing.is_empty() {
            problems.push(format!("{} has no {} probe", label(c), missing.join("/")));
        }
    }
    outcome(PROBES, problems, "probes configured")
}

/// K8S-005: one finding per distinct image that is denied, refused or
/// undecided.
fn images(w: &Workload) -> Vec<Finding> {
    let mut seen: Vec<&str> = Vec::new();
    let mut findings = Vec::new();
    let mut sorted: Vec<&Container> = w.containers.iter().collect();
    sorted.sort_by(|a, b| a.image.cmp(&b.image));
    for c in sorted {
        if seen.contains(&c.image.as_str()) {
            continue;
        }
        seen.push(&c.image);
        let image = &c.image;
        match &c.image_judgement {
            Some(ImageJudgement::Admitted(_)) => {}
            Some(ImageJudgement::Denied(d)) => findings.push(
                Finding::fail(IMAGES, format!("image {image} ({}) is denied by {}", d.digest, d.rules.join(", ")))
                    .at_pointer(format!("{}/image", c.pointer)),
            ),
            // Outside the image (registry down, deadline): the failure
            // policy decides.
            Some(ImageJudgement::Undecided(why)) => findings.push(
                Finding::unavailable(IMAGES, format!("image {image} could not be judged: {why}"))
                    .at_pointer(format!("{}/image", c.pointer)),
            ),
            // The image itself could not be read: refused like a denial.
            Some(ImageJudgement::Refused(why)) => findings.push(
                Finding::fail(IMAGES, format!("image {image} is refused: {why}"))
                    .at_pointer(format!("{}/image", c.pointer)),
            ),
            None => findings.push(Finding::error(IMAGES, format!("image {image} was not judged"))),
        }
    }
    if findings.is_empty() {
        findings.push(Finding::pass(IMAGES, format!("{} image(s) admitted by the image policy", seen.len())));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_sdk::{DeniedImage, Outcome, Subject};

    fn hardened(list: ContainerList, name: &str, image: &str) -> Container {
        Container {
            list,
            name: name.into(),
            image: image.into(),
            security_context: Some(SecurityContext {
                read_only_root_filesystem: Some(true),
                allow_privilege_escalation: Some(false),
                ..unset()
            }),
            probes: vec!["liveness".into(), "readiness".into()],
            pointer: format!("/spec/{}/0", name),
            image_judgement: Some(ImageJudgement::Admitted("sha256:00".into())),
        }
    }

    fn unset() -> SecurityContext {
        SecurityContext {
            run_as_non_root: None,
            run_as_user: None,
            read_only_root_filesystem: None,
            allow_privilege_escalation: None,
            privileged: None,
            seccomp_profile: None,
            windows_host_process: None,
        }
    }

    fn pod() -> Workload {
        Workload {
            subject: Subject {
                reference: "Pod ns/p".into(),
                repository: None,
                digest: "sha256:11".into(),
                media_type: "application/vnd.kubernetes.workload+json".into(),
                platform: None,
                parent_index: None,
            },
            kind: "Pod".into(),
            namespace: Some("ns".into()),
            name: Some("p".into()),
            operation: "CREATE".into(),
            pod_security_context: Some(SecurityContext {
                run_as_non_root: Some(true),
                seccomp_profile: Some("RuntimeDefault".into()),
                ..unset()
            }),
            containers: vec![
                hardened(ContainerList::Init, "init", "r.example/init:1"),
                hardened(ContainerList::Regular, "app", "r.example/app@sha256:00"),
            ],
            pinned_by_admission: false,
        }
    }

    fn allowed() -> Vec<String> {
        vec!["RuntimeDefault".into(), "Localhost".into()]
    }

    #[test]
    fn a_hardened_pod_passes_and_what_is_missing_is_named() {
        let w = pod();
        assert_eq!(security_context(&w).outcome, Outcome::Pass);
        assert_eq!(seccomp(&w, &allowed()).outcome, Outcome::Pass);
        assert_eq!(probes(&w, &["liveness".into(), "readiness".into()]).outcome, Outcome::Pass);
        let d = digest(&w);
        assert_eq!(d.outcome, Outcome::Fail);
        assert!(d.message.contains("r.example/init:1 (init)"), "{}", d.message);
        assert_eq!(digest(&Workload { pinned_by_admission: true, ..pod() }).outcome, Outcome::Pass);

        let mut w = pod();
        w.pod_security_context = None;
        w.containers[1].security_context.as_mut().unwrap().allow_privilege_escalation = Some(true);
        w.containers[1].probes.retain(|p| p != "readiness");
        let sc = security_context(&w);
        assert_eq!(sc.outcome, Outcome::Fail);
        assert!(
            sc.message.contains("containers[app] lacks runAsNonRoot: true, allowPrivilegeEscalation: false"),
            "{}",
            sc.message
        );
        assert!(seccomp(&w, &allowed()).message.contains("containers[app] has no seccomp profile"));
        assert_eq!(
            probes(&w, &["liveness".into(), "readiness".into()]).message,
            "containers[app] has no readiness probe"
        );
    }

    #[test]
    fn user_zero_and_host_process_are_root_whatever_run_as_non_root_says() {
        let mut w = pod();
        w.containers[1].security_context.as_mut().unwrap().run_as_user = Some(0);
        let f = security_context(&w);
        assert_eq!(f.outcome, Outcome::Fail);
        assert!(f.message.contains("containers[app] lacks a non-root runAsUser"), "{}", f.message);
        let mut w = pod();
        w.pod_security_context.as_mut().unwrap().windows_host_process = Some(true);
        assert!(security_context(&w).message.contains("hostProcess"));
    }

    #[test]
    fn images_denied_or_undecided_are_named_once() {
        let mut w = pod();
        assert_eq!(images(&w)[0].outcome, Outcome::Pass);
        w.containers.push(hardened(ContainerList::Regular, "side", "r.example/init:1"));
        for c in w.containers.iter_mut().filter(|c| c.image == "r.example/init:1") {
            c.image_judgement = Some(ImageJudgement::Denied(DeniedImage {
                digest: "sha256:22".into(),
                rules: vec!["GO-BIN-001".into(), "GO-CFG-001".into()],
            }));
        }
        w.containers[1].image_judgement = Some(ImageJudgement::Undecided("registry down".into()));
        let f = images(&w);
        assert_eq!(f.len(), 2, "{:?}", f.iter().map(|f| &f.message).collect::<Vec<_>>());
        assert_eq!(f[0].outcome, Outcome::Unavailable);
        assert_eq!(f[0].message, "image r.example/app@sha256:00 could not be judged: registry down");
        assert_eq!(f[1].outcome, Outcome::Fail);
        assert_eq!(f[1].message, "image r.example/init:1 (sha256:22) is denied by GO-BIN-001, GO-CFG-001");
        // An image that cannot be read is the image's doing: a failure.
        w.containers[1].image_judgement = Some(ImageJudgement::Refused("manifest is not JSON".into()));
        let f = images(&w);
        assert_eq!(f[0].outcome, Outcome::Fail);
        assert_eq!(f[0].message, "image r.example/app@sha256:00 is refused: manifest is not JSON");
    }

    #[test]
    fn parameters_outside_their_vocabulary_are_named() {
        use portcullis_sdk::ParamValue;
        let rule = |id: &str, param: &str, v: &[&str]| RuleConfig {
            id: id.into(),
            params: vec![(param.into(), ParamValue::TextList(v.iter().map(|s| s.to_string()).collect()))],
        };
        let problems = KubernetesPlugin::check(vec![
            rule(SECCOMP, "allowed_profiles", &["RuntimeDefault", "runtime/default"]),
            rule(PROBES, "probes", &["liveness", ""]),
        ]);
        let got: Vec<(String, Option<u32>)> = problems.iter().map(|p| (p.rule.clone(), p.index)).collect();
        assert_eq!(got, vec![(SECCOMP.to_string(), Some(1)), (PROBES.to_string(), Some(1))]);
        assert!(
            problems[0].message.contains("`runtime/default` is not one of RuntimeDefault"),
            "{}",
            problems[0].message
        );
    }
}
