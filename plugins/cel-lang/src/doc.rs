//! The reference of the language, generated from the schema so that it
//! cannot drift from what the checker accepts: `docs/custom-rules-reference.md`
//! (a test compares it; `PORTCULLIS_UPDATE_DOCS=1 cargo test -p portcullis-cel`
//! rewrites it).

use crate::schema::{self, Target};
use crate::types::{Object, Ty};
use std::fmt::Write;

/// The reference, in Markdown.
pub fn reference() -> String {
    let mut out = String::from(
        "# Custom rules: variables and functions\n\n\
         Generated from `plugins/cel-lang/src/schema.rs`; see [custom-rules.md](custom-rules.md) for how to write \
         rules. A field marked *optional* is absent when the evidence has no value for it: test it with \
         `has(x.field)` before reading it (reading an absent field is an `error` finding). Every number is an \
         `int` (`double` for scores).\n",
    );
    let mut objects: Vec<std::sync::Arc<Object>> = Vec::new();
    for target in Target::ALL {
        let _ = write!(out, "\n## Rules on {} subjects (`targets = [\"{}\"]`)\n\n", target.name(), target.name());
        out.push_str("| variable | type | what |\n|---|---|---|\n");
        for v in schema::variables(target) {
            let _ = writeln!(out, "| `{}` | `{}` | {} |", v.name, v.ty, v.doc);
            collect(&v.ty, &mut objects);
        }
    }
    out.push_str("\n## Records\n");
    for o in &objects {
        let _ = write!(out, "\n### `{}`\n\n| field | type | what |\n|---|---|---|\n", o.name);
        for f in &o.fields {
            let optional = if f.optional { " *optional*" } else { "" };
            let _ = writeln!(out, "| `{}` | `{}`{optional} | {} |", f.name, f.ty, f.doc);
        }
    }
    out.push_str(
        "\n## Functions\n\nBesides CEL's standard library (`size`, `contains`, `startsWith`, `endsWith`, `matches`, \
         conversions, the macros `has`, `all`, `exists`, `exists_one`, `map`, `filter`) and its strings extension \
         (`lowerAscii`, `upperAscii`, `trim`, `split`, `join`, `replace`, `indexOf`, `substring`, …):\n\n\
         | function | result | what |\n|---|---|---|\n",
    );
    for f in schema::functions() {
        let args: Vec<String> = f.args.iter().map(|a| a.to_string()).collect();
        let call = match &f.receiver {
            Some(r) => format!("{r}.{}({})", f.name, args.join(", ")),
            None => format!("{}({})", f.name, args.join(", ")),
        };
        let _ = writeln!(out, "| `{call}` | `{}` | {} |", f.result, f.doc);
    }
    out.push_str("\nVersion schemes of `compareVersions`:\n\n");
    for (name, what) in schema::VERSION_SCHEMES {
        let _ = writeln!(out, "- `{name}`: {what}");
    }
    out
}

fn collect(ty: &Ty, out: &mut Vec<std::sync::Arc<Object>>) {
    match ty {
        Ty::List(t) => collect(t, out),
        Ty::Map(k, v) => {
            collect(k, out);
            collect(v, out);
        }
        Ty::Object(o) if !out.iter().any(|x| x.name == o.name) => {
            out.push(o.clone());
            for f in &o.fields {
                collect(&f.ty, out);
            }
        }
        _ => {}
    }
}
