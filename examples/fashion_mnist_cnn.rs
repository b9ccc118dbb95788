//! Fashion-MNIST with a small convnet: workload W2 of the side-by-side benchmarks (Keras'
//! "simple MNIST convnet").
//!
//! Images NHWC `[N, 28, 28, 1]`, pixels / 255 (done by the loader).
//! Conv2D(32, 3×3, relu, valid) → MaxPooling2D(2) → Conv2D(64, 3×3, relu, valid) →
//! MaxPooling2D(2) → Flatten (1600) → Dropout(0.5) → Dense(10) logits; softmax
//! cross-entropy from logits; Adam(1e-3); batch 128; 3 epochs.
//!
//! Needs Debian's `dataset-fashion-mnist` (`apt-get install -y dataset-fashion-mnist`).
//!
//! `cargo run --release --example fashion_mnist_cnn`

use nn::losses::SparseCategoricalCrossentropy;
use nn::optimizers::Adam;
use nn::prelude::*;
use nn::Logs;

const SEED: u64 = 42;
const EPOCHS: usize = 3;
const BATCH: usize = 128;

/// One line per epoch on standard output, with its wall time per epoch and per step.
struct EpochReport {
    steps: usize,
}

impl Callback for EpochReport {
    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, _model: &mut Model) -> nn::Result<()> {
        let seconds = logs.get("epoch_seconds").copied().unwrap_or(f64::NAN);
        println!(
            "epoch {}/{EPOCHS}  loss {:.4}  accuracy {:.4}  {seconds:.1} s/epoch  {:.1} ms/step",
            epoch + 1,
            logs.get("loss").copied().unwrap_or(f64::NAN),
            logs.get("accuracy").copied().unwrap_or(f64::NAN),
            1e3 * seconds / self.steps as f64
        );
        Ok(())
    }
}

/// `[N, 784]` rows as `[N, 28, 28, 1]` images (the same buffer, row-major).
fn as_images(data: &TensorDataset) -> nn::Result<TensorDataset> {
    let n = data.len();
    Ok(TensorDataset::new(
        data.x().reshape([n, 28, 28, 1])?,
        data.y().clone(),
    )?)
}

fn main() -> nn::Result<()> {
    nn::set_random_seed(SEED);
    let (train, test) = match nn::datasets::fashion_mnist(None) {
        Ok(parts) => parts,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let (train, test) = (as_images(&train)?, as_images(&test)?);
    println!(
        "Fashion-MNIST: {} training, {} test images of {:?}",
        train.len(),
        test.len(),
        &train.x().shape()[1..]
    );

    let mut model = Sequential::new()
        .add(Input::new([28, 28, 1]))
        .add(Conv2D::new(32, (3, 3)).activation("relu"))
        .add(MaxPooling2D::new().pool_size((2, 2)))
        .add(Conv2D::new(64, (3, 3)).activation("relu"))
        .add(MaxPooling2D::new().pool_size((2, 2)))
        .add(Flatten::new())
        .add(Dropout::new(0.5))
        .add(Dense::new(10)) // logits
        .build()?;
    model.compile(
        Adam::new().with_learning_rate(1e-3),
        SparseCategoricalCrossentropy::new().from_logits(true),
        ["accuracy"],
    )?;
    model.summary();

    let steps = train.len().div_ceil(BATCH);
    let history = model.fit(
        &train,
        FitConfig::new()
            .epochs(EPOCHS)
            .batch_size(BATCH)
            .seed(SEED)
            .verbose(0)
            .callback(EpochReport { steps }),
    )?;
    let seconds = history.get("epoch_seconds").unwrap_or(&[]);
    if !seconds.is_empty() {
        let mean = seconds.iter().sum::<f64>() / seconds.len() as f64;
        println!(
            "mean {mean:.1} s/epoch, {:.1} ms/step ({steps} steps of {BATCH})",
            1e3 * mean / steps as f64
        );
    }

    let scores = model.evaluate(&test)?;
    println!("test_loss={:.4}", scores["loss"]);
    println!("test_accuracy={:.4}", scores["accuracy"]);
    Ok(())
}
