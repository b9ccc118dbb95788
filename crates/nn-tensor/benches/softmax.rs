//! WORKLOADS W3: softmax and fused softmax cross-entropy over `[256, 32768]` `f32` logits
//! drawn from N(0, 3), with random labels.
//!
//! Criterion reports throughput as `2·4·256·32768` bytes per call (the logits read once and
//! one `[N, C]` result written). Before the benchmarks, the machine's memory bandwidth is
//! measured with a 1 GiB copy (bytes read + written per second, 1 thread and all threads);
//! after them, a summary prints the fused forward+backward GB/s and its ratio to that
//! bandwidth.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use nn_tensor::random::Rng;
use nn_tensor::Tensor;
use rayon::prelude::*;

const N: usize = 256;
const C: usize = 32768;
/// Bytes per forward+backward call: logits read + gradient written.
const BYTES: u64 = 2 * 4 * (N * C) as u64;

fn inputs() -> (Tensor<f32>, Vec<usize>) {
    let x = Tensor::<f32>::rand_normal([N, C], 0.0, 3.0, 1);
    let mut rng = Rng::seed(2);
    let labels = (0..N).map(|_| rng.below(C as u64) as usize).collect();
    (x, labels)
}

/// Best copy bandwidth in GB/s (bytes read + written) of a 1 GiB buffer, single-threaded and
/// split over the rayon pool.
fn copy_bandwidth() -> (f64, f64) {
    let n = (1usize << 30) / 4;
    let src = vec![1.0f32; n];
    let mut dst = vec![2.0f32; n];
    let gb = 2.0 * (4 * n) as f64 / 1e9;
    let mut best1 = f64::MAX;
    let mut best_par = f64::MAX;
    for _ in 0..4 {
        let t = Instant::now();
        dst.copy_from_slice(&src);
        best1 = best1.min(t.elapsed().as_secs_f64());
        black_box(&dst);
        let t = Instant::now();
        let chunk = n.div_ceil(4 * rayon::current_num_threads());
        dst.par_chunks_mut(chunk)
            .zip(src.par_chunks(chunk))
            .for_each(|(d, s)| d.copy_from_slice(s));
        best_par = best_par.min(t.elapsed().as_secs_f64());
        black_box(&dst);
    }
    (gb / best1, gb / best_par)
}

/// Best and median wall time of `reps` runs of `f`.
fn time(reps: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    f();
    let mut ts: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    ts.sort();
    (ts[0], ts[reps / 2])
}

fn benches(c: &mut Criterion, x: &Tensor<f32>, labels: &[usize]) {
    let mut g = c.benchmark_group("softmax_w3");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Bytes(BYTES));
    g.bench_function("softmax_fwd", |b| {
        b.iter(|| black_box(x.softmax(-1).unwrap()))
    });
    g.bench_function("softmax_cross_entropy_fwd_bwd", |b| {
        b.iter(|| {
            black_box(
                x.softmax_cross_entropy_fwd_bwd(labels, 1.0 / N as f32)
                    .unwrap(),
            )
        })
    });
    let mut losses = vec![0.0f32; N];
    let mut grad = vec![0.0f32; N * C];
    g.bench_function("softmax_cross_entropy_fwd_bwd_into", |b| {
        b.iter(|| {
            x.softmax_cross_entropy_fwd_bwd_into(labels, 1.0 / N as f32, &mut losses, &mut grad)
                .unwrap();
            black_box(&grad);
        })
    });
    g.bench_function("log_softmax", |b| {
        b.iter(|| black_box(x.log_softmax(-1).unwrap()))
    });
    // Forward-only CE reads the logits and writes N losses.
    g.throughput(Throughput::Bytes(BYTES / 2));
    g.bench_function("softmax_cross_entropy_fwd", |b| {
        b.iter(|| black_box(x.softmax_cross_entropy(labels).unwrap()))
    });
    g.bench_function("logsumexp", |b| {
        b.iter(|| black_box(x.logsumexp(-1, false).unwrap()))
    });
    g.finish();
}

fn main() {
    let (bw1, bw_par) = copy_bandwidth();
    let threads = rayon::current_num_threads();
    println!("memory bandwidth (1 GiB copy, read+write): {bw1:.1} GB/s on 1 thread, {bw_par:.1} GB/s on {threads} threads");

    let (x, labels) = inputs();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &x, &labels);
    c.final_summary();

    let bw = bw1.max(bw_par);
    let gbps = |d: Duration| BYTES as f64 / d.as_secs_f64() / 1e9;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("\nW3 summary ([{N}, {C}] f32, {BYTES} bytes per call, best / median of 30):");
    // A fresh 32 MiB result buffer is mmapped by glibc on every call (allocations of 32 MiB
    // and more are never recycled by its heap), so each allocating call pays its page
    // faults; the `_into` form writes into a buffer reused across calls, as a training loop
    // does, and shows the kernel's own speed.
    let mut losses = vec![0.0f32; N];
    let mut grad = vec![0.0f32; N * C];
    for t in [1, threads] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap();
        pool.install(|| {
            let (fb, fm) = time(30, || {
                black_box(x.softmax(-1).unwrap());
            });
            let (cb, cm) = time(30, || {
                black_box(x.softmax_cross_entropy_fwd_bwd(&labels, 1.0 / N as f32).unwrap());
            });
            let (kb, km) = time(30, || {
                x.softmax_cross_entropy_fwd_bwd_into(&labels, 1.0 / N as f32, &mut losses, &mut grad)
                    .unwrap();
                black_box(&grad);
            });
            let (ab, am) = time(30, || {
                let mut v = vec![0.0f32; N * C];
                v.par_chunks_mut(C).for_each(|r| r.fill(1.0));
                black_box(v);
            });
            println!("  {t} thread(s):");
            println!(
                "    softmax fwd             {:6.2} ms ({:5.1} GB/s), median {:6.2} ms",
                ms(fb),
                gbps(fb),
                ms(fm)
            );
            println!(
                "    CE fwd+bwd              {:6.2} ms ({:5.1} GB/s = {:3.0}% of {bw:.1} GB/s), \
                 median {:6.2} ms",
                ms(cb),
                gbps(cb),
                100.0 * gbps(cb) / bw,
                ms(cm)
            );
            println!(
                "    CE fwd+bwd, reused buf  {:6.2} ms ({:5.1} GB/s = {:3.0}% of {bw:.1} GB/s), \
                 median {:6.2} ms",
                ms(kb),
                gbps(kb),
                100.0 * gbps(kb) / bw,
                ms(km)
            );
            println!(
                "    alloc + first touch of a fresh [{N}, {C}] f32 buffer: {:.2} ms, median {:.2} ms",
                ms(ab),
                ms(am)
            );
        });
    }
}
