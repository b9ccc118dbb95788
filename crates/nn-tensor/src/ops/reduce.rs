//! Reductions: sum, mean, max, min, prod, variance and standard deviation over any set of
//! axes; full reductions to a scalar; argmax / argmin; and `sum_to_shape`, the reverse of
//! broadcasting.
//!
//! # Determinism
//! Results are bit-identical whatever rayon's thread count. A reduction over contiguous data
//! is cut into fixed chunks of [`REDUCE_CHUNK`] elements; each chunk is reduced pairwise with
//! eight independent accumulators at the leaves (so it vectorises), and the chunk partials
//! are combined pairwise in index order. Parallelism only decides *who* computes a chunk or an
//! output element, never the order of the operations that produce it. Pairwise summation
//! also keeps the rounding error at O(log n · ε).
//!
//! # Layout strategy for axis reductions
//! Size-1 axes are dropped and neighbouring axes that are all reduced (or all kept) are
//! merged. Each merged reduced group is then reduced in turn (innermost first) on contiguous
//! data viewed as `[outer, reduced, inner]`: with `inner = 1` that is one reduction per
//! contiguous row (rows in parallel); otherwise whole rows of `inner` elements are combined,
//! pairwise over the reduced index and vectorised across `inner` (strips of columns and the
//! upper levels of the pairwise tree in parallel). A tensor that is contiguous in another axis
//! order (e.g. transposed) is reduced in its memory order without a copy; any other layout is
//! first copied to row-major order once.

use std::borrow::Cow;

use ndarray::{ArrayD, IxDyn, Zip};
use rayon::prelude::*;

use crate::parallel::{ELEMENTWISE_PAR_MIN, REDUCE_CHUNK};
use crate::{normalize_axis, Float, Result, Tensor, TensorError};

/// Elements reduced sequentially (in eight lanes) at the leaves of the pairwise tree.
const LEAF: usize = 256;
/// Independent accumulators per leaf.
const LANES: usize = 8;
/// Rows added sequentially at the leaves of the row-wise (column) pairwise tree.
const COL_LEAF: usize = 32;
/// Output columns per task in the column reduction (wide enough that each row segment is a
/// long sequential read).
const COL_STRIP: usize = 4096;
/// A column reduction over at least this many elements is split in two parallel halves.
const COL_PAR_SPLIT: usize = 1 << 18;

// ---------------------------------------------------------------------- reduction kernels

/// An associative combination with an optional per-element transform applied to the input
/// (`lift`), e.g. squaring for a sum of squares.
trait Monoid<T: Float>: Copy + Send + Sync {
    /// The transform applied to every input element.
    #[inline]
    fn lift(self, x: T) -> T {
        x
    }
    /// Combines two (lifted) values.
    fn combine(self, a: T, b: T) -> T;
}

#[derive(Clone, Copy)]
struct SumOp;
impl<T: Float> Monoid<T> for SumOp {
    #[inline]
    fn combine(self, a: T, b: T) -> T {
        a + b
    }
}

#[derive(Clone, Copy)]
struct ProdOp;
impl<T: Float> Monoid<T> for ProdOp {
    #[inline]
    fn combine(self, a: T, b: T) -> T {
        a * b
    }
}

/// Maximum; a NaN operand wins (NaN propagates).
#[derive(Clone, Copy)]
struct MaxOp;
impl<T: Float> Monoid<T> for MaxOp {
    #[inline]
    fn combine(self, a: T, b: T) -> T {
        if b > a || b.is_nan() {
            b
        } else {
            a
        }
    }
}

/// Minimum; a NaN operand wins (NaN propagates).
#[derive(Clone, Copy)]
struct MinOp;
impl<T: Float> Monoid<T> for MinOp {
    #[inline]
    fn combine(self, a: T, b: T) -> T {
        if b < a || b.is_nan() {
            b
        } else {
            a
        }
    }
}

/// Sum of `(x · scale)²`.
#[derive(Clone, Copy)]
struct ScaledSumSq<T>(T);
impl<T: Float> Monoid<T> for ScaledSumSq<T> {
    #[inline]
    fn lift(self, x: T) -> T {
        let y = x * self.0;
        y * y
    }
    #[inline]
    fn combine(self, a: T, b: T) -> T {
        a + b
    }
}

/// Sum of squares.
#[derive(Clone, Copy)]
struct SumSq;
impl<T: Float> Monoid<T> for SumSq {
    #[inline]
    fn lift(self, x: T) -> T {
        x * x
    }
    #[inline]
    fn combine(self, a: T, b: T) -> T {
        a + b
    }
}

/// `M` without its transform: combines already-reduced partials.
#[derive(Clone, Copy)]
struct Partials<M>(M);
impl<T: Float, M: Monoid<T>> Monoid<T> for Partials<M> {
    #[inline]
    fn combine(self, a: T, b: T) -> T {
        self.0.combine(a, b)
    }
}

/// Reduces a non-empty slice of at most a few hundred elements with eight accumulators.
#[inline]
fn leaf<T: Float, M: Monoid<T>>(m: M, s: &[T]) -> T {
    if s.len() < LANES {
        let mut acc = m.lift(s[0]);
        for &x in &s[1..] {
            acc = m.combine(acc, m.lift(x));
        }
        return acc;
    }
    let (head, rest) = s.split_at(LANES);
    let mut acc = [T::zero(); LANES];
    for (a, &x) in acc.iter_mut().zip(head) {
        *a = m.lift(x);
    }
    let mut chunks = rest.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = m.combine(*a, m.lift(x));
        }
    }
    let mut r = m.combine(
        m.combine(m.combine(acc[0], acc[1]), m.combine(acc[2], acc[3])),
        m.combine(m.combine(acc[4], acc[5]), m.combine(acc[6], acc[7])),
    );
    for &x in chunks.remainder() {
        r = m.combine(r, m.lift(x));
    }
    r
}

/// Pairwise reduction of a non-empty slice down to [`LEAF`]-sized leaves.
fn pairwise<T: Float, M: Monoid<T>>(m: M, s: &[T]) -> T {
    if s.len() <= LEAF {
        return leaf(m, s);
    }
    let (lo, hi) = s.split_at(s.len() / 2);
    m.combine(pairwise(m, lo), pairwise(m, hi))
}

/// Deterministic reduction of a non-empty slice: fixed [`REDUCE_CHUNK`] chunks (in parallel
/// for large inputs), partials combined pairwise in index order.
fn reduce_slice<T: Float, M: Monoid<T>>(m: M, s: &[T]) -> T {
    if s.len() <= REDUCE_CHUNK {
        return pairwise(m, s);
    }
    let partials: Vec<T> = if s.len() < ELEMENTWISE_PAR_MIN {
        s.chunks(REDUCE_CHUNK).map(|c| pairwise(m, c)).collect()
    } else {
        s.par_chunks(REDUCE_CHUNK).map(|c| pairwise(m, c)).collect()
    };
    pairwise(Partials(m), &partials)
}

/// `out[o] = reduce(x[o·r .. (o+1)·r])` for contiguous rows of length `r ≥ 1`.
fn reduce_rows<T: Float, M: Monoid<T>>(m: M, x: &[T], r: usize) -> Vec<T> {
    let rows = x.len() / r;
    if x.len() < ELEMENTWISE_PAR_MIN || rows < 2 {
        return x.chunks_exact(r).map(|row| reduce_slice(m, row)).collect();
    }
    let mut out = crate::buffer::zeroed(rows);
    let min_rows = REDUCE_CHUNK.div_ceil(r).max(1);
    out.par_iter_mut()
        .zip(x.par_chunks_exact(r))
        .with_min_len(min_rows)
        .for_each(|(o, row)| *o = reduce_slice(m, row));
    out
}

/// Number of scratch rows [`col_pairwise`] needs for `rows` rows.
fn col_depth(mut rows: usize) -> usize {
    let mut d = 0;
    while rows > COL_LEAF {
        rows -= rows / 2;
        d += 1;
    }
    d
}

/// `out[j] = reduce over r < rows of x[r·stride + j]` for `j < out.len()`, pairwise over `r`
/// (sequential leaves of [`COL_LEAF`] rows, vectorised across `j`); `scratch` holds
/// `col_depth(rows)` rows of `out.len()`. With `par`, large halves run in parallel through
/// `rayon::join`; the tree — hence the result — is the same either way.
fn col_pairwise<T: Float, M: Monoid<T>>(
    m: M,
    x: &[T],
    stride: usize,
    rows: usize,
    out: &mut [T],
    scratch: &mut [T],
    par: bool,
) {
    let w = out.len();
    if rows <= COL_LEAF {
        for (o, &v) in out.iter_mut().zip(&x[..w]) {
            *o = m.lift(v);
        }
        for r in 1..rows {
            let row = &x[r * stride..r * stride + w];
            for (o, &v) in out.iter_mut().zip(row) {
                *o = m.combine(*o, m.lift(v));
            }
        }
        return;
    }
    let half = rows / 2;
    let hi = &x[half * stride..];
    let (tmp, rest) = scratch.split_at_mut(w);
    if par && rows * w >= COL_PAR_SPLIT {
        let mut rest_hi = crate::buffer::zeroed(rest.len());
        rayon::join(
            || col_pairwise(m, x, stride, half, out, rest, par),
            || col_pairwise(m, hi, stride, rows - half, tmp, &mut rest_hi, par),
        );
    } else {
        col_pairwise(m, x, stride, half, out, rest, par);
        col_pairwise(m, hi, stride, rows - half, tmp, rest, par);
    }
    for (o, &t) in out.iter_mut().zip(tmp.iter()) {
        *o = m.combine(*o, t);
    }
}

/// Reduces the middle axis of contiguous `x` viewed as `[outer, r, inner]` (`r ≥ 1`,
/// `inner ≥ 1`); the result is `[outer, inner]` row-major. Work is split into strips of at
/// most [`COL_STRIP`] output columns; each output element's summation tree depends only on
/// `r`.
fn reduce_middle<T: Float, M: Monoid<T>>(m: M, x: &[T], r: usize, inner: usize) -> Vec<T> {
    let block = r * inner;
    let outer = x.len() / block;
    let mut out = crate::buffer::zeroed(outer * inner);
    let depth = col_depth(r);
    let par = x.len() >= ELEMENTWISE_PAR_MIN;
    let strip = |o: usize, s: usize, dst: &mut [T], scratch: &mut Vec<T>| {
        scratch.resize(depth * dst.len(), T::zero());
        let src = &x[o * block + s * COL_STRIP..];
        col_pairwise(m, src, inner, r, dst, scratch, par);
    };
    if !par {
        let mut scratch = Vec::new();
        for (o, out_row) in out.chunks_exact_mut(inner).enumerate() {
            for (s, dst) in out_row.chunks_mut(COL_STRIP).enumerate() {
                strip(o, s, dst, &mut scratch);
            }
        }
    } else {
        out.par_chunks_exact_mut(inner)
            .enumerate()
            .for_each(|(o, out_row)| {
                out_row
                    .par_chunks_mut(COL_STRIP)
                    .enumerate()
                    .for_each_init(Vec::new, |sc, (s, dst)| strip(o, s, dst, sc));
            });
    }
    out
}

/// One reduction stage on contiguous `x` viewed as `[outer, r, inner]`.
fn reduce_stage<T: Float, M: Monoid<T>>(m: M, x: &[T], r: usize, inner: usize) -> Vec<T> {
    if inner == 1 {
        reduce_rows(m, x, r)
    } else {
        reduce_middle(m, x, r, inner)
    }
}

/// Reduces the axes in `mask` of row-major `x` of `shape` (every axis ≥ 1, at least one
/// reduced and one kept element). Size-1 axes are dropped and neighbours with the same role
/// merged; the merged reduced groups are then reduced one at a time, innermost first, each
/// stage on contiguous data. Only the first stage applies `m`'s per-element transform.
fn reduce_contiguous<T: Float, M: Monoid<T>>(
    m: M,
    x: &[T],
    shape: &[usize],
    mask: &[bool],
) -> Vec<T> {
    let mut groups: Vec<(usize, bool)> = Vec::new();
    for (&d, &r) in shape.iter().zip(mask) {
        if d == 1 {
            continue;
        }
        match groups.last_mut() {
            Some((size, role)) if *role == r => *size *= d,
            _ => groups.push((d, r)),
        }
    }
    if !groups.iter().any(|g| g.1) {
        return x.iter().map(|&v| m.lift(v)).collect();
    }
    if groups.iter().all(|g| g.1) {
        return vec![reduce_slice(m, x)];
    }
    let mut data: Cow<'_, [T]> = Cow::Borrowed(x);
    let mut first = true;
    while let Some(p) = groups.iter().rposition(|g| g.1) {
        let r = groups[p].0;
        let inner: usize = groups[p + 1..].iter().map(|g| g.0).product();
        let next = if first {
            reduce_stage(m, &data, r, inner)
        } else {
            reduce_stage(Partials(m), &data, r, inner)
        };
        first = false;
        data = Cow::Owned(next);
        groups.remove(p);
        if p > 0 && p < groups.len() && groups[p - 1].1 == groups[p].1 {
            groups[p - 1].0 *= groups[p].0;
            groups.remove(p);
        }
    }
    data.into_owned()
}

// ---------------------------------------------------------------------- axis bookkeeping

/// Which axes are reduced; empty `axes` means all. Errors on out-of-range or repeated axes.
fn axes_mask(op: &'static str, axes: &[isize], shape: &[usize]) -> Result<Vec<bool>> {
    if axes.is_empty() {
        return Ok(vec![true; shape.len()]);
    }
    let mut mask = vec![false; shape.len()];
    for &ax in axes {
        let a = normalize_axis(op, ax, shape)?;
        if mask[a] {
            return Err(TensorError::invalid(
                op,
                format!("axis {ax} is repeated in {axes:?} for a tensor of shape {shape:?}"),
            ));
        }
        mask[a] = true;
    }
    Ok(mask)
}

/// The result shape: reduced axes become 1 (`keepdims`) or are removed.
fn reduced_shape(shape: &[usize], mask: &[bool], keepdims: bool) -> Vec<usize> {
    shape
        .iter()
        .zip(mask)
        .filter_map(|(&d, &m)| match (m, keepdims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

/// The number of elements reduced into each output element.
fn reduced_count(shape: &[usize], mask: &[bool]) -> usize {
    shape
        .iter()
        .zip(mask)
        .filter(|(_, &m)| m)
        .map(|(&d, _)| d)
        .product()
}

impl<T: Float> Tensor<T> {
    /// The data in row-major order: borrowed when the tensor is standard layout, else copied
    /// (through `Zip`, which walks strided layouts much faster than element iteration).
    fn standard_data(&self) -> Cow<'_, [T]> {
        if let Some(s) = self.as_slice() {
            return Cow::Borrowed(s);
        }
        let mut out = ArrayD::<T>::zeros(IxDyn(self.shape()));
        let zip = Zip::from(out.view_mut()).and(self.array());
        if self.len() < ELEMENTWISE_PAR_MIN {
            zip.for_each(|o, &x| *o = x);
        } else {
            zip.par_for_each(|o, &x| *o = x);
        }
        Cow::Owned(out.into_raw_vec_and_offset().0)
    }

    /// Reduces every element with `m`; `None` for an empty tensor. Uses the memory order when
    /// the data is contiguous in any order (e.g. transposed), else the logical order.
    fn reduce_full<M: Monoid<T>>(&self, m: M) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        Some(match self.array().as_slice_memory_order() {
            Some(s) => reduce_slice(m, s),
            None => reduce_slice(m, &self.standard_data()),
        })
    }

    /// Reduces the axes in `mask` with `m`, returning the kept elements in row-major order of
    /// the kept axes. `empty` is the value of a reduction over no element (`None`: an error).
    fn reduce_masked<M: Monoid<T>>(
        &self,
        op: &'static str,
        mask: &[bool],
        m: M,
        empty: Option<T>,
    ) -> Result<Vec<T>> {
        let shape = self.shape();
        let n_out: usize = shape
            .iter()
            .zip(mask)
            .filter(|(_, &r)| !r)
            .map(|(&d, _)| d)
            .product();
        if n_out == 0 {
            return Ok(Vec::new());
        }
        if reduced_count(shape, mask) == 0 {
            return match empty {
                Some(v) => Ok(vec![v; n_out]),
                None => Err(TensorError::invalid(
                    op,
                    format!(
                        "cannot reduce over an empty axis of a tensor of shape {shape:?} \
                         (the operation has no identity)"
                    ),
                )),
            };
        }
        if let Some(x) = self.as_slice() {
            return Ok(reduce_contiguous(m, x, shape, mask));
        }
        if self.array().as_slice_memory_order().is_some() {
            // Contiguous in another axis order (e.g. transposed): reduce in memory order, then
            // put the kept axes back in their logical order.
            let strides = self.array().strides();
            let mut perm: Vec<usize> = (0..shape.len()).collect();
            perm.sort_by_key(|&a| std::cmp::Reverse(strides[a]));
            let view = self.view().permuted_axes(IxDyn(&perm));
            if let Some(x) = view.as_slice() {
                let pshape: Vec<usize> = perm.iter().map(|&a| shape[a]).collect();
                let pmask: Vec<bool> = perm.iter().map(|&a| mask[a]).collect();
                let data = reduce_contiguous(m, x, &pshape, &pmask);
                let kept: Vec<usize> = perm.iter().copied().filter(|&a| !mask[a]).collect();
                if kept.windows(2).all(|w| w[0] < w[1]) {
                    return Ok(data);
                }
                let kshape: Vec<usize> = kept.iter().map(|&a| shape[a]).collect();
                let mut order: Vec<usize> = (0..kept.len()).collect();
                order.sort_by_key(|&i| kept[i]);
                let out = ArrayD::from_shape_vec(IxDyn(&kshape), data)
                    .map_err(|e| TensorError::invalid(op, e.to_string()))?;
                let back = Tensor::from_array(out.permuted_axes(IxDyn(&order)));
                return Ok(back.standard_data().into_owned());
            }
        }
        Ok(reduce_contiguous(m, &self.standard_data(), shape, mask))
    }

    /// Shared driver: validates `axes`, reduces, and shapes the result.
    fn reduce_axes<M: Monoid<T>>(
        &self,
        op: &'static str,
        axes: &[isize],
        keepdims: bool,
        m: M,
        empty: Option<T>,
    ) -> Result<Tensor<T>> {
        let mask = axes_mask(op, axes, self.shape())?;
        let data = self.reduce_masked(op, &mask, m, empty)?;
        let shape = reduced_shape(self.shape(), &mask, keepdims);
        Tensor::from_vec(data, shape)
    }

    /// The sum over `axes` (empty: all axes; negative axes count from the end). Reduced axes
    /// are removed, or kept with size 1 when `keepdims`. A sum over no element is 0.
    pub fn sum(&self, axes: &[isize], keepdims: bool) -> Result<Tensor<T>> {
        self.reduce_axes("sum", axes, keepdims, SumOp, Some(T::zero()))
    }

    /// The product over `axes` (as [`Tensor::sum`]); a product over no element is 1.
    pub fn prod(&self, axes: &[isize], keepdims: bool) -> Result<Tensor<T>> {
        self.reduce_axes("prod", axes, keepdims, ProdOp, Some(T::one()))
    }

    /// The mean over `axes` (as [`Tensor::sum`]); NaN for a mean over no element.
    pub fn mean(&self, axes: &[isize], keepdims: bool) -> Result<Tensor<T>> {
        let mask = axes_mask("mean", axes, self.shape())?;
        let n = reduced_count(self.shape(), &mask);
        let mut data = self.reduce_masked("mean", &mask, SumOp, Some(T::zero()))?;
        let count = T::of(n as f64);
        let nan = n == 0;
        for v in &mut data {
            *v = if nan { T::nan() } else { *v / count };
        }
        Tensor::from_vec(data, reduced_shape(self.shape(), &mask, keepdims))
    }

    /// The maximum over `axes` (as [`Tensor::sum`]); NaN propagates; an error if some output
    /// element would reduce no element.
    pub fn max(&self, axes: &[isize], keepdims: bool) -> Result<Tensor<T>> {
        self.reduce_axes("max", axes, keepdims, MaxOp, None)
    }

    /// The minimum over `axes` (as [`Tensor::sum`]); NaN propagates; an error if some output
    /// element would reduce no element.
    pub fn min(&self, axes: &[isize], keepdims: bool) -> Result<Tensor<T>> {
        self.reduce_axes("min", axes, keepdims, MinOp, None)
    }

    /// The variance over `axes` with `n − ddof` in the denominator (two-pass: the mean first,
    /// then the mean squared deviation). NaN where `n ≤ ddof`.
    pub fn var(&self, axes: &[isize], keepdims: bool, ddof: usize) -> Result<Tensor<T>> {
        const OP: &str = "var";
        let mask = axes_mask(OP, axes, self.shape())?;
        let n = reduced_count(self.shape(), &mask);
        let out_shape = reduced_shape(self.shape(), &mask, keepdims);
        if n <= ddof {
            let n_out: usize = out_shape.iter().product();
            return Tensor::from_vec(vec![T::nan(); n_out], out_shape);
        }
        let count = T::of(n as f64);
        let mut sums = self.reduce_masked(OP, &mask, SumOp, Some(T::zero()))?;
        for v in &mut sums {
            *v /= count;
        }
        let mean = Tensor::from_vec(sums, reduced_shape(self.shape(), &mask, true))?;
        let dev2 = self.zip_map(&mean, OP, |x, mu| (x - mu) * (x - mu))?;
        let mut data = dev2.reduce_masked(OP, &mask, SumOp, Some(T::zero()))?;
        let denom = T::of((n - ddof) as f64);
        for v in &mut data {
            *v /= denom;
        }
        Tensor::from_vec(data, out_shape)
    }

    /// The standard deviation over `axes`: the square root of [`Tensor::var`].
    pub fn std(&self, axes: &[isize], keepdims: bool, ddof: usize) -> Result<Tensor<T>> {
        Ok(self.var(axes, keepdims, ddof)?.sqrt())
    }

    // ------------------------------------------------------------------ full reductions

    /// The sum of all elements (0 for an empty tensor).
    pub fn sum_all(&self) -> T {
        self.reduce_full(SumOp).unwrap_or_else(T::zero)
    }

    /// The mean of all elements (NaN for an empty tensor).
    pub fn mean_all(&self) -> T {
        match self.reduce_full(SumOp) {
            Some(s) => s / T::of(self.len() as f64),
            None => T::nan(),
        }
    }

    /// The largest element (NaN if any is NaN); an error for an empty tensor.
    pub fn max_all(&self) -> Result<T> {
        self.reduce_full(MaxOp).ok_or_else(|| {
            TensorError::invalid(
                "max_all",
                format!("empty tensor of shape {:?}", self.shape()),
            )
        })
    }

    /// The smallest element (NaN if any is NaN); an error for an empty tensor.
    pub fn min_all(&self) -> Result<T> {
        self.reduce_full(MinOp).ok_or_else(|| {
            TensorError::invalid(
                "min_all",
                format!("empty tensor of shape {:?}", self.shape()),
            )
        })
    }

    /// `Σ x²` over all elements (0 for an empty tensor).
    pub fn sum_squares_all(&self) -> T {
        self.reduce_full(SumSq).unwrap_or_else(T::zero)
    }

    /// The Euclidean norm `√Σ x²`, rescaled by the largest magnitude when the plain sum of
    /// squares would overflow or underflow (so `[1e30, 1e30]` in `f32` gives `≈1.414e30`).
    pub fn norm_l2(&self) -> T {
        let ss = self.sum_squares_all();
        let tiny = T::min_positive_value() / T::epsilon();
        if ss.is_nan() || (ss.is_finite() && ss >= tiny) {
            return ss.sqrt();
        }
        let amax = self.abs().reduce_full(MaxOp).unwrap_or_else(T::zero);
        if amax == T::zero() || !amax.is_finite() {
            return amax;
        }
        let scaled = self
            .reduce_full(ScaledSumSq(T::one() / amax))
            .unwrap_or_else(T::zero);
        scaled.sqrt() * amax
    }

    // ------------------------------------------------------------------ arg reductions

    /// Indices of the maxima along `axis` (removed from the shape). Ties give the first index;
    /// NaN counts as larger than everything (the first NaN wins). An error for an empty axis.
    pub fn argmax(&self, axis: isize) -> Result<ArrayD<usize>> {
        self.arg_reduce("argmax", axis, |x, best| x > best)
    }

    /// Indices of the minima along `axis` (removed from the shape). Ties give the first index;
    /// a NaN wins over every number as in [`Tensor::min`] (the first NaN is returned), so the
    /// element at the index is always the value `min` reports. An error for an empty axis.
    pub fn argmin(&self, axis: isize) -> Result<ArrayD<usize>> {
        self.arg_reduce("argmin", axis, |x, best| x < best)
    }

    /// Shared argmax/argmin: `beats(x, best)` is the strict comparison; NaN always beats a
    /// number and nothing beats a NaN.
    fn arg_reduce(
        &self,
        op: &'static str,
        axis: isize,
        beats: impl Fn(T, T) -> bool + Sync + Send,
    ) -> Result<ArrayD<usize>> {
        let shape = self.shape();
        let a = normalize_axis(op, axis, shape)?;
        let out_shape: Vec<usize> = shape
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != a)
            .map(|(_, &d)| d)
            .collect();
        let n_out: usize = out_shape.iter().product();
        let r = shape[a];
        if r == 0 && n_out > 0 {
            return Err(TensorError::invalid(
                op,
                format!("axis {axis} of a tensor of shape {shape:?} is empty"),
            ));
        }
        let better = |x: T, best: T| !best.is_nan() && (x.is_nan() || beats(x, best));
        let mut idx = vec![0usize; n_out];
        if n_out > 0 {
            let x = self.standard_data();
            let inner: usize = shape[a + 1..].iter().product();
            let block = r * inner;
            // One outer block: track the best value per inner position, scanning rows in order.
            let run = |o: usize, out: &mut [usize]| {
                let src = &x[o * block..(o + 1) * block];
                if inner == 1 {
                    let (mut bi, mut bv) = (0, src[0]);
                    for (i, &v) in src.iter().enumerate().skip(1) {
                        if better(v, bv) {
                            (bi, bv) = (i, v);
                        }
                    }
                    out[0] = bi;
                } else {
                    let mut best = src[..inner].to_vec();
                    for (k, row) in src.chunks_exact(inner).enumerate().skip(1) {
                        for ((b, i), &v) in best.iter_mut().zip(out.iter_mut()).zip(row) {
                            if better(v, *b) {
                                (*b, *i) = (v, k);
                            }
                        }
                    }
                }
            };
            if self.len() < ELEMENTWISE_PAR_MIN {
                idx.chunks_exact_mut(inner)
                    .enumerate()
                    .for_each(|(o, out)| run(o, out));
            } else {
                idx.par_chunks_exact_mut(inner)
                    .enumerate()
                    .for_each(|(o, out)| run(o, out));
            }
        }
        ArrayD::from_shape_vec(IxDyn(&out_shape), idx)
            .map_err(|e| TensorError::invalid(op, e.to_string()))
    }

    // ------------------------------------------------------------------ un-broadcasting

    /// Sums `self` down to `shape`, the reverse of broadcasting `shape` to `self.shape()`:
    /// sums over the leading axes `shape` lacks and over the axes where `shape` has 1 and
    /// `self` does not. The result has exactly `shape`. An error if `shape` does not broadcast
    /// to `self`'s shape. This is the backward pass of every broadcast.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor<T>> {
        let s = self.shape();
        let mismatch = || TensorError::ShapeMismatch {
            op: "sum_to_shape",
            lhs: s.to_vec(),
            rhs: shape.to_vec(),
        };
        if shape.len() > s.len() {
            return Err(mismatch());
        }
        let lead = s.len() - shape.len();
        let mut mask = vec![false; s.len()];
        for (i, m) in mask.iter_mut().enumerate() {
            if i < lead {
                *m = true;
            } else {
                let (t, d) = (shape[i - lead], s[i]);
                if t == 1 && d != 1 {
                    *m = true;
                } else if t != d {
                    return Err(mismatch());
                }
            }
        }
        if !mask.iter().any(|&m| m) {
            return Ok(self.clone());
        }
        let data = self.reduce_masked("sum_to_shape", &mask, SumOp, Some(T::zero()))?;
        Tensor::from_vec(data, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Dimension;
    use proptest::prelude::*;

    fn t64(v: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_f64s(v, shape).unwrap()
    }

    /// Row-major strides of `shape`.
    fn strides(shape: &[usize]) -> Vec<usize> {
        let mut st = vec![1; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            st[i] = st[i + 1] * shape[i + 1];
        }
        st
    }

    /// Naive reference: for every input element, the flat output index it reduces into, with
    /// the reduced axes collapsed (row-major over kept axes).
    fn naive_reduce(
        x: &Tensor<f64>,
        mask: &[bool],
        init: f64,
        f: impl Fn(f64, f64) -> f64,
    ) -> Vec<f64> {
        let shape = x.shape();
        let kept: Vec<usize> = shape
            .iter()
            .zip(mask)
            .filter(|(_, &m)| !m)
            .map(|(&d, _)| d)
            .collect();
        let n_out: usize = kept.iter().product();
        let kst = strides(&kept);
        let mut out = vec![init; n_out];
        let v = x.to_vec();
        let st = strides(shape);
        for (flat, &val) in v.iter().enumerate() {
            let mut o = 0;
            let mut k = 0;
            for (ax, &d) in shape.iter().enumerate() {
                let i = (flat / st[ax]) % d.max(1);
                if !mask[ax] {
                    o += i * kst[k];
                    k += 1;
                }
            }
            out[o] = f(out[o], val);
        }
        out
    }

    /// A non-contiguous tensor of `shape`: the reversed-axes view of contiguous data.
    fn permuted(shape: &[usize], seed: u64) -> Tensor<f64> {
        let rev: Vec<usize> = shape.iter().rev().copied().collect();
        let base = Tensor::<f64>::randn(&rev, seed);
        Tensor::from_shared(base.array().clone().reversed_axes())
    }

    /// A non-contiguous tensor of `shape` that is not contiguous in any axis order either:
    /// every other element of a larger buffer along the last axis, with the axes rotated.
    fn strided(shape: &[usize], seed: u64) -> Tensor<f64> {
        let rank = shape.len();
        // logical axis i is stored at position (i + 1) % rank of the base
        let mut base_shape = vec![0; rank];
        for i in 0..rank {
            base_shape[(i + 1) % rank] = shape[i];
        }
        base_shape[rank - 1] *= 2;
        let mut arr = Tensor::<f64>::randn(&base_shape, seed).array().clone();
        arr.slice_axis_inplace(ndarray::Axis(rank - 1), ndarray::Slice::new(0, None, 2));
        let perm: Vec<usize> = (0..rank).map(|i| (i + 1) % rank).collect();
        let t = Tensor::from_shared(arr.permuted_axes(IxDyn(&perm)));
        assert_eq!(t.shape(), shape);
        t
    }

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()) || x == y)
    }

    #[test]
    fn sum_all_axis_combinations_match_naive() {
        let shapes: Vec<Vec<usize>> = vec![
            vec![3, 4, 5],
            vec![2, 1, 3, 4],
            vec![7],
            vec![1, 1],
            vec![5, 300],
            vec![40, 3, 9],
        ];
        for (si, shape) in shapes.iter().enumerate() {
            let rank = shape.len();
            for bits in 0u32..(1 << rank) {
                let mask: Vec<bool> = (0..rank).map(|a| bits >> a & 1 == 1).collect();
                let axes: Vec<isize> = (0..rank).filter(|&a| mask[a]).map(|a| a as isize).collect();
                let eff_mask = if axes.is_empty() {
                    vec![true; rank]
                } else {
                    mask.clone()
                };
                let variants = [
                    Tensor::<f64>::randn(shape, si as u64),
                    permuted(shape, 7),
                    strided(shape, 8),
                ];
                for (ti, x) in variants.iter().enumerate() {
                    let want = naive_reduce(x, &eff_mask, 0.0, |a, b| a + b);
                    let got = x.sum(&axes, false).unwrap();
                    assert!(
                        close(&got.to_vec(), &want, 1e-12),
                        "{shape:?} {axes:?} t{ti}"
                    );
                    assert_eq!(got.shape(), reduced_shape(shape, &eff_mask, false));
                    let mx = naive_reduce(x, &eff_mask, f64::NEG_INFINITY, f64::max);
                    assert_eq!(
                        x.max(&axes, false).unwrap().to_vec(),
                        mx,
                        "{shape:?} {axes:?}"
                    );
                    let mn = naive_reduce(x, &eff_mask, f64::INFINITY, f64::min);
                    assert_eq!(x.min(&axes, true).unwrap().to_vec(), mn);
                    let pr = naive_reduce(x, &eff_mask, 1.0, |a, b| a * b);
                    assert!(close(&x.prod(&axes, false).unwrap().to_vec(), &pr, 1e-12));
                }
            }
        }
    }

    #[test]
    fn sum_large_axis_paths_match_naive() {
        // Big enough for the parallel row, middle-axis and general paths.
        let x = Tensor::<f64>::randn([300, 7, 40], 3);
        for axes in [
            vec![0],
            vec![1],
            vec![2],
            vec![0, 2],
            vec![-1, -2],
            vec![0, 1],
        ] {
            let mask: Vec<bool> = (0..3)
                .map(|a| axes.contains(&a) || axes.contains(&(a - 3)))
                .collect();
            let want = naive_reduce(&x, &mask, 0.0, |a, b| a + b);
            assert!(
                close(&x.sum(&axes, false).unwrap().to_vec(), &want, 1e-12),
                "{axes:?}"
            );
            let mx = naive_reduce(&x, &mask, f64::NEG_INFINITY, f64::max);
            assert_eq!(x.max(&axes, false).unwrap().to_vec(), mx, "{axes:?}");
        }
        // Column reduction with many rows (deep pairwise tree) and a wide strip split.
        let y = Tensor::<f64>::randn([5000, 3, 600], 4);
        let s = y.sum(&[0], false).unwrap();
        let want = naive_reduce(&y, &[true, false, false], 0.0, |a, b| a + b);
        assert!(close(&s.to_vec(), &want, 1e-12));
    }

    #[test]
    fn sum_keepdims_and_negative_axes() {
        let x = Tensor::<f64>::arange(0.0, 24.0, 1.0).unwrap();
        let x = Tensor::from_vec(x.to_vec(), [2, 3, 4]).unwrap();
        let a = x.sum(&[-1], true).unwrap();
        assert_eq!(a.shape(), &[2, 3, 1]);
        assert_eq!(a.to_vec(), vec![6.0, 22.0, 38.0, 54.0, 70.0, 86.0]);
        let b = x.sum(&[0, -1], false).unwrap();
        assert_eq!(b.shape(), &[3]);
        assert_eq!(b.to_vec(), vec![60.0, 92.0, 124.0]);
        assert_eq!(x.sum(&[], true).unwrap().shape(), &[1, 1, 1]);
        assert_eq!(x.sum(&[], false).unwrap().shape(), &[] as &[usize]);
        assert_eq!(x.sum(&[], false).unwrap().item().unwrap(), 276.0);
        assert_eq!(x.mean(&[1], true).unwrap().shape(), &[2, 1, 4]);
        assert_eq!(x.mean(&[1], true).unwrap().to_vec()[..2], [4.0, 5.0]);
    }

    #[test]
    fn sum_invalid_and_repeated_axes_error() {
        let x = Tensor::<f32>::zeros([2, 3]);
        let e = x.sum(&[2], false).unwrap_err();
        assert!(matches!(
            e,
            TensorError::InvalidAxis {
                op: "sum",
                axis: 2,
                ..
            }
        ));
        assert!(x.max(&[-3], false).is_err());
        let e = x.mean(&[1, -1], false).unwrap_err();
        assert!(e.to_string().contains("mean") && e.to_string().contains("repeated"));
        assert!(Tensor::<f32>::scalar(1.0).sum(&[0], false).is_err());
        assert!(x.argmax(2).is_err());
        assert!(x.var(&[5], false, 0).is_err());
    }

    #[test]
    fn sum_empty_and_rank0() {
        let e = Tensor::<f32>::zeros([0, 3]);
        assert_eq!(e.sum(&[0], false).unwrap().to_vec(), vec![0.0; 3]);
        assert_eq!(e.sum(&[1], false).unwrap().shape(), &[0]);
        assert_eq!(e.sum(&[], true).unwrap().to_vec(), vec![0.0]);
        assert_eq!(e.prod(&[0], false).unwrap().to_vec(), vec![1.0; 3]);
        assert!(e
            .mean(&[0], false)
            .unwrap()
            .to_vec()
            .iter()
            .all(|v| v.is_nan()));
        let err = e.max(&[0], false).unwrap_err();
        assert!(err.to_string().contains("max"));
        assert!(e.min(&[], false).unwrap_err().to_string().contains("min"));
        assert_eq!(e.max(&[1], false).unwrap().shape(), &[0]);
        assert_eq!(e.sum_all(), 0.0);
        assert!(e.mean_all().is_nan());
        assert!(e.max_all().unwrap_err().to_string().contains("max_all"));
        assert!(e.min_all().is_err());
        assert_eq!(e.norm_l2(), 0.0);
        assert!(e.argmax(0).is_err());
        assert_eq!(e.argmax(1).unwrap().shape(), &[0]);

        let s = Tensor::<f64>::scalar(-2.5);
        assert_eq!(s.sum(&[], false).unwrap().item().unwrap(), -2.5);
        assert_eq!(s.max(&[], true).unwrap().shape(), &[] as &[usize]);
        assert_eq!(s.mean_all(), -2.5);
        assert_eq!(s.max_all().unwrap(), -2.5);
        assert_eq!(s.var(&[], false, 0).unwrap().item().unwrap(), 0.0);
        assert!(s.var(&[], false, 1).unwrap().item().unwrap().is_nan());
        assert_eq!(s.sum_to_shape(&[]).unwrap().item().unwrap(), -2.5);
    }

    #[test]
    fn max_min_propagate_nan() {
        let mut v: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        v[637] = f64::NAN;
        let x = t64(&v, &[1000]);
        assert!(x.max_all().unwrap().is_nan());
        assert!(x.min_all().unwrap().is_nan());
        let m = Tensor::from_vec(v.clone(), [10, 100]).unwrap();
        let r = m.max(&[1], false).unwrap().to_vec();
        assert!(r[6].is_nan() && r[5] == 599.0);
        let c = m.min(&[0], false).unwrap().to_vec();
        assert!(c[37].is_nan() && c[36] == 36.0);
        assert!(x.sum_all().is_nan());
        assert_eq!(
            t64(&[-3.0, f64::NEG_INFINITY], &[2]).max_all().unwrap(),
            -3.0
        );
    }

    #[test]
    fn mean_var_std_match_naive() {
        let x = Tensor::<f64>::randn([6, 5, 4], 11).add_scalar(1e3);
        for axes in [vec![0], vec![1, 2], vec![], vec![-1]] {
            let mask: Vec<bool> = if axes.is_empty() {
                vec![true; 3]
            } else {
                (0..3)
                    .map(|a| axes.contains(&a) || axes.contains(&(a - 3)))
                    .collect()
            };
            let n = reduced_count(x.shape(), &mask) as f64;
            let sums = naive_reduce(&x, &mask, 0.0, |a, b| a + b);
            let mean: Vec<f64> = sums.iter().map(|s| s / n).collect();
            assert!(close(&x.mean(&axes, false).unwrap().to_vec(), &mean, 1e-14));
            // variance around the naive mean, via a naive loop over (x - mean)^2
            let mt = Tensor::from_vec(mean.clone(), reduced_shape(x.shape(), &mask, true)).unwrap();
            let dev = x.sub(&mt).unwrap().square();
            let ss = naive_reduce(&dev, &mask, 0.0, |a, b| a + b);
            for ddof in [0usize, 1] {
                let var: Vec<f64> = ss.iter().map(|s| s / (n - ddof as f64)).collect();
                let got = x.var(&axes, true, ddof).unwrap();
                assert_eq!(got.shape(), &reduced_shape(x.shape(), &mask, true)[..]);
                assert!(close(&got.to_vec(), &var, 1e-10), "{axes:?} ddof {ddof}");
                let sd: Vec<f64> = var.iter().map(|v| v.sqrt()).collect();
                assert!(close(
                    &x.std(&axes, false, ddof).unwrap().to_vec(),
                    &sd,
                    1e-10
                ));
            }
        }
        let v = t64(&[1.0, 2.0, 3.0, 4.0], &[4]);
        assert_eq!(v.var(&[0], false, 0).unwrap().item().unwrap(), 1.25);
        assert_eq!(v.var(&[0], false, 1).unwrap().item().unwrap(), 5.0 / 3.0);
        assert!(v.var(&[0], false, 4).unwrap().item().unwrap().is_nan());
    }

    #[test]
    fn full_reductions_values() {
        let x = t64(&[3.0, -4.0, 1.0, 0.5, 2.0], &[5]);
        assert_eq!(x.sum_all(), 2.5);
        assert_eq!(x.mean_all(), 0.5);
        assert_eq!(x.max_all().unwrap(), 3.0);
        assert_eq!(x.min_all().unwrap(), -4.0);
        assert_eq!(x.sum_squares_all(), 9.0 + 16.0 + 1.0 + 0.25 + 4.0);
        assert_eq!(t64(&[3.0, 4.0], &[2]).norm_l2(), 5.0);
        // transposed (memory-order contiguous) and strided inputs
        let p = permuted(&[13, 17], 1);
        let want: f64 = p.to_vec().iter().sum();
        assert!((p.sum_all() - want).abs() < 1e-12);
        let mut arr = Tensor::<f64>::randn([20, 30], 2).array().clone();
        arr.slice_collapse(ndarray::s![1..;3, ..;2]);
        let sl = Tensor::from_shared(arr);
        assert!(!sl.is_contiguous());
        let want: f64 = sl.to_vec().iter().sum();
        assert!((sl.sum_all() - want).abs() < 1e-12);
        assert_eq!(
            sl.max_all().unwrap(),
            sl.to_vec().iter().cloned().fold(f64::MIN, f64::max)
        );
    }

    #[test]
    fn norm_l2_avoids_overflow_and_underflow() {
        let big = Tensor::<f32>::from_f64s(&[3e30, 4e30], [2]).unwrap();
        let n = big.norm_l2();
        assert!((n / 5e30 - 1.0).abs() < 1e-6, "{n}");
        let small = Tensor::<f32>::from_f64s(&[3e-30, -4e-30], [2]).unwrap();
        let n = small.norm_l2();
        assert!((n / 5e-30 - 1.0).abs() < 1e-6, "{n}");
        let inf = Tensor::<f32>::from_f64s(&[1.0, f64::INFINITY], [2]).unwrap();
        assert_eq!(inf.norm_l2(), f32::INFINITY);
        let nan = Tensor::<f32>::from_f64s(&[f64::NAN, f64::INFINITY], [2]).unwrap();
        assert!(nan.norm_l2().is_nan());
        assert_eq!(Tensor::<f32>::zeros([4]).norm_l2(), 0.0);
    }

    #[test]
    fn sum_f32_accuracy_one_million() {
        let n = 1_000_000;
        let x = Tensor::<f32>::rand_uniform([n], 0.0, 1.0, 5);
        let want: f64 = x.to_vec().iter().map(|&v| v as f64).sum();
        let got = x.sum_all() as f64;
        assert!(((got - want) / want).abs() < 1e-5, "{got} vs {want}");
        // signed data: error relative to Σ|x|
        let y = Tensor::<f32>::randn([n], 6);
        let want: f64 = y.to_vec().iter().map(|&v| v as f64).sum();
        let abs: f64 = y.to_vec().iter().map(|&v| (v as f64).abs()).sum();
        assert!(((y.sum_all() as f64) - want).abs() < 1e-6 * abs);
        // axis sum along a long column
        let z = Tensor::from_vec(x.to_vec(), [n / 4, 4]).unwrap();
        let cols = z.sum(&[0], false).unwrap().to_vec();
        let zv = x.to_vec();
        for (c, &got) in cols.iter().enumerate() {
            let want: f64 = zv.iter().skip(c).step_by(4).map(|&v| v as f64).sum();
            assert!(((got as f64 - want) / want).abs() < 1e-5, "col {c}");
        }
    }

    #[test]
    fn sum_deterministic_across_thread_counts() {
        let n = (1 << 20) + 12_345;
        let x = Tensor::<f32>::randn([n], 8);
        let rows = Tensor::from_vec(x.to_vec()[..1000 * 1000].to_vec(), [1000, 1000]).unwrap();
        let tall = Tensor::from_vec(x.to_vec()[..100_000 * 10].to_vec(), [100_000, 10]).unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                (
                    x.sum_all().to_bits(),
                    x.sum_squares_all().to_bits(),
                    x.mean(&[], false).unwrap().item().unwrap().to_bits(),
                    rows.sum(&[1], false).unwrap().to_vec(),
                    rows.sum(&[0], false).unwrap().to_vec(),
                    tall.sum(&[0], false).unwrap().to_vec(),
                    tall.var(&[0], false, 1).unwrap().to_vec(),
                )
            })
        };
        let (one, two, four) = (run(1), run(2), run(4));
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        for other in [&two, &four] {
            assert_eq!((one.0, one.1, one.2), (other.0, other.1, other.2));
            assert_eq!(bits(&one.3), bits(&other.3));
            assert_eq!(bits(&one.4), bits(&other.4));
            assert_eq!(bits(&one.5), bits(&other.5));
            assert_eq!(bits(&one.6), bits(&other.6));
        }
        // the full reduction through `sum(&[])` is the same computation as `sum_all`
        assert_eq!(x.sum(&[], false).unwrap().item().unwrap().to_bits(), one.0);
    }

    #[test]
    fn argmax_argmin_ties_nan_and_axes() {
        let x = t64(&[1.0, 3.0, 3.0, 0.0, 2.0, 2.0, 5.0, -1.0], &[2, 4]);
        assert_eq!(x.argmax(1).unwrap().into_raw_vec_and_offset().0, vec![1, 2]);
        assert_eq!(
            x.argmin(-1).unwrap().into_raw_vec_and_offset().0,
            vec![3, 3]
        );
        assert_eq!(
            x.argmax(0).unwrap().into_raw_vec_and_offset().0,
            vec![1, 0, 1, 0]
        );
        assert_eq!(
            x.argmin(0).unwrap().into_raw_vec_and_offset().0,
            vec![0, 1, 0, 1]
        );
        let n = t64(&[1.0, f64::NAN, 9.0, f64::NAN], &[4]);
        assert_eq!(n.argmax(0).unwrap()[[]], 1);
        assert_eq!(n.argmin(0).unwrap()[[]], 1);
        let ties = t64(&[2.0, 2.0, 2.0], &[3]);
        assert_eq!(ties.argmax(0).unwrap()[[]], 0);
        assert_eq!(ties.argmin(0).unwrap()[[]], 0);
        // non-contiguous and 3-D, against a naive loop
        let p = permuted(&[4, 5, 6], 3);
        for axis in 0..3 {
            let got = p.argmax(axis as isize).unwrap();
            let mut shape = p.shape().to_vec();
            shape.remove(axis);
            assert_eq!(got.shape(), &shape[..]);
            for (idx, &g) in got.indexed_iter() {
                let mut full: Vec<usize> = idx.slice().to_vec();
                full.insert(axis, 0);
                let mut best = (0, f64::NEG_INFINITY);
                for k in 0..p.shape()[axis] {
                    full[axis] = k;
                    let v = p.get(&full).unwrap();
                    if v > best.1 {
                        best = (k, v);
                    }
                }
                assert_eq!(g, best.0);
            }
        }
        // large input (parallel path)
        let big = Tensor::<f32>::randn([300, 400], 1);
        let am = big.argmax(1).unwrap();
        let bv = big.to_vec();
        for r in 0..300 {
            let row = &bv[r * 400..(r + 1) * 400];
            let want = (0..400).fold(0, |b, i| if row[i] > row[b] { i } else { b });
            assert_eq!(am[[r]], want);
        }
        let am0 = big.argmin(0).unwrap();
        for c in 0..400 {
            let want = (0..300).fold(0, |b, i| {
                if bv[i * 400 + c] < bv[b * 400 + c] {
                    i
                } else {
                    b
                }
            });
            assert_eq!(am0[[c]], want);
        }
    }

    #[test]
    fn sum_to_shape_cases() {
        let x = Tensor::<f64>::arange(0.0, 24.0, 1.0).unwrap();
        let x = Tensor::from_vec(x.to_vec(), [2, 3, 4]).unwrap();
        assert_eq!(
            x.sum_to_shape(&[4]).unwrap().to_vec(),
            vec![60.0, 66.0, 72.0, 78.0]
        );
        assert_eq!(
            x.sum_to_shape(&[3, 1]).unwrap().to_vec(),
            vec![60.0, 92.0, 124.0]
        );
        assert_eq!(
            x.sum_to_shape(&[2, 1, 1]).unwrap().to_vec(),
            vec![66.0, 210.0]
        );
        assert_eq!(x.sum_to_shape(&[]).unwrap().item().unwrap(), 276.0);
        assert!(x
            .sum_to_shape(&[1, 1, 1, 1])
            .unwrap_err()
            .to_string()
            .contains("sum_to_shape"));
        assert_eq!(x.sum_to_shape(&[2, 3, 4]).unwrap(), x);
        assert!(x.sum_to_shape(&[3]).is_err());
        assert!(x.sum_to_shape(&[2, 1]).is_err());
        let e = Tensor::<f64>::zeros([0, 3]);
        assert_eq!(e.sum_to_shape(&[3]).unwrap().to_vec(), vec![0.0; 3]);
        assert_eq!(e.sum_to_shape(&[1, 3]).unwrap().shape(), &[1, 3]);
        let ones = Tensor::<f64>::ones([1, 1, 5]);
        assert_eq!(ones.sum_to_shape(&[5]).unwrap().to_vec(), vec![1.0; 5]);
        assert_eq!(ones.sum_to_shape(&[1, 5]).unwrap().shape(), &[1, 5]);
    }

    /// Naive un-broadcast: every element of `x` accumulates into the target index with the
    /// leading axes dropped and size-1 target axes collapsed.
    fn naive_sum_to(x: &Tensor<f64>, target: &[usize]) -> Vec<f64> {
        let shape = x.shape();
        let lead = shape.len() - target.len();
        let n: usize = target.iter().product();
        let mut out = vec![0.0; n];
        let st = strides(shape);
        let tst = strides(target);
        for (flat, v) in x.to_vec().into_iter().enumerate() {
            let mut o = 0;
            for (j, &t) in target.iter().enumerate() {
                let i = (flat / st[lead + j]) % shape[lead + j];
                if t != 1 {
                    o += i * tst[j];
                }
            }
            out[o] += v;
        }
        out
    }

    /// A (full shape, target shape, layout) triple where `target` broadcasts to `full`: up to
    /// two extra leading axes, and per target axis a size `t` kept as is, or (when `one`) a 1
    /// in the target against a drawn size `s` in the full shape. Layout 0 is contiguous, 1
    /// reversed axes, 2 strided.
    fn broadcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, u8)> {
        (
            proptest::collection::vec((0usize..6, 1usize..6, proptest::bool::ANY), 0..5),
            proptest::collection::vec(1usize..5, 0..3),
            0u8..3,
        )
            .prop_map(|(dims, lead, layout)| {
                let target: Vec<usize> = dims
                    .iter()
                    .map(|&(t, _, one)| if one { 1 } else { t })
                    .collect();
                let full: Vec<usize> = lead
                    .iter()
                    .copied()
                    .chain(dims.iter().map(|&(t, s, one)| if one { s } else { t }))
                    .collect();
                (full, target, layout)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn sum_to_shape_matches_naive_loop(
            (full, target, layout) in broadcast_pair(),
            seed in 0u64..1000,
        ) {
            let x = match layout {
                _ if full.is_empty() => Tensor::<f64>::randn(&full, seed),
                1 => permuted(&full, seed),
                2 => strided(&full, seed),
                _ => Tensor::<f64>::randn(&full, seed),
            };
            prop_assert!(broadcast_shapes_ok(&target, &full));
            let got = x.sum_to_shape(&target).unwrap();
            prop_assert_eq!(got.shape(), &target[..]);
            let want = naive_sum_to(&x, &target);
            prop_assert!(close(&got.to_vec(), &want, 1e-12), "{:?} -> {:?}", full, target);
        }
    }

    fn broadcast_shapes_ok(a: &[usize], b: &[usize]) -> bool {
        crate::broadcast_shapes("t", a, b)
            .map(|s| s == b)
            .unwrap_or(false)
    }
}
