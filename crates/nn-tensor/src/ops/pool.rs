//! Pooling kernels (NHWC): max and average pooling over windows, their backward passes,
//! global pooling, and 1-D variants over `[N, L, C]` through the 2-D path.
//!
//! Windows follow [`Conv2dGeometry`]; padded positions never take part (max pooling ignores
//! them, average pooling divides by the number of real elements in the window, as Keras and
//! TensorFlow do). Each image is processed by one task in a fixed order, in parallel over the
//! batch above [`parallel::ELEMENTWISE_PAR_MIN`] input elements, so results do not depend on
//! the thread count.

use rayon::prelude::*;

use crate::ops::conv::{rename, reshaped};
use crate::{parallel, Conv2dGeometry, Float, Padding, Result, Tensor, TensorError};

/// The result of max pooling: the pooled values and, per output element, the flat index of
/// the chosen input element within its image, for the backward pass.
#[derive(Clone, Debug)]
pub struct MaxPoolOutput<T: Float> {
    /// Pooled values, `[N, OH, OW, C]` (`[N, OL, C]` for 1-D, `[N, C]` for global pooling).
    pub values: Tensor<T>,
    /// For each output element, the index into the input's `H·W·C` plane it came from.
    pub argmax: Vec<u32>,
}

/// Validated `[N, H, W, C]` of a rank-4 shape.
fn nhwc(op: &'static str, shape: &[usize]) -> Result<[usize; 4]> {
    match *shape {
        [n, h, w, c] => Ok([n, h, w, c]),
        _ => Err(TensorError::RankMismatch {
            op,
            expected: "4".into(),
            shape: shape.to_vec(),
        }),
    }
}

/// Validated `[N, L, C]` of a rank-3 shape.
fn nlc(op: &'static str, shape: &[usize]) -> Result<[usize; 3]> {
    match *shape {
        [n, l, c] => Ok([n, l, c]),
        _ => Err(TensorError::RankMismatch {
            op,
            expected: "3".into(),
            shape: shape.to_vec(),
        }),
    }
}

/// Runs `f(x, y, a, b)` for every image of a batch of `n`: the inputs `x`, `y` and the outputs
/// `a`, `b` are each split into `n` equal chunks (pass `&vec![(); n]` for an unused one); in
/// parallel over the images when the batch is large.
#[allow(clippy::type_complexity)]
fn per_image<I: Sync, J: Sync, A: Send, B: Send>(
    n: usize,
    (x, y): (&[I], &[J]),
    (a, b): (&mut [A], &mut [B]),
    f: impl Fn(&[I], &[J], &mut [A], &mut [B]) + Sync,
) {
    if n == 0 {
        return;
    }
    let size = |len: usize| (len / n).max(1);
    let (sx, sy, sa, sb) = (size(x.len()), size(y.len()), size(a.len()), size(b.len()));
    if n > 1 && x.len().max(a.len()) >= parallel::ELEMENTWISE_PAR_MIN {
        x.par_chunks(sx)
            .zip(y.par_chunks(sy))
            .zip(a.par_chunks_mut(sa))
            .zip(b.par_chunks_mut(sb))
            .for_each(|(((x, y), a), b)| f(x, y, a, b));
    } else {
        for (((x, y), a), b) in x
            .chunks(sx)
            .zip(y.chunks(sy))
            .zip(a.chunks_mut(sa))
            .zip(b.chunks_mut(sb))
        {
            f(x, y, a, b);
        }
    }
}

/// Channels handled together by the max-pool inner loop (kept in registers).
const MAX_LANES: usize = 8;

/// Max and argmax over one window for channels `c0..c0 + W`: the window's element offsets
/// (start of each pixel's channel vector) are `first` and then `rest`, in window order.
#[inline(always)]
fn window_max<T: Float, const W: usize>(
    x: &[T],
    first: usize,
    rest: impl Iterator<Item = usize>,
    c0: usize,
    vals: &mut [T],
    idx: &mut [u32],
) {
    let mut best = [T::zero(); W];
    let mut arg = [0u32; W];
    best.copy_from_slice(&x[first + c0..first + c0 + W]);
    for (j, a) in arg.iter_mut().enumerate() {
        *a = (first + c0 + j) as u32;
    }
    for p in rest {
        let base = p + c0;
        let src = &x[base..base + W];
        for j in 0..W {
            let (v, b) = (src[j], best[j]);
            // Take v if v > b, or v is NaN and b is not: strictly greater keeps the first of
            // ties, and the first NaN wins. Branch-free selects on locals, so the compiler
            // keeps them in vector registers (a branch would mispredict on random data).
            #[allow(clippy::neg_cmp_op_on_partial_ord, clippy::eq_op)]
            let take = !(v <= b) & (b == b);
            best[j] = if take { v } else { b };
            arg[j] = if take { (base + j) as u32 } else { arg[j] };
        }
    }
    vals[c0..c0 + W].copy_from_slice(&best);
    idx[c0..c0 + W].copy_from_slice(&arg);
}

/// Max over the windows of one image `x` (`H·W·C`), writing values and argmax per output.
fn max_pool_image<T: Float>(
    x: &[T],
    c: usize,
    g: &Conv2dGeometry,
    vals: &mut [T],
    idx: &mut [u32],
) {
    for oh in 0..g.out_h {
        let (_, h0, h1) = g.rows_of(oh);
        for ow in 0..g.out_w {
            let (_, w0, w1) = g.cols_of(ow);
            let o = (oh * g.out_w + ow) * c;
            let (bv, bi) = (&mut vals[o..o + c], &mut idx[o..o + c]);
            if h0 == h1 || w0 == w1 {
                // Unreachable for geometries built by `Conv2dGeometry`: every window holds a
                // real element.
                bv.fill(T::neg_infinity());
                bi.fill(0);
                continue;
            }
            let first = (h0 * g.in_w + w0) * c;
            let rest = || {
                (h0..h1)
                    .flat_map(move |ih| (w0..w1).map(move |iw| (ih * g.in_w + iw) * c))
                    .skip(1)
            };
            let mut c0 = 0;
            while c0 + MAX_LANES <= c {
                window_max::<T, MAX_LANES>(x, first, rest(), c0, bv, bi);
                c0 += MAX_LANES;
            }
            for ch in c0..c {
                window_max::<T, 1>(x, first, rest(), ch, bv, bi);
            }
        }
    }
}

/// Average over the windows of one image (dividing by the count of real elements).
fn avg_pool_image<T: Float>(x: &[T], c: usize, g: &Conv2dGeometry, out: &mut [T]) {
    for oh in 0..g.out_h {
        let (_, h0, h1) = g.rows_of(oh);
        for ow in 0..g.out_w {
            let (_, w0, w1) = g.cols_of(ow);
            let o = (oh * g.out_w + ow) * c;
            let acc = &mut out[o..o + c];
            acc.fill(T::zero());
            for ih in h0..h1 {
                let p = (ih * g.in_w + w0) * c;
                for px in x[p..p + (w1 - w0) * c].chunks(c) {
                    for (a, &v) in acc.iter_mut().zip(px) {
                        *a += v;
                    }
                }
            }
            let count = T::of(((h1 - h0) * (w1 - w0)) as f64);
            acc.iter_mut().for_each(|a| *a /= count);
        }
    }
}

/// The adjoint of [`avg_pool_image`]: spreads each output gradient over its window.
fn avg_pool_image_backward<T: Float>(gy: &[T], c: usize, g: &Conv2dGeometry, dx: &mut [T]) {
    dx.fill(T::zero());
    for oh in 0..g.out_h {
        let (_, h0, h1) = g.rows_of(oh);
        for ow in 0..g.out_w {
            let (_, w0, w1) = g.cols_of(ow);
            let o = (oh * g.out_w + ow) * c;
            let count = T::of(((h1 - h0) * (w1 - w0)) as f64);
            let grad = &gy[o..o + c];
            for ih in h0..h1 {
                let p = (ih * g.in_w + w0) * c;
                for px in dx[p..p + (w1 - w0) * c].chunks_mut(c) {
                    for (d, &gv) in px.iter_mut().zip(grad) {
                        *d += gv / count;
                    }
                }
            }
        }
    }
}

/// Checks that an `H·W·C` plane can be indexed with `u32`.
fn check_plane(op: &'static str, plane: usize) -> Result<()> {
    if plane > 1 << 32 {
        return Err(TensorError::invalid(
            op,
            format!("an image of {plane} elements is too large for u32 argmax indices"),
        ));
    }
    Ok(())
}

/// Scatters `grad` into images of `plane` elements at the `argmax` positions (one batch of `n`
/// images, each with `grad.len() / n` outputs).
fn scatter_argmax<T: Float>(
    op: &'static str,
    grad: &[T],
    argmax: &[u32],
    n: usize,
    plane: usize,
) -> Result<Vec<T>> {
    if let Some(&bad) = argmax.iter().find(|&&i| i as usize >= plane) {
        return Err(TensorError::IndexOutOfRange {
            op,
            index: i64::from(bad),
            len: plane,
        });
    }
    let mut dx = crate::buffer::zeroed(n * plane);
    per_image(
        n,
        (grad, argmax),
        (&mut dx, &mut vec![(); n]),
        |g, idx, dx, _| {
            for (&gv, &i) in g.iter().zip(idx) {
                dx[i as usize] += gv;
            }
        },
    );
    Ok(dx)
}

impl<T: Float> Tensor<T> {
    /// Max pooling of an NHWC batch `[N, H, W, C]` with windows `pool = (ph, pw)` and
    /// `stride`, giving values `[N, OH, OW, C]` and, per output element, the index of the
    /// chosen element in its image's `H·W·C` plane. Padding never wins; ties pick the first
    /// element in window (row-major) order; NaN wins (the first NaN of the window).
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] if `self` is not 4-D, [`TensorError::InvalidArgument`]
    /// for zero sizes or strides, a window larger than the input with `Valid` padding, or an
    /// image beyond `u32` indexing.
    pub fn max_pool2d(
        &self,
        pool: (usize, usize),
        stride: (usize, usize),
        padding: Padding,
    ) -> Result<MaxPoolOutput<T>> {
        const OP: &str = "max_pool2d";
        let [n, h, w, c] = nhwc(OP, self.shape())?;
        let g = Conv2dGeometry::checked(OP, h, w, pool, stride, padding)?;
        check_plane(OP, h * w * c)?;
        let len = n * g.out_len() * c;
        let mut vals = crate::buffer::for_overwrite(len);
        let mut idx = vec![0u32; len];
        let x = self.contiguous();
        let xs = x
            .as_slice()
            .ok_or_else(|| TensorError::invalid(OP, "internal: layout"))?;
        per_image(
            n,
            (xs, &vec![(); n]),
            (&mut vals, &mut idx),
            |x, _, v, i| max_pool_image(x, c, &g, v, i),
        );
        Ok(MaxPoolOutput {
            values: Tensor::from_vec(vals, [n, g.out_h, g.out_w, c])?,
            argmax: idx,
        })
    }

    /// Gradient of [`Tensor::max_pool2d`] (or [`Tensor::global_max_pool2d`]): routes each
    /// element of `grad_out` (`[N, OH, OW, C]` or `[N, C]`) to the input element its `argmax`
    /// names, adding where windows share a maximum; returns `[N, H, W, C]` = `input_shape`.
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] if `input_shape` is not 4-D,
    /// [`TensorError::ShapeMismatch`] if `grad_out` does not match the batch or channels, or
    /// `argmax` does not have one entry per gradient element,
    /// [`TensorError::IndexOutOfRange`] for an argmax outside the image.
    pub fn max_pool2d_backward(
        grad_out: &Tensor<T>,
        argmax: &[u32],
        input_shape: &[usize],
    ) -> Result<Tensor<T>> {
        const OP: &str = "max_pool2d_backward";
        let [n, h, w, c] = nhwc(OP, input_shape)?;
        max_pool_backward(OP, grad_out, argmax, input_shape, n, h * w * c, c)
    }

    /// Average pooling of an NHWC batch: `[N, H, W, C]` → `[N, OH, OW, C]`, each window
    /// divided by its number of real (non-padded) elements, as Keras does for `Same` padding.
    ///
    /// # Errors
    /// As [`Tensor::max_pool2d`] (naming `avg_pool2d`).
    pub fn avg_pool2d(
        &self,
        pool: (usize, usize),
        stride: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor<T>> {
        const OP: &str = "avg_pool2d";
        let [n, h, w, c] = nhwc(OP, self.shape())?;
        let g = Conv2dGeometry::checked(OP, h, w, pool, stride, padding)?;
        let mut out = crate::buffer::zeroed(n * g.out_len() * c);
        let x = self.contiguous();
        let xs = x
            .as_slice()
            .ok_or_else(|| TensorError::invalid(OP, "internal: layout"))?;
        per_image(
            n,
            (xs, &vec![(); n]),
            (&mut out, &mut vec![(); n]),
            |x, _, o, _| avg_pool_image(x, c, &g, o),
        );
        Tensor::from_vec(out, [n, g.out_h, g.out_w, c])
    }

    /// Gradient of [`Tensor::avg_pool2d`]: each output gradient is divided by its window's
    /// count of real elements and added to those elements. Returns `input_shape`.
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] if `input_shape` is not 4-D,
    /// [`TensorError::ShapeMismatch`] if `grad_out` is not the pooled shape, otherwise as
    /// [`Tensor::avg_pool2d`].
    pub fn avg_pool2d_backward(
        grad_out: &Tensor<T>,
        input_shape: &[usize],
        pool: (usize, usize),
        stride: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor<T>> {
        const OP: &str = "avg_pool2d_backward";
        let [n, h, w, c] = nhwc(OP, input_shape)?;
        let g = Conv2dGeometry::checked(OP, h, w, pool, stride, padding)?;
        let expected = [n, g.out_h, g.out_w, c];
        if grad_out.shape() != expected {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: grad_out.shape().to_vec(),
                rhs: expected.to_vec(),
            });
        }
        let mut dx = crate::buffer::zeroed(n * h * w * c);
        let gy = grad_out.contiguous();
        let gs = gy
            .as_slice()
            .ok_or_else(|| TensorError::invalid(OP, "internal: layout"))?;
        per_image(
            n,
            (gs, &vec![(); n]),
            (&mut dx, &mut vec![(); n]),
            |gy, _, dx, _| avg_pool_image_backward(gy, c, &g, dx),
        );
        Tensor::from_vec(dx, input_shape)
    }

    /// Mean over the spatial axes: `[N, H, W, C]` → `[N, C]` (NaN for an empty image).
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] if `self` is not 4-D.
    pub fn global_avg_pool2d(&self) -> Result<Tensor<T>> {
        const OP: &str = "global_avg_pool2d";
        let [n, h, w, c] = nhwc(OP, self.shape())?;
        let mut out = crate::buffer::zeroed(n * c);
        let x = self.contiguous();
        let xs = x
            .as_slice()
            .ok_or_else(|| TensorError::invalid(OP, "internal: layout"))?;
        let count = T::of((h * w) as f64);
        if h * w == 0 {
            out.fill(T::zero() / count);
        }
        per_image(
            n,
            (xs, &vec![(); n]),
            (&mut out, &mut vec![(); n]),
            |x, _, o, _| {
                for px in x.chunks(c) {
                    for (a, &v) in o.iter_mut().zip(px) {
                        *a += v;
                    }
                }
                o.iter_mut().for_each(|a| *a /= count);
            },
        );
        Tensor::from_vec(out, [n, c])
    }

    /// Gradient of [`Tensor::global_avg_pool2d`]: `grad_out` `[N, C]` spread evenly over
    /// `input_shape` `[N, H, W, C]`.
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] if `input_shape` is not 4-D,
    /// [`TensorError::ShapeMismatch`] if `grad_out` is not `[N, C]`.
    pub fn global_avg_pool2d_backward(
        grad_out: &Tensor<T>,
        input_shape: &[usize],
    ) -> Result<Tensor<T>> {
        const OP: &str = "global_avg_pool2d_backward";
        let [n, h, w, c] = nhwc(OP, input_shape)?;
        if grad_out.shape() != [n, c] {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: grad_out.shape().to_vec(),
                rhs: vec![n, c],
            });
        }
        let count = T::of((h * w) as f64);
        let gy = grad_out.contiguous();
        let gs = gy
            .as_slice()
            .ok_or_else(|| TensorError::invalid(OP, "internal: layout"))?;
        let mut dx = crate::buffer::zeroed(n * h * w * c);
        per_image(
            n,
            (gs, &vec![(); n]),
            (&mut dx, &mut vec![(); n]),
            |g, _, dx, _| {
                for px in dx.chunks_mut(c) {
                    for (d, &gv) in px.iter_mut().zip(g) {
                        *d = gv / count;
                    }
                }
            },
        );
        Tensor::from_vec(dx, input_shape)
    }

    /// Max over the spatial axes: values `[N, C]` and, per value, the index of its element in
    /// the image's `H·W·C` plane (same rules as [`Tensor::max_pool2d`]); the gradient goes
    /// through [`Tensor::max_pool2d_backward`] with a `[N, C]` gradient.
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] if `self` is not 4-D, [`TensorError::InvalidArgument`]
    /// for an empty image (`H·W = 0`).
    pub fn global_max_pool2d(&self) -> Result<MaxPoolOutput<T>> {
        const OP: &str = "global_max_pool2d";
        let [n, h, w, c] = nhwc(OP, self.shape())?;
        if h * w == 0 {
            return Err(TensorError::invalid(
                OP,
                format!("empty images {:?}", self.shape()),
            ));
        }
        let out = self
            .max_pool2d((h, w), (h, w), Padding::Valid)
            .map_err(|e| rename(e, OP))?;
        Ok(MaxPoolOutput {
            values: reshaped(OP, &out.values, &[n, c])?,
            argmax: out.argmax,
        })
    }

    /// 1-D max pooling over `[N, L, C]` → values `[N, OL, C]`, argmax into each sample's
    /// `L·C` plane; the 2-D path with height 1.
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] if `self` is not 3-D, otherwise as
    /// [`Tensor::max_pool2d`] (naming `max_pool1d`).
    pub fn max_pool1d(
        &self,
        pool: usize,
        stride: usize,
        padding: Padding,
    ) -> Result<MaxPoolOutput<T>> {
        const OP: &str = "max_pool1d";
        let [n, l, c] = nlc(OP, self.shape())?;
        let x4 = reshaped(OP, self, &[n, 1, l, c])?;
        let out = x4
            .max_pool2d((1, pool), (1, stride), padding)
            .map_err(|e| rename(e, OP))?;
        let ol = out.values.shape()[2];
        Ok(MaxPoolOutput {
            values: reshaped(OP, &out.values, &[n, ol, c])?,
            argmax: out.argmax,
        })
    }

    /// Gradient of [`Tensor::max_pool1d`]: `grad_out` `[N, OL, C]` routed to `input_shape`
    /// `[N, L, C]` by `argmax`.
    ///
    /// # Errors
    /// As [`Tensor::max_pool2d_backward`] with a 3-D `input_shape`.
    pub fn max_pool1d_backward(
        grad_out: &Tensor<T>,
        argmax: &[u32],
        input_shape: &[usize],
    ) -> Result<Tensor<T>> {
        const OP: &str = "max_pool1d_backward";
        let [n, l, c] = nlc(OP, input_shape)?;
        max_pool_backward(OP, grad_out, argmax, input_shape, n, l * c, c)
    }

    /// 1-D average pooling over `[N, L, C]` → `[N, OL, C]` (the 2-D path with height 1).
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] if `self` is not 3-D, otherwise as
    /// [`Tensor::avg_pool2d`] (naming `avg_pool1d`).
    pub fn avg_pool1d(&self, pool: usize, stride: usize, padding: Padding) -> Result<Tensor<T>> {
        const OP: &str = "avg_pool1d";
        let [n, l, c] = nlc(OP, self.shape())?;
        let x4 = reshaped(OP, self, &[n, 1, l, c])?;
        let y = x4
            .avg_pool2d((1, pool), (1, stride), padding)
            .map_err(|e| rename(e, OP))?;
        let ol = y.shape()[2];
        reshaped(OP, &y, &[n, ol, c])
    }

    /// Gradient of [`Tensor::avg_pool1d`]: `grad_out` `[N, OL, C]` → `input_shape`
    /// `[N, L, C]`.
    ///
    /// # Errors
    /// [`TensorError::RankMismatch`] for non-3-D shapes, otherwise as
    /// [`Tensor::avg_pool2d_backward`] (naming `avg_pool1d_backward`).
    pub fn avg_pool1d_backward(
        grad_out: &Tensor<T>,
        input_shape: &[usize],
        pool: usize,
        stride: usize,
        padding: Padding,
    ) -> Result<Tensor<T>> {
        const OP: &str = "avg_pool1d_backward";
        let [n, l, c] = nlc(OP, input_shape)?;
        let [gn, gl, gc] = nlc(OP, grad_out.shape())?;
        let g4 = reshaped(OP, grad_out, &[gn, 1, gl, gc])?;
        let dx = Self::avg_pool2d_backward(&g4, &[n, 1, l, c], (1, pool), (1, stride), padding)
            .map_err(|e| rename(e, OP))?;
        reshaped(OP, &dx, input_shape)
    }
}

/// Shared body of the max-pool backward passes: `grad_out` is `[N, ..., C]` with one argmax
/// per element, images hold `plane` elements.
fn max_pool_backward<T: Float>(
    op: &'static str,
    grad_out: &Tensor<T>,
    argmax: &[u32],
    input_shape: &[usize],
    n: usize,
    plane: usize,
    c: usize,
) -> Result<Tensor<T>> {
    let gshape = grad_out.shape();
    let fits = gshape.len() >= 2
        && gshape[0] == n
        && gshape[gshape.len() - 1] == c
        && argmax.len() == grad_out.len();
    if !fits {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: gshape.to_vec(),
            rhs: input_shape.to_vec(),
        });
    }
    let gy = grad_out.contiguous();
    let gs = gy
        .as_slice()
        .ok_or_else(|| TensorError::invalid(op, "internal: layout"))?;
    let dx = scatter_argmax(op, gs, argmax, n, plane)?;
    Tensor::from_vec(dx, input_shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive pooling in f64: (max values, argmax, averages) with explicit padding offsets.
    fn naive_pool(
        x: &[f64],
        [n, h, w, c]: [usize; 4],
        g: &Conv2dGeometry,
    ) -> (Vec<f64>, Vec<u32>, Vec<f64>) {
        let mut mx = vec![];
        let mut am = vec![];
        let mut av = vec![];
        for b in 0..n {
            for oh in 0..g.out_h {
                for ow in 0..g.out_w {
                    for ch in 0..c {
                        let (mut best, mut bi, mut sum, mut cnt) = (f64::NAN, 0u32, 0.0, 0);
                        let mut first = true;
                        for i in 0..g.k_h {
                            for j in 0..g.k_w {
                                let ih = (oh * g.stride_h + i) as isize - g.pad_top as isize;
                                let iw = (ow * g.stride_w + j) as isize - g.pad_left as isize;
                                if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                                    continue;
                                }
                                let p = (ih as usize * w + iw as usize) * c + ch;
                                let v = x[b * h * w * c + p];
                                if first || v > best || (v.is_nan() && !best.is_nan()) {
                                    best = v;
                                    bi = p as u32;
                                    first = false;
                                }
                                sum += v;
                                cnt += 1;
                            }
                        }
                        mx.push(best);
                        am.push(bi);
                        av.push(sum / cnt as f64);
                    }
                }
            }
        }
        (mx, am, av)
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn max_avg_pool2d_match_naive() {
        let mut seed = 0;
        for &(n, h, w, c) in &[(2, 5, 7, 1), (1, 6, 6, 11), (3, 4, 5, 2), (1, 1, 1, 1)] {
            for &(pool, stride) in &[
                ((2, 2), (2, 2)),
                ((3, 3), (1, 1)),
                ((3, 2), (2, 1)),
                ((1, 1), (2, 2)),
            ] {
                for padding in [Padding::Valid, Padding::Same] {
                    seed += 1;
                    let Ok(g) =
                        Conv2dGeometry::new(h, w, pool.0, pool.1, stride.0, stride.1, padding)
                    else {
                        assert!(Tensor::<f64>::zeros([n, h, w, c])
                            .max_pool2d(pool, stride, padding)
                            .is_err());
                        continue;
                    };
                    // Negative values: zero padding must never win.
                    let x = Tensor::<f64>::rand_uniform([n, h, w, c], -3.0, -1.0, seed);
                    let (mx, am, av) = naive_pool(&x.to_vec(), [n, h, w, c], &g);
                    let out = x.max_pool2d(pool, stride, padding).unwrap();
                    assert_eq!(out.values.shape(), &[n, g.out_h, g.out_w, c]);
                    assert_eq!(out.values.to_vec(), mx);
                    assert_eq!(out.argmax, am);
                    let a = x.avg_pool2d(pool, stride, padding).unwrap();
                    for (p, q) in a.to_vec().iter().zip(&av) {
                        assert!((p - q).abs() < 1e-12, "{p} vs {q}");
                    }
                }
            }
        }
    }

    #[test]
    fn max_pool2d_ties_nan_and_same_padding_counts() {
        // 1 image 2x3x1: ties pick the first; NaN wins.
        let x =
            Tensor::<f32>::from_f64s(&[1.0, 5.0, 5.0, f64::NAN, 5.0, 2.0], [1, 2, 3, 1]).unwrap();
        let out = x.max_pool2d((2, 2), (1, 1), Padding::Valid).unwrap();
        let v = out.values.to_vec();
        assert!(v[0].is_nan());
        assert_eq!(out.argmax[0], 3);
        assert_eq!(v[1], 5.0);
        assert_eq!(out.argmax[1], 1);
        // Same padding average of ones is exactly one everywhere (divides by real counts).
        let ones = Tensor::<f32>::ones([1, 5, 4, 2]);
        let a = ones.avg_pool2d((3, 3), (2, 2), Padding::Same).unwrap();
        assert!(a.to_vec().iter().all(|&v| v == 1.0));
        // Extreme values do not panic; infinities propagate.
        let e =
            Tensor::<f32>::from_f64s(&[f64::INFINITY, -1e38, 1e-45, -0.0], [1, 2, 2, 1]).unwrap();
        assert_eq!(
            e.max_pool2d((2, 2), (2, 2), Padding::Valid)
                .unwrap()
                .values
                .to_vec(),
            vec![f32::INFINITY]
        );
        assert_eq!(
            e.avg_pool2d((2, 2), (2, 2), Padding::Valid)
                .unwrap()
                .to_vec(),
            vec![f32::INFINITY]
        );
    }

    #[test]
    fn max_pool2d_backward_matches_finite_differences() {
        let shape = [2, 5, 4, 3];
        let x = Tensor::<f64>::randn(shape, 7);
        for (pool, stride, padding) in [
            ((2, 2), (2, 2), Padding::Valid),
            ((3, 3), (1, 2), Padding::Same),
        ] {
            let out = x.max_pool2d(pool, stride, padding).unwrap();
            let r = Tensor::<f64>::randn(out.values.shape(), 8);
            let dx = Tensor::max_pool2d_backward(&r, &out.argmax, &shape).unwrap();
            let loss = |t: &Tensor<f64>| {
                dot(
                    &t.max_pool2d(pool, stride, padding).unwrap().values.to_vec(),
                    &r.to_vec(),
                )
            };
            let base = x.to_vec();
            let eps = 1e-6;
            for i in 0..base.len() {
                let (mut p, mut m) = (base.clone(), base.clone());
                p[i] += eps;
                m[i] -= eps;
                let fd = (loss(&Tensor::from_vec(p, shape).unwrap())
                    - loss(&Tensor::from_vec(m, shape).unwrap()))
                    / (2.0 * eps);
                assert!(
                    (fd - dx.to_vec()[i]).abs() < 1e-6,
                    "{i}: {fd} vs {}",
                    dx.to_vec()[i]
                );
            }
        }
    }

    #[test]
    fn avg_pool2d_backward_is_adjoint() {
        let shape = [2, 7, 5, 2];
        for (i, (pool, stride, padding)) in [
            ((2, 2), (2, 2), Padding::Valid),
            ((3, 2), (2, 1), Padding::Same),
            ((3, 3), (3, 3), Padding::Same),
        ]
        .into_iter()
        .enumerate()
        {
            let x = Tensor::<f64>::randn(shape, 10 + i as u64);
            let y = x.avg_pool2d(pool, stride, padding).unwrap();
            let gy = Tensor::<f64>::randn(y.shape(), 20 + i as u64);
            let dx = Tensor::avg_pool2d_backward(&gy, &shape, pool, stride, padding).unwrap();
            let (l, r) = (
                dot(&y.to_vec(), &gy.to_vec()),
                dot(&x.to_vec(), &dx.to_vec()),
            );
            assert!((l - r).abs() < 1e-12 * (1.0 + l.abs()), "{l} vs {r}");
        }
        let gy = Tensor::<f64>::zeros([2, 3, 2, 2]);
        assert!(Tensor::avg_pool2d_backward(&gy, &shape, (2, 2), (2, 2), Padding::Same).is_err());
    }

    #[test]
    fn global_pools_and_backward() {
        let x = Tensor::<f64>::randn([3, 4, 5, 2], 30);
        let v = x.to_vec();
        let ga = x.global_avg_pool2d().unwrap();
        let gm = x.global_max_pool2d().unwrap();
        assert_eq!(ga.shape(), &[3, 2]);
        assert_eq!(gm.values.shape(), &[3, 2]);
        for b in 0..3 {
            for ch in 0..2 {
                let vals: Vec<f64> = (0..20).map(|p| v[b * 40 + p * 2 + ch]).collect();
                let mean = vals.iter().sum::<f64>() / 20.0;
                assert!((ga.to_vec()[b * 2 + ch] - mean).abs() < 1e-12);
                let (pi, &mx) = vals
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .unwrap();
                assert_eq!(gm.values.to_vec()[b * 2 + ch], mx);
                assert_eq!(gm.argmax[b * 2 + ch] as usize, pi * 2 + ch);
            }
        }
        let g = Tensor::<f64>::randn([3, 2], 31);
        let dx = Tensor::max_pool2d_backward(&g, &gm.argmax, x.shape()).unwrap();
        assert!((dx.to_vec().iter().sum::<f64>() - g.to_vec().iter().sum::<f64>()).abs() < 1e-12);
        let da = Tensor::global_avg_pool2d_backward(&g, x.shape()).unwrap();
        let (l, r) = (
            dot(&ga.to_vec(), &g.to_vec()),
            dot(&x.to_vec(), &da.to_vec()),
        );
        assert!((l - r).abs() < 1e-12);
        assert!(Tensor::<f64>::zeros([1, 0, 3, 1])
            .global_max_pool2d()
            .is_err());
        assert!(Tensor::<f64>::zeros([1, 0, 3, 1])
            .global_avg_pool2d()
            .unwrap()
            .to_vec()[0]
            .is_nan());
        assert!(Tensor::<f64>::zeros([1, 3, 1]).global_avg_pool2d().is_err());
    }

    #[test]
    fn max_pool2d_backward_validates() {
        let x = Tensor::<f32>::randn([2, 4, 4, 3], 40);
        let out = x.max_pool2d((2, 2), (2, 2), Padding::Valid).unwrap();
        assert!(Tensor::max_pool2d_backward(&out.values, &out.argmax, &[2, 4, 4, 3]).is_ok());
        assert!(Tensor::max_pool2d_backward(&out.values, &out.argmax[1..], &[2, 4, 4, 3]).is_err());
        assert!(Tensor::max_pool2d_backward(&out.values, &out.argmax, &[3, 4, 4, 3]).is_err());
        assert!(Tensor::max_pool2d_backward(&out.values, &out.argmax, &[2, 4, 4]).is_err());
        let mut bad = out.argmax.clone();
        bad[0] = 48;
        let e = Tensor::max_pool2d_backward(&out.values, &bad, &[2, 4, 4, 3]).unwrap_err();
        assert!(matches!(
            e,
            TensorError::IndexOutOfRange {
                index: 48,
                len: 48,
                ..
            }
        ));
        let e = x.max_pool2d((5, 1), (1, 1), Padding::Valid).unwrap_err();
        assert!(e.to_string().contains("max_pool2d"), "{e}");
        assert!(x.avg_pool2d((1, 1), (0, 1), Padding::Same).is_err());
    }

    #[test]
    fn pool2d_parallel_batch_matches_naive() {
        // 4·32·32·16 = 65536 input elements: the parallel-over-batch path.
        let shape = [4, 32, 32, 16];
        let x = Tensor::<f32>::randn(shape, 50);
        let g = Conv2dGeometry::new(32, 32, 3, 3, 2, 2, Padding::Same).unwrap();
        let (mx, am, av) = naive_pool(&x.to_f64_vec(), shape, &g);
        let out = x.max_pool2d((3, 3), (2, 2), Padding::Same).unwrap();
        assert_eq!(out.values.to_f64_vec(), mx);
        assert_eq!(out.argmax, am);
        let a = x.avg_pool2d((3, 3), (2, 2), Padding::Same).unwrap();
        for (p, q) in a.to_f64_vec().iter().zip(&av) {
            assert!((p - q).abs() < 1e-5);
        }
        let dx = Tensor::max_pool2d_backward(&out.values, &out.argmax, &shape).unwrap();
        let want: f64 = out.values.to_f64_vec().iter().sum();
        assert!((dx.to_f64_vec().iter().sum::<f64>() - want).abs() < 1e-2);
    }

    #[test]
    fn pool1d_matches_2d_path() {
        let x = Tensor::<f64>::randn([2, 9, 3], 60);
        for (pool, stride, padding) in [
            (2, 2, Padding::Valid),
            (3, 2, Padding::Same),
            (4, 1, Padding::Valid),
        ] {
            let out = x.max_pool1d(pool, stride, padding).unwrap();
            let g = Conv2dGeometry::new(1, 9, 1, pool, 1, stride, padding).unwrap();
            let (mx, am, av) = naive_pool(&x.to_vec(), [2, 1, 9, 3], &g);
            assert_eq!(out.values.shape(), &[2, g.out_w, 3]);
            assert_eq!(out.values.to_vec(), mx);
            assert_eq!(out.argmax, am);
            let a = x.avg_pool1d(pool, stride, padding).unwrap();
            assert!(a
                .to_vec()
                .iter()
                .zip(&av)
                .all(|(p, q)| (p - q).abs() < 1e-12));
            let gy = Tensor::<f64>::randn(a.shape(), 61);
            let dx = Tensor::avg_pool1d_backward(&gy, x.shape(), pool, stride, padding).unwrap();
            let (l, r) = (
                dot(&a.to_vec(), &gy.to_vec()),
                dot(&x.to_vec(), &dx.to_vec()),
            );
            assert!((l - r).abs() < 1e-12 * (1.0 + l.abs()));
            let dm = Tensor::max_pool1d_backward(&gy, &out.argmax, x.shape()).unwrap();
            let (l, r) = (
                dot(&out.values.to_vec(), &gy.to_vec()),
                dot(&x.to_vec(), &dm.to_vec()),
            );
            assert!((l - r).abs() < 1e-12 * (1.0 + l.abs()));
        }
        assert!(x
            .max_pool1d(10, 1, Padding::Valid)
            .unwrap_err()
            .to_string()
            .contains("max_pool1d"));
        assert!(Tensor::<f64>::zeros([2, 9])
            .avg_pool1d(2, 2, Padding::Valid)
            .is_err());
    }
}
