# train -> eval -> dense on Fashion-MNIST, checking the JSON contracts and the spectra's
# internal consistency (trace and Frobenius norm against the eigenvalues, GGN >= 0).
. "$(dirname "$0")/lib.inc"

arch='avgpool2d(4),flatten,linear(49,6),tanh,linear(6,10)'
"$HESSE" train -q --arch "$arch" --samples 2000 --epochs 2 --lr 0.1 --test-samples 500 \
    --json "$T/train.json" -o "$T/m.safetensors" || fail "train"
check_py "$T/train.json" "len(d['history']) == 2 and d['history'][1]['test_accuracy'] > 0.5" \
    "training history with test accuracy"

"$HESSE" eval -q --model "$T/m.safetensors" --samples 1000 -o "$T/eval.json" || fail "eval"
check_py "$T/eval.json" "all(k in d for k in ('loss','accuracy','grad_norm','n_params'))" "eval keys"
check_py "$T/eval.json" "d['n_params'] == 370 and d['samples'] == 1000 and 0.5 < d['accuracy'] <= 1" \
    "eval values"
check_py "$T/eval.json" "0 < d['loss'] < 2.3 and d['grad_norm'] > 0" "eval loss"
check_py "$T/eval.json" "d['data']['preprocess']['scale'] == 1/255" "preprocessing from the model file"

# Stdout when no -o: the same document
"$HESSE" eval -q --model "$T/m.safetensors" --samples 1000 >"$T/eval_stdout.json" || fail "eval stdout"
check_py "$T/eval_stdout.json" "d['loss'] == $(json "$T/eval.json" "repr(d['loss'])")" "stdout result"

"$HESSE" dense -q --model "$T/m.safetensors" --samples 300 -o "$T/dense.json" --csv "$T/ev.csv" ||
    fail "dense"
check_py "$T/dense.json" "all(k in d for k in ('eigenvalues','trace','frobenius','loss','n_params','seconds'))" \
    "dense keys"
ev='d["eigenvalues"]'
check_py "$T/dense.json" "len($ev) == 370 and all(a <= b for a, b in zip($ev, $ev[1:]))" \
    "all eigenvalues, ascending"
# trace(H) = sum of eigenvalues and ||H||_F^2 = sum of squares, to rounding (1e-10 relative)
check_py "$T/dense.json" "abs(sum($ev) - d['trace']) <= 1e-10 * sum(abs(x) for x in $ev)" "trace"
check_py "$T/dense.json" "abs(math.sqrt(sum(x*x for x in $ev)) - d['frobenius']) <= 1e-10 * d['frobenius']" \
    "frobenius"
check_py "$T/dense.json" "d['products'] == 370 and d['asymmetry'] < 1e-12" "products and symmetry"
checks=$((checks + 1))
[ "$(wc -l <"$T/ev.csv")" -eq 371 ] || fail "csv has a header and 370 eigenvalues"

"$HESSE" dense -q --model "$T/m.safetensors" --samples 300 --operator ggn -o "$T/ggn.json" || fail "dense ggn"
check_py "$T/ggn.json" "d['eigenvalues'][0] >= -1e-12 * d['eigenvalues'][-1] and d['negative_count'] == 0" \
    "GGN positive semidefinite"
check_py "$T/ggn.json" "d['loss'] == $(json "$T/dense.json" "repr(d['loss'])")" "same loss"
# A tanh network has a residual E = H - G with nonzero trace, so the two spectra differ.
check_py "$T/ggn.json" "abs(d['trace'] - $(json "$T/dense.json" "d['trace']")) > 1e-9" "H differs from G"

# Optimizers and schedules run and record their per-epoch learning rates
"$HESSE" train -q --arch "$arch" --samples 300 --epochs 2 --optimizer adam --lr 0.01 \
    --schedule cosine --no-test --json "$T/adam.json" -o "$T/adam.safetensors" || fail "adam"
check_py "$T/adam.json" "[h['lr'] for h in d['history']] == [0.01, 0.005]" "cosine schedule"
"$HESSE" train -q --arch "$arch" --samples 300 --epochs 3 --schedule step --step-epochs 2 \
    --gamma 0.5 --wd 1e-4 --no-test --json "$T/step.json" -o "$T/step.safetensors" || fail "step"
check_py "$T/step.json" "[h['lr'] for h in d['history']] == [0.01, 0.01, 0.005]" "step schedule"
check_py "$T/step.json" "d['history'][2]['train_loss'] < d['history'][0]['train_loss']" "loss decreases"
# AdamW with the per-step warm-up + cosine schedule: 300 samples in minibatches of 100, 3
# epochs = S = 9 steps, W = 2; each epoch records the rates of its first and last steps,
# lr (s + 1) / W, then lr (1 + cos(pi (s - W) / (S - W))) / 2 (tests/test_optim.c checks the
# formula and the optimizer against PyTorch); the model file records the optimizer.
"$HESSE" train -q --arch "$arch" --samples 300 --epochs 3 --batch 100 --optimizer adamw --lr 0.01 \
    --schedule warmup-cosine --warmup 2 --no-test --json "$T/adamw.json" -o "$T/adamw.safetensors" ||
    fail "adamw warmup-cosine"
wc_lr="[0.01 * (s + 1) / 2 if s < 2 else 0.01 * (1 + math.cos(math.pi * (s - 2) / 7)) / 2 for s in range(9)]"
check_py "$T/adamw.json" "all(abs(h['lr'] - $wc_lr[3 * i]) <= 1e-15 and abs(h['lr_end'] - $wc_lr[3 * i + 2]) <= 1e-15 for i, h in enumerate(d['history']))" \
    "warmup-cosine rates per step"
check_py "$T/adamw.json" "d['history'][2]['train_loss'] < d['history'][0]['train_loss']" "adamw loss decreases"
checks=$((checks + 1))
"$PY" -c "
import json, struct, sys
f = open(sys.argv[1], 'rb')
meta = json.loads(f.read(struct.unpack('<Q', f.read(8))[0]))['__metadata__']
o = json.loads(meta['hesse.data'])['optimizer']
assert (o['name'], o['schedule'], o['weight_decay'], o['warmup'], o['steps']) == ('adamw', 'warmup-cosine', 0.01, 2, 9), o
" "$T/adamw.safetensors" || fail "adamw model metadata (default weight decay 0.01)"

# The unigram baseline of next-byte prediction (examples/reproduce/unigram_baseline.py): 18
# training bytes "abab...", 2 test bytes; add-one smoothing gives p(a) = p(b) = 10 / 274, so
# both losses are ln(27.4).
printf 'abababababababababab' >"$T/ab.txt"
"$PY" "$HESSE_SOURCE/examples/reproduce/unigram_baseline.py" "$T/ab.txt" >"$T/uni.json" || fail "unigram"
check_py "$T/uni.json" "abs(d['unigram_test_loss'] - math.log(27.4)) <= 1e-12 and d['test_bytes'] == 2 and abs(d['uniform_loss'] - math.log(256)) <= 1e-15" \
    "unigram baseline: closed form"
# A directory is read as hesse's text:DIR reads it: the same 20 bytes from two files, the
# strfile index and the link to a file already read left out (with either, 24 or 30 bytes).
mkdir -p "$T/abdir"
printf 'ababababab' >"$T/abdir/x"
printf 'ababababab' >"$T/abdir/y"
printf 'zzzz' >"$T/abdir/x.dat"
ln -s x "$T/abdir/x.u8"
"$PY" "$HESSE_SOURCE/examples/reproduce/unigram_baseline.py" "$T/abdir" >"$T/unid.json" || fail "unigram dir"
check_py "$T/unid.json" "abs(d['unigram_test_loss'] - math.log(27.4)) <= 1e-12 and d['test_bytes'] == 2 and d['train_bytes'] == 18" \
    "unigram baseline: a directory as hesse reads it"

# --init keeps the model file's loss unless --loss says otherwise
"$HESSE" train -q --arch "$arch" --loss mse --samples 300 --epochs 1 --no-test \
    -o "$T/mse.safetensors" || fail "train mse"
"$HESSE" train -q --init "$T/mse.safetensors" --samples 300 --epochs 1 --no-test \
    -o "$T/mse2.safetensors" || fail "train --init"
"$HESSE" eval -q --model "$T/mse2.safetensors" --samples 100 -o "$T/mse2.json" || fail "eval mse2"
check_py "$T/mse2.json" "d['model']['loss'] == 'mse'" "train --init keeps the file's loss"

"$HESSE" info --json -o "$T/info.json" || fail "info"
check_py "$T/info.json" "d['blas']['threads'] >= 1 and d['blas']['core'] != ''" "info"
"$HESSE" bench -q --case mlp-small --batch 50 --repeat 2 -o "$T/bench.json" || fail "bench"
check_py "$T/bench.json" "d['cases'][0]['hvp_ms'] > 0 and d['cases'][0]['grad_ms'] > 0 and d['cases'][0]['n_params'] == 89610" \
    "bench keys"
for cmd in info train eval dense bench; do
    checks=$((checks + 1))
    "$HESSE" $cmd --help >"$T/help" 2>&1 && grep -q "Usage: hesse $cmd" "$T/help" || fail "$cmd --help"
done
finish
