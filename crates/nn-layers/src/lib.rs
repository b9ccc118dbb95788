//! # nn-layers
//!
//! Keras-style layers for the `nn` deep-learning library, with activations, initializers
//! and regularizers.
//!
//! A layer follows Keras' contract ([`Layer`]): it is configured without knowing its input
//! size, builds its weights on the first input shape it sees, reports its output shape
//! without running, and exposes named [`Param`]s. Shapes given to `build` and
//! `output_shapes` exclude the batch axis; tensors given to `call` include it first.
//! Images are NHWC (`[batch, height, width, channels]`), as in Keras.

mod activation;
mod conv;
mod core;
mod dense;
mod dropout;
mod embedding;
mod error;
pub mod init;
pub mod large_vocab;
mod layer;
mod merge;
mod norm;
mod param;
mod pool;
mod recurrent;
mod regularizer;
mod saved;
mod slice;
pub mod testing;

pub use crate::core::{ActivationLayer, Flatten, LeakyReLU, PReLU, Reshape, Softmax, ELU};
pub use activation::{
    activation, bias_activation, Activation, ActivationArg, ACTIVATION_NAMES, SELU_ALPHA,
    SELU_SCALE,
};
pub use conv::{Conv1D, Conv2D};
pub use dense::Dense;
pub use dropout::{AlphaDropout, Dropout};
pub use embedding::Embedding;
pub use error::{LayerError, Result};
pub use init::Initializer;
pub use large_vocab::{
    HierarchicalSoftmax, NegativeSampling, NoiseContrastiveEstimation, NoiseDistribution,
    SampledSoftmax,
};
pub use layer::{shape_error, single_input, single_shape, ForwardCtx, Layer, LayerExt, Shape};
pub use merge::{Add, Concatenate};
pub use nn_tensor::Padding;
pub use norm::{BatchNormalization, LayerNormalization};
pub use param::Param;
pub use pool::{
    AveragePooling1D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling1D,
    MaxPooling2D,
};
pub use recurrent::{SimpleRNN, GRU, LSTM};
pub use regularizer::Regularizer;
pub use saved::SavedLayer;
pub use slice::Slice;

/// The crate's guide (`docs/guide/nn-layers.md`), with examples that run as doctests.
#[doc = include_str!("../../../docs/guide/nn-layers.md")]
pub mod guide {}
