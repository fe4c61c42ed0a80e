//! `edgeflag eval`: detailed results as JSON.

use super::{io_err, load_ruleset, CliError};
use edgeflag_evaluator::json::parse_context;
use edgeflag_evaluator::{Context, Ruleset};
use serde_json::{Map, Value};
use std::io::{BufRead, BufWriter, ErrorKind, Write};
use std::path::Path;
use std::process::ExitCode;

fn results(rs: &Ruleset, ctx: &Context, flag: Option<&str>) -> Value {
    match flag {
        Some(key) => to_value(&rs.evaluate(key, ctx)),
        None => {
            let mut m = Map::new();
            for (key, detail) in rs.all_flags(ctx) {
                m.insert(key.to_owned(), to_value(&detail));
            }
            Value::Object(m)
        }
    }
}

fn to_value(d: &edgeflag_evaluator::Detail<'_>) -> Value {
    serde_json::to_value(d).unwrap_or(Value::Null)
}

pub fn run(
    ruleset: &Path,
    context: Option<&str>,
    contexts: Option<&Path>,
    flag: Option<&str>,
) -> Result<ExitCode, CliError> {
    let rs = load_ruleset(ruleset)?;
    if let Some(text) = context {
        let ctx = parse_context(text).map_err(CliError::Context)?;
        let out = serde_json::to_string_pretty(&results(&rs, &ctx, flag)).unwrap_or_default();
        outln!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(path) = contexts else {
        return Err(CliError::Usage("give --context or --contexts".into()));
    };
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut ok = true;
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io_err(path))?;
        if line.trim().is_empty() {
            continue;
        }
        let lineno = i + 1;
        let value = match parse_context(&line) {
            Ok(ctx) => results(&rs, &ctx, flag),
            Err(e) => {
                ok = false;
                let msg = format!("{}:{lineno}: invalid context: {e}", path.display());
                errln!("error: {msg}");
                serde_json::json!({ "error": msg, "line": lineno })
            }
        };
        let text = serde_json::to_string(&value).unwrap_or_default();
        match writeln!(out, "{text}") {
            Ok(()) => {}
            // Nobody reads the answers any more (`| head`): stop evaluating.
            Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(status(ok)),
            Err(e) => return Err(io_err(Path::new("<stdout>"))(e)),
        }
    }
    match out.flush() {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => {
            return Err(io_err(Path::new("<stdout>"))(e))
        }
        _ => {}
    }
    // Every line was answered; the bad ones are reported and fail the command.
    Ok(status(ok))
}

fn status(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
