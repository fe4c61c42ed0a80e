//! What changed between two rulesets, as values: flags and segments added,
//! removed or changed, and for a changed one, each field that differs.
//!
//! Rulesets are compared through their [`describe`](crate::describe) renderings,
//! so two rulesets with different string tables or orders compare by meaning.
//! The same values feed `edgeflag diff` (indented text), the audit records of
//! `edgeflag publish` (one line per change) and, later, the dashboard.
//!
//! ```
//! use edgeflag_compiler::{compile_sources, diff};
//! use edgeflag_evaluator::Ruleset;
//!
//! let ruleset = |src: &str| {
//!     let env = compile_sources(&[("f.yaml".into(), src.into())]).unwrap().remove(0);
//!     Ruleset::from_body(edgeflag_compiler::unpublished_header(&env.name), env.body).unwrap()
//! };
//! let old = ruleset("flags: {search-v2: {}}");
//! let new = ruleset("flags: {search-v2: {enabled: false}}");
//! let changes = diff::diff(&old, &new);
//! assert_eq!(
//!     changes,
//!     [diff::Change::FlagChanged {
//!         key: "search-v2".into(),
//!         fields: vec![diff::FieldChange::KillSwitch { enabled: false }],
//!     }]
//! );
//! assert_eq!(diff::lines(&changes), ["~ flag search-v2", "KILL SWITCH: on → OFF"]);
//! ```

use crate::describe::{self, FlagView, SegmentView};
use edgeflag_evaluator::Ruleset;
use serde::Serialize;
use std::fmt::{self, Write};

/// One flag or segment that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// A flag only the new side has.
    FlagAdded {
        /// The flag key.
        key: String,
        /// Its type (`boolean`, `string`, `number`, `json`).
        kind: &'static str,
        /// Whether it is on (its kill switch not thrown).
        enabled: bool,
        /// How many rules it has.
        rules: usize,
    },
    /// A flag both sides have, with its differing fields.
    FlagChanged {
        /// The flag key.
        key: String,
        /// What differs, in field order.
        fields: Vec<FieldChange>,
    },
    /// A flag only the old side has.
    FlagRemoved {
        /// The flag key.
        key: String,
    },
    /// A segment only the new side has.
    SegmentAdded {
        /// The segment key.
        key: String,
    },
    /// A segment both sides have, with its differing fields.
    SegmentChanged {
        /// The segment key.
        key: String,
        /// What differs, in field order.
        fields: Vec<FieldChange>,
    },
    /// A segment only the old side has.
    SegmentRemoved {
        /// The segment key.
        key: String,
    },
}

/// A field of a flag or segment, as named in change lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Field {
    /// The flag's type.
    Type,
    /// `client_side`.
    ClientSide,
    /// The variations (`name = value`).
    Variations,
    /// `off_variation`.
    OffVariation,
    /// One prerequisite (`flag is variation`).
    Prerequisite,
    /// The individual targets (`key → variation`).
    Targets,
    /// One rule (clauses → what it serves).
    Rule,
    /// `fallthrough`.
    Fallthrough,
    /// A segment's `include` keys.
    Include,
    /// A segment's `exclude` keys.
    Exclude,
}

impl Field {
    /// The name used in change lines.
    pub fn name(self) -> &'static str {
        match self {
            Field::Type => "type",
            Field::ClientSide => "client_side",
            Field::Variations => "variations",
            Field::OffVariation => "off variation",
            Field::Prerequisite => "prerequisite",
            Field::Targets => "targets",
            Field::Rule => "rule",
            Field::Fallthrough => "fallthrough",
            Field::Include => "include",
            Field::Exclude => "exclude",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How one field differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FieldChange {
    /// The kill switch moved: `enabled` is the new state.
    KillSwitch {
        /// Whether the flag is now on.
        enabled: bool,
    },
    /// A single-valued field changed.
    Value {
        /// The field.
        field: Field,
        /// The old rendering.
        from: String,
        /// The new rendering.
        to: String,
    },
    /// Members of a set-like field (variations, targets, include, exclude) added.
    Added {
        /// The field.
        field: Field,
        /// The members added, in the new side's order.
        items: Vec<String>,
    },
    /// Members of a set-like field removed.
    Removed {
        /// The field.
        field: Field,
        /// The members removed, in the old side's order.
        items: Vec<String>,
    },
    /// The item at a position of an ordered field (rules, prerequisites) changed,
    /// appeared or disappeared. `position` counts from 1.
    Item {
        /// The field.
        field: Field,
        /// Position, from 1.
        position: usize,
        /// The old item, if there was one.
        from: Option<String>,
        /// The new item, if there is one.
        to: Option<String>,
    },
}

impl FieldChange {
    /// The change as lines of text (one, or two for a replaced item, the second
    /// starting with `→`, aligned under the first's value when indented alike).
    pub fn lines(&self) -> Vec<String> {
        match self {
            FieldChange::KillSwitch { enabled: true } => {
                vec!["kill switch released: OFF → on".to_owned()]
            }
            FieldChange::KillSwitch { enabled: false } => {
                vec!["KILL SWITCH: on → OFF".to_owned()]
            }
            FieldChange::Value { field, from, to } => vec![format!("{field}: {from} → {to}")],
            FieldChange::Added { field, items } => vec![format!("{field}: + {}", items.join(", "))],
            FieldChange::Removed { field, items } => {
                vec![format!("{field}: - {}", items.join(", "))]
            }
            FieldChange::Item {
                field,
                position,
                from,
                to,
            } => match (from, to) {
                (Some(x), Some(y)) => {
                    let lead = format!("{field} {position}");
                    vec![
                        format!("{lead}: {x}"),
                        format!("{}  → {y}", " ".repeat(lead.chars().count() + 1)),
                    ]
                }
                (None, Some(y)) => vec![format!("{field} {position} added: {y}")],
                (Some(x), None) => vec![format!("{field} {position} removed: {x}")],
                (None, None) => Vec::new(),
            },
        }
    }
}

impl Change {
    /// The first line: `+ flag k (boolean, on, 2 rules)`, `~ flag k`, `- segment s`…
    pub fn headline(&self) -> String {
        match self {
            Change::FlagAdded {
                key,
                kind,
                enabled,
                rules,
            } => {
                let state = if *enabled { "on" } else { "OFF" };
                format!("+ flag {key} ({kind}, {state}, {rules} rules)")
            }
            Change::FlagChanged { key, .. } => format!("~ flag {key}"),
            Change::FlagRemoved { key } => format!("- flag {key}"),
            Change::SegmentAdded { key } => format!("+ segment {key}"),
            Change::SegmentChanged { key, .. } => format!("~ segment {key}"),
            Change::SegmentRemoved { key } => format!("- segment {key}"),
        }
    }

    /// The field changes of a changed flag or segment (empty otherwise).
    pub fn fields(&self) -> &[FieldChange] {
        match self {
            Change::FlagChanged { fields, .. } | Change::SegmentChanged { fields, .. } => fields,
            _ => &[],
        }
    }
}

/// The changes from `old` to `new`: new-side flags in order (added or changed),
/// then removed flags, then segments likewise. Empty when they mean the same.
pub fn diff(old: &Ruleset, new: &Ruleset) -> Vec<Change> {
    let mut out = Vec::new();
    let (fa, fb) = (describe::flags(old), describe::flags(new));
    for f in &fb {
        match fa.iter().find(|x| x.key == f.key) {
            None => out.push(Change::FlagAdded {
                key: f.key.clone(),
                kind: f.kind,
                enabled: f.enabled,
                rules: f.rules.len(),
            }),
            Some(o) if o != f => out.push(Change::FlagChanged {
                key: f.key.clone(),
                fields: flag_fields(o, f),
            }),
            Some(_) => {}
        }
    }
    for f in &fa {
        if !fb.iter().any(|x| x.key == f.key) {
            out.push(Change::FlagRemoved { key: f.key.clone() });
        }
    }
    let (sa, sb) = (describe::segments(old), describe::segments(new));
    for s in &sb {
        match sa.iter().find(|x| x.key == s.key) {
            None => out.push(Change::SegmentAdded { key: s.key.clone() }),
            Some(o) if o != s => out.push(Change::SegmentChanged {
                key: s.key.clone(),
                fields: segment_fields(o, s),
            }),
            Some(_) => {}
        }
    }
    for s in &sa {
        if !sb.iter().any(|x| x.key == s.key) {
            out.push(Change::SegmentRemoved { key: s.key.clone() });
        }
    }
    out
}

/// Every change as lines without indentation: the headline, then its fields'
/// lines. This is what audit records and the manifest store.
pub fn lines(changes: &[Change]) -> Vec<String> {
    let mut out = Vec::new();
    for c in changes {
        out.push(c.headline());
        for f in c.fields() {
            out.extend(f.lines());
        }
    }
    out
}

/// Every change as indented text, one line each (headlines indented by two
/// spaces, field lines by six), as `edgeflag diff` prints it.
pub fn to_text(changes: &[Change]) -> String {
    let mut out = String::new();
    for c in changes {
        let _ = writeln!(out, "  {}", c.headline());
        for f in c.fields() {
            for l in f.lines() {
                let _ = writeln!(out, "      {l}");
            }
        }
    }
    out
}

fn set_changes(out: &mut Vec<FieldChange>, field: Field, old: &[String], new: &[String]) {
    let added: Vec<String> = new.iter().filter(|x| !old.contains(x)).cloned().collect();
    let removed: Vec<String> = old.iter().filter(|x| !new.contains(x)).cloned().collect();
    if !added.is_empty() {
        out.push(FieldChange::Added {
            field,
            items: added,
        });
    }
    if !removed.is_empty() {
        out.push(FieldChange::Removed {
            field,
            items: removed,
        });
    }
}

fn list_changes(out: &mut Vec<FieldChange>, field: Field, old: &[String], new: &[String]) {
    for i in 0..old.len().max(new.len()) {
        let (from, to) = (old.get(i), new.get(i));
        if from != to {
            out.push(FieldChange::Item {
                field,
                position: i + 1,
                from: from.cloned(),
                to: to.cloned(),
            });
        }
    }
}

fn value_change<T: PartialEq + ToString>(out: &mut Vec<FieldChange>, field: Field, a: &T, b: &T) {
    if a != b {
        out.push(FieldChange::Value {
            field,
            from: a.to_string(),
            to: b.to_string(),
        });
    }
}

fn flag_fields(a: &FlagView, b: &FlagView) -> Vec<FieldChange> {
    let mut out = Vec::new();
    if a.enabled != b.enabled {
        out.push(FieldChange::KillSwitch { enabled: b.enabled });
    }
    value_change(&mut out, Field::Type, &a.kind, &b.kind);
    value_change(&mut out, Field::ClientSide, &a.client_side, &b.client_side);
    set_changes(&mut out, Field::Variations, &a.variations, &b.variations);
    value_change(
        &mut out,
        Field::OffVariation,
        &a.off_variation,
        &b.off_variation,
    );
    list_changes(
        &mut out,
        Field::Prerequisite,
        &a.prerequisites,
        &b.prerequisites,
    );
    set_changes(&mut out, Field::Targets, &a.targets, &b.targets);
    list_changes(&mut out, Field::Rule, &a.rules, &b.rules);
    value_change(&mut out, Field::Fallthrough, &a.fallthrough, &b.fallthrough);
    out
}

fn segment_fields(a: &SegmentView, b: &SegmentView) -> Vec<FieldChange> {
    let mut out = Vec::new();
    set_changes(&mut out, Field::Include, &a.include, &b.include);
    set_changes(&mut out, Field::Exclude, &a.exclude, &b.exclude);
    list_changes(&mut out, Field::Rule, &a.rules, &b.rules);
    out
}
