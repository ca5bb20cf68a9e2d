#!/bin/sh
# Function lengths and cyclomatic complexity over src/ (pmccabe, Debian package pmccabe):
# the distribution, then every function over the limits of docs/STYLE (120 lines in src/,
# 80 in src/cli). Exit 1 when any function is over its limit.
#
#   tools/funclen.sh [--list N]    also list the N longest functions
set -eu
cd "$(dirname "$0")/.."
command -v pmccabe >/dev/null || { echo "funclen.sh: pmccabe missing (apt-get install pmccabe)" >&2; exit 2; }
list=0
[ "${1:-}" = --list ] && list=$2
pmccabe -v $(git ls-files 'src/*.c' 'src/*.inc') 2>/dev/null | awk -v list="$list" '
$5 ~ /^[0-9]+$/ {
    n = $5; file = $6; sub(/\(.*/, "", file)
    name = $7
    total++
    if (n <= 20) b20++; else if (n <= 40) b40++; else if (n <= 80) b80++; else if (n <= 120) b120++; else bmore++
    limit = (file ~ /^src\/cli\//) ? 80 : 120
    if (n > limit) { over++; bad = bad sprintf("  over %d: %4d lines  CC %3d  %s %s\n", limit, n, $2, $6, name) }
    if (n > max) max = n
    rows[total] = sprintf("%5d %4d %s %s", n, $2, $6, name)
}
END {
    printf "functions: %d; lines <=20: %d, 21-40: %d, 41-80: %d, 81-120: %d, >120: %d; longest %d\n", total, b20, b40, b80, b120, bmore, max
    printf "%s", bad
    if (list > 0) {
        cmd = "sort -rn | head -" list
        for (i = 1; i <= total; i++) print rows[i] | cmd
        close(cmd)
    }
    exit over > 0
}'
