#!/bin/sh
# Xie et al., "On the power-law Hessian spectrums in deep learning": the top 1,000 Hessian
# eigenvalues of LeNet-5 on 5,000 Fashion-MNIST training samples follow a power law after SGD
# training (KS test passes, s close to 1) and not at random initialisation. Also a
# one-hidden-layer network, which the paper reports to fail the test.
. "$(dirname "$0")/common.sh"
K="${K:-1000}"
N="${N:-5000}"
trained=$(lenet5 1)
init=$(lenet5_init 1)
mlp1="$out/mlp1.safetensors"
[ -f "$mlp1" ] || "$hesse" train --arch 'flatten,linear(784,70),relu,linear(70,10)' --epochs 15 \
    --lr 0.05 --schedule step --step-epochs 10 --seed 1 -o "$mlp1"
for m in "$trained" "$init" "$mlp1"; do
    name=$(basename "$m" .safetensors)
    "$hesse" powerlaw --model "$m" --samples "$N" --top "$K" --tol 1e-6 \
        --checkpoint "$out/powerlaw-$name.ckpt" --checkpoint-every 120 \
        --svg "$out/powerlaw-$name.svg" -o "$out/powerlaw-$name.json"
done
