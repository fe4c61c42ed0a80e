//! `edgeflag serve`: arguments, logging and the runtime around
//! [`edgeflag_origin::Origin`].

use super::CliError;
use edgeflag_origin::{Config, Origin};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Keys the served files must be signed by.
    #[command(flatten)]
    trust: super::keys::TrustArgs,
    /// How `--watch` publishes are signed (and signed again before they lapse).
    #[command(flatten)]
    signing: super::keys::SigningArgs,
}

/// Starts the runtime and serves until Ctrl-C or SIGTERM. Prints `listening on
/// http://ADDR` on stdout once the socket is bound, then one line per served
/// environment.
pub fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
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
    let runtime = builder.enable_all().build().map_err(CliError::Runtime)?;
    let mut config = Config::new(args.dir)
        .listen(args.listen)
        .trust(args.trust.load()?);
    if let Some(key) = args.signing.load()? {
        let (signer, lifetime) = key.into_parts();
        config = config.sign(signer, lifetime);
    }
    if let Some(src) = args.watch {
        config = config.watch(src, super::publish::actor(args.actor.as_deref()));
    }
    runtime.block_on(async {
        let origin = Origin::start(config).await?;
        let addr = origin
            .local_addr()
            .map_err(edgeflag_origin::ServeError::Io)?;
        outln!("listening on http://{addr}");
        for (env, v) in origin.state().versions() {
            outln!("  http://{addr}/{env}/current.efr (v{v})");
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        origin.run_until(edgeflag_origin::shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}
