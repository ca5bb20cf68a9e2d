# SIGKILL at random moments during checkpointing Lanczos and SLQ runs, then resume: never a
# corrupt checkpoint or output, always the uninterrupted run's bits. The short version of
# tests/kill_resume.sh (3 kills per solver); run that script for the full loop. Then what
# becomes of the --resume file: removed after a successful resume, kept with --keep-checkpoint,
# kept after a failed one.
: "${HESSE:?HESSE must name the hesse binary}"
: "${HESSE_SOURCE:?HESSE_SOURCE must name the source tree}"
sh "$HESSE_SOURCE/tests/kill_resume.sh" 3 || kill_failed=1
. "$(dirname "$0")/lib.inc"
[ -z "${kill_failed:-}" ] || fail "tests/kill_resume.sh 3"

arch='avgpool2d(4),flatten,linear(49,6),tanh,linear(6,10)'
"$HESSE" train -q --arch "$arch" --samples 500 --epochs 1 --no-test -o "$T/m.safetensors" || fail "train"
lz="spectrum --model $T/m.safetensors --samples 300 -q --top 3 --bottom 1 --basis 10 --tol 1e-10"
slq="density --model $T/m.safetensors --samples 300 -q --probes 3 --block 3 --steps 20"
"$HESSE" $lz -o "$T/ref.json" || fail "the uninterrupted Lanczos run"
"$HESSE" $slq -o "$T/dref.json" || fail "the uninterrupted SLQ run"
# An unfinished run's state, made deterministically: Lanczos stopped after one restart, SLQ
# after its first probe block's steps are checkpointed by a run that is then resumed whole.
"$HESSE" $lz --max-restarts 1 --checkpoint "$T/lz.ckpt" --checkpoint-every 0 -o "$T/part.json" \
    2>/dev/null
"$HESSE" $slq --checkpoint "$T/slq.ckpt" --checkpoint-every 0 -o "$T/dpart.json" || fail "SLQ checkpoint"
[ -f "$T/lz.ckpt" ] && [ -f "$T/slq.ckpt" ] || fail "no checkpoints to resume from"
cp "$T/lz.ckpt" "$T/lz-copy.ckpt"
cp "$T/slq.ckpt" "$T/slq-copy.ckpt"

# A failed resume keeps the file: a checkpoint of another run (other samples) is refused, and
# an interrupted resume (SIGINT after its first checkpoint) keeps what it resumed from.
expect_error 2 "another run" -- "$HESSE" spectrum --model "$T/m.safetensors" --samples 299 -q --top 3 \
    --bottom 1 --basis 10 --tol 1e-10 --resume "$T/lz.ckpt" -o "$T/out.json"
checks=$((checks + 1))
cmp -s "$T/lz.ckpt" "$T/lz-copy.ckpt" || fail "a failed resume removed or changed its --resume file"

# --keep-checkpoint: the resumed run succeeds, with the uninterrupted bits, and the file stays
"$HESSE" $lz --resume "$T/lz.ckpt" --keep-checkpoint -o "$T/kept.json" || fail "resume --keep-checkpoint"
check_py "$T/kept.json" "(lambda r: d['top'] == r['top'] and d['bottom'] == r['bottom'] and d['products'] == r['products'])(json.load(open('$T/ref.json')))" \
    "resumed with --keep-checkpoint: the uninterrupted run's bits"
checks=$((checks + 1))
cmp -s "$T/lz.ckpt" "$T/lz-copy.ckpt" || fail "--keep-checkpoint: the --resume file was removed or changed"

# Without it the file is gone once the outputs are written (Lanczos and SLQ), and the run says so
"$HESSE" spectrum --model "$T/m.safetensors" --samples 300 --top 3 --bottom 1 --basis 10 --tol 1e-10 \
    --resume "$T/lz.ckpt" -o "$T/res.json" 2>"$T/res.err" || fail "resume"
check_py "$T/res.json" "(lambda r: d['top'] == r['top'] and d['products'] == r['products'])(json.load(open('$T/ref.json')))" \
    "resumed: the uninterrupted run's bits"
checks=$((checks + 1))
[ -e "$T/lz.ckpt" ] && fail "a successful resume left its --resume file"
grep -q "^spectrum: removed $T/lz.ckpt: the run resumed from it has finished" "$T/res.err" ||
    fail "no note of the removal: $(cat "$T/res.err")"
"$HESSE" $slq --resume "$T/slq.ckpt" -o "$T/dres.json" || fail "SLQ resume"
check_py "$T/dres.json" "(lambda r: d['density'] == r['density'] and d['products'] == r['products'])(json.load(open('$T/dref.json')))" \
    "SLQ resumed: the uninterrupted run's density"
checks=$((checks + 1))
[ -e "$T/slq.ckpt" ] && fail "a successful SLQ resume left its --resume file"
# ... also when the file is the run's own --checkpoint
cp "$T/lz-copy.ckpt" "$T/own.ckpt"
"$HESSE" $lz --checkpoint "$T/own.ckpt" --resume "$T/own.ckpt" -o "$T/own.json" || fail "resume into itself"
checks=$((checks + 1))
[ -e "$T/own.ckpt" ] && fail "a successful resume left its --resume file (also its --checkpoint)"
# A run that fails after resuming and solving, as it delivers its output (standard output on
# a full disk), keeps the file: it is removed only after the outputs are in place
cp "$T/lz-copy.ckpt" "$T/late.ckpt"
checks=$((checks + 1))
sh -c 'exec "$@" >/dev/full' sh "$HESSE" $lz --resume "$T/late.ckpt" 2>/dev/null &&
    fail "a run writing to a full standard output succeeded"
cmp -s "$T/late.ckpt" "$T/lz-copy.ckpt" || fail "a run that failed after resuming removed its --resume file"
finish
