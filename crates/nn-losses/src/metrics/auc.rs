//! Area under the ROC curve.

use nn_tensor::{Float, Tensor};

use super::{weights, Metric};
use crate::kernel::{aligned, sigmoid, EPSILON};
use crate::{LossError, Result};

/// The area under the ROC curve (true-positive rate against false-positive rate), as Keras'
/// `AUC`: every element of `y_pred` is a score for its target (non-zero is positive), and by
/// default the curve is sampled at 200 thresholds — `−ε`, `i / 199` for `i = 1..=198`, and
/// `1 + ε` — a score above a threshold counting as positive, and integrated with the
/// trapezoidal rule. Memory is constant (a histogram per class of targets).
///
/// [`AUC::exact`] computes the area exactly from the sorted scores instead (the
/// Mann–Whitney statistic, tied scores counting one half), keeping every score.
///
/// ```
/// use nn_losses::metrics::{Metric, AUC};
/// use nn_tensor::Tensor;
/// let mut auc = AUC::exact();
/// let y = Tensor::<f64>::from_f64s(&[0.0, 0.0, 1.0, 1.0], [4])?;
/// let p = Tensor::<f64>::from_f64s(&[0.1, 0.4, 0.35, 0.8], [4])?;
/// auc.update(&y, &p, None)?;
/// assert_eq!(auc.value(), 0.75); // 3 of the 4 (positive, negative) pairs are ordered
/// # Ok::<(), nn_losses::LossError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AUC {
    num_thresholds: usize,
    from_logits: bool,
    exact: bool,
    thresholds: Vec<f64>,
    /// Weight of positive / negative targets by the number of thresholds their score exceeds.
    positives: Vec<f64>,
    negatives: Vec<f64>,
    /// `(score, positive, weight)`, for the exact area.
    scores: Vec<(f64, bool, f64)>,
}

impl AUC {
    /// The Keras name.
    pub const NAME: &'static str = "auc";

    /// Keras' default: 200 thresholds, probabilities.
    pub fn new() -> Self {
        Self::with_thresholds(200, false)
    }

    /// The exact area from sorted scores.
    pub fn exact() -> Self {
        AUC {
            exact: true,
            ..Self::with_thresholds(200, false)
        }
    }

    fn with_thresholds(num_thresholds: usize, from_logits: bool) -> Self {
        let n = num_thresholds;
        let mut thresholds = Vec::with_capacity(n);
        if n >= 2 {
            thresholds.push(-EPSILON);
            thresholds.extend((1..n - 1).map(|i| i as f64 / (n - 1) as f64));
            thresholds.push(1.0 + EPSILON);
        }
        AUC {
            num_thresholds: n,
            from_logits,
            exact: false,
            thresholds,
            positives: vec![0.0; n + 1],
            negatives: vec![0.0; n + 1],
            scores: Vec::new(),
        }
    }

    /// The number of thresholds of the sampled curve (at least 2; default 200). Resets.
    pub fn num_thresholds(self, num_thresholds: usize) -> Self {
        AUC {
            exact: self.exact,
            ..Self::with_thresholds(num_thresholds, self.from_logits)
        }
    }

    /// Whether `y_pred` holds logits (a sigmoid is applied first).
    pub fn from_logits(mut self, from_logits: bool) -> Self {
        self.from_logits = from_logits;
        self
    }

    /// The thresholds of the sampled curve.
    pub fn thresholds(&self) -> &[f64] {
        &self.thresholds
    }

    /// The area so far (0 until both classes of targets have been seen).
    pub fn value(&self) -> f64 {
        if self.exact {
            exact_auc(&self.scores)
        } else {
            self.sampled_auc()
        }
    }

    fn sampled_auc(&self) -> f64 {
        let n = self.thresholds.len();
        let (p, q): (f64, f64) = (self.positives.iter().sum(), self.negatives.iter().sum());
        if n < 2 || p == 0.0 || q == 0.0 {
            return 0.0;
        }
        // Above threshold k: every bucket beyond k (bucket b holds scores above b thresholds).
        let mut tp = vec![0.0; n];
        let mut fp = vec![0.0; n];
        let (mut acc_p, mut acc_n) = (0.0, 0.0);
        for k in (0..n).rev() {
            acc_p += self.positives[k + 1];
            acc_n += self.negatives[k + 1];
            tp[k] = acc_p;
            fp[k] = acc_n;
        }
        (0..n - 1)
            .map(|k| {
                let (x0, x1) = (fp[k] / q, fp[k + 1] / q);
                let (y0, y1) = (tp[k] / p, tp[k + 1] / p);
                (x0 - x1) * (y0 + y1) / 2.0
            })
            .sum()
    }
}

impl Default for AUC {
    fn default() -> Self {
        Self::new()
    }
}

/// The exact ROC area of weighted `(score, positive, weight)` triples.
fn exact_auc(scores: &[(f64, bool, f64)]) -> f64 {
    let mut sorted: Vec<&(f64, bool, f64)> = scores.iter().collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut below, mut area, mut pos, mut neg) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        let (mut gp, mut gn) = (0.0, 0.0);
        while j < sorted.len() && sorted[j].0.total_cmp(&sorted[i].0).is_eq() {
            if sorted[j].1 {
                gp += sorted[j].2;
            } else {
                gn += sorted[j].2;
            }
            j += 1;
        }
        area += gp * (below + 0.5 * gn);
        below += gn;
        pos += gp;
        neg += gn;
        i = j;
    }
    if pos == 0.0 || neg == 0.0 {
        0.0
    } else {
        area / (pos * neg)
    }
}

impl<T: Float> Metric<T> for AUC {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn update(
        &mut self,
        y_true: &Tensor<T>,
        y_pred: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        if self.thresholds.len() < 2 && !self.exact {
            return Err(LossError::config(
                Self::NAME,
                format!(
                    "num_thresholds must be at least 2, got {}",
                    self.num_thresholds
                ),
            ));
        }
        let w = weights(Self::NAME, sample_weight, y_pred.shape())?;
        let y = aligned(Self::NAME, y_true, y_pred.shape())?.to_f64_vec();
        let p = y_pred.to_f64_vec();
        let per = p.len().checked_div(w.len()).unwrap_or(0);
        for (k, (&yv, &pv)) in y.iter().zip(&p).enumerate() {
            let score = if self.from_logits { sigmoid(pv) } else { pv };
            let (positive, weight) = (yv != 0.0, w[k / per]);
            if self.exact {
                self.scores.push((score, positive, weight));
            } else {
                let bucket = self.thresholds.partition_point(|&t| score > t);
                if positive {
                    self.positives[bucket] += weight;
                } else {
                    self.negatives[bucket] += weight;
                }
            }
        }
        Ok(())
    }

    fn result(&self) -> f64 {
        self.value()
    }

    fn reset(&mut self) {
        self.positives.iter_mut().for_each(|v| *v = 0.0);
        self.negatives.iter_mut().for_each(|v| *v = 0.0);
        self.scores.clear();
    }

    fn clone_box(&self) -> Box<dyn Metric<T>> {
        Box::new(self.clone())
    }
}
