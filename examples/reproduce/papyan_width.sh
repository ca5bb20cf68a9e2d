#!/bin/sh
# Papyan 2019's hierarchy against width on Fashion-MNIST: MLPs 784-w-w-10 (WIDTHS, default
# 64 256 1024 2048) and LeNet-5 with K times the channels (LENET, default 1 4 8), each trained
# by SGD on the N = 1000 class-balanced samples it is measured on until it fits them (>= 99.5 %
# accuracy there: 100 epochs, lr 0.05 cut tenfold after 70, momentum 0.9, batch 64), then
# hesse classes on those samples: outlier count and gap, tr G_means / tr G, averaging-subspace
# overlap. papyan_width_plot.py draws them against the parameter count.
. "$(dirname "$0")/common.sh"
N="${N:-1000}"
EPOCHS="${EPOCHS:-100}"
one() { # tag arch
    tag=$1 arch=$2
    m="$out/width-$tag.safetensors"
    [ -f "$m" ] || "$hesse" train -q --arch "$arch" --samples "$N" --select balanced \
        --epochs "$EPOCHS" --lr 0.05 --schedule step --step-epochs $((EPOCHS * 7 / 10)) \
        --gamma 0.1 --momentum 0.9 --batch 64 --seed 1 --test-samples 2000 \
        --json "$out/width-$tag-train.json" -o "$m"
    "$hesse" eval -q --model "$m" --samples "$N" --select balanced -o "$out/width-$tag-eval.json"
    "$hesse" classes -q --model "$m" --samples "$N" --select balanced --top 20 --tol 1e-8 \
        --no-residual -o "$out/width-$tag-classes.json"
}
for w in ${WIDTHS:-64 256 1024 2048}; do one "mlp$w" "mlp(784,$w,$w,10)"; done
for k in ${LENET:-1 4 8}; do one "lenet5x$k" "lenet5(width=$k)"; done
"${PYTHON:-python3}" "$(dirname "$0")/papyan_width_plot.py" "$out" "$out/width.svg"
