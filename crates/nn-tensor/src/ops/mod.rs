//! Tensor operations, one module per family. Each module adds inherent methods to
//! [`Tensor`](crate::Tensor).

pub mod conv;
pub mod elementwise;
pub mod index;
pub mod matmul;
pub mod movement;
pub(crate) mod packed_gemm;
pub mod pool;
pub mod reduce;
pub mod softmax;
