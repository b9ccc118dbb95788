//! Convolution support for NHWC images (the Keras layout) with kernels `[KH, KW, C_in, C_out]`:
//! window geometry, im2col / col2im, and 2-D / 1-D convolution forward and backward passes as
//! GEMMs.
//!
//! The forward pass is `im2col(x) · W` where `W` is the kernel seen as a
//! `[KH·KW·C_in, C_out]` matrix (no copy); the backward pass is
//! `dW = im2col(x)ᵀ · dY` and `dX = col2im(dY · Wᵀ)`. The im2col matrix is never built whole:
//! each task fills a cache-sized block of it and multiplies that block right away, so memory
//! stays bounded and the GEMM reads from cache. Block and chunk sizes that affect rounding
//! depend only on the shapes, never on the thread count, so results are reproducible.

use ndarray::{ArrayView2, IxDyn};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ops::matmul::gemm_rows;
use crate::{parallel, Float, Result, Tensor, TensorError};

/// Upper bound, in bytes, of the im2col-sized buffers alive at once in
/// [`Tensor::conv2d_backward`] (at least one image is always processed at a time).
pub const IM2COL_MAX_BYTES: usize = 64 << 20;

/// Target size in bytes of one task's im2col block: small enough to stay in a core's L2 cache
/// between being written and being packed by the GEMM (a large im2col matrix makes the GEMM
/// memory-bound).
const BLOCK_BYTES: usize = 512 << 10;

/// Rows of `im2col(x)` per partial product when accumulating the kernel gradient
/// `im2col(x)ᵀ · dY` (rounded to whole output rows). The reduction over rows is split into
/// chunks of this fixed size, computed in parallel and added in chunk order, so the result
/// does not depend on the thread count.
const KERNEL_GRAD_CHUNK_ROWS: usize = 4096;

/// Kernel-gradient chunks computed at once (bounds the memory held by partial products).
const KERNEL_GRAD_GROUP: usize = 16;

/// Padding mode, as Keras names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Padding {
    /// No padding: the output covers only full windows.
    Valid,
    /// Zero padding so that `out = ceil(in / stride)`, split as TensorFlow does (extra on the
    /// bottom/right).
    Same,
}

/// The geometry of a 2-D convolution or pooling window over an NHWC image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conv2dGeometry {
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Kernel (window) height.
    pub k_h: usize,
    /// Kernel (window) width.
    pub k_w: usize,
    /// Vertical stride.
    pub stride_h: usize,
    /// Horizontal stride.
    pub stride_w: usize,
    /// Zero rows added on top.
    pub pad_top: usize,
    /// Zero columns added on the left.
    pub pad_left: usize,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
}

/// `(out, pad_before, pad_total)` along one axis.
fn axis_geometry(
    op: &'static str,
    what: &str,
    input: usize,
    k: usize,
    stride: usize,
    padding: Padding,
) -> Result<(usize, usize, usize)> {
    if stride == 0 {
        return Err(TensorError::invalid(
            op,
            format!("{what} stride must be at least 1"),
        ));
    }
    if k == 0 {
        return Err(TensorError::invalid(
            op,
            format!("{what} window size must be at least 1"),
        ));
    }
    match padding {
        Padding::Valid => {
            if k > input {
                return Err(TensorError::invalid(
                    op,
                    format!(
                        "{what} window {k} is larger than the input {what} {input} with \
                         valid padding"
                    ),
                ));
            }
            Ok(((input - k) / stride + 1, 0, 0))
        }
        Padding::Same => {
            let out = input.div_ceil(stride);
            let total = if out == 0 {
                0
            } else {
                ((out - 1) * stride + k).saturating_sub(input)
            };
            Ok((out, total / 2, total))
        }
    }
}

impl Conv2dGeometry {
    /// The geometry of a `k_h × k_w` window sliding with the given strides over an
    /// `in_h × in_w` image. `Valid`: `out = (in − k) / stride + 1`; `Same`:
    /// `out = ceil(in / stride)` with `max((out − 1)·stride + k − in, 0)` zeros split as
    /// TensorFlow does (the smaller half on top/left).
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for a zero stride or window, or a window larger than
    /// the input with `Valid` padding.
    pub fn new(
        in_h: usize,
        in_w: usize,
        k_h: usize,
        k_w: usize,
        stride_h: usize,
        stride_w: usize,
        padding: Padding,
    ) -> Result<Self> {
        Self::checked(
            "conv2d_geometry",
            in_h,
            in_w,
            (k_h, k_w),
            (stride_h, stride_w),
            padding,
        )
    }

    /// As [`Conv2dGeometry::new`], errors naming `op`.
    pub(crate) fn checked(
        op: &'static str,
        in_h: usize,
        in_w: usize,
        (k_h, k_w): (usize, usize),
        (stride_h, stride_w): (usize, usize),
        padding: Padding,
    ) -> Result<Self> {
        let (out_h, pad_top, _) = axis_geometry(op, "height", in_h, k_h, stride_h, padding)?;
        let (out_w, pad_left, _) = axis_geometry(op, "width", in_w, k_w, stride_w, padding)?;
        Ok(Conv2dGeometry {
            in_h,
            in_w,
            k_h,
            k_w,
            stride_h,
            stride_w,
            pad_top,
            pad_left,
            out_h,
            out_w,
        })
    }

    /// Zero rows added at the bottom (the rest of the `Same` padding).
    pub fn pad_bottom(&self) -> usize {
        ((self.out_h.saturating_sub(1)) * self.stride_h + self.k_h)
            .saturating_sub(self.in_h + self.pad_top)
    }

    /// Zero columns added on the right.
    pub fn pad_right(&self) -> usize {
        ((self.out_w.saturating_sub(1)) * self.stride_w + self.k_w)
            .saturating_sub(self.in_w + self.pad_left)
    }

    /// Columns of the im2col matrix for `channels` input channels: `k_h · k_w · channels`.
    pub fn patch_len(&self, channels: usize) -> usize {
        self.k_h * self.k_w * channels
    }

    /// Output positions per image, `out_h · out_w`.
    pub fn out_len(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Whether im2col is the identity (1×1 window, unit strides, no padding).
    fn is_pointwise(&self) -> bool {
        self.k_h == 1
            && self.k_w == 1
            && self.stride_h == 1
            && self.stride_w == 1
            && self.out_h == self.in_h
            && self.out_w == self.in_w
    }

    /// For output row `oh`: the first window row `kh0` inside the image and the matching input
    /// row range `h0..h1` (window rows `kh0..kh0 + (h1 − h0)`).
    #[inline]
    pub(crate) fn rows_of(&self, oh: usize) -> (usize, usize, usize) {
        clamp_window(oh * self.stride_h, self.pad_top, self.k_h, self.in_h)
    }

    /// For output column `ow`: `(kw0, w0, w1)` as [`Conv2dGeometry::rows_of`].
    #[inline]
    pub(crate) fn cols_of(&self, ow: usize) -> (usize, usize, usize) {
        clamp_window(ow * self.stride_w, self.pad_left, self.k_w, self.in_w)
    }
}

/// A window starting at padded position `start` (input position `start − pad`) of size `k`,
/// clamped to `0..len`: `(first window index inside, input begin, input end)`; an empty range
/// (`begin == end`) if it lies entirely in the padding.
#[inline]
fn clamp_window(start: usize, pad: usize, k: usize, len: usize) -> (usize, usize, usize) {
    let k0 = pad.saturating_sub(start);
    let begin = (start + k0).saturating_sub(pad).min(len);
    let end = (start + k).saturating_sub(pad).min(len).max(begin);
    (k0, begin, end)
}

/// Fills the im2col rows of output row `oh` of image `n` (`dst` holds `out_w` rows of
/// `patch` columns), padding with zeros.
fn im2col_row<T: Float>(x: &[T], c: usize, g: &Conv2dGeometry, n: usize, oh: usize, dst: &mut [T]) {
    let patch = g.patch_len(c);
    let kwc = g.k_w * c;
    let (kh0, h0, h1) = g.rows_of(oh);
    for (ow, row) in dst.chunks_mut(patch).enumerate() {
        let (kw0, w0, w1) = g.cols_of(ow);
        let width = (w1 - w0) * c;
        for (kh, seg) in row.chunks_mut(kwc).enumerate() {
            if kh < kh0 || kh >= kh0 + (h1 - h0) || width == 0 {
                seg.fill(T::zero());
                continue;
            }
            let ih = h0 + kh - kh0;
            let src = ((n * g.in_h + ih) * g.in_w + w0) * c;
            let lo = kw0 * c;
            seg[..lo].fill(T::zero());
            seg[lo..lo + width].copy_from_slice(&x[src..src + width]);
            seg[lo + width..].fill(T::zero());
        }
    }
}

/// im2col of the output rows (`(n, oh)` pairs, numbered `n·out_h + oh`) `first_row..` of the
/// row-major NHWC buffer `x` into `out` (each output row is `out_w` im2col rows of
/// `k_h·k_w·c` columns; every element is written). Parallel over rows if `parallel` and large.
fn im2col_into<T: Float>(
    x: &[T],
    c: usize,
    g: &Conv2dGeometry,
    first_row: usize,
    out: &mut [T],
    parallel: bool,
) {
    let row_len = g.out_w * g.patch_len(c);
    if row_len == 0 {
        return;
    }
    let fill = |(i, dst): (usize, &mut [T])| {
        let r = first_row + i;
        im2col_row(x, c, g, r / g.out_h, r % g.out_h, dst);
    };
    if parallel && out.len() >= parallel::ELEMENTWISE_PAR_MIN {
        out.par_chunks_mut(row_len).enumerate().for_each(fill);
    } else {
        out.chunks_mut(row_len).enumerate().for_each(fill);
    }
}

/// The adjoint of [`im2col_into`]: accumulates the im2col-shaped `cols` (whole images) into
/// the NHWC buffer `out` (the same images, every element written). Each input row gathers its
/// contributions in a fixed order (output row, then output column), so the result does not
/// depend on how rows are distributed; parallel over rows if `parallel` and large.
fn col2im_into<T: Float>(cols: &[T], c: usize, g: &Conv2dGeometry, out: &mut [T], parallel: bool) {
    let row_len = g.in_w * c;
    if row_len == 0 {
        return;
    }
    let patch = g.patch_len(c);
    let kwc = g.k_w * c;
    let gather = |(i, dst): (usize, &mut [T])| {
        dst.fill(T::zero());
        let (n, ih) = (i / g.in_h, i % g.in_h);
        for oh in 0..g.out_h {
            let (kh0, h0, h1) = g.rows_of(oh);
            if ih < h0 || ih >= h1 {
                continue;
            }
            let kh = kh0 + ih - h0;
            for ow in 0..g.out_w {
                let (kw0, w0, w1) = g.cols_of(ow);
                let width = (w1 - w0) * c;
                let src = ((n * g.out_h + oh) * g.out_w + ow) * patch + kh * kwc + kw0 * c;
                let src = &cols[src..src + width];
                for (d, &s) in dst[w0 * c..w0 * c + width].iter_mut().zip(src) {
                    *d += s;
                }
            }
        }
    };
    if parallel && out.len() >= parallel::ELEMENTWISE_PAR_MIN {
        out.par_chunks_mut(row_len).enumerate().for_each(gather);
    } else {
        out.chunks_mut(row_len).enumerate().for_each(gather);
    }
}

/// A row-major 2-D view of `len = rows·cols` elements.
fn matrix<'a, T>(
    op: &'static str,
    data: &'a [T],
    rows: usize,
    cols: usize,
) -> Result<ArrayView2<'a, T>> {
    ArrayView2::from_shape((rows, cols), data).map_err(|e| TensorError::invalid(op, e.to_string()))
}

/// A row-major tensor with the same data as `t` in another shape (no copy when `t` is already
/// row-major).
pub(crate) fn reshaped<T: Float>(
    op: &'static str,
    t: &Tensor<T>,
    shape: &[usize],
) -> Result<Tensor<T>> {
    let a = t
        .contiguous()
        .array()
        .clone()
        .into_shape_with_order(IxDyn(shape))
        .map_err(|_| TensorError::ShapeMismatch {
            op,
            lhs: t.shape().to_vec(),
            rhs: shape.to_vec(),
        })?;
    Ok(Tensor::from_shared(a))
}

/// Checks a rank-4 operand.
fn rank4(op: &'static str, shape: &[usize]) -> Result<[usize; 4]> {
    match shape {
        &[a, b, c, d] => Ok([a, b, c, d]),
        s => Err(TensorError::RankMismatch {
            op,
            expected: "4".into(),
            shape: s.to_vec(),
        }),
    }
}

/// Validated shapes of a 2-D convolution: `([N, H, W, C], F, geometry)`.
fn conv_setup(
    op: &'static str,
    x: &[usize],
    kernel: &[usize],
    stride: (usize, usize),
    padding: Padding,
) -> Result<([usize; 4], usize, Conv2dGeometry)> {
    let [n, h, w, c] = rank4(op, x)?;
    let [kh, kw, kc, f] = rank4(op, kernel)?;
    if kc != c {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: x.to_vec(),
            rhs: kernel.to_vec(),
        });
    }
    let g = Conv2dGeometry::checked(op, h, w, (kh, kw), stride, padding)?;
    Ok(([n, h, w, c], f, g))
}

/// Block sizes of the convolution kernels (a parameter so that tests can force tiny blocks).
#[derive(Clone, Copy, Debug)]
struct Tiling {
    /// Target bytes of one task's im2col block ([`BLOCK_BYTES`]).
    block_bytes: usize,
    /// Bound on all im2col buffers alive at once ([`IM2COL_MAX_BYTES`]).
    max_bytes: usize,
}

/// The tiling used by the public functions.
const TILING: Tiling = Tiling {
    block_bytes: BLOCK_BYTES,
    max_bytes: IM2COL_MAX_BYTES,
};

/// Forward 2-D convolution: im2col of a block of output rows into a cache-sized buffer, then
/// one GEMM of that block with the kernel, the blocks in parallel. The result bits do not
/// depend on the blocking (each output is one dot product over the patch in GEMM order).
fn conv2d_impl<T: Float>(
    x: &Tensor<T>,
    kernel: &Tensor<T>,
    stride: (usize, usize),
    padding: Padding,
    tiling: Tiling,
) -> Result<Tensor<T>> {
    const OP: &str = "conv2d";
    let ([n, _, _, c], f, g) = conv_setup(OP, x.shape(), kernel.shape(), stride, padding)?;
    let out_shape = [n, g.out_h, g.out_w, f];
    let patch = g.patch_len(c);
    // Every element is written by a GEMM with beta = 0 (or the output is empty).
    let mut out = crate::buffer::for_overwrite(n * g.out_len() * f);
    if out.is_empty() || patch == 0 {
        return Tensor::from_vec(out, out_shape);
    }
    let layout = || TensorError::invalid(OP, "internal: layout");
    let x = x.contiguous();
    let xs = x.as_slice().ok_or_else(layout)?;
    let kernel = kernel.contiguous();
    let w2 = matrix(OP, kernel.as_slice().ok_or_else(layout)?, patch, f)?;
    if g.is_pointwise() {
        let x2 = matrix(OP, xs, n * g.out_len(), c)?;
        gemm_rows(T::one(), &x2, &w2, T::zero(), &mut out, usize::MAX)?;
        return Tensor::from_vec(out, out_shape);
    }
    let cols_row = g.out_w * patch; // im2col elements per output row (n, oh)
    let out_row = g.out_w * f;
    let total_rows = n * g.out_h;
    let blk = (tiling.block_bytes / (cols_row * size_of::<T>()))
        .min(total_rows)
        .max(1);
    let nblocks = total_rows.div_ceil(blk);
    let threads = parallel::threads();
    let flops = out.len().saturating_mul(patch);
    let par = nblocks > 1 && threads > 1 && flops >= parallel::GEMM_PAR_MIN_FLOPS;
    let inner = if par {
        threads.div_ceil(nblocks)
    } else {
        threads
    };
    let run = |buf: &mut Vec<T>, (b, out_blk): (usize, &mut [T])| -> Result<()> {
        let rows = out_blk.len() / out_row;
        let cols = &mut buf[..rows * cols_row];
        im2col_into(xs, c, &g, b * blk, cols, false);
        let c2 = matrix(OP, cols, rows * g.out_w, patch)?;
        gemm_rows(T::one(), &c2, &w2, T::zero(), out_blk, inner)
    };
    let new_buf = || crate::buffer::zeroed(blk * cols_row);
    if par {
        out.par_chunks_mut(blk * out_row)
            .enumerate()
            .try_for_each_init(new_buf, run)?;
    } else {
        let mut buf = new_buf();
        out.chunks_mut(blk * out_row)
            .enumerate()
            .try_for_each(|item| run(&mut buf, item))?;
    }
    Tensor::from_vec(out, out_shape)
}

/// `dk += im2col(x)ᵀ · dY` (`dk` row-major `[patch, F]`). The reduction over the
/// `n·out_h·out_w` rows is split into chunks of about [`KERNEL_GRAD_CHUNK_ROWS`] rows (whole
/// output rows), each summed block by block (cache-sized im2col blocks) into its own partial
/// product; chunks run in parallel, [`KERNEL_GRAD_GROUP`] at a time, and their partials are
/// added in chunk order. All sizes derive from the shapes, so the bits do not depend on the
/// thread count.
#[allow(clippy::too_many_arguments)]
fn kernel_grad<T: Float>(
    op: &'static str,
    xs: &[T],
    c: usize,
    g: &Conv2dGeometry,
    dys: &[T],
    f: usize,
    total_rows: usize,
    tiling: Tiling,
    dk: &mut [T],
) -> Result<()> {
    let patch = g.patch_len(c);
    let pointwise = g.is_pointwise();
    let cols_row = g.out_w * patch;
    let chunk = (KERNEL_GRAD_CHUNK_ROWS / g.out_w).max(1);
    let sub = if pointwise {
        chunk
    } else {
        (tiling.block_bytes / (cols_row * size_of::<T>()))
            .min(chunk)
            .max(1)
    };
    let nchunks = total_rows.div_ceil(chunk);
    let threads = parallel::threads();
    let flops = (total_rows * g.out_w)
        .saturating_mul(patch)
        .saturating_mul(f);
    let par = threads > 1 && nchunks > 1 && flops >= parallel::GEMM_PAR_MIN_FLOPS;
    let inner = if par {
        threads.div_ceil(nchunks.min(KERNEL_GRAD_GROUP))
    } else {
        threads
    };
    let partial = |buf: &mut Vec<T>, ci: usize| -> Result<Vec<T>> {
        let (r0, r1) = (ci * chunk, ((ci + 1) * chunk).min(total_rows));
        let mut acc = crate::buffer::zeroed(patch * f);
        let mut s0 = r0;
        while s0 < r1 {
            let s1 = (s0 + sub).min(r1);
            let rows = (s1 - s0) * g.out_w;
            let a = if pointwise {
                matrix(op, &xs[s0 * g.out_w * c..][..rows * c], rows, c)?
            } else {
                let cols = &mut buf[..rows * patch];
                im2col_into(xs, c, g, s0, cols, false);
                matrix(op, cols, rows, patch)?
            };
            let b = matrix(op, &dys[s0 * g.out_w * f..][..rows * f], rows, f)?;
            let beta = if s0 == r0 { T::zero() } else { T::one() };
            gemm_rows(T::one(), &a.t(), &b, beta, &mut acc, inner)?;
            s0 = s1;
        }
        Ok(acc)
    };
    let new_buf = || crate::buffer::zeroed(if pointwise { 0 } else { sub * cols_row });
    for first in (0..nchunks).step_by(KERNEL_GRAD_GROUP) {
        let ids = first..(first + KERNEL_GRAD_GROUP).min(nchunks);
        let parts: Vec<Vec<T>> = if par {
            ids.into_par_iter()
                .map_init(new_buf, partial)
                .collect::<Result<_>>()?
        } else {
            let mut buf = new_buf();
            ids.map(|i| partial(&mut buf, i)).collect::<Result<_>>()?
        };
        for part in &parts {
            for (d, &v) in dk.iter_mut().zip(part) {
                *d += v;
            }
        }
    }
    Ok(())
}

/// `dx = col2im(dY · Wᵀ)` (`wt` is `Wᵀ`, `[F, patch]`), by tiles of whole images: cache-sized
/// tiles in parallel when `threads` such buffers fit in `tiling.max_bytes`, else tiles of up
/// to `max_bytes` one after the other with the GEMM and col2im parallel inside. The result
/// bits do not depend on the tiling.
#[allow(clippy::too_many_arguments)]
fn input_grad<T: Float>(
    op: &'static str,
    wt: &ArrayView2<'_, T>,
    c: usize,
    g: &Conv2dGeometry,
    dys: &[T],
    f: usize,
    n: usize,
    tiling: Tiling,
    dx: &mut [T],
) -> Result<()> {
    let rows_img = g.out_len();
    if g.is_pointwise() {
        let dy2 = matrix(op, dys, n * rows_img, f)?;
        return gemm_rows(T::one(), &dy2, wt, T::zero(), dx, usize::MAX);
    }
    let patch = g.patch_len(c);
    let image = g.in_h * g.in_w * c;
    let per_image = rows_img * patch * size_of::<T>();
    let threads = parallel::threads();
    let small = per_image.saturating_mul(threads) <= tiling.max_bytes;
    let bound = if small {
        tiling.block_bytes
    } else {
        tiling.max_bytes
    };
    let tile = (bound / per_image.max(1)).min(n).max(1);
    let ntiles = n.div_ceil(tile);
    let flops = (n * rows_img).saturating_mul(patch).saturating_mul(f);
    let par = small && ntiles > 1 && threads > 1 && flops >= parallel::GEMM_PAR_MIN_FLOPS;
    let inner = if par {
        threads.div_ceil(ntiles)
    } else {
        threads
    };
    let run = |buf: &mut Vec<T>, (t, dx_tile): (usize, &mut [T])| -> Result<()> {
        let rows = dx_tile.len() / image * rows_img;
        let cols = &mut buf[..rows * patch];
        let dy2 = matrix(op, &dys[t * tile * rows_img * f..][..rows * f], rows, f)?;
        // The buffer receives dY · Wᵀ, the gradient of the im2col matrix.
        gemm_rows(T::one(), &dy2, wt, T::zero(), cols, inner)?;
        col2im_into(cols, c, g, dx_tile, !par);
        Ok(())
    };
    let new_buf = || crate::buffer::zeroed(tile * rows_img * patch);
    if par {
        dx.par_chunks_mut(tile * image)
            .enumerate()
            .try_for_each_init(new_buf, run)
    } else {
        let mut buf = new_buf();
        dx.chunks_mut(tile * image)
            .enumerate()
            .try_for_each(|item| run(&mut buf, item))
    }
}

/// The operands of a 2-D convolution backward pass: each tensor is needed for one gradient
/// only (the input for the kernel gradient, the kernel for the input gradient), so either may
/// be absent, in which case its shape is given and the other gradient is skipped.
struct BackwardArgs<'a, T: Float> {
    op: &'static str,
    x_shape: &'a [usize],
    x: Option<&'a Tensor<T>>,
    k_shape: &'a [usize],
    kernel: Option<&'a Tensor<T>>,
    grad_out: &'a Tensor<T>,
    stride: (usize, usize),
    padding: Padding,
}

/// Backward 2-D convolution with an explicit tile bound: `(d_input, d_kernel)`, each computed
/// only when the tensor it needs (kernel, input) is given.
#[allow(clippy::type_complexity)]
fn conv2d_backward_impl<T: Float>(
    args: &BackwardArgs<'_, T>,
    tiling: Tiling,
) -> Result<(Option<Tensor<T>>, Option<Tensor<T>>)> {
    let op = args.op;
    let ([n, h, w, c], f, g) =
        conv_setup(op, args.x_shape, args.k_shape, args.stride, args.padding)?;
    let expected = [n, g.out_h, g.out_w, f];
    if args.grad_out.shape() != expected {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: expected.to_vec(),
            rhs: args.grad_out.shape().to_vec(),
        });
    }
    let rows_per_image = g.out_len();
    let patch = g.patch_len(c);
    let image = h * w * c;
    let mut dx = args.kernel.map(|_| crate::buffer::zeroed(n * image));
    let mut dk = args.x.map(|_| crate::buffer::zeroed(patch * f));
    let finish = |dx: Option<Vec<T>>, dk: Option<Vec<T>>| -> Result<_> {
        Ok((
            dx.map(|v| Tensor::from_vec(v, args.x_shape)).transpose()?,
            dk.map(|v| Tensor::from_vec(v, args.k_shape)).transpose()?,
        ))
    };
    if n * rows_per_image == 0 || patch == 0 || f == 0 {
        return finish(dx, dk);
    }
    let layout = || TensorError::invalid(op, "internal: layout");
    let x = args.x.map(|x| x.contiguous());
    let xs = x
        .as_ref()
        .map(|x| x.as_slice().ok_or_else(layout))
        .transpose()?;
    let kc = args.kernel.map(|k| k.contiguous());
    let ks = kc
        .as_ref()
        .map(|k| k.as_slice().ok_or_else(layout))
        .transpose()?;
    // Wᵀ, [F, patch]
    let wt = ks
        .map(|ks| matrix(op, ks, patch, f).map(|m| m.reversed_axes()))
        .transpose()?;
    let dy = args.grad_out.contiguous();
    let dys = dy.as_slice().ok_or_else(layout)?;

    if let (Some(xs), Some(dk)) = (xs, dk.as_mut()) {
        kernel_grad(op, xs, c, &g, dys, f, n * g.out_h, tiling, dk)?;
    }
    if let (Some(wt), Some(dx)) = (wt.as_ref(), dx.as_mut()) {
        input_grad(op, wt, c, &g, dys, f, n, tiling, dx)?;
    }
    finish(dx, dk)
}

impl<T: Float> Tensor<T> {
    /// Unfolds the windows of an NHWC batch `[N, H, W, C]` into the matrix
    /// `[N·OH·OW, KH·KW·C]`, one row per output position, columns ordered `(kh, kw, c)` so that
    /// it multiplies the kernel reshaped to `[KH·KW·C, F]`. Padding contributes zeros.
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] if `self` is not 4-D, [`TensorError::ShapeMismatch`] if
    /// its spatial size differs from the geometry's input size.
    pub fn im2col(&self, g: &Conv2dGeometry) -> Result<Tensor<T>> {
        const OP: &str = "im2col";
        let [n, h, w, c] = rank4(OP, self.shape())?;
        if (h, w) != (g.in_h, g.in_w) {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: self.shape().to_vec(),
                rhs: vec![n, g.in_h, g.in_w, c],
            });
        }
        let rows = n * g.out_len();
        let patch = g.patch_len(c);
        let mut out = crate::buffer::zeroed(rows * patch);
        let x = self.contiguous();
        let xs = x
            .as_slice()
            .ok_or_else(|| TensorError::invalid(OP, "internal: layout"))?;
        im2col_into(xs, c, g, 0, &mut out, true);
        Tensor::from_vec(out, [rows, patch])
    }

    /// The adjoint of [`Tensor::im2col`]: folds a `[N·OH·OW, KH·KW·C]` matrix back into an
    /// NHWC batch `[N, H, W, C]`, adding the contributions of overlapping windows (and
    /// dropping those that fall in the padding).
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] naming `col2im` if `cols` is not
    /// `[n·out_h·out_w, k_h·k_w·c]`.
    pub fn col2im(cols: &Tensor<T>, n: usize, c: usize, g: &Conv2dGeometry) -> Result<Tensor<T>> {
        const OP: &str = "col2im";
        let expected = [n * g.out_len(), g.patch_len(c)];
        if cols.shape() != expected {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: cols.shape().to_vec(),
                rhs: expected.to_vec(),
            });
        }
        let mut out = crate::buffer::zeroed(n * g.in_h * g.in_w * c);
        let cols = cols.contiguous();
        let cs = cols
            .as_slice()
            .ok_or_else(|| TensorError::invalid(OP, "internal: layout"))?;
        col2im_into(cs, c, g, &mut out, true);
        Tensor::from_vec(out, [n, g.in_h, g.in_w, c])
    }

    /// 2-D convolution (cross-correlation, as Keras): NHWC input `[N, H, W, C]`, kernel
    /// `[KH, KW, C, F]`, output `[N, OH, OW, F]` = `im2col(x) · kernel`, tiled over the
    /// batch so that the im2col buffer stays under [`IM2COL_MAX_BYTES`]; a 1×1 unit-stride
    /// kernel multiplies the input directly.
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] for non-4-D operands, [`TensorError::ShapeMismatch`]
    /// naming `conv2d` and both shapes if the channels differ, [`TensorError::InvalidArgument`]
    /// for a zero stride or a kernel larger than the input with `Valid` padding.
    pub fn conv2d(
        &self,
        kernel: &Tensor<T>,
        stride: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor<T>> {
        conv2d_impl(self, kernel, stride, padding, TILING)
    }

    /// Gradients of [`Tensor::conv2d`] with respect to its input and kernel given the output
    /// gradient `grad_out` `[N, OH, OW, F]`: `(d_input [N, H, W, C], d_kernel [KH, KW, C, F])`
    /// with `d_kernel = im2col(x)ᵀ · dY` and `d_input = col2im(dY · Wᵀ)`.
    ///
    /// # Errors
    /// As [`Tensor::conv2d`], plus [`TensorError::ShapeMismatch`] if `grad_out` does not
    /// have the output shape.
    pub fn conv2d_backward(
        input: &Tensor<T>,
        kernel: &Tensor<T>,
        grad_out: &Tensor<T>,
        stride: (usize, usize),
        padding: Padding,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let args = BackwardArgs {
            op: "conv2d_backward",
            x_shape: input.shape(),
            x: Some(input),
            k_shape: kernel.shape(),
            kernel: Some(kernel),
            grad_out,
            stride,
            padding,
        };
        match conv2d_backward_impl(&args, TILING)? {
            (Some(dx), Some(dk)) => Ok((dx, dk)),
            _ => Err(TensorError::invalid(
                "conv2d_backward",
                "internal: missing gradient",
            )),
        }
    }

    /// Only the input gradient of [`Tensor::conv2d`], `col2im(dY · Wᵀ)` (`[N, H, W, C]` =
    /// `input_shape`); skips the im2col of the input and the kernel-gradient product.
    ///
    /// # Errors
    /// As [`Tensor::conv2d_backward`] (naming `conv2d_backward_input`).
    pub fn conv2d_backward_input(
        input_shape: &[usize],
        kernel: &Tensor<T>,
        grad_out: &Tensor<T>,
        stride: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor<T>> {
        const OP: &str = "conv2d_backward_input";
        let args = BackwardArgs {
            op: OP,
            x_shape: input_shape,
            x: None,
            k_shape: kernel.shape(),
            kernel: Some(kernel),
            grad_out,
            stride,
            padding,
        };
        conv2d_backward_impl(&args, TILING)?
            .0
            .ok_or_else(|| TensorError::invalid(OP, "internal: missing gradient"))
    }

    /// Only the kernel gradient of [`Tensor::conv2d`], `im2col(x)ᵀ · dY` (`[KH, KW, C, F]` =
    /// `kernel_shape`); for layers whose input needs no gradient (e.g. the first layer).
    ///
    /// # Errors
    /// As [`Tensor::conv2d_backward`] (naming `conv2d_backward_kernel`).
    pub fn conv2d_backward_kernel(
        input: &Tensor<T>,
        kernel_shape: &[usize],
        grad_out: &Tensor<T>,
        stride: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor<T>> {
        const OP: &str = "conv2d_backward_kernel";
        let args = BackwardArgs {
            op: OP,
            x_shape: input.shape(),
            x: Some(input),
            k_shape: kernel_shape,
            kernel: None,
            grad_out,
            stride,
            padding,
        };
        conv2d_backward_impl(&args, TILING)?
            .1
            .ok_or_else(|| TensorError::invalid(OP, "internal: missing gradient"))
    }

    /// 1-D convolution: input `[N, L, C]`, kernel `[K, C, F]`, output `[N, OL, F]`; the 2-D
    /// path with height 1.
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] for operands that are not 3-D, otherwise as
    /// [`Tensor::conv2d`] (naming `conv1d`).
    pub fn conv1d(&self, kernel: &Tensor<T>, stride: usize, padding: Padding) -> Result<Tensor<T>> {
        let (x4, k4) = conv1d_as_2d("conv1d", self, kernel)?;
        let y = x4
            .conv2d(&k4, (1, stride), padding)
            .map_err(|e| rename(e, "conv1d"))?;
        let s = y.shape().to_vec();
        reshaped("conv1d", &y, &[s[0], s[2], s[3]])
    }

    /// Gradients of [`Tensor::conv1d`]: `(d_input [N, L, C], d_kernel [K, C, F])` given
    /// `grad_out` `[N, OL, F]`.
    ///
    /// # Errors
    /// As [`Tensor::conv1d`], plus [`TensorError::ShapeMismatch`] if `grad_out` does not have
    /// the output shape.
    pub fn conv1d_backward(
        input: &Tensor<T>,
        kernel: &Tensor<T>,
        grad_out: &Tensor<T>,
        stride: usize,
        padding: Padding,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        const OP: &str = "conv1d_backward";
        let (x4, k4) = conv1d_as_2d(OP, input, kernel)?;
        let gs = grad_out.shape();
        if gs.len() != 3 {
            return Err(TensorError::RankMismatch {
                op: OP,
                expected: "3".into(),
                shape: gs.to_vec(),
            });
        }
        let g4 = reshaped(OP, grad_out, &[gs[0], 1, gs[1], gs[2]])?;
        let (dx, dk) = Self::conv2d_backward(&x4, &k4, &g4, (1, stride), padding)
            .map_err(|e| rename(e, OP))?;
        Ok((
            reshaped(OP, &dx, input.shape())?,
            reshaped(OP, &dk, kernel.shape())?,
        ))
    }
}

/// `[N, L, C]` and `[K, C, F]` viewed as `[N, 1, L, C]` and `[1, K, C, F]`.
fn conv1d_as_2d<T: Float>(
    op: &'static str,
    x: &Tensor<T>,
    kernel: &Tensor<T>,
) -> Result<(Tensor<T>, Tensor<T>)> {
    let (xs, ks) = (x.shape(), kernel.shape());
    for s in [xs, ks] {
        if s.len() != 3 {
            return Err(TensorError::RankMismatch {
                op,
                expected: "3".into(),
                shape: s.to_vec(),
            });
        }
    }
    Ok((
        reshaped(op, x, &[xs[0], 1, xs[1], xs[2]])?,
        reshaped(op, kernel, &[1, ks[0], ks[1], ks[2]])?,
    ))
}

/// The same error attributed to `op`.
pub(crate) fn rename(e: TensorError, op: &'static str) -> TensorError {
    match e {
        TensorError::ShapeMismatch { lhs, rhs, .. } => TensorError::ShapeMismatch { op, lhs, rhs },
        TensorError::InvalidArgument { message, .. } => {
            TensorError::InvalidArgument { op, message }
        }
        TensorError::RankMismatch {
            expected, shape, ..
        } => TensorError::RankMismatch {
            op,
            expected,
            shape,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive direct convolution in f64 over row-major buffers.
    fn naive_conv(
        x: &[f64],
        [n, h, w, c]: [usize; 4],
        k: &[f64],
        [kh, kw, f]: [usize; 3],
        g: &Conv2dGeometry,
    ) -> Vec<f64> {
        let mut out = vec![0.0; n * g.out_h * g.out_w * f];
        for b in 0..n {
            for oh in 0..g.out_h {
                for ow in 0..g.out_w {
                    for o in 0..f {
                        let mut s = 0.0;
                        for i in 0..kh {
                            for j in 0..kw {
                                let ih = (oh * g.stride_h + i) as isize - g.pad_top as isize;
                                let iw = (ow * g.stride_w + j) as isize - g.pad_left as isize;
                                if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                                    continue;
                                }
                                for ch in 0..c {
                                    let xv = x[((b * h + ih as usize) * w + iw as usize) * c + ch];
                                    s += xv * k[((i * kw + j) * c + ch) * f + o];
                                }
                            }
                        }
                        out[((b * g.out_h + oh) * g.out_w + ow) * f + o] = s;
                    }
                }
            }
        }
        out
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn conv2d_geometry_valid_same_and_errors() {
        let g = Conv2dGeometry::new(7, 6, 3, 2, 2, 1, Padding::Valid).unwrap();
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (3, 5, 0, 0));
        // Same: out = ceil(in/stride); total pad = (out-1)*s + k - in split top = total/2.
        let g = Conv2dGeometry::new(7, 6, 4, 3, 2, 2, Padding::Same).unwrap();
        // h: out 4, total (3*2+4-7)=3, top 1, bottom 2; w: out 3, total (2*2+3-6)=1, left 0.
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (4, 3, 1, 0));
        assert_eq!((g.pad_bottom(), g.pad_right()), (2, 1));
        let g = Conv2dGeometry::new(5, 5, 1, 1, 3, 3, Padding::Same).unwrap();
        assert_eq!((g.out_h, g.pad_top, g.pad_bottom()), (2, 0, 0));
        assert!(Conv2dGeometry::new(3, 3, 4, 1, 1, 1, Padding::Valid).is_err());
        assert!(Conv2dGeometry::new(3, 3, 4, 1, 1, 1, Padding::Same).is_ok());
        assert!(Conv2dGeometry::new(3, 3, 1, 1, 0, 1, Padding::Same).is_err());
        assert!(Conv2dGeometry::new(3, 3, 0, 1, 1, 1, Padding::Same).is_err());
    }

    #[test]
    fn conv2d_matches_naive_direct_convolution() {
        let mut seed = 0;
        for &(n, h, w, c, kh, kw, f) in &[
            (2, 7, 5, 1, 3, 3, 2),
            (1, 6, 9, 3, 2, 4, 3),
            (3, 5, 5, 3, 5, 1, 1),
            (1, 1, 1, 1, 1, 1, 1),
        ] {
            for stride in [(1, 1), (2, 2), (2, 1)] {
                for padding in [Padding::Valid, Padding::Same] {
                    seed += 1;
                    let x = Tensor::<f64>::randn([n, h, w, c], seed);
                    let k = Tensor::<f64>::randn([kh, kw, c, f], seed + 1000);
                    let g = Conv2dGeometry::new(h, w, kh, kw, stride.0, stride.1, padding).unwrap();
                    let y = x.conv2d(&k, stride, padding).unwrap();
                    assert_eq!(y.shape(), &[n, g.out_h, g.out_w, f]);
                    let want = naive_conv(&x.to_vec(), [n, h, w, c], &k.to_vec(), [kh, kw, f], &g);
                    for (a, b) in y.to_vec().iter().zip(&want) {
                        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
                    }
                    // f32 agrees to single precision.
                    let y32 = x
                        .cast::<f32>()
                        .conv2d(&k.cast::<f32>(), stride, padding)
                        .unwrap();
                    for (a, b) in y32.to_f64_vec().iter().zip(&want) {
                        assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn conv2d_pointwise_noncontiguous_and_blocked() {
        // 1x1 unit-stride kernel (no im2col), on a transposed (non-contiguous) input.
        let base = Tensor::<f64>::randn([2, 4, 3, 5], 1);
        let x = Tensor::from_shared(base.array().clone().permuted_axes(vec![0, 2, 1, 3]));
        assert!(!x.is_contiguous());
        let k = Tensor::<f64>::randn([1, 1, 5, 2], 2);
        let g = Conv2dGeometry::new(3, 4, 1, 1, 1, 1, Padding::Same).unwrap();
        let want = naive_conv(
            &x.contiguous().to_vec(),
            [2, 3, 4, 5],
            &k.to_vec(),
            [1, 1, 2],
            &g,
        );
        let y = x.conv2d(&k, (1, 1), Padding::Same).unwrap();
        for (a, b) in y.to_vec().iter().zip(&want) {
            assert!((a - b).abs() < 1e-12);
        }
        // Any blocking gives the same forward and input-gradient bits; the kernel gradient
        // only changes by rounding (its sub-block sums depend on the block size).
        let x = Tensor::<f32>::randn([8, 24, 24, 4], 3);
        let k = Tensor::<f32>::randn([3, 3, 4, 32], 4);
        let dy = Tensor::<f32>::randn([8, 24, 12, 32], 5);
        let args = BackwardArgs {
            op: "t",
            x_shape: x.shape(),
            x: Some(&x),
            k_shape: k.shape(),
            kernel: Some(&k),
            grad_out: &dy,
            stride: (1, 2),
            padding: Padding::Same,
        };
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (ya, dxa, dka) = two.install(|| {
            let y = x.conv2d(&k, (1, 2), Padding::Same).unwrap();
            let (dx, dk) = Tensor::conv2d_backward(&x, &k, &dy, (1, 2), Padding::Same).unwrap();
            (y, dx, dk)
        });
        for (block_bytes, max_bytes) in [(1, 1), (1, usize::MAX), (usize::MAX, usize::MAX)] {
            let tiling = Tiling {
                block_bytes,
                max_bytes,
            };
            let (y, (dx, dk)) = two.install(|| {
                (
                    conv2d_impl(&x, &k, (1, 2), Padding::Same, tiling).unwrap(),
                    conv2d_backward_impl(&args, tiling).unwrap(),
                )
            });
            assert_eq!(y.to_vec(), ya.to_vec(), "{tiling:?}");
            assert_eq!(dx.unwrap().to_vec(), dxa.to_vec(), "{tiling:?}");
            assert!(dk.unwrap().allclose(&dka, 1e-4, 1e-4), "{tiling:?}");
        }
        // The single-gradient variants agree bit for bit with the full backward pass.
        let dxi = Tensor::conv2d_backward_input(x.shape(), &k, &dy, (1, 2), Padding::Same).unwrap();
        let dkk =
            Tensor::conv2d_backward_kernel(&x, k.shape(), &dy, (1, 2), Padding::Same).unwrap();
        assert_eq!(dxi.to_vec(), dxa.to_vec());
        assert_eq!(dkk.to_vec(), dka.to_vec());
        let e = Tensor::conv2d_backward_input(&[5, 6, 7, 3], &k, &dy, (1, 2), Padding::Same)
            .unwrap_err();
        assert!(e.to_string().contains("conv2d_backward_input"), "{e}");
        assert!(
            Tensor::conv2d_backward_kernel(&x, &[3, 3, 2], &dy, (1, 2), Padding::Same).is_err()
        );
    }

    #[test]
    fn im2col_col2im_adjoint_identity() {
        for (i, &(h, w, c, kh, kw, s, padding)) in [
            (5, 7, 3, 3, 3, (1, 1), Padding::Same),
            (6, 5, 2, 2, 3, (2, 2), Padding::Valid),
            (7, 7, 1, 3, 2, (2, 3), Padding::Same),
            (4, 4, 2, 1, 1, (3, 3), Padding::Same),
        ]
        .iter()
        .enumerate()
        {
            let n = 2;
            let g = Conv2dGeometry::new(h, w, kh, kw, s.0, s.1, padding).unwrap();
            let x = Tensor::<f64>::randn([n, h, w, c], i as u64);
            let cols = x.im2col(&g).unwrap();
            assert_eq!(cols.shape(), &[n * g.out_len(), g.patch_len(c)]);
            let y = Tensor::<f64>::randn(cols.shape(), 100 + i as u64);
            let back = Tensor::col2im(&y, n, c, &g).unwrap();
            assert_eq!(back.shape(), &[n, h, w, c]);
            let lhs = dot(&cols.to_vec(), &y.to_vec());
            let rhs = dot(&x.to_vec(), &back.to_vec());
            assert!(
                (lhs - rhs).abs() < 1e-10 * (1.0 + lhs.abs()),
                "{lhs} vs {rhs}"
            );
        }
    }

    #[test]
    fn im2col_layout_and_errors() {
        // 1 image 3x3x1, 2x2 window, valid: first row is x[0,0], x[0,1], x[1,0], x[1,1].
        let x = Tensor::<f32>::arange(0.0, 9.0, 1.0).unwrap();
        let x = reshaped("t", &x, &[1, 3, 3, 1]).unwrap();
        let g = Conv2dGeometry::new(3, 3, 2, 2, 1, 1, Padding::Valid).unwrap();
        let cols = x.im2col(&g).unwrap();
        assert_eq!(cols.shape(), &[4, 4]);
        assert_eq!(cols.to_vec()[..8], [0.0, 1.0, 3.0, 4.0, 1.0, 2.0, 4.0, 5.0]);
        // Same padding puts zeros for the bottom/right overhang.
        let g = Conv2dGeometry::new(3, 3, 2, 2, 1, 1, Padding::Same).unwrap();
        let cols = x.im2col(&g).unwrap();
        assert_eq!(cols.to_vec()[(8) * 4..9 * 4], [8.0, 0.0, 0.0, 0.0]);
        assert!(Tensor::<f32>::zeros([1, 4, 3, 1]).im2col(&g).is_err());
        assert!(Tensor::<f32>::zeros([4, 3, 1]).im2col(&g).is_err());
        assert!(Tensor::col2im(&Tensor::<f32>::zeros([8, 4]), 1, 1, &g).is_err());
        let e = Tensor::<f32>::zeros([1, 3, 3, 2])
            .conv2d(&Tensor::zeros([2, 2, 3, 1]), (1, 1), Padding::Valid)
            .unwrap_err();
        assert!(e.to_string().contains("conv2d") && e.to_string().contains("[2, 2, 3, 1]"));
        assert!(Tensor::<f32>::zeros([1, 3, 3, 2])
            .conv2d(&Tensor::zeros([4, 2, 2, 1]), (1, 1), Padding::Valid)
            .is_err());
        assert!(Tensor::<f32>::zeros([1, 3, 3, 2])
            .conv2d(&Tensor::zeros([2, 2, 2, 1]), (0, 1), Padding::Same)
            .is_err());
    }

    #[test]
    fn conv2d_zero_sizes() {
        let y = Tensor::<f32>::zeros([0, 4, 4, 2])
            .conv2d(&Tensor::ones([3, 3, 2, 5]), (1, 1), Padding::Same)
            .unwrap();
        assert_eq!(y.shape(), &[0, 4, 4, 5]);
        let y = Tensor::<f32>::ones([2, 4, 4, 0])
            .conv2d(&Tensor::ones([3, 3, 0, 5]), (1, 1), Padding::Valid)
            .unwrap();
        assert_eq!(y.shape(), &[2, 2, 2, 5]);
        assert!(y.to_vec().iter().all(|&v| v == 0.0));
        let (dx, dk) = Tensor::conv2d_backward(
            &Tensor::<f32>::ones([0, 4, 4, 2]),
            &Tensor::ones([3, 3, 2, 5]),
            &Tensor::ones([0, 4, 4, 5]),
            (1, 1),
            Padding::Same,
        )
        .unwrap();
        assert_eq!(
            (dx.shape(), dk.shape()),
            (&[0, 4, 4, 2][..], &[3, 3, 2, 5][..])
        );
        assert!(dk.to_vec().iter().all(|&v| v == 0.0));
    }

    /// Checks `conv2d_backward` against central differences of `L = Σ y·r`.
    fn check_backward_fd(
        x: &Tensor<f64>,
        k: &Tensor<f64>,
        stride: (usize, usize),
        padding: Padding,
        seed: u64,
    ) {
        let y = x.conv2d(k, stride, padding).unwrap();
        let r = Tensor::<f64>::randn(y.shape(), seed);
        let loss = |x: &Tensor<f64>, k: &Tensor<f64>| {
            dot(&x.conv2d(k, stride, padding).unwrap().to_vec(), &r.to_vec())
        };
        let (dx, dk) = Tensor::conv2d_backward(x, k, &r, stride, padding).unwrap();
        let eps = 1e-5;
        for (t, grad, is_x) in [(x, &dx, true), (k, &dk, false)] {
            let base = t.to_vec();
            for i in 0..base.len() {
                let mut p = base.clone();
                p[i] += eps;
                let mut m = base.clone();
                m[i] -= eps;
                let tp = Tensor::from_vec(p, t.shape()).unwrap();
                let tm = Tensor::from_vec(m, t.shape()).unwrap();
                let fd = if is_x {
                    (loss(&tp, k) - loss(&tm, k)) / (2.0 * eps)
                } else {
                    (loss(x, &tp) - loss(x, &tm)) / (2.0 * eps)
                };
                let g = grad.to_vec()[i];
                assert!(
                    (fd - g).abs() < 1e-6 * (1.0 + g.abs()),
                    "index {i}: fd {fd} vs {g}"
                );
            }
        }
    }

    #[test]
    fn conv2d_backward_matches_finite_differences() {
        let x = Tensor::<f64>::randn([2, 5, 4, 2], 40);
        let k = Tensor::<f64>::randn([3, 2, 2, 3], 41);
        check_backward_fd(&x, &k, (1, 1), Padding::Same, 42);
        check_backward_fd(&x, &k, (2, 2), Padding::Valid, 43);
        check_backward_fd(&x, &k, (2, 1), Padding::Same, 44);
        let k1 = Tensor::<f64>::randn([1, 1, 2, 2], 45);
        check_backward_fd(&x, &k1, (1, 1), Padding::Valid, 46);
    }

    #[test]
    fn conv2d_backward_large_rows_split_k() {
        // More than KERNEL_GRAD_CHUNK_ROWS rows: the chunked kernel gradient vs a naive sum.
        let (n, h, w, c, f) = (2, 48, 48, 2, 3);
        let x = Tensor::<f64>::randn([n, h, w, c], 50);
        let k = Tensor::<f64>::randn([3, 3, c, f], 51);
        let dy = Tensor::<f64>::randn([n, h, w, f], 52);
        let (_, dk) = Tensor::conv2d_backward(&x, &k, &dy, (1, 1), Padding::Same).unwrap();
        let g = Conv2dGeometry::new(h, w, 3, 3, 1, 1, Padding::Same).unwrap();
        let cols = x.im2col(&g).unwrap().to_vec();
        let (dyv, patch) = (dy.to_vec(), g.patch_len(c));
        let rows = n * h * w;
        assert!(rows > KERNEL_GRAD_CHUNK_ROWS);
        for p in 0..patch {
            for o in 0..f {
                let s: f64 = (0..rows)
                    .map(|r| cols[r * patch + p] * dyv[r * f + o])
                    .sum();
                let got = dk.to_vec()[p * f + o];
                assert!((s - got).abs() < 1e-9 * (1.0 + s.abs()), "{s} vs {got}");
            }
        }
    }

    #[test]
    fn conv2d_one_vs_two_threads_bit_identical() {
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let x = Tensor::<f32>::randn([4, 40, 40, 3], 60);
        let k = Tensor::<f32>::randn([3, 3, 3, 16], 61);
        let run = || {
            let y = x.conv2d(&k, (1, 1), Padding::Same).unwrap();
            let (dx, dk) = Tensor::conv2d_backward(&x, &k, &y, (1, 1), Padding::Same).unwrap();
            (y.to_vec(), dx.to_vec(), dk.to_vec())
        };
        assert_eq!(one.install(run), two.install(run));
    }

    #[test]
    fn conv1d_matches_conv2d_and_backward() {
        let x = Tensor::<f64>::randn([2, 9, 3], 70);
        let k = Tensor::<f64>::randn([4, 3, 2], 71);
        for (stride, padding) in [(1, Padding::Valid), (2, Padding::Same), (3, Padding::Valid)] {
            let y = x.conv1d(&k, stride, padding).unwrap();
            let g = Conv2dGeometry::new(1, 9, 1, 4, 1, stride, padding).unwrap();
            assert_eq!(y.shape(), &[2, g.out_w, 2]);
            let want = naive_conv(&x.to_vec(), [2, 1, 9, 3], &k.to_vec(), [1, 4, 2], &g);
            for (a, b) in y.to_vec().iter().zip(&want) {
                assert!((a - b).abs() < 1e-12);
            }
            let dy = Tensor::<f64>::randn(y.shape(), 72);
            let (dx, dk) = Tensor::conv1d_backward(&x, &k, &dy, stride, padding).unwrap();
            assert_eq!((dx.shape(), dk.shape()), (x.shape(), k.shape()));
            // Adjointness: <dy, conv(x', k)> = <dx, x'> for the linear map x -> conv(x, k).
            let xp = Tensor::<f64>::randn(x.shape(), 73);
            let lhs = dot(
                &dy.to_vec(),
                &xp.conv1d(&k, stride, padding).unwrap().to_vec(),
            );
            assert!((lhs - dot(&dx.to_vec(), &xp.to_vec())).abs() < 1e-10 * (1.0 + lhs.abs()));
            let kp = Tensor::<f64>::randn(k.shape(), 74);
            let lhs = dot(
                &dy.to_vec(),
                &x.conv1d(&kp, stride, padding).unwrap().to_vec(),
            );
            assert!((lhs - dot(&dk.to_vec(), &kp.to_vec())).abs() < 1e-10 * (1.0 + lhs.abs()));
        }
        let e = x
            .conv1d(&Tensor::zeros([4, 2, 2]), 1, Padding::Valid)
            .unwrap_err();
        assert!(e.to_string().contains("conv1d"), "{e}");
        assert!(x
            .conv1d(&Tensor::zeros([10, 3, 2]), 1, Padding::Valid)
            .is_err());
        assert!(
            Tensor::conv1d_backward(&x, &k, &Tensor::zeros([2, 5]), 1, Padding::Valid).is_err()
        );
    }

    #[test]
    fn conv2d_nan_propagates_locally() {
        let mut x = Tensor::<f32>::zeros([1, 5, 5, 1]);
        x.array_mut()[[0, 0, 0, 0]] = f32::NAN;
        let y = x
            .conv2d(&Tensor::ones([2, 2, 1, 1]), (1, 1), Padding::Valid)
            .unwrap();
        let v = y.to_vec();
        assert!(v[0].is_nan());
        assert!(v[1..].iter().all(|a| *a == 0.0));
    }
}
