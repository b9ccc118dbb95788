//! Fashion-MNIST (and any MNIST-style pair of IDX image/label files).
//!
//! Fashion-MNIST is not embedded: Debian's `dataset-fashion-mnist` package installs it under
//! [`FASHION_MNIST_DIR`] (`apt-get install -y dataset-fashion-mnist`), or pass the directory
//! holding `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`.

use std::path::{Path, PathBuf};

use nn_tensor::parallel::ELEMENTWISE_PAR_MIN;
use nn_tensor::Tensor;
use rayon::prelude::*;

use crate::idx::read_idx;
use crate::{DataError, Result, TensorDataset};

/// Where Debian's `dataset-fashion-mnist` package installs the files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// How to get Fashion-MNIST when it is missing.
pub const FASHION_MNIST_HINT: &str =
    "install it with `apt-get install -y dataset-fashion-mnist` or pass a directory";

/// The ten Fashion-MNIST classes, indexed by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Fashion-MNIST as `(train, test)`: 60 000 and 10 000 samples, features `[N, 784]` (28 × 28
/// grey images, row-major) scaled to `[0, 1]` (bytes / 255), labels `[N]` in `0..10` (see
/// [`FASHION_MNIST_CLASSES`]). Reshaping to `[N, 28, 28, 1]` for convolutions is the caller's
/// business.
///
/// Reads from `dir`, or [`FASHION_MNIST_DIR`] when `None`; each file may be gzipped
/// (`*.gz`, looked for first) or plain. A [`DataError::Missing`] naming the file and how to
/// install it if a file is absent.
pub fn fashion_mnist(dir: Option<&Path>) -> Result<(TensorDataset, TensorDataset)> {
    let dir = dir.unwrap_or(Path::new(FASHION_MNIST_DIR));
    let find = |stem: &str| -> Result<PathBuf> {
        let gz = dir.join(format!("{stem}.gz"));
        let plain = dir.join(stem);
        if gz.is_file() {
            Ok(gz)
        } else if plain.is_file() {
            Ok(plain)
        } else {
            Err(DataError::Missing {
                path: gz,
                hint: FASHION_MNIST_HINT.into(),
            })
        }
    };
    let train_images = find("train-images-idx3-ubyte")?;
    let train_labels = find("train-labels-idx1-ubyte")?;
    let test_images = find("t10k-images-idx3-ubyte")?;
    let test_labels = find("t10k-labels-idx1-ubyte")?;
    let (train, test) = rayon::join(
        || idx_image_dataset(&train_images, &train_labels),
        || idx_image_dataset(&test_images, &test_labels),
    );
    let (train, test) = (train?, test?);
    for (ds, file) in [(&train, &train_labels), (&test, &test_labels)] {
        if ds.num_classes()? > FASHION_MNIST_CLASSES.len() {
            return Err(DataError::invalid(format!(
                "{}: labels beyond the 10 Fashion-MNIST classes",
                file.display()
            )));
        }
    }
    Ok((train, test))
}

/// A dataset from an MNIST-style pair of IDX files (unsigned bytes, plain or gzipped):
/// images `[N, ...]` become features `[N, product of the rest]` scaled by 1/255, labels `[N]`
/// become `f32` labels. An error naming both files if their sample counts differ.
pub fn idx_image_dataset(
    images: impl AsRef<Path>,
    labels: impl AsRef<Path>,
) -> Result<TensorDataset> {
    let (images, labels) = (images.as_ref(), labels.as_ref());
    let (idims, pixels) = read_idx(images)?;
    let (ldims, label_bytes) = read_idx(labels)?;
    if idims.len() < 2 {
        return Err(DataError::Shape {
            what: format!(
                "{}: images need a sample axis and pixel axes",
                images.display()
            ),
            expected: vec![idims.first().copied().unwrap_or(0), 28, 28],
            found: idims,
        });
    }
    if ldims.len() != 1 || ldims[0] != idims[0] {
        return Err(DataError::Shape {
            what: format!(
                "{} vs {}: one label per image",
                labels.display(),
                images.display()
            ),
            expected: vec![idims[0]],
            found: ldims,
        });
    }
    let n = idims[0];
    let per_image: usize = idims[1..].iter().product();
    let scale = 1.0f32 / 255.0;
    let x: Vec<f32> = if pixels.len() >= ELEMENTWISE_PAR_MIN {
        pixels.par_iter().map(|&p| f32::from(p) * scale).collect()
    } else {
        pixels.iter().map(|&p| f32::from(p) * scale).collect()
    };
    let y: Vec<f32> = label_bytes.iter().map(|&l| f32::from(l)).collect();
    TensorDataset::new(
        Tensor::from_vec(x, [n, per_image])?,
        Tensor::from_vec(y, [n])?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::tests::{gzip, idx_bytes};

    #[test]
    fn fashion_mnist_missing_names_file_and_hint() {
        let dir = crate::test_util::temp_dir("fm-missing");
        let e = fashion_mnist(Some(&dir)).unwrap_err();
        match &e {
            DataError::Missing { path, hint } => {
                assert!(path.ends_with("train-images-idx3-ubyte.gz"));
                assert!(hint.contains("apt-get install -y dataset-fashion-mnist"));
            }
            other => panic!("{other}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fashion_mnist_from_small_files() {
        // a 3-image training set (gzipped) and a 2-image test set (plain) of 2x2 pixels
        let dir = crate::test_util::temp_dir("fm-small");
        let put = |name: &str, bytes: Vec<u8>| std::fs::write(dir.join(name), bytes).unwrap();
        let px: Vec<u8> = (0..12).map(|i| (i * 20) as u8).collect();
        put(
            "train-images-idx3-ubyte.gz",
            gzip(&idx_bytes(8, &[3, 2, 2], &px)),
        );
        put(
            "train-labels-idx1-ubyte.gz",
            gzip(&idx_bytes(8, &[3], &[9, 0, 3])),
        );
        put(
            "t10k-images-idx3-ubyte",
            idx_bytes(8, &[2, 2, 2], &[255; 8]),
        );
        put("t10k-labels-idx1-ubyte", idx_bytes(8, &[2], &[1, 2]));
        let (train, test) = fashion_mnist(Some(&dir)).unwrap();
        assert_eq!(train.x().shape(), &[3, 4]);
        assert_eq!(train.y().to_vec(), vec![9.0, 0.0, 3.0]);
        assert!((train.x().to_vec()[5] - 100.0 / 255.0).abs() < 1e-7);
        assert_eq!(test.x().to_vec(), vec![1.0; 8]);
        // mismatched counts name both files
        put("t10k-labels-idx1-ubyte", idx_bytes(8, &[3], &[1, 2, 3]));
        let e = fashion_mnist(Some(&dir)).unwrap_err().to_string();
        assert!(
            e.contains("t10k-labels") && e.contains("t10k-images"),
            "{e}"
        );
        // labels beyond the 10 classes
        put("t10k-labels-idx1-ubyte", idx_bytes(8, &[2], &[1, 12]));
        assert!(fashion_mnist(Some(&dir)).is_err());
        // a corrupt file's error names it
        put(
            "t10k-images-idx3-ubyte",
            idx_bytes(8, &[2, 2, 2], &[255; 7]),
        );
        let e = fashion_mnist(Some(&dir)).unwrap_err().to_string();
        assert!(e.contains("t10k-images-idx3-ubyte: at byte"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fashion_mnist_installed() {
        let dir = Path::new(FASHION_MNIST_DIR);
        if !dir.join("train-images-idx3-ubyte.gz").is_file() {
            eprintln!(
                "note: Fashion-MNIST is not installed under {FASHION_MNIST_DIR}; skipping \
                 (apt-get install -y dataset-fashion-mnist)"
            );
            return;
        }
        let (train, test) = fashion_mnist(None).unwrap();
        assert_eq!(train.x().shape(), &[60_000, 784]);
        assert_eq!(test.x().shape(), &[10_000, 784]);
        assert_eq!(train.class_counts().unwrap(), vec![6000; 10]);
        assert_eq!(test.class_counts().unwrap(), vec![1000; 10]);
        assert_eq!(
            train.y().to_vec()[..10],
            [9., 0., 0., 3., 0., 2., 7., 2., 5., 5.]
        );
        assert_eq!(
            test.y().to_vec()[..10],
            [9., 2., 1., 1., 6., 1., 4., 6., 5., 7.]
        );
        let first: Vec<f32> = train.x().to_vec()[..784].to_vec();
        assert!(first.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert_eq!(first.iter().cloned().fold(0.0, f32::max), 1.0);
        let sum: f32 = first.iter().map(|v| v * 255.0).sum();
        assert!((sum - 76_247.0).abs() < 1.0, "{sum}");
    }
}
