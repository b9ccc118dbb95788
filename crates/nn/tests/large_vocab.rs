//! Large-vocabulary output layers through the Keras-style API: a functional model whose
//! packed input holds (id, label), trained with `fit` and `"loss_from_output"`, evaluated
//! with the exact loss, saved and loaded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nn::layers::{Flatten, Layer};
use nn::prelude::*;
use nn::Model;

const V: usize = 16;

/// Each id `i` is followed by `(5·i + 3) mod V`: a deterministic next-token task.
fn data() -> TensorDataset {
    let n = 192;
    let mut x = Vec::with_capacity(2 * n);
    for k in 0..n {
        let id = k % V;
        x.push(id as f32);
        x.push(((5 * id + 3) % V) as f32);
    }
    TensorDataset::new(
        Tensor::from_vec(x, [n, 2]).unwrap(),
        Tensor::zeros([n]), // ignored by "loss_from_output"
    )
    .unwrap()
}

fn model(output: impl Layer<f32> + 'static) -> Model {
    let x = Input::new([2]);
    let ids = Slice::new(0, 0, 1).apply(&x).unwrap();
    let labels = Slice::new(0, 1, 2).apply(&x).unwrap();
    let embedded = Embedding::new(V, 8).apply(&ids).unwrap();
    let hidden = Flatten::new().apply(&embedded).unwrap();
    let loss = output.apply(&[hidden, labels]).unwrap();
    Model::new([x], [loss]).unwrap()
}

fn train_save_load(output: impl Layer<f32> + 'static, name: &str) {
    nn::set_random_seed(3);
    let mut m = model(output);
    assert_eq!(m.output_shapes(), vec![Vec::<usize>::new()]);
    m.compile("adam", "loss_from_output", Vec::<&str>::new())
        .unwrap();
    m.set_learning_rate(0.05);
    let data = data();
    let before = m.evaluate(&data).unwrap()["loss"];
    let history = m
        .fit(&data, FitConfig::new().epochs(8).batch_size(16).verbose(0))
        .unwrap();
    let losses = history.get("loss").unwrap();
    assert!(
        losses.last() < losses.first(),
        "{name}: training loss {losses:?}"
    );
    // `evaluate` runs in inference mode: the exact log-loss, which training must lower too.
    let after = m.evaluate(&data).unwrap()["loss"];
    assert!(
        after < 0.5 * before,
        "{name}: exact loss {before} → {after}"
    );

    let path =
        std::env::temp_dir().join(format!("nn-large-vocab-{}-{name}.nn", std::process::id()));
    m.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(
        loaded.predict(data.x()).unwrap(),
        m.predict(data.x()).unwrap()
    );
    // The compiled loss is saved with the model.
    assert_eq!(loaded.evaluate(&data).unwrap()["loss"], after);
}

#[test]
fn hierarchical_softmax_trains_with_fit_and_round_trips() {
    let counts: Vec<u64> = (0..V as u64).map(|i| 1 + i % 4).collect();
    train_save_load(HierarchicalSoftmax::from_counts(counts), "hs");
}

#[test]
fn negative_sampling_trains_with_fit_and_round_trips() {
    train_save_load(NegativeSampling::new(vec![1; V], 4), "ns");
}

#[test]
fn sampled_softmax_trains_with_fit_and_round_trips() {
    train_save_load(SampledSoftmax::new(V, 6), "ss");
}
