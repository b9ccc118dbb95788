//! # nn-optim
//!
//! Keras-style optimizers, gradient clipping and learning-rate schedules for the `nn`
//! deep-learning library.
//!
//! An [`Optimizer`] updates parameters in place from their gradients, one
//! [`apply`](Optimizer::apply) per training step. Each parameter comes as a [`ParamUpdate`]:
//! a stable key (the model's `"layer_name/param_name"`) under which the optimizer keeps its
//! per-parameter state (moments, accumulators), the value, and the gradient.
//!
//! The built-in optimizers follow Keras 3's update rules and defaults exactly: [`Sgd`],
//! [`Adam`], [`AdamW`], [`RmsProp`], [`Adagrad`], [`Adadelta`], [`Nadam`], [`Adamax`] and
//! [`Lion`]. All accept Keras' base options: `clipnorm`, `clipvalue`, `global_clipnorm`,
//! `weight_decay` and a [`LearningRateSchedule`].
//!
//! Each step is one fused pass per parameter over its value, gradient and state slices (no
//! temporary tensors), parallel with `rayon` over fixed-size chunks for large parameters, so
//! the result does not depend on the number of threads.
//!
//! An optimizer's configuration and state save to a [`SavedOptimizer`] (serde) and load
//! back to continue bit-identically.
//!
//! ```
//! use nn_optim::{Adam, Optimizer, ParamUpdate};
//! use nn_tensor::Tensor;
//!
//! // Minimize ‖w − 3‖² from w = 0.
//! let mut opt = Adam::<f64>::new().with_learning_rate(0.1);
//! let mut w = Tensor::<f64>::zeros([2]);
//! for _ in 0..200 {
//!     let grad = w.sub_scalar(3.0).mul_scalar(2.0);
//!     opt.apply(&mut [ParamUpdate::new("w", &mut w, &grad)])?;
//! }
//! assert!(w.to_vec().iter().all(|&x| (x - 3.0).abs() < 0.05));
//! assert_eq!(opt.iterations(), 200);
//! # Ok::<(), nn_optim::OptimError>(())
//! ```

mod clip;
mod error;
mod kernel;
mod optimizer;
mod rules;
mod saved;
mod schedule;

pub use clip::{clip_by_global_norm, clip_by_norm, clip_by_value, global_norm};
pub use error::{OptimError, Result};
pub use optimizer::{CommonConfig, Optimizer, ParamUpdate, SavedSlots, SavedState};
pub use rules::adadelta::{Adadelta, AdadeltaConfig};
pub use rules::adagrad::{Adagrad, AdagradConfig};
pub use rules::adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use rules::adamax::{Adamax, AdamaxConfig};
pub use rules::lion::{Lion, LionConfig};
pub use rules::nadam::{Nadam, NadamConfig};
pub use rules::rmsprop::{RmsProp, RmsPropConfig};
pub use rules::sgd::{Sgd, SgdConfig};
pub use saved::{optimizer_from_name, SavedOptimizer, OPTIMIZER_NAMES};
pub use schedule::LearningRateSchedule;

/// The crate's guide (`docs/guide/nn-optim.md`), with examples that run as doctests.
#[doc = include_str!("../../../docs/guide/nn-optim.md")]
pub mod guide {}
