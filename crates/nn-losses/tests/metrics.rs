//! Metrics against counts and values worked out by hand, streaming (several batches equal one
//! big update), sample weights, reset and clone, lookup by name and errors.

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nn_losses::metrics::*;
use nn_losses::{metric_from_name, LossError};
use nn_tensor::Tensor;

fn t(values: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_f64s(values, shape).unwrap()
}

fn run<M: Metric<f64>>(mut m: M, y: &Tensor<f64>, p: &Tensor<f64>, w: Option<&Tensor<f64>>) -> f64 {
    m.update(y, p, w).unwrap();
    m.result()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn accuracy_metrics_by_hand() {
    // Exact match: rows [1, 2] vs [1, 3] → 1/2, [0, 0] vs [0, 0] → 1; mean 3/4.
    let y = t(&[1., 2., 0., 0.], &[2, 2]);
    let p = t(&[1., 3., 0., 0.], &[2, 2]);
    assert_eq!(run(Accuracy::new(), &y, &p, None), 0.75);
    // Weights [1, 3]: (0.5 + 3) / 4.
    assert_eq!(
        run(Accuracy::new(), &y, &p, Some(&t(&[1., 3.], &[2]))),
        0.875
    );

    // Binary: p > 0.5 → [1, 0, 1, 0] against [1, 1, 0, 0] → 2 of 4.
    let yb = t(&[1., 1., 0., 0.], &[4]);
    let pb = t(&[0.9, 0.5, 0.7, 0.1], &[4, 1]);
    assert_eq!(run(BinaryAccuracy::new(), &yb, &pb, None), 0.5);
    // Threshold 0.6: [1, 0, 1, 0] still; threshold 0.8: [1, 0, 0, 0] → 3 of 4.
    assert_eq!(
        run(BinaryAccuracy::new().threshold(0.8), &yb, &pb, None),
        0.75
    );

    // Categorical: argmax rows [0, 2, 1] against one-hot [0, 1, 1] → 2/3.
    let yc = t(&[1., 0., 0., 0., 1., 0., 0., 1., 0.], &[3, 3]);
    let pc = t(&[0.5, 0.3, 0.2, 0.1, 0.2, 0.7, 0.3, 0.4, 0.3], &[3, 3]);
    assert!(close(
        run(CategoricalAccuracy::new(), &yc, &pc, None),
        2.0 / 3.0
    ));
    // Sparse: the same labels as integers, [3] or [3, 1].
    let ys = t(&[0., 1., 1.], &[3]);
    assert!(close(
        run(SparseCategoricalAccuracy::new(), &ys, &pc, None),
        2.0 / 3.0
    ));
    assert!(close(
        run(
            SparseCategoricalAccuracy::new(),
            &ys.reshape([3, 1]).unwrap(),
            &pc,
            None
        ),
        2.0 / 3.0
    ));
    // Weights [0, 1, 1] drop the first (correct) row: 1/2.
    assert!(close(
        run(
            SparseCategoricalAccuracy::new(),
            &ys,
            &pc,
            Some(&t(&[0., 1., 1.], &[3]))
        ),
        0.5
    ));

    // Top-k: scores [0.1, 0.4, 0.3, 0.2]: class 2 is in the top 2, class 3 is not, class 0 not.
    let pk = t(
        &[0.1, 0.4, 0.3, 0.2, 0.1, 0.4, 0.3, 0.2, 0.1, 0.4, 0.3, 0.2],
        &[3, 4],
    );
    let yk = t(&[2., 3., 0.], &[3]);
    assert!(close(
        run(SparseTopKCategoricalAccuracy::new().k(2), &yk, &pk, None),
        1.0 / 3.0
    ));
    assert!(close(
        run(SparseTopKCategoricalAccuracy::new().k(3), &yk, &pk, None),
        2.0 / 3.0
    ));
    assert_eq!(
        run(SparseTopKCategoricalAccuracy::new(), &yk, &pk, None),
        1.0
    ); // k = 5 ≥ 4 classes
    let yk1 = Tensor::<f64>::one_hot(&[2, 3, 0], 4).unwrap();
    assert!(close(
        run(TopKCategoricalAccuracy::new().k(2), &yk1, &pk, None),
        1.0 / 3.0
    ));
    // Ties at the boundary count as in the top k (TensorFlow's in_top_k): [0.5, 0.5, 0.1], k = 1.
    assert_eq!(
        run(
            SparseTopKCategoricalAccuracy::new().k(1),
            &t(&[1.], &[1]),
            &t(&[0.5, 0.5, 0.1], &[1, 3]),
            None
        ),
        1.0
    );
    // A NaN score for the target never counts.
    assert_eq!(
        run(
            SparseTopKCategoricalAccuracy::new().k(3),
            &t(&[0.], &[1]),
            &t(&[f64::NAN, 0.5, 0.1], &[1, 3]),
            None
        ),
        0.0
    );
}

#[test]
fn precision_recall_by_hand() {
    // p > 0.5 → predicted [1, 1, 0, 1, 0]; truth [1, 0, 1, 1, 0] → TP 2, FP 1, FN 1.
    let y = t(&[1., 0., 1., 1., 0.], &[5]);
    let p = t(&[0.9, 0.6, 0.4, 0.7, 0.2], &[5]);
    assert!(close(run(Precision::new(), &y, &p, None), 2.0 / 3.0));
    assert!(close(run(Recall::new(), &y, &p, None), 2.0 / 3.0));
    // Threshold 0.65: predicted [1, 0, 0, 1, 0] → TP 2, FP 0, FN 1.
    assert_eq!(run(Precision::new().threshold(0.65), &y, &p, None), 1.0);
    assert!(close(
        run(Recall::new().threshold(0.65), &y, &p, None),
        2.0 / 3.0
    ));
    // Weights [1, 2, 3, 1, 1]: TP 1 + 1 = 2, FP 2, FN 3 → P 1/2, R 2/5.
    let w = t(&[1., 2., 3., 1., 1.], &[5]);
    let mut prec = Precision::new();
    Metric::<f64>::update(&mut prec, &y, &p, Some(&w)).unwrap();
    assert_eq!(
        (
            prec.true_positives(),
            prec.false_positives(),
            prec.false_negatives()
        ),
        (2.0, 2.0, 3.0)
    );
    assert_eq!(Metric::<f64>::result(&prec), 0.5);
    assert!(close(run(Recall::new(), &y, &p, Some(&w)), 0.4));
    // No positive prediction: 0, not NaN.
    assert_eq!(run(Precision::new(), &y, &p.map(|_| 0.0), None), 0.0);

    // Per class: scores [3, 3], class 1 column [0.2, 0.7, 0.6] > 0.5 → [0, 1, 1];
    // labels [1, 1, 0] → class-1 truth [1, 1, 0] → TP 1, FP 1, FN 1.
    let scores = t(&[0.8, 0.2, 0.0, 0.1, 0.7, 0.2, 0.2, 0.6, 0.2], &[3, 3]);
    let labels = t(&[1., 1., 0.], &[3]);
    assert_eq!(
        run(Precision::new().class_id(1), &labels, &scores, None),
        0.5
    );
    assert_eq!(run(Recall::new().class_id(1), &labels, &scores, None), 0.5);
    let onehot = Tensor::<f64>::one_hot(&[1, 1, 0], 3).unwrap();
    assert_eq!(
        run(Precision::new().class_id(1), &onehot, &scores, None),
        0.5
    );
    // Class 0 column [0.8, 0.1, 0.2] → [1, 0, 0]; truth [0, 0, 1] → TP 0, FP 1, FN 1.
    assert_eq!(run(Recall::new().class_id(0), &labels, &scores, None), 0.0);
    let mut bad = Precision::new().class_id(3);
    assert!(matches!(
        Metric::<f64>::update(&mut bad, &labels, &scores, None),
        Err(LossError::Config { .. })
    ));
}

#[test]
fn f1_score_by_hand() {
    // Argmax predictions [0, 1, 0, 2, 2, 1] for labels [0, 1, 1, 2, 0, 1]:
    // class 0: TP 1, FP 1, FN 1 → P 1/2, R 1/2, F1 1/2
    // class 1: TP 2, FP 0, FN 1 → P 1, R 2/3, F1 0.8
    // class 2: TP 1, FP 1, FN 0 → P 1/2, R 1, F1 2/3
    let labels = t(&[0., 1., 1., 2., 0., 1.], &[6]);
    let p = t(
        &[
            0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.5, 0.3, 0.2, 0.1, 0.2, 0.7, 0.3, 0.3, 0.4, 0.2, 0.6,
            0.2,
        ],
        &[6, 3],
    );
    let mut f1 = F1Score::macro_avg(3);
    Metric::<f64>::update(&mut f1, &labels, &p, None).unwrap();
    let per = f1.per_class();
    assert!(
        close(per[0], 0.5) && close(per[1], 0.8) && close(per[2], 2.0 / 3.0),
        "{per:?}"
    );
    assert!(close(f1.value(), (0.5 + 0.8 + 2.0 / 3.0) / 3.0));
    // Micro: TP 4, FP 2, FN 2 → 2/3. Weighted by support [2, 3, 1]: (1 + 2.4 + 2/3) / 6.
    assert!(close(
        run(F1Score::micro_avg(3), &labels, &p, None),
        2.0 / 3.0
    ));
    assert!(close(
        run(F1Score::weighted_avg(3), &labels, &p, None),
        (1.0 + 2.4 + 2.0 / 3.0) / 6.0
    ));
    assert!(close(run(F1Score::for_class(3, 1), &labels, &p, None), 0.8));
    // One-hot targets give the same; a threshold predicts every class above it.
    let onehot = Tensor::<f64>::one_hot(&[0, 1, 1, 2, 0, 1], 3).unwrap();
    assert!(close(
        run(F1Score::macro_avg(3), &onehot, &p, None),
        f1.value()
    ));
    // Threshold 0.45: predictions {0}, {1}, {0}, {2}, {}, {1} → class 0: TP 1, FP 1, FN 1 (1/2);
    // class 1: TP 2, FP 0, FN 1 (0.8); class 2: TP 1, FP 0, FN 0 (1).
    assert!(close(
        run(F1Score::macro_avg(3).threshold(0.45), &labels, &p, None),
        (0.5 + 0.8 + 1.0) / 3.0
    ));
    // The class count comes from the first batch when not given, and must not change.
    let mut inferred = F1Score::new(F1Average::Macro);
    Metric::<f64>::update(&mut inferred, &labels, &p, None).unwrap();
    assert!(close(Metric::<f64>::result(&inferred), f1.value()));
    let e = Metric::<f64>::update(
        &mut inferred,
        &t(&[0.], &[1]),
        &t(&[0.5, 0.5], &[1, 2]),
        None,
    )
    .unwrap_err();
    assert!(matches!(e, LossError::Config { .. }), "{e}");
}

#[test]
fn confusion_matrix_by_hand() {
    // Same data as the F1 test: rows true class, columns predicted.
    let labels = t(&[0., 1., 1., 2., 0., 1.], &[6]);
    let p = t(
        &[
            0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.5, 0.3, 0.2, 0.1, 0.2, 0.7, 0.3, 0.3, 0.4, 0.2, 0.6,
            0.2,
        ],
        &[6, 3],
    );
    let mut cm = ConfusionMatrix::new(3);
    Metric::<f64>::update(&mut cm, &labels, &p, None).unwrap();
    assert_eq!(
        cm.matrix(),
        vec![vec![1., 0., 1.], vec![1., 2., 0.], vec![0., 0., 1.]]
    );
    assert!(close(Metric::<f64>::result(&cm), 4.0 / 6.0));
    // Weighted, inferred class count, one-hot targets.
    let mut cm = ConfusionMatrix::inferred();
    let w = t(&[2., 1., 1., 1., 1., 0.5], &[6]);
    Metric::<f64>::update(
        &mut cm,
        &Tensor::<f64>::one_hot(&[0, 1, 1, 2, 0, 1], 3).unwrap(),
        &p,
        Some(&w),
    )
    .unwrap();
    assert_eq!(cm.num_classes(), Some(3));
    assert_eq!(
        cm.matrix(),
        vec![vec![2., 0., 1.], vec![1., 1.5, 0.], vec![0., 0., 1.]]
    );
    assert!(close(cm.value(), 4.5 / 6.5));
    // Binary probabilities: p > 0.5 predicts 1.
    let mut bin = ConfusionMatrix::inferred();
    Metric::<f64>::update(
        &mut bin,
        &t(&[1., 0., 1., 0.], &[4]),
        &t(&[0.9, 0.7, 0.2, 0.1], &[4, 1]),
        None,
    )
    .unwrap();
    assert_eq!(bin.matrix(), vec![vec![1., 1.], vec![1., 1.]]);
    // Integer predictions for 3 classes; a bad label is an error.
    let mut ints = ConfusionMatrix::new(3);
    Metric::<f64>::update(&mut ints, &t(&[0., 2.], &[2]), &t(&[2., 2.], &[2]), None).unwrap();
    assert_eq!(
        ints.matrix(),
        vec![vec![0., 0., 1.], vec![0., 0., 0.], vec![0., 0., 1.]]
    );
    let e = Metric::<f64>::update(&mut ints, &t(&[3.], &[1]), &t(&[2.], &[1]), None).unwrap_err();
    assert!(
        matches!(e, LossError::LabelOutOfRange { num_classes: 3, .. }),
        "{e}"
    );
}

#[test]
fn regression_metrics_and_mean_by_hand() {
    let y = t(&[0., 1., 0., 0.], &[2, 2]);
    let p = t(&[0.6, 0.4, 0.4, 0.6], &[2, 2]);
    // Per sample MSE [0.36, 0.26], MAE [0.6, 0.5]; weights [1, 3].
    assert!(close(run(MeanSquaredError::new(), &y, &p, None), 0.31));
    assert!(close(run(MeanAbsoluteError::new(), &y, &p, None), 0.55));
    let w = t(&[1., 3.], &[2]);
    assert!(close(
        run(MeanSquaredError::new(), &y, &p, Some(&w)),
        (0.36 + 3.0 * 0.26) / 4.0
    ));
    assert!(close(
        run(MeanAbsoluteError::new(), &y, &p, Some(&w)),
        (0.6 + 1.5) / 4.0
    ));

    let mut m = Mean::new().with_name("loss");
    assert_eq!(Metric::<f64>::name(&m), "loss");
    assert_eq!(m.value(), 0.0);
    Metric::<f64>::update(&mut m, &Tensor::scalar(0.0), &Tensor::scalar(3.0), None).unwrap();
    Metric::<f64>::update(
        &mut m,
        &Tensor::scalar(0.0),
        &Tensor::scalar(1.0),
        Some(&Tensor::scalar(3.0)),
    )
    .unwrap();
    assert_eq!(m.value(), 1.5); // (3 + 3·1) / 4
    m.update_value(6.0, 4.0);
    assert_eq!(m.value(), 3.75); // (6 + 24) / 8
    assert_eq!(m.count(), 8.0);
    // A [batch, ...] tensor counts each sample's mean: [1, 3] → 2.
    let mut m2 = Mean::new();
    Metric::<f64>::update(
        &mut m2,
        &Tensor::zeros([2]),
        &t(&[0., 2., 3., 3.], &[2, 2]),
        None,
    )
    .unwrap();
    assert_eq!(m2.value(), 2.0);
}

#[test]
fn auc_by_hand_sampled_and_exact() {
    // Scores of negatives [0.1, 0.4], positives [0.35, 0.8]: 3 of 4 pairs ordered → 0.75.
    let y = t(&[0., 0., 1., 1.], &[4]);
    let p = t(&[0.1, 0.4, 0.35, 0.8], &[4]);
    assert_eq!(run(AUC::exact(), &y, &p, None), 0.75);
    // The 200 thresholds separate every pair of scores here, so the trapezoids are exact.
    assert!(close(run(AUC::new(), &y, &p, None), 0.75));
    // Ties count one half: positive 0.5 vs negative 0.5 → (1 + 0.5) / 2 with a lower negative.
    let yt = t(&[0., 0., 1.], &[3]);
    let pt = t(&[0.5, 0.2, 0.5], &[3]);
    assert_eq!(run(AUC::exact(), &yt, &pt, None), 0.75);
    assert!(close(run(AUC::new(), &yt, &pt, None), 0.75));
    // Weights: the negative at 0.4 (the only misordered pair) weighs 3 → (1·2 + 3·1) / (2·4)…
    // pairs: pos 0.35 beats neg 0.1 (w 1) but not neg 0.4 (w 3); pos 0.8 beats both.
    let w = t(&[1., 3., 1., 1.], &[4]);
    assert!(close(
        run(AUC::exact(), &y, &p, Some(&w)),
        (1.0 + 4.0) / 8.0
    ));
    assert!(close(run(AUC::new(), &y, &p, Some(&w)), (1.0 + 4.0) / 8.0));
    // Logits: a sigmoid first (monotone, so the exact area is unchanged).
    let logits = t(&[-2.0, 0.3, 0.1, 3.0], &[4]);
    assert_eq!(run(AUC::exact().from_logits(true), &y, &logits, None), 0.75);
    assert!(close(
        run(AUC::new().from_logits(true), &y, &logits, None),
        0.75
    ));
    // One class only: 0.
    assert_eq!(
        run(AUC::new(), &t(&[1., 1.], &[2]), &t(&[0.2, 0.9], &[2]), None),
        0.0
    );
    // Keras' threshold grid.
    let auc = AUC::new();
    let th = auc.thresholds();
    assert_eq!(th.len(), 200);
    assert_eq!(th[0], -1e-7);
    assert_eq!(th[1], 1.0 / 199.0);
    assert_eq!(th[198], 198.0 / 199.0);
    assert_eq!(th[199], 1.0 + 1e-7);
    // Coarse grid: 3 thresholds [−ε, 0.5, 1 + ε]; scores 0.1, 0.4 | 0.35, 0.8 → points
    // (FPR, TPR) = (1, 1), (0, 0.5), (0, 0) → area (1 − 0)·(1 + 0.5)/2 = 0.75.
    assert!(close(run(AUC::new().num_thresholds(3), &y, &p, None), 0.75));
    let mut bad = AUC::new().num_thresholds(1);
    assert!(Metric::<f64>::update(&mut bad, &y, &p, None).is_err());
}

#[test]
fn auc_sampled_is_close_to_exact_on_random_data() {
    let n = 2000;
    let labels =
        Tensor::<f64>::rand_uniform([n], 0.0, 1.0, 7).map(|v| if v > 0.6 { 1.0 } else { 0.0 });
    let noise = Tensor::<f64>::rand_uniform([n], 0.0, 1.0, 8);
    let scores = labels.mul_scalar(0.3).add(&noise.mul_scalar(0.7)).unwrap();
    let exact = run(AUC::exact(), &labels, &scores, None);
    let sampled = run(AUC::new(), &labels, &scores, None);
    assert!(
        exact > 0.7 && (exact - sampled).abs() < 2e-3,
        "exact {exact}, sampled {sampled}"
    );
}

/// Every metric: several batches give the result of one update, weights included; reset
/// forgets; a clone keeps the state.
#[test]
fn streaming_equals_one_update() {
    let n = 10;
    let scores = Tensor::<f64>::rand_uniform([n, 4], 0.0, 1.0, 1);
    let probs = scores.softmax(-1).unwrap();
    let labels = Tensor::<f64>::rand_uniform([n], 0.0, 4.0, 2).floor();
    let onehot = labels.one_hot_tensor(4).unwrap();
    let bin_y = Tensor::<f64>::rand_uniform([n, 1], 0.0, 1.0, 3).round();
    let bin_p = Tensor::<f64>::rand_uniform([n, 1], 0.0, 1.0, 4);
    let w = Tensor::<f64>::rand_uniform([n], 0.0, 2.0, 5);
    type Case = (Box<dyn Metric<f64>>, Tensor<f64>, Tensor<f64>);
    let cases: Vec<Case> = vec![
        (Box::new(Accuracy::new()), bin_y.clone(), bin_p.round()),
        (
            Box::new(BinaryAccuracy::new()),
            bin_y.clone(),
            bin_p.clone(),
        ),
        (
            Box::new(CategoricalAccuracy::new()),
            onehot.clone(),
            probs.clone(),
        ),
        (
            Box::new(SparseCategoricalAccuracy::new()),
            labels.clone(),
            probs.clone(),
        ),
        (
            Box::new(TopKCategoricalAccuracy::new().k(2)),
            onehot.clone(),
            probs.clone(),
        ),
        (
            Box::new(SparseTopKCategoricalAccuracy::new().k(2)),
            labels.clone(),
            probs.clone(),
        ),
        (Box::new(Precision::new()), bin_y.clone(), bin_p.clone()),
        (Box::new(Recall::new()), bin_y.clone(), bin_p.clone()),
        (
            Box::new(Precision::new().class_id(2)),
            labels.clone(),
            probs.map(|v| v * 2.0),
        ),
        (
            Box::new(F1Score::macro_avg(4)),
            labels.clone(),
            probs.clone(),
        ),
        (
            Box::new(F1Score::weighted_avg(4)),
            onehot.clone(),
            probs.clone(),
        ),
        (
            Box::new(ConfusionMatrix::new(4)),
            labels.clone(),
            probs.clone(),
        ),
        (
            Box::new(MeanSquaredError::new()),
            onehot.clone(),
            probs.clone(),
        ),
        (
            Box::new(MeanAbsoluteError::new()),
            onehot.clone(),
            probs.clone(),
        ),
        (Box::new(AUC::new()), bin_y.clone(), bin_p.clone()),
        (Box::new(AUC::exact()), bin_y.clone(), bin_p.clone()),
        (Box::new(Mean::new()), bin_y.clone(), bin_p.clone()),
    ];
    let split = |x: &Tensor<f64>| -> Vec<Tensor<f64>> {
        x.split(0, &[3, 3, 4])
            .unwrap()
            .into_iter()
            .map(|t| t.contiguous())
            .collect()
    };
    for (metric, y, p) in cases {
        for weights in [None, Some(&w)] {
            let mut whole = metric.clone_box();
            whole.reset();
            whole.update(&y, &p, weights).unwrap();
            let mut parts = metric.clone_box();
            parts.reset();
            let ws = weights.map(split);
            for (i, (yb, pb)) in split(&y).iter().zip(split(&p)).enumerate() {
                parts.update(yb, &pb, ws.as_ref().map(|w| &w[i])).unwrap();
            }
            let (a, b) = (whole.result(), parts.result());
            assert!((a - b).abs() < 1e-12, "{}: {a} vs {b}", metric.name());
            assert!(a.is_finite(), "{}", metric.name());
            // A clone carries the state; reset forgets it.
            let copy = parts.clone();
            assert_eq!(copy.result(), b);
            parts.reset();
            assert_eq!(parts.result(), 0.0, "{}", metric.name());
            assert_eq!(copy.result(), b);
        }
        // Zero weight on a sample equals leaving it out.
        let mut zero = metric.clone_box();
        zero.reset();
        let mut wz = vec![1.0; n];
        wz[0] = 0.0;
        zero.update(&y, &p, Some(&Tensor::from_vec(wz, [n]).unwrap()))
            .unwrap();
        let mut without = metric.clone_box();
        without.reset();
        without
            .update(
                &y.slice_axis(0, 1, n).unwrap().contiguous(),
                &p.slice_axis(0, 1, n).unwrap().contiguous(),
                None,
            )
            .unwrap();
        assert!(
            (zero.result() - without.result()).abs() < 1e-12,
            "{}",
            metric.name()
        );
    }
}

#[test]
fn metric_from_name_for_every_name() {
    for &name in METRIC_NAMES {
        let m = metric_from_name::<f32>(name).unwrap();
        assert!(METRIC_NAMES.contains(&m.name()), "{name} → {}", m.name());
        assert_eq!(m.result(), 0.0);
    }
    for (alias, canonical) in [
        ("acc", "accuracy"),
        ("mse", "mean_squared_error"),
        ("MAE", "mean_absolute_error"),
        ("AUC", "auc"),
        ("F1Score", "f1_score"),
        ("SparseCategoricalAccuracy", "sparse_categorical_accuracy"),
    ] {
        assert_eq!(metric_from_name::<f64>(alias).unwrap().name(), canonical);
    }
    let e = metric_from_name::<f32>("accuracyy").unwrap_err();
    assert!(matches!(e, LossError::UnknownName { kind: "metric", .. }));
    // Keras' resolution of "accuracy" from shapes.
    assert_eq!(
        accuracy_for_shapes::<f32>(&[8, 1], &[8, 1]).name(),
        "binary_accuracy"
    );
    assert_eq!(
        accuracy_for_shapes::<f32>(&[8], &[8, 10]).name(),
        "sparse_categorical_accuracy"
    );
    assert_eq!(
        accuracy_for_shapes::<f32>(&[8, 1], &[8, 10]).name(),
        "sparse_categorical_accuracy"
    );
    assert_eq!(
        accuracy_for_shapes::<f32>(&[8, 10], &[8, 10]).name(),
        "categorical_accuracy"
    );
    // Named F1 and confusion matrix take their class count from the data.
    let mut f1 = metric_from_name::<f64>("f1_score").unwrap();
    f1.update(
        &t(&[0., 1.], &[2]),
        &t(&[0.9, 0.1, 0.2, 0.8], &[2, 2]),
        None,
    )
    .unwrap();
    assert_eq!(f1.result(), 1.0);
}

#[test]
fn metric_errors() {
    let mut acc = CategoricalAccuracy::new();
    let e = Metric::<f64>::update(
        &mut acc,
        &Tensor::zeros([4, 3]),
        &Tensor::zeros([4, 5]),
        None,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "categorical_accuracy: y_true shape [4, 3] does not match y_pred shape [4, 5]"
    );
    let mut sparse = SparseCategoricalAccuracy::new();
    let e = Metric::<f64>::update(
        &mut sparse,
        &t(&[0., 7.], &[2]),
        &Tensor::zeros([2, 3]),
        None,
    )
    .unwrap_err();
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
    let e = Metric::<f64>::update(
        &mut sparse,
        &t(&[0., 1.], &[2]),
        &Tensor::zeros([2, 3]),
        Some(&t(&[1.], &[1])),
    )
    .unwrap_err();
    assert!(matches!(e, LossError::SampleWeight { .. }), "{e}");
    let mut bin = BinaryAccuracy::new();
    let e = Metric::<f64>::update(&mut bin, &Tensor::zeros([3]), &Tensor::zeros([4]), None)
        .unwrap_err();
    assert!(matches!(e, LossError::ShapeMismatch { .. }), "{e}");
    let e =
        Metric::<f64>::update(&mut bin, &Tensor::zeros([]), &Tensor::zeros([]), None).unwrap_err();
    assert!(matches!(e, LossError::Rank { .. }), "{e}");
    // Failed updates leave the state untouched.
    assert_eq!(Metric::<f64>::result(&sparse), 0.0);
    let mut cm = ConfusionMatrix::new(2);
    assert!(Metric::<f64>::update(&mut cm, &t(&[0.], &[1]), &Tensor::zeros([1, 3]), None).is_err());
}
