//! Clause checking: each operator's values are type-checked, parsed and reduced
//! to what evaluation needs.

use super::ir::{ClauseIr, Edge, OpIr, SemverIr};
use crate::diagnostics::Sink;
use crate::fxhash::FxHashMap as HashMap;
use crate::source::schema::{ClauseSrc, OpName};
use crate::source::yaml::{Node, Value};
use edgeflag_evaluator::instant;
use edgeflag_evaluator::model::Instant;
use edgeflag_evaluator::semver;
use std::cmp::Ordering;

/// Largest compiled regex program, as the evaluator's loader allows.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The one-line reason a pattern is refused by the `regex` crate.
fn regex_error(pattern: &str) -> Option<String> {
    let err = regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .err()?;
    let text = err.to_string();
    let reason = text
        .lines()
        .find_map(|l| l.strip_prefix("error: "))
        .map(str::to_owned)
        .unwrap_or_else(|| text.lines().map(str::trim).collect::<Vec<_>>().join(" "));
    Some(reason)
}

/// Checks one clause. Segment references are appended to `refs` (for cycle
/// checks). Returns `None` when an error was reported.
pub fn check(
    c: &ClauseSrc,
    segments: &HashMap<&str, usize>,
    refs: &mut Vec<Edge>,
    sink: &mut Sink<'_>,
) -> Option<ClauseIr> {
    let op = c.op.name();
    let mut ok = true;
    let vctx = |i: usize| format!("{} values[{i}]", c.ctx);
    let type_error = |sink: &mut Sink<'_>, i: usize, n: &Node, expected: &str| {
        let msg = format!(
            "`{op}` values must be {expected}, found {}",
            n.value.describe()
        );
        sink.error(n.pos, &vctx(i), msg);
    };
    let op_ir = match c.op {
        OpName::In => {
            let (mut strings, mut numbers, mut t, mut f) = (Vec::new(), Vec::new(), false, false);
            for (i, n) in c.values.iter().enumerate() {
                match &n.value {
                    Value::String(s) => strings.push(s.clone()),
                    Value::Number { value, .. } if value.is_finite() => {
                        // -0 and 0 are one value.
                        numbers.push(if *value == 0.0 { 0.0 } else { *value });
                    }
                    Value::Number { .. } => {
                        sink.error(n.pos, &vctx(i), "numbers must be finite");
                        ok = false;
                    }
                    Value::Bool(true) => t = true,
                    Value::Bool(false) => f = true,
                    _ => {
                        type_error(sink, i, n, "strings, numbers or booleans");
                        ok = false;
                    }
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
        OpName::StartsWith | OpName::EndsWith | OpName::Contains | OpName::Matches => {
            let mut strings = Vec::with_capacity(c.values.len());
            for (i, n) in c.values.iter().enumerate() {
                match &n.value {
                    Value::String(s) => {
                        if c.op == OpName::Matches {
                            if let Some(reason) = regex_error(s) {
                                sink.error(
                                    n.pos,
                                    &c.ctx.get(),
                                    format!("invalid regex {s:?}: {reason}"),
                                );
                                ok = false;
                            }
                        }
                        strings.push(s.clone());
                    }
                    _ => {
                        type_error(sink, i, n, "strings");
                        ok = false;
                    }
                }
            }
            match c.op {
                OpName::StartsWith => OpIr::StartsWith(strings),
                OpName::EndsWith => OpIr::EndsWith(strings),
                OpName::Contains => OpIr::Contains(strings),
                _ => {
                    strings.dedup();
                    OpIr::Matches(strings)
                }
            }
        }
        OpName::Lt | OpName::Lte | OpName::Gt | OpName::Gte => {
            let mut nums = Vec::with_capacity(c.values.len());
            for (i, n) in c.values.iter().enumerate() {
                match &n.value {
                    Value::Number { value, .. } if value.is_finite() => nums.push(*value),
                    Value::Number { .. } => {
                        sink.error(n.pos, &vctx(i), "numbers must be finite");
                        ok = false;
                    }
                    other => {
                        let msg = format!(
                            "numeric operator `{op}` needs numbers, found {}",
                            other.describe()
                        );
                        sink.error(n.pos, &vctx(i), msg);
                        ok = false;
                    }
                }
            }
            let max = nums.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let min = nums.iter().copied().fold(f64::INFINITY, f64::min);
            match c.op {
                OpName::Lt => OpIr::Lt(max),
                OpName::Lte => OpIr::Lte(max),
                OpName::Gt => OpIr::Gt(min),
                _ => OpIr::Gte(min),
            }
        }
        OpName::SemverEq | OpName::SemverLt | OpName::SemverGt => {
            let mut versions: Vec<(semver::Version<'_>, &Node)> = Vec::new();
            for (i, n) in c.values.iter().enumerate() {
                // `1.2` and `2` are numbers in YAML; their text is a fine version.
                let text = match &n.value {
                    Value::String(s) => s.as_str(),
                    Value::Number { text, .. } => text,
                    _ => {
                        type_error(sink, i, n, "version strings");
                        ok = false;
                        continue;
                    }
                };
                match semver::parse(text) {
                    Some(v) => versions.push((v, n)),
                    None => {
                        let msg = format!(
                            "invalid semver {text:?}: expected \
                             MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD]"
                        );
                        sink.error(n.pos, &c.ctx.get(), msg);
                        ok = false;
                    }
                }
            }
            let ir = |v: &semver::Version<'_>| SemverIr {
                major: v.major,
                minor: v.minor,
                patch: v.patch,
                pre: (!v.pre.is_empty()).then(|| v.pre.to_owned()),
            };
            let pick = |want: Ordering| {
                versions
                    .iter()
                    .map(|(v, _)| v)
                    .reduce(|a, b| if semver::compare(b, a) == want { b } else { a })
                    .map(ir)
                    .unwrap_or_default()
            };
            match c.op {
                OpName::SemverEq => OpIr::SemverEq(versions.iter().map(|(v, _)| ir(v)).collect()),
                OpName::SemverLt => OpIr::SemverLt(pick(Ordering::Greater)),
                _ => OpIr::SemverGt(pick(Ordering::Less)),
            }
        }
        OpName::Before | OpName::After => {
            let mut instants = Vec::with_capacity(c.values.len());
            for (i, n) in c.values.iter().enumerate() {
                match &n.value {
                    Value::String(s) => match instant::parse_rfc3339(s) {
                        Some(t) => instants.push(t),
                        None => {
                            let msg = format!(
                                "invalid timestamp {s:?}: expected an RFC 3339 date-time \
                                 such as \"2026-01-31T09:00:00Z\""
                            );
                            sink.error(n.pos, &c.ctx.get(), msg);
                            ok = false;
                        }
                    },
                    Value::Number { value, text } => match instant::from_millis(*value) {
                        Some(t) => instants.push(t),
                        None => {
                            let msg = format!(
                                "invalid timestamp {text}: epoch milliseconds must be an \
                                 integer of magnitude below 2^53"
                            );
                            sink.error(n.pos, &c.ctx.get(), msg);
                            ok = false;
                        }
                    },
                    _ => {
                        type_error(sink, i, n, "RFC 3339 strings or epoch milliseconds");
                        ok = false;
                    }
                }
            }
            if c.op == OpName::Before {
                OpIr::Before(instants.iter().copied().max().unwrap_or(Instant(0)))
            } else {
                OpIr::After(instants.iter().copied().min().unwrap_or(Instant(0)))
            }
        }
        OpName::InSegment => {
            let mut ids = Vec::with_capacity(c.values.len());
            for (i, n) in c.values.iter().enumerate() {
                match &n.value {
                    Value::String(s) => match segments.get(s.as_str()) {
                        Some(&id) => {
                            if !ids.contains(&id) {
                                ids.push(id);
                            }
                            refs.push(Edge {
                                to: id,
                                pos: n.pos,
                                ctx: c.ctx.clone(),
                            });
                        }
                        None => {
                            sink.error(n.pos, &c.ctx.get(), format!("unknown segment {s:?}"));
                            ok = false;
                        }
                    },
                    _ => {
                        type_error(sink, i, n, "segment keys (strings)");
                        ok = false;
                    }
                }
            }
            OpIr::InSegment(ids)
        }
    };
    ok.then(|| ClauseIr {
        attribute: if c.op == OpName::InSegment {
            None
        } else {
            c.attribute.clone()
        },
        negate: c.negate,
        op: op_ir,
    })
}
