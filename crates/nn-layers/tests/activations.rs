//! Activation functions: forward values against 1200-digit references, derivatives against
//! references and the f64 finite-difference check, extreme inputs, the fused bias +
//! activation op, `step`'s non-differentiability, SELU's self-normalizing fixed point and
//! name round trips.
//!
//! Reference values: computed with mpmath 1.4.1 at 1200 significant digits from the textbook
//! definitions (as Keras 3 / PyTorch define them), rounded once to f64:
//! sigmoid 1/(1+e^-x); hard_sigmoid relu6(x+3)/6 (Keras 3); tanh; relu; relu6 min(max(x,0),6);
//! leaky_relu (alpha 0.2) x>0 ? x : 0.2x; elu (alpha 1) x>0 ? x : e^x-1;
//! selu 1.0507009873554804934·(x>0 ? x : 1.6732632423543772848·(e^x-1)); softplus ln(1+e^x);
//! softsign x/(1+|x|); swish x·sigmoid(x); gelu x/2·erfc(-x/√2);
//! gelu_tanh x/2·(1+tanh(√(2/π)(x+0.044715x³))); mish x·tanh(ln(1+e^x)).
//! Derivatives: mpmath.diff of the same definitions at the same precision.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use nn_autograd::{gradcheck_many, no_grad, AutogradError, GradCheckOptions, Var};
use nn_layers::{
    activation, bias_activation, Activation, Dense, ForwardCtx, Initializer, Layer, LayerError,
    LayerExt, ACTIVATION_NAMES, SELU_ALPHA, SELU_SCALE,
};
use nn_tensor::random::Rng;
use nn_tensor::Tensor;

const XS: [f64; 17] = [
    -1e4, -50.0, -20.0, -5.0, -2.5, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 2.5, 5.0, 20.0, 50.0,
    1e4,
];

/// Forward references at `XS` (see the module comment).
const FORWARD: &[(&str, [f64; 17])] = &[
    (
        "sigmoid",
        [
            0.0,
            1.9287498479639178e-22,
            2.0611536181902037e-09,
            0.0066928509242848554,
            0.07585818002124355,
            0.2689414213699951,
            0.37754066879814546,
            0.4997500000208333,
            0.5,
            0.5002499999791666,
            0.6224593312018546,
            0.7310585786300049,
            0.9241418199787564,
            0.9933071490757152,
            0.9999999979388464,
            1.0,
            1.0,
        ],
    ),
    (
        "hard_sigmoid",
        [
            0.0,
            0.0,
            0.0,
            0.0,
            0.08333333333333333,
            0.3333333333333333,
            0.4166666666666667,
            0.49983333333333335,
            0.5,
            0.5001666666666666,
            0.5833333333333334,
            0.6666666666666666,
            0.9166666666666666,
            1.0,
            1.0,
            1.0,
            1.0,
        ],
    ),
    (
        "tanh",
        [
            -1.0,
            -1.0,
            -1.0,
            -0.9999092042625951,
            -0.9866142981514303,
            -0.7615941559557649,
            -0.46211715726000974,
            -0.0009999996666668,
            0.0,
            0.0009999996666668,
            0.46211715726000974,
            0.7615941559557649,
            0.9866142981514303,
            0.9999092042625951,
            1.0,
            1.0,
            1.0,
        ],
    ),
    (
        "relu",
        [
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.001, 0.5, 1.0, 2.5, 5.0, 20.0, 50.0,
            10000.0,
        ],
    ),
    (
        "relu6",
        [
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.001, 0.5, 1.0, 2.5, 5.0, 6.0, 6.0, 6.0,
        ],
    ),
    (
        "leaky_relu",
        [
            -2000.0, -10.0, -4.0, -1.0, -0.5, -0.2, -0.1, -0.0002, 0.0, 0.001, 0.5, 1.0, 2.5, 5.0,
            20.0, 50.0, 10000.0,
        ],
    ),
    (
        "elu",
        [
            -1.0,
            -1.0,
            -0.9999999979388464,
            -0.9932620530009145,
            -0.9179150013761012,
            -0.6321205588285577,
            -0.3934693402873666,
            -0.0009995001666250082,
            0.0,
            0.001,
            0.5,
            1.0,
            2.5,
            5.0,
            20.0,
            50.0,
            10000.0,
        ],
    ),
    (
        "selu",
        [
            -1.7580993408473768,
            -1.7580993408473768,
            -1.758099337223664,
            -1.7462533606696202,
            -1.6137857588732425,
            -1.1113307378125628,
            -0.6917581878028713,
            -0.0017572205841202705,
            0.0,
            0.0010507009873554805,
            0.5253504936777402,
            1.0507009873554805,
            2.6267524683887014,
            5.253504936777403,
            21.01401974710961,
            52.53504936777402,
            10507.009873554805,
        ],
    ),
    (
        "softplus",
        [
            0.0,
            1.9287498479639178e-22,
            2.061153620314381e-09,
            0.006715348489118068,
            0.07888973429254963,
            0.3132616875182228,
            0.4740769841801067,
            0.6926473055599401,
            std::f64::consts::LN_2, // softplus(0) = ln 2
            0.6936473055599401,
            0.9740769841801067,
            1.3132616875182228,
            2.5788897342925496,
            5.006715348489118,
            20.000000002061153,
            50.0,
            10000.0,
        ],
    ),
    (
        "softsign",
        [
            -0.9999000099990001,
            -0.9803921568627451,
            -0.9523809523809523,
            -0.8333333333333334,
            -0.7142857142857143,
            -0.5,
            -0.3333333333333333,
            -0.000999000999000999,
            0.0,
            0.000999000999000999,
            0.3333333333333333,
            0.5,
            0.7142857142857143,
            0.8333333333333334,
            0.9523809523809523,
            0.9803921568627451,
            0.9999000099990001,
        ],
    ),
    (
        "swish",
        [
            -0.0,
            -9.643749239819589e-21,
            -4.122307236380407e-08,
            -0.03346425462142428,
            -0.18964545005310887,
            -0.2689414213699951,
            -0.18877033439907273,
            -0.0004997500000208334,
            0.0,
            0.0005002499999791667,
            0.3112296656009273,
            0.7310585786300049,
            2.310354549946891,
            4.966535745378576,
            19.99999995877693,
            50.0,
            10000.0,
        ],
    ),
    (
        "gelu",
        [
            -0.0,
            -0.0,
            -5.507248237212468e-88,
            -1.4332578593959695e-06,
            -0.015524163314440337,
            -0.15865525393145705,
            -0.15426876936299344,
            -0.000499601057786089,
            0.0,
            0.000500398942213911,
            0.34573123063700656,
            0.8413447460685429,
            2.4844758366855597,
            4.999998566742141,
            20.0,
            50.0,
            10000.0,
        ],
    ),
    (
        "gelu_tanh",
        [
            0.0,
            0.0,
            -3.3754509563109673e-261,
            -2.291796196629506e-07,
            -0.015084266089998582,
            -0.1588080093917233,
            -0.15428599017485609,
            -0.000499601057786418,
            0.0,
            0.000500398942213582,
            0.34571400982514394,
            0.8411919906082767,
            2.484915733910001,
            4.999999770820381,
            20.0,
            50.0,
            10000.0,
        ],
    ),
    (
        "mish",
        [
            0.0,
            -9.643749239819589e-21,
            -4.122307240628761e-08,
            -0.033576237730161704,
            -0.19681620390653334,
            -0.3034014613741089,
            -0.22074377465173,
            -0.0005996799840458663,
            0.0,
            0.000600319983954133,
            0.37524521130489513,
            0.8650983882673103,
            2.471392304557881,
            4.999552077529406,
            20.0,
            50.0,
            10000.0,
        ],
    ),
];

const DXS: [f64; 10] = [-1e4, -50.0, -20.0, -5.0, -0.5, 0.5, 5.0, 20.0, 50.0, 1e4];

/// Derivative references at `DXS` (no kink among these points).
const DERIVATIVE: &[(&str, [f64; 10])] = &[
    (
        "sigmoid",
        [
            0.0,
            1.9287498479639178e-22,
            2.061153613941849e-09,
            0.006648056670790155,
            0.2350037122015945,
            0.2350037122015945,
            0.006648056670790155,
            2.061153613941849e-09,
            1.9287498479639178e-22,
            0.0,
        ],
    ),
    (
        "hard_sigmoid",
        [
            0.0,
            0.0,
            0.0,
            0.0,
            0.16666666666666666,
            0.16666666666666666,
            0.0,
            0.0,
            0.0,
            0.0,
        ],
    ),
    (
        "tanh",
        [
            0.0,
            1.4880303904083344e-43,
            1.6993417021166355e-17,
            0.0001815832309438067,
            0.7864477329659274,
            0.7864477329659274,
            0.0001815832309438067,
            1.6993417021166355e-17,
            1.4880303904083344e-43,
            0.0,
        ],
    ),
    ("relu", [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
    ("relu6", [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]),
    (
        "leaky_relu",
        [0.2, 0.2, 0.2, 0.2, 0.2, 1.0, 1.0, 1.0, 1.0, 1.0],
    ),
    (
        "elu",
        [
            0.0,
            1.9287498479639178e-22,
            2.061153622438558e-09,
            0.006737946999085467,
            0.6065306597126334,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
        ],
    ),
    (
        "selu",
        [
            0.0,
            3.390933836364842e-22,
            3.6237128249944117e-09,
            0.01184598017775672,
            1.0663411530445055,
            1.0507009873554805,
            1.0507009873554805,
            1.0507009873554805,
            1.0507009873554805,
            1.0507009873554805,
        ],
    ),
    (
        "softplus",
        [
            0.0,
            1.9287498479639178e-22,
            2.0611536181902037e-09,
            0.0066928509242848554,
            0.37754066879814546,
            0.6224593312018546,
            0.9933071490757152,
            0.9999999979388464,
            1.0,
            1.0,
        ],
    ),
    (
        "softsign",
        [
            9.998000299960006e-09,
            0.00038446751249519417,
            0.0022675736961451248,
            0.027777777777777776,
            0.4444444444444444,
            0.4444444444444444,
            0.027777777777777776,
            0.0022675736961451248,
            0.00038446751249519417,
            9.998000299960006e-09,
        ],
    ),
    (
        "swish",
        [
            -0.0,
            -9.450874255023197e-21,
            -3.9161918660646786e-08,
            -0.02654743242966592,
            0.2600388126973482,
            0.7399611873026518,
            1.026547432429666,
            1.0000000391619186,
            1.0,
            1.0,
        ],
    ),
    (
        "gelu",
        [
            -0.0,
            -0.0,
            -1.1014360483133464e-86,
            -7.146946001792295e-06,
            0.13250487534383715,
            0.8674951246561629,
            1.000007146946002,
            1.0,
            1.0,
            1.0,
        ],
    ),
    (
        "gelu_tanh",
        [
            0.0,
            0.0,
            -2.9424328724945027e-259,
            -1.5463619875325946e-06,
            0.1326300964653577,
            0.8673699035346423,
            1.0000015463619876,
            1.0,
            1.0,
            1.0,
        ],
    ),
    (
        "mish",
        [
            0.0,
            -9.450874255023197e-21,
            -3.916191874348969e-08,
            -0.026747498019901932,
            0.2895106779135122,
            0.8864243753577272,
            1.0008002248320826,
            1.0000000000000002,
            1.0,
            1.0,
        ],
    ),
];

fn act(name: &str) -> Activation {
    Activation::from_name(name).unwrap()
}

/// Every element-wise differentiable activation (all but step, softmax, log_softmax).
fn differentiable() -> Vec<Activation> {
    [
        "linear",
        "sigmoid",
        "hard_sigmoid",
        "tanh",
        "relu",
        "relu6",
        "leaky_relu",
        "elu",
        "selu",
        "softplus",
        "softsign",
        "swish",
        "gelu",
        "gelu_tanh",
        "mish",
    ]
    .iter()
    .map(|n| act(n))
    .collect()
}

fn forward_f64(a: Activation, xs: &[f64]) -> Vec<f64> {
    let x = Var::constant(Tensor::<f64>::from_f64s(xs, [xs.len()]).unwrap());
    a.apply(&x).unwrap().value().to_vec()
}

fn grad_f64(a: Activation, xs: &[f64]) -> Vec<f64> {
    let x = Var::param(Tensor::<f64>::from_f64s(xs, [xs.len()]).unwrap());
    let y = a.apply(&x).unwrap();
    let grads = y.sum_all().unwrap().backward().unwrap();
    grads
        .get(&x)
        .map(|g| g.to_vec())
        .unwrap_or_else(|| vec![0.0; xs.len()])
}

fn close(a: f64, r: f64, rtol: f64, atol: f64) -> bool {
    (a - r).abs() <= atol + rtol * r.abs() || a == r
}

#[test]
fn activations_forward_match_references_f64() {
    for (name, expected) in FORWARD {
        let got = forward_f64(act(name), &XS);
        for ((x, g), r) in XS.iter().zip(&got).zip(expected) {
            assert!(
                close(*g, *r, 1e-13, 1e-300),
                "{name}({x}) = {g:e}, reference {r:e}"
            );
        }
    }
}

#[test]
fn activations_forward_match_references_f32() {
    for (name, expected) in FORWARD {
        let x = Var::constant(Tensor::<f32>::from_f64s(&XS, [XS.len()]).unwrap());
        let got = act(name).apply(&x).unwrap().value().to_f64_vec();
        for ((x, g), r) in XS.iter().zip(&got).zip(expected) {
            // f32 rounding of the input and of every step: a few ulp (2^-24 ≈ 6e-8).
            assert!(
                close(*g, *r, 1e-6, 1e-37),
                "f32 {name}({x}) = {g:e}, reference {r:e}"
            );
        }
    }
}

#[test]
fn activations_zero_and_negative_zero() {
    for a in differentiable() {
        for z in [0.0, -0.0] {
            let y = forward_f64(a, &[z])[0];
            let expected = match a.name() {
                "sigmoid" | "hard_sigmoid" => 0.5,
                "softplus" => std::f64::consts::LN_2,
                _ => 0.0,
            };
            assert_eq!(y, expected, "{a}({z})");
        }
    }
    assert_eq!(
        forward_f64(Activation::Step, &[0.0, -0.0, 1e-300, -1e-300]),
        vec![0.0, 0.0, 1.0, 0.0]
    );
    assert_eq!(forward_f64(Activation::Sigmoid, &[-0.0])[0], 0.5);
    assert_eq!(
        forward_f64(act("softplus"), &[-0.0])[0],
        std::f64::consts::LN_2
    );
}

#[test]
fn activations_infinities_give_limits() {
    let inf = f64::INFINITY;
    let sa = SELU_SCALE * SELU_ALPHA;
    // (name, f(−inf), f(+inf), f′(−inf), f′(+inf))
    let cases: &[(&str, f64, f64, f64, f64)] = &[
        ("linear", -inf, inf, 1.0, 1.0),
        ("sigmoid", 0.0, 1.0, 0.0, 0.0),
        ("hard_sigmoid", 0.0, 1.0, 0.0, 0.0),
        ("tanh", -1.0, 1.0, 0.0, 0.0),
        ("relu", 0.0, inf, 0.0, 1.0),
        ("relu6", 0.0, 6.0, 0.0, 0.0),
        ("leaky_relu", -inf, inf, 0.2, 1.0),
        ("elu", -1.0, inf, 0.0, 1.0),
        ("selu", -sa, inf, 0.0, SELU_SCALE),
        ("softplus", 0.0, inf, 0.0, 1.0),
        ("softsign", -1.0, 1.0, 0.0, 0.0),
        ("swish", 0.0, inf, 0.0, 1.0),
        ("gelu", 0.0, inf, 0.0, 1.0),
        ("gelu_tanh", 0.0, inf, 0.0, 1.0),
        ("mish", 0.0, inf, 0.0, 1.0),
    ];
    for &(name, lo, hi, dlo, dhi) in cases {
        let y = forward_f64(act(name), &[-inf, inf]);
        assert!(
            close(y[0], lo, 1e-15, 0.0) && close(y[1], hi, 1e-15, 0.0),
            "{name}(±inf) = {y:?}"
        );
        let d = grad_f64(act(name), &[-inf, inf]);
        assert!(
            close(d[0], dlo, 1e-15, 0.0) && close(d[1], dhi, 1e-15, 0.0),
            "{name}'(±inf) = {d:?}"
        );
        // f32 too: no overflow to NaN anywhere.
        let x32 = Var::param(
            Tensor::<f32>::from_f64s(&[-inf, -1e4, -88.0, 88.0, 1e4, inf], [6]).unwrap(),
        );
        let y32 = act(name).apply(&x32).unwrap();
        assert!(
            y32.value().to_vec().iter().all(|v| !v.is_nan()),
            "f32 {name}: {:?}",
            y32.value()
        );
        let g32 = y32.sum_all().unwrap().backward().unwrap();
        let g32 = g32.get(&x32).map(|g| g.to_vec()).unwrap_or_default();
        assert!(g32.iter().all(|v| v.is_finite()), "f32 {name}': {g32:?}");
    }
}

#[test]
fn activations_nan_propagates() {
    for a in differentiable() {
        assert!(forward_f64(a, &[f64::NAN])[0].is_nan(), "{a}(NaN)");
    }
}

#[test]
fn activations_derivatives_match_references() {
    for (name, expected) in DERIVATIVE {
        let got = grad_f64(act(name), &DXS);
        for ((x, g), r) in DXS.iter().zip(&got).zip(expected) {
            // Absolute 1e-15: sigmoid′ = y(1 − y) and tanh′ = 1 − y² lose relative accuracy
            // where they are ~1e-9 and below (as in every framework); all else is relative.
            assert!(
                close(*g, *r, 1e-10, 1e-15),
                "{name}'({x}) = {g:e}, reference {r:e}"
            );
            assert!(g.is_finite());
        }
    }
}

/// Points at least 0.1 away from every kink (0, ±3 for hard_sigmoid, 6 for relu6).
fn smooth_points(seed: u64) -> Tensor<f64> {
    let base = [
        -6.4, -4.7, -3.6, -2.4, -1.3, -0.6, -0.2, 0.25, 0.7, 1.4, 2.6, 3.3, 4.4, 5.5, 6.6, 8.1,
    ];
    let mut v = base.to_vec();
    Rng::seed(seed).shuffle(&mut v);
    Tensor::from_vec(v, [4, 4]).unwrap()
}

#[test]
fn activations_pass_gradcheck() {
    let opts = GradCheckOptions::default();
    for a in differentiable() {
        let report = gradcheck_many(
            |v| a.apply(&v[0]).map_err(to_autograd),
            &[smooth_points(3)],
            &opts,
        )
        .unwrap_or_else(|e| panic!("{a}: {e}"));
        assert_eq!(report.checked, 16);
    }
    // Softmax and log-softmax on both axes (the projection makes the check a full VJP).
    for a in [
        Activation::Softmax { axis: -1 },
        Activation::Softmax { axis: 0 },
        Activation::LogSoftmax { axis: -1 },
    ] {
        let x = Tensor::rand_uniform([3, 5], -3.0, 3.0, 11);
        gradcheck_many(|v| a.apply(&v[0]).map_err(to_autograd), &[x], &opts)
            .unwrap_or_else(|e| panic!("{a:?}: {e}"));
    }
}

fn to_autograd(e: LayerError) -> AutogradError {
    match e {
        LayerError::Autograd(a) => a,
        other => AutogradError::Invalid {
            op: "test",
            message: other.to_string(),
        },
    }
}

#[test]
fn activations_fused_are_single_nodes() {
    let x = Var::param(Tensor::<f32>::rand_uniform([2, 3], -1.0, 1.0, 1));
    let expect = [
        ("hard_sigmoid", "hard_sigmoid"),
        ("relu6", "relu6"),
        ("selu", "selu"),
        ("softsign", "softsign"),
        ("swish", "swish"),
        ("gelu", "gelu"),
        ("gelu_tanh", "gelu_tanh"),
        ("mish", "mish"),
        ("relu", "relu"),
        ("sigmoid", "sigmoid"),
        ("tanh", "tanh"),
        ("elu", "elu"),
        ("leaky_relu", "leaky_relu"),
        ("softplus", "softplus"),
        ("softmax", "softmax"),
        ("log_softmax", "log_softmax"),
    ];
    for (name, op) in expect {
        let y = activation(name, &x).unwrap();
        assert_eq!(y.op(), op, "{name}");
    }
    let b = Var::param(Tensor::<f32>::zeros([3]));
    assert_eq!(
        bias_activation(&x, Some(&b), Activation::Relu)
            .unwrap()
            .op(),
        "bias_relu"
    );
    assert_eq!(
        bias_activation(&x, Some(&b), act("gelu")).unwrap().op(),
        "bias_gelu"
    );
    assert_eq!(
        bias_activation(&x, Some(&b), Activation::Linear)
            .unwrap()
            .op(),
        "add"
    );
    assert_eq!(
        bias_activation(&x, None, Activation::Relu).unwrap().op(),
        "relu"
    );
}

#[test]
fn activations_step_backward_is_non_differentiable() {
    let x = Var::param(Tensor::<f64>::from_f64s(&[-1.0, 2.0], [2]).unwrap());
    let y = Activation::Step.apply(&x).unwrap();
    assert_eq!(y.value().to_vec(), vec![0.0, 1.0]);
    let err = y.sum_all().unwrap().backward().unwrap_err();
    assert_eq!(err, AutogradError::NonDifferentiable { op: "step" });
    // Through the bias path as well.
    let b = Var::param(Tensor::<f64>::from_f64s(&[0.5, -3.0], [2]).unwrap());
    let y = bias_activation(&x, Some(&b), Activation::Step).unwrap();
    assert_eq!(y.value().to_vec(), vec![0.0, 0.0]);
    assert!(matches!(
        y.sum_all().unwrap().backward(),
        Err(AutogradError::NonDifferentiable { op: "step" })
    ));
}

#[test]
fn activations_names_round_trip() {
    let names: Vec<&str> = ACTIVATION_NAMES.split(", ").collect();
    assert_eq!(names.len(), 19);
    for n in names {
        let a = act(n);
        assert_eq!(act(a.name()), a, "{n}");
        assert_eq!(a.to_string(), a.name());
        assert_eq!(n.parse::<Activation>().unwrap(), a);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Activation>(&json).unwrap(), a);
    }
    assert_eq!(act("silu"), Activation::Swish);
    assert_eq!(act("leaky_relu"), Activation::LeakyRelu { alpha: 0.2 });
    assert_eq!(act("gelu"), Activation::Gelu { approximate: false });
    let e = Activation::from_name("relu7").unwrap_err().to_string();
    assert!(e.contains("relu7") && e.contains("gelu_tanh"), "{e}");
    // Non-default parameters survive serde (names are for defaults).
    let a = Activation::Elu { alpha: 0.5 };
    assert_eq!(
        serde_json::from_str::<Activation>(&serde_json::to_string(&a).unwrap()).unwrap(),
        a
    );
}

#[test]
fn softmax_family_reference_values() {
    // mpmath (1200 digits): softmax/log_softmax of [1, 2, 3, −4] and [1e4, 0, −1e4, 5].
    let x = Var::constant(
        Tensor::<f64>::from_f64s(&[1.0, 2.0, 3.0, -4.0, 1e4, 0.0, -1e4, 5.0], [2, 4]).unwrap(),
    );
    let sm = Activation::Softmax { axis: -1 }
        .apply(&x)
        .unwrap()
        .value()
        .to_vec();
    let ls = Activation::LogSoftmax { axis: -1 }
        .apply(&x)
        .unwrap()
        .value()
        .to_vec();
    let sm_ref = [
        0.08997599182352127,
        0.2445801035714575,
        0.6648376511409242,
        0.0006062534640970337,
        1.0,
        0.0,
        0.0,
        0.0,
    ];
    let ls_ref = [
        -2.408212401754417,
        -1.4082124017544173,
        -0.4082124017544173,
        -7.408212401754417,
        0.0,
        -10000.0,
        -20000.0,
        -9995.0,
    ];
    for i in 0..8 {
        assert!(
            close(sm[i], sm_ref[i], 1e-14, 1e-300),
            "softmax[{i}] {} vs {}",
            sm[i],
            sm_ref[i]
        );
        assert!(
            close(ls[i], ls_ref[i], 1e-14, 1e-300),
            "log_softmax[{i}] {} vs {}",
            ls[i],
            ls_ref[i]
        );
    }
}

// ------------------------------------------------------------------ bias_activation

fn all_fusable() -> Vec<Activation> {
    let mut v = differentiable();
    v.push(Activation::LeakyRelu { alpha: -0.5 }); // negative slope: derivative from the input
    v.push(Activation::Elu { alpha: 0.7 });
    v
}

#[test]
fn bias_activation_matches_composed_values_and_gradients() {
    let x0 = smooth_points(5);
    // Small biases keep x + b away from every kink.
    let b0 = Tensor::<f64>::from_f64s(&[0.03, -0.04, 0.02, -0.01], [4]).unwrap();
    for a in all_fusable() {
        let (x, b) = (Var::param(x0.clone()), Var::param(b0.clone()));
        let fused = bias_activation(&x, Some(&b), a).unwrap();
        let seed = Tensor::rand_normal([4, 4], 0.0, 1.0, 9);
        let gf = fused.backward_with(seed.clone()).unwrap();
        let (x2, b2) = (Var::param(x0.clone()), Var::param(b0.clone()));
        let composed = a.apply(&x2.add(&b2).unwrap()).unwrap();
        let gc = composed.backward_with(seed).unwrap();
        assert!(
            fused.value().allclose(composed.value(), 1e-14, 1e-300),
            "{a:?}"
        );
        assert!(
            gf.get(&x)
                .unwrap()
                .allclose(gc.get(&x2).unwrap(), 1e-12, 1e-15),
            "{a:?} dx"
        );
        assert!(
            gf.get(&b)
                .unwrap()
                .allclose(gc.get(&b2).unwrap(), 1e-12, 1e-15),
            "{a:?} dbias"
        );
    }
}

#[test]
fn bias_activation_passes_gradcheck() {
    let opts = GradCheckOptions::default();
    let b0 = Tensor::<f64>::from_f64s(&[0.03, -0.04, 0.02, -0.01], [4]).unwrap();
    for a in all_fusable().into_iter().chain([
        Activation::Softmax { axis: -1 },
        Activation::LogSoftmax { axis: 0 },
    ]) {
        let f = |v: &[Var<f64>]| bias_activation(&v[0], Some(&v[1]), a).map_err(to_autograd);
        let report = gradcheck_many(f, &[smooth_points(7), b0.clone()], &opts)
            .unwrap_or_else(|e| panic!("{a:?}: {e}"));
        assert_eq!(report.checked, 20);
    }
    // Rank 3: the bias broadcasts over both leading axes.
    let x = Tensor::<f64>::rand_uniform([2, 3, 4], 0.5, 2.0, 3);
    let f = |v: &[Var<f64>]| bias_activation(&v[0], Some(&v[1]), act("gelu")).map_err(to_autograd);
    gradcheck_many(f, &[x, b0], &opts).unwrap();
}

#[test]
fn bias_activation_large_path_matches_small_path() {
    // 300 × 256 = 76 800 elements: above the parallel threshold (65 536), so the backward
    // takes the parallel path; each 100-row block alone takes the fused one-pass loop.
    let (rows, units) = (300, 256);
    let x0 = Tensor::<f64>::rand_uniform([rows, units], -4.0, 4.0, 1);
    let b0 = Tensor::<f64>::rand_uniform([units], -0.5, 0.5, 2);
    let g0 = Tensor::<f64>::rand_normal([rows, units], 0.0, 1.0, 3);
    for a in [
        Activation::Relu,
        act("gelu"),
        Activation::Sigmoid,
        act("swish"),
    ] {
        let (x, b) = (Var::param(x0.clone()), Var::param(b0.clone()));
        let y = bias_activation(&x, Some(&b), a).unwrap();
        let grads = y.backward_with(g0.clone()).unwrap();
        let (dx, db) = (
            grads.get(&x).unwrap().to_vec(),
            grads.get(&b).unwrap().to_vec(),
        );
        let mut db_blocks = vec![0.0; units];
        for block in 0..3 {
            let xs = Var::param(
                x0.slice_axis(0, block * 100, (block + 1) * 100)
                    .unwrap()
                    .contiguous(),
            );
            let bs = Var::param(b0.clone());
            let gs = g0
                .slice_axis(0, block * 100, (block + 1) * 100)
                .unwrap()
                .contiguous();
            let ys = bias_activation(&xs, Some(&bs), a).unwrap();
            let gr = ys.backward_with(gs).unwrap();
            let dxs = gr.get(&xs).unwrap().to_vec();
            assert_eq!(
                dxs[..],
                dx[block * 100 * units..(block + 1) * 100 * units],
                "{a:?}"
            );
            for (acc, v) in db_blocks.iter_mut().zip(gr.get(&bs).unwrap().to_vec()) {
                *acc += v;
            }
        }
        for (j, (p, s)) in db.iter().zip(&db_blocks).enumerate() {
            assert!(close(*p, *s, 1e-12, 1e-12), "{a:?} dbias[{j}]: {p} vs {s}");
        }
    }
}

#[test]
fn bias_activation_extreme_inputs() {
    let x = Var::param(
        Tensor::<f32>::from_f64s(&[-1e4, 1e4, f64::NEG_INFINITY, f64::INFINITY], [2, 2]).unwrap(),
    );
    let b = Var::param(Tensor::<f32>::from_f64s(&[1.0, -1.0], [2]).unwrap());
    for a in differentiable() {
        let y = bias_activation(&x, Some(&b), a).unwrap();
        assert!(
            y.value().to_vec().iter().all(|v| !v.is_nan()),
            "{a}: {:?}",
            y.value()
        );
        let g = y.sum_all().unwrap().backward().unwrap();
        assert!(g.get(&x).unwrap().is_finite_all(), "{a} dx");
        assert!(g.get(&b).unwrap().is_finite_all(), "{a} dbias");
    }
}

#[test]
fn bias_activation_checks_shapes() {
    let x = Var::param(Tensor::<f32>::zeros([2, 3]));
    for bad in [vec![2], vec![1, 3], vec![]] {
        let b = Var::param(Tensor::<f32>::zeros(&bad));
        let e = bias_activation(&x, Some(&b), Activation::Relu)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bias_activation")
                && e.contains("[2, 3]")
                && e.contains(&format!("{bad:?}")),
            "{e}"
        );
    }
    let scalar = Var::param(Tensor::<f32>::scalar(1.0));
    let b = Var::param(Tensor::<f32>::zeros([1]));
    assert!(bias_activation(&scalar, Some(&b), Activation::Relu).is_err());
}

#[test]
fn bias_activation_without_grad_records_nothing() {
    let x = Var::param(Tensor::<f32>::ones([2, 3]));
    let b = Var::param(Tensor::<f32>::ones([3]));
    let y = no_grad(|| bias_activation(&x, Some(&b), act("mish")).unwrap());
    assert!(!y.requires_grad());
    let y = bias_activation(
        &Var::constant(Tensor::<f32>::ones([2, 3])),
        None,
        act("gelu"),
    )
    .unwrap();
    assert!(!y.requires_grad());
}

// ------------------------------------------------------------------ SELU

fn moments(t: &Tensor<f64>) -> (f64, f64) {
    let v = t.to_vec();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var)
}

fn deep_stack_moments(activation: &str, depth: usize) -> (f64, f64) {
    let width = 128;
    let mut rng = Rng::seed(42);
    let mut x = Var::constant(Tensor::<f64>::rand_normal([512, width], 0.0, 1.0, 7));
    for _ in 0..depth {
        let mut layer = Dense::<f64>::new(width)
            .activation(activation)
            .kernel_initializer(Initializer::LecunNormal);
        layer.build(&[vec![width]], &mut rng).unwrap();
        let mut ctx = ForwardCtx::new(false, &mut rng);
        x = no_grad(|| layer.forward(&x, &mut ctx)).unwrap();
    }
    moments(x.value())
}

#[test]
fn selu_is_self_normalizing() {
    // Klambauer et al. (2017): with lecun_normal weights and standardized inputs, SELU's
    // fixed point is mean 0, variance 1 — after 32 layers the activations are still there.
    let (mean, var) = deep_stack_moments("selu", 32);
    assert!(
        mean.abs() < 0.1 && (var - 1.0).abs() < 0.15,
        "selu: mean {mean}, var {var}"
    );
    // The same stack with tanh shrinks toward 0 (the test can tell the difference).
    let (_, var_tanh) = deep_stack_moments("tanh", 32);
    assert!(var_tanh < 0.3, "tanh: var {var_tanh}");
}

// mpmath (200 digits): x/2·erfc(−x/√2) and its derivative, at points inside every interval
// of the piecewise erfcx approximation (boundaries at |x| = √2·{0.5, 1, 1.5, 2, 3, 5, 10, 28}).
const GELU_XS: [f64; 25] = [
    -39.0, -30.0, -14.5, -10.0, -7.5, -6.0, -4.5, -3.5, -2.9, -2.2, -1.7, -1.2, -0.8, -0.3, 0.3,
    0.8, 1.2, 1.7, 2.2, 2.9, 3.5, 4.5, 6.0, 7.5, 10.0,
];
const GELU_Y: [f64; 25] = [
    -0.0,
    -1.472014178144456e-196,
    -8.78336740840207e-47,
    -7.619853024160526e-23,
    -2.393168754683172e-13,
    -5.9195258702261885e-09,
    -1.5289529061285272e-05,
    -0.0008142017766243376,
    -0.00541085857111371,
    -0.030587584529696944,
    -0.07576128668952317,
    -0.13808360426604993,
    -0.16948431886671736,
    -0.1146265733433142,
    0.1853734266566858,
    0.6305156811332826,
    1.0619163957339501,
    1.6242387133104768,
    2.169412415470303,
    2.8945891414288862,
    3.4991857982233756,
    4.4999847104709385,
    5.999999994080474,
    7.499999999999761,
    10.0,
];
const GELU_D: [f64; 25] = [
    -0.0,
    -4.416031690708495e-195,
    -1.2735319765518342e-45,
    -7.618400096464814e-22,
    -1.7938314830426485e-12,
    -3.5468709453902015e-08,
    -6.852916185634458e-05,
    -0.002821760353624635,
    -0.015396530716965938,
    -0.06414065674821054,
    -0.11531796878216473,
    -0.11795359575814726,
    -0.019897843625789505,
    0.26767223317289013,
    0.7323277668271099,
    1.0198978436257895,
    1.1179535957581472,
    1.1153179687821648,
    1.0641406567482106,
    1.015396530716966,
    1.0028217603536247,
    1.0000685291618563,
    1.0000000354687095,
    1.000000000001794,
    1.0,
];

#[test]
fn gelu_exact_accurate_across_tail() {
    let a = Activation::Gelu { approximate: false };
    let y = forward_f64(a, &GELU_XS);
    let d = grad_f64(a, &GELU_XS);
    for i in 0..GELU_XS.len() {
        // Relative accuracy even at 1e-196: Φ is computed as erfc/2, never as 1 + erf.
        assert!(
            close(y[i], GELU_Y[i], 1e-13, 1e-300),
            "gelu({}) = {:e}, reference {:e}",
            GELU_XS[i],
            y[i],
            GELU_Y[i]
        );
        assert!(
            close(d[i], GELU_D[i], 1e-13, 1e-300),
            "gelu'({}) = {:e}, reference {:e}",
            GELU_XS[i],
            d[i],
            GELU_D[i]
        );
    }
}
