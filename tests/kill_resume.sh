#!/bin/sh
# SIGKILL at random moments during a Lanczos run (hesse spectrum) and an SLQ run (hesse
# density) that checkpoint at every restart / step, each killed run resumed from whatever
# checkpoint is on disk:
#   - after every kill, the checkpoint is absent or complete (magic, JSON header, the solver
#     state's size and CRC-32 as the header records them), and the output absent or complete
#     (present only when the kill came after it was renamed into place: then it is the
#     uninterrupted run's answer);
#   - every resumed chain finishes with the bits of the uninterrupted run (eigenvalues,
#     residuals and product count; density, grid, quadrature and product count).
# A chain that finishes before enough kills were made starts again from nothing, so the run
# always makes at least KILLS kills per solver.
#
#   HESSE=build/hesse tests/kill_resume.sh [KILLS]      (KILLS per solver, default 12)
#
# Environment: KILL_SEED (default 1) seeds the kill times; KILL_MAX_DELAY (seconds, default
# 1.2) bounds them. make test runs a short version (tests/cli/killresume.sh: 3 per solver).
set -u
: "${HESSE:?HESSE must name the hesse binary}"
kills_wanted=${1:-12}
seed=${KILL_SEED:-1}
max_delay=${KILL_MAX_DELAY:-1.2}
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/hesse-kill.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# The delay before kill number $1 (deterministic for a seed): uniform in [0, max_delay].
delay() {
    awk -v s="$seed" -v i="$1" -v m="$max_delay" 'BEGIN { srand(s * 7919 + i); printf "%.3f", rand() * m }'
}

# check_state CKPT OUT: the checkpoint is absent or whole; the output is absent or a whole
# JSON document.
check_state() {
    "$PY" - "$1" "$2" <<'PY'
import json, os, struct, sys, zlib
ckpt, out = sys.argv[1], sys.argv[2]
if os.path.exists(ckpt):
    raw = open(ckpt, "rb").read()
    assert raw[:8] == b"HESSECK1", "bad magic"
    hl = struct.unpack("<Q", raw[8:16])[0]
    assert 16 + hl <= len(raw), "header length beyond the file"
    head = json.loads(raw[16:16 + hl])
    blob = raw[16 + hl:]
    assert head["blob_bytes"] == len(blob), "solver state of %d bytes, header says %s" % (len(blob), head["blob_bytes"])
    assert "%08x" % zlib.crc32(blob) == head["blob_crc32"], "CRC-32 mismatch"
    assert blob[:8] in (b"HESSETRL", b"HESSESLQ"), "unknown solver state"
if os.path.exists(out):
    json.load(open(out))
PY
}

# same REF OUT KEYS...: the documents agree exactly on KEYS.
same() {
    "$PY" - "$@" <<'PY'
import json, sys
ref, out = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for k in sys.argv[3:]:
    assert ref[k] == out[k], "%s differs: %r vs %r" % (k, ref[k], out[k])
PY
}

arch='avgpool2d(4),flatten,linear(49,6),tanh,linear(6,10)'
"$HESSE" train -q --arch "$arch" --samples 2000 --epochs 2 --lr 0.1 --no-test -o "$T/m.safetensors" ||
    fail "train"
lanczos="spectrum --model $T/m.safetensors --samples 3000 -q --top 8 --bottom 4 --basis 16 --tol 1e-10"
slq="density --model $T/m.safetensors --samples 3000 -q --probes 6 --block 2 --steps 40"

total=0
k=0
for solver in lanczos slq; do
    if [ $solver = lanczos ]; then
        cmd=$lanczos
        keys="top bottom residuals_top residuals_bottom products"
    else
        cmd=$slq
        keys="grid density quadrature products"
    fi
    # shellcheck disable=SC2086
    "$HESSE" $cmd -o "$T/ref.json" || fail "$solver: the uninterrupted run"
    kills=0 chains=0 runs=0 temps=0
    ck="$T/$solver.ckpt"
    out="$T/$solver.json"
    rm -f "$ck" "$out"
    while :; do
        resume=""
        [ -f "$ck" ] && resume="--resume $ck"
        # shellcheck disable=SC2086
        "$HESSE" $cmd --checkpoint "$ck" --checkpoint-every 0 $resume -o "$out" 2>"$T/err" &
        pid=$!
        runs=$((runs + 1))
        code=
        if [ "$kills" -lt "$kills_wanted" ]; then
            k=$((k + 1))
            sleep "$(delay $k)"
            kill -9 "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            code=$?
            if [ $code -eq 137 ]; then
                kills=$((kills + 1))
                check_state "$ck" "$out" || fail "$solver: after kill $kills the files are not whole"
                n=$(ls "$ck".tmp.* "$out".tmp.* 2>/dev/null | wc -l)
                temps=$((temps + n))
                rm -f "$ck".tmp.* "$out".tmp.*
                if [ -f "$out" ]; then
                    # killed between renaming the output into place and exiting: the output
                    # must then be the whole, finished answer
                    same "$T/ref.json" "$out" $keys ||
                        fail "$solver: the output of a run killed as it finished differs"
                    chains=$((chains + 1))
                    rm -f "$ck" "$out"
                fi
                continue
            fi
        fi
        [ -n "$code" ] || {
            wait "$pid"
            code=$?
        }
        if [ $code -ne 0 ]; then
            fail "$solver: a resumed run failed (exit $code): $(cat "$T/err")"
            break
        fi
        check_state "$ck" "$out" || fail "$solver: the finished run's files are not whole"
        same "$T/ref.json" "$out" $keys || fail "$solver: chain $((chains + 1)) differs from the uninterrupted run"
        chains=$((chains + 1))
        rm -f "$ck" "$out"
        [ "$kills" -lt "$kills_wanted" ] || break
    done
    echo "kill_resume: $solver: $kills kills over $runs runs in $chains resumed chains, each" \
        "bit-identical to the uninterrupted run ($temps temporary files of killed writers removed)" >&2
    total=$((total + kills))
done
echo "kill_resume: $total kills, $failures failures" >&2
[ "$failures" -eq 0 ]
