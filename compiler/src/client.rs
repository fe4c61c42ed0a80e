//! Client rulesets: what browsers download instead of the server ruleset.
//!
//! [`client_body`] derives one from an environment's compiled (server) body:
//!
//! - only the flags marked `client_side`, with the flags they name as
//!   prerequisites (evaluation needs those; they stay unmarked, so client SDKs
//!   list and serve only the marked ones) and the segments they reach;
//! - every target key, segment include and exclude key, and the string values of
//!   `in` clauses on attributes not declared clear, replaced by salted hashes
//!   ([`edgeflag_evaluator::hashed`]); the evaluator hashes the context's value to
//!   compare, so answers equal the server ruleset's;
//! - `starts_with`, `ends_with`, `contains` and `matches` compare parts of a
//!   value, which a hash cannot: on a hashed attribute they are refused
//!   ([`ClientError::NeedsClearValues`]). Attributes listed in the source's
//!   `client_side.clear_attributes` keep their values in clear, for every
//!   operator.
//!
//! It is published as its own environment, [`client_environment`]
//! (`production.client` for `production`), with its own versions and event
//! stream, so a change that no browser sees does not make browsers download.
//!
//! ```
//! use edgeflag_compiler::{client, compile_sources};
//! use edgeflag_evaluator::{format, Context, Ruleset};
//!
//! let src = r#"
//! flags:
//!   beta-banner:
//!     client_side: true
//!     targets: {on: [alice@example.com]}
//!     fallthrough: off
//!   server-only: {}
//! "#;
//! let env = &compile_sources(&[("flags.yaml".into(), src.into())]).unwrap()[0];
//! let body = env.client.as_ref().unwrap();
//! assert_eq!(body.flags.len(), 1);
//! assert!(!body.strings.blob.contains("alice"));
//! let name = client::client_environment(&env.name);
//! let bytes = format::encode(body, &format::EncodeOptions::unpublished(&name)).unwrap();
//! let rs = Ruleset::from_bytes(&bytes).unwrap();
//! assert!(rs.bool_value("beta-banner", &Context::new("alice@example.com"), false));
//! assert!(!rs.bool_value("beta-banner", &Context::new("bob@example.com"), true));
//! ```

use crate::fxhash::FxHashMap as HashMap;
use edgeflag_evaluator::hashed;
use edgeflag_evaluator::model::{
    AttrId, Body, Clause, ClientSide, Flag, InSet, Op, Prerequisite, Rollout, Rule, Segment,
    SegmentRule, Semver, Serve, StrId, StringTable, Target, Value, Variation,
};
use thiserror::Error;

/// What a client environment's name ends with.
pub const CLIENT_SUFFIX: &str = ".client";

/// The environment a client ruleset of `env` is published as: `env` +
/// [`CLIENT_SUFFIX`].
///
/// ```
/// assert_eq!(edgeflag_compiler::client::client_environment("production"), "production.client");
/// ```
pub fn client_environment(env: &str) -> String {
    format!("{env}{CLIENT_SUFFIX}")
}

/// Where a refused clause is, in the server body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A flag's rule.
    Flag {
        /// Position in the server body's flags.
        index: usize,
        /// Its key.
        key: String,
    },
    /// A segment's rule.
    Segment {
        /// Position in the server body's segments.
        index: usize,
        /// Its key.
        key: String,
    },
}

/// Why a client ruleset cannot be derived.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// A clause a client-side flag reaches compares parts of a value on an
    /// attribute whose values a client ruleset stores hashed.
    #[error(
        "`{op}` on attribute {attribute:?} cannot be evaluated on hashed values in the \
         client ruleset; list {attribute:?} under `client_side.clear_attributes` to \
         publish its values in clear, or use `in`"
    )]
    NeedsClearValues {
        /// The flag or segment.
        owner: Owner,
        /// Rule position (0-based).
        rule: usize,
        /// Clause position in the rule (0-based).
        clause: usize,
        /// The operator's source name.
        op: &'static str,
        /// The attribute.
        attribute: String,
    },
    /// Two different keys or values hash alike (probability about 2^-128 per
    /// pair; reported rather than served wrong).
    #[error("two values have the same hash in the client ruleset")]
    HashCollision,
}

/// The client ruleset of `server` (see the module docs); `clear_attributes`
/// names the attributes whose values stay in clear.
pub fn client_body(server: &Body, clear_attributes: &[String]) -> Result<Body, ClientError> {
    let reach = Reach::of(server);
    if let Some(e) = refusals_in(server, &reach, clear_attributes)
        .into_iter()
        .next()
    {
        return Err(e);
    }
    let content = Rebuild::new(server, &reach, clear_attributes, None).body()?;
    let salt = hashed::salt_for(&content);
    Rebuild::new(server, &reach, clear_attributes, Some(salt)).body()
}

/// Which flags and segments of the server body the client ruleset keeps.
struct Reach {
    flags: Vec<bool>,
    segments: Vec<bool>,
}

impl Reach {
    fn of(b: &Body) -> Reach {
        let mut flags: Vec<bool> = b.flags.iter().map(|f| f.client_side).collect();
        // Prerequisites are stored before the flags naming them.
        for i in (0..b.flags.len()).rev() {
            if flags[i] {
                for p in &b.flags[i].prerequisites {
                    flags[p.flag as usize] = true;
                }
            }
        }
        let mut segments = vec![false; b.segments.len()];
        let mark = |clauses: &mut dyn Iterator<Item = &Clause>, segments: &mut [bool]| {
            for c in clauses {
                for &s in c.op.segments().unwrap_or_default() {
                    segments[s as usize] = true;
                }
            }
        };
        for (f, _) in b.flags.iter().zip(&flags).filter(|(_, &keep)| keep) {
            mark(&mut f.rules.iter().flat_map(|r| &r.clauses), &mut segments);
        }
        // Segments are stored after those they reference.
        for i in (0..b.segments.len()).rev() {
            if segments[i] {
                let seg = &b.segments[i];
                mark(
                    &mut seg.rules.iter().flat_map(|r| &r.clauses),
                    &mut segments,
                );
            }
        }
        Reach { flags, segments }
    }
}

/// Every clause a client ruleset of `server` would have to refuse (see
/// [`ClientError::NeedsClearValues`]), segments first, each in stored order.
pub fn refusals(server: &Body, clear_attributes: &[String]) -> Vec<ClientError> {
    refusals_in(server, &Reach::of(server), clear_attributes)
}

fn refusals_in(b: &Body, reach: &Reach, clear: &[String]) -> Vec<ClientError> {
    let mut out = Vec::new();
    let mut check = |owner: &dyn Fn() -> Owner, rules: &mut dyn Iterator<Item = &[Clause]>| {
        for (rule, clauses) in rules.enumerate() {
            for (clause, c) in clauses.iter().enumerate() {
                let op = match c.op {
                    Op::StartsWith(_) => "starts_with",
                    Op::EndsWith(_) => "ends_with",
                    Op::Contains(_) => "contains",
                    Op::Matches(_) => "matches",
                    _ => continue,
                };
                let attribute = b.strings.get(b.attributes[c.attribute as usize]);
                if !clear.iter().any(|a| a == attribute) {
                    out.push(ClientError::NeedsClearValues {
                        owner: owner(),
                        rule,
                        clause,
                        op,
                        attribute: attribute.to_owned(),
                    });
                }
            }
        }
    };
    for (index, seg) in b.segments.iter().enumerate() {
        if reach.segments[index] {
            let key = || b.strings.get(seg.key).to_owned();
            let owner = || Owner::Segment { index, key: key() };
            check(&owner, &mut seg.rules.iter().map(|r| &r.clauses[..]));
        }
    }
    for (index, f) in b.flags.iter().enumerate() {
        if reach.flags[index] {
            let key = || b.strings.get(f.key).to_owned();
            let owner = || Owner::Flag { index, key: key() };
            check(&owner, &mut f.rules.iter().map(|r| &r.clauses[..]));
        }
    }
    out
}

/// Builds the client body: the kept flags and segments with fresh string,
/// attribute and regex tables; with a salt, keys and values hashed.
struct Rebuild<'a> {
    src: &'a Body,
    reach: &'a Reach,
    clear: &'a [String],
    salt: Option<[u8; hashed::SALT_LEN]>,
    table: StringTable,
    ids: HashMap<String, StrId>,
    attributes: Vec<StrId>,
    attr_ids: HashMap<AttrId, AttrId>,
    regexes: Vec<StrId>,
    regex_ids: HashMap<u32, u32>,
    segment_ids: Vec<u32>,
    flag_ids: Vec<u32>,
}

impl<'a> Rebuild<'a> {
    fn new(
        src: &'a Body,
        reach: &'a Reach,
        clear: &'a [String],
        salt: Option<[u8; hashed::SALT_LEN]>,
    ) -> Rebuild<'a> {
        let positions = |keep: &[bool]| {
            let mut next = 0;
            keep.iter()
                .map(|&k| {
                    let id = next;
                    next += u32::from(k);
                    id
                })
                .collect()
        };
        Rebuild {
            src,
            reach,
            clear,
            salt,
            table: StringTable::default(),
            ids: HashMap::default(),
            attributes: Vec::new(),
            attr_ids: HashMap::default(),
            regexes: Vec::new(),
            regex_ids: HashMap::default(),
            segment_ids: positions(&reach.segments),
            flag_ids: positions(&reach.flags),
        }
    }

    fn intern(&mut self, s: &str) -> StrId {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.table.ends.len() as StrId;
        self.table.blob.push_str(s);
        self.table.ends.push(self.table.blob.len() as u32);
        self.ids.insert(s.to_owned(), id);
        id
    }

    /// A string kept as it is.
    fn str(&mut self, id: StrId) -> StrId {
        let src = self.src;
        self.intern(src.strings.get(id))
    }

    /// Keys or values stored hashed (once a salt is known), sorted by content.
    fn hashed(&mut self, ids: &[StrId]) -> Result<Vec<StrId>, ClientError> {
        let mut out: Vec<StrId> = ids.iter().map(|&id| self.hashed_one(id)).collect();
        let t = &self.table;
        out.sort_by(|&a, &b| t.get(a).cmp(t.get(b)));
        if out.windows(2).any(|w| w[0] == w[1]) {
            return Err(ClientError::HashCollision);
        }
        Ok(out)
    }

    fn hashed_one(&mut self, id: StrId) -> StrId {
        let src = self.src;
        match &self.salt {
            Some(salt) => {
                let h = hashed::hash(salt, src.strings.get(id).as_bytes());
                self.intern(h.as_str())
            }
            None => self.intern(src.strings.get(id)),
        }
    }

    fn strs(&mut self, ids: &[StrId]) -> Vec<StrId> {
        ids.iter().map(|&id| self.str(id)).collect()
    }

    fn attr(&mut self, a: AttrId) -> AttrId {
        if let Some(&n) = self.attr_ids.get(&a) {
            return n;
        }
        let name = self.str(self.src.attributes[a as usize]);
        let n = self.attributes.len() as AttrId;
        self.attributes.push(name);
        self.attr_ids.insert(a, n);
        n
    }

    fn is_clear(&self, a: AttrId) -> bool {
        let name = self.src.strings.get(self.src.attributes[a as usize]);
        self.clear.iter().any(|c| c == name)
    }

    fn regex(&mut self, r: u32) -> u32 {
        if let Some(&n) = self.regex_ids.get(&r) {
            return n;
        }
        let pattern = self.str(self.src.regexes[r as usize]);
        let n = self.regexes.len() as u32;
        self.regexes.push(pattern);
        self.regex_ids.insert(r, n);
        n
    }

    fn semver(&mut self, v: &Semver) -> Semver {
        Semver {
            pre: v.pre.map(|p| self.str(p)),
            ..v.clone()
        }
    }

    fn clause(&mut self, c: &Clause) -> Result<Clause, ClientError> {
        if let Op::InSegment(v) = &c.op {
            let segs = v.iter().map(|&s| self.segment_ids[s as usize]).collect();
            return Ok(Clause {
                attribute: 0,
                negate: c.negate,
                op: Op::InSegment(segs),
            });
        }
        let attribute = self.attr(c.attribute);
        let op = match &c.op {
            Op::In(set) => Op::In(InSet {
                strings: if self.is_clear(c.attribute) {
                    self.strs(&set.strings)
                } else {
                    self.hashed(&set.strings)?
                },
                ..set.clone()
            }),
            Op::StartsWith(v) => Op::StartsWith(self.strs(v)),
            Op::EndsWith(v) => Op::EndsWith(self.strs(v)),
            Op::Contains(v) => Op::Contains(self.strs(v)),
            Op::Matches(v) => Op::Matches(v.iter().map(|&r| self.regex(r)).collect()),
            Op::SemverEq(v) => Op::SemverEq(v.iter().map(|s| self.semver(s)).collect()),
            Op::SemverLt(s) => Op::SemverLt(self.semver(s)),
            Op::SemverGt(s) => Op::SemverGt(self.semver(s)),
            op @ (Op::Lt(_)
            | Op::Lte(_)
            | Op::Gt(_)
            | Op::Gte(_)
            | Op::Before(_)
            | Op::After(_)
            | Op::InSegment(_)) => op.clone(),
        };
        Ok(Clause {
            attribute,
            negate: c.negate,
            op,
        })
    }

    fn clauses(&mut self, cs: &[Clause]) -> Result<Vec<Clause>, ClientError> {
        cs.iter().map(|c| self.clause(c)).collect()
    }

    fn serve(&mut self, s: &Serve) -> Serve {
        match s {
            Serve::Variation(v) => Serve::Variation(*v),
            Serve::Rollout(r) => Serve::Rollout(Rollout {
                bucket_by: self.attr(r.bucket_by),
                salt: self.str(r.salt),
                slices: r.slices.clone(),
            }),
        }
    }

    fn segment(&mut self, s: &Segment) -> Result<Segment, ClientError> {
        Ok(Segment {
            key: self.str(s.key),
            include: self.hashed(&s.include)?,
            exclude: self.hashed(&s.exclude)?,
            rules: (s.rules.iter())
                .map(|r| {
                    Ok(SegmentRule {
                        clauses: self.clauses(&r.clauses)?,
                    })
                })
                .collect::<Result<_, ClientError>>()?,
        })
    }

    fn flag(&mut self, f: &Flag) -> Result<Flag, ClientError> {
        let key = self.str(f.key);
        let variations = (f.variations.iter())
            .map(|v| Variation {
                name: self.str(v.name),
                value: match v.value {
                    Value::String(id) => Value::String(self.str(id)),
                    Value::Json(id) => Value::Json(self.str(id)),
                    ref other => other.clone(),
                },
            })
            .collect();
        let prerequisites = (f.prerequisites.iter())
            .map(|p| Prerequisite {
                flag: self.flag_ids[p.flag as usize],
                variations: p.variations.clone(),
            })
            .collect();
        let mut targets: Vec<Target> = (f.targets.iter())
            .map(|t| Target {
                key: self.hashed_one(t.key),
                variation: t.variation,
            })
            .collect();
        let t = &self.table;
        targets.sort_by(|a, b| t.get(a.key).cmp(t.get(b.key)));
        if targets.windows(2).any(|w| w[0].key == w[1].key) {
            return Err(ClientError::HashCollision);
        }
        let rules = (f.rules.iter())
            .map(|r| {
                Ok(Rule {
                    id: r.id.map(|id| self.str(id)),
                    clauses: self.clauses(&r.clauses)?,
                    serve: self.serve(&r.serve),
                })
            })
            .collect::<Result<_, ClientError>>()?;
        Ok(Flag {
            key,
            kind: f.kind,
            variations,
            enabled: f.enabled,
            off_variation: f.off_variation,
            prerequisites,
            targets,
            rules,
            fallthrough: self.serve(&f.fallthrough),
            client_side: f.client_side,
        })
    }

    fn body(mut self) -> Result<Body, ClientError> {
        let src = self.src;
        let mut segments = Vec::new();
        for (s, _) in src
            .segments
            .iter()
            .zip(&self.reach.segments)
            .filter(|(_, &k)| k)
        {
            segments.push(self.segment(s)?);
        }
        let mut flags = Vec::new();
        for (f, _) in src.flags.iter().zip(&self.reach.flags).filter(|(_, &k)| k) {
            flags.push(self.flag(f)?);
        }
        let mut clear_attributes: Vec<AttrId> = (self.attr_ids.iter())
            .filter(|(&old, _)| self.is_clear(old))
            .map(|(_, &new)| new)
            .collect();
        clear_attributes.sort_unstable();
        Ok(Body {
            strings: self.table,
            attributes: self.attributes,
            regexes: self.regexes,
            segments,
            flags,
            client: Some(ClientSide {
                salt: self.salt.unwrap_or_default(),
                clear_attributes,
            }),
        })
    }
}
