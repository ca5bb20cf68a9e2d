#!/bin/sh
# Two builds of hesse back to back: `hesse bench` alternately with each, ROUNDS times, and the
# ratio new/old of every case's median gradient and HVP times (and blocked HVP with --block).
#
#   bench/ab.sh OLD_HESSE NEW_HESSE [ROUNDS (default 3)] [BENCH OPTIONS...]
#
# Prints a table and the ratios as JSON (below 1: the new build is faster). The machine's noise
# is in the spread of the rounds, printed beside each ratio; compare ratios, not times.
set -eu
[ $# -ge 2 ] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
old=$1
new=$2
rounds=${3:-3}
[ $# -ge 3 ] && shift 3 || shift 2
out=$(mktemp -d "${TMPDIR:-/tmp}/hesse-ab.XXXXXX")
trap 'rm -rf "$out"' EXIT
i=1
while [ "$i" -le "$rounds" ]; do
    "$old" bench -q --dgemm 0 "$@" -o "$out/old$i.json"
    "$new" bench -q --dgemm 0 "$@" -o "$out/new$i.json"
    i=$((i + 1))
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, os, statistics, sys
d, rounds = sys.argv[1], int(sys.argv[2])
def load(tag):
    runs = [json.load(open(os.path.join(d, f"{tag}{i}.json"))) for i in range(1, rounds + 1)]
    return runs
old, new = load("old"), load("new")
result = {}
for c, case in enumerate(old[0]["cases"]):
    name = case["case"]
    for key in [k for k in case if k.endswith("_ms")]:
        o = [r["cases"][c][key] for r in old]
        n = [r["cases"][c][key] for r in new]
        ratio = statistics.median(n) / statistics.median(o)
        spread = (max(o) - min(o)) / statistics.median(o)
        result[f"{name}.{key}"] = round(ratio, 4)
        print(f"{name:10s} {key:14s} old {statistics.median(o):9.3f} ms  new {statistics.median(n):9.3f} ms"
              f"  new/old {ratio:.3f}  (old spread {spread:.1%})")
print(json.dumps({"rounds": rounds, "ratios": result}))
PY
