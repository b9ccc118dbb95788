//! Simple layers without a matrix product: activations as layers (`Activation`, `Softmax`,
//! `PReLU`, `LeakyReLU`, `ELU`) and shape layers (`Flatten`, `Reshape`), as in Keras.

use std::marker::PhantomData;

use nn_autograd::Var;
use nn_tensor::random::Rng;
use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::layer::{shape_error, single_input, single_shape};
use crate::{
    Activation, ActivationArg, ForwardCtx, Initializer, Layer, LayerError, Param, Regularizer,
    Result, SavedLayer, Shape,
};

/// Checks that `axis` (counted over the full shape, batch axis included, negative from the
/// end) exists for a per-sample `shape`.
fn check_axis(layer: &str, axis: isize, shape: &[usize]) -> Result<()> {
    let rank = shape.len() as isize + 1;
    if axis < -rank || axis >= rank {
        return Err(shape_error(
            layer,
            format!(
                "a shape with axis {axis} (rank ≥ {})",
                if axis < 0 { -axis } else { axis + 1 }
            ),
            shape,
        ));
    }
    Ok(())
}

/// The batch size of a call's input, or a shape error for a rank-0 input.
fn batch_of<T: Float>(layer: &str, x: &Var<T>) -> Result<usize> {
    x.shape()
        .first()
        .copied()
        .ok_or_else(|| shape_error(layer, "[batch, ...]", x.shape()))
}

// ------------------------------------------------------------------------------ Activation

/// Applies an activation function, as Keras' `Activation` layer (class name "Activation").
///
/// ```
/// use nn_layers::{ActivationLayer, Layer, LayerExt};
/// let layer = ActivationLayer::<f32>::new("relu");
/// assert_eq!(layer.output_shape(&[4, 4, 3])?, vec![4, 4, 3]);
/// # Ok::<(), nn_layers::LayerError>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct ActivationLayer<T: Float = f32> {
    #[serde(skip)]
    _t: PhantomData<T>,
    name: String,
    activation: Activation,
    #[serde(skip)]
    unknown_activation: Option<String>,
    built: bool,
}

impl<T: Float> ActivationLayer<T> {
    /// A layer applying `activation` (a value or a Keras name such as `"relu"`; an unknown
    /// name is an error at build time).
    pub fn new(activation: impl Into<ActivationArg>) -> Self {
        let (activation, unknown_activation) = match activation.into().0 {
            Ok(a) => (a, None),
            Err(name) => (Activation::Linear, Some(name)),
        };
        ActivationLayer {
            _t: PhantomData,
            name: "activation".into(),
            activation,
            unknown_activation,
            built: false,
        }
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// The activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    fn check(&self, shape: &[usize]) -> Result<()> {
        if let Some(name) = &self.unknown_activation {
            return Err(LayerError::Config {
                layer: self.name.clone(),
                message: Activation::from_name(name)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default(),
            });
        }
        if let Activation::Softmax { axis } | Activation::LogSoftmax { axis } = self.activation {
            check_axis(&self.name, axis, shape)?;
        }
        Ok(())
    }
}

impl<T: Float> Layer<T> for ActivationLayer<T> {
    fn class_name(&self) -> &'static str {
        "Activation"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    fn build(&mut self, input_shapes: &[Shape], _rng: &mut Rng) -> Result<()> {
        self.check(single_shape(&self.name, input_shapes)?)?;
        self.built = true;
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.built
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let shape = single_shape(&self.name, input_shapes)?;
        self.check(shape)?;
        Ok(vec![shape.clone()])
    }

    fn call(&self, inputs: &[Var<T>], _ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        let x = single_input(&self.name, inputs)?;
        if let Some(shape) = x.shape().get(1..) {
            self.check(shape)?;
        }
        Ok(vec![self.activation.apply(x)?])
    }

    fn to_saved(&self) -> SavedLayer<T> {
        SavedLayer::Activation(self.clone())
    }

    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }
}

// ------------------------------------------------------------------------------ Softmax

/// Softmax along `axis` (default −1, the last) of `logits / temperature` (default 1), as
/// Keras' `Softmax` layer plus a temperature: above 1 flattens the distribution, below 1
/// sharpens it.
///
/// ```
/// use nn_layers::{Layer, LayerExt, Softmax};
/// let layer = Softmax::<f32>::new().temperature(2.0);
/// assert_eq!(layer.output_shape(&[10])?, vec![10]);
/// # Ok::<(), nn_layers::LayerError>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct Softmax<T: Float = f32> {
    #[serde(skip)]
    _t: PhantomData<T>,
    name: String,
    axis: isize,
    temperature: f64,
    built: bool,
}

impl<T: Float> Default for Softmax<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Softmax<T> {
    /// Softmax over the last axis, temperature 1.
    pub fn new() -> Self {
        Softmax {
            _t: PhantomData,
            name: "softmax".into(),
            axis: -1,
            temperature: 1.0,
            built: false,
        }
    }

    /// The axis (counted over the full shape, batch axis 0; negative from the end).
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }

    /// Divides the logits by `temperature` (positive and finite) before the softmax.
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = temperature;
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    fn check(&self, shape: &[usize]) -> Result<()> {
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(LayerError::Config {
                layer: self.name.clone(),
                message: format!(
                    "temperature must be positive and finite, got {}",
                    self.temperature
                ),
            });
        }
        check_axis(&self.name, self.axis, shape)
    }
}

impl<T: Float> Layer<T> for Softmax<T> {
    fn class_name(&self) -> &'static str {
        "Softmax"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    fn build(&mut self, input_shapes: &[Shape], _rng: &mut Rng) -> Result<()> {
        self.check(single_shape(&self.name, input_shapes)?)?;
        self.built = true;
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.built
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let shape = single_shape(&self.name, input_shapes)?;
        self.check(shape)?;
        Ok(vec![shape.clone()])
    }

    fn call(&self, inputs: &[Var<T>], _ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        let x = single_input(&self.name, inputs)?;
        self.check(x.shape().get(1..).unwrap_or(&[]))?;
        let logits = if self.temperature == 1.0 {
            x.clone()
        } else {
            x.mul_scalar(T::of(1.0 / self.temperature))?
        };
        Ok(vec![logits.softmax(self.axis)?])
    }

    fn to_saved(&self) -> SavedLayer<T> {
        SavedLayer::Softmax(self.clone())
    }

    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }
}

// ------------------------------------------------------------------------------ LeakyReLU / ELU

/// `x` for `x > 0`, else `negative_slope·x`, as Keras' `LeakyReLU` layer (default slope
/// 0.3, the layer's Keras default; the `leaky_relu` activation's is 0.2).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct LeakyReLU<T: Float = f32> {
    #[serde(skip)]
    _t: PhantomData<T>,
    name: String,
    negative_slope: f64,
    built: bool,
}

impl<T: Float> Default for LeakyReLU<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> LeakyReLU<T> {
    /// A leaky ReLU with slope 0.3.
    pub fn new() -> Self {
        LeakyReLU {
            _t: PhantomData,
            name: "leaky_re_lu".into(),
            negative_slope: 0.3,
            built: false,
        }
    }

    /// The slope for negative inputs (finite, not negative, as Keras requires).
    pub fn negative_slope(mut self, slope: f64) -> Self {
        self.negative_slope = slope;
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    fn check(&self) -> Result<()> {
        if !(self.negative_slope >= 0.0 && self.negative_slope.is_finite()) {
            return Err(LayerError::Config {
                layer: self.name.clone(),
                message: format!(
                    "negative_slope must be finite and not negative, got {}",
                    self.negative_slope
                ),
            });
        }
        Ok(())
    }
}

/// The `Layer` impl shared by the weightless layers that apply one activation with one
/// scalar hyper-parameter (`LeakyReLU`, `ELU`): each type supplies its Keras class name, its
/// `SavedLayer` variant, a `check` of the parameter, and the op applied to the input.
macro_rules! scalar_activation_layer {
    ($ty:ident, $class:literal, $variant:ident, |$layer:ident, $x:ident| $apply:expr) => {
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
                single_shape(&self.name, input_shapes)?;
                self.check()?;
                self.built = true;
                Ok(())
            }

            fn is_built(&self) -> bool {
                self.built
            }

            fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
                self.check()?;
                Ok(vec![single_shape(&self.name, input_shapes)?.clone()])
            }

            fn call(&self, inputs: &[Var<T>], _ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
                let $x = single_input(&self.name, inputs)?;
                self.check()?;
                let $layer = self;
                Ok(vec![$apply?])
            }

            fn to_saved(&self) -> SavedLayer<T> {
                SavedLayer::$variant(self.clone())
            }

            fn clone_box(&self) -> Box<dyn Layer<T>> {
                Box::new(self.clone())
            }
        }
    };
}

scalar_activation_layer!(LeakyReLU, "LeakyReLU", LeakyReLU, |layer, x| x
    .leaky_relu(T::of(layer.negative_slope)));

/// `x` for `x > 0`, else `alpha·(eˣ − 1)`, as Keras' `ELU` layer (default `alpha` 1).
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct ELU<T: Float = f32> {
    #[serde(skip)]
    _t: PhantomData<T>,
    name: String,
    alpha: f64,
    built: bool,
}

impl<T: Float> Default for ELU<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> ELU<T> {
    /// An ELU with `alpha` 1.
    pub fn new() -> Self {
        ELU {
            _t: PhantomData,
            name: "elu".into(),
            alpha: 1.0,
            built: false,
        }
    }

    /// The scale of the negative part.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    fn check(&self) -> Result<()> {
        if !self.alpha.is_finite() {
            return Err(LayerError::Config {
                layer: self.name.clone(),
                message: format!("alpha must be finite, got {}", self.alpha),
            });
        }
        Ok(())
    }
}

scalar_activation_layer!(ELU, "ELU", ELU, |layer, x| x.elu(T::of(layer.alpha)));

// ------------------------------------------------------------------------------ PReLU

/// Parametric ReLU: `x` for `x > 0`, else `alpha·x` with a learned `alpha`
/// (after Keras' `PReLU`; `alpha_initializer` defaults to zeros, so it starts as a ReLU).
///
/// Sharing: by default one `alpha` per feature of the last axis (per channel of an NHWC
/// image; every other axis shared). This differs from Keras, whose default is one `alpha`
/// per element of the whole sample shape; [`PReLU::shared_axes`] gives Keras' exact
/// semantics (`shared_axes(vec![])` is Keras' default, `shared_axes(vec![1, 2])` shares
/// over height and width).
///
/// The `alpha` weight has the sample's rank, with 1 on the shared axes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct PReLU<T: Float = f32> {
    name: String,
    alpha_initializer: Initializer,
    alpha_regularizer: Option<Regularizer>,
    shared_axes: Option<Vec<usize>>,
    alpha: Option<Param<T>>,
}

impl<T: Float> Default for PReLU<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> PReLU<T> {
    /// A PReLU with one `alpha` per last-axis feature, initialised to zero.
    pub fn new() -> Self {
        PReLU {
            name: "p_re_lu".into(),
            alpha_initializer: Initializer::Zeros,
            alpha_regularizer: None,
            shared_axes: None,
            alpha: None,
        }
    }

    /// The initializer of `alpha`.
    pub fn alpha_initializer(mut self, init: Initializer) -> Self {
        self.alpha_initializer = init;
        self
    }

    /// A penalty on `alpha`.
    pub fn alpha_regularizer(mut self, r: Regularizer) -> Self {
        self.alpha_regularizer = Some(r);
        self
    }

    /// Axes along which `alpha` is shared, Keras-style: counted over the full shape with the
    /// batch axis as 0, so they range over `1..=rank` of the sample shape.
    pub fn shared_axes(mut self, axes: Vec<usize>) -> Self {
        self.shared_axes = Some(axes);
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// `alpha`, once built.
    pub fn alpha(&self) -> Option<&Param<T>> {
        self.alpha.as_ref()
    }

    /// The shape of `alpha` for a sample shape.
    fn alpha_shape(&self, shape: &[usize]) -> Result<Shape> {
        if shape.is_empty() {
            return Err(shape_error(
                &self.name,
                "[batch, ..., features] (rank ≥ 1 per sample)",
                shape,
            ));
        }
        match &self.shared_axes {
            None => {
                let mut s = vec![1; shape.len()];
                s[shape.len() - 1] = shape[shape.len() - 1];
                Ok(s)
            }
            Some(axes) => {
                let mut s = shape.to_vec();
                for &a in axes {
                    if a == 0 || a > shape.len() {
                        return Err(LayerError::Config {
                            layer: self.name.clone(),
                            message: format!(
                                "shared axis {a} is not an axis of a sample of shape {shape:?} \
                                 (axes count from 1; 0 is the batch)"
                            ),
                        });
                    }
                    s[a - 1] = 1;
                }
                Ok(s)
            }
        }
    }
}

impl<T: Float> Layer<T> for PReLU<T> {
    fn class_name(&self) -> &'static str {
        "PReLU"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    fn build(&mut self, input_shapes: &[Shape], rng: &mut Rng) -> Result<()> {
        let shape = single_shape(&self.name, input_shapes)?;
        let alpha_shape = self.alpha_shape(shape)?;
        if let Some(a) = &self.alpha {
            if a.value().shape() != alpha_shape.as_slice() {
                return Err(shape_error(
                    &self.name,
                    format!("a sample shape matching alpha {:?}", a.value().shape()),
                    shape,
                ));
            }
            return Ok(());
        }
        let alpha = self.alpha_initializer.init(&alpha_shape, rng);
        self.alpha = Some(Param::new("alpha", alpha).with_regularizer(self.alpha_regularizer));
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.alpha.is_some()
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let shape = single_shape(&self.name, input_shapes)?;
        let alpha_shape = self.alpha_shape(shape)?;
        if let Some(a) = &self.alpha {
            if a.value().shape() != alpha_shape.as_slice() {
                return Err(shape_error(
                    &self.name,
                    format!("a sample shape matching alpha {:?}", a.value().shape()),
                    shape,
                ));
            }
        }
        Ok(vec![shape.clone()])
    }

    fn call(&self, inputs: &[Var<T>], _ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        let x = single_input(&self.name, inputs)?;
        let alpha = self.alpha.as_ref().ok_or_else(|| LayerError::NotBuilt {
            layer: self.name.clone(),
        })?;
        let a_shape = alpha.value().shape();
        let fits = x.shape().len() == a_shape.len() + 1
            && x.shape()[1..]
                .iter()
                .zip(a_shape)
                .all(|(&d, &a)| a == d || a == 1);
        if !fits {
            let mut expected = vec!["batch".to_string()];
            expected.extend(a_shape.iter().map(|&a| {
                if a == 1 {
                    "_".to_string()
                } else {
                    a.to_string()
                }
            }));
            return Err(shape_error(
                &self.name,
                format!("[{}]", expected.join(", ")),
                x.shape(),
            ));
        }
        Ok(vec![prelu(x, &alpha.var())?])
    }

    fn params(&self) -> Vec<&Param<T>> {
        self.alpha.iter().collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.alpha.iter_mut().collect()
    }

    fn to_saved(&self) -> SavedLayer<T> {
        SavedLayer::PReLU(self.clone())
    }

    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }
}

/// `x > 0 ? x : alpha·x` with `alpha` broadcast against `x`, as one node: the backward
/// gives `dx = g·(x > 0 ? 1 : alpha)` and `dalpha = Σ g·min(x, 0)` over the broadcast axes.
fn prelu<T: Float>(x: &Var<T>, alpha: &Var<T>) -> Result<Var<T>> {
    let (xv, av) = (x.value().clone(), alpha.value().clone());
    let y = xv.zip_map(&av, "prelu", |x, a| if x > T::zero() { x } else { a * x })?;
    Ok(Var::from_op("prelu", y, &[x, alpha], move |g, needs| {
        let dx = if needs[0] {
            let slope = xv.zip_map(
                &av,
                "prelu",
                |x, a| if x > T::zero() { T::one() } else { a },
            )?;
            Some(g.mul(&slope)?)
        } else {
            None
        };
        let da = if needs[1] {
            let contrib = g.zip_map(
                &xv,
                "prelu",
                |g, x| if x > T::zero() { T::zero() } else { g * x },
            )?;
            Some(contrib.sum_to_shape(av.shape())?)
        } else {
            None
        };
        Ok(vec![dx, da])
    }))
}

// ------------------------------------------------------------------------------ Flatten / Reshape

/// Flattens each sample to one axis, as Keras' `Flatten`: `[batch, d1, ..., dk]` →
/// `[batch, d1·…·dk]` (a sample without axes becomes `[batch, 1]`). No copy for a
/// contiguous input.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct Flatten<T: Float = f32> {
    #[serde(skip)]
    _t: PhantomData<T>,
    name: String,
    built: bool,
}

impl<T: Float> Default for Flatten<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Flatten<T> {
    /// A flatten layer.
    pub fn new() -> Self {
        Flatten {
            _t: PhantomData,
            name: "flatten".into(),
            built: false,
        }
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }
}

impl<T: Float> Layer<T> for Flatten<T> {
    fn class_name(&self) -> &'static str {
        "Flatten"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    fn build(&mut self, input_shapes: &[Shape], _rng: &mut Rng) -> Result<()> {
        single_shape(&self.name, input_shapes)?;
        self.built = true;
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.built
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let shape = single_shape(&self.name, input_shapes)?;
        Ok(vec![vec![shape.iter().product()]])
    }

    fn call(&self, inputs: &[Var<T>], _ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        let x = single_input(&self.name, inputs)?;
        let batch = batch_of(&self.name, x)?;
        let features: usize = x.shape()[1..].iter().product();
        if x.shape().len() == 2 {
            return Ok(vec![x.clone()]);
        }
        Ok(vec![x.reshape([batch, features])?])
    }

    fn to_saved(&self) -> SavedLayer<T> {
        SavedLayer::Flatten(self.clone())
    }

    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }
}

/// Reshapes each sample to `target_shape` (without the batch axis; one entry may be −1,
/// inferred from the element count), as Keras' `Reshape`.
///
/// ```
/// use nn_layers::{Layer, LayerExt, Reshape};
/// let layer = Reshape::<f32>::new(&[-1, 4]);
/// assert_eq!(layer.output_shape(&[2, 2, 3])?, vec![3, 4]);
/// # Ok::<(), nn_layers::LayerError>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct Reshape<T: Float = f32> {
    #[serde(skip)]
    _t: PhantomData<T>,
    name: String,
    target_shape: Vec<isize>,
    built: bool,
}

impl<T: Float> Reshape<T> {
    /// A reshape to `target_shape` (per sample).
    pub fn new(target_shape: &[isize]) -> Self {
        Reshape {
            _t: PhantomData,
            name: "reshape".into(),
            target_shape: target_shape.to_vec(),
            built: false,
        }
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// The configured target shape.
    pub fn target_shape(&self) -> &[isize] {
        &self.target_shape
    }

    /// The concrete per-sample output shape for a per-sample input shape.
    fn resolve(&self, shape: &[usize]) -> Result<Shape> {
        let total: usize = shape.iter().product();
        let target = format!("{:?}", self.target_shape);
        let mismatch = || {
            shape_error(
                &self.name,
                format!("a sample shape with as many elements as {target}"),
                shape,
            )
        };
        let unknown = self.target_shape.iter().filter(|&&d| d == -1).count();
        if unknown > 1 || self.target_shape.iter().any(|&d| d < -1) {
            return Err(LayerError::Config {
                layer: self.name.clone(),
                message: format!("target shape {target}: sizes must be ≥ 0, with at most one −1"),
            });
        }
        let known: usize = self
            .target_shape
            .iter()
            .filter(|&&d| d >= 0)
            .map(|&d| d as usize)
            .product();
        let mut out: Shape = Vec::with_capacity(self.target_shape.len());
        for &d in &self.target_shape {
            if d >= 0 {
                out.push(d as usize);
            } else {
                if known == 0 || total % known != 0 {
                    return Err(mismatch());
                }
                out.push(total / known);
            }
        }
        if out.iter().product::<usize>() != total {
            return Err(mismatch());
        }
        Ok(out)
    }
}

impl<T: Float> Layer<T> for Reshape<T> {
    fn class_name(&self) -> &'static str {
        "Reshape"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    fn build(&mut self, input_shapes: &[Shape], _rng: &mut Rng) -> Result<()> {
        self.resolve(single_shape(&self.name, input_shapes)?)?;
        self.built = true;
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.built
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![self.resolve(single_shape(&self.name, input_shapes)?)?])
    }

    fn call(&self, inputs: &[Var<T>], _ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        let x = single_input(&self.name, inputs)?;
        let batch = batch_of(&self.name, x)?;
        let mut full = vec![batch];
        full.extend(self.resolve(&x.shape()[1..])?);
        Ok(vec![x.reshape(full)?])
    }

    fn to_saved(&self) -> SavedLayer<T> {
        SavedLayer::Reshape(self.clone())
    }

    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_resolve_cases() {
        let r = Reshape::<f64>::new(&[-1, 4]);
        assert_eq!(r.resolve(&[2, 6]).unwrap(), vec![3, 4]);
        assert!(r.resolve(&[5]).is_err());
        assert!(Reshape::<f64>::new(&[-1, -1]).resolve(&[4]).is_err());
        assert!(Reshape::<f64>::new(&[0, -1]).resolve(&[4]).is_err());
        assert!(Reshape::<f64>::new(&[3, 3]).resolve(&[8]).is_err());
        assert_eq!(
            Reshape::<f64>::new(&[2, 2]).resolve(&[4]).unwrap(),
            vec![2, 2]
        );
    }

    #[test]
    fn prelu_alpha_shapes() {
        let p = PReLU::<f64>::new();
        assert_eq!(p.alpha_shape(&[4, 5, 3]).unwrap(), vec![1, 1, 3]);
        let k = PReLU::<f64>::new().shared_axes(vec![]);
        assert_eq!(k.alpha_shape(&[4, 5, 3]).unwrap(), vec![4, 5, 3]);
        let hw = PReLU::<f64>::new().shared_axes(vec![1, 2]);
        assert_eq!(hw.alpha_shape(&[4, 5, 3]).unwrap(), vec![1, 1, 3]);
        assert!(PReLU::<f64>::new()
            .shared_axes(vec![0])
            .alpha_shape(&[3])
            .is_err());
        assert!(PReLU::<f64>::new()
            .shared_axes(vec![2])
            .alpha_shape(&[3])
            .is_err());
    }
}
