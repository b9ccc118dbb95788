//! Small synthetic problems for examples and tests: [`xor`], [`spirals`] and [`blobs`].
//!
//! All are 2-D with class labels `[N]` (as `f32`) and are generated deterministically from
//! their seed by [`Rng`] (the same data on every machine).

use nn_tensor::random::Rng;
use nn_tensor::Tensor;

use crate::{DataError, Result, TensorDataset};

/// The four XOR points `(0,0) (0,1) (1,0) (1,1)` with labels `0 1 1 0`: x `[4, 2]`, y `[4]`
/// (use [`TensorDataset::with_column_targets`] for a `[4, 1]` sigmoid target).
pub fn xor() -> TensorDataset {
    let x = ndarray::arr2(&[[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]).into_dyn();
    let y = ndarray::arr1(&[0.0f32, 1.0, 1.0, 0.0]).into_dyn();
    // Fixed, consistent shapes: no check needed.
    TensorDataset::from_parts_unchecked(Tensor::from_array(x), Tensor::from_array(y))
}

fn check_noise(op: &str, name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(DataError::invalid(format!(
            "{op}: {name} must be finite and non-negative, got {v}"
        )))
    }
}

/// Two interleaved spirals, `n_per_class` points each (x `[2n, 2]`, labels 0/1 alternating).
///
/// Point `k` of spiral 0 lies at radius `r = (k + 0.5) / n` and angle `3π·r` (one and a half
/// turns); spiral 1 is spiral 0 rotated by π. Each coordinate gets Gaussian noise of standard
/// deviation `noise` (0 for exact spirals). An error if `noise` is negative or not finite.
pub fn spirals(n_per_class: usize, noise: f64, seed: u64) -> Result<TensorDataset> {
    check_noise("spirals", "noise", noise)?;
    let mut rng = Rng::seed(seed);
    let n = n_per_class;
    let mut x = Vec::with_capacity(4 * n);
    let mut y = Vec::with_capacity(2 * n);
    for k in 0..n {
        let r = (k as f64 + 0.5) / n as f64;
        let theta = 3.0 * std::f64::consts::PI * r;
        for class in 0..2 {
            let sign = if class == 0 { 1.0 } else { -1.0 };
            let px = sign * r * theta.cos() + noise * rng.normal();
            let py = sign * r * theta.sin() + noise * rng.normal();
            x.push(px as f32);
            x.push(py as f32);
            y.push(class as f32);
        }
    }
    TensorDataset::new(
        Tensor::from_vec(x, [2 * n, 2])?,
        Tensor::from_vec(y, [2 * n])?,
    )
}

/// `n` points around `centers` Gaussian blobs in 2-D (as scikit-learn's `make_blobs`):
/// the centers are drawn uniformly in `[-10, 10]²`, sample `i` belongs to blob `i % centers`
/// (its label) and is its center plus Gaussian noise of standard deviation `std` per
/// coordinate. x `[n, 2]`, y `[n]`. An error if `centers` is 0 or `std` is negative or not
/// finite.
pub fn blobs(n: usize, centers: usize, std: f64, seed: u64) -> Result<TensorDataset> {
    check_noise("blobs", "std", std)?;
    if centers == 0 {
        return Err(DataError::invalid("blobs: at least one center is needed"));
    }
    let mut rng = Rng::seed(seed);
    let c: Vec<[f64; 2]> = (0..centers)
        .map(|_| {
            [
                rng.uniform_range(-10.0, 10.0),
                rng.uniform_range(-10.0, 10.0),
            ]
        })
        .collect();
    let mut x = Vec::with_capacity(2 * n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let label = i % centers;
        x.push((c[label][0] + std * rng.normal()) as f32);
        x.push((c[label][1] + std * rng.normal()) as f32);
        y.push(label as f32);
    }
    TensorDataset::new(Tensor::from_vec(x, [n, 2])?, Tensor::from_vec(y, [n])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xor_points() {
        let d = xor();
        assert_eq!(d.x().to_vec(), vec![0., 0., 0., 1., 1., 0., 1., 1.]);
        assert_eq!(d.y().to_vec(), vec![0., 1., 1., 0.]);
        assert_eq!(d.with_column_targets().unwrap().y().shape(), &[4, 1]);
    }

    #[test]
    fn spirals_shape_determinism_and_geometry() {
        let a = spirals(50, 0.1, 7).unwrap();
        let b = spirals(50, 0.1, 7).unwrap();
        let c = spirals(50, 0.1, 8).unwrap();
        assert_eq!(a.x().shape(), &[100, 2]);
        assert_eq!(a.x(), b.x());
        assert_ne!(a.x(), c.x());
        assert_eq!(a.class_counts().unwrap(), vec![50, 50]);
        // without noise: spiral 1 is spiral 0 rotated by pi, radii grow to < 1
        let e = spirals(20, 0.0, 0).unwrap().x().to_vec();
        for k in 0..20 {
            let (p, q) = ((e[4 * k], e[4 * k + 1]), (e[4 * k + 2], e[4 * k + 3]));
            assert_eq!((p.0, p.1), (-q.0, -q.1));
            let r = (p.0 * p.0 + p.1 * p.1).sqrt();
            assert!((r - (k as f32 + 0.5) / 20.0).abs() < 1e-6);
        }
        assert!(spirals(5, -1.0, 0).is_err());
        assert!(spirals(5, f64::NAN, 0).is_err());
        assert_eq!(spirals(0, 0.1, 0).unwrap().len(), 0);
    }

    #[test]
    fn blobs_cluster_around_centers() {
        let d = blobs(300, 3, 0.5, 1).unwrap();
        assert_eq!(d.x().shape(), &[300, 2]);
        assert_eq!(d.class_counts().unwrap(), vec![100, 100, 100]);
        assert_eq!(d.x(), blobs(300, 3, 0.5, 1).unwrap().x());
        // per-class means lie within the box and spreads are about std
        let x = d.x().to_vec();
        for c in 0..3 {
            let pts: Vec<(f32, f32)> = (c..300)
                .step_by(3)
                .map(|i| (x[2 * i], x[2 * i + 1]))
                .collect();
            let mx = pts.iter().map(|p| p.0).sum::<f32>() / 100.0;
            let sd = (pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f32>() / 100.0).sqrt();
            assert!(mx.abs() <= 10.5 && (sd - 0.5).abs() < 0.15, "{mx} {sd}");
        }
        assert!(blobs(10, 0, 1.0, 0).is_err());
        assert!(blobs(10, 2, -1.0, 0).is_err());
    }
}
