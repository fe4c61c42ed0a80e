//! `edgeflag validate` and `edgeflag compile`.

use super::{io_err, CliError};
use edgeflag_compiler::{compile_path, CompiledEnv};
use edgeflag_evaluator::format::{encode, EncodeOptions};
use std::path::Path;
use std::process::ExitCode;

/// Compiles `src`, or fails with every diagnostic.
pub(crate) fn compile(src: &Path) -> Result<Vec<CompiledEnv>, CliError> {
    compile_path(src).map_err(|diagnostics| CliError::Invalid {
        src: src.to_path_buf(),
        diagnostics,
    })
}

/// `edgeflag validate SRC`.
pub fn validate(src: &Path) -> Result<ExitCode, CliError> {
    let envs = compile(src)?;
    for env in &envs {
        for (name, body) in env.rulesets() {
            let what = if body.client.is_some() {
                "client ruleset"
            } else {
                "environment"
            };
            outln!(
                "ok: {what} {name}: {} flags, {} segments",
                body.flags.len(),
                body.segments.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `edgeflag compile SRC --out DIR`.
pub fn write(src: &Path, out: &Path, version: Option<u64>) -> Result<ExitCode, CliError> {
    let envs = compile(src)?;
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let created_at_ms = edgeflag_publish::now_ms();
    // Epoch 0: compiled, never published. Every published ruleset (a later
    // epoch) replaces it, so the file works as a client's offline bootstrap.
    let version = version.unwrap_or(0);
    for env in &envs {
        for (name, body) in env.rulesets() {
            let bytes = encode(
                body,
                &EncodeOptions {
                    environment: &name,
                    version,
                    epoch: 0,
                    created_at_ms,
                },
            )?;
            let path = out.join(format!("{name}.efr"));
            edgeflag_publish::store::write_atomic(&path, &bytes)
                .map_err(|e| CliError::Publish(e.into()))?;
            outln!(
                "{}: {} flags, {} segments, {} bytes, version {version}",
                path.display(),
                body.flags.len(),
                body.segments.len(),
                bytes.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
