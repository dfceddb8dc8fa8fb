//! A counting global allocator: counts allocations and frees made on threads marked as render
//! threads (works in release builds too, unlike debug-only checkers). Each test uses its own
//! counter (a tag), so tests running in parallel do not see each other's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

/// No tag: the thread is not counted.
const NONE: usize = usize::MAX;

thread_local! {
    static TAG: Cell<usize> = const { Cell::new(NONE) };
}

/// Counter tags, one per test that counts.
pub const ENGINE_TEST: usize = 0;
/// The allocator's own self-test.
pub const SELF_TEST: usize = 1;
/// The cpal callback in the device tests.
#[cfg_attr(not(feature = "cpal"), allow(dead_code))]
pub const DEVICE_TEST: usize = 2;
/// The microphone's capture callback and source-node processor.
pub const MICROPHONE_TEST: usize = 3;
/// The convolver / analyser / worklet render test.
pub const NODES_TEST: usize = 4;
/// The wave shaper's and compressor's message test.
pub const SHAPER_TEST: usize = 5;
/// The panner/listener render test.
pub const SPATIAL_TEST: usize = 6;
/// The render test of the buffer source, delay, filters, stereo panner, splitter, merger and
/// media element processors.
pub const MORE_NODES_TEST: usize = 7;
/// The contained-panic test: the fault path's allocations, counted apart.
pub const FAULT_TEST: usize = 8;

static ALLOCS: [AtomicU64; 9] = [const { AtomicU64::new(0) }; 9];
static FREES: [AtomicU64; 9] = [const { AtomicU64::new(0) }; 9];

fn tag() -> usize {
    TAG.try_with(Cell::get).unwrap_or(NONE)
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(count) = ALLOCS.get(tag()) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(count) = FREES.get(tag()) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if let Some(count) = ALLOCS.get(tag()) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counts the calling thread's allocations under `tag` from now on.
pub fn mark(tag: usize) {
    TAG.with(|t| t.set(tag));
}

/// Stops counting on the calling thread.
pub fn unmark() {
    TAG.with(|t| t.set(NONE));
}

/// For render hooks: count under [`DEVICE_TEST`].
#[cfg_attr(not(feature = "cpal"), allow(dead_code))]
pub fn mark_device() {
    mark(DEVICE_TEST);
}

/// (allocations, frees) counted under `tag` so far.
pub fn counts(tag: usize) -> (u64, u64) {
    (
        ALLOCS[tag].load(Ordering::Relaxed),
        FREES[tag].load(Ordering::Relaxed),
    )
}
