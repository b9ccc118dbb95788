use nn_autograd::AutogradError;
use nn_tensor::TensorError;
use thiserror::Error;

/// Result type of layer operations.
pub type Result<T, E = LayerError> = std::result::Result<T, E>;

/// An error from configuring, building or calling a layer. Variants name the layer.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LayerError {
    /// An op inside the layer failed.
    #[error(transparent)]
    Autograd(#[from] AutogradError),
    /// The input's shape does not fit the layer.
    #[error("layer `{layer}` expects input of shape {expected}, got {found:?}")]
    Shape {
        /// The layer's name.
        layer: String,
        /// What the layer accepts, e.g. "[batch, 64]" or "rank 4 (NHWC)".
        expected: String,
        /// The shape it was given.
        found: Vec<usize>,
    },
    /// The layer received the wrong number of inputs.
    #[error("layer `{layer}` takes {expected} input(s), got {found}")]
    Inputs {
        /// The layer's name.
        layer: String,
        /// Inputs accepted, e.g. "1" or "at least 2".
        expected: String,
        /// Inputs given.
        found: usize,
    },
    /// An invalid configuration value.
    #[error("layer `{layer}`: {message}")]
    Config {
        /// The layer's name.
        layer: String,
        /// What was wrong.
        message: String,
    },
    /// A name (activation, initializer, ...) that is not known.
    #[error("unknown {kind} `{name}`; known: {known}")]
    UnknownName {
        /// What kind of name.
        kind: &'static str,
        /// The name given.
        name: String,
        /// The accepted names.
        known: String,
    },
    /// The layer was called before being built.
    #[error("layer `{layer}` is used before it was built (give the model an input shape)")]
    NotBuilt {
        /// The layer's name.
        layer: String,
    },
}

impl From<TensorError> for LayerError {
    fn from(e: TensorError) -> Self {
        LayerError::Autograd(AutogradError::Tensor(e))
    }
}
