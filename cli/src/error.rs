//! [`CliError`]: everything that can make a command fail, each saying what failed.

use edgeflag_compiler::Diagnostics;
use edgeflag_evaluator::DecodeError;
use std::path::{Path, PathBuf};

/// Everything that can make a command fail.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A ruleset file does not load.
    #[error("{path}: {source}")]
    Decode {
        /// The file.
        path: String,
        /// Why it was refused.
        source: DecodeError,
    },
    /// A source has errors; all of them are in `diagnostics`.
    #[error(
        "{diagnostics}{}{} error{} in {}",
        if diagnostics.to_string().ends_with('\n') { "" } else { "\n" },
        diagnostics.len(),
        if diagnostics.len() == 1 { "" } else { "s" },
        src.display()
    )]
    Invalid {
        /// The source file or directory.
        src: PathBuf,
        /// Every error found.
        diagnostics: Diagnostics,
    },
    /// `--context` is not a valid context.
    #[error("invalid context: {0}")]
    Context(serde_json::Error),
    /// A compiled body cannot be encoded.
    #[error("{0}")]
    Encode(#[from] edgeflag_evaluator::format::EncodeError),
    /// The arguments do not fit together or name something that does not exist.
    #[error("{0}")]
    Usage(String),
    /// Publishing, rolling back or reading the history failed.
    #[error("{0}")]
    Publish(#[from] edgeflag_publish::PublishError),
    /// The origin could not start or stopped with an error.
    #[error("{0}")]
    Serve(#[from] edgeflag_origin::ServeError),
    /// A server's API refused a request or could not be reached.
    #[error("{0}")]
    Remote(String),
    /// `edgeflag server` could not start or stopped.
    #[error(transparent)]
    Server(#[from] edgeflag_server::ServerError),
    /// A `--cors-origin` value is not an origin.
    #[error("--cors-origin: {0}")]
    Cors(#[from] edgeflag_origin::CorsError),
    /// The `--ofrep-keys` file is refused.
    #[error("--ofrep-keys: {0}")]
    OfrepKeys(#[from] edgeflag_origin::OfrepKeysError),
    /// The async runtime (for network commands) could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl CliError {
    /// Prints the error on stderr: diagnostics as they are (each already says
    /// file:line:col), everything else after `error: `.
    pub fn report(&self) {
        match self {
            CliError::Invalid { .. } => errln!("{self}"),
            _ => errln!("error: {self}"),
        }
    }
}

/// Maps an I/O error on `path` to [`CliError::Io`].
pub fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        path: path.display().to_string(),
        source,
    }
}
