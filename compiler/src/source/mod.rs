//! Reading source files: text → positioned node tree ([`yaml`]) → typed source
//! ([`schema`]).

pub mod schema;
pub mod yaml;

use crate::diagnostics::{Diagnostic, Pos, Sink};
use schema::{Reader, SourceFile};

/// Whether a file name is read as JSON (else YAML).
pub fn is_json(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("json"))
}

/// Parses one file into its typed source, reporting every error to `out`.
pub fn read(name: &str, text: &str, out: &mut Vec<Diagnostic>) -> SourceFile {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if is_json(name) {
        // YAML 1.2 accepts all JSON, but also more; hold `.json` files to JSON.
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
            let msg = e.to_string();
            let msg = match msg.rfind(" at line ") {
                Some(i) => &msg[..i],
                None => &msg,
            };
            let pos = Pos {
                line: u32::try_from(e.line()).unwrap_or(u32::MAX),
                column: u32::try_from(e.column()).unwrap_or(u32::MAX),
            };
            out.push(Diagnostic::new(
                name,
                Some(pos),
                "",
                format!("invalid JSON: {msg}"),
            ));
            return SourceFile::default();
        }
    }
    let Some(root) = yaml::parse(name, text, out) else {
        return SourceFile::default();
    };
    let mut sink = Sink { file: name, out };
    Reader::new(&mut sink).file(&root)
}
