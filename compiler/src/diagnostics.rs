//! Compile errors: where (file, line, column), in what (flag, rule, clause, field)
//! and what is wrong.

use std::fmt;

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column (in characters), from 1.
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One compile error.
///
/// ```
/// use edgeflag_compiler::Diagnostic;
/// let d = Diagnostic {
///     file: "flags.yaml".into(),
///     line: Some(14),
///     column: Some(9),
///     context: r#"flag "new-checkout" rule 2 clause 1"#.into(),
///     message: r#"unknown segment "beta""#.into(),
/// };
/// assert_eq!(
///     d.to_string(),
///     r#"flags.yaml:14:9: flag "new-checkout" rule 2 clause 1: unknown segment "beta""#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as named to the compiler.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// 1-based column (in characters), when known.
    pub column: Option<u32>,
    /// What the error is in, e.g. `flag "new-checkout" rule 2 clause 1`; empty for
    /// errors about the file as a whole.
    pub context: String,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    pub(crate) fn new(
        file: &str,
        pos: Option<Pos>,
        context: impl Into<String>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            file: file.to_owned(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            context: context.into(),
            message: message.into(),
        }
    }

    fn sort_key(&self) -> (&str, u32, u32) {
        (&self.file, self.line.unwrap_or(0), self.column.unwrap_or(0))
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if !self.context.is_empty() {
            write!(f, ": {}", self.context)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every error found in a compilation, sorted by file then position.
///
/// ```
/// use edgeflag_compiler::compile_sources;
/// let src = "flags:\n  a:\n    enabled: maybe\n    colour: red\n";
/// let errs = compile_sources(&[("flags.yaml".into(), src.into())]).unwrap_err();
/// assert_eq!(errs.len(), 2);
/// assert_eq!(
///     errs.to_string(),
///     "flags.yaml:3:14: flag \"a\" enabled: expected a boolean, found a string\n\
///      flags.yaml:4:5: flag \"a\": unknown field `colour`; expected one of `variations`, \
///      `enabled`, `off_variation`, `prerequisites`, `targets`, `rules`, `fallthrough`, \
///      `description`, `owner`, `tags`, `temporary`, `expires`, `client_side`, `environments`"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// Sorts by file, then line and column (stable; errors without a position first),
    /// and drops exact repeats.
    pub(crate) fn sort(&mut self) {
        self.0.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.0.dedup();
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Collects diagnostics for one file.
pub(crate) struct Sink<'a> {
    pub file: &'a str,
    pub out: &'a mut Vec<Diagnostic>,
}

impl Sink<'_> {
    pub fn error(&mut self, pos: Pos, context: &str, message: impl Into<String>) {
        self.out
            .push(Diagnostic::new(self.file, Some(pos), context, message));
    }
}
