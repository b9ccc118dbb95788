//! # nn-tensor
//!
//! n-dimensional tensors for the `nn` deep-learning library: a cheaply clonable array over
//! [`ndarray`], generic over the float type (`f32` by default, `f64` for gradient checking),
//! with NumPy broadcasting, reductions, shape ops, GEMM on `matrixmultiply` parallelised with
//! `rayon`, convolution support (im2col / col2im, NHWC layout), pooling, and fused,
//! numerically stable softmax / log-softmax / logsumexp / softmax-cross-entropy kernels.
//!
//! ## Errors
//! Operations whose validity depends on shapes, axes or indices return
//! [`Result<_, TensorError>`](TensorError); the error names the op and the shapes involved.
//! Operations that cannot fail (element-wise unary math, scalar ops) return a [`Tensor`]
//! directly. See `docs/ARCHITECTURE.md` for the reasoning.
//!
//! ```
//! use nn_tensor::Tensor;
//! let a = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2])?;
//! let b = Tensor::<f32>::ones([2]);
//! let c = a.add(&b)?; // broadcasts [2] against [2, 2]
//! assert_eq!(c.to_vec(), vec![2.0, 3.0, 4.0, 5.0]);
//! # Ok::<(), nn_tensor::TensorError>(())
//! ```

pub mod buffer;
mod error;
mod float;
pub mod ops;
pub mod parallel;
pub mod random;
pub mod sampling;
mod shape;
mod tensor;

pub use error::{Result, TensorError};
pub use float::Float;
pub use ops::conv::{Conv2dGeometry, Padding};
pub use ops::pool::MaxPoolOutput;
pub use shape::{broadcast_shapes, normalize_axis};
pub use tensor::Tensor;

/// The crate's guide (`docs/guide/nn-tensor.md`), with examples that run as doctests.
#[doc = include_str!("../../../docs/guide/nn-tensor.md")]
pub mod guide {}
