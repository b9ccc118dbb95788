//! Neural-network kernels: convolution, pooling, softmax family and the fused
//! softmax cross-entropy. Forwards and backwards both call nn-tensor's fused kernels.

use nn_tensor::{Float, Padding, Tensor};

use crate::{Result, Var};

impl<T: Float> Var<T> {
    /// 2-D convolution of NHWC `self` with a `[KH, KW, C_in, C_out]` kernel (no bias).
    pub fn conv2d(
        &self,
        kernel: &Var<T>,
        stride: (usize, usize),
        padding: Padding,
    ) -> Result<Var<T>> {
        let (x, k) = (self.value().clone(), kernel.value().clone());
        let value = x.conv2d(&k, stride, padding)?;
        Ok(Var::record(
            "conv2d",
            value,
            &[self, kernel],
            move |g, needs| {
                let (dx, dk) = Tensor::conv2d_backward(&x, &k, g, stride, padding)?;
                Ok(vec![needs[0].then_some(dx), needs[1].then_some(dk)])
            },
        ))
    }

    /// 1-D convolution of `[N, L, C_in]` `self` with a `[K, C_in, C_out]` kernel (no bias).
    pub fn conv1d(&self, kernel: &Var<T>, stride: usize, padding: Padding) -> Result<Var<T>> {
        let (x, k) = (self.value().clone(), kernel.value().clone());
        let value = x.conv1d(&k, stride, padding)?;
        Ok(Var::record(
            "conv1d",
            value,
            &[self, kernel],
            move |g, needs| {
                let (dx, dk) = Tensor::conv1d_backward(&x, &k, g, stride, padding)?;
                Ok(vec![needs[0].then_some(dx), needs[1].then_some(dk)])
            },
        ))
    }

    /// Max pooling over NHWC windows; the gradient goes to the element that won each window.
    pub fn max_pool2d(
        &self,
        pool: (usize, usize),
        stride: (usize, usize),
        padding: Padding,
    ) -> Result<Var<T>> {
        let out = self.value().max_pool2d(pool, stride, padding)?;
        let shape = self.shape().to_vec();
        let argmax = out.argmax;
        Ok(Var::record(
            "max_pool2d",
            out.values,
            &[self],
            move |g, _| Ok(vec![Some(Tensor::max_pool2d_backward(g, &argmax, &shape)?)]),
        ))
    }

    /// Average pooling over NHWC windows (padding excluded from the average).
    pub fn avg_pool2d(
        &self,
        pool: (usize, usize),
        stride: (usize, usize),
        padding: Padding,
    ) -> Result<Var<T>> {
        let value = self.value().avg_pool2d(pool, stride, padding)?;
        let shape = self.shape().to_vec();
        Ok(Var::record("avg_pool2d", value, &[self], move |g, _| {
            Ok(vec![Some(Tensor::avg_pool2d_backward(
                g, &shape, pool, stride, padding,
            )?)])
        }))
    }

    /// Max pooling over `[N, L, C]` sequences.
    pub fn max_pool1d(&self, pool: usize, stride: usize, padding: Padding) -> Result<Var<T>> {
        let out = self.value().max_pool1d(pool, stride, padding)?;
        let shape = self.shape().to_vec();
        let argmax = out.argmax;
        Ok(Var::record(
            "max_pool1d",
            out.values,
            &[self],
            move |g, _| Ok(vec![Some(Tensor::max_pool1d_backward(g, &argmax, &shape)?)]),
        ))
    }

    /// Average pooling over `[N, L, C]` sequences.
    pub fn avg_pool1d(&self, pool: usize, stride: usize, padding: Padding) -> Result<Var<T>> {
        let value = self.value().avg_pool1d(pool, stride, padding)?;
        let shape = self.shape().to_vec();
        Ok(Var::record("avg_pool1d", value, &[self], move |g, _| {
            Ok(vec![Some(Tensor::avg_pool1d_backward(
                g, &shape, pool, stride, padding,
            )?)])
        }))
    }

    /// Mean over the spatial axes: `[N, H, W, C]` → `[N, C]`.
    pub fn global_avg_pool2d(&self) -> Result<Var<T>> {
        let value = self.value().global_avg_pool2d()?;
        let shape = self.shape().to_vec();
        Ok(Var::record(
            "global_avg_pool2d",
            value,
            &[self],
            move |g, _| {
                let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3]);
                let scale = if h * w == 0 {
                    T::zero()
                } else {
                    T::one() / T::of((h * w) as f64)
                };
                Ok(vec![Some(
                    g.reshape([n, 1, 1, c])?
                        .broadcast_to(&shape)?
                        .mul_scalar(scale),
                )])
            },
        ))
    }

    /// Maximum over the spatial axes: `[N, H, W, C]` → `[N, C]`.
    pub fn global_max_pool2d(&self) -> Result<Var<T>> {
        let out = self.value().global_max_pool2d()?;
        let shape = self.shape().to_vec();
        let argmax = out.argmax;
        Ok(Var::record(
            "global_max_pool2d",
            out.values,
            &[self],
            move |g, _| {
                let (n, c) = (shape[0], shape[3]);
                Ok(vec![Some(Tensor::max_pool2d_backward(
                    &g.reshape([n, 1, 1, c])?,
                    &argmax,
                    &shape,
                )?)])
            },
        ))
    }

    /// Softmax along `axis`, numerically stable for any finite logits.
    pub fn softmax(&self, axis: isize) -> Result<Var<T>> {
        let y = self.value().softmax(axis)?;
        let out = y.clone();
        Ok(Var::record("softmax", y, &[self], move |g, _| {
            Ok(vec![Some(Tensor::softmax_backward(&out, g, axis)?)])
        }))
    }

    /// Log-softmax along `axis`.
    pub fn log_softmax(&self, axis: isize) -> Result<Var<T>> {
        let y = self.value().log_softmax(axis)?;
        let out = y.clone();
        Ok(Var::record("log_softmax", y, &[self], move |g, _| {
            Ok(vec![Some(Tensor::log_softmax_backward(&out, g, axis)?)])
        }))
    }

    /// `ln Σ exp` along `axis`.
    pub fn logsumexp(&self, axis: isize, keepdims: bool) -> Result<Var<T>> {
        let x = self.value().clone();
        let value = x.logsumexp(axis, keepdims)?;
        let mut keep = x.shape().to_vec();
        keep[nn_tensor::normalize_axis("logsumexp", axis, x.shape())?] = 1;
        Ok(Var::record("logsumexp", value, &[self], move |g, _| {
            Ok(vec![Some(Tensor::logsumexp_backward(
                &x,
                &g.reshape(&keep)?,
                axis,
            )?)])
        }))
    }

    /// Per-row cross-entropy of softmax(`self`) against integer `labels`, for `[N, C]`
    /// logits: returns the `[N]` losses. Forward and gradient come from one fused pass; the
    /// gradient buffer is the only `[N, C]` allocation.
    pub fn softmax_cross_entropy(&self, labels: &[usize]) -> Result<Var<T>> {
        if !(self.requires_grad() && crate::is_recording()) {
            let losses = self.value().softmax_cross_entropy(labels)?;
            return Ok(Var::constant(losses));
        }
        let (losses, grad) = self
            .value()
            .softmax_cross_entropy_fwd_bwd(labels, T::one())?;
        let n = losses.len();
        Ok(Var::record(
            "softmax_cross_entropy",
            losses,
            &[self],
            move |g, _| {
                // Scale each row of the fused gradient by its upstream value, in place.
                let mut grad = grad;
                let upstream = g.to_vec();
                let classes = grad.len().checked_div(n).unwrap_or(0);
                if classes > 0 {
                    let data = grad.make_contiguous_mut();
                    for (row, &s) in data.chunks_mut(classes).zip(&upstream) {
                        row.iter_mut().for_each(|v| *v *= s);
                    }
                }
                Ok(vec![Some(grad)])
            },
        ))
    }
}
