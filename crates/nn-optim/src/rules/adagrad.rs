//! Adagrad.

use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::kernel::{zip1, Pre};
use crate::optimizer::{
    check_non_negative, optimizer_type, slot_count_error, CommonConfig, Rule, Step,
};
use crate::Result;

/// The configuration of [`Adagrad`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdagradConfig {
    /// Shared options (learning rate 0.001 by default).
    pub common: CommonConfig,
    /// Starting value of the accumulator, ≥ 0 (default 0.1).
    pub initial_accumulator_value: f64,
    /// Added under the square root (default 1e-7).
    pub epsilon: f64,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        AdagradConfig {
            common: CommonConfig::new("adagrad", 0.001),
            initial_accumulator_value: 0.1,
            epsilon: 1e-7,
        }
    }
}

optimizer_type! {
    /// Adagrad, as Keras 3's `Adagrad` (defaults: learning rate 0.001, initial accumulator
    /// value 0.1, ε 1e-7).
    ///
    /// `s ← s + g²` (slot "accumulator", starting at `initial_accumulator_value`);
    /// `w −= lr·g/√(s + ε)`.
    Adagrad, AdagradConfig, Adagrad
}

impl<T: Float> Adagrad<T> {
    /// Keras' defaults.
    pub fn new() -> Self {
        Self::from_config(AdagradConfig::default())
    }

    /// The accumulator's starting value.
    pub fn initial_accumulator_value(mut self, value: f64) -> Self {
        self.config.initial_accumulator_value = value;
        self
    }

    /// The constant added under the square root.
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.config.epsilon = epsilon;
        self
    }
}

impl Rule for AdagradConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn check(&self) -> Result<()> {
        let n = &self.common.name;
        check_non_negative(
            n,
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        check_non_negative(n, "epsilon", self.epsilon)
    }

    fn slot_names(&self) -> &'static [&'static str] {
        &["accumulator"]
    }

    fn slot_init(&self) -> f64 {
        self.initial_accumulator_value
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
        let eps = T::of(self.epsilon);
        match slots {
            [s] => zip1(pre, w, g, s, |w, g, s| {
                *s += g * g;
                *w -= (lr * g) / (*s + eps).sqrt();
            }),
            _ => return Err(slot_count_error(&self.common.name, 1, slots.len())),
        }
        Ok(())
    }
}
