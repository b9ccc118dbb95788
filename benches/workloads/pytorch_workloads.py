"""The reference workloads (../shared/WORKLOADS.md, W1-W5) in eager PyTorch, as a user writes
them, for side-by-side comparison with `cargo run --release -p nn-workloads --bin workloads`.

    pip install torch numpy
    python benches/workloads/pytorch_workloads.py --threads 2 [--quick] [--only w1,w3] [--channels-last]

Progress goes to stderr; the last stdout line is one JSON object with the same keys as the
Rust binary (null where not run).
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn as tnn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_common import fashion_mnist_numpy, log, median_time  # noqa: E402


def fashion_mnist():
    (x, y), (xt, yt) = fashion_mnist_numpy()
    return (torch.from_numpy(x), torch.from_numpy(y)), (torch.from_numpy(xt), torch.from_numpy(yt))


def mlp():
    return tnn.Sequential(
        tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 128), tnn.ReLU(), tnn.Linear(128, 10)
    )


def convnet():
    return tnn.Sequential(
        tnn.Conv2d(1, 32, 3), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(32, 64, 3), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Dropout(0.5), tnn.Linear(1600, 10),
    )


def adam(model):
    # Keras' defaults, as WORKLOADS.md specifies.
    return torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)


def step(model, opt, x, y):
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


def epoch(model, opt, x, y, gen):
    model.train()
    perm = torch.randperm(len(x), generator=gen)
    for i in range(0, len(x), 128):
        idx = perm[i: i + 128]
        step(model, opt, x[idx], y[idx])


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = 0
        for i in range(0, len(x), 1024):
            correct += (model(x[i: i + 1024]).argmax(1) == y[i: i + 1024]).sum().item()
    return correct / len(x)


def w1(train, test, quick):
    (x, y), (xt, yt) = train, test
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(1)
    model = mlp()
    opt = adam(model)
    for i in range(20):
        step(model, opt, x[i * 128: (i + 1) * 128], y[i * 128: (i + 1) * 128])
    t = time.perf_counter()
    epoch(model, opt, x, y, gen)
    epoch_s = time.perf_counter() - t
    log(f"w1: one epoch {epoch_s:.3f} s")
    if quick:
        return epoch_s, None
    torch.manual_seed(2)
    model = mlp()
    opt = adam(model)
    for _ in range(5):
        epoch(model, opt, x, y, gen)
    acc = accuracy(model, xt, yt)
    log(f"w1: test accuracy after 5 epochs {acc:.4f}")
    return epoch_s, acc


def w2(train, test, quick, channels_last):
    (x, y), (xt, yt) = train, test
    x = x.reshape(-1, 1, 28, 28)
    xt = xt.reshape(-1, 1, 28, 28)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    torch.manual_seed(3)
    model = convnet().to(memory_format=fmt)
    opt = adam(model)
    batches = [
        (x[i * 128: (i + 1) * 128].contiguous(memory_format=fmt), y[i * 128: (i + 1) * 128])
        for i in range(55)
    ]
    it = iter(batches * 2)
    model.train()
    step_s = median_time(5, 50, lambda: step(model, opt, *next(it)))
    log(f"w2: median step {step_s * 1e3:.1f} ms")
    if quick:
        return step_s, None
    torch.manual_seed(4)
    gen = torch.Generator().manual_seed(4)
    model = convnet().to(memory_format=fmt)
    opt = adam(model)
    for _ in range(3):
        epoch(model, opt, x.contiguous(memory_format=fmt), y, gen)
    acc = accuracy(model, xt.contiguous(memory_format=fmt), yt)
    log(f"w2: test accuracy after 3 epochs {acc:.4f}")
    return step_s, acc


def w3():
    n, c = 256, 32768
    torch.manual_seed(5)
    logits = (torch.randn(n, c) * 3.0).requires_grad_(True)
    labels = torch.randint(0, c, (n,))

    def fwd_bwd():
        logits.grad = None
        F.cross_entropy(logits, labels).backward()

    fb = median_time(2, 20, fwd_bwd)
    assert torch.isfinite(logits.grad).all()
    with torch.no_grad():
        fwd = median_time(2, 20, lambda: torch.softmax(logits, dim=1))
    gbs = 2 * 4 * n * c / fb / 1e9
    log(f"w3: fwd+bwd {fb * 1e3:.2f} ms ({gbs:.1f} GB/s), softmax fwd {fwd * 1e3:.2f} ms")
    return fb * 1e3, fwd * 1e3, gbs


def w4():
    out = {}
    for m, k, n in [(1024, 1024, 1024), (128, 784, 256), (128, 256, 128), (4096, 4096, 4096)]:
        a = torch.rand(m, k) * 2 - 1
        b = torch.rand(k, n) * 2 - 1
        warmup, reps = (0, 1) if m == 4096 else (2, 10)
        s = median_time(warmup, reps, lambda: torch.mm(a, b))
        out[f"{m}x{k}x{n}"] = 2 * m * k * n / s / 1e9
        log(f"w4: {m}x{k}x{n} {out[f'{m}x{k}x{n}']:.1f} GFLOP/s")
    return out


def w5():
    torch.manual_seed(6)
    model = mlp().eval()
    x1 = torch.rand(1, 784)
    x1024 = torch.rand(1024, 784)
    with torch.no_grad():
        b1 = median_time(50, 1000, lambda: model(x1))
        b1024 = median_time(5, 100, lambda: model(x1024))
    log(f"w5: batch 1 {b1 * 1e6:.1f} us, batch 1024 {b1024 * 1e6:.1f} us")
    return b1 * 1e6, b1024 * 1e6


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", default="w1,w2,w3,w4,w5")
    p.add_argument("--channels-last", action="store_true", help="W2 in channels-last layout")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    only = set(a.only.split(","))
    fig = dict.fromkeys(
        ["w1_epoch_s", "w1_test_acc_5ep", "w2_step_s", "w2_test_acc_3ep", "w3_fwdbwd_ms",
         "w3_fwd_ms", "w3_gbs", "w4", "w5_b1_us", "w5_b1024_us"]
    )
    if only & {"w1", "w2"}:
        train, test = fashion_mnist()
        if "w1" in only:
            fig["w1_epoch_s"], fig["w1_test_acc_5ep"] = w1(train, test, a.quick)
        if "w2" in only:
            fig["w2_step_s"], fig["w2_test_acc_3ep"] = w2(train, test, a.quick, a.channels_last)
    if "w3" in only:
        fig["w3_fwdbwd_ms"], fig["w3_fwd_ms"], fig["w3_gbs"] = w3()
    if "w4" in only:
        fig["w4"] = w4()
    if "w5" in only:
        fig["w5_b1_us"], fig["w5_b1024_us"] = w5()
    name = "pytorch-channels-last" if a.channels_last else "pytorch"
    print(json.dumps({"framework": name, "version": torch.__version__, "threads": a.threads, **fig}))


if __name__ == "__main__":
    main()
