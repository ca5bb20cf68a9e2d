#!/bin/sh
# The demo behind `make demo`: trains LeNet-5 on Fashion-MNIST, runs the four analyses at demo
# scale (power law, class-mean hierarchy, sample-size dynamics, Kronecker decoupling), the exact
# spectrum of a small CNN, and joins everything into demo/report.html.
#
# DEMO_DIR (default demo/) and DEMO_SAMPLES (default 500) change where and how much.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
hesse="${HESSE:-$here/build/hesse}"
out="${DEMO_DIR:-$here/demo}"
n="${DEMO_SAMPLES:-500}"
mkdir -p "$out"
start=$(date +%s)
step() {
    echo
    echo "== [$(($(date +%s) - start)) s] $*"
}

step "hesse info"
"$hesse" info

lenet='conv2d(1,6,5,padding=2),relu,maxpool2d(2),conv2d(6,16,5),relu,maxpool2d(2),flatten,linear(400,120),relu,linear(120,84),relu,linear(84,10)'
step "Training LeNet-5 on Fashion-MNIST (60,000 images, SGD with momentum, 3 epochs)"
"$hesse" train --arch "$lenet" --epochs 3 --lr 0.05 --momentum 0.9 --batch 64 --seed 1 \
    --json "$out/train.json" -o "$out/lenet5.safetensors"
"$hesse" eval --model "$out/lenet5.safetensors" --split test -o "$out/eval.json"
"$hesse" train -q --arch "$lenet" --epochs 0 --seed 1 -o "$out/lenet5-init.safetensors"

step "Power law (Xie et al.): top 100 Hessian eigenvalues of the trained and the untrained LeNet-5"
"$hesse" powerlaw --model "$out/lenet5.safetensors" --samples "$n" --top 100 --tol 1e-6 \
    --svg "$out/powerlaw.svg" -o "$out/powerlaw.json"
"$hesse" powerlaw --model "$out/lenet5-init.safetensors" --samples "$n" --top 100 --tol 1e-6 \
    --svg "$out/powerlaw-init.svg" -o "$out/powerlaw-init.json"

step "Class-mean hierarchy of the outliers (Papyan 2019), $n class-balanced samples"
"$hesse" classes --model "$out/lenet5.safetensors" --samples "$n" --top 15 --probes 30 --tol 1e-6 \
    --svg "$out/classes.svg" -o "$out/classes.json"

step "Outliers and bulk against the number of samples (Papyan 2018)"
"$hesse" samples --model "$out/lenet5.safetensors" --sizes 100,200,400,800 --top 15 --probes 5 \
    --steps 40 --tol 1e-6 --svg "$out/samples.svg" -o "$out/samples.json"

step "Kronecker decoupling of the layer Hessians (Wu et al.)"
"$hesse" kronecker --model "$out/lenet5.safetensors" --samples "$n" --top 10 --tol 1e-6 \
    -o "$out/kronecker.json"

small='conv2d(1,4,5,stride=2),relu,maxpool2d(2),flatten,linear(144,10)'
step "The exact spectrum of a small CNN (1,554 parameters) on 1,000 samples"
"$hesse" train -q --arch "$small" --epochs 3 --lr 0.05 --seed 1 -o "$out/small.safetensors"
"$hesse" dense --model "$out/small.safetensors" --samples 1000 -o "$out/small-dense.json" \
    --csv "$out/small-dense-eigenvalues.csv"

step "Report"
"$hesse" report --title "hesse demo: LeNet-5 on Fashion-MNIST" -o "$out/report.html" \
    "$out/train.json" "$out/eval.json" "$out/powerlaw.json" "$out/powerlaw-init.json" \
    "$out/classes.json" "$out/samples.json" "$out/kronecker.json" "$out/small-dense.json"
echo
echo "demo: finished in $(($(date +%s) - start)) s; open $out/report.html"
