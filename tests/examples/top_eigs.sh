#!/bin/sh
# examples/c/top_eigs.c, built against the library alone, gives the top 5 Hessian eigenvalues
# that `hesse spectrum --top 5` gives on the same model and samples (the same solver settings:
# equal to the last digit), each with a residual below the tolerance.
set -u
: "${EXAMPLE:?EXAMPLE must name the top_eigs binary}"
: "${HESSE:?HESSE must name the hesse binary}"
[ -d "${HESSE_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}" ] || {
    echo "top_eigs: Fashion-MNIST not installed; skipped" >&2
    exit 77
}
T=$(mktemp -d "${TMPDIR:-/tmp}/hesse-example.XXXXXX")
trap 'rm -rf "$T"' EXIT
"$HESSE" train -q --arch 'avgpool2d(4),flatten,linear(49,8),tanh,linear(8,10)' --samples 1000 \
    --epochs 1 --lr 0.1 --no-test -o "$T/m.safetensors" || exit 1
"$EXAMPLE" "$T/m.safetensors" fashion-mnist 300 >"$T/example.txt" || exit 1
"$HESSE" spectrum -q --model "$T/m.safetensors" --samples 300 --top 5 -o "$T/spectrum.json" || exit 1
/usr/bin/python3 - "$T/example.txt" "$T/spectrum.json" <<'PY'
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
pairs = [re.match(r"lambda_(\d) = (\S+)  residual (\S+)$", l) for l in lines[:5]]
if not all(pairs) or not lines[5].startswith("products: "):
    sys.exit("top_eigs: unexpected output:\n" + "\n".join(lines))
doc = json.load(open(sys.argv[2]))
bad = 0
for m, want in zip(pairs, doc["top"]):
    got, res = float(m.group(2)), float(m.group(3))
    if got != want:
        print(f"lambda_{m.group(1)}: example {got!r}, hesse spectrum {want!r}"); bad += 1
    if not res <= 1e-8 * doc["anorm"]:
        print(f"lambda_{m.group(1)}: residual {res} above 1e-8 ||H|| = {1e-8 * doc['anorm']}"); bad += 1
print(f"top_eigs: {5 - bad} of 5 eigenvalues as hesse spectrum gives them")
sys.exit(1 if bad else 0)
PY
