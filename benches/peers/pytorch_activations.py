"""The `activations` example's experiment in PyTorch, to tell the task's difficulty from a bug.

Same data generator (two spirals, 1.5 turns, radius in (0, 1], noise 0.02, 1000 points per
class), same split sizes (1600 / 400), same MLP 2-64-64-64-2 with Glorot-uniform kernels and
zero biases, Adam(3e-3, eps 1e-7), batch 32, 60 epochs. The random streams differ from nn's,
so compare the pattern, not the digits.

    pip install torch numpy
    python benches/peers/pytorch_activations.py [sigmoid tanh relu leaky_relu elu selu gelu]
"""

import math
import sys

import numpy as np
import torch

SEED = 11
N_PER_CLASS = 1000
NOISE = 0.02
EPOCHS = 60
WIDTH = 64

ACTIVATIONS = {
    "sigmoid": torch.nn.Sigmoid,
    "tanh": torch.nn.Tanh,
    "relu": torch.nn.ReLU,
    "leaky_relu": lambda: torch.nn.LeakyReLU(0.2),  # Keras' default alpha
    "elu": torch.nn.ELU,
    "selu": torch.nn.SELU,
    "gelu": torch.nn.GELU,
}


def spirals(rng):
    xs, ys = [], []
    for k in range(N_PER_CLASS):
        r = (k + 0.5) / N_PER_CLASS
        theta = 3.0 * math.pi * r
        for label, sign in ((0, 1.0), (1, -1.0)):
            xs.append([sign * r * math.cos(theta) + NOISE * rng.standard_normal(),
                       sign * r * math.sin(theta) + NOISE * rng.standard_normal()])
            ys.append(label)
    return torch.tensor(xs, dtype=torch.float32), torch.tensor(ys)


def model(name):
    layers, width_in = [], 2
    for _ in range(3):
        dense = torch.nn.Linear(width_in, WIDTH)
        if name == "selu":  # LeCun normal, as the example pairs with SELU
            torch.nn.init.normal_(dense.weight, std=1.0 / math.sqrt(width_in))
        else:
            torch.nn.init.xavier_uniform_(dense.weight)
        torch.nn.init.zeros_(dense.bias)
        layers += [dense, ACTIVATIONS[name]()]
        width_in = WIDTH
    out = torch.nn.Linear(WIDTH, 2)
    torch.nn.init.xavier_uniform_(out.weight)
    torch.nn.init.zeros_(out.bias)
    return torch.nn.Sequential(*layers, out)


def main():
    torch.set_num_threads(1)
    x, y = spirals(np.random.default_rng(SEED))
    torch.manual_seed(SEED)
    order = torch.randperm(len(y))
    x, y = x[order], y[order]
    x_train, y_train, x_test, y_test = x[:1600], y[:1600], x[1600:], y[1600:]
    print("| activation | final train loss | test accuracy |")
    print("|------------|------------------|---------------|")
    for name in sys.argv[1:] or ACTIVATIONS:
        torch.manual_seed(SEED)
        net = model(name)
        opt = torch.optim.Adam(net.parameters(), lr=3e-3, eps=1e-7)
        for _ in range(EPOCHS):
            perm = torch.randperm(len(y_train))
            for i in range(0, len(y_train), 32):
                idx = perm[i:i + 32]
                loss = torch.nn.functional.cross_entropy(net(x_train[idx]), y_train[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            train_loss = torch.nn.functional.cross_entropy(net(x_train), y_train).item()
            accuracy = (net(x_test).argmax(1) == y_test).float().mean().item()
        print(f"| {name:<10} | {train_loss:>16.4f} | {accuracy:>13.4f} |")


if __name__ == "__main__":
    main()
