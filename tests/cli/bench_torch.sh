# The transformer cases of hesse bench compute what bench/torch_hvp.py computes: hesse writes
# its weights, batch, probe vector and products (--save-dir), and PyTorch's double backward
# on ViTTiny / GPTTiny (tools/models.py) with those weights and that batch must give the same
# Hessian-vector product (f64 to 1e-10 relative, hesse's f32 product to 1e-4).
# Needs Debian's python3-torch (scripts/install-deps.sh --bench); skipped without it.
. "$(dirname "$0")/lib.inc"

SRC=${HESSE_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "bench_torch.sh: PyTorch missing ($PY -c 'import torch' fails): skipped" >&2
    exit 77
fi

checks=$((checks + 1))
"$HESSE" bench -q --case vit-tiny,gpt-tiny --batch 3 --repeat 1 --dgemm 0 --threads 1 \
    --save-dir "$T" -o "$T/hesse.json" || fail "hesse bench --save-dir"
check_py "$T/hesse.json" "[c['case'] for c in d['cases']] == ['vit-tiny', 'gpt-tiny'] and all(c['batch'] == 3 for c in d['cases'])" \
    "--case takes a list; --batch applies to the transformer cases"
checks=$((checks + 1))
"$PY" "$SRC/bench/torch_hvp.py" --case vit-tiny,gpt-tiny --from "$T" --repeat 1 --threads 1 \
    -o "$T/torch.json" 2>/dev/null || fail "torch_hvp.py --from"
check_py "$T/torch.json" "all(c['batch'] == 3 and c['hvp_rel_diff'] <= 1e-10 and c['hvp_f32_rel_diff'] <= 1e-4 for c in d['cases']) and len(d['cases']) == 2" \
    "hesse's product (f64 and f32) is PyTorch's on the bench cases"

finish
