//! The model graph: input nodes and layer applications in topological order.

use serde::{Deserialize, Serialize};

use nn_layers::Shape;

/// One output of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct TensorRef {
    pub node: usize,
    pub output: usize,
}

/// What a node does.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum NodeOp {
    /// The model's `index`-th input.
    Input { index: usize },
    /// `layers[layer]` applied to `inputs`.
    Layer {
        layer: usize,
        inputs: Vec<TensorRef>,
    },
}

/// A node with its inferred output shapes (without the batch axis).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct GraphNode {
    pub op: NodeOp,
    pub output_shapes: Vec<Shape>,
}

/// The whole graph: nodes in topological order, the model's inputs and outputs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Graph {
    pub nodes: Vec<GraphNode>,
    pub input_shapes: Vec<Shape>,
    pub outputs: Vec<TensorRef>,
}
