//! A counting global allocator: install it in a test binary, then compare
//! [`allocations`] before and after the code under test.
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
}

fn count(bytes: usize) {
    ALLOCS.with(|c| c.set(c.get() + 1));
    BYTES.with(|c| c.set(c.get() + bytes as u64));
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
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
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
