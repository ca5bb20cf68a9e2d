# Bad input: one line on stderr naming the culprit and what was expected, the documented exit
# code, and no output file.
. "$(dirname "$0")/lib.inc"
FM=/usr/share/datasets/fashion-mnist

# A small model to load in the cases below.
arch='avgpool2d(4),flatten,linear(49,6),tanh,linear(6,10)'
"$HESSE" train -q --arch "$arch" --samples 200 --epochs 1 --no-test -o "$T/m.safetensors" ||
    fail "training the fixture model"

# safetensors data sets written independently of hesse (8-byte length, JSON header, data)
"$PY" - "$T" <<'PY'
import json, struct, sys
def write(path, tensors):
    header, blob = {}, b""
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + blob)
t = sys.argv[1]
write(t + "/labels12.safetensors", {"x": ("U8", [4, 1, 28, 28], bytes(4 * 784)),
                                    "y": ("I64", [4], struct.pack("<4q", 1, 2, 12, 3))})
write(t + "/small8.safetensors", {"x": ("U8", [4, 1, 8, 8], bytes(4 * 64)),
                                  "y": ("I64", [4], struct.pack("<4q", 1, 2, 3, 4))})
open(t + "/garbage.safetensors", "wb").write(b"hello, not a safetensors file")
PY

o="$T/out.json"
expect_error 2 "nope\.safetensors" -- "$HESSE" eval --model "$T/nope.safetensors" -o "$o"
: >"$T/empty.safetensors"
expect_error 2 "empty\.safetensors" -- "$HESSE" eval --model "$T/empty.safetensors" -o "$o"
expect_error 2 "garbage\.safetensors" -- "$HESSE" eval --model "$T/garbage.safetensors" -o "$o"

# IDX directory with a wrong magic number, and one with a truncated gzip stream
mkdir -p "$T/badmagic" "$T/trunc"
printf '\000\000\010\004\000\000\000\001' >"$T/badmagic/train-images-idx3-ubyte"
cp "$FM/train-labels-idx1-ubyte.gz" "$T/badmagic/"
expect_error 2 "badmagic/train-images-idx3-ubyte.*magic" -- \
    "$HESSE" eval --model "$T/m.safetensors" --data "$T/badmagic" --samples 10 -o "$o"
head -c 5000 "$FM/train-images-idx3-ubyte.gz" >"$T/trunc/train-images-idx3-ubyte.gz"
cp "$FM/train-labels-idx1-ubyte.gz" "$T/trunc/"
expect_error 2 "trunc/train-images-idx3-ubyte\.gz.*(truncated|expected)" -- \
    "$HESSE" eval --model "$T/m.safetensors" --data "$T/trunc" --samples 10 -o "$o"
expect_error 2 "nodata" -- "$HESSE" eval --model "$T/m.safetensors" --data "$T/nodata" -o "$o"

# The model file against a different architecture: the tensor and both shapes are named
expect_error 2 "m\.safetensors.*2\.weight.*\[6, 49\].*\[7, 49\]" -- \
    "$HESSE" eval --model "$T/m.safetensors" --arch 'avgpool2d(4),flatten,linear(49,7),tanh,linear(7,10)' -o "$o"
expect_error 2 "4\.weight|extra|no such tensor|not in" -- \
    "$HESSE" eval --model "$T/m.safetensors" --arch 'avgpool2d(4),flatten,linear(49,6),tanh' -o "$o"

# Architecture strings
expect_error 2 "unknown layer 'lienar'.*did you mean 'linear'" -- \
    "$HESSE" train --arch 'flatten,lienar(784,10)' --samples 10 -o "$T/out.safetensors"
expect_error 2 "784.*700|700.*784" -- \
    "$HESSE" train --arch 'flatten,linear(700,10)' --samples 10 -o "$T/out.safetensors"

# Data that does not fit the model
expect_error 2 "label 12" -- \
    "$HESSE" eval --model "$T/m.safetensors" --data "$T/labels12.safetensors" -o "$o"
expect_error 2 "1,28,28.*1,8,8" -- \
    "$HESSE" eval --model "$T/m.safetensors" --data "$T/small8.safetensors" -o "$o"

# Resources: a dense matrix over the memory budget is refused before any work; an output
# directory that does not exist is refused before any work.
expect_error 4 "dense.*370 x 370|370 x 370" -- \
    "$HESSE" dense --model "$T/m.safetensors" --samples 10 --max-memory 0.001 -o "$o"
expect_error 4 "nodir" -- "$HESSE" eval --model "$T/m.safetensors" --samples 10 -o "$T/nodir/out.json"

# Usage errors name the option
expect_error 1 "unknown option '--sample'" -- "$HESSE" eval --model "$T/m.safetensors" --sample 5
expect_error 1 "--samples.*integer.*'abc'" -- "$HESSE" eval --model "$T/m.safetensors" --samples abc
expect_error 1 "--samples.*-5" -- "$HESSE" eval --model "$T/m.safetensors" --samples -5
expect_error 1 "--lr.*finite.*'nan'" -- "$HESSE" train --arch "$arch" --lr nan -o "$T/out.safetensors"
expect_error 1 "operator.*hessian, ggn, residual or efisher" -- "$HESSE" dense --model "$T/m.safetensors" --operator hess -o "$o"
expect_error 1 "--split.*train or test" -- "$HESSE" eval --model "$T/m.safetensors" --split dev -o "$o"
expect_error 1 "--model is required" -- "$HESSE" eval -o "$o"
expect_error 1 "unknown command 'evaluate'" -- "$HESSE" evaluate

finish
