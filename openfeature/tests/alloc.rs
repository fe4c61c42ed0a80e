//! Allocations per resolve, counted with the testkit's counting allocator: the
//! provider directly, through the `FeatureProvider` trait (one boxed future
//! more), and through the SDK's client. The evaluation itself allocates nothing
//! (evaluator/tests/alloc.rs); what is counted here is the conversion of the
//! context and the owned result OpenFeature defines (variant, flag metadata).
//!
//! Run with `--nocapture` to see the figures. The assertions are upper bounds
//! on the provider's own allocations, so a change that adds some is noticed;
//! the SDK's figure is printed, not asserted (it belongs to open-feature).

use edgeflag_client::Client;
use edgeflag_evaluator::json::context_from_openfeature;
use edgeflag_openfeature::{context, EdgeflagProvider};
use edgeflag_testkit::alloc::{allocations, Counting};
use edgeflag_testkit::dead_url;
use edgeflag_testkit::rulesets::s2;
use open_feature::provider::FeatureProvider;
use open_feature::{EvaluationContext, OpenFeature};
use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

#[global_allocator]
static GLOBAL: Counting = Counting;

const N: u64 = 1000;

/// Polls a future that is ready at once (nothing in a resolve waits).
fn now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut TaskContext::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a resolve waited"),
    }
}

/// Allocations per call of `f`, over `N` calls after a warm-up.
fn per_call(mut f: impl FnMut()) -> f64 {
    for _ in 0..10 {
        f();
    }
    let before = allocations();
    for _ in 0..N {
        f();
    }
    (allocations() - before) as f64 / N as f64
}

/// The S2 flag (a 3-clause rule with an id, then a 50/50 rollout), and a
/// context matching the rule: `RULE_MATCH` with its id in the metadata.
fn provider(rt: &tokio::runtime::Runtime) -> EdgeflagProvider {
    rt.block_on(async {
        let client = Client::builder(dead_url().await)
            .bootstrap_bytes(s2().bytes("production", 1))
            .push(false)
            .poll_interval(Duration::from_secs(3600))
            .max_backoff(Duration::from_secs(3600))
            .start()
            .unwrap();
        EdgeflagProvider::new(client)
    })
}

fn contexts() -> [(&'static str, EvaluationContext); 2] {
    [
        (
            "targeting key only",
            EvaluationContext::default().with_targeting_key("user-42"),
        ),
        (
            "key + 3 attributes",
            EvaluationContext::default()
                .with_targeting_key("user-42")
                .with_custom_field("country", "DE")
                .with_custom_field("plan", "pro")
                .with_custom_field("email", "ana@example.com"),
        ),
    ]
}

#[test]
fn allocations_per_resolve() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = provider(&rt);
    let rules = provider.client().ruleset().unwrap();

    for (name, ctx) in contexts() {
        let edgeflag_ctx = context::to_context(&ctx).unwrap();
        let raw = per_call(|| {
            std::hint::black_box(rules.bool_value("s2", &edgeflag_ctx, false));
        });
        let json = per_call(|| {
            std::hint::black_box(context::to_json(&ctx).unwrap());
        });
        let conversion = per_call(|| {
            std::hint::black_box(context::to_context(&ctx).unwrap());
        });
        let mapping_only = {
            let map = context::to_json(&ctx).unwrap();
            per_call(|| {
                std::hint::black_box(context_from_openfeature(&map).unwrap());
            })
        };
        let direct = per_call(|| {
            let d = provider.resolve_bool("s2", &ctx).unwrap();
            std::hint::black_box(d);
        });
        let via_trait = per_call(|| {
            let d = now(provider.resolve_bool_value("s2", &ctx)).unwrap();
            std::hint::black_box(d);
        });
        let missing = per_call(|| {
            let e = provider.resolve_bool("nope", &ctx).unwrap_err();
            std::hint::black_box(e);
        });
        println!(
            "{name}: Ruleset::bool_value {raw}, to_json {json}, context_from_openfeature {mapping_only}, \
             to_context {conversion}, resolve_bool {direct}, resolve_bool_value {via_trait}, \
             FLAG_NOT_FOUND {missing} allocations per call"
        );
        assert_eq!(raw, 0.0, "evaluation allocates nothing");
        // The result: variant (1), metadata map (1), its keys (6) and string
        // values (reason kind, rule id, environment: 3).
        let result = direct - conversion;
        assert!(
            result <= 11.0,
            "{name}: {result} allocations for the result"
        );
        assert_eq!(via_trait, direct + 1.0, "the trait adds its boxed future");
    }

    // Through the SDK's client: its own context merging, hook context and
    // details conversion come on top.
    rt.block_on(async {
        OpenFeature::singleton_mut()
            .await
            .set_named_provider("alloc", provider.clone())
            .await;
        let of = OpenFeature::singleton().await.create_named_client("alloc");
        for (name, ctx) in contexts() {
            for _ in 0..10 {
                of.get_bool_value("s2", Some(&ctx), None).await.unwrap();
            }
            let before = allocations();
            for _ in 0..N {
                std::hint::black_box(of.get_bool_value("s2", Some(&ctx), None).await.unwrap());
            }
            let sdk = (allocations() - before) as f64 / N as f64;
            println!("{name}: open_feature::Client::get_bool_value {sdk} allocations per call");
        }
    });
}
