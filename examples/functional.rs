//! The functional API with two inputs and a skip connection, trained, saved, loaded back and
//! checked to predict bit for bit the same.
//!
//! Wine recognition (178 wines, 13 chemical measurements, 3 cultivars), with the
//! measurements split into two groups fed to two inputs: the first seven (alcohol, malic
//! acid, ash, alcalinity of ash, magnesium, total phenols, flavanoids) and the last six
//! (nonflavanoid phenols, proanthocyanins, colour intensity, hue, OD280/OD315, proline).
//! Each group has its own Dense branch; the branches are concatenated, a residual block adds
//! a Dense transform of the merged features back onto them (`Add`), and a softmax layer
//! classifies.
//!
//! `cargo run --release --example functional`

use nn::data::StandardScaler;
use nn::losses::SparseCategoricalCrossentropy;
use nn::prelude::*;
use nn::Error;

const SEED: u64 = 3;
const FIRST_GROUP: usize = 7;

/// Columns `start..end` of `x` as their own contiguous tensor.
fn columns(x: &Tensor, start: usize, end: usize) -> nn::Result<Tensor> {
    Ok(x.slice_axis(1, start, end)?.contiguous())
}

fn main() -> nn::Result<()> {
    nn::set_random_seed(SEED);
    let wine = nn::datasets::wine()?;
    let n_features = wine.n_features;
    let (train, test) = wine.data.train_test_split(0.2, true, SEED)?;
    // Scaling fitted on the training part only.
    let scaler = StandardScaler::fit(train.x())?;
    let (x_train, x_test) = (scaler.transform(train.x())?, scaler.transform(test.x())?);
    let train_inputs = [
        columns(&x_train, 0, FIRST_GROUP)?,
        columns(&x_train, FIRST_GROUP, n_features)?,
    ];
    let test_inputs = [
        columns(&x_test, 0, FIRST_GROUP)?,
        columns(&x_test, FIRST_GROUP, n_features)?,
    ];
    let train_refs: Vec<&Tensor> = train_inputs.iter().collect();
    let test_refs: Vec<&Tensor> = test_inputs.iter().collect();
    println!(
        "wine: {} training and {} test samples; inputs of {} and {} features",
        train.len(),
        test.len(),
        FIRST_GROUP,
        n_features - FIRST_GROUP
    );

    let first = Input::new([FIRST_GROUP]);
    let second = Input::new([n_features - FIRST_GROUP]);
    let a = Dense::new(16)
        .activation("relu")
        .name("first_branch")
        .apply(&first)?;
    let b = Dense::new(16)
        .activation("relu")
        .name("second_branch")
        .apply(&second)?;
    let merged = Concatenate::new().apply(&[a, b])?;
    let transformed = Dense::new(32).activation("relu").apply(&merged)?;
    let residual = Add::new().apply(&[merged, transformed])?;
    let output = Dense::new(3).activation("softmax").apply(&residual)?;
    let mut model = Model::new([first, second], [output])?;
    model.compile("adam", SparseCategoricalCrossentropy::new(), ["accuracy"])?;
    model.summary();

    let history = model.fit_inputs(
        &train_refs,
        train.y(),
        FitConfig::new()
            .epochs(60)
            .batch_size(16)
            .seed(SEED)
            .verbose(0),
    )?;
    let losses = history.get("loss").unwrap_or(&[]);
    let accuracies = history.get("accuracy").unwrap_or(&[]);
    for (epoch, (loss, acc)) in losses.iter().zip(accuracies).enumerate() {
        if (epoch + 1) % 10 == 0 {
            println!("epoch {:>3}  loss {loss:.4}  accuracy {acc:.4}", epoch + 1);
        }
    }

    // Save, load, and compare predictions bit for bit.
    let path =
        std::env::temp_dir().join(format!("nn-functional-example-{}.nnm", std::process::id()));
    model.save(&path)?;
    let loaded = Model::load(&path);
    // Remove the file whatever the outcome of loading.
    let _ = std::fs::remove_file(&path);
    let loaded = loaded?;
    let before = model.predict_inputs(&test_refs)?;
    let after = loaded.predict_inputs(&test_refs)?;
    let identical = before.shape() == after.shape()
        && before
            .to_vec()
            .iter()
            .zip(after.to_vec())
            .all(|(x, y)| x.to_bits() == y.to_bits());
    if !identical {
        return Err(Error::Model(format!(
            "the model loaded from {} predicts differently from the one saved",
            path.display()
        )));
    }
    println!(
        "saved to and loaded from {}: {} predictions bit-identical",
        path.display(),
        before.len()
    );

    let scores = loaded.evaluate_inputs(&test_refs, test.y())?;
    println!("test_loss={:.4}", scores["loss"]);
    println!("test_accuracy={:.4}", scores["accuracy"]);
    Ok(())
}
