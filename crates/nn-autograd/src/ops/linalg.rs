//! Matrix products.

use nn_tensor::{Float, TensorError};

use crate::{Result, Var};

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
                let ga = if needs[0] {
                    Some(if ra == rb {
                        g.matmul_t(&b, false, true)?
                    } else {
                        g.matmul(&b.t()?)?
                    })
                } else {
                    None
                };
                let gb = if needs[1] {
                    Some(if ra == rb {
                        a.matmul_t(g, true, false)?
                    } else {
                        // Shared matrix: sum over the batch by folding it into the rows.
                        let (bs, m, k) = (a.shape()[0], a.shape()[1], a.shape()[2]);
                        let n = g.shape()[2];
                        let a2 = a.reshape([bs * m, k])?;
                        let g2 = g.reshape([bs * m, n])?;
                        a2.matmul_t(&g2, true, false)?
                    })
                } else {
                    None
                };
                Ok(vec![ga, gb])
            },
        ))
    }
}
