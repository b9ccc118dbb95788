//! The classic two-layer sigmoid network worked by hand, computed by nn-autograd.
//!
//! Inputs 0.05, 0.10; targets 0.01, 0.99; hidden weights w1..w4 = 0.15, 0.20, 0.25, 0.30 and
//! bias 0.35; output weights w5..w8 = 0.40, 0.45, 0.50, 0.55 and bias 0.60; sigmoid in both
//! layers; error = Σ ½(target − out)². One gradient-descent step with learning rate 0.5
//! updates the weights (the biases stay, as in the hand computation).

use nn::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t = |v: &[f64], s: &[usize]| Tensor::<f64>::from_f64s(v, s);
    // Weights as [inputs, outputs]: h1 = w1·i1 + w2·i2 + b1, h2 = w3·i1 + w4·i2 + b1.
    let w_hidden = Var::param(t(&[0.15, 0.25, 0.20, 0.30], &[2, 2])?);
    let b_hidden = Var::constant(t(&[0.35, 0.35], &[2])?);
    let w_out = Var::param(t(&[0.40, 0.50, 0.45, 0.55], &[2, 2])?);
    let b_out = Var::constant(t(&[0.60, 0.60], &[2])?);
    let x = Var::constant(t(&[0.05, 0.10], &[1, 2])?);
    let target = Var::constant(t(&[0.01, 0.99], &[1, 2])?);

    let hidden = x.matmul(&w_hidden)?.add(&b_hidden)?.sigmoid()?;
    let out = hidden.matmul(&w_out)?.add(&b_out)?.sigmoid()?;
    let error = target.sub(&out)?.square()?.mul_scalar(0.5)?.sum_all()?;

    let h = hidden.value().to_vec();
    let o = out.value().to_vec();
    println!("out_h1={:.9} out_h2={:.9}", h[0], h[1]);
    println!("out_o1={:.9} out_o2={:.9}", o[0], o[1]);
    let total = error.value().item()?;
    println!("total_error={total:.9}");

    let grads = error.backward()?;
    let lr = 0.5;
    let step = |w: &Var<f64>| -> Result<Vec<f64>, Box<dyn std::error::Error>> {
        let g = grads.get(w).ok_or("missing gradient")?;
        Ok(w.value().sub(&g.mul_scalar(lr))?.to_vec())
    };
    let new_hidden = step(&w_hidden)?;
    let new_out = step(&w_out)?;
    // Back to the hand computation's names (row-major [in, out] layout).
    let (w1, w2, w3, w4) = (new_hidden[0], new_hidden[2], new_hidden[1], new_hidden[3]);
    let (w5, w6, w7, w8) = (new_out[0], new_out[2], new_out[1], new_out[3]);
    println!("w1={w1:.9} w2={w2:.9} w3={w3:.9} w4={w4:.9}");
    println!("w5={w5:.8} w6={w6:.8} w7={w7:.8} w8={w8:.8}");
    println!("final_loss={total:.9}");
    Ok(())
}
