//! Running means: of a value (a loss), and of regression errors.

use nn_tensor::{Float, Tensor};

use super::{add_samples, metric_common, per_sample_mean, weights, Metric, Running};
use crate::kernel::{aligned, batch_of};
use crate::Result;

/// The running weighted mean of a value, as Keras' `Mean`: what a training loop reports as
/// the epoch's loss. Through [`Metric::update`] the values are `y_pred` (`y_true` is
/// ignored): a scalar counts once (with the scalar weight if given), a `[batch, ...]`
/// tensor counts each sample's mean with its weight.
///
/// ```
/// use nn_losses::metrics::Mean;
/// let mut loss = Mean::new().with_name("loss");
/// loss.update_value(2.0, 32.0); // a batch of 32 with mean loss 2
/// loss.update_value(1.0, 16.0);
/// assert!((loss.value() - 5.0 / 3.0).abs() < 1e-12);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Mean {
    name: String,
    running: Running,
}

impl Mean {
    /// The Keras name.
    pub const NAME: &'static str = "mean";

    /// An empty mean named `"mean"`.
    pub fn new() -> Self {
        Mean {
            name: Self::NAME.into(),
            running: Running::default(),
        }
    }

    /// Renames the metric (`"loss"`, `"val_loss"`, ...).
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// Adds `value` with `weight`.
    pub fn update_value(&mut self, value: f64, weight: f64) {
        self.running.add(value, weight);
    }

    /// The mean so far (0 before any weight).
    pub fn value(&self) -> f64 {
        self.running.value()
    }

    /// The total weight so far.
    pub fn count(&self) -> f64 {
        self.running.count
    }

    /// Forgets the values.
    pub fn clear(&mut self) {
        self.running = Running::default();
    }
}

impl Default for Mean {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Metric<T> for Mean {
    fn name(&self) -> &str {
        &self.name
    }

    fn update(
        &mut self,
        _y_true: &Tensor<T>,
        y_pred: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        if y_pred.ndim() == 0 {
            let weight = match sample_weight {
                Some(w) => w.item()?.f64(),
                None => 1.0,
            };
            self.update_value(y_pred.item()?.f64(), weight);
            return Ok(());
        }
        let w = weights(&self.name, sample_weight, y_pred.shape())?;
        let v = y_pred.to_f64_vec();
        let means = per_sample_mean(w.len(), v.len(), |k| v[k]);
        add_samples(&mut self.running, &means, &w);
        Ok(())
    }

    fn result(&self) -> f64 {
        self.value()
    }

    fn reset(&mut self) {
        self.clear();
    }

    fn clone_box(&self) -> Box<dyn Metric<T>> {
        Box::new(self.clone())
    }
}

/// Per-sample means of `f(y, p)` over the elements of each sample.
fn per_sample_error<T: Float>(
    name: &str,
    y_true: &Tensor<T>,
    y_pred: &Tensor<T>,
    f: impl Fn(f64, f64) -> f64,
) -> Result<Vec<f64>> {
    let batch = batch_of(name, y_pred.shape())?;
    let y = aligned(name, y_true, y_pred.shape())?.to_f64_vec();
    let p = y_pred.to_f64_vec();
    Ok(per_sample_mean(batch, p.len(), |k| f(y[k], p[k])))
}

macro_rules! error_metric {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $f:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $ty {
            running: Running,
        }

        impl $ty {
            /// The Keras name.
            pub const NAME: &'static str = $name;

            /// An empty metric.
            pub fn new() -> Self {
                Self::default()
            }

            /// The value so far (also [`Metric::result`]).
            pub fn value(&self) -> f64 {
                self.running.value()
            }

            fn clear(&mut self) {
                self.running = Running::default();
            }
        }

        impl<T: Float> Metric<T> for $ty {
            metric_common!();

            fn update(&mut self, y_true: &Tensor<T>, y_pred: &Tensor<T>, sample_weight: Option<&Tensor<T>>) -> Result<()> {
                let w = weights(Self::NAME, sample_weight, y_pred.shape())?;
                let errors = per_sample_error(Self::NAME, y_true, y_pred, $f)?;
                add_samples(&mut self.running, &errors, &w);
                Ok(())
            }
        }
    };
}

error_metric!(
    /// The running weighted mean of `mean((y_pred − y_true)²)` per sample, as Keras'
    /// `metrics.MeanSquaredError`.
    MeanSquaredError,
    "mean_squared_error",
    |y, p| (p - y) * (p - y)
);

error_metric!(
    /// The running weighted mean of `mean(|y_pred − y_true|)` per sample, as Keras'
    /// `metrics.MeanAbsoluteError`.
    MeanAbsoluteError,
    "mean_absolute_error",
    |y, p| (p - y).abs()
);
