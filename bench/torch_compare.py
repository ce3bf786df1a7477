#!/usr/bin/env python3
"""bench/torch_compare.py: the four workloads of bench/*.lua in PyTorch,
for a comparison measured on the same machine in the same minutes (this
machine's speed varies by up to 2x from one hour to the next, so only
figures taken together compare).  Optional: `make bench` runs it when
python3 can import torch (Debian: python3-torch); annlua does not need it.

The same shapes, losses, optimisers and batch sizes as the Lua scripts,
on synthetic data of the same sizes; the median of 5 runs after a warm-up,
for each thread count in 1..cores, the best reported (the issue's "best of
the thread settings").  Lines read `torch-<workload>: value unit`.
    python3 bench/torch_compare.py
"""
import os
import statistics
import time

import torch
from torch import nn

RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def timed(fn):
    """seconds of fn(): median of RUNS runs after one warm-up"""
    fn()
    t = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t)


def best_threads(fn):
    """the shortest time of fn over the thread counts"""
    best = None
    for n in range(1, (os.cpu_count() or 1) + 1):
        torch.set_num_threads(n)
        t = timed(fn)
        if best is None or t < best[0]:
            best = (t, n)
    return best


def report(name, value, unit, threads):
    fmt = "%s: %.0f %s (threads %d)" if value >= 100 else "%s: %.3g %s (threads %d)"
    print(fmt % (name, value, unit, threads))


def mlp(sizes, act):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def epoch_fn(net, loss_fn, opt, x, y, bs, shuffle=True):
    n = x.shape[0]

    def run():
        order = torch.randperm(n) if shuffle else torch.arange(n)
        for s in range(0, n, bs):
            idx = order[s:s + bs]
            opt.zero_grad()
            loss_fn(net(x[idx]), y[idx]).backward()
            opt.step()
    return run


def main():
    torch.manual_seed(1)
    torch.set_flush_denormal(True)
    print("== torch %s, threads 1..%d, median of %d runs"
          % (torch.__version__, os.cpu_count() or 1, RUNS))

    # mnist-mlp: 784-256-128-10 ReLU, cross-entropy, Adam, batch 64, 8000 rows
    n = 8000
    x, y = torch.rand(n, 784), torch.randint(0, 10, (n,))
    net = mlp([784, 256, 128, 10], nn.ReLU)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    t, th = best_threads(epoch_fn(net, nn.CrossEntropyLoss(), opt, x, y, 64))
    report("torch-mnist-mlp", n / t, "samples/s", th)

    # wide-mlp: 1024-4096-4096-10 ReLU, cross-entropy, SGD, batch 256
    n = 512
    x, y = torch.randn(n, 1024), torch.randint(0, 10, (n,))
    net = mlp([1024, 4096, 4096, 10], nn.ReLU)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    t, th = best_threads(epoch_fn(net, nn.CrossEntropyLoss(), opt, x, y, 256,
                                  shuffle=False))
    report("torch-wide-mlp", n / t, "samples/s", th)

    # playground: 2-8-8-1 tanh, MSE, SGD (lr 0.03), batch 10, 500 points
    n = 500
    x, y = torch.randn(n, 2), torch.rand(n, 1)
    net = mlp([2, 8, 8, 1], nn.Tanh)
    opt = torch.optim.SGD(net.parameters(), lr=0.03)
    t, th = best_threads(epoch_fn(net, nn.MSELoss(), opt, x, y, 10))
    report("torch-playground", n / t, "samples/s", th)

    # infer: 32-64-64-8 tanh, one sample, forward only
    net = mlp([32, 64, 64, 8], nn.Tanh)
    x = torch.randn(32)
    calls = 20000

    def infer():
        with torch.no_grad():
            for _ in range(calls):
                net(x)
    t, th = best_threads(infer)
    report("torch-infer", t / calls * 1e6, "us/call", th)


if __name__ == "__main__":
    main()
