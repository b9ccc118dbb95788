//! `Sequential`: a stack of layers, each fed by the one before.

use std::ops::{Deref, DerefMut};

use nn_layers::{Layer, Shape};
use nn_tensor::Float;

use crate::graph::{Graph, GraphNode, NodeOp, TensorRef};
use crate::{Error, Model, Result};

/// The input of a model: its shape without the batch axis.
///
/// In a [`Sequential`] model it is the first item added; in the functional API
/// [`Input::new`] gives the symbolic tensor layers are applied to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputSpec {
    pub(crate) shape: Shape,
}

/// Something [`Sequential::add`] accepts: any built-in layer, a boxed custom layer, or the
/// model's [`Input`](crate::Input).
pub enum SequentialItem<T: Float> {
    /// The model's input shape.
    Input(Shape),
    /// A layer.
    Layer(Box<dyn Layer<T>>),
    /// Something that cannot start or extend a Sequential model (reported by `build`).
    Invalid(String),
}

impl<T: Float> From<InputSpec> for SequentialItem<T> {
    fn from(spec: InputSpec) -> Self {
        SequentialItem::Input(spec.shape)
    }
}

impl<T: Float> From<crate::SymTensor<T>> for SequentialItem<T> {
    fn from(t: crate::SymTensor<T>) -> Self {
        match t.input_shape() {
            Some(shape) => SequentialItem::Input(shape),
            None => SequentialItem::Invalid(
                "only an Input (not the output of a layer) can be added to a Sequential model"
                    .into(),
            ),
        }
    }
}

impl<T: Float> From<Box<dyn Layer<T>>> for SequentialItem<T> {
    fn from(layer: Box<dyn Layer<T>>) -> Self {
        SequentialItem::Layer(layer)
    }
}

macro_rules! sequential_layers {
    ($($ty:ident),* $(,)?) => {
        $(impl<T: Float> From<nn_layers::$ty<T>> for SequentialItem<T> {
            fn from(layer: nn_layers::$ty<T>) -> Self {
                SequentialItem::Layer(Box::new(layer))
            }
        })*
    };
}
sequential_layers!(
    Dense,
    Conv1D,
    Conv2D,
    MaxPooling1D,
    MaxPooling2D,
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Dropout,
    AlphaDropout,
    BatchNormalization,
    LayerNormalization,
    Embedding,
    Add,
    Concatenate,
    SimpleRNN,
    LSTM,
    GRU,
    ActivationLayer,
    Softmax,
    PReLU,
    LeakyReLU,
    ELU,
    Flatten,
    Reshape,
    Slice
);

/// A linear stack of layers. Only the first item needs to know the input shape (an
/// [`Input`](crate::Input)); every later layer is built on the shape the one before produces.
///
/// `Sequential` dereferences to [`Model`]: `compile`, `fit`, `evaluate`, `predict`, `summary`
/// and `save` are the model's.
///
/// ```
/// use nn::prelude::*;
/// let model = Sequential::new()
///     .add(Input::new([4]))
///     .add(Dense::new(8).activation("relu"))
///     .add(Dense::new(3))
///     .build()?;
/// assert_eq!(model.output_shapes(), vec![vec![3]]);
/// # Ok::<(), nn::Error>(())
/// ```
pub struct Sequential<T: Float = f32> {
    model: Model<T>,
    input_shape: Option<Shape>,
    error: Option<Error>,
}

impl Sequential<f32> {
    /// An empty `f32` model.
    pub fn new() -> Self {
        Self::with_dtype()
    }
}

impl Default for Sequential<f32> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Sequential<T> {
    /// An empty model of element type `T` (`Sequential::<f64>::with_dtype()`).
    pub fn with_dtype() -> Self {
        Sequential {
            model: Model::from_parts("sequential", Vec::new(), Graph::default()),
            input_shape: None,
            error: None,
        }
    }

    /// Appends a layer (or, first, the [`Input`](crate::Input)). A layer that does not fit
    /// the shape before it is reported by [`Sequential::build`], `compile` or `summary`
    /// (builders do not return `Result`).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, item: impl Into<SequentialItem<T>>) -> Self {
        match item.into() {
            SequentialItem::Input(shape) => {
                if self.input_shape.is_some() || !self.model.layers.is_empty() {
                    self.record_error(Error::Model(
                        "Input must be the first item of a Sequential model".into(),
                    ));
                } else {
                    self.input_shape = Some(shape);
                }
            }
            SequentialItem::Layer(layer) => self.push_layer(layer),
            SequentialItem::Invalid(message) => self.record_error(Error::Model(message)),
        }
        self
    }

    fn record_error(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    fn push_layer(&mut self, mut layer: Box<dyn Layer<T>>) {
        if self.error.is_some() {
            return;
        }
        let Some(input_shape) = self.input_shape.clone() else {
            self.record_error(Error::Model(format!(
                "layer `{}` was added before an Input: start the model with .add(Input::new([..]))",
                layer.name()
            )));
            return;
        };
        let graph = &mut self.model.graph;
        if graph.nodes.is_empty() {
            graph.input_shapes = vec![input_shape.clone()];
            graph.nodes.push(GraphNode {
                op: NodeOp::Input { index: 0 },
                output_shapes: vec![input_shape],
            });
            graph.outputs = vec![TensorRef { node: 0, output: 0 }];
        }
        let last = graph.outputs[0];
        let in_shape = graph.nodes[last.node].output_shapes[last.output].clone();
        // Unique name before building, so errors name the layer as the summary will.
        let mut names: Vec<String> = self
            .model
            .layers
            .iter()
            .map(|l| l.name().to_string())
            .collect();
        let base = layer.name().to_string();
        if names.contains(&base) {
            let mut k = 1;
            while names.contains(&format!("{base}_{k}")) {
                k += 1;
            }
            layer.set_name(&format!("{base}_{k}"));
        }
        names.push(layer.name().to_string());
        let mut rng = crate::seed::next_rng();
        let built = layer
            .build(std::slice::from_ref(&in_shape), &mut rng)
            .and_then(|_| layer.output_shapes(&[in_shape]));
        match built {
            Ok(out) => {
                if out.len() != 1 {
                    self.record_error(Error::Model(format!(
                        "layer `{}` has {} outputs; a Sequential model needs one per layer (use the functional API)",
                        layer.name(),
                        out.len()
                    )));
                    return;
                }
                let index = self.model.layers.len();
                self.model.layers.push(layer);
                let graph = &mut self.model.graph;
                graph.nodes.push(GraphNode {
                    op: NodeOp::Layer {
                        layer: index,
                        inputs: vec![last],
                    },
                    output_shapes: out,
                });
                graph.outputs = vec![TensorRef {
                    node: graph.nodes.len() - 1,
                    output: 0,
                }];
            }
            Err(e) => self.record_error(e.into()),
        }
    }

    /// The finished model, or the first error met while adding layers.
    pub fn build(self) -> Result<Model<T>> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.model.layers.is_empty() {
            return Err(Error::Model(
                "a Sequential model needs an Input and at least one layer".into(),
            ));
        }
        Ok(self.model)
    }

    /// The first error met while adding layers, if any.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }
}

impl<T: Float> Deref for Sequential<T> {
    type Target = Model<T>;
    fn deref(&self) -> &Model<T> {
        &self.model
    }
}

impl<T: Float> DerefMut for Sequential<T> {
    fn deref_mut(&mut self) -> &mut Model<T> {
        &mut self.model
    }
}
