#!/bin/sh
# make lint: cppcheck and clang-tidy over src/ and fuzz/, clang-format over every C file; fails
# on any finding.
#
#   scripts/lint.sh [BUILD_DIR]     (default build-lint: configured here for its
#                                    compile_commands.json)
#
# clang-tidy: the checks of .clang-tidy on every file, then a stricter set (PARSER_CHECKS) on
# the code that reads input from outside: the file parsers, the option and checkpoint readers,
# the solver checkpoint formats, and the fuzz harnesses. cppcheck: warnings, portability and
# performance on every file, with the false positives of .cppcheck-suppressions. About 3
# minutes on 2 cores, so CI runs it after make test rather than inside it.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build-lint}
jobs=${JOBS:-2}
PARSER_FILES="src/data/safetensors.c src/io/model_file.c src/data/dataset_st.c src/io/buf.c
src/io/file.c src/io/report.c src/io/report_parts.c src/io/report_sections.c
src/io/report_analysis.c src/data/read.c src/data/idx.c src/data/cifar.c src/data/file.c src/nn/arch.c
src/cli/args.c src/cli/checkpoint.c src/spectral/trlan_ckpt.c src/spectral/slq.c fuzz/*.c"
# On the parsers: integer widening and narrowing (sizes computed from file contents), string
# conversions that cannot report errors, and the analyzer's null, uninitialised and
# zero-size checks (tree-wide those flag status paths it cannot follow across files).
PARSER_CHECKS="-*,bugprone-implicit-widening-of-multiplication-result,bugprone-narrowing-conversions,\
bugprone-misplaced-widening-cast,bugprone-signed-char-misuse,bugprone-not-null-terminated-result,\
bugprone-sizeof-expression,cert-err34-c,clang-analyzer-core.*,clang-analyzer-optin.portability.UnixAPI"
# Known false positives by file, off there until the code says what the analyzer cannot see
# (the QUIRKS case below):
#   src/nn/factors.c  unix.Malloc "use of memory allocated with size zero": a model has at
#                     least one layer with weights (hesse_model_create refuses none).

command -v clang-tidy >/dev/null && command -v cppcheck >/dev/null || {
    echo "lint: needs clang-tidy and cppcheck (scripts/install-deps.sh --lint)" >&2
    exit 1
}
cc=clang
command -v clang >/dev/null || cc=cc
cmake -S . -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
log=$(mktemp "${TMPDIR:-/tmp}/hesse-lint.XXXXXX")
trap 'rm -f "$log"' EXIT
status=0

echo "lint: cppcheck" >&2
cppcheck -q --enable=warning,portability,performance --std=c11 --error-exitcode=1 -j "$jobs" \
    --inline-suppr --suppressions-list=.cppcheck-suppressions -Iinclude -Isrc \
    -D_POSIX_C_SOURCE=200809L -DHESSE_VERSION='"lint"' \
    --template='{file}:{line}: {severity}: {message} [{id}]' src fuzz 2>"$log" || status=1
cat "$log" >&2

echo "lint: clang-tidy ($(ls src/*/*.c fuzz/*.c | wc -l) files, .clang-tidy)" >&2
# shellcheck disable=SC2016
ls src/*/*.c fuzz/*.c | xargs -P "$jobs" -I FILE sh -c '
    case "$2" in
    src/nn/factors.c) q=-clang-analyzer-unix.Malloc ;; # QUIRKS
    *) q= ;;
    esac
    clang-tidy -p "$1" --quiet ${q:+--checks=$q} "$2" 2>/dev/null' sh "$build" FILE \
    >"$log" || status=1
grep -E "(warning|error):" "$log" >&2 && status=1

echo "lint: clang-tidy (parsers, stricter)" >&2
# shellcheck disable=SC2086
printf '%s\n' $PARSER_FILES | xargs -P "$jobs" -n 3 \
    clang-tidy -p "$build" --quiet --checks="$PARSER_CHECKS" >"$log" 2>/dev/null || status=1
grep -E "(warning|error):" "$log" >&2 && status=1

echo "lint: clang-format (.clang-format)" >&2
if command -v clang-format >/dev/null; then
    files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests fuzz bench examples -name '*.[ch]')
    # shellcheck disable=SC2086
    clang-format --dry-run --Werror $files >"$log" 2>&1 || {
        grep -E "(warning|error):" "$log" | sed 's/$/ (make format fixes it)/' >&2
        status=1
    }
else
    echo "lint: clang-format missing (scripts/install-deps.sh --lint); formatting not checked" >&2
    status=1
fi

echo "lint: function lengths (tools/funclen.sh: 120 lines in src/, 80 in src/cli/)" >&2
if command -v pmccabe >/dev/null; then
    tools/funclen.sh >"$log" 2>&1 || { grep "over" "$log" >&2; status=1; }
else
    echo "lint: pmccabe missing (scripts/install-deps.sh --lint); lengths not checked" >&2
    status=1
fi

[ $status -eq 0 ] && echo "lint: clean" >&2
exit $status
