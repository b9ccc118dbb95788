//! Running the model's work on a thread of the rayon pool, with the other workers kept warm.
//!
//! A parallel kernel started from a thread outside the pool is queued for the pool's workers
//! while the caller sleeps until they finish: two thread wake-ups per kernel. A training
//! step starts a dozen such kernels, each a few tens of microseconds long, so `fit`,
//! `train_on_batch` and `evaluate` move their whole loop onto a worker once; there each
//! kernel forks and joins inside the pool (W1: 0.72 → 0.67 s per epoch, W2: 52 → 42 ms
//! per step, medians of 5 alternating runs on 2 threads). `predict` needs no such move: it
//! already runs its batches as pool tasks, and a one-sample prediction starts no parallel
//! kernel at all.
//!
//! Between two kernels the step runs serial code (bias and activation, the loss, graph
//! bookkeeping) for some tens of microseconds, long enough for an idle rayon worker to go to
//! sleep; waking it for the next fork costs 15–25 µs on the project machine, about as much
//! as a small product gains from a second thread. So while the loop runs, the other workers
//! poll for work instead of sleeping (as OpenMP runtimes spin between parallel regions), and
//! back off to short sleeps once no work has come for a millisecond.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Idle time after which a warm worker starts sleeping between polls.
const SPIN_BEFORE_BACKOFF: Duration = Duration::from_millis(1);
/// Sleep between polls once backed off.
const BACKOFF_SLEEP: Duration = Duration::from_micros(200);

/// Runs `work` on a worker of the current rayon pool (directly if already on one) and
/// returns its result, keeping the pool's other workers polling for work meanwhile.
pub(crate) fn on_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return work();
    }
    let helpers = rayon::current_num_threads().saturating_sub(1);
    let done = AtomicBool::new(false);
    let owner = AtomicUsize::new(usize::MAX);
    rayon::scope(|s| {
        owner.store(
            rayon::current_thread_index().unwrap_or(usize::MAX),
            Ordering::Relaxed,
        );
        for _ in 0..helpers {
            s.spawn(|_| keep_warm(&done, &owner));
        }
        let _stop = StopOnDrop(&done);
        work()
    })
}

/// Sets the flag when dropped, so the warm workers stop even if the work panics.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Polls the pool for work until `done`. Returns at once on the thread running the work
/// itself (it could pick this task up while waiting for a join, and must not spin there).
fn keep_warm(done: &AtomicBool, owner: &AtomicUsize) {
    if rayon::current_thread_index() == Some(owner.load(Ordering::Relaxed)) {
        return;
    }
    let mut last_work = Instant::now();
    while !done.load(Ordering::Acquire) {
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => last_work = Instant::now(),
            _ if last_work.elapsed() > SPIN_BEFORE_BACKOFF => std::thread::sleep(BACKOFF_SLEEP),
            _ => std::hint::spin_loop(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_on_a_worker_and_parallel_work_inside_completes() {
        // A test thread is outside the pool, so this takes the path with warm workers.
        let total = on_pool(|| {
            assert!(rayon::current_thread_index().is_some());
            (0..10_000u64)
                .collect::<Vec<_>>()
                .chunks(100)
                .map(|c| {
                    let (a, b) = rayon::join(|| c.iter().sum::<u64>(), || c.len() as u64);
                    a + b
                })
                .sum::<u64>()
        });
        assert_eq!(total, (0..10_000u64).sum::<u64>() + 10_000);
    }

    #[test]
    fn a_panic_in_the_work_stops_the_warm_workers() {
        let r = std::panic::catch_unwind(|| on_pool(|| panic!("boom")));
        assert!(r.is_err());
        // The pool is usable afterwards (the warm workers returned).
        assert_eq!(on_pool(|| rayon::join(|| 1, || 2)), (1, 2));
    }
}
