//! Semantic checks: merges files, resolves every name (variations, flags,
//! segments, environments), checks value types, and finds cycles and over-deep
//! nesting. Produces the checked [`ir::Model`].

pub mod bounds;
mod clause;
pub mod client;
pub mod graph;
pub mod ir;

use crate::diagnostics::{Diagnostic, Pos, Sink};
use crate::fxhash::FxHashMap as HashMap;
use crate::source::schema::{
    EnvFields, Field, FlagSrc, PrereqSrc, RuleSrc, SegmentSrc, ServeSrc, SourceFile, Spanned,
};
use crate::source::yaml::{Key, Node, Value};
use edgeflag_evaluator::model::ValueKind;
use edgeflag_evaluator::MAX_DEPTH;
use graph::HasEdge;
use ir::{
    EnvIr, FlagIr, Model, PartialEnvIr, PrereqIr, Regexes, RuleIr, SegmentIr, ServeIr, ValIr,
};
use std::collections::BTreeMap;
use std::rc::Rc;

impl HasEdge for PrereqIr {
    fn edge(&self) -> &ir::Edge {
        &self.edge
    }
}

/// Diagnostics found environment by environment, merged: one found in only some
/// environments names them (used by the checks that run on lowered bodies).
#[derive(Default)]
pub struct PerEnv(Vec<(Diagnostic, Vec<usize>)>);

impl PerEnv {
    /// Records `d` as found in environment `env`.
    pub fn add(&mut self, d: Diagnostic, env: usize) {
        match self.0.iter_mut().find(|(x, _)| *x == d) {
            Some((_, envs)) => envs.push(env),
            None => self.0.push((d, vec![env])),
        }
    }

    /// Moves the merged diagnostics to `out`.
    pub fn finish(self, model: &ir::Model, out: &mut Vec<Diagnostic>) {
        for (mut d, envs) in self.0 {
            if envs.len() < model.envs.len() {
                let names: Vec<String> = envs
                    .iter()
                    .map(|&e| format!("{:?}", model.envs[e]))
                    .collect();
                d.message = format!("{} (in environment {})", d.message, names.join(", "));
            }
            out.push(d);
        }
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

struct SegmentDef<'a> {
    file: usize,
    key: &'a Key,
    src: &'a SegmentSrc,
}

/// The environments of a compilation.
struct Environments<'a> {
    /// Name → index into `names`.
    index: HashMap<&'a str, usize>,
    /// Names in declaration order (`["default"]` when none are declared).
    names: Vec<String>,
    /// Whether the sources declare any.
    declared: bool,
}

/// The first definition of every segment and flag key.
#[derive(Default)]
struct Definitions<'a> {
    /// Segment key → index into `segments`.
    seg_index: HashMap<&'a str, usize>,
    /// Segments in source order.
    segments: Vec<SegmentDef<'a>>,
    /// Flag key → index into `flags`.
    flag_index: HashMap<&'a str, usize>,
    /// Flags in source order.
    flags: Vec<FlagDef<'a>>,
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
    seg_index: &'a HashMap<&'a str, usize>,
    variations: Variations,
    regexes: Regexes,
}

/// What checking one flag's fields needs to know about the flag.
struct FlagCx<'d, 'a> {
    def: &'d FlagDef<'a>,
    /// Type of its variations (boolean when they are invalid).
    kind: ValueKind,
    /// Its variations (empty when invalid).
    vars: Rc<Vec<(String, ValIr)>>,
    /// Whether its variations are invalid (reported): names of them are then not checked.
    broken: bool,
}

impl Checker<'_> {
    /// A sink for errors in file `file`.
    fn sink(&mut self, file: usize) -> Sink<'_> {
        Sink {
            file: &self.files[file],
            out: self.out,
        }
    }

    /// Reports an error in file `file`.
    fn error(&mut self, file: usize, pos: Pos, ctx: &str, msg: impl Into<String>) {
        self.sink(file).error(pos, ctx, msg);
    }
}

/// Merges and checks parsed files. Errors go to `out`.
pub fn build(files: Vec<String>, sources: &[SourceFile], out: &mut Vec<Diagnostic>) -> Model {
    let envs = environments(&files, sources, out);
    let defs = definitions(&files, sources, out);
    let mut regexes = Regexes::default();
    let segments = check_segments(&files, &defs, &mut regexes, out);
    let mut ck = Checker {
        files: &files,
        out,
        env_index: envs.index,
        envs_declared: envs.declared,
        flag_index: defs.flag_index,
        seg_index: &defs.seg_index,
        variations: Vec::new(),
        regexes,
    };
    // Variations first: prerequisites name other flags' variations.
    let variations = defs.flags.iter().map(|d| ck.variations(d)).collect();
    ck.variations = variations;
    let flags = (defs.flags.iter().enumerate())
        .map(|(i, d)| ck.flag(i, d, &envs.names))
        .collect();
    let mut clear_attributes: Vec<String> = (sources.iter())
        .flat_map(|s| &s.clear_attributes)
        .map(|a| a.value.clone())
        .collect();
    clear_attributes.sort_unstable();
    clear_attributes.dedup();
    Model {
        files,
        envs: envs.names,
        flags,
        segments,
        clear_attributes,
    }
}

/// Collects the declared environments in order, reporting duplicates.
fn environments<'a>(
    files: &[String],
    sources: &'a [SourceFile],
    out: &mut Vec<Diagnostic>,
) -> Environments<'a> {
    let mut index: HashMap<&str, usize> = HashMap::default();
    let mut first: Vec<(usize, Pos)> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (fi, src) in sources.iter().enumerate() {
        for e in &src.environments {
            if let Some(&i) = index.get(e.value.as_str()) {
                let (ff, fp) = first[i];
                let msg = format!(
                    "duplicate environment {:?} (first declared at {})",
                    e.value,
                    place(files, ff, fp, fi)
                );
                out.push(Diagnostic::new(
                    &files[fi],
                    Some(e.pos),
                    "environments",
                    msg,
                ));
                continue;
            }
            index.insert(&e.value, names.len());
            first.push((fi, e.pos));
            names.push(e.value.clone());
        }
    }
    let declared = !names.is_empty();
    if !declared {
        names.push("default".to_owned());
    }
    Environments {
        index,
        names,
        declared,
    }
}

/// Indexes every segment and flag by key, reporting keys defined twice.
fn definitions<'a>(
    files: &[String],
    sources: &'a [SourceFile],
    out: &mut Vec<Diagnostic>,
) -> Definitions<'a> {
    let mut defs = Definitions::default();
    for (fi, src) in sources.iter().enumerate() {
        for (key, s) in &src.segments {
            match defs.seg_index.get(key.name.as_str()) {
                Some(&i) => {
                    let first = &defs.segments[i];
                    out.push(defined_twice(
                        files, "segment", fi, key, first.file, first.key,
                    ));
                }
                None => {
                    defs.seg_index.insert(&key.name, defs.segments.len());
                    defs.segments.push(SegmentDef {
                        file: fi,
                        key,
                        src: s,
                    });
                }
            }
        }
        for (key, f) in &src.flags {
            match defs.flag_index.get(key.name.as_str()) {
                Some(&i) => {
                    let first = &defs.flags[i];
                    out.push(defined_twice(files, "flag", fi, key, first.file, first.key));
                }
                None => {
                    defs.flag_index.insert(&key.name, defs.flags.len());
                    defs.flags.push(FlagDef {
                        file: fi,
                        key,
                        src: f,
                    });
                }
            }
        }
    }
    defs
}

/// The error for a `what` (`flag` or `segment`) key defined a second time.
fn defined_twice(
    files: &[String],
    what: &str,
    file: usize,
    key: &Key,
    first_file: usize,
    first: &Key,
) -> Diagnostic {
    let msg = format!(
        "{what} {:?} is defined twice (first at {})",
        key.name,
        place(files, first_file, first.pos, file)
    );
    Diagnostic::new(
        &files[file],
        Some(key.pos),
        format!("{what} {:?}", key.name),
        msg,
    )
}

/// Checks every segment's clauses.
fn check_segments(
    files: &[String],
    defs: &Definitions<'_>,
    regexes: &mut Regexes,
    out: &mut Vec<Diagnostic>,
) -> Vec<SegmentIr> {
    (defs.segments.iter())
        .map(|d| check_segment(files, d, &defs.seg_index, regexes, out))
        .collect()
}

/// Checks one segment's clauses; include and exclude come out sorted and deduplicated.
fn check_segment(
    files: &[String],
    d: &SegmentDef<'_>,
    seg_index: &HashMap<&str, usize>,
    regexes: &mut Regexes,
    out: &mut Vec<Diagnostic>,
) -> SegmentIr {
    let mut sink = Sink {
        file: &files[d.file],
        out,
    };
    let mut refs = Vec::new();
    let rules = (d.src.rules.iter())
        .map(|r| {
            r.iter()
                .filter_map(|c| clause::check(c, seg_index, &mut refs, regexes, &mut sink))
                .collect()
        })
        .collect();
    SegmentIr {
        key: d.key.name.clone(),
        file: d.file,
        pos: d.src.pos,
        include: sorted_keys(&d.src.include),
        exclude: sorted_keys(&d.src.exclude),
        rules,
        refs,
        description: d.src.description.clone(),
    }
}

/// A sorted, deduplicated copy of context keys.
fn sorted_keys(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// `flag "x" field` in the base fields, `flag "x" environments.p.field` in an override.
fn field_context(f: &EnvFields, field: &str) -> String {
    if f.ctx.contains(" environments.") {
        format!("{}.{field}", f.ctx)
    } else {
        format!("{} {field}", f.ctx)
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
    /// Checks a flag's `variations` (`on`/`off` when absent): `None` when invalid.
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

    /// The index of variation `name`, reporting an unknown one unless `broken`.
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

    /// Checks flag definition `i`: base fields with their defaults, then the overrides.
    fn flag(&mut self, i: usize, d: &FlagDef<'_>, envs: &[String]) -> FlagIr {
        let (kind, vars) = self.variations[i]
            .clone()
            .unwrap_or((ValueKind::Bool, Rc::default()));
        let fl = FlagCx {
            def: d,
            kind,
            vars,
            broken: self.variations[i].is_none(),
        };
        let base_p = self.env_fields(&fl, &d.src.base);
        let base = self.complete(&fl, base_p);
        let overrides = self.overrides(&fl, envs);
        FlagIr {
            key: d.key.name.clone(),
            file: d.file,
            pos: d.key.pos,
            kind,
            variations: fl.vars,
            client_side: d.src.client_side,
            metadata: d.src.metadata.clone(),
            base,
            overrides,
        }
    }

    /// Checks a flag's `environments` overrides, indexed like `envs`.
    fn overrides(&mut self, fl: &FlagCx<'_, '_>, envs: &[String]) -> Vec<PartialEnvIr> {
        let mut overrides: Vec<PartialEnvIr> =
            (0..envs.len()).map(|_| PartialEnvIr::default()).collect();
        for (env, fields) in &fl.def.src.overrides {
            match self.env_index.get(env.name.as_str()) {
                Some(&e) => overrides[e] = self.env_fields(fl, fields),
                None => self.unknown_environment(fl.def, env, envs),
            }
        }
        overrides
    }

    /// Reports an override of an environment that is not declared.
    fn unknown_environment(&mut self, d: &FlagDef<'_>, env: &Key, envs: &[String]) {
        let msg = if self.envs_declared {
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
        let ctx = format!("flag {:?} environments", d.key.name);
        self.error(d.file, env.pos, &ctx, msg);
    }

    /// Checks a serve: its variation names (a rollout also gets its defaults).
    fn serve(&mut self, fl: &FlagCx<'_, '_>, s: &ServeSrc) -> ServeIr {
        let d = fl.def;
        match s {
            ServeSrc::Variation { ctx, name } => {
                ServeIr::Variation(self.variation(d.file, name, &|| ctx.get(), &fl.vars, fl.broken))
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
                        let v = self.variation(d.file, &name, &ctx, &fl.vars, fl.broken);
                        (upper, v)
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
    fn env_fields(&mut self, fl: &FlagCx<'_, '_>, f: &EnvFields) -> PartialEnvIr {
        PartialEnvIr {
            enabled: f.enabled,
            off: self.off_variation(fl, f),
            prereqs: (f.prerequisites.as_ref()).map(|p| self.prerequisites(fl.def, p)),
            targets: f.targets.as_ref().map(|t| self.targets(fl, f, t)),
            rules: f.rules.as_ref().map(|r| self.rules(fl, r)),
            fallthrough: self.fallthrough(fl, f),
        }
    }

    /// Checks `off_variation` (an invalid one stands in as variation 0).
    fn off_variation(&mut self, fl: &FlagCx<'_, '_>, f: &EnvFields) -> Option<u32> {
        match &f.off_variation {
            Field::Absent => None,
            Field::Invalid => Some(0),
            Field::Given(name) => {
                let ctx = || field_context(f, "off_variation");
                Some(self.variation(fl.def.file, name, &ctx, &fl.vars, fl.broken))
            }
        }
    }

    /// Checks `prerequisites`, dropping those that name an unknown flag; a flag
    /// listed twice is an error (evaluation would evaluate it again, and the
    /// loader refuses it).
    fn prerequisites(&mut self, d: &FlagDef<'_>, prereqs: &[PrereqSrc]) -> Vec<PrereqIr> {
        let mut list: Vec<PrereqIr> = Vec::with_capacity(prereqs.len());
        let mut seen: HashMap<usize, ()> = HashMap::default();
        for p in prereqs {
            let Some(ir) = self.prerequisite(d, p) else {
                continue;
            };
            if seen.insert(ir.edge.to, ()).is_some() {
                let msg = format!("prerequisite {:?} is listed twice", p.flag.value);
                self.error(d.file, p.flag.pos, &p.ctx.get(), msg);
                continue;
            }
            list.push(ir);
        }
        list
    }

    /// Checks one prerequisite: `None` when its flag is unknown (reported).
    fn prerequisite(&mut self, d: &FlagDef<'_>, p: &PrereqSrc) -> Option<PrereqIr> {
        let Some(&to) = self.flag_index.get(p.flag.value.as_str()) else {
            let msg = format!("unknown flag {:?}", p.flag.value);
            self.error(d.file, p.flag.pos, &p.ctx.get(), msg);
            return None;
        };
        let accepted = match self.variations[to].as_ref().map(|(_, v)| v.clone()) {
            Some(pvars) => self.accepted_variations(d, p, &pvars),
            None => Vec::new(),
        };
        Some(PrereqIr {
            edge: ir::Edge {
                to,
                pos: p.flag.pos,
                ctx: p.ctx.clone(),
            },
            variations: accepted,
        })
    }

    /// A prerequisite's accepted variations as sorted indexes into `pvars`, the flag's.
    fn accepted_variations(
        &mut self,
        d: &FlagDef<'_>,
        p: &PrereqSrc,
        pvars: &[(String, ValIr)],
    ) -> Vec<u32> {
        let mut accepted = Vec::with_capacity(p.variations.len());
        for v in &p.variations {
            match find_variation(pvars, &v.value) {
                Some(i) => accepted.push(i),
                None => {
                    let msg = format!(
                        "unknown variation {:?} of flag {:?}; expected one of {}",
                        v.value,
                        p.flag.value,
                        quoted_list(pvars.iter().map(|(n, _)| n.as_str()))
                    );
                    self.error(d.file, v.pos, &p.ctx.get(), msg);
                }
            }
        }
        accepted.sort_unstable();
        accepted.dedup();
        accepted
    }

    /// Checks `targets`: each key once, sorted, with the first declared variation listing it.
    fn targets(
        &mut self,
        fl: &FlagCx<'_, '_>,
        f: &EnvFields,
        targets: &[(Key, Vec<Spanned<String>>)],
    ) -> Vec<(String, u32)> {
        let mut by_var: Vec<(u32, &[Spanned<String>])> = Vec::with_capacity(targets.len());
        for (var, keys) in targets {
            match find_variation(&fl.vars, &var.name) {
                Some(i) => by_var.push((i, keys)),
                None => {
                    if !fl.broken {
                        let msg = unknown_variation(&var.name, &fl.vars);
                        self.error(fl.def.file, var.pos, &field_context(f, "targets"), msg);
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
        map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// Checks `rules`: ids unique within the list, clauses and serves.
    fn rules(&mut self, fl: &FlagCx<'_, '_>, rules: &[RuleSrc]) -> Vec<RuleIr> {
        let mut ids: HashMap<&str, usize> = HashMap::default();
        let mut list = Vec::with_capacity(rules.len());
        for (ri, r) in rules.iter().enumerate() {
            self.rule_id(fl.def, ri, r, &mut ids);
            list.push(self.rule(fl, r));
        }
        list
    }

    /// Checks rule `ri`'s `id` (non-empty, not among earlier rules' `ids`) and records it.
    fn rule_id<'r>(
        &mut self,
        d: &FlagDef<'_>,
        ri: usize,
        r: &'r RuleSrc,
        ids: &mut HashMap<&'r str, usize>,
    ) {
        let Some(id) = &r.id else {
            return;
        };
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

    /// Checks one rule's clauses and serve (a missing serve stands in as variation 0).
    fn rule(&mut self, fl: &FlagCx<'_, '_>, r: &RuleSrc) -> RuleIr {
        let segments = self.seg_index;
        let mut sink = Sink {
            file: &self.files[fl.def.file],
            out: self.out,
        };
        let mut refs = Vec::new();
        let clauses = (r.clauses.iter())
            .filter_map(|c| clause::check(c, segments, &mut refs, &mut self.regexes, &mut sink))
            .collect();
        let serve = match &r.serve {
            Some(s) => self.serve(fl, s),
            None => ServeIr::default(),
        };
        RuleIr {
            id: r.id.as_ref().map(|s| s.value.clone()),
            clauses,
            serve,
        }
    }

    /// Checks `fallthrough` (an invalid one stands in as variation 0).
    fn fallthrough(&mut self, fl: &FlagCx<'_, '_>, f: &EnvFields) -> Option<ServeIr> {
        match &f.fallthrough {
            Field::Absent => None,
            Field::Invalid => Some(ServeIr::default()),
            Field::Given(s) => Some(self.serve(fl, s)),
        }
    }

    /// Fills the base fields' defaults.
    fn complete(&mut self, fl: &FlagCx<'_, '_>, p: PartialEnvIr) -> EnvIr {
        let off = match p.off {
            Some(o) => o,
            None => self.default_variation(fl, "off_variation", "off"),
        };
        let fallthrough = match p.fallthrough {
            Some(f) => f,
            None => ServeIr::Variation(self.default_variation(fl, "fallthrough", "on")),
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

    /// The variation `name` that base `field` defaults to (boolean flags only, else reported).
    fn default_variation(&mut self, fl: &FlagCx<'_, '_>, field: &str, name: &str) -> u32 {
        let d = fl.def;
        if fl.broken {
            return 0;
        }
        let ctx = format!("flag {:?}", d.key.name);
        if fl.kind != ValueKind::Bool {
            let msg = format!("missing field `{field}` (required unless the flag is boolean)");
            self.error(d.file, d.key.pos, &ctx, msg);
            return 0;
        }
        match find_variation(&fl.vars, name) {
            Some(i) => i,
            None => {
                let msg = format!(
                    "unknown variation {name:?} (the default `{field}` of a boolean flag); \
                     add a variation {name:?} or set `{field}`"
                );
                self.error(d.file, d.key.pos, &ctx, msg);
                0
            }
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
