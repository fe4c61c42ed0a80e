//! Clause checking: each operator's values are type-checked, parsed and reduced
//! to what evaluation needs.

use super::ir::{ClauseIr, Edge, OpIr, Regexes, SemverIr};
use crate::diagnostics::{Pos, Sink};
use crate::fxhash::FxHashMap as HashMap;
use crate::source::schema::{ClauseSrc, OpName};
use crate::source::yaml::{Node, Value};
use edgeflag_evaluator::instant;
use edgeflag_evaluator::limits::{self, RegexError};
use edgeflag_evaluator::model::Instant;
use edgeflag_evaluator::semver;
use std::cmp::Ordering;

/// The one-line reason a pattern is refused by
/// [`edgeflag_evaluator::limits::compile_regex`] (the loader's own check).
fn regex_reason(err: &RegexError) -> String {
    let text = err.to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("error: "))
        .map(str::to_owned)
        .unwrap_or_else(|| text.lines().map(str::trim).collect::<Vec<_>>().join(" "))
}

/// Checks one clause. Segment references are appended to `refs` (for cycle
/// checks); each distinct regex pattern is compiled once, into `regexes`.
/// Returns `None` when an error was reported.
pub fn check(
    c: &ClauseSrc,
    segments: &HashMap<&str, usize>,
    refs: &mut Vec<Edge>,
    regexes: &mut Regexes,
    sink: &mut Sink<'_>,
) -> Option<ClauseIr> {
    let mut v = Values {
        clause: c,
        sink,
        ok: true,
    };
    let op = match c.op {
        OpName::In => v.in_set(),
        OpName::StartsWith => OpIr::StartsWith(v.strings(no_check)),
        OpName::EndsWith => OpIr::EndsWith(v.strings(no_check)),
        OpName::Contains => OpIr::Contains(v.strings(no_check)),
        OpName::Matches => OpIr::Matches(patterns(v.patterns(regexes))),
        OpName::Lt => OpIr::Lt(largest(&v.numbers())),
        OpName::Lte => OpIr::Lte(largest(&v.numbers())),
        OpName::Gt => OpIr::Gt(smallest(&v.numbers())),
        OpName::Gte => OpIr::Gte(smallest(&v.numbers())),
        OpName::SemverEq => OpIr::SemverEq(v.versions().iter().map(semver_ir).collect()),
        OpName::SemverLt => OpIr::SemverLt(extreme_version(&v.versions(), Ordering::Greater)),
        OpName::SemverGt => OpIr::SemverGt(extreme_version(&v.versions(), Ordering::Less)),
        OpName::Before => OpIr::Before(v.instants().into_iter().max().unwrap_or(Instant(0))),
        OpName::After => OpIr::After(v.instants().into_iter().min().unwrap_or(Instant(0))),
        OpName::InSegment => OpIr::InSegment(v.segments(segments, refs)),
    };
    v.ok.then(|| ClauseIr {
        attribute: if reads_attribute(c.op) {
            c.attribute.clone()
        } else {
            None
        },
        negate: c.negate,
        op,
    })
}

/// Whether the operator tests an attribute (`in_segment` tests the whole context).
fn reads_attribute(op: OpName) -> bool {
    match op {
        OpName::InSegment => false,
        OpName::In
        | OpName::StartsWith
        | OpName::EndsWith
        | OpName::Contains
        | OpName::Matches
        | OpName::Lt
        | OpName::Lte
        | OpName::Gt
        | OpName::Gte
        | OpName::SemverEq
        | OpName::SemverLt
        | OpName::SemverGt
        | OpName::Before
        | OpName::After => true,
    }
}

/// The values of one clause being checked; each error goes to `sink` and clears `ok`.
struct Values<'c, 's, 'f> {
    clause: &'c ClauseSrc,
    sink: &'s mut Sink<'f>,
    ok: bool,
}

impl<'c> Values<'c, '_, '_> {
    /// Reports an error at `pos` in `ctx`.
    fn error(&mut self, pos: Pos, ctx: &str, msg: impl Into<String>) {
        self.sink.error(pos, ctx, msg);
        self.ok = false;
    }

    /// Reports an error about value `i` itself (context `… values[i]`).
    fn value_error(&mut self, i: usize, n: &Node, msg: impl Into<String>) {
        let ctx = format!("{} values[{i}]", self.clause.ctx);
        self.error(n.pos, &ctx, msg);
    }

    /// Reports value `i` as not of the `expected` type for this operator.
    fn type_error(&mut self, i: usize, n: &Node, expected: &str) {
        let msg = format!(
            "`{}` values must be {expected}, found {}",
            self.clause.op.name(),
            n.value.describe()
        );
        self.value_error(i, n, msg);
    }

    /// `in` values: strings, finite numbers and booleans, each kind sorted and deduplicated.
    fn in_set(&mut self) -> OpIr {
        let (mut strings, mut numbers, mut t, mut f) = (Vec::new(), Vec::new(), false, false);
        for (i, n) in self.clause.values.iter().enumerate() {
            match &n.value {
                Value::String(s) => strings.push(s.clone()),
                Value::Number { value, .. } if value.is_finite() => {
                    // -0 and 0 are one value.
                    numbers.push(if *value == 0.0 { 0.0 } else { *value });
                }
                Value::Number { .. } => self.value_error(i, n, "numbers must be finite"),
                Value::Bool(true) => t = true,
                Value::Bool(false) => f = true,
                _ => self.type_error(i, n, "strings, numbers or booleans"),
            }
        }
        strings.sort_unstable();
        strings.dedup();
        numbers.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
        numbers.dedup();
        OpIr::In {
            strings,
            numbers,
            has_true: t,
            has_false: f,
        }
    }

    /// String values in listed order; `refuse` says why one is invalid for the operator.
    fn strings(&mut self, refuse: fn(&str) -> Option<String>) -> Vec<String> {
        let mut strings = Vec::with_capacity(self.clause.values.len());
        for (i, n) in self.clause.values.iter().enumerate() {
            match &n.value {
                Value::String(s) => {
                    if let Some(msg) = refuse(s) {
                        self.error(n.pos, &self.clause.ctx.get(), msg);
                    }
                    strings.push(s.clone());
                }
                _ => self.type_error(i, n, "strings"),
            }
        }
        strings
    }

    /// `matches` patterns in listed order, each compiled (once per project) as
    /// the loader compiles it and charged to the project's regex budget; a
    /// refused one is reported at every use, the budget once.
    fn patterns(&mut self, regexes: &mut Regexes) -> Vec<String> {
        let mut strings = Vec::with_capacity(self.clause.values.len());
        for (i, n) in self.clause.values.iter().enumerate() {
            let Value::String(s) = &n.value else {
                self.type_error(i, n, "strings");
                continue;
            };
            let ctx = &self.clause.ctx;
            let known = regexes.compiled.get(s.as_str()).cloned();
            let compiled = match known {
                Some(c) => c,
                None if regexes.exceeded => Ok(()),
                None => {
                    let c = limits::compile_regex(s);
                    if let Ok(re) = &c {
                        if let Err(e) = regexes.budget.charge(re.cost()) {
                            regexes.exceeded = true;
                            self.error(n.pos, &ctx.get(), format!("regex {s:?}: {e}"));
                        }
                    }
                    let c = c.map(|_| ());
                    regexes.compiled.insert(s.clone(), c.clone());
                    c
                }
            };
            if let Err(e) = compiled {
                let msg = format!("invalid regex {s:?}: {}", regex_reason(&e));
                self.error(n.pos, &ctx.get(), msg);
            }
            strings.push(s.clone());
        }
        strings
    }

    /// Finite number values of a numeric operator, in listed order.
    fn numbers(&mut self) -> Vec<f64> {
        let mut nums = Vec::with_capacity(self.clause.values.len());
        for (i, n) in self.clause.values.iter().enumerate() {
            match &n.value {
                Value::Number { value, .. } if value.is_finite() => nums.push(*value),
                Value::Number { .. } => self.value_error(i, n, "numbers must be finite"),
                other => {
                    let msg = format!(
                        "numeric operator `{}` needs numbers, found {}",
                        self.clause.op.name(),
                        other.describe()
                    );
                    self.value_error(i, n, msg);
                }
            }
        }
        nums
    }

    /// SemVer values (strings, or numbers such as `1.2` read as text) in listed order.
    fn versions(&mut self) -> Vec<semver::Version<'c>> {
        let clause = self.clause;
        let mut versions = Vec::new();
        for (i, n) in clause.values.iter().enumerate() {
            // `1.2` and `2` are numbers in YAML; their text is a fine version.
            let text = match &n.value {
                Value::String(s) => s.as_str(),
                Value::Number { text, .. } => text,
                _ => {
                    self.type_error(i, n, "version strings");
                    continue;
                }
            };
            match semver::parse(text) {
                Some(v) => versions.push(v),
                None => {
                    let msg = format!(
                        "invalid semver {text:?}: expected \
                         MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD]"
                    );
                    self.error(n.pos, &clause.ctx.get(), msg);
                }
            }
        }
        versions
    }

    /// Instant values (RFC 3339 strings or epoch milliseconds), in listed order.
    fn instants(&mut self) -> Vec<Instant> {
        let mut instants = Vec::with_capacity(self.clause.values.len());
        for (i, n) in self.clause.values.iter().enumerate() {
            match &n.value {
                Value::String(s) => match instant::parse_rfc3339(s) {
                    Some(t) => instants.push(t),
                    None => {
                        let msg = format!(
                            "invalid timestamp {s:?}: expected an RFC 3339 date-time \
                             such as \"2026-01-31T09:00:00Z\""
                        );
                        self.error(n.pos, &self.clause.ctx.get(), msg);
                    }
                },
                Value::Number { value, text } => match instant::from_millis(*value) {
                    Some(t) => instants.push(t),
                    None => {
                        let msg = format!(
                            "invalid timestamp {text}: epoch milliseconds must be an \
                             integer of magnitude below 2^53"
                        );
                        self.error(n.pos, &self.clause.ctx.get(), msg);
                    }
                },
                _ => self.type_error(i, n, "RFC 3339 strings or epoch milliseconds"),
            }
        }
        instants
    }

    /// `in_segment` values as segment indexes (one listed twice is an error);
    /// every reference goes to `refs`.
    fn segments(&mut self, segments: &HashMap<&str, usize>, refs: &mut Vec<Edge>) -> Vec<usize> {
        let mut ids = Vec::with_capacity(self.clause.values.len());
        for (i, n) in self.clause.values.iter().enumerate() {
            match &n.value {
                Value::String(s) => match segments.get(s.as_str()) {
                    Some(&id) => {
                        // Evaluation would test it again: refused, as the loader
                        // refuses it.
                        if ids.contains(&id) {
                            let msg = format!("segment {s:?} is listed twice");
                            self.error(n.pos, &self.clause.ctx.get(), msg);
                        } else {
                            ids.push(id);
                        }
                        refs.push(Edge {
                            to: id,
                            pos: n.pos,
                            ctx: self.clause.ctx.clone(),
                        });
                    }
                    None => {
                        let msg = format!("unknown segment {s:?}");
                        self.error(n.pos, &self.clause.ctx.get(), msg);
                    }
                },
                _ => self.type_error(i, n, "segment keys (strings)"),
            }
        }
        ids
    }
}

/// Accepts every string (the operator has no further constraint).
fn no_check(_: &str) -> Option<String> {
    None
}

/// `matches` patterns with adjacent repeats dropped.
fn patterns(mut strings: Vec<String>) -> Vec<String> {
    strings.dedup();
    strings
}

/// The largest bound (the widest `lt` / `lte`); −∞ for none.
fn largest(nums: &[f64]) -> f64 {
    nums.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// The smallest bound (the widest `gt` / `gte`); +∞ for none.
fn smallest(nums: &[f64]) -> f64 {
    nums.iter().copied().fold(f64::INFINITY, f64::min)
}

/// An owned copy of a parsed version.
fn semver_ir(v: &semver::Version<'_>) -> SemverIr {
    SemverIr {
        major: v.major,
        minor: v.minor,
        patch: v.patch,
        pre: (!v.pre.is_empty()).then(|| v.pre.to_owned()),
    }
}

/// The version comparing `want` to every other (first of equals); 0.0.0 for none.
fn extreme_version(versions: &[semver::Version<'_>], want: Ordering) -> SemverIr {
    versions
        .iter()
        .reduce(|a, b| if semver::compare(b, a) == want { b } else { a })
        .map(semver_ir)
        .unwrap_or_default()
}
