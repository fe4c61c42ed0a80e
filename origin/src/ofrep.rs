//! OFREP, the OpenFeature Remote Evaluation Protocol: the origin evaluates
//! flags for OpenFeature providers from the rulesets it already holds in
//! memory (no disk read per request).
//!
//! | route | answer |
//! |---|---|
//! | `POST /<env>/ofrep/v1/evaluate/flags/{key}` | one flag: `{key, value, reason, variant, metadata}` |
//! | `POST /<env>/ofrep/v1/evaluate/flags` | every flag: `{flags: [...], eventStreams: [...], metadata}`, with an `ETag`; `304` for a matching `If-None-Match` |
//!
//! The environment is the path's first segment, so a provider's base URL is
//! `http://host:port/<env>` (the provider appends `/ofrep/v1/...`). The request
//! body is `{"context": {...}}`, mapped to an edgeflag context by
//! [`edgeflag_evaluator::json::context_from_openfeature`]; reasons and error
//! codes come from [`edgeflag_evaluator::openfeature`].
//!
//! **Metadata.** Every success carries `metadata.edgeflagReason` (the edgeflag
//! reason kind: `RULE_MATCH`, `FALLTHROUGH`, …), `ruleIndex` and `ruleId` for a
//! rule match, `prerequisite` for a failed prerequisite; a single evaluation
//! also `environment`, `rulesetVersion` and `rulesetEpoch`, which a bulk
//! response carries once, in its own `metadata`.
//!
//! **Errors.** `{key?, errorCode, errorDetails}` with:
//!
//! | status | `errorCode` | when |
//! |---|---|---|
//! | 400 | `PARSE_ERROR` | the body is not JSON (line and column given), or has no `context` object |
//! | 400 | `INVALID_CONTEXT` | an attribute cannot be an edgeflag attribute (its dotted path given) |
//! | 400 | `TARGETING_KEY_MISSING` | the context has no `targetingKey` (nor `key`) and the flag's evaluation reached a step that reads the key (below); in a bulk response, an item of `flags` |
//! | 404 | `FLAG_NOT_FOUND` | no such flag (for a client key or a client ruleset: no such client-side flag) |
//! | 404 | `FLAG_NOT_FOUND` (single) / `GENERAL` (bulk) | the environment is not served |
//! | 413 | `PARSE_ERROR` | the body is over [`MAX_BODY_BYTES`] |
//!
//! **`TARGETING_KEY_MISSING`**, the rule: a context without a targeting key
//! gets this error for a flag whose result the key could have changed — the
//! flag is enabled and, before the step that decided it, evaluation passed
//! individual targets, a clause on the attribute `key` (or on a segment with
//! include/exclude lists or such clauses), a prerequisite flag that reads the
//! key, or a matching rule whose percentage rollout is bucketed by `key` (it
//! could not bucket the context, so a later step served); or the fallthrough's
//! rollout is bucketed by `key`. A disabled flag, or one decided by a rule
//! before any such step, evaluates normally. Whether a rollout rule matched is
//! seen by evaluating the flag again with the key `""`: it matched when that
//! evaluation is served by it.
//!
//! **Keys** ([`OfrepKeys`], `--ofrep-keys FILE`): with keys, every request needs
//! `Authorization: Bearer <token>`; missing or unknown → `401` with
//! `WWW-Authenticate: Bearer`, a key of another environment → `403`. A `client`
//! key evaluates `<env>.client` (only `client_side` flags), whichever of
//! `/<env>` or `/<env>.client` the path names. Without keys OFREP is open, like
//! the ruleset files, and `/<env>.client/ofrep/...` evaluates the client ruleset.
//!
//! **Rate.** A token bucket per key (one for the whole origin without keys),
//! [`DEFAULT_OFREP_RATE`] requests a second unless set (`0`: no limit); beyond
//! it `429` with `Retry-After` (whole seconds).
//!
//! **Event streams.** A bulk response lists
//! `{"type": "sse", "endpoint": {"requestUri": "/<env>/events?format=ofrep"}}`
//! (`<env>.client` for client rulesets; the environment's own while it has no
//! client ruleset, which evaluates as no flags): the environment's event
//! stream, whose `format=ofrep` events are OFREP's
//! `{"type": "refetchEvaluation", "etag": …}` messages, so web providers fetch
//! again when a new ruleset is served.

mod keys;
mod limit;

pub use keys::{KeyKind, OfrepKeys, OfrepKeysError, MIN_TOKEN_LEN};

use crate::http::not_modified;
use crate::state::{Announce, Current, State};
use axum::body::Body;
use axum::extract::{Path, State as Extract};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use edgeflag_compiler::client::CLIENT_SUFFIX;
use edgeflag_evaluator::json::{context_from_openfeature, ContextError};
use edgeflag_evaluator::model::{AttrId, Clause, FlagId, Serve};
use edgeflag_evaluator::{openfeature, Context, Detail, ErrorKind, Reason, Ruleset};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// Default OFREP request rate, per key (or for the whole origin without keys),
/// in requests a second.
pub const DEFAULT_OFREP_RATE: u32 = 10_000;

/// Largest request body read, in bytes (a context of a few hundred
/// attributes).
pub const MAX_BODY_BYTES: usize = 64 << 10;

/// The OFREP part of the [`State`]: keys and rate buckets.
#[derive(Debug)]
pub(crate) struct Ofrep {
    keys: Option<OfrepKeys>,
    limiter: limit::Limiter,
}

impl Default for Ofrep {
    fn default() -> Ofrep {
        Ofrep::new(None, DEFAULT_OFREP_RATE)
    }
}

impl Ofrep {
    pub(crate) fn new(keys: Option<OfrepKeys>, rate: u32) -> Ofrep {
        let buckets = keys.as_ref().map_or(1, OfrepKeys::len);
        Ofrep {
            keys,
            limiter: limit::Limiter::new(rate, buckets),
        }
    }
}

impl State {
    /// OFREP keys (`None`: open) and the request rate per key, or for the
    /// whole origin without keys (`0`: no limit; default
    /// [`DEFAULT_OFREP_RATE`]).
    pub fn ofrep(mut self, keys: Option<OfrepKeys>, rate: u32) -> State {
        self.ofrep = Ofrep::new(keys, rate);
        self
    }
}

// ---------------------------------------------------------------------------
// Which flags read the targeting key.

/// For each flag of a ruleset, where its evaluation reads the targeting key
/// (see the module docs); computed once when a ruleset is loaded.
#[derive(Debug, Default)]
pub(crate) struct KeyUses {
    flags: Vec<KeyUse>,
}

#[derive(Debug, Clone, Copy, Default)]
struct KeyUse {
    enabled: bool,
    /// The first prerequisite that reads the key.
    prerequisite: Option<FlagId>,
    targets: bool,
    /// The first rule with a clause that reads the key.
    first_clause_rule: Option<u32>,
    /// The first rule that serves a rollout bucketed by the key.
    first_rollout_rule: Option<u32>,
    fallthrough: bool,
}

impl KeyUse {
    fn reads(&self) -> bool {
        self.enabled
            && (self.prerequisite.is_some()
                || self.targets
                || self.first_clause_rule.is_some()
                || self.first_rollout_rule.is_some()
                || self.fallthrough)
    }
}

/// The step that read the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyStep {
    Prerequisite(FlagId),
    Targets,
    /// A clause of this rule.
    Rule(u32),
    /// This rule matched, and its rollout could not bucket a context without
    /// a key.
    RuleRollout(u32),
    Fallthrough,
}

/// The key a context without one is given to see whether a rule's rollout
/// would have served it.
const PROBE_KEY: &str = "";

impl KeyUses {
    pub(crate) fn of(rs: &Ruleset) -> KeyUses {
        let body = rs.body();
        let key_attr = body
            .attributes
            .iter()
            .position(|&a| rs.str(a) == "key")
            .map(|i| i as AttrId);
        let reads_clause = |c: &Clause, segments: &[bool]| match c.op.segments() {
            Some(ids) => ids
                .iter()
                .any(|&s| segments.get(s as usize).copied().unwrap_or(true)),
            None => Some(c.attribute) == key_attr,
        };
        let reads_serve =
            |s: &Serve| matches!(s, Serve::Rollout(r) if Some(r.bucket_by) == key_attr);
        // Segments only name segments stored before them.
        let mut segments: Vec<bool> = Vec::with_capacity(body.segments.len());
        for s in &body.segments {
            let reads = !s.include.is_empty()
                || !s.exclude.is_empty()
                || s.rules
                    .iter()
                    .any(|r| r.clauses.iter().any(|c| reads_clause(c, &segments)));
            segments.push(reads);
        }
        // Flags only name prerequisites stored before them.
        let mut flags: Vec<KeyUse> = Vec::with_capacity(body.flags.len());
        for f in &body.flags {
            let prerequisite = f
                .prerequisites
                .iter()
                .find(|p| flags.get(p.flag as usize).is_none_or(KeyUse::reads))
                .map(|p| p.flag);
            let first_clause_rule = f
                .rules
                .iter()
                .position(|r| r.clauses.iter().any(|c| reads_clause(c, &segments)))
                .map(|i| i as u32);
            let first_rollout_rule = f
                .rules
                .iter()
                .position(|r| reads_serve(&r.serve))
                .map(|i| i as u32);
            flags.push(KeyUse {
                enabled: f.enabled,
                prerequisite,
                targets: !f.targets.is_empty(),
                first_clause_rule,
                first_rollout_rule,
                fallthrough: reads_serve(&f.fallthrough),
            });
        }
        KeyUses { flags }
    }

    /// The step that read the key before `d` was decided, for a context
    /// without a key. `probe` evaluates the flag again with the context given
    /// [`PROBE_KEY`]; it is called only when a rule's rollout bucketed by the
    /// key comes before the deciding step (whether that rule matched shows in
    /// which rule serves the probe).
    fn needed<'r>(
        &self,
        id: FlagId,
        d: &Detail<'_>,
        probe: impl FnOnce() -> Reason<'r>,
    ) -> Option<KeyStep> {
        let u = self.flags.get(id as usize)?;
        if !u.enabled {
            return None;
        }
        // `Some(i)`: decided by rule i; `None`: by the fallthrough.
        let decided = match d.reason {
            Reason::Off | Reason::TargetMatch | Reason::Error(_) => return None,
            Reason::PrerequisiteFailed { .. } => return u.prerequisite.map(KeyStep::Prerequisite),
            Reason::RuleMatch { rule_index, .. } => Some(rule_index),
            _ => None,
        };
        let reached = |rule: u32| decided.is_none_or(|i| rule <= i);
        if let Some(p) = u.prerequisite {
            return Some(KeyStep::Prerequisite(p));
        }
        if u.targets {
            return Some(KeyStep::Targets);
        }
        if let Some(r) = u.first_clause_rule.filter(|&r| reached(r)) {
            return Some(KeyStep::Rule(r));
        }
        // A rollout rule before the deciding one (which served, so it is not
        // one): did it match? Then the probe is served by it.
        if u.first_rollout_rule
            .is_some_and(|r| decided.is_none_or(|i| r < i))
        {
            if let Reason::RuleMatch { rule_index, .. } = probe() {
                if decided.is_none_or(|i| rule_index < i) {
                    return Some(KeyStep::RuleRollout(rule_index));
                }
            }
        }
        (decided.is_none() && u.fallthrough).then_some(KeyStep::Fallthrough)
    }
}

/// `ctx` with [`PROBE_KEY`] as its key.
fn probe_context(ctx: &Context) -> Context {
    let mut probe = ctx.clone();
    probe.set("key", PROBE_KEY);
    probe
}

// ---------------------------------------------------------------------------
// Errors.

/// Why an OFREP request was not answered with an evaluation.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("this origin requires an OFREP key: send `Authorization: Bearer <token>`")]
    NoToken,
    #[error("the Authorization header is not `Bearer <token>`")]
    NotBearer,
    #[error("the bearer token is not an OFREP key of this origin")]
    UnknownToken,
    #[error("this key is for environment {key_env:?}, not {path_env:?}")]
    OtherEnvironment { key_env: String, path_env: String },
    #[error(
        "over {rate} OFREP requests a second {}; retry after {secs} s",
        if *.keyed { "for this key" } else { "at this origin" }
    )]
    RateLimited { rate: u32, secs: u64, keyed: bool },
    #[error("environment {0:?} is not served here")]
    NotServed(String),
    #[error("the request body could not be read in full (at most {MAX_BODY_BYTES} bytes)")]
    TooLarge,
    #[error("the body is not JSON: {0} (line {1}, column {2})")]
    Json(String, usize, usize),
    #[error("at `context`: {0}")]
    NoContext(&'static str),
    #[error("invalid context: {0}")]
    InvalidContext(ContextError),
    #[error("flag {key:?} not found in {env:?}{}", if *.client { " (client-side flags only)" } else { "" })]
    FlagNotFound {
        key: String,
        env: String,
        client: bool,
    },
    #[error(
        "the context has no targetingKey, and flag {key:?} reads the key ({step}) before \
         its result is decided"
    )]
    TargetingKeyMissing { key: String, step: String },
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::NoToken | Refusal::NotBearer | Refusal::UnknownToken => {
                StatusCode::UNAUTHORIZED
            }
            Refusal::OtherEnvironment { .. } => StatusCode::FORBIDDEN,
            Refusal::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refusal::NotServed(_) | Refusal::FlagNotFound { .. } => StatusCode::NOT_FOUND,
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Json(..)
            | Refusal::NoContext(_)
            | Refusal::InvalidContext(_)
            | Refusal::TargetingKeyMissing { .. } => StatusCode::BAD_REQUEST,
        }
    }

    /// The OpenFeature error code, for the refusals that have one.
    fn code(&self, single: bool) -> Option<&'static str> {
        Some(match self {
            Refusal::Json(..) | Refusal::NoContext(_) | Refusal::TooLarge => "PARSE_ERROR",
            Refusal::InvalidContext(_) => "INVALID_CONTEXT",
            Refusal::TargetingKeyMissing { .. } => "TARGETING_KEY_MISSING",
            Refusal::FlagNotFound { .. } => openfeature::error_code_of(ErrorKind::FlagNotFound),
            // The single endpoint's 404 carries FLAG_NOT_FOUND (what a provider
            // expects of it); the bulk endpoint has no flag to name.
            Refusal::NotServed(_) if single => openfeature::error_code_of(ErrorKind::FlagNotFound),
            Refusal::NotServed(_) => "GENERAL",
            _ => return None,
        })
    }

    fn outcome(&self) -> Outcome {
        match self {
            Refusal::NoToken | Refusal::NotBearer | Refusal::UnknownToken => Outcome::Unauthorized,
            Refusal::OtherEnvironment { .. } => Outcome::Forbidden,
            Refusal::RateLimited { .. } => Outcome::RateLimited,
            Refusal::NotServed(_) => Outcome::NotServed,
            Refusal::TooLarge => Outcome::TooLarge,
            Refusal::Json(..) | Refusal::NoContext(_) => Outcome::ParseError,
            Refusal::InvalidContext(_) => Outcome::InvalidContext,
            Refusal::FlagNotFound { .. } => Outcome::FlagNotFound,
            Refusal::TargetingKeyMissing { .. } => Outcome::TargetingKeyMissing,
        }
    }

    /// The response: `{key?, errorCode, errorDetails}` (`{errorDetails}` for
    /// refusals without an error code), with `WWW-Authenticate` or
    /// `Retry-After` where they belong.
    fn respond(&self, state: &State, endpoint: Endpoint, key: Option<&str>) -> Response {
        state.metrics.ofrep.count(endpoint, self.outcome());
        let single = endpoint == Endpoint::Single;
        let code = self.code(single);
        let details = self.to_string();
        let body = ErrorBody {
            key: key.filter(|_| code.is_some()),
            code,
            details: &details,
        };
        let mut resp = json(self.status(), &body);
        let h = resp.headers_mut();
        match self {
            Refusal::NoToken | Refusal::NotBearer => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"edgeflag-ofrep\""),
                );
            }
            Refusal::UnknownToken => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"edgeflag-ofrep\", error=\"invalid_token\"",
                    ),
                );
            }
            Refusal::RateLimited { secs, .. } => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*secs));
            }
            _ => {}
        }
        resp
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(rename = "errorCode", skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(rename = "errorDetails")]
    details: &'a str,
}

/// A JSON response that is never cached.
fn json(status: StatusCode, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response()
}

// ---------------------------------------------------------------------------
// Metrics.

/// The two endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Single = 0,
    Bulk = 1,
}

/// What an OFREP request came to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Ok = 0,
    NotModified,
    ParseError,
    InvalidContext,
    TargetingKeyMissing,
    FlagNotFound,
    NotServed,
    Unauthorized,
    Forbidden,
    RateLimited,
    TooLarge,
}

const OUTCOMES: usize = 11;

/// The labels of [`Outcome`], in order.
const OUTCOME_LABELS: [&str; OUTCOMES] = [
    "ok",
    "not_modified",
    "parse_error",
    "invalid_context",
    "targeting_key_missing",
    "flag_not_found",
    "not_served",
    "unauthorized",
    "forbidden",
    "rate_limited",
    "too_large",
];

/// OFREP requests by endpoint and outcome, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct OfrepRequests {
    counts: [[AtomicU64; OUTCOMES]; 2],
}

impl OfrepRequests {
    fn count(&self, endpoint: Endpoint, outcome: Outcome) {
        self.counts[endpoint as usize][outcome as usize].fetch_add(1, Relaxed);
    }

    /// `edgeflag_serve_ofrep_requests_total{endpoint, outcome}` in the text
    /// format.
    pub(crate) fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            out,
            "# HELP edgeflag_serve_ofrep_requests_total OFREP evaluation requests by endpoint and outcome.\n\
             # TYPE edgeflag_serve_ofrep_requests_total counter"
        );
        for (e, endpoint) in ["single", "bulk"].iter().enumerate() {
            for (o, outcome) in OUTCOME_LABELS.iter().enumerate() {
                let n = self.counts[e][o].load(Relaxed);
                let _ = writeln!(
                    out,
                    "edgeflag_serve_ofrep_requests_total{{endpoint=\"{endpoint}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Requests.

/// What a request may evaluate.
struct Granted {
    /// The environment whose ruleset is evaluated.
    env: String,
    /// Whether only client-side flags may be seen (a client key, or a
    /// `.client` path).
    client: bool,
}

/// Checks the key (when keys are configured) and the rate, and picks the
/// ruleset: the path's environment, or `<env>.client` for a client key.
fn grant(state: &State, path_env: &str, headers: &HeaderMap) -> Result<Granted, Refusal> {
    let o = &state.ofrep;
    let base = path_env.strip_suffix(CLIENT_SUFFIX).unwrap_or(path_env);
    let (bucket, env) = match &o.keys {
        None => (0, path_env.to_string()),
        Some(keys) => {
            let value = headers
                .get(header::AUTHORIZATION)
                .ok_or(Refusal::NoToken)?
                .to_str()
                .map_err(|_| Refusal::NotBearer)?;
            let (scheme, token) = value.trim().split_once(' ').ok_or(Refusal::NotBearer)?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(Refusal::NotBearer);
            }
            let (i, key) = keys.find(token.trim()).ok_or(Refusal::UnknownToken)?;
            if key.env != base {
                return Err(Refusal::OtherEnvironment {
                    key_env: key.env.clone(),
                    path_env: path_env.to_string(),
                });
            }
            let env = match key.kind {
                KeyKind::Client => format!("{base}{CLIENT_SUFFIX}"),
                KeyKind::Server => path_env.to_string(),
            };
            (i, env)
        }
    };
    if let Err(wait) = o.limiter.take(bucket) {
        return Err(Refusal::RateLimited {
            rate: o.limiter.rate(),
            secs: retry_secs(wait),
            keyed: o.keys.is_some(),
        });
    }
    let client = env.ends_with(CLIENT_SUFFIX);
    Ok(Granted { env, client })
}

/// The ruleset a grant evaluates: served, or absent because the environment
/// has no client-side flags (its `.client` ruleset was never published), which
/// evaluates as a ruleset without flags.
enum Target {
    Served(Arc<Current>),
    NoClientFlags,
}

fn target(state: &State, g: &Granted) -> Result<Target, Refusal> {
    if let Some(c) = state.current(&g.env) {
        return Ok(Target::Served(c));
    }
    let base = g.env.strip_suffix(CLIENT_SUFFIX);
    match base {
        Some(base) if state.current(base).is_some() => Ok(Target::NoClientFlags),
        _ => Err(Refusal::NotServed(g.env.clone())),
    }
}

/// Reads and parses the body: a JSON object with a `context` object.
async fn read_request(body: Body) -> Result<serde_json::Value, Refusal> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| Refusal::TooLarge)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        let text = e.to_string();
        // serde_json appends " at line L column C"; it is given separately.
        let message = match text.rfind(" at line ") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        Refusal::Json(message, e.line(), e.column())
    })?;
    let Some(fields) = value.as_object() else {
        return Err(Refusal::NoContext(
            "the body is not an object `{\"context\": {...}}`",
        ));
    };
    match fields.get("context") {
        Some(serde_json::Value::Object(_)) => Ok(value),
        None | Some(serde_json::Value::Null) => Err(Refusal::NoContext(
            "missing: the body must be `{\"context\": {...}}`",
        )),
        Some(_) => Err(Refusal::NoContext("not an object")),
    }
}

/// The context of a parsed request (its `context` object).
fn context_of(request: &serde_json::Value) -> Result<Context, Refusal> {
    match request.get("context").and_then(|c| c.as_object()) {
        Some(fields) => context_from_openfeature(fields).map_err(Refusal::InvalidContext),
        None => Err(Refusal::NoContext("not an object")),
    }
}

fn step_text(rs: &Ruleset, step: KeyStep) -> String {
    match step {
        KeyStep::Prerequisite(id) => {
            let key = rs
                .body()
                .flags
                .get(id as usize)
                .map_or("", |f| rs.str(f.key));
            format!("its prerequisite {key:?}")
        }
        KeyStep::Targets => "its individual targets".into(),
        KeyStep::Rule(i) => format!("a clause of rule {i}"),
        KeyStep::RuleRollout(i) => format!("the rollout of rule {i}"),
        KeyStep::Fallthrough => "its fallthrough rollout".into(),
    }
}

/// `POST /<env>/ofrep/v1/evaluate/flags/{key}`.
pub(crate) async fn single(
    Extract(state): Extract<Arc<State>>,
    Path((env, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let endpoint = Endpoint::Single;
    match evaluate_single(&state, &env, &key, &headers, body).await {
        Ok(resp) => {
            state.metrics.ofrep.count(endpoint, Outcome::Ok);
            resp
        }
        Err(refusal) => refusal.respond(&state, endpoint, Some(&key)),
    }
}

async fn evaluate_single(
    state: &State,
    env: &str,
    key: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    if !edgeflag_compiler::is_valid_environment(env) {
        return Err(Refusal::NotServed(env.to_string()));
    }
    let g = grant(state, env, headers)?;
    let target = target(state, &g)?;
    let request = read_request(body).await?;
    let ctx = context_of(&request)?;
    let not_found = || Refusal::FlagNotFound {
        key: key.to_string(),
        env: g.env.clone(),
        client: g.client,
    };
    let Target::Served(current) = target else {
        return Err(not_found());
    };
    let rs = &current.ruleset;
    let d = rs.evaluate(key, &ctx);
    if openfeature::error_code(&d).is_some() {
        return Err(not_found());
    }
    if ctx.key().is_none() {
        let probe = || rs.evaluate(key, &probe_context(&ctx)).reason;
        if let Some(step) = rs
            .flag_id(key)
            .and_then(|id| current.key_use.needed(id, &d, probe))
        {
            return Err(Refusal::TargetingKeyMissing {
                key: key.to_string(),
                step: step_text(rs, step),
            });
        }
    }
    let success = Success {
        key,
        detail: &d,
        ruleset: Some(&current),
    };
    Ok(json(StatusCode::OK, &success))
}

/// `POST /<env>/ofrep/v1/evaluate/flags`.
pub(crate) async fn bulk(
    Extract(state): Extract<Arc<State>>,
    Path(env): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let endpoint = Endpoint::Bulk;
    match evaluate_bulk(&state, &env, &headers, body).await {
        Ok((resp, outcome)) => {
            state.metrics.ofrep.count(endpoint, outcome);
            resp
        }
        Err(refusal) => refusal.respond(&state, endpoint, None),
    }
}

async fn evaluate_bulk(
    state: &State,
    env: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Response, Outcome), Refusal> {
    if !edgeflag_compiler::is_valid_environment(env) {
        return Err(Refusal::NotServed(env.to_string()));
    }
    let g = grant(state, env, headers)?;
    let target = target(state, &g)?;
    let request = read_request(body).await?;
    let etag = bulk_etag(&target, &g.env, &request);
    if not_modified(headers, &etag) {
        let resp = (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag.as_str()),
                (header::CACHE_CONTROL, "no-cache"),
            ],
        )
            .into_response();
        return Ok((resp, Outcome::NotModified));
    }
    let ctx = context_of(&request)?;
    let current = match &target {
        Target::Served(c) => Some(&**c),
        Target::NoClientFlags => None,
    };
    // Without a client ruleset, the environment's own stream: its next version
    // may be the one that brings client-side flags.
    let stream_env = match &target {
        Target::Served(_) => g.env.as_str(),
        Target::NoClientFlags => g.env.strip_suffix(CLIENT_SUFFIX).unwrap_or(&g.env),
    };
    let events = format!("/{stream_env}/events?format=ofrep");
    let out = Bulk {
        current,
        env: &g.env,
        ctx: &ctx,
        events: &events,
    };
    let bytes = serde_json::to_vec(&out).unwrap_or_default();
    let resp = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::ETAG, etag.as_str()),
        ],
        bytes,
    )
        .into_response();
    Ok((resp, Outcome::Ok))
}

/// The bulk ETag: a hash of the evaluated ruleset's ETag (its whole file:
/// version, checksum) and of the request in canonical form (object keys
/// sorted), so the same request gets the same tag until a new ruleset is
/// served.
fn bulk_etag(target: &Target, env: &str, request: &serde_json::Value) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    match target {
        Target::Served(c) => h.update(c.etag.as_bytes()),
        Target::NoClientFlags => {
            h.update(b"no client flags:");
            h.update(env.as_bytes());
        }
    }
    h.update(b"\0");
    canonical(request, &mut h);
    format!("\"{:032x}\"", h.digest128())
}

/// Feeds `v` to `h` as JSON with every object's keys sorted.
fn canonical(v: &serde_json::Value, h: &mut xxhash_rust::xxh3::Xxh3) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_unstable();
            h.update(b"{");
            for k in keys {
                canonical_str(k, h);
                h.update(b":");
                if let Some(v) = m.get(k) {
                    canonical(v, h);
                }
                h.update(b",");
            }
            h.update(b"}");
        }
        Value::Array(items) => {
            h.update(b"[");
            for item in items {
                canonical(item, h);
                h.update(b",");
            }
            h.update(b"]");
        }
        Value::String(s) => canonical_str(s, h),
        // Numbers, booleans and null have one rendering.
        other => h.update(other.to_string().as_bytes()),
    }
}

fn canonical_str(s: &str, h: &mut xxhash_rust::xxh3::Xxh3) {
    // Length-prefixed: no string can be mistaken for JSON punctuation.
    h.update(&(s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

// ---------------------------------------------------------------------------
// Responses.

/// One flag's success: `{key, value, reason, variant, metadata}`.
struct Success<'a> {
    key: &'a str,
    detail: &'a Detail<'a>,
    /// For a single evaluation: the ruleset, whose position goes into the
    /// flag's metadata.
    ruleset: Option<&'a Current>,
}

impl Serialize for Success<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.detail;
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("key", self.key)?;
        m.serialize_entry("value", &d.value)?;
        m.serialize_entry("reason", openfeature::reason(d))?;
        if let Some(v) = d.variation {
            m.serialize_entry("variant", v)?;
        }
        m.serialize_entry(
            "metadata",
            &Metadata {
                reason: &d.reason,
                ruleset: self.ruleset,
            },
        )?;
        m.end()
    }
}

struct Metadata<'a> {
    reason: &'a Reason<'a>,
    ruleset: Option<&'a Current>,
}

impl Serialize for Metadata<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("edgeflagReason", self.reason.kind())?;
        match *self.reason {
            Reason::RuleMatch {
                rule_index,
                rule_id,
            } => {
                m.serialize_entry("ruleIndex", &rule_index)?;
                if let Some(id) = rule_id {
                    m.serialize_entry("ruleId", id)?;
                }
            }
            Reason::PrerequisiteFailed { prerequisite } => {
                m.serialize_entry("prerequisite", prerequisite)?;
            }
            _ => {}
        }
        if let Some(c) = self.ruleset {
            position(&mut m, c)?;
        }
        m.end()
    }
}

/// `environment`, `rulesetVersion`, `rulesetEpoch`.
fn position<M: SerializeMap>(m: &mut M, c: &Current) -> Result<(), M::Error> {
    m.serialize_entry("environment", &c.header.environment)?;
    m.serialize_entry("rulesetVersion", &c.version)?;
    m.serialize_entry("rulesetEpoch", &c.header.epoch)
}

/// The bulk response.
struct Bulk<'a> {
    current: Option<&'a Current>,
    env: &'a str,
    ctx: &'a Context,
    events: &'a str,
}

impl Serialize for Bulk<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("flags", &Flags(self))?;
        m.serialize_entry("eventStreams", &[EventStream(self.events)])?;
        m.serialize_entry("metadata", &BulkMetadata(self))?;
        m.end()
    }
}

struct Flags<'a>(&'a Bulk<'a>);

impl Serialize for Flags<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.0;
        let Some(c) = b.current else {
            return s.serialize_seq(Some(0))?.end();
        };
        let rs = &c.ruleset;
        let keyless = b.ctx.key().is_none();
        // Built at most once, when a rule's rollout needs the probe.
        let probe = std::cell::OnceCell::new();
        let mut seq = s.serialize_seq(None)?;
        for (key, d) in rs.all_flags(b.ctx) {
            let missing = keyless
                .then(|| {
                    let id = rs.flag_id(key)?;
                    c.key_use.needed(id, &d, || {
                        let probe = probe.get_or_init(|| probe_context(b.ctx));
                        rs.evaluate_id(id, probe).reason
                    })
                })
                .flatten();
            match missing {
                Some(step) => {
                    let refusal = Refusal::TargetingKeyMissing {
                        key: key.to_string(),
                        step: step_text(rs, step),
                    };
                    let details = refusal.to_string();
                    seq.serialize_element(&ErrorBody {
                        key: Some(key),
                        code: refusal.code(false),
                        details: &details,
                    })?;
                }
                None => seq.serialize_element(&Success {
                    key,
                    detail: &d,
                    ruleset: None,
                })?,
            }
        }
        seq.end()
    }
}

struct EventStream<'a>(&'a str);

impl Serialize for EventStream<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("type", "sse")?;
        m.serialize_entry("endpoint", &StreamEndpoint(self.0))?;
        m.end()
    }
}

/// `{"requestUri": …}`: resolved against the provider's base URL's origin.
struct StreamEndpoint<'a>(&'a str);

impl Serialize for StreamEndpoint<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("requestUri", self.0)?;
        m.end()
    }
}

struct BulkMetadata<'a>(&'a Bulk<'a>);

impl Serialize for BulkMetadata<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self.0.current {
            Some(c) => position(&mut m, c)?,
            None => m.serialize_entry("environment", self.0.env)?,
        }
        m.end()
    }
}

// ---------------------------------------------------------------------------
// Event streams.

/// Whether an event-stream request asks for OFREP's event format
/// (`?format=ofrep`).
pub(crate) fn wants_ofrep_events(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|p| p == "format=ofrep"))
}

/// An announcement as OFREP's change notification: an unnamed (`message`)
/// event `{"type":"refetchEvaluation","etag":…}` with the position as its id.
pub(crate) fn refetch_event(a: &Announce) -> Event {
    let data = serde_json::json!({"type": "refetchEvaluation", "etag": a.etag});
    Event::default()
        .id(format!("{}-{}", a.epoch, a.version))
        .data(data.to_string())
}

/// How long a limited caller is told to wait: whole seconds, at least one.
fn retry_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeflag_compiler::compile_sources;
    use edgeflag_evaluator::format;

    fn ruleset(src: &str) -> Ruleset {
        let env = &compile_sources(&[("flags.yaml".into(), src.into())]).unwrap()[0];
        let bytes = format::encode(&env.body, &format::EncodeOptions::unpublished("p")).unwrap();
        Ruleset::from_bytes(&bytes).unwrap()
    }

    fn needed(rs: &Ruleset, key: &str, ctx: &Context) -> Option<KeyStep> {
        let uses = KeyUses::of(rs);
        let d = rs.evaluate(key, ctx);
        let probe = || rs.evaluate(key, &probe_context(ctx)).reason;
        uses.needed(rs.flag_id(key).unwrap(), &d, probe)
    }

    #[test]
    fn key_steps() {
        let rs = ruleset(
            r#"
segments:
  staff: {include: [u1]}
  by-email: {rules: [{clauses: [{attribute: email, op: ends_with, values: ["@x"]}]}]}
flags:
  plain: {}
  off-targets: {enabled: false, targets: {"on": [u1]}}
  targets: {targets: {"on": [u1]}}
  staff: {rules: [{clauses: [{op: in_segment, values: [staff]}], serve: "on"}]}
  email-first:
    rules:
      - {clauses: [{attribute: email, op: ends_with, values: ["@x"]}], serve: "on"}
      - {clauses: [{attribute: key, op: in, values: [u1]}], serve: "on"}
  rollout: {fallthrough: {rollout: {"on": 50, "off": 50}}}
  by-org: {fallthrough: {rollout: {"on": 50, "off": 50}, bucket_by: org}}
  segment-rules: {rules: [{clauses: [{op: in_segment, values: [by-email]}], serve: "on"}]}
  experiment:
    rules:
      - {clauses: [{attribute: country, op: in, values: [FR]}], serve: {rollout: {"on": 50, "off": 50}}}
      - {clauses: [{attribute: country, op: in, values: [FR, DE]}], serve: "on"}
  child:
    prerequisites: [{flag: rollout, variations: ["on"]}]
"#,
        );
        let anon = Context::default();
        let x = Context::default().with("email", "a@x");
        assert_eq!(needed(&rs, "plain", &anon), None);
        assert_eq!(needed(&rs, "off-targets", &anon), None);
        assert_eq!(needed(&rs, "targets", &anon), Some(KeyStep::Targets));
        assert_eq!(needed(&rs, "staff", &anon), Some(KeyStep::Rule(0)));
        // A rollout rule counts when it matched (the probe is served by it).
        let fr = Context::default().with("country", "FR");
        let de = Context::default().with("country", "DE");
        assert_eq!(
            needed(&rs, "experiment", &fr),
            Some(KeyStep::RuleRollout(0))
        );
        assert_eq!(needed(&rs, "experiment", &de), None);
        assert_eq!(needed(&rs, "experiment", &anon), None);
        // Decided by rule 0 before rule 1 reads the key.
        assert_eq!(needed(&rs, "email-first", &x), None);
        assert_eq!(needed(&rs, "email-first", &anon), Some(KeyStep::Rule(1)));
        assert_eq!(needed(&rs, "rollout", &anon), Some(KeyStep::Fallthrough));
        assert_eq!(needed(&rs, "by-org", &anon), None);
        assert_eq!(needed(&rs, "segment-rules", &anon), None);
        let rollout = rs.flag_id("rollout").unwrap();
        assert_eq!(
            needed(&rs, "child", &anon),
            Some(KeyStep::Prerequisite(rollout))
        );
    }

    #[test]
    fn canonical_etag_ignores_key_order_and_whitespace() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"context":{"a":1,"b":{"c":"x","d":[1,2]}}}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{ "context" : { "b" : {"d":[1,2], "c":"x"}, "a":1 } }"#)
                .unwrap();
        let c: serde_json::Value =
            serde_json::from_str(r#"{"context":{"a":1,"b":{"c":"x","d":[2,1]}}}"#).unwrap();
        let t = Target::NoClientFlags;
        assert_eq!(bulk_etag(&t, "e", &a), bulk_etag(&t, "e", &b));
        assert_ne!(bulk_etag(&t, "e", &a), bulk_etag(&t, "e", &c));
        assert_ne!(bulk_etag(&t, "e", &a), bulk_etag(&t, "f", &a));
    }

    #[test]
    fn event_format_query() {
        assert!(wants_ofrep_events(Some("format=ofrep")));
        assert!(wants_ofrep_events(Some("x=1&format=ofrep")));
        assert!(!wants_ofrep_events(Some("format=ofrepx")));
        assert!(!wants_ofrep_events(None));
        assert_eq!(retry_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_secs(Duration::from_millis(1500)), 2);
    }
}
