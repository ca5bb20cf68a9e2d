# Residual networks, batch norm, layer norm and the presets through the command line: the
# ResNet-18-CIFAR preset end to end on a tiny CIFAR-10 directory (model file, buffers, reload by
# preset name and by expansion, a spectrum), state_dict mismatch messages, the refusals of
# train and kronecker, and Lanczos against the dense spectrum on a small residual net.
. "$(dirname "$0")/lib.inc"

# A CIFAR-10 test batch of 6 records (label byte + 3072 pixel bytes), fixed bytes.
mkdir -p "$T/cifar"
"$PY" - "$T/cifar/test_batch.bin" <<'PY' || fail "cifar file"
import random, sys
r = random.Random(11)
with open(sys.argv[1], "wb") as f:
    for i in range(6):
        f.write(bytes([i % 10]) + bytes(r.randrange(256) for _ in range(3072)))
PY
cifar="--data $T/cifar --split test"

# ResNet-18 at PyTorch's initialisation (batch norm: weight 1, bias 0, statistics 0 and 1).
"$HESSE" train -q --arch resnet18-cifar --epochs 0 $cifar --no-test -o "$T/r18.safetensors" ||
    fail "resnet18-cifar: initial model"
"$HESSE" info --model "$T/r18.safetensors" >"$T/info.txt" || fail "info --model"
checks=$((checks + 1))
grep -q "^parameters: 11173962$" "$T/info.txt" &&
    grep -Eq "^  buffer +layer2\.0\.shortcut\.1\.running_var +\[128\]$" "$T/info.txt" &&
    grep -Eq "^  buffer +bn1\.num_batches_tracked +\[\]$" "$T/info.txt" &&
    grep -Eq "^  parameter +layer4\.1\.bn2\.bias +\[512\]$" "$T/info.txt" ||
    fail "info lists parameters and buffers: $(head -5 "$T/info.txt")"
"$HESSE" info --model "$T/r18.safetensors" --json -o "$T/info.json" || fail "info --model --json"
check_py "$T/info.json" "sum(t['kind'] == 'parameter' for t in d['tensors']) == 62 and sum(t['kind'] == 'buffer' for t in d['tensors']) == 60 and d['n_params'] == 11173962" \
    "info JSON: 62 parameter tensors, 60 buffers"

# The file reloads from its own metadata, by preset name, and by the expansion: same loss.
expansion=$(json "$T/info.json" "d['model']['arch']")
"$HESSE" eval -q --model "$T/r18.safetensors" $cifar -o "$T/e0.json" || fail "eval (metadata)"
"$HESSE" eval -q --model "$T/r18.safetensors" --arch resnet18-cifar $cifar -o "$T/e1.json" ||
    fail "eval (preset)"
"$HESSE" eval -q --model "$T/r18.safetensors" --arch "$expansion" $cifar -o "$T/e2.json" ||
    fail "eval (expansion)"
check_py "$T/e0.json" "d['n_params'] == 11173962 and d['samples'] == 6 and math.isfinite(d['loss']) and d['loss'] > 0" \
    "resnet18-cifar: eval"
for f in e1 e2; do
    check_py "$T/$f.json" "d['loss'] == $(json "$T/e0.json" "repr(d['loss'])") and d['model']['sha256'] == '$(json "$T/e0.json" "d['model']['sha256']")'" \
        "resnet18-cifar: $f loads the same model"
done

# A spectrum of the 11M-parameter Hessian on two samples (two dozen products, ~25 s in the
# Release build; the sanitizer build skips it: the same passes run on the small nets below).
if [ "${HESSE_SANITIZE:-0}" != 1 ] && [ "${HESSE_SANITIZE:-0}" != ON ]; then
    "$HESSE" spectrum -q --model "$T/r18.safetensors" --arch resnet18-cifar $cifar --samples 2 \
        --top 1 --tol 1e-3 --basis 12 -o "$T/r18-spec.json" || fail "resnet18-cifar: spectrum"
    check_py "$T/r18-spec.json" "d['dimension'] == 11173962 and len(d['top']) == 1 and d['top'][0] > 0 and d['converged'] == 1" \
        "resnet18-cifar: top eigenvalue"
fi

# state_dict mismatches name the tensor, both shapes, the module
expect_error 2 "r18\.safetensors: tensor 'linear\.weight' has shape \[10, 512\], expected \[100, 512\] for linear\(512,100\) \(module linear\)" -- \
    "$HESSE" eval -q --model "$T/r18.safetensors" --arch 'resnet18-cifar(num_classes=100)' $cifar -o "$T/out.json"
expect_error 2 "r18\.safetensors: tensor 'stem\.weight' is missing; conv2d\(3,64,3,padding=1,bias=False\) \(module stem\) needs it with shape \[64, 3, 3, 3\]" -- \
    "$HESSE" eval -q --model "$T/r18.safetensors" \
    --arch "$(echo "$expansion" | sed 's/^conv1:/stem:/')" $cifar -o "$T/out.json"
expect_error 2 "r18\.safetensors: tensor 'layer1\.0\.bn1\.weight' is not a parameter of the architecture" -- \
    "$HESSE" eval -q --model "$T/r18.safetensors" \
    --arch "$(echo "$expansion" | sed 's/layer1\.0:residual(conv1:conv2d(64,64,3,padding=1,bias=False),bn1:batchnorm2d(64),/layer1.0:residual(conv1:conv2d(64,64,3,padding=1,bias=False),/')" \
    $cifar -o "$T/out.json"
expect_error 2 "architecture: residual block layer1\.0: the main branch gives 64x32x32 but the shortcut gives 32x32x32" -- \
    "$HESSE" eval -q --model "$T/r18.safetensors" \
    --arch 'conv1:conv2d(3,64,3,padding=1),layer1.0:residual(conv2d(64,64,3,padding=1)|conv2d(64,32,1)),avgpool2d(32),flatten,linear(64,10)' \
    $cifar -o "$T/out.json"
expect_error 2 "hesse train does not train networks with batchnorm2d layers" -- \
    "$HESSE" train -q --arch resnet18-cifar --epochs 1 $cifar --no-test -o "$T/out.safetensors"
expect_error 2 "hesse train does not train networks with dropout layers" -- \
    "$HESSE" train -q --arch 'flatten,linear(784,8),dropout(p=0.1),linear(8,10)' --samples 50 \
    --epochs 1 --no-test -o "$T/out.safetensors"

# A small residual net with layer norm trains (no batch statistics), and Lanczos finds the
# dense spectrum's ends (to its tolerance: 1e-10 of the norm gives the values to ~1e-9).
arch='avgpool2d(2),conv2d(1,3,3,stride=2,padding=1),relu,b:residual(conv2d(3,3,3,padding=1),layernorm(3,7,7),tanh|conv2d(3,3,1)),adaptiveavgpool2d(2),flatten,linear(12,10)'
"$HESSE" train -q --arch "$arch" --samples 500 --epochs 1 --lr 0.1 --no-test -o "$T/ln.safetensors" ||
    fail "train a layer-norm residual net"
"$HESSE" dense -q --model "$T/ln.safetensors" --samples 150 -o "$T/ln-dense.json" || fail "dense"
"$HESSE" spectrum -q --model "$T/ln.safetensors" --samples 150 --top 3 --bottom 2 --tol 1e-10 \
    -o "$T/ln-spec.json" || fail "spectrum"
check_py "$T/ln-dense.json" "d['n_params'] == 30 + 84 + 294 + 12 + 130" "layer-norm net: parameters"
ev=$(json "$T/ln-dense.json" "d['eigenvalues']")
check_py "$T/ln-spec.json" "all(abs(a - b) <= 1e-8 * max(abs(x) for x in $ev) for a, b in zip(d['top'], sorted($ev, reverse=True)[:3])) and all(abs(a - b) <= 1e-8 * max(abs(x) for x in $ev) for a, b in zip(d['bottom'], sorted($ev)[:2]))" \
    "layer-norm net: Lanczos ends = dense spectrum ends"
"$HESSE" spectrum -q --model "$T/ln.safetensors" --samples 150 --top 3 --tol 1e-6 \
    --precision f32 -o "$T/ln-f32.json" || fail "spectrum f32"
check_py "$T/ln-f32.json" "all(abs(a - b) <= 1e-4 * abs(b) for a, b in zip(d['top'], sorted($ev, reverse=True)[:3]))" \
    "layer-norm net: single precision"

# kronecker on a batch-norm residual net: linear and conv layers (inside blocks too), the
# batch norms skipped and listed
bnarch='conv2d(1,3,3,stride=2,padding=1),bn:batchnorm2d(3),relu,r:residual(conv2d(3,3,3,padding=1),batchnorm2d(3)),avgpool2d(2),flatten,linear(147,10)'
"$HESSE" train -q --arch "$bnarch" --epochs 0 --samples 100 --no-test -o "$T/bn.safetensors" ||
    fail "batch-norm net: initial model"
"$HESSE" kronecker -q --model "$T/bn.safetensors" --samples 100 --top 3 -o "$T/k.json" 2>"$T/k.err" ||
    fail "kronecker on a batch-norm net: $(cat "$T/k.err")"
check_py "$T/k.json" "[l['name'] for l in d['layers']] == ['0.weight', 'r.0.weight', '6.weight'] and d['skipped'] == ['bn', 'r.1']" \
    "kronecker: conv/linear layers analysed, batch norms skipped"

finish
