# Distributed runs under mpirun with 2 and 3 ranks (3 oversubscribe the 2 cores CI machines
# have) against the serial run on the same samples and seeds; uneven shards (301 samples) and
# ranks that hold no sample of some classes; a rank killed with SIGKILL and a failing
# reduction end the run with a message and leave the last checkpoint whole.
. "$(dirname "$0")/../cli/lib.inc"

MPIEXEC=${MPIEXEC:-}
[ -n "$MPIEXEC" ] && [ -x "$MPIEXEC" ] || MPIEXEC=$(command -v mpirun || command -v mpiexec || true)
if [ -z "$MPIEXEC" ]; then
    echo "$(basename "$0"): skipped: no mpirun or mpiexec on PATH (Debian: openmpi-bin)" >&2
    exit 77
fi
# Open MPI refuses root without --allow-run-as-root; CMA single-copy is often denied in
# containers, and the TCP/shared-memory defaults are what loopback ranks need.
flags="--oversubscribe"
[ "$(id -u)" -eq 0 ] && flags="$flags --allow-run-as-root"
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mpi() {
    np=$1
    shift
    # shellcheck disable=SC2086
    "$MPIEXEC" $flags -np "$np" "$@" # local ranks inherit this environment
}
# Sanitizer build: Open MPI keeps allocations until the process ends. mpi_leaks suppresses
# them by library name (see the file; matching needs full stacks, which cost ~2 s per run), and
# hesse's own leaks are still reported; it runs the distributed code paths (shards, class
# means, factors, SLQ, Lanczos). The other runs check memory errors without leak checks.
mpi_leaks() {
    mpi "$@"
}
if [ "${HESSE_SANITIZE:-}" = 1 ]; then
    supp=$(cd "$(dirname "$0")" && pwd)/lsan-openmpi.supp
    asan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}
    export ASAN_OPTIONS="${asan}detect_leaks=0"
    mpi_leaks() {
        ASAN_OPTIONS="${asan}fast_unwind_on_malloc=0" \
            LSAN_OPTIONS="suppressions=$supp:print_suppressions=0" mpi "$@"
    }
fi
# Rank counts for the comparisons: the sanitizer build (where every start of a rank costs a
# second or more) checks memory on 3 ranks alone, which take every distributed code path.
# The kill test needs a run that lasts past its first checkpoint: fewer samples do under ASan.
counts="2 3"
big_samples=3000
[ "${HESSE_SANITIZE:-}" = 1 ] && counts=3 && big_samples=1000

# dist/ itself: sums, broadcasts and the end-of-run agreement over 3 real ranks.
if [ -n "${TEST_DIST:-}" ]; then
    checks=$((checks + 1))
    mpi_leaks 3 "$TEST_DIST" || fail "test_dist under mpirun -np 3"
fi

arch='avgpool2d(4),flatten,linear(49,6),tanh,linear(6,10)'
"$HESSE" train -q --arch "$arch" --samples 2000 --epochs 2 --lr 0.1 --no-test -o "$T/m.safetensors" ||
    fail "train"
common="--model $T/m.safetensors --samples 301 -q --threads 1"

# rel A B KEYS...: every number under the keys agrees within TOL relative (elementwise).
rel() {
    "$PY" - "$@" <<'PY'
import json, sys
tol = float(sys.argv[1]); a = json.load(open(sys.argv[2])); b = json.load(open(sys.argv[3]))
def get(d, path):
    for k in path.split("."):
        d = d[int(k)] if isinstance(d, list) else d[k]
    return d if isinstance(d, list) else [d]
bad = []
for path in sys.argv[4:]:
    x, y = get(a, path), get(b, path)
    if len(x) != len(y):
        bad.append("%s: %d vs %d values" % (path, len(x), len(y)))
        continue
    for i, (u, v) in enumerate(zip(x, y)):
        if abs(u - v) > tol * abs(u):
            bad.append("%s[%d]: %.17g vs %.17g" % (path, i, u, v))
print("True" if not bad else "; ".join(bad[:4]))
PY
}
check_rel() {
    what=$1
    shift
    checks=$((checks + 1))
    r=$(rel "$@" 2>&1) || { fail "$what: python error: $r"; return; }
    [ "$r" = "True" ] || fail "$what: $r"
}

# Serial references, then 2 and 3 ranks with the same seeds. The products differ only in
# the order of the sums over samples (rank blocks, then MPI's sum over ranks), which moves
# each product by rounding: converged eigenvalues, SLQ nodes and weights, the density and
# Hutch++'s trace move by ~1e-14 relative (measured); 1e-10 is the contract.
"$HESSE" spectrum $common --top 6 --bottom 6 --tol 1e-10 -o "$T/s1.json" || fail "spectrum serial"
"$HESSE" density $common --probes 6 --steps 40 -o "$T/d1.json" || fail "density serial"
"$HESSE" trace $common --probes 30 -o "$T/t1.json" || fail "trace serial"
for np in $counts; do
    mpi_leaks $np "$HESSE" spectrum $common --top 6 --bottom 6 --tol 1e-10 -o "$T/s$np.json" ||
        fail "spectrum -np $np"
    check_rel "spectrum -np $np: eigenvalues" 1e-10 "$T/s1.json" "$T/s$np.json" top bottom anorm loss
    check_py "$T/s$np.json" "d['distributed']['ranks'] == $np and d['data']['samples'] == 301 and d['converged'] == 12" \
        "spectrum -np $np: ranks, all 301 samples, converged"
    check_py "$T/s$np.json" "d['products'] == json.load(open('$T/s1.json'))['products']" \
        "spectrum -np $np: the serial run's products"
    mpi_leaks $np "$HESSE" density $common --probes 6 --steps 40 -o "$T/d$np.json" ||
        fail "density -np $np"
    check_rel "density -np $np: grid and density" 1e-10 "$T/d1.json" "$T/d$np.json" lo hi grid density
    # nodes can be near zero: relative to the spectral range; weights sum to one
    check_py "$T/d$np.json" "(lambda s: all(abs(u - v) <= 1e-10 * (s['hi'] - s['lo']) for q, r in zip(s['quadrature'], d['quadrature']) for u, v in zip(q['nodes'], r['nodes'])) and all(abs(u - v) <= 1e-10 for q, r in zip(s['quadrature'], d['quadrature']) for u, v in zip(q['weights'], r['weights'])))(json.load(open('$T/d1.json')))" \
        "density -np $np: SLQ nodes and weights"
    mpi $np "$HESSE" trace $common --probes 30 -o "$T/t$np.json" || fail "trace -np $np"
    check_rel "trace -np $np" 1e-10 "$T/t1.json" "$T/t$np.json" trace stderr lowrank_trace
done
# Only rank 0 writes: one JSON document on stdout (two would not parse as one).
checks=$((checks + 1))
mpi 3 "$HESSE" eval $common >"$T/eval.out" || fail "eval -np 3"
"$HESSE" eval $common -o "$T/e1.json" || fail "eval serial"
"$PY" -c "import json,sys; json.load(open(sys.argv[1]))" "$T/eval.out" 2>/dev/null ||
    fail "eval -np 3: stdout is not one JSON document"
check_rel "eval -np 3: loss and gradient norm" 1e-12 "$T/e1.json" "$T/eval.out" loss grad_norm accuracy

# classes on samples sorted by class: with 3 ranks each holds 3 or 4 classes, so every rank
# has empty classes. Class weights must be exact; the Gram spectra of the class means agree
# to rounding relative to the largest (their trailing values are near zero, where relative
# errors mean nothing), and the Lanczos spectra and traces as spectrum's do.
"$PY" - "$T/sorted.safetensors" "${HESSE_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}" <<'PY' ||
import gzip, json, struct, sys
out, src, n = sys.argv[1], sys.argv[2], 301
img = gzip.open(src + "/train-images-idx3-ubyte.gz").read()[16:16 + 784 * n]
lab = gzip.open(src + "/train-labels-idx1-ubyte.gz").read()[8:8 + n]
order = sorted(range(n), key=lambda i: (lab[i], i))
x = b"".join(img[784 * i:784 * (i + 1)] for i in order)
y = struct.pack("<%dq" % n, *(lab[i] for i in order))
h = json.dumps({"x": {"dtype": "U8", "shape": [n, 1, 28, 28], "data_offsets": [0, len(x)]},
                "y": {"dtype": "I64", "shape": [n], "data_offsets": [len(x), len(x) + len(y)]}}).encode()
open(out, "wb").write(struct.pack("<Q", len(h)) + h + x + y)
PY
    fail "sorted dataset"
sorted="--model $T/m.safetensors --data $T/sorted.safetensors --select first --samples 301 -q --threads 1 --top 12"
"$HESSE" classes $sorted -o "$T/c1.json" || fail "classes serial"
for np in $counts; do
    mpi_leaks $np "$HESSE" classes $sorted -o "$T/c$np.json" || fail "classes -np $np"
    check_py "$T/c$np.json" "(lambda s: d['class_weights'] == s['class_weights'] and d['backward_passes'] == s['backward_passes'])(json.load(open('$T/c1.json')))" \
        "classes -np $np: class weights exact"
    check_py "$T/c$np.json" "(lambda s: all(all(abs(u - v) <= 1e-10 * max(map(abs, s[k])) for u, v in zip(s[k], d[k])) for k in ('means_eigenvalues', 'class_eigenvalues', 'cross_eigenvalues')))(json.load(open('$T/c1.json')))" \
        "classes -np $np: Gram spectra of the class means"
    check_rel "classes -np $np: Lanczos spectra and traces" 1e-10 "$T/c1.json" "$T/c$np.json" \
        spectra.hessian.top spectra.ggn.top spectra.within.top spectra.residual.top \
        spectra.residual.bottom trace.ggn trace.means trace.within overlap.averaging_vs_hessian
done

# kronecker: the layer factors are reduced by the engine. M's last eigenvalue is zero to
# rounding (softmax's Hessian annihilates the ones vector), so M is compared relative to its
# largest value, and the outlier count of M (which depends on that zero's sign) is left out.
"$HESSE" kronecker $common --top 5 -o "$T/k1.json" || fail "kronecker serial"
mpi_leaks 3 "$HESSE" kronecker $common --top 5 -o "$T/k3.json" || fail "kronecker -np 3"
check_rel "kronecker -np 3: Kronecker and exact layer spectra" 1e-10 "$T/k1.json" "$T/k3.json" \
    layers.0.kron_top layers.0.exact_top layers.0.xx_eigenvalues layers.1.kron_top \
    layers.1.exact_top layers.1.xx_eigenvalues
check_py "$T/k3.json" "(lambda s: all(abs(u - v) <= 1e-10 * max(map(abs, a['M_eigenvalues'])) for a, b in zip(s['layers'], d['layers']) for u, v in zip(a['M_eigenvalues'], b['M_eigenvalues'])) and [l['outliers'] for l in s['layers']] == [l['outliers'] for l in d['layers']])(json.load(open('$T/k1.json')))" \
    "kronecker -np 3: M factors and outliers of the exact blocks"

# Errors that every rank meets are reported once, by rank 0.
checks=$((checks + 1))
mpi 2 "$HESSE" spectrum $common -o "$T/out.json" 2>"$T/err" && fail "spectrum without --top should fail"
[ "$(grep -c '^hesse spectrum: ' "$T/err")" -eq 1 ] || fail "one error line expected: $(cat "$T/err")"
grep -q 'give --top' "$T/err" || fail "the error should say what is missing: $(cat "$T/err")"
checks=$((checks + 1))
mpi 2 "$HESSE" train --arch "$arch" --samples 10 -o "$T/out.safetensors" 2>"$T/err" &&
    fail "train under mpirun should be refused"
grep -q 'hesse train: runs on one process' "$T/err" || fail "train refusal: $(cat "$T/err")"
checks=$((checks + 1))
mpi 3 "$HESSE" spectrum --model "$T/m.safetensors" --samples 2 --top 1 -q -o "$T/out.json" 2>"$T/err" &&
    fail "2 samples on 3 ranks should fail"
grep -q '2 samples cannot be shared among 3 ranks' "$T/err" || fail "too few samples: $(cat "$T/err")"

# A rank killed with SIGKILL after the first checkpoint: mpirun ends the job and names the
# rank; the checkpoint (written by rank 0, atomically) resumes to the uninterrupted result.
big="--model $T/m.safetensors --samples $big_samples -q --threads 1 --top 8 --bottom 4 --basis 16 --tol 1e-10"
mpi 2 "$HESSE" spectrum $big -o "$T/ref.json" || fail "reference -np 2"
mpi 2 "$HESSE" spectrum $big --checkpoint "$T/ck.bin" --checkpoint-every 0 -o "$T/killed.json" \
    2>"$T/kill.err" &
mp=$!
i=0
while [ ! -f "$T/ck.bin" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
# The ranks descend from the background job (mpirun's children); rank 1 by its environment.
victim=""
procs=$(pgrep -P $mp)
for p in $procs $(for q in $procs; do pgrep -P "$q"; done); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && victim=$p
done
checks=$((checks + 1))
if [ -n "$victim" ]; then kill -9 "$victim"; else fail "rank 1 not found among mpirun's children"; fi
wait $mp && fail "the job should fail when a rank is killed"
[ -f "$T/killed.json" ] && fail "the run finished before the kill (test inconclusive)"
grep -q 'rank 1 .*signal 9' "$T/kill.err" || fail "no message naming the killed rank: $(cat "$T/kill.err")"
mpi 2 "$HESSE" spectrum $big --resume "$T/ck.bin" -o "$T/resumed.json" || fail "resume -np 2"
check_py "$T/resumed.json" "(lambda r: d['top'] == r['top'] and d['bottom'] == r['bottom'] and d['products'] == r['products'])(json.load(open('$T/ref.json')))" \
    "resumed after a killed rank: the uninterrupted run's bits"

# SIGINT to the ranks (a terminal's Ctrl-C reaches them): every rank stops at the same solver
# boundary, saves the state and the job ends with 130, naming the checkpoint. (mpirun, when it
# is itself the one signalled, ends the job with its own exit code.)
rm -f "$T/ck.bin"
mpi 2 "$HESSE" spectrum $big --checkpoint "$T/ck.bin" --checkpoint-every 0 -o "$T/int.json" \
    2>"$T/int.err" &
mp=$!
i=0
while [ ! -f "$T/ck.bin" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
procs=$(pgrep -P $mp)
ranks=""
for p in $procs $(for q in $procs; do pgrep -P "$q"; done); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -q '^OMPI_COMM_WORLD_RANK=' && ranks="$ranks $p"
done
checks=$((checks + 1))
# shellcheck disable=SC2086
[ -n "$ranks" ] && kill -INT $ranks
wait $mp
got=$?
if [ -f "$T/int.json" ]; then
    echo "dist.sh: the run finished before SIGINT (SIGINT check inconclusive)" >&2
else
    [ "$got" -eq 130 ] || fail "SIGINT to the ranks: exit $got, expected 130: $(cat "$T/int.err")"
    grep -q "hesse spectrum: interrupted: stopped by a signal; state saved in" "$T/int.err" ||
        fail "SIGINT to the ranks: no message naming the checkpoint: $(cat "$T/int.err")"
fi

# A reduction that fails on rank 1 (as an MPI error would): rank 1 reports it, names itself,
# and ends the job, while rank 0 waits in the next reduction; the checkpoint stays whole.
rm -f "$T/ck.bin"
mpi 2 env HESSE_DIST_FAIL=1:80 "$HESSE" spectrum $big --checkpoint "$T/ck.bin" \
    --checkpoint-every 0 -o "$T/failed.json" 2>"$T/fail.err" && fail "an injected failure should fail"
checks=$((checks + 1))
grep -q 'hesse spectrum: rank 1 of 2: .*injected failure' "$T/fail.err" ||
    fail "no message from the failing rank: $(cat "$T/fail.err")"
grep -q 'ending the job' "$T/fail.err" || fail "no word that the job ends: $(cat "$T/fail.err")"
[ -f "$T/failed.json" ] && fail "a failed run wrote its result"
# The checkpoint does not depend on the number of ranks: a serial run resumes it.
"$HESSE" spectrum $big --resume "$T/ck.bin" -o "$T/resumed2.json" || fail "serial resume"
check_rel "a 2-rank checkpoint resumed by a serial run" 1e-10 "$T/ref.json" "$T/resumed2.json" \
    top bottom

# Ranks that disagree: a wrapper gives rank 1 another value of one option, or a smaller view of
# free memory (HESSE_MEM_AVAILABLE). Another option ends every rank before the first product
# with one message naming it, and no output; another view of memory changes nothing, since the
# defaults that follow memory are rank 0's on every rank (a basis chosen per rank ran mismatched
# reductions: "double free or corruption").
cat >"$T/rank1.sh" <<'SH'
#!/bin/sh
# rank1.sh OPTION VALUE MEM -- command...: on rank 1, OPTION gets VALUE and the memory view MEM.
opt=$1 val=$2 mem=$3
shift 4
if [ "${OMPI_COMM_WORLD_RANK:-0}" = 1 ]; then
    [ "$mem" = - ] || export HESSE_MEM_AVAILABLE="$mem"
    n=$#
    while [ $n -gt 0 ]; do
        a=$1
        shift
        n=$((n - 1))
        if [ "$a" = "$opt" ] && [ $n -gt 0 ]; then
            set -- "$@" "$a" "$val"
            shift
            n=$((n - 1))
            continue
        fi
        set -- "$@" "$a"
    done
fi
exec "$@"
SH
chmod +x "$T/rank1.sh"
disagree() { # disagree OPTION VALUE COMMAND ARGS...: the run must be refused, naming OPTION
    opt=$1 val=$2
    shift 2
    checks=$((checks + 1))
    rm -f "$T/dis.json"
    mpi 2 "$T/rank1.sh" "$opt" "$val" - -- "$HESSE" "$@" -o "$T/dis.json" 2>"$T/dis.err"
    got=$?
    [ "$got" -eq 1 ] || fail "rank 1 with $opt $val: exit $got, expected 1: $(cat "$T/dis.err")"
    grep -q "the ranks disagree on option $opt (rank 0: '$opt " "$T/dis.err" ||
        fail "rank 1 with $opt $val: no message naming $opt: $(cat "$T/dis.err")"
    [ "$(grep -c '^hesse ' "$T/dis.err")" -eq 1 ] || fail "rank 1 with $opt $val: not one message: $(cat "$T/dis.err")"
    [ -f "$T/dis.json" ] && fail "rank 1 with $opt $val: an output was written"
}
disagree --top 5 spectrum $common --top 6 --bottom 6 --tol 1e-10
disagree --basis 30 spectrum $common --top 6 --basis 40
disagree --operator ggn spectrum $common --top 6 --operator hessian
disagree --probes 7 density $common --probes 6 --steps 40
disagree --samples 300 eval $common
mpi 2 "$T/rank1.sh" none none 500000 -- "$HESSE" spectrum $common --top 6 --bottom 6 --tol 1e-10 \
    -o "$T/mem.json" 2>"$T/mem.err" || fail "rank 1 with less free memory: $(cat "$T/mem.err")"
check_rel "rank 1 with less free memory: the serial eigenvalues" 1e-10 "$T/s1.json" "$T/mem.json" top bottom
check_py "$T/mem.json" "d['solver']['basis'] == json.load(open('$T/s1.json'))['solver']['basis']" \
    "rank 1 with less free memory: rank 0's basis"

finish
