# examples/reproduce/eos.sh at smoke size with its PyTorch reference (TORCH=1): hesse train
# --optimizer gd / adam --track on 200 balanced samples must follow the trajectory that
# examples/reproduce/eos_torch.py computes on its own (same init file; its own data selection,
# MSE, GD / torch.optim.Adam and Lanczos on double-backward products): loss, lambda1 and Adam's
# preconditioned lambda1 equal to 1e-10 at every measured step. Also the script's outputs.
# Needs Debian's python3-torch; skipped without it.
. "$(dirname "$0")/lib.inc"

SRC=${HESSE_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "eos.sh: PyTorch missing ($PY -c 'import torch' fails): skipped" >&2
    exit 77
fi

checks=$((checks + 1))
REPRO_DIR="$T" TORCH=1 THREADS=1 N=200 PARTS="mlp adam" MLP_LRS="0.25" MLP_STEPS="6" \
    ADAM_STEPS=6 K=3 sh "$SRC/examples/reproduce/eos.sh" >"$T/summary.txt" 2>"$T/stderr" ||
    fail "examples/reproduce/eos.sh at smoke size: $(tail -3 "$T/stderr")"
for f in eos-mlp-gd-lr0.25.csv eos-mlp-gd-lr0.25.svg eos-mlp.svg eos-mlp-adam-lr0.001.svg \
    eos-adam.svg; do
    checks=$((checks + 1))
    [ -s "$T/$f" ] || fail "eos.sh wrote no $f"
done
checks=$((checks + 1))
grep -q "eos-mlp-gd-lr0.25.json (hesse, gd, lr 0.25, 6 steps" "$T/summary.txt" ||
    fail "eos.sh's summary names the GD run: $(cat "$T/summary.txt")"

# rel(a, b) over the common steps of hesse's "tracking" series and the reference's series
agree() {
    check_py "$T/$1.json" "(lambda t, r: len(t) == 3 and [x['step'] for x in t] == [x['step'] for x in r] and all(abs(a[k][0] - b[k][0]) <= 1e-10 * abs(b[k][0]) for a, b in zip(t, r) for k in $2 if k in b) and all(abs(a['loss'] - b['loss']) <= 1e-10 * b['loss'] for a, b in zip(t, r)))(d['tracking']['series'], json.load(open('$T/$1-torch.json'))['series'])" \
        "$1: hesse's tracked loss and $2 equal PyTorch's to 1e-10"
}
agree eos-mlp-gd-lr0.25 "['top']"
agree eos-mlp-adam-lr0.001 "['top', 'preconditioned']"
check_py "$T/eos-mlp-adam-lr0.001.json" "'preconditioned' not in d['tracking']['series'][0] and all('preconditioned' in r for r in d['tracking']['series'][1:])" \
    "Adam's preconditioned sharpness from step 3 on"

finish
