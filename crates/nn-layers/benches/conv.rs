//! The `Conv2D` layer, forward and forward + backward, at the WORKLOADS W2 shapes (MNIST-sized
//! CNN, batch 128, f32): `Conv2D(32, 3×3, relu)` on `[28, 28, 1]` (the first layer: its input
//! needs no gradient) and `Conv2D(64, 3×3, relu)` on `[13, 13, 32]` (its input does). For
//! comparison, the same computation composed from autograd ops (`conv2d`, `add`, `relu`).

#![allow(missing_docs, clippy::unwrap_used)] // benchmark harness code, not library code

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use nn_autograd::{no_grad, Var};
use nn_layers::{Conv2D, ForwardCtx, Layer, LayerExt, Padding};
use nn_tensor::random::Rng;
use nn_tensor::Tensor;

fn conv_layer(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv2d_layer_f32");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let cases = [
        (
            "28x28x1_to_32_first_layer",
            [128usize, 28, 28, 1],
            32usize,
            false,
        ),
        ("13x13x32_to_64", [128, 13, 13, 32], 64, true),
    ];
    for (name, shape, filters, input_grad) in cases {
        let mut layer = Conv2D::<f32>::new(filters, (3, 3)).activation("relu");
        let mut rng = Rng::seed(0);
        layer.build(&[shape[1..].to_vec()], &mut rng).unwrap();
        let x = Tensor::<f32>::randn(shape, 1);
        let input = || {
            if input_grad {
                Var::param(x.clone())
            } else {
                Var::constant(x.clone())
            }
        };
        let out_shape = layer.output_shape(&shape[1..]).unwrap();
        let mut full = vec![128];
        full.extend(out_shape);
        let seed = Tensor::<f32>::randn(&full, 2);

        group.bench_function(format!("forward_inference/{name}"), |b| {
            b.iter(|| {
                no_grad(|| {
                    let mut rng = Rng::seed(0);
                    let mut ctx = ForwardCtx::new(false, &mut rng);
                    layer.forward(&Var::constant(x.clone()), &mut ctx).unwrap()
                })
            })
        });
        group.bench_function(format!("forward_backward/{name}"), |b| {
            b.iter(|| {
                let mut rng = Rng::seed(0);
                let mut ctx = ForwardCtx::new(true, &mut rng);
                let y = layer.forward(&input(), &mut ctx).unwrap();
                y.backward_with(seed.clone()).unwrap()
            })
        });
        let kernel = layer.kernel().unwrap().value().clone();
        let bias = layer.bias().unwrap().value().clone();
        group.bench_function(format!("composed_ops_forward_backward/{name}"), |b| {
            b.iter(|| {
                let (k, bv) = (Var::param(kernel.clone()), Var::param(bias.clone()));
                let y = input()
                    .conv2d(&k, (1, 1), Padding::Valid)
                    .unwrap()
                    .add(&bv)
                    .unwrap()
                    .relu()
                    .unwrap();
                y.backward_with(seed.clone()).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, conv_layer);
criterion_main!(benches);
