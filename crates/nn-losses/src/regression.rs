//! Regression and distribution losses: mean squared / absolute error, Huber, Poisson,
//! Kullback–Leibler divergence and cosine similarity.

use nn_autograd::Var;
use nn_tensor::{Float, Tensor};
use serde::{Deserialize, Serialize};

use crate::kernel::{
    axis_last, batch_of, class_axis, data, elementwise, fused, same_shape, EPSILON,
};
use crate::loss::loss_common;
use crate::{Loss, LossError, Reduction, Result};

/// Defines a loss struct whose only configuration is its reduction.
macro_rules! simple_loss {
    ($(#[$doc:meta])* $ty:ident, $name:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        pub struct $ty {
            reduction: Reduction,
        }

        impl $ty {
            /// The Keras name.
            pub const NAME: &'static str = $name;

            /// With the mean reduction (Keras' default).
            pub fn new() -> Self {
                $ty { reduction: Reduction::Mean }
            }

            /// The reduction (default [`Reduction::Mean`]).
            pub fn with_reduction(mut self, reduction: Reduction) -> Self {
                self.reduction = reduction;
                self
            }
        }

        impl Default for $ty {
            fn default() -> Self {
                Self::new()
            }
        }
    };
}
pub(crate) use simple_loss;

simple_loss!(
    /// `mean((y_pred − y_true)²)` over every non-batch axis, as Keras' `MeanSquaredError`.
    /// `y_true` may differ from `y_pred` by a trailing axis of size 1.
    MeanSquaredError,
    "mean_squared_error"
);

impl<T: Float> Loss<T> for MeanSquaredError {
    loss_common!(MeanSquaredError);

    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        elementwise(Self::NAME, y_true, y_pred, |y, p| {
            let e = p - y;
            (e * e, 2.0 * e)
        })
    }
}

simple_loss!(
    /// `mean(|y_pred − y_true|)` over every non-batch axis, as Keras' `MeanAbsoluteError`
    /// (gradient 0 where the error is 0).
    MeanAbsoluteError,
    "mean_absolute_error"
);

impl<T: Float> Loss<T> for MeanAbsoluteError {
    loss_common!(MeanAbsoluteError);

    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        elementwise(Self::NAME, y_true, y_pred, |y, p| {
            let e = p - y;
            let d = if e > 0.0 {
                1.0
            } else if e < 0.0 {
                -1.0
            } else {
                0.0
            };
            (e.abs(), d)
        })
    }
}

/// The Huber loss, as Keras' `Huber`: with `e = y_pred − y_true`, `e²/2` where `|e| ≤ δ`,
/// else `δ·|e| − δ²/2`; averaged over every non-batch axis. Default `δ = 1`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Huber {
    delta: f64,
    reduction: Reduction,
}

impl Huber {
    /// The Keras name.
    pub const NAME: &'static str = "huber_loss";

    /// `δ = 1`, mean reduction.
    pub fn new() -> Self {
        Huber {
            delta: 1.0,
            reduction: Reduction::Mean,
        }
    }

    /// The point where the loss turns from quadratic to linear (positive).
    pub fn delta(mut self, delta: f64) -> Self {
        self.delta = delta;
        self
    }

    /// The reduction (default [`Reduction::Mean`]).
    pub fn with_reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl Default for Huber {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Loss<T> for Huber {
    loss_common!(Huber);

    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        let delta = self.delta;
        if !(delta > 0.0 && delta.is_finite()) {
            return Err(LossError::config(
                Self::NAME,
                format!("delta must be positive and finite, got {delta}"),
            ));
        }
        elementwise(Self::NAME, y_true, y_pred, move |y, p| {
            let e = p - y;
            if e.abs() <= delta {
                (0.5 * e * e, e)
            } else {
                (delta * e.abs() - 0.5 * delta * delta, delta * e.signum())
            }
        })
    }
}

simple_loss!(
    /// The Poisson loss, as Keras' `Poisson`: `mean(y_pred − y_true·ln(y_pred + ε))` over every
    /// non-batch axis, `ε = 1e-7`.
    Poisson,
    "poisson"
);

impl<T: Float> Loss<T> for Poisson {
    loss_common!(Poisson);

    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        elementwise(Self::NAME, y_true, y_pred, |y, p| {
            (p - y * (p + EPSILON).ln(), 1.0 - y / (p + EPSILON))
        })
    }
}

simple_loss!(
    /// Kullback–Leibler divergence, as Keras' `KLDivergence`: `Σ t·ln(t / q)` over the last
    /// axis with `t = clip(y_true, ε, 1)` and `q = clip(y_pred, ε, 1)`, `ε = 1e-7`; other
    /// non-batch axes are averaged. `y_pred` needs a class axis (`[batch, ..., classes]`).
    KLDivergence,
    "kl_divergence"
);

impl<T: Float> Loss<T> for KLDivergence {
    loss_common!(KLDivergence);

    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        const NAME: &str = KLDivergence::NAME;
        let c = class_axis(NAME, y_pred.shape())?;
        let y = same_shape(NAME, y_true, y_pred.shape())?;
        let ys = data(NAME, &y)?;
        fused(NAME, y_pred, c, |r, x, g, scale| {
            let yr = &ys[r * c..(r + 1) * c];
            let mut loss = 0.0;
            let mut g = g;
            for (j, (&yv, &xv)) in yr.iter().zip(x).enumerate() {
                let t = yv.f64().clamp(EPSILON, 1.0);
                let p = xv.f64();
                let q = p.clamp(EPSILON, 1.0);
                loss += t * (t / q).ln();
                if let Some(g) = g.as_deref_mut() {
                    let inside = (EPSILON..=1.0).contains(&p);
                    g[j] = T::of(if inside { -scale * t / q } else { 0.0 });
                }
            }
            loss
        })
    }
}

/// The negated cosine similarity along `axis`, as Keras' `CosineSimilarity`:
/// `−Σ ŷ_true·ŷ_pred` with `ŷ = x / max(‖x‖, ε)`, `ε = 1e-7` (so a zero vector gives 0).
/// Ranges from −1 (same direction) to 1 (opposite). Other non-batch axes are averaged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CosineSimilarity {
    axis: isize,
    reduction: Reduction,
}

impl CosineSimilarity {
    /// The Keras name.
    pub const NAME: &'static str = "cosine_similarity";

    /// Axis −1, mean reduction.
    pub fn new() -> Self {
        CosineSimilarity {
            axis: -1,
            reduction: Reduction::Mean,
        }
    }

    /// The axis along which vectors are compared (not the batch axis).
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

impl Default for CosineSimilarity {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Loss<T> for CosineSimilarity {
    loss_common!(CosineSimilarity);

    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        const NAME: &str = CosineSimilarity::NAME;
        batch_of(NAME, y_pred.shape())?;
        class_axis(NAME, y_pred.shape())?;
        let y = same_shape(NAME, y_true, y_pred.shape())?;
        let (pred, truth) = axis_last(NAME, y_pred, &y, self.axis)?;
        let c = class_axis(NAME, pred.shape())?;
        let truth = truth.contiguous();
        let ys = data(NAME, &truth)?;
        fused(NAME, &pred, c, |r, x, g, scale| {
            let yr = &ys[r * c..(r + 1) * c];
            let norm_t = yr
                .iter()
                .map(|v| v.f64() * v.f64())
                .sum::<f64>()
                .sqrt()
                .max(EPSILON);
            let norm_p = x.iter().map(|v| v.f64() * v.f64()).sum::<f64>().sqrt();
            let d = norm_p.max(EPSILON);
            // u = ŷ_true; loss = −⟨u, x⟩ / d.
            let dot: f64 = yr
                .iter()
                .zip(x)
                .map(|(&t, &p)| t.f64() / norm_t * p.f64())
                .sum();
            if let Some(g) = g {
                for (gv, (&t, &p)) in g.iter_mut().zip(yr.iter().zip(x)) {
                    let u = t.f64() / norm_t;
                    let grad = if norm_p > EPSILON {
                        -(u - dot * p.f64() / (norm_p * norm_p)) / norm_p
                    } else {
                        -u / EPSILON
                    };
                    *gv = T::of(scale * grad);
                }
            }
            -dot / d
        })
    }
}
