//! Element-wise ops. Binary ops broadcast like NumPy; every binary backward sends its
//! gradient through [`unbroadcast`], which sums it back to the operand's shape.

use nn_tensor::{Float, Tensor};

use crate::{Result, Var};

/// Sums a gradient back to `shape` over the axes that broadcasting expanded.
pub(crate) fn unbroadcast<T: Float>(grad: Tensor<T>, shape: &[usize]) -> Result<Tensor<T>> {
    if grad.shape() == shape {
        Ok(grad)
    } else {
        Ok(grad.sum_to_shape(shape)?)
    }
}

fn binary<T: Float>(
    op: &'static str,
    a: &Var<T>,
    b: &Var<T>,
    value: Tensor<T>,
    backward: impl FnOnce(&Tensor<T>, bool, bool) -> Result<(Option<Tensor<T>>, Option<Tensor<T>>)>
        + Send
        + Sync
        + 'static,
) -> Var<T> {
    let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
    Var::record(op, value, &[a, b], move |g, needs| {
        let (ga, gb) = backward(g, needs[0], needs[1])?;
        let ga = match ga {
            Some(t) => Some(unbroadcast(t, &sa)?),
            None => None,
        };
        let gb = match gb {
            Some(t) => Some(unbroadcast(t, &sb)?),
            None => None,
        };
        Ok(vec![ga, gb])
    })
}

fn unary<T: Float>(
    op: &'static str,
    x: &Var<T>,
    value: Tensor<T>,
    backward: impl FnOnce(&Tensor<T>) -> Result<Tensor<T>> + Send + Sync + 'static,
) -> Var<T> {
    Var::record(op, value, &[x], move |g, _| Ok(vec![Some(backward(g)?)]))
}

/// `g ⊙ f(x)` evaluated element-wise (x and g have the same shape).
fn times_derivative<T: Float>(
    g: &Tensor<T>,
    x: &Tensor<T>,
    f: impl Fn(T) -> T + Sync + Send,
) -> Result<Tensor<T>> {
    Ok(g.zip_map(x, "backward", move |g, x| g * f(x))?)
}

impl<T: Float> Var<T> {
    /// `self + other` (broadcasting).
    pub fn add(&self, other: &Var<T>) -> Result<Var<T>> {
        let value = self.value().add(other.value())?;
        Ok(binary("add", self, other, value, |g, na, nb| {
            Ok((na.then(|| g.clone()), nb.then(|| g.clone())))
        }))
    }

    /// `self − other` (broadcasting).
    pub fn sub(&self, other: &Var<T>) -> Result<Var<T>> {
        let value = self.value().sub(other.value())?;
        Ok(binary("sub", self, other, value, |g, na, nb| {
            Ok((na.then(|| g.clone()), nb.then(|| g.neg())))
        }))
    }

    /// `self ⊙ other` (broadcasting).
    pub fn mul(&self, other: &Var<T>) -> Result<Var<T>> {
        let value = self.value().mul(other.value())?;
        let (a, b) = (self.value().clone(), other.value().clone());
        Ok(binary("mul", self, other, value, move |g, na, nb| {
            let ga = if na { Some(g.mul(&b)?) } else { None };
            let gb = if nb { Some(g.mul(&a)?) } else { None };
            Ok((ga, gb))
        }))
    }

    /// `self / other` (broadcasting).
    pub fn div(&self, other: &Var<T>) -> Result<Var<T>> {
        let value = self.value().div(other.value())?;
        let (b, out) = (other.value().clone(), value.clone());
        Ok(binary("div", self, other, value, move |g, na, nb| {
            let ga = if na { Some(g.div(&b)?) } else { None };
            // d(a/b)/db = −(a/b)/b
            let gb = if nb {
                Some(g.mul(&out)?.div(&b)?.neg())
            } else {
                None
            };
            Ok((ga, gb))
        }))
    }

    /// `self ^ other` element-wise (broadcasting). The exponent's gradient uses `ln(self)`,
    /// so it is defined for positive bases.
    pub fn pow(&self, other: &Var<T>) -> Result<Var<T>> {
        let value = self.value().pow(other.value())?;
        let (a, b, out) = (self.value().clone(), other.value().clone(), value.clone());
        Ok(binary("pow", self, other, value, move |g, na, nb| {
            let ga = if na {
                // b · a^(b−1)
                let d = b.zip_map(&a, "pow_backward", |b, a| {
                    if b == T::zero() {
                        T::zero()
                    } else {
                        b * a.powf(b - T::one())
                    }
                });
                Some(g.mul(&d?)?)
            } else {
                None
            };
            let gb = if nb {
                let d = out.mul(&a.ln())?;
                Some(g.mul(&d)?)
            } else {
                None
            };
            Ok((ga, gb))
        }))
    }

    /// Element-wise maximum (broadcasting); a tie sends the gradient to `self`.
    pub fn maximum(&self, other: &Var<T>) -> Result<Var<T>> {
        let value = self.value().maximum(other.value())?;
        let mask = self.value().ge(other.value())?;
        Ok(binary("maximum", self, other, value, move |g, na, nb| {
            let ga = if na { Some(g.mul(&mask)?) } else { None };
            let gb = if nb {
                Some(g.mul(&mask.rsub_scalar(T::one()))?)
            } else {
                None
            };
            Ok((ga, gb))
        }))
    }

    /// Element-wise minimum (broadcasting); a tie sends the gradient to `self`.
    pub fn minimum(&self, other: &Var<T>) -> Result<Var<T>> {
        let value = self.value().minimum(other.value())?;
        let mask = self.value().le(other.value())?;
        Ok(binary("minimum", self, other, value, move |g, na, nb| {
            let ga = if na { Some(g.mul(&mask)?) } else { None };
            let gb = if nb {
                Some(g.mul(&mask.rsub_scalar(T::one()))?)
            } else {
                None
            };
            Ok((ga, gb))
        }))
    }

    /// `where(cond, on_true, on_false)`: `cond` is a constant mask (non-zero picks
    /// `on_true`); the unselected branch gets exactly zero gradient, never NaN.
    pub fn select(cond: &Tensor<T>, on_true: &Var<T>, on_false: &Var<T>) -> Result<Var<T>> {
        let value = Tensor::select(cond, on_true.value(), on_false.value())?;
        let cond = cond.clone();
        Ok(binary(
            "select",
            on_true,
            on_false,
            value,
            move |g, na, nb| {
                let zeros = Tensor::zeros(g.shape());
                let ga = if na {
                    Some(Tensor::select(&cond, g, &zeros)?)
                } else {
                    None
                };
                let gb = if nb {
                    Some(Tensor::select(&cond, &zeros, g)?)
                } else {
                    None
                };
                Ok((ga, gb))
            },
        ))
    }

    /// `−self`.
    pub fn neg(&self) -> Result<Var<T>> {
        Ok(unary("neg", self, self.value().neg(), |g| Ok(g.neg())))
    }

    /// `|self|` (gradient 0 at 0).
    pub fn abs(&self) -> Result<Var<T>> {
        let x = self.value().clone();
        Ok(unary("abs", self, x.abs(), move |g| {
            times_derivative(g, &x, |x| {
                if x > T::zero() {
                    T::one()
                } else if x < T::zero() {
                    -T::one()
                } else {
                    T::zero()
                }
            })
        }))
    }

    /// `e^self`.
    pub fn exp(&self) -> Result<Var<T>> {
        let y = self.value().exp();
        let out = y.clone();
        Ok(unary("exp", self, y, move |g| Ok(g.mul(&out)?)))
    }

    /// Natural logarithm.
    pub fn ln(&self) -> Result<Var<T>> {
        let x = self.value().clone();
        Ok(unary("ln", self, x.ln(), move |g| Ok(g.div(&x)?)))
    }

    /// `ln(1 + self)`, accurate near 0.
    pub fn log1p(&self) -> Result<Var<T>> {
        let x = self.value().clone();
        Ok(unary("log1p", self, x.log1p(), move |g| {
            times_derivative(g, &x, |x| T::one() / (T::one() + x))
        }))
    }

    /// Square root.
    pub fn sqrt(&self) -> Result<Var<T>> {
        let y = self.value().sqrt();
        let out = y.clone();
        let half = T::of(0.5);
        Ok(unary("sqrt", self, y, move |g| {
            times_derivative(g, &out, move |y| half / y)
        }))
    }

    /// `self²`.
    pub fn square(&self) -> Result<Var<T>> {
        let x = self.value().clone();
        let two = T::of(2.0);
        Ok(unary("square", self, x.square(), move |g| {
            times_derivative(g, &x, move |x| two * x)
        }))
    }

    /// `1 / self`.
    pub fn recip(&self) -> Result<Var<T>> {
        let y = self.value().recip();
        let out = y.clone();
        Ok(unary("recip", self, y, move |g| {
            times_derivative(g, &out, |y| -(y * y))
        }))
    }

    /// Sine.
    pub fn sin(&self) -> Result<Var<T>> {
        let x = self.value().clone();
        Ok(unary("sin", self, x.sin(), move |g| {
            times_derivative(g, &x, |x| x.cos())
        }))
    }

    /// Cosine.
    pub fn cos(&self) -> Result<Var<T>> {
        let x = self.value().clone();
        Ok(unary("cos", self, x.cos(), move |g| {
            times_derivative(g, &x, |x| -x.sin())
        }))
    }

    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Result<Var<T>> {
        let y = self.value().tanh();
        let out = y.clone();
        Ok(unary("tanh", self, y, move |g| {
            times_derivative(g, &out, |y| T::one() - y * y)
        }))
    }

    /// Logistic sigmoid, stable for large |x|.
    pub fn sigmoid(&self) -> Result<Var<T>> {
        let y = self.value().sigmoid();
        let out = y.clone();
        Ok(unary("sigmoid", self, y, move |g| {
            times_derivative(g, &out, |y| y * (T::one() - y))
        }))
    }

    /// `max(self, 0)` (gradient 0 at 0, as Keras and PyTorch).
    pub fn relu(&self) -> Result<Var<T>> {
        let x = self.value().clone();
        Ok(unary("relu", self, x.relu(), move |g| {
            times_derivative(g, &x, |x| if x > T::zero() { T::one() } else { T::zero() })
        }))
    }

    /// `x` for `x > 0`, else `alpha·x`.
    pub fn leaky_relu(&self, alpha: T) -> Result<Var<T>> {
        let x = self.value().clone();
        Ok(unary("leaky_relu", self, x.leaky_relu(alpha), move |g| {
            times_derivative(g, &x, move |x| if x > T::zero() { T::one() } else { alpha })
        }))
    }

    /// `x` for `x > 0`, else `alpha·(eˣ − 1)`.
    pub fn elu(&self, alpha: T) -> Result<Var<T>> {
        let x = self.value().clone();
        let y = x.map(move |x| if x > T::zero() { x } else { alpha * x.exp_m1() });
        Ok(unary("elu", self, y, move |g| {
            times_derivative(g, &x, move |x| {
                if x > T::zero() {
                    T::one()
                } else {
                    alpha * x.exp()
                }
            })
        }))
    }

    /// `ln(1 + eˣ)`, stable for large |x|.
    pub fn softplus(&self) -> Result<Var<T>> {
        let x = self.value().clone();
        Ok(unary("softplus", self, x.softplus(), move |g| {
            // d/dx softplus = sigmoid(x)
            Ok(g.mul(&x.sigmoid())?)
        }))
    }

    /// The error function.
    pub fn erf(&self) -> Result<Var<T>> {
        let x = self.value().clone();
        let c = T::of(2.0 / std::f64::consts::PI.sqrt());
        Ok(unary("erf", self, x.erf(), move |g| {
            times_derivative(g, &x, move |x| c * (-(x * x)).exp())
        }))
    }

    /// Clamps into `[lo, hi]`; the gradient is 1 strictly inside, 0 outside.
    pub fn clamp(&self, lo: T, hi: T) -> Result<Var<T>> {
        let x = self.value().clone();
        Ok(unary("clamp", self, x.clamp(lo, hi), move |g| {
            times_derivative(g, &x, move |x| {
                if x >= lo && x <= hi {
                    T::one()
                } else {
                    T::zero()
                }
            })
        }))
    }

    /// `self ^ p` for a constant exponent.
    pub fn powf(&self, p: T) -> Result<Var<T>> {
        let x = self.value().clone();
        Ok(unary("powf", self, x.powf(p), move |g| {
            times_derivative(g, &x, move |x| {
                if p == T::zero() {
                    T::zero()
                } else {
                    p * x.powf(p - T::one())
                }
            })
        }))
    }

    /// `self + s`.
    pub fn add_scalar(&self, s: T) -> Result<Var<T>> {
        Ok(unary("add_scalar", self, self.value().add_scalar(s), |g| {
            Ok(g.clone())
        }))
    }

    /// `self · s`.
    pub fn mul_scalar(&self, s: T) -> Result<Var<T>> {
        Ok(unary(
            "mul_scalar",
            self,
            self.value().mul_scalar(s),
            move |g| Ok(g.mul_scalar(s)),
        ))
    }

    /// `self − s`.
    pub fn sub_scalar(&self, s: T) -> Result<Var<T>> {
        self.add_scalar(-s)
    }

    /// `self / s`.
    pub fn div_scalar(&self, s: T) -> Result<Var<T>> {
        self.mul_scalar(T::one() / s)
    }

    /// The Heaviside step (1 for `x > 0`, else 0). Forward only: its derivative is zero
    /// almost everywhere and carries no learning signal, so a gradient reaching it is a
    /// [`NonDifferentiable`](crate::AutogradError::NonDifferentiable) error.
    pub fn step(&self) -> Result<Var<T>> {
        let y = self
            .value()
            .map(|x| if x > T::zero() { T::one() } else { T::zero() });
        Ok(Var::non_differentiable("step", y, &[self]))
    }
}
