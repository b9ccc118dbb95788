//! The backward pass.

use std::collections::{HashMap, HashSet};

use nn_tensor::{Float, Tensor};

use crate::grads::accumulate_into;
use crate::var::Node;
use crate::{AutogradError, Gradients, Result, Var, VarId};

impl<T: Float> Var<T> {
    /// Differentiates this single-element output with respect to every leaf that requires a
    /// gradient, and frees the graph (a second call on the same graph is an error).
    pub fn backward(&self) -> Result<Gradients<T>> {
        if self.value().len() != 1 {
            return Err(AutogradError::NonScalarOutput {
                shape: self.shape().to_vec(),
            });
        }
        self.backward_with(Tensor::ones(self.shape()))
    }

    /// Differentiates with `seed` as the gradient of this output (a vector–Jacobian product).
    pub fn backward_with(&self, seed: Tensor<T>) -> Result<Gradients<T>> {
        if seed.shape() != self.shape() {
            return Err(AutogradError::SeedShape {
                expected: self.shape().to_vec(),
                found: seed.shape().to_vec(),
            });
        }
        let mut grads = Gradients::new();
        if !self.requires_grad() {
            return Ok(grads);
        }
        if self.is_leaf() {
            grads.accumulate(self.id(), seed);
            return Ok(grads);
        }
        let order = take_topological(self)?;
        let mut pending: HashMap<VarId, Tensor<T>> = HashMap::new();
        pending.insert(self.id(), seed);
        // Reverse topological order: every consumer of a var runs before the var itself, so
        // its gradient is complete when it is taken.
        for (var, node) in order.into_iter().rev() {
            let Some(grad) = pending.remove(&var.id()) else {
                continue;
            };
            let Node { parents, backward } = node;
            let needs: Vec<bool> = parents.iter().map(|p| p.requires_grad()).collect();
            let parent_grads = backward(&grad, &needs)?;
            drop(grad);
            if parent_grads.len() != parents.len() {
                return Err(AutogradError::Invalid {
                    op: var.op(),
                    message: format!(
                        "backward returned {} gradients for {} operands",
                        parent_grads.len(),
                        parents.len()
                    ),
                });
            }
            for (i, (parent, g)) in parents.iter().zip(parent_grads).enumerate() {
                let Some(g) = g else { continue };
                if !parent.requires_grad() {
                    continue;
                }
                if g.shape() != parent.shape() {
                    return Err(AutogradError::GradientShape {
                        op: var.op(),
                        operand: i,
                        expected: parent.shape().to_vec(),
                        found: g.shape().to_vec(),
                    });
                }
                if parent.is_leaf() {
                    grads.accumulate(parent.id(), g);
                } else {
                    match pending.get_mut(&parent.id()) {
                        Some(acc) => accumulate_into(acc, &g),
                        None => {
                            pending.insert(parent.id(), g);
                        }
                    }
                }
            }
        }
        Ok(grads)
    }
}

/// Post-order of the recorded graph below `root`, taking each node out of its var (which
/// frees the graph as the backward pass consumes it). Iterative, so deep graphs (long
/// recurrences) cannot overflow the stack.
#[allow(clippy::type_complexity)]
fn take_topological<T: Float>(root: &Var<T>) -> Result<Vec<(Var<T>, Node<T>)>> {
    let mut order = Vec::new();
    let mut visited: HashSet<VarId> = HashSet::new();
    // (var, its node once taken, index of the next parent to visit)
    let mut stack: Vec<(Var<T>, Option<Node<T>>, usize)> = Vec::new();
    visited.insert(root.id());
    stack.push((root.clone(), Some(take_node(root)?), 0));
    while let Some((var, node, next)) = stack.last_mut() {
        let parents = match node {
            Some(n) => &n.parents,
            None => unreachable!("nodes on the stack are taken before being pushed"),
        };
        if *next < parents.len() {
            let parent = parents[*next].clone();
            *next += 1;
            if parent.requires_grad() && !parent.is_leaf() && visited.insert(parent.id()) {
                let taken = take_node(&parent)?;
                stack.push((parent, Some(taken), 0));
            }
        } else {
            let var = var.clone();
            let node = node.take();
            stack.pop();
            if let Some(node) = node {
                order.push((var, node));
            }
        }
    }
    Ok(order)
}

fn take_node<T: Float>(var: &Var<T>) -> Result<Node<T>> {
    let mut slot = match var.0.node.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    slot.take()
        .ok_or(AutogradError::GraphFreed { op: var.op() })
}
