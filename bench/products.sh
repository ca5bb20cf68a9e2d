#!/bin/sh
# Products needed for the top 20 Hessian eigenvalues: hesse's thick-restart Lanczos at
# tol 1e-8 against power iteration with deflation in PyHessian's parity mode (at most 100
# iterations per eigenvalue, relative change below 1e-3), on the same networks and data.
#
#   bench/products.sh [--samples N] [--top K] [--out DIR]
#
# Trains (or reuses, in DIR) LeNet-5 and an MLP on Fashion-MNIST, plus LeNet-5 at its
# random initialisation, and prints for each: power products, Lanczos products with the
# default safeguards (multiplicity check and explicit residuals, each counted), without the
# multiplicity check, and with Lanczos-relation residuals instead of the final block product;
# the ratios to power; and the largest relative residual ||Hv - lambda v|| / ||H|| of each.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
hesse="${HESSE:-$here/build/hesse}"
python="${PYTHON:-/usr/bin/python3}"
samples=1000
top=20
out="$here/build/bench/products"
while [ $# -gt 0 ]; do
    case "$1" in
    --samples) samples="$2"; shift 2 ;;
    --top) top="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "products.sh: unknown option '$1'" >&2; exit 1 ;;
    esac
done
mkdir -p "$out"
lenet='conv2d(1,6,5,padding=2),relu,maxpool2d(2),conv2d(6,16,5),relu,maxpool2d(2),flatten,linear(400,120),relu,linear(120,84),relu,linear(84,10)'
mlp='flatten,linear(784,100),relu,linear(100,100),relu,linear(100,10)'
[ -f "$out/lenet5.safetensors" ] || "$hesse" train -q --arch "$lenet" --epochs 3 --lr 0.05 --seed 1 -o "$out/lenet5.safetensors"
[ -f "$out/lenet5-init.safetensors" ] || "$hesse" train -q --arch "$lenet" --epochs 0 --seed 1 -o "$out/lenet5-init.safetensors"
[ -f "$out/mlp.safetensors" ] || "$hesse" train -q --arch "$mlp" --epochs 3 --lr 0.05 --seed 1 -o "$out/mlp.safetensors"

for net in lenet5 lenet5-init mlp; do
    m="$out/$net.safetensors"
    common="--model $m --samples $samples --top $top -q"
    "$hesse" spectrum $common --method power -o "$out/$net-power.json"
    "$hesse" spectrum $common --tol 1e-8 -o "$out/$net-lanczos.json"
    "$hesse" spectrum $common --tol 1e-8 --no-verify -o "$out/$net-lanczos-noverify.json"
    "$hesse" spectrum $common --tol 1e-8 --no-verify --residuals relation -o "$out/$net-lanczos-relation.json"
done

"$python" - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
def load(name):
    return json.load(open(os.path.join(out, name + ".json")))
print(f"{'network':12s} {'n':>7s} | {'power':>6s} | {'lanczos':>7s} {'ratio':>5s} | {'no-verify':>9s} {'ratio':>5s} | "
      f"{'relation':>8s} {'ratio':>5s} | {'power res':>9s} {'lanczos res':>11s}")
for net in ["lenet5", "lenet5-init", "mlp"]:
    p = load(net + "-power")
    a, b, c = load(net + "-lanczos"), load(net + "-lanczos-noverify"), load(net + "-lanczos-relation")
    pp = p["products"]
    rel = lambda d: max(d["residuals_top"]) / d["anorm"]
    print(f"{net:12s} {p['n_params']:7d} | {pp:6d} | {a['products']:7d} {a['products']/pp:5.2f} | "
          f"{b['products']:9d} {b['products']/pp:5.2f} | {c['products']:8d} {c['products']/pp:5.2f} | "
          f"{rel(p):9.1e} {rel(a):11.1e}")
PY
