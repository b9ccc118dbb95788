//! Differentiable ops, one module per family. Each op computes its forward value and, right
//! beside it, the closure that sends its output gradient back to its operands.
//!
//! Adding an op: write it in the family's file with [`Var::record`](crate::Var), add its name
//! to [`DIFFERENTIABLE_OPS`], and add a case to `tests/gradcheck_ops.rs` — the suite fails
//! while any registered op has no passing gradient check.

mod elementwise;
mod linalg;
mod nnops;
mod reduce;
mod shape;

/// Every op this crate records, each covered by the f64 gradient-check suite.
pub const DIFFERENTIABLE_OPS: &[&str] = &[
    // element-wise, binary (with broadcasting)
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "maximum",
    "minimum",
    "select",
    // element-wise, unary and scalar
    "neg",
    "abs",
    "exp",
    "ln",
    "log1p",
    "sqrt",
    "square",
    "recip",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "leaky_relu",
    "elu",
    "softplus",
    "erf",
    "clamp",
    "powf",
    "add_scalar",
    "mul_scalar",
    // reductions
    "sum",
    "sum_all",
    "mean",
    "mean_all",
    "max",
    "min",
    "var",
    // shape and indexing
    "reshape",
    "permute",
    "broadcast_to",
    "squeeze",
    "unsqueeze",
    "slice_axis",
    "concat",
    "stack",
    "index_select",
    "take_along_axis",
    "pad_axis",
    // linear algebra
    "matmul",
    // neural-network kernels
    "conv2d",
    "conv1d",
    "max_pool2d",
    "avg_pool2d",
    "max_pool1d",
    "avg_pool1d",
    "global_avg_pool2d",
    "global_max_pool2d",
    "softmax",
    "log_softmax",
    "logsumexp",
    "softmax_cross_entropy",
];
