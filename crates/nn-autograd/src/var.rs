use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use nn_tensor::{Float, Tensor};

use crate::mode::is_recording;
use crate::Result;

/// A process-unique identity of a var, the key of the [`Gradients`](crate::Gradients) store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(u64);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl VarId {
    /// A fresh id, never handed out before in this process.
    pub fn fresh() -> Self {
        VarId(NEXT_ID.fetch_add(1, Ordering::Relaxed))
    }

    /// The numeric value (for display and ordering).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// An op's backward: given the gradient of the op's output and which operands need a
/// gradient, returns one optional gradient per operand (same shapes as the operands).
pub type BackwardFn<T> =
    Box<dyn FnOnce(&Tensor<T>, &[bool]) -> Result<Vec<Option<Tensor<T>>>> + Send + Sync>;

pub(crate) struct Node<T: Float> {
    pub(crate) parents: Vec<Var<T>>,
    pub(crate) backward: BackwardFn<T>,
}

pub(crate) struct Inner<T: Float> {
    pub(crate) id: VarId,
    pub(crate) value: Tensor<T>,
    pub(crate) requires_grad: bool,
    pub(crate) is_leaf: bool,
    pub(crate) op: &'static str,
    /// Present from recording until a backward pass consumes it.
    pub(crate) node: Mutex<Option<Node<T>>>,
}

/// A tensor in a differentiable computation.
///
/// Cloning a `Var` is O(1) and refers to the same node. A var is a *leaf* (a parameter from
/// [`Var::param`], or a constant) or the output of an op. An op's output requires a gradient
/// when any operand does and recording is on (see [`no_grad`](crate::no_grad)).
pub struct Var<T: Float = f32>(pub(crate) Arc<Inner<T>>);

impl<T: Float> Clone for Var<T> {
    fn clone(&self) -> Self {
        Var(Arc::clone(&self.0))
    }
}

impl<T: Float> fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Var")
            .field("id", &self.0.id.0)
            .field("op", &self.0.op)
            .field("requires_grad", &self.0.requires_grad)
            .field("value", &self.0.value)
            .finish()
    }
}

impl<T: Float> Var<T> {
    fn leaf(value: Tensor<T>, id: VarId, requires_grad: bool, op: &'static str) -> Self {
        Var(Arc::new(Inner {
            id,
            value,
            requires_grad,
            is_leaf: true,
            op,
            node: Mutex::new(None),
        }))
    }

    /// A trainable leaf: its gradient is returned by [`Var::backward`].
    pub fn param(value: Tensor<T>) -> Self {
        Self::leaf(value, VarId::fresh(), true, "param")
    }

    /// A trainable leaf with a given id, so that a layer's parameter keeps one identity
    /// across steps while its value changes.
    pub fn param_with_id(value: Tensor<T>, id: VarId) -> Self {
        Self::leaf(value, id, true, "param")
    }

    /// A leaf that never receives a gradient (inputs, labels, masks).
    pub fn constant(value: Tensor<T>) -> Self {
        Self::leaf(value, VarId::fresh(), false, "constant")
    }

    /// The same value cut from the graph: a constant.
    pub fn detach(&self) -> Self {
        Self::constant(self.0.value.clone())
    }

    /// The value.
    pub fn value(&self) -> &Tensor<T> {
        &self.0.value
    }

    /// The value's shape.
    pub fn shape(&self) -> &[usize] {
        self.0.value.shape()
    }

    /// The identity, the key of this var's gradient.
    pub fn id(&self) -> VarId {
        self.0.id
    }

    /// Whether a gradient flows to (or through) this var.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// Whether this var is a leaf (a parameter or a constant) rather than an op's output.
    pub fn is_leaf(&self) -> bool {
        self.0.is_leaf
    }

    /// The name of the op that produced this var ("param" or "constant" for leaves).
    pub fn op(&self) -> &'static str {
        self.0.op
    }

    /// Records an op's output. `backward` receives the output gradient and, for each of
    /// `parents`, whether it needs a gradient; it returns one optional gradient per parent.
    ///
    /// When recording is off or no parent requires a gradient, nothing is recorded and
    /// `backward` is dropped unused: the result is a constant.
    ///
    /// This is the public extension point for ops defined outside this crate.
    pub fn from_op(
        op: &'static str,
        value: Tensor<T>,
        parents: &[&Var<T>],
        backward: impl FnOnce(&Tensor<T>, &[bool]) -> Result<Vec<Option<Tensor<T>>>>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        let tracked = is_recording() && parents.iter().any(|p| p.requires_grad());
        if !tracked {
            return Self::leaf(value, VarId::fresh(), false, op);
        }
        let node = Node {
            parents: parents.iter().map(|p| (*p).clone()).collect(),
            backward: Box::new(backward),
        };
        Var(Arc::new(Inner {
            id: VarId::fresh(),
            value,
            requires_grad: true,
            is_leaf: false,
            op,
            node: Mutex::new(Some(node)),
        }))
    }

    /// [`Var::from_op`] for this crate's own ops: the name must be registered in
    /// [`DIFFERENTIABLE_OPS`](crate::DIFFERENTIABLE_OPS) so the gradient-check suite covers it.
    pub(crate) fn record(
        op: &'static str,
        value: Tensor<T>,
        parents: &[&Var<T>],
        backward: impl FnOnce(&Tensor<T>, &[bool]) -> Result<Vec<Option<Tensor<T>>>>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        debug_assert!(
            crate::DIFFERENTIABLE_OPS.contains(&op),
            "op `{op}` is not registered in DIFFERENTIABLE_OPS"
        );
        Self::from_op(op, value, parents, backward)
    }

    /// An op's output that no gradient may flow through: reaching it in a backward pass is a
    /// [`NonDifferentiable`](crate::AutogradError::NonDifferentiable) error, never a silent
    /// zero.
    pub fn non_differentiable(op: &'static str, value: Tensor<T>, parents: &[&Var<T>]) -> Self {
        Self::from_op(op, value, parents, move |_, _| {
            Err(crate::AutogradError::NonDifferentiable { op })
        })
    }
}
