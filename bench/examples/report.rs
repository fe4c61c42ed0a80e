//! Prints the 10k-flag ruleset size per engine and the heap allocations per
//! evaluation per engine and scenario, counted by a global allocator.
//!
//! `cargo run --release -p edgeflag-bench --example report`

use std::hint::black_box;

use edgeflag_bench::*;
use edgeflag_testkit::alloc::{allocations, bytes, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

const N: u64 = 10_000;

/// (allocations, bytes) per call of `f`, after one warm-up call.
fn per_call(mut f: impl FnMut() -> bool) -> (f64, f64) {
    black_box(f());
    let (a0, b0) = (allocations(), bytes());
    for _ in 0..N {
        black_box(f());
    }
    let (a1, b1) = (allocations(), bytes());
    ((a1 - a0) as f64 / N as f64, (b1 - b0) as f64 / N as f64)
}

fn allocs(scenario: &str, e: &Engines, key: &str) {
    let s = bench_subject();
    let ef_ctx = edgeflag_context(&s);
    let un_ctx = unleash_context(&s);
    let ld_ctx = launchdarkly_context(&s);
    let id = e.edgeflag.flag_id(key).unwrap();
    let rows: [(&str, (f64, f64)); 4] = [
        (
            "edgeflag",
            per_call(|| e.edgeflag.bool_value(black_box(key), &ef_ctx, false)),
        ),
        (
            "edgeflag-id",
            per_call(|| {
                e.edgeflag
                    .evaluate_id(black_box(id), &ef_ctx)
                    .value
                    .is_some()
            }),
        ),
        (
            "unleash",
            per_call(|| unleash_enabled(&e.unleash, black_box(key), &un_ctx)),
        ),
        (
            "launchdarkly",
            per_call(|| e.launchdarkly.bool_value(black_box(key), &ld_ctx, false)),
        ),
    ];
    for (engine, (a, b)) in rows {
        println!("{scenario:<3} {engine:<13} {a:>8.2} allocs/eval {b:>10.1} bytes/eval");
    }
}

fn main() {
    let small = Engines::new(&small_set());
    allocs("S1", &small, S1_KEY);
    allocs("S2", &small, S2_KEY);
    let flags = big_set(BIG);
    let big = Engines::new(&flags);
    allocs("S3", &big, S2_KEY);

    println!();
    let count = |f: &dyn Fn()| {
        let a0 = allocations();
        f();
        allocations() - a0
    };
    println!(
        "allocations per 10k-flag load (including the drop): edgeflag {}, unleash {}, launchdarkly {}",
        count(&|| drop(black_box(edgeflag_load(&big.edgeflag_bytes)))),
        count(&|| drop(black_box(unleash_load(&big.unleash_json)))),
        count(&|| drop(black_box(launchdarkly_load(&big.launchdarkly_json)))),
    );

    println!();
    println!("10k-flag ruleset size (bytes):");
    println!(
        "  edgeflag binary          {:>10}",
        big.edgeflag_bytes.len()
    );
    println!(
        "  edgeflag source JSON     {:>10}",
        edgeflag_source_json(&flags).len()
    );
    println!(
        "  edgeflag source YAML     {:>10}",
        edgeflag_source_yaml(&flags).len()
    );
    println!("  unleash ClientFeatures   {:>10}", big.unleash_json.len());
    println!(
        "  launchdarkly flags JSON  {:>10}",
        big.launchdarkly_json.len()
    );

    size_breakdown(big.edgeflag.body());

    // Sensitivity: the same structure with email suffixes drawn from a pool of 50
    // (fewer unique strings).
    let mut pooled = flags.clone();
    for (i, f) in pooled.iter_mut().enumerate() {
        if let Some(r) = f.rule.as_mut() {
            if f.key != S2_KEY {
                r.email_suffix = format!("@tenant{}.example.com", i % 50);
            }
        }
    }
    println!();
    println!(
        "10k set with pooled email suffixes: edgeflag binary {} B, unleash {} B, launchdarkly {} B",
        edgeflag_ruleset_bytes(&pooled).len(),
        unleash_json(&pooled).len(),
        launchdarkly_json(&pooled).len()
    );

    if let Some(dir) = std::env::var_os("REPORT_DUMP") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("dump directory");
        std::fs::write(dir.join("edgeflag.efr"), &big.edgeflag_bytes).expect("write");
        std::fs::write(dir.join("unleash.json"), &big.unleash_json).expect("write");
        std::fs::write(dir.join("launchdarkly.json"), &big.launchdarkly_json).expect("write");
        println!("wrote the three 10k rulesets to {}", dir.display());
    }
}

fn encoded_len<T: serde::Serialize + ?Sized>(v: &T) -> usize {
    postcard::to_allocvec(v).expect("encodable").len()
}

/// Where the bytes of the binary body go (postcard sizes of its parts).
fn size_breakdown(body: &edgeflag_evaluator::model::Body) {
    let total = encoded_len(body);
    // fixed flag fields + vec lengths, variations, rule ids, clauses, rule serves,
    // fallthrough
    let mut parts = [0usize; 6];
    for f in &body.flags {
        let vars = encoded_len(&f.variations);
        let (mut ids, mut clauses, mut serves) = (0, 0, 0);
        for r in &f.rules {
            ids += encoded_len(&r.id);
            clauses += encoded_len(&r.clauses);
            serves += encoded_len(&r.serve);
        }
        let ft = encoded_len(&f.fallthrough);
        parts[0] += encoded_len(f) - vars - ids - clauses - serves - ft;
        parts[1] += vars;
        parts[2] += ids;
        parts[3] += clauses;
        parts[4] += serves;
        parts[5] += ft;
    }
    let n = body.flags.len().max(1);
    println!();
    println!(
        "edgeflag body breakdown ({total} bytes, {} flags, {} strings):",
        body.flags.len(),
        body.strings.len()
    );
    let row = |what: &str, b: usize| {
        println!(
            "  {what:<34} {b:>9} B {:>7.1} B/flag {:>6.1} %",
            b as f64 / n as f64,
            100.0 * b as f64 / total as f64
        )
    };
    row("string blob", body.strings.blob.len());
    row("string end offsets", encoded_len(&body.strings.ends));
    row("flag fixed fields + list lengths", parts[0]);
    row("variations (on/off, per flag)", parts[1]);
    row("rule ids", parts[2]);
    row("clauses", parts[3]);
    row("rule serves", parts[4]);
    row("fallthrough rollouts", parts[5]);
}
