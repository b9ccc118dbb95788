use std::path::PathBuf;

use thiserror::Error;

/// Result type of the `nn` API.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error the Keras-style API can return. Nothing reachable with user data panics.
#[derive(Debug, Error)]
pub enum Error {
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] nn_tensor::TensorError),
    /// Differentiation failed.
    #[error(transparent)]
    Autograd(#[from] nn_autograd::AutogradError),
    /// A layer rejected its configuration or input.
    #[error(transparent)]
    Layer(#[from] nn_layers::LayerError),
    /// A loss or metric rejected its input.
    #[error(transparent)]
    Loss(#[from] nn_losses::LossError),
    /// An optimizer failed.
    #[error(transparent)]
    Optim(#[from] nn_optim::OptimError),
    /// Reading or preparing data failed.
    #[error(transparent)]
    Data(#[from] nn_data::DataError),
    /// `fit`, `evaluate` or `train_on_batch` before `compile`.
    #[error(
        "the model must be compiled before {0} (call model.compile(optimizer, loss, metrics))"
    )]
    NotCompiled(&'static str),
    /// The model's structure is invalid.
    #[error("model: {0}")]
    Model(String),
    /// The data given to fit/evaluate/predict does not fit the model.
    #[error("{op}: {message}")]
    Input {
        /// The call.
        op: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The loss became NaN or infinite during training.
    #[error("non-finite loss {value} at epoch {epoch}, batch {batch}; training stopped")]
    NonFiniteLoss {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: usize,
        /// The loss value.
        value: f64,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A word is not in an embedding's vocabulary.
    #[error("word `{word}` is not in the vocabulary")]
    UnknownWord {
        /// The word looked up.
        word: String,
    },
    /// A text file (evaluation data) does not parse.
    #[error("{}:{line}: {message}", path.display())]
    TextFile {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A model file is not valid.
    #[error("{path}: {message} (at byte {offset})")]
    Format {
        /// The file.
        path: PathBuf,
        /// Where the problem was found.
        offset: u64,
        /// What was wrong.
        message: String,
    },
}

impl Error {
    pub(crate) fn input(op: &'static str, message: impl Into<String>) -> Self {
        Error::Input {
            op,
            message: message.into(),
        }
    }
}
