# classes, samples and kronecker on a small network: the JSON contracts of docs/results.md and
# the identities between their numbers.
. "$(dirname "$0")/lib.inc"

arch='avgpool2d(4),flatten,linear(49,6),tanh,linear(6,10)'
"$HESSE" train -q --arch "$arch" --samples 2000 --epochs 2 --lr 0.1 --no-test -o "$T/m.safetensors" ||
    fail "train"
"$HESSE" train -q --arch "$arch" --samples 2000 --epochs 2 --lr 0.1 --no-test --seed 7 -o "$T/m2.safetensors" ||
    fail "train 2"

# classes: Gram spectra of G_means and its parts, Lanczos spectra, overlaps, traces
"$HESSE" classes -q --model "$T/m.safetensors" --samples 300 --top 12 --svg "$T/c.svg" -o "$T/c.json" ||
    fail "classes"
check_py "$T/c.json" "d['classes'] == 10 and len(d['means_eigenvalues']) == 100 and len(d['class_eigenvalues']) == 10 and len(d['cross_eigenvalues']) == 90" \
    "classes: C^2, C, C(C-1) eigenvalues"
check_py "$T/c.json" "abs(sum(d['class_eigenvalues']) + sum(d['cross_eigenvalues']) - sum(d['means_eigenvalues'])) <= 1e-10 * sum(d['means_eigenvalues'])" \
    "classes: tr G_class + tr G_cross = tr G_means"
check_py "$T/c.json" "abs(d['trace']['means'] - sum(d['means_eigenvalues'])) <= 1e-12 * d['trace']['means']" \
    "classes: trace of G_means from its spectrum"
check_py "$T/c.json" "abs(d['trace']['identity_gap']) <= 4 * d['trace']['identity_stderr']" \
    "classes: tr G = tr G_means + tr G_within within 4 standard errors"
check_py "$T/c.json" "all(len(d['spectra'][k]['top']) == 12 for k in ('hessian','ggn','within','residual')) and len(d['spectra']['residual']['bottom']) == 12" \
    "classes: spectra"
# G_within = G - G_means and G_means >= 0, so G's top eigenvalue is at least G_within's
check_py "$T/c.json" "d['spectra']['ggn']['top'][0] >= d['spectra']['within']['top'][0] - 1e-8 and d['spectra']['ggn']['top'][0] >= d['means_eigenvalues'][0] - 1e-8" \
    "classes: Weyl bounds"
check_py "$T/c.json" "all(0 <= v <= 1 + 1e-12 for v in d['overlap'].values()) and d['outliers']['count'] >= 1" \
    "classes: overlaps and outliers"
checks=$((checks + 1))
"$PY" -c "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])" "$T/c.svg" || fail "classes svg"

# samples: nested balanced subsets, outliers, bulk edge = eigenvalue C + 1, unit-mass densities
"$HESSE" samples -q --model "$T/m.safetensors" --sizes 100,200,400 --top 12 --probes 4 --steps 30 \
    --svg "$T/s.svg" -o "$T/s.json" || fail "samples"
check_py "$T/s.json" "d['sizes'] == [100, 200, 400] and [r['samples'] for r in d['runs']] == [100, 200, 400]" \
    "samples: sizes"
check_py "$T/s.json" "all(r['bulk_edge'] == r['outliers'][10] and len(r['outliers']) == 12 for r in d['runs'])" \
    "samples: bulk edge is eigenvalue C + 1"
check_py "$T/s.json" "all(abs(sum((r['grid'][i+1]-r['grid'][i])*(r['density'][i]+r['density'][i+1])/2 for i in range(len(r['grid'])-1)) - 1) < 1e-9 for r in d['runs'])" \
    "samples: densities integrate to 1"
# deflating the top C leaves the bulk: its density's support starts below the bulk edge
check_py "$T/s.json" "all(r['grid'][0] < r['bulk_edge'] < r['grid'][-1] for r in d['runs'])" \
    "samples: the bulk edge lies inside the deflated support"
for f in "$T/s.svg" "$T/s-outliers.svg"; do
    checks=$((checks + 1))
    "$PY" -c "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])" "$f" || fail "$f"
done

# kronecker: every linear layer, products of factor eigenvalues, overlaps, rank-one ratios;
# the same model twice overlaps itself exactly, another seed less
"$HESSE" kronecker -q --model "$T/m.safetensors" --models "$T/m.safetensors" "$T/m2.safetensors" \
    --samples 300 --top 8 -o "$T/k.json" || fail "kronecker"
check_py "$T/k.json" "[l['name'] for l in d['layers']] == ['2.weight', '4.weight'] * 3 and len(d['models']) == 3" \
    "kronecker: layers of every model"
check_py "$T/k.json" "all(abs(l['kron_top'][0] - l['M_eigenvalues'][0] * l['xx_eigenvalues'][0]) <= 1e-12 * l['kron_top'][0] for l in d['layers'])" \
    "kronecker: top eigenvalue = product of the factors' top eigenvalues"
check_py "$T/k.json" "all(l['kron_top'] == sorted(l['kron_top'], reverse=True) and 0 <= l['overlap'] <= 1 + 1e-12 and all(0 < r <= 1 + 1e-12 for r in l['rank_one']) for l in d['layers'])" \
    "kronecker: order, overlaps, rank-one ratios"
check_py "$T/k.json" "d['M'] == 'exact' and all(l['M'] == 'exact' and l['M_exact'] for l in d['layers']) and d['layers'][0]['shape'] == [6, 49]" \
    "kronecker: M exact by default"
# E[x]'s dominance: |E[x]|^2 <= lambda_max <= ||E[xx^T]||_F (E[xx^T] - E[x]E[x]^T is PSD)
check_py "$T/k.json" "all(0 < l['x_mean_ratio_fro'] <= l['x_mean_ratio_2'] <= 1 + 1e-12 and 0 <= l['x_mean_overlap'] <= 1 + 1e-12 and l['x_mean_norm'] > 0 for l in d['layers'])" \
    "kronecker: E[x] ratios in order"
# --M ggn: the Gauss-Newton part, labelled; the same E[xx^T], and the same M after the tanh
"$HESSE" kronecker -q --model "$T/m.safetensors" --samples 300 --top 8 --M ggn -o "$T/kg.json" ||
    fail "kronecker --M ggn"
check_py "$T/kg.json" "d['M'] == 'ggn' and [l['M'] for l in d['layers']] == ['ggn'] * 2 and [l['M_exact'] for l in d['layers']] == [False, True]" \
    "kronecker --M ggn: labelled, exact only after the tanh"
"$PY" - "$T/k.json" "$T/kg.json" <<'PY' || fail "kronecker: exact and ggn share E[xx^T] and the last layer's M"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
la, lb = a['layers'][:2], b['layers']
assert all(x['xx_eigenvalues'] == y['xx_eigenvalues'] for x, y in zip(la, lb))
assert la[1]['M_eigenvalues'] == lb[1]['M_eigenvalues']
assert la[0]['M_eigenvalues'] != lb[0]['M_eigenvalues']
PY
check_py "$T/k.json" "all(p['overlap'] > 1 - 1e-9 for c in d['cross_model_overlap'] for p in c['pairs'] if (p['a'], p['b']) == (0, 1))" \
    "kronecker: a model overlaps itself"
check_py "$T/k.json" "all(p['overlap'] < 1 - 1e-6 for c in d['cross_model_overlap'] for p in c['pairs'] if p['b'] == 2)" \
    "kronecker: another seed overlaps less"

expect_error 1 "--models needs at least one value" -- "$HESSE" kronecker --model "$T/m.safetensors" --models
expect_error 1 "--sizes" -- "$HESSE" samples --model "$T/m.safetensors" --sizes 100,x -o "$T/out.json"
finish
