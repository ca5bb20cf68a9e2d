"""Shared fixtures of the Python tests: the hesse binary and library of the build under test,
and a small model trained by the CLI. Run by ctest (tests/python/run.sh) or by hand:
    HESSE=build/hesse HESSE_LIBRARY=build/libhesse.so /usr/bin/python3 -m pytest python/tests
"""

import os
import subprocess
import sys

# hesse first: it chooses OpenBLAS's core before NumPy loads OpenBLAS (hesse/_lib.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import hesse  # noqa: E402,F401
import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def hesse_binary():
    return os.environ.get("HESSE") or os.path.join(ROOT, "build", "hesse")


@pytest.fixture(scope="session")
def cli():
    """Runs the hesse CLI; returns its completed process (check=True)."""
    exe = hesse_binary()
    if not os.path.exists(exe):
        pytest.skip("no hesse binary at %s (set HESSE)" % exe)

    def run(*args):
        return subprocess.run([exe] + [str(a) for a in args], check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return run


@pytest.fixture(scope="session")
def mlp(cli, tmp_path_factory):
    """A small MLP on Fashion-MNIST trained for one epoch by `hesse train` (a model file with
    its preprocessing, as users have)."""
    path = tmp_path_factory.mktemp("model") / "mlp.safetensors"
    cli("train", "-q", "--arch", "mlp(784,16,10)", "--samples", 500, "--epochs", 1, "--lr", 0.1,
        "--no-test", "-o", path)
    return str(path)
