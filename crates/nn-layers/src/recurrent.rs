//! Recurrent layers after Keras 3: [`SimpleRNN`], [`LSTM`] and [`GRU`].
//!
//! Inputs are `[batch, timesteps, features]` (`[T, F]` without the batch axis). Each layer
//! returns its last output `[batch, units]`, or every step's output `[batch, T, units]` with
//! `return_sequences(true)`; `return_state(true)` appends the final states (`h`, and `c` for
//! the LSTM: Keras' `[output, h, c]`). Initial states may be passed as extra inputs after the
//! sequence (`[x, h0]`, or `[x, h0, c0]` for the LSTM), each `[batch, units]`.
//!
//! # Implementation
//! The whole recurrence is one differentiable op (`Var::from_op`):
//! * the input projection `x·W + b` of **all** timesteps is one GEMM
//!   (`[B·T, F] × [F, G·u]`, `G` = 1, 4 or 3 gates);
//! * each step then does one `h·U` GEMM and the gate math in a single fused loop, keeping the
//!   post-activation gate values for the backward pass;
//! * the backward pass runs back-propagation through time inside the op: per step it computes
//!   the gate derivatives and one `dz·Uᵀ` GEMM, and at the end the parameter gradients are
//!   three large GEMMs over all timesteps (`dW = Xᵀ·dZ`, `dU = H₋₁ᵀ·dZ`, `dx = dZ·Wᵀ`).
//!
//! This records a single graph node for the sequence instead of one per step (no per-step
//! slicing, whose gradients would be full-size), and it is what `benches/lstm.rs` measured
//! fastest against per-step fused nodes and against ~15 small ops per step.
//!
//! Activations are applied inside the fused loop, and their derivatives are computed from
//! their outputs, so the recurrent layers accept the element-wise activations whose derivative
//! is a function of the output: `linear`, `sigmoid`, `hard_sigmoid`, `tanh`, `relu`, `relu6`,
//! `leaky_relu` and `elu` (non-negative alpha), `selu`, `softplus`, `softsign`. Others are an
//! error when the layer is built. In `f32`, sigmoid and tanh run on branch-free vectorisable
//! kernels (nn-tensor's `exp_f32`; within 1.4 ulp of the exact values); `f64` uses the
//! standard library.
//!
//! Not supported (yet): masking, `dropout` / `recurrent_dropout`, `stateful`, `unroll`.

use std::any::TypeId;

use nn_autograd::{is_recording, Var};
use nn_tensor::ops::softmax::exp_f32;
use nn_tensor::random::Rng;
use nn_tensor::{Float, Tensor, TensorError};
use serde::{Deserialize, Serialize};

use crate::layer::shape_error;
use crate::{
    Activation, ActivationArg, ForwardCtx, Initializer, Layer, LayerError, Param, Regularizer,
    Result, SavedLayer, Shape, SELU_ALPHA, SELU_SCALE,
};

// ----------------------------------------------------------------------------- configuration

/// Which recurrent cell a layer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Cell {
    SimpleRnn,
    Lstm,
    Gru,
}

/// The configuration and weights shared by the three recurrent layers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
struct RnnCore<T: Float> {
    name: String,
    cell: Cell,
    units: usize,
    activation: Activation,
    #[serde(skip)]
    unknown_activation: Option<String>,
    recurrent_activation: Activation,
    #[serde(skip)]
    unknown_recurrent_activation: Option<String>,
    use_bias: bool,
    kernel_initializer: Initializer,
    recurrent_initializer: Initializer,
    bias_initializer: Initializer,
    unit_forget_bias: bool,
    reset_after: bool,
    kernel_regularizer: Option<Regularizer>,
    recurrent_regularizer: Option<Regularizer>,
    bias_regularizer: Option<Regularizer>,
    activity_regularizer: Option<Regularizer>,
    return_sequences: bool,
    return_state: bool,
    go_backwards: bool,
    kernel: Option<Param<T>>,
    recurrent_kernel: Option<Param<T>>,
    bias: Option<Param<T>>,
}

impl<T: Float> RnnCore<T> {
    fn new(cell: Cell, units: usize, name: &str) -> Self {
        RnnCore {
            name: name.into(),
            cell,
            units,
            activation: Activation::Tanh,
            unknown_activation: None,
            recurrent_activation: Activation::Sigmoid,
            unknown_recurrent_activation: None,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            recurrent_initializer: Initializer::Orthogonal { gain: 1.0 },
            bias_initializer: Initializer::Zeros,
            unit_forget_bias: true,
            reset_after: true,
            kernel_regularizer: None,
            recurrent_regularizer: None,
            bias_regularizer: None,
            activity_regularizer: None,
            return_sequences: false,
            return_state: false,
            go_backwards: false,
            kernel: None,
            recurrent_kernel: None,
            bias: None,
        }
    }

    /// Gates per unit: the width of the kernels is `gates · units`.
    fn gates(&self) -> usize {
        match self.cell {
            Cell::SimpleRnn => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    /// States carried between steps (`h`, plus `c` for the LSTM).
    fn num_states(&self) -> usize {
        if self.cell == Cell::Lstm {
            2
        } else {
            1
        }
    }

    fn kind(&self) -> Kind {
        match self.cell {
            Cell::SimpleRnn => Kind::Simple,
            Cell::Lstm => Kind::Lstm,
            Cell::Gru if self.reset_after => Kind::GruAfter,
            Cell::Gru => Kind::GruBefore,
        }
    }

    fn bias_shape(&self) -> Vec<usize> {
        let width = self.gates() * self.units;
        if self.kind() == Kind::GruAfter {
            vec![2, width]
        } else {
            vec![width]
        }
    }

    fn set_activation(&mut self, activation: ActivationArg, recurrent: bool) {
        let (slot, unknown) = if recurrent {
            (
                &mut self.recurrent_activation,
                &mut self.unknown_recurrent_activation,
            )
        } else {
            (&mut self.activation, &mut self.unknown_activation)
        };
        match activation.0 {
            Ok(a) => {
                *slot = a;
                *unknown = None;
            }
            Err(name) => *unknown = Some(name),
        }
    }

    fn config_error(&self, message: impl Into<String>) -> LayerError {
        LayerError::Config {
            layer: self.name.clone(),
            message: message.into(),
        }
    }

    /// Rejects what the fused kernel cannot run: unknown or unsupported activations, no units.
    fn check_config(&self) -> Result<()> {
        let unknown = [&self.unknown_activation, &self.unknown_recurrent_activation];
        if let Some(name) = unknown.into_iter().flatten().next() {
            return Err(match Activation::from_name(name) {
                Err(e) => self.config_error(e.to_string()),
                Ok(_) => self.config_error(format!("bad activation `{name}`")),
            });
        }
        if self.units == 0 {
            return Err(self.config_error("units must be positive"));
        }
        let mut used = vec![("activation", self.activation)];
        if self.cell != Cell::SimpleRnn {
            used.push(("recurrent_activation", self.recurrent_activation));
        }
        for (what, a) in used {
            if !fusable(a) {
                return Err(self.config_error(format!(
                    "{what} `{}` is not supported by recurrent layers (supported: linear, \
                     sigmoid, hard_sigmoid, tanh, relu, relu6, leaky_relu and elu with \
                     alpha ≥ 0, selu, softplus, softsign)",
                    a.name()
                )));
            }
        }
        Ok(())
    }

    /// Splits the input shapes into the sequence's `[T, F]` and the (checked) state shapes,
    /// returning `(T, F, has_initial_state)`.
    fn split_shapes(&self, shapes: &[Shape]) -> Result<(usize, usize, bool)> {
        let n = self.num_states();
        if shapes.len() != 1 && shapes.len() != 1 + n {
            return Err(LayerError::Inputs {
                layer: self.name.clone(),
                expected: format!(
                    "1 (the sequence) or {} (the sequence and its initial states)",
                    1 + n
                ),
                found: shapes.len(),
            });
        }
        let x = &shapes[0];
        if x.len() != 2 || x[0] == 0 {
            return Err(shape_error(
                &self.name,
                "[batch, timesteps ≥ 1, features]",
                x,
            ));
        }
        for s in &shapes[1..] {
            if s.as_slice() != [self.units] {
                return Err(shape_error(
                    &self.name,
                    format!("an initial state of shape [batch, {}]", self.units),
                    s,
                ));
            }
        }
        if let Some(k) = &self.kernel {
            let features = k.value().shape().first().copied().unwrap_or(0);
            if x[1] != features {
                return Err(shape_error(
                    &self.name,
                    format!("[batch, timesteps, {features}]"),
                    x,
                ));
            }
        }
        Ok((x[0], x[1], shapes.len() > 1))
    }

    /// Checks the weights' shapes against the configuration (a loaded saved form may hold
    /// anything), so that the fused kernel can index them freely.
    fn check_weights(&self) -> Result<()> {
        let width = self.gates() * self.units;
        let check = |name: &str, param: Option<&Param<T>>, shape: &[usize]| match param {
            Some(p) if p.value().shape() == shape => Ok(()),
            Some(p) => Err(self.config_error(format!(
                "{name} has shape {:?}, the configuration needs {shape:?}",
                p.value().shape()
            ))),
            None => Err(LayerError::NotBuilt {
                layer: self.name.clone(),
            }),
        };
        let kernel = self.kernel.as_ref();
        let features = kernel
            .and_then(|k| k.value().shape().first().copied())
            .unwrap_or(0);
        check("kernel", kernel, &[features, width])?;
        check(
            "recurrent_kernel",
            self.recurrent_kernel.as_ref(),
            &[self.units, width],
        )?;
        if self.use_bias {
            check("bias", self.bias.as_ref(), &self.bias_shape())?;
        }
        Ok(())
    }

    fn build(&mut self, input_shapes: &[Shape], rng: &mut Rng) -> Result<()> {
        self.check_config()?;
        let (_, features, _) = self.split_shapes(input_shapes)?;
        if self.kernel.is_some() {
            return Ok(()); // split_shapes checked the feature size against the kernel
        }
        let (u, width) = (self.units, self.gates() * self.units);
        let kernel = self.kernel_initializer.init(&[features, width], rng);
        let recurrent = self.recurrent_initializer.init(&[u, width], rng);
        self.kernel = Some(Param::new("kernel", kernel).with_regularizer(self.kernel_regularizer));
        self.recurrent_kernel = Some(
            Param::new("recurrent_kernel", recurrent).with_regularizer(self.recurrent_regularizer),
        );
        if self.use_bias {
            let bias = if self.cell == Cell::Lstm && self.unit_forget_bias {
                // Keras: bias_initializer for i, ones for the forget gate, bias_initializer
                // for c and o.
                let i: Tensor<T> = self.bias_initializer.init(&[u], rng);
                let f = Tensor::<T>::ones([u]);
                let co: Tensor<T> = self.bias_initializer.init(&[2 * u], rng);
                Tensor::concat(&[&i, &f, &co], 0)?
            } else {
                self.bias_initializer.init(&self.bias_shape(), rng)
            };
            self.bias = Some(Param::new("bias", bias).with_regularizer(self.bias_regularizer));
        }
        Ok(())
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let (steps, _, _) = self.split_shapes(input_shapes)?;
        let u = self.units;
        let mut out = vec![if self.return_sequences {
            vec![steps, u]
        } else {
            vec![u]
        }];
        if self.return_state {
            out.extend((0..self.num_states()).map(|_| vec![u]));
        }
        Ok(out)
    }

    fn call(&self, inputs: &[Var<T>], ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        let not_built = || LayerError::NotBuilt {
            layer: self.name.clone(),
        };
        let kernel = self.kernel.as_ref().ok_or_else(not_built)?;
        let recurrent = self.recurrent_kernel.as_ref().ok_or_else(not_built)?;
        self.check_weights()?;
        let n = self.num_states();
        if inputs.len() != 1 && inputs.len() != 1 + n {
            return Err(LayerError::Inputs {
                layer: self.name.clone(),
                expected: format!(
                    "1 (the sequence) or {} (the sequence and its initial states)",
                    1 + n
                ),
                found: inputs.len(),
            });
        }
        let x = &inputs[0];
        let shape = x.shape().to_vec();
        let features = kernel.value().shape()[0]; // 2-D: checked by check_weights
        if shape.len() != 3 || shape[1] == 0 || shape[2] != features {
            return Err(shape_error(
                &self.name,
                format!("[batch, timesteps ≥ 1, {features}]"),
                &shape,
            ));
        }
        let (batch, steps, u) = (shape[0], shape[1], self.units);
        for s in &inputs[1..] {
            if s.shape() != [batch, u] {
                return Err(shape_error(
                    &self.name,
                    format!("an initial state of shape [{batch}, {u}]"),
                    s.shape(),
                ));
            }
        }
        let x = if self.go_backwards {
            let reversed: Vec<usize> = (0..steps).rev().collect();
            x.index_select(1, &reversed)?
        } else {
            x.clone()
        };
        let spec = Spec {
            kind: self.kind(),
            units: u,
            act: self.activation,
            rec: self.recurrent_activation,
        };
        let kernel = kernel.var();
        let recurrent = recurrent.var();
        let bias = self.bias.as_ref().map(Param::var);
        let need_c = self.cell == Cell::Lstm && self.return_state;
        let out = sequence_op(
            &spec,
            SeqInputs {
                x: &x,
                kernel: &kernel,
                recurrent: &recurrent,
                bias: bias.as_ref(),
                h0: inputs.get(1),
                c0: inputs.get(2),
            },
            need_c,
        )?;
        let seq = if need_c {
            out.slice_axis(1, 0, steps)?
        } else {
            out.clone()
        };
        let h_last = seq.slice_axis(1, steps - 1, steps)?.squeeze(1)?;
        let output = if self.return_sequences {
            seq
        } else {
            h_last.clone()
        };
        if let Some(r) = self.activity_regularizer {
            ctx.add_loss(r.penalty(&output)?);
        }
        let mut outputs = vec![output];
        if self.return_state {
            outputs.push(h_last);
            if need_c {
                outputs.push(out.slice_axis(1, steps, steps + 1)?.squeeze(1)?);
            }
        }
        Ok(outputs)
    }

    fn params(&self) -> Vec<&Param<T>> {
        self.kernel
            .iter()
            .chain(self.recurrent_kernel.iter())
            .chain(self.bias.iter())
            .collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.kernel
            .iter_mut()
            .chain(self.recurrent_kernel.iter_mut())
            .chain(self.bias.iter_mut())
            .collect()
    }
}

/// Defines a public recurrent layer type around [`RnnCore`] with the builder methods the
/// three layers share and their `Layer` implementation.
macro_rules! recurrent_layer {
    ($(#[$meta:meta])* $ty:ident, $class:literal, $cell:expr, $default_name:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Serialize, Deserialize)]
        #[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
        pub struct $ty<T: Float = f32> {
            core: RnnCore<T>,
        }

        impl<T: Float> $ty<T> {
            /// A layer with `units` units and Keras' defaults.
            pub fn new(units: usize) -> Self {
                $ty { core: RnnCore::new($cell, units, $default_name) }
            }

            /// Sets the output activation (default `tanh`), by value or Keras name.
            pub fn activation(mut self, activation: impl Into<ActivationArg>) -> Self {
                self.core.set_activation(activation.into(), false);
                self
            }

            /// Whether to add biases (default true).
            pub fn use_bias(mut self, use_bias: bool) -> Self {
                self.core.use_bias = use_bias;
                self
            }

            /// The input kernel's initializer (default `glorot_uniform`).
            pub fn kernel_initializer(mut self, init: Initializer) -> Self {
                self.core.kernel_initializer = init;
                self
            }

            /// The recurrent kernel's initializer (default `orthogonal`).
            pub fn recurrent_initializer(mut self, init: Initializer) -> Self {
                self.core.recurrent_initializer = init;
                self
            }

            /// The bias' initializer (default `zeros`).
            pub fn bias_initializer(mut self, init: Initializer) -> Self {
                self.core.bias_initializer = init;
                self
            }

            /// A penalty on the input kernel.
            pub fn kernel_regularizer(mut self, r: Regularizer) -> Self {
                self.core.kernel_regularizer = Some(r);
                self
            }

            /// A penalty on the recurrent kernel.
            pub fn recurrent_regularizer(mut self, r: Regularizer) -> Self {
                self.core.recurrent_regularizer = Some(r);
                self
            }

            /// A penalty on the bias.
            pub fn bias_regularizer(mut self, r: Regularizer) -> Self {
                self.core.bias_regularizer = Some(r);
                self
            }

            /// A penalty on the layer's (first) output.
            pub fn activity_regularizer(mut self, r: Regularizer) -> Self {
                self.core.activity_regularizer = Some(r);
                self
            }

            /// Return every step's output `[batch, T, units]` instead of the last
            /// `[batch, units]` (default false).
            pub fn return_sequences(mut self, on: bool) -> Self {
                self.core.return_sequences = on;
                self
            }

            /// Also return the final states after the output (default false).
            pub fn return_state(mut self, on: bool) -> Self {
                self.core.return_state = on;
                self
            }

            /// Process the sequence from its last step to its first; with
            /// `return_sequences` the outputs come in that (reversed) order, as in Keras.
            pub fn go_backwards(mut self, on: bool) -> Self {
                self.core.go_backwards = on;
                self
            }

            /// Sets the name.
            pub fn name(mut self, name: &str) -> Self {
                self.core.name = name.into();
                self
            }

            /// Units (the size of the state and of each step's output).
            pub fn units(&self) -> usize {
                self.core.units
            }

            /// The configured output activation.
            pub fn activation_fn(&self) -> Activation {
                self.core.activation
            }

            /// The input kernel `[features, gates·units]`, once built.
            pub fn kernel(&self) -> Option<&Param<T>> {
                self.core.kernel.as_ref()
            }

            /// The recurrent kernel `[units, gates·units]`, once built.
            pub fn recurrent_kernel(&self) -> Option<&Param<T>> {
                self.core.recurrent_kernel.as_ref()
            }

            /// The bias, once built (and when `use_bias`).
            pub fn bias(&self) -> Option<&Param<T>> {
                self.core.bias.as_ref()
            }
        }

        impl<T: Float> Layer<T> for $ty<T> {
            fn class_name(&self) -> &'static str {
                $class
            }

            fn name(&self) -> &str {
                &self.core.name
            }

            fn set_name(&mut self, name: &str) {
                self.core.name = name.into();
            }

            fn build(&mut self, input_shapes: &[Shape], rng: &mut Rng) -> Result<()> {
                self.core.build(input_shapes, rng)
            }

            fn is_built(&self) -> bool {
                self.core.kernel.is_some()
            }

            fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
                self.core.output_shapes(input_shapes)
            }

            fn call(&self, inputs: &[Var<T>], ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
                self.core.call(inputs, ctx)
            }

            fn params(&self) -> Vec<&Param<T>> {
                self.core.params()
            }

            fn params_mut(&mut self) -> Vec<&mut Param<T>> {
                self.core.params_mut()
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

recurrent_layer!(
    /// Keras' `SimpleRNN`: `h_t = activation(x_t·kernel + h_{t−1}·recurrent_kernel + bias)`.
    ///
    /// Shapes: input `[batch, T, F]`, kernel `[F, units]`, recurrent kernel `[units, units]`,
    /// bias `[units]`. Defaults: `tanh`, `glorot_uniform` kernel, `orthogonal` recurrent
    /// kernel, `zeros` bias.
    ///
    /// ```
    /// use nn_layers::{LayerExt, SimpleRNN};
    /// let rnn = SimpleRNN::<f32>::new(8).return_sequences(true);
    /// assert_eq!(rnn.output_shape(&[5, 3])?, vec![5, 8]);
    /// # Ok::<(), nn_layers::LayerError>(())
    /// ```
    SimpleRNN,
    "SimpleRNN",
    Cell::SimpleRnn,
    "simple_rnn"
);

recurrent_layer!(
    /// Keras' `LSTM` (Hochreiter & Schmidhuber, 1997), gates in Keras' order `i, f, c, o`:
    ///
    /// ```text
    /// z = x_t·kernel + h_{t−1}·recurrent_kernel + bias      (split into z_i, z_f, z_c, z_o)
    /// i = σ(z_i)   f = σ(z_f)   o = σ(z_o)                  (σ: recurrent_activation)
    /// c_t = f ⊙ c_{t−1} + i ⊙ act(z_c)
    /// h_t = o ⊙ act(c_t)                                    (act: activation)
    /// ```
    ///
    /// Shapes: kernel `[F, 4u]`, recurrent kernel `[u, 4u]`, bias `[4u]`, so
    /// `4·(F·u + u·u + u)` parameters. Defaults: `tanh`, `sigmoid`, `glorot_uniform` kernel,
    /// `orthogonal` recurrent kernel, `zeros` bias with the forget gate's part set to 1
    /// (`unit_forget_bias`). With `return_state` the outputs are `[output, h, c]`.
    ///
    /// ```
    /// use nn_layers::{Layer, LSTM};
    /// let lstm = LSTM::<f32>::new(16).return_state(true);
    /// assert_eq!(lstm.output_shapes(&[vec![10, 4]])?, vec![vec![16], vec![16], vec![16]]);
    /// # Ok::<(), nn_layers::LayerError>(())
    /// ```
    #[allow(clippy::upper_case_acronyms)] // Keras' class name
    LSTM,
    "LSTM",
    Cell::Lstm,
    "lstm"
);

recurrent_layer!(
    /// Keras 3's `GRU` (Cho et al., 2014) with its defaults: gates in Keras' order `z, r, h`
    /// and the reset gate applied after the recurrent product (`reset_after`, the variant
    /// cuDNN runs):
    ///
    /// ```text
    /// x_z, x_r, x_h = x_t·kernel + input_bias
    /// r_z, r_r, r_h = h_{t−1}·recurrent_kernel + recurrent_bias
    /// z = σ(x_z + r_z)   r = σ(x_r + r_r)                   (σ: recurrent_activation)
    /// ĥ = act(x_h + r ⊙ r_h)
    /// h_t = z ⊙ h_{t−1} + (1 − z) ⊙ ĥ
    /// ```
    ///
    /// Shapes: kernel `[F, 3u]`, recurrent kernel `[u, 3u]`, bias `[2, 3u]` (input and
    /// recurrent biases), so `3·(F·u + u·u + 2u)` parameters. With `reset_after(false)` the
    /// bias is `[3u]` and `ĥ = act(x_h + (r ⊙ h_{t−1})·recurrent_kernel_h)`.
    ///
    /// ```
    /// use nn_layers::{LayerExt, GRU};
    /// let gru = GRU::<f32>::new(6);
    /// assert_eq!(gru.output_shape(&[7, 2])?, vec![6]);
    /// # Ok::<(), nn_layers::LayerError>(())
    /// ```
    #[allow(clippy::upper_case_acronyms)] // Keras' class name
    GRU,
    "GRU",
    Cell::Gru,
    "gru"
);

impl<T: Float> LSTM<T> {
    /// The gates' activation (default `sigmoid`).
    pub fn recurrent_activation(mut self, activation: impl Into<ActivationArg>) -> Self {
        self.core.set_activation(activation.into(), true);
        self
    }

    /// Initialise the forget gate's bias to 1 (default true, as Keras; Jozefowicz et al., 2015).
    pub fn unit_forget_bias(mut self, on: bool) -> Self {
        self.core.unit_forget_bias = on;
        self
    }
}

impl<T: Float> GRU<T> {
    /// The gates' activation (default `sigmoid`).
    pub fn recurrent_activation(mut self, activation: impl Into<ActivationArg>) -> Self {
        self.core.set_activation(activation.into(), true);
        self
    }

    /// Apply the reset gate after the recurrent product (default true, Keras 3's default and
    /// cuDNN's variant; bias `[2, 3u]`) or before it (false; bias `[3u]`).
    pub fn reset_after(mut self, on: bool) -> Self {
        self.core.reset_after = on;
        self
    }
}

// ----------------------------------------------------------------------------- activations

/// Whether the fused kernel can run `a`: element-wise, with a derivative that is a function of
/// the output.
fn fusable(a: Activation) -> bool {
    match a {
        Activation::Linear
        | Activation::Sigmoid
        | Activation::HardSigmoid
        | Activation::Tanh
        | Activation::Relu
        | Activation::Relu6
        | Activation::Selu
        | Activation::Softplus
        | Activation::Softsign => true,
        Activation::LeakyRelu { alpha } | Activation::Elu { alpha } => alpha >= 0.0,
        _ => false,
    }
}

/// `a(x)`, with the same formulas as the activation ops of nn-autograd.
#[inline]
fn act_value<T: Float>(a: Activation, x: T) -> T {
    let zero = T::zero();
    let one = T::one();
    match a {
        Activation::Sigmoid => sigmoid(x),
        Activation::Tanh => x.tanh(),
        Activation::HardSigmoid => clamp(x * T::of(1.0 / 6.0) + T::of(0.5), zero, one),
        Activation::Relu => {
            if x < zero {
                zero
            } else {
                x
            }
        }
        Activation::Relu6 => clamp(x, zero, T::of(6.0)),
        Activation::LeakyRelu { alpha } => {
            if x < zero {
                T::of(alpha) * x
            } else {
                x
            }
        }
        Activation::Elu { alpha } => elu(x, T::of(alpha)),
        Activation::Selu => elu(x, T::of(SELU_ALPHA)) * T::of(SELU_SCALE),
        Activation::Softplus => {
            let pos = if x > zero { x } else { zero };
            pos + (-x.abs()).exp().ln_1p()
        }
        Activation::Softsign => x / (x.abs() + one),
        _ => x, // linear (others are rejected when the layer is built)
    }
}

/// `a′(x)` from `y = a(x)`.
#[inline]
fn act_grad<T: Float>(a: Activation, y: T) -> T {
    let zero = T::zero();
    let one = T::one();
    match a {
        Activation::Sigmoid => y * (one - y),
        Activation::Tanh => one - y * y,
        Activation::HardSigmoid => {
            if y > zero && y < one {
                T::of(1.0 / 6.0)
            } else {
                zero
            }
        }
        Activation::Relu => {
            if y > zero {
                one
            } else {
                zero
            }
        }
        Activation::Relu6 => {
            if y > zero && y < T::of(6.0) {
                one
            } else {
                zero
            }
        }
        Activation::LeakyRelu { alpha } => {
            if y > zero {
                one
            } else {
                T::of(alpha)
            }
        }
        Activation::Elu { alpha } => {
            if y > zero {
                one
            } else {
                y + T::of(alpha)
            }
        }
        Activation::Selu => {
            if y > zero {
                T::of(SELU_SCALE)
            } else {
                y + T::of(SELU_SCALE * SELU_ALPHA)
            }
        }
        Activation::Softplus => -(-y).exp_m1(),
        Activation::Softsign => {
            let s = one - y.abs();
            s * s
        }
        _ => one,
    }
}

#[inline]
fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

#[inline]
fn clamp<T: Float>(x: T, lo: T, hi: T) -> T {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

#[inline]
fn elu<T: Float>(x: T, alpha: T) -> T {
    if x > T::zero() {
        x
    } else {
        alpha * x.exp_m1()
    }
}

/// Runs `$body` with `$da` / `$dr` bound to the derivatives (from the output) of the activation
/// and the recurrent activation, as closures specialised for the default tanh / sigmoid pair
/// so that the loops using them are compiled without a per-element `match`.
macro_rules! with_grads {
    ($t:ty, $act:expr, $rec:expr, |$da:ident, $dr:ident| $body:expr) => {
        match ($act, $rec) {
            (Activation::Tanh, Activation::Sigmoid) => {
                let $da = |y: $t| <$t>::one() - y * y;
                let $dr = |y: $t| y * (<$t>::one() - y);
                $body
            }
            (a, r) => {
                let $da = move |y: $t| act_grad(a, y);
                let $dr = move |y: $t| act_grad(r, y);
                $body
            }
        }
    };
}

#[inline(always)]
fn is_f32<T: Float>() -> bool {
    TypeId::of::<T>() == TypeId::of::<f32>()
}

/// `σ(x)` in `f32` on nn-tensor's branch-free, vectorisable exponential (about 1 ulp):
/// `1/(1 + e^{−x})`, which is exactly 0 below x ≈ −88.7 and 1 above x ≈ 17.
#[inline(always)]
fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

/// `tanh x` in `f32`, branch-free and vectorisable: the odd Taylor polynomial to x¹³ for
/// |x| < 0.4 (truncation error below 4e-9 relative), `1 − 2/(1 + e^{2|x|})` above (no
/// cancellation there: the result is at least 0.38), with the sign of x: within 1.4 ulp (see the tests).
#[inline(always)]
fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let big = 1.0 - 2.0 / (1.0 + exp_f32(2.0 * a));
    let x2 = a * a;
    let poly = -1.0 / 3.0
        + x2 * (2.0 / 15.0
            + x2 * (-17.0 / 315.0
                + x2 * (62.0 / 2835.0
                    + x2 * (-1382.0 / 155_925.0 + x2 * (21_844.0 / 6_081_075.0)))));
    let small = a + a * x2 * poly;
    let r = if a < 0.4 { small } else { big };
    r.copysign(x)
}

/// Applies `a` in place, dispatching once per slice. `f32` sigmoid and tanh use the fast
/// vectorisable kernels above; `f64` the standard library's functions.
fn activate<T: Float>(a: Activation, v: &mut [T]) {
    match a {
        Activation::Sigmoid if is_f32::<T>() => v
            .iter_mut()
            .for_each(|x| *x = T::of(sigmoid_f32(x.f64() as f32) as f64)),
        Activation::Tanh if is_f32::<T>() => v
            .iter_mut()
            .for_each(|x| *x = T::of(tanh_f32(x.f64() as f32) as f64)),
        Activation::Sigmoid => v.iter_mut().for_each(|x| *x = sigmoid(*x)),
        Activation::Tanh => v.iter_mut().for_each(|x| *x = x.tanh()),
        Activation::Linear => {}
        _ => v.iter_mut().for_each(|x| *x = act_value(a, *x)),
    }
}

// ----------------------------------------------------------------------------- the fused op

/// The recurrence the fused kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Simple,
    Lstm,
    /// GRU with the reset gate after the recurrent product (bias `[2, 3u]`).
    GruAfter,
    /// GRU with the reset gate before the recurrent product (bias `[3u]`).
    GruBefore,
}

#[derive(Clone, Copy, Debug)]
struct Spec {
    kind: Kind,
    units: usize,
    act: Activation,
    rec: Activation,
}

impl Spec {
    fn gates(&self) -> usize {
        match self.kind {
            Kind::Simple => 1,
            Kind::Lstm => 4,
            Kind::GruAfter | Kind::GruBefore => 3,
        }
    }

    fn op_name(&self) -> &'static str {
        match self.kind {
            Kind::Simple => "simple_rnn_sequence",
            Kind::Lstm => "lstm_sequence",
            Kind::GruAfter | Kind::GruBefore => "gru_sequence",
        }
    }
}

/// The operands of the fused op.
struct SeqInputs<'a, T: Float> {
    x: &'a Var<T>,
    kernel: &'a Var<T>,
    recurrent: &'a Var<T>,
    bias: Option<&'a Var<T>>,
    h0: Option<&'a Var<T>>,
    c0: Option<&'a Var<T>>,
}

/// Sizes of one run.
#[derive(Clone, Copy, Debug)]
struct Dims {
    batch: usize,
    steps: usize,
    features: usize,
    units: usize,
}

/// What the backward pass needs from the forward pass (all `[B, T, ·]` row-major).
struct Trace<T: Float> {
    /// Post-activation gate values `[B, T, G·u]` (empty for SimpleRNN, whose "gate" is h).
    gates: Vec<T>,
    /// LSTM: the cell states `c_t`; GRU (reset after): the recurrent candidate part
    /// `h_{t−1}·U_h + b_h`. `[B, T, u]`.
    cells: Vec<T>,
    /// LSTM: `act(c_t)`, `[B, T, u]`.
    cell_act: Vec<T>,
    /// The outputs `h_t`, `[B, T, u]`.
    hseq: Tensor<T>,
    /// The initial states, `[B, u]`.
    h0: Tensor<T>,
    c0: Vec<T>,
}

/// The forward results: every `h_t`, the last cell state (LSTM), and the trace when a
/// backward pass will follow.
struct Forward<T: Float> {
    hseq: Tensor<T>,
    c_last: Vec<T>,
    trace: Option<Trace<T>>,
}

fn internal(message: &str) -> TensorError {
    TensorError::invalid("recurrent", format!("internal: {message}"))
}

fn slice_of<T: Float>(t: &Tensor<T>) -> std::result::Result<&[T], TensorError> {
    t.as_slice()
        .ok_or_else(|| internal("expected a contiguous buffer"))
}

/// Rows `[start, start + len)` of a flat buffer.
#[inline]
fn row<T>(v: &[T], start: usize, len: usize) -> &[T] {
    &v[start..start + len]
}

#[inline]
fn row_mut<T>(v: &mut [T], start: usize, len: usize) -> &mut [T] {
    &mut v[start..start + len]
}

/// Runs the recurrence over the whole sequence. `keep`: store what the backward pass needs.
#[allow(clippy::too_many_arguments)]
fn sequence_forward<T: Float>(
    spec: &Spec,
    dims: Dims,
    x: &Tensor<T>,
    w: &Tensor<T>,
    u_mat: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    h0: Option<&Tensor<T>>,
    c0: Option<&Tensor<T>>,
    keep: bool,
) -> std::result::Result<Forward<T>, TensorError> {
    let Dims {
        batch: b,
        steps: t,
        features: f,
        units: u,
    } = dims;
    let gu = spec.gates() * u;
    let zero = T::zero();
    let one = T::one();
    // 1. The input projection of every step at once, plus the input bias.
    let mut xw = x.reshape([b * t, f])?.matmul(w)?;
    let bias = bias.map(Tensor::contiguous);
    let bias_s = match &bias {
        Some(bt) => Some(slice_of(bt)?),
        None => None,
    };
    let xw_s = xw.make_contiguous_mut();
    if let Some(bs) = bias_s {
        let input_bias = &bs[..gu];
        for r in xw_s.chunks_exact_mut(gu) {
            r.iter_mut().zip(input_bias).for_each(|(v, &c)| *v += c);
        }
    }
    let xw_s: &[T] = xw_s;
    let rec_bias: Option<&[T]> = match (spec.kind, bias_s) {
        (Kind::GruAfter, Some(bs)) => Some(&bs[gu..2 * gu]),
        _ => None,
    };

    // 2. The recurrence.
    let tk = if keep { t } else { 1 }; // timesteps stored
    let mut gates = vec![
        zero;
        if spec.kind == Kind::Simple {
            0
        } else {
            b * tk * gu
        }
    ];
    let cells_len = if matches!(spec.kind, Kind::Lstm | Kind::GruAfter) {
        b * tk * u
    } else {
        0
    };
    let mut cells = vec![zero; cells_len];
    let mut cell_act = vec![
        zero;
        if spec.kind == Kind::Lstm {
            b * tk * u
        } else {
            0
        }
    ];
    let mut hseq = vec![zero; b * t * u];
    let mut hprev: Tensor<T> = match h0 {
        Some(h) => h.contiguous(),
        None => Tensor::zeros([b, u]),
    };
    let h_init = hprev.clone();
    let mut c: Vec<T> = match (spec.kind, c0) {
        (Kind::Lstm, Some(c)) => c.contiguous().to_vec(),
        (Kind::Lstm, None) => vec![zero; b * u],
        _ => Vec::new(),
    };
    let c_init = if keep { c.clone() } else { Vec::new() };
    // GRU (reset before) multiplies h by the z and r columns first, by the h columns later.
    let (u_first, u_h) = if spec.kind == Kind::GruBefore {
        (
            u_mat.slice_axis(1, 0, 2 * u)?,
            Some(u_mat.slice_axis(1, 2 * u, 3 * u)?),
        )
    } else {
        (u_mat.clone(), None)
    };
    let rec_width = u_first.shape()[1];
    let mut rec = Tensor::<T>::zeros([b, rec_width]);
    let mut reset_h = Tensor::<T>::zeros([b, if u_h.is_some() { u } else { 0 }]);
    let mut rec_h = Tensor::<T>::zeros([b, if u_h.is_some() { u } else { 0 }]);

    for s in 0..t {
        Tensor::gemm_into(one, &hprev, &u_first, zero, &mut rec)?;
        let ts = if keep { s } else { 0 };
        let hp = slice_of(&hprev)?;
        let recs = slice_of(&rec)?;
        match spec.kind {
            Kind::Simple => {
                for bi in 0..b {
                    let zx = row(xw_s, (bi * t + s) * u, u);
                    let zr = row(recs, bi * u, u);
                    let out = row_mut(&mut hseq, (bi * t + s) * u, u);
                    for j in 0..u {
                        out[j] = zx[j] + zr[j];
                    }
                    activate(spec.act, out);
                }
            }
            Kind::Lstm => {
                for bi in 0..b {
                    let zx = row(xw_s, (bi * t + s) * gu, gu);
                    let zr = row(recs, bi * gu, gu);
                    let gt = row_mut(&mut gates, (bi * tk + ts) * gu, gu);
                    for j in 0..gu {
                        gt[j] = zx[j] + zr[j];
                    }
                    activate(spec.rec, &mut gt[..2 * u]);
                    activate(spec.act, &mut gt[2 * u..3 * u]);
                    activate(spec.rec, &mut gt[3 * u..]);
                    let (i, rest) = gt.split_at(u);
                    let (fg, rest) = rest.split_at(u);
                    let (g, o) = rest.split_at(u);
                    let cr = row_mut(&mut c, bi * u, u);
                    let cs = row_mut(&mut cells, (bi * tk + ts) * u, u);
                    let ca = row_mut(&mut cell_act, (bi * tk + ts) * u, u);
                    for j in 0..u {
                        let ct = fg[j] * cr[j] + i[j] * g[j];
                        cr[j] = ct;
                        cs[j] = ct;
                        ca[j] = ct;
                    }
                    activate(spec.act, ca);
                    let out = row_mut(&mut hseq, (bi * t + s) * u, u);
                    for j in 0..u {
                        out[j] = o[j] * ca[j];
                    }
                }
            }
            Kind::GruAfter => {
                for bi in 0..b {
                    let zx = row(xw_s, (bi * t + s) * gu, gu);
                    let zr = row(recs, bi * gu, gu);
                    let gt = row_mut(&mut gates, (bi * tk + ts) * gu, gu);
                    let rc = row_mut(&mut cells, (bi * tk + ts) * u, u);
                    match rec_bias {
                        Some(rb) => {
                            for j in 0..2 * u {
                                gt[j] = zx[j] + (zr[j] + rb[j]);
                            }
                            for j in 0..u {
                                rc[j] = zr[2 * u + j] + rb[2 * u + j];
                            }
                        }
                        None => {
                            for j in 0..2 * u {
                                gt[j] = zx[j] + zr[j];
                            }
                            rc.copy_from_slice(&zr[2 * u..]);
                        }
                    }
                    activate(spec.rec, &mut gt[..2 * u]);
                    let (zr_gates, hh) = gt.split_at_mut(2 * u);
                    let r = &zr_gates[u..];
                    for j in 0..u {
                        hh[j] = zx[2 * u + j] + r[j] * rc[j];
                    }
                    activate(spec.act, hh);
                    let z = &zr_gates[..u];
                    let hpr = row(hp, bi * u, u);
                    let out = row_mut(&mut hseq, (bi * t + s) * u, u);
                    for j in 0..u {
                        out[j] = z[j] * hpr[j] + (one - z[j]) * hh[j];
                    }
                }
            }
            Kind::GruBefore => {
                let rhs = reset_h.make_contiguous_mut();
                for bi in 0..b {
                    let zx = row(xw_s, (bi * t + s) * gu, gu);
                    let zr = row(recs, bi * 2 * u, 2 * u);
                    let gt = row_mut(&mut gates, (bi * tk + ts) * gu, gu);
                    for j in 0..2 * u {
                        gt[j] = zx[j] + zr[j];
                    }
                    activate(spec.rec, &mut gt[..2 * u]);
                    let hpr = row(hp, bi * u, u);
                    let rh = row_mut(rhs, bi * u, u);
                    for j in 0..u {
                        rh[j] = gt[u + j] * hpr[j];
                    }
                }
                let u_h = u_h.as_ref().ok_or_else(|| internal("missing U_h"))?;
                Tensor::gemm_into(one, &reset_h, u_h, zero, &mut rec_h)?;
                let rhv = slice_of(&rec_h)?;
                for bi in 0..b {
                    let zx = row(xw_s, (bi * t + s) * gu, gu);
                    let gt = row_mut(&mut gates, (bi * tk + ts) * gu, gu);
                    let rh = row(rhv, bi * u, u);
                    let (zr_gates, hh) = gt.split_at_mut(2 * u);
                    for j in 0..u {
                        hh[j] = zx[2 * u + j] + rh[j];
                    }
                    activate(spec.act, hh);
                    let z = &zr_gates[..u];
                    let hpr = row(hp, bi * u, u);
                    let out = row_mut(&mut hseq, (bi * t + s) * u, u);
                    for j in 0..u {
                        out[j] = z[j] * hpr[j] + (one - z[j]) * hh[j];
                    }
                }
            }
        }
        // h_t becomes the next step's h_{t−1}.
        let hn = hprev.make_contiguous_mut();
        for bi in 0..b {
            hn[bi * u..(bi + 1) * u].copy_from_slice(row(&hseq, (bi * t + s) * u, u));
        }
    }
    let hseq = Tensor::from_vec(hseq, [b, t, u])?;
    let trace = keep.then(|| Trace {
        gates,
        cells,
        cell_act,
        hseq: hseq.clone(),
        h0: h_init,
        c0: c_init,
    });
    Ok(Forward {
        hseq,
        c_last: c,
        trace,
    })
}

/// Gradients of the fused op's operands (None where not needed).
struct SeqGrads<T: Float> {
    x: Option<Tensor<T>>,
    kernel: Option<Tensor<T>>,
    recurrent: Option<Tensor<T>>,
    bias: Option<Tensor<T>>,
    h0: Option<Tensor<T>>,
    c0: Option<Tensor<T>>,
}

/// Which operands need a gradient.
#[derive(Clone, Copy, Debug)]
struct Needs {
    x: bool,
    kernel: bool,
    recurrent: bool,
    bias: bool,
    h0: bool,
    c0: bool,
}

/// Back-propagation through time: `dout` is the gradient of every `h_t` `[B, T, u]`,
/// `dc_last` that of the LSTM's last cell state.
#[allow(clippy::too_many_arguments)]
fn sequence_backward<T: Float>(
    spec: &Spec,
    dims: Dims,
    tr: &Trace<T>,
    x: &Tensor<T>,
    w: &Tensor<T>,
    u_mat: &Tensor<T>,
    dout: &Tensor<T>,
    dc_last: Option<&Tensor<T>>,
    needs: Needs,
) -> std::result::Result<SeqGrads<T>, TensorError> {
    let Dims {
        batch: b,
        steps: t,
        features: f,
        units: u,
    } = dims;
    let gu = spec.gates() * u;
    let zero = T::zero();
    let one = T::one();
    let (act, rec) = (spec.act, spec.rec);
    let dout = dout.contiguous();
    let dos = slice_of(&dout)?;
    let hs = slice_of(&tr.hseq)?;
    let h0s = slice_of(&tr.h0)?;
    // h_{t−1} of row bi at step s.
    let hprev_row = |bi: usize, s: usize| -> &[T] {
        if s > 0 {
            row(hs, (bi * t + s - 1) * u, u)
        } else {
            row(h0s, bi * u, u)
        }
    };
    // Pre-activation gradients, x side (for W, x, the input bias) and, when they differ
    // (GRU, reset after), recurrent side (for U, h_{t−1}, the recurrent bias).
    let mut dzx = vec![zero; b * t * gu];
    let mut dzr = vec![
        zero;
        if spec.kind == Kind::GruAfter {
            b * t * gu
        } else {
            0
        }
    ];
    // Gradient reaching h_{t−1} from step t (through U and, for the GRU, directly).
    let mut dh_rec = Tensor::<T>::zeros([b, u]);
    let mut direct = vec![
        zero;
        if matches!(spec.kind, Kind::GruAfter | Kind::GruBefore) {
            b * u
        } else {
            0
        }
    ];
    let mut dc: Vec<T> = match dc_last {
        Some(d) => d.contiguous().to_vec(),
        None => vec![zero; if spec.kind == Kind::Lstm { b * u } else { 0 }],
    };
    let (u_first, u_h) = if spec.kind == Kind::GruBefore {
        (
            u_mat.slice_axis(1, 0, 2 * u)?,
            Some(u_mat.slice_axis(1, 2 * u, 3 * u)?),
        )
    } else {
        (u_mat.clone(), None)
    };
    let u_first_t = u_first.t()?;
    let mut dz_step = Tensor::<T>::zeros([b, u_first.shape()[1]]);
    let gru_before = u_h.is_some();
    let mut dhh_step = Tensor::<T>::zeros([b, if gru_before { u } else { 0 }]);
    let mut d_reset_h = Tensor::<T>::zeros([b, if gru_before { u } else { 0 }]);

    for s in (0..t).rev() {
        {
            let dhr = slice_of(&dh_rec)?;
            let dzs = dz_step.make_contiguous_mut();
            with_grads!(T, act, rec, |da, dr| match spec.kind {
                Kind::Simple => {
                    for bi in 0..b {
                        let at = (bi * t + s) * u;
                        let h = row(hs, at, u);
                        let dz = row_mut(&mut dzx, at, u);
                        for j in 0..u {
                            let dh = dos[at + j] + dhr[bi * u + j];
                            dz[j] = dh * da(h[j]);
                        }
                        row_mut(dzs, bi * u, u).copy_from_slice(dz);
                    }
                }
                Kind::Lstm => {
                    for bi in 0..b {
                        let at = (bi * t + s) * u;
                        let gt = row(&tr.gates, (bi * t + s) * gu, gu);
                        let ca = row(&tr.cell_act, at, u);
                        let cp = if s > 0 {
                            row(&tr.cells, at - u, u)
                        } else {
                            row(&tr.c0, bi * u, u)
                        };
                        let dcr = row_mut(&mut dc, bi * u, u);
                        let dz = row_mut(&mut dzx, (bi * t + s) * gu, gu);
                        for j in 0..u {
                            let (i, fg, g, o) = (gt[j], gt[u + j], gt[2 * u + j], gt[3 * u + j]);
                            let dh = dos[at + j] + dhr[bi * u + j];
                            let dcv = dcr[j] + dh * o * da(ca[j]);
                            dz[j] = dcv * g * dr(i);
                            dz[u + j] = dcv * cp[j] * dr(fg);
                            dz[2 * u + j] = dcv * i * da(g);
                            dz[3 * u + j] = dh * ca[j] * dr(o);
                            dcr[j] = dcv * fg;
                        }
                        row_mut(dzs, bi * gu, gu).copy_from_slice(dz);
                    }
                }
                Kind::GruAfter => {
                    for bi in 0..b {
                        let at = (bi * t + s) * u;
                        let gt = row(&tr.gates, (bi * t + s) * gu, gu);
                        let rc = row(&tr.cells, at, u);
                        let hp = hprev_row(bi, s);
                        let dx_row = row_mut(&mut dzx, (bi * t + s) * gu, gu);
                        let dr_row = row_mut(&mut dzr, (bi * t + s) * gu, gu);
                        let dir = row_mut(&mut direct, bi * u, u);
                        for j in 0..u {
                            let (z, r, hh) = (gt[j], gt[u + j], gt[2 * u + j]);
                            let dh = dos[at + j] + dhr[bi * u + j];
                            let dzz = dh * (hp[j] - hh) * dr(z);
                            let dph = dh * (one - z) * da(hh);
                            let dpr = dph * rc[j] * dr(r);
                            dx_row[j] = dzz;
                            dx_row[u + j] = dpr;
                            dx_row[2 * u + j] = dph;
                            dr_row[j] = dzz;
                            dr_row[u + j] = dpr;
                            dr_row[2 * u + j] = dph * r;
                            dir[j] = dh * z;
                        }
                        row_mut(dzs, bi * gu, gu).copy_from_slice(dr_row);
                    }
                }
                Kind::GruBefore => {
                    let dhs = dhh_step.make_contiguous_mut();
                    for bi in 0..b {
                        let at = (bi * t + s) * u;
                        let gt = row(&tr.gates, (bi * t + s) * gu, gu);
                        let hp = hprev_row(bi, s);
                        let dx_row = row_mut(&mut dzx, (bi * t + s) * gu, gu);
                        let dir = row_mut(&mut direct, bi * u, u);
                        let dhh = row_mut(dhs, bi * u, u);
                        for j in 0..u {
                            let (z, hh) = (gt[j], gt[2 * u + j]);
                            let dh = dos[at + j] + dhr[bi * u + j];
                            dx_row[j] = dh * (hp[j] - hh) * dr(z);
                            let dph = dh * (one - z) * da(hh);
                            dx_row[2 * u + j] = dph;
                            dhh[j] = dph;
                            dir[j] = dh * z;
                        }
                    }
                    let u_h = u_h.as_ref().ok_or_else(|| internal("missing U_h"))?;
                    Tensor::gemm_into(one, &dhh_step, &u_h.t()?, zero, &mut d_reset_h)?;
                    let drh = slice_of(&d_reset_h)?;
                    for bi in 0..b {
                        let gt = row(&tr.gates, (bi * t + s) * gu, gu);
                        let hp = hprev_row(bi, s);
                        let dx_row = row_mut(&mut dzx, (bi * t + s) * gu, gu);
                        let dir = row_mut(&mut direct, bi * u, u);
                        let d = row(drh, bi * u, u);
                        for j in 0..u {
                            let r = gt[u + j];
                            dx_row[u + j] = d[j] * hp[j] * dr(r);
                            dir[j] += d[j] * r;
                        }
                        row_mut(dzs, bi * 2 * u, 2 * u).copy_from_slice(&dx_row[..2 * u]);
                    }
                }
            });
        }
        if s == 0 && !needs.h0 {
            break; // nothing consumes the gradient of h0
        }
        // The gradient reaching h_{t−1}: dz·Uᵀ, plus the GRU's direct path z ⊙ dh.
        Tensor::gemm_into(one, &dz_step, &u_first_t, zero, &mut dh_rec)?;
        if !direct.is_empty() {
            let d = dh_rec.make_contiguous_mut();
            d.iter_mut().zip(&direct).for_each(|(a, &v)| *a += v);
        }
    }

    let dzx = Tensor::from_vec(dzx, [b * t, gu])?;
    let x2 = x.reshape([b * t, f])?;
    let dx = if needs.x {
        Some(dzx.matmul_t(w, false, true)?.reshape([b, t, f])?)
    } else {
        None
    };
    let dw = if needs.kernel {
        Some(x2.matmul_t(&dzx, true, false)?)
    } else {
        None
    };
    let dzr = if spec.kind == Kind::GruAfter {
        Some(Tensor::from_vec(dzr, [b * t, gu])?)
    } else {
        None
    };
    let du = if needs.recurrent {
        // H₋₁: row (b, s) holds h_{s−1} of sequence b.
        let mut hp = vec![zero; b * t * u];
        for bi in 0..b {
            for s in 0..t {
                row_mut(&mut hp, (bi * t + s) * u, u).copy_from_slice(hprev_row(bi, s));
            }
        }
        let hprev = Tensor::from_vec(hp, [b * t, u])?;
        Some(match spec.kind {
            Kind::Simple | Kind::Lstm => hprev.matmul_t(&dzx, true, false)?,
            Kind::GruAfter => {
                let dzr = dzr.as_ref().ok_or_else(|| internal("missing dz"))?;
                hprev.matmul_t(dzr, true, false)?
            }
            Kind::GruBefore => {
                // z, r columns multiply h_{t−1}; h columns multiply r ⊙ h_{t−1}.
                let hpv = slice_of(&hprev)?;
                let mut rh = vec![zero; b * t * u];
                for (k, v) in rh.iter_mut().enumerate() {
                    let (rw, j) = (k / u, k % u);
                    *v = tr.gates[rw * gu + u + j] * hpv[k];
                }
                let rh = Tensor::from_vec(rh, [b * t, u])?;
                let d_zr = hprev.matmul_t(&dzx.slice_axis(1, 0, 2 * u)?, true, false)?;
                let d_h = rh.matmul_t(&dzx.slice_axis(1, 2 * u, 3 * u)?, true, false)?;
                Tensor::concat(&[&d_zr, &d_h], 1)?
            }
        })
    } else {
        None
    };
    let db = if needs.bias {
        let dbx = dzx.sum(&[0], false)?;
        Some(match &dzr {
            Some(dzr) => Tensor::stack(&[&dbx, &dzr.sum(&[0], false)?], 0)?,
            None => dbx,
        })
    } else {
        None
    };
    let dh0 = needs.h0.then_some(dh_rec);
    let dc0 = if needs.c0 {
        Some(Tensor::from_vec(dc, [b, u])?)
    } else {
        None
    };
    Ok(SeqGrads {
        x: dx,
        kernel: dw,
        recurrent: du,
        bias: db,
        h0: dh0,
        c0: dc0,
    })
}

/// Records the fused op. Its value is every `h_t` `[B, T, u]`, with the LSTM's last cell
/// state appended along the time axis (`[B, T + 1, u]`) when `need_c`.
fn sequence_op<T: Float>(spec: &Spec, inputs: SeqInputs<'_, T>, need_c: bool) -> Result<Var<T>> {
    let SeqInputs {
        x,
        kernel,
        recurrent,
        bias,
        h0,
        c0,
    } = inputs;
    let xs = x.shape();
    let dims = Dims {
        batch: xs[0],
        steps: xs[1],
        features: xs[2],
        units: spec.units,
    };
    let c0 = if spec.kind == Kind::Lstm { c0 } else { None };
    let mut parents: Vec<&Var<T>> = vec![x, kernel, recurrent];
    parents.extend(bias);
    parents.extend(h0);
    parents.extend(c0);
    let keep = is_recording() && parents.iter().any(|p| p.requires_grad());
    let fwd = sequence_forward(
        spec,
        dims,
        x.value(),
        kernel.value(),
        recurrent.value(),
        bias.map(Var::value),
        h0.map(Var::value),
        c0.map(Var::value),
        keep,
    )?;
    let Dims {
        batch: b,
        steps: t,
        units: u,
        ..
    } = dims;
    let value = if need_c {
        let c_last = Tensor::from_vec(fwd.c_last, [b, 1, u])?;
        Tensor::concat(&[&fwd.hseq, &c_last], 1)?
    } else {
        fwd.hseq
    };
    let Some(trace) = fwd.trace else {
        return Ok(Var::constant(value));
    };
    let (has_bias, has_h0, has_c0) = (bias.is_some(), h0.is_some(), c0.is_some());
    let (xv, wv, uv) = (
        x.value().clone(),
        kernel.value().clone(),
        recurrent.value().clone(),
    );
    let spec = *spec;
    Ok(Var::from_op(
        spec.op_name(),
        value,
        &parents,
        move |grad, needs| {
            let mut flags = needs.iter().copied();
            let mut next = || flags.next().unwrap_or(false);
            let needs = Needs {
                x: next(),
                kernel: next(),
                recurrent: next(),
                bias: has_bias && next(),
                h0: has_h0 && next(),
                c0: has_c0 && next(),
            };
            let (dout, dc_last) = if need_c {
                (
                    grad.slice_axis(1, 0, t)?,
                    Some(grad.slice_axis(1, t, t + 1)?.reshape([b, u])?),
                )
            } else {
                (grad.clone(), None)
            };
            let g = sequence_backward(
                &spec,
                dims,
                &trace,
                &xv,
                &wv,
                &uv,
                &dout,
                dc_last.as_ref(),
                needs,
            )?;
            let mut out = vec![g.x, g.kernel, g.recurrent];
            if has_bias {
                out.push(g.bias);
            }
            if has_h0 {
                out.push(g.h0);
            }
            if has_c0 {
                out.push(g.c0);
            }
            Ok(out)
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative error in units of f32's epsilon, with an absolute floor for tiny results.
    fn ulps(got: f32, want: f64) -> f64 {
        (got as f64 - want).abs() / (want.abs().max(1e-30) * f32::EPSILON as f64)
    }

    #[test]
    fn tanh_f32_accuracy_sweep() {
        let mut worst: f64 = 0.0;
        let mut x = -20.0f32;
        while x <= 20.0 {
            worst = worst.max(ulps(tanh_f32(x), (x as f64).tanh()));
            x += 0.000_37;
        }
        for &x in &[
            1e-30f32, 1e-10, 1e-5, 0.399_999, 0.4, 0.400_001, 9.0, 44.0, 89.0, 1e30,
        ] {
            worst = worst.max(ulps(tanh_f32(x), (x as f64).tanh()));
            worst = worst.max(ulps(tanh_f32(-x), (-x as f64).tanh()));
        }
        assert!(worst < 2.0, "worst {worst} ulp");
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
        assert!(tanh_f32(-0.0).is_sign_negative() && tanh_f32(-0.0) == 0.0);
    }

    #[test]
    fn sigmoid_f32_accuracy_sweep() {
        let exact = |x: f64| 1.0 / (1.0 + (-x).exp());
        let mut worst: f64 = 0.0;
        let mut x = -80.0f32;
        while x <= 30.0 {
            worst = worst.max(ulps(sigmoid_f32(x), exact(x as f64)));
            x += 0.001_3;
        }
        assert!(worst < 2.0, "worst {worst} ulp");
        assert_eq!(sigmoid_f32(f32::INFINITY), 1.0);
        assert_eq!(sigmoid_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(sigmoid_f32(-1e30), 0.0);
        assert!(sigmoid_f32(f32::NAN).is_nan());
    }

    #[test]
    fn act_grad_matches_finite_differences() {
        let acts = [
            Activation::Linear,
            Activation::Sigmoid,
            Activation::HardSigmoid,
            Activation::Tanh,
            Activation::Relu,
            Activation::Relu6,
            Activation::LeakyRelu { alpha: 0.2 },
            Activation::Elu { alpha: 1.3 },
            Activation::Selu,
            Activation::Softplus,
            Activation::Softsign,
        ];
        for a in acts {
            assert!(fusable(a));
            for &x in &[-7.1f64, -2.5, -0.7, -0.1, 0.2, 0.9, 2.9, 6.4] {
                let h = 1e-6;
                let numeric = (act_value(a, x + h) - act_value(a, x - h)) / (2.0 * h);
                let analytic = act_grad(a, act_value(a, x));
                assert!(
                    (numeric - analytic).abs() < 1e-6,
                    "{a:?} at {x}: {analytic} vs {numeric}"
                );
            }
        }
        assert!(!fusable(Activation::Gelu { approximate: false }));
        assert!(!fusable(Activation::Elu { alpha: -1.0 }));
    }

    #[test]
    fn act_value_matches_autograd_activations() {
        // The fused kernel's activations equal nn-autograd's (what Dense applies).
        let x = Tensor::<f64>::from_f64s(&[-9.0, -3.5, -1.0, -0.2, 0.0, 0.3, 1.7, 4.0, 8.0], [9])
            .unwrap();
        for name in [
            "sigmoid",
            "hard_sigmoid",
            "tanh",
            "relu",
            "relu6",
            "leaky_relu",
            "elu",
            "selu",
            "softplus",
            "softsign",
        ] {
            let a = Activation::from_name(name).unwrap();
            let want = a.apply(&Var::constant(x.clone())).unwrap().value().to_vec();
            let got: Vec<f64> = x.to_vec().iter().map(|&v| act_value(a, v)).collect();
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-15 * w.abs().max(1.0),
                    "{name}: {got:?} vs {want:?}"
                );
            }
        }
    }
}
