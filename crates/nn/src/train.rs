//! `compile`, `fit`, `evaluate`, `train_on_batch`, `test_on_batch`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use nn_autograd::{no_grad, Var};
use nn_data::{DataLoader, Dataset, TensorDataset};
use nn_layers::ForwardCtx;
use nn_losses::{Loss, Metric};
use nn_optim::{Optimizer, ParamUpdate};
use nn_tensor::{Float, Tensor};

use crate::callbacks::{Callback, ProgressBar};
use crate::model::InputLayout;
use crate::pool::{on_pool, Chore, IdleWork};
use crate::{Error, Model, Result};

/// Per-epoch (or per-batch) values by name: `"loss"`, `"accuracy"`, `"val_loss"`, ...
pub type Logs = BTreeMap<String, f64>;

/// An optimizer given by value or by Keras name (`"adam"`, `"sgd"`, ...).
pub trait IntoOptimizer<T: Float> {
    /// The optimizer.
    fn into_optimizer(self) -> Result<Box<dyn Optimizer<T>>>;
}

impl<T: Float> IntoOptimizer<T> for &str {
    fn into_optimizer(self) -> Result<Box<dyn Optimizer<T>>> {
        Ok(nn_optim::optimizer_from_name(self)?)
    }
}

impl<T: Float> IntoOptimizer<T> for Box<dyn Optimizer<T>> {
    fn into_optimizer(self) -> Result<Box<dyn Optimizer<T>>> {
        Ok(self)
    }
}

/// A loss given by value or by Keras name (`"sparse_categorical_crossentropy"`, `"mse"`, ...).
pub trait IntoLoss<T: Float> {
    /// The loss.
    fn into_loss(self) -> Result<Box<dyn Loss<T>>>;
}

impl<T: Float> IntoLoss<T> for &str {
    fn into_loss(self) -> Result<Box<dyn Loss<T>>> {
        Ok(nn_losses::loss_from_name(self)?)
    }
}

impl<T: Float> IntoLoss<T> for Box<dyn Loss<T>> {
    fn into_loss(self) -> Result<Box<dyn Loss<T>>> {
        Ok(self)
    }
}

/// A metric given by value or by Keras name (`"accuracy"`, `"mae"`, ...).
pub trait IntoMetric<T: Float> {
    /// The display name and the metric; `loss_name` resolves `"accuracy"` as Keras does.
    fn into_metric(self, loss_name: &str) -> Result<(String, Box<dyn Metric<T>>)>;
}

impl<T: Float> IntoMetric<T> for &str {
    fn into_metric(self, loss_name: &str) -> Result<(String, Box<dyn Metric<T>>)> {
        let resolved = match (self, loss_name) {
            ("accuracy" | "acc", "sparse_categorical_crossentropy") => {
                "sparse_categorical_accuracy"
            }
            ("accuracy" | "acc", "categorical_crossentropy") => "categorical_accuracy",
            ("accuracy" | "acc", "binary_crossentropy") => "binary_accuracy",
            (name, _) => name,
        };
        let display = if self == "acc" { "accuracy" } else { self };
        Ok((display.to_string(), nn_losses::metric_from_name(resolved)?))
    }
}

impl<T: Float> IntoMetric<T> for Box<dyn Metric<T>> {
    fn into_metric(self, _loss_name: &str) -> Result<(String, Box<dyn Metric<T>>)> {
        Ok((self.name().to_string(), self))
    }
}

macro_rules! into_optimizers {
    ($($o:ident),*) => {
        $(impl<T: Float> IntoOptimizer<T> for nn_optim::$o<T> {
            fn into_optimizer(self) -> Result<Box<dyn Optimizer<T>>> { Ok(Box::new(self)) }
        })*
    };
}
into_optimizers!(Sgd, Adam, AdamW, RmsProp, Adagrad, Adadelta, Adamax, Nadam, Lion);

macro_rules! into_losses {
    ($($l:ident),* $(,)?) => {
        $(impl<T: Float> IntoLoss<T> for nn_losses::$l {
            fn into_loss(self) -> Result<Box<dyn Loss<T>>> { Ok(Box::new(self)) }
        })*
    };
}
nn_losses::with_builtin_losses!(into_losses);

macro_rules! into_metrics {
    ($($m:ident),*) => {
        $(impl<T: Float> IntoMetric<T> for nn_losses::metrics::$m {
            fn into_metric(self, _loss: &str) -> Result<(String, Box<dyn Metric<T>>)> {
                Ok((Metric::<T>::name(&self).to_string(), Box::new(self)))
            }
        })*
    };
}
into_metrics!(
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    Precision,
    Recall,
    F1Score,
    ConfusionMatrix,
    AUC,
    MeanSquaredError,
    MeanAbsoluteError
);

pub(crate) struct Compiled<T: Float> {
    pub(crate) optimizer: Box<dyn Optimizer<T>>,
    pub(crate) loss: Box<dyn Loss<T>>,
    pub(crate) metrics: Vec<(String, Box<dyn Metric<T>>)>,
}

/// Settings of [`Model::fit`], Keras' keyword arguments as a builder.
pub struct FitConfig {
    pub(crate) epochs: usize,
    pub(crate) batch_size: usize,
    pub(crate) shuffle: bool,
    pub(crate) validation_split: f64,
    pub(crate) validation_data: Option<TensorDataset>,
    pub(crate) class_weight: Option<BTreeMap<usize, f64>>,
    pub(crate) sample_weight: Option<Vec<f32>>,
    pub(crate) callbacks: Vec<Box<dyn Callback>>,
    pub(crate) verbose: u8,
    pub(crate) seed: Option<u64>,
    pub(crate) stop_on_non_finite: bool,
    pub(crate) initial_epoch: usize,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            validation_split: 0.0,
            validation_data: None,
            class_weight: None,
            sample_weight: None,
            callbacks: Vec::new(),
            verbose: 1,
            seed: None,
            stop_on_non_finite: true,
            initial_epoch: 0,
        }
    }
}

impl FitConfig {
    /// Keras' defaults: 1 epoch, batch 32, shuffled, progress bar.
    pub fn new() -> Self {
        Self::default()
    }
    /// Passes over the data.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }
    /// Samples per gradient step.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }
    /// Reshuffles the training data every epoch (default true).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }
    /// Holds out the last `fraction` of the data (before shuffling) for validation.
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation_split = fraction;
        self
    }
    /// Validates on this data after every epoch.
    pub fn validation_data(mut self, data: TensorDataset) -> Self {
        self.validation_data = Some(data);
        self
    }
    /// Weights the loss of each class (integer labels).
    pub fn class_weight(mut self, weights: impl IntoIterator<Item = (usize, f64)>) -> Self {
        self.class_weight = Some(weights.into_iter().collect());
        self
    }
    /// Weights the loss of each training sample.
    pub fn sample_weight(mut self, weights: Vec<f32>) -> Self {
        self.sample_weight = Some(weights);
        self
    }
    /// Adds a callback.
    pub fn callback(mut self, callback: impl Callback + 'static) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }
    /// 0: silent, 1: progress bar, 2: one line per epoch.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }
    /// Seeds the shuffling (default: drawn from the global seed).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// Keep training when the loss becomes NaN or infinite (default: stop with an error).
    pub fn continue_on_non_finite(mut self) -> Self {
        self.stop_on_non_finite = false;
        self
    }
    /// The epoch to start counting from (resuming training).
    pub fn initial_epoch(mut self, epoch: usize) -> Self {
        self.initial_epoch = epoch;
        self
    }
}

/// What `fit` returns: per-epoch values of the loss and metrics (and their `val_` forms).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// The epochs run (0-based).
    pub epochs: Vec<usize>,
    /// Values by name, one per epoch.
    pub history: BTreeMap<String, Vec<f64>>,
}

impl History {
    /// The values of `name` per epoch.
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.history.get(name).map(|v| v.as_slice())
    }

    /// The last value of `name`.
    pub fn last(&self, name: &str) -> Option<f64> {
        self.history.get(name).and_then(|v| v.last().copied())
    }

    pub(crate) fn push(&mut self, epoch: usize, logs: &Logs) {
        self.epochs.push(epoch);
        for (k, v) in logs {
            self.history.entry(k.clone()).or_default().push(*v);
        }
    }
}

impl<T: Float> Model<T> {
    /// Sets the optimizer, loss and metrics for training (Keras' `compile`).
    pub fn compile<M: IntoMetric<T>>(
        &mut self,
        optimizer: impl IntoOptimizer<T>,
        loss: impl IntoLoss<T>,
        metrics: impl IntoIterator<Item = M>,
    ) -> Result<()> {
        if self.graph.outputs.len() != 1 {
            return Err(Error::Model(format!(
                "compile: training supports single-output models; this one has {} outputs",
                self.graph.outputs.len()
            )));
        }
        let optimizer = optimizer.into_optimizer()?;
        let loss = loss.into_loss()?;
        let loss_name = loss.name().to_string();
        let metrics = metrics
            .into_iter()
            .map(|m| m.into_metric(&loss_name))
            .collect::<Result<Vec<_>>>()?;
        self.compiled = Some(Compiled {
            optimizer,
            loss,
            metrics,
        });
        Ok(())
    }

    /// Whether `compile` has been called.
    pub fn is_compiled(&self) -> bool {
        self.compiled.is_some()
    }

    /// The optimizer's current learning rate.
    pub fn learning_rate(&self) -> Option<f64> {
        self.compiled.as_ref().map(|c| c.optimizer.learning_rate())
    }

    /// Sets the optimizer's learning rate (ReduceLROnPlateau, schedulers).
    pub fn set_learning_rate(&mut self, lr: f64) {
        if let Some(c) = self.compiled.as_mut() {
            c.optimizer.set_learning_rate(lr);
        }
    }

    /// Asks `fit` to stop after the current epoch (for callbacks).
    pub fn stop_training(&mut self) {
        self.stop_training = true;
    }

    /// One gradient step on a batch; returns the batch loss (before the step) and
    /// updates the compiled metrics' state.
    pub fn train_on_batch(
        &mut self,
        x: &Tensor<T>,
        y: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<f64> {
        self.train_on_batch_inputs(&[x], y, sample_weight)
    }

    /// [`Model::train_on_batch`] for a model with several inputs: one tensor per model
    /// input, in the order given to [`Model::new`].
    pub fn train_on_batch_inputs(
        &mut self,
        inputs: &[&Tensor<T>],
        y: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<f64> {
        self.check_inputs("train_on_batch", inputs)?;
        if self.compiled.is_none() {
            return Err(Error::NotCompiled("train_on_batch"));
        }
        let mut rng = std::mem::replace(&mut self.rng, nn_tensor::random::Rng::seed(0));
        let result = on_pool(|_| self.train_step(inputs, y, sample_weight, &mut rng));
        self.rng = rng;
        result
    }

    fn train_step(
        &mut self,
        inputs: &[&Tensor<T>],
        y: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
        rng: &mut nn_tensor::random::Rng,
    ) -> Result<f64> {
        let mut ctx = ForwardCtx::new(true, rng);
        let vars: Vec<Var<T>> = inputs.iter().map(|x| Var::constant((*x).clone())).collect();
        let out = self.run(&vars, &mut ctx)?.remove(0);
        let compiled = self.compiled.as_mut().ok_or(Error::NotCompiled("fit"))?;
        let mut loss = compiled.loss.compute(y, &out, sample_weight)?;
        for extra in ctx.take_losses() {
            loss = loss.add(&extra.sum_all()?)?;
        }
        for layer in &self.layers {
            if let Some(r) = layer.regularization_loss()? {
                loss = loss.add(&r)?;
            }
        }
        let value = loss.value().item()?.f64();
        let prediction = out.value().clone();
        let mut grads = loss.backward()?;
        drop(out);
        drop(loss);
        let updates = ctx.take_updates();
        // Gradients paired with their parameters under stable "layer/param" keys; `has` marks,
        // in parameter order, which parameters received one.
        let mut keys: Vec<String> = Vec::new();
        let mut owned: Vec<Tensor<T>> = Vec::new();
        let mut has: Vec<bool> = Vec::new();
        for layer in &self.layers {
            for p in layer.params() {
                let g = if p.trainable() {
                    grads.remove(p.id())
                } else {
                    None
                };
                has.push(g.is_some());
                if let Some(g) = g {
                    keys.push(format!("{}/{}", layer.name(), p.name()));
                    owned.push(g);
                }
            }
        }
        let mut batch: Vec<ParamUpdate<'_, T>> = Vec::with_capacity(keys.len());
        let mut flags = has.iter();
        let mut pairs = keys.iter().zip(owned.iter());
        for layer in self.layers.iter_mut() {
            for p in layer.params_mut() {
                if flags.next() == Some(&true) {
                    if let Some((key, grad)) = pairs.next() {
                        batch.push(ParamUpdate {
                            key,
                            value: p.value_mut(),
                            grad,
                        });
                    }
                }
            }
        }
        compiled.optimizer.apply(&mut batch)?;
        drop(batch);
        for (_, m) in compiled.metrics.iter_mut() {
            m.update(y, &prediction, sample_weight)?;
        }
        self.apply_updates(updates)?;
        Ok(value)
    }

    /// The loss and metrics on one batch, without training.
    pub fn test_on_batch(
        &self,
        x: &Tensor<T>,
        y: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<Logs> {
        self.check_inputs("test_on_batch", &[x])?;
        let compiled = self
            .compiled
            .as_ref()
            .ok_or(Error::NotCompiled("test_on_batch"))?;
        let pred = self.predict_on_batch(&[x])?.remove(0);
        let mut logs = Logs::new();
        let loss = no_grad(|| {
            compiled
                .loss
                .compute(y, &Var::constant(pred.clone()), sample_weight)
        })?;
        logs.insert("loss".into(), loss.value().item()?.f64());
        for (name, m) in &compiled.metrics {
            let mut m = m.clone_box();
            m.reset();
            m.update(y, &pred, sample_weight)?;
            logs.insert(name.clone(), m.result());
        }
        Ok(logs)
    }
}

impl Model<f32> {
    /// Trains on `data` (features `x`, targets `y`) as Keras' `fit`.
    pub fn fit(&mut self, data: &TensorDataset, config: FitConfig) -> Result<History> {
        self.check_dataset("fit", data)?;
        self.fit_layout(data, config, &InputLayout::Single)
    }

    /// Trains a model with one or several inputs (Keras' `fit([x1, x2], y)`): one tensor per
    /// model input, in the order given to [`Model::new`], all with the same batch size as `y`.
    /// `validation_split` works as in [`Model::fit`]; `validation_data` (a single-input
    /// dataset) is refused.
    pub fn fit_inputs(
        &mut self,
        inputs: &[&Tensor<f32>],
        y: &Tensor<f32>,
        config: FitConfig,
    ) -> Result<History> {
        if config.validation_data.is_some() {
            return Err(Error::input(
                "fit_inputs",
                "validation_data holds a single input; use validation_split, or \
                 evaluate_inputs after training",
            ));
        }
        let (packed, layout) = self.pack_inputs("fit", inputs)?;
        let data = TensorDataset::new(packed, y.clone())?;
        self.fit_layout(&data, config, &layout)
    }

    fn fit_layout(
        &mut self,
        data: &TensorDataset,
        config: FitConfig,
        layout: &InputLayout,
    ) -> Result<History> {
        on_pool(|idle| self.fit_on_this_thread(data, config, layout, idle))
    }

    fn fit_on_this_thread(
        &mut self,
        data: &TensorDataset,
        mut config: FitConfig,
        layout: &InputLayout,
        idle: &IdleWork,
    ) -> Result<History> {
        if self.compiled.is_none() {
            return Err(Error::NotCompiled("fit"));
        }
        if config.batch_size == 0 {
            return Err(Error::input("fit", "batch_size must be positive"));
        }
        let (train, validation) = if config.validation_split > 0.0 {
            let (t, v) = data.split_validation(config.validation_split)?;
            (t, Some(v))
        } else {
            (data.clone(), config.validation_data.take())
        };
        if let Some(w) = &config.sample_weight {
            if w.len() != data.len() {
                return Err(Error::input(
                    "fit",
                    format!(
                        "sample_weight has {} values for {} samples",
                        w.len(),
                        data.len()
                    ),
                ));
            }
        }
        let seed = config.seed.unwrap_or_else(|| self.rng.next_u64());
        let train_len = train.len();
        let loader_prefetch = prefetch_depth();
        let loader = DataLoader::new(Arc::new(train.clone()), config.batch_size)?
            .shuffle(config.shuffle)
            .seed(seed)
            .prefetch(loader_prefetch);
        let steps = loader.num_batches();
        let mut callbacks = std::mem::take(&mut config.callbacks);
        if config.verbose > 0 {
            callbacks.insert(0, Box::new(ProgressBar::new(config.verbose)));
        }
        let mut history = History::default();
        self.stop_training = false;
        for cb in callbacks.iter_mut() {
            cb.on_train_begin(self, config.epochs, steps)?;
        }
        let labels_for_weights = if config.class_weight.is_some() {
            Some(train.labels()?)
        } else {
            None
        };
        for epoch in config.initial_epoch..config.epochs {
            for cb in callbacks.iter_mut() {
                cb.on_epoch_begin(epoch, self)?;
            }
            if let Some(c) = self.compiled.as_mut() {
                c.metrics.iter_mut().for_each(|(_, m)| m.reset());
            }
            let mut loss_sum = 0.0;
            let mut seen = 0usize;
            let started = Instant::now();
            // Samples up to this position of the epoch's order are wanted in cache: the batch
            // after the one training (gathered serially when no prefetch worker does it).
            let warm_until = Arc::new(AtomicUsize::new(0));
            let batches = loader.epoch(epoch as u64);
            if idle.has_workers() && loader_prefetch == 0 {
                idle.set(Some(warm_ahead(
                    Arc::clone(loader.dataset()),
                    batches.order(),
                    config.batch_size,
                    Arc::clone(&warm_until),
                )));
            }
            for (b, batch) in batches.enumerate() {
                let batch = batch?;
                warm_until.store((b + 2) * config.batch_size, Ordering::Relaxed);
                let weights = batch_weights(
                    &config,
                    labels_for_weights.as_deref(),
                    &batch.indices,
                    train_len,
                )?;
                let mut rng = std::mem::replace(&mut self.rng, nn_tensor::random::Rng::seed(0));
                let step = layout.unpack(&batch.x).and_then(|xs| {
                    let refs: Vec<&Tensor<f32>> = xs.iter().collect();
                    self.train_step(&refs, &batch.y, weights.as_ref(), &mut rng)
                });
                self.rng = rng;
                let loss = step?;
                if !loss.is_finite() && config.stop_on_non_finite {
                    for cb in callbacks.iter_mut() {
                        cb.on_train_end(self)?;
                    }
                    return Err(Error::NonFiniteLoss {
                        epoch: epoch + 1,
                        batch: b + 1,
                        value: loss,
                    });
                }
                loss_sum += loss * batch.len() as f64;
                seen += batch.len();
                let mut logs = Logs::new();
                logs.insert("loss".into(), loss_sum / seen.max(1) as f64);
                if let Some(c) = self.compiled.as_ref() {
                    for (name, m) in &c.metrics {
                        logs.insert(name.clone(), m.result());
                    }
                }
                for cb in callbacks.iter_mut() {
                    cb.on_batch_end(b, &logs, self)?;
                }
            }
            idle.set(None);
            let mut logs = Logs::new();
            logs.insert("loss".into(), loss_sum / seen.max(1) as f64);
            if let Some(c) = self.compiled.as_ref() {
                for (name, m) in &c.metrics {
                    logs.insert(name.clone(), m.result());
                }
            }
            if let Some(val) = &validation {
                let scores = self.evaluate_layout(val, config.batch_size, layout)?;
                for (k, v) in scores {
                    logs.insert(format!("val_{k}"), v);
                }
            }
            logs.insert("epoch_seconds".into(), started.elapsed().as_secs_f64());
            history.push(epoch, &logs);
            for cb in callbacks.iter_mut() {
                cb.on_epoch_end(epoch, &logs, self)?;
            }
            if self.stop_training {
                break;
            }
        }
        for cb in callbacks.iter_mut() {
            cb.on_train_end(self)?;
        }
        Ok(history)
    }

    /// Trains on tensors `x` and `y` (a convenience over [`Model::fit`]).
    pub fn fit_xy(
        &mut self,
        x: &Tensor<f32>,
        y: &Tensor<f32>,
        config: FitConfig,
    ) -> Result<History> {
        let data = TensorDataset::new(x.clone(), y.clone())?;
        self.fit(&data, config)
    }

    /// The loss and every metric over `data`: `{"loss": .., "accuracy": ..}`.
    pub fn evaluate(&self, data: &TensorDataset) -> Result<Logs> {
        self.evaluate_batched(data, 256)
    }

    /// [`Model::evaluate`] with a chosen batch size.
    pub fn evaluate_batched(&self, data: &TensorDataset, batch_size: usize) -> Result<Logs> {
        self.check_dataset("evaluate", data)?;
        self.evaluate_layout(data, batch_size, &InputLayout::Single)
    }

    /// The loss and every metric for a model with one or several inputs: one tensor per
    /// model input, in the order given to [`Model::new`], and the targets `y`.
    pub fn evaluate_inputs(&self, inputs: &[&Tensor<f32>], y: &Tensor<f32>) -> Result<Logs> {
        let (packed, layout) = self.pack_inputs("evaluate", inputs)?;
        let data = TensorDataset::new(packed, y.clone())?;
        self.evaluate_layout(&data, 256, &layout)
    }

    fn evaluate_layout(
        &self,
        data: &TensorDataset,
        batch_size: usize,
        layout: &InputLayout,
    ) -> Result<Logs> {
        on_pool(|_| self.evaluate_on_this_thread(data, batch_size, layout))
    }

    fn evaluate_on_this_thread(
        &self,
        data: &TensorDataset,
        batch_size: usize,
        layout: &InputLayout,
    ) -> Result<Logs> {
        let compiled = self
            .compiled
            .as_ref()
            .ok_or(Error::NotCompiled("evaluate"))?;
        let n = data.len();
        if n == 0 {
            return Err(Error::input("evaluate", "the dataset is empty"));
        }
        let xs = layout.unpack(data.x())?;
        let refs: Vec<&Tensor<f32>> = xs.iter().collect();
        let pred = self.predict_inputs_batched(&refs, batch_size.max(1))?;
        let mut metrics: Vec<(String, Box<dyn Metric<f32>>)> = compiled
            .metrics
            .iter()
            .map(|(n, m)| (n.clone(), m.clone_box()))
            .collect();
        let mut loss_sum = 0.0;
        let step = batch_size.max(1);
        for s in (0..n).step_by(step) {
            let e = (s + step).min(n);
            let yb = data.y().slice_axis(0, s, e)?.contiguous();
            let pb = pred.slice_axis(0, s, e)?.contiguous();
            let l = no_grad(|| compiled.loss.compute(&yb, &Var::constant(pb.clone()), None))?;
            loss_sum += l.value().item()?.f64() * (e - s) as f64;
        }
        let mut logs = Logs::new();
        logs.insert("loss".into(), loss_sum / n as f64);
        for (name, m) in metrics.iter_mut() {
            m.reset();
            m.update(data.y(), &pred, None)?;
            logs.insert(name.clone(), m.result());
        }
        Ok(logs)
    }

    fn check_dataset(&self, op: &'static str, data: &TensorDataset) -> Result<()> {
        self.check_inputs(op, &[data.x()])?;
        Ok(())
    }
}

/// Batches `fit` assembles ahead on a thread of its own: only when the pool leaves a core
/// free for it. Otherwise that thread takes a core from a pool thread, and the parallel copies
/// it starts occupy the pool's workers just when a step forks (on 2 threads, the second half
/// of a W1 product started 80–160 µs late); the step then gathers its batch itself, on the
/// pool, in a few tens of microseconds.
fn prefetch_depth() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if rayon::current_num_threads() < cores {
        nn_data::loader::DEFAULT_PREFETCH
    } else {
        0
    }
}

/// Samples read per step of [`warm_ahead`]'s chore: about 12 KiB for a Fashion-MNIST image, a
/// few microseconds, so a fork that arrives meanwhile waits little for the worker.
const WARM_SAMPLES_PER_STEP: usize = 4;

/// A chore reading, in epoch order, the samples from position `from` up to position `until`
/// (which the training loop advances) of an epoch's `order`, so that gathering the next batch
/// copies from cache.
/// With a full pool the batch is gathered on the critical path: 45–100 µs of a W1 step traced
/// on 2 threads; a scratch copy of 128 random Fashion-MNIST rows took 64 µs from memory and
/// 17–19 µs once another core had read them.
fn warm_ahead<D: Dataset + ?Sized + 'static>(
    dataset: Arc<D>,
    order: Arc<[usize]>,
    from: usize,
    until: Arc<AtomicUsize>,
) -> Chore {
    let mut warmed = from;
    Box::new(move || {
        let end = until.load(Ordering::Relaxed).min(order.len());
        if warmed >= end {
            return false;
        }
        let stop = end.min(warmed + WARM_SAMPLES_PER_STEP);
        dataset.warm(&order[warmed..stop]);
        warmed = stop;
        true
    })
}

fn batch_weights(
    config: &FitConfig,
    labels: Option<&[usize]>,
    indices: &[usize],
    _len: usize,
) -> Result<Option<Tensor<f32>>> {
    let mut w: Option<Vec<f32>> = None;
    if let Some(sw) = &config.sample_weight {
        w = Some(indices.iter().map(|&i| sw[i]).collect());
    }
    if let (Some(cw), Some(labels)) = (&config.class_weight, labels) {
        let cls: Vec<f32> = indices
            .iter()
            .map(|&i| cw.get(&labels[i]).copied().unwrap_or(1.0) as f32)
            .collect();
        w = Some(match w {
            Some(prev) => prev.iter().zip(&cls).map(|(a, b)| a * b).collect(),
            None => cls,
        });
    }
    match w {
        Some(v) => {
            let n = v.len();
            Ok(Some(Tensor::from_vec(v, [n])?))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A dataset that records which samples it was asked to warm.
    struct Recording(Mutex<Vec<usize>>);

    impl Dataset for Recording {
        fn len(&self) -> usize {
            10
        }
        fn feature_shape(&self) -> Vec<usize> {
            vec![1]
        }
        fn target_shape(&self) -> Vec<usize> {
            vec![]
        }
        fn gather(&self, _: &[usize], x_out: &mut [f32], y_out: &mut [f32]) {
            x_out.fill(0.0);
            y_out.fill(0.0);
        }
        fn warm(&self, indices: &[usize]) {
            if let Ok(mut seen) = self.0.lock() {
                seen.extend_from_slice(indices);
            }
        }
    }

    #[test]
    fn warm_ahead_reads_the_order_from_its_start_up_to_the_mark_in_small_steps() {
        let dataset = Arc::new(Recording(Mutex::new(Vec::new())));
        let order: Arc<[usize]> = vec![9, 8, 7, 6, 5, 4, 3, 2, 1, 0].into();
        let until = Arc::new(AtomicUsize::new(0));
        let mut chore = warm_ahead(Arc::clone(&dataset), order, 2, Arc::clone(&until));
        assert!(!chore(), "nothing is wanted yet");
        until.store(9, Ordering::Relaxed);
        assert!(chore());
        assert_eq!(*dataset.0.lock().unwrap(), [7, 6, 5, 4]);
        assert!(chore());
        assert!(!chore(), "caught up with the mark");
        assert_eq!(*dataset.0.lock().unwrap(), [7, 6, 5, 4, 3, 2, 1]);
        until.store(usize::MAX, Ordering::Relaxed);
        assert!(chore() && !chore(), "stops at the end of the order");
        assert_eq!(*dataset.0.lock().unwrap(), [7, 6, 5, 4, 3, 2, 1, 0]);
    }
}
