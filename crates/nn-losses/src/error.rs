use nn_autograd::AutogradError;
use nn_tensor::TensorError;
use thiserror::Error;

/// Result type of losses and metrics.
pub type Result<T, E = LossError> = std::result::Result<T, E>;

/// An error from a loss or a metric. Every variant names the loss or metric.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LossError {
    /// An op inside the loss failed.
    #[error(transparent)]
    Autograd(#[from] AutogradError),
    /// `y_true` and `y_pred` have incompatible shapes.
    #[error("{name}: y_true shape {y_true:?} does not match y_pred shape {y_pred:?}")]
    ShapeMismatch {
        /// The loss or metric.
        name: String,
        /// Shape of `y_true`.
        y_true: Vec<usize>,
        /// Shape of `y_pred`.
        y_pred: Vec<usize>,
    },
    /// Integer labels whose shape does not fit the predictions.
    #[error(
        "{name}: integer labels y_true of shape {y_true:?} do not fit y_pred shape {y_pred:?} \
         (expected labels of shape {expected:?}, optionally with a trailing axis of size 1)"
    )]
    LabelShape {
        /// The loss or metric.
        name: String,
        /// Shape of `y_true`.
        y_true: Vec<usize>,
        /// Shape of `y_pred`.
        y_pred: Vec<usize>,
        /// The label shape that would fit (`y_pred`'s shape without its class axis).
        expected: Vec<usize>,
    },
    /// A label that is not an integer class index in `0..num_classes`.
    #[error(
        "{name}: label {label} at position {position} is not a class index in 0..{num_classes}"
    )]
    LabelOutOfRange {
        /// The loss or metric.
        name: String,
        /// The offending label value.
        label: f64,
        /// Its position in `y_true` (row-major).
        position: usize,
        /// The number of classes (the size of `y_pred`'s class axis).
        num_classes: usize,
    },
    /// A tensor of the wrong rank.
    #[error("{name}: {what} of shape {shape:?} has the wrong rank; expected {expected}")]
    Rank {
        /// The loss or metric.
        name: String,
        /// Which argument ("y_pred", "y_true").
        what: &'static str,
        /// What is accepted, e.g. "rank ≥ 2 ([batch, ..., classes])".
        expected: String,
        /// The shape given.
        shape: Vec<usize>,
    },
    /// Sample weights that do not hold one weight per sample.
    #[error(
        "{name}: sample_weight of shape {weight:?} does not match the batch of y_pred shape \
         {y_pred:?} (expected shape [{batch}] or [{batch}, 1])"
    )]
    SampleWeight {
        /// The loss or metric.
        name: String,
        /// Shape of the weights.
        weight: Vec<usize>,
        /// Shape of `y_pred`.
        y_pred: Vec<usize>,
        /// The batch size.
        batch: usize,
    },
    /// An invalid configuration value (a label smoothing outside `[0, 1]`, a negative delta,
    /// a class count that changed between batches, ...).
    #[error("{name}: {message}")]
    Config {
        /// The loss or metric.
        name: String,
        /// What was wrong.
        message: String,
    },
    /// A loss or metric name that is not known.
    #[error("unknown {kind} `{name}`; known: {known}")]
    UnknownName {
        /// "loss" or "metric".
        kind: &'static str,
        /// The name given.
        name: String,
        /// The accepted names.
        known: String,
    },
}

impl From<TensorError> for LossError {
    fn from(e: TensorError) -> Self {
        LossError::Autograd(AutogradError::Tensor(e))
    }
}

impl LossError {
    /// Shorthand for [`LossError::Config`].
    pub fn config(name: &str, message: impl Into<String>) -> Self {
        LossError::Config {
            name: name.to_string(),
            message: message.into(),
        }
    }

    /// Shorthand for [`LossError::ShapeMismatch`].
    pub fn shapes(name: &str, y_true: &[usize], y_pred: &[usize]) -> Self {
        LossError::ShapeMismatch {
            name: name.to_string(),
            y_true: y_true.to_vec(),
            y_pred: y_pred.to_vec(),
        }
    }
}
