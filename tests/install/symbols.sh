#!/bin/sh
# libhesse.so exports exactly its public interface: every function declared in
# include/hesse/*.h (listed by gcc -aux-info from a file that includes every header) is in the
# library's dynamic symbol table, and every symbol there is one of those functions. A
# declaration without HESSE_API (hesse/export.h) is not exported under -fvisibility=hidden and
# fails here, as does an internal function that leaks out. Also checks the soname.
set -u
: "${LIBHESSE:?LIBHESSE must name libhesse.so}"
: "${HESSE_SOURCE:?HESSE_SOURCE must name the source tree}"
for tool in gcc nm objdump; do
    command -v $tool >/dev/null || {
        echo "symbols: needs gcc (-aux-info), nm and objdump; skipped" >&2
        exit 77
    }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/hesse-symbols.XXXXXX")
trap 'rm -rf "$T"' EXIT
for h in "$HESSE_SOURCE"/include/hesse/*.h; do
    echo "#include <hesse/$(basename "$h")>"
done >"$T/all.c"
gcc -std=c11 -D_POSIX_C_SOURCE=200809L -I"$HESSE_SOURCE/include" -fsyntax-only \
    -aux-info "$T/aux.txt" "$T/all.c" || exit 1
# /* .../include/hesse/core.h:35:NC */ extern const char *hesse_strerror (int);
sed -n 's|^/\* .*/include/hesse/[a-z_]*\.h:[0-9]*:[A-Z]* \*/ extern .*[ *]\([A-Za-z_][A-Za-z0-9_]*\) (.*|\1|p' \
    "$T/aux.txt" | sort -u >"$T/declared"
grep '/include/hesse/' "$T/aux.txt" | grep -v ' \*/ extern ' | sed 's/^/symbols: not an extern function: /' >&2
# Linker-made symbols of every shared object are not part of the interface.
nm -D --defined-only "$LIBHESSE" | awk '{ print $NF }' |
    grep -v -x -e _init -e _fini -e _edata -e _end -e __bss_start | sort -u >"$T/exported"
nd=$(wc -l <"$T/declared")
ne=$(wc -l <"$T/exported")
status=0
[ "$nd" -ge 100 ] || { echo "symbols: only $nd declarations found in the headers" >&2; status=1; }
comm -23 "$T/declared" "$T/exported" | sed 's/^/symbols: declared in include\/hesse but not exported (HESSE_API missing, or not defined): /' >"$T/missing"
comm -13 "$T/declared" "$T/exported" | sed 's/^/symbols: exported but not declared in a public header: /' >"$T/extra"
cat "$T/missing" "$T/extra" >&2
[ -s "$T/missing" ] || [ -s "$T/extra" ] && status=1
soname=$(objdump -p "$LIBHESSE" | awk '$1 == "SONAME" { print $2 }')
case "$soname" in
libhesse.so.[0-9]*) ;;
*) echo "symbols: soname '$soname', expected libhesse.so.MAJOR" >&2; status=1 ;;
esac
echo "symbols: $nd functions declared in include/hesse, $ne exported, soname $soname"
exit $status
