//! Mini-batch iteration: [`DataLoader`], [`Batches`] and [`Batch`].
//!
//! A loader walks a dataset in batches, optionally in a fresh random order each epoch.
//! Epoch `e` of a loader seeded with `s` uses the permutation drawn by
//! `Rng::derive(s, e)`, so an epoch's batches depend only on `(seed, epoch)`: two loaders
//! with the same settings yield identical batches, and training can resume at any epoch.
//!
//! Batches are assembled ahead of time in a background thread and handed over through a
//! bounded channel (by default two batches deep), so that gathering overlaps with the
//! training step; large batches are gathered in parallel with rayon
//! (see [`gather_batch`]). Batches always arrive in order, so
//! iteration is deterministic whatever the number of threads.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use nn_tensor::random::Rng;
use nn_tensor::Tensor;

use crate::dataset::{gather_batch, Dataset};
use crate::{DataError, Result};

/// One mini-batch.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Features, `[b, ...feature_shape]`.
    pub x: Tensor<f32>,
    /// Targets, `[b, ...target_shape]`.
    pub y: Tensor<f32>,
    /// The dataset indices of the `b` samples, in batch order.
    pub indices: Vec<usize>,
}

impl Batch {
    /// The number of samples in the batch.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether the batch holds no sample.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// The default number of batches prepared ahead of the consumer.
pub const DEFAULT_PREFETCH: usize = 2;

/// Iterates a [`Dataset`] in mini-batches; see the [module docs](self).
///
/// ```
/// use std::sync::Arc;
/// use nn_data::{DataLoader, TensorDataset};
/// use nn_tensor::Tensor;
///
/// let ds = TensorDataset::new(Tensor::zeros([10, 3]), Tensor::zeros([10]))?;
/// let mut loader = DataLoader::new(Arc::new(ds), 4)?.shuffle(true).seed(7);
/// assert_eq!(loader.num_batches(), 3);
/// for batch in &mut loader {
///     let batch = batch?;
///     assert_eq!(batch.x.shape()[1], 3);
/// }
/// # Ok::<(), nn_data::DataError>(())
/// ```
pub struct DataLoader<D: Dataset + ?Sized + 'static = dyn Dataset> {
    dataset: Arc<D>,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    seed: u64,
    prefetch: usize,
    next_epoch: u64,
}

impl<D: Dataset + ?Sized + 'static> Clone for DataLoader<D> {
    fn clone(&self) -> Self {
        DataLoader {
            dataset: Arc::clone(&self.dataset),
            batch_size: self.batch_size,
            shuffle: self.shuffle,
            drop_last: self.drop_last,
            seed: self.seed,
            prefetch: self.prefetch,
            next_epoch: self.next_epoch,
        }
    }
}

impl<D: Dataset + ?Sized + 'static> std::fmt::Debug for DataLoader<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataLoader")
            .field("samples", &self.dataset.len())
            .field("batch_size", &self.batch_size)
            .field("shuffle", &self.shuffle)
            .field("drop_last", &self.drop_last)
            .field("seed", &self.seed)
            .field("prefetch", &self.prefetch)
            .field("next_epoch", &self.next_epoch)
            .finish()
    }
}

impl<D: Dataset + ?Sized + 'static> DataLoader<D> {
    /// A loader over `dataset` in batches of `batch_size` (an error if 0), in dataset order,
    /// keeping a last partial batch, seed 0, prefetching [`DEFAULT_PREFETCH`] batches.
    pub fn new(dataset: Arc<D>, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(DataError::invalid(
                "DataLoader: batch_size must be at least 1",
            ));
        }
        Ok(DataLoader {
            dataset,
            batch_size,
            shuffle: false,
            drop_last: false,
            seed: 0,
            prefetch: DEFAULT_PREFETCH,
            next_epoch: 0,
        })
    }

    /// Whether each epoch visits the samples in a new random order.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The seed of the per-epoch permutations.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether to skip a last batch smaller than `batch_size`.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// How many batches a background thread prepares ahead; 0 assembles each batch in the
    /// consuming thread when it is asked for (same batches, no extra thread).
    pub fn prefetch(mut self, depth: usize) -> Self {
        self.prefetch = depth;
        self
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<D> {
        &self.dataset
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Whether epochs are shuffled.
    pub fn is_shuffled(&self) -> bool {
        self.shuffle
    }

    /// The number of batches in one epoch.
    pub fn num_batches(&self) -> usize {
        let n = self.dataset.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// The epoch [`DataLoader::next_epoch`] will run next.
    pub fn current_epoch(&self) -> u64 {
        self.next_epoch
    }

    /// Sets the epoch [`DataLoader::next_epoch`] runs next (to resume training).
    pub fn set_epoch(&mut self, epoch: u64) {
        self.next_epoch = epoch;
    }

    /// The order in which epoch `epoch` visits the samples: `0..N` without shuffling, else
    /// the permutation drawn by `Rng::derive(seed, epoch)`.
    pub fn epoch_indices(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if self.shuffle {
            Rng::derive(self.seed, epoch).shuffle(&mut order);
        }
        order
    }

    /// The batches of epoch `epoch` (stateless: the same epoch always gives the same batches).
    pub fn epoch(&self, epoch: u64) -> Batches<D> {
        let order: Arc<[usize]> = self.epoch_indices(epoch).into();
        let total = self.num_batches();
        let sync = || Inner::Sync {
            dataset: Arc::clone(&self.dataset),
            batch_size: self.batch_size,
            pos: 0,
        };
        let inner = if self.prefetch == 0 || total == 0 {
            sync()
        } else {
            let (tx, rx) = sync_channel::<Result<Batch>>(self.prefetch);
            let dataset = Arc::clone(&self.dataset);
            let batch_size = self.batch_size;
            // The order is shared with the worker; a failed spawn falls back to the
            // synchronous mode with the same order.
            let worker_order = Arc::clone(&order);
            let spawned = std::thread::Builder::new()
                .name("nn-data-loader".into())
                .spawn(move || {
                    for chunk in worker_order.chunks(batch_size).take(total) {
                        if tx.send(assemble(&*dataset, chunk)).is_err() {
                            return; // the consumer went away
                        }
                    }
                });
            match spawned {
                Ok(handle) => Inner::Worker {
                    rx: Some(rx),
                    handle: Some(handle),
                },
                Err(_) => sync(),
            }
        };
        Batches {
            inner,
            order,
            remaining: total,
            total,
        }
    }

    /// The batches of the current epoch, advancing the epoch counter.
    pub fn next_epoch(&mut self) -> Batches<D> {
        let e = self.next_epoch;
        self.next_epoch += 1;
        self.epoch(e)
    }
}

impl<D: Dataset + ?Sized + 'static> IntoIterator for &mut DataLoader<D> {
    type Item = Result<Batch>;
    type IntoIter = Batches<D>;

    /// The batches of the next epoch (see [`DataLoader::next_epoch`]).
    fn into_iter(self) -> Batches<D> {
        self.next_epoch()
    }
}

/// Gathers one batch.
fn assemble<D: Dataset + ?Sized>(dataset: &D, indices: &[usize]) -> Result<Batch> {
    let (x, y) = gather_batch(dataset, indices)?;
    Ok(Batch {
        x,
        y,
        indices: indices.to_vec(),
    })
}

enum Inner<D: ?Sized> {
    Sync {
        dataset: Arc<D>,
        batch_size: usize,
        pos: usize,
    },
    Worker {
        rx: Option<Receiver<Result<Batch>>>,
        handle: Option<JoinHandle<()>>,
    },
}

/// The batches of one epoch, in order; an iterator of `Result<Batch>`.
///
/// An item is an error only if batch assembly failed (a [`Dataset`] implementation that
/// panicked in the worker thread, or inconsistent shapes); iteration then ends.
/// Dropping the iterator early stops the worker thread.
pub struct Batches<D: Dataset + ?Sized + 'static = dyn Dataset> {
    inner: Inner<D>,
    order: Arc<[usize]>,
    remaining: usize,
    total: usize,
}

impl<D: Dataset + ?Sized + 'static> Batches<D> {
    /// The order in which this epoch visits the samples (its batches are consecutive runs of
    /// it), shared rather than copied.
    pub fn order(&self) -> Arc<[usize]> {
        Arc::clone(&self.order)
    }

    /// Stops the worker (if any) and waits for it; returns its panic message if it panicked.
    fn stop_worker(&mut self) -> Option<String> {
        if let Inner::Worker { rx, handle } = &mut self.inner {
            drop(rx.take());
            if let Some(h) = handle.take() {
                if let Err(payload) = h.join() {
                    return Some(
                        payload
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| payload.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "unknown panic".into()),
                    );
                }
            }
        }
        None
    }
}

impl<D: Dataset + ?Sized + 'static> Iterator for Batches<D> {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        if self.remaining == 0 {
            self.stop_worker();
            return None;
        }
        let item = match &mut self.inner {
            Inner::Sync {
                dataset,
                batch_size,
                pos,
            } => {
                let start = *pos;
                let end = (start + *batch_size).min(self.order.len());
                *pos = end;
                assemble(&**dataset, &self.order[start..end])
            }
            Inner::Worker { rx, .. } => match rx.as_ref().map(|r| r.recv()) {
                Some(Ok(item)) => item,
                _ => {
                    let done = self.total - self.remaining;
                    let why = self
                        .stop_worker()
                        .map_or(String::new(), |m| format!(": {m}"));
                    Err(DataError::invalid(format!(
                        "DataLoader: the batch worker stopped after {done} of {} batches{why}",
                        self.total
                    )))
                }
            },
        };
        self.remaining = if item.is_ok() { self.remaining - 1 } else { 0 };
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<D: Dataset + ?Sized + 'static> ExactSizeIterator for Batches<D> {}

impl<D: Dataset + ?Sized + 'static> Drop for Batches<D> {
    fn drop(&mut self) {
        self.stop_worker();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TensorDataset;

    fn toy(n: usize) -> Arc<TensorDataset> {
        // features [n, 2, 3] = sample index * 10 + position; targets [n] = index
        let x: Vec<f32> = (0..n * 6).map(|v| ((v / 6) * 10 + v % 6) as f32).collect();
        let y: Vec<f32> = (0..n).map(|i| i as f32).collect();
        Arc::new(
            TensorDataset::new(
                Tensor::from_vec(x, [n, 2, 3]).unwrap(),
                Tensor::from_vec(y, [n]).unwrap(),
            )
            .unwrap(),
        )
    }

    fn collect(b: Batches<impl Dataset + ?Sized>) -> Vec<Batch> {
        b.map(|r| r.unwrap()).collect()
    }

    #[test]
    fn loader_epoch_is_a_permutation_with_consistent_rows() {
        let loader = DataLoader::new(toy(23), 5).unwrap().shuffle(true).seed(11);
        let batches = collect(loader.epoch(0));
        assert_eq!(batches.len(), 5);
        assert_eq!(
            batches.iter().map(Batch::len).collect::<Vec<_>>(),
            vec![5, 5, 5, 5, 3]
        );
        let mut all: Vec<usize> = batches.iter().flat_map(|b| b.indices.clone()).collect();
        assert_ne!(all, (0..23).collect::<Vec<_>>(), "shuffled");
        all.sort_unstable();
        assert_eq!(all, (0..23).collect::<Vec<_>>());
        for b in &batches {
            assert_eq!(b.x.shape(), &[b.len(), 2, 3]);
            assert_eq!(b.y.shape(), &[b.len()]);
            for (k, &i) in b.indices.iter().enumerate() {
                assert_eq!(b.y.to_vec()[k], i as f32);
                assert_eq!(b.x.get([k, 1, 2]).unwrap(), (i * 10 + 5) as f32);
            }
        }
    }

    #[test]
    fn loader_same_seed_same_batches_other_epoch_differs() {
        let a = DataLoader::new(toy(40), 8).unwrap().shuffle(true).seed(3);
        let b = DataLoader::new(toy(40), 8)
            .unwrap()
            .shuffle(true)
            .seed(3)
            .prefetch(0);
        for e in 0..3 {
            let ba = collect(a.epoch(e));
            let bb = collect(b.epoch(e));
            assert_eq!(ba.len(), bb.len());
            for (p, q) in ba.iter().zip(&bb) {
                assert_eq!(p.indices, q.indices);
                assert_eq!(p.x, q.x);
                assert_eq!(p.y, q.y);
            }
        }
        assert_ne!(a.epoch_indices(0), a.epoch_indices(1));
        let c = DataLoader::new(toy(40), 8).unwrap().shuffle(true).seed(4);
        assert_ne!(a.epoch_indices(0), c.epoch_indices(0));
        // the permutation is the one Rng::derive(seed, epoch) draws
        let mut want: Vec<usize> = (0..40).collect();
        Rng::derive(3, 2).shuffle(&mut want);
        assert_eq!(a.epoch_indices(2), want);
    }

    #[test]
    fn loader_unshuffled_in_order_and_drop_last() {
        let l = DataLoader::new(toy(10), 4).unwrap();
        let idx: Vec<Vec<usize>> = collect(l.epoch(5)).into_iter().map(|b| b.indices).collect();
        assert_eq!(idx, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
        let l = l.drop_last(true);
        assert_eq!(l.num_batches(), 2);
        let bs = collect(l.epoch(0));
        assert_eq!(bs.len(), 2);
        assert!(bs.iter().all(|b| b.len() == 4));
        let l = DataLoader::new(toy(3), 4).unwrap().drop_last(true);
        assert_eq!(l.num_batches(), 0);
        assert_eq!(l.epoch(0).count(), 0);
    }

    #[test]
    fn loader_next_epoch_advances_and_into_iter() {
        let mut l = DataLoader::new(toy(12), 5).unwrap().shuffle(true).seed(1);
        let e0: Vec<usize> = (&mut l)
            .into_iter()
            .flat_map(|b| b.unwrap().indices)
            .collect();
        assert_eq!(l.current_epoch(), 1);
        assert_eq!(e0, l.epoch_indices(0));
        let mut seen = 0;
        for b in &mut l {
            seen += b.unwrap().len();
        }
        assert_eq!(seen, 12);
        assert_eq!(l.current_epoch(), 2);
        l.set_epoch(0);
        let again: Vec<usize> = l.next_epoch().flat_map(|b| b.unwrap().indices).collect();
        assert_eq!(again, e0);
    }

    #[test]
    fn loader_dyn_dataset_empty_and_errors() {
        let ds: Arc<dyn Dataset> = toy(7);
        let l: DataLoader = DataLoader::new(ds, 3).unwrap();
        let it = l.epoch(0);
        assert_eq!(it.len(), 3);
        assert_eq!(collect(it).len(), 3);
        assert!(DataLoader::new(toy(7), 0).is_err());
        let empty = DataLoader::new(toy(0), 3).unwrap().shuffle(true);
        assert_eq!(empty.num_batches(), 0);
        assert_eq!(empty.epoch(0).count(), 0);
    }

    #[test]
    fn loader_early_drop_stops_worker() {
        let l = DataLoader::new(toy(1000), 1).unwrap().prefetch(2);
        let mut it = l.epoch(0);
        assert_eq!(it.next().unwrap().unwrap().indices, vec![0]);
        drop(it); // must not hang or leak a blocked thread
    }

    /// A dataset whose gather panics for sample 5.
    struct Faulty;

    impl Dataset for Faulty {
        fn len(&self) -> usize {
            10
        }
        fn feature_shape(&self) -> Vec<usize> {
            vec![1]
        }
        fn target_shape(&self) -> Vec<usize> {
            vec![]
        }
        fn gather(&self, indices: &[usize], x_out: &mut [f32], y_out: &mut [f32]) {
            for (k, &i) in indices.iter().enumerate() {
                assert!(i != 5, "sample 5 is broken");
                x_out[k] = i as f32;
                y_out[k] = 0.0;
            }
        }
    }

    #[test]
    fn loader_worker_panic_becomes_an_error() {
        let l = DataLoader::new(Arc::new(Faulty), 2).unwrap();
        let items: Vec<Result<Batch>> = l.epoch(0).collect();
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok() && items[1].is_ok());
        let msg = items[2].as_ref().unwrap_err().to_string();
        assert!(
            msg.contains("after 2 of 5") && msg.contains("sample 5 is broken"),
            "{msg}"
        );
    }

    #[test]
    fn loader_large_batches_gathered_in_parallel_match() {
        // 300 samples x 256 features: batches of 256 hold 65 536 values (parallel path).
        let n = 300;
        let x: Vec<f32> = (0..n * 256).map(|v| v as f32).collect();
        let ds = Arc::new(
            TensorDataset::new(
                Tensor::from_vec(x, [n, 256]).unwrap(),
                Tensor::from_vec((0..n).map(|v| v as f32).collect(), [n]).unwrap(),
            )
            .unwrap(),
        );
        let l = DataLoader::new(ds, 256).unwrap().shuffle(true).seed(9);
        for b in collect(l.epoch(0)) {
            let xv = b.x.to_vec();
            for (k, &i) in b.indices.iter().enumerate() {
                assert_eq!(
                    xv[k * 256..(k + 1) * 256],
                    (i * 256..(i + 1) * 256)
                        .map(|v| v as f32)
                        .collect::<Vec<_>>()[..]
                );
            }
        }
    }
}
