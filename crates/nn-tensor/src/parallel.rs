//! Parallelism thresholds, deterministic chunking, and a join for callers outside the pool.
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

/// The `with_min_len` that hands `items` parallel tasks out as one contiguous run per thread
/// of the current pool, the first on the calling thread, instead of letting rayon steal them
/// one by one. A training step repeats the same loops every step; kept in place, each core
/// touches the same part of a weight matrix or gradient each time, the part the neighbouring
/// kernels give it too (the packed GEMM's depth halves, the first to the caller).
pub fn run_per_thread(items: usize) -> usize {
    (items / threads().max(1)).max(1)
}

/// How long a caller outside the pool polls for the pool's half of a [`join`] before
/// sleeping until it is done.
const JOIN_POLL_LIMIT: std::time::Duration = std::time::Duration::from_millis(1);

/// Runs `a` and `b`, side by side when the pool has several threads, and returns both
/// results, like [`rayon::join`].
///
/// On a pool thread this is `rayon::join`. From a thread outside the pool, `rayon::join`
/// would queue both closures for the pool and put the caller to sleep until they finish;
/// waking it again costs 15–25 µs on the project machine, as much as a small matrix product
/// gains from a second core. Here the caller runs `a` itself while `b` is offered to the
/// pool. If no worker has taken `b` by the time `a` is done (a worker woken from sleep may
/// even be queued on the caller's own core), the caller runs `b` too, and then only waits for
/// a worker to pick up the emptied task (it borrows the caller's data, so it must have run
/// before `join` returns); otherwise it polls for `b`'s result for up to a millisecond before
/// sleeping. With a single-thread pool both run in order on the caller.
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    if rayon::current_thread_index().is_some() {
        return rayon::join(a, b);
    }
    if threads() < 2 {
        return (a(), b());
    }
    // Whoever takes `b` out of the cell runs it: a pool worker, or the caller once `a` is done.
    let unclaimed = Mutex::new(Some(b));
    let claim = || unclaimed.lock().ok().and_then(|mut cell| cell.take());
    let done = AtomicBool::new(false);
    let mut rb_pool = None;
    let (ra, rb_here) = rayon::in_place_scope(|s| {
        let (slot, flag, claim) = (&mut rb_pool, &done, &claim);
        s.spawn(move |_| {
            if let Some(b) = claim() {
                *slot = Some(b());
                flag.store(true, Ordering::Release);
            }
        });
        let ra = a();
        if let Some(b) = claim() {
            return (ra, Some(b()));
        }
        let start = std::time::Instant::now();
        'poll: while !done.load(Ordering::Acquire) {
            // The clock is read once per 64 polls: reading it costs more than a poll.
            for _ in 0..64 {
                if done.load(Ordering::Acquire) {
                    break 'poll;
                }
                std::hint::spin_loop();
            }
            if start.elapsed() > JOIN_POLL_LIMIT {
                break;
            }
        }
        (ra, None)
    });
    match rb_here.or(rb_pool) {
        Some(rb) => (ra, rb),
        // The scope returns only after its task has run, and re-raises its panic if it had
        // one; `b` ran in that task or on the caller.
        None => unreachable!("the scope ended with `b` not run"),
    }
}
