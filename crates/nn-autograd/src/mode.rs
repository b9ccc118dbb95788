use std::cell::Cell;

thread_local! {
    static NO_GRAD_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Whether ops on this thread record a graph (false inside [`no_grad`]).
pub fn is_recording() -> bool {
    NO_GRAD_DEPTH.with(|d| d.get() == 0)
}

/// Turns recording off on this thread until dropped (nests).
///
/// Recording is per thread: work sent to other threads (e.g. rayon) must enter its own guard.
#[derive(Debug)]
pub struct NoGradGuard {
    _private: (),
}

impl NoGradGuard {
    /// Enters no-grad mode on this thread.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        NO_GRAD_DEPTH.with(|d| d.set(d.get() + 1));
        NoGradGuard { _private: () }
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        NO_GRAD_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Runs `f` with graph recording off: every op returns a plain value with no graph node and
/// no captured tensors (inference, metrics, optimizer updates).
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}
