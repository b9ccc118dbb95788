//! Lion.

use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::kernel::{sign, zip1, Pre};
use crate::optimizer::{check_range, optimizer_type, slot_count_error, CommonConfig, Rule, Step};
use crate::{OptimError, Result};

/// The configuration of [`Lion`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LionConfig {
    /// Shared options (learning rate 0.001 by default).
    pub common: CommonConfig,
    /// Interpolation factor of the update direction, in `(0, 1]` (default 0.9).
    pub beta_1: f64,
    /// Decay of the momentum, in `[0, 1]` (default 0.99).
    pub beta_2: f64,
}

impl Default for LionConfig {
    fn default() -> Self {
        LionConfig {
            common: CommonConfig::new("lion", 0.001),
            beta_1: 0.9,
            beta_2: 0.99,
        }
    }
}

optimizer_type! {
    /// Lion (evolved sign momentum), as Keras 3's `Lion` (defaults: learning rate 0.001,
    /// β₁ 0.9, β₂ 0.99).
    ///
    /// `w −= lr·sign(β₁·m + (1 − β₁)·g)`, then `m ← β₂·m + (1 − β₂)·g` (slot "momentum").
    Lion, LionConfig, Lion
}

impl<T: Float> Lion<T> {
    /// Keras' defaults.
    pub fn new() -> Self {
        Self::from_config(LionConfig::default())
    }

    /// Interpolation factor of the update direction, in `(0, 1]`.
    pub fn beta_1(mut self, beta_1: f64) -> Self {
        self.config.beta_1 = beta_1;
        self
    }

    /// Decay of the momentum, in `[0, 1]`.
    pub fn beta_2(mut self, beta_2: f64) -> Self {
        self.config.beta_2 = beta_2;
        self
    }
}

impl Rule for LionConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn check(&self) -> Result<()> {
        let n = &self.common.name;
        if !(self.beta_1 > 0.0 && self.beta_1 <= 1.0) {
            return Err(OptimError::config(
                n,
                format!(
                    "`beta_1` must be in (0, 1] (otherwise Lion degenerates to sign descent), got {}",
                    self.beta_1
                ),
            ));
        }
        check_range(n, "beta_2", self.beta_2, 0.0, 1.0, true)
    }

    fn slot_names(&self) -> &'static [&'static str] {
        &["momentum"]
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
        let (b1, c1) = (T::of(self.beta_1), T::of(1.0 - self.beta_1));
        let (b2, c2) = (T::of(self.beta_2), T::of(1.0 - self.beta_2));
        match slots {
            [m] => zip1(pre, w, g, m, |w, g, m| {
                *w -= lr * sign(*m * b1 + g * c1);
                *m = *m * b2 + g * c2;
            }),
            _ => return Err(slot_count_error(&self.common.name, 1, slots.len())),
        }
        Ok(())
    }
}
