//! LSTM forward + backward at batch 128, 128 features, 256 units (f32): one step and a
//! 20-step sequence. Three implementations of the same recurrence:
//!
//! * `layer`: `nn_layers::LSTM` — the input projection of all steps in one GEMM, the whole
//!   recurrence one fused op with back-propagation through time inside it;
//! * `step_fused`: the up-front GEMM, then per step a `slice_axis` of the projection, an
//!   `h·U` matmul var and ONE fused gate node (`Var::from_op`) with its own backward;
//! * `small_ops`: the up-front GEMM, then per step ~15 small autograd ops (slices, sigmoid,
//!   tanh, mul, add).
//!
//! Each iteration runs the forward pass, `sum` of all outputs, and the backward pass.
//! `forward_only` runs the layer under `no_grad` (inference).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // benchmark harness code

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nn_autograd::{no_grad, Var};
use nn_layers::{ForwardCtx, Layer, LayerExt, LSTM};
use nn_tensor::random::Rng;
use nn_tensor::Tensor;

const BATCH: usize = 128;
const FEATURES: usize = 128;
const UNITS: usize = 256;

struct Weights {
    kernel: Var<f32>,
    recurrent: Var<f32>,
    bias: Var<f32>,
}

fn weights(layer: &LSTM<f32>) -> Weights {
    let p = layer.params();
    Weights {
        kernel: p[0].var(),
        recurrent: p[1].var(),
        bias: p[2].var(),
    }
}

/// `x·W + b` for every step: `[B, T, 4u]`.
fn projection(x: &Var<f32>, w: &Weights) -> Var<f32> {
    let (b, t, f) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let xw = x
        .reshape([b * t, f])
        .unwrap()
        .matmul(&w.kernel)
        .unwrap()
        .add(&w.bias)
        .unwrap();
    xw.reshape([b, t, 4 * UNITS]).unwrap()
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// One fused gate node: `z [B, 4u]`, `c_prev [B, u]` → `[B, 2u]` holding `(h, c)`.
fn fused_gates(z: &Var<f32>, c_prev: &Var<f32>) -> Var<f32> {
    let (b, u) = (z.shape()[0], UNITS);
    let zs = z.value().contiguous();
    let cs = c_prev.value().contiguous();
    let (zv, cv) = (zs.as_slice().unwrap(), cs.as_slice().unwrap());
    let mut gates = vec![0f32; b * 4 * u];
    let mut tc = vec![0f32; b * u];
    let mut out = vec![0f32; b * 2 * u];
    for bi in 0..b {
        for j in 0..u {
            let zr = &zv[bi * 4 * u..];
            let (i, f, g, o) = (
                sigmoid(zr[j]),
                sigmoid(zr[u + j]),
                zr[2 * u + j].tanh(),
                sigmoid(zr[3 * u + j]),
            );
            let c = f * cv[bi * u + j] + i * g;
            let t = c.tanh();
            let gr = &mut gates[bi * 4 * u..];
            gr[j] = i;
            gr[u + j] = f;
            gr[2 * u + j] = g;
            gr[3 * u + j] = o;
            tc[bi * u + j] = t;
            out[bi * 2 * u + j] = o * t;
            out[bi * 2 * u + u + j] = c;
        }
    }
    let value = Tensor::from_vec(out, [b, 2 * u]).unwrap();
    Var::from_op("lstm_gates", value, &[z, c_prev], move |grad, _needs| {
        let gs = grad.contiguous();
        let gv = gs.as_slice().unwrap();
        let cv = cs.as_slice().unwrap();
        let mut dz = vec![0f32; b * 4 * u];
        let mut dcp = vec![0f32; b * u];
        for bi in 0..b {
            for j in 0..u {
                let gr = &gates[bi * 4 * u..];
                let (i, f, g, o) = (gr[j], gr[u + j], gr[2 * u + j], gr[3 * u + j]);
                let t = tc[bi * u + j];
                let dh = gv[bi * 2 * u + j];
                let dc = gv[bi * 2 * u + u + j] + dh * o * (1.0 - t * t);
                let d = &mut dz[bi * 4 * u..];
                d[j] = dc * g * i * (1.0 - i);
                d[u + j] = dc * cv[bi * u + j] * f * (1.0 - f);
                d[2 * u + j] = dc * i * (1.0 - g * g);
                d[3 * u + j] = dh * t * o * (1.0 - o);
                dcp[bi * u + j] = dc * f;
            }
        }
        Ok(vec![
            Some(Tensor::from_vec(dz, [b, 4 * u])?),
            Some(Tensor::from_vec(dcp, [b, u])?),
        ])
    })
}

/// Per-step fused gate nodes; returns every h stacked `[B, T, u]`.
fn run_step_fused(x: &Var<f32>, w: &Weights) -> Var<f32> {
    let (b, t) = (x.shape()[0], x.shape()[1]);
    let xw = projection(x, w);
    let mut h = Var::constant(Tensor::zeros([b, UNITS]));
    let mut c = Var::constant(Tensor::zeros([b, UNITS]));
    let mut hs = Vec::with_capacity(t);
    for s in 0..t {
        let z = xw
            .slice_axis(1, s, s + 1)
            .unwrap()
            .squeeze(1)
            .unwrap()
            .add(&h.matmul(&w.recurrent).unwrap())
            .unwrap();
        let hc = fused_gates(&z, &c);
        h = hc.slice_axis(1, 0, UNITS).unwrap();
        c = hc.slice_axis(1, UNITS, 2 * UNITS).unwrap();
        hs.push(h.clone());
    }
    let refs: Vec<&Var<f32>> = hs.iter().collect();
    Var::stack(&refs, 1).unwrap()
}

/// Per-step small autograd ops; returns every h stacked `[B, T, u]`.
fn run_small_ops(x: &Var<f32>, w: &Weights) -> Var<f32> {
    let (b, t, u) = (x.shape()[0], x.shape()[1], UNITS);
    let xw = projection(x, w);
    let mut h = Var::constant(Tensor::zeros([b, u]));
    let mut c = Var::constant(Tensor::zeros([b, u]));
    let mut hs = Vec::with_capacity(t);
    for s in 0..t {
        let z = xw
            .slice_axis(1, s, s + 1)
            .unwrap()
            .squeeze(1)
            .unwrap()
            .add(&h.matmul(&w.recurrent).unwrap())
            .unwrap();
        let i = z.slice_axis(1, 0, u).unwrap().sigmoid().unwrap();
        let f = z.slice_axis(1, u, 2 * u).unwrap().sigmoid().unwrap();
        let g = z.slice_axis(1, 2 * u, 3 * u).unwrap().tanh().unwrap();
        let o = z.slice_axis(1, 3 * u, 4 * u).unwrap().sigmoid().unwrap();
        c = f.mul(&c).unwrap().add(&i.mul(&g).unwrap()).unwrap();
        h = o.mul(&c.tanh().unwrap()).unwrap();
        hs.push(h.clone());
    }
    let refs: Vec<&Var<f32>> = hs.iter().collect();
    Var::stack(&refs, 1).unwrap()
}

fn lstm(c: &mut Criterion) {
    let mut layer = LSTM::<f32>::new(UNITS).return_sequences(true);
    layer
        .build(&[vec![20, FEATURES]], &mut Rng::seed(0))
        .unwrap();
    let w = weights(&layer);
    let mut group = c.benchmark_group("lstm_b128_f128_u256");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for steps in [1usize, 20] {
        let x = Var::constant(Tensor::<f32>::rand_uniform(
            [BATCH, steps, FEATURES],
            -1.0,
            1.0,
            1,
        ));
        // The three implementations compute the same outputs.
        let mut rng = Rng::seed(0);
        let a = layer
            .forward(&x, &mut ForwardCtx::new(true, &mut rng))
            .unwrap();
        for other in [run_step_fused(&x, &w), run_small_ops(&x, &w)] {
            assert!(a.value().allclose(other.value(), 1e-4, 1e-5));
        }
        group.bench_with_input(BenchmarkId::new("layer", steps), &x, |bench, x| {
            bench.iter(|| {
                let mut rng = Rng::seed(0);
                let out = layer
                    .forward(x, &mut ForwardCtx::new(true, &mut rng))
                    .unwrap();
                out.sum_all().unwrap().backward().unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("step_fused", steps), &x, |bench, x| {
            bench.iter(|| run_step_fused(x, &w).sum_all().unwrap().backward().unwrap())
        });
        group.bench_with_input(BenchmarkId::new("small_ops", steps), &x, |bench, x| {
            bench.iter(|| run_small_ops(x, &w).sum_all().unwrap().backward().unwrap())
        });
        group.bench_with_input(BenchmarkId::new("forward_only", steps), &x, |bench, x| {
            bench.iter(|| {
                let mut rng = Rng::seed(0);
                no_grad(|| {
                    layer
                        .forward(x, &mut ForwardCtx::new(false, &mut rng))
                        .unwrap()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, lstm);
criterion_main!(benches);
