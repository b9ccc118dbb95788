//! The layer contract, after Keras' `build` / `call` / `compute_output_shape`.

use std::fmt;

use nn_autograd::{Var, VarId};
use nn_tensor::random::Rng;
use nn_tensor::{Float, Tensor};

use crate::{LayerError, Param, Result, SavedLayer};

/// A shape without the batch axis: `[64]` for a Dense input, `[28, 28, 1]` for an image.
pub type Shape = Vec<usize>;

/// What a forward pass needs besides its inputs, and what it leaves for the training step.
pub struct ForwardCtx<'a, T: Float = f32> {
    training: bool,
    rng: &'a mut Rng,
    losses: Vec<Var<T>>,
    updates: Vec<(VarId, Tensor<T>)>,
}

impl<'a, T: Float> ForwardCtx<'a, T> {
    /// A context for training (`true`: Dropout drops, BatchNormalization uses batch
    /// statistics) or inference (`false`).
    pub fn new(training: bool, rng: &'a mut Rng) -> Self {
        ForwardCtx {
            training,
            rng,
            losses: Vec::new(),
            updates: Vec::new(),
        }
    }

    /// Whether this is a training pass.
    pub fn training(&self) -> bool {
        self.training
    }

    /// The seeded generator for stochastic layers.
    pub fn rng(&mut self) -> &mut Rng {
        self.rng
    }

    /// Adds a term to the training loss (activity regularization).
    pub fn add_loss(&mut self, loss: Var<T>) {
        self.losses.push(loss);
    }

    /// Records a new value for a non-trainable parameter (e.g. a moving mean), applied by
    /// the model after the step (layers stay immutable during a forward pass).
    pub fn add_update(&mut self, param: VarId, value: Tensor<T>) {
        self.updates.push((param, value));
    }

    /// The loss terms added during the pass.
    pub fn take_losses(&mut self) -> Vec<Var<T>> {
        std::mem::take(&mut self.losses)
    }

    /// The state updates recorded during the pass.
    pub fn take_updates(&mut self) -> Vec<(VarId, Tensor<T>)> {
        std::mem::take(&mut self.updates)
    }
}

/// A layer: configured without knowing its input size, built on the first input shape it
/// sees, able to report its output shape without running, holding named parameters.
///
/// Shapes exclude the batch axis; tensors passed to [`Layer::call`] include it first.
pub trait Layer<T: Float = f32>: Send + Sync + fmt::Debug {
    /// The Keras class name ("Dense", "Conv2D", ...).
    fn class_name(&self) -> &'static str;

    /// The instance name ("dense", "dense_1", ...), unique within a model.
    fn name(&self) -> &str;

    /// Renames the layer (models make names unique).
    fn set_name(&mut self, name: &str);

    /// Creates the weights for `input_shapes` (one per input) drawing from `rng`. Building an
    /// already built layer with the same shapes does nothing; other shapes are an error.
    fn build(&mut self, input_shapes: &[Shape], rng: &mut Rng) -> Result<()>;

    /// Whether the weights exist.
    fn is_built(&self) -> bool;

    /// The output shapes for `input_shapes`, without running (validates the shapes).
    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>>;

    /// The forward pass on batched inputs.
    fn call(&self, inputs: &[Var<T>], ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>>;

    /// The parameters, trainable and not, in a fixed order.
    fn params(&self) -> Vec<&Param<T>> {
        Vec::new()
    }

    /// Mutable parameters, in the same order as [`Layer::params`].
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        Vec::new()
    }

    /// The layer with its configuration and weights, as a serializable value.
    fn to_saved(&self) -> SavedLayer<T>;

    /// A boxed deep copy (parameters get fresh ids).
    fn clone_box(&self) -> Box<dyn Layer<T>>;

    /// The number of inputs the layer takes (`usize::MAX` for "two or more", merge layers).
    fn num_inputs(&self) -> usize {
        1
    }

    /// Sum of the parameters' regularization penalties, if any parameter has one.
    fn regularization_loss(&self) -> Result<Option<Var<T>>> {
        let mut total: Option<Var<T>> = None;
        for p in self.params() {
            if let (Some(r), true) = (p.regularizer(), p.trainable()) {
                let term = r.penalty(&p.var())?;
                total = Some(match total {
                    Some(t) => t.add(&term)?,
                    None => term,
                });
            }
        }
        Ok(total)
    }

    /// Scalars in trainable parameters.
    fn trainable_count(&self) -> usize {
        self.params()
            .iter()
            .filter(|p| p.trainable())
            .map(|p| p.len())
            .sum()
    }

    /// Scalars in non-trainable parameters.
    fn non_trainable_count(&self) -> usize {
        self.params()
            .iter()
            .filter(|p| !p.trainable())
            .map(|p| p.len())
            .sum()
    }
}

impl<T: Float> Clone for Box<dyn Layer<T>> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Convenience for single-input, single-output layers.
pub trait LayerExt<T: Float>: Layer<T> {
    /// Calls the layer on one input and returns its one output.
    fn forward(&self, x: &Var<T>, ctx: &mut ForwardCtx<'_, T>) -> Result<Var<T>> {
        let mut out = self.call(std::slice::from_ref(x), ctx)?;
        if out.len() != 1 {
            return Err(LayerError::Config {
                layer: self.name().to_string(),
                message: format!("forward() needs one output, the layer gave {}", out.len()),
            });
        }
        Ok(out.remove(0))
    }

    /// The output shape for one input shape.
    fn output_shape(&self, input: &[usize]) -> Result<Shape> {
        let mut out = self.output_shapes(&[input.to_vec()])?;
        if out.len() != 1 {
            return Err(LayerError::Config {
                layer: self.name().to_string(),
                message: format!(
                    "output_shape() needs one output, the layer gives {}",
                    out.len()
                ),
            });
        }
        Ok(out.remove(0))
    }
}

impl<T: Float, L: Layer<T> + ?Sized> LayerExt<T> for L {}

/// Checks that a layer got exactly one input and returns it.
pub fn single_input<'v, T: Float>(layer: &str, inputs: &'v [Var<T>]) -> Result<&'v Var<T>> {
    match inputs {
        [x] => Ok(x),
        _ => Err(LayerError::Inputs {
            layer: layer.to_string(),
            expected: "1".into(),
            found: inputs.len(),
        }),
    }
}

/// Checks that a layer got exactly one input shape and returns it.
pub fn single_shape<'s>(layer: &str, shapes: &'s [Shape]) -> Result<&'s Shape> {
    match shapes {
        [s] => Ok(s),
        _ => Err(LayerError::Inputs {
            layer: layer.to_string(),
            expected: "1".into(),
            found: shapes.len(),
        }),
    }
}

/// An error for a shape the layer cannot take.
pub fn shape_error(layer: &str, expected: impl Into<String>, found: &[usize]) -> LayerError {
    LayerError::Shape {
        layer: layer.to_string(),
        expected: expected.into(),
        found: found.to_vec(),
    }
}
