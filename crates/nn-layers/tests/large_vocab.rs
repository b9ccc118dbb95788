#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Large-vocabulary output layers: the layer harness (with f64 gradient checks of both the
//! training and the inference path, noise draws fixed by reseeding), hand-computed losses,
//! the hierarchical softmax's normalised distribution, the sampled estimators' convergence
//! to the full softmax cross-entropy, `Slice`, and errors that name the layer.

use nn_autograd::{gradcheck_many, GradCheckOptions, Var};
use nn_layers::testing::{gradcheck_layer, run_layer_test, LayerTest};
use nn_layers::{
    ForwardCtx, HierarchicalSoftmax, Initializer, Layer, NegativeSampling,
    NoiseContrastiveEstimation, NoiseDistribution, SampledSoftmax, Slice,
};
use nn_tensor::random::Rng;
use nn_tensor::Tensor;

const V: usize = 7;
const D: usize = 4;

fn counts() -> Vec<u64> {
    vec![40, 3, 17, 1, 9, 25, 6]
}

fn random_init() -> Initializer {
    Initializer::RandomUniform {
        min: -0.8,
        max: 0.8,
    }
}

/// Hidden rows uniform in [−1, 1); labels (rank-1 inputs) integers in 0..V.
fn make_inputs(shape: &[usize], rng: &mut Rng) -> Tensor<f64> {
    if shape.len() == 1 {
        let v: Vec<f64> = (0..shape[0]).map(|_| rng.below(V as u64) as f64).collect();
        Tensor::from_vec(v, shape).unwrap()
    } else {
        Tensor::rand_uniform_with(shape, -1.0, 1.0, rng)
    }
}

fn spec(params: usize) -> LayerTest {
    LayerTest::multi(&[&[D], &[]])
        .params(params)
        .inputs(make_inputs)
        // Labels are integers: input gradients are checked by `check_hidden_grads`.
        .no_input_grads()
}

/// The harness in inference mode, then the gradient check again in training mode (the
/// harness reseeds the context's generator for every evaluation, so every evaluation sees
/// the same noise draws), then the hidden-input gradients in both modes.
fn full_check(layer: Box<dyn Layer<f64>>, params: usize) {
    run_layer_test(layer.clone(), &spec(params)).unwrap();
    run_layer_test(layer.clone(), &spec(params).train_mode()).unwrap();
    let mut built = layer;
    built.build(&[vec![D], vec![]], &mut Rng::seed(3)).unwrap();
    let mut rng = Rng::seed(4);
    let inputs = [make_inputs(&[5, D], &mut rng), make_inputs(&[5], &mut rng)];
    let train = gradcheck_layer(built.as_mut(), &inputs, &spec(params).train_mode()).unwrap();
    assert!(train.passed, "{train}");
    assert!(train.checked >= params, "{train}");
    for training in [false, true] {
        check_hidden_grads(built.as_ref(), &inputs[0], &inputs[1], training);
    }
}

/// f64 gradient check of the loss with respect to the hidden input, with the noise drawn
/// from an identically seeded generator on every evaluation.
fn check_hidden_grads(
    layer: &dyn Layer<f64>,
    hidden: &Tensor<f64>,
    labels: &Tensor<f64>,
    training: bool,
) {
    let labels = labels.clone();
    let report = gradcheck_many(
        |xs| {
            let mut rng = Rng::seed(17);
            let mut ctx = ForwardCtx::new(training, &mut rng);
            let out = layer
                .call(&[xs[0].clone(), Var::constant(labels.clone())], &mut ctx)
                .map_err(|e| nn_autograd::AutogradError::Invalid {
                    op: "layer",
                    message: e.to_string(),
                })?;
            Ok(out[0].clone())
        },
        std::slice::from_ref(hidden),
        &GradCheckOptions::default(),
    )
    .unwrap();
    assert!(
        report.passed,
        "{} (training {training}): {report}",
        layer.class_name()
    );
}

fn call(
    layer: &dyn Layer<f64>,
    hidden: &Tensor<f64>,
    labels: &[f64],
    training: bool,
    seed: u64,
) -> Vec<f64> {
    let mut rng = Rng::seed(seed);
    let mut ctx = ForwardCtx::new(training, &mut rng);
    let labels = Tensor::from_vec(labels.to_vec(), [labels.len()]).unwrap();
    layer
        .call(
            &[Var::constant(hidden.clone()), Var::constant(labels)],
            &mut ctx,
        )
        .unwrap()[0]
        .value()
        .to_vec()
}

fn built<L: Layer<f64>>(mut layer: L, d: usize) -> L {
    layer.build(&[vec![d], vec![]], &mut Rng::seed(8)).unwrap();
    layer
}

fn set_param(layer: &mut dyn Layer<f64>, index: usize, values: &[f64]) {
    let p = &mut layer.params_mut()[index];
    let shape = p.value().shape().to_vec();
    p.set_value(Tensor::from_f64s(values, shape).unwrap())
        .unwrap();
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

// ------------------------------------------------------------------ the harness, per layer

#[test]
fn hierarchical_softmax_harness() {
    let balanced = HierarchicalSoftmax::<f64>::new(V).kernel_initializer(random_init());
    full_check(Box::new(balanced), (V - 1) * D);
    let huffman = HierarchicalSoftmax::<f64>::from_counts(counts())
        .kernel_initializer(random_init())
        .use_bias(true);
    full_check(Box::new(huffman), (V - 1) * (D + 1));
}

#[test]
fn negative_sampling_harness() {
    let layer = NegativeSampling::<f64>::new(counts(), 3).kernel_initializer(random_init());
    full_check(Box::new(layer), V * D);
}

#[test]
fn nce_harness() {
    let layer = NoiseContrastiveEstimation::<f64>::new(counts(), 4);
    full_check(Box::new(layer), V * (D + 1));
}

#[test]
fn sampled_softmax_harness() {
    full_check(Box::new(SampledSoftmax::<f64>::new(V, 3)), V * (D + 1));
    let unigram = SampledSoftmax::<f64>::new(V, 3).noise(NoiseDistribution::Unigram {
        counts: counts(),
        power: 0.5,
    });
    full_check(Box::new(unigram), V * (D + 1));
}

#[test]
fn slice_harness() {
    run_layer_test(
        Box::new(Slice::<f64>::new(0, 1, 3)),
        &LayerTest::new(&[4]).params(0),
    )
    .unwrap();
    run_layer_test(
        Box::new(Slice::<f64>::new(1, 0, 2)),
        &LayerTest::new(&[2, 3]).params(0),
    )
    .unwrap();
    let s = Slice::<f64>::new(0, 2, 5);
    let err = s.output_shapes(&[vec![4]]).unwrap_err().to_string();
    assert!(err.contains("slice") && err.contains("2..5"), "{err}");
}

// ------------------------------------------------------------------ hierarchical softmax

#[test]
fn hierarchical_softmax_distribution_sums_to_one_and_matches_the_loss() {
    let v = 23;
    let counts: Vec<u64> = (0..v as u64).map(|i| 1 + (i * 37) % 11).collect();
    for layer in [
        HierarchicalSoftmax::<f64>::from_counts(counts.clone()),
        HierarchicalSoftmax::<f64>::new(v),
    ] {
        let layer = built(layer.kernel_initializer(random_init()).use_bias(true), 5);
        let hidden = Tensor::rand_uniform([3, 5], -1.5, 1.5, 12);
        let log_probs = layer.log_probs(&hidden).unwrap();
        assert_eq!(log_probs.shape(), &[3, v]);
        let lp = log_probs.to_vec();
        for i in 0..3 {
            let total: f64 = lp[i * v..(i + 1) * v].iter().map(|l| l.exp()).sum();
            assert!((total - 1.0).abs() < 1e-12, "row {i}: Σ p = {total}");
        }
        for class in 0..v {
            let loss = call(&layer, &hidden, &[class as f64; 3], true, 1);
            for i in 0..3 {
                assert!((loss[i] + lp[i * v + class]).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn hierarchical_softmax_hand_value() {
    // Two classes: one node; p(0) = σ(w·h + b), p(1) = σ(−(w·h + b)).
    let mut layer = built(HierarchicalSoftmax::<f64>::new(2).use_bias(true), 2);
    set_param(&mut layer, 0, &[0.5, -1.0]);
    set_param(&mut layer, 1, &[0.25]);
    let hidden = Tensor::from_f64s(&[2.0, 0.5], [1, 2]).unwrap();
    // z = 1 − 0.5 + 0.25 = 0.75.
    let l0 = call(&layer, &hidden, &[0.0], false, 0)[0];
    let l1 = call(&layer, &hidden, &[1.0], false, 0)[0];
    assert!((l0 - 0.386_871_006_114_899_94).abs() < 1e-12, "{l0}"); // −ln σ(0.75)
    assert!((l1 - 1.136_871_006_114_899_9).abs() < 1e-12, "{l1}"); // −ln σ(−0.75)
}

// ------------------------------------------------------------------ sampled layers

#[test]
fn negative_sampling_hand_value_with_deterministic_noise() {
    // Only class 2 has a count, so every negative is class 2.
    let k = 3;
    let mut layer = built(NegativeSampling::<f64>::new(vec![0, 0, 1], k), 2);
    set_param(&mut layer, 0, &[0.5, -1.0, 0.2, 0.3, -0.7, 0.4]);
    let hidden = Tensor::from_f64s(&[1.0, 2.0], [1, 2]).unwrap();
    let (z0, z2): (f64, f64) = (0.5 - 2.0, -0.7 + 0.8);
    let loss = call(&layer, &hidden, &[0.0], true, 3)[0];
    let expected = softplus(-z0) + k as f64 * softplus(z2);
    assert!((loss - expected).abs() < 1e-12, "{loss} vs {expected}");
    // Label 2: every draw is an accidental hit and is skipped.
    let loss = call(&layer, &hidden, &[2.0], true, 3)[0];
    assert!((loss - softplus(-z2)).abs() < 1e-12);
    // Inference: the full softmax cross-entropy of the same scores.
    let z1: f64 = 0.2 + 0.6;
    let lse = (z0.exp() + z1.exp() + z2.exp()).ln();
    let loss = call(&layer, &hidden, &[1.0], false, 3)[0];
    assert!((loss - (lse - z1)).abs() < 1e-12);
}

#[test]
fn nce_hand_value_with_deterministic_noise() {
    let k = 5;
    let mut layer = built(NoiseContrastiveEstimation::<f64>::new(vec![0, 0, 1], k), 2);
    set_param(&mut layer, 0, &[0.5, -1.0, 0.2, 0.3, -0.7, 0.4]);
    set_param(&mut layer, 1, &[0.1, 0.2, 0.3]);
    let hidden = Tensor::from_f64s(&[1.0, 2.0], [1, 2]).unwrap();
    // Q(2) = 1: s = z − ln k for label and noise alike; hits are kept.
    let s2 = -0.7 + 0.8 + 0.3 - (k as f64).ln();
    let loss = call(&layer, &hidden, &[2.0], true, 3)[0];
    let expected = softplus(-s2) + k as f64 * softplus(s2);
    assert!((loss - expected).abs() < 1e-12, "{loss} vs {expected}");
}

#[test]
fn sampling_is_seeded() {
    let layer = built(
        SampledSoftmax::<f64>::new(50, 5).kernel_initializer(random_init()),
        D,
    );
    let hidden = Tensor::rand_uniform([4, D], -1.0, 1.0, 2);
    let labels = [3.0, 0.0, 49.0, 7.0];
    let a = call(&layer, &hidden, &labels, true, 10);
    assert_eq!(a, call(&layer, &hidden, &labels, true, 10));
    assert_ne!(a, call(&layer, &hidden, &labels, true, 11));
    // Inference is exact, so it ignores the seed.
    assert_eq!(
        call(&layer, &hidden, &labels, false, 10),
        call(&layer, &hidden, &labels, false, 11)
    );
}

/// The full softmax cross-entropy per row, computed directly.
fn full_ce(logits: &[f64], v: usize, labels: &[usize]) -> Vec<f64> {
    labels
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            let row = &logits[i * v..(i + 1) * v];
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            m + row.iter().map(|z| (z - m).exp()).sum::<f64>().ln() - row[y]
        })
        .collect()
}

fn logits_of(w: &[f64], b: &[f64], h: &[f64], v: usize, d: usize) -> Vec<f64> {
    let n = h.len() / d;
    let mut out = vec![0.0; n * v];
    for i in 0..n {
        for c in 0..v {
            out[i * v + c] = b[c] + (0..d).map(|j| w[c * d + j] * h[i * d + j]).sum::<f64>();
        }
    }
    out
}

#[test]
fn sampled_softmax_approaches_the_full_cross_entropy() {
    let (v, d) = (50, 6);
    let hidden = Tensor::rand_uniform([4, d], -1.0, 1.0, 5);
    let labels = [0usize, 7, 31, 49];
    let labels_f: Vec<f64> = labels.iter().map(|&l| l as f64).collect();
    for noise in [
        NoiseDistribution::LogUniform,
        NoiseDistribution::Unigram {
            counts: (1..=v as u64).rev().collect(),
            power: 0.75,
        },
    ] {
        let small = SampledSoftmax::<f64>::new(v, 5).noise(noise.clone());
        let large = SampledSoftmax::<f64>::new(v, 100_000).noise(noise);
        let mut small = built(small, d);
        let mut large = built(large, d);
        let w = Tensor::<f64>::rand_uniform([v, d], -1.0, 1.0, 6);
        let b = Tensor::<f64>::rand_uniform([v], -0.5, 0.5, 7);
        for layer in [&mut small as &mut dyn Layer<f64>, &mut large] {
            set_param(layer, 0, &w.to_vec());
            set_param(layer, 1, &b.to_vec());
        }
        let reference = full_ce(
            &logits_of(&w.to_vec(), &b.to_vec(), &hidden.to_vec(), v, d),
            v,
            &labels,
        );
        // Inference is the full cross-entropy itself.
        let exact = call(&small, &hidden, &labels_f, false, 0);
        for (a, r) in exact.iter().zip(&reference) {
            assert!((a - r).abs() < 1e-12);
        }
        // 1e5 corrected samples estimate the normaliser to about 1%: |Δloss| < 0.03.
        let sampled = call(&large, &hidden, &labels_f, true, 9);
        for (i, (s, r)) in sampled.iter().zip(&reference).enumerate() {
            assert!((s - r).abs() < 0.03, "row {i}: sampled {s} vs full {r}");
        }
        // With 5 samples the estimate is far off for some row: the test above is not vacuous.
        let few = call(&small, &hidden, &labels_f, true, 9);
        let worst = few
            .iter()
            .zip(&reference)
            .map(|(s, r)| (s - r).abs())
            .fold(0.0, f64::max);
        assert!(worst > 0.1, "5 samples already within {worst}");
    }
}

#[test]
fn nce_gradient_approaches_the_cross_entropy_gradient() {
    // NCE's gradient tends to the softmax cross-entropy's when the scores are normalised
    // (Σ_c e^{z_c} = 1): one example, with the bias shifting its logits to log-probabilities.
    let (v, d) = (50, 5);
    let counts: Vec<u64> = (0..v as u64).map(|i| 100 / (i + 1) + 1).collect();
    let w = Tensor::<f64>::rand_uniform([v, d], -1.0, 1.0, 1);
    let hidden = Tensor::<f64>::rand_uniform([1, d], -1.0, 1.0, 2);
    let raw = logits_of(&w.to_vec(), &vec![0.0; v], &hidden.to_vec(), v, d);
    let lse = raw.iter().map(|z| z.exp()).sum::<f64>().ln();
    let bias = vec![-lse; v];
    let label = 3usize;
    let grad_of = |layer: &dyn Layer<f64>, training: bool| -> Vec<f64> {
        let h = Var::param(hidden.clone());
        let mut rng = Rng::seed(21);
        let mut ctx = ForwardCtx::new(training, &mut rng);
        let labels = Var::constant(Tensor::from_f64s(&[label as f64], [1]).unwrap());
        let out = layer
            .call(&[h.clone(), labels], &mut ctx)
            .unwrap()
            .remove(0);
        let grads = out.sum_all().unwrap().backward().unwrap();
        grads.get(&h).unwrap().to_vec()
    };
    let mut nce = built(
        NoiseContrastiveEstimation::<f64>::new(counts.clone(), 200_000),
        d,
    );
    let mut few = built(NoiseContrastiveEstimation::<f64>::new(counts, 5), d);
    for layer in [&mut nce as &mut dyn Layer<f64>, &mut few] {
        set_param(layer, 0, &w.to_vec());
        set_param(layer, 1, &bias);
    }
    // Inference reports the full cross-entropy, whose gradient is the reference.
    let ce = grad_of(&nce, false);
    let estimate = grad_of(&nce, true);
    let norm = ce.iter().map(|g| g * g).sum::<f64>().sqrt();
    let err = ce
        .iter()
        .zip(&estimate)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(err < 0.03 * norm, "|Δ∇| = {err}, |∇CE| = {norm}");
    let few_err = ce
        .iter()
        .zip(&grad_of(&few, true))
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(
        few_err > 0.05 * norm,
        "5 noise samples already within {few_err}"
    );
}

// ------------------------------------------------------------------ errors

fn call_err(layer: &dyn Layer<f64>, hidden: Tensor<f64>, labels: Tensor<f64>) -> String {
    let mut rng = Rng::seed(0);
    let mut ctx = ForwardCtx::new(true, &mut rng);
    layer
        .call(&[Var::constant(hidden), Var::constant(labels)], &mut ctx)
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_inputs_are_errors_naming_the_layer() {
    let layers: Vec<Box<dyn Layer<f64>>> = vec![
        Box::new(built(HierarchicalSoftmax::new(V).name("hs"), D)),
        Box::new(built(NegativeSampling::new(counts(), 2).name("neg"), D)),
        Box::new(built(
            NoiseContrastiveEstimation::new(counts(), 2).name("nce_out"),
            D,
        )),
        Box::new(built(SampledSoftmax::new(V, 2).name("ss"), D)),
    ];
    for layer in &layers {
        let name = layer.name().to_string();
        let h = Tensor::<f64>::zeros([2, D]);
        let err = call_err(
            layer.as_ref(),
            h.clone(),
            Tensor::from_f64s(&[1.0, 7.0], [2]).unwrap(),
        );
        assert!(
            err.contains(&name) && err.contains("label 7 is not an integer in 0..7"),
            "{err}"
        );
        let err = call_err(
            layer.as_ref(),
            h.clone(),
            Tensor::from_f64s(&[1.0, 0.5], [2]).unwrap(),
        );
        assert!(err.contains(&name) && err.contains("label 0.5"), "{err}");
        let err = call_err(
            layer.as_ref(),
            h.clone(),
            Tensor::from_f64s(&[1.0, -1.0], [2]).unwrap(),
        );
        assert!(err.contains("label -1"), "{err}");
        let err = call_err(layer.as_ref(), h.clone(), Tensor::zeros([3]));
        assert!(
            err.contains(&name) && err.contains("[3]") && err.contains("labels [2]"),
            "{err}"
        );
        let err = call_err(
            layer.as_ref(),
            Tensor::zeros([2, D + 1]),
            Tensor::zeros([2]),
        );
        assert!(err.contains(&name) && err.contains("[2, 5]"), "{err}");
        let err = layer.output_shapes(&[vec![D]]).unwrap_err().to_string();
        assert!(err.contains(&name) && err.contains("takes 2"), "{err}");
        let err = layer
            .output_shapes(&[vec![D], vec![2]])
            .unwrap_err()
            .to_string();
        assert!(err.contains(&name) && err.contains("labels"), "{err}");
        assert_eq!(
            layer.output_shapes(&[vec![D], vec![1]]).unwrap(),
            vec![Vec::<usize>::new()]
        );
    }
}

#[test]
fn bad_configuration_is_an_error_naming_the_layer() {
    let mut rng = Rng::seed(0);
    let shapes = [vec![D], vec![]];
    let err =
        |mut l: Box<dyn Layer<f64>>, rng: &mut Rng| l.build(&shapes, rng).unwrap_err().to_string();
    let e = err(
        Box::new(NegativeSampling::new(vec![], 3).name("neg")),
        &mut rng,
    );
    assert!(
        e.contains("neg") && e.contains("at least 2 classes, got 0"),
        "{e}"
    );
    let e = err(
        Box::new(NegativeSampling::new(vec![0, 0, 0], 3).name("neg")),
        &mut rng,
    );
    assert!(
        e.contains("neg") && e.contains("all 3 counts are zero"),
        "{e}"
    );
    let e = err(
        Box::new(NoiseContrastiveEstimation::new(vec![1, 2], 0).name("n")),
        &mut rng,
    );
    assert!(
        e.contains("`n`") && e.contains("noise samples must be positive"),
        "{e}"
    );
    let e = err(
        Box::new(
            SampledSoftmax::new(5, 2)
                .name("ss")
                .noise(NoiseDistribution::Unigram {
                    counts: vec![1, 2],
                    power: 1.0,
                }),
        ),
        &mut rng,
    );
    assert!(
        e.contains("ss") && e.contains("2 class counts for 5 classes"),
        "{e}"
    );
    let e = err(
        Box::new(HierarchicalSoftmax::from_counts(vec![]).name("hs")),
        &mut rng,
    );
    assert!(e.contains("hs") && e.contains("at least 2 classes"), "{e}");
    let e = err(Box::new(HierarchicalSoftmax::new(1).name("hs")), &mut rng);
    assert!(e.contains("hs") && e.contains("got 1"), "{e}");
    // Weights of the wrong size (e.g. from an edited file) are an error, not a panic.
    let mut hs = built(HierarchicalSoftmax::<f64>::new(5).name("hs"), D);
    *hs.params_mut()[0].value_mut() = Tensor::zeros([2, D]);
    let e = call_err(
        &hs,
        Tensor::zeros([1, D]),
        Tensor::from_f64s(&[4.0], [1]).unwrap(),
    );
    assert!(e.contains("hs") && e.contains("do not fit 4 rows"), "{e}");
    assert!(hs.log_probs(&Tensor::zeros([1, D])).is_err());
    let mut ss = built(SampledSoftmax::<f64>::new(5, 2).name("ss"), D);
    *ss.params_mut()[1].value_mut() = Tensor::zeros([3]);
    let e = call_err(
        &ss,
        Tensor::zeros([1, D]),
        Tensor::from_f64s(&[4.0], [1]).unwrap(),
    );
    assert!(e.contains("ss") && e.contains("do not fit 5 rows"), "{e}");
    // Unbuilt layers say so.
    let layer = HierarchicalSoftmax::<f64>::new(4).name("hs");
    let e = layer
        .log_probs(&Tensor::zeros([1, D]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("hs") && e.contains("before it was built"), "{e}");
}

#[test]
fn log_probs_of_the_sampled_layers_are_the_full_softmax() {
    let layer = built(
        SampledSoftmax::<f64>::new(V, 2).kernel_initializer(random_init()),
        D,
    );
    let hidden = Tensor::rand_uniform([2, D], -1.0, 1.0, 3);
    let lp = layer.log_probs(&hidden).unwrap().to_vec();
    for i in 0..2 {
        let total: f64 = lp[i * V..(i + 1) * V].iter().map(|l| l.exp()).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }
    let loss = call(&layer, &hidden, &[2.0, 5.0], false, 0);
    assert!((loss[0] + lp[2]).abs() < 1e-12 && (loss[1] + lp[V + 5]).abs() < 1e-12);
    let e = layer
        .log_probs(&Tensor::zeros([2, D + 1]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("sampled_softmax") && e.contains("[2, 5]"), "{e}");
}

#[test]
fn saved_layers_keep_their_configuration() {
    let layer = built(
        NegativeSampling::<f64>::new(counts(), 4).kernel_initializer(random_init()),
        D,
    );
    let restored = layer.to_saved().into_layer();
    assert_eq!(restored.class_name(), "NegativeSampling");
    let hidden = Tensor::rand_uniform([3, D], -1.0, 1.0, 3);
    let labels = [0.0, 4.0, 6.0];
    // Same seed, same draws: the noise table is rebuilt from the saved counts.
    assert_eq!(
        call(&layer, &hidden, &labels, true, 2),
        call(restored.as_ref(), &hidden, &labels, true, 2)
    );
}
