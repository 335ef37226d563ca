//! What a custom rule's expression can see: one variable per piece of
//! evidence, typed after the WIT records they mirror (`wit/policy.wit`),
//! with field names in snake_case. The host checks expressions against
//! this schema when the policy loads; the `cel` plugin builds exactly these
//! values when it evaluates (its tests hold the two together).

use crate::types::{Field, Object, Ty};
use std::sync::Arc;

/// The kind of subject a custom rule judges (its `targets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Image,
    Index,
    Artifact,
    Workload,
}

impl Target {
    pub const ALL: [Target; 4] = [Target::Image, Target::Index, Target::Artifact, Target::Workload];

    pub fn parse(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Target::Image => "image",
            Target::Index => "index",
            Target::Artifact => "artifact",
            Target::Workload => "workload",
        }
    }
}

/// A variable of an expression.
#[derive(Debug)]
pub struct Variable {
    pub name: &'static str,
    pub ty: Ty,
    pub doc: &'static str,
}

fn req(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field { name, ty, optional: false, doc }
}

fn opt(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field { name, ty, optional: true, doc }
}

fn object(name: &'static str, fields: Vec<Field>) -> Ty {
    Ty::Object(Arc::new(Object { name, fields }))
}

fn strings() -> Ty {
    Ty::list(Ty::String)
}

fn string_map() -> Ty {
    Ty::map(Ty::String, Ty::String)
}

pub fn subject() -> Ty {
    object(
        "subject",
        vec![
            req("reference", Ty::String, "where it came from, as the user named it"),
            opt("repository", Ty::String, "repository name (`docker.io/library/app`)"),
            req("digest", Ty::String, "`sha256:…` of the manifest, index or artifact"),
            req("media_type", Ty::String, "its media type"),
            opt("parent_index", Ty::String, "for an image reached through an index: the index's digest"),
        ],
    )
}

pub fn platform() -> Ty {
    object(
        "platform",
        vec![
            req("os", Ty::String, "`linux`, `windows`"),
            req("architecture", Ty::String, "`amd64`, `arm64`"),
            opt("variant", Ty::String, "`v7`, `v8`"),
            opt("os_version", Ty::String, "Windows build"),
        ],
    )
}

fn security_context() -> Ty {
    object(
        "security_context",
        vec![
            opt("run_as_non_root", Ty::Bool, "`runAsNonRoot` as written"),
            opt("run_as_user", Ty::Int, "`runAsUser`"),
            opt("read_only_root_filesystem", Ty::Bool, "`readOnlyRootFilesystem`"),
            opt("allow_privilege_escalation", Ty::Bool, "`allowPrivilegeEscalation`"),
            opt("privileged", Ty::Bool, "`privileged`"),
            opt("seccomp_profile", Ty::String, "`seccompProfile.type`"),
            opt("windows_host_process", Ty::Bool, "`windowsOptions.hostProcess`"),
        ],
    )
}

pub fn config() -> Ty {
    let run_as = object(
        "run_as",
        vec![
            opt("uid", Ty::Int, "the UID the runtime starts the container as"),
            opt("gid", Ty::Int, "the GID"),
            opt("problem", Ty::String, "why `User` cannot be resolved"),
        ],
    );
    let healthcheck = object(
        "healthcheck",
        vec![
            req("test", strings(), "`[\"CMD\", …]`, `[\"CMD-SHELL\", …]` or `[\"NONE\"]`"),
            opt("interval_ns", Ty::Int, "interval in nanoseconds"),
            opt("timeout_ns", Ty::Int, "timeout in nanoseconds"),
            opt("start_period_ns", Ty::Int, "start period in nanoseconds"),
            opt("retries", Ty::Int, "retries"),
        ],
    );
    let history = object(
        "history_entry",
        vec![
            opt("created", Ty::String, "RFC 3339 time"),
            opt("created_by", Ty::String, "the build step"),
            opt("comment", Ty::String, "comment"),
            req("empty_layer", Ty::Bool, "whether the step made no layer"),
        ],
    );
    object(
        "config",
        vec![
            opt("user", Ty::String, "`User` as written (unset: root)"),
            req("run_as", run_as, "what `User` resolves to in this image"),
            req("env", strings(), "`Env`: `NAME=value` entries"),
            opt("entrypoint", strings(), "`Entrypoint`"),
            opt("cmd", strings(), "`Cmd`"),
            opt("working_dir", Ty::String, "`WorkingDir`"),
            opt("healthcheck", healthcheck, "Docker's `Healthcheck`"),
            req("labels", string_map(), "`Labels`"),
            req("exposed_ports", strings(), "`ExposedPorts` keys (`8080/tcp`)"),
            req("volumes", strings(), "`Volumes` keys"),
            opt("stop_signal", Ty::String, "`StopSignal`"),
            req("history", Ty::list(history), "build history"),
        ],
    )
}

pub fn file() -> Ty {
    object(
        "file",
        vec![
            req("path", Ty::String, "absolute path"),
            req("kind", Ty::String, "`regular`, `directory`, `symlink`, `hardlink`, `char-device`, …"),
            req("mode", Ty::Int, "permission bits (`0o4755` is `2541`)"),
            req("uid", Ty::Int, "owner"),
            req("gid", Ty::Int, "group"),
            req("size", Ty::Int, "bytes"),
            opt("link_target", Ty::String, "for links"),
            req("layer", Ty::Int, "the layer that last wrote it (0 = base)"),
        ],
    )
}

fn go_module() -> Ty {
    object(
        "go_module",
        vec![
            req("path", Ty::String, "module path"),
            req("version", Ty::String, "`v1.2.3`"),
            opt("sum", Ty::String, "`h1:` checksum"),
        ],
    )
}

pub fn binary() -> Ty {
    let go = object(
        "go_build",
        vec![
            req("version", Ty::String, "`go1.22.5`"),
            req("path", Ty::String, "main package path"),
            opt("main", go_module(), "main module"),
            req("deps", Ty::list(go_module()), "dependencies"),
            req("settings", string_map(), "build settings (`CGO_ENABLED`, `-trimpath`, `vcs.revision`)"),
        ],
    );
    object(
        "binary",
        vec![
            req("path", Ty::String, "path in the image"),
            req("layer", Ty::Int, "layer index"),
            req("machine", Ty::String, "ELF machine (`x86-64`, `aarch64`)"),
            req("goarch", Ty::String, "the architecture it runs as (`amd64`)"),
            opt("interpreter", Ty::String, "`PT_INTERP`: set for dynamically linked binaries"),
            req("needed", strings(), "`DT_NEEDED` libraries"),
            req("pie", Ty::Bool, "position independent"),
            req("has_symtab", Ty::Bool, "not stripped"),
            req("debug_sections", strings(), "`.debug_*` sections present"),
            req("upx", Ty::Bool, "UPX-packed"),
            req("is_go", Ty::Bool, "a Go binary"),
            opt("go", go, "`go version -m`"),
            req("links", strings(), "notable Go packages linked in (`net/http/pprof`, `crypto/tls`)"),
            opt("problem", Ty::String, "why the analysis is incomplete"),
        ],
    )
}

pub fn package() -> Ty {
    object(
        "package",
        vec![
            req("name", Ty::String, "package name"),
            req("version", Ty::String, "installed version"),
            opt("arch", Ty::String, "architecture"),
            req("source", Ty::String, "`dpkg`, `apk`, `rpm`, …"),
            req("purl", Ty::String, "package URL"),
        ],
    )
}

fn component() -> Ty {
    object(
        "component",
        vec![
            req("name", Ty::String, "name"),
            req("kind", Ty::String, "`library`, `application`, …"),
            opt("version", Ty::String, "version"),
            opt("purl", Ty::String, "package URL"),
            opt("license", Ty::String, "SPDX licence expression"),
            opt("supplier", Ty::String, "supplier"),
            req("cpes", strings(), "CPEs"),
        ],
    )
}

pub fn sbom() -> Ty {
    let document = object(
        "sbom_document",
        vec![
            req("origin", Ty::String, "`file:PATH`, `referrer:DIGEST`, `attestation:DIGEST`"),
            req("format", Ty::String, "`cyclonedx-json`, `spdx-json`, …"),
            req("spec_version", Ty::String, "`1.6`, `SPDX-2.3`"),
            req("tools", strings(), "`name version` of each producing tool"),
            req("describes", strings(), "digests it says it describes"),
            opt("subject_name", Ty::String, "the described subject's name"),
            req("components", Ty::list(component()), "its components"),
        ],
    );
    object(
        "sbom",
        vec![
            req("documents", Ty::list(document), "every SBOM offered for the subject"),
            req("components", Ty::list(component()), "the components of the documents that describe this subject"),
        ],
    )
}

pub fn signature() -> Ty {
    let identity = object(
        "identity",
        vec![
            req("sans", strings(), "certificate subject alternative names"),
            opt("issuer", Ty::String, "OIDC issuer"),
            opt("source_repository", Ty::String, "GitHub `ORG/REPO`"),
            opt("source_ref", Ty::String, "`refs/tags/v1.2.3`"),
            opt("source_digest", Ty::String, "commit"),
            opt("trigger", Ty::String, "workflow trigger event"),
        ],
    );
    let provenance = object(
        "provenance",
        vec![
            req("predicate_type", Ty::String, "SLSA predicate type"),
            req("builder_id", Ty::String, "builder id"),
            req("build_type", Ty::String, "build type"),
            opt("source_uri", Ty::String, "`git+https://…@REF`"),
            opt("trigger_uri", Ty::String, "the workflow that started the build"),
            opt("run_ref", Ty::String, "the ref of the run"),
        ],
    );
    object(
        "signature",
        vec![
            req("origin", Ty::String, "where it was found"),
            req("target", Ty::String, "the digest it is attached to"),
            req("kind", Ty::String, "`signature` or `attestation`"),
            req("verified", Ty::Bool, "verified keylessly against the pinned trusted root"),
            opt("error", Ty::String, "why verification failed"),
            opt("identity", identity, "who signed (verified only)"),
            req("annotations", string_map(), "simple-signing annotations (verified only)"),
            opt("predicate_type", Ty::String, "an attestation's predicate type (verified only)"),
            opt("provenance", provenance, "SLSA provenance (verified only)"),
        ],
    )
}

pub fn vulnerability() -> Ty {
    object(
        "vulnerability",
        vec![
            req("id", Ty::String, "`GO-2021-0113`, `DSA-5417-1`"),
            req("aliases", strings(), "CVE and GHSA ids"),
            req("ecosystem", Ty::String, "`Go`, `Debian:12`"),
            req("package", Ty::String, "module, source package or component"),
            req("installed", Ty::String, "installed version"),
            opt("fixed", Ty::String, "first fixed version"),
            opt("fix_age_days", Ty::Int, "days since a fix was published"),
            opt("score", Ty::Double, "CVSS base score"),
            opt("severity", Ty::String, "severity word of the source"),
            req("reach", Ty::String, "`reachable`, `present`, `module` or `package`"),
            req("symbols", strings(), "vulnerable functions found"),
            req("origin", Ty::String, "`binary:/app`, `dpkg`, `sbom:…`"),
        ],
    )
}

pub fn workload() -> Ty {
    let container = object(
        "container",
        vec![
            req("list", Ty::String, "`init`, `regular` or `ephemeral`"),
            req("name", Ty::String, "container name"),
            req("image", Ty::String, "image reference as written"),
            opt("security_context", security_context(), "its securityContext"),
            req("probes", strings(), "`liveness`, `readiness`, `startup`"),
            opt("image_verdict", Ty::String, "`admitted`, `denied`, `undecided` or `refused`"),
        ],
    );
    object(
        "workload",
        vec![
            req("kind", Ty::String, "`Pod`, `Deployment`, …"),
            opt("namespace", Ty::String, "the namespace the API server authorised"),
            opt("name", Ty::String, "object name"),
            req("operation", Ty::String, "`CREATE`, `UPDATE`"),
            opt("pod_security_context", security_context(), "the pod's securityContext"),
            req("containers", Ty::list(container), "every container, init and ephemeral included"),
        ],
    )
}

fn manifest() -> Ty {
    object(
        "manifest",
        vec![
            req("digest", Ty::String, "digest"),
            req("media_type", Ty::String, "media type"),
            req("size", Ty::Int, "bytes"),
            opt("platform", platform(), "platform"),
            req("annotations", string_map(), "annotations"),
        ],
    )
}

fn layer() -> Ty {
    object(
        "layer",
        vec![
            req("digest", Ty::String, "compressed digest"),
            req("media_type", Ty::String, "media type"),
            req("size", Ty::Int, "compressed bytes"),
            opt("diff_id", Ty::String, "uncompressed digest"),
        ],
    )
}

/// The variables of an expression judging `target`.
pub fn variables(target: Target) -> Vec<Variable> {
    let v = |name, ty, doc| Variable { name, ty, doc };
    let mut vars = vec![v("subject", subject(), "what is judged")];
    match target {
        Target::Image => vars.extend([
            v("platform", platform(), "the image's platform"),
            v("config", config(), "the runtime configuration"),
            v("labels", string_map(), "`config.labels`"),
            v("env", string_map(), "`config.env` as name → value (a later entry wins, as at run time)"),
            v("annotations", string_map(), "manifest annotations"),
            v("layers", Ty::list(layer()), "layers, base first"),
            v("files", Ty::Files, "the merged filesystem: `files.exists(p)`, `files.stat(p)`, `files.glob(g)`"),
            v("binaries", Ty::list(binary()), "the Go binaries of the merged filesystem"),
            v("packages", Ty::list(package()), "installed distribution packages"),
            v("sbom", sbom(), "SBOMs offered for the image"),
            v("signatures", Ty::list(signature()), "signatures and attestations attached"),
            v("vulnerabilities", Ty::list(vulnerability()), "known vulnerabilities (needs `--vuln-db`)"),
        ]),
        Target::Index => vars.extend([
            v("annotations", string_map(), "index annotations"),
            v("manifests", Ty::list(manifest()), "the index's entries"),
        ]),
        Target::Artifact => vars.push(v("signatures", Ty::list(signature()), "signatures and attestations attached")),
        Target::Workload => vars.push(v("workload", workload(), "the admission request's workload")),
    }
    vars
}

/// A function this language adds to CEL's standard library.
#[derive(Debug)]
pub struct Function {
    pub name: &'static str,
    /// The receiver of a member function (`files.stat(p)`).
    pub receiver: Option<Ty>,
    pub args: Vec<Ty>,
    pub result: Ty,
    pub doc: &'static str,
}

/// Schemes `compareVersions` knows, with what they order.
pub const VERSION_SCHEMES: &[(&str, &str)] = &[
    ("semver", "semantic versions, a leading `v` or `go` allowed (Go modules and toolchains, npm, cargo)"),
    ("deb", "Debian/dpkg versions"),
    ("apk", "Alpine apk versions"),
    ("pep440", "Python versions"),
    ("maven", "Maven versions"),
];

pub fn functions() -> Vec<Function> {
    let f = |name, receiver, args, result, doc| Function { name, receiver, args, result, doc };
    vec![
        f("exists", Some(Ty::Files), vec![Ty::String], Ty::Bool, "whether a path exists (symlinks not followed)"),
        f("stat", Some(Ty::Files), vec![Ty::String], file(), "the entry at a path; an error when there is none"),
        f(
            "glob",
            Some(Ty::Files),
            vec![Ty::String],
            Ty::list(file()),
            "entries matching a glob (`*`, `**`), at most 1000",
        ),
        f(
            "compareVersions",
            None,
            vec![Ty::String, Ty::String],
            Ty::Int,
            "-1, 0 or 1 as the first semantic version is below, equal to or above the second (`go1.22.5`, `v1.2.3`); an error when one is not a version",
        ),
        f(
            "compareVersions",
            None,
            vec![Ty::String, Ty::String, Ty::String],
            Ty::Int,
            "the same in a scheme: `compareVersions('deb', p.version, '3.0.11-1')`",
        ),
    ]
}
