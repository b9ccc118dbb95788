//! Iris: 150 flowers, 4 measurements, 3 species. A stratified 120/30 split, standard scaling
//! fitted on the training part only (the test set must not leak into the scaler), and a
//! small MLP ending in a softmax layer, trained with sparse categorical cross-entropy.
//!
//! `cargo run --release --example iris`

use nn::data::StandardScaler;
use nn::losses::SparseCategoricalCrossentropy;
use nn::prelude::*;

const SEED: u64 = 42;

fn main() -> nn::Result<()> {
    nn::set_random_seed(SEED);
    let iris = nn::datasets::iris()?;
    // 30 of 150 = 0.2, ten of each species in the test set.
    let (train, test) = iris.data.train_test_split(0.2, true, SEED)?;
    let scaler = StandardScaler::fit(train.x())?;
    let train = TensorDataset::new(scaler.transform(train.x())?, train.y().clone())?;
    let test = TensorDataset::new(scaler.transform(test.x())?, test.y().clone())?;
    println!(
        "iris: {} training and {} test samples, classes {:?}",
        train.len(),
        test.len(),
        iris.class_names
    );
    println!("test samples per class: {:?}", test.class_counts()?);

    let mut model = Sequential::new()
        .add(Input::new([4]))
        .add(Dense::new(16).activation("relu"))
        .add(Dense::new(16).activation("relu"))
        .add(Dense::new(3).activation("softmax"))
        .build()?;
    // The output layer already applies softmax: the loss reads probabilities.
    model.compile("adam", SparseCategoricalCrossentropy::new(), ["accuracy"])?;
    model.summary();

    let history = model.fit(
        &train,
        FitConfig::new()
            .epochs(100)
            .batch_size(16)
            .seed(SEED)
            .verbose(0),
    )?;
    for (epoch, (loss, acc)) in history
        .get("loss")
        .unwrap_or(&[])
        .iter()
        .zip(history.get("accuracy").unwrap_or(&[]))
        .enumerate()
    {
        if (epoch + 1) % 10 == 0 {
            println!("epoch {:>3}  loss {loss:.4}  accuracy {acc:.4}", epoch + 1);
        }
    }

    let scores = model.evaluate(&test)?;
    println!("test_loss={:.4}", scores["loss"]);
    println!("test_accuracy={:.4}", scores["accuracy"]);
    Ok(())
}
