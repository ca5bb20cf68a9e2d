#!/bin/sh
# The demo behind `make demo`: trains LeNet-5 on Fashion-MNIST, then computes the exact full
# Hessian spectrum of a small trained CNN. Writes everything under demo/.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
hesse="${HESSE:-$here/build/hesse}"
out="${DEMO_DIR:-$here/demo}"
mkdir -p "$out"
start=$(date +%s)

echo "== hesse info"
"$hesse" info
echo

lenet='conv2d(1,6,5,padding=2),relu,maxpool2d(2),conv2d(6,16,5),relu,maxpool2d(2),flatten,linear(400,120),relu,linear(120,84),relu,linear(84,10)'
echo "== Training LeNet-5 on Fashion-MNIST (60,000 images, SGD with momentum, 3 epochs)"
"$hesse" train --arch "$lenet" --epochs 3 --lr 0.05 --momentum 0.9 --batch 64 --seed 1 \
    --json "$out/lenet5_train.json" -o "$out/lenet5.safetensors"
"$hesse" eval --model "$out/lenet5.safetensors" --split test -o "$out/lenet5_test.json"
echo

small='conv2d(1,4,5,stride=2),relu,maxpool2d(2),flatten,linear(144,10)'
echo "== Training a small CNN (1,554 parameters) for its exact Hessian"
"$hesse" train --arch "$small" --epochs 3 --lr 0.05 --seed 1 -o "$out/small.safetensors"
echo
echo "== Exact Hessian spectrum of the small CNN on 1,000 training samples"
"$hesse" dense --model "$out/small.safetensors" --samples 1000 -o "$out/small_hessian.json" \
    --csv "$out/small_hessian_eigenvalues.csv"
echo
echo "== ... and of its Gauss-Newton matrix (positive semidefinite)"
"$hesse" dense --model "$out/small.safetensors" --samples 1000 --operator ggn \
    -o "$out/small_ggn.json"
echo
echo "demo: finished in $(($(date +%s) - start)) s; results in $out/"
