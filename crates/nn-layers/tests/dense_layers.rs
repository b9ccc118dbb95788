//! Dense and the simple core layers (Activation, Softmax, PReLU, LeakyReLU, ELU, Flatten,
//! Reshape): the shared layer harness, values computed by hand, regularization terms, shape
//! errors and the saved form.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use nn_autograd::{no_grad, Var};
use nn_layers::testing::{run_layer_test, LayerTest};
use nn_layers::{
    ActivationLayer, Dense, ForwardCtx, Initializer, Layer, LayerExt, LeakyReLU, PReLU,
    Regularizer, Reshape, SavedLayer, Softmax, ELU,
};
use nn_tensor::random::Rng;
use nn_tensor::Tensor;

fn t(values: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_f64s(values, shape).unwrap()
}

fn harness(layer: impl Layer<f64> + 'static, spec: LayerTest) {
    if let Err(e) = run_layer_test(Box::new(layer), &spec) {
        panic!("{e}");
    }
}

/// Runs a built layer on `x` (inference, no graph) and returns the output values.
fn run(layer: &dyn Layer<f64>, x: &Tensor<f64>) -> Tensor<f64> {
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(false, &mut rng);
    no_grad(|| layer.forward(&Var::constant(x.clone()), &mut ctx))
        .unwrap()
        .value()
        .clone()
}

fn built<L: Layer<f64>>(mut layer: L, shape: &[usize]) -> L {
    layer.build(&[shape.to_vec()], &mut Rng::seed(1)).unwrap();
    layer
}

/// A dense layer 2 → 2 with kernel [[1, −2], [3, 0.5]] and bias [0.5, −1].
fn dense_2x2(activation: &str) -> Dense<f64> {
    let mut d = built(Dense::<f64>::new(2).activation(activation), &[2]);
    let mut params = d.params_mut();
    params[0]
        .set_value(t(&[1.0, -2.0, 3.0, 0.5], &[2, 2]))
        .unwrap();
    params[1].set_value(t(&[0.5, -1.0], &[2])).unwrap();
    d
}

// ------------------------------------------------------------------------------ Dense

#[test]
fn dense_harness() {
    harness(
        Dense::<f64>::new(3).activation("tanh"),
        LayerTest::new(&[4]).params(4 * 3 + 3),
    );
}

#[test]
fn dense_harness_no_bias() {
    harness(
        Dense::<f64>::new(3).use_bias(false).activation("gelu"),
        LayerTest::new(&[4]).params(4 * 3),
    );
}

#[test]
fn dense_harness_rank3_input() {
    // [batch, t, features]: the kernel applies to the last axis at every step.
    harness(
        Dense::<f64>::new(3).activation("swish"),
        LayerTest::new(&[5, 4]).params(4 * 3 + 3),
    );
    harness(
        Dense::<f64>::new(3).activation("softmax"),
        LayerTest::new(&[5, 4]).params(15),
    );
}

#[test]
fn dense_harness_every_fused_activation() {
    for act in [
        "linear",
        "relu",
        "sigmoid",
        "relu6",
        "selu",
        "softsign",
        "mish",
        "gelu_tanh",
        "elu",
        "log_softmax",
    ] {
        harness(
            Dense::<f64>::new(2).activation(act),
            LayerTest::new(&[3]).params(3 * 2 + 2),
        );
    }
}

#[test]
fn dense_forward_by_hand() {
    // x = [[1, 2], [−1, 1]]; x·K = [[7, −1], [2, 2.5]]; + b = [[7.5, −2], [2.5, 1.5]].
    let x = t(&[1.0, 2.0, -1.0, 1.0], &[2, 2]);
    assert_eq!(
        run(&dense_2x2("linear"), &x).to_vec(),
        vec![7.5, -2.0, 2.5, 1.5]
    );
    assert_eq!(
        run(&dense_2x2("relu"), &x).to_vec(),
        vec![7.5, 0.0, 2.5, 1.5]
    );
    // Rank 3: the same rows arranged as [1, 2, 2].
    let x3 = t(&[1.0, 2.0, -1.0, 1.0], &[1, 2, 2]);
    let y3 = run(&dense_2x2("relu"), &x3);
    assert_eq!(y3.shape(), &[1, 2, 2]);
    assert_eq!(y3.to_vec(), vec![7.5, 0.0, 2.5, 1.5]);
}

#[test]
fn dense_gradients_by_hand() {
    // y = relu(x·K + b) = [[7.5, 0], [2.5, 1.5]], loss = Σ y: dy/dpre = [[1, 0], [1, 1]],
    // dK = xᵀ·mask = [[1·1 + (−1)·1, 1·0 + (−1)·1], [2·1 + 1·1, 2·0 + 1·1]] = [[0, −1], [3, 1]],
    // db = column sums of the mask = [2, 1].
    let d = dense_2x2("relu");
    let x = Var::constant(t(&[1.0, 2.0, -1.0, 1.0], &[2, 2]));
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(true, &mut rng);
    let y = d.forward(&x, &mut ctx).unwrap();
    let grads = y.sum_all().unwrap().backward().unwrap();
    let params = d.params();
    assert_eq!(
        grads.get_id(params[0].id()).unwrap().to_vec(),
        vec![0.0, -1.0, 3.0, 1.0]
    );
    assert_eq!(
        grads.get_id(params[1].id()).unwrap().to_vec(),
        vec![2.0, 1.0]
    );
}

#[test]
fn dense_activity_regularizer_adds_loss() {
    // Output [[7.5, −2], [2.5, 1.5]]: l2 0.01·(56.25 + 4 + 6.25 + 2.25) = 0.6875 (Keras 3 adds
    // the penalty of the whole output, not divided by the batch size);
    // l1 0.1·(7.5 + 2 + 2.5 + 1.5) = 1.35.
    let x = Var::constant(t(&[1.0, 2.0, -1.0, 1.0], &[2, 2]));
    for (r, expected) in [
        (Regularizer::L2(0.01), 0.6875),
        (Regularizer::L1(0.1), 1.35),
    ] {
        let mut d = built(Dense::<f64>::new(2).activity_regularizer(r), &[2]);
        d.params_mut()[0]
            .set_value(t(&[1.0, -2.0, 3.0, 0.5], &[2, 2]))
            .unwrap();
        d.params_mut()[1].set_value(t(&[0.5, -1.0], &[2])).unwrap();
        let mut rng = Rng::seed(0);
        let mut ctx = ForwardCtx::new(true, &mut rng);
        d.forward(&x, &mut ctx).unwrap();
        let losses = ctx.take_losses();
        assert_eq!(losses.len(), 1);
        let v = losses[0].value().item().unwrap();
        assert!((v - expected).abs() < 1e-12, "{r:?}: {v} vs {expected}");
    }
    // Without a regularizer, nothing is added.
    let d = dense_2x2("linear");
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(true, &mut rng);
    d.forward(&x, &mut ctx).unwrap();
    assert!(ctx.take_losses().is_empty());
}

#[test]
fn dense_kernel_and_bias_regularizers_add_loss() {
    // K = [[1, −2], [3, 0.5]]: l1 0.01·6.5 = 0.065; b = [0.5, −1]: l2 0.1·1.25 = 0.125.
    let mut d = built(
        Dense::<f64>::new(2)
            .kernel_regularizer(Regularizer::L1(0.01))
            .bias_regularizer(Regularizer::L2(0.1)),
        &[2],
    );
    d.params_mut()[0]
        .set_value(t(&[1.0, -2.0, 3.0, 0.5], &[2, 2]))
        .unwrap();
    d.params_mut()[1].set_value(t(&[0.5, -1.0], &[2])).unwrap();
    let total = d
        .regularization_loss()
        .unwrap()
        .unwrap()
        .value()
        .item()
        .unwrap();
    assert!((total - 0.19).abs() < 1e-12, "{total}");
    // Its gradient reaches the kernel: d(0.01·Σ|K|)/dK = 0.01·sign(K).
    let loss = d.regularization_loss().unwrap().unwrap();
    let g = loss.backward().unwrap();
    assert_eq!(
        g.get_id(d.params()[0].id()).unwrap().to_vec(),
        vec![0.01, -0.01, 0.01, 0.01]
    );
}

#[test]
fn dense_bad_shapes_name_layer_and_shapes() {
    let d = built(Dense::<f64>::new(3).name("head"), &[4]);
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(false, &mut rng);
    let e = d
        .forward(&Var::constant(Tensor::zeros([2, 5])), &mut ctx)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("head") && e.contains("[batch, ..., 4]") && e.contains("[2, 5]"),
        "{e}"
    );
    let e = d
        .forward(&Var::constant(Tensor::zeros([4])), &mut ctx)
        .unwrap_err()
        .to_string();
    assert!(e.contains("head") && e.contains("[4]"), "{e}");
    let e = d.output_shape(&[7]).unwrap_err().to_string();
    assert!(
        e.contains("head") && e.contains("[7]") && e.contains('4'),
        "{e}"
    );
    let mut again = d.clone();
    let e = again
        .build(&[vec![6]], &mut Rng::seed(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("head") && e.contains("[6]"), "{e}");
    let e = Dense::<f64>::new(3)
        .name("d0")
        .output_shape(&[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("d0") && e.contains("[]"), "{e}");
    // Two inputs.
    let e = d.call(
        &[
            Var::constant(Tensor::zeros([1, 4])),
            Var::constant(Tensor::zeros([1, 4])),
        ],
        &mut ctx,
    );
    assert!(e.unwrap_err().to_string().contains("head"));
}

#[test]
fn dense_bad_config_is_an_error() {
    let e = Dense::<f64>::new(2)
        .name("d1")
        .activation("relu7")
        .build(&[vec![3]], &mut Rng::seed(0));
    let e = e.unwrap_err().to_string();
    assert!(e.contains("d1") && e.contains("relu7"), "{e}");
    let e = Dense::<f64>::new(0)
        .name("d2")
        .build(&[vec![3]], &mut Rng::seed(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("d2") && e.contains("units"), "{e}");
    let unbuilt = Dense::<f64>::new(2).name("d3");
    let mut rng = Rng::seed(0);
    let e = unbuilt.forward(
        &Var::constant(Tensor::zeros([1, 3])),
        &mut ForwardCtx::new(false, &mut rng),
    );
    assert!(e.unwrap_err().to_string().contains("d3"));
}

#[test]
fn dense_rank3_softmax_on_a_middle_axis() {
    // softmax over axis 1 (time) of the [batch, t, units] output, not over the folded rows.
    let mut d = built(
        Dense::<f64>::new(2).activation(nn_layers::Activation::Softmax { axis: 1 }),
        &[2],
    );
    d.params_mut()[0]
        .set_value(t(&[1.0, -2.0, 3.0, 0.5], &[2, 2]))
        .unwrap();
    d.params_mut()[1].set_value(t(&[0.5, -1.0], &[2])).unwrap();
    let y = run(&d, &t(&[1.0, 2.0, -1.0, 1.0], &[1, 2, 2]));
    // Pre-activation [[7.5, −2], [2.5, 1.5]]; softmax down each column.
    let col0 = [7.5f64.exp(), 2.5f64.exp()];
    let col1 = [(-2.0f64).exp(), 1.5f64.exp()];
    let expected = [
        col0[0] / (col0[0] + col0[1]),
        col1[0] / (col1[0] + col1[1]),
        col0[1] / (col0[0] + col0[1]),
        col1[1] / (col1[0] + col1[1]),
    ];
    for (a, b) in y.to_vec().iter().zip(expected) {
        assert!((a - b).abs() < 1e-15, "{a} vs {b}");
    }
}

#[test]
fn dense_f32_matches_f64() {
    let mut d32 = Dense::<f32>::new(8).activation("gelu");
    d32.build(&[vec![16]], &mut Rng::seed(3)).unwrap();
    let mut d64 = Dense::<f64>::new(8).activation("gelu");
    d64.build(&[vec![16]], &mut Rng::seed(3)).unwrap();
    let w: Tensor<f64> = d32.params()[0].value().cast();
    d64.params_mut()[0].set_value(w).unwrap();
    let x = Tensor::<f64>::rand_normal([4, 16], 0.0, 1.0, 1);
    let mut rng = Rng::seed(0);
    let y32 = d32
        .forward(
            &Var::constant(x.cast()),
            &mut ForwardCtx::new(false, &mut rng),
        )
        .unwrap();
    let y64 = run(&d64, &x);
    assert!(y32.value().cast::<f64>().allclose(&y64, 1e-5, 1e-5));
}

// ------------------------------------------------------------------------------ Activation

#[test]
fn activation_layer_harness() {
    for name in ["relu", "gelu", "softmax", "selu", "tanh", "hard_sigmoid"] {
        harness(
            ActivationLayer::new(name),
            LayerTest::new(&[3, 4]).params(0),
        );
    }
}

#[test]
fn activation_layer_values_and_errors() {
    let layer = built(ActivationLayer::new("relu"), &[3]);
    assert_eq!(Layer::<f64>::class_name(&layer), "Activation");
    assert_eq!(Layer::<f64>::name(&layer), "activation");
    assert_eq!(
        run(&layer, &t(&[-1.0, 0.0, 2.0], &[1, 3])).to_vec(),
        vec![0.0, 0.0, 2.0]
    );
    let e = ActivationLayer::<f64>::new("relu7")
        .name("act")
        .build(&[vec![3]], &mut Rng::seed(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("act") && e.contains("relu7"), "{e}");
    let e = Layer::<f64>::output_shapes(
        &ActivationLayer::new(nn_layers::Activation::Softmax { axis: 3 }),
        &[vec![4]],
    );
    assert!(e.unwrap_err().to_string().contains("[4]"));
}

// ------------------------------------------------------------------------------ Softmax

#[test]
fn softmax_layer_harness() {
    harness(Softmax::new(), LayerTest::new(&[5]).params(0));
    harness(
        Softmax::new().axis(1).temperature(2.5),
        LayerTest::new(&[3, 4]).params(0),
    );
}

#[test]
fn softmax_layer_temperature_divides_logits() {
    // softmax([1, 2, 3] / 2) = e^{[0.5, 1, 1.5]} / Σ.
    let layer = built(Softmax::new().temperature(2.0), &[3]);
    let y = run(&layer, &t(&[1.0, 2.0, 3.0], &[1, 3])).to_vec();
    let e: Vec<f64> = [0.5f64, 1.0, 1.5].iter().map(|v| v.exp()).collect();
    let s: f64 = e.iter().sum();
    for (a, b) in y.iter().zip(e.iter().map(|v| v / s)) {
        assert!((a - b).abs() < 1e-15, "{a} vs {b}");
    }
    let e = Softmax::<f64>::new()
        .name("sm")
        .temperature(0.0)
        .build(&[vec![3]], &mut Rng::seed(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("sm") && e.contains("temperature"), "{e}");
    let e = Layer::<f64>::output_shapes(&Softmax::new().axis(2), &[vec![3]])
        .unwrap_err()
        .to_string();
    assert!(e.contains("softmax") && e.contains("[3]"), "{e}");
}

// ------------------------------------------------------------------------------ PReLU

fn quarter() -> Initializer {
    Initializer::Constant(0.25)
}

#[test]
fn prelu_harness() {
    // Default: one alpha per last-axis feature.
    harness(
        PReLU::<f64>::new().alpha_initializer(quarter()),
        LayerTest::new(&[5, 3]).params(3),
    );
    harness(PReLU::<f64>::new(), LayerTest::new(&[4]).params(4));
    // Keras' default (no sharing): one alpha per element.
    harness(
        PReLU::<f64>::new()
            .shared_axes(vec![])
            .alpha_initializer(quarter()),
        LayerTest::new(&[2, 3]).params(6),
    );
    // Shared over height and width of an NHWC image.
    harness(
        PReLU::<f64>::new().shared_axes(vec![1, 2]),
        LayerTest::new(&[2, 3, 2]).params(2),
    );
}

#[test]
fn prelu_values_and_alpha_gradient_by_hand() {
    let layer = built(PReLU::<f64>::new().alpha_initializer(quarter()), &[2]);
    assert_eq!(layer.alpha().unwrap().value().shape(), &[2]);
    // x = [[−2, 3], [−4, −1]] → [[−0.5, 3], [−1, −0.25]].
    let xv = t(&[-2.0, 3.0, -4.0, -1.0], &[2, 2]);
    assert_eq!(run(&layer, &xv).to_vec(), vec![-0.5, 3.0, -1.0, -0.25]);
    // d Σy / d alpha_j = Σ over rows of min(x, 0): [−6, −1]; d Σy / dx = [[0.25, 1], [0.25, 0.25]].
    let x = Var::param(xv);
    let mut rng = Rng::seed(0);
    let y = layer
        .forward(&x, &mut ForwardCtx::new(true, &mut rng))
        .unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    assert_eq!(
        g.get_id(layer.params()[0].id()).unwrap().to_vec(),
        vec![-6.0, -1.0]
    );
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![0.25, 1.0, 0.25, 0.25]);
    // Zeros by default: a ReLU at first.
    let relu_like = built(PReLU::<f64>::new(), &[2]);
    assert_eq!(
        run(&relu_like, &t(&[-2.0, 3.0], &[1, 2])).to_vec(),
        vec![0.0, 3.0]
    );
}

#[test]
fn prelu_errors_name_layer_and_shapes() {
    let layer = built(PReLU::<f64>::new().name("pr"), &[2, 3]);
    let mut rng = Rng::seed(0);
    let e = layer.forward(
        &Var::constant(Tensor::zeros([1, 2, 4])),
        &mut ForwardCtx::new(false, &mut rng),
    );
    let e = e.unwrap_err().to_string();
    assert!(
        e.contains("pr") && e.contains("[1, 2, 4]") && e.contains("3"),
        "{e}"
    );
    let e = Layer::<f64>::output_shapes(&layer, &[vec![2, 4]])
        .unwrap_err()
        .to_string();
    assert!(e.contains("pr") && e.contains("[2, 4]"), "{e}");
    let e = PReLU::<f64>::new()
        .name("p2")
        .shared_axes(vec![3])
        .build(&[vec![2, 3]], &mut rng)
        .unwrap_err();
    assert!(
        e.to_string().contains("p2") && e.to_string().contains("shared axis 3"),
        "{e}"
    );
    let e = PReLU::<f64>::new()
        .name("p3")
        .build(&[vec![]], &mut rng)
        .unwrap_err()
        .to_string();
    assert!(e.contains("p3") && e.contains("[]"), "{e}");
    let unbuilt = PReLU::<f64>::new().name("p4");
    let e = unbuilt.forward(
        &Var::constant(Tensor::zeros([1, 2])),
        &mut ForwardCtx::new(false, &mut rng),
    );
    assert!(e.unwrap_err().to_string().contains("p4"));
}

#[test]
fn prelu_alpha_regularizer_adds_loss() {
    let layer = built(
        PReLU::<f64>::new()
            .alpha_initializer(quarter())
            .alpha_regularizer(Regularizer::L2(0.1)),
        &[4],
    );
    // 0.1 · 4 · 0.25² = 0.025
    let v = layer
        .regularization_loss()
        .unwrap()
        .unwrap()
        .value()
        .item()
        .unwrap();
    assert!((v - 0.025).abs() < 1e-15, "{v}");
}

// ------------------------------------------------------------------------------ LeakyReLU / ELU

#[test]
fn leaky_relu_layer_harness_and_values() {
    harness(LeakyReLU::new(), LayerTest::new(&[3, 2]).params(0));
    let layer = built(LeakyReLU::new(), &[3]);
    assert_eq!(Layer::<f64>::class_name(&layer), "LeakyReLU");
    // Keras' layer default slope 0.3.
    assert_eq!(
        run(&layer, &t(&[-2.0, 0.0, 5.0], &[1, 3])).to_vec(),
        vec![-0.6, 0.0, 5.0]
    );
    let layer = built(LeakyReLU::new().negative_slope(0.1), &[1]);
    assert_eq!(
        run(&layer, &t(&[-3.0], &[1, 1])).to_vec(),
        vec![-0.30000000000000004]
    );
    let e = LeakyReLU::<f64>::new()
        .name("lr")
        .negative_slope(-0.1)
        .build(&[vec![1]], &mut Rng::seed(0));
    assert!(e.unwrap_err().to_string().contains("lr"));
}

#[test]
fn elu_layer_harness_and_values() {
    harness(ELU::new().alpha(0.5), LayerTest::new(&[4]).params(0));
    let layer = built(ELU::new(), &[2]);
    assert_eq!(Layer::<f64>::class_name(&layer), "ELU");
    let y = run(&layer, &t(&[-1.0, 2.0], &[1, 2])).to_vec();
    assert_eq!(y, vec![(-1.0f64).exp_m1(), 2.0]);
}

// ------------------------------------------------------------------------------ Flatten / Reshape

#[test]
fn flatten_harness_and_shapes() {
    harness(
        nn_layers::Flatten::new(),
        LayerTest::new(&[2, 3, 4]).params(0),
    );
    harness(nn_layers::Flatten::new(), LayerTest::new(&[5]).params(0));
    let f = nn_layers::Flatten::new();
    assert_eq!(
        Layer::<f64>::output_shapes(&f, &[vec![2, 3, 4]]).unwrap(),
        vec![vec![24]]
    );
    assert_eq!(
        Layer::<f64>::output_shapes(&f, &[vec![]]).unwrap(),
        vec![vec![1]]
    );
    let x = Tensor::<f64>::rand_uniform([2, 3, 4], -1.0, 1.0, 0);
    let y = run(&built(nn_layers::Flatten::new(), &[3, 4]), &x);
    assert_eq!(y.shape(), &[2, 12]);
    assert_eq!(y.to_vec(), x.to_vec());
    let y = run(
        &built(nn_layers::Flatten::new(), &[]),
        &t(&[1.0, 2.0], &[2]),
    );
    assert_eq!(y.shape(), &[2, 1]);
}

#[test]
fn reshape_harness_and_shapes() {
    harness(Reshape::new(&[3, -1]), LayerTest::new(&[2, 6]).params(0));
    harness(Reshape::new(&[12]), LayerTest::new(&[3, 4]).params(0));
    let r = Reshape::new(&[-1, 4]);
    assert_eq!(
        Layer::<f64>::output_shapes(&r, &[vec![2, 6]]).unwrap(),
        vec![vec![3, 4]]
    );
    let x = Tensor::<f64>::rand_uniform([2, 2, 6], -1.0, 1.0, 0);
    let y = run(&built(Reshape::new(&[-1, 4]), &[2, 6]), &x);
    assert_eq!(y.shape(), &[2, 3, 4]);
    assert_eq!(y.to_vec(), x.to_vec());
}

#[test]
fn reshape_errors_name_layer_and_shapes() {
    let e = Layer::<f64>::output_shapes(&Reshape::new(&[5, -1]).name("rs"), &[vec![2, 6]])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("rs") && e.contains("[2, 6]") && e.contains("[5, -1]"),
        "{e}"
    );
    let e = Layer::<f64>::output_shapes(&Reshape::new(&[5]).name("rs"), &[vec![4]])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("rs") && e.contains("[4]") && e.contains("[5]"),
        "{e}"
    );
    let e = Layer::<f64>::output_shapes(&Reshape::new(&[-1, -1]).name("rs"), &[vec![4]])
        .unwrap_err()
        .to_string();
    assert!(e.contains("rs") && e.contains("-1"), "{e}");
    let layer = built(Reshape::new(&[2, 2]).name("rs"), &[4]);
    let mut rng = Rng::seed(0);
    let e = layer.forward(
        &Var::constant(Tensor::<f64>::zeros([3, 5])),
        &mut ForwardCtx::new(false, &mut rng),
    );
    assert!(e.unwrap_err().to_string().contains("[5]"));
}

// ------------------------------------------------------------------------------ saved form

#[test]
fn saved_layers_round_trip_through_json() {
    let layers: Vec<(Box<dyn Layer<f64>>, Vec<usize>)> = vec![
        (Box::new(Dense::<f64>::new(3).activation("mish")), vec![4]),
        (Box::new(ActivationLayer::new("gelu_tanh")), vec![4]),
        (Box::new(Softmax::new().temperature(0.5)), vec![4]),
        (
            Box::new(
                PReLU::<f64>::new()
                    .alpha_initializer(Initializer::RandomUniform { min: 0.1, max: 0.4 }),
            ),
            vec![4],
        ),
        (Box::new(LeakyReLU::new().negative_slope(0.05)), vec![4]),
        (Box::new(ELU::new().alpha(2.0)), vec![4]),
        (Box::new(nn_layers::Flatten::new()), vec![2, 2]),
        (Box::new(Reshape::new(&[2, -1])), vec![4]),
    ];
    for (mut layer, shape) in layers {
        layer
            .build(std::slice::from_ref(&shape), &mut Rng::seed(5))
            .unwrap();
        let json = serde_json::to_string(&layer.to_saved()).unwrap();
        let restored = serde_json::from_str::<SavedLayer<f64>>(&json)
            .unwrap()
            .into_layer();
        assert_eq!(restored.class_name(), layer.class_name());
        assert_eq!(restored.name(), layer.name());
        let mut full = vec![3];
        full.extend(&shape);
        let x = Tensor::<f64>::rand_uniform(&full, -2.0, 2.0, 9);
        assert_eq!(
            run(restored.as_ref(), &x),
            run(layer.as_ref(), &x),
            "{}",
            layer.class_name()
        );
    }
}
