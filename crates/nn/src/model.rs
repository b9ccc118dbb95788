//! `Model`: layers wired into a graph, shared by `Sequential` and the functional API.

use std::collections::HashMap;

use nn_autograd::{no_grad, Var};
use nn_layers::{ForwardCtx, Layer, Param, Shape};
use nn_tensor::random::Rng;
use nn_tensor::{Float, Tensor};
use rayon::prelude::*;

use crate::graph::{Graph, NodeOp};
use crate::train::Compiled;
use crate::{Error, Result};

/// A model: layers wired into a graph, with (after `compile`) an optimizer, a loss and metrics.
///
/// Build one with [`Sequential`](crate::Sequential) or with the functional API
/// ([`Input`](crate::Input), [`Functional::apply`](crate::Functional::apply),
/// [`Model::new`]).
pub struct Model<T: Float = f32> {
    pub(crate) name: String,
    pub(crate) layers: Vec<Box<dyn Layer<T>>>,
    pub(crate) graph: Graph,
    pub(crate) rng: Rng,
    pub(crate) compiled: Option<Compiled<T>>,
    pub(crate) stop_training: bool,
}

impl<T: Float> std::fmt::Debug for Model<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.name)
            .field(
                "layers",
                &self
                    .layers
                    .iter()
                    .map(|l| l.name().to_string())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<T: Float> Model<T> {
    pub(crate) fn from_parts(name: &str, mut layers: Vec<Box<dyn Layer<T>>>, graph: Graph) -> Self {
        make_names_unique(&mut layers);
        Model {
            name: name.to_string(),
            layers,
            graph,
            rng: crate::seed::next_rng(),
            compiled: None,
            stop_training: false,
        }
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The layers, in the order they were added.
    pub fn layers(&self) -> &[Box<dyn Layer<T>>] {
        &self.layers
    }

    /// The layer called `name`.
    pub fn get_layer(&self, name: &str) -> Option<&dyn Layer<T>> {
        self.layers
            .iter()
            .find(|l| l.name() == name)
            .map(|l| l.as_ref())
    }

    /// Mutable access to the layer called `name` (e.g. to freeze it).
    pub fn get_layer_mut(&mut self, name: &str) -> Option<&mut Box<dyn Layer<T>>> {
        self.layers.iter_mut().find(|l| l.name() == name)
    }

    /// Input shapes without the batch axis.
    pub fn input_shapes(&self) -> &[Shape] {
        &self.graph.input_shapes
    }

    /// Output shapes without the batch axis.
    pub fn output_shapes(&self) -> Vec<Shape> {
        self.graph
            .outputs
            .iter()
            .map(|r| self.graph.nodes[r.node].output_shapes[r.output].clone())
            .collect()
    }

    /// Every parameter as `("layer/param", &Param)`, in a fixed order.
    pub fn named_params(&self) -> Vec<(String, &Param<T>)> {
        self.layers
            .iter()
            .flat_map(|l| {
                l.params()
                    .into_iter()
                    .map(move |p| (format!("{}/{}", l.name(), p.name()), p))
            })
            .collect()
    }

    /// Scalars in trainable parameters.
    pub fn trainable_count(&self) -> usize {
        self.layers.iter().map(|l| l.trainable_count()).sum()
    }

    /// Scalars in non-trainable parameters.
    pub fn non_trainable_count(&self) -> usize {
        self.layers.iter().map(|l| l.non_trainable_count()).sum()
    }

    /// The weights, in [`Model::named_params`] order.
    pub fn get_weights(&self) -> Vec<Tensor<T>> {
        self.layers
            .iter()
            .flat_map(|l| l.params().into_iter().map(|p| p.value().clone()))
            .collect()
    }

    /// Replaces the weights (same order and shapes as [`Model::get_weights`]).
    pub fn set_weights(&mut self, weights: &[Tensor<T>]) -> Result<()> {
        let count: usize = self.layers.iter().map(|l| l.params().len()).sum();
        if count != weights.len() {
            return Err(Error::Model(format!(
                "set_weights: the model has {count} weights, {} given",
                weights.len()
            )));
        }
        let mut it = weights.iter();
        for layer in &mut self.layers {
            let lname = layer.name().to_string();
            for p in layer.params_mut() {
                if let Some(w) = it.next() {
                    p.set_value(w.clone()).map_err(|_| {
                        Error::Model(format!(
                            "set_weights: {lname}/{} has shape {:?}, the new value {:?}",
                            p.name(),
                            p.value().shape(),
                            w.shape()
                        ))
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Checks batched inputs against the model's input shapes; returns the batch size.
    pub(crate) fn check_inputs(&self, op: &'static str, inputs: &[&Tensor<T>]) -> Result<usize> {
        let expected = &self.graph.input_shapes;
        if inputs.len() != expected.len() {
            return Err(Error::input(
                op,
                format!(
                    "the model takes {} input(s), {} given",
                    expected.len(),
                    inputs.len()
                ),
            ));
        }
        let mut batch = None;
        for (i, (x, shape)) in inputs.iter().zip(expected).enumerate() {
            let s = x.shape();
            if s.is_empty() || &s[1..] != shape.as_slice() {
                return Err(Error::input(
                    op,
                    format!(
                        "input {i} has shape {s:?}; the model expects [batch, {}]",
                        join(shape)
                    ),
                ));
            }
            match batch {
                None => batch = Some(s[0]),
                Some(b) if b != s[0] => {
                    return Err(Error::input(
                        op,
                        format!("inputs have different batch sizes ({b} and {})", s[0]),
                    ))
                }
                _ => {}
            }
        }
        Ok(batch.unwrap_or(0))
    }

    /// Runs the graph on batched vars.
    pub(crate) fn run(
        &self,
        inputs: &[Var<T>],
        ctx: &mut ForwardCtx<'_, T>,
    ) -> Result<Vec<Var<T>>> {
        let mut values: Vec<Vec<Var<T>>> = Vec::with_capacity(self.graph.nodes.len());
        // Free each intermediate after its last use (matters for inference memory).
        let mut remaining = vec![0usize; self.graph.nodes.len()];
        for node in &self.graph.nodes {
            if let NodeOp::Layer { inputs: refs, .. } = &node.op {
                for r in refs {
                    remaining[r.node] += 1;
                }
            }
        }
        for r in &self.graph.outputs {
            remaining[r.node] += 1;
        }
        for node in &self.graph.nodes {
            let out = match &node.op {
                NodeOp::Input { index } => vec![inputs[*index].clone()],
                NodeOp::Layer {
                    layer,
                    inputs: refs,
                } => {
                    let xs: Vec<Var<T>> = refs
                        .iter()
                        .map(|r| values[r.node][r.output].clone())
                        .collect();
                    for r in refs {
                        remaining[r.node] -= 1;
                        if remaining[r.node] == 0 {
                            values[r.node].clear();
                        }
                    }
                    self.layers[*layer].call(&xs, ctx)?
                }
            };
            values.push(out);
        }
        Ok(self
            .graph
            .outputs
            .iter()
            .map(|r| values[r.node][r.output].clone())
            .collect())
    }

    /// The outputs for a batch of inputs, without recording a graph.
    pub fn predict_on_batch(&self, inputs: &[&Tensor<T>]) -> Result<Vec<Tensor<T>>> {
        self.check_inputs("predict", inputs)?;
        no_grad(|| {
            let vars: Vec<Var<T>> = inputs.iter().map(|x| Var::constant((*x).clone())).collect();
            let mut rng = Rng::seed(0);
            let mut ctx = ForwardCtx::new(false, &mut rng);
            Ok(self
                .run(&vars, &mut ctx)?
                .into_iter()
                .map(|v| v.value().clone())
                .collect())
        })
    }

    /// Predictions for a single-input, single-output model, computed in batches of 256 in
    /// parallel, with no graph recorded.
    pub fn predict(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        self.predict_batched(x, 256)
    }

    /// [`Model::predict`] with a chosen batch size.
    pub fn predict_batched(&self, x: &Tensor<T>, batch_size: usize) -> Result<Tensor<T>> {
        self.predict_inputs_batched(&[x], batch_size)
    }

    /// Predictions for a single-output model with one or several inputs (Keras'
    /// `predict([x1, x2])`), one tensor per model input in the order of `Model::new`,
    /// computed in batches of 256 in parallel.
    pub fn predict_inputs(&self, inputs: &[&Tensor<T>]) -> Result<Tensor<T>> {
        self.predict_inputs_batched(inputs, 256)
    }

    /// [`Model::predict_inputs`] with a chosen batch size.
    pub fn predict_inputs_batched(
        &self,
        inputs: &[&Tensor<T>],
        batch_size: usize,
    ) -> Result<Tensor<T>> {
        if self.graph.outputs.len() != 1 {
            return Err(Error::input(
                "predict",
                "the model has several outputs: use predict_on_batch",
            ));
        }
        let n = self.check_inputs("predict", inputs)?;
        let batch_size = batch_size.max(1);
        if n <= batch_size {
            return Ok(self.predict_on_batch(inputs)?.remove(0));
        }
        let starts: Vec<usize> = (0..n).step_by(batch_size).collect();
        let parts: Vec<Result<Tensor<T>>> = starts
            .par_iter()
            .map(|&s| {
                let e = (s + batch_size).min(n);
                let batch = inputs
                    .iter()
                    .map(|x| x.slice_axis(0, s, e))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let refs: Vec<&Tensor<T>> = batch.iter().collect();
                Ok(self.predict_on_batch(&refs)?.remove(0))
            })
            .collect();
        let parts = parts.into_iter().collect::<Result<Vec<_>>>()?;
        let refs: Vec<&Tensor<T>> = parts.iter().collect();
        Ok(Tensor::concat(&refs, 0)?)
    }

    /// The model's inputs packed side by side into one `[batch, Σ features]` tensor (each
    /// input flattened), so a multi-input dataset can be batched, shuffled and split as one
    /// `TensorDataset`; [`InputLayout::unpack`] reverses it.
    pub(crate) fn pack_inputs(
        &self,
        op: &'static str,
        inputs: &[&Tensor<T>],
    ) -> Result<(Tensor<T>, InputLayout)> {
        let n = self.check_inputs(op, inputs)?;
        let flat = inputs
            .iter()
            .map(|x| {
                let width = x.shape()[1..].iter().product::<usize>();
                x.contiguous().reshape([n, width])
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let refs: Vec<&Tensor<T>> = flat.iter().collect();
        let packed = Tensor::concat(&refs, 1)?;
        Ok((packed, InputLayout::Packed(self.graph.input_shapes.clone())))
    }

    /// Keras' summary table: layer (type), output shape, parameter count, then totals.
    pub fn summary_string(&self) -> String {
        let mut rows: Vec<(String, String, String)> = Vec::new();
        for (i, node) in self.graph.nodes.iter().enumerate() {
            match &node.op {
                NodeOp::Input { .. } => {
                    if self.graph.nodes.len() > 1 && self.is_functional() {
                        rows.push((
                            format!("input_{i} (InputLayer)"),
                            shapes_text(&node.output_shapes),
                            "0".into(),
                        ));
                    }
                }
                NodeOp::Layer { layer, .. } => {
                    let l = &self.layers[*layer];
                    let count: usize = l.params().iter().map(|p| p.len()).sum();
                    rows.push((
                        format!("{} ({})", l.name(), l.class_name()),
                        shapes_text(&node.output_shapes),
                        group_digits(count),
                    ));
                }
            }
        }
        let w0 = rows
            .iter()
            .map(|r| r.0.chars().count())
            .max()
            .unwrap_or(0)
            .max(28);
        let w1 = rows
            .iter()
            .map(|r| r.1.chars().count())
            .max()
            .unwrap_or(0)
            .max(25);
        let w2 = rows
            .iter()
            .map(|r| r.2.chars().count())
            .max()
            .unwrap_or(0)
            .max(10);
        let mut s = String::new();
        s.push_str(&format!("Model: \"{}\"\n", self.name));
        s.push('┏');
        s.push_str(&format!(
            "{}┳{}┳{}┓\n",
            "━".repeat(w0 + 1),
            "━".repeat(w1 + 1),
            "━".repeat(w2 + 1)
        ));
        s.push_str(&format!(
            "┃ {:<w0$}┃ {:<w1$}┃ {:>w2$}┃\n",
            "Layer (type)", "Output Shape", "Param #"
        ));
        s.push_str(&format!(
            "┡{}╇{}╇{}┩\n",
            "━".repeat(w0 + 1),
            "━".repeat(w1 + 1),
            "━".repeat(w2 + 1)
        ));
        for (k, (a, b, c)) in rows.iter().enumerate() {
            s.push_str(&format!("│ {a:<w0$}│ {b:<w1$}│ {c:>w2$}│\n"));
            if k + 1 < rows.len() {
                s.push_str(&format!(
                    "├{}┼{}┼{}┤\n",
                    "─".repeat(w0 + 1),
                    "─".repeat(w1 + 1),
                    "─".repeat(w2 + 1)
                ));
            }
        }
        s.push_str(&format!(
            "└{}┴{}┴{}┘\n",
            "─".repeat(w0 + 1),
            "─".repeat(w1 + 1),
            "─".repeat(w2 + 1)
        ));
        let (tr, ntr) = (self.trainable_count(), self.non_trainable_count());
        s.push_str(&format!(
            " Total params: {} ({})\n",
            group_digits(tr + ntr),
            bytes_text((tr + ntr) * std::mem::size_of::<T>())
        ));
        s.push_str(&format!(
            " Trainable params: {} ({})\n",
            group_digits(tr),
            bytes_text(tr * std::mem::size_of::<T>())
        ));
        s.push_str(&format!(
            " Non-trainable params: {} ({})\n",
            group_digits(ntr),
            bytes_text(ntr * std::mem::size_of::<T>())
        ));
        s
    }

    /// Prints [`Model::summary_string`].
    pub fn summary(&self) {
        print!("{}", self.summary_string());
    }

    fn is_functional(&self) -> bool {
        self.graph.input_shapes.len() != 1
            || self
                .graph
                .nodes
                .iter()
                .any(|n| matches!(&n.op, NodeOp::Layer { inputs, .. } if inputs.len() != 1))
            || self.name.starts_with("functional")
    }

    /// Applies state updates recorded during a forward pass (moving statistics).
    pub(crate) fn apply_updates(
        &mut self,
        updates: Vec<(nn_autograd::VarId, Tensor<T>)>,
    ) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let mut by_id: HashMap<nn_autograd::VarId, Tensor<T>> = updates.into_iter().collect();
        for layer in &mut self.layers {
            for p in layer.params_mut() {
                if let Some(v) = by_id.remove(&p.id()) {
                    p.set_value(v)?;
                }
            }
        }
        Ok(())
    }
}

/// How the `x` of a dataset maps onto a model's inputs.
pub(crate) enum InputLayout {
    /// `x` is the model's only input.
    Single,
    /// `x` holds the inputs of these shapes (without the batch axis), each flattened, side by
    /// side along axis 1 (see [`Model::pack_inputs`]).
    Packed(Vec<Shape>),
}

impl InputLayout {
    /// The model inputs held by `x` (a batch or a whole dataset).
    pub(crate) fn unpack<T: Float>(&self, x: &Tensor<T>) -> Result<Vec<Tensor<T>>> {
        let shapes = match self {
            InputLayout::Single => return Ok(vec![x.clone()]),
            InputLayout::Packed(shapes) => shapes,
        };
        let n = x.shape().first().copied().unwrap_or(0);
        let mut offset = 0;
        let mut out = Vec::with_capacity(shapes.len());
        for shape in shapes {
            let width = shape.iter().product::<usize>();
            let mut full = vec![n];
            full.extend_from_slice(shape);
            out.push(
                x.slice_axis(1, offset, offset + width)?
                    .contiguous()
                    .reshape(full)?,
            );
            offset += width;
        }
        Ok(out)
    }
}

fn join(shape: &[usize]) -> String {
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn shapes_text(shapes: &[Shape]) -> String {
    let one = |s: &Shape| {
        let mut parts = vec!["None".to_string()];
        parts.extend(s.iter().map(|d| d.to_string()));
        format!("({})", parts.join(", "))
    };
    if shapes.len() == 1 {
        one(&shapes[0])
    } else {
        format!(
            "[{}]",
            shapes.iter().map(one).collect::<Vec<_>>().join(", ")
        )
    }
}

fn group_digits(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bytes_text(bytes: usize) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.2} MB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2} KB", b / 1024.0)
    } else {
        format!("{bytes}.00 B")
    }
}

/// Gives every layer a unique name: the first `dense` stays `dense`, later ones become
/// `dense_1`, `dense_2`, ... (Keras' scheme).
fn make_names_unique<T: Float>(layers: &mut [Box<dyn Layer<T>>]) {
    let mut used: std::collections::HashSet<String> = std::collections::HashSet::new();
    for layer in layers.iter_mut() {
        let base = layer.name().to_string();
        if used.contains(&base) {
            let mut k = 1;
            while used.contains(&format!("{base}_{k}")) {
                k += 1;
            }
            layer.set_name(&format!("{base}_{k}"));
        }
        used.insert(layer.name().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_grouped() {
        assert_eq!(group_digits(235146), "235,146");
        assert_eq!(group_digits(10), "10");
    }
}
