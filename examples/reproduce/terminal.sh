#!/bin/sh
# Papyan 2019 across training regimes: the class-mean analysis of section 2 on LeNet-5 after
# one epoch, and on two nets trained to (nearly) zero training error on the very samples the
# Hessian is measured on: LeNet-5 on 5,000 class-balanced samples and a 784-512-512-10 MLP on
# 2,000, 150 epochs of SGD with weight decay 5e-4 and the learning rate cut tenfold every 50.
. "$(dirname "$0")/common.sh"
mlp='flatten,linear(784,512),relu,linear(512,512),relu,linear(512,10)'
tpt="--select balanced --epochs 150 --batch 128 --lr 0.05 --wd 5e-4 --schedule step --step-epochs 50 --gamma 0.1 --seed 1"

f="$out/lenet5-e1.safetensors"
[ -f "$f" ] || "$hesse" train -q --arch "$lenet" --epochs 1 --lr 0.05 --momentum 0.9 --batch 64 \
    --no-test --seed 1 -o "$f"
"$hesse" classes --model "$f" --samples 2000 --select balanced --top 20 --tol 1e-8 \
    -o "$out/classes-e1.json"

f="$out/lenet5-tpt.safetensors"
# shellcheck disable=SC2086
[ -f "$f" ] || "$hesse" train --arch "$lenet" --samples 5000 $tpt --test-samples 2000 \
    --json "$out/lenet5-tpt-train.json" -o "$f"
"$hesse" classes --model "$f" --samples 5000 --select balanced --top 20 --tol 1e-8 \
    --svg "$out/classes-tpt.svg" -o "$out/classes-tpt.json"

f="$out/mlp-tpt.safetensors"
# shellcheck disable=SC2086
[ -f "$f" ] || "$hesse" train -q --arch "$mlp" --samples 2000 $tpt --no-test -o "$f"
"$hesse" classes --model "$f" --samples 2000 --select balanced --top 20 --tol 1e-8 \
    -o "$out/classes-mlp-tpt.json"
