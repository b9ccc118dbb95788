//! Activation functions, by value and by Keras name, each with a correct derivative.

use std::fmt;
use std::str::FromStr;

use nn_autograd::Var;
use nn_tensor::Float;
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
    pub fn apply<T: Float>(&self, x: &Var<T>) -> Result<Var<T>> {
        let c = |v: f64| T::of(v);
        Ok(match *self {
            Activation::Linear => x.clone(),
            Activation::Step => x.step()?,
            Activation::Sigmoid => x.sigmoid()?,
            Activation::HardSigmoid => x
                .mul_scalar(c(1.0 / 6.0))?
                .add_scalar(c(0.5))?
                .clamp(c(0.0), c(1.0))?,
            Activation::Tanh => x.tanh()?,
            Activation::Relu => x.relu()?,
            Activation::Relu6 => x.clamp(c(0.0), c(6.0))?,
            Activation::LeakyRelu { alpha } => x.leaky_relu(c(alpha))?,
            Activation::Elu { alpha } => x.elu(c(alpha))?,
            Activation::Selu => x.elu(c(SELU_ALPHA))?.mul_scalar(c(SELU_SCALE))?,
            Activation::Softplus => x.softplus()?,
            Activation::Softsign => x.div(&x.abs()?.add_scalar(c(1.0))?)?,
            Activation::Swish => x.mul(&x.sigmoid()?)?,
            Activation::Gelu { approximate: false } => {
                let cdf = x
                    .mul_scalar(c(std::f64::consts::FRAC_1_SQRT_2))?
                    .erf()?
                    .add_scalar(c(1.0))?;
                x.mul(&cdf)?.mul_scalar(c(0.5))?
            }
            Activation::Gelu { approximate: true } => {
                let k = (2.0 / std::f64::consts::PI).sqrt();
                let inner = x
                    .add(&x.powf(c(3.0))?.mul_scalar(c(0.044715))?)?
                    .mul_scalar(c(k))?;
                x.mul(&inner.tanh()?.add_scalar(c(1.0))?)?
                    .mul_scalar(c(0.5))?
            }
            Activation::Mish => x.mul(&x.softplus()?.tanh()?)?,
            Activation::Softmax { axis } => x.softmax(axis)?,
            Activation::LogSoftmax { axis } => x.log_softmax(axis)?,
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
