//! Shared machinery of the built-in losses: shape checks, label conversion and the fused
//! per-sample op (one graph node whose gradient is computed in the same pass as the value).

use nn_autograd::{is_recording, AutogradError, Var};
use nn_tensor::{normalize_axis, Float, Tensor};

use crate::{LossError, Result};

/// Keras' `backend.epsilon()`: the clipping bound of probabilities.
pub const EPSILON: f64 = 1e-7;

/// The batch size (axis 0) of `y_pred`; an error for a rank-0 prediction.
pub(crate) fn batch_of(name: &str, shape: &[usize]) -> Result<usize> {
    shape.first().copied().ok_or_else(|| LossError::Rank {
        name: name.to_string(),
        what: "y_pred",
        expected: "rank ≥ 1 ([batch, ...])".into(),
        shape: shape.to_vec(),
    })
}

/// The size of the class (last) axis of a prediction that needs one besides the batch axis.
pub(crate) fn class_axis(name: &str, shape: &[usize]) -> Result<usize> {
    if shape.len() < 2 {
        return Err(LossError::Rank {
            name: name.to_string(),
            what: "y_pred",
            expected: "rank ≥ 2 ([batch, ..., classes])".into(),
            shape: shape.to_vec(),
        });
    }
    Ok(shape[shape.len() - 1])
}

/// `y_true` as a contiguous tensor of `y_pred`'s shape: equal shapes, or shapes that differ
/// only by a trailing axis of size 1 on either side (Keras' `squeeze_or_expand_to_same_rank`).
pub(crate) fn aligned<T: Float>(
    name: &str,
    y_true: &Tensor<T>,
    pred: &[usize],
) -> Result<Tensor<T>> {
    let t = y_true.shape();
    let trailing_one = |long: &[usize], short: &[usize]| {
        long.len() == short.len() + 1 && long.last() == Some(&1) && &long[..short.len()] == short
    };
    if t == pred {
        Ok(y_true.contiguous())
    } else if (trailing_one(t, pred) || trailing_one(pred, t)) && !pred.is_empty() {
        Ok(y_true.reshape(pred)?.contiguous())
    } else {
        Err(LossError::shapes(name, t, pred))
    }
}

/// `y_true` with exactly `y_pred`'s shape (losses over a class axis).
pub(crate) fn same_shape<T: Float>(
    name: &str,
    y_true: &Tensor<T>,
    pred: &[usize],
) -> Result<Tensor<T>> {
    if y_true.shape() != pred {
        return Err(LossError::shapes(name, y_true.shape(), pred));
    }
    Ok(y_true.contiguous())
}

/// Converts one float label to a class index.
pub(crate) fn label_index(
    name: &str,
    value: f64,
    position: usize,
    classes: usize,
) -> Result<usize> {
    if value >= 0.0 && value.fract() == 0.0 && value < classes as f64 {
        Ok(value as usize)
    } else {
        Err(LossError::LabelOutOfRange {
            name: name.to_string(),
            label: value,
            position,
            num_classes: classes,
        })
    }
}

/// Integer labels for predictions `[batch, ..., classes]`: `y_true` must have the shape of
/// `y_pred` without its class axis, optionally with a trailing axis of size 1. Every label
/// must be an integer in `0..classes`.
pub(crate) fn labels<T: Float>(
    name: &str,
    y_true: &Tensor<T>,
    pred: &[usize],
) -> Result<Vec<usize>> {
    let classes = class_axis(name, pred)?;
    let expected = &pred[..pred.len() - 1];
    let t = y_true.shape();
    let fits = t == expected
        || (t.len() == expected.len() + 1
            && t.last() == Some(&1)
            && &t[..expected.len()] == expected);
    if !fits {
        return Err(LossError::LabelShape {
            name: name.to_string(),
            y_true: t.to_vec(),
            y_pred: pred.to_vec(),
            expected: expected.to_vec(),
        });
    }
    y_true
        .array()
        .iter()
        .enumerate()
        .map(|(i, &v)| label_index(name, v.f64(), i, classes))
        .collect()
}

/// Moves `axis` of both the prediction and the target to the end (a view; the fused ops make
/// it contiguous). `axis` may not be the batch axis.
pub(crate) fn axis_last<T: Float>(
    name: &str,
    y_pred: &Var<T>,
    y_true: &Tensor<T>,
    axis: isize,
) -> Result<(Var<T>, Tensor<T>)> {
    let rank = y_pred.shape().len();
    let a = normalize_axis("loss axis", axis, y_pred.shape()).map_err(|_| {
        LossError::config(
            name,
            format!(
                "axis {axis} is out of range for y_pred shape {:?}",
                y_pred.shape()
            ),
        )
    })?;
    if a == 0 {
        return Err(LossError::config(
            name,
            format!(
                "axis {axis} is the batch axis of y_pred shape {:?}; pick a feature axis",
                y_pred.shape()
            ),
        ));
    }
    if a == rank - 1 {
        return Ok((y_pred.clone(), y_true.clone()));
    }
    let perm: Vec<usize> = (0..rank)
        .filter(|&i| i != a)
        .chain(std::iter::once(a))
        .collect();
    Ok((y_pred.permute(&perm)?, y_true.permute(&perm)?))
}

/// Rejects a probability-like hyper-parameter outside `[0, 1]`.
pub(crate) fn check_unit(name: &str, what: &str, value: f64) -> Result<()> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(LossError::config(
            name,
            format!("{what} must be in [0, 1], got {value}"),
        ))
    }
}

/// The fused per-sample loss: splits `y_pred` (`[batch, ...]`) into sub-rows of `width`
/// elements (a class axis, or `1` for element-wise losses), calls
/// `f(sub_row_index, x, grad, scale)` on each, and averages the sub-row losses of each sample.
///
/// `f` returns the sub-row's loss and, when `grad` is given, writes `scale · ∂loss/∂x` into
/// it (`scale` is `1 / sub_rows_per_sample`, the mean's factor). The gradient is computed in
/// the same pass as the value, only when a graph is recorded; the backward pass scales each
/// sample's rows by its output gradient in place. One node, one `y_pred`-sized buffer.
pub(crate) fn fused<T: Float>(
    op: &'static str,
    y_pred: &Var<T>,
    width: usize,
    mut f: impl FnMut(usize, &[T], Option<&mut [T]>, f64) -> f64,
) -> Result<Var<T>> {
    let shape = y_pred.shape().to_vec();
    let batch = batch_of(op, &shape)?;
    let x = y_pred.value().contiguous();
    let xs = x.as_slice().ok_or_else(|| AutogradError::Invalid {
        op,
        message: "contiguous tensor without a slice".into(),
    })?;
    let per_sample = xs.len().checked_div(batch).unwrap_or(0);
    let subs = per_sample.checked_div(width).unwrap_or(0);
    let scale = if subs == 0 { 0.0 } else { 1.0 / subs as f64 };
    let mut losses = Vec::with_capacity(batch);
    let track = is_recording() && y_pred.requires_grad();
    if !track {
        for i in 0..batch {
            let mut total = 0.0;
            for t in 0..subs {
                let r = i * subs + t;
                total += f(r, &xs[r * width..(r + 1) * width], None, scale);
            }
            losses.push(T::of(total * scale));
        }
        return Ok(Var::constant(Tensor::from_vec(losses, [batch])?));
    }
    let mut grad = nn_tensor::buffer::zeroed(xs.len());
    for i in 0..batch {
        let mut total = 0.0;
        for t in 0..subs {
            let r = i * subs + t;
            let span = r * width..(r + 1) * width;
            total += f(r, &xs[span.clone()], Some(&mut grad[span]), scale);
        }
        losses.push(T::of(total * scale));
    }
    let grad = Tensor::from_vec(grad, &shape)?;
    let value = Tensor::from_vec(losses, [batch])?;
    Ok(Var::from_op(op, value, &[y_pred], move |g, _| {
        let mut grad = grad;
        scale_rows(&mut grad, g, per_sample);
        Ok(vec![Some(grad)])
    }))
}

/// Multiplies row `i` (of `row_len` elements) of `grad` by `g[i]` in place, skipping rows
/// whose factor is exactly 1.
pub(crate) fn scale_rows<T: Float>(grad: &mut Tensor<T>, g: &Tensor<T>, row_len: usize) {
    if row_len == 0 || g.array().iter().all(|&v| v == T::one()) {
        return;
    }
    let data = grad.make_contiguous_mut();
    for (row, &s) in data.chunks_mut(row_len).zip(g.array().iter()) {
        if s != T::one() {
            row.iter_mut().for_each(|v| *v *= s);
        }
    }
}

/// `max(x, 0) − x·y + ln(1 + e^−|x|)`: binary cross-entropy from a logit, stable for any `x`.
pub(crate) fn bce_logit(x: f64, y: f64) -> f64 {
    x.max(0.0) - x * y + (-x.abs()).exp().ln_1p()
}

/// The logistic sigmoid, stable for any `x`.
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// The contiguous data of a tensor made contiguous by the caller.
pub(crate) fn data<'a, T: Float>(op: &'static str, t: &'a Tensor<T>) -> Result<&'a [T]> {
    Ok(t.as_slice().ok_or_else(|| AutogradError::Invalid {
        op,
        message: "contiguous tensor without a slice".into(),
    })?)
}

/// An element-wise loss `f(y, p) → (loss, ∂loss/∂p)` averaged over every non-batch element
/// of each sample, as one fused node. `y_true` is aligned to `y_pred`'s shape first.
pub(crate) fn elementwise<T: Float>(
    op: &'static str,
    y_true: &Tensor<T>,
    y_pred: &Var<T>,
    f: impl Fn(f64, f64) -> (f64, f64),
) -> Result<Var<T>> {
    let y = aligned(op, y_true, y_pred.shape())?;
    let ys = data(op, &y)?;
    fused(op, y_pred, 1, |r, x, g, scale| {
        let (loss, d) = f(ys[r].f64(), x[0].f64());
        if let Some(g) = g {
            g[0] = T::of(d * scale);
        }
        loss
    })
}
