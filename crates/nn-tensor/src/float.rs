use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use ndarray::{ArrayView2, LinalgScalar, ScalarOperand};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The float element types a [`Tensor`](crate::Tensor) can hold: `f32` and `f64`.
///
/// Besides arithmetic it carries the type's GEMM entry point so that matrix products can be
/// generic without runtime type checks.
pub trait Float:
    num_traits::Float
    + num_traits::FromPrimitive
    + LinalgScalar
    + ScalarOperand
    + Send
    + Sync
    + Debug
    + Display
    + Default
    + Serialize
    + DeserializeOwned
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + 'static
{
    /// The type's name, "f32" or "f64".
    const NAME: &'static str;

    /// Converts from `f64` (rounding to nearest for `f32`).
    fn of(v: f64) -> Self;

    /// Converts to `f64` exactly.
    fn f64(self) -> f64;

    /// `C = alpha * A * B + beta * C` on strided row/column data (see `matrixmultiply::sgemm`).
    ///
    /// # Safety
    /// The pointers and strides must describe valid, non-overlapping (for `c`) memory regions
    /// of the given dimensions.
    #[allow(unsafe_code, clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );

    /// Runs `C ← alpha·A·B + beta·C` (`C` a row-major `m × n` slice, shapes already checked,
    /// `m, n, k > 0`) with the crate's own packed kernel if this type has one in this build,
    /// using at most `max_blocks` parallel row blocks; returns `false` without touching `c`
    /// otherwise.
    #[doc(hidden)]
    fn packed_gemm(
        _alpha: Self,
        _a: &ArrayView2<'_, Self>,
        _b: &ArrayView2<'_, Self>,
        _beta: Self,
        _c: &mut [Self],
        _max_blocks: usize,
    ) -> bool {
        false
    }

    /// `A·B` for a few rows of `A` and a large `B`, split over two cores, if this type has
    /// the kernel for it in this build and the product is of that kind; `None` otherwise.
    #[doc(hidden)]
    fn few_rows_split(
        _a: &crate::Tensor<Self>,
        _b: &crate::Tensor<Self>,
    ) -> Option<crate::Tensor<Self>> {
        None
    }

    /// The process-wide cache of this type's large freed buffers.
    #[doc(hidden)]
    fn buffer_cache() -> &'static crate::buffer::BufferCache<Self>;
}

impl Float for f32 {
    const NAME: &'static str = "f32";
    fn buffer_cache() -> &'static crate::buffer::BufferCache<Self> {
        static CACHE: crate::buffer::BufferCache<f32> = crate::buffer::BufferCache::new();
        &CACHE
    }
    #[inline]
    fn of(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn f64(self) -> f64 {
        self as f64
    }
    #[allow(unsafe_code)]
    #[inline]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        beta: f32,
        c: *mut f32,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded contract, see the trait method.
        unsafe {
            matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
        }
    }

    fn packed_gemm(
        alpha: f32,
        a: &ArrayView2<'_, f32>,
        b: &ArrayView2<'_, f32>,
        beta: f32,
        c: &mut [f32],
        max_blocks: usize,
    ) -> bool {
        if !crate::ops::packed_gemm::available() {
            return false;
        }
        crate::ops::packed_gemm::sgemm(alpha, a, b, beta, c, max_blocks);
        true
    }

    fn few_rows_split(
        a: &crate::Tensor<f32>,
        b: &crate::Tensor<f32>,
    ) -> Option<crate::Tensor<f32>> {
        crate::ops::packed_gemm::few_rows_split(a, b)
    }
}

impl Float for f64 {
    const NAME: &'static str = "f64";
    fn buffer_cache() -> &'static crate::buffer::BufferCache<Self> {
        static CACHE: crate::buffer::BufferCache<f64> = crate::buffer::BufferCache::new();
        &CACHE
    }
    #[inline]
    fn of(v: f64) -> Self {
        v
    }
    #[inline]
    fn f64(self) -> f64 {
        self
    }
    #[allow(unsafe_code)]
    #[inline]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: f64,
        a: *const f64,
        rsa: isize,
        csa: isize,
        b: *const f64,
        rsb: isize,
        csb: isize,
        beta: f64,
        c: *mut f64,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded contract, see the trait method.
        unsafe {
            matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
        }
    }
}
