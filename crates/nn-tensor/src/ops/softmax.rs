//! Fused, numerically stable softmax kernels: [`Tensor::softmax`], [`Tensor::log_softmax`],
//! [`Tensor::logsumexp`], their backward helpers, and the fused softmax cross-entropy
//! ([`Tensor::softmax_cross_entropy`], [`Tensor::softmax_cross_entropy_fwd_bwd`]).
//!
//! # Algorithm
//! The reduced axis is processed as *rows* (the axis moved last, row-major). Each row is read
//! from memory once by an *online normaliser*: the row is cut into blocks of [`BLOCK`]
//! elements; for each block we take its maximum, raise the running maximum `m` (rescaling the
//! running sum `s = Σ exp(x − m)` once per block when `m` grows) and add `exp(x − m)` over
//! the block, which is still in L1. That is exactly one exponential per element. Softmax
//! writes the block's exponentials straight into the output and remembers the block's
//! reference maximum; a last in-cache pass multiplies each block by `exp(m_block − m) / s`.
//! The inner loops are fixed-width lane loops over slices that LLVM vectorises; `f32` uses
//! our own vectorisable [`exp_f32`], `f64` the standard library's `exp`. The running sum is
//! kept in `f64` (lanes of the element type within a block).
//!
//! Rows run in parallel (rayon) when the tensor holds at least
//! [`ROWS_PAR_MIN_ELEMS`](crate::parallel::ROWS_PAR_MIN_ELEMS) elements, in chunks of rows
//! whose size depends only on the row length; every row is computed the same way whatever
//! the chunking, so results are bit-identical for any thread count.
//!
//! Reducing along the last axis of a contiguous tensor works on the data in place; any other
//! axis (or a non-contiguous tensor) is first copied with the axis moved last, and the result
//! is returned as a view with the original axis order (not necessarily contiguous).
//!
//! # Special values
//! * No NaN or infinity for finite inputs whose results are representable (logits of ±1e30
//!   or `f32::MAX` are fine; a log-probability below `−T::MAX` overflows to `−inf`, as IEEE
//!   arithmetic says).
//! * Entries equal to `−inf` (masks) get probability exactly `0` and log-probability `−inf`,
//!   and exactly `0` gradient through [`Tensor::softmax_backward`] and
//!   [`Tensor::logsumexp_backward`].
//! * A row that is entirely `−inf` gives NaN from `softmax` and `log_softmax` (as PyTorch);
//!   its `logsumexp` is `−inf` (the logarithm of an empty sum).
//! * A NaN anywhere in a row makes the whole row NaN. A `+inf` makes the `softmax` /
//!   `log_softmax` / cross-entropy row NaN (∞/∞); `logsumexp` of such a row is `+inf`.

use std::any::TypeId;
use std::borrow::Cow;

use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;

use crate::{normalize_axis, parallel, Float, Result, Tensor, TensorError};

/// Elements per block of the online normaliser (a multiple of the lane count). The block is
/// read from memory once for its maximum and again, from L1, for its exponentials.
pub const BLOCK: usize = 256;

/// Independent accumulators in the lane loops (4 SSE / 2 AVX vectors of `f32`).
const LANES: usize = 16;

// ------------------------------------------------------------------------------ exp

// Shared constants of the f32 exponentials.
const LOG2E: f32 = std::f32::consts::LOG2_E;
// ln 2 = LN2_HI + LN2_LO, LN2_HI = 0.693359375 (the literal rounds to it) with 9
// significant bits, so that n·LN2_HI is exact.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -0.000_212_194_44;
// 1.5·2^23: adding it rounds to an integer held in the low mantissa bits.
const SHIFTER: f32 = 12_582_912.0;
const SHIFTER_BITS: i32 = 0x4B40_0000;
// e^r ≈ 1 + r + r²·(C2 + r·(C3 + r·(C4 + r·(C5 + r·C6)))) on [−ln2/2, ln2/2]: our own
// minimax fit (Remez exchange on the relative error); 3.8e-9 relative error in exact
// arithmetic with these rounded coefficients.
const C2: f32 = 0.499_999_94;
const C3: f32 = 0.166_665_21;
const C4: f32 = 0.041_668_39;
const C5: f32 = 0.008_368_71;
const C6: f32 = 0.001_381_461_3;
/// Clamp of the non-positive kernel: rounds to n = −127, whose scale is +0.0.
const FLUSH_BELOW: f32 = -88.0;

/// Range reduction and polynomial: returns `(t, e^r)` where `t − SHIFTER = n` and
/// `x = n·ln2 + r`.
#[inline(always)]
fn exp_reduce(x: f32) -> (f32, f32) {
    let t = x * LOG2E + SHIFTER;
    let n = t - SHIFTER;
    let r = x - n * LN2_HI;
    let r = r - n * LN2_LO;
    let q = C2 + r * (C3 + r * (C4 + r * (C5 + r * C6)));
    (t, 1.0 + (r + (r * r) * q))
}

/// `e^x` for `f32`, branch-free and auto-vectorisable, about 1 ulp on the normal range.
///
/// Range reduction `x = n·ln2 + r` with `|r| ≤ ln2/2` (two-constant Cody–Waite split, so
/// `n·ln2` is subtracted exactly), a degree-6 minimax polynomial for `e^r` (our own Remez
/// fit, 3.8e-9 relative error before rounding), and scaling by `2^n` through the exponent
/// bits in two steps so that subnormal results are rounded once, correctly.
/// `x ≤ −104` gives exactly `0`, `x > 88.7228` gives `+inf`, `exp(−inf) = 0`,
/// `exp(+inf) = +inf`, `exp(NaN) = NaN`, and `exp(0) = 1` exactly.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // Clamping keeps n in -150..=128; beyond these bounds the result is 0 / +inf anyway.
    // The selects let NaN through (comparisons with NaN are false).
    const HI: f32 = 89.0;
    const LO: f32 = -104.0;
    let x = if x > HI { HI } else { x };
    let x = if x < LO { LO } else { x };
    let (t, p) = exp_reduce(x);
    // n as an integer (garbage, but harmless, for NaN: p is NaN then).
    let ni = (t.to_bits() as i32).wrapping_sub(SHIFTER_BITS);
    let n1 = ni >> 1;
    let n2 = ni.wrapping_sub(n1);
    let s1 = f32::from_bits((n1.wrapping_add(127) << 23) as u32);
    let s2 = f32::from_bits((n2.wrapping_add(127) << 23) as u32);
    (p * s1) * s2
}

/// `e^x` for `x ≤ 0` (or NaN), the softmax kernels' exponential: as [`exp_f32`] but with a
/// single scaling multiply; results below `2^−126` are rounded as subnormals down to
/// `x ≈ −87.68` and flushed to exactly `0` below (including `−inf`). Not valid for `x > 0`.
#[inline(always)]
fn exp_nonpos_f32(x: f32) -> f32 {
    // Clamping (NaN passes through) keeps n ≥ −127; n = −127 gives the scale 2^−127 whose
    // exponent field is 0, i.e. the scale +0.0, so the result is exactly 0.
    let x = if x < FLUSH_BELOW { FLUSH_BELOW } else { x };
    let (t, p) = exp_reduce(x);
    // t's bits are SHIFTER_BITS + n and SHIFTER_BITS << 23 wraps to 0, so this is the bit
    // pattern of 2^n for n in −126..=0, and +0.0 for n = −127 (NaN: p is NaN anyway).
    let s = f32::from_bits((t.to_bits() << 23).wrapping_add(0x3F80_0000));
    p * s
}

#[inline(always)]
fn is_f32<T: Float>() -> bool {
    TypeId::of::<T>() == TypeId::of::<f32>()
}

/// `e^x` in `T` for `x ≤ 0` or NaN (the kernels' arguments `x − max`): [`exp_nonpos_f32`]
/// for `f32` (the conversions fold away), `std` exp otherwise.
#[inline(always)]
fn exp_t<T: Float>(x: T) -> T {
    if is_f32::<T>() {
        T::of(exp_nonpos_f32(x.f64() as f32) as f64)
    } else {
        x.exp()
    }
}

/// `e^x` in `T` for any `x`: [`exp_f32`] for `f32`, `std` exp otherwise.
#[inline(always)]
fn exp_any<T: Float>(x: T) -> T {
    if is_f32::<T>() {
        T::of(exp_f32(x.f64() as f32) as f64)
    } else {
        x.exp()
    }
}

/// Sum of the lanes, as a fixed tree (vectorises; same order every time).
#[inline(always)]
fn lanes_sum<T: Float>(mut a: [T; LANES]) -> T {
    let mut w = LANES / 2;
    while w > 0 {
        let (lo, hi) = a.split_at_mut(w);
        for (l, &h) in lo.iter_mut().zip(hi.iter()) {
            *l += h;
        }
        w /= 2;
    }
    a[0]
}

/// Maximum of the lanes (ignoring NaN), as a fixed tree.
#[inline(always)]
fn lanes_max<T: Float>(mut a: [T; LANES]) -> T {
    let mut w = LANES / 2;
    while w > 0 {
        let (lo, hi) = a.split_at_mut(w);
        for (l, &h) in lo.iter_mut().zip(hi.iter()) {
            *l = max_of(*l, h);
        }
        w /= 2;
    }
    a[0]
}

// ------------------------------------------------------------------------------ row kernels

/// `max(a, b)` ignoring a NaN `b` (maps to a single vector max instruction).
#[inline(always)]
fn max_of<T: Float>(a: T, b: T) -> T {
    if b > a {
        b
    } else {
        a
    }
}

#[inline(always)]
fn has_nan<T: Float>(x: &[T]) -> bool {
    x.iter().any(|v| v.is_nan())
}

/// The maximum of `x` ignoring NaNs (`−inf` when empty).
#[inline(always)]
fn block_max<T: Float>(x: &[T]) -> T {
    let mut lanes = [T::neg_infinity(); LANES];
    let mut it = x.chunks_exact(LANES);
    for c in &mut it {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l = max_of(*l, v);
        }
    }
    it.remainder()
        .iter()
        .fold(lanes_max(lanes), |m, &v| max_of(m, v))
}

/// `Σ exp(x − m)` over a block (`m ≥` every element).
#[inline(always)]
fn exp_sum<T: Float>(x: &[T], m: T) -> f64 {
    let mut acc = [T::zero(); LANES];
    let mut it = x.chunks_exact(LANES);
    for c in &mut it {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += exp_t(v - m);
        }
    }
    let tail = it
        .remainder()
        .iter()
        .fold(T::zero(), |s, &v| s + exp_t(v - m));
    (lanes_sum(acc) + tail).f64()
}

/// Writes `exp(x − m)` into `out` (`m ≥` every element) and returns its sum.
#[inline(always)]
fn exp_store_sum<T: Float>(x: &[T], m: T, out: &mut [T]) -> f64 {
    let mut acc = [T::zero(); LANES];
    let mut xi = x.chunks_exact(LANES);
    let mut oi = out.chunks_exact_mut(LANES);
    for (c, o) in (&mut xi).zip(&mut oi) {
        for ((a, d), &v) in acc.iter_mut().zip(o.iter_mut()).zip(c) {
            let e = exp_t(v - m);
            *d = e;
            *a += e;
        }
    }
    let mut tail = T::zero();
    for (d, &v) in oi.into_remainder().iter_mut().zip(xi.remainder()) {
        let e = exp_t(v - m);
        *d = e;
        tail += e;
    }
    (lanes_sum(acc) + tail).f64()
}

/// `Σ a·b` (lanes in `T` within blocks, blocks combined in `f64`).
fn dot<T: Float>(a: &[T], b: &[T]) -> f64 {
    let mut s = 0.0f64;
    for (ab, bb) in a.chunks(BLOCK).zip(b.chunks(BLOCK)) {
        let mut acc = [T::zero(); LANES];
        let mut ai = ab.chunks_exact(LANES);
        let mut bi = bb.chunks_exact(LANES);
        for (ca, cb) in (&mut ai).zip(&mut bi) {
            for ((l, &x), &y) in acc.iter_mut().zip(ca).zip(cb) {
                *l += x * y;
            }
        }
        let tail = ai
            .remainder()
            .iter()
            .zip(bi.remainder())
            .fold(T::zero(), |t, (&x, &y)| t + x * y);
        s += (lanes_sum(acc) + tail).f64();
    }
    s
}

/// `Σ a` (lanes in `T` within blocks, blocks combined in `f64`).
fn sum<T: Float>(a: &[T]) -> f64 {
    let mut s = 0.0f64;
    for ab in a.chunks(BLOCK) {
        let mut acc = [T::zero(); LANES];
        let mut ai = ab.chunks_exact(LANES);
        for ca in &mut ai {
            for (l, &x) in acc.iter_mut().zip(ca) {
                *l += x;
            }
        }
        let tail = ai.remainder().iter().fold(T::zero(), |t, &x| t + x);
        s += (lanes_sum(acc) + tail).f64();
    }
    s
}

/// Raises the running maximum `m` to cover a block whose maximum is `mb`, rescaling the
/// running sum `s` (kept relative to `m`).
#[inline(always)]
fn raise<T: Float>(m: T, s: f64, mb: T) -> (T, f64) {
    if mb > m {
        // m = −inf gives exp(−inf) = 0 and s stays 0 (or NaN).
        (mb, s * (m.f64() - mb.f64()).exp())
    } else {
        (m, s)
    }
}

/// The online normaliser of one row: its maximum `m` (ignoring NaN) and `Σ exp(x − m)` in
/// `f64` (NaN if the row holds a NaN or `+inf`; `0` if it is empty or all `−inf`).
fn row_stats<T: Float>(x: &[T]) -> (T, f64) {
    let (mut m, mut s) = (T::neg_infinity(), 0.0f64);
    for xb in x.chunks(BLOCK) {
        (m, s) = raise(m, s, block_max(xb));
        if m == T::neg_infinity() {
            // Everything so far is −inf (contributes 0) or NaN.
            if has_nan(xb) {
                s = f64::NAN;
            }
            continue;
        }
        s += exp_sum(xb, m);
    }
    (m, s)
}

/// [`row_stats`] that also writes `exp(x − m_b)` into `out` and the reference maximum `m_b`
/// of every block `b` into `refs` (`refs.len() ≥ ⌈x.len() / BLOCK⌉`).
fn row_stats_store<T: Float>(x: &[T], out: &mut [T], refs: &mut [T]) -> (T, f64) {
    let (mut m, mut s) = (T::neg_infinity(), 0.0f64);
    for ((xb, ob), rb) in x
        .chunks(BLOCK)
        .zip(out.chunks_mut(BLOCK))
        .zip(refs.iter_mut())
    {
        (m, s) = raise(m, s, block_max(xb));
        *rb = m;
        if m == T::neg_infinity() {
            if has_nan(xb) {
                s = f64::NAN;
            }
            ob.fill(T::zero());
            continue;
        }
        s += exp_store_sum(xb, m, ob);
    }
    (m, s)
}

/// The factor that turns a block's stored `exp(x − m_b)` into `scale · exp(x − m) / s`.
#[inline(always)]
fn block_factor<T: Float>(m_b: T, m: T, scale_over_s: f64) -> f64 {
    if m_b == m {
        // Also the all −inf row: 0 · (1/0) = NaN, as documented.
        scale_over_s
    } else {
        (m_b.f64() - m.f64()).exp() * scale_over_s
    }
}

/// `out = scale · softmax(x)` for one row; `refs` is scratch of `⌈len / BLOCK⌉` elements.
fn softmax_row<T: Float>(x: &[T], out: &mut [T], refs: &mut [T], scale: f64) {
    let (m, s) = row_stats_store(x, out, refs);
    let scale_over_s = scale / s;
    for (ob, &m_b) in out.chunks_mut(BLOCK).zip(refs.iter()) {
        let f = T::of(block_factor(m_b, m, scale_over_s));
        for o in ob.iter_mut() {
            *o *= f;
        }
    }
}

/// `logsumexp` of one row from its online statistics.
fn row_logsumexp<T: Float>(x: &[T], m: T, s: f64) -> T {
    if m == T::infinity() {
        if has_nan(x) {
            T::nan()
        } else {
            T::infinity()
        }
    } else {
        // m = −inf, s = 0 (all −inf or empty) gives −inf.
        T::of(m.f64() + s.ln())
    }
}

// ------------------------------------------------------------------------------ layout

/// A tensor seen as rows along one axis: the axis moved last, data row-major (borrowed when
/// the tensor is already so laid out).
struct Rows<'a, T: Float> {
    data: Cow<'a, [T]>,
    /// The shape with the axis moved last.
    moved: Vec<usize>,
    axis: usize,
    rank: usize,
    /// Row length (the axis' size).
    len: usize,
    /// Number of rows.
    count: usize,
}

impl<'a, T: Float> Rows<'a, T> {
    fn new(x: &'a Tensor<T>, axis: usize) -> Self {
        let shape = x.shape();
        let rank = shape.len();
        let len = shape[axis];
        let mut moved: Vec<usize> = shape
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != axis)
            .map(|(_, &d)| d)
            .collect();
        let count = moved.iter().product();
        moved.push(len);
        let data = if axis + 1 == rank {
            match x.as_slice() {
                Some(s) => Cow::Borrowed(s),
                None => Cow::Owned(x.to_vec()),
            }
        } else {
            let perm: Vec<usize> = (0..rank).filter(|&i| i != axis).chain([axis]).collect();
            Cow::Owned(x.view().permuted_axes(perm).iter().copied().collect())
        };
        Rows {
            data,
            moved,
            axis,
            rank,
            len,
            count,
        }
    }

    /// The shape with the axis removed (or kept with size 1).
    fn reduced_shape(&self, keepdims: bool) -> Vec<usize> {
        let mut s = self.moved[..self.rank - 1].to_vec();
        if keepdims {
            s.insert(self.axis, 1);
        }
        s
    }

    /// Wraps row-major data of the moved shape as a tensor with the original axis order.
    fn restore(&self, op: &'static str, data: Vec<T>) -> Result<Tensor<T>> {
        let a = ArrayD::from_shape_vec(IxDyn(&self.moved), data)
            .map_err(|e| TensorError::invalid(op, e.to_string()))?;
        if self.axis + 1 == self.rank {
            return Ok(Tensor::from_array(a));
        }
        let axis = self.axis;
        let back: Vec<usize> = (0..self.rank)
            .map(|i| match i.cmp(&axis) {
                std::cmp::Ordering::Less => i,
                std::cmp::Ordering::Equal => self.rank - 1,
                std::cmp::Ordering::Greater => i - 1,
            })
            .collect();
        Ok(Tensor::from_array(a.permuted_axes(back)))
    }
}

/// Runs `f(first_row, rows, a_chunk, b_chunk)` over consecutive chunks of `rows` rows of
/// length `len`, where `a` holds `wa` and `b` holds `wb` output elements per row. Chunks hold
/// `⌈ROWS_PAR_MIN_ELEMS / len⌉` rows (independent of the thread count) and run in parallel
/// when there are at least `ROWS_PAR_MIN_ELEMS` input elements.
fn for_row_chunks<T, F>(
    rows: usize,
    len: usize,
    a: &mut [T],
    wa: usize,
    b: &mut [T],
    wb: usize,
    f: F,
) where
    T: Float,
    F: Fn(usize, usize, &mut [T], &mut [T]) + Sync + Send,
{
    let chunk = parallel::ROWS_PAR_MIN_ELEMS.div_ceil(len.max(1)).max(1);
    let mut tasks = Vec::with_capacity(rows.div_ceil(chunk));
    let (mut ra, mut rb) = (a, b);
    let mut r0 = 0;
    while r0 < rows {
        let n = chunk.min(rows - r0);
        let (ha, ta) = std::mem::take(&mut ra).split_at_mut(n * wa);
        let (hb, tb) = std::mem::take(&mut rb).split_at_mut(n * wb);
        tasks.push((r0, n, ha, hb));
        ra = ta;
        rb = tb;
        r0 += n;
    }
    if rows * len >= parallel::ROWS_PAR_MIN_ELEMS && tasks.len() > 1 {
        tasks
            .into_par_iter()
            .for_each(|(r0, n, a, b)| f(r0, n, a, b));
    } else {
        for (r0, n, a, b) in tasks {
            f(r0, n, a, b);
        }
    }
}

fn check_same_shape<T: Float>(op: &'static str, a: &Tensor<T>, b: &Tensor<T>) -> Result<()> {
    if a.shape() != b.shape() {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: a.shape().to_vec(),
            rhs: b.shape().to_vec(),
        });
    }
    Ok(())
}

/// Validates `[N, C]` logits against `labels`; returns `(N, C)`.
fn check_ce<T: Float>(op: &'static str, x: &Tensor<T>, labels: &[usize]) -> Result<(usize, usize)> {
    if x.ndim() != 2 {
        return Err(TensorError::RankMismatch {
            op,
            expected: "2 ([N, C] logits)".to_string(),
            shape: x.shape().to_vec(),
        });
    }
    let (n, c) = (x.shape()[0], x.shape()[1]);
    if labels.len() != n {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: x.shape().to_vec(),
            rhs: vec![labels.len()],
        });
    }
    if let Some(&bad) = labels.iter().find(|&&l| l >= c) {
        return Err(TensorError::IndexOutOfRange {
            op,
            index: i64::try_from(bad).unwrap_or(i64::MAX),
            len: c,
        });
    }
    Ok((n, c))
}

// ------------------------------------------------------------------------------ public API

impl<T: Float> Tensor<T> {
    /// Softmax along `axis` (negative counts from the end): `exp(x − max) / Σ exp(x − max)`.
    ///
    /// One pass over each row with one exponential per element (see the
    /// [module docs](crate::ops::softmax)). `−inf` entries get exactly `0`; an all `−inf` row,
    /// or a row holding NaN or `+inf`, gives NaN. Errors: `InvalidAxis`.
    ///
    /// ```
    /// use nn_tensor::Tensor;
    /// let x = Tensor::<f32>::from_f64s(&[1.0, 2.0, f64::NEG_INFINITY], [3])?;
    /// let p = x.softmax(-1)?.to_vec();
    /// assert!((p[0] + p[1] - 1.0).abs() < 1e-6 && p[2] == 0.0);
    /// # Ok::<(), nn_tensor::TensorError>(())
    /// ```
    pub fn softmax(&self, axis: isize) -> Result<Tensor<T>> {
        const OP: &str = "softmax";
        let ax = normalize_axis(OP, axis, self.shape())?;
        let rows = Rows::new(self, ax);
        let (c, x) = (rows.len, &*rows.data);
        let mut out = crate::buffer::for_overwrite(rows.count * c);
        for_row_chunks(rows.count, c, &mut out, c, &mut [], 0, |r0, n, o, _| {
            let mut refs = crate::buffer::zeroed(c.div_ceil(BLOCK));
            for i in 0..n {
                let r = r0 + i;
                softmax_row(
                    &x[r * c..(r + 1) * c],
                    &mut o[i * c..(i + 1) * c],
                    &mut refs,
                    1.0,
                );
            }
        });
        rows.restore(OP, out)
    }

    /// Log-softmax along `axis`: `(x − max) − ln Σ exp(x − max)`, one exponential per
    /// element. `−inf` entries give `−inf`; an all `−inf` row, or a row holding NaN or
    /// `+inf`, gives NaN. Errors: `InvalidAxis`.
    pub fn log_softmax(&self, axis: isize) -> Result<Tensor<T>> {
        const OP: &str = "log_softmax";
        let ax = normalize_axis(OP, axis, self.shape())?;
        let rows = Rows::new(self, ax);
        let (c, x) = (rows.len, &*rows.data);
        let mut out = crate::buffer::for_overwrite(rows.count * c);
        for_row_chunks(rows.count, c, &mut out, c, &mut [], 0, |r0, n, o, _| {
            for i in 0..n {
                let r = r0 + i;
                let xr = &x[r * c..(r + 1) * c];
                let (m, s) = row_stats(xr);
                let ls = T::of(s.ln());
                for (d, &v) in o[i * c..(i + 1) * c].iter_mut().zip(xr) {
                    *d = (v - m) - ls;
                }
            }
        });
        rows.restore(OP, out)
    }

    /// `ln Σ exp(x)` along `axis`, computed stably; `keepdims` keeps the axis with size 1.
    ///
    /// An all `−inf` (or empty) row gives `−inf`; a row with `+inf` (and no NaN) gives `+inf`;
    /// a NaN gives NaN. Errors: `InvalidAxis`.
    pub fn logsumexp(&self, axis: isize, keepdims: bool) -> Result<Tensor<T>> {
        const OP: &str = "logsumexp";
        let ax = normalize_axis(OP, axis, self.shape())?;
        let rows = Rows::new(self, ax);
        let (c, x) = (rows.len, &*rows.data);
        let mut out = crate::buffer::zeroed(rows.count);
        for_row_chunks(rows.count, c, &mut out, 1, &mut [], 0, |r0, n, o, _| {
            for (i, d) in o.iter_mut().enumerate().take(n) {
                let r = r0 + i;
                let xr = &x[r * c..(r + 1) * c];
                let (m, s) = row_stats(xr);
                *d = row_logsumexp(xr, m, s);
            }
        });
        Tensor::from_vec(out, rows.reduced_shape(keepdims))
    }

    /// Gradient of [`Tensor::softmax`]: given the output `y` and the upstream gradient `dy`
    /// (same shape), returns `y ⊙ (dy − Σ_axis(dy ⊙ y))`.
    ///
    /// Entries where `y` is `0` (masked `−inf` logits) get exactly zero (`±0`) for finite `dy`.
    /// Errors: `ShapeMismatch` if the shapes differ, `InvalidAxis`.
    pub fn softmax_backward(y: &Tensor<T>, dy: &Tensor<T>, axis: isize) -> Result<Tensor<T>> {
        const OP: &str = "softmax_backward";
        check_same_shape(OP, y, dy)?;
        let ax = normalize_axis(OP, axis, y.shape())?;
        let (ry, rd) = (Rows::new(y, ax), Rows::new(dy, ax));
        let (c, yd, dd) = (ry.len, &*ry.data, &*rd.data);
        let mut out = crate::buffer::zeroed(ry.count * c);
        for_row_chunks(ry.count, c, &mut out, c, &mut [], 0, |r0, n, o, _| {
            for i in 0..n {
                let r = r0 + i;
                let (yr, dr) = (&yd[r * c..(r + 1) * c], &dd[r * c..(r + 1) * c]);
                let t = T::of(dot(yr, dr));
                for ((d, &yv), &dv) in o[i * c..(i + 1) * c].iter_mut().zip(yr).zip(dr) {
                    *d = yv * (dv - t);
                }
            }
        });
        ry.restore(OP, out)
    }

    /// Gradient of [`Tensor::log_softmax`]: given the output `logp` and the upstream gradient
    /// `dy` (same shape), returns `dy − exp(logp) · Σ_axis dy`.
    ///
    /// Entries where `logp = −inf` (masked) get `dy` itself, which is the exact derivative
    /// (so `0` when, as usual, nothing flows into a masked log-probability) and never NaN for
    /// finite `dy`. Errors: `ShapeMismatch` if the shapes differ, `InvalidAxis`.
    pub fn log_softmax_backward(
        logp: &Tensor<T>,
        dy: &Tensor<T>,
        axis: isize,
    ) -> Result<Tensor<T>> {
        const OP: &str = "log_softmax_backward";
        check_same_shape(OP, logp, dy)?;
        let ax = normalize_axis(OP, axis, logp.shape())?;
        let (rl, rd) = (Rows::new(logp, ax), Rows::new(dy, ax));
        let (c, ld, dd) = (rl.len, &*rl.data, &*rd.data);
        let mut out = crate::buffer::zeroed(rl.count * c);
        for_row_chunks(rl.count, c, &mut out, c, &mut [], 0, |r0, n, o, _| {
            for i in 0..n {
                let r = r0 + i;
                let (lr, dr) = (&ld[r * c..(r + 1) * c], &dd[r * c..(r + 1) * c]);
                let t = T::of(sum(dr));
                for ((d, &lv), &dv) in o[i * c..(i + 1) * c].iter_mut().zip(lr).zip(dr) {
                    *d = dv - exp_any(lv) * t;
                }
            }
        });
        rl.restore(OP, out)
    }

    /// Gradient of [`Tensor::logsumexp`]: given the input `x` and the upstream gradient `dy`
    /// (the reduced shape, with or without the kept axis), returns `softmax(x) ⊙ dy`
    /// broadcast along `axis`, fused in one pass. Masked (`−inf`) entries get exactly `0`.
    /// Errors: `ShapeMismatch` if `dy` has neither reduced shape, `InvalidAxis`.
    pub fn logsumexp_backward(x: &Tensor<T>, dy: &Tensor<T>, axis: isize) -> Result<Tensor<T>> {
        const OP: &str = "logsumexp_backward";
        let ax = normalize_axis(OP, axis, x.shape())?;
        let rows = Rows::new(x, ax);
        if dy.shape() != rows.reduced_shape(true) && dy.shape() != rows.reduced_shape(false) {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: x.shape().to_vec(),
                rhs: dy.shape().to_vec(),
            });
        }
        // Both reduced shapes list the rows in row-major order.
        let dyv: Cow<'_, [T]> = match dy.as_slice() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(dy.to_vec()),
        };
        let (c, xd, g) = (rows.len, &*rows.data, &*dyv);
        let mut out = crate::buffer::zeroed(rows.count * c);
        for_row_chunks(rows.count, c, &mut out, c, &mut [], 0, |r0, n, o, _| {
            let mut refs = crate::buffer::zeroed(c.div_ceil(BLOCK));
            for i in 0..n {
                let r = r0 + i;
                let (xr, orow) = (&xd[r * c..(r + 1) * c], &mut o[i * c..(i + 1) * c]);
                softmax_row(xr, orow, &mut refs, g[r].f64());
            }
        });
        rows.restore(OP, out)
    }

    /// Softmax cross-entropy of `[N, C]` logits against integer class `labels` (length `N`):
    /// the per-row losses `[N]`, `loss_i = logsumexp(x_i) − x_i[label_i]`.
    ///
    /// Forward only, one pass per row and no `[N, C]` buffer (when the logits are
    /// contiguous). Errors: `RankMismatch` unless rank 2, `ShapeMismatch` if
    /// `labels.len() != N`, `IndexOutOfRange` for a label `≥ C`.
    ///
    /// ```
    /// use nn_tensor::Tensor;
    /// let x = Tensor::<f32>::from_f64s(&[1e4, -1e4], [1, 2])?;
    /// assert_eq!(x.softmax_cross_entropy(&[1])?.to_vec(), vec![2e4]);
    /// # Ok::<(), nn_tensor::TensorError>(())
    /// ```
    pub fn softmax_cross_entropy(&self, labels: &[usize]) -> Result<Tensor<T>> {
        const OP: &str = "softmax_cross_entropy";
        let (n, c) = check_ce(OP, self, labels)?;
        let rows = Rows::new(self, 1);
        let x = &*rows.data;
        let mut losses = crate::buffer::zeroed(n);
        for_row_chunks(n, c, &mut losses, 1, &mut [], 0, |r0, k, l, _| {
            for (i, d) in l.iter_mut().enumerate().take(k) {
                let r = r0 + i;
                let xr = &x[r * c..(r + 1) * c];
                let (m, s) = row_stats(xr);
                *d = T::of((m.f64() - xr[labels[r]].f64()) + s.ln());
            }
        });
        Tensor::from_vec(losses, [n])
    }

    /// Fused softmax cross-entropy forward and backward over `[N, C]` logits: returns the
    /// per-row losses `[N]` (bit-identical to [`Tensor::softmax_cross_entropy`]) and the
    /// gradient `grad_scale · (softmax(x) − onehot(labels))` `[N, C]` (e.g. `grad_scale =
    /// 1/N` for a mean loss).
    ///
    /// One pass per row; the gradient is the only `[N, C]` buffer allocated (the row's
    /// exponentials are written into it and scaled while in cache). Errors as
    /// [`Tensor::softmax_cross_entropy`].
    pub fn softmax_cross_entropy_fwd_bwd(
        &self,
        labels: &[usize],
        grad_scale: T,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let (n, c) = check_ce("softmax_cross_entropy_fwd_bwd", self, labels)?;
        let mut losses = crate::buffer::zeroed(n);
        let mut grad = crate::buffer::for_overwrite(n * c);
        self.softmax_cross_entropy_fwd_bwd_into(labels, grad_scale, &mut losses, &mut grad)?;
        Ok((
            Tensor::from_vec(losses, [n])?,
            Tensor::from_vec(grad, [n, c])?,
        ))
    }

    /// [`softmax_cross_entropy_fwd_bwd`](Self::softmax_cross_entropy_fwd_bwd) into buffers
    /// the caller owns: `losses` (`N` values) and `grad` (`N·C` values, row-major), so a
    /// training loop reuses one gradient buffer across steps instead of faulting in fresh
    /// pages every call. Every element of both buffers is overwritten.
    pub fn softmax_cross_entropy_fwd_bwd_into(
        &self,
        labels: &[usize],
        grad_scale: T,
        losses: &mut [T],
        grad: &mut [T],
    ) -> Result<()> {
        const OP: &str = "softmax_cross_entropy_fwd_bwd_into";
        let (n, c) = check_ce(OP, self, labels)?;
        if losses.len() != n || grad.len() != n * c {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: vec![n, c],
                rhs: vec![losses.len(), grad.len()],
            });
        }
        let rows = Rows::new(self, 1);
        let x = &*rows.data;
        let scale = grad_scale.f64();
        for_row_chunks(n, c, losses, 1, grad, c, |r0, k, l, g| {
            let mut refs = crate::buffer::zeroed(c.div_ceil(BLOCK));
            for (i, d) in l.iter_mut().enumerate().take(k) {
                let r = r0 + i;
                let (xr, gr) = (&x[r * c..(r + 1) * c], &mut g[i * c..(i + 1) * c]);
                let (m, s) = row_stats_store(xr, gr, &mut refs);
                let label = labels[r];
                *d = T::of((m.f64() - xr[label].f64()) + s.ln());
                let e_label = gr[label].f64();
                let scale_over_s = scale / s;
                for (gb, &m_b) in gr.chunks_mut(BLOCK).zip(refs.iter()) {
                    let f = T::of(block_factor(m_b, m, scale_over_s));
                    for v in gb.iter_mut() {
                        *v *= f;
                    }
                }
                // (p − 1)·scale computed from p in f64, avoiding p·scale − scale.
                let p = e_label * block_factor(refs[label / BLOCK], m, 1.0 / s);
                gr[label] = T::of((p - 1.0) * scale);
            }
        });
        Ok(())
    }
}

// ------------------------------------------------------------------------------ tests

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Rng;

    const NEG_INF: f64 = f64::NEG_INFINITY;

    fn ref_softmax(row: &[f64]) -> Vec<f64> {
        let m = row.iter().cloned().fold(NEG_INF, f64::max);
        let e: Vec<f64> = row.iter().map(|&v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|&v| v / s).collect()
    }

    fn ref_lse(row: &[f64]) -> f64 {
        let m = row.iter().cloned().fold(NEG_INF, f64::max);
        if m == NEG_INF {
            return NEG_INF;
        }
        m + row.iter().map(|&v| (v - m).exp()).sum::<f64>().ln()
    }

    /// Rows of a rank-2 f64 data vector.
    fn rows_of(v: &[f64], c: usize) -> Vec<Vec<f64>> {
        v.chunks(c).map(|r| r.to_vec()).collect()
    }

    fn check_softmax_f32(x: &Tensor<f32>) {
        let c = *x.shape().last().unwrap();
        let p = x.softmax(-1).unwrap();
        assert_eq!(p.shape(), x.shape());
        let pv = p.to_f64_vec();
        for (xr, pr) in rows_of(&x.to_f64_vec(), c).iter().zip(pv.chunks(c)) {
            let want = ref_softmax(xr);
            let m = xr.iter().cloned().fold(NEG_INF, f64::max);
            for ((&got, &w), &xv) in pr.iter().zip(&want).zip(xr) {
                // x − m is rounded in f32: relative error up to eps·|x − m|.
                let tol = 1e-6 * w * (1.0 + (xv - m).abs()) + 1e-37;
                assert!(
                    (got - w).abs() <= tol,
                    "softmax {got} vs {w} (x {xv}, m {m}, c {c})"
                );
            }
            let total: f64 = pr.iter().sum();
            assert!((total - 1.0).abs() <= 1e-6, "Σ softmax = {total} (c {c})");
        }
    }

    #[test]
    fn exp_f32_accuracy_sweep() {
        let (lo, hi, n) = (-87.0f64, 88.0f64, 2_000_000);
        let mut worst = 0.0f64;
        for i in 0..=n {
            let x = (lo + (hi - lo) * i as f64 / n as f64) as f32;
            let got = exp_f32(x) as f64;
            let want = (x as f64).exp();
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst <= 1e-6, "max relative error {worst}");
        // Tighter: about 1 ulp.
        assert!(worst <= 2.5e-7, "max relative error {worst}");
    }

    #[test]
    fn exp_f32_special_values() {
        assert_eq!(LN2_HI as f64, 0.693359375);
        assert!((LN2_HI as f64 + LN2_LO as f64 - std::f64::consts::LN_2).abs() < 1e-11);
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-0.0), 1.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(-104.0), 0.0);
        assert_eq!(exp_f32(-1e30), 0.0);
        assert_eq!(exp_f32(f32::MIN), 0.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(88.8), f32::INFINITY);
        assert_eq!(exp_f32(f32::MAX), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
        assert!(exp_f32(-f32::NAN).is_nan());
        assert!(exp_f32(88.7).is_finite());
        for x in [1.0f32, -1.0, 10.0, -10.0, 1e-8, -1e-8, 88.72] {
            let r = (exp_f32(x) as f64 - (x as f64).exp()) / (x as f64).exp();
            assert!(r.abs() < 2.5e-7, "exp({x}) rel err {r}");
        }
        // Subnormal results: within one subnormal step of the correctly rounded value.
        for i in 0..=400 {
            let x = -87.0 - 16.0 * i as f32 / 400.0;
            let want = (x as f64).exp();
            let got = exp_f32(x) as f64;
            assert!(
                (got - want).abs() <= 1.5e-45 + 3e-7 * want,
                "exp({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn exp_nonpos_f32_accuracy_and_flush() {
        let n = 1_000_000;
        let mut worst = 0.0f64;
        for i in 0..=n {
            let x = (-87.3 * i as f64 / n as f64) as f32;
            let (got, want) = (exp_nonpos_f32(x) as f64, (x as f64).exp());
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst <= 2.5e-7, "max relative error {worst}");
        assert_eq!(exp_nonpos_f32(0.0), 1.0);
        assert_eq!(exp_nonpos_f32(-0.0), 1.0);
        for x in [
            f32::NEG_INFINITY,
            f32::MIN,
            -1e30,
            -1e4,
            -104.0,
            -88.0,
            -87.7,
        ] {
            assert_eq!(exp_nonpos_f32(x).to_bits(), 0, "exp({x})");
        }
        assert!(exp_nonpos_f32(f32::NAN).is_nan());
        assert!(exp_nonpos_f32(-f32::NAN).is_nan());
        // Subnormal results between −87.67 and −87.34 are rounded, not garbage.
        for i in 0..=100 {
            let x = -87.34 - 0.33 * i as f32 / 100.0;
            let (got, want) = (exp_nonpos_f32(x) as f64, (x as f64).exp());
            assert!(
                (got - want).abs() <= 1.5e-45 + 3e-7 * want,
                "exp({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn softmax_matches_f64_reference_odd_sizes() {
        for (k, &c) in [1usize, 2, 7, 15, 16, 17, 63, 64, 65, 255, 256, 257, 1000]
            .iter()
            .enumerate()
        {
            let x = Tensor::<f32>::rand_normal([3, c], 0.0, 3.0, k as u64);
            check_softmax_f32(&x);
        }
    }

    #[test]
    fn softmax_long_rows_sum_to_one() {
        for (k, scale) in [0.1, 3.0, 30.0].iter().enumerate() {
            let x = Tensor::<f32>::rand_normal([2, 40_000], 0.0, *scale, 200 + k as u64);
            check_softmax_f32(&x);
        }
        // An increasing row makes the running maximum grow in every block.
        let up = Tensor::<f32>::linspace(-50.0, 50.0, 5000).to_vec();
        check_softmax_f32(&Tensor::from_vec(up, [1, 5000]).unwrap());
    }

    #[test]
    fn softmax_large_logit_scales() {
        for (k, scale) in [1.0, 10.0, 1e2, 1e4, 1e10, 1e30].iter().enumerate() {
            for c in [7usize, 65, 600] {
                let x = Tensor::<f32>::rand_normal([2, c], 0.0, *scale, 10 + k as u64);
                check_softmax_f32(&x);
                let p = x.softmax(-1).unwrap();
                assert!(p.to_vec().iter().all(|v| v.is_finite()));
                let lp = x.log_softmax(-1).unwrap();
                assert!(lp.to_vec().iter().all(|v| v.is_finite()));
                let l = x.logsumexp(-1, false).unwrap();
                assert!(l.to_vec().iter().all(|v| v.is_finite()));
            }
        }
        let x = Tensor::<f32>::from_vec(
            vec![
                f32::MAX,
                0.0,
                -1e30,
                f32::MAX,
                1e4,
                -1e4,
                f32::MAX * 0.5,
                1.0,
            ],
            [8],
        )
        .unwrap();
        let p = x.softmax(0).unwrap().to_vec();
        assert_eq!(p, vec![0.5, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]);
        let lp = x.log_softmax(0).unwrap().to_vec();
        assert!(lp.iter().all(|v| v.is_finite()), "{lp:?}");
        assert!((lp[0] + std::f32::consts::LN_2).abs() < 1e-6);
        let l = x.logsumexp(0, false).unwrap().item().unwrap();
        assert_eq!(l, f32::MAX);
        let y = Tensor::<f32>::from_vec(vec![1e4, -1e4, 1e4], [3]).unwrap();
        assert_eq!(y.softmax(0).unwrap().to_vec(), vec![0.5, 0.0, 0.5]);
    }

    #[test]
    fn softmax_f64_matches_reference() {
        for &c in &[1usize, 7, 64, 65, 257, 700] {
            let x = Tensor::<f64>::rand_normal([2, c], 0.0, 5.0, c as u64);
            let p = x.softmax(1).unwrap().to_vec();
            for (xr, pr) in rows_of(&x.to_vec(), c).iter().zip(p.chunks(c)) {
                let want = ref_softmax(xr);
                for (&g, &w) in pr.iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-14 * w + 1e-300, "{g} vs {w}");
                }
                assert!((pr.iter().sum::<f64>() - 1.0).abs() < 1e-13);
            }
        }
    }

    #[test]
    fn softmax_non_last_axes_and_ranks() {
        let x = Tensor::<f64>::rand_normal([3, 5, 4], 0.0, 2.0, 7);
        let xv = x.to_vec();
        let idx = |i: usize, j: usize, k: usize| (i * 5 + j) * 4 + k;
        for axis in [0isize, 1, 2, -1, -2, -3] {
            let a = normalize_axis("t", axis, x.shape()).unwrap();
            let p = x.softmax(axis).unwrap();
            let lp = x.log_softmax(axis).unwrap();
            let l = x.logsumexp(axis, true).unwrap();
            assert_eq!(p.shape(), &[3, 5, 4]);
            let mut ks = [3, 5, 4];
            ks[a] = 1;
            assert_eq!(l.shape(), &ks[..]);
            assert_eq!(x.logsumexp(axis, false).unwrap().len(), 60 / [3, 5, 4][a]);
            for i in 0..3 {
                for j in 0..5 {
                    for k in 0..4 {
                        let mut pos = [i, j, k];
                        if pos[a] != 0 {
                            continue;
                        }
                        let n = [3, 5, 4][a];
                        let line: Vec<usize> = (0..n)
                            .map(|t| {
                                pos[a] = t;
                                idx(pos[0], pos[1], pos[2])
                            })
                            .collect();
                        let row: Vec<f64> = line.iter().map(|&q| xv[q]).collect();
                        let want = ref_softmax(&row);
                        let lse = ref_lse(&row);
                        for (t, &q) in line.iter().enumerate() {
                            let at = [q / 20, (q / 4) % 5, q % 4];
                            assert!((p.get(at).unwrap() - want[t]).abs() < 1e-14);
                            assert!((lp.get(at).unwrap() - (row[t] - lse)).abs() < 1e-13);
                        }
                        let mut lat = [i, j, k];
                        lat[a] = 0;
                        assert!((l.get(lat).unwrap() - lse).abs() < 1e-13);
                    }
                }
            }
        }
        // Rank 1.
        let v = Tensor::<f64>::from_f64s(&[1.0, 2.0, 3.0], [3]).unwrap();
        let want = ref_softmax(&[1.0, 2.0, 3.0]);
        assert!(v
            .softmax(0)
            .unwrap()
            .to_vec()
            .iter()
            .zip(&want)
            .all(|(a, b)| (a - b).abs() < 1e-15));
        assert!(
            (v.logsumexp(0, false).unwrap().item().unwrap() - ref_lse(&[1.0, 2.0, 3.0])).abs()
                < 1e-15
        );
        assert_eq!(v.logsumexp(-1, true).unwrap().shape(), &[1]);
        // Bad axes.
        assert!(matches!(
            v.softmax(1),
            Err(TensorError::InvalidAxis { op: "softmax", .. })
        ));
        assert!(v.log_softmax(-2).is_err());
        assert!(v.logsumexp(3, false).is_err());
        assert!(Tensor::<f32>::scalar(1.0).softmax(0).is_err());
    }

    #[test]
    fn softmax_non_contiguous_input() {
        let x = Tensor::<f32>::rand_normal([6, 9], 0.0, 3.0, 3);
        let xt = Tensor::from_shared(x.array().clone().reversed_axes()); // [9, 6], transposed
        assert!(!xt.is_contiguous());
        let want = xt.contiguous();
        assert_eq!(xt.softmax(-1).unwrap(), want.softmax(-1).unwrap());
        assert_eq!(xt.softmax(0).unwrap(), want.softmax(0).unwrap());
        assert_eq!(xt.log_softmax(1).unwrap(), want.log_softmax(1).unwrap());
        assert_eq!(
            xt.logsumexp(1, false).unwrap(),
            want.logsumexp(1, false).unwrap()
        );
        // softmax along axis 0 of x equals the transpose of softmax along the last axis of xᵀ.
        let a = x.softmax(0).unwrap();
        let b = want.softmax(1).unwrap();
        for i in 0..6 {
            for j in 0..9 {
                assert_eq!(a.get([i, j]).unwrap(), b.get([j, i]).unwrap());
            }
        }
        check_softmax_f32(&xt);
    }

    #[test]
    fn softmax_masks_and_special_rows() {
        let ni = f32::NEG_INFINITY;
        for c in [3usize, 70, 600] {
            // Mask every third entry, including whole leading blocks for long rows.
            let mut v: Vec<f32> = Tensor::<f32>::randn([c], c as u64).to_vec();
            for (i, x) in v.iter_mut().enumerate() {
                if i % 3 == 0 || (c == 600 && i < 520) {
                    *x = ni;
                }
            }
            let x = Tensor::from_vec(v.clone(), [1, c]).unwrap();
            let p = x.softmax(-1).unwrap().to_vec();
            let lp = x.log_softmax(-1).unwrap().to_vec();
            let want = ref_softmax(&v.iter().map(|&a| a as f64).collect::<Vec<_>>());
            for i in 0..c {
                if v[i] == ni {
                    assert_eq!(p[i], 0.0);
                    assert_eq!(lp[i], ni);
                } else {
                    assert!((p[i] as f64 - want[i]).abs() < 1e-6 * want[i]);
                    assert!(lp[i].is_finite());
                }
            }
            assert!((p.iter().map(|&a| a as f64).sum::<f64>() - 1.0).abs() < 1e-6);
            assert!(x.logsumexp(-1, false).unwrap().item().unwrap().is_finite());
        }
        // All −inf rows → NaN softmax / log_softmax, −inf logsumexp; other rows unaffected.
        for c in [1usize, 5, 300] {
            let mut v = vec![ni; c];
            v.extend((0..c).map(|i| i as f32 * 0.1));
            let x = Tensor::from_vec(v, [2, c]).unwrap();
            let p = x.softmax(-1).unwrap().to_vec();
            assert!(p[..c].iter().all(|a| a.is_nan()));
            assert!(p[c..].iter().all(|a| a.is_finite()));
            let lp = x.log_softmax(-1).unwrap().to_vec();
            assert!(lp[..c].iter().all(|a| a.is_nan()));
            assert!(lp[c..].iter().all(|a| a.is_finite()));
            let l = x.logsumexp(-1, false).unwrap().to_vec();
            assert_eq!(l[0], ni);
            assert!(l[1].is_finite());
        }
        // NaN or +inf anywhere → NaN row (NaN in a leading masked block too).
        for c in [4usize, 600] {
            for (pos, bad) in [(0, f32::NAN), (c - 1, f32::NAN), (c / 2, f32::INFINITY)] {
                let mut v = vec![1.0f32; c];
                if c == 600 {
                    v[..300].fill(ni);
                }
                v[pos] = bad;
                let x = Tensor::from_vec(v, [c]).unwrap();
                assert!(
                    x.softmax(0).unwrap().to_vec().iter().all(|a| a.is_nan()),
                    "{c} {pos}"
                );
                assert!(x
                    .log_softmax(0)
                    .unwrap()
                    .to_vec()
                    .iter()
                    .all(|a| a.is_nan()));
                let l = x.logsumexp(0, false).unwrap().item().unwrap();
                if bad.is_nan() {
                    assert!(l.is_nan());
                } else {
                    assert_eq!(l, f32::INFINITY);
                }
            }
        }
        let x = Tensor::<f32>::from_vec(vec![f32::INFINITY, f32::NAN], [2]).unwrap();
        assert!(x.logsumexp(0, false).unwrap().item().unwrap().is_nan());
    }

    #[test]
    fn softmax_empty_tensors() {
        let x = Tensor::<f32>::zeros([0, 5]);
        assert_eq!(x.softmax(-1).unwrap().shape(), &[0, 5]);
        assert_eq!(x.logsumexp(-1, false).unwrap().shape(), &[0]);
        assert_eq!(
            x.logsumexp(0, false).unwrap().to_vec(),
            vec![f32::NEG_INFINITY; 5]
        );
        let y = Tensor::<f32>::zeros([3, 0]);
        assert_eq!(y.log_softmax(1).unwrap().shape(), &[3, 0]);
        assert_eq!(
            y.logsumexp(1, true).unwrap().to_vec(),
            vec![f32::NEG_INFINITY; 3]
        );
        assert!(y.softmax_cross_entropy_fwd_bwd(&[], 1.0).is_err());
        let z = Tensor::<f32>::zeros([0, 4]);
        let (l, g) = z.softmax_cross_entropy_fwd_bwd(&[], 1.0).unwrap();
        assert_eq!((l.shape(), g.shape()), (&[0usize][..], &[0usize, 4][..]));
    }

    #[test]
    fn log_softmax_and_logsumexp_match_reference() {
        for (k, &c) in [1usize, 7, 63, 64, 65, 257, 1500].iter().enumerate() {
            for scale in [1.0, 1e3, 1e30] {
                let x = Tensor::<f32>::rand_normal([3, c], 0.0, scale, 100 + k as u64);
                let lp = x.log_softmax(-1).unwrap().to_f64_vec();
                let l = x.logsumexp(-1, false).unwrap().to_f64_vec();
                let lk = x.logsumexp(-1, true).unwrap();
                assert_eq!(lk.shape(), &[3, 1]);
                for (r, xr) in rows_of(&x.to_f64_vec(), c).iter().enumerate() {
                    let lse = ref_lse(xr);
                    assert!(
                        (l[r] - lse).abs() <= 1e-6 * (1.0 + lse.abs()),
                        "{} vs {lse}",
                        l[r]
                    );
                    for (t, &xv) in xr.iter().enumerate() {
                        let want = xv - lse;
                        let got = lp[r * c + t];
                        assert!(
                            (got - want).abs() <= 1e-6 * (1.0 + want.abs()),
                            "{got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn softmax_thread_count_bit_equality() {
        // 37 × 3001 > ROWS_PAR_MIN_ELEMS, so the parallel path runs with several chunks.
        let x = Tensor::<f32>::rand_normal([37, 3001], 0.0, 3.0, 5);
        let labels: Vec<usize> = (0..37).map(|i| (i * 97) % 3001).collect();
        let dy = Tensor::<f32>::randn([37, 3001], 6);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let p = x.softmax(-1).unwrap();
                (
                    p.clone(),
                    x.log_softmax(-1).unwrap(),
                    x.logsumexp(-1, false).unwrap(),
                    x.softmax_cross_entropy_fwd_bwd(&labels, 0.5).unwrap(),
                    Tensor::softmax_backward(&p, &dy, -1).unwrap(),
                    x.softmax(0).unwrap(),
                )
            })
        };
        let (a, b) = (run(1), run(2));
        assert_eq!(a.0, b.0);
        assert_eq!(a.1, b.1);
        assert_eq!(a.2, b.2);
        assert_eq!(a.3 .0, b.3 .0);
        assert_eq!(a.3 .1, b.3 .1);
        assert_eq!(a.4, b.4);
        assert_eq!(a.5, b.5);
        let c = run(3);
        assert_eq!(a.3 .1, c.3 .1);
    }

    #[test]
    fn ce_fwd_bwd_into_reuses_dirty_buffers_and_checks_lengths() {
        let x = Tensor::<f32>::rand_normal([9, 700], 0.0, 3.0, 11);
        let labels: Vec<usize> = (0..9).map(|i| (i * 131) % 700).collect();
        let (l, g) = x.softmax_cross_entropy_fwd_bwd(&labels, 0.25).unwrap();
        // Buffers holding garbage from an earlier step are fully overwritten.
        let mut losses = vec![f32::NAN; 9];
        let mut grad = vec![7.0f32; 9 * 700];
        for _ in 0..2 {
            x.softmax_cross_entropy_fwd_bwd_into(&labels, 0.25, &mut losses, &mut grad)
                .unwrap();
            assert_eq!(losses, l.to_vec());
            assert_eq!(grad, g.to_vec());
        }
        let err = x
            .softmax_cross_entropy_fwd_bwd_into(&labels, 1.0, &mut losses, &mut grad[1..])
            .unwrap_err()
            .to_string();
        assert!(err.contains("softmax_cross_entropy_fwd_bwd_into"), "{err}");
        assert!(err.contains("[9, 700]") && err.contains("6299"), "{err}");
        assert!(x
            .softmax_cross_entropy_fwd_bwd_into(&labels[1..], 1.0, &mut losses, &mut grad)
            .is_err());
    }

    /// Central finite differences of `loss` at `x` (f64).
    fn fd_grad(x: &Tensor<f64>, loss: impl Fn(&Tensor<f64>) -> f64) -> Vec<f64> {
        let h = 1e-6;
        let v = x.to_vec();
        (0..v.len())
            .map(|i| {
                let mut a = v.clone();
                a[i] += h;
                let mut b = v.clone();
                b[i] -= h;
                let ta = Tensor::from_vec(a, x.shape()).unwrap();
                let tb = Tensor::from_vec(b, x.shape()).unwrap();
                (loss(&ta) - loss(&tb)) / (2.0 * h)
            })
            .collect()
    }

    fn weighted(t: &Tensor<f64>, w: &Tensor<f64>) -> f64 {
        t.to_vec().iter().zip(w.to_vec()).map(|(a, b)| a * b).sum()
    }

    fn assert_close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{g} vs {w}");
        }
    }

    #[test]
    fn softmax_backward_finite_differences() {
        for (shape, axis) in [
            (vec![2usize, 5], -1isize),
            (vec![3, 4, 2], 1),
            (vec![3, 4, 2], 0),
        ] {
            let x = Tensor::<f64>::rand_normal(&shape, 0.0, 2.0, 21);
            let w = Tensor::<f64>::randn(&shape, 22);
            let y = x.softmax(axis).unwrap();
            let g = Tensor::softmax_backward(&y, &w, axis).unwrap();
            assert_eq!(g.shape(), &shape[..]);
            let fd = fd_grad(&x, |t| weighted(&t.softmax(axis).unwrap(), &w));
            assert_close(&g.to_vec(), &fd, 1e-7);
        }
        let y = Tensor::<f64>::ones([2, 3]);
        let e = Tensor::softmax_backward(&y, &Tensor::ones([3, 2]), -1).unwrap_err();
        assert!(e.to_string().contains("softmax_backward") && e.to_string().contains("[3, 2]"));
        assert!(Tensor::softmax_backward(&y, &y, 2).is_err());
    }

    #[test]
    fn log_softmax_backward_finite_differences() {
        for (shape, axis) in [
            (vec![2usize, 5], -1isize),
            (vec![3, 4, 2], 1),
            (vec![3, 4, 2], -3),
        ] {
            let x = Tensor::<f64>::rand_normal(&shape, 0.0, 2.0, 31);
            let w = Tensor::<f64>::randn(&shape, 32);
            let lp = x.log_softmax(axis).unwrap();
            let g = Tensor::log_softmax_backward(&lp, &w, axis).unwrap();
            let fd = fd_grad(&x, |t| weighted(&t.log_softmax(axis).unwrap(), &w));
            assert_close(&g.to_vec(), &fd, 1e-7);
        }
        let a = Tensor::<f64>::ones([2, 3]);
        assert!(matches!(
            Tensor::log_softmax_backward(&a, &Tensor::ones([2]), 0),
            Err(TensorError::ShapeMismatch {
                op: "log_softmax_backward",
                ..
            })
        ));
    }

    #[test]
    fn logsumexp_backward_finite_differences() {
        for (shape, axis) in [
            (vec![2usize, 5], -1isize),
            (vec![3, 4, 2], 1),
            (vec![3, 4, 2], 0),
        ] {
            let x = Tensor::<f64>::rand_normal(&shape, 0.0, 2.0, 41);
            let a = normalize_axis("t", axis, &shape).unwrap();
            let mut ks = shape.clone();
            ks[a] = 1;
            let w = Tensor::<f64>::randn(&ks, 42);
            let g = Tensor::logsumexp_backward(&x, &w, axis).unwrap();
            let fd = fd_grad(&x, |t| weighted(&t.logsumexp(axis, true).unwrap(), &w));
            assert_close(&g.to_vec(), &fd, 1e-7);
            // dy without the kept axis gives the same.
            let mut rs = shape.clone();
            rs.remove(a);
            let w2 = Tensor::from_vec(w.to_vec(), &rs).unwrap();
            assert_eq!(Tensor::logsumexp_backward(&x, &w2, axis).unwrap(), g);
        }
        let x = Tensor::<f64>::ones([2, 3]);
        assert!(matches!(
            Tensor::logsumexp_backward(&x, &Tensor::ones([3]), -1),
            Err(TensorError::ShapeMismatch {
                op: "logsumexp_backward",
                ..
            })
        ));
    }

    #[test]
    fn softmax_backward_masked_entries_get_zero() {
        let ni = f64::NEG_INFINITY;
        let mut v = Tensor::<f64>::randn([2, 300], 50).to_vec();
        for (i, a) in v.iter_mut().enumerate() {
            if i % 4 == 1 || (280..300).contains(&i) {
                *a = ni;
            }
        }
        let x = Tensor::from_vec(v.clone(), [2, 300]).unwrap();
        let dy = Tensor::<f64>::randn([2, 300], 51);
        let y = x.softmax(-1).unwrap();
        let g = Tensor::softmax_backward(&y, &dy, -1).unwrap().to_vec();
        let gl = Tensor::logsumexp_backward(&x, &Tensor::<f64>::randn([2, 1], 52), -1)
            .unwrap()
            .to_vec();
        // Upstream gradient of log_softmax: zero at masked entries (e.g. NLL of a valid label).
        let mut dl = dy.to_vec();
        for (d, &a) in dl.iter_mut().zip(&v) {
            if a == ni {
                *d = 0.0;
            }
        }
        let lp = x.log_softmax(-1).unwrap();
        let dlt = Tensor::from_vec(dl, [2, 300]).unwrap();
        let gls = Tensor::log_softmax_backward(&lp, &dlt, -1)
            .unwrap()
            .to_vec();
        // With a non-zero upstream gradient the masked derivative is dy itself, never NaN.
        let gls2 = Tensor::log_softmax_backward(&lp, &dy, -1).unwrap().to_vec();
        let dyv = dy.to_vec();
        for i in 0..600 {
            if v[i] == ni {
                assert_eq!(g[i], 0.0);
                assert_eq!(gl[i], 0.0);
                assert_eq!(gls[i], 0.0);
                assert_eq!(gls2[i], dyv[i]);
            } else {
                assert!(g[i].is_finite() && gl[i].is_finite() && gls[i].is_finite());
            }
        }
        // f32 as well.
        let xf = x.cast::<f32>();
        let yf = xf.softmax(-1).unwrap();
        let gf = Tensor::softmax_backward(&yf, &dy.cast(), -1)
            .unwrap()
            .to_vec();
        assert!(gf
            .iter()
            .zip(&v)
            .all(|(&a, &b)| if b == ni { a == 0.0 } else { a.is_finite() }));
    }

    fn ref_ce(xr: &[f64], label: usize) -> f64 {
        ref_lse(xr) - xr[label]
    }

    #[test]
    fn softmax_cross_entropy_matches_reference() {
        let mut rng = Rng::seed(60);
        for &c in &[1usize, 7, 63, 64, 65, 257, 1100] {
            for scale in [1.0, 1e4, 1e30] {
                let n = 5;
                let x = Tensor::<f32>::rand_normal([n, c], 0.0, scale, c as u64);
                let labels: Vec<usize> = (0..n).map(|_| rng.below(c as u64) as usize).collect();
                let loss = x.softmax_cross_entropy(&labels).unwrap();
                let (loss2, grad) = x.softmax_cross_entropy_fwd_bwd(&labels, 0.25).unwrap();
                assert_eq!(loss, loss2);
                assert_eq!(loss.shape(), &[n]);
                assert_eq!(grad.shape(), &[n, c]);
                let gv = grad.to_f64_vec();
                for (r, xr) in rows_of(&x.to_f64_vec(), c).iter().enumerate() {
                    let want = ref_ce(xr, labels[r]);
                    let got = loss.to_f64_vec()[r];
                    assert!(
                        (got - want).abs() <= 1e-6 * (1.0 + want.abs()),
                        "{got} vs {want}"
                    );
                    let p = ref_softmax(xr);
                    for t in 0..c {
                        let w = 0.25 * (p[t] - if t == labels[r] { 1.0 } else { 0.0 });
                        let g = gv[r * c + t];
                        assert!((g - w).abs() <= 1e-6 * w.abs() + 1e-7, "grad {g} vs {w}");
                        assert!(g.is_finite());
                    }
                    let gs: f64 = gv[r * c..(r + 1) * c].iter().sum();
                    assert!(gs.abs() < 1e-6, "grad row sum {gs}");
                }
            }
        }
    }

    #[test]
    fn softmax_cross_entropy_extreme_logits() {
        let x = Tensor::<f32>::from_f64s(&[1e4, -1e4], [1, 2]).unwrap();
        assert_eq!(x.softmax_cross_entropy(&[1]).unwrap().to_vec(), vec![2e4]);
        let (l, g) = x.softmax_cross_entropy_fwd_bwd(&[1], 1.0).unwrap();
        assert_eq!(l.to_vec(), vec![2e4]);
        assert_eq!(g.to_vec(), vec![1.0, -1.0]);
        let (l0, g0) = x.softmax_cross_entropy_fwd_bwd(&[0], 1.0).unwrap();
        assert_eq!(l0.to_vec(), vec![0.0]);
        assert_eq!(g0.to_vec(), vec![0.0, 0.0]);
        let x64 = Tensor::<f64>::from_f64s(&[1e4, -1e4], [1, 2]).unwrap();
        assert_eq!(x64.softmax_cross_entropy(&[1]).unwrap().to_vec(), vec![2e4]);
        let big = Tensor::<f32>::from_vec(vec![f32::MAX, 0.0, 1e30, -1e30, 3.0, f32::MAX], [2, 3])
            .unwrap();
        let (l, g) = big.softmax_cross_entropy_fwd_bwd(&[1, 2], 1.0).unwrap();
        assert!(l
            .to_vec()
            .iter()
            .chain(g.to_vec().iter())
            .all(|v| v.is_finite()));
        assert_eq!(l.to_vec()[0], f32::MAX);
        // Masked logits in a row: exact zero gradient there.
        let ni = f32::NEG_INFINITY;
        let m = Tensor::<f32>::from_vec(vec![ni, 1.0, 2.0, ni], [1, 4]).unwrap();
        let (l, g) = m.softmax_cross_entropy_fwd_bwd(&[2], 1.0).unwrap();
        let g = g.to_vec();
        assert!(l.item().unwrap().is_finite());
        assert_eq!((g[0], g[3]), (0.0, 0.0));
        // An all −inf row gives NaN (like softmax); a −inf label logit gives +inf loss.
        let allm = Tensor::<f32>::from_vec(vec![ni, ni], [1, 2]).unwrap();
        assert!(allm
            .softmax_cross_entropy(&[0])
            .unwrap()
            .item()
            .unwrap()
            .is_nan());
        let inf = m.softmax_cross_entropy(&[0]).unwrap().item().unwrap();
        assert_eq!(inf, f32::INFINITY);
    }

    #[test]
    fn softmax_cross_entropy_errors() {
        let x = Tensor::<f32>::zeros([2, 3]);
        assert!(matches!(
            x.softmax_cross_entropy(&[0, 3]),
            Err(TensorError::IndexOutOfRange {
                op: "softmax_cross_entropy",
                index: 3,
                len: 3
            })
        ));
        assert!(matches!(
            x.softmax_cross_entropy_fwd_bwd(&[5, 0], 1.0),
            Err(TensorError::IndexOutOfRange {
                op: "softmax_cross_entropy_fwd_bwd",
                ..
            })
        ));
        assert!(matches!(
            x.softmax_cross_entropy(&[0]),
            Err(TensorError::ShapeMismatch {
                op: "softmax_cross_entropy",
                ..
            })
        ));
        assert!(matches!(
            Tensor::<f32>::zeros([2, 3, 1]).softmax_cross_entropy(&[0, 0]),
            Err(TensorError::RankMismatch { .. })
        ));
        assert!(Tensor::<f32>::zeros([3])
            .softmax_cross_entropy_fwd_bwd(&[0], 1.0)
            .is_err());
    }

    #[test]
    fn softmax_cross_entropy_non_contiguous_and_f64() {
        let x = Tensor::<f64>::rand_normal([7, 5], 0.0, 2.0, 70);
        let xt = Tensor::from_shared(x.array().clone().reversed_axes()); // [5, 7]
        let labels = [0usize, 6, 3, 2, 1];
        let (l, g) = xt.softmax_cross_entropy_fwd_bwd(&labels, 1.0).unwrap();
        let (l2, g2) = xt
            .contiguous()
            .softmax_cross_entropy_fwd_bwd(&labels, 1.0)
            .unwrap();
        assert_eq!((l.clone(), g.clone()), (l2, g2));
        // Gradient = finite differences of Σ losses.
        let fd = fd_grad(&xt.contiguous(), |t| {
            t.softmax_cross_entropy(&labels)
                .unwrap()
                .to_vec()
                .iter()
                .sum()
        });
        assert_close(&g.to_vec(), &fd, 1e-7);
        // Matches log_softmax.
        let lp = xt.log_softmax(-1).unwrap();
        for (r, &lab) in labels.iter().enumerate() {
            assert!((l.to_vec()[r] + lp.get([r, lab]).unwrap()).abs() < 1e-14);
        }
    }
}
