//! Accuracy metrics.

use nn_tensor::{Float, Tensor};

use super::{add_samples, argmax, metric_common, per_sample_mean, weights, Metric, Running};
use crate::kernel::{aligned, batch_of, class_axis, labels, same_shape};
use crate::Result;

/// The fraction of each sample's elements for which `hit(y, p)` holds, for `y_true` aligned
/// to `y_pred`'s shape.
fn elementwise_hits<T: Float>(
    name: &str,
    y_true: &Tensor<T>,
    y_pred: &Tensor<T>,
    hit: impl Fn(f64, f64) -> bool,
) -> Result<Vec<f64>> {
    let batch = batch_of(name, y_pred.shape())?;
    let y = aligned(name, y_true, y_pred.shape())?;
    let (ys, ps) = (y.to_f64_vec(), y_pred.to_f64_vec());
    Ok(per_sample_mean(batch, ps.len(), |k| {
        if hit(ys[k], ps[k]) {
            1.0
        } else {
            0.0
        }
    }))
}

/// Per-sample hit rates over the class rows of `y_pred` (`[batch, ..., classes]`), given the
/// target class of each row.
fn row_hits(
    batch: usize,
    classes: usize,
    scores: &[f64],
    targets: &[usize],
    hit: impl Fn(&[f64], usize) -> bool,
) -> Vec<f64> {
    per_sample_mean(batch, targets.len(), |r| {
        if hit(&scores[r * classes..(r + 1) * classes], targets[r]) {
            1.0
        } else {
            0.0
        }
    })
}

/// The argmax of every row of a one-hot `y_true` of `y_pred`'s shape.
fn onehot_targets<T: Float>(
    name: &str,
    y_true: &Tensor<T>,
    y_pred: &Tensor<T>,
) -> Result<Vec<usize>> {
    let c = class_axis(name, y_pred.shape())?;
    let y = same_shape(name, y_true, y_pred.shape())?.to_f64_vec();
    Ok(if c == 0 {
        Vec::new()
    } else {
        y.chunks(c).map(argmax).collect()
    })
}

/// Whether `target` is among the `k` highest scores: fewer than `k` scores beat it strictly
/// (ties count in its favour, as TensorFlow's `in_top_k`); a non-finite target score misses.
fn in_top_k(row: &[f64], target: usize, k: usize) -> bool {
    let s = row[target];
    s.is_finite() && row.iter().filter(|&&v| v > s).count() < k
}

macro_rules! running_metric {
    ($(#[$doc:meta])* $ty:ident, $name:literal { $($field:ident : $fty:ty = $default:expr),* }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $ty {
            $($field: $fty,)*
            running: Running,
        }

        impl $ty {
            /// The Keras name.
            pub const NAME: &'static str = $name;

            /// With Keras' defaults.
            pub fn new() -> Self {
                $ty { $($field: $default,)* running: Running::default() }
            }

            /// The value so far (also [`Metric::result`]).
            pub fn value(&self) -> f64 {
                self.running.value()
            }

            fn clear(&mut self) {
                self.running = Running::default();
            }
        }

        impl Default for $ty {
            fn default() -> Self {
                Self::new()
            }
        }
    };
}

running_metric!(
    /// The weighted fraction of predictions exactly equal to their targets, as Keras'
    /// `Accuracy` (element-wise; each sample counts with the mean over its elements).
    Accuracy,
    "accuracy" {}
);

impl<T: Float> Metric<T> for Accuracy {
    metric_common!();

    fn update(
        &mut self,
        y_true: &Tensor<T>,
        y_pred: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        let w = weights(Self::NAME, sample_weight, y_pred.shape())?;
        let hits = elementwise_hits(Self::NAME, y_true, y_pred, |y, p| y == p)?;
        add_samples(&mut self.running, &hits, &w);
        Ok(())
    }
}

running_metric!(
    /// The weighted fraction of binary predictions `y_pred > threshold` that equal their 0/1
    /// targets, as Keras' `BinaryAccuracy` (threshold 0.5).
    BinaryAccuracy,
    "binary_accuracy" { threshold: f64 = 0.5 }
);

impl BinaryAccuracy {
    /// The decision threshold (a prediction above it counts as 1).
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }
}

impl<T: Float> Metric<T> for BinaryAccuracy {
    metric_common!();

    fn update(
        &mut self,
        y_true: &Tensor<T>,
        y_pred: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        let w = weights(Self::NAME, sample_weight, y_pred.shape())?;
        let t = self.threshold;
        let hits = elementwise_hits(Self::NAME, y_true, y_pred, |y, p| {
            y == if p > t { 1.0 } else { 0.0 }
        })?;
        add_samples(&mut self.running, &hits, &w);
        Ok(())
    }
}

running_metric!(
    /// The weighted fraction of rows whose highest score is the one-hot target's class, as
    /// Keras' `CategoricalAccuracy` (`y_true` one-hot with `y_pred`'s shape; ties go to the
    /// first index).
    CategoricalAccuracy,
    "categorical_accuracy" {}
);

impl<T: Float> Metric<T> for CategoricalAccuracy {
    metric_common!();

    fn update(
        &mut self,
        y_true: &Tensor<T>,
        y_pred: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        let w = weights(Self::NAME, sample_weight, y_pred.shape())?;
        let c = class_axis(Self::NAME, y_pred.shape())?;
        let targets = onehot_targets(Self::NAME, y_true, y_pred)?;
        let scores = y_pred.to_f64_vec();
        let hits = row_hits(w.len(), c, &scores, &targets, |row, t| argmax(row) == t);
        add_samples(&mut self.running, &hits, &w);
        Ok(())
    }
}

running_metric!(
    /// The weighted fraction of rows whose highest score is the integer label, as Keras'
    /// `SparseCategoricalAccuracy` (labels `[batch]` or `[batch, 1]` for `[batch, classes]`
    /// scores; a label outside `0..classes` is an error).
    SparseCategoricalAccuracy,
    "sparse_categorical_accuracy" {}
);

impl<T: Float> Metric<T> for SparseCategoricalAccuracy {
    metric_common!();

    fn update(
        &mut self,
        y_true: &Tensor<T>,
        y_pred: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        let w = weights(Self::NAME, sample_weight, y_pred.shape())?;
        let c = class_axis(Self::NAME, y_pred.shape())?;
        let targets = labels(Self::NAME, y_true, y_pred.shape())?;
        let scores = y_pred.to_f64_vec();
        let hits = row_hits(w.len(), c, &scores, &targets, |row, t| argmax(row) == t);
        add_samples(&mut self.running, &hits, &w);
        Ok(())
    }
}

running_metric!(
    /// The weighted fraction of rows whose one-hot target class is among the `k` highest
    /// scores (default 5), as Keras' `TopKCategoricalAccuracy`. Ties at the boundary count
    /// as in the top k.
    TopKCategoricalAccuracy,
    "top_k_categorical_accuracy" { k: usize = 5 }
);

impl TopKCategoricalAccuracy {
    /// How many of the highest scores count.
    pub fn k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }
}

impl<T: Float> Metric<T> for TopKCategoricalAccuracy {
    metric_common!();

    fn update(
        &mut self,
        y_true: &Tensor<T>,
        y_pred: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        let w = weights(Self::NAME, sample_weight, y_pred.shape())?;
        let c = class_axis(Self::NAME, y_pred.shape())?;
        let targets = onehot_targets(Self::NAME, y_true, y_pred)?;
        let scores = y_pred.to_f64_vec();
        let k = self.k;
        let hits = row_hits(w.len(), c, &scores, &targets, |row, t| in_top_k(row, t, k));
        add_samples(&mut self.running, &hits, &w);
        Ok(())
    }
}

running_metric!(
    /// The weighted fraction of rows whose integer label is among the `k` highest scores
    /// (default 5), as Keras' `SparseTopKCategoricalAccuracy`.
    SparseTopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy" { k: usize = 5 }
);

impl SparseTopKCategoricalAccuracy {
    /// How many of the highest scores count.
    pub fn k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }
}

impl<T: Float> Metric<T> for SparseTopKCategoricalAccuracy {
    metric_common!();

    fn update(
        &mut self,
        y_true: &Tensor<T>,
        y_pred: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        let w = weights(Self::NAME, sample_weight, y_pred.shape())?;
        let c = class_axis(Self::NAME, y_pred.shape())?;
        let targets = labels(Self::NAME, y_true, y_pred.shape())?;
        let scores = y_pred.to_f64_vec();
        let k = self.k;
        let hits = row_hits(w.len(), c, &scores, &targets, |row, t| in_top_k(row, t, k));
        add_samples(&mut self.running, &hits, &w);
        Ok(())
    }
}
