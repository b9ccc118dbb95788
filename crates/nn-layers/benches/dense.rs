//! Dense forward + backward in f32 at the WORKLOADS W1 shapes (batch 128: 784→256 relu,
//! 256→128 relu, 128→10 linear), each layer alone and the three as one MLP step; plus the
//! unfused `matmul → add → relu` chain at 784→256 for comparison with the fused
//! bias + activation node, the bias + activation step alone (fused against composed), and
//! the activation kernels alone on a 128×256 batch.

#![allow(missing_docs, clippy::unwrap_used)] // benchmark harness code, not library code

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nn_autograd::{no_grad, Var};
use nn_layers::{bias_activation, Activation, Dense, ForwardCtx, Layer, LayerExt};
use nn_tensor::random::Rng;
use nn_tensor::Tensor;

const BATCH: usize = 128;
const W1: [(usize, usize, &str); 3] = [(784, 256, "relu"), (256, 128, "relu"), (128, 10, "linear")];

fn dense(input: usize, units: usize, act: &str, seed: u64) -> Dense<f32> {
    let mut d = Dense::<f32>::new(units).activation(act);
    d.build(&[vec![input]], &mut Rng::seed(seed)).unwrap();
    d
}

/// One forward + backward of `layer`; `x` is a parameter when the input gradient is needed.
fn step(layer: &Dense<f32>, x: &Var<f32>, seed: &Tensor<f32>, rng: &mut Rng) {
    let mut ctx = ForwardCtx::new(true, rng);
    let y = layer.forward(x, &mut ctx).unwrap();
    let grads = y.backward_with(seed.clone()).unwrap();
    std::hint::black_box(grads);
}

fn dense_layers(c: &mut Criterion) {
    let mut group = c.benchmark_group("dense_f32_fwd_bwd");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut rng = Rng::seed(0);
    for (i, &(input, units, act)) in W1.iter().enumerate() {
        let layer = dense(input, units, act, i as u64);
        let xt = Tensor::<f32>::randn([BATCH, input], 1);
        // The first layer's input is data (no gradient); the others' come from a layer.
        let x = if i == 0 {
            Var::constant(xt)
        } else {
            Var::param(xt)
        };
        let g = Tensor::<f32>::randn([BATCH, units], 2);
        // 3 GEMMs of 2·B·in·units flops (forward, dW, dx) — 2 for the first layer.
        let gemms = if i == 0 { 2 } else { 3 };
        group.throughput(Throughput::Elements(
            (gemms * 2 * BATCH * input * units) as u64,
        ));
        group.bench_function(
            BenchmarkId::from_parameter(format!("{input}x{units}_{act}")),
            |b| b.iter(|| step(&layer, &x, &g, &mut rng)),
        );
    }
    // The whole W1 MLP: forward through the three layers, backward from the logits.
    let layers: Vec<Dense<f32>> = W1
        .iter()
        .enumerate()
        .map(|(i, &(n, u, a))| dense(n, u, a, i as u64))
        .collect();
    let x = Var::constant(Tensor::<f32>::randn([BATCH, 784], 3));
    let g = Tensor::<f32>::randn([BATCH, 10], 4);
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("mlp_784_256_128_10", |b| {
        b.iter(|| {
            let mut ctx = ForwardCtx::new(true, &mut rng);
            let mut h = x.clone();
            for l in &layers {
                h = l.forward(&h, &mut ctx).unwrap();
            }
            std::hint::black_box(h.backward_with(g.clone()).unwrap());
        })
    });
    group.bench_function("mlp_784_256_128_10_inference", |b| {
        b.iter(|| {
            let mut ctx = ForwardCtx::new(false, &mut rng);
            no_grad(|| {
                let mut h = x.clone();
                for l in &layers {
                    h = l.forward(&h, &mut ctx).unwrap();
                }
                std::hint::black_box(h)
            })
        })
    });
    group.finish();
}

/// The fused bias + relu node against the composed `add` → `relu` chain, same GEMM.
fn fused_vs_composed(c: &mut Criterion) {
    let mut group = c.benchmark_group("dense_784x256_relu_f32");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let layer = dense(784, 256, "relu", 0);
    let x = Var::constant(Tensor::<f32>::randn([BATCH, 784], 1));
    let g = Tensor::<f32>::randn([BATCH, 256], 2);
    let mut rng = Rng::seed(0);
    group.bench_function("fused_bias_relu", |b| {
        b.iter(|| step(&layer, &x, &g, &mut rng))
    });
    let params = layer.params();
    let (k, bias) = (params[0].var(), params[1].var());
    group.bench_function("composed_matmul_add_relu", |b| {
        b.iter(|| {
            let y = x.matmul(&k).unwrap().add(&bias).unwrap().relu().unwrap();
            std::hint::black_box(y.backward_with(g.clone()).unwrap());
        })
    });
    group.finish();
}

/// The bias + activation step alone on a 128×256 pre-activation, forward + backward: the
/// fused node against the composed nodes it replaces.
fn bias_act_fused_vs_composed(c: &mut Criterion) {
    let mut group = c.benchmark_group("bias_act_f32_128x256_fwd_bwd");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let z = Var::param(Tensor::<f32>::randn([BATCH, 256], 7));
    let b = Var::param(Tensor::<f32>::randn([256], 8));
    let g = Tensor::<f32>::randn([BATCH, 256], 9);
    group.throughput(Throughput::Elements((BATCH * 256) as u64));
    for name in ["relu", "gelu"] {
        let a = Activation::from_name(name).unwrap();
        group.bench_function(format!("fused_bias_{name}"), |bench| {
            bench.iter(|| {
                let y = bias_activation(&z, Some(&b), a).unwrap();
                std::hint::black_box(y.backward_with(g.clone()).unwrap())
            })
        });
    }
    group.bench_function("composed_add_relu", |bench| {
        bench.iter(|| {
            let y = z.add(&b).unwrap().relu().unwrap();
            std::hint::black_box(y.backward_with(g.clone()).unwrap())
        })
    });
    // The exact GELU as the autograd chain it was before fusion: x·(1 + erf(x/√2))/2.
    group.bench_function("composed_add_gelu", |bench| {
        bench.iter(|| {
            let x = z.add(&b).unwrap();
            let cdf = x
                .mul_scalar(std::f32::consts::FRAC_1_SQRT_2)
                .unwrap()
                .erf()
                .unwrap()
                .add_scalar(1.0)
                .unwrap();
            let y = x.mul(&cdf).unwrap().mul_scalar(0.5).unwrap();
            std::hint::black_box(y.backward_with(g.clone()).unwrap())
        })
    });
    group.finish();
}

/// Each activation alone, forward + backward, on a 128×256 batch.
fn activations(c: &mut Criterion) {
    let mut group = c.benchmark_group("activation_f32_128x256_fwd_bwd");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1));
    let x = Var::param(Tensor::<f32>::randn([BATCH, 256], 5));
    let g = Tensor::<f32>::randn([BATCH, 256], 6);
    group.throughput(Throughput::Elements((BATCH * 256) as u64));
    for name in [
        "relu",
        "sigmoid",
        "tanh",
        "hard_sigmoid",
        "relu6",
        "selu",
        "softsign",
        "swish",
        "gelu",
        "gelu_tanh",
        "mish",
    ] {
        let a = Activation::from_name(name).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| std::hint::black_box(a.apply(&x).unwrap().backward_with(g.clone()).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    dense_layers,
    fused_vs_composed,
    bias_act_fused_vs_composed,
    activations
);
criterion_main!(benches);
