#!/usr/bin/python3
"""PyTorch reference for the edge-of-stability runs (examples/reproduce/eos.sh).

Full-batch gradient descent (or Adam) on a class-balanced subset of Fashion-MNIST, from a hesse
model file (`hesse train --epochs 0 ... -o init.safetensors`), with the sharpness -- the top
eigenvalue of the loss Hessian, by Lanczos on double-backward Hessian-vector products in float64
-- every K steps. For Adam, also the preconditioned sharpness: the top eigenvalue of P^-1 H with
P = sqrt(v_hat) + eps, torch.optim.Adam's divisor of the step just taken, computed as that of
P^-1/2 H P^-1/2 (the same eigenvalues).

Everything here is PyTorch and NumPy, independent of hesse's C code: the data are read from the
IDX files and chosen as hesse's `--select balanced` chooses them (class k takes the first
n/C (+1 when k < n mod C) samples of its class in file order), scaled by raw / 255 (hesse's
default preprocessing of bytes, torchvision's ToTensor); the loss is hesse's MSE,
F.mse_loss(z, one_hot(y)) (the mean over the N C outputs); the network is tools/hesse_arch.py's
ArchNet for the file's architecture string, with the file's tensors.

Step s means the parameters after s optimizer steps; the measurement at step s (loss, accuracy,
sharpness) is taken there, before step s + 1, at s = 0, every K steps and after the last step,
as `hesse train --track` does. Thresholds: 2/lr for GD (Cohen et al. 2021), and
(2 + 2 beta1) / ((1 - beta1) lr) (38/lr at beta1 = 0.9) for Adam's preconditioned sharpness
(Cohen et al. 2022).

    /usr/bin/python3 examples/reproduce/eos_torch.py --init mlp-init.safetensors --lr 0.1 \
        --steps 400 --every 20 --json out.json --csv out.csv

Run it single-threaded (the default here, --threads) and niced on a shared machine.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import hesse_arch  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError("%s: no %s[.gz]" % (folder, stem))


def balanced(labels, n, classes=10):
    """hesse's --select balanced: class k's quota n/C (+1 if k < n mod C), taken from the
    front of the file; the chosen indices in file order."""
    quota = [n // classes + (1 if k < n % classes else 0) for k in range(classes)]
    idx = []
    for i, k in enumerate(labels):
        if len(idx) == n:
            break
        if quota[k] > 0:
            quota[k] -= 1
            idx.append(i)
    if len(idx) != n:
        raise ValueError("a balanced selection of %d does not exist" % n)
    return np.array(idx)


def load_data(folder, n, split="train"):
    stem = "train" if split == "train" else "t10k"
    x = read_idx(find(folder, stem + "-images-idx3-ubyte"))
    y = read_idx(find(folder, stem + "-labels-idx1-ubyte")).astype(np.int64)
    idx = balanced(y, n)
    xs = torch.from_numpy(x[idx].astype(np.float64) / 255.0).reshape(n, 1, 28, 28)
    return xs, torch.from_numpy(y[idx])


def lanczos_top(hvp, n, start, tol, maxit, gen):
    """Largest eigenvalue of the symmetric operator hvp by Lanczos with full
    reorthogonalisation, from `start` (None: random) plus a 1e-3 random admixture, until the
    Ritz residual beta_j |s_j| <= tol |lambda|. Returns (lambda, Ritz vector, residual,
    products)."""
    v = torch.randn(n, dtype=torch.float64, generator=gen)
    if start is not None:
        v = start / start.norm() + 1e-3 * v / v.norm()
    q = v / v.norm()
    Q, alpha, beta = [q], [], []
    lam, res, y = 0.0, math.inf, None
    for j in range(maxit):
        w = hvp(Q[j])
        a = float(w @ Q[j])
        alpha.append(a)
        w = w - a * Q[j] - (beta[-1] * Q[j - 1] if j > 0 else 0)
        B = torch.stack(Q)
        for _ in range(2):  # full reorthogonalisation, twice is enough
            w = w - B.t() @ (B @ w)
        b = float(w.norm())
        T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
        ev, S = np.linalg.eigh(T)
        lam, s = ev[-1], S[:, -1]
        res = b * abs(s[-1])
        if res <= tol * abs(lam) or b < 1e-300 or j + 1 == maxit:
            y = B.t() @ torch.from_numpy(s)
            return lam, y / y.norm(), res, j + 1
        beta.append(b)
        Q.append(w / b)


class Problem:
    def __init__(self, net, x, y):
        self.net, self.x, self.y = net, x, y
        self.params = [p for p in net.parameters()]
        self.n = sum(p.numel() for p in self.params)

    def loss(self):
        z = self.net(self.x)
        onehot = F.one_hot(self.y, z.shape[1]).to(z.dtype)
        return F.mse_loss(z, onehot), z

    def flat(self, ts):
        return torch.cat([t.reshape(-1) for t in ts])

    def hvp_factory(self):
        """(loss, accuracy, gradient graph kept): Hessian-vector products by double backward
        through one gradient graph, reused for every product of a measurement."""
        value, z = self.loss()
        g = torch.autograd.grad(value, self.params, create_graph=True)
        acc = float((z.argmax(1) == self.y).double().mean())

        def hvp(v):
            parts, at = [], 0
            for p in self.params:
                parts.append(v[at:at + p.numel()].view_as(p))
                at += p.numel()
            dot = sum((gi * vi).sum() for gi, vi in zip(g, parts))
            return self.flat(torch.autograd.grad(dot, self.params, retain_graph=True)).detach()

        return float(value), acc, hvp


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--init", required=True, help="hesse model file (the initial weights)")
    ap.add_argument("--data", default=DATA, help="Fashion-MNIST IDX folder")
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--optimizer", choices=["gd", "adam"], default="gd")
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--every", type=int, default=20)
    ap.add_argument("--tol", type=float, default=1e-8, help="relative Ritz residual")
    ap.add_argument("--maxit", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0, help="Lanczos start vector")
    ap.add_argument("--stop-loss-above", type=float, default=1e3,
                    help="stop when the loss exceeds this (divergence)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--csv")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(a.seed)

    net, meta = hesse_arch.load_hesse_model(a.init)
    if meta.get("hesse.loss", "mse") != "mse":
        print("note: %s was made with loss %s; this reference uses MSE" %
              (a.init, meta.get("hesse.loss")), file=sys.stderr)
    x, y = load_data(a.data, a.samples)
    pb = Problem(net, x, y)
    adam = a.optimizer == "adam"
    opt = torch.optim.Adam(pb.params, lr=a.lr) if adam else None
    beta1 = opt.defaults["betas"][0] if adam else 0.0
    thr = 2.0 / a.lr
    thr_pre = (2 + 2 * beta1) / ((1 - beta1) * a.lr) if adam else None

    print("lr %r" % a.lr, flush=True)
    series, losses = [], []
    start = start_pre = None
    t_train = t_meas = 0.0
    for step in range(a.steps + 1):
        measure = step % a.every == 0 or step == a.steps
        t0 = time.perf_counter()
        if measure:
            loss, acc, hvp = pb.hvp_factory()
            lam, start, res, prods = lanczos_top(hvp, pb.n, start, a.tol, a.maxit, gen)
            row = {"step": step, "loss": loss, "accuracy": acc, "lr": a.lr, "top": [lam],
                   "top_residuals": [res], "products": prods}
            if adam and step > 0:
                st = [opt.state[p] for p in pb.params]
                t = st[0]["step"]
                t = int(t.item()) if torch.is_tensor(t) else int(t)
                beta2, eps = opt.defaults["betas"][1], opt.defaults["eps"]
                c2 = math.sqrt(1 - beta2 ** t)  # torch.optim.Adam's denom, bias-corrected
                denom = pb.flat([(s["exp_avg_sq"].sqrt() / c2).add_(eps) for s in st])
                d = denom.rsqrt()
                lp, start_pre, rp, pp = lanczos_top(lambda v: d * hvp(d * v), pb.n, start_pre,
                                                    a.tol, a.maxit, gen)
                row.update({"preconditioned": [lp], "preconditioned_residuals": [rp],
                            "preconditioned_products": pp})
            del hvp
            row["seconds"] = time.perf_counter() - t0
            t_meas += row["seconds"]
            series.append(row)
            extra = ("  pre %.4f (x lr/38 = %.3f)" % (row["preconditioned"][0],
                                                       row["preconditioned"][0] / thr_pre)
                     if "preconditioned" in row else "")
            print("step %5d  loss %.10f  acc %.4f  lambda1 %.8f  (x lr/2 = %.3f)  %d prods  "
                  "%.1fs%s" % (step, loss, acc, lam, lam / thr, prods, row["seconds"], extra),
                  flush=True)
        if step == a.steps:
            break
        t0 = time.perf_counter()
        value, _ = pb.loss()
        g = torch.autograd.grad(value, pb.params)
        losses.append(float(value))
        with torch.no_grad():
            if adam:
                for p, gi in zip(pb.params, g):
                    p.grad = gi
                opt.step()
            else:
                for p, gi in zip(pb.params, g):
                    p.sub_(a.lr * gi)
        t_train += time.perf_counter() - t0
        if not math.isfinite(losses[-1]) or losses[-1] > a.stop_loss_above:
            print("diverged at step %d (loss %g)" % (step, losses[-1]))
            break

    summary = summarise(series, thr, "top")
    print("GD threshold 2/lr = %.4f: %s" % (thr, describe(summary)))
    if adam:
        summary_pre = summarise(series, thr_pre, "preconditioned")
        print("preconditioned threshold 38/lr = %.4f: %s" % (thr_pre, describe(summary_pre)))
    print("seconds: training %.1f, measuring %.1f" % (t_train, t_meas))
    doc = {"init": a.init, "arch": meta.get("hesse.arch"), "samples": a.samples,
           "optimizer": a.optimizer, "lr": a.lr, "steps": a.steps, "every": a.every,
           "tol": a.tol, "threshold": thr, "summary": summary,
           "seconds_training": t_train, "seconds_measuring": t_meas,
           "torch": torch.__version__, "series": series, "losses": losses}
    if adam:
        doc.update({"beta1": beta1, "threshold_preconditioned": thr_pre,
                    "summary_preconditioned": summary_pre})
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
    if a.csv:
        with open(a.csv, "w") as f:
            cols = ["step", "loss", "accuracy", "top_1", "top_residual_1", "products"]
            if adam:
                cols += ["preconditioned_1"]
            f.write(",".join(cols) + "\n")
            for r in series:
                vals = [r["step"], r["loss"], r["accuracy"], r["top"][0], r["top_residuals"][0],
                        r["products"]]
                if adam:
                    vals.append(r.get("preconditioned", [""])[0])
                f.write(",".join(repr(v) if isinstance(v, float) else str(v) for v in vals) + "\n")


def summarise(series, thr, key):
    """The first measured step with lambda >= 0.9 thr, and min/max of lambda / thr from there
    to the end."""
    rows = [(r["step"], r[key][0] / thr) for r in series if key in r]
    first = next((i for i, (_, q) in enumerate(rows) if q >= 0.9), None)
    if first is None:
        return {"first_step": None, "max_ratio": max(q for _, q in rows) if rows else None}
    after = [q for _, q in rows[first:]]
    return {"first_step": rows[first][0], "min_ratio": min(after), "max_ratio": max(after)}


def describe(s):
    if s["first_step"] is None:
        return "never reached 0.9 x threshold (max lambda/threshold %.3f)" % s["max_ratio"]
    return "first >= 0.9 x at step %d; afterwards lambda/threshold in [%.3f, %.3f]" % (
        s["first_step"], s["min_ratio"], s["max_ratio"])


if __name__ == "__main__":
    main()
