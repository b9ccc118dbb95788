//! Hinge (maximum-margin) losses.

use nn_autograd::Var;
use nn_tensor::{Float, Tensor};
use serde::{Deserialize, Serialize};

use crate::kernel::{aligned, class_axis, data, elementwise, fused, labels, same_shape};
use crate::loss::loss_common;
use crate::regression::simple_loss;
use crate::{Loss, LossError, Reduction, Result};

/// Keras' label conversion: when every label is 0 or 1, they become −1 and 1.
fn hinge_labels<T: Float>(name: &str, y_true: &Tensor<T>, pred: &[usize]) -> Result<Tensor<T>> {
    let y = aligned(name, y_true, pred)?;
    let binary = y.array().iter().all(|&v| v == T::zero() || v == T::one());
    Ok(if binary {
        y.map(|v| v + v - T::one())
    } else {
        y
    })
}

simple_loss!(
    /// The hinge loss, as Keras' `Hinge`: `mean(max(1 − y·ŷ, 0))` over every non-batch axis,
    /// for labels in {−1, 1} (labels that are all in {0, 1} are converted to {−1, 1}, as
    /// Keras does).
    Hinge,
    "hinge"
);

impl<T: Float> Loss<T> for Hinge {
    loss_common!(Hinge);

    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        let y = hinge_labels(Self::NAME, y_true, y_pred.shape())?;
        elementwise(Self::NAME, &y, y_pred, |y, p| {
            let m = 1.0 - y * p;
            if m > 0.0 {
                (m, -y)
            } else {
                (0.0, 0.0)
            }
        })
    }
}

simple_loss!(
    /// The squared hinge loss, as Keras' `SquaredHinge`: `mean(max(1 − y·ŷ, 0)²)`, with the
    /// label conversion of [`Hinge`].
    SquaredHinge,
    "squared_hinge"
);

impl<T: Float> Loss<T> for SquaredHinge {
    loss_common!(SquaredHinge);

    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        let y = hinge_labels(Self::NAME, y_true, y_pred.shape())?;
        elementwise(Self::NAME, &y, y_pred, |y, p| {
            let m = 1.0 - y * p;
            if m > 0.0 {
                (m * m, -2.0 * y * m)
            } else {
                (0.0, 0.0)
            }
        })
    }
}

simple_loss!(
    /// The categorical hinge loss, as Keras' `CategoricalHinge`: per row of the last axis,
    /// `max(neg − pos + 1, 0)` with `pos = Σ y·ŷ` and `neg = max((1 − y)·ŷ)`, for one-hot
    /// `y_true` of `y_pred`'s shape.
    CategoricalHinge,
    "categorical_hinge"
);

impl<T: Float> Loss<T> for CategoricalHinge {
    loss_common!(CategoricalHinge);

    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        const NAME: &str = CategoricalHinge::NAME;
        let c = class_axis(NAME, y_pred.shape())?;
        let y = same_shape(NAME, y_true, y_pred.shape())?;
        let ys = data(NAME, &y)?;
        fused(NAME, y_pred, c, |r, x, g, scale| {
            let yr = &ys[r * c..(r + 1) * c];
            let pos: f64 = yr.iter().zip(x).map(|(&t, &p)| t.f64() * p.f64()).sum();
            let (mut neg, mut arg) = (f64::NEG_INFINITY, 0);
            for (j, (&t, &p)) in yr.iter().zip(x).enumerate() {
                let v = (1.0 - t.f64()) * p.f64();
                if v > neg {
                    (neg, arg) = (v, j);
                }
            }
            let margin = neg - pos + 1.0;
            if let Some(g) = g {
                if margin > 0.0 {
                    for (gv, &t) in g.iter_mut().zip(yr) {
                        *gv = T::of(-scale * t.f64());
                    }
                    g[arg] = T::of(g[arg].f64() + scale * (1.0 - yr[arg].f64()));
                }
            }
            margin.max(0.0)
        })
    }
}

/// The multiclass hinge loss of Weston and Watkins (the multiclass SVM):
/// `Σ_{j ≠ y} max(0, margin + s_j − s_y)` per row of scores `s`, for integer labels `y`
/// (as in [`SparseCategoricalCrossentropy`](crate::SparseCategoricalCrossentropy)).
/// Default margin 1. (PyTorch's `MultiMarginLoss` divides this sum by the class count.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MulticlassHinge {
    margin: f64,
    reduction: Reduction,
}

impl MulticlassHinge {
    /// The name.
    pub const NAME: &'static str = "multiclass_hinge";

    /// Margin 1, mean reduction.
    pub fn new() -> Self {
        MulticlassHinge {
            margin: 1.0,
            reduction: Reduction::Mean,
        }
    }

    /// The margin by which the true class' score should exceed every other (finite, ≥ 0).
    pub fn margin(mut self, margin: f64) -> Self {
        self.margin = margin;
        self
    }

    /// The reduction (default [`Reduction::Mean`]).
    pub fn with_reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl Default for MulticlassHinge {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Loss<T> for MulticlassHinge {
    loss_common!(MulticlassHinge);

    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        const NAME: &str = MulticlassHinge::NAME;
        let margin = self.margin;
        if !(margin >= 0.0 && margin.is_finite()) {
            return Err(LossError::config(
                NAME,
                format!("margin must be finite and ≥ 0, got {margin}"),
            ));
        }
        let c = class_axis(NAME, y_pred.shape())?;
        let labels = labels(NAME, y_true, y_pred.shape())?;
        fused(NAME, y_pred, c, |r, x, g, scale| {
            let label = labels[r];
            let sy = x[label].f64();
            let mut loss = 0.0;
            let mut g = g;
            let mut violations = 0usize;
            for (j, &s) in x.iter().enumerate() {
                if j == label {
                    continue;
                }
                let t = margin + s.f64() - sy;
                if t > 0.0 {
                    loss += t;
                    violations += 1;
                    if let Some(g) = g.as_deref_mut() {
                        g[j] = T::of(scale);
                    }
                }
            }
            if let Some(g) = g {
                g[label] = T::of(-scale * violations as f64);
            }
            loss
        })
    }
}
