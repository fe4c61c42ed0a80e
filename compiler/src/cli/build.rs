//! `edgeflag validate` and `edgeflag compile`.

use super::{io_err, CliError};
use edgeflag_compiler::{compile_path, CompiledEnv};
use edgeflag_evaluator::format::{encode, EncodeOptions};
use std::path::Path;

pub(crate) fn compile_or_report(src: &Path) -> Result<Vec<CompiledEnv>, CliError> {
    compile_path(src).map_err(|d| {
        eprint!("{d}");
        if !d.to_string().ends_with('\n') {
            eprintln!();
        }
        eprintln!(
            "{} error{} in {}",
            d.len(),
            if d.len() == 1 { "" } else { "s" },
            src.display()
        );
        CliError::Reported
    })
}

pub fn validate(src: &Path) -> Result<bool, CliError> {
    let envs = compile_or_report(src)?;
    for env in &envs {
        println!(
            "ok: environment {}: {} flags, {} segments",
            env.name,
            env.body.flags.len(),
            env.body.segments.len()
        );
    }
    Ok(true)
}

pub fn compile(src: &Path, out: &Path, version: Option<u64>) -> Result<bool, CliError> {
    let envs = compile_or_report(src)?;
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let created_at_ms = crate::publish::now_ms();
    let version = version.unwrap_or(created_at_ms.max(1) as u64);
    for env in &envs {
        let bytes = encode(
            &env.body,
            &EncodeOptions {
                environment: &env.name,
                version,
                created_at_ms,
            },
        )?;
        let path = out.join(format!("{}.efr", env.name));
        crate::publish::store::write_atomic(&path, &bytes)
            .map_err(|e| CliError::Publish(e.into()))?;
        println!(
            "{}: {} flags, {} segments, {} bytes, version {version}",
            path.display(),
            env.body.flags.len(),
            env.body.segments.len(),
            bytes.len()
        );
    }
    Ok(true)
}
