use nn_autograd::Var;
use nn_tensor::Float;
use serde::{Deserialize, Serialize};

use crate::{LayerError, Result};

/// A weight or activity penalty added to the training loss (Keras' `regularizers`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Regularizer {
    /// `l1 · Σ|x|`.
    L1(f64),
    /// `l2 · Σx²`.
    L2(f64),
    /// `l1 · Σ|x| + l2 · Σx²`.
    L1L2 {
        /// L1 factor.
        l1: f64,
        /// L2 factor.
        l2: f64,
    },
}

impl Regularizer {
    /// Keras' `"l1"` (0.01), `"l2"` (0.01) and `"l1_l2"` (0.01 each) by name.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "l1" => Ok(Regularizer::L1(0.01)),
            "l2" => Ok(Regularizer::L2(0.01)),
            "l1_l2" | "l1l2" => Ok(Regularizer::L1L2 { l1: 0.01, l2: 0.01 }),
            _ => Err(LayerError::UnknownName {
                kind: "regularizer",
                name: name.to_string(),
                known: "l1, l2, l1_l2".into(),
            }),
        }
    }

    /// The penalty of `x`, a rank-0 var.
    pub fn penalty<T: Float>(&self, x: &Var<T>) -> Result<Var<T>> {
        let (l1, l2) = match *self {
            Regularizer::L1(a) => (a, 0.0),
            Regularizer::L2(b) => (0.0, b),
            Regularizer::L1L2 { l1, l2 } => (l1, l2),
        };
        let mut total: Option<Var<T>> = None;
        if l1 != 0.0 {
            total = Some(x.abs()?.sum_all()?.mul_scalar(T::of(l1))?);
        }
        if l2 != 0.0 {
            let term = x.square()?.sum_all()?.mul_scalar(T::of(l2))?;
            total = Some(match total {
                Some(t) => t.add(&term)?,
                None => term,
            });
        }
        match total {
            Some(t) => Ok(t),
            None => Ok(Var::constant(nn_tensor::Tensor::scalar(T::zero()))),
        }
    }
}
