//! A counting global allocator: install it in a test binary, then compare
//! [`allocations`] before and after the code under test.
//!
//! [`live`] and [`peak`] follow the bytes held (allocated and not yet freed) by
//! the thread, so a test can bound what a load needs at its worst moment:
//! [`reset_peak`] before it, [`peak`] after it.
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: edgeflag_testkit::alloc::Counting = edgeflag_testkit::alloc::Counting;
//!
//! let before = edgeflag_testkit::alloc::allocations();
//! rules.evaluate("flag", &ctx);
//! assert_eq!(edgeflag_testkit::alloc::allocations(), before);
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts allocations and reallocations (and the bytes they ask for) per
/// thread, then defers to [`System`].
pub struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
    // Signed: memory allocated by another thread may be freed by this one.
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    ALLOCS.with(|c| c.set(c.get() + 1));
    BYTES.with(|c| c.set(c.get() + bytes as u64));
    hold(bytes as i64);
}

fn hold(delta: i64) {
    let live = LIVE.with(|c| {
        let v = c.get() + delta;
        c.set(v);
        v
    });
    PEAK.with(|p| {
        if live > p.get() {
            p.set(live)
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter
// is a thread-local `Cell` with a const initialiser, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        hold(-(layout.size() as i64));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as a new block held next to the old one (what a moving
        // reallocation needs at its worst moment), then the old one freed.
        count(new_size);
        hold(-(layout.size() as i64));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made by this thread so far (when [`Counting`] is the global
/// allocator; always 0 otherwise).
pub fn allocations() -> u64 {
    ALLOCS.with(|c| c.get())
}

/// Bytes asked for by this thread's allocations so far.
pub fn bytes() -> u64 {
    BYTES.with(|c| c.get())
}

/// Bytes this thread holds now: allocated by it and not yet freed (frees of
/// another thread's blocks count against it).
pub fn live() -> i64 {
    LIVE.with(|c| c.get())
}

/// The most bytes this thread held at once since the last [`reset_peak`].
pub fn peak() -> i64 {
    PEAK.with(|c| c.get())
}

/// Starts a new peak measurement from what the thread holds now; returns that
/// amount (subtract it from [`peak`] to get what the code under test added).
pub fn reset_peak() -> i64 {
    let now = live();
    PEAK.with(|p| p.set(now));
    now
}
