#!/bin/sh
# Regenerates the seed corpora in fuzz/corpus/ (the committed ones came from this script):
#
#   fuzz/make_corpus.sh BUILD_DIR     (a gcc build with tests: hesse and fuzz_seed_blobs)
#
# make_corpus.py writes the hand-made seeds; fuzz_seed_blobs the solver checkpoints; the rest
# are real outputs of hesse on a tiny network: result documents of every command (report,
# eigenvalues) and the CLI's checkpoint files (checkpoint). Regression inputs (regress-*)
# are kept.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: make_corpus.sh BUILD_DIR}
hesse="$build/hesse"
corpus="$here/corpus"
T=$(mktemp -d "${TMPDIR:-/tmp}/hesse-corpus.XXXXXX")
trap 'rm -rf "$T"' EXIT

python3 "$here/make_corpus.py" "$corpus"
mkdir -p "$corpus/trlan_blob" "$corpus/slq_blob" "$corpus/report" "$corpus/eigenvalues"
rm -f "$corpus"/trlan_blob/[!r]* "$corpus"/slq_blob/[!r]*
"$build/fuzz/fuzz_seed_blobs" "$corpus/trlan_blob" "$corpus/slq_blob"

arch='avgpool2d(7),flatten,linear(16,4),tanh,linear(4,10)'
"$hesse" train -q --arch "$arch" --samples 300 --epochs 2 --lr 0.1 --test-samples 100 \
    --json "$T/train.json" -o "$T/m.safetensors"
"$hesse" train -q --arch "$arch" --samples 300 --epochs 2 --lr 0.1 --no-test --seed 7 \
    -o "$T/m2.safetensors"
c="--model $T/m.safetensors --samples 200 -q"
"$hesse" eval $c -o "$T/eval.json"
"$hesse" dense $c -o "$T/dense.json"
"$hesse" spectrum $c --top 4 --bottom 2 -o "$T/spectrum.json"
"$hesse" spectrum $c --top 3 --method power -o "$T/spectrum-power.json"
"$hesse" density $c --points 40 --probes 3 --steps 10 -o "$T/density.json"
"$hesse" density $c --method kpm --points 40 --probes 3 --moments 12 -o "$T/density-kpm.json"
"$hesse" trace $c --method hutchinson --probes 5 -o "$T/trace.json"
"$hesse" powerlaw $c --top 20 -o "$T/powerlaw.json"
"$hesse" classes $c --top 10 -o "$T/classes.json"
"$hesse" samples --model "$T/m.safetensors" -q --sizes 50,100 --top 10 --probes 2 --steps 10 \
    -o "$T/samples.json"
"$hesse" kronecker $c --models "$T/m.safetensors" "$T/m2.safetensors" -o "$T/kronecker.json"
for f in train eval dense spectrum spectrum-power density density-kpm trace powerlaw classes \
    samples kronecker; do
    # long arrays cut to 40 entries: the same structure in a few kilobytes
    python3 -c 'import json, sys
def cut(v):
    if isinstance(v, list): return [cut(x) for x in v[:40]]
    if isinstance(v, dict): return {k: cut(x) for k, x in v.items()}
    return v
json.dump(cut(json.load(open(sys.argv[1]))), open(sys.argv[2], "w"), indent=1)' \
        "$T/$f.json" "$corpus/report/$f.json"
done
cp "$T/spectrum.json" "$corpus/eigenvalues/spectrum.json"
cp "$T/dense.json" "$corpus/eigenvalues/dense.json"
"$hesse" dense $c -q --csv "$T/dense.csv" -o "$T/d2.json"
head -n 30 "$T/dense.csv" >"$corpus/eigenvalues/dense.csv"
printf 'eigenvalue\n3.5\n\n2.25\n  1e-3  \n1\n0.5\n0.25\n0.125\n0.0625\n' >"$corpus/eigenvalues/header.txt"
printf '3\n2\nnan\n' >"$corpus/eigenvalues/nan.txt"
printf '3\n2\nx\n' >"$corpus/eigenvalues/word.txt"
printf '{"top": [5, 4, 3, null]}' >"$corpus/eigenvalues/null.json"
printf '{"eigenvalues": [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}' >"$corpus/eigenvalues/equal.json"
printf '{"top": [1e308, 1e-308, 5e-324, 1, 2, 3, 4, 5, 6, 7]}' >"$corpus/eigenvalues/extreme.json"
printf '1\n\0002\n' >"$corpus/eigenvalues/binary.txt"
: >"$corpus/eigenvalues/empty.txt"

# The CLI's checkpoint files around real solver blobs.
"$hesse" spectrum $c --top 2 --bottom 1 --basis 8 --max-restarts 2 --checkpoint "$T/lz.ckpt" \
    --checkpoint-every 0 -o "$T/x.json"
"$hesse" density $c --probes 2 --steps 6 --block 1 --checkpoint "$T/slq.ckpt" \
    --checkpoint-every 0 -o "$T/y.json"
cp "$T/lz.ckpt" "$corpus/checkpoint/lanczos.ckpt"
cp "$T/slq.ckpt" "$corpus/checkpoint/slq.ckpt"
echo "make_corpus: $(find "$corpus" -type f | wc -l) seeds in $corpus" >&2
