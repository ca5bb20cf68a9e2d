#!/bin/sh
# Bit-identical numbers across a change: records the JSON of six analyses of one LeNet-5 on
# 1,000 Fashion-MNIST samples, or compares a new run against such a record.
#
#   bench/identical.sh record DIR     run with $HESSE (default build/hesse), keep the JSON in DIR
#   bench/identical.sh compare DIR    run again and compare every number with DIR's, exactly
#
# The model is trained here (one epoch on 10,000 samples, seed 1) so that training is compared
# too. Timings, thread counts and paths are not compared; keys the new run adds are allowed
# (new keys extend a document), keys it lost are differences. Exit 0: every number equal.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
hesse="${HESSE:-$here/build/hesse}"
py=/usr/bin/python3
[ $# -eq 2 ] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
mode=$1
dir=$2
case "$mode" in
record) out="$dir" ;;
compare) out=$(mktemp -d "${TMPDIR:-/tmp}/hesse-identical.XXXXXX"); trap 'rm -rf "$out"' EXIT ;;
*) echo "identical.sh: mode must be record or compare, not '$mode'" >&2; exit 2 ;;
esac
mkdir -p "$out"
lenet='conv2d(1,6,5,padding=2),relu,maxpool2d(2),conv2d(6,16,5),relu,maxpool2d(2),flatten,linear(400,120),relu,linear(120,84),relu,linear(84,10)'
run() {
    name=$1
    shift
    echo "identical: $name" >&2
    "$hesse" "$@" -q -o "$out/$name.json"
}
"$hesse" train -q --arch "$lenet" --samples 10000 --epochs 1 --lr 0.05 --seed 1 --no-test \
    --json "$out/train.json" -o "$out/lenet5.safetensors"
m="--model $out/lenet5.safetensors --samples 1000"
# shellcheck disable=SC2086
{
    run spectrum spectrum $m --top 20 --bottom 5
    run density density $m
    run trace trace $m --method hutchpp
    run classes classes $m
    run kronecker kronecker $m
    run powerlaw powerlaw $m --top 200
}
[ "$mode" = record ] && { echo "identical: recorded in $dir" >&2; exit 0; }

"$py" - "$dir" "$out" <<'PY'
import json, os, re, sys
old_dir, new_dir = sys.argv[1], sys.argv[2]
# Keys whose values are measurements of the machine or names of this run's files.
skip = re.compile(r"^(seconds.*|.*_seconds|created|command_line|hesse_version|blas|peak_rss.*|"
                  r"engine_threads|threads|path|schema|elapsed.*)$")
diffs = []
def walk(a, b, where):
    if isinstance(a, dict):
        if not isinstance(b, dict):
            diffs.append(f"{where}: was an object"); return
        for k, v in a.items():
            if skip.search(k):
                continue
            if k not in b:
                diffs.append(f"{where}.{k}: missing"); continue
            walk(v, b[k], f"{where}.{k}")
    elif isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            diffs.append(f"{where}: list length changed"); return
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{where}[{i}]")
    elif isinstance(a, str) and isinstance(b, str):
        # paths of this run's files: the record's directory and the new one read alike
        if a.replace(old_dir, "<dir>") != b.replace(new_dir, "<dir>"):
            diffs.append(f"{where}: {a!r} -> {b!r}")
    elif a != b or type(a) != type(b):
        diffs.append(f"{where}: {a!r} -> {b!r}")
names = sorted(f for f in os.listdir(old_dir) if f.endswith(".json"))
for f in names:
    with open(os.path.join(old_dir, f)) as fa, open(os.path.join(new_dir, f)) as fb:
        walk(json.load(fa), json.load(fb), f)
for d in diffs[:40]:
    print("differs:", d)
count = len(diffs)
print(f"identical: {len(names)} documents, {count} differences")
sys.exit(1 if count else 0)
PY
