//! JSON as Go reads it: the runtimes (containerd, moby, CRI-O, umoci) decode
//! manifests, indexes and configs with Go's `encoding/json`, which matches an
//! object key to a struct field *case-insensitively* (with Unicode simple
//! folding: `ſ` is an `s`, the Kelvin sign `K` a `k`) and lets a later
//! duplicate win. serde matches exactly and refuses duplicates of known
//! fields only, so `{"User":"app","user":"root"}` would be read as `app`
//! here and run as `root` there. Rather than guess which spelling a given
//! runtime honours, documents the two readers could read differently are
//! refused, naming the key:
//! - a key that Go maps to one of our fields but that is not spelled exactly
//!   as the field (`user`, `Uſer`, `CONFIG`);
//! - two keys of one object that Go maps to the same field;
//! - an exact duplicate key in any object, maps included.
//!
//! The walk is a serde visitor over the document (depth already bounded by
//! [`crate::nesting`]), guided by a [`Shape`] that says which objects are
//! structs (field names fixed) and which are maps (keys are data).

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// What the runtime decodes a JSON value into.
#[derive(Debug)]
pub enum Shape {
    /// A Go struct: these fields, each with its own shape.
    Struct(&'static [(&'static str, Shape)]),
    /// A Go map: keys are data (compared exactly), values of one shape.
    Map(&'static Shape),
    /// A Go slice.
    List(&'static Shape),
    /// A scalar, or something we do not decode.
    Any,
}

use Shape::{Any, List, Map, Struct};

const PLATFORM: Shape = Struct(&[
    ("architecture", Any),
    ("os", Any),
    ("os.version", Any),
    ("os.features", Any),
    ("variant", Any),
    ("features", Any),
]);

const DESCRIPTOR_FIELDS: Shape = Struct(&[
    ("mediaType", Any),
    ("digest", Any),
    ("size", Any),
    ("urls", Any),
    ("annotations", Map(&Any)),
    ("data", Any),
    ("platform", PLATFORM),
    ("artifactType", Any),
]);

pub static DESCRIPTOR: Shape = DESCRIPTOR_FIELDS;

pub static MANIFEST: Shape = Struct(&[
    ("schemaVersion", Any),
    ("mediaType", Any),
    ("artifactType", Any),
    ("config", DESCRIPTOR_FIELDS),
    ("layers", List(&DESCRIPTOR_FIELDS)),
    ("subject", DESCRIPTOR_FIELDS),
    ("annotations", Map(&Any)),
]);

pub static INDEX: Shape = Struct(&[
    ("schemaVersion", Any),
    ("mediaType", Any),
    ("artifactType", Any),
    ("manifests", List(&DESCRIPTOR_FIELDS)),
    ("subject", DESCRIPTOR_FIELDS),
    ("annotations", Map(&Any)),
]);

const HEALTHCHECK: Shape =
    Struct(&[("Test", Any), ("Interval", Any), ("Timeout", Any), ("StartPeriod", Any), ("Retries", Any)]);

const RUNTIME: Shape = Struct(&[
    ("User", Any),
    ("ExposedPorts", Map(&Any)),
    ("Env", Any),
    ("Entrypoint", Any),
    ("Cmd", Any),
    ("Volumes", Map(&Any)),
    ("WorkingDir", Any),
    ("Labels", Map(&Any)),
    ("StopSignal", Any),
    ("ArgsEscaped", Any),
    ("Healthcheck", HEALTHCHECK),
]);

const HISTORY: Shape =
    Struct(&[("created", Any), ("author", Any), ("created_by", Any), ("comment", Any), ("empty_layer", Any)]);

pub static CONFIG: Shape = Struct(&[
    ("created", Any),
    ("author", Any),
    ("architecture", Any),
    ("os", Any),
    ("os.version", Any),
    ("os.features", Any),
    ("variant", Any),
    ("config", RUNTIME),
    ("rootfs", Struct(&[("type", Any), ("diff_ids", Any)])),
    ("history", List(&HISTORY)),
]);

pub static LAYOUT_HEADER: Shape = Struct(&[("imageLayoutVersion", Any)]);

/// `docker save`'s `manifest.json`: a list of these.
pub static DOCKER_ARCHIVE: Shape =
    List(&Struct(&[("Config", Any), ("RepoTags", Any), ("Layers", Any), ("LayerSources", Map(&DESCRIPTOR_FIELDS))]));

/// Go's case folding of a key, for comparison with an ASCII field name:
/// ASCII letters, the long s and the Kelvin sign fold; nothing else can
/// equal an ASCII name.
fn folds_to(key: &str, field: &str) -> bool {
    let mut k = key.chars();
    let mut f = field.chars();
    loop {
        match (k.next(), f.next()) {
            (None, None) => return true,
            (Some(kc), Some(fc)) => {
                let kc = match kc {
                    '\u{017f}' => 's',
                    '\u{212a}' => 'k',
                    c => c.to_ascii_lowercase(),
                };
                if kc != fc.to_ascii_lowercase() {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Checks `bytes` against `shape`; the error is a JSON path and a message.
pub fn check(bytes: &[u8], shape: &'static Shape) -> Result<(), (String, String)> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut problem = None;
    let seed = Walk { shape, path: String::new(), problem: &mut problem };
    match seed.deserialize(&mut de) {
        Ok(()) => Ok(()),
        Err(e) => Err(problem.unwrap_or_else(|| (String::new(), e.to_string()))),
    }
}

struct Walk<'p> {
    shape: &'static Shape,
    path: String,
    problem: &'p mut Option<(String, String)>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Walk<'_> {
    fn child(&mut self, shape: &'static Shape, segment: String) -> Walk<'_> {
        Walk { shape, path: segment, problem: self.problem }
    }
    fn join(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_string() } else { format!("{}.{key}", self.path) }
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let element = match self.shape {
            List(s) => *s,
            _ => &Any,
        };
        let mut i = 0usize;
        loop {
            let path = format!("{}[{i}]", self.path);
            if seq.next_element_seed(self.child(element, path))?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut keys: Vec<String> = Vec::new();
        let mut fields_seen: Vec<(&'static str, String)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let at = self.join(&key);
            if keys.contains(&key) {
                *self.problem = Some((
                    at,
                    format!(
                        "the key `{key}` appears twice (Go's encoding/json, which the runtime uses, takes the last)"
                    ),
                ));
                return Err(de::Error::custom("duplicate key"));
            }
            let value_shape = match self.shape {
                Struct(fields) => {
                    let exact = fields.iter().find(|(name, _)| *name == key);
                    let folded = exact.or_else(|| fields.iter().find(|(name, _)| folds_to(&key, name)));
                    match (exact, folded) {
                        (Some((name, shape)), _) | (None, Some((name, shape))) => {
                            if exact.is_none() {
                                *self.problem = Some((
                                    at,
                                    format!(
                                        "the key `{key}` is read as `{name}` by Go's encoding/json (the runtime) but not by exact readers; spell it `{name}`"
                                    ),
                                ));
                                return Err(de::Error::custom("case variant"));
                            }
                            if let Some((_, other)) = fields_seen.iter().find(|(n, _)| n == name) {
                                *self.problem = Some((
                                    at,
                                    format!(
                                        "`{key}` and `{other}` are the same field to Go's encoding/json (the runtime takes the last)"
                                    ),
                                ));
                                return Err(de::Error::custom("folded duplicate"));
                            }
                            fields_seen.push((name, key.clone()));
                            shape
                        }
                        (None, None) => &Any,
                    }
                }
                Map(values) => *values,
                _ => &Any,
            };
            let path = at;
            map.next_value_seed(self.child(value_shape, path))?;
            keys.push(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_variants_and_duplicates_are_refused() {
        let ok = br#"{"architecture":"amd64","os":"linux","config":{"User":"app","Labels":{"a":"1","A":"2"}},"rootfs":{"type":"layers","diff_ids":[]}}"#;
        assert_eq!(check(ok, &CONFIG), Ok(()));
        let later_user = br#"{"config":{"User":"app","user":"root"}}"#;
        assert_eq!(check(later_user, &CONFIG).unwrap_err().0, "config.user");
        let long_s = "{\"config\":{\"U\u{017f}er\":\"root\"}}";
        assert!(check(long_s.as_bytes(), &CONFIG).unwrap_err().1.contains("read as `User`"));
        let upper = br#"{"Config":{"User":"root"}}"#;
        assert!(check(upper, &CONFIG).unwrap_err().1.contains("spell it `config`"));
        let dup = br#"{"config":{"Labels":{"a":"1","a":"2"}}}"#;
        assert_eq!(check(dup, &CONFIG).unwrap_err().0, "config.Labels.a");
        let layers = br#"{"schemaVersion":2,"layers":[{"digest":"x","Digest":"y"}]}"#;
        assert!(check(layers, &MANIFEST).unwrap_err().0.starts_with("layers[0]"));
        // Unknown keys are nobody's business, in any case.
        assert_eq!(check(br#"{"Hostname":"a","hostname":"b"}"#, &CONFIG), Ok(()));
    }
}
