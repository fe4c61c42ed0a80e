//! `edgeflag push` and `edgeflag pull`: flags as code through a server's API
//! (`PUT`/`GET /api/v1/project`), with the token from `$EDGEFLAG_TOKEN`.

use super::{io_err, CliError};
use serde_json::{json, Value};
use std::path::Path;
use std::process::ExitCode;

/// The environment variable holding the API token.
pub const TOKEN_ENV: &str = "EDGEFLAG_TOKEN";

fn token() -> Result<String, CliError> {
    std::env::var(TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| CliError::Usage(format!("set ${TOKEN_ENV} to an API token of the server")))
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

/// Sends a request and returns the JSON answer, or the server's error as a
/// [`CliError::Remote`] with every problem it listed.
async fn call(req: reqwest::RequestBuilder, what: &str) -> Result<Value, CliError> {
    let resp = req
        .send()
        .await
        .map_err(|e| CliError::Remote(format!("{what}: {e}")))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| CliError::Remote(format!("{what}: {e}")))?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status.is_success() {
        return Ok(body);
    }
    let message = body["message"]
        .as_str()
        .map_or_else(|| body.to_string(), str::to_owned);
    Err(CliError::Remote(format!("{what}: {status}: {message}")))
}

fn api(server: &str, path: &str) -> String {
    format!("{}/api/v1/{path}", server.trim_end_matches('/'))
}

/// `edgeflag push SRC --server URL [--dry-run] [--comment TEXT]`.
pub fn push(
    src: &Path,
    server: &str,
    dry_run: bool,
    comment: Option<&str>,
) -> Result<ExitCode, CliError> {
    let files = edgeflag_compiler::documents::read_sources(src).map_err(|diagnostics| {
        CliError::Invalid {
            src: src.to_path_buf(),
            diagnostics,
        }
    })?;
    let files: Vec<Value> = files
        .into_iter()
        .map(|(name, text)| json!({"name": name, "text": text}))
        .collect();
    let token = token()?;
    let body = json!({"files": files, "dry_run": dry_run, "comment": comment});
    let answer = runtime()?.block_on(call(
        reqwest::Client::new()
            .put(api(server, "project"))
            .bearer_auth(token)
            .json(&body),
        "push",
    ))?;
    let resources = answer["resources"].as_array().cloned().unwrap_or_default();
    if resources.is_empty() {
        outln!("no changes: the server already has {}", src.display());
        return Ok(ExitCode::SUCCESS);
    }
    for r in &resources {
        let mark = match r["change"].as_str() {
            Some("created") => '+',
            Some("deleted") => '-',
            _ => '~',
        };
        outln!(
            "{mark} {} {}",
            r["kind"].as_str().unwrap_or(""),
            r["key"].as_str().unwrap_or("")
        );
    }
    for env in answer["changes"].as_array().into_iter().flatten() {
        outln!("{}:", env["environment"].as_str().unwrap_or(""));
        for line in env["lines"].as_array().into_iter().flatten() {
            outln!("  {}", line.as_str().unwrap_or(""));
        }
    }
    if dry_run {
        outln!(
            "dry run: nothing applied (the server is at revision {})",
            answer["revision"]
        );
    } else {
        let published: Vec<String> = answer["published"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["new"] == true)
            .map(|p| {
                format!(
                    "{} v{}",
                    p["environment"].as_str().unwrap_or(""),
                    p["version"]
                )
            })
            .collect();
        outln!(
            "applied as revision {}; published {}",
            answer["revision"],
            if published.is_empty() {
                "nothing new".to_owned()
            } else {
                published.join(", ")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `edgeflag pull --server URL --out DIR`: writes the project's files, and
/// removes `.json` files under `DIR/flags` and `DIR/segments` the server no
/// longer has.
pub fn pull(server: &str, out: &Path) -> Result<ExitCode, CliError> {
    let token = token()?;
    let answer = runtime()?.block_on(call(
        reqwest::Client::new()
            .get(api(server, "project"))
            .bearer_auth(token),
        "pull",
    ))?;
    let mut written = std::collections::BTreeSet::new();
    for f in answer["files"].as_array().into_iter().flatten() {
        let (Some(name), Some(text)) = (f["name"].as_str(), f["text"].as_str()) else {
            return Err(CliError::Remote("pull: a file without name or text".into()));
        };
        // The server names files `project.json`, `flags/<key>.json`,
        // `segments/<key>.json`; anything else (`..`, absolute) is refused.
        let safe = Path::new(name)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !safe {
            return Err(CliError::Remote(format!(
                "pull: refusing the file name {name:?}"
            )));
        }
        let path = out.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        std::fs::write(&path, text).map_err(io_err(&path))?;
        written.insert(path);
    }
    let mut removed = 0;
    for sub in ["flags", "segments"] {
        let dir = out.join(sub);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") && !written.contains(&path) {
                std::fs::remove_file(&path).map_err(io_err(&path))?;
                removed += 1;
            }
        }
    }
    outln!(
        "wrote {} files of revision {} to {}{}",
        written.len(),
        answer["revision"],
        out.display(),
        if removed > 0 {
            format!(" (removed {removed} no longer on the server)")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
