//! Callbacks: code that runs at points of `fit` (Keras' `keras.callbacks`).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use nn_tensor::Tensor;

use crate::train::Logs;
use crate::{Error, Model, Result};

/// Hooks into [`Model::fit`]. Every method has a default that does nothing; implement the
/// ones you need. Call [`Model::stop_training`] to end training after the current epoch.
pub trait Callback: Send {
    /// Before the first epoch, with the epoch count and steps per epoch.
    fn on_train_begin(
        &mut self,
        _model: &mut Model<f32>,
        _epochs: usize,
        _steps: usize,
    ) -> Result<()> {
        Ok(())
    }
    /// Before each epoch (0-based).
    fn on_epoch_begin(&mut self, _epoch: usize, _model: &mut Model<f32>) -> Result<()> {
        Ok(())
    }
    /// After each batch (0-based), with the running loss and metrics of the epoch.
    fn on_batch_end(&mut self, _batch: usize, _logs: &Logs, _model: &mut Model<f32>) -> Result<()> {
        Ok(())
    }
    /// After each epoch, with its loss, metrics and validation values.
    fn on_epoch_end(&mut self, _epoch: usize, _logs: &Logs, _model: &mut Model<f32>) -> Result<()> {
        Ok(())
    }
    /// After the last epoch (also when training stops early or fails).
    fn on_train_end(&mut self, _model: &mut Model<f32>) -> Result<()> {
        Ok(())
    }
}

fn metric_line(logs: &Logs) -> String {
    logs.iter()
        .filter(|(k, _)| k.as_str() != "epoch_seconds")
        .map(|(k, v)| format!("{k}: {v:.4}"))
        .collect::<Vec<_>>()
        .join(" - ")
}

fn duration_text(seconds: f64) -> String {
    if seconds >= 3600.0 {
        format!(
            "{}:{:02}:{:02}",
            (seconds / 3600.0) as u64,
            ((seconds % 3600.0) / 60.0) as u64,
            (seconds % 60.0) as u64
        )
    } else if seconds >= 60.0 {
        format!("{}:{:02}", (seconds / 60.0) as u64, (seconds % 60.0) as u64)
    } else {
        format!("{seconds:.0}s")
    }
}

/// Keras' progress display: `Epoch 1/5`, then a bar with the step count, the ETA (from the
/// measured time per step) and the running loss and metrics; verbosity 2 prints one line per
/// epoch. Added by `fit` when `verbose > 0`; writes to standard error.
pub struct ProgressBar {
    verbose: u8,
    epochs: usize,
    steps: usize,
    started: Instant,
    last_draw: Option<Instant>,
}

impl ProgressBar {
    /// A progress display with Keras' verbosity levels (1: bar, 2: line per epoch).
    pub fn new(verbose: u8) -> Self {
        ProgressBar {
            verbose,
            epochs: 0,
            steps: 0,
            started: Instant::now(),
            last_draw: None,
        }
    }
}

impl Callback for ProgressBar {
    fn on_train_begin(
        &mut self,
        _model: &mut Model<f32>,
        epochs: usize,
        steps: usize,
    ) -> Result<()> {
        self.epochs = epochs;
        self.steps = steps;
        Ok(())
    }

    fn on_epoch_begin(&mut self, epoch: usize, _model: &mut Model<f32>) -> Result<()> {
        self.started = Instant::now();
        self.last_draw = None;
        eprintln!("Epoch {}/{}", epoch + 1, self.epochs);
        Ok(())
    }

    fn on_batch_end(&mut self, batch: usize, logs: &Logs, _model: &mut Model<f32>) -> Result<()> {
        if self.verbose != 1 {
            return Ok(());
        }
        let now = Instant::now();
        let done = batch + 1;
        // Redraw at most ~10 times a second, and always on the last step.
        if done < self.steps
            && self
                .last_draw
                .is_some_and(|t| now.duration_since(t).as_millis() < 100)
        {
            return Ok(());
        }
        self.last_draw = Some(now);
        let elapsed = self.started.elapsed().as_secs_f64();
        let per_step = elapsed / done as f64;
        let width = 20usize;
        let filled = (width * done)
            .checked_div(self.steps.max(1))
            .unwrap_or(width)
            .min(width);
        let bar = if filled >= width {
            "=".repeat(width)
        } else {
            format!("{}>{}", "=".repeat(filled), ".".repeat(width - filled - 1))
        };
        let timing = if done < self.steps {
            format!(
                "ETA: {}",
                duration_text(per_step * (self.steps - done) as f64)
            )
        } else {
            format!("{} {:.0}ms/step", duration_text(elapsed), per_step * 1000.0)
        };
        let steps_w = self.steps.to_string().len();
        eprint!(
            "\r{done:>steps_w$}/{} [{bar}] - {timing} - {}\x1b[K",
            self.steps,
            metric_line(logs)
        );
        if done >= self.steps {
            eprintln!();
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, _epoch: usize, logs: &Logs, _model: &mut Model<f32>) -> Result<()> {
        let elapsed = self.started.elapsed().as_secs_f64();
        if self.verbose == 1 {
            if logs.keys().any(|k| k.starts_with("val_")) {
                eprintln!(
                    "  validation: {}",
                    metric_line(
                        &logs
                            .iter()
                            .filter(|(k, _)| k.starts_with("val_"))
                            .map(|(k, v)| (k.clone(), *v))
                            .collect()
                    )
                );
            }
        } else {
            eprintln!(
                "{}/{} - {} - {}",
                self.steps,
                self.steps,
                duration_text(elapsed),
                metric_line(logs)
            );
        }
        Ok(())
    }
}

/// Whether smaller or larger values of a monitored quantity are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Inferred from the name: "acc"/"accuracy"/"auc"/"precision"/"recall"/"f1" → max, else min.
    Auto,
    /// Lower is better.
    Min,
    /// Higher is better.
    Max,
}

/// A monitored log value and the best seen so far: the state shared by the callbacks that act
/// when a value stops improving.
struct BestSoFar {
    monitor: String,
    mode: Mode,
    min_delta: f64,
    best: Option<f64>,
}

impl BestSoFar {
    fn new(monitor: &str, min_delta: f64) -> Self {
        BestSoFar {
            monitor: monitor.into(),
            mode: Mode::Auto,
            min_delta,
            best: None,
        }
    }

    /// Reads the monitored value from `logs` (an error naming `who` if it is not logged) and
    /// makes it the best if it is the first or improves on the best by more than `min_delta`
    /// in the direction `mode` gives; returns whether it did.
    fn observe(&mut self, logs: &Logs, who: &str) -> Result<bool> {
        let current = monitored(logs, &self.monitor, who)?;
        let better = match self.best {
            None => true,
            Some(b) => improves(self.mode, &self.monitor, current, b, self.min_delta),
        };
        if better {
            self.best = Some(current);
        }
        Ok(better)
    }
}

fn improves(mode: Mode, monitor: &str, current: f64, best: f64, min_delta: f64) -> bool {
    let maximize = match mode {
        Mode::Max => true,
        Mode::Min => false,
        Mode::Auto => ["acc", "auc", "precision", "recall", "f1"]
            .iter()
            .any(|m| monitor.contains(m)),
    };
    if maximize {
        current > best + min_delta
    } else {
        current < best - min_delta
    }
}

fn monitored(logs: &Logs, monitor: &str, who: &str) -> Result<f64> {
    logs.get(monitor).copied().ok_or_else(|| {
        Error::input(
            "fit",
            format!(
                "{who} monitors `{monitor}`, which is not among the logged values {:?}",
                logs.keys().collect::<Vec<_>>()
            ),
        )
    })
}

/// Stops training when a monitored value stops improving (Keras' `EarlyStopping`).
pub struct EarlyStopping {
    watched: BestSoFar,
    patience: usize,
    restore_best_weights: bool,
    start_from_epoch: usize,
    wait: usize,
    best_weights: Option<Vec<Tensor<f32>>>,
    stopped_epoch: Option<usize>,
}

impl EarlyStopping {
    /// Watches `monitor` (e.g. `"val_loss"`); defaults: min_delta 0, patience 0, mode auto.
    pub fn new(monitor: &str) -> Self {
        EarlyStopping {
            watched: BestSoFar::new(monitor, 0.0),
            patience: 0,
            restore_best_weights: false,
            start_from_epoch: 0,
            wait: 0,
            best_weights: None,
            stopped_epoch: None,
        }
    }
    /// Minimum change that counts as an improvement.
    pub fn min_delta(mut self, d: f64) -> Self {
        self.watched.min_delta = d.abs();
        self
    }
    /// Epochs without improvement before stopping.
    pub fn patience(mut self, p: usize) -> Self {
        self.patience = p;
        self
    }
    /// Whether lower or higher is better.
    pub fn mode(mut self, m: Mode) -> Self {
        self.watched.mode = m;
        self
    }
    /// Puts back the weights of the best epoch when training ends.
    pub fn restore_best_weights(mut self) -> Self {
        self.restore_best_weights = true;
        self
    }
    /// Epochs to wait before watching.
    pub fn start_from_epoch(mut self, e: usize) -> Self {
        self.start_from_epoch = e;
        self
    }
    /// The epoch at which training was stopped, if it was.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(
        &mut self,
        _model: &mut Model<f32>,
        _epochs: usize,
        _steps: usize,
    ) -> Result<()> {
        self.watched.best = None;
        self.wait = 0;
        self.best_weights = None;
        self.stopped_epoch = None;
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, model: &mut Model<f32>) -> Result<()> {
        if epoch < self.start_from_epoch {
            return Ok(());
        }
        if self.watched.observe(logs, "EarlyStopping")? {
            self.wait = 0;
            if self.restore_best_weights {
                self.best_weights = Some(model.get_weights());
            }
        } else {
            self.wait += 1;
            if self.wait > self.patience {
                self.stopped_epoch = Some(epoch);
                model.stop_training();
            }
        }
        Ok(())
    }

    fn on_train_end(&mut self, model: &mut Model<f32>) -> Result<()> {
        if self.restore_best_weights {
            if let Some(w) = self.best_weights.take() {
                model.set_weights(&w)?;
            }
        }
        Ok(())
    }
}

/// Saves the model after epochs (Keras' `ModelCheckpoint`); `{epoch}` in the path is replaced
/// by the 1-based epoch number.
pub struct ModelCheckpoint {
    path: String,
    watched: BestSoFar,
    save_best_only: bool,
    weights_only: bool,
}

impl ModelCheckpoint {
    /// Saves to `path` after every epoch.
    pub fn new(path: impl Into<String>) -> Self {
        ModelCheckpoint {
            path: path.into(),
            watched: BestSoFar::new("val_loss", 0.0),
            save_best_only: false,
            weights_only: false,
        }
    }
    /// The value that decides "best" (default `val_loss`).
    pub fn monitor(mut self, monitor: &str) -> Self {
        self.watched.monitor = monitor.into();
        self
    }
    /// Saves only when the monitored value improves.
    pub fn save_best_only(mut self) -> Self {
        self.save_best_only = true;
        self
    }
    /// Saves the weights alone.
    pub fn weights_only(mut self) -> Self {
        self.weights_only = true;
        self
    }
    /// Whether lower or higher is better.
    pub fn mode(mut self, m: Mode) -> Self {
        self.watched.mode = m;
        self
    }
}

impl Callback for ModelCheckpoint {
    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, model: &mut Model<f32>) -> Result<()> {
        if self.save_best_only && !self.watched.observe(logs, "ModelCheckpoint")? {
            return Ok(());
        }
        let path = PathBuf::from(self.path.replace("{epoch}", &(epoch + 1).to_string()));
        if self.weights_only {
            model.save_weights(&path)
        } else {
            model.save(&path)
        }
    }
}

/// Lowers the learning rate when a monitored value stops improving (Keras'
/// `ReduceLROnPlateau`: factor 0.1, patience 10, min_delta 1e-4, cooldown 0, min_lr 0).
pub struct ReduceLROnPlateau {
    watched: BestSoFar,
    factor: f64,
    patience: usize,
    cooldown: usize,
    min_lr: f64,
    wait: usize,
    cooldown_left: usize,
}

impl ReduceLROnPlateau {
    /// Watches `monitor` with Keras' defaults.
    pub fn new(monitor: &str) -> Self {
        ReduceLROnPlateau {
            watched: BestSoFar::new(monitor, 1e-4),
            factor: 0.1,
            patience: 10,
            cooldown: 0,
            min_lr: 0.0,
            wait: 0,
            cooldown_left: 0,
        }
    }
    /// Multiplier applied to the learning rate (must be < 1).
    pub fn factor(mut self, f: f64) -> Self {
        self.factor = f;
        self
    }
    /// Epochs without improvement before reducing.
    pub fn patience(mut self, p: usize) -> Self {
        self.patience = p;
        self
    }
    /// Minimum change that counts as an improvement.
    pub fn min_delta(mut self, d: f64) -> Self {
        self.watched.min_delta = d;
        self
    }
    /// Epochs to wait after a reduction.
    pub fn cooldown(mut self, c: usize) -> Self {
        self.cooldown = c;
        self
    }
    /// The floor of the learning rate.
    pub fn min_lr(mut self, lr: f64) -> Self {
        self.min_lr = lr;
        self
    }
}

impl Callback for ReduceLROnPlateau {
    fn on_epoch_end(&mut self, _epoch: usize, logs: &Logs, model: &mut Model<f32>) -> Result<()> {
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return Err(Error::input(
                "ReduceLROnPlateau",
                format!("factor must be in (0, 1), got {}", self.factor),
            ));
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.wait = 0;
        }
        if self.watched.observe(logs, "ReduceLROnPlateau")? {
            self.wait = 0;
        } else if self.cooldown_left == 0 {
            self.wait += 1;
            if self.wait >= self.patience {
                if let Some(lr) = model.learning_rate() {
                    let new_lr = (lr * self.factor).max(self.min_lr);
                    if new_lr < lr {
                        model.set_learning_rate(new_lr);
                    }
                }
                self.cooldown_left = self.cooldown;
                self.wait = 0;
            }
        }
        Ok(())
    }
}

/// Sets the learning rate at the start of every epoch from `schedule(epoch, current_lr)`
/// (Keras' `LearningRateScheduler`).
pub struct LearningRateScheduler<F: FnMut(usize, f64) -> f64 + Send> {
    schedule: F,
}

impl<F: FnMut(usize, f64) -> f64 + Send> LearningRateScheduler<F> {
    /// A scheduler from `schedule(epoch, lr) -> new lr`.
    pub fn new(schedule: F) -> Self {
        LearningRateScheduler { schedule }
    }
}

impl<F: FnMut(usize, f64) -> f64 + Send> Callback for LearningRateScheduler<F> {
    fn on_epoch_begin(&mut self, epoch: usize, model: &mut Model<f32>) -> Result<()> {
        if let Some(lr) = model.learning_rate() {
            let new_lr = (self.schedule)(epoch, lr);
            if !new_lr.is_finite() || new_lr < 0.0 {
                return Err(Error::input(
                    "LearningRateScheduler",
                    format!("schedule gave learning rate {new_lr}"),
                ));
            }
            model.set_learning_rate(new_lr);
        }
        Ok(())
    }
}

/// Writes one CSV row per epoch (Keras' `CSVLogger`): `epoch,` then the logged names.
pub struct CSVLogger {
    path: PathBuf,
    append: bool,
    file: Option<std::fs::File>,
    columns: Option<Vec<String>>,
}

impl CSVLogger {
    /// Logs to `path` (overwritten unless `append`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CSVLogger {
            path: path.into(),
            append: false,
            file: None,
            columns: None,
        }
    }
    /// Appends to an existing file instead of overwriting it.
    pub fn append(mut self) -> Self {
        self.append = true;
        self
    }
}

impl Callback for CSVLogger {
    fn on_train_begin(
        &mut self,
        _model: &mut Model<f32>,
        _epochs: usize,
        _steps: usize,
    ) -> Result<()> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(self.append)
            .truncate(!self.append)
            .open(&self.path)
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
        self.file = Some(file);
        self.columns = None;
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, _model: &mut Model<f32>) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        if self.columns.is_none() {
            let cols: Vec<String> = logs
                .keys()
                .filter(|k| k.as_str() != "epoch_seconds")
                .cloned()
                .collect();
            writeln!(file, "epoch,{}", cols.join(",")).map_err(io)?;
            self.columns = Some(cols);
        }
        let cols = self.columns.as_deref().unwrap_or_default();
        let values: Vec<String> = cols
            .iter()
            .map(|c| logs.get(c).map(|v| v.to_string()).unwrap_or_default())
            .collect();
        writeln!(file, "{epoch},{}", values.join(",")).map_err(io)?;
        file.flush().map_err(io)
    }

    fn on_train_end(&mut self, _model: &mut Model<f32>) -> Result<()> {
        self.file = None;
        Ok(())
    }
}

/// Stops training (without an error) at the first NaN or infinite batch loss (Keras'
/// `TerminateOnNaN`); pair it with `FitConfig::continue_on_non_finite` to end quietly.
#[derive(Default)]
pub struct TerminateOnNaN {
    terminated_at: Option<usize>,
}

impl TerminateOnNaN {
    /// A new callback.
    pub fn new() -> Self {
        Self::default()
    }
    /// The batch at which it stopped training, if it did.
    pub fn terminated_at(&self) -> Option<usize> {
        self.terminated_at
    }
}

impl Callback for TerminateOnNaN {
    fn on_batch_end(&mut self, batch: usize, logs: &Logs, model: &mut Model<f32>) -> Result<()> {
        if logs.get("loss").is_some_and(|l| !l.is_finite()) {
            self.terminated_at = Some(batch);
            model.stop_training();
        }
        Ok(())
    }
}
