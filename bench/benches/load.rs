//! Loading a 10,000-flag ruleset from its serialized form (edgeflag: the binary
//! ruleset; Unleash: `ClientFeatures` JSON, deserialized and compiled by the engine;
//! LaunchDarkly: the SDK data JSON, deserialized into a store), and compiling the
//! same 10,000 flags from edgeflag source text (JSON and YAML) into a binary ruleset.
//! Dropping the loaded state is not timed.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use edgeflag_bench::*;

fn load(c: &mut Criterion) {
    let flags = big_set(BIG);
    let ef = edgeflag_ruleset_bytes(&flags);
    let un = unleash_json(&flags);
    let ld = launchdarkly_json(&flags);
    println!(
        "10k-flag ruleset bytes: edgeflag {} (binary), unleash {} (JSON), launchdarkly {} (JSON)",
        ef.len(),
        un.len(),
        ld.len()
    );

    let mut g = c.benchmark_group("load");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("edgeflag", |b| {
        b.iter_with_large_drop(|| edgeflag_load(black_box(&ef)))
    });
    // One Unleash load takes ~0.6 s: give its 10 samples the time they need.
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("unleash", |b| {
        b.iter_with_large_drop(|| unleash_load(black_box(&un)))
    });
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("launchdarkly", |b| {
        b.iter_with_large_drop(|| launchdarkly_load(black_box(&ld)))
    });
    g.finish();
}

fn compile(c: &mut Criterion) {
    let flags = big_set(BIG);
    let json = vec![("flags.json".to_string(), edgeflag_source_json(&flags))];
    let yaml = vec![("flags.yaml".to_string(), edgeflag_source_yaml(&flags))];
    println!(
        "10k-flag edgeflag source bytes: JSON {}, YAML {}",
        json[0].1.len(),
        yaml[0].1.len()
    );

    let mut g = c.benchmark_group("compile");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("edgeflag-json", |b| {
        b.iter_with_large_drop(|| edgeflag_compile(black_box(&json)))
    });
    g.bench_function("edgeflag-yaml", |b| {
        b.iter_with_large_drop(|| edgeflag_compile(black_box(&yaml)))
    });
    g.finish();
}

criterion_group!(benches, load, compile);
criterion_main!(benches);
