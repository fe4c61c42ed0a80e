//! Writes the benchmark rulesets for the WASM benchmark (`wasm/bench/bench.mjs`):
//! `small.efr` (the S1 and S2 flags), `big.efr` (S3's 10,000 flags) and
//! `hundred.efr` (100 S2-style flags, for `allFlags`), plus `subject.json`, the
//! context the Rust benches evaluate. Same flags as `cargo bench`.
//!
//! `cargo run -p edgeflag-bench --example wasm_fixtures -- OUT_DIR`

use edgeflag_bench::{bench_subject, big_set, edgeflag_ruleset_bytes, small_set, BIG};

fn main() {
    let Some(out) = std::env::args().nth(1) else {
        eprintln!("usage: wasm_fixtures OUT_DIR");
        std::process::exit(2);
    };
    let out = std::path::Path::new(&out);
    let write = |name: &str, bytes: &[u8]| {
        if let Err(e) = std::fs::write(out.join(name), bytes) {
            eprintln!("{}: {e}", out.join(name).display());
            std::process::exit(1);
        }
    };
    std::fs::create_dir_all(out).unwrap_or_else(|e| {
        eprintln!("{}: {e}", out.display());
        std::process::exit(1);
    });
    write("small.efr", &edgeflag_ruleset_bytes(&small_set()));
    write("big.efr", &edgeflag_ruleset_bytes(&big_set(BIG)));
    write("hundred.efr", &edgeflag_ruleset_bytes(&big_set(100)));
    let s = bench_subject();
    let subject = serde_json::json!({
        "key": s.key, "country": s.country, "plan": s.plan, "email": s.email,
    });
    write("subject.json", subject.to_string().as_bytes());
}
