//! The functional API: symbolic tensors, layers applied to them, and `Model::new`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nn_layers::{Layer, Shape};
use nn_tensor::Float;

use crate::graph::{Graph, GraphNode, NodeOp, TensorRef};
use crate::sequential::InputSpec;
use crate::{Error, Model, Result};

type SharedBox<T> = Arc<Mutex<Box<dyn Layer<T>>>>;

enum SymOp<T: Float> {
    Input,
    Layer {
        layer: SharedBox<T>,
        inputs: Vec<SymTensor<T>>,
    },
}

struct SymNode<T: Float> {
    op: SymOp<T>,
    shapes: Vec<Shape>,
}

/// A symbolic tensor: the not-yet-computed output of an [`Input`] or of a layer applied to
/// symbolic tensors. Carries its shape (without the batch axis).
pub struct SymTensor<T: Float = f32> {
    node: Arc<SymNode<T>>,
    output: usize,
}

impl<T: Float> Clone for SymTensor<T> {
    fn clone(&self) -> Self {
        SymTensor {
            node: Arc::clone(&self.node),
            output: self.output,
        }
    }
}

impl<T: Float> std::fmt::Debug for SymTensor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SymTensor(shape {:?})", self.shape())
    }
}

impl<T: Float> SymTensor<T> {
    /// The shape without the batch axis.
    pub fn shape(&self) -> &[usize] {
        &self.node.shapes[self.output]
    }

    pub(crate) fn input_shape(&self) -> Option<Shape> {
        match self.node.op {
            SymOp::Input => Some(self.node.shapes[0].clone()),
            SymOp::Layer { .. } => None,
        }
    }

    fn id(&self) -> usize {
        Arc::as_ptr(&self.node) as usize
    }
}

/// The model input, as Keras' `keras.Input(shape)`.
pub struct Input;

impl Input {
    /// An `f32` input of `shape` (without the batch axis).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(shape: impl AsRef<[usize]>) -> SymTensor<f32> {
        Self::typed(shape)
    }

    /// An input of element type `T`.
    pub fn typed<T: Float>(shape: impl AsRef<[usize]>) -> SymTensor<T> {
        SymTensor {
            node: Arc::new(SymNode {
                op: SymOp::Input,
                shapes: vec![shape.as_ref().to_vec()],
            }),
            output: 0,
        }
    }

    /// The input as a [`Sequential`](crate::Sequential) item (same as `Input::new`).
    pub fn spec(shape: impl AsRef<[usize]>) -> InputSpec {
        InputSpec {
            shape: shape.as_ref().to_vec(),
        }
    }
}

/// What a layer can be applied to: one symbolic tensor or several.
pub trait SymInputs<T: Float> {
    /// The tensors.
    fn sym_list(&self) -> Vec<SymTensor<T>>;
}

impl<T: Float> SymInputs<T> for SymTensor<T> {
    fn sym_list(&self) -> Vec<SymTensor<T>> {
        vec![self.clone()]
    }
}

impl<T: Float> SymInputs<T> for [SymTensor<T>] {
    fn sym_list(&self) -> Vec<SymTensor<T>> {
        self.to_vec()
    }
}

impl<T: Float, const N: usize> SymInputs<T> for [SymTensor<T>; N] {
    fn sym_list(&self) -> Vec<SymTensor<T>> {
        self.to_vec()
    }
}

impl<T: Float> SymInputs<T> for Vec<SymTensor<T>> {
    fn sym_list(&self) -> Vec<SymTensor<T>> {
        self.clone()
    }
}

fn apply_shared<T: Float>(
    layer: &SharedBox<T>,
    inputs: Vec<SymTensor<T>>,
) -> Result<Vec<SymTensor<T>>> {
    let shapes: Vec<Shape> = inputs.iter().map(|t| t.shape().to_vec()).collect();
    let out_shapes = {
        let mut guard = layer
            .lock()
            .map_err(|_| Error::Model("a shared layer's lock was poisoned".into()))?;
        let mut rng = crate::seed::next_rng();
        guard.build(&shapes, &mut rng)?;
        guard.output_shapes(&shapes)?
    };
    let node = Arc::new(SymNode {
        op: SymOp::Layer {
            layer: Arc::clone(layer),
            inputs,
        },
        shapes: out_shapes,
    });
    Ok((0..node.shapes.len())
        .map(|output| SymTensor {
            node: Arc::clone(&node),
            output,
        })
        .collect())
}

/// Applying a layer to symbolic tensors (Keras' `layer(x)`).
pub trait Functional<T: Float> {
    /// Applies the layer to `inputs` and returns its single output.
    fn apply(self, inputs: &(impl SymInputs<T> + ?Sized)) -> Result<SymTensor<T>>;
    /// Applies the layer and returns all its outputs (e.g. an LSTM with `return_state`).
    fn apply_multi(self, inputs: &(impl SymInputs<T> + ?Sized)) -> Result<Vec<SymTensor<T>>>;
}

impl<T: Float, L: Layer<T> + 'static> Functional<T> for L {
    fn apply(self, inputs: &(impl SymInputs<T> + ?Sized)) -> Result<SymTensor<T>> {
        SharedLayer::new(self).apply(inputs)
    }

    fn apply_multi(self, inputs: &(impl SymInputs<T> + ?Sized)) -> Result<Vec<SymTensor<T>>> {
        SharedLayer::new(self).apply_multi(inputs)
    }
}

/// A layer applied at several places of a graph, with one set of weights.
pub struct SharedLayer<T: Float = f32> {
    layer: SharedBox<T>,
}

impl<T: Float> Clone for SharedLayer<T> {
    fn clone(&self) -> Self {
        SharedLayer {
            layer: Arc::clone(&self.layer),
        }
    }
}

impl<T: Float> SharedLayer<T> {
    /// Wraps a layer for sharing.
    pub fn new(layer: impl Layer<T> + 'static) -> Self {
        SharedLayer {
            layer: Arc::new(Mutex::new(Box::new(layer))),
        }
    }

    /// Applies the shared layer; returns its single output.
    pub fn apply(&self, inputs: &(impl SymInputs<T> + ?Sized)) -> Result<SymTensor<T>> {
        let mut outs = apply_shared(&self.layer, inputs.sym_list())?;
        if outs.len() != 1 {
            return Err(Error::Model(format!(
                "the layer has {} outputs: use apply_multi",
                outs.len()
            )));
        }
        Ok(outs.remove(0))
    }

    /// Applies the shared layer; returns all its outputs.
    pub fn apply_multi(&self, inputs: &(impl SymInputs<T> + ?Sized)) -> Result<Vec<SymTensor<T>>> {
        apply_shared(&self.layer, inputs.sym_list())
    }
}

impl<T: Float> Model<T> {
    /// A model from symbolic inputs to symbolic outputs (Keras' `Model(inputs, outputs)`):
    /// every layer between them, shared layers once, in topological order.
    pub fn new(
        inputs: impl IntoIterator<Item = SymTensor<T>>,
        outputs: impl IntoIterator<Item = SymTensor<T>>,
    ) -> Result<Self> {
        let inputs: Vec<SymTensor<T>> = inputs.into_iter().collect();
        let outputs: Vec<SymTensor<T>> = outputs.into_iter().collect();
        if inputs.is_empty() || outputs.is_empty() {
            return Err(Error::Model(
                "Model::new needs at least one input and one output".into(),
            ));
        }
        let mut graph = Graph::default();
        let mut node_index: HashMap<usize, usize> = HashMap::new();
        let mut layer_index: HashMap<usize, usize> = HashMap::new();
        let mut layers: Vec<Box<dyn Layer<T>>> = Vec::new();
        for (i, x) in inputs.iter().enumerate() {
            let Some(shape) = x.input_shape() else {
                return Err(Error::Model(format!("model input {i} is not an Input")));
            };
            if node_index.contains_key(&x.id()) {
                return Err(Error::Model(format!("model input {i} is listed twice")));
            }
            node_index.insert(x.id(), graph.nodes.len());
            graph.input_shapes.push(shape.clone());
            graph.nodes.push(GraphNode {
                op: NodeOp::Input { index: i },
                output_shapes: vec![shape],
            });
        }
        // Iterative post-order from the outputs.
        let mut stack: Vec<(SymTensor<T>, bool)> =
            outputs.iter().rev().map(|o| (o.clone(), false)).collect();
        while let Some((t, expanded)) = stack.pop() {
            if node_index.contains_key(&t.id()) {
                continue;
            }
            match &t.node.op {
                SymOp::Input => {
                    return Err(Error::Model(format!(
                        "an output depends on an Input of shape {:?} that is not among the model's inputs",
                        t.shape()
                    )))
                }
                SymOp::Layer { layer, inputs: parents } => {
                    if !expanded {
                        stack.push((t.clone(), true));
                        for p in parents.iter().rev() {
                            if !node_index.contains_key(&p.id()) {
                                stack.push((p.clone(), false));
                            }
                        }
                        continue;
                    }
                    let key = Arc::as_ptr(layer) as *const () as usize;
                    let li = match layer_index.get(&key) {
                        Some(&li) => li,
                        None => {
                            let guard = layer.lock().map_err(|_| Error::Model("a layer's lock was poisoned".into()))?;
                            layers.push(guard.clone_box());
                            layer_index.insert(key, layers.len() - 1);
                            layers.len() - 1
                        }
                    };
                    let refs = parents
                        .iter()
                        .map(|p| TensorRef { node: node_index[&p.id()], output: p.output })
                        .collect();
                    node_index.insert(t.id(), graph.nodes.len());
                    graph.nodes.push(GraphNode { op: NodeOp::Layer { layer: li, inputs: refs }, output_shapes: t.node.shapes.clone() });
                }
            }
        }
        graph.outputs = outputs
            .iter()
            .map(|o| TensorRef {
                node: node_index[&o.id()],
                output: o.output,
            })
            .collect();
        Ok(Model::from_parts("functional", layers, graph))
    }
}
