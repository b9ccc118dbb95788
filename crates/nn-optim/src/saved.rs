//! The serializable form of every optimizer, and construction by name.

use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::optimizer::{Rule, State};
use crate::{
    Adadelta, AdadeltaConfig, Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, AdamWConfig, Adamax,
    AdamaxConfig, Lion, LionConfig, Nadam, NadamConfig, OptimError, Optimizer, Result, RmsProp,
    RmsPropConfig, SavedState, Sgd, SgdConfig,
};

macro_rules! saved_optimizers {
    ($($variant:ident => $ty:ident($cfg:ty), $key:literal;)*) => {
        /// A built-in optimizer's configuration and state (step count and per-parameter slots),
        /// for saving and loading. [`SavedOptimizer::into_optimizer`] resumes exactly: the
        /// loaded optimizer's next steps are bit-identical to the original's.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        pub enum SavedOptimizer {
            $(
                #[doc = concat!("[`", stringify!($ty), "`].")]
                $variant {
                    /// The configuration.
                    config: $cfg,
                    /// The state.
                    state: SavedState,
                },
            )*
        }

        /// The names [`optimizer_from_name`] accepts (case-insensitive).
        pub const OPTIMIZER_NAMES: &[&str] = &[$($key),*];

        impl SavedOptimizer {
            /// The live optimizer, after checking the configuration and that the state fits it.
            pub fn into_optimizer<T: Float>(self) -> Result<Box<dyn Optimizer<T>>> {
                match self {
                    $(SavedOptimizer::$variant { config, state } => {
                        config.validate()?;
                        let state = State::from_saved(&config, state)?;
                        Ok(Box::new($ty::<T>::with_state(config, state)))
                    })*
                }
            }

            /// The optimizer's name.
            pub fn name(&self) -> &str {
                match self {
                    $(SavedOptimizer::$variant { config, .. } => &config.common.name,)*
                }
            }

            /// The saved state.
            pub fn state(&self) -> &SavedState {
                match self {
                    $(SavedOptimizer::$variant { state, .. } => state,)*
                }
            }
        }

        /// A built-in optimizer with Keras' defaults, by Keras name: "sgd", "adam", "adamw",
        /// "rmsprop", "adagrad", "adadelta", "nadam", "adamax" or "lion" (case-insensitive,
        /// so Keras class names such as "RMSprop" work too).
        ///
        /// ```
        /// let opt = nn_optim::optimizer_from_name::<f32>("Adam")?;
        /// assert_eq!(opt.name(), "adam");
        /// assert_eq!(opt.learning_rate(), 0.001);
        /// assert!(nn_optim::optimizer_from_name::<f32>("adamm").is_err());
        /// # Ok::<(), nn_optim::OptimError>(())
        /// ```
        pub fn optimizer_from_name<T: Float>(name: &str) -> Result<Box<dyn Optimizer<T>>> {
            match name.to_ascii_lowercase().as_str() {
                $($key => Ok(Box::new($ty::<T>::new())),)*
                _ => Err(OptimError::UnknownName {
                    kind: "optimizer",
                    name: name.into(),
                    known: OPTIMIZER_NAMES.join(", "),
                }),
            }
        }
    };
}

saved_optimizers! {
    Sgd => Sgd(SgdConfig), "sgd";
    Adam => Adam(AdamConfig), "adam";
    AdamW => AdamW(AdamWConfig), "adamw";
    RmsProp => RmsProp(RmsPropConfig), "rmsprop";
    Adagrad => Adagrad(AdagradConfig), "adagrad";
    Adadelta => Adadelta(AdadeltaConfig), "adadelta";
    Nadam => Nadam(NadamConfig), "nadam";
    Adamax => Adamax(AdamaxConfig), "adamax";
    Lion => Lion(LionConfig), "lion";
}
