//! `edgeflag diff`: what changed between two rulesets or sources, for code review.
//! The changes are computed by [`edgeflag_compiler::diff`]; this prints them.

use super::{io_err, CliError};
use edgeflag_compiler::diff;
use edgeflag_evaluator::format::MAGIC;
use edgeflag_evaluator::Ruleset;
use std::fmt::Write;
use std::path::Path;
use std::process::ExitCode;

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
    let envs = super::build::compile(path)?;
    envs.into_iter()
        .map(|env| {
            let rs = env.to_ruleset().map_err(|source| CliError::Decode {
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

/// `edgeflag diff A B [--env NAME] [--exit-code]`.
pub fn run(a: &Path, b: &Path, env: Option<&str>, exit_code: bool) -> Result<ExitCode, CliError> {
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
            (Some(a), Some(b)) => diff::to_text(&diff::diff(a, b)),
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
        outln!("no changes");
        return Ok(ExitCode::SUCCESS);
    }
    out!("{out}");
    Ok(if exit_code {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
