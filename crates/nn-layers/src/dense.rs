//! Dense (fully connected) layer.

use nn_autograd::Var;
use nn_tensor::random::Rng;
use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::activation::bias_activation;
use crate::layer::{shape_error, single_input, single_shape};
use crate::{
    Activation, ActivationArg, ForwardCtx, Initializer, Layer, LayerError, Param, Regularizer,
    Result, SavedLayer, Shape,
};

/// `activation(x · kernel + bias)` over the last axis, as Keras' `Dense`.
///
/// Shapes: input `[batch, ..., in]`, kernel `[in, units]`, bias `[units]`, output
/// `[batch, ..., units]`. Defaults: linear activation, bias on, `glorot_uniform` kernel,
/// `zeros` bias.
///
/// ```
/// use nn_layers::{Dense, Layer, LayerExt};
/// let dense = Dense::<f32>::new(10).activation("relu");
/// assert_eq!(dense.output_shape(&[64])?, vec![10]);
/// # Ok::<(), nn_layers::LayerError>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct Dense<T: Float = f32> {
    name: String,
    units: usize,
    activation: Activation,
    #[serde(skip)]
    unknown_activation: Option<String>,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    kernel_regularizer: Option<Regularizer>,
    bias_regularizer: Option<Regularizer>,
    activity_regularizer: Option<Regularizer>,
    kernel: Option<Param<T>>,
    bias: Option<Param<T>>,
}

impl<T: Float> Dense<T> {
    /// A dense layer with `units` outputs.
    pub fn new(units: usize) -> Self {
        Dense {
            name: "dense".into(),
            units,
            activation: Activation::Linear,
            unknown_activation: None,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: None,
            bias_regularizer: None,
            activity_regularizer: None,
            kernel: None,
            bias: None,
        }
    }

    /// Sets the activation, by value or Keras name.
    pub fn activation(mut self, activation: impl Into<ActivationArg>) -> Self {
        match activation.into().0 {
            Ok(a) => {
                self.activation = a;
                self.unknown_activation = None;
            }
            Err(name) => self.unknown_activation = Some(name),
        }
        self
    }

    /// Whether to add a bias.
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.use_bias = use_bias;
        self
    }

    /// The kernel's initializer.
    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.kernel_initializer = init;
        self
    }

    /// The bias' initializer.
    pub fn bias_initializer(mut self, init: Initializer) -> Self {
        self.bias_initializer = init;
        self
    }

    /// A penalty on the kernel.
    pub fn kernel_regularizer(mut self, r: Regularizer) -> Self {
        self.kernel_regularizer = Some(r);
        self
    }

    /// A penalty on the bias.
    pub fn bias_regularizer(mut self, r: Regularizer) -> Self {
        self.bias_regularizer = Some(r);
        self
    }

    /// A penalty on the layer's output.
    pub fn activity_regularizer(mut self, r: Regularizer) -> Self {
        self.activity_regularizer = Some(r);
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// Output units.
    pub fn units(&self) -> usize {
        self.units
    }

    /// The configured activation.
    pub fn activation_fn(&self) -> Activation {
        self.activation
    }

    /// The kernel, once built.
    pub fn kernel(&self) -> Option<&Param<T>> {
        self.kernel.as_ref()
    }

    /// The bias, once built (and when `use_bias`).
    pub fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }

    fn input_dim(&self, shape: &[usize]) -> Result<usize> {
        match shape.last() {
            Some(&d) => Ok(d),
            None => Err(shape_error(
                &self.name,
                "[batch, ..., features] (rank ≥ 1 per sample)",
                shape,
            )),
        }
    }
}

impl<T: Float> Layer<T> for Dense<T> {
    fn class_name(&self) -> &'static str {
        "Dense"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    fn build(&mut self, input_shapes: &[Shape], rng: &mut Rng) -> Result<()> {
        if let Some(name) = &self.unknown_activation {
            return Err(LayerError::Config {
                layer: self.name.clone(),
                message: Activation::from_name(name)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default(),
            });
        }
        if self.units == 0 {
            return Err(LayerError::Config {
                layer: self.name.clone(),
                message: "units must be positive".into(),
            });
        }
        let shape = single_shape(&self.name, input_shapes)?;
        let input_dim = self.input_dim(shape)?;
        if let Some(k) = &self.kernel {
            if k.value().shape()[0] != input_dim {
                return Err(shape_error(
                    &self.name,
                    format!("[batch, ..., {}]", k.value().shape()[0]),
                    shape,
                ));
            }
            return Ok(());
        }
        let kernel = self.kernel_initializer.init(&[input_dim, self.units], rng);
        self.kernel = Some(Param::new("kernel", kernel).with_regularizer(self.kernel_regularizer));
        if self.use_bias {
            let bias = self.bias_initializer.init(&[self.units], rng);
            self.bias = Some(Param::new("bias", bias).with_regularizer(self.bias_regularizer));
        }
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.kernel.is_some()
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let shape = single_shape(&self.name, input_shapes)?;
        let input_dim = self.input_dim(shape)?;
        if let Some(k) = &self.kernel {
            if k.value().shape()[0] != input_dim {
                return Err(shape_error(
                    &self.name,
                    format!("[batch, ..., {}]", k.value().shape()[0]),
                    shape,
                ));
            }
        }
        let mut out = shape.clone();
        if let Some(last) = out.last_mut() {
            *last = self.units;
        }
        Ok(vec![out])
    }

    fn call(&self, inputs: &[Var<T>], ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        let x = single_input(&self.name, inputs)?;
        let kernel = self.kernel.as_ref().ok_or_else(|| LayerError::NotBuilt {
            layer: self.name.clone(),
        })?;
        let in_dim = kernel.value().shape()[0];
        let shape = x.shape().to_vec();
        if shape.len() < 2 || shape[shape.len() - 1] != in_dim {
            return Err(shape_error(
                &self.name,
                format!("[batch, ..., {in_dim}]"),
                &shape,
            ));
        }
        // Fold any middle axes into the rows: one GEMM for the whole input.
        let rows: usize = shape[..shape.len() - 1].iter().product();
        let x2 = if shape.len() == 2 {
            x.clone()
        } else {
            x.reshape([rows, in_dim])?
        };
        // One GEMM node, then bias + activation fused into one node and one pass. Softmax
        // and log-softmax normalise along an axis of the real output shape, so they run
        // after the rows are unfolded.
        let z = x2.matmul(&kernel.var())?;
        let bias = self.bias.as_ref().map(|b| b.var());
        let along_axis = matches!(
            self.activation,
            Activation::Softmax { .. } | Activation::LogSoftmax { .. }
        );
        let y = if shape.len() == 2 {
            bias_activation(&z, bias.as_ref(), self.activation)?
        } else {
            let mut out = shape.clone();
            let last = out.len() - 1;
            out[last] = self.units;
            if along_axis {
                self.activation
                    .apply(&bias_activation(&z, bias.as_ref(), Activation::Linear)?.reshape(out)?)?
            } else {
                bias_activation(&z, bias.as_ref(), self.activation)?.reshape(out)?
            }
        };
        if let Some(r) = self.activity_regularizer {
            ctx.add_loss(r.penalty(&y)?);
        }
        Ok(vec![y])
    }

    fn params(&self) -> Vec<&Param<T>> {
        self.kernel.iter().chain(self.bias.iter()).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.kernel.iter_mut().chain(self.bias.iter_mut()).collect()
    }

    fn to_saved(&self) -> SavedLayer<T> {
        SavedLayer::Dense(self.clone())
    }

    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }
}
