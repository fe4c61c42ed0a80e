//! Human-readable rendering of compiled flags and segments: what `edgeflag
//! inspect` prints, and what [`crate::diff`] compares (so two rulesets with
//! different string tables compare by meaning).

use edgeflag_evaluator::model::{Clause, Flag, Instant, Op, Segment, Serve, Value, BUCKETS};
use edgeflag_evaluator::Ruleset;
use serde::Serialize;
use std::fmt::Write;

/// A flag as text, field by field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagView {
    /// The flag key.
    pub key: String,
    /// Its type: `boolean`, `string`, `number` or `json`.
    pub kind: &'static str,
    /// Whether it is on (its kill switch not thrown).
    pub enabled: bool,
    /// Whether browsers may evaluate it.
    pub client_side: bool,
    /// `name = value`, in order.
    pub variations: Vec<String>,
    /// The variation served when off.
    pub off_variation: String,
    /// `flag is variation [or variation]`, in order.
    pub prerequisites: Vec<String>,
    /// `key → variation`.
    pub targets: Vec<String>,
    /// `[id] clause AND clause → serve`, in order.
    pub rules: Vec<String>,
    /// What everyone else gets.
    pub fallthrough: String,
}

/// A segment as text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentView {
    /// The segment key.
    pub key: String,
    /// Keys always in the segment.
    pub include: Vec<String>,
    /// Keys never in the segment.
    pub exclude: Vec<String>,
    /// Rules (clauses joined by `AND`), in order.
    pub rules: Vec<String>,
}

/// Every flag of `rs`, in stored (prerequisite) order.
pub fn flags(rs: &Ruleset) -> Vec<FlagView> {
    rs.body().flags.iter().map(|f| flag(rs, f)).collect()
}

/// Every segment of `rs`, in stored order.
pub fn segments(rs: &Ruleset) -> Vec<SegmentView> {
    rs.body().segments.iter().map(|s| segment(rs, s)).collect()
}

fn flag(rs: &Ruleset, f: &Flag) -> FlagView {
    let var = |i: u32| {
        f.variations
            .get(i as usize)
            .map_or_else(|| format!("#{i}"), |v| rs.str(v.name).to_owned())
    };
    FlagView {
        key: rs.str(f.key).to_owned(),
        kind: f.kind.name(),
        enabled: f.enabled,
        client_side: f.client_side,
        variations: f
            .variations
            .iter()
            .map(|v| format!("{} = {}", rs.str(v.name), value(rs, &v.value)))
            .collect(),
        off_variation: var(f.off_variation),
        prerequisites: f
            .prerequisites
            .iter()
            .map(|p| {
                let pf = &rs.body().flags[p.flag as usize];
                let names: Vec<String> = p
                    .variations
                    .iter()
                    .map(|&v| rs.str(pf.variations[v as usize].name).to_owned())
                    .collect();
                format!("{} is {}", rs.str(pf.key), names.join(" or "))
            })
            .collect(),
        targets: f
            .targets
            .iter()
            .map(|t| format!("{} → {}", rs.str(t.key), var(t.variation)))
            .collect(),
        rules: f
            .rules
            .iter()
            .map(|r| {
                let mut s = String::new();
                if let Some(id) = r.id {
                    let _ = write!(s, "[{}] ", rs.str(id));
                }
                s.push_str(&clauses(rs, &r.clauses));
                let _ = write!(s, " → {}", serve(rs, f, &r.serve));
                s
            })
            .collect(),
        fallthrough: serve(rs, f, &f.fallthrough),
    }
}

fn segment(rs: &Ruleset, s: &Segment) -> SegmentView {
    let keys = |ids: &[u32]| ids.iter().map(|&i| rs.str(i).to_owned()).collect();
    SegmentView {
        key: rs.str(s.key).to_owned(),
        include: keys(&s.include),
        exclude: keys(&s.exclude),
        rules: s.rules.iter().map(|r| clauses(rs, &r.clauses)).collect(),
    }
}

fn value(rs: &Ruleset, v: &Value) -> String {
    match *v {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(id) => format!("{:?}", rs.str(id)),
        Value::Json(id) => rs.str(id).to_owned(),
    }
}

/// `12.5%` from thousandths of a percent.
pub fn percent(units: u32) -> String {
    let whole = units / 1000;
    let frac = units % 1000;
    if frac == 0 {
        format!("{whole}%")
    } else {
        let f = format!("{frac:03}");
        format!("{whole}.{}%", f.trim_end_matches('0'))
    }
}

/// What a rule or the fallthrough serves: a variation name, or
/// `rollout on 10%, off 90% by key [salt "s"]`.
pub fn serve(rs: &Ruleset, f: &Flag, s: &Serve) -> String {
    match s {
        Serve::Variation(v) => f
            .variations
            .get(*v as usize)
            .map_or_else(|| format!("#{v}"), |x| rs.str(x.name).to_owned()),
        Serve::Rollout(r) => {
            let mut prev = 0;
            let parts: Vec<String> = r
                .slices
                .iter()
                .map(|sl| {
                    let units = sl.upper - prev;
                    prev = sl.upper;
                    let name = f
                        .variations
                        .get(sl.variation as usize)
                        .map_or("?", |x| rs.str(x.name));
                    format!("{name} {}", percent(units))
                })
                .collect();
            debug_assert_eq!(prev, BUCKETS);
            let by = rs.str(rs.body().attributes[r.bucket_by as usize]);
            let mut out = format!("rollout {} by {by}", parts.join(", "));
            if rs.str(r.salt) != rs.str(f.key) {
                let _ = write!(out, " salt {:?}", rs.str(r.salt));
            }
            out
        }
    }
}

fn clauses(rs: &Ruleset, cs: &[Clause]) -> String {
    if cs.is_empty() {
        return "everyone".to_owned();
    }
    cs.iter()
        .map(|c| clause(rs, c))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn list(items: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = items.collect();
    if v.len() == 1 {
        v.into_iter().next().unwrap_or_default()
    } else {
        format!("[{}]", v.join(", "))
    }
}

fn clause(rs: &Ruleset, c: &Clause) -> String {
    let strs = |ids: &[u32]| list(ids.iter().map(|&i| format!("{:?}", rs.str(i))));
    let attr = || {
        rs.str(rs.body().attributes[c.attribute as usize])
            .to_owned()
    };
    let not = if c.negate { "not " } else { "" };
    let semver = |v: &edgeflag_evaluator::model::Semver| {
        let mut s = format!("{}.{}.{}", v.major, v.minor, v.patch);
        if let Some(p) = v.pre {
            let _ = write!(s, "-{}", rs.str(p));
        }
        s
    };
    let (op, vals) = match &c.op {
        Op::In(set) => {
            let mut items: Vec<String> = set
                .strings
                .iter()
                .map(|&i| format!("{:?}", rs.str(i)))
                .collect();
            items.extend(set.numbers.iter().map(|n| n.to_string()));
            if set.has_true {
                items.push("true".into());
            }
            if set.has_false {
                items.push("false".into());
            }
            ("in", list(items.into_iter()))
        }
        Op::StartsWith(v) => ("starts_with", strs(v)),
        Op::EndsWith(v) => ("ends_with", strs(v)),
        Op::Contains(v) => ("contains", strs(v)),
        Op::Matches(v) => (
            "matches",
            list(
                v.iter()
                    .map(|&r| format!("/{}/", rs.str(rs.body().regexes[r as usize]))),
            ),
        ),
        Op::Lt(n) => ("<", n.to_string()),
        Op::Lte(n) => ("<=", n.to_string()),
        Op::Gt(n) => (">", n.to_string()),
        Op::Gte(n) => (">=", n.to_string()),
        Op::SemverEq(v) => ("semver_eq", list(v.iter().map(semver))),
        Op::SemverLt(v) => ("semver_lt", semver(v)),
        Op::SemverGt(v) => ("semver_gt", semver(v)),
        Op::Before(t) => ("before", rfc3339(*t)),
        Op::After(t) => ("after", rfc3339(*t)),
        Op::InSegment(v) => {
            let segs = list(
                v.iter()
                    .map(|&s| rs.str(rs.body().segments[s as usize].key).to_owned()),
            );
            return format!("{not}in segment {segs}");
        }
    };
    format!("{not}{} {op} {vals}", attr())
}

/// Formats Unix milliseconds (a ruleset's creation time) as RFC 3339 UTC.
pub fn rfc3339_ms(ms: i64) -> String {
    rfc3339(Instant(i128::from(ms) * 1_000_000))
}

/// Formats an instant as RFC 3339 UTC (`Z`), with a fraction only when needed.
pub fn rfc3339(t: Instant) -> String {
    let nanos = t.0.rem_euclid(1_000_000_000);
    let secs = (t.0 - nanos) / 1_000_000_000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i128::from(m <= 2);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if nanos != 0 {
        let f = format!("{nanos:09}");
        let _ = write!(s, ".{}", f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeflag_evaluator::instant::parse_rfc3339;

    #[test]
    fn percent_trims_zeros() {
        assert_eq!(percent(10_000), "10%");
        assert_eq!(percent(12_500), "12.5%");
        assert_eq!(percent(33_333), "33.333%");
        assert_eq!(percent(1), "0.001%");
    }

    #[test]
    fn rfc3339_round_trips() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2026-11-21T10:30:00.25Z",
            "1969-12-31T23:59:59.999999999Z",
            "2000-02-29T12:00:00Z",
        ] {
            assert_eq!(rfc3339(parse_rfc3339(s).unwrap()), s);
        }
    }
}
