//! # nn
//!
//! A deep-learning library with the feel of Keras, fast on the CPU: define a model in a few
//! lines, `compile`, `fit`, `evaluate`, `predict`, `save`, `load`.
//!
//! ```
//! use nn::prelude::*;
//!
//! nn::set_random_seed(42);
//! let data = nn::datasets::iris()?.data;
//! let mut model = Sequential::new()
//!     .add(Input::new([4]))
//!     .add(Dense::new(16).activation("relu"))
//!     .add(Dense::new(3)) // logits
//!     .build()?;
//! let loss = nn::losses::SparseCategoricalCrossentropy::new().from_logits(true);
//! model.compile("adam", loss, ["accuracy"])?;
//! let history = model.fit(&data, FitConfig::new().epochs(2).batch_size(16).verbose(0))?;
//! assert_eq!(history.get("loss").map(|l| l.len()), Some(2));
//! # Ok::<(), nn::Error>(())
//! ```
//!
//! The crates of the stack are re-exported: [`tensor`], [`autograd`], [`layers`],
//! [`losses`], [`optimizers`], [`data`].

mod callbacks;
mod error;
mod functional;
mod graph;
mod io;
mod model;
mod pool;
mod seed;
mod sequential;
mod train;
pub mod word2vec;

pub use nn_autograd as autograd;
pub use nn_data as data;
pub use nn_layers as layers;
pub use nn_losses as losses;
pub use nn_optim as optimizers;
pub use nn_tensor as tensor;

pub use callbacks::{
    CSVLogger, Callback, EarlyStopping, LearningRateScheduler, Mode, ModelCheckpoint, ProgressBar,
    ReduceLROnPlateau, TerminateOnNaN,
};
pub use error::{Error, Result};
pub use functional::{Functional, Input, SharedLayer, SymInputs, SymTensor};
pub use io::FORMAT_VERSION;
pub use model::Model;
pub use seed::{random_seed, set_random_seed};
pub use sequential::{InputSpec, Sequential, SequentialItem};
pub use train::{FitConfig, History, IntoLoss, IntoMetric, IntoOptimizer, Logs};

/// Built-in datasets (compiled in) and Fashion-MNIST from its Debian package.
pub mod datasets {
    pub use nn_data::{breast_cancer, digits, fashion_mnist, iris, wine, BuiltinDataset};
}

/// The names most programs use.
pub mod prelude {
    pub use crate::{
        Callback, EarlyStopping, FitConfig, Functional, History, Input, Model, ModelCheckpoint,
        ReduceLROnPlateau, Sequential, SharedLayer,
    };
    pub use nn_autograd::{gradcheck, no_grad, Gradients, Var};
    pub use nn_data::{DataLoader, Dataset, TensorDataset};
    pub use nn_layers::{
        Activation, ActivationLayer, Add, AveragePooling2D, BatchNormalization, Concatenate,
        Conv1D, Conv2D, Dense, Dropout, Embedding, Flatten, GlobalAveragePooling2D,
        HierarchicalSoftmax, Initializer, Layer, LayerNormalization, MaxPooling2D,
        NegativeSampling, NoiseContrastiveEstimation, Regularizer, Reshape, SampledSoftmax, Slice,
        Softmax, GRU, LSTM,
    };
    pub use nn_tensor::{Float, Padding, Tensor};
}

/// The crate's guide (`docs/guide/nn.md`), with examples that run as doctests.
#[doc = include_str!("../../../docs/guide/nn.md")]
pub mod guide {}
