#!/usr/bin/env python3
"""What the Python package adds to the library's products (docs/python.md, "Overhead").

1. H @ v from Python against the C product time: for each of --reps products on the Hessian
   of a model (LeNet-5 on 1,000 Fashion-MNIST samples by default), the wall time of `H @ v`
   in Python next to the time hesse_op_apply itself measured inside the product
   (hesse_op_stats.seconds, C's clock around the engine's pass). Medians, and the ratio.
2. The callback path: hesse_op_apply on a hesse.Operator whose callable copies X into its
   result (the least a real operator does) against the callable's own time measured inside it:
   the difference is what one trip C -> Python -> C costs per product (with the copy of the
   returned array into the library's block), at n = the model's dimension and at n = 10^6, for
   blocks of 1 and 8 vectors; and the same with inplace=True (f(X, Y) fills the library's
   block itself, no copy).

    python3 bench/python_overhead.py [--model lenet5.safetensors] [--samples 1000] [--reps 30]

Without --model a LeNet-5 is trained for one epoch with the hesse binary (--hesse, default
build/hesse). Run with HESSE_LIBRARY=build/libhesse.so (or from the source tree) and
/usr/bin/python3 (NumPy).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
import hesse  # noqa: E402  (before NumPy: hesse chooses OpenBLAS's core)
from hesse import _lib  # noqa: E402
import numpy as np  # noqa: E402
from ctypes import byref  # noqa: E402


def median(xs):
    return float(np.median(np.asarray(xs)))


def bench_hessian(H, reps, k):
    rng = np.random.default_rng(0)
    V = np.asfortranarray(rng.standard_normal((H.n, k)))
    H @ V  # builds the engine's cache (forward and backward passes)
    py, c = [], []
    for _ in range(reps):
        before = H.stats.seconds
        t0 = time.perf_counter()
        H @ V
        py.append(time.perf_counter() - t0)
        c.append(H.stats.seconds - before)
    return median(py), median(c)


def bench_callback(n, k, reps, inplace):
    inside = []

    def f(X):
        t0 = time.perf_counter()
        Y = np.array(X)  # a copy: the least work an operator does
        inside.append(time.perf_counter() - t0)
        return Y

    def g(X, Y):
        t0 = time.perf_counter()
        Y[...] = X  # the same, written into the library's block
        inside.append(time.perf_counter() - t0)

    A = hesse.Operator(g, n, inplace=True) if inplace else hesse.Operator(f, n)
    X = np.asfortranarray(np.random.default_rng(1).standard_normal((n, k)))
    Y = np.empty_like(X, order="F")
    per = []
    for _ in range(reps + 3):
        stats = _lib.OpStats()
        inside.clear()
        A.run(_lib.lib.hesse_op_apply, byref(A.op), k, _lib.dptr(X), _lib.dptr(Y), byref(stats))
        per.append(stats.seconds - inside[0])
    assert np.array_equal(X, Y)
    return median(per[3:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--hesse", default=os.path.join(ROOT, "build", "hesse"))
    a = ap.parse_args()
    model = a.model
    if not model:
        model = os.path.join(tempfile.mkdtemp(), "lenet5.safetensors")
        subprocess.run([a.hesse, "train", "-q", "--arch", "lenet5", "--samples", "1000",
                        "--epochs", "1", "--lr", "0.05", "--no-test", "-o", model], check=True)
    m = hesse.Model.load(model)
    H = hesse.Hessian(m, hesse.Data.fashion_mnist(samples=a.samples))
    print("library %s, OpenBLAS core %s, %d threads" % (hesse.library_path,
                                                         _lib.blas_info()["core"],
                                                         hesse.get_threads()))
    print("model %s (%d parameters), %d samples" % (m.arch, H.n, a.samples))
    for k in (1, 8):
        py, c = bench_hessian(H, a.reps, k)
        print("H @ V, k = %d: Python %.3f ms, C product %.3f ms, Python / C = %.4f "
              "(+%.1f us)" % (k, py * 1e3, c * 1e3, py / c, (py - c) * 1e6))
    for n in (H.n, 10**6):
        for k in (1, 8):
            for inplace in (False, True):
                o = bench_callback(n, k, a.reps, inplace)
                print("callback%s, n = %d, k = %d: %.1f us per call beyond the callable's own "
                      "time" % (" (inplace)" if inplace else "", n, k, o * 1e6))


if __name__ == "__main__":
    main()
