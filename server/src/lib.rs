//! # edgeflag-server
//!
//! The control plane behind `edgeflag server`: the admin API ([`api`]) over a
//! database ([`db`]: SQLite in the data directory by default, or PostgreSQL),
//! tokens and roles ([`auth`]), the audit log, and the origin
//! (`edgeflag_origin`) serving what it publishes — one process, one address.
//!
//! Every change takes one path ([`change`]): validated by the compiler
//! ([`project`]: the same messages, located by JSON path), committed with its
//! audit records, published (signed when a key is configured), then answered.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let server = edgeflag_server::Server::start(
//!     edgeflag_server::Config::new("./edgeflag-data".into()),
//! )
//! .await?;
//! println!("listening on http://{}", server.local_addr()?);
//! server.run_until(std::future::pending()).await?;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]
// Only the `edgeflag` binary talks to the terminal.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod api;
pub mod auth;
pub mod change;
pub mod dashboard;
pub mod db;
pub mod metrics;
pub mod project;
pub mod served;
pub mod users;

use auth::{Identity, Role};
use change::{Edit, Engine, Expect, Request, SignWith, Target};
use db::Backend;
use edgeflag_origin::Origin;
use edgeflag_publish::dest::Destination;
use edgeflag_publish::store::{S3Options, Store};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The environments a new project starts with.
pub const DEFAULT_ENVIRONMENTS: [&str; 2] = ["staging", "production"];

/// The environment variable whose value becomes an admin token at start (for
/// automation: no setup step).
pub const BOOTSTRAP_TOKEN_ENV: &str = "EDGEFLAG_BOOTSTRAP_TOKEN";

/// How often a committed but unpublished change is retried.
const REPAIR_EVERY: Duration = Duration::from_secs(5);

/// How to run the server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The data directory: `edgeflag.db` (SQLite) and `published/`.
    pub data: PathBuf,
    /// The database URL (default `sqlite://<data>/edgeflag.db`).
    pub database: Option<String>,
    /// Where to listen.
    pub listen: SocketAddr,
    /// A token to accept as an admin's (also read from
    /// [`BOOTSTRAP_TOKEN_ENV`] by the CLI).
    pub bootstrap_token: Option<String>,
    /// How published rulesets are signed.
    pub sign: Option<SignWith>,
    /// Where rulesets are published (default: `<data>/published`, which the
    /// origin serves). Several servers on one PostgreSQL must share it.
    pub publish: Option<Destination>,
    /// How to reach an S3-compatible store.
    pub s3: S3Options,
}

impl Config {
    /// Defaults over `data`: SQLite, 127.0.0.1:8080, unsigned.
    pub fn new(data: PathBuf) -> Config {
        Config {
            data,
            database: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            bootstrap_token: None,
            sign: None,
            publish: None,
            s3: S3Options::default(),
        }
    }

    /// Uses the database at `url` (`sqlite://…` or `postgres://…`).
    pub fn database(mut self, url: Option<String>) -> Config {
        self.database = url;
        self
    }

    /// Listens on `addr`.
    pub fn listen(mut self, addr: SocketAddr) -> Config {
        self.listen = addr;
        self
    }

    /// Accepts `token` as an admin token.
    pub fn bootstrap_token(mut self, token: Option<String>) -> Config {
        self.bootstrap_token = token;
        self
    }

    /// Signs what is published.
    pub fn sign(mut self, sign: Option<SignWith>) -> Config {
        self.sign = sign;
        self
    }

    /// Publishes to `dest` (`s3://bucket/prefix` or a directory, which the
    /// origin then serves) instead of `<data>/published`.
    pub fn publish(mut self, dest: Option<Destination>, s3: S3Options) -> Config {
        self.publish = dest;
        self.s3 = s3;
        self
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The data directory could not be made.
    #[error("data directory {path}: {source}")]
    Data {
        /// The directory.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// The first publish or the project's seeding failed.
    #[error("{0}")]
    Change(#[from] change::ChangeError),
    /// The origin could not start.
    #[error(transparent)]
    Origin(#[from] edgeflag_origin::ServeError),
    /// A bootstrap token too short to be a secret.
    #[error(
        "the bootstrap token has {0} characters; use at least 32 (e.g. `openssl rand -hex 32`)"
    )]
    WeakBootstrapToken(usize),
}

/// A started server, bound and published, not yet answering.
#[derive(Debug)]
pub struct Server {
    origin: Origin,
    app: Arc<api::App>,
    first_token: Option<String>,
    setup_secret: Option<String>,
    /// PostgreSQL: where to listen for other servers' publishes.
    listen_url: Option<String>,
}

/// The identity the server itself acts as (seeding, repairs).
fn system() -> Identity {
    Identity {
        actor: "edgeflag-server".into(),
        token_id: String::new(),
        role: Role::Admin,
        environments: None,
    }
}

impl Server {
    /// Opens (or creates) the database, seeds a new project, publishes what is
    /// committed, and binds the socket.
    pub async fn start(config: Config) -> Result<Server, ServerError> {
        let data_err = |source| ServerError::Data {
            path: config.data.display().to_string(),
            source,
        };
        // The origin serves a directory store's own directory; with S3 it
        // serves what it reads back after each publish (`served`).
        let dest = config
            .publish
            .clone()
            .unwrap_or_else(|| Destination::Dir(config.data.join("published")));
        let published = match &dest {
            Destination::Dir(dir) => dir.clone(),
            Destination::S3 { .. } => config.data.join("served"),
        };
        std::fs::create_dir_all(&config.data).map_err(data_err)?;
        std::fs::create_dir_all(&published).map_err(|source| ServerError::Data {
            path: published.display().to_string(),
            source,
        })?;
        let url = config
            .database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", config.data.join("edgeflag.db").display()));
        let db = db::Db::open(&url).await?;
        let store = Store::open(&dest, &config.s3).await;
        let origin =
            Origin::start(edgeflag_origin::Config::new(published).listen(config.listen)).await?;
        let mut engine = Engine::new(db, store, config.sign.clone());
        engine.origin = Some(origin.state().clone());
        let metrics = engine.metrics.clone();
        origin.state().metrics.extend(move || metrics.render());
        let app = Arc::new(api::App::new(engine, origin.state().clone()));
        seed(&app.engine).await?;
        let first_token = tokens(&app.engine, config.bootstrap_token.as_deref()).await?;
        app.engine.repair(true).await?;
        let mut conn = app
            .engine
            .db
            .pool
            .acquire()
            .await
            .map_err(db::DbError::from)?;
        let setup_secret = (users::count(&mut conn).await? == 0).then(|| app.new_setup_secret());
        drop(conn);
        Ok(Server {
            origin,
            app,
            first_token,
            setup_secret,
            listen_url: (Backend::of(&url) == Some(Backend::Postgres)).then_some(url),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.origin.local_addr()
    }

    /// The admin token made at this start because none existed (shown once;
    /// only its hash is stored).
    pub fn first_token(&self) -> Option<&str> {
        self.first_token.as_deref()
    }

    /// While no dashboard user exists: this start's one-time secret for
    /// making the first admin, opened as `/?setup=<secret>` (shown once).
    pub fn setup_secret(&self) -> Option<&str> {
        self.setup_secret.as_deref()
    }

    /// What the origin serves.
    pub fn origin(&self) -> &Arc<edgeflag_origin::State> {
        self.origin.state()
    }

    /// Serves the API and the origin until `stop` completes; meanwhile retries
    /// publishing a committed change whose publish failed.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let app = self.app.clone();
        let repair = tokio::spawn(async move {
            loop {
                tokio::time::sleep(REPAIR_EVERY).await;
                if let Err(e) = app.engine.repair(false).await {
                    tracing::warn!("publishing committed changes: {e}");
                }
            }
        });
        // What other servers publish, and whatever was missed.
        let app = self.app.clone();
        let sync = tokio::spawn(async move {
            loop {
                tokio::time::sleep(served::SYNC_EVERY).await;
                sync_all(&app.engine).await;
            }
        });
        let listen = self.listen_url.clone().map(|url| {
            let app = self.app.clone();
            tokio::spawn(async move {
                served::listen(url, |envs| {
                    let app = app.clone();
                    async move {
                        match envs {
                            Some(envs) => sync_envs(&app.engine, &envs).await,
                            None => sync_all(&app.engine).await,
                        }
                    }
                })
                .await
            })
        });
        let routes = api::router(self.app).merge(dashboard::router());
        let result = self.origin.run_with_until(routes, stop).await;
        repair.abort();
        sync.abort();
        if let Some(listen) = listen {
            listen.abort();
        }
        Ok(result?)
    }
}

async fn sync_envs(engine: &Engine, envs: &[String]) {
    if let Some(origin) = &engine.origin {
        served::sync(&engine.store, origin, envs).await;
    }
}

async fn sync_all(engine: &Engine) {
    sync_envs(engine, &engine.environments().await).await;
}

/// A new database gets the default environments.
async fn seed(engine: &Engine) -> Result<(), ServerError> {
    let mut conn = engine.db.pool.acquire().await.map_err(db::DbError::from)?;
    let (revision, _) = db::revisions(&mut conn).await?;
    drop(conn);
    if revision > 0 {
        return Ok(());
    }
    let who = system();
    let req = Request {
        who: &who,
        request_id: "start",
        action: "project.create",
        comment: None,
    };
    let edits: Vec<Edit> = DEFAULT_ENVIRONMENTS
        .iter()
        .map(|name| Edit {
            target: Target::Environment((*name).to_owned()),
            after: Some(serde_json::json!({ "protected": false })),
            expect: Expect::Absent,
        })
        .collect();
    engine.apply(&req, &edits).await?;
    Ok(())
}

/// Stores the bootstrap token; makes a first admin token when none exists.
async fn tokens(engine: &Engine, bootstrap: Option<&str>) -> Result<Option<String>, ServerError> {
    let mut conn = engine.db.pool.acquire().await.map_err(db::DbError::from)?;
    if let Some(secret) = bootstrap {
        if secret.len() < 32 {
            return Err(ServerError::WeakBootstrapToken(secret.len()));
        }
        if auth::identify(&mut conn, secret).await?.is_none() {
            auth::insert(
                &mut conn,
                secret,
                "bootstrap",
                Role::Admin,
                None,
                "edgeflag-server",
            )
            .await?;
        }
        return Ok(None);
    }
    if auth::count(&mut conn).await? > 0 {
        return Ok(None);
    }
    let secret = auth::new_secret("efk_");
    auth::insert(
        &mut conn,
        &secret,
        "first-admin",
        Role::Admin,
        None,
        "edgeflag-server",
    )
    .await?;
    Ok(Some(secret))
}
