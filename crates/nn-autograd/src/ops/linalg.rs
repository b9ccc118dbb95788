//! Matrix products.

use nn_tensor::{Float, Tensor, TensorError};

use crate::{Result, Var};

/// Multiply-adds (`M·K·N`) below which a matmul's two input gradients are computed side by
/// side rather than one after the other.
const JOIN_MAX_FLOPS: usize = 1 << 24;

impl<T: Float> Var<T> {
    /// Matrix product: `[M, K]·[K, N]`, batched `[B, M, K]·[B, K, N]`, or a batch against
    /// one shared matrix `[B, M, K]·[K, N]`. Transposed operands are read through their
    /// strides, in the forward and the backward pass alike.
    pub fn matmul(&self, other: &Var<T>) -> Result<Var<T>> {
        let (a, b) = (self.value().clone(), other.value().clone());
        let (ra, rb) = (a.ndim(), b.ndim());
        if !matches!((ra, rb), (2, 2) | (3, 3) | (3, 2)) {
            return Err(TensorError::ShapeMismatch {
                op: "matmul",
                lhs: a.shape().to_vec(),
                rhs: b.shape().to_vec(),
            }
            .into());
        }
        let value = a.matmul(&b)?;
        Ok(Var::record(
            "matmul",
            value,
            &[self, other],
            move |g, needs| {
                let grad_a = || -> Result<Option<Tensor<T>>> {
                    if !needs[0] {
                        return Ok(None);
                    }
                    Ok(Some(if ra == rb {
                        g.matmul_t(&b, false, true)?
                    } else {
                        g.matmul(&b.t()?)?
                    }))
                };
                let grad_b = || -> Result<Option<Tensor<T>>> {
                    if !needs[1] {
                        return Ok(None);
                    }
                    Ok(Some(if ra == rb {
                        a.matmul_t(g, true, false)?
                    } else {
                        // Shared matrix: sum over the batch by folding it into the rows.
                        let (bs, m, k) = (a.shape()[0], a.shape()[1], a.shape()[2]);
                        let n = g.shape()[2];
                        let a2 = a.reshape([bs * m, k])?;
                        let g2 = g.reshape([bs * m, n])?;
                        a2.matmul_t(&g2, true, false)?
                    }))
                };
                // Two small products run side by side, each on one thread: split in two, a
                // product this small gains little (packing and the fork-join do not shrink).
                let flops = a.len() * g.shape()[g.ndim() - 1];
                let (ga, gb) = if needs[0] && needs[1] && flops < JOIN_MAX_FLOPS {
                    rayon::join(grad_a, grad_b)
                } else {
                    (grad_a(), grad_b())
                };
                Ok(vec![ga?, gb?])
            },
        ))
    }
}
