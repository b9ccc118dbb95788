//! The Keras-style API end to end: building, training, evaluating, saving and loading.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nn::layers::{Add, Dense};
use nn::prelude::*;
use nn::{Error, Functional, Input, Model, Sequential};

/// The global seed is process-wide: tests that build models take this lock so each sees
/// its own seed and stream.
static SEED_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn guard() -> std::sync::MutexGuard<'static, ()> {
    SEED_LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn iris() -> TensorDataset {
    nn::datasets::iris().unwrap().data
}

fn small_mlp() -> Model {
    Sequential::new()
        .add(Input::new([4]))
        .add(Dense::new(16).activation("relu"))
        .add(Dense::new(3))
        .build()
        .unwrap()
}

/// The models here end in a linear layer: the loss reads logits.
fn logits_ce() -> nn::losses::SparseCategoricalCrossentropy {
    nn::losses::SparseCategoricalCrossentropy::new().from_logits(true)
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nn-model-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn sequential_infers_shapes_and_counts_params() {
    let _g = guard();
    nn::set_random_seed(1);
    let model = small_mlp();
    assert_eq!(model.output_shapes(), vec![vec![3]]);
    assert_eq!(model.trainable_count(), 4 * 16 + 16 + 16 * 3 + 3);
    let summary = model.summary_string();
    assert!(
        summary.contains("dense (Dense)") && summary.contains("dense_1 (Dense)"),
        "{summary}"
    );
    assert!(
        summary.contains("(None, 16)") && summary.contains("Total params: 131"),
        "{summary}"
    );
}

#[test]
fn sequential_reports_a_layer_that_does_not_fit() {
    let _g = guard();
    let err = Sequential::new()
        .add(Input::new([4, 4]))
        .add(nn::layers::Conv2D::new(2, (3, 3)))
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("conv2d"), "{text}");
}

#[test]
fn fit_lowers_the_loss_and_learns_iris() {
    let _g = guard();
    nn::set_random_seed(7);
    let data = iris();
    let (train, test) = data.train_test_split(0.2, true, 3).unwrap();
    let mut model = small_mlp();
    model.compile("adam", logits_ce(), ["accuracy"]).unwrap();
    let history = model
        .fit(
            &train,
            FitConfig::new().epochs(60).batch_size(16).verbose(0),
        )
        .unwrap();
    let losses = history.get("loss").unwrap();
    assert!(losses.last().unwrap() < &(losses[0] * 0.5), "{losses:?}");
    let scores = model.evaluate(&test).unwrap();
    assert!(scores["accuracy"] >= 0.85, "{scores:?}");
}

#[test]
fn fit_before_compile_is_an_error() {
    let _g = guard();
    let mut model = small_mlp();
    assert!(matches!(
        model.fit(&iris(), FitConfig::new().verbose(0)),
        Err(Error::NotCompiled(_))
    ));
}

#[test]
fn wrong_input_shape_is_an_error_naming_both_shapes() {
    let _g = guard();
    let model = small_mlp();
    let err = model
        .predict(&Tensor::zeros([2, 5]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("[2, 5]") && err.contains("4"), "{err}");
}

#[test]
fn predict_records_no_graph_and_is_batched() {
    let _g = guard();
    nn::set_random_seed(3);
    let model = small_mlp();
    let x = iris().x().clone();
    let all = model.predict_batched(&x, 1000).unwrap();
    let batched = model.predict_batched(&x, 7).unwrap();
    assert_eq!(all, batched);
}

#[test]
fn save_load_round_trip_gives_identical_predictions() {
    let _g = guard();
    nn::set_random_seed(11);
    let mut model = small_mlp();
    model.compile("adam", logits_ce(), ["accuracy"]).unwrap();
    model
        .fit(&iris(), FitConfig::new().epochs(2).verbose(0))
        .unwrap();
    let path = temp_path("round_trip.nnm");
    model.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    let x = iris().x().clone();
    assert_eq!(model.predict(&x).unwrap(), loaded.predict(&x).unwrap());
    assert!(loaded.is_compiled());
    // Weights alone.
    let wpath = temp_path("weights.nnw");
    model.save_weights(&wpath).unwrap();
    let mut fresh = small_mlp();
    fresh.load_weights(&wpath).unwrap();
    assert_eq!(model.predict(&x).unwrap(), fresh.predict(&x).unwrap());
    // A weights file is not a model file, and vice versa.
    assert!(Model::load(&wpath)
        .unwrap_err()
        .to_string()
        .contains("weights file"));
}

#[test]
fn hostile_files_give_errors_never_panics() {
    let _g = guard();
    nn::set_random_seed(5);
    let model = small_mlp();
    let path = temp_path("hostile_src.nnm");
    model.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let target = temp_path("hostile.nnm");
    // Truncation at every byte.
    for cut in 0..bytes.len() {
        std::fs::write(&target, &bytes[..cut]).unwrap();
        assert!(Model::load(&target).is_err(), "truncated at {cut} loaded");
    }
    // Bit flips anywhere.
    let mut rng = nn::tensor::random::Rng::seed(9);
    for _ in 0..2000 {
        let mut b = bytes.clone();
        let i = rng.below(b.len() as u64) as usize;
        b[i] ^= 1 << rng.below(8);
        std::fs::write(&target, &b).unwrap();
        let _ = Model::load(&target); // must not panic; a flip in the payload fails the checksum
    }
    // Absurd length field, wrong magic, future version.
    let mut b = bytes.clone();
    b[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&target, &b).unwrap();
    assert!(Model::load(&target)
        .unwrap_err()
        .to_string()
        .contains("payload"));
    let mut b = bytes.clone();
    b[0] = b'X';
    std::fs::write(&target, &b).unwrap();
    assert!(Model::load(&target)
        .unwrap_err()
        .to_string()
        .contains("magic"));
    let mut b = bytes.clone();
    b[8..12].copy_from_slice(&99u32.to_le_bytes());
    std::fs::write(&target, &b).unwrap();
    assert!(Model::load(&target)
        .unwrap_err()
        .to_string()
        .contains("version 99"));
}

#[test]
fn failed_save_leaves_the_previous_file_and_no_temporary() {
    let _g = guard();
    let model = small_mlp();
    let dir = temp_path("atomic_dir");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.nnm");
    model.save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    // Saving onto a path whose parent is a file fails; saving over a directory fails at rename.
    let blocked = dir.join("sub");
    std::fs::create_dir_all(&blocked).unwrap();
    assert!(model.save(&blocked).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

#[test]
fn functional_skip_connection_trains() {
    let _g = guard();
    nn::set_random_seed(2);
    let x = Input::new([4]);
    let h = Dense::new(8).activation("relu").apply(&x).unwrap();
    let y = Dense::new(8).activation("relu").apply(&h).unwrap();
    let z = Add::new().apply(&[h, y]).unwrap();
    let out = Dense::new(3).apply(&z).unwrap();
    let mut model = Model::new([x], [out]).unwrap();
    assert_eq!(model.layers().len(), 4);
    model.compile("adam", logits_ce(), ["accuracy"]).unwrap();
    let history = model
        .fit(&iris(), FitConfig::new().epochs(3).verbose(0))
        .unwrap();
    assert_eq!(history.get("loss").unwrap().len(), 3);
    let path = temp_path("functional.nnm");
    model.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    let xs = iris().x().clone();
    assert_eq!(model.predict(&xs).unwrap(), loaded.predict(&xs).unwrap());
}

#[test]
fn non_finite_loss_stops_with_epoch_and_batch() {
    let _g = guard();
    let mut model = small_mlp();
    model
        .compile("sgd", logits_ce(), Vec::<&str>::new())
        .unwrap();
    let data = iris();
    let mut x = data.x().clone();
    x.array_mut()[[0, 0]] = f32::NAN;
    let bad = TensorDataset::new(x, data.y().clone()).unwrap();
    let err = model
        .fit(
            &bad,
            FitConfig::new()
                .epochs(1)
                .batch_size(150)
                .shuffle(false)
                .verbose(0),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonFiniteLoss {
                epoch: 1,
                batch: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn early_stopping_restores_best_weights() {
    let _g = guard();
    nn::set_random_seed(4);
    let mut model = small_mlp();
    model.compile("adam", logits_ce(), ["accuracy"]).unwrap();
    let history = model
        .fit(
            &iris(),
            FitConfig::new()
                .epochs(50)
                .validation_split(0.2)
                .verbose(0)
                .callback(
                    nn::EarlyStopping::new("val_loss")
                        .patience(0)
                        .restore_best_weights(),
                ),
        )
        .unwrap();
    assert!(history.epochs.len() <= 50);
    assert!(history.get("val_loss").is_some());
}

#[test]
fn same_seed_gives_bit_identical_training() {
    let _g = guard();
    let run = || {
        nn::set_random_seed(123);
        let mut model = small_mlp();
        model.compile("adam", logits_ce(), ["accuracy"]).unwrap();
        model
            .fit(&iris(), FitConfig::new().epochs(2).verbose(0))
            .unwrap();
        model.get_weights()
    };
    assert_eq!(run(), run());
}

/// Iris' four features as two inputs: sepal measurements and petal measurements, shuffled
/// (the built-in copy is sorted by class, which a validation split would see).
fn iris_two_inputs() -> (Tensor, Tensor, Tensor) {
    let mut order: Vec<usize> = (0..150).collect();
    nn::tensor::random::Rng::seed(1).shuffle(&mut order);
    let data = iris().subset(&order).unwrap();
    let x = data.x();
    (
        x.slice_axis(1, 0, 2).unwrap().contiguous(),
        x.slice_axis(1, 2, 4).unwrap().contiguous(),
        data.y().clone(),
    )
}

#[test]
fn multi_input_data_reaches_each_input_in_its_shape() {
    let _g = guard();
    // No weights: the output is the inputs themselves, flattened and concatenated, so any
    // mix-up in packing or unpacking shows as a non-zero loss.
    let a = Input::new([2, 2]);
    let b = Input::new([3]);
    let flat = nn::layers::Flatten::new().apply(&a).unwrap();
    let out = nn::layers::Concatenate::new()
        .apply(&[flat, b.clone()])
        .unwrap();
    let mut model = Model::new([a, b], [out]).unwrap();
    model.compile("sgd", "mse", Vec::<&str>::new()).unwrap();
    let xa = Tensor::from_vec((0..12).map(|v| v as f32).collect(), [3, 2, 2]).unwrap();
    let xb = Tensor::from_vec((100..109).map(|v| v as f32).collect(), [3, 3]).unwrap();
    let expected = Tensor::from_vec(
        vec![
            0., 1., 2., 3., 100., 101., 102., //
            4., 5., 6., 7., 103., 104., 105., //
            8., 9., 10., 11., 106., 107., 108.,
        ],
        [3, 7],
    )
    .unwrap();
    assert_eq!(model.predict_inputs(&[&xa, &xb]).unwrap(), expected);
    assert_eq!(
        model.predict_inputs_batched(&[&xa, &xb], 2).unwrap(),
        expected
    );
    let scores = model.evaluate_inputs(&[&xa, &xb], &expected).unwrap();
    assert_eq!(scores["loss"], 0.0);
    // Inputs in the wrong order or number are errors naming the shapes.
    let err = model.predict_inputs(&[&xb, &xa]).unwrap_err().to_string();
    assert!(err.contains("[3, 3]"), "{err}");
    let err = model.predict_inputs(&[&xa]).unwrap_err().to_string();
    assert!(err.contains("2 input(s), 1 given"), "{err}");
}

#[test]
fn two_input_model_fits_evaluates_and_round_trips() {
    let _g = guard();
    nn::set_random_seed(8);
    let (sepal, petal, y) = iris_two_inputs();
    let a = Input::new([2]);
    let b = Input::new([2]);
    let ha = Dense::new(8).activation("relu").apply(&a).unwrap();
    let hb = Dense::new(8).activation("relu").apply(&b).unwrap();
    let h = nn::layers::Concatenate::new().apply(&[ha, hb]).unwrap();
    let out = Dense::new(3).apply(&h).unwrap();
    let mut model = Model::new([a, b], [out]).unwrap();
    let adam = nn::optimizers::Adam::new().with_learning_rate(0.01);
    model.compile(adam, logits_ce(), ["accuracy"]).unwrap();
    let history = model
        .fit_inputs(
            &[&sepal, &petal],
            &y,
            FitConfig::new()
                .epochs(60)
                .batch_size(16)
                .validation_split(0.2)
                .verbose(0),
        )
        .unwrap();
    let losses = history.get("loss").unwrap();
    assert!(losses.last().unwrap() < &(losses[0] * 0.5), "{losses:?}");
    assert_eq!(history.get("val_loss").map(|v| v.len()), Some(60));
    let scores = model.evaluate_inputs(&[&sepal, &petal], &y).unwrap();
    assert!(scores["accuracy"] >= 0.85, "{scores:?} {history:?}");
    // One step by hand equals what train_on_batch_inputs reports as a loss value.
    let loss = model
        .train_on_batch_inputs(&[&sepal, &petal], &y, None)
        .unwrap();
    assert!(loss.is_finite());
    let path = temp_path("two_inputs.nnm");
    model.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    assert_eq!(
        model.predict_inputs(&[&sepal, &petal]).unwrap(),
        loaded.predict_inputs(&[&sepal, &petal]).unwrap()
    );
    // validation_data is a single-input dataset: refused with a pointer to the alternative.
    let err = model
        .fit_inputs(
            &[&sepal, &petal],
            &y,
            FitConfig::new().validation_data(iris()).verbose(0),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("validation_split"), "{err}");
}
