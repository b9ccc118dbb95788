//! word2vec on a Wikipedia sample: skip-gram with negative sampling (or hierarchical softmax
//! with `--hs`), evaluated on WordSim-353 and the Google analogy questions.
//!
//! ```text
//! cargo run --release --example word2vec -- [--corpus PATH] [--epochs N] [--threads N] [--hs] [--out vectors.txt]
//! ```
//!
//! Defaults: `../shared/data/text/enwiki-sample.txt` (relative to the repository), 15 epochs,
//! all cores, negative sampling, vectors saved to `vectors.txt`. Settings otherwise as
//! word2vec.c and gensim: dimension 100, window 5, 5 negatives, min_count 5, subsampling
//! 1e-4, learning rate 0.025 → 0.0001. The last three lines of stdout are
//! `words_per_sec=…`, `wordsim353_spearman=…`, `analogy_accuracy=…`; words/second is the
//! corpus's words (before subsampling, as word2vec.c and gensim count) × epochs ÷ training
//! seconds. The same run with gensim: `benches/peers/gensim_word2vec.py`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use nn::data::text::Corpus;
use nn::word2vec::Word2Vec;

/// Analogy questions count only if their four words are among this many most frequent.
const ANALOGY_VOCAB: usize = 30_000;
const NEIGHBOUR_WORDS: [&str; 5] = ["king", "france", "computer", "music", "war"];

struct Args {
    corpus: Option<PathBuf>,
    epochs: usize,
    threads: usize,
    hs: bool,
    out: PathBuf,
}

const USAGE: &str =
    "usage: word2vec [--corpus PATH] [--epochs N] [--threads N] [--hs] [--out vectors.txt]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        corpus: None,
        epochs: 15,
        threads: 0,
        hs: false,
        out: PathBuf::from("vectors.txt"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--corpus" => args.corpus = Some(PathBuf::from(value("--corpus")?)),
            "--epochs" => {
                let v = value("--epochs")?;
                args.epochs = v
                    .parse()
                    .map_err(|_| format!("--epochs: not a number: {v}"))?;
            }
            "--threads" => {
                let v = value("--threads")?;
                args.threads = v
                    .parse()
                    .map_err(|_| format!("--threads: not a number: {v}"))?;
            }
            "--hs" => args.hs = true,
            "--out" => args.out = PathBuf::from(value("--out")?),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(args)
}

/// A file of the shared data directory: `<repo>/../shared/data/text/<name>`, else next to
/// the corpus given with `--corpus`, else the path as given relative to the current directory.
fn shared_text_file(name: &str, corpus: Option<&Path>) -> PathBuf {
    let relative = Path::new("../shared/data/text").join(name);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let from_repo = repo.join(&relative);
    let beside_corpus = corpus.and_then(Path::parent).map(|dir| dir.join(name));
    if from_repo.exists() {
        from_repo
    } else if let Some(p) = beside_corpus.filter(|p| p.exists()) {
        p
    } else {
        relative
    }
}

fn require(path: &Path, what: &str) -> Result<(), String> {
    if path.is_file() {
        Ok(())
    } else {
        Err(format!(
            "{what} not found at {} (looked in <repo>/../shared/data/text and beside --corpus)",
            path.display()
        ))
    }
}

/// User + system CPU seconds of this process so far (Linux `/proc`; `None` elsewhere).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports these in clock ticks of USER_HZ, 100 on every mainstream configuration.
    Some((utime + stime) / 100.0)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let corpus_path = args
        .corpus
        .clone()
        .unwrap_or_else(|| shared_text_file("enwiki-sample.txt", None));
    require(&corpus_path, "corpus")?;
    let wordsim = shared_text_file("wordsim353.tsv", Some(&corpus_path));
    let questions = shared_text_file("questions-words.txt", Some(&corpus_path));
    require(&wordsim, "wordsim353.tsv")?;
    require(&questions, "questions-words.txt")?;

    let config = Word2Vec::new()
        .dim(100)
        .window(5)
        .negative(if args.hs { 0 } else { 5 })
        .hs(args.hs)
        .min_count(5)
        .sample(1e-4)
        .alpha(0.025)
        .min_alpha(0.0001)
        .epochs(args.epochs)
        .threads(args.threads)
        .seed(1)
        .verbose(true);

    let t0 = Instant::now();
    let corpus = Corpus::from_file(&corpus_path, 5).map_err(|e| e.to_string())?;
    eprintln!(
        "corpus {}: {} words, vocabulary {} (min_count 5), read in {:.2} s",
        corpus_path.display(),
        corpus.raw_word_count(),
        corpus.vocab().len(),
        t0.elapsed().as_secs_f64()
    );
    let threads = match args.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    eprintln!(
        "training skip-gram, {}, {} epochs, {threads} threads",
        if args.hs {
            "hierarchical softmax"
        } else {
            "negative sampling (5)"
        },
        args.epochs
    );
    let t1 = Instant::now();
    let cpu1 = process_cpu_seconds();
    let emb = config.train(&corpus).map_err(|e| e.to_string())?;
    let train_secs = t1.elapsed().as_secs_f64();
    if let (Some(a), Some(b)) = (cpu1, process_cpu_seconds()) {
        // On a shared machine wall-clock speed depends on the load; CPU time does not.
        eprintln!(
            "training used {:.2} s of CPU: {:.0} words per CPU-second",
            b - a,
            corpus.raw_word_count() as f64 * args.epochs as f64 / (b - a)
        );
    }
    let words_per_sec = corpus.raw_word_count() as f64 * args.epochs as f64 / train_secs;
    eprintln!(
        "trained in {train_secs:.2} s: {words_per_sec:.0} words/s ({:.0} per thread)",
        words_per_sec / threads as f64
    );

    println!("nearest neighbours:");
    for word in NEIGHBOUR_WORDS {
        match emb.most_similar(word, 8) {
            Ok(near) => {
                let list: Vec<String> = near.iter().map(|(w, s)| format!("{w} {s:.3}")).collect();
                println!("  {word}: {}", list.join(", "));
            }
            Err(e) => println!("  {word}: {e}"),
        }
    }

    let sim = emb
        .evaluate_word_pairs(&wordsim)
        .map_err(|e| e.to_string())?;
    println!(
        "WordSim-353: Spearman {:.4} over {} of {} pairs in vocabulary ({:.0}%)",
        sim.spearman,
        sim.pairs_used,
        sim.pairs_total,
        100.0 * sim.pairs_used as f64 / sim.pairs_total.max(1) as f64
    );
    let ana = emb
        .evaluate_analogies(&questions, ANALOGY_VOCAB)
        .map_err(|e| e.to_string())?;
    println!(
        "analogies: {} of {} questions correct ({:.4}); {} of {} questions have all four words \
         among the {ANALOGY_VOCAB} most frequent",
        ana.correct,
        ana.evaluated,
        ana.accuracy(),
        ana.evaluated,
        ana.total
    );

    emb.save_word2vec_text(&args.out)
        .map_err(|e| e.to_string())?;
    println!("vectors saved to {}", args.out.display());

    println!("words_per_sec={words_per_sec:.0}");
    println!("wordsim353_spearman={:.4}", sim.spearman);
    println!("analogy_accuracy={:.4}", ana.accuracy());
    Ok(())
}
