#!/bin/sh
# Cohen et al., "Gradient Descent on Neural Networks Typically Occurs at the Edge of Stability"
# (ICLR 2021), Figure 1: under full-batch gradient descent with step size lr the sharpness (the
# top Hessian eigenvalue) rises ("progressive sharpening") until it reaches 2/lr, then hovers
# just above it while the training loss keeps falling, non-monotonically. And "Adaptive Gradient
# Methods at the Edge of Stability" (Cohen et al. 2022): under Adam the top eigenvalue of the
# preconditioned Hessian P^-1 H rises to (2 + 2 beta1) / ((1 - beta1) lr) = 38/lr.
#
# A tanh MLP 784-200-200-10 and a small tanh CNN, MSE loss, on a class-balanced subset of N
# Fashion-MNIST training images, from hesse's seeded initialisation; full-batch GD at three step
# sizes each, and one Adam run on the MLP; the sharpness every K steps (CNN_K for the CNN),
# warm-started (hesse train --track). The MLP's run at lr 0.2 (2,000 steps, top-1 every 20) is
# issue 20's timed acceptance run. docs/reproduction.md section 8 has the numbers; about 40
# minutes on 2 shared cores in all (the 2,000-step run 13 of them). Writes
# eos-NAME.{json,csv,svg} and eos-mlp.svg, eos-cnn.svg, eos-adam.svg (all runs of a network in
# one plot), and prints, per run, the first measured step with lambda1 >= 0.9 x threshold and
# the range of lambda1 / threshold from there on.
#
# Sizes are variables so that a smoke test can run it small, e.g.
#   N=200 MLP_STEPS="6 6 6" CNN_STEPS="4 4 4" ADAM_STEPS=6 K=3 CNN_K=2 sh examples/reproduce/eos.sh
# PARTS picks what runs (default "mlp cnn adam"); a run whose JSON exists is not run again.
# TORCH=1 also runs the PyTorch reference (eos_torch.py: the same init, data, loss and step
# sizes, its own Lanczos on double-backward products) and compares the two, step by step.
. "$(dirname "$0")/common.sh"
d=$(cd "$(dirname "$0")" && pwd)
py="${PYTHON:-/usr/bin/python3}"
N="${N:-5000}"
K="${K:-20}"
CNN_K="${CNN_K:-25}"
PARTS="${PARTS:-mlp cnn adam}"
mlp='flatten,linear(784,200),tanh,linear(200,200),tanh,linear(200,10)'
cnn='avgpool2d(2),conv2d(1,8,5),tanh,maxpool2d(2),conv2d(8,16,3),tanh,flatten,linear(144,10)'
# step sizes (2/lr = 6, 8, 10 for the MLP) and the steps of each run, in the same order
MLP_LRS="${MLP_LRS:-0.3333333333333333 0.25 0.2}"
MLP_STEPS="${MLP_STEPS:-300 500 2000}"
CNN_LRS="${CNN_LRS:-0.6666666666666666 0.5 0.4}"
CNN_STEPS="${CNN_STEPS:-600 600 600}"
ADAM_LR="${ADAM_LR:-0.001}"
ADAM_STEPS="${ADAM_STEPS:-300}"
threads="${THREADS:+--threads $THREADS}"

# init NAME ARCH: the seeded initialisation, written once
init() {
    f="$out/eos-$1-init.safetensors"
    [ -f "$f" ] || "$hesse" train -q --arch "$2" --loss mse --epochs 0 --samples "$N" \
        --select balanced --seed 1 -o "$f"
    echo "$f"
}

# run NAME INIT OPTIMIZER LR STEPS EVERY [TRACK-EXTRA]: one tracked full-batch run (+ the
# reference)
run() {
    name=$1 f=$2 opt=$3 lr=$4 steps=$5 every=$6 extra=${7:-}
    batch=""
    [ "$opt" = adam ] && batch="--batch $N"
    # shellcheck disable=SC2086
    [ -f "$out/eos-$name.json" ] || "$hesse" train -q --init "$f" --samples "$N" --select balanced \
        --optimizer "$opt" $batch --lr "$lr" --epochs "$steps" --no-test $threads --track "every=$every,top=1$extra" \
        --track-csv "$out/eos-$name.csv" --track-svg "$out/eos-$name.svg" \
        --json "$out/eos-$name.json" -o "$out/eos-$name.safetensors"
    if [ "${TORCH:-0}" = 1 ]; then
        "$py" "$d/eos_torch.py" --init "$f" --samples "$N" --optimizer "$opt" --lr "$lr" \
            --steps "$steps" --every "$every" --json "$out/eos-$name-torch.json" >/dev/null
        "$py" "$d/eos_plot.py" compare "$out/eos-$name.json" "$out/eos-$name-torch.json"
    fi
}

# sweep NET ARCH "LRS" "STEPS" EVERY
sweep() {
    f=$(init "$1" "$2")
    set -- "$1" "$f" "$3" "$4" "$5"
    steps_left=$4
    files=""
    for lr in $3; do
        steps=${steps_left%% *}
        steps_left=${steps_left#* }
        run "$1-gd-lr$lr" "$2" gd "$lr" "$steps" "$5"
        files="$files $out/eos-$1-gd-lr$lr.json"
    done
    # shellcheck disable=SC2086
    "$py" "$d/eos_plot.py" svg "$out/eos-$1.svg" "$1, full-batch GD, $N samples" $files
}

for part in $PARTS; do
    case $part in
    mlp) sweep mlp "$mlp" "$MLP_LRS" "$MLP_STEPS" "$K" ;;
    cnn) sweep cnn "$cnn" "$CNN_LRS" "$CNN_STEPS" "$CNN_K" ;;
    adam)
        run "mlp-adam-lr$ADAM_LR" "$(init mlp "$mlp")" adam "$ADAM_LR" "$ADAM_STEPS" "$K" \
            ",preconditioned"
        "$py" "$d/eos_plot.py" svg "$out/eos-adam.svg" "mlp, full-batch Adam, $N samples" \
            "$out/eos-mlp-adam-lr$ADAM_LR.json"
        ;;
    esac
done
runs=""
for f in "$out"/eos-mlp-gd-lr*.json "$out"/eos-cnn-gd-lr*.json "$out"/eos-mlp-adam-lr*.json; do
    case $f in *-torch.json) ;; *) [ -f "$f" ] && runs="$runs $f" ;; esac
done
# shellcheck disable=SC2086
"$py" "$d/eos_plot.py" summary $runs
