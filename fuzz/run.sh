#!/bin/sh
# Fuzzing campaigns (make fuzz): every harness, or those named, for SECONDS each with libFuzzer.
#
#   fuzz/run.sh BUILD_DIR SECONDS [HARNESS...]
#
# BUILD_DIR is a HESSE_FUZZ build (make fuzz makes build-fuzz). Each harness starts from its
# seeds (fuzz/corpus/NAME) and the inputs earlier campaigns found (BUILD_DIR/fuzz-work/NAME/
# corpus, which grows; the seeds are never written to), with its dictionary when there is one.
# Crashes go to BUILD_DIR/fuzz-work/NAME/crash-*; minimise one with
#   BUILD_DIR/fuzz/fuzz_NAME -minimize_crash=1 -runs=100000 CRASH
# and, once fixed, copy it to fuzz/corpus/NAME/regress-<what> so the smoke test keeps it.
#
# Environment: FUZZ_JOBS harnesses at a time (default 1), FUZZ_RUNS executions at most per
# harness (default: no limit), FUZZ_NICE niceness (default 19: the campaigns yield the CPU).
# Prints one line per harness (executions, coverage, corpus, crashes); fails on a crash.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run.sh BUILD_DIR SECONDS [HARNESS...]}
secs=${2:?usage: run.sh BUILD_DIR SECONDS [HARNESS...]}
shift 2
jobs=${FUZZ_JOBS:-1}
runs=${FUZZ_RUNS:--1}
nice=${FUZZ_NICE:-19}
export OPENBLAS_NUM_THREADS=1
if [ $# -eq 0 ]; then
    set -- $(ls "$here/corpus")
fi

campaign() {
    name=$1
    bin="$build/fuzz/fuzz_$name"
    work="$build/fuzz-work/$name"
    mkdir -p "$work/corpus"
    [ -x "$bin" ] || { echo "run.sh: $bin is missing (build with HESSE_FUZZ=ON)" >"$work/log"; return; }
    set -- -max_total_time="$secs" -runs="$runs" -timeout=20 -rss_limit_mb=2048 \
        -artifact_prefix="$work/" -print_final_stats=1
    [ -f "$here/$name.dict" ] && set -- "$@" -dict="$here/$name.dict"
    nice -n "$nice" "$bin" "$@" "$work/corpus" "$here/corpus/$name" >"$work/log" 2>&1
}

summary() {
    name=$1
    work="$build/fuzz-work/$name"
    log="$work/log"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(ls "$work/corpus" | wc -l)
    crashes=$(ls "$work" | grep -cE '^(crash|leak|timeout|oom|slow-unit)-')
    printf '%-12s execs %10s  exec/s %6s  cov %5s  ft %6s  corpus %5s  crashes %s\n' \
        "$name" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$corp" "$crashes"
    [ "$crashes" -eq 0 ] && grep -q '^stat::number_of_executed_units' "$log"
}

# One harness per process, FUZZ_JOBS at a time.
if [ "${FUZZ_ONE:-}" = 1 ]; then
    campaign "$1"
    exit 0
fi
printf '%s\n' "$@" | FUZZ_ONE=1 xargs -P "$jobs" -I NAME "$0" "$build" "$secs" NAME
status=0
for name in "$@"; do summary "$name" || status=1; done
[ $status -eq 0 ] || echo "run.sh: crashes (or a harness that did not run): see $build/fuzz-work/*/" >&2
exit $status
