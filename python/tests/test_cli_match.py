"""The Hessian path against the CLI (the same numbers, bit for bit, for the same model, data,
seed and options) and against PyTorch's double-backward Hessian-vector products."""

import json

import numpy as np
import pytest

import hesse

SAMPLES = 60


def cli_json(cli, tmp_path, *args):
    out = tmp_path / "out.json"
    cli(*args, "-q", "-o", out)
    return json.loads(out.read_text())


def same_bits(a, b):
    """Every value identical (the JSON's doubles read back exactly: hesse_json_write)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture(scope="module")
def setup(mlp):
    m = hesse.Model.load(mlp)
    d = hesse.Data.fashion_mnist(samples=SAMPLES)
    return m, d


@pytest.mark.parametrize("operator,layer,precision", [
    ("hessian", None, "f64"), ("ggn", None, "f64"), ("hessian", "2", "f64"),
    ("residual", None, "f32")])
def test_spectrum_matches_cli(cli, tmp_path, mlp, setup, operator, layer, precision):
    m, d = setup
    args = ["spectrum", "--model", mlp, "--samples", SAMPLES, "--top", 4, "--bottom", 2,
            "--operator", operator, "--solver-seed", 3, "--precision", precision]
    if layer:
        args += ["--layer", layer]
    j = cli_json(cli, tmp_path, *args)
    H = hesse.Hessian(m, d, operator=operator, layer=layer, precision=precision)
    r = hesse.eigs(H, top=4, bottom=2, seed=3)
    res = r.as_dict()
    for key in ("top", "bottom", "residuals_top", "residuals_bottom", "anorm", "orthogonality"):
        assert same_bits(res[key], j[key]), key
    for key in ("products", "converged", "residuals_explicit"):
        assert res[key] == j[key], key
    for key in ("basis", "restarts", "iterations"):
        assert res[key] == j["solver"][key], key
    assert H.n == j["dimension"]
    assert [t[0] for t in H.tensors] == j["tensors"]
    loss, acc = H.loss()
    assert same_bits(loss, j["loss"]) and acc == j["accuracy"]


def test_spectrum_vectors_match_cli_file(cli, tmp_path, mlp, setup):
    """as_state_dict() has the layout and the values of the CLI's --vectors file."""
    m, d = setup
    vec = tmp_path / "v.safetensors"
    cli("spectrum", "-q", "--model", mlp, "--samples", SAMPLES, "--top", 3, "--vectors", vec)
    r = hesse.eigs(hesse.Hessian(m, d), top=3)
    sd = r.as_state_dict()
    raw = vec.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    for name, t in header.items():
        if name == "__metadata__" or name == "eigenvalues":
            continue
        b, e = t["data_offsets"]
        ref = np.frombuffer(data[b:e], dtype="<f8").reshape(t["shape"])
        assert same_bits(sd[name], ref), name


def test_density_matches_cli(cli, tmp_path, mlp, setup):
    m, d = setup
    j = cli_json(cli, tmp_path, "density", "--model", mlp, "--samples", SAMPLES, "--probes", 3,
                 "--steps", 25, "--solver-seed", 2)
    r = hesse.density(hesse.Hessian(m, d), probes=3, steps=25, seed=2).as_dict()
    for key in ("lo", "hi", "sigma", "weight_outside", "eps", "grid", "density",
                "log10_density"):
        assert same_bits(r[key], j[key]), key
    assert len(r["quadrature"]) == len(j["quadrature"])
    for q, qj in zip(r["quadrature"], j["quadrature"]):
        assert same_bits(q["nodes"], qj["nodes"]) and same_bits(q["weights"], qj["weights"])
    assert r["products"] == j["products"]


def test_kpm_density_matches_cli(cli, tmp_path, mlp, setup):
    m, d = setup
    j = cli_json(cli, tmp_path, "density", "--model", mlp, "--samples", SAMPLES, "--method",
                 "kpm", "--probes", 2, "--moments", 40)
    r = hesse.density(hesse.Hessian(m, d), method="kpm", probes=2, moments=40).as_dict()
    for key in ("lo", "hi", "grid", "density", "moments"):
        assert same_bits(r[key], j[key]), key


@pytest.mark.parametrize("method", ["hutchpp", "hutchinson"])
def test_trace_matches_cli(cli, tmp_path, mlp, setup, method):
    m, d = setup
    j = cli_json(cli, tmp_path, "trace", "--model", mlp, "--samples", SAMPLES, "--method",
                 method, "--probes", 30, "--solver-seed", 9)
    r = hesse.trace(hesse.Hessian(m, d), method=method, probes=30, seed=9).as_dict()
    for key in ("trace", "stderr") + (("lowrank_trace",) if method == "hutchpp" else ()):
        assert same_bits(r[key], j[key]), key
    assert r["products"] == j["products"]


def torch_hvp(m, d, V):
    """H V by PyTorch's double backward on the same network, in float64."""
    torch = pytest.importorskip("torch")
    x, y = d.arrays(m)
    sd = m.state_dict()
    params = [torch.tensor(sd[k], dtype=torch.float64, requires_grad=True)
              for k in ("0.weight", "0.bias", "2.weight", "2.bias")]
    assert m.arch == "flatten,0:linear(784,16),relu,2:linear(16,10)"

    def loss_fn():
        h = torch.tensor(x, dtype=torch.float64).reshape(len(x), -1)
        h = torch.relu(h @ params[0].T + params[1])
        z = h @ params[2].T + params[3]
        return torch.nn.functional.cross_entropy(z, torch.tensor(y, dtype=torch.long))

    g = torch.autograd.grad(loss_fn(), params, create_graph=True)
    gflat = torch.cat([t.reshape(-1) for t in g])
    out = []
    for j in range(V.shape[1]):
        v = torch.tensor(V[:, j])
        hv = torch.autograd.grad(gflat @ v, params, retain_graph=True)
        out.append(torch.cat([t.reshape(-1) for t in hv]).numpy())
    return np.stack(out, axis=1)


def test_hvp_matches_torch_double_backward(setup):
    m, d = setup
    H = hesse.Hessian(m, d)
    rng = np.random.default_rng(0)
    V = rng.standard_normal((H.n, 3))
    ours = H @ V
    ref = torch_hvp(m, d, V)
    err = np.abs(ours - ref).max() / np.abs(ref).max()
    assert err < 1e-10, err
    # One vector at a time gives the same as a block (up to the block's rounding).
    one = H @ V[:, 0]
    assert np.abs(one - ours[:, 0]).max() < 1e-12 * np.abs(ours).max()
    assert H.shape == (m.num_params, m.num_params)


def test_scipy_linear_operator(setup):
    pytest.importorskip("scipy")
    m, d = setup
    H = hesse.Hessian(m, d)
    A = H.as_linear_operator()
    v = np.ones(H.n)
    assert same_bits(A @ v, H @ v)


def test_hessian_interrupt_resume_same_bits(tmp_path, setup):
    """Ctrl-C during Lanczos on a Hessian: checkpoint, hesse.Interrupted, resume to the bits of
    the uninterrupted run (the signal reaches the solver through the trampoline)."""
    import os
    import signal
    m, d = setup
    H = hesse.Hessian(m, d)
    args = dict(top=3, bottom=1, basis=16)
    full = hesse.eigs(H, **args)
    assert full.restarts >= 3
    ckpt = str(tmp_path / "h.ckpt")
    sent = []

    def progress(p):
        if p["iteration"] == 2 and not sent:
            sent.append(1)
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(hesse.Interrupted):
        hesse.eigs(H, checkpoint=ckpt, progress=progress, **args)
    r = hesse.eigs(H, resume=ckpt, **args)
    assert same_bits(r.values, full.values) and same_bits(r.residuals, full.residuals)
    assert r.products == full.products


def test_powerlaw_matches_cli(cli, tmp_path, mlp, setup):
    m, d = setup
    j = cli_json(cli, tmp_path, "powerlaw", "--model", mlp, "--samples", SAMPLES, "--top", 25)
    r = hesse.powerlaw(hesse.Hessian(m, d), top=25).as_dict()
    for key in ("eigenvalues", "residuals", "s_sensitivity", "anorm"):
        assert same_bits(r[key], j[key]), key
    for key in ("K", "K_requested", "products", "converged", "fit", "tol_guard", "source"):
        assert r[key] == j[key], key
    # The fit alone on given eigenvalues (--eigenvalues FILE).
    f = tmp_path / "values.txt"
    f.write_text("\n".join(repr(v) for v in j["eigenvalues"]) + "\n")
    j2 = cli_json(cli, tmp_path, "powerlaw", "--eigenvalues", f, "--top", 20)
    r2 = hesse.powerlaw(np.array(j["eigenvalues"]), top=20).as_dict()
    assert r2["fit"] == j2["fit"] and same_bits(r2["eigenvalues"], j2["eigenvalues"])


@pytest.mark.parametrize("method,layer,bottom", [("power", None, 0), ("dense", "2", 2)])
def test_power_and_dense_match_cli(cli, tmp_path, mlp, setup, method, layer, bottom):
    m, d = setup
    args = ["spectrum", "--model", mlp, "--samples", SAMPLES, "--top", 3, "--method", method]
    if layer:
        args += ["--layer", layer]
    if bottom:
        args += ["--bottom", bottom]
    j = cli_json(cli, tmp_path, *args)
    r = hesse.eigs(hesse.Hessian(m, d, layer=layer), top=3, bottom=bottom, method=method)
    res = r.as_dict()
    for key in ("top", "bottom", "residuals_top", "residuals_bottom", "anorm"):
        assert same_bits(res[key], j[key]), key
    assert res["products"] == j["products"]
    keys = ("converged", "converged_top", "stopped_on_change") if method == "power" else ()
    for key in keys:
        assert res[key] == j[key], key


def test_deflated_density_matches_cli(cli, tmp_path, mlp, setup):
    m, d = setup
    j = cli_json(cli, tmp_path, "density", "--model", mlp, "--samples", SAMPLES, "--probes", 3,
                 "--steps", 25, "--deflate", 3)
    r = hesse.density(hesse.Hessian(m, d), probes=3, steps=25, deflate=3).as_dict()
    for key in ("deflated", "deflated_residuals", "lo", "hi", "grid", "density"):
        assert same_bits(r[key], j[key]), key
    assert r["products"] == j["products"]


def test_samples_matches_cli(cli, tmp_path, mlp, setup):
    m, _ = setup
    j = cli_json(cli, tmp_path, "samples", "--model", mlp, "--sizes", "40,80", "--probes", 2,
                 "--steps", 15)
    r = hesse.samples(m, [40, 80], probes=2, steps=15).as_dict()
    assert r["classes"] == j["classes"] and r["sizes"] == j["sizes"]
    assert r["products"] == j["products"]
    for a, b in zip(r["runs"], j["runs"]):
        for key in ("outliers", "residuals", "bulk_edge", "loss", "grid", "density",
                    "log10_density"):
            assert same_bits(a[key], b[key]), key
        assert a["products"] == b["products"]


def test_block_given_to_the_hessian_is_the_clis_block(cli, tmp_path, mlp, setup):
    """Hessian(block=K) acts as --block K for every command: engine and solver blocks."""
    m, d = setup
    H = hesse.Hessian(m, d, block=1)
    j = cli_json(cli, tmp_path, "density", "--model", mlp, "--samples", SAMPLES, "--probes", 4,
                 "--steps", 12, "--block", 1)
    r = hesse.density(H, probes=4, steps=12)
    assert same_bits(r.density, j["density"]) and r.products == j["products"]
    j = cli_json(cli, tmp_path, "trace", "--model", mlp, "--samples", SAMPLES, "--probes", 12,
                 "--block", 1)
    t = hesse.trace(H, probes=12)
    assert same_bits(t.trace, j["trace"]) and same_bits(t.stderr, j["stderr"])
    # The final residual block (6 vectors) is one pass at --block 8 and six at 1: its last
    # bits differ, so this sees which engine ran.
    j = cli_json(cli, tmp_path, "spectrum", "--model", mlp, "--samples", SAMPLES, "--top", 4,
                 "--bottom", 2, "--block", 1)
    e = hesse.eigs(H, top=4, bottom=2)
    assert same_bits(e.residuals, j["residuals_top"] + j["residuals_bottom"])
    assert same_bits(e.values, j["top"] + j["bottom"])


def test_kronecker_matches_cli(cli, tmp_path, mlp, setup):
    m, d = setup
    j = cli_json(cli, tmp_path, "kronecker", "--model", mlp, "--samples", SAMPLES, "--top", 5)
    r = hesse.kronecker(hesse.Hessian(m, d), top=5).as_dict()
    assert r["classes"] == j["classes"] and r["products"] == j["products"]
    assert [a["name"] for a in r["layers"]] == [b["name"] for b in j["layers"]]
    for a, b in zip(r["layers"], j["layers"]):
        assert set(a) == set(b) - {"model"}
        for key, want in b.items():
            if key == "model":
                continue
            if isinstance(want, (str, bool, int)):
                assert a[key] == want, key
            else:
                assert same_bits(a[key], want), key


def assert_same_tree(ours, cli, path=""):
    """Every key of the CLI's (sub)document in ours with the same bits (strings and flags
    equal)."""
    if isinstance(cli, dict):
        for key, want in cli.items():
            assert key in ours, path + key
            assert_same_tree(ours[key], want, path + key + ".")
    elif isinstance(cli, (str, bool)):
        assert ours == cli, path
    else:
        assert same_bits(ours, cli), path


def test_classes_matches_cli(cli, tmp_path, mlp):
    j = cli_json(cli, tmp_path, "classes", "--model", mlp, "--samples", SAMPLES, "--top", 12,
                 "--probes", 12)
    m = hesse.Model.load(mlp)
    H = hesse.Hessian(m, hesse.Data.fashion_mnist(samples=SAMPLES, select="balanced"))
    r = hesse.classes(H, top=12, probes=12).as_dict()
    analysis = {k: v for k, v in j.items() if k in (
        "classes", "class_weights", "means_eigenvalues", "class_eigenvalues",
        "cross_eigenvalues", "two_way", "spectra", "overlap", "outliers", "trace",
        "backward_passes", "products")}
    assert len(analysis) == 12
    assert_same_tree(r, analysis)
