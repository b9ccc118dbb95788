//! Sparse categorical cross-entropy from logits, forward + backward, at `[128, 10]` (an
//! MNIST-sized head) and `[256, 32768]` (a language-model-sized vocabulary).
//!
//! `compute_fused` is the path a training step takes (`Loss::compute` with the mean
//! reduction: the reduction's factor folded into the fused kernel's gradient);
//! `per_sample_then_mean` goes through `Var::softmax_cross_entropy` and a separate mean;
//! `composed_log_softmax` is the unfused reference (log_softmax, gather, mean);
//! `forward_no_grad` is evaluation; `kernel_fwd_bwd_reference` is the bare nn-tensor kernel
//! (no graph), the floor for `compute_fused`.

// A benchmark binary: criterion's macros generate undocumented items, and setup failures
// should abort loudly.
#![allow(missing_docs, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use nn_autograd::{no_grad, Var};
use nn_losses::{reduce, Loss, Reduction, SparseCategoricalCrossentropy};
use nn_tensor::Tensor;

fn sparse_ce(c: &mut Criterion) {
    let loss = SparseCategoricalCrossentropy::new().from_logits(true);
    for (n, classes) in [(128usize, 10usize), (256, 32768)] {
        let logits = Tensor::<f32>::randn([n, classes], 1);
        let labels: Vec<f32> = (0..n).map(|i| ((i * 7919) % classes) as f32).collect();
        let label_idx: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
        let y = Tensor::from_vec(labels, [n]).expect("labels");
        let mut group = c.benchmark_group(format!("sparse_ce_logits_{n}x{classes}"));
        group.throughput(Throughput::Bytes((n * classes * 4) as u64));
        if classes > 1000 {
            group.sample_size(20);
        }
        group.bench_function("compute_fused", |b| {
            b.iter(|| {
                let p = Var::param(logits.clone());
                let l = loss.compute(&y, &p, None).expect("loss");
                let g = l.backward().expect("backward");
                black_box(g.get(&p).map(|t| t.len()))
            })
        });
        group.bench_function("per_sample_then_mean", |b| {
            b.iter(|| {
                let p = Var::param(logits.clone());
                let per = loss.per_sample(&y, &p).expect("loss");
                let l = reduce("bench", &per, Reduction::Mean, None, p.shape()).expect("mean");
                let g = l.backward().expect("backward");
                black_box(g.get(&p).map(|t| t.len()))
            })
        });
        group.bench_function("composed_log_softmax", |b| {
            b.iter(|| {
                let p = Var::param(logits.clone());
                let lp = p.log_softmax(-1).expect("log_softmax");
                let picked = lp.take_along_axis(-1, &label_idx).expect("gather");
                let l = picked.mean_all().expect("mean").neg().expect("neg");
                let g = l.backward().expect("backward");
                black_box(g.get(&p).map(|t| t.len()))
            })
        });
        group.bench_function("forward_no_grad", |b| {
            let p = Var::param(logits.clone());
            b.iter(|| {
                no_grad(|| black_box(loss.compute(&y, &p, None).expect("loss").value().len()))
            })
        });
        group.bench_function("kernel_fwd_bwd_reference", |b| {
            let scale = 1.0 / n as f32;
            b.iter(|| {
                let (l, g) = logits
                    .softmax_cross_entropy_fwd_bwd(&label_idx, scale)
                    .expect("kernel");
                black_box((l.len(), g.len()))
            })
        });
        group.finish();
    }
}

criterion_group!(benches, sparse_ce);
criterion_main!(benches);
