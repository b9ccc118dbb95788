//! word2vec: skip-gram and CBOW word embeddings trained with negative sampling and/or
//! hierarchical softmax, multi-threaded, as in Mikolov et al. (2013) and word2vec.c.
//!
//! ```
//! use nn::word2vec::Word2Vec;
//!
//! let text = "the king rules the land the queen rules the land ".repeat(50);
//! let emb = Word2Vec::new().dim(16).min_count(1).epochs(2).threads(1).seed(7).train_text(&text)?;
//! assert_eq!(emb.dim(), 16);
//! let near = emb.most_similar("king", 3)?;
//! assert_eq!(near.len(), 3);
//! # Ok::<(), nn::Error>(())
//! ```
//!
//! ## How training runs
//! The corpus ([`nn_data::text::Corpus`]) is cut into one contiguous chunk of sentences per
//! thread; each thread runs all epochs over its chunk with its own [`Rng`] (derived from the
//! seed and the thread index), subsampling frequent words, drawing word2vec's dynamic window
//! per centre word, and updating the shared matrices with plain SGD. The learning rate
//! decays linearly from `alpha` to `min_alpha` over `epochs ×` the corpus's words, driven by
//! a shared word counter that every thread advances every 10,000 words.
//!
//! ## Lock-free updates (Hogwild!) without `unsafe`
//! word2vec.c lets threads read and write the shared weight matrices without locks; an update
//! that races with another may be lost, which SGD on sparse updates tolerates (Recht et al.,
//! *Hogwild!*, 2011). The workspace denies `unsafe_code`, so the matrices here are
//! `Vec<AtomicU64>`, each holding the bits of two adjacent `f32`s, read and written with
//! `Relaxed` loads and stores: on
//! x86-64 and AArch64 these are plain moves, with no lock prefix and no fence. A row is
//! copied into a thread-local `f32` buffer, the dot products and AXPYs run on plain slices
//! (which the compiler vectorises), and the result is stored back. Lost updates happen
//! exactly where they would in word2vec.c, and nothing is undefined behaviour. With one
//! thread the result is deterministic for a seed.
//!
//! ## Sigmoid
//! As word2vec.c and gensim do, σ(x) comes from a precomputed table over `[-6, 6]`
//! (here 1,024 bins, evaluated at each bin's centre); outside that range the gradient is
//! taken as saturated (negative sampling) or the node is skipped (hierarchical softmax),
//! exactly as word2vec.c. The table removes an `exp` from the inner loop; its resolution
//! (0.012 in x) is far below the noise of SGD.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use nn_data::text::{context_range, reduced_window, Corpus, Subsampler, WordVectors};
use nn_tensor::random::Rng;
use nn_tensor::sampling::{AliasTable, HuffmanTree};
use rayon::prelude::*;

use crate::error::{Error, Result};

const MAX_EXP: f32 = 6.0;
const SIGMOID_BINS: usize = 1024;
/// Threads publish their word count (for the learning-rate schedule) this often.
const PROGRESS_EVERY: u64 = 10_000;

/// σ over `[-MAX_EXP, MAX_EXP]`, one value per bin centre.
struct SigmoidTable {
    values: Vec<f32>,
    scale: f32,
}

impl SigmoidTable {
    fn new() -> Self {
        let values = (0..SIGMOID_BINS)
            .map(|i| {
                let x = ((i as f64 + 0.5) / SIGMOID_BINS as f64 * 2.0 - 1.0) * MAX_EXP as f64;
                (1.0 / (1.0 + (-x).exp())) as f32
            })
            .collect();
        SigmoidTable {
            values,
            scale: SIGMOID_BINS as f32 / (2.0 * MAX_EXP),
        }
    }

    /// σ(x) for `-MAX_EXP < x < MAX_EXP`.
    #[inline]
    fn get(&self, x: f32) -> f32 {
        let i = ((x + MAX_EXP) * self.scale) as usize;
        self.values[i.min(SIGMOID_BINS - 1)]
    }
}

/// A matrix shared by all training threads, updated without locks (see the module docs).
///
/// Each `AtomicU64` holds two adjacent `f32` values (low half first): a row moves with half
/// as many loads and stores as with one atomic per value (about 1.25× faster training, measured),
/// and an update lost to a race covers at most a pair of values instead of one. Rows are
/// padded to an even width with a zero that stays zero (its gradient is always zero).
struct SharedMatrix {
    data: Vec<AtomicU64>,
    /// `AtomicU64`s per row.
    stride: usize,
}

#[inline]
fn pack(lo: f32, hi: f32) -> u64 {
    u64::from(lo.to_bits()) | (u64::from(hi.to_bits()) << 32)
}

#[inline]
fn unpack(v: u64) -> (f32, f32) {
    (f32::from_bits(v as u32), f32::from_bits((v >> 32) as u32))
}

impl SharedMatrix {
    /// The padded row width of a `dim`-wide matrix (the length of row buffers).
    fn padded(dim: usize) -> usize {
        dim.div_ceil(2) * 2
    }

    /// A `rows × dim` matrix filled row-major from `value`.
    fn new(rows: usize, dim: usize, mut value: impl FnMut() -> f32) -> Self {
        let stride = dim.div_ceil(2);
        let mut data = Vec::with_capacity(rows * stride);
        for _ in 0..rows {
            for k in 0..stride {
                let lo = value();
                let hi = if 2 * k + 1 < dim { value() } else { 0.0 };
                data.push(AtomicU64::new(pack(lo, hi)));
            }
        }
        SharedMatrix { data, stride }
    }

    #[inline]
    fn row(&self, row: usize) -> &[AtomicU64] {
        &self.data[row * self.stride..(row + 1) * self.stride]
    }

    /// Copies a row into `out` (of the padded width).
    #[inline]
    fn load(&self, row: usize, out: &mut [f32]) {
        for (pair, a) in out.chunks_exact_mut(2).zip(self.row(row)) {
            (pair[0], pair[1]) = unpack(a.load(Ordering::Relaxed));
        }
    }

    /// Overwrites a row with `src` (of the padded width).
    #[inline]
    fn store(&self, row: usize, src: &[f32]) {
        for (pair, a) in src.chunks_exact(2).zip(self.row(row)) {
            a.store(pack(pair[0], pair[1]), Ordering::Relaxed);
        }
    }

    /// Reads one value per cache line of `row`, so that the row's misses are in flight
    /// together before its values are needed (a prefetch without `unsafe`).
    #[inline]
    fn touch(&self, row: usize) -> u64 {
        self.row(row)
            .iter()
            .step_by(8)
            .fold(0, |acc, a| acc ^ a.load(Ordering::Relaxed))
    }

    /// `row += delta`, reading the row's current value (another thread may have written it
    /// since it was last loaded).
    #[inline]
    fn add(&self, row: usize, delta: &[f32]) {
        for (d, a) in delta.chunks_exact(2).zip(self.row(row)) {
            let (lo, hi) = unpack(a.load(Ordering::Relaxed));
            a.store(pack(lo + d[0], hi + d[1]), Ordering::Relaxed);
        }
    }

    /// The values, row-major, without the padding.
    fn into_values(self, dim: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.data.len() * 2);
        for row in self.data.chunks_exact(self.stride.max(1)) {
            for a in row {
                let (lo, hi) = unpack(a.load(Ordering::Relaxed));
                out.push(lo);
                out.push(hi);
            }
            out.truncate(out.len() - (Self::padded(dim) - dim));
        }
        out
    }
}

/// Dot product with 8 independent accumulators, so that the loop vectorises (one 8-lane
/// multiply and add per step).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let split = n - n % 8;
    let mut acc = [0.0f32; 8];
    for (x, y) in a[..split].chunks_exact(8).zip(b[..split].chunks_exact(8)) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in a[split..n].iter().zip(&b[split..n]) {
        s += x * y;
    }
    s
}

/// `y += a·x`.
#[inline]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// Configuration of a word2vec run (defaults as word2vec.c and gensim: skip-gram, 100
/// dimensions, window 5, 5 negatives, `min_count` 5, subsampling 1e-4, learning rate 0.025
/// decaying linearly to 0.0001, 5 epochs, all cores).
#[derive(Clone, Debug)]
pub struct Word2Vec {
    dim: usize,
    window: usize,
    negative: usize,
    min_count: u64,
    sample: f64,
    alpha: f32,
    min_alpha: f32,
    epochs: usize,
    threads: usize,
    sg: bool,
    hs: bool,
    seed: u64,
    verbose: bool,
}

impl Default for Word2Vec {
    fn default() -> Self {
        Self::new()
    }
}

impl Word2Vec {
    /// The default configuration.
    pub fn new() -> Self {
        Word2Vec {
            dim: 100,
            window: 5,
            negative: 5,
            min_count: 5,
            sample: 1e-4,
            alpha: 0.025,
            min_alpha: 0.0001,
            epochs: 5,
            threads: 0,
            sg: true,
            hs: false,
            seed: 1,
            verbose: false,
        }
    }

    /// Vector dimension (default 100).
    pub fn dim(mut self, dim: usize) -> Self {
        self.dim = dim;
        self
    }

    /// Maximum distance between a centre word and a context word (default 5); each centre
    /// word uses a window drawn uniformly from `1..=window`.
    pub fn window(mut self, window: usize) -> Self {
        self.window = window;
        self
    }

    /// Negative samples per positive pair (default 5; 0 disables negative sampling, which
    /// then requires [`Word2Vec::hs`]).
    pub fn negative(mut self, negative: usize) -> Self {
        self.negative = negative;
        self
    }

    /// Words seen fewer times are dropped (default 5). Used by [`Word2Vec::train_text`] and
    /// [`Word2Vec::train_file`]; [`Word2Vec::train`] takes the corpus's vocabulary as is.
    pub fn min_count(mut self, min_count: u64) -> Self {
        self.min_count = min_count;
        self
    }

    /// Frequent-word subsampling threshold `t` (default 1e-4; 0 disables it).
    pub fn sample(mut self, sample: f64) -> Self {
        self.sample = sample;
        self
    }

    /// Initial learning rate (default 0.025).
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }

    /// Final learning rate, reached linearly at the end of the last epoch (default 0.0001).
    pub fn min_alpha(mut self, min_alpha: f32) -> Self {
        self.min_alpha = min_alpha;
        self
    }

    /// Passes over the corpus (default 5).
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Worker threads (default 0: all cores).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Skip-gram (`true`, default) or CBOW with the mean of the context vectors (`false`).
    pub fn sg(mut self, sg: bool) -> Self {
        self.sg = sg;
        self
    }

    /// Hierarchical softmax over a Huffman tree of the word counts (default off). It can be
    /// combined with negative sampling, as in word2vec.c; set [`Word2Vec::negative`] to 0
    /// for hierarchical softmax alone.
    pub fn hs(mut self, hs: bool) -> Self {
        self.hs = hs;
        self
    }

    /// Random seed: initial vectors, subsampling, windows and negative samples. Runs with
    /// one thread are reproducible.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Print progress to stderr (default off).
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::input("Word2Vec", m));
        if self.dim == 0 {
            return bad("dim must be at least 1".into());
        }
        if self.window == 0 {
            return bad("window must be at least 1".into());
        }
        if !self.hs && self.negative == 0 {
            return bad("negative = 0 needs hierarchical softmax (hs(true))".into());
        }
        if self.epochs == 0 {
            return bad("epochs must be at least 1".into());
        }
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return bad(format!("alpha must be positive, got {}", self.alpha));
        }
        if !(self.min_alpha >= 0.0 && self.min_alpha <= self.alpha) {
            return bad(format!(
                "min_alpha must lie in [0, alpha = {}], got {}",
                self.alpha, self.min_alpha
            ));
        }
        Ok(())
    }

    /// Builds the vocabulary of `text` (with `min_count`) and trains on it.
    pub fn train_text(&self, text: &str) -> Result<Embeddings> {
        self.check()?;
        self.train(&Corpus::from_text(text, self.min_count)?)
    }

    /// Builds the vocabulary of a text file (with `min_count`) and trains on it.
    pub fn train_file(&self, path: impl AsRef<Path>) -> Result<Embeddings> {
        self.check()?;
        self.train(&Corpus::from_file(path, self.min_count)?)
    }

    /// Trains on an encoded corpus, using its vocabulary as is.
    pub fn train(&self, corpus: &Corpus) -> Result<Embeddings> {
        self.check()?;
        let vocab = corpus.vocab();
        let (v, dim) = (vocab.len(), self.dim);
        let subsampler = Subsampler::new(vocab, self.sample)?;
        let noise = if self.negative > 0 {
            Some(AliasTable::unigram(vocab.counts(), 0.75)?)
        } else {
            None
        };
        let tree = if self.hs {
            Some(HuffmanTree::from_counts(vocab.counts())?)
        } else {
            None
        };

        // Input vectors uniform in [-1, 1) / dim as gensim 4 (word2vec.c uses half that
        // range; the wider start scored slightly higher on WordSim-353 here), output vectors
        // zero.
        let mut init_rng = Rng::derive(self.seed, 0);
        let syn0 = SharedMatrix::new(v, dim, || {
            ((init_rng.uniform() * 2.0 - 1.0) / dim as f64) as f32
        });
        let syn1neg = SharedMatrix::new(if noise.is_some() { v } else { 0 }, dim, || 0.0);
        let inner = tree.as_ref().map_or(0, HuffmanTree::num_inner_nodes);
        let syn1 = SharedMatrix::new(inner, dim, || 0.0);

        let threads = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let chunks = split_sentences(corpus, threads);
        let job = Job {
            cfg: self,
            corpus,
            subsampler: &subsampler,
            noise: noise.as_ref(),
            tree: tree.as_ref(),
            syn0: &syn0,
            syn1neg: &syn1neg,
            syn1: &syn1,
            sigmoid: SigmoidTable::new(),
            words_done: AtomicU64::new(0),
            total_words: (self.epochs as u64) * corpus.ids().len() as u64,
            start: Instant::now(),
        };
        if chunks.len() <= 1 {
            job.run(0, chunks.first().cloned().unwrap_or(0..0));
        } else {
            std::thread::scope(|s| {
                for (t, range) in chunks.iter().enumerate() {
                    let job = &job;
                    let range = range.clone();
                    s.spawn(move || job.run(t, range));
                }
            });
        }
        if self.verbose {
            eprintln!();
        }
        drop(job);
        Embeddings::from_parts(vocab.words().to_vec(), dim, syn0.into_values(dim))
    }
}

/// Contiguous ranges of sentence indices, one per thread, with about equal word counts.
fn split_sentences(corpus: &Corpus, threads: usize) -> Vec<std::ops::Range<usize>> {
    let ends = corpus.sentence_ends();
    let total = corpus.ids().len();
    let threads = threads.max(1).min(ends.len().max(1));
    let mut ranges = Vec::with_capacity(threads);
    let mut first = 0;
    for t in 1..=threads {
        let target = total * t / threads;
        let mut last = first;
        while last < ends.len() && (ends[last] <= target || t == threads) {
            last += 1;
        }
        if last > first {
            ranges.push(first..last);
        }
        first = last;
    }
    ranges
}

/// Everything the training threads share.
struct Job<'a> {
    cfg: &'a Word2Vec,
    corpus: &'a Corpus,
    subsampler: &'a Subsampler,
    noise: Option<&'a AliasTable>,
    tree: Option<&'a HuffmanTree>,
    syn0: &'a SharedMatrix,
    syn1neg: &'a SharedMatrix,
    syn1: &'a SharedMatrix,
    sigmoid: SigmoidTable,
    words_done: AtomicU64,
    total_words: u64,
    start: Instant,
}

/// One thread's scratch buffers, allocated once.
struct Scratch {
    l1: Vec<f32>,
    neu1e: Vec<f32>,
    row: Vec<f32>,
    sentence: Vec<u32>,
    /// The target word and its negative samples for one prediction.
    targets: Vec<usize>,
}

impl Job<'_> {
    fn alpha(&self) -> f32 {
        let done = self.words_done.load(Ordering::Relaxed) as f64;
        let progress = done / (self.total_words as f64 + 1.0);
        let (a0, a1) = (self.cfg.alpha as f64, self.cfg.min_alpha as f64);
        (a0 - (a0 - a1) * progress).max(a1) as f32
    }

    fn run(&self, thread: usize, sentences: std::ops::Range<usize>) {
        let cfg = self.cfg;
        let dim = SharedMatrix::padded(cfg.dim);
        let mut rng = Rng::derive(cfg.seed, thread as u64 + 1);
        let mut s = Scratch {
            l1: vec![0.0; dim],
            neu1e: vec![0.0; dim],
            row: vec![0.0; dim],
            sentence: Vec::with_capacity(nn_data::text::Corpus::DEFAULT_MAX_SENTENCE_LEN),
            targets: Vec::with_capacity(cfg.negative + 1),
        };
        let ends = self.corpus.sentence_ends();
        let ids = self.corpus.ids();
        let mut alpha = self.alpha();
        let mut pending = 0u64;
        let mut last_report = Instant::now();
        for _epoch in 0..cfg.epochs {
            for i in sentences.clone() {
                let start = if i == 0 { 0 } else { ends[i - 1] };
                let sentence = &ids[start..ends[i]];
                pending += sentence.len() as u64;
                if pending >= PROGRESS_EVERY {
                    self.words_done.fetch_add(pending, Ordering::Relaxed);
                    pending = 0;
                    alpha = self.alpha();
                    if cfg.verbose && thread == 0 && last_report.elapsed().as_secs_f64() > 1.0 {
                        last_report = Instant::now();
                        self.report(alpha);
                    }
                }
                s.sentence.clear();
                self.subsampler
                    .subsample_into(sentence, &mut rng, &mut s.sentence);
                if cfg.sg {
                    self.skipgram_sentence(&mut s, &mut rng, alpha);
                } else {
                    self.cbow_sentence(&mut s, &mut rng, alpha);
                }
            }
        }
        self.words_done.fetch_add(pending, Ordering::Relaxed);
    }

    fn report(&self, alpha: f32) {
        let done = self.words_done.load(Ordering::Relaxed);
        let secs = self.start.elapsed().as_secs_f64();
        let corpus_ratio =
            self.corpus.raw_word_count() as f64 / self.corpus.ids().len().max(1) as f64;
        eprint!(
            "\rword2vec: {:5.1}%  alpha {:.5}  {:.0}k words/s   ",
            100.0 * done as f64 / self.total_words.max(1) as f64,
            alpha,
            done as f64 * corpus_ratio / secs.max(1e-9) / 1000.0
        );
    }

    fn skipgram_sentence(&self, s: &mut Scratch, rng: &mut Rng, alpha: f32) {
        let len = s.sentence.len();
        for pos in 0..len {
            let centre = s.sentence[pos];
            let b = reduced_window(self.cfg.window, rng);
            for c in context_range(len, pos, b) {
                if c == pos {
                    continue;
                }
                // As word2vec.c: the context word's input vector predicts the centre word.
                let context = s.sentence[c] as usize;
                self.syn0.load(context, &mut s.l1);
                s.neu1e.fill(0.0);
                self.output_step(centre, s, rng, alpha);
                self.syn0.add(context, &s.neu1e);
            }
        }
    }

    fn cbow_sentence(&self, s: &mut Scratch, rng: &mut Rng, alpha: f32) {
        let len = s.sentence.len();
        for pos in 0..len {
            let centre = s.sentence[pos];
            let b = reduced_window(self.cfg.window, rng);
            let range = context_range(len, pos, b);
            s.l1.fill(0.0);
            let mut n = 0usize;
            for c in range.clone() {
                if c != pos {
                    self.syn0.load(s.sentence[c] as usize, &mut s.row);
                    axpy(1.0, &s.row, &mut s.l1);
                    n += 1;
                }
            }
            if n == 0 {
                continue;
            }
            let inv = 1.0 / n as f32;
            s.l1.iter_mut().for_each(|x| *x *= inv);
            s.neu1e.fill(0.0);
            self.output_step(centre, s, rng, alpha);
            for c in range {
                if c != pos {
                    self.syn0.add(s.sentence[c] as usize, &s.neu1e);
                }
            }
        }
    }

    /// One prediction of `target` from the hidden vector `s.l1`: updates the output vectors
    /// and accumulates the gradient for `l1` (times the learning rate) into `s.neu1e`.
    #[inline]
    fn output_step(&self, target: u32, s: &mut Scratch, rng: &mut Rng, alpha: f32) {
        let Scratch {
            l1,
            neu1e,
            row,
            targets,
            ..
        } = s;
        if let Some(tree) = self.tree {
            // No prefetch here: the nodes near the root, on every path, stay in cache.
            let (nodes, codes) = tree.path(target as usize);
            for (&node, &code) in nodes.iter().zip(codes) {
                let node = node as usize;
                self.syn1.load(node, row);
                let f = dot(l1, row);
                if f <= -MAX_EXP || f >= MAX_EXP {
                    continue;
                }
                // Branch 0 is the positive label, as word2vec.c's `1 - code`.
                let g = (1.0 - f32::from(code) - self.sigmoid.get(f)) * alpha;
                axpy(g, row, neu1e);
                axpy(g, l1, row);
                self.syn1.store(node, row);
            }
        }
        if let Some(noise) = self.noise {
            // Draw all negatives first so that their rows are fetched from memory together.
            targets.clear();
            targets.push(target as usize);
            for _ in 0..self.cfg.negative {
                let w = noise.sample(rng);
                if w != target as usize {
                    targets.push(w);
                }
            }
            let mut sink = 0;
            for &w in targets.iter() {
                sink ^= self.syn1neg.touch(w);
            }
            std::hint::black_box(sink);
            for (d, &word) in targets.iter().enumerate() {
                let label = if d == 0 { 1.0 } else { 0.0 };
                self.syn1neg.load(word, row);
                let f = dot(l1, row);
                let g = if f > MAX_EXP {
                    (label - 1.0) * alpha
                } else if f < -MAX_EXP {
                    label * alpha
                } else {
                    (label - self.sigmoid.get(f)) * alpha
                };
                axpy(g, row, neu1e);
                axpy(g, l1, row);
                self.syn1neg.store(word, row);
            }
        }
    }
}

/// Trained (or loaded) word vectors with similarity queries and the standard evaluations.
///
/// Words keep the order they were given in (frequency order after training, file order when
/// loaded), which is what "the N most frequent words" refers to.
#[derive(Clone, Debug)]
pub struct Embeddings {
    words: Vec<String>,
    index: HashMap<String, usize>,
    dim: usize,
    vectors: Vec<f32>,
    unit: Vec<f32>,
}

/// WordSim-style evaluation: Spearman correlation between cosine similarities and human
/// scores over the pairs whose two words are in the vocabulary.
#[derive(Clone, Debug, PartialEq)]
pub struct WordPairsScore {
    /// Spearman's rank correlation (ties get average ranks); NaN with fewer than 2 pairs.
    pub spearman: f64,
    /// Pairs used.
    pub pairs_used: usize,
    /// Pairs in the file.
    pub pairs_total: usize,
}

/// Analogy evaluation (`a : b :: c : ?`, 3CosAdd).
#[derive(Clone, Debug, PartialEq)]
pub struct AnalogyScore {
    /// Questions answered correctly.
    pub correct: usize,
    /// Questions whose four words are in the restricted vocabulary (the ones evaluated).
    pub evaluated: usize,
    /// Questions in the file.
    pub total: usize,
}

impl AnalogyScore {
    /// `correct / evaluated` (NaN when nothing was evaluated).
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.evaluated as f64
    }
}

impl Embeddings {
    /// Embeddings for `words` from row-major `vectors` (`words.len() × dim`).
    pub fn from_parts(words: Vec<String>, dim: usize, vectors: Vec<f32>) -> Result<Self> {
        let wv = WordVectors::new(words, dim, vectors)?;
        Ok(Self::from(wv))
    }

    /// Loads vectors in the word2vec text format.
    pub fn load_word2vec_text(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::from(nn_data::text::read_word2vec_text(path)?))
    }

    /// Saves the vectors in the word2vec text format (atomically: a temporary file renamed
    /// over `path`).
    pub fn save_word2vec_text(&self, path: impl AsRef<Path>) -> Result<()> {
        nn_data::text::write_word2vec_text(path, &self.words, self.dim, &self.vectors)?;
        Ok(())
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The words, in order.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The index of `word`.
    pub fn index_of(&self, word: &str) -> Option<usize> {
        self.index.get(word).copied()
    }

    /// The raw vector of `word`.
    pub fn vector(&self, word: &str) -> Option<&[f32]> {
        let i = self.index_of(word)?;
        Some(&self.vectors[i * self.dim..(i + 1) * self.dim])
    }

    fn unit_row(&self, i: usize) -> &[f32] {
        &self.unit[i * self.dim..(i + 1) * self.dim]
    }

    fn lookup(&self, word: &str) -> Result<usize> {
        self.index_of(word).ok_or_else(|| Error::UnknownWord {
            word: word.to_owned(),
        })
    }

    /// Cosine similarity of two words.
    pub fn similarity(&self, a: &str, b: &str) -> Result<f32> {
        let (a, b) = (self.lookup(a)?, self.lookup(b)?);
        Ok(dot(self.unit_row(a), self.unit_row(b)))
    }

    /// The `n` words most similar to `word` (cosine), most similar first, `word` excluded.
    pub fn most_similar(&self, word: &str, n: usize) -> Result<Vec<(String, f32)>> {
        let i = self.lookup(word)?;
        let query = self.unit_row(i).to_vec();
        Ok(self.nearest(&query, self.len(), &[i], n))
    }

    /// The `n` best words among the first `limit` by cosine with `query` (a unit vector),
    /// skipping `exclude`.
    fn nearest(
        &self,
        query: &[f32],
        limit: usize,
        exclude: &[usize],
        n: usize,
    ) -> Vec<(String, f32)> {
        let mut scored: Vec<(usize, f32)> = (0..limit.min(self.len()))
            .filter(|j| !exclude.contains(j))
            .map(|j| (j, dot(query, self.unit_row(j))))
            .collect();
        let n = n.min(scored.len());
        if n == 0 {
            return Vec::new();
        }
        let by_score = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        scored.select_nth_unstable_by(n - 1, by_score);
        scored.truncate(n);
        scored.sort_by(by_score);
        scored
            .into_iter()
            .map(|(j, s)| (self.words[j].clone(), s))
            .collect()
    }

    /// The answer to `a : b :: c : ?` by 3CosAdd (the word maximising
    /// `cos(x, b) − cos(x, a) + cos(x, c)`), searched over the whole vocabulary, the three
    /// question words excluded.
    pub fn analogy(&self, a: &str, b: &str, c: &str) -> Result<String> {
        self.analogy_within(a, b, c, self.len())
    }

    /// [`Embeddings::analogy`] restricted to the first `limit` words (the most frequent after
    /// training).
    pub fn analogy_within(&self, a: &str, b: &str, c: &str, limit: usize) -> Result<String> {
        let ids = [self.lookup(a)?, self.lookup(b)?, self.lookup(c)?];
        let query = self.analogy_query(ids);
        self.nearest(&query, limit, &ids, 1)
            .into_iter()
            .next()
            .map(|(w, _)| w)
            .ok_or_else(|| {
                Error::input(
                    "analogy",
                    format!("no candidate word among the first {limit} besides the question"),
                )
            })
    }

    fn analogy_query(&self, [a, b, c]: [usize; 3]) -> Vec<f32> {
        let mut q: Vec<f32> = self.unit_row(b).to_vec();
        axpy(-1.0, self.unit_row(a), &mut q);
        axpy(1.0, self.unit_row(c), &mut q);
        q
    }

    /// Spearman correlation with human similarity judgements from a file of
    /// `word1 <tab> word2 <tab> score` lines (`#` starts a comment line), as WordSim-353.
    /// Words are lower-cased before lookup; pairs with a word outside the vocabulary are
    /// skipped and counted.
    pub fn evaluate_word_pairs(&self, path: impl AsRef<Path>) -> Result<WordPairsScore> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut model = Vec::new();
        let mut human = Vec::new();
        let mut total = 0;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
            let score = match fields.as_slice() {
                [_, _, s] => s.parse::<f64>().ok(),
                _ => None,
            };
            let Some(score) = score else {
                return Err(Error::TextFile {
                    path: path.to_path_buf(),
                    line: n + 1,
                    message: "expected `word1<TAB>word2<TAB>score`".into(),
                });
            };
            total += 1;
            let (a, b) = (fields[0].to_lowercase(), fields[1].to_lowercase());
            if let (Some(i), Some(j)) = (self.index_of(&a), self.index_of(&b)) {
                model.push(f64::from(dot(self.unit_row(i), self.unit_row(j))));
                human.push(score);
            }
        }
        Ok(WordPairsScore {
            spearman: spearman(&model, &human),
            pairs_used: model.len(),
            pairs_total: total,
        })
    }

    /// Analogy accuracy on a file in the `questions-words.txt` format (`: section` lines,
    /// then `a b c d` per line). Words are lower-cased; only questions whose four words are
    /// among the first `restrict` words are evaluated (as gensim's
    /// `evaluate_word_analogies(restrict_vocab=…, case_insensitive=True)`), and the answer
    /// is searched among those words too.
    pub fn evaluate_analogies(
        &self,
        path: impl AsRef<Path>,
        restrict: usize,
    ) -> Result<AnalogyScore> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let limit = restrict.min(self.len());
        let mut questions: Vec<[usize; 4]> = Vec::new();
        let mut total = 0;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with(':') {
                continue;
            }
            let words: Vec<String> = line.split_whitespace().map(str::to_lowercase).collect();
            if words.len() != 4 {
                return Err(Error::TextFile {
                    path: path.to_path_buf(),
                    line: n + 1,
                    message: format!("expected four words, found {}", words.len()),
                });
            }
            total += 1;
            let ids: Vec<usize> = words
                .iter()
                .filter_map(|w| self.index_of(w).filter(|&i| i < limit))
                .collect();
            if let [a, b, c, d] = ids[..] {
                questions.push([a, b, c, d]);
            }
        }
        let correct = questions
            .par_iter()
            .filter(|&&[a, b, c, d]| {
                let query = self.analogy_query([a, b, c]);
                let best = self.nearest(&query, limit, &[a, b, c], 1);
                best.first()
                    .is_some_and(|(w, _)| self.index_of(w) == Some(d))
            })
            .count();
        Ok(AnalogyScore {
            correct,
            evaluated: questions.len(),
            total,
        })
    }
}

impl From<WordVectors> for Embeddings {
    fn from(wv: WordVectors) -> Self {
        let (words, dim, vectors) = wv.into_parts();
        let index = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i))
            .collect();
        let mut unit = vectors.clone();
        for row in unit.chunks_exact_mut(dim) {
            let norm = dot(row, row).sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|x| *x /= norm);
            }
        }
        Embeddings {
            words,
            index,
            dim,
            vectors,
            unit,
        }
    }
}

/// Average ranks (1-based), ties sharing the mean of their positions.
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation: Pearson's correlation of the average ranks (as
/// `scipy.stats.spearmanr`). NaN for fewer than two values or a constant input.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return f64::NAN;
    }
    let (rx, ry) = (ranks(&x[..n]), ranks(&y[..n]));
    let mean = (n as f64 + 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        let (da, db) = (a - mean, b - mean);
        sxy += da * db;
        sxx += da * da;
        syy += db * db;
    }
    sxy / (sxx * syy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two topics that never share a sentence: words co-occur only within their topic.
    fn two_topic_text() -> String {
        let mut rng = Rng::seed(42);
        let topics = [
            ["cat", "dog", "pet", "fur", "paw", "bark"],
            ["car", "road", "wheel", "engine", "fuel", "drive"],
        ];
        let mut text = String::new();
        for i in 0..600 {
            let topic = &topics[i % 2];
            for _ in 0..12 {
                text.push_str(topic[rng.below(6) as usize]);
                text.push(' ');
            }
            text.push('\n');
        }
        text
    }

    fn within_minus_across(emb: &Embeddings) -> f32 {
        let within =
            emb.similarity("cat", "dog").unwrap() + emb.similarity("car", "wheel").unwrap();
        let across =
            emb.similarity("cat", "car").unwrap() + emb.similarity("dog", "wheel").unwrap();
        (within - across) / 2.0
    }

    fn config() -> Word2Vec {
        Word2Vec::new()
            .dim(20)
            .window(3)
            .min_count(1)
            .sample(0.0)
            .epochs(5)
            .threads(1)
            .seed(3)
    }

    #[test]
    fn word2vec_negative_sampling_separates_topics() {
        let emb = config().train_text(&two_topic_text()).unwrap();
        let gap = within_minus_across(&emb);
        assert!(gap > 0.3, "within - across similarity {gap}");
        let near: Vec<String> = emb
            .most_similar("cat", 3)
            .unwrap()
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert!(
            near.iter()
                .all(|w| ["dog", "pet", "fur", "paw", "bark"].contains(&w.as_str())),
            "{near:?}"
        );
    }

    #[test]
    fn word2vec_hierarchical_softmax_separates_topics() {
        let emb = config()
            .hs(true)
            .negative(0)
            .train_text(&two_topic_text())
            .unwrap();
        let gap = within_minus_across(&emb);
        assert!(gap > 0.3, "within - across similarity {gap}");
    }

    #[test]
    fn word2vec_cbow_separates_topics() {
        let emb = config()
            .sg(false)
            .epochs(10)
            .train_text(&two_topic_text())
            .unwrap();
        let gap = within_minus_across(&emb);
        assert!(gap > 0.3, "within - across similarity {gap}");
    }

    #[test]
    fn word2vec_multithreaded_separates_topics() {
        let emb = config().threads(2).train_text(&two_topic_text()).unwrap();
        assert!(within_minus_across(&emb) > 0.3);
    }

    #[test]
    fn word2vec_one_thread_is_deterministic() {
        let text = two_topic_text();
        let a = config().hs(true).train_text(&text).unwrap();
        let b = config().hs(true).train_text(&text).unwrap();
        assert_eq!(a.vectors, b.vectors);
        let c = config().hs(true).seed(4).train_text(&text).unwrap();
        assert_ne!(a.vectors, c.vectors);
    }

    #[test]
    fn word2vec_rejects_bad_config_and_corpus() {
        assert!(matches!(
            config().train_text("  "),
            Err(Error::Data(nn_data::DataError::EmptyCorpus { .. }))
        ));
        assert!(matches!(
            config().min_count(5).train_text("a b c"),
            Err(Error::Data(nn_data::DataError::EmptyVocabulary { .. }))
        ));
        assert!(config().negative(0).train_text("a b").is_err());
        assert!(config().dim(0).train_text("a b").is_err());
        assert!(config().min_alpha(1.0).train_text("a b").is_err());
        let emb = config().train_text("a b a b").unwrap();
        assert!(matches!(
            emb.similarity("a", "zz"),
            Err(Error::UnknownWord { .. })
        ));
    }

    #[test]
    fn evaluations_on_small_files() {
        let dir = std::env::temp_dir().join(format!("nn-w2v-eval-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let words = ["man", "woman", "king", "queen", "apple"]
            .map(String::from)
            .to_vec();
        let v = vec![
            1.0, 0.0, 0.1, //
            1.0, 1.0, 0.1, //
            0.1, 0.0, 1.0, //
            0.1, 1.0, 1.0, //
            -1.0, -1.0, 0.0,
        ];
        let emb = Embeddings::from_parts(words, 3, v).unwrap();
        let pairs = dir.join("pairs.tsv");
        // Model cosines: man-woman 1.01 / sqrt(1.01 · 2.01) = 0.709, man-apple
        // -1 / sqrt(1.01 · 2) = -0.704, woman-queen 1.2 / 2.01 = 0.597. The pair with `zebra`
        // is skipped; `Man` is case-folded.
        std::fs::write(
            &pairs,
            "# header\nMan\twoman\t8\nman\tapple\t1\nzebra\tman\t3\nwoman\tqueen\t9\n",
        )
        .unwrap();
        let score = emb.evaluate_word_pairs(&pairs).unwrap();
        assert_eq!((score.pairs_used, score.pairs_total), (3, 4));
        // model ranks [3, 1, 2] vs human ranks [2, 1, 3]: rho = 1 - 6 · 2 / (3 · 8) = 0.5
        assert!((score.spearman - 0.5).abs() < 1e-12, "{score:?}");

        let questions = dir.join("questions.txt");
        std::fs::write(
            &questions,
            ": family\nMAN WOMAN KING QUEEN\nman woman king apple\nman woman zebra queen\n",
        )
        .unwrap();
        let ana = emb.evaluate_analogies(&questions, 30_000).unwrap();
        assert_eq!((ana.correct, ana.evaluated, ana.total), (1, 2, 3));
        assert_eq!(ana.accuracy(), 0.5);
        // Restricted to the 4 most frequent words, the question answered `apple` is skipped.
        let ana = emb.evaluate_analogies(&questions, 4).unwrap();
        assert_eq!((ana.correct, ana.evaluated), (1, 1));

        std::fs::write(&questions, "a b c\n").unwrap();
        let err = emb.evaluate_analogies(&questions, 10).unwrap_err();
        assert!(err
            .to_string()
            .ends_with("questions.txt:1: expected four words, found 3"));
        std::fs::write(&pairs, "man\twoman\n").unwrap();
        let err = emb.evaluate_word_pairs(&pairs).unwrap_err();
        assert!(matches!(err, Error::TextFile { line: 1, .. }), "{err}");
    }

    #[test]
    fn sigmoid_table_is_close_to_exact() {
        let t = SigmoidTable::new();
        for i in -599..600 {
            let x = i as f32 / 100.0;
            let exact = 1.0 / (1.0 + (-x).exp());
            assert!((t.get(x) - exact).abs() < 0.004, "x = {x}");
        }
    }

    #[test]
    fn split_sentences_covers_corpus_contiguously() {
        let corpus = Corpus::from_text(&"a b c\n".repeat(10), 1).unwrap();
        let r = split_sentences(&corpus, 3);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].start, 0);
        assert_eq!(r[2].end, 10);
        assert!(r.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(split_sentences(&corpus, 1), vec![0..10]);
        assert_eq!(split_sentences(&corpus, 50).len(), 10);
    }

    #[test]
    fn spearman_hand_computed() {
        // y ranks with a tie: [1, 2, 3.5, 5, 3.5]; x ranks 1..5.
        // dx = [-2, -1, 0, 1, 2], dy = [-2, -1, 0.5, 2, 0.5]
        // Σ dx·dy = 4 + 1 + 0 + 2 + 1 = 8; Σ dx² = 10; Σ dy² = 9.5; rho = 8 / sqrt(95)
        let rho = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0]);
        assert!((rho - 0.820_782_681_668_123_2).abs() < 1e-12, "{rho}");
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert!(spearman(&[1.0], &[1.0]).is_nan());
    }

    #[test]
    fn analogy_and_most_similar_on_hand_made_vectors() {
        // man (1,0,0), woman (1,1,0), king (0,0,1)-ish, queen (0,1,1): queen = king - man + woman
        let words = ["man", "woman", "king", "queen", "apple"]
            .map(String::from)
            .to_vec();
        let v = vec![
            1.0, 0.0, 0.1, //
            1.0, 1.0, 0.1, //
            0.1, 0.0, 1.0, //
            0.1, 1.0, 1.0, //
            -1.0, -1.0, 0.0,
        ];
        let emb = Embeddings::from_parts(words, 3, v).unwrap();
        assert_eq!(emb.analogy("man", "woman", "king").unwrap(), "queen");
        // Restricted to the first 3 words, every other candidate is a question word.
        assert!(emb.analogy_within("man", "woman", "king", 3).is_err());
        // cos(queen, king) = 1.01 / sqrt(2.01 · 1.01) = 0.709 > cos(queen, woman) = 1.2 / 2.01
        let near = emb.most_similar("queen", 2).unwrap();
        assert_eq!(near[0].0, "king");
        assert_eq!(near[1].0, "woman");
        assert_eq!(near.len(), 2);
        // cos(man, woman) = (1 + 0.01) / (sqrt(1.01) sqrt(2.01))
        let expected = 1.01 / (1.01f32.sqrt() * 2.01f32.sqrt());
        assert!((emb.similarity("man", "woman").unwrap() - expected).abs() < 1e-6);
    }
}
