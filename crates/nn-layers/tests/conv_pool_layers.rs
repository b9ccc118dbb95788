//! Convolution and pooling layers: the shared layer harness, hand-computed values, an
//! independent naive convolution, gradients against composed autograd ops, and errors.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use nn_autograd::Var;
use nn_layers::testing::{run_layer_test, LayerTest};
use nn_layers::{
    AveragePooling1D, AveragePooling2D, Conv1D, Conv2D, ForwardCtx, GlobalAveragePooling2D,
    GlobalMaxPooling2D, Layer, LayerExt, MaxPooling1D, MaxPooling2D, Padding, SavedLayer,
};
use nn_tensor::random::Rng;
use nn_tensor::Tensor;

fn harness(layer: Box<dyn Layer<f64>>, test: LayerTest) {
    if let Err(e) = run_layer_test(layer, &test) {
        panic!("{e}");
    }
}

/// Builds `layer` for `input` (per-sample shape) and runs it on `x` in inference mode.
fn run(layer: &mut dyn Layer<f64>, x: &Tensor<f64>) -> Tensor<f64> {
    let mut rng = Rng::seed(0);
    layer.build(&[x.shape()[1..].to_vec()], &mut rng).unwrap();
    let mut ctx = ForwardCtx::new(false, &mut rng);
    layer
        .forward(&Var::constant(x.clone()), &mut ctx)
        .unwrap()
        .value()
        .clone()
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

// ------------------------------------------------------------------------------ harness

#[test]
fn conv2d_harness_valid() {
    // kh·kw·cin·f + f = 3·3·2·4 + 4
    harness(
        Box::new(Conv2D::new(4, (3, 3))),
        LayerTest::new(&[5, 5, 2]).params(3 * 3 * 2 * 4 + 4),
    );
    harness(
        Box::new(Conv2D::new(2, (2, 2))),
        LayerTest::new(&[3, 4, 1]).params(2 * 2 * 2 + 2), // kh·kw·cin·f + f, cin = 1
    );
}

#[test]
fn conv2d_harness_same_strided_relu() {
    let layer = Conv2D::new(3, (2, 3))
        .strides((2, 1))
        .padding(Padding::Same)
        .activation("relu");
    harness(
        Box::new(layer),
        LayerTest::new(&[5, 6, 2]).params(2 * 3 * 2 * 3 + 3),
    );
}

#[test]
fn conv2d_harness_no_bias_tanh_and_pointwise() {
    let layer = Conv2D::new(2, (3, 3)).use_bias(false).activation("tanh");
    harness(
        Box::new(layer),
        LayerTest::new(&[4, 4, 3]).params(3 * 3 * 3 * 2),
    );
    // 1×1 kernels take the pointwise (no im2col) path of the tensor kernels.
    harness(
        Box::new(Conv2D::new(3, (1, 1))),
        LayerTest::new(&[3, 3, 4]).params(4 * 3 + 3),
    );
}

#[test]
fn conv1d_harness() {
    // k·cin·f + f
    harness(
        Box::new(Conv1D::new(4, 3)),
        LayerTest::new(&[7, 2]).params(3 * 2 * 4 + 4),
    );
    let layer = Conv1D::new(2, 2)
        .strides(2)
        .padding(Padding::Same)
        .activation("relu");
    harness(
        Box::new(layer),
        LayerTest::new(&[5, 3]).params(2 * 3 * 2 + 2),
    );
}

#[test]
fn pool2d_harness() {
    harness(
        Box::new(MaxPooling2D::new()),
        LayerTest::new(&[4, 4, 2]).params(0),
    );
    let same = MaxPooling2D::new()
        .pool_size((3, 3))
        .strides((2, 2))
        .padding(Padding::Same);
    harness(Box::new(same), LayerTest::new(&[5, 5, 1]).params(0));
    harness(
        Box::new(AveragePooling2D::new()),
        LayerTest::new(&[4, 5, 2]).params(0),
    );
    let same = AveragePooling2D::new()
        .pool_size((2, 3))
        .strides((1, 2))
        .padding(Padding::Same);
    harness(Box::new(same), LayerTest::new(&[3, 5, 2]).params(0));
}

#[test]
fn pool1d_harness() {
    harness(
        Box::new(MaxPooling1D::new()),
        LayerTest::new(&[6, 2]).params(0),
    );
    harness(
        Box::new(MaxPooling1D::new().pool_size(3).strides(1)),
        LayerTest::new(&[5, 2]).params(0),
    );
    harness(
        Box::new(AveragePooling1D::new()),
        LayerTest::new(&[7, 3]).params(0),
    );
    let same = AveragePooling1D::new()
        .pool_size(3)
        .strides(2)
        .padding(Padding::Same);
    harness(Box::new(same), LayerTest::new(&[6, 2]).params(0));
}

#[test]
fn global_pool_harness() {
    harness(
        Box::new(GlobalAveragePooling2D::new()),
        LayerTest::new(&[3, 4, 2]).params(0),
    );
    harness(
        Box::new(GlobalAveragePooling2D::new().keepdims(true)),
        LayerTest::new(&[2, 2, 3]).params(0),
    );
    harness(
        Box::new(GlobalMaxPooling2D::new()),
        LayerTest::new(&[3, 4, 2]).params(0),
    );
    harness(
        Box::new(GlobalMaxPooling2D::new().keepdims(true)),
        LayerTest::new(&[2, 3, 1]).params(0),
    );
}

// ------------------------------------------------------------------------------ values

/// x = 1..9 as a 3×3 image, kernel [[1, 2], [3, 4]].
fn image_1_to_9() -> Tensor<f64> {
    Tensor::from_f64s(&[1., 2., 3., 4., 5., 6., 7., 8., 9.], [1, 3, 3, 1]).unwrap()
}

#[test]
fn conv2d_valid_values_by_hand() {
    let mut conv = Conv2D::new(1, (2, 2));
    run(&mut conv, &image_1_to_9());
    set(&mut conv, 0, &[1., 2., 3., 4.]);
    set(&mut conv, 1, &[0.5]);
    let y = run(&mut conv, &image_1_to_9());
    // out[0,0] = 1·1 + 2·2 + 3·4 + 4·5 = 37, out[0,1] = 2 + 6 + 15 + 24 = 47,
    // out[1,0] = 4 + 10 + 21 + 32 = 67, out[1,1] = 5 + 12 + 24 + 36 = 77; plus the bias 0.5.
    assert_eq!(y.shape(), &[1, 2, 2, 1]);
    assert_eq!(y.to_vec(), vec![37.5, 47.5, 67.5, 77.5]);
}

#[test]
fn conv2d_same_stride2_pads_bottom_right_like_keras() {
    let mut conv = Conv2D::new(1, (2, 2))
        .strides((2, 2))
        .padding(Padding::Same)
        .use_bias(false);
    run(&mut conv, &image_1_to_9());
    set(&mut conv, 0, &[1., 2., 3., 4.]);
    let y = run(&mut conv, &image_1_to_9());
    // out = ceil(3/2) = 2; one padded row/column, at the bottom/right (TensorFlow's split).
    // [0,0] = 37; [0,1] = 1·3 + 3·6 = 21; [1,0] = 1·7 + 2·8 = 23; [1,1] = 1·9 = 9.
    assert_eq!(y.shape(), &[1, 2, 2, 1]);
    assert_eq!(y.to_vec(), vec![37., 21., 23., 9.]);
}

#[test]
fn conv2d_relu_clamps_negative_sums() {
    let mut conv = Conv2D::new(2, (2, 2)).activation("relu");
    run(&mut conv, &image_1_to_9());
    // filter 0 = +kernel, filter 1 = −kernel; kernel layout [kh, kw, cin, f].
    set(&mut conv, 0, &[1., -1., 2., -2., 3., -3., 4., -4.]);
    set(&mut conv, 1, &[0., 100.]);
    let y = run(&mut conv, &image_1_to_9());
    // filter 1: 100 − {37, 47, 67, 77} = {63, 53, 33, 23}.
    assert_eq!(y.to_vec(), vec![37., 63., 47., 53., 67., 33., 77., 23.]);
}

/// A direct six-loop convolution with explicit padding offsets, independent of im2col.
#[allow(clippy::too_many_arguments)]
fn naive_conv2d(
    x: &[f64],
    [n, h, w, c]: [usize; 4],
    k: &[f64],
    [kh, kw, f]: [usize; 3],
    b: &[f64],
    (sh, sw): (usize, usize),
    same: bool,
) -> (Vec<f64>, [usize; 4]) {
    let (oh, ow, pt, pl) = if same {
        let (oh, ow) = (h.div_ceil(sh), w.div_ceil(sw));
        let ph = ((oh - 1) * sh + kh).saturating_sub(h);
        let pw = ((ow - 1) * sw + kw).saturating_sub(w);
        (oh, ow, ph / 2, pw / 2)
    } else {
        ((h - kh) / sh + 1, (w - kw) / sw + 1, 0, 0)
    };
    let mut y = vec![0.0; n * oh * ow * f];
    for ni in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                for fi in 0..f {
                    let mut s = b[fi];
                    for a in 0..kh {
                        for bb in 0..kw {
                            let (r, q) = (
                                (i * sh + a) as isize - pt as isize,
                                (j * sw + bb) as isize - pl as isize,
                            );
                            if r < 0 || q < 0 || r >= h as isize || q >= w as isize {
                                continue;
                            }
                            for ci in 0..c {
                                let xv = x[((ni * h + r as usize) * w + q as usize) * c + ci];
                                s += xv * k[((a * kw + bb) * c + ci) * f + fi];
                            }
                        }
                    }
                    y[((ni * oh + i) * ow + j) * f + fi] = s;
                }
            }
        }
    }
    (y, [n, oh, ow, f])
}

#[test]
fn conv2d_matches_naive_reference() {
    for (strides, padding, kernel) in [
        ((1, 1), Padding::Valid, (3, 3)),
        ((2, 2), Padding::Valid, (3, 2)),
        ((2, 3), Padding::Same, (3, 3)),
        ((1, 1), Padding::Same, (4, 4)),
    ] {
        let x = Tensor::<f64>::rand_uniform([2, 7, 8, 3], -1.0, 1.0, 11);
        let mut conv = Conv2D::new(4, kernel).strides(strides).padding(padding);
        run(&mut conv, &x);
        let b = Tensor::<f64>::rand_uniform([4], -1.0, 1.0, 12).to_vec();
        set(&mut conv, 1, &b);
        let y = run(&mut conv, &x);
        let k = conv.params()[0].value().to_vec();
        let (expect, shape) = naive_conv2d(
            &x.to_vec(),
            [2, 7, 8, 3],
            &k,
            [kernel.0, kernel.1, 4],
            &b,
            strides,
            padding == Padding::Same,
        );
        assert_eq!(y.shape(), &shape, "{strides:?} {padding:?}");
        assert_close(&y.to_vec(), &expect, 1e-12);
        assert_eq!(conv.output_shape(&[7, 8, 3]).unwrap(), shape[1..].to_vec());
    }
}

#[test]
fn conv1d_values_by_hand() {
    let x = Tensor::from_f64s(&[1., 2., 4., 8.], [1, 4, 1]).unwrap();
    let mut conv = Conv1D::new(1, 2);
    run(&mut conv, &x);
    set(&mut conv, 0, &[1., -1.]);
    set(&mut conv, 1, &[10.]);
    // y[t] = x[t] − x[t+1] + 10 = 9, 8, 6
    let y = run(&mut conv, &x);
    assert_eq!(y.shape(), &[1, 3, 1]);
    assert_eq!(y.to_vec(), vec![9., 8., 6.]);
    // Same padding, stride 2: out = ceil(4/2) = 2, one zero after the end:
    // y = [1 − 2, 4 − 8] + 10
    let mut same = Conv1D::new(1, 2).strides(2).padding(Padding::Same);
    run(&mut same, &x);
    set(&mut same, 0, &[1., -1.]);
    set(&mut same, 1, &[10.]);
    assert_eq!(run(&mut same, &x).to_vec(), vec![9., 6.]);
    let mut odd = Conv1D::new(1, 2)
        .strides(2)
        .padding(Padding::Same)
        .use_bias(false);
    let x5 = Tensor::from_f64s(&[1., 2., 4., 8., 16.], [1, 5, 1]).unwrap();
    run(&mut odd, &x5);
    set(&mut odd, 0, &[1., -1.]);
    // out = 3, total padding (3−1)·2 + 2 − 5 = 1, after the end: [1−2, 4−8, 16−0]
    assert_eq!(run(&mut odd, &x5).to_vec(), vec![-1., -4., 16.]);
}

/// Gradients of `Σ R ⊙ layer(x)` through the fused layer and through the composed ops
/// `relu(conv2d(x, k) + b)` of nn-autograd.
#[test]
fn conv2d_fused_gradients_match_composed_ops() {
    for input_needs_grad in [true, false] {
        let x = Tensor::<f64>::rand_uniform([3, 6, 5, 2], -1.0, 1.0, 21);
        let mut conv = Conv2D::new(3, (3, 2))
            .strides((2, 1))
            .padding(Padding::Same)
            .activation("relu");
        run(&mut conv, &x);
        set(&mut conv, 1, &[0.1, -0.2, 0.3]);
        let xv = if input_needs_grad {
            Var::param(x.clone())
        } else {
            Var::constant(x.clone())
        };
        let mut rng = Rng::seed(0);
        let mut ctx = ForwardCtx::new(true, &mut rng);
        let y = conv.forward(&xv, &mut ctx).unwrap();
        let r = Var::constant(Tensor::<f64>::randn(y.shape(), 5));
        let grads = y.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();

        let k = Var::param(conv.params()[0].value().clone());
        let b = Var::param(conv.params()[1].value().clone());
        let x2 = if input_needs_grad {
            Var::param(x.clone())
        } else {
            Var::constant(x.clone())
        };
        let y2 = x2
            .conv2d(&k, (2, 1), Padding::Same)
            .unwrap()
            .add(&b)
            .unwrap()
            .relu()
            .unwrap();
        assert_close(&y.value().to_vec(), &y2.value().to_vec(), 1e-12);
        let g2 = y2.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();

        let kid = conv.params()[0].id();
        let bid = conv.params()[1].id();
        assert_close(
            &grads.get_id(kid).unwrap().to_vec(),
            &g2.get(&k).unwrap().to_vec(),
            1e-12,
        );
        assert_close(
            &grads.get_id(bid).unwrap().to_vec(),
            &g2.get(&b).unwrap().to_vec(),
            1e-12,
        );
        if input_needs_grad {
            assert_close(
                &grads.get(&xv).unwrap().to_vec(),
                &g2.get(&x2).unwrap().to_vec(),
                1e-12,
            );
        } else {
            // The first layer's input gets no gradient (and none is computed).
            assert!(grads.get(&xv).is_none());
            assert_eq!(grads.len(), 2);
        }
    }
}

#[test]
fn conv2d_defaults_follow_keras() {
    let mut conv = Conv2D::<f64>::new(32, (3, 3));
    assert_eq!(Layer::name(&conv), "conv2d");
    assert_eq!(conv.class_name(), "Conv2D");
    assert_eq!(conv.strides_value(), (1, 1));
    assert_eq!(conv.padding_mode(), Padding::Valid);
    conv.build(&[vec![28, 28, 1]], &mut Rng::seed(3)).unwrap();
    let k = conv.kernel().unwrap().value();
    assert_eq!(k.shape(), &[3, 3, 1, 32]);
    // glorot_uniform with fans multiplied by the receptive field: √(6 / (9 + 288)).
    let limit = (6.0f64 / (9.0 + 288.0)).sqrt();
    let kv = k.to_vec();
    assert!(kv.iter().all(|v| v.abs() <= limit));
    assert!(kv.iter().any(|v| v.abs() > 0.8 * limit));
    assert!(conv
        .bias()
        .unwrap()
        .value()
        .to_vec()
        .iter()
        .all(|&v| v == 0.0));
    assert_eq!(conv.trainable_count(), 3 * 3 * 32 + 32);
}

#[test]
fn conv2d_kernel_regularizer_adds_penalty() {
    let mut conv =
        Conv2D::<f64>::new(1, (1, 1)).kernel_regularizer(nn_layers::Regularizer::L2(0.5));
    conv.build(&[vec![2, 2, 2]], &mut Rng::seed(0)).unwrap();
    set(&mut conv, 0, &[1.0, -2.0]);
    // 0.5 · (1 + 4)
    let p = conv.regularization_loss().unwrap().unwrap();
    assert_eq!(p.value().item().unwrap(), 2.5);
}

#[test]
fn conv_errors_name_layer_and_shapes() {
    let conv = Conv2D::<f64>::new(4, (3, 3)).name("c1");
    let e = conv.output_shape(&[28, 28]).unwrap_err().to_string();
    assert!(e.contains("c1") && e.contains("[28, 28]"), "{e}");
    let e = conv.output_shape(&[2, 28, 1]).unwrap_err().to_string();
    assert!(
        e.contains("c1") && e.contains("height ≥ 3") && e.contains("[2, 28, 1]"),
        "{e}"
    );
    // Same padding accepts small images.
    assert_eq!(
        Conv2D::<f64>::new(4, (3, 3))
            .padding(Padding::Same)
            .output_shape(&[2, 2, 1])
            .unwrap(),
        vec![2, 2, 4]
    );

    let mut built = Conv2D::<f64>::new(4, (3, 3)).name("c2");
    built.build(&[vec![8, 8, 3]], &mut Rng::seed(0)).unwrap();
    let e = built
        .build(&[vec![8, 8, 2]], &mut Rng::seed(0))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("c2") && e.contains("[8, 8, 2]") && e.contains('3'),
        "{e}"
    );
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(false, &mut rng);
    let e = built
        .forward(&Var::constant(Tensor::zeros([1, 8, 8, 2])), &mut ctx)
        .unwrap_err()
        .to_string();
    assert!(e.contains("c2") && e.contains("[1, 8, 8, 2]"), "{e}");

    let e = Conv2D::<f64>::new(0, (3, 3))
        .output_shape(&[8, 8, 1])
        .unwrap_err()
        .to_string();
    assert!(e.contains("filters"), "{e}");
    let e = Conv2D::<f64>::new(1, (3, 3))
        .strides((0, 1))
        .output_shape(&[8, 8, 1])
        .unwrap_err()
        .to_string();
    assert!(e.contains("strides"), "{e}");
    let mut bad = Conv2D::<f64>::new(1, (3, 3)).activation("relux");
    let e = bad
        .build(&[vec![8, 8, 1]], &mut Rng::seed(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("relux"), "{e}");

    let c1 = Conv1D::<f64>::new(2, 5).name("seq");
    let e = c1.output_shape(&[4, 3]).unwrap_err().to_string();
    assert!(
        e.contains("seq") && e.contains("steps ≥ 5") && e.contains("[4, 3]"),
        "{e}"
    );
    let mut rng = Rng::seed(0);
    let mut c1 = Conv1D::<f64>::new(2, 2);
    c1.build(&[vec![4, 3]], &mut rng).unwrap();
    let mut ctx = ForwardCtx::new(false, &mut rng);
    let e = c1
        .forward(&Var::constant(Tensor::zeros([1, 4, 3, 1])), &mut ctx)
        .unwrap_err()
        .to_string();
    assert!(e.contains("conv1d") && e.contains("[1, 4, 3, 1]"), "{e}");
}

#[test]
fn conv_unbuilt_call_is_an_error() {
    let conv = Conv2D::<f64>::new(4, (3, 3));
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(false, &mut rng);
    let e = conv
        .forward(&Var::constant(Tensor::zeros([1, 5, 5, 1])), &mut ctx)
        .unwrap_err()
        .to_string();
    assert!(e.contains("conv2d") && e.contains("built"), "{e}");
}

#[test]
fn pooling_values_by_hand() {
    let x = Tensor::from_f64s(&(1..=16).map(f64::from).collect::<Vec<_>>(), [1, 4, 4, 1]).unwrap();
    // 2×2 windows of the 4×4 grid 1..16: maxima 6, 8, 14, 16; means 3.5, 5.5, 11.5, 13.5.
    assert_eq!(
        run(&mut MaxPooling2D::new(), &x).to_vec(),
        vec![6., 8., 14., 16.]
    );
    assert_eq!(
        run(&mut AveragePooling2D::new(), &x).to_vec(),
        vec![3.5, 5.5, 11.5, 13.5]
    );
    // 3×3 windows, stride 1: maxima 11, 12, 15, 16.
    let mut p = MaxPooling2D::new().pool_size((3, 3)).strides((1, 1));
    assert_eq!(run(&mut p, &x).to_vec(), vec![11., 12., 15., 16.]);

    // Same padding on 1..9 (3×3) with 2×2 windows, stride 2: padding is excluded from the
    // average: mean(1,2,4,5) = 3, mean(3,6) = 4.5, mean(7,8) = 7.5, mean(9) = 9.
    let mut avg = AveragePooling2D::new().padding(Padding::Same);
    assert_eq!(
        run(&mut avg, &image_1_to_9()).to_vec(),
        vec![3., 4.5, 7.5, 9.]
    );
    let neg = image_1_to_9().mul_scalar(-1.0);
    // Max pooling never picks the padding (a zero would beat the negative values).
    let mut max = MaxPooling2D::new().padding(Padding::Same);
    assert_eq!(run(&mut max, &neg).to_vec(), vec![-1., -3., -7., -9.]);

    let seq = Tensor::from_f64s(&[1., 5., 2., 4., 3., 0.], [1, 6, 1]).unwrap();
    assert_eq!(
        run(&mut MaxPooling1D::new(), &seq).to_vec(),
        vec![5., 4., 3.]
    );
    assert_eq!(
        run(&mut AveragePooling1D::new(), &seq).to_vec(),
        vec![3., 3., 1.5]
    );
    let mut s3 = MaxPooling1D::new()
        .pool_size(3)
        .strides(2)
        .padding(Padding::Same);
    // out = 3, total padding (3−1)·2 + 3 − 6 = 1: windows [0..3), [2..5), [4..6)
    assert_eq!(run(&mut s3, &seq).to_vec(), vec![5., 4., 3.]);

    let two = Tensor::from_f64s(&[1., -1., 2., -2., 3., -3., 4., -8.], [1, 2, 2, 2]).unwrap();
    assert_eq!(
        run(&mut GlobalAveragePooling2D::new(), &two).to_vec(),
        vec![2.5, -3.5]
    );
    assert_eq!(
        run(&mut GlobalMaxPooling2D::new(), &two).to_vec(),
        vec![4., -1.]
    );
    let kept = run(&mut GlobalMaxPooling2D::new().keepdims(true), &two);
    assert_eq!(kept.shape(), &[1, 1, 1, 2]);
}

#[test]
fn max_pooling_gradient_goes_to_the_winner() {
    let x = Var::param(Tensor::from_f64s(&[1., 9., 3., 4.], [1, 2, 2, 1]).unwrap());
    let pool = MaxPooling2D::<f64>::new();
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(true, &mut rng);
    let y = pool.forward(&x, &mut ctx).unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![0., 1., 0., 0.]);
}

#[test]
fn pooling_defaults_and_errors() {
    let p = MaxPooling2D::<f64>::new();
    assert_eq!((p.pool_size_value(), p.strides_value()), ((2, 2), (2, 2)));
    assert_eq!(Layer::name(&p), "max_pooling2d");
    assert_eq!(p.output_shape(&[26, 26, 32]).unwrap(), vec![13, 13, 32]);
    assert_eq!(p.output_shape(&[5, 5, 1]).unwrap(), vec![2, 2, 1]);
    assert_eq!(
        p.clone()
            .padding(Padding::Same)
            .output_shape(&[5, 5, 1])
            .unwrap(),
        vec![3, 3, 1]
    );
    assert_eq!(
        MaxPooling2D::<f64>::new()
            .strides((1, 1))
            .output_shape(&[5, 5, 1])
            .unwrap(),
        vec![4, 4, 1]
    );
    assert_eq!(
        MaxPooling1D::<f64>::new().output_shape(&[7, 3]).unwrap(),
        vec![3, 3]
    );
    assert_eq!(
        GlobalAveragePooling2D::<f64>::new()
            .output_shape(&[7, 5, 3])
            .unwrap(),
        vec![3]
    );

    let e = p.output_shape(&[1, 5, 2]).unwrap_err().to_string();
    assert!(
        e.contains("max_pooling2d") && e.contains("[1, 5, 2]"),
        "{e}"
    );
    let e = p.output_shape(&[5, 5]).unwrap_err().to_string();
    assert!(e.contains("max_pooling2d") && e.contains("[5, 5]"), "{e}");
    let e = AveragePooling1D::<f64>::new()
        .name("ap")
        .output_shape(&[5, 5, 5])
        .unwrap_err()
        .to_string();
    assert!(e.contains("ap") && e.contains("[5, 5, 5]"), "{e}");
    let e = MaxPooling2D::<f64>::new()
        .pool_size((0, 2))
        .output_shape(&[5, 5, 1])
        .unwrap_err()
        .to_string();
    assert!(e.contains("pool_size"), "{e}");
    let e = GlobalMaxPooling2D::<f64>::new()
        .output_shape(&[5, 1])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("global_max_pooling2d") && e.contains("[5, 1]"),
        "{e}"
    );
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(false, &mut rng);
    let e = p
        .forward(&Var::constant(Tensor::zeros([2, 5, 5])), &mut ctx)
        .unwrap_err()
        .to_string();
    assert!(e.contains("max_pooling2d") && e.contains("[5, 5]"), "{e}");
}

/// Saved through JSON and loaded back, each layer computes the same outputs.
#[test]
fn conv_and_pool_layers_roundtrip_through_json() {
    let layers: Vec<(Box<dyn Layer<f64>>, Vec<usize>)> = vec![
        (
            Box::new(
                Conv2D::new(3, (2, 2))
                    .activation("relu")
                    .padding(Padding::Same)
                    .strides((2, 1)),
            ),
            vec![5, 4, 2],
        ),
        (Box::new(Conv1D::new(3, 2).activation("tanh")), vec![5, 2]),
        (
            Box::new(MaxPooling2D::new().pool_size((3, 2)).padding(Padding::Same)),
            vec![5, 4, 2],
        ),
        (
            Box::new(AveragePooling2D::new().strides((1, 1))),
            vec![5, 4, 2],
        ),
        (Box::new(MaxPooling1D::new().pool_size(3)), vec![5, 2]),
        (Box::new(AveragePooling1D::new()), vec![5, 2]),
        (
            Box::new(GlobalAveragePooling2D::new().keepdims(true)),
            vec![5, 4, 2],
        ),
        (Box::new(GlobalMaxPooling2D::new()), vec![5, 4, 2]),
    ];
    for (mut layer, shape) in layers {
        let mut full = vec![2];
        full.extend(&shape);
        let x = Tensor::<f64>::rand_uniform(&full, -1.0, 1.0, 3);
        let y = run(layer.as_mut(), &x);
        let json = serde_json::to_string(&layer.to_saved()).unwrap();
        let saved: SavedLayer<f64> = serde_json::from_str(&json).unwrap();
        let mut restored = saved.into_layer();
        assert_eq!(restored.class_name(), layer.class_name());
        assert_eq!(restored.name(), layer.name());
        assert!(restored.is_built());
        // Up to a unit in the last place: serde_json's default float parser is not exact
        // for long f64 literals (it is with its `float_roundtrip` feature).
        assert!(
            run(restored.as_mut(), &x).allclose(&y, 1e-14, 0.0),
            "{}",
            layer.class_name()
        );
    }
}
