//! Nadam.

use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::kernel::{zip2, Pre};
use crate::optimizer::{optimizer_type, slot_count_error, CommonConfig, Rule, Step};
use crate::rules::adam::check_betas;
use crate::Result;

/// The configuration of [`Nadam`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NadamConfig {
    /// Shared options (learning rate 0.001 by default).
    pub common: CommonConfig,
    /// Decay of the first-moment estimate, in `[0, 1)` (default 0.9).
    pub beta_1: f64,
    /// Decay of the second-moment estimate, in `[0, 1)` (default 0.999).
    pub beta_2: f64,
    /// Added to the denominator (default 1e-7).
    pub epsilon: f64,
}

impl Default for NadamConfig {
    fn default() -> Self {
        NadamConfig {
            common: CommonConfig::new("nadam", 0.001),
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
        }
    }
}

optimizer_type! {
    /// Nadam (Adam with Nesterov momentum), as Keras 3's `Nadam` (defaults: learning rate
    /// 0.001, β₁ 0.9, β₂ 0.999, ε 1e-7).
    ///
    /// Momentum-cache schedule `u_t = β₁·(1 − ½·0.96ᵗ)` (Keras 3's; Keras 2 had
    /// `0.96^(0.004·t)`), product `Π_t = Π_{s≤t} u_s`. Per step `t` (1-based):
    /// `m += (g − m)(1 − β₁)`, `v += (g² − v)(1 − β₂)` (slots "momentum", "velocity"),
    /// `m̂ = u_{t+1}·m/(1 − Π_t·u_{t+1}) + (1 − u_t)·g/(1 − Π_t)`, `v̂ = v/(1 − β₂ᵗ)`,
    /// `w −= lr·m̂/(√v̂ + ε)`. `Π_t` is recomputed from the step count after loading.
    Nadam, NadamConfig, Nadam
}

impl<T: Float> Nadam<T> {
    /// Keras' defaults.
    pub fn new() -> Self {
        Self::from_config(NadamConfig::default())
    }

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
}

impl NadamConfig {
    /// The momentum cache `u_t = β₁·(1 − ½·0.96ᵗ)`.
    fn u(&self, t: u64) -> f64 {
        self.beta_1 * (1.0 - 0.5 * 0.96f64.powf(t as f64))
    }
}

impl Rule for NadamConfig {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    fn check(&self) -> Result<()> {
        check_betas(&self.common.name, self.beta_1, self.beta_2, self.epsilon)
    }

    fn slot_names(&self) -> &'static [&'static str] {
        &["momentum", "velocity"]
    }

    /// `Π_t` for `t = iterations + 1`, from the cached `Π_{t−1}` or recomputed by the same
    /// sequence of products (so a reloaded optimizer continues bit-identically).
    fn begin_step(&self, iterations: u64, cache: &mut Option<(u64, f64)>) -> f64 {
        let prev = match *cache {
            Some((it, p)) if it == iterations => p,
            _ => (1..=iterations).fold(1.0, |p, s| p * self.u(s)),
        };
        let product = prev * self.u(iterations + 1);
        *cache = Some((iterations + 1, product));
        product
    }

    fn update<T: Float>(
        &self,
        step: &Step,
        pre: Pre<T>,
        w: &mut [T],
        g: &[T],
        slots: &mut [Vec<T>],
    ) -> Result<()> {
        let (u_t, u_next) = (self.u(step.t), self.u(step.t + 1));
        let (prod_t, prod_next) = (step.aux, step.aux * u_next);
        let d_m = T::of(1.0 - prod_next);
        let d_g = T::of(1.0 - prod_t);
        let d_v = T::of(1.0 - self.beta_2.powf(step.t as f64));
        let (u_next, one_m_u) = (T::of(u_next), T::of(1.0 - u_t));
        let (c1, c2) = (T::of(1.0 - self.beta_1), T::of(1.0 - self.beta_2));
        let (lr, eps) = (T::of(step.lr), T::of(self.epsilon));
        match slots {
            [m, v] => zip2(pre, w, g, m, v, |w, g, m, v| {
                *m += (g - *m) * c1;
                *v += (g * g - *v) * c2;
                let m_hat = (u_next * *m) / d_m + (one_m_u * g) / d_g;
                let v_hat = *v / d_v;
                *w -= (m_hat * lr) / (v_hat.sqrt() + eps);
            }),
            _ => return Err(slot_count_error(&self.common.name, 2, slots.len())),
        }
        Ok(())
    }
}
