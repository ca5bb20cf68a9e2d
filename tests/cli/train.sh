#!/bin/sh
# hesse train beyond the basics: full-batch gradient descent against PyTorch (the fixture of
# tests/make_gd_fixture.py), --steps and --test-every.
. "$(dirname "$0")/lib.inc"
: "${HESSE_TEST_DATA:?HESSE_TEST_DATA must name tests/data}"
D=$HESSE_TEST_DATA

# close MODEL EXPECTED_NAME JSON WHAT: the model's parameters (state_dict order) equal the
# fixture's after 10 steps, and the history's train losses the full-batch losses before each
# step. Both runs take the same arithmetic up to the order of the sums (hesse sums the batch
# by chunks and workers, PyTorch in one BLAS call), a few ulps per step on O(1) values that
# ten contracting steps do not grow; a wrong decay, mean or step is 1e-3 or more.
close() {
    checks=$((checks + 1))
    "$PY" - "$1" "$D/fixture_gd_expected.safetensors" "$2" "$3" <<'PY' || fail "$4"
import json, sys
sys.path.insert(0, __import__("os").environ["HESSE_SOURCE"] + "/tools")
import hesse_st, numpy as np
got, _ = hesse_st.read(sys.argv[1])
exp, _ = hesse_st.read(sys.argv[2])
theta = np.concatenate([np.asarray(v).reshape(-1) for v in got.values()])
want = np.asarray(exp[sys.argv[3]])
d = np.max(np.abs(theta - want) / np.maximum(np.abs(want), 1))
hist = json.load(open(sys.argv[4]))["history"]
losses = np.array([r["train_loss"] for r in hist])
dl = np.max(np.abs(losses - np.asarray(exp[sys.argv[3] + "_loss"])))
print("%s: parameters %.3g, losses %.3g" % (sys.argv[3], d, dl), file=sys.stderr)
assert len(hist) == 10 and d <= 1e-12 and dl <= 1e-12
PY
}

for loss in cross_entropy mse; do
    for wd in 0 0.05; do
        "$HESSE" train -q --init "$D/fixture_gd_init_$loss.safetensors" --data "$D/fixture_gd_data.safetensors" \
            --optimizer gd --steps 10 --lr 0.3 --wd $wd --json "$T/gd.json" -o "$T/gd.safetensors" ||
            fail "gd $loss wd $wd"
        close "$T/gd.safetensors" "${loss}_wd$wd" "$T/gd.json" "gd $loss wd $wd equals torch.optim.SGD full batch"
    done
done

# --test-every: test rows at epochs 3, 6 and the last (7); --steps with gd counts epochs.
"$HESSE" train -q --arch 'flatten,linear(784,6),tanh,linear(6,10)' --samples 100 --test-samples 50 \
    --optimizer gd --lr 0.1 --steps 7 --test-every 3 --json "$T/te.json" -o "$T/te.safetensors" ||
    fail "gd --test-every"
check_py "$T/te.json" "[r['epoch'] for r in d['history'] if 'test_loss' in r] == [3, 6, 7] and len(d['history']) == 7" \
    "--test-every 3 over 7 gd steps"
finish
