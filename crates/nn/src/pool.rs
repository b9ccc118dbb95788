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
//!
//! That polling is time a core has to spare, so the caller may leave it an [`IdleWork`]
//! chore, done in steps of a few microseconds between polls (`fit` has the next batch's
//! samples read into cache, so that gathering them on the critical path copies from cache
//! instead of memory).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Idle time after which a warm worker starts sleeping between polls.
const SPIN_BEFORE_BACKOFF: Duration = Duration::from_millis(1);
/// Sleep between polls once backed off.
const BACKOFF_SLEEP: Duration = Duration::from_micros(200);

/// One step of background work: does a few microseconds of it and returns whether it did
/// anything (`false` when it has nothing to do for now).
pub(crate) type Chore = Box<dyn FnMut() -> bool + Send>;

/// Background work for the warm workers of one [`on_pool`] call, taken up between polls.
pub(crate) struct IdleWork {
    chore: Mutex<Option<Chore>>,
    workers: usize,
}

impl IdleWork {
    fn new(workers: usize) -> Self {
        IdleWork {
            chore: Mutex::new(None),
            workers,
        }
    }

    /// Whether any warm worker will run a chore.
    pub(crate) fn has_workers(&self) -> bool {
        self.workers > 0
    }

    /// Replaces the chore (`None` clears it).
    pub(crate) fn set(&self, chore: Option<Chore>) {
        *self.chore.lock().unwrap_or_else(PoisonError::into_inner) = chore;
    }

    /// Runs one step of the chore, unless another worker is running one; whether it did work.
    fn step(&self) -> bool {
        match self.chore.try_lock() {
            Ok(mut slot) => slot.as_mut().is_some_and(|chore| chore()),
            Err(_) => false,
        }
    }
}

/// Runs `work` on a worker of the current rayon pool (directly if already on one) and
/// returns its result, keeping the pool's other workers polling for work meanwhile; they take
/// up the chore `work` leaves in its [`IdleWork`] when they find none.
pub(crate) fn on_pool<R: Send>(work: impl FnOnce(&IdleWork) -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return work(&IdleWork::new(0));
    }
    let helpers = rayon::current_num_threads().saturating_sub(1);
    let idle = IdleWork::new(helpers);
    let done = AtomicBool::new(false);
    let owner = AtomicUsize::new(usize::MAX);
    rayon::scope(|s| {
        owner.store(
            rayon::current_thread_index().unwrap_or(usize::MAX),
            Ordering::Relaxed,
        );
        for _ in 0..helpers {
            s.spawn(|_| keep_warm(&done, &owner, &idle));
        }
        let _stop = StopOnDrop(&done);
        work(&idle)
    })
}

/// Sets the flag when dropped, so the warm workers stop even if the work panics.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Polls the pool for work until `done`, taking up steps of the idle chore when there is
/// none. Returns at once on the thread running the work itself (it could pick this task up
/// while waiting for a join, and must not spin there).
fn keep_warm(done: &AtomicBool, owner: &AtomicUsize, idle: &IdleWork) {
    if rayon::current_thread_index() == Some(owner.load(Ordering::Relaxed)) {
        return;
    }
    let mut last_work = Instant::now();
    while !done.load(Ordering::Acquire) {
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => last_work = Instant::now(),
            _ if idle.step() => last_work = Instant::now(),
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
        let total = on_pool(|_| {
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
    fn a_warm_worker_takes_up_the_idle_chore() {
        use std::sync::Arc;
        let steps = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&steps);
        let done = on_pool(move |idle| {
            if !idle.has_workers() {
                return None; // a one-thread pool has no worker to spare
            }
            let owner = rayon::current_thread_index();
            let chore_steps = Arc::clone(&counted);
            idle.set(Some(Box::new(move || {
                if chore_steps.load(Ordering::Relaxed) >= 10 {
                    return false;
                }
                assert_ne!(rayon::current_thread_index(), owner);
                chore_steps.fetch_add(1, Ordering::Relaxed);
                true
            })));
            let started = Instant::now();
            while counted.load(Ordering::Relaxed) < 10
                && started.elapsed() < Duration::from_secs(10)
            {
                std::hint::spin_loop();
            }
            idle.set(None);
            Some(counted.load(Ordering::Relaxed))
        });
        if let Some(n) = done {
            assert_eq!(n, 10);
        }
        assert!(steps.load(Ordering::Relaxed) <= 10);
    }

    #[test]
    fn a_panic_in_the_work_stops_the_warm_workers() {
        let r = std::panic::catch_unwind(|| on_pool(|_| panic!("boom")));
        assert!(r.is_err());
        // The pool is usable afterwards (the warm workers returned).
        assert_eq!(on_pool(|_| rayon::join(|| 1, || 2)), (1, 2));
    }
}
