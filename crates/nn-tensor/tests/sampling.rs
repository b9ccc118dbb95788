#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Samplers and class trees: draws match their probabilities, probabilities match their
//! formulas, trees are valid prefix codes of the right shape, bad input is an error.

use std::collections::{BinaryHeap, HashMap};

use nn_tensor::random::Rng;
use nn_tensor::sampling::{AliasTable, HuffmanTree, LogUniformSampler};
use nn_tensor::TensorError;

/// Pearson's χ² statistic of `draws` against the probabilities `probs` (classes with
/// probability 0 must never be drawn).
fn chi_square(counts: &[u64], probs: &[f64], draws: u64) -> f64 {
    let mut chi2 = 0.0;
    for (i, (&c, &p)) in counts.iter().zip(probs).enumerate() {
        if p == 0.0 {
            assert_eq!(c, 0, "class {i} has probability 0 but was drawn {c} times");
            continue;
        }
        let expected = p * draws as f64;
        chi2 += (c as f64 - expected).powi(2) / expected;
    }
    chi2
}

#[test]
fn alias_draws_match_probabilities() {
    let weights = [1.0, 2.0, 0.0, 3.0, 4.0, 10.0, 0.5, 0.0, 7.25];
    let table = AliasTable::new(&weights).unwrap();
    let total: f64 = weights.iter().sum();
    let probs: Vec<f64> = weights.iter().map(|w| w / total).collect();
    for (i, p) in probs.iter().enumerate() {
        assert!((table.prob(i) - p).abs() < 1e-15);
    }
    let mut rng = Rng::seed(11);
    let draws = 200_000u64;
    let mut counts = vec![0u64; weights.len()];
    for _ in 0..draws {
        counts[table.sample(&mut rng)] += 1;
    }
    // 7 classes with mass → 6 degrees of freedom; P(χ² > 22.5) ≈ 0.001.
    let chi2 = chi_square(&counts, &probs, draws);
    assert!(chi2 < 22.5, "χ² = {chi2}, counts {counts:?}");
    assert_eq!(table.len(), weights.len());
    assert!(!table.is_empty());
    assert_eq!(table.prob(weights.len()), 0.0);
}

#[test]
fn alias_draws_detect_a_wrong_distribution() {
    // The same statistic against a slightly different distribution must be large, so the
    // bound above is not vacuous.
    let table = AliasTable::new(&[1.0, 1.0, 1.0, 1.0]).unwrap();
    let mut rng = Rng::seed(3);
    let draws = 200_000u64;
    let mut counts = [0u64; 4];
    for _ in 0..draws {
        counts[table.sample(&mut rng)] += 1;
    }
    assert!(chi_square(&counts, &[0.25; 4], draws) < 16.3);
    assert!(chi_square(&counts, &[0.24, 0.26, 0.25, 0.25], draws) > 100.0);
}

#[test]
fn unigram_power_probabilities_by_hand() {
    // 1^0.75 = 1, 16^0.75 = 8, 81^0.75 = 27, 0 stays 0: total 36.
    let table = AliasTable::unigram(&[1, 16, 81, 0], 0.75).unwrap();
    let expected = [1.0 / 36.0, 8.0 / 36.0, 27.0 / 36.0, 0.0];
    for (i, e) in expected.iter().enumerate() {
        assert!(
            (table.prob(i) - e).abs() < 1e-12,
            "class {i}: {}",
            table.prob(i)
        );
    }
    // Power 1 is plain frequency; power 0 is uniform over the seen classes.
    let plain = AliasTable::unigram(&[1, 3], 1.0).unwrap();
    assert!((plain.prob(1) - 0.75).abs() < 1e-15);
    let flat = AliasTable::unigram(&[1, 1000, 0], 0.0).unwrap();
    assert!((flat.prob(0) - 0.5).abs() < 1e-15 && flat.prob(2) == 0.0);
}

#[test]
fn alias_rejects_bad_weights() {
    let err = |r: Result<AliasTable, TensorError>| r.unwrap_err().to_string();
    assert!(err(AliasTable::new(&[])).contains("at least one class"));
    assert!(err(AliasTable::new(&[1.0, -0.5])).contains("weight 1 is -0.5"));
    assert!(err(AliasTable::new(&[f64::NAN])).contains("weight 0 is NaN"));
    assert!(err(AliasTable::new(&[1.0, f64::INFINITY])).contains("weight 1 is inf"));
    assert!(err(AliasTable::new(&[f64::MAX, f64::MAX])).contains("overflows"));
    assert!(err(AliasTable::new(&[0.0, 0.0])).contains("all 2 weights are zero"));
    assert!(err(AliasTable::unigram(&[], 0.75)).contains("at least one class"));
    assert!(err(AliasTable::unigram(&[0, 0, 0], 0.75)).contains("all 3 counts are zero"));
    assert!(err(AliasTable::unigram(&[1], f64::NAN)).contains("power must be finite"));
}

#[test]
fn log_uniform_probabilities_follow_the_formula() {
    for range in [1usize, 2, 10, 1000, 100_000] {
        let s = LogUniformSampler::new(range).unwrap();
        assert_eq!(s.len(), range);
        let log_range = ((range + 1) as f64).ln();
        let mut sum = 0.0;
        for i in 0..range {
            // The direct difference of logarithms cancels: its own relative error grows
            // like ε·ln(i)·i, about 3e-10 at i = 1e5.
            let direct = (((i + 2) as f64).ln() - ((i + 1) as f64).ln()) / log_range;
            assert!(
                (s.prob(i) - direct).abs() <= 1e-9 * direct,
                "range {range}, class {i}"
            );
            sum += s.prob(i);
        }
        assert!((sum - 1.0).abs() < 1e-10, "range {range}: Σ = {sum}");
        assert_eq!(s.prob(range), 0.0);
    }
    // By hand: range 3 → P = ln2/ln4, ln(3/2)/ln4, ln(4/3)/ln4 = 0.5, 0.2925.., 0.2075..
    let s = LogUniformSampler::new(3).unwrap();
    assert!((s.prob(0) - 0.5).abs() < 1e-15);
    assert!((s.prob(1) - 0.292_481_250_360_578_3).abs() < 1e-12);
    assert!((s.prob(2) - 0.207_518_749_639_421_7).abs() < 1e-12);
}

#[test]
fn log_uniform_draws_match_probabilities() {
    let range = 20;
    let s = LogUniformSampler::new(range).unwrap();
    let probs: Vec<f64> = (0..range).map(|i| s.prob(i)).collect();
    let mut rng = Rng::seed(21);
    let draws = 200_000u64;
    let mut counts = vec![0u64; range];
    for _ in 0..draws {
        counts[s.sample(&mut rng)] += 1;
    }
    // 19 degrees of freedom; P(χ² > 43.8) ≈ 0.001.
    let chi2 = chi_square(&counts, &probs, draws);
    assert!(chi2 < 43.8, "χ² = {chi2}, counts {counts:?}");
    assert!(LogUniformSampler::new(0)
        .unwrap_err()
        .to_string()
        .contains("LogUniformSampler::new"));
    let one = LogUniformSampler::new(1).unwrap();
    assert!((0..100).all(|_| one.sample(&mut rng) == 0));
}

fn code_of(tree: &HuffmanTree, class: usize) -> Vec<u8> {
    tree.path(class).1.to_vec()
}

/// Checks a tree's structure: V − 1 inner nodes each used, every path starts at the root
/// (node 0), the (node, branch) → child map is a function, codes are prefix-free and
/// satisfy Kraft's equality Σ 2^−len = 1 (a full binary tree).
fn check_tree(tree: &HuffmanTree) {
    let v = tree.num_classes();
    assert_eq!(tree.num_inner_nodes(), v - 1);
    let mut used = vec![false; v.saturating_sub(1)];
    // (inner node, branch) → the next inner node, or a leaf (u32::MAX − class).
    let mut child: HashMap<(u32, u8), u32> = HashMap::new();
    let mut kraft = 0.0;
    let mut max_len = 0;
    for c in 0..v {
        let (nodes, codes) = tree.path(c);
        assert_eq!(nodes.len(), codes.len());
        if v > 1 {
            assert_eq!(nodes[0], 0, "class {c}: path does not start at the root");
        }
        for (k, (&n, &b)) in nodes.iter().zip(codes).enumerate() {
            assert!((n as usize) < v - 1 && b <= 1);
            used[n as usize] = true;
            let next = nodes.get(k + 1).copied().unwrap_or(u32::MAX - c as u32);
            let prev = child.insert((n, b), next);
            assert!(
                prev.is_none() || prev == Some(next),
                "inconsistent branch at node {n}"
            );
        }
        kraft += 0.5f64.powi(codes.len() as i32);
        max_len = max_len.max(codes.len());
    }
    assert!(used.iter().all(|&u| u), "an inner node is on no path");
    assert!((kraft - 1.0).abs() < 1e-12, "Kraft sum {kraft}");
    assert_eq!(tree.max_depth(), max_len);
    let mut codes: Vec<Vec<u8>> = (0..v).map(|c| code_of(tree, c)).collect();
    codes.sort();
    for pair in codes.windows(2) {
        assert!(
            !pair[1].starts_with(&pair[0]),
            "{:?} prefixes {:?}",
            pair[0],
            pair[1]
        );
    }
}

#[test]
fn huffman_code_lengths_hand_worked() {
    // The textbook example: optimal lengths 4, 4, 3, 3, 3, 1 (cost 224).
    let counts = [5u64, 9, 12, 13, 16, 45];
    let tree = HuffmanTree::from_counts(&counts).unwrap();
    let lengths: Vec<usize> = (0..6).map(|c| tree.path(c).0.len()).collect();
    assert_eq!(lengths, vec![4, 4, 3, 3, 3, 1]);
    check_tree(&tree);
    assert_eq!(tree.max_depth(), 4);
    // The most frequent class hangs off the root on the heavier (1) side: 45 < 55.
    assert_eq!(tree.path(5), (&[0u32][..], &[0u8][..]));
    // Order of the counts does not matter for the lengths.
    let shuffled = HuffmanTree::from_counts(&[45, 13, 5, 16, 12, 9]).unwrap();
    let lengths: Vec<usize> = (0..6).map(|c| shuffled.path(c).0.len()).collect();
    assert_eq!(lengths, vec![1, 3, 4, 3, 3, 4]);
}

/// The optimal (Huffman) cost Σ count·length, computed independently as the sum of the
/// merged weights with a binary heap.
fn optimal_cost(counts: &[u64]) -> u128 {
    let mut heap: BinaryHeap<std::cmp::Reverse<u128>> = counts
        .iter()
        .map(|&c| std::cmp::Reverse(c as u128))
        .collect();
    let mut cost = 0;
    while heap.len() > 1 {
        let a = heap.pop().unwrap().0;
        let b = heap.pop().unwrap().0;
        cost += a + b;
        heap.push(std::cmp::Reverse(a + b));
    }
    cost
}

#[test]
fn huffman_trees_are_optimal_prefix_codes() {
    let mut rng = Rng::seed(5);
    for v in [2usize, 3, 7, 64, 65, 300] {
        // Zipf-like counts with ties and zeros.
        let counts: Vec<u64> = (0..v)
            .map(|i| {
                if i % 11 == 10 {
                    0
                } else {
                    1000 / (i as u64 + 1) + rng.below(3)
                }
            })
            .collect();
        let tree = HuffmanTree::from_counts(&counts).unwrap();
        assert_eq!(tree.num_classes(), v);
        check_tree(&tree);
        let cost: u128 = (0..v)
            .map(|c| counts[c] as u128 * tree.path(c).0.len() as u128)
            .sum();
        assert_eq!(cost, optimal_cost(&counts), "V = {v}");
    }
    // Huge counts do not overflow.
    let tree = HuffmanTree::from_counts(&[u64::MAX, u64::MAX, u64::MAX]).unwrap();
    check_tree(&tree);
}

#[test]
fn balanced_trees_have_log_depth() {
    for v in 1usize..=70 {
        let tree = HuffmanTree::balanced(v).unwrap();
        assert_eq!(tree.num_classes(), v);
        check_tree(&tree);
        let ceil_log2 = (usize::BITS - (v - 1).leading_zeros()) as usize;
        assert_eq!(tree.max_depth(), ceil_log2, "V = {v}");
        let min_depth = (0..v).map(|c| tree.path(c).0.len()).min().unwrap();
        assert!(ceil_log2 - min_depth <= 1, "V = {v}: unbalanced");
    }
    // Classes 0..4 of 8: the first class goes left at every level.
    let tree = HuffmanTree::balanced(8).unwrap();
    assert_eq!(tree.path(0).1, &[0, 0, 0]);
    assert_eq!(tree.path(7).1, &[1, 1, 1]);
    assert_eq!(tree.path(5).1, &[1, 0, 1]);
}

#[test]
fn single_class_tree_has_an_empty_path() {
    for tree in [
        HuffmanTree::from_counts(&[7]).unwrap(),
        HuffmanTree::balanced(1).unwrap(),
    ] {
        assert_eq!(tree.num_classes(), 1);
        assert_eq!(tree.num_inner_nodes(), 0);
        assert_eq!(tree.max_depth(), 0);
        assert_eq!(tree.path(0), (&[][..], &[][..]));
    }
}

#[test]
fn huffman_rejects_bad_input() {
    assert!(HuffmanTree::from_counts(&[])
        .unwrap_err()
        .to_string()
        .contains("HuffmanTree::from_counts: needs at least one class"));
    assert!(HuffmanTree::balanced(0).is_err());
    let tree = HuffmanTree::balanced(4).unwrap();
    assert_eq!(
        tree.try_path(4).unwrap_err(),
        TensorError::IndexOutOfRange {
            op: "HuffmanTree::path",
            index: 4,
            len: 4
        }
    );
    assert_eq!(tree.try_path(3).unwrap(), tree.path(3));
}
