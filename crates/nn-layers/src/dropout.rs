//! Dropout layers, after Keras' `Dropout` and `AlphaDropout`.
//!
//! In training each element is kept with probability `1 − rate`, drawn from the pass'
//! seeded generator ([`ForwardCtx::rng`]), so a seed reproduces the masks. The forward and
//! backward of the whole layer are one autograd node whose backward reuses the mask (one byte
//! per element). At inference both layers are the identity and return their input var.

use std::marker::PhantomData;

use nn_autograd::Var;
use nn_tensor::random::Rng;
use nn_tensor::{Float, Tensor, TensorError};
use serde::{Deserialize, Serialize};

use crate::conv::config_error;
use crate::layer::{single_input, single_shape};
use crate::{ForwardCtx, Layer, Result, SavedLayer, Shape, SELU_ALPHA, SELU_SCALE};

/// Draws the keep-mask: `true` with probability `1 − rate` (to within 2⁻³²), one 32-bit draw
/// per element in row-major order.
fn keep_mask(rng: &mut Rng, len: usize, rate: f64) -> Vec<bool> {
    // keep ⇔ u ≥ rate·2³², u uniform on 0..2³²; rate < 1 so the threshold fits.
    let threshold = (rate * 4_294_967_296.0).ceil() as u64;
    (0..len)
        .map(|_| u64::from(rng.next_u32()) >= threshold)
        .collect()
}

/// Checks `0 ≤ rate < 1`.
fn check_rate(layer: &str, rate: f64) -> Result<()> {
    if (0.0..1.0).contains(&rate) {
        Ok(())
    } else {
        Err(config_error(
            layer,
            format!("rate must be in [0, 1), got {rate}"),
        ))
    }
}

/// `y = keep ? x·a + b : c` with gradient `keep ? a·g : 0`, as one autograd node.
fn masked_affine<T: Float>(
    op: &'static str,
    x: &Var<T>,
    keep: Vec<bool>,
    a: T,
    b: T,
    c: T,
) -> Result<Var<T>> {
    let xv = x.value().contiguous();
    let xs = xv
        .as_slice()
        .ok_or_else(|| TensorError::invalid(op, "internal: layout"))?;
    let y: Vec<T> = xs
        .iter()
        .zip(&keep)
        .map(|(&v, &k)| if k { v * a + b } else { c })
        .collect();
    let y = Tensor::from_vec(y, x.shape())?;
    Ok(Var::from_op(op, y, &[x], move |g, _| {
        let g = g.contiguous();
        let gs = g
            .as_slice()
            .ok_or_else(|| TensorError::invalid(op, "internal: layout"))?;
        let dx: Vec<T> = gs
            .iter()
            .zip(&keep)
            .map(|(&v, &k)| if k { v * a } else { T::zero() })
            .collect();
        Ok(vec![Some(Tensor::from_vec(dx, g.shape())?)])
    }))
}

/// Shared parts of the two dropout layers.
macro_rules! dropout_layer {
    ($(#[$doc:meta])* $ty:ident, $class:literal, $default_name:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Serialize, Deserialize)]
        pub struct $ty<T: Float = f32> {
            name: String,
            rate: f64,
            built: bool,
            #[serde(skip)]
            _marker: PhantomData<fn() -> T>,
        }

        impl<T: Float> $ty<T> {
            /// Drops each element with probability `rate` (in `[0, 1)`; checked when the
            /// layer is built or called).
            pub fn new(rate: f64) -> Self {
                $ty { name: $default_name.into(), rate, built: false, _marker: PhantomData }
            }

            /// Sets the name.
            pub fn name(mut self, name: &str) -> Self {
                self.name = name.into();
                self
            }

            /// The drop probability.
            pub fn rate(&self) -> f64 {
                self.rate
            }
        }

        impl<T: Float> Layer<T> for $ty<T> {
            fn class_name(&self) -> &'static str {
                $class
            }

            fn name(&self) -> &str {
                &self.name
            }

            fn set_name(&mut self, name: &str) {
                self.name = name.into();
            }

            fn build(&mut self, input_shapes: &[Shape], _rng: &mut Rng) -> Result<()> {
                check_rate(&self.name, self.rate)?;
                single_shape(&self.name, input_shapes)?;
                self.built = true;
                Ok(())
            }

            fn is_built(&self) -> bool {
                self.built
            }

            fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
                check_rate(&self.name, self.rate)?;
                Ok(vec![single_shape(&self.name, input_shapes)?.clone()])
            }

            fn call(&self, inputs: &[Var<T>], ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
                let x = single_input(&self.name, inputs)?;
                check_rate(&self.name, self.rate)?;
                if !ctx.training() || self.rate == 0.0 {
                    return Ok(vec![x.clone()]);
                }
                Ok(vec![self.train_forward(x, ctx.rng())?])
            }

            fn to_saved(&self) -> SavedLayer<T> {
                SavedLayer::$ty(self.clone())
            }

            fn clone_box(&self) -> Box<dyn Layer<T>> {
                Box::new(self.clone())
            }
        }
    };
}

dropout_layer! {
    /// Inverted dropout, as Keras' `Dropout`: in training each element is zeroed with
    /// probability `rate` and the survivors are scaled by `1 / (1 − rate)`, so the expected
    /// output equals the input; at inference the layer is the identity. No parameters.
    ///
    /// ```
    /// use nn_layers::{Dropout, LayerExt};
    /// assert_eq!(Dropout::<f32>::new(0.5).output_shape(&[128])?, vec![128]);
    /// # Ok::<(), nn_layers::LayerError>(())
    /// ```
    Dropout, "Dropout", "dropout"
}

impl<T: Float> Dropout<T> {
    fn train_forward(&self, x: &Var<T>, rng: &mut Rng) -> Result<Var<T>> {
        let keep = keep_mask(rng, x.value().len(), self.rate);
        let scale = T::of(1.0 / (1.0 - self.rate));
        masked_affine("dropout", x, keep, scale, T::zero(), T::zero())
    }
}

dropout_layer! {
    /// Alpha dropout for self-normalizing (SELU) networks, as Keras' `AlphaDropout`: in
    /// training each element is replaced with probability `rate` by SELU's negative
    /// saturation value `α' = −SELU_ALPHA·SELU_SCALE`, then the result goes through the
    /// affine map `a·x + b` with `a = ((1 − rate)(1 + rate·α'²))^(−1/2)` and
    /// `b = −a·α'·rate`, which keeps a zero-mean, unit-variance input at zero mean and unit
    /// variance. The gradient is `a` where kept, 0 where dropped. The identity at inference.
    /// No parameters.
    AlphaDropout, "AlphaDropout", "alpha_dropout"
}

impl<T: Float> AlphaDropout<T> {
    /// The affine coefficients `(a, b)` and the dropped value `α'` for `rate`.
    pub fn coefficients(rate: f64) -> (f64, f64, f64) {
        let alpha_p = -SELU_ALPHA * SELU_SCALE;
        let a = ((1.0 - rate) * (1.0 + rate * alpha_p * alpha_p)).powf(-0.5);
        let b = -a * alpha_p * rate;
        (a, b, alpha_p)
    }

    fn train_forward(&self, x: &Var<T>, rng: &mut Rng) -> Result<Var<T>> {
        let keep = keep_mask(rng, x.value().len(), self.rate);
        let (a, b, alpha_p) = Self::coefficients(self.rate);
        masked_affine(
            "alpha_dropout",
            x,
            keep,
            T::of(a),
            T::of(b),
            T::of(a * alpha_p + b),
        )
    }
}
