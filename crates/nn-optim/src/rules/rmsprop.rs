//! RMSprop.

use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::kernel::{zip1, zip2, zip3, Pre};
use crate::optimizer::{
    check_non_negative, check_range, optimizer_type, slot_count_error, CommonConfig, Rule, Step,
};
use crate::Result;

/// The configuration of [`RmsProp`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RmsPropConfig {
    /// Shared options (learning rate 0.001 by default).
    pub common: CommonConfig,
    /// Decay of the squared-gradient average, in `[0, 1)` (default 0.9).
    pub rho: f64,
    /// Momentum factor in `[0, 1]` (default 0: no momentum).
    pub momentum: f64,
    /// Added under the square root (default 1e-7).
    pub epsilon: f64,
    /// Normalize by the variance estimate instead of the second moment (default false).
    pub centered: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            common: CommonConfig::new("rmsprop", 0.001),
            rho: 0.9,
            momentum: 0.0,
            epsilon: 1e-7,
            centered: false,
        }
    }
}

optimizer_type! {
    /// RMSprop, as Keras 3's `RMSprop` (defaults: learning rate 0.001, ρ 0.9, momentum 0,
    /// ε 1e-7, not centered).
    ///
    /// `v ← ρ·v + (1 − ρ)·g²` (slot "velocity"); centered: `a ← ρ·a + (1 − ρ)·g`
    /// (slot "average_gradient") and `d = v − a² + ε`, else `d = v + ε`;
    /// `Δ = lr·g/√d`; with momentum `μ > 0`: `p ← μ·p + Δ` (slot "momentum"), `w −= p`;
    /// else `w −= Δ`. (ε is inside the square root, as Keras.)
    RmsProp, RmsPropConfig, RmsProp
}

impl<T: Float> RmsProp<T> {
    /// Keras' defaults.
    pub fn new() -> Self {
        Self::from_config(RmsPropConfig::default())
    }

    /// Decay of the squared-gradient average, in `[0, 1)`.
    pub fn rho(mut self, rho: f64) -> Self {
        self.config.rho = rho;
        self
    }

    /// Momentum factor in `[0, 1]`.
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.config.momentum = momentum;
        self
    }

    /// The constant added under the square root.
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.config.epsilon = epsilon;
        self
    }

    /// Whether to center (divide by the variance estimate).
    pub fn centered(mut self, centered: bool) -> Self {
        self.config.centered = centered;
        self
    }
}

impl Rule for RmsPropConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn check(&self) -> Result<()> {
        let n = &self.common.name;
        check_range(n, "rho", self.rho, 0.0, 1.0, false)?;
        check_range(n, "momentum", self.momentum, 0.0, 1.0, true)?;
        check_non_negative(n, "epsilon", self.epsilon)
    }

    fn slot_names(&self) -> &'static [&'static str] {
        match (self.momentum > 0.0, self.centered) {
            (false, false) => &["velocity"],
            (true, false) => &["velocity", "momentum"],
            (false, true) => &["velocity", "average_gradient"],
            (true, true) => &["velocity", "momentum", "average_gradient"],
        }
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
        let mu = T::of(self.momentum);
        let eps = T::of(self.epsilon);
        // `Δ = lr·g/√d` for a plain (`a` = None) or centered update.
        let increment = |g: T, v: &mut T, a: Option<&mut T>| {
            *v = rho * *v + one_m_rho * (g * g);
            let d = match a {
                Some(a) => {
                    *a = rho * *a + one_m_rho * g;
                    *v - *a * *a + eps
                }
                None => *v + eps,
            };
            (lr * g) / d.sqrt()
        };
        match (slots, self.momentum > 0.0) {
            ([v], _) => zip1(pre, w, g, v, |w, g, v| {
                *w -= increment(g, v, None);
            }),
            ([v, p], true) => zip2(pre, w, g, v, p, |w, g, v, p| {
                *p = mu * *p + increment(g, v, None);
                *w -= *p;
            }),
            ([v, a], false) => zip2(pre, w, g, v, a, |w, g, v, a| {
                *w -= increment(g, v, Some(a));
            }),
            ([v, p, a], true) => zip3(pre, w, g, v, p, a, |w, g, v, p, a| {
                *p = mu * *p + increment(g, v, Some(a));
                *w -= *p;
            }),
            (slots, _) => {
                return Err(slot_count_error(
                    &self.common.name,
                    self.slot_names().len(),
                    slots.len(),
                ))
            }
        }
        Ok(())
    }
}
