//! What the checker accepts and refuses, and where it points.

use super::*;

fn problems(source: &str, target: Target, role: Role) -> Vec<Problem> {
    match compile(&env(), source, &[target], role) {
        Ok(_) => Vec::new(),
        Err(p) => p,
    }
}

fn accepts(source: &str, target: Target) {
    let p = problems(source, target, Role::Condition);
    assert!(p.is_empty(), "{source}: {p:#?}");
}

/// The one problem of `source`, and the text it points at.
fn refuses(source: &str, target: Target, role: Role) -> (Problem, &str) {
    let p = problems(source, target, role);
    assert_eq!(p.len(), 1, "{source}: {p:#?}");
    let text = &source[p[0].range.clone()];
    (p[0].clone(), text)
}

#[test]
fn typical_rules_check() {
    for source in [
        "'owner' in labels && labels['owner'] != ''",
        "has(config.user) && config.user != 'root' && config.user != '0'",
        "config.run_as.uid != 0",
        "!('DEBUG' in env) || env['DEBUG'] == 'false'",
        "!files.exists('/bin/sh') && files.glob('/usr/bin/*sh').size() == 0",
        "files.stat('/etc/passwd').mode <= 420",
        "binaries.all(b, !has(b.go) || compareVersions(b.go.version, 'go1.22.5') >= 0)",
        "packages.filter(p, p.name == 'openssl').all(p, compareVersions('deb', p.version, '3.0.11-1') >= 0)",
        "signatures.exists(s, s.verified && has(s.identity) && s.identity.sans.exists(n, n.startsWith('https://github.com/acme/')))",
        "sbom.components.all(c, !has(c.license) || !c.license.contains('GPL-3.0'))",
        "layers.size() <= 20 && layers.map(l, l.size).all(s, s < 500 * 1024 * 1024)",
        "config.env.exists(e, e.matches('^PATH=')) && platform.architecture in ['amd64', 'arm64']",
        "vulnerabilities.all(v, !has(v.score) || v.score < 9.0 || !has(v.fixed))",
        "subject.reference.split('/').size() > 1 && config.exposed_ports.all(p, int(p.split('/')[0]) >= 1024)",
        "type(labels) == map && type(config.env) == list && type(layers[0].size) == int",
    ] {
        accepts(source, Target::Image);
    }
    accepts(
        "workload.containers.all(c, has(c.security_context) && has(c.security_context.privileged) && !c.security_context.privileged)",
        Target::Workload,
    );
    accepts("!workload.namespace.startsWith('kube-') || workload.kind != 'Pod'", Target::Workload);
    accepts("manifests.exists(m, has(m.platform) && m.platform.architecture == 'arm64')", Target::Index);
}

#[test]
fn a_misspelt_field_is_named_with_a_suggestion() {
    let source = "labels.owner == 'x' && config.usr != 'root'";
    let (p, text) = refuses(source, Target::Image, Role::Condition);
    assert!(p.message.contains("`config` has no field `usr`"), "{p:?}");
    assert_eq!(p.note.as_deref(), Some("did you mean `user`?"));
    assert_eq!(text, ".usr");
}

#[test]
fn an_undeclared_variable_is_named_with_a_suggestion() {
    let (p, text) = refuses("lables.owner == 'x'", Target::Image, Role::Condition);
    assert_eq!(text, "lables");
    assert_eq!(p.note.as_deref(), Some("did you mean `labels`?"));
}

#[test]
fn a_variable_of_another_target_says_so() {
    let (p, _) = refuses("workload.kind == 'Pod'", Target::Image, Role::Condition);
    assert!(p.note.unwrap().contains("rules on workload subjects"));
}

#[test]
fn type_errors_point_at_the_operator() {
    let source = "config.user > 3";
    let (p, text) = refuses(source, Target::Image, Role::Condition);
    assert!(p.message.contains("cannot order string and int"), "{p:?}");
    assert_eq!(text, ">");
    let (p, _) = refuses("layers.size() == 'three'", Target::Image, Role::Condition);
    assert!(p.message.contains("comparing int with string"), "{p:?}");
    assert!(p.note.unwrap().contains("int(s)"));
}

#[test]
fn the_result_must_be_of_the_role() {
    let (p, _) = refuses("labels['owner']", Target::Image, Role::Condition);
    assert!(p.message.contains("the expression is string, and must be bool"), "{p:?}");
    let (p, _) = refuses("layers.size()", Target::Image, Role::Message);
    assert!(p.message.contains("must be string"), "{p:?}");
    assert!(problems("'layers: ' + string(layers.size())", Target::Image, Role::Message).is_empty());
}

#[test]
fn syntax_errors_are_at_their_line_and_column() {
    let source = "labels.owner == 'x' &&\n  (config.user != 'root' ||";
    let p = problems(source, Target::Image, Role::Condition);
    assert!(!p.is_empty());
    assert!(p[0].message.starts_with("syntax error"), "{p:?}");
    assert_eq!(p[0].range.start, source.len(), "end of input: {p:?}");
    let p = problems("labels.owner === 'x'", Target::Image, Role::Condition);
    assert_eq!(p[0].range.start, 15, "{p:?}");
}

#[test]
fn unknown_functions_and_bad_arguments() {
    let (p, _) = refuses("labels['a'].startswith('x')", Target::Image, Role::Condition);
    assert!(p.message.contains("unknown method `startswith`"), "{p:?}");
    assert_eq!(p.note.as_deref(), Some("did you mean `startsWith`?"));
    let (p, _) = refuses("files.exists(3)", Target::Image, Role::Condition);
    assert!(p.message.contains("argument 1 of `exists` must be string, not int"), "{p:?}");
    let (p, _) = refuses("compareVersions('rpm', 'a', 'b') > 0", Target::Image, Role::Condition);
    assert!(p.message.contains("unknown version scheme `rpm`"), "{p:?}");
    let (p, text) = refuses("config.user.matches('[a-')", Target::Image, Role::Condition);
    assert!(p.message.contains("invalid regular expression"), "{p:?}");
    assert_eq!(text, "'[a-'");
}

#[test]
fn every_problem_is_reported() {
    let p = problems("lables.owner == 'x' && config.usr == 'y' && files.size() > 0", Target::Image, Role::Condition);
    assert_eq!(p.len(), 3, "{p:#?}");
}

#[test]
fn non_ascii_text_keeps_byte_ranges() {
    let source = "labels['é'] == 'ü' && config.usr == ''";
    let (p, text) = refuses(source, Target::Image, Role::Condition);
    assert_eq!(text, ".usr");
    assert_eq!(p.range.start, source.find(".usr").unwrap());
}

#[test]
fn syntax_errors_after_non_ascii_text() {
    let source = "labels['é'] == 'ü' &&";
    let p = problems(source, Target::Image, Role::Condition);
    assert_eq!(p[0].range.start, source.len(), "{p:?}");
}

#[test]
fn the_reference_in_docs_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/custom-rules-reference.md");
    let fresh = doc::reference();
    if std::env::var_os("PORTCULLIS_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale: run PORTCULLIS_UPDATE_DOCS=1 cargo test -p portcullis-cel",
        path.display()
    );
}
