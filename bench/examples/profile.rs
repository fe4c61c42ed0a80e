//! A loop of one scenario for profilers (valgrind --tool=callgrind, perf):
//!
//! ```text
//! cargo build --release -p edgeflag-bench --example profile
//! valgrind --tool=callgrind target/release/examples/profile S2 edgeflag 100000
//! ```
//!
//! Arguments: scenario (`S1`, `S2`, `S3`, `load`, `compile`), engine (`edgeflag`,
//! `edgeflag-id`, `unleash`, `launchdarkly`; ignored by `compile`), iterations.

use std::hint::black_box;

use edgeflag_bench::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scenario = args.get(1).map_or("S2", String::as_str);
    let engine = args.get(2).map_or("edgeflag", String::as_str);
    let n: u64 = args
        .get(3)
        .map_or(100_000, |s| s.parse().expect("iterations"));

    match scenario {
        "load" | "compile" => {
            let flags = big_set(BIG);
            let src = vec![("flags.json".to_string(), edgeflag_source_json(&flags))];
            let bytes = edgeflag_ruleset_bytes(&flags);
            let un = unleash_json(&flags);
            let ld = launchdarkly_json(&flags);
            for _ in 0..n {
                match (scenario, engine) {
                    ("compile", _) => drop(black_box(edgeflag_compile(&src))),
                    (_, "unleash") => drop(black_box(unleash_load(&un))),
                    (_, "launchdarkly") => drop(black_box(launchdarkly_load(&ld))),
                    _ => drop(black_box(edgeflag_load(&bytes))),
                }
            }
        }
        _ => {
            let (flags, key) = match scenario {
                "S1" => (small_set(), S1_KEY),
                "S2" => (small_set(), S2_KEY),
                _ => (big_set(BIG), S2_KEY),
            };
            let e = Engines::new(&flags);
            let s = bench_subject();
            let ef = edgeflag_context(&s);
            let un = unleash_context(&s);
            let ld = launchdarkly_context(&s);
            let id = e.edgeflag.flag_id(key).expect("flag");
            let mut on = 0u64;
            for _ in 0..n {
                let v = match engine {
                    "edgeflag-id" => {
                        e.edgeflag.evaluate_id(black_box(id), black_box(&ef)).value
                            == Some(edgeflag_evaluator::FlagValue::Bool(true))
                    }
                    "unleash" => unleash_enabled(&e.unleash, black_box(key), black_box(&un)),
                    "launchdarkly" => {
                        e.launchdarkly
                            .bool_value(black_box(key), black_box(&ld), false)
                    }
                    _ => e.edgeflag.bool_value(black_box(key), black_box(&ef), false),
                };
                on += u64::from(v);
            }
            println!("{scenario} {engine}: {on}/{n} on");
        }
    }
}
