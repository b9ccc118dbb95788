//! Merge layers, after Keras' `Add` and `Concatenate`: several inputs, one output.

use std::marker::PhantomData;

use nn_autograd::Var;
use nn_tensor::random::Rng;
use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::layer::shape_error;
use crate::{ForwardCtx, Layer, LayerError, Result, SavedLayer, Shape};

/// Checks that a merge layer got at least two inputs.
fn at_least_two(layer: &str, found: usize) -> Result<()> {
    if found < 2 {
        return Err(LayerError::Inputs {
            layer: layer.to_string(),
            expected: "at least 2".into(),
            found,
        });
    }
    Ok(())
}

/// Element-wise sum of two or more inputs of the same shape, as Keras' `Add` (no
/// broadcasting). One autograd node: the forward sums into one buffer, the backward hands
/// every input the output gradient itself (shared, not copied). No parameters.
///
/// ```
/// use nn_layers::{Add, Layer};
/// let add = Add::<f32>::new();
/// assert_eq!(add.output_shapes(&[vec![8, 8, 16], vec![8, 8, 16]])?, vec![vec![8, 8, 16]]);
/// assert!(add.output_shapes(&[vec![8, 8, 16], vec![8, 8, 8]]).is_err());
/// # Ok::<(), nn_layers::LayerError>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Add<T: Float = f32> {
    name: String,
    built: bool,
    #[serde(skip)]
    _marker: PhantomData<fn() -> T>,
}

impl<T: Float> Default for Add<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Add<T> {
    /// An `Add` layer.
    pub fn new() -> Self {
        Add {
            name: "add".into(),
            built: false,
            _marker: PhantomData,
        }
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    fn check(&self, shapes: &[&[usize]]) -> Result<()> {
        at_least_two(&self.name, shapes.len())?;
        let first = shapes[0];
        for s in &shapes[1..] {
            if *s != first {
                return Err(shape_error(
                    &self.name,
                    format!("the shape of the first input, {first:?}"),
                    s,
                ));
            }
        }
        Ok(())
    }
}

impl<T: Float> Layer<T> for Add<T> {
    fn class_name(&self) -> &'static str {
        "Add"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    fn build(&mut self, input_shapes: &[Shape], _rng: &mut Rng) -> Result<()> {
        self.output_shapes(input_shapes)?;
        self.built = true;
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.built
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let shapes: Vec<&[usize]> = input_shapes.iter().map(|s| s.as_slice()).collect();
        self.check(&shapes)?;
        Ok(vec![input_shapes[0].clone()])
    }

    fn call(&self, inputs: &[Var<T>], _ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        let shapes: Vec<&[usize]> = inputs.iter().map(|x| x.shape()).collect();
        self.check(&shapes)?;
        let mut sum = inputs[0].value().add(inputs[1].value())?;
        for x in &inputs[2..] {
            sum.add_assign(x.value())?;
        }
        let parents: Vec<&Var<T>> = inputs.iter().collect();
        Ok(vec![Var::from_op("add_n", sum, &parents, |g, needs| {
            Ok(needs.iter().map(|&n| n.then(|| g.clone())).collect())
        })])
    }

    fn to_saved(&self) -> SavedLayer<T> {
        SavedLayer::Add(self.clone())
    }

    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }

    fn num_inputs(&self) -> usize {
        usize::MAX
    }
}

/// Joins two or more inputs along `axis`, as Keras' `Concatenate` (default −1, the last;
/// counted on the full shape, batch axis included, which may not be joined). The inputs must
/// have the same rank and equal sizes on every other axis. No parameters.
///
/// ```
/// use nn_layers::{Concatenate, Layer};
/// let cat = Concatenate::<f32>::new();
/// assert_eq!(cat.output_shapes(&[vec![5, 3], vec![5, 4]])?, vec![vec![5, 7]]);
/// let rows = Concatenate::<f32>::new().axis(1);
/// assert_eq!(rows.output_shapes(&[vec![5, 3], vec![2, 3]])?, vec![vec![7, 3]]);
/// # Ok::<(), nn_layers::LayerError>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Concatenate<T: Float = f32> {
    name: String,
    axis: isize,
    built: bool,
    #[serde(skip)]
    _marker: PhantomData<fn() -> T>,
}

impl<T: Float> Default for Concatenate<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Concatenate<T> {
    /// Concatenation along the last axis.
    pub fn new() -> Self {
        Concatenate {
            name: "concatenate".into(),
            axis: -1,
            built: false,
            _marker: PhantomData,
        }
    }

    /// The axis to join along (of the full shape, batch included; default −1).
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// The axis within per-sample shapes of rank `rank` (batch excluded).
    fn sample_axis(&self, shapes: &[&[usize]]) -> Result<usize> {
        at_least_two(&self.name, shapes.len())?;
        let first = shapes[0];
        let full_rank = first.len() as isize + 1;
        let a = if self.axis < 0 {
            self.axis + full_rank
        } else {
            self.axis
        };
        if a < 1 || a >= full_rank {
            return Err(shape_error(
                &self.name,
                format!(
                    "inputs with an axis {} other than the batch axis",
                    self.axis
                ),
                first,
            ));
        }
        let a = (a - 1) as usize;
        for s in &shapes[1..] {
            let same = s.len() == first.len()
                && s.iter()
                    .zip(first)
                    .enumerate()
                    .all(|(i, (x, y))| i == a || x == y);
            if !same {
                return Err(shape_error(
                    &self.name,
                    format!(
                        "the shape of the first input, {first:?}, except along axis {}",
                        self.axis
                    ),
                    s,
                ));
            }
        }
        Ok(a)
    }
}

impl<T: Float> Layer<T> for Concatenate<T> {
    fn class_name(&self) -> &'static str {
        "Concatenate"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    fn build(&mut self, input_shapes: &[Shape], _rng: &mut Rng) -> Result<()> {
        self.output_shapes(input_shapes)?;
        self.built = true;
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.built
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let shapes: Vec<&[usize]> = input_shapes.iter().map(|s| s.as_slice()).collect();
        let a = self.sample_axis(&shapes)?;
        let mut out = input_shapes[0].clone();
        out[a] = shapes.iter().map(|s| s[a]).sum();
        Ok(vec![out])
    }

    fn call(&self, inputs: &[Var<T>], _ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        at_least_two(&self.name, inputs.len())?;
        let batch = inputs[0].shape().first().copied();
        let mut shapes: Vec<&[usize]> = Vec::with_capacity(inputs.len());
        for x in inputs {
            match x.shape().split_first() {
                Some((&n, rest)) if Some(n) == batch => shapes.push(rest),
                _ => {
                    return Err(shape_error(
                        &self.name,
                        format!("a batch of the first input's size, {:?}", inputs[0].shape()),
                        x.shape(),
                    ))
                }
            }
        }
        let a = self.sample_axis(&shapes)?;
        let refs: Vec<&Var<T>> = inputs.iter().collect();
        Ok(vec![Var::concat(&refs, (a + 1) as isize)?])
    }

    fn to_saved(&self) -> SavedLayer<T> {
        SavedLayer::Concatenate(self.clone())
    }

    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }

    fn num_inputs(&self) -> usize {
        usize::MAX
    }
}
