//! A counting global allocator: counts allocations and frees made on threads marked as render
//! threads (works in release builds too, unlike debug-only checkers).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

thread_local! {
    static RENDER_THREAD: Cell<bool> = const { Cell::new(false) };
}

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static FREES: AtomicU64 = AtomicU64::new(0);

fn on_render_thread() -> bool {
    RENDER_THREAD.try_with(Cell::get).unwrap_or(false)
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if on_render_thread() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if on_render_thread() {
            FREES.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if on_render_thread() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Marks the calling thread as a render thread (its allocations are counted from now on).
pub fn mark_render_thread() {
    RENDER_THREAD.with(|r| r.set(true));
}

/// Stops counting on the calling thread.
pub fn unmark_render_thread() {
    RENDER_THREAD.with(|r| r.set(false));
}

/// (allocations, frees) counted on render threads so far.
pub fn counts() -> (u64, u64) {
    (ALLOCS.load(Ordering::Relaxed), FREES.load(Ordering::Relaxed))
}
