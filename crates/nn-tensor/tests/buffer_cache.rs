//! The buffer cache is process-wide, so its checks run in their own process, one at a time.

use nn_tensor::buffer::{cached_bytes, clear, limit, set_limit, MIN_CACHED_BYTES};
use nn_tensor::Tensor;

// The tests share the process-wide cache, so they take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn buffer_cache_reuses_bounds_and_never_hands_out_a_shared_buffer() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    clear();
    assert_eq!(cached_bytes(), 0);

    // A dropped large buffer is reused by the next op of a fitting size, and a reused buffer
    // for a zeros tensor is zeroed.
    let len = MIN_CACHED_BYTES / 4 * 3 / 2;
    let t = Tensor::<f32>::full([len], 2.0);
    let ptr = t.as_slice().unwrap().as_ptr();
    drop(t);
    assert_eq!(cached_bytes(), len * 4);
    let z = Tensor::<f32>::zeros([len]);
    assert_eq!(z.as_slice().unwrap().as_ptr(), ptr, "buffer not reused");
    assert!(
        z.to_vec().iter().all(|&v| v == 0.0),
        "reused buffer not zeroed"
    );
    assert_eq!(cached_bytes(), 0);

    // Op outputs come from the cache too, and are fully written.
    let ones = Tensor::<f32>::ones([len]);
    drop(z);
    let sum = ones.add(&ones).unwrap();
    assert_eq!(
        sum.as_slice().unwrap().as_ptr(),
        ptr,
        "op output not from the cache"
    );
    assert!(sum.to_vec().iter().all(|&v| v == 2.0));
    drop(sum);
    drop(ones);

    // Small buffers are left to the allocator.
    clear();
    drop(Tensor::<f32>::zeros([100]));
    assert_eq!(cached_bytes(), 0);

    // A buffer still shared by another tensor is not taken; the last owner hands it over.
    let big = Tensor::<f64>::zeros([MIN_CACHED_BYTES / 8]);
    let shared = big.clone();
    drop(big);
    assert_eq!(cached_bytes(), 0, "a shared buffer was taken while in use");
    assert_eq!(shared.to_vec().len(), MIN_CACHED_BYTES / 8);
    drop(shared);
    assert_eq!(cached_bytes(), MIN_CACHED_BYTES);

    // A request much smaller than every cached buffer does not take one.
    let small = Tensor::<f64>::zeros([MIN_CACHED_BYTES / 8 / 2]);
    assert_eq!(cached_bytes(), MIN_CACHED_BYTES);
    drop(small);
    clear();
    assert_eq!(cached_bytes(), 0);

    // The limit bounds the cache (oldest evicted first); 0 turns it off.
    let before = limit();
    set_limit(2 * MIN_CACHED_BYTES);
    let oldest = Tensor::<f32>::ones([MIN_CACHED_BYTES / 4]);
    let oldest_ptr = oldest.as_slice().unwrap().as_ptr();
    let newer: Vec<_> = (0..2)
        .map(|_| Tensor::<f32>::ones([MIN_CACHED_BYTES / 4]))
        .collect();
    let newer_ptrs: Vec<_> = newer
        .iter()
        .map(|t| t.as_slice().unwrap().as_ptr())
        .collect();
    drop(oldest);
    drop(newer);
    assert_eq!(cached_bytes(), 2 * MIN_CACHED_BYTES, "limit not kept");
    let again: Vec<_> = (0..2)
        .map(|_| Tensor::<f32>::zeros([MIN_CACHED_BYTES / 4]))
        .collect();
    for t in &again {
        let p = t.as_slice().unwrap().as_ptr();
        assert!(
            newer_ptrs.contains(&p) && p != oldest_ptr,
            "oldest buffer not evicted"
        );
    }
    drop(again);
    set_limit(0);
    assert_eq!(cached_bytes(), 0);
    drop(Tensor::<f32>::ones([MIN_CACHED_BYTES]));
    assert_eq!(cached_bytes(), 0);
    set_limit(before);
}

/// Every kernel that takes its output buffer without zeroing it must write every element:
/// with the cache full of NaN-filled buffers of the output sizes, results are bit-identical
/// to those computed with the cache off.
#[test]
fn kernels_that_skip_zeroing_write_every_element() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    use nn_tensor::Padding;
    type Run = Box<dyn Fn() -> Vec<Vec<f32>>>;
    let x = Tensor::<f32>::rand_normal([32, 28, 28, 4], 0.0, 1.0, 1);
    let k = Tensor::<f32>::rand_normal([3, 3, 4, 8], 0.0, 0.3, 2);
    let a = Tensor::<f32>::rand_normal([128, 600], 0.0, 1.0, 3);
    let b = Tensor::<f32>::rand_normal([600, 200], 0.0, 1.0, 4);
    let row = Tensor::<f32>::rand_normal([600], 0.0, 1.0, 5);
    let labels: Vec<usize> = (0..128).map(|i| (i * 7) % 600).collect();
    let runs: Vec<(&str, Run)> = vec![
        ("conv2d", {
            let (x, k) = (x.clone(), k.clone());
            Box::new(move || vec![x.conv2d(&k, (1, 1), Padding::Valid).unwrap().to_vec()])
        }),
        ("max_pool2d", {
            let x = x.clone();
            Box::new(move || {
                let p = x.max_pool2d((2, 2), (2, 2), Padding::Valid).unwrap();
                vec![p.values.to_vec()]
            })
        }),
        ("matmul", {
            let (a, b) = (a.clone(), b.clone());
            Box::new(move || vec![a.matmul(&b).unwrap().to_vec()])
        }),
        ("element-wise", {
            let (a, row) = (a.clone(), row.clone());
            Box::new(move || {
                vec![
                    a.exp().to_vec(),
                    a.add(&a).unwrap().to_vec(),
                    a.mul(&row).unwrap().to_vec(),
                    a.relu().to_vec(),
                ]
            })
        }),
        ("softmax", {
            let a = a.clone();
            let labels = labels.clone();
            Box::new(move || {
                let (loss, grad) = a.softmax_cross_entropy_fwd_bwd(&labels, 0.5).unwrap();
                vec![
                    a.softmax(-1).unwrap().to_vec(),
                    a.log_softmax(-1).unwrap().to_vec(),
                    loss.to_vec(),
                    grad.to_vec(),
                ]
            })
        }),
    ];
    let before = limit();
    for (name, run) in &runs {
        set_limit(0);
        let cold = run();
        set_limit(before);
        // Alive together, so each is a buffer of its own; then all go to the cache.
        let poisoned: Vec<_> = cold
            .iter()
            .flat_map(|out| (0..2).map(|_| Tensor::<f32>::full([out.len()], f32::NAN)))
            .collect();
        drop(poisoned);
        let warm = run();
        clear();
        for (o, (c, w)) in cold.iter().zip(&warm).enumerate() {
            let first_diff = c
                .iter()
                .zip(w)
                .position(|(x, y)| x.to_bits() != y.to_bits());
            assert_eq!(
                first_diff, None,
                "{name}, output {o}: a reused buffer leaked into the result"
            );
        }
    }
}
