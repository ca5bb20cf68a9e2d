#!/bin/sh
# Paper scale: the top 1,000 Hessian eigenvalues of LeNet-5 on 5,000 Fashion-MNIST training
# samples (Xie et al.'s power-law measurement) with single-precision products (the solver in
# double), and the memory bound basis x n x 8 bytes + 1 GiB.
#
#   bench/paper_scale.sh [--precision f32|f64] [--top K] [--samples N] [--out DIR]
#
# Trains LeNet-5 (3 epochs of SGD) when DIR has none, runs hesse spectrum, and prints the wall
# time, products, restarts, the time split, peak memory against the bound, and the residuals.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
hesse="${HESSE:-$here/build/hesse}"
python="${PYTHON:-/usr/bin/python3}"
precision=f32
top=1000
samples=5000
out="$here/build/bench/paper"
while [ $# -gt 0 ]; do
    case "$1" in
    --precision) precision="$2"; shift 2 ;;
    --top) top="$2"; shift 2 ;;
    --samples) samples="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "paper_scale.sh: unknown option '$1'" >&2; exit 1 ;;
    esac
done
mkdir -p "$out"
lenet='conv2d(1,6,5,padding=2),relu,maxpool2d(2),conv2d(6,16,5),relu,maxpool2d(2),flatten,linear(400,120),relu,linear(120,84),relu,linear(84,10)'
[ -f "$out/lenet5.safetensors" ] ||
    "$hesse" train -q --arch "$lenet" --epochs 3 --lr 0.05 --seed 1 -o "$out/lenet5.safetensors"
# single precision products carry ~1e-7 relative rounding: ask for 1e-6 of ||H||
tol=1e-8
[ "$precision" = f32 ] && tol=1e-6
start=$(date +%s)
"$hesse" spectrum -q --model "$out/lenet5.safetensors" --samples "$samples" --top "$top" \
    --precision "$precision" --tol "$tol" --no-verify -o "$out/top$top-$precision.json"
end=$(date +%s)
"$python" - "$out/top$top-$precision.json" "$((end - start))" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
wall = int(sys.argv[2])
n, basis = d["n_params"], d["solver"]["basis"]
bound = basis * n * 8 + (1 << 30)
res = [r / d["anorm"] for r in d["residuals_top"]]
print(f"top {len(d['top'])} of {n} parameters, {d['data']['samples']} samples, {d['precision']} products")
print(f"wall {wall} s ({wall / 60:.1f} min); solver seconds {d['seconds']:.1f}: "
      + ", ".join(f"{k} {v:.1f}" for k, v in d["seconds_split"].items()))
print(f"products {d['products']}, restarts {d['solver']['restarts']}, basis {basis}, "
      f"converged {d['converged']}/{len(d['top'])}")
print(f"peak memory {d['peak_rss_bytes'] / 2**30:.2f} GiB; bound basis*n*8 + 1 GiB = {bound / 2**30:.2f} GiB"
      f" -> {'within' if d['peak_rss_bytes'] <= bound else 'OVER'}")
print(f"residual / ||H||: max {max(res):.2e}, median {sorted(res)[len(res) // 2]:.2e}; "
      f"lambda_1 {d['top'][0]:.6g}, lambda_{len(d['top'])} {d['top'][-1]:.6g}")
PY
