//! CycloneDX JSON, read in pieces so that memory stays a small multiple of
//! the document.
//!
//! `cyclonedx-bom`'s types hold every optional field of the 1.5 schema
//! inline, so a component costs kilobytes whatever it holds, and the crate
//! converts a whole document from its spec types into its model types at
//! once: read in one go, a large SBOM peaked at ten times its size. Here the
//! document is split first, borrowing from the bytes (`RawValue`, nothing
//! copied): the top level without its components and dependencies, then the
//! components — flattened out of their nesting, in document order — and the
//! dependencies. Each piece still goes through `cyclonedx-bom`, as a small
//! document of the same version holding up to [`BATCH`] of them; a batch is
//! normalised into the model and dropped before the next is read.
//!
//! Documents newer than the crate reads (1.6, 1.7) are projected onto the
//! fields the model reads, piece by piece (see [`project_fields`]).

use super::super::model::{Component, Dependency, Sbom};
use super::super::{Format, SbomError};
use super::{component, normalise, reader_version};
use cyclonedx_bom::models::bom::{Bom, SpecVersion};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt::Write as _;

/// Components (or dependencies) handed to `cyclonedx-bom` in one document:
/// enough that the per-document cost vanishes, few enough that a batch of
/// the largest components stays a few megabytes.
const BATCH: usize = 256;

/// Reads CycloneDX JSON bytes (`declared`: the version identification read)
/// into the normalised model.
pub(in crate::sbom) fn from_json_bytes(bytes: &[u8], declared: &str) -> Result<Sbom, SbomError> {
    from_json_batched(bytes, declared, BATCH)
}

/// [`from_json_bytes`] with the batch size given (tests compare sizes).
pub(in crate::sbom) fn from_json_batched(bytes: &[u8], declared: &str, batch: usize) -> Result<Sbom, SbomError> {
    let read_as = reader_version(declared).ok_or_else(|| SbomError::Unsupported {
        what: format!("CycloneDX JSON {declared}"),
        supported: "1.2 to 1.7",
    })?;
    let version = match read_as {
        "1.3" => SpecVersion::V1_3,
        "1.4" => SpecVersion::V1_4,
        _ => SpecVersion::V1_5,
    };
    let mut reader = Reader { read_as, version, lowered: read_as != declared, dropped: 0 };
    let top: Members = serde_json::from_slice(bytes).map_err(json_error)?;

    // The top level, without the lists read in pieces.
    let mut header = Object::default();
    let (mut described_children, mut components, mut dependencies) = (Vec::new(), Vec::new(), Vec::new());
    for (key, raw) in top.0 {
        match &*key {
            "specVersion" if !raw.get().starts_with('"') => {
                return Err(SbomError::Invalid { pointer: "/specVersion".into(), message: "not a string".into() });
            }
            "specVersion" => header.push(&key, &quoted(read_as)),
            "components" => components = list(raw, "/components")?,
            "dependencies" => dependencies = list(raw, "/dependencies")?,
            "metadata" => {
                let (metadata, children) = reader.metadata(raw)?;
                header.push(&key, &metadata);
                described_children = children;
            }
            "bomFormat" | "serialNumber" | "version" => header.push(&key, raw.get()),
            _ if reader.lowered => reader.dropped += 1,
            _ => header.push(&key, raw.get()),
        }
    }
    let header = reader.parse(header.finish(), "/")?;
    let mut notes = Vec::new();
    if reader.lowered {
        notes.push(format!(
            "CycloneDX {declared} read as {read_as} by cyclonedx-bom 0.8.1; fields {read_as} lacks are not in the model"
        ));
    }
    let mut sbom = normalise(header, Format::CyclonedxJson, declared.to_string(), notes);

    // Components at every depth, in document order: those nested under the
    // described component first, then the document's, each followed by its
    // own (see `normalise`: the model is flat).
    let mut stack: Vec<(&RawValue, String)> = Vec::with_capacity(described_children.len() + components.len());
    let described =
        described_children.iter().enumerate().map(|(i, c)| (*c, format!("metadata.component.components[{i}]")));
    let listed = components.iter().enumerate().map(|(i, c)| (*c, format!("components[{i}]")));
    stack.extend(described.chain(listed).collect::<Vec<_>>().into_iter().rev());
    let mut pending: Vec<(String, String)> = Vec::with_capacity(batch);
    while let Some((raw, at)) = stack.pop() {
        let (text, children) = reader.component(raw, &at)?;
        for (i, child) in children.iter().enumerate().rev() {
            stack.push((child, format!("{at}.components[{i}]")));
        }
        pending.push((text, at));
        if pending.len() == batch {
            reader.components(&mut pending, &mut sbom.components)?;
        }
    }
    reader.components(&mut pending, &mut sbom.components)?;
    drop(components);

    for (i, chunk) in dependencies.chunks(batch).enumerate() {
        let texts = chunk
            .iter()
            .enumerate()
            .map(|(j, d)| reader.dependency(d, i * batch + j))
            .collect::<Result<Vec<_>, _>>()?;
        reader.dependencies(&texts, i * batch, &mut sbom.dependencies)?;
    }
    if reader.dropped > 0 {
        sbom.notes.push(format!("{} field(s) outside the model set aside before reading", reader.dropped));
    }
    Ok(sbom)
}

/// What every piece of one document is read with.
struct Reader {
    read_as: &'static str,
    version: SpecVersion,
    /// Read as an older version than declared: pieces are projected.
    lowered: bool,
    /// Fields set aside by the projection.
    dropped: usize,
}

impl Reader {
    /// `metadata` for the header, without the components nested under the
    /// described component, which are returned to be read as pieces.
    fn metadata<'a>(&mut self, raw: &'a RawValue) -> Result<(String, Vec<&'a RawValue>), SbomError> {
        let members = members(raw, "/metadata")?;
        let mut out = Object::default();
        let mut children = Vec::new();
        for (key, value) in members.0 {
            match &*key {
                "component" => {
                    let (text, nested) = self.component(value, "metadata.component")?;
                    out.push(&key, &text);
                    children = nested;
                }
                "tools" if self.lowered => {
                    let mut tools = value_of(value, "/metadata/tools")?;
                    if let Value::Object(tools) = &mut tools {
                        self.dropped += tools.len() - usize::from(tools.contains_key("components"));
                        tools.retain(|k, _| k == "components");
                        if let Some(Value::Array(cs)) = tools.get_mut("components") {
                            cs.iter_mut().for_each(|c| self.dropped += project_component(c));
                        }
                    }
                    out.push(&key, &tools.to_string());
                }
                "timestamp" => out.push(&key, value.get()),
                _ if self.lowered => self.dropped += 1,
                _ => out.push(&key, value.get()),
            }
        }
        Ok((out.finish(), children))
    }

    /// One component as the text of a component without its nested
    /// components, which are returned to be read as pieces of their own.
    fn component<'a>(&mut self, raw: &'a RawValue, at: &str) -> Result<(String, Vec<&'a RawValue>), SbomError> {
        let members = members(raw, &pointer(at))?;
        let mut children = Vec::new();
        let mut out = Object::default();
        let mut kept = Map::new();
        for (key, value) in members.0 {
            if key == "components" {
                children = list(value, &format!("{}/components", pointer(at)))?;
            } else if !self.lowered {
                out.push(&key, value.get());
            } else if COMPONENT_FIELDS.contains(&&*key) {
                kept.insert(key.into_owned(), value_of(value, &pointer(at))?);
            } else {
                self.dropped += 1;
            }
        }
        if self.lowered {
            project_fields(&mut kept);
            return Ok((Value::Object(kept).to_string(), children));
        }
        Ok((out.finish(), children))
    }

    /// One dependency's text (projected to `ref` and `dependsOn` when lowered).
    fn dependency(&mut self, raw: &RawValue, index: usize) -> Result<String, SbomError> {
        if !self.lowered {
            return Ok(raw.get().to_string());
        }
        let mut out = Object::default();
        for (key, value) in members(raw, &format!("/dependencies/{index}"))?.0 {
            if key == "ref" || key == "dependsOn" {
                out.push(&key, value.get());
            }
        }
        Ok(out.finish())
    }

    /// Reads a batch of component texts and adds them to `into`, emptying
    /// `pending`.
    fn components(&self, pending: &mut Vec<(String, String)>, into: &mut Vec<Component>) -> Result<(), SbomError> {
        if pending.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = pending.iter().map(|(t, _)| t.as_str()).collect();
        let bom = self.batch_of("components", &texts, |i| pointer(&pending[i].1))?;
        let read = bom.components.map(|c| c.0).unwrap_or_default();
        if read.len() != pending.len() {
            return Err(SbomError::Parse {
                message: format!("cyclonedx-bom read {} of {} components", read.len(), pending.len()),
            });
        }
        into.extend(read.iter().zip(pending.iter()).map(|(c, (_, at))| component(c, at)));
        pending.clear();
        Ok(())
    }

    /// Reads a batch of dependency texts (the first at `first`) into `into`.
    fn dependencies(&self, texts: &[String], first: usize, into: &mut Vec<Dependency>) -> Result<(), SbomError> {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let bom = self.batch_of("dependencies", &texts, |i| format!("/dependencies/{}", first + i))?;
        into.extend(
            bom.dependencies
                .into_iter()
                .flat_map(|d| d.0)
                .map(|d| Dependency { reference: d.dependency_ref, depends_on: d.dependencies }),
        );
        Ok(())
    }

    /// A document of this version holding only `texts` as its `field` list.
    /// When it does not read, each piece is read alone to name the one that
    /// is wrong (`where_` gives its JSON pointer).
    fn batch_of(&self, field: &str, texts: &[&str], where_: impl Fn(usize) -> String) -> Result<Bom, SbomError> {
        let doc = |texts: &[&str]| {
            let mut doc =
                format!(r#"{{"bomFormat":"CycloneDX","specVersion":"{}","version":1,"{field}":["#, self.read_as);
            for (i, t) in texts.iter().enumerate() {
                if i > 0 {
                    doc.push(',');
                }
                doc.push_str(t);
            }
            doc.push_str("]}");
            doc
        };
        match Bom::parse_from_json_with_version(doc(texts).as_bytes(), self.version) {
            Ok(bom) => Ok(bom),
            Err(whole) => {
                for (i, t) in texts.iter().enumerate() {
                    if let Err(e) = Bom::parse_from_json_with_version(doc(&[t]).as_bytes(), self.version) {
                        return Err(SbomError::Invalid { pointer: where_(i), message: crate_message(&e) });
                    }
                }
                Err(SbomError::Parse { message: whole.to_string() })
            }
        }
    }

    /// Reads the header document (`at`: where it is, for the error).
    fn parse(&self, text: String, at: &str) -> Result<Bom, SbomError> {
        Bom::parse_from_json_with_version(text.as_bytes(), self.version)
            .map_err(|e| SbomError::Invalid { pointer: at.to_string(), message: crate_message(&e) })
    }
}

/// The fields of a component the model reads (the 1.5 shape of each is
/// unchanged in 1.6 and 1.7).
const COMPONENT_FIELDS: &[&str] = &[
    "type",
    "bom-ref",
    "supplier",
    "author",
    "publisher",
    "group",
    "name",
    "version",
    "hashes",
    "licenses",
    "cpe",
    "purl",
];

/// Projects one component's own fields (not its nested components) onto
/// what the model reads, in the 1.5 shape: the supplier's name, licences by
/// id, name or expression.
fn project_fields(map: &mut Map<String, Value>) {
    if let Some(Value::Object(s)) = map.get_mut("supplier") {
        s.retain(|k, _| k == "name");
    }
    if let Some(Value::Array(ls)) = map.get_mut("licenses") {
        for l in ls.iter_mut() {
            let Value::Object(l) = l else { continue };
            l.retain(|k, _| k == "license" || k == "expression");
            if let Some(Value::Object(lic)) = l.get_mut("license") {
                lic.retain(|k, _| k == "id" || k == "name");
            }
        }
    }
}

/// Projects a whole component tree held as a value (the metadata's tools);
/// returns how many fields were dropped.
fn project_component(c: &mut Value) -> usize {
    let Value::Object(map) = c else { return 0 };
    let before = map.len();
    map.retain(|k, _| k == "components" || COMPONENT_FIELDS.contains(&k.as_str()));
    let mut dropped = before - map.len();
    project_fields(map);
    if let Some(Value::Array(children)) = map.get_mut("components") {
        children.iter_mut().for_each(|c| dropped += project_component(c));
    }
    dropped
}

/// One JSON object's members in document order, their values unread. A key
/// given twice is refused, as `cyclonedx-bom`'s own types refuse it.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

/// A key, borrowed from the document unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut out = Vec::new();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    out.push((key, map.next_value::<&'de RawValue>()?));
                }
                let mut keys: Vec<&str> = out.iter().map(|(k, _)| &**k).collect();
                keys.sort_unstable();
                if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
                    return Err(de::Error::custom(format_args!("duplicate field `{}`", w[0])));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// An object written back from members, their values as they were.
#[derive(Default)]
struct Object(String);

impl Object {
    fn push(&mut self, key: &str, value: &str) {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        let _ = write!(self.0, "{}:{value}", quoted(key));
    }
    fn finish(mut self) -> String {
        if self.0.is_empty() {
            self.0.push('{');
        }
        self.0.push('}');
        self.0
    }
}

fn quoted(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

fn members<'a>(raw: &'a RawValue, at: &str) -> Result<Members<'a>, SbomError> {
    serde_json::from_str(raw.get()).map_err(|e| invalid(at, &e))
}

fn list<'a>(raw: &'a RawValue, at: &str) -> Result<Vec<&'a RawValue>, SbomError> {
    serde_json::from_str(raw.get()).map_err(|e| invalid(at, &e))
}

fn value_of(raw: &RawValue, at: &str) -> Result<Value, SbomError> {
    serde_json::from_str(raw.get()).map_err(|e| invalid(at, &e))
}

fn invalid(at: &str, e: &serde_json::Error) -> SbomError {
    SbomError::Invalid { pointer: at.to_string(), message: without_position(&e.to_string()) }
}

/// A syntax error in the document keeps its line and column; anything else
/// (the top level not an object, a duplicate key) says what it is.
fn json_error(e: serde_json::Error) -> SbomError {
    let message = without_position(&e.to_string());
    if e.is_syntax() || e.is_eof() {
        SbomError::Syntax { line: e.line(), column: e.column(), message }
    } else {
        SbomError::At { line: e.line(), message }
    }
}

/// `cyclonedx-bom`'s message for a piece, without the position inside the
/// small document it was read from (it would mislead).
fn crate_message(e: &cyclonedx_bom::errors::JsonReadError) -> String {
    without_position(&e.to_string())
}

fn without_position(message: &str) -> String {
    message.split(" at line ").next().unwrap_or_default().to_string()
}

/// `components[3].components[0]` as the JSON pointer `/components/3/components/0`.
fn pointer(at: &str) -> String {
    let mut out = String::new();
    for part in at.split('.') {
        match part.split_once('[') {
            Some((name, index)) => {
                let _ = write!(out, "/{name}/{}", index.trim_end_matches(']'));
            }
            None => {
                let _ = write!(out, "/{part}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_follow_the_nesting() {
        assert_eq!(pointer("components[3].components[0]"), "/components/3/components/0");
        assert_eq!(pointer("metadata.component"), "/metadata/component");
    }

    /// A wrong component deep in a large document is named by where it is.
    #[test]
    fn a_wrong_piece_is_named() {
        let mut components: Vec<Value> =
            (0..40).map(|i| serde_json::json!({"type": "library", "name": format!("c{i}")})).collect();
        components[33] = serde_json::json!({"type": "library", "name": ["not", "a", "string"]});
        let doc =
            serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": components});
        let e = from_json_batched(doc.to_string().as_bytes(), "1.5", 8).unwrap_err().to_string();
        assert!(e.starts_with("at /components/33: "), "{e}");
    }

    /// Duplicate keys are refused wherever they are, not last-wins.
    #[test]
    fn duplicate_keys_are_refused() {
        for doc in [
            r#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"version":2}"#,
            r#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{"type":"library","name":"a","name":"b"}]}"#,
        ] {
            let declared = if doc.contains("1.6") { "1.6" } else { "1.5" };
            let e = from_json_bytes(doc.as_bytes(), declared).unwrap_err().to_string();
            assert!(e.contains("duplicate field `"), "{doc}: {e}");
        }
    }

    /// Against every valid JSON vector of CycloneDX's specification
    /// repository: reading in pieces of one or of [`BATCH`] gives the same
    /// model, and for the versions `cyclonedx-bom` reads as they are, the
    /// same model as the crate reading the whole document at once.
    #[test]
    fn pieces_read_as_the_whole_document() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/cyclonedx-specification");
        let expected: Vec<Value> = serde_json::from_slice(
            &std::fs::read(root.join("expected.json")).expect("../shared/corpus beside the repo"),
        )
        .unwrap();
        let (mut compared, mut whole) = (0, 0);
        for v in expected.iter().filter(|v| v["format"] == "json" && v["expected"] == "valid") {
            let version = v["spec_version"].as_str().unwrap_or_default();
            let Some(read_as) = reader_version(version) else { continue };
            let bytes = std::fs::read(root.join(v["file"].as_str().unwrap())).unwrap();
            let one = from_json_batched(&bytes, version, 1).unwrap();
            assert_eq!(one, from_json_batched(&bytes, version, BATCH).unwrap(), "{}", v["file"]);
            compared += 1;
            if read_as == version {
                let spec = match version {
                    "1.3" => SpecVersion::V1_3,
                    "1.4" => SpecVersion::V1_4,
                    _ => SpecVersion::V1_5,
                };
                let bom = Bom::parse_from_json_with_version(&bytes[..], spec).unwrap();
                assert_eq!(
                    one,
                    normalise(bom, Format::CyclonedxJson, version.to_string(), Vec::new()),
                    "{}",
                    v["file"]
                );
                whole += 1;
            }
        }
        assert!(compared > 100 && whole > 50, "{compared} vectors compared, {whole} against the whole document");
    }
}
