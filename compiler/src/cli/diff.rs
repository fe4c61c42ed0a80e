//! `edgeflag diff`: what changed between two rulesets or sources, for code review.

use super::describe::{self, FlagView, SegmentView};
use super::{io_err, CliError};
use edgeflag_evaluator::format::{Header, FORMAT_VERSION, MAGIC};
use edgeflag_evaluator::Ruleset;
use std::fmt::Write;
use std::path::Path;

/// One side of the diff: rulesets by environment name.
fn load(path: &Path) -> Result<Vec<(String, Ruleset)>, CliError> {
    if path.is_file() {
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        if bytes.starts_with(&MAGIC) {
            let rs = Ruleset::from_bytes(&bytes).map_err(|source| CliError::Decode {
                path: path.display().to_string(),
                source,
            })?;
            return Ok(vec![(rs.header().environment.clone(), rs)]);
        }
    }
    let envs = edgeflag_compiler::compile_path(path).map_err(CliError::Diagnostics)?;
    envs.into_iter()
        .map(|env| {
            let header = Header {
                format_version: FORMAT_VERSION,
                environment: env.name.clone(),
                version: 0,
                created_at_ms: 0,
                body_len: 0,
                checksum: 0,
                signature_alg: 0,
            };
            let rs = Ruleset::from_body(header, env.body).map_err(|source| CliError::Decode {
                path: path.display().to_string(),
                source,
            })?;
            Ok((env.name, rs))
        })
        .collect()
}

fn find<'a>(side: &'a [(String, Ruleset)], name: &str) -> Option<&'a Ruleset> {
    side.iter().find(|(n, _)| n == name).map(|(_, r)| r)
}

pub fn run(a: &Path, b: &Path, env: Option<&str>, exit_code: bool) -> Result<bool, CliError> {
    let old = load(a)?;
    let new = load(b)?;
    let mut pairs: Vec<(String, Option<&Ruleset>, Option<&Ruleset>)> = Vec::new();
    if old.len() == 1 && new.len() == 1 && env.is_none() {
        let name = if old[0].0 == new[0].0 {
            old[0].0.clone()
        } else {
            format!("{} → {}", old[0].0, new[0].0)
        };
        pairs.push((name, Some(&old[0].1), Some(&new[0].1)));
    } else {
        let mut names: Vec<&str> = old.iter().map(|(n, _)| n.as_str()).collect();
        for (n, _) in &new {
            if !names.contains(&n.as_str()) {
                names.push(n);
            }
        }
        for name in names {
            if env.is_some_and(|e| e != name) {
                continue;
            }
            pairs.push((name.to_owned(), find(&old, name), find(&new, name)));
        }
        if let Some(e) = env {
            if pairs.is_empty() {
                return Err(CliError::Usage(format!(
                    "no environment {e:?} on either side"
                )));
            }
        }
    }
    let mut out = String::new();
    for (name, a, b) in pairs {
        let text = match (a, b) {
            (Some(a), Some(b)) => diff_rulesets(a, b),
            (None, Some(_)) => "  + environment added\n".to_owned(),
            (Some(_), None) => "  - environment removed\n".to_owned(),
            (None, None) => String::new(),
        };
        if !text.is_empty() {
            let _ = writeln!(out, "environment {name}:");
            out.push_str(&text);
        }
    }
    if out.is_empty() {
        println!("no changes");
        return Ok(true);
    }
    print!("{out}");
    Ok(!exit_code)
}

/// The changes from `a` to `b`, one line per change, indented; empty when equal.
pub fn diff_rulesets(a: &Ruleset, b: &Ruleset) -> String {
    let mut out = String::new();
    let (fa, fb) = (describe::flags(a), describe::flags(b));
    for f in &fb {
        match fa.iter().find(|x| x.key == f.key) {
            None => {
                let state = if f.enabled { "on" } else { "OFF" };
                let _ = writeln!(
                    out,
                    "  + flag {} ({}, {state}, {} rules)",
                    f.key,
                    f.kind,
                    f.rules.len()
                );
            }
            Some(old) => flag_changes(&mut out, old, f),
        }
    }
    for f in &fa {
        if !fb.iter().any(|x| x.key == f.key) {
            let _ = writeln!(out, "  - flag {}", f.key);
        }
    }
    let (sa, sb) = (describe::segments(a), describe::segments(b));
    for s in &sb {
        match sa.iter().find(|x| x.key == s.key) {
            None => {
                let _ = writeln!(out, "  + segment {}", s.key);
            }
            Some(old) => segment_changes(&mut out, old, s),
        }
    }
    for s in &sa {
        if !sb.iter().any(|x| x.key == s.key) {
            let _ = writeln!(out, "  - segment {}", s.key);
        }
    }
    out
}

fn set_changes(lines: &mut Vec<String>, what: &str, old: &[String], new: &[String]) {
    let added: Vec<&str> = new
        .iter()
        .filter(|x| !old.contains(x))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = old
        .iter()
        .filter(|x| !new.contains(x))
        .map(String::as_str)
        .collect();
    if !added.is_empty() {
        lines.push(format!("{what}: + {}", added.join(", ")));
    }
    if !removed.is_empty() {
        lines.push(format!("{what}: - {}", removed.join(", ")));
    }
}

fn list_changes(lines: &mut Vec<String>, what: &str, old: &[String], new: &[String]) {
    for i in 0..old.len().max(new.len()) {
        match (old.get(i), new.get(i)) {
            (Some(x), Some(y)) if x != y => {
                lines.push(format!("{what} {}: {x}", i + 1));
                lines.push(format!(
                    "{}  → {y}",
                    " ".repeat(what.len() + 2 + (i + 1).to_string().len())
                ));
            }
            (None, Some(y)) => lines.push(format!("{what} {} added: {y}", i + 1)),
            (Some(x), None) => lines.push(format!("{what} {} removed: {x}", i + 1)),
            _ => {}
        }
    }
}

fn flag_changes(out: &mut String, a: &FlagView, b: &FlagView) {
    if a == b {
        return;
    }
    let mut lines = Vec::new();
    if a.enabled != b.enabled {
        lines.push(if b.enabled {
            "kill switch released: OFF → on".to_owned()
        } else {
            "KILL SWITCH: on → OFF".to_owned()
        });
    }
    if a.kind != b.kind {
        lines.push(format!("type: {} → {}", a.kind, b.kind));
    }
    if a.client_side != b.client_side {
        lines.push(format!(
            "client_side: {} → {}",
            a.client_side, b.client_side
        ));
    }
    set_changes(&mut lines, "variations", &a.variations, &b.variations);
    if a.off_variation != b.off_variation {
        lines.push(format!(
            "off variation: {} → {}",
            a.off_variation, b.off_variation
        ));
    }
    list_changes(
        &mut lines,
        "prerequisite",
        &a.prerequisites,
        &b.prerequisites,
    );
    set_changes(&mut lines, "targets", &a.targets, &b.targets);
    list_changes(&mut lines, "rule", &a.rules, &b.rules);
    if a.fallthrough != b.fallthrough {
        lines.push(format!(
            "fallthrough: {} → {}",
            a.fallthrough, b.fallthrough
        ));
    }
    let _ = writeln!(out, "  ~ flag {}", b.key);
    for l in lines {
        let _ = writeln!(out, "      {l}");
    }
}

fn segment_changes(out: &mut String, a: &SegmentView, b: &SegmentView) {
    if a == b {
        return;
    }
    let mut lines = Vec::new();
    set_changes(&mut lines, "include", &a.include, &b.include);
    set_changes(&mut lines, "exclude", &a.exclude, &b.exclude);
    list_changes(&mut lines, "rule", &a.rules, &b.rules);
    let _ = writeln!(out, "  ~ segment {}", b.key);
    for l in lines {
        let _ = writeln!(out, "      {l}");
    }
}
