#!/bin/sh
# Exit status 0 when the compiler $1 (default clang) links a libFuzzer target with ASan and
# UBSan: what HESSE_FUZZ needs (Debian: clang and libclang-rt-<version>-dev).
cc=${1:-clang}
command -v "$cc" >/dev/null 2>&1 || exit 1
d=$(mktemp -d "${TMPDIR:-/tmp}/hesse-cc.XXXXXX") || exit 1
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return d && n > 1 ? 0 : 0; }' \
    >"$d/t.c"
"$cc" -fsanitize=fuzzer,address,undefined "$d/t.c" -o "$d/t" >/dev/null 2>&1
status=$?
rm -rf "$d"
exit $status
