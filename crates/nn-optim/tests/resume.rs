//! Saving and reloading resumes exactly: 3 steps, save (through JSON), load, 2 more steps is
//! bit-identical to 5 steps straight, for every optimizer, in f32 and f64.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use nn_optim::{
    Adadelta, Adagrad, Adam, AdamW, Adamax, LearningRateSchedule, Lion, Nadam, Optimizer,
    ParamUpdate, RmsProp, SavedOptimizer, Sgd,
};
use nn_tensor::{Float, Tensor};

fn optimizers<T: Float>() -> Vec<Box<dyn Optimizer<T>>> {
    let cosine =
        LearningRateSchedule::cosine_decay_with_warmup(0.01, 10.0, 0.1, Some(0.05), 2).unwrap();
    let decay = LearningRateSchedule::exponential_decay(0.05, 3.0, 0.7, true).unwrap();
    vec![
        Box::new(Sgd::new().with_learning_rate(0.05)),
        Box::new(
            Sgd::new()
                .with_learning_rate(0.05)
                .momentum(0.9)
                .nesterov(true)
                .clipvalue(0.3),
        ),
        Box::new(Adam::new().with_schedule(cosine.clone()).clipnorm(0.7)),
        Box::new(
            Adam::new()
                .with_learning_rate(0.02)
                .amsgrad(true)
                .global_clipnorm(1.0),
        ),
        Box::new(
            AdamW::new()
                .with_learning_rate(0.02)
                .exclude_from_weight_decay(&["bias"]),
        ),
        Box::new(
            RmsProp::new()
                .with_learning_rate(0.01)
                .momentum(0.5)
                .centered(true),
        ),
        Box::new(Adagrad::new().with_schedule(decay.clone())),
        Box::new(Adadelta::new().with_learning_rate(1.0).weight_decay(0.01)),
        Box::new(Nadam::new().with_schedule(cosine)),
        Box::new(Adamax::new().with_schedule(decay)),
        Box::new(Lion::new().with_learning_rate(0.01)),
    ]
}

struct Model<T: Float> {
    params: Vec<(String, Tensor<T>)>,
}

impl<T: Float> Model<T> {
    fn new() -> Self {
        Model {
            params: vec![
                ("dense/kernel".into(), Tensor::randn([4, 3], 1)),
                ("dense/bias".into(), Tensor::randn([3], 2)),
                ("conv/kernel".into(), Tensor::randn([2, 2, 2], 3)),
            ],
        }
    }

    /// One step with a non-linear gradient `sin(3w) + 0.1·w + 0.05·step`.
    fn step(&mut self, opt: &mut dyn Optimizer<T>, step: usize) {
        let grads: Vec<Tensor<T>> = self
            .params
            .iter()
            .map(|(_, w)| {
                w.mul_scalar(T::of(3.0))
                    .sin()
                    .add(&w.mul_scalar(T::of(0.1)))
                    .unwrap()
                    .add_scalar(T::of(0.05 * step as f64))
            })
            .collect();
        let mut updates: Vec<ParamUpdate<'_, T>> = self
            .params
            .iter_mut()
            .zip(&grads)
            .map(|((k, w), g)| ParamUpdate::new(k.as_str(), w, g))
            .collect();
        opt.apply(&mut updates).unwrap();
    }
}

fn bits<T: Float>(model: &Model<T>) -> Vec<u64> {
    model
        .params
        .iter()
        .flat_map(|(_, w)| w.to_f64_vec())
        .map(f64::to_bits)
        .collect()
}

fn check_resume<T: Float>() {
    for (straight, resumed) in optimizers::<T>().into_iter().zip(optimizers::<T>()) {
        let name = straight.name().to_string();
        let (mut straight, mut first) = (straight, resumed);

        let mut a = Model::<T>::new();
        for s in 0..5 {
            a.step(&mut *straight, s);
        }

        let mut b = Model::<T>::new();
        for s in 0..3 {
            b.step(&mut *first, s);
        }
        let json = serde_json::to_string(&first.to_saved()).unwrap();
        drop(first);
        let saved: SavedOptimizer = serde_json::from_str(&json).unwrap();
        let mut loaded = saved.into_optimizer::<T>().unwrap();
        assert_eq!(loaded.iterations(), 3, "{name}");
        assert_eq!(loaded.name(), name);
        for s in 3..5 {
            b.step(&mut *loaded, s);
        }

        assert_eq!(
            bits(&a),
            bits(&b),
            "{name} ({}): resumed weights differ",
            T::NAME
        );
        assert_eq!(
            straight.to_saved(),
            loaded.to_saved(),
            "{name} ({}): states differ",
            T::NAME
        );
        assert_eq!(straight.learning_rate(), loaded.learning_rate(), "{name}");
    }
}

#[test]
fn resume_is_bit_identical_f32() {
    check_resume::<f32>();
}

#[test]
fn resume_is_bit_identical_f64() {
    check_resume::<f64>();
}

#[test]
fn resume_clone_box_continues_identically() {
    for opt in optimizers::<f32>() {
        let mut a = opt;
        let mut m1 = Model::<f32>::new();
        a.step_n(&mut m1, 2);
        let mut b = a.clone();
        let mut m2 = Model {
            params: m1.params.clone(),
        };
        a.step_n(&mut m1, 2);
        b.step_n(&mut m2, 2);
        assert_eq!(bits(&m1), bits(&m2), "{}", a.name());
    }
}

trait StepN<T: Float> {
    fn step_n(&mut self, m: &mut Model<T>, n: usize);
}

impl<T: Float> StepN<T> for Box<dyn Optimizer<T>> {
    fn step_n(&mut self, m: &mut Model<T>, n: usize) {
        for s in 0..n {
            m.step(&mut **self, s);
        }
    }
}

#[test]
fn resume_rejects_state_that_does_not_fit() {
    let mut opt = Adam::<f32>::new();
    let mut m = Model::<f32>::new();
    m.step(&mut opt, 0);
    let saved = opt.to_saved();

    // AMSGrad needs a third slot the saved state lacks.
    let SavedOptimizer::Adam { mut config, state } = saved.clone() else {
        panic!("not Adam")
    };
    config.amsgrad = true;
    let e = SavedOptimizer::Adam { config, state }
        .into_optimizer::<f32>()
        .unwrap_err();
    assert!(e.to_string().contains("velocity_hat"), "{e}");

    // A slot with the wrong number of values.
    let SavedOptimizer::Adam { config, mut state } = saved.clone() else {
        panic!("not Adam")
    };
    state
        .slots
        .get_mut("dense/bias")
        .unwrap()
        .values
        .get_mut("momentum")
        .unwrap()
        .pop();
    let e = SavedOptimizer::Adam { config, state }
        .into_optimizer::<f32>()
        .unwrap_err();
    assert!(
        e.to_string().contains("dense/bias") && e.to_string().contains("momentum"),
        "{e}"
    );

    // An invalid configuration.
    let SavedOptimizer::Adam { mut config, state } = saved else {
        panic!("not Adam")
    };
    config.beta_1 = 1.5;
    assert!(SavedOptimizer::Adam { config, state }
        .into_optimizer::<f32>()
        .is_err());
}
