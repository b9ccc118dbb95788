//! Property tests: the three cross-entropy formulations agree, cross-entropy from logits is
//! invariant to shifting a row, and metrics stream: any batch split gives the same result.

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nn_autograd::Var;
use nn_losses::metrics::{F1Score, Metric, SparseCategoricalAccuracy, AUC};
use nn_losses::{
    CategoricalCrossentropy, Loss, NegativeLogLikelihood, SparseCategoricalCrossentropy,
};
use nn_tensor::Tensor;
use proptest::prelude::*;

type Case<'a> = (Box<dyn Metric<f64>>, &'a Tensor<f64>, &'a Tensor<f64>);

fn logits_and_labels() -> impl Strategy<Value = (usize, usize, Vec<f64>, Vec<usize>)> {
    (1usize..6, 2usize..6).prop_flat_map(|(n, c)| {
        (
            Just(n),
            Just(c),
            prop::collection::vec(-30.0f64..30.0, n * c),
            prop::collection::vec(0..c, n),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn crossentropies_agree_and_ignore_row_shifts((n, c, x, labels) in logits_and_labels(), shift in -50.0f64..50.0) {
        let logits = Tensor::<f64>::from_vec(x, [n, c]).unwrap();
        let y = Tensor::<f64>::from_vec(labels.iter().map(|&l| l as f64).collect(), [n]).unwrap();
        let onehot = Tensor::<f64>::one_hot(&labels, c).unwrap();
        let p = Var::param(logits.clone());
        let sparse = SparseCategoricalCrossentropy::new().from_logits(true).per_sample(&y, &p).unwrap();
        let dense = CategoricalCrossentropy::new().from_logits(true).per_sample(&onehot, &p).unwrap();
        let nll = NegativeLogLikelihood::new().per_sample(&y, &Var::param(logits.log_softmax(-1).unwrap())).unwrap();
        let shifted = SparseCategoricalCrossentropy::new()
            .from_logits(true)
            .per_sample(&y, &Var::param(logits.add_scalar(shift)))
            .unwrap();
        for other in [&dense, &nll, &shifted] {
            prop_assert!(sparse.value().allclose(other.value(), 1e-10, 1e-10), "{:?} vs {:?}", sparse.value(), other.value());
        }
        prop_assert!(sparse.value().to_vec().iter().all(|&l| l >= 0.0));
    }

    #[test]
    fn metrics_stream_over_any_split(
        (n, c, x, labels) in logits_and_labels(),
        cut in 0usize..6,
        weights in prop::collection::vec(0.0f64..2.0, 6),
    ) {
        let cut = cut.min(n);
        let scores = Tensor::<f64>::from_vec(x, [n, c]).unwrap().softmax(-1).unwrap();
        let y = Tensor::<f64>::from_vec(labels.iter().map(|&l| l as f64).collect(), [n]).unwrap();
        let w = Tensor::<f64>::from_vec(weights[..n].to_vec(), [n]).unwrap();
        let bin_y = y.map(|v| if v > 0.0 { 1.0 } else { 0.0 });
        let bin_p = scores.slice_axis(1, 0, 1).unwrap().contiguous();
        let metrics: Vec<Case<'_>> = vec![
            (Box::new(SparseCategoricalAccuracy::new()), &y, &scores),
            (Box::new(F1Score::macro_avg(c)), &y, &scores),
            (Box::new(AUC::new()), &bin_y, &bin_p),
            (Box::new(AUC::exact()), &bin_y, &bin_p),
        ];
        let part = |t: &Tensor<f64>, a: usize, b: usize| t.slice_axis(0, a, b).unwrap().contiguous();
        for (m, yt, pt) in metrics {
            let mut whole = m.clone();
            whole.update(yt, pt, Some(&w)).unwrap();
            let mut split = m.clone();
            for (a, b) in [(0, cut), (cut, n)] {
                split.update(&part(yt, a, b), &part(pt, a, b), Some(&part(&w, a, b))).unwrap();
            }
            prop_assert!((whole.result() - split.result()).abs() < 1e-12, "{}: {} vs {}", m.name(), whole.result(), split.result());
        }
    }
}
