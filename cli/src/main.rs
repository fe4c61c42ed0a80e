//! The `edgeflag` command line: argument parsing, dispatch and printing. Each
//! subcommand lives in its own module; the work is done by the library crates
//! (`edgeflag-compiler`, `edgeflag-publish`, `edgeflag-origin`,
//! `edgeflag-evaluator`). This is the only crate that prints to stdout, and it
//! prints only through the macros of [`out`], which never panic on a closed pipe.
#![deny(clippy::print_stdout, clippy::print_stderr)]

#[macro_use]
mod out;
mod build;
mod diff;
mod duration;
mod error;
mod eval;
mod inspect;
mod keys;
mod publish;
mod remote;
mod serve;
mod server;

pub(crate) use error::{io_err, CliError};

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Feature flags as code: validate, compile, evaluate, inspect and diff rulesets.
#[derive(Debug, Parser)]
#[command(name = "edgeflag", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a flag source (file or directory); print every error, exit 1 on any.
    Validate {
        /// YAML/JSON file or directory of them.
        src: PathBuf,
    },
    /// Compile a source into one `<environment>.efr` ruleset per environment.
    Compile {
        /// YAML/JSON file or directory of them.
        src: PathBuf,
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Ruleset version to stamp (default 0). Compiled rulesets are in epoch 0,
        /// "never published": any published ruleset replaces them, so they work as
        /// a client's offline bootstrap.
        #[arg(long)]
        ruleset_version: Option<u64>,
    },
    /// Evaluate flags of a compiled ruleset for one context or a JSON-lines file.
    Eval {
        /// The compiled ruleset.
        #[arg(long)]
        ruleset: PathBuf,
        /// One context as a JSON object.
        #[arg(
            long,
            conflicts_with = "contexts",
            required_unless_present = "contexts"
        )]
        context: Option<String>,
        /// A file with one JSON context per line; prints one JSON line per context.
        #[arg(long)]
        contexts: Option<PathBuf>,
        /// Only this flag (default: every flag).
        #[arg(long)]
        flag: Option<String>,
    },
    /// Show a ruleset's header, sizes, flags and segments.
    Inspect {
        /// The compiled ruleset.
        ruleset: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show what changed between two rulesets or sources (flags added/removed, kill
    /// switches, rules, rollouts, targets, segments).
    Diff {
        /// Old: a `.efr` ruleset, or a source file/directory.
        a: PathBuf,
        /// New: a `.efr` ruleset, or a source file/directory.
        b: PathBuf,
        /// Only this environment (sources only).
        #[arg(long)]
        env: Option<String>,
        /// Exit with status 1 when there are differences.
        #[arg(long)]
        exit_code: bool,
    },
    /// Compile a source and publish each environment's ruleset as a new version
    /// to S3 or a directory (see docs/distribution.md).
    Publish {
        /// YAML/JSON file or directory of them.
        src: PathBuf,
        #[command(flatten)]
        target: publish::Target,
        /// Only these environments (repeatable; default: all).
        #[arg(long = "env")]
        envs: Vec<String>,
        /// Who is publishing, for the audit log (default: $EDGEFLAG_ACTOR,
        /// $GITHUB_ACTOR, $USER).
        #[arg(long)]
        actor: Option<String>,
        /// Publish a new version even when the rules did not change.
        #[arg(long)]
        force: bool,
        /// Begin a new epoch: clients accept this version whatever version they
        /// hold (after the destination was restored to an older state).
        #[arg(long)]
        new_epoch: bool,
        #[command(flatten)]
        signing: keys::SigningArgs,
    },
    /// Republish an earlier version's rules as a new, higher version.
    Rollback {
        #[command(flatten)]
        target: publish::Target,
        /// The environment.
        #[arg(long)]
        env: String,
        /// The version whose rules to restore.
        #[arg(long)]
        version: u64,
        /// Who is rolling back, for the audit log.
        #[arg(long)]
        actor: Option<String>,
        #[command(flatten)]
        signing: keys::SigningArgs,
    },
    /// Sign an environment's current rules again, with a fresh expiry, as a new
    /// version (run it on a schedule, well within `--expires-in`).
    Resign {
        #[command(flatten)]
        target: publish::Target,
        /// The environment (repeatable; at least one).
        #[arg(long = "env", required = true)]
        envs: Vec<String>,
        /// Who is signing, for the audit log.
        #[arg(long)]
        actor: Option<String>,
        #[command(flatten)]
        signing: keys::SigningArgs,
    },
    /// Generate an Ed25519 signing key: KEY (secret, mode 0600) and KEY.pub.
    Keygen {
        /// Where to write the secret key; the public key goes to KEY.pub.
        #[arg(long, value_name = "KEY")]
        out: PathBuf,
    },
    /// Check a ruleset's signature: exit 0 only when it is signed by a trusted
    /// key, unchanged since, and not expired.
    Verify {
        /// The ruleset file.
        ruleset: PathBuf,
        #[command(flatten)]
        trust: keys::TrustArgs,
        /// Accept an expired ruleset whose signature is good.
        #[arg(long)]
        allow_expired: bool,
    },
    /// List an environment's published versions: time, checksum, size, who, and
    /// what changed.
    History {
        #[command(flatten)]
        target: publish::Target,
        /// The environment.
        #[arg(long)]
        env: String,
        /// Print the manifest as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve a publish directory over HTTP: rulesets with ETag/304, a
    /// Server-Sent Events push channel, /healthz and /metrics.
    Serve(serve::ServeArgs),
    /// Run the control plane: the admin API, audit log and tokens over SQLite
    /// (default, in --data) or PostgreSQL, publishing every change and serving
    /// it as `serve` does, on one address.
    Server(server::ServerArgs),
    /// Make a server's project what a source tree says, as one audited change
    /// (prints the diff; token from $EDGEFLAG_TOKEN).
    Push {
        /// The source file or directory.
        src: PathBuf,
        /// The server, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        /// Only print what would change.
        #[arg(long)]
        dry_run: bool,
        /// Why, for the audit log.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Write a server's project as a source tree (JSON files) that `push` and
    /// `compile` read (token from $EDGEFLAG_TOKEN).
    Pull {
        /// The server, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        /// The directory to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Loads a compiled ruleset file.
pub(crate) fn load_ruleset(path: &Path) -> Result<edgeflag_evaluator::Ruleset, CliError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    edgeflag_evaluator::Ruleset::from_bytes(&bytes).map_err(|source| CliError::Decode {
        path: path.display().to_string(),
        source,
    })
}

/// Parses arguments, runs the command, and maps the outcome to an exit code
/// (0 success, 1 failure — including validation errors and, with `--exit-code`,
/// differences).
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate { src } => build::validate(&src),
        Command::Compile {
            src,
            out,
            ruleset_version,
        } => build::write(&src, &out, ruleset_version),
        Command::Eval {
            ruleset,
            context,
            contexts,
            flag,
        } => eval::run(
            &ruleset,
            context.as_deref(),
            contexts.as_deref(),
            flag.as_deref(),
        ),
        Command::Inspect { ruleset, json } => inspect::run(&ruleset, json),
        Command::Diff {
            a,
            b,
            env,
            exit_code,
        } => diff::run(&a, &b, env.as_deref(), exit_code),
        Command::Publish {
            src,
            target,
            envs,
            actor,
            force,
            new_epoch,
            signing,
        } => publish::publish(
            &src,
            &target,
            &envs,
            actor.as_deref(),
            force,
            new_epoch,
            &signing,
        ),
        Command::Rollback {
            target,
            env,
            version,
            actor,
            signing,
        } => publish::rollback(&target, &env, version, actor.as_deref(), &signing),
        Command::Resign {
            target,
            envs,
            actor,
            signing,
        } => publish::resign(&target, &envs, actor.as_deref(), &signing),
        Command::Keygen { out } => keys::keygen(&out),
        Command::Verify {
            ruleset,
            trust,
            allow_expired,
        } => keys::verify(&ruleset, &trust, allow_expired),
        Command::History { target, env, json } => publish::history(&target, &env, json),
        Command::Serve(args) => serve::run(args),
        Command::Server(args) => server::run(args),
        Command::Push {
            src,
            server,
            dry_run,
            comment,
        } => remote::push(&src, &server, dry_run, comment.as_deref()),
        Command::Pull { server, out } => remote::pull(&server, &out),
    };
    match result {
        Ok(code) => match out::failure() {
            // The work is done, but its report did not reach its reader.
            Some(e) => {
                errln!("error: {e}");
                ExitCode::FAILURE
            }
            None => code,
        },
        Err(e) => {
            e.report();
            ExitCode::FAILURE
        }
    }
}
