//! Gradient clipping, as Keras' optimizer arguments `clipvalue`, `clipnorm` and
//! `global_clipnorm`.
//!
//! Optimizers fuse the clipping into their update pass (a norm is one read-only reduction
//! over the gradient; the scaling and value clipping happen inside the update loop). These
//! functions are the same operations, in place, for custom training loops.

use nn_tensor::{Float, Tensor};

use crate::kernel::{clamp, map_inplace};
use crate::{OptimError, Result};

pub(crate) fn check_limit(op: &str, what: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(OptimError::config(
            op,
            format!("`{what}` must be finite and > 0, got {v}"),
        ))
    }
}

/// Clips every element of `grad` to `[−clip_value, clip_value]`, in place (NaN stays NaN).
/// An error if `clip_value` is not finite and positive.
///
/// ```
/// use nn_tensor::Tensor;
/// let mut g = Tensor::<f32>::from_vec(vec![-3.0, 0.5, 2.0], [3])?;
/// nn_optim::clip_by_value(&mut g, 1.0)?;
/// assert_eq!(g.to_vec(), vec![-1.0, 0.5, 1.0]);
/// # Ok::<(), nn_optim::OptimError>(())
/// ```
pub fn clip_by_value<T: Float>(grad: &mut Tensor<T>, clip_value: f64) -> Result<()> {
    check_limit("clip_by_value", "clip_value", clip_value)?;
    let c = T::of(clip_value);
    map_inplace(grad.make_contiguous_mut(), |g| clamp(g, c));
    Ok(())
}

/// The factor that scales a gradient of L2 norm `norm` to norm at most `clip_norm`:
/// `clip_norm / max(norm, clip_norm)` (1 for a NaN norm, so NaN gradients stay NaN).
pub(crate) fn norm_scale(norm: f64, clip_norm: f64) -> f64 {
    if norm > clip_norm {
        clip_norm / norm
    } else {
        1.0
    }
}

/// The factor of Keras' `clip_by_global_norm`: 1 when the norm is within the limit,
/// `clip_norm / norm` above it, and NaN when the norm is not finite (so non-finite gradients
/// poison the step visibly rather than being silently rescaled, as Keras).
pub(crate) fn global_scale(norm: f64, clip_norm: f64) -> f64 {
    if !norm.is_finite() {
        f64::NAN
    } else {
        norm_scale(norm, clip_norm)
    }
}

/// Rescales `grad` in place so that its L2 norm is at most `clip_norm`
/// (`g · clip_norm / max(‖g‖, clip_norm)`, Keras' per-tensor `clipnorm`) and returns the norm
/// before clipping. An error if `clip_norm` is not finite and positive.
///
/// ```
/// use nn_tensor::Tensor;
/// let mut g = Tensor::<f64>::from_vec(vec![3.0, 4.0], [2])?;
/// assert_eq!(nn_optim::clip_by_norm(&mut g, 2.5)?, 5.0); // the norm before clipping
/// assert_eq!(g.to_vec(), vec![1.5, 2.0]);
/// # Ok::<(), nn_optim::OptimError>(())
/// ```
pub fn clip_by_norm<T: Float>(grad: &mut Tensor<T>, clip_norm: f64) -> Result<f64> {
    check_limit("clip_by_norm", "clip_norm", clip_norm)?;
    let norm = grad.norm_l2().f64();
    let scale = norm_scale(norm, clip_norm);
    if scale != 1.0 {
        let s = T::of(scale);
        map_inplace(grad.make_contiguous_mut(), |g| g * s);
    }
    Ok(norm)
}

/// The L2 norm of all elements of all tensors together, `√Σ‖gᵢ‖²`, computed without
/// overflow (each tensor's norm is rescaled by the largest); NaN if any element is NaN.
pub fn global_norm<'a, T: Float>(grads: impl IntoIterator<Item = &'a Tensor<T>>) -> f64 {
    combine_norms(grads.into_iter().map(|g| g.norm_l2().f64()))
}

/// `√Σ nᵢ²` rescaled by the largest `nᵢ`; NaN if any is NaN, ∞ if any is ∞.
pub(crate) fn combine_norms(norms: impl Iterator<Item = f64>) -> f64 {
    let norms: Vec<f64> = norms.collect();
    let mut max = 0.0f64;
    for &n in &norms {
        if n.is_nan() {
            return f64::NAN;
        }
        if n > max {
            max = n;
        }
    }
    if max == 0.0 || !max.is_finite() {
        return max;
    }
    max * norms
        .iter()
        .map(|&n| (n / max) * (n / max))
        .sum::<f64>()
        .sqrt()
}

/// Rescales all tensors in place by the same factor so that their global norm (see
/// [`global_norm`]) is at most `clip_norm`, as Keras' `global_clipnorm`, and returns the
/// global norm before clipping. A non-finite global norm makes every gradient NaN (as
/// Keras). An error if `clip_norm` is not finite and positive.
///
/// ```
/// use nn_tensor::Tensor;
/// let mut a = Tensor::<f64>::from_vec(vec![6.0], [1])?;
/// let mut b = Tensor::<f64>::from_vec(vec![8.0], [1])?;
/// let norm = nn_optim::clip_by_global_norm([&mut a, &mut b], 5.0)?;
/// assert_eq!(norm, 10.0);
/// assert_eq!((a.to_vec(), b.to_vec()), (vec![3.0], vec![4.0]));
/// # Ok::<(), nn_optim::OptimError>(())
/// ```
pub fn clip_by_global_norm<'a, T: Float>(
    grads: impl IntoIterator<Item = &'a mut Tensor<T>>,
    clip_norm: f64,
) -> Result<f64> {
    check_limit("clip_by_global_norm", "clip_norm", clip_norm)?;
    let mut grads: Vec<&'a mut Tensor<T>> = grads.into_iter().collect();
    let norm = global_norm(grads.iter().map(|g| &**g));
    let scale = global_scale(norm, clip_norm);
    if scale != 1.0 {
        let s = T::of(scale);
        for g in &mut grads {
            map_inplace(g.make_contiguous_mut(), |x| x * s);
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn clip_by_value_clamps_and_keeps_nan() {
        let mut g =
            Tensor::<f32>::from_vec(vec![-3.0, -0.5, 0.0, 0.7, 9.0, f32::NAN], [6]).unwrap();
        clip_by_value(&mut g, 0.6).unwrap();
        let v = g.to_vec();
        assert_eq!(&v[..5], &[-0.6, -0.5, 0.0, 0.6, 0.6]);
        assert!(v[5].is_nan());
        assert!(clip_by_value(&mut g, 0.0).is_err());
        assert!(clip_by_value(&mut g, -1.0).is_err());
    }

    #[test]
    fn clip_by_norm_scales_only_above_the_limit() {
        let mut g = Tensor::<f64>::from_vec(vec![3.0, 4.0], [2]).unwrap();
        assert_eq!(clip_by_norm(&mut g, 10.0).unwrap(), 5.0);
        assert_eq!(g.to_vec(), vec![3.0, 4.0]);
        assert_eq!(clip_by_norm(&mut g, 2.5).unwrap(), 5.0);
        assert_eq!(g.to_vec(), vec![1.5, 2.0]);
        let mut z = Tensor::<f64>::zeros([3]);
        assert_eq!(clip_by_norm(&mut z, 1.0).unwrap(), 0.0);
        assert_eq!(z.to_vec(), vec![0.0; 3]);
        assert!(clip_by_norm(&mut z, f64::INFINITY).is_err());
    }

    #[test]
    fn clip_by_global_norm_over_all_tensors() {
        // ‖(3, 4, 12)‖ = 13 → scale 6.5/13 = 0.5.
        let mut a = Tensor::<f32>::from_vec(vec![3.0, 4.0], [2]).unwrap();
        let mut b = Tensor::<f32>::from_vec(vec![12.0], [1, 1]).unwrap();
        let n = clip_by_global_norm([&mut a, &mut b], 6.5).unwrap();
        assert_eq!(n, 13.0);
        assert_eq!((a.to_vec(), b.to_vec()), (vec![1.5, 2.0], vec![6.0]));
        // Under the limit: unchanged.
        let n = clip_by_global_norm([&mut a, &mut b], 100.0).unwrap();
        assert_eq!(n, 6.5);
        assert_eq!(a.to_vec(), vec![1.5, 2.0]);
        // A non-finite norm poisons all gradients (Keras).
        let mut c = Tensor::<f32>::from_vec(vec![f32::INFINITY], [1]).unwrap();
        let n = clip_by_global_norm([&mut a, &mut c], 1.0).unwrap();
        assert!(n.is_infinite());
        assert!(a.to_vec().iter().all(|v| v.is_nan()));
        let mut v: Vec<Tensor<f32>> = vec![];
        assert_eq!(clip_by_global_norm(&mut v, 1.0).unwrap(), 0.0);
    }

    #[test]
    fn global_norm_does_not_overflow() {
        // 1e30² overflows f32, the norm 2e30 does not.
        let a = Tensor::<f32>::from_vec(vec![1e30, 1e30], [2]).unwrap();
        let b = Tensor::<f32>::from_vec(vec![1e30, 1e30], [2]).unwrap();
        let n = global_norm([&a, &b]);
        assert!((n / 2e30 - 1.0).abs() < 1e-6, "{n}");
        assert!(global_norm([&Tensor::<f32>::from_vec(vec![f32::NAN], [1]).unwrap()]).is_nan());
    }

    proptest! {
        #[test]
        fn clip_by_norm_bounds_norm_and_keeps_direction(
            v in proptest::collection::vec(-100.0f64..100.0, 1..40),
            c in 0.01f64..50.0,
        ) {
            let mut g = Tensor::<f64>::from_vec(v.clone(), [v.len()]).unwrap();
            let before = clip_by_norm(&mut g, c).unwrap();
            let after = g.norm_l2();
            prop_assert!(after <= c * (1.0 + 1e-12) || (after - before).abs() <= 1e-12 * before);
            let scale = if before > c { c / before } else { 1.0 };
            for (x, y) in v.iter().zip(g.to_vec()) {
                prop_assert!((x * scale - y).abs() <= 1e-12 * x.abs().max(1.0));
            }
        }
    }
}
