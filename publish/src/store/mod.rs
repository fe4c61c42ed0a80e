//! The object stores a destination can be: a local directory or an S3 bucket.
//! Both offer the same three operations — read with ETag, conditional write, and
//! nothing else — which is all publishing needs.

mod dir;
mod s3;

pub use dir::{write_atomic, DirStore, LOCK_TIMEOUT};
pub use s3::{S3Options, S3Store};

use crate::dest::Destination;

/// An object read from a store.
#[derive(Debug, Clone)]
pub struct Object {
    /// The content.
    pub bytes: Vec<u8>,
    /// Its strong ETag, quoted (`"…"`).
    pub etag: String,
}

/// The precondition of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Only if no object exists (`If-None-Match: *`).
    Absent,
    /// Only if the object still has this ETag (`If-Match`).
    Matches(String),
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    /// Written.
    Written,
    /// The precondition failed: someone else wrote first.
    Conflict,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A directory store's lock stayed taken past the deadline
    /// ([`DirStore::with_lock_timeout`], default [`LOCK_TIMEOUT`]).
    #[error(
        "{path}: gave up after {waited:?} waiting for the directory lock: another process \
         holds it (a running or hung `edgeflag publish`, `rollback` or `serve --watch`; \
         `fuser {path}` names it). The lock is released when that process exits, so stop \
         it and retry; do not delete the file while it runs (a second publisher would get in)"
    )]
    LockTimeout {
        /// The lock file.
        path: String,
        /// How long the write waited.
        waited: std::time::Duration,
    },
    /// An S3 request failed.
    #[error("{op} s3://{bucket}/{key}: {message}")]
    S3 {
        /// The operation (`GetObject`, `PutObject`).
        op: &'static str,
        /// Bucket.
        bucket: String,
        /// Full key.
        key: String,
        /// The SDK's error with its context.
        message: String,
    },
}

/// A destination opened for reading and writing.
#[derive(Debug)]
pub enum Store {
    /// A local directory.
    Dir(DirStore),
    /// An S3 bucket.
    S3(S3Store),
}

impl Store {
    /// Opens a destination (for S3: resolves credentials and region from the
    /// standard AWS chain, with `opts` overriding the endpoint).
    pub async fn open(dest: &Destination, opts: &S3Options) -> Store {
        match dest {
            Destination::Dir(root) => Store::Dir(DirStore::new(root.clone())),
            Destination::S3 { bucket, prefix } => {
                Store::S3(S3Store::new(bucket.clone(), prefix.clone(), opts).await)
            }
        }
    }

    /// Reads `key`; `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        match self {
            Store::Dir(s) => s.get(key),
            Store::S3(s) => s.get(key).await,
        }
    }

    /// Writes `key` if `cond` holds, with the Content-Type and Cache-Control of
    /// its [`Kind`](crate::layout::Kind).
    pub async fn put(&self, key: &str, bytes: Vec<u8>, cond: Condition) -> Result<Put, StoreError> {
        match self {
            Store::Dir(s) => s.put(key, &bytes, &cond),
            Store::S3(s) => s.put(key, bytes, &cond).await,
        }
    }
}
