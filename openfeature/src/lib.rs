//! # edgeflag-openfeature
//!
//! An [OpenFeature](https://openfeature.dev) provider for edgeflag, for the Rust
//! SDK ([`open_feature`] 0.3). It resolves flags in memory against the ruleset
//! an [`edgeflag_client::Client`] keeps current: nothing on the resolve path
//! touches the network, waits, or takes a lock (the client swaps rulesets
//! through an atomic pointer).
//!
//! ## Quick start
//!
//! ```no_run
//! use edgeflag_client::Client;
//! use edgeflag_openfeature::EdgeflagProvider;
//! use open_feature::{EvaluationContext, OpenFeature};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let flags = Client::builder("http://127.0.0.1:8080/production/current.efr")
//!     .environment("production")
//!     .trust_file("/etc/myservice/edgeflag-KEY.pub")
//!     .start()?;
//! // set_provider runs initialize, which waits (at most 2 s by default) for a
//! // first ruleset.
//! OpenFeature::singleton_mut()
//!     .await
//!     .set_provider(EdgeflagProvider::new(flags))
//!     .await;
//! let client = OpenFeature::singleton().await.create_client();
//!
//! let ctx = EvaluationContext::default()
//!     .with_targeting_key("user-42")
//!     .with_custom_field("country", "DE");
//! // open-feature 0.3 takes no default value: an error comes back as `Err`, and
//! // the default is the caller's `unwrap_or`.
//! if client.get_bool_value("new-checkout", Some(&ctx), None).await.unwrap_or(false) {
//!     // new code path
//! }
//! // EvaluationError is not a std::error::Error in 0.3: match on it.
//! match client.get_int_details("max-items", Some(&ctx), None).await {
//!     Ok(d) => println!("{} ({:?}, variant {:?})", d.value, d.reason, d.variant),
//!     Err(e) => eprintln!("max-items: {} {:?}", e.code, e.message),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ## Types
//!
//! | resolve | edgeflag flags | otherwise |
//! |---|---|---|
//! | `bool` | boolean | `TYPE_MISMATCH` |
//! | `int` (`i64`) | number flags whose served value is an integer in `i64` range | `TYPE_MISMATCH` (another type, or a fraction / out of range) |
//! | `float` (`f64`) | number | `TYPE_MISMATCH` |
//! | `string` | string | `TYPE_MISMATCH` |
//! | `struct` | JSON flags whose value is an object (arrays inside it are `Value::Array`; see [`value`]) | `TYPE_MISMATCH` (another type, or a top-level JSON array) |
//!
//! ## Results
//!
//! `variant` is the name of the served variation. `reason` and the error codes
//! are edgeflag's one mapping, [`edgeflag_evaluator::openfeature`] (the cases
//! are data in `tests/vectors/openfeature.json`): `OFF` is `DISABLED`,
//! `TARGET_MATCH`/`RULE_MATCH` are `TARGETING_MATCH`, `FALLTHROUGH`, `DEFAULT`
//! and `PREREQUISITE_FAILED` are `DEFAULT`, and any of them chosen by a
//! percentage rollout is `SPLIT`. Errors (an `Err` of [`EvaluationError`], from
//! [`ResolveError`]):
//!
//! | code | when |
//! |---|---|
//! | `FLAG_NOT_FOUND` | no flag has the key |
//! | `TYPE_MISMATCH` | the flag is of another type (edgeflag's `WRONG_TYPE`), or its value does not fit (above) |
//! | `INVALID_CONTEXT` | the context has no edgeflag form; the message names the attribute |
//! | `PROVIDER_NOT_READY` | the client holds no ruleset yet (or was closed before it got one) |
//! | `PARSE_ERROR` | a JSON value that is not JSON (not from the compiler) |
//!
//! The flag metadata ([`metadata`]) carries what OpenFeature's reason leaves
//! out: the edgeflag reason kind, the matched rule's index and id, the failed
//! prerequisite, the ruleset's version, epoch and environment, and `stale` when
//! the ruleset has expired.
//!
//! ## Context
//!
//! [`context::to_context`] writes the SDK's [`EvaluationContext`] as the JSON
//! object of an OpenFeature context and applies edgeflag's one mapping,
//! [`edgeflag_evaluator::json::context_from_openfeature`]:
//!
//! - the targeting key is the context `key` (without one, a string custom field
//!   `key` is);
//! - strings, numbers and booleans are attributes of the same name;
//! - a list of strings and numbers is a list attribute;
//! - a nested structure is flattened with `.`: `address` = `{country: "DE"}` is
//!   the attribute `address.country`;
//! - a date-time is its RFC 3339 text in UTC.
//!
//! Anything else (a non-finite float, a list of booleans, a structure the SDK
//! keeps as an opaque `dyn Any`, nesting deeper than 8) is `INVALID_CONTEXT`.
//! The context is converted on every resolve: evaluating many flags for one
//! request through OpenFeature costs one conversion each (6 small allocations
//! for a targeting key alone, 21 with three more string attributes); the
//! evaluation itself allocates nothing.
//!
//! ## Status
//!
//! [`FeatureProvider::status`] follows the client ([`edgeflag_client::Status`]):
//!
//! | status | when |
//! |---|---|
//! | `NotReady` | the client holds no ruleset yet (it keeps trying with backoff) |
//! | `Ready` | it holds one |
//! | `STALE` | the ruleset it holds has expired ([`edgeflag_client::Status::stale`]): still served, no longer vouched for |
//! | `Error` | the client was closed before it got any ruleset: it never will |
//!
//! The client has no other fatal state: failed fetches and refused rulesets are
//! retried, and the last good ruleset keeps serving (also after
//! [`Client::close`], which only stops updates: `Ready` or `STALE` then). What open-feature 0.3 does
//! **not** support, and this crate therefore cannot offer:
//!
//! - **events**: 0.3 has no event API (no `PROVIDER_READY`, `PROVIDER_STALE`,
//!   `PROVIDER_CONFIGURATION_CHANGED`, `PROVIDER_ERROR` handlers). Register
//!   [`edgeflag_client::ClientBuilder::on_change`] and
//!   [`edgeflag_client::ClientBuilder::on_stale`] for notifications, or poll
//!   the provider's `status()`;
//! - **status through the SDK**: 0.3's `Client` never reads a provider's
//!   status and does not expose it; keep a clone of the provider (it is cheap)
//!   to read it. Before the first ruleset every resolve returns
//!   `PROVIDER_NOT_READY` itself;
//! - **initialize errors**: `initialize` cannot fail in 0.3. It waits for a
//!   first ruleset at most [`EdgeflagProvider::init_timeout`] and returns; the
//!   status stays `NotReady` until one arrives;
//! - **default values**: 0.3's evaluation methods take none, and hooks see the
//!   type's `Default` on errors: the caller applies its default to the `Err`;
//! - **shutdown**: the client's background task stops when the last clone of
//!   the client (the provider holds one) is dropped, e.g. when the SDK drops the
//!   provider on `OpenFeature::shutdown` or a new `set_provider`.
//!
//! ## Allocations
//!
//! A resolve allocates the context conversion (above) and the result
//! OpenFeature defines as owned: the variant name, the flag metadata (a
//! `HashMap` of `String`s: 6 to 9 allocations) and, for `string` and `struct`,
//! the value. `openfeature/tests/alloc.rs` counts them: a boolean resolve
//! through the provider is 14 allocations for a context of a targeting key, 32
//! with three more attributes (the SDK's client adds about as many again).

#![warn(missing_docs)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod context;
pub mod metadata;
pub mod value;

use edgeflag_client::{Client, ClientBuilder, ClientError};
use edgeflag_evaluator::json::ContextError;
use edgeflag_evaluator::model::ValueKind;
use edgeflag_evaluator::openfeature::{error_code_of, reason};
use edgeflag_evaluator::{Context, Detail, ErrorKind, Ruleset};
use open_feature::provider::{
    FeatureProvider, ProviderMetadata, ProviderStatus, ResolutionDetails,
};
use open_feature::{
    EvaluationContext, EvaluationError, EvaluationErrorCode, EvaluationReason, EvaluationResult,
    StructValue,
};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The provider's name in its [`ProviderMetadata`].
pub const NAME: &str = "edgeflag";

/// Default [`EdgeflagProvider::init_timeout`]: how long `initialize` (run by
/// `OpenFeature::set_provider`) waits for a first ruleset (2 s).
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a flag could not be resolved; each is an OpenFeature error code
/// ([`ResolveError::code`]) and becomes an [`EvaluationError`] with this
/// message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The client holds no ruleset yet (`PROVIDER_NOT_READY`).
    #[error("the edgeflag client holds no ruleset yet{}", last_error_suffix(.last_error))]
    NotReady {
        /// The client's last error ([`edgeflag_client::Status::last_error`]).
        last_error: Option<String>,
    },
    /// The client was closed before it got a ruleset (`PROVIDER_NOT_READY`;
    /// the provider's status is `Error`).
    #[error("the edgeflag client was closed before it received a ruleset")]
    Closed,
    /// The evaluator returned an error: `FLAG_NOT_FOUND`, or `TYPE_MISMATCH`
    /// for its `WRONG_TYPE`.
    #[error("{}", evaluation_message(.key, *.kind, *.found, .wanted))]
    Evaluation {
        /// The flag key asked for.
        key: String,
        /// What the evaluator said.
        kind: ErrorKind,
        /// The flag's type, when it exists.
        found: Option<ValueKind>,
        /// The type asked for (`boolean`, `number`, `string`, `json`).
        wanted: &'static str,
    },
    /// A number flag served a value that is not an `i64` (`TYPE_MISMATCH`).
    #[error("flag {key:?} served {value}, which is not an integer in the i64 range")]
    NotAnInteger {
        /// The flag key.
        key: String,
        /// The value served.
        value: f64,
    },
    /// A JSON flag served a value that is not an OpenFeature structure
    /// (`TYPE_MISMATCH`), or not JSON (`PARSE_ERROR`).
    #[error("flag {key:?}: {source}")]
    NotAStructure {
        /// The flag key.
        key: String,
        /// What is wrong with the value.
        source: value::StructError,
    },
    /// The evaluation context has no edgeflag form (`INVALID_CONTEXT`); the
    /// error names the attribute.
    #[error("invalid evaluation context: {0}")]
    InvalidContext(#[from] ContextError),
}

fn last_error_suffix(last: &Option<String>) -> String {
    match last {
        Some(e) => format!(" (last error: {e})"),
        None => String::new(),
    }
}

fn evaluation_message(
    key: &str,
    kind: ErrorKind,
    found: Option<ValueKind>,
    wanted: &str,
) -> String {
    match (kind, found) {
        (ErrorKind::FlagNotFound, _) | (_, None) => {
            format!("flag {key:?} not found ({})", kind.as_str())
        }
        (_, Some(found)) => format!(
            "flag {key:?} is a {} flag, resolved as {wanted} ({})",
            found.name(),
            kind.as_str()
        ),
    }
}

impl ResolveError {
    /// The OpenFeature error code.
    ///
    /// ```
    /// use edgeflag_openfeature::ResolveError;
    /// use open_feature::EvaluationErrorCode;
    /// let e = ResolveError::NotReady { last_error: None };
    /// assert_eq!(e.code(), EvaluationErrorCode::ProviderNotReady);
    /// ```
    pub fn code(&self) -> EvaluationErrorCode {
        let wrong_type = || sdk_code(error_code_of(ErrorKind::WrongType));
        match self {
            ResolveError::NotReady { .. } | ResolveError::Closed => {
                EvaluationErrorCode::ProviderNotReady
            }
            ResolveError::Evaluation { kind, .. } => sdk_code(error_code_of(*kind)),
            ResolveError::NotAnInteger { .. } => wrong_type(),
            ResolveError::NotAStructure { source, .. } => match source {
                value::StructError::NotAStructure(_) => wrong_type(),
                value::StructError::Invalid(_) => EvaluationErrorCode::ParseError,
            },
            ResolveError::InvalidContext(_) => EvaluationErrorCode::InvalidContext,
        }
    }
}

impl From<ResolveError> for EvaluationError {
    fn from(e: ResolveError) -> EvaluationError {
        EvaluationError {
            code: e.code(),
            message: Some(e.to_string()),
        }
    }
}

/// The SDK's code for an OpenFeature error code name.
fn sdk_code(code: &str) -> EvaluationErrorCode {
    match code {
        "PROVIDER_NOT_READY" => EvaluationErrorCode::ProviderNotReady,
        "FLAG_NOT_FOUND" => EvaluationErrorCode::FlagNotFound,
        "PARSE_ERROR" => EvaluationErrorCode::ParseError,
        "TYPE_MISMATCH" => EvaluationErrorCode::TypeMismatch,
        "TARGETING_KEY_MISSING" => EvaluationErrorCode::TargetingKeyMissing,
        "INVALID_CONTEXT" => EvaluationErrorCode::InvalidContext,
        other => EvaluationErrorCode::General(other.to_owned()),
    }
}

/// The SDK's reason for an OpenFeature reason name (`Other` for names 0.3 has
/// no variant for).
fn sdk_reason(reason: &str) -> EvaluationReason {
    match reason {
        "STATIC" => EvaluationReason::Static,
        "DEFAULT" => EvaluationReason::Default,
        "TARGETING_MATCH" => EvaluationReason::TargetingMatch,
        "SPLIT" => EvaluationReason::Split,
        "CACHED" => EvaluationReason::Cached,
        "DISABLED" => EvaluationReason::Disabled,
        "UNKNOWN" => EvaluationReason::Unknown,
        "ERROR" => EvaluationReason::Error,
        other => EvaluationReason::Other(other.to_owned()),
    }
}

/// The edgeflag OpenFeature provider: resolves flags against the ruleset an
/// [`edgeflag_client::Client`] holds.
///
/// Cloning is cheap (the client is an `Arc`); clones share the client. Hand one
/// to the SDK and keep one to read [`status`](FeatureProvider::status), which
/// open-feature 0.3 does not expose.
///
/// ```
/// use edgeflag_client::Client;
/// use edgeflag_evaluator::{format, model::Body};
/// use edgeflag_openfeature::{EdgeflagProvider, ResolveError};
/// use open_feature::provider::{FeatureProvider, ProviderStatus};
/// use open_feature::{EvaluationContext, EvaluationErrorCode};
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     // A client serving an (empty) bootstrap ruleset until its origin answers.
///     let empty = format::encode(&Body::default(), &format::EncodeOptions::unpublished("production")).unwrap();
///     let client = Client::builder("http://127.0.0.1:9/production/current.efr")
///         .bootstrap_bytes(empty)
///         .start()
///         .unwrap();
///     let provider = EdgeflagProvider::new(client);
///     assert_eq!(provider.status(), ProviderStatus::Ready);
///
///     let ctx = EvaluationContext::default().with_targeting_key("user-1");
///     let err = provider.resolve_bool("missing", &ctx).unwrap_err();
///     assert_eq!(err.code(), EvaluationErrorCode::FlagNotFound);
///     // The same through the trait the SDK calls:
///     let err = provider.resolve_bool_value("missing", &ctx).await.unwrap_err();
///     assert_eq!(err.code, EvaluationErrorCode::FlagNotFound);
/// });
/// ```
#[derive(Clone)]
pub struct EdgeflagProvider {
    client: Client,
    metadata: ProviderMetadata,
    init_timeout: Duration,
}

impl fmt::Debug for EdgeflagProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeflagProvider")
            .field("client", &self.client)
            .field("init_timeout", &self.init_timeout)
            .finish()
    }
}

impl From<Client> for EdgeflagProvider {
    fn from(client: Client) -> Self {
        EdgeflagProvider::new(client)
    }
}

impl EdgeflagProvider {
    /// A provider resolving against `client`'s ruleset.
    pub fn new(client: Client) -> Self {
        EdgeflagProvider {
            client,
            metadata: ProviderMetadata::new(NAME),
            init_timeout: DEFAULT_INIT_TIMEOUT,
        }
    }

    /// Starts the client `builder` configures ([`ClientBuilder::start`]: needs a
    /// tokio runtime) and wraps it.
    pub fn start(builder: ClientBuilder) -> Result<Self, ClientError> {
        builder.start().map(EdgeflagProvider::new)
    }

    /// How long `initialize` waits for the client's first ruleset (default
    /// [`DEFAULT_INIT_TIMEOUT`]; zero does not wait). The SDK holds its provider
    /// registry locked while it initializes a provider, so every evaluation
    /// waits that long too. Outside a tokio runtime it does not wait.
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.init_timeout = timeout;
        self
    }

    /// The client the provider reads.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Resolves a boolean flag (what [`FeatureProvider::resolve_bool_value`]
    /// returns, without the future).
    pub fn resolve_bool(
        &self,
        key: &str,
        ctx: &EvaluationContext,
    ) -> Result<ResolutionDetails<bool>, ResolveError> {
        let (rs, c) = self.prepare(ctx)?;
        finish(&rs, key, "boolean", rs.bool_detail(key, &c), Ok)
    }

    /// Resolves a number flag whose value is an integer in `i64` range.
    pub fn resolve_int(
        &self,
        key: &str,
        ctx: &EvaluationContext,
    ) -> Result<ResolutionDetails<i64>, ResolveError> {
        let (rs, c) = self.prepare(ctx)?;
        finish(&rs, key, "number", rs.number_detail(key, &c), |n| {
            integer(n).ok_or_else(|| ResolveError::NotAnInteger {
                key: key.to_owned(),
                value: n,
            })
        })
    }

    /// Resolves a number flag.
    pub fn resolve_float(
        &self,
        key: &str,
        ctx: &EvaluationContext,
    ) -> Result<ResolutionDetails<f64>, ResolveError> {
        let (rs, c) = self.prepare(ctx)?;
        finish(&rs, key, "number", rs.number_detail(key, &c), Ok)
    }

    /// Resolves a string flag.
    pub fn resolve_string(
        &self,
        key: &str,
        ctx: &EvaluationContext,
    ) -> Result<ResolutionDetails<String>, ResolveError> {
        let (rs, c) = self.prepare(ctx)?;
        finish(&rs, key, "string", rs.string_detail(key, &c), |s| {
            Ok(s.to_owned())
        })
    }

    /// Resolves a JSON flag whose value is an object (see [`value`]).
    pub fn resolve_struct(
        &self,
        key: &str,
        ctx: &EvaluationContext,
    ) -> Result<ResolutionDetails<StructValue>, ResolveError> {
        let (rs, c) = self.prepare(ctx)?;
        finish(&rs, key, "json", rs.json_detail(key, &c), |json| {
            value::to_struct(json).map_err(|source| ResolveError::NotAStructure {
                key: key.to_owned(),
                source,
            })
        })
    }

    /// The current ruleset (an atomic load) and the edgeflag context.
    fn prepare(&self, ctx: &EvaluationContext) -> Result<(Arc<Ruleset>, Context), ResolveError> {
        let Some(rs) = self.client.ruleset() else {
            let st = self.client.status();
            return Err(if st.closed {
                ResolveError::Closed
            } else {
                ResolveError::NotReady {
                    last_error: st.last_error,
                }
            });
        };
        Ok((rs, context::to_context(ctx)?))
    }
}

/// `n` as an `i64` when it is an integer in range.
fn integer(n: f64) -> Option<i64> {
    // -2^63 and 2^63 are exact as f64; the range is [-2^63, 2^63).
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (n.fract() == 0.0 && (-LIMIT..LIMIT).contains(&n)).then_some(n as i64)
}

/// The resolution details of an evaluation, or its error.
fn finish<T, U>(
    rs: &Ruleset,
    key: &str,
    wanted: &'static str,
    d: Detail<'_, T>,
    convert: impl FnOnce(T) -> Result<U, ResolveError>,
) -> Result<ResolutionDetails<U>, ResolveError> {
    let error = |kind| ResolveError::Evaluation {
        key: key.to_owned(),
        kind,
        found: rs.flag_kind(key),
        wanted,
    };
    if let edgeflag_evaluator::Reason::Error(kind) = d.reason {
        return Err(error(kind));
    }
    let reason = sdk_reason(reason(&d));
    let flag_metadata = metadata::of(rs, &d.reason);
    let variant = d.variation.map(str::to_owned);
    // `value` is present exactly when the reason is not an error.
    let Some(value) = d.value else {
        return Err(error(ErrorKind::WrongType));
    };
    Ok(ResolutionDetails {
        value: convert(value)?,
        variant,
        reason: Some(reason),
        flag_metadata: Some(flag_metadata),
    })
}

#[open_feature::async_trait]
impl FeatureProvider for EdgeflagProvider {
    /// Waits for the client's first ruleset, at most
    /// [`init_timeout`](EdgeflagProvider::init_timeout) (not at all outside a
    /// tokio runtime). The global context is not kept: the SDK merges it into
    /// each evaluation's context.
    async fn initialize(&mut self, _context: &EvaluationContext) {
        if self.init_timeout.is_zero()
            || self.client.ruleset().is_some()
            || tokio::runtime::Handle::try_current().is_err()
        {
            return;
        }
        if !self.client.ready(self.init_timeout).await {
            tracing::warn!(
                timeout = ?self.init_timeout,
                last_error = ?self.client.status().last_error,
                "edgeflag provider: no ruleset yet; flags resolve to PROVIDER_NOT_READY until one arrives"
            );
        }
    }

    /// `NotReady` until the client holds a ruleset, then `Ready`, or `STALE`
    /// while that ruleset has expired; `Error` if the client was closed before
    /// it got one.
    fn status(&self) -> ProviderStatus {
        let st = self.client.status();
        match (st.version, st.closed) {
            (None, true) => ProviderStatus::Error,
            (None, false) => ProviderStatus::NotReady,
            (Some(_), _) if st.stale => ProviderStatus::STALE,
            (Some(_), _) => ProviderStatus::Ready,
        }
    }

    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn resolve_bool_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        Ok(self.resolve_bool(flag_key, evaluation_context)?)
    }

    async fn resolve_int_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        Ok(self.resolve_int(flag_key, evaluation_context)?)
    }

    async fn resolve_float_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        Ok(self.resolve_float(flag_key, evaluation_context)?)
    }

    async fn resolve_string_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        Ok(self.resolve_string(flag_key, evaluation_context)?)
    }

    async fn resolve_struct_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        Ok(self.resolve_struct(flag_key, evaluation_context)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_the_i64_range_without_fractions() {
        assert_eq!(integer(3.0), Some(3));
        assert_eq!(integer(-0.0), Some(0));
        assert_eq!(integer(-9_223_372_036_854_775_808.0), Some(i64::MIN));
        assert_eq!(integer(9_223_372_036_854_775_808.0), None);
        assert_eq!(
            integer(9_223_372_036_854_774_784.0),
            Some(9_223_372_036_854_774_784)
        );
        for n in [0.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300] {
            assert_eq!(integer(n), None, "{n}");
        }
    }

    #[test]
    fn every_mapped_name_has_its_sdk_variant() {
        // The names evaluator::openfeature can return (tests/vectors/openfeature.json).
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/openfeature.json")).unwrap();
        for case in vectors["reasons"].as_array().unwrap() {
            let name = case["openfeature"].as_str().unwrap();
            let r = sdk_reason(name);
            assert!(!matches!(r, EvaluationReason::Other(_)), "{name}");
            assert_eq!(r.to_string(), name);
        }
        for case in vectors["errors"].as_array().unwrap() {
            let name = case["openfeature"].as_str().unwrap();
            let c = sdk_code(name);
            assert!(!matches!(c, EvaluationErrorCode::General(_)), "{name}");
            assert_eq!(c.to_string(), name);
        }
        assert_eq!(
            sdk_reason("STALE"),
            EvaluationReason::Other("STALE".to_owned())
        );
    }

    #[test]
    fn error_messages_say_what_was_asked_and_found() {
        let e = ResolveError::Evaluation {
            key: "k".into(),
            kind: ErrorKind::WrongType,
            found: Some(ValueKind::Number),
            wanted: "boolean",
        };
        assert_eq!(
            e.to_string(),
            r#"flag "k" is a number flag, resolved as boolean (WRONG_TYPE)"#
        );
        assert_eq!(e.code(), EvaluationErrorCode::TypeMismatch);
        let e = ResolveError::Evaluation {
            key: "k".into(),
            kind: ErrorKind::FlagNotFound,
            found: None,
            wanted: "boolean",
        };
        assert_eq!(e.to_string(), r#"flag "k" not found (FLAG_NOT_FOUND)"#);
        assert_eq!(e.code(), EvaluationErrorCode::FlagNotFound);
        let e = ResolveError::NotReady {
            last_error: Some("connection refused".into()),
        };
        assert!(e.to_string().ends_with("(last error: connection refused)"));
    }
}
