//! `edgeflag serve`: arguments and logging set-up around [`crate::serve`].

use super::CliError;
use crate::serve::{self, Config};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Arguments of `edgeflag serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The publish directory to serve (what `edgeflag publish --to DIR` writes).
    #[arg(long, default_value = "published")]
    dir: PathBuf,
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Compile and publish this source into the directory at start and whenever
    /// one of its files changes.
    #[arg(long)]
    watch: Option<PathBuf>,
    /// Who `--watch` publishes as, in the audit log.
    #[arg(long)]
    actor: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// Starts the runtime and serves until interrupted.
pub fn run(args: ServeArgs) -> Result<bool, CliError> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EDGEFLAG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|source| CliError::Io {
            path: "tokio runtime".into(),
            source,
        })?;
    let config = Config {
        dir: args.dir,
        listen: args.listen,
        watch: args.watch,
        actor: crate::publish::actor(args.actor.as_deref()),
    };
    runtime.block_on(serve::serve(config))?;
    Ok(true)
}
