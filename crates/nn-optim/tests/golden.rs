//! Golden values: every optimizer, 5 steps on a small quadratic, against an independent,
//! plainly written `f64` implementation of Keras 3's update rules (below, element by element,
//! sharing no code with the crate).
//!
//! Problem: parameters `dense/kernel` ∈ R³ and `dense/bias` ∈ R², loss `Σ (p − target)²`, so
//! the gradient is `2(p − target)`, recomputed from the current values at every step.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::BTreeMap;

use nn_optim::{
    optimizer_from_name, Adadelta, Adagrad, Adam, AdamW, Adamax, LearningRateSchedule, Lion, Nadam,
    Optimizer, ParamUpdate, RmsProp, Sgd,
};
use nn_tensor::{Float, Tensor};

const KERNEL0: [f64; 3] = [1.0, -2.0, 0.5];
const KERNEL_TARGET: [f64; 3] = [0.5, 0.5, 0.25];
const BIAS0: [f64; 2] = [0.3, -0.7];
const BIAS_TARGET: [f64; 2] = [-0.1, 0.2];
const STEPS: usize = 5;

// ------------------------------------------------------------------ reference implementation

#[derive(Clone, Debug)]
enum Rule {
    Sgd {
        momentum: f64,
        nesterov: bool,
    },
    Adam {
        b1: f64,
        b2: f64,
        eps: f64,
        amsgrad: bool,
    },
    RmsProp {
        rho: f64,
        momentum: f64,
        eps: f64,
        centered: bool,
    },
    Adagrad {
        init: f64,
        eps: f64,
    },
    Adadelta {
        rho: f64,
        eps: f64,
    },
    Nadam {
        b1: f64,
        b2: f64,
        eps: f64,
    },
    Adamax {
        b1: f64,
        b2: f64,
        eps: f64,
    },
    Lion {
        b1: f64,
        b2: f64,
    },
}

/// Keras 3's optimizer loop, written out plainly in f64.
struct Reference {
    rule: Rule,
    lr: Box<dyn Fn(u64) -> f64>,
    weight_decay: Option<f64>,
    exclude: Vec<&'static str>,
    clipnorm: Option<f64>,
    clipvalue: Option<f64>,
    global_clipnorm: Option<f64>,
    iterations: u64,
    /// key → slot name → values
    slots: BTreeMap<String, BTreeMap<&'static str, Vec<f64>>>,
    u_product: f64,
}

impl Reference {
    fn new(rule: Rule, lr: f64) -> Self {
        Reference {
            rule,
            lr: Box::new(move |_| lr),
            weight_decay: None,
            exclude: vec![],
            clipnorm: None,
            clipvalue: None,
            global_clipnorm: None,
            iterations: 0,
            slots: BTreeMap::new(),
            u_product: 1.0,
        }
    }

    fn slot(&mut self, key: &str, name: &'static str, n: usize, init: f64) -> Vec<f64> {
        self.slots
            .entry(key.to_string())
            .or_default()
            .entry(name)
            .or_insert_with(|| vec![init; n])
            .clone()
    }

    fn put(&mut self, key: &str, name: &'static str, v: Vec<f64>) {
        self.slots.get_mut(key).unwrap().insert(name, v);
    }

    fn step(&mut self, params: &mut [(&str, &mut Vec<f64>, Vec<f64>)]) {
        let lr = (self.lr)(self.iterations);
        // 1. clipping
        if let Some(c) = self.clipnorm {
            for (_, _, g) in params.iter_mut() {
                let n = g.iter().map(|x| x * x).sum::<f64>().sqrt();
                for x in g.iter_mut() {
                    *x = *x * c / n.max(c);
                }
            }
        } else if let Some(c) = self.global_clipnorm {
            let n = params
                .iter()
                .map(|(_, _, g)| g.iter().map(|x| x * x).sum::<f64>())
                .sum::<f64>()
                .sqrt();
            let scale = c * (1.0 / n).min(1.0 / c);
            for (_, _, g) in params.iter_mut() {
                for x in g.iter_mut() {
                    *x *= scale;
                }
            }
        } else if let Some(c) = self.clipvalue {
            for (_, _, g) in params.iter_mut() {
                for x in g.iter_mut() {
                    *x = x.clamp(-c, c);
                }
            }
        }
        // 2. weight decay
        if let Some(wd) = self.weight_decay {
            for (key, w, _) in params.iter_mut() {
                if !self.exclude.iter().any(|e| key.contains(e)) {
                    for x in w.iter_mut() {
                        *x = *x - *x * wd * lr;
                    }
                }
            }
        }
        // 3. the rule
        let t = (self.iterations + 1) as f64;
        if let Rule::Nadam { b1, .. } = self.rule {
            self.u_product *= b1 * (1.0 - 0.5 * 0.96f64.powf(t));
        }
        for (key, w, g) in params.iter_mut() {
            let n = w.len();
            match self.rule.clone() {
                Rule::Sgd { momentum, nesterov } => {
                    if momentum == 0.0 {
                        for i in 0..n {
                            w[i] -= g[i] * lr;
                        }
                    } else {
                        let mut m = self.slot(key, "momentum", n, 0.0);
                        for i in 0..n {
                            m[i] = m[i] * momentum - g[i] * lr;
                            if nesterov {
                                w[i] += m[i] * momentum - g[i] * lr;
                            } else {
                                w[i] += m[i];
                            }
                        }
                        self.put(key, "momentum", m);
                    }
                }
                Rule::Adam {
                    b1,
                    b2,
                    eps,
                    amsgrad,
                } => {
                    let mut m = self.slot(key, "momentum", n, 0.0);
                    let mut v = self.slot(key, "velocity", n, 0.0);
                    let mut vh = self.slot(key, "velocity_hat", n, 0.0);
                    let alpha = lr * (1.0 - b2.powf(t)).sqrt() / (1.0 - b1.powf(t));
                    for i in 0..n {
                        m[i] += (g[i] - m[i]) * (1.0 - b1);
                        v[i] += (g[i] * g[i] - v[i]) * (1.0 - b2);
                        let denom = if amsgrad {
                            vh[i] = vh[i].max(v[i]);
                            vh[i]
                        } else {
                            v[i]
                        };
                        w[i] -= alpha * m[i] / (denom.sqrt() + eps);
                    }
                    self.put(key, "momentum", m);
                    self.put(key, "velocity", v);
                    if amsgrad {
                        self.put(key, "velocity_hat", vh);
                    } else {
                        self.slots.get_mut(*key).unwrap().remove("velocity_hat");
                    }
                }
                Rule::RmsProp {
                    rho,
                    momentum,
                    eps,
                    centered,
                } => {
                    let mut v = self.slot(key, "velocity", n, 0.0);
                    let mut mo = self.slot(key, "momentum", n, 0.0);
                    let mut a = self.slot(key, "average_gradient", n, 0.0);
                    for i in 0..n {
                        v[i] = rho * v[i] + (1.0 - rho) * g[i] * g[i];
                        let d = if centered {
                            a[i] = rho * a[i] + (1.0 - rho) * g[i];
                            v[i] - a[i] * a[i] + eps
                        } else {
                            v[i] + eps
                        };
                        let inc = lr * g[i] / d.sqrt();
                        if momentum > 0.0 {
                            mo[i] = momentum * mo[i] + inc;
                            w[i] -= mo[i];
                        } else {
                            w[i] -= inc;
                        }
                    }
                    self.put(key, "velocity", v);
                    self.put(key, "momentum", mo);
                    self.put(key, "average_gradient", a);
                    let s = self.slots.get_mut(*key).unwrap();
                    if momentum == 0.0 {
                        s.remove("momentum");
                    }
                    if !centered {
                        s.remove("average_gradient");
                    }
                }
                Rule::Adagrad { init, eps } => {
                    let mut s = self.slot(key, "accumulator", n, init);
                    for i in 0..n {
                        s[i] += g[i] * g[i];
                        w[i] -= lr * g[i] / (s[i] + eps).sqrt();
                    }
                    self.put(key, "accumulator", s);
                }
                Rule::Adadelta { rho, eps } => {
                    let mut eg = self.slot(key, "accumulated_grad", n, 0.0);
                    let mut ed = self.slot(key, "accumulated_delta_var", n, 0.0);
                    for i in 0..n {
                        eg[i] = rho * eg[i] + (1.0 - rho) * g[i] * g[i];
                        let delta = -((ed[i] + eps).sqrt() * g[i]) / (eg[i] + eps).sqrt();
                        ed[i] = rho * ed[i] + (1.0 - rho) * delta * delta;
                        w[i] += lr * delta;
                    }
                    self.put(key, "accumulated_grad", eg);
                    self.put(key, "accumulated_delta_var", ed);
                }
                Rule::Nadam { b1, b2, eps } => {
                    let mut m = self.slot(key, "momentum", n, 0.0);
                    let mut v = self.slot(key, "velocity", n, 0.0);
                    let u_t = b1 * (1.0 - 0.5 * 0.96f64.powf(t));
                    let u_t1 = b1 * (1.0 - 0.5 * 0.96f64.powf(t + 1.0));
                    let prod = self.u_product;
                    let prod_next = prod * u_t1;
                    for i in 0..n {
                        m[i] += (g[i] - m[i]) * (1.0 - b1);
                        v[i] += (g[i] * g[i] - v[i]) * (1.0 - b2);
                        let m_hat =
                            u_t1 * m[i] / (1.0 - prod_next) + (1.0 - u_t) * g[i] / (1.0 - prod);
                        let v_hat = v[i] / (1.0 - b2.powf(t));
                        w[i] -= m_hat * lr / (v_hat.sqrt() + eps);
                    }
                    self.put(key, "momentum", m);
                    self.put(key, "velocity", v);
                }
                Rule::Adamax { b1, b2, eps } => {
                    let mut m = self.slot(key, "momentum", n, 0.0);
                    let mut u = self.slot(key, "norm", n, 0.0);
                    for i in 0..n {
                        m[i] += (g[i] - m[i]) * (1.0 - b1);
                        u[i] = (b2 * u[i]).max(g[i].abs());
                        w[i] -= lr * m[i] / ((1.0 - b1.powf(t)) * (u[i] + eps));
                    }
                    self.put(key, "momentum", m);
                    self.put(key, "norm", u);
                }
                Rule::Lion { b1, b2 } => {
                    let mut m = self.slot(key, "momentum", n, 0.0);
                    for i in 0..n {
                        let c = m[i] * b1 + g[i] * (1.0 - b1);
                        let sign = if c > 0.0 {
                            1.0
                        } else if c < 0.0 {
                            -1.0
                        } else {
                            0.0
                        };
                        w[i] -= lr * sign;
                        m[i] = m[i] * b2 + g[i] * (1.0 - b2);
                    }
                    self.put(key, "momentum", m);
                }
            }
        }
        self.iterations += 1;
    }
}

fn grad(w: &[f64], target: &[f64]) -> Vec<f64> {
    w.iter().zip(target).map(|(w, t)| 2.0 * (w - t)).collect()
}

/// Runs the reference for `STEPS` steps; returns (kernel, bias, slots).
fn run_reference(r: &mut Reference) -> (Vec<f64>, Vec<f64>) {
    let mut k = KERNEL0.to_vec();
    let mut b = BIAS0.to_vec();
    for _ in 0..STEPS {
        let gk = grad(&k, &KERNEL_TARGET);
        let gb = grad(&b, &BIAS_TARGET);
        r.step(&mut [("dense/kernel", &mut k, gk), ("dense/bias", &mut b, gb)]);
    }
    (k, b)
}

/// Runs the optimizer in `T` for `STEPS` steps; returns (kernel, bias) as f64.
fn run_optimizer<T: Float>(opt: &mut dyn Optimizer<T>) -> (Vec<f64>, Vec<f64>) {
    let mut k = Tensor::<T>::from_f64s(&KERNEL0, [3]).unwrap();
    let mut b = Tensor::<T>::from_f64s(&BIAS0, [2]).unwrap();
    let kt = Tensor::<T>::from_f64s(&KERNEL_TARGET, [3]).unwrap();
    let bt = Tensor::<T>::from_f64s(&BIAS_TARGET, [2]).unwrap();
    for _ in 0..STEPS {
        let gk = k.sub(&kt).unwrap().mul_scalar(T::of(2.0));
        let gb = b.sub(&bt).unwrap().mul_scalar(T::of(2.0));
        opt.apply(&mut [
            ParamUpdate::new("dense/kernel", &mut k, &gk),
            ParamUpdate::new("dense/bias", &mut b, &gb),
        ])
        .unwrap();
    }
    assert_eq!(opt.iterations(), STEPS as u64);
    (k.to_f64_vec(), b.to_f64_vec())
}

fn assert_close(what: &str, got: &[f64], want: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1e-3f64, |m, x| m.max(x.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs() / w.abs().max(scale * 1e-3).max(1e-12);
        assert!(
            err <= rtol,
            "{what}[{i}]: got {g}, want {w} (relative error {err:e} > {rtol:e})"
        );
    }
}

/// Runs `make` in f32 and f64 against the reference (weights and every slot).
fn check(
    name: &str,
    make: impl Fn() -> (Box<dyn Optimizer<f32>>, Box<dyn Optimizer<f64>>),
    mut r: Reference,
) {
    let (want_k, want_b) = run_reference(&mut r);
    // The run must actually move the parameters, or the comparison proves little.
    assert!(
        want_k
            .iter()
            .zip(KERNEL0)
            .any(|(a, b)| (a - b).abs() > 1e-3),
        "{name}: no movement"
    );
    let (mut o32, mut o64) = make();
    for (ty, rtol, (k, b), saved) in [
        ("f64", 1e-12, run_optimizer(&mut *o64), o64.to_saved()),
        ("f32", 1e-5, run_optimizer(&mut *o32), o32.to_saved()),
    ] {
        assert_close(&format!("{name} {ty} kernel"), &k, &want_k, rtol);
        assert_close(&format!("{name} {ty} bias"), &b, &want_b, rtol);
        let state = saved.state();
        assert_eq!(state.iterations, STEPS as u64);
        assert_eq!(
            state.slots.keys().collect::<Vec<_>>(),
            r.slots.keys().collect::<Vec<_>>(),
            "{name}: keys with state"
        );
        for (key, slots) in &r.slots {
            let got = &state.slots[key].values;
            assert_eq!(
                got.keys().map(|s| s.as_str()).collect::<Vec<_>>(),
                slots.keys().copied().collect::<Vec<_>>(),
                "{name} {ty}: slot names of {key}"
            );
            for (slot, want) in slots {
                assert_close(
                    &format!("{name} {ty} {key} {slot}"),
                    &got[*slot],
                    want,
                    rtol * 10.0,
                );
            }
        }
    }
}

macro_rules! both {
    ($e:expr) => {
        || -> (Box<dyn Optimizer<f32>>, Box<dyn Optimizer<f64>>) {
            let o32: Box<dyn Optimizer<f32>> = Box::new($e);
            let o64: Box<dyn Optimizer<f64>> = Box::new($e);
            (o32, o64)
        }
    };
}

// ------------------------------------------------------------------ hand-derived first steps

#[test]
fn golden_adam_first_step_by_hand() {
    // lr 0.1, β₁ 0.9, β₂ 0.999, ε 1e-7; w = [1, −2], target 0.5 → g = 2(w − 0.5) = [1, −5].
    // m = 0.1·g = [0.1, −0.5]; v = 0.001·g² = [0.001, 0.025];
    // α = 0.1·√(1 − 0.999)/(1 − 0.9) = √0.001 = 0.0316227766016838.
    // w₁ = 1 − α·0.1/(√0.001 + 1e-7) = 1 − 0.1/(1 + 3.16227766e-6) = 0.900000316226766
    // w₁ = −2 + α·0.5/(5·√0.001 + 1e-7) = −2 + 0.1/(1 + 6.32455532e-7) = −1.900000063245513
    let mut opt = Adam::<f64>::new().with_learning_rate(0.1);
    let mut w = Tensor::from_f64s(&[1.0, -2.0], [2]).unwrap();
    let g = Tensor::from_f64s(&[1.0, -5.0], [2]).unwrap();
    opt.apply(&mut [ParamUpdate::new("w", &mut w, &g)]).unwrap();
    let w = w.to_vec();
    assert!((w[0] - 0.900000316226766).abs() < 1e-14, "{}", w[0]);
    assert!((w[1] + 1.900000063245513).abs() < 1e-14, "{}", w[1]);
}

#[test]
fn golden_sgd_momentum_first_steps_by_hand() {
    // lr 0.1, momentum 0.9; w₀ = 1, target 0.5.
    // step 1: g = 1,   v = 0.9·0 − 0.1·1 = −0.1,          w = 0.9
    // step 2: g = 0.8, v = 0.9·(−0.1) − 0.1·0.8 = −0.17,  w = 0.73
    // Nesterov step 1: v = −0.1, w = 1 + (0.9·(−0.1) − 0.1·1) = 0.81
    for (nesterov, want) in [(false, [0.9, 0.73]), (true, [0.81, f64::NAN])] {
        let mut opt = Sgd::<f64>::new()
            .with_learning_rate(0.1)
            .momentum(0.9)
            .nesterov(nesterov);
        let mut w = Tensor::from_f64s(&[1.0], [1]).unwrap();
        for want in want.iter().filter(|v| !v.is_nan()) {
            let g = w.sub_scalar(0.5).mul_scalar(2.0);
            opt.apply(&mut [ParamUpdate::new("w", &mut w, &g)]).unwrap();
            assert!(
                (w.to_vec()[0] - want).abs() < 1e-14,
                "nesterov {nesterov}: {w:?} vs {want}"
            );
        }
    }
}

// ------------------------------------------------------------------ per optimizer

#[test]
fn golden_sgd() {
    check(
        "sgd",
        both!(Sgd::new().with_learning_rate(0.1)),
        Reference::new(
            Rule::Sgd {
                momentum: 0.0,
                nesterov: false,
            },
            0.1,
        ),
    );
}

#[test]
fn golden_sgd_momentum() {
    check(
        "sgd momentum",
        both!(Sgd::new().with_learning_rate(0.1).momentum(0.9)),
        Reference::new(
            Rule::Sgd {
                momentum: 0.9,
                nesterov: false,
            },
            0.1,
        ),
    );
}

#[test]
fn golden_sgd_nesterov() {
    check(
        "sgd nesterov",
        both!(Sgd::new()
            .with_learning_rate(0.1)
            .momentum(0.8)
            .nesterov(true)),
        Reference::new(
            Rule::Sgd {
                momentum: 0.8,
                nesterov: true,
            },
            0.1,
        ),
    );
}

#[test]
fn golden_adam() {
    let rule = Rule::Adam {
        b1: 0.9,
        b2: 0.999,
        eps: 1e-7,
        amsgrad: false,
    };
    check(
        "adam",
        both!(Adam::new().with_learning_rate(0.1)),
        Reference::new(rule, 0.1),
    );
}

#[test]
fn golden_adam_amsgrad_custom_betas() {
    let rule = Rule::Adam {
        b1: 0.8,
        b2: 0.9,
        eps: 1e-3,
        amsgrad: true,
    };
    check(
        "adam amsgrad",
        both!(Adam::new()
            .with_learning_rate(0.2)
            .beta_1(0.8)
            .beta_2(0.9)
            .epsilon(1e-3)
            .amsgrad(true)),
        Reference::new(rule, 0.2),
    );
}

#[test]
fn golden_adamw() {
    let rule = Rule::Adam {
        b1: 0.9,
        b2: 0.999,
        eps: 1e-7,
        amsgrad: false,
    };
    let mut r = Reference::new(rule, 0.1);
    r.weight_decay = Some(0.3);
    check(
        "adamw",
        both!(AdamW::new().with_learning_rate(0.1).weight_decay(0.3)),
        r,
    );
}

#[test]
fn golden_rmsprop() {
    let rule = Rule::RmsProp {
        rho: 0.9,
        momentum: 0.0,
        eps: 1e-7,
        centered: false,
    };
    check(
        "rmsprop",
        both!(RmsProp::new().with_learning_rate(0.05)),
        Reference::new(rule, 0.05),
    );
}

#[test]
fn golden_rmsprop_momentum() {
    let rule = Rule::RmsProp {
        rho: 0.8,
        momentum: 0.5,
        eps: 1e-7,
        centered: false,
    };
    check(
        "rmsprop momentum",
        both!(RmsProp::new()
            .with_learning_rate(0.05)
            .rho(0.8)
            .momentum(0.5)),
        Reference::new(rule, 0.05),
    );
}

#[test]
fn golden_rmsprop_centered() {
    let rule = Rule::RmsProp {
        rho: 0.9,
        momentum: 0.0,
        eps: 1e-4,
        centered: true,
    };
    check(
        "rmsprop centered",
        both!(RmsProp::new()
            .with_learning_rate(0.01)
            .epsilon(1e-4)
            .centered(true)),
        Reference::new(rule, 0.01),
    );
}

#[test]
fn golden_rmsprop_centered_momentum() {
    let rule = Rule::RmsProp {
        rho: 0.9,
        momentum: 0.7,
        eps: 1e-4,
        centered: true,
    };
    check(
        "rmsprop centered momentum",
        both!(RmsProp::new()
            .with_learning_rate(0.01)
            .epsilon(1e-4)
            .centered(true)
            .momentum(0.7)),
        Reference::new(rule, 0.01),
    );
}

#[test]
fn golden_adagrad() {
    let rule = Rule::Adagrad {
        init: 0.1,
        eps: 1e-7,
    };
    check(
        "adagrad",
        both!(Adagrad::new().with_learning_rate(0.1)),
        Reference::new(rule, 0.1),
    );
}

#[test]
fn golden_adagrad_initial_accumulator() {
    let rule = Rule::Adagrad {
        init: 2.0,
        eps: 1e-3,
    };
    check(
        "adagrad init",
        both!(Adagrad::new()
            .with_learning_rate(0.3)
            .initial_accumulator_value(2.0)
            .epsilon(1e-3)),
        Reference::new(rule, 0.3),
    );
}

#[test]
fn golden_adadelta() {
    let rule = Rule::Adadelta {
        rho: 0.95,
        eps: 1e-7,
    };
    // Keras' default lr (0.001) barely moves; lr 1 is Adadelta's original form.
    check(
        "adadelta",
        both!(Adadelta::new().with_learning_rate(1.0)),
        Reference::new(rule, 1.0),
    );
}

#[test]
fn golden_adadelta_custom() {
    let rule = Rule::Adadelta {
        rho: 0.5,
        eps: 1e-2,
    };
    check(
        "adadelta custom",
        both!(Adadelta::new()
            .with_learning_rate(0.5)
            .rho(0.5)
            .epsilon(1e-2)),
        Reference::new(rule, 0.5),
    );
}

#[test]
fn golden_nadam() {
    let rule = Rule::Nadam {
        b1: 0.9,
        b2: 0.999,
        eps: 1e-7,
    };
    check(
        "nadam",
        both!(Nadam::new().with_learning_rate(0.1)),
        Reference::new(rule, 0.1),
    );
}

#[test]
fn golden_nadam_custom() {
    let rule = Rule::Nadam {
        b1: 0.5,
        b2: 0.9,
        eps: 1e-3,
    };
    check(
        "nadam custom",
        both!(Nadam::new()
            .with_learning_rate(0.1)
            .beta_1(0.5)
            .beta_2(0.9)
            .epsilon(1e-3)),
        Reference::new(rule, 0.1),
    );
}

#[test]
fn golden_adamax() {
    let rule = Rule::Adamax {
        b1: 0.9,
        b2: 0.999,
        eps: 1e-7,
    };
    check(
        "adamax",
        both!(Adamax::new().with_learning_rate(0.1)),
        Reference::new(rule, 0.1),
    );
}

#[test]
fn golden_lion() {
    let rule = Rule::Lion { b1: 0.9, b2: 0.99 };
    check(
        "lion",
        both!(Lion::new().with_learning_rate(0.1)),
        Reference::new(rule, 0.1),
    );
}

#[test]
fn golden_keras_defaults_by_name() {
    // Every optimizer from its name with Keras' default hyper-parameters (f64 only, the
    // default learning rates move the parameters by ~1e-3, too little for f32 at 1e-5).
    let cases = [
        (
            "sgd",
            Rule::Sgd {
                momentum: 0.0,
                nesterov: false,
            },
            0.01,
            None,
        ),
        (
            "adam",
            Rule::Adam {
                b1: 0.9,
                b2: 0.999,
                eps: 1e-7,
                amsgrad: false,
            },
            0.001,
            None,
        ),
        (
            "adamw",
            Rule::Adam {
                b1: 0.9,
                b2: 0.999,
                eps: 1e-7,
                amsgrad: false,
            },
            0.001,
            Some(0.004),
        ),
        (
            "rmsprop",
            Rule::RmsProp {
                rho: 0.9,
                momentum: 0.0,
                eps: 1e-7,
                centered: false,
            },
            0.001,
            None,
        ),
        (
            "adagrad",
            Rule::Adagrad {
                init: 0.1,
                eps: 1e-7,
            },
            0.001,
            None,
        ),
        (
            "adadelta",
            Rule::Adadelta {
                rho: 0.95,
                eps: 1e-7,
            },
            0.001,
            None,
        ),
        (
            "nadam",
            Rule::Nadam {
                b1: 0.9,
                b2: 0.999,
                eps: 1e-7,
            },
            0.001,
            None,
        ),
        (
            "adamax",
            Rule::Adamax {
                b1: 0.9,
                b2: 0.999,
                eps: 1e-7,
            },
            0.001,
            None,
        ),
        ("lion", Rule::Lion { b1: 0.9, b2: 0.99 }, 0.001, None),
    ];
    for (name, rule, lr, wd) in cases {
        let mut r = Reference::new(rule, lr);
        r.weight_decay = wd;
        let (want_k, want_b) = run_reference(&mut r);
        let mut opt = optimizer_from_name::<f64>(name).unwrap();
        assert_eq!(opt.learning_rate(), lr, "{name}");
        let (k, b) = run_optimizer(&mut *opt);
        // Compare the displacement, which is what the defaults change.
        let dk: Vec<f64> = k.iter().zip(KERNEL0).map(|(a, b)| a - b).collect();
        let want_dk: Vec<f64> = want_k.iter().zip(KERNEL0).map(|(a, b)| a - b).collect();
        assert_close(
            &format!("{name} default kernel displacement"),
            &dk,
            &want_dk,
            1e-9,
        );
        assert_close(&format!("{name} default bias"), &b, &want_b, 1e-12);
    }
}

// ------------------------------------------------------------------ shared options

#[test]
fn golden_clipvalue() {
    let mut r = Reference::new(
        Rule::Sgd {
            momentum: 0.9,
            nesterov: false,
        },
        0.1,
    );
    r.clipvalue = Some(0.5);
    check(
        "sgd clipvalue",
        both!(Sgd::new()
            .with_learning_rate(0.1)
            .momentum(0.9)
            .clipvalue(0.5)),
        r,
    );
}

#[test]
fn golden_clipnorm() {
    let mut r = Reference::new(
        Rule::Adam {
            b1: 0.9,
            b2: 0.999,
            eps: 1e-7,
            amsgrad: false,
        },
        0.1,
    );
    r.clipnorm = Some(1.0);
    check(
        "adam clipnorm",
        both!(Adam::new().with_learning_rate(0.1).clipnorm(1.0)),
        r,
    );
}

#[test]
fn golden_global_clipnorm() {
    let mut r = Reference::new(
        Rule::Sgd {
            momentum: 0.0,
            nesterov: false,
        },
        0.2,
    );
    r.global_clipnorm = Some(1.5);
    check(
        "sgd global_clipnorm",
        both!(Sgd::new().with_learning_rate(0.2).global_clipnorm(1.5)),
        r,
    );
}

#[test]
fn golden_weight_decay_with_exclusion() {
    let mut r = Reference::new(
        Rule::RmsProp {
            rho: 0.9,
            momentum: 0.0,
            eps: 1e-7,
            centered: false,
        },
        0.05,
    );
    r.weight_decay = Some(0.5);
    r.exclude = vec!["bias"];
    check(
        "rmsprop weight decay",
        both!(RmsProp::new()
            .with_learning_rate(0.05)
            .weight_decay(0.5)
            .exclude_from_weight_decay(&["bias"])),
        r,
    );
}

#[test]
fn golden_schedule_evaluated_at_iterations() {
    // ExponentialDecay(0.2, 2, 0.5): the step with iterations = i uses 0.2·0.5^(i/2).
    let mut r = Reference::new(
        Rule::Nadam {
            b1: 0.9,
            b2: 0.999,
            eps: 1e-7,
        },
        0.0,
    );
    r.lr = Box::new(|i| 0.2 * 0.5f64.powf(i as f64 / 2.0));
    r.weight_decay = Some(0.1);
    let schedule = LearningRateSchedule::exponential_decay(0.2, 2.0, 0.5, false).unwrap();
    check(
        "nadam schedule",
        both!(Nadam::new()
            .with_schedule(schedule.clone())
            .weight_decay(0.1)),
        r,
    );
}
