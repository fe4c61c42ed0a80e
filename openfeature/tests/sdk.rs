//! The provider end to end: a project of flags of every type (`flags.yaml`
//! beside this file) published and served by a real `edgeflag serve` on
//! loopback, an `edgeflag_client::Client` polling it, and the provider
//! registered with the OpenFeature SDK (`open_feature::OpenFeature`), whose
//! client every test evaluates through.
//!
//! Needs the `edgeflag` binary (`cargo build -p edgeflag-cli`, which
//! `cargo test --workspace` does first, or `$EDGEFLAG_BIN`).

use edgeflag_client::Client;
use edgeflag_openfeature::{metadata, EdgeflagProvider};
use edgeflag_testkit::project::{ok, s, scratch, Server};
use edgeflag_testkit::{dead_url, eventually};
use open_feature::provider::{FeatureProvider, ProviderStatus};
use open_feature::{
    EvaluationContext, EvaluationContextFieldValue as Field, EvaluationDetails, EvaluationError,
    EvaluationErrorCode, FlagMetadataValue, Hook, HookContext, HookHints, OpenFeature, StructValue,
    Value,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// The project source with the kill switch on or off.
fn source(kill_enabled: bool) -> String {
    include_str!("flags.yaml").replace("KILL_ENABLED", &kill_enabled.to_string())
}

/// A scratch project `name`: `(src, pub)`, the source written, nothing published.
fn project(name: &str, kill_enabled: bool) -> (PathBuf, PathBuf) {
    let root = scratch(&format!("openfeature-{name}"));
    let (src, dest) = (root.join("src"), root.join("pub"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&dest).unwrap();
    write_source(&src, kill_enabled);
    (src, dest)
}

fn write_source(src: &Path, kill_enabled: bool) {
    let tmp = src.join(".flags.yaml.tmp");
    std::fs::write(&tmp, source(kill_enabled)).unwrap();
    std::fs::rename(&tmp, src.join("flags.yaml")).unwrap();
}

fn publish(src: &Path, dest: &Path) -> String {
    ok(&["publish", s(src), "--to", s(dest)])
}

fn url(server: &Server) -> String {
    format!("{}/production/current.efr", server.base)
}

fn client(url: &str) -> Client {
    Client::builder(url)
        .poll_interval(Duration::from_millis(100))
        .max_backoff(Duration::from_millis(400))
        .start()
        .unwrap()
}

/// Registers `provider` with the SDK under `name` (each test its own: the API is
/// a process-wide singleton and tests run in parallel) and returns the SDK's
/// client for it, recording the reason of every evaluation.
async fn sdk(name: &str, provider: EdgeflagProvider) -> (open_feature::Client, Recorder) {
    OpenFeature::singleton_mut()
        .await
        .set_named_provider(name, provider)
        .await;
    let recorder = Recorder::default();
    let client = OpenFeature::singleton()
        .await
        .create_named_client(name)
        .with_hook(recorder.clone());
    (client, recorder)
}

/// A hook recording `(flag, reason)` of each evaluation as the SDK's `finally`
/// stage sees it (for an error: the SDK's `ERROR` details).
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(String, String)>>>);

impl Recorder {
    fn last(&self) -> Option<(String, String)> {
        self.0.lock().unwrap().last().cloned()
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
        ctx: &HookContext<'a>,
        details: &EvaluationDetails<Value>,
        _: Option<&'a HookHints>,
    ) {
        let reason = details
            .reason
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .push((ctx.flag_key.to_owned(), reason));
    }
}

fn user(key: &str) -> EvaluationContext {
    EvaluationContext::default().with_targeting_key(key)
}

/// The OpenFeature reason, as its name.
fn reason<T>(d: &EvaluationDetails<T>) -> Option<String> {
    d.reason.as_ref().map(ToString::to_string)
}

fn meta<T>(d: &EvaluationDetails<T>, key: &str) -> Option<FlagMetadataValue> {
    d.flag_metadata.values.get(key).cloned()
}

fn text(s: &str) -> Option<FlagMetadataValue> {
    Some(FlagMetadataValue::String(s.to_owned()))
}

/// A served project: `(src, pub, server, client)`, v1 published and the client
/// holding it.
async fn served(name: &str) -> (PathBuf, PathBuf, Server, Client) {
    let (src, dest) = project(name, false);
    let out = publish(&src, &dest);
    assert!(out.contains("published production v1"), "{out}");
    let server = Server::start(&dest, 0, &[]);
    let flags = client(&url(&server));
    assert!(flags.ready(WAIT).await, "{:?}", flags.status());
    (src, dest, server, flags)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_resolves_through_the_sdk() {
    let (_src, _dest, _server, flags) = served("types").await;
    let (of, _) = sdk("types", EdgeflagProvider::new(flags)).await;

    // bool: a rule matched by a context attribute; the metadata says which.
    let staff = user("user-1").with_custom_field("email", "ana@edgeflag.dev");
    let d = of
        .get_bool_details("checkout", Some(&staff), None)
        .await
        .unwrap();
    assert!(d.value);
    assert_eq!(d.variant.as_deref(), Some("on"));
    assert_eq!(reason(&d).as_deref(), Some("TARGETING_MATCH"));
    assert_eq!(meta(&d, metadata::REASON), text("RULE_MATCH"));
    assert_eq!(
        meta(&d, metadata::RULE_INDEX),
        Some(FlagMetadataValue::Int(0))
    );
    assert_eq!(meta(&d, metadata::RULE_ID), text("internal"));
    assert_eq!(meta(&d, metadata::VERSION), Some(FlagMetadataValue::Int(1)));
    assert_eq!(meta(&d, metadata::ENVIRONMENT), text("production"));
    assert!(matches!(meta(&d, metadata::EPOCH), Some(FlagMetadataValue::Int(e)) if e > 0));
    assert_eq!(meta(&d, metadata::STALE), None);
    assert!(!of
        .get_bool_value("checkout", Some(&user("user-2")), None)
        .await
        .unwrap());

    // int: an integral number flag.
    let pro = user("user-1").with_custom_field("plan", "pro");
    let d = of
        .get_int_details("max-items", Some(&pro), None)
        .await
        .unwrap();
    assert_eq!((d.value, d.variant.as_deref()), (250, Some("many")));
    assert_eq!(
        of.get_int_value("max-items", Some(&user("u")), None)
            .await
            .unwrap(),
        10
    );

    // float: any number flag.
    let d = of
        .get_float_details("ratio", Some(&user("u")), None)
        .await
        .unwrap();
    assert_eq!((d.value, d.variant.as_deref()), (0.25, Some("low")));
    assert_eq!(
        of.get_float_value("max-items", Some(&pro), None)
            .await
            .unwrap(),
        250.0
    );

    // string, with a rule on a nested attribute (flattened to address.country).
    let address = StructValue::default().with_field("country", "DE");
    let german = user("user-1").with_custom_field("address", Field::new_struct(address));
    let d = of
        .get_string_details("greeting", Some(&german), None)
        .await
        .unwrap();
    assert_eq!(
        (d.value.as_str(), d.variant.as_deref()),
        ("hallo", Some("de"))
    );
    assert_eq!(meta(&d, metadata::RULE_ID), text("german"));
    assert_eq!(
        of.get_string_value("greeting", Some(&user("u")), None)
            .await
            .unwrap(),
        "hello"
    );

    // struct: a JSON object, arrays inside as Value::Array.
    let d = of
        .get_struct_details::<StructValue>("config", Some(&user("u")), None)
        .await
        .unwrap();
    assert_eq!(d.variant.as_deref(), Some("standard"));
    let expected = StructValue::default()
        .with_field("steps", 3)
        .with_field("express", false)
        .with_field("methods", vec!["card", "paypal"])
        .with_field("timeout", 1.5)
        .with_field("limits", StructValue::default().with_field("daily", 1000));
    assert_eq!(d.value, expected);
    let express: StructValue = of
        .get_struct_value("config", Some(&pro), None)
        .await
        .unwrap();
    assert_eq!(express.fields["methods"], Value::from(vec!["card"]));

    // A date-time attribute is an instant for before/after (to the nanosecond).
    let at = |unix: i64, nanos: i128| {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix) * 1_000_000_000 + nanos)
            .unwrap()
    };
    let new_year_2026 = 1_767_225_600;
    let early = user("u").with_custom_field("signup", at(new_year_2026, -1));
    let d = of
        .get_bool_details("early-adopter", Some(&early), None)
        .await
        .unwrap();
    assert!(d.value);
    assert_eq!(meta(&d, metadata::RULE_ID), text("early"));
    let on_time = user("u").with_custom_field("signup", at(new_year_2026, 0));
    assert!(!of
        .get_bool_value("early-adopter", Some(&on_time), None)
        .await
        .unwrap());

    // The SDK's global and client contexts are merged in as usual.
    let mut of = of;
    of.set_evaluation_context(EvaluationContext::default().with_custom_field("plan", "pro"));
    assert_eq!(
        of.get_int_value("max-items", Some(&user("u")), None)
            .await
            .unwrap(),
        250
    );
}

/// The flag and context that produce an edgeflag reason (`in_rollout` as given).
fn scenario(kind: &str, in_rollout: bool) -> (&'static str, EvaluationContext) {
    match (kind, in_rollout) {
        ("OFF", false) => ("kill", user("u")),
        ("PREREQUISITE_FAILED", false) => ("gated", user("u")),
        ("TARGET_MATCH", false) => ("checkout", user("user-666")),
        ("RULE_MATCH", false) => (
            "checkout",
            user("u").with_custom_field("email", "bo@edgeflag.dev"),
        ),
        ("RULE_MATCH", true) => ("checkout", user("u").with_custom_field("groups", "beta")),
        ("FALLTHROUGH", false) => ("checkout", user("u")),
        ("FALLTHROUGH", true) => ("rollout", user("u")),
        // No key: the fallthrough rollout cannot bucket the context.
        ("DEFAULT", false) => ("rollout", EvaluationContext::default()),
        ("ERROR", false) => ("no-such-flag", user("u")),
        _ => panic!("no scenario yields {kind} (in_rollout {in_rollout}): add one"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reason_of_the_vectors_comes_through_the_sdk() {
    let vectors: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/openfeature.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let (_src, _dest, _server, flags) = served("reasons").await;
    let (of, recorder) = sdk("reasons", EdgeflagProvider::new(flags)).await;

    let reasons = vectors["reasons"].as_array().unwrap();
    assert!(reasons.len() >= 9, "{reasons:?}");
    for case in reasons {
        let kind = case["edgeflag"].as_str().unwrap();
        let in_rollout = case["in_rollout"].as_bool().unwrap();
        let expected = case["openfeature"].as_str().unwrap();
        let (flag, ctx) = scenario(kind, in_rollout);
        let what = format!("{kind} (in_rollout {in_rollout}) via {flag}");
        match of.get_bool_details(flag, Some(&ctx), None).await {
            Ok(d) => {
                assert_eq!(reason(&d).as_deref(), Some(expected), "{what}");
                assert_eq!(meta(&d, metadata::REASON), text(kind), "{what}");
                assert!(d.variant.is_some(), "{what}");
            }
            Err(e) => {
                // Errors come back as `Err`; the SDK's details say ERROR.
                assert_eq!(kind, "ERROR", "{what}: {e:?}");
                assert_eq!(expected, "ERROR");
                assert_eq!(e.code, EvaluationErrorCode::FlagNotFound, "{what}");
            }
        }
        assert_eq!(
            recorder.last(),
            Some((flag.to_owned(), expected.to_owned())),
            "{what}"
        );
    }

    // Each error of the vectors, by the code the SDK returns.
    for case in vectors["errors"].as_array().unwrap() {
        let kind = case["edgeflag"].as_str().unwrap();
        let expected = case["openfeature"].as_str().unwrap();
        let flag = match kind {
            "FLAG_NOT_FOUND" => "no-such-flag",
            "WRONG_TYPE" => "max-items",
            _ => panic!("no scenario yields the error {kind}: add one"),
        };
        let e = of
            .get_bool_value(flag, Some(&user("u")), None)
            .await
            .unwrap_err();
        assert_eq!(e.code.to_string(), expected, "{kind}");
        assert!(
            e.message.as_deref().is_some_and(|m| m.contains(kind)),
            "{e:?}"
        );
        assert_eq!(recorder.last(), Some((flag.to_owned(), "ERROR".to_owned())));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_leave_the_callers_default_and_say_why() {
    let (_src, _dest, _server, flags) = served("errors").await;
    let (of, _) = sdk("errors", EdgeflagProvider::new(flags)).await;
    let u = user("u");

    // FLAG_NOT_FOUND, for every type.
    let e = of.get_bool_value("nope", Some(&u), None).await.unwrap_err();
    assert_eq!(e.code, EvaluationErrorCode::FlagNotFound);
    assert!(e.message.unwrap().contains("\"nope\""));
    assert!(of
        .get_bool_value("nope", Some(&u), None)
        .await
        .unwrap_or(true));
    assert_eq!(
        of.get_int_value("nope", Some(&u), None).await.unwrap_or(7),
        7
    );
    assert_eq!(
        of.get_float_value("nope", Some(&u), None)
            .await
            .unwrap_or(0.5),
        0.5
    );
    assert_eq!(
        of.get_string_value("nope", Some(&u), None)
            .await
            .unwrap_or_else(|_| "dflt".into()),
        "dflt"
    );
    let e = of
        .get_struct_value::<StructValue>("nope", Some(&u), None)
        .await
        .unwrap_err();
    assert_eq!(e.code, EvaluationErrorCode::FlagNotFound);

    // TYPE_MISMATCH: each resolve on a flag of another type, an int on a
    // fraction, a struct on a JSON array.
    let mismatches = [
        (
            of.get_bool_value("max-items", Some(&u), None)
                .await
                .map(drop),
            "number flag, resolved as boolean",
        ),
        (
            of.get_int_value("greeting", Some(&u), None).await.map(drop),
            "string flag, resolved as number",
        ),
        (
            of.get_int_value("ratio", Some(&u), None).await.map(drop),
            "served 0.25, which is not an integer",
        ),
        (
            of.get_float_value("kill", Some(&u), None).await.map(drop),
            "boolean flag, resolved as number",
        ),
        (
            of.get_string_value("config", Some(&u), None)
                .await
                .map(drop),
            "json flag, resolved as string",
        ),
        (
            of.get_struct_value::<StructValue>("ratio", Some(&u), None)
                .await
                .map(drop),
            "number flag, resolved as json",
        ),
        (
            of.get_struct_value::<StructValue>("list", Some(&u), None)
                .await
                .map(drop),
            "a JSON array",
        ),
    ];
    for (result, message) in mismatches {
        let e = result.unwrap_err();
        assert_eq!(e.code, EvaluationErrorCode::TypeMismatch, "{e:?}");
        assert!(
            e.message.as_deref().is_some_and(|m| m.contains(message)),
            "{e:?} / {message}"
        );
    }
    assert_eq!(
        of.get_int_value("ratio", Some(&u), None)
            .await
            .unwrap_or(-1),
        -1
    );

    // INVALID_CONTEXT, naming the attribute.
    let invalid = [
        (u.clone().with_custom_field("score", f64::NAN), "score"),
        (
            u.clone()
                .with_custom_field("flags", Field::new_struct(Value::from(vec![true, false]))),
            "flags",
        ),
        (
            u.clone().with_custom_field(
                "address",
                Field::new_struct(StructValue::default().with_field("zip", f64::INFINITY)),
            ),
            "address.zip",
        ),
        (
            u.clone()
                .with_custom_field("opaque", Field::new_struct(std::time::Instant::now())),
            "opaque",
        ),
    ];
    for (ctx, attribute) in invalid {
        let e = of
            .get_bool_value("checkout", Some(&ctx), None)
            .await
            .unwrap_err();
        assert_eq!(e.code, EvaluationErrorCode::InvalidContext, "{e:?}");
        assert!(
            e.message
                .as_deref()
                .is_some_and(|m| m.contains(&format!("{attribute:?}"))),
            "{e:?} names {attribute}"
        );
        assert!(of
            .get_bool_value("checkout", Some(&ctx), None)
            .await
            .unwrap_or(true));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_until_the_first_ruleset_then_ready() {
    // The origin runs, but nothing is published yet.
    let (src, dest) = project("not-ready", false);
    let server = Server::start(&dest, 0, &[]);
    let flags = client(&url(&server));
    let provider = EdgeflagProvider::new(flags.clone()).init_timeout(Duration::from_millis(300));
    let (of, recorder) = sdk("not-ready", provider.clone()).await;
    assert_eq!(provider.status(), ProviderStatus::NotReady);
    let e = of
        .get_bool_value("checkout", Some(&user("u")), None)
        .await
        .unwrap_err();
    assert_eq!(e.code, EvaluationErrorCode::ProviderNotReady);
    assert!(
        e.message
            .as_deref()
            .is_some_and(|m| m.contains("no ruleset yet")),
        "{e:?}"
    );
    assert_eq!(
        recorder.last(),
        Some(("checkout".to_owned(), "ERROR".to_owned()))
    );
    assert!(of
        .get_bool_value("checkout", Some(&user("u")), None)
        .await
        .unwrap_or(true));

    // The first publish: ready, and the flag resolves.
    publish(&src, &dest);
    assert!(flags.ready(WAIT).await, "{:?}", flags.status());
    assert_eq!(provider.status(), ProviderStatus::Ready);
    let d = of
        .get_bool_details("kill", Some(&user("u")), None)
        .await
        .unwrap();
    assert!(!d.value);
    assert_eq!(reason(&d).as_deref(), Some("DISABLED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initialize_waits_for_the_first_ruleset() {
    let (src, dest) = project("init-wait", false);
    publish(&src, &dest);
    let server = Server::start(&dest, 0, &[]);
    // The SDK's set_provider runs initialize: the first resolve after it finds
    // the ruleset, without the test waiting for the client itself.
    let provider = EdgeflagProvider::new(client(&url(&server))).init_timeout(WAIT);
    let (of, _) = sdk("init-wait", provider.clone()).await;
    assert_eq!(provider.status(), ProviderStatus::Ready);
    assert!(!of
        .get_bool_value("kill", Some(&user("u")), None)
        .await
        .unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_closed_before_any_ruleset_is_an_error() {
    let flags = client(&dead_url().await);
    let provider = EdgeflagProvider::new(flags.clone()).init_timeout(Duration::ZERO);
    let (of, _) = sdk("closed", provider.clone()).await;
    assert_eq!(provider.status(), ProviderStatus::NotReady);
    flags.close();
    assert_eq!(provider.status(), ProviderStatus::Error);
    let e = of
        .get_bool_value("kill", Some(&user("u")), None)
        .await
        .unwrap_err();
    assert_eq!(e.code, EvaluationErrorCode::ProviderNotReady);
    assert!(
        e.message.as_deref().is_some_and(|m| m.contains("closed")),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_flip_is_seen_by_the_next_resolve() {
    let (src, dest, _server, flags) = served("flip").await;
    let (of, _) = sdk("flip", EdgeflagProvider::new(flags.clone())).await;
    let d = of
        .get_bool_details("kill", Some(&user("u")), None)
        .await
        .unwrap();
    assert_eq!((d.value, d.variant.as_deref()), (false, Some("off")));
    assert_eq!(meta(&d, metadata::VERSION), Some(FlagMetadataValue::Int(1)));
    // `gated` follows its prerequisite.
    let d = of
        .get_bool_details("gated", Some(&user("u")), None)
        .await
        .unwrap();
    assert_eq!(meta(&d, metadata::PREREQUISITE), text("kill"));

    write_source(&src, true);
    let out = publish(&src, &dest);
    assert!(out.contains("published production v2"), "{out}");
    assert!(
        flags.wait_for_version(2, WAIT).await,
        "{:?}",
        flags.status()
    );
    let d = of
        .get_bool_details("kill", Some(&user("u")), None)
        .await
        .unwrap();
    assert_eq!((d.value, d.variant.as_deref()), (true, Some("on")));
    assert_eq!(reason(&d).as_deref(), Some("DEFAULT"));
    assert_eq!(meta(&d, metadata::VERSION), Some(FlagMetadataValue::Int(2)));
    assert!(of
        .get_bool_value("gated", Some(&user("u")), None)
        .await
        .unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_signed_ruleset_makes_the_provider_stale() {
    let (src, dest) = project("stale", false);
    let keys = dest.parent().unwrap().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let key = keys.join("k");
    ok(&["keygen", "--out", s(&key)]);
    let public = PathBuf::from(format!("{}.pub", key.display()));
    let out = ok(&[
        "publish",
        s(&src),
        "--to",
        s(&dest),
        "--signing-key",
        s(&key),
        "--expires-in",
        "5s",
    ]);
    assert!(out.contains("published production v1"), "{out}");
    let server = Server::start(&dest, 0, &[]);
    let flags = Client::builder(url(&server))
        .poll_interval(Duration::from_millis(100))
        .trust_file(&public)
        .start()
        .unwrap();
    let provider = EdgeflagProvider::new(flags.clone());
    let (of, _) = sdk("stale", provider.clone()).await;
    assert!(flags.ready(WAIT).await, "{:?}", flags.status());
    assert!(flags.status().verified_by.is_some());
    assert_eq!(provider.status(), ProviderStatus::Ready);
    let d = of
        .get_bool_details("kill", Some(&user("u")), None)
        .await
        .unwrap();
    assert_eq!(meta(&d, metadata::STALE), None);

    // Nobody re-signs: once it expires the provider reports STALE and keeps
    // serving it, saying so in the flag metadata.
    eventually("the provider is stale", || {
        provider.status() == ProviderStatus::STALE
    })
    .await;
    assert!(flags.status().stale);
    let d = of
        .get_bool_details("kill", Some(&user("u")), None)
        .await
        .unwrap();
    assert!(!d.value);
    assert_eq!(reason(&d).as_deref(), Some("DISABLED"));
    assert_eq!(
        meta(&d, metadata::STALE),
        Some(FlagMetadataValue::Bool(true))
    );
}
