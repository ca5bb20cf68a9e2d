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
    /usr/bin/python3 tools/hesse_vectors.py V.safetensors [--model M.safetensors --data D
        [--split S] [--samples N] [--select MODE] [--seed S] [--mean M,.. --std S,..]]
prints the eigenvalues (JSON) and, given a model and data (a hesse model or exported file and
hesse's --data with the CLI's selection options), the model's loss and each vector's Rayleigh
quotient and residual computed with PyTorch's double-backward Hessian-vector product. The data
are read and selected by libhesse through the hesse Python package (python/ in the source tree
or make install-python) when it loads, so the samples are the CLI's; without it only a
.safetensors file with x and y is read (its first N samples), and anything else is refused in
one line. Errors: one line `hesse_vectors: ...`, exit 1 (usage) or 2 (bad input).
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


class _Refusal(Exception):
    """A one-line refusal: the message and the exit code (docs/errors.md: 1 usage, 2 input)."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's usage error: one line, exit 1, as hesse's CLI
        raise _Refusal("%s (see --help)" % message, 1)


def _hesse_package():
    """The hesse Python package over libhesse.so (python/ of this source tree, or installed),
    or None: it reads --data exactly as the CLI does."""
    here = os.path.join(os.path.dirname(_HERE), "python")
    if os.path.isdir(os.path.join(here, "hesse")) and here not in sys.path:
        sys.path.insert(0, here)
    import warnings
    try:
        with warnings.catch_warnings():  # its BLAS-core note: the data need no BLAS
            warnings.simplefilter("ignore", RuntimeWarning)
            import hesse
        return hesse
    except (ImportError, OSError):
        return None


def _preprocess_torch(x, meta):
    """hesse's preprocessing in PyTorch: the model's scale, or bytes / 255 (other values as
    they are), then its per-channel mean and std."""
    pre = json.loads(meta.get("hesse.preprocess", "{}"))
    if pre.get("scale"):
        x = x.to(torch.float64) * pre["scale"]
    else:
        x = x.to(torch.float64) / 255.0 if x.dtype == torch.uint8 else x.to(torch.float64)
    if "mean" in pre and "std" in pre:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        mean = torch.tensor(pre["mean"], dtype=torch.float64).reshape(shape)
        x = (x - mean) / torch.tensor(pre["std"], dtype=torch.float64).reshape(shape)
    return x


def _floats(text, what):
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise _Refusal("option %s: expected comma-separated numbers, got '%s'" % (what, text),
                       1) from None


def load_data(a, meta):
    """(x, y) as hesse's CLI selects them with the same --data, --split, --samples, --select,
    --seed, --mean and --std: through libhesse (the hesse Python package) when it loads, else,
    for a safetensors file with x and y, its first --samples samples of the train split read
    here; any other case is refused."""
    hesse = _hesse_package()
    if hesse is not None:
        pre = "model"
        if a.mean is not None:
            pre = {"mean": _floats(a.mean, "--mean"), "std": _floats(a.std, "--std")}
        data = hesse.Data.open(a.data, split=a.split, samples=a.samples, select=a.select,
                               seed=a.seed, preprocess=pre)
        model = hesse.Model.load(a.model) if pre == "model" else None
        x, y = data.arrays(model)
        return torch.from_numpy(x), torch.from_numpy(y).to(torch.int64)
    if not a.data.endswith(".safetensors"):
        raise _Refusal("--data %s: reading it as hesse does needs the hesse Python package "
                       "(libhesse.so): set PYTHONPATH to the source tree's python/ folder and "
                       "HESSE_LIBRARY to libhesse.so, or make install-python; or give a "
                       ".safetensors dataset with x and y" % a.data, 2)
    if a.split != "train" or a.select != "first" or a.mean is not None:
        raise _Refusal("--split, --select and --mean/--std need the hesse Python package "
                       "(libhesse.so) to select samples as hesse does; without it only the first "
                       "--samples of a .safetensors file are read", 2)
    data, _ = hesse_st.read(a.data)
    if "x" not in data or "y" not in data:
        raise _Refusal("%s: expected tensors 'x' and 'y'; the file has %s" %
                       (a.data, hesse_st.names_text(data)), 2)
    x, y = _preprocess_torch(data["x"], meta), data["y"].to(torch.int64)
    if a.samples:
        x, y = x[:a.samples], y[:a.samples]
    return x, y


def _run(a):
    eig = load(a.vectors)
    doc = {"eigenvalues": eig.eigenvalues.tolist(), "tensors": eig.names,
           "metadata": eig.metadata}
    if a.data and not a.model:
        raise _Refusal("option --data: the check needs --model too", 1)
    if (a.mean is None) != (a.std is None):
        raise _Refusal("options --mean and --std go together", 1)
    if a.model and a.data:
        import hesse_arch

        model, meta = hesse_arch.load_hesse_model(a.model)
        eig = load(a.vectors, model)
        x, y = load_data(a, meta)
        loss = a.loss or meta.get("hesse.loss", "cross_entropy")
        with torch.no_grad():
            doc["loss"] = float(loss_fn(loss)(model(x.to(torch.float64)), y))
        doc["check"] = check(model, eig, x.to(torch.float64), y, loss=loss,
                             chunk=a.chunk or None)
    return doc


def main(argv=None):
    ap = _Parser(prog="hesse_vectors.py",
                 description="Read hesse eigenvectors; optionally check them with PyTorch's "
                             "Hessian-vector products on the data hesse used.")
    ap.add_argument("vectors")
    ap.add_argument("--model", help="model file (hesse's or exported) for the check")
    ap.add_argument("--data", help="as hesse's --data: fashion-mnist, an IDX or CIFAR directory, "
                                   "a .safetensors file (x, y), gaussmix:..., text:FILE")
    ap.add_argument("--split", default="train", choices=["train", "test"])
    ap.add_argument("--samples", type=int, default=0, help="how many samples (0: all)")
    ap.add_argument("--select", default="first", choices=["first", "balanced", "random"])
    ap.add_argument("--seed", type=int, default=0, help="seed of --select random")
    ap.add_argument("--mean", help="per-channel mean (instead of the model file's)")
    ap.add_argument("--std", help="per-channel std (with --mean)")
    ap.add_argument("--loss", default=None, help="cross_entropy or mse (default: the model's)")
    ap.add_argument("--chunk", type=int, default=0)
    try:
        a = ap.parse_args(argv)
        if a.samples < 0 or a.chunk < 0 or a.seed < 0:
            raise _Refusal("options --samples, --chunk and --seed take values >= 0", 1)
        doc = _run(a)
    except _Refusal as e:
        print("hesse_vectors: %s" % e, file=sys.stderr)
        return e.code
    except KeyError as e:  # hesse_st.read names the missing tensor
        print("hesse_vectors: %s" % (e.args[0] if e.args else e), file=sys.stderr)
        return 2
    except (ValueError, OSError, hesse_st.SafetensorsError) as e:
        print("hesse_vectors: %s" % str(e).split("\n")[0], file=sys.stderr)
        return getattr(e, "exit_code", None) or (1 if type(e).__name__ == "InvalidArgument" else 2)
    except Exception as e:  # the hesse package's errors carry the CLI's exit code
        if getattr(e, "exit_code", None) is None:
            raise
        print("hesse_vectors: %s" % str(e).split("\n")[0], file=sys.stderr)
        return e.exit_code
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
