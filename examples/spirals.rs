//! Two entangled spirals (one and a half turns each, Gaussian noise on every coordinate),
//! separated by an MLP with four hidden layers, evaluated on a held-out stratified 20%.
//!
//! `cargo run --release --example spirals`

use nn::losses::SparseCategoricalCrossentropy;
use nn::optimizers::Adam;
use nn::prelude::*;
use nn::Logs;

const SEED: u64 = 7;
const POINTS_PER_CLASS: usize = 1000;
/// Standard deviation of the noise on each coordinate; neighbouring arms lie ≈ 0.17 apart
/// along a ray, so this blurs the arms without making them overlap.
const NOISE: f64 = 0.02;
const EPOCHS: usize = 150;

/// One progress line every `every` epochs, on standard output.
struct EveryN {
    every: usize,
}

impl Callback for EveryN {
    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, _model: &mut Model) -> nn::Result<()> {
        if (epoch + 1) % self.every == 0 {
            println!(
                "epoch {:>4}  loss {:.4}  accuracy {:.4}  val_accuracy {:.4}",
                epoch + 1,
                logs.get("loss").copied().unwrap_or(f64::NAN),
                logs.get("accuracy").copied().unwrap_or(f64::NAN),
                logs.get("val_accuracy").copied().unwrap_or(f64::NAN)
            );
        }
        Ok(())
    }
}

fn main() -> nn::Result<()> {
    nn::set_random_seed(SEED);
    let data = nn::data::spirals(POINTS_PER_CLASS, NOISE, SEED)?;
    let (train, test) = data.train_test_split(0.2, true, SEED)?;
    println!(
        "spirals: {} training and {} test points, noise σ = {NOISE}",
        train.len(),
        test.len()
    );

    let mut model = Sequential::new()
        .add(Input::new([2]))
        .add(Dense::new(64).activation("relu"))
        .add(Dense::new(64).activation("relu"))
        .add(Dense::new(64).activation("relu"))
        .add(Dense::new(64).activation("relu"))
        .add(Dense::new(2)) // logits
        .build()?;
    model.compile(
        Adam::new().with_learning_rate(3e-3),
        SparseCategoricalCrossentropy::new().from_logits(true),
        ["accuracy"],
    )?;
    model.summary();

    model.fit(
        &train,
        FitConfig::new()
            .epochs(EPOCHS)
            .batch_size(32)
            .seed(SEED)
            .validation_data(test.clone())
            .verbose(0)
            .callback(EveryN { every: 15 }),
    )?;

    let scores = model.evaluate(&test)?;
    println!("test_loss={:.4}", scores["loss"]);
    println!("test_accuracy={:.4}", scores["accuracy"]);
    Ok(())
}
