//! Convolution layers over channels-last data, after Keras' `Conv2D` and `Conv1D`.
//!
//! Both run one fused autograd node: convolution (im2col GEMM), bias and — for `relu` and
//! `linear` — the activation in a single pass over the output, with a backward that computes
//! only the gradients that are needed. In particular the input gradient (a `col2im` of
//! `dY · Wᵀ`, as costly as the forward pass) is skipped when the input does not require a
//! gradient, as for the first layer of a network. Other activations run as their own
//! autograd ops after the fused node.

use nn_autograd::Var;
use nn_tensor::parallel::ELEMENTWISE_PAR_MIN;
use nn_tensor::random::Rng;
use nn_tensor::{Conv2dGeometry, Float, Padding, Tensor, TensorError};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::layer::{shape_error, single_input, single_shape};
use crate::{
    Activation, ActivationArg, ForwardCtx, Initializer, Layer, LayerError, Param, Regularizer,
    Result, SavedLayer, Shape,
};

/// The error for a configuration value that is not allowed.
pub(crate) fn config_error(layer: &str, message: impl Into<String>) -> LayerError {
    LayerError::Config {
        layer: layer.to_string(),
        message: message.into(),
    }
}

/// The error for an activation name that was not recognised when the builder ran.
fn unknown_activation_error(layer: &str, name: &str) -> LayerError {
    config_error(
        layer,
        Activation::from_name(name)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default(),
    )
}

/// Sums a row-major `[rows, width]` buffer over its rows (the bias gradient), in blocks of
/// rows so that `f32` sums over large batches keep their precision. Large buffers sum their
/// blocks in parallel; the block sums are added in order either way, so the result does not
/// depend on the thread count.
pub(crate) fn sum_rows<T: Float>(data: &[T], width: usize) -> Vec<T> {
    const BLOCK_ROWS: usize = 256;
    let mut total = vec![T::zero(); width];
    if width == 0 {
        return total;
    }
    let block_sum = |block: &[T], partial: &mut [T]| {
        partial.iter_mut().for_each(|p| *p = T::zero());
        for row in block.chunks_exact(width) {
            for (p, &v) in partial.iter_mut().zip(row) {
                *p += v;
            }
        }
    };
    let block_len = BLOCK_ROWS * width;
    if data.len() >= ELEMENTWISE_PAR_MIN && rayon::current_num_threads() > 1 {
        // One buffer holds every block's sums; they are added to the total in block order.
        let mut partials = vec![T::zero(); data.len().div_ceil(block_len) * width];
        partials
            .par_chunks_mut(width)
            .zip(data.par_chunks(block_len))
            .for_each(|(partial, block)| block_sum(block, partial));
        for partial in partials.chunks_exact(width) {
            for (t, &p) in total.iter_mut().zip(partial) {
                *t += p;
            }
        }
    } else {
        let mut partial = vec![T::zero(); width];
        for block in data.chunks(block_len) {
            block_sum(block, &mut partial);
            for (t, &p) in total.iter_mut().zip(&partial) {
                *t += p;
            }
        }
    }
    total
}

/// `y ← max(y + bias, 0)` (or without the bias, or without the ReLU) over a row-major
/// `[rows, f]` buffer, in parallel above the element-wise threshold.
fn bias_relu_in_place<T: Float>(ys: &mut [T], f: usize, bias: Option<&[T]>, relu: bool) {
    let run = |chunk: &mut [T]| match (bias, relu) {
        // Separate loops keep the inner loops branch-free (vectorized selects).
        (Some(bs), true) => {
            for row in chunk.chunks_exact_mut(f) {
                for (v, &bv) in row.iter_mut().zip(bs) {
                    let s = *v + bv;
                    *v = if s < T::zero() { T::zero() } else { s };
                }
            }
        }
        (Some(bs), false) => {
            for row in chunk.chunks_exact_mut(f) {
                for (v, &bv) in row.iter_mut().zip(bs) {
                    *v += bv;
                }
            }
        }
        (None, true) => chunk.iter_mut().for_each(|v| {
            *v = if *v < T::zero() { T::zero() } else { *v };
        }),
        (None, false) => {}
    };
    if ys.len() >= ELEMENTWISE_PAR_MIN && rayon::current_num_threads() > 1 {
        // Whole rows per task, about 16 K values each.
        let rows_per_task = (1 << 14) / f.max(1) + 1;
        ys.par_chunks_mut(rows_per_task * f).for_each(run);
    } else {
        run(ys);
    }
}

/// The window geometry of a convolution over an `h × w` image, as a layer error naming the
/// input shape when the image is too small for a `Valid` window.
#[allow(clippy::too_many_arguments)]
fn geometry(
    layer: &str,
    expected: impl Fn() -> String,
    found: &[usize],
    (h, w): (usize, usize),
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
    padding: Padding,
) -> Result<Conv2dGeometry> {
    Conv2dGeometry::new(h, w, kh, kw, sh, sw, padding)
        .map_err(|_| shape_error(layer, expected(), found))
}

/// A convolution's operands seen as 2-D: input `[N, H, W, C]` and kernel `[KH, KW, C, F]`
/// (a 1-D convolution uses `H = KH = 1`).
struct ConvSpec {
    x4: [usize; 4],
    k4: [usize; 4],
    stride: (usize, usize),
    padding: Padding,
    /// Apply `max(·, 0)` inside the fused node.
    relu: bool,
}

/// `activation(conv(x, kernel) + bias)` as one autograd node; `out_rank` 4 gives
/// `[N, OH, OW, F]`, 3 gives `[N, OW, F]` (1-D). Only the gradients that some operand needs
/// are computed.
fn fused_conv<T: Float>(
    op: &'static str,
    x: &Var<T>,
    kernel: &Var<T>,
    bias: Option<&Var<T>>,
    spec: ConvSpec,
    out_rank: usize,
) -> Result<Var<T>> {
    let ConvSpec {
        x4,
        k4,
        stride,
        padding,
        relu,
    } = spec;
    let xv = x.value().reshape(x4)?;
    let kv = kernel.value().reshape(k4)?;
    let mut y = xv.conv2d(&kv, stride, padding)?;
    let y4 = y.shape().to_vec();
    let f = k4[3];
    {
        let b = bias.map(|b| b.value().contiguous());
        let bs = match &b {
            Some(b) => Some(
                b.as_slice()
                    .ok_or_else(|| TensorError::invalid(op, "internal: bias layout"))?,
            ),
            None => None,
        };
        bias_relu_in_place(y.make_contiguous_mut(), f, bs, relu);
    }
    let y = if out_rank == 3 {
        y.reshape([y4[0], y4[2], y4[3]])?
    } else {
        y
    };
    let x_shape = x.shape().to_vec();
    let k_shape = kernel.shape().to_vec();
    let out = relu.then(|| y.clone());
    let has_bias = bias.is_some();
    let mut parents = vec![x, kernel];
    parents.extend(bias);
    Ok(Var::from_op(op, y, &parents, move |g, needs| {
        let mut g4 = g.reshape(&y4)?;
        if let Some(out) = &out {
            // The output is positive exactly where the pre-activation is: gradient 0 at 0.
            g4 = g4.zip_map(&out.reshape(&y4)?, op, |g, y| {
                if y > T::zero() {
                    g
                } else {
                    T::zero()
                }
            })?;
        }
        let (dx, dk) = match (needs[0], needs[1]) {
            (true, true) => {
                let (dx, dk) = Tensor::conv2d_backward(&xv, &kv, &g4, stride, padding)?;
                (Some(dx), Some(dk))
            }
            (true, false) => (
                Some(Tensor::conv2d_backward_input(
                    &x4, &kv, &g4, stride, padding,
                )?),
                None,
            ),
            (false, true) => (
                None,
                Some(Tensor::conv2d_backward_kernel(
                    &xv, &k4, &g4, stride, padding,
                )?),
            ),
            (false, false) => (None, None),
        };
        let mut grads = vec![
            dx.map(|d| d.reshape(&x_shape)).transpose()?,
            dk.map(|d| d.reshape(&k_shape)).transpose()?,
        ];
        if has_bias {
            let db = if needs[2] {
                let g4 = g4.contiguous();
                let gs = g4
                    .as_slice()
                    .ok_or_else(|| TensorError::invalid(op, "internal: gradient layout"))?;
                Some(Tensor::from_vec(sum_rows(gs, f), [f])?)
            } else {
                None
            };
            grads.push(db);
        }
        Ok(grads)
    }))
}

/// Builder methods and accessors shared by `Conv2D` and `Conv1D`.
macro_rules! conv_common {
    () => {
        /// Sets the activation, by value or Keras name (`"relu"`, ...); default linear.
        pub fn activation(mut self, activation: impl Into<ActivationArg>) -> Self {
            match activation.into().0 {
                Ok(a) => {
                    self.activation = a;
                    self.unknown_activation = None;
                }
                Err(name) => self.unknown_activation = Some(name),
            }
            self
        }

        /// `Padding::Valid` (default: only full windows) or `Padding::Same` (output size
        /// `ceil(input / stride)`).
        pub fn padding(mut self, padding: Padding) -> Self {
            self.padding = padding;
            self
        }

        /// Whether to add a bias (default true).
        pub fn use_bias(mut self, use_bias: bool) -> Self {
            self.use_bias = use_bias;
            self
        }

        /// The kernel's initializer (default `glorot_uniform`).
        pub fn kernel_initializer(mut self, init: Initializer) -> Self {
            self.kernel_initializer = init;
            self
        }

        /// The bias' initializer (default `zeros`).
        pub fn bias_initializer(mut self, init: Initializer) -> Self {
            self.bias_initializer = init;
            self
        }

        /// A penalty on the kernel.
        pub fn kernel_regularizer(mut self, r: Regularizer) -> Self {
            self.kernel_regularizer = Some(r);
            self
        }

        /// A penalty on the bias.
        pub fn bias_regularizer(mut self, r: Regularizer) -> Self {
            self.bias_regularizer = Some(r);
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

        /// The number of filters (output channels).
        pub fn filters(&self) -> usize {
            self.filters
        }

        /// The configured activation.
        pub fn activation_fn(&self) -> Activation {
            self.activation
        }

        /// The configured padding.
        pub fn padding_mode(&self) -> Padding {
            self.padding
        }

        /// The kernel, once built.
        pub fn kernel(&self) -> Option<&Param<T>> {
            self.kernel.as_ref()
        }

        /// The bias, once built (and when `use_bias`).
        pub fn bias(&self) -> Option<&Param<T>> {
            self.bias.as_ref()
        }

        fn build_weights(&mut self, kernel_shape: &[usize], rng: &mut Rng) {
            let kernel = self.kernel_initializer.init(kernel_shape, rng);
            self.kernel =
                Some(Param::new("kernel", kernel).with_regularizer(self.kernel_regularizer));
            if self.use_bias {
                let bias = self.bias_initializer.init(&[self.filters], rng);
                self.bias = Some(Param::new("bias", bias).with_regularizer(self.bias_regularizer));
            }
        }

        /// The fused node, then the activation when it is not fused, then the activity
        /// penalty.
        fn finish(&self, y: Var<T>, ctx: &mut ForwardCtx<'_, T>) -> Result<Var<T>> {
            let y = match self.activation {
                Activation::Linear | Activation::Relu => y,
                other => other.apply(&y)?,
            };
            if let Some(r) = self.activity_regularizer {
                ctx.add_loss(r.penalty(&y)?);
            }
            Ok(y)
        }
    };
}

/// 2-D convolution layer over NHWC images, as Keras' `Conv2D`:
/// `activation(conv2d(x, kernel) + bias)`.
///
/// Shapes: input `[batch, height, width, channels]`, kernel `[kh, kw, channels, filters]`,
/// bias `[filters]`, output `[batch, out_h, out_w, filters]` with
/// `out = (in − k) / stride + 1` for `Padding::Valid` (default) and `ceil(in / stride)` for
/// `Padding::Same` (zeros split as TensorFlow does, the extra one at the bottom/right).
/// Defaults: strides `(1, 1)`, linear activation, bias on, `glorot_uniform` kernel (fans
/// multiplied by the receptive field), `zeros` bias. Parameters:
/// `kh·kw·channels·filters + filters`. Dilation and groups are not supported.
///
/// ```
/// use nn_layers::{Conv2D, Layer, LayerExt};
/// use nn_tensor::Padding;
/// let conv = Conv2D::<f32>::new(32, (3, 3)).activation("relu");
/// assert_eq!(conv.output_shape(&[28, 28, 1])?, vec![26, 26, 32]);
/// let same = Conv2D::<f32>::new(8, (3, 3)).strides((2, 2)).padding(Padding::Same);
/// assert_eq!(same.output_shape(&[28, 28, 1])?, vec![14, 14, 8]);
/// # Ok::<(), nn_layers::LayerError>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct Conv2D<T: Float = f32> {
    name: String,
    filters: usize,
    kernel_size: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
    activation: Activation,
    #[serde(skip)]
    unknown_activation: Option<String>,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    kernel_regularizer: Option<Regularizer>,
    bias_regularizer: Option<Regularizer>,
    activity_regularizer: Option<Regularizer>,
    kernel: Option<Param<T>>,
    bias: Option<Param<T>>,
}

impl<T: Float> Conv2D<T> {
    /// A convolution with `filters` output channels and a `(kh, kw)` kernel.
    pub fn new(filters: usize, kernel_size: (usize, usize)) -> Self {
        Conv2D {
            name: "conv2d".into(),
            filters,
            kernel_size,
            strides: (1, 1),
            padding: Padding::Valid,
            activation: Activation::Linear,
            unknown_activation: None,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: None,
            bias_regularizer: None,
            activity_regularizer: None,
            kernel: None,
            bias: None,
        }
    }

    /// Vertical and horizontal strides (default `(1, 1)`).
    pub fn strides(mut self, strides: (usize, usize)) -> Self {
        self.strides = strides;
        self
    }

    /// The kernel's `(height, width)`.
    pub fn kernel_size(&self) -> (usize, usize) {
        self.kernel_size
    }

    /// The configured strides.
    pub fn strides_value(&self) -> (usize, usize) {
        self.strides
    }

    conv_common!();

    fn check_config(&self) -> Result<()> {
        if let Some(name) = &self.unknown_activation {
            return Err(unknown_activation_error(&self.name, name));
        }
        if self.filters == 0 {
            return Err(config_error(&self.name, "filters must be positive"));
        }
        let ((kh, kw), (sh, sw)) = (self.kernel_size, self.strides);
        if kh == 0 || kw == 0 {
            return Err(config_error(
                &self.name,
                format!("kernel_size must be positive, got ({kh}, {kw})"),
            ));
        }
        if sh == 0 || sw == 0 {
            return Err(config_error(
                &self.name,
                format!("strides must be positive, got ({sh}, {sw})"),
            ));
        }
        Ok(())
    }

    fn expected(&self, channels: Option<usize>) -> String {
        let c = channels.map_or_else(|| "channels".to_string(), |c| c.to_string());
        match self.padding {
            Padding::Valid => {
                let (kh, kw) = self.kernel_size;
                format!("[batch, height ≥ {kh}, width ≥ {kw}, {c}] (valid padding)")
            }
            Padding::Same => format!("[batch, height, width, {c}]"),
        }
    }

    /// `(output shape, input channels)` for a per-sample shape `[H, W, C]`.
    fn infer(&self, shape: &[usize]) -> Result<(Shape, usize)> {
        self.check_config()?;
        let built_c = self.kernel.as_ref().map(|k| k.value().shape()[2]);
        let &[h, w, c] = shape else {
            return Err(shape_error(&self.name, self.expected(built_c), shape));
        };
        if built_c.is_some_and(|k| k != c) {
            return Err(shape_error(&self.name, self.expected(built_c), shape));
        }
        let g = geometry(
            &self.name,
            || self.expected(built_c),
            shape,
            (h, w),
            self.kernel_size,
            self.strides,
            self.padding,
        )?;
        Ok((vec![g.out_h, g.out_w, self.filters], c))
    }
}

impl<T: Float> Layer<T> for Conv2D<T> {
    fn class_name(&self) -> &'static str {
        "Conv2D"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    fn build(&mut self, input_shapes: &[Shape], rng: &mut Rng) -> Result<()> {
        let shape = single_shape(&self.name, input_shapes)?;
        let (_, c) = self.infer(shape)?;
        if self.kernel.is_none() {
            let (kh, kw) = self.kernel_size;
            self.build_weights(&[kh, kw, c, self.filters], rng);
        }
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.kernel.is_some()
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let shape = single_shape(&self.name, input_shapes)?;
        Ok(vec![self.infer(shape)?.0])
    }

    fn call(&self, inputs: &[Var<T>], ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        let x = single_input(&self.name, inputs)?;
        let kernel = self.kernel.as_ref().ok_or_else(|| LayerError::NotBuilt {
            layer: self.name.clone(),
        })?;
        let k4 = match *kernel.value().shape() {
            [a, b, c, d] => [a, b, c, d],
            _ => return Err(config_error(&self.name, "internal: the kernel is not 4-D")),
        };
        let x4 = match *x.shape() {
            [n, h, w, c] if c == k4[2] => [n, h, w, c],
            _ => {
                return Err(shape_error(
                    &self.name,
                    self.expected(Some(k4[2])),
                    x.shape(),
                ))
            }
        };
        geometry(
            &self.name,
            || self.expected(Some(k4[2])),
            x.shape(),
            (x4[1], x4[2]),
            self.kernel_size,
            self.strides,
            self.padding,
        )?;
        let bias = self.bias.as_ref().map(|b| b.var());
        let spec = ConvSpec {
            x4,
            k4,
            stride: self.strides,
            padding: self.padding,
            relu: self.activation == Activation::Relu,
        };
        let y = fused_conv("conv2d_layer", x, &kernel.var(), bias.as_ref(), spec, 4)?;
        Ok(vec![self.finish(y, ctx)?])
    }

    fn params(&self) -> Vec<&Param<T>> {
        self.kernel.iter().chain(self.bias.iter()).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.kernel.iter_mut().chain(self.bias.iter_mut()).collect()
    }

    fn to_saved(&self) -> SavedLayer<T> {
        SavedLayer::Conv2D(self.clone())
    }

    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }
}

/// 1-D convolution layer over sequences `[batch, steps, channels]`, as Keras' `Conv1D`:
/// `activation(conv1d(x, kernel) + bias)`.
///
/// Shapes: input `[batch, steps, channels]`, kernel `[k, channels, filters]`, bias
/// `[filters]`, output `[batch, out_steps, filters]` with the same size rules as
/// [`Conv2D`]. Defaults: stride 1, `Padding::Valid`, linear activation, bias on,
/// `glorot_uniform` kernel, `zeros` bias. Parameters: `k·channels·filters + filters`.
/// Causal padding and dilation are not supported.
///
/// ```
/// use nn_layers::{Conv1D, LayerExt};
/// let conv = Conv1D::<f32>::new(16, 5).strides(2);
/// assert_eq!(conv.output_shape(&[100, 8])?, vec![48, 16]);
/// # Ok::<(), nn_layers::LayerError>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct Conv1D<T: Float = f32> {
    name: String,
    filters: usize,
    kernel_size: usize,
    strides: usize,
    padding: Padding,
    activation: Activation,
    #[serde(skip)]
    unknown_activation: Option<String>,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    kernel_regularizer: Option<Regularizer>,
    bias_regularizer: Option<Regularizer>,
    activity_regularizer: Option<Regularizer>,
    kernel: Option<Param<T>>,
    bias: Option<Param<T>>,
}

impl<T: Float> Conv1D<T> {
    /// A convolution with `filters` output channels and a window of `kernel_size` steps.
    pub fn new(filters: usize, kernel_size: usize) -> Self {
        Conv1D {
            name: "conv1d".into(),
            filters,
            kernel_size,
            strides: 1,
            padding: Padding::Valid,
            activation: Activation::Linear,
            unknown_activation: None,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: None,
            bias_regularizer: None,
            activity_regularizer: None,
            kernel: None,
            bias: None,
        }
    }

    /// The stride (default 1).
    pub fn strides(mut self, strides: usize) -> Self {
        self.strides = strides;
        self
    }

    /// The window length.
    pub fn kernel_size(&self) -> usize {
        self.kernel_size
    }

    /// The configured stride.
    pub fn strides_value(&self) -> usize {
        self.strides
    }

    conv_common!();

    fn check_config(&self) -> Result<()> {
        if let Some(name) = &self.unknown_activation {
            return Err(unknown_activation_error(&self.name, name));
        }
        if self.filters == 0 {
            return Err(config_error(&self.name, "filters must be positive"));
        }
        if self.kernel_size == 0 {
            return Err(config_error(&self.name, "kernel_size must be positive"));
        }
        if self.strides == 0 {
            return Err(config_error(&self.name, "strides must be positive"));
        }
        Ok(())
    }

    fn expected(&self, channels: Option<usize>) -> String {
        let c = channels.map_or_else(|| "channels".to_string(), |c| c.to_string());
        match self.padding {
            Padding::Valid => format!("[batch, steps ≥ {}, {c}] (valid padding)", self.kernel_size),
            Padding::Same => format!("[batch, steps, {c}]"),
        }
    }

    /// `(output shape, input channels)` for a per-sample shape `[L, C]`.
    fn infer(&self, shape: &[usize]) -> Result<(Shape, usize)> {
        self.check_config()?;
        let built_c = self.kernel.as_ref().map(|k| k.value().shape()[1]);
        let &[l, c] = shape else {
            return Err(shape_error(&self.name, self.expected(built_c), shape));
        };
        if built_c.is_some_and(|k| k != c) {
            return Err(shape_error(&self.name, self.expected(built_c), shape));
        }
        let g = geometry(
            &self.name,
            || self.expected(built_c),
            shape,
            (1, l),
            (1, self.kernel_size),
            (1, self.strides),
            self.padding,
        )?;
        Ok((vec![g.out_w, self.filters], c))
    }
}

impl<T: Float> Layer<T> for Conv1D<T> {
    fn class_name(&self) -> &'static str {
        "Conv1D"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    fn build(&mut self, input_shapes: &[Shape], rng: &mut Rng) -> Result<()> {
        let shape = single_shape(&self.name, input_shapes)?;
        let (_, c) = self.infer(shape)?;
        if self.kernel.is_none() {
            self.build_weights(&[self.kernel_size, c, self.filters], rng);
        }
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.kernel.is_some()
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let shape = single_shape(&self.name, input_shapes)?;
        Ok(vec![self.infer(shape)?.0])
    }

    fn call(&self, inputs: &[Var<T>], ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        let x = single_input(&self.name, inputs)?;
        let kernel = self.kernel.as_ref().ok_or_else(|| LayerError::NotBuilt {
            layer: self.name.clone(),
        })?;
        let k4 = match *kernel.value().shape() {
            [k, c, f] => [1, k, c, f],
            _ => return Err(config_error(&self.name, "internal: the kernel is not 3-D")),
        };
        let x4 = match *x.shape() {
            [n, l, c] if c == k4[2] => [n, 1, l, c],
            _ => {
                return Err(shape_error(
                    &self.name,
                    self.expected(Some(k4[2])),
                    x.shape(),
                ))
            }
        };
        geometry(
            &self.name,
            || self.expected(Some(k4[2])),
            x.shape(),
            (1, x4[2]),
            (1, self.kernel_size),
            (1, self.strides),
            self.padding,
        )?;
        let bias = self.bias.as_ref().map(|b| b.var());
        let spec = ConvSpec {
            x4,
            k4,
            stride: (1, self.strides),
            padding: self.padding,
            relu: self.activation == Activation::Relu,
        };
        let y = fused_conv("conv1d_layer", x, &kernel.var(), bias.as_ref(), spec, 3)?;
        Ok(vec![self.finish(y, ctx)?])
    }

    fn params(&self) -> Vec<&Param<T>> {
        self.kernel.iter().chain(self.bias.iter()).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.kernel.iter_mut().chain(self.bias.iter_mut()).collect()
    }

    fn to_saved(&self) -> SavedLayer<T> {
        SavedLayer::Conv1D(self.clone())
    }

    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_threads<R: Send>(n: usize, f: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
            .install(f)
    }

    #[test]
    fn bias_gradient_and_epilogue_do_not_depend_on_the_thread_count() {
        let (rows, f) = (3000, 32);
        let data = Tensor::<f32>::rand_normal([rows * f], 0.0, 1.0, 9).to_vec();
        let bias = Tensor::<f32>::rand_normal([f], 0.0, 1.0, 10).to_vec();
        let one = on_threads(1, || sum_rows(&data, f));
        let two = on_threads(2, || sum_rows(&data, f));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&one), bits(&two));
        // Against a plain f64 sum, to within f32 rounding of blocked sums.
        for (j, &s) in one.iter().enumerate() {
            let exact: f64 = (0..rows).map(|r| data[r * f + j] as f64).sum();
            assert!(
                (s as f64 - exact).abs() < 1e-3,
                "column {j}: {s} vs {exact}"
            );
        }
        for (b, relu) in [
            (Some(&bias[..]), true),
            (Some(&bias[..]), false),
            (None, true),
        ] {
            let mut a = data.clone();
            let mut c = data.clone();
            on_threads(1, || bias_relu_in_place(&mut a, f, b, relu));
            on_threads(2, || bias_relu_in_place(&mut c, f, b, relu));
            assert_eq!(bits(&a), bits(&c));
            let (r, j) = (2999, 31);
            let pre = data[r * f + j] + b.map_or(0.0, |b| b[j]);
            let want = if relu { pre.max(0.0) } else { pre };
            assert_eq!(a[r * f + j], want);
        }
    }
}
