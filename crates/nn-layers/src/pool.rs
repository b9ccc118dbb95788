//! Pooling layers over channels-last data, after Keras' `MaxPooling2D`, `AveragePooling2D`,
//! `MaxPooling1D`, `AveragePooling1D`, `GlobalAveragePooling2D` and `GlobalMaxPooling2D`.
//!
//! Each runs one autograd op of `nn-autograd` (a fused kernel of `nn-tensor` forward and
//! backward). Padded positions never take part: max pooling ignores them and average
//! pooling divides by the number of real elements in each window, as Keras does.

use std::marker::PhantomData;

use nn_autograd::Var;
use nn_tensor::random::Rng;
use nn_tensor::{Conv2dGeometry, Float, Padding};
use serde::{Deserialize, Serialize};

use crate::conv::config_error;
use crate::layer::{shape_error, single_input, single_shape};
use crate::{ForwardCtx, Layer, Result, SavedLayer, Shape};

/// A 2-D pooling layer with Keras' arguments: `pool_size` (default `(2, 2)`), `strides`
/// (default: the pool size) and `padding` (default `Valid`).
macro_rules! pool2d_layer {
    ($(#[$doc:meta])* $ty:ident, $class:literal, $default_name:literal, $op:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Serialize, Deserialize)]
        pub struct $ty<T: Float = f32> {
            name: String,
            pool_size: (usize, usize),
            strides: Option<(usize, usize)>,
            padding: Padding,
            built: bool,
            #[serde(skip)]
            _marker: PhantomData<fn() -> T>,
        }

        impl<T: Float> Default for $ty<T> {
            fn default() -> Self {
                Self::new()
            }
        }

        impl<T: Float> $ty<T> {
            /// A `2 × 2` pool with stride 2 and valid padding.
            pub fn new() -> Self {
                $ty {
                    name: $default_name.into(),
                    pool_size: (2, 2),
                    strides: None,
                    padding: Padding::Valid,
                    built: false,
                    _marker: PhantomData,
                }
            }

            /// The window's `(height, width)`.
            pub fn pool_size(mut self, pool_size: (usize, usize)) -> Self {
                self.pool_size = pool_size;
                self
            }

            /// The strides (default: the pool size).
            pub fn strides(mut self, strides: (usize, usize)) -> Self {
                self.strides = Some(strides);
                self
            }

            /// `Padding::Valid` (default) or `Padding::Same`.
            pub fn padding(mut self, padding: Padding) -> Self {
                self.padding = padding;
                self
            }

            /// Sets the name.
            pub fn name(mut self, name: &str) -> Self {
                self.name = name.into();
                self
            }

            /// The window's `(height, width)`.
            pub fn pool_size_value(&self) -> (usize, usize) {
                self.pool_size
            }

            /// The effective strides.
            pub fn strides_value(&self) -> (usize, usize) {
                self.strides.unwrap_or(self.pool_size)
            }

            fn expected(&self) -> String {
                let (ph, pw) = self.pool_size;
                match self.padding {
                    Padding::Valid => {
                        format!("[batch, height ≥ {ph}, width ≥ {pw}, channels] (valid padding)")
                    }
                    Padding::Same => "[batch, height, width, channels]".to_string(),
                }
            }

            fn infer(&self, shape: &[usize]) -> Result<Shape> {
                let ((ph, pw), (sh, sw)) = (self.pool_size, self.strides_value());
                if ph == 0 || pw == 0 || sh == 0 || sw == 0 {
                    return Err(config_error(
                        &self.name,
                        format!("pool_size ({ph}, {pw}) and strides ({sh}, {sw}) must be positive"),
                    ));
                }
                let &[h, w, c] = shape else {
                    return Err(shape_error(&self.name, self.expected(), shape));
                };
                let g = Conv2dGeometry::new(h, w, ph, pw, sh, sw, self.padding)
                    .map_err(|_| shape_error(&self.name, self.expected(), shape))?;
                Ok(vec![g.out_h, g.out_w, c])
            }
        }

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
                self.infer(single_shape(&self.name, input_shapes)?)?;
                self.built = true;
                Ok(())
            }

            fn is_built(&self) -> bool {
                self.built
            }

            fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
                Ok(vec![self.infer(single_shape(&self.name, input_shapes)?)?])
            }

            fn call(&self, inputs: &[Var<T>], _ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
                let x = single_input(&self.name, inputs)?;
                if x.shape().is_empty() {
                    return Err(shape_error(&self.name, self.expected(), x.shape()));
                }
                self.infer(&x.shape()[1..])?;
                Ok(vec![x.$op(self.pool_size, self.strides_value(), self.padding)?])
            }

            fn to_saved(&self) -> SavedLayer<T> {
                SavedLayer::$ty(self.clone())
            }

            fn clone_box(&self) -> Box<dyn Layer<T>> {
                Box::new(self.clone())
            }
        }
    };
}

/// A 1-D pooling layer with Keras' arguments: `pool_size` (default 2), `strides` (default:
/// the pool size) and `padding` (default `Valid`).
macro_rules! pool1d_layer {
    ($(#[$doc:meta])* $ty:ident, $class:literal, $default_name:literal, $op:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Serialize, Deserialize)]
        pub struct $ty<T: Float = f32> {
            name: String,
            pool_size: usize,
            strides: Option<usize>,
            padding: Padding,
            built: bool,
            #[serde(skip)]
            _marker: PhantomData<fn() -> T>,
        }

        impl<T: Float> Default for $ty<T> {
            fn default() -> Self {
                Self::new()
            }
        }

        impl<T: Float> $ty<T> {
            /// A pool of 2 steps with stride 2 and valid padding.
            pub fn new() -> Self {
                $ty {
                    name: $default_name.into(),
                    pool_size: 2,
                    strides: None,
                    padding: Padding::Valid,
                    built: false,
                    _marker: PhantomData,
                }
            }

            /// The window length.
            pub fn pool_size(mut self, pool_size: usize) -> Self {
                self.pool_size = pool_size;
                self
            }

            /// The stride (default: the pool size).
            pub fn strides(mut self, strides: usize) -> Self {
                self.strides = Some(strides);
                self
            }

            /// `Padding::Valid` (default) or `Padding::Same`.
            pub fn padding(mut self, padding: Padding) -> Self {
                self.padding = padding;
                self
            }

            /// Sets the name.
            pub fn name(mut self, name: &str) -> Self {
                self.name = name.into();
                self
            }

            /// The window length.
            pub fn pool_size_value(&self) -> usize {
                self.pool_size
            }

            /// The effective stride.
            pub fn strides_value(&self) -> usize {
                self.strides.unwrap_or(self.pool_size)
            }

            fn expected(&self) -> String {
                match self.padding {
                    Padding::Valid => {
                        format!("[batch, steps ≥ {}, channels] (valid padding)", self.pool_size)
                    }
                    Padding::Same => "[batch, steps, channels]".to_string(),
                }
            }

            fn infer(&self, shape: &[usize]) -> Result<Shape> {
                let (p, s) = (self.pool_size, self.strides_value());
                if p == 0 || s == 0 {
                    return Err(config_error(
                        &self.name,
                        format!("pool_size {p} and strides {s} must be positive"),
                    ));
                }
                let &[l, c] = shape else {
                    return Err(shape_error(&self.name, self.expected(), shape));
                };
                let g = Conv2dGeometry::new(1, l, 1, p, 1, s, self.padding)
                    .map_err(|_| shape_error(&self.name, self.expected(), shape))?;
                Ok(vec![g.out_w, c])
            }
        }

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
                self.infer(single_shape(&self.name, input_shapes)?)?;
                self.built = true;
                Ok(())
            }

            fn is_built(&self) -> bool {
                self.built
            }

            fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
                Ok(vec![self.infer(single_shape(&self.name, input_shapes)?)?])
            }

            fn call(&self, inputs: &[Var<T>], _ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
                let x = single_input(&self.name, inputs)?;
                if x.shape().is_empty() {
                    return Err(shape_error(&self.name, self.expected(), x.shape()));
                }
                self.infer(&x.shape()[1..])?;
                Ok(vec![x.$op(self.pool_size, self.strides_value(), self.padding)?])
            }

            fn to_saved(&self) -> SavedLayer<T> {
                SavedLayer::$ty(self.clone())
            }

            fn clone_box(&self) -> Box<dyn Layer<T>> {
                Box::new(self.clone())
            }
        }
    };
}

/// A global 2-D pooling layer: `[batch, H, W, C]` → `[batch, C]`, or `[batch, 1, 1, C]`
/// with `keepdims(true)`.
macro_rules! global_pool2d_layer {
    ($(#[$doc:meta])* $ty:ident, $class:literal, $default_name:literal, $op:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Serialize, Deserialize)]
        pub struct $ty<T: Float = f32> {
            name: String,
            keepdims: bool,
            built: bool,
            #[serde(skip)]
            _marker: PhantomData<fn() -> T>,
        }

        impl<T: Float> Default for $ty<T> {
            fn default() -> Self {
                Self::new()
            }
        }

        impl<T: Float> $ty<T> {
            /// Pools to `[batch, channels]`.
            pub fn new() -> Self {
                $ty { name: $default_name.into(), keepdims: false, built: false, _marker: PhantomData }
            }

            /// Keeps the spatial axes as size 1: `[batch, 1, 1, channels]` (default false).
            pub fn keepdims(mut self, keepdims: bool) -> Self {
                self.keepdims = keepdims;
                self
            }

            /// Sets the name.
            pub fn name(mut self, name: &str) -> Self {
                self.name = name.into();
                self
            }

            fn infer(&self, shape: &[usize]) -> Result<Shape> {
                match *shape {
                    [h, w, c] if h * w > 0 => {
                        Ok(if self.keepdims { vec![1, 1, c] } else { vec![c] })
                    }
                    _ => Err(shape_error(
                        &self.name,
                        "[batch, height ≥ 1, width ≥ 1, channels]",
                        shape,
                    )),
                }
            }
        }

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
                self.infer(single_shape(&self.name, input_shapes)?)?;
                self.built = true;
                Ok(())
            }

            fn is_built(&self) -> bool {
                self.built
            }

            fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
                Ok(vec![self.infer(single_shape(&self.name, input_shapes)?)?])
            }

            fn call(&self, inputs: &[Var<T>], _ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
                let x = single_input(&self.name, inputs)?;
                let (n, c) = match *x.shape() {
                    [n, h, w, c] if h * w > 0 => (n, c),
                    _ => {
                        return Err(shape_error(
                            &self.name,
                            "[batch, height ≥ 1, width ≥ 1, channels]",
                            x.shape(),
                        ))
                    }
                };
                let y = x.$op()?;
                Ok(vec![if self.keepdims { y.reshape([n, 1, 1, c])? } else { y }])
            }

            fn to_saved(&self) -> SavedLayer<T> {
                SavedLayer::$ty(self.clone())
            }

            fn clone_box(&self) -> Box<dyn Layer<T>> {
                Box::new(self.clone())
            }
        }
    };
}

pool2d_layer! {
    /// Max pooling over NHWC windows, as Keras' `MaxPooling2D`: `[batch, H, W, C]` →
    /// `[batch, OH, OW, C]` with `out = (in − pool) / stride + 1` (`Valid`, default) or
    /// `ceil(in / stride)` (`Same`). Defaults: pool `(2, 2)`, strides = pool size. The
    /// gradient goes to the element that won each window. No parameters.
    ///
    /// ```
    /// use nn_layers::{LayerExt, MaxPooling2D};
    /// assert_eq!(MaxPooling2D::<f32>::new().output_shape(&[26, 26, 32])?, vec![13, 13, 32]);
    /// # Ok::<(), nn_layers::LayerError>(())
    /// ```
    MaxPooling2D, "MaxPooling2D", "max_pooling2d", max_pool2d
}

pool2d_layer! {
    /// Average pooling over NHWC windows, as Keras' `AveragePooling2D` (padding excluded
    /// from each average). Same arguments and shapes as [`MaxPooling2D`]. No parameters.
    AveragePooling2D, "AveragePooling2D", "average_pooling2d", avg_pool2d
}

pool1d_layer! {
    /// Max pooling over `[batch, steps, channels]`, as Keras' `MaxPooling1D`: pool 2 and
    /// stride = pool size by default, `Valid` padding. No parameters.
    MaxPooling1D, "MaxPooling1D", "max_pooling1d", max_pool1d
}

pool1d_layer! {
    /// Average pooling over `[batch, steps, channels]`, as Keras' `AveragePooling1D`
    /// (padding excluded from each average). No parameters.
    AveragePooling1D, "AveragePooling1D", "average_pooling1d", avg_pool1d
}

global_pool2d_layer! {
    /// The mean over the spatial axes, as Keras' `GlobalAveragePooling2D`:
    /// `[batch, H, W, C]` → `[batch, C]` (`[batch, 1, 1, C]` with `keepdims`). No parameters.
    GlobalAveragePooling2D, "GlobalAveragePooling2D", "global_average_pooling2d", global_avg_pool2d
}

global_pool2d_layer! {
    /// The maximum over the spatial axes, as Keras' `GlobalMaxPooling2D`:
    /// `[batch, H, W, C]` → `[batch, C]` (`[batch, 1, 1, C]` with `keepdims`). No parameters.
    GlobalMaxPooling2D, "GlobalMaxPooling2D", "global_max_pooling2d", global_max_pool2d
}
