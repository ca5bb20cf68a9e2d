#!/usr/bin/python3
"""PyTorch reference for `hesse bench`: median times of the gradient and of the
Hessian-vector product (double backward) on the same cases, in float64.

Run with Debian's python3-torch:
    /usr/bin/python3 bench/torch_hvp.py [--case mlp-small|mlp-large|lenet5|vit-tiny|gpt-tiny]
                                        [--batch B] [--repeat 5] [--threads T]
                                        [--from DIR] [-o torch.json]

vit-tiny and gpt-tiny are tools/models.py's ViTTiny and GPTTiny. With --from DIR (what
`hesse bench --save-dir DIR` wrote) a transformer case takes hesse's weights, batch and probe
vector from DIR/<case>.safetensors and reports the relative difference of its product from
hesse's (hvp_rel_diff, f64; hvp_f32_rel_diff, hesse's f32 product against PyTorch's f64 one):
the check that both programs time the same computation. Without it the case runs on PyTorch's
own initialisation (seed 0) and random data of the same shape (256 images, 64 windows of 64
bytes by default).

Timed, per case (random weights from PyTorch's default init, inputs uniform in [0, 1) of
MNIST shape, 10 random labels, mean cross-entropy over every position; hvp_f32_ms, the
transformer cases only, is hvp_ms with a float32 copy of the model):
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
import copy
import json
import os
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

TRANSFORMERS = {"vit-tiny": 256, "gpt-tiny": 64}  # default batch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))


def timed(fn, repeat):
    fn()  # untimed warm-up
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(1e3 * (time.perf_counter() - t0))
    return runs


def transformer_case(name, batch, source):
    """(model, x, y, v, hesse's products or None) of vit-tiny or gpt-tiny, float64."""
    import models
    torch.manual_seed(0)
    model = models.preset(name)[0].double()
    if source is None:
        n = batch or TRANSFORMERS[name]
        if name == "gpt-tiny":
            x = torch.randint(0, 256, (n, 64))
            y = torch.randint(0, 256, (n, 64))
        else:
            x = torch.rand(n, 1, 28, 28, dtype=torch.float64)
            y = torch.randint(0, 10, (n,))
        return model, x, y, [torch.randn_like(p) for p in model.parameters()], None
    import hesse_st
    t, _ = hesse_st.read(os.path.join(source, name + ".safetensors"))
    names = [k for k, _ in model.named_parameters()]
    model.load_state_dict({k: t["w." + k] for k in names}, strict=True)
    x, y = t["x"], t["y"].long()
    if name == "gpt-tiny":  # ids (n, 1, T, 1) -> (n, T); targets (n, T)
        x = x.reshape(x.shape[0], -1).round().long()
    else:
        y = y.reshape(-1)
    v = [t["v." + k] for k in names]
    return model, x, y, v, {p: [t[p + "." + k] for k in names] for p in ("hvp", "hvp_f32")}


def loss_fn(out, y):
    """Mean cross-entropy over every position (one per sample for a classifier)."""
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


def rel_diff(a, b):
    """||a - b|| / ||b|| over lists of tensors."""
    num = sum(float(((ai - bi) ** 2).sum()) for ai, bi in zip(a, b))
    den = sum(float((bi ** 2).sum()) for bi in b)
    return (num / den) ** 0.5


def f32_hvp_ms(model, x, y, v, repeat):
    """Median time of the from-scratch HVP with the model and data in float32."""
    m32 = copy.deepcopy(model).float()
    x32 = x.float() if x.is_floating_point() else x
    p32 = list(m32.parameters())
    v32 = [vi.float() for vi in v]

    def hvp():
        g = torch.autograd.grad(loss_fn(m32(x32), y), p32, create_graph=True)
        return torch.autograd.grad(sum((gi * vi).sum() for gi, vi in zip(g, v32)), p32)

    return statistics.median(timed(hvp, repeat))


def bench_case(name, batch, repeat, source=None):
    ref = None
    if name in TRANSFORMERS:
        model, x, y, v, ref = transformer_case(name, batch, source)
    else:
        torch.manual_seed(0)
        model = CASES[name]().double()
        x = torch.rand(batch, 1, 28, 28, dtype=torch.float64)
        y = torch.randint(0, 10, (batch,))
        v = [torch.randn_like(p) for p in model.parameters()]
    params = [p for p in model.parameters()]

    def grad():
        loss = loss_fn(model(x), y)
        return torch.autograd.grad(loss, params)

    def hvp():
        loss = loss_fn(model(x), y)
        g = torch.autograd.grad(loss, params, create_graph=True)
        dot = sum((gi * vi).sum() for gi, vi in zip(g, v))
        return torch.autograd.grad(dot, params)

    loss = loss_fn(model(x), y)
    g_graph = torch.autograd.grad(loss, params, create_graph=True)

    def hvp_reuse():
        dot = sum((gi * vi).sum() for gi, vi in zip(g_graph, v))
        return torch.autograd.grad(dot, params, retain_graph=True)

    grad_runs = timed(grad, repeat)
    hvp_runs = timed(hvp, repeat)
    reuse_runs = timed(hvp_reuse, repeat)
    row = {
        "case": name,
        "n_params": sum(p.numel() for p in params),
        "batch": int(x.shape[0]),
        "grad_ms_runs": grad_runs,
        "hvp_ms_runs": hvp_runs,
        "grad_ms": statistics.median(grad_runs),
        "hvp_ms": statistics.median(hvp_runs),
        "hvp_reuse_ms": statistics.median(reuse_runs),
    }
    if name in TRANSFORMERS:
        row["hvp_f32_ms"] = f32_hvp_ms(model, x, y, v, repeat)
    if ref is not None:
        h = hvp()
        row["hvp_rel_diff"] = rel_diff(ref["hvp"], h)
        row["hvp_f32_rel_diff"] = rel_diff(ref["hvp_f32"], h)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", help="comma-separated cases (default: all)")
    ap.add_argument("--batch", type=int, default=0,
                    help="samples (default 1000; vit-tiny 256, gpt-tiny 64; with --from: "
                    "hesse's batch)")
    ap.add_argument("--from", dest="source",
                    help="directory of hesse bench --save-dir: weights, batch and v from there")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave)")
    ap.add_argument("-o", "--output", help="write JSON here (default stdout)")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    known = ["mlp-small", "mlp-large", "lenet5"] + list(TRANSFORMERS)
    names = a.case.split(",") if a.case else known
    for name in names:
        if name not in known:
            ap.error("--case: expected %s, got '%s'" % (", ".join(known), name))
    result = {
        "schema": "hesse.torch_bench/1",
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "precision": "f64",
        "repeat": a.repeat,
        "cases": [],
    }
    for name in names:
        row = bench_case(name, a.batch or (TRANSFORMERS.get(name, 1000)), a.repeat,
                         a.source if name in TRANSFORMERS else None)
        result["cases"].append(row)
        check = (f"   vs hesse {row['hvp_rel_diff']:.1e} (f32 {row['hvp_f32_rel_diff']:.1e})"
                 if "hvp_rel_diff" in row else "")
        print(f"{name:10s} n={row['n_params']:<8d} grad {row['grad_ms']:9.3f} ms   "
              f"hvp {row['hvp_ms']:9.3f} ms{check}", file=sys.stderr)
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
