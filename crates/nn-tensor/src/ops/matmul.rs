//! Matrix products: `matmul` (2-D, batched, broadcast batch dimensions, NumPy-style 1-D
//! operands), `matmul_t` (transposes as stride swaps), and `gemm_into` (accumulate into an
//! existing matrix). `f32` runs on the crate's packed GEMM (`ops::packed_gemm`), `f64` (and
//! `f32` in builds without FMA) on [`matrixmultiply`].
//!
//! Operands are never copied: their `ndarray` strides (transposed, permuted, sliced, negative)
//! are handed to the GEMM kernel, which packs panels itself. Large products are split over
//! contiguous blocks of output rows on the rayon pool; every output element is still a single
//! dot product over `K` computed in the kernel's fixed order, so the result does not depend on
//! the number of threads.

use ndarray::{s, ArrayView2, ArrayViewD, Axis, Ix2, IxDyn};
use rayon::prelude::*;

use crate::{broadcast_shapes, parallel, Float, Result, Tensor, TensorError};

/// Row blocks of a parallel GEMM are a multiple of this many rows (the tallest micro-kernel
/// of `matrixmultiply`, AVX-512 `sgemm`, is 16 rows), so blocks end on micro-panel borders.
const ROW_ALIGN: usize = 16;

/// `C ← alpha·A·B + beta·C` on one thread, `C` being a row-major `m × n` slice.
///
/// This is the only place of the crate that calls the unsafe `matrixmultiply` kernel (`f64`,
/// and `f32` without FMA).
#[allow(unsafe_code)]
fn gemm_serial<T: Float>(
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut [T],
) -> Result<()> {
    let (m, k) = a.dim();
    let (kb, n) = b.dim();
    if kb != k || m.checked_mul(n) != Some(c.len()) {
        return Err(TensorError::invalid(
            "gemm",
            format!(
                "internal: A is {m}x{k}, B is {kb}x{n}, C holds {} elements",
                c.len()
            ),
        ));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        // A·B is the zero matrix: C ← beta·C (beta = 0 overwrites, as in BLAS).
        if beta == T::zero() {
            c.fill(T::zero());
        } else if beta != T::one() {
            c.iter_mut().for_each(|v| *v *= beta);
        }
        return Ok(());
    }
    let (rsa, csa) = (a.strides()[0], a.strides()[1]);
    let (rsb, csb) = (b.strides()[0], b.strides()[1]);
    // `c.len() == m * n` fits in isize because it is the length of a slice.
    let rsc = n as isize;
    // SAFETY: `a` and `b` are live ndarray views of shapes m×k and k×n: for every
    // i < m, p < k, j < n the addresses `a.as_ptr() + i·rsa + p·csa` and
    // `b.as_ptr() + p·rsb + j·csb` are in bounds of their allocations (ndarray guarantees this
    // for every in-range index, including for negative or zero strides). `c` is an exclusive
    // slice of exactly m·n elements addressed row-major (`i·n + j`, row stride n, column
    // stride 1), so every write is in bounds and distinct, and it cannot alias `a` or `b`,
    // which are shared borrows. m, k, n > 0 here, and matrixmultiply only touches elements
    // inside these index ranges; with beta = 0 it never reads C.
    unsafe {
        T::gemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            rsc,
            1,
        );
    }
    Ok(())
}

/// `C ← alpha·A·B + beta·C` (`C` row-major `m × n`) on the packed `f32` kernel when the type
/// has one, else on `matrixmultiply`; split over at most `max_blocks` contiguous row blocks run
/// in parallel when the product is large enough
/// (`m·k·n ≥` [`parallel::GEMM_PAR_MIN_FLOPS`]). The split never changes the result bits.
pub(crate) fn gemm_rows<T: Float>(
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut [T],
    max_blocks: usize,
) -> Result<()> {
    let (m, k) = a.dim();
    let n = b.ncols();
    if b.nrows() != k || m.checked_mul(n) != Some(c.len()) || m == 0 || n == 0 || k == 0 {
        // Reports the size error, or handles the empty product.
        return gemm_serial(alpha, a, b, beta, c);
    }
    if T::packed_gemm(alpha, a, b, beta, c, max_blocks) {
        return Ok(());
    }
    let flops = m.saturating_mul(k).saturating_mul(n);
    let blocks = max_blocks.min(parallel::threads()).min(m / ROW_ALIGN);
    if n == 0 || m == 0 || blocks < 2 || flops < parallel::GEMM_PAR_MIN_FLOPS {
        return gemm_serial(alpha, a, b, beta, c);
    }
    if m.checked_mul(n) != Some(c.len()) {
        return gemm_serial(alpha, a, b, beta, c); // reports the size error
    }
    let rows_per_block = m.div_ceil(blocks).div_ceil(ROW_ALIGN) * ROW_ALIGN;
    c.par_chunks_mut(rows_per_block * n)
        .enumerate()
        .try_for_each(|(i, cb)| {
            let r0 = i * rows_per_block;
            let rows = cb.len() / n;
            gemm_serial(alpha, &a.slice(s![r0..r0 + rows, ..]), b, beta, cb)
        })
}

/// Runs `C_i ← A_i·B_i` for every pair (each `m × n`, stored one after the other in `c`).
/// Parallel over the batch when it has at least as many matrices as threads, else over rows
/// inside each product.
fn gemm_batched<T: Float>(
    pairs: &[(ArrayView2<'_, T>, ArrayView2<'_, T>)],
    m: usize,
    k: usize,
    n: usize,
    c: &mut [T],
) -> Result<()> {
    let per = m * n;
    if per == 0 || pairs.is_empty() {
        return Ok(());
    }
    let batch = pairs.len();
    let threads = parallel::threads();
    let total = batch.saturating_mul(m).saturating_mul(k).saturating_mul(n);
    if threads < 2 || total < parallel::GEMM_PAR_MIN_FLOPS {
        return c
            .chunks_mut(per)
            .zip(pairs)
            .try_for_each(|(cb, (a, b))| gemm_rows(T::one(), a, b, T::zero(), cb, 1));
    }
    if batch >= threads {
        c.par_chunks_mut(per)
            .zip(pairs.par_iter())
            .try_for_each(|(cb, (a, b))| gemm_rows(T::one(), a, b, T::zero(), cb, 1))
    } else {
        let blocks = threads.div_ceil(batch);
        c.par_chunks_mut(per)
            .zip(pairs.par_iter())
            .try_for_each(|(cb, (a, b))| gemm_rows(T::one(), a, b, T::zero(), cb, blocks))
    }
}

/// Merges all leading axes of `a` (`[..., M, K]`) into its row axis, giving a `[B·M, K]`
/// view, when the strides allow it (e.g. any row-major tensor); `None` otherwise.
fn merge_leading<'a, T>(a: &ArrayViewD<'a, T>) -> Option<ArrayView2<'a, T>> {
    let mut v = a.clone();
    let r = v.ndim();
    for i in 0..r.saturating_sub(2) {
        if !v.merge_axes(Axis(i), Axis(i + 1)) {
            return None;
        }
    }
    for _ in 0..r.saturating_sub(2) {
        if v.len_of(Axis(0)) != 1 {
            return None;
        }
        v = v.index_axis_move(Axis(0), 0);
    }
    v.into_dimensionality::<Ix2>().ok()
}

/// The `i`-th (row-major) matrix of a `[batch..., R, C]` view.
fn batch_item<'a, T>(
    v: &ArrayViewD<'a, T>,
    batch: &[usize],
    mut i: usize,
) -> Result<ArrayView2<'a, T>> {
    let mut idx = vec![0; batch.len()];
    for (slot, &d) in idx.iter_mut().zip(batch).rev() {
        *slot = i % d;
        i /= d;
    }
    let mut m = v.clone();
    for &j in &idx {
        m = m.index_axis_move(Axis(0), j);
    }
    m.into_dimensionality::<Ix2>()
        .map_err(|e| TensorError::invalid("matmul", format!("internal: {e}")))
}

/// The matrix product of two views with NumPy `matmul` semantics; `lhs`/`rhs` are the shapes
/// reported in errors.
fn matmul_views<T: Float>(
    op: &'static str,
    a: ArrayViewD<'_, T>,
    b: ArrayViewD<'_, T>,
    lhs: &[usize],
    rhs: &[usize],
) -> Result<Tensor<T>> {
    let mismatch = || TensorError::ShapeMismatch {
        op,
        lhs: lhs.to_vec(),
        rhs: rhs.to_vec(),
    };
    if a.ndim() == 0 || b.ndim() == 0 {
        return Err(mismatch());
    }
    let a_vec = a.ndim() == 1;
    let b_vec = b.ndim() == 1;
    let a = if a_vec { a.insert_axis(Axis(0)) } else { a };
    let b = if b_vec { b.insert_axis(Axis(1)) } else { b };
    let (ra, rb) = (a.ndim(), b.ndim());
    let (m, k) = (a.shape()[ra - 2], a.shape()[ra - 1]);
    let (kb, n) = (b.shape()[rb - 2], b.shape()[rb - 1]);
    if k != kb {
        return Err(mismatch());
    }
    let batch =
        broadcast_shapes(op, &a.shape()[..ra - 2], &b.shape()[..rb - 2]).map_err(|_| mismatch())?;
    let nbatch: usize = batch.iter().product();

    let mut out_shape = batch.clone();
    if !a_vec {
        out_shape.push(m);
    }
    if !b_vec {
        out_shape.push(n);
    }
    // A product over an empty K is zeros; otherwise a GEMM with beta = 0 writes every element.
    let mut out = if k == 0 {
        crate::buffer::zeroed(nbatch * m * n)
    } else {
        crate::buffer::for_overwrite(nbatch * m * n)
    };
    if out.is_empty() || k == 0 {
        return Tensor::from_vec(out, out_shape);
    }

    if rb == 2 {
        // A shared right-hand matrix: one [B·M, K] × [K, N] product when A's strides allow.
        let b2 = b
            .view()
            .into_dimensionality::<Ix2>()
            .map_err(|_| mismatch())?;
        if let Some(a2) = merge_leading(&a) {
            gemm_rows(T::one(), &a2, &b2, T::zero(), &mut out, usize::MAX)?;
            return Tensor::from_vec(out, out_shape);
        }
    }

    let mut a_full = batch.clone();
    a_full.extend_from_slice(&[m, k]);
    let mut b_full = batch.clone();
    b_full.extend_from_slice(&[k, n]);
    let ab = a.broadcast(IxDyn(&a_full)).ok_or_else(mismatch)?;
    let bb = b.broadcast(IxDyn(&b_full)).ok_or_else(mismatch)?;
    let pairs = (0..nbatch)
        .map(|i| Ok((batch_item(&ab, &batch, i)?, batch_item(&bb, &batch, i)?)))
        .collect::<Result<Vec<_>>>()?;
    gemm_batched(&pairs, m, k, n, &mut out)?;
    Tensor::from_vec(out, out_shape)
}

/// `v` with its last two axes swapped when `t` is set (rank ≥ 2).
fn transpose_last<T>(mut v: ArrayViewD<'_, T>, t: bool) -> ArrayViewD<'_, T> {
    if t && v.ndim() >= 2 {
        let r = v.ndim();
        v.swap_axes(r - 2, r - 1);
    }
    v
}

/// A 2-D view of a rank-2 tensor.
fn as_matrix<T: Float>(t: &Tensor<T>) -> Result<ArrayView2<'_, T>> {
    t.view()
        .into_dimensionality::<Ix2>()
        .map_err(|e| TensorError::invalid("gemm_into", e.to_string()))
}

impl<T: Float> Tensor<T> {
    /// Matrix product with NumPy `matmul` semantics: `[M, K] × [K, N] → [M, N]`; batched
    /// `[..., M, K] × [..., K, N] → [..., M, N]` with broadcast batch dimensions (so
    /// `[B, M, K] × [K, N] → [B, M, N]`, computed as one `[B·M, K] × [K, N]` product when the
    /// left operand's layout allows); a 1-D left operand is a row vector and a 1-D right
    /// operand a column vector, their axis being dropped from the result.
    ///
    /// Any strides work (transposed or permuted views are not copied). Zero-size dimensions
    /// give zeros of the right shape.
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming `matmul` and both shapes if the inner dimensions
    /// differ, the batch dimensions do not broadcast, or an operand is 0-D.
    pub fn matmul(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        if let Some(product) = T::few_rows_split(self, other) {
            return Ok(product);
        }
        matmul_views(
            "matmul",
            self.view(),
            other.view(),
            self.shape(),
            other.shape(),
        )
    }

    /// Matrix product of `op(self)` and `op(other)` where `op` transposes the last two axes
    /// when the corresponding flag is set (a stride swap, no copy). Operands have rank 2 or
    /// more (batched); otherwise as [`Tensor::matmul`].
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] for an operand of rank below 2,
    /// [`TensorError::ShapeMismatch`] naming `matmul_t` for incompatible shapes.
    pub fn matmul_t(
        &self,
        other: &Tensor<T>,
        transpose_a: bool,
        transpose_b: bool,
    ) -> Result<Tensor<T>> {
        for t in [self, other] {
            if t.ndim() < 2 {
                return Err(TensorError::RankMismatch {
                    op: "matmul_t",
                    expected: "2 or more".into(),
                    shape: t.shape().to_vec(),
                });
            }
        }
        matmul_views(
            "matmul_t",
            transpose_last(self.view(), transpose_a),
            transpose_last(other.view(), transpose_b),
            self.shape(),
            other.shape(),
        )
    }

    /// `C ← alpha·A·B + beta·C` for 2-D `A [M, K]`, `B [K, N]`, `C [M, N]`, writing into `c`
    /// (made row-major and unshared first if needed) without allocating otherwise; for
    /// backward passes that accumulate gradients. `beta = 0` overwrites `C` (its old values,
    /// even NaN, are not read). `A` and `B` may have any strides.
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] if an operand is not 2-D, [`TensorError::ShapeMismatch`]
    /// naming `gemm_into` if the shapes do not chain.
    pub fn gemm_into(
        alpha: T,
        a: &Tensor<T>,
        b: &Tensor<T>,
        beta: T,
        c: &mut Tensor<T>,
    ) -> Result<()> {
        for t in [a, b, &*c] {
            if t.ndim() != 2 {
                return Err(TensorError::RankMismatch {
                    op: "gemm_into",
                    expected: "2".into(),
                    shape: t.shape().to_vec(),
                });
            }
        }
        let (m, k) = (a.shape()[0], a.shape()[1]);
        let n = b.shape()[1];
        if b.shape()[0] != k {
            return Err(TensorError::ShapeMismatch {
                op: "gemm_into",
                lhs: a.shape().to_vec(),
                rhs: b.shape().to_vec(),
            });
        }
        if c.shape() != [m, n] {
            return Err(TensorError::ShapeMismatch {
                op: "gemm_into",
                lhs: vec![m, n],
                rhs: c.shape().to_vec(),
            });
        }
        let (a2, b2) = (as_matrix(a)?, as_matrix(b)?);
        gemm_rows(alpha, &a2, &b2, beta, c.make_contiguous_mut(), usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive f64 product of row-major matrices, and the sum of |a||b| terms per element.
    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut c = vec![0.0; m * n];
        let mut mag = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    c[i * n + j] += a[i * k + p] * b[p * n + j];
                    mag[i * n + j] += (a[i * k + p] * b[p * n + j]).abs();
                }
            }
        }
        (c, mag)
    }

    fn check_close<T: Float>(got: &Tensor<T>, want: &[f64], mag: &[f64], rel: f64) {
        let g = got.to_f64_vec();
        assert_eq!(g.len(), want.len());
        for (i, ((&x, &w), &s)) in g.iter().zip(want).zip(mag).enumerate() {
            assert!(
                (x - w).abs() <= rel * s + 1e-300,
                "element {i}: got {x}, want {w} (scale {s})"
            );
        }
    }

    fn transposed<T: Float>(t: &Tensor<T>) -> Tensor<T> {
        Tensor::from_shared(t.array().clone().reversed_axes())
    }

    #[test]
    fn matmul_matches_naive_f32_mixed_sizes() {
        // Sizes drawn from {0, 1, 7, 63, 64, 65, 257}, mixed across m, k, n.
        let mut seed = 0;
        for (idx, &(m, k, n)) in [
            (0, 5, 3),
            (4, 0, 3),
            (3, 5, 0),
            (1, 1, 1),
            (7, 63, 64),
            (65, 7, 1),
            (64, 65, 63),
            (257, 64, 7),
            (1, 257, 65),
            (63, 1, 257),
        ]
        .iter()
        .enumerate()
        {
            seed += 1;
            let a = Tensor::<f32>::randn([m, k], seed);
            let b = Tensor::<f32>::randn([k, n], seed + 100);
            let c = a.matmul(&b).unwrap();
            assert_eq!(c.shape(), &[m, n], "case {idx}");
            let (want, mag) = naive(&a.to_f64_vec(), &b.to_f64_vec(), m, k, n);
            check_close(&c, &want, &mag, 1e-5);
        }
    }

    #[test]
    fn matmul_large_parallel_sizes_f64() {
        // 257·257·65 > GEMM_PAR_MIN_FLOPS, so this goes through the row-split path.
        let (m, k, n) = (257, 257, 65);
        let a = Tensor::<f64>::randn([m, k], 1);
        let b = Tensor::<f64>::randn([k, n], 2);
        let c = a.matmul(&b).unwrap();
        let (want, mag) = naive(&a.to_vec(), &b.to_vec(), m, k, n);
        check_close(&c, &want, &mag, 1e-13);
    }

    #[test]
    fn matmul_zero_k_gives_zeros() {
        let a = Tensor::<f32>::zeros([3, 0]);
        let b = Tensor::<f32>::zeros([0, 4]);
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.shape(), &[3, 4]);
        assert_eq!(c.to_vec(), vec![0.0; 12]);
        let c = Tensor::<f32>::zeros([2, 3, 0])
            .matmul(&Tensor::zeros([2, 0, 5]))
            .unwrap();
        assert_eq!(c.shape(), &[2, 3, 5]);
        assert!(c.to_vec().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn matmul_transposed_views_no_copy() {
        let (m, k, n) = (65, 63, 7);
        let at = Tensor::<f32>::randn([k, m], 3); // a = at^T
        let bt = Tensor::<f32>::randn([n, k], 4); // b = bt^T
        let a = transposed(&at);
        let b = transposed(&bt);
        assert!(!a.is_contiguous() && !b.is_contiguous());
        let c = a.matmul(&b).unwrap();
        let (want, mag) = naive(
            &a.contiguous().to_f64_vec(),
            &b.contiguous().to_f64_vec(),
            m,
            k,
            n,
        );
        check_close(&c, &want, &mag, 1e-5);
        // Same through matmul_t on the untransposed tensors.
        let c2 = at.matmul_t(&bt, true, true).unwrap();
        assert_eq!(c2.to_vec(), c.to_vec());
        // Mixed: only b transposed.
        let a_c = a.contiguous();
        let c3 = a_c.matmul_t(&bt, false, true).unwrap();
        check_close(&c3, &want, &mag, 1e-5);
    }

    #[test]
    fn matmul_negative_and_sliced_strides() {
        let base = Tensor::<f64>::randn([9, 8], 5);
        // Rows reversed and every other column: strides (-8, 2).
        let v = base.array().slice(s![..;-1, ..;2]).to_shared();
        let a = Tensor::from_shared(base.array().clone());
        let sliced = Tensor::from_shared(a.array().clone().slice_move(s![..;-1, ..;2]).into_dyn());
        assert!(!sliced.is_contiguous());
        let b = Tensor::<f64>::randn([4, 3], 6);
        let c = sliced.matmul(&b).unwrap();
        let (want, mag) = naive(&v.iter().copied().collect::<Vec<_>>(), &b.to_vec(), 9, 4, 3);
        check_close(&c, &want, &mag, 1e-14);
    }

    #[test]
    fn matmul_batched_and_shared_rhs() {
        let (bsz, m, k, n) = (3, 5, 7, 4);
        let a = Tensor::<f64>::randn([bsz, m, k], 7);
        let b = Tensor::<f64>::randn([bsz, k, n], 8);
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.shape(), &[bsz, m, n]);
        let w2 = Tensor::<f64>::randn([k, n], 9);
        let c2 = a.matmul(&w2).unwrap();
        assert_eq!(c2.shape(), &[bsz, m, n]);
        // Non-mergeable lhs (last two axes of a [B, K, M] tensor swapped) with a shared rhs.
        let a_perm = Tensor::<f64>::from_shared(
            Tensor::<f64>::randn([bsz, k, m], 10)
                .array()
                .clone()
                .permuted_axes(vec![0, 2, 1]),
        );
        let c3 = a_perm.matmul(&w2).unwrap();
        // Shared lhs broadcast against a batched rhs.
        let a2 = Tensor::<f64>::randn([m, k], 11);
        let c4 = a2.matmul(&b).unwrap();
        assert_eq!(c4.shape(), &[bsz, m, n]);
        let (av, bv, wv) = (a.to_vec(), b.to_vec(), w2.to_vec());
        let apv = a_perm.contiguous().to_vec();
        let a2v = a2.to_vec();
        for i in 0..bsz {
            let ai = &av[i * m * k..(i + 1) * m * k];
            let bi = &bv[i * k * n..(i + 1) * k * n];
            let (w, mag) = naive(ai, bi, m, k, n);
            check_close(
                &Tensor::from_vec(c.to_vec()[i * m * n..(i + 1) * m * n].to_vec(), [m, n]).unwrap(),
                &w,
                &mag,
                1e-14,
            );
            let (w, mag) = naive(ai, &wv, m, k, n);
            check_close(
                &Tensor::from_vec(c2.to_vec()[i * m * n..(i + 1) * m * n].to_vec(), [m, n])
                    .unwrap(),
                &w,
                &mag,
                1e-14,
            );
            let (w, mag) = naive(&apv[i * m * k..(i + 1) * m * k], &wv, m, k, n);
            check_close(
                &Tensor::from_vec(c3.to_vec()[i * m * n..(i + 1) * m * n].to_vec(), [m, n])
                    .unwrap(),
                &w,
                &mag,
                1e-14,
            );
            let (w, mag) = naive(&a2v, bi, m, k, n);
            check_close(
                &Tensor::from_vec(c4.to_vec()[i * m * n..(i + 1) * m * n].to_vec(), [m, n])
                    .unwrap(),
                &w,
                &mag,
                1e-14,
            );
        }
        // Batched transposes through matmul_t: (a^T)^T · (b^T)^T == a · b.
        let at = Tensor::from_shared(a.array().clone().permuted_axes(vec![0, 2, 1]));
        let bt = Tensor::from_shared(b.array().clone().permuted_axes(vec![0, 2, 1]));
        let c5 = at.matmul_t(&bt, true, true).unwrap();
        assert_eq!(c5.to_vec(), c.to_vec());
    }

    #[test]
    fn matmul_broadcast_batch_dims_4d() {
        let a = Tensor::<f64>::randn([2, 1, 3, 4], 12);
        let b = Tensor::<f64>::randn([3, 4, 5], 13);
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.shape(), &[2, 3, 3, 5]);
        let (av, bv, cv) = (a.to_vec(), b.to_vec(), c.to_vec());
        for i in 0..2 {
            for j in 0..3 {
                let (w, mag) = naive(
                    &av[i * 12..(i + 1) * 12],
                    &bv[j * 20..(j + 1) * 20],
                    3,
                    4,
                    5,
                );
                let off = (i * 3 + j) * 15;
                check_close(
                    &Tensor::from_vec(cv[off..off + 15].to_vec(), [3, 5]).unwrap(),
                    &w,
                    &mag,
                    1e-14,
                );
            }
        }
    }

    #[test]
    fn matmul_vectors_numpy_rules() {
        let a = Tensor::<f64>::from_f64s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]).unwrap();
        let v3 = Tensor::<f64>::from_f64s(&[1.0, 0.0, -1.0], [3]).unwrap();
        let v2 = Tensor::<f64>::from_f64s(&[1.0, 2.0], [2]).unwrap();
        let mv = a.matmul(&v3).unwrap();
        assert_eq!(mv.shape(), &[2]);
        assert_eq!(mv.to_vec(), vec![-2.0, -2.0]);
        let vm = v2.matmul(&a).unwrap();
        assert_eq!(vm.shape(), &[3]);
        assert_eq!(vm.to_vec(), vec![9.0, 12.0, 15.0]);
        let dot = v3.matmul(&v3).unwrap();
        assert_eq!(dot.shape(), &[] as &[usize]);
        assert_eq!(dot.item().unwrap(), 2.0);
        let batched = Tensor::<f64>::ones([4, 2, 3]).matmul(&v3).unwrap();
        assert_eq!(batched.shape(), &[4, 2]);
    }

    #[test]
    fn matmul_shape_errors_name_op_and_shapes() {
        let a = Tensor::<f32>::zeros([2, 3]);
        let b = Tensor::<f32>::zeros([4, 5]);
        let e = a.matmul(&b).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("matmul") && msg.contains("[2, 3]") && msg.contains("[4, 5]"),
            "{msg}"
        );
        assert!(Tensor::<f32>::zeros([2, 3, 4])
            .matmul(&Tensor::zeros([3, 4, 5]))
            .is_err());
        assert!(Tensor::<f32>::scalar(1.0).matmul(&a).is_err());
        assert!(Tensor::<f32>::zeros([3])
            .matmul_t(&a, false, false)
            .is_err());
        let e = a.matmul_t(&a, false, false).unwrap_err();
        assert!(e.to_string().contains("matmul_t"));
        assert_eq!(a.matmul_t(&a, false, true).unwrap().shape(), &[2, 2]);
    }

    #[test]
    fn matmul_one_vs_two_threads_bit_identical() {
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        // Above GEMM_PAR_MIN_FLOPS, odd sizes so blocks end mid-panel in K and N.
        let a = Tensor::<f32>::randn([301, 257], 20);
        let b = Tensor::<f32>::randn([257, 67], 21);
        let bt = transposed(&Tensor::<f32>::randn([67, 257], 22));
        let ab = Tensor::<f32>::randn([3, 150, 129], 23);
        let bb = Tensor::<f32>::randn([3, 129, 130], 24);
        let w = Tensor::<f32>::randn([129, 67], 25);
        // A batch smaller than the pool: rows are split inside the product.
        let a1 = Tensor::<f32>::randn([1, 150, 129], 26);
        let b1 = Tensor::<f32>::randn([1, 129, 130], 27);
        // Two K blocks, N not a multiple of the tile width, and a B big enough to be packed
        // in parallel.
        let ak = Tensor::<f32>::randn([96, 1100], 28);
        let bk = Tensor::<f32>::randn([1100, 520], 29);
        let run = || {
            vec![
                a.matmul(&b).unwrap(),
                ak.matmul(&bk).unwrap(),
                a.matmul(&bt).unwrap(),
                ab.matmul(&bb).unwrap(),
                ab.matmul(&w).unwrap(),
                a1.matmul(&b1).unwrap(),
            ]
        };
        let bits = |ts: &[Tensor<f32>]| -> Vec<Vec<u32>> {
            ts.iter()
                .map(|t| t.to_vec().iter().map(|v| v.to_bits()).collect())
                .collect()
        };
        let r1 = one.install(run);
        let r2 = two.install(run);
        let r3 = three.install(run);
        assert_eq!(bits(&r1), bits(&r2));
        assert_eq!(bits(&r1), bits(&r3));
        // And the answer is right.
        let (want, mag) = naive(&a.to_f64_vec(), &b.to_f64_vec(), 301, 257, 67);
        check_close(&r2[0], &want, &mag, 1e-5);
    }

    #[test]
    fn gemm_into_accumulates() {
        let a = Tensor::<f64>::randn([5, 3], 30);
        let b = Tensor::<f64>::randn([3, 4], 31);
        let c0 = Tensor::<f64>::randn([5, 4], 32);
        let mut c = c0.clone();
        Tensor::gemm_into(2.0, &a, &b, 0.5, &mut c).unwrap();
        let (ab, mag) = naive(&a.to_vec(), &b.to_vec(), 5, 3, 4);
        let want: Vec<f64> = ab
            .iter()
            .zip(c0.to_vec())
            .map(|(x, y)| 2.0 * x + 0.5 * y)
            .collect();
        let scale: Vec<f64> = mag
            .iter()
            .zip(c0.to_vec())
            .map(|(m, y)| 2.0 * m + y.abs())
            .collect();
        check_close(&c, &want, &scale, 1e-14);
        // c0 was shared with c: copy-on-write left it untouched.
        assert_ne!(c0.to_vec(), c.to_vec());
        // beta = 0 ignores NaN in C; k = 0 scales C by beta.
        let mut cn = Tensor::<f64>::full([5, 4], f64::NAN);
        Tensor::gemm_into(1.0, &a, &b, 0.0, &mut cn).unwrap();
        check_close(&cn, &ab, &mag, 1e-14);
        let mut ck = Tensor::<f64>::full([2, 2], 3.0);
        Tensor::gemm_into(
            1.0,
            &Tensor::zeros([2, 0]),
            &Tensor::zeros([0, 2]),
            2.0,
            &mut ck,
        )
        .unwrap();
        assert_eq!(ck.to_vec(), vec![6.0; 4]);
        // Transposed operands and a non-contiguous C.
        let mut ct = transposed(&Tensor::<f64>::zeros([4, 5]));
        Tensor::gemm_into(1.0, &transposed(&transposed(&a)), &b, 0.0, &mut ct).unwrap();
        check_close(&ct, &ab, &mag, 1e-14);
        // Errors.
        let mut bad = Tensor::<f64>::zeros([5, 5]);
        assert!(Tensor::gemm_into(1.0, &a, &b, 0.0, &mut bad).is_err());
        assert!(Tensor::gemm_into(1.0, &a, &a, 0.0, &mut c).is_err());
        let mut v = Tensor::<f64>::zeros([5]);
        assert!(Tensor::gemm_into(1.0, &a, &b, 0.0, &mut v).is_err());
    }

    /// `t` as a non-contiguous view with the same values: stored transposed (kind 1),
    /// embedded in a bigger tensor with rows reversed and every other column skipped
    /// (negative and non-unit strides, kind 2), or the left half of a wider one (kind 3).
    fn strided_copy<T: Float>(t: &Tensor<T>, kind: usize) -> Tensor<T> {
        let (r, c) = (t.shape()[0], t.shape()[1]);
        match kind {
            0 => t.clone(),
            1 => transposed(&transposed(t).contiguous()),
            3 => {
                // Rows of a wider matrix: unit column stride, row stride 2c.
                let v = t.to_f64_vec();
                let mut big = vec![f64::NAN; r * 2 * c];
                for i in 0..r {
                    big[i * 2 * c..i * 2 * c + c].copy_from_slice(&v[i * c..(i + 1) * c]);
                }
                let big = Tensor::<T>::from_f64s(&big, [r, 2 * c]).unwrap();
                Tensor::from_shared(big.array().clone().slice_move(s![.., ..c]).into_dyn())
            }
            _ => {
                let v = t.to_f64_vec();
                let mut big = vec![f64::NAN; r * 2 * c];
                for i in 0..r {
                    for j in 0..c {
                        big[(r - 1 - i) * 2 * c + 2 * j] = v[i * c + j];
                    }
                }
                let big = Tensor::<T>::from_f64s(&big, [r, 2 * c]).unwrap();
                Tensor::from_shared(big.array().clone().slice_move(s![..;-1, ..;2]).into_dyn())
            }
        }
    }

    #[test]
    fn packed_gemm_odd_shapes_and_layouts_f32() {
        // Edge tiles in M (tile height 6) and N (tile width 16), tiny K, and K above one
        // packed block (1024) so C is updated twice.
        let shapes = [
            (1, 1, 1),
            (5, 2, 15),
            (6, 3, 16),
            (7, 17, 17),
            (13, 1, 33),
            (145, 31, 9),
            (12, 1100, 18),
            (37, 64, 130),
            // One to four rows with contiguous row-major B skip packing; same bits as packed.
            (1, 784, 256),
            (2, 1100, 37),
            (3, 5, 70),
            (4, 33, 16),
        ];
        for (idx, &(m, k, n)) in shapes.iter().enumerate() {
            let a = Tensor::<f32>::randn([m, k], 40 + idx as u64);
            let b = Tensor::<f32>::randn([k, n], 60 + idx as u64);
            let (want, mag) = naive(&a.to_f64_vec(), &b.to_f64_vec(), m, k, n);
            let reference = a.matmul(&b).unwrap();
            check_close(&reference, &want, &mag, 2e-6);
            // Packing makes the layout invisible: every stride combination gives the same bits.
            for ka in 0..4 {
                for kb in 0..4 {
                    let (av, bv) = (strided_copy(&a, ka), strided_copy(&b, kb));
                    assert_eq!(av.to_vec(), a.to_vec());
                    let c = av.matmul(&bv).unwrap();
                    assert_eq!(
                        c.to_vec(),
                        reference.to_vec(),
                        "case {idx}, layouts {ka}/{kb}"
                    );
                }
            }
        }
    }

    #[test]
    fn packed_gemm_wide_b_splits_columns() {
        // K·N above the 4 Mi-element packing limit: B is packed in two column blocks.
        let (m, k, n) = (7, 2000, 2100);
        let a = Tensor::<f32>::randn([m, k], 70);
        let b = Tensor::<f32>::randn([k, n], 71);
        let c = a.matmul(&b).unwrap();
        let (want, mag) = naive(&a.to_f64_vec(), &b.to_f64_vec(), m, k, n);
        check_close(&c, &want, &mag, 2e-6);
    }

    #[test]
    fn gemm_into_alpha_beta_f32_across_k_blocks() {
        // K = 1100 is two packed blocks: beta must be applied once, alpha to both. Three rows
        // with row-major B take the unpacked few-rows path.
        for (m, row_major_b) in [(13, false), (3, true), (3, false)] {
            gemm_into_alpha_beta_case(m, row_major_b);
        }
    }

    fn gemm_into_alpha_beta_case(m: usize, row_major_b: bool) {
        let (k, n) = (1100, 21);
        let a = Tensor::<f32>::randn([m, k], 80);
        let b = transposed(&Tensor::<f32>::randn([n, k], 81));
        let b = if row_major_b { b.contiguous() } else { b };
        let c0 = Tensor::<f32>::randn([m, n], 82);
        let (ab, mag) = naive(&a.to_f64_vec(), &b.contiguous().to_f64_vec(), m, k, n);
        let c0v = c0.to_f64_vec();
        for (alpha, beta) in [(0.5f32, -2.0f32), (1.0, 1.0), (-1.5, 0.0), (2.0, 0.25)] {
            let mut c = c0.clone();
            Tensor::gemm_into(alpha, &a, &b, beta, &mut c).unwrap();
            let (al, be) = (f64::from(alpha), f64::from(beta));
            let want: Vec<f64> = ab.iter().zip(&c0v).map(|(x, y)| al * x + be * y).collect();
            let scale: Vec<f64> = mag
                .iter()
                .zip(&c0v)
                .map(|(s, y)| al.abs() * s + (be * y).abs())
                .collect();
            check_close(&c, &want, &scale, 2e-6);
        }
        // beta = 0 never reads C, even NaN.
        let mut cn = Tensor::<f32>::full([m, n], f32::NAN);
        Tensor::gemm_into(1.0, &a, &b, 0.0, &mut cn).unwrap();
        check_close(&cn, &ab, &mag, 2e-6);
    }

    #[test]
    fn matmul_nan_and_inf_propagate() {
        let a = Tensor::<f32>::from_f64s(&[f64::NAN, 1.0, 1e38, 1e38], [2, 2]).unwrap();
        let b = Tensor::<f32>::from_f64s(&[1.0, 0.0, 10.0, 1.0], [2, 2]).unwrap();
        let c = a.matmul(&b).unwrap().to_vec();
        assert!(c[0].is_nan() && c[1].is_nan());
        assert!(c[2].is_infinite());
    }
}
