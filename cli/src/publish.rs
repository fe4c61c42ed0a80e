//! `edgeflag publish`, `edgeflag rollback` and `edgeflag history`.

use super::keys::{Loaded, SigningArgs};
use super::CliError;
use edgeflag_compiler::describe::rfc3339_ms;
use edgeflag_publish::dest::Destination;
use edgeflag_publish::manifest::Action;
use edgeflag_publish::store::{S3Options, Store};
use edgeflag_publish::{self as publish, Outcome, Publication};
use std::path::Path;
use std::process::ExitCode;

/// Where to publish, and how to reach an S3-compatible store.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// Destination: `s3://bucket/prefix`, `file:///dir` or a directory path.
    #[arg(long = "to")]
    pub to: Destination,
    /// S3 endpoint of an S3-compatible store (e.g. http://127.0.0.1:3900);
    /// implies path-style addressing. Default: the AWS chain (`AWS_ENDPOINT_URL`…).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Address buckets by path (`endpoint/bucket/key`).
    #[arg(long)]
    pub path_style: bool,
}

impl Target {
    fn options(&self) -> S3Options {
        S3Options {
            endpoint_url: self.endpoint_url.clone(),
            path_style: self.path_style,
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

/// Who is publishing: `--actor`, else `$EDGEFLAG_ACTOR`, `$GITHUB_ACTOR`, `$USER`.
pub fn actor(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| {
            ["EDGEFLAG_ACTOR", "GITHUB_ACTOR", "USER"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn report(env: &str, dest: &Destination, outcome: &Outcome) {
    match outcome {
        Outcome::Published {
            version,
            epoch,
            new_epoch,
            previous,
            size,
            checksum,
            changes,
        } => {
            let from = previous.map_or(String::new(), |p| format!(" (was v{p})"));
            outln!(
                "published {env} v{version}{from} to {dest}: {size} bytes, checksum {checksum:016x}"
            );
            if *new_epoch {
                outln!("  new epoch {epoch} ({})", rfc3339_ms(*epoch as i64));
            }
            for line in changes {
                outln!("  {line}");
            }
        }
        Outcome::Unchanged { version } => {
            outln!("unchanged {env}: v{version} already has these rules");
        }
    }
}

/// `edgeflag publish SRC --to DEST [--env NAME…]`.
pub fn publish(
    src: &Path,
    target: &Target,
    envs: &[String],
    actor: Option<&str>,
    force: bool,
    new_epoch: bool,
    signing: &SigningArgs,
) -> Result<ExitCode, CliError> {
    let key = signing.load()?;
    let compiled = super::build::compile(src)?;
    for wanted in envs {
        if !compiled.iter().any(|e| &e.name == wanted) {
            let known: Vec<_> = compiled.iter().map(|e| e.name.as_str()).collect();
            return Err(CliError::Usage(format!(
                "--env {wanted}: no such environment in {} (it has: {})",
                src.display(),
                known.join(", ")
            )));
        }
    }
    let actor = self::actor(actor);
    runtime()?.block_on(async {
        let store = Store::open(&target.to, &target.options()).await;
        for env in compiled
            .iter()
            .filter(|e| envs.is_empty() || envs.contains(&e.name))
        {
            for (name, body) in env.rulesets() {
                let p = Publication::new(&name, body)
                    .actor(&actor)
                    .force(force)
                    .new_epoch(new_epoch)
                    .signed(key.as_ref().map(Loaded::signing));
                let outcome = publish::publish(&store, &p).await?;
                report(&name, &target.to, &outcome);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `edgeflag rollback --to DEST --env NAME --version N`. When the environment
/// has a client ruleset at the destination, it is rolled back first to the
/// client version that was current when server version N was published.
pub fn rollback(
    target: &Target,
    env: &str,
    version: u64,
    actor: Option<&str>,
    signing: &SigningArgs,
) -> Result<ExitCode, CliError> {
    let key = signing.load()?;
    let actor = self::actor(actor);
    runtime()?.block_on(async {
        let store = Store::open(&target.to, &target.options()).await;
        let signing = key.as_ref().map(Loaded::signing);
        if let Some((client_env, client_version)) =
            paired_client_version(&store, env, version).await?
        {
            let outcome =
                publish::rollback(&store, &client_env, client_version, &actor, signing).await?;
            if let Outcome::Published { version: new, .. } = outcome {
                outln!("rolled back {client_env} to the rules of v{client_version}, as v{new}");
            }
            report(&client_env, &target.to, &outcome);
        }
        let outcome = publish::rollback(&store, env, version, &actor, signing).await?;
        if let Outcome::Published { version: new, .. } = outcome {
            outln!("rolled back {env} to the rules of v{version}, as v{new}");
        }
        report(env, &target.to, &outcome);
        Ok(ExitCode::SUCCESS)
    })
}

/// The client ruleset environment of `env` and the version of it to roll back
/// to with server version `version`; `None` when there is no client ruleset or
/// it already has those rules.
async fn paired_client_version(
    store: &Store,
    env: &str,
    version: u64,
) -> Result<Option<(String, u64)>, CliError> {
    let client_env = edgeflag_compiler::client::client_environment(env);
    if !edgeflag_compiler::is_valid_environment(&client_env) {
        return Ok(None);
    }
    let (Some(server), Some(client)) = (
        publish::history(store, env).await?,
        publish::history(store, &client_env).await?,
    ) else {
        return Ok(None);
    };
    let Some(at) = server.entry(version).map(|e| e.created_at_ms) else {
        return Ok(None); // publish::rollback reports the unknown version
    };
    let Some(then) = client.current_at(at).map(|e| e.version) else {
        return Ok(None);
    };
    // Rollbacks and re-signs republish old rules under new versions: compare
    // the rules, not the checksums.
    let body = |bytes: &[u8]| {
        edgeflag_evaluator::format::read_header(bytes)
            .map(|(_, body)| body.to_vec())
            .ok()
    };
    let read = |key: String| async move {
        store
            .get(&key)
            .await
            .map(|o| o.and_then(|o| body(&o.bytes)))
            .map_err(publish::PublishError::from)
    };
    let then_body = read(edgeflag_publish::layout::version(&client_env, then)).await?;
    let now_body = read(edgeflag_publish::layout::current(&client_env)).await?;
    Ok((then_body != now_body).then_some((client_env, then)))
}

/// `edgeflag resign --to DEST --env NAME… --signing-key KEY`: each environment
/// and, when it has one at the destination, its client ruleset.
pub fn resign(
    target: &Target,
    envs: &[String],
    actor: Option<&str>,
    signing: &SigningArgs,
) -> Result<ExitCode, CliError> {
    let Some(key) = signing.load()? else {
        return Err(CliError::Usage(
            "resign needs a signing key: --signing-key KEY or $EDGEFLAG_SIGNING_KEY".into(),
        ));
    };
    let actor = self::actor(actor);
    runtime()?.block_on(async {
        let store = Store::open(&target.to, &target.options()).await;
        for env in envs {
            let client_env = edgeflag_compiler::client::client_environment(env);
            let has_client = edgeflag_compiler::is_valid_environment(&client_env)
                && !env.ends_with(edgeflag_compiler::client::CLIENT_SUFFIX)
                && publish::history(&store, &client_env).await?.is_some();
            if has_client {
                let outcome = publish::resign(&store, &client_env, &actor, key.signing()).await?;
                report(&client_env, &target.to, &outcome);
            }
            let outcome = publish::resign(&store, env, &actor, key.signing()).await?;
            report(env, &target.to, &outcome);
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `edgeflag history --to DEST --env NAME [--json]`.
pub fn history(target: &Target, env: &str, json: bool) -> Result<ExitCode, CliError> {
    runtime()?.block_on(async {
        let store = Store::open(&target.to, &target.options()).await;
        let Some(manifest) = publish::history(&store, env).await? else {
            return Err(CliError::Usage(format!(
                "nothing published for environment {env} at {}",
                target.to
            )));
        };
        if json {
            outln!(
                "{}",
                serde_json::to_string_pretty(&manifest).unwrap_or_default()
            );
            return Ok(ExitCode::SUCCESS);
        }
        outln!("{env} at {}: latest v{}", target.to, manifest.latest);
        for e in manifest.versions.iter().rev() {
            let what = match e.action {
                Action::Publish => "publish".to_string(),
                Action::Rollback { to } => format!("rollback to v{to}"),
                Action::Resign => "re-sign".to_string(),
            };
            let at = rfc3339_ms(e.created_at_ms);
            outln!(
                "v{:<5} {at}  {:016}  {:>8} B  {what} by {}",
                e.version,
                e.checksum,
                e.size,
                e.actor
            );
            for line in &e.changes {
                outln!("         {line}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
