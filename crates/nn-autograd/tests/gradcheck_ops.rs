//! Every registered differentiable op passes the f64 finite-difference gradient check on
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! several shapes (ranks 0–4, size-1 and broadcast axes, transposed views), and the suite
//! fails while any op in `DIFFERENTIABLE_OPS` has no case.

use std::collections::BTreeSet;

use nn_autograd::{gradcheck_many, GradCheckOptions, Result, Var, DIFFERENTIABLE_OPS};
use nn_tensor::{Padding, Tensor};

type Case = (
    &'static str,
    Box<dyn Fn(&[Var<f64>]) -> Result<Var<f64>>>,
    Vec<Tensor<f64>>,
);

fn u(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor<f64> {
    Tensor::rand_uniform(shape, lo, hi, seed)
}

/// Values spread apart so max/min/abs/relu have no ties or kinks within ±ε.
fn spread(shape: &[usize], seed: u64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let mut order: Vec<usize> = (0..n).collect();
    nn_tensor::random::Rng::seed(seed).shuffle(&mut order);
    let vals: Vec<f64> = order
        .iter()
        .map(|&i| (i as f64 - n as f64 / 2.0) * 0.37 + 0.11)
        .collect();
    Tensor::from_vec(vals, shape).unwrap()
}

fn case(
    name: &'static str,
    f: impl Fn(&[Var<f64>]) -> Result<Var<f64>> + 'static,
    inputs: Vec<Tensor<f64>>,
) -> Case {
    (name, Box::new(f), inputs)
}

fn cases() -> Vec<Case> {
    let mut c: Vec<Case> = Vec::new();
    // Binary ops over broadcasting patterns.
    let pairs: Vec<(Vec<usize>, Vec<usize>)> = vec![
        (vec![2, 3], vec![2, 3]),
        (vec![2, 3], vec![3]),
        (vec![2, 1], vec![1, 3]),
        (vec![4, 1, 3], vec![2, 1]),
        (vec![], vec![2, 3]),
        (vec![1], vec![2, 2, 1, 2]),
        (vec![3, 1, 2, 1], vec![1, 2, 1, 4]),
    ];
    for (i, (a, b)) in pairs.iter().enumerate() {
        let s = i as u64 * 10;
        c.push(case(
            "add",
            |v| v[0].add(&v[1]),
            vec![u(a, -1.0, 1.0, s), u(b, -1.0, 1.0, s + 1)],
        ));
        c.push(case(
            "sub",
            |v| v[0].sub(&v[1]),
            vec![u(a, -1.0, 1.0, s + 2), u(b, -1.0, 1.0, s + 3)],
        ));
        c.push(case(
            "mul",
            |v| v[0].mul(&v[1]),
            vec![u(a, -1.0, 1.0, s + 4), u(b, -1.0, 1.0, s + 5)],
        ));
        c.push(case(
            "div",
            |v| v[0].div(&v[1]),
            vec![u(a, -1.0, 1.0, s + 6), u(b, 0.5, 1.5, s + 7)],
        ));
        c.push(case(
            "pow",
            |v| v[0].pow(&v[1]),
            vec![u(a, 0.5, 1.5, s + 8), u(b, -1.5, 1.5, s + 9)],
        ));
    }
    c.push(case(
        "maximum",
        |v| v[0].maximum(&v[1]),
        vec![spread(&[3, 4], 1), spread(&[4], 2).map(|x| x + 0.05)],
    ));
    c.push(case(
        "minimum",
        |v| v[0].minimum(&v[1]),
        vec![spread(&[3, 4], 3), spread(&[3, 1], 4).map(|x| x + 0.05)],
    ));
    c.push(case(
        "select",
        |v| {
            let cond = Tensor::from_f64s(&[1.0, 0.0, 0.0, 1.0, 1.0, 0.0], [2, 3])?;
            Var::select(&cond, &v[0], &v[1])
        },
        vec![u(&[2, 3], -1.0, 1.0, 5), u(&[3], -1.0, 1.0, 6)],
    ));
    // Unary ops on several ranks, inputs inside each op's smooth domain.
    type UnaryFn = fn(&Var<f64>) -> Result<Var<f64>>;
    let unary: Vec<(&'static str, UnaryFn, f64, f64)> = vec![
        ("neg", |x| x.neg(), -2.0, 2.0),
        ("exp", |x| x.exp(), -2.0, 2.0),
        ("ln", |x| x.ln(), 0.2, 3.0),
        ("log1p", |x| x.log1p(), -0.5, 3.0),
        ("sqrt", |x| x.sqrt(), 0.2, 3.0),
        ("square", |x| x.square(), -2.0, 2.0),
        ("recip", |x| x.recip(), 0.3, 3.0),
        ("sin", |x| x.sin(), -3.0, 3.0),
        ("cos", |x| x.cos(), -3.0, 3.0),
        ("tanh", |x| x.tanh(), -3.0, 3.0),
        ("sigmoid", |x| x.sigmoid(), -6.0, 6.0),
        ("softplus", |x| x.softplus(), -6.0, 6.0),
        ("erf", |x| x.erf(), -2.5, 2.5),
        ("powf", |x| x.powf(2.5), 0.2, 2.0),
        ("add_scalar", |x| x.add_scalar(0.7), -1.0, 1.0),
        ("mul_scalar", |x| x.mul_scalar(-1.3), -1.0, 1.0),
    ];
    for (k, (name, f, lo, hi)) in unary.into_iter().enumerate() {
        for (j, shape) in [vec![], vec![5], vec![2, 3], vec![2, 1, 3, 2]]
            .into_iter()
            .enumerate()
        {
            c.push(case(
                name,
                move |v| f(&v[0]),
                vec![u(&shape, lo, hi, (k * 7 + j) as u64)],
            ));
        }
    }
    // Kinked unary ops, away from the kinks.
    c.push(case("abs", |v| v[0].abs(), vec![spread(&[3, 4], 7)]));
    c.push(case("relu", |v| v[0].relu(), vec![spread(&[3, 4], 8)]));
    c.push(case(
        "leaky_relu",
        |v| v[0].leaky_relu(0.2),
        vec![spread(&[2, 5], 9)],
    ));
    c.push(case("elu", |v| v[0].elu(1.0), vec![spread(&[2, 5], 10)]));
    c.push(case(
        "clamp",
        |v| v[0].clamp(-0.9, 1.3),
        vec![spread(&[2, 5], 11)],
    ));
    // Reductions.
    let x4 = || u(&[2, 3, 4, 2], -1.0, 1.0, 12);
    c.push(case("sum", |v| v[0].sum(&[1], false), vec![x4()]));
    c.push(case("sum", |v| v[0].sum(&[0, -1], true), vec![x4()]));
    c.push(case(
        "sum",
        |v| v[0].sum(&[], false),
        vec![u(&[3, 2], -1.0, 1.0, 1)],
    ));
    c.push(case("sum_all", |v| v[0].sum_all(), vec![x4()]));
    c.push(case("mean", |v| v[0].mean(&[2], false), vec![x4()]));
    c.push(case("mean", |v| v[0].mean(&[0, 3], true), vec![x4()]));
    c.push(case(
        "mean_all",
        |v| v[0].mean_all(),
        vec![u(&[4, 3], -1.0, 1.0, 2)],
    ));
    c.push(case(
        "max",
        |v| v[0].max(&[1], false),
        vec![spread(&[3, 4, 2], 13)],
    ));
    c.push(case(
        "max",
        |v| v[0].max(&[], false),
        vec![spread(&[3, 4], 14)],
    ));
    c.push(case(
        "min",
        |v| v[0].min(&[0, 2], true),
        vec![spread(&[3, 4, 2], 15)],
    ));
    c.push(case(
        "var",
        |v| v[0].var(&[1], false, 0),
        vec![u(&[3, 5], -1.0, 1.0, 16)],
    ));
    c.push(case(
        "var",
        |v| v[0].var(&[0, 1], true, 1),
        vec![u(&[3, 5], -1.0, 1.0, 17)],
    ));
    // Shape and indexing.
    c.push(case(
        "reshape",
        |v| v[0].reshape([3, 16]),
        vec![x4().reshape([6, 8]).unwrap()],
    ));
    c.push(case("permute", |v| v[0].permute(&[2, 0, 3, 1]), vec![x4()]));
    c.push(case(
        "permute",
        |v| v[0].t()?.reshape([6]),
        vec![u(&[2, 3], -1.0, 1.0, 3)],
    ));
    c.push(case(
        "broadcast_to",
        |v| v[0].broadcast_to([2, 3, 4]),
        vec![u(&[3, 1], -1.0, 1.0, 18)],
    ));
    c.push(case(
        "squeeze",
        |v| v[0].squeeze(1),
        vec![u(&[3, 1, 2], -1.0, 1.0, 19)],
    ));
    c.push(case(
        "unsqueeze",
        |v| v[0].unsqueeze(-1),
        vec![u(&[3, 2], -1.0, 1.0, 20)],
    ));
    c.push(case(
        "slice_axis",
        |v| v[0].slice_axis(1, 1, 3),
        vec![u(&[2, 4, 3], -1.0, 1.0, 21)],
    ));
    c.push(case(
        "slice_axis",
        |v| Ok(v[0].split(0, &[1, 2])?.remove(1)),
        vec![u(&[3, 2], -1.0, 1.0, 22)],
    ));
    c.push(case(
        "pad_axis",
        |v| v[0].pad_axis(-1, 2, 1, 0.0),
        vec![u(&[2, 3], -1.0, 1.0, 23)],
    ));
    c.push(case(
        "concat",
        |v| Var::concat(&[&v[0], &v[1], &v[0]], 1),
        vec![u(&[2, 3, 2], -1.0, 1.0, 24), u(&[2, 1, 2], -1.0, 1.0, 25)],
    ));
    c.push(case(
        "stack",
        |v| Var::stack(&[&v[0], &v[1]], 1),
        vec![u(&[2, 3], -1.0, 1.0, 26), u(&[2, 3], -1.0, 1.0, 27)],
    ));
    c.push(case(
        "index_select",
        |v| v[0].index_select(0, &[2, 0, 2, 1]),
        vec![u(&[3, 4], -1.0, 1.0, 28)],
    ));
    c.push(case(
        "index_select",
        |v| v[0].index_select(1, &[1, 1]),
        vec![u(&[2, 3, 2], -1.0, 1.0, 29)],
    ));
    c.push(case(
        "take_along_axis",
        |v| v[0].take_along_axis(-1, &[2, 0, 3]),
        vec![u(&[3, 4], -1.0, 1.0, 30)],
    ));
    c.push(case(
        "take_along_axis",
        |v| v[0].take_along_axis(0, &[1, 0, 1]),
        vec![u(&[2, 3], -1.0, 1.0, 31)],
    ));
    // Matrix products, including transposed views and a shared matrix.
    c.push(case(
        "matmul",
        |v| v[0].matmul(&v[1]),
        vec![u(&[3, 4], -1.0, 1.0, 32), u(&[4, 2], -1.0, 1.0, 33)],
    ));
    c.push(case(
        "matmul",
        |v| v[0].t()?.matmul(&v[1].t()?),
        vec![u(&[4, 3], -1.0, 1.0, 34), u(&[2, 4], -1.0, 1.0, 35)],
    ));
    c.push(case(
        "matmul",
        |v| v[0].matmul(&v[1]),
        vec![u(&[2, 3, 4], -1.0, 1.0, 36), u(&[2, 4, 5], -1.0, 1.0, 37)],
    ));
    c.push(case(
        "matmul",
        |v| v[0].matmul(&v[1]),
        vec![u(&[2, 3, 4], -1.0, 1.0, 38), u(&[4, 2], -1.0, 1.0, 39)],
    ));
    c.push(case(
        "matmul",
        |v| v[0].matmul(&v[1]),
        vec![u(&[1, 1], -1.0, 1.0, 40), u(&[1, 3], -1.0, 1.0, 41)],
    ));
    // Convolution and pooling (NHWC).
    c.push(case(
        "conv2d",
        |v| v[0].conv2d(&v[1], (1, 1), Padding::Valid),
        vec![
            u(&[2, 5, 4, 2], -1.0, 1.0, 42),
            u(&[3, 2, 2, 3], -1.0, 1.0, 43),
        ],
    ));
    c.push(case(
        "conv2d",
        |v| v[0].conv2d(&v[1], (2, 2), Padding::Same),
        vec![
            u(&[1, 5, 5, 1], -1.0, 1.0, 44),
            u(&[3, 3, 1, 2], -1.0, 1.0, 45),
        ],
    ));
    c.push(case(
        "conv1d",
        |v| v[0].conv1d(&v[1], 2, Padding::Same),
        vec![u(&[2, 7, 2], -1.0, 1.0, 46), u(&[3, 2, 3], -1.0, 1.0, 47)],
    ));
    c.push(case(
        "max_pool2d",
        |v| v[0].max_pool2d((2, 2), (2, 2), Padding::Valid),
        vec![spread(&[2, 4, 4, 2], 48)],
    ));
    c.push(case(
        "max_pool2d",
        |v| v[0].max_pool2d((3, 3), (2, 2), Padding::Same),
        vec![spread(&[1, 5, 5, 1], 49)],
    ));
    c.push(case(
        "avg_pool2d",
        |v| v[0].avg_pool2d((2, 2), (2, 2), Padding::Valid),
        vec![u(&[2, 4, 4, 2], -1.0, 1.0, 50)],
    ));
    c.push(case(
        "avg_pool2d",
        |v| v[0].avg_pool2d((3, 3), (2, 2), Padding::Same),
        vec![u(&[1, 5, 5, 2], -1.0, 1.0, 51)],
    ));
    c.push(case(
        "max_pool1d",
        |v| v[0].max_pool1d(2, 2, Padding::Valid),
        vec![spread(&[2, 6, 3], 52)],
    ));
    c.push(case(
        "avg_pool1d",
        |v| v[0].avg_pool1d(3, 1, Padding::Same),
        vec![u(&[2, 5, 2], -1.0, 1.0, 53)],
    ));
    c.push(case(
        "global_avg_pool2d",
        |v| v[0].global_avg_pool2d(),
        vec![u(&[2, 3, 2, 4], -1.0, 1.0, 54)],
    ));
    c.push(case(
        "global_max_pool2d",
        |v| v[0].global_max_pool2d(),
        vec![spread(&[2, 3, 2, 4], 55)],
    ));
    // The softmax family, including large logits.
    c.push(case(
        "softmax",
        |v| v[0].softmax(-1),
        vec![u(&[3, 5], -3.0, 3.0, 56)],
    ));
    c.push(case(
        "softmax",
        |v| v[0].softmax(0),
        vec![u(&[4, 2, 3], -3.0, 3.0, 57)],
    ));
    c.push(case(
        "log_softmax",
        |v| v[0].log_softmax(-1),
        vec![u(&[3, 5], -3.0, 3.0, 58)],
    ));
    c.push(case(
        "log_softmax",
        |v| v[0].log_softmax(1),
        vec![u(&[2, 4, 3], -30.0, 30.0, 59)],
    ));
    c.push(case(
        "logsumexp",
        |v| v[0].logsumexp(-1, false),
        vec![u(&[3, 5], -3.0, 3.0, 60)],
    ));
    c.push(case(
        "logsumexp",
        |v| v[0].logsumexp(0, true),
        vec![u(&[3, 5], -3.0, 3.0, 61)],
    ));
    c.push(case(
        "softmax_cross_entropy",
        |v| v[0].softmax_cross_entropy(&[2, 0, 4]),
        vec![u(&[3, 5], -3.0, 3.0, 62)],
    ));
    c.push(case(
        "softmax_cross_entropy",
        |v| v[0].softmax_cross_entropy(&[1, 0])?.mean_all(),
        vec![u(&[2, 7], -50.0, 50.0, 63)],
    ));
    c
}

#[test]
fn gradcheck_every_registered_op() {
    let opts = GradCheckOptions::default();
    let mut covered: BTreeSet<&'static str> = BTreeSet::new();
    let mut failures = Vec::new();
    for (name, f, inputs) in cases() {
        match gradcheck_many(&*f, &inputs, &opts) {
            Ok(report) => {
                assert!(
                    report.ops.contains(&name),
                    "case for `{name}` recorded only {:?}",
                    report.ops
                );
                assert!(report.max_rel_error <= 1e-6, "{name}: {report}");
                covered.extend(report.ops);
            }
            Err(e) => failures.push(format!(
                "{name} {:?}: {e}",
                inputs
                    .iter()
                    .map(|t| t.shape().to_vec())
                    .collect::<Vec<_>>()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "gradient checks failed:\n{}",
        failures.join("\n")
    );
    let missing: Vec<&&str> = DIFFERENTIABLE_OPS
        .iter()
        .filter(|op| !covered.contains(**op))
        .collect();
    assert!(
        missing.is_empty(),
        "registered ops without a gradient check: {missing:?}"
    );
}

#[test]
fn gradcheck_reports_a_wrong_gradient() {
    // An op with a deliberately wrong backward (factor 2 instead of 3) must fail the check,
    // and the report must name the worst element.
    let wrong = |v: &[Var<f64>]| -> Result<Var<f64>> {
        let x = &v[0];
        let value = x.value().mul_scalar(3.0);
        Ok(Var::from_op("triple_wrong", value, &[x], |g, _| {
            Ok(vec![Some(g.mul_scalar(2.0))])
        }))
    };
    let err = gradcheck_many(
        wrong,
        &[Tensor::from_f64s(&[1.0, 2.0], [2]).unwrap()],
        &GradCheckOptions::default(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("worst") && text.contains("analytic"),
        "{text}"
    );
}
