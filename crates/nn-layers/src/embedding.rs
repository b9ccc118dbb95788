//! The embedding lookup layer, after Keras' `Embedding`.

use nn_autograd::Var;
use nn_tensor::random::Rng;
use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::conv::config_error;
use crate::layer::{single_input, single_shape};
use crate::{
    ForwardCtx, Initializer, Layer, LayerError, Param, Regularizer, Result, SavedLayer, Shape,
};

/// Maps integer ids to learned vectors, as Keras' `Embedding`.
///
/// Shapes: input `[batch, ...]` of ids stored as floats (each an integer in
/// `0..input_dim`), table `embeddings` `[input_dim, output_dim]`, output
/// `[batch, ..., output_dim]` (e.g. `[batch, seq]` → `[batch, seq, output_dim]`). Defaults:
/// `embeddings` initialized uniform in `[−0.05, 0.05)` (Keras' `"uniform"`), no
/// regularizer. Parameters: `input_dim·output_dim`. An id that is not an integer in
/// `0..input_dim` is an error naming the layer and the id. The lookup is one `index_select`
/// of the flattened ids; its gradient adds each output row's gradient into its id's row
/// (repeated ids accumulate). The input receives no gradient. `mask_zero` is not supported.
///
/// ```
/// use nn_layers::{Embedding, LayerExt};
/// assert_eq!(Embedding::<f32>::new(1000, 64).output_shape(&[20])?, vec![20, 64]);
/// # Ok::<(), nn_layers::LayerError>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct Embedding<T: Float = f32> {
    name: String,
    input_dim: usize,
    output_dim: usize,
    embeddings_initializer: Initializer,
    embeddings_regularizer: Option<Regularizer>,
    activity_regularizer: Option<Regularizer>,
    embeddings: Option<Param<T>>,
}

impl<T: Float> Embedding<T> {
    /// A table of `input_dim` ids (vocabulary size) by `output_dim` features.
    pub fn new(input_dim: usize, output_dim: usize) -> Self {
        Embedding {
            name: "embedding".into(),
            input_dim,
            output_dim,
            embeddings_initializer: Initializer::RandomUniform {
                min: -0.05,
                max: 0.05,
            },
            embeddings_regularizer: None,
            activity_regularizer: None,
            embeddings: None,
        }
    }

    /// The table's initializer (default uniform in `[−0.05, 0.05)`).
    pub fn embeddings_initializer(mut self, init: Initializer) -> Self {
        self.embeddings_initializer = init;
        self
    }

    /// A penalty on the table.
    pub fn embeddings_regularizer(mut self, r: Regularizer) -> Self {
        self.embeddings_regularizer = Some(r);
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

    /// The number of ids.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// The vector size.
    pub fn output_dim(&self) -> usize {
        self.output_dim
    }

    /// The table, once built.
    pub fn embeddings(&self) -> Option<&Param<T>> {
        self.embeddings.as_ref()
    }

    fn check_config(&self) -> Result<()> {
        if self.input_dim == 0 || self.output_dim == 0 {
            return Err(config_error(
                &self.name,
                format!(
                    "input_dim ({}) and output_dim ({}) must be positive",
                    self.input_dim, self.output_dim
                ),
            ));
        }
        Ok(())
    }

    /// The ids of `x` as indices, or an error naming the first bad id.
    fn ids(&self, x: &Var<T>) -> Result<Vec<usize>> {
        let limit = self.input_dim as f64;
        x.value()
            .view()
            .iter()
            .map(|&v| {
                let id = v.f64();
                if id >= 0.0 && id < limit && id.fract() == 0.0 {
                    Ok(id as usize)
                } else {
                    Err(config_error(
                        &self.name,
                        format!("input id {id} is not an integer in 0..{}", self.input_dim),
                    ))
                }
            })
            .collect()
    }
}

impl<T: Float> Layer<T> for Embedding<T> {
    fn class_name(&self) -> &'static str {
        "Embedding"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    fn build(&mut self, input_shapes: &[Shape], rng: &mut Rng) -> Result<()> {
        self.check_config()?;
        single_shape(&self.name, input_shapes)?;
        if self.embeddings.is_none() {
            let table = self
                .embeddings_initializer
                .init(&[self.input_dim, self.output_dim], rng);
            self.embeddings =
                Some(Param::new("embeddings", table).with_regularizer(self.embeddings_regularizer));
        }
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.embeddings.is_some()
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        self.check_config()?;
        let mut out = single_shape(&self.name, input_shapes)?.clone();
        out.push(self.output_dim);
        Ok(vec![out])
    }

    fn call(&self, inputs: &[Var<T>], ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        let x = single_input(&self.name, inputs)?;
        let table = self
            .embeddings
            .as_ref()
            .ok_or_else(|| LayerError::NotBuilt {
                layer: self.name.clone(),
            })?;
        let ids = self.ids(x)?;
        let mut out_shape = x.shape().to_vec();
        out_shape.push(self.output_dim);
        let y = table.var().index_select(0, &ids)?.reshape(out_shape)?;
        if let Some(r) = self.activity_regularizer {
            ctx.add_loss(r.penalty(&y)?);
        }
        Ok(vec![y])
    }

    fn params(&self) -> Vec<&Param<T>> {
        self.embeddings.iter().collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.embeddings.iter_mut().collect()
    }

    fn to_saved(&self) -> SavedLayer<T> {
        SavedLayer::Embedding(self.clone())
    }

    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }
}
