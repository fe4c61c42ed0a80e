//! `edgeflag serve`: arguments, logging and the runtime around
//! [`edgeflag_origin::Origin`].

use super::CliError;
use edgeflag_origin::{Config, Cors, OfrepKeys, Origin};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    /// Close a connection whose request head is not complete this long after
    /// its first byte, e.g. `10s` or `500ms`.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = super::duration::parse)]
    header_read_timeout: Duration,
    /// Close a connection with no request in flight and nothing sent (a fresh
    /// one, or keep-alive between requests) for this long. Open event streams
    /// are in flight and are never cut by it.
    #[arg(long, value_name = "DURATION", default_value = "75s", value_parser = super::duration::parse)]
    idle_timeout: Duration,
    /// Open connections at most; one more is answered 503 with Retry-After and
    /// closed. Keep it below the open-file limit (`ulimit -n`).
    #[arg(long, value_name = "N", default_value_t = edgeflag_origin::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Open event streams (/<env>/events) at most, all environments together;
    /// one more is answered 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = edgeflag_origin::DEFAULT_MAX_SUBSCRIBERS)]
    max_subscribers: usize,
    /// A browser origin (scheme://host[:port]) allowed to read current.efr,
    /// versions/*.efr and events across origins; repeat for several. Default
    /// `*` (any); `none` sends no CORS headers. /metrics, /healthz, manifests and
    /// audit records never carry CORS headers.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Require an OFREP key for /<env>/ofrep/v1/evaluate/...: a file of lines
    /// `server <env> <token>` or `client <env> <token>` (`#` comments). Client
    /// keys see only client-side flags. Refused when every user may read it.
    /// Without it OFREP is open, like the ruleset files.
    #[arg(long, value_name = "FILE")]
    ofrep_keys: Option<PathBuf>,
    /// OFREP requests a second per key (for the whole origin without keys);
    /// beyond it 429 with Retry-After. 0: no limit.
    #[arg(long, value_name = "N", default_value_t = edgeflag_origin::DEFAULT_OFREP_RATE)]
    ofrep_rate: u32,
    /// Keys the served files must be signed by.
    #[command(flatten)]
    trust: super::keys::TrustArgs,
    /// How `--watch` publishes are signed (and signed again before they lapse).
    #[command(flatten)]
    signing: super::keys::SigningArgs,
}

/// Logs to stderr, filtered by `$EDGEFLAG_LOG` (default `info`); as JSON lines
/// when `$EDGEFLAG_LOG_FORMAT=json`.
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EDGEFLAG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    if std::env::var("EDGEFLAG_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

/// Starts the runtime and serves until Ctrl-C or SIGTERM. Prints `listening on
/// http://ADDR` on stdout once the socket is bound, then one line per served
/// environment.
pub fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    init_logging();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder.enable_all().build().map_err(CliError::Runtime)?;
    let cors = Cors::from_values(&args.cors_origins)?;
    let ofrep_keys = args
        .ofrep_keys
        .as_deref()
        .map(OfrepKeys::load)
        .transpose()?;
    let mut config = Config::new(args.dir)
        .listen(args.listen)
        .header_read_timeout(args.header_read_timeout)
        .idle_timeout(args.idle_timeout)
        .max_connections(args.max_connections.max(1))
        .max_subscribers(args.max_subscribers)
        .cors(cors)
        .ofrep_keys(ofrep_keys)
        .ofrep_rate(args.ofrep_rate)
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
