//! Shape and movement ops: reshape, flatten, permute / transpose, squeeze / unsqueeze,
//! broadcasting, slicing, concatenation / stacking / splitting and padding.
//!
//! Ops that only change the shape or the strides (`permute`, `t`, `swap_axes`, `squeeze`,
//! `unsqueeze`, `slice_axis`, `narrow`, `slice`, `split`, `chunk`, and `reshape` of a
//! contiguous tensor) return *views*: the result shares the buffer of `self` (copy-on-write
//! keeps that sound). The others (`broadcast_to`, `concat`, `stack`, `pad_axis`, `reshape`
//! of a non-contiguous tensor) build a new standard-layout buffer.

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Slice, Zip};

use crate::parallel::ELEMENTWISE_PAR_MIN;
use crate::{normalize_axis, Float, Result, Tensor, TensorError};

// ------------------------------------------------------------------------------ helpers

/// The number of elements of `shape`, or an error naming `op` if it overflows `usize`.
pub(crate) fn checked_len(op: &'static str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| TensorError::invalid(op, format!("shape {shape:?} has too many elements")))
}

/// A standard-layout array of `shape` filled with `value`; an error (never a panic) if the
/// shape is too large to address.
pub(crate) fn filled<T: Float>(op: &'static str, shape: &[usize], value: T) -> Result<ArrayD<T>> {
    let n = checked_len(op, shape)?;
    from_vec_checked(op, shape, crate::buffer::filled(n, value))
}

/// Wraps a row-major `Vec` into an array of `shape`, mapping ndarray's error to ours.
pub(crate) fn from_vec_checked<T: Float>(
    op: &'static str,
    shape: &[usize],
    values: Vec<T>,
) -> Result<ArrayD<T>> {
    let len = values.len();
    ArrayD::from_shape_vec(IxDyn(shape), values).map_err(|e| {
        TensorError::invalid(
            op,
            format!("cannot build shape {shape:?} from {len} elements: {e}"),
        )
    })
}

/// A standard-layout copy of `view`. Uses a strided `Zip` copy (fast inner loops, parallel
/// above [`ELEMENTWISE_PAR_MIN`]) rather than element-by-element n-d iteration.
pub(crate) fn standard_copy<T: Float>(view: &ArrayViewD<'_, T>) -> ArrayD<T> {
    let mut out = crate::buffer::zeros_array(view.shape());
    if out.len() >= ELEMENTWISE_PAR_MIN {
        Zip::from(&mut out).and(view).par_for_each(|o, &x| *o = x);
    } else {
        out.assign(view);
    }
    out
}

/// Maps an insertion axis (`-(rank + 1)..=rank`, negative counts from the end) to `0..=rank`.
fn normalize_insert_axis(op: &'static str, axis: isize, shape: &[usize]) -> Result<usize> {
    let rank = shape.len() as isize;
    let a = if axis < 0 { axis + rank + 1 } else { axis };
    if a < 0 || a > rank {
        return Err(TensorError::InvalidAxis {
            op,
            axis,
            shape: shape.to_vec(),
        });
    }
    Ok(a as usize)
}

/// The product of the axes before `axis` and the product of the axes after it.
pub(crate) fn outer_inner(shape: &[usize], axis: usize) -> (usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis + 1..].iter().product(),
    )
}

impl<T: Float> Tensor<T> {
    // -------------------------------------------------------------------------- reshape

    /// Reshapes with the shape's total unchanged, by cheap view when contiguous; callers have
    /// checked that `shape` holds exactly `self.len()` elements.
    fn reshape_checked(&self, op: &'static str, shape: &[usize]) -> Result<Tensor<T>> {
        let err = |e: ndarray::ShapeError| {
            TensorError::invalid(
                op,
                format!(
                    "cannot reshape {:?} into {shape:?}: {e}",
                    self.shape().to_vec()
                ),
            )
        };
        if self.is_contiguous() {
            let a = self
                .array()
                .clone()
                .into_shape_with_order(IxDyn(shape))
                .map_err(err)?;
            Ok(Tensor::from_shared(a))
        } else {
            let a = standard_copy(&self.view())
                .into_shape_with_order(IxDyn(shape))
                .map_err(err)?;
            Ok(Tensor::from_array(a))
        }
    }

    /// The same elements (in row-major order) with a new shape holding as many elements.
    ///
    /// A contiguous tensor is reshaped without copying (the result shares the buffer); a
    /// non-contiguous one (e.g. a transposed view) is first copied into standard layout, so
    /// the result always follows the *logical* row-major order.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming `reshape`, the current and the requested shape,
    /// when the element counts differ.
    pub fn reshape(&self, shape: impl AsRef<[usize]>) -> Result<Tensor<T>> {
        let shape = shape.as_ref();
        let n = checked_len("reshape", shape)?;
        if n != self.len() {
            return Err(TensorError::ShapeMismatch {
                op: "reshape",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
            });
        }
        self.reshape_checked("reshape", shape)
    }

    /// As [`Tensor::reshape`], but at most one entry may be `-1`: its size is inferred from
    /// the number of elements.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `reshape` if more than one entry is `-1`,
    /// an entry is below `-1`, the inferred size is ambiguous (other sizes multiply to 0)
    /// or the element counts cannot match.
    pub fn reshape_infer(&self, shape: &[isize]) -> Result<Tensor<T>> {
        const OP: &str = "reshape";
        let bad = |why: &str| {
            TensorError::invalid(
                OP,
                format!(
                    "cannot reshape {:?} into {shape:?}: {why}",
                    self.shape().to_vec()
                ),
            )
        };
        let mut infer = None;
        let mut known = 1usize;
        for (i, &d) in shape.iter().enumerate() {
            match d {
                -1 if infer.is_some() => return Err(bad("only one size may be -1")),
                -1 => infer = Some(i),
                d if d < 0 => return Err(bad("sizes must be non-negative or -1")),
                d => {
                    known = known
                        .checked_mul(d as usize)
                        .ok_or_else(|| bad("too many elements"))?
                }
            }
        }
        let mut out: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
        if let Some(i) = infer {
            if known == 0 {
                return Err(bad(
                    "the size for -1 is ambiguous when the other sizes multiply to 0",
                ));
            }
            if self.len() % known != 0 {
                return Err(bad("the element counts do not divide"));
            }
            out[i] = self.len() / known;
        } else if known != self.len() {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: self.shape().to_vec(),
                rhs: out,
            });
        }
        self.reshape_checked(OP, &out)
    }

    /// All elements in row-major order as a rank-1 tensor (a view when contiguous).
    pub fn flatten(&self) -> Tensor<T> {
        let n = self.len();
        self.reshape_checked("flatten", &[n])
            .unwrap_or_else(|_| unreachable!("a rank-1 shape of len() elements always fits"))
    }

    /// Keeps the axes before `axis` and merges `axis` and all later axes into one:
    /// `[N, H, W, C]` with `axis = 1` becomes `[N, H·W·C]`. `axis = 0` flattens completely;
    /// `axis = rank` appends an axis of size 1.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] naming `flatten_from` if `axis > rank`.
    pub fn flatten_from(&self, axis: usize) -> Result<Tensor<T>> {
        let shape = self.shape();
        if axis > shape.len() {
            return Err(TensorError::InvalidAxis {
                op: "flatten_from",
                axis: isize::try_from(axis).unwrap_or(isize::MAX),
                shape: shape.to_vec(),
            });
        }
        let mut out = shape[..axis].to_vec();
        out.push(shape[axis..].iter().product());
        self.reshape_checked("flatten_from", &out)
    }

    // -------------------------------------------------------------------------- axes

    /// Reorders the axes: axis `i` of the result is axis `axes[i]` of `self`. A view (no copy).
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `permute` unless `axes` is a permutation of
    /// `0..rank`.
    pub fn permute(&self, axes: &[usize]) -> Result<Tensor<T>> {
        let rank = self.ndim();
        let mut seen = vec![false; rank];
        let valid = axes.len() == rank
            && axes
                .iter()
                .all(|&a| a < rank && !std::mem::replace(&mut seen[a], true));
        if !valid {
            return Err(TensorError::invalid(
                "permute",
                format!(
                    "axes {axes:?} are not a permutation of 0..{rank} for shape {:?}",
                    self.shape()
                ),
            ));
        }
        Ok(Tensor::from_shared(
            self.array().clone().permuted_axes(IxDyn(axes)),
        ))
    }

    /// Swaps the last two axes (matrix transpose, batched for rank > 2). A view.
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] naming `t` for rank < 2.
    pub fn t(&self) -> Result<Tensor<T>> {
        if self.ndim() < 2 {
            return Err(TensorError::RankMismatch {
                op: "t",
                expected: "at least 2".into(),
                shape: self.shape().to_vec(),
            });
        }
        self.swap_axes(-2, -1)
    }

    /// Swaps axes `a` and `b` (negative counts from the end). A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] naming `swap_axes` if an axis is out of range.
    pub fn swap_axes(&self, a: isize, b: isize) -> Result<Tensor<T>> {
        let a = normalize_axis("swap_axes", a, self.shape())?;
        let b = normalize_axis("swap_axes", b, self.shape())?;
        let mut data = self.array().clone();
        data.swap_axes(a, b);
        Ok(Tensor::from_shared(data))
    }

    /// Removes `axis`, which must have size 1. A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] if the axis is out of range, [`TensorError::InvalidArgument`]
    /// naming `squeeze` if its size is not 1.
    pub fn squeeze(&self, axis: isize) -> Result<Tensor<T>> {
        let a = normalize_axis("squeeze", axis, self.shape())?;
        if self.shape()[a] != 1 {
            return Err(TensorError::invalid(
                "squeeze",
                format!(
                    "axis {axis} of shape {:?} has size {}, not 1",
                    self.shape(),
                    self.shape()[a]
                ),
            ));
        }
        Ok(Tensor::from_shared(
            self.array().clone().remove_axis(Axis(a)),
        ))
    }

    /// Removes every axis of size 1. A view.
    pub fn squeeze_all(&self) -> Tensor<T> {
        let mut data = self.array().clone();
        for a in (0..self.ndim()).rev() {
            if self.shape()[a] == 1 {
                data = data.remove_axis(Axis(a));
            }
        }
        Tensor::from_shared(data)
    }

    /// Inserts an axis of size 1 at position `axis` of the result (`-(rank + 1)..=rank`;
    /// `-1` appends). A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] naming `unsqueeze` if `axis` is out of range.
    pub fn unsqueeze(&self, axis: isize) -> Result<Tensor<T>> {
        let a = normalize_insert_axis("unsqueeze", axis, self.shape())?;
        Ok(Tensor::from_shared(
            self.array().clone().insert_axis(Axis(a)),
        ))
    }

    // -------------------------------------------------------------------------- broadcast

    /// A standard-layout tensor of `shape` holding `self` broadcast by NumPy rules (axes
    /// aligned from the end; each axis of `self` must be 1 or equal to the target). The
    /// repeats are materialised; when `shape` already equals the shape of `self` the result is
    /// [`Tensor::contiguous`] (no copy if `self` is contiguous).
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming `broadcast_to`, the shape of `self` and `shape`;
    /// [`TensorError::InvalidArgument`] if `shape` holds too many elements to address.
    pub fn broadcast_to(&self, shape: impl AsRef<[usize]>) -> Result<Tensor<T>> {
        const OP: &str = "broadcast_to";
        let shape = shape.as_ref();
        let n = checked_len(OP, shape)?;
        if shape == self.shape() {
            return Ok(self.contiguous());
        }
        // `broadcast` checks the rules (and addressability) and returns None on failure.
        let src =
            self.array()
                .broadcast(IxDyn(shape))
                .ok_or_else(|| TensorError::ShapeMismatch {
                    op: OP,
                    lhs: self.shape().to_vec(),
                    rhs: shape.to_vec(),
                })?;
        let mut out = filled(OP, shape, T::zero())?;
        if n >= ELEMENTWISE_PAR_MIN {
            Zip::from(&mut out).and(&src).par_for_each(|o, &x| *o = x);
        } else {
            out.assign(&src);
        }
        Ok(Tensor::from_array(out))
    }

    // -------------------------------------------------------------------------- slicing

    fn slice_axis_op(
        &self,
        op: &'static str,
        axis: isize,
        start: usize,
        end: Option<usize>,
    ) -> Result<Tensor<T>> {
        let a = normalize_axis(op, axis, self.shape())?;
        let n = self.shape()[a];
        match end {
            Some(end) if start <= end && end <= n => Ok(Tensor::from_shared(
                self.array()
                    .clone()
                    .slice_axis_move(Axis(a), Slice::from(start..end)),
            )),
            _ => Err(TensorError::invalid(
                op,
                format!(
                    "range {start}..{} is invalid for axis {axis} (size {n}) of shape {:?}",
                    end.map_or_else(|| "overflow".to_string(), |e| e.to_string()),
                    self.shape()
                ),
            )),
        }
    }

    /// Elements `start..end` along `axis` (negative counts from the end). A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for a bad axis; [`TensorError::InvalidArgument`] naming
    /// `slice_axis` and the shape if `start > end` or `end` exceeds the axis size.
    pub fn slice_axis(&self, axis: isize, start: usize, end: usize) -> Result<Tensor<T>> {
        self.slice_axis_op("slice_axis", axis, start, Some(end))
    }

    /// `len` elements from `start` along `axis`: `slice_axis(axis, start, start + len)`. A view.
    ///
    /// # Errors
    /// As [`Tensor::slice_axis`], naming `narrow`.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Tensor<T>> {
        self.slice_axis_op("narrow", axis, start, start.checked_add(len))
    }

    /// Slices the leading axes: `ranges[i] = (start, end)` applies to axis `i`; later axes are
    /// kept whole. A view.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `slice` if there are more ranges than axes or a
    /// range is invalid for its axis.
    pub fn slice(&self, ranges: &[(usize, usize)]) -> Result<Tensor<T>> {
        let shape = self.shape();
        if ranges.len() > shape.len() {
            return Err(TensorError::invalid(
                "slice",
                format!(
                    "{} ranges {ranges:?} for a tensor of shape {shape:?}",
                    ranges.len()
                ),
            ));
        }
        let mut data = self.array().clone();
        for (a, &(start, end)) in ranges.iter().enumerate() {
            if start > end || end > shape[a] {
                return Err(TensorError::invalid(
                    "slice",
                    format!("range {start}..{end} is invalid for axis {a} of shape {shape:?}"),
                ));
            }
            data.slice_axis_inplace(Axis(a), Slice::from(start..end));
        }
        Ok(Tensor::from_shared(data))
    }

    // -------------------------------------------------------------------------- concat

    /// Concatenation along an already-normalised `axis` of tensors whose shapes were checked.
    fn concat_checked(op: &'static str, tensors: &[&Tensor<T>], axis: usize) -> Result<Tensor<T>> {
        let mut shape = tensors[0].shape().to_vec();
        shape[axis] = tensors
            .iter()
            .try_fold(0usize, |acc, t| acc.checked_add(t.shape()[axis]))
            .ok_or_else(|| TensorError::invalid(op, "the concatenated axis is too long"))?;
        let total = checked_len(op, &shape)?;
        let (outer, inner) = outer_inner(&shape, axis);
        let slices: Option<Vec<(&[T], usize)>> = tensors
            .iter()
            .map(|t| t.as_slice().map(|s| (s, t.shape()[axis] * inner)))
            .collect();
        let out = match slices {
            // Fast path: every input is contiguous, copy whole blocks.
            Some(blocks) => {
                let mut out = crate::buffer::with_capacity(total);
                for o in 0..outer {
                    for &(s, b) in &blocks {
                        out.extend_from_slice(&s[o * b..(o + 1) * b]);
                    }
                }
                from_vec_checked(op, &shape, out)?
            }
            None => {
                let mut out = filled(op, &shape, T::zero())?;
                let mut at = 0;
                for t in tensors {
                    let n = t.shape()[axis];
                    out.slice_axis_mut(Axis(axis), Slice::from(at..at + n))
                        .assign(&t.view());
                    at += n;
                }
                out
            }
        };
        Ok(Tensor::from_array(out))
    }

    /// Joins tensors along an existing `axis` (negative counts from the end). All shapes must
    /// be equal except along `axis`. Always builds a new buffer.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `concat` for an empty list,
    /// [`TensorError::InvalidAxis`] for a bad axis, and [`TensorError::ShapeMismatch`] with the
    /// first shape and the first one that does not fit.
    pub fn concat(tensors: &[&Tensor<T>], axis: isize) -> Result<Tensor<T>> {
        const OP: &str = "concat";
        let first = tensors
            .first()
            .ok_or_else(|| TensorError::invalid(OP, "no tensors given"))?;
        let a = normalize_axis(OP, axis, first.shape())?;
        for t in &tensors[1..] {
            let fits = t.ndim() == first.ndim()
                && t.shape()
                    .iter()
                    .zip(first.shape())
                    .enumerate()
                    .all(|(i, (x, y))| i == a || x == y);
            if !fits {
                return Err(TensorError::ShapeMismatch {
                    op: OP,
                    lhs: first.shape().to_vec(),
                    rhs: t.shape().to_vec(),
                });
            }
        }
        Self::concat_checked(OP, tensors, a)
    }

    /// Joins equally shaped tensors along a new `axis` (`-(rank + 1)..=rank`): stacking `k`
    /// tensors of shape `[a, b]` along 0 gives `[k, a, b]`.
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `stack` for an empty list,
    /// [`TensorError::InvalidAxis`] for a bad axis, and [`TensorError::ShapeMismatch`] with the
    /// first shape and the first different one.
    pub fn stack(tensors: &[&Tensor<T>], axis: isize) -> Result<Tensor<T>> {
        const OP: &str = "stack";
        let first = tensors
            .first()
            .ok_or_else(|| TensorError::invalid(OP, "no tensors given"))?;
        let a = normalize_insert_axis(OP, axis, first.shape())?;
        if let Some(t) = tensors.iter().find(|t| t.shape() != first.shape()) {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: first.shape().to_vec(),
                rhs: t.shape().to_vec(),
            });
        }
        let expanded: Vec<Tensor<T>> = tensors
            .iter()
            .map(|t| Tensor::from_shared(t.array().clone().insert_axis(Axis(a))))
            .collect();
        let refs: Vec<&Tensor<T>> = expanded.iter().collect();
        Self::concat_checked(OP, &refs, a)
    }

    /// Splits along `axis` into consecutive pieces of the given `sizes` (views).
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for a bad axis, [`TensorError::InvalidArgument`] naming
    /// `split` and the shape if the sizes do not sum to the axis size.
    pub fn split(&self, axis: isize, sizes: &[usize]) -> Result<Vec<Tensor<T>>> {
        const OP: &str = "split";
        let a = normalize_axis(OP, axis, self.shape())?;
        let n = self.shape()[a];
        let sum = sizes.iter().try_fold(0usize, |acc, &s| acc.checked_add(s));
        if sum != Some(n) {
            return Err(TensorError::invalid(
                OP,
                format!(
                    "sizes {sizes:?} do not sum to the size {n} of axis {axis} of shape {:?}",
                    self.shape()
                ),
            ));
        }
        let mut at = 0;
        Ok(sizes
            .iter()
            .map(|&s| {
                let piece = self
                    .array()
                    .clone()
                    .slice_axis_move(Axis(a), Slice::from(at..at + s));
                at += s;
                Tensor::from_shared(piece)
            })
            .collect())
    }

    /// Splits along `axis` into exactly `n` views of near-equal size: with `len = q·n + r`,
    /// the first `r` pieces get `q + 1` elements and the rest `q` (NumPy's `array_split`; some
    /// pieces are empty when `n > len`).
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `chunk` for `n = 0`, [`TensorError::InvalidAxis`]
    /// for a bad axis.
    pub fn chunk(&self, n: usize, axis: isize) -> Result<Vec<Tensor<T>>> {
        if n == 0 {
            return Err(TensorError::invalid(
                "chunk",
                "the number of chunks must be positive",
            ));
        }
        let a = normalize_axis("chunk", axis, self.shape())?;
        let len = self.shape()[a];
        let (q, r) = (len / n, len % n);
        let sizes: Vec<usize> = (0..n).map(|i| q + usize::from(i < r)).collect();
        self.split(axis, &sizes)
    }

    // -------------------------------------------------------------------------- padding

    /// Pads `axis` with `before` copies of `value` in front and `after` behind (a new buffer).
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for a bad axis; [`TensorError::InvalidArgument`] naming
    /// `pad_axis` if the padded shape is too large.
    pub fn pad_axis(
        &self,
        axis: isize,
        before: usize,
        after: usize,
        value: T,
    ) -> Result<Tensor<T>> {
        const OP: &str = "pad_axis";
        let a = normalize_axis(OP, axis, self.shape())?;
        let n = self.shape()[a];
        let mut shape = self.shape().to_vec();
        shape[a] = n
            .checked_add(before)
            .and_then(|s| s.checked_add(after))
            .ok_or_else(|| TensorError::invalid(OP, "the padded axis is too long"))?;
        let mut out = filled(OP, &shape, value)?;
        out.slice_axis_mut(Axis(a), Slice::from(before..before + n))
            .assign(&self.view());
        Ok(Tensor::from_array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(shape: &[usize]) -> Tensor<f64> {
        let n: usize = shape.iter().product();
        Tensor::from_vec((0..n).map(|i| i as f64).collect(), shape).unwrap()
    }

    fn same_buffer(a: &Tensor<f64>, b: &Tensor<f64>) -> bool {
        // Both views point into one allocation: compare the first element's address.
        std::ptr::eq(a.array().as_ptr(), b.array().as_ptr())
    }

    #[test]
    fn reshape_contiguous_is_a_view() {
        let a = seq(&[2, 3]);
        let b = a.reshape([3, 2]).unwrap();
        assert_eq!(b.shape(), &[3, 2]);
        assert_eq!(b.to_vec(), a.to_vec());
        assert!(same_buffer(&a, &b));
        assert_eq!(a.reshape(vec![6]).unwrap().shape(), &[6]);
        assert_eq!(a.reshape([1, 6, 1]).unwrap().shape(), &[1, 6, 1]);
    }

    #[test]
    fn reshape_transposed_uses_logical_order() {
        let a = seq(&[2, 3]); // [[0,1,2],[3,4,5]]
        let t = a.t().unwrap(); // [[0,3],[1,4],[2,5]]
        let r = t.reshape([6]).unwrap();
        assert_eq!(r.to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert!(r.is_contiguous());
        // Larger, parallel copy path, 3-D permutation, checked against an index loop.
        let (n0, n1, n2) = (40, 50, 37);
        let x = seq(&[n0, n1, n2]);
        let p = x
            .permute(&[2, 0, 1])
            .unwrap()
            .reshape([n2 * n0 * n1])
            .unwrap();
        let pv = p.to_vec();
        let mut k = 0;
        for c in 0..n2 {
            for i in 0..n0 {
                for j in 0..n1 {
                    assert_eq!(pv[k], ((i * n1 + j) * n2 + c) as f64);
                    k += 1;
                }
            }
        }
    }

    #[test]
    fn reshape_errors_name_op_and_shapes() {
        let e = seq(&[2, 3]).reshape([4]).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("reshape") && s.contains("[2, 3]") && s.contains("[4]"),
            "{s}"
        );
        assert!(seq(&[0]).reshape([0, usize::MAX, 3]).is_err());
        assert!(seq(&[2]).reshape([usize::MAX, 2, 2]).is_err());
    }

    #[test]
    fn reshape_sizes_zero_and_one() {
        let z = seq(&[0, 3]);
        assert_eq!(z.reshape([3, 0]).unwrap().shape(), &[3, 0]);
        let s = Tensor::<f64>::scalar(7.0);
        assert_eq!(s.reshape([1, 1]).unwrap().to_vec(), vec![7.0]);
        assert_eq!(
            s.reshape([1]).unwrap().reshape([]).unwrap().item().unwrap(),
            7.0
        );
    }

    #[test]
    fn reshape_infer_minus_one() {
        let a = seq(&[2, 3, 4]);
        assert_eq!(a.reshape_infer(&[-1, 4]).unwrap().shape(), &[6, 4]);
        assert_eq!(a.reshape_infer(&[2, -1]).unwrap().shape(), &[2, 12]);
        assert_eq!(a.reshape_infer(&[24]).unwrap().shape(), &[24]);
        assert!(a.reshape_infer(&[-1, -1]).is_err());
        assert!(a.reshape_infer(&[-1, 5]).is_err());
        assert!(a.reshape_infer(&[-2, 12]).is_err());
        let e = a.reshape_infer(&[5, 5]).unwrap_err().to_string();
        assert!(
            e.contains("reshape") && e.contains("[2, 3, 4]") && e.contains("[5, 5]"),
            "{e}"
        );
        assert!(seq(&[0]).reshape_infer(&[0, -1]).is_err());
        assert_eq!(
            seq(&[0, 4]).reshape_infer(&[-1, 2]).unwrap().shape(),
            &[0, 2]
        );
    }

    #[test]
    fn flatten_and_flatten_from() {
        let a = seq(&[2, 3, 4, 5]);
        assert_eq!(a.flatten().shape(), &[120]);
        assert!(same_buffer(&a, &a.flatten()));
        assert_eq!(a.flatten_from(1).unwrap().shape(), &[2, 60]);
        assert_eq!(a.flatten_from(0).unwrap().shape(), &[120]);
        assert_eq!(a.flatten_from(3).unwrap().shape(), &[2, 3, 4, 5]);
        assert_eq!(a.flatten_from(4).unwrap().shape(), &[2, 3, 4, 5, 1]);
        let e = a.flatten_from(5).unwrap_err().to_string();
        assert!(
            e.contains("flatten_from") && e.contains("[2, 3, 4, 5]"),
            "{e}"
        );
        let t = seq(&[2, 3]).t().unwrap();
        assert_eq!(t.flatten().to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(Tensor::<f64>::scalar(1.0).flatten().shape(), &[1]);
    }

    #[test]
    fn permute_is_a_view() {
        let a = seq(&[2, 3, 4]);
        let p = a.permute(&[1, 2, 0]).unwrap();
        assert_eq!(p.shape(), &[3, 4, 2]);
        assert!(p.as_slice().is_none());
        assert!(same_buffer(&a, &p));
        for i in 0..2 {
            for j in 0..3 {
                for k in 0..4 {
                    assert_eq!(p.get([j, k, i]).unwrap(), a.get([i, j, k]).unwrap());
                }
            }
        }
        let e = a.permute(&[0, 0, 1]).unwrap_err().to_string();
        assert!(e.contains("permute") && e.contains("[2, 3, 4]"), "{e}");
        assert!(a.permute(&[0, 1]).is_err());
        assert!(a.permute(&[0, 1, 3]).is_err());
        assert_eq!(a.permute(&[0, 1, 2]).unwrap(), a);
    }

    #[test]
    fn t_swaps_last_two_axes() {
        let a = seq(&[2, 3, 4]);
        let t = a.t().unwrap();
        assert_eq!(t.shape(), &[2, 4, 3]);
        assert_eq!(t.get([1, 3, 2]).unwrap(), a.get([1, 2, 3]).unwrap());
        assert!(same_buffer(&a, &t));
        assert_eq!(t.t().unwrap(), a);
        let e = seq(&[3]).t().unwrap_err().to_string();
        assert!(e.contains('t') && e.contains("[3]"), "{e}");
        assert!(Tensor::<f64>::scalar(1.0).t().is_err());
    }

    #[test]
    fn swap_axes_negative() {
        let a = seq(&[2, 3, 4]);
        let s = a.swap_axes(0, -1).unwrap();
        assert_eq!(s.shape(), &[4, 3, 2]);
        assert_eq!(s.get([3, 1, 0]).unwrap(), a.get([0, 1, 3]).unwrap());
        assert!(a.swap_axes(0, 3).is_err());
        assert_eq!(a.swap_axes(1, 1).unwrap(), a);
    }

    #[test]
    fn squeeze_and_unsqueeze() {
        let a = seq(&[1, 3, 1]);
        assert_eq!(a.squeeze(0).unwrap().shape(), &[3, 1]);
        assert_eq!(a.squeeze(-1).unwrap().shape(), &[1, 3]);
        let e = a.squeeze(1).unwrap_err().to_string();
        assert!(e.contains("squeeze") && e.contains("[1, 3, 1]"), "{e}");
        assert!(a.squeeze(3).is_err());
        assert_eq!(a.squeeze_all().shape(), &[3]);
        assert_eq!(seq(&[1, 1]).squeeze_all().shape(), &[] as &[usize]);
        assert_eq!(seq(&[1, 1]).squeeze_all().item().unwrap(), 0.0);
        let b = seq(&[2, 3]);
        assert_eq!(b.unsqueeze(0).unwrap().shape(), &[1, 2, 3]);
        assert_eq!(b.unsqueeze(2).unwrap().shape(), &[2, 3, 1]);
        assert_eq!(b.unsqueeze(-1).unwrap().shape(), &[2, 3, 1]);
        assert_eq!(b.unsqueeze(-3).unwrap().shape(), &[1, 2, 3]);
        assert_eq!(b.unsqueeze(1).unwrap().to_vec(), b.to_vec());
        assert!(b.unsqueeze(3).is_err());
        assert!(b.unsqueeze(-4).is_err());
        assert_eq!(
            Tensor::<f64>::scalar(2.0).unsqueeze(0).unwrap().shape(),
            &[1]
        );
        assert!(same_buffer(
            &b,
            &b.unsqueeze(1).unwrap().squeeze(1).unwrap()
        ));
    }

    #[test]
    fn broadcast_to_numpy_rules() {
        let row = Tensor::<f64>::from_f64s(&[1.0, 2.0, 3.0], [3]).unwrap();
        let b = row.broadcast_to([2, 3]).unwrap();
        assert_eq!(b.to_vec(), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
        assert!(b.is_contiguous());
        let col = Tensor::<f64>::from_f64s(&[1.0, 2.0], [2, 1]).unwrap();
        assert_eq!(
            col.broadcast_to([2, 3]).unwrap().to_vec(),
            vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
        );
        assert_eq!(
            Tensor::<f64>::scalar(4.0)
                .broadcast_to([2, 2])
                .unwrap()
                .to_vec(),
            vec![4.0; 4]
        );
        assert_eq!(row.broadcast_to([0, 3]).unwrap().shape(), &[0, 3]);
        // Transposed source, against a naive loop.
        let t = seq(&[3, 2]).t().unwrap(); // [2, 3]
        let bt = t.broadcast_to([4, 2, 3]).unwrap();
        for k in 0..4 {
            for i in 0..2 {
                for j in 0..3 {
                    assert_eq!(bt.get([k, i, j]).unwrap(), (j * 2 + i) as f64);
                }
            }
        }
        // Large, parallel path.
        let big = seq(&[300]).broadcast_to([400, 300]).unwrap();
        assert!(big
            .to_vec()
            .chunks(300)
            .all(|r| r.iter().enumerate().all(|(j, &v)| v == j as f64)));
        let e = row.broadcast_to([2, 4]).unwrap_err().to_string();
        assert!(
            e.contains("broadcast_to") && e.contains("[3]") && e.contains("[2, 4]"),
            "{e}"
        );
        assert!(seq(&[2, 3]).broadcast_to([3]).is_err());
        assert!(row.broadcast_to([usize::MAX, 2, 3]).is_err());
        assert!(row.broadcast_to([usize::MAX / 2, 3]).is_err());
    }

    #[test]
    fn slice_axis_is_a_view() {
        let a = seq(&[4, 3]);
        let s = a.slice_axis(0, 1, 3).unwrap();
        assert_eq!(s.to_vec(), vec![3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert!(std::ptr::eq(s.array().as_ptr(), &a.array()[[1, 0]]));
        let c = a.slice_axis(-1, 1, 2).unwrap();
        assert_eq!(c.shape(), &[4, 1]);
        assert_eq!(c.to_vec(), vec![1.0, 4.0, 7.0, 10.0]);
        assert!(c.as_slice().is_none() || c.len() <= 1);
        assert!(std::ptr::eq(c.array().as_ptr(), &a.array()[[0, 1]]));
        assert_eq!(a.slice_axis(0, 2, 2).unwrap().shape(), &[0, 3]);
        assert_eq!(a.slice_axis(0, 4, 4).unwrap().shape(), &[0, 3]);
        let e = a.slice_axis(0, 2, 5).unwrap_err().to_string();
        assert!(
            e.contains("slice_axis") && e.contains("[4, 3]") && e.contains("2..5"),
            "{e}"
        );
        assert!(a.slice_axis(0, 3, 2).is_err());
        assert!(a.slice_axis(2, 0, 1).is_err());
    }

    #[test]
    fn narrow_and_slice() {
        let a = seq(&[4, 5, 2]);
        let n = a.narrow(1, 1, 3).unwrap();
        assert_eq!(n, a.slice_axis(1, 1, 4).unwrap());
        assert!(a.narrow(1, 3, 3).is_err());
        assert!(a
            .narrow(1, 1, usize::MAX)
            .unwrap_err()
            .to_string()
            .contains("narrow"));
        let s = a.slice(&[(1, 3), (2, 5)]).unwrap();
        assert_eq!(s.shape(), &[2, 3, 2]);
        assert!(s.as_slice().is_none());
        assert!(std::ptr::eq(s.array().as_ptr(), &a.array()[[1, 2, 0]]));
        for i in 0..2 {
            for j in 0..3 {
                for k in 0..2 {
                    assert_eq!(s.get([i, j, k]).unwrap(), a.get([i + 1, j + 2, k]).unwrap());
                }
            }
        }
        assert_eq!(a.slice(&[]).unwrap(), a);
        assert!(a.slice(&[(0, 1), (0, 1), (0, 1), (0, 1)]).is_err());
        let e = a.slice(&[(0, 5)]).unwrap_err().to_string();
        assert!(e.contains("slice") && e.contains("[4, 5, 2]"), "{e}");
        // Slicing a transposed view composes.
        let t = seq(&[3, 4]).t().unwrap().slice(&[(1, 3)]).unwrap();
        assert_eq!(t.to_vec(), vec![1.0, 5.0, 9.0, 2.0, 6.0, 10.0]);
    }

    #[test]
    fn concat_matches_naive_and_round_trips_with_split() {
        let a = seq(&[2, 3, 4]);
        let b = seq(&[2, 1, 4]).map(|v| v + 100.0);
        let c = seq(&[2, 2, 4]).map(|v| v + 200.0);
        let cat = Tensor::concat(&[&a, &b, &c], 1).unwrap();
        assert_eq!(cat.shape(), &[2, 6, 4]);
        for i in 0..2 {
            for j in 0..6 {
                for k in 0..4 {
                    let want = match j {
                        0..=2 => a.get([i, j, k]),
                        3 => b.get([i, 0, k]),
                        _ => c.get([i, j - 4, k]),
                    };
                    assert_eq!(cat.get([i, j, k]).unwrap(), want.unwrap());
                }
            }
        }
        let parts = cat.split(-2, &[3, 1, 2]).unwrap();
        assert_eq!(parts[0], a);
        assert_eq!(parts[1], b);
        assert_eq!(parts[2], c);
        assert!(std::ptr::eq(
            parts[1].array().as_ptr(),
            &cat.array()[[0, 3, 0]]
        ));
        assert!(parts[1].as_slice().is_none());
        // Non-contiguous inputs take the strided path and agree with the contiguous one.
        let at = a.permute(&[0, 2, 1]).unwrap(); // [2, 4, 3]
        let bt = b.permute(&[0, 2, 1]).unwrap(); // [2, 4, 1]
        let cat_t = Tensor::concat(&[&at, &bt], -1).unwrap();
        let cat_c = Tensor::concat(&[&at.contiguous(), &bt.contiguous()], -1).unwrap();
        assert_eq!(cat_t, cat_c);
        assert!(cat_t.is_contiguous());
    }

    #[test]
    fn concat_errors_and_edge_sizes() {
        let a = seq(&[2, 3]);
        let b = seq(&[3, 3]);
        let e = Tensor::concat(&[&a, &b], 1).unwrap_err().to_string();
        assert!(
            e.contains("concat") && e.contains("[2, 3]") && e.contains("[3, 3]"),
            "{e}"
        );
        assert!(Tensor::concat(&[&a, &seq(&[2, 3, 1])], 0).is_err());
        assert!(Tensor::<f64>::concat(&[], 0)
            .unwrap_err()
            .to_string()
            .contains("concat"));
        assert!(Tensor::concat(&[&a], 2).is_err());
        assert_eq!(Tensor::concat(&[&a], 0).unwrap(), a);
        let z = seq(&[0, 3]);
        assert_eq!(Tensor::concat(&[&z, &a, &z], 0).unwrap(), a);
        assert_eq!(Tensor::concat(&[&z, &z], 0).unwrap().shape(), &[0, 3]);
        let s = Tensor::<f64>::scalar(1.0);
        assert!(Tensor::concat(&[&s, &s], 0).is_err());
    }

    #[test]
    fn stack_matches_naive() {
        let a = seq(&[2, 3]);
        let b = a.map(|v| -v);
        let s0 = Tensor::stack(&[&a, &b], 0).unwrap();
        assert_eq!(s0.shape(), &[2, 2, 3]);
        assert_eq!(s0.to_vec(), [a.to_vec(), b.to_vec()].concat());
        let s2 = Tensor::stack(&[&a, &b], -1).unwrap();
        assert_eq!(s2.shape(), &[2, 3, 2]);
        for i in 0..2 {
            for j in 0..3 {
                assert_eq!(s2.get([i, j, 0]).unwrap(), a.get([i, j]).unwrap());
                assert_eq!(s2.get([i, j, 1]).unwrap(), b.get([i, j]).unwrap());
            }
        }
        let s1 = Tensor::stack(&[&a.t().unwrap(), &b.t().unwrap()], 1).unwrap();
        assert_eq!(s1.shape(), &[3, 2, 2]);
        assert_eq!(s1.get([2, 1, 0]).unwrap(), b.get([0, 2]).unwrap());
        // Round trip through split + squeeze.
        let back: Vec<Tensor<f64>> = s2
            .split(2, &[1, 1])
            .unwrap()
            .iter()
            .map(|p| p.squeeze(2).unwrap())
            .collect();
        assert_eq!(back, vec![a.clone(), b.clone()]);
        let e = Tensor::stack(&[&a, &seq(&[3, 2])], 0)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("stack") && e.contains("[2, 3]") && e.contains("[3, 2]"),
            "{e}"
        );
        assert!(Tensor::stack(&[&a], 3).is_err());
        assert!(Tensor::<f64>::stack(&[], 0).is_err());
        let sc = Tensor::<f64>::scalar(5.0);
        assert_eq!(
            Tensor::stack(&[&sc, &sc, &sc], 0).unwrap().to_vec(),
            vec![5.0; 3]
        );
    }

    #[test]
    fn split_views_and_errors() {
        let a = seq(&[5, 2]);
        let p = a.split(0, &[2, 0, 3]).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[1].shape(), &[0, 2]);
        assert_eq!(p[2].to_vec(), vec![4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert!(std::ptr::eq(p[2].array().as_ptr(), &a.array()[[2, 0]]));
        let e = a.split(0, &[2, 2]).unwrap_err().to_string();
        assert!(e.contains("split") && e.contains("[5, 2]"), "{e}");
        assert!(a.split(0, &[usize::MAX, 6]).is_err());
        assert!(a.split(2, &[1]).is_err());
    }

    #[test]
    fn chunk_near_equal() {
        let a = seq(&[7, 1]);
        let sizes: Vec<usize> = a
            .chunk(3, 0)
            .unwrap()
            .iter()
            .map(|c| c.shape()[0])
            .collect();
        assert_eq!(sizes, vec![3, 2, 2]);
        let sizes: Vec<usize> = a
            .chunk(9, 0)
            .unwrap()
            .iter()
            .map(|c| c.shape()[0])
            .collect();
        assert_eq!(sizes, vec![1, 1, 1, 1, 1, 1, 1, 0, 0]);
        let parts = seq(&[2, 8]).chunk(4, -1).unwrap();
        let refs: Vec<&Tensor<f64>> = parts.iter().collect();
        assert_eq!(Tensor::concat(&refs, -1).unwrap(), seq(&[2, 8]));
        assert!(a.chunk(0, 0).unwrap_err().to_string().contains("chunk"));
    }

    #[test]
    fn pad_axis_matches_naive() {
        let a = seq(&[2, 3]);
        let p = a.pad_axis(1, 1, 2, -1.0).unwrap();
        assert_eq!(p.shape(), &[2, 6]);
        assert_eq!(
            p.to_vec(),
            vec![-1.0, 0.0, 1.0, 2.0, -1.0, -1.0, -1.0, 3.0, 4.0, 5.0, -1.0, -1.0]
        );
        let q = a.t().unwrap().pad_axis(0, 0, 1, 9.0).unwrap();
        assert_eq!(q.to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0, 9.0, 9.0]);
        assert_eq!(a.pad_axis(0, 0, 0, 1.0).unwrap(), a);
        assert_eq!(
            seq(&[0, 2]).pad_axis(0, 1, 0, f64::NAN).unwrap().shape(),
            &[1, 2]
        );
        assert!(a.pad_axis(2, 1, 1, 0.0).is_err());
        assert!(a
            .pad_axis(0, usize::MAX, 1, 0.0)
            .unwrap_err()
            .to_string()
            .contains("pad_axis"));
    }

    #[test]
    fn movement_f32_works() {
        let a = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2]).unwrap();
        assert_eq!(
            a.t().unwrap().reshape([4]).unwrap().to_vec(),
            vec![1.0, 3.0, 2.0, 4.0]
        );
        assert_eq!(Tensor::concat(&[&a, &a], 0).unwrap().shape(), &[4, 2]);
    }
}
