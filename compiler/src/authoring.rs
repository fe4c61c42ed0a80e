//! The authoring model: a checked source project as people wrote it, with the
//! metadata that evaluation ignores and the compiled ruleset never carries
//! (`description`, `owner`, `tags`, `temporary`, `expires`), for dashboards,
//! ownership pages and stale-flag reports.
//!
//! [`check_sources`] and [`check_path`] check sources exactly as
//! [`compile_sources`](crate::compile_sources) and
//! [`compile_path`](crate::compile_path) do (same file reading, merging and
//! diagnostics) and return a [`Project`]; [`compile_project`] and
//! [`compile_project_path`] return the project together with the compiled
//! environments, from one check of the sources. Every type is serializable with
//! serde.
//!
//! ```
//! use edgeflag_compiler::authoring::check_sources;
//!
//! let src = r#"
//! environments: [staging, production]
//! flags:
//!   new-checkout:
//!     description: One-page checkout replacing the three-step wizard.
//!     owner: team-checkout
//!     tags: [checkout, experiment]
//!     temporary: true
//!     expires: 2026-09-30
//!   kill-switch: {}
//! segments:
//!   staff:
//!     description: Everyone at the company.
//!     include: [u1]
//! "#;
//! let project = check_sources(&[("flags.yaml".into(), src.into())]).unwrap();
//! assert_eq!(project.environments, ["staging", "production"]);
//!
//! let flag = project.flag("new-checkout").unwrap();
//! assert_eq!(flag.metadata.owner.as_deref(), Some("team-checkout"));
//! assert_eq!(flag.metadata.tags, ["checkout", "experiment"]);
//! assert_eq!((flag.location.line, flag.location.column), (4, 3));
//! let expires = flag.metadata.expires.as_ref().unwrap();
//! assert_eq!((expires.year, expires.month, expires.day), (2026, 9, 30));
//! assert_eq!(expires.start_ms, 1_790_726_400_000); // 2026-09-30T00:00:00Z
//!
//! // A flag without metadata has the defaults: no description, owner or tags,
//! // not temporary, no expiry.
//! assert_eq!(project.flag("kill-switch").unwrap().metadata, Default::default());
//! let staff = project.segment("staff").unwrap();
//! assert_eq!(staff.description.as_deref(), Some("Everyone at the company."));
//!
//! // A stale-flag report: flags whose expiry date has begun (UTC).
//! let now_ms = 1_800_000_000_000; // 2027-01-15
//! let stale: Vec<&str> = project
//!     .flags
//!     .iter()
//!     .filter(|f| f.metadata.expires.as_ref().is_some_and(|e| e.is_due(now_ms)))
//!     .map(|f| f.key.as_str())
//!     .collect();
//! assert_eq!(stale, ["new-checkout"]);
//!
//! // A dashboard gets it as JSON.
//! let json = serde_json::to_value(&project).unwrap();
//! assert_eq!(json["flags"][0]["metadata"]["expires"]["date"], "2026-09-30");
//! assert_eq!(json["flags"][1]["metadata"]["description"], serde_json::Value::Null);
//! ```
//!
//! Errors are the same [`Diagnostics`] the compile functions return:
//!
//! ```
//! use edgeflag_compiler::{authoring::check_sources, compile_sources};
//! let files = [("flags.yaml".to_owned(), "flags:\n  a:\n    expires: soon\n".to_owned())];
//! let errors = check_sources(&files).unwrap_err();
//! assert_eq!(
//!     errors.to_string(),
//!     r#"flags.yaml:3:14: flag "a" expires: invalid date "soon": expected YYYY-MM-DD"#
//! );
//! assert_eq!(errors, compile_sources(&files).unwrap_err());
//! ```

use crate::check::ir::Model;
use crate::diagnostics::Pos;
use crate::{check_files, read_path, Checked, CompiledEnv, Diagnostics};
use edgeflag_evaluator::instant;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A checked source project: its environments, flags and segments with their
/// metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Project {
    /// Environment names in declaration order (`["default"]` when the sources
    /// declare none), the names of the compiled environments.
    pub environments: Vec<String>,
    /// Flags in source order (files in merge order, then as written).
    pub flags: Vec<Flag>,
    /// Segments in source order (files in merge order, then as written).
    pub segments: Vec<Segment>,
}

impl Project {
    /// The flag with key `key`.
    pub fn flag(&self, key: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.key == key)
    }

    /// The segment with key `key`.
    pub fn segment(&self, key: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.key == key)
    }

    /// The project view of a checked model.
    fn from_model(model: &Model) -> Project {
        let location = |file: usize, pos: Pos| Location {
            file: model.files.get(file).cloned().unwrap_or_default(),
            line: pos.line,
            column: pos.column,
        };
        Project {
            environments: model.envs.clone(),
            flags: (model.flags.iter())
                .map(|f| Flag {
                    key: f.key.clone(),
                    location: location(f.file, f.pos),
                    metadata: f.metadata.clone(),
                })
                .collect(),
            segments: (model.segments.iter())
                .map(|s| Segment {
                    key: s.key.clone(),
                    location: location(s.file, s.pos),
                    description: s.description.clone(),
                })
                .collect(),
        }
    }
}

/// Where a flag or segment is defined: the position of its key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Location {
    /// The file, as named to the compiler.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub column: u32,
}

/// A flag and its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Flag {
    /// The flag key.
    pub key: String,
    /// Where it is defined.
    pub location: Location,
    /// What it is for, who owns it, when it should go.
    pub metadata: FlagMetadata,
}

/// A flag's metadata: fields for people and tooling that evaluation ignores and
/// the compiled ruleset does not contain. A field not written has its default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FlagMetadata {
    /// `description`.
    pub description: Option<String>,
    /// `owner`.
    pub owner: Option<String>,
    /// `tags`, as listed.
    pub tags: Vec<String>,
    /// `temporary` (`false` when not written).
    pub temporary: bool,
    /// `expires`.
    pub expires: Option<Expires>,
}

/// A flag's `expires` date: the day from which it should be cleaned up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expires {
    /// The date as written: `YYYY-MM-DD` (an RFC 3339 full-date).
    pub date: String,
    /// Year.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month, from 1.
    pub day: u8,
    /// The start of that day, 00:00 UTC, in milliseconds since the Unix epoch.
    pub start_ms: i64,
}

impl Expires {
    /// Parses a `YYYY-MM-DD` date as `expires` accepts it (a real Gregorian
    /// date); `None` for anything else.
    ///
    /// ```
    /// use edgeflag_compiler::authoring::Expires;
    /// let e = Expires::parse("2024-02-29").unwrap();
    /// assert_eq!((e.year, e.month, e.day, e.start_ms), (2024, 2, 29, 1_709_164_800_000));
    /// assert!(Expires::parse("2023-02-29").is_none());
    /// assert!(Expires::parse("2024-02-29T00:00:00Z").is_none());
    /// ```
    pub fn parse(date: &str) -> Option<Expires> {
        if date.len() != 10 {
            return None;
        }
        // The RFC 3339 parser of `before` / `after` validates the date.
        let start = instant::parse_rfc3339(&format!("{date}T00:00:00Z"))?;
        fn part<T: std::str::FromStr>(date: &str, r: std::ops::Range<usize>) -> Option<T> {
            date.get(r)?.parse().ok()
        }
        Some(Expires {
            date: date.to_owned(),
            year: part(date, 0..4)?,
            month: part(date, 5..7)?,
            day: part(date, 8..10)?,
            start_ms: i64::try_from(start.0 / 1_000_000).ok()?,
        })
    }

    /// Whether the expiry date has begun (UTC) at `now_ms`, milliseconds since
    /// the Unix epoch.
    ///
    /// ```
    /// use edgeflag_compiler::authoring::Expires;
    /// let e = Expires::parse("2026-09-30").unwrap();
    /// assert!(!e.is_due(e.start_ms - 1));
    /// assert!(e.is_due(e.start_ms));
    /// ```
    pub fn is_due(&self, now_ms: i64) -> bool {
        now_ms >= self.start_ms
    }
}

/// A segment and its description.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Segment {
    /// The segment key.
    pub key: String,
    /// Where it is defined.
    pub location: Location,
    /// `description`.
    pub description: Option<String>,
}

/// Checks in-memory files as [`compile_sources`](crate::compile_sources) does,
/// returning the project instead of compiling it.
pub fn check_sources(files: &[(String, String)]) -> Result<Project, Diagnostics> {
    check_files(files, Vec::new()).map(|c| Project::from_model(&c.model))
}

/// Checks a file or a directory as [`compile_path`](crate::compile_path) does,
/// returning the project instead of compiling it.
///
/// ```no_run
/// let project = edgeflag_compiler::authoring::check_path(std::path::Path::new("flags/"))
///     .unwrap_or_else(|errors| {
///         eprintln!("{errors}");
///         std::process::exit(1)
///     });
/// for flag in &project.flags {
///     println!("{}\t{}", flag.key, flag.metadata.owner.as_deref().unwrap_or("-"));
/// }
/// ```
pub fn check_path(path: &Path) -> Result<Project, Diagnostics> {
    let (files, diags) = read_path(path);
    check_files(&files, diags).map(|c| Project::from_model(&c.model))
}

/// Compiles in-memory files as [`compile_sources`](crate::compile_sources)
/// does, also returning the project they describe.
///
/// ```
/// use edgeflag_compiler::{authoring::compile_project, compile_sources};
/// let files = [(
///     "flags.yaml".to_owned(),
///     "flags:\n  a: {owner: team-a, temporary: true}\n".to_owned(),
/// )];
/// let (project, envs) = compile_project(&files).unwrap();
/// assert_eq!(project.flags[0].metadata.owner.as_deref(), Some("team-a"));
/// assert_eq!(envs, compile_sources(&files).unwrap());
/// ```
pub fn compile_project(
    files: &[(String, String)],
) -> Result<(Project, Vec<CompiledEnv>), Diagnostics> {
    check_files(files, Vec::new()).map(|c| project_and_envs(&c))
}

/// Compiles a file or a directory as [`compile_path`](crate::compile_path)
/// does, also returning the project it describes.
pub fn compile_project_path(path: &Path) -> Result<(Project, Vec<CompiledEnv>), Diagnostics> {
    let (files, diags) = read_path(path);
    check_files(&files, diags).map(|c| project_and_envs(&c))
}

/// The project and the compiled environments of one checked set of sources.
fn project_and_envs(checked: &Checked) -> (Project, Vec<CompiledEnv>) {
    (Project::from_model(&checked.model), checked.compiled_envs())
}
