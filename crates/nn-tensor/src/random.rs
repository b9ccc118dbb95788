//! Seeded, portable random numbers.
//!
//! [`Rng`] wraps ChaCha8 (`rand_chacha`), whose output stream is fixed by its specification,
//! and derives uniforms and normals with our own arithmetic (53-bit uniforms, Box–Muller
//! normals), so a seed yields the same numbers on every machine, thread count and crate
//! version. Generation is sequential: tensors are filled in logical (row-major) order.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A seeded random generator with a stable output stream.
#[derive(Clone, Debug)]
pub struct Rng {
    inner: ChaCha8Rng,
    spare_normal: Option<f64>,
}

/// The state needed to resume an [`Rng`] exactly where it stopped (for saved training state).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    seed: [u8; 32],
    word_pos: u128,
}

impl Rng {
    /// A generator from a 64-bit seed.
    pub fn seed(seed: u64) -> Self {
        Rng {
            inner: ChaCha8Rng::seed_from_u64(seed),
            spare_normal: None,
        }
    }

    /// A child generator, independent of this one's future output, for stream `stream`
    /// (e.g. one per layer or per worker) derived deterministically from `seed`.
    pub fn derive(seed: u64, stream: u64) -> Self {
        let mut inner = ChaCha8Rng::seed_from_u64(seed);
        inner.set_stream(stream);
        Rng {
            inner,
            spare_normal: None,
        }
    }

    /// The generator's position, to resume it later with [`Rng::from_state`].
    pub fn state(&self) -> RngState {
        RngState {
            seed: self.inner.get_seed(),
            word_pos: self.inner.get_word_pos(),
        }
    }

    /// A generator resumed from a saved [`RngState`].
    pub fn from_state(state: &RngState) -> Self {
        let mut inner = ChaCha8Rng::from_seed(state.seed);
        inner.set_word_pos(state.word_pos);
        Rng {
            inner,
            spare_normal: None,
        }
    }

    /// The next raw 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// The next raw 32 random bits.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        self.inner.next_u32()
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.inner.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    #[inline]
    pub fn uniform_range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in `0..n` (Lemire's unbiased method). `n` must be positive.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let mut m = (self.inner.next_u64() as u128) * (n as u128);
        let mut low = m as u64;
        if low < n {
            let threshold = n.wrapping_neg() % n;
            while low < threshold {
                m = (self.inner.next_u64() as u128) * (n as u128);
                low = m as u64;
            }
        }
        (m >> 64) as u64
    }

    /// Standard normal N(0, 1) by Box–Muller (both outputs are used in turn).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        self.spare_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// Normal N(0, 1) redrawn until it lies within two standard deviations (Keras' and
    /// TensorFlow's truncated normal).
    pub fn truncated_normal(&mut self) -> f64 {
        loop {
            let z = self.normal();
            if z.abs() <= 2.0 {
                return z;
            }
        }
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<X>(&mut self, items: &mut [X]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_same_seed_same_stream() {
        let mut a = Rng::seed(7);
        let mut b = Rng::seed(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::seed(7).next_u64(), Rng::seed(8).next_u64());
    }

    #[test]
    fn rng_state_resumes_exactly() {
        let mut a = Rng::seed(3);
        for _ in 0..17 {
            a.next_u32();
        }
        let state = a.state();
        let mut b = Rng::from_state(&state);
        for _ in 0..50 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn rng_normal_moments() {
        let mut r = Rng::seed(1);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "var {var}");
    }

    #[test]
    fn rng_truncated_normal_within_two_sigma() {
        let mut r = Rng::seed(2);
        assert!((0..10_000)
            .map(|_| r.truncated_normal())
            .all(|z| z.abs() <= 2.0));
    }

    #[test]
    fn rng_below_is_in_range_and_covers() {
        let mut r = Rng::seed(5);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let v = r.below(7) as usize;
            seen[v] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn rng_first_values_are_pinned() {
        // Pins the stream so that a dependency upgrade cannot silently change seeded results.
        let mut r = Rng::seed(42);
        let first = r.next_u64();
        let mut again = Rng::seed(42);
        assert_eq!(first, again.next_u64());
        assert_eq!(first, PINNED_SEED42_FIRST_U64);
    }

    const PINNED_SEED42_FIRST_U64: u64 = 12_578_764_544_318_200_737;
}
