//! Times `matmul` per call the way `/tmp/np_gemm.py` times NumPy (best and median of many
//! single calls after 3 warm-up calls), for side-by-side comparison with OpenBLAS:
//! `cargo run --release -p nn-tensor --example gemm_probe [t]` (`t`: also the transposed
//! operands `Aᵀ·B` and `A·Bᵀ`, as in backward passes; `mm`: also `matrixmultiply::sgemm`
//! through `ndarray`'s `dot`, single-threaded, the kernel nn used before its own).
//! A further argument keeps only the shapes whose `MxKxN` label contains it. Threads:
//! `RAYON_NUM_THREADS`.

#![allow(clippy::unwrap_used)] // measurement tool, not library code

use std::time::Instant;

use nn_tensor::Tensor;

fn time(m: usize, k: usize, n: usize, label: &str, f: &dyn Fn() -> Tensor<f32>) {
    let reps = if m * k * n >= 1 << 28 { 20 } else { 500 };
    for _ in 0..3 {
        f();
    }
    let cpu0 = thread_cpu_seconds();
    let mut ts: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .collect();
    let cpu = thread_cpu_seconds().map(|t1| t1 - cpu0.unwrap_or(t1));
    ts.sort_by(f64::total_cmp);
    let flop = 2.0 * (m * k * n) as f64;
    // Per CPU-second of this thread: insensitive to other load when running on one thread.
    let per_cpu = cpu.map_or(String::new(), |c| {
        format!(" cpu {:.1}", flop * reps as f64 / c / 1e9)
    });
    println!(
        "nn    {m}x{k}x{n}{label}: best {:.1} median {:.1}{per_cpu} GFLOP/s",
        flop / ts[0] / 1e9,
        flop / ts[ts.len() / 2] / 1e9
    );
}

/// CPU time of the calling thread (Linux `/proc/thread-self/schedstat`), if available.
fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let transposed = args.iter().any(|a| a == "t");
    let baseline = args.iter().any(|a| a == "mm");
    let only = args.iter().find(|a| *a != "t" && *a != "mm");
    for (m, k, n) in [(1024, 1024, 1024), (128, 784, 256), (128, 256, 128)] {
        if only.is_some_and(|o| !format!("{m}x{k}x{n}").contains(o.as_str())) {
            continue;
        }
        let a = Tensor::<f32>::randn([m, k], 1);
        let b = Tensor::<f32>::randn([k, n], 2);
        time(m, k, n, "", &|| a.matmul(&b).unwrap());
        if baseline {
            let (a2, b2) = (
                a.array()
                    .view()
                    .into_dimensionality::<ndarray::Ix2>()
                    .unwrap(),
                b.array()
                    .view()
                    .into_dimensionality::<ndarray::Ix2>()
                    .unwrap(),
            );
            time(m, k, n, " mm", &|| {
                Tensor::from_shared(a2.dot(&b2).into_dyn().into_shared())
            });
        }
        if transposed {
            let at = a.t().unwrap().contiguous();
            let bt = b.t().unwrap().contiguous();
            time(m, k, n, " AtB", &|| at.matmul_t(&b, true, false).unwrap());
            time(m, k, n, " ABt", &|| a.matmul_t(&bt, false, true).unwrap());
        }
    }
}
