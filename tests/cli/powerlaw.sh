# hesse powerlaw: the result keys, the fit recomputed independently, the three eigenvalue
# file formats giving the same fit, the Lanczos route against hesse spectrum, the plot, the
# cap on K, and bad inputs.
. "$(dirname "$0")/lib.inc"

arch='avgpool2d(4),flatten,linear(49,6),tanh,linear(6,10)'
"$HESSE" train -q --arch "$arch" --samples 300 --epochs 2 --lr 0.1 --no-test -o "$T/m.safetensors" ||
    fail "train"
common="--model $T/m.safetensors --samples 300"

# ---- With a model: Lanczos for the top 50, then the fit -----------------------------------
"$HESSE" spectrum $common -q --top 50 --tol 1e-10 -o "$T/spec.json" || fail "spectrum"
"$HESSE" powerlaw $common --top 50 --tol 1e-10 --svg "$T/pl.svg" -o "$T/pl.json" 2>"$T/pl.err" ||
    fail "powerlaw --model: $(cat "$T/pl.err")"
check_py "$T/pl.json" "d['schema'] == 'hesse.powerlaw/1' and all(k in d for k in ('hesse_version', 'command_line', 'created', 'blas', 'K', 'K_requested', 'eigenvalues', 'fit', 'source', 'model', 'data', 'operator', 'dimension', 'tensors', 'loss', 'accuracy', 'products', 'seconds', 'residuals', 'svg'))" \
    "result keys"
check_py "$T/pl.json" "sorted(d['fit']) == sorted(['s_ls', 'intercept_ls', 'r2_ls', 'beta', 'beta_stderr', 's_mle', 'd_ks', 'd_c', 'accepted', 'lambda_min', 'lambda_max', 'dropped'])" \
    "fit keys"
check_py "$T/pl.json" "d['source'] == 'lanczos' and d['K_requested'] == 50 and 'K_cap' not in d and d['dimension'] == 370" \
    "source and K"
# The fitted eigenvalues are the positive ones of hesse spectrum --top 50 with the same
# tolerance: each within 1e-8 lambda_1 (both runs are within 1e-10 ||H|| of the exact values).
check_py "$T/pl.json" "(lambda s: d['K'] == len([x for x in s if x > 0]) == len(d['eigenvalues']) and d['fit']['dropped'] == 50 - d['K'] and all(abs(a - b) <= 1e-8 * s[0] for a, b in zip(d['eigenvalues'], s)))(json.load(open('$T/spec.json'))['top'])" \
    "eigenvalues equal hesse spectrum's"
check_py "$T/pl.json" "d['eigenvalues'] == sorted(d['eigenvalues'], reverse=True) and min(d['eigenvalues']) > 0 and len(d['residuals']) == d['K'] and max(d['residuals']) <= 1e-10 * d['anorm']" \
    "descending, positive, residuals below the tolerance"
# The fit recomputed here from the listed eigenvalues, by the formulas of PAPERS.md section 1
# (to 1e-12 relative: the same sums in another order).
checks=$((checks + 1))
"$PY" - "$T/pl.json" <<'PY' || fail "fit recomputed independently"
import json, math, sys
d = json.load(open(sys.argv[1]))
lam, f = d["eigenvalues"], d["fit"]
K = len(lam)
xs = [math.log(k) for k in range(1, K + 1)]
ys = [math.log(l) for l in lam]
mx, my = sum(xs) / K, sum(ys) / K
sxx = sum((x - mx) ** 2 for x in xs)
sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
syy = sum((y - my) ** 2 for y in ys)
b = sxy / sxx
a = my - b * mx
r2 = 1 - sum((y - a - b * x) ** 2 for x, y in zip(xs, ys)) / syy
beta = 1 + K / sum(math.log(l / lam[-1]) for l in lam)
asc = lam[::-1]
F = [1 - (x / asc[0]) ** (1 - beta) for x in asc]
dks = max(max(F[i] - i / K, (i + 1) / K - F[i]) for i in range(K))
def close(u, v, what, tol=1e-12):
    assert abs(u - v) <= tol * max(abs(u), abs(v), 1e-300), (what, u, v)
close(f["s_ls"], -b, "s_ls"); close(f["intercept_ls"], a, "intercept"); close(f["r2_ls"], r2, "r2")
close(f["beta"], beta, "beta"); close(f["beta_stderr"], (beta - 1) / math.sqrt(K), "stderr")
close(f["s_mle"], 1 / (beta - 1), "s_mle"); close(f["d_ks"], dks, "d_ks", 1e-10)
close(f["d_c"], 1.36 / math.sqrt(K), "d_c")
assert f["accepted"] == (f["d_ks"] < f["d_c"])
assert f["lambda_max"] == lam[0] and f["lambda_min"] == lam[-1]
PY
checks=$((checks + 1))
grep -Eq "^powerlaw: K = [0-9]+.*s_ls = .*beta = .* \+- .*s = .*d_KS = .* vs d_c = .*: power law (accepted|rejected)$" "$T/pl.err" ||
    fail "summary line on stderr: $(cat "$T/pl.err")"
checks=$((checks + 1))
"$PY" -c "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])" "$T/pl.svg" || fail "pl.svg is not XML"

# ---- From files: a spectrum JSON, a dense JSON and a text file with the same values -------
"$HESSE" dense $common -q -o "$T/dense.json" --csv "$T/dense.csv" || fail "dense"
"$PY" - "$T" <<'PY' || fail "writing the eigenvalue files"
import json, random, sys
t = sys.argv[1]
ev = json.load(open(t + "/dense.json"))["eigenvalues"]  # ascending, all 370
top = sorted(ev, reverse=True)[:50]
json.dump({"top": top, "bottom": []}, open(t + "/as-spectrum.json", "w"))
random.seed(1)
shuffled = top[:]
random.shuffle(shuffled)
open(t + "/top.txt", "w").write("lambda\n\n" + "".join(" %r \n" % x for x in shuffled))
PY
"$HESSE" powerlaw -q --eigenvalues "$T/dense.json" --top 50 -o "$T/f-dense.json" || fail "fit dense.json"
"$HESSE" powerlaw -q --eigenvalues "$T/dense.csv" --top 50 -o "$T/f-csv.json" || fail "fit dense.csv"
"$HESSE" powerlaw -q --eigenvalues "$T/as-spectrum.json" -o "$T/f-spec.json" || fail "fit a spectrum json"
"$HESSE" powerlaw -q --eigenvalues "$T/top.txt" --svg "$T/f-txt.svg" -o "$T/f-txt.json" || fail "fit top.txt"
for f in f-csv f-spec f-txt; do
    check_py "$T/$f.json" "(lambda e: d['fit'] == e['fit'] and d['eigenvalues'] == e['eigenvalues'] and d['K'] == e['K'])(json.load(open('$T/f-dense.json')))" \
        "$f: the same fit as from dense.json"
done
check_py "$T/f-dense.json" "d['source'] == '$T/dense.json' and d['K_requested'] == 50 and 'model' not in d and 'products' not in d" \
    "file source"
check_py "$T/f-spec.json" "d['K_requested'] == 1000 and d['K'] == 50 - d['fit']['dropped']" "default K"
checks=$((checks + 1))
"$PY" -c "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])" "$T/f-txt.svg" || fail "f-txt.svg is not XML"
# The dense top 50 are Lanczos's to 1e-8 lambda_1, so the fits agree to ~1e-8 lambda_1 /
# lambda_K relative in each log term: 1e-5 relative is far above that.
check_py "$T/f-dense.json" "(lambda e: d['K'] == e['K'] and all(abs(d['fit'][k] - e['fit'][k]) <= 1e-5 * abs(e['fit'][k]) for k in ('s_ls', 'beta', 's_mle', 'r2_ls')))(json.load(open('$T/pl.json')))" \
    "dense and Lanczos fits agree"
# the spectrum result itself: its fit agrees with the run with --model (the same eigenvalues to
# 1e-8 lambda_1, as checked above)
"$HESSE" powerlaw -q --eigenvalues "$T/spec.json" -o "$T/f-lz.json" || fail "fit spec.json"
check_py "$T/f-lz.json" "(lambda e: d['K'] == e['K'] and all(abs(d['fit'][k] - e['fit'][k]) <= 1e-5 * abs(e['fit'][k]) for k in ('s_ls', 'beta', 's_mle', 'r2_ls')))(json.load(open('$T/pl.json')))" \
    "spec.json gives the fit of the run with --model"

# A checkpoint written at every restart resumes to the same bits
"$HESSE" powerlaw $common -q --top 50 --tol 1e-10 --checkpoint "$T/c.ckpt" --checkpoint-every 0 \
    -o "$T/ck.json" || fail "powerlaw --checkpoint"
"$HESSE" powerlaw $common -q --top 50 --tol 1e-10 --resume "$T/c.ckpt" -o "$T/re.json" || fail "powerlaw --resume"
check_py "$T/re.json" "(lambda e: d['eigenvalues'] == e['eigenvalues'] and d['fit'] == e['fit'] and d['solver']['resumed_from'] == '$T/c.ckpt')(json.load(open('$T/ck.json')))" \
    "resumed run equals the uninterrupted one"

# ---- The cap: K at most the dimension - 1, stated on stderr; here the cap reaches the last
# layer's null space (A 1 = 0 for softmax: 7 zero eigenvalues of its 70), whose rounding-level
# "positive" values no tolerance can resolve: the guard refuses (exit 3) and says why ---------
"$HESSE" powerlaw $common --layer 4 --svg "$T/cap.svg" -o "$T/cap.json" 2>"$T/cap.err" &&
    fail "capped run into the null space: expected a refusal"
checks=$((checks + 1))
grep -q "capped at 69" "$T/cap.err" || fail "no note about the cap: $(cat "$T/cap.err")"
checks=$((checks + 1))
grep -q "the top 69 eigenvalues span .* decades.*fit fewer values" "$T/cap.err" ||
    fail "no reason for the refusal: $(cat "$T/cap.err")"
checks=$((checks + 1))
[ ! -e "$T/cap.json" ] || fail "a refused run wrote its output"
# The cap in the JSON, on a block the guard accepts: the hidden layer's 6 biases (K capped at 5).
"$HESSE" powerlaw $common --layer 2.bias --top 100 -o "$T/cap3.json" 2>"$T/cap3.err" ||
    fail "capped run: $(cat "$T/cap3.err")"
check_py "$T/cap3.json" "d['K_requested'] == 100 and d['K_cap'] == d['dimension'] - 1 and d['K'] + d['fit']['dropped'] == d['K_cap'] and d['tol_guard']['accuracy'] <= 1e-3" \
    "K capped at the dimension - 1, within the guard"

# ---- Bad inputs: one line, exit 2, no output ------------------------------------------------
o="-o $T/out.json --svg $T/out.svg"
expect_error 2 "nope\.txt" -- "$HESSE" powerlaw --eigenvalues "$T/nope.txt" $o
printf 'eigenvalue\n3\n0\n-1\n2\n' >"$T/two.txt"
expect_error 2 "two\.txt.*2 positive values.*at least 3" -- "$HESSE" powerlaw --eigenvalues "$T/two.txt" $o
printf '3\n2\nabc\n1\n' >"$T/word.txt"
expect_error 2 "word\.txt:3: expected a number, got 'abc'" -- "$HESSE" powerlaw --eigenvalues "$T/word.txt" $o
printf 'eigenvalue\n3\nnan\n1\n' >"$T/nan.txt"
expect_error 2 "nan\.txt:3: expected a finite number" -- "$HESSE" powerlaw --eigenvalues "$T/nan.txt" $o
printf '{"bottom": [1, 2, 3]}' >"$T/nokey.json"
expect_error 2 "nokey\.json: expected a 'top' array" -- "$HESSE" powerlaw --eigenvalues "$T/nokey.json" $o
printf '{"top": [3, null, 1, 0.5]}' >"$T/null.json"
expect_error 2 "null\.json: top\[1\] is null" -- "$HESSE" powerlaw --eigenvalues "$T/null.json" $o
printf '{"top": [3, 2' >"$T/cut.json"
expect_error 2 "cut\.json: not valid JSON" -- "$HESSE" powerlaw --eigenvalues "$T/cut.json" $o
printf 'eigenvalue\n' >"$T/header.txt"
expect_error 2 "header\.txt: no eigenvalues" -- "$HESSE" powerlaw --eigenvalues "$T/header.txt" $o
# usage errors name the options
expect_error 1 "--eigenvalues and --model" -- "$HESSE" powerlaw --eigenvalues "$T/top.txt" $common $o
expect_error 1 "--eigenvalues FILE.*--model M" -- "$HESSE" powerlaw $o
expect_error 1 "option --tol needs --model" -- "$HESSE" powerlaw --eigenvalues "$T/top.txt" --tol 1e-8 $o

finish
