#!/bin/sh
# The Python package as a user installs it, away from the source tree: `make install` and
# `make install-python` of the built tree into a temporary root (DESTDIR, PREFIX=/usr/local),
# then a clean environment (env -i, no HESSE_LIBRARY, outside the source tree) imports hesse
# from the installed site folder, which must find the installed libhesse.so, run Lanczos on a
# callable and on a model's Hessian, and find the installed exporter for Model.from_torch
# (when torch is there); `make uninstall-python` must remove the package. Then `pip install
# --no-index --no-build-isolation ./python` into a virtual environment (no network).
set -u
: "${HESSE_BUILD:?HESSE_BUILD must name the build tree}"
: "${HESSE_SOURCE:?HESSE_SOURCE must name the source tree}"
: "${HESSE:?HESSE must name the hesse binary}"
PY=${PYTHON:-/usr/bin/python3}
"$PY" -c "import numpy" 2>/dev/null || { echo "SKIP: $PY has no numpy"; exit 77; }
STAGE_NAME="python installed"
. "$HESSE_SOURCE/tests/install/stage.inc"
make -s -C "$HESSE_SOURCE" --no-print-directory install-built install-python BUILD="$HESSE_BUILD" \
    DESTDIR="$R" PREFIX=/usr/local PYTHON="$PY" >"$T/install.log" 2>&1 || { cat "$T/install.log" >&2; fail "make install install-python failed"; }
site=$(echo "$R"/usr/local/lib/python3*/dist-packages)
[ -f "$site/hesse/__init__.py" ] || fail "no package under $site"
[ -f "$site/hesse/_tools/hesse_export.py" ] || fail "the exporter was not installed beside the package"
"$HESSE" train -q --arch 'mlp(784,8,10)' --samples 200 --epochs 1 --no-test -o "$T/m.safetensors" || fail "hesse train failed"

cat >"$T/use.py" <<'PYEOF'
import os, sys
import hesse
import numpy as np
root = sys.argv[1]
assert hesse.library_path.startswith(root), hesse.library_path
assert hesse.__file__.startswith(root), hesse.__file__
A = np.diag(np.arange(1.0, 51.0))
r = hesse.eigs(lambda X: A @ X, n=50, top=2, bottom=1)
assert np.allclose(r.values, [50, 49, 1], atol=1e-8), r.values
H = hesse.Hessian(hesse.Model.load(sys.argv[2]), hesse.Data.fashion_mnist(samples=50))
top = hesse.eigs(H, top=2)
assert top.converged == 2 and top.values[0] > 0
try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    m = hesse.Model.from_torch(torch.nn.Sequential(torch.nn.Linear(3, 2)), (3,))
    assert m.num_params == 8
print("ok", hesse.library_path)
PYEOF
cd "$T" || exit 1
env -i PATH=/usr/bin:/bin HOME="$T" PYTHONPATH="$site" "$PY" "$T/use.py" "$R" "$T/m.safetensors" ||
    fail "the installed package did not work in a clean environment"
make -s -C "$HESSE_SOURCE" --no-print-directory uninstall-python DESTDIR="$R" PREFIX=/usr/local PYTHON="$PY" ||
    fail "make uninstall-python failed"
[ -e "$site/hesse" ] && fail "make uninstall-python left $site/hesse"

# pip, offline, into a virtual environment that sees Debian's NumPy.
if "$PY" -m venv --system-site-packages "$T/venv" >/dev/null 2>&1 && [ -x "$T/venv/bin/pip" ]; then
    cp -r "$HESSE_SOURCE/python" "$T/src" # pip builds in place: keep the source tree clean
    rm -rf "$T/src/build" "$T/src/hesse/_config.py"
    "$T/venv/bin/pip" install -q --no-index --no-build-isolation "$T/src" >"$T/pip.log" 2>&1 ||
        { cat "$T/pip.log" >&2; fail "pip install --no-index --no-build-isolation ./python failed"; }
    env -i PATH=/usr/bin:/bin HOME="$T" HESSE_LIBRARY="$R/usr/local/lib/libhesse.so.0" \
        "$T/venv/bin/python" -c "import hesse, numpy as np; r = hesse.eigs(np.diag(np.arange(1.0, 11.0)), top=1); assert abs(r.values[0] - 10) < 1e-10; assert 'venv' in hesse.__file__" ||
        fail "the pip-installed package did not work"
else
    echo "python installed: no venv/pip for $PY; the pip part skipped"
fi
echo "python installed: ok"
