"""hesse's solvers over a Hessian or any operator: eigs, density, trace."""

import ctypes
import os
import signal
import sys
import threading
from ctypes import byref, c_int

import numpy as np

from . import _lib
from ._core import Hessian, Operator, as_operator
from ._errors import InvalidArgument, check, error
from ._progress import Bar

L = _lib.lib


def _array(ptr, count, dtype=np.float64):
    if not ptr or count <= 0:
        return np.zeros(0, dtype=dtype)
    return np.ctypeslib.as_array(ptr, shape=(count,)).astype(dtype, copy=True)


class _Result:
    """Common to results: attribute access to the fields, `as_dict()` with the CLI's JSON keys."""

    def as_dict(self):
        return dict(self._fields)

    def __getattr__(self, name):
        try:
            return self.__dict__["_fields"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%s" % (k, v) for k, v in self._fields.items() if np.ndim(v) == 0))


class EigsResult(_Result):
    """Eigenpairs: values (top descending, then bottom ascending), vectors (n x k), residuals
    ||A v - lambda v||, and what it cost. as_dict() holds the keys of `hesse spectrum`'s JSON
    (top, bottom, residuals_top, residuals_bottom, converged, anorm, residuals_explicit,
    orthogonality, products, seconds, seconds_split) and the solver's (basis, restarts, ...)."""

    def __init__(self, r, op):
        k = r.ntop + r.nbottom
        self._op = op
        self.values = _array(r.values, k)
        self.residuals = _array(r.residuals, k)
        self.vectors = None
        if r.vectors:
            self.vectors = np.ctypeslib.as_array(r.vectors, shape=(k, r.n)).T.copy(order="F")
        t = r.ntop
        self._fields = {
            "top": self.values[:t], "bottom": self.values[t:],
            "residuals_top": self.residuals[:t], "residuals_bottom": self.residuals[t:],
            "converged": r.nconverged, "anorm": r.anorm,
            "residuals_explicit": bool(r.residuals_explicit), "orthogonality": r.orthogonality,
            "products": r.products, "seconds": r.seconds,
            "seconds_split": {"products": r.seconds_products,
                              "orthogonalisation": r.seconds_ortho,
                              "restart": r.seconds_restart,
                              "checkpoint": r.seconds_checkpoint},
            "tol": r.tol, "basis": r.basis, "restarts": r.restarts,
            "breakdowns": r.breakdowns, "fresh_starts": r.fresh_starts,
            "iterations": r.iterations}

    def _judge_power(self, tol):
        """As `hesse spectrum --method power`: a pair counts as converged when its explicit
        residual is <= tol ||A|| (converged_top per pair); the count that power iteration's own
        eigenvalue-change rule stopped is kept as stopped_on_change."""
        f = self._fields
        ok = [bool(f["residuals_explicit"]) and float(x) <= tol * f["anorm"]
              for x in f["residuals_top"]]
        f["stopped_on_change"] = f["converged"]
        f["converged"] = sum(ok)
        f["converged_top"] = ok

    def as_state_dict(self):
        """The eigenvectors as {tensor name: array [k, *shape]} (a Hessian's only), the layout
        of the CLI's --vectors file: {name: t[j]} is eigenvector j as a PyTorch state_dict."""
        if not isinstance(self._op, Hessian):
            raise InvalidArgument("as_state_dict: the operator is not a model's curvature")
        if self.vectors is None:
            raise InvalidArgument("as_state_dict: the eigenvectors were not kept "
                                  "(vectors=False)")
        return self._op.state_dict(self.vectors)

    def plot(self, ax=None):
        """The eigenvalues against their rank (matplotlib needed); returns the axes."""
        import matplotlib.pyplot as plt
        ax = ax or plt.gca()
        t = self.top
        if len(t):
            ax.stem(np.arange(1, len(t) + 1), t, label="top")
        if len(self.bottom):
            ax.stem(np.arange(1, len(self.bottom) + 1), self.bottom, linefmt="C1-",
                    markerfmt="C1o", label="bottom")
        ax.set_xlabel("rank k")
        ax.set_ylabel("eigenvalue")
        ax.legend()
        return ax


class DensityResult(_Result):
    """A spectral density: the keys of `hesse density`'s JSON (lo, hi, sigma, weight_outside,
    eps, grid, density, log10_density, products, seconds, product_seconds; SLQ: quadrature, a
    list of {nodes, weights} per probe (also as .nodes and .weights); KPM: moments)."""

    def __init__(self, d, method):
        f = {"method": method, "lo": d.lo, "hi": d.hi, "sigma": d.sigma,
             "weight_outside": d.weight_outside, "eps": d.eps,
             "grid": _array(d.grid, d.points), "density": _array(d.density, d.points),
             "log10_density": _array(d.log10_density, d.points)}
        if d.nodes:
            nsteps = _array(d.nsteps, d.probes, np.int64)
            nodes = _array(d.nodes, d.probes * d.steps).reshape(d.probes, d.steps)
            weights = _array(d.weights, d.probes * d.steps).reshape(d.probes, d.steps)
            f["quadrature"] = [{"nodes": nodes[r, :nsteps[r]], "weights": weights[r, :nsteps[r]]}
                               for r in range(d.probes)]
        if d.mu:
            f["moments"] = _array(d.mu, d.moments)
        f.update({"products": d.products, "seconds": d.seconds,
                  "product_seconds": d.seconds_products})
        self._fields = f

    @property
    def nodes(self):
        """SLQ: the quadrature nodes (Ritz values) of each probe."""
        return [q["nodes"] for q in self._fields.get("quadrature", [])]

    @property
    def weights(self):
        return [q["weights"] for q in self._fields.get("quadrature", [])]

    def plot(self, ax=None, log=True):
        """The density (log10(density + eps) by default) on its grid; returns the axes."""
        import matplotlib.pyplot as plt
        ax = ax or plt.gca()
        ax.plot(self.grid, self.log10_density if log else self.density)
        ax.set_xlabel("eigenvalue")
        ax.set_ylabel("log10(density + eps)" if log else "density")
        return ax


class TraceResult(_Result):
    """A trace: the keys of `hesse trace`'s JSON (trace, stderr, products, seconds,
    product_seconds; Hutch++: lowrank_rank, lowrank_trace) and probes (the JSON's
    solver.probes). std_error is stderr."""

    def __init__(self, t, method):
        self._fields = {"method": method, "trace": t.trace, "stderr": t.std_error,
                        "probes": t.samples, "products": t.products, "seconds": t.seconds,
                        "product_seconds": t.seconds_products}
        if method == "hutchpp":
            self._fields.update({"lowrank_rank": t.rank, "lowrank_trace": t.lowrank_trace})
        self._fields["std_error"] = t.std_error


# ---- Running a solver: progress, Ctrl-C, checkpoints, the callable's exceptions ------------


class _Run:
    """The state one solver call shares with its C callbacks."""

    def __init__(self, op, task, progress, checkpoint, checkpoint_every):
        self.op, self.task = op, task
        self.stop = c_int(0)
        self.stoppable = False
        self.exception = None
        self.path = checkpoint
        self.every = checkpoint_every
        if progress is None:
            interactive = sys.stderr.isatty() or "ipykernel" in sys.modules  # a notebook
            progress = Bar(task) if interactive else False
        self.progress = progress or None
        self.monitor = _lib.eig_monitor_fn(self._monitor)
        self.hook = _lib.progress_fn(self._hook)
        self.ckpt = _lib.checkpoint_fn(self._checkpoint)

    def _monitor(self, ctx, p):
        try:
            p = p.contents
            self.progress({"task": self.task, "iteration": p.iteration,
                           "products": p.products, "converged": p.nconverged,
                           "wanted": p.nwanted, "values": _array(p.values, p.nvalues),
                           "residuals": _array(p.residuals, p.nvalues), "anorm": p.anorm,
                           "elapsed": p.elapsed})
        except BaseException as e:  # noqa: B902
            self.exception = self.exception or e
            self.stop.value = 1

    def _hook(self, ctx, p):
        try:
            p = p.contents
            self.progress({"task": (p.task or b"").decode(), "done": p.done, "total": p.total,
                           "elapsed": p.elapsed, "detail": (p.detail or b"").decode(),
                           "finished": bool(p.finished)})
        except BaseException as e:  # noqa: B902
            self.exception = self.exception or e
            self.stop.value = 1

    def _checkpoint(self, ctx, parts, nparts, total):
        """Writes the blob to PATH.tmp and renames it over PATH (atomic)."""
        try:
            tmp = self.path + ".tmp"
            with open(tmp, "wb") as f:
                for i in range(nparts):
                    f.write(ctypes.string_at(parts[i].data, parts[i].size))
            os.replace(tmp, self.path)
            return _lib.OK
        except OSError as e:
            return _lib.set_error(_lib.EIO, "%s: cannot write the checkpoint: %s"
                                  % (self.path, e))

    def count(self, expected):
        """Progress by products for solvers without a monitor: {task, done, total, elapsed,
        detail} after each block product (total: the products the solver is expected to
        take)."""
        if not self.progress:
            return
        import time
        t0, done = time.monotonic(), [0]

        def on_product(k):
            done[0] += k
            self.progress({"task": self.task, "done": done[0], "total": expected,
                           "elapsed": time.monotonic() - t0,
                           "detail": "%d products" % done[0], "finished": False})
        self.op.on_product = on_product

    def attach(self, p, monitor=False):
        """Sets the stop flag, checkpoint callback and monitor of a parameter struct."""
        p.stop = ctypes.pointer(self.stop)
        self.stoppable = True
        if self.path:
            p.checkpoint = self.ckpt
            p.checkpoint_interval = self.every
        if monitor and self.progress:
            p.monitor = self.monitor

    def call(self, fn, *args):
        """Runs fn with SIGINT/SIGTERM setting the stop flag (the solver then checkpoints and
        returns HESSE_EINTR, raised as hesse.Interrupted) and the progress hook installed."""
        def on_signal(sig, frame):
            # A solver without a stop flag, or a second signal: stop at once (raised inside
            # the operator's callback, the solver unwinds and the exception comes out here).
            if not self.stoppable or self.stop.value:
                raise KeyboardInterrupt
            self.stop.value = 1

        main = threading.current_thread() is threading.main_thread()
        old = {}
        if main:
            for s in (signal.SIGINT, signal.SIGTERM):
                old[s] = signal.signal(s, on_signal)
        if self.progress:
            L.hesse_set_progress(self.hook, None)
        try:
            try:
                self.op.run(fn, *args)
            except BaseException as e:
                if self.exception is not None:
                    raise self.exception from None
                if getattr(e, "status", None) == _lib.EINTR:
                    raise self._error(_lib.EINTR) from None
                raise
            if self.exception is not None:
                raise self.exception
            if self.stop.value:  # a signal arrived as the solver finished: honour it
                raise KeyboardInterrupt
        finally:
            self.op.on_product = None
            if self.progress:
                L.hesse_set_progress(_lib.progress_fn(), None)
                if hasattr(self.progress, "close"):
                    self.progress.close()
            for s, h in old.items():
                signal.signal(s, h)

    def _error(self, rc):
        e = error(rc)
        if rc == _lib.EINTR and self.path:
            e.message += " (checkpoint saved to %s; resume=%r continues)" % (self.path,
                                                                              self.path)
            e.args = (e.message,)
        return e


def _read_blob(path):
    with open(path, "rb") as f:
        return f.read()


def _signalable(op):
    """A library operator (a Hessian's) behind a Python trampoline, so that Python runs between
    products: signal handlers (Ctrl-C) and exceptions then reach the solver. The blocks reach
    the library's operator unchanged (same max_block), so the bits are the same; it costs one
    callback per product, microseconds beside a Hessian product."""
    inner = op

    def apply(X, Y):
        check(L.hesse_op_apply(byref(inner), X.shape[1], _lib.dptr(X), _lib.dptr(Y), None))

    w = Operator(apply, op.n, max_block=op.max_block, inplace=True)
    w.op.checks_finite = 1  # the inner hesse_op_apply scanned the product
    return w


def _op_of(A, n, default_block):
    """(the operator given, an Operator the solver runs)."""
    A = as_operator(A, n)
    if isinstance(A, Hessian):
        return A, _signalable(A._op(default_block))
    return A, A


def eigs(A, top=20, bottom=0, tol=None, n=None, method="lanczos", seed=0, basis=0,
         max_restarts=0, verify=True, vectors=True, residuals="explicit", checkpoint=None,
         checkpoint_every=300.0, resume=None, progress=None, max_iter=100, start=None):
    """The `top` largest and `bottom` smallest eigenpairs of A: a hesse.Hessian, a callable
    f(X) (with n=), or a NumPy matrix. method "lanczos" (thick restart, the CLI's default),
    "power" (PyHessian's; top only); tol None: the solver's default (Lanczos 1e-8 relative
    to ||A||, power 1e-3 relative change) or "dense". The arguments are the CLI's
    options of `hesse spectrum` (seed = --solver-seed). checkpoint=PATH saves the state every
    checkpoint_every seconds and on Ctrl-C (then hesse.Interrupted is raised);
    resume=PATH continues a run from it with the same arguments, to the same bits.
    start=V (Lanczos): a warm start from the columns of V (n x k, or one vector of length n),
    e.g. the .vectors of an earlier result on a nearby operator, instead of a random vector."""
    A, run_op = _op_of(A, n, 8)
    op = run_op.op
    if top + bottom <= 0:
        raise InvalidArgument("nothing to compute: give top and/or bottom")
    if top + bottom > A.n:
        raise InvalidArgument("asked for %d eigenvalues of an operator of dimension %d"
                              % (top + bottom, A.n))
    if method != "lanczos" and (checkpoint or resume):
        raise InvalidArgument("checkpoint/resume need method='lanczos'")
    run = _Run(run_op, "spectrum", progress, checkpoint, checkpoint_every)
    r = _lib.Eigs()
    try:
        if method == "lanczos":
            if residuals not in ("explicit", "relation"):
                raise InvalidArgument("residuals: expected explicit or relation, got %r"
                                      % (residuals,))
            p = L.hesse_lanczos_defaults()
            p.top, p.bottom = top, bottom
            if tol is not None and tol >= 0:
                p.tol = tol
            p.basis = basis
            if max_restarts > 0:
                p.max_restarts = max_restarts
            p.seed, p.verify = seed, int(bool(verify))
            p.explicit_residuals = int(residuals == "explicit")
            p.want_vectors = int(bool(vectors))
            if start is not None:
                start = np.asfortranarray(start, dtype=np.float64)
                if start.ndim == 1:
                    start = start.reshape(-1, 1, order="F")
                if start.ndim != 2 or start.shape[0] != A.n:
                    raise InvalidArgument("start: expected an array of shape (%d, k), got %r"
                                          % (A.n, start.shape))
                p.start = start.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
                p.nstart = start.shape[1]
            run.attach(p, monitor=True)
            if resume:
                blob = _read_blob(resume)
                run.call(L.hesse_lanczos_resume, byref(op), byref(p), blob, len(blob), byref(r))
            else:
                run.call(L.hesse_lanczos_eigs, byref(op), byref(p), byref(r))
        elif method == "power":
            if bottom:
                raise InvalidArgument("bottom: power iteration finds only the largest "
                                      "eigenvalues; use method='lanczos'")
            p = L.hesse_power_defaults()
            p.top = top
            if tol is not None:
                p.tol = tol
            p.max_iter, p.seed, p.want_vectors = max_iter, seed, int(bool(vectors))
            if run.progress:
                p.monitor = run.monitor
            run.call(L.hesse_power_eigs, byref(op), byref(p), byref(r))
            result = EigsResult(r, A)
            result._judge_power(p.tol)
            return result
        elif method == "dense":
            p = L.hesse_dense_defaults()
            p.top, p.bottom, p.want_vectors = top, bottom, int(bool(vectors))
            run.call(L.hesse_dense_eigs, byref(op), byref(p), byref(r))
        else:
            raise InvalidArgument("method: expected lanczos, power or dense, got %r" % (method,))
        return EigsResult(r, A)
    finally:
        L.hesse_eigs_free(byref(r))


def density(A, method="slq", n=None, probes=10, steps=80, moments=256, reorth=True,
            probe="rademacher", sigma=0.005, margin=0.05, lo=0.0, hi=0.0, points=1000,
            eps=1e-8, seed=0, block=None, deflate=0, checkpoint=None, checkpoint_every=300.0,
            resume=None, progress=None):
    """The spectral density of A by stochastic Lanczos quadrature ("slq") or the kernel
    polynomial method ("kpm"), with the options of `hesse density` (seed = --solver-seed,
    block = --block: probes advanced together, default min(probes, 10)). deflate=K projects
    out the top K eigenvectors first (found by Lanczos with the same seed; the bulk alone, as
    --deflate K; the result gains `deflated` and `deflated_residuals`). SLQ takes
    checkpoint / resume as eigs does."""
    if block is None:
        block = _given_block(A) or (probes if 0 < probes < 10 else 10)
    A, run_op = _op_of(A, n, block)
    outliers, deflated = _lib.Eigs(), _lib.Op()
    try:
        if deflate > 0:
            run_op = _deflate(A, run_op, block, deflate, seed, progress, outliers, deflated)
        res = _density(A, run_op, method, probes, steps, moments, reorth, probe, sigma, margin,
                       lo, hi, points, eps, seed, block, checkpoint, checkpoint_every, resume,
                       progress)
        if deflate > 0:
            f = res._fields
            f["deflated"] = _array(outliers.values, deflate)
            f["deflated_residuals"] = _array(outliers.residuals, deflate)
            f["products"] += outliers.products
        return res
    finally:
        L.hesse_op_free(byref(deflated))
        L.hesse_eigs_free(byref(outliers))


def _deflate(A, run_op, block, K, seed, progress, outliers, deflated):
    """`hesse density --deflate K`: the top K eigenvectors by Lanczos (defaults, the probes'
    seed) on the same operator, projected out (hesse_op_deflate; it borrows the vectors)."""
    if K >= A.n:
        raise InvalidArgument("deflate: %d eigenvectors of an operator of dimension %d"
                              % (K, A.n))
    lp = L.hesse_lanczos_defaults()
    lp.top, lp.seed = K, seed
    run = _Run(run_op, "deflation", progress, None, 0)
    run.attach(lp, monitor=True)
    run.call(L.hesse_lanczos_eigs, byref(run_op.op), byref(lp), byref(outliers))
    base = A._op(block) if isinstance(A, Hessian) else A.op
    check(L.hesse_op_deflate(byref(base), K, outliers.vectors, byref(deflated)))
    if isinstance(A, Hessian):
        return _signalable(deflated)
    w = _signalable(deflated)
    A.exception = None
    w.f = _rethrowing(w.f, A)  # A's own exceptions come out of the deflated operator
    return w


def _rethrowing(apply, A):
    def f(X, Y):
        try:
            apply(X, Y)
        except BaseException:
            if A.exception is not None:
                e, A.exception = A.exception, None
                raise e from None
            raise
    return f


def _density(A, run_op, method, probes, steps, moments, reorth, probe, sigma, margin, lo, hi,
             points, eps, seed, block, checkpoint, checkpoint_every, resume, progress):
    op = run_op.op
    if probe not in ("rademacher", "normal"):
        raise InvalidArgument("probe: expected rademacher or normal, got %r" % (probe,))
    if method != "slq" and (checkpoint or resume):
        raise InvalidArgument("checkpoint/resume need method='slq'")
    run = _Run(run_op, "density", progress, checkpoint, checkpoint_every)
    support = 0 if lo < hi else 30
    run.count(probes * steps + support if method == "slq" else probes * (moments // 2) + support)
    d = _lib.Density()
    try:
        if method == "slq":
            p = L.hesse_slq_defaults()
            p.steps, p.reorth = steps, int(bool(reorth))
            p.probe = 1 if probe == "normal" else 0
            p.sigma = sigma
        elif method == "kpm":
            p = L.hesse_kpm_defaults()
            p.moments = moments
        else:
            raise InvalidArgument("method: expected slq or kpm, got %r" % (method,))
        p.probes, p.margin, p.lo, p.hi = probes, margin, lo, hi
        p.points, p.eps, p.block, p.seed = points, eps, block, seed
        if method == "slq":
            run.attach(p)
            if resume:
                blob = _read_blob(resume)
                run.call(L.hesse_slq_resume, byref(op), byref(p), blob, len(blob), byref(d))
            else:
                run.call(L.hesse_slq_density, byref(op), byref(p), byref(d))
        else:
            run.call(L.hesse_kpm_density, byref(op), byref(p), byref(d))
        return DensityResult(d, method)
    finally:
        L.hesse_density_free(byref(d))


def _given_block(A):
    """The block a Hessian was made with (the CLI's --block for every solver), or None."""
    return A.block if isinstance(A, Hessian) else None


def trace(A, method="hutchpp", n=None, probes=99, probe="rademacher", seed=0, block=None,
          progress=None):
    """The trace of A: "exact" (n products), "hutchinson" or "hutchpp" (Hutch++, the CLI's
    default), with the options of `hesse trace` (probes = --probes: products to spend,
    block = --block: vectors per product, default the Hessian's block or 16; seed =
    --solver-seed)."""
    if block is None:
        block = _given_block(A) or 16
    A, run_op = _op_of(A, n, block)
    fns = {"exact": L.hesse_trace_exact, "hutchinson": L.hesse_trace_hutchinson,
           "hutchpp": L.hesse_trace_hutchpp}
    if method not in fns:
        raise InvalidArgument("method: expected exact, hutchinson or hutchpp, got %r"
                              % (method,))
    if probe not in ("rademacher", "normal"):
        raise InvalidArgument("probe: expected rademacher or normal, got %r" % (probe,))
    p = L.hesse_trace_defaults()
    p.samples, p.block, p.probe, p.seed = probes, block, 1 if probe == "normal" else 0, seed
    t = _lib.TraceResult()
    run = _Run(run_op, "trace", progress, None, 0)
    run.count(A.n if method == "exact" else probes)
    run.call(fns[method], byref(run_op.op), byref(p), byref(t))
    return TraceResult(t, method)


class PowerlawResult(_Result):
    """A power-law fit (Xie et al.): the keys of `hesse powerlaw`'s JSON: K, K_requested,
    eigenvalues (the fitted, positive ones, descending), fit (s_ls, intercept_ls, r2_ls, beta,
    beta_stderr, s_mle, d_ks, d_c, accepted, lambda_min, lambda_max, dropped), source; from an
    operator also residuals, tol_guard, s_sensitivity, converged, anorm, products, seconds."""

    def __init__(self, fields):
        self._fields = fields


def _fit(values):
    v = np.ascontiguousarray(values, dtype=np.float64)
    f = _lib.Powerlaw()
    rc = L.hesse_powerlaw_fit(_lib.dptr(v), len(v), byref(f))
    if rc != _lib.OK:
        raise error(rc)
    fit = {"s_ls": f.s_ls, "intercept_ls": f.intercept_ls, "r2_ls": f.r2_ls, "beta": f.beta,
           "beta_stderr": f.beta_stderr, "s_mle": f.s_mle, "d_ks": f.d_ks, "d_c": f.d_c,
           "accepted": bool(f.accepted), "lambda_min": f.lambda_min,
           "lambda_max": f.lambda_max, "dropped": f.dropped}
    return f, fit, v[v > 0]


def powerlaw(A, top=1000, n=None, tol=1e-6, seed=0, basis=0, verify=True, progress=None):
    """The power-law test of Xie et al. on the `top` largest eigenvalues: `hesse powerlaw`.
    A is an operator (a Hessian, a callable with n=, a matrix): the top eigenvalues by Lanczos
    at tol (default 1e-6) with the library's accuracy guard (hesse_powerlaw_eigs: solved again
    at a smaller tolerance when tol ||A|| / lambda_K exceeds 1e-3), then the fit and its
    sensitivity to the residuals. Or A is a 1-D array of eigenvalues (`--eigenvalues`): the
    `top` largest are fitted."""
    if isinstance(A, np.ndarray) and A.ndim == 1 or isinstance(A, (list, tuple)):
        values = np.sort(np.asarray(A, dtype=np.float64))[::-1][:top]
        f, fit, desc = _fit(values)
        return PowerlawResult({"K": f.K, "K_requested": top, "eigenvalues": desc, "fit": fit,
                               "source": "eigenvalues"})
    A, run_op = _op_of(A, n, 8)
    if A.n < 4:
        raise InvalidArgument("the operator has dimension %d; a power-law fit needs at least 3 "
                              "of its eigenvalues, and Lanczos at most the dimension - 1" % A.n)
    wanted = min(top, A.n - 1)
    p = L.hesse_lanczos_defaults()
    p.top, p.tol, p.basis, p.seed = wanted, tol, basis, seed
    p.verify = int(bool(verify))
    p.want_vectors, p.explicit_residuals = 0, 1
    run = _Run(run_op, "powerlaw", progress, None, 0)
    run.attach(p, monitor=True)
    cost = {"products": 0, "seconds": 0.0}

    def solve(ctx, t, out):
        p.tol = t
        rc = L.hesse_lanczos_eigs(byref(run_op.op), byref(p), out)
        if rc == _lib.OK:
            cost["products"] += out.contents.products
            cost["seconds"] += out.contents.seconds
        return rc

    solve_c = _lib.powerlaw_solve_fn(solve)
    r, g = _lib.Eigs(), _lib.PowerlawGuard()
    try:
        run.call(L.hesse_powerlaw_eigs, solve_c, None, p.tol, byref(r), byref(g))
        values = _array(r.values, r.ntop)
        residuals = _array(r.residuals, r.ntop)
        f, fit, desc = _fit(values)
        if f.K < 3:
            raise InvalidArgument("fewer than 3 positive eigenvalues among the top %d" % wanted)
        sens = ctypes.c_double()
        rc = L.hesse_powerlaw_sensitivity(_lib.dptr(desc), _lib.dptr(residuals), f.K,
                                          g.tol_used * r.anorm, byref(f), byref(sens))
        if rc != _lib.OK:
            raise error(rc)
        guard = {"tol_requested": g.tol_requested, "tol_used": g.tol_used, "limit": g.limit,
                 "accuracy": g.accuracy, "tightened": g.tightened}
        res = {"tol_guard": guard, "converged": r.nconverged, "anorm": r.anorm,
               "residuals_explicit": bool(r.residuals_explicit),
               "orthogonality": r.orthogonality, "products": cost["products"],
               "seconds": cost["seconds"], "K": f.K, "K_requested": top,
               "eigenvalues": desc, "residuals": residuals[:f.K], "fit": fit,
               "s_sensitivity": sens.value, "source": "lanczos"}
        if wanted < top:
            res["K_cap"] = wanted
        return PowerlawResult(res)
    finally:
        L.hesse_eigs_free(byref(r))


class SamplesResult(_Result):
    """How the outliers and the bulk move with the number of samples (Papyan 2018): the keys of
    `hesse samples`' JSON: classes, sizes, runs (per size: samples, outliers, residuals,
    bulk_edge, loss, grid, density, log10_density, products, seconds), products, seconds."""

    def __init__(self, fields):
        self._fields = fields


def samples(model, sizes, data="fashion-mnist", split="train", seed=0, top=None, tol=1e-8,
            probes=10, steps=80, solver_seed=0, operator="hessian", precision="f64", chunk=0,
            progress=None):
    """`hesse samples`: for each size N (class-balanced, nested subsets of `data`), the top K
    eigenvalues of the curvature by Lanczos at tol (K = top, default C + 5, at least C + 1),
    the bulk edge (eigenvalue C + 1) and the SLQ density of the operator with its top C
    eigenvectors projected out; C the model's outputs. 10 vectors per pass, as the CLI."""
    import time
    from ._core import Data
    t0 = time.perf_counter()
    C = L.hesse_model_num_outputs(model._h)
    runs, total = [], 0
    for N in sizes:
        start = time.perf_counter()
        d = Data.open(data, split=split, samples=int(N), select="balanced", seed=seed)
        H = Hessian(model, d, operator=operator, precision=precision, block=10, chunk=chunk)
        k = top if top else C + 5
        k = min(max(k, C + 1), H.n - 1)
        e = eigs(H, top=k, tol=tol, progress=progress)
        V = np.asfortranarray(e.vectors[:, :C])  # borrowed by the deflated operator
        defl = _lib.Op()
        try:
            check(L.hesse_op_deflate(byref(H._op(10)), C, _lib.dptr(V), byref(defl)))
            dn = _density(H, _signalable(defl), "slq", probes, steps, 256, True, "rademacher",
                          0.005, 0.05, 0.0, 0.0, 1000, 1e-8, solver_seed, 10, None, 300.0,
                          None, progress)
        finally:
            L.hesse_op_free(byref(defl))
        products = e.products + dn.products
        total += products
        runs.append({"samples": d._samples(model).n, "outliers": e.values,
                     "residuals": e.residuals, "bulk_edge": e.values[C], "loss": H.loss()[0],
                     "grid": dn.grid, "density": dn.density, "log10_density": dn.log10_density,
                     "products": products, "seconds": time.perf_counter() - start})
    return SamplesResult({"classes": C, "sizes": [r["samples"] for r in runs], "runs": runs,
                          "products": total, "seconds": time.perf_counter() - t0})


class KroneckerResult(_Result):
    """Wu et al.'s Kronecker decoupling per layer: the keys of `hesse kronecker`'s JSON (one
    model): classes, layers (per linear / conv layer: name, kind, shape, positions,
    M_eigenvalues, M_exact, M, xx_eigenvalues, kron_top, exact_top, exact_residuals, overlap,
    rank_one, outliers, outlier_gap_ratio, M_outliers, classes_minus_one, products,
    x_mean_norm and, where E[x] is not zero, x_mean_ratio_fro, x_mean_ratio_2,
    x_mean_overlap), products."""

    def __init__(self, fields):
        self._fields = fields


def _kron_layer(H, f, C, top, tol, progress):
    """One layer's entry: its factors' spectra, the Kronecker product's top eigenpairs, the
    exact weight block's by Lanczos, and how they compare."""
    m = H.model._h
    Lr = L.hesse_model_layer(m, f.layer).contents
    out, inn = f.out, getattr(f, "in")
    length = Lr.weight_count
    kk = top if top < length else int(length) - 1
    kl, blk = _lib.KronLayer(), _lib.Op()
    try:
        check(L.hesse_kron_layer_from_factors(byref(f), byref(kl)))
        kv, kvec = np.empty(kk), np.empty((length, kk), order="F")
        check(L.hesse_kron_top(byref(kl), kk, _lib.dptr(kv), _lib.dptr(kvec)))
        off, ln = ctypes.c_int64(Lr.weight_offset), ctypes.c_int64(length)
        check(L.hesse_op_restrict(byref(H._op(8)), 1, byref(off), byref(ln), byref(blk)))
        e = eigs(_signalable(blk), top=kk, tol=tol,
                 progress=progress)
        V = np.asfortranarray(e.vectors)
        gap, mgap = ctypes.c_double(), ctypes.c_double()
        Mv = _array(kl.M_values, out)
        o = {"name": "%s.weight" % Lr.name.decode(),
             "kind": L.hesse_layer_kind_name(Lr.kind).decode(), "shape": [out, inn],
             "positions": f.positions, "M_eigenvalues": Mv, "M_exact": bool(kl.M_exact),
             "M": L.hesse_factor_m_name(kl.M_kind).decode(),
             "xx_eigenvalues": _array(kl.xx_values, inn), "kron_top": kv,
             "exact_top": e.values, "exact_residuals": e.residuals,
             "overlap": L.hesse_subspace_overlap(length, kk, _lib.dptr(kvec), kk, _lib.dptr(V)),
             "rank_one": np.array([L.hesse_rank_one_ratio(_lib.dptr(V[:, j]), out, inn)
                                   for j in range(kk)]),
             "outliers": L.hesse_outlier_count(_lib.dptr(e.values), kk, byref(gap)),
             "outlier_gap_ratio": gap.value,
             "M_outliers": L.hesse_outlier_count(_lib.dptr(Mv), int(out), byref(mgap)),
             "classes_minus_one": C - 1, "products": e.products}
        d = kl.mean
        o["x_mean_norm"] = d.norm if np.isfinite(d.norm) else 0.0
        if np.isfinite(d.ratio_fro):
            o.update({"x_mean_ratio_fro": d.ratio_fro, "x_mean_ratio_2": d.ratio_2,
                      "x_mean_overlap": d.overlap})
        return o
    finally:
        L.hesse_op_free(byref(blk))
        L.hesse_kron_layer_free(byref(kl))


def kronecker(H, top=20, tol=1e-8, M="exact", progress=None):
    """`hesse kronecker` on one model: for every linear and conv layer of a Hessian's network
    (operator "hessian", no layer block), the Kronecker factors E[M] and E[x x^T] (Wu et al.),
    the top eigenpairs of their product and of the exact weight block (Lanczos at tol), the
    overlap of the two top spaces, the rank-one ratios of the exact eigenvectors, and the
    outliers against C - 1. M: "exact" or "ggn" (the CLI's --M)."""
    if not isinstance(H, Hessian) or H.layer is not None or H.operator != "hessian":
        raise InvalidArgument("kronecker: expected a hesse.Hessian of a model's full Hessian")
    which = ctypes.c_int()
    if L.hesse_factor_m_parse(str(M).encode(), byref(which)) != _lib.OK:
        raise InvalidArgument("M: expected exact or ggn, got %r" % (M,))
    C = L.hesse_model_num_outputs(H.model._h)
    eng = H._engine(8)
    f, nf = ctypes.POINTER(_lib.LayerFactors)(), ctypes.c_int()
    check(L.hesse_layer_factors_compute(eng.e, byref(H._s), which.value, byref(f), byref(nf)))
    try:
        layers = [_kron_layer(H, f[i], C, top, tol, progress) for i in range(nf.value)]
    finally:
        L.hesse_layer_factors_free(f, nf.value)
    return KroneckerResult({"classes": C, "layers": layers,
                            "products": sum(o["products"] for o in layers)})


class ClassesResult(_Result):
    """Papyan's class-mean hierarchy: the keys of `hesse classes`' JSON (without --density):
    classes, class_weights, means_eigenvalues, class_eigenvalues, cross_eigenvalues, two_way,
    spectra (hessian, ggn, within, residual), overlap, outliers, trace, backward_passes,
    products."""

    def __init__(self, fields):
        self._fields = fields


def _two_way(t):
    tot, about = t.total, t.total - t.grand_mean
    share = (lambda x: x / tot if tot > 0 else 0)
    return {"weights": "pi_c on the true class c, 1/C on the label c'", "total": tot,
            "grand_mean": t.grand_mean, "class_effect": t.class_effect,
            "label_effect": t.label_effect, "interaction": t.interaction,
            "share_grand_mean": share(t.grand_mean), "share_class_effect": share(t.class_effect),
            "share_label_effect": share(t.label_effect),
            "share_interaction": share(t.interaction),
            "additive_share": (t.class_effect + t.label_effect) / about if about > 0 else 0,
            "class_terms": t.class_terms, "cross_class_means": t.cross_class_means,
            "cross_deviations": t.cross_deviations}


def _class_spectra(cm, C, n):
    """The exact nonzero spectra of G_means, G_class and G_cross, and G_means' top C
    directions (the averaging basis)."""
    out, basis = {}, np.empty((n, C), order="F")
    for part, key in enumerate(("means_eigenvalues", "class_eigenvalues", "cross_eigenvalues")):
        vals, count = ctypes.POINTER(ctypes.c_double)(), ctypes.c_int()
        check(L.hesse_class_spectrum(byref(cm), part, byref(vals), byref(count),
                                     C if part == 0 else 0, _lib.dptr(basis) if part == 0 else None))
        out[key] = _array(vals, count.value)
        L.hesse_free(vals)
    return out, basis


def _hutchpp(op, probes, seed):
    p = L.hesse_trace_defaults()
    p.samples, p.seed = probes, seed
    t = _lib.TraceResult()
    _Run(op, "trace", False, None, 0).call(L.hesse_trace_hutchpp, byref(op.op), byref(p),
                                           byref(t))
    return t


def classes(H, top=None, tol=1e-8, probes=99, seed=0, residual=True, progress=None):
    """`hesse classes` (Papyan 2019) on a Hessian (operator "hessian", no layer; the CLI's
    default data selection there is balanced: hesse.Data.fashion_mnist(select="balanced")):
    the C x C class means, the exact spectra of G_means and its parts, Lanczos spectra of H,
    G, G_within = G - G_means and E = H - G (top, default 2C), the averaging subspace's
    overlaps, the outliers, and tr G = tr G_means + tr G_within by Hutch++ (probes, seed).
    Not the --density part."""
    if not isinstance(H, Hessian) or H.layer is not None or H.operator != "hessian":
        raise InvalidArgument("classes: expected a hesse.Hessian of a model's full Hessian")
    C, n = L.hesse_model_num_outputs(H.model._h), H.n
    top = min(max(top or 2 * C, C), n - 1)
    eng = H._engine(8)
    cm, tw2 = _lib.ClassMeans(), _lib.MeansTwoway()
    G, Gm, Gw, E = _lib.Op(), _lib.Op(), _lib.Op(), _lib.Op()
    try:
        check(L.hesse_class_means_compute(eng.e, byref(H._s), byref(cm)))
        res = {"classes": C, "class_weights": _array(cm.pi, C)}
        spectra_exact, basis = _class_spectra(cm, C, n)
        res.update(spectra_exact)
        check(L.hesse_class_means_twoway(byref(cm), byref(tw2)))
        res["two_way"] = _two_way(tw2)
        check(L.hesse_op_curvature(eng.e, byref(H._s), 1, byref(G)))
        check(L.hesse_op_class_means(byref(cm), 0, byref(Gm)))
        check(L.hesse_op_combine(byref(G), 1.0, byref(Gm), -1.0, byref(Gw)))
        ops = [("hessian", eng.full, 0, True), ("ggn", G, 0, True), ("within", Gw, 0, False)]
        if residual:
            check(L.hesse_op_curvature(eng.e, byref(H._s), 2, byref(E)))
            ops.append(("residual", E, top, False))
        sp, found, products = {}, {}, 0
        for name, op, bottom, vec in ops:
            r = eigs(_signalable(op), top=top, bottom=bottom, tol=tol, vectors=vec,
                     progress=progress)
            found[name] = r
            products += r.products
            sp[name] = {"top": r.top, "residuals_top": r.residuals_top}
            if bottom:
                sp[name].update({"bottom": r.bottom, "residuals_bottom": r.residuals_bottom})
            sp[name].update({"converged": r.converged, "products": r.products})
        res["spectra"] = sp
        vh, vg = found["hessian"].vectors, found["ggn"].vectors
        ov = lambda a, b: L.hesse_subspace_overlap(n, C, _lib.dptr(a), C, _lib.dptr(b))  # noqa
        res["overlap"] = {"averaging_vs_hessian": ov(basis, vh), "averaging_vs_ggn": ov(basis, vg),
                          "hessian_vs_ggn": ov(vh, vg)}
        gap = ctypes.c_double()
        hv = np.ascontiguousarray(found["hessian"].top)
        res["outliers"] = {"count": L.hesse_outlier_count(_lib.dptr(hv), top, byref(gap)),
                           "gap_ratio": gap.value}
        tg = _hutchpp(_signalable(G), probes, seed)
        tw = _hutchpp(_signalable(Gw), probes, seed + 1)
        products += tg.products + tw.products
        within = tg.trace - tw2.total
        res["trace"] = {"ggn": tg.trace, "ggn_stderr": tg.std_error, "means": tw2.total,
                        "within": within, "within_stderr": tg.std_error,
                        "identity_gap": tg.trace - (tw2.total + within), "identity_stderr": 0.0,
                        "within_hutchpp": tw.trace, "within_hutchpp_stderr": tw.std_error,
                        "within_hutchpp_gap": tw.trace - within,
                        "within_hutchpp_gap_stderr": float(np.sqrt(
                            tg.std_error * tg.std_error + tw.std_error * tw.std_error))}
        res["backward_passes"] = cm.passes
        res["products"] = products
        return ClassesResult(res)
    finally:
        for op in (Gw, Gm, E, G):
            L.hesse_op_free(byref(op))
        L.hesse_class_means_free(byref(cm))
