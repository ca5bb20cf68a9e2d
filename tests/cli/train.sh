#!/bin/sh
# hesse train beyond the basics: full-batch gradient descent against PyTorch (the fixture of
# tests/make_gd_fixture.py), --steps and --test-every, and a run stopped by SIGINT and resumed
# from its checkpoint, equal to the uninterrupted run; --track: the training untouched by the
# measurements, the measured values those of hesse spectrum / eval on the models of those steps,
# and a tracked run resumed to the same series.
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
# same_model A B WHAT: the same tensors (bytes) and metadata, the history's timings aside
# (the only thing a model file records that depends on the clock).
same_model() {
    checks=$((checks + 1))
    "$PY" - "$1" "$2" <<'PY' || fail "$3"
import json, struct, sys
def load(p):
    raw = open(p, "rb").read()
    hl = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + hl])
    meta = head.pop("__metadata__")
    hist = json.loads(meta.pop("hesse.history"))
    for row in hist:
        del row["seconds"]
    return head, meta, hist, raw[8 + hl:]
a, b = load(sys.argv[1]), load(sys.argv[2])
for what, x, y in zip(("header", "metadata", "history", "tensor data"), a, b):
    assert x == y, "%s differs" % what
PY
}

# interrupt_resume NAME ARGS...: the run uninterrupted; then the same run with a checkpoint after
# every step, stopped by SIGINT once its first checkpoint exists (exit 130, a message naming
# the file), resumed to the end: the same model file, and the same history in --json.
interrupt_resume() {
    name=$1
    shift
    "$HESSE" train -q "$@" --json "$T/$name.ref.json" -o "$T/$name.ref.safetensors" || fail "$name: uninterrupted"
    rm -f "$T/$name.ck"
    "$HESSE" train -q "$@" --checkpoint "$T/$name.ck" --checkpoint-every 0 -o "$T/$name.safetensors" 2>"$T/$name.err" &
    pid=$!
    i=0
    while [ ! -f "$T/$name.ck" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
    kill -INT $pid
    wait $pid
    code=$?
    checks=$((checks + 1))
    [ $code -eq 130 ] || fail "$name: SIGINT exit code $code, expected 130 (the run finished first?)"
    grep -q "state saved in $T/$name.ck: continue with the same command and --resume $T/$name.ck" "$T/$name.err" ||
        fail "$name: SIGINT message: $(cat "$T/$name.err")"
    no_file "$T/$name.safetensors"
    "$HESSE" train -q "$@" --checkpoint "$T/$name.ck" --resume "$T/$name.ck" --json "$T/$name.json" \
        -o "$T/$name.safetensors" || fail "$name: resume"
    same_model "$T/$name.ref.safetensors" "$T/$name.safetensors" "$name: resumed model file differs"
    check_py "$T/$name.json" "[{k: v for k, v in r.items() if k != 'seconds'} for r in d['history']] == [{k: v for k, v in r.items() if k != 'seconds'} for r in json.load(open('$T/$name.ref.json'))['history']]" \
        "$name: resumed history"
    case "$*" in *--track*)
        check_py "$T/$name.json" "(lambda strip: strip(d) == strip(json.load(open('$T/$name.ref.json'))))(lambda doc: [{k: v for k, v in r.items() if not k.startswith('seconds')} for r in doc['tracking']['series']])" \
            "$name: resumed tracking series"
        check_py "$T/$name.json" "d['tracking']['products'] == json.load(open('$T/$name.ref.json'))['tracking']['products']" \
            "$name: resumed tracking products" ;;
    esac
}

# Adam over shuffled minibatches (a stop inside an epoch: the shuffle order, the epoch's running
# sums and the moments carry over), and full-batch GD.
interrupt_resume adam --arch 'flatten,linear(784,64),tanh,linear(64,10)' --samples 1000 --batch 10 \
    --epochs 5 --optimizer adam --lr 0.001 --test-samples 200
interrupt_resume gd --arch 'flatten,linear(784,64),tanh,linear(64,10)' --loss mse --samples 500 \
    --optimizer gd --steps 250 --lr 0.05 --no-test

# --track leaves the training alone: the same model file with and without it (gd, and adam with
# the preconditioned sharpness).
mlp='flatten,linear(784,12),tanh,linear(12,10)'
gdrun="--arch $mlp --loss mse --samples 300 --optimizer gd --lr 0.1 --no-test"
"$HESSE" train -q $gdrun --steps 12 -o "$T/g0.safetensors" || fail "gd without --track"
HESSE_PROGRESS_INTERVAL=0 "$HESSE" train $gdrun --steps 12 --track every=5,top=2,samples=100 --json "$T/g1.json" \
    --track-csv "$T/g1.csv" --track-svg "$T/g1.svg" -o "$T/g1.safetensors" 2>"$T/g1.err" || fail "gd with --track"
same_model "$T/g0.safetensors" "$T/g1.safetensors" "gd: --track changed the trained model"
adrun="--arch $mlp --samples 300 --batch 50 --epochs 2 --optimizer adam --lr 0.003 --no-test"
"$HESSE" train -q $adrun -o "$T/a0.safetensors" || fail "adam without --track"
"$HESSE" train -q $adrun --track every=4,top=1,samples=60,preconditioned --json "$T/a1.json" \
    -o "$T/a1.safetensors" || fail "adam with --track"
same_model "$T/a0.safetensors" "$T/a1.safetensors" "adam: --track changed the trained model"
check_py "$T/g1.json" "[r['step'] for r in d['tracking']['series']] == [0, 5, 10, 12] and d['tracking']['samples'] == 100 and d['tracking']['threshold'] == 2 / 0.1" \
    "gd: measured at step 0, every 5 and the last, on 100 samples"
check_py "$T/a1.json" "[('preconditioned' in r) for r in d['tracking']['series']] == [False, True, True, True] and abs(d['tracking']['threshold_preconditioned'] - 38 / 0.003) < 1e-9" \
    "adam: the preconditioned sharpness after step 0, threshold 38/lr"
checks=$((checks + 1))
grep -q "λ1 [0-9]" "$T/g1.err" || fail "the progress line shows no λ1: $(tail -c 300 "$T/g1.err")"
check_py "$T/g1.json" "open('$T/g1.csv').readline().startswith('step,epoch,loss,accuracy,lr,top_1,top_2') and len(open('$T/g1.csv').readlines()) == 5 and open('$T/g1.svg').read().startswith('<svg')" \
    "--track-csv and --track-svg"

# The measurements are those of the models at those steps, as the other commands see them:
# lambda_1, lambda_2 of hesse spectrum (the same first 100 training samples) and the loss of
# hesse eval, at step 0 (the init, --epochs 0) and step 10 (a run of 10 steps). Both are
# Lanczos runs at tol 1e-8 relative to ||H||, hence 1e-7 relative; the loss is the same sum.
for step in 0 10; do
    "$HESSE" train -q $gdrun --steps $step -o "$T/s$step.safetensors" || fail "model at step $step"
    "$HESSE" spectrum -q --model "$T/s$step.safetensors" --samples 100 --top 2 --tol 1e-10 -o "$T/sp$step.json" || fail "spectrum at $step"
    "$HESSE" eval -q --model "$T/s$step.safetensors" --samples 100 -o "$T/ev$step.json" || fail "eval at $step"
    check_py "$T/g1.json" "(lambda r, sp, ev: all(abs(a - b) <= 1e-7 * abs(b) for a, b in zip(r['top'], sp['top'])) and abs(r['loss'] - ev['loss']) <= 1e-14 and r['accuracy'] == ev['accuracy'])([r for r in d['tracking']['series'] if r['step'] == $step][0], json.load(open('$T/sp$step.json')), json.load(open('$T/ev$step.json')))" \
        "step $step: tracked λ1, λ2 and loss equal spectrum and eval of the model at that step"
done

# A tracked run stopped and resumed: the same model, history and series (every=1: the step it
# stops after was measured before its checkpoint, and is not measured again).
interrupt_resume track --arch 'flatten,linear(784,64),tanh,linear(64,10)' --loss mse --samples 500 \
    --optimizer gd --steps 80 --lr 0.05 --no-test --track every=1,top=2,samples=100
finish
