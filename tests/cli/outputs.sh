# Outputs (docs/errors.md, "Outputs"): a failed write to standard output is an error for every
# command; no output replaces an input (by name, through a symbolic link, as a hard link, or a
# data directory's file); devices, FIFOs and /dev/std* are written in place and never replaced;
# a symbolic link is written through; a write-protected file is refused; when a command fails
# after writing some outputs, none of them stays.
. "$(dirname "$0")/lib.inc"

arch='avgpool2d(4),flatten,linear(49,6),tanh,linear(6,10)'
"$HESSE" train -q --arch "$arch" --samples 200 --epochs 1 --no-test -o "$T/m.safetensors" ||
    fail "training the fixture model"
cp "$T/m.safetensors" "$T/m.orig"
s="--model $T/m.safetensors --samples 200 -q"

# expect CODE PATTERN -- command...: exit code and a stderr line matching PATTERN.
expect() {
    code=$1 pattern=$2
    shift 3
    checks=$((checks + 1))
    "$@" >"$T/stdout" 2>"$T/stderr"
    got=$?
    [ "$got" -eq "$code" ] || fail "exit $got, expected $code: $* -- $(cat "$T/stderr")"
    grep -Eq -- "$pattern" "$T/stderr" || fail "stderr '$(cat "$T/stderr")' does not match '$pattern': $*"
}
# unchanged: the model is still the original.
unchanged() {
    checks=$((checks + 1))
    cmp -s "$T/m.safetensors" "$T/m.orig" || fail "$1: the model file was changed"
    cp "$T/m.orig" "$T/m.safetensors"
}

# ---- 1. Standard output: full, closed -------------------------------------------------------
"$HESSE" spectrum $s --top 6 -o "$T/top.json" || fail "spectrum for powerlaw"
for cmd in "eval $s" "spectrum $s --top 2" "density $s --probes 2 --steps 8" \
    "trace $s --probes 4" "powerlaw --eigenvalues $T/top.json" "dense $s" "info --json" \
    "report $T/top.json"; do
    # shellcheck disable=SC2086
    expect 4 "^hesse [a-z]+: I/O error: standard output: writing: No space left on device$" -- \
        sh -c 'exec "$@" >/dev/full' sh "$HESSE" $cmd
    # shellcheck disable=SC2086
    expect 4 "^hesse [a-z]+: I/O error: standard output: writing: Bad file descriptor$" -- \
        sh -c 'exec "$@" >&-' sh "$HESSE" $cmd
done
expect 4 "^hesse: I/O error: standard output: writing: No space left on device$" -- \
    sh -c 'exec "$@" >/dev/full' sh "$HESSE" --help

# ---- 2. Inputs are never outputs ---------------------------------------------------------------
same="is the same file as option --model"
expect 1 "option --output: .* $same" -- "$HESSE" eval $s -o "$T/m.safetensors"
unchanged "eval -o MODEL"
for opt in --vectors --svg --checkpoint; do
    expect 1 "option $opt: .* $same" -- "$HESSE" spectrum $s --top 2 "$opt" "$T/m.safetensors" -o "$T/out.json"
    unchanged "spectrum $opt MODEL"
done
no_file "$T/out.json"
ln -s m.safetensors "$T/link.safetensors"
ln "$T/m.safetensors" "$T/hard.safetensors"
expect 1 "option --output: .*link\.safetensors' $same" -- "$HESSE" eval $s -o "$T/link.safetensors"
unchanged "eval -o LINK-TO-MODEL"
expect 1 "option --output: .*hard\.safetensors' $same" -- "$HESSE" eval $s -o "$T/hard.safetensors"
unchanged "eval -o HARD-LINK-OF-MODEL"
expect 1 "option --output: .* is the same file as option --init" -- \
    "$HESSE" train --init "$T/m.safetensors" --samples 20 --epochs 1 --no-test -q -o "$T/m.safetensors"
unchanged "train --init MODEL -o MODEL"
"$HESSE" train -q --arch "$arch" --samples 20 --epochs 1 --no-test -o "$T/t.safetensors" --json "$T/t.json" ||
    fail "train --json"
expect 1 "option --json: .* is the same file as option --output" -- \
    "$HESSE" train -q --arch "$arch" --samples 20 --epochs 1 --no-test -o "$T/t.json" --json "$T/t.json"
# a data file, and a file inside a data directory
"$PY" - "$T/d.safetensors" <<'PY' || fail "making a data file"
import json, struct, sys
n = 20
x, y = bytes(range(256)) * (n * 784 // 256) + bytes(n * 784 % 256), struct.pack("<%dq" % n, *[i % 10 for i in range(n)])
h = json.dumps({"x": {"dtype": "U8", "shape": [n, 1, 28, 28], "data_offsets": [0, len(x)]},
                "y": {"dtype": "I64", "shape": [n], "data_offsets": [len(x), len(x) + len(y)]}}).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + x + y)
PY
cp "$T/d.safetensors" "$T/d.orig"
expect 1 "option --output: .* is the same file as option --data" -- \
    "$HESSE" eval --model "$T/m.safetensors" --data "$T/d.safetensors" -q -o "$T/d.safetensors"
checks=$((checks + 1))
cmp -s "$T/d.safetensors" "$T/d.orig" || fail "eval -o DATA: the data file was changed"
mkdir "$T/idx"
cp /usr/share/datasets/fashion-mnist/train-*-idx*-ubyte.gz "$T/idx/" 2>/dev/null &&
    expect 1 "option --output: .*train-labels-idx1-ubyte\.gz' is the same file as option --data" -- \
        "$HESSE" eval --model "$T/m.safetensors" --data "$T/idx" --samples 10 -q -o "$T/idx/train-labels-idx1-ubyte.gz"
cp "$T/top.json" "$T/a.json"
expect 1 "option --output: .*a\.json' is the same file as input file" -- "$HESSE" report "$T/a.json" -o "$T/a.json"
checks=$((checks + 1))
cmp -s "$T/a.json" "$T/top.json" || fail "report -o INPUT: the input was changed"
# a checkpoint may be the file it resumes from
"$HESSE" spectrum $s --top 2 --basis 8 --max-restarts 1 --checkpoint "$T/ck" --checkpoint-every 0 \
    -o "$T/ck.json" 2>/dev/null
checks=$((checks + 1))
"$HESSE" spectrum $s --top 2 --basis 8 --checkpoint "$T/ck" --resume "$T/ck" --keep-checkpoint \
    -o "$T/ck2.json" 2>"$T/err" ||
    fail "--checkpoint F --resume F: $(cat "$T/err")"
expect 1 "option --output: .* is the same file as option --resume" -- \
    "$HESSE" spectrum $s --top 2 --basis 8 --resume "$T/ck" -o "$T/ck"

# ---- 3. Special files: written in place, never replaced --------------------------------------
# As root the devices are nodes made here (a hesse that replaced them would replace these, not
# the system's); /dev/fd/1 lies in /proc, where nothing can be created.
NULL=/dev/null FULL=/dev/full
if [ "$(id -u)" -eq 0 ] && mknod "$T/null" c 1 3 2>/dev/null && mknod "$T/full" c 1 7 2>/dev/null &&
    echo x >"$T/null" 2>/dev/null; then
    NULL=$T/null FULL=$T/full
fi
for dev in $NULL /dev/fd/1; do
    checks=$((checks + 1))
    "$HESSE" eval $s -o $dev >"$T/stdout" 2>"$T/err" || fail "eval -o $dev: $(cat "$T/err")"
done
checks=$((checks + 1))
[ -c $NULL ] || fail "$NULL is no longer a character device"
"$PY" -c "import json,sys; json.load(open(sys.argv[1]))" "$T/stdout" || fail "eval -o /dev/fd/1: not JSON"
checks=$((checks + 1))
"$HESSE" density $s --probes 2 --steps 8 --svg $NULL -o $NULL 2>"$T/err" || fail "density --svg $NULL: $(cat "$T/err")"
no_file $NULL.svg $NULL-log.svg
checks=$((checks + 1))
[ -c $NULL ] || fail "$NULL is no longer a character device"
expect 4 "full: writing: No space left on device" -- "$HESSE" density $s --probes 2 --steps 8 --svg $FULL -o "$T/out.json"
no_file $FULL.svg $FULL-log.svg "$T/out.json"
# a FIFO: written in place, read by a reader that was waiting
mkfifo "$T/fifo"
timeout 60 cat "$T/fifo" >"$T/fifo.out" &
reader=$!
checks=$((checks + 1))
timeout 60 "$HESSE" eval $s -o "$T/fifo" 2>"$T/err" || fail "eval -o FIFO: $(cat "$T/err")"
wait $reader
[ -p "$T/fifo" ] || fail "the FIFO was replaced"
"$PY" -c "import json,sys; json.load(open(sys.argv[1]))" "$T/fifo.out" || fail "eval -o FIFO: not JSON"
# a symbolic link: its target replaced, the link kept
echo old >"$T/target.json"
ln -s target.json "$T/out-link.json"
checks=$((checks + 1))
"$HESSE" eval $s -o "$T/out-link.json" 2>"$T/err" || fail "eval -o LINK: $(cat "$T/err")"
[ -L "$T/out-link.json" ] || fail "the symbolic link was replaced"
"$PY" -c "import json,sys; json.load(open(sys.argv[1]))" "$T/target.json" || fail "eval -o LINK: the target is not the result"
# a write-protected file: refused, kept
echo keep >"$T/ro.json"
chmod 444 "$T/ro.json"
expect 4 "ro\.json: is write-protected \(mode 0444\)" -- "$HESSE" eval $s -o "$T/ro.json"
checks=$((checks + 1))
[ "$(cat "$T/ro.json")" = keep ] || fail "the write-protected file was changed"
# an existing file keeps its mode
echo old >"$T/mode.json"
chmod 640 "$T/mode.json"
"$HESSE" eval $s -o "$T/mode.json" || fail "eval -o an existing file"
checks=$((checks + 1))
[ "$(stat -c %a "$T/mode.json")" = 640 ] || fail "the file's mode changed to $(stat -c %a "$T/mode.json")"

# ---- 4. No partial outputs: the last write fails, the earlier outputs go too -----------------
expect 4 "full: writing: No space left on device" -- \
    "$HESSE" density $s --probes 2 --steps 8 --svg "$T/U.svg" -o $FULL
no_file "$T/U.svg" "$T/U-log.svg"
expect 4 "full: writing: No space left on device" -- \
    "$HESSE" spectrum $s --top 2 --svg "$T/S.svg" --vectors "$T/V.safetensors" -o $FULL
no_file "$T/S.svg" "$T/V.safetensors"
expect 4 "full: writing: No space left on device" -- \
    "$HESSE" dense $s --csv "$T/ev.csv" -o $FULL
no_file "$T/ev.csv"
expect 4 "standard output: writing: No space left on device" -- \
    sh -c 'exec "$@" >/dev/full' sh "$HESSE" spectrum $s --top 2 --svg "$T/S.svg" --vectors "$T/V.safetensors"
no_file "$T/S.svg" "$T/V.safetensors"
# the file-size limit: the plots are small, the eigenvectors are not
checks=$((checks + 1))
(
    trap '' XFSZ
    ulimit -f 8
    exec "$HESSE" spectrum $s --top 4 --svg "$T/S.svg" --vectors "$T/V.safetensors" -o "$T/S.json"
) 2>"$T/err" && fail "a vectors file over the size limit should fail"
no_file "$T/S.svg" "$T/V.safetensors" "$T/S.json"
# and when everything succeeds, everything is there
checks=$((checks + 1))
"$HESSE" density $s --probes 2 --steps 8 --svg "$T/U.svg" -o "$T/U.json" 2>"$T/err" || fail "density: $(cat "$T/err")"
for f in U.svg U-log.svg U.json; do [ -s "$T/$f" ] || fail "density: $f missing"; done

finish
