//! The loss contract, reductions, the serializable form and lookup by Keras name.

use std::fmt;

use nn_autograd::Var;
use nn_tensor::{Float, Tensor};
use serde::{Deserialize, Serialize};

use crate::{LossError, Result};

/// How per-sample losses are combined into the value that is minimised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reduction {
    /// `Σ w·l / batch`: Keras' `"sum_over_batch_size"` (the default). Sample weights scale
    /// the terms but the divisor stays the batch size.
    #[default]
    Mean,
    /// `Σ w·l`.
    Sum,
    /// No reduction: the weighted per-sample vector `[batch]`.
    None,
}

impl Reduction {
    /// Parses a Keras reduction name: `"sum_over_batch_size"` (also `"mean"`, `"auto"`),
    /// `"sum"`, or `"none"`.
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "sum_over_batch_size" | "mean" | "auto" => Reduction::Mean,
            "sum" => Reduction::Sum,
            "none" | "None" => Reduction::None,
            _ => {
                return Err(LossError::UnknownName {
                    kind: "reduction",
                    name: name.to_string(),
                    known: "sum_over_batch_size, mean, sum, none".into(),
                })
            }
        })
    }

    /// The Keras name (`"sum_over_batch_size"`, `"sum"`, `"none"`).
    pub fn name(&self) -> &'static str {
        match self {
            Reduction::Mean => "sum_over_batch_size",
            Reduction::Sum => "sum",
            Reduction::None => "none",
        }
    }
}

impl fmt::Display for Reduction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A loss, with Keras' argument order `loss(y_true, y_pred)`: `y_pred` is the model's
/// output (a [`Var`], differentiated), `y_true` a constant target tensor. Axis 0 of both is
/// the batch axis.
///
/// Every loss first computes one value per sample ([`Loss::per_sample`]), reducing every
/// axis but the batch axis with a mean, as Keras does; [`Loss::compute`] then applies the
/// sample weights and the [`Reduction`].
///
/// ```
/// use nn_autograd::Var;
/// use nn_losses::{Loss, MeanSquaredError};
/// use nn_tensor::Tensor;
///
/// let y_true = Tensor::<f32>::from_f64s(&[0.0, 1.0, 1.0, 0.0], [2, 2])?;
/// let y_pred = Var::param(Tensor::<f32>::from_f64s(&[0.5, 1.0, 0.0, 0.0], [2, 2])?);
/// let loss = MeanSquaredError::new().compute(&y_true, &y_pred, None)?;
/// // per sample: (0.25 + 0) / 2 = 0.125 and (1 + 0) / 2 = 0.5; mean over the batch 0.3125
/// assert_eq!(loss.value().item()?, 0.3125);
/// let grads = loss.backward()?;
/// assert!(grads.get(&y_pred).is_some());
/// # Ok::<(), nn_losses::LossError>(())
/// ```
pub trait Loss<T: Float = f32>: Send + Sync + fmt::Debug {
    /// The Keras snake-case name (`"categorical_crossentropy"`, `"mean_squared_error"`, ...).
    fn name(&self) -> &str;

    /// Per-sample losses `[batch]` (before weighting and reduction), as a var.
    fn per_sample(&self, y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>>;

    /// The configured reduction.
    fn reduction(&self) -> Reduction;

    /// The reduced loss with optional per-sample weights (`[batch]` or `[batch, 1]`):
    /// [`Reduction::Mean`] gives `Σ w·l / batch` (Keras' `sum_over_batch_size`; `0` for an
    /// empty batch), [`Reduction::Sum`] gives `Σ w·l`, [`Reduction::None`] the weighted
    /// `[batch]` vector.
    fn compute(
        &self,
        y_true: &Tensor<T>,
        y_pred: &Var<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<Var<T>> {
        let per_sample = self.per_sample(y_true, y_pred)?;
        reduce(
            self.name(),
            &per_sample,
            self.reduction(),
            sample_weight,
            y_pred.shape(),
        )
    }

    /// The serializable form (configuration).
    fn to_saved(&self) -> SavedLoss;

    /// A boxed copy.
    fn clone_box(&self) -> Box<dyn Loss<T>>;
}

impl<T: Float> Clone for Box<dyn Loss<T>> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Checks `sample_weight` against the batch of `y_pred_shape` and returns it as `[batch]`.
pub(crate) fn sample_weights<T: Float>(
    name: &str,
    sample_weight: &Tensor<T>,
    y_pred_shape: &[usize],
) -> Result<Tensor<T>> {
    let batch = y_pred_shape.first().copied().unwrap_or(0);
    let w = sample_weight.shape();
    let fits = match w {
        [b] => *b == batch,
        [b, 1] => *b == batch,
        _ => false,
    };
    if !fits || y_pred_shape.is_empty() {
        return Err(LossError::SampleWeight {
            name: name.to_string(),
            weight: w.to_vec(),
            y_pred: y_pred_shape.to_vec(),
            batch,
        });
    }
    Ok(sample_weight.reshape([batch])?)
}

/// Weights and reduces per-sample losses `[batch]` (see [`Loss::compute`]).
pub fn reduce<T: Float>(
    name: &str,
    per_sample: &Var<T>,
    reduction: Reduction,
    sample_weight: Option<&Tensor<T>>,
    y_pred_shape: &[usize],
) -> Result<Var<T>> {
    let weighted = match sample_weight {
        Some(w) => {
            let w = sample_weights(name, w, y_pred_shape)?;
            per_sample.mul(&Var::constant(w))?
        }
        None => per_sample.clone(),
    };
    Ok(match reduction {
        Reduction::None => weighted,
        Reduction::Sum => weighted.sum_all()?,
        Reduction::Mean => {
            let batch = weighted.value().len();
            if batch == 0 {
                Var::constant(Tensor::scalar(T::zero()))
            } else {
                weighted.mean_all()?
            }
        }
    })
}

macro_rules! saved_losses {
    ($($variant:ident),* $(,)?) => {
        /// A built-in loss with its configuration, for saving and loading (serde).
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[allow(missing_docs)]
        pub enum SavedLoss {
            $($variant(crate::$variant),)*
        }

        impl SavedLoss {
            /// The live loss.
            pub fn into_loss<T: Float>(self) -> Box<dyn Loss<T>> {
                match self {
                    $(SavedLoss::$variant(l) => Box::new(l),)*
                }
            }

            /// The loss' Keras name.
            pub fn name(&self) -> &'static str {
                match self {
                    $(SavedLoss::$variant(_) => crate::$variant::NAME,)*
                }
            }
        }
    };
}

/// Calls the macro `$m` with the list of built-in loss types: the one list behind
/// [`SavedLoss`] here and the facade's conversions into a compiled loss. The order is part of
/// the saved-model format (variants are stored by index): append only.
#[doc(hidden)]
#[macro_export]
macro_rules! with_builtin_losses {
    ($m:ident) => {
        $m! {
            CategoricalCrossentropy,
            SparseCategoricalCrossentropy,
            BinaryCrossentropy,
            MeanSquaredError,
            MeanAbsoluteError,
            Huber,
            Hinge,
            SquaredHinge,
            CategoricalHinge,
            MulticlassHinge,
            KLDivergence,
            Poisson,
            NegativeLogLikelihood,
            CosineSimilarity,
            LossFromOutput,
        }
    };
}

crate::with_builtin_losses!(saved_losses);

/// Every name [`loss_from_name`] accepts.
pub const LOSS_NAMES: &[&str] = &[
    "categorical_crossentropy",
    "CategoricalCrossentropy",
    "sparse_categorical_crossentropy",
    "SparseCategoricalCrossentropy",
    "binary_crossentropy",
    "BinaryCrossentropy",
    "bce",
    "BCE",
    "mean_squared_error",
    "MeanSquaredError",
    "mse",
    "MSE",
    "mean_absolute_error",
    "MeanAbsoluteError",
    "mae",
    "MAE",
    "huber",
    "huber_loss",
    "Huber",
    "hinge",
    "Hinge",
    "squared_hinge",
    "SquaredHinge",
    "categorical_hinge",
    "CategoricalHinge",
    "multiclass_hinge",
    "MulticlassHinge",
    "multi_margin",
    "kl_divergence",
    "KLDivergence",
    "kld",
    "KLD",
    "kullback_leibler_divergence",
    "poisson",
    "Poisson",
    "negative_log_likelihood",
    "NegativeLogLikelihood",
    "nll",
    "nll_loss",
    "cosine_similarity",
    "CosineSimilarity",
    "loss_from_output",
    "LossFromOutput",
];

/// A built-in loss with its Keras defaults, by Keras name, class name or alias
/// (`"categorical_crossentropy"`, `"CategoricalCrossentropy"`, `"mse"`, `"bce"`, `"kld"`, ...;
/// see [`LOSS_NAMES`]).
///
/// ```
/// let loss = nn_losses::loss_from_name::<f32>("mse")?;
/// assert_eq!(loss.name(), "mean_squared_error");
/// assert!(nn_losses::loss_from_name::<f32>("msee").is_err());
/// # Ok::<(), nn_losses::LossError>(())
/// ```
pub fn loss_from_name<T: Float>(name: &str) -> Result<Box<dyn Loss<T>>> {
    use crate::*;
    Ok(match name {
        "categorical_crossentropy" | "CategoricalCrossentropy" => {
            Box::new(CategoricalCrossentropy::new())
        }
        "sparse_categorical_crossentropy" | "SparseCategoricalCrossentropy" => {
            Box::new(SparseCategoricalCrossentropy::new())
        }
        "binary_crossentropy" | "BinaryCrossentropy" | "bce" | "BCE" => {
            Box::new(BinaryCrossentropy::new())
        }
        "mean_squared_error" | "MeanSquaredError" | "mse" | "MSE" => {
            Box::new(MeanSquaredError::new())
        }
        "mean_absolute_error" | "MeanAbsoluteError" | "mae" | "MAE" => {
            Box::new(MeanAbsoluteError::new())
        }
        "huber" | "huber_loss" | "Huber" => Box::new(Huber::new()),
        "hinge" | "Hinge" => Box::new(Hinge::new()),
        "squared_hinge" | "SquaredHinge" => Box::new(SquaredHinge::new()),
        "categorical_hinge" | "CategoricalHinge" => Box::new(CategoricalHinge::new()),
        "multiclass_hinge" | "MulticlassHinge" | "multi_margin" => Box::new(MulticlassHinge::new()),
        "kl_divergence" | "KLDivergence" | "kld" | "KLD" | "kullback_leibler_divergence" => {
            Box::new(KLDivergence::new())
        }
        "poisson" | "Poisson" => Box::new(Poisson::new()),
        "negative_log_likelihood" | "NegativeLogLikelihood" | "nll" | "nll_loss" => {
            Box::new(NegativeLogLikelihood::new())
        }
        "cosine_similarity" | "CosineSimilarity" => Box::new(CosineSimilarity::new()),
        "loss_from_output" | "LossFromOutput" => Box::new(LossFromOutput::new()),
        _ => {
            return Err(LossError::UnknownName {
                kind: "loss",
                name: name.to_string(),
                known: LOSS_NAMES.join(", "),
            })
        }
    })
}

/// Implements the parts of [`Loss`] every built-in loss shares, and the `reduction` builder.
macro_rules! loss_common {
    ($variant:ident) => {
        fn name(&self) -> &str {
            Self::NAME
        }

        fn reduction(&self) -> $crate::Reduction {
            self.reduction
        }

        fn to_saved(&self) -> $crate::SavedLoss {
            $crate::SavedLoss::$variant(self.clone())
        }

        fn clone_box(&self) -> Box<dyn $crate::Loss<T>> {
            Box::new(self.clone())
        }
    };
}
pub(crate) use loss_common;
