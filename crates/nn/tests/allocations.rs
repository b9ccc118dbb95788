//! Heap traffic of a training step and of a prediction, counted by a wrapping global
//! allocator. One test function in this binary, so no other test allocates meanwhile.
//!
//! The budgets are today's counts with a margin: they catch a regression (a copy or a
//! buffer per parameter per step creeping in) and prove that the counts do not grow with the
//! number of steps (nothing accumulates across steps). Large buffers come back from
//! nn-tensor's buffer cache; a step still allocates its small activations and gradients
//! afresh; see docs/PERFORMANCE.md.

#![allow(unsafe_code)] // a global allocator is an `unsafe impl` by definition

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use nn::losses::SparseCategoricalCrossentropy;
use nn::prelude::*;

struct Counting;

static CALLS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn counts() -> (usize, usize) {
    (CALLS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst))
}

/// (allocation calls, bytes) made by `f`.
fn measure(f: impl FnOnce()) -> (usize, usize) {
    let (c0, b0) = counts();
    f();
    let (c1, b1) = counts();
    (c1 - c0, b1 - b0)
}

#[test]
fn training_and_prediction_heap_traffic_is_bounded_and_steady() {
    // One thread: rayon's own bookkeeping stays out of the counts.
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .ok();
    nn::set_random_seed(7);
    // W1's MLP (784-256-128-10), on a batch of 128.
    let mut model = Sequential::new()
        .add(Input::new([784]))
        .add(Dense::new(256).activation("relu"))
        .add(Dense::new(128).activation("relu"))
        .add(Dense::new(10))
        .build()
        .unwrap();
    model
        .compile(
            "adam",
            SparseCategoricalCrossentropy::new().from_logits(true),
            ["accuracy"],
        )
        .unwrap();
    let x = Tensor::<f32>::rand_uniform([128, 784], 0.0, 1.0, 1);
    let labels: Vec<f64> = (0..128).map(|i| (i % 10) as f64).collect();
    let y = Tensor::<f32>::from_f64s(&labels, [128]).unwrap();
    // Warm-up: optimizer slots and thread-local GEMM buffers are created here.
    for _ in 0..3 {
        model.train_on_batch(&x, &y, None).unwrap();
    }
    let steps: Vec<(usize, usize)> = (0..5)
        .map(|_| {
            measure(|| {
                model.train_on_batch(&x, &y, None).unwrap();
            })
        })
        .collect();
    let (calls, bytes) = steps[0];
    eprintln!("train step: {calls} allocations, {bytes} bytes");
    // Steady state: every step makes the same allocations.
    assert!(
        steps.iter().all(|&s| s == steps[0]),
        "steps differ: {steps:?}"
    );
    // Measured: 170 allocations, 53 KB. The weight gradients (0.94 MB), the gathered batch
    // and the activations and their gradients of 64 KiB or more come back from nn-tensor's
    // buffer cache each step; what is left is small buffers. Without the cache a step
    // allocates 1.77 MB; a copy of the weights or of Adam's slots per step would add 0.94 MB.
    let weight_bytes = 235_146 * 4;
    assert!(
        bytes < weight_bytes / 4,
        "a step allocated {bytes} bytes (weights are {weight_bytes})"
    );
    assert!(calls < 250, "a step made {calls} allocations");

    // Prediction records no graph and keeps nothing: one sample costs a handful of small
    // buffers, no copy of the weights.
    let x1 = Tensor::<f32>::rand_uniform([1, 784], 0.0, 1.0, 2);
    model.predict(&x1).unwrap();
    let (calls1, bytes1) = measure(|| {
        model.predict(&x1).unwrap();
    });
    eprintln!("predict one sample: {calls1} allocations, {bytes1} bytes");
    assert!(bytes1 < 16 * 1024, "predict(1) allocated {bytes1} bytes");
    assert!(calls1 < 100, "predict(1) made {calls1} allocations");
    let again = measure(|| {
        model.predict(&x1).unwrap();
    });
    assert_eq!(again, (calls1, bytes1), "predict is not steady");
}
