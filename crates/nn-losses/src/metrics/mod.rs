//! Streaming metrics, after Keras' `keras.metrics`.
//!
//! A [`Metric`] accumulates over batches: [`Metric::update`] folds a batch in,
//! [`Metric::result`] reports the value over everything seen since the last
//! [`Metric::reset`]. Updating batch by batch gives the same result as one update with all
//! the data. Per-sample weights (`[batch]` or `[batch, 1]`) weight each sample as in Keras.
//! State is kept in `f64`.
//!
//! | metric | name | inputs |
//! |---|---|---|
//! | [`Accuracy`] | `accuracy` | exact match of values |
//! | [`BinaryAccuracy`] | `binary_accuracy` | `y_pred > threshold` against 0/1 |
//! | [`CategoricalAccuracy`] | `categorical_accuracy` | argmax of one-hot vs argmax of scores |
//! | [`SparseCategoricalAccuracy`] | `sparse_categorical_accuracy` | integer label vs argmax |
//! | [`TopKCategoricalAccuracy`] | `top_k_categorical_accuracy` | one-hot in the top k |
//! | [`SparseTopKCategoricalAccuracy`] | `sparse_top_k_categorical_accuracy` | label in the top k |
//! | [`Precision`], [`Recall`] | `precision`, `recall` | binary with a threshold, or one class |
//! | [`F1Score`] | `f1_score` | per class, macro / micro / weighted average |
//! | [`ConfusionMatrix`] | `confusion_matrix` | counts per (true, predicted) class |
//! | [`MeanSquaredError`], [`MeanAbsoluteError`] | `mean_squared_error`, `mean_absolute_error` | values |
//! | [`AUC`] | `auc` | area under the ROC curve (200 thresholds, or exact) |
//! | [`Mean`] | `mean` | running weighted mean of a value (a loss) |

mod accuracy;
mod auc;
mod confusion;
mod mean;

use nn_tensor::{Float, Tensor};

use crate::kernel::batch_of;
use crate::loss::sample_weights;
use crate::{LossError, Result};

pub use accuracy::{
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy,
};
pub use auc::AUC;
pub use confusion::{ConfusionMatrix, F1Average, F1Score, Precision, Recall};
pub use mean::{Mean, MeanAbsoluteError, MeanSquaredError};

/// A streaming metric: update per batch, read the result, reset.
///
/// ```
/// use nn_losses::metrics::{Metric, SparseCategoricalAccuracy};
/// use nn_tensor::Tensor;
///
/// let mut acc = SparseCategoricalAccuracy::new();
/// let scores = Tensor::<f32>::from_f64s(&[0.9, 0.1, 0.2, 0.8], [2, 2])?;
/// Metric::<f32>::update(&mut acc, &Tensor::from_f64s(&[0.0, 0.0], [2])?, &scores, None)?;
/// assert_eq!(Metric::<f32>::result(&acc), 0.5);
/// # Ok::<(), nn_losses::LossError>(())
/// ```
pub trait Metric<T: Float = f32>: Send + Sync + std::fmt::Debug {
    /// The Keras name (`"accuracy"`, `"sparse_categorical_accuracy"`, `"precision"`, ...).
    fn name(&self) -> &str;

    /// Folds in one batch: targets, predictions (axis 0 the batch) and optional per-sample
    /// weights `[batch]`.
    fn update(
        &mut self,
        y_true: &Tensor<T>,
        y_pred: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()>;

    /// The value over everything seen since the last reset (`0` before any data).
    fn result(&self) -> f64;

    /// Forgets everything seen (the configuration stays).
    fn reset(&mut self);

    /// A boxed copy, state included.
    fn clone_box(&self) -> Box<dyn Metric<T>>;
}

impl<T: Float> Clone for Box<dyn Metric<T>> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Implements `name`, `result`, `reset` and `clone_box` from inherent methods.
macro_rules! metric_common {
    () => {
        fn name(&self) -> &str {
            Self::NAME
        }

        fn result(&self) -> f64 {
            self.value()
        }

        fn reset(&mut self) {
            self.clear();
        }

        fn clone_box(&self) -> Box<dyn $crate::Metric<T>> {
            Box::new(self.clone())
        }
    };
}
pub(crate) use metric_common;

/// One weight per sample (ones without weights), checked against `y_pred`'s batch.
pub(crate) fn weights<T: Float>(
    name: &str,
    sample_weight: Option<&Tensor<T>>,
    y_pred: &[usize],
) -> Result<Vec<f64>> {
    let batch = batch_of(name, y_pred)?;
    match sample_weight {
        Some(w) => Ok(sample_weights(name, w, y_pred)?.to_f64_vec()),
        None => Ok(vec![1.0; batch]),
    }
}

/// A running weighted mean `Σ w·v / Σ w` (0 while `Σ w = 0`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Running {
    pub(crate) total: f64,
    pub(crate) count: f64,
}

impl Running {
    pub(crate) fn add(&mut self, value: f64, weight: f64) {
        self.total += weight * value;
        self.count += weight;
    }

    pub(crate) fn value(&self) -> f64 {
        if self.count == 0.0 {
            0.0
        } else {
            self.total / self.count
        }
    }
}

/// Adds one value per sample: `per_sample[i]` with weight `w[i]`.
pub(crate) fn add_samples(running: &mut Running, per_sample: &[f64], w: &[f64]) {
    for (&v, &wi) in per_sample.iter().zip(w) {
        running.add(v, wi);
    }
}

/// The index of the first maximum of a row (NaN never wins over a number; 0 when empty).
pub(crate) fn argmax(row: &[f64]) -> usize {
    let mut best: Option<(usize, f64)> = None;
    for (j, &v) in row.iter().enumerate() {
        match best {
            Some((_, b)) if !(v > b || (b.is_nan() && !v.is_nan())) => {}
            _ => best = Some((j, v)),
        }
    }
    best.map_or(0, |(j, _)| j)
}

/// Mean over the `chunk`-sized pieces of each sample of `f(piece_index)`, one value per sample.
pub(crate) fn per_sample_mean(
    batch: usize,
    pieces: usize,
    mut f: impl FnMut(usize) -> f64,
) -> Vec<f64> {
    let per = pieces.checked_div(batch).unwrap_or(0);
    (0..batch)
        .map(|i| {
            if per == 0 {
                0.0
            } else {
                (0..per).map(|t| f(i * per + t)).sum::<f64>() / per as f64
            }
        })
        .collect()
}

/// Every name [`metric_from_name`] accepts.
pub const METRIC_NAMES: &[&str] = &[
    "accuracy",
    "acc",
    "Accuracy",
    "binary_accuracy",
    "BinaryAccuracy",
    "categorical_accuracy",
    "CategoricalAccuracy",
    "sparse_categorical_accuracy",
    "SparseCategoricalAccuracy",
    "top_k_categorical_accuracy",
    "TopKCategoricalAccuracy",
    "sparse_top_k_categorical_accuracy",
    "SparseTopKCategoricalAccuracy",
    "precision",
    "Precision",
    "recall",
    "Recall",
    "f1_score",
    "F1Score",
    "confusion_matrix",
    "ConfusionMatrix",
    "auc",
    "AUC",
    "mean_squared_error",
    "MeanSquaredError",
    "mse",
    "MSE",
    "mean_absolute_error",
    "MeanAbsoluteError",
    "mae",
    "MAE",
    "mean",
    "Mean",
];

/// A built-in metric with its Keras defaults, by Keras name, class name or alias (see
/// [`METRIC_NAMES`]). `"accuracy"` is the exact-match [`Accuracy`]; use
/// [`accuracy_for_shapes`] for Keras' `compile(metrics=["accuracy"])` resolution.
/// `"f1_score"` (macro average) and `"confusion_matrix"` take their class count from the
/// first batch.
///
/// ```
/// let m = nn_losses::metric_from_name::<f32>("acc")?;
/// assert_eq!(m.name(), "accuracy");
/// # Ok::<(), nn_losses::LossError>(())
/// ```
pub fn metric_from_name<T: Float>(name: &str) -> Result<Box<dyn Metric<T>>> {
    Ok(match name {
        "accuracy" | "acc" | "Accuracy" => Box::new(Accuracy::new()),
        "binary_accuracy" | "BinaryAccuracy" => Box::new(BinaryAccuracy::new()),
        "categorical_accuracy" | "CategoricalAccuracy" => Box::new(CategoricalAccuracy::new()),
        "sparse_categorical_accuracy" | "SparseCategoricalAccuracy" => {
            Box::new(SparseCategoricalAccuracy::new())
        }
        "top_k_categorical_accuracy" | "TopKCategoricalAccuracy" => {
            Box::new(TopKCategoricalAccuracy::new())
        }
        "sparse_top_k_categorical_accuracy" | "SparseTopKCategoricalAccuracy" => {
            Box::new(SparseTopKCategoricalAccuracy::new())
        }
        "precision" | "Precision" => Box::new(Precision::new()),
        "recall" | "Recall" => Box::new(Recall::new()),
        "f1_score" | "F1Score" => Box::new(F1Score::new(F1Average::Macro)),
        "confusion_matrix" | "ConfusionMatrix" => Box::new(ConfusionMatrix::inferred()),
        "auc" | "AUC" => Box::new(AUC::new()),
        "mean_squared_error" | "MeanSquaredError" | "mse" | "MSE" => {
            Box::new(MeanSquaredError::new())
        }
        "mean_absolute_error" | "MeanAbsoluteError" | "mae" | "MAE" => {
            Box::new(MeanAbsoluteError::new())
        }
        "mean" | "Mean" => Box::new(Mean::new()),
        _ => {
            return Err(LossError::UnknownName {
                kind: "metric",
                name: name.to_string(),
                known: METRIC_NAMES.join(", "),
            })
        }
    })
}

/// The accuracy Keras picks for `metrics=["accuracy"]` from the shapes of the targets and
/// predictions: [`BinaryAccuracy`] when `y_pred`'s last axis has size 1,
/// [`SparseCategoricalAccuracy`] when `y_true` has a lower rank than `y_pred` (or a last
/// axis of 1 against several classes), else [`CategoricalAccuracy`].
pub fn accuracy_for_shapes<T: Float>(y_true: &[usize], y_pred: &[usize]) -> Box<dyn Metric<T>> {
    let pred_last = y_pred.last().copied().unwrap_or(1);
    let true_last = y_true.last().copied().unwrap_or(1);
    if pred_last == 1 || y_pred.len() < 2 {
        Box::new(BinaryAccuracy::new())
    } else if y_true.len() < y_pred.len() || (true_last == 1 && pred_last > 1) {
        Box::new(SparseCategoricalAccuracy::new())
    } else {
        Box::new(CategoricalAccuracy::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_first_maximum_and_nan() {
        assert_eq!(argmax(&[]), 0);
        assert_eq!(argmax(&[0.2, 0.7, 0.7, 0.1]), 1);
        assert_eq!(argmax(&[f64::NAN, 0.1, 0.3]), 2);
        assert_eq!(argmax(&[0.4, f64::NAN, 0.3]), 0);
        assert_eq!(argmax(&[f64::NAN, f64::NAN]), 0);
    }

    #[test]
    fn running_mean_is_zero_without_weight() {
        let mut r = Running::default();
        assert_eq!(r.value(), 0.0);
        r.add(3.0, 0.0);
        assert_eq!(r.value(), 0.0);
        r.add(3.0, 2.0);
        r.add(0.0, 1.0);
        assert_eq!(r.value(), 2.0);
    }
}
