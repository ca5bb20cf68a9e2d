# Every command's JSON document, in the variants that add or leave out keys, checked against
# its schema (src/io/schema.c) by the checker $HESSE_SCHEMA_CHECK (tests/test_schema.c given
# files): every required key there with its kind, no key the schema does not declare. Then a
# document with a key added, and one with a key removed, must be refused.
. "$(dirname "$0")/lib.inc"
: "${HESSE_SCHEMA_CHECK:?HESSE_SCHEMA_CHECK must name the schema checker (test_schema)}"

arch='avgpool2d(4),flatten,linear(49,6),tanh,linear(6,10)'
run() {
    checks=$((checks + 1))
    "$@" 2>"$T/err" || fail "$*: $(cat "$T/err")"
}
run "$HESSE" train -q --arch "$arch" --samples 300 --epochs 2 --lr 0.1 --test-samples 300 \
    --json "$T/train.json" -o "$T/m.safetensors"
run "$HESSE" train -q --arch "$arch" --samples 300 --epochs 1 --lr 0.1 --no-test --seed 7 \
    --json "$T/train-notest.json" -o "$T/m2.safetensors"
c="--model $T/m.safetensors --samples 300 -q"
run "$HESSE" eval $c -o "$T/eval.json"
run "$HESSE" dense $c -o "$T/dense.json"
run "$HESSE" spectrum $c --top 5 --bottom 3 --vectors "$T/v.safetensors" --svg "$T/sp.svg" \
    -o "$T/spectrum.json"
run "$HESSE" spectrum $c --top 3 --method power -o "$T/spectrum-power.json"
run "$HESSE" spectrum $c --top 3 --bottom 2 --method dense -o "$T/spectrum-dense.json"
run "$HESSE" spectrum $c --top 3 --layer 2 --operator ggn -o "$T/spectrum-layer.json"
run "$HESSE" density $c --probes 2 --steps 10 --deflate 2 --svg "$T/d.svg" -o "$T/density.json"
run "$HESSE" density $c --method kpm --probes 2 -o "$T/density-kpm.json"
run "$HESSE" trace $c -o "$T/trace.json"
run "$HESSE" trace $c --method hutchinson -o "$T/trace-hutchinson.json"
run "$HESSE" trace $c --method exact -o "$T/trace-exact.json"
run "$HESSE" powerlaw $c --top 20 --svg "$T/pl.svg" -o "$T/powerlaw.json"
run "$HESSE" powerlaw -q --eigenvalues "$T/dense.json" --top 50 -o "$T/powerlaw-file.json"
run "$HESSE" classes $c --top 12 --svg "$T/c.svg" -o "$T/classes.json"
run "$HESSE" classes $c --top 12 --no-residual -o "$T/classes-noresidual.json"
run "$HESSE" classes $c --top 12 --density --density-probes 2 --density-steps 10 -o "$T/classes-density.json"
run "$HESSE" density $c --operator gcross -o "$T/density-gcross.json"
run "$HESSE" density $c --operator gwithin --method kpm --probes 2 -o "$T/density-gwithin.json"
run "$HESSE" samples -q --model "$T/m.safetensors" --sizes 100,200 --top 12 --probes 2 \
    --steps 10 --svg "$T/s.svg" -o "$T/samples.json"
run "$HESSE" kronecker $c --top 4 -o "$T/kronecker.json"
run "$HESSE" kronecker $c --models "$T/m.safetensors" "$T/m2.safetensors" --top 4 \
    -o "$T/kronecker-models.json"
run "$HESSE" info --json -o "$T/info.json"
run "$HESSE" info --model "$T/m.safetensors" --json -o "$T/info-model.json"
run "$HESSE" bench -q --case mlp-small --batch 50 --repeat 2 --dgemm 64 --block 4 \
    -o "$T/bench.json"
run "$HESSE" bench -q --case mlp-small --batch 50 --repeat 1 --dgemm 0 -o "$T/bench-plain.json"

# every command wrote a document, and each holds its schema
docs=$(ls "$T"/*.json)
checks=$((checks + 1))
for cmd in train eval dense spectrum density trace powerlaw classes samples kronecker info bench; do
    [ -s "$T/$cmd.json" ] || fail "no document from $cmd"
done
checks=$((checks + 1))
# shellcheck disable=SC2086
"$HESSE_SCHEMA_CHECK" $docs || fail "documents outside their schema"

# the checker is not blind: a key the schema does not declare, a required key removed, a
# count with a fraction
"$PY" - "$T" <<'PY'
import json, sys
t = sys.argv[1]
d = json.load(open(t + "/spectrum.json"))
d["top_values"] = d.pop("top")
json.dump(d, open(t + "/bad-renamed.json", "w"))
d = json.load(open(t + "/classes.json"))
del d["trace"]["identity_gap"]
json.dump(d, open(t + "/bad-missing.json", "w"))
d = json.load(open(t + "/samples.json"))
d["runs"][1]["samples"] = 199.5
json.dump(d, open(t + "/bad-kind.json", "w"))
PY
for bad in renamed:'\$.top_values: not in schema hesse.spectrum/1' \
    missing:'\$.trace.identity_gap: required by schema hesse.classes/1' \
    kind:'\$.runs\[1\].samples: expected int'; do
    checks=$((checks + 1))
    name=${bad%%:*}
    want=${bad#*:}
    if "$HESSE_SCHEMA_CHECK" "$T/bad-$name.json" 2>"$T/err"; then
        fail "bad-$name.json passed the check"
    else
        grep -q "$want" "$T/err" || fail "bad-$name.json: '$(cat "$T/err")' does not say '$want'"
    fi
done
finish
