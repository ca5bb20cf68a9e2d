#!/bin/sh
# The Python package's tests (python/tests, pytest) against this build's libhesse.so and hesse
# binary, with Debian's /usr/bin/python3. Skipped (77) with the reason when NumPy or pytest is
# missing (scripts/install-deps.sh --test installs python3-numpy and python3-pytest).
set -u
: "${HESSE:?HESSE must name the hesse binary}"
: "${HESSE_LIBRARY:?HESSE_LIBRARY must name libhesse.so}"
: "${HESSE_SOURCE:?HESSE_SOURCE must name the source tree}"
PY=${PYTHON:-/usr/bin/python3}
for mod in numpy pytest; do
    if ! "$PY" -c "import $mod" 2>/dev/null; then
        echo "SKIP: $PY has no $mod (apt-get install python3-$mod, or scripts/install-deps.sh --test)"
        exit 77
    fi
done
export HESSE HESSE_LIBRARY HESSE_SOURCE
cd "$HESSE_SOURCE" || exit 1
exec "$PY" -m pytest -q -p no:cacheprovider python/tests "$@"
