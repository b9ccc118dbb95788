//! `Slice`: a range of one feature axis (Keras' functional `x[:, start:end]`).

use std::marker::PhantomData;

use nn_autograd::Var;
use nn_tensor::random::Rng;
use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::layer::{shape_error, single_input, single_shape};
use crate::{ForwardCtx, Layer, Result, SavedLayer, Shape};

/// Keeps positions `start..end` of feature axis `axis` (0 is the first axis after the
/// batch axis): Keras' functional `x[:, start:end]`. It takes packed inputs apart, e.g. the
/// ids and the labels of a model ending in a large-vocabulary output layer trained with the
/// single-input `fit`. The sliced-away positions get a zero gradient.
///
/// ```
/// use nn_layers::{LayerExt, Slice};
/// assert_eq!(Slice::<f32>::new(0, 1, 2).output_shape(&[2])?, vec![1]);
/// assert_eq!(Slice::<f32>::new(1, 0, 3).output_shape(&[5, 4])?, vec![5, 3]);
/// # Ok::<(), nn_layers::LayerError>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct Slice<T: Float = f32> {
    #[serde(skip)]
    _t: PhantomData<T>,
    name: String,
    axis: usize,
    start: usize,
    end: usize,
    built: bool,
}

impl<T: Float> Slice<T> {
    /// Positions `start..end` of feature axis `axis`.
    pub fn new(axis: usize, start: usize, end: usize) -> Self {
        Slice {
            _t: PhantomData,
            name: "slice".into(),
            axis,
            start,
            end,
            built: false,
        }
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    fn out_shape(&self, shape: &[usize]) -> Result<Shape> {
        match shape.get(self.axis) {
            Some(&len) if self.start < self.end && self.end <= len => {
                let mut out = shape.to_vec();
                out[self.axis] = self.end - self.start;
                Ok(out)
            }
            _ => Err(shape_error(
                &self.name,
                format!(
                    "a feature axis {} with at least {} positions (slice {}..{})",
                    self.axis,
                    self.end.max(1),
                    self.start,
                    self.end
                ),
                shape,
            )),
        }
    }
}

impl<T: Float> Layer<T> for Slice<T> {
    fn class_name(&self) -> &'static str {
        "Slice"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    fn build(&mut self, input_shapes: &[Shape], _rng: &mut Rng) -> Result<()> {
        self.out_shape(single_shape(&self.name, input_shapes)?)?;
        self.built = true;
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.built
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![
            self.out_shape(single_shape(&self.name, input_shapes)?)?
        ])
    }

    fn call(&self, inputs: &[Var<T>], _ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        let x = single_input(&self.name, inputs)?;
        self.out_shape(x.shape().get(1..).unwrap_or(&[]))?;
        Ok(vec![x.slice_axis(
            self.axis as isize + 1,
            self.start,
            self.end,
        )?])
    }

    fn to_saved(&self) -> SavedLayer<T> {
        SavedLayer::Slice(self.clone())
    }

    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }
}
