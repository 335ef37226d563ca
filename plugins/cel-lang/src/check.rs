//! The type checker: every identifier, field, operator and function of an
//! expression against the schema of its target, before any subject is seen.
//!
//! It reports every problem it finds, each at the characters of the
//! expression it is about, with "did you mean" for a misspelt variable,
//! field or function. Where it cannot know a type (`dyn`), it lets the
//! expression through and the interpreter decides at run time (an error
//! there is an `error` finding: the rule fails closed).

use crate::schema::{self, Function, Target, Variable};

use crate::types::Ty;
use crate::{Problem, char_range};
use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue, SourceInfo, operators as op};

pub(crate) struct Checker<'a> {
    source: &'a str,
    info: &'a SourceInfo,
    target: Target,
    vars: Vec<Variable>,
    funcs: Vec<Function>,
    /// Comprehension variables in scope, innermost last.
    scopes: Vec<(String, Ty)>,
    pub(crate) problems: Vec<Problem>,
}

/// Standard functions and their result types, by receiver type, for those
/// whose arguments are simple: `(name, receiver, args, result)`.
fn standard(name: &str, receiver: &Ty, args: &[Ty]) -> Option<Result<Ty, std::string::String>> {
    use Ty::*;
    let want = |expected: &[Ty], result: Ty| -> Result<Ty, std::string::String> {
        if args.len() != expected.len() {
            return Err(format!("`{name}` takes {} argument{}", expected.len(), plural(expected.len())));
        }
        for (i, (a, e)) in args.iter().zip(expected).enumerate() {
            if !a.fits(e) {
                return Err(format!("argument {} of `{name}` must be {e}, not {a}", i + 1));
            }
        }
        Ok(result)
    };
    let string_receiver = matches!(receiver, String | Dyn);
    Some(match name {
        "contains" | "startsWith" | "endsWith" | "matches" if string_receiver => want(&[String], Bool),
        "lowerAscii" | "upperAscii" | "trim" | "reverse" if string_receiver => want(&[], String),
        "charAt" if string_receiver => want(&[Int], String),
        "indexOf" | "lastIndexOf" if string_receiver => match args.len() {
            1 => want(&[String], Int),
            _ => want(&[String, Int], Int),
        },
        "replace" if string_receiver => match args.len() {
            2 => want(&[String, String], String),
            _ => want(&[String, String, Int], String),
        },
        "split" if string_receiver => match args.len() {
            1 => want(&[String], Ty::list(String)),
            _ => want(&[String, Int], Ty::list(String)),
        },
        "substring" if string_receiver => match args.len() {
            1 => want(&[Int], String),
            _ => want(&[Int, Int], String),
        },
        "format" if string_receiver => want(&[Ty::list(Dyn)], String),
        "join" if matches!(receiver, List(_) | Dyn) => {
            if let List(e) = receiver
                && !e.fits(&String)
            {
                return Some(Err(format!("`join` joins a list of strings, not {receiver}")));
            }
            match args.len() {
                0 => want(&[], String),
                _ => want(&[String], String),
            }
        }
        "size" if matches!(receiver, String | Bytes | List(_) | Map(..) | Object(_) | Dyn) => want(&[], Int),
        _ => return None,
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Conversions and other global functions of one argument.
fn conversion(name: &str) -> Option<Ty> {
    Some(match name {
        "int" => Ty::Int,
        "uint" => Ty::Uint,
        "double" => Ty::Double,
        "string" => Ty::String,
        "bool" => Ty::Bool,
        "bytes" => Ty::Bytes,
        "dyn" => Ty::Dyn,
        "type" => Ty::Type,
        _ => return None,
    })
}

const TYPE_NAMES: &[&str] = &["bool", "int", "uint", "double", "string", "bytes", "list", "map", "null_type", "type"];

const MEMBER_FUNCTIONS: &[&str] = &[
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "lowerAscii",
    "upperAscii",
    "trim",
    "reverse",
    "charAt",
    "indexOf",
    "lastIndexOf",
    "replace",
    "split",
    "substring",
    "format",
    "join",
    "size",
    "all",
    "exists",
    "exists_one",
    "map",
    "filter",
];

impl<'a> Checker<'a> {
    pub(crate) fn new(source: &'a str, info: &'a SourceInfo, target: Target) -> Checker<'a> {
        Checker {
            source,
            info,
            target,
            vars: schema::variables(target),
            funcs: schema::functions(),
            scopes: Vec::new(),
            problems: Vec::new(),
        }
    }

    fn at(&self, id: u64) -> std::ops::Range<usize> {
        match self.info.offset_for(id) {
            Some((start, stop)) => char_range(self.source, start as usize, stop as usize + 1),
            None => 0..self.source.len(),
        }
    }

    fn error(&mut self, id: u64, message: String, note: Option<String>) -> Ty {
        let range = self.at(id);
        self.error_at(range, message, note)
    }

    /// The parser places a selection at its dot: widen it to the field name.
    fn selection(&self, id: u64, field: &str) -> std::ops::Range<usize> {
        let at = self.at(id);
        let rest = &self.source[at.start..];
        match rest.strip_prefix('.') {
            Some(after) if after.trim_start().starts_with(field) => {
                let gap = after.len() - after.trim_start().len();
                at.start..at.start + 1 + gap + field.len()
            }
            _ => at,
        }
    }

    fn error_at(&mut self, range: std::ops::Range<usize>, message: String, note: Option<String>) -> Ty {
        if !self.problems.iter().any(|p| p.range == range && p.message == message) {
            self.problems.push(Problem { range, message, note });
        }
        Ty::Dyn
    }

    fn lookup(&self, name: &str) -> Option<Ty> {
        if let Some((_, t)) = self.scopes.iter().rev().find(|(n, _)| n == name) {
            return Some(t.clone());
        }
        self.vars.iter().find(|v| v.name == name).map(|v| v.ty.clone())
    }

    pub(crate) fn ty(&mut self, e: &IdedExpr) -> Ty {
        match &e.expr {
            Expr::Literal(l) => match l {
                LiteralValue::Boolean(_) => Ty::Bool,
                LiteralValue::Bytes(_) => Ty::Bytes,
                LiteralValue::Double(_) => Ty::Double,
                LiteralValue::Int(_) => Ty::Int,
                LiteralValue::Null => Ty::Null,
                LiteralValue::String(_) => Ty::String,
                LiteralValue::UInt(_) => Ty::Uint,
            },
            Expr::Ident(name) => self.ident(e.id, name),
            Expr::Select(s) => {
                let operand = self.ty(&s.operand);
                let t = self.field(e.id, &operand, &s.field);
                if s.test { Ty::Bool } else { t }
            }
            Expr::Call(c) => {
                let receiver = c.target.as_ref().map(|t| self.ty(t));
                let args: Vec<Ty> = c.args.iter().map(|a| self.ty(a)).collect();
                self.call(e.id, &c.func_name, receiver, &args, &c.args)
            }
            Expr::List(l) => {
                let mut elem: Option<Ty> = None;
                for x in &l.elements {
                    let t = self.ty(x);
                    elem = Some(match elem {
                        None => t,
                        Some(prev) => prev.join(&t),
                    });
                }
                Ty::list(elem.unwrap_or(Ty::Dyn))
            }
            Expr::Map(m) => {
                let (mut k, mut v): (Option<Ty>, Option<Ty>) = (None, None);
                for entry in &m.entries {
                    if let EntryExpr::MapEntry(me) = &entry.expr {
                        let kt = self.ty(&me.key);
                        let vt = self.ty(&me.value);
                        k = Some(k.map_or(kt.clone(), |p| p.join(&kt)));
                        v = Some(v.map_or(vt.clone(), |p| p.join(&vt)));
                    }
                }
                Ty::map(k.unwrap_or(Ty::Dyn), v.unwrap_or(Ty::Dyn))
            }
            Expr::Comprehension(c) => {
                let range = self.ty(&c.iter_range);
                let (first, second) = match &range {
                    Ty::List(t) => match &c.iter_var2 {
                        Some(_) => (Ty::Int, (**t).clone()),
                        None => ((**t).clone(), Ty::Dyn),
                    },
                    Ty::Map(k, v) => ((**k).clone(), (**v).clone()),
                    Ty::Object(_) => (Ty::String, Ty::Dyn),
                    Ty::Dyn => (Ty::Dyn, Ty::Dyn),
                    other => {
                        let message = format!("cannot iterate over {other}: macros need a list or a map");
                        self.error(c.iter_range.id, message, None);
                        (Ty::Dyn, Ty::Dyn)
                    }
                };
                let init = self.ty(&c.accu_init);
                let depth = self.scopes.len();
                self.scopes.push((c.iter_var.clone(), first));
                if let Some(v2) = &c.iter_var2 {
                    self.scopes.push((v2.clone(), second));
                }
                self.scopes.push((c.accu_var.clone(), init.clone()));
                let cond = self.ty(&c.loop_cond);
                if !cond.fits(&Ty::Bool) {
                    self.error(c.loop_cond.id, format!("the condition must be a bool, not {cond}"), None);
                }
                let step = self.ty(&c.loop_step);
                self.scopes.truncate(depth);
                self.scopes.push((c.accu_var.clone(), init.join(&step)));
                let result = self.ty(&c.result);
                self.scopes.truncate(depth);
                result
            }
            Expr::Struct(s) => self.error(
                e.id,
                format!("message construction (`{}{{…}}`) is not supported: there are no message types", s.type_name),
                Some("build a map instead: `{'key': value}`".into()),
            ),
            Expr::Unspecified => Ty::Dyn,
        }
    }

    fn ident(&mut self, id: u64, name: &str) -> Ty {
        if let Some(t) = self.lookup(name) {
            return t;
        }
        // Type names, for `type(x) == string`.
        if TYPE_NAMES.contains(&name) {
            return Ty::Type;
        }
        let note = match Target::ALL.into_iter().find(|t| schema::variables(*t).iter().any(|v| v.name == name)) {
            Some(other) => Some(format!(
                "`{name}` is a variable of rules on {} subjects; this rule judges {} subjects (see `targets`)",
                other.name(),
                self.target.name()
            )),
            None => {
                let names: Vec<&str> = self
                    .scopes
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .filter(|n| !n.starts_with('@'))
                    .chain(self.vars.iter().map(|v| v.name))
                    .collect();
                Some(match crate::did_you_mean(name, names.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("the variables are: {}", names.join(", ")),
                })
            }
        };
        self.error(id, format!("undeclared variable `{name}`"), note)
    }

    fn field(&mut self, id: u64, operand: &Ty, field: &str) -> Ty {
        match operand {
            Ty::Object(o) => match o.field(field) {
                Some(f) => f.ty.clone(),
                None => {
                    let names: Vec<&str> = o.fields.iter().map(|f| f.name).collect();
                    let note = match crate::did_you_mean(field, names.iter().copied()) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => format!("its fields are: {}", names.join(", ")),
                    };
                    let message = format!("`{}` has no field `{field}`", o.name);
                    self.error_at(self.selection(id, field), message, Some(note))
                }
            },
            Ty::Map(k, v) if k.fits(&Ty::String) => (**v).clone(),
            Ty::Dyn => Ty::Dyn,
            Ty::Files => self.error(
                id,
                format!("`files` has no field `{field}`"),
                Some("use files.exists(path), files.stat(path) or files.glob(pattern)".into()),
            ),
            other => self.error(id, format!("cannot select field `{field}` from {other}"), None),
        }
    }

    fn call(&mut self, id: u64, name: &str, receiver: Option<Ty>, args: &[Ty], arg_exprs: &[IdedExpr]) -> Ty {
        use Ty::*;
        let both = |i: usize| args.get(i).cloned().unwrap_or(Dyn);
        match name {
            op::LOGICAL_AND | op::LOGICAL_OR => {
                for (i, a) in args.iter().enumerate() {
                    if !a.fits(&Bool) {
                        let sym = if name == op::LOGICAL_AND { "&&" } else { "||" };
                        self.error(arg_exprs[i].id, format!("`{sym}` needs bool operands, not {a}"), None);
                    }
                }
                Bool
            }
            op::LOGICAL_NOT | op::NOT_STRICTLY_FALSE => {
                if !both(0).fits(&Bool) {
                    self.error(arg_exprs[0].id, format!("`!` needs a bool, not {}", both(0)), None);
                }
                Bool
            }
            op::NEGATE => {
                let t = both(0);
                if !(t.is_numeric() || t.is_dyn()) {
                    self.error(id, format!("cannot negate {t}"), None);
                }
                t
            }
            op::EQUALS | op::NOT_EQUALS => {
                let (a, b) = (both(0), both(1));
                if !a.comparable(&b) {
                    self.error(id, format!("comparing {a} with {b} is never true"), convert_note(&a, &b));
                }
                Bool
            }
            op::LESS | op::LESS_EQUALS | op::GREATER | op::GREATER_EQUALS => {
                let (a, b) = (both(0), both(1));
                let ordered = |t: &Ty| matches!(t, Int | Uint | Double | String | Bytes | Bool | Dyn);
                let ok = (a.is_numeric() && b.is_numeric()) || a.is_dyn() || b.is_dyn() || (ordered(&a) && a == b);
                if !ok {
                    self.error(id, format!("cannot order {a} and {b}"), convert_note(&a, &b));
                }
                Bool
            }
            op::ADD => {
                let (a, b) = (both(0), both(1));
                match (&a, &b) {
                    (Dyn, t) | (t, Dyn) => t.clone(),
                    (List(x), List(y)) => Ty::list(x.join(y)),
                    (x, y) if x == y && matches!(x, Int | Uint | Double | String | Bytes) => a.clone(),
                    _ => self.error(id, format!("cannot add {a} and {b}"), convert_note(&a, &b)),
                }
            }
            op::SUBSTRACT | op::MULTIPLY | op::DIVIDE | op::MODULO => {
                let (a, b) = (both(0), both(1));
                match (&a, &b) {
                    (Dyn, t) | (t, Dyn) => t.clone(),
                    (x, y) if x == y && x.is_numeric() && !(name == op::MODULO && *x == Double) => a.clone(),
                    _ => self.error(id, format!("arithmetic on {a} and {b} is not defined"), convert_note(&a, &b)),
                }
            }
            op::INDEX => match (both(0), both(1)) {
                (List(t), i) if i.fits(&Int) || i == Uint => *t,
                (Map(k, v), key) if key.fits(&k) => *v,
                (Object(_), key) if key.fits(&String) => Dyn,
                (Dyn, _) => Dyn,
                (c, i) => self.error(id, format!("cannot index {c} with {i}"), None),
            },
            op::IN => match (both(0), both(1)) {
                (x, List(t)) if x.comparable(&t) => Bool,
                (x, Map(k, _)) if x.fits(&k) => Bool,
                (x, Object(_)) if x.fits(&String) => Bool,
                (_, Dyn) => Bool,
                (x, c) => self.error(id, format!("`in` cannot find {x} in {c}"), None),
            },
            op::CONDITIONAL => {
                if !both(0).fits(&Bool) {
                    self.error(arg_exprs[0].id, format!("the condition of `?:` must be a bool, not {}", both(0)), None);
                }
                both(1).join(&both(2))
            }
            op::OPT_INDEX | op::OPT_SELECT => self.error(id, "optional values are not supported".into(), None),
            _ => self.function(id, name, receiver, args, arg_exprs),
        }
    }

    fn function(&mut self, id: u64, name: &str, receiver: Option<Ty>, args: &[Ty], arg_exprs: &[IdedExpr]) -> Ty {
        // Functions of this language (`files.stat`, `compareVersions`).
        let ours: Vec<(Vec<Ty>, Ty, &'static str)> = self
            .funcs
            .iter()
            .filter(|f| f.name == name && f.receiver.is_some() == receiver.is_some())
            .filter(|f| match (&f.receiver, &receiver) {
                (Some(want), Some(have)) => have.fits(want),
                _ => true,
            })
            .map(|f| (f.args.clone(), f.result.clone(), f.doc))
            .collect();
        if let Some((want_args, result, _)) = ours.iter().find(|f| f.0.len() == args.len()) {
            for (i, (a, want)) in args.iter().zip(want_args).enumerate() {
                if !a.fits(want) {
                    self.error(
                        arg_exprs[i].id,
                        format!("argument {} of `{name}` must be {want}, not {a}", i + 1),
                        None,
                    );
                }
            }
            if name == "compareVersions" && args.len() == 3 {
                self.scheme(&arg_exprs[0]);
            }
            return result.clone();
        }
        if let Some((want_args, _, doc)) = ours.first() {
            let message = format!("`{name}` takes {} argument{}", want_args.len(), plural(want_args.len()));
            return self.error(id, message, Some(doc.to_string()));
        }
        if receiver == Some(Ty::Files) {
            return self.error(
                id,
                format!("`files` has no function `{name}`"),
                Some("use files.exists(path), files.stat(path) or files.glob(pattern)".into()),
            );
        }
        // A global call: conversions, `size` and `matches` in global form.
        let (receiver, args, arg_exprs) = match receiver {
            Some(r) => (r, args, arg_exprs),
            None => {
                if let Some(t) = conversion(name) {
                    if args.len() != 1 {
                        return self.error(id, format!("`{name}` takes 1 argument"), None);
                    }
                    return t;
                }
                if matches!(name, "size" | "matches") && !args.is_empty() {
                    (args[0].clone(), &args[1..], &arg_exprs[1..])
                } else {
                    return self.unknown(id, name, false);
                }
            }
        };
        match standard(name, &receiver, args) {
            Some(Ok(t)) => {
                if name == "matches"
                    && let Some(pattern) = arg_exprs.first()
                {
                    self.regex(pattern);
                }
                t
            }
            Some(Err(message)) => self.error(id, message, None),
            None if MEMBER_FUNCTIONS.contains(&name) => {
                self.error(id, format!("`{name}` is not defined on {receiver}"), None)
            }
            None => self.unknown(id, name, true),
        }
    }

    fn unknown(&mut self, id: u64, name: &str, member: bool) -> Ty {
        let mut candidates: Vec<&str> = self.funcs.iter().map(|f| f.name).collect();
        candidates.extend(MEMBER_FUNCTIONS);
        candidates.extend(["int", "uint", "double", "string", "bool", "bytes", "dyn", "type"]);
        let note = crate::did_you_mean(name, candidates.iter().copied()).map(|best| format!("did you mean `{best}`?"));
        let kind = if member { "method" } else { "function" };
        self.error(id, format!("unknown {kind} `{name}`"), note)
    }

    /// A literal pattern of `matches` must compile (with the interpreter's
    /// regex engine), or the rule would be an error on every subject.
    fn regex(&mut self, pattern: &IdedExpr) {
        if let Expr::Literal(LiteralValue::String(s)) = &pattern.expr
            && let Err(e) = regex::Regex::new(s.inner())
        {
            let why = e.to_string();
            let last = why.lines().last().unwrap_or("invalid").trim().to_string();
            self.error(pattern.id, format!("invalid regular expression: {last}"), None);
        }
    }

    fn scheme(&mut self, arg: &IdedExpr) {
        if let Expr::Literal(LiteralValue::String(s)) = &arg.expr
            && !schema::VERSION_SCHEMES.iter().any(|(n, _)| *n == s.inner())
        {
            let names: Vec<&str> = schema::VERSION_SCHEMES.iter().map(|(n, _)| *n).collect();
            let message = format!("unknown version scheme `{}`", s.inner());
            self.error(arg.id, message, Some(format!("the schemes are: {}", names.join(", "))));
        }
    }
}

fn convert_note(a: &Ty, b: &Ty) -> Option<String> {
    let pair = |x: &Ty, y: &Ty| matches!((x, y), (Ty::String, t) if t.is_numeric());
    (pair(a, b) || pair(b, a)).then(|| "convert one side: `int(s)` or `string(n)`".to_string())
}
