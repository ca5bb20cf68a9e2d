#!/bin/sh
# Papyan, "Measurements of three-level hierarchical structure in the outliers in the spectrum
# of deepnet Hessians" (ICML 2019): C outliers tied to the class means, C(C-1) smaller ones to
# the cross-class means, the bulk from the within-class variation; the averaging subspace (top
# C of G_means) against the top-C eigenvectors of H and G; the means' two-way structure; the
# densities of H, G, E, G_within (SLQ) and G_means, G_class, G_cross (exact) on one grid.
. "$(dirname "$0")/common.sh"
N="${N:-5000}"
m=$(lenet5 1)
"$hesse" classes --model "$m" --samples "$N" --select balanced --top 30 --tol 1e-8 --density \
    --svg "$out/classes.svg" -o "$out/classes.json"
