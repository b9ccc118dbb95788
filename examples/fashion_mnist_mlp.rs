//! Fashion-MNIST with an MLP: workload W1 of the side-by-side benchmarks.
//!
//! Dense(784→256, relu) → Dense(256→128, relu) → Dense(128→10) logits; softmax
//! cross-entropy from logits; Adam(lr 1e-3, β₁ 0.9, β₂ 0.999, ε 1e-7); batch 128, reshuffled
//! every epoch, the last partial batch kept; pixels / 255 (done by the loader); 5 epochs.
//!
//! Needs Debian's `dataset-fashion-mnist` (`apt-get install -y dataset-fashion-mnist`).
//!
//! `cargo run --release --example fashion_mnist_mlp`

use nn::losses::SparseCategoricalCrossentropy;
use nn::optimizers::Adam;
use nn::prelude::*;
use nn::Logs;

const SEED: u64 = 42;
const EPOCHS: usize = 5;
const BATCH: usize = 128;

/// One line per epoch on standard output, with its wall time.
struct EpochReport;

impl Callback for EpochReport {
    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, _model: &mut Model) -> nn::Result<()> {
        println!(
            "epoch {}/{EPOCHS}  loss {:.4}  accuracy {:.4}  {:.2} s/epoch",
            epoch + 1,
            logs.get("loss").copied().unwrap_or(f64::NAN),
            logs.get("accuracy").copied().unwrap_or(f64::NAN),
            logs.get("epoch_seconds").copied().unwrap_or(f64::NAN),
        );
        Ok(())
    }
}

fn main() -> nn::Result<()> {
    nn::set_random_seed(SEED);
    // Pixels arrive as f32 in [0, 1] (bytes / 255), shape [N, 784].
    let (train, test) = match nn::datasets::fashion_mnist(None) {
        Ok(parts) => parts,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "Fashion-MNIST: {} training, {} test images",
        train.len(),
        test.len()
    );

    let mut model = Sequential::new()
        .add(Input::new([784]))
        .add(Dense::new(256).activation("relu"))
        .add(Dense::new(128).activation("relu"))
        .add(Dense::new(10)) // logits
        .build()?;
    let adam = Adam::new()
        .with_learning_rate(1e-3)
        .beta_1(0.9)
        .beta_2(0.999)
        .epsilon(1e-7);
    model.compile(
        adam,
        SparseCategoricalCrossentropy::new().from_logits(true),
        ["accuracy"],
    )?;
    model.summary();

    let history = model.fit(
        &train,
        FitConfig::new()
            .epochs(EPOCHS)
            .batch_size(BATCH)
            .shuffle(true)
            .seed(SEED)
            .verbose(0)
            .callback(EpochReport),
    )?;
    // Training time only: no validation runs inside the epochs.
    let seconds = history.get("epoch_seconds").unwrap_or(&[]);
    let steps = train.len().div_ceil(BATCH);
    if !seconds.is_empty() {
        let mean = seconds.iter().sum::<f64>() / seconds.len() as f64;
        println!(
            "mean {mean:.2} s/epoch ({:.2} ms/step, {steps} steps of {BATCH})",
            1e3 * mean / steps as f64
        );
    }

    let scores = model.evaluate(&test)?;
    println!("test_loss={:.4}", scores["loss"]);
    println!("test_accuracy={:.4}", scores["accuracy"]);
    Ok(())
}
