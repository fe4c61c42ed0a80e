//! What one ruleset may cost: the bounds the loader enforces on untrusted bytes
//! and the compiler enforces on sources, with the same code, so a ruleset the
//! compiler writes always loads and one it refuses never does.
//!
//! | bound | value | what it bounds |
//! |---|---|---|
//! | [`MAX_REGEX_LEN`] | 16 KiB | bytes of one pattern (parsing memory) |
//! | [`REGEX_SIZE_LIMIT`] | 1 MiB | compiled program of one pattern |
//! | [`MAX_REGEXES`] | 1024 | distinct patterns of one ruleset (the loader refuses a pattern listed twice) |
//! | [`REGEX_SOURCE_BUDGET`] | 256 KiB | bytes of all patterns together (parsing time) |
//! | [`REGEX_MEMORY_BUDGET`] | 8 MiB | compiled programs of all patterns together ([`RegexBudget`]) |
//! | [`REGEX_CACHE_CAPACITY`] | 64 KiB | lazy-DFA cache of one pattern, per thread that evaluates it |
//! | [`MAX_EVAL_COST`] | 100 000 | steps one evaluation of any flag or segment may take ([`costs`]) |
//! | [`DECODE_BYTES_PER_BODY_BYTE`], [`DECODE_BYTES_BASE`] | 8, 16 MiB | memory decoding a body may allocate |
//!
//! Regexes are compiled by [`compile_regex`], as `regex::Regex` compiles them
//! (Unicode on, leftmost-first, UTF-8), so a pattern means what the `regex`
//! crate's documentation says. The memory limits are counted by the regex engine
//! in bytes of the host, so a pattern within a few per cent of a limit can load
//! on a 32-bit target and not on a 64-bit one; the limits are far above what
//! real patterns need.

use crate::model::{Body, Flag, Op, Segment, Serve};
use regex_automata::meta;
use regex_automata::util::syntax;
use std::cell::Cell;
use std::marker::PhantomData;
use thiserror::Error;

/// Longest regex pattern, in bytes. Parsing allocates a syntax tree many times
/// the pattern's size before the compiled-size limit can apply.
pub const MAX_REGEX_LEN: usize = 16 << 10;

/// Largest compiled program (the regex engine's NFA) one pattern may produce, in
/// bytes.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Most distinct regex patterns one ruleset may hold.
pub const MAX_REGEXES: usize = 1024;

/// Most bytes all regex patterns of one ruleset may have together: parsing takes
/// time in proportion to the pattern, even one that compiles to nothing.
pub const REGEX_SOURCE_BUDGET: usize = 256 << 10;

/// Most memory all compiled patterns of one ruleset may hold together, in bytes:
/// `meta::Regex::memory_usage` of the engines every build has (NFA and PikeVM,
/// no prefilter), summed. The optional `regex-perf` engines hold up to about
/// twice as much again on top (measured: 3.2× in all for large Unicode classes).
pub const REGEX_MEMORY_BUDGET: usize = 8 << 20;

/// Largest lazy-DFA cache one pattern keeps per evaluating thread, in bytes.
/// Evaluation fills it as it meets new states; a smaller cache only makes a
/// complex pattern slower (the engine clears it or falls back to another
/// engine), never changes what matches.
pub const REGEX_CACHE_CAPACITY: usize = 64 << 10;

/// Most steps one evaluation of a flag (or one membership test of a segment) may
/// take, as [`costs`] counts them. Prerequisites and `in_segment` are evaluated
/// again at every use, so a small ruleset can describe an exponential amount of
/// work; this bound refuses it. A flag with 100 rules of 10 clauses listing 50
/// values each stays below it.
pub const MAX_EVAL_COST: u64 = 100_000;

/// Decoding a body may allocate at most this many bytes per body byte, plus
/// [`DECODE_BYTES_BASE`]. Without the bound a body of empty lists decodes to ~24×
/// its size. What the compiler writes needs 3 to 7 bytes per byte (strings,
/// target lists and `in` sets are dense); only bodies made mostly of small
/// clauses come near 14, and the constant covers them up to a few MiB.
pub const DECODE_BYTES_PER_BODY_BYTE: usize = 8;

/// The constant part of the decoding allocation budget.
pub const DECODE_BYTES_BASE: usize = 16 << 20;

/// A regex pattern compiled under the per-pattern limits ([`compile_regex`]).
#[derive(Debug, Clone)]
pub struct CompiledRegex(meta::Regex, RegexCost);

/// What one compiled pattern charges to the [`RegexBudget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegexCost {
    /// Bytes of the pattern.
    pub len: usize,
    /// Heap memory of the pattern's basic engines (NFA, PikeVM), the same in
    /// every build, without the per-thread search caches.
    pub memory: usize,
}

impl CompiledRegex {
    /// Whether the pattern matches anywhere in `haystack` (unanchored search).
    /// Allocation-free once this thread's cache for the pattern is warm.
    #[inline]
    pub fn is_match(&self, haystack: &str) -> bool {
        self.0.is_match(haystack)
    }

    /// What the pattern charges to the [`RegexBudget`].
    pub fn cost(&self) -> RegexCost {
        self.1
    }
}

/// Why one pattern is refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegexError {
    /// Not a valid pattern; the regex parser's message (several lines, one
    /// starting with `error: `).
    #[error("{0}")]
    Syntax(String),
    /// The compiled program is larger than [`REGEX_SIZE_LIMIT`].
    #[error("Compiled regex exceeds size limit of {0} bytes.")]
    TooBig(usize),
    /// The pattern is longer than [`MAX_REGEX_LEN`] bytes.
    #[error("pattern of {len} bytes exceeds the {MAX_REGEX_LEN}-byte limit")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
}

/// Compiles one pattern as `regex::Regex::new` would (Unicode on, leftmost-first
/// match semantics, UTF-8 haystacks, empty matches only at character
/// boundaries) under [`MAX_REGEX_LEN`] and [`REGEX_SIZE_LIMIT`], with a lazy-DFA
/// cache of [`REGEX_CACHE_CAPACITY`]. The loader and the compiler both call it.
///
/// ```
/// use edgeflag_evaluator::limits::{compile_regex, RegexError};
/// assert!(compile_regex("^/api/v[0-9]+/").unwrap().is_match("/api/v2/users"));
/// assert!(matches!(compile_regex("(unclosed"), Err(RegexError::Syntax(_))));
/// ```
pub fn compile_regex(pattern: &str) -> Result<CompiledRegex, RegexError> {
    if pattern.len() > MAX_REGEX_LEN {
        return Err(RegexError::TooLong { len: pattern.len() });
    }
    let config = meta::Config::new()
        .match_kind(regex_automata::MatchKind::LeftmostFirst)
        .utf8_empty(true)
        .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
        .hybrid_cache_capacity(REGEX_CACHE_CAPACITY);
    let build = |config: meta::Config| {
        meta::Builder::new()
            .configure(config)
            .syntax(syntax::Config::new().utf8(true).unicode(true))
            .build(pattern)
            .map_err(|e| {
                if let Some(limit) = e.size_limit() {
                    RegexError::TooBig(limit)
                } else if let Some(s) = e.syntax_error() {
                    RegexError::Syntax(s.to_string())
                } else {
                    // Other build failures (too many states, …) say what they are.
                    RegexError::Syntax(e.to_string())
                }
            })
    };
    // What is charged must not depend on the build's features (the compiler and
    // the WASM loader build without `regex-perf`): the engines every build has
    // (NFA, PikeVM), without prefilters. The `regex-perf` engines (reverse NFA,
    // one-pass DFA, prefilters) come on top.
    let basic = build(
        config
            .clone()
            .auto_prefilter(false)
            .hybrid(false)
            .onepass(false)
            .backtrack(false)
            .dfa(false),
    )?;
    let cost = RegexCost {
        len: pattern.len(),
        memory: basic.memory_usage(),
    };
    // Engines change speed, never what matches.
    #[cfg(feature = "regex-perf")]
    let re = {
        drop(basic);
        build(config)?
    };
    #[cfg(not(feature = "regex-perf"))]
    let re = {
        let _ = config;
        basic
    };
    Ok(CompiledRegex(re, cost))
}

/// The regex budget of one ruleset: at most [`MAX_REGEXES`] patterns of at most
/// [`REGEX_SOURCE_BUDGET`] bytes holding at most [`REGEX_MEMORY_BUDGET`] bytes
/// together. Charge each distinct pattern once.
///
/// ```
/// use edgeflag_evaluator::limits::{compile_regex, RegexBudget};
/// let mut budget = RegexBudget::default();
/// let re = compile_regex("^beta-").unwrap();
/// budget.charge(re.cost()).unwrap();
/// assert_eq!(budget.count(), 1);
/// ```
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RegexBudget {
    count: usize,
    len: usize,
    memory: usize,
}

/// Why the patterns of a ruleset exceed the [`RegexBudget`].
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BudgetError {
    /// More than [`MAX_REGEXES`] distinct patterns.
    #[error("more than {MAX_REGEXES} distinct regexes in one ruleset")]
    TooManyRegexes,
    /// The patterns have more than [`REGEX_SOURCE_BUDGET`] bytes together.
    #[error(
        "regex patterns would have {needed} bytes, more than the {REGEX_SOURCE_BUDGET} bytes \
         of one ruleset"
    )]
    RegexSource {
        /// Bytes of the patterns so far, this one included.
        needed: usize,
    },
    /// The compiled patterns hold more than [`REGEX_MEMORY_BUDGET`] bytes.
    #[error(
        "compiled regexes would hold {needed} bytes, more than the {REGEX_MEMORY_BUDGET}-byte \
         budget of one ruleset"
    )]
    RegexMemory {
        /// Bytes held by the patterns so far, this one included.
        needed: usize,
    },
}

impl RegexBudget {
    /// Charges one more pattern ([`CompiledRegex::cost`]); an error once the
    /// budget is exceeded (and the charge is not kept).
    pub fn charge(&mut self, cost: RegexCost) -> Result<(), BudgetError> {
        if self.count >= MAX_REGEXES {
            return Err(BudgetError::TooManyRegexes);
        }
        let len = self.len.saturating_add(cost.len);
        if len > REGEX_SOURCE_BUDGET {
            return Err(BudgetError::RegexSource { needed: len });
        }
        let memory = self.memory.saturating_add(cost.memory);
        if memory > REGEX_MEMORY_BUDGET {
            return Err(BudgetError::RegexMemory { needed: memory });
        }
        self.count += 1;
        self.len = len;
        self.memory = memory;
        Ok(())
    }

    /// Patterns charged so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Pattern bytes charged so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was charged yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Compiled bytes charged so far.
    pub fn memory(&self) -> usize {
        self.memory
    }
}

/// The evaluation cost of every segment and flag of a body, by position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Costs {
    /// `segments[i]`: steps of one membership test of segment `i`.
    pub segments: Vec<u64>,
    /// `flags[i]`: steps of one evaluation of flag `i`.
    pub flags: Vec<u64>,
}

/// The most steps evaluation can take, computed bottom-up in one pass (segments
/// are stored after the segments they reference and flags after their
/// prerequisites, so each cost only needs earlier ones). Evaluating a flag takes
/// one step, plus one per clause of its rules, plus one per value a clause tests
/// in turn (`starts_with`, `ends_with`, `contains`, `matches`, `semver_eq`),
/// plus the cost of every segment an `in_segment` clause names, plus the cost of
/// every prerequisite, plus the slices of its longest rollout. A segment costs
/// one step plus its clauses, counted alike. Sorted lists (`in`, targets,
/// include and exclude) are binary-searched and count as one step.
///
/// A reference to a flag or segment not stored before the one naming it costs
/// `u64::MAX` (the loader refuses such bodies before it counts). Costs saturate
/// rather than overflow.
pub fn costs(body: &Body) -> Costs {
    let mut segments = Vec::with_capacity(body.segments.len());
    for seg in &body.segments {
        let c = segment_cost(seg, &segments);
        segments.push(c);
    }
    let mut flags = Vec::with_capacity(body.flags.len());
    for f in &body.flags {
        let c = flag_cost(f, &flags, &segments);
        flags.push(c);
    }
    Costs { segments, flags }
}

/// Steps of one membership test of `seg`, given the costs of the segments stored
/// before it.
pub fn segment_cost(seg: &Segment, segment_costs: &[u64]) -> u64 {
    seg.rules.iter().flat_map(|r| &r.clauses).fold(1, |acc, c| {
        acc.saturating_add(clause_cost(&c.op, segment_costs))
    })
}

/// Steps of one evaluation of `flag`, given the costs of the flags and segments
/// stored before it.
pub fn flag_cost(flag: &Flag, flag_costs: &[u64], segment_costs: &[u64]) -> u64 {
    let mut cost: u64 = 1;
    for p in &flag.prerequisites {
        let c = flag_costs.get(p.flag as usize).copied().unwrap_or(u64::MAX);
        cost = cost.saturating_add(c);
    }
    let mut slices = slices(&flag.fallthrough);
    for r in &flag.rules {
        for c in &r.clauses {
            cost = cost.saturating_add(clause_cost(&c.op, segment_costs));
        }
        slices = slices.max(self::slices(&r.serve));
    }
    cost.saturating_add(slices)
}

/// Slices a serve may scan.
fn slices(s: &Serve) -> u64 {
    match s {
        Serve::Variation(_) => 0,
        Serve::Rollout(r) => r.slices.len() as u64,
    }
}

/// Steps of one clause: one, plus each value tested in turn, plus the segments
/// an `in_segment` clause names.
pub fn clause_cost(op: &Op, segment_costs: &[u64]) -> u64 {
    let values = match op {
        Op::StartsWith(v) | Op::EndsWith(v) | Op::Contains(v) | Op::Matches(v) => v.len() as u64,
        Op::SemverEq(v) => v.len() as u64,
        Op::InSegment(v) => v.iter().fold(0u64, |acc, &s| {
            let c = segment_costs.get(s as usize).copied().unwrap_or(u64::MAX);
            acc.saturating_add(c)
        }),
        Op::In(_)
        | Op::Lt(_)
        | Op::Lte(_)
        | Op::Gt(_)
        | Op::Gte(_)
        | Op::SemverLt(_)
        | Op::SemverGt(_)
        | Op::Before(_)
        | Op::After(_) => 0,
    };
    values.saturating_add(1)
}

thread_local! {
    /// Bytes the body being decoded on this thread may still allocate; `None`
    /// outside [`decode_bounded`].
    static DECODE_BUDGET: Cell<Option<usize>> = const { Cell::new(None) };
    /// Whether the budget ran out (so the error can say so).
    static DECODE_EXCEEDED: Cell<bool> = const { Cell::new(false) };
}

/// The allocation budget of decoding a body of `body_len` bytes.
pub fn decode_budget(body_len: usize) -> usize {
    body_len
        .saturating_mul(DECODE_BYTES_PER_BODY_BYTE)
        .saturating_add(DECODE_BYTES_BASE)
}

/// Runs `decode` with the decoding allocation budget of a body of `body_len`
/// bytes; `Err(budget)` when the decode ran out of it (whatever `decode`
/// returned).
pub(crate) fn decode_bounded<T>(body_len: usize, decode: impl FnOnce() -> T) -> Result<T, usize> {
    /// Restores the previous budget however `decode` ends.
    struct Restore(Option<usize>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            DECODE_BUDGET.with(|b| b.set(self.0));
            DECODE_EXCEEDED.with(|b| b.set(self.1));
        }
    }
    let budget = decode_budget(body_len);
    let _restore = Restore(
        DECODE_BUDGET.with(|b| b.replace(Some(budget))),
        DECODE_EXCEEDED.with(|b| b.replace(false)),
    );
    let out = decode();
    if DECODE_EXCEEDED.with(Cell::get) {
        Err(budget)
    } else {
        Ok(out)
    }
}

/// Takes `bytes` from the decoding budget, if one is active.
fn charge(bytes: usize) -> bool {
    DECODE_BUDGET.with(|b| match b.get() {
        None => true,
        Some(left) if bytes <= left => {
            b.set(Some(left - bytes));
            true
        }
        Some(_) => {
            DECODE_EXCEEDED.with(|e| e.set(true));
            false
        }
    })
}

/// `deserialize_with` for the model's lists: allocates exactly the announced
/// length, charged to the decoding budget before anything is allocated.
pub(crate) fn bounded_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    struct Visit<T>(PhantomData<T>);
    impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let size = std::mem::size_of::<T>().max(1);
            let over = || serde::de::Error::custom("decoding exceeds its allocation budget");
            let mut v: Vec<T> = Vec::new();
            if let Some(len) = seq.size_hint() {
                if !charge(len.saturating_mul(size)) {
                    return Err(over());
                }
                v.reserve_exact(len);
            }
            while let Some(x) = seq.next_element()? {
                if v.len() == v.capacity() {
                    // No (or a wrong) length hint: grow, charging what is added.
                    let add = v.capacity().max(4);
                    if !charge(add.saturating_mul(size)) {
                        return Err(over());
                    }
                    v.reserve_exact(add);
                }
                v.push(x);
            }
            Ok(v)
        }
    }
    d.deserialize_seq(Visit(PhantomData))
}

/// `deserialize_with` for the string blob: its bytes are charged to the
/// decoding budget.
pub(crate) fn bounded_string<'de, D>(d: D) -> Result<String, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Visit;
    impl serde::de::Visitor<'_> for Visit {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<String, E> {
            if charge(s.len()) {
                Ok(s.to_owned())
            } else {
                Err(E::custom("decoding exceeds its allocation budget"))
            }
        }
    }
    d.deserialize_string(Visit)
}
