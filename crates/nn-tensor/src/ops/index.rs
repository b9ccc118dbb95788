//! Indexing ops: gathering along an axis (`index_select`, `take_along_axis`), their adjoint
//! scatters (`index_add`, `scatter_along_axis`), one-hot encoding, masking and label checks.
//!
//! `index_select` / `index_add` are the forward and backward of an embedding lookup;
//! `take_along_axis` / `scatter_along_axis` pick one class score per sample (losses) and
//! route the gradient back.

use ndarray::{ArrayD, Axis, IxDyn, Zip};
use rayon::prelude::*;

use super::movement::{checked_len, filled, from_vec_checked, outer_inner};
use crate::parallel::{ELEMENTWISE_PAR_MIN, ROWS_PAR_MIN_ELEMS};
use crate::{normalize_axis, Float, Result, Tensor, TensorError};

/// Saturating `usize → i64` for error reports.
fn as_i64(i: usize) -> i64 {
    i64::try_from(i).unwrap_or(i64::MAX)
}

/// Checks that every index is below `len`, reporting the first offender.
fn check_indices(op: &'static str, indices: &[usize], len: usize) -> Result<()> {
    match indices.iter().find(|&&i| i >= len) {
        Some(&i) => Err(TensorError::IndexOutOfRange {
            op,
            index: as_i64(i),
            len,
        }),
        None => Ok(()),
    }
}

/// Minimum number of `inner`-sized rows per rayon task so a task moves at least
/// [`ROWS_PAR_MIN_ELEMS`] elements.
fn min_rows(inner: usize) -> usize {
    (ROWS_PAR_MIN_ELEMS / inner.max(1)).max(1)
}

impl<T: Float> Tensor<T> {
    // -------------------------------------------------------------------------- gather

    /// Picks the slices `indices[0], indices[1], ...` along `axis` (repeats allowed): the
    /// result has the shape of `self` with that axis resized to `indices.len()`.
    ///
    /// Contiguous inputs copy whole `[axis+1..]` blocks with slice copies (in parallel above
    /// [`ELEMENTWISE_PAR_MIN`] output elements); this is an embedding lookup for `axis = 0`.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for a bad axis, [`TensorError::IndexOutOfRange`] naming
    /// `index_select` for an index `>=` the axis size.
    pub fn index_select(&self, axis: isize, indices: &[usize]) -> Result<Tensor<T>> {
        const OP: &str = "index_select";
        let a = normalize_axis(OP, axis, self.shape())?;
        let n = self.shape()[a];
        check_indices(OP, indices, n)?;
        let mut shape = self.shape().to_vec();
        shape[a] = indices.len();
        let total = checked_len(OP, &shape)?;
        if total == 0 {
            return Ok(Tensor::from_array(from_vec_checked(
                OP,
                &shape,
                Vec::new(),
            )?));
        }
        let (outer, inner) = outer_inner(&shape, a);
        let k = indices.len();
        let row = n * inner;
        let out = match self.as_slice() {
            Some(src) if total >= ELEMENTWISE_PAR_MIN => {
                let mut out = crate::buffer::zeroed(total);
                out.par_chunks_mut(inner)
                    .enumerate()
                    .with_min_len(min_rows(inner))
                    .for_each(|(j, dst)| {
                        let start = (j / k) * row + indices[j % k] * inner;
                        dst.copy_from_slice(&src[start..start + inner]);
                    });
                from_vec_checked(OP, &shape, out)?
            }
            Some(src) => {
                let mut out = crate::buffer::with_capacity(total);
                for o in 0..outer {
                    for &i in indices {
                        let start = o * row + i * inner;
                        out.extend_from_slice(&src[start..start + inner]);
                    }
                }
                from_vec_checked(OP, &shape, out)?
            }
            None => {
                let mut out = filled(OP, &shape, T::zero())?;
                let view = self.view();
                for (j, &i) in indices.iter().enumerate() {
                    out.index_axis_mut(Axis(a), j)
                        .assign(&view.index_axis(Axis(a), i));
                }
                out
            }
        };
        Ok(Tensor::from_array(out))
    }

    // -------------------------------------------------------------------------- scatter-add

    /// A copy of `self` with slice `j` of `source` along `axis` added to slice `indices[j]`
    /// (repeated indices accumulate). `source` has the shape of `self` with `axis` resized to
    /// `indices.len()`. The adjoint (backward) of [`Tensor::index_select`].
    ///
    /// # Errors
    /// As [`Tensor::index_add_assign`], naming `index_add`.
    pub fn index_add(
        &self,
        axis: isize,
        indices: &[usize],
        source: &Tensor<T>,
    ) -> Result<Tensor<T>> {
        let mut out = self.clone();
        out.index_add_impl("index_add", axis, indices, source)?;
        Ok(out)
    }

    /// In-place [`Tensor::index_add`]: `self[.., indices[j], ..] += source[.., j, ..]`.
    ///
    /// Sums are formed in the order of `indices` for every destination element, whatever the
    /// thread count (the parallel path groups sources by destination, keeping that order).
    /// `self` becomes standard-layout and unshared (copy-on-write) first if needed.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for a bad axis, [`TensorError::ShapeMismatch`] naming the
    /// op, the shape of `self` and that of `source` if `source` does not fit, and
    /// [`TensorError::IndexOutOfRange`] for an index `>=` the axis size.
    pub fn index_add_assign(
        &mut self,
        axis: isize,
        indices: &[usize],
        source: &Tensor<T>,
    ) -> Result<()> {
        self.index_add_impl("index_add_assign", axis, indices, source)
    }

    fn index_add_impl(
        &mut self,
        op: &'static str,
        axis: isize,
        indices: &[usize],
        source: &Tensor<T>,
    ) -> Result<()> {
        let a = normalize_axis(op, axis, self.shape())?;
        let n = self.shape()[a];
        let fits = source.ndim() == self.ndim()
            && source.shape()[a] == indices.len()
            && self
                .shape()
                .iter()
                .zip(source.shape())
                .enumerate()
                .all(|(i, (x, y))| i == a || x == y);
        if !fits {
            return Err(TensorError::ShapeMismatch {
                op,
                lhs: self.shape().to_vec(),
                rhs: source.shape().to_vec(),
            });
        }
        check_indices(op, indices, n)?;
        if source.is_empty() {
            return Ok(());
        }
        let (outer, inner) = outer_inner(self.shape(), a);
        let k = indices.len();
        let copied;
        let src = match source.as_slice() {
            Some(s) => s,
            None => {
                copied = source.to_vec();
                copied.as_slice()
            }
        };
        let dst = self.make_contiguous_mut();
        if src.len() >= ELEMENTWISE_PAR_MIN && n > 1 {
            // Group the sources by destination (a stable counting sort), then let each
            // destination row sum its sources in index order: race-free and bit-identical to
            // the serial loop below.
            let mut starts = vec![0usize; n + 1];
            for &i in indices {
                starts[i + 1] += 1;
            }
            for r in 0..n {
                starts[r + 1] += starts[r];
            }
            let mut fill = starts.clone();
            let mut order = vec![0usize; k];
            for (j, &i) in indices.iter().enumerate() {
                order[fill[i]] = j;
                fill[i] += 1;
            }
            // Destination rows per task: enough for ~ROWS_PAR_MIN_ELEMS source elements each.
            let rows = outer * n;
            let tasks = (src.len() / ROWS_PAR_MIN_ELEMS).max(1);
            dst.par_chunks_mut(inner)
                .enumerate()
                .with_min_len(rows.div_ceil(tasks))
                .for_each(|(q, row)| {
                    let (o, r) = (q / n, q % n);
                    for &j in &order[starts[r]..starts[r + 1]] {
                        let s = &src[(o * k + j) * inner..(o * k + j + 1) * inner];
                        row.iter_mut().zip(s).for_each(|(d, &v)| *d += v);
                    }
                });
        } else {
            for o in 0..outer {
                for (j, &i) in indices.iter().enumerate() {
                    let s = &src[(o * k + j) * inner..(o * k + j + 1) * inner];
                    let d = &mut dst[(o * n + i) * inner..(o * n + i + 1) * inner];
                    d.iter_mut().zip(s).for_each(|(d, &v)| *d += v);
                }
            }
        }
        Ok(())
    }

    // -------------------------------------------------------------------------- along axis

    /// For every position of the other axes, the element at `indices[p]` along `axis`, where
    /// `p` counts those positions in row-major order. The result keeps `axis` with size 1:
    /// a `[N, C]` tensor with `axis = -1` and `N` indices gives `[N, 1]`.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for a bad axis, [`TensorError::InvalidArgument`] naming
    /// `take_along_axis` and the shape if the number of indices is wrong, and
    /// [`TensorError::IndexOutOfRange`] for an index `>=` the axis size.
    pub fn take_along_axis(&self, axis: isize, indices: &[usize]) -> Result<Tensor<T>> {
        const OP: &str = "take_along_axis";
        let a = normalize_axis(OP, axis, self.shape())?;
        let n = self.shape()[a];
        let (outer, inner) = outer_inner(self.shape(), a);
        if indices.len() != outer * inner {
            return Err(TensorError::invalid(
                OP,
                format!(
                    "{} indices for a tensor of shape {:?} along axis {axis} (expected {})",
                    indices.len(),
                    self.shape(),
                    outer * inner
                ),
            ));
        }
        check_indices(OP, indices, n)?;
        let mut shape = self.shape().to_vec();
        shape[a] = 1;
        let values: Vec<T> = match self.as_slice() {
            Some(src) => indices
                .iter()
                .enumerate()
                .map(|(p, &i)| src[((p / inner.max(1)) * n + i) * inner + p % inner.max(1)])
                .collect(),
            // Lanes along `axis` come in row-major order of the remaining axes.
            None => self
                .view()
                .lanes(Axis(a))
                .into_iter()
                .zip(indices)
                .map(|(l, &i)| l[i])
                .collect(),
        };
        Ok(Tensor::from_array(from_vec_checked(OP, &shape, values)?))
    }

    /// The adjoint of [`Tensor::take_along_axis`]: zeros of `shape` with `grad[p]` written at
    /// `indices[p]` along `axis` for every position `p` of the other axes. `grad` has `shape`
    /// with `axis` of size 1.
    ///
    /// # Errors
    /// [`TensorError::InvalidAxis`] for a bad axis, [`TensorError::ShapeMismatch`] naming
    /// `scatter_along_axis` with the expected and the given `grad` shape, and
    /// [`TensorError::IndexOutOfRange`] for an index `>=` the axis size.
    pub fn scatter_along_axis(
        grad: &Tensor<T>,
        axis: isize,
        indices: &[usize],
        shape: &[usize],
    ) -> Result<Tensor<T>> {
        const OP: &str = "scatter_along_axis";
        let a = normalize_axis(OP, axis, shape)?;
        let n = shape[a];
        let mut expected = shape.to_vec();
        expected[a] = 1;
        if grad.shape() != expected.as_slice() {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: expected,
                rhs: grad.shape().to_vec(),
            });
        }
        if indices.len() != grad.len() {
            return Err(TensorError::invalid(
                OP,
                format!(
                    "{} indices for a gradient of shape {:?} (expected {})",
                    indices.len(),
                    grad.shape(),
                    grad.len()
                ),
            ));
        }
        check_indices(OP, indices, n)?;
        let mut dst = crate::buffer::zeroed(checked_len(OP, shape)?);
        let inner = outer_inner(shape, a).1.max(1);
        // `array().iter()` visits `grad` in logical order whatever its layout.
        for (p, (&i, &v)) in indices.iter().zip(grad.array().iter()).enumerate() {
            dst[((p / inner) * n + i) * inner + p % inner] = v;
        }
        Ok(Tensor::from_array(from_vec_checked(OP, shape, dst)?))
    }

    // -------------------------------------------------------------------------- one-hot

    /// One-hot rows: shape `[labels.len(), depth]` with a 1 at `labels[i]` in row `i`.
    ///
    /// # Errors
    /// [`TensorError::IndexOutOfRange`] naming `one_hot` for a label `>= depth`.
    pub fn one_hot(labels: &[usize], depth: usize) -> Result<Tensor<T>> {
        const OP: &str = "one_hot";
        check_indices(OP, labels, depth)?;
        Self::one_hot_checked(OP, labels, vec![labels.len(), depth])
    }

    fn one_hot_checked(op: &'static str, labels: &[usize], shape: Vec<usize>) -> Result<Tensor<T>> {
        let mut dst = crate::buffer::zeroed(checked_len(op, &shape)?);
        let depth = shape.last().copied().unwrap_or(1);
        for (r, &l) in labels.iter().enumerate() {
            dst[r * depth + l] = T::one();
        }
        Ok(Tensor::from_array(from_vec_checked(op, &shape, dst)?))
    }

    /// One-hot encoding of float labels of any shape: the result has shape
    /// `self.shape() + [depth]`.
    ///
    /// # Errors
    /// [`TensorError::IndexOutOfRange`] naming `one_hot` for a label that is negative,
    /// non-integer, NaN or `>= depth` (see [`Tensor::labels_to_indices`]).
    pub fn one_hot_tensor(&self, depth: usize) -> Result<Tensor<T>> {
        const OP: &str = "one_hot";
        let labels = self.labels_to_indices(OP, depth)?;
        let mut shape = self.shape().to_vec();
        shape.push(depth);
        Self::one_hot_checked(OP, &labels, shape)
    }

    /// Converts float class labels (in row-major order) to indices.
    ///
    /// # Errors
    /// [`TensorError::IndexOutOfRange`] naming `op` with `len = num_classes` for the first label
    /// that is not an integer in `0..num_classes`. Its `index` is the label rounded toward
    /// negative infinity (saturating), or `i64::MIN` for NaN.
    pub fn labels_to_indices(&self, op: &'static str, num_classes: usize) -> Result<Vec<usize>> {
        let limit = num_classes as f64;
        let convert = |v: T| {
            let x = v.f64();
            // `x < limit` with `limit = num_classes as f64` is exact for every label below
            // 2^53, far beyond any class count.
            if x >= 0.0 && x.fract() == 0.0 && x < limit {
                Ok(x as usize)
            } else {
                let index = if x.is_nan() {
                    i64::MIN
                } else {
                    x.floor() as i64
                };
                Err(TensorError::IndexOutOfRange {
                    op,
                    index,
                    len: num_classes,
                })
            }
        };
        match self.as_slice() {
            Some(s) => s.iter().map(|&v| convert(v)).collect(),
            None => self.array().iter().map(|&v| convert(v)).collect(),
        }
    }

    // -------------------------------------------------------------------------- masking

    /// A copy of `self` with `value` wherever `mask` (broadcast to the shape of `self`) is
    /// non-zero. NaN in the mask counts as non-zero.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming `masked_fill`, the shape of `self` and that of
    /// `mask`, if the mask does not broadcast to `self`.
    pub fn masked_fill(&self, mask: &Tensor<T>, value: T) -> Result<Tensor<T>> {
        const OP: &str = "masked_fill";
        let mismatch = || TensorError::ShapeMismatch {
            op: OP,
            lhs: self.shape().to_vec(),
            rhs: mask.shape().to_vec(),
        };
        if mask.ndim() > self.ndim() {
            return Err(mismatch());
        }
        let pick = |x: T, m: T| if m != T::zero() { value } else { x };
        if let (Some(x), Some(m)) = (self.as_slice(), mask.as_slice()) {
            if self.shape() == mask.shape() {
                let out: Vec<T> = if x.len() >= ELEMENTWISE_PAR_MIN {
                    x.par_iter().zip(m).map(|(&x, &m)| pick(x, m)).collect()
                } else {
                    x.iter().zip(m).map(|(&x, &m)| pick(x, m)).collect()
                };
                return Ok(Tensor::from_array(from_vec_checked(OP, self.shape(), out)?));
            }
        }
        let m = mask
            .array()
            .broadcast(IxDyn(self.shape()))
            .ok_or_else(mismatch)?;
        let mut out: ArrayD<T> = self.contiguous().into_array();
        if out.len() >= ELEMENTWISE_PAR_MIN {
            Zip::from(&mut out)
                .and(&m)
                .par_for_each(|o, &m| *o = pick(*o, m));
        } else {
            Zip::from(&mut out)
                .and(&m)
                .for_each(|o, &m| *o = pick(*o, m));
        }
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

    fn dot(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
        assert_eq!(a.shape(), b.shape());
        a.to_vec().iter().zip(b.to_vec()).map(|(x, y)| x * y).sum()
    }

    /// Naive reference for index_select via `get` on every output index.
    fn naive_select(x: &Tensor<f64>, axis: usize, idx: &[usize]) -> Vec<f64> {
        let mut shape = x.shape().to_vec();
        shape[axis] = idx.len();
        let n: usize = shape.iter().product();
        let mut out = Vec::with_capacity(n);
        let mut pos = vec![0usize; shape.len()];
        for _ in 0..n {
            let mut src = pos.clone();
            src[axis] = idx[pos[axis]];
            out.push(x.get(&src).unwrap());
            for d in (0..shape.len()).rev() {
                pos[d] += 1;
                if pos[d] < shape[d] {
                    break;
                }
                pos[d] = 0;
            }
        }
        out
    }

    #[test]
    fn index_select_matches_naive() {
        let x = seq(&[4, 3, 5]);
        for axis in 0..3 {
            let idx = [2, 0, 2, 1];
            let s = x.index_select(axis as isize, &idx).unwrap();
            let mut shape = [4, 3, 5];
            shape[axis] = 4;
            assert_eq!(s.shape(), &shape[..]);
            assert_eq!(s.to_vec(), naive_select(&x, axis, &idx), "axis {axis}");
            // Non-contiguous input agrees.
            let xt = x.permute(&[2, 1, 0]).unwrap();
            let st = xt.index_select(axis as isize, &idx).unwrap();
            assert_eq!(
                st.to_vec(),
                naive_select(&xt, axis, &idx),
                "transposed axis {axis}"
            );
        }
        let e = x.index_select(-1, &[5]).unwrap_err();
        assert_eq!(
            e,
            TensorError::IndexOutOfRange {
                op: "index_select",
                index: 5,
                len: 5
            }
        );
        assert!(x.index_select(3, &[0]).is_err());
    }

    #[test]
    fn index_select_sizes_zero_and_one() {
        let x = seq(&[3, 2]);
        assert_eq!(x.index_select(0, &[]).unwrap().shape(), &[0, 2]);
        assert_eq!(x.index_select(0, &[1]).unwrap().to_vec(), vec![2.0, 3.0]);
        let z = seq(&[0, 4]);
        assert_eq!(z.index_select(1, &[3, 3]).unwrap().shape(), &[0, 2]);
        assert!(z.index_select(0, &[0]).is_err());
        assert_eq!(
            seq(&[1]).index_select(0, &[0, 0, 0]).unwrap().to_vec(),
            vec![0.0; 3]
        );
    }

    #[test]
    fn index_select_parallel_embedding() {
        // Output above the parallel threshold: rows must match serial copies.
        let table = Tensor::<f32>::randn([50, 64], 3);
        let idx: Vec<usize> = (0..2000).map(|i| (i * 7 + i / 3) % 50).collect();
        let out = table.index_select(0, &idx).unwrap();
        assert_eq!(out.shape(), &[2000, 64]);
        let t = table.to_vec();
        let o = out.to_vec();
        for (r, &i) in idx.iter().enumerate() {
            assert_eq!(&o[r * 64..(r + 1) * 64], &t[i * 64..(i + 1) * 64]);
        }
        // Middle axis, parallel path with outer > 1.
        let x = seq(&[30, 40, 70]);
        let idx: Vec<usize> = (0..50).map(|i| (i * 13) % 40).collect();
        assert_eq!(
            x.index_select(1, &idx).unwrap().to_vec(),
            naive_select(&x, 1, &idx)
        );
    }

    #[test]
    fn index_add_accumulates_repeats() {
        let base = Tensor::<f64>::ones([3, 2]);
        let src = Tensor::<f64>::from_f64s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [3, 2]).unwrap();
        let out = base.index_add(0, &[2, 0, 2], &src).unwrap();
        assert_eq!(out.to_vec(), vec![4.0, 5.0, 1.0, 1.0, 7.0, 9.0]);
        assert_eq!(
            base.to_vec(),
            vec![1.0; 6],
            "index_add must not modify self"
        );
        let mut inplace = base.clone();
        inplace.index_add_assign(0, &[2, 0, 2], &src).unwrap();
        assert_eq!(inplace, out);
        assert_eq!(
            base.to_vec(),
            vec![1.0; 6],
            "copy-on-write keeps the shared clone intact"
        );
        // Along the last axis.
        let out = Tensor::<f64>::zeros([2, 3])
            .index_add(
                -1,
                &[1, 1],
                &Tensor::from_f64s(&[1.0, 2.0, 3.0, 4.0], [2, 2]).unwrap(),
            )
            .unwrap();
        assert_eq!(out.to_vec(), vec![0.0, 3.0, 0.0, 0.0, 7.0, 0.0]);
    }

    #[test]
    fn index_add_errors() {
        let mut x = Tensor::<f64>::zeros([3, 2]);
        let e = x
            .index_add(0, &[0, 1], &Tensor::zeros([2, 3]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("index_add") && e.contains("[3, 2]") && e.contains("[2, 3]"),
            "{e}"
        );
        assert!(x.index_add(0, &[0], &Tensor::zeros([2, 2])).is_err());
        assert!(x.index_add(0, &[0], &Tensor::zeros([1, 2, 1])).is_err());
        let e = x
            .index_add_assign(0, &[3], &Tensor::zeros([1, 2]))
            .unwrap_err();
        assert_eq!(
            e,
            TensorError::IndexOutOfRange {
                op: "index_add_assign",
                index: 3,
                len: 3
            }
        );
        assert!(x.index_add(2, &[0], &Tensor::zeros([1, 2])).is_err());
        // Empty source is a no-op.
        assert_eq!(x.index_add(0, &[], &Tensor::zeros([0, 2])).unwrap(), x);
    }

    #[test]
    fn index_select_index_add_adjoint() {
        // <index_select(x), y> == <x, index_add(0, y)> with repeated indices, every axis,
        // including a non-contiguous x and y and the parallel path.
        let cases: [(&[usize], usize, Vec<usize>); 4] = [
            (&[5, 3, 4], 0, vec![4, 0, 4, 4, 2]),
            (&[5, 3, 4], 1, vec![2, 2, 0]),
            (&[5, 3, 4], 2, vec![3, 1, 3, 0, 0, 0]),
            (&[90, 40, 30], 1, (0..60).map(|i| (i * i) % 40).collect()),
        ];
        for (shape, axis, idx) in cases {
            let x = Tensor::<f64>::randn(shape, 1);
            let mut yshape = shape.to_vec();
            yshape[axis] = idx.len();
            let y = Tensor::<f64>::randn(&yshape, 2);
            let lhs = dot(&x.index_select(axis as isize, &idx).unwrap(), &y);
            let back = Tensor::<f64>::zeros(shape)
                .index_add(axis as isize, &idx, &y)
                .unwrap();
            let rhs = dot(&x, &back);
            assert!(
                (lhs - rhs).abs() <= 1e-9 * (1.0 + lhs.abs()),
                "{lhs} vs {rhs}"
            );
            // Transposed source (strided) gives the same result.
            let yt = y.t().unwrap().contiguous().t().unwrap();
            assert!(yt.as_slice().is_none());
            let back_t = Tensor::<f64>::zeros(shape)
                .index_add(axis as isize, &idx, &yt)
                .unwrap();
            assert_eq!(back_t, back);
        }
    }

    #[test]
    fn index_add_parallel_is_bit_identical_to_serial() {
        // Same accumulation on a big table (parallel path) and row-by-row on small pieces
        // (serial path): identical bits, since both sum in index order.
        let idx: Vec<usize> = (0..3000).map(|i| (i * 31 + i / 7) % 17).collect();
        let src = Tensor::<f32>::randn([3000, 40], 5);
        let base = Tensor::<f32>::randn([17, 40], 6);
        let par = base.index_add(0, &idx, &src).unwrap();
        let mut serial = base.to_vec();
        let s = src.to_vec();
        for (j, &i) in idx.iter().enumerate() {
            for c in 0..40 {
                serial[i * 40 + c] += s[j * 40 + c];
            }
        }
        assert_eq!(par.to_vec(), serial);
    }

    #[test]
    fn take_along_axis_picks_per_row() {
        let x = seq(&[3, 4]);
        let t = x.take_along_axis(-1, &[1, 3, 0]).unwrap();
        assert_eq!(t.shape(), &[3, 1]);
        assert_eq!(t.to_vec(), vec![1.0, 7.0, 8.0]);
        let t0 = x.take_along_axis(0, &[2, 0, 1, 2]).unwrap();
        assert_eq!(t0.shape(), &[1, 4]);
        assert_eq!(t0.to_vec(), vec![8.0, 1.0, 6.0, 11.0]);
        // Middle axis of a 3-D tensor, contiguous and transposed.
        let y = seq(&[2, 3, 2]);
        let idx = [2, 0, 1, 1];
        let m = y.take_along_axis(1, &idx).unwrap();
        assert_eq!(m.shape(), &[2, 1, 2]);
        assert_eq!(m.to_vec(), vec![4.0, 1.0, 8.0, 9.0]);
        let yt = y.permute(&[2, 1, 0]).unwrap(); // [2, 3, 2], yt[a,b,c] = y[c,b,a]
        let mt = yt.take_along_axis(1, &idx).unwrap();
        let want: Vec<f64> = (0..4)
            .map(|p| y.get([p % 2, idx[p], p / 2]).unwrap())
            .collect();
        assert_eq!(mt.to_vec(), want);
        let e = x.take_along_axis(1, &[0, 4, 0]).unwrap_err();
        assert_eq!(
            e,
            TensorError::IndexOutOfRange {
                op: "take_along_axis",
                index: 4,
                len: 4
            }
        );
        let e = x.take_along_axis(1, &[0, 1]).unwrap_err().to_string();
        assert!(e.contains("take_along_axis") && e.contains("[3, 4]"), "{e}");
        assert_eq!(
            seq(&[0, 4]).take_along_axis(1, &[]).unwrap().shape(),
            &[0, 1]
        );
        assert_eq!(
            seq(&[5]).take_along_axis(0, &[3]).unwrap().to_vec(),
            vec![3.0]
        );
        assert!(seq(&[2, 0]).take_along_axis(1, &[0, 0]).is_err());
    }

    #[test]
    fn take_along_axis_scatter_adjoint() {
        for (shape, axis) in [
            (vec![6, 5], 1usize),
            (vec![6, 5], 0),
            (vec![3, 4, 5], 1),
            (vec![1, 7], 1),
        ] {
            let x = Tensor::<f64>::randn(&shape, 3);
            let positions = x.len() / shape[axis];
            let idx: Vec<usize> = (0..positions).map(|p| (p * 3 + 1) % shape[axis]).collect();
            let mut gshape = shape.clone();
            gshape[axis] = 1;
            let g = Tensor::<f64>::randn(&gshape, 4);
            let lhs = dot(&x.take_along_axis(axis as isize, &idx).unwrap(), &g);
            let s = Tensor::scatter_along_axis(&g, axis as isize, &idx, &shape).unwrap();
            assert_eq!(s.shape(), &shape[..]);
            let rhs = dot(&x, &s);
            assert!(
                (lhs - rhs).abs() <= 1e-12 * (1.0 + lhs.abs()),
                "{lhs} vs {rhs}"
            );
            // Exactly one non-zero per position (randn is never exactly zero here).
            assert_eq!(s.to_vec().iter().filter(|&&v| v != 0.0).count(), positions);
        }
    }

    #[test]
    fn scatter_along_axis_errors_and_values() {
        let g = Tensor::<f64>::from_f64s(&[1.0, 2.0], [2, 1]).unwrap();
        let s = Tensor::scatter_along_axis(&g, -1, &[2, 0], &[2, 3]).unwrap();
        assert_eq!(s.to_vec(), vec![0.0, 0.0, 1.0, 2.0, 0.0, 0.0]);
        let gt = Tensor::<f64>::from_f64s(&[1.0, 2.0], [1, 2])
            .unwrap()
            .t()
            .unwrap();
        assert_eq!(
            Tensor::scatter_along_axis(&gt, -1, &[2, 0], &[2, 3]).unwrap(),
            s
        );
        let e = Tensor::scatter_along_axis(&g, -1, &[2, 0], &[3, 3])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("scatter_along_axis") && e.contains("[3, 1]") && e.contains("[2, 1]"),
            "{e}"
        );
        assert!(Tensor::scatter_along_axis(&g, -1, &[3, 0], &[2, 3]).is_err());
        assert!(Tensor::scatter_along_axis(&g, -1, &[0], &[2, 3]).is_err());
        assert!(Tensor::scatter_along_axis(&g, 2, &[0, 0], &[2, 3]).is_err());
    }

    #[test]
    fn one_hot_rows() {
        let o = Tensor::<f32>::one_hot(&[2, 0, 1], 3).unwrap();
        assert_eq!(o.shape(), &[3, 3]);
        assert_eq!(
            o.to_vec(),
            vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        );
        let e = Tensor::<f32>::one_hot(&[0, 3], 3).unwrap_err();
        assert_eq!(
            e,
            TensorError::IndexOutOfRange {
                op: "one_hot",
                index: 3,
                len: 3
            }
        );
        assert!(e.to_string().contains("one_hot"));
        assert_eq!(Tensor::<f32>::one_hot(&[], 4).unwrap().shape(), &[0, 4]);
        assert_eq!(Tensor::<f32>::one_hot(&[0], 1).unwrap().to_vec(), vec![1.0]);
        assert!(Tensor::<f32>::one_hot(&[0], 0).is_err());
    }

    #[test]
    fn one_hot_tensor_any_shape() {
        let labels = Tensor::<f64>::from_f64s(&[1.0, 0.0, 2.0, 1.0], [2, 2]).unwrap();
        let o = labels.one_hot_tensor(3).unwrap();
        assert_eq!(o.shape(), &[2, 2, 3]);
        assert_eq!(
            o.to_vec(),
            vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
        );
        // Transposed labels follow logical order.
        let ot = labels.t().unwrap().one_hot_tensor(3).unwrap();
        assert_eq!(ot.get([0, 1, 2]).unwrap(), 1.0);
        assert_eq!(
            Tensor::<f64>::scalar(2.0)
                .one_hot_tensor(4)
                .unwrap()
                .to_vec(),
            vec![0.0, 0.0, 1.0, 0.0]
        );
        for bad in [3.0, -1.0, 0.5, f64::NAN, f64::INFINITY] {
            let t = Tensor::<f64>::from_f64s(&[0.0, bad], [2]).unwrap();
            match t.one_hot_tensor(3).unwrap_err() {
                TensorError::IndexOutOfRange { op, len, .. } => {
                    assert_eq!((op, len), ("one_hot", 3))
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn labels_to_indices_checks() {
        let t = Tensor::<f32>::from_f64s(&[0.0, 4.0, 2.0, -0.0], [4]).unwrap();
        assert_eq!(t.labels_to_indices("loss", 5).unwrap(), vec![0, 4, 2, 0]);
        let err = |v: f64| {
            Tensor::<f32>::from_f64s(&[1.0, v], [2])
                .unwrap()
                .labels_to_indices("loss", 5)
                .unwrap_err()
        };
        assert_eq!(
            err(5.0),
            TensorError::IndexOutOfRange {
                op: "loss",
                index: 5,
                len: 5
            }
        );
        assert_eq!(
            err(-1.0),
            TensorError::IndexOutOfRange {
                op: "loss",
                index: -1,
                len: 5
            }
        );
        assert_eq!(
            err(2.5),
            TensorError::IndexOutOfRange {
                op: "loss",
                index: 2,
                len: 5
            }
        );
        assert_eq!(
            err(-0.5),
            TensorError::IndexOutOfRange {
                op: "loss",
                index: -1,
                len: 5
            }
        );
        assert_eq!(
            err(f64::NAN),
            TensorError::IndexOutOfRange {
                op: "loss",
                index: i64::MIN,
                len: 5
            }
        );
        assert_eq!(
            err(1e38),
            TensorError::IndexOutOfRange {
                op: "loss",
                index: i64::MAX,
                len: 5
            }
        );
        assert!(err(f64::NEG_INFINITY).to_string().contains("loss"));
        assert!(Tensor::<f32>::zeros([0])
            .labels_to_indices("loss", 0)
            .unwrap()
            .is_empty());
        assert!(Tensor::<f32>::zeros([1])
            .labels_to_indices("loss", 0)
            .is_err());
        // Non-contiguous input in logical order.
        let m = Tensor::<f64>::from_f64s(&[0.0, 1.0, 2.0, 3.0], [2, 2])
            .unwrap()
            .t()
            .unwrap();
        assert_eq!(m.labels_to_indices("x", 4).unwrap(), vec![0, 2, 1, 3]);
    }

    #[test]
    fn masked_fill_broadcasts() {
        let x = seq(&[2, 3]);
        let full = Tensor::<f64>::from_f64s(&[1.0, 0.0, 0.0, 0.0, -2.0, f64::NAN], [2, 3]).unwrap();
        assert_eq!(
            x.masked_fill(&full, -9.0).unwrap().to_vec(),
            vec![-9.0, 1.0, 2.0, 3.0, -9.0, -9.0]
        );
        let row = Tensor::<f64>::from_f64s(&[0.0, 1.0, 0.0], [3]).unwrap();
        assert_eq!(
            x.masked_fill(&row, 7.0).unwrap().to_vec(),
            vec![0.0, 7.0, 2.0, 3.0, 7.0, 5.0]
        );
        let col = Tensor::<f64>::from_f64s(&[0.0, 1.0], [2, 1]).unwrap();
        assert_eq!(
            x.masked_fill(&col, 7.0).unwrap().to_vec(),
            vec![0.0, 1.0, 2.0, 7.0, 7.0, 7.0]
        );
        // Transposed self and mask.
        let xt = x.t().unwrap();
        let mt = full.t().unwrap();
        assert_eq!(
            xt.masked_fill(&mt, -9.0).unwrap(),
            x.masked_fill(&full, -9.0)
                .unwrap()
                .t()
                .unwrap()
                .contiguous()
        );
        // NaN values in self stay unless masked; value may be NaN or inf.
        let n = Tensor::<f64>::from_f64s(&[f64::NAN, 1.0], [2]).unwrap();
        let r = n
            .masked_fill(
                &Tensor::from_f64s(&[0.0, 1.0], [2]).unwrap(),
                f64::NEG_INFINITY,
            )
            .unwrap();
        assert!(r.to_vec()[0].is_nan() && r.to_vec()[1] == f64::NEG_INFINITY);
        let e = x
            .masked_fill(&Tensor::zeros([2]), 0.0)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("masked_fill") && e.contains("[2, 3]") && e.contains("[2]"),
            "{e}"
        );
        assert!(row.masked_fill(&x, 0.0).is_err());
        assert_eq!(
            seq(&[0, 3]).masked_fill(&row, 1.0).unwrap().shape(),
            &[0, 3]
        );
        // Large (parallel) paths agree with a naive loop.
        let big = Tensor::<f32>::randn([300, 250], 8);
        let bm = Tensor::<f32>::randn([300, 250], 9).map(|v| if v > 0.0 { 1.0 } else { 0.0 });
        let want: Vec<f32> = big
            .to_vec()
            .iter()
            .zip(bm.to_vec())
            .map(|(&v, m)| if m != 0.0 { 0.5 } else { v })
            .collect();
        assert_eq!(big.masked_fill(&bm, 0.5).unwrap().to_vec(), want);
        let bcol = bm.slice_axis(1, 0, 1).unwrap();
        let got = big.masked_fill(&bcol, 0.5).unwrap().to_vec();
        let bv = big.to_vec();
        let cv = bcol.to_vec();
        for (i, &v) in got.iter().enumerate() {
            assert_eq!(v, if cv[i / 250] != 0.0 { 0.5 } else { bv[i] });
        }
    }
}
