#!/bin/sh
# hesse as an installed library, the way a user gets it: `make install` of the already built
# tree into a temporary root (DESTDIR, PREFIX=/usr/local); both examples/c programs built
# against that tree alone, once with `pkg-config --cflags --libs hesse` and once as a CMake
# project with find_package(hesse) and hesse::hesse, and run: the Lanczos example's
# eigenvalues against the closed form of the 1-D Laplacian, top_eigs against the installed
# `hesse spectrum` on the same model; every man page rendered by man(1) against the --help
# it was made from; then `make uninstall` must leave no file behind.
set -u
: "${HESSE_BUILD:?HESSE_BUILD must name the build tree}"
: "${HESSE_SOURCE:?HESSE_SOURCE must name the source tree}"
: "${HESSE:?HESSE must name the hesse binary}"
CMAKE=${CMAKE:-cmake}
CC=${CC:-cc}
for tool in make pkg-config man col; do
    command -v $tool >/dev/null || {
        echo "installed: $tool missing; skipped" >&2
        exit 77
    }
done
STAGE_NAME=installed
. "$HESSE_SOURCE/tests/install/stage.inc"
P=$R/usr/local
export OPENBLAS_NUM_THREADS=1

# ---- make install ------------------------------------------------------------------------
make -s -C "$HESSE_SOURCE" --no-print-directory install-built BUILD="$HESSE_BUILD" \
    DESTDIR="$R" PREFIX=/usr/local >"$T/install.log" 2>&1 || { cat "$T/install.log" >&2; fail "make install failed"; }
for f in bin/hesse lib/libhesse.so lib/libhesse.so.0 lib/libhesse.a include/hesse/hesse.h \
    include/hesse/export.h lib/pkgconfig/hesse.pc lib/cmake/hesse/hesseConfig.cmake \
    lib/cmake/hesse/hesseConfigVersion.cmake share/man/man1/hesse.1 share/man/man1/hesse-spectrum.1; do
    [ -e "$P/$f" ] || fail "make install did not install $f"
done
for h in "$HESSE_SOURCE"/include/hesse/*.h; do
    cmp -s "$h" "$P/include/hesse/$(basename "$h")" || fail "include/hesse/$(basename "$h") not installed as it is"
done
grep -qx 'prefix=/usr/local' "$P/lib/pkgconfig/hesse.pc" || fail "hesse.pc: prefix is not /usr/local"

# ---- the examples, with pkg-config ------------------------------------------------------------
export PKG_CONFIG_PATH="$P/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$R"
flags=$(pkg-config --cflags --libs hesse) || fail "pkg-config --cflags --libs hesse failed"
case "$flags" in *"-I$P/include"*"-L$P/lib"*"-lhesse"* | *"-L$P/lib"*"-I$P/include"*"-lhesse"*) ;;
*) fail "pkg-config gives '$flags': not the installed tree" ;; esac
ex=$HESSE_SOURCE/examples/c
# shellcheck disable=SC2086
"$CC" -std=c11 -o "$T/lanczos_pc" "$ex/lanczos_operator.c" $flags -lm || fail "lanczos_operator.c did not build with pkg-config"
# shellcheck disable=SC2086
"$CC" -std=c11 -o "$T/top_eigs_pc" "$ex/top_eigs.c" $flags || fail "top_eigs.c did not build with pkg-config"
# A static link with what `pkg-config --static` lists (Requires.private, Libs.private), and
# libhesse.a named (-l:) since -lhesse would take the shared library.
static=$(pkg-config --static --libs hesse | sed 's/-lhesse\>/-l:libhesse.a/') || fail "pkg-config --static failed"
cflags=$(pkg-config --cflags hesse)
# shellcheck disable=SC2086
"$CC" -std=c11 -o "$T/lanczos_static" "$ex/lanczos_operator.c" $cflags $static ||
    fail "lanczos_operator.c did not link statically with pkg-config --static ($static)"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
export LD_LIBRARY_PATH="$P/lib"
LD_TRACE_LOADED_OBJECTS=1 "$T/lanczos_pc" | grep -q "libhesse.so.0 => $P/lib/libhesse.so.0" ||
    fail "lanczos_operator does not load the installed libhesse.so.0"

# The eigenvalues against the closed form: tests/examples/lanczos_operator.sh.
check_laplacian() { # BINARY
    sh "$HESSE_SOURCE/tests/examples/lanczos_operator.sh" "$1" >/dev/null
}
check_laplacian "$T/lanczos_pc" || fail "lanczos_operator (pkg-config): eigenvalues off the closed form"
check_laplacian "$T/lanczos_static" || fail "lanczos_operator (static): eigenvalues off the closed form"
LD_TRACE_LOADED_OBJECTS=1 "$T/lanczos_static" | grep -q libhesse && fail "lanczos_static loads libhesse.so"

hesse=$P/bin/hesse
"$hesse" --version | grep -qx "hesse $("$HESSE" --version | cut -d' ' -f2)" || fail "installed hesse does not run"
# top_eigs on a small trained model, against the installed hesse spectrum (equal to the digit);
# it needs Fashion-MNIST (Debian's dataset-fashion-mnist), the rest of the test does not.
data=yes
[ -d "${HESSE_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}" ] || {
    data=
    echo "installed: Fashion-MNIST not installed; top_eigs built but not run" >&2
}
if [ -n "$data" ]; then
    "$hesse" train -q --arch 'avgpool2d(4),flatten,linear(49,8),tanh,linear(8,10)' --samples 500 \
        --epochs 1 --lr 0.1 --no-test -o "$T/m.safetensors" || fail "installed hesse train failed"
    "$hesse" spectrum -q --model "$T/m.safetensors" --samples 200 --top 5 -o "$T/spectrum.json" ||
        fail "installed hesse spectrum failed"
    "$T/top_eigs_pc" "$T/m.safetensors" fashion-mnist 200 >"$T/top_eigs_pc.txt" || fail "top_eigs (pkg-config) failed"
    /usr/bin/python3 - "$T/top_eigs_pc.txt" "$T/spectrum.json" <<'PY' || fail "top_eigs (pkg-config) differs from hesse spectrum"
import json, re, sys
got = [float(m.group(1)) for m in re.finditer(r"^lambda_\d = (\S+)  residual", open(sys.argv[1]).read(), re.M)]
want = json.load(open(sys.argv[2]))["top"]
if got != want:
    sys.exit(f"top_eigs {got}\nhesse spectrum {want}")
PY
fi

# ---- the examples, with CMake's find_package(hesse) ---------------------------------------
if ! "$CMAKE" -S "$ex" -B "$T/cmake" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_COMPILER="$CC" \
    -DCMAKE_BUILD_TYPE=Release >"$T/cmake.log" 2>&1 ||
    ! "$CMAKE" --build "$T/cmake" >>"$T/cmake.log" 2>&1; then
    cat "$T/cmake.log" >&2
    fail "examples/c did not build with find_package(hesse)"
fi
grep -q "hesse_DIR:PATH=$P/lib/cmake/hesse" "$T/cmake/CMakeCache.txt" || fail "find_package(hesse) did not find the installed tree"
check_laplacian "$T/cmake/lanczos_operator" || fail "lanczos_operator (CMake): eigenvalues off the closed form"
if [ -n "$data" ]; then
    "$T/cmake/top_eigs" "$T/m.safetensors" fashion-mnist 200 >"$T/top_eigs_cm.txt" || fail "top_eigs (CMake) failed"
    cmp -s "$T/top_eigs_pc.txt" "$T/top_eigs_cm.txt" || fail "top_eigs: the CMake build prints other numbers than the pkg-config build"
fi

# ---- man pages: man(1) finds and renders each, and each says what --help says ------------
cmds=$("$hesse" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }')
[ -n "$cmds" ] || fail "hesse --help lists no commands"
# shellcheck disable=SC2086
pages="hesse $(printf 'hesse-%s ' $cmds)"
for page in $pages; do
    MANWIDTH=80 man -M "$P/share/man" "$page" 2>"$T/man.err" | col -b >"$T/$page.txt"
    [ -s "$T/$page.txt" ] || { cat "$T/man.err" >&2; fail "man $page: nothing rendered"; }
    case $page in
    hesse) "$hesse" --help >"$T/$page.help" ;;
    *) "$hesse" "${page#hesse-}" --help >"$T/$page.help" ;;
    esac
done
# shellcheck disable=SC2086
/usr/bin/python3 - "$T" $pages <<'PY' || fail "a man page is out of step with --help"
import re, sys
d, pages, bad = sys.argv[1], sys.argv[2:], 0
norm = lambda s: " ".join(s.split())
for page in pages:
    text = norm(open(f"{d}/{page}.txt").read())
    for line in open(f"{d}/{page}.help").read().splitlines():
        if line in ("Options:", "Commands:") or not line.strip():
            continue
        # the option column and its help, each as one phrase; other lines as they are
        for phrase in re.split(r"\s{2,}", line.strip()):
            phrase = re.sub(r"^Usage: hesse ", "", phrase)
            phrase = re.sub(r"^hesse (\S+): ", "", phrase)
            if norm(phrase) not in text:
                print(f"man {page}: missing '{norm(phrase)}'"); bad += 1
print(f"man pages: {len(pages)} checked against --help")
sys.exit(1 if bad else 0)
PY

# ---- make uninstall -----------------------------------------------------------------------
make -s -C "$HESSE_SOURCE" --no-print-directory uninstall BUILD="$HESSE_BUILD" DESTDIR="$R" >"$T/uninstall.log" 2>&1 ||
    { cat "$T/uninstall.log" >&2; fail "make uninstall failed"; }
left=$(find "$R" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
for d in include/hesse lib/cmake/hesse; do
    [ ! -e "$P/$d" ] || fail "make uninstall left the folder $d"
done
echo "installed: installed, built both examples with pkg-config and find_package(hesse), ran them, read the man pages, uninstalled"
