use std::fmt;

use ndarray::{ArcArray, ArrayD, ArrayViewD, ArrayViewMutD, IxDyn};
use serde::{Deserialize, Serialize};

use crate::random::Rng;
use crate::{Float, Result, TensorError};

/// An n-dimensional array of `T` (`f32` by default).
///
/// Storage is an [`ndarray::ArcArray`]: cloning a tensor is O(1) and shares the buffer;
/// a mutation through [`Tensor::array_mut`] copies the buffer first only if it is shared
/// (copy-on-write), so sharing is always sound.
///
/// Shapes are `&[usize]`-like values (`[2, 3]`, `vec![2, 3]`, `&shape[..]`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
pub struct Tensor<T: Float = f32> {
    data: ArcArray<T, IxDyn>,
}

/// Storage holding nothing, swapped in where a tensor's own storage is taken out.
fn empty_storage<T: Float>() -> ArcArray<T, IxDyn> {
    ArcArray::from_shape_vec(IxDyn(&[0]), Vec::new())
        .unwrap_or_else(|_| unreachable!("an empty vector has shape [0]"))
}

impl<T: Float> Drop for Tensor<T> {
    /// Hands a large buffer that no other tensor shares to the buffer cache.
    fn drop(&mut self) {
        // Checked first: swapping in empty storage allocates, so only unique buffers pay it.
        if self.data.len() * std::mem::size_of::<T>() < crate::buffer::MIN_CACHED_BYTES
            || !self.data.is_unique()
        {
            return;
        }
        let data = std::mem::replace(&mut self.data, empty_storage());
        if let Ok(owned) = data.try_into_owned_nocopy() {
            crate::buffer::recycle(owned.into_raw_vec_and_offset().0);
        }
    }
}

impl<T: Float> Tensor<T> {
    // ---------------------------------------------------------------- construction

    /// Wraps an owned `ndarray` array (no copy).
    pub fn from_array(array: ArrayD<T>) -> Self {
        Tensor {
            data: array.into_shared(),
        }
    }

    /// Wraps a shared `ndarray` array (no copy).
    pub fn from_shared(array: ArcArray<T, IxDyn>) -> Self {
        Tensor { data: array }
    }

    /// A tensor of `shape` filled row-major from `values`; an error if the lengths differ.
    pub fn from_vec(values: Vec<T>, shape: impl AsRef<[usize]>) -> Result<Self> {
        let shape = shape.as_ref();
        let expected: usize = shape.iter().product();
        if values.len() != expected {
            return Err(TensorError::LengthMismatch {
                op: "from_vec",
                len: values.len(),
                shape: shape.to_vec(),
                expected,
            });
        }
        let array = ArrayD::from_shape_vec(IxDyn(shape), values)
            .map_err(|e| TensorError::invalid("from_vec", e.to_string()))?;
        Ok(Self::from_array(array))
    }

    /// A tensor from `f64` values (convenient for literals in tests and examples).
    pub fn from_f64s(values: &[f64], shape: impl AsRef<[usize]>) -> Result<Self> {
        Self::from_vec(values.iter().map(|&v| T::of(v)).collect(), shape)
    }

    /// A rank-0 tensor holding `value`.
    pub fn scalar(value: T) -> Self {
        Self::from_array(ArrayD::from_elem(IxDyn(&[]), value))
    }

    /// A tensor of `shape` filled with `value`.
    pub fn full(shape: impl AsRef<[usize]>, value: T) -> Self {
        let shape = shape.as_ref();
        let values = crate::buffer::filled(shape.iter().product(), value);
        Self::from_array(
            ArrayD::from_shape_vec(IxDyn(shape), values)
                .unwrap_or_else(|_| unreachable!("the buffer has the shape's length")),
        )
    }

    /// A tensor of zeros.
    pub fn zeros(shape: impl AsRef<[usize]>) -> Self {
        Self::full(shape, T::zero())
    }

    /// A tensor of ones.
    pub fn ones(shape: impl AsRef<[usize]>) -> Self {
        Self::full(shape, T::one())
    }

    /// Zeros with the shape of `self`.
    pub fn zeros_like(&self) -> Self {
        Self::zeros(self.shape())
    }

    /// Ones with the shape of `self`.
    pub fn ones_like(&self) -> Self {
        Self::ones(self.shape())
    }

    /// `start, start + step, ...` up to but excluding `end` (rank 1), as NumPy's `arange`.
    pub fn arange(start: f64, end: f64, step: f64) -> Result<Self> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(TensorError::invalid(
                "arange",
                format!("start {start}, end {end} and step {step} must be finite, step non-zero"),
            ));
        }
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        let values = (0..n)
            .map(|i| T::of(start + step * i as f64))
            .collect::<Vec<_>>();
        Self::from_vec(values, [n])
    }

    /// `n` evenly spaced values from `start` to `end` inclusive (rank 1), as NumPy's `linspace`.
    pub fn linspace(start: f64, end: f64, n: usize) -> Self {
        let values = match n {
            0 => vec![],
            1 => vec![T::of(start)],
            _ => {
                let step = (end - start) / (n - 1) as f64;
                (0..n)
                    .map(|i| {
                        if i == n - 1 {
                            T::of(end)
                        } else {
                            T::of(start + step * i as f64)
                        }
                    })
                    .collect()
            }
        };
        Self::from_array(
            ArrayD::from_shape_vec(IxDyn(&[n]), values)
                .unwrap_or_else(|_| unreachable!("linspace builds exactly n values")),
        )
    }

    /// The `n × n` identity matrix.
    pub fn eye(n: usize) -> Self {
        let mut a = ArrayD::zeros(IxDyn(&[n, n]));
        for i in 0..n {
            a[[i, i]] = T::one();
        }
        Self::from_array(a)
    }

    fn fill_with(shape: &[usize], mut f: impl FnMut() -> f64) -> Self {
        let n: usize = shape.iter().product();
        let values: Vec<T> = (0..n).map(|_| T::of(f())).collect();
        Self::from_array(
            ArrayD::from_shape_vec(IxDyn(shape), values)
                .unwrap_or_else(|_| unreachable!("fill_with builds exactly n values")),
        )
    }

    /// Uniform in `[lo, hi)` from `rng`.
    pub fn rand_uniform_with(shape: impl AsRef<[usize]>, lo: f64, hi: f64, rng: &mut Rng) -> Self {
        Self::fill_with(shape.as_ref(), || rng.uniform_range(lo, hi))
    }

    /// Normal with `mean` and `std` from `rng`.
    pub fn rand_normal_with(
        shape: impl AsRef<[usize]>,
        mean: f64,
        std: f64,
        rng: &mut Rng,
    ) -> Self {
        Self::fill_with(shape.as_ref(), || mean + std * rng.normal())
    }

    /// Normal with `mean` and `std`, redrawn beyond two standard deviations, from `rng`.
    pub fn truncated_normal_with(
        shape: impl AsRef<[usize]>,
        mean: f64,
        std: f64,
        rng: &mut Rng,
    ) -> Self {
        Self::fill_with(shape.as_ref(), || mean + std * rng.truncated_normal())
    }

    /// Uniform in `[lo, hi)`, seeded: the same seed gives the same tensor everywhere.
    pub fn rand_uniform(shape: impl AsRef<[usize]>, lo: f64, hi: f64, seed: u64) -> Self {
        Self::rand_uniform_with(shape, lo, hi, &mut Rng::seed(seed))
    }

    /// Normal with `mean` and `std`, seeded.
    pub fn rand_normal(shape: impl AsRef<[usize]>, mean: f64, std: f64, seed: u64) -> Self {
        Self::rand_normal_with(shape, mean, std, &mut Rng::seed(seed))
    }

    /// Standard normal N(0, 1), seeded.
    pub fn randn(shape: impl AsRef<[usize]>, seed: u64) -> Self {
        Self::rand_normal(shape, 0.0, 1.0, seed)
    }

    /// Truncated normal (redrawn beyond two standard deviations), seeded.
    pub fn truncated_normal(shape: impl AsRef<[usize]>, mean: f64, std: f64, seed: u64) -> Self {
        Self::truncated_normal_with(shape, mean, std, &mut Rng::seed(seed))
    }

    // ---------------------------------------------------------------- inspection

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.data.shape()
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.data.ndim()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor holds no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The size of `axis` (negative counts from the end).
    pub fn dim(&self, axis: isize) -> Result<usize> {
        let a = crate::normalize_axis("dim", axis, self.shape())?;
        Ok(self.shape()[a])
    }

    /// The elements in logical (row-major) order.
    pub fn to_vec(&self) -> Vec<T> {
        match self.data.as_slice() {
            Some(s) => s.to_vec(),
            None => self.data.iter().copied().collect(),
        }
    }

    /// The elements as `f64` in logical order.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        self.data.iter().map(|v| v.f64()).collect()
    }

    /// The data as a row-major slice when the layout is standard (C-contiguous).
    pub fn as_slice(&self) -> Option<&[T]> {
        self.data.as_slice()
    }

    /// The value of a tensor holding exactly one element.
    pub fn item(&self) -> Result<T> {
        if self.len() != 1 {
            return Err(TensorError::invalid(
                "item",
                format!(
                    "a tensor of shape {:?} holds {} elements, not 1",
                    self.shape(),
                    self.len()
                ),
            ));
        }
        Ok(*self
            .data
            .iter()
            .next()
            .unwrap_or_else(|| unreachable!("len is 1")))
    }

    /// The element at `index`, or an error if the index has the wrong rank or is out of range.
    pub fn get(&self, index: impl AsRef<[usize]>) -> Result<T> {
        let index = index.as_ref();
        if index.len() != self.ndim() {
            return Err(TensorError::ShapeMismatch {
                op: "get",
                lhs: self.shape().to_vec(),
                rhs: index.to_vec(),
            });
        }
        self.data
            .get(IxDyn(index))
            .copied()
            .ok_or_else(|| TensorError::ShapeMismatch {
                op: "get",
                lhs: self.shape().to_vec(),
                rhs: index.to_vec(),
            })
    }

    /// A read-only `ndarray` view.
    pub fn view(&self) -> ArrayViewD<'_, T> {
        self.data.view()
    }

    /// The shared `ndarray` storage.
    pub fn array(&self) -> &ArcArray<T, IxDyn> {
        &self.data
    }

    /// Mutable access; copies the buffer first if another tensor shares it.
    pub fn array_mut(&mut self) -> &mut ArcArray<T, IxDyn> {
        &mut self.data
    }

    /// A mutable `ndarray` view (copy-on-write, as [`Tensor::array_mut`]).
    pub fn view_mut(&mut self) -> ArrayViewMutD<'_, T> {
        self.data.view_mut()
    }

    /// The row-major data as a mutable slice, making the tensor standard-layout and unshared
    /// first if needed.
    pub fn make_contiguous_mut(&mut self) -> &mut [T] {
        if !self.data.is_standard_layout() {
            self.data = crate::ops::movement::standard_copy(&self.data.view()).into_shared();
        }
        self.data
            .as_slice_mut()
            .unwrap_or_else(|| unreachable!("standard layout arrays have a slice"))
    }

    /// The owned `ndarray` array (copies only if the buffer is shared).
    pub fn into_array(mut self) -> ArrayD<T> {
        std::mem::replace(&mut self.data, empty_storage()).into_owned()
    }

    /// A standard-layout (row-major contiguous) tensor: `self` when already so, else a copy.
    pub fn contiguous(&self) -> Self {
        if self.data.is_standard_layout() {
            self.clone()
        } else {
            Self::from_array(crate::ops::movement::standard_copy(&self.data.view()))
        }
    }

    /// Whether the data is row-major contiguous.
    pub fn is_contiguous(&self) -> bool {
        self.data.is_standard_layout()
    }

    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(T) -> T) -> Self {
        Self::from_array(self.data.map(|&v| f(v)))
    }

    /// Converts the element type.
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor::from_array(self.data.map(|&v| U::of(v.f64())))
    }

    /// Whether both tensors have the same shape and all elements satisfy
    /// `|a − b| ≤ atol + rtol·|b|` (NaNs compare unequal).
    pub fn allclose(&self, other: &Self, rtol: f64, atol: f64) -> bool {
        self.shape() == other.shape()
            && self.data.iter().zip(other.data.iter()).all(|(&a, &b)| {
                let (a, b) = (a.f64(), b.f64());
                (a - b).abs() <= atol + rtol * b.abs() || a == b
            })
    }
}

impl<T: Float> PartialEq for Tensor<T> {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}

impl<T: Float> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor<{}>{:?} {:?}", T::NAME, self.shape(), self.data)
    }
}

impl<T: Float> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.data)
    }
}

impl<T: Float> From<ArrayD<T>> for Tensor<T> {
    fn from(array: ArrayD<T>) -> Self {
        Self::from_array(array)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_checks_length() {
        let e = Tensor::<f32>::from_vec(vec![1.0; 5], [2, 3]).unwrap_err();
        assert!(e.to_string().contains("from_vec") && e.to_string().contains("[2, 3]"));
        let t = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]).unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.get([1, 0]).unwrap(), 4.0);
        assert!(t.get([2, 0]).is_err());
    }

    #[test]
    fn creation_helpers() {
        assert_eq!(
            Tensor::<f64>::arange(0.0, 5.0, 2.0).unwrap().to_vec(),
            vec![0.0, 2.0, 4.0]
        );
        assert_eq!(
            Tensor::<f64>::arange(5.0, 0.0, -2.5).unwrap().to_vec(),
            vec![5.0, 2.5]
        );
        assert!(Tensor::<f64>::arange(0.0, 1.0, 0.0).is_err());
        assert_eq!(
            Tensor::<f64>::linspace(0.0, 1.0, 5).to_vec(),
            vec![0.0, 0.25, 0.5, 0.75, 1.0]
        );
        assert_eq!(Tensor::<f32>::eye(2).to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
        assert_eq!(Tensor::<f32>::full([2], 3.5).to_vec(), vec![3.5, 3.5]);
        assert_eq!(Tensor::<f32>::scalar(2.0).shape(), &[] as &[usize]);
        assert_eq!(Tensor::<f32>::scalar(2.0).item().unwrap(), 2.0);
    }

    #[test]
    fn random_is_seeded_and_reproducible() {
        let a = Tensor::<f32>::randn([3, 4], 9);
        let b = Tensor::<f32>::randn([3, 4], 9);
        assert_eq!(a, b);
        assert_ne!(a, Tensor::<f32>::randn([3, 4], 10));
        let u = Tensor::<f64>::rand_uniform([1000], -2.0, 3.0, 1);
        assert!(u.to_vec().iter().all(|&v| (-2.0..3.0).contains(&v)));
        let t = Tensor::<f64>::truncated_normal([1000], 1.0, 0.5, 1);
        assert!(t.to_vec().iter().all(|&v| (v - 1.0).abs() <= 1.0));
    }

    #[test]
    fn clone_is_shared_and_mutation_copies() {
        let a = Tensor::<f32>::zeros([4]);
        let mut b = a.clone();
        b.array_mut()[[0]] = 1.0;
        assert_eq!(a.to_vec(), vec![0.0; 4]);
        assert_eq!(b.to_vec()[0], 1.0);
    }

    #[test]
    fn serde_round_trip_json_like() {
        let a = Tensor::<f32>::randn([2, 3], 0);
        let s = serde_json_like(&a);
        assert!(!s.is_empty());
    }

    fn serde_json_like(t: &Tensor<f32>) -> String {
        format!("{t:?}")
    }
}
