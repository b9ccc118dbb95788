//! The [`Dataset`] trait and the in-memory [`TensorDataset`].

use ndarray::{Axis, Slice};
use nn_tensor::parallel::ELEMENTWISE_PAR_MIN;
use nn_tensor::random::Rng;
use nn_tensor::Tensor;
use rayon::prelude::*;

use crate::encode::one_hot;
use crate::{DataError, Result};

/// A collection of samples, each a feature tensor and a target tensor of fixed shapes.
///
/// Implementations must be cheap to share between threads: a
/// [`DataLoader`](crate::DataLoader) assembles batches in a background thread and may call
/// [`Dataset::gather`] from several threads at once on disjoint parts of a batch.
pub trait Dataset: Send + Sync {
    /// The number of samples.
    fn len(&self) -> usize;

    /// Whether the dataset holds no sample.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shape of one sample's features (without the sample axis), e.g. `[784]` or
    /// `[28, 28, 1]`.
    fn feature_shape(&self) -> Vec<usize>;

    /// The shape of one sample's target (without the sample axis): `[]` for a class label or
    /// a scalar regression target, `[k]` for one-hot or vector targets.
    fn target_shape(&self) -> Vec<usize>;

    /// Copies the features and targets of the samples `indices`, in that order, into the
    /// caller's row-major buffers: `x_out` holds `indices.len()` feature blocks of
    /// `feature_shape().product()` values, `y_out` as many target blocks.
    ///
    /// Callers pass indices below [`Dataset::len`] and buffers of exactly that size (the
    /// loader and [`gather_batch`] guarantee both). Every value of both buffers must be
    /// written: their prior contents are unspecified (a batch reuses the storage of an
    /// earlier one unzeroed, rather than writing it twice). Each sample's values must
    /// depend only on its index, not on which other indices are gathered with it: the loader
    /// splits large batches between threads.
    fn gather(&self, indices: &[usize], x_out: &mut [f32], y_out: &mut [f32]);

    /// Reads the samples `indices` ahead of a [`Dataset::gather`] of them, so that the gather
    /// finds them in cache; nothing by default. `fit` calls it from an otherwise idle worker
    /// for the next batch while the current one trains. Indices out of range are skipped.
    fn warm(&self, indices: &[usize]) {
        let _ = indices;
    }
}

/// The number of values in one sample of shape `shape` (1 for a scalar shape `[]`).
pub fn sample_len(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Gathers the samples `indices` of `dataset` into new tensors of shapes
/// `[b, ...feature_shape]` and `[b, ...target_shape]` (`b = indices.len()`).
///
/// Large batches (at least [`ELEMENTWISE_PAR_MIN`] values) are gathered in parallel; the
/// result does not depend on the number of threads. An error if an index is out of range.
pub fn gather_batch<D: Dataset + ?Sized>(
    dataset: &D,
    indices: &[usize],
) -> Result<(Tensor<f32>, Tensor<f32>)> {
    let n = dataset.len();
    if let Some((pos, &bad)) = indices.iter().enumerate().find(|(_, &i)| i >= n) {
        return Err(DataError::invalid(format!(
            "gather: index {bad} (position {pos}) is out of range for a dataset of {n} samples"
        )));
    }
    let feature_shape = dataset.feature_shape();
    let target_shape = dataset.target_shape();
    let fx = sample_len(&feature_shape);
    let fy = sample_len(&target_shape);
    let b = indices.len();
    let too_big = || DataError::invalid(format!("gather: a batch of {b} samples is too large"));
    let mut xb = nn_tensor::buffer::for_overwrite(b.checked_mul(fx).ok_or_else(too_big)?);
    let mut yb = nn_tensor::buffer::for_overwrite(b.checked_mul(fy).ok_or_else(too_big)?);
    gather_into(dataset, indices, fx, fy, &mut xb, &mut yb);
    let mut xs = Vec::with_capacity(feature_shape.len() + 1);
    xs.push(b);
    xs.extend_from_slice(&feature_shape);
    let mut ys = Vec::with_capacity(target_shape.len() + 1);
    ys.push(b);
    ys.extend_from_slice(&target_shape);
    Ok((Tensor::from_vec(xb, xs)?, Tensor::from_vec(yb, ys)?))
}

/// Rows per parallel task at minimum (so that each task copies a useful amount).
const MIN_PAR_ELEMS_PER_TASK: usize = 1 << 14;

/// Gathers into pre-sized buffers, splitting large batches between rayon tasks.
fn gather_into<D: Dataset + ?Sized>(
    dataset: &D,
    indices: &[usize],
    fx: usize,
    fy: usize,
    x_out: &mut [f32],
    y_out: &mut [f32],
) {
    let b = indices.len();
    let total = b.saturating_mul(fx.saturating_add(fy));
    let threads = rayon::current_num_threads();
    if total < ELEMENTWISE_PAR_MIN || threads < 2 || fx == 0 || fy == 0 || b < 2 {
        dataset.gather(indices, x_out, y_out);
        return;
    }
    // Fixed-size pieces: at least MIN_PAR_ELEMS_PER_TASK values, about two per thread.
    let min_rows = MIN_PAR_ELEMS_PER_TASK.div_ceil(fx + fy).max(1);
    let rows = b.div_ceil(2 * threads).max(min_rows);
    x_out
        .par_chunks_mut(rows * fx)
        .zip(y_out.par_chunks_mut(rows * fy))
        .zip(indices.par_chunks(rows))
        .for_each(|((xc, yc), ic)| dataset.gather(ic, xc, yc));
}

/// Copies rows `indices` of the row-major `src` (rows of `row` values) into `out`; an index
/// out of range fills its row with NaN (the [`Dataset::gather`] contract excludes it).
fn copy_rows(src: &[f32], row: usize, indices: &[usize], out: &mut [f32]) {
    if row == 0 {
        return;
    }
    for (dst, &i) in out.chunks_exact_mut(row).zip(indices) {
        let range = i
            .checked_mul(row)
            .and_then(|s| Some(s..s.checked_add(row)?));
        match range.and_then(|r| src.get(r)) {
            Some(s) => dst.copy_from_slice(s),
            None => dst.fill(f32::NAN),
        }
    }
}

/// An in-memory dataset of two tensors whose first axis indexes the samples.
///
/// `x` holds the features `[N, ...]`; `y` holds the targets: class labels `[N]` stored as
/// floats (0.0, 1.0, ...), or one-hot / regression targets `[N, k]`. Cloning is cheap (the
/// tensors share their buffers).
#[derive(Clone, Debug)]
pub struct TensorDataset {
    x: Tensor<f32>,
    y: Tensor<f32>,
}

impl TensorDataset {
    /// A dataset of features `x` `[N, ...]` and targets `y` `[N, ...]`; an error naming both
    /// shapes if their first axes differ or either is a scalar. Non-contiguous tensors are
    /// copied to row-major layout once, here.
    pub fn new(x: Tensor<f32>, y: Tensor<f32>) -> Result<Self> {
        if x.ndim() == 0 || y.ndim() == 0 || x.shape()[0] != y.shape()[0] {
            return Err(DataError::Shape {
                what: "TensorDataset::new: x (expected) and y (found) need the same first \
                       (sample) axis"
                    .into(),
                expected: x.shape().to_vec(),
                found: y.shape().to_vec(),
            });
        }
        Ok(TensorDataset {
            x: x.contiguous(),
            y: y.contiguous(),
        })
    }

    /// A dataset from standard-layout tensors already known to have the same first axis.
    pub(crate) fn from_parts_unchecked(x: Tensor<f32>, y: Tensor<f32>) -> Self {
        debug_assert!(x.ndim() > 0 && y.ndim() > 0 && x.shape()[0] == y.shape()[0]);
        TensorDataset {
            x: x.contiguous(),
            y: y.contiguous(),
        }
    }

    /// The features `[N, ...]`.
    pub fn x(&self) -> &Tensor<f32> {
        &self.x
    }

    /// The targets `[N, ...]`.
    pub fn y(&self) -> &Tensor<f32> {
        &self.y
    }

    /// The features and targets, consuming the dataset.
    pub fn into_parts(self) -> (Tensor<f32>, Tensor<f32>) {
        (self.x, self.y)
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.x.shape()[0]
    }

    /// Whether the dataset holds no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples `indices` (in that order, repeats allowed) as a new dataset; an error if an
    /// index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Result<TensorDataset> {
        let (x, y) = gather_batch(self, indices)?;
        Ok(TensorDataset { x, y })
    }

    /// The first `k` samples and the rest, without copying (the parts share the buffers).
    pub fn split_at(&self, k: usize) -> Result<(TensorDataset, TensorDataset)> {
        let n = self.len();
        if k > n {
            return Err(DataError::invalid(format!(
                "split_at: {k} is beyond the {n} samples of the dataset"
            )));
        }
        let part = |t: &Tensor<f32>, range: std::ops::Range<usize>| {
            let mut a = t.array().clone();
            a.slice_axis_inplace(Axis(0), Slice::from(range));
            Tensor::from_shared(a)
        };
        Ok((
            TensorDataset {
                x: part(&self.x, 0..k),
                y: part(&self.y, 0..k),
            },
            TensorDataset {
                x: part(&self.x, k..n),
                y: part(&self.y, k..n),
            },
        ))
    }

    /// The class labels of a dataset whose targets are labels `[N]` (or `[N, 1]`): an error
    /// naming the sample if a label is not a non-negative integer.
    pub fn labels(&self) -> Result<Vec<usize>> {
        let shape = self.y.shape();
        if !(shape.len() == 1 || (shape.len() == 2 && shape[1] == 1)) {
            return Err(DataError::invalid(format!(
                "labels: targets of shape {shape:?} are not class labels (expected [N] or [N, 1])"
            )));
        }
        self.y
            .view()
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 16_777_216.0 {
                    Ok(v as usize)
                } else {
                    Err(DataError::invalid(format!(
                        "labels: target {v} of sample {i} is not a class label (a non-negative \
                         integer)"
                    )))
                }
            })
            .collect()
    }

    /// The number of classes, `max label + 1` (0 for an empty dataset), for targets that are
    /// class labels; an error otherwise (see [`TensorDataset::labels`]).
    pub fn num_classes(&self) -> Result<usize> {
        Ok(self.labels()?.into_iter().max().map_or(0, |m| m + 1))
    }

    /// How many samples each class has (index = class), for label targets.
    pub fn class_counts(&self) -> Result<Vec<usize>> {
        let labels = self.labels()?;
        let mut counts = vec![0usize; labels.iter().max().map_or(0, |m| m + 1)];
        for l in labels {
            counts[l] += 1;
        }
        Ok(counts)
    }

    /// The same features with label targets replaced by one-hot rows `[N, classes]`
    /// (`classes` defaults to [`TensorDataset::num_classes`]).
    pub fn to_one_hot(&self, classes: Option<usize>) -> Result<TensorDataset> {
        let labels = self.labels()?;
        let classes = match classes {
            Some(c) => c,
            None => labels.iter().max().map_or(0, |m| m + 1),
        };
        Ok(TensorDataset {
            x: self.x.clone(),
            y: one_hot(&labels, classes)?,
        })
    }

    /// The same data with rank-1 targets `[N]` reshaped to a column `[N, 1]` (e.g. for a
    /// single sigmoid output); other targets are kept as they are.
    pub fn with_column_targets(&self) -> Result<TensorDataset> {
        if self.y.ndim() != 1 {
            return Ok(self.clone());
        }
        let n = self.len();
        Ok(TensorDataset {
            x: self.x.clone(),
            y: Tensor::from_vec(self.y.to_vec(), [n, 1])?,
        })
    }

    /// Splits into `(train, test)` with `ceil(test_fraction · N)` test samples (a product
    /// within rounding error of an integer counts as that integer), drawn at random
    /// (deterministically from `seed`). With `stratify`, the targets must be class labels and
    /// each class is split in the same proportion (largest-remainder rounding), as
    /// scikit-learn's `train_test_split(stratify=y)`. Both parts come in random order.
    ///
    /// An error if `test_fraction` is not inside `(0, 1)` or either part would be empty.
    pub fn train_test_split(
        &self,
        test_fraction: f64,
        stratify: bool,
        seed: u64,
    ) -> Result<(TensorDataset, TensorDataset)> {
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(DataError::invalid(format!(
                "train_test_split: test_fraction {test_fraction} must lie strictly between 0 and 1"
            )));
        }
        let n = self.len();
        let n_test = round_up_or_down((n as f64) * test_fraction, f64::ceil);
        if n_test == 0 || n_test >= n {
            return Err(DataError::invalid(format!(
                "train_test_split: a test fraction of {test_fraction} of {n} samples leaves an \
                 empty {} set",
                if n_test == 0 { "test" } else { "training" }
            )));
        }
        let mut rng = Rng::seed(seed);
        let (mut train, mut test) = if stratify {
            stratified_indices(&self.labels()?, n_test, &mut rng)
        } else {
            let mut perm: Vec<usize> = (0..n).collect();
            rng.shuffle(&mut perm);
            let train = perm.split_off(n_test);
            (train, perm)
        };
        rng.shuffle(&mut train);
        rng.shuffle(&mut test);
        Ok((self.subset(&train)?, self.subset(&test)?))
    }

    /// Splits off the last `fraction` of the samples as a validation set, without shuffling
    /// (Keras' `validation_split`: the first `floor(N · (1 − fraction))` samples train; a
    /// product within rounding error of an integer counts as that integer).
    /// Zero-copy. An error if `fraction` is not inside `(0, 1)` or either part is empty.
    pub fn split_validation(&self, fraction: f64) -> Result<(TensorDataset, TensorDataset)> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(DataError::invalid(format!(
                "split_validation: fraction {fraction} must lie strictly between 0 and 1"
            )));
        }
        let n = self.len();
        let k = round_up_or_down((n as f64) * (1.0 - fraction), f64::floor);
        if k == 0 || k >= n {
            return Err(DataError::invalid(format!(
                "split_validation: a validation fraction of {fraction} of {n} samples leaves an \
                 empty {} set",
                if k == 0 { "training" } else { "validation" }
            )));
        }
        self.split_at(k)
    }
}

/// `round(t)` when `t` is within rounding error of an integer (so that `100 · 0.07` counts as 7),
/// else `direction(t)` (ceil or floor).
fn round_up_or_down(t: f64, direction: fn(f64) -> f64) -> usize {
    let r = t.round();
    if (t - r).abs() <= 1e-9 * t.abs().max(1.0) {
        r as usize
    } else {
        direction(t) as usize
    }
}

/// Per-class shuffled split with `n_test` test samples allocated to the classes in proportion
/// to their sizes (floor, then the largest remainders; ties to the larger then lower class).
fn stratified_indices(labels: &[usize], n_test: usize, rng: &mut Rng) -> (Vec<usize>, Vec<usize>) {
    let n = labels.len();
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &l) in labels.iter().enumerate() {
        members[l].push(i);
    }
    let mut quota: Vec<usize> = members.iter().map(|m| m.len() * n_test / n).collect();
    let assigned: usize = quota.iter().sum();
    let mut order: Vec<usize> = (0..classes).collect();
    order.sort_by_key(|&c| {
        let rem = members[c].len() * n_test % n;
        (
            std::cmp::Reverse(rem),
            std::cmp::Reverse(members[c].len()),
            c,
        )
    });
    for &c in order.iter().take(n_test - assigned) {
        if quota[c] < members[c].len() {
            quota[c] += 1;
        }
    }
    let mut train = Vec::with_capacity(n - n_test);
    let mut test = Vec::with_capacity(n_test);
    for (c, m) in members.iter_mut().enumerate() {
        rng.shuffle(m);
        test.extend_from_slice(&m[..quota[c]]);
        train.extend_from_slice(&m[quota[c]..]);
    }
    (train, test)
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        TensorDataset::len(self)
    }

    fn feature_shape(&self) -> Vec<usize> {
        self.x.shape()[1..].to_vec()
    }

    fn target_shape(&self) -> Vec<usize> {
        self.y.shape()[1..].to_vec()
    }

    fn gather(&self, indices: &[usize], x_out: &mut [f32], y_out: &mut [f32]) {
        // `new` and `split_at` keep both tensors in standard layout, so the slices exist; NaN
        // otherwise, as for an index out of range, rather than a reused buffer's old values.
        match self.x.as_slice() {
            Some(xs) => copy_rows(xs, sample_len(&self.x.shape()[1..]), indices, x_out),
            None => x_out.fill(f32::NAN),
        }
        match self.y.as_slice() {
            Some(ys) => copy_rows(ys, sample_len(&self.y.shape()[1..]), indices, y_out),
            None => y_out.fill(f32::NAN),
        }
    }

    fn warm(&self, indices: &[usize]) {
        // One load per cache line (16 values) brings the line in; the sum keeps the loads.
        const LINE: usize = 16;
        let (Some(xs), row) = (self.x.as_slice(), sample_len(&self.x.shape()[1..])) else {
            return;
        };
        let mut sum = 0.0f32;
        for &i in indices {
            let range = i
                .checked_mul(row)
                .and_then(|s| Some(s..s.checked_add(row)?));
            if let Some(sample) = range.and_then(|r| xs.get(r)) {
                sum += sample.iter().step_by(LINE).sum::<f32>();
            }
        }
        std::hint::black_box(sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize) -> TensorDataset {
        let x: Vec<f32> = (0..n * 3).map(|v| v as f32).collect();
        let y: Vec<f32> = (0..n).map(|i| (i % 3) as f32).collect();
        TensorDataset::new(
            Tensor::from_vec(x, [n, 3]).unwrap(),
            Tensor::from_vec(y, [n]).unwrap(),
        )
        .unwrap()
    }

    /// A batch lands in a reused buffer unzeroed: every value must still be the sample's,
    /// on the serial and on the parallel path.
    #[test]
    fn gather_overwrites_a_reused_buffer_completely() {
        for (n, features) in [(100, 200), (200, 400)] {
            let x: Vec<f32> = (0..n * features).map(|v| v as f32).collect();
            let y: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
            let data = TensorDataset::new(
                Tensor::from_vec(x, [n, features]).unwrap(),
                Tensor::from_vec(y, [n]).unwrap(),
            )
            .unwrap();
            let indices: Vec<usize> = (0..n).rev().collect();
            for _ in 0..3 {
                // Leaves a NaN-filled buffer of the batch's size in nn-tensor's cache.
                drop(Tensor::<f32>::full([n, features], f32::NAN));
                let (bx, by) = gather_batch(&data, &indices).unwrap();
                let bx = bx.to_vec();
                for (r, &i) in indices.iter().enumerate() {
                    let want: Vec<f32> = (i * features..(i + 1) * features)
                        .map(|v| v as f32)
                        .collect();
                    assert_eq!(bx[r * features..(r + 1) * features], want[..], "row {r}");
                }
                let want_y: Vec<f32> = indices.iter().map(|&i| (i % 7) as f32).collect();
                assert_eq!(by.to_vec(), want_y);
            }
        }
    }

    #[test]
    fn warm_skips_indices_out_of_range() {
        let data = toy(4);
        // 3 values per sample: the last two overflow the offset and its end.
        data.warm(&[3, 4, usize::MAX, usize::MAX / 3, 0]);
        assert_eq!(Dataset::len(&data), 4);
    }

    #[test]
    fn new_rejects_mismatched_samples_naming_both_shapes() {
        let x = Tensor::<f32>::zeros([4, 2]);
        let y = Tensor::<f32>::zeros([5]);
        let e = TensorDataset::new(x, y).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("[4, 2]") && msg.contains("[5]"), "{msg}");
        let e = TensorDataset::new(Tensor::scalar(1.0), Tensor::zeros([1])).unwrap_err();
        assert!(matches!(e, DataError::Shape { .. }));
    }

    #[test]
    fn new_makes_transposed_input_contiguous() {
        let x = Tensor::from_array(
            ndarray::Array2::from_shape_vec((2, 3), vec![0.0f32, 1., 2., 3., 4., 5.])
                .unwrap()
                .reversed_axes()
                .into_dyn(),
        );
        assert!(!x.is_contiguous());
        let ds = TensorDataset::new(x, Tensor::zeros([3])).unwrap();
        let s = ds.subset(&[2, 0]).unwrap();
        assert_eq!(s.x().to_vec(), vec![2.0, 5.0, 0.0, 3.0]);
    }

    #[test]
    fn gather_copies_rows_in_order() {
        let ds = toy(5);
        let mut x = vec![0.0; 9];
        let mut y = vec![0.0; 3];
        ds.gather(&[4, 0, 4], &mut x, &mut y);
        assert_eq!(x, vec![12., 13., 14., 0., 1., 2., 12., 13., 14.]);
        assert_eq!(y, vec![1., 0., 1.]);
        assert_eq!(Dataset::feature_shape(&ds), vec![3]);
        assert_eq!(Dataset::target_shape(&ds), Vec::<usize>::new());
    }

    #[test]
    fn gather_batch_rejects_out_of_range_and_handles_empty() {
        let ds = toy(5);
        let e = gather_batch(&ds, &[1, 5]).unwrap_err();
        assert!(e.to_string().contains("index 5"), "{e}");
        let (x, y) = gather_batch(&ds, &[]).unwrap();
        assert_eq!(x.shape(), &[0, 3]);
        assert_eq!(y.shape(), &[0]);
    }

    #[test]
    fn gather_batch_parallel_matches_sequential() {
        // 400 x 200 = 80 000 values: above the parallel threshold.
        let n = 1000;
        let x: Vec<f32> = (0..n * 200).map(|v| v as f32).collect();
        let y: Vec<f32> = (0..n * 2).map(|v| -(v as f32)).collect();
        let ds = TensorDataset::new(
            Tensor::from_vec(x, [n, 200]).unwrap(),
            Tensor::from_vec(y, [n, 2]).unwrap(),
        )
        .unwrap();
        let idx: Vec<usize> = (0..400).map(|i| (i * 7919) % n).collect();
        let (bx, by) = gather_batch(&ds, &idx).unwrap();
        let mut sx = vec![0.0; 400 * 200];
        let mut sy = vec![0.0; 400 * 2];
        ds.gather(&idx, &mut sx, &mut sy);
        assert_eq!(bx.to_vec(), sx);
        assert_eq!(by.to_vec(), sy);
        assert_eq!(bx.shape(), &[400, 200]);
        assert_eq!(bx.get([3, 5]).unwrap(), ((3 * 7919 % n) * 200 + 5) as f32);
    }

    #[test]
    fn subset_and_errors() {
        let ds = toy(4);
        let s = ds.subset(&[3, 1]).unwrap();
        assert_eq!(s.x().to_vec(), vec![9., 10., 11., 3., 4., 5.]);
        assert_eq!(s.y().to_vec(), vec![0., 1.]);
        assert!(ds.subset(&[4]).is_err());
    }

    #[test]
    fn labels_num_classes_and_counts() {
        let ds = toy(7);
        assert_eq!(ds.labels().unwrap(), vec![0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(ds.num_classes().unwrap(), 3);
        assert_eq!(ds.class_counts().unwrap(), vec![3, 2, 2]);
        let bad = TensorDataset::new(
            Tensor::zeros([2, 1]),
            Tensor::from_vec(vec![0.0, 1.5], [2]).unwrap(),
        )
        .unwrap();
        assert!(bad.labels().unwrap_err().to_string().contains("sample 1"));
        let neg = TensorDataset::new(
            Tensor::zeros([1, 1]),
            Tensor::from_vec(vec![-1.0], [1]).unwrap(),
        )
        .unwrap();
        assert!(neg.num_classes().is_err());
        let nan = TensorDataset::new(
            Tensor::zeros([1, 1]),
            Tensor::from_vec(vec![f32::NAN], [1]).unwrap(),
        )
        .unwrap();
        assert!(nan.num_classes().is_err());
        let vec_targets = TensorDataset::new(Tensor::zeros([2, 1]), Tensor::zeros([2, 3])).unwrap();
        assert!(vec_targets.num_classes().is_err());
        let empty = TensorDataset::new(Tensor::zeros([0, 2]), Tensor::zeros([0])).unwrap();
        assert_eq!(empty.num_classes().unwrap(), 0);
    }

    #[test]
    fn to_one_hot_and_column_targets() {
        let ds = toy(4);
        let oh = ds.to_one_hot(None).unwrap();
        assert_eq!(oh.y().shape(), &[4, 3]);
        assert_eq!(oh.y().to_vec()[..6], [1., 0., 0., 0., 1., 0.]);
        assert!(ds.to_one_hot(Some(2)).is_err());
        let col = ds.with_column_targets().unwrap();
        assert_eq!(col.y().shape(), &[4, 1]);
        assert_eq!(col.labels().unwrap(), vec![0, 1, 2, 0]);
    }

    #[test]
    fn train_test_split_is_deterministic_disjoint_and_complete() {
        let ds = toy(10);
        let (tr, te) = ds.train_test_split(0.25, false, 9).unwrap();
        assert_eq!((tr.len(), te.len()), (7, 3)); // ceil(2.5) = 3
        let (tr2, te2) = ds.train_test_split(0.25, false, 9).unwrap();
        assert_eq!(tr.x().to_vec(), tr2.x().to_vec());
        assert_eq!(te.x().to_vec(), te2.x().to_vec());
        let (_, te3) = ds.train_test_split(0.25, false, 10).unwrap();
        let mut rows: Vec<usize> = tr
            .x()
            .to_vec()
            .iter()
            .chain(te.x().to_vec().iter())
            .step_by(3)
            .map(|&v| v as usize / 3)
            .collect();
        rows.sort_unstable();
        assert_eq!(rows, (0..10).collect::<Vec<_>>());
        // a different seed picks a different test set (with overwhelming probability)
        assert_ne!(te.x().to_vec(), te3.x().to_vec());
    }

    #[test]
    fn train_test_split_rejects_bad_fractions() {
        let ds = toy(10);
        for f in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
            assert!(ds.train_test_split(f, false, 0).is_err(), "{f}");
        }
        assert!(ds.train_test_split(0.99, false, 0).is_err()); // ceil(9.9) = 10: empty train
        assert!(toy(1).train_test_split(0.5, false, 0).is_err());
        let vec_targets = TensorDataset::new(Tensor::zeros([4, 1]), Tensor::zeros([4, 2])).unwrap();
        assert!(vec_targets.train_test_split(0.5, true, 0).is_err());
        assert!(vec_targets.train_test_split(0.5, false, 0).is_ok());
    }

    #[test]
    fn train_test_split_stratified_keeps_proportions() {
        // classes of 60, 30 and 10 samples
        let n = 100;
        let y: Vec<f32> = (0..n)
            .map(|i| {
                if i < 60 {
                    0.0
                } else if i < 90 {
                    1.0
                } else {
                    2.0
                }
            })
            .collect();
        let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let ds = TensorDataset::new(
            Tensor::from_vec(x, [n, 1]).unwrap(),
            Tensor::from_vec(y, [n]).unwrap(),
        )
        .unwrap();
        let (tr, te) = ds.train_test_split(0.2, true, 3).unwrap();
        assert_eq!(te.class_counts().unwrap(), vec![12, 6, 2]);
        assert_eq!(tr.class_counts().unwrap(), vec![48, 24, 8]);
        // uneven: 7 test samples from 60/30/10 -> quotas 4.2, 2.1, 0.7 -> 4, 2, 1
        let (_, te) = ds.train_test_split(0.07, true, 3).unwrap();
        assert_eq!(te.class_counts().unwrap(), vec![4, 2, 1]);
        // features still match their labels
        for (xv, yv) in te.x().to_vec().iter().zip(te.y().to_vec()) {
            let i = *xv as usize;
            assert_eq!(
                yv,
                if i < 60 {
                    0.0
                } else if i < 90 {
                    1.0
                } else {
                    2.0
                }
            );
        }
    }

    #[test]
    fn split_validation_takes_the_last_fraction() {
        let ds = toy(10);
        let (tr, va) = ds.split_validation(0.25).unwrap();
        // floor(10 * 0.75) = 7
        assert_eq!((tr.len(), va.len()), (7, 3));
        assert_eq!(
            va.x().to_vec(),
            (21..30).map(|v| v as f32).collect::<Vec<_>>()
        );
        assert_eq!(tr.y().to_vec(), vec![0., 1., 2., 0., 1., 2., 0.]);
        // zero-copy parts are still gatherable
        let mut x = vec![0.0; 3];
        let mut y = vec![0.0; 1];
        va.gather(&[1], &mut x, &mut y);
        assert_eq!(x, vec![24., 25., 26.]);
        assert_eq!(y, vec![2.0]);
        assert!(ds.split_validation(0.0).is_err());
        assert!(ds.split_validation(1.0).is_err());
        let (tr, va) = ds.split_validation(0.01).unwrap(); // floor(9.9) = 9
        assert_eq!((tr.len(), va.len()), (9, 1));
        assert!(ds.split_validation(1e-18).is_err()); // 1 - 1e-18 == 1: empty validation set
        let (tr, _) = ds.split_validation(0.3).unwrap(); // 10 * (1 - 0.3) rounds to 7
        assert_eq!(tr.len(), 7);
        assert!(toy(1).split_validation(0.5).is_err());
    }

    #[test]
    fn split_at_bounds() {
        let ds = toy(3);
        let (a, b) = ds.split_at(3).unwrap();
        assert_eq!((a.len(), b.len()), (3, 0));
        assert!(ds.split_at(4).is_err());
    }
}
