//! Errors of the client: [`ClientError`] (configuration, returned by
//! [`ClientBuilder::start`](super::ClientBuilder::start)) and the private
//! [`FetchError`] (one failed poll, recorded in the status and logged).

use edgeflag_evaluator::accept::Refusal;
use edgeflag_evaluator::format::DecodeError;
use edgeflag_evaluator::signature::KeyError;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// Why a [`Client`](super::Client) could not start.
///
/// Failures while running (origin down, refused downloads…) never surface as
/// errors: the client keeps its last good ruleset and reports them in
/// [`Status::last_error`](super::Status::last_error).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The ruleset URL does not parse or is not `http`/`https`.
    #[error("invalid ruleset URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A builder setting is out of range.
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// The bootstrap file could not be read.
    #[error("cannot read bootstrap file {path}: {source}")]
    BootstrapFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bootstrap bytes are not a valid ruleset.
    #[error("bootstrap ruleset refused: {0}")]
    Bootstrap(#[source] DecodeError),
    /// The bootstrap ruleset is valid but the acceptance policy refuses it: with
    /// trusted keys, it is unsigned, signed by another key, or its signature does
    /// not match.
    #[error("bootstrap ruleset refused ({kind}): {0}", kind = .0.kind())]
    BootstrapRefused(#[source] Refusal),
    /// A [`trust_file`](super::ClientBuilder::trust_file) could not be read.
    #[error("cannot read trusted key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The trusted keys are invalid: a malformed key file, or more keys in all
    /// than a reader trusts at once.
    #[error("invalid trusted keys{}: {source}", path.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    InvalidKeys {
        /// The key file, when the problem is in one.
        path: Option<PathBuf>,
        /// What is wrong.
        #[source]
        source: KeyError,
    },
    /// The bootstrap ruleset is for another environment than the configured one.
    #[error("bootstrap ruleset is for environment {found:?}, the client expects {expected:?}")]
    EnvironmentMismatch {
        /// The environment set with [`ClientBuilder::environment`](super::ClientBuilder::environment).
        expected: String,
        /// The environment in the bootstrap ruleset's header.
        found: String,
    },
    /// [`start`](super::ClientBuilder::start) was called outside a tokio runtime.
    #[error("no tokio runtime: start the client from within a tokio runtime")]
    NoRuntime,
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("cannot build the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
}

/// Why one fetch of the ruleset failed. Recorded as text in
/// [`Status::last_error`](super::Status::last_error).
#[derive(Debug, Error)]
pub(crate) enum FetchError {
    #[error("request failed: {0}")]
    Request(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("origin answered {status}{}", retry_after.map(|d| format!(" (retry after {d:?})")).unwrap_or_default())]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("truncated download: Content-Length {expected}, received {got} bytes")]
    Truncated { expected: u64, got: usize },
    #[error("ruleset refused: {0}")]
    Decode(#[from] DecodeError),
    #[error("{}", refused_text(.0))]
    Refused(Refusal),
}

/// A refusal as the status and the logs show it, with its stable code:
/// `ruleset refused (UNSIGNED): ruleset is not signed, …`.
pub(crate) fn refused_text(refusal: &Refusal) -> String {
    format!("ruleset refused ({}): {refusal}", refusal.kind())
}

impl FetchError {
    /// The policy's refusal, when that is what this is.
    pub(crate) fn refusal(&self) -> Option<&Refusal> {
        match self {
            FetchError::Refused(r) => Some(r),
            _ => None,
        }
    }

    /// The wait the origin asked for with `Retry-After`, if any.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
