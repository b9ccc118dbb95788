//! One optimizer step over 1M `f32` parameters (a single [1024, 1024] tensor).
//!
//! Run with `cargo bench -p nn-optim --bench optimizers`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // benches may unwrap; criterion_group! makes undocumented items

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nn_optim::{Adam, AdamW, Optimizer, ParamUpdate, RmsProp, Sgd};
use nn_tensor::Tensor;

const SHAPE: [usize; 2] = [1024, 1024];

fn step(c: &mut Criterion, name: &str, mut opt: Box<dyn Optimizer<f32>>) {
    let mut w = Tensor::<f32>::randn(SHAPE, 1);
    let g = Tensor::<f32>::randn(SHAPE, 2).mul_scalar(1e-3);
    let mut group = c.benchmark_group("optimizer_step_1M_f32");
    group.throughput(Throughput::Elements(w.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            opt.apply(&mut [ParamUpdate::new("w", &mut w, &g)]).unwrap();
        })
    });
    group.finish();
}

/// For scale: nn-tensor's in-place `w += α·g` over the same data (the memory-bound floor of
/// plain SGD).
fn reference(c: &mut Criterion) {
    let mut w = Tensor::<f32>::randn(SHAPE, 1);
    let g = Tensor::<f32>::randn(SHAPE, 2).mul_scalar(1e-3);
    let mut group = c.benchmark_group("optimizer_step_1M_f32");
    group.throughput(Throughput::Elements(w.len() as u64));
    group.bench_function("reference_scaled_add_assign", |b| {
        b.iter(|| w.scaled_add_assign(-0.01, &g).unwrap())
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    reference(c);
    step(c, "sgd", Box::new(Sgd::<f32>::new()));
    step(c, "sgd_momentum", Box::new(Sgd::<f32>::new().momentum(0.9)));
    step(c, "adam", Box::new(Adam::<f32>::new()));
    step(
        c,
        "adam_clipnorm",
        Box::new(Adam::<f32>::new().clipnorm(1.0)),
    );
    step(c, "adamw", Box::new(AdamW::<f32>::new()));
    step(c, "rmsprop", Box::new(RmsProp::<f32>::new()));
}

criterion_group!(optimizers, benches);
criterion_main!(optimizers);
