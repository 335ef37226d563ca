//! The evidence of a subject as CEL values, after `portcullis_cel::schema`:
//! each record a map whose keys are its fields, an optional field absent
//! when the evidence has no value for it, every number an `int` (so that
//! `size > 1000` compares as written). Only the variables an expression
//! uses are built: `packages` or `signatures` cost a query, a verification.

use cel::Value;
use portcullis_sdk::{self as sdk, Target as Wit};
use std::collections::HashMap;
use std::sync::Arc;

/// A record under construction.
#[derive(Default)]
pub struct Obj(HashMap<String, Value>);

impl Obj {
    pub fn put(mut self, key: &str, v: impl Into<Value>) -> Obj {
        self.0.insert(key.to_string(), v.into());
        self
    }

    pub fn opt<T: Into<Value>>(mut self, key: &str, v: Option<T>) -> Obj {
        if let Some(v) = v {
            self.0.insert(key.to_string(), v.into());
        }
        self
    }

    pub fn done(self) -> Value {
        self.0.into()
    }
}

pub fn text(s: &str) -> Value {
    Value::String(Arc::new(s.to_string()))
}

fn strings(list: &[String]) -> Value {
    Value::List(Arc::new(list.iter().map(|s| text(s)).collect()))
}

fn list<T>(items: &[T], f: impl Fn(&T) -> Value) -> Value {
    Value::List(Arc::new(items.iter().map(f).collect()))
}

fn pairs(kv: &[sdk::KeyValue]) -> Value {
    let map: HashMap<String, Value> = kv.iter().map(|p| (p.key.clone(), text(&p.value))).collect();
    map.into()
}

fn int<T: TryInto<i64>>(n: T) -> Value {
    Value::Int(n.try_into().unwrap_or(i64::MAX))
}

/// A variable's value, or why it cannot be had (evidence the host did not
/// collect, such as the file index of an unscanned image, or no
/// vulnerability database): the rule is then `unavailable`.
pub type Built = Result<Value, String>;

/// Builds variable `name` for `target`.
pub fn variable(name: &str, target: &Wit) -> Built {
    match (name, target) {
        ("subject", t) => Ok(subject(subject_of(t))),
        ("platform", Wit::Image(i)) => Ok(platform(&sdk::Platform {
            os: i.config.os.clone(),
            architecture: i.config.architecture.clone(),
            variant: i.config.variant.clone(),
            os_version: i.subject.platform.as_ref().and_then(|p| p.os_version.clone()),
        })),
        ("config", Wit::Image(i)) => Ok(config(&i.config)),
        ("labels", Wit::Image(i)) => Ok(pairs(&i.config.labels)),
        ("env", Wit::Image(i)) => Ok(env(&i.config.env)),
        ("annotations", Wit::Image(i)) => Ok(pairs(&i.manifest_annotations)),
        ("annotations", Wit::Index(x)) => Ok(pairs(&x.annotations)),
        ("layers", Wit::Image(i)) => Ok(list(&i.layers, |l| {
            Obj::default()
                .put("digest", text(&l.digest))
                .put("media_type", text(&l.media_type))
                .put("size", int(l.size))
                .opt("diff_id", l.diff_id.as_deref().map(text))
                .done()
        })),
        ("manifests", Wit::Index(x)) => Ok(list(&x.manifests, |m| {
            Obj::default()
                .put("digest", text(&m.digest))
                .put("media_type", text(&m.media_type))
                .put("size", int(m.size))
                .opt("platform", m.platform.as_ref().map(platform))
                .put("annotations", pairs(&m.annotations))
                .done()
        })),
        // A placeholder: `files` is only a receiver of its functions.
        ("files", Wit::Image(_)) => match sdk::filesystem::stat("/") {
            Ok(_) => Ok(Value::Null),
            Err(why) => Err(format!("the file index is not available: {why}")),
        },
        ("binaries", Wit::Image(_)) => {
            let bins = sdk::image_scan::go_binaries().map_err(|why| format!("binaries are not available: {why}"))?;
            Ok(list(&bins, binary))
        }
        ("packages", Wit::Image(_)) => {
            let pkgs = sdk::image_scan::packages().map_err(|why| format!("packages are not available: {why}"))?;
            Ok(list(&pkgs, |p| {
                Obj::default()
                    .put("name", text(&p.name))
                    .put("version", text(&p.version))
                    .opt("arch", p.arch.as_deref().map(text))
                    .put("source", text(&p.source))
                    .put("purl", text(&p.purl))
                    .done()
            }))
        }
        ("sbom", Wit::Image(i)) => Ok(sbom(&i.subject)),
        ("signatures", Wit::Image(_) | Wit::Artifact(_)) => Ok(signatures()),
        ("vulnerabilities", Wit::Image(_)) => {
            let found = sdk::vulnerabilities::matches().map_err(|why| format!("no vulnerability data: {why}"))?;
            Ok(list(&found, vulnerability))
        }
        ("workload", Wit::Workload(w)) => Ok(workload(w)),
        (name, _) => Err(format!("`{name}` is not evidence of this kind of subject")),
    }
}

fn subject_of(t: &Wit) -> &sdk::Subject {
    match t {
        Wit::Image(i) => &i.subject,
        Wit::Index(x) => &x.subject,
        Wit::Artifact(a) => &a.subject,
        Wit::Workload(w) => &w.subject,
    }
}

fn subject(s: &sdk::Subject) -> Value {
    Obj::default()
        .put("reference", text(&s.reference))
        .opt("repository", s.repository.as_deref().map(text))
        .put("digest", text(&s.digest))
        .put("media_type", text(&s.media_type))
        .opt("parent_index", s.parent_index.as_deref().map(text))
        .done()
}

fn platform(p: &sdk::Platform) -> Value {
    Obj::default()
        .put("os", text(&p.os))
        .put("architecture", text(&p.architecture))
        .opt("variant", p.variant.as_deref().map(text))
        .opt("os_version", p.os_version.as_deref().map(text))
        .done()
}

/// `Env` as the runtime applies it: the last entry of a name wins.
fn env(entries: &[String]) -> Value {
    let mut map: HashMap<String, Value> = HashMap::new();
    for e in entries {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        map.insert(k.to_string(), text(v));
    }
    map.into()
}

fn config(c: &sdk::ImageConfig) -> Value {
    let run_as = Obj::default()
        .opt("uid", c.run_as.uid.map(int))
        .opt("gid", c.run_as.gid.map(int))
        .opt("problem", c.run_as.problem.as_deref().map(text))
        .done();
    let healthcheck = c.healthcheck.as_ref().map(|h| {
        Obj::default()
            .put("test", strings(&h.test))
            .opt("interval_ns", h.interval_ns.map(int))
            .opt("timeout_ns", h.timeout_ns.map(int))
            .opt("start_period_ns", h.start_period_ns.map(int))
            .opt("retries", h.retries.map(int))
            .done()
    });
    Obj::default()
        .opt("user", c.user.as_deref().map(text))
        .put("run_as", run_as)
        .put("env", strings(&c.env))
        .opt("entrypoint", c.entrypoint.as_deref().map(strings))
        .opt("cmd", c.cmd.as_deref().map(strings))
        .opt("working_dir", c.working_dir.as_deref().map(text))
        .opt("healthcheck", healthcheck)
        .put("labels", pairs(&c.labels))
        .put("exposed_ports", strings(&c.exposed_ports))
        .put("volumes", strings(&c.volumes))
        .opt("stop_signal", c.stop_signal.as_deref().map(text))
        .put(
            "history",
            list(&c.history, |h| {
                Obj::default()
                    .opt("created", h.created.as_deref().map(text))
                    .opt("created_by", h.created_by.as_deref().map(text))
                    .opt("comment", h.comment.as_deref().map(text))
                    .put("empty_layer", h.empty_layer)
                    .done()
            }),
        )
        .done()
}

pub fn file(f: &sdk::filesystem::FileEntry) -> Value {
    use sdk::filesystem::FileKind as K;
    let kind = match f.kind {
        K::Regular => "regular",
        K::Directory => "directory",
        K::Symlink => "symlink",
        K::Hardlink => "hardlink",
        K::CharDevice => "char-device",
        K::BlockDevice => "block-device",
        K::Fifo => "fifo",
        K::Other => "other",
    };
    Obj::default()
        .put("path", text(&f.path))
        .put("kind", text(kind))
        .put("mode", int(f.mode))
        .put("uid", int(f.uid))
        .put("gid", int(f.gid))
        .put("size", int(f.size))
        .opt("link_target", f.link_target.as_deref().map(text))
        .put("layer", int(f.layer))
        .done()
}

fn module(m: &sdk::image_scan::GoModule) -> Value {
    Obj::default()
        .put("path", text(&m.path))
        .put("version", text(&m.version))
        .opt("sum", m.sum.as_deref().map(text))
        .done()
}

fn binary(b: &sdk::image_scan::Binary) -> Value {
    let go = b.go.as_ref().map(|g| {
        Obj::default()
            .put("version", text(&g.go_version))
            .put("path", text(&g.path))
            .opt("main", g.main.as_ref().map(module))
            .put("deps", list(&g.deps, module))
            .put("settings", pairs(&g.settings))
            .done()
    });
    Obj::default()
        .put("path", text(&b.path))
        .put("layer", int(b.layer))
        .put("machine", text(&b.machine_name))
        .put("goarch", text(&b.goarch))
        .opt("interpreter", b.interpreter.as_deref().map(text))
        .put("needed", strings(&b.needed))
        .put("pie", b.pie)
        .put("has_symtab", b.has_symtab)
        .put("debug_sections", strings(&b.debug_sections))
        .put("upx", b.upx)
        .put("is_go", b.is_go)
        .opt("go", go)
        .put("links", strings(&b.links))
        .opt("problem", b.problem.as_deref().map(text))
        .done()
}

fn component(c: &sdk::sboms::Component) -> Value {
    Obj::default()
        .put("name", text(&c.name))
        .put("kind", text(&c.kind))
        .opt("version", c.version.as_deref().map(text))
        .opt("purl", c.purl.as_deref().map(text))
        .opt("license", c.license.as_deref().map(text))
        .opt("supplier", c.supplier.as_deref().map(text))
        .put("cpes", strings(&c.cpes))
        .done()
}

fn sbom(subject: &sdk::Subject) -> Value {
    let docs = sdk::sboms::documents();
    let ours = |d: &sdk::sboms::Document| {
        d.describes.iter().any(|x| *x == subject.digest || Some(x) == subject.parent_index.as_ref())
    };
    let components: Vec<Value> =
        docs.iter().filter(|d| ours(d)).flat_map(|d| d.components.iter().map(component)).collect();
    let documents = list(&docs, |d| {
        Obj::default()
            .put("origin", text(&d.origin))
            .put("format", text(&d.format))
            .put("spec_version", text(&d.spec_version))
            .put("tools", strings(&d.tools))
            .put("describes", strings(&d.describes))
            .opt("subject_name", d.subject_name.as_deref().map(text))
            .put("components", list(&d.components, component))
            .done()
    });
    Obj::default().put("documents", documents).put("components", Value::List(Arc::new(components))).done()
}

/// Every attached item, verified keylessly against the host's trusted root.
fn signatures() -> Value {
    use sdk::signatures::MaterialKind;
    let items = sdk::signatures::list();
    let out: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let kind = match m.kind {
                MaterialKind::Signature => "signature",
                MaterialKind::Attestation => "attestation",
            };
            let o =
                Obj::default().put("origin", text(&m.origin)).put("target", text(&m.target)).put("kind", text(kind));
            match sdk::signatures::verify_keyless(i as u32) {
                Err(why) => o.put("verified", false).put("error", text(&why)).put("annotations", pairs(&[])).done(),
                Ok(v) => {
                    let identity = v.identity.as_ref().map(|id| {
                        Obj::default()
                            .put("sans", strings(&id.sans))
                            .opt("issuer", id.issuer.as_deref().map(text))
                            .opt("source_repository", id.source_repository.as_deref().map(text))
                            .opt("source_ref", id.source_ref.as_deref().map(text))
                            .opt("source_digest", id.source_digest.as_deref().map(text))
                            .opt("trigger", id.trigger.as_deref().map(text))
                            .done()
                    });
                    let provenance = v.provenance.as_ref().map(|p| {
                        Obj::default()
                            .put("predicate_type", text(&p.predicate_type))
                            .put("builder_id", text(&p.builder_id))
                            .put("build_type", text(&p.build_type))
                            .opt("source_uri", p.source_uri.as_deref().map(text))
                            .opt("trigger_uri", p.trigger_uri.as_deref().map(text))
                            .opt("run_ref", p.run_ref.as_deref().map(text))
                            .done()
                    });
                    o.put("verified", true)
                        .opt("identity", identity)
                        .put("annotations", pairs(&v.annotations))
                        .opt("predicate_type", v.predicate_type.as_deref().map(text))
                        .opt("provenance", provenance)
                        .done()
                }
            }
        })
        .collect();
    Value::List(Arc::new(out))
}

fn vulnerability(v: &sdk::vulnerabilities::Vulnerability) -> Value {
    use sdk::vulnerabilities::Reach;
    let reach = match v.reach {
        Reach::Reachable => "reachable",
        Reach::Present => "present",
        Reach::Module => "module",
        Reach::Package => "package",
    };
    Obj::default()
        .put("id", text(&v.id))
        .put("aliases", strings(&v.aliases))
        .put("ecosystem", text(&v.ecosystem))
        .put("package", text(&v.package))
        .put("installed", text(&v.installed))
        .opt("fixed", v.fixed.as_deref().map(text))
        .opt("fix_age_days", v.fix_age_days.map(int))
        .opt("score", v.score.as_ref().map(|s| Value::Float(s.value)))
        .opt("severity", v.severity_text.as_deref().map(text))
        .put("reach", text(reach))
        .put("symbols", strings(&v.symbols))
        .put("origin", text(&v.origin))
        .done()
}

fn security_context(s: &sdk::SecurityContext) -> Value {
    Obj::default()
        .opt("run_as_non_root", s.run_as_non_root)
        .opt("run_as_user", s.run_as_user.map(int))
        .opt("read_only_root_filesystem", s.read_only_root_filesystem)
        .opt("allow_privilege_escalation", s.allow_privilege_escalation)
        .opt("privileged", s.privileged)
        .opt("seccomp_profile", s.seccomp_profile.as_deref().map(text))
        .opt("windows_host_process", s.windows_host_process)
        .done()
}

fn workload(w: &sdk::Workload) -> Value {
    use sdk::{ContainerList, ImageJudgement as J};
    let containers = list(&w.containers, |c| {
        let which = match c.list {
            ContainerList::Init => "init",
            ContainerList::Regular => "regular",
            ContainerList::Ephemeral => "ephemeral",
        };
        let verdict = c.image_judgement.as_ref().map(|j| match j {
            J::Admitted(_) => "admitted",
            J::Denied(_) => "denied",
            J::Undecided(_) => "undecided",
            J::Refused(_) => "refused",
        });
        Obj::default()
            .put("list", text(which))
            .put("name", text(&c.name))
            .put("image", text(&c.image))
            .opt("security_context", c.security_context.as_ref().map(security_context))
            .put("probes", strings(&c.probes))
            .opt("image_verdict", verdict.map(text))
            .done()
    });
    Obj::default()
        .put("kind", text(&w.kind))
        .opt("namespace", w.namespace.as_deref().map(text))
        .opt("name", w.name.as_deref().map(text))
        .put("operation", text(&w.operation))
        .opt("pod_security_context", w.pod_security_context.as_ref().map(security_context))
        .put("containers", containers)
        .done()
}
