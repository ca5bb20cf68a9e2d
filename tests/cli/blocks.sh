# hesse blocks (block heterogeneity, Zhang et al. 2024) on an MLP and LeNet-5 at initialisation:
# the blocks, their top eigenvalues and traces against the dense spectrum of the same block
# (hesse dense --layer), the output bias's known zero eigenvalue, the JS matrix's properties
# and JS0 as its mean, the groupings, the plots and the report section.
. "$(dirname "$0")/lib.inc"

"$HESSE" train -q --arch 'mlp(784,16,10)' --samples 100 --epochs 0 --no-test -o "$T/mlp.safetensors" ||
    fail "the MLP at initialisation"
"$HESSE" blocks -q --model "$T/mlp.safetensors" --samples 100 --probes 3 --steps 20 --svg "$T/b" \
    -o "$T/b.json" || fail "blocks on the MLP"
check_py "$T/b.json" "[b['name'] for b in d['blocks']] == ['0.weight', '0.bias', '2.weight', '2.bias'] and [b['parameters'] for b in d['blocks']] == [12544, 16, 160, 10] and d['group'] == 'tensor' and d['rank'] == 10" \
    "blocks: one block per tensor, in parameter order"
# The output bias's Hessian block is the mean of diag(p) - p p^T over the samples: the ones
# vector is in its kernel, so its 10th (smallest) eigenvalue is 0 and the block is left out.
check_py "$T/b.json" "(b := d['blocks'][3]) and abs(b['lambda_k']) <= 1e-12 * b['top'] and not b['included'] and 'not positive' in b['excluded']" \
    "blocks: the output bias's lambda_10 is 0, the block is excluded"
# The 16-parameter block against its dense spectrum: the top 10, lambda_10 and the exact trace.
"$HESSE" dense -q --model "$T/mlp.safetensors" --samples 100 --layer 0.bias -o "$T/d.json" ||
    fail "dense --layer 0.bias"
"$PY" - "$T/b.json" "$T/d.json" <<'PY' || fail "blocks: 0.bias against hesse dense --layer 0.bias"
import json, sys
b = json.load(open(sys.argv[1]))["blocks"][1]
ev = json.load(open(sys.argv[2]))["eigenvalues"][::-1]  # descending
scale = abs(ev[0])
assert b["trace_method"] == "exact" and abs(b["trace"] - sum(ev)) <= 1e-12 * sum(map(abs, ev)), (b["trace"], sum(ev))
assert all(abs(x - y) <= 1e-10 * scale for x, y in zip(b["eigenvalues"], ev[:10])), (b["eigenvalues"], ev[:10])
assert abs(b["lambda_k"] - ev[9]) <= 1e-10 * scale and abs(b["top"] - ev[0]) <= 1e-10 * scale
PY
checks=$((checks + 1))
# The JS matrix: symmetric, zero diagonal, within [0, sqrt(ln 2)], null for the excluded block;
# JS0 the mean of its upper triangle over the included pairs.
check_py "$T/b.json" "(J := d['js']) and (inc := [i for i, b in enumerate(d['blocks']) if b['included']]) == [0, 1, 2] and all(J[i][j] == J[j][i] and 0 <= J[i][j] <= math.sqrt(math.log(2)) + 1e-15 for i in inc for j in inc) and all(J[i][i] == 0 for i in inc) and all(J[3][j] is None for j in range(4)) and d['pairs'] == 3 and abs(d['js0'] - sum(J[i][j] for i in inc for j in inc if i < j) / 3) <= 1e-15" \
    "blocks: the JS matrix and JS0"
# every included block's density on the common grid integrates to 1
check_py "$T/b.json" "(g := d['grid']) and len(g) == d['points'] and all(abs(sum((g[i+1]-g[i])*(b['density'][i]+b['density'][i+1])/2 for i in range(len(g)-1)) - 1) < 1e-9 for b in d['blocks'] if b['included'])" \
    "blocks: the rescaled densities integrate to 1"
# the rescaled density is the quadrature (nodes / lambda_k) smoothed by sigma on the grid, up to
# its normalisation: ratios to the peak recomputed from the document at a few grid points
check_py "$T/b.json" "(g := d['grid']) and (s := d['sigma']) and (f := lambda b, t: sum(w * math.exp(-0.5 * ((t - x / b['lambda_k']) / s) ** 2) for q in b['quadrature'] for x, w in zip(q['nodes'], q['weights']))) and all(abs(b['density'][i] / b['density'][m] - f(b, g[i]) / f(b, g[m])) <= 1e-9 for b in d['blocks'] if b['included'] for m in [b['density'].index(max(b['density']))] for i in (0, len(g) // 3, len(g) // 2, m - 3))" \
    "blocks: the rescaled densities from the quadrature"
check_py "$T/b.json" "d['svg_files'] == [d['svg'] + '.svg', d['svg'] + '-densities.svg']" "blocks: plots listed"
[ "$(grep -c '<rect x=' "$T/b.svg")" -eq 26 ] || fail "blocks: the heat map has 16 cells and a 10-step colour bar"
"$HESSE" report "$T/b.json" -o "$T/r.html" 2>/dev/null || fail "report of a blocks document"
grep -q "Block heterogeneity" "$T/r.html" || fail "report: no block heterogeneity section"
if grep -q 'class="missing"' "$T/r.html"; then fail "report: keys missing in the blocks section"; fi
checks=$((checks + 3))

# --width: one width in units of lambda_k; the same quadrature re-smoothed offline by
# tools/blocks_resmooth.py at that width gives the same JS0
"$HESSE" blocks -q --model "$T/mlp.safetensors" --samples 100 --probes 3 --steps 20 --width 0.1 \
    -o "$T/bw.json" || fail "blocks --width"
check_py "$T/bw.json" "d['width'] == 0.1 and d['sigma'] == 0.1 and len(d['grid']) == d['points'] == math.ceil((d['hi'] - d['lo']) / 0.02) + 1" \
    "blocks --width: the width and the grid"
if "$PY" -c "import torch" 2>/dev/null; then
    r=$("$PY" "$HESSE_SOURCE/tools/blocks_resmooth.py" "$T/b.json" abs 0.1) || fail "blocks_resmooth.py"
    js=$(echo "$r" | sed -n 's/.*JS0 \([0-9.]*\) .*/\1/p')
    check_py "$T/bw.json" "abs(d['js0'] - float('$js')) <= 1e-6" \
        "blocks --width 0.1 = the default run re-smoothed at 0.1 offline"
fi

# --group layer: a layer's weight and bias together; --group qkv without a fused projection
# is --group tensor.
"$HESSE" blocks -q --model "$T/mlp.safetensors" --samples 100 --probes 2 --steps 10 --group layer \
    -o "$T/bl.json" || fail "blocks --group layer"
check_py "$T/bl.json" "[(b['name'], b['parameters'], b['tensors']) for b in d['blocks']] == [('0', 12560, ['0.weight', '0.bias']), ('2', 170, ['2.weight', '2.bias'])] and d['pairs'] == 1" \
    "blocks --group layer: two layers"
"$HESSE" blocks -q --model "$T/mlp.safetensors" --samples 50 --probes 2 --steps 10 --group qkv \
    --rank 2 -o "$T/bq.json" || fail "blocks --group qkv"
check_py "$T/bq.json" "[b['name'] for b in d['blocks']] == ['0.weight', '0.bias', '2.weight', '2.bias'] and all(b['slice'] == '' for b in d['blocks'])" \
    "blocks --group qkv: no fused projection, the tensors"

# Against PyTorch: a small MLP on random inputs; every block's top eigenvalues, lambda_k and
# trace against torch.linalg.eigvalsh of the block of torch.autograd.functional.hessian of the
# same mean cross-entropy (float64).
"$PY" - "$T/xy.safetensors" <<'PY' || fail "making the PyTorch fixture data"
import json, random, struct, sys
random.seed(3)
n = 40
x = [random.gauss(0, 1) for _ in range(n * 16)]
y = [random.randrange(3) for _ in range(n)]
hdr = {"x": {"dtype": "F64", "shape": [n, 1, 4, 4], "data_offsets": [0, 8 * n * 16]},
       "y": {"dtype": "I64", "shape": [n], "data_offsets": [8 * n * 16, 8 * n * 17]}}
h = json.dumps(hdr).encode(); h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack(f"<{n*16}d", *x) + struct.pack(f"<{n}q", *y))
PY
"$HESSE" train -q --arch 'mlp(16,8,3)' --data "$T/xy.safetensors" --epochs 0 --no-test --seed 5 \
    -o "$T/small.safetensors" || fail "the small MLP"
"$HESSE" blocks -q --model "$T/small.safetensors" --data "$T/xy.safetensors" --samples 40 --rank 3 \
    --probes 2 --steps 10 -o "$T/bt.json" || fail "blocks on the small MLP"
if "$PY" -c "import torch" 2>/dev/null; then
    "$PY" - "$T/bt.json" "$T/small.safetensors" "$T/xy.safetensors" <<'PY' || fail "blocks against PyTorch"
import json, struct, sys, torch
def load(path):
    raw = open(path, "rb").read(); hl = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + hl]); data = raw[8 + hl:]; out = {}
    for k, v in head.items():
        if k == "__metadata__": continue
        a, b = v["data_offsets"]
        dt = {"F64": torch.float64, "I64": torch.int64}[v["dtype"]]
        out[k] = torch.frombuffer(bytearray(data[a:b]), dtype=dt).reshape(v["shape"])
    return out
d = json.load(open(sys.argv[1])); w = load(sys.argv[2]); xy = load(sys.argv[3])
x = xy["x"].reshape(40, 16) * d["data"]["preprocess"]["scale"]; y = xy["y"]
names = [b["name"] for b in d["blocks"]]
assert names == ["0.weight", "0.bias", "2.weight", "2.bias"], names
def loss(*ps):
    p = dict(zip(names, ps))
    h = torch.relu(x @ p["0.weight"].T + p["0.bias"])
    return torch.nn.functional.cross_entropy(h @ p["2.weight"].T + p["2.bias"], y)
H = torch.autograd.functional.hessian(loss, tuple(w[k] for k in names))
for i, b in enumerate(d["blocks"]):
    n = w[names[i]].numel()
    ev = torch.linalg.eigvalsh(H[i][i].reshape(n, n)).flip(0)
    tol = 1e-8 * float(ev.abs().max())  # the Lanczos tolerance (residual <= 1e-8 ‖H_bb‖)
    assert all(abs(a - float(e)) <= tol for a, e in zip(b["eigenvalues"], ev[:3])), (b["name"], b["eigenvalues"], ev[:3])
    assert abs(b["lambda_k"] - float(ev[2])) <= tol, b["name"]
    tr = float(ev.sum())
    bound = 1e-12 * float(ev.abs().sum()) if b["trace_method"] == "exact" else 4 * b["trace_stderr"] + 1e-9 * abs(tr)
    assert abs(b["trace"] - tr) <= bound, (b["name"], b["trace"], tr, b["trace_method"])
PY
    checks=$((checks + 1))
fi

# LeNet-5 at initialisation: ten tensors; conv1's bias (6 parameters) has no 10th eigenvalue and
# the output bias's is 0, so 8 blocks and 28 pairs remain.
"$HESSE" train -q --arch lenet5 --samples 20 --epochs 0 --no-test -o "$T/lenet.safetensors" ||
    fail "LeNet-5 at initialisation"
"$HESSE" blocks -q --model "$T/lenet.safetensors" --samples 20 --probes 2 --steps 12 \
    --trace-samples 8 --tol 1e-6 -o "$T/l.json" || fail "blocks on LeNet-5"
check_py "$T/l.json" "len(d['blocks']) == 10 and [b['name'] for b in d['blocks'] if not b['included']] == ['0.bias', '11.bias'] and 'fewer parameters' in d['blocks'][1]['excluded'] and d['pairs'] == 28 and 0 < d['js0'] < math.sqrt(math.log(2))" \
    "blocks on LeNet-5: 8 blocks compared"
finish
