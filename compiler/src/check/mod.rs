//! Semantic checks: merges files, resolves every name (variations, flags,
//! segments, environments), checks value types, and finds cycles and over-deep
//! nesting. Produces the checked [`ir::Model`].

mod clause;
pub mod graph;
pub mod ir;

use crate::diagnostics::{Diagnostic, Pos, Sink};
use crate::fxhash::FxHashMap as HashMap;
use crate::source::schema::{EnvFields, Field, FlagSrc, ServeSrc, SourceFile, Spanned};
use crate::source::yaml::{Key, Node, Value};
use edgeflag_evaluator::model::ValueKind;
use edgeflag_evaluator::MAX_DEPTH;
use graph::HasEdge;
use ir::{EnvIr, FlagIr, Model, PartialEnvIr, PrereqIr, RuleIr, SegmentIr, ServeIr, ValIr};
use std::collections::BTreeMap;
use std::rc::Rc;

impl HasEdge for PrereqIr {
    fn edge(&self) -> &ir::Edge {
        &self.edge
    }
}

/// Storage orders: segments, and flags per environment.
#[derive(Debug, Default)]
pub struct Orders {
    /// Segment indexes, each after the segments it references.
    pub segments: Vec<usize>,
    /// Per environment, flag indexes, each after its prerequisites.
    pub flags: Vec<Vec<usize>>,
}

/// Where a thing was first defined, relative to the file of the current error.
fn place(files: &[String], file: usize, pos: Pos, current: usize) -> String {
    if file == current {
        pos.to_string()
    } else {
        format!("{}:{pos}", files[file])
    }
}

fn quoted_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

struct FlagDef<'a> {
    file: usize,
    key: &'a Key,
    src: &'a FlagSrc,
}

/// A flag's type and its variations.
type Typed = (ValueKind, Rc<Vec<(String, ValIr)>>);

/// Variations of every flag (`None` when invalid: already reported).
type Variations = Vec<Option<Typed>>;

struct Checker<'a> {
    files: &'a [String],
    out: &'a mut Vec<Diagnostic>,
    env_index: HashMap<&'a str, usize>,
    envs_declared: bool,
    flag_index: HashMap<&'a str, usize>,
    variations: Variations,
}

impl Checker<'_> {
    fn sink(&mut self, file: usize) -> Sink<'_> {
        Sink {
            file: &self.files[file],
            out: self.out,
        }
    }

    fn error(&mut self, file: usize, pos: Pos, ctx: &str, msg: impl Into<String>) {
        self.sink(file).error(pos, ctx, msg);
    }
}

/// Merges and checks parsed files. Errors go to `out`.
pub fn build(files: Vec<String>, sources: &[SourceFile], out: &mut Vec<Diagnostic>) -> Model {
    // Environments.
    let mut env_index: HashMap<&str, usize> = HashMap::default();
    let mut env_first: Vec<(usize, Pos)> = Vec::new();
    let mut envs: Vec<String> = Vec::new();
    for (fi, src) in sources.iter().enumerate() {
        for e in &src.environments {
            if let Some(&i) = env_index.get(e.value.as_str()) {
                let (ff, fp) = env_first[i];
                let msg = format!(
                    "duplicate environment {:?} (first declared at {})",
                    e.value,
                    place(&files, ff, fp, fi)
                );
                out.push(Diagnostic::new(
                    &files[fi],
                    Some(e.pos),
                    "environments",
                    msg,
                ));
                continue;
            }
            env_index.insert(&e.value, envs.len());
            env_first.push((fi, e.pos));
            envs.push(e.value.clone());
        }
    }
    let envs_declared = !envs.is_empty();
    if !envs_declared {
        envs.push("default".to_owned());
    }

    // Segment and flag keys.
    let mut seg_index: HashMap<&str, usize> = HashMap::default();
    let mut seg_defs = Vec::new();
    let mut flag_index: HashMap<&str, usize> = HashMap::default();
    let mut flag_defs: Vec<FlagDef<'_>> = Vec::new();
    for (fi, src) in sources.iter().enumerate() {
        for (k, s) in &src.segments {
            if let Some(&i) = seg_index.get(k.name.as_str()) {
                let (ff, fk, _) = seg_defs[i];
                let fk: &Key = fk;
                let msg = format!(
                    "segment {:?} is defined twice (first at {})",
                    k.name,
                    place(&files, ff, fk.pos, fi)
                );
                out.push(Diagnostic::new(
                    &files[fi],
                    Some(k.pos),
                    format!("segment {:?}", k.name),
                    msg,
                ));
                continue;
            }
            seg_index.insert(&k.name, seg_defs.len());
            seg_defs.push((fi, k, s));
        }
        for (k, f) in &src.flags {
            if let Some(&i) = flag_index.get(k.name.as_str()) {
                let first: &FlagDef<'_> = &flag_defs[i];
                let msg = format!(
                    "flag {:?} is defined twice (first at {})",
                    k.name,
                    place(&files, first.file, first.key.pos, fi)
                );
                out.push(Diagnostic::new(
                    &files[fi],
                    Some(k.pos),
                    format!("flag {:?}", k.name),
                    msg,
                ));
                continue;
            }
            flag_index.insert(&k.name, flag_defs.len());
            flag_defs.push(FlagDef {
                file: fi,
                key: k,
                src: f,
            });
        }
    }

    // Segments.
    let mut segments = Vec::with_capacity(seg_defs.len());
    for &(fi, k, s) in &seg_defs {
        let mut sink = Sink {
            file: &files[fi],
            out,
        };
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort_unstable();
            v.dedup();
            v
        };
        let mut refs = Vec::new();
        let rules = s
            .rules
            .iter()
            .map(|r| {
                r.iter()
                    .filter_map(|c| clause::check(c, &seg_index, &mut refs, &mut sink))
                    .collect()
            })
            .collect();
        segments.push(SegmentIr {
            key: k.name.clone(),
            file: fi,
            pos: s.pos,
            include: sorted(&s.include),
            exclude: sorted(&s.exclude),
            rules,
            refs,
        });
    }

    // Flags: variations first (prerequisites name other flags' variations).
    let mut ck = Checker {
        files: &files,
        out,
        env_index,
        envs_declared,
        flag_index,
        variations: Vec::with_capacity(flag_defs.len()),
    };
    for d in &flag_defs {
        let v = ck.variations(d);
        ck.variations.push(v);
    }
    let mut flags = Vec::with_capacity(flag_defs.len());
    for (i, d) in flag_defs.iter().enumerate() {
        let (kind, vars) = ck.variations[i]
            .clone()
            .unwrap_or((ValueKind::Bool, Rc::default()));
        let broken = ck.variations[i].is_none();
        let ctx = || format!("flag {:?}", d.key.name);
        let base_p = ck.env_fields(d, &d.src.base, &seg_index, broken);
        let base = ck.complete(d, &ctx, kind, broken, base_p);
        let mut overrides: Vec<PartialEnvIr> =
            (0..envs.len()).map(|_| PartialEnvIr::default()).collect();
        for (env, fields) in &d.src.overrides {
            match ck.env_index.get(env.name.as_str()) {
                Some(&e) => overrides[e] = ck.env_fields(d, fields, &seg_index, broken),
                None => {
                    let msg = if ck.envs_declared {
                        format!(
                            "unknown environment {:?}; declared environments: {}",
                            env.name,
                            quoted_list(envs.iter().map(String::as_str))
                        )
                    } else {
                        format!(
                            "unknown environment {:?}: no environments are declared (add a \
                             top-level `environments` list)",
                            env.name
                        )
                    };
                    ck.error(d.file, env.pos, &format!("{} environments", ctx()), msg);
                }
            }
        }
        flags.push(FlagIr {
            key: d.key.name.clone(),
            file: d.file,
            pos: d.key.pos,
            kind,
            variations: vars,
            client_side: d.src.client_side,
            base,
            overrides,
        });
    }
    Model {
        files,
        envs,
        flags,
        segments,
    }
}

/// Converts a variation value node to compact-JSON-ready data.
fn to_json(n: &Node) -> Result<serde_json::Value, (Pos, String)> {
    Ok(match &n.value {
        Value::Null | Value::Invalid => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number { value, .. } => {
            if value.fract() == 0.0 && value.abs() < edgeflag_evaluator::model::SAFE_INTEGER_LIMIT {
                serde_json::Value::from(*value as i64)
            } else {
                serde_json::Number::from_f64(*value)
                    .map(serde_json::Value::Number)
                    .ok_or((n.pos, "numbers must be finite".to_owned()))?
            }
        }
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Seq(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Value::Map(entries) => {
            let mut m = serde_json::Map::with_capacity(entries.len());
            for (k, v) in entries {
                m.insert(k.name.clone(), to_json(v)?);
            }
            serde_json::Value::Object(m)
        }
    })
}

fn kind_of(v: &ValIr) -> ValueKind {
    match v {
        ValIr::Bool(_) => ValueKind::Bool,
        ValIr::Number(_) => ValueKind::Number,
        ValIr::String(_) => ValueKind::String,
        ValIr::Json(_) => ValueKind::Json,
    }
}

fn kind_phrase(k: ValueKind) -> &'static str {
    match k {
        ValueKind::Bool => "a boolean",
        ValueKind::String => "a string",
        ValueKind::Number => "a number",
        ValueKind::Json => "JSON (an object or a list)",
    }
}

fn unknown_variation(name: &str, vars: &[(String, ValIr)]) -> String {
    format!(
        "unknown variation {name:?}; expected one of {}",
        quoted_list(vars.iter().map(|(n, _)| n.as_str()))
    )
}

fn find_variation(vars: &[(String, ValIr)], name: &str) -> Option<u32> {
    vars.iter().position(|(n, _)| n == name).map(|i| i as u32)
}

impl Checker<'_> {
    fn variations(&mut self, d: &FlagDef<'_>) -> Option<Typed> {
        let entries = match &d.src.variations {
            Field::Absent => {
                return Some((
                    ValueKind::Bool,
                    Rc::new(vec![
                        ("on".to_owned(), ValIr::Bool(true)),
                        ("off".to_owned(), ValIr::Bool(false)),
                    ]),
                ))
            }
            Field::Invalid => return None,
            Field::Given(e) => e,
        };
        let ctx = format!("flag {:?} variations", d.key.name);
        if entries.is_empty() {
            self.error(
                d.file,
                d.key.pos,
                &ctx,
                "a flag needs at least one variation",
            );
            return None;
        }
        let mut ok = true;
        let mut out: Vec<(String, ValIr)> = Vec::with_capacity(entries.len());
        for (k, n) in entries {
            let vctx = format!("{ctx}.{}", k.name);
            if k.name.is_empty() {
                self.error(d.file, k.pos, &ctx, "variation names must not be empty");
                ok = false;
            }
            let v = match &n.value {
                Value::Invalid => {
                    ok = false;
                    continue;
                }
                Value::Null => {
                    self.error(d.file, n.pos, &vctx, "a variation value must not be null");
                    ok = false;
                    continue;
                }
                Value::Bool(b) => ValIr::Bool(*b),
                Value::Number { value, .. } if value.is_finite() => ValIr::Number(*value),
                Value::Number { .. } => {
                    self.error(d.file, n.pos, &vctx, "numbers must be finite");
                    ok = false;
                    continue;
                }
                Value::String(s) => ValIr::String(s.clone()),
                Value::Seq(_) | Value::Map(_) => match to_json(n) {
                    Ok(j) => ValIr::Json(j.to_string()),
                    Err((pos, msg)) => {
                        self.error(d.file, pos, &vctx, msg);
                        ok = false;
                        continue;
                    }
                },
            };
            if let Some((first, fv)) = out.first() {
                let (want, got) = (kind_of(fv), kind_of(&v));
                if want != got {
                    let msg = format!(
                        "variation {:?} is {}, but {first:?} is {}; all variations \
                         of a flag must have the same type",
                        k.name,
                        kind_phrase(got),
                        kind_phrase(want)
                    );
                    self.error(d.file, n.pos, &vctx, msg);
                    ok = false;
                    continue;
                }
            }
            out.push((k.name.clone(), v));
        }
        let kind = kind_of(&out.first()?.1);
        ok.then(|| (kind, Rc::new(out)))
    }

    fn variation(
        &mut self,
        file: usize,
        name: &Spanned<String>,
        ctx: &dyn Fn() -> String,
        vars: &[(String, ValIr)],
        broken: bool,
    ) -> u32 {
        match find_variation(vars, &name.value) {
            Some(i) => i,
            None => {
                if !broken {
                    let msg = unknown_variation(&name.value, vars);
                    self.error(file, name.pos, &ctx(), msg);
                }
                0
            }
        }
    }

    fn serve(
        &mut self,
        d: &FlagDef<'_>,
        s: &ServeSrc,
        vars: &[(String, ValIr)],
        broken: bool,
    ) -> ServeIr {
        match s {
            ServeSrc::Variation { ctx, name } => {
                ServeIr::Variation(self.variation(d.file, name, &|| ctx.get(), vars, broken))
            }
            ServeSrc::Rollout {
                ctx,
                slices,
                bucket_by,
                salt,
            } => {
                let mut upper = 0;
                let slices = slices
                    .iter()
                    .map(|(k, w)| {
                        upper += w;
                        let name = Spanned {
                            value: k.name.clone(),
                            pos: k.pos,
                        };
                        let ctx = || ctx.get();
                        (upper, self.variation(d.file, &name, &ctx, vars, broken))
                    })
                    .collect();
                ServeIr::Rollout {
                    bucket_by: bucket_by.clone().unwrap_or_else(|| "key".to_owned()),
                    salt: salt.clone().unwrap_or_else(|| d.key.name.clone()),
                    slices,
                }
            }
        }
    }

    /// Checks one set of overridable fields.
    fn env_fields(
        &mut self,
        d: &FlagDef<'_>,
        f: &EnvFields,
        segments: &HashMap<&str, usize>,
        broken: bool,
    ) -> PartialEnvIr {
        let idx = self
            .flag_index
            .get(d.key.name.as_str())
            .copied()
            .unwrap_or(0);
        let vars = self.variations[idx]
            .as_ref()
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let mut out = PartialEnvIr {
            enabled: f.enabled,
            ..PartialEnvIr::default()
        };
        let fctx = |field: &str| {
            if f.ctx.contains(" environments.") {
                format!("{}.{field}", f.ctx)
            } else {
                format!("{} {field}", f.ctx)
            }
        };
        match &f.off_variation {
            Field::Absent => {}
            Field::Invalid => out.off = Some(0),
            Field::Given(name) => {
                let ctx = || fctx("off_variation");
                out.off = Some(self.variation(d.file, name, &ctx, &vars, broken));
            }
        }
        if let Some(prereqs) = &f.prerequisites {
            let mut list = Vec::with_capacity(prereqs.len());
            for p in prereqs {
                let Some(&to) = self.flag_index.get(p.flag.value.as_str()) else {
                    let msg = format!("unknown flag {:?}", p.flag.value);
                    self.error(d.file, p.flag.pos, &p.ctx.get(), msg);
                    continue;
                };
                let pvars = self.variations[to].as_ref().map(|(_, v)| v.clone());
                let mut accepted = Vec::with_capacity(p.variations.len());
                for v in &p.variations {
                    match &pvars {
                        None => {}
                        Some(pv) => match find_variation(pv, &v.value) {
                            Some(i) => accepted.push(i),
                            None => {
                                let msg = format!(
                                    "unknown variation {:?} of flag {:?}; expected one of {}",
                                    v.value,
                                    p.flag.value,
                                    quoted_list(pv.iter().map(|(n, _)| n.as_str()))
                                );
                                self.error(d.file, v.pos, &p.ctx.get(), msg);
                            }
                        },
                    }
                }
                accepted.sort_unstable();
                accepted.dedup();
                list.push(PrereqIr {
                    edge: ir::Edge {
                        to,
                        pos: p.flag.pos,
                        ctx: p.ctx.clone(),
                    },
                    variations: accepted,
                });
            }
            out.prereqs = Some(list);
        }
        if let Some(targets) = &f.targets {
            let mut by_var: Vec<(u32, &[Spanned<String>])> = Vec::with_capacity(targets.len());
            for (var, keys) in targets {
                match find_variation(&vars, &var.name) {
                    Some(i) => by_var.push((i, keys)),
                    None => {
                        if !broken {
                            let msg = unknown_variation(&var.name, &vars);
                            self.error(d.file, var.pos, &fctx("targets"), msg);
                        }
                    }
                }
            }
            // The variation declared first wins a key listed under several.
            by_var.sort_by_key(|&(i, _)| i);
            let mut map: BTreeMap<&str, u32> = BTreeMap::new();
            for (i, keys) in by_var {
                for k in keys {
                    map.entry(k.value.as_str()).or_insert(i);
                }
            }
            out.targets = Some(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
        }
        if let Some(rules) = &f.rules {
            let mut ids: HashMap<&str, usize> = HashMap::default();
            let mut list = Vec::with_capacity(rules.len());
            for (ri, r) in rules.iter().enumerate() {
                if let Some(id) = &r.id {
                    if id.value.is_empty() {
                        self.error(
                            d.file,
                            id.pos,
                            &format!("{} id", r.ctx),
                            "rule id must not be empty",
                        );
                    } else if let Some(&first) = ids.get(id.value.as_str()) {
                        let msg = format!(
                            "duplicate rule id {:?} (rule {} has it too)",
                            id.value,
                            first + 1
                        );
                        self.error(d.file, id.pos, &format!("{} id", r.ctx), msg);
                    } else {
                        ids.insert(&id.value, ri);
                    }
                }
                let mut sink = self.sink(d.file);
                let mut refs = Vec::new();
                let clauses = r
                    .clauses
                    .iter()
                    .filter_map(|c| clause::check(c, segments, &mut refs, &mut sink))
                    .collect();
                let serve = match &r.serve {
                    Some(s) => self.serve(d, s, &vars, broken),
                    None => ServeIr::default(),
                };
                list.push(RuleIr {
                    id: r.id.as_ref().map(|s| s.value.clone()),
                    clauses,
                    serve,
                });
            }
            out.rules = Some(list);
        }
        match &f.fallthrough {
            Field::Absent => {}
            Field::Invalid => out.fallthrough = Some(ServeIr::default()),
            Field::Given(s) => out.fallthrough = Some(self.serve(d, s, &vars, broken)),
        }
        out
    }

    /// Fills the base fields' defaults.
    fn complete(
        &mut self,
        d: &FlagDef<'_>,
        ctx: &dyn Fn() -> String,
        kind: ValueKind,
        broken: bool,
        p: PartialEnvIr,
    ) -> EnvIr {
        let vars: Rc<Vec<(String, ValIr)>> = self
            .variations
            .get(
                self.flag_index
                    .get(d.key.name.as_str())
                    .copied()
                    .unwrap_or(0),
            )
            .and_then(|v| v.as_ref().map(|(_, v)| v.clone()))
            .unwrap_or_default();
        let default = |this: &mut Self, field: &str, name: &str| -> u32 {
            if broken {
                return 0;
            }
            if kind != ValueKind::Bool {
                let msg = format!("missing field `{field}` (required unless the flag is boolean)");
                this.error(d.file, d.key.pos, &ctx(), msg);
                return 0;
            }
            match find_variation(&vars, name) {
                Some(i) => i,
                None => {
                    let msg = format!(
                        "unknown variation {name:?} (the default `{field}` of a boolean flag); \
                         add a variation {name:?} or set `{field}`"
                    );
                    this.error(d.file, d.key.pos, &ctx(), msg);
                    0
                }
            }
        };
        let off = match p.off {
            Some(o) => o,
            None => default(self, "off_variation", "off"),
        };
        let fallthrough = match p.fallthrough {
            Some(f) => f,
            None => ServeIr::Variation(default(self, "fallthrough", "on")),
        };
        EnvIr {
            enabled: p.enabled.unwrap_or(true),
            off,
            prereqs: p.prereqs.unwrap_or_default(),
            targets: p.targets.unwrap_or_default(),
            rules: p.rules.unwrap_or_default(),
            fallthrough,
        }
    }
}

/// Finds segment and prerequisite cycles and over-deep nesting, and computes the
/// storage orders.
pub fn order(model: &Model, out: &mut Vec<Diagnostic>) -> Orders {
    let files = &model.files;
    let segs = graph::analyze(model.segments.len(), |i| &model.segments[i].refs[..]);
    for c in &segs.cycles {
        let s = &model.segments[c.from];
        let e = &s.refs[c.edge];
        let path = c
            .path
            .iter()
            .map(|&i| format!("{:?}", model.segments[i].key))
            .collect::<Vec<_>>()
            .join(" → ");
        out.push(Diagnostic::new(
            &files[s.file],
            Some(e.pos),
            e.ctx.get(),
            format!("segment cycle: segment {path}"),
        ));
    }
    for &i in &segs.too_deep {
        let s = &model.segments[i];
        out.push(Diagnostic::new(
            &files[s.file],
            Some(s.pos),
            format!("segment {:?}", s.key),
            format!("segments nested deeper than {MAX_DEPTH} levels through `in_segment`"),
        ));
    }

    // Per environment; an error present in only some environments names them.
    let mut found: Vec<(Diagnostic, Vec<usize>)> = Vec::new();
    let mut record = |d: Diagnostic, env: usize| match found.iter_mut().find(|(x, _)| *x == d) {
        Some((_, envs)) => envs.push(env),
        None => found.push((d, vec![env])),
    };
    let mut flag_orders = Vec::with_capacity(model.envs.len());
    for env in 0..model.envs.len() {
        let a = graph::analyze(model.flags.len(), |i| model.flags[i].view(env).prereqs);
        for c in &a.cycles {
            let f = &model.flags[c.from];
            let e = &f.view(env).prereqs[c.edge].edge;
            let path = c
                .path
                .iter()
                .map(|&i| format!("{:?}", model.flags[i].key))
                .collect::<Vec<_>>()
                .join(" → ");
            let d = Diagnostic::new(
                &files[f.file],
                Some(e.pos),
                e.ctx.get(),
                format!("prerequisite cycle: flag {path}"),
            );
            record(d, env);
        }
        for &i in &a.too_deep {
            let f = &model.flags[i];
            let d = Diagnostic::new(
                &files[f.file],
                Some(f.pos),
                format!("flag {:?}", f.key),
                format!("prerequisites chained deeper than {MAX_DEPTH} levels"),
            );
            record(d, env);
        }
        flag_orders.push(a.order);
    }
    for (mut d, envs) in found {
        if envs.len() < model.envs.len() {
            d.message = format!(
                "{} (in environment {})",
                d.message,
                quoted_list(envs.iter().map(|&e| model.envs[e].as_str()))
            );
        }
        out.push(d);
    }
    Orders {
        segments: segs.order,
        flags: flag_orders,
    }
}
