//! Packed `f32` GEMM in safe Rust, structured as in BLIS/GotoBLAS.
//!
//! `C ← alpha·A·B + beta·C` is computed block by block: for every block of up to `NC` columns,
//! `B` is packed once (all of `K`, as `KC`-deep blocks of `NR`-column micro-panels, each
//! `kc × NR` row-major); then, for every `KC`-deep slice of `K` and every `MC`-row block of
//! `A`, that block is packed into `MR`-row micro-panels (`kc × MR`, column-major) and the
//! micro-kernel multiplies one `A` micro-panel by one `B` micro-panel into an `MR × NR`
//! register tile. Packing reads any strides (transposed, sliced, negative), so the kernel only
//! ever sees unit-stride, zero-padded panels; an edge tile is computed on the padding (rows
//! past `M` are skipped) and only its valid part is stored.
//!
//! Buffers: one packed `B` block per calling thread and one packed `A` block per worker
//! thread live in thread-locals and are reused, so repeated products allocate nothing but
//! their result.
//!
//! Threads: a product with more than one row block per thread, or a large `B`, shares one
//! packed `B` between parallel row blocks. A product of one row block and two `K` blocks (a
//! training batch times a weight matrix) gives each thread one `K` block, so that each core
//! packs and reads only its own half of `B` ([`depth_halves`]). Another small product called
//! from outside the pool (a user's own loop) is cut into one row piece per thread, each
//! packing its own `B`, the caller computing a piece itself ([`private_pieces`]). One to four
//! rows times a large `B` (predicting on one sample) skip packing and, when the pool's workers
//! are awake, split the columns over two cores ([`few_rows_split`]).
//!
//! The micro-kernel is plain Rust: `[[f32; NR]; MR]` accumulators updated with
//! [`f32::mul_add`] over `chunks_exact` of the panels, which LLVM turns into 12 `vfmadd231ps`
//! on `ymm` registers per `k` step when FMA is enabled at compile time (`x86-64-v3`, see
//! `.cargo/config.toml`). Without FMA `mul_add` would be a library call, so the crate then
//! keeps `matrixmultiply` (see [`available`]).
//!
//! Determinism: each output element is the same chain of fused multiply-adds over `k` in
//! increasing order within a `KC` block, the blocks added to `C` in increasing order; the
//! block depth depends only on the shape. Threads split the rows or columns of `C`, or take one
//! of two `K` blocks each with the second added onto the first exactly as one thread adds it,
//! so results are bit-identical for any number of threads.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use ndarray::{s, ArrayView1, ArrayView2};
use rayon::prelude::*;

use crate::{parallel, Tensor};

/// Rows of the register tile.
const MR: usize = 6;
/// Columns of the register tile: two 8-lane `ymm` vectors.
const NR: usize = 16;
/// Largest depth of a packed block; `K` is cut into equal blocks of at most this depth. Deep
/// blocks mean fewer read-modify-write passes over `C`; on the project machine (Zen 4, 1 MiB
/// L2) 1024 beat 256 and 512 at 1024³ (measured, docs/PERFORMANCE.md): the L2 streams the
/// 64 KiB `B` micro-panel fast enough.
const KC: usize = 1024;
/// Rows of a packed `A` block (`MC·KC·4` bytes, kept in L2), a multiple of `MR`.
const MC: usize = 144;
/// Widest packed `B` block, in columns.
const NC: usize = 4096;
/// Most elements of `B` packed at once (16 MiB): the whole depth `K` of a block of columns is
/// packed in one (possibly parallel) step, so a multi-threaded product synchronises twice per
/// block of columns (pack, then multiply), not twice per `KC` block.
const B_PACK_MAX: usize = 1 << 22;
/// Smallest packed `B` block (elements) worth packing on several threads (measured: at
/// 784×256 the extra fork-join cost more than it saved).
const PAR_PACK_MIN: usize = 1 << 19;
/// Panels of `B` packed per task.
const PACK_GROUP: usize = 8;
/// Smallest half-depth at which a product of one row block is cut into two `K` blocks, one
/// per thread (see [`depth_halves`]). At 128, W1's 128×256×128 product inside the pool on 2
/// threads took 47–48 µs instead of 72 (row split, shared `B`); on one thread, with its
/// second pass over the 64 KiB `C`, 88–113 µs against 85–102 (3 runs, noisy host).
const HALVED_DEPTH_MIN: usize = 128;

/// Most row pieces a product inside the pool hands out as one contiguous run per thread
/// ([`parallel::run_per_thread`]): each core then computes the same rows of a weight gradient
/// every step, the rows the optimizer's split has it update next (W1's `dW1`, 784 rows in 6
/// pieces). More pieces than this are a large product, left to rayon's balancing.
const STATIC_PIECES_MAX: usize = 8;

thread_local! {
    /// Packed `A` block of this thread, reused across calls.
    static A_PACK: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Packed `B` block of the calling thread, reused across calls.
    static B_PACK: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Row accumulator of [`few_rows`], reused across calls.
    static ROW_ACC: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// The other thread's partial product in [`depth_halves`], reused across calls.
    static PARTIAL: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Takes a thread-local buffer (leaving an empty one, so a nested call on the same thread
/// allocates its own instead of aliasing), grown to at least `len` elements.
fn take_buf(key: &'static std::thread::LocalKey<Cell<Vec<f32>>>, len: usize) -> Vec<f32> {
    let mut v = key.with(Cell::take);
    if v.len() < len {
        v.resize(len, 0.0);
    }
    v
}

/// Returns a buffer to its thread-local slot, keeping the larger of the two.
fn put_buf(key: &'static std::thread::LocalKey<Cell<Vec<f32>>>, v: Vec<f32>) {
    key.with(|slot| {
        let old = slot.take();
        slot.set(if old.capacity() > v.capacity() {
            old
        } else {
            v
        });
    });
}

/// The depth of the blocks `K` is cut into: equal blocks of at most `KC`, and at least two for
/// a product of one row block with `K ≥ 2·`[`HALVED_DEPTH_MIN`], so that two threads can each
/// take one block (see [`depth_halves`]). It depends on the shape alone, and so do the
/// results' bits.
fn depth_block(m: usize, k: usize) -> usize {
    let blocks = k.div_ceil(KC);
    if blocks == 1 && m > SMALL_M_MAX && m <= MC && k >= 2 * HALVED_DEPTH_MIN {
        k.div_ceil(2)
    } else {
        k.div_ceil(blocks)
    }
}

/// Whether this build has the packed kernel (compiled with FMA; otherwise `mul_add` is a slow
/// library call and `matrixmultiply`, which detects the CPU at run time, is faster).
pub(crate) const fn available() -> bool {
    cfg!(all(target_feature = "fma", target_feature = "avx2"))
}

/// `C ← alpha·A·B + beta·C` for `A` `m × k`, `B` `k × n` (any strides) and `C` a row-major
/// `m × n` slice, using at most `max_blocks` parallel row blocks when the product has at
/// least [`parallel::GEMM_PAR_MIN_FLOPS`] multiply-adds. `beta = 0` never reads `C`.
///
/// The caller has checked the shapes (`c.len() == m·n`) and that `m, n, k > 0`.
pub(crate) fn sgemm(
    alpha: f32,
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    beta: f32,
    c: &mut [f32],
    max_blocks: usize,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let kc = depth_block(m, k);
    if let Some(bs) = b.as_slice() {
        if m <= SMALL_M_MAX && m * k * n < parallel::GEMM_PAR_MIN_FLOPS {
            few_rows(alpha, a, bs, n, beta, c, kc);
            return;
        }
    }
    let threads = parallel::threads();
    let flops = m.saturating_mul(k).saturating_mul(n);
    let panels = m.div_ceil(MR);
    let pieces = if threads >= 2 && max_blocks >= 2 && flops >= parallel::GEMM_PAR_MIN_FLOPS {
        // Blocks of at most MC rows for large M (rayon balances them across busy cores),
        // otherwise one block per thread.
        panels.min(max_blocks).min(threads.max(m.div_ceil(MC)))
    } else {
        1
    };
    let piece_rows = panels.div_ceil(pieces) * MR;
    let outside_pool = rayon::current_thread_index().is_none();
    if pieces > 1 && k.div_ceil(kc) == 2 && m <= MC {
        depth_halves(alpha, a, b, beta, c, kc, pieces);
    } else if pieces > 1 && outside_pool && m.div_ceil(MC) <= pieces && k * n < PAR_PACK_MIN {
        // At most one row block per thread and a right-hand side packed serially.
        private_pieces(alpha, a, b, beta, c, piece_rows, kc);
    } else {
        shared_b(alpha, a, b, beta, c, pieces, piece_rows, kc);
    }
}

/// A product of one row block and two `K` blocks, one block per thread: each thread packs
/// and multiplies its own half of `B`'s rows, and the caller adds the other thread's partial
/// product (computed into a scratch buffer) onto its own.
///
/// Split by rows instead, one thread packs all of `B` and both read it. On the project machine
/// packing a 784×256 `B` that way took 160–170 µs inside the pool, a third of what the whole
/// product takes on one thread: every panel it rewrites was read by the other core in the
/// previous call, and each such cache line must be taken back first. Split by depth, each
/// core only ever touches its own half of a weight matrix (nearly the half the optimizer's
/// loops give it, see `nn-optim`'s kernel), and only the `m × n` partial crosses between
/// cores (128×784×256 inside the pool, 2 threads: 400–580 → 256–260 µs).
///
/// The bits are those of the serial product: there the second block is added onto `C` as
/// `C ← C + alpha·acc`, and so it is here, with `acc` from the scratch buffer.
fn depth_halves(
    alpha: f32,
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    beta: f32,
    c: &mut [f32],
    kc: usize,
    pieces: usize,
) {
    let (m, n) = (a.nrows(), b.ncols());
    // With more than two threads, each half is split by rows among its share of them.
    let (first, second) = (pieces / 2, pieces - pieces / 2);
    let rows = |p: usize| m.div_ceil(MR).div_ceil(p) * MR;
    let (a_first, a_second) = a.view().split_at(ndarray::Axis(1), kc);
    let (b_first, b_second) = b.view().split_at(ndarray::Axis(0), kc);
    let mut partial = take_buf(&PARTIAL, m * n);
    let part = &mut partial[..m * n];
    parallel::join(
        || shared_b(alpha, &a_first, &b_first, beta, c, first, rows(first), kc),
        || {
            shared_b(
                1.0,
                &a_second,
                &b_second,
                0.0,
                part,
                second,
                rows(second),
                kc,
            )
        },
    );
    for (c_row, p_row) in c.chunks_exact_mut(n).zip(part.chunks_exact(n)) {
        store_row(c_row, p_row, alpha, 1.0);
    }
    put_buf(&PARTIAL, partial);
}

/// A small product called from outside the pool, split into row pieces that run side by
/// side, each a whole serial product packing its own copy of `B`; the caller computes the
/// first piece itself (see [`parallel::join`]).
///
/// Sharing one packed `B` would mean packing it first on the caller (below [`PAR_PACK_MIN`] a
/// parallel pack costs more than it saves) and then having a worker read panels just written
/// by another core: the private copy costs no more on the critical path and needs one fork
/// instead of two (W4 on 2 threads, 4 alternating rounds: 128×784×256 at 141–143 → 193–198
/// GFLOP/s, 128×256×128 at 93–98 → 180–185; both shapes now take [`depth_halves`], level
/// with this). Inside the pool, in training, it measured slower (W1 epoch 0.43 → 0.47 s, 6
/// alternating runs): both cores then read the whole weight matrix, and the optimizer's
/// writes to it afterwards took twice as long in the profile.
fn private_pieces(
    alpha: f32,
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    beta: f32,
    c: &mut [f32],
    piece_rows: usize,
    kc: usize,
) {
    let m = a.nrows();
    let count = m.div_ceil(piece_rows);
    if count <= 1 {
        shared_b(alpha, a, b, beta, c, 1, piece_rows, kc);
        return;
    }
    let split = count / 2 * piece_rows;
    let (c_top, c_bottom) = c.split_at_mut(split * b.ncols());
    let (a_top, a_bottom) = a.view().split_at(ndarray::Axis(0), split);
    parallel::join(
        || private_pieces(alpha, &a_top, b, beta, c_top, piece_rows, kc),
        || private_pieces(alpha, &a_bottom, b, beta, c_bottom, piece_rows, kc),
    );
}

/// The packed product with one packed `B` block shared by `pieces` row blocks of
/// `piece_rows` rows that run in parallel (one block runs on the calling thread).
#[allow(clippy::too_many_arguments)]
fn shared_b(
    alpha: f32,
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    beta: f32,
    c: &mut [f32],
    pieces: usize,
    piece_rows: usize,
    kc: usize,
) {
    let k = a.ncols();
    let n = b.ncols();
    // All of K is packed at once for NC columns, so each parallel step covers every K block.
    let nc = n.min(NC).min((B_PACK_MAX / k / NR).max(1) * NR);
    let mut b_pack = take_buf(&B_PACK, nc.div_ceil(NR) * NR * k);
    let per_thread = if rayon::current_thread_index().is_some() && pieces <= STATIC_PIECES_MAX {
        parallel::run_per_thread(pieces)
    } else {
        1
    };
    for jc in (0..n).step_by(nc) {
        let ncur = nc.min(n - jc);
        let b_width = ncur.div_ceil(NR) * NR;
        let bp = &mut b_pack[..b_width * k];
        let b_blk = b.slice(s![.., jc..jc + ncur]);
        // Block `pc` of K occupies `bp[pc·b_width ..][.. kcur·b_width]`, as NR-column panels.
        // Tasks of up to PACK_GROUP panels, so that parallel packing has a few per thread.
        let tasks = bp
            .chunks_mut(kc * b_width)
            .enumerate()
            .flat_map(|(pi, blk)| {
                let kcur = blk.len() / b_width;
                let rows = b_blk.slice(s![pi * kc..pi * kc + kcur, ..]);
                blk.chunks_mut(PACK_GROUP * NR * kcur)
                    .enumerate()
                    .map(move |(g, dst)| {
                        let c0 = g * PACK_GROUP * NR;
                        let c1 = ncur.min(c0 + PACK_GROUP * NR);
                        (rows.slice_move(s![.., c0..c1]), dst)
                    })
            });
        if pieces > 1 && k * ncur >= PAR_PACK_MIN {
            tasks
                .collect::<Vec<_>>()
                .into_par_iter()
                .for_each(|(src, dst)| pack_b(&src, dst));
        } else {
            tasks.for_each(|(src, dst)| pack_b(&src, dst));
        }
        let bp = &*bp;
        if pieces > 1 {
            c.par_chunks_mut(piece_rows * n)
                .enumerate()
                .with_min_len(per_thread)
                .for_each(|(i, c_rows)| {
                    let r0 = i * piece_rows;
                    let rows = c_rows.len() / n;
                    let a_rows = a.slice(s![r0..r0 + rows, ..]);
                    row_block(alpha, &a_rows, bp, beta, c_rows, n, jc, ncur, kc);
                });
        } else {
            row_block(alpha, a, bp, beta, c, n, jc, ncur, kc);
        }
    }
    put_buf(&B_PACK, b_pack);
}

/// Rows of `A` up to which a product with row-major `B` skips packing (see [`few_rows`]).
const SMALL_M_MAX: usize = 4;

/// `C ← alpha·A·B + beta·C` for a few rows of `A` and contiguous row-major `B` (`bs`, rows of
/// `n`), without packing.
///
/// Packing `B` costs as much as multiplying it by one row (every element is touched once
/// either way), so predicting on one sample would spend half its time copying. Here each row
/// of `C` is accumulated in place of a packed tile: for every `k` in a block, `acc += a[k]·B[k,
/// ..]`, streaming `B`'s rows once per row of `A`. The chain of fused multiply-adds per element
/// and the `KC` blocking are those of the packed kernel, so results are bit-identical to it.
fn few_rows(
    alpha: f32,
    a: &ArrayView2<'_, f32>,
    bs: &[f32],
    n: usize,
    beta: f32,
    c: &mut [f32],
    kc: usize,
) {
    few_rows_cols(alpha, a, bs, n, 0..n, beta, c, n, kc);
}

/// [`few_rows`] for the columns `cols` of `B` only, written to the first `cols.len()` entries
/// of each `ldc`-long row of `c`. Each element is computed exactly as by [`few_rows`].
#[allow(clippy::too_many_arguments)]
fn few_rows_cols(
    alpha: f32,
    a: &ArrayView2<'_, f32>,
    bs: &[f32],
    n: usize,
    cols: std::ops::Range<usize>,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
    kc: usize,
) {
    let k = a.ncols();
    let width = cols.len();
    let mut buf = take_buf(&ROW_ACC, width);
    let acc = &mut buf[..width];
    for (a_row, c_row) in a.outer_iter().zip(c.chunks_mut(ldc)) {
        for (pi, pc) in (0..k).step_by(kc).enumerate() {
            let kcur = kc.min(k - pc);
            let a_blk = a_row.slice(s![pc..pc + kcur]);
            row_times_rows(&a_blk, &bs[pc * n..(pc + kcur) * n], n, cols.start, acc);
            // Later K blocks accumulate onto the earlier ones.
            let beta_blk = if pi == 0 { beta } else { 1.0 };
            store_row(&mut c_row[..width], acc, alpha, beta_blk);
        }
    }
    put_buf(&ROW_ACC, buf);
}

/// Smallest `B` (elements) whose product with a few rows is split by columns over two cores
/// (see [`few_rows_split`]).
const SPLIT_FEW_ROWS_MIN: usize = 1 << 17;

/// Longest gap after the previous few-rows product for which [`few_rows_split`] counts on a
/// pool worker still being awake. Idle rayon workers go to sleep within some tens of
/// microseconds, and waking one costs more than the split saves: predicting on one sample
/// back to back with busy gaps of 10 / 30 / 60 / 100 µs took 12.2 / 14.8 / 21.5 / 27.1 µs
/// split against 16.5 / 16.5 / 16.5 / 17.5 µs on one thread.
const AWAKE_GAP_NS: u64 = 30_000;

/// When the last few-rows product ended, in nanoseconds since [`clock_ns`]'s origin (0:
/// never).
static LAST_FEW_ROWS_END: AtomicU64 = AtomicU64::new(0);

/// Nanoseconds since the first call (at least 1).
fn clock_ns() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let ns = ORIGIN.get_or_init(Instant::now).elapsed().as_nanos();
    u64::try_from(ns).unwrap_or(u64::MAX).max(1)
}

/// The right half of a [`few_rows_split`] product, offered to the pool.
#[derive(Default)]
struct OfferedHalf {
    /// Set by whoever computes the half: the pool task, or the caller if it gets there first.
    claimed: AtomicBool,
    /// Set by the pool task once `values` holds its result.
    done: AtomicBool,
    values: Mutex<Vec<f32>>,
}

/// `A·B` for a few rows of `A` (`m ≤ 4`) and a large contiguous `B` (at least
/// [`SPLIT_FEW_ROWS_MIN`] elements), its columns split over two cores; `None` if the product
/// is not of that kind, the pool has one thread, or this build has no packed kernel.
///
/// Predicting on one sample is a few such products, bound by how fast one core's L2 streams
/// `B` (784×256 on the project machine: 10.3 µs, 78 GB/s). The caller computes the left half
/// of the columns while a pool task is offered the right half. The task owns clones of the
/// operands (tensors share their buffers), so the caller never waits for a worker to start:
/// if none has claimed the right half by the time the left one is done, the caller computes
/// it too, and the task later finds it claimed and returns. Each element is computed exactly
/// as by [`few_rows`], so the result does not depend on who computed which half.
pub(crate) fn few_rows_split(a: &Tensor<f32>, b: &Tensor<f32>) -> Option<Tensor<f32>> {
    if !available() || a.ndim() != 2 || b.ndim() != 2 || parallel::threads() < 2 {
        return None;
    }
    let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
    if m == 0 || m > SMALL_M_MAX || b.shape()[0] != k || k.saturating_mul(n) < SPLIT_FEW_ROWS_MIN {
        return None;
    }
    let bs = b.as_slice()?;
    let a_view = a.view().into_dimensionality::<ndarray::Ix2>().ok()?;
    let kc = depth_block(m, k);
    // The left part ends on a register chunk, so both halves run full chunks.
    let split = (n / 2).div_ceil(ROW_CHUNK) * ROW_CHUNK;
    if split == 0 || split >= n {
        return None;
    }
    let mut out = crate::buffer::for_overwrite(m * n);
    let last_end = LAST_FEW_ROWS_END.load(Ordering::Relaxed);
    if last_end == 0 || clock_ns().saturating_sub(last_end) > AWAKE_GAP_NS {
        // The workers are likely asleep: one core, as in `few_rows`.
        few_rows(1.0, &a_view, bs, n, 0.0, &mut out, kc);
        LAST_FEW_ROWS_END.store(clock_ns(), Ordering::Relaxed);
        return Tensor::from_vec(out, [m, n]).ok();
    }
    let right = split..n;
    let offered = Arc::new(OfferedHalf::default());
    {
        let (a, b, offered, right) = (a.clone(), b.clone(), Arc::clone(&offered), right.clone());
        rayon::spawn(move || {
            if offered.claimed.swap(true, Ordering::AcqRel) {
                return;
            }
            let values = match (b.as_slice(), a.view().into_dimensionality()) {
                (Some(bs), Ok(a_view)) => {
                    let mut values = vec![0.0; m * right.len()];
                    let w = right.len();
                    few_rows_cols(1.0, &a_view, bs, n, right, 0.0, &mut values, w, kc);
                    values
                }
                _ => Vec::new(),
            };
            if let Ok(mut slot) = offered.values.lock() {
                *slot = values;
            }
            offered.done.store(true, Ordering::Release);
        });
    }
    few_rows_cols(1.0, &a_view, bs, n, 0..split, 0.0, &mut out, n, kc);
    let computed_here = !offered.claimed.swap(true, Ordering::AcqRel) || {
        // A worker is computing it: a few microseconds at most.
        while !offered.done.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
        let values = offered.values.lock().ok()?;
        let whole = values.len() == m * right.len();
        if whole {
            for (dst, src) in out.chunks_mut(n).zip(values.chunks(right.len())) {
                dst[split..].copy_from_slice(src);
            }
        }
        !whole
    };
    if computed_here {
        few_rows_cols(1.0, &a_view, bs, n, right, 0.0, &mut out[split..], n, kc);
    }
    LAST_FEW_ROWS_END.store(clock_ns(), Ordering::Relaxed);
    Tensor::from_vec(out, [m, n]).ok()
}
/// Columns of `C` accumulated in registers by [`row_times_rows`]: eight `ymm` vectors.
const ROW_CHUNK: usize = 64;

/// `acc[j] = Σ_p a[p]·b[p·n + j0 + j]` for row-major `b` (`a.len()` rows of `n`), `ROW_CHUNK`
/// columns at a time held in registers while the rows stream past.
fn row_times_rows(a: &ArrayView1<'_, f32>, b: &[f32], n: usize, j0: usize, acc: &mut [f32]) {
    for (chunk, acc_chunk) in acc.chunks_mut(ROW_CHUNK).enumerate() {
        let j0 = j0 + chunk * ROW_CHUNK;
        let width = acc_chunk.len();
        if width == ROW_CHUNK {
            let mut regs = [0.0f32; ROW_CHUNK];
            for (&ap, b_row) in a.iter().zip(b.chunks_exact(n)) {
                if let Some(Ok(b_part)) = b_row
                    .get(j0..j0 + ROW_CHUNK)
                    .map(<&[f32; ROW_CHUNK]>::try_from)
                {
                    for (x, &bj) in regs.iter_mut().zip(b_part) {
                        *x = ap.mul_add(bj, *x);
                    }
                }
            }
            acc_chunk.copy_from_slice(&regs);
        } else {
            acc_chunk.fill(0.0);
            for (&ap, b_row) in a.iter().zip(b.chunks_exact(n)) {
                for (x, &bj) in acc_chunk.iter_mut().zip(&b_row[j0..]) {
                    *x = ap.mul_add(bj, *x);
                }
            }
        }
    }
}

/// Multiplies the rows `a` (`rows × k`) by the packed `B` block (all of K, `KC` blocks one
/// after the other) into columns `jc .. jc + ncur` of `c` (those rows of `C`, row stride
/// `ldc`), `MC` rows at a time.
#[allow(clippy::too_many_arguments)]
fn row_block(
    alpha: f32,
    a: &ArrayView2<'_, f32>,
    b_pack: &[f32],
    beta: f32,
    c: &mut [f32],
    ldc: usize,
    jc: usize,
    ncur: usize,
    kc: usize,
) {
    let (rows, k) = a.dim();
    let b_width = ncur.div_ceil(NR) * NR;
    let mut a_pack = take_buf(&A_PACK, MC * kc);
    for (pi, pc) in (0..k).step_by(kc).enumerate() {
        let kcur = kc.min(k - pc);
        let b_blk = &b_pack[pc * b_width..][..kcur * b_width];
        // Later K blocks accumulate onto the earlier ones.
        let beta_blk = if pi == 0 { beta } else { 1.0 };
        for ic in (0..rows).step_by(MC) {
            let mcur = MC.min(rows - ic);
            let ap = &mut a_pack[..mcur.div_ceil(MR) * MR * kcur];
            let a_blk = a.slice(s![ic..ic + mcur, pc..pc + kcur]);
            for (i, panel) in ap.chunks_exact_mut(MR * kcur).enumerate() {
                pack_a_panel(&a_blk, i * MR, panel);
            }
            let c_blk = &mut c[ic * ldc..];
            for (j, bpanel) in b_blk.chunks_exact(NR * kcur).enumerate() {
                let col = jc + j * NR;
                let ncols = NR.min(ncur - j * NR);
                for (i, apanel) in ap.chunks_exact(MR * kcur).enumerate() {
                    let nrows = MR.min(mcur - i * MR);
                    let tile = match nrows {
                        1 => micro_kernel::<1>(apanel, bpanel),
                        2 => micro_kernel::<2>(apanel, bpanel),
                        3 => micro_kernel::<3>(apanel, bpanel),
                        4 => micro_kernel::<4>(apanel, bpanel),
                        5 => micro_kernel::<5>(apanel, bpanel),
                        _ => micro_kernel::<MR>(apanel, bpanel),
                    };
                    store_tile(
                        &tile,
                        c_blk,
                        ldc,
                        i * MR,
                        col,
                        nrows,
                        ncols,
                        alpha,
                        beta_blk,
                    );
                }
            }
        }
    }
    put_buf(&A_PACK, a_pack);
}

/// The `MR × NR` product of one packed `A` micro-panel (`kc × MR`) and one packed `B`
/// micro-panel (`kc × NR`): `kc` rank-1 updates of register-held accumulators.
///
/// Only the first `ROWS` rows are computed (the rest of the tile stays zero): edge panels of
/// fewer than `MR` rows skip the padding. Each computed element is the same chain of fused
/// multiply-adds whatever `ROWS` is.
#[inline(never)]
fn micro_kernel<const ROWS: usize>(a: &[f32], b: &[f32]) -> [[f32; NR]; MR] {
    let mut acc = [[0.0f32; NR]; MR];
    for (ak, bk) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        for (acc_row, &ai) in acc.iter_mut().zip(&ak[..ROWS]) {
            for (x, &bj) in acc_row.iter_mut().zip(bk) {
                *x = ai.mul_add(bj, *x);
            }
        }
    }
    acc
}

/// Writes the valid `nrows × ncols` corner of `tile` to `C` at (`row`, `col`):
/// `C ← alpha·tile + beta·C`, not reading `C` when `beta = 0`.
#[allow(clippy::too_many_arguments)]
#[inline]
fn store_tile(
    tile: &[[f32; NR]; MR],
    c: &mut [f32],
    ldc: usize,
    row: usize,
    col: usize,
    nrows: usize,
    ncols: usize,
    alpha: f32,
    beta: f32,
) {
    for (i, t) in tile.iter().enumerate().take(nrows) {
        let start = (row + i) * ldc + col;
        store_row(&mut c[start..start + ncols], t, alpha, beta);
    }
}

/// `c ← alpha·v + beta·c` over the length of `c` (`v` at least as long), not reading `c`
/// when `beta = 0`.
#[inline]
fn store_row(c: &mut [f32], v: &[f32], alpha: f32, beta: f32) {
    if beta == 0.0 {
        for (x, &v) in c.iter_mut().zip(v) {
            *x = alpha * v;
        }
    } else if beta == 1.0 {
        for (x, &v) in c.iter_mut().zip(v) {
            *x += alpha * v;
        }
    } else {
        for (x, &v) in c.iter_mut().zip(v) {
            *x = alpha * v + beta * *x;
        }
    }
}

/// Packs rows `r0 .. r0 + MR` of `a` (`rows × kc`, any strides) into `dst` (`kc × MR`,
/// element (`p`, `i`) at `p·MR + i`), zero-filling rows past the end.
fn pack_a_panel(a: &ArrayView2<'_, f32>, r0: usize, dst: &mut [f32]) {
    let rows = MR.min(a.nrows() - r0);
    let panel = a.slice(s![r0..r0 + rows, ..]);
    if rows < MR {
        dst.fill(0.0);
    }
    let kc = panel.ncols();
    let full_rows = if rows == MR && panel.strides()[1] == 1 {
        let mut srcs: [&[f32]; MR] = [&[]; MR];
        let mut all = true;
        for (i, slot) in srcs.iter_mut().enumerate() {
            match panel.row(i).to_slice() {
                Some(src) if src.len() == kc => *slot = src,
                _ => all = false,
            }
        }
        all.then_some(srcs)
    } else {
        None
    };
    if let Some(srcs) = full_rows {
        // Row-major A, full panel: gather MR values (one per row) per step, writing
        // contiguously (measured faster than scattering each row with stride MR).
        for (p, d) in dst.chunks_exact_mut(MR).enumerate() {
            for (x, src) in d.iter_mut().zip(&srcs) {
                *x = src[p];
            }
        }
    } else if panel.strides()[1] == 1 {
        // Row-major A: each row is contiguous; scatter it with stride MR.
        for (i, row) in panel.rows().into_iter().enumerate() {
            match row.as_slice() {
                Some(src) => {
                    for (d, &v) in dst[i..].iter_mut().step_by(MR).zip(src) {
                        *d = v;
                    }
                }
                None => {
                    for (d, &v) in dst[i..].iter_mut().step_by(MR).zip(row.iter()) {
                        *d = v;
                    }
                }
            }
        }
    } else {
        // Column-major (transposed) A: each column's MR entries are contiguous.
        for (d, col) in dst.chunks_exact_mut(MR).zip(panel.columns()) {
            match col.as_slice() {
                Some(src) => match (
                    <&mut [f32; MR]>::try_from(&mut *d),
                    <&[f32; MR]>::try_from(src),
                ) {
                    // A fixed-length copy compiles to vector moves, not a memcpy call.
                    (Ok(d), Ok(src)) => *d = *src,
                    _ => d[..rows].copy_from_slice(src),
                },
                None => {
                    for (x, &v) in d.iter_mut().zip(col.iter()) {
                        *x = v;
                    }
                }
            }
        }
    }
}

/// Packs `b` (`kc × cols`, any strides) into `dst` as `NR`-column panels (`kc × NR` each,
/// element (`p`, `j`) of panel `q` at `q·NR·kc + p·NR + j`), zero-filling past the last column.
fn pack_b(b: &ArrayView2<'_, f32>, dst: &mut [f32]) {
    let (kc, cols) = b.dim();
    if cols % NR != 0 {
        dst.fill(0.0);
    }
    if b.strides()[1] == 1 {
        // Row-major B: stream each row once, cutting it into the panels.
        for (p, row) in b.rows().into_iter().enumerate() {
            let Some(src) = row.as_slice() else {
                for (j, &v) in row.iter().enumerate() {
                    dst[(j / NR) * NR * kc + p * NR + j % NR] = v;
                }
                continue;
            };
            for (panel, chunk) in dst.chunks_exact_mut(NR * kc).zip(src.chunks(NR)) {
                let d = &mut panel[p * NR..(p + 1) * NR];
                match (<&[f32; NR]>::try_from(chunk), d.len() == NR) {
                    (Ok(full), true) => {
                        if let Ok(d) = <&mut [f32; NR]>::try_from(d) {
                            // A fixed-length copy compiles to vector moves, not a memcpy call.
                            *d = *full;
                        }
                    }
                    _ => d[..chunk.len()].copy_from_slice(chunk),
                }
            }
        }
    } else {
        // Column-major (transposed) B: each column is contiguous. Full panels gather one row
        // of NR values at a time from NR column slices; the rest scatter column by column.
        let mut done = 0;
        for (panel, q) in dst.chunks_exact_mut(NR * kc).zip(0..cols / NR) {
            let mut srcs: [&[f32]; NR] = [&[]; NR];
            let mut all = true;
            for (j, slot) in srcs.iter_mut().enumerate() {
                match b.column(q * NR + j).to_slice() {
                    Some(src) if src.len() == kc => *slot = src,
                    _ => all = false,
                }
            }
            if !all {
                break;
            }
            for (p, d) in panel.chunks_exact_mut(NR).enumerate() {
                for (x, src) in d.iter_mut().zip(&srcs) {
                    *x = src[p];
                }
            }
            done = (q + 1) * NR;
        }
        for (j, col) in b.columns().into_iter().enumerate().skip(done) {
            let panel = &mut dst[(j / NR) * NR * kc..][..NR * kc];
            let lane = &mut panel[j % NR..];
            match col.as_slice() {
                Some(src) => {
                    for (d, &v) in lane.iter_mut().step_by(NR).zip(src) {
                        *d = v;
                    }
                }
                None => {
                    for (d, &v) in lane.iter_mut().step_by(NR).zip(col.iter()) {
                        *d = v;
                    }
                }
            }
        }
    }
}
