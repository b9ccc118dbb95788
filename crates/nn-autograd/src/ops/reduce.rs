//! Reductions. Each backward broadcasts the output gradient back over the reduced axes.

use nn_tensor::{normalize_axis, Float, Tensor};

use crate::{Result, Var};

/// The input shape with every reduced axis set to 1 (the keepdims shape).
fn keep_shape(op: &'static str, shape: &[usize], axes: &[isize]) -> Result<Vec<usize>> {
    let mut keep = shape.to_vec();
    if axes.is_empty() {
        keep.iter_mut().for_each(|d| *d = 1);
    }
    for &a in axes {
        keep[normalize_axis(op, a, shape)?] = 1;
    }
    Ok(keep)
}

impl<T: Float> Var<T> {
    /// Sum over `axes` (all axes when empty), optionally keeping them as size 1.
    pub fn sum(&self, axes: &[isize], keepdims: bool) -> Result<Var<T>> {
        let value = self.value().sum(axes, keepdims)?;
        let shape = self.shape().to_vec();
        let keep = keep_shape("sum", &shape, axes)?;
        Ok(Var::record("sum", value, &[self], move |g, _| {
            Ok(vec![Some(g.reshape(&keep)?.broadcast_to(&shape)?)])
        }))
    }

    /// Sum of all elements, a rank-0 var.
    pub fn sum_all(&self) -> Result<Var<T>> {
        let value = Tensor::scalar(self.value().sum_all());
        let shape = self.shape().to_vec();
        Ok(Var::record("sum_all", value, &[self], move |g, _| {
            Ok(vec![Some(Tensor::full(&shape, g.item()?))])
        }))
    }

    /// Mean over `axes` (all axes when empty).
    pub fn mean(&self, axes: &[isize], keepdims: bool) -> Result<Var<T>> {
        let value = self.value().mean(axes, keepdims)?;
        let shape = self.shape().to_vec();
        let keep = keep_shape("mean", &shape, axes)?;
        let count = reduced_count(&shape, &keep);
        let scale = if count == 0 {
            T::zero()
        } else {
            T::one() / T::of(count as f64)
        };
        Ok(Var::record("mean", value, &[self], move |g, _| {
            Ok(vec![Some(
                g.reshape(&keep)?.broadcast_to(&shape)?.mul_scalar(scale),
            )])
        }))
    }

    /// Mean of all elements, a rank-0 var.
    pub fn mean_all(&self) -> Result<Var<T>> {
        let n = self.value().len();
        let value = Tensor::scalar(self.value().mean_all());
        let shape = self.shape().to_vec();
        Ok(Var::record("mean_all", value, &[self], move |g, _| {
            let v = if n == 0 {
                T::zero()
            } else {
                g.item()? / T::of(n as f64)
            };
            Ok(vec![Some(Tensor::full(&shape, v))])
        }))
    }

    fn extremum(
        &self,
        op: &'static str,
        axes: &[isize],
        keepdims: bool,
        max: bool,
    ) -> Result<Var<T>> {
        let x = self.value().clone();
        let kept = if max {
            x.max(axes, true)?
        } else {
            x.min(axes, true)?
        };
        let value = if keepdims {
            kept.clone()
        } else {
            kept.reshape(dropped_shape(x.shape(), axes)?)?
        };
        let keep = kept.shape().to_vec();
        Ok(Var::record(op, value, &[self], move |g, _| {
            // Ties share the gradient equally (as PyTorch's amax/amin).
            let mask = x.eq_mask(&kept)?;
            let count = mask.sum(axes_of(&keep, x.shape()).as_slice(), true)?;
            let share = g.reshape(&keep)?.div(&count)?;
            Ok(vec![Some(mask.mul(&share)?)])
        }))
    }

    /// Maximum over `axes` (all when empty); tied maxima share the gradient equally.
    pub fn max(&self, axes: &[isize], keepdims: bool) -> Result<Var<T>> {
        self.extremum("max", axes, keepdims, true)
    }

    /// Minimum over `axes` (all when empty); tied minima share the gradient equally.
    pub fn min(&self, axes: &[isize], keepdims: bool) -> Result<Var<T>> {
        self.extremum("min", axes, keepdims, false)
    }

    /// Variance over `axes` with `ddof` delta degrees of freedom (0: population variance).
    pub fn var(&self, axes: &[isize], keepdims: bool, ddof: usize) -> Result<Var<T>> {
        let x = self.value().clone();
        let value = x.var(axes, keepdims, ddof)?;
        let keep = keep_shape("var", x.shape(), axes)?;
        let n = reduced_count(x.shape(), &keep);
        let denom = T::of(n.saturating_sub(ddof).max(1) as f64);
        Ok(Var::record("var", value, &[self], move |g, _| {
            let mean = x.mean(axes_of(&keep, x.shape()).as_slice(), true)?;
            let centered = x.sub(&mean)?;
            let scale = T::of(2.0) / denom;
            Ok(vec![Some(
                centered.mul(&g.reshape(&keep)?)?.mul_scalar(scale),
            )])
        }))
    }
}

/// The axes where `keep` is 1 (reducing a size-1 axis that was not asked for is harmless).
fn axes_of(keep: &[usize], _shape: &[usize]) -> Vec<isize> {
    keep.iter()
        .enumerate()
        .filter(|(_, k)| **k == 1)
        .map(|(i, _)| i as isize)
        .collect()
}

/// How many input elements fold into each output element.
fn reduced_count(shape: &[usize], keep: &[usize]) -> usize {
    shape
        .iter()
        .zip(keep)
        .filter(|(_, k)| **k == 1)
        .map(|(s, _)| *s)
        .product()
}

/// The output shape of a reduction over `axes` without keepdims.
fn dropped_shape(shape: &[usize], axes: &[isize]) -> Result<Vec<usize>> {
    if axes.is_empty() {
        return Ok(vec![]);
    }
    let mut drop = vec![false; shape.len()];
    for &a in axes {
        drop[normalize_axis("reduce", a, shape)?] = true;
    }
    Ok(shape
        .iter()
        .zip(drop)
        .filter(|(_, d)| !d)
        .map(|(s, _)| *s)
        .collect())
}
