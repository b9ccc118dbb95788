//! The optimizer contract, the options all optimizers share, and the per-parameter state
//! machinery (slots keyed by parameter key, saving and restoring).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use nn_tensor::{Float, Tensor};
use serde::{Deserialize, Serialize};

use crate::clip::{check_limit, combine_norms, global_scale, norm_scale};
use crate::kernel::Pre;
use crate::{LearningRateSchedule, OptimError, Result, SavedOptimizer};

/// One parameter to update: a stable key (the model's `"layer_name/param_name"`), its value
/// and its gradient (same shape).
///
/// The key is what the optimizer's state (moments, accumulators) is stored under, so it must
/// stay the same from step to step and be unique within a step.
pub struct ParamUpdate<'a, T: Float = f32> {
    /// The parameter's stable key.
    pub key: &'a str,
    /// The value, updated in place.
    pub value: &'a mut Tensor<T>,
    /// The gradient of the loss with respect to the value.
    pub grad: &'a Tensor<T>,
}

impl<'a, T: Float> ParamUpdate<'a, T> {
    /// Bundles a key, a value and its gradient.
    pub fn new(key: &'a str, value: &'a mut Tensor<T>, grad: &'a Tensor<T>) -> Self {
        ParamUpdate { key, value, grad }
    }
}

impl<T: Float> fmt::Debug for ParamUpdate<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParamUpdate")
            .field("key", &self.key)
            .field("value_shape", &self.value.shape())
            .field("grad_shape", &self.grad.shape())
            .finish()
    }
}

/// A gradient-descent optimizer, as Keras' `keras.optimizers.Optimizer`.
///
/// One [`apply`](Optimizer::apply) is one training step: gradients are clipped (when
/// `clipnorm`, `clipvalue` or `global_clipnorm` is set), weight decay is applied
/// (`w −= w·weight_decay·lr`, when set), then the optimizer's update rule, all fused into one
/// pass over each parameter; then [`iterations`](Optimizer::iterations) grows by one. The
/// learning rate of a step is the schedule's value at `iterations` before the step.
///
/// Optimizer state (moments, accumulators: Keras' "slots") is created on a parameter's first
/// step and kept under its key.
pub trait Optimizer<T: Float = f32>: Send + Sync + fmt::Debug {
    /// The optimizer's name (Keras' lower-case default: "adam", "sgd", ...).
    fn name(&self) -> &str;

    /// Applies one step to all parameters (clipping first if configured) and increments
    /// `iterations`. Nothing is changed when an error is returned (a gradient whose shape
    /// differs from its parameter's, a key given twice, state of another shape under a key,
    /// an invalid configuration, or a negative or non-finite learning rate). An empty list
    /// is a no-op that does not count as a step (as Keras).
    fn apply(&mut self, params: &mut [ParamUpdate<'_, T>]) -> Result<()>;

    /// The learning rate the next step will use (the schedule at the current iteration).
    fn learning_rate(&self) -> f64;

    /// Replaces the learning rate by a constant `lr` (for callbacks such as
    /// `ReduceLROnPlateau`). A schedule, if any, is replaced too. A negative or non-finite
    /// value makes the next `apply` fail.
    fn set_learning_rate(&mut self, lr: f64);

    /// The number of steps applied.
    fn iterations(&self) -> u64;

    /// The configuration and state, for saving (see [`SavedOptimizer::into_optimizer`]).
    fn to_saved(&self) -> SavedOptimizer;

    /// A boxed copy, state included.
    fn clone_box(&self) -> Box<dyn Optimizer<T>>;
}

impl<T: Float> Clone for Box<dyn Optimizer<T>> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// The options every optimizer has (Keras' base-optimizer arguments).
///
/// At most one of `clipnorm`, `clipvalue` and `global_clipnorm` may be set (as Keras).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommonConfig {
    /// The optimizer's name.
    pub name: String,
    /// The learning rate: a constant or a schedule.
    pub learning_rate: LearningRateSchedule,
    /// Decoupled weight decay: `w −= w·weight_decay·lr` before each update.
    pub weight_decay: Option<f64>,
    /// Clips each gradient tensor to this L2 norm.
    pub clipnorm: Option<f64>,
    /// Clips each gradient element to `[−clipvalue, clipvalue]`.
    pub clipvalue: Option<f64>,
    /// Clips all gradients together to this global L2 norm.
    pub global_clipnorm: Option<f64>,
    /// Parameters whose key contains any of these strings get no weight decay.
    #[serde(default)]
    pub exclude_from_weight_decay: Vec<String>,
}

impl CommonConfig {
    /// Defaults: a constant `learning_rate`, no weight decay, no clipping.
    pub fn new(name: &str, learning_rate: f64) -> Self {
        CommonConfig {
            name: name.into(),
            learning_rate: LearningRateSchedule::Constant {
                value: learning_rate,
            },
            weight_decay: None,
            clipnorm: None,
            clipvalue: None,
            global_clipnorm: None,
            exclude_from_weight_decay: Vec::new(),
        }
    }

    /// Checks the options.
    pub fn validate(&self) -> Result<()> {
        let name = &self.name;
        if let LearningRateSchedule::Constant { value } = self.learning_rate {
            check_lr(name, value, None)?;
        }
        self.learning_rate
            .validate()
            .map_err(|e| OptimError::config(name, format!("learning-rate schedule: {e}")))?;
        if let Some(wd) = self.weight_decay {
            if !(wd.is_finite() && wd >= 0.0) {
                return Err(OptimError::config(
                    name,
                    format!("`weight_decay` must be finite and ≥ 0, got {wd}"),
                ));
            }
        }
        let clips = [
            ("clipnorm", self.clipnorm),
            ("clipvalue", self.clipvalue),
            ("global_clipnorm", self.global_clipnorm),
        ];
        for (what, v) in clips {
            if let Some(v) = v {
                check_limit(name, what, v)?;
            }
        }
        if clips.iter().filter(|(_, v)| v.is_some()).count() > 1 {
            return Err(OptimError::config(
                name,
                format!(
                    "only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set, got \
                     clipnorm={:?}, clipvalue={:?}, global_clipnorm={:?}",
                    self.clipnorm, self.clipvalue, self.global_clipnorm
                ),
            ));
        }
        Ok(())
    }

    /// Whether weight decay applies to the parameter `key`.
    fn decays(&self, key: &str) -> bool {
        !self
            .exclude_from_weight_decay
            .iter()
            .any(|s| key.contains(s.as_str()))
    }
}

fn check_lr(name: &str, lr: f64, iteration: Option<u64>) -> Result<()> {
    if lr.is_finite() && lr >= 0.0 {
        return Ok(());
    }
    let at = iteration
        .map(|i| format!(" at iteration {i}"))
        .unwrap_or_default();
    Err(OptimError::config(
        name,
        format!("the learning rate{at} must be finite and ≥ 0, got {lr}"),
    ))
}

/// `v` in `[lo, hi)` (or `[lo, hi]` when `hi_inclusive`), else a configuration error.
pub(crate) fn check_range(
    name: &str,
    what: &str,
    v: f64,
    lo: f64,
    hi: f64,
    hi_inclusive: bool,
) -> Result<()> {
    let ok = v >= lo && (v < hi || (hi_inclusive && v == hi));
    if ok {
        Ok(())
    } else {
        let close = if hi_inclusive { ']' } else { ')' };
        Err(OptimError::config(
            name,
            format!("`{what}` must be in [{lo}, {hi}{close}, got {v}"),
        ))
    }
}

/// `epsilon`-like values: finite and ≥ 0.
pub(crate) fn check_non_negative(name: &str, what: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(OptimError::config(
            name,
            format!("`{what}` must be finite and ≥ 0, got {v}"),
        ))
    }
}

/// Scalars of one step shared by all parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step {
    /// The learning rate.
    pub lr: f64,
    /// The 1-based step number (`iterations + 1`).
    pub t: u64,
    /// A per-step scalar of the rule (Nadam's momentum-cache product), else 0.
    pub aux: f64,
}

/// An update rule with its configuration (crate-internal).
pub(crate) trait Rule: Clone + fmt::Debug + Send + Sync + 'static {
    /// The shared options.
    fn common(&self) -> &CommonConfig;
    /// Checks the rule's own hyper-parameters.
    fn check(&self) -> Result<()>;
    /// Names of the per-parameter slots under this configuration, in storage order.
    fn slot_names(&self) -> &'static [&'static str];
    /// Initial value of every slot element.
    fn slot_init(&self) -> f64 {
        0.0
    }
    /// Called once per step before the updates; returns [`Step::aux`]. `cache` holds
    /// `(iterations, value)` from the previous step.
    fn begin_step(&self, _iterations: u64, _cache: &mut Option<(u64, f64)>) -> f64 {
        0.0
    }
    /// The fused update of one parameter; `slots` has `slot_names().len()` buffers of
    /// `w.len()` elements. Implementations pass `pre` to a `kernel::zip*` loop, which applies
    /// the gradient preprocessing and weight decay before the rule's per-element closure.
    fn update<T: Float>(
        &self,
        step: &Step,
        pre: Pre<T>,
        w: &mut [T],
        g: &[T],
        slots: &mut [Vec<T>],
    ) -> Result<()>;

    /// Checks everything.
    fn validate(&self) -> Result<()> {
        self.common().validate()?;
        self.check()
    }
}

/// The error for a slot list of the wrong length (prevented by `State::apply`'s checks).
pub(crate) fn slot_count_error(name: &str, expected: usize, found: usize) -> OptimError {
    OptimError::config(
        name,
        format!("expected {expected} state slot(s), found {found}"),
    )
}

/// One parameter's slots.
#[derive(Clone)]
struct SlotSet<T> {
    shape: Vec<usize>,
    bufs: Vec<Vec<T>>,
}

/// Iteration count, per-key slots, and a per-step scalar cache.
#[derive(Clone)]
pub(crate) struct State<T> {
    iterations: u64,
    slots: BTreeMap<String, SlotSet<T>>,
    cache: Option<(u64, f64)>,
}

impl<T: Float> State<T> {
    pub(crate) fn new() -> Self {
        State {
            iterations: 0,
            slots: BTreeMap::new(),
            cache: None,
        }
    }

    pub(crate) fn iterations(&self) -> u64 {
        self.iterations
    }

    /// Number of parameters with state.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// One step of `rule` over `params`; see [`Optimizer::apply`].
    pub(crate) fn apply<R: Rule>(
        &mut self,
        rule: &R,
        params: &mut [ParamUpdate<'_, T>],
    ) -> Result<()> {
        rule.validate()?;
        if params.is_empty() {
            return Ok(());
        }
        let common = rule.common();
        let name = &common.name;
        let names = rule.slot_names();
        let mut seen = BTreeSet::new();
        for p in params.iter() {
            if p.value.shape() != p.grad.shape() {
                return Err(OptimError::GradShape {
                    optimizer: name.clone(),
                    key: p.key.into(),
                    value: p.value.shape().to_vec(),
                    grad: p.grad.shape().to_vec(),
                });
            }
            if !seen.insert(p.key) {
                return Err(OptimError::DuplicateKey {
                    optimizer: name.clone(),
                    key: p.key.into(),
                });
            }
            if let Some(s) = self.slots.get(p.key) {
                if s.shape != p.value.shape() {
                    return Err(OptimError::StateShape {
                        optimizer: name.clone(),
                        key: p.key.into(),
                        value: p.value.shape().to_vec(),
                        state: s.shape.clone(),
                    });
                }
                if s.bufs.len() != names.len() {
                    return Err(OptimError::config(
                        name,
                        format!(
                            "the state of `{}` has {} slot(s) but this configuration uses {:?}",
                            p.key,
                            s.bufs.len(),
                            names
                        ),
                    ));
                }
            }
        }
        let lr = common.learning_rate.lr(self.iterations);
        check_lr(name, lr, Some(self.iterations))?;

        let global = common.global_clipnorm.map(|c| {
            global_scale(
                combine_norms(params.iter().map(|p| p.grad.norm_l2().f64())),
                c,
            )
        });
        let aux = rule.begin_step(self.iterations, &mut self.cache);
        let step = Step {
            lr,
            t: self.iterations + 1,
            aux,
        };
        let init = T::of(rule.slot_init());
        for p in params.iter_mut() {
            let scale = match (common.clipnorm, global) {
                (Some(c), _) => norm_scale(p.grad.norm_l2().f64(), c),
                (None, Some(s)) => s,
                (None, None) => 1.0,
            };
            let decay = common
                .weight_decay
                .filter(|_| common.decays(p.key))
                .map(|wd| wd * lr);
            let pre = Pre::new(scale, common.clipvalue, decay);
            let bufs: &mut [Vec<T>] = if names.is_empty() {
                // Stateless rule (plain SGD): nothing to keep.
                &mut []
            } else {
                if !self.slots.contains_key(p.key) {
                    let n = p.value.len();
                    let set = SlotSet {
                        shape: p.value.shape().to_vec(),
                        bufs: vec![vec![init; n]; names.len()],
                    };
                    self.slots.insert(p.key.to_string(), set);
                }
                match self.slots.get_mut(p.key) {
                    Some(set) => &mut set.bufs,
                    None => {
                        return Err(OptimError::config(
                            name,
                            format!("no state for `{}`", p.key),
                        ))
                    }
                }
            };
            let contiguous;
            let g = match p.grad.as_slice() {
                Some(g) => g,
                None => {
                    contiguous = p.grad.contiguous();
                    contiguous.as_slice().ok_or_else(|| {
                        OptimError::config(
                            name,
                            format!("gradient of `{}` is not contiguous", p.key),
                        )
                    })?
                }
            };
            rule.update(&step, pre, p.value.make_contiguous_mut(), g, bufs)?;
        }
        self.iterations += 1;
        Ok(())
    }

    /// The saved form (slots as `f64`).
    pub(crate) fn to_saved<R: Rule>(&self, rule: &R) -> SavedState {
        let names = rule.slot_names();
        let slots = self
            .slots
            .iter()
            .map(|(key, s)| {
                let values = names
                    .iter()
                    .zip(&s.bufs)
                    .map(|(n, b)| (n.to_string(), b.iter().map(|v| v.f64()).collect()))
                    .collect();
                (
                    key.clone(),
                    SavedSlots {
                        shape: s.shape.clone(),
                        values,
                    },
                )
            })
            .collect();
        SavedState {
            iterations: self.iterations,
            slots,
        }
    }

    /// Restores a saved state, checking it against `rule`'s slots.
    pub(crate) fn from_saved<R: Rule>(rule: &R, saved: SavedState) -> Result<Self> {
        let name = &rule.common().name;
        let names = rule.slot_names();
        let bad = |message: String| OptimError::Saved {
            optimizer: name.clone(),
            message,
        };
        let mut slots = BTreeMap::new();
        for (key, mut s) in saved.slots {
            let n: usize = s.shape.iter().product();
            let found: Vec<&String> = s.values.keys().collect();
            if found.len() != names.len() || !names.iter().all(|k| s.values.contains_key(*k)) {
                return Err(bad(format!(
                    "parameter `{key}` has slots {found:?}; this configuration uses {names:?}"
                )));
            }
            let mut bufs = Vec::with_capacity(names.len());
            for slot in names {
                let v = s.values.remove(*slot).unwrap_or_default();
                if v.len() != n {
                    return Err(bad(format!(
                        "slot `{slot}` of parameter `{key}` has {} values for shape {:?} ({n} elements)",
                        v.len(),
                        s.shape
                    )));
                }
                bufs.push(v.into_iter().map(T::of).collect());
            }
            slots.insert(
                key,
                SlotSet {
                    shape: s.shape,
                    bufs,
                },
            );
        }
        Ok(State {
            iterations: saved.iterations,
            slots,
            cache: None,
        })
    }
}

/// An optimizer's saved state: the step count and, per parameter key, each slot's values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedState {
    /// Steps applied.
    pub iterations: u64,
    /// Slots per parameter key.
    pub slots: BTreeMap<String, SavedSlots>,
}

/// The slots of one parameter: its shape and each slot's values (row-major, as `f64`, which
/// holds `f32` and `f64` values exactly).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedSlots {
    /// The parameter's shape.
    pub shape: Vec<usize>,
    /// Values per slot name ("momentum", "velocity", ...).
    pub values: BTreeMap<String, Vec<f64>>,
}

/// Defines an optimizer type over a config type implementing `Rule`, with the shared builder
/// methods and the `Optimizer` impl.
macro_rules! optimizer_type {
    ($(#[$doc:meta])* $ty:ident, $cfg:ty, $variant:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $ty<T: nn_tensor::Float = f32> {
            config: $cfg,
            state: $crate::optimizer::State<T>,
        }

        impl<T: nn_tensor::Float> $ty<T> {
            /// An optimizer with this configuration and no state. The configuration is
            /// checked by [`Self::validate`] and before every step.
            pub fn from_config(config: $cfg) -> Self {
                $ty { config, state: $crate::optimizer::State::new() }
            }

            /// An optimizer with this configuration and a restored state.
            pub(crate) fn with_state(config: $cfg, state: $crate::optimizer::State<T>) -> Self {
                $ty { config, state }
            }

            /// The configuration.
            pub fn config(&self) -> &$cfg {
                &self.config
            }

            /// Checks the configuration.
            pub fn validate(&self) -> $crate::Result<()> {
                $crate::optimizer::Rule::validate(&self.config)
            }

            /// A constant learning rate.
            pub fn with_learning_rate(mut self, learning_rate: f64) -> Self {
                self.config.common.learning_rate =
                    $crate::LearningRateSchedule::Constant { value: learning_rate };
                self
            }

            /// A learning-rate schedule.
            pub fn with_schedule(mut self, schedule: $crate::LearningRateSchedule) -> Self {
                self.config.common.learning_rate = schedule;
                self
            }

            /// Renames the optimizer.
            pub fn with_name(mut self, name: &str) -> Self {
                self.config.common.name = name.into();
                self
            }

            /// Decoupled weight decay: `w −= w·weight_decay·lr` before each update.
            pub fn weight_decay(mut self, weight_decay: f64) -> Self {
                self.config.common.weight_decay = Some(weight_decay);
                self
            }

            /// Parameters whose key contains any of `names` get no weight decay.
            pub fn exclude_from_weight_decay(mut self, names: &[&str]) -> Self {
                self.config.common.exclude_from_weight_decay =
                    names.iter().map(|s| s.to_string()).collect();
                self
            }

            /// Clips each gradient tensor to L2 norm `clipnorm`.
            pub fn clipnorm(mut self, clipnorm: f64) -> Self {
                self.config.common.clipnorm = Some(clipnorm);
                self
            }

            /// Clips each gradient element to `[−clipvalue, clipvalue]`.
            pub fn clipvalue(mut self, clipvalue: f64) -> Self {
                self.config.common.clipvalue = Some(clipvalue);
                self
            }

            /// Clips all gradients together to global L2 norm `global_clipnorm`.
            pub fn global_clipnorm(mut self, global_clipnorm: f64) -> Self {
                self.config.common.global_clipnorm = Some(global_clipnorm);
                self
            }
        }

        impl<T: nn_tensor::Float> Default for $ty<T> {
            fn default() -> Self {
                Self::new()
            }
        }

        impl<T: nn_tensor::Float> std::fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("config", &self.config)
                    .field("iterations", &self.state.iterations())
                    .field("parameters_with_state", &self.state.len())
                    .finish()
            }
        }

        impl<T: nn_tensor::Float> $crate::Optimizer<T> for $ty<T> {
            fn name(&self) -> &str {
                &self.config.common.name
            }

            fn apply(&mut self, params: &mut [$crate::ParamUpdate<'_, T>]) -> $crate::Result<()> {
                self.state.apply(&self.config, params)
            }

            fn learning_rate(&self) -> f64 {
                self.config.common.learning_rate.lr(self.state.iterations())
            }

            fn set_learning_rate(&mut self, lr: f64) {
                self.config.common.learning_rate = $crate::LearningRateSchedule::Constant { value: lr };
            }

            fn iterations(&self) -> u64 {
                self.state.iterations()
            }

            fn to_saved(&self) -> $crate::SavedOptimizer {
                $crate::SavedOptimizer::$variant {
                    config: self.config.clone(),
                    state: self.state.to_saved(&self.config),
                }
            }

            fn clone_box(&self) -> Box<dyn $crate::Optimizer<T>> {
                Box::new(self.clone())
            }
        }
    };
}

pub(crate) use optimizer_type;
