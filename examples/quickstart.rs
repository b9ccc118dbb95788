//! Quickstart: a small MLP on the built-in 8×8 digits (1,797 images, 10 classes), trained
//! on 80% and evaluated on a held-out, stratified 20%.
//!
//! `cargo run --release --example quickstart`

use nn::losses::SparseCategoricalCrossentropy;
use nn::prelude::*;

fn main() -> nn::Result<()> {
    nn::set_random_seed(42);
    let digits = nn::datasets::digits()?.data;
    // Pixels are 0..16; scale them to [0, 1].
    let data = TensorDataset::new(digits.x().mul_scalar(1.0 / 16.0), digits.y().clone())?;
    let (train, test) = data.train_test_split(0.2, true, 42)?;

    let mut model = Sequential::new()
        .add(Input::new([64]))
        .add(Dense::new(64).activation("relu"))
        .add(Dense::new(10)) // logits
        .build()?;
    model.compile(
        "adam",
        SparseCategoricalCrossentropy::new().from_logits(true),
        ["accuracy"],
    )?;
    model.summary();

    let history = model.fit(
        &train,
        FitConfig::new().epochs(40).batch_size(32).verbose(2),
    )?;
    let scores = model.evaluate(&test)?;
    println!(
        "train_loss={:.4} test_loss={:.4}",
        history.last("loss").unwrap_or(f64::NAN),
        scores["loss"]
    );
    println!("test_accuracy={:.4}", scores["accuracy"]);
    Ok(())
}
