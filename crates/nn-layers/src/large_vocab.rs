//! Output layers for tens of thousands of classes, where a full softmax costs `O(V·D)` per
//! example: hierarchical softmax, negative sampling, noise-contrastive estimation and
//! sampled softmax.
//!
//! # How they plug into a model
//! Each layer owns the output weights and takes two inputs, `[hidden [batch, D],
//! labels [batch] or [batch, 1]]` (labels are class ids stored as floats, as for the sparse
//! cross-entropy), and outputs **the per-example loss** `[batch]` (shape `[]` without the
//! batch axis):
//!
//! * in training (`ctx.training()`), the cheap objective: the exact `−ln p(label)` along the
//!   tree path for [`HierarchicalSoftmax`] (`O(log V)`), the sampled estimate for the other
//!   three (`O(k)` with `k` noise samples drawn from `ctx.rng()`, so a seed reproduces them);
//! * in inference, the exact `−ln p(label)`: the tree path for [`HierarchicalSoftmax`], the
//!   full softmax cross-entropy `−ln softmax(h·Wᵀ + b)[label]` for the sampled layers.
//!
//! A model ending in one of these layers is compiled with
//! `nn_losses::LossFromOutput` (`"loss_from_output"`), which averages the model's output
//! over the batch. `fit` then minimises the training objective and `evaluate` reports the
//! exact cross-entropy (its `loss` is the full-softmax or tree log-loss, not the sampled
//! estimate). The labels reach the layer as a model input; with the single-input `fit`,
//! pack ids and labels into one input and take them apart with [`Slice`](crate::Slice).
//! The full distribution over all classes is [`HierarchicalSoftmax::log_probs`] (and
//! `log_probs` on the other layers).
//!
//! The weight gradient is dense (`[V, D]`, mostly zeros): the optimizers work on dense
//! tensors. The per-example work is `O(k·D)` (`O(log V · D)` for the tree).

use std::sync::OnceLock;

use nn_autograd::Var;
use nn_tensor::random::Rng;
use nn_tensor::sampling::{AliasTable, HuffmanTree, LogUniformSampler};
use nn_tensor::{Float, Tensor};
use serde::{Deserialize, Serialize};

use crate::conv::config_error;
use crate::layer::shape_error;
use crate::{ForwardCtx, Initializer, Layer, LayerError, Param, Result, SavedLayer, Shape};

/// The distribution noise classes (negatives, candidates) are drawn from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum NoiseDistribution {
    /// `P(i) ∝ ln(1 + 1/(i + 1))` over `0..V` (Zipfian): for class ids sorted by decreasing
    /// frequency, as TensorFlow's `log_uniform_candidate_sampler`.
    LogUniform,
    /// `P(i) ∝ counts[i]^power`, word2vec's unigram noise (power 0.75).
    Unigram {
        /// Class frequencies, one per class.
        counts: Vec<u64>,
        /// The exponent (0.75 in word2vec).
        power: f64,
    },
}

/// A built noise sampler.
#[derive(Clone, Debug)]
enum Sampler {
    Alias(AliasTable),
    LogUniform(LogUniformSampler),
}

impl Sampler {
    #[inline]
    fn sample(&self, rng: &mut Rng) -> usize {
        match self {
            Sampler::Alias(t) => t.sample(rng),
            Sampler::LogUniform(s) => s.sample(rng),
        }
    }

    #[inline]
    fn prob(&self, i: usize) -> f64 {
        match self {
            Sampler::Alias(t) => t.prob(i),
            Sampler::LogUniform(s) => s.prob(i),
        }
    }
}

/// Per example, the weight rows scored against its hidden vector: for each, the amount
/// subtracted from the logit and whether it is the target (logistic: label 1 versus 0;
/// softmax: the true class).
#[derive(Default)]
struct Candidates {
    offsets: Vec<usize>,
    rows: Vec<u32>,
    shift: Vec<f64>,
    target: Vec<bool>,
}

impl Candidates {
    fn with_capacity(examples: usize, per_example: usize) -> Self {
        let mut offsets = Vec::with_capacity(examples + 1);
        offsets.push(0);
        Candidates {
            offsets,
            rows: Vec::with_capacity(examples * per_example),
            shift: Vec::with_capacity(examples * per_example),
            target: Vec::with_capacity(examples * per_example),
        }
    }

    fn push(&mut self, row: usize, shift: f64, target: bool) {
        self.rows.push(row as u32);
        self.shift.push(shift);
        self.target.push(target);
    }

    fn end_example(&mut self) {
        self.offsets.push(self.rows.len());
    }
}

/// How the candidates' logits become a loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Objective {
    /// `Σ −ln σ(±z)`: `+` for targets, `−` for the others (tree paths, NS, NCE).
    Logistic,
    /// `ln Σ exp z − z_target` over the candidates (sampled softmax).
    Softmax,
}

/// `ln(1 + eˣ)` without overflow.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    a.iter().zip(b).fold(T::zero(), |acc, (&x, &y)| acc + x * y)
}

/// The fused loss over candidate rows: per example `i`, logits
/// `z = W[row]·h_i + b[row] − shift`, combined by `objective`; output `[batch]`. The
/// gradient with respect to each logit is computed in the forward pass; backward scatters it
/// into `h`, the used rows of `W` and `b`.
fn candidate_loss<T: Float>(
    op: &'static str,
    hidden: &Var<T>,
    kernel: &Var<T>,
    bias: Option<&Var<T>>,
    c: Candidates,
    objective: Objective,
) -> Result<Var<T>> {
    let h = hidden.value().contiguous();
    let w = kernel.value().contiguous();
    let b = bias.map(|b| b.value().contiguous());
    let (n, d) = (h.shape()[0], h.shape()[1]);
    let hs = h.as_slice().unwrap_or(&[]);
    let ws = w.as_slice().unwrap_or(&[]);
    let bs = b.as_ref().and_then(|b| b.as_slice());
    let mut loss = vec![T::zero(); n];
    let mut dz = vec![0.0f64; c.rows.len()];
    let mut z = Vec::new();
    for i in 0..n {
        let hi = &hs[i * d..(i + 1) * d];
        let range = c.offsets[i]..c.offsets[i + 1];
        z.clear();
        for e in range.clone() {
            let r = c.rows[e] as usize;
            let mut v = dot(&ws[r * d..(r + 1) * d], hi).f64();
            if let Some(bs) = bs {
                v += bs[r].f64();
            }
            z.push(v - c.shift[e]);
        }
        let mut l = 0.0;
        match objective {
            Objective::Logistic => {
                for (k, e) in range.enumerate() {
                    let sign = if c.target[e] { 1.0 } else { -1.0 };
                    l += softplus(-sign * z[k]);
                    dz[e] = sigmoid(z[k]) - if c.target[e] { 1.0 } else { 0.0 };
                }
            }
            Objective::Softmax => {
                if !z.is_empty() {
                    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                    for (k, e) in range.enumerate() {
                        let t = if c.target[e] { 1.0 } else { 0.0 };
                        l -= t * z[k];
                        dz[e] = (z[k] - lse).exp() - t;
                    }
                    l += lse;
                }
            }
        }
        loss[i] = T::of(l);
    }
    let value = Tensor::from_vec(loss, [n])?;
    let (w_shape, b_len) = (w.shape().to_vec(), b.as_ref().map(|b| b.len()));
    let mut parents = vec![hidden, kernel];
    parents.extend(bias);
    Ok(Var::from_op(op, value, &parents, move |g, needs| {
        let g = g.contiguous();
        let gs = g.as_slice().unwrap_or(&[]);
        let hs = h.as_slice().unwrap_or(&[]);
        let ws = w.as_slice().unwrap_or(&[]);
        let mut gh = needs[0].then(|| nn_tensor::buffer::zeroed(n * d));
        let mut gw = needs[1].then(|| nn_tensor::buffer::zeroed(ws.len()));
        let mut gb = b_len
            .filter(|_| needs.get(2) == Some(&true))
            .map(|len| vec![T::zero(); len]);
        for i in 0..n {
            let range = c.offsets[i]..c.offsets[i + 1];
            for (&dze, &row) in dz[range.clone()].iter().zip(&c.rows[range]) {
                let coef = gs[i] * T::of(dze);
                let r = row as usize;
                if let Some(gh) = gh.as_mut() {
                    for (o, &wv) in gh[i * d..(i + 1) * d]
                        .iter_mut()
                        .zip(&ws[r * d..(r + 1) * d])
                    {
                        *o += coef * wv;
                    }
                }
                if let Some(gw) = gw.as_mut() {
                    for (o, &hv) in gw[r * d..(r + 1) * d]
                        .iter_mut()
                        .zip(&hs[i * d..(i + 1) * d])
                    {
                        *o += coef * hv;
                    }
                }
                if let Some(gb) = gb.as_mut() {
                    gb[r] += coef;
                }
            }
        }
        let mut out = vec![
            gh.map(|v| Tensor::from_vec(v, [n, d])).transpose()?,
            gw.map(|v| Tensor::from_vec(v, &w_shape)).transpose()?,
        ];
        if let Some(len) = b_len {
            out.push(gb.map(|v| Tensor::from_vec(v, [len])).transpose()?);
        }
        Ok(out)
    }))
}

/// Configuration and weights shared by the four layers: the output matrix `kernel`
/// `[rows, D]` and optional `bias` `[rows]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
struct OutputCore<T: Float> {
    name: String,
    num_classes: usize,
    use_bias: bool,
    kernel_initializer: Initializer,
    kernel: Option<Param<T>>,
    bias: Option<Param<T>>,
}

impl<T: Float> OutputCore<T> {
    fn new(name: &str, num_classes: usize, use_bias: bool, init: Initializer) -> Self {
        OutputCore {
            name: name.into(),
            num_classes,
            use_bias,
            kernel_initializer: init,
            kernel: None,
            bias: None,
        }
    }

    /// Checks `[hidden [D], labels [] or [1]]` and returns `D`.
    fn check_shapes(&self, input_shapes: &[Shape]) -> Result<usize> {
        if self.num_classes < 2 {
            return Err(config_error(
                &self.name,
                format!("needs at least 2 classes, got {}", self.num_classes),
            ));
        }
        let [hidden, labels] = input_shapes else {
            return Err(LayerError::Inputs {
                layer: self.name.clone(),
                expected: "2 ([hidden, labels])".into(),
                found: input_shapes.len(),
            });
        };
        let d = match hidden.as_slice() {
            [d] if *d > 0 => *d,
            _ => {
                return Err(shape_error(
                    &self.name,
                    "hidden [batch, D] with D > 0",
                    hidden,
                ))
            }
        };
        if !(labels.is_empty() || labels.as_slice() == [1]) {
            return Err(shape_error(
                &self.name,
                "labels [batch] or [batch, 1]",
                labels,
            ));
        }
        if let Some(k) = &self.kernel {
            if k.value().shape()[1] != d {
                return Err(shape_error(
                    &self.name,
                    format!(
                        "hidden [batch, {}] (the layer was built for it)",
                        k.value().shape()[1]
                    ),
                    hidden,
                ));
            }
        }
        Ok(d)
    }

    fn build(&mut self, input_shapes: &[Shape], rows: usize, rng: &mut Rng) -> Result<()> {
        let d = self.check_shapes(input_shapes)?;
        if self.kernel.is_none() {
            self.kernel = Some(Param::new(
                "kernel",
                self.kernel_initializer.init(&[rows, d], rng),
            ));
            if self.use_bias {
                self.bias = Some(Param::new("bias", Tensor::zeros([rows])));
            }
        }
        Ok(())
    }

    /// The hidden var and the labels as class indices, checked against each other.
    fn inputs<'v>(&self, inputs: &'v [Var<T>]) -> Result<(&'v Var<T>, Vec<usize>)> {
        let [hidden, labels] = inputs else {
            return Err(LayerError::Inputs {
                layer: self.name.clone(),
                expected: "2 ([hidden, labels])".into(),
                found: inputs.len(),
            });
        };
        let kernel = self.kernel()?;
        let d = kernel.value().shape()[1];
        let n = match hidden.shape() {
            [n, hd] if *hd == d => *n,
            other => {
                return Err(shape_error(
                    &self.name,
                    format!("hidden [batch, {d}]"),
                    other,
                ))
            }
        };
        match labels.shape() {
            [m] | [m, 1] if *m == n => {}
            other => {
                return Err(shape_error(
                    &self.name,
                    format!("labels [{n}] or [{n}, 1] (one per hidden row)"),
                    other,
                ))
            }
        }
        let limit = self.num_classes as f64;
        let ids = labels
            .value()
            .view()
            .iter()
            .map(|&v| {
                let id = v.f64();
                if id >= 0.0 && id < limit && id.fract() == 0.0 {
                    Ok(id as usize)
                } else {
                    Err(config_error(
                        &self.name,
                        format!("label {id} is not an integer in 0..{}", self.num_classes),
                    ))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((hidden, ids))
    }

    /// The weights as vars, checked to have `rows` rows (a saved file could hold others).
    fn weight_vars(&self, rows: usize) -> Result<(Var<T>, Option<Var<T>>)> {
        let kernel = self.kernel()?;
        let ks = kernel.value().shape();
        let bias_ok = self
            .bias
            .as_ref()
            .map_or(true, |b| b.value().shape() == [rows]);
        if ks.len() != 2 || ks[0] != rows || !bias_ok {
            return Err(config_error(
                &self.name,
                format!(
                    "weights of shape {ks:?} (bias {:?}) do not fit {rows} rows",
                    self.bias.as_ref().map(|b| b.value().shape().to_vec())
                ),
            ));
        }
        Ok((kernel.var(), self.bias.as_ref().map(|b| b.var())))
    }

    fn kernel(&self) -> Result<&Param<T>> {
        self.kernel.as_ref().ok_or_else(|| LayerError::NotBuilt {
            layer: self.name.clone(),
        })
    }

    fn check_hidden(&self, hidden: &Tensor<T>) -> Result<()> {
        let d = self.kernel()?.value().shape()[1];
        match hidden.shape() {
            [_, hd] if *hd == d => Ok(()),
            other => Err(shape_error(
                &self.name,
                format!("hidden [batch, {d}]"),
                other,
            )),
        }
    }

    /// `h·Wᵀ + b`: `[batch, rows]`.
    fn logits(&self, hidden: &Tensor<T>) -> Result<Tensor<T>> {
        self.check_hidden(hidden)?;
        let scores = hidden.matmul(&self.kernel()?.value().t()?)?;
        Ok(match &self.bias {
            Some(b) => scores.add(b.value())?,
            None => scores,
        })
    }

    fn params(&self) -> Vec<&Param<T>> {
        self.kernel.iter().chain(self.bias.iter()).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.kernel.iter_mut().chain(self.bias.iter_mut()).collect()
    }
}

/// Implements the [`Layer`] methods the four layers share.
macro_rules! output_layer_common {
    ($variant:ident) => {
        fn class_name(&self) -> &'static str {
            stringify!($variant)
        }

        fn name(&self) -> &str {
            &self.core.name
        }

        fn set_name(&mut self, name: &str) {
            self.core.name = name.into();
        }

        fn is_built(&self) -> bool {
            self.core.kernel.is_some()
        }

        fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
            self.check_config()?;
            self.core.check_shapes(input_shapes)?;
            Ok(vec![vec![]])
        }

        fn params(&self) -> Vec<&Param<T>> {
            self.core.params()
        }

        fn params_mut(&mut self) -> Vec<&mut Param<T>> {
            self.core.params_mut()
        }

        fn to_saved(&self) -> SavedLayer<T> {
            SavedLayer::$variant(self.clone())
        }

        fn clone_box(&self) -> Box<dyn Layer<T>> {
            Box::new(self.clone())
        }

        fn num_inputs(&self) -> usize {
            2
        }
    };
}

/// Hierarchical softmax (Morin & Bengio; word2vec's `-hs`): the classes are the leaves of a
/// binary tree and `p(class | h) = Π σ(±v_n·h + b_n)` over the inner nodes `n` on the
/// class's path, the sign given by the branch taken (branch 0: `+`). The probabilities of
/// all classes sum to 1 by construction, so the loss `−ln p(label)` is exact in training and
/// inference alike and costs `O(depth · D)`.
///
/// With class frequencies ([`HierarchicalSoftmax::from_counts`]) the tree is a Huffman tree
/// (frequent classes get short paths, word2vec's choice); without, a balanced tree of depth
/// `⌈log2 V⌉`. Weights: `kernel` `[V − 1, D]` (one vector per inner node, initialised to
/// zeros as word2vec's `syn1`) and, if `use_bias`, `bias` `[V − 1]` (default off).
///
/// Inputs `[hidden [batch, D], labels [batch]]`, output the per-example loss `[batch]`; see
/// the [module documentation](self) for compiling with `"loss_from_output"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct HierarchicalSoftmax<T: Float = f32> {
    core: OutputCore<T>,
    counts: Option<Vec<u64>>,
    #[serde(skip)]
    tree: OnceLock<HuffmanTree>,
}

impl<T: Float> HierarchicalSoftmax<T> {
    /// Over `num_classes` classes with a balanced tree.
    pub fn new(num_classes: usize) -> Self {
        HierarchicalSoftmax {
            core: OutputCore::new(
                "hierarchical_softmax",
                num_classes,
                false,
                Initializer::Zeros,
            ),
            counts: None,
            tree: OnceLock::new(),
        }
    }

    /// Over `counts.len()` classes with the Huffman tree of the class frequencies `counts`.
    pub fn from_counts(counts: Vec<u64>) -> Self {
        let mut layer = Self::new(counts.len());
        layer.counts = Some(counts);
        layer
    }

    /// Adds a bias per inner node (default off).
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.core.use_bias = use_bias;
        self
    }

    /// The initializer of the node vectors (default zeros).
    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.core.kernel_initializer = init;
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.core.name = name.into();
        self
    }

    /// The number of classes.
    pub fn num_classes(&self) -> usize {
        self.core.num_classes
    }

    fn check_config(&self) -> Result<()> {
        if self.core.num_classes < 2 {
            return Err(config_error(
                &self.core.name,
                format!("needs at least 2 classes, got {}", self.core.num_classes),
            ));
        }
        Ok(())
    }

    /// The tree (built on first use; it is not saved, only the counts are).
    pub fn tree(&self) -> Result<&HuffmanTree> {
        if let Some(t) = self.tree.get() {
            return Ok(t);
        }
        self.check_config()?;
        let tree = match &self.counts {
            Some(c) => HuffmanTree::from_counts(c),
            None => HuffmanTree::balanced(self.core.num_classes),
        }
        .map_err(|e| config_error(&self.core.name, e.to_string()))?;
        Ok(self.tree.get_or_init(|| tree))
    }

    /// `ln p(class | h)` for every class: `[batch, V]`, each row's exponentials summing to 1.
    /// Costs `O(V·D)` per example (one matrix product for all node scores).
    pub fn log_probs(&self, hidden: &Tensor<T>) -> Result<Tensor<T>> {
        let tree = self.tree()?;
        self.core.weight_vars(tree.num_inner_nodes())?;
        let scores = self.core.logits(hidden)?;
        let scores = scores.contiguous();
        let s = scores.as_slice().unwrap_or(&[]);
        let (n, inner, v) = (
            hidden.shape()[0],
            tree.num_inner_nodes(),
            tree.num_classes(),
        );
        let mut out = Vec::with_capacity(n * v);
        for i in 0..n {
            let row = &s[i * inner..(i + 1) * inner];
            for class in 0..v {
                let (nodes, codes) = tree.path(class);
                let lp: f64 = nodes
                    .iter()
                    .zip(codes)
                    .map(|(&node, &code)| {
                        let z = row[node as usize].f64();
                        -softplus(if code == 0 { -z } else { z })
                    })
                    .sum();
                out.push(T::of(lp));
            }
        }
        Ok(Tensor::from_vec(out, [n, v])?)
    }
}

impl<T: Float> Layer<T> for HierarchicalSoftmax<T> {
    output_layer_common!(HierarchicalSoftmax);

    fn build(&mut self, input_shapes: &[Shape], rng: &mut Rng) -> Result<()> {
        self.check_config()?;
        self.tree()?;
        self.core
            .build(input_shapes, self.core.num_classes - 1, rng)
    }

    fn call(&self, inputs: &[Var<T>], _ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
        let (hidden, labels) = self.core.inputs(inputs)?;
        let tree = self.tree()?;
        let mut c = Candidates::with_capacity(labels.len(), tree.max_depth());
        for &label in &labels {
            let (nodes, codes) = tree.path(label);
            for (&node, &code) in nodes.iter().zip(codes) {
                c.push(node as usize, 0.0, code == 0);
            }
            c.end_example();
        }
        let (kernel, bias) = self.core.weight_vars(tree.num_inner_nodes())?;
        let loss = candidate_loss(
            "hierarchical_softmax",
            hidden,
            &kernel,
            bias.as_ref(),
            c,
            Objective::Logistic,
        )?;
        Ok(vec![loss])
    }
}

/// Which sampled objective a [`SampledCore`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum SampledKind {
    NegativeSampling,
    Nce,
    SampledSoftmax,
}

/// What the three sampled layers share: the noise distribution, the number of samples and
/// the accidental-hit rule.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
struct SampledCore<T: Float> {
    core: OutputCore<T>,
    kind: SampledKind,
    noise: NoiseDistribution,
    num_sampled: usize,
    remove_accidental_hits: bool,
    #[serde(skip)]
    sampler: OnceLock<Sampler>,
}

impl<T: Float> SampledCore<T> {
    fn check_config(&self) -> Result<()> {
        let name = &self.core.name;
        if self.core.num_classes < 2 {
            return Err(config_error(
                name,
                format!("needs at least 2 classes, got {}", self.core.num_classes),
            ));
        }
        if self.num_sampled == 0 {
            return Err(config_error(
                name,
                "the number of noise samples must be positive",
            ));
        }
        if let NoiseDistribution::Unigram { counts, .. } = &self.noise {
            if counts.len() != self.core.num_classes {
                return Err(config_error(
                    name,
                    format!(
                        "{} class counts for {} classes",
                        counts.len(),
                        self.core.num_classes
                    ),
                ));
            }
        }
        Ok(())
    }

    fn sampler(&self) -> Result<&Sampler> {
        if let Some(s) = self.sampler.get() {
            return Ok(s);
        }
        self.check_config()?;
        let sampler = match &self.noise {
            NoiseDistribution::LogUniform => {
                LogUniformSampler::new(self.core.num_classes).map(Sampler::LogUniform)
            }
            NoiseDistribution::Unigram { counts, power } => {
                AliasTable::unigram(counts, *power).map(Sampler::Alias)
            }
        }
        .map_err(|e| config_error(&self.core.name, e.to_string()))?;
        Ok(self.sampler.get_or_init(|| sampler))
    }

    fn build(&mut self, input_shapes: &[Shape], rng: &mut Rng) -> Result<()> {
        self.check_config()?;
        self.sampler()?;
        self.core.build(input_shapes, self.core.num_classes, rng)
    }

    /// The training objective on `k` noise draws per example.
    fn sampled_loss(
        &self,
        op: &'static str,
        hidden: &Var<T>,
        labels: &[usize],
        rng: &mut Rng,
    ) -> Result<Var<T>> {
        let sampler = self.sampler()?;
        let k = self.num_sampled;
        // ln(k·Q(c)): the expected number of draws of c. Floored so a class the noise never
        // draws (count 0) gives a huge but finite correction.
        let log_expected = |c: usize| (k as f64 * sampler.prob(c)).max(1e-30).ln();
        let corrected = self.kind != SampledKind::NegativeSampling;
        let mut c = Candidates::with_capacity(labels.len(), k + 1);
        for &label in labels {
            // NCE corrects the label's logit like any noise class (the posterior that a class
            // came from the data, e^s / (e^s + k·Q)). Sampled softmax does not: the label is
            // always a candidate, and the corrected samples (accidental hits removed) estimate
            // the rest of the normaliser, so the loss tends to the full cross-entropy.
            let shift = if self.kind == SampledKind::Nce {
                log_expected(label)
            } else {
                0.0
            };
            c.push(label, shift, true);
            for _ in 0..k {
                let s = sampler.sample(rng);
                if s == label && self.remove_accidental_hits {
                    continue;
                }
                let shift = if corrected { log_expected(s) } else { 0.0 };
                c.push(s, shift, false);
            }
            c.end_example();
        }
        let (kernel, bias) = self.core.weight_vars(self.core.num_classes)?;
        let objective = match self.kind {
            SampledKind::SampledSoftmax => Objective::Softmax,
            _ => Objective::Logistic,
        };
        candidate_loss(op, hidden, &kernel, bias.as_ref(), c, objective)
    }

    /// The exact `−ln softmax(h·Wᵀ + b)[label]`, differentiable.
    fn full_loss(&self, hidden: &Var<T>, labels: &[usize]) -> Result<Var<T>> {
        let (kernel, bias) = self.core.weight_vars(self.core.num_classes)?;
        let mut logits = hidden.matmul(&kernel.t()?)?;
        if let Some(b) = &bias {
            logits = logits.add(b)?;
        }
        let n = labels.len();
        Ok(logits
            .log_softmax(-1)?
            .take_along_axis(1, labels)?
            .reshape([n])?
            .neg()?)
    }

    fn call(
        &self,
        op: &'static str,
        inputs: &[Var<T>],
        ctx: &mut ForwardCtx<'_, T>,
    ) -> Result<Vec<Var<T>>> {
        let (hidden, labels) = self.core.inputs(inputs)?;
        let loss = if ctx.training() {
            self.sampled_loss(op, hidden, &labels, ctx.rng())?
        } else {
            self.full_loss(hidden, &labels)?
        };
        Ok(vec![loss])
    }

    fn log_probs(&self, hidden: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(self.core.logits(hidden)?.log_softmax(-1)?)
    }
}

/// Defines one sampled layer: the struct, its builders and its [`Layer`] impl.
macro_rules! sampled_layer {
    (
        $(#[$doc:meta])*
        $ty:ident, $kind:ident, $default_name:literal, $use_bias:expr, $init:expr, $hits:expr
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Serialize, Deserialize)]
        #[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
        pub struct $ty<T: Float = f32> {
            inner: SampledCore<T>,
        }

        impl<T: Float> $ty<T> {
            fn with_noise(num_classes: usize, num_sampled: usize, noise: NoiseDistribution) -> Self {
                $ty {
                    inner: SampledCore {
                        core: OutputCore::new($default_name, num_classes, $use_bias, $init),
                        kind: SampledKind::$kind,
                        noise,
                        num_sampled,
                        remove_accidental_hits: $hits,
                        sampler: OnceLock::new(),
                    },
                }
            }

            /// Replaces the noise distribution.
            pub fn noise(mut self, noise: NoiseDistribution) -> Self {
                self.inner.noise = noise;
                self.inner.sampler = OnceLock::new();
                self
            }

            /// Whether noise draws equal to the label are dropped.
            pub fn remove_accidental_hits(mut self, remove: bool) -> Self {
                self.inner.remove_accidental_hits = remove;
                self
            }

            /// Adds (or removes) the per-class bias.
            pub fn use_bias(mut self, use_bias: bool) -> Self {
                self.inner.core.use_bias = use_bias;
                self
            }

            /// The initializer of the output weights.
            pub fn kernel_initializer(mut self, init: Initializer) -> Self {
                self.inner.core.kernel_initializer = init;
                self
            }

            /// Sets the name.
            pub fn name(mut self, name: &str) -> Self {
                self.inner.core.name = name.into();
                self
            }

            /// The number of classes.
            pub fn num_classes(&self) -> usize {
                self.inner.core.num_classes
            }

            /// The number of noise samples per example.
            pub fn num_sampled(&self) -> usize {
                self.inner.num_sampled
            }

            /// `ln softmax(h·Wᵀ + b)` over all classes: `[batch, V]`.
            pub fn log_probs(&self, hidden: &Tensor<T>) -> Result<Tensor<T>> {
                self.inner.log_probs(hidden)
            }

            fn check_config(&self) -> Result<()> {
                self.inner.check_config()
            }
        }

        impl<T: Float> Layer<T> for $ty<T> {
            fn class_name(&self) -> &'static str {
                stringify!($ty)
            }

            fn name(&self) -> &str {
                &self.inner.core.name
            }

            fn set_name(&mut self, name: &str) {
                self.inner.core.name = name.into();
            }

            fn is_built(&self) -> bool {
                self.inner.core.kernel.is_some()
            }

            fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
                self.check_config()?;
                self.inner.core.check_shapes(input_shapes)?;
                Ok(vec![vec![]])
            }

            fn build(&mut self, input_shapes: &[Shape], rng: &mut Rng) -> Result<()> {
                self.inner.build(input_shapes, rng)
            }

            fn call(&self, inputs: &[Var<T>], ctx: &mut ForwardCtx<'_, T>) -> Result<Vec<Var<T>>> {
                self.inner.call($default_name, inputs, ctx)
            }

            fn params(&self) -> Vec<&Param<T>> {
                self.inner.core.params()
            }

            fn params_mut(&mut self) -> Vec<&mut Param<T>> {
                self.inner.core.params_mut()
            }

            fn to_saved(&self) -> SavedLayer<T> {
                SavedLayer::$ty(self.clone())
            }

            fn clone_box(&self) -> Box<dyn Layer<T>> {
                Box::new(self.clone())
            }

            fn num_inputs(&self) -> usize {
                2
            }
        }
    };
}

sampled_layer!(
    /// Negative sampling (Mikolov et al. 2013; word2vec's `-negative k`): in training,
    /// `−ln σ(w_label·h) − Σ_k ln σ(−w_neg·h)` over `k` negatives drawn from the unigram
    /// distribution `count^0.75` (draws equal to the label are skipped, as word2vec does).
    /// It trains good vectors but is not a normalised model; in inference the layer reports
    /// the full softmax cross-entropy of the same scores.
    ///
    /// Weights: `kernel` `[V, D]` (zeros, as word2vec's `syn1neg`), no bias by default.
    /// Inputs `[hidden [batch, D], labels [batch]]`, output the per-example loss `[batch]`;
    /// see the [module documentation](self).
    NegativeSampling,
    NegativeSampling,
    "negative_sampling",
    false,
    Initializer::Zeros,
    true
);

impl<T: Float> NegativeSampling<T> {
    /// `num_negatives` negatives per example from `counts^0.75` (`counts[i]` the frequency of
    /// class `i`; the number of classes is `counts.len()`).
    pub fn new(counts: Vec<u64>, num_negatives: usize) -> Self {
        let v = counts.len();
        Self::with_noise(
            v,
            num_negatives,
            NoiseDistribution::Unigram {
                counts,
                power: 0.75,
            },
        )
    }
}

sampled_layer!(
    /// Noise-contrastive estimation (Gutmann & Hyvärinen; Mnih & Teh): logistic regression
    /// telling the label from `k` noise draws, on logits corrected by the noise's expected
    /// count, `s(c) = w_c·h + b_c − ln(k·Q(c))`: `−ln σ(s(label)) − Σ_k ln σ(−s(noise))`.
    /// As `k` grows its gradient approaches the softmax cross-entropy's for self-normalised
    /// scores. Noise from `counts^0.75` by default; accidental hits are kept (TensorFlow's
    /// default). In inference the layer reports the full softmax cross-entropy.
    ///
    /// Weights: `kernel` `[V, D]` (Glorot uniform) and `bias` `[V]` (zeros).
    /// Inputs `[hidden [batch, D], labels [batch]]`, output the per-example loss `[batch]`;
    /// see the [module documentation](self).
    NoiseContrastiveEstimation,
    Nce,
    "nce",
    true,
    Initializer::GlorotUniform,
    false
);

impl<T: Float> NoiseContrastiveEstimation<T> {
    /// `num_noise` noise samples per example from `counts^0.75`.
    pub fn new(counts: Vec<u64>, num_noise: usize) -> Self {
        let v = counts.len();
        Self::with_noise(
            v,
            num_noise,
            NoiseDistribution::Unigram {
                counts,
                power: 0.75,
            },
        )
    }
}

sampled_layer!(
    /// Sampled softmax (Jean et al. 2015): the softmax cross-entropy over the label and `k`
    /// sampled candidates, each sampled logit corrected by `− ln(k·Q(c))` so that the
    /// samples estimate the rest of the normaliser; candidates equal to the label are
    /// removed. Unlike TensorFlow's `sampled_softmax_loss` the label's own logit is not
    /// corrected (it is always a candidate), which makes the loss a consistent estimate: as
    /// `k` grows it approaches the full softmax cross-entropy, which the layer reports in
    /// inference. Candidates are log-uniform by default (class ids sorted by decreasing
    /// frequency); [`NoiseDistribution::Unigram`] uses counts instead.
    ///
    /// Weights: `kernel` `[V, D]` (Glorot uniform) and `bias` `[V]` (zeros).
    /// Inputs `[hidden [batch, D], labels [batch]]`, output the per-example loss `[batch]`;
    /// see the [module documentation](self).
    SampledSoftmax,
    SampledSoftmax,
    "sampled_softmax",
    true,
    Initializer::GlorotUniform,
    true
);

impl<T: Float> SampledSoftmax<T> {
    /// `num_sampled` log-uniform candidates per example over `num_classes` classes.
    pub fn new(num_classes: usize, num_sampled: usize) -> Self {
        Self::with_noise(num_classes, num_sampled, NoiseDistribution::LogUniform)
    }
}
