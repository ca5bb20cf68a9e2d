"""hesse's solvers over a Python callable (the user-operator path): known spectra, exceptions
raised in the callable, interruption and resume, errors."""

import os
import resource
import signal

import numpy as np
import pytest

import hesse


def matrix_with_spectrum(lam, seed=0):
    """Q diag(lam) Q^T with a random orthogonal Q: its eigenvalues are exactly lam (to rounding)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((len(lam), len(lam))))
    return (Q * lam) @ Q.T


def test_known_spectrum_top_and_bottom():
    n = 300
    lam = np.concatenate([[9.0, 7.5, 6.0], np.linspace(-1.0, 2.0, n - 6), [-4.0, -5.5, -7.0]])
    A = matrix_with_spectrum(lam)
    calls = []

    def f(X):
        calls.append(X.shape[1])
        return A @ X

    r = hesse.eigs(f, n=n, top=3, bottom=3, tol=1e-10)
    assert np.all(np.abs(r.top - [9.0, 7.5, 6.0]) < 1e-8), r.top
    assert np.all(np.abs(r.bottom - [-7.0, -5.5, -4.0]) < 1e-8), r.bottom
    assert r.residuals_explicit and r.converged == 6
    # The residuals the solver reports are the true ||A v - lambda v|| of the vectors it returns.
    true = np.linalg.norm(A @ r.vectors - r.vectors * r.values, axis=0)
    assert np.allclose(r.residuals, true, rtol=1e-6, atol=1e-15)
    assert np.all(true <= 1e-10 * 9.0 * 1.01)
    assert np.allclose(r.vectors.T @ r.vectors, np.eye(6), atol=1e-10)
    assert r.products == sum(calls)


def test_warm_start_from_earlier_vectors():
    """start= the vectors of a run on a nearby matrix: the values of a cold run (and the true
    ones, np.linalg.eigvalsh), the true residuals within tol ||A||; a bad start is refused."""
    n = 300
    lam = np.concatenate([[9.0, 7.5, 6.0, 5.0], np.linspace(-1.0, 2.0, n - 4)])
    A0 = matrix_with_spectrum(lam, seed=4)
    rng = np.random.default_rng(5)
    E = rng.standard_normal((n, n)) / np.sqrt(n)
    A1 = A0 + 0.02 * (E + E.T) / 2
    exact = np.sort(np.linalg.eigvalsh(A1))[::-1][:4]
    r0 = hesse.eigs(A0, top=4, verify=False)
    cold = hesse.eigs(A1, top=4, verify=False, seed=1)
    warm = hesse.eigs(A1, top=4, verify=False, seed=1, start=r0.vectors)
    assert np.allclose(warm.values, cold.values, rtol=1e-10, atol=0), (warm.values, cold.values)
    assert np.allclose(warm.values, exact, rtol=1e-10, atol=0), (warm.values, exact)
    true = np.linalg.norm(A1 @ warm.vectors - warm.vectors * warm.values, axis=0)
    assert np.all(true <= 1e-8 * np.abs(exact[0]) * 1.01)
    one = hesse.eigs(A1, top=4, verify=False, start=r0.vectors[:, 0])  # one vector
    assert np.allclose(one.values, exact, rtol=1e-10, atol=0)
    bad = r0.vectors.copy()
    bad[7, 2] = np.nan
    with pytest.raises(hesse.InvalidArgument, match="non-finite"):
        hesse.eigs(A1, top=4, start=bad)
    with pytest.raises(hesse.InvalidArgument, match="shape"):
        hesse.eigs(A1, top=4, start=np.ones((n + 1, 2)))


def test_matrix_and_scipy_style_operator():
    lam = np.arange(1.0, 41.0)
    A = matrix_with_spectrum(lam, seed=3)
    r = hesse.eigs(A, top=2, bottom=2)  # a NumPy matrix directly
    assert np.allclose(r.values, [40, 39, 1, 2], atol=1e-8)
    d = hesse.eigs(A, top=40, method="dense")
    assert np.allclose(d.values, lam[::-1], atol=1e-12)


def test_trace_and_density_on_a_callable():
    lam = np.linspace(0.5, 3.0, 120)
    A = matrix_with_spectrum(lam, seed=1)
    t = hesse.trace(lambda X: A @ X, n=120, method="exact")
    assert abs(t.trace - lam.sum()) < 1e-10 * lam.sum()
    assert t.products == 120
    h = hesse.trace(lambda X: A @ X, n=120, method="hutchpp", probes=60, seed=4)
    assert abs(h.trace - lam.sum()) < 5 * h.std_error + 1e-9
    d = hesse.density(lambda X: A @ X, n=120, probes=4, steps=30)
    # SLQ's quadrature reproduces the first moments of the spectrum: sum_j w_j theta_j is
    # z^T A z / z^T z per probe, exactly tr(A) / n in expectation with Rademacher probes.
    means = [np.dot(w, x) for w, x in zip(d.weights, d.nodes)]
    assert abs(np.mean(means) - lam.mean()) < 0.1
    assert all(abs(w.sum() - 1) < 1e-12 for w in d.weights)
    assert abs(np.trapz(d.density, d.grid) - 1) < 1e-9
    assert d.lo <= 0.5 and d.hi >= 3.0


class Boom(Exception):
    pass


def test_exception_in_callable_propagates():
    n = 50
    A = matrix_with_spectrum(np.arange(1.0, n + 1))
    count = [0]

    def f(X):
        count[0] += 1
        if count[0] == 7:
            raise Boom("product 7 failed")
        return A @ X

    with pytest.raises(Boom, match="product 7 failed") as info:
        hesse.eigs(f, n=n, top=2)
    # The traceback reaches into the callable.
    assert any(tb.name == "f" for tb in info.traceback)
    assert count[0] == 7  # the solver stopped at the failing product
    # The same operator works again afterwards (no state left behind).
    count[0] = 100
    r = hesse.eigs(f, n=n, top=2)
    assert np.allclose(r.top, [n, n - 1], atol=1e-8)


def test_exception_in_callable_leaks_nothing():
    """Each failing run allocates a Lanczos basis of 128 x 20000 doubles (20 MB) and more;
    200 of them would leave 4 GB behind if the C side did not free on the error path."""
    n = 20000
    d = np.linspace(1.0, 2.0, n)

    def f(X):
        if f.calls >= 40:
            raise Boom("stop")
        f.calls += 1
        return d[:, None] * X

    def rss():
        with open("/proc/self/statm") as s:
            return int(s.read().split()[1]) * resource.getpagesize()

    for i in range(200):
        f.calls = 0
        with pytest.raises(Boom):
            hesse.eigs(f, n=n, top=5, basis=128)
        if i == 20:
            base = rss()
    assert rss() - base < 200 << 20, "RSS grew by %d MB" % ((rss() - base) >> 20)


def test_wrong_shape_from_callable():
    with pytest.raises(ValueError, match=r"returned shape \(3,\)"):
        hesse.eigs(lambda X: np.zeros(3), n=10, top=1)


def test_interrupt_checkpoint_resume_same_bits(tmp_path):
    n = 400
    lam = np.concatenate([np.linspace(0.0, 1.0, n - 4), [1.01, 1.02, 1.03, 1.04]])
    A = matrix_with_spectrum(lam, seed=5)
    args = dict(n=n, top=4, bottom=2, basis=24)
    full = hesse.eigs(lambda X: A @ X, **args)
    assert full.restarts > 2  # long enough to be interrupted in the middle

    ckpt = str(tmp_path / "run.ckpt")
    calls = [0]

    def f(X):
        calls[0] += 1
        if calls[0] == 40:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the run
        return A @ X

    with pytest.raises(hesse.Interrupted) as info:
        hesse.eigs(f, checkpoint=ckpt, checkpoint_every=300, **args)
    assert ckpt in str(info.value) and info.value.exit_code == 130
    assert os.path.getsize(ckpt) > 0
    resumed = hesse.eigs(lambda X: A @ X, resume=ckpt, **args)
    assert resumed.values.tobytes() == full.values.tobytes()
    assert resumed.residuals.tobytes() == full.residuals.tobytes()
    assert resumed.vectors.tobytes() == full.vectors.tobytes()


def test_slq_interrupt_resume_same_bits(tmp_path):
    n = 200
    A = matrix_with_spectrum(np.linspace(-1, 4, n), seed=6)
    args = dict(n=n, probes=4, steps=40, block=2)
    full = hesse.density(lambda X: A @ X, **args)
    ckpt = str(tmp_path / "slq.ckpt")
    calls = [0]

    def f(X):
        calls[0] += 1
        if calls[0] == 50:
            os.kill(os.getpid(), signal.SIGINT)
        return A @ X

    with pytest.raises(hesse.Interrupted):
        hesse.density(f, checkpoint=ckpt, **args)
    resumed = hesse.density(lambda X: A @ X, resume=ckpt, **args)
    assert resumed.density.tobytes() == full.density.tobytes()
    assert np.concatenate(resumed.nodes).tobytes() == np.concatenate(full.nodes).tobytes()


def test_errors_carry_class_and_message(tmp_path):
    missing = str(tmp_path / "nope.safetensors")
    with pytest.raises(hesse.BadInput) as info:
        hesse.Model.load(missing)
    assert missing in info.value.message and info.value.exit_code == 2
    assert "\n" not in info.value.message
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(hesse.BadInput, match="bad.safetensors"):
        hesse.Model.load(str(bad))
    with pytest.raises(hesse.InvalidArgument) as info:
        hesse.Data.fashion_mnist(split="validation")
    assert info.value.exit_code == 1
    with pytest.raises(hesse.InvalidArgument, match="nothing to compute"):
        hesse.eigs(np.eye(4), top=0)
    # A status from the library itself, with its message.
    with pytest.raises(hesse.InvalidArgument, match="basis 1 is too small") as info:
        hesse.eigs(np.eye(4), top=1, basis=1)
    assert info.value.status == -1 and "\n" not in info.value.message


def test_inplace_operator_same_bits():
    """f(X, Y) filling the library's block gives the run f(X) -> A X gives."""
    A = matrix_with_spectrum(np.linspace(-2, 3, 80), seed=7)

    def g(X, Y):
        np.matmul(A, X, out=Y)

    a = hesse.eigs(lambda X: A @ X, n=80, top=3, bottom=1)
    b = hesse.eigs(hesse.Operator(g, 80, inplace=True), top=3, bottom=1)
    assert a.values.tobytes() == b.values.tobytes()
    assert a.vectors.tobytes() == b.vectors.tobytes()


def test_deflated_density_of_a_callable():
    """density(deflate=K) projects the top K out: the support ends at the bulk's edge, the
    deflated values are the outliers, and an exception in f still comes out as itself."""
    lam = np.concatenate([np.linspace(0.0, 1.0, 97), [5.0, 6.0, 7.0]])
    A = matrix_with_spectrum(lam, seed=8)
    r = hesse.density(lambda X: A @ X, n=100, deflate=3, probes=4, steps=40)
    assert np.allclose(r.deflated, [7, 6, 5], atol=1e-8)
    assert r.hi < 1.2 and r.lo > -0.2  # the outliers are gone from the support

    def f(X):
        f.calls += 1
        if f.calls == 70:  # after the deflation's Lanczos, inside SLQ
            raise Boom("in the deflated operator")
        return A @ X
    f.calls = 0
    with pytest.raises(Boom, match="deflated operator"):
        hesse.density(f, n=100, deflate=3, probes=4, steps=40)


def test_progress_reports_and_bar():
    import io
    A = np.diag(np.arange(1.0, 201.0))
    seen = []
    hesse.eigs(A, top=3, progress=seen.append)
    assert seen and seen[-1]["converged"] == 3 and seen[-1]["wanted"] == 3
    seen = []
    d = hesse.density(A, probes=3, steps=20, progress=seen.append)
    done = [p["done"] for p in seen]
    assert done == sorted(done) and done[-1] == d.products == seen[-1]["total"]
    out = io.StringIO()
    hesse.trace(A, probes=30, progress=hesse.Bar("trace", stream=out))
    assert out.getvalue().endswith("\n") and "30 products" in out.getvalue().split("\r")[-1]
