//! Reading source files: text → positioned node tree ([`yaml`]) → typed source
//! ([`schema`]).

pub mod json;
pub mod schema;
pub mod yaml;

use crate::diagnostics::{Diagnostic, Sink};
use schema::{Reader, SourceFile};

/// Whether a file name is read as JSON (else YAML).
pub fn is_json(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("json"))
}

/// Parses one file into its typed source, reporting every error to `out`.
pub fn read(name: &str, text: &str, out: &mut Vec<Diagnostic>) -> SourceFile {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = if is_json(name) {
        json::parse(name, text, out)
    } else {
        yaml::parse(name, text, out)
    };
    let Some(mut root) = root else {
        return SourceFile::default();
    };
    let mut sink = Sink { file: name, out };
    Reader::new(&mut sink).file(&mut root)
}
