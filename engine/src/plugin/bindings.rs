//! Host bindings of the `portcullis:policy` contract (`wit/policy.wit`) and
//! conversions between the engine's evidence model and the contract's types.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "policy-plugin",
});

pub use self::portcullis::policy::filesystem as fs;
pub use self::portcullis::policy::image_scan as scan;
pub use self::portcullis::policy::sboms;
pub use self::portcullis::policy::signatures as sigs;
pub use self::portcullis::policy::types as wit;
pub use self::portcullis::policy::vulnerabilities as vulns;

use crate::admission;
use crate::evidence::{self, Evidence, ImageEvidence, IndexEvidence, Subject};
use crate::model;
use crate::oci::Platform;
use crate::scan::FileKind;
use std::collections::BTreeMap;

fn kv(map: &BTreeMap<String, String>) -> Vec<wit::KeyValue> {
    map.iter().map(|(k, v)| wit::KeyValue { key: k.clone(), value: v.clone() }).collect()
}

fn platform(p: &Platform) -> wit::Platform {
    wit::Platform {
        os: p.os.clone(),
        architecture: p.architecture.clone(),
        variant: p.variant.clone(),
        os_version: p.os_version.clone(),
    }
}

fn subject(s: &Subject) -> wit::Subject {
    wit::Subject {
        reference: s.reference.clone(),
        repository: s.repository.clone(),
        digest: s.digest.to_string(),
        media_type: s.media_type.clone(),
        platform: s.platform.as_ref().map(platform),
        parent_index: s.parent_index.as_ref().map(|d| d.to_string()),
    }
}

fn image(e: &ImageEvidence) -> wit::Image {
    let c = &e.config;
    let rc = c.config.clone().unwrap_or_default();
    wit::Image {
        subject: subject(&e.subject),
        manifest_annotations: kv(&e.manifest_annotations),
        config_digest: e.config_digest.to_string(),
        config: wit::ImageConfig {
            os: c.os.clone(),
            architecture: c.architecture.clone(),
            variant: c.variant.clone(),
            run_as: {
                let spec = rc.user.as_deref().unwrap_or("");
                let r = match &e.scan {
                    Some(scan) => scan.run_as(spec),
                    None => crate::scan::user::resolve(spec, None, None),
                };
                wit::RunAs { uid: r.uid, gid: r.gid, problem: r.problem }
            },
            user: rc.user,
            env: rc.env.unwrap_or_default(),
            entrypoint: rc.entrypoint,
            cmd: rc.cmd,
            working_dir: rc.working_dir,
            healthcheck: rc.healthcheck.map(|h| wit::Healthcheck {
                test: h.test.unwrap_or_default(),
                interval_ns: h.interval,
                timeout_ns: h.timeout,
                start_period_ns: h.start_period,
                retries: h.retries,
            }),
            labels: kv(&rc.labels.unwrap_or_default()),
            exposed_ports: rc.exposed_ports.unwrap_or_default().into_keys().collect(),
            volumes: rc.volumes.unwrap_or_default().into_keys().collect(),
            stop_signal: rc.stop_signal,
            history: c
                .history
                .iter()
                .flatten()
                .map(|h| wit::HistoryEntry {
                    created: h.created.clone(),
                    created_by: h.created_by.clone(),
                    comment: h.comment.clone(),
                    empty_layer: h.empty_layer.unwrap_or(false),
                })
                .collect(),
        },
        layers: e
            .layers
            .iter()
            .map(|l| wit::Layer {
                digest: l.digest.to_string(),
                media_type: l.media_type.clone(),
                size: l.size,
                diff_id: l.diff_id.as_ref().map(|d| d.to_string()),
            })
            .collect(),
    }
}

fn index(e: &IndexEvidence) -> wit::Index {
    wit::Index {
        subject: subject(&e.subject),
        annotations: kv(&e.annotations),
        manifests: e
            .manifests
            .iter()
            .map(|d| wit::IndexEntry {
                digest: d.digest.to_string(),
                media_type: d.media_type.clone(),
                size: d.size,
                platform: d.platform.as_ref().map(platform),
                annotations: d.annotations.as_ref().map(kv).unwrap_or_default(),
            })
            .collect(),
    }
}

/// The contract's view of a subject; `None` for unreadable evidence, which
/// no plugin is asked about.
pub fn target(e: &Evidence) -> Option<wit::Target> {
    match e {
        Evidence::Image(i) => Some(wit::Target::Image(image(i))),
        Evidence::Index(i) => Some(wit::Target::Index(index(i))),
        Evidence::Artifact(a) => Some(wit::Target::Artifact(wit::Artifact { subject: subject(&a.subject) })),
        Evidence::Unreadable { .. } => None,
    }
}

/// The media type reports give a workload subject.
pub const WORKLOAD_MEDIA_TYPE: &str = "application/vnd.kubernetes.workload+json";

fn security_context(s: &admission::SecurityContext) -> wit::SecurityContext {
    wit::SecurityContext {
        run_as_non_root: s.run_as_non_root,
        run_as_user: s.run_as_user,
        read_only_root_filesystem: s.read_only_root_filesystem,
        allow_privilege_escalation: s.allow_privilege_escalation,
        privileged: s.privileged,
        seccomp_profile: s.seccomp_profile.clone(),
        windows_host_process: s.windows_host_process,
    }
}

/// The contract's view of a workload, with what the image policy concluded
/// about each container's image; `pinned` when the mutating webhook pins tags.
pub fn workload(
    subject_of: &Subject,
    w: &admission::Workload,
    images: &[(&str, admission::ImageOutcome<'_>)],
    pinned: bool,
) -> wit::Target {
    let judgement = |image: &str| {
        images.iter().find(|(i, _)| *i == image).map(|(_, o)| match o {
            admission::ImageOutcome::Undecided(why) => wit::ImageJudgement::Undecided(why.to_string()),
            admission::ImageOutcome::Refused(why) => wit::ImageJudgement::Refused(why.to_string()),
            admission::ImageOutcome::Judged { digest, report } if report.verdict == crate::report::Verdict::Deny => {
                let rules: std::collections::BTreeSet<&str> = report
                    .subjects
                    .iter()
                    .flat_map(|s| &s.findings)
                    .filter(|f| f.effect == crate::report::Effect::Deny)
                    .map(|f| f.rule.as_str())
                    .collect();
                wit::ImageJudgement::Denied(wit::DeniedImage {
                    digest: digest.to_string(),
                    rules: rules.into_iter().map(str::to_string).collect(),
                })
            }
            admission::ImageOutcome::Judged { digest, .. } => wit::ImageJudgement::Admitted(digest.to_string()),
        })
    };
    wit::Target::Workload(wit::Workload {
        subject: subject(subject_of),
        kind: w.kind.clone(),
        namespace: w.namespace.clone(),
        name: w.name.clone(),
        operation: w.operation.clone(),
        pod_security_context: w.pod_security_context.as_ref().map(security_context),
        containers: w
            .containers
            .iter()
            .map(|c| wit::Container {
                list: match c.list {
                    admission::ContainerList::Init => wit::ContainerList::Init,
                    admission::ContainerList::Regular => wit::ContainerList::Regular,
                    admission::ContainerList::Ephemeral => wit::ContainerList::Ephemeral,
                },
                name: c.name.clone(),
                image: c.image.clone(),
                security_context: c.security_context.as_ref().map(security_context),
                probes: c.probes.clone(),
                pointer: c.pointer.clone(),
                image_judgement: judgement(&c.image),
            })
            .collect(),
        pinned_by_admission: pinned,
    })
}

pub fn target_kind(k: wit::TargetKind) -> evidence::SubjectKind {
    match k {
        wit::TargetKind::Image => evidence::SubjectKind::Image,
        wit::TargetKind::Index => evidence::SubjectKind::Index,
        wit::TargetKind::Artifact => evidence::SubjectKind::Artifact,
        wit::TargetKind::Workload => evidence::SubjectKind::Workload,
    }
}

pub fn file_entry(f: crate::scan::FileEntry) -> fs::FileEntry {
    fs::FileEntry {
        path: f.path,
        kind: match f.kind {
            FileKind::Regular => fs::FileKind::Regular,
            FileKind::Directory => fs::FileKind::Directory,
            FileKind::Symlink => fs::FileKind::Symlink,
            FileKind::Hardlink => fs::FileKind::Hardlink,
            FileKind::CharDevice => fs::FileKind::CharDevice,
            FileKind::BlockDevice => fs::FileKind::BlockDevice,
            FileKind::Fifo => fs::FileKind::Fifo,
            FileKind::Other => fs::FileKind::Other,
        },
        mode: f.mode,
        uid: f.uid,
        gid: f.gid,
        size: f.size,
        link_target: f.link_target,
        layer: f.layer,
    }
}

pub fn severity(s: wit::Severity) -> model::Severity {
    match s {
        wit::Severity::Info => model::Severity::Info,
        wit::Severity::Low => model::Severity::Low,
        wit::Severity::Medium => model::Severity::Medium,
        wit::Severity::High => model::Severity::High,
        wit::Severity::Critical => model::Severity::Critical,
    }
}

pub fn enforcement(e: wit::Enforcement) -> model::Enforcement {
    match e {
        wit::Enforcement::Enforce => model::Enforcement::Enforce,
        wit::Enforcement::Warn => model::Enforcement::Warn,
        wit::Enforcement::Audit => model::Enforcement::Audit,
    }
}

/// The outcome, and whether an `error` lies outside the subject.
pub fn outcome(o: wit::Outcome) -> (model::Outcome, bool) {
    match o {
        wit::Outcome::Pass => (model::Outcome::Pass, false),
        wit::Outcome::Fail => (model::Outcome::Fail, false),
        wit::Outcome::Skip => (model::Outcome::Skip, false),
        wit::Outcome::Error => (model::Outcome::Error, false),
        wit::Outcome::Unavailable => (model::Outcome::Error, true),
    }
}

pub fn param_value(v: wit::ParamValue) -> model::ParamValue {
    match v {
        wit::ParamValue::Boolean(b) => model::ParamValue::Boolean(b),
        wit::ParamValue::Integer(i) => model::ParamValue::Integer(i),
        wit::ParamValue::Float(f) => model::ParamValue::Float(f),
        wit::ParamValue::Text(s) => model::ParamValue::Text(s),
        wit::ParamValue::TextList(l) => model::ParamValue::TextList(l),
    }
}

pub fn param_to_wit(v: &model::ParamValue) -> wit::ParamValue {
    match v {
        model::ParamValue::Boolean(b) => wit::ParamValue::Boolean(*b),
        model::ParamValue::Integer(i) => wit::ParamValue::Integer(*i),
        model::ParamValue::Float(f) => wit::ParamValue::Float(*f),
        model::ParamValue::Text(s) => wit::ParamValue::Text(s.clone()),
        model::ParamValue::TextList(l) => wit::ParamValue::TextList(l.clone()),
    }
}

pub fn param_type(t: wit::ParamType) -> model::ParamType {
    match t {
        wit::ParamType::Boolean => model::ParamType::Boolean,
        wit::ParamType::Integer => model::ParamType::Integer,
        wit::ParamType::Float => model::ParamType::Float,
        wit::ParamType::Text => model::ParamType::Text,
        wit::ParamType::TextList => model::ParamType::TextList,
    }
}

pub fn binary(b: &crate::scan::Binary) -> scan::Binary {
    let e = &b.elf;
    scan::Binary {
        path: b.path.clone(),
        layer: b.layer,
        class64: e.class64,
        machine: e.machine,
        machine_name: e.machine_name.clone(),
        goarch: crate::scan::elf::goarch(e.machine, e.class64).to_string(),
        interpreter: e.interpreter.clone(),
        needed: e.needed.clone(),
        pie: e.pie,
        has_symtab: e.has_symtab,
        debug_sections: e.debug_sections.clone(),
        upx: e.upx,
        is_go: e.is_go,
        go: e.go.as_ref().map(|g| {
            let module = |m: &crate::scan::elf::GoModule| scan::GoModule {
                path: m.path.clone(),
                version: m.version.clone(),
                sum: m.sum.clone(),
            };
            scan::GoBuild {
                go_version: g.go_version.clone(),
                path: g.path.clone(),
                main: g.main.as_ref().map(module),
                deps: g.deps.iter().map(module).collect(),
                settings: g.settings.iter().map(|(k, v)| wit::KeyValue { key: k.clone(), value: v.clone() }).collect(),
            }
        }),
        links: e.links.clone(),
        problem: e.problem.clone(),
    }
}

pub fn summary(s: &crate::scan::ImageScan) -> scan::ScanSummary {
    scan::ScanSummary {
        layers: s
            .layers
            .iter()
            .map(|l| scan::LayerStats {
                index: l.index,
                compressed_bytes: l.compressed_bytes,
                uncompressed_bytes: l.uncompressed_bytes,
                file_bytes: l.file_bytes,
                entries: l.entries,
                whiteouts: l.whiteouts,
            })
            .collect(),
        efficiency: scan::Efficiency {
            score: s.efficiency.score,
            dive_wasted_bytes: s.efficiency.wasted_bytes,
            superseded_bytes: s.superseded_bytes,
            total_bytes: s.efficiency.total_bytes,
            user_bytes: s.efficiency.user_bytes,
            top: s
                .efficiency
                .inefficient
                .iter()
                .take(20)
                .map(|(p, c, b)| scan::InefficientPath { path: p.clone(), count: *c, bytes: *b })
                .collect(),
        },
        os_id: s.os_id.clone(),
        file_count: s.files.len() as u32,
    }
}

/// An SBOM of the normalised model as the contract carries it.
pub fn sbom_document(d: &crate::sbom::Document) -> sboms::Document {
    let m = &d.sbom;
    let component = |c: &crate::sbom::Component| sboms::Component {
        reference: c.reference.clone(),
        kind: c.kind.clone(),
        name: c.name.clone(),
        version: c.version.clone(),
        purl: c.purl.clone(),
        cpes: c.cpes.clone(),
        license: c.license.clone(),
        hashes: c.hashes.iter().map(|h| wit::KeyValue { key: h.algorithm.clone(), value: h.value.clone() }).collect(),
        supplier: c.supplier.clone(),
    };
    // What it binds to for the image it was offered to; a document never
    // offered (not reached through an image) says what it names.
    let (describes, origin) = match &d.binding {
        Some(b) => {
            let origin = match &b.note {
                Some(note) => format!("{}; {note}", d.origin),
                None => d.origin.clone(),
            };
            (b.describes.clone(), origin)
        }
        None => {
            let mut describes: Vec<String> = d.bound_to.clone().unwrap_or_default();
            for s in &m.subjects {
                for d in s.digests() {
                    if !describes.contains(&d) {
                        describes.push(d);
                    }
                }
            }
            (describes, d.origin.clone())
        }
    };
    sboms::Document {
        origin,
        format: m.format.map(|f| f.id().to_string()).unwrap_or_default(),
        spec_version: m.spec_version.clone(),
        tools: m
            .tools
            .iter()
            .map(|t| match &t.version {
                Some(v) => format!("{} {v}", t.name),
                None => t.name.clone(),
            })
            .collect(),
        describes,
        subject_name: m.subjects.first().map(|s| s.name.clone()),
        // What the document describes is one of its components too: the
        // rules judge every package it declares, described or contained.
        components: m.subjects.iter().chain(&m.components).map(component).collect(),
        dependencies: m
            .dependencies
            .iter()
            .map(|d| sboms::Dependency { reference: d.reference.clone(), depends_on: d.depends_on.clone() })
            .collect(),
    }
}

/// A material as listed to plugins.
pub fn material(m: &crate::signature::material::Material) -> sigs::Material {
    use crate::signature::material::Kind;
    sigs::Material {
        origin: m.origin.clone(),
        target: m.target.to_string(),
        kind: match m.kind() {
            Kind::Signature => sigs::MaterialKind::Signature,
            Kind::Attestation => sigs::MaterialKind::Attestation,
        },
    }
}

/// JSON flattened to (JSON pointer, scalar as text) pairs, bounded.
fn flatten(v: &serde_json::Value, pointer: &mut String, out: &mut Vec<wit::KeyValue>) {
    use serde_json::Value;
    if out.len() >= 4096 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
                flatten(child, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                flatten(child, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Null => {}
        Value::String(s) => out.push(wit::KeyValue { key: pointer.clone(), value: s.clone() }),
        other => out.push(wit::KeyValue { key: pointer.clone(), value: other.to_string() }),
    }
}

/// What verified material establishes, for plugins.
pub fn verified(v: &crate::signature::material::Verified) -> sigs::Verified {
    use crate::signature::identity;
    let identity = v.certificate.as_ref().and_then(|der| {
        let cert = <x509_cert::Certificate as der::Decode>::from_der(der).ok()?;
        // Contradictory claims are no claims: constraints on them then fail.
        let claims = identity::GithubClaims::from_certificate(&cert).unwrap_or_default();
        Some(sigs::Identity {
            sans: identity::sans(&cert),
            issuer: identity::issuer(&cert),
            source_repository: claims.source_repository,
            source_ref: claims.source_ref,
            source_digest: claims.source_digest,
            trigger: claims.trigger,
        })
    });
    let statement = v.statement.as_deref().and_then(|s| serde_json::from_slice::<serde_json::Value>(s).ok());
    let predicate_type = statement.as_ref().and_then(|s| s["predicateType"].as_str().map(str::to_owned));
    let subjects = statement
        .as_ref()
        .and_then(|s| s["subject"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s["digest"]["sha256"].as_str().map(|h| format!("sha256:{}", h.to_ascii_lowercase())))
        .collect();
    let provenance = v.statement.as_deref().and_then(|s| crate::slsa::Provenance::from_statement(s).ok()).map(|p| {
        let mut external = Vec::new();
        flatten(&p.external_parameters, &mut String::new(), &mut external);
        sigs::Provenance {
            predicate_type: p.predicate_type.clone(),
            builder_id: p.builder_id.clone(),
            build_type: p.build_type.clone(),
            source_uri: p.source.as_ref().map(|d| d.uri.clone()),
            source_digest: p.source.as_ref().map(|d| kv(&d.digest.clone().into_iter().collect())).unwrap_or_default(),
            trigger_uri: p.trigger_uri.clone(),
            run_ref: p.run_ref(),
            external_parameters: external,
            resolved_dependencies: p.resolved_dependencies.iter().map(|d| d.uri.clone()).collect(),
        }
    });
    sigs::Verified { identity, annotations: kv(&v.annotations), predicate_type, subjects, provenance }
}
