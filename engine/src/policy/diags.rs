//! Policy diagnostics: every problem in a policy points at the exact line and
//! column of the user's TOML, rendered like rustc and cargo-deny do. A policy
//! may be several files (`--policy A --policy B`, `include`), so each
//! diagnostic names the file it points into, and may point at a second
//! place (a rule configured in two files is shown in both).

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor};
use std::ops::Range;

/// One problem in a policy.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub message: String,
    pub span: Option<Range<usize>>,
    /// Which of the error's files `span` points into (0: the first).
    pub file: usize,
    pub note: Option<String>,
    /// Another place the problem involves: (file, span, what is there).
    pub also: Option<(usize, Range<usize>, String)>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic { message: message.into(), span, file: 0, note: None, also: None }
    }
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
    /// Points the diagnostic into file `file` of the error.
    pub fn in_file(mut self, file: usize) -> Self {
        self.file = file;
        self
    }
    /// A second place the problem involves, shown with its own label.
    pub fn also_at(mut self, file: usize, span: Range<usize>, label: impl Into<String>) -> Self {
        self.also = Some((file, span, label.into()));
        self
    }
}

/// One file of a policy, as read.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// All the problems found in a policy, with the text of its files for rendering.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render_plain())]
pub struct PolicyError {
    pub sources: Vec<Source>,
    pub diagnostics: Vec<Diagnostic>,
    /// What could be read despite the problems, so that the checks that
    /// need the plugins (rule ids, parameters) can still report theirs in
    /// the same run. Never evaluated.
    partial: Option<Box<super::Policy>>,
}

impl PolicyError {
    /// Problems in one file.
    pub fn new(file: &str, text: &str, diagnostics: Vec<Diagnostic>) -> Self {
        PolicyError {
            sources: vec![Source { name: file.to_string(), text: text.to_string() }],
            diagnostics,
            partial: None,
        }
    }

    /// Problems in several files; each diagnostic names its file by index.
    pub fn in_files(sources: Vec<Source>, diagnostics: Vec<Diagnostic>) -> Self {
        PolicyError { sources, diagnostics, partial: None }
    }

    pub(crate) fn with_partial(mut self, policy: super::Policy) -> Self {
        self.partial = Some(Box::new(policy));
        self
    }

    /// What could be read despite the problems (see the field).
    pub(crate) fn take_partial(&mut self) -> Option<super::Policy> {
        self.partial.take().map(|b| *b)
    }

    /// The errors of several policies as one (their file indexes shifted).
    pub fn merge(errors: Vec<PolicyError>) -> Self {
        let mut out = PolicyError { sources: Vec::new(), diagnostics: Vec::new(), partial: None };
        for e in errors {
            let shift = out.sources.len();
            out.sources.extend(e.sources);
            out.diagnostics.extend(e.diagnostics.into_iter().map(|mut d| {
                d.file += shift;
                if let Some(a) = &mut d.also {
                    a.0 += shift;
                }
                d
            }));
        }
        out
    }

    fn source(&self, file: usize) -> Option<&Source> {
        self.sources.get(file).or(self.sources.first())
    }

    /// `file:line:col` of a place (just `file` without a span).
    pub fn place(&self, file: usize, span: Option<&Range<usize>>) -> String {
        let Some(src) = self.source(file) else { return "policy".into() };
        match span {
            Some(s) => {
                let (l, c) = line_col(&src.text, s.start);
                format!("{}:{l}:{c}", src.name)
            }
            None => src.name.clone(),
        }
    }

    /// 1-based line and column of a byte offset in the first file.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        line_col(self.sources.first().map_or("", |s| s.text.as_str()), offset)
    }

    /// `file:line:col: message` lines, one per diagnostic.
    pub fn render_plain(&self) -> String {
        self.diagnostics
            .iter()
            .map(|d| {
                let at = self.place(d.file, d.span.as_ref());
                let also = d
                    .also
                    .as_ref()
                    .map(|(f, s, label)| format!("; {label} at {}", self.place(*f, Some(s))))
                    .unwrap_or_default();
                match &d.note {
                    Some(n) => format!("{at}: {}{also} ({n})", d.message),
                    None => format!("{at}: {}{also}", d.message),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Renders with source snippets (colour when `color` is set), then a
    /// count of the problems.
    pub fn render(&self, color: bool) -> String {
        let mut files = SimpleFiles::new();
        let ids: Vec<usize> = self.sources.iter().map(|s| files.add(s.name.as_str(), s.text.as_str())).collect();
        let id = |file: usize| ids.get(file).or(ids.first()).copied();
        let mut buf = if color { termcolor::Buffer::ansi() } else { termcolor::Buffer::no_color() };
        let config = term::Config::default();
        for d in &self.diagnostics {
            let head = format!("{} ({})", d.message, self.place(d.file, d.span.as_ref()));
            let mut cs = CsDiagnostic::error().with_message(head);
            let mut labels = Vec::new();
            if let (Some(span), Some(f)) = (&d.span, id(d.file)) {
                labels.push(Label::primary(f, span.clone()));
            }
            if let Some((file, span, label)) = &d.also
                && let Some(f) = id(*file)
            {
                labels.push(Label::secondary(f, span.clone()).with_message(label.clone()));
            }
            cs = cs.with_labels(labels);
            if let Some(note) = &d.note {
                cs = cs.with_notes(vec![note.clone()]);
            }
            if term::emit_to_write_style(&mut buf, &config, &files, &cs).is_err() {
                return self.render_plain();
            }
        }
        let mut out = String::from_utf8_lossy(buf.as_slice()).into_owned();
        if self.diagnostics.len() > 1 {
            out.push_str(&format!("{} problems in the policy\n", self.diagnostics.len()));
        }
        out
    }
}

/// 1-based line and column of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}
