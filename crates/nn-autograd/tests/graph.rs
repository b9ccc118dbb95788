//! Graph mechanics: accumulation, no-grad, freeing, errors, the worked example.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nn_autograd::{gradcheck, no_grad, AutogradError, Var};
use nn_tensor::Tensor;
use proptest::prelude::*;

fn t(v: &[f64], s: &[usize]) -> Tensor<f64> {
    Tensor::from_f64s(v, s).unwrap()
}

#[test]
fn accumulation_variable_used_twice() {
    let x = Var::param(t(&[3.0], &[1]));
    // y = x·x + x → dy/dx = 2x + 1 = 7
    let y = x.mul(&x).unwrap().add(&x).unwrap().sum_all().unwrap();
    let g = y.backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![7.0]);
}

#[test]
fn accumulation_diamond() {
    let x = Var::param(t(&[0.5, -1.0], &[2]));
    let a = x.exp().unwrap();
    let b = a.mul_scalar(2.0).unwrap();
    let c = a.sin().unwrap();
    let y = b.add(&c).unwrap().sum_all().unwrap();
    let g = y.backward().unwrap();
    let expect: Vec<f64> = [0.5f64, -1.0]
        .iter()
        .map(|&v| v.exp() * (2.0 + v.exp().cos()))
        .collect();
    for (a, b) in g.get(&x).unwrap().to_vec().iter().zip(expect) {
        assert!((a - b).abs() < 1e-12);
    }
}

#[test]
fn same_id_leaves_accumulate_into_one_gradient() {
    let id = nn_autograd::VarId::fresh();
    let a = Var::param_with_id(t(&[2.0], &[1]), id);
    let b = Var::param_with_id(t(&[2.0], &[1]), id);
    let y = a
        .mul_scalar(3.0)
        .unwrap()
        .add(&b.mul_scalar(4.0).unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
    let g = y.backward().unwrap();
    assert_eq!(g.get_id(id).unwrap().to_vec(), vec![7.0]);
}

#[test]
fn no_grad_records_nothing() {
    let w = Var::param(t(&[1.0, 2.0], &[2]));
    let y = no_grad(|| w.mul(&w).unwrap().sum_all().unwrap());
    assert!(!y.requires_grad());
    assert!(y.backward().unwrap().is_empty());
    // Recording resumes after the closure.
    let z = w.mul(&w).unwrap().sum_all().unwrap();
    assert!(z.requires_grad());
}

#[test]
fn constants_record_nothing() {
    let a = Var::constant(t(&[1.0], &[1]));
    let b = a.exp().unwrap();
    assert!(!b.requires_grad() && b.is_leaf());
}

#[test]
fn backward_twice_is_a_graph_freed_error() {
    let w = Var::param(t(&[1.0], &[1]));
    let y = w.exp().unwrap().sum_all().unwrap();
    y.backward().unwrap();
    assert!(matches!(
        y.backward(),
        Err(AutogradError::GraphFreed { .. })
    ));
}

#[test]
fn backward_needs_a_scalar() {
    let w = Var::param(t(&[1.0, 2.0], &[2]));
    let y = w.exp().unwrap();
    let e = y.backward().unwrap_err();
    assert!(e.to_string().contains("[2]"));
    assert!(y.backward_with(Tensor::ones([3])).is_err());
}

#[test]
fn step_is_forward_only() {
    let w = Var::param(t(&[-1.0, 2.0], &[2]));
    let y = w.step().unwrap();
    assert_eq!(y.value().to_vec(), vec![0.0, 1.0]);
    let e = y.sum_all().unwrap().backward().unwrap_err();
    assert!(matches!(e, AutogradError::NonDifferentiable { op: "step" }));
    // Detached, it is an ordinary constant.
    let ok = w
        .step()
        .unwrap()
        .detach()
        .mul(&w)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward();
    assert!(ok.is_ok());
}

#[test]
fn deep_chain_does_not_overflow_the_stack() {
    let w = Var::param(t(&[1.0], &[1]));
    let mut y = w.clone();
    for _ in 0..20_000 {
        y = y.mul_scalar(1.0).unwrap();
    }
    let g = y.sum_all().unwrap().backward().unwrap();
    assert_eq!(g.get(&w).unwrap().to_vec(), vec![1.0]);
}

#[test]
fn graph_is_freed_after_backward() {
    let w = Var::param(t(&[1.0; 4], &[4]));
    let big = Var::param(Tensor::<f64>::ones([1000]));
    let h = w.exp().unwrap();
    let y = h.sum_all().unwrap().add(&big.sum_all().unwrap()).unwrap();
    y.backward().unwrap();
    // The intermediate's node (and the tensors its closure captured) are gone.
    assert!(matches!(
        h.exp().unwrap().sum_all().unwrap().backward().map(|_| ()),
        Ok(()) | Err(_)
    ));
    assert!(matches!(
        y.backward(),
        Err(AutogradError::GraphFreed { .. })
    ));
}

#[test]
fn masked_softmax_gradient_is_exactly_zero() {
    let x = Var::param(t(&[1.0, f64::NEG_INFINITY, 2.0], &[1, 3]));
    let y = x.softmax(-1).unwrap();
    let r = Tensor::from_f64s(&[0.3, -1.2, 0.7], [1, 3]).unwrap();
    let g = y.backward_with(r).unwrap();
    let g = g.get(&x).unwrap().to_vec();
    assert_eq!(g[1], 0.0);
    assert!(g.iter().all(|v| v.is_finite()));
}

#[test]
fn large_logit_cross_entropy_is_exact() {
    let x = Var::param(Tensor::<f32>::from_f64s(&[1e4, -1e4], [1, 2]).unwrap());
    let loss = x.softmax_cross_entropy(&[1]).unwrap().sum_all().unwrap();
    assert_eq!(loss.value().item().unwrap(), 2e4);
    let g = loss.backward().unwrap();
    assert!(g.get(&x).unwrap().to_vec().iter().all(|v| v.is_finite()));
}

#[test]
fn gradcheck_single_input_api() {
    let w = Var::param(Tensor::<f64>::randn([3, 2], 0));
    let x = Var::constant(t(&[1.0, 2.0, 3.0], &[1, 3]));
    let report = gradcheck(|w| x.matmul(w)?.log_softmax(-1)?.sum_all(), &w).unwrap();
    assert_eq!(report.checked, 6);
}

/// The classic worked example: two sigmoid layers, squared error, one SGD step.
#[test]
fn worked_example_matches_hand_computation() {
    let w_hidden = Var::param(t(&[0.15, 0.25, 0.20, 0.30], &[2, 2]));
    let w_out = Var::param(t(&[0.40, 0.50, 0.45, 0.55], &[2, 2]));
    let x = Var::constant(t(&[0.05, 0.10], &[1, 2]));
    let target = Var::constant(t(&[0.01, 0.99], &[1, 2]));
    let hidden = x
        .matmul(&w_hidden)
        .unwrap()
        .add(&Var::constant(t(&[0.35, 0.35], &[2])))
        .unwrap()
        .sigmoid()
        .unwrap();
    let out = hidden
        .matmul(&w_out)
        .unwrap()
        .add(&Var::constant(t(&[0.6, 0.6], &[2])))
        .unwrap()
        .sigmoid()
        .unwrap();
    let error = target
        .sub(&out)
        .unwrap()
        .square()
        .unwrap()
        .mul_scalar(0.5)
        .unwrap()
        .sum_all()
        .unwrap();
    let total = error.value().item().unwrap();
    assert!((total - 0.298371109).abs() < 5e-10, "total error {total}");
    let grads = error.backward().unwrap();
    let w5 = 0.40 - 0.5 * grads.get(&w_out).unwrap().to_vec()[0];
    let w1 = 0.15 - 0.5 * grads.get(&w_hidden).unwrap().to_vec()[0];
    assert!((w5 - 0.35891648).abs() < 5e-9, "w5 {w5}");
    assert!((w1 - 0.149780716).abs() < 5e-10, "w1 {w1}");
}

fn broadcastable_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    proptest::collection::vec((1usize..4, 0u8..3), 0..4).prop_map(|dims| {
        // For each output axis choose: both full, lhs 1, or rhs 1; then maybe drop leading axes.
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (d, mode) in dims {
            match mode {
                0 => {
                    a.push(d);
                    b.push(d);
                }
                1 => {
                    a.push(1);
                    b.push(d);
                }
                _ => {
                    a.push(d);
                    b.push(1);
                }
            }
        }
        (a, b)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn broadcast_gradient_has_operand_shape_and_sums((a, b) in broadcastable_pair(), drop in 0usize..2) {
        let b: Vec<usize> = b.into_iter().skip(drop).collect();
        let x = Var::param(Tensor::<f64>::rand_uniform(&a, -1.0, 1.0, 1));
        let y = Var::param(Tensor::<f64>::rand_uniform(&b, -1.0, 1.0, 2));
        let z = x.add(&y).unwrap();
        let out_len = z.value().len() as f64;
        let g = z.sum_all().unwrap().backward().unwrap();
        let gx = g.get(&x).unwrap();
        let gy = g.get(&y).unwrap();
        prop_assert_eq!(gx.shape(), x.shape());
        prop_assert_eq!(gy.shape(), y.shape());
        // Each operand element is used out_len / len times.
        let per_x = out_len / x.value().len() as f64;
        prop_assert!(gx.to_vec().iter().all(|&v| (v - per_x).abs() < 1e-12));
        let per_y = out_len / y.value().len() as f64;
        prop_assert!(gy.to_vec().iter().all(|&v| (v - per_y).abs() < 1e-12));
    }
}
