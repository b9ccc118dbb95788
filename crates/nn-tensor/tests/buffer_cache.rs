//! The buffer cache is process-wide, so its checks run in one test, in their own process.

use nn_tensor::buffer::{cached_bytes, clear, limit, set_limit, MIN_CACHED_BYTES};
use nn_tensor::Tensor;

#[test]
fn buffer_cache_reuses_bounds_and_never_hands_out_a_shared_buffer() {
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
