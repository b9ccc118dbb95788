//! # nn-losses
//!
//! Keras-style losses and streaming metrics for the `nn` deep-learning library.
//!
//! ## Losses
//! A [`Loss`] is called as Keras does, `loss(y_true, y_pred)`: `y_pred` is the model's output
//! (a [`Var`](nn_autograd::Var), differentiated), `y_true` a constant
//! [`Tensor`](nn_tensor::Tensor). [`Loss::per_sample`] gives one value per sample (every axis
//! but the batch axis reduced with a mean, as Keras); [`Loss::compute`] applies per-sample
//! weights and the [`Reduction`] (`Mean` is Keras' `sum_over_batch_size`).
//!
//! Every built-in loss is one fused graph node built with
//! [`Var::from_op`](nn_autograd::Var::from_op): its gradient is computed in the same pass as
//! its value (only when a graph is recorded), and the backward pass scales it in place.
//! Hyper-parameters and formulas follow Keras 3, including its clipping of probabilities to
//! `[1e-7, 1 − 1e-7]`; cross-entropies from logits are exact for extreme logits.
//!
//! | loss | Keras name | targets |
//! |---|---|---|
//! | [`CategoricalCrossentropy`] | `categorical_crossentropy` | one-hot / soft, `y_pred`'s shape |
//! | [`SparseCategoricalCrossentropy`] | `sparse_categorical_crossentropy` | integer labels |
//! | [`BinaryCrossentropy`] | `binary_crossentropy` (`bce`) | 0/1 (or soft) |
//! | [`MeanSquaredError`] | `mean_squared_error` (`mse`) | values |
//! | [`MeanAbsoluteError`] | `mean_absolute_error` (`mae`) | values |
//! | [`Huber`] | `huber_loss` (`huber`) | values |
//! | [`Hinge`], [`SquaredHinge`] | `hinge`, `squared_hinge` | −1/1 (0/1 converted) |
//! | [`CategoricalHinge`] | `categorical_hinge` | one-hot |
//! | [`MulticlassHinge`] | `multiclass_hinge` | integer labels |
//! | [`KLDivergence`] | `kl_divergence` (`kld`) | distributions |
//! | [`Poisson`] | `poisson` | counts |
//! | [`NegativeLogLikelihood`] | `negative_log_likelihood` (`nll`) | integer labels |
//! | [`CosineSimilarity`] | `cosine_similarity` | vectors |
//! | [`LossFromOutput`] | `loss_from_output` | ignored (the output is the loss) |
//!
//! Integer labels are floats holding integers (`[batch]` or `[batch, 1]` for
//! `[batch, classes]` predictions); a label outside `0..classes` is an error, never a panic.
//!
//! ```
//! use nn_autograd::Var;
//! use nn_losses::{Loss, SparseCategoricalCrossentropy};
//! use nn_tensor::Tensor;
//!
//! let logits = Var::param(Tensor::<f32>::from_f64s(&[1e4, -1e4], [1, 2])?);
//! let labels = Tensor::<f32>::from_f64s(&[1.0], [1])?;
//! let loss = SparseCategoricalCrossentropy::new().from_logits(true).compute(&labels, &logits, None)?;
//! assert_eq!(loss.value().item()?, 2e4);
//! # Ok::<(), nn_losses::LossError>(())
//! ```
//!
//! ## Metrics
//! A [`Metric`] accumulates over batches ([`Metric::update`]), reports ([`Metric::result`])
//! and starts again ([`Metric::reset`]); updating batch by batch gives the result of one
//! update over all the data. See the [`metrics`] module.

mod crossentropy;
mod error;
mod hinge;
mod kernel;
mod loss;
pub mod metrics;
mod output;
mod regression;

pub use crossentropy::{
    BinaryCrossentropy, CategoricalCrossentropy, NegativeLogLikelihood,
    SparseCategoricalCrossentropy,
};
pub use error::{LossError, Result};
pub use hinge::{CategoricalHinge, Hinge, MulticlassHinge, SquaredHinge};
pub use kernel::EPSILON;
pub use loss::{loss_from_name, reduce, Loss, Reduction, SavedLoss, LOSS_NAMES};
pub use metrics::{metric_from_name, Metric};
pub use output::LossFromOutput;
pub use regression::{
    CosineSimilarity, Huber, KLDivergence, MeanAbsoluteError, MeanSquaredError, Poisson,
};

/// The crate's guide (`docs/guide/nn-losses.md`), with examples that run as doctests.
#[doc = include_str!("../../../docs/guide/nn-losses.md")]
pub mod guide {}
