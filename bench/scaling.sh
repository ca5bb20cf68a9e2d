#!/bin/sh
# Parallel efficiency of distributed products on this machine (loopback ranks): the top-20
# Hessian eigenvalues of LeNet-5 on N Fashion-MNIST training samples, by 1 rank x 1 thread and
# by P ranks x 1 thread (mpirun -np P), same seed, then the allreduce cost per size
# (bench/allreduce.c). Prints the wall times, products, efficiency = T1 / (P TP), and the
# largest relative difference between the two runs' eigenvalues.
#
#   bench/scaling.sh [--ranks P] [--samples N] [--top K] [--out DIR]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
hesse="${HESSE:-$here/build/hesse}"
python="${PYTHON:-/usr/bin/python3}"
ranks=2
samples=10000
top=20
out="$here/build/bench/scaling"
while [ $# -gt 0 ]; do
    case "$1" in
    --ranks) ranks="$2"; shift 2 ;;
    --samples) samples="$2"; shift 2 ;;
    --top) top="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scaling.sh: unknown option '$1'" >&2; exit 1 ;;
    esac
done
command -v mpirun >/dev/null || { echo "scaling.sh: mpirun not found (scripts/install-deps.sh --test)" >&2; exit 1; }
mkdir -p "$out"
lenet='conv2d(1,6,5,padding=2),relu,maxpool2d(2),conv2d(6,16,5),relu,maxpool2d(2),flatten,linear(400,120),relu,linear(120,84),relu,linear(84,10)'
[ -f "$out/lenet5.safetensors" ] ||
    "$hesse" train -q --arch "$lenet" --epochs 3 --lr 0.05 --seed 1 -o "$out/lenet5.safetensors"
root=""
[ "$(id -u)" -eq 0 ] && root="--allow-run-as-root"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
run() { # label, launcher...
    label=$1
    shift
    start=$(date +%s.%N)
    "$@" "$hesse" spectrum -q --model "$out/lenet5.safetensors" --samples "$samples" --top "$top" \
        --threads 1 --tol 1e-10 -o "$out/$label.json"
    end=$(date +%s.%N)
    echo "$start $end" > "$out/$label.time"
}
run serial env
run "mpi$ranks" mpirun $root --oversubscribe --bind-to none -np "$ranks"
"$python" - "$out" "$ranks" <<'PY'
import json, sys
out, P = sys.argv[1], int(sys.argv[2])
def load(label):
    d = json.load(open(f"{out}/{label}.json"))
    t0, t1 = map(float, open(f"{out}/{label}.time").read().split())
    return d, t1 - t0
s, ts = load("serial")
p, tp = load(f"mpi{P}")
diff = max(abs(a - b) / abs(a) for a, b in zip(s["top"], p["top"]))
print(json.dumps({
    "n_params": s["n_params"], "samples": s["data"]["samples"], "top": len(s["top"]),
    "serial": {"wall_s": round(ts, 2), "products": s["products"], "solver_s": s["seconds"]},
    f"ranks_{P}": {"wall_s": round(tp, 2), "products": p["products"], "solver_s": p["seconds"]},
    "speedup": round(ts / tp, 3), "efficiency": round(ts / (P * tp), 3),
    "seconds_per_product": {"serial": round(ts / s["products"], 4), f"ranks_{P}": round(tp / p["products"], 4)},
    "max_rel_diff_top": diff}, indent=1))
PY
# The reduction alone: one allreduce of n doubles per product (block k: k n).
if command -v mpicc >/dev/null && [ -f "$here/build/libhesse.a" ]; then
    mpicc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I"$here/include" "$here/bench/allreduce.c" \
        "$here/build/libhesse.a" $(pkg-config --libs openblas lapacke libcjson) -lz -lm -lpthread \
        -o "$out/allreduce"
    mpirun $root --oversubscribe --bind-to none -np "$ranks" "$out/allreduce" 20
fi
