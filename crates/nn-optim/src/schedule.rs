//! Learning-rate schedules (Keras' `keras.optimizers.schedules`).

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use crate::{OptimError, Result};

/// A learning rate as a function of the optimizer's step count, as Keras'
/// `keras.optimizers.schedules.*`. An optimizer evaluates its schedule at its `iterations`,
/// the number of steps applied *before* the current one (so the first step uses `lr(0)`).
///
/// All arithmetic is in `f64`. Build schedules with the constructors, which check their
/// arguments, or with the variants directly and call [`LearningRateSchedule::validate`];
/// optimizers validate their schedule before every step.
///
/// ```
/// use nn_optim::LearningRateSchedule;
/// let s = LearningRateSchedule::exponential_decay(0.1, 10.0, 0.5, true)?;
/// assert_eq!(s.lr(0), 0.1);
/// assert_eq!(s.lr(25), 0.025); // 0.1 · 0.5^⌊25/10⌋
/// # Ok::<(), nn_optim::OptimError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LearningRateSchedule {
    /// A constant learning rate.
    Constant {
        /// The learning rate.
        value: f64,
    },
    /// `initial_learning_rate · decay_rate^(step / decay_steps)`, the exponent floored when
    /// `staircase` (Keras' `ExponentialDecay`).
    ExponentialDecay {
        /// The learning rate at step 0.
        initial_learning_rate: f64,
        /// Steps per factor of `decay_rate` (> 0).
        decay_steps: f64,
        /// The decay factor.
        decay_rate: f64,
        /// Whether to decay in discrete intervals.
        staircase: bool,
    },
    /// `values[0]` while `step ≤ boundaries[0]`, `values[i]` while
    /// `boundaries[i-1] < step ≤ boundaries[i]`, and the last value after the last boundary
    /// (Keras' `PiecewiseConstantDecay`).
    PiecewiseConstantDecay {
        /// Strictly increasing step boundaries.
        boundaries: Vec<u64>,
        /// One more value than boundaries.
        values: Vec<f64>,
    },
    /// Polynomial decay from `initial_learning_rate` to `end_learning_rate` over `decay_steps`
    /// (Keras' `PolynomialDecay`): `(initial − end)·(1 − step/decay_steps)^power + end`, the
    /// step clamped to `decay_steps`, or with `cycle` the decay steps stretched to the first
    /// multiple of `decay_steps` at or above the step.
    PolynomialDecay {
        /// The learning rate at step 0.
        initial_learning_rate: f64,
        /// Steps to decay over (> 0).
        decay_steps: f64,
        /// The final learning rate (Keras' default 1e-4).
        end_learning_rate: f64,
        /// The polynomial's power (Keras' default 1).
        power: f64,
        /// Whether to restart after `decay_steps`.
        cycle: bool,
    },
    /// `initial_learning_rate / (1 + decay_rate · step / decay_steps)`, the ratio floored when
    /// `staircase` (Keras' `InverseTimeDecay`).
    InverseTimeDecay {
        /// The learning rate at step 0.
        initial_learning_rate: f64,
        /// Steps per unit of decay (> 0).
        decay_steps: f64,
        /// The decay rate.
        decay_rate: f64,
        /// Whether to decay in discrete intervals.
        staircase: bool,
    },
    /// Cosine decay with an optional linear warm-up (Keras 3's `CosineDecay`).
    ///
    /// Without `warmup_target`: `initial · ((1 − alpha)·½(1 + cos(π·s/decay_steps)) + alpha)`
    /// with `s = min(step, decay_steps)`. With `warmup_target`: for `step < warmup_steps` the
    /// rate rises linearly, `initial + (warmup_target − initial)·step/warmup_steps`; after it
    /// decays as above from `warmup_target` over `decay_steps` more steps.
    CosineDecay {
        /// The learning rate at step 0.
        initial_learning_rate: f64,
        /// Steps to decay over (> 0).
        decay_steps: f64,
        /// The final rate as a fraction of the decay's starting rate (Keras' default 0).
        alpha: f64,
        /// The rate the warm-up reaches, or `None` for no warm-up.
        warmup_target: Option<f64>,
        /// Steps of warm-up (Keras' default 0).
        warmup_steps: u64,
    },
    /// Cosine decay with warm restarts, SGDR (Keras' `CosineDecayRestarts`): the multiplier
    /// decays from 1 to `alpha` over `first_decay_steps`, then restarts; period `i` lasts
    /// `t_mul^i` times longer and starts at `m_mul^i` times the initial rate.
    CosineDecayRestarts {
        /// The learning rate at step 0.
        initial_learning_rate: f64,
        /// Steps in the first period (> 0).
        first_decay_steps: f64,
        /// Period length growth factor (Keras' default 2).
        t_mul: f64,
        /// Period starting-rate factor (Keras' default 1).
        m_mul: f64,
        /// The minimum rate as a fraction of `initial_learning_rate` (Keras' default 0).
        alpha: f64,
    },
    /// A linear warm-up in front of any schedule: for `step < warmup_steps` the rate rises
    /// linearly from `initial_learning_rate` to `schedule.lr(0)`; afterwards it is
    /// `schedule.lr(step − warmup_steps)`.
    LinearWarmup {
        /// The rate at step 0.
        initial_learning_rate: f64,
        /// Steps of warm-up.
        warmup_steps: u64,
        /// The schedule that follows the warm-up.
        schedule: Box<LearningRateSchedule>,
    },
}

impl Default for LearningRateSchedule {
    fn default() -> Self {
        LearningRateSchedule::Constant { value: 0.001 }
    }
}

impl From<f64> for LearningRateSchedule {
    fn from(value: f64) -> Self {
        LearningRateSchedule::Constant { value }
    }
}

fn check(ok: bool, schedule: &str, message: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(OptimError::config(schedule, message()))
    }
}

fn finite(schedule: &str, what: &str, v: f64) -> Result<()> {
    check(v.is_finite(), schedule, || {
        format!("`{what}` must be finite, got {v}")
    })
}

fn positive(schedule: &str, what: &str, v: f64) -> Result<()> {
    check(v.is_finite() && v > 0.0, schedule, || {
        format!("`{what}` must be > 0, got {v}")
    })
}

impl LearningRateSchedule {
    /// A constant rate.
    pub fn constant(value: f64) -> Result<Self> {
        let s = LearningRateSchedule::Constant { value };
        s.validate()?;
        Ok(s)
    }

    /// Keras' `ExponentialDecay(initial_learning_rate, decay_steps, decay_rate, staircase)`.
    pub fn exponential_decay(
        initial_learning_rate: f64,
        decay_steps: f64,
        decay_rate: f64,
        staircase: bool,
    ) -> Result<Self> {
        let s = LearningRateSchedule::ExponentialDecay {
            initial_learning_rate,
            decay_steps,
            decay_rate,
            staircase,
        };
        s.validate()?;
        Ok(s)
    }

    /// Keras' `PiecewiseConstantDecay(boundaries, values)`.
    pub fn piecewise_constant_decay(boundaries: Vec<u64>, values: Vec<f64>) -> Result<Self> {
        let s = LearningRateSchedule::PiecewiseConstantDecay { boundaries, values };
        s.validate()?;
        Ok(s)
    }

    /// Keras' `PolynomialDecay(initial_learning_rate, decay_steps, end_learning_rate, power,
    /// cycle)`.
    pub fn polynomial_decay(
        initial_learning_rate: f64,
        decay_steps: f64,
        end_learning_rate: f64,
        power: f64,
        cycle: bool,
    ) -> Result<Self> {
        let s = LearningRateSchedule::PolynomialDecay {
            initial_learning_rate,
            decay_steps,
            end_learning_rate,
            power,
            cycle,
        };
        s.validate()?;
        Ok(s)
    }

    /// Keras' `InverseTimeDecay(initial_learning_rate, decay_steps, decay_rate, staircase)`.
    pub fn inverse_time_decay(
        initial_learning_rate: f64,
        decay_steps: f64,
        decay_rate: f64,
        staircase: bool,
    ) -> Result<Self> {
        let s = LearningRateSchedule::InverseTimeDecay {
            initial_learning_rate,
            decay_steps,
            decay_rate,
            staircase,
        };
        s.validate()?;
        Ok(s)
    }

    /// Keras' `CosineDecay(initial_learning_rate, decay_steps, alpha)` without warm-up.
    pub fn cosine_decay(initial_learning_rate: f64, decay_steps: f64, alpha: f64) -> Result<Self> {
        Self::cosine_decay_with_warmup(initial_learning_rate, decay_steps, alpha, None, 0)
    }

    /// Keras' `CosineDecay(initial_learning_rate, decay_steps, alpha, warmup_target,
    /// warmup_steps)`.
    pub fn cosine_decay_with_warmup(
        initial_learning_rate: f64,
        decay_steps: f64,
        alpha: f64,
        warmup_target: Option<f64>,
        warmup_steps: u64,
    ) -> Result<Self> {
        let s = LearningRateSchedule::CosineDecay {
            initial_learning_rate,
            decay_steps,
            alpha,
            warmup_target,
            warmup_steps,
        };
        s.validate()?;
        Ok(s)
    }

    /// Keras' `CosineDecayRestarts(initial_learning_rate, first_decay_steps, t_mul, m_mul,
    /// alpha)` (Keras' defaults: `t_mul = 2`, `m_mul = 1`, `alpha = 0`).
    pub fn cosine_decay_restarts(
        initial_learning_rate: f64,
        first_decay_steps: f64,
        t_mul: f64,
        m_mul: f64,
        alpha: f64,
    ) -> Result<Self> {
        let s = LearningRateSchedule::CosineDecayRestarts {
            initial_learning_rate,
            first_decay_steps,
            t_mul,
            m_mul,
            alpha,
        };
        s.validate()?;
        Ok(s)
    }

    /// `schedule` preceded by a linear warm-up from `initial_learning_rate` over
    /// `warmup_steps`.
    pub fn linear_warmup(
        initial_learning_rate: f64,
        warmup_steps: u64,
        schedule: LearningRateSchedule,
    ) -> Result<Self> {
        let s = LearningRateSchedule::LinearWarmup {
            initial_learning_rate,
            warmup_steps,
            schedule: Box::new(schedule),
        };
        s.validate()?;
        Ok(s)
    }

    /// The schedule's Keras class name ("ExponentialDecay", ...; "Constant" for a constant).
    pub fn class_name(&self) -> &'static str {
        match self {
            LearningRateSchedule::Constant { .. } => "Constant",
            LearningRateSchedule::ExponentialDecay { .. } => "ExponentialDecay",
            LearningRateSchedule::PiecewiseConstantDecay { .. } => "PiecewiseConstantDecay",
            LearningRateSchedule::PolynomialDecay { .. } => "PolynomialDecay",
            LearningRateSchedule::InverseTimeDecay { .. } => "InverseTimeDecay",
            LearningRateSchedule::CosineDecay { .. } => "CosineDecay",
            LearningRateSchedule::CosineDecayRestarts { .. } => "CosineDecayRestarts",
            LearningRateSchedule::LinearWarmup { .. } => "LinearWarmup",
        }
    }

    /// Checks the arguments: finite numbers, positive step counts, matching lengths.
    /// (Whether a schedule's *values* are non-negative is checked by the optimizer at each
    /// step.)
    pub fn validate(&self) -> Result<()> {
        let n = self.class_name();
        match self {
            LearningRateSchedule::Constant { value } => finite(n, "value", *value),
            LearningRateSchedule::ExponentialDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                ..
            }
            | LearningRateSchedule::InverseTimeDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                ..
            } => {
                finite(n, "initial_learning_rate", *initial_learning_rate)?;
                positive(n, "decay_steps", *decay_steps)?;
                finite(n, "decay_rate", *decay_rate)
            }
            LearningRateSchedule::PiecewiseConstantDecay { boundaries, values } => {
                check(values.len() == boundaries.len() + 1, n, || {
                    format!(
                        "needs one more value than boundaries, got {} boundaries and {} values",
                        boundaries.len(),
                        values.len()
                    )
                })?;
                check(boundaries.windows(2).all(|w| w[0] < w[1]), n, || {
                    format!("boundaries must be strictly increasing, got {boundaries:?}")
                })?;
                values.iter().try_for_each(|&v| finite(n, "values", v))
            }
            LearningRateSchedule::PolynomialDecay {
                initial_learning_rate,
                decay_steps,
                end_learning_rate,
                power,
                ..
            } => {
                finite(n, "initial_learning_rate", *initial_learning_rate)?;
                positive(n, "decay_steps", *decay_steps)?;
                finite(n, "end_learning_rate", *end_learning_rate)?;
                finite(n, "power", *power)
            }
            LearningRateSchedule::CosineDecay {
                initial_learning_rate,
                decay_steps,
                alpha,
                warmup_target,
                ..
            } => {
                finite(n, "initial_learning_rate", *initial_learning_rate)?;
                positive(n, "decay_steps", *decay_steps)?;
                finite(n, "alpha", *alpha)?;
                warmup_target.map_or(Ok(()), |t| finite(n, "warmup_target", t))
            }
            LearningRateSchedule::CosineDecayRestarts {
                initial_learning_rate,
                first_decay_steps,
                t_mul,
                m_mul,
                alpha,
            } => {
                finite(n, "initial_learning_rate", *initial_learning_rate)?;
                positive(n, "first_decay_steps", *first_decay_steps)?;
                positive(n, "t_mul", *t_mul)?;
                finite(n, "m_mul", *m_mul)?;
                finite(n, "alpha", *alpha)
            }
            LearningRateSchedule::LinearWarmup {
                initial_learning_rate,
                schedule,
                ..
            } => {
                finite(n, "initial_learning_rate", *initial_learning_rate)?;
                schedule.validate()
            }
        }
    }

    /// The learning rate at `step` (the optimizer's iteration count before the update).
    pub fn lr(&self, step: u64) -> f64 {
        let s = step as f64;
        match self {
            LearningRateSchedule::Constant { value } => *value,
            LearningRateSchedule::ExponentialDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                staircase,
            } => {
                let mut p = s / decay_steps;
                if *staircase {
                    p = p.floor();
                }
                initial_learning_rate * decay_rate.powf(p)
            }
            LearningRateSchedule::PiecewiseConstantDecay { boundaries, values } => {
                // The first interval whose upper boundary is at or above the step.
                let i = boundaries.partition_point(|&b| b < step);
                values.get(i).or(values.last()).copied().unwrap_or(0.0)
            }
            LearningRateSchedule::PolynomialDecay {
                initial_learning_rate,
                decay_steps,
                end_learning_rate,
                power,
                cycle,
            } => {
                let (step, steps) = if *cycle {
                    let mult = if s == 0.0 {
                        1.0
                    } else {
                        (s / decay_steps).ceil()
                    };
                    (s, decay_steps * mult)
                } else {
                    (s.min(*decay_steps), *decay_steps)
                };
                let p = step / steps;
                (initial_learning_rate - end_learning_rate) * (1.0 - p).powf(*power)
                    + end_learning_rate
            }
            LearningRateSchedule::InverseTimeDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                staircase,
            } => {
                let mut p = s / decay_steps;
                if *staircase {
                    p = p.floor();
                }
                initial_learning_rate / (1.0 + decay_rate * p)
            }
            LearningRateSchedule::CosineDecay {
                initial_learning_rate,
                decay_steps,
                alpha,
                warmup_target,
                warmup_steps,
            } => {
                let cosine = |s: f64, from: f64| {
                    let c = 0.5 * (1.0 + (PI * (s / decay_steps)).cos());
                    from * ((1.0 - alpha) * c + alpha)
                };
                match warmup_target {
                    None => cosine(s.min(*decay_steps), *initial_learning_rate),
                    Some(target) => {
                        let w = *warmup_steps as f64;
                        let s = s.min(decay_steps + w);
                        if s < w {
                            (target - initial_learning_rate) * (s / w) + initial_learning_rate
                        } else {
                            cosine(s - w, *target)
                        }
                    }
                }
            }
            LearningRateSchedule::CosineDecayRestarts {
                initial_learning_rate,
                first_decay_steps,
                t_mul,
                m_mul,
                alpha,
            } => {
                let fraction = s / first_decay_steps;
                let (restart, fraction) = if *t_mul == 1.0 {
                    let i = fraction.floor();
                    (i, fraction - i)
                } else {
                    // Period i covers fractions [Σ_{j<i} t_mul^j, Σ_{j≤i} t_mul^j).
                    let i = ((1.0 - fraction * (1.0 - t_mul)).ln() / t_mul.ln()).floor();
                    let start = (1.0 - t_mul.powf(i)) / (1.0 - t_mul);
                    (i, (fraction - start) / t_mul.powf(i))
                };
                let m_fac = m_mul.powf(restart);
                let c = 0.5 * m_fac * (1.0 + (PI * fraction).cos());
                initial_learning_rate * ((1.0 - alpha) * c + alpha)
            }
            LearningRateSchedule::LinearWarmup {
                initial_learning_rate,
                warmup_steps,
                schedule,
            } => {
                if step < *warmup_steps {
                    let target = schedule.lr(0);
                    initial_learning_rate
                        + (target - initial_learning_rate) * (s / *warmup_steps as f64)
                } else {
                    schedule.lr(step - warmup_steps)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    fn assert_values(s: &LearningRateSchedule, cases: &[(u64, f64)]) {
        for &(step, want) in cases {
            let got = s.lr(step);
            assert!(
                close(got, want),
                "{s:?} at step {step}: got {got}, want {want}"
            );
        }
    }

    #[test]
    fn schedule_constant() {
        assert_values(
            &LearningRateSchedule::constant(0.3).unwrap(),
            &[(0, 0.3), (1000, 0.3)],
        );
        assert_eq!(
            LearningRateSchedule::from(0.2),
            LearningRateSchedule::Constant { value: 0.2 }
        );
    }

    #[test]
    fn schedule_exponential_decay() {
        // 0.1 · 0.5^(step/10): step 5 → 0.1/√2, step 20 → 0.025; staircase floors the exponent.
        let s = LearningRateSchedule::exponential_decay(0.1, 10.0, 0.5, false).unwrap();
        assert_values(
            &s,
            &[(0, 0.1), (5, 0.07071067811865475), (10, 0.05), (20, 0.025)],
        );
        let s = LearningRateSchedule::exponential_decay(0.1, 10.0, 0.5, true).unwrap();
        assert_values(
            &s,
            &[(0, 0.1), (9, 0.1), (10, 0.05), (19, 0.05), (25, 0.025)],
        );
    }

    #[test]
    fn schedule_piecewise_constant() {
        // values[0] while step ≤ 10, values[1] while 10 < step ≤ 20, then values[2].
        let s = LearningRateSchedule::piecewise_constant_decay(vec![10, 20], vec![1.0, 0.5, 0.1])
            .unwrap();
        assert_values(
            &s,
            &[
                (0, 1.0),
                (10, 1.0),
                (11, 0.5),
                (20, 0.5),
                (21, 0.1),
                (999, 0.1),
            ],
        );
    }

    #[test]
    fn schedule_polynomial_decay() {
        // (0.1 − 0.01)·(1 − step/10)^p + 0.01.
        let s = LearningRateSchedule::polynomial_decay(0.1, 10.0, 0.01, 1.0, false).unwrap();
        assert_values(&s, &[(0, 0.1), (5, 0.055), (10, 0.01), (20, 0.01)]);
        let s = LearningRateSchedule::polynomial_decay(0.1, 10.0, 0.01, 2.0, false).unwrap();
        assert_values(&s, &[(5, 0.0325)]); // 0.09·0.25 + 0.01
                                           // cycle: step 15 decays over 20 steps → p = 0.75 → 0.09·0.25 + 0.01.
        let s = LearningRateSchedule::polynomial_decay(0.1, 10.0, 0.01, 1.0, true).unwrap();
        assert_values(&s, &[(0, 0.1), (10, 0.01), (15, 0.0325)]);
    }

    #[test]
    fn schedule_inverse_time_decay() {
        // 0.1/(1 + 0.5·step/decay_steps).
        let s = LearningRateSchedule::inverse_time_decay(0.1, 1.0, 0.5, false).unwrap();
        assert_values(&s, &[(0, 0.1), (2, 0.05), (6, 0.025)]);
        let s = LearningRateSchedule::inverse_time_decay(0.1, 2.0, 0.5, true).unwrap();
        assert_values(&s, &[(1, 0.1), (3, 0.1 / 1.5)]);
    }

    #[test]
    fn schedule_cosine_decay() {
        // 0.1·½(1 + cos(π·step/100)): ½ way → 0.05, end → 0 and it stays there.
        let s = LearningRateSchedule::cosine_decay(0.1, 100.0, 0.0).unwrap();
        assert_values(&s, &[(0, 0.1), (50, 0.05), (100, 0.0), (200, 0.0)]);
        // alpha 0.1: 0.1·(0.9·c + 0.1): ½ way → 0.055, end → 0.01.
        let s = LearningRateSchedule::cosine_decay(0.1, 100.0, 0.1).unwrap();
        assert_values(&s, &[(50, 0.055), (100, 0.01), (1000, 0.01)]);
        // 25 steps of 100: ½(1 + cos(π/4)) = 0.8535533905932737.
        let s = LearningRateSchedule::cosine_decay(1.0, 100.0, 0.0).unwrap();
        assert_values(&s, &[(25, 0.8535533905932737)]);
    }

    #[test]
    fn schedule_cosine_decay_with_warmup() {
        // Warm-up 0 → 0.1 over 10 steps (0.01 per step), then cosine over 100 from 0.1.
        let s =
            LearningRateSchedule::cosine_decay_with_warmup(0.0, 100.0, 0.0, Some(0.1), 10).unwrap();
        assert_values(
            &s,
            &[
                (0, 0.0),
                (5, 0.05),
                (9, 0.09),
                (10, 0.1),
                (60, 0.05),
                (110, 0.0),
                (500, 0.0),
            ],
        );
        // Warm-up from a non-zero start: 0.02 + (0.1 − 0.02)·4/8 = 0.06.
        let s =
            LearningRateSchedule::cosine_decay_with_warmup(0.02, 10.0, 0.5, Some(0.1), 8).unwrap();
        assert_values(&s, &[(4, 0.06), (8, 0.1), (13, 0.075), (18, 0.05)]);
    }

    #[test]
    fn schedule_cosine_decay_restarts() {
        // t_mul 2, m_mul 0.5: periods [0, 10), [10, 30), [30, 70) starting at 1, 0.5, 0.25.
        let s = LearningRateSchedule::cosine_decay_restarts(0.1, 10.0, 2.0, 0.5, 0.0).unwrap();
        assert_values(
            &s,
            &[
                (0, 0.1),
                (5, 0.05),    // ½ way through period 0
                (10, 0.05),   // restart at 0.5·0.1
                (20, 0.025),  // ½ way through period 1: 0.05·½
                (30, 0.025),  // restart at 0.25·0.1
                (50, 0.0125), // ½ way through period 2
            ],
        );
        // t_mul 1: every period lasts 10 steps; alpha 0.2 floors at 0.2·initial.
        let s = LearningRateSchedule::cosine_decay_restarts(1.0, 10.0, 1.0, 1.0, 0.2).unwrap();
        assert_values(&s, &[(0, 1.0), (5, 0.6), (10, 1.0), (15, 0.6), (25, 0.6)]);
    }

    #[test]
    fn schedule_linear_warmup() {
        let s = LearningRateSchedule::linear_warmup(
            0.0,
            4,
            LearningRateSchedule::constant(0.2).unwrap(),
        )
        .unwrap();
        assert_values(&s, &[(0, 0.0), (2, 0.1), (4, 0.2), (100, 0.2)]);
        // Warm-up 0.01 → 0.1 over 10 steps, then ExponentialDecay(0.1, 10, 0.5) from step 0.
        let inner = LearningRateSchedule::exponential_decay(0.1, 10.0, 0.5, false).unwrap();
        let s = LearningRateSchedule::linear_warmup(0.01, 10, inner).unwrap();
        assert_values(&s, &[(5, 0.055), (10, 0.1), (20, 0.05)]);
    }

    #[test]
    fn schedule_invalid_arguments() {
        assert!(LearningRateSchedule::exponential_decay(0.1, 0.0, 0.5, false).is_err());
        assert!(LearningRateSchedule::exponential_decay(f64::NAN, 1.0, 0.5, false).is_err());
        assert!(LearningRateSchedule::piecewise_constant_decay(vec![1, 2], vec![1.0]).is_err());
        let e = LearningRateSchedule::piecewise_constant_decay(vec![5, 5], vec![1.0, 2.0, 3.0])
            .unwrap_err();
        assert!(e.to_string().contains("PiecewiseConstantDecay"), "{e}");
        assert!(LearningRateSchedule::cosine_decay(0.1, -1.0, 0.0).is_err());
        assert!(LearningRateSchedule::cosine_decay_restarts(0.1, 10.0, 0.0, 1.0, 0.0).is_err());
        let bad_inner = LearningRateSchedule::Constant {
            value: f64::INFINITY,
        };
        assert!(LearningRateSchedule::linear_warmup(0.0, 3, bad_inner).is_err());
    }

    #[test]
    fn schedule_serde_round_trip() {
        let inner = LearningRateSchedule::cosine_decay_restarts(0.1, 10.0, 2.0, 0.5, 0.1).unwrap();
        let s = LearningRateSchedule::linear_warmup(0.0, 5, inner).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        let back: LearningRateSchedule = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert!(json.contains("CosineDecayRestarts"), "{json}");
    }
}
