//! A model file written by format version 1 must keep loading, with the same weights,
//! predictions and optimizer state, as the code changes.
//!
//! `tests/data/model_v1.nnm` was written by `write_fixture()` below and is committed. If
//! this test fails after a change, the change broke existing users' files: bump
//! `nn::FORMAT_VERSION` and keep a reader for version 1 instead of rewriting the fixture.
//! (`NN_WRITE_FIXTURES=1 cargo test -p nn --test format_v1` rewrites it, for a new format
//! version only.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nn::layers::{BatchNormalization, Dense, Dropout};
use nn::prelude::*;
use nn::{Input, Model, Sequential};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/model_v1.nnm");

/// A fixed input batch.
fn inputs() -> Tensor<f32> {
    let v: Vec<f32> = (0..18).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect();
    Tensor::from_vec(v, [3, 6]).unwrap()
}

fn targets() -> Tensor<f32> {
    Tensor::from_vec(vec![0.0, 2.0, 1.0], [3]).unwrap()
}

/// The fixture model: several layer kinds (their enum tags are part of the format), a
/// compiled loss and an Adam optimizer that has taken three steps (moments saved).
fn fixture_model() -> Model {
    nn::set_random_seed(2024);
    let mut model = Sequential::new()
        .add(Input::new([6]))
        .add(Dense::new(8).activation("relu"))
        .add(BatchNormalization::new())
        .add(Dropout::new(0.1))
        .add(Dense::new(3).activation("softmax"))
        .build()
        .unwrap();
    model
        .compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
        .unwrap();
    for _ in 0..3 {
        model.train_on_batch(&inputs(), &targets(), None).unwrap();
    }
    model
}

#[test]
fn write_fixture() {
    if std::env::var_os("NN_WRITE_FIXTURES").is_some() {
        let model = fixture_model();
        model.save(FIXTURE).unwrap();
        let p = model.predict(&inputs()).unwrap();
        println!("weights: {:?}", model.get_weights());
        println!("predictions: {:?}", p.to_vec());
    }
}

/// Values printed by `write_fixture` when the fixture was written.
const PREDICTIONS: [f32; 9] = [
    0.30099013, 0.46646884, 0.23254095, 0.2734701, 0.48528785, 0.24124214, 0.35722467, 0.4064239,
    0.23635139,
];

#[test]
fn version_1_file_loads_with_its_weights_predictions_and_optimizer_state() {
    if std::env::var_os("NN_WRITE_FIXTURES").is_some() {
        return;
    }
    let bytes = std::fs::read(FIXTURE).unwrap();
    assert_eq!(&bytes[..8], b"NNMODEL\0", "the magic number changed");
    let loaded = Model::load(FIXTURE).unwrap();

    // Predictions within rounding of what version 1 computed (kernels may reorder sums).
    let p = loaded.predict(&inputs()).unwrap().to_vec();
    for (i, (&got, &want)) in p.iter().zip(PREDICTIONS.iter()).enumerate() {
        assert!(
            (got - want).abs() <= 1e-6,
            "prediction {i}: {got} vs {want}"
        );
    }

    // The weights are the fixture's exactly: building the same seeded model again gives the
    // same values as the file holds.
    let rebuilt = fixture_model();
    let (a, b) = (loaded.get_weights(), rebuilt.get_weights());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.shape(), y.shape());
        for (u, v) in x.to_vec().iter().zip(y.to_vec()) {
            assert!((u - v).abs() <= 1e-6, "weight {u} vs {v}");
        }
    }

    // The optimizer state (step count and moments) came back: one more step from the file
    // equals one more step from the rebuilt model.
    let (mut loaded, mut rebuilt) = (loaded, rebuilt);
    let l1 = loaded.train_on_batch(&inputs(), &targets(), None).unwrap();
    let l2 = rebuilt.train_on_batch(&inputs(), &targets(), None).unwrap();
    assert!((l1 - l2).abs() <= 1e-6, "loss {l1} vs {l2}");
    for (x, y) in loaded.get_weights().iter().zip(&rebuilt.get_weights()) {
        for (u, v) in x.to_vec().iter().zip(y.to_vec()) {
            assert!((u - v).abs() <= 1e-5, "weight after a step {u} vs {v}");
        }
    }
}
