//! The compiled form of a ruleset: what the compiler produces, what the binary body
//! encodes (with postcard), and what evaluation walks.
//!
//! Everything is indexed rather than named: strings live once in [`Body::strings`]
//! and are referred to by [`StrId`]; attributes by [`AttrId`]; flags, segments and
//! variations by their position. Flags are stored in topological order of their
//! prerequisites (a flag only names flags stored before it) and segments likewise
//! for `in_segment`, so evaluation can never loop. [`crate::Ruleset::from_bytes`]
//! checks every index and that ordering before it accepts a body.

use serde::{Deserialize, Serialize};

/// Index into [`Body::strings`].
pub type StrId = u32;
/// Index into [`Body::attributes`].
pub type AttrId = u32;
/// Index into [`Body::flags`].
pub type FlagId = u32;
/// Index into [`Body::segments`].
pub type SegmentId = u32;
/// Index into a flag's [`Flag::variations`].
pub type VariationId = u32;

/// Numbers with a magnitude below this (2^53) are integers every platform's
/// doubles represent exactly; they bucket as integers, count as epoch-millisecond
/// instants, and render without a fraction.
pub const SAFE_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Bucket space of a rollout: a bucket is in `0..BUCKETS`, one unit is 0.001 %.
pub const BUCKETS: u32 = 100_000;

/// The encoded body of a ruleset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Body {
    /// Every string of the ruleset, once (interned).
    pub strings: StringTable,
    /// Attribute names, as string ids; a clause or rollout names an attribute by its
    /// position here.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub attributes: Vec<StrId>,
    /// Regex patterns, as string ids; compiled once at load, named by
    /// [`Op::Matches`] by their position here.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub regexes: Vec<StrId>,
    /// Segments, each after every segment it references.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub segments: Vec<Segment>,
    /// Flags, each after every flag it names as a prerequisite.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub flags: Vec<Flag>,
    /// `Some` for a client ruleset (what browsers download): keys and values are
    /// stored hashed ([`crate::hashed`]); `None` for a server ruleset.
    pub client: Option<ClientSide>,
}

/// What makes a body a client ruleset: the salt of its hashed values and the
/// attributes whose values it stores in clear.
///
/// In a client body every target key, every segment include and exclude key,
/// and the string values of `in` clauses on attributes *not* listed in
/// `clear_attributes` are [`crate::hashed`] values under `salt`; `starts_with`,
/// `ends_with`, `contains` and `matches` appear only on clear attributes (a
/// prefix of a hash means nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ClientSide {
    /// The salt every hashed value of this body is computed with.
    pub salt: [u8; crate::hashed::SALT_LEN],
    /// Attributes whose values are stored in clear, sorted, each once.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub clear_attributes: Vec<AttrId>,
}

/// Interned strings stored as one UTF-8 blob and the end offset of each string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StringTable {
    /// All strings, concatenated.
    #[serde(deserialize_with = "crate::limits::bounded_string")]
    pub blob: String,
    /// `ends[i]` is the end offset of string `i`; it starts at `ends[i - 1]` (or 0).
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub ends: Vec<u32>,
}

impl StringTable {
    /// The string with this id, or `""` for an id out of range (bodies are checked at
    /// load, so this only matters for hand-built bodies).
    #[inline]
    pub fn get(&self, id: StrId) -> &str {
        let i = id as usize;
        let end = match self.ends.get(i) {
            Some(&e) => e as usize,
            None => return "",
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.blob.get(start..end).unwrap_or("")
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the table holds no string.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// The JSON type shared by all variations of a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueKind {
    /// `true` / `false`.
    Bool,
    /// A JSON string.
    String,
    /// A JSON number.
    Number,
    /// A JSON object or array.
    Json,
}

impl ValueKind {
    /// Lower-case name as used in messages and JSON output.
    pub fn name(self) -> &'static str {
        match self {
            ValueKind::Bool => "boolean",
            ValueKind::String => "string",
            ValueKind::Number => "number",
            ValueKind::Json => "json",
        }
    }
}

/// A variation's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// A number (JSON numbers are IEEE 754 doubles on every platform).
    Number(f64),
    /// A string, by id.
    String(StrId),
    /// An object or array as compact JSON text, by id.
    Json(StrId),
}

impl Value {
    /// The kind of this value.
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Bool(_) => ValueKind::Bool,
            Value::Number(_) => ValueKind::Number,
            Value::String(_) => ValueKind::String,
            Value::Json(_) => ValueKind::Json,
        }
    }
}

/// A named variation of a flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variation {
    /// Its name.
    pub name: StrId,
    /// Its value.
    pub value: Value,
}

/// A compiled flag (one environment's view of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    /// The flag key.
    pub key: StrId,
    /// Type of every variation.
    pub kind: ValueKind,
    /// Variations in declared order.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub variations: Vec<Variation>,
    /// `false` is the kill switch.
    pub enabled: bool,
    /// Served when disabled, when a prerequisite fails, and when the fallthrough
    /// rollout cannot bucket the context.
    pub off_variation: VariationId,
    /// Checked in order.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub prerequisites: Vec<Prerequisite>,
    /// Individual targets sorted by context key (string content), each key once,
    /// mapped to the first declared variation that lists it.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub targets: Vec<Target>,
    /// Rules, first match wins.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub rules: Vec<Rule>,
    /// Served when nothing else matched.
    pub fallthrough: Serve,
    /// Whether client-side SDKs may see this flag.
    pub client_side: bool,
}

/// A prerequisite: `flag` must be on and serve one of `variations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prerequisite {
    /// The prerequisite flag (stored before the flag naming it).
    pub flag: FlagId,
    /// Accepted variations of that flag, sorted.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub variations: Vec<VariationId>,
}

/// One individually targeted context key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The context key.
    pub key: StrId,
    /// The variation it gets.
    pub variation: VariationId,
}

/// A rule: all clauses must match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Optional rule id from the source.
    pub id: Option<StrId>,
    /// AND-ed clauses.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub clauses: Vec<Clause>,
    /// What the rule serves.
    pub serve: Serve,
}

/// A variation or a rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Serve {
    /// Always this variation.
    Variation(VariationId),
    /// A percentage rollout.
    Rollout(Rollout),
}

/// A percentage rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// Attribute whose value is hashed (default `key`).
    pub bucket_by: AttrId,
    /// Salt (default the flag key).
    pub salt: StrId,
    /// Slices in listed order: `(cumulative upper bound in buckets, variation)`.
    /// Bounds never decrease and the last is [`BUCKETS`].
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub slices: Vec<Slice>,
}

/// One slice of a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    /// Buckets `< upper` (and `>=` the previous slice's upper) get `variation`.
    pub upper: u32,
    /// The variation served.
    pub variation: VariationId,
}

/// A clause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clause {
    /// The attribute tested (ignored by `in_segment`).
    pub attribute: AttrId,
    /// Whether the match is inverted (never applied to an absent attribute).
    pub negate: bool,
    /// Operator with its pre-processed values.
    pub op: Op,
}

/// An operator with its values, pre-processed by the compiler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Equality with one of the values.
    In(InSet),
    /// Byte-wise prefix.
    StartsWith(#[serde(deserialize_with = "crate::limits::bounded_vec")] Vec<StrId>),
    /// Byte-wise suffix.
    EndsWith(#[serde(deserialize_with = "crate::limits::bounded_vec")] Vec<StrId>),
    /// Byte-wise substring.
    Contains(#[serde(deserialize_with = "crate::limits::bounded_vec")] Vec<StrId>),
    /// Unanchored regex search; positions in [`Body::regexes`].
    Matches(#[serde(deserialize_with = "crate::limits::bounded_vec")] Vec<u32>),
    /// `attr < bound`, bound = the largest value.
    Lt(f64),
    /// `attr <= bound`, bound = the largest value.
    Lte(f64),
    /// `attr > bound`, bound = the smallest value.
    Gt(f64),
    /// `attr >= bound`, bound = the smallest value.
    Gte(f64),
    /// SemVer precedence equal to one of the versions.
    SemverEq(#[serde(deserialize_with = "crate::limits::bounded_vec")] Vec<Semver>),
    /// SemVer precedence lower than the highest version.
    SemverLt(Semver),
    /// SemVer precedence higher than the lowest version.
    SemverGt(Semver),
    /// Instant before the latest value.
    Before(Instant),
    /// Instant after the earliest value.
    After(Instant),
    /// Member of one of the segments.
    InSegment(#[serde(deserialize_with = "crate::limits::bounded_vec")] Vec<SegmentId>),
}

impl Op {
    /// The segments an `in_segment` clause names; `None` for every other
    /// operator (which test the clause's attribute instead).
    pub fn segments(&self) -> Option<&[SegmentId]> {
        match self {
            Op::InSegment(v) => Some(v),
            Op::In(_)
            | Op::StartsWith(_)
            | Op::EndsWith(_)
            | Op::Contains(_)
            | Op::Matches(_)
            | Op::Lt(_)
            | Op::Lte(_)
            | Op::Gt(_)
            | Op::Gte(_)
            | Op::SemverEq(_)
            | Op::SemverLt(_)
            | Op::SemverGt(_)
            | Op::Before(_)
            | Op::After(_) => None,
        }
    }
}

/// The values of an `in` clause, split by type and sorted for binary search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct InSet {
    /// String values, sorted by content (byte order), deduplicated.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub strings: Vec<StrId>,
    /// Number values, sorted ascending, deduplicated.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub numbers: Vec<f64>,
    /// Whether `true` is among the values.
    pub has_true: bool,
    /// Whether `false` is among the values.
    pub has_false: bool,
}

/// A parsed SemVer version (build metadata dropped: it has no precedence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Semver {
    /// Major.
    pub major: u64,
    /// Minor (0 when the source omitted it).
    pub minor: u64,
    /// Patch (0 when the source omitted it).
    pub patch: u64,
    /// Pre-release identifiers joined by `.`, if any.
    pub pre: Option<StrId>,
}

/// An instant: nanoseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Instant(pub i128);

/// A compiled segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// The segment key.
    pub key: StrId,
    /// Context keys always in, sorted by content.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub include: Vec<StrId>,
    /// Context keys out unless included, sorted by content.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub exclude: Vec<StrId>,
    /// Any rule whose clauses all match puts the context in.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub rules: Vec<SegmentRule>,
}

/// A segment rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentRule {
    /// AND-ed clauses.
    #[serde(deserialize_with = "crate::limits::bounded_vec")]
    pub clauses: Vec<Clause>,
}
