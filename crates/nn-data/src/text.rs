//! Text for word-level models: a whitespace tokenizer (streaming over files or over a
//! `&str`), a [`Vocabulary`] with `min_count` and frequency ordering, an encoded [`Corpus`]
//! split into sentences, frequent-word [`Subsampler`] (word2vec's formula), skip-gram pairs
//! and CBOW examples with word2vec's dynamic window, and the word2vec text format for word
//! vectors ([`read_word2vec_text`], [`write_word2vec_text`]).
//!
//! Tokens are maximal runs of non-whitespace bytes; ASCII whitespace (space, tab, line feed,
//! carriage return, form feed) separates them, as in word2vec.c. No case folding or
//! punctuation handling is done: prepare the text beforehand.
//!
//! ```
//! use nn_data::text::{Corpus, Subsampler};
//! use nn_tensor::random::Rng;
//!
//! let corpus = Corpus::from_text("the cat sat on the mat\nthe dog sat", 2)?;
//! assert_eq!(corpus.vocab().words(), ["the", "sat"]);
//! assert_eq!(corpus.sentences().count(), 2);
//! let sub = Subsampler::new(corpus.vocab(), 1e-4)?;
//! let mut kept = Vec::new();
//! sub.subsample_into(corpus.ids(), &mut Rng::seed(1), &mut kept);
//! assert!(kept.len() <= corpus.ids().len());
//! # Ok::<(), nn_data::DataError>(())
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, ErrorKind, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use nn_tensor::random::Rng;

use crate::error::{DataError, Result};

/// The name used in errors for text that did not come from a file.
const STRING_SOURCE: &str = "<string>";

/// One event of the streaming tokenizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token<'a> {
    /// A word (a maximal run of non-whitespace bytes).
    Word(&'a str),
    /// A line feed: the end of a line, a natural sentence boundary.
    LineEnd,
}

#[inline]
fn is_separator(b: u8) -> bool {
    b.is_ascii_whitespace()
}

/// The words of `text`, split on ASCII whitespace (the same rule as [`for_each_token`]).
pub fn tokenize(text: &str) -> impl Iterator<Item = &str> {
    text.split_ascii_whitespace()
}

/// Streams the tokens of `reader` to `on_token` without holding the text in memory: words
/// and line ends in order. `source` names the input in errors (a word that is not valid
/// UTF-8 is reported with its byte offset).
pub fn for_each_token<R: Read>(
    mut reader: R,
    source: &Path,
    mut on_token: impl FnMut(Token<'_>),
) -> Result<()> {
    let mut buf = vec![0u8; 1 << 16];
    // A word cut by the end of a chunk is carried over to the next one.
    let mut carry: Vec<u8> = Vec::new();
    let mut carry_offset = 0u64;
    let mut chunk_offset = 0u64;
    let emit = |bytes: &[u8], offset: u64, on_token: &mut dyn FnMut(Token<'_>)| {
        let word = std::str::from_utf8(bytes).map_err(|_| DataError::Utf8 {
            path: source.to_path_buf(),
            offset,
        })?;
        on_token(Token::Word(word));
        Ok::<(), DataError>(())
    };
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(DataError::io(source, e)),
        };
        let chunk = &buf[..n];
        let mut start = 0;
        for (i, &b) in chunk.iter().enumerate() {
            if !is_separator(b) {
                continue;
            }
            if !carry.is_empty() {
                carry.extend_from_slice(&chunk[start..i]);
                emit(&carry, carry_offset, &mut on_token)?;
                carry.clear();
            } else if i > start {
                emit(&chunk[start..i], chunk_offset + start as u64, &mut on_token)?;
            }
            if b == b'\n' {
                on_token(Token::LineEnd);
            }
            start = i + 1;
        }
        if start < n {
            if carry.is_empty() {
                carry_offset = chunk_offset + start as u64;
            }
            carry.extend_from_slice(&chunk[start..n]);
        }
        chunk_offset += n as u64;
    }
    if !carry.is_empty() {
        emit(&carry, carry_offset, &mut on_token)?;
    }
    Ok(())
}

/// Streams the tokens of the file at `path` (see [`for_each_token`]).
pub fn for_each_token_in_file(
    path: impl AsRef<Path>,
    on_token: impl FnMut(Token<'_>),
) -> Result<()> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    for_each_token(file, path, on_token)
}

/// Counts words, allocating a `String` only for the first occurrence of each word.
#[derive(Default)]
struct WordCounter {
    counts: HashMap<String, u64>,
    total: u64,
}

impl WordCounter {
    fn add(&mut self, word: &str) {
        self.total += 1;
        if let Some(c) = self.counts.get_mut(word) {
            *c += 1;
        } else {
            self.counts.insert(word.to_owned(), 1);
        }
    }
}

/// The words kept for a model, with their ids and corpus counts.
///
/// Words occurring fewer than `min_count` times are dropped; the rest are ordered by
/// descending count, ties broken by byte-wise ascending word, so the same corpus always
/// gives the same ids. Id 0 is the most frequent word.
#[derive(Clone, Debug)]
pub struct Vocabulary {
    words: Vec<String>,
    counts: Vec<u64>,
    index: HashMap<String, u32>,
    min_count: u64,
    corpus_words: u64,
}

impl Vocabulary {
    /// A vocabulary from word counts. `source` names the corpus in errors.
    ///
    /// Errors: [`DataError::EmptyCorpus`] when the counts sum to zero,
    /// [`DataError::EmptyVocabulary`] when no word reaches `min_count`.
    pub fn from_word_counts(
        counts: HashMap<String, u64>,
        min_count: u64,
        source: &str,
    ) -> Result<Self> {
        let corpus_words: u64 = counts.values().sum();
        if corpus_words == 0 {
            return Err(DataError::EmptyCorpus {
                source_name: source.to_owned(),
            });
        }
        let distinct = counts.values().filter(|&&c| c > 0).count();
        let max_count = counts.values().copied().max().unwrap_or(0);
        let mut kept: Vec<(String, u64)> = counts
            .into_iter()
            .filter(|&(_, c)| c > 0 && c >= min_count)
            .collect();
        if kept.is_empty() {
            return Err(DataError::EmptyVocabulary {
                min_count,
                distinct,
                max_count,
            });
        }
        if u32::try_from(kept.len()).is_err() {
            return Err(DataError::invalid(format!(
                "vocabulary of {} words exceeds the u32 id range",
                kept.len()
            )));
        }
        kept.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut words = Vec::with_capacity(kept.len());
        let mut word_counts = Vec::with_capacity(kept.len());
        let mut index = HashMap::with_capacity(kept.len());
        for (id, (word, count)) in kept.into_iter().enumerate() {
            index.insert(word.clone(), id as u32);
            words.push(word);
            word_counts.push(count);
        }
        Ok(Vocabulary {
            words,
            counts: word_counts,
            index,
            min_count,
            corpus_words,
        })
    }

    /// A vocabulary from a sequence of tokens.
    pub fn from_tokens<S: AsRef<str>>(
        tokens: impl IntoIterator<Item = S>,
        min_count: u64,
    ) -> Result<Self> {
        let mut counter = WordCounter::default();
        for t in tokens {
            counter.add(t.as_ref());
        }
        Self::from_word_counts(counter.counts, min_count, STRING_SOURCE)
    }

    /// A vocabulary from whitespace-separated text.
    pub fn from_text(text: &str, min_count: u64) -> Result<Self> {
        Self::from_tokens(tokenize(text), min_count)
    }

    /// A vocabulary from a text file, streamed.
    pub fn from_file(path: impl AsRef<Path>, min_count: u64) -> Result<Self> {
        let path = path.as_ref();
        let mut counter = WordCounter::default();
        for_each_token_in_file(path, |t| {
            if let Token::Word(w) = t {
                counter.add(w);
            }
        })?;
        Self::from_word_counts(counter.counts, min_count, &path.display().to_string())
    }

    /// Number of words kept.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether no word was kept (never true for a constructed vocabulary).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The id of `word`, if kept.
    pub fn id(&self, word: &str) -> Option<u32> {
        self.index.get(word).copied()
    }

    /// The word with id `id`.
    pub fn word(&self, id: u32) -> Option<&str> {
        self.words.get(id as usize).map(String::as_str)
    }

    /// The corpus count of the word with id `id`.
    pub fn count(&self, id: u32) -> Option<u64> {
        self.counts.get(id as usize).copied()
    }

    /// The kept words, by id.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The counts of the kept words, by id (non-increasing).
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The number of corpus tokens that are kept words (the sum of [`Vocabulary::counts`]).
    pub fn total_count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The number of tokens in the corpus, including words dropped by `min_count`.
    pub fn corpus_words(&self) -> u64 {
        self.corpus_words
    }

    /// The `min_count` the vocabulary was built with.
    pub fn min_count(&self) -> u64 {
        self.min_count
    }

    /// The ids of the kept words among `tokens`, in order; other words are skipped.
    pub fn encode<S: AsRef<str>>(&self, tokens: impl IntoIterator<Item = S>) -> Vec<u32> {
        tokens
            .into_iter()
            .filter_map(|t| self.id(t.as_ref()))
            .collect()
    }
}

/// A corpus encoded as word ids (words outside the vocabulary removed) and split into
/// sentences: at line ends, and every `max_sentence_len` kept words (word2vec.c cuts at
/// 1,000), so that context windows never cross a line.
#[derive(Clone, Debug)]
pub struct Corpus {
    vocab: Vocabulary,
    ids: Vec<u32>,
    sentence_ends: Vec<usize>,
    raw_words: u64,
}

/// Builds the sentences of a [`Corpus`] token by token.
struct SentenceBuilder<'v> {
    vocab: &'v Vocabulary,
    max_len: usize,
    ids: Vec<u32>,
    ends: Vec<usize>,
    current_len: usize,
    raw_words: u64,
}

impl<'v> SentenceBuilder<'v> {
    fn new(vocab: &'v Vocabulary, max_len: usize) -> Result<Self> {
        if max_len == 0 {
            return Err(DataError::invalid("max_sentence_len must be at least 1"));
        }
        Ok(SentenceBuilder {
            vocab,
            max_len,
            ids: Vec::new(),
            ends: Vec::new(),
            current_len: 0,
            raw_words: 0,
        })
    }

    fn end_sentence(&mut self) {
        if self.current_len > 0 {
            self.ends.push(self.ids.len());
            self.current_len = 0;
        }
    }

    fn push(&mut self, token: Token<'_>) {
        match token {
            Token::Word(w) => {
                self.raw_words += 1;
                if let Some(id) = self.vocab.id(w) {
                    self.ids.push(id);
                    self.current_len += 1;
                    if self.current_len == self.max_len {
                        self.end_sentence();
                    }
                }
            }
            Token::LineEnd => self.end_sentence(),
        }
    }

    fn finish(mut self) -> (Vec<u32>, Vec<usize>, u64) {
        self.end_sentence();
        (self.ids, self.ends, self.raw_words)
    }
}

impl Corpus {
    /// word2vec.c's maximum sentence length.
    pub const DEFAULT_MAX_SENTENCE_LEN: usize = 1000;

    /// Reads a text file twice (streamed): once to build the vocabulary with `min_count`,
    /// once to encode it, with sentences of at most
    /// [`Corpus::DEFAULT_MAX_SENTENCE_LEN`] words.
    pub fn from_file(path: impl AsRef<Path>, min_count: u64) -> Result<Self> {
        let path = path.as_ref();
        let vocab = Vocabulary::from_file(path, min_count)?;
        Self::encode_file(vocab, path, Self::DEFAULT_MAX_SENTENCE_LEN)
    }

    /// Builds the vocabulary of `text` with `min_count` and encodes it.
    pub fn from_text(text: &str, min_count: u64) -> Result<Self> {
        let vocab = Vocabulary::from_text(text, min_count)?;
        Self::encode_text(vocab, text, Self::DEFAULT_MAX_SENTENCE_LEN)
    }

    /// Encodes a text file (streamed) with a given vocabulary.
    pub fn encode_file(
        vocab: Vocabulary,
        path: impl AsRef<Path>,
        max_sentence_len: usize,
    ) -> Result<Self> {
        let mut builder = SentenceBuilder::new(&vocab, max_sentence_len)?;
        for_each_token_in_file(path, |t| builder.push(t))?;
        let (ids, sentence_ends, raw_words) = builder.finish();
        Ok(Corpus {
            vocab,
            ids,
            sentence_ends,
            raw_words,
        })
    }

    /// Encodes whitespace-separated text with a given vocabulary.
    pub fn encode_text(vocab: Vocabulary, text: &str, max_sentence_len: usize) -> Result<Self> {
        let mut builder = SentenceBuilder::new(&vocab, max_sentence_len)?;
        for line in text.split('\n') {
            for w in tokenize(line) {
                builder.push(Token::Word(w));
            }
            builder.push(Token::LineEnd);
        }
        let (ids, sentence_ends, raw_words) = builder.finish();
        Ok(Corpus {
            vocab,
            ids,
            sentence_ends,
            raw_words,
        })
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocabulary {
        &self.vocab
    }

    /// All kept word ids, sentences concatenated.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// The end offset (exclusive, into [`Corpus::ids`]) of each sentence, increasing.
    pub fn sentence_ends(&self) -> &[usize] {
        &self.sentence_ends
    }

    /// The sentences, in order (none is empty).
    pub fn sentences(&self) -> impl Iterator<Item = &[u32]> + '_ {
        let starts = std::iter::once(0).chain(self.sentence_ends.iter().copied());
        starts
            .zip(self.sentence_ends.iter().copied())
            .map(move |(s, e)| &self.ids[s..e])
    }

    /// Number of sentences.
    pub fn num_sentences(&self) -> usize {
        self.sentence_ends.len()
    }

    /// The number of tokens read, including words outside the vocabulary: the "corpus
    /// words" of words-per-second figures (word2vec.c and gensim count the same way).
    pub fn raw_word_count(&self) -> u64 {
        self.raw_words
    }

    /// Consumes the corpus, returning its vocabulary.
    pub fn into_vocab(self) -> Vocabulary {
        self.vocab
    }
}

/// The probability that word2vec keeps an occurrence of a word seen `count` times among
/// `total` corpus words, with threshold `t`: `(sqrt(count / (t·total)) + 1) · t·total / count`,
/// capped at 1. `t = 0`, `count = 0` or `total = 0` keep everything.
pub fn keep_probability(count: u64, total: u64, t: f64) -> f64 {
    if t <= 0.0 || count == 0 || total == 0 {
        return 1.0;
    }
    let threshold = t * total as f64;
    let f = count as f64;
    (((f / threshold).sqrt() + 1.0) * threshold / f).min(1.0)
}

/// Frequent-word subsampling (Mikolov et al. 2013, as implemented in word2vec.c): each
/// occurrence of word `w` is kept with [`keep_probability`]`(count(w), total, t)`, where
/// `total` is [`Vocabulary::total_count`].
#[derive(Clone, Debug)]
pub struct Subsampler {
    probabilities: Vec<f64>,
    // keep iff a uniform u32 is below this (2^32 = always): one comparison per word.
    thresholds: Vec<u64>,
}

impl Subsampler {
    /// word2vec's default threshold.
    pub const DEFAULT_T: f64 = 1e-4;

    /// A subsampler for `vocab` with threshold `t` (0 disables subsampling).
    pub fn new(vocab: &Vocabulary, t: f64) -> Result<Self> {
        if !(t >= 0.0 && t.is_finite()) {
            return Err(DataError::invalid(format!(
                "subsampling threshold must be finite and >= 0, got {t}"
            )));
        }
        let total = vocab.total_count();
        let probabilities: Vec<f64> = vocab
            .counts()
            .iter()
            .map(|&c| keep_probability(c, total, t))
            .collect();
        let thresholds = probabilities
            .iter()
            .map(|&p| (p * 4_294_967_296.0) as u64)
            .collect();
        Ok(Subsampler {
            probabilities,
            thresholds,
        })
    }

    /// The probability of keeping an occurrence of word `id` (0 for an unknown id).
    pub fn keep_probability(&self, id: u32) -> f64 {
        self.probabilities.get(id as usize).copied().unwrap_or(0.0)
    }

    /// Draws whether to keep one occurrence of word `id` (an unknown id is dropped).
    #[inline]
    pub fn keep(&self, id: u32, rng: &mut Rng) -> bool {
        match self.thresholds.get(id as usize) {
            Some(&th) => u64::from(rng.next_u32()) < th,
            None => false,
        }
    }

    /// Appends the kept words of `sentence` to `out`, in order.
    pub fn subsample_into(&self, sentence: &[u32], rng: &mut Rng, out: &mut Vec<u32>) {
        out.extend(sentence.iter().copied().filter(|&w| self.keep(w, rng)));
    }
}

/// word2vec's dynamic window: the effective half-width for one centre word, uniform in
/// `1..=window` (`window - b` with `b` uniform in `0..window`), so that near words are
/// sampled more often than far ones. 0 when `window` is 0.
#[inline]
pub fn reduced_window(window: usize, rng: &mut Rng) -> usize {
    if window == 0 {
        return 0;
    }
    window - rng.below(window as u64) as usize
}

/// The positions of a sentence of length `len` within `half_width` of `pos`, clipped to the
/// sentence (the range contains `pos` itself, which callers skip).
#[inline]
pub fn context_range(len: usize, pos: usize, half_width: usize) -> Range<usize> {
    pos.saturating_sub(half_width)..(pos + half_width + 1).min(len)
}

/// Skip-gram `(centre, context)` pairs of a sentence: for each centre word in order, a
/// [`reduced_window`] is drawn, and every other word within it gives a pair, left to right.
pub fn skipgram_pairs(sentence: &[u32], window: usize, rng: &mut Rng) -> Vec<(u32, u32)> {
    let mut pairs = Vec::new();
    for (pos, &centre) in sentence.iter().enumerate() {
        let b = reduced_window(window, rng);
        for c in context_range(sentence.len(), pos, b) {
            if c != pos {
                pairs.push((centre, sentence[c]));
            }
        }
    }
    pairs
}

/// CBOW examples of a sentence: `(context words, centre word)` for each centre word with at
/// least one context word, the window drawn as in [`skipgram_pairs`].
pub fn cbow_examples(sentence: &[u32], window: usize, rng: &mut Rng) -> Vec<(Vec<u32>, u32)> {
    let mut examples = Vec::new();
    for (pos, &centre) in sentence.iter().enumerate() {
        let b = reduced_window(window, rng);
        let context: Vec<u32> = context_range(sentence.len(), pos, b)
            .filter(|&c| c != pos)
            .map(|c| sentence[c])
            .collect();
        if !context.is_empty() {
            examples.push((context, centre));
        }
    }
    examples
}

/// Word vectors as stored in the word2vec text format: a `V D` header line, then one line
/// per word, `word v1 … vD`.
#[derive(Clone, Debug, PartialEq)]
pub struct WordVectors {
    words: Vec<String>,
    dim: usize,
    data: Vec<f32>,
}

impl WordVectors {
    /// Vectors for `words`, row-major in `data` (`words.len() × dim` values).
    pub fn new(words: Vec<String>, dim: usize, data: Vec<f32>) -> Result<Self> {
        if dim == 0 {
            return Err(DataError::invalid(
                "word vectors need a dimension of at least 1",
            ));
        }
        if data.len() != words.len() * dim {
            return Err(DataError::Shape {
                what: "word vectors".into(),
                expected: vec![words.len(), dim],
                found: vec![data.len()],
            });
        }
        Ok(WordVectors { words, dim, data })
    }

    /// The words, in file order.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// All values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The vector of the `i`-th word.
    pub fn vector(&self, i: usize) -> Option<&[f32]> {
        self.data.get(i * self.dim..(i + 1) * self.dim)
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Splits into `(words, dim, data)`.
    pub fn into_parts(self) -> (Vec<String>, usize, Vec<f32>) {
        (self.words, self.dim, self.data)
    }
}

fn parse_vectors(
    lines: impl Iterator<Item = std::io::Result<String>>,
    path: &Path,
) -> Result<WordVectors> {
    let err = |line: usize, message: String| DataError::Vectors {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut header: Option<(usize, usize)> = None;
    let mut words: Vec<String> = Vec::new();
    let mut data: Vec<f32> = Vec::new();
    let mut first_line_of: HashMap<String, usize> = HashMap::new();
    let mut last_line = 0;
    for (i, line) in lines.enumerate() {
        let line_no = i + 1;
        last_line = line_no;
        let line = line.map_err(|e| {
            if e.kind() == ErrorKind::InvalidData {
                err(line_no, "not valid UTF-8".into())
            } else {
                DataError::io(path, e)
            }
        })?;
        let mut fields = line.split_ascii_whitespace();
        let Some(first) = fields.next() else {
            continue; // blank line
        };
        let Some((count, dim)) = header else {
            let parse = |s: Option<&str>, what: &str| -> Result<usize> {
                let s = s.ok_or_else(|| {
                    err(line_no, format!("header must be `V D`, {what} is missing"))
                })?;
                s.parse::<usize>().map_err(|_| {
                    err(
                        line_no,
                        format!("header must be `V D`, cannot parse {what} `{s}`"),
                    )
                })
            };
            let v = parse(Some(first), "the word count V")?;
            let d = parse(fields.next(), "the dimension D")?;
            if let Some(extra) = fields.next() {
                return Err(err(
                    line_no,
                    format!("header must be `V D`, unexpected `{extra}`"),
                ));
            }
            if d == 0 {
                return Err(err(line_no, "header dimension D must be at least 1".into()));
            }
            header = Some((v, d));
            words.reserve(v.min(1 << 20));
            data.reserve(v.saturating_mul(d).min(1 << 26));
            continue;
        };
        if words.len() == count {
            return Err(err(
                line_no,
                format!("more vectors than the {count} announced in the header"),
            ));
        }
        let before = data.len();
        for (k, field) in fields.enumerate() {
            if k == dim {
                let found = line.split_ascii_whitespace().count() - 1;
                return Err(err(
                    line_no,
                    format!("word `{first}` has {found} numbers, expected {dim}"),
                ));
            }
            let v: f32 = field.parse().map_err(|_| {
                err(
                    line_no,
                    format!("cannot parse `{field}` (component {}) as a number", k + 1),
                )
            })?;
            if !v.is_finite() {
                return Err(err(
                    line_no,
                    format!("component {} of `{first}` is not finite: `{field}`", k + 1),
                ));
            }
            data.push(v);
        }
        let found = data.len() - before;
        if found != dim {
            return Err(err(
                line_no,
                format!("word `{first}` has {found} numbers, expected {dim}"),
            ));
        }
        if let Some(prev) = first_line_of.insert(first.to_owned(), line_no) {
            return Err(err(
                line_no,
                format!("duplicate word `{first}` (first on line {prev})"),
            ));
        }
        words.push(first.to_owned());
    }
    let Some((count, dim)) = header else {
        return Err(err(1, "empty file: expected a `V D` header".into()));
    };
    if words.len() != count {
        return Err(err(
            last_line + 1,
            format!(
                "file ends after {} vectors, the header announced {count}",
                words.len()
            ),
        ));
    }
    WordVectors::new(words, dim, data)
}

/// Reads word vectors in the word2vec text format. Errors name the file and line.
pub fn read_word2vec_text(path: impl AsRef<Path>) -> Result<WordVectors> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    parse_vectors(BufReader::new(file).lines(), path)
}

/// Parses word vectors in the word2vec text format from a string.
pub fn parse_word2vec_text(text: &str) -> Result<WordVectors> {
    parse_vectors(
        text.lines().map(|l| Ok(l.to_owned())),
        Path::new(STRING_SOURCE),
    )
}

/// Writes word vectors in the word2vec text format, atomically: to a temporary file in the
/// same directory, then renamed over `path`, so a crash never leaves a half-written file.
/// Values are written in Rust's shortest round-trip form. `data` holds `words.len() × dim`
/// values, row-major; words must be non-empty and free of whitespace.
pub fn write_word2vec_text<S: AsRef<str>>(
    path: impl AsRef<Path>,
    words: &[S],
    dim: usize,
    data: &[f32],
) -> Result<()> {
    let path = path.as_ref();
    if dim == 0 || data.len() != words.len() * dim {
        return Err(DataError::Shape {
            what: format!("word vectors for {}", path.display()),
            expected: vec![words.len(), dim],
            found: vec![data.len()],
        });
    }
    if let Some(bad) = words
        .iter()
        .map(AsRef::as_ref)
        .find(|w| w.is_empty() || w.bytes().any(is_separator))
    {
        return Err(DataError::invalid(format!(
            "cannot write word `{bad}` to {}: words must be non-empty without whitespace",
            path.display()
        )));
    }
    let tmp = temp_path_for(path);
    let result = (|| -> std::io::Result<()> {
        let mut out = BufWriter::new(File::create(&tmp)?);
        writeln!(out, "{} {}", words.len(), dim)?;
        for (word, row) in words.iter().zip(data.chunks_exact(dim)) {
            out.write_all(word.as_ref().as_bytes())?;
            for v in row {
                write!(out, " {v}")?;
            }
            out.write_all(b"\n")?;
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DataError::io(path, e)
    })
}

fn temp_path_for(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}
