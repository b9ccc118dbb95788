//! Samplers and class trees for large-vocabulary outputs.
//!
//! * [`AliasTable`]: draws from any discrete distribution in O(1) (Walker's alias method,
//!   built with Vose's linear-time construction); [`AliasTable::unigram`] gives word2vec's
//!   `count^0.75` noise distribution for negative sampling and NCE.
//! * [`LogUniformSampler`]: the Zipfian distribution `P(i) ∝ ln(1 + 1/(i+1))` over `0..range`
//!   used by sampled softmax when class ids are sorted by decreasing frequency.
//! * [`HuffmanTree`]: a binary tree over the classes whose root-to-leaf paths drive
//!   hierarchical softmax; [`HuffmanTree::from_counts`] gives frequent classes short paths,
//!   [`HuffmanTree::balanced`] gives every class a path of about `log2 V` nodes.
//!
//! Every draw comes from a seeded [`Rng`], so results are reproducible.

use crate::random::Rng;
use crate::TensorError;

/// Checks that a class count fits the `u32` indices the compact tables use.
fn check_size(op: &'static str, n: usize) -> Result<(), TensorError> {
    if n == 0 {
        return Err(TensorError::invalid(
            op,
            "needs at least one class, got none",
        ));
    }
    if n > u32::MAX as usize {
        return Err(TensorError::invalid(
            op,
            format!("{n} classes exceed the supported maximum of {}", u32::MAX),
        ));
    }
    Ok(())
}

/// A discrete distribution over `0..len` that draws in O(1) (Walker's alias method).
///
/// Each of the `len` columns holds a threshold and an alias: a draw picks a column uniformly
/// and keeps it when a uniform coin falls below the threshold, otherwise takes its alias.
/// The hot table stores one `(f32, u32)` pair per class (8 bytes) so that a draw touches a
/// single cache line; the exact normalised probabilities are kept separately for
/// [`AliasTable::prob`].
#[derive(Clone, Debug, PartialEq)]
pub struct AliasTable {
    columns: Vec<(f32, u32)>,
    probs: Vec<f64>,
}

impl AliasTable {
    /// A table drawing class `i` with probability `weights[i] / Σ weights`.
    ///
    /// Errors: no weights, a negative or non-finite weight, or weights summing to zero.
    pub fn new(weights: &[f64]) -> Result<Self, TensorError> {
        const OP: &str = "AliasTable::new";
        check_size(OP, weights.len())?;
        if let Some((i, w)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            return Err(TensorError::invalid(
                OP,
                format!("weight {i} is {w}; weights must be finite and non-negative"),
            ));
        }
        let total: f64 = weights.iter().sum();
        if !total.is_finite() {
            return Err(TensorError::invalid(OP, "the weights' sum overflows"));
        }
        if total <= 0.0 {
            return Err(TensorError::invalid(
                OP,
                format!("all {} weights are zero", weights.len()),
            ));
        }
        let n = weights.len();
        let probs: Vec<f64> = weights.iter().map(|w| w / total).collect();
        // Vose: scale to mean 1, then pair each under-full column with an over-full donor.
        let mut scaled: Vec<f64> = probs.iter().map(|p| p * n as f64).collect();
        let mut columns: Vec<(f32, u32)> = (0..n as u32).map(|i| (1.0, i)).collect();
        let mut small: Vec<u32> = Vec::new();
        let mut large: Vec<u32> = Vec::new();
        for (i, &s) in scaled.iter().enumerate() {
            if s < 1.0 {
                small.push(i as u32);
            } else {
                large.push(i as u32);
            }
        }
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            let (su, lu) = (s as usize, l as usize);
            columns[su] = (scaled[su] as f32, l);
            scaled[lu] -= 1.0 - scaled[su];
            if scaled[lu] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Whatever is left is full up to rounding: those columns keep themselves always
        // (their initial `(1.0, i)` entries).
        Ok(AliasTable { columns, probs })
    }

    /// The unigram noise distribution of word2vec: class `i` weighted `counts[i]^power`
    /// (`power = 0.75` flattens the distribution so rare classes are drawn more often than
    /// their frequency). Classes with count 0 are never drawn.
    ///
    /// Errors: no counts, all counts zero, or a non-finite `power`.
    pub fn unigram(counts: &[u64], power: f64) -> Result<Self, TensorError> {
        if !power.is_finite() {
            return Err(TensorError::invalid(
                "AliasTable::unigram",
                format!("power must be finite, got {power}"),
            ));
        }
        check_size("AliasTable::unigram", counts.len())?;
        if counts.iter().all(|&c| c == 0) {
            return Err(TensorError::invalid(
                "AliasTable::unigram",
                format!("all {} counts are zero", counts.len()),
            ));
        }
        let weights: Vec<f64> = counts
            .iter()
            .map(|&c| if c == 0 { 0.0 } else { (c as f64).powf(power) })
            .collect();
        AliasTable::new(&weights)
    }

    /// Draws one class.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let n = self.columns.len() as u64;
        loop {
            let bits = rng.next_u64();
            // High 32 bits pick the column (Lemire's multiply-shift, rejecting the few
            // values that would bias it); the low 24 bits are the coin.
            let m = (bits >> 32) * n;
            if ((m as u32) as u64) < n {
                let threshold = (1u64 << 32) % n;
                if ((m as u32) as u64) < threshold {
                    continue;
                }
            }
            let column = (m >> 32) as usize;
            let coin = (bits & 0xFF_FFFF) as f32 * (1.0 / (1u32 << 24) as f32);
            let (keep, alias) = self.columns[column];
            return if coin < keep { column } else { alias as usize };
        }
    }

    /// The normalised probability of class `i` (0 for `i` out of range).
    #[inline]
    pub fn prob(&self, i: usize) -> f64 {
        self.probs.get(i).copied().unwrap_or(0.0)
    }

    /// The number of classes.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether the table has no classes (never true for a constructed table).
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
}

/// The log-uniform (Zipfian) distribution over `0..range`:
/// `P(i) = (ln(i + 2) − ln(i + 1)) / ln(range + 1)`, as TensorFlow's
/// `log_uniform_candidate_sampler`. It suits class ids sorted by decreasing frequency.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogUniformSampler {
    range: usize,
    log_range: f64,
}

impl LogUniformSampler {
    /// A sampler over `0..range`. Errors when `range` is 0.
    pub fn new(range: usize) -> Result<Self, TensorError> {
        check_size("LogUniformSampler::new", range)?;
        Ok(LogUniformSampler {
            range,
            log_range: (range as f64).ln_1p(),
        })
    }

    /// Draws one class by inverting the CDF `F(i) = ln(i + 2) / ln(range + 1)`.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.uniform();
        let value = (u * self.log_range).exp().floor() as usize;
        // exp(u·ln(range+1)) < range + 1 exactly; rounding may still reach it.
        value.saturating_sub(1).min(self.range - 1)
    }

    /// The probability of class `i` (0 for `i` out of range).
    #[inline]
    pub fn prob(&self, i: usize) -> f64 {
        if i >= self.range {
            return 0.0;
        }
        // ln(i + 2) − ln(i + 1) = ln(1 + 1/(i + 1)), without cancellation for large i.
        (1.0 / (i as f64 + 1.0)).ln_1p() / self.log_range
    }

    /// The number of classes.
    pub fn len(&self) -> usize {
        self.range
    }

    /// Whether the range is empty (never true for a constructed sampler).
    pub fn is_empty(&self) -> bool {
        self.range == 0
    }
}

/// A binary tree whose `V` leaves are the classes and whose `V − 1` inner nodes carry the
/// hierarchical-softmax weight vectors.
///
/// Inner nodes are numbered `0..V−1` with the root as 0. For each class, [`HuffmanTree::path`]
/// gives the inner nodes from the root down to the leaf and, for each, the branch taken
/// (`0` or `1`). Paths are stored flat (one offset table into two shared vectors) so walking
/// them in a training loop stays cache-friendly.
///
/// With a single class the tree has no inner nodes and the class's path is empty (its
/// probability is 1 with nothing to learn).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HuffmanTree {
    offsets: Vec<usize>,
    nodes: Vec<u32>,
    codes: Vec<u8>,
    max_depth: usize,
}

impl HuffmanTree {
    /// The Huffman tree of `counts` (word2vec's construction): the two lightest subtrees are
    /// merged repeatedly, so frequent classes get short paths and the expected path length,
    /// weighted by the counts, is minimal. Of the two merged subtrees the lighter takes
    /// branch `0`. Ties are broken deterministically (by count, then class index, leaves
    /// before merged subtrees). Zero counts are allowed (those classes get the longest
    /// paths).
    ///
    /// Errors: no counts, or more classes than `u32` can index.
    pub fn from_counts(counts: &[u64]) -> Result<Self, TensorError> {
        check_size("HuffmanTree::from_counts", counts.len())?;
        let v = counts.len();
        // Nodes 0..v are leaves; node v + m is the inner node made by merge m.
        let mut parent = vec![0usize; 2 * v - 1];
        let mut branch = vec![0u8; 2 * v - 1];
        let mut weight: Vec<u128> = counts.iter().map(|&c| c as u128).collect();
        weight.resize(2 * v - 1, 0);
        let mut leaves: Vec<usize> = (0..v).collect();
        leaves.sort_by_key(|&i| (counts[i], i));
        // Two-queue construction: sorted leaves, and merged nodes, which are created in
        // non-decreasing weight order, so the lightest node is at one of the two fronts.
        let (mut next_leaf, mut next_inner) = (0usize, v);
        for m in 0..v - 1 {
            let new_node = v + m;
            let mut pick = || {
                let take_leaf = next_leaf < v
                    && (next_inner >= new_node || weight[leaves[next_leaf]] <= weight[next_inner]);
                if take_leaf {
                    next_leaf += 1;
                    leaves[next_leaf - 1]
                } else {
                    next_inner += 1;
                    next_inner - 1
                }
            };
            let lighter = pick();
            let heavier = pick();
            weight[new_node] = weight[lighter] + weight[heavier];
            parent[lighter] = new_node;
            parent[heavier] = new_node;
            branch[lighter] = 0;
            branch[heavier] = 1;
        }
        // Renumber inner node v + m as (v − 2 − m) so the root (the last merge) is 0.
        let inner_index = |node: usize| (2 * v - 2 - node) as u32;
        Ok(Self::from_parents(v, &parent, &branch, inner_index))
    }

    /// A balanced tree over `num_classes` classes: the class range is halved recursively, so
    /// every path has `floor(log2 V)` or `ceil(log2 V)` nodes. Use it when no class
    /// frequencies are known.
    ///
    /// Errors: zero classes, or more than `u32` can index.
    pub fn balanced(num_classes: usize) -> Result<Self, TensorError> {
        check_size("HuffmanTree::balanced", num_classes)?;
        let v = num_classes;
        // Nodes 0..v are leaves; inner nodes are v + k, numbered k in pre-order (root 0).
        let mut parent = vec![0usize; 2 * v - 1];
        let mut branch = vec![0u8; 2 * v - 1];
        let mut next_inner = 0usize;
        // (lo, hi, parent node, branch): the subtree over classes lo..hi hangs off `parent`
        // (usize::MAX for the root) on `branch`.
        let mut stack = vec![(0, v, usize::MAX, 0u8)];
        while let Some((lo, hi, up, up_branch)) = stack.pop() {
            let node = if hi - lo == 1 {
                lo
            } else {
                let node = v + next_inner;
                next_inner += 1;
                let mid = lo + (hi - lo).div_ceil(2);
                // Push the right half first so the left half is numbered next (pre-order).
                stack.push((mid, hi, node, 1));
                stack.push((lo, mid, node, 0));
                node
            };
            if up != usize::MAX {
                parent[node] = up;
                branch[node] = up_branch;
            }
        }
        Ok(Self::from_parents(v, &parent, &branch, |node| {
            (node - v) as u32
        }))
    }

    /// Flattens root-to-leaf paths from parent links over nodes `0..2v−1` (leaves first);
    /// `inner_index` maps an inner node to its public number, the root's being 0.
    fn from_parents(
        v: usize,
        parent: &[usize],
        branch: &[u8],
        inner_index: impl Fn(usize) -> u32,
    ) -> Self {
        let mut offsets = Vec::with_capacity(v + 1);
        offsets.push(0);
        let mut nodes = Vec::new();
        let mut codes = Vec::new();
        let mut max_depth = 0;
        let mut up_nodes = Vec::new();
        let mut up_codes = Vec::new();
        for leaf in 0..v {
            up_nodes.clear();
            up_codes.clear();
            if v > 1 {
                let mut node = leaf;
                loop {
                    let p = parent[node];
                    up_nodes.push(inner_index(p));
                    up_codes.push(branch[node]);
                    if inner_index(p) == 0 {
                        break;
                    }
                    node = p;
                }
            }
            nodes.extend(up_nodes.iter().rev());
            codes.extend(up_codes.iter().rev());
            max_depth = max_depth.max(up_nodes.len());
            offsets.push(nodes.len());
        }
        HuffmanTree {
            offsets,
            nodes,
            codes,
            max_depth,
        }
    }

    /// The inner nodes from the root to `class`'s leaf, and the branch (0 or 1) taken at
    /// each.
    ///
    /// # Panics
    /// If `class >= num_classes()`; use [`HuffmanTree::try_path`] for unchecked input.
    #[inline]
    pub fn path(&self, class: usize) -> (&[u32], &[u8]) {
        let (start, end) = (self.offsets[class], self.offsets[class + 1]);
        (&self.nodes[start..end], &self.codes[start..end])
    }

    /// [`HuffmanTree::path`], with an error for a class outside `0..num_classes()`.
    pub fn try_path(&self, class: usize) -> Result<(&[u32], &[u8]), TensorError> {
        if class >= self.num_classes() {
            return Err(TensorError::IndexOutOfRange {
                op: "HuffmanTree::path",
                index: class as i64,
                len: self.num_classes(),
            });
        }
        Ok(self.path(class))
    }

    /// The number of classes (leaves).
    pub fn num_classes(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The number of inner nodes (`num_classes() − 1`).
    pub fn num_inner_nodes(&self) -> usize {
        self.num_classes() - 1
    }

    /// The length of the longest path.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_table_single_class_always_draws_it() {
        let t = AliasTable::new(&[3.0]).unwrap();
        let mut rng = Rng::seed(1);
        assert!((0..100).all(|_| t.sample(&mut rng) == 0));
        assert_eq!(t.prob(0), 1.0);
    }

    /// The probability the table actually implements, read from its columns: class i is
    /// drawn when its own column keeps it or another column's coin falls to its alias.
    fn implied_probs(t: &AliasTable) -> Vec<f64> {
        let n = t.columns.len() as f64;
        let mut p = vec![0.0; t.columns.len()];
        for (i, &(keep, alias)) in t.columns.iter().enumerate() {
            p[i] += keep as f64 / n;
            p[alias as usize] += (1.0 - keep as f64) / n;
        }
        p
    }

    #[test]
    fn alias_table_columns_implement_the_distribution() {
        let mut rng = Rng::seed(9);
        let weights: Vec<f64> = (0..1000)
            .map(|i| {
                if i % 7 == 0 {
                    0.0
                } else {
                    rng.uniform() * 10.0
                }
            })
            .collect();
        let total: f64 = weights.iter().sum();
        let t = AliasTable::new(&weights).unwrap();
        for (i, (p, w)) in implied_probs(&t).iter().zip(&weights).enumerate() {
            // f32 thresholds: error ≈ 2^-24 per column touching class i.
            assert!(
                (p - w / total).abs() < 1e-8,
                "class {i}: {p} vs {}",
                w / total
            );
            assert!((t.prob(i) - w / total).abs() < 1e-15);
        }
    }

    #[test]
    fn alias_table_zero_weight_is_never_drawn() {
        let t = AliasTable::new(&[1.0, 0.0, 2.0, 0.0]).unwrap();
        let mut rng = Rng::seed(2);
        for _ in 0..20_000 {
            let s = t.sample(&mut rng);
            assert!(s == 0 || s == 2, "drew {s}");
        }
    }
}
