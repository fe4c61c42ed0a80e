//! The checked intermediate form: every name resolved to an index, every value
//! parsed and reduced, still independent of any string table. `lower` turns one
//! environment's view of it into a [`edgeflag_evaluator::model::Body`].

use crate::diagnostics::Pos;
use edgeflag_evaluator::limits::{RegexBudget, RegexError};
use edgeflag_evaluator::model::{Instant, ValueKind};

/// A reference from one flag (prerequisite) or segment (`in_segment`) to another,
/// with where it was written.
#[derive(Debug, Clone)]
pub struct Edge {
    /// Index of the referenced flag or segment in the model.
    pub to: usize,
    /// Where the reference is.
    pub pos: Pos,
    /// Context for messages.
    pub ctx: crate::source::schema::LazyCtx,
}

/// Every distinct regex pattern of a compilation, compiled once with the
/// loader's own [`edgeflag_evaluator::limits::compile_regex`] and charged to one
/// [`RegexBudget`] for the whole project: every environment's patterns are among
/// them, so a project within it gives rulesets every loader accepts.
#[derive(Debug, Default)]
pub struct Regexes {
    /// Pattern → whether it compiles (a refused one is reported at every use).
    pub compiled: crate::fxhash::FxHashMap<String, Result<(), RegexError>>,
    /// What the compiled patterns cost together.
    pub budget: RegexBudget,
    /// Whether the budget was exceeded (reported once; later patterns are not
    /// compiled).
    pub exceeded: bool,
}

/// All flags and segments of a compilation, checked.
#[derive(Debug, Default)]
pub struct Model {
    /// Source file names (indexed by `file` fields).
    pub files: Vec<String>,
    /// Environment names in declaration order (`["default"]` when none declared).
    pub envs: Vec<String>,
    /// Flags in source order.
    pub flags: Vec<FlagIr>,
    /// Segments in source order.
    pub segments: Vec<SegmentIr>,
    /// Attributes whose values client rulesets keep in clear, sorted, each once.
    pub clear_attributes: Vec<String>,
}

impl Model {
    /// Whether any flag is client-side: then every environment gets a client
    /// ruleset.
    pub fn has_client_side(&self) -> bool {
        self.flags.iter().any(|f| f.client_side)
    }
}

/// A variation value.
#[derive(Debug, Clone, PartialEq)]
pub enum ValIr {
    /// Boolean.
    Bool(bool),
    /// Finite number.
    Number(f64),
    /// String.
    String(String),
    /// Compact JSON text of an object or array.
    Json(String),
}

/// A checked flag.
#[derive(Debug)]
pub struct FlagIr {
    /// Key.
    pub key: String,
    /// File index.
    pub file: usize,
    /// Position of the key.
    pub pos: Pos,
    /// Type of every variation.
    pub kind: ValueKind,
    /// Variations in declared order.
    pub variations: std::rc::Rc<Vec<(String, ValIr)>>,
    /// `client_side`.
    pub client_side: bool,
    /// What the flag is for, who owns it, when it should go (never lowered).
    pub metadata: crate::authoring::FlagMetadata,
    /// Base fields.
    pub base: EnvIr,
    /// Overrides, indexed like [`Model::envs`].
    pub overrides: Vec<PartialEnvIr>,
}

/// One environment's complete fields of a flag.
#[derive(Debug, Default)]
pub struct EnvIr {
    /// `enabled`.
    pub enabled: bool,
    /// `off_variation`.
    pub off: u32,
    /// `prerequisites`.
    pub prereqs: Vec<PrereqIr>,
    /// Targets sorted by key, each key once.
    pub targets: Vec<(String, u32)>,
    /// `rules`.
    pub rules: Vec<RuleIr>,
    /// `fallthrough`.
    pub fallthrough: ServeIr,
}

/// The fields an environment overrides.
#[derive(Debug, Default)]
pub struct PartialEnvIr {
    /// `enabled`.
    pub enabled: Option<bool>,
    /// `off_variation`.
    pub off: Option<u32>,
    /// `prerequisites`.
    pub prereqs: Option<Vec<PrereqIr>>,
    /// Targets.
    pub targets: Option<Vec<(String, u32)>>,
    /// `rules`.
    pub rules: Option<Vec<RuleIr>>,
    /// `fallthrough`.
    pub fallthrough: Option<ServeIr>,
}

/// A flag as one environment sees it.
#[derive(Debug, Clone, Copy)]
pub struct EnvView<'a> {
    /// `enabled`.
    pub enabled: bool,
    /// `off_variation`.
    pub off: u32,
    /// `prerequisites`.
    pub prereqs: &'a [PrereqIr],
    /// Targets.
    pub targets: &'a [(String, u32)],
    /// `rules`.
    pub rules: &'a [RuleIr],
    /// `fallthrough`.
    pub fallthrough: &'a ServeIr,
}

impl FlagIr {
    /// The flag's fields in environment `env` (an index into [`Model::envs`]).
    pub fn view(&self, env: usize) -> EnvView<'_> {
        let b = &self.base;
        match self.overrides.get(env) {
            None => EnvView {
                enabled: b.enabled,
                off: b.off,
                prereqs: &b.prereqs,
                targets: &b.targets,
                rules: &b.rules,
                fallthrough: &b.fallthrough,
            },
            Some(o) => EnvView {
                enabled: o.enabled.unwrap_or(b.enabled),
                off: o.off.unwrap_or(b.off),
                prereqs: o.prereqs.as_deref().unwrap_or(&b.prereqs),
                targets: o.targets.as_deref().unwrap_or(&b.targets),
                rules: o.rules.as_deref().unwrap_or(&b.rules),
                fallthrough: o.fallthrough.as_ref().unwrap_or(&b.fallthrough),
            },
        }
    }
}

/// A checked prerequisite.
#[derive(Debug)]
pub struct PrereqIr {
    /// The prerequisite flag, and where it is named.
    pub edge: Edge,
    /// Accepted variations, sorted, deduplicated.
    pub variations: Vec<u32>,
}

/// A checked rule.
#[derive(Debug)]
pub struct RuleIr {
    /// `id`.
    pub id: Option<String>,
    /// Clauses.
    pub clauses: Vec<ClauseIr>,
    /// `serve`.
    pub serve: ServeIr,
}

/// A checked serve.
#[derive(Debug, Clone, PartialEq)]
pub enum ServeIr {
    /// A variation.
    Variation(u32),
    /// A rollout.
    Rollout {
        /// Attribute name.
        bucket_by: String,
        /// Salt.
        salt: String,
        /// `(cumulative upper bound in thousandths of a percent, variation)`.
        slices: Vec<(u32, u32)>,
    },
}

impl Default for ServeIr {
    fn default() -> Self {
        ServeIr::Variation(0)
    }
}

/// A checked clause.
#[derive(Debug, Clone, PartialEq)]
pub struct ClauseIr {
    /// Attribute name (`None` for `in_segment`).
    pub attribute: Option<String>,
    /// `negate`.
    pub negate: bool,
    /// Operator and reduced values.
    pub op: OpIr,
}

/// An owned SemVer version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SemverIr {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
    /// Pre-release, if any.
    pub pre: Option<String>,
}

/// An operator with its reduced values (see [`edgeflag_evaluator::model::Op`]).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum OpIr {
    In {
        strings: Vec<String>,
        numbers: Vec<f64>,
        has_true: bool,
        has_false: bool,
    },
    StartsWith(Vec<String>),
    EndsWith(Vec<String>),
    Contains(Vec<String>),
    Matches(Vec<String>),
    Lt(f64),
    Lte(f64),
    Gt(f64),
    Gte(f64),
    SemverEq(Vec<SemverIr>),
    SemverLt(SemverIr),
    SemverGt(SemverIr),
    Before(Instant),
    After(Instant),
    /// Segment indexes in the model.
    InSegment(Vec<usize>),
}

/// A checked segment.
#[derive(Debug)]
pub struct SegmentIr {
    /// Key.
    pub key: String,
    /// File index.
    pub file: usize,
    /// Position of the key.
    pub pos: Pos,
    /// Sorted, deduplicated.
    pub include: Vec<String>,
    /// Sorted, deduplicated.
    pub exclude: Vec<String>,
    /// Rules (each a list of clauses).
    pub rules: Vec<Vec<ClauseIr>>,
    /// Segments referenced through `in_segment`.
    pub refs: Vec<Edge>,
    /// `description` (never lowered).
    pub description: Option<String>,
}
