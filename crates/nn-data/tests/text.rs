#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The text pipeline against hand-computed values.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nn_data::text::{
    cbow_examples, context_range, for_each_token, keep_probability, parse_word2vec_text,
    read_word2vec_text, reduced_window, skipgram_pairs, tokenize, write_word2vec_text, Corpus,
    Subsampler, Token, Vocabulary,
};
use nn_data::DataError;
use nn_tensor::random::Rng;

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nn-data-text-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn tokenize_splits_on_ascii_whitespace() {
    let words: Vec<&str> = tokenize(" the\tcat\r\nsat  on\x0cmat ").collect();
    assert_eq!(words, ["the", "cat", "sat", "on", "mat"]);
}

#[test]
fn streaming_tokenizer_matches_str_tokenizer_across_chunk_boundaries() {
    // ~200 kB with words of many lengths, so that words straddle the 64 KiB read chunks.
    let mut text = String::new();
    for i in 0..30_000 {
        let len = 1 + (i * 7) % 13;
        text.push_str(&"abcdefghijklm"[..len]);
        text.push(if i % 97 == 0 { '\n' } else { ' ' });
    }
    text.push_str("tail"); // no final separator
    let mut words = Vec::new();
    let mut line_ends = 0;
    for_each_token(text.as_bytes(), Path::new("mem"), |t| match t {
        Token::Word(w) => words.push(w.to_owned()),
        Token::LineEnd => line_ends += 1,
    })
    .unwrap();
    let expected: Vec<&str> = tokenize(&text).collect();
    assert_eq!(words, expected);
    assert_eq!(line_ends, text.matches('\n').count());
}

#[test]
fn streaming_tokenizer_reports_invalid_utf8_offset() {
    let bytes: &[u8] = b"ok fine \xff\xfe bad";
    let err = for_each_token(bytes, Path::new("c.txt"), |_| {}).unwrap_err();
    assert!(matches!(err, DataError::Utf8 { offset: 8, .. }), "{err:?}");
    assert_eq!(err.to_string(), "c.txt: at byte 8: invalid UTF-8 in a word");
}

#[test]
fn vocabulary_orders_by_count_then_word_and_applies_min_count() {
    // counts: a 3, b 2, e 2, c 1, d 1
    let vocab = Vocabulary::from_text("b a c a b d a e e", 2).unwrap();
    assert_eq!(vocab.words(), ["a", "b", "e"]);
    assert_eq!(vocab.counts(), [3, 2, 2]);
    assert_eq!(vocab.id("e"), Some(2));
    assert_eq!(vocab.id("c"), None);
    assert_eq!(vocab.word(1), Some("b"));
    assert_eq!(vocab.word(3), None);
    assert_eq!(vocab.count(0), Some(3));
    assert_eq!(vocab.total_count(), 7);
    assert_eq!(vocab.corpus_words(), 9);
    assert_eq!(vocab.len(), 3);
    assert_eq!(vocab.encode(["e", "zz", "a", "c"]), [2, 0]);
}

#[test]
fn vocabulary_errors_on_empty_corpus_and_empty_vocabulary() {
    let err = Vocabulary::from_text(" \n\t ", 1).unwrap_err();
    assert!(matches!(err, DataError::EmptyCorpus { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "<string>: the corpus is empty (no words found)"
    );

    let err = Vocabulary::from_text("a b a c", 3).unwrap_err();
    assert!(matches!(
        err,
        DataError::EmptyVocabulary {
            min_count: 3,
            distinct: 3,
            max_count: 2
        }
    ));
    assert!(err.to_string().contains("min_count = 3"), "{err}");

    let path = temp_file("empty.txt");
    std::fs::write(&path, "\n\n").unwrap();
    let err = Corpus::from_file(&path, 1).unwrap_err();
    assert!(err.to_string().contains("empty.txt"), "{err}");
    assert!(matches!(err, DataError::EmptyCorpus { .. }));

    let err = Corpus::from_file(temp_file("missing.txt").with_extension("nope"), 1).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }));
}

#[test]
fn corpus_splits_sentences_at_line_ends_and_max_length() {
    let text = "a a b\nb a\n\nc zz";
    // counts a 3, b 2, c 1, zz 1 -> ids a 0, b 1, c 2, zz 3
    let vocab = Vocabulary::from_text(text, 1).unwrap();
    assert_eq!(vocab.words(), ["a", "b", "c", "zz"]);
    let corpus = Corpus::encode_text(vocab.clone(), text, 2).unwrap();
    let sentences: Vec<&[u32]> = corpus.sentences().collect();
    let expected: Vec<&[u32]> = vec![&[0, 0], &[1], &[1, 0], &[2, 3]];
    assert_eq!(sentences, expected);
    assert_eq!(corpus.raw_word_count(), 7);
    assert_eq!(corpus.sentence_ends(), [2, 3, 5, 7]);

    // The same from a file, and words below min_count leave the sentences.
    let path = temp_file("corpus.txt");
    std::fs::write(&path, text).unwrap();
    let from_file = Corpus::encode_file(vocab, &path, 2).unwrap();
    assert_eq!(from_file.ids(), corpus.ids());
    assert_eq!(from_file.sentence_ends(), corpus.sentence_ends());
    let pruned = Corpus::from_file(&path, 2).unwrap();
    let sentences: Vec<&[u32]> = pruned.sentences().collect();
    let expected: Vec<&[u32]> = vec![&[0, 0, 1], &[1, 0]];
    assert_eq!(sentences, expected);
    assert_eq!(pruned.raw_word_count(), 7);

    let err = Corpus::encode_text(pruned.into_vocab(), "a", 0).unwrap_err();
    assert!(err.to_string().contains("max_sentence_len"));
}

#[test]
fn keep_probability_matches_word2vec_formula() {
    // t·total = 1e-4 · 1e6 = 100: (sqrt(f/100) + 1) · 100 / f
    assert_eq!(keep_probability(400, 1_000_000, 1e-4), 0.75);
    assert!((keep_probability(10_000, 1_000_000, 1e-4) - 0.11).abs() < 1e-12);
    assert_eq!(keep_probability(100, 1_000_000, 1e-4), 1.0); // 2, capped
    assert_eq!(keep_probability(400, 1_000_000, 0.0), 1.0);

    let counts: HashMap<String, u64> = [
        ("a".to_owned(), 10_000),
        ("b".to_owned(), 400),
        ("c".to_owned(), 100),
        ("d".to_owned(), 989_500),
    ]
    .into_iter()
    .collect();
    let vocab = Vocabulary::from_word_counts(counts, 1, "counts").unwrap();
    assert_eq!(vocab.words(), ["d", "a", "b", "c"]);
    let sub = Subsampler::new(&vocab, 1e-4).unwrap();
    assert!((sub.keep_probability(0) - 0.010_153_978_230_622_668).abs() < 1e-12);
    assert!((sub.keep_probability(1) - 0.11).abs() < 1e-12);
    assert_eq!(sub.keep_probability(2), 0.75);
    assert_eq!(sub.keep_probability(3), 1.0);
    assert_eq!(sub.keep_probability(9), 0.0);

    // Empirical keep rate of b: 0.75 ± 4.5 standard deviations (sd = 0.0019 for n = 50k).
    let mut rng = Rng::seed(3);
    let n = 50_000;
    let kept = (0..n).filter(|_| sub.keep(2, &mut rng)).count();
    let rate = kept as f64 / n as f64;
    assert!((rate - 0.75).abs() < 0.009, "keep rate {rate}");
    assert!((0..1000).all(|_| sub.keep(3, &mut rng)));

    let mut out = vec![7];
    sub.subsample_into(&[3, 3, 3], &mut rng, &mut out);
    assert_eq!(out, [7, 3, 3, 3]);

    assert!(Subsampler::new(&vocab, -1.0).is_err());
    assert!(Subsampler::new(&vocab, f64::NAN).is_err());
}

#[test]
fn skipgram_pairs_window_one_is_every_neighbour() {
    let mut rng = Rng::seed(0);
    let pairs = skipgram_pairs(&[10, 11, 12, 13], 1, &mut rng);
    assert_eq!(
        pairs,
        [(10, 11), (11, 10), (11, 12), (12, 11), (12, 13), (13, 12)]
    );
    assert!(skipgram_pairs(&[4], 5, &mut rng).is_empty());
}

#[test]
fn skipgram_pairs_use_one_reduced_window_per_centre_word() {
    let sentence = [0, 1, 2, 3, 4, 5];
    let mut rng = Rng::seed(11);
    let pairs = skipgram_pairs(&sentence, 3, &mut rng.clone());
    // Expected pairs from the same draws: half-width 3 - below(3) per centre word.
    let mut expected = Vec::new();
    for pos in 0..sentence.len() {
        let b = 3 - rng.below(3) as usize;
        for c in pos.saturating_sub(b)..(pos + b + 1).min(sentence.len()) {
            if c != pos {
                expected.push((pos as u32, c as u32));
            }
        }
    }
    assert_eq!(pairs, expected);
    assert_eq!(context_range(6, 1, 3), 0..5);
    assert_eq!(context_range(6, 4, 2), 2..6);
}

#[test]
fn dynamic_window_weights_distance_d_by_window_minus_d_plus_one() {
    // P(distance d is used) = P(half-width >= d) = (5 - d + 1) / 5 for window 5.
    let mut rng = Rng::seed(5);
    let n = 20_000;
    let mut hits = [0usize; 6];
    for _ in 0..n {
        let b = reduced_window(5, &mut rng);
        assert!((1..=5).contains(&b));
        for (d, h) in hits.iter_mut().enumerate().skip(1) {
            if b >= d {
                *h += 1;
            }
        }
    }
    for (d, &h) in hits.iter().enumerate().skip(1) {
        let p = h as f64 / n as f64;
        let expected = (6 - d) as f64 / 5.0;
        assert!(
            (p - expected).abs() < 0.015,
            "distance {d}: {p} vs {expected}"
        );
    }
    assert_eq!(reduced_window(0, &mut rng), 0);
}

#[test]
fn cbow_examples_window_one() {
    let mut rng = Rng::seed(0);
    let ex = cbow_examples(&[5, 6, 7], 1, &mut rng);
    assert_eq!(ex, [(vec![6], 5), (vec![5, 7], 6), (vec![6], 7)]);
    assert!(cbow_examples(&[5], 2, &mut rng).is_empty());
}

#[test]
fn word2vec_text_parses_and_round_trips() {
    let v = parse_word2vec_text("2 3\nfoo 1 2 3\nbar 4 5 -6.5\n").unwrap();
    assert_eq!(v.words(), ["foo", "bar"]);
    assert_eq!(v.dim(), 3);
    assert_eq!(v.vector(1), Some(&[4.0, 5.0, -6.5][..]));

    let path = temp_file("vectors.txt");
    let data = [0.1f32, -2.5e-7, 3.0, 1.0 / 3.0];
    write_word2vec_text(&path, &["x", "y"], 2, &data).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("2 2\nx 0.1 -0.00000025\n"), "{text}");
    let back = read_word2vec_text(&path).unwrap();
    assert_eq!(back.data(), data);
    assert_eq!(back.words(), ["x", "y"]);
    // Atomic write: nothing but the target is left in the directory.
    let entries = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
    assert_eq!(entries, 1);

    assert!(write_word2vec_text(&path, &["a b"], 1, &[1.0]).is_err());
    assert!(write_word2vec_text(&path, &["a"], 2, &[1.0]).is_err());
    let err = write_word2vec_text(temp_file("d").join("no/such/dir.txt"), &["a"], 1, &[1.0]);
    assert!(matches!(err, Err(DataError::Io { .. })));
}

#[test]
fn word2vec_text_errors_name_the_line() {
    let cases = [
        ("", 1, "empty file"),
        ("2\nfoo 1\n", 1, "the dimension D is missing"),
        ("x 3\n", 1, "cannot parse the word count V `x`"),
        ("1 0\n", 1, "at least 1"),
        (
            "2 3\nfoo 1 2 3\nbar 1 2\n",
            3,
            "`bar` has 2 numbers, expected 3",
        ),
        ("2 3\nfoo 1 2 3 4\n", 2, "`foo` has 4 numbers, expected 3"),
        ("2 3\nfoo 1 x 3\n", 2, "cannot parse `x` (component 2)"),
        ("2 1\nfoo inf\n", 2, "not finite"),
        (
            "2 3\nfoo 1 2 3\n",
            3,
            "file ends after 1 vectors, the header announced 2",
        ),
        (
            "1 1\nfoo 1\nbar 2\n",
            3,
            "more vectors than the 1 announced",
        ),
        (
            "2 1\nfoo 1\nfoo 2\n",
            3,
            "duplicate word `foo` (first on line 2)",
        ),
    ];
    for (text, line, needle) in cases {
        let err = parse_word2vec_text(text).unwrap_err();
        match &err {
            DataError::Vectors {
                line: l, message, ..
            } => {
                assert_eq!(*l, line, "{text:?}: {err}");
                assert!(message.contains(needle), "{text:?}: {err}");
            }
            other => panic!("{text:?}: unexpected {other:?}"),
        }
    }
    let path = temp_file("bad.txt");
    std::fs::write(&path, b"1 2\nw\xff 1 2\n").unwrap();
    let err = read_word2vec_text(&path).unwrap_err();
    assert!(
        err.to_string().ends_with("bad.txt:2: not valid UTF-8"),
        "{err}"
    );
}
