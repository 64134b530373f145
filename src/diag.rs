//! Diagnostics for every file vouch reads (controls, inventory, attestations, waivers), and a
//! small reader over `toml`'s spanned document so each problem points at its exact span.
//!
//! Loaders never stop at the first problem: they push every [`Diagnostic`] into one
//! [`Diagnostics`] and the caller decides (exit 2 when any is an error). Each diagnostic has a
//! stable kebab-case code, documented in `docs/diagnostics.md`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label, Severity};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;
use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue};

/// A file vouch has read, by index into [`Diagnostics`].
pub type FileId = usize;

/// One problem in one file, with the span it is about.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub file: FileId,
    pub span: Range<usize>,
    /// Stable kebab-case code (`unknown-key`, `duplicate-id`, …).
    pub code: &'static str,
    pub message: String,
    /// Short text under the span: usually what would be valid.
    pub label: String,
    /// Other places that explain this one ("first defined here").
    pub secondary: Vec<(FileId, Range<usize>, String)>,
    pub warning: bool,
}

/// Every file read and every problem found in them.
#[derive(Default)]
pub struct Diagnostics {
    files: SimpleFiles<String, String>,
    paths: Vec<PathBuf>,
    pub items: Vec<Diagnostic>,
}

impl std::fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diagnostics")
            .field("paths", &self.paths)
            .field("items", &self.items)
            .finish()
    }
}

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// Registers a file's text so spans into it can be shown.
    pub fn add_file(&mut self, path: &Path, text: String) -> FileId {
        self.paths.push(path.to_path_buf());
        self.files.add(path.display().to_string(), text)
    }

    pub fn source(&self, file: FileId) -> &str {
        self.files
            .get(file)
            .map(|f| f.source().as_str())
            .unwrap_or("")
    }

    pub fn path(&self, file: FileId) -> &Path {
        &self.paths[file]
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// An error at `span` of `file`.
    pub fn error(
        &mut self,
        file: FileId,
        span: Range<usize>,
        code: &'static str,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> &mut Diagnostic {
        self.items.push(Diagnostic {
            file,
            span,
            code,
            message: message.into(),
            label: label.into(),
            secondary: Vec::new(),
            warning: false,
        });
        self.items.last_mut().expect("just pushed")
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| !d.warning)
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| !d.warning).count()
    }

    /// `file:line:col` of a span start (1-based), for tests and short output.
    pub fn location(&self, file: FileId, offset: usize) -> String {
        let text = self.source(file);
        let offset = offset.min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{col}", self.paths[file].display())
    }

    /// The diagnostics in reading order: by file, then position.
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut items: Vec<&Diagnostic> = self.items.iter().collect();
        items.sort_by_key(|d| (d.file, d.span.start));
        items
    }

    /// One line per diagnostic: `file:line:col: error[code]: message: label`.
    pub fn render_short(&self) -> String {
        let mut out = String::new();
        for d in self.sorted() {
            let level = if d.warning { "warning" } else { "error" };
            out.push_str(&format!(
                "{}: {level}[{}]: {}",
                self.location(d.file, d.span.start),
                d.code,
                d.message
            ));
            if !d.label.is_empty() {
                out.push_str(&format!(": {}", d.label));
            }
            out.push('\n');
        }
        out
    }

    /// The rich rendering with source excerpts, as `vouch validate` prints it.
    pub fn render(&self, color: bool) -> String {
        let config = term::Config::default();
        let mut out = Vec::new();
        for d in self.sorted() {
            let cs = self.to_codespan(d);
            if color {
                let mut w = term::termcolor::Ansi::new(&mut out);
                let _ = term::emit_to_write_style(&mut w, &config, &self.files, &cs);
            } else {
                let _ = term::emit_to_io_write(&mut out, &config, &self.files, &cs);
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn to_codespan(&self, d: &Diagnostic) -> CsDiagnostic<FileId> {
        let severity = if d.warning {
            Severity::Warning
        } else {
            Severity::Error
        };
        let mut labels = vec![Label::primary(d.file, d.span.clone()).with_message(&d.label)];
        for (file, span, msg) in &d.secondary {
            labels.push(Label::secondary(*file, span.clone()).with_message(msg));
        }
        CsDiagnostic::new(severity)
            .with_code(d.code)
            .with_message(&d.message)
            .with_labels(labels)
    }
}

impl Diagnostic {
    /// Adds a secondary label ("first defined here").
    pub fn also(&mut self, file: FileId, span: Range<usize>, msg: impl Into<String>) -> &mut Self {
        self.secondary.push((file, span, msg.into()));
        self
    }

    pub fn as_warning(&mut self) -> &mut Self {
        self.warning = true;
        self
    }
}

/// Parses a TOML file into its spanned document, reporting syntax errors (all of them the parser
/// can recover from). Returns `None` when nothing usable could be read.
pub fn parse_toml<'a>(
    diags: &mut Diagnostics,
    file: FileId,
    text: &'a str,
) -> Option<Spanned<DeTable<'a>>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    let clean = errors.is_empty();
    for e in errors {
        let span = e.span().unwrap_or(0..0);
        diags.error(
            file,
            span,
            "toml-syntax",
            "this is not valid TOML",
            e.message().trim().to_string(),
        );
    }
    clean.then_some(table)
}

/// A key of a table: its name and span.
pub type Key<'a> = Spanned<std::borrow::Cow<'a, str>>;

/// Reads fields off one spanned table, remembering which keys were used so that the rest can be
/// reported as unknown, with the valid names.
pub struct TableReader<'t, 'a> {
    pub file: FileId,
    pub span: Range<usize>,
    table: &'t DeTable<'a>,
    used: Vec<&'t str>,
}

impl<'t, 'a> TableReader<'t, 'a> {
    pub fn new(file: FileId, span: Range<usize>, table: &'t DeTable<'a>) -> Self {
        TableReader {
            file,
            span,
            table,
            used: Vec::new(),
        }
    }

    /// The key and value of `name`, when present.
    pub fn get(&mut self, name: &str) -> Option<(&'t Key<'a>, &'t Spanned<DeValue<'a>>)> {
        let found = self.table.iter().find(|(k, _)| k.get_ref() == name);
        if let Some((k, _)) = found {
            self.used.push(k.get_ref().as_ref());
        }
        found
    }

    /// A required string field; reports `missing-key` or `wrong-type` itself.
    pub fn string(
        &mut self,
        diags: &mut Diagnostics,
        name: &str,
        required: bool,
        what: &str,
    ) -> Option<Spanned<String>> {
        match self.get(name) {
            Some((_, v)) => match v.get_ref() {
                DeValue::String(s) => Some(Spanned::new(v.span(), s.to_string())),
                other => {
                    diags.error(
                        self.file,
                        v.span(),
                        "wrong-type",
                        format!("`{name}` must be a string"),
                        format!("expected {what}, found {}", de_kind(other)),
                    );
                    None
                }
            },
            None => {
                if required {
                    self.missing(diags, name, what);
                }
                None
            }
        }
    }

    /// An optional list of strings (a bare string is taken as a one-element list).
    pub fn strings(&mut self, diags: &mut Diagnostics, name: &str) -> Option<Vec<Spanned<String>>> {
        let (_, v) = self.get(name)?;
        string_list(diags, self.file, name, v)
    }

    pub fn missing(&self, diags: &mut Diagnostics, name: &str, what: &str) {
        diags.error(
            self.file,
            self.header_span(),
            "missing-key",
            format!("missing required key `{name}`"),
            format!("add `{name} = …` ({what})"),
        );
    }

    /// The span of the start of the table, for problems about the table as a whole.
    pub fn header_span(&self) -> Range<usize> {
        self.span.start..(self.span.start + 1).min(self.span.end.max(self.span.start + 1))
    }

    /// Reports every key that was never read as `unknown-key`, listing the valid ones.
    pub fn finish(self, diags: &mut Diagnostics, valid: &[&str]) {
        for (k, _) in self.table.iter() {
            let name: &str = k.get_ref();
            if !self.used.contains(&name) && !valid.contains(&name) {
                let hint = suggest(name, valid)
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                diags.error(
                    self.file,
                    k.span(),
                    "unknown-key",
                    format!("unknown key `{name}`"),
                    format!("{hint}valid keys: {}", valid.join(", ")),
                );
            }
        }
    }
}

/// A list of strings (or one string) at `v`.
pub fn string_list(
    diags: &mut Diagnostics,
    file: FileId,
    name: &str,
    v: &Spanned<DeValue<'_>>,
) -> Option<Vec<Spanned<String>>> {
    match v.get_ref() {
        DeValue::String(s) => Some(vec![Spanned::new(v.span(), s.to_string())]),
        DeValue::Array(items) => {
            let mut out = Vec::new();
            let mut ok = true;
            for item in items.iter() {
                match item.get_ref() {
                    DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                    other => {
                        ok = false;
                        diags.error(
                            file,
                            item.span(),
                            "wrong-type",
                            format!("`{name}` must be a list of strings"),
                            format!("expected a string, found {}", de_kind(other)),
                        );
                    }
                }
            }
            ok.then_some(out)
        }
        other => {
            diags.error(
                file,
                v.span(),
                "wrong-type",
                format!("`{name}` must be a list of strings"),
                format!("expected a list of strings, found {}", de_kind(other)),
            );
            None
        }
    }
}

/// The closest valid name, for "did you mean".
pub fn suggest<'v>(name: &str, valid: &[&'v str]) -> Option<&'v str> {
    valid
        .iter()
        .map(|v| (strsim_distance(name, v), *v))
        .filter(|(d, v)| *d <= 2.max(v.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

/// Levenshtein distance (names are short; no crate needed for this).
fn strsim_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

pub fn de_kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Converts a spanned value into a plain `toml::Value` (for typed parsing of expected values).
pub fn to_toml(v: &DeValue<'_>) -> toml::Value {
    match v {
        DeValue::String(s) => toml::Value::String(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::String(i.to_string())),
        DeValue::Float(f) => toml::Value::Float(f.as_str().parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => toml::Value::Boolean(*b),
        DeValue::Datetime(d) => toml::Value::Datetime(*d),
        DeValue::Array(items) => {
            toml::Value::Array(items.iter().map(|i| to_toml(i.get_ref())).collect())
        }
        DeValue::Table(t) => toml::Value::Table(
            t.iter()
                .map(|(k, v)| (k.get_ref().to_string(), to_toml(v.get_ref())))
                .collect(),
        ),
    }
}

/// Converts a spanned value into JSON (control `params`).
pub fn to_json(v: &DeValue<'_>) -> serde_json::Value {
    serde_json::to_value(to_toml(v)).unwrap_or(serde_json::Value::Null)
}
