//! Products and joins started from a thread outside the rayon pool, as a user's `main` calls
//! them: they take their own paths (the caller computes a share itself), which must give the
//! same bits as one thread. Runs in its own process so the global pool can be given two
//! threads whatever the machine.

#![allow(clippy::unwrap_used)]

use nn_tensor::{parallel, Tensor};

fn two_thread_global_pool() {
    // Every test here asks for the same pool; only the first request builds it.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global();
    assert_eq!(rayon::current_num_threads(), 2);
    assert!(rayon::current_thread_index().is_none());
}

fn on_one_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(f)
}

fn naive(a: &Tensor<f32>, b: &Tensor<f32>) -> Vec<f64> {
    let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
    let (a, b) = (a.to_f64_vec(), b.contiguous().to_f64_vec());
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            for j in 0..n {
                c[i * n + j] += a[i * k + p] * b[p * n + j];
            }
        }
    }
    c
}

fn assert_bits_eq(got: &Tensor<f32>, want: &Tensor<f32>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    let (g, w) = (got.to_vec(), want.to_vec());
    for (i, (x, y)) in g.iter().zip(&w).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "{what}: element {i}: {x} vs {y}");
    }
}

fn assert_close_to_naive(got: &Tensor<f32>, a: &Tensor<f32>, b: &Tensor<f32>, what: &str) {
    let k = a.shape()[1] as f64;
    for (i, (x, y)) in got.to_vec().iter().zip(naive(a, b)).enumerate() {
        assert!(
            (*x as f64 - y).abs() <= 1e-5 * k,
            "{what}: element {i}: {x} vs {y}"
        );
    }
}

#[test]
fn few_rows_times_a_large_matrix_split_over_two_cores_matches_one_thread() {
    two_thread_global_pool();
    // n odd and not a multiple of the register chunk; k over one depth block (1024).
    for &(k, n) in &[(784, 256), (1500, 777), (512, 300)] {
        let b = Tensor::<f32>::rand_uniform([k, n], -1.0, 1.0, 11);
        for m in 1..=4 {
            let a = Tensor::<f32>::rand_uniform([m, k], -1.0, 1.0, m as u64);
            let want = on_one_thread(|| a.matmul(&b).unwrap());
            assert_close_to_naive(&want, &a, &b, "one thread");
            // Back to back, so the workers stay awake and the split is taken; whichever side
            // computes the right half, the bits are the same.
            for rep in 0..50 {
                let got = a.matmul(&b).unwrap();
                assert_bits_eq(&got, &want, &format!("{m}x{k}x{n} rep {rep}"));
            }
        }
    }
    // A transposed right-hand side is not contiguous and takes the general path.
    let bt = Tensor::<f32>::rand_uniform([300, 600], -1.0, 1.0, 3);
    let b = bt.t().unwrap();
    let a = Tensor::<f32>::rand_uniform([2, 600], -1.0, 1.0, 4);
    let got = a.matmul(&b).unwrap();
    assert_bits_eq(&got, &on_one_thread(|| a.matmul(&b).unwrap()), "transposed");
    assert_close_to_naive(&got, &a, &b, "transposed");
}

#[test]
fn small_products_split_into_private_pieces_match_one_thread() {
    two_thread_global_pool();
    // Rows of at most two packing blocks and a right-hand side packed serially: each piece
    // packs its own copy.
    for &(m, k, n) in &[
        (128, 784, 256),
        (128, 256, 128),
        (97, 301, 190),
        (250, 64, 700),
    ] {
        let a = Tensor::<f32>::rand_uniform([m, k], -1.0, 1.0, 1);
        let b = Tensor::<f32>::rand_uniform([k, n], -1.0, 1.0, 2);
        let want = on_one_thread(|| a.matmul(&b).unwrap());
        assert_close_to_naive(&want, &a, &b, "one thread");
        for rep in 0..5 {
            let got = a.matmul(&b).unwrap();
            assert_bits_eq(&got, &want, &format!("{m}x{k}x{n} rep {rep}"));
        }
        // Transposed operands, as in backward passes.
        let at = a.t().unwrap().contiguous();
        let got = at.matmul_t(&b, true, false).unwrap();
        assert_bits_eq(&got, &want, &format!("{m}x{k}x{n} transposed A"));
    }
}

#[test]
fn join_from_outside_the_pool_runs_both_and_reraises_panics() {
    two_thread_global_pool();
    let data: Vec<u64> = (0..100_000).collect();
    for _ in 0..100 {
        let (a, b) = parallel::join(
            || data[..50_000].iter().sum::<u64>(),
            || data[50_000..].iter().sum::<u64>(),
        );
        assert_eq!(a + b, data.iter().sum::<u64>());
    }
    // Nested joins from the pool half.
    let (x, (y, z)) = parallel::join(|| 1, || parallel::join(|| 2, || 3));
    assert_eq!((x, y, z), (1, 2, 3));
    // A panic on either side reaches the caller, and the pool works afterwards.
    let r = std::panic::catch_unwind(|| parallel::join(|| 1, || -> i32 { panic!("right") }));
    assert!(r.is_err());
    let r = std::panic::catch_unwind(|| parallel::join(|| -> i32 { panic!("left") }, || 2));
    assert!(r.is_err());
    assert_eq!(parallel::join(|| 4, || 5), (4, 5));
    // On one thread both sides run, in order.
    let order = std::sync::Mutex::new(Vec::new());
    on_one_thread(|| {
        parallel::join(
            || order.lock().unwrap().push('a'),
            || order.lock().unwrap().push('b'),
        )
    });
    assert_eq!(*order.lock().unwrap(), vec!['a', 'b']);
}

#[test]
fn one_row_block_split_by_depth_matches_one_thread_inside_and_outside_the_pool() {
    two_thread_global_pool();
    // At most one packing block of rows and K from 256 to 1024: two K blocks, one per thread,
    // the second thread's partial added by the caller.
    for &(m, k, n) in &[
        (128, 784, 256),
        (128, 256, 128),
        (5, 600, 33),
        (144, 1024, 100),
        (60, 257, 17),
    ] {
        let a = Tensor::<f32>::rand_uniform([m, k], -1.0, 1.0, 21);
        let b = Tensor::<f32>::rand_uniform([k, n], -1.0, 1.0, 22);
        let c0 = Tensor::<f32>::rand_uniform([m, n], -1.0, 1.0, 23);
        let gemm = |alpha: f32, beta: f32| {
            let mut c = c0.clone();
            Tensor::gemm_into(alpha, &a, &b, beta, &mut c).unwrap();
            c
        };
        let want = on_one_thread(|| a.matmul(&b).unwrap());
        assert_close_to_naive(&want, &a, &b, "one thread");
        let want_scaled = on_one_thread(|| gemm(0.5, -1.5));
        let c0v = c0.to_vec();
        for (i, (x, p)) in want_scaled.to_vec().iter().zip(naive(&a, &b)).enumerate() {
            let y = 0.5 * p - 1.5 * c0v[i] as f64;
            assert!(
                (*x as f64 - y).abs() <= 1e-5 * k as f64,
                "{m}x{k}x{n} scaled: {i}"
            );
        }
        for rep in 0..5 {
            let what = format!("{m}x{k}x{n} rep {rep}");
            assert_bits_eq(&a.matmul(&b).unwrap(), &want, &format!("{what} outside"));
            let inside = rayon::scope(|_| a.matmul(&b).unwrap());
            assert_bits_eq(&inside, &want, &format!("{what} inside"));
            assert_bits_eq(&gemm(0.5, -1.5), &want_scaled, &format!("{what} scaled"));
            let at = a.t().unwrap().contiguous();
            let transposed = rayon::scope(|_| at.matmul_t(&b, true, false).unwrap());
            assert_bits_eq(&transposed, &want, &format!("{what} transposed A"));
        }
        // Four threads: each half split by rows among two.
        let four = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        assert_bits_eq(
            &four.install(|| a.matmul(&b).unwrap()),
            &want,
            &format!("{m}x{k}x{n} four threads"),
        );
    }
}
