//! Adam and AdamW.

use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::kernel::{max_nan, zip2, zip3, Pre};
use crate::optimizer::{
    check_non_negative, check_range, optimizer_type, slot_count_error, CommonConfig, Rule, Step,
};
use crate::{OptimError, Result};

/// The configuration of [`Adam`] and [`AdamW`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Shared options (learning rate 0.001 by default; AdamW: weight decay 0.004).
    pub common: CommonConfig,
    /// Decay of the first-moment estimate, in `[0, 1)` (default 0.9).
    pub beta_1: f64,
    /// Decay of the second-moment estimate, in `[0, 1)` (default 0.999).
    pub beta_2: f64,
    /// Added to the denominator (default 1e-7).
    pub epsilon: f64,
    /// Use the running maximum of the second moment (AMSGrad; default false).
    pub amsgrad: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            common: CommonConfig::new("adam", 0.001),
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            amsgrad: false,
        }
    }
}

/// The configuration of [`AdamW`]: [`AdamConfig`]'s fields; the weight decay
/// (`common.weight_decay`) is required.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    /// Shared options (learning rate 0.001, weight decay 0.004 by default).
    pub common: CommonConfig,
    /// Decay of the first-moment estimate, in `[0, 1)` (default 0.9).
    pub beta_1: f64,
    /// Decay of the second-moment estimate, in `[0, 1)` (default 0.999).
    pub beta_2: f64,
    /// Added to the denominator (default 1e-7).
    pub epsilon: f64,
    /// Use the running maximum of the second moment (AMSGrad; default false).
    pub amsgrad: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        let mut common = CommonConfig::new("adamw", 0.001);
        common.weight_decay = Some(0.004);
        AdamWConfig {
            common,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            amsgrad: false,
        }
    }
}

optimizer_type! {
    /// Adam, as Keras 3's `Adam` (defaults: learning rate 0.001, β₁ 0.9, β₂ 0.999,
    /// ε 1e-7, no AMSGrad).
    ///
    /// With `t` the 1-based step and the bias correction folded into the step size,
    /// `α = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)`; `m += (g − m)(1 − β₁)`, `v += (g² − v)(1 − β₂)`
    /// (slots "momentum", "velocity"); with AMSGrad `v̂ = max(v̂, v)` (slot "velocity_hat")
    /// replaces `v`; then `w −= α·m/(√v + ε)`.
    ///
    /// ```
    /// use nn_optim::{Adam, Optimizer, ParamUpdate};
    /// use nn_tensor::Tensor;
    /// let mut opt = Adam::<f64>::new().with_learning_rate(0.1);
    /// let mut w = Tensor::from_f64s(&[1.0], [1])?;
    /// let g = Tensor::from_f64s(&[2.0], [1])?;
    /// opt.apply(&mut [ParamUpdate::new("w", &mut w, &g)])?;
    /// // The first step moves by ≈ lr in the direction of −g.
    /// assert!((w.to_vec()[0] - 0.9).abs() < 1e-6);
    /// # Ok::<(), nn_optim::OptimError>(())
    /// ```
    Adam, AdamConfig, Adam
}

optimizer_type! {
    /// AdamW, as Keras 3's `AdamW`: [`Adam`] with decoupled weight decay, by default 0.004
    /// (`w −= lr·weight_decay·w` before each Adam step).
    AdamW, AdamWConfig, AdamW
}

macro_rules! adam_builders {
    ($ty:ident) => {
        impl<T: Float> $ty<T> {
            /// Decay of the first-moment estimate, in `[0, 1)`.
            pub fn beta_1(mut self, beta_1: f64) -> Self {
                self.config.beta_1 = beta_1;
                self
            }

            /// Decay of the second-moment estimate, in `[0, 1)`.
            pub fn beta_2(mut self, beta_2: f64) -> Self {
                self.config.beta_2 = beta_2;
                self
            }

            /// The denominator's additive constant.
            pub fn epsilon(mut self, epsilon: f64) -> Self {
                self.config.epsilon = epsilon;
                self
            }

            /// Whether to use AMSGrad.
            pub fn amsgrad(mut self, amsgrad: bool) -> Self {
                self.config.amsgrad = amsgrad;
                self
            }
        }
    };
}

adam_builders!(Adam);
adam_builders!(AdamW);

impl<T: Float> Adam<T> {
    /// Keras' defaults.
    pub fn new() -> Self {
        Self::from_config(AdamConfig::default())
    }
}

impl<T: Float> AdamW<T> {
    /// Keras' defaults (weight decay 0.004).
    pub fn new() -> Self {
        Self::from_config(AdamWConfig::default())
    }
}

/// Checks β₁, β₂ in `[0, 1)` and ε ≥ 0 (shared by the Adam family).
pub(crate) fn check_betas(name: &str, beta_1: f64, beta_2: f64, epsilon: f64) -> Result<()> {
    check_range(name, "beta_1", beta_1, 0.0, 1.0, false)?;
    check_range(name, "beta_2", beta_2, 0.0, 1.0, false)?;
    check_non_negative(name, "epsilon", epsilon)
}

fn adam_slot_names(amsgrad: bool) -> &'static [&'static str] {
    if amsgrad {
        &["momentum", "velocity", "velocity_hat"]
    } else {
        &["momentum", "velocity"]
    }
}

/// The Adam update shared by [`AdamConfig`] and [`AdamWConfig`].
#[allow(clippy::too_many_arguments)]
fn adam_update<T: Float>(
    name: &str,
    (beta_1, beta_2, epsilon): (f64, f64, f64),
    step: &Step,
    pre: Pre<T>,
    w: &mut [T],
    g: &[T],
    slots: &mut [Vec<T>],
) -> Result<()> {
    let t = step.t as f64;
    let alpha = T::of(step.lr * (1.0 - beta_2.powf(t)).sqrt() / (1.0 - beta_1.powf(t)));
    let (c1, c2, eps) = (T::of(1.0 - beta_1), T::of(1.0 - beta_2), T::of(epsilon));
    match slots {
        [m, v] => zip2(pre, w, g, m, v, |w, g, m, v| {
            *m += (g - *m) * c1;
            *v += (g * g - *v) * c2;
            *w -= (*m * alpha) / (v.sqrt() + eps);
        }),
        [m, v, vh] => zip3(pre, w, g, m, v, vh, |w, g, m, v, vh| {
            *m += (g - *m) * c1;
            *v += (g * g - *v) * c2;
            *vh = max_nan(*vh, *v);
            *w -= (*m * alpha) / (vh.sqrt() + eps);
        }),
        _ => return Err(slot_count_error(name, 2, slots.len())),
    }
    Ok(())
}

impl Rule for AdamConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn check(&self) -> Result<()> {
        check_betas(&self.common.name, self.beta_1, self.beta_2, self.epsilon)
    }

    fn slot_names(&self) -> &'static [&'static str] {
        adam_slot_names(self.amsgrad)
    }

    fn update<T: Float>(
        &self,
        step: &Step,
        pre: Pre<T>,
        w: &mut [T],
        g: &[T],
        slots: &mut [Vec<T>],
    ) -> Result<()> {
        let hp = (self.beta_1, self.beta_2, self.epsilon);
        adam_update(&self.common.name, hp, step, pre, w, g, slots)
    }
}

impl Rule for AdamWConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn check(&self) -> Result<()> {
        if self.common.weight_decay.is_none() {
            return Err(OptimError::config(
                &self.common.name,
                "AdamW needs a `weight_decay`",
            ));
        }
        check_betas(&self.common.name, self.beta_1, self.beta_2, self.epsilon)
    }

    fn slot_names(&self) -> &'static [&'static str] {
        adam_slot_names(self.amsgrad)
    }

    fn update<T: Float>(
        &self,
        step: &Step,
        pre: Pre<T>,
        w: &mut [T],
        g: &[T],
        slots: &mut [Vec<T>],
    ) -> Result<()> {
        let hp = (self.beta_1, self.beta_2, self.epsilon);
        adam_update(&self.common.name, hp, step, pre, w, g, slots)
    }
}
