#!/bin/sh
# examples/c/lanczos_operator.c: Lanczos through hesse's spectral API on a user-defined
# operator, the 1-D Laplacian tridiag(-1, 2, -1) of order 100, whose eigenvalues are
# lambda_j = 2 - 2 cos(j pi / 101), computed here. A Ritz value with residual r is within r of
# an eigenvalue (symmetric operator), and the solver's tolerance is 1e-8 ||T|| with ||T|| < 4,
# so each of the 4 largest and 4 smallest printed must be within 4e-8 of its closed form, in
# order, with a residual below 4e-8.   sh lanczos_operator.sh [BINARY] (default $EXAMPLE)
set -u
example=${1:-${EXAMPLE:?EXAMPLE must name the lanczos_operator binary}}
out=$(mktemp "${TMPDIR:-/tmp}/hesse-lanczos-operator.XXXXXX")
trap 'rm -f "$out"' EXIT
"$example" 100 4 >"$out" || {
    echo "lanczos_operator: $example failed" >&2
    exit 1
}
awk -v n=100 -v k=4 '
function abs(x) { return x < 0 ? -x : x }
/lambda_/ {
    split($2, a, "_"); j = a[2] + 0; got = $4 + 0; res = $8 + 0; rows++
    want = 2 - 2 * cos(j * atan2(0, -1) / (n + 1))
    if (($1 == "top" && j != n - top++) || ($1 == "bottom" && j != ++bottom)) { print "wrong index: " $0; bad++ }
    if (abs(got - want) > 4e-8 || !(res <= 4e-8)) { printf "%s: want %.17g\n", $0, want; bad++ }
}
END {
    if (rows != 2 * k) { print rows " eigenvalues printed, expected " 2 * k; bad++ }
    if (!bad) print "lanczos_operator: " rows " eigenvalues of the Laplacian as the closed form gives them"
    exit bad > 0
}' "$out"
