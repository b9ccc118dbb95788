//! The serializable form of every built-in layer: configuration and weights.

use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::Layer;

macro_rules! saved_layers {
    ($($variant:ident => $ty:ty),* $(,)?) => {
        /// A built-in layer with its configuration and weights, for saving and loading.
        ///
        /// Parameter ids are not stored; a loaded layer's parameters get fresh ones.
        #[derive(Clone, Debug, Serialize, Deserialize)]
        #[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
        #[allow(missing_docs)]
        pub enum SavedLayer<T: Float = f32> {
            $($variant($ty),)*
        }

        impl<T: Float> SavedLayer<T> {
            /// The live layer.
            pub fn into_layer(self) -> Box<dyn Layer<T>> {
                match self {
                    $(SavedLayer::$variant(l) => Box::new(l),)*
                }
            }
        }
    };
}

// The variant order is part of the model file format (bincode stores the index): add new
// layers at the end only. `crates/nn/tests/format_v1.rs` loads a committed file.
saved_layers! {
    Dense => crate::Dense<T>,
    Activation => crate::ActivationLayer<T>,
    Softmax => crate::Softmax<T>,
    PReLU => crate::PReLU<T>,
    LeakyReLU => crate::LeakyReLU<T>,
    ELU => crate::ELU<T>,
    Flatten => crate::Flatten<T>,
    Reshape => crate::Reshape<T>,
    Conv2D => crate::Conv2D<T>,
    Conv1D => crate::Conv1D<T>,
    MaxPooling2D => crate::MaxPooling2D<T>,
    AveragePooling2D => crate::AveragePooling2D<T>,
    MaxPooling1D => crate::MaxPooling1D<T>,
    AveragePooling1D => crate::AveragePooling1D<T>,
    GlobalAveragePooling2D => crate::GlobalAveragePooling2D<T>,
    GlobalMaxPooling2D => crate::GlobalMaxPooling2D<T>,
    Dropout => crate::Dropout<T>,
    AlphaDropout => crate::AlphaDropout<T>,
    BatchNormalization => crate::BatchNormalization<T>,
    LayerNormalization => crate::LayerNormalization<T>,
    Embedding => crate::Embedding<T>,
    Add => crate::Add<T>,
    Concatenate => crate::Concatenate<T>,
    SimpleRNN => crate::SimpleRNN<T>,
    LSTM => crate::LSTM<T>,
    GRU => crate::GRU<T>,
    Slice => crate::Slice<T>,
    HierarchicalSoftmax => crate::HierarchicalSoftmax<T>,
    NegativeSampling => crate::NegativeSampling<T>,
    NoiseContrastiveEstimation => crate::NoiseContrastiveEstimation<T>,
    SampledSoftmax => crate::SampledSoftmax<T>,
}
