//! Adadelta.

use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::kernel::{zip2, Pre};
use crate::optimizer::{
    check_non_negative, check_range, optimizer_type, slot_count_error, CommonConfig, Rule, Step,
};
use crate::Result;

/// The configuration of [`Adadelta`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdadeltaConfig {
    /// Shared options (learning rate 0.001 by default).
    pub common: CommonConfig,
    /// Decay of the running averages, in `[0, 1)` (default 0.95).
    pub rho: f64,
    /// Added under the square roots (default 1e-7).
    pub epsilon: f64,
}

impl Default for AdadeltaConfig {
    fn default() -> Self {
        AdadeltaConfig {
            common: CommonConfig::new("adadelta", 0.001),
            rho: 0.95,
            epsilon: 1e-7,
        }
    }
}

optimizer_type! {
    /// Adadelta, as Keras 3's `Adadelta` (defaults: learning rate 0.001, ρ 0.95, ε 1e-7).
    ///
    /// `E[g²] ← ρ·E[g²] + (1 − ρ)·g²` (slot "accumulated_grad");
    /// `Δ = −√(E[Δ²] + ε)·g/√(E[g²] + ε)`; `E[Δ²] ← ρ·E[Δ²] + (1 − ρ)·Δ²`
    /// (slot "accumulated_delta_var"); `w += lr·Δ`.
    Adadelta, AdadeltaConfig, Adadelta
}

impl<T: Float> Adadelta<T> {
    /// Keras' defaults.
    pub fn new() -> Self {
        Self::from_config(AdadeltaConfig::default())
    }

    /// Decay of the running averages, in `[0, 1)`.
    pub fn rho(mut self, rho: f64) -> Self {
        self.config.rho = rho;
        self
    }

    /// The constant added under the square roots.
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.config.epsilon = epsilon;
        self
    }
}

impl Rule for AdadeltaConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn check(&self) -> Result<()> {
        check_range(&self.common.name, "rho", self.rho, 0.0, 1.0, false)?;
        check_non_negative(&self.common.name, "epsilon", self.epsilon)
    }

    fn slot_names(&self) -> &'static [&'static str] {
        &["accumulated_grad", "accumulated_delta_var"]
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
        let rho = T::of(self.rho);
        let one_m_rho = T::of(1.0 - self.rho);
        let eps = T::of(self.epsilon);
        match slots {
            [ag, ad] => zip2(pre, w, g, ag, ad, |w, g, ag, ad| {
                *ag = rho * *ag + one_m_rho * (g * g);
                let delta = -(((*ad + eps).sqrt() * g) / (*ag + eps).sqrt());
                *ad = rho * *ad + one_m_rho * (delta * delta);
                *w += lr * delta;
            }),
            _ => return Err(slot_count_error(&self.common.name, 2, slots.len())),
        }
        Ok(())
    }
}
