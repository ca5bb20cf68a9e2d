#!/bin/sh
# Papyan 2019's hierarchy where it is known to exist: ten Gaussian classes in R^784 around the
# vertices of a regular simplex (class means 10 apart, within-class standard deviation 0.3 per
# coordinate), a 784-256-256-10 ReLU MLP trained by hesse train to 100 % accuracy on the 1,000
# samples measured, then hesse classes on exactly those samples. Expected: C = 10 outliers of
# H separated from the rest by a gap >= 2, and the averaging subspace (top C of G_means)
# overlapping the top-C eigenspace of H at >= 0.9.
#
# CONTRASTS=1 (the default) also runs the same measurement where the structure is weaker:
# a within-class spread of 1.0 (the within-class variation then holds more of tr G) and the
# same net after 3 epochs only (before the fit); W sets their width (default 64, for time).
. "$(dirname "$0")/common.sh"
W="${W:-64}"
run() { # tag data width epochs
    tag=$1 data=$2 w=$3 epochs=$4
    m="$out/gaussmix-$tag.safetensors"
    [ -f "$m" ] || "$hesse" train -q --arch "mlp(784,$w,$w,10)" --data "$data" --epochs "$epochs" \
        --lr 0.01 --momentum 0.9 --batch 64 --seed 1 --json "$out/gaussmix-$tag-train.json" -o "$m"
    "$hesse" eval -q --model "$m" --data "$data" --samples 1000 -o "$out/gaussmix-$tag-eval.json"
    "$hesse" classes --model "$m" --data "$data" --samples 1000 --top 20 --tol 1e-8 \
        --svg "$out/gaussmix-$tag-classes.svg" -o "$out/gaussmix-$tag-classes.json"
}
spec='gaussmix:classes=10,dim=784,separation=10,seed=1,samples=1000,test=1000'
run main "$spec,noise=0.3" 256 50
if [ "${CONTRASTS:-1}" = 1 ]; then
    run w$W "$spec,noise=0.3" "$W" 50
    run w$W-noise1 "$spec,noise=1" "$W" 50
    run w$W-3epochs "$spec,noise=0.3" "$W" 3
fi
