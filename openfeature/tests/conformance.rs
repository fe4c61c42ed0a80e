//! The OpenFeature conformance scenarios (`tests/openfeature/features/*.feature`
//! at the repository root, shared with the JavaScript provider's runner in
//! `wasm/test/cucumber/`) run against `EdgeflagProvider` through the
//! open-feature SDK.
//!
//! Each scenario writes its flags (edgeflag YAML, from the feature file) to a
//! scratch project, publishes it with the real `edgeflag publish`, serves it
//! with a real `edgeflag serve` on loopback, and registers a provider over an
//! `edgeflag_client::Client` polling that origin with the SDK under a domain of
//! its own; every evaluation goes through the SDK's client.
//!
//! What open-feature 0.3 lacks, and how the steps read it instead:
//!
//! - no default value: an error comes back as `Err`, and the caller applies
//!   its default. A step records the default as the value only when the SDK
//!   returned `Err`; the reason (`ERROR`) and variant are what the SDK's
//!   `finally` hook stage saw for that evaluation;
//! - no status through the SDK: the status steps read the provider's own
//!   `status()` (a clone of the one registered);
//! - no events: scenarios tagged `@events` are not run here (the count is
//!   printed); the JavaScript runner runs them.
//!
//! Needs the `edgeflag` binary (`cargo build -p edgeflag-cli`, which
//! `cargo test --workspace` does first, or `$EDGEFLAG_BIN`). Run alone:
//! `cargo test -p edgeflag-openfeature --test conformance`.

use cucumber::cli::{self, Parser as _};
use cucumber::gherkin::Step;
use cucumber::tag::Ext as _;
use cucumber::{given, then, when, writer, World as _};
use edgeflag_client::Client;
use edgeflag_openfeature::EdgeflagProvider;
use edgeflag_testkit::project::{ok, s, scratch, Server};
use open_feature::provider::{FeatureProvider, ProviderStatus};
use open_feature::{
    EvaluationContext, EvaluationContextFieldValue as Field, EvaluationDetails, EvaluationError,
    FlagMetadata, FlagMetadataValue, Hook, HookContext, HookHints, OpenFeature, StructValue, Value,
};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long registering a provider over a served ruleset may wait for it.
const READY: Duration = Duration::from_secs(10);

/// Scenarios that need an SDK event API, which open-feature 0.3 does not have.
const EVENTS_TAG: &str = "events";

static SCENARIOS: AtomicUsize = AtomicUsize::new(0);

/// One scenario's state: its project, origin, client, provider and the SDK
/// client registered for it, and the last evaluation.
#[derive(cucumber::World)]
#[world(init = Self::new)]
struct Conformance {
    /// The SDK domain (and scratch directory) of this scenario.
    name: String,
    src: PathBuf,
    dest: PathBuf,
    /// Public key to trust, once the flags were published signed.
    trust: Option<PathBuf>,
    server: Option<Server>,
    flags: Option<Client>,
    provider: Option<EdgeflagProvider>,
    sdk: Option<open_feature::Client>,
    recorder: Recorder,
    last: Option<Outcome>,
}

impl fmt::Debug for Conformance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conformance")
            .field("name", &self.name)
            .field("origin", &self.server.as_ref().map(|s| &s.base))
            .field("status", &self.flags.as_ref().map(Client::status))
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl Drop for Conformance {
    fn drop(&mut self) {
        // The SDK keeps the provider registered; stop its client's updates.
        if let Some(c) = &self.flags {
            c.close();
        }
    }
}

impl Conformance {
    fn new() -> Self {
        let n = SCENARIOS.fetch_add(1, Ordering::Relaxed);
        let name = format!("conformance-{n}");
        let root = scratch(&format!("openfeature-{name}"));
        let (src, dest) = (root.join("src"), root.join("pub"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(&dest).unwrap();
        Conformance {
            name,
            src,
            dest,
            trust: None,
            server: None,
            flags: None,
            provider: None,
            sdk: None,
            recorder: Recorder::default(),
            last: None,
        }
    }

    fn write_flags(&self, yaml: &str) {
        let tmp = self.src.join(".flags.yaml.tmp");
        std::fs::write(&tmp, yaml).unwrap();
        std::fs::rename(&tmp, self.src.join("flags.yaml")).unwrap();
    }

    fn publish(&self, extra: &[&str]) {
        let mut args = vec!["publish", s(&self.src), "--to", s(&self.dest)];
        args.extend_from_slice(extra);
        let out = ok(&args);
        assert!(out.contains("published production v"), "{out}");
    }

    /// Starts the origin, a client of it and the provider, and registers the
    /// provider with the SDK (`initialize` waits at most `init_timeout`).
    async fn register(&mut self, init_timeout: Duration) {
        let server = Server::start(&self.dest, 0, &[]);
        let mut builder = Client::builder(format!("{}/production/current.efr", server.base))
            .environment("production")
            .poll_interval(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(400));
        if let Some(key) = &self.trust {
            builder = builder.trust_file(key);
        }
        let flags = builder.start().unwrap();
        let provider = EdgeflagProvider::new(flags.clone()).init_timeout(init_timeout);
        OpenFeature::singleton_mut()
            .await
            .set_named_provider(&self.name, provider.clone())
            .await;
        let sdk = OpenFeature::singleton()
            .await
            .create_named_client(&self.name)
            .with_hook(self.recorder.clone());
        self.server = Some(server);
        self.flags = Some(flags);
        self.provider = Some(provider);
        self.sdk = Some(sdk);
    }

    fn provider(&self) -> &EdgeflagProvider {
        self.provider.as_ref().expect("a provider was registered")
    }

    fn last(&self) -> &Outcome {
        self.last.as_ref().expect("a flag was evaluated")
    }

    /// Evaluates `key` as `kind` through the SDK's client.
    async fn evaluate(&mut self, kind: &str, key: &str, default: Json, ctx: &Json) -> Outcome {
        let sdk = self.sdk.as_ref().expect("a provider was registered");
        let ctx = context(ctx);
        let result: Result<(Json, Option<String>, Option<String>, FlagMetadata), EvaluationError> =
            match kind {
                "boolean" => sdk
                    .get_bool_details(key, Some(&ctx), None)
                    .await
                    .map(|d| parts(d, Json::Bool)),
                "string" => sdk
                    .get_string_details(key, Some(&ctx), None)
                    .await
                    .map(|d| parts(d, Json::String)),
                "integer" => sdk
                    .get_int_details(key, Some(&ctx), None)
                    .await
                    .map(|d| parts(d, |n| json!(n))),
                "float" => sdk
                    .get_float_details(key, Some(&ctx), None)
                    .await
                    .map(|d| parts(d, |n| json!(n))),
                "object" => sdk
                    .get_struct_details::<StructValue>(key, Some(&ctx), None)
                    .await
                    .map(|d| parts(d, |v| value_json(&Value::Struct(v)))),
                other => panic!("no flag type {other:?}"),
            };
        match result {
            Ok((value, variant, reason, metadata)) => Outcome {
                value,
                variant,
                reason,
                error_code: None,
                error_message: None,
                metadata: metadata_json(&metadata),
            },
            Err(e) => {
                // What the SDK's `finally` stage saw for this evaluation.
                let seen = self.recorder.take().expect("the finally hook ran");
                assert_eq!(seen.flag_key, key);
                Outcome {
                    // open-feature 0.3 returns no value on an error: the
                    // caller's default is the value.
                    value: default,
                    variant: seen.variant,
                    reason: seen.reason.map(|r| r.to_string()),
                    error_code: Some(e.code.to_string()),
                    error_message: e.message,
                    metadata: metadata_json(&seen.flag_metadata),
                }
            }
        }
    }
}

/// What a step asserts on: the evaluation details, as JSON and names.
#[derive(Debug, Clone)]
struct Outcome {
    value: Json,
    variant: Option<String>,
    reason: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    metadata: BTreeMap<String, Json>,
}

type Parts = (Json, Option<String>, Option<String>, FlagMetadata);

fn parts<T>(d: EvaluationDetails<T>, value: impl FnOnce(T) -> Json) -> Parts {
    (
        value(d.value),
        d.variant,
        d.reason.map(|r| r.to_string()),
        d.flag_metadata,
    )
}

fn value_json(v: &Value) -> Json {
    match v {
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(n) => json!(n),
        Value::Float(x) => json!(x),
        Value::String(s) => Json::String(s.clone()),
        Value::Array(a) => Json::Array(a.iter().map(value_json).collect()),
        Value::Struct(s) => Json::Object(
            s.fields
                .iter()
                .map(|(k, v)| (k.clone(), value_json(v)))
                .collect(),
        ),
    }
}

fn metadata_json(m: &FlagMetadata) -> BTreeMap<String, Json> {
    m.values
        .iter()
        .map(|(k, v)| {
            let v = match v {
                FlagMetadataValue::Bool(b) => json!(b),
                FlagMetadataValue::Int(n) => json!(n),
                FlagMetadataValue::Float(x) => json!(x),
                FlagMetadataValue::String(s) => json!(s),
            };
            (k.clone(), v)
        })
        .collect()
}

/// The SDK's evaluation context for a scenario's JSON context: `targetingKey`
/// is the targeting key, every other field a custom field (integers as `Int`,
/// other numbers as `Float`; lists and objects as a structure holding the
/// SDK's `Value`).
fn context(json: &Json) -> EvaluationContext {
    let mut ctx = EvaluationContext::default();
    for (k, v) in json.as_object().expect("a context is a JSON object") {
        if k == "targetingKey" {
            ctx = ctx.with_targeting_key(v.as_str().expect("a string targetingKey"));
            continue;
        }
        let field = match v {
            Json::Bool(b) => Field::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Field::Int(i),
                None => Field::Float(n.as_f64().unwrap()),
            },
            Json::String(s) => Field::String(s.clone()),
            Json::Array(_) | Json::Object(_) => Field::new_struct(sdk_value(v)),
            Json::Null => continue,
        };
        ctx = ctx.with_custom_field(k.as_str(), field);
    }
    ctx
}

fn sdk_value(v: &Json) -> Value {
    match v {
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map_or(Value::Float(n.as_f64().unwrap()), Value::Int),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(sdk_value).collect()),
        Json::Object(o) => Value::Struct(StructValue {
            fields: o.iter().map(|(k, v)| (k.clone(), sdk_value(v))).collect(),
        }),
        Json::Null => panic!("no null in the SDK's values"),
    }
}

/// JSON equality with numbers compared as numbers (`10` equals `10.0`).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn parse(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON: {text}: {e}"))
}

fn status_name(st: ProviderStatus) -> &'static str {
    match st {
        ProviderStatus::NotReady => "NOT_READY",
        ProviderStatus::Ready => "READY",
        ProviderStatus::Error => "ERROR",
        ProviderStatus::STALE => "STALE",
    }
}

/// A hook keeping the details the SDK's `finally` stage sees (for an error,
/// the SDK's own `ERROR` details).
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Option<EvaluationDetails<Value>>>>);

impl Recorder {
    fn take(&self) -> Option<EvaluationDetails<Value>> {
        self.0.lock().unwrap().take()
    }
}

#[open_feature::async_trait]
impl Hook for Recorder {
    async fn before<'a>(
        &self,
        _: &HookContext<'a>,
        _: Option<&'a HookHints>,
    ) -> Result<Option<EvaluationContext>, EvaluationError> {
        Ok(None)
    }
    async fn after<'a>(
        &self,
        _: &HookContext<'a>,
        _: &EvaluationDetails<Value>,
        _: Option<&'a HookHints>,
    ) -> Result<(), EvaluationError> {
        Ok(())
    }
    async fn error<'a>(&self, _: &HookContext<'a>, _: &EvaluationError, _: Option<&'a HookHints>) {}
    async fn finally<'a>(
        &self,
        _: &HookContext<'a>,
        details: &EvaluationDetails<Value>,
        _: Option<&'a HookHints>,
    ) {
        *self.0.lock().unwrap() = Some(details.clone());
    }
}

/// Polls `f` every 50 ms until it holds, at most `within`.
async fn eventually(within: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < end, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn docstring(step: &Step) -> &str {
    step.docstring.as_deref().expect("the step has a docstring")
}

// --- Given -------------------------------------------------------------------

#[given("the flags:")]
async fn the_flags(w: &mut Conformance, step: &Step) {
    w.write_flags(docstring(step));
}

#[given("a provider serving the published flags")]
async fn serving(w: &mut Conformance) {
    w.publish(&[]);
    w.register(READY).await;
    assert_eq!(w.provider().status(), ProviderStatus::Ready);
}

#[given(
    regex = r"^a provider serving the flags published signed and expiring after (\d+) seconds$"
)]
async fn serving_signed(w: &mut Conformance, seconds: u64) {
    let key = w.dest.parent().unwrap().join("signing-key");
    ok(&["keygen", "--out", s(&key)]);
    w.publish(&[
        "--signing-key",
        s(&key),
        "--expires-in",
        &format!("{seconds}s"),
    ]);
    w.trust = Some(PathBuf::from(format!("{}.pub", key.display())));
    w.register(READY).await;
    assert!(w.flags.as_ref().unwrap().status().verified_by.is_some());
}

#[given("a provider whose origin has published nothing yet")]
async fn nothing_published(w: &mut Conformance) {
    w.register(Duration::ZERO).await;
}

// --- When --------------------------------------------------------------------

#[when("the flags are published")]
async fn publish(w: &mut Conformance) {
    w.publish(&[]);
}

#[when("the flags are changed to:")]
async fn change(w: &mut Conformance, step: &Step) {
    w.write_flags(docstring(step));
    w.publish(&[]);
}

#[when(
    regex = r"^the (boolean|string|integer|float|object) flag ([^ ]+) is evaluated with default (.+) and context (\{.*\})$"
)]
async fn evaluate(w: &mut Conformance, kind: String, key: String, default: String, ctx: String) {
    let key: String = serde_json::from_str(&key).expect("a quoted flag key");
    let outcome = w.evaluate(&kind, &key, parse(&default), &parse(&ctx)).await;
    w.last = Some(outcome);
}

// --- Then --------------------------------------------------------------------

#[then(
    regex = r#"^(?:within (\d+) seconds )?the (boolean|string|integer|float|object) flag "([^"]+)" evaluates to (.+)$"#
)]
async fn evaluates_to(
    w: &mut Conformance,
    within: String,
    kind: String,
    key: String,
    value: String,
) {
    let want = parse(&value);
    let within = Duration::from_secs(within.parse().unwrap_or(0));
    let end = Instant::now() + within;
    loop {
        let got = w.evaluate(&kind, &key, Json::Null, &json!({})).await;
        let done = got.error_code.is_none() && same(&got.value, &want);
        w.last = Some(got);
        if done {
            return;
        }
        assert!(
            Instant::now() < end,
            "{key} did not evaluate to {want} within {within:?}: {:?}",
            w.last
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[then(regex = r"^the value is (.+)$")]
async fn value_is(w: &mut Conformance, value: String) {
    let want = parse(&value);
    let got = &w.last().value;
    assert!(
        same(got, &want),
        "value {got}, expected {want}: {:?}",
        w.last
    );
}

#[then(regex = r#"^the variant is "([^"]*)"$"#)]
async fn variant_is(w: &mut Conformance, variant: String) {
    assert_eq!(w.last().variant.as_deref(), Some(variant.as_str()));
}

#[then("there is no variant")]
async fn no_variant(w: &mut Conformance) {
    assert_eq!(w.last().variant, None);
}

#[then(regex = r"^the reason is ([A-Z_]+)$")]
async fn reason_is(w: &mut Conformance, reason: String) {
    assert_eq!(
        w.last().reason.as_deref(),
        Some(reason.as_str()),
        "{:?}",
        w.last
    );
}

#[then(regex = r"^the error code is ([A-Z_]+)$")]
async fn error_code_is(w: &mut Conformance, code: String) {
    assert_eq!(
        w.last().error_code.as_deref(),
        Some(code.as_str()),
        "{:?}",
        w.last
    );
}

#[then("there is no error code")]
async fn no_error_code(w: &mut Conformance) {
    assert_eq!(w.last().error_code, None, "{:?}", w.last);
}

#[then(regex = r#"^the error message contains "([^"]*)"$"#)]
async fn error_message_contains(w: &mut Conformance, text: String) {
    let m = w.last().error_message.as_deref().unwrap_or_default();
    assert!(m.contains(&text), "error message {m:?} lacks {text:?}");
}

#[then(regex = r#"^the flag metadata "([^"]+)" is a positive number$"#)]
async fn metadata_positive(w: &mut Conformance, key: String) {
    let v = w.last().metadata.get(&key);
    assert!(
        v.and_then(Json::as_f64).is_some_and(|n| n > 0.0),
        "{key}: {v:?}"
    );
}

// A JSON value (not "a positive number", the step above).
#[then(regex = r#"^the flag metadata "([^"]+)" is ([\[{"\-0-9tfn].*)$"#)]
async fn metadata_is(w: &mut Conformance, key: String, value: String) {
    let want = parse(&value);
    let got = w.last().metadata.get(&key);
    assert!(
        got.is_some_and(|g| same(g, &want)),
        "metadata {key} = {got:?}, expected {want}: {:?}",
        w.last().metadata
    );
}

#[then(regex = r#"^the flag metadata has no "([^"]+)"$"#)]
async fn metadata_lacks(w: &mut Conformance, key: String) {
    assert_eq!(w.last().metadata.get(&key), None, "{key}");
}

#[then(regex = r#"^the provider's name is "([^"]+)"$"#)]
async fn provider_name(w: &mut Conformance, name: String) {
    let seen = OpenFeature::singleton()
        .await
        .named_provider_metadata(&w.name)
        .await
        .expect("the provider is registered");
    assert_eq!(seen.name, name);
    assert_eq!(w.provider().metadata().name, name);
}

#[then(regex = r"^(?:within (\d+) seconds )?the provider status is ([A-Z_]+)$")]
async fn status_is(w: &mut Conformance, within: String, status: String) {
    let within = Duration::from_secs(within.parse().unwrap_or(0));
    let provider = w.provider().clone();
    eventually(within, &format!("status {status}"), || {
        status_name(provider.status()) == status
    })
    .await;
}

fn features() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/openfeature/features")
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // cucumber's own options (`--name`, `--tags`, …) apply; anything else —
    // libtest's (`--nocapture`, a test name filter) when `cargo test` passes
    // them on to every test binary — runs every scenario instead of failing.
    let mut opts = cli::Opts::<_, _, _, cli::Empty>::try_parse().unwrap_or_else(|e| {
        eprintln!("conformance: not cucumber options, running every scenario: {e}");
        cli::Opts::default()
    });
    // cucumber applies `--name`/`--tags` instead of a run's filter; taken here,
    // they narrow the run and @events scenarios stay out all the same.
    let (by_name, by_tags) = (opts.re_filter.take(), opts.tags_filter.take());
    let left_out = Arc::new(Mutex::new(Vec::new()));
    let left = left_out.clone();
    let summary = rt.block_on(
        Conformance::cucumber()
            .with_cli(opts)
            .max_concurrent_scenarios(4)
            .fail_on_skipped()
            .filter_run(features(), move |feature, rule, scenario| {
                let tags = || {
                    feature
                        .tags
                        .iter()
                        .chain(rule.iter().flat_map(|r| &r.tags))
                        .chain(&scenario.tags)
                };
                let wanted = by_name
                    .as_ref()
                    .is_none_or(|re| re.is_match(&scenario.name))
                    && by_tags.as_ref().is_none_or(|t| t.eval(tags()));
                let events = tags().any(|t| t == EVENTS_TAG);
                if wanted && events {
                    left.lock()
                        .unwrap()
                        .push(format!("{}: {}", feature.name, scenario.name));
                }
                wanted && !events
            }),
    );
    let left_out = left_out.lock().unwrap();
    // Scenario Outlines are expanded after filtering: each of these is one.
    eprintln!(
        "{} scenario(s) tagged @{EVENTS_TAG} not run (open-feature 0.3 has no event API):",
        left_out.len()
    );
    for s in left_out.iter() {
        eprintln!("  - {s}");
    }
    let stats = writer::Summarize::scenarios_stats(&summary);
    let failed = writer::Stats::execution_has_failed(&summary);
    println!(
        "conformance: {} passed, {} failed, {} skipped",
        stats.passed, stats.failed, stats.skipped
    );
    if failed {
        std::process::exit(1);
    }
}
