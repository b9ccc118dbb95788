//! # nn-data
//!
//! Data handling for the `nn` deep-learning library: datasets, mini-batch loading, target
//! encoding, feature scaling, file readers and ready-made data. It depends only on
//! `nn-tensor`; everything is `f32` (the training precision).
//!
//! - [`Dataset`]: the trait a [`DataLoader`] reads from (copy samples into caller buffers);
//!   [`TensorDataset`] holds features and targets in memory, with [`subset`],
//!   [`train_test_split`] (optionally stratified) and Keras-style [`split_validation`].
//! - [`DataLoader`]: batches with per-epoch seeded shuffling, assembled ahead in a
//!   background thread; deterministic for a seed.
//! - [`one_hot`], [`StandardScaler`], [`MinMaxScaler`] (serde-serializable).
//! - Readers: numeric CSV ([`read_csv`], [`parse_csv_str`]) and IDX, the MNIST format
//!   ([`read_idx`]), plain or gzipped. Errors name the file and the line/column or byte
//!   offset ([`DataError`]); nothing panics on bad files.
//! - Embedded real data: [`iris`], [`digits`], [`wine`], [`breast_cancer`]; installed data:
//!   [`fashion_mnist()`] (Debian package `dataset-fashion-mnist`).
//! - Synthetic problems: [`xor`], [`spirals`], [`blobs`].
//! - Text for word-level models ([`text`]): tokenizer, vocabulary, subsampling, skip-gram
//!   and CBOW windows, word2vec vector files.
//!
//! ```
//! use std::sync::Arc;
//! use nn_data::{iris, DataLoader, StandardScaler};
//!
//! let data = iris()?.data;
//! let (train, test) = data.train_test_split(0.2, true, 42)?;
//! let scaler = StandardScaler::fit(train.x())?;
//! let train = nn_data::TensorDataset::new(scaler.transform(train.x())?, train.y().clone())?;
//! assert_eq!(test.len(), 30);
//!
//! let mut loader = DataLoader::new(Arc::new(train), 16)?.shuffle(true).seed(1);
//! for batch in &mut loader {
//!     let batch = batch?;
//!     assert_eq!(batch.x.shape()[1], 4);
//! }
//! # Ok::<(), nn_data::DataError>(())
//! ```
//!
//! [`subset`]: TensorDataset::subset
//! [`train_test_split`]: TensorDataset::train_test_split
//! [`split_validation`]: TensorDataset::split_validation

pub mod builtin;
pub mod csv;
pub mod dataset;
pub mod encode;
mod error;
pub mod fashion_mnist;
pub mod idx;
pub mod loader;
pub mod synthetic;
pub mod text;

pub use builtin::{breast_cancer, digits, iris, wine, BuiltinDataset};
pub use csv::{parse_csv_str, read_csv, CsvOptions, CsvTable};
pub use dataset::{gather_batch, Dataset, TensorDataset};
pub use encode::{one_hot, MinMaxScaler, StandardScaler};
pub use error::{DataError, Result};
pub use fashion_mnist::{
    fashion_mnist, idx_image_dataset, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR,
};
pub use idx::{read_idx, read_idx_array, IdxArray, IdxType};
pub use loader::{Batch, Batches, DataLoader};
pub use synthetic::{blobs, spirals, xor};

#[cfg(test)]
pub(crate) mod test_util {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh, empty directory under the system temp dir, unique per process and call.
    pub(crate) fn temp_dir(tag: &str) -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "nn-data-test-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

/// The crate's guide (`docs/guide/nn-data.md`), with examples that run as doctests.
#[doc = include_str!("../../../docs/guide/nn-data.md")]
pub mod guide {}
