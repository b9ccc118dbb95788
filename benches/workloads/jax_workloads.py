"""W1, W3 and W5 of ../shared/WORKLOADS.md in JAX (jit), the best peer of the issue's table
for W1 and W3, for side-by-side comparison with `cargo run --release -p nn-workloads --bin
workloads`. Adam is written out (no optax needed), as `optax.adam` computes it.

    pip install jax numpy
    XLA_FLAGS="--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=2" \
        python benches/workloads/jax_workloads.py [--quick] [--only w1,w3,w5]

Progress goes to stderr; the last stdout line is one JSON object with the keys of the Rust
binary (null where not run). Threads are whatever XLA uses (all cores by default); run it
under `taskset -c 0` for a one-thread figure.
"""

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_common import fashion_mnist_numpy, log, median_time  # noqa: E402


def init_mlp(key):
    sizes = [(784, 256), (256, 128), (128, 10)]
    params = []
    for (fan_in, fan_out), k in zip(sizes, jax.random.split(key, len(sizes))):
        limit = np.sqrt(6.0 / (fan_in + fan_out))  # glorot uniform, Keras' default
        w = jax.random.uniform(k, (fan_in, fan_out), jnp.float32, -limit, limit)
        params.append((w, jnp.zeros((fan_out,), jnp.float32)))
    return params


def forward(params, x):
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def loss_fn(params, x, y):
    logits = forward(params, x)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))


@jax.jit
def train_step(params, m, v, t, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7
    t = t + 1
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
    step = lr * jnp.sqrt(1 - b2**t) / (1 - b1**t)
    params = jax.tree_util.tree_map(lambda p, m, v: p - step * m / (jnp.sqrt(v) + eps), params, m, v)
    return params, m, v, t, loss


def epoch(state, x_train, y_train, rng):
    order = rng.permutation(len(y_train))
    for i in range(0, len(order), 128):
        idx = order[i:i + 128]
        state = train_step(*state[:4], x_train[idx], y_train[idx])
    jax.block_until_ready(state[0])
    return state


def fresh_state(seed):
    params = init_mlp(jax.random.PRNGKey(seed))
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return (params, zeros, zeros, jnp.float32(0.0), None)


def w1(quick):
    (x_train, y_train), (x_test, y_test) = fashion_mnist_numpy()
    rng = np.random.default_rng(1)
    state = fresh_state(1)
    for i in range(20):  # warm-up, compiles both batch sizes
        state = train_step(*state[:4], x_train[i * 128:(i + 1) * 128], y_train[i * 128:(i + 1) * 128])
    state = train_step(*state[:4], x_train[:96], y_train[:96])
    jax.block_until_ready(state[0])
    t = time.perf_counter()
    state = epoch(state, x_train, y_train, rng)
    epoch_s = time.perf_counter() - t
    log(f"w1: one epoch {epoch_s:.3f} s")
    if quick:
        return epoch_s, None
    state = fresh_state(2)
    for _ in range(5):
        state = epoch(state, x_train, y_train, rng)
    logits = forward(state[0], x_test)
    acc = float(jnp.mean(jnp.argmax(logits, 1) == y_test))
    log(f"w1: test accuracy after 5 epochs {acc:.4f}")
    return epoch_s, acc


def w3():
    n, c = 256, 32768
    x = jax.random.normal(jax.random.PRNGKey(1), (n, c), jnp.float32) * 3.0
    labels = jnp.asarray((np.arange(n) * 7919) % c)

    def ce(logits):
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1))

    fwd_bwd = jax.jit(jax.value_and_grad(ce))
    fwd = jax.jit(lambda z: jax.nn.softmax(z, axis=-1))
    fb = median_time(2, 20, lambda: jax.block_until_ready(fwd_bwd(x)))
    f = median_time(2, 20, lambda: jax.block_until_ready(fwd(x)))
    gbs = 2 * 4 * n * c / fb / 1e9
    log(f"w3: fwd+bwd {fb * 1e3:.2f} ms ({gbs:.1f} GB/s), softmax fwd {f * 1e3:.2f} ms")
    return fb * 1e3, f * 1e3, gbs


def w5():
    params = init_mlp(jax.random.PRNGKey(5))
    predict = jax.jit(forward)
    x1 = np.random.default_rng(7).random((1, 784), dtype=np.float32)
    x1024 = np.random.default_rng(8).random((1024, 784), dtype=np.float32)
    b1 = median_time(50, 1000, lambda: jax.block_until_ready(predict(params, x1)))
    b1024 = median_time(5, 100, lambda: jax.block_until_ready(predict(params, x1024)))
    log(f"w5: batch 1 {b1 * 1e6:.1f} us, batch 1024 {b1024 * 1e6:.1f} us")
    return b1 * 1e6, b1024 * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="w1,w3,w5")
    args = ap.parse_args()
    only = set(args.only.split(","))
    fig = {"framework": "jax", "version": jax.__version__, "threads": os.cpu_count(),
           "w1_epoch_s": None, "w1_test_acc_5ep": None, "w2_step_s": None, "w2_test_acc_3ep": None,
           "w3_fwdbwd_ms": None, "w3_fwd_ms": None, "w3_gbs": None, "w4": None,
           "w5_b1_us": None, "w5_b1024_us": None}
    if "w1" in only:
        fig["w1_epoch_s"], fig["w1_test_acc_5ep"] = w1(args.quick)
    if "w3" in only:
        fig["w3_fwdbwd_ms"], fig["w3_fwd_ms"], fig["w3_gbs"] = w3()
    if "w5" in only:
        fig["w5_b1_us"], fig["w5_b1024_us"] = w5()
    print(json.dumps(fig))


if __name__ == "__main__":
    main()
