//! One harness that checks every layer the same way (after Keras' `run_layer_test`):
//! inferred output shapes equal real ones for several batch sizes and both modes, the
//! parameter count matches its formula, the saved form round-trips to identical outputs,
//! gradients agree with central finite differences in `f64` (inputs and parameters), and
//! one gradient step lowers a loss.

use nn_autograd::{no_grad, GradCheckReport, Var, WorstElement};
use nn_tensor::random::Rng;
use nn_tensor::Tensor;

use crate::{ForwardCtx, Layer, Shape};

/// Makes one input tensor of a given full shape (batch first).
pub type InputFn = fn(&[usize], &mut Rng) -> Tensor<f64>;

/// What to check for one layer.
#[derive(Clone, Debug)]
pub struct LayerTest {
    /// Input shapes without the batch axis.
    pub input_shapes: Vec<Shape>,
    /// The expected number of parameter scalars (trainable + not), if known.
    pub expected_params: Option<usize>,
    /// Batch sizes to run.
    pub batch_sizes: Vec<usize>,
    /// Run the finite-difference check.
    pub gradcheck: bool,
    /// Whether input gradients are checked (false for integer inputs such as Embedding's).
    pub check_input_grads: bool,
    /// Run the gradient check in training mode (true: e.g. BatchNormalization's batch
    /// statistics; stochastic layers see the same seed on every evaluation).
    pub train_mode_gradcheck: bool,
    /// Makes the inputs (default: uniform in [−1, 1)).
    pub input_fn: Option<InputFn>,
    /// Tolerance of the gradient check: `|a − n| ≤ tol·(1 + |n|)`.
    pub tolerance: f64,
}

impl LayerTest {
    /// A test for one input of shape `input_shape`.
    pub fn new(input_shape: &[usize]) -> Self {
        Self::multi(&[input_shape])
    }

    /// A test for several inputs.
    pub fn multi(input_shapes: &[&[usize]]) -> Self {
        LayerTest {
            input_shapes: input_shapes.iter().map(|s| s.to_vec()).collect(),
            expected_params: None,
            batch_sizes: vec![1, 3],
            gradcheck: true,
            check_input_grads: true,
            train_mode_gradcheck: false,
            input_fn: None,
            tolerance: 1e-6,
        }
    }

    /// Expects this many parameter scalars.
    pub fn params(mut self, n: usize) -> Self {
        self.expected_params = Some(n);
        self
    }

    /// Uses `f` to make inputs.
    pub fn inputs(mut self, f: InputFn) -> Self {
        self.input_fn = Some(f);
        self
    }

    /// Skips the input-gradient part of the check.
    pub fn no_input_grads(mut self) -> Self {
        self.check_input_grads = false;
        self
    }

    /// Skips the gradient check (for forward-only layers).
    pub fn no_gradcheck(mut self) -> Self {
        self.gradcheck = false;
        self
    }

    /// Checks gradients in training mode.
    pub fn train_mode(mut self) -> Self {
        self.train_mode_gradcheck = true;
        self
    }

    /// Sets the gradient-check tolerance.
    pub fn tolerance(mut self, tol: f64) -> Self {
        self.tolerance = tol;
        self
    }

    fn make_inputs(&self, batch: usize, rng: &mut Rng) -> Vec<Tensor<f64>> {
        self.input_shapes
            .iter()
            .map(|s| {
                let mut full = vec![batch];
                full.extend_from_slice(s);
                match self.input_fn {
                    Some(f) => f(&full, rng),
                    None => Tensor::rand_uniform_with(&full, -1.0, 1.0, rng),
                }
            })
            .collect()
    }
}

fn run(
    layer: &dyn Layer<f64>,
    inputs: &[Tensor<f64>],
    training: bool,
    seed: u64,
) -> Result<Vec<Var<f64>>, String> {
    let vars: Vec<Var<f64>> = inputs.iter().map(|t| Var::constant(t.clone())).collect();
    let mut rng = Rng::seed(seed);
    let mut ctx = ForwardCtx::new(training, &mut rng);
    layer.call(&vars, &mut ctx).map_err(|e| e.to_string())
}

/// Runs every check on `layer` (unbuilt, configured), returning a description of the first
/// failure.
pub fn run_layer_test(mut layer: Box<dyn Layer<f64>>, spec: &LayerTest) -> Result<(), String> {
    let name = layer.class_name();
    let mut rng = Rng::seed(1234);
    let inferred = layer
        .output_shapes(&spec.input_shapes)
        .map_err(|e| format!("{name}: output_shapes: {e}"))?;
    layer
        .build(&spec.input_shapes, &mut rng)
        .map_err(|e| format!("{name}: build: {e}"))?;
    if !layer.is_built() {
        return Err(format!("{name}: is_built() is false after build"));
    }
    // Building again with the same shapes keeps the weights.
    let before: Vec<Tensor<f64>> = layer.params().iter().map(|p| p.value().clone()).collect();
    layer
        .build(&spec.input_shapes, &mut rng)
        .map_err(|e| format!("{name}: second build: {e}"))?;
    let after: Vec<Tensor<f64>> = layer.params().iter().map(|p| p.value().clone()).collect();
    if before != after {
        return Err(format!("{name}: building twice changed the weights"));
    }
    let built_inferred = layer
        .output_shapes(&spec.input_shapes)
        .map_err(|e| format!("{name}: {e}"))?;
    if built_inferred != inferred {
        return Err(format!(
            "{name}: output_shapes changed after build: {inferred:?} vs {built_inferred:?}"
        ));
    }
    if let Some(n) = spec.expected_params {
        let count = layer.trainable_count() + layer.non_trainable_count();
        if count != n {
            return Err(format!("{name}: {count} parameter scalars, expected {n}"));
        }
    }
    for &batch in &spec.batch_sizes {
        let inputs = spec.make_inputs(batch, &mut rng);
        for training in [false, true] {
            let out = run(layer.as_ref(), &inputs, training, 7)?;
            if out.len() != inferred.len() {
                return Err(format!(
                    "{name}: {} outputs, output_shapes promised {}",
                    out.len(),
                    inferred.len()
                ));
            }
            for (o, s) in out.iter().zip(&inferred) {
                let mut full = vec![batch];
                full.extend_from_slice(s);
                if o.shape() != full.as_slice() {
                    return Err(format!(
                        "{name}: output shape {:?} but output_shapes said {:?} (batch {batch}, training {training})",
                        o.shape(),
                        full
                    ));
                }
                if !o.value().is_finite_all() {
                    return Err(format!("{name}: non-finite output"));
                }
            }
        }
    }
    // The saved form rebuilds an identical layer.
    let inputs = spec.make_inputs(2, &mut rng);
    let restored = layer.to_saved().into_layer();
    let a = no_grad(|| run(layer.as_ref(), &inputs, false, 7))?;
    let b = no_grad(|| run(restored.as_ref(), &inputs, false, 7))?;
    for (x, y) in a.iter().zip(&b) {
        if x.value() != y.value() {
            return Err(format!(
                "{name}: the restored layer computes different outputs"
            ));
        }
    }
    if spec.gradcheck {
        let report = gradcheck_layer(layer.as_mut(), &inputs, spec)?;
        if !report.passed {
            return Err(format!("{name}: gradient check failed: {report}"));
        }
    }
    if layer.trainable_count() > 0 {
        one_step_lowers_loss(layer.as_mut(), &inputs, spec.train_mode_gradcheck)?;
    }
    Ok(())
}

fn projected(outputs: &[Var<f64>], projections: &[Tensor<f64>]) -> f64 {
    outputs
        .iter()
        .zip(projections)
        .map(|(o, r)| {
            o.value()
                .view()
                .iter()
                .zip(r.view().iter())
                .map(|(a, b)| a * b)
                .sum::<f64>()
        })
        .sum()
}

/// Checks the gradients of `⟨layer(inputs), R⟩` with respect to the inputs and every
/// trainable parameter against central differences.
pub fn gradcheck_layer(
    layer: &mut dyn Layer<f64>,
    inputs: &[Tensor<f64>],
    spec: &LayerTest,
) -> Result<GradCheckReport, String> {
    let name = layer.class_name();
    let training = spec.train_mode_gradcheck;
    let seed = 99;
    let eps = 1e-6;
    let vars: Vec<Var<f64>> = inputs.iter().map(|t| Var::param(t.clone())).collect();
    let mut rng = Rng::seed(seed);
    let mut ctx = ForwardCtx::new(training, &mut rng);
    let outputs = layer
        .call(&vars, &mut ctx)
        .map_err(|e| format!("{name}: {e}"))?;
    let projections: Vec<Tensor<f64>> = outputs
        .iter()
        .enumerate()
        .map(|(i, o)| Tensor::rand_normal(o.shape(), 0.0, 1.0, 500 + i as u64))
        .collect();
    // One scalar: Σ ⟨output_i, R_i⟩, differentiated through every output at once.
    let mut total: Option<Var<f64>> = None;
    for (o, r) in outputs.iter().zip(&projections) {
        let term = o
            .mul(&Var::constant(r.clone()))
            .and_then(|v| v.sum_all())
            .map_err(|e| e.to_string())?;
        total = Some(match total {
            Some(t) => t.add(&term).map_err(|e| e.to_string())?,
            None => term,
        });
    }
    let total = total.ok_or_else(|| format!("{name}: no outputs"))?;
    let grads = total
        .backward()
        .map_err(|e| format!("{name}: backward: {e}"))?;

    let evaluate = |layer: &dyn Layer<f64>, xs: &[Tensor<f64>]| -> Result<f64, String> {
        no_grad(|| Ok(projected(&run(layer, xs, training, seed)?, &projections)))
    };
    let mut report = GradCheckReport {
        passed: true,
        worst: None,
        max_abs_error: 0.0,
        max_rel_error: 0.0,
        checked: 0,
        ops: vec![],
    };
    let mut worst = -1.0;
    let mut note =
        |input: usize, index: usize, analytic: f64, numeric: f64, report: &mut GradCheckReport| {
            let abs_error = (analytic - numeric).abs();
            let ratio = abs_error / (spec.tolerance * (1.0 + numeric.abs()));
            report.checked += 1;
            report.max_abs_error = report.max_abs_error.max(abs_error);
            let scale = analytic.abs().max(numeric.abs());
            if scale > 1e-6 {
                report.max_rel_error = report.max_rel_error.max(abs_error / scale);
            }
            if ratio.is_nan() || ratio > 1.0 {
                report.passed = false;
            }
            if ratio > worst || ratio.is_nan() {
                worst = if ratio.is_nan() { f64::INFINITY } else { ratio };
                report.worst = Some(WorstElement {
                    input,
                    index: vec![index],
                    analytic,
                    numeric,
                    abs_error,
                });
            }
        };
    if spec.check_input_grads {
        for (i, (x, v)) in inputs.iter().zip(&vars).enumerate() {
            let analytic = grads
                .get(v)
                .map(|g| g.to_vec())
                .unwrap_or_else(|| vec![0.0; x.len()]);
            let base = x.to_vec();
            for (j, &a) in analytic.iter().enumerate() {
                let mut probe = inputs.to_vec();
                let mut vals = base.clone();
                vals[j] = base[j] + eps;
                probe[i] = Tensor::from_vec(vals.clone(), x.shape()).map_err(|e| e.to_string())?;
                let plus = evaluate(layer, &probe)?;
                vals[j] = base[j] - eps;
                probe[i] = Tensor::from_vec(vals, x.shape()).map_err(|e| e.to_string())?;
                let minus = evaluate(layer, &probe)?;
                note(i, j, a, (plus - minus) / (2.0 * eps), &mut report);
            }
        }
    }
    let param_count = layer.params().len();
    for p in 0..param_count {
        let (id, trainable, shape, base) = {
            let param = layer.params()[p];
            (
                param.id(),
                param.trainable(),
                param.value().shape().to_vec(),
                param.value().to_vec(),
            )
        };
        if !trainable {
            continue;
        }
        let analytic = grads
            .get_id(id)
            .map(|g| g.to_vec())
            .unwrap_or_else(|| vec![0.0; base.len()]);
        for (j, &a) in analytic.iter().enumerate() {
            let mut vals = base.clone();
            vals[j] = base[j] + eps;
            set_param(layer, p, &vals, &shape)?;
            let plus = evaluate(layer, inputs)?;
            vals[j] = base[j] - eps;
            set_param(layer, p, &vals, &shape)?;
            let minus = evaluate(layer, inputs)?;
            set_param(layer, p, &base, &shape)?;
            note(
                inputs.len() + p,
                j,
                a,
                (plus - minus) / (2.0 * eps),
                &mut report,
            );
        }
    }
    Ok(report)
}

fn set_param(
    layer: &mut dyn Layer<f64>,
    index: usize,
    values: &[f64],
    shape: &[usize],
) -> Result<(), String> {
    let t = Tensor::from_vec(values.to_vec(), shape).map_err(|e| e.to_string())?;
    layer.params_mut()[index]
        .set_value(t)
        .map_err(|e| e.to_string())
}

/// One plain gradient step on `mean((y − target)²)` must lower it.
fn one_step_lowers_loss(
    layer: &mut dyn Layer<f64>,
    inputs: &[Tensor<f64>],
    training: bool,
) -> Result<(), String> {
    let name = layer.class_name();
    let loss_of =
        |layer: &dyn Layer<f64>, targets: &[Tensor<f64>]| -> Result<(Var<f64>, f64), String> {
            let outs = run(layer, inputs, training, 5)?;
            let mut total: Option<Var<f64>> = None;
            for (o, t) in outs.iter().zip(targets) {
                let term = o
                    .sub(&Var::constant(t.clone()))
                    .and_then(|d| d.square())
                    .and_then(|s| s.mean_all())
                    .map_err(|e| e.to_string())?;
                total = Some(match total {
                    Some(acc) => acc.add(&term).map_err(|e| e.to_string())?,
                    None => term,
                });
            }
            let total = total.ok_or_else(|| format!("{name}: no outputs"))?;
            let v = total.value().item().map_err(|e| e.to_string())?;
            Ok((total, v))
        };
    let shapes: Vec<Vec<usize>> = run(layer, inputs, training, 5)?
        .iter()
        .map(|o| o.shape().to_vec())
        .collect();
    let targets: Vec<Tensor<f64>> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| Tensor::rand_uniform(s, -2.0, 2.0, 77 + i as u64))
        .collect();
    let (loss, before) = loss_of(layer, &targets)?;
    let grads = loss.backward().map_err(|e| e.to_string())?;
    let lr = 1e-3;
    for p in layer.params_mut() {
        if let Some(g) = grads.get_id(p.id()) {
            let g = g.clone();
            let updated = p
                .value()
                .sub(&g.mul_scalar(lr))
                .map_err(|e| e.to_string())?;
            p.set_value(updated).map_err(|e| e.to_string())?;
        }
    }
    let (_, after) = loss_of(layer, &targets)?;
    if after.is_nan() || after >= before {
        return Err(format!(
            "{name}: a gradient step did not lower the loss ({before} → {after})"
        ));
    }
    Ok(())
}
