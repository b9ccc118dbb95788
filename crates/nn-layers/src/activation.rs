//! Activation functions, by value and by Keras name, each with a correct derivative.

use std::fmt;
use std::str::FromStr;

use nn_autograd::Var;
use nn_tensor::parallel::ELEMENTWISE_PAR_MIN;
use nn_tensor::{Float, Tensor, TensorError};
use serde::{Deserialize, Serialize};

use crate::{LayerError, Result};

/// SELU's constants (Klambauer et al., 2017).
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
/// SELU's scale.
pub const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

/// An activation function.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Activation {
    /// Identity.
    Linear,
    /// Heaviside step: forward only (its derivative is zero almost everywhere, so a
    /// gradient reaching it is an error rather than a silent zero).
    Step,
    /// `1 / (1 + e^−x)`.
    Sigmoid,
    /// Keras 3's piecewise-linear sigmoid: `clamp(x/6 + 1/2, 0, 1)`.
    HardSigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// `x` if positive, else `alpha·x`.
    LeakyRelu {
        /// Slope for negative inputs (Keras' `leaky_relu` default: 0.2).
        alpha: f64,
    },
    /// `x` if positive, else `alpha·(eˣ − 1)`.
    Elu {
        /// Scale of the negative part (default 1).
        alpha: f64,
    },
    /// Scaled ELU for self-normalizing networks (use with `lecun_normal` and AlphaDropout).
    Selu,
    /// `ln(1 + eˣ)`.
    Softplus,
    /// `x / (1 + |x|)`.
    Softsign,
    /// `x·sigmoid(x)` (also called SiLU).
    Swish,
    /// Gaussian error linear unit: exact `x·Φ(x)`, or the tanh approximation.
    Gelu {
        /// Use `0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))`.
        approximate: bool,
    },
    /// `x·tanh(softplus(x))`.
    Mish,
    /// Softmax along `axis`.
    Softmax {
        /// The axis (−1: last).
        axis: isize,
    },
    /// Log-softmax along `axis`.
    LogSoftmax {
        /// The axis (−1: last).
        axis: isize,
    },
}

/// Every accepted name, for error messages.
pub const ACTIVATION_NAMES: &str =
    "linear, step, sigmoid, hard_sigmoid, tanh, relu, relu6, leaky_relu, \
     elu, selu, softplus, softsign, swish, silu, gelu, gelu_tanh, mish, softmax, log_softmax";

impl Activation {
    /// Parses a Keras name (`"relu"`, `"gelu"`, ...; `None`/`"linear"` is the identity).
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "linear" | "none" | "" => Activation::Linear,
            "step" | "heaviside" => Activation::Step,
            "sigmoid" => Activation::Sigmoid,
            "hard_sigmoid" => Activation::HardSigmoid,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "relu6" => Activation::Relu6,
            "leaky_relu" => Activation::LeakyRelu { alpha: 0.2 },
            "elu" => Activation::Elu { alpha: 1.0 },
            "selu" => Activation::Selu,
            "softplus" => Activation::Softplus,
            "softsign" => Activation::Softsign,
            "swish" | "silu" => Activation::Swish,
            "gelu" => Activation::Gelu { approximate: false },
            "gelu_tanh" | "gelu_approximate" => Activation::Gelu { approximate: true },
            "mish" => Activation::Mish,
            "softmax" => Activation::Softmax { axis: -1 },
            "log_softmax" => Activation::LogSoftmax { axis: -1 },
            _ => {
                return Err(LayerError::UnknownName {
                    kind: "activation",
                    name: name.to_string(),
                    known: ACTIVATION_NAMES.into(),
                })
            }
        })
    }

    /// The Keras name.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Step => "step",
            Activation::Sigmoid => "sigmoid",
            Activation::HardSigmoid => "hard_sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Relu6 => "relu6",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Elu { .. } => "elu",
            Activation::Selu => "selu",
            Activation::Softplus => "softplus",
            Activation::Softsign => "softsign",
            Activation::Swish => "swish",
            Activation::Gelu { approximate: false } => "gelu",
            Activation::Gelu { approximate: true } => "gelu_tanh",
            Activation::Mish => "mish",
            Activation::Softmax { .. } => "softmax",
            Activation::LogSoftmax { .. } => "log_softmax",
        }
    }

    /// Applies the activation.
    ///
    /// `hard_sigmoid`, `relu6`, `selu`, `softsign`, `swish`, `gelu` (both forms) and `mish`
    /// are single fused nodes (forward and backward in one pass each); the others are the
    /// autograd primitives of the same name (also single nodes).
    pub fn apply<T: Float>(&self, x: &Var<T>) -> Result<Var<T>> {
        let c = |v: f64| T::of(v);
        Ok(match *self {
            Activation::Linear => x.clone(),
            Activation::Step => x.step()?,
            Activation::Sigmoid => x.sigmoid()?,
            Activation::Tanh => x.tanh()?,
            Activation::Relu => x.relu()?,
            Activation::LeakyRelu { alpha } => x.leaky_relu(c(alpha))?,
            Activation::Elu { alpha } => x.elu(c(alpha))?,
            Activation::Softplus => x.softplus()?,
            Activation::Softmax { axis } => x.softmax(axis)?,
            Activation::LogSoftmax { axis } => x.log_softmax(axis)?,
            Activation::HardSigmoid
            | Activation::Relu6
            | Activation::Selu
            | Activation::Softsign
            | Activation::Swish
            | Activation::Gelu { .. }
            | Activation::Mish => fused_dispatch(*self, x, None)?,
        })
    }
}

impl FromStr for Activation {
    type Err = LayerError;
    fn from_str(s: &str) -> Result<Self> {
        Activation::from_name(s)
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An activation given by value or by name; a bad name surfaces as an error when the layer
/// is built (builders do not return `Result`).
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationArg(pub std::result::Result<Activation, String>);

impl From<Activation> for ActivationArg {
    fn from(a: Activation) -> Self {
        ActivationArg(Ok(a))
    }
}

impl From<&str> for ActivationArg {
    fn from(name: &str) -> Self {
        ActivationArg(Activation::from_name(name).map_err(|_| name.to_string()))
    }
}

impl ActivationArg {
    /// The activation, or the unknown-name error.
    pub fn resolve(&self) -> Result<Activation> {
        match &self.0 {
            Ok(a) => Ok(*a),
            Err(name) => Activation::from_name(name),
        }
    }
}

/// Applies the activation named `name` (a shortcut for functional use).
pub fn activation<T: Float>(name: &str, x: &Var<T>) -> Result<Var<T>> {
    Activation::from_name(name)?.apply(x)
}

/// `act(x + bias)` with `bias` added along the last axis, as ONE graph node.
///
/// `x` has shape `[..., units]` and `bias` (if any) `[units]`. The forward pass reads `x`
/// once and writes the output once; the backward pass computes
/// `dx = g ⊙ act'(·)` (from the output for activations whose derivative is a function of
/// it, such as relu, sigmoid and tanh, else from `x + bias` recomputed on the fly, never
/// stored) and `dbias` = the column sums of `dx`, in the same pass for tensors below the
/// parallel threshold. Linear with a bias is a single broadcasting `add`; `step`,
/// `softmax` and `log_softmax` fall back to `add` followed by the activation.
///
/// ```
/// use nn_autograd::Var;
/// use nn_layers::{bias_activation, Activation};
/// use nn_tensor::Tensor;
/// let x = Var::param(Tensor::<f64>::from_f64s(&[-1.0, 0.5, 2.0, -3.0], [2, 2])?);
/// let b = Var::param(Tensor::from_f64s(&[0.5, 0.5], [2])?);
/// let y = bias_activation(&x, Some(&b), Activation::Relu)?;
/// assert_eq!(y.value().to_vec(), vec![0.0, 1.0, 2.5, 0.0]);
/// let grads = y.sum_all()?.backward()?;
/// assert_eq!(grads.get(&b).unwrap().to_vec(), vec![1.0, 1.0]); // column sums of relu'
/// # Ok::<(), nn_layers::LayerError>(())
/// ```
///
/// # Errors
/// A shape error naming `bias_activation` and both shapes if `bias` is not `[units]` with
/// `units` the size of `x`'s last axis.
pub fn bias_activation<T: Float>(
    x: &Var<T>,
    bias: Option<&Var<T>>,
    act: Activation,
) -> Result<Var<T>> {
    let Some(b) = bias else {
        return act.apply(x);
    };
    let units = x.shape().last().copied();
    if b.shape().len() != 1 || units != Some(b.shape()[0]) {
        return Err(TensorError::ShapeMismatch {
            op: "bias_activation",
            lhs: x.shape().to_vec(),
            rhs: b.shape().to_vec(),
        }
        .into());
    }
    match act {
        Activation::Linear => Ok(x.add(b)?),
        Activation::Step | Activation::Softmax { .. } | Activation::LogSoftmax { .. } => {
            act.apply(&x.add(b)?)
        }
        _ => fused_dispatch(act, x, Some(b)),
    }
}

/// Runs the fused kernel of `act` (any element-wise activation but `linear` and `step`).
fn fused_dispatch<T: Float>(act: Activation, x: &Var<T>, bias: Option<&Var<T>>) -> Result<Var<T>> {
    use kernels::*;
    let biased = bias.is_some();
    // Op names: the activation's own name, or `bias_<name>` for the fused bias + activation.
    let name =
        |plain: &'static str, with_bias: &'static str| if biased { with_bias } else { plain };
    match act {
        Activation::Sigmoid => fused(name("sigmoid_fused", "bias_sigmoid"), Sigmoid, x, bias),
        Activation::Tanh => fused(name("tanh_fused", "bias_tanh"), Tanh, x, bias),
        Activation::Relu => fused(name("relu_fused", "bias_relu"), Relu, x, bias),
        Activation::LeakyRelu { alpha } => fused(
            name("leaky_relu_fused", "bias_leaky_relu"),
            Leaky {
                alpha: T::of(alpha),
            },
            x,
            bias,
        ),
        Activation::Elu { alpha } => fused(
            name("elu_fused", "bias_elu"),
            Elu {
                alpha: T::of(alpha),
            },
            x,
            bias,
        ),
        Activation::Softplus => fused(name("softplus_fused", "bias_softplus"), Softplus, x, bias),
        Activation::HardSigmoid => fused(
            name("hard_sigmoid", "bias_hard_sigmoid"),
            HardSigmoid,
            x,
            bias,
        ),
        Activation::Relu6 => fused(name("relu6", "bias_relu6"), Relu6, x, bias),
        Activation::Selu => fused(name("selu", "bias_selu"), Selu::new(), x, bias),
        Activation::Softsign => fused(name("softsign", "bias_softsign"), Softsign, x, bias),
        Activation::Swish => fused(name("swish", "bias_swish"), Swish, x, bias),
        Activation::Gelu { approximate: false } => fused(name("gelu", "bias_gelu"), Gelu, x, bias),
        Activation::Gelu { approximate: true } => {
            fused(name("gelu_tanh", "bias_gelu_tanh"), GeluTanh, x, bias)
        }
        Activation::Mish => fused(name("mish", "bias_mish"), Mish, x, bias),
        Activation::Linear
        | Activation::Step
        | Activation::Softmax { .. }
        | Activation::LogSoftmax { .. } => Err(LayerError::Config {
            layer: "bias_activation".into(),
            message: format!("`{}` has no fused element-wise kernel", act.name()),
        }),
    }
}

/// One node computing `y = k.f(x [+ bias])`, whose backward multiplies the incoming gradient
/// by `k.d(x [+ bias], y)` (and sums that over the rows for the bias). The input and the
/// output are kept for the backward pass as shared buffers (no copy); `x + bias` is
/// recomputed there rather than stored.
fn fused<T: Float, K: Kernel<T>>(
    op: &'static str,
    k: K,
    x: &Var<T>,
    bias: Option<&Var<T>>,
) -> Result<Var<T>> {
    let z = x.value().clone();
    match bias {
        None => {
            let y = z.zip_map(&z, op, move |a, _| k.f(a))?;
            let out = y.clone();
            Ok(Var::from_op(op, y, &[x], move |g, _| {
                let (dz, _) = fused_backward(op, k, g, &z, &out, None, false)?;
                Ok(vec![Some(dz)])
            }))
        }
        Some(b) => {
            let bv = b.value().contiguous();
            let y = z.zip_map(&bv, op, move |a, c| k.f(a + c))?;
            let out = y.clone();
            Ok(Var::from_op(op, y, &[x, b], move |g, needs| {
                let (dz, db) = fused_backward(op, k, g, &z, &out, Some(&bv), needs[1])?;
                Ok(vec![needs[0].then_some(dz), db])
            }))
        }
    }
}

/// The backward of a fused activation: `dz = g ⊙ k.d(z [+ bias], y)` and, with a bias and
/// when `need_db`, the column sums of `dz`.
///
/// Below the parallel threshold (contiguous data) this is one pass computing both; above it,
/// parallel element-wise passes (only those the kernel needs) and a deterministic parallel
/// reduction.
fn fused_backward<T: Float, K: Kernel<T>>(
    op: &'static str,
    k: K,
    g: &Tensor<T>,
    z: &Tensor<T>,
    y: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    need_db: bool,
) -> nn_autograd::Result<(Tensor<T>, Option<Tensor<T>>)> {
    if g.len() < ELEMENTWISE_PAR_MIN {
        if let (Some(gs), Some(zs), Some(ys)) = (g.as_slice(), z.as_slice(), y.as_slice()) {
            match bias.map(|b| b.as_slice()) {
                None => {
                    let dz: Vec<T> = gs
                        .iter()
                        .zip(zs)
                        .zip(ys)
                        .map(|((&g, &x), &y)| g * k.d(x, y))
                        .collect();
                    return Ok((Tensor::from_vec(dz, g.shape())?, None));
                }
                Some(Some(bs)) if !bs.is_empty() => {
                    let (dz, db) = grad_and_column_sums(gs, zs, ys, bs, |x, y| k.d(x, y));
                    let db = if need_db {
                        Some(Tensor::from_vec(db, [bs.len()])?)
                    } else {
                        None
                    };
                    return Ok((Tensor::from_vec(dz, g.shape())?, db));
                }
                Some(_) => {}
            }
        }
    }
    let pre = match bias {
        Some(b) if k.uses() != Uses::Output => Some(z.zip_map(b, op, |z, c| z + c)?),
        _ => None,
    };
    let x = pre.as_ref().unwrap_or(z);
    // Kernels ignore the argument they do not use (see `Uses`).
    let dz = match k.uses() {
        Uses::Output => g.zip_map(y, op, move |g, y| g * k.d(T::zero(), y))?,
        Uses::Input => g.zip_map(x, op, move |g, x| g * k.d(x, T::zero()))?,
        Uses::Both => g.mul(&x.zip_map(y, op, move |x, y| k.d(x, y))?)?,
    };
    let db = match bias {
        Some(b) if need_db => Some(dz.sum_to_shape(&[b.len()])?),
        _ => None,
    };
    Ok((dz, db))
}

/// Rows per block of the column sums: each block is summed into a fresh partial that is
/// then added to the total, so the rounding error grows with `64 + rows/64`, not `rows`.
const COLUMN_SUM_BLOCK: usize = 64;

/// `dz[r][j] = g[r][j]·deriv(z[r][j] + bias[j], y[r][j])` and the column sums of `dz`, in
/// one pass over row-major `[rows, units]` slices (`units = bias.len() > 0`).
fn grad_and_column_sums<T: Float>(
    g: &[T],
    z: &[T],
    y: &[T],
    bias: &[T],
    deriv: impl Fn(T, T) -> T,
) -> (Vec<T>, Vec<T>) {
    let units = bias.len();
    let mut dz = nn_tensor::buffer::zeroed(g.len());
    let mut db = vec![T::zero(); units];
    let mut partial = vec![T::zero(); units];
    let block = COLUMN_SUM_BLOCK * units;
    let blocks = dz
        .chunks_mut(block)
        .zip(g.chunks(block))
        .zip(z.chunks(block))
        .zip(y.chunks(block));
    for (((dz_block, g_block), z_block), y_block) in blocks {
        partial.fill(T::zero());
        let rows = dz_block
            .chunks_exact_mut(units)
            .zip(g_block.chunks_exact(units))
            .zip(z_block.chunks_exact(units))
            .zip(y_block.chunks_exact(units));
        for (((dz_row, g_row), z_row), y_row) in rows {
            for (((((d, &g), &z), &y), &c), acc) in dz_row
                .iter_mut()
                .zip(g_row)
                .zip(z_row)
                .zip(y_row)
                .zip(bias)
                .zip(partial.iter_mut())
            {
                *d = g * deriv(z + c, y);
                *acc += *d;
            }
        }
        for (total, &p) in db.iter_mut().zip(&partial) {
            *total += p;
        }
    }
    (dz, db)
}

/// Which values a kernel's derivative reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Uses {
    /// Only the output `y` (the input argument is ignored).
    Output,
    /// Only the pre-activation input (the output argument is ignored).
    Input,
    /// Both.
    Both,
}

/// An element-wise activation with its derivative, for the fused ops.
trait Kernel<T: Float>: Copy + Send + Sync + 'static {
    /// Which arguments [`Kernel::d`] reads.
    fn uses(&self) -> Uses;
    /// The activation.
    fn f(&self, x: T) -> T;
    /// The derivative at pre-activation `x` with output `y = f(x)`.
    fn d(&self, x: T, y: T) -> T;
}

/// The scalar kernels. Each is exact at ±0, keeps NaN, gives the limit at ±inf, and never
/// overflows in between. The transcendental ones (gelu, mish) are evaluated in `f64` and
/// rounded once.
mod kernels {
    use super::{Kernel, Uses, SELU_ALPHA, SELU_SCALE};
    use nn_tensor::Float;

    /// `1/(1 + e^{-x})` and `1 − that = 1/(1 + eˣ)`, both without cancellation or overflow.
    #[inline]
    fn sigmoid_pair<T: Float>(x: T) -> (T, T) {
        let e = (-x.abs()).exp();
        let p = T::one() / (T::one() + e);
        let q = e * p;
        if x >= T::zero() {
            (p, q)
        } else {
            (q, p)
        }
    }

    #[derive(Clone, Copy)]
    pub(super) struct Sigmoid;
    impl<T: Float> Kernel<T> for Sigmoid {
        fn uses(&self) -> Uses {
            Uses::Output
        }
        #[inline]
        fn f(&self, x: T) -> T {
            sigmoid_pair(x).0
        }
        #[inline]
        fn d(&self, _: T, y: T) -> T {
            y * (T::one() - y)
        }
    }

    #[derive(Clone, Copy)]
    pub(super) struct Tanh;
    impl<T: Float> Kernel<T> for Tanh {
        fn uses(&self) -> Uses {
            Uses::Output
        }
        #[inline]
        fn f(&self, x: T) -> T {
            x.tanh()
        }
        #[inline]
        fn d(&self, _: T, y: T) -> T {
            T::one() - y * y
        }
    }

    /// `max(x, 0)`; derivative 0 at 0 (Keras, PyTorch).
    #[derive(Clone, Copy)]
    pub(super) struct Relu;
    impl<T: Float> Kernel<T> for Relu {
        fn uses(&self) -> Uses {
            Uses::Output
        }
        #[inline]
        fn f(&self, x: T) -> T {
            if x < T::zero() {
                T::zero()
            } else {
                x
            }
        }
        #[inline]
        fn d(&self, _: T, y: T) -> T {
            if y > T::zero() {
                T::one()
            } else {
                T::zero()
            }
        }
    }

    /// `x` above 0, else `alpha·x`; derivative `alpha` at 0 (as the primitive).
    #[derive(Clone, Copy)]
    pub(super) struct Leaky<T> {
        pub(super) alpha: T,
    }
    impl<T: Float> Kernel<T> for Leaky<T> {
        fn uses(&self) -> Uses {
            // With a negative slope the output's sign no longer tells the input's.
            if self.alpha >= T::zero() {
                Uses::Output
            } else {
                Uses::Input
            }
        }
        #[inline]
        fn f(&self, x: T) -> T {
            if x < T::zero() {
                self.alpha * x
            } else {
                x
            }
        }
        #[inline]
        fn d(&self, x: T, y: T) -> T {
            let s = if self.alpha >= T::zero() { y } else { x };
            if s > T::zero() {
                T::one()
            } else {
                self.alpha
            }
        }
    }

    /// `x` above 0, else `alpha·(eˣ − 1)`.
    #[derive(Clone, Copy)]
    pub(super) struct Elu<T> {
        pub(super) alpha: T,
    }
    impl<T: Float> Kernel<T> for Elu<T> {
        fn uses(&self) -> Uses {
            Uses::Input
        }
        #[inline]
        fn f(&self, x: T) -> T {
            if x > T::zero() {
                x
            } else {
                self.alpha * x.exp_m1()
            }
        }
        #[inline]
        fn d(&self, x: T, _: T) -> T {
            if x > T::zero() {
                T::one()
            } else {
                self.alpha * x.exp()
            }
        }
    }

    /// `ln(1 + eˣ) = max(x, 0) + ln(1 + e^{-|x|})`; derivative `1 − e^{-y}` from the output.
    #[derive(Clone, Copy)]
    pub(super) struct Softplus;
    impl<T: Float> Kernel<T> for Softplus {
        fn uses(&self) -> Uses {
            Uses::Output
        }
        #[inline]
        fn f(&self, x: T) -> T {
            let pos = if x > T::zero() { x } else { T::zero() };
            pos + (-x.abs()).exp().ln_1p()
        }
        #[inline]
        fn d(&self, _: T, y: T) -> T {
            // sigmoid(x) = 1 − e^{−softplus(x)}, accurate through expm1 for tiny y.
            -(-y).exp_m1()
        }
    }

    /// Keras 3's `relu6(x + 3) / 6`; derivative 1/6 strictly inside (−3, 3).
    #[derive(Clone, Copy)]
    pub(super) struct HardSigmoid;
    impl<T: Float> Kernel<T> for HardSigmoid {
        fn uses(&self) -> Uses {
            Uses::Output
        }
        #[inline]
        fn f(&self, x: T) -> T {
            Relu6.f(x + T::of(3.0)) / T::of(6.0)
        }
        #[inline]
        fn d(&self, _: T, y: T) -> T {
            if y > T::zero() && y < T::one() {
                T::of(1.0 / 6.0)
            } else {
                T::zero()
            }
        }
    }

    /// `min(max(x, 0), 6)`; derivative 1 strictly inside (0, 6).
    #[derive(Clone, Copy)]
    pub(super) struct Relu6;
    impl<T: Float> Kernel<T> for Relu6 {
        fn uses(&self) -> Uses {
            Uses::Output
        }
        #[inline]
        fn f(&self, x: T) -> T {
            let six = T::of(6.0);
            if x < T::zero() {
                T::zero()
            } else if x > six {
                six
            } else {
                x
            }
        }
        #[inline]
        fn d(&self, _: T, y: T) -> T {
            if y > T::zero() && y < T::of(6.0) {
                T::one()
            } else {
                T::zero()
            }
        }
    }

    /// `scale·x` above 0, else `scale·alpha·(eˣ − 1)`.
    #[derive(Clone, Copy)]
    pub(super) struct Selu<T> {
        scale: T,
        scale_alpha: T,
    }
    impl<T: Float> Selu<T> {
        pub(super) fn new() -> Self {
            Selu {
                scale: T::of(SELU_SCALE),
                scale_alpha: T::of(SELU_SCALE * SELU_ALPHA),
            }
        }
    }
    impl<T: Float> Kernel<T> for Selu<T> {
        fn uses(&self) -> Uses {
            Uses::Input
        }
        #[inline]
        fn f(&self, x: T) -> T {
            if x > T::zero() {
                self.scale * x
            } else {
                self.scale_alpha * x.exp_m1()
            }
        }
        #[inline]
        fn d(&self, x: T, _: T) -> T {
            if x > T::zero() {
                self.scale
            } else {
                self.scale_alpha * x.exp()
            }
        }
    }

    /// `x / (1 + |x|)` (±1 at ±inf); derivative `1 / (1 + |x|)²`.
    #[derive(Clone, Copy)]
    pub(super) struct Softsign;
    impl<T: Float> Kernel<T> for Softsign {
        fn uses(&self) -> Uses {
            Uses::Input
        }
        #[inline]
        fn f(&self, x: T) -> T {
            if x.is_infinite() {
                x.signum()
            } else {
                x / (T::one() + x.abs())
            }
        }
        #[inline]
        fn d(&self, x: T, _: T) -> T {
            let a = T::one() + x.abs();
            T::one() / (a * a)
        }
    }

    /// `x·sigmoid(x)`; 0 at −inf. Derivative `s + y·(1 − s)` with `s = sigmoid(x) = y/x`
    /// taken from the output (no `exp` in the backward pass).
    #[derive(Clone, Copy)]
    pub(super) struct Swish;
    impl<T: Float> Kernel<T> for Swish {
        fn uses(&self) -> Uses {
            Uses::Both
        }
        #[inline]
        fn f(&self, x: T) -> T {
            if x == T::neg_infinity() {
                return T::zero();
            }
            x * sigmoid_pair(x).0
        }
        #[inline]
        fn d(&self, x: T, y: T) -> T {
            if x.is_infinite() {
                return if x > T::zero() { T::one() } else { T::zero() };
            }
            let s = if x == T::zero() { T::of(0.5) } else { y / x };
            s + y * (T::one() - s)
        }
    }

    /// One interval of the piecewise polynomial approximation of erfcx(w) = e^{w²}·erfc(w).
    struct ErfcxPiece {
        /// Whether the polynomial's variable is a linear map of `1/w` (else of `w`).
        reciprocal: bool,
        /// `t = scale·v + shift` maps the interval onto [−1, 1].
        scale: f64,
        shift: f64,
        /// Coefficients of the polynomial in `t`, constant first, zero-padded to 16.
        coeffs: [f64; 16],
    }

    // Fitted for this crate with mpmath 1.4.1 (60 digits): Chebyshev interpolation of erfcx
    // at 64 nodes per interval, truncated once the tail falls below 2⁻⁵⁷ of the function,
    // converted exactly to the monomial basis in t (well conditioned here: Σ|aₖ| ≤ 1.5·|f|)
    // and rounded to f64. Measured worst relative error of the f64 Estrin evaluation below:
    // 5.6e-16 on 4001 points per interval. Variable `w` on [0, 2], `1/w` on [2, 28] (erfcx ≈
    // 1/(w√π) is nearly linear in 1/w there).
    const ERFCX_PIECES: [ErfcxPiece; 8] = [
        // w in [0, 0.5)
        ErfcxPiece {
            reciprocal: false,
            scale: 4.0,
            shift: -1.0,
            coeffs: [
                0.7703465477309968,
                -0.18580147330750357,
                0.03653406715146833,
                -0.006219475256500871,
                0.0009473309967175951,
                -0.00013180360650103036,
                1.6990153963934394e-05,
                -2.050240193159812e-06,
                2.3343614843602313e-07,
                -2.5233464615741172e-08,
                2.6025424930912117e-09,
                -2.5707122766063383e-10,
                2.4421504217927796e-11,
                -2.302590112247247e-12,
                2.0390042474930348e-13,
                0.0,
            ],
        },
        // w in [0.5, 1)
        ErfcxPiece {
            reciprocal: false,
            scale: 4.0,
            shift: -3.0,
            coeffs: [
                0.5069376502931449,
                -0.09199317291394883,
                0.014434883221955935,
                -0.002028688468669971,
                0.0002609005567516252,
                -3.1149669961126984e-05,
                3.4885738732085394e-06,
                -3.693562169321858e-07,
                3.7195450918192716e-08,
                -3.580145204643444e-09,
                3.3060433621918244e-10,
                -2.9402385351525456e-11,
                2.5856058450716995e-12,
                -2.149725594007929e-13,
                0.0,
                0.0,
            ],
        },
        // w in [1, 1.5)
        ErfcxPiece {
            reciprocal: false,
            scale: 4.0,
            shift: -5.0,
            coeffs: [
                0.3678229164523611,
                -0.05220546899115246,
                0.006674723218537403,
                -0.0007846605374360513,
                8.598189160525897e-05,
                -8.868776985335674e-06,
                8.674584703806646e-07,
                -8.09193680378784e-08,
                7.232218944423092e-09,
                -6.216436611027967e-10,
                5.1541245734905376e-11,
                -4.13441990855648e-12,
                3.2792755526192155e-13,
                -2.4784641347778522e-14,
                0.0,
                0.0,
            ],
        },
        // w in [1.5, 2)
        ErfcxPiece {
            reciprocal: false,
            scale: 4.0,
            shift: -7.0,
            coeffs: [
                0.2849722347374364,
                -0.032744086378621286,
                0.0034852268804429517,
                -0.00034781242564699874,
                3.282937190367263e-05,
                -2.9501705555848023e-06,
                2.5371204134679573e-07,
                -2.0967620290313053e-08,
                1.6709188565359516e-09,
                -1.2875250851783155e-10,
                9.61829994919104e-12,
                -7.092040457956023e-13,
                5.0106405498923414e-14,
                0.0,
                0.0,
                0.0,
            ],
        },
        // w in [2, 3) (variable 1/w)
        ErfcxPiece {
            reciprocal: true,
            scale: 11.999999999999998,
            shift: -4.999999999999999,
            coeffs: [
                0.2184987345370333,
                0.03820091583252126,
                -0.001305529768236263,
                -3.17786400127021e-06,
                5.190442894120325e-06,
                -4.766672053446806e-07,
                1.8849836237605858e-08,
                1.230949410968873e-09,
                -3.1391827825777304e-10,
                3.2381922686532515e-11,
                -1.6927386418716046e-12,
                -8.808938906383268e-14,
                3.1444143140214247e-14,
                0.0,
                0.0,
                0.0,
            ],
        },
        // w in [3, 5) (variable 1/w)
        ErfcxPiece {
            reciprocal: true,
            scale: 15.000000000000004,
            shift: -4.000000000000001,
            coeffs: [
                0.14558972127503855,
                0.03417774143692831,
                -0.0007408416340438248,
                -2.9340442995759853e-05,
                4.026097342447289e-06,
                -1.4629774456329438e-07,
                -1.1161198640939448e-08,
                2.0322356575633903e-09,
                -1.2156238078898283e-10,
                -4.099340285520042e-12,
                1.6495443471513018e-12,
                -1.6363836530643216e-13,
                3.604256087406798e-15,
                0.0,
                0.0,
                0.0,
            ],
        },
        // w in [5, 10) (variable 1/w)
        ErfcxPiece {
            reciprocal: true,
            scale: 20.0,
            shift: -3.0000000000000004,
            coeffs: [
                0.08370682200898036,
                0.027307126612832164,
                -0.0002853771648509194,
                -2.533383620746535e-05,
                1.37751901167604e-06,
                2.948625709383446e-08,
                -7.1532480132636005e-09,
                2.3527479472166547e-10,
                2.8506145590330687e-11,
                -3.559520405093347e-12,
                4.898282489681697e-14,
                2.595163330456832e-14,
                -2.62311715381966e-15,
                0.0,
                0.0,
                0.0,
            ],
        },
        // w in [10, 28) (variable 1/w)
        ErfcxPiece {
            reciprocal: true,
            scale: 31.111111111111107,
            shift: -2.111111111111111,
            coeffs: [
                0.038196753285375036,
                0.018010830181060724,
                -5.799705215524699e-05,
                -8.746095628973274e-06,
                1.4157717831493652e-07,
                1.1323735798515584e-08,
                -4.5813762298454145e-10,
                -1.9386571693757053e-11,
                1.7653194003754118e-12,
                2.3176780303013566e-14,
                -7.366019472038003e-15,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
            ],
        },
    ];

    /// erfcx(w) = e^{w²}·erfc(w) for 0 ≤ w < 28.
    ///
    /// Estrin's scheme: the degree-15 polynomial is a tree of depth 4 rather than a chain of
    /// 15 dependent multiply-adds, so consecutive elements overlap in the pipeline.
    fn erfcx_nonneg(w: f64) -> f64 {
        // Pieces of width 1/2 up to 2 (where almost all inputs fall), then 3, 5, 10, 28.
        let index = if w < 2.0 {
            ((w * 2.0) as usize).min(3)
        } else if w < 3.0 {
            4
        } else if w < 5.0 {
            5
        } else if w < 10.0 {
            6
        } else {
            7
        };
        let piece = &ERFCX_PIECES[index];
        let v = if piece.reciprocal { 1.0 / w } else { w };
        let t = piece.scale * v + piece.shift;
        let a = &piece.coeffs;
        let (t2, t4) = (t * t, t * t * (t * t));
        let t8 = t4 * t4;
        let pair = |i: usize| a[i] + a[i + 1] * t;
        let quad = |i: usize| pair(i) + pair(i + 2) * t2;
        let oct = |i: usize| quad(i) + quad(i + 4) * t4;
        oct(0) + oct(8) * t8
    }

    /// The standard normal CDF Φ(x) = erfc(−x/√2)/2, keeping its relative accuracy deep in
    /// the lower tail (no `1 + erf` cancellation).
    fn normal_cdf(x: f64) -> f64 {
        let w = x.abs() * std::f64::consts::FRAC_1_SQRT_2;
        if w >= 28.0 {
            // e^{−w²} underflows: Φ is 0 or 1.
            return if x > 0.0 { 1.0 } else { 0.0 };
        }
        if x.is_nan() {
            return x;
        }
        let q = (-w * w).exp() * erfcx_nonneg(w); // erfc(w)
        if x >= 0.0 {
            1.0 - 0.5 * q
        } else {
            0.5 * q
        }
    }

    /// The standard normal density φ(x) = e^{−x²/2}/√(2π).
    fn normal_pdf(x: f64) -> f64 {
        (-0.5 * x * x).exp()
            * (0.5 * std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2)
    }

    /// Exact GELU `x·Φ(x)`; derivative `Φ(x) + x·φ(x)` with `Φ(x) = y/x` taken from the
    /// output, so the backward pass needs one `exp` and no second Φ.
    #[derive(Clone, Copy)]
    pub(super) struct Gelu;
    impl<T: Float> Kernel<T> for Gelu {
        fn uses(&self) -> Uses {
            Uses::Both
        }
        #[inline]
        fn f(&self, x: T) -> T {
            let x = x.f64();
            if x == f64::NEG_INFINITY {
                return T::zero();
            }
            T::of(x * normal_cdf(x))
        }
        #[inline]
        fn d(&self, x: T, y: T) -> T {
            let (x, y) = (x.f64(), y.f64());
            if x.is_infinite() {
                return if x > 0.0 { T::one() } else { T::zero() };
            }
            let cdf = if x == 0.0 { 0.5 } else { y / x };
            T::of(cdf + x * normal_pdf(x))
        }
    }

    const GELU_C: f64 = 0.044_715;
    /// √(2/π).
    const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

    /// Tanh-approximated GELU `x·(1 + tanh(u))/2 = x·sigmoid(2u)`,
    /// `u = √(2/π)(x + 0.044715x³)`: the sigmoid form has no `1 + tanh` cancellation.
    /// Beyond |x| = 50 the value is `x` or 0 and the derivative 1 or 0 to all digits.
    #[derive(Clone, Copy)]
    pub(super) struct GeluTanh;
    impl<T: Float> Kernel<T> for GeluTanh {
        fn uses(&self) -> Uses {
            Uses::Input
        }
        #[inline]
        fn f(&self, x: T) -> T {
            let x = x.f64();
            if x > 50.0 {
                return T::of(x);
            }
            if x < -50.0 {
                return T::zero();
            }
            let u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
            T::of(x * sigmoid_pair(2.0 * u).0)
        }
        #[inline]
        fn d(&self, x: T, _: T) -> T {
            let x = x.f64();
            if x > 50.0 {
                return T::one();
            }
            if x < -50.0 {
                return T::zero();
            }
            let u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
            let du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * x * x);
            let (s, t) = sigmoid_pair(2.0 * u);
            // d/dx x·σ(2u) = σ(2u) + x·2σ(2u)σ(−2u)·u′
            T::of(s + 2.0 * x * s * t * du)
        }
    }

    /// `x·tanh(softplus(x))` with `tanh(softplus(x)) = n/(n + 2)`, `n = eˣ(eˣ + 2)`: no
    /// overflow (x > 40 gives `x` exactly), relative accuracy for negative x, 0 at −inf.
    #[derive(Clone, Copy)]
    pub(super) struct Mish;
    impl<T: Float> Kernel<T> for Mish {
        fn uses(&self) -> Uses {
            Uses::Input
        }
        #[inline]
        fn f(&self, x: T) -> T {
            let x = x.f64();
            if x > 40.0 {
                return T::of(x);
            }
            if x == f64::NEG_INFINITY {
                return T::zero();
            }
            let e = x.exp();
            let n = e * (e + 2.0);
            T::of(x * (n / (n + 2.0)))
        }
        #[inline]
        fn d(&self, x: T, _: T) -> T {
            let x = x.f64();
            if x > 40.0 {
                return T::one();
            }
            if x == f64::NEG_INFINITY {
                return T::zero();
            }
            let e = x.exp();
            let n = e * (e + 2.0);
            let m = n + 2.0;
            // tanh(sp) + x·sigmoid(x)·(1 − tanh²(sp)), with 1 − tanh² = 4(n + 1)/(n + 2)².
            let sig = e / (1.0 + e);
            T::of(n / m + x * sig * (4.0 * (n + 1.0)) / (m * m))
        }
    }
}
