//! Normalization layers, after Keras' `BatchNormalization` and `LayerNormalization`.
//!
//! Both are one fused autograd node each: statistics are accumulated in `f64` (two passes:
//! mean, then the mean squared deviation, so large offsets do not cancel), the output is one
//! affine map per channel (or row), and the backward is the closed-form gradient of the whole
//! normalization, written as one more affine map per channel — no intermediate tensors.

use nn_autograd::Var;
use nn_tensor::random::Rng;
use nn_tensor::{Float, Tensor, TensorError};
use serde::{Deserialize, Serialize};

use crate::conv::config_error;
use crate::layer::{shape_error, single_input, single_shape};
use crate::{
    ForwardCtx, Initializer, Layer, LayerError, Param, Regularizer, Result, SavedLayer, Shape,
};

/// A tensor seen as `[outer, channels, inner]` around its channel axis.
#[derive(Clone, Copy, Debug)]
struct Layout {
    outer: usize,
    channels: usize,
    inner: usize,
}

impl Layout {
    fn of(shape: &[usize], axis: usize) -> Self {
        Layout {
            outer: shape[..axis].iter().product(),
            channels: shape[axis],
            inner: shape[axis + 1..].iter().product(),
        }
    }

    /// Elements per channel.
    fn per_channel(&self) -> usize {
        self.outer * self.inner
    }
}

/// Calls `f(channel, run)` for every contiguous run of one channel's elements.
fn for_runs<T: Copy>(xs: &[T], l: Layout, mut f: impl FnMut(usize, &[T])) {
    if xs.is_empty() || l.inner == 0 {
        return;
    }
    let mut ch = 0;
    for run in xs.chunks_exact(l.inner) {
        f(ch, run);
        ch += 1;
        if ch == l.channels {
            ch = 0;
        }
    }
}

/// `out = a[ch]·u + b[ch]·v + c[ch]` element-wise (`v` may be absent), per channel run.
fn affine_runs<T: Float>(u: &[T], v: Option<&[T]>, l: Layout, a: &[T], b: &[T], c: &[T]) -> Vec<T> {
    let mut out = nn_tensor::buffer::zeroed(u.len());
    if u.is_empty() || l.inner == 0 {
        return out;
    }
    if l.inner == 1 {
        // Channels last: each row holds one element per channel (vectorizable loops).
        let n = l.channels;
        match v {
            Some(v) => {
                let rows = out
                    .chunks_exact_mut(n)
                    .zip(u.chunks_exact(n))
                    .zip(v.chunks_exact(n));
                for ((o, x), y) in rows {
                    let coef = a.iter().zip(b).zip(c);
                    for (((o, &x), &y), ((&a, &b), &c)) in o.iter_mut().zip(x).zip(y).zip(coef) {
                        *o = a * x + b * y + c;
                    }
                }
            }
            None => {
                for (o, x) in out.chunks_exact_mut(n).zip(u.chunks_exact(n)) {
                    for ((o, &x), (&a, &c)) in o.iter_mut().zip(x).zip(a.iter().zip(c)) {
                        *o = a * x + c;
                    }
                }
            }
        }
        return out;
    }
    let mut ch = 0;
    for (i, (o, run)) in out
        .chunks_exact_mut(l.inner)
        .zip(u.chunks_exact(l.inner))
        .enumerate()
    {
        let (ac, bc, cc) = (a[ch], b[ch], c[ch]);
        match v {
            Some(v) => {
                let vr = &v[i * l.inner..(i + 1) * l.inner];
                for ((o, &x), &y) in o.iter_mut().zip(run).zip(vr) {
                    *o = ac * x + bc * y + cc;
                }
            }
            None => {
                for (o, &x) in o.iter_mut().zip(run) {
                    *o = ac * x + cc;
                }
            }
        }
        ch += 1;
        if ch == l.channels {
            ch = 0;
        }
    }
    out
}

/// Per-channel `(mean, population variance)` in `f64`, two passes.
fn channel_moments<T: Float>(xs: &[T], l: Layout) -> (Vec<f64>, Vec<f64>) {
    let m = l.per_channel().max(1) as f64;
    let n = l.channels;
    let mut sum = vec![0.0f64; n];
    let mut sq = vec![0.0f64; n];
    if l.inner == 1 && n > 0 {
        for row in xs.chunks_exact(n) {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += v.f64();
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / m).collect();
        for row in xs.chunks_exact(n) {
            for ((s, &v), &mu) in sq.iter_mut().zip(row).zip(&mean) {
                let d = v.f64() - mu;
                *s += d * d;
            }
        }
        return (mean, sq.iter().map(|s| s / m).collect());
    }
    for_runs(xs, l, |ch, run| {
        sum[ch] += run.iter().map(|v| v.f64()).sum::<f64>()
    });
    let mean: Vec<f64> = sum.iter().map(|s| s / m).collect();
    for_runs(xs, l, |ch, run| {
        let mu = mean[ch];
        sq[ch] += run
            .iter()
            .map(|v| (v.f64() - mu) * (v.f64() - mu))
            .sum::<f64>();
    });
    let var = sq.iter().map(|s| s / m).collect();
    (mean, var)
}

/// Per-channel `(Σg, Σg·x̂)` with `x̂ = (x − mean)·inv`, in `f64`.
fn grad_sums<T: Float>(
    gs: &[T],
    xs: &[T],
    l: Layout,
    mean: &[f64],
    inv: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let n = l.channels;
    let mut sum_g = vec![0.0f64; n];
    let mut sum_gx = vec![0.0f64; n];
    if l.inner == 1 && n > 0 {
        // Σg·(x − mean) per channel, scaled by inv at the end.
        for (g, x) in gs.chunks_exact(n).zip(xs.chunks_exact(n)) {
            let acc = sum_g.iter_mut().zip(sum_gx.iter_mut()).zip(mean);
            for (((sg, sgx), &mu), (&gv, &xv)) in acc.zip(g.iter().zip(x)) {
                let gv = gv.f64();
                *sg += gv;
                *sgx += gv * (xv.f64() - mu);
            }
        }
        sum_gx.iter_mut().zip(inv).for_each(|(s, i)| *s *= i);
        return (sum_g, sum_gx);
    }
    let mut offset = 0;
    for_runs(xs, l, |ch, run| {
        let (mu, iv) = (mean[ch], inv[ch]);
        let gr = &gs[offset..offset + run.len()];
        offset += run.len();
        let (mut s, mut sx) = (0.0, 0.0);
        for (&gv, &xv) in gr.iter().zip(run) {
            let gv = gv.f64();
            s += gv;
            sx += gv * (xv.f64() - mu);
        }
        sum_g[ch] += s;
        sum_gx[ch] += sx * iv;
    });
    (sum_g, sum_gx)
}

fn slice_of<'a, T: Float>(
    op: &'static str,
    t: &'a Tensor<T>,
) -> std::result::Result<&'a [T], TensorError> {
    t.as_slice()
        .ok_or_else(|| TensorError::invalid(op, "internal: layout"))
}

fn to_f64s<T: Float>(t: &Tensor<T>) -> Vec<f64> {
    t.view().iter().map(|v| v.f64()).collect()
}

fn cast<T: Float>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&x| T::of(x)).collect()
}

/// `gamma·(x − mean)·inv + beta` per channel as one node. With `batch_stats` the mean and
/// `inv = 1/√(var + ε)` are functions of `x` (training) and the backward includes their
/// dependence; otherwise they are constants (inference with the moving statistics).
#[allow(clippy::too_many_arguments)]
fn batch_norm_node<T: Float>(
    x: &Var<T>,
    l: Layout,
    mean: Vec<f64>,
    inv: Vec<f64>,
    gamma: Option<&Var<T>>,
    beta: Option<&Var<T>>,
    batch_stats: bool,
) -> Result<Var<T>> {
    const OP: &str = "batch_normalization";
    let xv = x.value().contiguous();
    let gamma_v: Vec<f64> = gamma.map_or_else(|| vec![1.0; l.channels], |g| to_f64s(g.value()));
    let beta_v: Vec<f64> = beta.map_or_else(|| vec![0.0; l.channels], |b| to_f64s(b.value()));
    let scale: Vec<f64> = gamma_v.iter().zip(&inv).map(|(g, i)| g * i).collect();
    let shift: Vec<f64> = (0..l.channels)
        .map(|c| beta_v[c] - mean[c] * scale[c])
        .collect();
    let zeros = vec![T::zero(); l.channels];
    let y = affine_runs(
        slice_of(OP, &xv)?,
        None,
        l,
        &cast::<T>(&scale),
        &zeros,
        &cast::<T>(&shift),
    );
    let y = Tensor::from_vec(y, xv.shape())?;
    let mut parents = vec![x];
    parents.extend(gamma);
    parents.extend(beta);
    let (has_gamma, has_beta) = (gamma.is_some(), beta.is_some());
    Ok(Var::from_op(OP, y, &parents, move |g, needs| {
        let g = g.contiguous();
        let (gs, xs) = (slice_of(OP, &g)?, slice_of(OP, &xv)?);
        let need_x = needs[0];
        let need_gamma = has_gamma && needs[1];
        let need_beta = has_beta && needs[1 + usize::from(has_gamma)];
        let (sum_g, sum_gx) = if need_gamma || need_beta || (need_x && batch_stats) {
            grad_sums(gs, xs, l, &mean, &inv)
        } else {
            (vec![0.0; l.channels], vec![0.0; l.channels])
        };
        let dx = if need_x {
            // dx = k·(g − mean(g) − x̂·mean(g·x̂)) with k = γ·inv in training, dx = k·g at
            // inference; written as a·g + b·x + c per channel.
            let m = l.per_channel().max(1) as f64;
            let mut a = vec![T::zero(); l.channels];
            let mut b = vec![T::zero(); l.channels];
            let mut c = vec![T::zero(); l.channels];
            for ch in 0..l.channels {
                let k = gamma_v[ch] * inv[ch];
                a[ch] = T::of(k);
                if batch_stats {
                    let (mg, mgx) = (sum_g[ch] / m, sum_gx[ch] / m);
                    let bx = -k * inv[ch] * mgx;
                    b[ch] = T::of(bx);
                    c[ch] = T::of(-k * mg - bx * mean[ch]);
                }
            }
            let dx = affine_runs(gs, batch_stats.then_some(xs), l, &a, &b, &c);
            Some(Tensor::from_vec(dx, xv.shape())?)
        } else {
            None
        };
        let mut grads = vec![dx];
        if has_gamma {
            grads.push(if need_gamma {
                Some(Tensor::from_vec(cast(&sum_gx), [l.channels])?)
            } else {
                None
            });
        }
        if has_beta {
            grads.push(if need_beta {
                Some(Tensor::from_vec(cast(&sum_g), [l.channels])?)
            } else {
                None
            });
        }
        Ok(grads)
    }))
}

/// Batch normalization, as Keras' `BatchNormalization`:
/// `y = γ·(x − μ)/√(σ² + ε) + β` per channel.
///
/// The channel axis is `axis` (default −1, the last; counted on the full input shape, batch
/// axis included, which it may not be). In training μ and σ² are the mean and the *biased*
/// (population, divide by the count) variance of the batch over every axis but the channel
/// axis, and the pass records, through [`ForwardCtx::add_update`], the moving statistics
/// `moving = moving·momentum + batch·(1 − momentum)` — with the same biased variance, as
/// Keras 3 does (PyTorch and the fused TF 2 kernel use the unbiased one for the moving
/// variance). At inference μ and σ² are the moving statistics.
///
/// Defaults: momentum 0.99, ε = 1e-3, `center` (β) and `scale` (γ) on, γ ones, β zeros,
/// moving mean zeros, moving variance ones. Parameters, in Keras' order: `gamma`, `beta`
/// (trainable), `moving_mean`, `moving_variance` (non-trainable), each `[channels]`: 4·C
/// scalars, 2·C trainable.
///
/// ```
/// use nn_layers::{BatchNormalization, LayerExt};
/// assert_eq!(BatchNormalization::<f32>::new().output_shape(&[13, 13, 32])?, vec![13, 13, 32]);
/// # Ok::<(), nn_layers::LayerError>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct BatchNormalization<T: Float = f32> {
    name: String,
    axis: isize,
    momentum: f64,
    epsilon: f64,
    center: bool,
    scale: bool,
    beta_initializer: Initializer,
    gamma_initializer: Initializer,
    moving_mean_initializer: Initializer,
    moving_variance_initializer: Initializer,
    beta_regularizer: Option<Regularizer>,
    gamma_regularizer: Option<Regularizer>,
    // Boxed so that this layer does not make every `SavedLayer` much larger.
    gamma: Option<Box<Param<T>>>,
    beta: Option<Box<Param<T>>>,
    moving_mean: Option<Box<Param<T>>>,
    moving_variance: Option<Box<Param<T>>>,
}

impl<T: Float> Default for BatchNormalization<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> BatchNormalization<T> {
    /// Batch normalization over the last axis with Keras' defaults.
    pub fn new() -> Self {
        BatchNormalization {
            name: "batch_normalization".into(),
            axis: -1,
            momentum: 0.99,
            epsilon: 1e-3,
            center: true,
            scale: true,
            beta_initializer: Initializer::Zeros,
            gamma_initializer: Initializer::Ones,
            moving_mean_initializer: Initializer::Zeros,
            moving_variance_initializer: Initializer::Ones,
            beta_regularizer: None,
            gamma_regularizer: None,
            gamma: None,
            beta: None,
            moving_mean: None,
            moving_variance: None,
        }
    }

    /// The channel axis of the full input shape (default −1; 0, the batch axis, is an error).
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }

    /// Momentum of the moving statistics, in `[0, 1]` (default 0.99).
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// ε added to the variance, ≥ 0 (default 1e-3).
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// Whether to add the learned offset β (default true).
    pub fn center(mut self, center: bool) -> Self {
        self.center = center;
        self
    }

    /// Whether to multiply by the learned scale γ (default true).
    pub fn scale(mut self, scale: bool) -> Self {
        self.scale = scale;
        self
    }

    /// β's initializer (default zeros).
    pub fn beta_initializer(mut self, init: Initializer) -> Self {
        self.beta_initializer = init;
        self
    }

    /// γ's initializer (default ones).
    pub fn gamma_initializer(mut self, init: Initializer) -> Self {
        self.gamma_initializer = init;
        self
    }

    /// The moving mean's initializer (default zeros).
    pub fn moving_mean_initializer(mut self, init: Initializer) -> Self {
        self.moving_mean_initializer = init;
        self
    }

    /// The moving variance's initializer (default ones).
    pub fn moving_variance_initializer(mut self, init: Initializer) -> Self {
        self.moving_variance_initializer = init;
        self
    }

    /// A penalty on β.
    pub fn beta_regularizer(mut self, r: Regularizer) -> Self {
        self.beta_regularizer = Some(r);
        self
    }

    /// A penalty on γ.
    pub fn gamma_regularizer(mut self, r: Regularizer) -> Self {
        self.gamma_regularizer = Some(r);
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// γ, once built (when `scale`).
    pub fn gamma(&self) -> Option<&Param<T>> {
        self.gamma.as_deref()
    }

    /// β, once built (when `center`).
    pub fn beta(&self) -> Option<&Param<T>> {
        self.beta.as_deref()
    }

    /// The moving mean, once built.
    pub fn moving_mean(&self) -> Option<&Param<T>> {
        self.moving_mean.as_deref()
    }

    /// The moving variance, once built.
    pub fn moving_variance(&self) -> Option<&Param<T>> {
        self.moving_variance.as_deref()
    }

    fn check_config(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(config_error(
                &self.name,
                format!("momentum must be in [0, 1], got {}", self.momentum),
            ));
        }
        if !(self.epsilon >= 0.0 && self.epsilon.is_finite()) {
            return Err(config_error(
                &self.name,
                format!("epsilon must be finite and ≥ 0, got {}", self.epsilon),
            ));
        }
        Ok(())
    }

    fn expected(&self, channels: Option<usize>) -> String {
        let c = channels.map_or_else(String::new, |c| format!(" of size {c}"));
        format!("an input whose axis {}{c} is not the batch axis", self.axis)
    }

    /// The channel axis within the full rank `rank` (batch included).
    fn channel_axis(&self, full: &[usize], channels: Option<usize>) -> Result<usize> {
        let rank = full.len() as isize;
        let a = if self.axis < 0 {
            self.axis + rank
        } else {
            self.axis
        };
        if a < 1 || a >= rank {
            return Err(shape_error(
                &self.name,
                self.expected(channels),
                &full[1.min(full.len())..],
            ));
        }
        let a = a as usize;
        if channels.is_some_and(|c| c != full[a]) {
            return Err(shape_error(&self.name, self.expected(channels), &full[1..]));
        }
        Ok(a)
    }

    fn built_channels(&self) -> Option<usize> {
        self.moving_mean.as_ref().map(|p| p.len())
    }
}

impl<T: Float> Layer<T> for BatchNormalization<T> {
    fn class_name(&self) -> &'static str {
        "BatchNormalization"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    fn build(&mut self, input_shapes: &[Shape], rng: &mut Rng) -> Result<()> {
        self.check_config()?;
        let shape = single_shape(&self.name, input_shapes)?;
        let full: Vec<usize> = std::iter::once(1).chain(shape.iter().copied()).collect();
        let a = self.channel_axis(&full, self.built_channels())?;
        if self.moving_mean.is_some() {
            return Ok(());
        }
        let c = [full[a]];
        if self.scale {
            let g = self.gamma_initializer.init(&c, rng);
            self.gamma = Some(Box::new(
                Param::new("gamma", g).with_regularizer(self.gamma_regularizer),
            ));
        }
        if self.center {
            let b = self.beta_initializer.init(&c, rng);
            self.beta = Some(Box::new(
                Param::new("beta", b).with_regularizer(self.beta_regularizer),
            ));
        }
        let mm = self.moving_mean_initializer.init(&c, rng);
        self.moving_mean = Some(Box::new(Param::non_trainable("moving_mean", mm)));
        let mv = self.moving_variance_initializer.init(&c, rng);
        self.moving_variance = Some(Box::new(Param::non_trainable("moving_variance", mv)));
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.moving_mean.is_some()
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        self.check_config()?;
        let shape = single_shape(&self.name, input_shapes)?;
        let full: Vec<usize> = std::iter::once(1).chain(shape.iter().copied()).collect();
        self.channel_axis(&full, self.built_channels())?;
        Ok(vec![shape.clone()])
    }

    fn call(&self, inputs: &[Var<T>], ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        self.check_config()?;
        let x = single_input(&self.name, inputs)?;
        let (Some(mm), Some(mv)) = (&self.moving_mean, &self.moving_variance) else {
            return Err(LayerError::NotBuilt {
                layer: self.name.clone(),
            });
        };
        let a = self.channel_axis(x.shape(), Some(mm.len()))?;
        let l = Layout::of(x.shape(), a);
        let eps = self.epsilon;
        let gamma = self.gamma.as_deref().map(|p| p.var());
        let beta = self.beta.as_deref().map(|p| p.var());
        let y = if ctx.training() {
            let xv = x.value().contiguous();
            let (mean, var) = channel_moments(slice_of("batch_normalization", &xv)?, l);
            let inv: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
            let mom = self.momentum;
            let update = |moving: &Param<T>, batch: &[f64]| -> Result<Tensor<T>> {
                let v: Vec<T> = to_f64s(moving.value())
                    .iter()
                    .zip(batch)
                    .map(|(m, b)| T::of(m * mom + b * (1.0 - mom)))
                    .collect();
                Ok(Tensor::from_vec(v, [l.channels])?)
            };
            ctx.add_update(mm.id(), update(mm, &mean)?);
            ctx.add_update(mv.id(), update(mv, &var)?);
            batch_norm_node(x, l, mean, inv, gamma.as_ref(), beta.as_ref(), true)?
        } else {
            let mean = to_f64s(mm.value());
            let inv = to_f64s(mv.value())
                .iter()
                .map(|v| 1.0 / (v + eps).sqrt())
                .collect();
            batch_norm_node(x, l, mean, inv, gamma.as_ref(), beta.as_ref(), false)?
        };
        Ok(vec![y])
    }

    fn params(&self) -> Vec<&Param<T>> {
        [
            &self.gamma,
            &self.beta,
            &self.moving_mean,
            &self.moving_variance,
        ]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        [
            &mut self.gamma,
            &mut self.beta,
            &mut self.moving_mean,
            &mut self.moving_variance,
        ]
        .into_iter()
        .filter_map(|p| p.as_deref_mut())
        .collect()
    }

    fn to_saved(&self) -> SavedLayer<T> {
        SavedLayer::BatchNormalization(self.clone())
    }

    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }
}

/// Layer normalization, as Keras' `LayerNormalization` over the last axis:
/// `y = γ·(x − μ)/√(σ² + ε) + β` where μ and σ² are the mean and biased variance of each
/// sample's last axis (each row), and γ, β have the size of that axis.
///
/// Defaults: ε = 1e-3, `center` (β) and `scale` (γ) on, γ ones, β zeros. Parameters:
/// `gamma`, `beta`, each `[features]`. The same in training and inference. Only the last
/// axis is supported (Keras' default).
///
/// ```
/// use nn_layers::{LayerExt, LayerNormalization};
/// assert_eq!(LayerNormalization::<f32>::new().output_shape(&[10, 64])?, vec![10, 64]);
/// # Ok::<(), nn_layers::LayerError>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct LayerNormalization<T: Float = f32> {
    name: String,
    epsilon: f64,
    center: bool,
    scale: bool,
    beta_initializer: Initializer,
    gamma_initializer: Initializer,
    beta_regularizer: Option<Regularizer>,
    gamma_regularizer: Option<Regularizer>,
    gamma: Option<Param<T>>,
    beta: Option<Param<T>>,
    built: bool,
}

impl<T: Float> Default for LayerNormalization<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> LayerNormalization<T> {
    /// Layer normalization over the last axis with Keras' defaults.
    pub fn new() -> Self {
        LayerNormalization {
            name: "layer_normalization".into(),
            epsilon: 1e-3,
            center: true,
            scale: true,
            beta_initializer: Initializer::Zeros,
            gamma_initializer: Initializer::Ones,
            beta_regularizer: None,
            gamma_regularizer: None,
            gamma: None,
            beta: None,
            built: false,
        }
    }

    /// ε added to the variance, ≥ 0 (default 1e-3).
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// Whether to add the learned offset β (default true).
    pub fn center(mut self, center: bool) -> Self {
        self.center = center;
        self
    }

    /// Whether to multiply by the learned scale γ (default true).
    pub fn scale(mut self, scale: bool) -> Self {
        self.scale = scale;
        self
    }

    /// β's initializer (default zeros).
    pub fn beta_initializer(mut self, init: Initializer) -> Self {
        self.beta_initializer = init;
        self
    }

    /// γ's initializer (default ones).
    pub fn gamma_initializer(mut self, init: Initializer) -> Self {
        self.gamma_initializer = init;
        self
    }

    /// A penalty on β.
    pub fn beta_regularizer(mut self, r: Regularizer) -> Self {
        self.beta_regularizer = Some(r);
        self
    }

    /// A penalty on γ.
    pub fn gamma_regularizer(mut self, r: Regularizer) -> Self {
        self.gamma_regularizer = Some(r);
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// γ, once built (when `scale`).
    pub fn gamma(&self) -> Option<&Param<T>> {
        self.gamma.as_ref()
    }

    /// β, once built (when `center`).
    pub fn beta(&self) -> Option<&Param<T>> {
        self.beta.as_ref()
    }

    fn built_features(&self) -> Option<usize> {
        self.gamma.as_ref().or(self.beta.as_ref()).map(|p| p.len())
    }

    /// The size of the last axis of a per-sample shape.
    fn features(&self, shape: &[usize]) -> Result<usize> {
        if !(self.epsilon >= 0.0 && self.epsilon.is_finite()) {
            return Err(config_error(
                &self.name,
                format!("epsilon must be finite and ≥ 0, got {}", self.epsilon),
            ));
        }
        let built = self.built_features();
        match (shape.last(), built) {
            (Some(&d), None) => Ok(d),
            (Some(&d), Some(b)) if d == b => Ok(d),
            _ => {
                let what = built.map_or_else(|| "features".to_string(), |b| b.to_string());
                Err(shape_error(
                    &self.name,
                    format!("[batch, ..., {what}]"),
                    shape,
                ))
            }
        }
    }

    fn node(&self, x: &Var<T>, d: usize) -> Result<Var<T>> {
        const OP: &str = "layer_normalization";
        let xv = x.value().contiguous();
        let xs = slice_of(OP, &xv)?;
        let rows = xs.len().checked_div(d).unwrap_or(0);
        let gamma = self.gamma.as_ref().map(|p| p.var());
        let beta = self.beta.as_ref().map(|p| p.var());
        let gamma_v: Vec<f64> = gamma
            .as_ref()
            .map_or_else(|| vec![1.0; d], |g| to_f64s(g.value()));
        let beta_v: Vec<f64> = beta
            .as_ref()
            .map_or_else(|| vec![0.0; d], |b| to_f64s(b.value()));
        let mut mean = vec![0.0f64; rows];
        let mut inv = vec![0.0f64; rows];
        let mut y = nn_tensor::buffer::zeroed(xs.len());
        for (r, (row, out)) in xs
            .chunks_exact(d.max(1))
            .zip(y.chunks_exact_mut(d.max(1)))
            .enumerate()
        {
            let mu = row.iter().map(|v| v.f64()).sum::<f64>() / d as f64;
            let var = row
                .iter()
                .map(|v| (v.f64() - mu) * (v.f64() - mu))
                .sum::<f64>()
                / d as f64;
            let iv = 1.0 / (var + self.epsilon).sqrt();
            for (j, (o, &v)) in out.iter_mut().zip(row).enumerate() {
                *o = T::of((v.f64() - mu) * iv * gamma_v[j] + beta_v[j]);
            }
            mean[r] = mu;
            inv[r] = iv;
        }
        let y = Tensor::from_vec(y, xv.shape())?;
        let mut parents = vec![x];
        parents.extend(gamma.as_ref());
        parents.extend(beta.as_ref());
        let (has_gamma, has_beta) = (gamma.is_some(), beta.is_some());
        Ok(Var::from_op(OP, y, &parents, move |g, needs| {
            let g = g.contiguous();
            let (gs, xs) = (slice_of(OP, &g)?, slice_of(OP, &xv)?);
            let need_x = needs[0];
            let mut dgamma = vec![0.0f64; d];
            let mut dbeta = vec![0.0f64; d];
            let mut dx = if need_x {
                nn_tensor::buffer::zeroed(xs.len())
            } else {
                Vec::new()
            };
            let df = d as f64;
            for r in 0..rows {
                let (row, grow) = (&xs[r * d..(r + 1) * d], &gs[r * d..(r + 1) * d]);
                let (mu, iv) = (mean[r], inv[r]);
                let (mut s1, mut s2) = (0.0, 0.0);
                for j in 0..d {
                    let xh = (row[j].f64() - mu) * iv;
                    let gv = grow[j].f64();
                    dgamma[j] += gv * xh;
                    dbeta[j] += gv;
                    let dxh = gv * gamma_v[j];
                    s1 += dxh;
                    s2 += dxh * xh;
                }
                if need_x {
                    let (m1, m2) = (s1 / df, s2 / df);
                    for j in 0..d {
                        let xh = (row[j].f64() - mu) * iv;
                        let dxh = grow[j].f64() * gamma_v[j];
                        dx[r * d + j] = T::of(iv * (dxh - m1 - xh * m2));
                    }
                }
            }
            let mut grads = vec![if need_x {
                Some(Tensor::from_vec(dx, xv.shape())?)
            } else {
                None
            }];
            if has_gamma {
                grads.push(if needs[1] {
                    Some(Tensor::from_vec(cast(&dgamma), [d])?)
                } else {
                    None
                });
            }
            if has_beta {
                let i = 1 + usize::from(has_gamma);
                grads.push(if needs[i] {
                    Some(Tensor::from_vec(cast(&dbeta), [d])?)
                } else {
                    None
                });
            }
            Ok(grads)
        }))
    }
}

impl<T: Float> Layer<T> for LayerNormalization<T> {
    fn class_name(&self) -> &'static str {
        "LayerNormalization"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    fn build(&mut self, input_shapes: &[Shape], rng: &mut Rng) -> Result<()> {
        let d = self.features(single_shape(&self.name, input_shapes)?)?;
        if self.built {
            return Ok(());
        }
        if self.scale {
            let g = self.gamma_initializer.init(&[d], rng);
            self.gamma = Some(Param::new("gamma", g).with_regularizer(self.gamma_regularizer));
        }
        if self.center {
            let b = self.beta_initializer.init(&[d], rng);
            self.beta = Some(Param::new("beta", b).with_regularizer(self.beta_regularizer));
        }
        self.built = true;
        Ok(())
    }

    fn is_built(&self) -> bool {
        self.built
    }

    fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let shape = single_shape(&self.name, input_shapes)?;
        self.features(shape)?;
        Ok(vec![shape.clone()])
    }

    fn call(&self, inputs: &[Var<T>], _ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        let x = single_input(&self.name, inputs)?;
        if !self.built {
            return Err(LayerError::NotBuilt {
                layer: self.name.clone(),
            });
        }
        if x.shape().len() < 2 {
            return Err(shape_error(&self.name, "[batch, ..., features]", x.shape()));
        }
        let d = self.features(&x.shape()[1..])?;
        Ok(vec![self.node(x, d)?])
    }

    fn params(&self) -> Vec<&Param<T>> {
        self.gamma.iter().chain(self.beta.iter()).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.gamma.iter_mut().chain(self.beta.iter_mut()).collect()
    }

    fn to_saved(&self) -> SavedLayer<T> {
        SavedLayer::LayerNormalization(self.clone())
    }

    fn clone_box(&self) -> Box<dyn Layer<T>> {
        Box::new(self.clone())
    }
}
