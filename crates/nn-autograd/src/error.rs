use thiserror::Error;

use crate::check::GradCheckReport;
use nn_tensor::TensorError;

/// Result type of autograd operations.
pub type Result<T, E = AutogradError> = std::result::Result<T, E>;

/// An error from recording, differentiating or checking a computation.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AutogradError {
    /// A tensor operation failed (shapes, axes, indices).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// `backward()` needs a scalar (one-element) output; use `backward_with` otherwise.
    #[error("backward: the output has shape {shape:?}; backward() needs a single element (use backward_with)")]
    NonScalarOutput {
        /// Shape of the output.
        shape: Vec<usize>,
    },
    /// The seed gradient given to `backward_with` has the wrong shape.
    #[error("backward_with: seed gradient of shape {found:?} for an output of shape {expected:?}")]
    SeedShape {
        /// The output's shape.
        expected: Vec<usize>,
        /// The seed's shape.
        found: Vec<usize>,
    },
    /// The graph through this op was already consumed by an earlier backward pass.
    #[error("backward: the graph through `{op}` was already freed by an earlier backward pass")]
    GraphFreed {
        /// The op whose graph node was gone.
        op: &'static str,
    },
    /// A gradient reached an op that has no derivative (e.g. `step`).
    #[error("backward: `{op}` is not differentiable; detach its input or use a differentiable op")]
    NonDifferentiable {
        /// The op.
        op: &'static str,
    },
    /// An op's backward produced a gradient whose shape differs from its operand's (a bug in
    /// that op; reported rather than silently broadcast).
    #[error("backward of `{op}`: gradient of shape {found:?} for operand {operand} of shape {expected:?}")]
    GradientShape {
        /// The op.
        op: &'static str,
        /// Which operand.
        operand: usize,
        /// The operand's shape.
        expected: Vec<usize>,
        /// The gradient's shape.
        found: Vec<usize>,
    },
    /// A gradient check found an element beyond tolerance.
    #[error("gradcheck failed: {0}")]
    GradCheckFailed(Box<GradCheckReport>),
    /// Any other invalid argument.
    #[error("{op}: {message}")]
    Invalid {
        /// The operation.
        op: &'static str,
        /// What was wrong.
        message: String,
    },
}
