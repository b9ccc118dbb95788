//! `LossFromOutput`: the model's output is already the per-sample loss.

use nn_autograd::Var;
use nn_tensor::{Float, Tensor};
use serde::{Deserialize, Serialize};

use crate::kernel::batch_of;
use crate::loss::loss_common;
use crate::regression::simple_loss;
use crate::{Loss, Reduction, Result};

simple_loss!(
    /// Takes the model's output as the per-sample loss and ignores `y_true`: for models
    /// whose last layer computes its own loss, such as the large-vocabulary output layers
    /// of `nn_layers` (`HierarchicalSoftmax`, `NegativeSampling`,
    /// `NoiseContrastiveEstimation`, `SampledSoftmax`), which take the labels as an input and
    /// output the per-example loss. The per-sample value is the output itself for `[batch]`
    /// outputs, and the mean over the other axes otherwise; weights and the reduction then
    /// apply as for any loss. The gradient is the reduction's (1/batch each, for the mean).
    LossFromOutput,
    "loss_from_output"
);

impl<T: Float> Loss<T> for LossFromOutput {
    loss_common!(LossFromOutput);

    fn per_sample(&self, _y_true: &Tensor<T>, y_pred: &Var<T>) -> Result<Var<T>> {
        let batch = batch_of(Self::NAME, y_pred.shape())?;
        if y_pred.shape().len() == 1 {
            return Ok(y_pred.clone());
        }
        let rest: usize = y_pred.shape()[1..].iter().product();
        Ok(y_pred.reshape([batch, rest])?.mean(&[1], false)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_the_loss() -> Result<()> {
        let out = Var::param(Tensor::<f64>::from_f64s(&[1.0, 3.0, 8.0], [3])?);
        let ignored = Tensor::<f64>::zeros([7]);
        let loss = LossFromOutput::new().compute(&ignored, &out, None)?;
        assert_eq!(loss.value().item()?, 4.0);
        let grads = loss.backward()?;
        assert_eq!(
            grads.get(&out).map(|g| g.to_vec()),
            Some(vec![1.0 / 3.0; 3])
        );
        let w = Tensor::from_f64s(&[1.0, 0.0, 0.5], [3])?;
        let loss = LossFromOutput::new()
            .with_reduction(Reduction::Sum)
            .compute(&ignored, &out, Some(&w))?;
        assert_eq!(loss.value().item()?, 5.0);
        // Other axes are averaged per sample.
        let wide = Var::constant(Tensor::<f64>::from_f64s(&[1.0, 3.0, 2.0, 2.0], [2, 2])?);
        let per = LossFromOutput::new().per_sample(&ignored, &wide)?;
        assert_eq!(per.value().to_vec(), vec![2.0, 2.0]);
        let scalar = Var::constant(Tensor::<f64>::scalar(1.0));
        assert!(LossFromOutput::new().per_sample(&ignored, &scalar).is_err());
        Ok(())
    }
}
