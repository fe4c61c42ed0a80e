//! One boolean resolve through the provider, next to the raw evaluator on the
//! same flag and context: the testkit's S2 flag (a 3-clause rule with an id,
//! then a 50/50 rollout) for a context that matches the rule (`RULE_MATCH`).
//!
//! - `ruleset-bool_value`: `Ruleset::bool_value` with a prepared `Context`;
//! - `to_context`: the OpenFeature context → edgeflag `Context` conversion alone;
//! - `provider-resolve_bool`: `EdgeflagProvider::resolve_bool` (conversion,
//!   evaluation, resolution details with variant and flag metadata);
//! - `provider-trait`: `FeatureProvider::resolve_bool_value` (plus its boxed
//!   future), polled once;
//! - `sdk-get_bool_value`: `open_feature::Client::get_bool_value`, the whole SDK
//!   path (context merging, hooks machinery), polled to completion.
//!
//! `cargo bench -p edgeflag-openfeature --bench resolve`

use criterion::{criterion_group, criterion_main, Criterion};
use edgeflag_client::Client;
use edgeflag_openfeature::{context, EdgeflagProvider};
use edgeflag_testkit::dead_url;
use edgeflag_testkit::rulesets::s2;
use open_feature::provider::FeatureProvider;
use open_feature::{EvaluationContext, OpenFeature};
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

/// Polls `f` until it is ready (nothing on these paths waits on anything that
/// needs a wake-up: an uncontended `RwLock` read is ready at once).
fn run<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn resolve(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let provider = rt.block_on(async {
        let client = Client::builder(dead_url().await)
            .bootstrap_bytes(s2().bytes("production", 1))
            .push(false)
            .poll_interval(Duration::from_secs(3600))
            .max_backoff(Duration::from_secs(3600))
            .start()
            .expect("client");
        EdgeflagProvider::new(client)
    });
    let sdk = rt.block_on(async {
        OpenFeature::singleton_mut()
            .await
            .set_provider(provider.clone())
            .await;
        OpenFeature::singleton().await.create_client()
    });
    let rules = provider.client().ruleset().expect("bootstrap ruleset");
    let of_ctx = EvaluationContext::default()
        .with_targeting_key("user-42")
        .with_custom_field("country", "DE")
        .with_custom_field("plan", "pro")
        .with_custom_field("email", "ana@example.com");
    let ctx = context::to_context(&of_ctx).expect("context");
    assert!(rules.bool_value("s2", &ctx, false));
    assert!(
        provider
            .resolve_bool("s2", &of_ctx)
            .expect("resolves")
            .value
    );

    let mut g = c.benchmark_group("resolve-bool");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("ruleset-bool_value", |b| {
        b.iter(|| rules.bool_value(black_box("s2"), black_box(&ctx), false))
    });
    g.bench_function("to_context", |b| {
        b.iter(|| context::to_context(black_box(&of_ctx)))
    });
    g.bench_function("provider-resolve_bool", |b| {
        b.iter(|| provider.resolve_bool(black_box("s2"), black_box(&of_ctx)))
    });
    g.bench_function("provider-trait", |b| {
        b.iter(|| run(provider.resolve_bool_value(black_box("s2"), black_box(&of_ctx))))
    });
    g.bench_function("sdk-get_bool_value", |b| {
        b.iter(|| run(sdk.get_bool_value(black_box("s2"), Some(black_box(&of_ctx)), None)))
    });
    g.finish();
}

criterion_group!(benches, resolve);
criterion_main!(benches);
