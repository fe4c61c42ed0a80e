//! The invariants a decoded body must keep before it is evaluated.

use thiserror::Error;

/// Which invariant a decoded body breaks (carried by
/// [`DecodeError::Invalid`](crate::DecodeError::Invalid)).
///
/// Each variant is one invariant that evaluation relies on; the loader checks all
/// of them, so evaluation never indexes out of range, loops or compares unordered
/// data. Fields named `what` say where the broken value sits (`"rule clause"`,
/// `"segment include"`, `"flag key"`, …); `flag`, `segment` and `regex` are
/// positions in [`Body::flags`](crate::model::Body::flags),
/// [`Body::segments`](crate::model::Body::segments) and
/// [`Body::regexes`](crate::model::Body::regexes).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invariant {
    /// The string table's end offsets decrease or split a UTF-8 character.
    #[error("string table offsets")]
    StringOffsets {
        /// The first string whose end offset is wrong.
        string: u32,
    },
    /// The last end offset of the string table is not the length of its blob.
    #[error("string table length")]
    StringTableLength,
    /// A string id names no string of the table.
    #[error("{what}: string id {id} out of range")]
    StringOutOfRange {
        /// Where the id is used.
        what: &'static str,
        /// The id.
        id: u32,
        /// Number of strings in the table.
        len: u32,
    },
    /// A list of strings that evaluation binary-searches (an `in` list, a
    /// segment's include or exclude list) is not sorted by content and
    /// deduplicated.
    #[error("{what}: not sorted")]
    UnsortedStrings {
        /// Where the list is.
        what: &'static str,
    },
    /// The numbers of an `in` list are not sorted ascending and deduplicated.
    #[error("{what}: numbers not sorted")]
    UnsortedNumbers {
        /// Where the list is.
        what: &'static str,
    },
    /// A number (an `in` value, a comparison bound, a variation value) is NaN or
    /// infinite.
    #[error("{what}: non-finite number")]
    NotFinite {
        /// Where the number is.
        what: &'static str,
    },
    /// An attribute id (of a clause or of a rollout's `bucket_by`) names no
    /// attribute of the body.
    #[error("{what}: attribute id out of range")]
    AttributeOutOfRange {
        /// Where the id is used.
        what: &'static str,
        /// The id.
        id: u32,
    },
    /// A `matches` clause names no regex of the body.
    #[error("{what}: regex id out of range")]
    RegexOutOfRange {
        /// Where the id is used.
        what: &'static str,
        /// The id.
        id: u32,
    },
    /// An `in_segment` clause names a segment that is not stored before its use
    /// (for a segment's own rules: before that segment; for a flag: at all).
    #[error("{what}: segment {segment} is not defined before its use")]
    SegmentNotBefore {
        /// Where the reference is.
        what: &'static str,
        /// The segment named.
        segment: u32,
    },
    /// Segments are nested (through `in_segment`) deeper than
    /// [`MAX_DEPTH`](crate::MAX_DEPTH).
    #[error("segments nested too deeply")]
    SegmentsTooDeep {
        /// The first segment over the limit.
        segment: u32,
    },
    /// A flag has no variation.
    #[error("flag without variations")]
    NoVariations {
        /// The flag.
        flag: u32,
    },
    /// A variation's value is not of its flag's type.
    #[error("variation of another type than its flag")]
    VariationKindMismatch {
        /// The flag.
        flag: u32,
        /// The variation.
        variation: u32,
    },
    /// A variation index (off variation, target, served variation, rollout slice,
    /// accepted prerequisite variation) names no variation of its flag.
    #[error("variation index out of range")]
    VariationOutOfRange {
        /// The flag whose variations the index refers to.
        flag: u32,
        /// The index.
        variation: u32,
    },
    /// A prerequisite is not stored before the flag naming it (which also rules
    /// out cycles).
    #[error("prerequisite not stored before its flag")]
    PrerequisiteNotBefore {
        /// The flag naming the prerequisite.
        flag: u32,
        /// The prerequisite named.
        prerequisite: u32,
    },
    /// A prerequisite's accepted variations are not sorted ascending and
    /// deduplicated.
    #[error("prerequisite variations not sorted")]
    UnsortedPrerequisiteVariations {
        /// The flag naming the prerequisite.
        flag: u32,
        /// The prerequisite.
        prerequisite: u32,
    },
    /// Prerequisites are chained deeper than [`MAX_DEPTH`](crate::MAX_DEPTH).
    #[error("prerequisites chained too deeply")]
    PrerequisitesTooDeep {
        /// The first flag over the limit.
        flag: u32,
    },
    /// A flag's targets are not sorted by context key and deduplicated.
    #[error("targets not sorted")]
    UnsortedTargets {
        /// The flag.
        flag: u32,
    },
    /// A rollout's slice bounds decrease (they are cumulative).
    #[error("rollout slices decrease")]
    RolloutNotCumulative {
        /// The flag of the rollout.
        flag: u32,
    },
    /// A rollout's last slice bound is not [`BUCKETS`](crate::model::BUCKETS).
    #[error("rollout does not cover 100%")]
    RolloutIncomplete {
        /// The flag of the rollout.
        flag: u32,
        /// The last bound (0 without slices).
        upper: u32,
    },
    /// Two flags have the same key.
    #[error("flag {key:?} is defined twice")]
    DuplicateFlagKey {
        /// The key.
        key: String,
    },
    /// A regex pattern does not compile.
    #[error("regex {pattern:?}: {message}")]
    RegexSyntax {
        /// The regex.
        regex: u32,
        /// Its pattern.
        pattern: String,
        /// The regex crate's message.
        message: String,
    },
    /// A regex pattern compiles to a program larger than the loader allows.
    #[error("regex {pattern:?}: Compiled regex exceeds size limit of {limit} bytes.")]
    RegexTooBig {
        /// The regex.
        regex: u32,
        /// Its pattern.
        pattern: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// A regex pattern is longer than
    /// [`MAX_REGEX_LEN`](crate::limits::MAX_REGEX_LEN) bytes.
    #[error("regex {regex}: pattern of {len} bytes exceeds the limit")]
    RegexTooLong {
        /// The regex.
        regex: u32,
        /// Its length in bytes.
        len: usize,
    },
    /// The same pattern is listed twice in the regex table (each would be
    /// compiled and held again).
    #[error("regex {regex} repeats regex {first}")]
    DuplicateRegex {
        /// The second listing.
        regex: u32,
        /// The first.
        first: u32,
    },
    /// More regexes than [`MAX_REGEXES`](crate::limits::MAX_REGEXES).
    #[error("{count} regexes, more than the limit")]
    TooManyRegexes {
        /// How many the body lists.
        count: u32,
    },
    /// The compiled regexes together hold more than
    /// [`REGEX_MEMORY_BUDGET`](crate::limits::REGEX_MEMORY_BUDGET) bytes.
    #[error("regex {regex}: compiled regexes exceed the memory budget ({needed} bytes)")]
    RegexMemory {
        /// The regex whose compilation exceeded the budget.
        regex: u32,
        /// Bytes the regexes up to this one hold.
        needed: usize,
    },
    /// The regex patterns together have more than
    /// [`REGEX_SOURCE_BUDGET`](crate::limits::REGEX_SOURCE_BUDGET) bytes.
    #[error("regex {regex}: regex patterns exceed the size budget ({needed} bytes)")]
    RegexSource {
        /// The regex whose pattern exceeded the budget.
        regex: u32,
        /// Bytes of the patterns up to this one.
        needed: usize,
    },
    /// A flag lists the same prerequisite twice.
    #[error("flag {flag} lists prerequisite {prerequisite} twice")]
    DuplicatePrerequisite {
        /// The flag.
        flag: u32,
        /// The prerequisite listed twice.
        prerequisite: u32,
    },
    /// An `in_segment` clause names the same segment twice.
    #[error("{what}: segment {segment} named twice")]
    DuplicateSegment {
        /// Where the clause is.
        what: &'static str,
        /// The segment.
        segment: u32,
    },
    /// A membership test of a segment may take more than
    /// [`MAX_EVAL_COST`](crate::limits::MAX_EVAL_COST) steps
    /// ([`limits::costs`](crate::limits::costs)).
    #[error("segment {segment} may take {cost} steps to evaluate, more than the limit")]
    SegmentTooCostly {
        /// The first segment over the limit.
        segment: u32,
        /// Its cost.
        cost: u64,
    },
    /// An evaluation of a flag may take more than
    /// [`MAX_EVAL_COST`](crate::limits::MAX_EVAL_COST) steps
    /// ([`limits::costs`](crate::limits::costs)).
    #[error("flag {flag} may take {cost} steps to evaluate, more than the limit")]
    FlagTooCostly {
        /// The first flag over the limit.
        flag: u32,
        /// Its cost.
        cost: u64,
    },
    /// A client body's clear-attribute list names an attribute that does not
    /// exist, or is not sorted and free of repeats.
    #[error("client clear attributes: not sorted, repeated or out of range")]
    ClearAttributes,
    /// A client body stores a key or value in clear that it must store hashed.
    #[error("{what}: a client ruleset value is not a hash")]
    NotHashed {
        /// Where the value is.
        what: &'static str,
    },
    /// A client body has a `starts_with`, `ends_with`, `contains` or `matches`
    /// clause on an attribute whose values it stores hashed.
    #[error("{what}: operator needs clear values, attribute {attribute} is hashed")]
    UnhashableClause {
        /// Where the clause is.
        what: &'static str,
        /// The attribute.
        attribute: u32,
    },
}
