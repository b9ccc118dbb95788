//! Dropout, AlphaDropout, BatchNormalization, LayerNormalization, Embedding, Add and
//! Concatenate: the shared layer harness, statistics, hand-computed values, gradients against
//! composed autograd ops, and errors.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use nn_autograd::Var;
use nn_layers::testing::{run_layer_test, LayerTest};
use nn_layers::{
    Add, AlphaDropout, BatchNormalization, Concatenate, Dropout, Embedding, ForwardCtx,
    Initializer, Layer, LayerExt, LayerNormalization, SavedLayer,
};
use nn_tensor::random::Rng;
use nn_tensor::Tensor;

fn harness(layer: Box<dyn Layer<f64>>, test: LayerTest) {
    if let Err(e) = run_layer_test(layer, &test) {
        panic!("{e}");
    }
}

fn built<L: Layer<f64>>(mut layer: L, shape: &[usize]) -> L {
    layer.build(&[shape.to_vec()], &mut Rng::seed(0)).unwrap();
    layer
}

fn forward(layer: &dyn Layer<f64>, x: &Var<f64>, training: bool, seed: u64) -> Var<f64> {
    let mut rng = Rng::seed(seed);
    let mut ctx = ForwardCtx::new(training, &mut rng);
    layer.forward(x, &mut ctx).unwrap()
}

fn set(layer: &mut dyn Layer<f64>, index: usize, values: &[f64]) {
    let p = &mut layer.params_mut()[index];
    let shape = p.value().shape().to_vec();
    p.set_value(Tensor::from_f64s(values, shape).unwrap())
        .unwrap();
}

fn assert_close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "lengths differ: {a:?} vs {b:?}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "element {i}: {x} vs {y}\n{a:?}\n{b:?}"
        );
    }
}

fn moments(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (mean, v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n)
}

// ------------------------------------------------------------------------------ dropout

#[test]
fn dropout_harness() {
    harness(Box::new(Dropout::new(0.3)), LayerTest::new(&[10]).params(0));
    // Training mode: the gradient check sees the same seeded mask on every evaluation.
    harness(
        Box::new(Dropout::new(0.5)),
        LayerTest::new(&[3, 4]).params(0).train_mode(),
    );
    harness(
        Box::new(AlphaDropout::new(0.2)),
        LayerTest::new(&[10]).params(0),
    );
    harness(
        Box::new(AlphaDropout::new(0.2)),
        LayerTest::new(&[6]).params(0).train_mode(),
    );
}

#[test]
fn dropout_rate_is_statistically_right() {
    let n = 100_000;
    let x = Var::constant(Tensor::<f64>::ones([1000, 100]));
    for rate in [0.1, 0.3, 0.5] {
        let y = forward(&built(Dropout::new(rate), &[100]), &x, true, 42)
            .value()
            .to_vec();
        let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / n as f64;
        // Standard error √(r(1−r)/n) ≤ 0.0016; allow five of them.
        assert!(
            (dropped - rate).abs() < 0.008,
            "rate {rate}: dropped {dropped}"
        );
        let scale = 1.0 / (1.0 - rate);
        assert!(y.iter().all(|&v| v == 0.0 || (v - scale).abs() < 1e-12));
        let mean = y.iter().sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.02, "rate {rate}: mean {mean}");
    }
}

#[test]
fn dropout_inference_is_identity_and_rate_zero_too() {
    let x = Var::constant(Tensor::<f64>::randn([4, 5], 1));
    let layer = built(Dropout::new(0.5), &[5]);
    let y = forward(&layer, &x, false, 1);
    assert_eq!(y.id(), x.id());
    let alpha = built(AlphaDropout::new(0.5), &[5]);
    assert_eq!(forward(&alpha, &x, false, 1).id(), x.id());
    let zero = built(Dropout::new(0.0), &[5]);
    assert_eq!(forward(&zero, &x, true, 1).id(), x.id());
}

#[test]
fn dropout_mask_is_seeded_and_gradient_uses_it() {
    let layer = built(Dropout::new(0.5), &[8]);
    let x = Var::param(Tensor::<f64>::ones([8, 8]));
    let a = forward(&layer, &x, true, 3);
    let b = forward(&layer, &x, true, 3);
    let c = forward(&layer, &x, true, 4);
    assert_eq!(a.value(), b.value());
    assert_ne!(a.value(), c.value());
    // x = 1, so y = mask/(1 − rate) and dy/dx = mask/(1 − rate) = y.
    let g = a.sum_all().unwrap().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), a.value().to_vec());
}

#[test]
fn alpha_dropout_coefficients_match_keras_formula() {
    // α' = −1.6732632423543772 · 1.0507009873554805 = −1.7580993408473766;
    // rate 0.1: a = (0.9 · (1 + 0.1·α'²))^−½ = 0.9212845161497115, b = −a·α'·0.1 = 0.16197097005757022
    // (computed with Python floats).
    let (a, b, alpha_p) = AlphaDropout::<f64>::coefficients(0.1);
    assert!((alpha_p + 1.7580993408473766).abs() < 1e-15);
    assert!((a - 0.9212845161497115).abs() < 1e-15);
    assert!((b - 0.16197097005757022).abs() < 1e-15);
    // Dropped elements take a·α' + b = −1.457738730518132, kept ones a·x + b.
    let x = Var::constant(Tensor::<f64>::full([200, 50], 0.25));
    let y = forward(&built(AlphaDropout::new(0.1), &[50]), &x, true, 9)
        .value()
        .to_vec();
    let dropped = y
        .iter()
        .filter(|&&v| (v + 1.457738730518132).abs() < 1e-12)
        .count();
    let kept = y
        .iter()
        .filter(|&&v| (v - (0.25 * a + b)).abs() < 1e-12)
        .count();
    assert_eq!(dropped + kept, y.len());
    assert!((dropped as f64 / y.len() as f64 - 0.1).abs() < 0.01);
}

#[test]
fn alpha_dropout_keeps_mean_and_variance_of_unit_normal() {
    let x = Var::constant(Tensor::<f64>::randn([500, 400], 17));
    for rate in [0.1, 0.2, 0.5] {
        let y = forward(&built(AlphaDropout::new(rate), &[400]), &x, true, 5)
            .value()
            .to_vec();
        let (mean, var) = moments(&y);
        assert!(mean.abs() < 0.01, "rate {rate}: mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "rate {rate}: var {var}");
    }
}

#[test]
fn dropout_rate_out_of_range_is_an_error() {
    for rate in [1.0, -0.1, f64::NAN] {
        let mut d = Dropout::<f64>::new(rate).name("drop");
        let e = d
            .build(&[vec![3]], &mut Rng::seed(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("drop") && e.contains("rate"), "{e}");
        let e = AlphaDropout::<f64>::new(rate)
            .output_shape(&[3])
            .unwrap_err()
            .to_string();
        assert!(e.contains("alpha_dropout"), "{e}");
    }
}

// ------------------------------------------------------------------------------ batch norm

#[test]
fn batch_norm_harness() {
    // 4·C scalars: gamma, beta, moving_mean, moving_variance.
    harness(
        Box::new(BatchNormalization::new()),
        LayerTest::new(&[4]).params(4 * 4).train_mode(),
    );
    harness(
        Box::new(BatchNormalization::new()),
        LayerTest::new(&[3, 3, 2]).params(4 * 2).train_mode(),
    );
    harness(
        Box::new(BatchNormalization::new()),
        LayerTest::new(&[5]).params(4 * 5),
    );
    // Channels on axis 1 of [batch, 3, 4].
    harness(
        Box::new(BatchNormalization::new().axis(1)),
        LayerTest::new(&[3, 4]).params(4 * 3).train_mode(),
    );
    // Without gamma and beta only the moving statistics remain.
    let plain = BatchNormalization::new().center(false).scale(false);
    harness(
        Box::new(plain),
        LayerTest::new(&[2, 3]).params(2 * 3).train_mode(),
    );
}

/// Columns [1, 2, 3, 4] and [10, 20, 30, 40].
fn bn_input() -> Var<f64> {
    Var::constant(Tensor::from_f64s(&[1., 10., 2., 20., 3., 30., 4., 40.], [4, 2]).unwrap())
}

#[test]
fn batch_norm_training_values_and_moving_updates() {
    let layer = built(BatchNormalization::new(), &[2]);
    assert_eq!(layer.trainable_count(), 4);
    assert_eq!(layer.non_trainable_count(), 4);
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(true, &mut rng);
    let y = layer.forward(&bn_input(), &mut ctx).unwrap();
    // Channel 0: mean 2.5, biased variance 1.25 → (x − 2.5)/√1.251; channel 1: mean 25,
    // variance 125 → (x − 25)/√125.001 (values computed with Python floats).
    let c0 = [
        -1.3411044519645503,
        -0.4470348173215168,
        0.4470348173215168,
        1.3411044519645503,
    ];
    let c1 = [
        -1.3416354199689269,
        -0.447211806656309,
        0.447211806656309,
        1.3416354199689269,
    ];
    let expect: Vec<f64> = c0.iter().zip(&c1).flat_map(|(a, b)| [*a, *b]).collect();
    assert_close(&y.value().to_vec(), &expect, 1e-12);
    // moving = moving·0.99 + batch·0.01: mean 0 → 0.025, 0.25; variance 1 → 1.0025, 2.24.
    let updates = ctx.take_updates();
    assert_eq!(updates.len(), 2);
    let mm = layer.moving_mean().unwrap().id();
    let mv = layer.moving_variance().unwrap().id();
    let find = |id| updates.iter().find(|(i, _)| *i == id).unwrap().1.to_vec();
    assert_close(&find(mm), &[0.025, 0.25], 1e-14);
    assert_close(&find(mv), &[1.0025, 2.24], 1e-14);
}

#[test]
fn batch_norm_uses_biased_batch_variance_like_keras() {
    // Batch [0, 2]: biased variance 1 (unbiased would be 2) → ±1/√1.001 = ±0.9995003746877732.
    let layer = built(BatchNormalization::new(), &[1]);
    let x = Var::constant(Tensor::from_f64s(&[0., 2.], [2, 1]).unwrap());
    let y = forward(&layer, &x, true, 0);
    assert_close(
        &y.value().to_vec(),
        &[-0.9995003746877732, 0.9995003746877732],
        1e-14,
    );
}

#[test]
fn batch_norm_inference_uses_moving_statistics() {
    let mut layer = built(BatchNormalization::new(), &[2]);
    // params: gamma, beta, moving_mean, moving_variance
    set(&mut layer, 0, &[2.0, 1.0]);
    set(&mut layer, 1, &[0.5, -1.0]);
    set(&mut layer, 2, &[1.0, 10.0]);
    set(&mut layer, 3, &[3.999, 0.999]);
    let y = forward(&layer, &bn_input(), false, 0);
    // y = γ·(x − mm)/√(mv + 0.001) + β = 2(x − 1)/2 + 0.5 and (x − 10)/1 − 1
    let expect = [0.5, -1.0, 1.5, 9.0, 2.5, 19.0, 3.5, 29.0];
    assert_close(&y.value().to_vec(), &expect, 1e-12);
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(false, &mut rng);
    layer.forward(&bn_input(), &mut ctx).unwrap();
    assert!(ctx.take_updates().is_empty());
}

/// The fused node's gradients against the composed ops `γ·(x − mean)/√(var + ε) + β`.
#[test]
fn batch_norm_gradients_match_composed_ops() {
    for (shape, axis, training) in [
        (vec![6, 3], -1, true),
        (vec![2, 3, 4, 2], -1, true),
        (vec![2, 3, 4], 1, true),
        (vec![5, 3], -1, false),
    ] {
        let mut layer = built(BatchNormalization::new().axis(axis), &shape[1..]);
        let c = layer.moving_mean().unwrap().len();
        let g0 = Tensor::<f64>::rand_uniform([c], 0.5, 1.5, 1).to_vec();
        let b0 = Tensor::<f64>::rand_uniform([c], -0.5, 0.5, 2).to_vec();
        set(&mut layer, 0, &g0);
        set(&mut layer, 1, &b0);
        set(
            &mut layer,
            2,
            &Tensor::<f64>::rand_uniform([c], -0.5, 0.5, 3).to_vec(),
        );
        set(
            &mut layer,
            3,
            &Tensor::<f64>::rand_uniform([c], 0.5, 2.0, 4).to_vec(),
        );
        let xt = Tensor::<f64>::rand_uniform(&shape, -2.0, 3.0, 5);
        let x = Var::param(xt.clone());
        let y = forward(&layer, &x, training, 0);
        let r = Var::constant(Tensor::<f64>::randn(&shape, 6));
        let grads = y.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();

        // Composed: broadcast per-channel vectors along the channel axis.
        let rank = shape.len();
        let a = if axis < 0 {
            (axis + rank as isize) as usize
        } else {
            axis as usize
        };
        let mut bshape = vec![1; rank];
        bshape[a] = c;
        let others: Vec<isize> = (0..rank).filter(|&i| i != a).map(|i| i as isize).collect();
        let x2 = Var::param(xt);
        let gamma = Var::param(Tensor::from_f64s(&g0, [c]).unwrap());
        let beta = Var::param(Tensor::from_f64s(&b0, [c]).unwrap());
        let (mean, var) = if training {
            (
                x2.mean(&others, true).unwrap(),
                x2.var(&others, true, 0).unwrap(),
            )
        } else {
            let mm = Var::constant(
                layer
                    .moving_mean()
                    .unwrap()
                    .value()
                    .reshape(&bshape)
                    .unwrap(),
            );
            let mv = Var::constant(
                layer
                    .moving_variance()
                    .unwrap()
                    .value()
                    .reshape(&bshape)
                    .unwrap(),
            );
            (mm, mv)
        };
        let norm = x2
            .sub(&mean)
            .unwrap()
            .div(&var.add_scalar(1e-3).unwrap().sqrt().unwrap())
            .unwrap();
        let y2 = norm
            .mul(&gamma.reshape(&bshape).unwrap())
            .unwrap()
            .add(&beta.reshape(&bshape).unwrap())
            .unwrap();
        assert_close(&y.value().to_vec(), &y2.value().to_vec(), 1e-12);
        let g2 = y2.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
        assert_close(
            &grads.get(&x).unwrap().to_vec(),
            &g2.get(&x2).unwrap().to_vec(),
            1e-10,
        );
        let gid = layer.gamma().unwrap().id();
        let bid = layer.beta().unwrap().id();
        assert_close(
            &grads.get_id(gid).unwrap().to_vec(),
            &g2.get(&gamma).unwrap().to_vec(),
            1e-10,
        );
        assert_close(
            &grads.get_id(bid).unwrap().to_vec(),
            &g2.get(&beta).unwrap().to_vec(),
            1e-10,
        );
    }
}

#[test]
fn batch_norm_errors() {
    let e = BatchNormalization::<f64>::new()
        .axis(0)
        .output_shape(&[4])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("batch_normalization") && e.contains("axis 0"),
        "{e}"
    );
    let e = BatchNormalization::<f64>::new()
        .axis(3)
        .output_shape(&[4, 2])
        .unwrap_err()
        .to_string();
    assert!(e.contains("axis 3") && e.contains("[4, 2]"), "{e}");
    let e = BatchNormalization::<f64>::new()
        .output_shape(&[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("batch_normalization"), "{e}");
    let layer = built(BatchNormalization::new().name("bn"), &[4]);
    let e = layer.output_shape(&[3]).unwrap_err().to_string();
    assert!(
        e.contains("bn") && e.contains("size 4") && e.contains("[3]"),
        "{e}"
    );
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(true, &mut rng);
    let e = layer
        .forward(&Var::constant(Tensor::zeros([2, 3])), &mut ctx)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bn") && e.contains("[3]"), "{e}");
    let e = BatchNormalization::<f64>::new()
        .momentum(1.5)
        .output_shape(&[3])
        .unwrap_err()
        .to_string();
    assert!(e.contains("momentum"), "{e}");
}

// ------------------------------------------------------------------------------ layer norm

#[test]
fn layer_norm_harness() {
    // gamma and beta over the last axis: 2·D.
    harness(
        Box::new(LayerNormalization::new()),
        LayerTest::new(&[6]).params(2 * 6),
    );
    harness(
        Box::new(LayerNormalization::new()),
        LayerTest::new(&[3, 4]).params(2 * 4).train_mode(),
    );
    harness(
        Box::new(LayerNormalization::new().center(false)),
        LayerTest::new(&[5]).params(5),
    );
}

#[test]
fn layer_norm_values_by_hand() {
    let mut layer = built(LayerNormalization::new(), &[4]);
    set(&mut layer, 0, &[1.0, 1.0, 2.0, 2.0]);
    set(&mut layer, 1, &[0.0, 0.0, 0.0, 1.0]);
    let x =
        Var::constant(Tensor::from_f64s(&[1., 2., 3., 4., 10., 20., 30., 40.], [2, 4]).unwrap());
    let y = forward(&layer, &x, false, 0).value().to_vec();
    // Row 1: mean 2.5, biased variance 1.25 → (x − 2.5)/√1.251 (Python floats), then γ, β.
    let n = [
        -1.3411044519645503,
        -0.4470348173215168,
        0.4470348173215168,
        1.3411044519645503,
    ];
    let expect = [n[0], n[1], 2.0 * n[2], 2.0 * n[3] + 1.0];
    assert_close(&y[..4], &expect, 1e-12);
    // Row 2: variance 125 (ε is negligible up to 4e-6 relative).
    assert!((y[4] + 1.3416354199689269).abs() < 1e-12);
}

#[test]
fn layer_norm_gradients_match_composed_ops() {
    let shape = [3, 2, 5];
    let mut layer = built(LayerNormalization::new(), &shape[1..]);
    let g0 = Tensor::<f64>::rand_uniform([5], 0.5, 1.5, 1).to_vec();
    let b0 = Tensor::<f64>::rand_uniform([5], -0.5, 0.5, 2).to_vec();
    set(&mut layer, 0, &g0);
    set(&mut layer, 1, &b0);
    let xt = Tensor::<f64>::rand_uniform(shape, -2.0, 3.0, 5);
    let x = Var::param(xt.clone());
    let y = forward(&layer, &x, true, 0);
    let r = Var::constant(Tensor::<f64>::randn(shape, 6));
    let grads = y.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();

    let x2 = Var::param(xt);
    let gamma = Var::param(Tensor::from_f64s(&g0, [5]).unwrap());
    let beta = Var::param(Tensor::from_f64s(&b0, [5]).unwrap());
    let mean = x2.mean(&[-1], true).unwrap();
    let var = x2.var(&[-1], true, 0).unwrap();
    let y2 = x2
        .sub(&mean)
        .unwrap()
        .div(&var.add_scalar(1e-3).unwrap().sqrt().unwrap())
        .unwrap()
        .mul(&gamma)
        .unwrap()
        .add(&beta)
        .unwrap();
    assert_close(&y.value().to_vec(), &y2.value().to_vec(), 1e-12);
    let g2 = y2.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
    assert_close(
        &grads.get(&x).unwrap().to_vec(),
        &g2.get(&x2).unwrap().to_vec(),
        1e-10,
    );
    let gid = layer.gamma().unwrap().id();
    let bid = layer.beta().unwrap().id();
    assert_close(
        &grads.get_id(gid).unwrap().to_vec(),
        &g2.get(&gamma).unwrap().to_vec(),
        1e-10,
    );
    assert_close(
        &grads.get_id(bid).unwrap().to_vec(),
        &g2.get(&beta).unwrap().to_vec(),
        1e-10,
    );
}

#[test]
fn layer_norm_errors() {
    let layer = built(LayerNormalization::new().name("ln"), &[4]);
    let e = layer.output_shape(&[5]).unwrap_err().to_string();
    assert!(
        e.contains("ln") && e.contains("[5]") && e.contains('4'),
        "{e}"
    );
    let e = LayerNormalization::<f64>::new()
        .output_shape(&[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("layer_normalization"), "{e}");
}

// ------------------------------------------------------------------------------ embedding

fn ids(shape: &[usize], rng: &mut Rng) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| rng.below(7) as f64).collect(), shape).unwrap()
}

#[test]
fn embedding_harness() {
    // input_dim · output_dim
    harness(
        Box::new(Embedding::new(7, 3)),
        LayerTest::new(&[5])
            .params(7 * 3)
            .inputs(ids)
            .no_input_grads(),
    );
    harness(
        Box::new(Embedding::new(7, 2)),
        LayerTest::new(&[2, 3])
            .params(7 * 2)
            .inputs(ids)
            .no_input_grads(),
    );
}

#[test]
fn embedding_lookup_and_gradient_accumulate() {
    let mut layer = built(Embedding::new(3, 2), &[2]);
    set(&mut layer, 0, &[0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
    let x = Var::constant(Tensor::from_f64s(&[0., 2., 2., 1.], [2, 2]).unwrap());
    let y = forward(&layer, &x, true, 0);
    assert_eq!(y.shape(), &[2, 2, 2]);
    assert_eq!(
        y.value().to_vec(),
        vec![0.0, 0.5, 2.0, 2.5, 2.0, 2.5, 1.0, 1.5]
    );
    // d Σy / d table: each row counts its ids: id 0 once, 1 once, 2 twice.
    let g = y.sum_all().unwrap().backward().unwrap();
    let id = layer.embeddings().unwrap().id();
    assert_eq!(g.get_id(id).unwrap().to_vec(), vec![1., 1., 1., 1., 2., 2.]);
}

#[test]
fn embedding_defaults_follow_keras() {
    let layer = built(Embedding::<f64>::new(100, 8), &[4]);
    assert_eq!(Layer::name(&layer), "embedding");
    let t = layer.embeddings().unwrap().value().to_vec();
    assert_eq!(t.len(), 800);
    assert!(t.iter().all(|v| (-0.05..0.05).contains(v)));
    assert!(t.iter().any(|v| v.abs() > 0.04));
    assert_eq!(layer.output_shape(&[4]).unwrap(), vec![4, 8]);
    let custom = built(
        Embedding::<f64>::new(4, 2).embeddings_initializer(Initializer::Ones),
        &[1],
    );
    assert_eq!(custom.embeddings().unwrap().value().to_vec(), vec![1.0; 8]);
}

#[test]
fn embedding_bad_ids_name_layer_and_id() {
    let layer = built(Embedding::<f64>::new(5, 2).name("words"), &[2]);
    for (bad, shown) in [(5.0, "5"), (-1.0, "-1"), (1.5, "1.5"), (f64::NAN, "NaN")] {
        let x = Var::constant(Tensor::from_f64s(&[0., bad], [1, 2]).unwrap());
        let mut rng = Rng::seed(0);
        let mut ctx = ForwardCtx::new(false, &mut rng);
        let e = layer.forward(&x, &mut ctx).unwrap_err().to_string();
        assert!(
            e.contains("words") && e.contains(shown) && e.contains("0..5"),
            "{e}"
        );
    }
    let e = Embedding::<f64>::new(0, 3)
        .output_shape(&[2])
        .unwrap_err()
        .to_string();
    assert!(e.contains("input_dim"), "{e}");
}

// ------------------------------------------------------------------------------ merge

#[test]
fn add_harness() {
    harness(
        Box::new(Add::new()),
        LayerTest::multi(&[&[3, 2], &[3, 2]]).params(0),
    );
    harness(
        Box::new(Add::new()),
        LayerTest::multi(&[&[4], &[4], &[4]]).params(0),
    );
}

#[test]
fn add_values_and_shared_gradient() {
    let layer = Add::<f64>::new();
    assert_eq!(layer.num_inputs(), usize::MAX);
    let a = Var::param(Tensor::from_f64s(&[1., 2.], [1, 2]).unwrap());
    let b = Var::constant(Tensor::from_f64s(&[10., 20.], [1, 2]).unwrap());
    let c = Var::param(Tensor::from_f64s(&[100., 200.], [1, 2]).unwrap());
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(true, &mut rng);
    let y = layer
        .call(&[a.clone(), b, c.clone()], &mut ctx)
        .unwrap()
        .remove(0);
    assert_eq!(y.value().to_vec(), vec![111., 222.]);
    let w = Var::constant(Tensor::from_f64s(&[3., 4.], [1, 2]).unwrap());
    let g = y.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(g.get(&a).unwrap().to_vec(), vec![3., 4.]);
    assert_eq!(g.get(&c).unwrap().to_vec(), vec![3., 4.]);
}

#[test]
fn add_errors_name_shapes() {
    let layer = Add::<f64>::new().name("sum");
    let e = layer
        .output_shapes(&[vec![3, 2], vec![3, 3]])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sum") && e.contains("[3, 2]") && e.contains("[3, 3]"),
        "{e}"
    );
    let e = layer.output_shapes(&[vec![3, 2]]).unwrap_err().to_string();
    assert!(e.contains("sum") && e.contains("at least 2"), "{e}");
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(false, &mut rng);
    let x = Var::constant(Tensor::<f64>::zeros([2, 3]));
    let z = Var::constant(Tensor::<f64>::zeros([3, 3]));
    let e = layer.call(&[x, z], &mut ctx).unwrap_err().to_string();
    assert!(e.contains("[2, 3]") && e.contains("[3, 3]"), "{e}");
}

#[test]
fn concatenate_harness() {
    harness(
        Box::new(Concatenate::new()),
        LayerTest::multi(&[&[2, 3], &[2, 5]]).params(0),
    );
    harness(
        Box::new(Concatenate::new().axis(1)),
        LayerTest::multi(&[&[2, 3], &[4, 3], &[1, 3]]).params(0),
    );
}

#[test]
fn concatenate_values_and_errors() {
    let layer = Concatenate::<f64>::new().name("cat");
    let a = Var::constant(Tensor::from_f64s(&[1., 2., 3., 4.], [2, 2]).unwrap());
    let b = Var::constant(Tensor::from_f64s(&[5., 6.], [2, 1]).unwrap());
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(false, &mut rng);
    let y = layer
        .call(&[a.clone(), b.clone()], &mut ctx)
        .unwrap()
        .remove(0);
    assert_eq!(y.value().to_vec(), vec![1., 2., 5., 3., 4., 6.]);
    assert_eq!(
        layer.output_shapes(&[vec![2], vec![1]]).unwrap(),
        vec![vec![3]]
    );

    let e = layer
        .output_shapes(&[vec![2, 3], vec![3, 3]])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cat") && e.contains("[2, 3]") && e.contains("[3, 3]"),
        "{e}"
    );
    let e = layer
        .call(&[a.clone(), Var::constant(Tensor::zeros([3, 1]))], &mut ctx)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cat") && e.contains("[2, 2]") && e.contains("[3, 1]"),
        "{e}"
    );
    let e = Concatenate::<f64>::new()
        .axis(0)
        .output_shapes(&[vec![2], vec![2]])
        .unwrap_err()
        .to_string();
    assert!(e.contains("axis 0"), "{e}");
    let e = layer.call(&[a], &mut ctx).unwrap_err().to_string();
    assert!(e.contains("at least 2"), "{e}");
}

// ------------------------------------------------------------------------------ saving

#[test]
fn other_layers_roundtrip_through_json() {
    let mut bn = built(BatchNormalization::new(), &[3]);
    set(&mut bn, 2, &[0.5, -0.5, 1.0]);
    set(&mut bn, 3, &[2.0, 0.5, 1.5]);
    let layers: Vec<(Box<dyn Layer<f64>>, Vec<usize>)> = vec![
        (Box::new(Dropout::new(0.25)), vec![3]),
        (Box::new(AlphaDropout::new(0.1)), vec![3]),
        (Box::new(bn), vec![3]),
        (Box::new(LayerNormalization::new().epsilon(1e-5)), vec![3]),
    ];
    for (mut layer, shape) in layers {
        layer
            .build(std::slice::from_ref(&shape), &mut Rng::seed(1))
            .unwrap();
        let x = Var::constant(Tensor::<f64>::rand_uniform([2, shape[0]], -1.0, 1.0, 3));
        let json = serde_json::to_string(&layer.to_saved()).unwrap();
        let restored = serde_json::from_str::<SavedLayer<f64>>(&json)
            .unwrap()
            .into_layer();
        assert_eq!(restored.class_name(), layer.class_name());
        assert_eq!(restored.trainable_count(), layer.trainable_count());
        assert_eq!(restored.non_trainable_count(), layer.non_trainable_count());
        for training in [false, true] {
            let a = forward(layer.as_ref(), &x, training, 4);
            let b = forward(restored.as_ref(), &x, training, 4);
            assert_eq!(
                a.value(),
                b.value(),
                "{} training {training}",
                layer.class_name()
            );
        }
    }
    let mut emb = built(Embedding::<f64>::new(4, 2), &[2]);
    emb.build(&[vec![2]], &mut Rng::seed(0)).unwrap();
    let json = serde_json::to_string(&emb.to_saved()).unwrap();
    let restored = serde_json::from_str::<SavedLayer<f64>>(&json)
        .unwrap()
        .into_layer();
    // serde_json's default float parser may be off by one unit in the last place for long
    // f64 literals (exact only with its `float_roundtrip` feature).
    assert!(restored.params()[0]
        .value()
        .allclose(emb.params()[0].value(), 1e-15, 0.0));
    for merge in [
        Box::new(Add::<f64>::new()) as Box<dyn Layer<f64>>,
        Box::new(Concatenate::new().axis(1)),
    ] {
        let json = serde_json::to_string(&merge.to_saved()).unwrap();
        let restored = serde_json::from_str::<SavedLayer<f64>>(&json)
            .unwrap()
            .into_layer();
        assert_eq!(restored.class_name(), merge.class_name());
        assert_eq!(restored.num_inputs(), usize::MAX);
    }
}
