//! Parsing a `--to` destination: `s3://bucket/prefix`, `file:///path` or a path.

use std::fmt;
use std::path::PathBuf;

/// Where rulesets are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A local directory (the embedded default, served by `edgeflag serve`).
    Dir(PathBuf),
    /// An S3 bucket and a key prefix without leading or trailing `/` (maybe empty).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix.
        prefix: String,
    },
}

/// Why a destination string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DestinationError {
    /// `s3://` without a bucket name.
    #[error("destination {0:?}: missing bucket name (expected s3://bucket/prefix)")]
    NoBucket(String),
    /// A scheme other than `s3://` and `file://`.
    #[error("destination {0:?}: unsupported scheme (expected s3://bucket/prefix, file:///dir or a directory path)")]
    Scheme(String),
    /// An empty string.
    #[error("destination is empty")]
    Empty,
}

impl std::str::FromStr for Destination {
    type Err = DestinationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(DestinationError::Empty);
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(DestinationError::NoBucket(s.into()));
            }
            return Ok(Destination::S3 {
                bucket: bucket.into(),
                prefix: prefix.trim_matches('/').into(),
            });
        }
        if let Some(path) = s.strip_prefix("file://") {
            if path.is_empty() {
                return Err(DestinationError::Empty);
            }
            return Ok(Destination::Dir(PathBuf::from(path)));
        }
        if s.contains("://") {
            return Err(DestinationError::Scheme(s.into()));
        }
        Ok(Destination::Dir(PathBuf::from(s)))
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Dir(p) => write!(f, "{}", p.display()),
            Destination::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Destination::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        let s3 = |b: &str, p: &str| Destination::S3 {
            bucket: b.into(),
            prefix: p.into(),
        };
        assert_eq!("s3://flags".parse(), Ok(s3("flags", "")));
        assert_eq!("s3://flags/".parse(), Ok(s3("flags", "")));
        assert_eq!("s3://flags/a/b/".parse(), Ok(s3("flags", "a/b")));
        assert_eq!(
            "file:///srv/flags".parse(),
            Ok(Destination::Dir("/srv/flags".into()))
        );
        assert_eq!("out/pub".parse(), Ok(Destination::Dir("out/pub".into())));
        assert_eq!(
            "s3:///x".parse::<Destination>(),
            Err(DestinationError::NoBucket("s3:///x".into()))
        );
        assert!(matches!(
            "gs://b".parse::<Destination>(),
            Err(DestinationError::Scheme(_))
        ));
        assert_eq!(s3("b", "p").to_string(), "s3://b/p");
    }
}
