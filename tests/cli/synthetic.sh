# Synthetic class-structured data (--data gaussmix:...) through the commands, and label noise
# (--label-noise P): exactly round(P n) training labels replaced, recorded in train's JSON and
# model file, reproduced by another command from the record, the test split left alone.
. "$(dirname "$0")/lib.inc"
gm='gaussmix:classes=3,dim=20,separation=8,seed=1,samples=300,test=60'
arch='mlp(20,16,3)'

# A net trained on 30 % noisy labels of well separated clusters still classifies the clean
# labels perfectly; against the noisy labels it is then right on exactly the 210 unchanged ones.
"$HESSE" train -q --arch "$arch" --data "$gm" --epochs 4 --lr 0.05 --label-noise 0.3 --seed 5 \
    --json "$T/t.json" -o "$T/m.safetensors" || fail "train --label-noise"
check_py "$T/t.json" "d['data']['label_noise'] == {'fraction': 0.3, 'changed': 90, 'seed': 5, 'rule': 'uniform over the other classes, stream 2 of the seed'}" \
    "train's JSON records the noise"
check_py "$T/t.json" "d['history'][-1]['test_accuracy'] == 1.0" "the clean test split is classified perfectly"
"$PY" - "$T/m.safetensors" >"$T/meta.json" <<'PY' || fail "reading the model file's metadata"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
print(json.loads(b[8:8 + n])["__metadata__"]["hesse.data"])
PY
check_py "$T/meta.json" "d['label_noise']['fraction'] == 0.3 and d['label_noise']['changed'] == 90 and d['label_noise']['seed'] == 5 and d['samples'] == 300" \
    "the model file records the noise"
"$HESSE" eval -q --model "$T/m.safetensors" --data "$gm" -o "$T/clean.json" || fail "eval clean"
"$HESSE" eval -q --model "$T/m.safetensors" --data "$gm" --label-noise 0.3 --seed 5 -o "$T/noisy.json" ||
    fail "eval with the recorded noise"
check_py "$T/clean.json" "d['correct'] == 300 and 'label_noise' not in d['data']" "clean labels all right"
check_py "$T/noisy.json" "d['correct'] == 210 and d['data']['label_noise']['changed'] == 90" \
    "exactly 90 labels changed"

# Reproducible: the same command gives the same model.
"$HESSE" train -q --arch "$arch" --data "$gm" --epochs 4 --lr 0.05 --label-noise 0.3 --seed 5 \
    --json "$T/t2.json" -o "$T/m2.safetensors" || fail "train again"
check_py "$T/t2.json" "d['model']['sha256'] == '$(json "$T/t.json" "d['model']['sha256']")'" "same model twice"

# The test split is evaluated with its own labels: with the weights held (--lr 0) the test loss
# is the same with and without noise, the training loss is not.
for p in 0 0.4; do
    "$HESSE" train -q --arch "$arch" --data "$gm" --epochs 1 --lr 0 --label-noise $p --seed 5 \
        --json "$T/h$p.json" -o "$T/h$p.safetensors" || fail "train --lr 0 --label-noise $p"
done
check_py "$T/h0.4.json" "d['history'][0]['test_loss'] == $(json "$T/h0.json" "repr(d['history'][0]['test_loss'])") and d['history'][0]['train_loss'] != $(json "$T/h0.json" "repr(d['history'][0]['train_loss'])")" \
    "test split untouched by the noise"

# The synthetic data through the Hessian commands (documents checked against their schemas).
"$HESSE" spectrum -q --model "$T/m.safetensors" --data "$gm" --samples 90 --top 3 -o "$T/sp.json" ||
    fail "spectrum on gaussmix"
check_py "$T/sp.json" "d['data']['dataset'].startswith('gaussmix:classes=3,dim=20,separation=8,seed=1') and d['data']['samples'] == 90" \
    "spectrum names the synthetic data"
"$HESSE" classes -q --model "$T/m.safetensors" --data "$gm" --samples 90 --top 3 --probes 9 \
    -o "$T/cl.json" || fail "classes on gaussmix"
check_py "$T/cl.json" "d['classes'] == 3 and d['class_weights'] == [1/3, 1/3, 1/3]" \
    "classes sees three balanced classes"
"$HESSE" eval -q --model "$T/m.safetensors" --data "$gm" --split test -o "$T/te.json" || fail "eval test split"
check_py "$T/te.json" "d['samples'] == 60 and d['data']['dataset'].endswith('/test')" "the test split"
# hesse info --data describes a split: n = 60 test samples of 3 classes, labels i mod 3.
"$HESSE" info --data "$gm" --split test --json >"$T/info.json" || fail "info --data"
check_py "$T/info.json" "d['dataset']['samples'] == 60 and d['dataset']['class_counts'] == [20, 20, 20] and d['dataset']['shape'] == [20, 1, 1] and d['dataset']['storage'] == 'float64'" \
    "info describes the synthetic split"
finish
