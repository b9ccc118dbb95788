//! # nn
//!
//! A deep-learning library with the feel of Keras, fast on the CPU.
//!
//! This facade re-exports the stack's crates:
//! [`tensor`] (n-d tensors and fused kernels) and [`autograd`] (reverse-mode autodiff and the
//! gradient checker). Most programs need only the [`prelude`].
//!
//! ```
//! use nn::prelude::*;
//!
//! let w = Var::param(Tensor::<f64>::from_f64s(&[0.5, -0.25], [2, 1])?);
//! let x = Var::constant(Tensor::<f64>::from_f64s(&[1.0, 2.0], [1, 2])?);
//! let y = x.matmul(&w)?.sigmoid()?.sum_all()?;
//! let grads = y.backward()?;
//! assert_eq!(grads.get(&w).map(|g| g.shape().to_vec()), Some(vec![2, 1]));
//! # Ok::<(), nn::autograd::AutogradError>(())
//! ```

pub use nn_autograd as autograd;
pub use nn_tensor as tensor;

/// The names most programs use.
pub mod prelude {
    pub use nn_autograd::{gradcheck, no_grad, Gradients, Var};
    pub use nn_tensor::{Float, Padding, Tensor};
}
