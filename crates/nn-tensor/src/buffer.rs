//! A process-wide cache of large tensor buffers.
//!
//! Training repeats the same shapes every step, and the big buffers (convolution outputs,
//! im2col matrices, their gradients: megabytes each) would otherwise go back to the system
//! allocator when a step ends and come back as fresh pages the next step, paying a page
//! fault per 4 KiB and the kernel's zeroing. Large buffers of dropped tensors are kept here
//! instead and handed to the next op that asks for one of about the same size.
//!
//! Only buffers of at least [`MIN_CACHED_BYTES`] are kept (the allocator serves small ones
//! well), and the cache holds at most [`limit`] bytes in all, evicting the oldest buffers
//! first. `set_limit(0)` turns it off and frees what it holds.

use std::mem::size_of;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::Float;

/// Buffers smaller than this are left to the system allocator.
pub const MIN_CACHED_BYTES: usize = 64 * 1024;

/// The default bound on the bytes the cache holds.
pub const DEFAULT_LIMIT_BYTES: usize = 512 * 1024 * 1024;

static LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_LIMIT_BYTES);
static CACHED: AtomicUsize = AtomicUsize::new(0);

/// Free buffers of one element type, oldest first.
#[doc(hidden)]
pub struct BufferCache<T> {
    free: Mutex<Vec<Vec<T>>>,
}

impl<T> BufferCache<T> {
    pub(crate) const fn new() -> Self {
        BufferCache {
            free: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<T>>> {
        // A panic while holding the lock cannot leave the list inconsistent.
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn clear(&self) {
        let freed: usize = self.lock().drain(..).map(|b| bytes_of(&b)).sum();
        CACHED.fetch_sub(freed, Ordering::Relaxed);
    }
}

fn bytes_of<T>(buffer: &Vec<T>) -> usize {
    buffer.capacity() * size_of::<T>()
}

/// The most bytes the cache holds.
pub fn limit() -> usize {
    LIMIT.load(Ordering::Relaxed)
}

/// Bounds the bytes the cache holds; `0` turns caching off. Frees what no longer fits.
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
    if CACHED.load(Ordering::Relaxed) > bytes {
        clear();
    }
}

/// The bytes the cache holds now.
pub fn cached_bytes() -> usize {
    CACHED.load(Ordering::Relaxed)
}

/// Frees every cached buffer.
pub fn clear() {
    f32::buffer_cache().clear();
    f64::buffer_cache().clear();
}

fn cacheable<T>(len: usize) -> bool {
    len.saturating_mul(size_of::<T>()) >= MIN_CACHED_BYTES
}

/// A buffer with room for at least `len` elements (holding the values of its last use),
/// from the cache if it has one of a fitting size (at most a quarter larger, so a small
/// request does not pin a big buffer).
fn take<T: Float>(len: usize) -> Option<Vec<T>> {
    if !cacheable::<T>(len) || CACHED.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let mut free = T::buffer_cache().lock();
    let fits = len..=len + len / 4;
    // The smallest fitting buffer, the most recently freed among equals.
    let best = free
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, b)| fits.contains(&b.capacity()))
        .min_by_key(|(_, b)| b.capacity())
        .map(|(i, _)| i);
    let buffer = free.remove(best?);
    drop(free);
    CACHED.fetch_sub(bytes_of(&buffer), Ordering::Relaxed);
    Some(buffer)
}

/// Keeps `buffer` for reuse if it is large and fits under the limit; frees it otherwise.
pub(crate) fn recycle<T: Float>(buffer: Vec<T>) {
    let bytes = bytes_of(&buffer);
    let limit = limit();
    if bytes < MIN_CACHED_BYTES || bytes > limit {
        return;
    }
    let mut free = T::buffer_cache().lock();
    let mut evicted = Vec::new();
    while CACHED.load(Ordering::Relaxed) + bytes > limit && !free.is_empty() {
        let old = free.remove(0);
        CACHED.fetch_sub(bytes_of(&old), Ordering::Relaxed);
        evicted.push(old);
    }
    if CACHED.load(Ordering::Relaxed) + bytes <= limit {
        CACHED.fetch_add(bytes, Ordering::Relaxed);
        free.push(buffer);
    }
    drop(free);
    // Evicted (and rejected) buffers are freed here, outside the lock.
    drop(evicted);
}

/// A buffer of `len` copies of `value`, from the cache when it has a fitting one. Use it
/// (or [`zeroed`], [`with_capacity`]) for a buffer that becomes a tensor's storage.
pub fn filled<T: Float>(len: usize, value: T) -> Vec<T> {
    match take(len) {
        Some(mut buffer) => {
            let reused = buffer.len().min(len);
            buffer.truncate(len);
            buffer.resize(len, value);
            fill(&mut buffer[..reused], value);
            buffer
        }
        None => vec![value; len],
    }
}

/// `dst.fill(value)`, split over the pool for buffers of megabytes.
fn fill<T: Float>(dst: &mut [T], value: T) {
    const PAR_MIN: usize = 1 << 18;
    if dst.len() >= PAR_MIN && rayon::current_num_threads() > 1 {
        dst.par_chunks_mut(PAR_MIN / 4)
            .for_each(|chunk| chunk.fill(value));
    } else {
        dst.fill(value);
    }
}

/// A buffer of `len` elements whose values are unspecified (those of its last use, or
/// zeros): for a kernel that writes every element, so a reused buffer is not zeroed first.
pub fn for_overwrite<T: Float>(len: usize) -> Vec<T> {
    match take(len) {
        Some(mut buffer) => {
            buffer.resize(len, T::zero());
            buffer
        }
        None => vec![T::zero(); len],
    }
}

/// A buffer of `len` zeros.
pub fn zeroed<T: Float>(len: usize) -> Vec<T> {
    filled(len, T::zero())
}

/// A zero-filled array of `shape`.
pub(crate) fn zeros_array<T: Float>(shape: &[usize]) -> ndarray::ArrayD<T> {
    ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), zeroed(shape.iter().product()))
        .unwrap_or_else(|_| unreachable!("the buffer has the shape's length"))
}

/// An empty buffer with room for `len` elements, for filling by `extend` or `push`.
pub fn with_capacity<T: Float>(len: usize) -> Vec<T> {
    match take(len) {
        Some(mut buffer) => {
            buffer.clear();
            buffer
        }
        None => Vec::with_capacity(len),
    }
}
