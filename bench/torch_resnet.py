#!/usr/bin/python3
"""PyTorch side of bench/resnet18.sh: the ResNet-18-CIFAR model and data, PyTorch's
Hessian-vector product rate on them, and a check of hesse's eigenvectors.

    torch_resnet.py prepare --out DIR [--samples N] [--seed S] [--data CIFARDIR]
        DIR/resnet18.safetensors  tools/models.py ResNet18 (kuangliu layout), float64, PyTorch's
                                  default init under the seed; batch-norm running statistics
                                  from train-mode passes over 200 normalised inputs, then
                                  evaluation mode; exported with tools/hesse_export.py
        DIR/cifar/test_batch.bin  N CIFAR-10 records of random bytes (unless --data is given)
    torch_resnet.py time --out DIR --data CIFARDIR --split S --samples N [--threads T]
                         [--repeat R] [--chunk C] [--block K] [--torch-samples S]
                         [--precision f64|f32] [--vectors V] -o torch.json
        hvp_s        one HVP from scratch over the N samples (chunks of C): forward, backward
                     with create_graph, and the gradient of g.v per chunk -- what one product
                     of an iterative eigensolver costs PyTorch (PyHessian's dataloader loop).
                     With --torch-samples S, timed on the first S samples and scaled by N/S
                     (every sample costs the same; hvp_s_runs are the raw times)
        block_s      with --block K: K HVPs sharing each chunk's forward/backward graph
                     (hesse's --block does the same sharing), per product as block_hvp_per_s
        check        with --vectors: Rayleigh quotients v.Hv and residuals ||Hv - lambda v||
                     of hesse's eigenvectors, by PyTorch's double backward on all N samples
                     in float64 (one shared graph per chunk: about K + 1 HVPs of time)
    torch_resnet.py summary --out DIR [--core C]
        DIR/resnet18.json from DIR/hesse.json and DIR/torch.json: hesse's products per second
        (its whole run) next to PyTorch's HVPs per second, their ratio, eigenvalues, residuals,
        tolerance, products and peak memory (printed too)

Data: hesse's CIFAR-10 normalisation, x = (byte / 255 - mean) / std per channel, in float64.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import hesse_export  # noqa: E402
import hesse_st  # noqa: E402
import hesse_vectors  # noqa: E402
import models  # noqa: E402

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
RECORD = 1 + 3 * 32 * 32


def cifar_files(data, split):
    if split == "test":
        return [os.path.join(data, "test_batch.bin")]
    return [os.path.join(data, "data_batch_%d.bin" % b) for b in range(1, 6)]


def read_cifar(data, split, samples, mean=CIFAR_MEAN, std=CIFAR_STD):
    """The first `samples` records in file order (hesse's --select first), normalised."""
    raw = bytearray()
    for path in cifar_files(data, split):
        with open(path, "rb") as f:
            raw += f.read(max(0, samples * RECORD - len(raw)))
        if len(raw) >= samples * RECORD:
            break
    if len(raw) < samples * RECORD:
        raise SystemExit("torch_resnet.py: %s holds fewer than %d samples" % (data, samples))
    rec = torch.frombuffer(raw, dtype=torch.uint8).reshape(samples, RECORD)
    y = rec[:, 0].to(torch.int64)
    x = rec[:, 1:].reshape(samples, 3, 32, 32).to(torch.float64) / 255.0
    m = torch.tensor(mean, dtype=torch.float64).reshape(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float64).reshape(1, 3, 1, 1)
    return (x - m) / s, y


def prepare(a):
    os.makedirs(a.out, exist_ok=True)
    data = a.data
    if not data:
        data = os.path.join(a.out, "cifar")
        os.makedirs(data, exist_ok=True)
        g = torch.Generator().manual_seed(a.seed + 1)
        pixels = torch.randint(0, 256, (a.samples, 3 * 32 * 32), dtype=torch.uint8, generator=g)
        labels = torch.randint(0, 10, (a.samples, 1), dtype=torch.uint8, generator=g)
        rec = torch.cat([labels, pixels], 1).numpy().tobytes()
        tmp = os.path.join(data, "test_batch.bin.tmp")
        with open(tmp, "wb") as f:
            f.write(rec)
        os.replace(tmp, os.path.join(data, "test_batch.bin"))
    torch.manual_seed(a.seed)
    model = models.ResNet18().double()
    # running statistics of normalised random images (train mode, cumulative average)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    model.train()
    g = torch.Generator().manual_seed(a.seed + 2)
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(100, 3, 32, 32, dtype=torch.float64, generator=g))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.1
    model.eval()
    path = os.path.join(a.out, "resnet18.safetensors")
    arch = hesse_export.export(model, path, (3, 32, 32), mean=CIFAR_MEAN, std=CIFAR_STD)
    n = sum(p.numel() for p in model.parameters())
    print(json.dumps({"model": path, "data": data, "n_params": n, "arch_chars": len(arch)}))


def load_model(out):
    tensors, _ = hesse_st.read(os.path.join(out, "resnet18.safetensors"))
    model = models.ResNet18().double()
    model.load_state_dict(tensors, strict=True)
    return model.eval()


def grads_and_hvps(model, x, y, vs, chunk):
    """HVPs of the mean loss for the vectors vs (lists of per-parameter tensors): one
    first-order graph per chunk, shared by all of them."""
    params = list(model.parameters())
    n = x.shape[0]
    out = [[torch.zeros_like(p) for p in params] for _ in vs]
    for s in range(0, n, chunk):
        xb, yb = x[s:s + chunk], y[s:s + chunk]
        loss = F.cross_entropy(model(xb), yb) * (xb.shape[0] / n)
        g = torch.autograd.grad(loss, params, create_graph=True)
        for j, v in enumerate(vs):
            dot = sum((gi * vi).sum() for gi, vi in zip(g, v))
            hv = torch.autograd.grad(dot, params, retain_graph=j + 1 < len(vs))
            for acc, h in zip(out[j], hv):
                acc += h
    return out


def time_torch(a):
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dtype = torch.float64 if a.precision == "f64" else torch.float32
    model = load_model(a.out).to(dtype)
    x, y = read_cifar(a.data, a.split, a.samples)
    x = x.to(dtype)
    timed = a.torch_samples or a.samples
    xt, yt = x[:timed], y[:timed]
    params = list(model.parameters())
    g = torch.Generator().manual_seed(5)
    vs = [[torch.randn(p.shape, dtype=torch.float64, generator=g).to(dtype) for p in params]
          for _ in range(max(1, a.block))]

    def run(k):
        t0 = time.perf_counter()
        grads_and_hvps(model, xt, yt, vs[:k], a.chunk)
        return time.perf_counter() - t0

    single = [run(1) for _ in range(a.repeat)]
    block = [run(a.block) for _ in range(a.repeat)] if a.block > 1 else []
    # per-sample costs are equal, so a product over N samples takes N / timed times as long
    scale = a.samples / timed
    doc = {
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "precision": a.precision,
        "samples": a.samples,
        "timed_samples": timed,
        "chunk": a.chunk,
        "n_params": sum(p.numel() for p in params),
        "hvp_s_runs": single,
        "hvp_s": statistics.median(single) * scale,
        "hvp_per_s": 1.0 / (statistics.median(single) * scale),
    }
    if block:
        doc.update(block=a.block, block_s_runs=block, block_s=statistics.median(block) * scale,
                   block_hvp_per_s=a.block / (statistics.median(block) * scale))
    print("torch: %.2f s per HVP over %d samples%s%s" %
          (doc["hvp_s"], a.samples,
           " (timed on the first %d)" % timed if timed != a.samples else "",
           ", %.2f s per block of %d" % (doc["block_s"], a.block) if block else ""),
          file=sys.stderr)
    if a.vectors:
        model = model.double()
        x = x.to(torch.float64)
        eig = hesse_vectors.load(a.vectors, model)
        flats = [hesse_vectors.flatten(v, model) for v in eig]
        vecs = [list(hesse_vectors.unflatten(f, model).values()) for f in flats]
        t0 = time.perf_counter()
        hvs = grads_and_hvps(model, x, y, vecs, a.chunk)
        rows = []
        for lam, v, hv in zip(eig.eigenvalues.tolist(), flats, hvs):
            hv = torch.cat([h.reshape(-1) for h in hv])
            vv = float(v @ v)
            rows.append({"eigenvalue": lam, "rayleigh": float(v @ hv) / vv,
                         "residual": float((hv - lam * v).norm()) / math.sqrt(vv)})
        doc["check"] = rows
        doc["check_s"] = time.perf_counter() - t0
    text = json.dumps(doc, indent=2)
    if a.output:
        with open(a.output + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(a.output + ".tmp", a.output)
    else:
        print(text)


def summary(a):
    """DIR/resnet18.json from DIR/hesse.json (hesse spectrum) and DIR/torch.json (time): both
    rates side by side. hesse's rate is its whole run's, products / wall seconds (orthogonal-
    isation, restarts and checkpoints included; for a resumed run, the seconds of every part)."""
    h = json.load(open(os.path.join(a.out, "hesse.json")))
    t = json.load(open(os.path.join(a.out, "torch.json")))
    rate = h["products"] / h["seconds"]
    solver = h.get("solver", {})
    doc = {
        "schema": "hesse.bench_resnet18/1",
        "model": "resnet18-cifar",
        "n_params": h.get("n_params"),
        "samples": t["samples"],
        "precision": t["precision"],
        "threads": t["threads"],
        "blas_core": a.core,
        "hesse": dict({k: h.get(k) for k in ("top", "residuals_top", "anorm", "converged",
                                             "products", "seconds", "seconds_split", "loss",
                                             "engine_chunk", "peak_rss_bytes")},
                      **{k: solver.get(k) for k in ("tol", "basis", "restarts", "resumed_from")}),
        "hesse_products_per_s": rate,
        "torch_hvp_per_s": t["hvp_per_s"],
        "ratio": rate / t["hvp_per_s"],
        "torch": {k: t[k] for k in t if k != "check"},
    }
    if "block_hvp_per_s" in t:
        doc["torch_block_hvp_per_s"] = t["block_hvp_per_s"]
        doc["ratio_block"] = rate / t["block_hvp_per_s"]
    if "check" in t:
        doc["torch_check"] = t["check"]
        anorm = h.get("anorm") or max(abs(v) for v in h["top"])
        doc["torch_check_max_relative_residual"] = max(r["residual"] for r in t["check"]) / anorm
    text = json.dumps(doc, indent=2)
    path = os.path.join(a.out, "resnet18.json")
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.replace(path + ".tmp", path)
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--out", required=True)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", help="a CIFAR-10 binary directory (default: generate)")
    t = sub.add_parser("time")
    t.add_argument("--out", required=True)
    t.add_argument("--data", required=True)
    t.add_argument("--split", default="test", choices=["train", "test"])
    t.add_argument("--samples", type=int, default=1000)
    t.add_argument("--threads", type=int, default=0)
    t.add_argument("--repeat", type=int, default=1)
    t.add_argument("--chunk", type=int, default=50)
    t.add_argument("--block", type=int, default=0, help="also time K HVPs sharing a graph")
    t.add_argument("--torch-samples", type=int, default=0,
                   help="time on the first S samples and scale to --samples (0: all)")
    t.add_argument("--precision", default="f64", choices=["f64", "f32"])
    t.add_argument("--vectors")
    t.add_argument("-o", "--output")
    m = sub.add_parser("summary")
    m.add_argument("--out", required=True)
    m.add_argument("--core", default="", help="the OpenBLAS core both ran with")
    a = ap.parse_args()
    if a.cmd == "prepare":
        prepare(a)
    elif a.cmd == "time":
        time_torch(a)
    else:
        summary(a)


if __name__ == "__main__":
    main()
