//! The optimizer contract: names, configuration errors, shape errors, learning rates,
//! layouts, determinism across threads, and training a real layer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use nn_optim::{
    optimizer_from_name, Adam, AdamW, AdamWConfig, LearningRateSchedule, Lion, OptimError,
    Optimizer, ParamUpdate, RmsProp, Sgd, OPTIMIZER_NAMES,
};
use nn_tensor::Tensor;

fn one_step(
    opt: &mut dyn Optimizer<f32>,
    w: &mut Tensor<f32>,
    g: &Tensor<f32>,
) -> nn_optim::Result<()> {
    opt.apply(&mut [ParamUpdate::new("w", w, g)])
}

#[test]
fn from_name_every_optimizer() {
    let defaults = [
        ("sgd", 0.01),
        ("adam", 0.001),
        ("adamw", 0.001),
        ("rmsprop", 0.001),
        ("adagrad", 0.001),
        ("adadelta", 0.001),
        ("nadam", 0.001),
        ("adamax", 0.001),
        ("lion", 0.001),
    ];
    assert_eq!(OPTIMIZER_NAMES, defaults.map(|(n, _)| n));
    for (name, lr) in defaults {
        for spelling in [name.to_string(), name.to_uppercase()] {
            let mut opt = optimizer_from_name::<f32>(&spelling).unwrap();
            assert_eq!(opt.name(), name);
            assert_eq!(opt.learning_rate(), lr, "{name}");
            assert_eq!(opt.iterations(), 0);
            assert_eq!(opt.to_saved().name(), name);
            let mut w = Tensor::<f32>::ones([2]);
            let before = w.clone();
            one_step(&mut *opt, &mut w, &Tensor::ones([2])).unwrap();
            assert_eq!(opt.iterations(), 1);
            assert!(
                w.to_vec().iter().zip(before.to_vec()).all(|(a, b)| a < &b),
                "{name}: {w:?}"
            );
        }
    }
    // Keras class names.
    for n in ["SGD", "RMSprop", "AdamW", "Nadam"] {
        assert!(optimizer_from_name::<f64>(n).is_ok(), "{n}");
    }
}

#[test]
fn from_name_unknown_lists_known() {
    let e = optimizer_from_name::<f32>("adamm").unwrap_err();
    assert!(matches!(e, OptimError::UnknownName { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("adamm") && msg.contains("rmsprop") && msg.contains("lion"),
        "{msg}"
    );
}

#[test]
fn config_negative_learning_rate_errors_and_changes_nothing() {
    let mut opt = Sgd::<f32>::new().with_learning_rate(-0.1);
    let e = opt.validate().unwrap_err();
    assert!(
        e.to_string().contains("sgd") && e.to_string().contains("-0.1"),
        "{e}"
    );
    let mut w = Tensor::<f32>::ones([3]);
    assert!(one_step(&mut opt, &mut w, &Tensor::ones([3])).is_err());
    assert_eq!(w, Tensor::ones([3]));
    assert_eq!(opt.iterations(), 0);

    for lr in [f64::NAN, f64::INFINITY] {
        let mut opt = Adam::<f32>::new().with_learning_rate(lr);
        assert!(
            one_step(&mut opt, &mut w, &Tensor::ones([3])).is_err(),
            "{lr}"
        );
    }

    // Through set_learning_rate (e.g. a buggy callback): the next step fails.
    let mut opt = Adam::<f32>::new();
    opt.set_learning_rate(-1.0);
    assert!(one_step(&mut opt, &mut w, &Tensor::ones([3])).is_err());
    assert_eq!(w, Tensor::ones([3]));
}

#[test]
fn config_schedule_going_negative_errors_at_that_iteration() {
    let s = LearningRateSchedule::piecewise_constant_decay(vec![1], vec![0.1, -0.1]).unwrap();
    let mut opt = Sgd::<f32>::new().with_schedule(s);
    let mut w = Tensor::<f32>::ones([1]);
    let g = Tensor::<f32>::ones([1]);
    one_step(&mut opt, &mut w, &g).unwrap(); // iterations 0 → lr 0.1
    one_step(&mut opt, &mut w, &g).unwrap(); // iterations 1 → lr 0.1 (step ≤ boundary)
    let e = one_step(&mut opt, &mut w, &g).unwrap_err(); // iterations 2 → −0.1
    assert!(e.to_string().contains("iteration 2"), "{e}");
    assert_eq!(opt.iterations(), 2);
}

#[test]
fn config_bad_hyper_parameters() {
    let bad: Vec<(&str, Box<dyn Optimizer<f32>>)> = vec![
        ("momentum", Box::new(Sgd::new().momentum(1.5))),
        ("momentum", Box::new(Sgd::new().momentum(-0.1))),
        ("beta_1", Box::new(Adam::new().beta_1(1.0))),
        ("beta_2", Box::new(Adam::new().beta_2(-0.5))),
        ("epsilon", Box::new(Adam::new().epsilon(-1e-7))),
        ("rho", Box::new(RmsProp::new().rho(1.0))),
        ("beta_1", Box::new(Lion::new().beta_1(0.0))),
        ("weight_decay", Box::new(Adam::new().weight_decay(-0.1))),
        ("clipnorm", Box::new(Adam::new().clipnorm(0.0))),
        ("clipvalue", Box::new(Adam::new().clipvalue(f64::NAN))),
        (
            "only one of",
            Box::new(Adam::new().clipnorm(1.0).clipvalue(1.0)),
        ),
        (
            "only one of",
            Box::new(Sgd::new().global_clipnorm(1.0).clipnorm(1.0)),
        ),
        (
            "weight_decay",
            Box::new(AdamW::from_config(AdamWConfig {
                common: nn_optim::CommonConfig {
                    weight_decay: None,
                    ..AdamWConfig::default().common
                },
                ..AdamWConfig::default()
            })),
        ),
        (
            "decay_steps",
            Box::new(
                Sgd::new().with_schedule(LearningRateSchedule::ExponentialDecay {
                    initial_learning_rate: 0.1,
                    decay_steps: 0.0,
                    decay_rate: 0.5,
                    staircase: false,
                }),
            ),
        ),
    ];
    for (what, mut opt) in bad {
        let mut w = Tensor::<f32>::ones([2]);
        let e = one_step(&mut *opt, &mut w, &Tensor::ones([2])).unwrap_err();
        assert!(matches!(e, OptimError::Config { .. }), "{e:?}");
        assert!(e.to_string().contains(what), "`{what}` not in: {e}");
        assert_eq!(w, Tensor::ones([2]));
    }
}

#[test]
fn apply_shape_errors_name_key_and_shapes() {
    let mut opt = Adam::<f32>::new();
    let mut w = Tensor::<f32>::ones([2, 3]);
    let e = one_step(&mut opt, &mut w, &Tensor::ones([3, 2])).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("adam")
            && msg.contains("`w`")
            && msg.contains("[2, 3]")
            && msg.contains("[3, 2]"),
        "{msg}"
    );

    // A key given twice: nothing changes, even the first parameter.
    let (mut a, mut b) = (Tensor::<f32>::ones([2]), Tensor::<f32>::ones([2]));
    let g = Tensor::<f32>::ones([2]);
    let e = opt
        .apply(&mut [
            ParamUpdate::new("k", &mut a, &g),
            ParamUpdate::new("k", &mut b, &g),
        ])
        .unwrap_err();
    assert!(matches!(e, OptimError::DuplicateKey { .. }), "{e}");
    assert_eq!(a, Tensor::ones([2]));

    // State of another shape under the same key.
    one_step(&mut opt, &mut Tensor::ones([4]), &Tensor::ones([4])).unwrap();
    let e = one_step(&mut opt, &mut Tensor::ones([5]), &Tensor::ones([5])).unwrap_err();
    assert!(matches!(e, OptimError::StateShape { .. }), "{e}");
    assert!(
        e.to_string().contains("[5]") && e.to_string().contains("[4]"),
        "{e}"
    );
    assert_eq!(opt.iterations(), 1);
}

#[test]
fn apply_empty_is_a_no_op() {
    let mut opt = Adam::<f32>::new();
    opt.apply(&mut []).unwrap();
    assert_eq!(opt.iterations(), 0);
}

#[test]
fn learning_rate_follows_schedule_and_set_learning_rate_replaces_it() {
    let s = LearningRateSchedule::exponential_decay(0.1, 1.0, 0.5, false).unwrap();
    let mut opt = Sgd::<f64>::new().with_schedule(s);
    let mut w = Tensor::<f64>::zeros([1]);
    let g = Tensor::<f64>::ones([1]);
    assert_eq!(opt.learning_rate(), 0.1);
    opt.apply(&mut [ParamUpdate::new("w", &mut w, &g)]).unwrap();
    assert_eq!(opt.learning_rate(), 0.05);
    opt.apply(&mut [ParamUpdate::new("w", &mut w, &g)]).unwrap();
    // Steps used lr(0) = 0.1 and lr(1) = 0.05.
    assert!((w.to_vec()[0] + 0.15).abs() < 1e-15);
    opt.set_learning_rate(0.3);
    assert_eq!(opt.learning_rate(), 0.3);
    opt.apply(&mut [ParamUpdate::new("w", &mut w, &g)]).unwrap();
    assert!((w.to_vec()[0] + 0.45).abs() < 1e-15);
    assert_eq!(opt.learning_rate(), 0.3);
}

#[test]
fn layout_non_contiguous_grad_and_shared_value() {
    // A transposed (strided) gradient gives the same result as its contiguous copy.
    let g = Tensor::<f32>::randn([3, 4], 5).t().unwrap();
    assert!(!g.is_contiguous());
    let mut w1 = Tensor::<f32>::randn([4, 3], 6);
    let mut w2 = w1.clone();
    let keep = w1.clone(); // shares w1's buffer
    let mut o1 = Adam::<f32>::new();
    let mut o2 = Adam::<f32>::new();
    one_step(&mut o1, &mut w1, &g).unwrap();
    one_step(&mut o2, &mut w2, &g.contiguous()).unwrap();
    assert_eq!(w1, w2);
    assert_ne!(w1, keep);
    assert_eq!(
        keep,
        Tensor::<f32>::randn([4, 3], 6),
        "a tensor sharing the buffer was modified"
    );
}

/// A tensor large enough for the parallel path gives the same bits as the same elements
/// updated in small (serial) pieces, and as a one-thread pool.
#[test]
fn parallel_update_is_deterministic() {
    let n = 200_000;
    let w0 = Tensor::<f32>::randn([n], 7);
    let g = Tensor::<f32>::randn([n], 8);
    let make = || -> Vec<Box<dyn Optimizer<f32>>> {
        vec![
            Box::new(Adam::new().amsgrad(true).weight_decay(0.01)),
            Box::new(Sgd::new().momentum(0.9).clipvalue(0.5)),
            Box::new(RmsProp::new().momentum(0.5).centered(true)),
        ]
    };
    let big = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            make()
                .into_iter()
                .map(|mut opt| {
                    let mut w = w0.clone();
                    for _ in 0..3 {
                        one_step(&mut *opt, &mut w, &g).unwrap();
                    }
                    w.to_vec()
                })
                .collect::<Vec<_>>()
        })
    };
    let pieces = 100;
    let m = n / pieces;
    let small: Vec<Vec<f32>> = make()
        .into_iter()
        .map(|mut opt| {
            let mut ws: Vec<Tensor<f32>> = (0..pieces)
                .map(|i| Tensor::from_vec(w0.to_vec()[i * m..(i + 1) * m].to_vec(), [m]).unwrap())
                .collect();
            let gs: Vec<Tensor<f32>> = (0..pieces)
                .map(|i| Tensor::from_vec(g.to_vec()[i * m..(i + 1) * m].to_vec(), [m]).unwrap())
                .collect();
            let keys: Vec<String> = (0..pieces).map(|i| format!("w{i}")).collect();
            for _ in 0..3 {
                let mut ups: Vec<ParamUpdate<'_, f32>> = ws
                    .iter_mut()
                    .zip(&gs)
                    .zip(&keys)
                    .map(|((w, g), k)| ParamUpdate::new(k, w, g))
                    .collect();
                opt.apply(&mut ups).unwrap();
            }
            ws.iter().flat_map(|w| w.to_vec()).collect()
        })
        .collect();
    let one = big(1);
    assert_eq!(one, big(3));
    for (a, b) in one.iter().zip(&small) {
        assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}

#[test]
fn debug_is_short_and_names_the_config() {
    let mut opt = Adam::<f32>::new();
    one_step(
        &mut opt,
        &mut Tensor::ones([100_000]),
        &Tensor::ones([100_000]),
    )
    .unwrap();
    let s = format!("{opt:?}");
    assert!(
        s.len() < 600 && s.contains("beta_1") && s.contains("iterations: 1"),
        "{s}"
    );
}

#[test]
fn nan_gradient_propagates_through_clipping() {
    // Keras: NaN gradients are not hidden by clipvalue/clipnorm.
    for mut opt in [
        Box::new(Sgd::<f32>::new().clipvalue(1.0)) as Box<dyn Optimizer<f32>>,
        Box::new(Sgd::<f32>::new().clipnorm(1.0)),
        Box::new(Sgd::<f32>::new().global_clipnorm(1.0)),
    ] {
        let mut w = Tensor::<f32>::ones([2]);
        let g = Tensor::from_vec(vec![f32::NAN, 1.0], [2]).unwrap();
        one_step(&mut *opt, &mut w, &g).unwrap();
        assert!(w.to_vec()[0].is_nan(), "{opt:?}");
    }
}

/// The intended wiring with nn-layers and nn-autograd: a Dense layer's params, keyed
/// "layer/param", gradients from the autograd store by param id.
#[test]
fn trains_a_dense_layer() {
    use nn_autograd::Var;
    use nn_layers::{Dense, ForwardCtx, Layer, LayerExt};
    use nn_tensor::random::Rng;

    let mut rng = Rng::seed(0);
    let mut layer = Dense::<f32>::new(1);
    layer.build(&[vec![3]], &mut rng).unwrap();
    let x = Tensor::<f32>::randn([32, 3], 1);
    let true_w = Tensor::<f32>::from_vec(vec![1.5, -2.0, 0.5], [3, 1]).unwrap();
    let y = x.matmul(&true_w).unwrap().add_scalar(0.3);
    let mut opt = Adam::<f32>::new().with_learning_rate(0.05);
    let loss_at = |layer: &Dense<f32>, rng: &mut Rng| -> (Var<f32>, f32) {
        let mut ctx = ForwardCtx::new(true, rng);
        let out = layer.forward(&Var::constant(x.clone()), &mut ctx).unwrap();
        let loss = out.sub(&Var::constant(y.clone())).unwrap();
        let loss = loss.mul(&loss).unwrap().mean_all().unwrap();
        let v = loss.value().item().unwrap();
        (loss, v)
    };
    let (_, first) = loss_at(&layer, &mut rng);
    for _ in 0..300 {
        let (loss, _) = loss_at(&layer, &mut rng);
        let grads = loss.backward().unwrap();
        drop(loss);
        let lname = Layer::name(&layer).to_string();
        let keys: Vec<String> = layer
            .params()
            .iter()
            .map(|p| format!("{lname}/{}", p.name()))
            .collect();
        let gs: Vec<Tensor<f32>> = layer
            .params()
            .iter()
            .map(|p| grads.get_id(p.id()).unwrap().clone())
            .collect();
        let mut ups: Vec<ParamUpdate<'_, f32>> = layer
            .params_mut()
            .into_iter()
            .zip(&gs)
            .zip(&keys)
            .map(|((p, g), k)| ParamUpdate::new(k, p.value_mut(), g))
            .collect();
        opt.apply(&mut ups).unwrap();
    }
    let (_, last) = loss_at(&layer, &mut rng);
    assert!(last < first * 1e-3, "loss {first} → {last}");
    let saved = opt.to_saved();
    assert_eq!(
        saved.state().slots.keys().cloned().collect::<Vec<_>>(),
        vec!["dense/bias".to_string(), "dense/kernel".to_string()]
    );
}
