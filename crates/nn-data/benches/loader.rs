//! One epoch of batches of 128 over a 60 000 × 784 in-memory dataset (Fashion-MNIST sized).

// A benchmark binary: criterion's macros generate undocumented items, and setup failures
// should abort loudly.
#![allow(missing_docs, clippy::expect_used)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nn_data::{DataLoader, TensorDataset};
use nn_tensor::Tensor;

fn epoch_bench(c: &mut Criterion) {
    let n = 60_000;
    let x = Tensor::<f32>::rand_uniform([n, 784], 0.0, 1.0, 1);
    let y = Tensor::from_vec((0..n).map(|i| (i % 10) as f32).collect(), [n]).expect("labels");
    let ds = Arc::new(TensorDataset::new(x, y).expect("dataset"));
    let mut group = c.benchmark_group("loader_epoch_60000x784_b128");
    group.sample_size(10);
    group.throughput(Throughput::Bytes((n * 785 * 4) as u64));
    for (name, prefetch, shuffle) in [
        ("shuffled_prefetch2", 2, true),
        ("shuffled_sync", 0, true),
        ("sequential_prefetch2", 2, false),
    ] {
        let loader = DataLoader::new(Arc::clone(&ds), 128)
            .expect("loader")
            .shuffle(shuffle)
            .seed(0)
            .prefetch(prefetch);
        group.bench_function(name, |b| {
            let mut epoch = 0;
            b.iter(|| {
                let mut samples = 0;
                for batch in loader.epoch(epoch) {
                    samples += batch.expect("batch").len();
                }
                epoch += 1;
                assert_eq!(samples, n);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, epoch_bench);
criterion_main!(benches);
