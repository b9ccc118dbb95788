//! Quickstart: trains the classic two-layer sigmoid network (the worked example of
//! `backprop_by_hand`) to fit its targets by gradient descent, end to end through
//! nn-autograd, and prints the loss as it falls.

use nn::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t = |v: &[f64], s: &[usize]| Tensor::<f32>::from_f64s(v, s);
    let mut w_hidden = t(&[0.15, 0.25, 0.20, 0.30], &[2, 2])?;
    let mut b_hidden = t(&[0.35, 0.35], &[2])?;
    let mut w_out = t(&[0.40, 0.50, 0.45, 0.55], &[2, 2])?;
    let mut b_out = t(&[0.60, 0.60], &[2])?;
    let x = Var::constant(t(&[0.05, 0.10], &[1, 2])?);
    let target = Var::constant(t(&[0.01, 0.99], &[1, 2])?);
    let lr = 0.5f32;

    let mut loss_value = f32::NAN;
    for step in 0..=10_000 {
        let params = [&w_hidden, &b_hidden, &w_out, &b_out].map(|p| Var::param(p.clone()));
        let [wh, bh, wo, bo] = &params;
        let hidden = x.matmul(wh)?.add(bh)?.sigmoid()?;
        let out = hidden.matmul(wo)?.add(bo)?.sigmoid()?;
        let loss = target.sub(&out)?.square()?.mul_scalar(0.5)?.sum_all()?;
        loss_value = loss.value().item()?;
        if step % 2_000 == 0 {
            println!("step {step:>5}  loss {loss_value:.9}");
        }
        let grads = loss.backward()?;
        for (value, var) in [&mut w_hidden, &mut b_hidden, &mut w_out, &mut b_out]
            .into_iter()
            .zip(&params)
        {
            if let Some(g) = grads.get(var) {
                value.scaled_add_assign(-lr, g)?;
            }
        }
    }
    println!("final_loss={loss_value:.9}");
    Ok(())
}
