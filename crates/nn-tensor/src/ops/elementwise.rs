//! Element-wise operations: broadcasting binary ops, comparisons, `select`, unary math,
//! scalar ops and in-place updates for optimizers and gradient accumulation.
//!
//! Every result is a standard-layout (row-major contiguous) tensor. Contiguous operands take
//! a slice fast path; large inputs (at least [`ELEMENTWISE_PAR_MIN`] elements) are split into
//! fixed-size chunks processed in parallel with rayon. Element-wise results never depend on
//! the number of threads.

use ndarray::{ArrayD, IxDyn, Zip};
use rayon::prelude::*;

use crate::parallel::ELEMENTWISE_PAR_MIN;
use crate::{broadcast_shapes, Float, Result, Tensor, TensorError};

/// Elements per parallel task in element-wise kernels.
const PAR_CHUNK: usize = 1 << 13;

/// A standard-layout tensor of `shape` from row-major `values` whose length is known to match.
fn tensor_from_vec<T: Float>(values: Vec<T>, shape: &[usize]) -> Tensor<T> {
    Tensor::from_array(
        ArrayD::from_shape_vec(IxDyn(shape), values)
            .unwrap_or_else(|_| unreachable!("element-wise kernels produce one value per element")),
    )
}

/// `f` applied to every element of `src`, in parallel above the threshold.
fn map_slice<T: Float>(src: &[T], f: &(impl Fn(T) -> T + Sync)) -> Vec<T> {
    if src.len() < ELEMENTWISE_PAR_MIN {
        let mut out = crate::buffer::with_capacity(src.len());
        out.extend(src.iter().map(|&x| f(x)));
        return out;
    }
    let mut out = crate::buffer::for_overwrite(src.len());
    out.par_chunks_mut(PAR_CHUNK)
        .zip(src.par_chunks(PAR_CHUNK))
        .for_each(|(o, s)| {
            for (o, &x) in o.iter_mut().zip(s) {
                *o = f(x);
            }
        });
    out
}

/// `f(a[i], b[i])` for equally long slices, in parallel above the threshold.
fn zip_slices<T: Float>(a: &[T], b: &[T], f: &(impl Fn(T, T) -> T + Sync)) -> Vec<T> {
    if a.len() < ELEMENTWISE_PAR_MIN {
        let mut out = crate::buffer::with_capacity(a.len());
        out.extend(a.iter().zip(b).map(|(&x, &y)| f(x, y)));
        return out;
    }
    let mut out = crate::buffer::for_overwrite(a.len());
    out.par_chunks_mut(PAR_CHUNK)
        .zip(a.par_chunks(PAR_CHUNK).zip(b.par_chunks(PAR_CHUNK)))
        .for_each(|(o, (a, b))| {
            for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
                *o = f(x, y);
            }
        });
    out
}

/// `f(big[r·m + j], small[j])` for every row `r` of `big` (row length `m = small.len() > 0`).
fn zip_rows<T: Float>(big: &[T], small: &[T], f: &(impl Fn(T, T) -> T + Sync)) -> Vec<T> {
    let m = small.len();
    let mut out = crate::buffer::for_overwrite(big.len());
    let kernel = |o: &mut [T], b: &[T]| {
        for (o_row, b_row) in o.chunks_exact_mut(m).zip(b.chunks_exact(m)) {
            for ((o, &x), &y) in o_row.iter_mut().zip(b_row).zip(small) {
                *o = f(x, y);
            }
        }
    };
    if big.len() < ELEMENTWISE_PAR_MIN {
        kernel(&mut out, big);
    } else {
        let task = PAR_CHUNK.div_ceil(m) * m;
        out.par_chunks_mut(task)
            .zip(big.par_chunks(task))
            .for_each(|(o, b)| kernel(o, b));
    }
    out
}

/// Whether `small` (leading 1s ignored) equals the trailing axes of `big`: then broadcasting
/// `small` against `big` repeats `small`'s data once per row of `big`.
fn is_trailing_suffix(small: &[usize], big: &[usize]) -> bool {
    let lead = small.iter().take_while(|&&d| d == 1).count();
    let small = &small[lead..];
    small.len() <= big.len() && big[big.len() - small.len()..] == *small
}

/// erf for `f64`, accurate to a few ulp (max error below 1e-15 in absolute terms).
///
/// For `|x| < 2`: `erf(x) = 2/√π · e^{-x²} · x · Σ (2x²)^k / (1·3·…·(2k+1))`, a series of
/// positive terms (no cancellation), see [`erf_series`]. For `2 ≤ |x| < 6`:
/// `erf = 1 − erfc` with the continued fraction
/// `erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …))))` evaluated by the forward
/// convergent recurrence (no division in the loop).
/// Beyond 6, `erfc(x) < 2e-17` and `erf = ±1` in double precision. The term counts were chosen
/// by measuring against a 120-bit reference.
fn erf_f64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let ax = x.abs();
    let r = if ax < 2.0 {
        let terms = if ax < 0.5 {
            16
        } else if ax < 1.0 {
            24
        } else if ax < 1.5 {
            28
        } else {
            36
        };
        let t = erf_series(2.0 * ax * ax, terms);
        std::f64::consts::FRAC_2_SQRT_PI * exp_neg_square(ax) * (ax * t)
    } else if ax < 6.0 {
        let depth = if ax < 2.5 {
            48
        } else if ax < 3.0 {
            32
        } else if ax < 4.0 {
            22
        } else {
            14
        };
        // Convergents A/B of t = x + (1/2)/(x + (2/2)/(x + (3/2)/(x + …))) by the forward
        // recurrence; every term is positive (no cancellation) and |A|, |B| < 1e100 here.
        let (mut a_prev, mut a) = (1.0, ax);
        let (mut b_prev, mut b) = (0.0, 1.0);
        for k in 1..=depth {
            let c = 0.5 * f64::from(k);
            (a_prev, a) = (a, ax * a + c * a_prev);
            (b_prev, b) = (b, ax * b + c * b_prev);
        }
        let erfc = exp_neg_square(ax) * (0.5 * std::f64::consts::FRAC_2_SQRT_PI) * b / a;
        1.0 - erfc
    } else {
        1.0
    };
    if x < 0.0 {
        -r
    } else {
        r
    }
}

/// `Σ_{k<n} ERF_SERIES[k]·yᵏ` (`n` a multiple of 4, `y ≥ 0`) as four interleaved Horner chains
/// in `y⁴`, which cuts the dependency chain to a quarter; all terms are positive, so the order
/// of evaluation does not cost accuracy.
fn erf_series(y: f64, n: usize) -> f64 {
    let y2 = y * y;
    let y4 = y2 * y2;
    let (mut p0, mut p1, mut p2, mut p3) = (0.0, 0.0, 0.0, 0.0);
    for c in ERF_SERIES[..n].chunks_exact(4).rev() {
        p0 = p0 * y4 + c[0];
        p1 = p1 * y4 + c[1];
        p2 = p2 * y4 + c[2];
        p3 = p3 * y4 + c[3];
    }
    (p0 + y * p1) + y2 * (p2 + y * p3)
}

/// `e^{-x²}` for `0 ≤ x < 6` without the rounding error of forming `x²`: `x` is split into a
/// 26-bit head (whose square is exact) and a tail.
fn exp_neg_square(x: f64) -> f64 {
    let c = 134_217_729.0 * x; // 2^27 + 1 (Veltkamp split)
    let hi = c - (c - x);
    let lo = x - hi;
    // |d| < 1e-6, so e^{-d} = 1 − d + d²/2 to within 1e-19.
    let d = 2.0 * hi * lo + lo * lo;
    (-(hi * hi)).exp() * (1.0 - d + 0.5 * d * d)
}

/// `1/(1·3·5·…·(2k+1))` for `k = 0..36`: the coefficients of `Σ c_k y^k` with `y = 2x²` in
/// [`erf_f64`]'s series (computed in 120-bit arithmetic, rounded to nearest).
#[rustfmt::skip]
const ERF_SERIES: [f64; 36] = [
    1.0, 0.3333333333333333, 0.06666666666666667, 0.009523809523809525, 0.0010582010582010583,
    9.62000962000962e-05, 7.4000074000074e-06, 4.9333382666716e-07, 2.901963686277412e-08,
    1.5273493085670588e-09, 7.273091945557423e-11, 3.1622138893727926e-12, 1.264885555749117e-13,
    4.684761317589322e-15, 1.6154349370997664e-16, 5.211080442257311e-18, 1.5791152855325184e-19,
    4.5117579586643385e-21, 1.2193940428822536e-22, 3.1266513920057783e-24, 7.625979004892143e-26,
    1.7734834895098008e-27, 3.9410744211328905e-29, 8.38526472581466e-31, 1.7112785154723796e-32,
    3.3554480695536855e-34, 6.33103409349752e-36, 1.1510971079086399e-37, 2.019468610366035e-39,
    3.4228281531627713e-41, 5.611193693709461e-43, 8.906656656681684e-45, 1.3702548702587206e-46,
    2.04515652277421e-48, 2.9639949605423333e-50, 4.174640789496244e-52,
];

/// Rounds half-way cases to the nearest even integer (as NumPy and TensorFlow do).
fn round_half_even<T: Float>(x: T) -> T {
    let r = x.round();
    let half = T::of(0.5);
    if (x - x.trunc()).abs() == half {
        let two = T::of(2.0);
        two * (x / two).round()
    } else {
        r
    }
}

fn one_if<T: Float>(c: bool) -> T {
    if c {
        T::one()
    } else {
        T::zero()
    }
}

impl<T: Float> Tensor<T> {
    // ------------------------------------------------------------------ binary, broadcasting

    /// `f(a, b)` element-wise with NumPy broadcasting; `op` names the operation in errors.
    ///
    /// The result is always standard layout. Fast paths: equal shapes with contiguous
    /// operands, a one-element operand, and a contiguous operand whose shape is a suffix of the
    /// other's (bias-like broadcasting); everything else goes through broadcast `ndarray` views.
    pub fn zip_map(
        &self,
        other: &Tensor<T>,
        op: &'static str,
        f: impl Fn(T, T) -> T + Sync + Send,
    ) -> Result<Tensor<T>> {
        let (sa, sb) = (self.shape(), other.shape());
        if sa == sb {
            if let (Some(a), Some(b)) = (self.as_slice(), other.as_slice()) {
                return Ok(tensor_from_vec(zip_slices(a, b, &f), sa));
            }
        }
        let out_shape = broadcast_shapes(op, sa, sb)?;
        let n: usize = out_shape.iter().product();
        if n == 0 {
            return Ok(Tensor::zeros(&out_shape));
        }
        if out_shape == sa {
            if let Some(a) = self.as_slice() {
                if other.len() == 1 {
                    if let Some(&s) = other.array().iter().next() {
                        return Ok(tensor_from_vec(map_slice(a, &|x| f(x, s)), &out_shape));
                    }
                }
                if let Some(b) = other.as_slice() {
                    if is_trailing_suffix(sb, sa) {
                        return Ok(tensor_from_vec(zip_rows(a, b, &f), &out_shape));
                    }
                }
            }
        }
        if out_shape == sb {
            if let Some(b) = other.as_slice() {
                if self.len() == 1 {
                    if let Some(&s) = self.array().iter().next() {
                        return Ok(tensor_from_vec(map_slice(b, &|y| f(s, y)), &out_shape));
                    }
                }
                if let Some(a) = self.as_slice() {
                    if is_trailing_suffix(sa, sb) {
                        return Ok(tensor_from_vec(zip_rows(b, a, &|y, x| f(x, y)), &out_shape));
                    }
                }
            }
        }
        let mismatch = || TensorError::ShapeMismatch {
            op,
            lhs: sa.to_vec(),
            rhs: sb.to_vec(),
        };
        let va = self
            .array()
            .broadcast(IxDyn(&out_shape))
            .ok_or_else(mismatch)?;
        let vb = other
            .array()
            .broadcast(IxDyn(&out_shape))
            .ok_or_else(mismatch)?;
        let mut out = crate::buffer::zeros_array::<T>(&out_shape);
        let zip = Zip::from(out.view_mut()).and(va).and(vb);
        if n < ELEMENTWISE_PAR_MIN {
            zip.for_each(|o, &x, &y| *o = f(x, y));
        } else {
            zip.par_for_each(|o, &x, &y| *o = f(x, y));
        }
        Ok(Tensor::from_array(out))
    }

    /// `self + other`, broadcasting.
    pub fn add(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "add", |a, b| a + b)
    }

    /// `self − other`, broadcasting.
    pub fn sub(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "sub", |a, b| a - b)
    }

    /// `self · other` element-wise, broadcasting.
    pub fn mul(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "mul", |a, b| a * b)
    }

    /// `self / other` element-wise, broadcasting (IEEE semantics: `x/0` is ±inf or NaN).
    pub fn div(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "div", |a, b| a / b)
    }

    /// `self ^ other` element-wise (`powf`), broadcasting.
    pub fn pow(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "pow", |a, b| a.powf(b))
    }

    /// The element-wise maximum, broadcasting; NaN if either operand is NaN.
    pub fn maximum(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(
            other,
            "maximum",
            |a, b| if a > b || a.is_nan() { a } else { b },
        )
    }

    /// The element-wise minimum, broadcasting; NaN if either operand is NaN.
    pub fn minimum(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(
            other,
            "minimum",
            |a, b| if a < b || a.is_nan() { a } else { b },
        )
    }

    // ------------------------------------------------------------------ comparisons

    /// 1 where `self == other`, else 0 (broadcasting; NaN compares unequal).
    pub fn eq_mask(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "eq_mask", |a, b| one_if(a == b))
    }

    /// 1 where `self != other`, else 0 (broadcasting; NaN compares unequal).
    pub fn ne_mask(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "ne_mask", |a, b| one_if(a != b))
    }

    /// 1 where `self < other`, else 0 (broadcasting; false for NaN).
    pub fn lt(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "lt", |a, b| one_if(a < b))
    }

    /// 1 where `self <= other`, else 0 (broadcasting; false for NaN).
    pub fn le(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "le", |a, b| one_if(a <= b))
    }

    /// 1 where `self > other`, else 0 (broadcasting; false for NaN).
    pub fn gt(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "gt", |a, b| one_if(a > b))
    }

    /// 1 where `self >= other`, else 0 (broadcasting; false for NaN).
    pub fn ge(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.zip_map(other, "ge", |a, b| one_if(a >= b))
    }

    /// `on_true` where `cond != 0`, else `on_false` (NumPy's `where`), broadcasting all three.
    ///
    /// Values are selected, never blended, so NaN or inf in the branch not taken does not
    /// reach the result. A NaN condition counts as true (it is not 0).
    pub fn select(
        cond: &Tensor<T>,
        on_true: &Tensor<T>,
        on_false: &Tensor<T>,
    ) -> Result<Tensor<T>> {
        const OP: &str = "select";
        let pick = |c: T, t: T, f: T| if c != T::zero() { t } else { f };
        let ct = broadcast_shapes(OP, cond.shape(), on_true.shape())?;
        let out_shape = broadcast_shapes(OP, &ct, on_false.shape())?;
        let n: usize = out_shape.iter().product();
        if cond.shape() == out_shape
            && on_true.shape() == out_shape
            && on_false.shape() == out_shape
        {
            if let (Some(c), Some(t), Some(f)) =
                (cond.as_slice(), on_true.as_slice(), on_false.as_slice())
            {
                let kernel = |o: &mut [T], c: &[T], t: &[T], f: &[T]| {
                    for (((o, &c), &t), &f) in o.iter_mut().zip(c).zip(t).zip(f) {
                        *o = pick(c, t, f);
                    }
                };
                let mut out = crate::buffer::for_overwrite(n);
                if n < ELEMENTWISE_PAR_MIN {
                    kernel(&mut out, c, t, f);
                } else {
                    out.par_chunks_mut(PAR_CHUNK)
                        .zip(c.par_chunks(PAR_CHUNK))
                        .zip(t.par_chunks(PAR_CHUNK).zip(f.par_chunks(PAR_CHUNK)))
                        .for_each(|((o, c), (t, f))| kernel(o, c, t, f));
                }
                return Ok(tensor_from_vec(out, &out_shape));
            }
        }
        let dim = IxDyn(&out_shape);
        let mismatch = |s: &Tensor<T>| TensorError::ShapeMismatch {
            op: OP,
            lhs: s.shape().to_vec(),
            rhs: out_shape.clone(),
        };
        let vc = cond
            .array()
            .broadcast(dim.clone())
            .ok_or_else(|| mismatch(cond))?;
        let vt = on_true
            .array()
            .broadcast(dim.clone())
            .ok_or_else(|| mismatch(on_true))?;
        let vf = on_false
            .array()
            .broadcast(dim.clone())
            .ok_or_else(|| mismatch(on_false))?;
        let mut out = crate::buffer::zeros_array::<T>(&out_shape);
        let zip = Zip::from(out.view_mut()).and(vc).and(vt).and(vf);
        if n < ELEMENTWISE_PAR_MIN {
            zip.for_each(|o, &c, &t, &f| *o = pick(c, t, f));
        } else {
            zip.par_for_each(|o, &c, &t, &f| *o = pick(c, t, f));
        }
        Ok(Tensor::from_array(out))
    }

    // ------------------------------------------------------------------ unary

    /// `f` applied to every element; the result is standard layout. Contiguous input takes a
    /// slice fast path, parallel above [`ELEMENTWISE_PAR_MIN`] elements.
    fn unary(&self, f: impl Fn(T) -> T + Sync + Send) -> Tensor<T> {
        if let Some(s) = self.as_slice() {
            return tensor_from_vec(map_slice(s, &f), self.shape());
        }
        let mut out = crate::buffer::zeros_array::<T>(self.shape());
        let zip = Zip::from(out.view_mut()).and(self.array());
        if self.len() < ELEMENTWISE_PAR_MIN {
            zip.for_each(|o, &x| *o = f(x));
        } else {
            zip.par_for_each(|o, &x| *o = f(x));
        }
        Tensor::from_array(out)
    }

    /// `−x`.
    pub fn neg(&self) -> Tensor<T> {
        self.unary(|x| -x)
    }

    /// `|x|`.
    pub fn abs(&self) -> Tensor<T> {
        self.unary(|x| x.abs())
    }

    /// `eˣ`.
    pub fn exp(&self) -> Tensor<T> {
        self.unary(|x| x.exp())
    }

    /// The natural logarithm (`-inf` at 0, NaN below).
    pub fn ln(&self) -> Tensor<T> {
        self.unary(|x| x.ln())
    }

    /// `ln(1 + x)`, accurate for small `x`.
    pub fn log1p(&self) -> Tensor<T> {
        self.unary(|x| x.ln_1p())
    }

    /// `eˣ − 1`, accurate for small `x`.
    pub fn expm1(&self) -> Tensor<T> {
        self.unary(|x| x.exp_m1())
    }

    /// `√x` (NaN below 0).
    pub fn sqrt(&self) -> Tensor<T> {
        self.unary(|x| x.sqrt())
    }

    /// `1/√x`.
    pub fn rsqrt(&self) -> Tensor<T> {
        self.unary(|x| x.sqrt().recip())
    }

    /// `x²`.
    pub fn square(&self) -> Tensor<T> {
        self.unary(|x| x * x)
    }

    /// `1/x`.
    pub fn recip(&self) -> Tensor<T> {
        self.unary(|x| x.recip())
    }

    /// `sin x`.
    pub fn sin(&self) -> Tensor<T> {
        self.unary(|x| x.sin())
    }

    /// `cos x`.
    pub fn cos(&self) -> Tensor<T> {
        self.unary(|x| x.cos())
    }

    /// `tanh x`.
    pub fn tanh(&self) -> Tensor<T> {
        self.unary(|x| x.tanh())
    }

    /// The logistic function `1/(1 + e^{-x})`, computed without overflow: `1/(1 + e^{-x})` for
    /// `x ≥ 0` and `eˣ/(1 + eˣ)` otherwise.
    pub fn sigmoid(&self) -> Tensor<T> {
        self.unary(|x| {
            if x >= T::zero() {
                T::one() / (T::one() + (-x).exp())
            } else {
                let e = x.exp();
                e / (T::one() + e)
            }
        })
    }

    /// `max(x, 0)` (NaN stays NaN).
    pub fn relu(&self) -> Tensor<T> {
        self.unary(|x| if x < T::zero() { T::zero() } else { x })
    }

    /// `x` for `x ≥ 0`, `alpha·x` below (NaN stays NaN).
    pub fn leaky_relu(&self, alpha: T) -> Tensor<T> {
        self.unary(move |x| if x < T::zero() { alpha * x } else { x })
    }

    /// −1, 0 or 1 by the sign of `x` (±0 stays ±0, NaN stays NaN).
    pub fn sign(&self) -> Tensor<T> {
        self.unary(|x| {
            if x > T::zero() {
                T::one()
            } else if x < T::zero() {
                -T::one()
            } else {
                x
            }
        })
    }

    /// The largest integer not above `x`.
    pub fn floor(&self) -> Tensor<T> {
        self.unary(|x| x.floor())
    }

    /// The smallest integer not below `x`.
    pub fn ceil(&self) -> Tensor<T> {
        self.unary(|x| x.ceil())
    }

    /// The nearest integer, half-way cases to the even one (as NumPy and TensorFlow).
    pub fn round(&self) -> Tensor<T> {
        self.unary(round_half_even)
    }

    /// `ln(1 + eˣ)`, computed stably as `max(x, 0) + ln(1 + e^{-|x|})`.
    pub fn softplus(&self) -> Tensor<T> {
        self.unary(|x| {
            let pos = if x > T::zero() { x } else { T::zero() };
            pos + (-x.abs()).exp().ln_1p()
        })
    }

    /// The error function, accurate to about 1e-15 in `f64` (evaluated in `f64` for `f32`).
    pub fn erf(&self) -> Tensor<T> {
        self.unary(|x| T::of(erf_f64(x.f64())))
    }

    /// `x` limited to `[lo, hi]` (NaN stays NaN).
    pub fn clamp(&self, lo: T, hi: T) -> Tensor<T> {
        self.unary(move |x| {
            if x < lo {
                lo
            } else if x > hi {
                hi
            } else {
                x
            }
        })
    }

    /// `xᵖ` for a float exponent.
    pub fn powf(&self, p: T) -> Tensor<T> {
        self.unary(move |x| x.powf(p))
    }

    /// `xⁱ` for an integer exponent.
    pub fn powi(&self, i: i32) -> Tensor<T> {
        self.unary(move |x| x.powi(i))
    }

    // ------------------------------------------------------------------ scalar

    /// `x + s`.
    pub fn add_scalar(&self, s: T) -> Tensor<T> {
        self.unary(move |x| x + s)
    }

    /// `x − s`.
    pub fn sub_scalar(&self, s: T) -> Tensor<T> {
        self.unary(move |x| x - s)
    }

    /// `x · s`.
    pub fn mul_scalar(&self, s: T) -> Tensor<T> {
        self.unary(move |x| x * s)
    }

    /// `x / s`.
    pub fn div_scalar(&self, s: T) -> Tensor<T> {
        self.unary(move |x| x / s)
    }

    /// `s − x`.
    pub fn rsub_scalar(&self, s: T) -> Tensor<T> {
        self.unary(move |x| s - x)
    }

    // ------------------------------------------------------------------ in place

    /// `self[i] = f(self[i], other[i])` in place. `other` must have `self`'s shape, or, when
    /// `broadcast` is set, broadcast to it. Works in place without allocating when `self`'s
    /// buffer is not shared; a shared buffer is replaced by a fresh result (one pass, no copy
    /// of the old data).
    fn zip_assign_impl(
        &mut self,
        op: &'static str,
        other: &Tensor<T>,
        broadcast: bool,
        f: impl Fn(T, T) -> T + Sync + Send,
    ) -> Result<()> {
        let mismatch = |s: &Tensor<T>| TensorError::ShapeMismatch {
            op,
            lhs: s.shape().to_vec(),
            rhs: other.shape().to_vec(),
        };
        let same = self.shape() == other.shape();
        if !same && (!broadcast || other.array().broadcast(IxDyn(self.shape())).is_none()) {
            return Err(mismatch(self));
        }
        if !self.array().is_unique() {
            *self = self.zip_map(other, op, f)?;
            return Ok(());
        }
        if same && self.is_contiguous() {
            if let Some(b) = other.as_slice() {
                let a = self.make_contiguous_mut();
                if a.len() < ELEMENTWISE_PAR_MIN {
                    for (x, &y) in a.iter_mut().zip(b) {
                        *x = f(*x, y);
                    }
                } else {
                    a.par_chunks_mut(PAR_CHUNK)
                        .zip(b.par_chunks(PAR_CHUNK))
                        .for_each(|(a, b)| {
                            for (x, &y) in a.iter_mut().zip(b) {
                                *x = f(*x, y);
                            }
                        });
                }
                return Ok(());
            }
        }
        let dim = IxDyn(self.shape());
        let vb = other.array().broadcast(dim).ok_or_else(|| mismatch(self))?;
        let n = self.len();
        let zip = Zip::from(self.view_mut()).and(vb);
        if n < ELEMENTWISE_PAR_MIN {
            zip.for_each(|x, &y| *x = f(*x, y));
        } else {
            zip.par_for_each(|x, &y| *x = f(*x, y));
        }
        Ok(())
    }

    /// `self += other` in place, `other` broadcast to `self`'s shape (an error if it cannot
    /// be). No allocation when `self`'s buffer is not shared.
    pub fn add_assign(&mut self, other: &Tensor<T>) -> Result<()> {
        self.zip_assign_impl("add_assign", other, true, |a, b| a + b)
    }

    /// `self += alpha · other` in place; the shapes must be equal.
    pub fn scaled_add_assign(&mut self, alpha: T, other: &Tensor<T>) -> Result<()> {
        self.zip_assign_impl("scaled_add_assign", other, false, move |a, b| a + alpha * b)
    }

    /// `self[i] = f(self[i], other[i])` in place; the shapes must be equal.
    pub fn zip_map_assign(
        &mut self,
        other: &Tensor<T>,
        f: impl Fn(T, T) -> T + Sync + Send,
    ) -> Result<()> {
        self.zip_assign_impl("zip_map_assign", other, false, f)
    }

    /// `self *= s` in place (no allocation when the buffer is not shared).
    pub fn mul_scalar_assign(&mut self, s: T) {
        if !self.array().is_unique() {
            *self = self.mul_scalar(s);
        } else if self.len() < ELEMENTWISE_PAR_MIN {
            self.array_mut().mapv_inplace(|x| x * s);
        } else {
            self.array_mut().par_mapv_inplace(|x| x * s);
        }
    }

    /// Sets every element to `v` (in place when the buffer is not shared).
    pub fn fill(&mut self, v: T) {
        if self.array().is_unique() {
            self.array_mut().fill(v);
        } else {
            *self = Tensor::full(self.shape(), v);
        }
    }

    /// Whether no element is NaN or ±inf.
    pub fn is_finite_all(&self) -> bool {
        let chunk_ok = |c: &[T]| c.iter().fold(true, |ok, x| ok & x.is_finite());
        match self.array().as_slice_memory_order() {
            Some(s) if s.len() >= ELEMENTWISE_PAR_MIN => s.par_chunks(PAR_CHUNK).all(chunk_ok),
            Some(s) => s.chunks(PAR_CHUNK).all(chunk_ok),
            None => self.array().iter().all(|x| x.is_finite()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t64(v: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_f64s(v, shape).unwrap()
    }

    /// A non-contiguous [rows, cols] tensor: the transpose of a contiguous [cols, rows] one.
    fn transposed(rows: usize, cols: usize, seed: u64) -> Tensor<f64> {
        let base = Tensor::<f64>::randn([cols, rows], seed);
        let t = Tensor::from_shared(base.array().clone().reversed_axes());
        assert!(!t.is_contiguous());
        t
    }

    /// Naive broadcasting reference: index arithmetic on row-major data.
    fn naive_broadcast(
        a: &Tensor<f64>,
        b: &Tensor<f64>,
        f: impl Fn(f64, f64) -> f64,
    ) -> (Vec<usize>, Vec<f64>) {
        let shape = broadcast_shapes("t", a.shape(), b.shape()).unwrap();
        let n: usize = shape.iter().product();
        let (av, bv) = (a.to_vec(), b.to_vec());
        let flat = |idx: &[usize], s: &[usize]| {
            let off = idx.len() - s.len();
            let mut k = 0;
            for (j, &d) in s.iter().enumerate() {
                k = k * d + if d == 1 { 0 } else { idx[off + j] };
            }
            k
        };
        let mut out = Vec::with_capacity(n);
        let mut idx = vec![0usize; shape.len()];
        for _ in 0..n {
            out.push(f(av[flat(&idx, a.shape())], bv[flat(&idx, b.shape())]));
            for ax in (0..shape.len()).rev() {
                idx[ax] += 1;
                if idx[ax] < shape[ax] {
                    break;
                }
                idx[ax] = 0;
            }
        }
        (shape, out)
    }

    #[test]
    fn add_same_shape_and_broadcast_cases() {
        let cases: Vec<(Vec<usize>, Vec<usize>)> = vec![
            (vec![2, 3], vec![2, 3]),
            (vec![2, 3], vec![3]),
            (vec![3], vec![2, 3]),
            (vec![2, 1, 3], vec![4, 1]),
            (vec![1], vec![5]),
            (vec![], vec![2, 2]),
            (vec![2, 2], vec![]),
            (vec![4, 1], vec![1, 5]),
            (vec![1, 3], vec![2, 1, 3]),
            (vec![0, 3], vec![3]),
            (vec![7], vec![1]),
        ];
        for (i, (sa, sb)) in cases.into_iter().enumerate() {
            let a = Tensor::<f64>::randn(&sa, i as u64);
            let b = Tensor::<f64>::randn(&sb, 100 + i as u64);
            let c = a.add(&b).unwrap();
            let (shape, want) = naive_broadcast(&a, &b, |x, y| x + y);
            assert_eq!(c.shape(), &shape[..], "{sa:?} + {sb:?}");
            assert!(c.is_contiguous());
            assert_eq!(c.to_vec(), want, "{sa:?} + {sb:?}");
            let d = a.sub(&b).unwrap();
            assert_eq!(d.to_vec(), naive_broadcast(&a, &b, |x, y| x - y).1);
        }
    }

    #[test]
    fn add_shape_mismatch_names_op_and_shapes() {
        let a = Tensor::<f32>::zeros([2, 3]);
        let b = Tensor::<f32>::zeros([4]);
        let e = a.add(&b).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("add") && msg.contains("[2, 3]") && msg.contains("[4]"),
            "{msg}"
        );
        assert!(a.mul(&Tensor::zeros([3, 3])).is_err());
    }

    #[test]
    fn zip_map_non_contiguous_operands() {
        let a = transposed(5, 7, 1);
        let b = Tensor::<f64>::randn([5, 7], 2);
        let c = a.mul(&b).unwrap();
        assert!(c.is_contiguous());
        let want: Vec<f64> = a
            .to_vec()
            .iter()
            .zip(b.to_vec())
            .map(|(x, y)| x * y)
            .collect();
        assert_eq!(c.to_vec(), want);
        // non-contiguous with broadcasting (row vector and column vector)
        let row = Tensor::<f64>::randn([7], 3);
        assert_eq!(
            a.div(&row).unwrap().to_vec(),
            naive_broadcast(&a, &row, |x, y| x / y).1
        );
        let col = Tensor::<f64>::randn([5, 1], 4);
        assert_eq!(
            col.sub(&a).unwrap().to_vec(),
            naive_broadcast(&col, &a, |x, y| x - y).1
        );
        // a sliced (strided) view
        let base = Tensor::<f64>::randn([6, 8], 5);
        let mut arr = base.array().clone();
        arr.slice_collapse(ndarray::s![..;2, 1..;3]);
        let sliced = Tensor::from_shared(arr);
        assert!(!sliced.is_contiguous());
        let other = Tensor::<f64>::ones(sliced.shape());
        assert_eq!(
            sliced.add(&other).unwrap().to_vec(),
            sliced.to_vec().iter().map(|x| x + 1.0).collect::<Vec<_>>()
        );
    }

    #[test]
    fn zip_map_large_parallel_paths_match_naive() {
        let n = ELEMENTWISE_PAR_MIN + 12_345;
        let a = Tensor::<f32>::randn([n], 1);
        let b = Tensor::<f32>::randn([n], 2);
        let c = a.mul(&b).unwrap();
        let (av, bv, cv) = (a.to_vec(), b.to_vec(), c.to_vec());
        assert!((0..n).all(|i| cv[i] == av[i] * bv[i]));
        // row broadcast above the threshold, odd row length
        let rows = Tensor::<f32>::randn([ELEMENTWISE_PAR_MIN / 37 + 5, 37], 3);
        let bias = Tensor::<f32>::randn([37], 4);
        let got = rows.add(&bias).unwrap().to_vec();
        let got_rev = bias.add(&rows).unwrap().to_vec();
        let (rv, bv) = (rows.to_vec(), bias.to_vec());
        for (i, (&g, &gr)) in got.iter().zip(&got_rev).enumerate() {
            assert_eq!(g, rv[i] + bv[i % 37]);
            assert_eq!(gr, bv[i % 37] + rv[i]);
        }
        // scalar-like operand above the threshold
        let s = Tensor::<f32>::full([1], 2.0);
        assert_eq!(
            s.sub(&a).unwrap().to_vec(),
            av.iter().map(|x| 2.0 - x).collect::<Vec<_>>()
        );
        // general broadcast path above the threshold
        let col = Tensor::<f32>::randn([ELEMENTWISE_PAR_MIN / 64 + 3, 1], 5);
        let row = Tensor::<f32>::randn([64], 6);
        let g = col.mul(&row).unwrap();
        let (cv, rv) = (col.to_vec(), row.to_vec());
        assert!(g
            .to_vec()
            .iter()
            .enumerate()
            .all(|(i, &v)| v == cv[i / 64] * rv[i % 64]));
    }

    #[test]
    fn zip_map_scalar_operand_noncommutative() {
        let a = t64(&[1.0, 2.0, 4.0], &[3]);
        let s = Tensor::<f64>::scalar(8.0);
        assert_eq!(a.div(&s).unwrap().to_vec(), vec![0.125, 0.25, 0.5]);
        assert_eq!(s.div(&a).unwrap().to_vec(), vec![8.0, 4.0, 2.0]);
        assert_eq!(s.add(&s).unwrap().shape(), &[] as &[usize]);
        assert_eq!(
            a.pow(&Tensor::scalar(2.0)).unwrap().to_vec(),
            vec![1.0, 4.0, 16.0]
        );
    }

    #[test]
    fn maximum_minimum_propagate_nan() {
        let a = t64(&[1.0, f64::NAN, 3.0, -1.0, f64::INFINITY], &[5]);
        let b = t64(&[2.0, 0.0, f64::NAN, -2.0, 1.0], &[5]);
        let mx = a.maximum(&b).unwrap().to_vec();
        let mn = a.minimum(&b).unwrap().to_vec();
        assert_eq!(mx[0], 2.0);
        assert!(mx[1].is_nan() && mx[2].is_nan());
        assert_eq!((mx[3], mx[4]), (-1.0, f64::INFINITY));
        assert_eq!(mn[0], 1.0);
        assert!(mn[1].is_nan() && mn[2].is_nan());
        assert_eq!((mn[3], mn[4]), (-2.0, 1.0));
        let bm = a.maximum(&Tensor::scalar(0.0)).unwrap().to_vec();
        assert!(bm[1].is_nan());
        assert_eq!(bm[3], 0.0);
    }

    #[test]
    fn comparisons_masks_broadcast_and_nan() {
        let a = t64(&[1.0, 2.0, 3.0, f64::NAN], &[4]);
        let b = Tensor::<f64>::scalar(2.0);
        assert_eq!(a.lt(&b).unwrap().to_vec(), vec![1.0, 0.0, 0.0, 0.0]);
        assert_eq!(a.le(&b).unwrap().to_vec(), vec![1.0, 1.0, 0.0, 0.0]);
        assert_eq!(a.gt(&b).unwrap().to_vec(), vec![0.0, 0.0, 1.0, 0.0]);
        assert_eq!(a.ge(&b).unwrap().to_vec(), vec![0.0, 1.0, 1.0, 0.0]);
        assert_eq!(a.eq_mask(&b).unwrap().to_vec(), vec![0.0, 1.0, 0.0, 0.0]);
        assert_eq!(a.ne_mask(&b).unwrap().to_vec(), vec![1.0, 0.0, 1.0, 1.0]);
        assert_eq!(a.eq_mask(&a).unwrap().to_vec(), vec![1.0, 1.0, 1.0, 0.0]);
        let m = t64(&[1.0, 2.0], &[2, 1])
            .gt(&t64(&[0.0, 1.5, 3.0], &[3]))
            .unwrap();
        assert_eq!(m.shape(), &[2, 3]);
        assert_eq!(m.to_vec(), vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
        assert!(a.lt(&Tensor::zeros([3])).is_err());
    }

    #[test]
    fn select_picks_without_leaking_nan_inf() {
        let cond = t64(&[1.0, 0.0, -2.0, 0.0], &[4]);
        let t = t64(&[1.0, f64::NAN, 3.0, f64::INFINITY], &[4]);
        let f = t64(&[f64::NAN, 20.0, f64::NEG_INFINITY, 40.0], &[4]);
        assert_eq!(
            Tensor::select(&cond, &t, &f).unwrap().to_vec(),
            vec![1.0, 20.0, 3.0, 40.0]
        );
        // three-way broadcast: cond [2,1], on_true [3], on_false scalar
        let c = t64(&[0.0, 1.0], &[2, 1]);
        let tt = t64(&[1.0, 2.0, 3.0], &[3]);
        let ff = Tensor::<f64>::scalar(f64::NAN);
        let r = Tensor::select(&c, &tt, &ff).unwrap();
        assert_eq!(r.shape(), &[2, 3]);
        let v = r.to_vec();
        assert!(v[..3].iter().all(|x| x.is_nan()));
        assert_eq!(&v[3..], &[1.0, 2.0, 3.0]);
        // non-contiguous condition
        let nc = transposed(3, 4, 9);
        let r = Tensor::select(&nc.gt(&Tensor::scalar(0.0)).unwrap(), &nc, &nc.neg()).unwrap();
        assert_eq!(r.to_vec(), nc.abs().to_vec());
        // large fast path
        let n = ELEMENTWISE_PAR_MIN + 3;
        let x = Tensor::<f32>::randn([n], 1);
        let pos = x.gt(&Tensor::scalar(0.0)).unwrap();
        assert_eq!(Tensor::select(&pos, &x, &x.neg()).unwrap(), x.abs());
        let e = Tensor::select(&c, &t64(&[1.0, 2.0], &[2]), &tt).unwrap_err();
        assert!(e.to_string().contains("select"));
    }

    #[test]
    fn unary_values_f64() {
        let x = t64(&[-2.0, -0.5, 0.0, 0.5, 3.0], &[5]);
        let check = |got: Tensor<f64>, f: fn(f64) -> f64| {
            let want: Vec<f64> = x.to_vec().iter().map(|&v| f(v)).collect();
            let got = got.to_vec();
            for (g, w) in got.iter().zip(&want) {
                let ok = g == w || (g - w).abs() <= 1e-15 * w.abs().max(1.0);
                assert!(ok || (g.is_nan() && w.is_nan()), "{g} vs {w}");
            }
        };
        check(x.neg(), |v| -v);
        check(x.abs(), f64::abs);
        check(x.exp(), f64::exp);
        check(x.ln(), f64::ln);
        check(x.log1p(), f64::ln_1p);
        check(x.expm1(), f64::exp_m1);
        check(x.sqrt(), f64::sqrt);
        check(x.rsqrt(), |v| 1.0 / v.sqrt());
        check(x.square(), |v| v * v);
        check(x.recip(), |v| 1.0 / v);
        check(x.sin(), f64::sin);
        check(x.cos(), f64::cos);
        check(x.tanh(), f64::tanh);
        check(x.sigmoid(), |v| 1.0 / (1.0 + (-v).exp()));
        check(x.relu(), |v| v.max(0.0));
        check(x.leaky_relu(0.1), |v| if v < 0.0 { 0.1 * v } else { v });
        check(x.sign(), |v| if v == 0.0 { 0.0 } else { v.signum() });
        check(x.floor(), f64::floor);
        check(x.ceil(), f64::ceil);
        check(x.softplus(), |v| (1.0 + v.exp()).ln());
        check(x.clamp(-1.0, 1.0), |v| v.clamp(-1.0, 1.0));
        check(x.powf(2.0), |v| v.powf(2.0));
        check(x.powi(3), |v| v * v * v);
        check(x.add_scalar(1.5), |v| v + 1.5);
        check(x.sub_scalar(1.5), |v| v - 1.5);
        check(x.mul_scalar(1.5), |v| v * 1.5);
        check(x.div_scalar(2.0), |v| v / 2.0);
        check(x.rsub_scalar(1.5), |v| 1.5 - v);
    }

    #[test]
    fn unary_nan_propagates_and_extremes_do_not_panic() {
        let ext = [
            f64::NAN,
            0.0,
            -0.0,
            1e-310,
            -1e-310,
            1e38,
            -1e38,
            1e308,
            f64::INFINITY,
        ];
        let ext = [&ext[..], &[f64::NEG_INFINITY]].concat();
        let x = t64(&ext, &[ext.len()]);
        for (name, r) in [
            ("relu", x.relu()),
            ("sigmoid", x.sigmoid()),
            ("softplus", x.softplus()),
            ("sign", x.sign()),
            ("clamp", x.clamp(-1.0, 1.0)),
            ("leaky_relu", x.leaky_relu(0.2)),
            ("erf", x.erf()),
            ("round", x.round()),
            ("tanh", x.tanh()),
        ] {
            assert!(r.to_vec()[0].is_nan(), "{name} must propagate NaN");
        }
        let s = x.sigmoid().to_vec();
        assert_eq!((s[7], s[9]), (1.0, 0.0));
        assert_eq!(s[5], 1.0);
        assert!(s[6] == 0.0 && s[8] == 1.0);
        let sp = x.softplus().to_vec();
        assert_eq!(sp[7], 1e308);
        assert_eq!(sp[8], f64::INFINITY);
        assert_eq!(sp[9], 0.0);
        assert!((sp[1] - std::f64::consts::LN_2).abs() < 1e-16);
        let e = x.erf().to_vec();
        assert_eq!((e[8], e[9]), (1.0, -1.0));
        assert_eq!(e[3], 1e-310 * std::f64::consts::FRAC_2_SQRT_PI);
        let f32x = Tensor::<f32>::from_f64s(&[-1e38, 1e38, -100.0, 100.0], [4]).unwrap();
        let sg = f32x.sigmoid().to_vec();
        assert_eq!((sg[0], sg[1], sg[3]), (0.0, 1.0, 1.0));
        assert!(
            sg[2] > 0.0 && sg[2] < 1e-43,
            "sigmoid(-100) is a tiny subnormal: {}",
            sg[2]
        );
        let sp = f32x.softplus().to_vec();
        assert_eq!((sp[0], sp[1], sp[3]), (0.0, 1e38, 100.0));
        assert!(sp[2] > 0.0 && sp[2] < 1e-43);
    }

    #[test]
    fn sign_of_zero_and_nan() {
        let s = t64(&[-0.0, 0.0, -3.0, 7.0], &[4]).sign().to_vec();
        assert_eq!(s, vec![0.0, 0.0, -1.0, 1.0]);
        assert!(s[0].is_sign_negative());
    }

    #[test]
    fn round_half_to_even() {
        let x = t64(
            &[0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6, -2.6, 1e300],
            &[10],
        );
        assert_eq!(
            x.round().to_vec(),
            vec![0.0, 2.0, 2.0, -0.0, -2.0, -2.0, 2.0, 3.0, -3.0, 1e300]
        );
    }

    #[test]
    fn sigmoid_stable_and_symmetric() {
        let x = Tensor::<f64>::linspace(-40.0, 40.0, 801);
        let s = x.sigmoid().to_vec();
        let sn = x.neg().sigmoid().to_vec();
        for (i, (&a, &b)) in s.iter().zip(&sn).enumerate() {
            assert!((a + b - 1.0).abs() < 1e-15, "at {i}");
        }
        // small-negative tail keeps relative precision
        let t = t64(&[-30.0], &[1]).sigmoid().to_vec()[0];
        assert!((t - (-30.0f64).exp() / (1.0 + (-30.0f64).exp())).abs() < 1e-28);
    }

    #[test]
    fn softplus_matches_naive_where_naive_is_safe() {
        let x = Tensor::<f64>::linspace(-20.0, 20.0, 401);
        for (&v, &g) in x.to_vec().iter().zip(&x.softplus().to_vec()) {
            let want = v.exp().ln_1p();
            assert!(
                (g - want).abs() <= 1e-14 * want.abs().max(1e-300),
                "{v}: {g} vs {want}"
            );
        }
    }

    #[test]
    fn erf_known_values() {
        let x = t64(
            &[
                0.5, 1.0, 2.0, -0.5, -1.0, -2.0, 0.0, 3.0, 0.1, 1.5, 2.5, 4.0, 6.5,
            ],
            &[13],
        );
        let want = [
            0.5204998778130465,
            0.8427007929497149,
            0.9953222650189527,
            -0.5204998778130465,
            -0.8427007929497149,
            -0.9953222650189527,
            0.0,
            0.9999779095030014,
            0.1124629160182849,
            0.9661051464753108,
            0.999593047982555,
            0.9999999845827421,
            1.0,
        ];
        for (g, w) in x.erf().to_vec().iter().zip(&want) {
            assert!((g - w).abs() <= 1e-15, "erf: {g} vs {w}");
        }
        // 120-bit reference values across every branch of the implementation
        let table = [
            (1e-5, 1.1283791670578999e-05),
            (0.25, 0.27632639016823696),
            (0.49, 0.5116682611885232),
            (0.51, 0.5292436198411704),
            (0.75, 0.7111556336535151),
            (1.25, 0.9229001282564583),
            (1.75, 0.9866716712191824),
            (1.99, 0.995111413199617),
            (2.01, 0.9955248493552482),
            (2.25, 0.9985372834133188),
            (2.75, 0.9998993780778803),
            (3.5, 0.9999992569016276),
            (4.5, 0.9999999998033839),
            (5.5, 0.9999999999999927),
            (5.99, 1.0),
        ];
        let xs: Vec<f64> = table.iter().map(|p| p.0).collect();
        let got = t64(&xs, &[xs.len()]).erf().to_vec();
        for (g, (x, w)) in got.iter().zip(&table) {
            assert!((g - w).abs() <= 1e-15, "erf({x}): {g} vs {w}");
        }
        let f = Tensor::<f32>::from_f64s(&[0.5, -2.0], [2])
            .unwrap()
            .erf()
            .to_vec();
        assert_eq!(
            f,
            vec![0.5204998778130465f64 as f32, -0.9953222650189527f64 as f32]
        );
    }

    #[test]
    fn erf_odd_monotone_and_matches_series_on_a_grid() {
        // Reference: the alternating Maclaurin series, summed in f64 where it is well
        // conditioned (|x| <= 1), and symmetric/monotone checks elsewhere.
        let xs = Tensor::<f64>::linspace(-6.5, 6.5, 2601);
        let e = xs.erf().to_vec();
        let en = xs.neg().erf().to_vec();
        for i in 0..e.len() {
            assert_eq!(e[i], -en[i]);
            if i > 0 {
                assert!(e[i] >= e[i - 1], "monotone at {}", xs.to_vec()[i]);
            }
        }
        for (&x, &g) in xs.to_vec().iter().zip(&e) {
            if x.abs() <= 1.0 {
                let mut term = x;
                let mut sum = x;
                for n in 1..60 {
                    term *= -x * x / n as f64;
                    sum += term / (2 * n + 1) as f64;
                }
                let want = sum * std::f64::consts::FRAC_2_SQRT_PI;
                assert!((g - want).abs() < 2e-15, "{x}: {g} vs {want}");
            }
        }
    }

    #[test]
    fn unary_non_contiguous_and_large() {
        let a = transposed(9, 4, 3);
        let e = a.exp();
        assert!(e.is_contiguous());
        assert_eq!(
            e.to_vec(),
            a.to_vec().iter().map(|x| x.exp()).collect::<Vec<_>>()
        );
        let n = ELEMENTWISE_PAR_MIN + 17;
        let big = Tensor::<f32>::randn([n], 4);
        assert_eq!(
            big.tanh().to_vec(),
            big.to_vec().iter().map(|x| x.tanh()).collect::<Vec<_>>()
        );
        let big_t = Tensor::from_shared(
            Tensor::<f32>::randn([257, 300], 5)
                .array()
                .clone()
                .reversed_axes(),
        );
        assert_eq!(
            big_t.square().to_vec(),
            big_t.to_vec().iter().map(|x| x * x).collect::<Vec<_>>()
        );
        assert_eq!(Tensor::<f32>::zeros([0, 4]).exp().shape(), &[0, 4]);
        assert_eq!(Tensor::<f32>::scalar(0.0).exp().item().unwrap(), 1.0);
    }

    #[test]
    fn add_assign_in_place_and_broadcast() {
        let mut a = Tensor::<f64>::zeros([2, 3]);
        let ptr = a.as_slice().unwrap().as_ptr();
        a.add_assign(&t64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]))
            .unwrap();
        a.add_assign(&t64(&[10.0, 20.0, 30.0], &[3])).unwrap();
        a.add_assign(&Tensor::scalar(100.0)).unwrap();
        assert_eq!(a.to_vec(), vec![111.0, 122.0, 133.0, 114.0, 125.0, 136.0]);
        assert_eq!(
            a.as_slice().unwrap().as_ptr(),
            ptr,
            "no reallocation when unshared"
        );
        let e = a.add_assign(&Tensor::zeros([2, 2, 3])).unwrap_err();
        assert!(e.to_string().contains("add_assign"));
        assert!(a.add_assign(&Tensor::zeros([2])).is_err());
        // shared buffer: the clone must not change
        let snapshot = a.clone();
        a.add_assign(&Tensor::ones([2, 1])).unwrap();
        assert_eq!(
            snapshot.to_vec(),
            vec![111.0, 122.0, 133.0, 114.0, 125.0, 136.0]
        );
        assert_eq!(a.to_vec(), vec![112.0, 123.0, 134.0, 115.0, 126.0, 137.0]);
        // non-contiguous self and other
        let mut t = transposed(4, 3, 1);
        let before = t.to_vec();
        let o = transposed(4, 3, 2);
        t.add_assign(&o).unwrap();
        let want: Vec<f64> = before.iter().zip(o.to_vec()).map(|(x, y)| x + y).collect();
        assert_eq!(t.to_vec(), want);
    }

    #[test]
    fn scaled_add_assign_and_zip_map_assign() {
        let n = ELEMENTWISE_PAR_MIN + 5;
        let mut p = Tensor::<f32>::randn([n], 1);
        let g = Tensor::<f32>::randn([n], 2);
        let before = p.to_vec();
        let ptr = p.as_slice().unwrap().as_ptr();
        p.scaled_add_assign(-0.5, &g).unwrap();
        assert_eq!(p.as_slice().unwrap().as_ptr(), ptr);
        let gv = g.to_vec();
        assert!(p
            .to_vec()
            .iter()
            .enumerate()
            .all(|(i, &v)| v == before[i] + -0.5 * gv[i]));
        let e = p.scaled_add_assign(1.0, &Tensor::zeros([1])).unwrap_err();
        assert!(e.to_string().contains("scaled_add_assign"));
        let mut m = t64(&[1.0, 2.0, 3.0], &[3]);
        m.zip_map_assign(&t64(&[4.0, 5.0, 6.0], &[3]), |a, b| a * 0.9 + b * 0.1)
            .unwrap();
        let want: Vec<f64> = [(1.0, 4.0), (2.0, 5.0), (3.0, 6.0)]
            .iter()
            .map(|&(a, b): &(f64, f64)| a * 0.9 + b * 0.1)
            .collect();
        assert_eq!(m.to_vec(), want);
        assert!(m.zip_map_assign(&Tensor::zeros([1, 3]), |a, _| a).is_err());
    }

    #[test]
    fn mul_scalar_assign_and_fill() {
        let mut a = t64(&[1.0, -2.0, 3.0], &[3]);
        let shared = a.clone();
        a.mul_scalar_assign(2.0);
        assert_eq!(a.to_vec(), vec![2.0, -4.0, 6.0]);
        assert_eq!(shared.to_vec(), vec![1.0, -2.0, 3.0]);
        let ptr = a.as_slice().unwrap().as_ptr();
        a.mul_scalar_assign(0.5);
        a.fill(7.0);
        assert_eq!(a.as_slice().unwrap().as_ptr(), ptr);
        assert_eq!(a.to_vec(), vec![7.0; 3]);
        let mut b = a.clone();
        b.fill(1.0);
        assert_eq!((a.to_vec(), b.to_vec()), (vec![7.0; 3], vec![1.0; 3]));
        let mut big = Tensor::<f32>::ones([ELEMENTWISE_PAR_MIN + 1]);
        big.mul_scalar_assign(3.0);
        assert!(big.to_vec().iter().all(|&v| v == 3.0));
        let mut tr = transposed(3, 2, 0);
        let before = tr.to_vec();
        tr.mul_scalar_assign(-1.0);
        assert_eq!(tr.to_vec(), before.iter().map(|x| -x).collect::<Vec<_>>());
    }

    #[test]
    fn is_finite_all_detects_nan_inf() {
        assert!(Tensor::<f32>::zeros([0]).is_finite_all());
        assert!(Tensor::<f32>::randn([1000], 1).is_finite_all());
        let n = ELEMENTWISE_PAR_MIN + 9;
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut v = vec![1.0f32; n];
            v[n - 1] = bad;
            assert!(!Tensor::from_vec(v.clone(), [n]).unwrap().is_finite_all());
            let small = Tensor::from_vec(v[n - 5..].to_vec(), [5]).unwrap();
            assert!(!small.is_finite_all());
        }
        let mut t = transposed(3, 5, 1);
        assert!(t.is_finite_all());
        t.array_mut()[[2, 4]] = f64::NAN;
        assert!(!t.is_finite_all());
    }
}
