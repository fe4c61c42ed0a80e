//! The typed source: reads a node tree into flags, segments and environments,
//! reporting every structural error (unknown field, wrong type, bad key, bad
//! percentage) with its position. Semantic checks (names that must resolve, value
//! types per operator, cycles) happen later, in `check`.

use super::yaml::{Key, Node, Value};
use crate::authoring::{Expires, FlagMetadata};
use crate::diagnostics::{Pos, Sink};
use std::fmt::{self, Write as _};
use std::rc::Rc;

/// A context for messages stored with the source and formatted only when an
/// error is shown: `base`, then each `(text, number)` part (the number only when
/// nonzero), e.g. `flag "x"` + ` rule ` 2 + ` clause ` 1.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LazyCtx {
    base: Rc<str>,
    parts: [(&'static str, u32); 3],
}

impl LazyCtx {
    /// `base` alone.
    pub fn new(base: Rc<str>) -> Self {
        LazyCtx {
            base,
            parts: [("", 0); 3],
        }
    }

    /// This context followed by `text` and `n` (when nonzero).
    pub fn push(&self, text: &'static str, n: u32) -> Self {
        let mut out = self.clone();
        if let Some(p) = out.parts.iter_mut().find(|p| p.0.is_empty()) {
            *p = (text, n);
        }
        out
    }

    /// The context as text.
    pub fn get(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for LazyCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)?;
        for &(text, n) in &self.parts {
            f.write_str(text)?;
            if n != 0 {
                write!(f, "{n}")?;
            }
        }
        Ok(())
    }
}

/// A value with the position it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub pos: Pos,
}

/// A field whose absence means something (a default) that an invalid value must
/// not trigger.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Field<T> {
    /// Not written.
    #[default]
    Absent,
    /// Written but invalid (already reported).
    Invalid,
    /// Written and well-formed.
    Given(T),
}

/// One source file.
#[derive(Debug, Default)]
pub struct SourceFile {
    /// `flags`, in source order.
    pub flags: Vec<(Key, FlagSrc)>,
    /// `segments`, in source order.
    pub segments: Vec<(Key, SegmentSrc)>,
    /// `environments`, when the file declares them.
    pub environments: Vec<Spanned<String>>,
    /// `client_side.clear_attributes`: attributes whose values client rulesets
    /// keep in clear.
    pub clear_attributes: Vec<Spanned<String>>,
}

/// A flag as written.
#[derive(Debug)]
pub struct FlagSrc {
    /// `variations`: name → value node.
    pub variations: Field<Vec<(Key, Node)>>,
    /// `client_side`.
    pub client_side: bool,
    /// `description`, `owner`, `tags`, `temporary` and `expires` (the well-formed
    /// ones).
    pub metadata: FlagMetadata,
    /// The fields that environments may override.
    pub base: EnvFields,
    /// `environments.<name>` overrides.
    pub overrides: Vec<(Key, EnvFields)>,
}

/// The overridable fields of a flag (the base ones, or one environment's).
#[derive(Debug, Default)]
pub struct EnvFields {
    /// Context naming this set of fields (`flag "x"` or `flag "x" environments.prod`).
    pub ctx: Rc<str>,
    /// `enabled`.
    pub enabled: Option<bool>,
    /// `off_variation`.
    pub off_variation: Field<Spanned<String>>,
    /// `prerequisites`.
    pub prerequisites: Option<Vec<PrereqSrc>>,
    /// `targets`: variation → context keys.
    pub targets: Option<Vec<(Key, Vec<Spanned<String>>)>>,
    /// `rules`.
    pub rules: Option<Vec<RuleSrc>>,
    /// `fallthrough`.
    pub fallthrough: Field<ServeSrc>,
}

/// A prerequisite as written.
#[derive(Debug)]
pub struct PrereqSrc {
    /// e.g. `flag "x" prerequisite 1`.
    pub ctx: LazyCtx,
    /// The prerequisite flag key.
    pub flag: Spanned<String>,
    /// Accepted variation names.
    pub variations: Vec<Spanned<String>>,
}

/// A flag rule as written.
#[derive(Debug)]
pub struct RuleSrc {
    /// e.g. `flag "x" rule 2`.
    pub ctx: LazyCtx,
    /// `id`.
    pub id: Option<Spanned<String>>,
    /// Well-formed clauses.
    pub clauses: Vec<ClauseSrc>,
    /// `serve` (`None` when missing or invalid: already reported).
    pub serve: Option<ServeSrc>,
}

/// A serve as written.
#[derive(Debug)]
pub enum ServeSrc {
    /// A variation name.
    Variation {
        /// e.g. `flag "x" fallthrough`.
        ctx: LazyCtx,
        /// The name.
        name: Spanned<String>,
    },
    /// A percentage rollout whose percentages are valid and sum to 100.
    Rollout {
        /// e.g. `flag "x" fallthrough rollout`.
        ctx: LazyCtx,
        /// `(variation, thousandths of a percent)` in listed order.
        slices: Vec<(Key, u32)>,
        /// `bucket_by`.
        bucket_by: Option<String>,
        /// `salt`.
        salt: Option<String>,
    },
}

/// The operators of the rule language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum OpName {
    In,
    StartsWith,
    EndsWith,
    Contains,
    Matches,
    Lt,
    Lte,
    Gt,
    Gte,
    SemverEq,
    SemverLt,
    SemverGt,
    Before,
    After,
    InSegment,
}

/// Every operator with its source name.
pub const OPS: [(&str, OpName); 15] = [
    ("in", OpName::In),
    ("starts_with", OpName::StartsWith),
    ("ends_with", OpName::EndsWith),
    ("contains", OpName::Contains),
    ("matches", OpName::Matches),
    ("lt", OpName::Lt),
    ("lte", OpName::Lte),
    ("gt", OpName::Gt),
    ("gte", OpName::Gte),
    ("semver_eq", OpName::SemverEq),
    ("semver_lt", OpName::SemverLt),
    ("semver_gt", OpName::SemverGt),
    ("before", OpName::Before),
    ("after", OpName::After),
    ("in_segment", OpName::InSegment),
];

impl OpName {
    /// The source name.
    pub fn name(self) -> &'static str {
        OPS.iter().find(|(_, o)| *o == self).map_or("", |(n, _)| n)
    }
}

/// A clause as written (structurally valid: op known, `values` a non-empty list).
#[derive(Debug)]
pub struct ClauseSrc {
    /// e.g. `flag "x" rule 2 clause 1`.
    pub ctx: LazyCtx,
    /// `attribute` (absent for `in_segment`).
    pub attribute: Option<String>,
    /// `op`.
    pub op: OpName,
    /// `values`.
    pub values: Vec<Node>,
    /// `negate`.
    pub negate: bool,
}

/// A segment as written.
#[derive(Debug)]
pub struct SegmentSrc {
    /// Position of the segment's key.
    pub pos: Pos,
    /// `include`.
    pub include: Vec<String>,
    /// `exclude`.
    pub exclude: Vec<String>,
    /// `rules`, each a list of clauses.
    pub rules: Vec<Vec<ClauseSrc>>,
    /// `description`.
    pub description: Option<String>,
}

const TOP_FIELDS: [&str; 5] = [
    "flags",
    "segments",
    "environments",
    "client_side",
    "$schema",
];
/// Fields of the top-level `client_side` map.
const CLIENT_FIELDS: [&str; 1] = ["clear_attributes"];
const FLAG_FIELDS: [&str; 14] = [
    "variations",
    "enabled",
    "off_variation",
    "prerequisites",
    "targets",
    "rules",
    "fallthrough",
    "description",
    "owner",
    "tags",
    "temporary",
    "expires",
    "client_side",
    "environments",
];
/// The fields an environment may override (`environments.<env>.<field>`).
pub const ENV_FIELDS: [&str; 6] = [
    "enabled",
    "off_variation",
    "prerequisites",
    "targets",
    "rules",
    "fallthrough",
];

/// Whether `s` matches `[A-Za-z0-9][A-Za-z0-9._-]{0,max_rest}` (flag and segment
/// keys; environment names follow
/// [`edgeflag_evaluator::format::is_valid_environment`]).
pub fn is_valid_name(s: &str, max_rest: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max_rest + 1
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Parses a percentage into thousandths of a percent, from its source text when
/// that is a decimal literal (so `33.3333` is refused even though it is a float).
pub fn percent_thousandths(text: &str, value: f64) -> Result<u32, String> {
    let b = text.as_bytes();
    let (neg, body) = match b.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], exponent(&body[i + 1..])),
        None => (body, Some(0)),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let decimal = exp.is_some()
        && !(int.is_empty() && frac.is_empty())
        && int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit());
    let out_of_range = || format!("percentage {text} is not between 0 and 100");
    if !decimal {
        // 0x / 0o integers, .inf, .nan.
        if !value.is_finite() {
            return Err(format!("percentage {text} is not a finite number"));
        }
        if !(0.0..=100.0).contains(&value) || value.fract() != 0.0 {
            return Err(out_of_range());
        }
        return Ok(value as u32 * 1000);
    }
    // i128: `frac.len()` and the clamped exponent are far below 2^100, so
    // nothing below can overflow.
    let exp = i128::from(exp.unwrap_or(0));
    let mut digits: String = int.chars().chain(frac.chars()).collect();
    let mut scale = frac.len() as i128 - exp;
    while digits.ends_with('0') && digits.len() > 1 {
        digits.pop();
        scale -= 1;
    }
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(0);
    }
    if neg {
        return Err(out_of_range());
    }
    if scale > 3 {
        return Err(format!(
            "percentage {text} has more than 3 decimals (the finest step is 0.001)"
        ));
    }
    let shift = 3 - scale;
    if digits.len() as i128 + shift > 6 {
        return Err(out_of_range());
    }
    let mut n: u32 = digits.parse().map_err(|_| out_of_range())?;
    for _ in 0..shift {
        n *= 10;
    }
    if n > 100_000 {
        return Err(out_of_range());
    }
    Ok(n)
}

/// Largest exponent magnitude [`exponent`] returns. Any literal with a larger
/// exponent has the same outcome as with this one: its digits cannot fill the
/// gap (a string this long does not fit in memory), so a non-zero mantissa is
/// out of range (positive exponent) or has more than 3 decimals (negative).
const EXPONENT_LIMIT: i64 = 1 << 62;

/// The exponent of a decimal literal (`[+-]?[0-9]+`), clamped to
/// ±[`EXPONENT_LIMIT`] instead of failing or wrapping when it does not fit;
/// `None` when it is not digits.
fn exponent(text: &str) -> Option<i64> {
    let (neg, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut n: i64 = 0;
    for c in digits.bytes() {
        n = n
            .saturating_mul(10)
            .saturating_add(i64::from(c - b'0'))
            .min(EXPONENT_LIMIT);
    }
    Some(if neg { -n } else { n })
}

/// Formats thousandths of a percent as a decimal (`99500` → `99.5`).
pub fn format_thousandths(n: u64) -> String {
    let mut s = format!("{}", n / 1000);
    let frac = n % 1000;
    if frac != 0 {
        let f = format!("{frac:03}");
        let _ = write!(s, ".{}", f.trim_end_matches('0'));
    }
    s
}

/// Reads typed source out of nodes, reporting to a sink.
pub struct Reader<'s, 'f> {
    sink: &'s mut Sink<'f>,
}

fn field_ctx(owner: &str, field: &str) -> String {
    if owner.is_empty() {
        field.to_owned()
    } else if owner.ends_with('.') {
        format!("{owner}{field}")
    } else {
        format!("{owner} {field}")
    }
}

/// A context for messages, built only when an error is reported.
type Ctx<'a> = &'a dyn Fn() -> String;

fn take_string(n: &mut Node) -> String {
    match &mut n.value {
        Value::String(s) => std::mem::take(s),
        _ => String::new(),
    }
}

impl<'s, 'f> Reader<'s, 'f> {
    /// A reader reporting into `sink`.
    pub fn new(sink: &'s mut Sink<'f>) -> Self {
        Reader { sink }
    }

    fn err(&mut self, pos: Pos, ctx: &str, msg: impl Into<String>) {
        self.sink.error(pos, ctx, msg);
    }

    fn type_err(&mut self, n: &Node, ctx: Ctx<'_>, expected: &str) {
        if n.value == Value::Invalid {
            return;
        }
        let msg = format!("expected {expected}, found {}", n.value.describe());
        self.err(n.pos, &ctx(), msg);
    }

    /// The entries of a map with only `allowed` keys (others are reported), as one
    /// optional node per allowed key. Values are moved out by the callers.
    fn fields<'n, const N: usize>(
        &mut self,
        n: &'n mut Node,
        ctx: Ctx<'_>,
        allowed: [&str; N],
    ) -> Option<[Option<&'n mut Node>; N]> {
        if !matches!(n.value, Value::Map(_)) {
            self.type_err(n, ctx, "a map");
            return None;
        }
        let Value::Map(entries) = &mut n.value else {
            return None;
        };
        let mut out: [Option<&'n mut Node>; N] = std::array::from_fn(|_| None);
        for (k, v) in entries.iter_mut() {
            match allowed.iter().position(|a| *a == k.name) {
                Some(i) => out[i] = Some(v),
                None => {
                    let list = allowed
                        .iter()
                        .filter(|a| !a.starts_with('$'))
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let msg = format!("unknown field `{}`; expected one of {list}", k.name);
                    self.sink.error(k.pos, &ctx(), msg);
                }
            }
        }
        Some(out)
    }

    fn map<'n>(&mut self, n: &'n mut Node, ctx: Ctx<'_>) -> Option<&'n mut Vec<(Key, Node)>> {
        if !matches!(n.value, Value::Map(_)) {
            self.type_err(n, ctx, "a map");
        }
        match &mut n.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    fn seq<'n>(&mut self, n: &'n mut Node, ctx: Ctx<'_>) -> Option<&'n mut Vec<Node>> {
        if !matches!(n.value, Value::Seq(_)) {
            self.type_err(n, ctx, "a list");
        }
        match &mut n.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    fn string(&mut self, n: &mut Node, ctx: Ctx<'_>) -> Option<String> {
        if matches!(n.value, Value::String(_)) {
            Some(take_string(n))
        } else {
            self.type_err(n, ctx, "a string");
            None
        }
    }

    fn spanned_string(&mut self, n: &mut Node, ctx: Ctx<'_>) -> Option<Spanned<String>> {
        let pos = n.pos;
        self.string(n, ctx).map(|value| Spanned { value, pos })
    }

    fn boolean(&mut self, n: &Node, ctx: Ctx<'_>) -> Option<bool> {
        match n.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.type_err(n, ctx, "a boolean");
                None
            }
        }
    }

    fn strings(&mut self, n: &mut Node, ctx: Ctx<'_>) -> Option<Vec<Spanned<String>>> {
        let items = self.seq(n, ctx)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter_mut().enumerate() {
            if let Some(s) = self.spanned_string(item, &|| format!("{}[{i}]", ctx())) {
                out.push(s);
            }
        }
        Some(out)
    }

    /// Reads a whole file (moving strings out of the tree).
    pub fn file(&mut self, root: &mut Node) -> SourceFile {
        let mut out = SourceFile::default();
        if root.value == Value::Null {
            return out;
        }
        let Some([flags, segments, envs, client, _schema]) =
            self.fields(root, &String::new, TOP_FIELDS)
        else {
            return out;
        };
        if let Some(client) = client {
            let ctx = || "client_side".to_owned();
            if let Some([Some(clear)]) = self.fields(client, &ctx, CLIENT_FIELDS) {
                let ctx = || "client_side.clear_attributes".to_owned();
                if let Some(list) = self.strings(clear, &ctx) {
                    out.clear_attributes = list;
                }
            }
        }
        if let Some(envs) = envs {
            if let Some(list) = self.strings(envs, &|| "environments".to_owned()) {
                for (i, e) in list.into_iter().enumerate() {
                    if edgeflag_evaluator::format::is_valid_environment(&e.value) {
                        out.environments.push(e);
                    } else {
                        let msg = format!(
                            "invalid environment name \"{}\": expected \
                             [A-Za-z0-9][A-Za-z0-9._-]{{0,63}}",
                            e.value
                        );
                        self.err(e.pos, &format!("environments[{i}]"), msg);
                    }
                }
            }
        }
        if let Some(flags) = flags.and_then(|n| self.map(n, &|| "flags".to_owned())) {
            out.flags.reserve(flags.len());
            for (k, v) in flags.iter_mut() {
                let ctx: Rc<str> = format!("flag \"{}\"", k.name).into();
                if !is_valid_name(&k.name, 127) {
                    let msg = "invalid flag key: expected [A-Za-z0-9][A-Za-z0-9._-]{0,127}";
                    self.err(k.pos, &ctx, msg);
                    continue;
                }
                if let Some(f) = self.flag(v, &ctx) {
                    out.flags.push((std::mem::take(k), f));
                }
            }
        }
        if let Some(segs) = segments.and_then(|n| self.map(n, &|| "segments".to_owned())) {
            for (k, v) in segs.iter_mut() {
                let ctx: Rc<str> = format!("segment \"{}\"", k.name).into();
                if !is_valid_name(&k.name, 127) {
                    let msg = "invalid segment key: expected [A-Za-z0-9][A-Za-z0-9._-]{0,127}";
                    self.err(k.pos, &ctx, msg);
                    continue;
                }
                if let Some(s) = self.segment(k.pos, v, &ctx) {
                    out.segments.push((std::mem::take(k), s));
                }
            }
        }
        out
    }

    fn flag(&mut self, n: &mut Node, ctx: &Rc<str>) -> Option<FlagSrc> {
        // `key:` with nothing: a boolean flag with every default.
        let f = match n.value {
            Value::Null => std::array::from_fn(|_| None),
            _ => self.fields(n, &|| ctx.to_string(), FLAG_FIELDS)?,
        };
        let [variations, enabled, off_variation, prerequisites, targets, rules, fallthrough, description, owner, tags, temporary, expires, client_side, environments] =
            f;
        let fc = |field: &'static str| move || field_ctx(ctx, field);
        let variations = match variations {
            None => Field::Absent,
            Some(v) => match self.map(v, &fc("variations")) {
                Some(m) => Field::Given(std::mem::take(m)),
                None => Field::Invalid,
            },
        };
        let metadata = self.metadata(ctx, [description, owner, tags, temporary, expires]);
        let client_side = client_side
            .and_then(|c| self.boolean(c, &fc("client_side")))
            .unwrap_or(false);
        let base = self.env_fields(
            ctx.clone(),
            [
                enabled,
                off_variation,
                prerequisites,
                targets,
                rules,
                fallthrough,
            ],
        );
        let mut overrides = Vec::new();
        if let Some(envs) = environments.and_then(|e| self.map(e, &fc("environments"))) {
            for (env, v) in envs.iter_mut() {
                let ectx: Rc<str> = format!("{ctx} environments.{}", env.name).into();
                if let Some(fields) = self.fields(v, &|| ectx.to_string(), ENV_FIELDS) {
                    let f = self.env_fields(ectx, fields);
                    overrides.push((std::mem::take(env), f));
                }
            }
        }
        Some(FlagSrc {
            variations,
            client_side,
            metadata,
            base,
            overrides,
        })
    }

    /// Reads a flag's `description`, `owner`, `tags`, `temporary` and `expires`.
    fn metadata(&mut self, ctx: &str, f: [Option<&mut Node>; 5]) -> FlagMetadata {
        let [description, owner, tags, temporary, expires] = f;
        let fc = |field: &'static str| move || field_ctx(ctx, field);
        let description = description.and_then(|d| self.string(d, &fc("description")));
        let owner = owner.and_then(|o| self.string(o, &fc("owner")));
        let tags = tags
            .and_then(|t| self.strings(t, &fc("tags")))
            .map(|t| t.into_iter().map(|s| s.value).collect())
            .unwrap_or_default();
        let temporary = temporary
            .and_then(|t| self.boolean(t, &fc("temporary")))
            .unwrap_or(false);
        let expires = expires.and_then(|e| {
            let pos = e.pos;
            let s = self.string(e, &fc("expires"))?;
            let parsed = Expires::parse(&s);
            if parsed.is_none() {
                let msg = format!("invalid date \"{s}\": expected YYYY-MM-DD");
                self.err(pos, &fc("expires")(), msg);
            }
            parsed
        });
        FlagMetadata {
            description,
            owner,
            tags,
            temporary,
            expires,
        }
    }

    fn env_fields(&mut self, owner: Rc<str>, f: [Option<&mut Node>; 6]) -> EnvFields {
        let [enabled, off_variation, prerequisites, targets, rules, fallthrough] = f;
        // Fields are `flag "x" enabled` in the base, `flag "x" environments.p.enabled`
        // in an override.
        let in_env = owner.contains(" environments.");
        let fc = |name: &str| {
            if in_env {
                format!("{owner}.{name}")
            } else {
                format!("{owner} {name}")
            }
        };
        let mut out = EnvFields {
            enabled: enabled.and_then(|e| self.boolean(e, &|| fc("enabled"))),
            ..EnvFields::default()
        };
        if let Some(o) = off_variation {
            out.off_variation = match self.spanned_string(o, &|| fc("off_variation")) {
                Some(s) => Field::Given(s),
                None => Field::Invalid,
            };
        }
        if let Some(p) = prerequisites {
            out.prerequisites = self.prerequisites(p, &owner, &|| fc("prerequisites"));
        }
        if let Some(t) = targets {
            if let Some(m) = self.map(t, &|| fc("targets")) {
                let mut list = Vec::with_capacity(m.len());
                for (var, keys) in m.iter_mut() {
                    if let Some(keys) =
                        self.strings(keys, &|| format!("{}.{}", fc("targets"), var.name))
                    {
                        list.push((std::mem::take(var), keys));
                    }
                }
                out.targets = Some(list);
            }
        }
        if let Some(r) = rules {
            out.rules = self.rules(r, &owner, &|| fc("rules"));
        }
        if let Some(ft) = fallthrough {
            let sep = if in_env {
                ".fallthrough"
            } else {
                " fallthrough"
            };
            out.fallthrough = match self.serve(ft, LazyCtx::new(owner.clone()).push(sep, 0)) {
                Some(s) => Field::Given(s),
                None => Field::Invalid,
            };
        }
        out.ctx = owner;
        out
    }

    fn prerequisites(
        &mut self,
        n: &mut Node,
        owner: &Rc<str>,
        ctx: Ctx<'_>,
    ) -> Option<Vec<PrereqSrc>> {
        let items = self.seq(n, ctx)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter_mut().enumerate() {
            let pctx = LazyCtx::new(owner.clone()).push(" prerequisite ", i as u32 + 1);
            let item_pos = item.pos;
            let Some([flag, variations]) =
                self.fields(item, &|| pctx.get(), ["flag", "variations"])
            else {
                continue;
            };
            let flag = match flag {
                Some(f) => self.spanned_string(f, &|| format!("{pctx} flag")),
                None => {
                    self.err(item_pos, &pctx.get(), "missing field `flag`");
                    None
                }
            };
            let variations = match variations {
                Some(v) => {
                    let vctx = || format!("{pctx} variations");
                    let vpos = v.pos;
                    let list = self.strings(v, &vctx);
                    if list.as_ref().is_some_and(Vec::is_empty) {
                        self.err(vpos, &vctx(), "`variations` must not be empty");
                    }
                    list
                }
                None => {
                    self.err(item_pos, &pctx.get(), "missing field `variations`");
                    None
                }
            };
            if let (Some(flag), Some(variations)) = (flag, variations) {
                out.push(PrereqSrc {
                    ctx: pctx,
                    flag,
                    variations,
                });
            }
        }
        Some(out)
    }

    fn rules(&mut self, n: &mut Node, owner: &Rc<str>, ctx: Ctx<'_>) -> Option<Vec<RuleSrc>> {
        let items = self.seq(n, ctx)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter_mut().enumerate() {
            let rctx = LazyCtx::new(owner.clone()).push(" rule ", i as u32 + 1);
            let item_pos = item.pos;
            let Some([id, clauses, serve]) =
                self.fields(item, &|| rctx.get(), ["id", "clauses", "serve"])
            else {
                continue;
            };
            let id = id.and_then(|n| self.spanned_string(n, &|| format!("{rctx} id")));
            let clauses = match clauses {
                Some(c) => self.clauses(c, &rctx),
                None => {
                    self.err(item_pos, &rctx.get(), "missing field `clauses`");
                    Vec::new()
                }
            };
            let serve = match serve {
                Some(s) => self.serve(s, rctx.push(" serve", 0)),
                None => {
                    self.err(item_pos, &rctx.get(), "missing field `serve`");
                    None
                }
            };
            out.push(RuleSrc {
                ctx: rctx,
                id,
                clauses,
                serve,
            });
        }
        Some(out)
    }

    fn clauses(&mut self, n: &mut Node, rctx: &LazyCtx) -> Vec<ClauseSrc> {
        let Some(items) = self.seq(n, &|| format!("{rctx} clauses")) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter_mut().enumerate() {
            let cctx = rctx.push(" clause ", i as u32 + 1);
            if let Some(c) = self.clause(item, cctx) {
                out.push(c);
            }
        }
        out
    }

    fn clause(&mut self, n: &mut Node, ctx: LazyCtx) -> Option<ClauseSrc> {
        let pos = n.pos;
        let [attribute, op, values, negate] =
            self.fields(n, &|| ctx.get(), ["attribute", "op", "values", "negate"])?;
        let op = match op {
            None => {
                self.err(pos, &ctx.get(), "missing field `op`");
                None
            }
            Some(o) => {
                let opos = o.pos;
                let name = self.string(o, &|| format!("{ctx} op"))?;
                match OPS.iter().find(|(s, _)| *s == name) {
                    Some((_, op)) => Some(*op),
                    None => {
                        let list = OPS
                            .iter()
                            .map(|(s, _)| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let msg = format!("unknown operator `{name}`; expected one of {list}");
                        self.err(opos, &format!("{ctx} op"), msg);
                        None
                    }
                }
            }
        };
        let attribute = match attribute {
            Some(a) => {
                let apos = a.pos;
                let s = self.string(a, &|| format!("{ctx} attribute"));
                if s.as_deref() == Some("") {
                    self.err(
                        apos,
                        &format!("{ctx} attribute"),
                        "attribute name must not be empty",
                    );
                }
                s
            }
            None => {
                if op.is_some() && op != Some(OpName::InSegment) {
                    self.err(pos, &ctx.get(), "missing field `attribute`");
                }
                None
            }
        };
        let values = match values {
            None => {
                self.err(pos, &ctx.get(), "missing field `values`");
                None
            }
            Some(v) => {
                let vpos = v.pos;
                match self.seq(v, &|| format!("{ctx} values")) {
                    Some(items) if items.is_empty() => {
                        self.err(vpos, &format!("{ctx} values"), "`values` must not be empty");
                        None
                    }
                    Some(items) => Some(std::mem::take(items)),
                    None => None,
                }
            }
        };
        let negate = negate
            .and_then(|b| self.boolean(b, &|| format!("{ctx} negate")))
            .unwrap_or(false);
        let op = op?;
        Some(ClauseSrc {
            ctx,
            attribute,
            op,
            values: values?,
            negate,
        })
    }

    fn serve(&mut self, n: &mut Node, ctx: LazyCtx) -> Option<ServeSrc> {
        let pos = n.pos;
        match &n.value {
            Value::String(_) => Some(ServeSrc::Variation {
                ctx,
                name: Spanned {
                    value: take_string(n),
                    pos,
                },
            }),
            Value::Map(_) => {
                let [rollout, bucket_by, salt] =
                    self.fields(n, &|| ctx.get(), ["rollout", "bucket_by", "salt"])?;
                let rctx = ctx.push(" rollout", 0);
                let bucket_by = bucket_by.and_then(|b| {
                    let bpos = b.pos;
                    let s = self.string(b, &|| format!("{ctx} bucket_by"))?;
                    if s.is_empty() {
                        self.err(
                            bpos,
                            &format!("{ctx} bucket_by"),
                            "attribute name must not be empty",
                        );
                    }
                    Some(s)
                });
                let salt = salt.and_then(|s| self.string(s, &|| format!("{ctx} salt")));
                let Some(rollout) = rollout else {
                    self.err(pos, &ctx.get(), "missing field `rollout`");
                    return None;
                };
                let rpos = rollout.pos;
                let entries = self.map(rollout, &|| rctx.get())?;
                if entries.is_empty() {
                    self.err(rpos, &rctx.get(), "a rollout needs at least one variation");
                    return None;
                }
                let mut slices = Vec::with_capacity(entries.len());
                let mut sum: u64 = 0;
                let mut ok = true;
                for (k, v) in entries.iter_mut() {
                    let pctx = || format!("{rctx}.{}", k.name);
                    let Value::Number { value, text } = &v.value else {
                        self.type_err(v, &pctx, "a percentage (number)");
                        ok = false;
                        continue;
                    };
                    match percent_thousandths(text, *value) {
                        Ok(t) => {
                            sum += u64::from(t);
                            slices.push((std::mem::take(k), t));
                        }
                        Err(msg) => {
                            self.err(v.pos, &pctx(), msg);
                            ok = false;
                        }
                    }
                }
                if !ok {
                    return None;
                }
                if sum != 100_000 {
                    let msg = format!("percentages sum to {}, not 100", format_thousandths(sum));
                    self.err(rpos, &rctx.get(), msg);
                    return None;
                }
                Some(ServeSrc::Rollout {
                    ctx: rctx,
                    slices,
                    bucket_by,
                    salt,
                })
            }
            _ => {
                self.type_err(n, &|| ctx.get(), "a variation name or a rollout map");
                None
            }
        }
    }

    fn segment(&mut self, key_pos: Pos, n: &mut Node, ctx: &Rc<str>) -> Option<SegmentSrc> {
        let [include, exclude, rules, description] = match n.value {
            Value::Null => std::array::from_fn(|_| None),
            _ => self.fields(
                n,
                &|| ctx.to_string(),
                ["include", "exclude", "rules", "description"],
            )?,
        };
        let description =
            description.and_then(|d| self.string(d, &|| format!("{ctx} description")));
        let mut keys = |n: Option<&mut Node>, field: &str| -> Vec<String> {
            n.and_then(|n| self.strings(n, &|| format!("{ctx} {field}")))
                .map(|v| v.into_iter().map(|s| s.value).collect())
                .unwrap_or_default()
        };
        let include = keys(include, "include");
        let exclude = keys(exclude, "exclude");
        let mut out_rules = Vec::new();
        if let Some(items) = rules.and_then(|r| self.seq(r, &|| format!("{ctx} rules"))) {
            for (i, item) in items.iter_mut().enumerate() {
                let rctx = LazyCtx::new(ctx.clone()).push(" rule ", i as u32 + 1);
                let item_pos = item.pos;
                let Some([clauses]) = self.fields(item, &|| rctx.get(), ["clauses"]) else {
                    continue;
                };
                match clauses {
                    Some(c) => out_rules.push(self.clauses(c, &rctx)),
                    None => self.err(item_pos, &rctx.get(), "missing field `clauses`"),
                }
            }
        }
        Some(SegmentSrc {
            pos: key_pos,
            include,
            exclude,
            rules: out_rules,
            description,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        let p = |s: &str| percent_thousandths(s, s.parse().unwrap_or(f64::NAN));
        assert_eq!(p("50"), Ok(50_000));
        assert_eq!(p("33.333"), Ok(33_333));
        assert_eq!(p("33.3330000"), Ok(33_333));
        assert_eq!(p("0.001"), Ok(1));
        assert_eq!(p("1e1"), Ok(10_000));
        assert_eq!(p("2.5E-1"), Ok(250));
        assert_eq!(p("100"), Ok(100_000));
        assert_eq!(p("-0"), Ok(0));
        assert_eq!(p(".5"), Ok(500));
        assert!(p("33.3333").unwrap_err().contains("more than 3 decimals"));
        assert!(p("1e-4").unwrap_err().contains("more than 3 decimals"));
        assert!(p("100.001").is_err());
        assert!(p("-1").is_err());
        assert!(p("1e10").is_err());
        // Exponents beyond i64 (or at its edges) neither wrap nor fall back to
        // the float value (`1e-99999999999999999999` is not 0).
        let too_fine = |s: &str| p(s).unwrap_err().contains("more than 3 decimals");
        let too_big = |s: &str| p(s).unwrap_err().contains("not between 0 and 100");
        assert!(too_fine("1e-99999999999999999999"));
        assert!(too_fine("1e-9223372036854775808"));
        assert!(too_fine("1.5e-9223372036854775807"));
        assert!(too_big("1e9223372036854775807"));
        assert!(too_big("100e9223372036854775807"));
        assert!(too_big("1e99999999999999999999"));
        assert!(too_big("0.000001e9223372036854775807"));
        assert_eq!(p("0e99999999999999999999"), Ok(0));
        assert_eq!(p("0.0e-9223372036854775808"), Ok(0));
        assert_eq!(p("1000e-4"), Ok(100));
        assert_eq!(p("0.0001e4"), Ok(1000));
        assert_eq!(p("1e+2"), Ok(100_000));
        assert_eq!(percent_thousandths("0x10", 16.0), Ok(16_000));
        assert!(percent_thousandths(".inf", f64::INFINITY).is_err());
        assert_eq!(format_thousandths(99_500), "99.5");
        assert_eq!(format_thousandths(100_001), "100.001");
        assert_eq!(format_thousandths(0), "0");
    }

    #[test]
    fn names_and_dates() {
        assert!(is_valid_name("a", 127));
        assert!(is_valid_name("new-checkout_v2.1", 127));
        assert!(!is_valid_name("-a", 127));
        assert!(!is_valid_name("a b", 127));
        assert!(!is_valid_name("", 127));
        assert!(is_valid_name(&"a".repeat(128), 127));
        assert!(!is_valid_name(&"a".repeat(129), 127));
        let is_valid_date = |s: &str| Expires::parse(s).is_some();
        assert!(is_valid_date("2024-02-29"));
        assert!(!is_valid_date("2023-02-29"));
        assert!(!is_valid_date("2023-13-01"));
        assert!(!is_valid_date("2023-1-01"));
    }
}
