//! Stochastic gradient descent with optional (Nesterov) momentum.

use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::kernel::{zip0, zip1, Pre};
use crate::optimizer::{check_range, optimizer_type, slot_count_error, CommonConfig, Rule, Step};
use crate::Result;

/// The configuration of [`Sgd`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SgdConfig {
    /// Shared options (learning rate 0.01 by default).
    pub common: CommonConfig,
    /// Momentum factor in `[0, 1]` (default 0).
    pub momentum: f64,
    /// Nesterov momentum (default false).
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            common: CommonConfig::new("sgd", 0.01),
            momentum: 0.0,
            nesterov: false,
        }
    }
}

optimizer_type! {
    /// Gradient descent with optional momentum, as Keras 3's `SGD` (defaults: learning rate
    /// 0.01, momentum 0, no Nesterov).
    ///
    /// Without momentum `w ← w − lr·g`. With momentum `μ` a velocity `v` (slot "momentum",
    /// zeros at first) follows `v ← μ·v − lr·g`, then `w ← w + v`, or with Nesterov
    /// `w ← w + μ·v − lr·g` (with the updated `v`).
    ///
    /// ```
    /// use nn_optim::{Optimizer, ParamUpdate, Sgd};
    /// use nn_tensor::Tensor;
    /// let mut opt = Sgd::<f64>::new().with_learning_rate(0.1).momentum(0.9);
    /// let mut w = Tensor::from_f64s(&[1.0], [1])?;
    /// let g = Tensor::from_f64s(&[1.0], [1])?;
    /// opt.apply(&mut [ParamUpdate::new("w", &mut w, &g)])?; // v = −0.1
    /// opt.apply(&mut [ParamUpdate::new("w", &mut w, &g)])?; // v = −0.09 − 0.1
    /// assert!((w.to_vec()[0] - 0.71).abs() < 1e-12);
    /// # Ok::<(), nn_optim::OptimError>(())
    /// ```
    Sgd, SgdConfig, Sgd
}

impl<T: Float> Sgd<T> {
    /// Keras' defaults.
    pub fn new() -> Self {
        Self::from_config(SgdConfig::default())
    }

    /// The momentum factor, in `[0, 1]`.
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.config.momentum = momentum;
        self
    }

    /// Whether to use Nesterov momentum.
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.config.nesterov = nesterov;
        self
    }
}

impl Rule for SgdConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn check(&self) -> Result<()> {
        check_range(&self.common.name, "momentum", self.momentum, 0.0, 1.0, true)
    }

    fn slot_names(&self) -> &'static [&'static str] {
        if self.momentum != 0.0 {
            &["momentum"]
        } else {
            &[]
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
        let mu = T::of(self.momentum);
        match slots {
            [] => zip0(pre, w, g, |w, g| {
                *w -= g * lr;
            }),
            [m] if self.nesterov => zip1(pre, w, g, m, |w, g, m| {
                *m = *m * mu - g * lr;
                *w += *m * mu - g * lr;
            }),
            [m] => zip1(pre, w, g, m, |w, g, m| {
                *m = *m * mu - g * lr;
                *w += *m;
            }),
            _ => return Err(slot_count_error(&self.common.name, 1, slots.len())),
        }
        Ok(())
    }
}
