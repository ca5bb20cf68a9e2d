# Hutch++ standard-error calibration on two small trained nets (docs/reproduction.md): a tanh
# MLP's Hessian and GGN, a small CNN's Hessian and GGN, 400 seeds each, exact traces from the
# materialised operators. Builds hutchpp_calibration.c against build/libhesse.a.
. "$(dirname "$0")/common.sh"
cc -O2 -std=c11 -I"$here/include" "$here/examples/reproduce/hutchpp_calibration.c" \
    "$here/build/libhesse.a" -lcjson -lopenblas -llapacke -lz -lm -lpthread -o "$out/hutchpp_calibration"
mlp="$out/calib-mlp.safetensors"
cnn="$out/calib-cnn.safetensors"
[ -f "$mlp" ] || "$hesse" train -q --arch 'avgpool2d(4),flatten,linear(49,6),tanh,linear(6,10)' \
    --samples 300 --epochs 2 --lr 0.1 --no-test -o "$mlp"
[ -f "$cnn" ] || "$hesse" train -q --arch 'conv2d(1,4,5),relu,maxpool2d(4),flatten,linear(144,10)' \
    --samples 2000 --epochs 2 --lr 0.1 --no-test -o "$cnn"
for model in "$mlp" "$cnn"; do
    for op in hessian ggn; do
        OPENBLAS_NUM_THREADS=1 "$out/hutchpp_calibration" "$model" $op 400
    done
done | tee "$out/hutchpp-calibration.txt"
