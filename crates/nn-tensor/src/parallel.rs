//! Parallelism thresholds and deterministic chunking for the whole crate.
//!
//! Every parallel reduction splits its input into chunks of a *fixed* size
//! ([`REDUCE_CHUNK`]) and combines the partial results in index order, so results are
//! bit-identical whatever the number of threads.

/// Elements per chunk in parallel reductions. Fixed, never derived from the thread count.
pub const REDUCE_CHUNK: usize = 1 << 14;

/// Below this many elements, element-wise kernels and reductions run on one thread.
pub const ELEMENTWISE_PAR_MIN: usize = 1 << 16;

/// Below this many multiply-adds (m·k·n), a matrix product runs on one thread.
pub const GEMM_PAR_MIN_FLOPS: usize = 1 << 21;

/// Rows per parallel task for row-wise kernels (softmax, cross-entropy) at minimum.
pub const ROWS_PAR_MIN_ELEMS: usize = 1 << 15;

/// Number of threads in the current rayon pool.
pub fn threads() -> usize {
    rayon::current_num_threads()
}
