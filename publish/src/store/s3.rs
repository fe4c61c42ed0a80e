//! An S3 bucket (AWS or any S3-compatible store) as an object store, through
//! aws-sdk-s3 with the standard credential chain.

use super::{Condition, Object, Put, StoreError};
use crate::layout::Kind;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

/// Connection settings beyond the standard AWS chain.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// A custom endpoint (an S3-compatible store); implies path-style addressing.
    pub endpoint_url: Option<String>,
    /// Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`.
    pub path_style: bool,
}

/// A bucket and key prefix.
#[derive(Debug)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

/// S3 ETags are quoted on the wire; some stores and SDK paths hand them back bare.
fn quoted(etag: &str) -> String {
    if etag.starts_with('"') || etag.starts_with("W/") {
        etag.to_string()
    } else {
        format!("\"{etag}\"")
    }
}

impl S3Store {
    /// Resolves credentials and region (default `us-east-1` when the chain has
    /// none) and builds a client.
    pub async fn new(bucket: String, prefix: String, opts: &S3Options) -> S3Store {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(endpoint) = &opts.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            // Only what S3 requires: S3-compatible stores differ in their support
            // for the newer default checksums.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if shared.region().is_none() {
            config = config.region(Region::new("us-east-1"));
        }
        if opts.path_style || opts.endpoint_url.is_some() {
            config = config.force_path_style(true);
        }
        S3Store {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            bucket,
            prefix,
        }
    }

    fn full_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    fn error(&self, op: &'static str, key: String, e: impl std::error::Error) -> StoreError {
        StoreError::S3 {
            op,
            bucket: self.bucket.clone(),
            key,
            message: DisplayErrorContext(e).to_string(),
        }
    }

    pub(super) async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        let full = self.full_key(key);
        let resp = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await;
        let out = match resp {
            Ok(out) => out,
            Err(e) => {
                let missing = e.as_service_error().is_some_and(|s| s.is_no_such_key())
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
                if missing {
                    return Ok(None);
                }
                return Err(self.error("GetObject", full, e));
            }
        };
        let etag = out.e_tag().map(quoted).unwrap_or_default();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| self.error("GetObject", full.clone(), e))?
            .into_bytes()
            .to_vec();
        Ok(Some(Object { bytes, etag }))
    }

    pub(super) async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        cond: &Condition,
    ) -> Result<Put, StoreError> {
        let full = self.full_key(key);
        let kind = Kind::of(key);
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&full)
            .body(ByteStream::from(bytes));
        if let Some(kind) = kind {
            req = req
                .content_type(kind.content_type())
                .cache_control(kind.cache_control());
        }
        req = match cond {
            Condition::Absent => req.if_none_match("*"),
            Condition::Matches(etag) => req.if_match(etag),
        };
        match req.send().await {
            Ok(_) => Ok(Put::Written),
            Err(e) => {
                // 412: the precondition failed; 409: a concurrent conditional
                // write to the same key is in flight. Both mean "someone else".
                let status = e.raw_response().map(|r| r.status().as_u16());
                if matches!(status, Some(412 | 409)) {
                    Ok(Put::Conflict)
                } else {
                    Err(self.error("PutObject", full, e))
                }
            }
        }
    }
}
