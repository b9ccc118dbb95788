//! Losses against independently computed reference values, extreme inputs, reductions and
//! sample weights, shape errors, f64 gradient checks and lookup by name.
//!
//! Reference values are hand formulas evaluated in f64 in the test (each with a comment), or
//! numbers printed in the Keras 3 documentation examples (cited where used).

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nn_autograd::{gradcheck_many, no_grad, AutogradError, GradCheckOptions, Var};
use nn_losses::*;
use nn_tensor::Tensor;

fn t64(values: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_f64s(values, shape).unwrap()
}

fn t32(values: &[f64], shape: &[usize]) -> Tensor<f32> {
    Tensor::from_f64s(values, shape).unwrap()
}

fn per_sample<L: Loss<f64>>(loss: &L, y: &Tensor<f64>, p: &Tensor<f64>) -> Vec<f64> {
    loss.per_sample(y, &Var::param(p.clone()))
        .unwrap()
        .value()
        .to_vec()
}

fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!(
            (a - e).abs() <= tol * (1.0 + e.abs()),
            "{actual:?} vs {expected:?}"
        );
    }
}

/// Naive f64 log-softmax of a row (fine for moderate logits).
fn log_softmax(row: &[f64]) -> Vec<f64> {
    let s: f64 = row.iter().map(|v| v.exp()).sum();
    row.iter().map(|v| v - s.ln()).collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

const EPS: f64 = 1e-7;

// ------------------------------------------------------------------ reference values

#[test]
fn categorical_crossentropy_probs_keras_doc_example() {
    // Keras 3 docs (keras.losses.categorical_crossentropy): loss = [0.0513, 2.303].
    let y = t64(&[0., 1., 0., 0., 0., 1.], &[2, 3]);
    let p = t64(&[0.05, 0.95, 0.0, 0.1, 0.8, 0.1], &[2, 3]);
    let got = per_sample(&CategoricalCrossentropy::new(), &y, &p);
    // By hand: −ln 0.95 and −ln 0.1 (rows already sum to 1).
    assert_close(&got, &[-(0.95f64.ln()), -(0.1f64.ln())], 1e-12);
    assert_close(&got, &[0.0513, 2.303], 1e-3);
}

#[test]
fn categorical_crossentropy_probs_normalises_rows() {
    // Keras divides each row by its sum before clipping: [0.2, 0.6] → [0.25, 0.75].
    let y = t64(&[0., 1.], &[1, 2]);
    let p = t64(&[0.2, 0.6], &[1, 2]);
    assert_close(
        &per_sample(&CategoricalCrossentropy::new(), &y, &p),
        &[-(0.75f64.ln())],
        1e-12,
    );
}

#[test]
fn categorical_crossentropy_logits_and_smoothing() {
    let x = [1.5, -0.3, 0.2, 0.1, 2.0, -1.0];
    let y = [0.0, 0.0, 1.0, 0.3, 0.7, 0.0]; // a one-hot row and a soft row
    let (yt, xt) = (t64(&y, &[2, 3]), t64(&x, &[2, 3]));
    let expect = |ls: f64| -> Vec<f64> {
        (0..2)
            .map(|r| {
                let lp = log_softmax(&x[r * 3..r * 3 + 3]);
                // −Σ y'·log_softmax(x), y' = y(1 − ls) + ls/3
                -(0..3)
                    .map(|j| (y[r * 3 + j] * (1.0 - ls) + ls / 3.0) * lp[j])
                    .sum::<f64>()
            })
            .collect()
    };
    let loss = CategoricalCrossentropy::new().from_logits(true);
    assert_close(&per_sample(&loss, &yt, &xt), &expect(0.0), 1e-12);
    let loss = loss.label_smoothing(0.2);
    assert_close(&per_sample(&loss, &yt, &xt), &expect(0.2), 1e-12);
}

#[test]
fn categorical_crossentropy_axis_and_extra_axes() {
    // [batch 2, time 2, classes 3]: per sample, the mean over time of each row's CE.
    let x: Vec<f64> = (0..12).map(|i| ((i * 7 % 5) as f64 - 2.0) * 0.4).collect();
    let y: Vec<f64> = (0..4)
        .flat_map(|r| (0..3).map(move |j| if j == r % 3 { 1.0 } else { 0.0 }))
        .collect();
    let ce_row = |r: usize| -> f64 {
        let lp = log_softmax(&x[r * 3..r * 3 + 3]);
        -(0..3).map(|j| y[r * 3 + j] * lp[j]).sum::<f64>()
    };
    let expected = [(ce_row(0) + ce_row(1)) / 2.0, (ce_row(2) + ce_row(3)) / 2.0];
    let loss = CategoricalCrossentropy::new().from_logits(true);
    assert_close(
        &per_sample(&loss, &t64(&y, &[2, 2, 3]), &t64(&x, &[2, 2, 3])),
        &expected,
        1e-12,
    );
    // The same data with the class axis moved to axis 1: [2, 3, 2].
    let perm = |v: &[f64]| t64(v, &[2, 2, 3]).permute(&[0, 2, 1]).unwrap().contiguous();
    let loss = loss.axis(1);
    assert_close(&per_sample(&loss, &perm(&y), &perm(&x)), &expected, 1e-12);
}

#[test]
fn sparse_categorical_crossentropy_keras_doc_example() {
    // Keras 3 docs (keras.losses.sparse_categorical_crossentropy): [0.0513, 2.303].
    let y = t64(&[1.0, 2.0], &[2]);
    let p = t64(&[0.05, 0.95, 0.0, 0.1, 0.8, 0.1], &[2, 3]);
    let got = per_sample(&SparseCategoricalCrossentropy::new(), &y, &p);
    assert_close(&got, &[-(0.95f64.ln()), -(0.1f64.ln())], 1e-12);
    assert_close(&got, &[0.0513, 2.303], 1e-3);
    // Labels as [batch, 1] give the same.
    let y1 = t64(&[1.0, 2.0], &[2, 1]);
    assert_eq!(
        per_sample(&SparseCategoricalCrossentropy::new(), &y1, &p),
        got
    );
}

#[test]
fn sparse_categorical_crossentropy_logits_matches_hand_and_fused_compute() {
    let x = [
        0.3, -1.2, 2.2, 0.5, 0.9, 0.1, -0.4, 1.7, -2.0, 0.0, 0.0, 0.6,
    ];
    let labels = [2.0, 0.0, 1.0, 2.0];
    let expected: Vec<f64> = (0..4)
        .map(|r| -log_softmax(&x[r * 3..r * 3 + 3])[labels[r] as usize])
        .collect();
    let loss = SparseCategoricalCrossentropy::new().from_logits(true);
    let (y, xt) = (t64(&labels, &[4]), t64(&x, &[4, 3]));
    assert_close(&per_sample(&loss, &y, &xt), &expected, 1e-12);
    // compute (the fused reduced path) with weights: Σ w·l / 4, and its gradient equals the
    // gradient of the unfused per-sample path.
    let w = t64(&[1.0, 0.5, 0.0, 2.0], &[4]);
    let want: f64 = expected
        .iter()
        .zip([1.0, 0.5, 0.0, 2.0])
        .map(|(l, w)| l * w)
        .sum::<f64>()
        / 4.0;
    let p1 = Var::param(xt.clone());
    let fused = loss.compute(&y, &p1, Some(&w)).unwrap();
    assert!((fused.value().item().unwrap() - want).abs() < 1e-12);
    let g1 = fused.backward().unwrap().get(&p1).unwrap().clone();
    let p2 = Var::param(xt.clone());
    let plain = reduce(
        "test",
        &loss.per_sample(&y, &p2).unwrap(),
        Reduction::Mean,
        Some(&w),
        &[4, 3],
    )
    .unwrap();
    assert!((plain.value().item().unwrap() - want).abs() < 1e-12);
    let g2 = plain.backward().unwrap().get(&p2).unwrap().clone();
    assert!(g1.allclose(&g2, 1e-12, 1e-14), "{g1:?} vs {g2:?}");
    // By hand for row 0: w0/4 · (softmax − onehot).
    let sm: Vec<f64> = log_softmax(&x[0..3]).iter().map(|v| v.exp()).collect();
    let row0 = &g1.to_vec()[0..3];
    assert_close(
        row0,
        &[sm[0] / 4.0, sm[1] / 4.0, (sm[2] - 1.0) / 4.0],
        1e-12,
    );
    // Sum reduction and sequence inputs [2, 2, 3] with labels [2, 2].
    let loss_sum = loss.clone().with_reduction(Reduction::Sum);
    let y2 = t64(&labels, &[2, 2]);
    let x2 = t64(&x, &[2, 2, 3]);
    let v = loss_sum
        .compute(&y2, &Var::param(x2.clone()), None)
        .unwrap()
        .value()
        .item()
        .unwrap();
    // per sample: mean over its two rows; Sum over the batch.
    let want = (expected[0] + expected[1]) / 2.0 + (expected[2] + expected[3]) / 2.0;
    assert!((v - want).abs() < 1e-12);
    let ps = per_sample(&loss, &y2, &x2);
    assert_close(
        &ps,
        &[
            (expected[0] + expected[1]) / 2.0,
            (expected[2] + expected[3]) / 2.0,
        ],
        1e-12,
    );
}

#[test]
fn binary_crossentropy_keras_doc_example_and_logits() {
    // Keras 3 docs (keras.losses.binary_crossentropy): [0.916, 0.714].
    let y = t64(&[0., 1., 0., 0.], &[2, 2]);
    let p = t64(&[0.6, 0.4, 0.4, 0.6], &[2, 2]);
    let got = per_sample(&BinaryCrossentropy::new(), &y, &p);
    // By hand: mean of −ln(0.4), −ln(0.4) and of −ln(0.6), −ln(0.4).
    let (a, b) = (-(0.4f64.ln()), -(0.6f64.ln()));
    assert_close(&got, &[a, (b + a) / 2.0], 1e-12);
    assert_close(&got, &[0.916, 0.714], 1e-3);
    // From logits: −(y ln σ(x) + (1 − y) ln(1 − σ(x))), averaged per sample.
    let x = [0.3, -2.0, 1.2, 0.0];
    let yv = [1.0, 0.0, 0.0, 1.0];
    let bce = |x: f64, y: f64| -(y * sigmoid(x).ln() + (1.0 - y) * (1.0 - sigmoid(x)).ln());
    let want = [
        (bce(x[0], yv[0]) + bce(x[1], yv[1])) / 2.0,
        (bce(x[2], yv[2]) + bce(x[3], yv[3])) / 2.0,
    ];
    let loss = BinaryCrossentropy::new().from_logits(true);
    assert_close(
        &per_sample(&loss, &t64(&yv, &[2, 2]), &t64(&x, &[2, 2])),
        &want,
        1e-12,
    );
    // Label smoothing 0.1: y' = y·0.9 + 0.05.
    let s = |y: f64| y * 0.9 + 0.05;
    let want = [
        (bce(x[0], s(yv[0])) + bce(x[1], s(yv[1]))) / 2.0,
        (bce(x[2], s(yv[2])) + bce(x[3], s(yv[3]))) / 2.0,
    ];
    let loss = loss.label_smoothing(0.1);
    assert_close(
        &per_sample(&loss, &t64(&yv, &[2, 2]), &t64(&x, &[2, 2])),
        &want,
        1e-12,
    );
    // [batch] targets against [batch, 1] predictions.
    let got = per_sample(
        &BinaryCrossentropy::new(),
        &t64(&[1.0, 0.0], &[2]),
        &t64(&[0.8, 0.3], &[2, 1]),
    );
    assert_close(&got, &[-(0.8f64.ln()), -(0.7f64.ln())], 1e-12);
}

#[test]
fn regression_losses_by_hand() {
    let y = t64(&[0., 1., 0., 0.], &[2, 2]);
    let p = t64(&[0.6, 0.4, 0.4, 0.6], &[2, 2]);
    // MSE: mean of squared errors per row: (0.36 + 0.36)/2, (0.16 + 0.36)/2.
    assert_close(
        &per_sample(&MeanSquaredError::new(), &y, &p),
        &[0.36, 0.26],
        1e-12,
    );
    // MAE: (0.6 + 0.6)/2, (0.4 + 0.6)/2.
    assert_close(
        &per_sample(&MeanAbsoluteError::new(), &y, &p),
        &[0.6, 0.5],
        1e-12,
    );
    // Huber δ=1 (all quadratic): (0.18 + 0.18)/2, (0.08 + 0.18)/2; mean 0.155 as the Keras
    // 3 docs example of keras.losses.huber.
    let h = per_sample(&Huber::new(), &y, &p);
    assert_close(&h, &[0.18, 0.13], 1e-12);
    let m = Huber::new()
        .compute(&y, &Var::param(p.clone()), None)
        .unwrap();
    assert!((m.value().item().unwrap() - 0.155).abs() < 1e-12);
    // Huber δ=0.5: |e| = 0.6 > δ → 0.5·0.6 − 0.125 = 0.175; |e| = 0.4 → 0.08.
    assert_close(
        &per_sample(&Huber::new().delta(0.5), &y, &p),
        &[0.175, (0.08 + 0.175) / 2.0],
        1e-12,
    );
    // Poisson: p − y·ln(p + ε).
    let pois = |y: f64, p: f64| p - y * (p + EPS).ln();
    let want = [
        (pois(0., 0.6) + pois(1., 0.4)) / 2.0,
        (pois(0., 0.4) + pois(0., 0.6)) / 2.0,
    ];
    assert_close(&per_sample(&Poisson::new(), &y, &p), &want, 1e-12);
}

#[test]
fn kl_divergence_by_hand_with_clipping() {
    let y: [f64; 6] = [0.2, 0.8, 0.0, 0.5, 0.5, 0.0];
    let p: [f64; 6] = [0.4, 0.6, 0.3, 0.1, 0.1, 0.8];
    // Σ t·ln(t/q), t = clip(y, ε, 1), q = clip(p, ε, 1).
    let kl = |r: usize| -> f64 {
        (0..3)
            .map(|j| {
                let t = y[r * 3 + j].clamp(EPS, 1.0);
                let q = p[r * 3 + j].clamp(EPS, 1.0);
                t * (t / q).ln()
            })
            .sum()
    };
    assert_close(
        &per_sample(&KLDivergence::new(), &t64(&y, &[2, 3]), &t64(&p, &[2, 3])),
        &[kl(0), kl(1)],
        1e-12,
    );
}

#[test]
fn cosine_similarity_keras_doc_example() {
    // Keras 3 docs (keras.losses.cosine_similarity): [-0., -0.99999994, 0.99999994] in f32.
    let y = t64(&[0., 1., 1., 1., 1., 1.], &[3, 2]);
    let p = t64(&[1., 0., 1., 1., -1., -1.], &[3, 2]);
    assert_close(
        &per_sample(&CosineSimilarity::new(), &y, &p),
        &[0.0, -1.0, 1.0],
        1e-12,
    );
    // A zero prediction gives 0; a general case by hand.
    let y = t64(&[1., 2., 2., 3., 0., 4.], &[2, 3]);
    let p = t64(&[0., 0., 0., 1., 1., 1.], &[2, 3]);
    // row 1: −⟨(3, 0, 4)/5, (1, 1, 1)/√3⟩ = −(7/5)/√3.
    assert_close(
        &per_sample(&CosineSimilarity::new(), &y, &p),
        &[0.0, -(7.0 / 5.0) / 3f64.sqrt()],
        1e-12,
    );
}

#[test]
fn hinge_losses_by_hand() {
    // {0, 1} labels become {−1, 1}: y = [−1, 1, 1, −1].
    let y01 = t64(&[0., 1., 1., 0.], &[2, 2]);
    let ypm = t64(&[-1., 1., 1., -1.], &[2, 2]);
    let p = t64(&[0.3, 0.2, 1.5, -0.4], &[2, 2]);
    // max(1 − y·p, 0): [1.3, 0.8], [0, 0.6].
    let want = [(1.3 + 0.8) / 2.0, 0.6 / 2.0];
    assert_close(&per_sample(&Hinge::new(), &y01, &p), &want, 1e-12);
    assert_close(&per_sample(&Hinge::new(), &ypm, &p), &want, 1e-12);
    let want_sq = [(1.69 + 0.64) / 2.0, 0.36 / 2.0];
    assert_close(&per_sample(&SquaredHinge::new(), &y01, &p), &want_sq, 1e-12);
    // Labels that are not all in {0, 1} stay as they are: y = [0, 2] → max(1 − 0, 0), max(1 − 2·0.2, 0).
    let y02 = t64(&[0., 2.], &[1, 2]);
    assert_close(
        &per_sample(&Hinge::new(), &y02, &t64(&[0.3, 0.2], &[1, 2])),
        &[(1.0 + 0.6) / 2.0],
        1e-12,
    );

    // Categorical hinge: pos = Σ y·p, neg = max((1 − y)·p): row 0 pos 0.5, neg 0.9 → 1.4;
    // row 1 pos 2.0, neg 0.5 → max(−0.5, 0) = 0.
    let y = t64(&[0., 1., 0., 1., 0., 0.], &[2, 3]);
    let p = t64(&[0.9, 0.5, -0.2, 2.0, 0.5, 0.1], &[2, 3]);
    assert_close(
        &per_sample(&CategoricalHinge::new(), &y, &p),
        &[1.4, 0.0],
        1e-12,
    );

    // Multiclass (Weston–Watkins): Σ_{j≠y} max(0, 1 + s_j − s_y).
    let s = [0.9, 0.5, -0.2, 2.0, 0.5, 0.1];
    let labels = [1.0, 0.0];
    // row 0 (label 1): 1 + 0.9 − 0.5 = 1.4, 1 − 0.2 − 0.5 = 0.3 → 1.7; row 1 (label 0): 1 + 0.5 − 2 < 0, 1 + 0.1 − 2 < 0 → 0.
    assert_close(
        &per_sample(
            &MulticlassHinge::new(),
            &t64(&labels, &[2]),
            &t64(&s, &[2, 3]),
        ),
        &[1.7, 0.0],
        1e-12,
    );
    // margin 2.5: row 1: 2.5 + 0.5 − 2 = 1.0, 2.5 + 0.1 − 2 = 0.6 → 1.6; row 0: 2.9 + 1.8 = 4.7.
    let got = per_sample(
        &MulticlassHinge::new().margin(2.5),
        &t64(&labels, &[2]),
        &t64(&s, &[2, 3]),
    );
    assert_close(&got, &[4.7, 1.6], 1e-12);
}

#[test]
fn negative_log_likelihood_by_hand() {
    // PyTorch NLLLoss: −input[label] per row; with log_softmax input it is the cross-entropy.
    let x = [0.3, -1.2, 2.2, 0.5, 0.9, 0.1];
    let lp: Vec<f64> = log_softmax(&x[0..3])
        .into_iter()
        .chain(log_softmax(&x[3..6]))
        .collect();
    let y = t64(&[2.0, 1.0], &[2]);
    let got = per_sample(&NegativeLogLikelihood::new(), &y, &t64(&lp, &[2, 3]));
    assert_close(&got, &[-lp[2], -lp[4]], 1e-15);
    let ce = per_sample(
        &SparseCategoricalCrossentropy::new().from_logits(true),
        &y,
        &t64(&x, &[2, 3]),
    );
    assert_close(&got, &ce, 1e-12);
}

// ------------------------------------------------------------------ extreme inputs

#[test]
fn crossentropy_extreme_logits_exact_in_f32() {
    let x = t32(&[1e4, -1e4], &[1, 2]);
    let scce = SparseCategoricalCrossentropy::new().from_logits(true);
    let cce = CategoricalCrossentropy::new().from_logits(true);
    let (label1, label0) = (t32(&[1.0], &[1]), t32(&[0.0], &[1]));
    let onehot1 = t32(&[0.0, 1.0], &[1, 2]);
    for (loss, y, want) in [
        (&scce as &dyn Loss<f32>, &label1, 2e4f32),
        (&scce, &label0, 0.0),
        (&cce, &onehot1, 2e4),
        (&cce, &t32(&[1.0, 0.0], &[1, 2]), 0.0),
    ] {
        let p = Var::param(x.clone());
        assert_eq!(
            loss.per_sample(y, &p).unwrap().value().to_vec(),
            vec![want],
            "{}",
            loss.name()
        );
        let v = loss.compute(y, &p, None).unwrap();
        assert_eq!(v.value().item().unwrap(), want, "{}", loss.name());
        let g = v.backward().unwrap().get(&p).unwrap().to_vec();
        // softmax(x) = [1, 0]: the gradient is softmax − y, exactly.
        let y_dense: Vec<f32> = if y.shape() == [1] {
            (0..2)
                .map(|j| if j as f32 == y.to_vec()[0] { 1.0 } else { 0.0 })
                .collect()
        } else {
            y.to_vec()
        };
        assert_eq!(g, vec![1.0 - y_dense[0], -y_dense[1]], "{}", loss.name());
    }
}

#[test]
fn binary_crossentropy_extreme_logits_finite_and_exact() {
    let x = t32(&[1e4, 1e4, -1e4, -1e4], &[4, 1]);
    let y = t32(&[1.0, 0.0, 1.0, 0.0], &[4, 1]);
    let p = Var::param(x);
    let l = BinaryCrossentropy::new()
        .from_logits(true)
        .per_sample(&y, &p)
        .unwrap();
    // max(x,0) − x·y + ln(1 + e^−|x|): 0, 1e4, 1e4, 0 (e^−1e4 underflows to 0).
    assert_eq!(l.value().to_vec(), vec![0.0, 1e4, 1e4, 0.0]);
    let g = l
        .sum_all()
        .unwrap()
        .backward()
        .unwrap()
        .get(&p)
        .unwrap()
        .to_vec();
    // σ(x) − y: 0, 1, −1, 0.
    assert_eq!(g, vec![0.0, 1.0, -1.0, 0.0]);
}

#[test]
fn probabilities_zero_and_one_use_keras_clipping() {
    // −ln(1e-7) and −ln(1 − 1e-7): Keras clips probabilities to [ε, 1 − ε], ε = 1e-7.
    let hi = -(EPS.ln());
    let lo = -((1.0 - EPS).ln());
    let close = |a: f32, b: f64| ((a as f64) - b).abs() <= 1e-6 * b.abs().max(1e-7);
    let p = Var::param(t32(&[0.0, 1.0, 1.0, 0.0], &[2, 2]));
    let y = t32(&[1.0, 0.0, 1.0, 0.0], &[2, 2]);
    let v = CategoricalCrossentropy::new()
        .per_sample(&y, &p)
        .unwrap()
        .value()
        .to_vec();
    assert!(close(v[0], hi) && close(v[1], lo), "{v:?}");
    let v = SparseCategoricalCrossentropy::new()
        .per_sample(&t32(&[0.0, 0.0], &[2]), &p)
        .unwrap()
        .value()
        .to_vec();
    assert!(close(v[0], hi) && close(v[1], lo), "{v:?}");
    // BCE element-wise over [p=0, y=1], [p=1, y=0], [p=1, y=1], [p=0, y=0].
    let pb = Var::param(t32(&[0.0, 1.0, 1.0, 0.0], &[4, 1]));
    let yb = t32(&[1.0, 0.0, 1.0, 0.0], &[4, 1]);
    let v = BinaryCrossentropy::new().per_sample(&yb, &pb).unwrap();
    let vals = v.value().to_vec();
    assert!(
        close(vals[0], hi) && close(vals[1], hi) && close(vals[2], lo) && close(vals[3], lo),
        "{vals:?}"
    );
    // Gradients exist and are finite (zero where the clip is active).
    let g = v
        .sum_all()
        .unwrap()
        .backward()
        .unwrap()
        .get(&pb)
        .unwrap()
        .clone();
    assert!(g.is_finite_all());
    for loss in [
        &CategoricalCrossentropy::new() as &dyn Loss<f32>,
        &KLDivergence::new(),
    ] {
        let p = Var::param(t32(&[0.0, 1.0, 1.0, 0.0], &[2, 2]));
        let v = loss.compute(&y, &p, None).unwrap();
        assert!(v.value().is_finite_all(), "{}", loss.name());
        assert!(
            v.backward().unwrap().get(&p).unwrap().is_finite_all(),
            "{}",
            loss.name()
        );
    }
}

// ------------------------------------------------------------------ reductions and weights

#[test]
fn reductions_and_sample_weights() {
    // MSE per sample: [1, 4, 0.25].
    let y = t64(&[0., 0., 0.], &[3, 1]);
    let p = t64(&[1.0, -2.0, 0.5], &[3, 1]);
    let w = t64(&[2.0, 0.5, 0.0], &[3]);
    let run = |r: Reduction, w: Option<&Tensor<f64>>| {
        MeanSquaredError::new()
            .with_reduction(r)
            .compute(&y, &Var::param(p.clone()), w)
            .unwrap()
            .value()
            .to_vec()
    };
    assert_eq!(run(Reduction::Mean, None), vec![5.25 / 3.0]);
    assert_eq!(run(Reduction::Sum, None), vec![5.25]);
    assert_eq!(run(Reduction::None, None), vec![1.0, 4.0, 0.25]);
    // Weighted: [2, 2, 0]; Keras' sum_over_batch_size still divides by the batch (3).
    assert_eq!(run(Reduction::Mean, Some(&w)), vec![4.0 / 3.0]);
    assert_eq!(run(Reduction::Sum, Some(&w)), vec![4.0]);
    assert_eq!(run(Reduction::None, Some(&w)), vec![2.0, 2.0, 0.0]);
    // [batch, 1] weights are accepted.
    assert_eq!(
        run(Reduction::Sum, Some(&w.reshape([3, 1]).unwrap())),
        vec![4.0]
    );
    // Weighted gradients: ∂/∂p of Σ w·p² / 3 = 2·w·p / 3.
    let pv = Var::param(p.clone());
    let g = MeanSquaredError::new()
        .compute(&y, &pv, Some(&w))
        .unwrap()
        .backward()
        .unwrap();
    assert_close(
        &g.get(&pv).unwrap().to_vec(),
        &[4.0 / 3.0, -2.0 / 3.0, 0.0],
        1e-15,
    );
    // Empty batch: the mean is 0, not NaN.
    let e = MeanSquaredError::new()
        .compute(
            &Tensor::<f64>::zeros([0, 2]),
            &Var::param(Tensor::zeros([0, 2])),
            None,
        )
        .unwrap();
    assert_eq!(e.value().item().unwrap(), 0.0);
    // Keras reduction names.
    assert_eq!(
        Reduction::from_name("sum_over_batch_size").unwrap(),
        Reduction::Mean
    );
    assert_eq!(Reduction::from_name("sum").unwrap(), Reduction::Sum);
    assert_eq!(Reduction::from_name("none").unwrap(), Reduction::None);
    assert!(Reduction::from_name("average").is_err());
    assert_eq!(Reduction::default(), Reduction::Mean);
}

#[test]
fn sample_weight_shape_is_checked() {
    let y = t64(&[0., 0., 0.], &[3]);
    let p = Var::param(t64(&[1.0, 2.0, 3.0], &[3]));
    for bad in [
        t64(&[1.0, 1.0], &[2]),
        t64(&[1.0; 6], &[3, 2]),
        t64(&[1.0; 3], &[1, 3]),
    ] {
        let e = MeanSquaredError::new()
            .compute(&y, &p, Some(&bad))
            .unwrap_err();
        assert!(matches!(e, LossError::SampleWeight { .. }), "{e}");
        assert!(
            e.to_string().contains("mean_squared_error") && e.to_string().contains("[3]"),
            "{e}"
        );
    }
    let e = SparseCategoricalCrossentropy::new()
        .from_logits(true)
        .compute(
            &t64(&[0.0, 1.0], &[2]),
            &Var::param(Tensor::zeros([2, 3])),
            Some(&t64(&[1.0], &[1])),
        )
        .unwrap_err();
    assert!(matches!(e, LossError::SampleWeight { .. }), "{e}");
}

#[test]
fn no_graph_without_recording() {
    let y = t64(&[1.0, 0.0], &[2]);
    let x = Var::param(t64(&[0.3, 0.1, -0.2, 0.4], &[2, 2]));
    let losses: Vec<Box<dyn Loss<f64>>> = vec![
        Box::new(SparseCategoricalCrossentropy::new().from_logits(true)),
        Box::new(SparseCategoricalCrossentropy::new()),
        Box::new(MulticlassHinge::new()),
    ];
    for loss in losses {
        let v = no_grad(|| loss.compute(&y, &x, None)).unwrap();
        assert!(!v.requires_grad(), "{}", loss.name());
        let v = loss
            .compute(&y, &Var::constant(x.value().clone()), None)
            .unwrap();
        assert!(!v.requires_grad(), "{}", loss.name());
        // Same value with and without a graph.
        let with = loss.compute(&y, &x, None).unwrap();
        assert_eq!(with.value(), v.value(), "{}", loss.name());
    }
}

// ------------------------------------------------------------------ errors

#[test]
fn shape_errors_name_the_loss_and_both_shapes() {
    let e = CategoricalCrossentropy::new()
        .per_sample(
            &Tensor::<f32>::zeros([32, 10]),
            &Var::param(Tensor::zeros([32, 5])),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "categorical_crossentropy: y_true shape [32, 10] does not match y_pred shape [32, 5]"
    );
    let e = MeanSquaredError::new()
        .per_sample(
            &Tensor::<f32>::zeros([4, 3]),
            &Var::param(Tensor::zeros([4, 2])),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "mean_squared_error: y_true shape [4, 3] does not match y_pred shape [4, 2]"
    );
    let e = SparseCategoricalCrossentropy::new()
        .per_sample(
            &Tensor::<f32>::zeros([4, 2]),
            &Var::param(Tensor::zeros([4, 3])),
        )
        .unwrap_err();
    assert!(matches!(e, LossError::LabelShape { .. }), "{e}");
    assert!(
        e.to_string().contains("sparse_categorical_crossentropy")
            && e.to_string().contains("[4, 2]"),
        "{e}"
    );
    let e = CategoricalCrossentropy::new()
        .per_sample(&Tensor::<f32>::zeros([3]), &Var::param(Tensor::zeros([3])))
        .unwrap_err();
    assert!(matches!(e, LossError::Rank { .. }), "{e}");
    let e = MeanSquaredError::new()
        .per_sample(&Tensor::<f32>::zeros([]), &Var::param(Tensor::zeros([])))
        .unwrap_err();
    assert!(matches!(e, LossError::Rank { .. }), "{e}");
}

#[test]
fn labels_out_of_range_are_errors() {
    let x = Var::param(Tensor::<f32>::zeros([2, 3]));
    for (bad, shown) in [(3.0, "3"), (-1.0, "-1"), (0.5, "0.5"), (f64::NAN, "NaN")] {
        for loss in [
            Box::new(SparseCategoricalCrossentropy::new().from_logits(true)) as Box<dyn Loss<f32>>,
            Box::new(SparseCategoricalCrossentropy::new()),
            Box::new(NegativeLogLikelihood::new()),
            Box::new(MulticlassHinge::new()),
        ] {
            let y = t32(&[0.0, bad], &[2]);
            for e in [
                loss.per_sample(&y, &x).unwrap_err(),
                loss.compute(&y, &x, None).unwrap_err(),
            ] {
                assert!(
                    matches!(
                        e,
                        LossError::LabelOutOfRange {
                            position: 1,
                            num_classes: 3,
                            ..
                        }
                    ),
                    "{e}"
                );
                let msg = e.to_string();
                assert!(
                    msg.starts_with(loss.name()) && msg.contains(shown) && msg.contains("0..3"),
                    "{msg}"
                );
            }
        }
    }
}

#[test]
fn invalid_configuration_is_an_error() {
    let y = t64(&[0., 1.], &[1, 2]);
    let p = Var::param(t64(&[0.4, 0.6], &[1, 2]));
    let cases: Vec<Box<dyn Loss<f64>>> = vec![
        Box::new(CategoricalCrossentropy::new().label_smoothing(1.5)),
        Box::new(BinaryCrossentropy::new().label_smoothing(-0.1)),
        Box::new(Huber::new().delta(0.0)),
        Box::new(MulticlassHinge::new().margin(f64::NAN)),
        Box::new(CategoricalCrossentropy::new().axis(0)),
        Box::new(CosineSimilarity::new().axis(0)),
    ];
    for loss in cases {
        let y = if loss.name() == "multiclass_hinge" {
            t64(&[1.0], &[1])
        } else {
            y.clone()
        };
        let e = loss.per_sample(&y, &p).unwrap_err();
        assert!(
            matches!(e, LossError::Config { .. }),
            "{}: {e}",
            loss.name()
        );
        assert!(e.to_string().starts_with(loss.name()), "{e}");
    }
    assert!(CategoricalCrossentropy::new()
        .axis(5)
        .per_sample(&y, &p)
        .is_err());
}

// ------------------------------------------------------------------ gradient checks

fn to_autograd(e: LossError) -> AutogradError {
    match e {
        LossError::Autograd(e) => e,
        other => AutogradError::Invalid {
            op: "loss",
            message: other.to_string(),
        },
    }
}

/// Checks the gradient of the per-sample vector, of the weighted mean and of the sum.
fn check(loss: &dyn Loss<f64>, y: &Tensor<f64>, p: &Tensor<f64>) {
    let batch = p.shape()[0];
    let w = Tensor::<f64>::rand_uniform([batch], 0.5, 1.5, 3);
    let opts = GradCheckOptions::default();
    let r = gradcheck_many(
        |v| loss.per_sample(y, &v[0]).map_err(to_autograd),
        std::slice::from_ref(p),
        &opts,
    );
    assert!(r.is_ok(), "{} per_sample: {}", loss.name(), r.unwrap_err());
    let r = gradcheck_many(
        |v| loss.compute(y, &v[0], Some(&w)).map_err(to_autograd),
        std::slice::from_ref(p),
        &opts,
    );
    assert!(
        r.is_ok(),
        "{} weighted mean: {}",
        loss.name(),
        r.unwrap_err()
    );
    let sum = loss.to_saved().into_loss::<f64>();
    let r = gradcheck_many(
        |v| {
            let l = sum.per_sample(y, &v[0]).map_err(to_autograd)?;
            reduce(sum.name(), &l, Reduction::Sum, None, v[0].shape()).map_err(to_autograd)
        },
        std::slice::from_ref(p),
        &opts,
    );
    assert!(r.is_ok(), "{} sum: {}", loss.name(), r.unwrap_err());
}

/// Probability rows in (0.1, 0.9) that sum to 1 (no clip is active).
fn probs(rows: usize, c: usize, seed: u64) -> Tensor<f64> {
    let u = Tensor::<f64>::rand_uniform([rows, c], 0.5, 1.5, seed);
    let s = u.sum(&[-1], true).unwrap();
    u.div(&s).unwrap()
}

fn onehot(labels: &[usize], c: usize) -> Tensor<f64> {
    Tensor::one_hot(labels, c).unwrap()
}

#[test]
fn gradcheck_every_loss() {
    let labels = [2usize, 0, 3, 1, 3];
    let lab = Tensor::<f64>::from_vec(labels.iter().map(|&l| l as f64).collect(), [5]).unwrap();
    let logits = Tensor::<f64>::randn([5, 4], 1);
    let soft = probs(5, 4, 2);
    let oh = onehot(&labels, 4);
    let reg_y = Tensor::<f64>::randn([5, 3], 4);
    // Predictions at least 0.05 away from every target (MAE, Huber kinks) and from |e| = δ.
    let reg_p = reg_y
        .add(
            &Tensor::from_f64s(
                &[
                    0.3, -0.45, 0.7, -1.6, 0.2, 0.55, -0.35, 1.3, -0.6, 0.25, -0.8, 0.4, 0.15,
                    -0.3, 2.0,
                ],
                [5, 3],
            )
            .unwrap(),
        )
        .unwrap();

    check(&CategoricalCrossentropy::new(), &oh, &soft);
    check(
        &CategoricalCrossentropy::new(),
        &probs(5, 4, 9),
        &soft.map(|v| v * 1.7),
    ); // soft targets, unnormalised rows
    check(
        &CategoricalCrossentropy::new().label_smoothing(0.1),
        &oh,
        &soft,
    );
    check(
        &CategoricalCrossentropy::new().from_logits(true),
        &oh,
        &logits,
    );
    check(
        &CategoricalCrossentropy::new()
            .from_logits(true)
            .label_smoothing(0.2),
        &probs(5, 4, 5),
        &logits,
    );
    check(&SparseCategoricalCrossentropy::new(), &lab, &soft);
    check(
        &SparseCategoricalCrossentropy::new().from_logits(true),
        &lab,
        &logits,
    );
    check(
        &SparseCategoricalCrossentropy::new()
            .from_logits(true)
            .with_reduction(Reduction::Sum),
        &lab,
        &logits,
    );
    check(
        &NegativeLogLikelihood::new(),
        &lab,
        &logits.log_softmax(-1).unwrap(),
    );
    let bin_y =
        Tensor::<f64>::from_f64s(&[1., 0., 0., 1., 1., 0., 1., 1., 0., 0.], [5, 2]).unwrap();
    check(
        &BinaryCrossentropy::new(),
        &bin_y,
        &Tensor::rand_uniform([5, 2], 0.1, 0.9, 6),
    );
    check(
        &BinaryCrossentropy::new().label_smoothing(0.1),
        &bin_y,
        &Tensor::rand_uniform([5, 2], 0.1, 0.9, 7),
    );
    check(
        &BinaryCrossentropy::new().from_logits(true),
        &bin_y,
        &Tensor::randn([5, 2], 8),
    );
    check(&MeanSquaredError::new(), &reg_y, &reg_p);
    check(&MeanAbsoluteError::new(), &reg_y, &reg_p);
    check(&Huber::new(), &reg_y, &reg_p);
    check(&Huber::new().delta(0.5), &reg_y, &reg_p);
    check(
        &Poisson::new(),
        &Tensor::rand_uniform([5, 3], 0.0, 3.0, 10).round(),
        &Tensor::rand_uniform([5, 3], 0.2, 3.0, 11),
    );
    check(&KLDivergence::new(), &probs(5, 4, 12), &soft);
    check(&CosineSimilarity::new(), &reg_y, &reg_p);
    // Hinge: margins 1 − y·p away from 0.
    let hy =
        Tensor::<f64>::from_f64s(&[1., -1., -1., 1., 1., -1., 1., 1., -1., -1.], [5, 2]).unwrap();
    let hp = Tensor::<f64>::from_f64s(
        &[0.3, 0.6, -1.4, 1.8, 0.5, -0.2, 2.5, -0.7, 0.1, 0.45],
        [5, 2],
    )
    .unwrap();
    check(&Hinge::new(), &hy, &hp);
    check(&SquaredHinge::new(), &hy, &hp);
    check(&Hinge::new(), &hy.map(|v| (v + 1.0) / 2.0), &hp); // 0/1 labels
                                                             // Categorical hinge: distinct scores, margins away from 0 (rows 0–3 active, row 4 not).
    let cp = Tensor::<f64>::from_f64s(
        &[
            0.9, 0.5, -0.2, 0.1, 0.3, 0.8, 0.0, -0.5, 0.2, 0.6, 0.4, 0.1, 0.7, 0.3, -0.1, 0.05,
            0.0, 0.1, 0.2, 3.0,
        ],
        [5, 4],
    )
    .unwrap();
    check(&CategoricalHinge::new(), &oh, &cp);
    // Multiclass hinge: no score within ±ε of s_y − margin.
    check(&MulticlassHinge::new(), &lab, &cp);
    check(&MulticlassHinge::new().margin(0.35), &lab, &cp); // every term ≥ 0.05 from its kink
}

#[test]
fn gradcheck_extra_axes_and_moved_class_axis() {
    // [batch 2, time 3, classes 4] and the class axis at 1 ([2, 4, 3]).
    let logits = Tensor::<f64>::randn([2, 3, 4], 21);
    let labels: Vec<usize> = vec![0, 3, 1, 2, 2, 0];
    let oh = Tensor::<f64>::one_hot(&labels, 4)
        .unwrap()
        .reshape([2, 3, 4])
        .unwrap();
    let lab = Tensor::<f64>::from_vec(labels.iter().map(|&l| l as f64).collect(), [2, 3]).unwrap();
    check(
        &CategoricalCrossentropy::new().from_logits(true),
        &oh,
        &logits,
    );
    check(
        &SparseCategoricalCrossentropy::new().from_logits(true),
        &lab,
        &logits,
    );
    check(
        &SparseCategoricalCrossentropy::new(),
        &lab,
        &logits.softmax(-1).unwrap(),
    );
    let moved = |t: &Tensor<f64>| t.permute(&[0, 2, 1]).unwrap().contiguous();
    check(
        &CategoricalCrossentropy::new().from_logits(true).axis(1),
        &moved(&oh),
        &moved(&logits),
    );
    check(
        &CategoricalCrossentropy::new().axis(-2),
        &moved(&oh),
        &moved(&logits.softmax(-1).unwrap()),
    );
    check(
        &CosineSimilarity::new().axis(1),
        &moved(&Tensor::randn([2, 3, 4], 22)),
        &moved(&logits),
    );
    check(
        &MeanSquaredError::new(),
        &Tensor::randn([2, 3, 4], 23),
        &logits,
    );
}

// ------------------------------------------------------------------ names and saving

#[test]
fn loss_from_name_for_every_name() {
    for &name in LOSS_NAMES {
        let loss = loss_from_name::<f32>(name).unwrap();
        let canonical = loss.name();
        assert!(LOSS_NAMES.contains(&canonical), "{name} → {canonical}");
        assert_eq!(loss.reduction(), Reduction::Mean);
        // The canonical name maps to the same loss, and the saved form survives serde.
        assert_eq!(
            loss_from_name::<f32>(canonical).unwrap().to_saved(),
            loss.to_saved()
        );
        let json = serde_json::to_string(&loss.to_saved()).unwrap();
        let back: SavedLoss = serde_json::from_str(&json).unwrap();
        assert_eq!(back, loss.to_saved());
        assert_eq!(back.name(), canonical);
        assert_eq!(back.into_loss::<f64>().name(), canonical);
    }
    let pairs = [
        ("mse", "mean_squared_error"),
        ("MAE", "mean_absolute_error"),
        ("bce", "binary_crossentropy"),
        ("kld", "kl_divergence"),
        ("huber", "huber_loss"),
        ("nll", "negative_log_likelihood"),
        ("CategoricalCrossentropy", "categorical_crossentropy"),
        (
            "SparseCategoricalCrossentropy",
            "sparse_categorical_crossentropy",
        ),
    ];
    for (alias, canonical) in pairs {
        assert_eq!(loss_from_name::<f64>(alias).unwrap().name(), canonical);
    }
    let e = loss_from_name::<f32>("mean_squared_errors").unwrap_err();
    assert!(matches!(e, LossError::UnknownName { .. }));
    assert!(
        e.to_string().contains("mean_squared_errors")
            && e.to_string().contains("categorical_crossentropy")
    );
}

#[test]
fn saved_form_keeps_the_configuration() {
    let loss = CategoricalCrossentropy::new()
        .from_logits(true)
        .label_smoothing(0.1)
        .axis(1)
        .with_reduction(Reduction::Sum);
    let saved = Loss::<f32>::to_saved(&loss);
    let json = serde_json::to_string(&saved).unwrap();
    let back: SavedLoss = serde_json::from_str(&json).unwrap();
    assert_eq!(back, SavedLoss::CategoricalCrossentropy(loss.clone()));
    let boxed = back.into_loss::<f32>();
    assert_eq!(boxed.reduction(), Reduction::Sum);
    let cloned = boxed.clone();
    assert_eq!(cloned.to_saved(), boxed.to_saved());
    assert_ne!(
        Loss::<f32>::to_saved(&CategoricalCrossentropy::new()),
        boxed.to_saved()
    );
}
