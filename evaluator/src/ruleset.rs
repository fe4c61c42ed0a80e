//! A loaded, verified ruleset and its load-time indexes.

use crate::context::{eq_bytes, name_hash};
use crate::format::{self, DecodeError, Header};
use crate::model::{Body, Clause, Flag, FlagId, Op, Serve, StrId, Value, BUCKETS};
use regex::Regex;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use xxhash_rust::xxh3::xxh3_64;

/// Deepest chain of prerequisites, and deepest nesting of segments, that a ruleset
/// may hold (the compiler refuses deeper ones; the loader re-checks).
pub const MAX_DEPTH: usize = 32;

/// Largest compiled program a regex may produce (bytes), so untrusted patterns
/// cannot exhaust memory at load.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A hasher for keys that already are uniform 64-bit hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A ruleset ready for evaluation: decoded, verified and indexed. Immutable; share
/// it between threads behind an `Arc`.
///
/// ```
/// use edgeflag_evaluator::{format, model::Body, Context, Ruleset};
/// let bytes = format::encode(&Body::default(), &format::EncodeOptions {
///     environment: "default", version: 1, epoch: 1, created_at_ms: 0,
/// }).unwrap();
/// let rs = Ruleset::from_bytes(&bytes).unwrap();
/// // Unknown flags return the caller's default.
/// assert!(!rs.bool_value("missing", &Context::new("u1"), false));
/// ```
#[derive(Debug)]
pub struct Ruleset {
    pub(crate) header: Header,
    pub(crate) body: Body,
    pub(crate) regexes: Vec<Regex>,
    by_hash: HashMap<u64, FlagId, BuildHasherDefault<PassThrough>>,
    /// Flags whose key hash collided with another's (practically never).
    collided: Vec<FlagId>,
    /// `(start, end)` of every string in the blob, split once at load.
    spans: Vec<(u32, u32)>,
    /// Hash of each attribute name, as [`Context`](crate::Context) hashes names.
    pub(crate) attr_hashes: Vec<u64>,
}

fn invalid(msg: impl Into<String>) -> DecodeError {
    DecodeError::Invalid(msg.into())
}

impl Ruleset {
    /// Decodes and verifies a binary ruleset. Never panics on any input: truncated,
    /// corrupted, wrong-magic, newer-format or inconsistent bytes give a typed error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Ruleset, DecodeError> {
        let (header, body) = format::read_header(bytes)?;
        let body = format::decode_body(body)?;
        Ruleset::from_body(header, body)
    }

    /// Verifies a decoded body and builds the indexes.
    pub fn from_body(header: Header, body: Body) -> Result<Ruleset, DecodeError> {
        check_body(&body)?;
        let mut regexes = Vec::with_capacity(body.regexes.len());
        for &id in &body.regexes {
            let pattern = body.strings.get(id);
            let re = regex::RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| invalid(format!("regex {pattern:?}: {e}")))?;
            regexes.push(re);
        }
        let mut by_hash: HashMap<u64, FlagId, BuildHasherDefault<PassThrough>> =
            HashMap::with_capacity_and_hasher(body.flags.len(), Default::default());
        let mut collided = Vec::new();
        for (i, flag) in body.flags.iter().enumerate() {
            let key = body.strings.get(flag.key);
            let h = xxh3_64(key.as_bytes());
            match by_hash.get(&h) {
                None => {
                    by_hash.insert(h, i as FlagId);
                }
                Some(&other) => {
                    if body.strings.get(body.flags[other as usize].key) == key
                        || collided
                            .iter()
                            .any(|&c| body.strings.get(body.flags[c as usize].key) == key)
                    {
                        return Err(invalid(format!("flag {key:?} is defined twice")));
                    }
                    collided.push(i as FlagId);
                }
            }
        }
        let mut spans = Vec::with_capacity(body.strings.len());
        let mut start = 0;
        for &end in &body.strings.ends {
            spans.push((start, end));
            start = end;
        }
        let attr_hashes = body
            .attributes
            .iter()
            .map(|&a| name_hash(body.strings.get(a)))
            .collect();
        Ok(Ruleset {
            header,
            body,
            regexes,
            by_hash,
            collided,
            spans,
            attr_hashes,
        })
    }

    /// The header: environment, version, creation time, checksum.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The compiled body, for tools that inspect rulesets.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// A string of the body by id.
    #[inline]
    pub fn str(&self, id: StrId) -> &str {
        match self.spans.get(id as usize) {
            Some(&(s, e)) => self
                .body
                .strings
                .blob
                .get(s as usize..e as usize)
                .unwrap_or(""),
            None => "",
        }
    }

    /// The bytes of a string of the body, for comparisons on the hot path (byte
    /// order is `str` order).
    #[inline]
    pub(crate) fn bytes(&self, id: StrId) -> &[u8] {
        match self.spans.get(id as usize) {
            Some(&(s, e)) => self
                .body
                .strings
                .blob
                .as_bytes()
                .get(s as usize..e as usize)
                .unwrap_or(&[]),
            None => &[],
        }
    }

    /// Number of flags.
    pub fn len(&self) -> usize {
        self.body.flags.len()
    }

    /// Whether the ruleset has no flag.
    pub fn is_empty(&self) -> bool {
        self.body.flags.is_empty()
    }

    /// Flag keys in stored (prerequisite) order.
    pub fn flag_keys(&self) -> impl Iterator<Item = &str> {
        self.body.flags.iter().map(|f| self.str(f.key))
    }

    /// Resolves a flag key to its id; evaluating by id skips the lookup.
    #[inline]
    pub fn flag_id(&self, key: &str) -> Option<FlagId> {
        let h = xxh3_64(key.as_bytes());
        if let Some(&id) = self.by_hash.get(&h) {
            if eq_bytes(self.bytes(self.body.flags[id as usize].key), key.as_bytes()) {
                return Some(id);
            }
        }
        self.collided
            .iter()
            .copied()
            .find(|&c| self.str(self.body.flags[c as usize].key) == key)
    }

    /// The compiled flag with this key.
    pub fn flag(&self, key: &str) -> Option<&Flag> {
        self.flag_id(key).map(|id| &self.body.flags[id as usize])
    }
}

/// Checks every index and ordering invariant evaluation relies on.
fn check_body(b: &Body) -> Result<(), DecodeError> {
    let st = &b.strings;
    let mut prev = 0u32;
    for &end in &st.ends {
        if end < prev || !st.blob.is_char_boundary(end as usize) {
            return Err(invalid("string table offsets"));
        }
        prev = end;
    }
    if prev as usize != st.blob.len() {
        return Err(invalid("string table length"));
    }
    let nstr = st.len();
    let s = |id: StrId, what: &str| -> Result<(), DecodeError> {
        if (id as usize) < nstr {
            Ok(())
        } else {
            Err(invalid(format!("{what}: string id {id} out of range")))
        }
    };
    let sorted_strs = |ids: &[StrId], what: &str| -> Result<(), DecodeError> {
        for &id in ids {
            s(id, what)?;
        }
        if ids.windows(2).all(|w| st.get(w[0]) < st.get(w[1])) {
            Ok(())
        } else {
            Err(invalid(format!("{what}: not sorted")))
        }
    };
    for &a in &b.attributes {
        s(a, "attribute name")?;
    }
    for &r in &b.regexes {
        s(r, "regex")?;
    }
    let nattr = b.attributes.len();
    let nseg = b.segments.len();

    let check_clause = |c: &Clause, seg_limit: usize, depth: &[usize], what: &str| {
        if c.attribute as usize >= nattr && !matches!(c.op, Op::InSegment(_)) {
            return Err(invalid(format!("{what}: attribute id out of range")));
        }
        let mut d = 0;
        match &c.op {
            Op::In(set) => {
                sorted_strs(&set.strings, what)?;
                if !set.numbers.windows(2).all(|w| w[0] < w[1])
                    || set.numbers.iter().any(|n| !n.is_finite())
                {
                    return Err(invalid(format!("{what}: numbers not sorted")));
                }
            }
            Op::StartsWith(v) | Op::EndsWith(v) | Op::Contains(v) => {
                for &id in v {
                    s(id, what)?;
                }
            }
            Op::Matches(v) => {
                if v.iter().any(|&r| r as usize >= b.regexes.len()) {
                    return Err(invalid(format!("{what}: regex id out of range")));
                }
            }
            Op::Lt(n) | Op::Lte(n) | Op::Gt(n) | Op::Gte(n) => {
                if !n.is_finite() {
                    return Err(invalid(format!("{what}: non-finite bound")));
                }
            }
            Op::SemverEq(v) => {
                for sv in v {
                    if let Some(p) = sv.pre {
                        s(p, what)?;
                    }
                }
            }
            Op::SemverLt(sv) | Op::SemverGt(sv) => {
                if let Some(p) = sv.pre {
                    s(p, what)?;
                }
            }
            Op::Before(_) | Op::After(_) => {}
            Op::InSegment(v) => {
                for &seg in v {
                    if seg as usize >= seg_limit {
                        return Err(invalid(format!(
                            "{what}: segment {seg} is not defined before its use"
                        )));
                    }
                    d = d.max(depth[seg as usize]);
                }
            }
        }
        Ok(d)
    };

    let mut seg_depth = vec![0usize; nseg];
    for (i, seg) in b.segments.iter().enumerate() {
        s(seg.key, "segment key")?;
        sorted_strs(&seg.include, "segment include")?;
        sorted_strs(&seg.exclude, "segment exclude")?;
        let mut d = 0;
        for rule in &seg.rules {
            for c in &rule.clauses {
                d = d.max(check_clause(c, i, &seg_depth, "segment clause")?);
            }
        }
        seg_depth[i] = d + 1;
        if seg_depth[i] > MAX_DEPTH {
            return Err(invalid("segments nested too deeply"));
        }
    }

    let mut flag_depth = vec![0usize; b.flags.len()];
    for (i, f) in b.flags.iter().enumerate() {
        s(f.key, "flag key")?;
        let nvar = f.variations.len();
        if nvar == 0 {
            return Err(invalid("flag without variations"));
        }
        for v in &f.variations {
            s(v.name, "variation name")?;
            if v.value.kind() != f.kind {
                return Err(invalid("variation of another type than its flag"));
            }
            match v.value {
                Value::String(id) | Value::Json(id) => s(id, "variation value")?,
                Value::Number(n) if !n.is_finite() => {
                    return Err(invalid("non-finite number variation"))
                }
                _ => {}
            }
        }
        let var = |v: u32| -> Result<(), DecodeError> {
            if (v as usize) < nvar {
                Ok(())
            } else {
                Err(invalid("variation index out of range"))
            }
        };
        var(f.off_variation)?;
        let mut d = 0;
        for p in &f.prerequisites {
            if p.flag as usize >= i {
                return Err(invalid("prerequisite not stored before its flag"));
            }
            let pn = b.flags[p.flag as usize].variations.len();
            if p.variations.iter().any(|&v| v as usize >= pn)
                || !p.variations.windows(2).all(|w| w[0] < w[1])
            {
                return Err(invalid(
                    "prerequisite variations out of range or not sorted",
                ));
            }
            d = d.max(flag_depth[p.flag as usize]);
        }
        flag_depth[i] = d + 1;
        if flag_depth[i] > MAX_DEPTH {
            return Err(invalid("prerequisites chained too deeply"));
        }
        for t in &f.targets {
            s(t.key, "target")?;
            var(t.variation)?;
        }
        if !f
            .targets
            .windows(2)
            .all(|w| st.get(w[0].key) < st.get(w[1].key))
        {
            return Err(invalid("targets not sorted"));
        }
        let check_serve = |sv: &Serve| -> Result<(), DecodeError> {
            match sv {
                Serve::Variation(v) => var(*v),
                Serve::Rollout(r) => {
                    if r.bucket_by as usize >= nattr {
                        return Err(invalid("rollout attribute out of range"));
                    }
                    s(r.salt, "rollout salt")?;
                    let mut prev = 0;
                    for sl in &r.slices {
                        var(sl.variation)?;
                        if sl.upper < prev {
                            return Err(invalid("rollout slices decrease"));
                        }
                        prev = sl.upper;
                    }
                    if prev != BUCKETS {
                        return Err(invalid("rollout does not cover 100%"));
                    }
                    Ok(())
                }
            }
        };
        for r in &f.rules {
            if let Some(id) = r.id {
                s(id, "rule id")?;
            }
            for c in &r.clauses {
                check_clause(c, nseg, &seg_depth, "rule clause")?;
            }
            check_serve(&r.serve)?;
        }
        check_serve(&f.fallthrough)?;
    }
    Ok(())
}
