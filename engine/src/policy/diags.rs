//! Policy diagnostics: every problem in a policy file points at the exact
//! line and column of the user's TOML, rendered like rustc and cargo-deny do.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};
use std::ops::Range;

/// One problem in a policy file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub message: String,
    pub span: Option<Range<usize>>,
    pub note: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic { message: message.into(), span, note: None }
    }
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// All the problems found in one policy file, with its text for rendering.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render_plain())]
pub struct PolicyError {
    pub file: String,
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl PolicyError {
    pub fn new(file: &str, text: &str, diagnostics: Vec<Diagnostic>) -> Self {
        PolicyError { file: file.to_string(), text: text.to_string(), diagnostics }
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
        (line, col)
    }

    /// `file:line:col: message` lines, one per diagnostic.
    pub fn render_plain(&self) -> String {
        self.diagnostics
            .iter()
            .map(|d| {
                let at = match &d.span {
                    Some(s) => {
                        let (l, c) = self.line_col(s.start);
                        format!("{}:{l}:{c}", self.file)
                    }
                    None => self.file.clone(),
                };
                match &d.note {
                    Some(n) => format!("{at}: {} ({n})", d.message),
                    None => format!("{at}: {}", d.message),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Renders with source snippets (colour when `color` is set).
    pub fn render(&self, color: bool) -> String {
        let file = SimpleFile::new(self.file.as_str(), self.text.as_str());
        let mut buf = if color { termcolor::Buffer::ansi() } else { termcolor::Buffer::no_color() };
        let config = term::Config::default();
        for d in &self.diagnostics {
            let (l, c) = d.span.as_ref().map(|s| self.line_col(s.start)).unwrap_or((0, 0));
            let head = if d.span.is_some() {
                format!("{} ({}:{l}:{c})", d.message, self.file)
            } else {
                format!("{} ({})", d.message, self.file)
            };
            let mut cs = CsDiagnostic::error().with_message(head);
            if let Some(span) = &d.span {
                cs = cs.with_labels(vec![Label::primary((), span.clone())]);
            }
            if let Some(note) = &d.note {
                cs = cs.with_notes(vec![note.clone()]);
            }
            if term::emit_to_write_style(&mut buf, &config, &file, &cs).is_err() {
                return self.render_plain();
            }
        }
        String::from_utf8_lossy(buf.as_slice()).into_owned()
    }
}
