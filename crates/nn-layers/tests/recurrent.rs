//! Tests of the recurrent layers: the layer harness (shapes, parameter counts, saved form,
//! f64 gradient check through time, one training step), reference values, state outputs,
//! go_backwards, initial states and configuration errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nn_autograd::{no_grad, Var};
use nn_layers::testing::{run_layer_test, LayerTest};
use nn_layers::{
    ForwardCtx, Initializer, Layer, LayerError, LayerExt, SavedLayer, SimpleRNN, GRU, LSTM,
};
use nn_tensor::random::Rng;
use nn_tensor::{Float, Tensor};

const T: usize = 3;
const F: usize = 2;
const U: usize = 3;

fn simple_params(f: usize, u: usize) -> usize {
    f * u + u * u + u
}

fn lstm_params(f: usize, u: usize) -> usize {
    4 * (f * u + u * u + u)
}

fn gru_params(f: usize, u: usize) -> usize {
    3 * (f * u + u * u + 2 * u)
}

fn check(layer: Box<dyn Layer<f64>>, spec: LayerTest) {
    if let Err(e) = run_layer_test(layer, &spec) {
        panic!("{e}");
    }
}

// ------------------------------------------------------------------------- the layer harness

#[test]
fn simple_rnn_layer_test_last_output() {
    check(
        Box::new(SimpleRNN::<f64>::new(U)),
        LayerTest::new(&[T, F]).params(simple_params(F, U)),
    );
}

#[test]
fn simple_rnn_layer_test_sequences_and_state() {
    let layer = SimpleRNN::<f64>::new(U)
        .return_sequences(true)
        .return_state(true);
    check(
        Box::new(layer),
        LayerTest::new(&[T, F]).params(simple_params(F, U)),
    );
}

#[test]
fn simple_rnn_layer_test_backwards_softsign() {
    let layer = SimpleRNN::<f64>::new(U)
        .go_backwards(true)
        .activation("softsign")
        .return_sequences(true);
    check(
        Box::new(layer),
        LayerTest::new(&[T, F]).params(simple_params(F, U)),
    );
}

#[test]
fn lstm_layer_test_last_output() {
    check(
        Box::new(LSTM::<f64>::new(U)),
        LayerTest::new(&[T, F]).params(lstm_params(F, U)),
    );
}

#[test]
fn lstm_layer_test_sequences() {
    let layer = LSTM::<f64>::new(U).return_sequences(true);
    check(
        Box::new(layer),
        LayerTest::new(&[T, F]).params(lstm_params(F, U)),
    );
}

#[test]
fn lstm_layer_test_state() {
    let layer = LSTM::<f64>::new(U).return_state(true);
    check(
        Box::new(layer),
        LayerTest::new(&[T, F]).params(lstm_params(F, U)),
    );
}

#[test]
fn lstm_layer_test_sequences_state_backwards() {
    let layer = LSTM::<f64>::new(U)
        .return_sequences(true)
        .return_state(true)
        .go_backwards(true);
    check(
        Box::new(layer),
        LayerTest::new(&[T, F]).params(lstm_params(F, U)),
    );
}

#[test]
fn lstm_layer_test_initial_state() {
    // Gradients also flow to h0 and c0 (checked as inputs).
    let layer = LSTM::<f64>::new(U)
        .return_sequences(true)
        .return_state(true);
    check(
        Box::new(layer),
        LayerTest::multi(&[&[T, F], &[U], &[U]]).params(lstm_params(F, U)),
    );
}

#[test]
fn lstm_layer_test_no_bias_other_activations() {
    let layer = LSTM::<f64>::new(U)
        .use_bias(false)
        .activation("softsign")
        .recurrent_activation("hard_sigmoid");
    check(
        Box::new(layer),
        LayerTest::new(&[T, F]).params(4 * (F * U + U * U)),
    );
}

#[test]
fn gru_layer_test_last_output() {
    check(
        Box::new(GRU::<f64>::new(U)),
        LayerTest::new(&[T, F]).params(gru_params(F, U)),
    );
}

#[test]
fn gru_layer_test_sequences_and_state() {
    let layer = GRU::<f64>::new(U).return_sequences(true).return_state(true);
    check(
        Box::new(layer),
        LayerTest::new(&[T, F]).params(gru_params(F, U)),
    );
}

#[test]
fn gru_layer_test_initial_state_backwards() {
    let layer = GRU::<f64>::new(U).return_sequences(true).go_backwards(true);
    check(
        Box::new(layer),
        LayerTest::multi(&[&[T, F], &[U]]).params(gru_params(F, U)),
    );
}

#[test]
fn gru_layer_test_reset_before() {
    let layer = GRU::<f64>::new(U)
        .reset_after(false)
        .return_sequences(true)
        .return_state(true);
    check(
        Box::new(layer),
        LayerTest::multi(&[&[T, F], &[U]]).params(3 * (F * U + U * U + U)),
    );
}

#[test]
fn gru_layer_test_no_bias() {
    let layer = GRU::<f64>::new(U).use_bias(false).return_sequences(true);
    check(
        Box::new(layer),
        LayerTest::new(&[T, F]).params(3 * (F * U + U * U)),
    );
}

// ------------------------------------------------------------------------- reference values

/// Builds `layer` for `[1, F=2]` inputs and sets its parameters to `values` (row-major).
fn set_weights(layer: &mut dyn Layer<f64>, values: &[&[f64]]) {
    let mut rng = Rng::seed(0);
    layer.build(&[vec![1, 2]], &mut rng).unwrap();
    let mut params = layer.params_mut();
    assert_eq!(params.len(), values.len());
    for (p, v) in params.iter_mut().zip(values) {
        let shape = p.value().shape().to_vec();
        p.set_value(Tensor::from_f64s(v, &shape).unwrap()).unwrap();
    }
}

fn run(layer: &dyn Layer<f64>, inputs: &[Tensor<f64>]) -> Vec<Vec<f64>> {
    let vars: Vec<Var<f64>> = inputs.iter().map(|t| Var::constant(t.clone())).collect();
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(false, &mut rng);
    layer
        .call(&vars, &mut ctx)
        .unwrap()
        .iter()
        .map(|v| v.value().to_vec())
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
    }
}

/// x = [0.5, −1], h0 = [0.1, −0.2], c0 = [0.3, 0.4]: one step.
fn one_step_inputs(with_c: bool) -> Vec<Tensor<f64>> {
    let mut v = vec![
        Tensor::from_f64s(&[0.5, -1.0], [1, 1, 2]).unwrap(),
        Tensor::from_f64s(&[0.1, -0.2], [1, 2]).unwrap(),
    ];
    if with_c {
        v.push(Tensor::from_f64s(&[0.3, 0.4], [1, 2]).unwrap());
    }
    v
}

#[test]
fn lstm_one_step_matches_hand_computation() {
    // Reference computed with plain Python `math` (no framework), Keras' LSTM formulas:
    // z = x·K + h0·R + b; i, f, g, o = σ(z[0:2]), σ(z[2:4]), tanh(z[4:6]), σ(z[6:8]);
    // c = f·c0 + i·g; h = o·tanh(c).
    let mut layer = LSTM::<f64>::new(2).return_state(true);
    set_weights(
        &mut layer,
        &[
            &[
                0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.2, -0.1, 0.05, 0.15, -0.25, 0.35, 0.45, -0.55,
                0.1, 0.3,
            ],
            &[
                0.2, 0.1, -0.3, 0.25, 0.05, -0.15, 0.4, 0.3, -0.1, 0.2, 0.3, -0.4, 0.5, 0.1, -0.2,
                0.15,
            ],
            &[0.01, 0.02, 1.0, 1.1, -0.03, 0.04, 0.05, -0.06],
        ],
    );
    let out = run(&layer, &one_step_inputs(true));
    let h = [-0.05891748401079961, 0.21386443804086647];
    let c = [-0.11110761530436042, 0.598693413656114];
    assert_close(&out[0], &h, 1e-14);
    assert_close(&out[1], &h, 1e-14);
    assert_close(&out[2], &c, 1e-14);
}

#[test]
fn gru_one_step_matches_hand_computation() {
    // Plain Python `math`, Keras 3 GRU with reset_after: mx = x·K + b[0], mi = h0·R + b[1];
    // z = σ(mx_z + mi_z), r = σ(mx_r + mi_r), hh = tanh(mx_h + r·mi_h), h = z·h0 + (1−z)·hh.
    let kernel: &[f64] = &[
        0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.05, 0.15, -0.25, 0.35, 0.45, -0.55,
    ];
    let recurrent: &[f64] = &[
        0.2, 0.1, -0.3, 0.25, 0.05, -0.15, -0.1, 0.2, 0.3, -0.4, 0.5, 0.1,
    ];
    let mut layer = GRU::<f64>::new(2);
    set_weights(
        &mut layer,
        &[
            kernel,
            recurrent,
            &[
                0.01, 0.02, -0.03, 0.04, 0.05, -0.06, 0.07, -0.08, 0.09, 0.1, -0.11, 0.12,
            ],
        ],
    );
    let out = run(&layer, &one_step_inputs(false));
    assert_close(&out[0], &[-0.2514248150852111, 0.3157783636110335], 1e-14);

    // reset_after = false: bias [3u] on the input side, hh = tanh(mx_h + (r·h0)·R_h).
    let mut layer = GRU::<f64>::new(2).reset_after(false);
    set_weights(
        &mut layer,
        &[kernel, recurrent, &[0.01, 0.02, -0.03, 0.04, 0.05, -0.06]],
    );
    let out = run(&layer, &one_step_inputs(false));
    assert_close(&out[0], &[-0.2424595987350421, 0.2786931536545045], 1e-14);
}

#[test]
fn simple_rnn_one_step_matches_hand_computation() {
    // Plain Python `math`: h = tanh(x·K + h0·R + b).
    let mut layer = SimpleRNN::<f64>::new(2);
    set_weights(
        &mut layer,
        &[
            &[0.1, -0.2, 0.05, 0.15],
            &[0.2, 0.1, -0.1, 0.2],
            &[0.01, -0.02],
        ],
    );
    let out = run(&layer, &one_step_inputs(false));
    assert_close(&out[0], &[0.049958374957879984, -0.2913126124515909], 1e-14);
}

// Naive f64 references over several steps (loops over explicit formulas, independent of the
// fused kernel), for a batch of sequences.

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `x·M` for a row vector `x` and a row-major `[x.len(), cols]` matrix.
fn vecmat(x: &[f64], m: &[f64], cols: usize) -> Vec<f64> {
    (0..cols)
        .map(|j| {
            x.iter()
                .enumerate()
                .map(|(i, xi)| xi * m[i * cols + j])
                .sum()
        })
        .collect()
}

/// Runs the reference cell over `xs` ([T][F]) and returns every h_t and the last c.
fn reference_sequence(
    cell: &str,
    xs: &[Vec<f64>],
    params: &[Vec<f64>],
    u: usize,
) -> (Vec<Vec<f64>>, Vec<f64>) {
    let (k, r, b) = (&params[0], &params[1], &params[2]);
    let mut h = vec![0.0; u];
    let mut c = vec![0.0; u];
    let mut hs = Vec::new();
    for x in xs {
        match cell {
            "lstm" => {
                let zx = vecmat(x, k, 4 * u);
                let zr = vecmat(&h, r, 4 * u);
                let z: Vec<f64> = (0..4 * u).map(|j| zx[j] + zr[j] + b[j]).collect();
                for j in 0..u {
                    let (i, f, g, o) = (
                        sigmoid(z[j]),
                        sigmoid(z[u + j]),
                        z[2 * u + j].tanh(),
                        sigmoid(z[3 * u + j]),
                    );
                    c[j] = f * c[j] + i * g;
                    h[j] = o * c[j].tanh();
                }
            }
            "gru" => {
                let mx: Vec<f64> = vecmat(x, k, 3 * u)
                    .iter()
                    .zip(&b[..3 * u])
                    .map(|(a, b)| a + b)
                    .collect();
                let mi: Vec<f64> = vecmat(&h, r, 3 * u)
                    .iter()
                    .zip(&b[3 * u..])
                    .map(|(a, b)| a + b)
                    .collect();
                let prev = h.clone();
                for j in 0..u {
                    let z = sigmoid(mx[j] + mi[j]);
                    let rr = sigmoid(mx[u + j] + mi[u + j]);
                    let hh = (mx[2 * u + j] + rr * mi[2 * u + j]).tanh();
                    h[j] = z * prev[j] + (1.0 - z) * hh;
                }
            }
            _ => {
                let zx = vecmat(x, k, u);
                let zr = vecmat(&h, r, u);
                h = (0..u).map(|j| (zx[j] + zr[j] + b[j]).tanh()).collect();
            }
        }
        hs.push(h.clone());
    }
    (hs, c)
}

fn check_against_reference(mut layer: Box<dyn Layer<f64>>, cell: &str, backwards: bool) {
    let (b, t, f, u) = (2, 5, 3, 4);
    let mut rng = Rng::seed(3);
    layer.build(&[vec![t, f]], &mut rng).unwrap();
    // Non-trivial biases so every term is exercised.
    for p in layer.params_mut() {
        if p.name() == "bias" {
            let shape = p.value().shape().to_vec();
            p.set_value(Tensor::rand_uniform(&shape, -0.5, 0.5, 11))
                .unwrap();
        }
    }
    let params: Vec<Vec<f64>> = layer.params().iter().map(|p| p.value().to_vec()).collect();
    let x = Tensor::<f64>::rand_uniform([b, t, f], -1.0, 1.0, 5);
    let out = run(layer.as_ref(), std::slice::from_ref(&x));
    let xv = x.to_vec();
    let states = if cell == "lstm" { 2 } else { 1 };
    assert_eq!(out.len(), 1 + states);
    for bi in 0..b {
        let mut xs: Vec<Vec<f64>> = (0..t)
            .map(|s| xv[(bi * t + s) * f..(bi * t + s + 1) * f].to_vec())
            .collect();
        if backwards {
            xs.reverse();
        }
        let (hs, c) = reference_sequence(cell, &xs, &params, u);
        let got_seq = &out[0][bi * t * u..(bi + 1) * t * u];
        assert_close(got_seq, &hs.concat(), 1e-12);
        assert_close(&out[1][bi * u..(bi + 1) * u], &hs[t - 1], 1e-12);
        if cell == "lstm" {
            assert_close(&out[2][bi * u..(bi + 1) * u], &c, 1e-12);
        }
    }
}

#[test]
fn lstm_sequence_matches_reference() {
    let layer = || {
        LSTM::<f64>::new(4)
            .return_sequences(true)
            .return_state(true)
    };
    check_against_reference(Box::new(layer()), "lstm", false);
    check_against_reference(Box::new(layer().go_backwards(true)), "lstm", true);
}

#[test]
fn gru_sequence_matches_reference() {
    let layer = || GRU::<f64>::new(4).return_sequences(true).return_state(true);
    check_against_reference(Box::new(layer()), "gru", false);
    check_against_reference(Box::new(layer().go_backwards(true)), "gru", true);
}

#[test]
fn simple_rnn_sequence_matches_reference() {
    let layer = || {
        SimpleRNN::<f64>::new(4)
            .return_sequences(true)
            .return_state(true)
    };
    check_against_reference(Box::new(layer()), "simple", false);
    check_against_reference(Box::new(layer().go_backwards(true)), "simple", true);
}

// ------------------------------------------------------------------------- shapes and states

fn built<X: Float, L: Layer<X>>(mut layer: L, t: usize, f: usize) -> L {
    layer.build(&[vec![t, f]], &mut Rng::seed(1)).unwrap();
    layer
}

#[test]
fn recurrent_output_shapes_all_options() {
    let x = Tensor::<f64>::rand_uniform([4, 6, 5], -1.0, 1.0, 2);
    for seq in [false, true] {
        for state in [false, true] {
            let layers: Vec<(Box<dyn Layer<f64>>, usize)> = vec![
                (
                    Box::new(SimpleRNN::new(7).return_sequences(seq).return_state(state)),
                    1,
                ),
                (
                    Box::new(LSTM::new(7).return_sequences(seq).return_state(state)),
                    2,
                ),
                (
                    Box::new(GRU::new(7).return_sequences(seq).return_state(state)),
                    1,
                ),
            ];
            for (mut layer, states) in layers {
                let inferred = layer.output_shapes(&[vec![6, 5]]).unwrap();
                let main = if seq { vec![6, 7] } else { vec![7] };
                let mut want = vec![main];
                if state {
                    want.extend((0..states).map(|_| vec![7]));
                }
                assert_eq!(inferred, want, "{}", layer.class_name());
                layer.build(&[vec![6, 5]], &mut Rng::seed(0)).unwrap();
                let out = run(layer.as_ref(), std::slice::from_ref(&x));
                assert_eq!(out.len(), want.len());
                for (o, s) in out.iter().zip(&want) {
                    assert_eq!(o.len(), 4 * s.iter().product::<usize>());
                }
            }
        }
    }
}

#[test]
fn recurrent_state_outputs_equal_last_step() {
    let x = Tensor::<f64>::rand_uniform([3, 4, 2], -1.0, 1.0, 9);
    let layers: Vec<Box<dyn Layer<f64>>> = vec![
        Box::new(built(
            SimpleRNN::new(5).return_sequences(true).return_state(true),
            4,
            2,
        )),
        Box::new(built(
            LSTM::new(5).return_sequences(true).return_state(true),
            4,
            2,
        )),
        Box::new(built(
            GRU::new(5).return_sequences(true).return_state(true),
            4,
            2,
        )),
    ];
    for layer in layers {
        let out = run(layer.as_ref(), std::slice::from_ref(&x));
        for b in 0..3 {
            let last = &out[0][(b * 4 + 3) * 5..(b * 4 + 4) * 5];
            assert_eq!(last, &out[1][b * 5..(b + 1) * 5], "{}", layer.class_name());
        }
    }
    // Without return_sequences the output is the state h.
    let lstm = built(LSTM::new(5).return_state(true), 4, 2);
    let out = run(&lstm, &[x]);
    assert_eq!(out[0], out[1]);
    assert_ne!(out[1], out[2]); // h ≠ c
}

#[test]
fn recurrent_go_backwards_is_reversed_input() {
    // go_backwards(x) equals the forward layer on the time-reversed x, in processing order.
    let x = Tensor::<f64>::rand_uniform([2, 5, 3], -1.0, 1.0, 4);
    let reversed = x.index_select(1, &[4, 3, 2, 1, 0]).unwrap();
    let fwd = built(GRU::<f64>::new(4).return_sequences(true), 5, 3);
    let mut bwd = GRU::<f64>::new(4).return_sequences(true).go_backwards(true);
    bwd.build(&[vec![5, 3]], &mut Rng::seed(1)).unwrap();
    for (p, q) in bwd.params_mut().into_iter().zip(fwd.params()) {
        p.set_value(q.value().clone()).unwrap();
    }
    assert_eq!(run(&bwd, std::slice::from_ref(&x)), run(&fwd, &[reversed]));
    assert_ne!(run(&bwd, std::slice::from_ref(&x)), run(&fwd, &[x]));
}

#[test]
fn recurrent_initial_state_is_used() {
    let x = Tensor::<f64>::rand_uniform([2, 3, 2], -1.0, 1.0, 4);
    let lstm = built(LSTM::<f64>::new(3), 3, 2);
    let zeros = Tensor::<f64>::zeros([2, 3]);
    let ones = Tensor::<f64>::ones([2, 3]);
    // Explicit zero states equal the default; other states change the output.
    assert_eq!(
        run(&lstm, std::slice::from_ref(&x)),
        run(&lstm, &[x.clone(), zeros.clone(), zeros.clone()])
    );
    assert_ne!(
        run(&lstm, std::slice::from_ref(&x)),
        run(&lstm, &[x.clone(), zeros, ones])
    );
    // The LSTM needs both states; a GRU takes one.
    let vars = [
        Var::constant(x.clone()),
        Var::constant(Tensor::<f64>::zeros([2, 3])),
    ];
    let mut rng = Rng::seed(0);
    let err = lstm
        .call(&vars, &mut ForwardCtx::new(false, &mut rng))
        .unwrap_err();
    assert!(matches!(err, LayerError::Inputs { found: 2, .. }), "{err}");
    let gru = built(GRU::<f64>::new(3), 3, 2);
    assert!(gru
        .call(&vars, &mut ForwardCtx::new(false, &mut rng))
        .is_ok());
}

// ------------------------------------------------------------------------- weights

#[test]
fn lstm_weights_shapes_and_unit_forget_bias() {
    let lstm = built(LSTM::<f64>::new(3), 4, 5);
    let shapes: Vec<Vec<usize>> = lstm
        .params()
        .iter()
        .map(|p| p.value().shape().to_vec())
        .collect();
    assert_eq!(shapes, vec![vec![5, 12], vec![3, 12], vec![12]]);
    let names: Vec<&str> = lstm.params().iter().map(|p| p.name()).collect();
    assert_eq!(names, ["kernel", "recurrent_kernel", "bias"]);
    assert_eq!(
        lstm.bias().unwrap().value().to_vec(),
        [0., 0., 0., 1., 1., 1., 0., 0., 0., 0., 0., 0.]
    );
    assert_eq!(lstm.trainable_count(), lstm_params(5, 3));
    let plain = built(LSTM::<f64>::new(3).unit_forget_bias(false), 4, 5);
    assert!(plain
        .bias()
        .unwrap()
        .value()
        .to_vec()
        .iter()
        .all(|&v| v == 0.0));
    // Orthogonal recurrent kernel [u, 4u]: its rows are orthonormal.
    let r = lstm.recurrent_kernel().unwrap().value().to_vec();
    for a in 0..3 {
        for b in 0..3 {
            let dot: f64 = (0..12).map(|j| r[a * 12 + j] * r[b * 12 + j]).sum();
            assert!((dot - if a == b { 1.0 } else { 0.0 }).abs() < 1e-12);
        }
    }
    // Glorot uniform kernel: |w| ≤ sqrt(6 / (F + 4u)).
    let limit = (6.0f64 / (5.0 + 12.0)).sqrt();
    assert!(lstm
        .kernel()
        .unwrap()
        .value()
        .to_vec()
        .iter()
        .all(|w| w.abs() <= limit));
}

#[test]
fn gru_weights_shapes_and_counts() {
    let gru = built(GRU::<f64>::new(7), 4, 5);
    let shapes: Vec<Vec<usize>> = gru
        .params()
        .iter()
        .map(|p| p.value().shape().to_vec())
        .collect();
    assert_eq!(shapes, vec![vec![5, 21], vec![7, 21], vec![2, 21]]);
    assert_eq!(gru.trainable_count(), gru_params(5, 7));
    let before = built(GRU::<f64>::new(7).reset_after(false), 4, 5);
    assert_eq!(before.bias().unwrap().value().shape(), [21]);
    let rnn = built(SimpleRNN::<f64>::new(7), 4, 5);
    assert_eq!(rnn.trainable_count(), simple_params(5, 7));
}

#[test]
fn recurrent_saved_form_round_trips_through_json() {
    let lstm = built(
        LSTM::<f64>::new(3)
            .return_sequences(true)
            .go_backwards(true),
        4,
        2,
    );
    let json = serde_json::to_string(&lstm.to_saved()).unwrap();
    let restored: SavedLayer<f64> = serde_json::from_str(&json).unwrap();
    let restored = restored.into_layer();
    assert_eq!(restored.class_name(), "LSTM");
    let x = Tensor::<f64>::rand_uniform([2, 4, 2], -1.0, 1.0, 8);
    assert_eq!(
        run(&lstm, std::slice::from_ref(&x)),
        run(restored.as_ref(), &[x])
    );
}

// ------------------------------------------------------------------------- training mode

#[test]
fn recurrent_no_graph_under_no_grad() {
    let lstm = built(LSTM::<f64>::new(3), 4, 2);
    let x = Var::constant(Tensor::<f64>::rand_uniform([2, 4, 2], -1.0, 1.0, 8));
    let mut rng = Rng::seed(0);
    let out = no_grad(|| lstm.forward(&x, &mut ForwardCtx::new(false, &mut rng))).unwrap();
    assert!(!out.requires_grad());
    let out = lstm
        .forward(&x, &mut ForwardCtx::new(true, &mut rng))
        .unwrap();
    assert!(out.requires_grad());
}

#[test]
fn lstm_long_sequence_backward() {
    // 400 steps: one graph node for the recurrence, gradients finite and non-zero for every
    // parameter.
    let lstm = built(LSTM::<f32>::new(8), 400, 4);
    let x = Var::constant(Tensor::<f32>::rand_uniform([2, 400, 4], -1.0, 1.0, 8));
    let mut rng = Rng::seed(0);
    let out = lstm
        .forward(&x, &mut ForwardCtx::new(true, &mut rng))
        .unwrap();
    let grads = out.sum_all().unwrap().backward().unwrap();
    for p in lstm.params() {
        let g = grads.get_id(p.id()).unwrap();
        assert!(
            g.is_finite_all() && g.to_vec().iter().any(|&v| v != 0.0),
            "{}",
            p.name()
        );
    }
}

#[test]
fn lstm_f32_matches_f64() {
    let l64 = built(LSTM::<f64>::new(6).return_sequences(true), 7, 3);
    let mut l32 = LSTM::<f32>::new(6).return_sequences(true);
    l32.build(&[vec![7, 3]], &mut Rng::seed(1)).unwrap();
    for (p, q) in l32.params_mut().into_iter().zip(l64.params()) {
        p.set_value(q.value().cast()).unwrap();
    }
    let x = Tensor::<f64>::rand_uniform([2, 7, 3], -1.0, 1.0, 8);
    let a = run(&l64, std::slice::from_ref(&x));
    let mut rng = Rng::seed(0);
    let b = l32
        .forward(
            &Var::constant(x.cast()),
            &mut ForwardCtx::new(false, &mut rng),
        )
        .unwrap();
    assert_close(&b.value().to_f64_vec(), &a[0], 1e-5);
}

// ------------------------------------------------------------------------- errors

#[test]
fn recurrent_bad_configuration_errors() {
    let mut rng = Rng::seed(0);
    let shapes = [vec![3, 2]];
    let e = LSTM::<f64>::new(3)
        .activation("tanhh")
        .build(&shapes, &mut rng)
        .unwrap_err();
    assert!(
        e.to_string().contains("tanhh") && e.to_string().contains("lstm"),
        "{e}"
    );
    let e = GRU::<f64>::new(3)
        .recurrent_activation("gelu")
        .build(&shapes, &mut rng)
        .unwrap_err();
    assert!(
        e.to_string().contains("gelu") && e.to_string().contains("not supported"),
        "{e}"
    );
    let e = SimpleRNN::<f64>::new(0)
        .build(&shapes, &mut rng)
        .unwrap_err();
    assert!(e.to_string().contains("units"), "{e}");
    // Input rank, zero timesteps, state shapes.
    let e = LSTM::<f64>::new(3).build(&[vec![2]], &mut rng).unwrap_err();
    assert!(
        matches!(&e, LayerError::Shape { found, .. } if found == &vec![2]),
        "{e}"
    );
    let e = LSTM::<f64>::new(3)
        .output_shapes(&[vec![0, 2]])
        .unwrap_err();
    assert!(e.to_string().contains("timesteps"), "{e}");
    let e = GRU::<f64>::new(3)
        .build(&[vec![3, 2], vec![4]], &mut rng)
        .unwrap_err();
    assert!(e.to_string().contains("[4]"), "{e}");
    // SimpleRNN ignores the recurrent activation.
    assert!(SimpleRNN::<f64>::new(3).build(&shapes, &mut rng).is_ok());
}

#[test]
fn recurrent_shape_errors_name_layer_and_shapes() {
    let lstm = built(LSTM::<f64>::new(3).name("enc"), 4, 2);
    // Feature size differs from the built kernel.
    let e = lstm.output_shapes(&[vec![4, 5]]).unwrap_err();
    assert!(
        e.to_string().contains("enc") && e.to_string().contains("[4, 5]"),
        "{e}"
    );
    let mut lstm2 = lstm.clone();
    assert!(lstm2.build(&[vec![4, 5]], &mut Rng::seed(0)).is_err());
    let mut rng = Rng::seed(0);
    let bad = Var::constant(Tensor::<f64>::zeros([2, 4]));
    let e = lstm
        .forward(&bad, &mut ForwardCtx::new(false, &mut rng))
        .unwrap_err();
    assert!(
        e.to_string().contains("enc") && e.to_string().contains("[2, 4]"),
        "{e}"
    );
    let x = Var::constant(Tensor::<f64>::zeros([2, 4, 2]));
    let bad_h = Var::constant(Tensor::<f64>::zeros([3, 3]));
    let c = Var::constant(Tensor::<f64>::zeros([2, 3]));
    let e = lstm
        .call(&[x, bad_h, c], &mut ForwardCtx::new(false, &mut rng))
        .unwrap_err();
    assert!(e.to_string().contains("[3, 3]"), "{e}");
    // Unbuilt.
    let e = GRU::<f64>::new(3).forward(
        &Var::constant(Tensor::zeros([1, 2, 2])),
        &mut ForwardCtx::new(false, &mut rng),
    );
    assert!(matches!(e, Err(LayerError::NotBuilt { .. })));
}

#[test]
fn recurrent_initializers_are_configurable() {
    let lstm = built(
        LSTM::<f64>::new(2)
            .kernel_initializer(Initializer::Ones)
            .recurrent_initializer(Initializer::Zeros)
            .bias_initializer(Initializer::Constant(0.5)),
        3,
        2,
    );
    assert!(lstm
        .kernel()
        .unwrap()
        .value()
        .to_vec()
        .iter()
        .all(|&v| v == 1.0));
    assert!(lstm
        .recurrent_kernel()
        .unwrap()
        .value()
        .to_vec()
        .iter()
        .all(|&v| v == 0.0));
    assert_eq!(
        lstm.bias().unwrap().value().to_vec(),
        [0.5, 0.5, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]
    );
}

#[test]
fn recurrent_empty_batch_and_loaded_bad_weights() {
    // Batch 0: outputs of batch 0, and the backward pass runs.
    let gru = built(GRU::<f64>::new(3).return_sequences(true), 4, 2);
    let x = Var::param(Tensor::<f64>::zeros([0, 4, 2]));
    let mut rng = Rng::seed(0);
    let out = gru
        .forward(&x, &mut ForwardCtx::new(true, &mut rng))
        .unwrap();
    assert_eq!(out.shape(), [0, 4, 3]);
    let grads = out.sum_all().unwrap().backward().unwrap();
    assert_eq!(grads.get(&x).unwrap().shape(), [0, 4, 2]);
    // A saved form whose weights do not fit its configuration is an error, not a panic.
    let lstm = built(LSTM::<f64>::new(3), 4, 2);
    let json = serde_json::to_string(&lstm.to_saved()).unwrap();
    let broken = json.replacen("\"units\":3", "\"units\":2", 1);
    assert_ne!(broken, json);
    let layer = serde_json::from_str::<SavedLayer<f64>>(&broken)
        .unwrap()
        .into_layer();
    let e = layer
        .call(
            &[Var::constant(Tensor::zeros([1, 4, 2]))],
            &mut ForwardCtx::new(false, &mut rng),
        )
        .unwrap_err();
    assert!(e.to_string().contains("kernel has shape [2, 12]"), "{e}");
}
