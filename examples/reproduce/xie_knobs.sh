#!/bin/sh
# Xie et al.'s knobs of the Hessian power law: the top-K eigenvalues of LeNet-5 trained by SGD,
# against the same net at initialisation, trained on 40 % noisy labels, trained with one full
# batch, trained at a ten times smaller (0.005) and a three times larger (0.15) learning rate,
# a one-hidden-layer MLP and a wide LeNet-5 (width=K channels), each measured with hesse
# powerlaw on exactly the samples it was trained on (with the noisy labels where they were
# noisy: --label-noise and --seed are repeated, which reproduces the same corruption).
#
# Scale (a shared 2-core machine): N = 1000 Fashion-MNIST training samples (the first), 100
# epochs of SGD (lr 0.05, momentum 0.9, batch 64; the full-batch run: batch N, the same epochs),
# top K = 200 at tol 1e-6. N, K, EPOCHS, WIDE (default 4) override these; RUNS picks runs by
# name (default: trained init noise40 fullbatch lrsmall lrlarge onehidden wide). Models and
# fits already in the output folder are reused (delete them to rerun).
. "$(dirname "$0")/common.sh"
N="${N:-1000}"
K="${K:-200}"
EPOCHS="${EPOCHS:-100}"
WIDE="${WIDE:-4}"
RUNS="${RUNS:-trained init noise40 fullbatch lrsmall lrlarge onehidden wide}"
fit() { # tag arch train-options... : train (once), then the power law on the same samples
    tag=$1 arch=$2
    shift 2
    case " $RUNS " in *" $tag "*) ;; *) return 0 ;; esac
    m="$out/xie-$tag.safetensors"
    lr="--lr 0.05" # unless the run sets its own
    case "$*" in *--lr*) lr="" ;; esac
    [ -f "$m" ] || "$hesse" train -q --arch "$arch" --samples "$N" $lr --momentum 0.9 \
        --seed 1 --test-samples 2000 --json "$out/xie-$tag-train.json" "$@" -o "$m"
    noise=""
    case "$*" in *--label-noise*) noise="--label-noise 0.4" ;; esac
    "$hesse" eval -q --model "$m" --samples "$N" --seed 1 $noise -o "$out/xie-$tag-eval.json"
    [ -f "$out/xie-$tag.json" ] || "$hesse" powerlaw -q --model "$m" --samples "$N" --seed 1 \
        $noise --top "$K" --tol 1e-6 --svg "$out/xie-$tag.svg" -o "$out/xie-$tag.json"
}
fit trained lenet5 --epochs "$EPOCHS" --batch 64
fit init lenet5 --epochs 0
fit noise40 lenet5 --epochs "$EPOCHS" --batch 64 --label-noise 0.4
fit fullbatch lenet5 --epochs "$EPOCHS" --batch "$N"
fit lrsmall lenet5 --epochs "$EPOCHS" --batch 64 --lr 0.005
fit lrlarge lenet5 --epochs "$EPOCHS" --batch 64 --lr 0.15
fit onehidden 'mlp(784,70,10)' --epochs "$EPOCHS" --batch 64
fit wide "lenet5(width=$WIDE)" --epochs "$EPOCHS" --batch 64
