//! The static types of custom-rule expressions.
//!
//! The cel crate runs expressions but does not type-check them, and a rule
//! that only fails when it meets a subject (`labels.owner > 3`) would be an
//! error finding on every image. So expressions are checked against these
//! types when the policy loads. `Dyn` is the escape hatch: a value whose
//! type is not known statically (`dyn(x)`, a mixed list), accepted wherever
//! a type is expected and checked by the interpreter at run time.

use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Dyn,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    List(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
    /// A record of the evidence (a CEL map with known keys).
    Object(Arc<Object>),
    /// The `files` variable: only its functions (`exists`, `stat`, `glob`).
    Files,
    /// The value of `type(x)`.
    Type,
}

/// A record of the evidence, as an expression sees it: a map whose keys are
/// the fields. An optional field is absent from the map when the evidence
/// has no value for it: test it with `has(x.field)` first.
#[derive(Debug, PartialEq)]
pub struct Object {
    pub name: &'static str,
    pub fields: Vec<Field>,
}

#[derive(Debug, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub optional: bool,
    pub doc: &'static str,
}

impl Object {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

impl Ty {
    pub fn list(t: Ty) -> Ty {
        Ty::List(Box::new(t))
    }

    pub fn map(k: Ty, v: Ty) -> Ty {
        Ty::Map(Box::new(k), Box::new(v))
    }

    pub fn is_dyn(&self) -> bool {
        matches!(self, Ty::Dyn)
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double)
    }

    /// Whether a value of this type can stand where `want` is expected.
    pub fn fits(&self, want: &Ty) -> bool {
        match (self, want) {
            (Ty::Dyn, _) | (_, Ty::Dyn) => true,
            (Ty::List(a), Ty::List(b)) => a.fits(b),
            (Ty::Map(ka, va), Ty::Map(kb, vb)) => ka.fits(kb) && va.fits(vb),
            (Ty::Object(a), Ty::Object(b)) => a.name == b.name,
            // An evidence record is a map with string keys.
            (Ty::Object(_), Ty::Map(k, _)) | (Ty::Map(k, _), Ty::Object(_)) => k.fits(&Ty::String),
            (a, b) => a == b,
        }
    }

    /// The type of a value that is one of two: the same type, or `Dyn`
    /// when they differ (a `dyn` side gives way to the other).
    pub fn join(&self, other: &Ty) -> Ty {
        match (self, other) {
            (Ty::Dyn, t) | (t, Ty::Dyn) => t.clone(),
            (Ty::Null, t) | (t, Ty::Null) => t.clone(),
            (Ty::List(a), Ty::List(b)) => Ty::list(a.join(b)),
            (Ty::Map(ka, va), Ty::Map(kb, vb)) => Ty::map(ka.join(kb), va.join(vb)),
            (a, b) if a == b => a.clone(),
            _ => Ty::Dyn,
        }
    }

    /// Whether `==` between values of these types can be true (CEL compares
    /// numbers across int, uint and double; anything may be compared with
    /// null or a value of unknown type).
    pub fn comparable(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Dyn, _) | (_, Ty::Dyn) | (Ty::Null, _) | (_, Ty::Null) => true,
            (a, b) if a.is_numeric() && b.is_numeric() => true,
            (Ty::List(a), Ty::List(b)) => a.comparable(b),
            (Ty::Map(ka, va), Ty::Map(kb, vb)) => ka.comparable(kb) && va.comparable(vb),
            (a, b) => a.fits(b),
        }
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Dyn => f.write_str("dyn"),
            Ty::Null => f.write_str("null"),
            Ty::Bool => f.write_str("bool"),
            Ty::Int => f.write_str("int"),
            Ty::Uint => f.write_str("uint"),
            Ty::Double => f.write_str("double"),
            Ty::String => f.write_str("string"),
            Ty::Bytes => f.write_str("bytes"),
            Ty::List(t) => write!(f, "list({t})"),
            Ty::Map(k, v) => write!(f, "map({k}, {v})"),
            Ty::Object(o) => f.write_str(o.name),
            Ty::Files => f.write_str("files"),
            Ty::Type => f.write_str("type"),
        }
    }
}
