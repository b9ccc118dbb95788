use nn_tensor::TensorError;
use thiserror::Error;

/// Result type of optimizer operations.
pub type Result<T, E = OptimError> = std::result::Result<T, E>;

/// An error from configuring, running, saving or loading an optimizer, a clipping function or
/// a learning-rate schedule. Variants name the optimizer (or schedule) involved.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum OptimError {
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An invalid hyper-parameter.
    #[error("optimizer `{optimizer}`: {message}")]
    Config {
        /// The optimizer's (or schedule's, or clipping function's) name.
        optimizer: String,
        /// What was wrong.
        message: String,
    },
    /// A parameter's gradient does not have the parameter's shape.
    #[error(
        "optimizer `{optimizer}`: parameter `{key}` has shape {value:?} but its gradient has shape {grad:?}"
    )]
    GradShape {
        /// The optimizer's name.
        optimizer: String,
        /// The parameter's key.
        key: String,
        /// Shape of the parameter.
        value: Vec<usize>,
        /// Shape of the gradient.
        grad: Vec<usize>,
    },
    /// The optimizer holds state (moments, accumulators) for this key with another shape: the
    /// model changed under the optimizer, or two different parameters share one key.
    #[error(
        "optimizer `{optimizer}`: parameter `{key}` has shape {value:?} but the optimizer's state for it has shape {state:?}"
    )]
    StateShape {
        /// The optimizer's name.
        optimizer: String,
        /// The parameter's key.
        key: String,
        /// Shape of the parameter.
        value: Vec<usize>,
        /// Shape of the stored state.
        state: Vec<usize>,
    },
    /// The same key appears twice in one `apply` call.
    #[error("optimizer `{optimizer}`: parameter key `{key}` appears more than once in one step")]
    DuplicateKey {
        /// The optimizer's name.
        optimizer: String,
        /// The repeated key.
        key: String,
    },
    /// A saved optimizer whose state does not fit its configuration.
    #[error("saved optimizer `{optimizer}`: {message}")]
    Saved {
        /// The optimizer's name.
        optimizer: String,
        /// What was wrong.
        message: String,
    },
    /// A name that is not known.
    #[error("unknown {kind} `{name}`; known: {known}")]
    UnknownName {
        /// What kind of name.
        kind: &'static str,
        /// The name given.
        name: String,
        /// The accepted names.
        known: String,
    },
}

impl OptimError {
    /// Shorthand for [`OptimError::Config`].
    pub fn config(optimizer: impl Into<String>, message: impl Into<String>) -> Self {
        OptimError::Config {
            optimizer: optimizer.into(),
            message: message.into(),
        }
    }
}
