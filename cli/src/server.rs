//! `edgeflag server`: the control plane (admin API, audit log, tokens) and the
//! origin in one process, on embedded defaults or PostgreSQL.

use super::CliError;
use edgeflag_publish::dest::Destination;
use edgeflag_publish::store::S3Options;
use edgeflag_server::change::SignWith;
use edgeflag_server::{Config, Server, BOOTSTRAP_TOKEN_ENV};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `edgeflag server`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The data directory: the SQLite database (`edgeflag.db`) and the
    /// published rulesets (`published/`), made when missing.
    #[arg(long, default_value = "edgeflag-data")]
    data: PathBuf,
    /// Address to listen on for the API and the origin (`127.0.0.1:0` picks a
    /// free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The database: `postgres://user@host:port/db` (several servers may share
    /// it) or `sqlite://PATH`. Default: SQLite in the data directory.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Where to publish: `s3://bucket/prefix` (with S3 conditional writes) or
    /// a directory. Default: `published/` in the data directory. Several
    /// servers on one PostgreSQL must share it; each serves what any of them
    /// publishes (they tell each other by LISTEN/NOTIFY).
    #[arg(long, value_name = "DEST")]
    publish: Option<Destination>,
    /// S3 endpoint of an S3-compatible store (e.g. http://127.0.0.1:3900);
    /// implies path-style addressing. Default: the AWS chain (`AWS_ENDPOINT_URL`…).
    #[arg(long, requires = "publish")]
    endpoint_url: Option<String>,
    /// Address buckets by path (`endpoint/bucket/key`).
    #[arg(long, requires = "publish")]
    path_style: bool,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// How published rulesets are signed.
    #[command(flatten)]
    signing: super::keys::SigningArgs,
}

/// Starts the server and runs until Ctrl-C or SIGTERM. Prints where it
/// listens, what it serves, and (on a first start) the admin token.
pub fn run(args: ServerArgs) -> Result<ExitCode, CliError> {
    super::serve::init_logging();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder.enable_all().build().map_err(CliError::Runtime)?;
    let sign = args.signing.load()?.map(|key| {
        let (signer, lifetime) = key.into_parts();
        SignWith { signer, lifetime }
    });
    let bootstrap = std::env::var(BOOTSTRAP_TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty());
    let config = Config::new(args.data.clone())
        .listen(args.listen)
        .database(args.database)
        .bootstrap_token(bootstrap)
        .sign(sign)
        .publish(
            args.publish,
            S3Options {
                endpoint_url: args.endpoint_url,
                path_style: args.path_style,
            },
        );
    runtime.block_on(async {
        let server = Server::start(config).await?;
        let addr = server.local_addr().map_err(CliError::Runtime)?;
        outln!("listening on http://{addr}");
        outln!("  admin API:  http://{addr}/api/v1/ (OpenAPI: /api/v1/openapi.json)");
        for (env, v) in server.origin().versions() {
            outln!("  ruleset:    http://{addr}/{env}/current.efr (v{v})");
        }
        if let Some(secret) = server.setup_secret() {
            outln!("no dashboard user yet: open this one-time link to make the first admin:");
            outln!("  http://{addr}/?setup={secret}");
        }
        match server.first_token() {
            Some(token) => {
                outln!("first start: an admin token was made; it is shown only now:");
                outln!("  export EDGEFLAG_TOKEN={token}");
                outln!("  curl -H \"Authorization: Bearer $EDGEFLAG_TOKEN\" http://{addr}/api/v1/flags");
            }
            None => outln!("  sign in with an existing token (or ${BOOTSTRAP_TOKEN_ENV})"),
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        server.run_until(edgeflag_origin::shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}
