//! Convolution and pooling at the WORKLOADS W2 shapes (MNIST-sized CNN, batch 128, f32).

#![allow(missing_docs, clippy::unwrap_used)] // benchmark harness code, not library code

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use nn_tensor::{Padding, Tensor};

fn conv(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv_f32");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let cases = [
        ("28x28x1_k3x3x1x32", [128, 28, 28, 1], [3, 3, 1, 32]),
        ("13x13x32_k3x3x32x64", [128, 13, 13, 32], [3, 3, 32, 64]),
    ];
    for (name, xs, ks) in cases {
        let x = Tensor::<f32>::randn(xs, 1);
        let k = Tensor::<f32>::randn(ks, 2);
        let y = x.conv2d(&k, (1, 1), Padding::Valid).unwrap();
        let dy = Tensor::<f32>::randn(y.shape(), 3);
        group.bench_function(format!("conv2d_forward/{name}"), |b| {
            b.iter(|| x.conv2d(&k, (1, 1), Padding::Valid).unwrap())
        });
        group.bench_function(format!("conv2d_backward/{name}"), |b| {
            b.iter(|| Tensor::conv2d_backward(&x, &k, &dy, (1, 1), Padding::Valid).unwrap())
        });
    }
    let x = Tensor::<f32>::randn([128, 26, 26, 32], 4);
    let out = x.max_pool2d((2, 2), (2, 2), Padding::Valid).unwrap();
    group.bench_function("max_pool2d/26x26x32_2x2", |b| {
        b.iter(|| x.max_pool2d((2, 2), (2, 2), Padding::Valid).unwrap())
    });
    group.bench_function("max_pool2d_backward/26x26x32_2x2", |b| {
        b.iter(|| Tensor::max_pool2d_backward(&out.values, &out.argmax, x.shape()).unwrap())
    });
    group.finish();
}

criterion_group!(benches, conv);
criterion_main!(benches);
