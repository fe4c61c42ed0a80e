//! # edgeflag-compiler
//!
//! Validates edgeflag flag sources (YAML or JSON, one file or a directory of them)
//! and compiles them into one [`Body`] per environment, ready to be encoded with
//! [`edgeflag_evaluator::format::encode`] and loaded by
//! [`edgeflag_evaluator::Ruleset`].
//!
//! ```
//! use edgeflag_compiler::compile_sources;
//! use edgeflag_evaluator::{format, Context, Ruleset};
//!
//! let src = r#"
//! flags:
//!   new-checkout:
//!     rules:
//!       - clauses: [{attribute: country, op: in, values: [DE, FR]}]
//!         serve: on
//!     fallthrough: off
//! "#;
//! let envs = compile_sources(&[("flags.yaml".into(), src.into())]).unwrap();
//! assert_eq!(envs[0].name, "default");
//! let bytes = format::encode(&envs[0].body, &format::EncodeOptions {
//!     environment: &envs[0].name, version: 1, epoch: 1, created_at_ms: 0,
//! }).unwrap();
//! let rules = Ruleset::from_bytes(&bytes).unwrap();
//! assert!(rules.bool_value("new-checkout", &Context::new("u1").with("country", "DE"), false));
//! assert!(!rules.bool_value("new-checkout", &Context::new("u1").with("country", "US"), true));
//! ```
//!
//! Every error is reported, not only the first, each with its file, line and
//! column, the flag or segment and field it is in, and what is wrong; see
//! [`Diagnostics`].
//!
//! Flag and segment metadata (`description`, `owner`, `tags`, `temporary`,
//! `expires`) never reaches a [`Body`]; [`authoring`] checks the same sources into
//! a [`authoring::Project`] that keeps it, alone or alongside the compiled
//! environments ([`authoring::compile_project`]).
#![warn(missing_docs)]
// Only the `edgeflag` binary talks to the terminal.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod authoring;
mod check;
pub mod client;
pub mod describe;
mod diagnostics;
pub mod diff;
pub mod documents;
mod fxhash;
pub mod locate;
mod lower;
pub mod resources;
mod source;

pub use diagnostics::{Diagnostic, Diagnostics};
use edgeflag_evaluator::model::Body;
use edgeflag_evaluator::{DecodeError, Ruleset};
use std::path::{Path, PathBuf};

/// One environment's compiled ruleset body.
///
/// ```
/// let envs = edgeflag_compiler::compile_sources(&[(
///     "f.yaml".into(),
///     "environments: [staging, production]\nflags: {a: {}}\n".into(),
/// )])
/// .unwrap();
/// let names: Vec<_> = envs.iter().map(|e| e.name.as_str()).collect();
/// assert_eq!(names, ["staging", "production"]);
/// assert_eq!(envs[1].body.flags.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledEnv {
    /// Environment name (`default` when the source declares none).
    pub name: String,
    /// The compiled body.
    pub body: Body,
    /// Its client ruleset ([`client`]), published as
    /// [`client::client_environment`]`(name)`; `Some` in every environment once
    /// any flag is client-side.
    pub client: Option<Body>,
}

impl CompiledEnv {
    /// Every ruleset this environment publishes, as `(environment, body)`: its
    /// client ruleset first (as [`client::client_environment`]`(name)`) when it
    /// has one, then its own. Publishing in this order means a client
    /// ruleset's versions are never newer than the server version they came
    /// with (`edgeflag rollback` relies on it).
    ///
    /// ```
    /// let envs = edgeflag_compiler::compile_sources(&[(
    ///     "f.yaml".into(),
    ///     "flags: {a: {client_side: true}, b: {}}\n".into(),
    /// )])
    /// .unwrap();
    /// let names: Vec<_> = envs[0].rulesets().map(|(name, _)| name).collect();
    /// assert_eq!(names, ["default.client", "default"]);
    /// ```
    pub fn rulesets(&self) -> impl Iterator<Item = (String, &Body)> {
        let client = (self.client.as_ref()).map(|b| (client::client_environment(&self.name), b));
        client
            .into_iter()
            .chain(std::iter::once((self.name.clone(), &self.body)))
    }

    /// The compiled body as a loaded [`Ruleset`] without encoding it (for
    /// [`diff`] and [`describe`]). Its header is an unpublished one (see
    /// [`unpublished_header`]), with no checksum.
    pub fn to_ruleset(&self) -> Result<Ruleset, DecodeError> {
        Ruleset::from_body(unpublished_header(&self.name), self.body.clone())
    }
}

/// The header of a ruleset of `environment` that has not been published:
/// epoch 0, version 0, created at 0, no checksum. Diffing a source against a ruleset
/// uses it for the source side.
pub fn unpublished_header(environment: &str) -> edgeflag_evaluator::Header {
    edgeflag_evaluator::Header {
        format_version: edgeflag_evaluator::format::FORMAT_VERSION,
        environment: environment.to_owned(),
        version: 0,
        epoch: 0,
        created_at_ms: 0,
        body_len: 0,
        checksum: 0,
        expires_at_ms: None,
        signature: None,
    }
}

/// Compiles a file (`.yaml`, `.yml` or `.json`) or a directory: every such file
/// below it, recursively, in sorted path order, their maps merged (names starting
/// with `.` are skipped). A flag or segment key defined twice anywhere is an
/// error naming both places. Environments come out in declaration order.
///
/// ```no_run
/// let envs = edgeflag_compiler::compile_path(std::path::Path::new("flags/"))
///     .unwrap_or_else(|errors| {
///         eprintln!("{errors}");
///         std::process::exit(1)
///     });
/// ```
pub fn compile_path(path: &Path) -> Result<Vec<CompiledEnv>, Diagnostics> {
    let (files, diags) = read_path(path);
    compile(&files, diags)
}

/// Reads a file or every source file below a directory (as [`compile_path`]
/// describes): `(file name, text)` in merge order, and the errors met reading.
pub(crate) fn read_path(path: &Path) -> (Vec<(String, String)>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut files = Vec::new();
    let shown = path.display().to_string();
    match std::fs::metadata(path) {
        Err(e) => diags.push(Diagnostic::new(
            &shown,
            None,
            "",
            format!("cannot read: {e}"),
        )),
        Ok(m) if m.is_dir() => {
            let mut paths = Vec::new();
            walk(path, &mut paths, &mut diags);
            paths.sort();
            if paths.is_empty() && diags.is_empty() {
                diags.push(Diagnostic::new(
                    &shown,
                    None,
                    "",
                    "no .yaml, .yml or .json file found in this directory",
                ));
            }
            for p in paths {
                read_file(&p, &mut files, &mut diags);
            }
        }
        Ok(_) => read_file(path, &mut files, &mut diags),
    }
    (files, diags)
}

fn read_file(path: &Path, files: &mut Vec<(String, String)>, diags: &mut Vec<Diagnostic>) {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => files.push((name, text)),
        Err(e) => cannot_read(diags, path, &e),
    }
}

fn cannot_read(diags: &mut Vec<Diagnostic>, path: &Path, e: &std::io::Error) {
    let name = path.display().to_string();
    diags.push(Diagnostic::new(
        &name,
        None,
        "",
        format!("cannot read: {e}"),
    ));
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, diags: &mut Vec<Diagnostic>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            cannot_read(diags, dir, &e);
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                cannot_read(diags, dir, &e);
                continue;
            }
        };
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Symlinked directories are not followed (no loops); symlinked files are.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            walk(&path, out, diags);
        } else {
            let source = path.extension().is_some_and(|e| {
                let e = e.to_string_lossy().to_ascii_lowercase();
                e == "yaml" || e == "yml" || e == "json"
            });
            if source && path.is_file() {
                out.push(path);
            }
        }
    }
}

/// Compiles in-memory files: `(file name used in messages, text)`. A name ending
/// in `.json` is parsed as JSON, anything else as YAML. Files are merged in the
/// order given.
///
/// ```
/// use edgeflag_compiler::compile_sources;
/// let errors = compile_sources(&[(
///     "flags.yaml".into(),
///     "flags:\n  a:\n    fallthrough: maybe\n".into(),
/// )])
/// .unwrap_err();
/// assert_eq!(
///     errors.to_string(),
///     r#"flags.yaml:3:18: flag "a" fallthrough: unknown variation "maybe"; expected one of "on", "off""#
/// );
/// ```
pub fn compile_sources(files: &[(String, String)]) -> Result<Vec<CompiledEnv>, Diagnostics> {
    compile(files, Vec::new())
}

fn compile(
    files: &[(String, String)],
    diags: Vec<diagnostics::Diagnostic>,
) -> Result<Vec<CompiledEnv>, Diagnostics> {
    check_files(files, diags).map(|checked| checked.compiled_envs())
}

/// A source project that passed every check: the model (for the authoring
/// model) and every environment's compiled bodies.
pub(crate) struct Checked {
    /// The checked model.
    pub(crate) model: check::ir::Model,
    /// Each environment's body, lowered once, indexed like the environments.
    pub(crate) bodies: Vec<Body>,
    /// Client bodies, indexed like the environments.
    pub(crate) clients: Vec<Option<Body>>,
}

/// Parses, merges and checks `files`; `diags` holds errors already met reading
/// them. Every error found, sorted, or the checked project.
pub(crate) fn check_files(
    files: &[(String, String)],
    mut diags: Vec<diagnostics::Diagnostic>,
) -> Result<Checked, Diagnostics> {
    let mut sources = Vec::with_capacity(files.len());
    for (name, text) in files {
        sources.push(source::read(name, text, &mut diags));
    }
    let names = files.iter().map(|(n, _)| n.clone()).collect();
    let model = check::build(names, &sources, &mut diags);
    drop(sources);
    let orders = check::order(&model, &mut diags);
    let (mut bodies, mut clients) = (Vec::new(), Vec::new());
    if diags.is_empty() {
        // Lowering needs a project without other errors.
        bodies = (0..model.envs.len())
            .map(|env| lower::lower(&model, &orders, env))
            .collect();
        check::bounds::check(&model, &orders, &bodies, &mut diags);
        clients = check::client::derive(&model, &orders, &bodies, &mut diags);
    }
    if !diags.is_empty() {
        let mut d = Diagnostics(diags);
        d.sort();
        return Err(d);
    }
    Ok(Checked {
        model,
        bodies,
        clients,
    })
}

impl Checked {
    /// One compiled body per environment, in declaration order.
    pub(crate) fn compiled_envs(&self) -> Vec<CompiledEnv> {
        self.model
            .envs
            .iter()
            .enumerate()
            .map(|(env, name)| CompiledEnv {
                name: name.clone(),
                body: self.bodies[env].clone(),
                client: self.clients.get(env).cloned().flatten(),
            })
            .collect()
    }
}

/// Whether `name` is a valid environment name (`[A-Za-z0-9][A-Za-z0-9._-]{0,63}`),
/// the same rule the compiler applies to `environments:` and the ruleset reader
/// and writer apply to the header: it is
/// [`edgeflag_evaluator::format::is_valid_environment`]. Such a name is safe as
/// one path segment in a directory, a bucket key and a URL.
///
/// ```
/// assert!(edgeflag_compiler::is_valid_environment("eu-west.prod"));
/// assert!(!edgeflag_compiler::is_valid_environment("../prod"));
/// ```
pub fn is_valid_environment(name: &str) -> bool {
    edgeflag_evaluator::format::is_valid_environment(name)
}
