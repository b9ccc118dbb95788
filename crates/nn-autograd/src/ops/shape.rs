//! Shape and indexing ops: their backward moves the gradient back into the operand's layout.

use nn_tensor::{normalize_axis, Float, Tensor};

use crate::{AutogradError, Result, Var};

impl<T: Float> Var<T> {
    /// The same elements in a new shape.
    pub fn reshape(&self, shape: impl AsRef<[usize]>) -> Result<Var<T>> {
        let value = self.value().reshape(shape.as_ref())?;
        let original = self.shape().to_vec();
        Ok(Var::record("reshape", value, &[self], move |g, _| {
            Ok(vec![Some(g.reshape(&original)?)])
        }))
    }

    /// Merges every axis from `axis` on into one (`[N, H, W, C]` → `[N, H·W·C]` for 1).
    pub fn flatten_from(&self, axis: usize) -> Result<Var<T>> {
        let shape = self.shape();
        if axis > shape.len() {
            return Err(AutogradError::Invalid {
                op: "flatten_from",
                message: format!("axis {axis} is beyond the rank of shape {shape:?}"),
            });
        }
        let mut target: Vec<usize> = shape[..axis].to_vec();
        target.push(shape[axis..].iter().product());
        self.reshape(target)
    }

    /// Reorders the axes (a view; no copy).
    pub fn permute(&self, axes: &[usize]) -> Result<Var<T>> {
        let value = self.value().permute(axes)?;
        let mut inverse = vec![0; axes.len()];
        for (i, &a) in axes.iter().enumerate() {
            inverse[a] = i;
        }
        Ok(Var::record("permute", value, &[self], move |g, _| {
            Ok(vec![Some(g.permute(&inverse)?)])
        }))
    }

    /// Swaps the last two axes.
    pub fn t(&self) -> Result<Var<T>> {
        let rank = self.shape().len();
        if rank < 2 {
            return Err(nn_tensor::TensorError::RankMismatch {
                op: "t",
                expected: "at least 2".into(),
                shape: self.shape().to_vec(),
            }
            .into());
        }
        let mut axes: Vec<usize> = (0..rank).collect();
        axes.swap(rank - 1, rank - 2);
        self.permute(&axes)
    }

    /// Broadcasts to `shape` (NumPy rules); the backward sums over the broadcast axes.
    pub fn broadcast_to(&self, shape: impl AsRef<[usize]>) -> Result<Var<T>> {
        let value = self.value().broadcast_to(shape.as_ref())?;
        let original = self.shape().to_vec();
        Ok(Var::record("broadcast_to", value, &[self], move |g, _| {
            Ok(vec![Some(g.sum_to_shape(&original)?)])
        }))
    }

    /// Removes `axis`, which must have size 1.
    pub fn squeeze(&self, axis: isize) -> Result<Var<T>> {
        let value = self.value().squeeze(axis)?;
        let original = self.shape().to_vec();
        Ok(Var::record("squeeze", value, &[self], move |g, _| {
            Ok(vec![Some(g.reshape(&original)?)])
        }))
    }

    /// Inserts a size-1 axis at `axis`.
    pub fn unsqueeze(&self, axis: isize) -> Result<Var<T>> {
        let value = self.value().unsqueeze(axis)?;
        let original = self.shape().to_vec();
        Ok(Var::record("unsqueeze", value, &[self], move |g, _| {
            Ok(vec![Some(g.reshape(&original)?)])
        }))
    }

    /// Elements `start..end` along `axis` (a view).
    pub fn slice_axis(&self, axis: isize, start: usize, end: usize) -> Result<Var<T>> {
        let value = self.value().slice_axis(axis, start, end)?;
        let ax = normalize_axis("slice_axis", axis, self.shape())?;
        let len = self.shape()[ax];
        Ok(Var::record("slice_axis", value, &[self], move |g, _| {
            Ok(vec![Some(g.pad_axis(
                ax as isize,
                start,
                len - end,
                T::zero(),
            )?)])
        }))
    }

    /// Pads `axis` with `before` and `after` copies of `value`.
    pub fn pad_axis(&self, axis: isize, before: usize, after: usize, value: T) -> Result<Var<T>> {
        let out = self.value().pad_axis(axis, before, after, value)?;
        let ax = normalize_axis("pad_axis", axis, self.shape())?;
        let len = self.shape()[ax];
        Ok(Var::record("pad_axis", out, &[self], move |g, _| {
            Ok(vec![Some(
                g.slice_axis(ax as isize, before, before + len)?
                    .contiguous(),
            )])
        }))
    }

    /// Splits along `axis` into pieces of the given sizes (each piece is a slice).
    pub fn split(&self, axis: isize, sizes: &[usize]) -> Result<Vec<Var<T>>> {
        let ax = normalize_axis("split", axis, self.shape())?;
        let total: usize = sizes.iter().sum();
        if total != self.shape()[ax] {
            return Err(nn_tensor::TensorError::invalid(
                "split",
                format!(
                    "sizes {sizes:?} do not add up to axis {axis} of shape {:?}",
                    self.shape()
                ),
            )
            .into());
        }
        let mut start = 0;
        let mut out = Vec::with_capacity(sizes.len());
        for &s in sizes {
            out.push(self.slice_axis(axis, start, start + s)?);
            start += s;
        }
        Ok(out)
    }

    /// Joins vars along an existing axis.
    pub fn concat(vars: &[&Var<T>], axis: isize) -> Result<Var<T>> {
        let values: Vec<&Tensor<T>> = vars.iter().map(|v| v.value()).collect();
        let value = Tensor::concat(&values, axis)?;
        let ax = normalize_axis("concat", axis, value.shape())?;
        let sizes: Vec<usize> = vars.iter().map(|v| v.shape()[ax]).collect();
        Ok(Var::record("concat", value, vars, move |g, needs| {
            let pieces = g.split(ax as isize, &sizes)?;
            Ok(pieces
                .into_iter()
                .zip(needs)
                .map(|(p, &n)| n.then_some(p))
                .collect())
        }))
    }

    /// Joins same-shaped vars along a new axis.
    pub fn stack(vars: &[&Var<T>], axis: isize) -> Result<Var<T>> {
        let values: Vec<&Tensor<T>> = vars.iter().map(|v| v.value()).collect();
        let value = Tensor::stack(&values, axis)?;
        let ax = normalize_axis("stack", axis, value.shape())?;
        let count = vars.len();
        Ok(Var::record("stack", value, vars, move |g, needs| {
            let mut out = Vec::with_capacity(count);
            for (i, &n) in needs.iter().enumerate() {
                out.push(if n {
                    Some(g.slice_axis(ax as isize, i, i + 1)?.squeeze(ax as isize)?)
                } else {
                    None
                });
            }
            Ok(out)
        }))
    }

    /// Picks `indices` along `axis` (an embedding lookup along axis 0); repeated indices
    /// accumulate their gradients.
    pub fn index_select(&self, axis: isize, indices: &[usize]) -> Result<Var<T>> {
        let value = self.value().index_select(axis, indices)?;
        let shape = self.shape().to_vec();
        let indices = indices.to_vec();
        Ok(Var::record("index_select", value, &[self], move |g, _| {
            let mut grad = Tensor::zeros(&shape);
            grad.index_add_assign(axis, &indices, g)?;
            Ok(vec![Some(grad)])
        }))
    }

    /// For each position of the other axes, the element at `indices` along `axis` (that axis
    /// kept with size 1): the gather used to pick each row's label score.
    pub fn take_along_axis(&self, axis: isize, indices: &[usize]) -> Result<Var<T>> {
        let value = self.value().take_along_axis(axis, indices)?;
        let shape = self.shape().to_vec();
        let indices = indices.to_vec();
        Ok(Var::record(
            "take_along_axis",
            value,
            &[self],
            move |g, _| {
                Ok(vec![Some(Tensor::scatter_along_axis(
                    g, axis, &indices, &shape,
                )?)])
            },
        ))
    }
}
