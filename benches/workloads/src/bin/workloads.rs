//! The reference workloads of `../shared/WORKLOADS.md` (W1 MLP and W2 convnet training on
//! Fashion-MNIST, W3 large-class softmax cross-entropy, W4 GEMM, W5 predict latency), run
//! with nn exactly as specified there.
//!
//! ```sh
//! cargo run --release -p nn-workloads --bin workloads -- --threads 2 [--quick] [--only w1,w3]
//! ```
//!
//! Progress goes to stderr; the last stdout line is one JSON object with every figure (`null`
//! for what was not run). `--quick` skips the accuracy runs (5 epochs of W1, 3 of W2).

use std::collections::BTreeMap;
use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

use nn::layers::{Conv2D, Dense, Dropout, Flatten, MaxPooling2D};
use nn::losses::SparseCategoricalCrossentropy;
use nn::prelude::{FitConfig, Input, Model, Sequential, Tensor, TensorDataset};

type Res<T> = Result<T, Box<dyn Error>>;

struct Args {
    threads: usize,
    quick: bool,
    only: Option<Vec<String>>,
}

impl Args {
    fn parse() -> Res<Args> {
        let mut args = Args {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            quick: false,
            only: None,
        };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            match a.as_str() {
                "--threads" => {
                    let v = it.next().ok_or("--threads needs a value")?;
                    args.threads = v.parse().map_err(|_| format!("--threads: bad value {v}"))?;
                    if args.threads == 0 {
                        return Err("--threads must be at least 1".into());
                    }
                }
                "--quick" => args.quick = true,
                "--only" => {
                    let v = it.next().ok_or("--only needs a list such as w1,w3")?;
                    let list: Vec<String> = v.split(',').map(|s| s.trim().to_lowercase()).collect();
                    if let Some(bad) = list
                        .iter()
                        .find(|w| !["w1", "w2", "w3", "w4", "w5"].contains(&w.as_str()))
                    {
                        return Err(format!("--only: unknown workload {bad} (w1..w5)").into());
                    }
                    args.only = Some(list);
                }
                "-h" | "--help" => {
                    println!(
                        "workloads [--threads N] [--quick] [--only w1,w2,w3,w4,w5]\n\
                         Runs ../shared/WORKLOADS.md with nn; the last stdout line is JSON."
                    );
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other} (try --help)").into()),
            }
        }
        Ok(args)
    }

    fn runs(&self, w: &str) -> bool {
        self.only
            .as_ref()
            .map_or(true, |l| l.iter().any(|x| x == w))
    }
}

/// A JSON value, enough for the one line this program prints.
enum Json {
    Null,
    Num(f64),
    Str(String),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn num(v: Option<f64>) -> Json {
        v.filter(|x| x.is_finite()).map_or(Json::Null, Json::Num)
    }

    fn render(&self) -> String {
        match self {
            Json::Null => "null".into(),
            Json::Num(v) => format!("{v}"),
            Json::Str(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
            Json::Obj(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("\"{k}\":{}", v.render()))
                    .collect();
                format!("{{{}}}", parts.join(","))
            }
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median seconds of `reps` calls of `f` after `warmup` calls.
fn time_median(warmup: usize, reps: usize, mut f: impl FnMut() -> Res<()>) -> Res<f64> {
    for _ in 0..warmup {
        f()?;
    }
    let mut ts = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        f()?;
        ts.push(t.elapsed().as_secs_f64());
    }
    Ok(median(ts))
}

fn mlp() -> Res<Model> {
    Ok(Sequential::new()
        .add(Input::new([784]))
        .add(Dense::new(256).activation("relu"))
        .add(Dense::new(128).activation("relu"))
        .add(Dense::new(10))
        .build()?)
}

fn convnet() -> Res<Model> {
    Ok(Sequential::new()
        .add(Input::new([28, 28, 1]))
        .add(Conv2D::new(32, (3, 3)).activation("relu"))
        .add(MaxPooling2D::new())
        .add(Conv2D::new(64, (3, 3)).activation("relu"))
        .add(MaxPooling2D::new())
        .add(Flatten::new())
        .add(Dropout::new(0.5))
        .add(Dense::new(10))
        .build()?)
}

/// Adam with Keras' defaults (lr 1e-3, β₁ 0.9, β₂ 0.999, ε 1e-7) and sparse cross-entropy
/// from logits, as W1 and W2 specify.
fn compile(model: &mut Model) -> Res<()> {
    model.compile(
        "adam",
        SparseCategoricalCrossentropy::new().from_logits(true),
        ["accuracy"],
    )?;
    Ok(())
}

fn images(data: &TensorDataset) -> Res<TensorDataset> {
    let n = data.len();
    Ok(TensorDataset::new(
        data.x().reshape([n, 28, 28, 1])?,
        data.y().clone(),
    )?)
}

fn batch(data: &TensorDataset, i: usize, size: usize) -> Res<(Tensor<f32>, Tensor<f32>)> {
    let n = data.len();
    let start = (i * size) % (n - size + 1);
    Ok((
        data.x().slice_axis(0, start, start + size)?.contiguous(),
        data.y().slice_axis(0, start, start + size)?.contiguous(),
    ))
}

fn fit_config(epochs: usize) -> FitConfig {
    FitConfig::new()
        .epochs(epochs)
        .batch_size(128)
        .shuffle(true)
        .verbose(0)
}

fn w1(train: &TensorDataset, test: &TensorDataset, quick: bool) -> Res<(f64, Option<f64>)> {
    nn::set_random_seed(1);
    let mut model = mlp()?;
    compile(&mut model)?;
    for i in 0..20 {
        let (x, y) = batch(train, i, 128)?;
        model.train_on_batch(&x, &y, None)?;
    }
    let t = Instant::now();
    model.fit(train, fit_config(1))?;
    let epoch_s = t.elapsed().as_secs_f64();
    eprintln!("w1: one epoch {epoch_s:.3} s");
    if quick {
        return Ok((epoch_s, None));
    }
    nn::set_random_seed(2);
    let mut model = mlp()?;
    compile(&mut model)?;
    model.fit(train, fit_config(5))?;
    let acc = model.evaluate(test)?.get("accuracy").copied();
    eprintln!("w1: test accuracy after 5 epochs {acc:?}");
    Ok((epoch_s, acc))
}

fn w2(train: &TensorDataset, test: &TensorDataset, quick: bool) -> Res<(f64, Option<f64>)> {
    let (train, test) = (images(train)?, images(test)?);
    nn::set_random_seed(3);
    let mut model = convnet()?;
    compile(&mut model)?;
    let batches: Vec<_> = (0..55).map(|i| batch(&train, i, 128)).collect::<Res<_>>()?;
    let mut next = batches.iter().cycle();
    let step_s = time_median(5, 50, || {
        let (x, y) = next.next().ok_or("no batch")?;
        model.train_on_batch(x, y, None)?;
        Ok(())
    })?;
    eprintln!("w2: median step {:.1} ms", step_s * 1e3);
    if quick {
        return Ok((step_s, None));
    }
    nn::set_random_seed(4);
    let mut model = convnet()?;
    compile(&mut model)?;
    model.fit(&train, fit_config(3))?;
    let acc = model.evaluate(&test)?.get("accuracy").copied();
    eprintln!("w2: test accuracy after 3 epochs {acc:?}");
    Ok((step_s, acc))
}

/// W3: median ms of the fused forward+backward into a reused gradient buffer, of the
/// forward softmax alone, and the effective GB/s of the former.
fn w3() -> Res<(f64, f64, f64)> {
    const N: usize = 256;
    const C: usize = 32768;
    let x = Tensor::<f32>::rand_normal([N, C], 0.0, 3.0, 1);
    let labels: Vec<usize> = (0..N).map(|i| (i * 7919) % C).collect();
    let mut losses = vec![0.0f32; N];
    let mut grad = vec![0.0f32; N * C];
    let fb = time_median(2, 20, || {
        x.softmax_cross_entropy_fwd_bwd_into(&labels, 1.0 / N as f32, &mut losses, &mut grad)?;
        black_box(&grad);
        Ok(())
    })?;
    if losses.iter().chain(grad.iter()).any(|v| !v.is_finite()) {
        return Err("w3: non-finite loss or gradient".into());
    }
    let fwd = time_median(2, 20, || {
        black_box(x.softmax(-1)?);
        Ok(())
    })?;
    let gbs = (2 * 4 * N * C) as f64 / fb / 1e9;
    eprintln!(
        "w3: fwd+bwd {:.2} ms ({gbs:.1} GB/s), softmax fwd {:.2} ms",
        fb * 1e3,
        fwd * 1e3
    );
    Ok((fb * 1e3, fwd * 1e3, gbs))
}

fn w4() -> Res<Vec<(String, Json)>> {
    let mut out = Vec::new();
    for (m, k, n) in [
        (1024, 1024, 1024),
        (128, 784, 256),
        (128, 256, 128),
        (4096, 4096, 4096),
    ] {
        let a = Tensor::<f32>::rand_uniform([m, k], -1.0, 1.0, 5);
        let b = Tensor::<f32>::rand_uniform([k, n], -1.0, 1.0, 6);
        let (warmup, reps) = if m == 4096 { (0, 1) } else { (2, 10) };
        let s = time_median(warmup, reps, || {
            black_box(a.matmul(&b)?);
            Ok(())
        })?;
        let gflops = 2.0 * (m * k * n) as f64 / s / 1e9;
        eprintln!("w4: {m}x{k}x{n} {gflops:.1} GFLOP/s");
        out.push((format!("{m}x{k}x{n}"), Json::Num(gflops)));
    }
    Ok(out)
}

fn w5() -> Res<(f64, f64)> {
    nn::set_random_seed(5);
    let model = mlp()?;
    let x1 = Tensor::<f32>::rand_uniform([1, 784], 0.0, 1.0, 7);
    let x1024 = Tensor::<f32>::rand_uniform([1024, 784], 0.0, 1.0, 8);
    let b1 = time_median(50, 1000, || {
        black_box(model.predict(&x1)?);
        Ok(())
    })?;
    let b1024 = time_median(5, 100, || {
        black_box(model.predict(&x1024)?);
        Ok(())
    })?;
    eprintln!(
        "w5: batch 1 {:.1} µs, batch 1024 {:.1} µs",
        b1 * 1e6,
        b1024 * 1e6
    );
    Ok((b1 * 1e6, b1024 * 1e6))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("workloads: {e}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    let args = Args::parse()?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build_global()?;
    let mut fig: BTreeMap<&str, Json> = BTreeMap::new();

    if args.runs("w1") || args.runs("w2") {
        eprintln!("loading Fashion-MNIST ...");
        let (train, test) = nn::datasets::fashion_mnist(None)?;
        if args.runs("w1") {
            let (epoch, acc) = w1(&train, &test, args.quick)?;
            fig.insert("w1_epoch_s", Json::Num(epoch));
            fig.insert("w1_test_acc_5ep", Json::num(acc));
        }
        if args.runs("w2") {
            let (step, acc) = w2(&train, &test, args.quick)?;
            fig.insert("w2_step_s", Json::Num(step));
            fig.insert("w2_test_acc_3ep", Json::num(acc));
        }
    }
    if args.runs("w3") {
        let (fb, fwd, gbs) = w3()?;
        fig.insert("w3_fwdbwd_ms", Json::Num(fb));
        fig.insert("w3_fwd_ms", Json::Num(fwd));
        fig.insert("w3_gbs", Json::Num(gbs));
    }
    if args.runs("w4") {
        fig.insert("w4", Json::Obj(w4()?));
    }
    if args.runs("w5") {
        let (b1, b1024) = w5()?;
        fig.insert("w5_b1_us", Json::Num(b1));
        fig.insert("w5_b1024_us", Json::Num(b1024));
    }

    let keys = [
        "w1_epoch_s",
        "w1_test_acc_5ep",
        "w2_step_s",
        "w2_test_acc_3ep",
        "w3_fwdbwd_ms",
        "w3_fwd_ms",
        "w3_gbs",
        "w4",
        "w5_b1_us",
        "w5_b1024_us",
    ];
    let mut fields = vec![
        ("framework".to_string(), Json::Str("nn".into())),
        (
            "version".to_string(),
            Json::Str(env!("CARGO_PKG_VERSION").into()),
        ),
        ("threads".to_string(), Json::Num(args.threads as f64)),
    ];
    for k in keys {
        fields.push((k.to_string(), fig.remove(k).unwrap_or(Json::Null)));
    }
    println!("{}", Json::Obj(fields).render());
    Ok(())
}
