#!/usr/bin/env python3
"""The peer run for `examples/word2vec.rs`: gensim's Word2Vec with the same settings and the
same evaluation rules, printing the same three machine-readable lines last.

    python3 -m venv /tmp/gensim-env && /tmp/gensim-env/bin/pip install gensim
    /tmp/gensim-env/bin/python benches/peers/gensim_word2vec.py [--corpus PATH] [--epochs N] [--workers N] [--hs] [--seed N]

Settings: skip-gram, 100 dimensions, window 5, 5 negatives (or hierarchical softmax alone
with --hs), min_count 5, subsampling 1e-4, learning rate 0.025 -> 0.0001, 15 epochs,
2 workers. Words/second = corpus words (before subsampling) x epochs / seconds of train().
WordSim-353: Spearman over the pairs whose words are in the vocabulary (case-folded).
Analogies: 3CosAdd over the 30,000 most frequent words, questions whose four words are among
them (case-folded), as our example evaluates them.
"""
import argparse
import os
import time

from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence

ANALOGY_VOCAB = 30_000


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    shared = os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "data", "text"))
    if not os.path.isdir(shared):
        shared = "/work/shared/data/text"
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=os.path.join(shared, "enwiki-sample.txt"))
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--hs", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    data_dir = os.path.dirname(os.path.abspath(args.corpus))
    wordsim = os.path.join(data_dir, "wordsim353.tsv")
    questions = os.path.join(data_dir, "questions-words.txt")

    sentences = LineSentence(args.corpus)  # one line cut into 10,000-word sentences
    model = Word2Vec(
        sg=1,
        vector_size=100,
        window=5,
        negative=0 if args.hs else 5,
        hs=1 if args.hs else 0,
        min_count=5,
        sample=1e-4,
        alpha=0.025,
        min_alpha=0.0001,
        epochs=args.epochs,
        workers=args.workers,
        seed=args.seed,
    )
    model.build_vocab(sentences)
    corpus_words = model.corpus_total_words
    print(f"corpus {args.corpus}: {corpus_words} words, vocabulary {len(model.wv)}")
    t0 = time.perf_counter()
    c0 = time.process_time()
    model.train(sentences, total_examples=model.corpus_count, epochs=args.epochs)
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    words_per_sec = corpus_words * args.epochs / secs
    print(f"trained in {secs:.2f} s ({cpu:.2f} s CPU): {words_per_sec:.0f} words/s "
          f"({words_per_sec / args.workers:.0f} per worker)")

    for word in ["king", "france", "computer", "music", "war"]:
        if word in model.wv:
            near = model.wv.most_similar(word, topn=8)
            print(f"  {word}: " + ", ".join(f"{w} {s:.3f}" for w, s in near))

    _pearson, spearman, oov = model.wv.evaluate_word_pairs(wordsim, case_insensitive=True)
    rho = float(spearman[0])
    print(f"WordSim-353: Spearman {rho:.4f}, {100 - oov:.0f}% of pairs in vocabulary")
    score, sections = model.wv.evaluate_word_analogies(
        questions, restrict_vocab=ANALOGY_VOCAB, case_insensitive=True)
    total = next(s for s in sections if s["section"] == "Total accuracy")
    evaluated = len(total["correct"]) + len(total["incorrect"])
    print(f"analogies: {len(total['correct'])} of {evaluated} questions correct ({score:.4f})")

    print(f"words_per_sec={words_per_sec:.0f}")
    print(f"wordsim353_spearman={rho:.4f}")
    print(f"analogy_accuracy={score:.4f}")


if __name__ == "__main__":
    main()
