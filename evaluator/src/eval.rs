//! Flag evaluation: the order of section "Evaluation order" of the rule language
//! reference (docs/rule-language.md), the clause operators, and typed getters.
//! Nothing here allocates.

use crate::bucket::bucket_attr;
use crate::context::{eq_bytes, AttrValue, Context, Scalar};
use crate::hashed;
use crate::instant::{from_millis, parse_rfc3339};
use crate::model::{
    AttrId, Clause, Flag, FlagId, InSet, Instant, Op, Rollout, SegmentId, Semver, Serve, Value,
    ValueKind, VariationId,
};
use crate::ruleset::Ruleset;
use crate::semver;
use std::cmp::Ordering;

/// A flag's value, borrowed from the ruleset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FlagValue<'r> {
    /// Boolean flag value.
    Bool(bool),
    /// Number flag value.
    Number(f64),
    /// String flag value.
    String(&'r str),
    /// JSON (object or array) flag value as compact JSON text.
    Json(&'r str),
}

/// Why an evaluation returned the caller's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No flag has this key.
    FlagNotFound,
    /// A typed getter was used on a flag of another type.
    WrongType,
}

impl ErrorKind {
    /// `FLAG_NOT_FOUND` or `WRONG_TYPE`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::FlagNotFound => "FLAG_NOT_FOUND",
            ErrorKind::WrongType => "WRONG_TYPE",
        }
    }
}

/// Why a value was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason<'r> {
    /// The flag is disabled (kill switch).
    Off,
    /// A prerequisite flag was off or served an unlisted variation.
    PrerequisiteFailed {
        /// Key of the failed prerequisite.
        prerequisite: &'r str,
    },
    /// The context key is individually targeted.
    TargetMatch,
    /// A rule matched.
    RuleMatch {
        /// 0-based position of the rule.
        rule_index: u32,
        /// The rule's id, when the source gave one.
        rule_id: Option<&'r str>,
    },
    /// No target or rule matched; the fallthrough served.
    Fallthrough,
    /// The fallthrough rollout could not bucket the context; the off variation served.
    Default,
    /// The caller's default was returned.
    Error(ErrorKind),
}

impl Reason<'_> {
    /// The reason kind: `OFF`, `PREREQUISITE_FAILED`, `TARGET_MATCH`, `RULE_MATCH`,
    /// `FALLTHROUGH`, `DEFAULT` or `ERROR`.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::Off => "OFF",
            Reason::PrerequisiteFailed { .. } => "PREREQUISITE_FAILED",
            Reason::TargetMatch => "TARGET_MATCH",
            Reason::RuleMatch { .. } => "RULE_MATCH",
            Reason::Fallthrough => "FALLTHROUGH",
            Reason::Default => "DEFAULT",
            Reason::Error(_) => "ERROR",
        }
    }
}

/// The result of an evaluation. `value` is `None` (the caller's default applies)
/// exactly when `reason` is [`Reason::Error`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detail<'r, T = FlagValue<'r>> {
    /// The served value.
    pub value: Option<T>,
    /// Name of the served variation.
    pub variation: Option<&'r str>,
    /// 0-based index of the served variation.
    pub variation_index: Option<u32>,
    /// Why it was served.
    pub reason: Reason<'r>,
    /// Whether a percentage rollout chose the variation.
    pub in_rollout: bool,
}

impl<'r, T> Detail<'r, T> {
    fn error(kind: ErrorKind) -> Self {
        Detail {
            value: None,
            variation: None,
            variation_index: None,
            reason: Reason::Error(kind),
            in_rollout: false,
        }
    }

    fn map<U>(self, f: impl FnOnce(T) -> Option<U>) -> Detail<'r, U> {
        let d = self.map_value(f);
        match d.value {
            Some(None) => Detail::error(ErrorKind::WrongType),
            value => Detail {
                value: value.flatten(),
                variation: d.variation,
                variation_index: d.variation_index,
                reason: d.reason,
                in_rollout: d.in_rollout,
            },
        }
    }

    /// The same detail with its value converted, e.g. a typed detail back to the
    /// untyped [`FlagValue`] form.
    ///
    /// ```
    /// # use edgeflag_evaluator::{Detail, FlagValue, Ruleset, Context, format, model::Body};
    /// # let bytes = format::encode(&Body::default(), &format::EncodeOptions {
    /// #     environment: "e", version: 1, epoch: 1, created_at_ms: 0 }).unwrap();
    /// # let rules = Ruleset::from_bytes(&bytes).unwrap();
    /// let d: Detail<'_> = rules.bool_detail("missing", &Context::new("u")).map_value(FlagValue::Bool);
    /// assert!(d.value.is_none());
    /// ```
    pub fn map_value<U>(self, f: impl FnOnce(T) -> U) -> Detail<'r, U> {
        let Detail {
            value,
            variation,
            variation_index,
            reason,
            in_rollout,
        } = self;
        Detail {
            value: value.map(f),
            variation,
            variation_index,
            reason,
            in_rollout,
        }
    }
}

/// What evaluation decided, before values are resolved.
#[derive(Clone, Copy)]
struct Outcome<'r> {
    variation: VariationId,
    reason: Reason<'r>,
    in_rollout: bool,
}

impl Ruleset {
    /// Evaluates a flag for a context.
    ///
    /// ```
    /// # use edgeflag_evaluator::{format, model::Body, Context, Reason, ErrorKind, Ruleset};
    /// # let rs = Ruleset::from_bytes(&format::encode(&Body::default(), &format::EncodeOptions {
    /// #     environment: "default", version: 1, epoch: 1, created_at_ms: 0 }).unwrap()).unwrap();
    /// let d = rs.evaluate("no-such-flag", &Context::new("u1"));
    /// assert_eq!(d.reason, Reason::Error(ErrorKind::FlagNotFound));
    /// assert_eq!(d.value, None);
    /// ```
    #[inline]
    pub fn evaluate(&self, key: &str, ctx: &Context) -> Detail<'_> {
        match self.flag_id(key) {
            Some(id) => self.evaluate_id(id, ctx),
            None => Detail::error(ErrorKind::FlagNotFound),
        }
    }

    /// Evaluates the flag with this id (see [`Ruleset::flag_id`]).
    ///
    /// # Panics
    /// If `id` is not below [`Ruleset::len`].
    pub fn evaluate_id(&self, id: FlagId, ctx: &Context) -> Detail<'_> {
        let flag = &self.body.flags[id as usize];
        let o = self.decide(flag, ctx);
        let v = &flag.variations[o.variation as usize];
        Detail {
            value: Some(self.value(&v.value)),
            variation: Some(self.str(v.name)),
            variation_index: Some(o.variation),
            reason: o.reason,
            in_rollout: o.in_rollout,
        }
    }

    /// Evaluates every flag, in stored order (in a client ruleset, every
    /// client-side flag).
    pub fn all_flags<'r>(
        &'r self,
        ctx: &'r Context,
    ) -> impl Iterator<Item = (&'r str, Detail<'r>)> + 'r {
        (0..self.body.flags.len() as FlagId)
            .filter(|&id| self.visible(&self.body.flags[id as usize]))
            .map(move |id| {
                (
                    self.str(self.body.flags[id as usize].key),
                    self.evaluate_id(id, ctx),
                )
            })
    }

    /// Typed evaluation of a boolean flag; `WRONG_TYPE` for other flags.
    pub fn bool_detail(&self, key: &str, ctx: &Context) -> Detail<'_, bool> {
        self.evaluate(key, ctx).map(|v| match v {
            FlagValue::Bool(b) => Some(b),
            _ => None,
        })
    }

    /// Typed evaluation of a string flag.
    pub fn string_detail(&self, key: &str, ctx: &Context) -> Detail<'_, &str> {
        self.evaluate(key, ctx).map(|v| match v {
            FlagValue::String(s) => Some(s),
            _ => None,
        })
    }

    /// Typed evaluation of a number flag.
    pub fn number_detail(&self, key: &str, ctx: &Context) -> Detail<'_, f64> {
        self.evaluate(key, ctx).map(|v| match v {
            FlagValue::Number(n) => Some(n),
            _ => None,
        })
    }

    /// Typed evaluation of a JSON flag (compact JSON text).
    pub fn json_detail(&self, key: &str, ctx: &Context) -> Detail<'_, &str> {
        self.evaluate(key, ctx).map(|v| match v {
            FlagValue::Json(s) => Some(s),
            _ => None,
        })
    }

    /// The served value alone (the typed getters' fast path: no detail is built).
    #[inline]
    fn served(&self, key: &str, ctx: &Context) -> Option<&Value> {
        let flag = &self.body.flags[self.flag_id(key)? as usize];
        let o = self.decide(flag, ctx);
        Some(&flag.variations[o.variation as usize].value)
    }

    /// A boolean flag's value, or `default` when the flag is unknown or not boolean.
    #[inline]
    pub fn bool_value(&self, key: &str, ctx: &Context, default: bool) -> bool {
        match self.served(key, ctx) {
            Some(&Value::Bool(b)) => b,
            _ => default,
        }
    }

    /// A string flag's value, or `default`.
    pub fn string_value<'a>(&'a self, key: &str, ctx: &Context, default: &'a str) -> &'a str {
        match self.served(key, ctx) {
            Some(&Value::String(id)) => self.str(id),
            _ => default,
        }
    }

    /// A number flag's value, or `default`.
    pub fn number_value(&self, key: &str, ctx: &Context, default: f64) -> f64 {
        match self.served(key, ctx) {
            Some(&Value::Number(n)) => n,
            _ => default,
        }
    }

    /// A JSON flag's value as compact JSON text, or `default`.
    pub fn json_value<'a>(&'a self, key: &str, ctx: &Context, default: &'a str) -> &'a str {
        match self.served(key, ctx) {
            Some(&Value::Json(id)) => self.str(id),
            _ => default,
        }
    }

    /// The kind of a flag's values.
    pub fn flag_kind(&self, key: &str) -> Option<ValueKind> {
        self.flag(key).map(|f| f.kind)
    }

    #[inline]
    fn value(&self, v: &Value) -> FlagValue<'_> {
        match *v {
            Value::Bool(b) => FlagValue::Bool(b),
            Value::Number(n) => FlagValue::Number(n),
            Value::String(id) => FlagValue::String(self.str(id)),
            Value::Json(id) => FlagValue::Json(self.str(id)),
        }
    }

    fn decide<'r>(&'r self, flag: &'r Flag, ctx: &Context) -> Outcome<'r> {
        let off = |reason| Outcome {
            variation: flag.off_variation,
            reason,
            in_rollout: false,
        };
        if !flag.enabled {
            return off(Reason::Off);
        }
        for p in &flag.prerequisites {
            let pf = &self.body.flags[p.flag as usize];
            let ok = pf.enabled && {
                let po = self.decide(pf, ctx);
                p.variations.binary_search(&po.variation).is_ok()
            };
            if !ok {
                return off(Reason::PrerequisiteFailed {
                    prerequisite: self.str(pf.key),
                });
            }
        }
        if !flag.targets.is_empty() {
            if let Some(key) = ctx.key() {
                let key = self.probe(key, true);
                if let Ok(i) = flag
                    .targets
                    .binary_search_by(|t| self.bytes(t.key).cmp(key.as_bytes()))
                {
                    return Outcome {
                        variation: flag.targets[i].variation,
                        reason: Reason::TargetMatch,
                        in_rollout: false,
                    };
                }
            }
        }
        for (i, rule) in flag.rules.iter().enumerate() {
            if rule.clauses.iter().all(|c| self.clause(c, ctx)) {
                let reason = Reason::RuleMatch {
                    rule_index: i as u32,
                    rule_id: rule.id.map(|id| self.str(id)),
                };
                if let Some((variation, in_rollout)) = self.serve(&rule.serve, ctx) {
                    return Outcome {
                        variation,
                        reason,
                        in_rollout,
                    };
                }
            }
        }
        match self.serve(&flag.fallthrough, ctx) {
            Some((variation, in_rollout)) => Outcome {
                variation,
                reason: Reason::Fallthrough,
                in_rollout,
            },
            None => off(Reason::Default),
        }
    }

    #[inline]
    fn serve(&self, serve: &Serve, ctx: &Context) -> Option<(VariationId, bool)> {
        match serve {
            Serve::Variation(v) => Some((*v, false)),
            Serve::Rollout(r) => self.rollout(r, ctx).map(|v| (v, true)),
        }
    }

    #[inline]
    fn rollout(&self, r: &Rollout, ctx: &Context) -> Option<VariationId> {
        let value = self.attribute(ctx, r.bucket_by)?;
        let b = bucket_attr(self.bytes(r.salt), value)?;
        r.slices.iter().find(|s| b < s.upper).map(|s| s.variation)
    }

    fn in_segment(&self, id: SegmentId, ctx: &Context) -> bool {
        let seg = &self.body.segments[id as usize];
        if let Some(key) = ctx.key() {
            let key = self.probe(key, !seg.include.is_empty() || !seg.exclude.is_empty());
            let has = |list: &[u32]| {
                list.binary_search_by(|&s| self.bytes(s).cmp(key.as_bytes()))
                    .is_ok()
            };
            if has(&seg.include) {
                return true;
            }
            if has(&seg.exclude) {
                return false;
            }
        }
        seg.rules
            .iter()
            .any(|r| r.clauses.iter().all(|c| self.clause(c, ctx)))
    }

    fn clause(&self, c: &Clause, ctx: &Context) -> bool {
        if let Op::InSegment(segs) = &c.op {
            let m = segs.iter().any(|&s| self.in_segment(s, ctx));
            return m != c.negate;
        }
        let Some(attr) = self.attribute(ctx, c.attribute) else {
            return false;
        };
        let hashed = self.hashed_attribute(c.attribute);
        let m = attr
            .elements()
            .iter()
            .any(|e| self.matches(&c.op, e, hashed));
        m != c.negate
    }

    /// Whether a client ruleset stores this attribute's values hashed.
    #[inline]
    fn hashed_attribute(&self, id: AttrId) -> bool {
        match &self.client {
            None => false,
            Some(c) => c.hashed_attribute.get(id as usize).copied().unwrap_or(true),
        }
    }

    /// A context value as this ruleset stores it: as is, or (in a client ruleset,
    /// when `hashed`) its hash, computed on the stack.
    #[inline]
    fn probe<'v>(&self, value: &'v str, hashed: bool) -> Probe<'v> {
        match &self.client {
            Some(c) if hashed => Probe::Hashed(hashed::hash(&c.salt, value.as_bytes())),
            _ => Probe::Clear(value),
        }
    }

    /// The context's value of attribute `id`, found by the name's hash.
    #[inline]
    fn attribute<'c>(&self, ctx: &'c Context, id: AttrId) -> Option<&'c AttrValue> {
        let name = self.bytes(self.body.attributes[id as usize]);
        ctx.get_hashed(self.attr_hashes[id as usize], name)
    }

    #[inline]
    fn matches(&self, op: &Op, e: &Scalar, hashed: bool) -> bool {
        match (op, e) {
            (Op::In(set), e) => self.in_set(set, e, hashed),
            (Op::StartsWith(v), Scalar::String(s)) => v.iter().any(|&id| {
                let p = self.bytes(id);
                s.len() >= p.len() && eq_bytes(&s.as_bytes()[..p.len()], p)
            }),
            (Op::EndsWith(v), Scalar::String(s)) => v.iter().any(|&id| {
                let p = self.bytes(id);
                s.len() >= p.len() && eq_bytes(&s.as_bytes()[s.len() - p.len()..], p)
            }),
            (Op::Contains(v), Scalar::String(s)) => v.iter().any(|&id| s.contains(self.str(id))),
            (Op::Matches(v), Scalar::String(s)) => {
                v.iter().any(|&r| self.regexes[r as usize].is_match(s))
            }
            (Op::Lt(b), Scalar::Number(n)) => n < b,
            (Op::Lte(b), Scalar::Number(n)) => n <= b,
            (Op::Gt(b), Scalar::Number(n)) => n > b,
            (Op::Gte(b), Scalar::Number(n)) => n >= b,
            (Op::SemverEq(v), Scalar::String(s)) => match semver::parse(s) {
                Some(a) => v.iter().any(|b| self.semver_cmp(&a, b) == Ordering::Equal),
                None => false,
            },
            (Op::SemverLt(b), Scalar::String(s)) => {
                semver::parse(s).is_some_and(|a| self.semver_cmp(&a, b) == Ordering::Less)
            }
            (Op::SemverGt(b), Scalar::String(s)) => {
                semver::parse(s).is_some_and(|a| self.semver_cmp(&a, b) == Ordering::Greater)
            }
            (Op::Before(b), e) => instant_of(e).is_some_and(|a| a < *b),
            (Op::After(b), e) => instant_of(e).is_some_and(|a| a > *b),
            _ => false,
        }
    }

    #[inline]
    fn in_set(&self, set: &InSet, e: &Scalar, hashed: bool) -> bool {
        match e {
            Scalar::String(s) => {
                if set.strings.is_empty() {
                    return false;
                }
                let probe = self.probe(s, hashed);
                let s = probe.as_bytes();
                if set.strings.len() <= 8 {
                    set.strings.iter().any(|&id| eq_bytes(self.bytes(id), s))
                } else {
                    set.strings
                        .binary_search_by(|&id| self.bytes(id).cmp(s))
                        .is_ok()
                }
            }
            Scalar::Number(n) => set
                .numbers
                .binary_search_by(|x| x.partial_cmp(n).unwrap_or(Ordering::Less))
                .is_ok(),
            Scalar::Bool(true) => set.has_true,
            Scalar::Bool(false) => set.has_false,
        }
    }

    fn semver_cmp(&self, a: &semver::Version<'_>, b: &Semver) -> Ordering {
        let b = semver::Version {
            major: b.major,
            minor: b.minor,
            patch: b.patch,
            pre: b.pre.map(|id| self.str(id)).unwrap_or(""),
        };
        semver::compare(a, &b)
    }
}

#[inline]
fn instant_of(e: &Scalar) -> Option<Instant> {
    match e {
        Scalar::String(s) => parse_rfc3339(s),
        Scalar::Number(n) => from_millis(*n),
        Scalar::Bool(_) => None,
    }
}

/// A context value ready to compare with a ruleset's strings.
enum Probe<'v> {
    Clear(&'v str),
    Hashed(hashed::Hashed),
}

impl Probe<'_> {
    #[inline]
    fn as_bytes(&self) -> &[u8] {
        match self {
            Probe::Clear(s) => s.as_bytes(),
            Probe::Hashed(h) => h.as_bytes(),
        }
    }
}
