//! Metrics from confusion counts: precision, recall, F1 score and the confusion matrix.

use nn_tensor::{Float, Tensor};

use super::{argmax, weights, Metric};
use crate::kernel::{aligned, class_axis, label_index, labels};
use crate::{LossError, Result};

/// `a / b`, or 0 when `b` is 0 (Keras' `divide_no_nan`).
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// Weighted true-positive, false-positive and false-negative counts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Counts {
    tp: f64,
    fp: f64,
    fn_: f64,
}

impl Counts {
    fn add(&mut self, truth: bool, predicted: bool, w: f64) {
        match (truth, predicted) {
            (true, true) => self.tp += w,
            (false, true) => self.fp += w,
            (true, false) => self.fn_ += w,
            (false, false) => {}
        }
    }
}

/// Folds a batch into binary counts: every element of `y_pred` (`> threshold` is positive)
/// against `y_true` (non-zero is positive), or, with a class id, that class' column of
/// `[batch, ..., classes]` scores against a one-hot column or integer labels.
fn binary_update<T: Float>(
    name: &str,
    counts: &mut Counts,
    y_true: &Tensor<T>,
    y_pred: &Tensor<T>,
    sample_weight: Option<&Tensor<T>>,
    threshold: f64,
    class_id: Option<usize>,
) -> Result<()> {
    let w = weights(name, sample_weight, y_pred.shape())?;
    let p = y_pred.to_f64_vec();
    let mut batch_counts = Counts::default();
    match class_id {
        None => {
            let y = aligned(name, y_true, y_pred.shape())?.to_f64_vec();
            let per = p.len().checked_div(w.len()).unwrap_or(0);
            for (k, (&yv, &pv)) in y.iter().zip(&p).enumerate() {
                batch_counts.add(yv != 0.0, pv > threshold, w[k / per]);
            }
        }
        Some(id) => {
            let c = class_axis(name, y_pred.shape())?;
            if id >= c {
                return Err(LossError::config(
                    name,
                    format!(
                        "class_id {id} is out of range for y_pred shape {:?}",
                        y_pred.shape()
                    ),
                ));
            }
            let truth: Vec<bool> = if y_true.shape() == y_pred.shape() {
                let y = y_true.to_f64_vec();
                y.chunks(c).map(|row| row[id] != 0.0).collect()
            } else {
                labels(name, y_true, y_pred.shape())?
                    .into_iter()
                    .map(|l| l == id)
                    .collect()
            };
            let per = truth.len().checked_div(w.len()).unwrap_or(0);
            for (r, &t) in truth.iter().enumerate() {
                batch_counts.add(t, p[r * c + id] > threshold, w[r / per]);
            }
        }
    }
    counts.tp += batch_counts.tp;
    counts.fp += batch_counts.fp;
    counts.fn_ += batch_counts.fn_;
    Ok(())
}

macro_rules! binary_metric {
    ($(#[$doc:meta])* $ty:ident, $name:literal, |$c:ident| $result:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $ty {
            threshold: f64,
            class_id: Option<usize>,
            counts: Counts,
        }

        impl $ty {
            /// The Keras name.
            pub const NAME: &'static str = $name;

            /// Binary, threshold 0.5 (Keras' default).
            pub fn new() -> Self {
                $ty { threshold: 0.5, class_id: None, counts: Counts::default() }
            }

            /// The decision threshold: a prediction above it is positive.
            pub fn threshold(mut self, threshold: f64) -> Self {
                self.threshold = threshold;
                self
            }

            /// Restricts the metric to one class of `[batch, ..., classes]` predictions; the
            /// targets are one-hot (`y_pred`'s shape) or integer labels.
            pub fn class_id(mut self, class_id: usize) -> Self {
                self.class_id = Some(class_id);
                self
            }

            /// The weighted true positives so far.
            pub fn true_positives(&self) -> f64 {
                self.counts.tp
            }

            /// The weighted false positives so far.
            pub fn false_positives(&self) -> f64 {
                self.counts.fp
            }

            /// The weighted false negatives so far.
            pub fn false_negatives(&self) -> f64 {
                self.counts.fn_
            }

            /// The value so far.
            pub fn value(&self) -> f64 {
                let $c = &self.counts;
                $result
            }
        }

        impl Default for $ty {
            fn default() -> Self {
                Self::new()
            }
        }

        impl<T: Float> Metric<T> for $ty {
            fn name(&self) -> &str {
                Self::NAME
            }

            fn update(&mut self, y_true: &Tensor<T>, y_pred: &Tensor<T>, sample_weight: Option<&Tensor<T>>) -> Result<()> {
                binary_update(Self::NAME, &mut self.counts, y_true, y_pred, sample_weight, self.threshold, self.class_id)
            }

            fn result(&self) -> f64 {
                self.value()
            }

            fn reset(&mut self) {
                self.counts = Counts::default();
            }

            fn clone_box(&self) -> Box<dyn Metric<T>> {
                Box::new(self.clone())
            }
        }
    };
}

binary_metric!(
    /// `TP / (TP + FP)` (0 without any positive prediction), as Keras' `Precision`: a
    /// prediction above the threshold (default 0.5) is positive, a non-zero target is positive.
    Precision,
    "precision",
    |c| ratio(c.tp, c.tp + c.fp)
);

binary_metric!(
    /// `TP / (TP + FN)` (0 without any positive target), as Keras' `Recall`: a prediction
    /// above the threshold (default 0.5) is positive, a non-zero target is positive.
    Recall,
    "recall",
    |c| ratio(c.tp, c.tp + c.fn_)
);

/// How [`F1Score`] combines the per-class scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum F1Average {
    /// The unweighted mean of the per-class F1 scores.
    Macro,
    /// The F1 score of the counts summed over classes.
    Micro,
    /// The mean of the per-class F1 scores weighted by each class' (weighted) support.
    Weighted,
    /// The F1 score of one class.
    Class(usize),
}

/// The F1 score (harmonic mean of precision and recall), per class and averaged, as Keras'
/// `F1Score`. Predictions `[batch, ..., classes]`: without a threshold a row predicts the
/// class(es) with the highest score (an all-zero row predicts none), with one every class
/// whose score is above it. Targets are one-hot (or multi-label) with `y_pred`'s shape, or
/// integer labels. A class with no positive prediction and no target scores 0.
///
/// ```
/// use nn_losses::metrics::{F1Score, Metric};
/// use nn_tensor::Tensor;
/// let mut f1 = F1Score::macro_avg(2);
/// let scores = Tensor::<f64>::from_f64s(&[0.9, 0.1, 0.2, 0.8, 0.7, 0.3], [3, 2])?;
/// f1.update(&Tensor::from_f64s(&[0.0, 1.0, 1.0], [3])?, &scores, None)?;
/// // class 0: TP 1, FP 1, FN 0 → F1 2/3; class 1: TP 1, FP 0, FN 1 → F1 2/3
/// assert!((f1.value() - 2.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), nn_losses::LossError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct F1Score {
    average: F1Average,
    num_classes: Option<usize>,
    threshold: Option<f64>,
    counts: Vec<Counts>,
    support: Vec<f64>,
}

impl F1Score {
    /// The Keras name.
    pub const NAME: &'static str = "f1_score";

    /// An F1 score with the given averaging; the class count comes from the first batch.
    pub fn new(average: F1Average) -> Self {
        F1Score {
            average,
            num_classes: None,
            threshold: None,
            counts: Vec::new(),
            support: Vec::new(),
        }
    }

    /// The macro average over `num_classes` classes.
    pub fn macro_avg(num_classes: usize) -> Self {
        Self::new(F1Average::Macro).num_classes(num_classes)
    }

    /// The micro average over `num_classes` classes.
    pub fn micro_avg(num_classes: usize) -> Self {
        Self::new(F1Average::Micro).num_classes(num_classes)
    }

    /// The support-weighted average over `num_classes` classes.
    pub fn weighted_avg(num_classes: usize) -> Self {
        Self::new(F1Average::Weighted).num_classes(num_classes)
    }

    /// The F1 score of class `class_id` among `num_classes`.
    pub fn for_class(num_classes: usize, class_id: usize) -> Self {
        Self::new(F1Average::Class(class_id)).num_classes(num_classes)
    }

    /// Fixes the class count (the size of `y_pred`'s last axis).
    pub fn num_classes(mut self, num_classes: usize) -> Self {
        self.num_classes = Some(num_classes);
        self.counts = vec![Counts::default(); num_classes];
        self.support = vec![0.0; num_classes];
        self
    }

    /// Predicts every class whose score is above `threshold` instead of the top class.
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// The F1 score of each class so far.
    pub fn per_class(&self) -> Vec<f64> {
        self.counts.iter().map(|c| f1(c.tp, c.fp, c.fn_)).collect()
    }

    /// The value so far, averaged as configured.
    pub fn value(&self) -> f64 {
        let per_class = self.per_class();
        match self.average {
            F1Average::Macro => ratio(per_class.iter().sum(), per_class.len() as f64),
            F1Average::Micro => {
                let tp = self.counts.iter().map(|c| c.tp).sum();
                let fp = self.counts.iter().map(|c| c.fp).sum();
                let fn_ = self.counts.iter().map(|c| c.fn_).sum();
                f1(tp, fp, fn_)
            }
            F1Average::Weighted => {
                let total: f64 = self.support.iter().sum();
                ratio(
                    per_class
                        .iter()
                        .zip(&self.support)
                        .map(|(f, s)| f * s)
                        .sum(),
                    total,
                )
            }
            F1Average::Class(id) => per_class.get(id).copied().unwrap_or(0.0),
        }
    }
}

/// `2·P·R / (P + R)` from counts (0 when undefined).
fn f1(tp: f64, fp: f64, fn_: f64) -> f64 {
    let (p, r) = (ratio(tp, tp + fp), ratio(tp, tp + fn_));
    ratio(2.0 * p * r, p + r)
}

/// The class count: the configured one, which must equal `found` (the size of `y_pred`'s
/// class axis), or `found` for a metric that takes it from its first batch.
fn check_classes(
    name: &str,
    num_classes: Option<usize>,
    found: usize,
    shape: &[usize],
) -> Result<usize> {
    match num_classes {
        Some(n) if n != found => Err(LossError::config(
            name,
            format!("configured for {n} classes, got y_pred of shape {shape:?}"),
        )),
        _ => Ok(found),
    }
}

impl<T: Float> Metric<T> for F1Score {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn update(
        &mut self,
        y_true: &Tensor<T>,
        y_pred: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        let shape = y_pred.shape();
        let w = weights(Self::NAME, sample_weight, shape)?;
        let c = class_axis(Self::NAME, shape)?;
        let n = check_classes(Self::NAME, self.num_classes, c, shape)?;
        if let F1Average::Class(id) = self.average {
            if id >= n {
                return Err(LossError::config(
                    Self::NAME,
                    format!("class {id} is out of range for {n} classes"),
                ));
            }
        }
        let p = y_pred.to_f64_vec();
        let y: Vec<f64> = if y_true.shape() == shape {
            y_true.to_f64_vec()
        } else {
            let l = labels(Self::NAME, y_true, shape)?;
            let mut onehot = vec![0.0; l.len() * c];
            for (r, &k) in l.iter().enumerate() {
                onehot[r * c + k] = 1.0;
            }
            onehot
        };
        self.num_classes = Some(n);
        if self.counts.len() != n {
            self.counts = vec![Counts::default(); n];
            self.support = vec![0.0; n];
        }
        let rows = p.len().checked_div(c).unwrap_or(0);
        let per = rows.checked_div(w.len()).unwrap_or(0);
        for r in 0..rows {
            let (pr, yr) = (&p[r * c..(r + 1) * c], &y[r * c..(r + 1) * c]);
            let wr = w[r / per];
            let top = pr.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
            for j in 0..c {
                let predicted = match self.threshold {
                    Some(t) => pr[j] > t,
                    None => pr[j] >= top && pr[j].abs() > 1e-9,
                };
                let (pred, truth) = (if predicted { 1.0 } else { 0.0 }, yr[j]);
                let cj = &mut self.counts[j];
                cj.tp += wr * pred * truth;
                cj.fp += wr * pred * (1.0 - truth);
                cj.fn_ += wr * (1.0 - pred) * truth;
                self.support[j] += wr * truth;
            }
        }
        Ok(())
    }

    fn result(&self) -> f64 {
        self.value()
    }

    fn reset(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = Counts::default());
        self.support.iter_mut().for_each(|s| *s = 0.0);
    }

    fn clone_box(&self) -> Box<dyn Metric<T>> {
        Box::new(self.clone())
    }
}

/// The confusion matrix: weighted counts of (true class, predicted class) pairs; its result
/// is the accuracy (the diagonal's share).
///
/// Predictions are `[batch, ..., classes]` scores (the argmax is predicted) or, for two
/// classes, probabilities of class 1 with the targets' shape (above 0.5 predicts 1), or
/// integer class predictions with the targets' shape. Targets are integer labels or one-hot
/// rows of the scores' shape.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfusionMatrix {
    num_classes: Option<usize>,
    counts: Vec<f64>,
}

impl ConfusionMatrix {
    /// The name.
    pub const NAME: &'static str = "confusion_matrix";

    /// A `num_classes × num_classes` matrix.
    pub fn new(num_classes: usize) -> Self {
        ConfusionMatrix {
            num_classes: Some(num_classes),
            counts: vec![0.0; num_classes * num_classes],
        }
    }

    /// A matrix whose class count comes from the first batch (the scores' last axis, or 2
    /// for predictions without a class axis).
    pub fn inferred() -> Self {
        ConfusionMatrix {
            num_classes: None,
            counts: Vec::new(),
        }
    }

    /// The class count, once known.
    pub fn num_classes(&self) -> Option<usize> {
        self.num_classes
    }

    /// Row `i`, column `j`: the weight of samples of true class `i` predicted as `j`.
    pub fn matrix(&self) -> Vec<Vec<f64>> {
        let n = self.num_classes.unwrap_or(0);
        if n == 0 {
            return Vec::new();
        }
        self.counts.chunks(n).map(|r| r.to_vec()).collect()
    }

    /// The accuracy so far: the diagonal over the total (0 before any data).
    pub fn value(&self) -> f64 {
        let n = self.num_classes.unwrap_or(0);
        let diag: f64 = (0..n).map(|i| self.counts[i * n + i]).sum();
        ratio(diag, self.counts.iter().sum())
    }
}

impl<T: Float> Metric<T> for ConfusionMatrix {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn update(
        &mut self,
        y_true: &Tensor<T>,
        y_pred: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        const NAME: &str = ConfusionMatrix::NAME;
        let shape = y_pred.shape();
        let w = weights(NAME, sample_weight, shape)?;
        let scores = shape.len() >= 2 && shape[shape.len() - 1] > 1;
        let found = if scores {
            shape[shape.len() - 1]
        } else {
            self.num_classes.unwrap_or(2)
        };
        let n = check_classes(NAME, self.num_classes, found, shape)?;
        let p = y_pred.to_f64_vec();
        let (truth, predicted): (Vec<usize>, Vec<usize>) = if scores {
            let truth = if y_true.shape() == shape {
                y_true.to_f64_vec().chunks(n).map(argmax).collect()
            } else {
                labels(NAME, y_true, shape)?
            };
            (truth, p.chunks(n).map(argmax).collect())
        } else {
            let y = aligned(NAME, y_true, shape)?.to_f64_vec();
            let truth = y
                .iter()
                .enumerate()
                .map(|(i, &v)| label_index(NAME, v, i, n))
                .collect::<Result<Vec<_>>>()?;
            let predicted = if n == 2 {
                p.iter().map(|&v| usize::from(v > 0.5)).collect()
            } else {
                p.iter()
                    .enumerate()
                    .map(|(i, &v)| label_index(NAME, v, i, n))
                    .collect::<Result<Vec<_>>>()?
            };
            (truth, predicted)
        };
        self.num_classes = Some(n);
        if self.counts.len() != n * n {
            self.counts = vec![0.0; n * n];
        }
        let per = truth.len().checked_div(w.len()).unwrap_or(0);
        for (r, (&t, &q)) in truth.iter().zip(&predicted).enumerate() {
            self.counts[t * n + q] += w[r / per];
        }
        Ok(())
    }

    fn result(&self) -> f64 {
        self.value()
    }

    fn reset(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0.0);
    }

    fn clone_box(&self) -> Box<dyn Metric<T>> {
        Box::new(self.clone())
    }
}
