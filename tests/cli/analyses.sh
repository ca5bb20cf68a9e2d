# classes, samples and kronecker on a small network: the JSON contracts of docs/results.md and
# the identities between their numbers.
. "$(dirname "$0")/lib.inc"

arch='avgpool2d(4),flatten,linear(49,6),tanh,linear(6,10)'
"$HESSE" train -q --arch "$arch" --samples 2000 --epochs 2 --lr 0.1 --no-test -o "$T/m.safetensors" ||
    fail "train"
"$HESSE" train -q --arch "$arch" --samples 2000 --epochs 2 --lr 0.1 --no-test --seed 7 -o "$T/m2.safetensors" ||
    fail "train 2"

# classes: Gram spectra of G_means and its parts, Lanczos spectra, overlaps, traces
"$HESSE" classes -q --model "$T/m.safetensors" --samples 300 --top 12 --svg "$T/c.svg" \
    --density --density-probes 3 --density-steps 20 -o "$T/c.json" || fail "classes"
check_py "$T/c.json" "d['classes'] == 10 and len(d['means_eigenvalues']) == 100 and len(d['class_eigenvalues']) == 10 and len(d['cross_eigenvalues']) == 90" \
    "classes: C^2, C, C(C-1) eigenvalues"
check_py "$T/c.json" "abs(sum(d['class_eigenvalues']) + sum(d['cross_eigenvalues']) - sum(d['means_eigenvalues'])) <= 1e-10 * sum(d['means_eigenvalues'])" \
    "classes: tr G_class + tr G_cross = tr G_means"
check_py "$T/c.json" "abs(d['trace']['means'] - sum(d['means_eigenvalues'])) <= 1e-12 * d['trace']['means']" \
    "classes: trace of G_means from its spectrum"
# tr G_within is tr G - tr G_means from one estimate: the identity holds to rounding
check_py "$T/c.json" "abs(d['trace']['ggn'] - d['trace']['means'] - d['trace']['within']) <= 1e-13 * d['trace']['ggn'] and abs(d['trace']['identity_gap']) <= 1e-13 * d['trace']['ggn'] and d['trace']['within_stderr'] == d['trace']['ggn_stderr']" \
    "classes: tr G = tr G_means + tr G_within to rounding"
# the independent Hutch++ estimate of tr G_within agrees with the derived one
check_py "$T/c.json" "(t := d['trace']) and abs(t['within_hutchpp'] - t['within'] - t['within_hutchpp_gap']) <= 1e-12 * t['ggn'] and abs(t['within_hutchpp_gap']) <= 4 * t['within_hutchpp_gap_stderr']" \
    "classes: independent estimate of tr G_within within 4 standard errors"
# the two-way split: its four parts add up to tr G_means, and so do Papyan's three
check_py "$T/c.json" "(w := d['two_way']) and abs(w['total'] - d['trace']['means']) == 0 and abs(w['grand_mean'] + w['class_effect'] + w['label_effect'] + w['interaction'] - w['total']) <= 1e-12 * w['total'] and abs(w['class_terms'] + w['cross_class_means'] + w['cross_deviations'] - w['total']) <= 1e-12 * w['total'] and abs(w['share_grand_mean'] + w['share_class_effect'] + w['share_label_effect'] + w['share_interaction'] - 1) <= 1e-12" \
    "classes: two-way parts add up to tr G_means"
check_py "$T/c.json" "(w := d['two_way']) and abs(w['class_terms'] - sum(d['class_eigenvalues'])) <= 1e-10 * w['total'] and abs(w['cross_class_means'] + w['cross_deviations'] - sum(d['cross_eigenvalues'])) <= 1e-10 * w['total']" \
    "classes: Papyan's split against the Gram spectra of G_class and G_cross"
# --density: every operator on one grid, each integrating to 1; the exact ones have their
# first moment at tr / n (a Gaussian keeps the mean)
check_py "$T/c.json" "(D := d['densities']) and (g := D['grid']) and (ops := D['operators']) and set(ops) == {'hessian','ggn','within','residual','means','class','cross'} and all(len(o['density']) == len(g) and abs(sum((g[i+1]-g[i])*(o['density'][i]+o['density'][i+1])/2 for i in range(len(g)-1)) - 1) < 1e-9 for o in ops.values()) and [ops[k]['method'] for k in ('means','class','cross')] == ['exact'] * 3" \
    "classes: densities on one grid"
check_py "$T/c.json" "(D := d['densities']) and (g := D['grid']) and (o := D['operators']['means']['density']) and (m1 := sum((g[i+1]-g[i])*(g[i]*o[i]+g[i+1]*o[i+1])/2 for i in range(len(g)-1))) is not None and abs(m1 - d['trace']['means'] / d['dimension']) <= 1e-4 * d['trace']['means'] / d['dimension'] + 1e-6 * (g[-1] - g[0])" \
    "classes: the exact G_means density has mean tr G_means / n"
# the G_within density has no mass beyond G_within's top eigenvalue (G's has: its top is higher)
check_py "$T/c.json" "(D := d['densities']) and (g := D['grid']) and (t := d['spectra']['within']['top'][0] + 5 * D['sigma']) and all((sum((g[i+1]-g[i])*(o[i]+o[i+1])/2 for i in range(len(g)-1) if g[i] > t) < 1e-6) == (k == 'within') for k in ('within', 'ggn') for o in [D['operators'][k]['density']])" \
    "classes: the G_within density ends at G_within's top, G's goes beyond"

# the report's classes section: the identity's verdict, the two-way table and its verdict, and
# one figure with every density named in its legend
"$HESSE" report -q "$T/c.json" -o "$T/c.html" || fail "report of classes"
checks=$((checks + 1))
"$PY" - "$T/c.html" "$T/c.json" <<'PY' || fail "report of classes: content"
import json, re, sys
page, d = open(sys.argv[1], encoding="utf-8").read(), json.load(open(sys.argv[2]))
assert "so the gap is rounding" in page and "verdict ok\">Trace identity" in page
add = d["two_way"]["additive_share"]
assert re.search(r"explain %.1f %% of their variation about the grand mean" % (100 * add), page)
figs = [f for f in re.findall(r"<figure.*?</figure>", page, re.S) if "Spectral densities of the decomposition" in f]
assert len(figs) == 1, len(figs)
for label in ("H (SLQ)", "G (SLQ)", "E = H − G (SLQ)", "G_within (SLQ)", "G_means (exact)", "G_class (exact)", "G_cross (exact)"):
    assert ">%s<" % label in figs[0], label
PY

# density of the decomposition's operators: gmeans exactly (its nodes are the Gram eigenvalues),
# gwithin by SLQ over G - G_means
"$HESSE" density -q --model "$T/m.safetensors" --samples 300 --select balanced --operator gmeans -o "$T/dm.json" ||
    fail "density gmeans"
check_py "$T/dm.json" "d['operator'] == 'gmeans' and d['solver']['method'] == 'exact' and d['products'] == 0 and d['backward_passes'] == 100" \
    "density: gmeans exact"
"$HESSE" density -q --model "$T/m.safetensors" --samples 300 --select balanced --operator gmeans --method slq --probes 4 --steps 40 -o "$T/dms.json" ||
    fail "density gmeans slq"
# SLQ over the rank-100 operator against its exact density: the same mass above half of the
# top eigenvalue, 100/n of it, to the sampling error of 4 probes
check_py "$T/dms.json" "(e := json.load(open('$T/dm.json'))) and (c := json.load(open('$T/c.json'))) and (top := c['means_eigenvalues'][0]) and (mass := lambda x: sum((x['grid'][i+1]-x['grid'][i])*(x['density'][i]+x['density'][i+1])/2 for i in range(len(x['grid'])-1) if x['grid'][i] > top / 2)) and (d['operator'] == 'gmeans' and d['solver']['method'] == 'slq' and abs(mass(d) - mass(e)) <= 0.5 * mass(e) + 1e-3)" \
    "density: gmeans by SLQ against its exact density"
for op in gclass gcross; do
    "$HESSE" density -q --model "$T/m.safetensors" --samples 300 --select balanced --operator $op -o "$T/d$op.json" ||
        fail "density $op"
done
check_py "$T/dgclass.json" "d['operator'] == 'gclass' and d['solver']['method'] == 'exact'" "density: gclass"
"$HESSE" density -q --model "$T/m.safetensors" --samples 300 --select balanced --operator gwithin --probes 4 --steps 40 -o "$T/dw.json" ||
    fail "density gwithin"
# G_within = G - G_means: the largest Ritz value of its quadrature is the top eigenvalue classes'
# Lanczos found for G_within (40 steps on n = 370 converge the extreme one)
check_py "$T/dw.json" "(c := json.load(open('$T/c.json'))) and d['operator'] == 'gwithin' and abs(max(max(q['nodes']) for q in d['quadrature']) - c['spectra']['within']['top'][0]) <= 1e-6 * c['spectra']['within']['top'][0]" \
    "density: gwithin's top Ritz value is G_within's top eigenvalue"
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
