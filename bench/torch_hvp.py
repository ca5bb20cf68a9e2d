#!/usr/bin/python3
"""PyTorch reference for `hesse bench`: median times of the gradient and of the
Hessian-vector product (double backward) on the same three cases, in float64.

Run with Debian's python3-torch:
    /usr/bin/python3 bench/torch_hvp.py [--case mlp-small|mlp-large|lenet5] [--batch 1000]
                                        [--repeat 5] [--threads T] [-o torch.json]

Timed, per case (random weights from PyTorch's default init, inputs uniform in [0, 1) of
MNIST shape, 10 random labels, mean cross-entropy):
  grad_ms       loss and gradient: forward + backward
  hvp_ms        one Hessian-vector product from scratch: forward, backward with
                create_graph=True, then the gradient of (g . v) -- what every product of an
                iterative eigensolver costs when the data are passed over per product
  hvp_reuse_ms  the double-backward part alone, reusing one retained first-order graph
                (PyHessian's full-batch mode); reported for completeness
The BLAS library and core are PyTorch's own (Debian links OpenBLAS); bench/compare.sh sets
the same OPENBLAS_CORETYPE and thread count for both programs.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CASES = {
    "mlp-small": lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 100), nn.ReLU(),
                                       nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10)),
    "mlp-large": lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(),
                                       nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)),
    "lenet5": lambda: nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)),
}


def timed(fn, repeat):
    fn()  # untimed warm-up
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(1e3 * (time.perf_counter() - t0))
    return runs


def bench_case(name, batch, repeat):
    torch.manual_seed(0)
    model = CASES[name]().double()
    params = [p for p in model.parameters()]
    x = torch.rand(batch, 1, 28, 28, dtype=torch.float64)
    y = torch.randint(0, 10, (batch,))
    v = [torch.randn_like(p) for p in params]

    def grad():
        loss = F.cross_entropy(model(x), y)
        return torch.autograd.grad(loss, params)

    def hvp():
        loss = F.cross_entropy(model(x), y)
        g = torch.autograd.grad(loss, params, create_graph=True)
        dot = sum((gi * vi).sum() for gi, vi in zip(g, v))
        return torch.autograd.grad(dot, params)

    loss = F.cross_entropy(model(x), y)
    g_graph = torch.autograd.grad(loss, params, create_graph=True)

    def hvp_reuse():
        dot = sum((gi * vi).sum() for gi, vi in zip(g_graph, v))
        return torch.autograd.grad(dot, params, retain_graph=True)

    grad_runs = timed(grad, repeat)
    hvp_runs = timed(hvp, repeat)
    reuse_runs = timed(hvp_reuse, repeat)
    return {
        "case": name,
        "n_params": sum(p.numel() for p in params),
        "batch": batch,
        "grad_ms_runs": grad_runs,
        "hvp_ms_runs": hvp_runs,
        "grad_ms": statistics.median(grad_runs),
        "hvp_ms": statistics.median(hvp_runs),
        "hvp_reuse_ms": statistics.median(reuse_runs),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", choices=sorted(CASES), help="one case (default: all)")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave)")
    ap.add_argument("-o", "--output", help="write JSON here (default stdout)")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    names = [a.case] if a.case else ["mlp-small", "mlp-large", "lenet5"]
    result = {
        "schema": "hesse.torch_bench/1",
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "precision": "f64",
        "repeat": a.repeat,
        "cases": [],
    }
    for name in names:
        row = bench_case(name, a.batch, a.repeat)
        result["cases"].append(row)
        print(f"{name:10s} n={row['n_params']:<8d} grad {row['grad_ms']:9.3f} ms   "
              f"hvp {row['hvp_ms']:9.3f} ms", file=sys.stderr)
    text = json.dumps(result, indent=2)
    if a.output:
        with open(a.output + ".tmp", "w") as f:
            f.write(text + "\n")
        import os
        os.replace(a.output + ".tmp", a.output)
    else:
        print(text)


if __name__ == "__main__":
    main()
