//! Prints the 10k-flag ruleset size per engine and the heap allocations per
//! evaluation per engine and scenario, counted by a global allocator.
//!
//! `cargo run --release -p edgeflag-bench --example report`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use edgeflag_bench::*;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size as u64, Relaxed);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const N: u64 = 10_000;

/// (allocations, bytes) per call of `f`, after one warm-up call.
fn per_call(mut f: impl FnMut() -> bool) -> (f64, f64) {
    black_box(f());
    let (a0, b0) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    for _ in 0..N {
        black_box(f());
    }
    let (a1, b1) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
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
}
