//! Weight initializers with Keras' definitions and names.

use nn_tensor::random::Rng;
use nn_tensor::{Float, Tensor};
use serde::{Deserialize, Serialize};

use crate::{LayerError, Result};

/// Keras divides the standard deviation of truncated-normal variance scaling by this, the
/// standard deviation of a unit normal truncated to [−2, 2], so the variance comes out right.
const TRUNCATED_STD_CORRECTION: f64 = 0.879_625_661_034_239_8;

/// How a weight tensor is filled when its layer is built.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Initializer {
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// A constant.
    Constant(f64),
    /// Uniform in `[min, max)`.
    RandomUniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Normal with `mean` and `std`.
    RandomNormal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Normal redrawn beyond two standard deviations.
    TruncatedNormal {
        /// Mean.
        mean: f64,
        /// Standard deviation before truncation.
        std: f64,
    },
    /// Glorot (Xavier) uniform: `limit = √(6 / (fan_in + fan_out))`.
    GlorotUniform,
    /// Glorot normal: truncated normal, `std = √(2 / (fan_in + fan_out))`.
    GlorotNormal,
    /// He uniform: `limit = √(6 / fan_in)`.
    HeUniform,
    /// He normal: truncated normal, `std = √(2 / fan_in)`.
    HeNormal,
    /// LeCun uniform: `limit = √(3 / fan_in)`.
    LecunUniform,
    /// LeCun normal: truncated normal, `std = √(1 / fan_in)` (for SELU networks).
    LecunNormal,
    /// A (semi-)orthogonal matrix scaled by `gain`, from the QR decomposition of a normal
    /// matrix (the recurrent kernels' default).
    Orthogonal {
        /// Scale factor.
        gain: f64,
    },
}

/// `(fan_in, fan_out)` of a weight shape, as Keras computes them: a matrix `[in, out]`; a
/// convolution kernel `[..spatial, in, out]` multiplies both by the receptive field.
pub fn compute_fans(shape: &[usize]) -> (usize, usize) {
    match shape.len() {
        0 => (1, 1),
        1 => (shape[0], shape[0]),
        2 => (shape[0], shape[1]),
        n => {
            let receptive: usize = shape[..n - 2].iter().product();
            (shape[n - 2] * receptive, shape[n - 1] * receptive)
        }
    }
}

impl Initializer {
    /// Parses Keras' snake-case names (`"glorot_uniform"`, `"he_normal"`, `"zeros"`, ...).
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "zeros" => Initializer::Zeros,
            "ones" => Initializer::Ones,
            "random_uniform" => Initializer::RandomUniform {
                min: -0.05,
                max: 0.05,
            },
            "random_normal" => Initializer::RandomNormal {
                mean: 0.0,
                std: 0.05,
            },
            "truncated_normal" => Initializer::TruncatedNormal {
                mean: 0.0,
                std: 0.05,
            },
            "glorot_uniform" | "xavier_uniform" => Initializer::GlorotUniform,
            "glorot_normal" | "xavier_normal" => Initializer::GlorotNormal,
            "he_uniform" => Initializer::HeUniform,
            "he_normal" => Initializer::HeNormal,
            "lecun_uniform" => Initializer::LecunUniform,
            "lecun_normal" => Initializer::LecunNormal,
            "orthogonal" => Initializer::Orthogonal { gain: 1.0 },
            _ => {
                return Err(LayerError::UnknownName {
                    kind: "initializer",
                    name: name.to_string(),
                    known: "zeros, ones, random_uniform, random_normal, truncated_normal, \
                            glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform, \
                            lecun_normal, orthogonal"
                        .into(),
                })
            }
        })
    }

    /// A tensor of `shape` drawn from `rng`.
    pub fn init<T: Float>(&self, shape: &[usize], rng: &mut Rng) -> Tensor<T> {
        let (fan_in, fan_out) = compute_fans(shape);
        let (fan_in, fan_out) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
        let uniform =
            |limit: f64, rng: &mut Rng| Tensor::rand_uniform_with(shape, -limit, limit, rng);
        let truncated = |std: f64, rng: &mut Rng| {
            Tensor::truncated_normal_with(shape, 0.0, std / TRUNCATED_STD_CORRECTION, rng)
        };
        match *self {
            Initializer::Zeros => Tensor::zeros(shape),
            Initializer::Ones => Tensor::ones(shape),
            Initializer::Constant(c) => Tensor::full(shape, T::of(c)),
            Initializer::RandomUniform { min, max } => {
                Tensor::rand_uniform_with(shape, min, max, rng)
            }
            Initializer::RandomNormal { mean, std } => {
                Tensor::rand_normal_with(shape, mean, std, rng)
            }
            Initializer::TruncatedNormal { mean, std } => {
                Tensor::truncated_normal_with(shape, mean, std, rng)
            }
            Initializer::GlorotUniform => uniform((6.0 / (fan_in + fan_out)).sqrt(), rng),
            Initializer::GlorotNormal => truncated((2.0 / (fan_in + fan_out)).sqrt(), rng),
            Initializer::HeUniform => uniform((6.0 / fan_in).sqrt(), rng),
            Initializer::HeNormal => truncated((2.0 / fan_in).sqrt(), rng),
            Initializer::LecunUniform => uniform((3.0 / fan_in).sqrt(), rng),
            Initializer::LecunNormal => truncated((1.0 / fan_in).sqrt(), rng),
            Initializer::Orthogonal { gain } => orthogonal(shape, gain, rng),
        }
    }
}

/// Orthogonal init: flatten to `[rows = Π shape[..-1], cols = shape[-1]]`, take Q of the QR
/// decomposition of a normal matrix (made unique by the signs of R's diagonal), scale by gain.
fn orthogonal<T: Float>(shape: &[usize], gain: f64, rng: &mut Rng) -> Tensor<T> {
    if shape.len() < 2 {
        return Tensor::rand_normal_with(shape, 0.0, 1.0, rng);
    }
    let cols = shape[shape.len() - 1];
    let rows: usize = shape[..shape.len() - 1].iter().product();
    // Work on the tall orientation [big, small] so Q has orthonormal columns.
    let (big, small) = if rows >= cols {
        (rows, cols)
    } else {
        (cols, rows)
    };
    let mut a: Vec<f64> = (0..big * small).map(|_| rng.normal()).collect(); // row-major [big, small]
                                                                            // Modified Gram–Schmidt on the columns, sign-fixed like Q·sign(diag(R)).
    for j in 0..small {
        for k in 0..j {
            let dot: f64 = (0..big).map(|i| a[i * small + j] * a[i * small + k]).sum();
            for i in 0..big {
                a[i * small + j] -= dot * a[i * small + k];
            }
        }
        let norm = (0..big)
            .map(|i| a[i * small + j].powi(2))
            .sum::<f64>()
            .sqrt();
        let norm = if norm > 0.0 { norm } else { 1.0 };
        for i in 0..big {
            a[i * small + j] /= norm;
        }
    }
    let values: Vec<T> = if rows >= cols {
        a.iter().map(|&v| T::of(v * gain)).collect()
    } else {
        // Transpose [cols, rows] → [rows, cols].
        let mut t = vec![T::zero(); rows * cols];
        for i in 0..big {
            for j in 0..small {
                t[j * cols + i] = T::of(a[i * small + j] * gain);
            }
        }
        t
    };
    Tensor::from_vec(values, shape)
        .unwrap_or_else(|_| unreachable!("rows·cols elements fill the shape"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fans_match_keras() {
        assert_eq!(compute_fans(&[784, 256]), (784, 256));
        assert_eq!(compute_fans(&[3, 3, 32, 64]), (288, 576));
        assert_eq!(compute_fans(&[10]), (10, 10));
    }

    #[test]
    fn glorot_uniform_within_limit_and_variance() {
        let mut rng = Rng::seed(0);
        let w: Tensor<f64> = Initializer::GlorotUniform.init(&[200, 300], &mut rng);
        let limit = (6.0f64 / 500.0).sqrt();
        let v = w.to_vec();
        assert!(v.iter().all(|x| x.abs() <= limit));
        let var = v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64;
        assert!((var - 2.0 / 500.0).abs() < 2e-4, "var {var}");
    }

    #[test]
    fn he_normal_variance_is_two_over_fan_in() {
        let mut rng = Rng::seed(1);
        let w: Tensor<f64> = Initializer::HeNormal.init(&[400, 400], &mut rng);
        let v = w.to_vec();
        let var = v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64;
        assert!((var / (2.0 / 400.0) - 1.0).abs() < 0.03, "var {var}");
    }

    #[test]
    fn orthogonal_is_orthonormal() {
        for shape in [[6usize, 4], [4, 6], [5, 5]] {
            let mut rng = Rng::seed(2);
            let w: Tensor<f64> = Initializer::Orthogonal { gain: 1.0 }.init(&shape, &mut rng);
            let (r, c) = (shape[0], shape[1]);
            let v = w.to_vec();
            // The smaller Gram matrix must be the identity.
            let (n, dot): (usize, Box<dyn Fn(usize, usize) -> f64>) = if r >= c {
                (
                    c,
                    Box::new(|a, b| (0..r).map(|i| v[i * c + a] * v[i * c + b]).sum()),
                )
            } else {
                (
                    r,
                    Box::new(|a, b| (0..c).map(|j| v[a * c + j] * v[b * c + j]).sum()),
                )
            };
            for a in 0..n {
                for b in 0..n {
                    let expect = if a == b { 1.0 } else { 0.0 };
                    assert!((dot(a, b) - expect).abs() < 1e-10);
                }
            }
        }
    }

    #[test]
    fn initializer_names_and_unknown() {
        assert_eq!(
            Initializer::from_name("he_uniform").unwrap(),
            Initializer::HeUniform
        );
        let e = Initializer::from_name("glorot").unwrap_err();
        assert!(e.to_string().contains("glorot") && e.to_string().contains("glorot_uniform"));
    }

    #[test]
    fn seeded_init_is_reproducible() {
        let a: Tensor<f32> = Initializer::GlorotUniform.init(&[3, 4], &mut Rng::seed(9));
        let b: Tensor<f32> = Initializer::GlorotUniform.init(&[3, 4], &mut Rng::seed(9));
        assert_eq!(a, b);
    }
}
