//! Adamax.

use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::kernel::{max_nan, zip2, Pre};
use crate::optimizer::{optimizer_type, slot_count_error, CommonConfig, Rule, Step};
use crate::rules::adam::check_betas;
use crate::Result;

/// The configuration of [`Adamax`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamaxConfig {
    /// Shared options (learning rate 0.001 by default).
    pub common: CommonConfig,
    /// Decay of the first-moment estimate, in `[0, 1)` (default 0.9).
    pub beta_1: f64,
    /// Decay of the infinity norm, in `[0, 1)` (default 0.999).
    pub beta_2: f64,
    /// Added to the denominator (default 1e-7).
    pub epsilon: f64,
}

impl Default for AdamaxConfig {
    fn default() -> Self {
        AdamaxConfig {
            common: CommonConfig::new("adamax", 0.001),
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
        }
    }
}

optimizer_type! {
    /// Adamax (Adam with the infinity norm), as Keras 3's `Adamax` (defaults: learning rate
    /// 0.001, β₁ 0.9, β₂ 0.999, ε 1e-7).
    ///
    /// `m += (g − m)(1 − β₁)` (slot "momentum"), `u = max(β₂·u, |g|)` (slot "norm"),
    /// `w −= lr·m/((1 − β₁ᵗ)(u + ε))`.
    Adamax, AdamaxConfig, Adamax
}

impl<T: Float> Adamax<T> {
    /// Keras' defaults.
    pub fn new() -> Self {
        Self::from_config(AdamaxConfig::default())
    }

    /// Decay of the first-moment estimate, in `[0, 1)`.
    pub fn beta_1(mut self, beta_1: f64) -> Self {
        self.config.beta_1 = beta_1;
        self
    }

    /// Decay of the infinity norm, in `[0, 1)`.
    pub fn beta_2(mut self, beta_2: f64) -> Self {
        self.config.beta_2 = beta_2;
        self
    }

    /// The denominator's additive constant.
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.config.epsilon = epsilon;
        self
    }
}

impl Rule for AdamaxConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn check(&self) -> Result<()> {
        check_betas(&self.common.name, self.beta_1, self.beta_2, self.epsilon)
    }

    fn slot_names(&self) -> &'static [&'static str] {
        &["momentum", "norm"]
    }

    fn update<T: Float>(
        &self,
        step: &Step,
        pre: Pre<T>,
        w: &mut [T],
        g: &[T],
        slots: &mut [Vec<T>],
    ) -> Result<()> {
        let lr = T::of(step.lr);
        let bias = T::of(1.0 - self.beta_1.powf(step.t as f64));
        let (c1, b2, eps) = (
            T::of(1.0 - self.beta_1),
            T::of(self.beta_2),
            T::of(self.epsilon),
        );
        match slots {
            [m, u] => zip2(pre, w, g, m, u, |w, g, m, u| {
                *m += (g - *m) * c1;
                *u = max_nan(b2 * *u, g.abs());
                *w -= (lr * *m) / (bias * (*u + eps));
            }),
            _ => return Err(slot_count_error(&self.common.name, 2, slots.len())),
        }
        Ok(())
    }
}
