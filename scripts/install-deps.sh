#!/bin/sh
# Installs the Debian packages hesse needs, and only those that are missing.
# Idempotent: when everything is present it prints one line and changes nothing.
#
#   scripts/install-deps.sh            build and run dependencies (make, make demo)
#   scripts/install-deps.sh --test     also what the tests need (make test)
#   scripts/install-deps.sh --bench    also PyTorch, for bench/ and tests/make_fixtures.py
#   scripts/install-deps.sh --fuzz     also clang and libFuzzer (make fuzz; make test uses them
#                                      when present)
#   scripts/install-deps.sh --lint     also cppcheck, clang-tidy, clang-format, pmccabe and the MPI headers (make lint)
set -eu

# fortunes: the demo's text corpus (--data text:fortunes: the directory /usr/share/games/fortunes).
packages="build-essential cmake pkg-config libopenblas-dev liblapacke-dev zlib1g-dev libcjson-dev dataset-fashion-mnist fortunes python3"
for arg in "$@"; do
    case "$arg" in
    # chromium: tests/cli/report.sh loads the HTML report in it headless (about 120 MB).
    # openmpi: distributed runs (a build with MPI) and tests/mpi/dist.sh, which starts mpirun.
    # python3-numpy, python3-pytest: the Python package's tests (python/tests).
    --test) packages="$packages chromium openmpi-bin libopenmpi-dev python3-numpy python3-pytest" ;;
    --bench) packages="$packages python3-torch" ;;
    # libFuzzer and the sanitizer runtimes for clang live in libclang-rt-<version>-dev.
    --fuzz) packages="$packages clang libclang-rt-dev" ;;
    # libopenmpi-dev: clang-tidy reads src/dist/mpi.c, which includes mpi.h.
    --lint) packages="$packages cppcheck clang-tidy clang-format pmccabe libopenmpi-dev" ;;
    -h | --help)
        sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "install-deps.sh: unknown option '$arg' (expected --test, --bench, --fuzz, --lint or --help)" >&2
        exit 1
        ;;
    esac
done

missing=""
for p in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done

if [ -z "$missing" ]; then
    echo "install-deps: all dependencies present"
    exit 0
fi

echo "install-deps: installing$missing"
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "install-deps: need root (or sudo) to install:$missing" >&2
    exit 4
fi
export DEBIAN_FRONTEND=noninteractive
# Package lists may be empty on a fresh machine; refresh them once if the install fails.
# shellcheck disable=SC2086
if ! $sudo apt-get install -y --no-install-recommends $missing; then
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends $missing
fi
