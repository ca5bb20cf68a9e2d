# Shared set-up of the reproduction scripts (sourced): the hesse binary, the output folder,
# and trained models made once and reused.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
hesse="${HESSE:-$here/build/hesse}"
out="${REPRO_DIR:-$here/results/reproduce}"
mkdir -p "$out"
lenet='conv2d(1,6,5,padding=2),relu,maxpool2d(2),conv2d(6,16,5),relu,maxpool2d(2),flatten,linear(400,120),relu,linear(120,84),relu,linear(84,10)'

# lenet5 SEED: LeNet-5 trained by SGD with momentum on all 60,000 Fashion-MNIST training
# images, 15 epochs, learning rate 0.05 decayed tenfold after epoch 10.
lenet5() {
    f="$out/lenet5-seed$1.safetensors"
    [ -f "$f" ] || "$hesse" train --arch "$lenet" --epochs 15 --lr 0.05 --momentum 0.9 --batch 64 \
        --schedule step --step-epochs 10 --gamma 0.1 --seed "$1" --json "$out/lenet5-seed$1-train.json" -o "$f"
    echo "$f"
}

# lenet5_init SEED: the same network at PyTorch's default initialisation.
lenet5_init() {
    f="$out/lenet5-init-seed$1.safetensors"
    [ -f "$f" ] || "$hesse" train -q --arch "$lenet" --epochs 0 --seed "$1" -o "$f"
    echo "$f"
}
