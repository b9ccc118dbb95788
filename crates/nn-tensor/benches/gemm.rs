//! f32 GEMM throughput at the WORKLOADS W4 shapes; criterion reports FLOP/s (2·M·K·N per
//! product). Set `NN_BENCH_BIG=1` to add 4096³.

#![allow(missing_docs, clippy::unwrap_used)] // benchmark harness code, not library code

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nn_tensor::Tensor;

fn gemm(c: &mut Criterion) {
    let mut shapes = vec![(1024, 1024, 1024), (128, 784, 256), (128, 256, 128)];
    if std::env::var("NN_BENCH_BIG").is_ok_and(|v| v == "1") {
        shapes.push((4096, 4096, 4096));
    }
    let mut group = c.benchmark_group("gemm_f32");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (m, k, n) in shapes {
        let a = Tensor::<f32>::randn([m, k], 1);
        let b = Tensor::<f32>::randn([k, n], 2);
        group.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{m}x{k}x{n}")),
            &(a, b),
            |bench, (a, b)| bench.iter(|| a.matmul(b).unwrap()),
        );
    }
    group.finish();
}

criterion_group!(benches, gemm);
criterion_main!(benches);
