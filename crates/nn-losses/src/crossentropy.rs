//! Cross-entropy losses: categorical, sparse categorical, binary, and the negative
//! log-likelihood of log-probabilities.

use nn_autograd::{is_recording, Var};
use nn_tensor::{Float, Tensor};
use serde::{Deserialize, Serialize};

use crate::kernel::{
    axis_last, batch_of, bce_logit, check_unit, class_axis, data, fused, labels, same_shape,
    sigmoid, EPSILON,
};
use crate::loss::{loss_common, reduce, sample_weights};
use crate::{Loss, Reduction, Result};

/// `clamp(v, ε, 1 − ε)` and whether `v` was inside (the clip passes the gradient there).
fn clip_prob(v: f64) -> (f64, bool) {
    if v < EPSILON {
        (EPSILON, false)
    } else if v > 1.0 - EPSILON {
        (1.0 - EPSILON, false)
    } else {
        (v, true)
    }
}

/// `−Σ y·log_softmax(x)` of one row of logits, and `scale·((Σy)·softmax(x) − y)` into `g`.
///
/// Computed as `Σ y·(m − x) + (Σy)·ln Σ exp(x − m)` with `m = max x`: exact for extreme
/// logits (`[1e4, −1e4]` against class 1 gives `2e4`). Terms with `y = 0` are skipped, so a
/// `−inf` logit of a class with no target mass costs nothing.
fn ce_logits_row<T: Float>(
    y: &[T],
    x: &[T],
    g: Option<&mut [T]>,
    scale: f64,
    smooth: impl Fn(f64) -> f64,
) -> f64 {
    let m = x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v.f64()));
    let (mut mass, mut dot) = (0.0, 0.0);
    for (&yv, &xv) in y.iter().zip(x) {
        let yv = smooth(yv.f64());
        if yv != 0.0 {
            mass += yv;
            dot += yv * (m - xv.f64());
        }
    }
    match g {
        None => {
            let s: f64 = x.iter().map(|&v| (v.f64() - m).exp()).sum();
            dot + mass * s.ln()
        }
        Some(g) => {
            // The exponentials go into the gradient buffer and are scaled in place.
            let mut s = 0.0;
            for (gv, &xv) in g.iter_mut().zip(x) {
                let e = (xv.f64() - m).exp();
                s += e;
                *gv = T::of(e);
            }
            let k = mass / s;
            for (gv, &yv) in g.iter_mut().zip(y) {
                *gv = T::of(scale * (k * gv.f64() - smooth(yv.f64())));
            }
            dot + mass * s.ln()
        }
    }
}

/// The row sum used to normalise probabilities (`1` for an all-zero row, so it stays finite).
fn prob_sum<T: Float>(p: &[T]) -> f64 {
    let s: f64 = p.iter().map(|v| v.f64()).sum();
    if s == 0.0 {
        1.0
    } else {
        s
    }
}

/// `−Σ y·ln clip(p/Σp)` of one row of probabilities, with its gradient through the
/// normalisation and the clip.
fn ce_probs_row<T: Float>(
    y: &[T],
    p: &[T],
    g: Option<&mut [T]>,
    scale: f64,
    smooth: impl Fn(f64) -> f64,
) -> f64 {
    let s = prob_sum(p);
    let mut loss = 0.0;
    // ∂loss/∂q_j = G_j = −y_j / c_j where the clip passes; A = Σ G_j q_j.
    let mut a = 0.0;
    for (&yv, &pv) in y.iter().zip(p) {
        let yv = smooth(yv.f64());
        let q = pv.f64() / s;
        let (c, inside) = clip_prob(q);
        if yv != 0.0 {
            loss -= yv * c.ln();
            if inside {
                a -= yv / c * q;
            }
        }
    }
    if let Some(g) = g {
        for ((gv, &yv), &pv) in g.iter_mut().zip(y).zip(p) {
            let yv = smooth(yv.f64());
            let (c, inside) = clip_prob(pv.f64() / s);
            let gq = if inside && yv != 0.0 { -yv / c } else { 0.0 };
            *gv = T::of(scale * (gq - a) / s);
        }
    }
    loss
}

// ------------------------------------------------------------------ categorical

/// Cross-entropy against one-hot (or soft) targets, as Keras' `CategoricalCrossentropy`.
///
/// Per row along `axis`: from probabilities (the default), `−Σ y·ln clip(p / Σp, ε, 1 − ε)`
/// with `ε = 1e-7` (Keras normalises the row and clips); from logits, `−Σ y·log_softmax(x)`
/// computed stably (`[1e4, −1e4]` against class 1 gives exactly `2e4`). Label smoothing
/// replaces `y` with `y·(1 − s) + s / classes`. Any axes besides the batch and class axes are
/// averaged per sample. Both paths are one fused node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoricalCrossentropy {
    from_logits: bool,
    label_smoothing: f64,
    axis: isize,
    reduction: Reduction,
}

impl CategoricalCrossentropy {
    /// The Keras name.
    pub const NAME: &'static str = "categorical_crossentropy";

    /// Keras defaults: probabilities, no smoothing, class axis −1, mean reduction.
    pub fn new() -> Self {
        CategoricalCrossentropy {
            from_logits: false,
            label_smoothing: 0.0,
            axis: -1,
            reduction: Reduction::Mean,
        }
    }

    /// Whether `y_pred` holds logits (unnormalised scores) rather than probabilities.
    pub fn from_logits(mut self, from_logits: bool) -> Self {
        self.from_logits = from_logits;
        self
    }

    /// Label smoothing in `[0, 1]`.
    pub fn label_smoothing(mut self, smoothing: f64) -> Self {
        self.label_smoothing = smoothing;
        self
    }

    /// The class axis (not the batch axis; default −1).
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }

    /// The reduction (default [`Reduction::Mean`]).
    pub fn with_reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl Default for CategoricalCrossentropy {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Loss<T> for CategoricalCrossentropy {
    loss_common!(CategoricalCrossentropy);

    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        const NAME: &str = CategoricalCrossentropy::NAME;
        check_unit(NAME, "label_smoothing", self.label_smoothing)?;
        class_axis(NAME, y_pred.shape())?;
        let y_true = same_shape(NAME, y_true, y_pred.shape())?;
        let (pred, truth) = axis_last(NAME, y_pred, &y_true, self.axis)?;
        let c = class_axis(NAME, pred.shape())?;
        let truth = truth.contiguous();
        let ys = data(NAME, &truth)?;
        let ls = self.label_smoothing;
        let smooth = move |y: f64| {
            if ls == 0.0 {
                y
            } else {
                y * (1.0 - ls) + ls / c as f64
            }
        };
        let row = |r: usize| &ys[r * c..(r + 1) * c];
        if self.from_logits {
            fused(NAME, &pred, c, |r, x, g, s| {
                ce_logits_row(row(r), x, g, s, smooth)
            })
        } else {
            fused(NAME, &pred, c, |r, p, g, s| {
                ce_probs_row(row(r), p, g, s, smooth)
            })
        }
    }
}

// ------------------------------------------------------------------ sparse categorical

/// Cross-entropy against integer class labels, as Keras' `SparseCategoricalCrossentropy`.
///
/// `y_pred` is `[batch, ..., classes]`; `y_true` holds the labels as floats with `y_pred`'s
/// shape minus the class axis (optionally with a trailing 1: `[batch]` or `[batch, 1]` for
/// `[batch, classes]`). A label that is not an integer in `0..classes` is an error.
/// From logits, the per-sample losses use the fused softmax-cross-entropy kernel
/// ([`Var::softmax_cross_entropy`]), and [`Loss::compute`] with a `Mean` or `Sum` reduction
/// folds the reduction's factor and the sample weights into that kernel's gradient, so a
/// training step allocates a single `[N, C]` buffer. From probabilities:
/// `−ln clip(p_label / Σp, ε, 1 − ε)` (Keras normalises the row and clips).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SparseCategoricalCrossentropy {
    from_logits: bool,
    reduction: Reduction,
}

impl SparseCategoricalCrossentropy {
    /// The Keras name.
    pub const NAME: &'static str = "sparse_categorical_crossentropy";

    /// Keras defaults: probabilities, mean reduction.
    pub fn new() -> Self {
        SparseCategoricalCrossentropy {
            from_logits: false,
            reduction: Reduction::Mean,
        }
    }

    /// Whether `y_pred` holds logits rather than probabilities.
    pub fn from_logits(mut self, from_logits: bool) -> Self {
        self.from_logits = from_logits;
        self
    }

    /// The reduction (default [`Reduction::Mean`]).
    pub fn with_reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The fused scalar path: logits, `Mean` or `Sum`.
    fn fused_reduced<T: Float>(
        &self,
        y_true: &Tensor<T>,
        y_pred: &Var<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<Var<T>> {
        const NAME: &str = SparseCategoricalCrossentropy::NAME;
        let shape = y_pred.shape().to_vec();
        let batch = batch_of(NAME, &shape)?;
        let c = class_axis(NAME, &shape)?;
        let labels = labels(NAME, y_true, &shape)?;
        let weights: Option<Vec<f64>> = match sample_weight {
            Some(w) => Some(sample_weights(NAME, w, &shape)?.to_f64_vec()),
            None => None,
        };
        let n = labels.len();
        if batch == 0 || n == 0 {
            return Ok(Var::constant(Tensor::scalar(T::zero())));
        }
        // Rows per sample (axes between batch and classes are averaged per sample).
        let subs = n / batch;
        let divisor = match self.reduction {
            Reduction::Sum => subs as f64,
            _ => n as f64,
        };
        let weight = |r: usize| weights.as_ref().map_or(1.0, |w| w[r / subs]);
        let logits = y_pred.value().reshape([n, c])?;
        let total = |losses: &Tensor<T>| -> f64 {
            losses
                .array()
                .iter()
                .enumerate()
                .map(|(r, l)| weight(r) * l.f64())
                .sum::<f64>()
                / divisor
        };
        if !(is_recording() && y_pred.requires_grad()) {
            let losses = logits.softmax_cross_entropy(&labels)?;
            return Ok(Var::constant(Tensor::scalar(T::of(total(&losses)))));
        }
        let (losses, grad) = logits.softmax_cross_entropy_fwd_bwd(&labels, T::of(1.0 / divisor))?;
        let value = Tensor::scalar(T::of(total(&losses)));
        let grad = grad.reshape(&shape)?;
        Ok(Var::from_op(NAME, value, &[y_pred], move |g, _| {
            let gs = g.item()?;
            let mut grad = grad;
            match weights {
                Some(w) => {
                    let data = grad.make_contiguous_mut();
                    for (r, row) in data.chunks_mut(c).enumerate() {
                        let f = gs * T::of(w[r / subs]);
                        row.iter_mut().for_each(|v| *v *= f);
                    }
                }
                None if gs != T::one() => grad.mul_scalar_assign(gs),
                None => {}
            }
            Ok(vec![Some(grad)])
        }))
    }
}

impl Default for SparseCategoricalCrossentropy {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Loss<T> for SparseCategoricalCrossentropy {
    loss_common!(SparseCategoricalCrossentropy);

    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        const NAME: &str = SparseCategoricalCrossentropy::NAME;
        let shape = y_pred.shape().to_vec();
        let batch = batch_of(NAME, &shape)?;
        let c = class_axis(NAME, &shape)?;
        let labels = labels(NAME, y_true, &shape)?;
        if self.from_logits {
            let n = labels.len();
            let logits = if shape.len() == 2 {
                y_pred.clone()
            } else {
                y_pred.reshape([n, c])?
            };
            let losses = logits.softmax_cross_entropy(&labels)?;
            if n == batch {
                return Ok(losses);
            }
            let subs = n.checked_div(batch).unwrap_or(0);
            return Ok(losses.reshape([batch, subs])?.mean(&[1], false)?);
        }
        fused(NAME, y_pred, c, |r, p, g, scale| {
            let label = labels[r];
            let s = prob_sum(p);
            let q = p[label].f64() / s;
            let (cq, inside) = clip_prob(q);
            if let Some(g) = g {
                // ∂/∂p_j of −ln(p_label / Σp) through the clip: (δ_j,label·G − G·q) / s.
                let gl = if inside { -1.0 / cq } else { 0.0 };
                let a = gl * q;
                for (j, gv) in g.iter_mut().enumerate() {
                    let own = if j == label { gl } else { 0.0 };
                    *gv = T::of(scale * (own - a) / s);
                }
            }
            -cq.ln()
        })
    }

    fn compute(
        &self,
        y_true: &Tensor<T>,
        y_pred: &Var<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<Var<T>> {
        if self.from_logits && self.reduction != Reduction::None {
            return self.fused_reduced(y_true, y_pred, sample_weight);
        }
        let per_sample = self.per_sample(y_true, y_pred)?;
        reduce(
            Self::NAME,
            &per_sample,
            self.reduction,
            sample_weight,
            y_pred.shape(),
        )
    }
}

// ------------------------------------------------------------------ binary

/// Binary cross-entropy, as Keras' `BinaryCrossentropy`, averaged over every non-batch axis.
///
/// From logits (one fused node): `max(x, 0) − x·y + ln(1 + e^−|x|)`, exact and finite for any
/// logit (`±1e4` included); its gradient is `sigmoid(x) − y`. From probabilities (the
/// default): `−(y·ln c + (1 − y)·ln(1 − c))` with `c = clip(p, ε, 1 − ε)`, `ε = 1e-7`. Label
/// smoothing replaces `y` with `y·(1 − s) + s/2`. `y_true` may differ from `y_pred` by a
/// trailing axis of size 1 (`[batch]` against `[batch, 1]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BinaryCrossentropy {
    from_logits: bool,
    label_smoothing: f64,
    reduction: Reduction,
}

impl BinaryCrossentropy {
    /// The Keras name.
    pub const NAME: &'static str = "binary_crossentropy";

    /// Keras defaults: probabilities, no smoothing, mean reduction.
    pub fn new() -> Self {
        BinaryCrossentropy {
            from_logits: false,
            label_smoothing: 0.0,
            reduction: Reduction::Mean,
        }
    }

    /// Whether `y_pred` holds logits rather than probabilities.
    pub fn from_logits(mut self, from_logits: bool) -> Self {
        self.from_logits = from_logits;
        self
    }

    /// Label smoothing in `[0, 1]`.
    pub fn label_smoothing(mut self, smoothing: f64) -> Self {
        self.label_smoothing = smoothing;
        self
    }

    /// The reduction (default [`Reduction::Mean`]).
    pub fn with_reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl Default for BinaryCrossentropy {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Loss<T> for BinaryCrossentropy {
    loss_common!(BinaryCrossentropy);

    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        const NAME: &str = BinaryCrossentropy::NAME;
        check_unit(NAME, "label_smoothing", self.label_smoothing)?;
        batch_of(NAME, y_pred.shape())?;
        let ls = self.label_smoothing;
        let smooth = move |y: f64| y * (1.0 - ls) + 0.5 * ls;
        if self.from_logits {
            crate::kernel::elementwise(NAME, y_true, y_pred, |y, x| {
                let y = smooth(y);
                (bce_logit(x, y), sigmoid(x) - y)
            })
        } else {
            crate::kernel::elementwise(NAME, y_true, y_pred, |y, p| {
                let y = smooth(y);
                let (c, inside) = clip_prob(p);
                let loss = -(y * c.ln() + (1.0 - y) * (1.0 - c).ln());
                let d = if inside {
                    -y / c + (1.0 - y) / (1.0 - c)
                } else {
                    0.0
                };
                (loss, d)
            })
        }
    }
}

// ------------------------------------------------------------------ negative log-likelihood

/// The negative log-likelihood of integer labels under log-probabilities, as PyTorch's
/// `NLLLoss`: `−logp[label]` per row. Pair it with a `log_softmax` output (the combination is
/// the cross-entropy). Labels as in [`SparseCategoricalCrossentropy`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NegativeLogLikelihood {
    reduction: Reduction,
}

impl NegativeLogLikelihood {
    /// The name.
    pub const NAME: &'static str = "negative_log_likelihood";

    /// Mean reduction (PyTorch's default without class weights).
    pub fn new() -> Self {
        NegativeLogLikelihood {
            reduction: Reduction::Mean,
        }
    }

    /// The reduction (default [`Reduction::Mean`]).
    pub fn with_reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl Default for NegativeLogLikelihood {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Loss<T> for NegativeLogLikelihood {
    loss_common!(NegativeLogLikelihood);

    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        const NAME: &str = NegativeLogLikelihood::NAME;
        let c = class_axis(NAME, y_pred.shape())?;
        let labels = labels(NAME, y_true, y_pred.shape())?;
        fused(NAME, y_pred, c, |r, x, g, scale| {
            let label = labels[r];
            if let Some(g) = g {
                g[label] = T::of(-scale);
            }
            -x[label].f64()
        })
    }
}
