//! The "best value so far" callbacks driven epoch by epoch with chosen logs, checked against
//! Keras' rules: ReduceLROnPlateau (patience, factor, cooldown, min_lr, min_delta) and
//! ModelCheckpoint's save_best_only (lower is better for a loss, higher for an accuracy).

#![allow(clippy::unwrap_used)]

use nn::prelude::*;
use nn::Logs;

fn model(lr: f64) -> Model {
    let mut m = Sequential::new()
        .add(Input::new([2]))
        .add(Dense::new(1))
        .build()
        .unwrap();
    m.compile(
        nn::optimizers::Sgd::new().with_learning_rate(lr),
        "mse",
        std::iter::empty::<&str>(),
    )
    .unwrap();
    m
}

fn logs(key: &str, value: f64) -> Logs {
    Logs::from([(key.to_string(), value)])
}

/// Feeds `values` of `key` to `cb` one epoch each and returns the learning rate after each.
fn lr_trace(cb: &mut dyn Callback, m: &mut Model, key: &str, values: &[f64]) -> Vec<f64> {
    values
        .iter()
        .enumerate()
        .map(|(epoch, &v)| {
            cb.on_epoch_end(epoch, &logs(key, v), m).unwrap();
            m.learning_rate().unwrap()
        })
        .collect()
}

fn assert_lrs(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() < 1e-12,
            "epoch {i}: lr {g}, want {w} ({got:?})"
        );
    }
}

#[test]
fn reduce_lr_on_plateau_waits_patience_epochs_then_scales_and_floors() {
    let mut m = model(0.1);
    let mut cb = ReduceLROnPlateau::new("val_loss")
        .factor(0.5)
        .patience(2)
        .min_delta(0.0)
        .min_lr(0.02);
    // Improves twice, then two flat epochs: cut to 0.05; two more: 0.025; two more: the
    // floor 0.02; the floor holds.
    let got = lr_trace(
        &mut cb,
        &mut m,
        "val_loss",
        &[1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95],
    );
    assert_lrs(
        &got,
        &[0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02],
    );
}

#[test]
fn reduce_lr_on_plateau_min_delta_and_cooldown() {
    // An improvement smaller than min_delta counts as none.
    let mut m = model(0.1);
    let mut cb = ReduceLROnPlateau::new("val_loss")
        .factor(0.5)
        .patience(1)
        .min_delta(0.1);
    let got = lr_trace(&mut cb, &mut m, "val_loss", &[1.0, 0.95, 0.8]);
    assert_lrs(&got, &[0.1, 0.05, 0.05]);

    // After a cut, the epochs of the cooldown do not count towards patience.
    let mut m = model(0.1);
    let mut cb = ReduceLROnPlateau::new("val_loss")
        .factor(0.5)
        .patience(1)
        .min_delta(0.0)
        .cooldown(2);
    // Keras' counting: the epoch that ends a cooldown already counts towards patience.
    let got = lr_trace(&mut cb, &mut m, "val_loss", &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
    assert_lrs(&got, &[0.1, 0.05, 0.05, 0.025, 0.025, 0.0125]);

    // An accuracy is maximised: rising values are improvements.
    let mut m = model(0.1);
    let mut cb = ReduceLROnPlateau::new("val_accuracy")
        .factor(0.5)
        .patience(1)
        .min_delta(0.0);
    let got = lr_trace(&mut cb, &mut m, "val_accuracy", &[0.5, 0.6, 0.7, 0.6]);
    assert_lrs(&got, &[0.1, 0.1, 0.1, 0.05]);
}

#[test]
fn model_checkpoint_save_best_only_saves_improvements_only() {
    let dir = std::env::temp_dir().join(format!("nn-callbacks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |e: usize| dir.join(format!("ckpt_{e}.nn"));
    let mut m = model(0.1);

    let pattern = dir.join("ckpt_{epoch}.nn").to_string_lossy().into_owned();
    // Runs a fresh save-best-only checkpoint over one value per epoch; which epochs saved.
    let mut saved_epochs = |key: &str, values: [f64; 4]| -> Vec<bool> {
        for e in 1..=4 {
            let _ = std::fs::remove_file(path(e));
        }
        let mut cb = ModelCheckpoint::new(pattern.clone())
            .monitor(key)
            .save_best_only();
        for (epoch, v) in values.into_iter().enumerate() {
            cb.on_epoch_end(epoch, &logs(key, v), &mut m).unwrap();
        }
        (1..=4).map(|e| path(e).exists()).collect()
    };
    let saved = saved_epochs("val_loss", [1.0, 1.2, 0.8, 0.8]);
    assert_eq!(saved, [true, false, true, false]);
    assert!(Model::load(path(3)).is_ok());

    // Higher is better for an accuracy.
    let saved = saved_epochs("val_accuracy", [0.5, 0.7, 0.6, 0.9]);
    assert_eq!(saved, [true, true, false, true]);

    // A monitored value that is not logged is an error naming it.
    let err = ModelCheckpoint::new(dir.join("x.nn").to_string_lossy().into_owned())
        .monitor("val_auc")
        .save_best_only()
        .on_epoch_end(0, &logs("val_loss", 1.0), &mut m)
        .unwrap_err()
        .to_string();
    assert!(err.contains("val_auc"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
