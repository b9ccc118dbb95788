//! The finite-difference gradient checker.

use std::collections::BTreeSet;
use std::fmt;

use nn_tensor::Tensor;

use crate::{no_grad, AutogradError, Result, Var};

/// Settings of [`gradcheck_many`].
#[derive(Clone, Debug)]
pub struct GradCheckOptions {
    /// Finite-difference step `h` of the fourth-order central difference
    /// `(8(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h))) / 12h`.
    pub eps: f64,
    /// Absolute tolerance per element.
    pub atol: f64,
    /// Relative tolerance per element: pass when `|analytic − numeric| ≤ atol + rtol·|numeric|`.
    pub rtol: f64,
    /// Seed of the random projection applied to non-scalar outputs.
    pub seed: u64,
}

impl Default for GradCheckOptions {
    fn default() -> Self {
        GradCheckOptions {
            eps: 1e-4,
            atol: 1e-6,
            rtol: 1e-6,
            seed: 0x5eed,
        }
    }
}

/// The element where analytic and numeric gradients disagree most (relative to tolerance).
#[derive(Clone, Debug, PartialEq)]
pub struct WorstElement {
    /// Which input.
    pub input: usize,
    /// The element's multi-index in that input.
    pub index: Vec<usize>,
    /// The gradient from the backward pass.
    pub analytic: f64,
    /// The central-difference estimate.
    pub numeric: f64,
    /// `|analytic − numeric|`.
    pub abs_error: f64,
}

/// What a gradient check found.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckReport {
    /// Whether every element was within tolerance.
    pub passed: bool,
    /// The worst element, if any element was checked.
    pub worst: Option<WorstElement>,
    /// The largest `|analytic − numeric|`.
    pub max_abs_error: f64,
    /// The largest `|analytic − numeric| / max(|numeric|, |analytic|)` over elements whose
    /// gradient is not tiny (above `atol`).
    pub max_rel_error: f64,
    /// Elements compared.
    pub checked: usize,
    /// The ops recorded in the checked graph, sorted (lets a suite prove its op coverage).
    pub ops: Vec<&'static str>,
}

impl fmt::Display for GradCheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} elements checked over ops {:?}; max abs error {:.3e}, max rel error {:.3e}",
            self.checked, self.ops, self.max_abs_error, self.max_rel_error
        )?;
        if let Some(w) = &self.worst {
            write!(
                f,
                "; worst: input {} index {:?}: analytic {:.12e}, numeric {:.12e}",
                w.input, w.index, w.analytic, w.numeric
            )?;
        }
        Ok(())
    }
}

/// Checks the gradient of `f` at `input` against central finite differences in `f64`.
///
/// Returns the report when every element is within the default tolerance, else
/// [`AutogradError::GradCheckFailed`] carrying it.
pub fn gradcheck(
    f: impl Fn(&Var<f64>) -> Result<Var<f64>>,
    input: &Var<f64>,
) -> Result<GradCheckReport> {
    gradcheck_many(
        |v| f(&v[0]),
        &[input.value().clone()],
        &GradCheckOptions::default(),
    )
}

/// Checks the gradients of `f` with respect to every input against central differences.
///
/// A non-scalar output is reduced to the scalar `⟨f(x), R⟩` with a fixed random `R`, so the
/// check covers a full vector–Jacobian product (summing would miss errors in ops such as
/// softmax whose outputs sum to a constant).
pub fn gradcheck_many(
    f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>,
    inputs: &[Tensor<f64>],
    opts: &GradCheckOptions,
) -> Result<GradCheckReport> {
    let owned: Vec<Tensor<f64>> = inputs.iter().map(with_element_unchanged).collect();
    let vars: Vec<Var<f64>> = owned.iter().map(|t| Var::param(t.clone())).collect();
    let out = f(&vars)?;
    let projection = Tensor::<f64>::rand_normal(out.shape(), 0.0, 1.0, opts.seed);
    let ops = collect_ops(&out);
    let grads = out.backward_with(projection.clone())?;
    drop(out);

    let project = |xs: &[Tensor<f64>]| -> Result<f64> {
        no_grad(|| {
            let vs: Vec<Var<f64>> = xs.iter().map(|t| Var::constant(t.clone())).collect();
            let y = f(&vs)?;
            if y.shape() != projection.shape() {
                return Err(AutogradError::Invalid {
                    op: "gradcheck",
                    message: format!(
                        "the function's output shape changed from {:?} to {:?}",
                        projection.shape(),
                        y.shape()
                    ),
                });
            }
            Ok(y.value()
                .view()
                .iter()
                .zip(projection.view().iter())
                .map(|(a, b)| a * b)
                .sum())
        })
    };

    let mut report = GradCheckReport {
        passed: true,
        worst: None,
        max_abs_error: 0.0,
        max_rel_error: 0.0,
        checked: 0,
        ops: ops.into_iter().collect(),
    };
    let mut worst_ratio = -1.0;
    for (i, (x, var)) in owned.iter().zip(&vars).enumerate() {
        let analytic = match grads.get(var) {
            Some(g) => g.to_vec(),
            None => vec![0.0; x.len()],
        };
        let shape = x.shape().to_vec();
        let mut probe: Vec<Tensor<f64>> = owned.clone();
        for (flat, &a) in analytic.iter().enumerate() {
            let base = x.as_slice().map(|s| s[flat]).unwrap_or(0.0);
            let h = opts.eps;
            let mut at = |offset: f64| -> Result<f64> {
                probe[i] = with_element(x, flat, base + offset);
                project(&probe)
            };
            // Fourth-order central difference: truncation error O(h⁴), so a larger step keeps
            // the cancellation error small too.
            let (p1, m1, p2, m2) = (at(h)?, at(-h)?, at(2.0 * h)?, at(-2.0 * h)?);
            probe[i] = x.clone();
            let numeric = (8.0 * (p1 - m1) - (p2 - m2)) / (12.0 * h);
            let abs_error = (a - numeric).abs();
            let allowed = opts.atol + opts.rtol * numeric.abs();
            let ratio = if abs_error.is_nan() {
                f64::INFINITY
            } else {
                abs_error / allowed
            };
            report.checked += 1;
            report.max_abs_error = report.max_abs_error.max(abs_error);
            let scale = a.abs().max(numeric.abs());
            if scale > opts.atol {
                report.max_rel_error = report.max_rel_error.max(abs_error / scale);
            }
            if ratio > 1.0 || !ratio.is_finite() {
                report.passed = false;
            }
            if ratio > worst_ratio {
                worst_ratio = ratio;
                report.worst = Some(WorstElement {
                    input: i,
                    index: unravel(flat, &shape),
                    analytic: a,
                    numeric,
                    abs_error,
                });
            }
        }
    }
    if report.passed {
        Ok(report)
    } else {
        Err(AutogradError::GradCheckFailed(Box::new(report)))
    }
}

fn with_element_unchanged(x: &Tensor<f64>) -> Tensor<f64> {
    Tensor::from_vec(x.to_vec(), x.shape())
        .unwrap_or_else(|_| unreachable!("same length and shape"))
}

/// A contiguous copy of `x` with its `flat`-th element set to `value`.
fn with_element(x: &Tensor<f64>, flat: usize, value: f64) -> Tensor<f64> {
    let mut values = x.to_vec();
    values[flat] = value;
    Tensor::from_vec(values, x.shape()).unwrap_or_else(|_| unreachable!("same length and shape"))
}

fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, &dim) in index.iter_mut().zip(shape).rev() {
        if dim > 0 {
            *slot = flat % dim;
            flat /= dim;
        }
    }
    index
}

/// The names of the ops recorded below `root` (before its backward pass consumes them).
fn collect_ops(root: &Var<f64>) -> BTreeSet<&'static str> {
    let mut ops = BTreeSet::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![root.clone()];
    while let Some(var) = stack.pop() {
        if !seen.insert(var.id()) {
            continue;
        }
        if var.is_leaf() {
            continue;
        }
        ops.insert(var.op());
        let slot = match var.0.node.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(node) = slot.as_ref() {
            stack.extend(node.parents.iter().cloned());
        }
    }
    ops
}
