//! Fused element-wise update loops over (value, gradient, slots), parallel from two
//! fixed-size chunks on (element-wise, so the result never depends on the number of threads).
//!
//! The gradient preprocessing (norm-clipping scale, value clipping) and the weight decay are
//! applied inside the same loop; the loop is compiled once per combination of them, so the
//! common cases carry no per-element branches and vectorize.

use nn_tensor::parallel::run_per_thread;
use nn_tensor::Float;
use rayon::prelude::*;

/// Elements per parallel task. Fixed: results are identical whatever the thread count.
pub(crate) const CHUNK: usize = 1 << 14;

/// Elements from which an update runs in parallel: two chunks, below the element-wise kernels'
/// threshold, so that each core updates the half of a weight matrix its depth half of the
/// product reads (W1's 256×128 `W2`: its Adam update took 12 µs on one thread, 147 µs serial
/// inside a 2-thread step with the host slow, 20 µs split).
const PAR_MIN: usize = 2 * CHUNK;

/// Per-tensor gradient and weight preprocessing: the gradient is scaled (norm clipping) and
/// clipped by value, the weight decayed (`w − w·wd·lr`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pre<T> {
    scale: T,
    clip: T,
    decay: T,
    grad_op: bool,
    decayed: bool,
}

impl<T: Float> Pre<T> {
    /// `scale`: gradient factor (1 for none); `clip`: clip-by-value limit; `decay`: `wd · lr`.
    pub(crate) fn new(scale: f64, clip: Option<f64>, decay: Option<f64>) -> Self {
        Pre {
            scale: T::of(scale),
            // ±∞ bounds make the clamp an exact no-op (NaN passes unchanged either way).
            clip: clip.map_or(T::infinity(), T::of),
            decay: T::of(decay.unwrap_or(0.0)),
            grad_op: scale != 1.0 || clip.is_some(),
            decayed: decay.is_some(),
        }
    }
}

/// One specialization of the preprocessing.
trait Prep<T>: Copy + Send + Sync {
    fn g(&self, g: T) -> T;
    fn w(&self, w: T) -> T;
}

/// Nothing to do.
#[derive(Clone, Copy)]
struct Plain;

impl<T: Float> Prep<T> for Plain {
    #[inline(always)]
    fn g(&self, g: T) -> T {
        g
    }
    #[inline(always)]
    fn w(&self, w: T) -> T {
        w
    }
}

/// Scale and clamp the gradient (`g·1` and a clamp to ±∞ are exact no-ops).
#[derive(Clone, Copy)]
struct Grad<T>(T, T);

impl<T: Float> Prep<T> for Grad<T> {
    #[inline(always)]
    fn g(&self, g: T) -> T {
        clamp(g * self.0, self.1)
    }
    #[inline(always)]
    fn w(&self, w: T) -> T {
        w
    }
}

/// Decay the weight.
#[derive(Clone, Copy)]
struct Decay<T>(T);

impl<T: Float> Prep<T> for Decay<T> {
    #[inline(always)]
    fn g(&self, g: T) -> T {
        g
    }
    #[inline(always)]
    fn w(&self, w: T) -> T {
        w - w * self.0
    }
}

/// Both.
#[derive(Clone, Copy)]
struct Both<T>(Grad<T>, Decay<T>);

impl<T: Float> Prep<T> for Both<T> {
    #[inline(always)]
    fn g(&self, g: T) -> T {
        self.0.g(g)
    }
    #[inline(always)]
    fn w(&self, w: T) -> T {
        self.1.w(w)
    }
}

/// `g` clipped to `[−c, c]`; NaN stays NaN.
#[inline(always)]
pub(crate) fn clamp<T: Float>(g: T, c: T) -> T {
    if g > c {
        c
    } else if g < -c {
        -c
    } else {
        g
    }
}

/// The larger of `a` and `b`, NaN if either is NaN (as NumPy's `maximum`).
#[inline(always)]
pub(crate) fn max_nan<T: Float>(a: T, b: T) -> T {
    if b > a || b.is_nan() {
        b
    } else {
        a
    }
}

/// −1, 0 or 1 by the sign of `x` (zero stays zero, NaN stays NaN), as NumPy's `sign`.
#[inline(always)]
pub(crate) fn sign<T: Float>(x: T) -> T {
    if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        x
    }
}

/// `f(x)` for every element, in place.
pub(crate) fn map_inplace<T: Float>(x: &mut [T], f: impl Fn(T) -> T + Sync + Send) {
    let run = |x: &mut [T]| x.iter_mut().for_each(|v| *v = f(*v));
    if x.len() < PAR_MIN {
        run(x);
    } else {
        let min_len = run_per_thread(x.len().div_ceil(CHUNK));
        x.par_chunks_mut(CHUNK).with_min_len(min_len).for_each(run);
    }
}

/// Defines `$name(pre, w, g, slots..., f)`: for every element, the weight is decayed and the
/// gradient preprocessed per `pre`, then `f(&mut w, g, &mut slot...)` runs.
macro_rules! fused_loop {
    ($(#[$doc:meta])* $name:ident, $inner:ident $(, $s:ident)*) => {
        $(#[$doc])*
        pub(crate) fn $name<T: Float>(
            pre: Pre<T>,
            w: &mut [T],
            g: &[T],
            $($s: &mut [T],)*
            f: impl Fn(&mut T, T $(, fused_loop!(@ty $s))*) + Sync + Send,
        ) {
            let grad = Grad(pre.scale, pre.clip);
            let decay = Decay(pre.decay);
            match (pre.grad_op, pre.decayed) {
                (false, false) => $inner(Plain, w, g, $($s,)* &f),
                (true, false) => $inner(grad, w, g, $($s,)* &f),
                (false, true) => $inner(decay, w, g, $($s,)* &f),
                (true, true) => $inner(Both(grad, decay), w, g, $($s,)* &f),
            }
        }

        fn $inner<T: Float, P: Prep<T>>(
            p: P,
            w: &mut [T],
            g: &[T],
            $($s: &mut [T],)*
            f: &(impl Fn(&mut T, T $(, fused_loop!(@ty $s))*) + Sync + Send),
        ) {
            let run = |w: &mut [T], g: &[T] $(, $s: &mut [T])*| {
                let n = w.len();
                let g = &g[..n];
                $(let $s = &mut $s[..n];)*
                for i in 0..n {
                    let gi = p.g(g[i]);
                    w[i] = p.w(w[i]);
                    f(&mut w[i], gi $(, &mut $s[i])*);
                }
            };
            if w.len() < PAR_MIN {
                run(w, g $(, $s)*);
            } else {
                let min_len = run_per_thread(w.len().div_ceil(CHUNK));
                let chunks = w.par_chunks_mut(CHUNK).zip(g.par_chunks(CHUNK));
                $(let chunks = chunks.zip($s.par_chunks_mut(CHUNK));)*
                chunks
                    .with_min_len(min_len)
                    .for_each(|fused_loop!(@pat (w, g) $(, $s)*)| run(w, g $(, $s)*));
            }
        }
    };
    (@ty $s:ident) => { &mut T };
    (@pat $acc:tt) => { $acc };
    (@pat $acc:tt, $s:ident $(, $rest:ident)*) => { fused_loop!(@pat ($acc, $s) $(, $rest)*) };
}

fused_loop!(
    /// The fused loop over a parameter without slots.
    zip0, zip0_with
);
fused_loop!(
    /// The fused loop over a parameter with one slot.
    zip1, zip1_with, a
);
fused_loop!(
    /// The fused loop over a parameter with two slots.
    zip2, zip2_with, a, b
);
fused_loop!(
    /// The fused loop over a parameter with three slots.
    zip3, zip3_with, a, b, c
);
