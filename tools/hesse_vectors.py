#!/usr/bin/python3
"""Load hesse's eigenvectors back into PyTorch, and check them with autograd.

`hesse spectrum --vectors V.safetensors` writes each covered parameter tensor as
[K, *shape] (row i is eigenvector i: the top ones in descending order, then the bottom ones
in ascending order) and `eigenvalues` [K], in the model's parameter names. So

    import hesse_vectors as hv
    eig = hv.load("V.safetensors", model)        # names and shapes checked against the model
    eig.eigenvalues                               # float64 [K]
    v0 = eig[0]                                   # {name: tensor shaped like the parameter}
    flat = hv.flatten(v0, model)                  # [n] in model.parameters() order
    hv.check(model, eig, x, y)                    # Rayleigh quotients and residuals (autograd)

Vectors restricted to a block (`--layer`) cover only some parameters; flatten() fills the
others with zeros. Buffers (batch-norm running statistics) are never part of a vector.

As a command:
    /usr/bin/python3 tools/hesse_vectors.py V.safetensors [--model M.safetensors
        --data D.safetensors [--samples N]]
prints the eigenvalues (JSON) and, given a model and data (a hesse model or exported file and
a safetensors dataset with x and y, preprocessed as hesse does), the model's loss and each
vector's Rayleigh quotient and residual computed with PyTorch's double-backward
Hessian-vector product.
"""
import argparse
import json
import math
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import hesse_st  # noqa: E402


class Eigenvectors:
    """eigenvalues: float64 [K]; tensors: {name: [K, *shape]}; metadata: the file's."""

    def __init__(self, eigenvalues, tensors, metadata):
        self.eigenvalues = eigenvalues
        self.tensors = tensors
        self.metadata = metadata

    @property
    def names(self):
        return list(self.tensors)

    def __len__(self):
        return int(self.eigenvalues.numel())

    def __getitem__(self, i):
        """Eigenvector i as {name: tensor shaped like that parameter}."""
        if not -len(self) <= i < len(self):
            raise IndexError("eigenvector %d of %d" % (i, len(self)))
        return {name: t[i] for name, t in self.tensors.items()}

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def load(path, model=None):
    """Eigenvectors of a hesse --vectors file. With a model, every tensor must be one of the
    model's parameters with the parameter's shape (a ValueError names the mismatch), and the
    tensors come in model.named_parameters() order."""
    tensors, meta = hesse_st.read(path)
    if "eigenvalues" not in tensors:
        raise ValueError("%s: no 'eigenvalues' tensor (not a hesse --vectors file?)" % path)
    values = tensors.pop("eigenvalues").to(torch.float64)
    k = values.numel()
    for name, t in tensors.items():
        if t.dim() < 1 or t.shape[0] != k:
            raise ValueError("%s: tensor '%s' has shape %s; expected [%d, ...] (one row per "
                             "eigenvalue)" % (path, name, list(t.shape), k))
    if model is not None:
        params = dict(model.named_parameters())
        ordered = {}
        for name, p in params.items():
            if name in tensors:
                t = tensors[name]
                if tuple(t.shape[1:]) != tuple(p.shape):
                    raise ValueError("%s: tensor '%s' has shape %s; the model's parameter is %s"
                                     % (path, name, list(t.shape[1:]), list(p.shape)))
                ordered[name] = t
        extra = [n for n in tensors if n not in params]
        if extra:
            raise ValueError("%s: tensor '%s' is not a parameter of the model (its parameters: "
                             "%s%s)" % (path, extra[0], ", ".join(list(params)[:8]),
                                        ", ..." if len(params) > 8 else ""))
        tensors = ordered
    return Eigenvectors(values, tensors, meta)


def flatten(vec, model, missing="zero"):
    """One eigenvector {name: tensor} as a float64 vector in model.parameters() order.
    missing: 'zero' fills parameters the vector does not cover; 'error' refuses."""
    parts = []
    for name, p in model.named_parameters():
        if name in vec:
            parts.append(vec[name].reshape(-1).to(torch.float64))
        elif missing == "zero":
            parts.append(torch.zeros(p.numel(), dtype=torch.float64))
        else:
            raise KeyError("the vector has no tensor for parameter '%s'" % name)
    return torch.cat(parts)


def unflatten(flat, model):
    """The inverse of flatten: {name: tensor shaped like the parameter}."""
    out, at = {}, 0
    for name, p in model.named_parameters():
        out[name] = flat[at:at + p.numel()].reshape(p.shape)
        at += p.numel()
    if at != flat.numel():
        raise ValueError("vector of %d values for a model of %d parameters" % (flat.numel(), at))
    return out


def loss_fn(name):
    if name in ("cross_entropy", "ce"):
        return lambda out, y: F.cross_entropy(out, y)
    if name == "mse":  # hesse: mean over samples and outputs against one-hot targets
        return lambda out, y: F.mse_loss(out, F.one_hot(y, out.shape[1]).to(out.dtype))
    raise ValueError("unknown loss '%s' (cross_entropy or mse)" % name)


def hvp(model, x, y, vectors, loss="cross_entropy", chunk=None):
    """Hessian-vector products of the mean loss over (x, y) by double backward, for a list of
    flat vectors (model.parameters() order). Chunks of `chunk` samples bound the memory; the
    chunks' products are weighted by their share of the samples. Returns (loss, [Hv])."""
    lf = loss_fn(loss) if isinstance(loss, str) else loss
    params = [p for p in model.parameters()]
    n = x.shape[0]
    chunk = chunk or n
    vs = [unflatten(v, model) for v in vectors]
    vs = [[v[name].to(p.dtype) for name, p in model.named_parameters()] for v in vs]
    total = 0.0
    outs = [torch.zeros(sum(p.numel() for p in params), dtype=torch.float64) for _ in vectors]
    for s in range(0, n, chunk):
        xb, yb = x[s:s + chunk], y[s:s + chunk]
        w = xb.shape[0] / n
        value = lf(model(xb), yb)
        g = torch.autograd.grad(value, params, create_graph=True)
        total += w * float(value)
        for j, v in enumerate(vs):
            dot = sum((gi * vi).sum() for gi, vi in zip(g, v))
            hv = torch.autograd.grad(dot, params, retain_graph=j + 1 < len(vs))
            outs[j] += w * torch.cat([h.reshape(-1).to(torch.float64) for h in hv])
    return total, outs


def check(model, eig, x, y, loss="cross_entropy", chunk=None):
    """For each eigenvector v with hesse's eigenvalue lambda: PyTorch's Rayleigh quotient
    v.Hv / v.v and the residual ||Hv - lambda v|| (H by double backward on x, y). Uncovered
    parameters (a --layer block) are zero in v; for a block, H restricted to the block is
    compared, i.e. Hv is projected onto the covered parameters. Returns a list of dicts."""
    covered = torch.cat([torch.full((p.numel(),), name in eig.tensors, dtype=torch.bool)
                         for name, p in model.named_parameters()])
    flats = [flatten(v, model) for v in eig]
    _, hvs = hvp(model, x, y, flats, loss=loss, chunk=chunk)
    rows = []
    for lam, v, hv in zip(eig.eigenvalues.tolist(), flats, hvs):
        hv = torch.where(covered, hv, torch.zeros_like(hv))
        vv = float(v @ v)
        rq = float(v @ hv) / vv
        rows.append({"eigenvalue": lam, "rayleigh": rq, "norm": math.sqrt(vv),
                     "residual": float((hv - lam * v).norm()) / math.sqrt(vv)})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(prog="hesse_vectors.py",
                                 description="Read hesse eigenvectors; optionally check them "
                                             "with PyTorch's Hessian-vector products.")
    ap.add_argument("vectors")
    ap.add_argument("--model", help="model file (hesse's or exported) for the check")
    ap.add_argument("--data", help="safetensors dataset (x, y) for the check")
    ap.add_argument("--samples", type=int, default=0, help="first N samples (0: all)")
    ap.add_argument("--loss", default=None, help="cross_entropy or mse (default: the model's)")
    ap.add_argument("--chunk", type=int, default=0)
    a = ap.parse_args(argv)
    eig = load(a.vectors)
    doc = {"eigenvalues": eig.eigenvalues.tolist(), "tensors": eig.names,
           "metadata": eig.metadata}
    if a.model and a.data:
        import hesse_arch

        model, meta = hesse_arch.load_hesse_model(a.model)
        eig = load(a.vectors, model)
        data, _ = hesse_st.read(a.data)
        x, y = data["x"], data["y"].to(torch.int64)
        # hesse's preprocessing: bytes / 255, then the model's per-channel mean and std
        pre = json.loads(meta.get("hesse.preprocess", "{}"))
        if pre.get("scale"):
            x = x.to(torch.float64) * pre["scale"]
        else:  # as hesse does: bytes divided by 255, other values as they are
            x = x.to(torch.float64) / 255.0 if x.dtype == torch.uint8 else x.to(torch.float64)
        if "mean" in pre and "std" in pre:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            mean = torch.tensor(pre["mean"], dtype=torch.float64).reshape(shape)
            x = (x - mean) / torch.tensor(pre["std"], dtype=torch.float64).reshape(shape)
        if a.samples:
            x, y = x[:a.samples], y[:a.samples]
        loss = a.loss or meta.get("hesse.loss", "cross_entropy")
        with torch.no_grad():
            doc["loss"] = float(loss_fn(loss)(model(x), y))
        doc["check"] = check(model, eig, x, y, loss=loss, chunk=a.chunk or None)
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
