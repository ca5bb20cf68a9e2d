#!/bin/sh
# ResNet-18-CIFAR, hesse vs PyTorch in one run: a model made in PyTorch (tools/models.py,
# seeded, evaluation mode, batch-norm statistics from random inputs) and exported with
# tools/hesse_export.py loads into hesse by preset name; `hesse spectrum --top K` runs to
# its residual tolerance on N CIFAR-format samples, and PyTorch's double-backward
# Hessian-vector product is timed on the same samples and model, with the same BLAS core and
# thread count.
#
#   bench/resnet18.sh [--samples N] [--top K] [--tol T] [--threads T] [--data CIFARDIR]
#                     [--split train|test] [--precision f64|f32] [--torch-samples S]
#                     [--chunk C] [--block K] [--repeat R] [--verify] [--memory GIB]
#                     [--checkpoint FILE] [--out DIR]
#
# Defaults: 1000 samples of random bytes in CIFAR-10 binary format (or the first N of a real
# CIFAR-10 directory given with --data), top 5, hesse's default tolerance, all cores, f64,
# PyTorch chunks of 50 samples, DIR build/bench/resnet18. Prints and writes
# DIR/resnet18.json: hesse's products/s, PyTorch's HVPs/s and their ratio, the eigenvalues,
# residuals and products. --torch-samples S times PyTorch on the first S samples only and
# scales by N/S (each sample costs the same); --block K also times K PyTorch HVPs sharing one
# graph (as hesse's block products do); --verify has PyTorch recompute hesse's eigenpairs on
# all N samples (Rayleigh quotients, residuals: about K + 1 more PyTorch HVPs). --memory
# caps hesse's Lanczos basis (89 MB a vector here; by default it sizes it from the memory
# free at start). --checkpoint FILE saves hesse's Lanczos state every 5 minutes and on Ctrl-C,
# and a rerun with the same options resumes from it (the model and data made by the first run
# are reused): the 1,000-sample run can be spread over several sittings.
# Long: a float64 ResNet-18 product over 1,000 samples takes minutes (hesse) to most of an
# hour (PyTorch 1.13 on 2 cores); try --samples 20 first.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
hesse="${HESSE:-$here/build/hesse}"
python="${PYTHON:-/usr/bin/python3}"
threads=$(nproc)
samples=1000
top=5
tol=""
data=""
split=test
chunk=50
block=0
repeat=1
verify=0
precision=f64
torch_samples=0
memory=""
checkpoint=""
out="$here/build/bench/resnet18"
while [ $# -gt 0 ]; do
    case "$1" in
    --samples) samples="$2"; shift 2 ;;
    --top) top="$2"; shift 2 ;;
    --tol) tol="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --data) data="$2"; split=train; shift 2 ;;
    --split) split="$2"; shift 2 ;;
    --chunk) chunk="$2"; shift 2 ;;
    --block) block="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --verify) verify=1; shift ;;
    --precision) precision="$2"; shift 2 ;;
    --torch-samples) torch_samples="$2"; shift 2 ;;
    --memory) memory="$2"; shift 2 ;;
    --checkpoint) checkpoint="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "resnet18.sh: unknown option '$1'" >&2; exit 1 ;;
    esac
done
[ -x "$hesse" ] || { echo "resnet18.sh: $hesse not built (run make)" >&2; exit 1; }
"$python" -c "import torch" 2>/dev/null || {
    echo "resnet18.sh: PyTorch missing: run scripts/install-deps.sh --bench" >&2
    exit 1
}
mkdir -p "$out"

core=$("$hesse" info --json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["blas"]["core"])')
export OPENBLAS_CORETYPE="$core" OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads"
echo "resnet18.sh: BLAS core $core, $threads threads, $samples samples, top $top, $precision" >&2

if [ -n "$checkpoint" ] && [ -f "$checkpoint" ] && [ -f "$out/resnet18.safetensors" ] &&
    [ -f "$out/prepare.json" ]; then
    echo "resnet18.sh: resuming from $checkpoint with the model and data of $out" >&2
    [ -n "$data" ] || data="$out/cifar"
elif [ -n "$data" ]; then
    "$python" "$here/bench/torch_resnet.py" prepare --out "$out" --samples "$samples" --data "$data" >"$out/prepare.json"
else
    "$python" "$here/bench/torch_resnet.py" prepare --out "$out" --samples "$samples" >"$out/prepare.json"
    data="$out/cifar"
fi

mean=0.4914,0.4822,0.4465
std=0.2470,0.2435,0.2616
vec_opt=""
[ "$verify" -eq 1 ] && vec_opt="--vectors $out/vectors.safetensors"
tol_opt=""
[ -n "$tol" ] && tol_opt="--tol $tol"
[ -n "$memory" ] && tol_opt="$tol_opt --memory $memory"
if [ -n "$checkpoint" ]; then
    tol_opt="$tol_opt --checkpoint $checkpoint --checkpoint-every 300"
    [ -f "$checkpoint" ] && tol_opt="$tol_opt --resume $checkpoint"
fi
# shellcheck disable=SC2086
"$hesse" spectrum --model "$out/resnet18.safetensors" --arch resnet18-cifar --data "$data" \
    --split "$split" --samples "$samples" --mean "$mean" --std "$std" --top "$top" $tol_opt \
    --precision "$precision" --threads "$threads" $vec_opt -o "$out/hesse.json"

check_opt=""
[ "$verify" -eq 1 ] && check_opt="--vectors $out/vectors.safetensors"
# shellcheck disable=SC2086
"$python" "$here/bench/torch_resnet.py" time --out "$out" --data "$data" --split "$split" \
    --samples "$samples" --threads "$threads" --repeat "$repeat" --chunk "$chunk" \
    --block "$block" --torch-samples "$torch_samples" --precision "$precision" $check_opt \
    -o "$out/torch.json"

"$python" "$here/bench/torch_resnet.py" summary --out "$out" --core "$core"
