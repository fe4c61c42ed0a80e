//! S1–S3: one evaluation of a boolean flag for a prepared context, every engine in
//! the same run. Each engine is given the flag key and looks the flag up itself,
//! as an application would; `edgeflag-id` additionally shows edgeflag's
//! pre-resolved-id path (`flag_id` once, `evaluate_id` per call).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use edgeflag_bench::*;

fn group(c: &mut Criterion, name: &str, e: &Engines, key: &str) {
    let s = bench_subject();
    let ef_ctx = edgeflag_context(&s);
    let un_ctx = unleash_context(&s);
    let ld_ctx = launchdarkly_context(&s);
    let id = e.edgeflag.flag_id(key).expect("flag present");

    let mut g = c.benchmark_group(name);
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("edgeflag", |b| {
        b.iter(|| {
            e.edgeflag
                .bool_value(black_box(key), black_box(&ef_ctx), false)
        })
    });
    g.bench_function("edgeflag-id", |b| {
        b.iter(|| {
            e.edgeflag
                .evaluate_id(black_box(id), black_box(&ef_ctx))
                .value
        })
    });
    g.bench_function("unleash", |b| {
        b.iter(|| unleash_enabled(&e.unleash, black_box(key), black_box(&un_ctx)))
    });
    g.bench_function("launchdarkly", |b| {
        b.iter(|| {
            e.launchdarkly
                .bool_value(black_box(key), black_box(&ld_ctx), false)
        })
    });
    g.finish();
}

fn evaluate(c: &mut Criterion) {
    let small = Engines::new(&small_set());
    group(c, "S1", &small, S1_KEY);
    group(c, "S2", &small, S2_KEY);
    drop(small);
    let big = Engines::new(&big_set(BIG));
    group(c, "S3", &big, S2_KEY);
}

criterion_group!(benches, evaluate);
criterion_main!(benches);
