//! The global seed from which models draw their initial weights and dropout masks.

use std::sync::atomic::{AtomicU64, Ordering};

use nn_tensor::random::Rng;

static SEED: AtomicU64 = AtomicU64::new(0x6e6e_5eed);
static STREAM: AtomicU64 = AtomicU64::new(0);

/// Seeds every model, layer initialisation and shuffle created afterwards (Keras'
/// `keras.utils.set_random_seed`): the same seed and the same program give the same weights.
pub fn set_random_seed(seed: u64) {
    SEED.store(seed, Ordering::SeqCst);
    STREAM.store(0, Ordering::SeqCst);
}

/// The current global seed.
pub fn random_seed() -> u64 {
    SEED.load(Ordering::SeqCst)
}

/// A generator for the next consumer (a layer being built, a model), derived from the global
/// seed and a counter, so construction order determines the numbers.
pub(crate) fn next_rng() -> Rng {
    let stream = STREAM.fetch_add(1, Ordering::SeqCst);
    Rng::derive(random_seed(), stream)
}
