#!/bin/sh
# Wu et al., "Dissecting Hessian": each layer's Hessian against E[M] (x) E[xx^T], rank-one top
# eigenvectors, about C - 1 outliers per layer, and top eigenspaces shared by networks trained
# from different seeds.
. "$(dirname "$0")/common.sh"
N="${N:-5000}"
a=$(lenet5 1)
b=$(lenet5 2)
c=$(lenet5 3)
"$hesse" kronecker --model "$a" --models "$b" "$c" --samples "$N" --top 20 --tol 1e-8 \
    -o "$out/kronecker.json"
