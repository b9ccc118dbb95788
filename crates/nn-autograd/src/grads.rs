use std::collections::HashMap;

use nn_tensor::{Float, Tensor};

use crate::{Var, VarId};

/// The gradients of a backward pass, keyed by the id of each leaf var that requires one.
///
/// A leaf that did not influence the output has no entry.
#[derive(Clone, Debug, Default)]
pub struct Gradients<T: Float = f32> {
    map: HashMap<VarId, Tensor<T>>,
}

impl<T: Float> Gradients<T> {
    /// An empty store.
    pub fn new() -> Self {
        Gradients {
            map: HashMap::new(),
        }
    }

    /// The gradient of `var`, if it received one.
    pub fn get(&self, var: &Var<T>) -> Option<&Tensor<T>> {
        self.map.get(&var.id())
    }

    /// The gradient for the leaf with id `id`.
    pub fn get_id(&self, id: VarId) -> Option<&Tensor<T>> {
        self.map.get(&id)
    }

    /// Removes and returns the gradient for `id`.
    pub fn remove(&mut self, id: VarId) -> Option<Tensor<T>> {
        self.map.remove(&id)
    }

    /// Adds `grad` to the entry for `id` (creating it), so repeated uses accumulate.
    pub fn accumulate(&mut self, id: VarId, grad: Tensor<T>) {
        match self.map.get_mut(&id) {
            Some(existing) => accumulate_into(existing, &grad),
            None => {
                self.map.insert(id, grad);
            }
        }
    }

    /// Replaces the gradient for `id` (used by clipping and regularisation code).
    pub fn insert(&mut self, id: VarId, grad: Tensor<T>) {
        self.map.insert(id, grad);
    }

    /// Mutable access to the gradient for `id`.
    pub fn get_mut(&mut self, id: VarId) -> Option<&mut Tensor<T>> {
        self.map.get_mut(&id)
    }

    /// The number of gradients held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no gradient is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All `(id, gradient)` pairs, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&VarId, &Tensor<T>)> {
        self.map.iter()
    }

    /// Mutable iteration over all gradients.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&VarId, &mut Tensor<T>)> {
        self.map.iter_mut()
    }
}

/// `acc += grad` in place (shapes already checked equal by the caller).
pub(crate) fn accumulate_into<T: Float>(acc: &mut Tensor<T>, grad: &Tensor<T>) {
    let view = grad.view();
    *acc.array_mut() += &view;
}
