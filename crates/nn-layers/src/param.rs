use nn_autograd::{Var, VarId};
use nn_tensor::{Float, Tensor};
use serde::{Deserialize, Serialize};

use crate::Regularizer;

/// A named weight of a layer: its value, whether training changes it, and an optional
/// regularizer whose penalty joins the training loss.
///
/// A parameter keeps one [`VarId`] for its life, so gradients (keyed by id) find it after
/// every step. Cloning gives the clone a fresh id: two copies never alias gradients.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct Param<T: Float = f32> {
    name: String,
    value: Tensor<T>,
    trainable: bool,
    regularizer: Option<Regularizer>,
    #[serde(skip, default = "VarId::fresh")]
    id: VarId,
}

impl<T: Float> Clone for Param<T> {
    fn clone(&self) -> Self {
        Param {
            name: self.name.clone(),
            value: self.value.clone(),
            trainable: self.trainable,
            regularizer: self.regularizer,
            id: VarId::fresh(),
        }
    }
}

impl<T: Float> Param<T> {
    /// A trainable parameter.
    pub fn new(name: impl Into<String>, value: Tensor<T>) -> Self {
        Param {
            name: name.into(),
            value,
            trainable: true,
            regularizer: None,
            id: VarId::fresh(),
        }
    }

    /// A parameter that training does not change by gradient (e.g. moving statistics).
    pub fn non_trainable(name: impl Into<String>, value: Tensor<T>) -> Self {
        Param {
            trainable: false,
            ..Self::new(name, value)
        }
    }

    /// Attaches a regularizer.
    pub fn with_regularizer(mut self, regularizer: Option<Regularizer>) -> Self {
        self.regularizer = regularizer;
        self
    }

    /// The name within its layer ("kernel", "bias", "moving_mean", ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The id that keys this parameter's gradient.
    pub fn id(&self) -> VarId {
        self.id
    }

    /// The value.
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }

    /// Mutable access to the value (optimizers, weight loading).
    pub fn value_mut(&mut self) -> &mut Tensor<T> {
        &mut self.value
    }

    /// Replaces the value; the shape must stay the same.
    pub fn set_value(&mut self, value: Tensor<T>) -> Result<(), nn_tensor::TensorError> {
        if value.shape() != self.value.shape() {
            return Err(nn_tensor::TensorError::ShapeMismatch {
                op: "Param::set_value",
                lhs: self.value.shape().to_vec(),
                rhs: value.shape().to_vec(),
            });
        }
        self.value = value;
        Ok(())
    }

    /// Whether gradients update this parameter.
    pub fn trainable(&self) -> bool {
        self.trainable
    }

    /// Freezes or unfreezes the parameter.
    pub fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }

    /// The regularizer, if any.
    pub fn regularizer(&self) -> Option<Regularizer> {
        self.regularizer
    }

    /// The number of scalars.
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// Whether the parameter holds no scalar.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// The value as a var for a forward pass: a leaf keyed by this parameter's id when
    /// trainable, a constant otherwise. O(1): the buffer is shared, not copied.
    pub fn var(&self) -> Var<T> {
        if self.trainable {
            Var::param_with_id(self.value.clone(), self.id)
        } else {
            Var::constant(self.value.clone())
        }
    }
}
