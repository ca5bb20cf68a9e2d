#!/bin/sh
# Papyan, "The full spectrum of deepnet Hessians at scale" (2018): outliers and the bulk edge of
# LeNet-5's Hessian on nested class-balanced subsets from 100 to 12,800 samples.
. "$(dirname "$0")/common.sh"
m=$(lenet5 1)
"$hesse" samples --model "$m" --min 100 --max "${MAX:-12800}" --factor 2 --top 20 --probes 10 \
    --steps 80 --tol 1e-8 --svg "$out/samples.svg" -o "$out/samples.json"
