//! Lowering: one environment's view of the checked model into a
//! [`Body`], with every string interned once.

use crate::check::ir::{ClauseIr, Model, OpIr, SemverIr, ServeIr, ValIr};
use crate::check::Orders;
use crate::fxhash::FxHashMap as HashMap;
use edgeflag_evaluator::model::{
    AttrId, Body, Clause, Flag, InSet, Op, Prerequisite, Rollout, Rule, Segment, SegmentRule,
    Semver, Serve, Slice, StrId, StringTable, Target, Value, Variation,
};

/// Builds a [`StringTable`], giving each distinct string one id.
#[derive(Default)]
struct Interner<'m> {
    table: StringTable,
    ids: HashMap<&'m str, StrId>,
}

impl<'m> Interner<'m> {
    fn id(&mut self, s: &'m str) -> StrId {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.table.ends.len() as StrId;
        self.table.blob.push_str(s);
        self.table.ends.push(self.table.blob.len() as u32);
        self.ids.insert(s, id);
        id
    }
}

struct Lowerer<'m> {
    model: &'m Model,
    strings: Interner<'m>,
    attributes: Vec<StrId>,
    attr_ids: HashMap<StrId, AttrId>,
    regexes: Vec<StrId>,
    regex_ids: HashMap<StrId, u32>,
    segment_ids: Vec<u32>,
}

impl<'m> Lowerer<'m> {
    fn attr(&mut self, name: &'m str) -> AttrId {
        let s = self.strings.id(name);
        if let Some(&a) = self.attr_ids.get(&s) {
            return a;
        }
        let a = self.attributes.len() as AttrId;
        self.attributes.push(s);
        self.attr_ids.insert(s, a);
        a
    }

    fn regex(&mut self, pattern: &'m str) -> u32 {
        let s = self.strings.id(pattern);
        if let Some(&r) = self.regex_ids.get(&s) {
            return r;
        }
        let r = self.regexes.len() as u32;
        self.regexes.push(s);
        self.regex_ids.insert(s, r);
        r
    }

    fn strs(&mut self, v: &'m [String]) -> Vec<StrId> {
        v.iter().map(|s| self.strings.id(s)).collect()
    }

    fn semver(&mut self, v: &'m SemverIr) -> Semver {
        Semver {
            major: v.major,
            minor: v.minor,
            patch: v.patch,
            pre: v.pre.as_deref().map(|p| self.strings.id(p)),
        }
    }

    fn clause(&mut self, c: &'m ClauseIr) -> Clause {
        let attribute = match &c.attribute {
            Some(a) => self.attr(a),
            None => 0,
        };
        let op = match &c.op {
            OpIr::In {
                strings,
                numbers,
                has_true,
                has_false,
            } => Op::In(InSet {
                strings: self.strs(strings),
                numbers: numbers.clone(),
                has_true: *has_true,
                has_false: *has_false,
            }),
            OpIr::StartsWith(v) => Op::StartsWith(self.strs(v)),
            OpIr::EndsWith(v) => Op::EndsWith(self.strs(v)),
            OpIr::Contains(v) => Op::Contains(self.strs(v)),
            OpIr::Matches(v) => Op::Matches(v.iter().map(|p| self.regex(p)).collect()),
            OpIr::Lt(n) => Op::Lt(*n),
            OpIr::Lte(n) => Op::Lte(*n),
            OpIr::Gt(n) => Op::Gt(*n),
            OpIr::Gte(n) => Op::Gte(*n),
            OpIr::SemverEq(v) => Op::SemverEq(v.iter().map(|s| self.semver(s)).collect()),
            OpIr::SemverLt(s) => Op::SemverLt(self.semver(s)),
            OpIr::SemverGt(s) => Op::SemverGt(self.semver(s)),
            OpIr::Before(t) => Op::Before(*t),
            OpIr::After(t) => Op::After(*t),
            OpIr::InSegment(v) => Op::InSegment(v.iter().map(|&s| self.segment_ids[s]).collect()),
        };
        Clause {
            attribute,
            negate: c.negate,
            op,
        }
    }

    fn serve(&mut self, s: &'m ServeIr) -> Serve {
        match s {
            ServeIr::Variation(v) => Serve::Variation(*v),
            ServeIr::Rollout {
                bucket_by,
                salt,
                slices,
            } => Serve::Rollout(Rollout {
                bucket_by: self.attr(bucket_by),
                salt: self.strings.id(salt),
                slices: slices
                    .iter()
                    .map(|&(upper, variation)| Slice { upper, variation })
                    .collect(),
            }),
        }
    }
}

/// Lowers environment `env` of a checked, error-free model.
pub fn lower(model: &Model, orders: &Orders, env: usize) -> Body {
    let mut l = Lowerer {
        model,
        strings: Interner::default(),
        attributes: Vec::new(),
        attr_ids: HashMap::default(),
        regexes: Vec::new(),
        regex_ids: HashMap::default(),
        segment_ids: vec![0; model.segments.len()],
    };
    for (pos, &i) in orders.segments.iter().enumerate() {
        l.segment_ids[i] = pos as u32;
    }
    let mut segments = Vec::with_capacity(model.segments.len());
    for &i in &orders.segments {
        let s = &l.model.segments[i];
        segments.push(Segment {
            key: l.strings.id(&s.key),
            include: l.strs(&s.include),
            exclude: l.strs(&s.exclude),
            rules: s
                .rules
                .iter()
                .map(|r| SegmentRule {
                    clauses: r.iter().map(|c| l.clause(c)).collect(),
                })
                .collect(),
        });
    }

    let order = &orders.flags[env];
    let mut flag_ids = vec![0u32; model.flags.len()];
    for (pos, &i) in order.iter().enumerate() {
        flag_ids[i] = pos as u32;
    }
    let mut flags = Vec::with_capacity(order.len());
    for &i in order {
        let f = &model.flags[i];
        let v = f.view(env);
        let key = l.strings.id(&f.key);
        let variations = f
            .variations
            .iter()
            .map(|(name, value)| Variation {
                name: l.strings.id(name),
                value: match value {
                    ValIr::Bool(b) => Value::Bool(*b),
                    ValIr::Number(n) => Value::Number(*n),
                    ValIr::String(s) => Value::String(l.strings.id(s)),
                    ValIr::Json(s) => Value::Json(l.strings.id(s)),
                },
            })
            .collect();
        let prerequisites = v
            .prereqs
            .iter()
            .map(|p| Prerequisite {
                flag: flag_ids[p.edge.to],
                variations: p.variations.clone(),
            })
            .collect();
        let targets = v
            .targets
            .iter()
            .map(|(k, var)| Target {
                key: l.strings.id(k),
                variation: *var,
            })
            .collect();
        let rules = v
            .rules
            .iter()
            .map(|r| Rule {
                id: r.id.as_deref().map(|id| l.strings.id(id)),
                clauses: r.clauses.iter().map(|c| l.clause(c)).collect(),
                serve: l.serve(&r.serve),
            })
            .collect();
        let fallthrough = l.serve(v.fallthrough);
        flags.push(Flag {
            key,
            kind: f.kind,
            variations,
            enabled: v.enabled,
            off_variation: v.off,
            prerequisites,
            targets,
            rules,
            fallthrough,
            client_side: f.client_side,
        });
    }
    Body {
        strings: l.strings.table,
        attributes: l.attributes,
        regexes: l.regexes,
        segments,
        flags,
        client: None,
    }
}
