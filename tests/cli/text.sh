# Text as bytes (--data text:FILE --context T) through the commands: the windows and their
# next-byte targets as info counts them, the loss over positions of a sequence model against a
# pure-Python forward pass of the same weights, the selection, and text:fortunes found by name.
. "$(dirname "$0")/lib.inc"

# 200 bytes: the training split is the first 180, cut into 22 windows of 8 (+1 target byte);
# the test split the last 20 bytes, 2 windows.
"$PY" -c 'import sys; open(sys.argv[1], "wb").write(bytes((7 * k + k // 13) % 256 for k in range(200)))' \
    "$T/t.bin" || fail "writing the text"
"$HESSE" info --data "text:$T/t.bin" --context 8 --json >"$T/info.json" || fail "info --data text"
"$PY" - "$T/t.bin" "$T/info.json" <<'PY' || fail "info: windows or target counts"
import json, sys
b = open(sys.argv[1], "rb").read()
d = json.load(open(sys.argv[2]))["dataset"]
targets = [b[8 * i + t + 1] for i in range(22) for t in range(8)]
want = [targets.count(c) for c in range(256)]
assert d["name"] == "text:t.bin/train" and d["samples"] == 22 and d["shape"] == [1, 8, 1], d
assert d["classes"] == 256 and d["targets"] == 8 and d["storage"] == "uint8", d
assert d["class_counts"] == want, "class counts are not the targets' byte counts"
PY
checks=$((checks + 1))
"$HESSE" info --data "text:$T/t.bin" --context 8 --split test --json >"$T/test.json" || fail "info test"
check_py "$T/test.json" "d['dataset']['samples'] == 2 and d['dataset']['name'] == 'text:t.bin/test'" \
    "the test split is the last tenth"

# A sequence model from layers that keep the shape: conv2d's padding widens the id column to
# 256 classes, so the output is (1, 8, 256), 8 positions. Its loss, from the file's weights in
# plain Python: cross-entropy averaged over all 22 x 8 positions.
arch='conv2d(1,3,(1,2),padding=(0,128)),tanh,conv2d(3,1,1)'
"$HESSE" train -q --arch "$arch" --data "text:$T/t.bin" --context 8 --epochs 0 --seed 4 \
    -o "$T/seq.safetensors" || fail "the sequence model"
"$HESSE" eval -q --model "$T/seq.safetensors" --data "text:$T/t.bin" --context 8 -o "$T/e.json" ||
    fail "eval on text"
"$PY" - "$T/t.bin" "$T/seq.safetensors" "$T/e.json" <<'PY' || fail "the loss over positions"
import json, math, struct, sys
b = open(sys.argv[1], "rb").read()
raw = open(sys.argv[2], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr, data = json.loads(raw[8:8 + n]), raw[8 + n:]
def t(name):
    lo, hi = hdr[name]["data_offsets"]
    return struct.unpack("<%dd" % ((hi - lo) // 8), data[lo:hi])
w1, b1, w2, b2 = t("0.weight"), t("0.bias"), t("2.weight"), t("2.bias")
loss, correct = 0.0, 0
for i in range(22):
    for p in range(8):
        x, y = b[8 * i + p], b[8 * i + p + 1]
        # column c of the padded row [0]*128 + [x] + [0]*128 sees x at c = 127 (weight tap 1)
        # and c = 128 (tap 0)
        z = []
        for c in range(256):
            a = x if c in (127, 128) else 0.0
            tap = 1 if c == 127 else 0
            z.append(sum(w2[k] * math.tanh(w1[2 * k + tap] * a + b1[k]) for k in range(3)) + b2[0])
        m = max(z)
        loss += m + math.log(sum(math.exp(v - m) for v in z)) - z[y]
        correct += max(range(256), key=lambda c: (z[c], -c)) == y
loss /= 22 * 8
d = json.load(open(sys.argv[3]))
assert abs(d["loss"] - loss) <= 1e-12 * abs(loss), (d["loss"], loss)
assert d["samples"] == 22 and d["data"]["targets"] == 8 and d["correct"] == correct, d
assert d["accuracy"] == correct / (22 * 8), d["accuracy"]
PY
checks=$((checks + 1))

# Accuracy is per position: conv2d(1,1,(1,2),padding=(0,128)) with weight (1, 0), bias 0 has
# logit x at class 128 and 0 elsewhere, so it predicts 128 after a nonzero byte and 0 (the first
# of equal logits) after a zero byte; on [5, 128, 0, 0, 0, 7, 128, 0] repeated that is right at
# 4 of every 8 positions (88 of 176).
"$PY" - "$T/p.bin" "$T/w.safetensors" <<'PY' || fail "the accuracy fixture"
import json, struct, sys
open(sys.argv[1], "wb").write(bytes([5, 128, 0, 0, 0, 7, 128, 0] * 25))
h = json.dumps({"0.weight": {"dtype": "F64", "shape": [1, 1, 1, 2], "data_offsets": [0, 16]},
                "0.bias": {"dtype": "F64", "shape": [1], "data_offsets": [16, 24]}}).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<3d", 1.0, 0.0, 0.0))
PY
"$HESSE" eval -q --model "$T/w.safetensors" --arch 'conv2d(1,1,(1,2),padding=(0,128))' \
    --data "text:$T/p.bin" --context 8 -o "$T/acc.json" || fail "eval of the fixed model"
"$PY" - "$T/p.bin" "$T/acc.json" <<'PY' || fail "accuracy per position"
import json, sys
b = open(sys.argv[1], "rb").read()
pairs = [(b[8 * i + t], b[8 * i + t + 1]) for i in range(22) for t in range(8)]
correct = sum((128 if x > 0 else 0) == y for x, y in pairs)
d = json.load(open(sys.argv[2]))
assert correct == 88 and d["correct"] == correct and d["accuracy"] == correct / (22 * 8), (d["correct"], d["accuracy"], correct)
PY
checks=$((checks + 1))

# Random windows: the same seed gives the same loss, another seed another; balanced is first.
for s in 2 2b 3; do
    "$HESSE" eval -q --model "$T/seq.safetensors" --data "text:$T/t.bin" --context 8 \
        --select random --samples 5 --seed "${s%b}" -o "$T/r$s.json" || fail "eval --select random"
done
check_py "$T/r2.json" "d['data']['select'] == 'random' and d['samples'] == 5 and d['loss'] == $(json "$T/r2b.json" "d['loss']")" \
    "the same seed, the same windows"
check_py "$T/r2.json" "d['loss'] != $(json "$T/r3.json" "d['loss']")" "another seed, other windows"
"$HESSE" eval -q --model "$T/seq.safetensors" --data "text:$T/t.bin" --context 8 --select balanced \
    --samples 5 -o "$T/b.json" || fail "eval --select balanced"
"$HESSE" eval -q --model "$T/seq.safetensors" --data "text:$T/t.bin" --context 8 --samples 5 \
    -o "$T/f.json" || fail "eval first 5"
check_py "$T/b.json" "d['data']['select'] == 'first' and d['loss'] == $(json "$T/f.json" "d['loss']")" \
    "balanced windows are the first"

# Training on text runs and reports per-position accuracy.
"$HESSE" train -q --arch "$arch" --data "text:$T/t.bin" --context 8 --epochs 1 --batch 8 \
    --json "$T/tr.json" -o "$T/tr.safetensors" || fail "train on text"
check_py "$T/tr.json" "0 <= d['history'][0]['train_accuracy'] <= 1 and d['data']['targets'] == 8" \
    "train on text"

# text:fortunes is found by name ($HESSE_FORTUNES_DIR replaces the system's directories here) and
# is the whole directory: its files by name, less the strfile indexes (*.dat) and the links to a
# file already read (Debian's NAME.u8 -> NAME).
mkdir -p "$T/fortunes"
cp "$T/t.bin" "$T/fortunes/fortunes"
cp "$T/t.bin" "$T/fortunes/wisdom"
printf 'index bytes' >"$T/fortunes/fortunes.dat"
ln -s fortunes "$T/fortunes/fortunes.u8"
HESSE_FORTUNES_DIR="$T/fortunes" "$HESSE" info --data text:fortunes --context 8 --json >"$T/fo.json" ||
    fail "info --data text:fortunes"
L=$((2 * $(wc -c <"$T/t.bin")))
check_py "$T/fo.json" "d['dataset']['name'] == 'text:fortunes/train' and d['dataset']['samples'] == ($L - $L // 10 - 1) // 8" \
    "text:fortunes: the directory's two text files"
finish
