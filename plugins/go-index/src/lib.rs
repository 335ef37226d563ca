//! Builtin plugin `go-index`: multi-arch rules GO-IDX-001..003. An index must
//! cover the required platforms, list each platform once, and every platform
//! image must really be what its index entry claims — config os/architecture
//! and the entrypoint's ELF machine (an arm64 entry carrying an amd64 binary
//! fails at start with "exec format error").

use portcullis_sdk::image_scan;
use portcullis_sdk::{
    Checker, Enforcement, Finding, Image, Index, ParamProblem, Params, Plugin, PluginMeta, RuleConfig, RuleMeta,
    Severity, Target, command_line, locate_program, text_list,
};

pub struct GoIndexPlugin;

const COVERAGE: &str = "GO-IDX-001";
const UNIQUE: &str = "GO-IDX-002";
const CONSISTENT: &str = "GO-IDX-003";

impl Plugin for GoIndexPlugin {
    fn metadata() -> PluginMeta {
        PluginMeta { name: "go-index".into(), version: env!("CARGO_PKG_VERSION").into(), rules: rules() }
    }

    fn check(rules: Vec<RuleConfig>) -> Vec<ParamProblem> {
        let mut c = Checker::default();
        for r in &rules {
            c.non_empty_entries(r);
            c.entries(r, "required_platforms", |p| {
                let parts: Vec<&str> = p.split('/').collect();
                if (2..=3).contains(&parts.len()) && parts.iter().all(|s| !s.is_empty() && !s.contains(' ')) {
                    Ok(())
                } else {
                    Err(format!("`{p}` is not a platform `os/arch[/variant]`"))
                }
            });
        }
        c.problems
    }

    fn evaluate(target: Target, rules: Vec<RuleConfig>) -> Vec<Finding> {
        rules
            .iter()
            .map(|r| match &target {
                Target::Index(index) => on_index(r, index),
                Target::Image(image) => on_image(r, image),
                Target::Artifact(_) => Finding::skip(&r.id, portcullis_sdk::NOT_AN_IMAGE),
                Target::Workload(_) => Finding::skip(&r.id, portcullis_sdk::NOT_JUDGED),
            })
            .collect()
    }
}

#[cfg(target_arch = "wasm32")]
portcullis_sdk::export_plugin!(GoIndexPlugin);

pub fn rules() -> Vec<RuleMeta> {
    vec![
        RuleMeta::new(
            COVERAGE,
            "Multi-platform index covering the required platforms",
            Severity::Medium,
            Enforcement::Warn,
            "The artifact is an OCI image index (or Docker manifest list) with an image for every required platform.",
            "Build and push with `docker buildx build --platform linux/amd64,linux/arm64 --push`.",
        )
        .param(
            "required_platforms",
            text_list(&["linux/amd64", "linux/arm64"]),
            "Platforms (`os/arch[/variant]`) the index must cover.",
        ),
        RuleMeta::new(
            UNIQUE,
            "No platform twice in the index",
            Severity::Medium,
            Enforcement::Enforce,
            "Each platform appears once: with duplicates, which image a node pulls is up to the client.",
            "Rebuild the index from one image per platform.",
        ),
        RuleMeta::new(
            CONSISTENT,
            "Platform images are what the index says",
            Severity::High,
            Enforcement::Enforce,
            "Each platform image's config os/architecture matches its index entry, and its entrypoint ELF is built for that architecture.",
            "Cross-compile the binary for each target platform (GOARCH from TARGETARCH) instead of copying one build into every image.",
        ),
    ]
}

fn is_attestation(e: &portcullis_sdk::IndexEntry) -> bool {
    e.annotations.iter().any(|kv| kv.key == "vnd.docker.reference.type")
        || e.platform.as_ref().is_some_and(|p| p.os == "unknown" && p.architecture == "unknown")
}

/// A platform as containerd's `platforms.Normalize` sees it: lower case,
/// `x86_64` is `amd64`, `aarch64` is `arm64`, the default variant implied
/// (`arm64` = `arm64/v8`, shown without it; `arm` = `arm/v7`; `amd64/v1` =
/// `amd64`). Which image a node pulls is decided on this form, so the rules
/// compare this form: `linux/arm64` and `linux/arm64/v8` are one platform.
fn normalise(os: &str, arch: &str, variant: Option<&str>) -> String {
    let os = match os.to_ascii_lowercase().as_str() {
        "macos" => "darwin".to_string(),
        o => o.to_string(),
    };
    let variant = variant.unwrap_or("").to_ascii_lowercase();
    let (arch, variant) = match arch.to_ascii_lowercase().as_str() {
        "i386" | "386" => ("386".to_string(), String::new()),
        "x86_64" | "x86-64" | "amd64" => ("amd64".to_string(), if variant == "v1" { String::new() } else { variant }),
        "aarch64" | "arm64" => (
            "arm64".to_string(),
            match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".to_string(),
                _ => variant,
            },
        ),
        "armhf" => ("arm".to_string(), "v7".to_string()),
        "armel" => ("arm".to_string(), "v6".to_string()),
        "arm" => (
            "arm".to_string(),
            match variant.as_str() {
                "" | "7" => "v7".to_string(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            },
        ),
        a => (a.to_string(), variant),
    };
    if variant.is_empty() { format!("{os}/{arch}") } else { format!("{os}/{arch}/{variant}") }
}

fn short(p: &portcullis_sdk::Platform) -> String {
    normalise(&p.os, &p.architecture, p.variant.as_deref())
}

/// A required `os/arch[/variant]`, normalised.
fn required_form(want: &str) -> String {
    let mut parts = want.splitn(3, '/');
    let (os, arch, variant) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next());
    normalise(os, arch, variant)
}

/// Both sides normalised: `linux/arm64` is covered by `linux/arm64/v8`,
/// `linux/arm` (v7) is not covered by `linux/arm/v6`.
fn covers(have: &str, want: &str) -> bool {
    have == required_form(want)
}

fn on_index(rule: &RuleConfig, index: &Index) -> Finding {
    let id = rule.id.as_str();
    let platforms: Vec<String> =
        index.manifests.iter().filter(|e| !is_attestation(e)).filter_map(|e| e.platform.as_ref().map(short)).collect();
    match id {
        COVERAGE => {
            let required = Params::of(rule).text_list("required_platforms");
            let missing: Vec<&String> = required.iter().filter(|w| !platforms.iter().any(|h| covers(h, w))).collect();
            if missing.is_empty() {
                Finding::pass(id, format!("image index with {}", platforms.join(", ")))
            } else {
                Finding::fail(
                    id,
                    format!(
                        "index has {}; missing {}",
                        platforms.join(", "),
                        missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                )
                .at_pointer("/manifests")
            }
        }
        UNIQUE => {
            let mut seen = std::collections::BTreeMap::new();
            for p in &platforms {
                *seen.entry(p.clone()).or_insert(0) += 1;
            }
            let dup: Vec<String> = seen.iter().filter(|(_, n)| **n > 1).map(|(p, n)| format!("{p} ×{n}")).collect();
            if dup.is_empty() {
                Finding::pass(id, format!("{} entries, {} distinct platforms", platforms.len(), seen.len()))
            } else {
                Finding::fail(id, format!("duplicate platforms: {}", dup.join(", "))).at_pointer("/manifests")
            }
        }
        CONSISTENT => Finding::skip(id, "judged on each platform image"),
        other => Finding::error(other, format!("go-index does not implement rule {other}")),
    }
}

/// The program the runtime executes (shell form runs the shell), located in
/// the image: (the name the config gives, the file it resolves to).
fn program(image: &Image) -> Option<(String, String)> {
    let (argv, _) = command_line(&image.config);
    let name = argv.first()?.clone();
    let entry = locate_program(&name, &image.config.env).ok()??;
    Some((name, entry.path))
}

fn on_image(rule: &RuleConfig, image: &Image) -> Finding {
    let id = rule.id.as_str();
    let in_index = image.subject.parent_index.is_some();
    match id {
        COVERAGE if in_index => Finding::skip(id, "judged on the index"),
        COVERAGE => {
            let p = image
                .subject
                .platform
                .as_ref()
                .map(short)
                .unwrap_or_else(|| format!("{}/{}", image.config.os, image.config.architecture));
            let required = Params::of(rule).text_list("required_platforms");
            if required.iter().all(|w| covers(&p, w)) {
                Finding::pass(id, format!("single manifest ({p}) covers the required platforms"))
            } else {
                Finding::fail(id, format!("single manifest ({p}), not an index covering {}", required.join(", ")))
            }
        }
        UNIQUE => Finding::skip(id, if in_index { "judged on the index" } else { "not an index" }),
        CONSISTENT => {
            let cfg = &image.config;
            let mut problems = Vec::new();
            if in_index
                && let Some(p) = &image.subject.platform
                && {
                    // Variants compared when the config states one.
                    let entry = short(p);
                    let config = normalise(&cfg.os, &cfg.architecture, cfg.variant.as_deref().or(p.variant.as_deref()));
                    entry != config
                }
            {
                problems.push(format!(
                    "index entry says {}, config says {}",
                    short(p),
                    normalise(&cfg.os, &cfg.architecture, cfg.variant.as_deref())
                ));
            }
            let Some((prog, file)) = program(image) else {
                return Finding::skip(id, "no entrypoint program found in the image");
            };
            let elf = match image_scan::binary_at(&file) {
                Ok(Some(b)) => b,
                Ok(None) => return Finding::skip(id, format!("entrypoint {prog} is not an ELF file")),
                Err(why) => return Finding::skip(id, format!("not checked: {why}")),
            };
            if normalise("linux", &elf.goarch, None).split('/').nth(1)
                != normalise("linux", &cfg.architecture, None).split('/').nth(1)
            {
                problems.push(format!(
                    "entrypoint {prog} ({}) is an ELF for {} ({}), the image is {}",
                    elf.path, elf.goarch, elf.machine_name, cfg.architecture
                ));
            }
            if problems.is_empty() {
                Finding::pass(
                    id,
                    format!("{}/{}: config = entrypoint {prog} ELF {}", cfg.os, cfg.architecture, elf.machine_name),
                )
            } else {
                Finding::fail(id, problems.join("; ")).at_path(elf.path, Some(elf.layer))
            }
        }
        other => Finding::error(other, format!("go-index does not implement rule {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_as_containerd_normalises_them() {
        assert_eq!(normalise("linux", "arm64", Some("v8")), "linux/arm64");
        assert_eq!(normalise("Linux", "aarch64", None), "linux/arm64");
        assert_eq!(normalise("linux", "x86_64", Some("v1")), "linux/amd64");
        assert_eq!(normalise("linux", "arm", None), "linux/arm/v7");
        assert_eq!(normalise("linux", "armel", None), "linux/arm/v6");
        assert!(covers("linux/arm64", "linux/arm64/v8"));
        assert!(covers(&normalise("linux", "arm64", Some("v8")), "linux/arm64"));
        assert!(!covers(&normalise("linux", "arm", Some("v6")), "linux/arm"), "arm means arm/v7");
    }
}
