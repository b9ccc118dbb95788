use thiserror::Error;

/// Result type of fallible tensor operations.
pub type Result<T, E = TensorError> = std::result::Result<T, E>;

/// An error from a tensor operation. Every variant names the op that failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TensorError {
    /// Two operand shapes are incompatible for `op`.
    #[error("{op}: incompatible shapes {lhs:?} and {rhs:?}")]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// Shape of the first operand.
        lhs: Vec<usize>,
        /// Shape of the second operand (or the requested shape).
        rhs: Vec<usize>,
    },
    /// The number of elements given does not match the shape.
    #[error("{op}: {len} elements cannot fill shape {shape:?} ({expected} elements)")]
    LengthMismatch {
        /// The operation.
        op: &'static str,
        /// Elements supplied.
        len: usize,
        /// The requested shape.
        shape: Vec<usize>,
        /// Elements the shape holds.
        expected: usize,
    },
    /// An axis outside `-rank..rank`.
    #[error("{op}: axis {axis} is out of range for a tensor of shape {shape:?}")]
    InvalidAxis {
        /// The operation.
        op: &'static str,
        /// The axis requested.
        axis: isize,
        /// Shape of the operand.
        shape: Vec<usize>,
    },
    /// An index (a label, a gather index, a slice bound) outside its range.
    #[error("{op}: index {index} is out of range 0..{len}")]
    IndexOutOfRange {
        /// The operation.
        op: &'static str,
        /// The offending index.
        index: i64,
        /// The exclusive upper bound.
        len: usize,
    },
    /// The operand has the wrong rank for `op`.
    #[error("{op}: expected a tensor of rank {expected}, got shape {shape:?}")]
    RankMismatch {
        /// The operation.
        op: &'static str,
        /// A description of the accepted ranks, e.g. "2" or "2 or 3".
        expected: String,
        /// Shape of the operand.
        shape: Vec<usize>,
    },
    /// Any other invalid argument, described in words.
    #[error("{op}: {message}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What was wrong.
        message: String,
    },
}

impl TensorError {
    /// Shorthand for [`TensorError::InvalidArgument`].
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        TensorError::InvalidArgument {
            op,
            message: message.into(),
        }
    }
}
