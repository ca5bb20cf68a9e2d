#!/bin/sh
# Smoke test of one harness (ctest runs it for every harness):
#   smoke.sh libfuzzer|standalone BINARY CORPUS_DIR RUNS SECONDS
# runs the seed corpus, then about RUNS generated inputs for at most SECONDS. New inputs and
# crash artifacts go to a temporary directory, never into the corpus; a crash prints the
# failing input's path (kept) and fails the test.
set -u
kind=$1 bin=$2 corpus=$3 runs=$4 secs=$5
name=$(basename "$corpus")
[ -d "$corpus" ] && [ -n "$(ls "$corpus")" ] || { echo "smoke: no seed corpus in $corpus" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/hesse-smoke-$name.XXXXXX")
keep=0
cleanup() { [ "$keep" -eq 1 ] || rm -rf "$work"; }
trap cleanup EXIT
mkdir "$work/new" "$work/artifacts"
dict="${HESSE_FUZZ_DICT_DIR:-$(dirname "$0")}/$name.dict"
case "$kind" in
libfuzzer)
    set -- -seed=1 -runs="$runs" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
        -artifact_prefix="$work/artifacts/" -print_final_stats=1
    [ -f "$dict" ] && set -- "$@" -dict="$dict"
    "$bin" "$@" "$work/new" "$corpus" >"$work/log" 2>&1
    rc=$?
    grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units)" "$work/log" >&2
    ;;
standalone)
    # Sanitizer reports end in abort(), so that the driver's handler saves the input.
    HESSE_FUZZ_ARTIFACTS="$work/artifacts" \
        ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}" \
        UBSAN_OPTIONS="${UBSAN_OPTIONS:-abort_on_error=1:print_stacktrace=1}" \
        "$bin" -seed=1 -runs="$runs" -max_total_time="$secs" -timeout=20 "$corpus" >"$work/log" 2>&1
    rc=$?
    tail -n 1 "$work/log" >&2
    ;;
*)
    echo "smoke: unknown kind '$kind'" >&2
    exit 1
    ;;
esac
if [ "$rc" -ne 0 ]; then
    keep=1
    tail -n 60 "$work/log" >&2
    echo "smoke: $name failed (exit $rc); log and failing input in $work" >&2
    ls -l "$work/artifacts" >&2
    exit 1
fi
echo "smoke: $name ok" >&2
