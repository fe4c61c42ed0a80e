//! A loaded, verified ruleset and its load-time indexes.

use crate::context::{eq_bytes, name_hash};
use crate::format::{self, DecodeError, Header};
use crate::hashed;
use crate::invariant::Invariant;
use crate::limits::{self, BudgetError, CompiledRegex, RegexError};
use crate::model::{
    Body, Clause, Flag, FlagId, Op, SegmentId, Semver, Serve, StrId, StringTable, Value,
    VariationId, BUCKETS,
};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use xxhash_rust::xxh3::xxh3_64;

/// Deepest chain of prerequisites, and deepest nesting of segments, that a ruleset
/// may hold (the compiler refuses deeper ones; the loader re-checks).
pub const MAX_DEPTH: usize = 32;

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
    pub(crate) regexes: Vec<CompiledRegex>,
    by_hash: HashMap<u64, FlagId, BuildHasherDefault<PassThrough>>,
    /// Flags whose key hash collided with another's (practically never).
    collided: Vec<FlagId>,
    /// `(start, end)` of every string in the blob, split once at load.
    spans: Vec<(u32, u32)>,
    /// Hash of each attribute name, as [`Context`](crate::Context) hashes names.
    pub(crate) attr_hashes: Vec<u64>,
    /// What the signature covers, for a signed ruleset read from bytes.
    signed_digest: Option<[u8; 64]>,
    /// For a client ruleset: its salt, and per attribute whether its values are
    /// stored hashed.
    pub(crate) client: Option<ClientHashing>,
    /// How many flags [`Ruleset::flag_keys`] lists.
    visible_flags: usize,
}

/// A client ruleset's hashing, ready for evaluation.
#[derive(Debug)]
pub(crate) struct ClientHashing {
    pub(crate) salt: [u8; hashed::SALT_LEN],
    /// Indexed by attribute id.
    pub(crate) hashed_attribute: Vec<bool>,
}

impl Ruleset {
    /// Decodes and verifies a binary ruleset. Never panics on any input: truncated,
    /// corrupted, wrong-magic, newer-format or inconsistent bytes give a typed error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Ruleset, DecodeError> {
        let (header, body) = format::read_header(bytes)?;
        let signed_digest = header
            .signature
            .is_some()
            .then(|| format::signed_digest(bytes));
        let body = format::decode_body(body)?;
        let mut rs = Ruleset::from_body(header, body)?;
        rs.signed_digest = signed_digest;
        Ok(rs)
    }

    /// Verifies a decoded body and builds the indexes. A ruleset built this way
    /// has no bytes a signature could cover: a policy with trusted keys refuses it.
    pub fn from_body(header: Header, body: Body) -> Result<Ruleset, DecodeError> {
        check_body(&body).map_err(DecodeError::Invalid)?;
        let regexes = compile_regexes(&body).map_err(DecodeError::Invalid)?;
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
                        return Err(DecodeError::Invalid(Invariant::DuplicateFlagKey {
                            key: key.to_owned(),
                        }));
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
        let client = body.client.as_ref().map(|c| ClientHashing {
            salt: c.salt,
            hashed_attribute: (0..body.attributes.len() as u32)
                .map(|a| c.clear_attributes.binary_search(&a).is_err())
                .collect(),
        });
        let visible_flags = match &client {
            None => body.flags.len(),
            Some(_) => body.flags.iter().filter(|f| f.client_side).count(),
        };
        Ok(Ruleset {
            visible_flags,
            header,
            body,
            regexes,
            by_hash,
            collided,
            spans,
            attr_hashes,
            signed_digest: None,
            client,
        })
    }

    /// Whether this is a client ruleset (keys and values hashed, for browsers;
    /// see [`crate::hashed`]) rather than a server one.
    pub fn is_client(&self) -> bool {
        self.client.is_some()
    }

    /// The header: environment, version, creation time, checksum, signature.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The digest the header's signature covers; `None` when the ruleset is
    /// unsigned or was not read from bytes ([`Ruleset::from_body`]).
    pub(crate) fn signed_digest(&self) -> Option<&[u8; 64]> {
        self.signed_digest.as_ref()
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

    /// Number of flags callers can see: every flag of a server ruleset, the
    /// client-side flags of a client ruleset (as [`Ruleset::flag_keys`] lists).
    pub fn len(&self) -> usize {
        self.visible_flags
    }

    /// Whether the ruleset has no flag callers can see.
    pub fn is_empty(&self) -> bool {
        self.visible_flags == 0
    }

    /// Flag keys in stored (prerequisite) order. A client ruleset lists only its
    /// client-side flags (the prerequisites it carries for them stay hidden).
    pub fn flag_keys(&self) -> impl Iterator<Item = &str> {
        (self.body.flags.iter())
            .filter(|f| self.visible(f))
            .map(|f| self.str(f.key))
    }

    /// Whether callers may see a flag: every flag of a server ruleset, the
    /// client-side ones of a client ruleset.
    #[inline]
    pub(crate) fn visible(&self, f: &Flag) -> bool {
        self.client.is_none() || f.client_side
    }

    /// Resolves a flag key to its id; evaluating by id skips the lookup. In a
    /// client ruleset only client-side flags resolve.
    #[inline]
    pub fn flag_id(&self, key: &str) -> Option<FlagId> {
        let h = xxh3_64(key.as_bytes());
        let found = match self.by_hash.get(&h) {
            Some(&id) if eq_bytes(self.bytes(self.body.flags[id as usize].key), key.as_bytes()) => {
                Some(id)
            }
            _ => self
                .collided
                .iter()
                .copied()
                .find(|&c| self.str(self.body.flags[c as usize].key) == key),
        };
        found.filter(|&id| self.visible(&self.body.flags[id as usize]))
    }

    /// The compiled flag with this key.
    pub fn flag(&self, key: &str) -> Option<&Flag> {
        self.flag_id(key).map(|id| &self.body.flags[id as usize])
    }
}

/// Compiles the regex patterns (already known to be distinct strings of the
/// table, at most [`limits::MAX_REGEXES`]) with [`limits::compile_regex`], charging
/// each to one [`limits::RegexBudget`], so untrusted patterns cannot exhaust
/// memory at load.
fn compile_regexes(b: &Body) -> Result<Vec<CompiledRegex>, Invariant> {
    let mut regexes = Vec::with_capacity(b.regexes.len());
    let mut budget = limits::RegexBudget::default();
    for (i, &id) in b.regexes.iter().enumerate() {
        let regex = i as u32;
        let pattern = b.strings.get(id);
        let re = limits::compile_regex(pattern).map_err(|e| {
            let pattern = pattern.to_owned();
            match e {
                RegexError::TooBig(limit) => Invariant::RegexTooBig {
                    regex,
                    pattern,
                    limit,
                },
                RegexError::TooLong { len } => Invariant::RegexTooLong { regex, len },
                RegexError::Syntax(message) => Invariant::RegexSyntax {
                    regex,
                    pattern,
                    message,
                },
            }
        })?;
        budget.charge(re.cost()).map_err(|e| match e {
            BudgetError::RegexMemory { needed } => Invariant::RegexMemory { regex, needed },
            BudgetError::RegexSource { needed } => Invariant::RegexSource { regex, needed },
            // Counted before compiling (`check_regexes`); kept for completeness.
            BudgetError::TooManyRegexes => Invariant::TooManyRegexes {
                count: b.regexes.len() as u32,
            },
        })?;
        regexes.push(re);
    }
    Ok(regexes)
}

/// Checks every index and ordering invariant evaluation relies on, one step per
/// part of the body. The order matters: [`check_depths`] and [`check_costs`] rely
/// on the references the earlier steps verified.
fn check_body(b: &Body) -> Result<(), Invariant> {
    check_strings(&b.strings)?;
    check_attributes(b)?;
    check_regexes(b)?;
    check_segments(b)?;
    check_flags(b)?;
    check_depths(b)?;
    check_costs(b)?;
    check_client(b)
}

/// A client body ([`Body::client`]): its clear attributes exist and are sorted;
/// every target, include and exclude key and every `in` string on a hashed
/// attribute is a hash; operators that need clear values test clear attributes
/// only. (A server body has nothing to check here.)
fn check_client(b: &Body) -> Result<(), Invariant> {
    let Some(client) = &b.client else {
        return Ok(());
    };
    let clear = &client.clear_attributes;
    if !clear.windows(2).all(|w| w[0] < w[1])
        || clear.iter().any(|&a| a as usize >= b.attributes.len())
    {
        return Err(Invariant::ClearAttributes);
    }
    let hashes = |ids: &mut dyn Iterator<Item = StrId>, what: &'static str| {
        for id in ids {
            if !hashed::is_hash(b.strings.get(id)) {
                return Err(Invariant::NotHashed { what });
            }
        }
        Ok(())
    };
    let clause = |c: &Clause, what: &'static str| {
        if c.op.segments().is_some() || clear.binary_search(&c.attribute).is_ok() {
            return Ok(());
        }
        match &c.op {
            Op::In(set) => hashes(&mut set.strings.iter().copied(), what),
            Op::StartsWith(_) | Op::EndsWith(_) | Op::Contains(_) | Op::Matches(_) => {
                Err(Invariant::UnhashableClause {
                    what,
                    attribute: c.attribute,
                })
            }
            _ => Ok(()),
        }
    };
    for seg in &b.segments {
        hashes(&mut seg.include.iter().copied(), "segment include")?;
        hashes(&mut seg.exclude.iter().copied(), "segment exclude")?;
        for c in seg.rules.iter().flat_map(|r| &r.clauses) {
            clause(c, "segment clause")?;
        }
    }
    for f in &b.flags {
        hashes(&mut f.targets.iter().map(|t| t.key), "target key")?;
        for c in f.rules.iter().flat_map(|r| &r.clauses) {
            clause(c, "rule clause")?;
        }
    }
    Ok(())
}

/// The string table: end offsets never decrease, each falls on a character
/// boundary, and the last is the blob's length, so every string id slices the
/// blob exactly.
fn check_strings(st: &StringTable) -> Result<(), Invariant> {
    let mut prev = 0u32;
    for (i, &end) in st.ends.iter().enumerate() {
        if end < prev || !st.blob.is_char_boundary(end as usize) {
            return Err(Invariant::StringOffsets { string: i as u32 });
        }
        prev = end;
    }
    if prev as usize != st.blob.len() {
        return Err(Invariant::StringTableLength);
    }
    Ok(())
}

/// A string id names a string of the table.
fn check_string(b: &Body, id: StrId, what: &'static str) -> Result<(), Invariant> {
    if (id as usize) < b.strings.len() {
        Ok(())
    } else {
        Err(Invariant::StringOutOfRange {
            what,
            id,
            len: b.strings.len() as u32,
        })
    }
}

/// A list of strings that evaluation binary-searches names strings of the table,
/// sorted by content and without duplicates.
fn check_sorted_strings(b: &Body, ids: &[StrId], what: &'static str) -> Result<(), Invariant> {
    for &id in ids {
        check_string(b, id, what)?;
    }
    let st = &b.strings;
    if ids.windows(2).all(|w| st.get(w[0]) < st.get(w[1])) {
        Ok(())
    } else {
        Err(Invariant::UnsortedStrings { what })
    }
}

/// Attribute names are strings of the table.
fn check_attributes(b: &Body) -> Result<(), Invariant> {
    for &a in &b.attributes {
        check_string(b, a, "attribute name")?;
    }
    Ok(())
}

/// Regex patterns are at most [`limits::MAX_REGEXES`] distinct strings of the
/// table (whether they compile, and within what memory, is checked when they are
/// compiled): a pattern listed twice would be compiled and held twice.
fn check_regexes(b: &Body) -> Result<(), Invariant> {
    if b.regexes.len() > limits::MAX_REGEXES {
        return Err(Invariant::TooManyRegexes {
            count: b.regexes.len() as u32,
        });
    }
    for &r in &b.regexes {
        check_string(b, r, "regex")?;
    }
    let mut by_pattern: Vec<u32> = (0..b.regexes.len() as u32).collect();
    let pattern = |i: u32| b.strings.get(b.regexes[i as usize]);
    // Stable: of equal patterns, the first listed comes first.
    by_pattern.sort_by(|&x, &y| pattern(x).cmp(pattern(y)));
    for w in by_pattern.windows(2) {
        if pattern(w[0]) == pattern(w[1]) {
            return Err(Invariant::DuplicateRegex {
                regex: w[1],
                first: w[0],
            });
        }
    }
    Ok(())
}

/// The first value listed twice in `ids`, if any; O(n log n) for long lists.
fn first_repeat(ids: impl ExactSizeIterator<Item = u32> + Clone) -> Option<u32> {
    if ids.len() <= 16 {
        return (ids.clone().enumerate())
            .find(|&(i, id)| ids.clone().take(i).any(|x| x == id))
            .map(|(_, id)| id);
    }
    let mut sorted: Vec<u32> = ids.collect();
    sorted.sort_unstable();
    sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
}

/// Segments: the key is a string, include and exclude lists are sorted strings,
/// and every rule clause is valid, naming only segments stored before this one
/// (so segment nesting cannot loop).
fn check_segments(b: &Body) -> Result<(), Invariant> {
    for (i, seg) in b.segments.iter().enumerate() {
        check_string(b, seg.key, "segment key")?;
        check_sorted_strings(b, &seg.include, "segment include")?;
        check_sorted_strings(b, &seg.exclude, "segment exclude")?;
        for rule in &seg.rules {
            for c in &rule.clauses {
                check_clause(b, c, i, "segment clause")?;
            }
        }
    }
    Ok(())
}

/// A clause: the attribute it tests exists (`in_segment` tests none), and its
/// operator's values are valid; `segments_before` is how many segments it may
/// name (those stored before its own segment, or all for a flag's rule).
fn check_clause(
    b: &Body,
    c: &Clause,
    segments_before: usize,
    what: &'static str,
) -> Result<(), Invariant> {
    if c.op.segments().is_none() && c.attribute as usize >= b.attributes.len() {
        return Err(Invariant::AttributeOutOfRange {
            what,
            id: c.attribute,
        });
    }
    match &c.op {
        Op::In(set) => {
            check_sorted_strings(b, &set.strings, what)?;
            if set.numbers.iter().any(|n| !n.is_finite()) {
                return Err(Invariant::NotFinite { what });
            }
            if !set.numbers.windows(2).all(|w| w[0] < w[1]) {
                return Err(Invariant::UnsortedNumbers { what });
            }
        }
        Op::StartsWith(v) | Op::EndsWith(v) | Op::Contains(v) => {
            for &id in v {
                check_string(b, id, what)?;
            }
        }
        Op::Matches(v) => {
            if let Some(&id) = v.iter().find(|&&r| r as usize >= b.regexes.len()) {
                return Err(Invariant::RegexOutOfRange { what, id });
            }
        }
        Op::Lt(n) | Op::Lte(n) | Op::Gt(n) | Op::Gte(n) => {
            if !n.is_finite() {
                return Err(Invariant::NotFinite { what });
            }
        }
        Op::SemverEq(v) => {
            for sv in v {
                check_semver(b, sv, what)?;
            }
        }
        Op::SemverLt(sv) | Op::SemverGt(sv) => check_semver(b, sv, what)?,
        Op::Before(_) | Op::After(_) => {}
        Op::InSegment(v) => {
            for &seg in v {
                if seg as usize >= segments_before {
                    return Err(Invariant::SegmentNotBefore { what, segment: seg });
                }
            }
            if let Some(segment) = first_repeat(v.iter().copied()) {
                return Err(Invariant::DuplicateSegment { what, segment });
            }
        }
    }
    Ok(())
}

/// A SemVer value's pre-release, if any, is a string of the table.
fn check_semver(b: &Body, sv: &Semver, what: &'static str) -> Result<(), Invariant> {
    match sv.pre {
        Some(p) => check_string(b, p, what),
        None => Ok(()),
    }
}

/// Flags, each on its own (see [`check_flag`]).
fn check_flags(b: &Body) -> Result<(), Invariant> {
    for (i, f) in b.flags.iter().enumerate() {
        check_flag(b, i as FlagId, f)?;
    }
    Ok(())
}

/// One flag, stored at `flag`: the key is a string, variations are valid, the off
/// variation exists, prerequisites and targets are valid, and every rule (id,
/// clauses, serve) and the fallthrough are valid.
fn check_flag(b: &Body, flag: FlagId, f: &Flag) -> Result<(), Invariant> {
    check_string(b, f.key, "flag key")?;
    check_variations(b, flag, f)?;
    check_variation_index(flag, f, f.off_variation)?;
    check_prerequisites(b, flag, f)?;
    check_targets(b, flag, f)?;
    for r in &f.rules {
        if let Some(id) = r.id {
            check_string(b, id, "rule id")?;
        }
        for c in &r.clauses {
            check_clause(b, c, b.segments.len(), "rule clause")?;
        }
        check_serve(b, flag, f, &r.serve)?;
    }
    check_serve(b, flag, f, &f.fallthrough)
}

/// A flag has at least one variation; each is named by a string and holds a value
/// of the flag's type: a string of the table or a finite number.
fn check_variations(b: &Body, flag: FlagId, f: &Flag) -> Result<(), Invariant> {
    if f.variations.is_empty() {
        return Err(Invariant::NoVariations { flag });
    }
    for (variation, v) in f.variations.iter().enumerate() {
        check_string(b, v.name, "variation name")?;
        if v.value.kind() != f.kind {
            return Err(Invariant::VariationKindMismatch {
                flag,
                variation: variation as VariationId,
            });
        }
        match v.value {
            Value::String(id) | Value::Json(id) => check_string(b, id, "variation value")?,
            Value::Number(n) => {
                if !n.is_finite() {
                    return Err(Invariant::NotFinite {
                        what: "variation value",
                    });
                }
            }
            Value::Bool(_) => {}
        }
    }
    Ok(())
}

/// A variation index names one of the variations of `f`, stored at `flag`.
fn check_variation_index(flag: FlagId, f: &Flag, v: VariationId) -> Result<(), Invariant> {
    if (v as usize) < f.variations.len() {
        Ok(())
    } else {
        Err(Invariant::VariationOutOfRange { flag, variation: v })
    }
}

/// Prerequisites of the flag stored at `flag` name flags stored before it (so
/// prerequisite chains cannot loop), each once, and their accepted variations
/// exist in the prerequisite flag and are sorted without duplicates.
fn check_prerequisites(b: &Body, flag: FlagId, f: &Flag) -> Result<(), Invariant> {
    for p in &f.prerequisites {
        if p.flag >= flag {
            return Err(Invariant::PrerequisiteNotBefore {
                flag,
                prerequisite: p.flag,
            });
        }
        let pf = &b.flags[p.flag as usize];
        for &v in &p.variations {
            check_variation_index(p.flag, pf, v)?;
        }
        if !p.variations.windows(2).all(|w| w[0] < w[1]) {
            return Err(Invariant::UnsortedPrerequisiteVariations {
                flag,
                prerequisite: p.flag,
            });
        }
    }
    if let Some(prerequisite) = first_repeat(f.prerequisites.iter().map(|p| p.flag)) {
        return Err(Invariant::DuplicatePrerequisite { flag, prerequisite });
    }
    Ok(())
}

/// Targets: each key is a string of the table mapped to a variation of the flag,
/// and keys are sorted by content without duplicates (evaluation binary-searches
/// them).
fn check_targets(b: &Body, flag: FlagId, f: &Flag) -> Result<(), Invariant> {
    for t in &f.targets {
        check_string(b, t.key, "target")?;
        check_variation_index(flag, f, t.variation)?;
    }
    let st = &b.strings;
    if f.targets
        .windows(2)
        .all(|w| st.get(w[0].key) < st.get(w[1].key))
    {
        Ok(())
    } else {
        Err(Invariant::UnsortedTargets { flag })
    }
}

/// What a rule or the fallthrough serves: a variation of the flag, or a rollout
/// that buckets by an existing attribute, is salted by a string, and has slices of
/// existing variations whose cumulative bounds never decrease and end at
/// [`BUCKETS`] (so every bucket falls in a slice).
fn check_serve(b: &Body, flag: FlagId, f: &Flag, sv: &Serve) -> Result<(), Invariant> {
    match sv {
        Serve::Variation(v) => check_variation_index(flag, f, *v),
        Serve::Rollout(r) => {
            if r.bucket_by as usize >= b.attributes.len() {
                return Err(Invariant::AttributeOutOfRange {
                    what: "rollout",
                    id: r.bucket_by,
                });
            }
            check_string(b, r.salt, "rollout salt")?;
            let mut prev = 0;
            for sl in &r.slices {
                check_variation_index(flag, f, sl.variation)?;
                if sl.upper < prev {
                    return Err(Invariant::RolloutNotCumulative { flag });
                }
                prev = sl.upper;
            }
            if prev != BUCKETS {
                return Err(Invariant::RolloutIncomplete { flag, upper: prev });
            }
            Ok(())
        }
    }
}

/// Segment nesting (through `in_segment`) and prerequisite chains are at most
/// [`MAX_DEPTH`] deep, which bounds evaluation's recursion. Runs after
/// [`check_segments`] and [`check_flags`]: every segment a segment names and every
/// prerequisite is stored before the one naming it, so depths are known when
/// needed and every index is in range.
fn check_depths(b: &Body) -> Result<(), Invariant> {
    let mut seg_depth = Vec::with_capacity(b.segments.len());
    for (i, seg) in b.segments.iter().enumerate() {
        let mut d = 0;
        for c in seg.rules.iter().flat_map(|r| &r.clauses) {
            for &s in c.op.segments().unwrap_or_default() {
                d = d.max(seg_depth[s as usize]);
            }
        }
        if d + 1 > MAX_DEPTH {
            return Err(Invariant::SegmentsTooDeep {
                segment: i as SegmentId,
            });
        }
        seg_depth.push(d + 1);
    }
    let mut flag_depth = Vec::with_capacity(b.flags.len());
    for (i, f) in b.flags.iter().enumerate() {
        let mut d = 0;
        for p in &f.prerequisites {
            d = d.max(flag_depth[p.flag as usize]);
        }
        if d + 1 > MAX_DEPTH {
            return Err(Invariant::PrerequisitesTooDeep { flag: i as FlagId });
        }
        flag_depth.push(d + 1);
    }
    Ok(())
}

/// No segment and no flag may take more than [`limits::MAX_EVAL_COST`] steps to
/// evaluate ([`limits::costs`], the count the compiler applies too): depth alone
/// does not bound the work, since evaluation repeats a prerequisite or segment at
/// every use. Runs after [`check_segments`] and [`check_flags`], so every
/// reference points to an earlier entry and one pass suffices.
fn check_costs(b: &Body) -> Result<(), Invariant> {
    let costs = limits::costs(b);
    if let Some((i, &cost)) =
        (costs.segments.iter().enumerate()).find(|&(_, &c)| c > limits::MAX_EVAL_COST)
    {
        return Err(Invariant::SegmentTooCostly {
            segment: i as SegmentId,
            cost,
        });
    }
    if let Some((i, &cost)) =
        (costs.flags.iter().enumerate()).find(|&(_, &c)| c > limits::MAX_EVAL_COST)
    {
        return Err(Invariant::FlagTooCostly {
            flag: i as FlagId,
            cost,
        });
    }
    Ok(())
}
