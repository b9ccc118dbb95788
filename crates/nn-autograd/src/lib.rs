//! # nn-autograd
//!
//! Reverse-mode, define-by-run automatic differentiation over [`nn_tensor::Tensor`].
//!
//! A [`Var`] wraps a tensor. Operations on vars compute their value at once and, when an
//! operand requires a gradient and recording is on, remember how to send a gradient back to
//! their operands: each op's forward and backward are written side by side in `ops/`.
//! [`Var::backward`] walks the recorded graph once in reverse topological order, returns a
//! [`Gradients`] store keyed by the leaf vars' ids, and frees the graph as it goes.
//!
//! [`no_grad`] runs a closure with recording off (inference: no graph is allocated), and
//! [`gradcheck`] compares analytic gradients with central finite differences in `f64`.
//!
//! ```
//! use nn_autograd::Var;
//! use nn_tensor::Tensor;
//!
//! let w = Var::param(Tensor::<f64>::from_f64s(&[1.0, 2.0, 3.0], [3])?);
//! let loss = w.mul(&w)?.sum_all()?; // Σ w²
//! let grads = loss.backward()?;
//! assert_eq!(grads.get(&w).unwrap().to_vec(), vec![2.0, 4.0, 6.0]);
//! # Ok::<(), nn_autograd::AutogradError>(())
//! ```

mod check;
mod error;
mod grads;
mod graph;
mod mode;
pub mod ops;
mod var;

pub use check::{gradcheck, gradcheck_many, GradCheckOptions, GradCheckReport, WorstElement};
pub use error::{AutogradError, Result};
pub use grads::Gradients;
pub use mode::{is_recording, no_grad, NoGradGuard};
pub use ops::DIFFERENTIABLE_OPS;
pub use var::{BackwardFn, Var, VarId};

pub use nn_tensor::{Float, Tensor, TensorError};

/// The crate's guide (`docs/guide/nn-autograd.md`), with examples that run as doctests.
#[doc = include_str!("../../../docs/guide/nn-autograd.md")]
pub mod guide {}
