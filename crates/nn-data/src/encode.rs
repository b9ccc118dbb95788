//! Target encoding ([`one_hot`]) and feature scaling ([`StandardScaler`], [`MinMaxScaler`]).
//!
//! Scalers are fitted on training features `[N, F]` and store per-feature statistics in
//! `f64`; they then transform any data with `F` features (validation, test, new samples) the
//! same way. Both are serde-serializable so that they can be saved with a model.

use std::borrow::Cow;

use nn_tensor::parallel::{ELEMENTWISE_PAR_MIN, REDUCE_CHUNK};
use nn_tensor::{Float, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{DataError, Result};

/// One-hot rows `[labels.len(), classes]`: row `i` is 1 at column `labels[i]`, 0 elsewhere.
/// An error naming the position if a label is `>= classes`.
pub fn one_hot(labels: &[usize], classes: usize) -> Result<Tensor<f32>> {
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
        return Err(DataError::invalid(format!(
            "one_hot: label {l} at position {i} is out of range for {classes} classes"
        )));
    }
    let len = labels.len().checked_mul(classes).ok_or_else(|| {
        DataError::invalid(format!(
            "one_hot: {} x {classes} is too large",
            labels.len()
        ))
    })?;
    let mut out = vec![0.0f32; len];
    for (i, &l) in labels.iter().enumerate() {
        out[i * classes + l] = 1.0;
    }
    Ok(Tensor::from_vec(out, [labels.len(), classes])?)
}

/// The rows of a rank-2 tensor as a row-major slice (borrowed when contiguous).
fn matrix<'a, T: Float>(x: &'a Tensor<T>, op: &str) -> Result<(usize, usize, Cow<'a, [T]>)> {
    if x.ndim() != 2 {
        return Err(DataError::invalid(format!(
            "{op}: expected features of shape [N, F], got {:?}",
            x.shape()
        )));
    }
    let data = match x.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(x.to_vec()),
    };
    Ok((x.shape()[0], x.shape()[1], data))
}

/// Applies `op(column, value)` to every element of the row-major `[rows, f]` data, in
/// parallel over row blocks for large inputs (element-wise, so thread-count independent).
fn map_columns<T: Float>(
    src: &[T],
    rows: usize,
    f: usize,
    op: impl Fn(usize, f64) -> f64 + Sync,
) -> Result<Tensor<T>> {
    let mut out = vec![T::of(0.0); src.len()];
    if let Some(rows_per_block) = REDUCE_CHUNK.checked_div(f) {
        let row_op = |(o, s): (&mut [T], &[T])| {
            for (orow, srow) in o.chunks_exact_mut(f).zip(s.chunks_exact(f)) {
                for (j, (ov, &sv)) in orow.iter_mut().zip(srow).enumerate() {
                    *ov = T::of(op(j, sv.f64()));
                }
            }
        };
        if src.len() >= ELEMENTWISE_PAR_MIN {
            let block = rows_per_block.max(1) * f;
            out.par_chunks_mut(block)
                .zip(src.par_chunks(block))
                .for_each(row_op);
        } else {
            row_op((&mut out, src));
        }
    }
    Ok(Tensor::from_vec(out, [rows, f])?)
}

/// Checks that `x` has `expected` features.
fn check_features(op: &str, expected: usize, found: usize, shape: &[usize]) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(DataError::Shape {
            what: format!("{op}: the scaler was fitted on {expected} features"),
            expected: vec![shape.first().copied().unwrap_or(0), expected],
            found: shape.to_vec(),
        })
    }
}

/// Standardises features to zero mean and unit variance: `z = (x − mean) / scale` per
/// feature, with the population standard deviation (`ddof = 0`) as scale.
///
/// A constant feature (variance zero up to rounding, by scikit-learn's test) gets scale 1,
/// so it maps to 0 instead of dividing by zero. NaNs in the data propagate into the
/// statistics of their feature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    mean: Vec<f64>,
    var: Vec<f64>,
    scale: Vec<f64>,
    n_samples: usize,
}

impl StandardScaler {
    /// Per-feature mean and variance of `x` `[N, F]`; an error if `x` is not rank 2 or has no
    /// sample.
    pub fn fit<T: Float>(x: &Tensor<T>) -> Result<Self> {
        let (n, f, data) = matrix(x, "StandardScaler::fit")?;
        if n == 0 {
            return Err(DataError::invalid(
                "StandardScaler::fit: no samples to fit on",
            ));
        }
        let mut mean = vec![0.0f64; f];
        let mut var = vec![0.0f64; f];
        if f > 0 {
            for row in data.chunks_exact(f) {
                for (m, &v) in mean.iter_mut().zip(row) {
                    *m += v.f64();
                }
            }
            mean.iter_mut().for_each(|m| *m /= n as f64);
            for row in data.chunks_exact(f) {
                for ((s, &m), &v) in var.iter_mut().zip(&mean).zip(row) {
                    let d = v.f64() - m;
                    *s += d * d;
                }
            }
            var.iter_mut().for_each(|s| *s /= n as f64);
        }
        let eps = f64::EPSILON;
        let nf = n as f64;
        let scale = mean
            .iter()
            .zip(&var)
            .map(|(&m, &v)| {
                // scikit-learn's constant-feature test: the variance is rounding noise.
                let bound = nf * eps * v + (nf * m * eps).powi(2);
                if v <= bound {
                    1.0
                } else {
                    v.sqrt()
                }
            })
            .collect();
        Ok(StandardScaler {
            mean,
            var,
            scale,
            n_samples: n,
        })
    }

    /// Fits on `x` and returns the scaler together with the transformed `x`.
    pub fn fit_transform<T: Float>(x: &Tensor<T>) -> Result<(Self, Tensor<T>)> {
        let s = Self::fit(x)?;
        let z = s.transform(x)?;
        Ok((s, z))
    }

    /// `(x − mean) / scale` for `x` `[M, F]`; an error if `F` differs from the fitted data.
    pub fn transform<T: Float>(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let (m, f, data) = matrix(x, "StandardScaler::transform")?;
        check_features("StandardScaler::transform", self.mean.len(), f, x.shape())?;
        map_columns(&data, m, f, |j, v| (v - self.mean[j]) / self.scale[j])
    }

    /// `z · scale + mean`, undoing [`StandardScaler::transform`].
    pub fn inverse_transform<T: Float>(&self, z: &Tensor<T>) -> Result<Tensor<T>> {
        let (m, f, data) = matrix(z, "StandardScaler::inverse_transform")?;
        check_features(
            "StandardScaler::inverse_transform",
            self.mean.len(),
            f,
            z.shape(),
        )?;
        map_columns(&data, m, f, |j, v| v * self.scale[j] + self.mean[j])
    }

    /// The number of features fitted.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    /// The number of samples fitted on.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    /// Per-feature means.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-feature population variances.
    pub fn var(&self) -> &[f64] {
        &self.var
    }

    /// Per-feature scales (standard deviations; 1 for constant features).
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }
}

/// Scales each feature linearly onto `feature_range` (default `[0, 1]`) by the minimum and
/// maximum seen when fitting: `x · scale + min` with `scale = (hi − lo) / (max − min)`.
///
/// A constant feature (`max == min`) gets scale `hi − lo` (a data range of 1, as
/// scikit-learn), mapping it to `lo`. Data outside the fitted range maps outside
/// `feature_range` (no clipping). NaNs propagate into the statistics of their feature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MinMaxScaler {
    feature_range: (f64, f64),
    data_min: Vec<f64>,
    data_max: Vec<f64>,
    scale: Vec<f64>,
    min: Vec<f64>,
}

impl MinMaxScaler {
    /// Fits onto `[0, 1]`; an error if `x` is not rank 2 `[N, F]` or has no sample.
    pub fn fit<T: Float>(x: &Tensor<T>) -> Result<Self> {
        Self::fit_with_range(x, (0.0, 1.0))
    }

    /// Fits onto `feature_range = (lo, hi)`; an error unless `lo < hi`, both finite.
    pub fn fit_with_range<T: Float>(x: &Tensor<T>, feature_range: (f64, f64)) -> Result<Self> {
        let (lo, hi) = feature_range;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(DataError::invalid(format!(
                "MinMaxScaler::fit: feature_range ({lo}, {hi}) must be finite with lo < hi"
            )));
        }
        let (n, f, data) = matrix(x, "MinMaxScaler::fit")?;
        if n == 0 {
            return Err(DataError::invalid(
                "MinMaxScaler::fit: no samples to fit on",
            ));
        }
        let mut data_min = vec![f64::INFINITY; f];
        let mut data_max = vec![f64::NEG_INFINITY; f];
        if f > 0 {
            for row in data.chunks_exact(f) {
                for ((mn, mx), &v) in data_min.iter_mut().zip(data_max.iter_mut()).zip(row) {
                    let v = v.f64();
                    // NaN propagates: once a feature's bound is NaN it stays NaN.
                    if v.is_nan() || v < *mn {
                        *mn = if mn.is_nan() { *mn } else { v };
                    }
                    if v.is_nan() || v > *mx {
                        *mx = if mx.is_nan() { *mx } else { v };
                    }
                }
            }
        }
        let scale: Vec<f64> = data_min
            .iter()
            .zip(&data_max)
            .map(|(&mn, &mx)| {
                let range = mx - mn;
                (hi - lo) / if range == 0.0 { 1.0 } else { range }
            })
            .collect();
        let min = data_min
            .iter()
            .zip(&scale)
            .map(|(&mn, &s)| lo - mn * s)
            .collect();
        Ok(MinMaxScaler {
            feature_range,
            data_min,
            data_max,
            scale,
            min,
        })
    }

    /// Fits on `x` and returns the scaler together with the transformed `x`.
    pub fn fit_transform<T: Float>(x: &Tensor<T>) -> Result<(Self, Tensor<T>)> {
        let s = Self::fit(x)?;
        let z = s.transform(x)?;
        Ok((s, z))
    }

    /// `x · scale + min` for `x` `[M, F]`; an error if `F` differs from the fitted data.
    pub fn transform<T: Float>(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let (m, f, data) = matrix(x, "MinMaxScaler::transform")?;
        check_features("MinMaxScaler::transform", self.scale.len(), f, x.shape())?;
        map_columns(&data, m, f, |j, v| v * self.scale[j] + self.min[j])
    }

    /// `(z − min) / scale`, undoing [`MinMaxScaler::transform`].
    pub fn inverse_transform<T: Float>(&self, z: &Tensor<T>) -> Result<Tensor<T>> {
        let (m, f, data) = matrix(z, "MinMaxScaler::inverse_transform")?;
        check_features(
            "MinMaxScaler::inverse_transform",
            self.scale.len(),
            f,
            z.shape(),
        )?;
        map_columns(&data, m, f, |j, v| (v - self.min[j]) / self.scale[j])
    }

    /// The number of features fitted.
    pub fn n_features(&self) -> usize {
        self.scale.len()
    }

    /// The target range `(lo, hi)`.
    pub fn feature_range(&self) -> (f64, f64) {
        self.feature_range
    }

    /// Per-feature minima of the fitted data.
    pub fn data_min(&self) -> &[f64] {
        &self.data_min
    }

    /// Per-feature maxima of the fitted data.
    pub fn data_max(&self) -> &[f64] {
        &self.data_max
    }

    /// Per-feature multipliers.
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// Per-feature offsets added after scaling.
    pub fn min(&self) -> &[f64] {
        &self.min
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64], shape: [usize; 2]) -> Tensor<f32> {
        Tensor::from_f64s(v, shape).unwrap()
    }

    #[test]
    fn one_hot_basic_and_errors() {
        let o = one_hot(&[2, 0, 1], 3).unwrap();
        assert_eq!(o.shape(), &[3, 3]);
        assert_eq!(o.to_vec(), vec![0., 0., 1., 1., 0., 0., 0., 1., 0.]);
        let e = one_hot(&[0, 3], 3).unwrap_err();
        assert!(e.to_string().contains("label 3 at position 1"), "{e}");
        assert_eq!(one_hot(&[], 0).unwrap().shape(), &[0, 0]);
        assert_eq!(one_hot(&[], 4).unwrap().shape(), &[0, 4]);
        assert!(one_hot(&[0], 0).is_err());
    }

    #[test]
    fn standard_scaler_matches_naive() {
        let x = t(&[1.0, 10.0, 5.0, 2.0, 20.0, 5.0, 4.0, 60.0, 5.0], [3, 3]);
        let (s, z) = StandardScaler::fit_transform(&x).unwrap();
        // feature 0: mean 7/3, var = ((4/3)^2 + (1/3)^2 + (5/3)^2)/3 = 42/27
        assert!((s.mean()[0] - 7.0 / 3.0).abs() < 1e-12);
        assert!((s.var()[0] - 42.0 / 27.0).abs() < 1e-12);
        assert!((s.mean()[1] - 30.0).abs() < 1e-12);
        // constant feature: scale 1, maps to 0
        assert_eq!(s.scale()[2], 1.0);
        let zv = z.to_vec();
        assert_eq!(zv[2], 0.0);
        let expect = (1.0 - 7.0 / 3.0) / (42.0f64 / 27.0).sqrt();
        assert!((zv[0] as f64 - expect).abs() < 1e-6);
        // each non-constant column has mean 0 and population variance 1
        for j in 0..2 {
            let col: Vec<f64> = (0..3).map(|i| zv[i * 3 + j] as f64).collect();
            let m = col.iter().sum::<f64>() / 3.0;
            let v = col.iter().map(|c| (c - m).powi(2)).sum::<f64>() / 3.0;
            assert!(m.abs() < 1e-6 && (v - 1.0).abs() < 1e-5, "{m} {v}");
        }
        let back = s.inverse_transform(&z).unwrap();
        assert!(back.allclose(&x, 1e-6, 1e-5));
        assert_eq!(s.n_samples(), 3);
        assert_eq!(s.n_features(), 3);
    }

    #[test]
    fn standard_scaler_constant_with_rounding_noise() {
        // 0.1 is not exact in binary: the f64 variance of ten copies may be tiny but nonzero.
        let x = t(&[0.1; 10], [10, 1]);
        let s = StandardScaler::fit(&x).unwrap();
        assert_eq!(s.scale()[0], 1.0);
        assert!(s
            .transform(&x)
            .unwrap()
            .to_vec()
            .iter()
            .all(|v| v.abs() < 1e-6));
    }

    #[test]
    fn standard_scaler_errors_and_f64() {
        assert!(StandardScaler::fit(&Tensor::<f32>::zeros([0, 3])).is_err());
        assert!(StandardScaler::fit(&Tensor::<f32>::zeros([3])).is_err());
        let s = StandardScaler::fit(&t(&[1.0, 2.0, 3.0, 4.0], [2, 2])).unwrap();
        let e = s.transform(&t(&[1.0, 2.0, 3.0], [1, 3])).unwrap_err();
        assert!(e.to_string().contains("[1, 3]"), "{e}");
        let x64 = Tensor::<f64>::from_f64s(&[1.0, 3.0], [2, 1]).unwrap();
        let (_, z) = StandardScaler::fit_transform(&x64).unwrap();
        assert_eq!(z.to_vec(), vec![-1.0, 1.0]);
    }

    #[test]
    fn standard_scaler_nan_propagates_and_no_panic_on_extremes() {
        let x = t(&[1.0, f64::NAN, 2.0, 1.0], [2, 2]);
        let s = StandardScaler::fit(&x).unwrap();
        assert!(s.mean()[1].is_nan());
        assert!(s.transform(&x).unwrap().to_vec()[1].is_nan());
        let big = t(&[3e38, -3e38, f64::INFINITY, 0.0], [2, 2]);
        let s = StandardScaler::fit(&big).unwrap();
        let _ = s.transform(&big).unwrap();
    }

    #[test]
    fn scalers_on_transposed_and_large_input() {
        // non-contiguous input
        let a = ndarray::Array2::from_shape_vec((2, 3), vec![1.0f32, 2., 3., 4., 5., 6.]).unwrap();
        let xt = Tensor::from_array(a.reversed_axes().into_dyn()); // [3, 2]: rows (1,4),(2,5),(3,6)
        let s = MinMaxScaler::fit(&xt).unwrap();
        assert_eq!(s.data_min(), &[1.0, 4.0]);
        assert_eq!(
            s.transform(&xt).unwrap().to_vec(),
            vec![0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
        );
        // large input takes the parallel path; compare with a naive loop
        let (n, f) = (1000, 70);
        let v: Vec<f64> = (0..n * f).map(|i| ((i * 37) % 101) as f64).collect();
        let x = Tensor::<f32>::from_f64s(&v, [n, f]).unwrap();
        let s = StandardScaler::fit(&x).unwrap();
        let z = s.transform(&x).unwrap().to_vec();
        for (k, &zv) in z.iter().enumerate() {
            let j = k % f;
            let want = (v[k] - s.mean()[j]) / s.scale()[j];
            assert!((zv as f64 - want).abs() < 1e-5, "{k}");
        }
    }

    #[test]
    fn minmax_scaler_basic_range_and_inverse() {
        let x = t(&[0.0, 5.0, 7.0, 10.0, 5.0, 7.0, 5.0, 5.0, 7.0], [3, 3]);
        let (s, z) = MinMaxScaler::fit_transform(&x).unwrap();
        assert_eq!(s.data_max(), &[10.0, 5.0, 7.0]);
        assert_eq!(
            z.to_vec(),
            vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.5, 0.0, 0.0]
        );
        let back = s.inverse_transform(&z).unwrap();
        assert!(back.allclose(&x, 1e-6, 1e-6));
        let r = MinMaxScaler::fit_with_range(&x, (-1.0, 1.0)).unwrap();
        assert_eq!(
            r.transform(&x).unwrap().to_vec()[..4],
            [-1.0, -1.0, -1.0, 1.0]
        );
        assert_eq!(r.feature_range(), (-1.0, 1.0));
        // outside the fitted range: no clipping
        assert_eq!(
            s.transform(&t(&[20.0, 5.0, 7.0], [1, 3])).unwrap().to_vec()[0],
            2.0
        );
        assert!(MinMaxScaler::fit_with_range(&x, (1.0, 1.0)).is_err());
        assert!(MinMaxScaler::fit_with_range(&x, (0.0, f64::NAN)).is_err());
        assert!(MinMaxScaler::fit(&Tensor::<f32>::zeros([0, 2])).is_err());
        assert!(s.transform(&t(&[1.0, 2.0], [1, 2])).is_err());
    }

    #[test]
    fn minmax_scaler_nan_propagates() {
        let x = t(&[1.0, 2.0, f64::NAN, 3.0, 4.0, 5.0], [3, 2]);
        let s = MinMaxScaler::fit(&x).unwrap();
        assert!(s.data_min()[0].is_nan() && s.data_max()[0].is_nan());
        assert_eq!(s.data_min()[1], 2.0);
    }

    #[test]
    fn scalers_are_serde() {
        fn is_serde<T: Serialize + for<'de> Deserialize<'de>>() {}
        is_serde::<StandardScaler>();
        is_serde::<MinMaxScaler>();
    }
}
